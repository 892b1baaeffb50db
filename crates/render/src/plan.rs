//! One level of a kustomize build after its resources and components are in: the field-spec
//! configuration, the generators, the built-in transformers in kustomize's fixed order, the
//! `transformers:` entries, and the level's `vars`.
//!
//! kustomize's order (v5.5, checked with `kubectl kustomize`): resources →
//! configurations → crds → configMapGenerator → secretGenerator → `generators:` →
//! components (each a whole level of its own on the same accumulator) →
//! patchesStrategicMerge → patches → namespace → namePrefix → nameSuffix → labels and
//! commonLabels → commonAnnotations → patchesJson6902 → replicas → images → replacements →
//! `transformers:` → vars.

use crate::error::{bad_field, unsupported_plugin, RenderError};
use crate::generate::{self, GeneratorArgs, GeneratorKind, GeneratorOptions};
use crate::kustomization::Kustomization;
use crate::level::{Accumulator, Builder, Level, TransformerRun};
use crate::loader::Loader;
use crate::metadata;
use crate::patch::{PatchField, PatchSpec};
use crate::transform::config::TransformerConfig;
use crate::transform::labels::{self, LabelSpec};
use crate::transform::namespace::{self, NamespaceOptions};
use crate::transform::{annotations, images, prefix, replicas, TransformError};
use fjord_yaml::Node;

/// Runs the level's configuration and generators on `acc` (before its components).
pub(crate) fn generate_level(
    b: &mut Builder,
    loader: &Loader,
    kust: &Kustomization,
    acc: &mut Accumulator,
    level: &Level,
) -> Result<(), RenderError> {
    let file = kust.shown();
    let configured_in = level.rel(
        kust.file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("kustomization.yaml"),
    );
    let terr = |e: TransformError| RenderError::Transform {
        file: file.clone(),
        source: e.into(),
    };

    // Field-spec configuration: the built-ins plus this level's `configurations:` files.
    let mut own = Vec::new();
    for f in &kust.configurations {
        let node = read_one(loader, kust, "configurations", f)?;
        own.push(TransformerConfig::parse(&node).map_err(&terr)?);
    }
    acc.config
        .merge(&TransformerConfig::for_kustomization(&own).map_err(&terr)?)
        .map_err(&terr)?;
    for f in &kust.crds {
        let node = read_one(loader, kust, "crds", f)?;
        acc.config
            .merge(&TransformerConfig::from_crds(&node).map_err(&terr)?)
            .map_err(&terr)?;
    }
    if let Some(openapi) = kust.field("openapi") {
        b.load_openapi(loader, kust, openapi)?;
    }

    // Generators.
    let gerr = |e: generate::GenerateError| RenderError::Generate {
        file: file.clone(),
        source: e.into(),
    };
    let global = kust
        .field("generatorOptions")
        .map(GeneratorOptions::parse)
        .transpose()
        .map_err(&gerr)?;
    for kind in [GeneratorKind::ConfigMap, GeneratorKind::Secret] {
        let Some(list) = kust.field(kind.kustomization_field()) else {
            continue;
        };
        let entries = list.as_seq().ok_or_else(|| RenderError::Field {
            file: file.clone(),
            field: kind.kustomization_field().into(),
            problem: "must be a list".into(),
        })?;
        for entry in entries {
            let args = GeneratorArgs::parse(entry, kind).map_err(&gerr)?;
            run_generator(
                b,
                &args,
                global.as_ref(),
                loader,
                acc,
                &configured_in,
                &gerr,
            )?;
        }
    }
    for cfg in plugin_configs(b, loader, kust, "generators", level)? {
        match cfg.str_at(&["kind"]).unwrap_or_default() {
            "ConfigMapGenerator" | "SecretGenerator" => {
                let args = GeneratorArgs::parse_plugin(&cfg).map_err(&gerr)?;
                run_generator(b, &args, None, loader, acc, &configured_in, &gerr)?;
            }
            other => return Err(unsupported_plugin(kust, "generators", other)),
        }
    }
    Ok(())
}

