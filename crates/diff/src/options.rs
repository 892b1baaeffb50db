//! Comparison options: Argo CD's `ignoreDifferences` rules (Application spec and argocd-cm
//! `resource.customizations.ignoreDifferences.*`), `resource.compareoptions` and
//! `resource.sensitive.mask.annotations`.

use std::borrow::Cow;
use std::time::Duration;

use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;
use serde_json::Value;

use crate::{jq, ObjectRef};

/// Argo CD's default time limit for one jq path expression (`DefaultJQExecutionTimeout`).
pub const DEFAULT_JQ_TIMEOUT: Duration = Duration::from_secs(1);

/// Whose `/status` is left out of the comparison (`resource.compareoptions`
/// `ignoreResourceStatusField`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusIgnore {
    /// Every object's `/status` is ignored (`all`, Argo CD 3's default).
    #[default]
    All,
    /// Only CustomResourceDefinitions' `/status` (and `/spec/preserveUnknownFields`) (`crd`).
    Crd,
    /// Status is compared (`off`, `false`, `none`).
    None,
}

impl StatusIgnore {
    /// Reads the setting's value as Argo CD does: `""`/`all` → all, `crd` → CRDs,
    /// `off`/`false`/`none` → none, anything else → CRDs.
    pub fn parse(value: &str) -> StatusIgnore {
        match value.trim() {
            "" | "all" => StatusIgnore::All,
            "off" | "false" | "none" => StatusIgnore::None,
            _ => StatusIgnore::Crd,
        }
    }
}

/// A name pattern of an ignore rule: Argo CD's `glob.Match` for group and kind.
#[derive(Debug, Clone)]
enum Pattern {
    Literal(String),
    Glob(GlobMatcher),
}

impl Pattern {
    fn new(text: &str, field: &'static str) -> Result<Pattern, OptionsError> {
        if !text.contains(['*', '?', '[', '{', '\\']) {
            return Ok(Pattern::Literal(text.to_string()));
        }
        GlobBuilder::new(text)
            .literal_separator(false)
            .build()
            .map(|g| Pattern::Glob(g.compile_matcher()))
            .map_err(|e| OptionsError::InvalidGlob {
                field,
                pattern: text.to_string(),
                reason: e.kind().to_string(),
            })
    }

    fn matches(&self, text: &str) -> bool {
        match self {
            Pattern::Literal(l) => l == text,
            Pattern::Glob(g) => g.is_match(text),
        }
    }
}

/// One `ignoreDifferences` entry, as in an Application's `spec.ignoreDifferences`.
///
/// `group` and `kind` are globs (an empty group is the core group), `name` and `namespace` match
/// exactly when set.
#[derive(Debug, Clone)]
pub struct IgnoreRule {
    group: Pattern,
    kind: Pattern,
    /// Exact name, or empty for any.
    pub name: String,
    /// Exact namespace, or empty for any.
    pub namespace: String,
    /// RFC 6901 pointers removed from both sides.
    pub json_pointers: Vec<String>,
    /// jq path expressions removed from both sides with `del(EXPR)`.
    pub jq_path_expressions: Vec<String>,
    /// Managers whose fields never diff.
    pub managed_fields_managers: Vec<String>,
    source: String,
}

/// The serde shape of `ResourceIgnoreDifferences` (Application spec) and `OverrideIgnoreDiff`
/// (argocd-cm, which has no group/kind/name/namespace).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawRule {
    group: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    namespace: Option<String>,
    json_pointers: Option<Vec<String>>,
    jq_path_expressions: Option<Vec<String>>,
    managed_fields_managers: Option<Vec<String>>,
}

impl IgnoreRule {
    /// Parses one `spec.ignoreDifferences` entry of an Application (JSON).
    pub fn from_value(v: &Value) -> Result<IgnoreRule, OptionsError> {
        let raw: RawRule = serde_json::from_value(v.clone()).map_err(|e| OptionsError::Rule {
            source_name: "spec.ignoreDifferences".to_string(),
            reason: e.to_string(),
        })?;
        IgnoreRule::build(raw, "spec.ignoreDifferences".to_string())
    }

