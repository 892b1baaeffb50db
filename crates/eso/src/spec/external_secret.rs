//! `ExternalSecret` (v1 and v1beta1).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use regex::Regex;
use serde_json::Value;

use super::read::{err, Obj};
use super::{
    check_type, parse_go_duration, parse_store_ref, ConversionStrategy, DecodingStrategy,
    MetadataPolicy, SpecError, StoreRef, CONVERSION, DECODING, KIND_EXTERNAL_SECRET,
};

/// The default `refreshInterval` (ESO's CRD default `1h0m0s`).
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(3600);

/// When an ExternalSecret is fetched again (`refreshPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshPolicy {
    /// Every `refreshInterval`, and on spec/metadata changes (default).
    Periodic,
    /// Only until it was synced once.
    CreatedOnce,
    /// Only when the spec, labels or annotations change.
    OnChange,
}

/// What happens to the target Secret (`target.creationPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreationPolicy {
    /// Created and owned (ownerReference, created-by label) (default).
    Owner,
    /// Created, not owned.
    Orphan,
    /// Never created; keys are merged into an existing Secret.
    Merge,
    /// No Secret is written.
    None,
    /// Created when missing, otherwise merged into (v1 only).
    CreateOrMerge,
}

/// What happens when the provider returns no data (`target.deletionPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletionPolicy {
    /// The Secret is kept (default).
    Retain,
    /// The Secret is deleted (Owner only).
    Delete,
    /// This ExternalSecret's keys are removed from the Secret.
    Merge,
}

/// `template.mergePolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergePolicy {
    /// The rendered template replaces the fetched data (default).
    Replace,
    /// The rendered keys are merged over the fetched data.
    Merge,
}

/// A `remoteRef` (in `data[]`) or `extract` (in `dataFrom[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    /// The provider key (a Vault path, see [`crate::path`]).
    pub key: String,
    /// The property to pick; `None`: the whole secret as JSON.
    pub property: Option<String>,
    /// The KV v2 version to read.
    pub version: Option<String>,
    /// How the value is decoded.
    pub decoding: DecodingStrategy,
    /// How keys are converted.
    pub conversion: ConversionStrategy,
    /// Whether the metadata is read instead of the data.
    pub metadata_policy: MetadataPolicy,
}

/// One `data[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataEntry {
    /// The key in the target Secret.
    pub secret_key: String,
    /// What to read.
    pub remote_ref: RemoteRef,
    /// `sourceRef.storeRef`: a per-entry store.
    pub store_ref: Option<StoreRef>,
}

/// `dataFrom[].find`.
#[derive(Debug, Clone)]
pub struct Find {
    /// The path to list under.
    pub path: Option<String>,
    /// `name.regexp` (unanchored, as Go's `MatchString`).
    pub name_regexp: Option<Regex>,
    /// `tags`: `custom_metadata` entries that must all match (KV v2).
    pub tags: BTreeMap<String, String>,
    /// How values are decoded.
    pub decoding: DecodingStrategy,
    /// How keys are converted.
    pub conversion: ConversionStrategy,
}

/// What a `dataFrom[]` entry reads.
#[derive(Debug, Clone)]
pub enum DataFromSource {
    /// Every key of one secret.
    Extract(RemoteRef),
    /// Every secret found by name or tags.
    Find(Find),
}

/// A `rewrite[].regexp` rule: keys matching `source` are rewritten to `target` (`$1` etc).
#[derive(Debug, Clone)]
pub struct Rewrite {
    /// The pattern.
    pub source: Regex,
    /// The replacement (Go `Regexp.ReplaceAllString` syntax).
    pub target: String,
}

/// One `dataFrom[]` entry.
#[derive(Debug, Clone)]
pub struct DataFromEntry {
    /// What to read.
    pub source: DataFromSource,
    /// The key rewrites, applied in order.
    pub rewrite: Vec<Rewrite>,
    /// `sourceRef.storeRef`: a per-entry store.
    pub store_ref: Option<StoreRef>,
}