/// Runs the level's transformers and collects its vars (after its components).
pub(crate) fn transform_level(
    b: &mut Builder,
    loader: &Loader,
    kust: &Kustomization,
    acc: &mut Accumulator,
    level: &Level,
) -> Result<(), RenderError> {
    let file = kust.shown();
    let configured_in = level.rel(
        kust.file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("kustomization.yaml"),
    );
    let terr = |e: TransformError| RenderError::Transform {
        file: file.clone(),
        source: e.into(),
    };

    // Built-in transformers, in kustomize's order.
    let mut t = TransformerRun {
        b,
        acc,
        file: &file,
        configured_in: &configured_in,
    };
    let patches = PatchSpec::parse_all(&kust.doc, loader).map_err(|e| RenderError::Patch {
        file: file.clone(),
        source: e.into(),
    })?;
    let of_field = |f: PatchField| {
        patches
            .iter()
            .filter(|p| p.field == f)
            .cloned()
            .collect::<Vec<_>>()
    };
    t.patches(
        &of_field(PatchField::StrategicMerge),
        "PatchStrategicMergeTransformer",
    )?;
    t.patches(&of_field(PatchField::Patches), "PatchTransformer")?;
    if !kust.namespace.is_empty() {
        let specs = t.acc.config.namespace.clone();
        t.run("NamespaceTransformer", |res| {
            namespace::apply_namespace(res, &kust.namespace, &NamespaceOptions::default(), &specs)
                .map_err(&terr)
        })?;
    }
    if !kust.name_prefix.is_empty() {
        let specs = t.acc.config.name_prefix.clone();
        t.run("PrefixTransformer", |res| {
            prefix::apply_prefix(res, &kust.name_prefix, &specs).map_err(&terr)
        })?;
    }
    if !kust.name_suffix.is_empty() {
        let specs = t.acc.config.name_suffix.clone();
        t.run("SuffixTransformer", |res| {
            prefix::apply_suffix(res, &kust.name_suffix, &specs).map_err(&terr)
        })?;
    }
    let mut label_specs = Vec::new();
    if let Some(list) = kust.field("labels") {
        let entries = list
            .as_seq()
            .ok_or_else(|| bad_field(kust, "labels", "must be a list"))?;
        for (i, e) in entries.iter().enumerate() {
            label_specs.push(LabelSpec::parse(e, &format!("labels[{i}]")).map_err(&terr)?);
        }
    }
    if let Some(common) = kust.field("commonLabels") {
        label_specs.push(LabelSpec::common(
            labels::string_map(common, "commonLabels").map_err(&terr)?,
        ));
    }
    for spec in label_specs.iter().filter(|s| !s.pairs.is_empty()) {
        let cfg = t.acc.config.clone();
        t.run("LabelTransformer", |res| {
            labels::apply_labels(res, spec, &cfg).map_err(&terr)
        })?;
    }
    if let Some(common) = kust.field("commonAnnotations") {
        let pairs = labels::string_map(common, "commonAnnotations").map_err(&terr)?;
        if !pairs.is_empty() {
            let specs = t.acc.config.common_annotations.clone();
            t.run("AnnotationsTransformer", |res| {
                annotations::apply_annotations(res, &pairs, &specs).map_err(&terr)
            })?;
        }
    }
    t.patches(&of_field(PatchField::Json6902), "PatchJson6902Transformer")?;
    if let Some(list) = kust.field("replicas") {
        let entries = list
            .as_seq()
            .ok_or_else(|| bad_field(kust, "replicas", "must be a list"))?;
        let specs = entries
            .iter()
            .map(replicas::ReplicaSpec::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad_field(kust, "replicas", &e.to_string()))?;
        let fs = t.acc.config.replicas.clone();
        for spec in specs {
            t.run("ReplicaCountTransformer", |res| {
                replicas::apply_replicas(res, std::slice::from_ref(&spec), &fs)
                    .map_err(|e| bad_field(kust, "replicas", &e.to_string()))
            })?;
        }
    }
    for field in ["images", "imageTags"] {
        let Some(list) = kust.field(field) else {
            continue;
        };
        let entries = list
            .as_seq()
            .ok_or_else(|| bad_field(kust, field, "must be a list"))?;
        let specs = entries
            .iter()
            .map(images::ImageSpec::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad_field(kust, field, &e.to_string()))?;
        let fs = t.acc.config.images.clone();
        for spec in specs {
            t.run("ImageTagTransformer", |res| {
                images::apply_images(res, std::slice::from_ref(&spec), &fs)
                    .map_err(|e| bad_field(kust, field, &e.to_string()))
            })?;
        }
    }
    if let Some(list) = kust.field("replacements") {
        let reps = crate::replacements::parse_list(list, loader).map_err(|e| {
            RenderError::Replacement {
                file: file.clone(),
                source: e.into(),
            }
        })?;
        if !reps.is_empty() {
            t.run("ReplacementTransformer", |res| {
                crate::replacements::apply(res, &reps).map_err(|e| RenderError::Replacement {
                    file: file.clone(),
                    source: e.into(),
                })
            })?;
        }
    }
    let configs = plugin_configs(t.b, loader, kust, "transformers", level)?;
    for cfg in configs {
        crate::plugins::run_transformer(&mut t, &cfg, kust, loader)?;
    }

    // Vars of this level join those of the levels below.
    if let Some(list) = kust.field("vars") {
        let vars = crate::vars::parse_list(list).map_err(|e| RenderError::Vars {
            file: file.clone(),
            source: e.into(),
        })?;
        crate::vars::bind(&mut acc.vars, &vars, &acc.res).map_err(|e| RenderError::Vars {
            file: file.clone(),
            source: e.into(),
        })?;
    }
    Ok(())
}