    /// Parses an Application's `spec.ignoreDifferences` list (`null` is an empty list).
    pub fn list_from_value(v: &Value) -> Result<Vec<IgnoreRule>, OptionsError> {
        match v {
            Value::Null => Ok(Vec::new()),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    IgnoreRule::from_value(item).map(|mut r| {
                        r.source = format!("spec.ignoreDifferences[{i}]");
                        r
                    })
                })
                .collect(),
            _ => Err(OptionsError::Rule {
                source_name: "spec.ignoreDifferences".to_string(),
                reason: "expected a list".to_string(),
            }),
        }
    }

    fn build(raw: RawRule, source: String) -> Result<IgnoreRule, OptionsError> {
        let jq_path_expressions = raw.jq_path_expressions.unwrap_or_default();
        for expr in &jq_path_expressions {
            jq::check(expr).map_err(|reason| OptionsError::JqExpression {
                source_name: source.clone(),
                expression: expr.clone(),
                reason,
            })?;
        }
        Ok(IgnoreRule {
            group: Pattern::new(raw.group.as_deref().unwrap_or_default(), "group")?,
            kind: Pattern::new(raw.kind.as_deref().unwrap_or_default(), "kind")?,
            name: raw.name.unwrap_or_default(),
            namespace: raw.namespace.unwrap_or_default(),
            json_pointers: raw.json_pointers.unwrap_or_default(),
            jq_path_expressions,
            managed_fields_managers: raw.managed_fields_managers.unwrap_or_default(),
            source,
        })
    }

    /// An argocd-cm override for `group`/`kind` (either may be `*`).
    fn from_override(
        group: &str,
        kind: &str,
        body: &Value,
        source: String,
    ) -> Result<IgnoreRule, OptionsError> {
        let mut raw: RawRule =
            serde_json::from_value(body.clone()).map_err(|e| OptionsError::Rule {
                source_name: source.clone(),
                reason: e.to_string(),
            })?;
        raw.group = Some(group.to_string());
        raw.kind = Some(kind.to_string());
        raw.name = None;
        raw.namespace = None;
        IgnoreRule::build(raw, source)
    }

    /// A rule removing `pointers` from objects of `group`/`kind`.
    fn pointers(group: &str, kind: &str, pointers: &[&str], source: &str) -> IgnoreRule {
        IgnoreRule {
            group: Pattern::Literal(group.to_string()),
            kind: Pattern::Literal(kind.to_string()),
            name: String::new(),
            namespace: String::new(),
            json_pointers: pointers.iter().map(|p| p.to_string()).collect(),
            jq_path_expressions: Vec::new(),
            managed_fields_managers: Vec::new(),
            source: source.to_string(),
        }
    }

    /// Where the rule came from (`spec.ignoreDifferences[2]`, an argocd-cm key, ...).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the rule applies to the object.
    pub fn matches(&self, id: &ObjectRef) -> bool {
        self.group.matches(&id.group)
            && self.kind.matches(&id.kind)
            && (self.name.is_empty() || self.name == id.name)
            && (self.namespace.is_empty() || self.namespace == id.namespace)
    }
}

/// Everything that tunes a comparison.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Ignore rules: the Application's `spec.ignoreDifferences` and argocd-cm overrides.
    pub ignore: Vec<IgnoreRule>,
    /// Whose `/status` is ignored.
    pub status: StatusIgnore,
    /// Ignore `rules` of Roles/ClusterRoles that have an `aggregationRule`.
    pub ignore_aggregated_roles: bool,
    /// Time limit for one jq path expression on one object.
    pub jq_timeout: Duration,
    /// Secret annotations whose values are masked (`resource.sensitive.mask.annotations`).
    pub hide_annotations: Vec<String>,
    /// Keep the `kubectl.kubernetes.io/last-applied-configuration` annotation in the comparison
    /// (masked inside for Secrets); by default it is dropped from both sides.
    pub keep_last_applied: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            ignore: Vec::new(),
            status: StatusIgnore::All,
            ignore_aggregated_roles: false,
            jq_timeout: DEFAULT_JQ_TIMEOUT,
            hide_annotations: Vec::new(),
            keep_last_applied: false,
        }
    }
}

const CUSTOMIZATIONS: &str = "resource.customizations";
const IGNORE_DIFF_PREFIX: &str = "resource.customizations.ignoreDifferences.";
const COMPARE_OPTIONS: &str = "resource.compareoptions";
const MASK_ANNOTATIONS: &str = "resource.sensitive.mask.annotations";
const CRD_GROUP: &str = "apiextensions.k8s.io";
const CRD_KIND: &str = "CustomResourceDefinition";

