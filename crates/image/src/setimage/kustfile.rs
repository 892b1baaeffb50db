//! How kustomize's `edit` commands write a kustomization back: the top-level fields found in
//! the original text (by a line scan, with the comment lines above each), in their original
//! order, then fields new to the file in kustomize's canonical order; each field printed on
//! its own through `sigs.k8s.io/yaml` (JSON round trip, go-yaml v2 layout).

use fjord_yaml::{emit, from_json_value, EmitError};
use serde_json::{Map as JsonMap, Value};

use super::schema::{field_ty, marshal};

/// The Kustomization's fields in kustomize's write order: (Go field name, JSON name).
/// The deprecated `imageTags` is not in it (kustomize neither recognises its line nor writes it).
pub(super) const FIELD_ORDER: &[(&str, &str)] = &[
    ("APIVersion", "apiVersion"),
    ("Kind", "kind"),
    ("MetaData", "metadata"),
    ("SortOptions", "sortOptions"),
    ("Resources", "resources"),
    ("Bases", "bases"),
    ("NamePrefix", "namePrefix"),
    ("NameSuffix", "nameSuffix"),
    ("Namespace", "namespace"),
    ("Crds", "crds"),
    ("CommonLabels", "commonLabels"),
    ("Labels", "labels"),
    ("CommonAnnotations", "commonAnnotations"),
    ("PatchesStrategicMerge", "patchesStrategicMerge"),
    ("PatchesJson6902", "patchesJson6902"),
    ("Patches", "patches"),
    ("ConfigMapGenerator", "configMapGenerator"),
    ("SecretGenerator", "secretGenerator"),
    ("HelmCharts", "helmCharts"),
    ("HelmChartInflationGenerator", "helmChartInflationGenerator"),
    ("HelmGlobals", "helmGlobals"),
    ("GeneratorOptions", "generatorOptions"),
    ("Vars", "vars"),
    ("Images", "images"),
    ("Replacements", "replacements"),
    ("Replicas", "replicas"),
    ("Configurations", "configurations"),
    ("Generators", "generators"),
    ("Transformers", "transformers"),
    ("Validators", "validators"),
    ("Components", "components"),
    ("OpenAPI", "openapi"),
    ("BuildMetadata", "buildMetadata"),
];

/// A top-level field found in the original text, with the comment and blank lines that go
/// above it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CommentedField {
    /// Index into [`FIELD_ORDER`].
    pub(super) field: usize,
    /// The lines written before the field, bytes as they were.
    pub(super) comment: String,
}

/// A line kustomize treats as a comment or a blank: after leading spaces (only spaces) and the
/// final `\n`, nothing or a `#`.
fn is_comment_or_blank(line: &str) -> bool {
    let s = line.trim_start_matches(' ');
    let s = s.strip_suffix('\n').unwrap_or(s);
    s.is_empty() || s.starts_with('#')
}

/// The field a line starts, if it starts with a field name (any case) and a colon.
fn matched_field(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    FIELD_ORDER.iter().position(|(go, _)| {
        bytes.len() > go.len()
            && bytes[..go.len()].eq_ignore_ascii_case(go.as_bytes())
            && bytes[go.len()] == b':'
    })
}

/// The line scan: every line that starts a known field, with the comments before it. Comment
/// lines followed by a line that is neither a comment nor a field move above the previous
/// field; comments at the end are dropped; a last line without `\n` is not looked at.
pub(super) fn commented_fields(text: &str) -> Vec<CommentedField> {
    let mut fields: Vec<CommentedField> = Vec::new();
    let mut pending = String::new();
    let mut rest = text;
    while let Some(end) = rest.find('\n') {
        let line = &rest[..=end];
        rest = &rest[end + 1..];
        if is_comment_or_blank(line) {
            pending.push_str(line);
        } else if let Some(field) = matched_field(line) {
            fields.push(CommentedField {
                field,
                comment: std::mem::take(&mut pending),
            });
        } else if !pending.is_empty() {
            if let Some(last) = fields.last_mut() {
                last.comment.push_str(&std::mem::take(&mut pending));
            }
        }
    }
    fields
}

/// Whether kustomize writes the field at all: pointers when non-nil, everything else when it
/// has a length.
fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) | Value::Bool(_) | Value::Number(_) => true,
    }
}

/// One field as its own YAML document (`key: value\n`), or nothing when it is empty.
fn marshal_field(k: &JsonMap<String, Value>, json: &str) -> Result<String, EmitError> {
    let Some(value) = k.get(json).filter(|v| present(v)) else {
        return Ok(String::new());
    };
    let Some(ty) = field_ty(json) else {
        return Ok(String::new());
    };
    // A map field with no entries is a non-nil map of length 0: not written.
    if matches!(value, Value::Object(o) if o.is_empty()) && matches!(ty, super::schema::Ty::Map(_))
    {
        return Ok(String::new());
    }
    let mut doc = JsonMap::new();
    doc.insert(json.to_string(), marshal(value, ty));
    emit(&from_json_value(&Value::Object(doc)))
}

/// The new text: original fields (with their comments) in order, then the other non-empty
/// fields in canonical order. When a field new to the file fails to print, kustomize returns
/// that field's (empty) output as the whole file and no error: the result is then empty.
pub(super) fn write(
    k: &JsonMap<String, Value>,
    original: &[CommentedField],
) -> Result<String, (String, EmitError)> {
    let mut out = String::new();
    for cf in original {
        out.push_str(&cf.comment);
        let json = FIELD_ORDER[cf.field].1;
        out.push_str(&marshal_field(k, json).map_err(|e| (json.to_string(), e))?);
    }
    for (i, (_, json)) in FIELD_ORDER.iter().enumerate() {
        if original.iter().any(|cf| cf.field == i) {
            continue;
        }
        match marshal_field(k, json) {
            Ok(text) => out.push_str(&text),
            Err(_) => return Ok(String::new()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_scan_keeps_comments_above_fields() {
        let text = "# head\n\nresources:\n- a\n  # inner\n- b\nIMAGES: []\n# tail\n";
        let got = commented_fields(text);
        let names: Vec<&str> = got.iter().map(|c| FIELD_ORDER[c.field].1).collect();
        assert_eq!(names, ["resources", "images"]);
        assert_eq!(got[0].comment, "# head\n\n  # inner\n");
        assert_eq!(got[1].comment, "");
    }

    #[test]
    fn last_line_without_newline_is_not_scanned() {
        let got = commented_fields("kind: Kustomization\nnamespace: x");
        assert_eq!(got.len(), 1);
        assert_eq!(FIELD_ORDER[got[0].field].1, "kind");
    }

    #[test]
    fn field_names_need_column_zero_and_a_colon() {
        assert_eq!(matched_field(" resources:\n"), None);
        assert_eq!(matched_field("resources :\n"), None);
        assert_eq!(matched_field("resourcesx:\n"), None);
        assert!(matched_field("OpenApi: {}\n").is_some());
    }
}