/// `target.template.metadata`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateMetadata {
    /// Labels (templates) for the Secret.
    pub labels: BTreeMap<String, String>,
    /// Annotations (templates) for the Secret.
    pub annotations: BTreeMap<String, String>,
}

/// `target.template` (engineVersion v2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSpec {
    /// The Secret `type`.
    pub type_: Option<String>,
    /// Labels and annotations.
    pub metadata: TemplateMetadata,
    /// How the rendered keys combine with the fetched ones.
    pub merge_policy: MergePolicy,
    /// Key → template text.
    pub data: BTreeMap<String, String>,
}

/// `spec.target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The Secret name (defaults to the ExternalSecret's name).
    pub name: String,
    /// `creationPolicy`.
    pub creation_policy: CreationPolicy,
    /// `deletionPolicy`.
    pub deletion_policy: DeletionPolicy,
    /// `immutable`.
    pub immutable: bool,
    /// `template`.
    pub template: Option<TemplateSpec>,
}

/// A parsed and validated `ExternalSecret` spec.
#[derive(Debug, Clone)]
pub struct ExternalSecretSpec {
    /// `refreshInterval` (default 1h); `Duration::ZERO` means fetch once.
    pub refresh_interval: Duration,
    /// `refreshPolicy`.
    pub refresh_policy: RefreshPolicy,
    /// `secretStoreRef`.
    pub store_ref: Option<StoreRef>,
    /// `target`.
    pub target: Target,
    /// `data[]`.
    pub data: Vec<DataEntry>,
    /// `dataFrom[]`.
    pub data_from: Vec<DataFromEntry>,
}

impl ExternalSecretSpec {
    /// Every store this spec reads from (the spec's own and the per-entry ones), deduplicated.
    pub fn stores(&self) -> Vec<StoreRef> {
        let mut set = BTreeSet::new();
        for e in &self.data {
            set.extend(e.store_ref.clone().or_else(|| self.store_ref.clone()));
        }
        for e in &self.data_from {
            set.extend(e.store_ref.clone().or_else(|| self.store_ref.clone()));
        }
        set.into_iter().collect()
    }
}

/// Parses `obj` (a whole ExternalSecret, v1 or v1beta1) and validates it as ESO's webhook
/// does, plus: unknown enum values, unsupported fields fjord does not implement (named, e.g.
/// "spec.target.manifest: not supported by fjord"), bad regexps, Go-duration parse.
/// `metadata.name` is the target name default.
pub fn parse_external_secret(obj: &Value) -> Result<ExternalSecretSpec, SpecError> {
    let root = Obj::new(obj, "")?;
    let version = check_type(&root, &[KIND_EXTERNAL_SECRET])?;
    let name = root
        .obj("metadata")?
        .map(|m| m.str("name").map(|n| n.unwrap_or_default().to_string()))
        .transpose()?
        .unwrap_or_default();
    if name.is_empty() {
        return Err(err("metadata.name", "is required"));
    }
    let spec = root.req_obj("spec")?;
    parse_spec(&spec, &name, version == "v1beta1")
}

/// Parses a bare v1 ExternalSecret spec found at `path` (e.g. a ClusterExternalSecret's
/// `spec.externalSecretSpec`); `name` is the target name default.
pub fn parse_external_secret_spec(
    spec: &Value,
    name: &str,
    path: &str,
) -> Result<ExternalSecretSpec, SpecError> {
    parse_spec(&Obj::new(spec, path)?, name, false)
}