impl CompareOptions {
    /// Options from Argo CD's `argocd-cm` ConfigMap (the whole object, as JSON): the
    /// `resource.customizations.ignoreDifferences.<group_kind>` and `.all` keys (and the older
    /// combined `resource.customizations` key), `resource.compareoptions` and
    /// `resource.sensitive.mask.annotations`.
    pub fn from_argocd_cm(cm: &Value) -> Result<CompareOptions, OptionsError> {
        let mut opts = CompareOptions::default();
        let Some(data) = cm.get("data").and_then(Value::as_object) else {
            return Ok(opts);
        };
        // Sorted keys keep the rule order stable (Argo CD walks a Go map).
        let mut keys: Vec<&String> = data.keys().collect();
        keys.sort();
        for key in keys {
            let Some(text) = data.get(key).and_then(Value::as_str) else {
                continue;
            };
            if key == COMPARE_OPTIONS {
                let v = yaml_value(key, text)?;
                if let Some(s) = v.get("ignoreResourceStatusField") {
                    opts.status = match s {
                        Value::Bool(false) => StatusIgnore::None,
                        Value::Bool(true) => StatusIgnore::All,
                        Value::String(s) => StatusIgnore::parse(s),
                        _ => StatusIgnore::Crd,
                    };
                }
                if let Some(b) = v.get("ignoreAggregatedRoles").and_then(Value::as_bool) {
                    opts.ignore_aggregated_roles = b;
                }
            } else if key == MASK_ANNOTATIONS {
                opts.hide_annotations = text
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
            } else if let Some(group_kind) = key.strip_prefix(IGNORE_DIFF_PREFIX) {
                let (group, kind) = split_key_group_kind(key, group_kind)?;
                let body = yaml_value(key, text)?;
                opts.ignore.push(IgnoreRule::from_override(
                    &group,
                    &kind,
                    &body,
                    key.clone(),
                )?);
            } else if key == CUSTOMIZATIONS {
                opts.push_combined_customizations(key, text)?;
            }
        }
        Ok(opts)
    }

    /// Adds the rules of an Application's `spec.ignoreDifferences` (given as JSON).
    pub fn add_app_ignore_differences(&mut self, list: &Value) -> Result<(), OptionsError> {
        let mut rules = IgnoreRule::list_from_value(list)?;
        // Argo CD puts the Application's rules before the argocd-cm overrides.
        rules.append(&mut self.ignore);
        self.ignore = rules;
        Ok(())
    }

    /// The old single-key form: a YAML map of `<group>/<kind>` (or `<kind>`) to overrides whose
    /// `ignoreDifferences` is a YAML string or a map.
    fn push_combined_customizations(&mut self, key: &str, text: &str) -> Result<(), OptionsError> {
        let v = yaml_value(key, text)?;
        let Some(map) = v.as_object() else {
            return Ok(());
        };
        for (gk, over) in map {
            let body = match over.get("ignoreDifferences") {
                Some(Value::String(s)) => yaml_value(key, s)?,
                Some(v @ Value::Object(_)) => v.clone(),
                _ => continue,
            };
            let (group, kind) = match gk.split_once('/') {
                Some((g, k)) if !k.contains('/') => (g.to_string(), k.to_string()),
                None => (String::new(), gk.clone()),
                Some(_) => {
                    return Err(OptionsError::OverrideKey {
                        key: format!("{key}: {gk}"),
                    })
                }
            };
            let source = format!("{key}[{gk}]");
            self.ignore
                .push(IgnoreRule::from_override(&group, &kind, &body, source)?);
        }
        Ok(())
    }

    /// The rules that apply to `id`, the implicit status rules included.
    pub(crate) fn matching_rules(&self, id: &ObjectRef) -> Vec<Cow<'_, IgnoreRule>> {
        let mut out: Vec<Cow<'_, IgnoreRule>> = self
            .ignore
            .iter()
            .filter(|r| r.matches(id))
            .map(Cow::Borrowed)
            .collect();
        match self.status {
            StatusIgnore::All => out.push(Cow::Owned(IgnoreRule::pointers(
                &id.group,
                &id.kind,
                &["/status"],
                "resource.compareoptions",
            ))),
            StatusIgnore::Crd if id.group == CRD_GROUP && id.kind == CRD_KIND => {
                out.push(Cow::Owned(IgnoreRule::pointers(
                    CRD_GROUP,
                    CRD_KIND,
                    &["/status", "/spec/preserveUnknownFields"],
                    "resource.compareoptions",
                )))
            }
            _ => {}
        }
        out
    }
}

