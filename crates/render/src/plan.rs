//! One level of a kustomize build after its resources and components are in: the field-spec
//! configuration, the generators, the built-in transformers in kustomize's fixed order, the
//! `transformers:` entries, and the level's `vars`.
//!
//! kustomize's order (v5.5, checked with `kubectl kustomize`): resources →
//! configurations → crds → configMapGenerator → secretGenerator → `generators:` →
//! components (each a whole level of its own on the same accumulator) →
//! patchesStrategicMerge → patches → namespace → namePrefix → nameSuffix → labels and
//! commonLabels → commonAnnotations → patchesJson6902 → replicas → images → replacements →
//! `transformers:` → vars. The transform phase is the table `TRANSFORM_STEPS`.

use crate::error::{bad_field, unsupported_plugin, RenderError};
use crate::fields::Entries;
use crate::fieldspec::FieldSpec;
use crate::generate::{self, GeneratorArgs, GeneratorOptions};
use crate::kustomization::Kustomization;
use crate::level::{Accumulator, Builder, ConfigObjects, Level, TransformerRun};
use crate::loader::Loader;
use crate::metadata;
use crate::patch::{PatchField, PatchSpec};
use crate::resource::ResMap;
use crate::transform::config::TransformerConfig;
use crate::transform::labels;
use crate::transform::namespace::{self, NamespaceOptions};
use crate::transform::{annotations, images, prefix, replicas, TransformError};
use fjord_yaml::Node;

/// What every step of a level reads: its kustomization, where it sits and how it is named.
struct LevelInput<'k> {
    /// The level's kustomization.
    kust: &'k Kustomization,
    /// The level's confined file access.
    loader: &'k Loader,
    /// Where the level sits.
    level: &'k Level,
    /// The kustomization file, for messages.
    file: String,
    /// The kustomization file relative to the top (origins and `transformerAnnotations`).
    configured_in: String,
}

impl<'k> LevelInput<'k> {
    fn new(kust: &'k Kustomization, loader: &'k Loader, level: &'k Level) -> LevelInput<'k> {
        let name = kust
            .file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("kustomization.yaml");
        LevelInput {
            kust,
            loader,
            level,
            file: kust.shown(),
            configured_in: level.rel(name),
        }
    }

    /// Wraps a transformer error with the kustomization file.
    fn terr(&self, e: TransformError) -> RenderError {
        RenderError::Transform {
            file: self.file.clone(),
            source: e.into(),
        }
    }

    /// Wraps a generator error with the kustomization file.
    fn gerr(&self, e: generate::GenerateError) -> RenderError {
        RenderError::Generate {
            file: self.file.clone(),
            source: e.into(),
        }
    }
}

/// Runs the level's configuration and generators on `acc` (before its components).
pub(crate) fn generate_level(
    b: &mut Builder,
    loader: &Loader,
    kust: &Kustomization,
    acc: &mut Accumulator,
    level: &Level,
) -> Result<(), RenderError> {
    let input = LevelInput::new(kust, loader, level);
    configure(b, &input, acc)?;
    generate(b, &input, acc)
}

/// The field-spec configuration: the built-ins plus the level's `configurations:` files and
/// `crds:`, and the merge schema extended by `openapi:`.
fn configure(
    b: &mut Builder,
    input: &LevelInput<'_>,
    acc: &mut Accumulator,
) -> Result<(), RenderError> {
    let (kust, loader) = (input.kust, input.loader);
    let terr = |e| input.terr(e);
    let mut own = Vec::new();
    for f in &kust.configurations {
        let node = read_one(loader, kust, "configurations", f)?;
        own.push(TransformerConfig::parse(&node).map_err(terr)?);
    }
    acc.config
        .merge(&TransformerConfig::for_kustomization(&own).map_err(terr)?)
        .map_err(terr)?;
    for f in &kust.crds {
        let node = read_one(loader, kust, "crds", f)?;
        acc.config
            .merge(&TransformerConfig::from_crds(&node).map_err(terr)?)
            .map_err(terr)?;
    }
    if let Some(path) = &kust.fields.openapi_path {
        b.load_openapi(loader, kust, path)?;
    }
    Ok(())
}

/// The generators: `configMapGenerator`, `secretGenerator`, then `generators:` entries.
fn generate(
    b: &mut Builder,
    input: &LevelInput<'_>,
    acc: &mut Accumulator,
) -> Result<(), RenderError> {
    let kust = input.kust;
    let gerr = |e| input.gerr(e);
    let global = kust.fields.generator_options.clone()?;
    for generators in [
        &kust.fields.config_map_generator,
        &kust.fields.secret_generator,
    ] {
        for args in &generators.items {
            run_generator(b, input, args, global.as_ref(), acc)?;
        }
        generators.after_items()?;
    }
    for cfg in plugin_configs(b, input, "generators", &kust.fields.generators)? {
        match cfg.str_at(&["kind"]).unwrap_or_default() {
            "ConfigMapGenerator" | "SecretGenerator" => {
                let args = GeneratorArgs::parse_plugin(&cfg).map_err(gerr)?;
                run_generator(b, input, &args, None, acc)?;
            }
            other => return Err(unsupported_plugin(kust, "generators", other)),
        }
    }
    Ok(())
}

/// One built-in step of a level's transform phase.
type Step = fn(&mut TransformerRun<'_, '_>, &TransformInput<'_>) -> Result<(), RenderError>;

/// What the transform steps read: the level, and its patches parsed once.
struct TransformInput<'k> {
    /// The level.
    level: LevelInput<'k>,
    /// `patchesStrategicMerge`, `patches` and `patchesJson6902`, in that order.
    patches: Vec<PatchSpec>,
}

impl TransformInput<'_> {
    /// The patches that came from `field`.
    fn patches_of(&self, field: PatchField) -> Vec<PatchSpec> {
        self.patches
            .iter()
            .filter(|p| p.field == field)
            .cloned()
            .collect()
    }
}