fn parse_spec(spec: &Obj<'_>, name: &str, v1beta1: bool) -> Result<ExternalSecretSpec, SpecError> {
    spec.only(&[
        "secretStoreRef",
        "target",
        "refreshPolicy",
        "refreshInterval",
        "data",
        "dataFrom",
        "syncWindows",
    ])?;
    spec.refuse(&["syncWindows"])?;
    let refresh_interval = match spec.str("refreshInterval")? {
        None => DEFAULT_REFRESH_INTERVAL,
        Some(s) => parse_go_duration(s).ok_or_else(|| {
            err(
                spec.field("refreshInterval"),
                format!("{s:?} is not a Go duration (e.g. 1h, 30m, 90s, 0)"),
            )
        })?,
    };
    let refresh_policy = spec.enumeration(
        "refreshPolicy",
        &[
            ("Periodic", RefreshPolicy::Periodic),
            ("CreatedOnce", RefreshPolicy::CreatedOnce),
            ("OnChange", RefreshPolicy::OnChange),
        ],
        RefreshPolicy::Periodic,
    )?;
    let store_ref = spec
        .obj("secretStoreRef")?
        .map(|o| parse_store_ref(&o))
        .transpose()?;
    let target = parse_target(spec.obj("target")?, name, v1beta1)?;
    let data = spec
        .items("data")?
        .iter()
        .map(parse_data_entry)
        .collect::<Result<Vec<_>, _>>()?;
    let data_from = spec
        .items("dataFrom")?
        .iter()
        .map(parse_data_from)
        .collect::<Result<Vec<_>, _>>()?;
    let es = ExternalSecretSpec {
        refresh_interval,
        refresh_policy,
        store_ref,
        target,
        data,
        data_from,
    };
    validate(spec, &es)?;
    Ok(es)
}

/// ESO's webhook rules, plus: every entry must have a store.
fn validate(spec: &Obj<'_>, es: &ExternalSecretSpec) -> Result<(), SpecError> {
    if es.data.is_empty() && es.data_from.is_empty() {
        return Err(err(
            spec.field("data"),
            "either data or dataFrom must be specified",
        ));
    }
    let t = &es.target;
    let target = spec.field("target");
    if t.deletion_policy == DeletionPolicy::Delete && t.creation_policy != CreationPolicy::Owner {
        return Err(err(
            format!("{target}.deletionPolicy"),
            "Delete must not be used when the controller does not own the secret: set creationPolicy Owner",
        ));
    }
    if t.deletion_policy == DeletionPolicy::Merge && t.creation_policy == CreationPolicy::None {
        return Err(err(
            format!("{target}.deletionPolicy"),
            "Merge must not be used with creationPolicy None: there is no Secret to merge with",
        ));
    }
    if t.deletion_policy == DeletionPolicy::Retain {
        let mut seen = BTreeSet::new();
        for (i, e) in es.data.iter().enumerate() {
            if !seen.insert(e.secret_key.as_str()) {
                return Err(err(
                    format!("{}[{i}].secretKey", spec.field("data")),
                    format!("duplicate secretKey {:?}", e.secret_key),
                ));
            }
        }
    }
    if es.store_ref.is_none() {
        let missing = es
            .data
            .iter()
            .position(|e| e.store_ref.is_none())
            .map(|i| format!("{}[{i}]", spec.field("data")))
            .or_else(|| {
                es.data_from
                    .iter()
                    .position(|e| e.store_ref.is_none())
                    .map(|i| format!("{}[{i}]", spec.field("dataFrom")))
            });
        if let Some(entry) = missing {
            return Err(err(
                spec.field("secretStoreRef"),
                format!("is required ({entry} has no sourceRef.storeRef)"),
            ));
        }
    }
    Ok(())
}

fn parse_target(o: Option<Obj<'_>>, name: &str, v1beta1: bool) -> Result<Target, SpecError> {
    let Some(o) = o else {
        return Ok(Target {
            name: name.to_string(),
            creation_policy: CreationPolicy::Owner,
            deletion_policy: DeletionPolicy::Retain,
            immutable: false,
            template: None,
        });
    };
    o.only(&[
        "name",
        "creationPolicy",
        "deletionPolicy",
        "template",
        "manifest",
        "immutable",
    ])?;
    o.refuse(&["manifest"])?;
    let creation_policy = o.enumeration(
        "creationPolicy",
        &[
            ("Owner", CreationPolicy::Owner),
            ("Orphan", CreationPolicy::Orphan),
            ("Merge", CreationPolicy::Merge),
            ("None", CreationPolicy::None),
            ("CreateOrMerge", CreationPolicy::CreateOrMerge),
        ],
        CreationPolicy::Owner,
    )?;
    if v1beta1 && creation_policy == CreationPolicy::CreateOrMerge {
        return Err(err(
            o.field("creationPolicy"),
            "CreateOrMerge needs apiVersion external-secrets.io/v1",
        ));
    }
    let deletion_policy = o.enumeration(
        "deletionPolicy",
        &[
            ("Retain", DeletionPolicy::Retain),
            ("Delete", DeletionPolicy::Delete),
            ("Merge", DeletionPolicy::Merge),
        ],
        DeletionPolicy::Retain,
    )?;
    let name = o.str("name")?.unwrap_or(name);
    if let Err(reason) = check_secret_name(name) {
        return Err(err(o.field("name"), reason));
    }
    Ok(Target {
        name: name.to_string(),
        creation_policy,
        deletion_policy,
        immutable: o.bool("immutable")?,
        template: o.obj("template")?.map(|t| parse_template(&t)).transpose()?,
    })
}