/// `<group>_<kind>`, `<kind>` or `all` (Argo CD's `convertToOverrideKey`).
fn split_key_group_kind(key: &str, group_kind: &str) -> Result<(String, String), OptionsError> {
    if group_kind == "all" {
        return Ok(("*".to_string(), "*".to_string()));
    }
    let parts: Vec<&str> = group_kind.split('_').collect();
    match parts.as_slice() {
        [g, k] => Ok((g.to_string(), k.to_string())),
        [k] if !k.is_empty() => Ok((String::new(), k.to_string())),
        _ => Err(OptionsError::OverrideKey {
            key: key.to_string(),
        }),
    }
}

fn yaml_value(key: &str, text: &str) -> Result<Value, OptionsError> {
    let node = fjord_yaml::parse_document(text.as_bytes()).map_err(|e| OptionsError::Yaml {
        key: key.to_string(),
        reason: e.to_string(),
    })?;
    fjord_yaml::to_json_value(&node).map_err(|e| OptionsError::Yaml {
        key: key.to_string(),
        reason: e.to_string(),
    })
}

/// Why comparison options could not be built.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    /// An ignore rule does not have the `ResourceIgnoreDifferences` shape.
    #[error("{source_name}: invalid ignoreDifferences entry: {reason}")]
    Rule {
        /// Where the rule came from.
        source_name: String,
        /// What was wrong.
        reason: String,
    },
    /// A group or kind glob does not compile.
    #[error("invalid {field} pattern `{pattern}`: {reason}")]
    InvalidGlob {
        /// `group` or `kind`.
        field: &'static str,
        /// The pattern.
        pattern: String,
        /// What was wrong.
        reason: String,
    },
    /// A jq path expression does not parse or compile as `del(EXPR)`.
    #[error("{source_name}: invalid jqPathExpression `{expression}`: {reason}")]
    JqExpression {
        /// Where the rule came from.
        source_name: String,
        /// The expression.
        expression: String,
        /// What was wrong.
        reason: String,
    },
    /// An argocd-cm key is not `resource.customizations.ignoreDifferences.<group_kind>`.
    #[error("argocd-cm key `{key}`: group kind should be `<group>_<kind>`, `<kind>` or `all`")]
    OverrideKey {
        /// The key.
        key: String,
    },
    /// An argocd-cm value is not valid YAML.
    #[error("argocd-cm key `{key}`: {reason}")]
    Yaml {
        /// The key.
        key: String,
        /// The parser's message.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(group: &str, kind: &str, ns: &str, name: &str) -> ObjectRef {
        ObjectRef::new(group, "v1", kind, ns, name)
    }

    #[test]
    fn app_rule_globs_and_exact_name() {
        let r = IgnoreRule::from_value(&json!({
            "group": "apps", "kind": "*Set", "name": "web",
            "jsonPointers": ["/spec/replicas"]
        }))
        .unwrap();
        assert!(r.matches(&id("apps", "StatefulSet", "x", "web")));
        assert!(r.matches(&id("apps", "ReplicaSet", "y", "web")));
        assert!(!r.matches(&id("apps", "Deployment", "x", "web")));
        assert!(!r.matches(&id("apps", "StatefulSet", "x", "web2")));
        assert!(!r.matches(&id("", "StatefulSet", "x", "web")));
        assert_eq!(r.json_pointers, vec!["/spec/replicas"]);
    }

    #[test]
    fn omitted_group_means_core_group_only() {
        let r = IgnoreRule::from_value(&json!({"kind": "ConfigMap", "namespace": "a"})).unwrap();
        assert!(r.matches(&id("", "ConfigMap", "a", "n")));
        assert!(!r.matches(&id("", "ConfigMap", "b", "n")));
        assert!(!r.matches(&id("example.com", "ConfigMap", "a", "n")));
    }

    #[test]
    fn bad_rule_shapes_are_errors() {
        let e = IgnoreRule::from_value(&json!({"kind": "X", "jsonPointers": "/a"})).unwrap_err();
        assert!(matches!(e, OptionsError::Rule { .. }), "{e}");
        let e = IgnoreRule::from_value(&json!({"kind": "X", "jqPathExpressions": [".a["]}))
            .unwrap_err();
        assert!(e.to_string().contains("`.a[`"), "{e}");
        let e = IgnoreRule::list_from_value(&json!({"kind": "X"})).unwrap_err();
        assert!(e.to_string().contains("expected a list"), "{e}");
    }

    #[test]
    fn argocd_cm_keys() {
        let cm = json!({"data": {
            "resource.customizations.ignoreDifferences.apps_Deployment":
                "jsonPointers:\n- /spec/replicas\n",
            "resource.customizations.ignoreDifferences.Service":
                "jqPathExpressions:\n- .spec.clusterIP\n",
            "resource.customizations.ignoreDifferences.all":
                "managedFieldsManagers:\n- kube-controller-manager\n",
            "resource.customizations.health.apps_Deployment": "return {}",
            "resource.compareoptions": "ignoreAggregatedRoles: true\nignoreResourceStatusField: crd\n",
            "resource.sensitive.mask.annotations": "token, api-key"
        }});
        let o = CompareOptions::from_argocd_cm(&cm).unwrap();
        assert_eq!(o.status, StatusIgnore::Crd);
        assert!(o.ignore_aggregated_roles);
        assert_eq!(o.hide_annotations, vec!["token", "api-key"]);
        assert_eq!(o.ignore.len(), 3);
        let dep = id("apps", "Deployment", "n", "d");
        let rules = o.matching_rules(&dep);
        let pointers: Vec<&String> = rules.iter().flat_map(|r| &r.json_pointers).collect();
        assert_eq!(pointers, vec!["/spec/replicas"]);
        let managers: Vec<&String> = rules
            .iter()
            .flat_map(|r| &r.managed_fields_managers)
            .collect();
        assert_eq!(managers, vec!["kube-controller-manager"]);
        let svc = o.matching_rules(&id("", "Service", "n", "s"));
        assert!(svc
            .iter()
            .any(|r| r.jq_path_expressions == vec![".spec.clusterIP"]));
        // `crd`: a CRD gets the status rules, a Deployment does not.
        let crd = o.matching_rules(&id(CRD_GROUP, CRD_KIND, "", "x"));
        assert!(crd
            .iter()
            .any(|r| r.json_pointers.contains(&"/status".into())));
        assert!(!rules
            .iter()
            .any(|r| r.json_pointers.contains(&"/status".into())));
    }

    #[test]
    fn argocd_cm_bad_key_and_yaml() {
        let cm = json!({"data": {"resource.customizations.ignoreDifferences.a_b_c": "{}"}});
        let e = CompareOptions::from_argocd_cm(&cm).unwrap_err();
        assert!(matches!(e, OptionsError::OverrideKey { .. }), "{e}");
        let cm = json!({"data": {"resource.customizations.ignoreDifferences.all": "a: [1"}});
        let e = CompareOptions::from_argocd_cm(&cm).unwrap_err();
        assert!(matches!(e, OptionsError::Yaml { .. }), "{e}");
    }

    #[test]
    fn combined_customizations_key() {
        let cm = json!({"data": {"resource.customizations":
            "apps/Deployment:\n  ignoreDifferences: |\n    jsonPointers:\n    - /spec/replicas\n"}});
        let o = CompareOptions::from_argocd_cm(&cm).unwrap();
        assert_eq!(o.ignore.len(), 1);
        assert!(o.ignore[0].matches(&id("apps", "Deployment", "a", "b")));
        assert_eq!(o.ignore[0].json_pointers, vec!["/spec/replicas"]);
    }

    #[test]
    fn status_setting_values() {
        assert_eq!(StatusIgnore::parse(""), StatusIgnore::All);
        assert_eq!(StatusIgnore::parse("all"), StatusIgnore::All);
        assert_eq!(StatusIgnore::parse("off"), StatusIgnore::None);
        assert_eq!(StatusIgnore::parse("none"), StatusIgnore::None);
        assert_eq!(StatusIgnore::parse("crd"), StatusIgnore::Crd);
        assert_eq!(StatusIgnore::parse("bogus"), StatusIgnore::Crd);
        let o = CompareOptions::default();
        let rules = o.matching_rules(&id("", "Pod", "a", "b"));
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].json_pointers, vec!["/status"]);
    }

    #[test]
    fn app_rules_come_first() {
        let cm = json!({"data": {"resource.customizations.ignoreDifferences.all": "jsonPointers: [/a]"}});
        let mut o = CompareOptions::from_argocd_cm(&cm).unwrap();
        o.add_app_ignore_differences(&json!([{"kind": "*", "group": "*", "jsonPointers": ["/b"]}]))
            .unwrap();
        assert_eq!(o.ignore[0].json_pointers, vec!["/b"]);
        assert_eq!(o.ignore[0].source(), "spec.ignoreDifferences[0]");
        assert_eq!(o.ignore[1].json_pointers, vec!["/a"]);
    }
}