/// A level's built-in transformers, in kustomize's fixed order (v5.5 `KustTarget`).
const TRANSFORM_STEPS: [Step; 12] = [
    strategic_merge_patches,
    patches,
    |t, input| NAMESPACE.run(t, input),
    |t, input| NAME_PREFIX.run(t, input),
    |t, input| NAME_SUFFIX.run(t, input),
    labels_step,
    common_annotations,
    json6902_patches,
    replicas_step,
    images_step,
    replacements_step,
    plugin_transformers,
];

/// Runs the level's transformers and collects its vars (after its components).
pub(crate) fn transform_level(
    b: &mut Builder,
    loader: &Loader,
    kust: &Kustomization,
    acc: &mut Accumulator,
    level: &Level,
) -> Result<(), RenderError> {
    let level = LevelInput::new(kust, loader, level);
    let patches = load_patches(&level)?;
    let input = TransformInput { level, patches };
    let mut t = TransformerRun {
        b,
        acc,
        file: &input.level.file,
        configured_in: &input.level.configured_in,
    };
    for step in TRANSFORM_STEPS {
        step(&mut t, &input)?;
    }
    collect_vars(&input.level, acc)
}

/// Reads the level's patches, in the order `patchesStrategicMerge`, `patches`,
/// `patchesJson6902` (each group runs at its own place in [`TRANSFORM_STEPS`]).
fn load_patches(input: &LevelInput<'_>) -> Result<Vec<PatchSpec>, RenderError> {
    let fields = &input.kust.fields;
    let mut out = Vec::new();
    for entries in [
        &fields.patches_strategic_merge,
        &fields.patches,
        &fields.patches_json6902,
    ] {
        for entry in &entries.items {
            out.push(entry.load(input.loader).map_err(|e| RenderError::Patch {
                file: input.file.clone(),
                source: e.into(),
            })?);
        }
        entries.after_items()?;
    }
    Ok(out)
}

fn strategic_merge_patches(
    t: &mut TransformerRun<'_, '_>,
    input: &TransformInput<'_>,
) -> Result<(), RenderError> {
    t.patches(
        &input.patches_of(PatchField::StrategicMerge),
        "PatchStrategicMergeTransformer",
    )
}

