//! Custom health checks configured in Argo CD's `argocd-cm` ConfigMap.
//!
//! Argo CD (`util/settings/settings.go`) reads them from two places and merges them:
//!
//! * the `resource.customizations` key: a YAML map from `group/Kind` (wildcards allowed, e.g.
//!   `"*.aws.crossplane.io/*"`) to `{health.lua: <script>, health.lua.useOpenLibs: <bool>, ...}`;
//! * split keys `resource.customizations.<type>.<group>_<Kind>` (or `.<Kind>` for the core group,
//!   `.all` for `*/*`, i.e. every kind outside the core group), applied afterwards so they win: `health` holds the script,
//!   `useOpenLibs` a Go boolean; `actions`, `ignoreDifferences`, `ignoreResourceUpdates` and
//!   `knownTypeFields` are accepted and ignored here; any other type is an error, as in Argo CD.
//!
//! A script is looked up by the object's `group/Kind` (`Kind` alone for the core group): the exact
//! key first, then the first wildcard key (in key order) whose glob matches.

use std::collections::BTreeMap;
use std::time::Duration;

use globset::{Glob, GlobMatcher};
use serde_json::Value;

use crate::lua::{self, HealthScript};
use crate::object::{self, json_type};
use crate::status::{Health, HealthStatus};

/// The ConfigMap key holding the YAML block of resource customizations.
pub const RESOURCE_CUSTOMIZATIONS_KEY: &str = "resource.customizations";

/// How long a health script may run before it is stopped (Argo CD's limit).
pub const DEFAULT_SCRIPT_TIMEOUT: Duration = Duration::from_secs(1);