/// A Secret name must be a DNS subdomain (RFC 1123, at most 253 characters).
fn check_secret_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid Secret name (lowercase RFC 1123 subdomain)"
        ))
    }
}

fn parse_template(o: &Obj<'_>) -> Result<TemplateSpec, SpecError> {
    o.only(&[
        "type",
        "engineVersion",
        "metadata",
        "mergePolicy",
        "data",
        "templateFrom",
    ])?;
    o.refuse(&["templateFrom"])?;
    if let Some(v) = o.str("engineVersion")? {
        if v != "v2" {
            return Err(err(
                o.field("engineVersion"),
                format!("{v} is not supported by fjord (only v2)"),
            ));
        }
    }
    let metadata = match o.obj("metadata")? {
        None => TemplateMetadata::default(),
        Some(m) => {
            m.only(&["labels", "annotations", "finalizers"])?;
            m.refuse(&["finalizers"])?;
            TemplateMetadata {
                labels: m.string_map("labels")?,
                annotations: m.string_map("annotations")?,
            }
        }
    };
    let type_ = o.str("type")?.map(str::to_string);
    match type_.as_deref() {
        Some("bootstrap.kubernetes.io/token") => {
            return Err(err(
                o.field("type"),
                "bootstrap.kubernetes.io/token is not allowed",
            ));
        }
        Some("kubernetes.io/service-account-token")
            if metadata
                .annotations
                .contains_key("kubernetes.io/service-account.name") =>
        {
            return Err(err(
                o.field("type"),
                "kubernetes.io/service-account-token with a kubernetes.io/service-account.name annotation is not allowed",
            ));
        }
        _ => {}
    }
    Ok(TemplateSpec {
        type_,
        metadata,
        merge_policy: o.enumeration(
            "mergePolicy",
            &[
                ("Replace", MergePolicy::Replace),
                ("Merge", MergePolicy::Merge),
            ],
            MergePolicy::Replace,
        )?,
        data: o.string_map("data")?,
    })
}

