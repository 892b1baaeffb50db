//! Output of a comparison: a `kubectl diff`-style unified diff of the normalised YAML, and the
//! `-o json` record.

use serde::Serialize;
use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use crate::normalize::sorted;
use crate::{DiffStatus, ObjectDiff};

const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const RESET: &str = "\x1b[0m";

/// Lines of context around each change, as `diff -u`.
const CONTEXT: usize = 3;

/// The object as YAML with keys sorted, as `kubectl diff` prints it; pretty JSON if the YAML
/// emitter refuses it.
fn yaml(v: &Value) -> String {
    let v = sorted(v);
    fjord_yaml::emit(&fjord_yaml::from_json_value(&v))
        .unwrap_or_else(|_| serde_json::to_string_pretty(&v).unwrap_or_default() + "\n")
}

/// A unified diff from the live to the desired object, shaped like `kubectl diff`'s:
///
/// ```text
/// diff -u -N live/apps.v1.Deployment.default.web desired/apps.v1.Deployment.default.web
/// --- live/apps.v1.Deployment.default.web
/// +++ desired/apps.v1.Deployment.default.web
/// @@ -10,7 +10,7 @@
/// ```
///
/// `title` replaces the object name (`[<group>.]<version>.<Kind>.<ns>.<name>`) when not empty.
/// An object that is in sync yields an empty string; a missing object diffs against nothing
/// (all `+`), an extra one against nothing the other way (all `-`). With `color`, lines are
/// wrapped in ANSI colours (headers bold, hunk headers cyan, removals red, additions green).
pub fn unified(diff: &ObjectDiff, title: &str, color: bool) -> String {
    if diff.status == DiffStatus::InSync {
        return String::new();
    }
    let old = diff.live.as_ref().map(yaml).unwrap_or_default();
    let new = diff.desired.as_ref().map(yaml).unwrap_or_default();
    let name = if title.is_empty() {
        diff.id.kubectl_name()
    } else {
        title.to_string()
    };
    let text_diff = TextDiff::from_lines(&old, &new);
    let mut out = String::with_capacity(old.len().max(new.len()) / 2 + 256);
    let paint = |out: &mut String, code: &str, line: &str| {
        if color {
            out.push_str(code);
            out.push_str(line);
            out.push_str(RESET);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    };
    let mut header_done = false;
    for hunk in text_diff
        .unified_diff()
        .context_radius(CONTEXT)
        .iter_hunks()
    {
        if !header_done {
            paint(
                &mut out,
                BOLD,
                &format!("diff -u -N live/{name} desired/{name}"),
            );
            paint(&mut out, BOLD, &format!("--- live/{name}"));
            paint(&mut out, BOLD, &format!("+++ desired/{name}"));
            header_done = true;
        }
        paint(&mut out, CYAN, &hunk.header().to_string());
        for change in hunk.iter_changes() {
            let line = change.value().strip_suffix('\n').unwrap_or(change.value());
            match change.tag() {
                ChangeTag::Equal => {
                    out.push(' ');
                    out.push_str(line);
                    out.push('\n');
                }
                ChangeTag::Delete => paint(&mut out, RED, &format!("-{line}")),
                ChangeTag::Insert => paint(&mut out, GREEN, &format!("+{line}")),
            }
        }
    }
    out
}

/// The `-o json` record of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffReport {
    /// API group (`""` for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace (`""` for cluster-scoped objects).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `InSync`, `Modified`, `Missing` or `Extra`.
    pub status: DiffStatus,
    /// The uncoloured [`unified`] diff (empty when in sync).
    pub diff: String,
}

impl DiffReport {
    /// The record of `diff`.
    pub fn new(diff: &ObjectDiff) -> DiffReport {
        DiffReport {
            group: diff.id.group.clone(),
            version: diff.id.version.clone(),
            kind: diff.id.kind.clone(),
            namespace: diff.id.namespace.clone(),
            name: diff.id.name.clone(),
            status: diff.status,
            diff: unified(diff, "", false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ObjectRef;
    use serde_json::json;

    fn cm(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "c1", "namespace": "default"}, "data": data})
    }