/// Reading the health customizations of an `argocd-cm` ConfigMap failed.
#[derive(Debug, thiserror::Error)]
pub enum OverridesError {
    /// `data` is not a map.
    #[error("argocd-cm: data must be a map of strings, found {found}")]
    DataNotMap {
        /// JSON type found.
        found: &'static str,
    },
    /// A `data` value is not a string.
    #[error("argocd-cm: data key {key:?} must be a string, found {found}")]
    ValueNotString {
        /// The key.
        key: String,
        /// JSON type found.
        found: &'static str,
    },
    /// The `resource.customizations` YAML does not parse.
    #[error("argocd-cm: cannot parse {RESOURCE_CUSTOMIZATIONS_KEY}")]
    BlockYaml {
        /// The parser's error.
        source: YamlError,
    },
    /// The `resource.customizations` YAML is not a map of group/kind to customization.
    #[error("argocd-cm: {RESOURCE_CUSTOMIZATIONS_KEY}: {detail}")]
    BlockShape {
        /// What is wrong, naming the entry.
        detail: String,
    },
    /// A split key's `<group_kind>` has more than one `_` or is empty (Argo CD's message).
    #[error("argocd-cm: key {key:?}: group kind should be in format `resource.customizations.<type>.<group_kind>` or resource.customizations.<type>.<kind>`, got group kind: '{group_kind}'")]
    GroupKind {
        /// The ConfigMap key.
        key: String,
        /// Its group-kind part.
        group_kind: String,
    },
    /// A `useOpenLibs` value is not a Go boolean (`true`, `false`, `1`, `0`, `t`, `f`, ...).
    #[error("argocd-cm: key {key:?}: strconv.ParseBool: parsing {value:?}: invalid syntax")]
    UseOpenLibs {
        /// The ConfigMap key.
        key: String,
        /// Its value.
        value: String,
    },
    /// A split key names a customization type Argo CD does not know.
    #[error("argocd-cm: key {key:?}: resource customization type {kind} not supported")]
    UnknownType {
        /// The ConfigMap key.
        key: String,
        /// The unknown type.
        kind: String,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    script: HealthScript,
    /// Compiled glob for wildcard keys; `None` for plain keys and for invalid patterns (which,
    /// as in Argo CD, never match).
    glob: Option<GlobMatcher>,
}

/// The custom health checks in force, keyed by `group/Kind`, plus the script time limit.
#[derive(Debug, Clone)]
pub struct HealthOverrides {
    entries: BTreeMap<String, Entry>,
    timeout: Duration,
}

impl Default for HealthOverrides {
    fn default() -> Self {
        HealthOverrides {
            entries: BTreeMap::new(),
            timeout: DEFAULT_SCRIPT_TIMEOUT,
        }
    }
}

fn is_wildcard(key: &str) -> bool {
    key.contains(['*', '?', '[', '{'])
}

fn compile(key: &str) -> Option<GlobMatcher> {
    if !is_wildcard(key) {
        return None;
    }
    Glob::new(key).ok().map(|g| g.compile_matcher())
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Argo CD's `convertToOverrideKey`: `cert-manager.io_Certificate` → `cert-manager.io/Certificate`.
fn override_key(config_key: &str, group_kind: &str) -> Result<String, OverridesError> {
    let parts: Vec<&str> = group_kind.split('_').collect();
    match parts.as_slice() {
        [group, kind] => Ok(format!("{group}/{kind}")),
        [kind] if !kind.is_empty() => Ok((*kind).to_string()),
        _ => Err(OverridesError::GroupKind {
            key: config_key.to_string(),
            group_kind: group_kind.to_string(),
        }),
    }
}

impl HealthOverrides {
    /// No custom health checks; scripts time out after [`DEFAULT_SCRIPT_TIMEOUT`].
    pub fn new() -> HealthOverrides {
        HealthOverrides::default()
    }

    /// Reads the health customizations of an `argocd-cm` ConfigMap (the whole object as JSON).
    pub fn from_argocd_cm(config_map: &Value) -> Result<HealthOverrides, OverridesError> {
        let mut out = HealthOverrides::new();
        let data = match config_map.get("data") {
            None | Some(Value::Null) => return Ok(out),
            Some(Value::Object(map)) => map,
            Some(other) => {
                return Err(OverridesError::DataNotMap {
                    found: json_type(other),
                })
            }
        };
        let text = |key: &str, v: &Value| -> Result<String, OverridesError> {
            match v {
                Value::String(s) => Ok(s.clone()),
                Value::Bool(b) => Ok(b.to_string()),
                other => Err(OverridesError::ValueNotString {
                    key: key.to_string(),
                    found: json_type(other),
                }),
            }
        };
        if let Some(block) = data.get(RESOURCE_CUSTOMIZATIONS_KEY) {
            let block = text(RESOURCE_CUSTOMIZATIONS_KEY, block)?;
            if !block.is_empty() {
                out.read_block(&block)?;
            }
        }
        for (key, value) in data {
            if !key.starts_with(RESOURCE_CUSTOMIZATIONS_KEY) {
                continue;
            }
            let parts: Vec<&str> = key.splitn(4, '.').collect();
            let [_, _, kind, group_kind] = parts.as_slice() else {
                continue;
            };
            let mut gk = override_key(key, group_kind)?;
            if gk == "all" {
                gk = "*/*".to_string();
            }
            let value = text(key, value)?;
            match *kind {
                "health" => out.entry(&gk).script.lua = value,
                "useOpenLibs" => {
                    let flag =
                        parse_go_bool(&value).ok_or_else(|| OverridesError::UseOpenLibs {
                            key: key.clone(),
                            value: value.clone(),
                        })?;
                    out.entry(&gk).script.use_open_libs = flag;
                }
                "actions" | "ignoreDifferences" | "ignoreResourceUpdates" | "knownTypeFields" => {}
                other => {
                    return Err(OverridesError::UnknownType {
                        key: key.clone(),
                        kind: other.to_string(),
                    })
                }
            }
        }
        Ok(out)
    }

    fn read_block(&mut self, block: &str) -> Result<(), OverridesError> {
        let parsed = yaml_value(block).map_err(|source| OverridesError::BlockYaml { source })?;
        let map = match parsed {
            Value::Null => return Ok(()),
            Value::Object(map) => map,
            other => {
                return Err(OverridesError::BlockShape {
                    detail: format!(
                        "expected a map of group/kind keys, found {}",
                        json_type(&other)
                    ),
                })
            }
        };
        for (gk, custom) in map {
            let fields = match custom {
                Value::Null => continue,
                Value::Object(fields) => fields,
                other => {
                    return Err(OverridesError::BlockShape {
                        detail: format!(
                            "entry {gk:?}: expected a map, found {}",
                            json_type(&other)
                        ),
                    })
                }
            };
            let lua = match fields.get("health.lua") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => {
                    return Err(OverridesError::BlockShape {
                        detail: format!(
                            "entry {gk:?}: health.lua must be a string, found {}",
                            json_type(other)
                        ),
                    })
                }
            };
            let use_open_libs = match fields.get("health.lua.useOpenLibs") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(OverridesError::BlockShape {
                        detail: format!(
                            "entry {gk:?}: health.lua.useOpenLibs must be a boolean, found {}",
                            json_type(other)
                        ),
                    })
                }
            };
            self.insert(gk, HealthScript { lua, use_open_libs });
        }
        Ok(())
    }

    fn entry(&mut self, key: &str) -> &mut Entry {
        self.entries
            .entry(key.to_string())
            .or_insert_with(|| Entry {
                script: HealthScript::default(),
                glob: compile(key),
            })
    }

    /// Sets the health check for `key` (`group/Kind`, `Kind` for the core group, or a glob such
    /// as `*.example.com/*`), replacing any previous one.
    pub fn insert(&mut self, key: impl Into<String>, script: HealthScript) {
        let key = key.into();
        let glob = compile(&key);
        self.entries.insert(key, Entry { script, glob });
    }

    /// The same overrides with a different script time limit.
    pub fn with_timeout(mut self, timeout: Duration) -> HealthOverrides {
        self.timeout = timeout;
        self
    }

    /// The script time limit.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether no key has a health script.
    pub fn is_empty(&self) -> bool {
        self.entries.values().all(|e| e.script.lua.is_empty())
    }

    /// The keys that have a health script, in lookup order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(|(_, e)| !e.script.lua.is_empty())
            .map(|(k, _)| k.as_str())
    }

    /// The health script for an API group and kind: the exact `group/Kind` key, else the first
    /// matching wildcard key. Keys without a script are skipped.
    pub fn script_for(&self, group: &str, kind: &str) -> Option<&HealthScript> {
        let key = config_map_key(group, kind);
        if let Some(e) = self.entries.get(&key) {
            if !e.script.lua.is_empty() {
                return Some(&e.script);
            }
        }
        self.entries
            .values()
            .filter(|e| !e.script.lua.is_empty())
            .find(|e| e.glob.as_ref().is_some_and(|g| g.is_match(&key)))
            .map(|e| &e.script)
    }

    /// Runs the custom health check for `obj`, if one is configured. A script that fails, times
    /// out or returns something unusable gives `Unknown` with the reason as message.
    pub fn health(&self, obj: &Value) -> Option<Health> {
        let (group, _) = object::group_version(obj);
        let script = self.script_for(group, object::kind(obj))?;
        Some(
            lua::run_health_script(obj, script, self.timeout)
                .unwrap_or_else(|e| Health::new(HealthStatus::Unknown, e.to_string())),
        )
    }
}