/// Runs one generator and adds its object.
fn run_generator(
    b: &Builder,
    args: &GeneratorArgs,
    global: Option<&GeneratorOptions>,
    loader: &Loader,
    acc: &mut Accumulator,
    configured_in: &str,
    gerr: &dyn Fn(generate::GenerateError) -> RenderError,
) -> Result<(), RenderError> {
    let mut r = generate::generate(args, global, loader).map_err(gerr)?;
    r.origin = configured_in.to_string();
    if b.meta.origin {
        metadata::set_annotation(
            &mut r.obj,
            metadata::ORIGIN_ANNOTATION,
            format!(
                "configuredIn: {configured_in}\nconfiguredBy:\n  apiVersion: builtin\n  kind: {}Generator\n",
                args.kind.object_kind()
            ),
        );
    }
    generate::add_generated(&mut acc.res, r).map_err(gerr)
}

/// The configuration objects listed under `generators:` or `transformers:`: inline YAML
/// documents, files, or kustomization directories that produce them.
fn plugin_configs(
    b: &mut Builder,
    loader: &Loader,
    kust: &Kustomization,
    field: &str,
    level: &Level,
) -> Result<Vec<Node>, RenderError> {
    let Some(list) = kust.field(field) else {
        return Ok(Vec::new());
    };
    let entries = list
        .as_seq()
        .ok_or_else(|| bad_field(kust, field, "must be a list of file paths or inline YAML"))?;
    let mut out = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let text = entry
            .as_str()
            .ok_or_else(|| bad_field(kust, field, &format!("entry {i} must be a string")))?;
        let inline = fjord_yaml::parse_documents(text.as_bytes())
            .ok()
            .filter(|docs| !docs.is_empty() && docs.iter().all(|d| d.as_map().is_some()));
        match inline {
            Some(docs) => out.extend(docs),
            None => out.extend(b.config_objects(loader, kust, field, text, level)?),
        }
    }
    for cfg in &out {
        let api = cfg.str_at(&["apiVersion"]).unwrap_or_default();
        if api != "builtin" {
            let kind = cfg.str_at(&["kind"]).unwrap_or("(no kind)");
            return Err(bad_field(
                kust,
                field,
                &format!(
                    "'{api}/{kind}' is a plugin or KRM function; fjord runs only kustomize's built-in generators and transformers (apiVersion: builtin)"
                ),
            ));
        }
    }
    Ok(out)
}

/// Reads a file that holds exactly one YAML document.
fn read_one(
    loader: &Loader,
    kust: &Kustomization,
    field: &str,
    path: &str,
) -> Result<Node, RenderError> {
    let entry = |source: RenderError| RenderError::Entry {
        file: kust.shown(),
        field: field.into(),
        entry: path.into(),
        source: Box::new(source),
    };
    let bytes = loader.read(path).map_err(|e| entry(e.into()))?;
    fjord_yaml::parse_document(&bytes).map_err(|source| {
        entry(RenderError::Parse {
            file: path.into(),
            source,
        })
    })
}