fn patches(t: &mut TransformerRun<'_, '_>, input: &TransformInput<'_>) -> Result<(), RenderError> {
    t.patches(&input.patches_of(PatchField::Patches), "PatchTransformer")
}

fn json6902_patches(
    t: &mut TransformerRun<'_, '_>,
    input: &TransformInput<'_>,
) -> Result<(), RenderError> {
    t.patches(
        &input.patches_of(PatchField::Json6902),
        "PatchJson6902Transformer",
    )
}

/// How a transformer set by one string of the kustomization changes the objects.
type StringTransform = fn(&mut ResMap, &str, &[FieldSpec]) -> Result<(), TransformError>;

/// A transformer set by one string of the kustomization, run when that string is set.
struct StringStep {
    /// The transformer's kind.
    kind: &'static str,
    /// The string.
    value: fn(&Kustomization) -> &str,
    /// The field specs it goes through.
    specs: fn(&TransformerConfig) -> &[FieldSpec],
    /// The change.
    apply: StringTransform,
}

/// `namespace`.
const NAMESPACE: StringStep = StringStep {
    kind: "NamespaceTransformer",
    value: |k| k.namespace.as_str(),
    specs: |c| c.namespace.as_slice(),
    apply: |res, ns, specs| {
        namespace::apply_namespace(res, ns, &NamespaceOptions::default(), specs)
    },
};

/// `namePrefix`.
const NAME_PREFIX: StringStep = StringStep {
    kind: "PrefixTransformer",
    value: |k| k.name_prefix.as_str(),
    specs: |c| c.name_prefix.as_slice(),
    apply: prefix::apply_prefix,
};

/// `nameSuffix`.
const NAME_SUFFIX: StringStep = StringStep {
    kind: "SuffixTransformer",
    value: |k| k.name_suffix.as_str(),
    specs: |c| c.name_suffix.as_slice(),
    apply: prefix::apply_suffix,
};

impl StringStep {
    fn run(
        &self,
        t: &mut TransformerRun<'_, '_>,
        input: &TransformInput<'_>,
    ) -> Result<(), RenderError> {
        let value = (self.value)(input.level.kust);
        if value.is_empty() {
            return Ok(());
        }
        let specs = (self.specs)(&t.acc.config).to_vec();
        t.run(self.kind, |res| {
            (self.apply)(res, value, &specs).map_err(|e| input.level.terr(e))
        })
    }
}

/// `labels:` entries, then `commonLabels` (one LabelTransformer each).
fn labels_step(
    t: &mut TransformerRun<'_, '_>,
    input: &TransformInput<'_>,
) -> Result<(), RenderError> {
    let terr = |e| input.level.terr(e);
    let label_specs = input
        .level
        .kust
        .fields
        .labels
        .as_ref()
        .map_err(Clone::clone)?;
    for spec in label_specs.iter().filter(|s| !s.pairs.is_empty()) {
        let cfg = t.acc.config.clone();
        t.run("LabelTransformer", |res| {
            labels::apply_labels(res, spec, &cfg).map_err(terr)
        })?;
    }
    Ok(())
}

fn common_annotations(
    t: &mut TransformerRun<'_, '_>,
    input: &TransformInput<'_>,
) -> Result<(), RenderError> {
    let terr = |e| input.level.terr(e);
    let pairs = input
        .level
        .kust
        .fields
        .common_annotations
        .as_ref()
        .map_err(Clone::clone)?;
    if pairs.is_empty() {
        return Ok(());
    }
    let specs = t.acc.config.common_annotations.clone();
    t.run("AnnotationsTransformer", |res| {
        annotations::apply_annotations(res, pairs, &specs).map_err(terr)
    })
}

fn replicas_step(
    t: &mut TransformerRun<'_, '_>,
    input: &TransformInput<'_>,
) -> Result<(), RenderError> {
    let kust = input.level.kust;
    let specs = kust.fields.replicas.as_ref().map_err(Clone::clone)?;
    let fs = t.acc.config.replicas.clone();
    for spec in specs {
        t.run("ReplicaCountTransformer", |res| {
            replicas::apply_replicas(res, std::slice::from_ref(spec), &fs)
                .map_err(|e| bad_field(kust, "replicas", &fjord_model::chain(&e)))
        })?;
    }
    Ok(())
}