/// Argo CD's `GetConfigMapKey`: `group/Kind`, or `Kind` for the core group.
pub fn config_map_key(group: &str, kind: &str) -> String {
    if group.is_empty() {
        kind.to_string()
    } else {
        format!("{group}/{kind}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "argocd-cm", "namespace": "argocd"}, "data": data})
    }

    #[test]
    fn reads_split_keys_and_use_open_libs() {
        let o = HealthOverrides::from_argocd_cm(&cm(json!({
            "resource.customizations.health.cert-manager.io_Certificate": "return {status='Healthy'}",
            "resource.customizations.useOpenLibs.cert-manager.io_Certificate": "true",
            "resource.customizations.health.ConfigMap": "return {status='Degraded'}",
            "resource.customizations.ignoreDifferences.apps_Deployment": "jsonPointers: [/spec]",
            "url": "https://argo.example.com"
        })));
        let o = o.unwrap_or_default();
        let cert = o.script_for("cert-manager.io", "Certificate").cloned();
        assert_eq!(
            cert,
            Some(HealthScript {
                lua: "return {status='Healthy'}".into(),
                use_open_libs: true
            })
        );
        assert!(o
            .script_for("", "ConfigMap")
            .is_some_and(|s| !s.use_open_libs));
        assert!(o.script_for("apps", "Deployment").is_none());
        assert_eq!(
            o.keys().collect::<Vec<_>>(),
            vec!["ConfigMap", "cert-manager.io/Certificate"]
        );
    }

    #[test]
    fn reads_the_yaml_block_with_wildcards_and_split_keys_win() {
        let block = "\
\"*.aws.crossplane.io/*\":
  health.lua: |
    return {status = 'Suspended'}
ec2.aws.crossplane.io/Instance:
  health.lua: |
    return {status = 'Healthy'}
  health.lua.useOpenLibs: true
example.com/Widget:
  health.lua: block
  ignoreDifferences: |
    jsonPointers: [/x]
";
        let o = HealthOverrides::from_argocd_cm(&cm(json!({
            "resource.customizations": block,
            "resource.customizations.health.example.com_Widget": "split",
        })))
        .unwrap_or_default();
        assert!(o
            .script_for("ec2.aws.crossplane.io", "Instance")
            .is_some_and(|s| s.use_open_libs && s.lua.contains("Healthy")));
        assert!(o
            .script_for("rds.aws.crossplane.io", "DBInstance")
            .is_some_and(|s| s.lua.contains("Suspended")));
        assert!(o.script_for("aws.crossplane.io", "X").is_none());
        assert_eq!(
            o.script_for("example.com", "Widget")
                .map(|s| s.lua.as_str()),
            Some("split")
        );
    }

    #[test]
    fn all_key_becomes_a_global_wildcard() {
        let o = HealthOverrides::from_argocd_cm(&cm(json!({
            "resource.customizations.health.all": "return {status='Healthy'}",
        })))
        .unwrap_or_default();
        assert!(o.script_for("apps", "Deployment").is_some());
        assert!(o.script_for("example.com", "Widget").is_some());
        // Core kinds are keyed `Kind` alone, which `*/*` does not match (as in Argo CD).
        assert!(o.script_for("", "Pod").is_none());
    }

    #[test]
    fn bad_config_is_an_error_naming_the_key() {
        let err = HealthOverrides::from_argocd_cm(&cm(json!({
            "resource.customizations.health.a_b_c": "x"
        })))
        .err()
        .map(|e| fjord_model::chain(&e))
        .unwrap_or_default();
        assert!(
            err.contains("resource.customizations.health.a_b_c") && err.contains("'a_b_c'"),
            "{err}"
        );

        let err = HealthOverrides::from_argocd_cm(&cm(json!({
            "resource.customizations.useOpenLibs.Pod": "yes"
        })))
        .err()
        .map(|e| fjord_model::chain(&e))
        .unwrap_or_default();
        assert!(err.contains("parsing \"yes\""), "{err}");

        let err = HealthOverrides::from_argocd_cm(&cm(json!({
            "resource.customizations.healthz.Pod": "x"
        })))
        .err()
        .map(|e| fjord_model::chain(&e))
        .unwrap_or_default();
        assert!(
            err.contains("resource customization type healthz not supported"),
            "{err}"
        );

        assert!(HealthOverrides::from_argocd_cm(&cm(json!({
            "resource.customizations": "- not\n- a map\n"
        })))
        .is_err());
        assert!(HealthOverrides::from_argocd_cm(&json!({"data": ["x"]})).is_err());
    }

    #[test]
    fn missing_data_means_no_overrides() {
        let o = HealthOverrides::from_argocd_cm(&json!({"kind": "ConfigMap"})).unwrap_or_default();
        assert!(o.is_empty());
        assert_eq!(o.timeout(), DEFAULT_SCRIPT_TIMEOUT);
    }

    #[test]
    fn go_bool_and_override_keys() {
        assert_eq!(parse_go_bool("T"), Some(true));
        assert_eq!(parse_go_bool("0"), Some(false));
        assert_eq!(parse_go_bool("yes"), None);
        assert_eq!(
            override_key("k", "apps_Deployment").ok(),
            Some("apps/Deployment".into())
        );
        assert_eq!(override_key("k", "Pod").ok(), Some("Pod".into()));
        assert!(override_key("k", "").is_err());
        assert_eq!(config_map_key("", "Pod"), "Pod");
        assert_eq!(config_map_key("apps", "Deployment"), "apps/Deployment");
    }
}

/// Why a YAML block could not be read.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// Not valid YAML.
    #[error(transparent)]
    Parse(#[from] fjord_yaml::ParseError),
    /// Valid YAML with a value JSON cannot hold (e.g. `.inf`).
    #[error(transparent)]
    Convert(#[from] fjord_yaml::EmitError),
}

/// Parses one YAML document into JSON, as Argo CD reads argocd-cm values.
pub fn yaml_value(text: &str) -> Result<Value, YamlError> {
    let node = fjord_yaml::parse_document(text.as_bytes())?;
    Ok(fjord_yaml::to_json_value(&node)?)
}
