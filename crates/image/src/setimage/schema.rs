//! The typed shape of a kustomization (kustomize v5.5.0's `types.Kustomization` and the
//! structs under it), and the two conversions kustomize puts a file through: decoding as Go's
//! `encoding/json` does with unknown fields refused, and marshalling back with `omitempty`.
//!
//! Values are held as JSON: a Go nil (slice, map, pointer) is `null`; a struct is an object
//! with every field, zero values included; `marshal` then drops what `omitempty` drops.

use serde_json::{Map as JsonMap, Value};

/// A Go type as far as decoding and marshalling care.
pub(super) enum Ty {
    /// `string` (or a named string type).
    Str,
    /// `bool`.
    Bool,
    /// An integer type (its Go name, for messages).
    Int(&'static str),
    /// `interface{}`: any value.
    Any,
    /// A slice.
    List(&'static Ty),
    /// A `map[string]T`.
    Map(&'static Ty),
    /// A pointer.
    Ptr(&'static Ty),
    /// A struct.
    Struct(&'static StructTy),
}

/// A struct type: its Go name and its JSON fields (embedded structs flattened).
pub(super) struct StructTy {
    /// Go name (`Image`), for messages.
    pub(super) name: &'static str,
    /// Fields in declaration order.
    pub(super) fields: &'static [Field],
}

/// One JSON field of a struct.
pub(super) struct Field {
    /// The JSON name.
    pub(super) json: &'static str,
    /// Its type.
    pub(super) ty: &'static Ty,
    /// Whether the tag says `omitempty`.
    pub(super) omitempty: bool,
}

const fn f(json: &'static str, ty: &'static Ty) -> Field {
    Field {
        json,
        ty,
        omitempty: true,
    }
}

const fn always(json: &'static str, ty: &'static Ty) -> Field {
    Field {
        json,
        ty,
        omitempty: false,
    }
}

static STR: Ty = Ty::Str;
static BOOL: Ty = Ty::Bool;
static INT: Ty = Ty::Int("int");
static INT64: Ty = Ty::Int("int64");
static ANY: Ty = Ty::Any;
static STRS: Ty = Ty::List(&STR);
static STR_MAP: Ty = Ty::Map(&STR);
static BOOL_MAP: Ty = Ty::Map(&BOOL);
static ANY_MAP: Ty = Ty::Map(&ANY);

macro_rules! strukt {
    ($ty:ident, $st:ident, $name:literal, [$($field:expr),* $(,)?]) => {
        static $st: StructTy = StructTy { name: $name, fields: &[$($field),*] };
        static $ty: Ty = Ty::Struct(&$st);
    };
}

strukt!(
    OBJECT_META,
    OBJECT_META_S,
    "ObjectMeta",
    [
        f("name", &STR),
        f("namespace", &STR),
        f("labels", &STR_MAP),
        f("annotations", &STR_MAP),
    ]
);
static OBJECT_META_P: Ty = Ty::Ptr(&OBJECT_META);
strukt!(
    FIELD_SPEC,
    FIELD_SPEC_S,
    "FieldSpec",
    [
        f("group", &STR),
        f("version", &STR),
        f("kind", &STR),
        f("path", &STR),
        f("create", &BOOL),
    ]
);
static FIELD_SPECS: Ty = Ty::List(&FIELD_SPEC);
strukt!(
    LABEL,
    LABEL_S,
    "Label",
    [
        f("pairs", &STR_MAP),
        f("includeSelectors", &BOOL),
        f("includeTemplates", &BOOL),
        f("fields", &FIELD_SPECS),
    ]
);
static LABELS: Ty = Ty::List(&LABEL);
strukt!(
    SELECTOR,
    SELECTOR_S,
    "Selector",
    [
        f("group", &STR),
        f("version", &STR),
        f("kind", &STR),
        f("name", &STR),
        f("namespace", &STR),
        f("annotationSelector", &STR),
        f("labelSelector", &STR),
    ]
);
static SELECTOR_P: Ty = Ty::Ptr(&SELECTOR);
static SELECTORS_P: Ty = Ty::List(&SELECTOR_P);
strukt!(
    PATCH,
    PATCH_S,
    "Patch",
    [
        f("path", &STR),
        f("patch", &STR),
        f("target", &SELECTOR_P),
        f("options", &BOOL_MAP),
    ]
);
static PATCHES: Ty = Ty::List(&PATCH);
strukt!(
    IMAGE,
    IMAGE_S,
    "Image",
    [
        f("name", &STR),
        f("newName", &STR),
        f("tagSuffix", &STR),
        f("newTag", &STR),
        f("digest", &STR),
    ]
);
static IMAGES: Ty = Ty::List(&IMAGE);
strukt!(
    FIELD_OPTIONS,
    FIELD_OPTIONS_S,
    "FieldOptions",
    [
        f("delimiter", &STR),
        f("index", &INT),
        f("encoding", &STR),
        f("create", &BOOL),
    ]
);
static FIELD_OPTIONS_P: Ty = Ty::Ptr(&FIELD_OPTIONS);
strukt!(
    SOURCE_SELECTOR,
    SOURCE_SELECTOR_S,
    "SourceSelector",
    [
        f("group", &STR),
        f("version", &STR),
        f("kind", &STR),
        f("name", &STR),
        f("namespace", &STR),
        f("fieldPath", &STR),
        f("options", &FIELD_OPTIONS_P),
    ]
);
static SOURCE_SELECTOR_P: Ty = Ty::Ptr(&SOURCE_SELECTOR);
strukt!(
    TARGET_SELECTOR,
    TARGET_SELECTOR_S,
    "TargetSelector",
    [
        always("select", &SELECTOR_P),
        f("reject", &SELECTORS_P),
        f("fieldPaths", &STRS),
        f("options", &FIELD_OPTIONS_P),
    ]
);
static TARGET_SELECTOR_P: Ty = Ty::Ptr(&TARGET_SELECTOR);
static TARGET_SELECTORS: Ty = Ty::List(&TARGET_SELECTOR_P);
strukt!(
    REPLACEMENT,
    REPLACEMENT_S,
    "ReplacementField",
    [
        f("source", &SOURCE_SELECTOR_P),
        f("targets", &TARGET_SELECTORS),
        f("path", &STR),
    ]
);
static REPLACEMENTS: Ty = Ty::List(&REPLACEMENT);
strukt!(
    REPLICA,
    REPLICA_S,
    "Replica",
    [f("name", &STR), always("count", &INT64)]
);
static REPLICAS: Ty = Ty::List(&REPLICA);
strukt!(
    VAR_TARGET,
    VAR_TARGET_S,
    "Target",
    [
        f("apiVersion", &STR),
        f("group", &STR),
        f("version", &STR),
        f("kind", &STR),
        always("name", &STR),
        f("namespace", &STR),
    ]
);
strukt!(
    FIELD_SELECTOR,
    FIELD_SELECTOR_S,
    "FieldSelector",
    [f("fieldPath", &STR)]
);
// `omitempty` has no effect on a struct value: `fieldref` is always written.
strukt!(
    VAR,
    VAR_S,
    "Var",
    [
        always("name", &STR),
        always("objref", &VAR_TARGET),
        always("fieldref", &FIELD_SELECTOR),
    ]
);
static VARS: Ty = Ty::List(&VAR);
strukt!(
    LEGACY_SORT,
    LEGACY_SORT_S,
    "LegacySortOptions",
    [always("orderFirst", &STRS), always("orderLast", &STRS),]
);
static LEGACY_SORT_P: Ty = Ty::Ptr(&LEGACY_SORT);
strukt!(
    SORT_OPTIONS,
    SORT_OPTIONS_S,
    "SortOptions",
    [f("order", &STR), f("legacySortOptions", &LEGACY_SORT_P),]
);
static SORT_OPTIONS_P: Ty = Ty::Ptr(&SORT_OPTIONS);
strukt!(
    GENERATOR_OPTIONS,
    GENERATOR_OPTIONS_S,
    "GeneratorOptions",
    [
        f("labels", &STR_MAP),
        f("annotations", &STR_MAP),
        f("disableNameSuffixHash", &BOOL),
        f("immutable", &BOOL),
    ]
);
static GENERATOR_OPTIONS_P: Ty = Ty::Ptr(&GENERATOR_OPTIONS);
strukt!(
    CONFIG_MAP_ARGS,
    CONFIG_MAP_ARGS_S,
    "ConfigMapArgs",
    [
        f("namespace", &STR),
        f("name", &STR),
        f("behavior", &STR),
        f("literals", &STRS),
        f("files", &STRS),
        f("envs", &STRS),
        f("env", &STR),
        f("options", &GENERATOR_OPTIONS_P),
    ]
);
static CONFIG_MAP_ARGS_L: Ty = Ty::List(&CONFIG_MAP_ARGS);
strukt!(
    SECRET_ARGS,
    SECRET_ARGS_S,
    "SecretArgs",
    [
        f("namespace", &STR),
        f("name", &STR),
        f("behavior", &STR),
        f("literals", &STRS),
        f("files", &STRS),
        f("envs", &STRS),
        f("env", &STR),
        f("options", &GENERATOR_OPTIONS_P),
        f("type", &STR),
    ]
);
static SECRET_ARGS_L: Ty = Ty::List(&SECRET_ARGS);
strukt!(
    HELM_GLOBALS,
    HELM_GLOBALS_S,
    "HelmGlobals",
    [f("chartHome", &STR), f("configHome", &STR),]
);
static HELM_GLOBALS_P: Ty = Ty::Ptr(&HELM_GLOBALS);
strukt!(
    HELM_CHART,
    HELM_CHART_S,
    "HelmChart",
    [
        f("name", &STR),
        f("version", &STR),
        f("repo", &STR),
        f("releaseName", &STR),
        f("namespace", &STR),
        f("additionalValuesFiles", &STRS),
        f("valuesFile", &STR),
        f("valuesInline", &ANY_MAP),
        f("valuesMerge", &STR),
        f("includeCRDs", &BOOL),
        f("skipHooks", &BOOL),
        f("apiVersions", &STRS),
        f("kubeVersion", &STR),
        f("nameTemplate", &STR),
        f("skipTests", &BOOL),
        f("debug", &BOOL),
    ]
);
static HELM_CHARTS: Ty = Ty::List(&HELM_CHART);
strukt!(
    HELM_CHART_ARGS,
    HELM_CHART_ARGS_S,
    "HelmChartArgs",
    [
        f("chartName", &STR),
        f("chartVersion", &STR),
        f("chartRepoUrl", &STR),
        f("chartHome", &STR),
        f("chartRepoName", &STR),
        f("helmBin", &STR),
        f("helmHome", &STR),
        f("values", &STR),
        f("valuesLocal", &ANY_MAP),
        f("valuesMerge", &STR),
        f("releaseName", &STR),
        f("releaseNamespace", &STR),
        f("extraArgs", &STRS),
    ]
);
static HELM_CHART_ARGS_L: Ty = Ty::List(&HELM_CHART_ARGS);

strukt!(
    KUSTOMIZATION,
    KUSTOMIZATION_S,
    "Kustomization",
    [
        f("kind", &STR),
        f("apiVersion", &STR),
        f("metadata", &OBJECT_META_P),
        f("openapi", &STR_MAP),
        f("namePrefix", &STR),
        f("nameSuffix", &STR),
        f("namespace", &STR),
        f("commonLabels", &STR_MAP),
        f("labels", &LABELS),
        f("commonAnnotations", &STR_MAP),
        f("patchesStrategicMerge", &STRS),
        f("patchesJson6902", &PATCHES),
        f("patches", &PATCHES),
        f("images", &IMAGES),
        f("imageTags", &IMAGES),
        f("replacements", &REPLACEMENTS),
        f("replicas", &REPLICAS),
        f("vars", &VARS),
        f("sortOptions", &SORT_OPTIONS_P),
        f("resources", &STRS),
        f("components", &STRS),
        f("crds", &STRS),
        f("bases", &STRS),
        f("configMapGenerator", &CONFIG_MAP_ARGS_L),
        f("secretGenerator", &SECRET_ARGS_L),
        f("helmGlobals", &HELM_GLOBALS_P),
        f("helmCharts", &HELM_CHARTS),
        f("helmChartInflationGenerator", &HELM_CHART_ARGS_L),
        f("generatorOptions", &GENERATOR_OPTIONS_P),
        f("configurations", &STRS),
        f("generators", &STRS),
        f("transformers", &STRS),
        f("validators", &STRS),
        f("buildMetadata", &STRS),
    ]
);

/// The Kustomization struct type.
pub(super) fn kustomization() -> &'static Ty {
    &KUSTOMIZATION
}

/// The type of the Kustomization field `json`.
pub(super) fn field_ty(json: &str) -> Option<&'static Ty> {
    KUSTOMIZATION_S
        .fields
        .iter()
        .find(|f| f.json == json)
        .map(|f| f.ty)
}

/// The Go spelling of a type, as `encoding/json` prints it in errors.
pub(super) fn go_name(ty: &Ty) -> String {
    match ty {
        Ty::Str => "string".into(),
        Ty::Bool => "bool".into(),
        Ty::Int(n) => (*n).into(),
        Ty::Any => "interface {}".into(),
        Ty::List(t) => format!("[]{}", go_name(t)),
        Ty::Map(t) => format!("map[string]{}", go_name(t)),
        Ty::Ptr(t) => format!("*{}", go_name(t)),
        Ty::Struct(s) => format!("types.{}", s.name),
    }
}

/// The zero value of a type.
pub(super) fn zero(ty: &Ty) -> Value {
    match ty {
        Ty::Str => Value::String(String::new()),
        Ty::Bool => Value::Bool(false),
        Ty::Int(_) => Value::from(0),
        Ty::Any | Ty::List(_) | Ty::Map(_) | Ty::Ptr(_) => Value::Null,
        Ty::Struct(s) => zero_struct(s),
    }
}

/// A struct with every field at its zero value.
pub(super) fn zero_struct(s: &StructTy) -> Value {
    let mut m = JsonMap::with_capacity(s.fields.len());
    for field in s.fields {
        m.insert(field.json.to_string(), zero(field.ty));
    }
    Value::Object(m)
}

/// Whether Go's `omitempty` drops the value.
pub(super) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        // A struct value is never empty; maps are, when they have no entries. Structs
        // are only reached through this for pointers, which are objects when non-nil.
        Value::Object(_) => false,
    }
}

/// The JSON `json.Marshal` writes for `v` of type `ty` (struct fields in order, `omitempty`
/// applied).
pub(super) fn marshal(v: &Value, ty: &Ty) -> Value {
    match (ty, v) {
        (Ty::Ptr(inner), Value::Object(_)) => marshal(v, inner),
        (Ty::List(inner), Value::Array(items)) => {
            Value::Array(items.iter().map(|i| marshal(i, inner)).collect())
        }
        (Ty::Map(inner), Value::Object(m)) => Value::Object(
            m.iter()
                .map(|(k, i)| (k.clone(), marshal(i, inner)))
                .collect(),
        ),
        (Ty::Struct(s), Value::Object(m)) => {
            let mut out = JsonMap::new();
            for field in s.fields {
                let value = m.get(field.json).cloned().unwrap_or_else(|| zero(field.ty));
                let empty = match (field.ty, &value) {
                    (Ty::Map(_), Value::Object(o)) => o.is_empty(),
                    (Ty::Struct(_), _) => false,
                    _ => is_empty(&value),
                };
                if field.omitempty && empty {
                    continue;
                }
                out.insert(field.json.to_string(), marshal(&value, field.ty));
            }
            Value::Object(out)
        }
        _ => v.clone(),
    }
}