/// `images:`, then the deprecated `imageTags:`.
fn images_step(
    t: &mut TransformerRun<'_, '_>,
    input: &TransformInput<'_>,
) -> Result<(), RenderError> {
    let kust = input.level.kust;
    for (field, specs) in [
        ("images", &kust.fields.images),
        ("imageTags", &kust.fields.image_tags),
    ] {
        let specs = specs.as_ref().map_err(Clone::clone)?;
        let fs = t.acc.config.images.clone();
        for spec in specs {
            t.run("ImageTagTransformer", |res| {
                images::apply_images(res, std::slice::from_ref(spec), &fs)
                    .map_err(|e| bad_field(kust, field, &fjord_model::chain(&e)))
            })?;
        }
    }
    Ok(())
}

fn replacements_step(
    t: &mut TransformerRun<'_, '_>,
    input: &TransformInput<'_>,
) -> Result<(), RenderError> {
    let rerr = |e: crate::replacements::ReplacementError| RenderError::Replacement {
        file: input.level.file.clone(),
        source: e.into(),
    };
    let entries = &input.level.kust.fields.replacements;
    let mut reps = Vec::new();
    for entry in &entries.items {
        reps.extend(entry.load(input.level.loader).map_err(rerr)?);
    }
    entries.after_items()?;
    if reps.is_empty() {
        return Ok(());
    }
    t.run("ReplacementTransformer", |res| {
        crate::replacements::apply(res, &reps).map_err(rerr)
    })
}

/// The `transformers:` entries (kustomize's built-in transformers configured as objects).
fn plugin_transformers(
    t: &mut TransformerRun<'_, '_>,
    input: &TransformInput<'_>,
) -> Result<(), RenderError> {
    let level = &input.level;
    for cfg in plugin_configs(t.b, level, "transformers", &level.kust.fields.transformers)? {
        crate::plugins::run_transformer(t, &cfg, level.kust, level.loader)?;
    }
    Ok(())
}

/// Binds the level's `vars:` and adds them to those of the levels below.
fn collect_vars(input: &LevelInput<'_>, acc: &mut Accumulator) -> Result<(), RenderError> {
    let vars = input.kust.fields.vars.as_ref().map_err(Clone::clone)?;
    if vars.is_empty() {
        return Ok(());
    }
    crate::vars::bind(&mut acc.vars, vars, &acc.res).map_err(|e| RenderError::Vars {
        file: input.file.clone(),
        source: e.into(),
    })
}

/// Runs one generator and adds its object.
fn run_generator(
    b: &Builder,
    input: &LevelInput<'_>,
    args: &GeneratorArgs,
    global: Option<&GeneratorOptions>,
    acc: &mut Accumulator,
) -> Result<(), RenderError> {
    let configured_in = &input.configured_in;
    let mut r = generate::generate(args, global, input.loader).map_err(|e| input.gerr(e))?;
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
    generate::add_generated(&mut acc.res, r).map_err(|e| input.gerr(e))
}

/// The configuration objects listed under `generators:` or `transformers:`: inline YAML
/// documents, files, or kustomization directories that produce them.
fn plugin_configs(
    b: &mut Builder,
    input: &LevelInput<'_>,
    field: &str,
    entries: &Entries<String>,
) -> Result<Vec<Node>, RenderError> {
    let kust = input.kust;
    let mut out = Vec::new();
    for text in &entries.items {
        let inline = fjord_yaml::parse_documents(text.as_bytes())
            .ok()
            .filter(|docs| !docs.is_empty() && docs.iter().all(|d| d.as_map().is_some()));
        match inline {
            Some(docs) => out.extend(docs),
            None => out.extend(b.config_objects(input.loader, kust, field, text, input.level)?),
        }
    }
    entries.after_items()?;
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