    fn object_diff(status: DiffStatus, desired: Option<Value>, live: Option<Value>) -> ObjectDiff {
        let id = ObjectRef::of(desired.as_ref().or(live.as_ref()).unwrap());
        ObjectDiff {
            id,
            status,
            desired,
            live,
            notes: vec![],
        }
    }

    #[test]
    fn modified_matches_kubectl_diff_shape() {
        let d = object_diff(
            DiffStatus::Modified,
            Some(cm(json!({"a": "2"}))),
            Some(cm(json!({"a": "1"}))),
        );
        let text = unified(&d, "", false);
        let want = "\
diff -u -N live/v1.ConfigMap.default.c1 desired/v1.ConfigMap.default.c1
--- live/v1.ConfigMap.default.c1
+++ desired/v1.ConfigMap.default.c1
@@ -1,6 +1,6 @@
 apiVersion: v1
 data:
-  a: \"1\"
+  a: \"2\"
 kind: ConfigMap
 metadata:
   name: c1
";
        assert_eq!(text, want);
    }

    #[test]
    fn missing_and_extra_diff_against_nothing() {
        let d = object_diff(DiffStatus::Missing, Some(cm(json!({"a": "1"}))), None);
        let text = unified(&d, "my-title", false);
        assert!(
            text.starts_with("diff -u -N live/my-title desired/my-title\n"),
            "{text}"
        );
        assert!(
            text.contains("@@ -0,0 +1,7 @@\n+apiVersion: v1\n"),
            "{text}"
        );
        let d = object_diff(DiffStatus::Extra, None, Some(cm(json!({"a": "1"}))));
        let text = unified(&d, "", false);
        assert!(
            text.contains("@@ -1,7 +0,0 @@\n-apiVersion: v1\n"),
            "{text}"
        );
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with('+') && !l.starts_with("+++")),
            "{text}"
        );
    }

    #[test]
    fn in_sync_is_empty_and_color_wraps_lines() {
        let d = object_diff(DiffStatus::InSync, Some(cm(json!({}))), Some(cm(json!({}))));
        assert_eq!(unified(&d, "", true), "");
        let d = object_diff(
            DiffStatus::Modified,
            Some(cm(json!({"a": "2"}))),
            Some(cm(json!({"a": "1"}))),
        );
        let text = unified(&d, "", true);
        assert!(text.contains("\x1b[31m-  a: \"1\"\x1b[0m\n"), "{text:?}");
        assert!(text.contains("\x1b[32m+  a: \"2\"\x1b[0m\n"), "{text:?}");
        assert!(
            text.contains("\x1b[36m@@ -1,6 +1,6 @@\x1b[0m\n"),
            "{text:?}"
        );
    }

    #[test]
    fn cluster_scoped_and_grouped_names() {
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "zz"}});
        assert_eq!(ObjectRef::of(&ns).kubectl_name(), "v1.Namespace..zz");
        let dep = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                         "metadata": {"name": "d1", "namespace": "default"}});
        assert_eq!(
            ObjectRef::of(&dep).kubectl_name(),
            "apps.v1.Deployment.default.d1"
        );
    }

    #[test]
    fn json_report_shape() {
        let d = object_diff(
            DiffStatus::Modified,
            Some(cm(json!({"a": "2"}))),
            Some(cm(json!({"a": "1"}))),
        );
        let v = serde_json::to_value(DiffReport::new(&d)).unwrap();
        assert_eq!(v["group"], "");
        assert_eq!(v["version"], "v1");
        assert_eq!(v["kind"], "ConfigMap");
        assert_eq!(v["namespace"], "default");
        assert_eq!(v["name"], "c1");
        assert_eq!(v["status"], "Modified");
        assert!(v["diff"].as_str().unwrap().contains("+  a: \"2\""));
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            vec![
                "group",
                "version",
                "kind",
                "namespace",
                "name",
                "status",
                "diff"
            ]
        );
    }
}