/// Whether `k` matches `^[-._a-zA-Z0-9]+$`: a valid Secret data key.
pub fn is_secret_key(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

fn parse_data_entry(o: &Obj<'_>) -> Result<DataEntry, SpecError> {
    o.only(&["secretKey", "remoteRef", "sourceRef"])?;
    let secret_key = o.req_str("secretKey")?;
    if !is_secret_key(secret_key) {
        return Err(err(
            o.field("secretKey"),
            format!("{secret_key:?} does not match ^[-._a-zA-Z0-9]+$"),
        ));
    }
    Ok(DataEntry {
        secret_key: secret_key.to_string(),
        remote_ref: parse_remote_ref(&o.req_obj("remoteRef")?)?,
        store_ref: parse_source_ref(o)?,
    })
}

/// `sourceRef{storeRef}`; `generatorRef` is refused.
fn parse_source_ref(o: &Obj<'_>) -> Result<Option<StoreRef>, SpecError> {
    let Some(s) = o.obj("sourceRef")? else {
        return Ok(None);
    };
    s.only(&["storeRef", "generatorRef"])?;
    s.refuse(&["generatorRef"])?;
    s.obj("storeRef")?.map(|r| parse_store_ref(&r)).transpose()
}

/// `nullBytePolicy`: only `Ignore` (the default) is implemented.
fn check_null_byte_policy(o: &Obj<'_>) -> Result<(), SpecError> {
    match o.str("nullBytePolicy")? {
        None | Some("Ignore") => Ok(()),
        Some(other) => Err(err(
            o.field("nullBytePolicy"),
            format!("{other} is not supported by fjord (only Ignore)"),
        )),
    }
}

fn parse_remote_ref(o: &Obj<'_>) -> Result<RemoteRef, SpecError> {
    o.only(&[
        "key",
        "property",
        "version",
        "decodingStrategy",
        "conversionStrategy",
        "metadataPolicy",
        "nullBytePolicy",
    ])?;
    check_null_byte_policy(o)?;
    Ok(RemoteRef {
        key: o.req_str("key")?.to_string(),
        property: o.str("property")?.map(str::to_string),
        version: o.str("version")?.map(str::to_string),
        decoding: o.enumeration("decodingStrategy", DECODING, DecodingStrategy::None)?,
        conversion: o.enumeration(
            "conversionStrategy",
            CONVERSION,
            ConversionStrategy::Default,
        )?,
        metadata_policy: o.enumeration(
            "metadataPolicy",
            &[
                ("None", MetadataPolicy::None),
                ("Fetch", MetadataPolicy::Fetch),
            ],
            MetadataPolicy::None,
        )?,
    })
}

/// Compiles a regexp found at `field`.
fn compile(field: String, pattern: &str) -> Result<Regex, SpecError> {
    Regex::new(pattern).map_err(|e| err(field, format!("invalid regexp: {e}")))
}

fn parse_data_from(o: &Obj<'_>) -> Result<DataFromEntry, SpecError> {
    o.only(&["extract", "find", "rewrite", "sourceRef"])?;
    let store_ref = parse_source_ref(o)?;
    let source = match (o.obj("extract")?, o.obj("find")?) {
        (Some(_), Some(_)) => {
            return Err(err(o.path(), "only one of extract or find may be set"));
        }
        (Some(e), None) => DataFromSource::Extract(parse_remote_ref(&e)?),
        (None, Some(f)) => DataFromSource::Find(parse_find(&f)?),
        (None, None) => return Err(err(o.path(), "one of extract or find is required")),
    };
    let rewrite = o
        .items("rewrite")?
        .iter()
        .map(parse_rewrite)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DataFromEntry {
        source,
        rewrite,
        store_ref,
    })
}

fn parse_find(o: &Obj<'_>) -> Result<Find, SpecError> {
    o.only(&[
        "path",
        "name",
        "tags",
        "conversionStrategy",
        "decodingStrategy",
        "nullBytePolicy",
    ])?;
    check_null_byte_policy(o)?;
    let name_regexp = match o.obj("name")? {
        None => None,
        Some(n) => {
            n.only(&["regexp"])?;
            let pattern = n.req_str("regexp")?;
            Some(compile(n.field("regexp"), pattern)?)
        }
    };
    let tags = o.string_map("tags")?;
    if name_regexp.is_none() && tags.is_empty() {
        return Err(err(o.path(), "one of name.regexp or tags is required"));
    }
    Ok(Find {
        path: o.str("path")?.map(str::to_string),
        name_regexp,
        tags,
        decoding: o.enumeration("decodingStrategy", DECODING, DecodingStrategy::None)?,
        conversion: o.enumeration(
            "conversionStrategy",
            CONVERSION,
            ConversionStrategy::Default,
        )?,
    })
}

fn parse_rewrite(o: &Obj<'_>) -> Result<Rewrite, SpecError> {
    o.only(&["regexp", "transform", "merge"])?;
    o.refuse(&["transform", "merge"])?;
    let r = o.obj("regexp")?.ok_or_else(|| {
        err(
            o.path(),
            "regexp is required (the only rewrite fjord supports)",
        )
    })?;
    r.only(&["source", "target"])?;
    Ok(Rewrite {
        source: compile(r.field("source"), r.req_str("source")?)?,
        target: r.str_or("target", "")?,
    })
}
