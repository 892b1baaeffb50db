//! The typed arguments of a ConfigMap or Secret generator.

use super::decode::{DecodeError, Field};
use super::GenerateError;
use crate::resource::Behavior;
use fjord_yaml::Node;
use indexmap::IndexMap;

/// Which object a generator makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GeneratorKind {
    /// `configMapGenerator:` / `ConfigMapGenerator`.
    ConfigMap,
    /// `secretGenerator:` / `SecretGenerator`.
    Secret,
}

impl GeneratorKind {
    /// The kind of object generated.
    pub fn object_kind(self) -> &'static str {
        match self {
            GeneratorKind::ConfigMap => "ConfigMap",
            GeneratorKind::Secret => "Secret",
        }
    }

    /// The Go args struct kustomize names in type errors.
    fn args_struct(self) -> &'static str {
        match self {
            GeneratorKind::ConfigMap => "ConfigMapArgs",
            GeneratorKind::Secret => "SecretArgs",
        }
    }

    /// The kustomization field these generators are listed under.
    pub fn kustomization_field(self) -> &'static str {
        match self {
            GeneratorKind::ConfigMap => "configMapGenerator",
            GeneratorKind::Secret => "secretGenerator",
        }
    }
}

/// `options:` of one generator, or the kustomization-wide `generatorOptions:`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GeneratorOptions {
    /// Labels added to the generated object.
    pub labels: IndexMap<String, String>,
    /// Annotations added to the generated object.
    pub annotations: IndexMap<String, String>,
    /// Do not append the content-hash suffix to the name.
    pub disable_name_suffix_hash: bool,
    /// Set `immutable: true` on the object.
    pub immutable: bool,
}

impl GeneratorOptions {
    /// Parses the kustomization's `generatorOptions:` mapping.
    pub fn parse(node: &Node) -> Result<GeneratorOptions, GenerateError> {
        Self::parse_at(node, "generatorOptions").map_err(GenerateError::Decode)
    }

    fn parse_at(node: &Node, at: &str) -> Result<GeneratorOptions, DecodeError> {
        let f = Field::new("GeneratorOptions", at);
        Ok(GeneratorOptions {
            labels: f.string_map(node, "labels")?,
            annotations: f.string_map(node, "annotations")?,
            disable_name_suffix_hash: f.bool(node, "disableNameSuffixHash")?,
            immutable: f.bool(node, "immutable")?,
        })
    }

    /// Combines the kustomization-wide options with a generator's own, as kustomize v5.5
    /// does: labels and annotations of both, the generator's own winning on a shared key;
    /// either one disabling the hash or asking for immutability is enough.
    pub fn merged(global: Option<&GeneratorOptions>, local: Option<&GeneratorOptions>) -> Self {
        let mut out = global.cloned().unwrap_or_default();
        if let Some(l) = local {
            out.labels
                .extend(l.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            out.annotations
                .extend(l.annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
            out.disable_name_suffix_hash |= l.disable_name_suffix_hash;
            out.immutable |= l.immutable;
        }
        out
    }
}

/// One `configMapGenerator:`/`secretGenerator:` entry (or a generator plugin config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratorArgs {
    /// ConfigMap or Secret.
    pub kind: GeneratorKind,
    /// `name:` of the object (before the hash suffix).
    pub name: String,
    /// `namespace:`; empty when unset.
    pub namespace: String,
    /// `behavior:`; anything but `merge`/`replace` behaves as `create`.
    pub behavior: Behavior,
    /// `literals:` (`key=value`).
    pub literals: Vec<String>,
    /// `files:` (`path` or `key=path`).
    pub files: Vec<String>,
    /// `envs:`, followed by the deprecated `env:` when set.
    pub envs: Vec<String>,
    /// `type:` of a Secret (empty means `Opaque`).
    pub secret_type: String,
    /// `options:`.
    pub options: Option<GeneratorOptions>,
}

impl GeneratorArgs {
    /// Parses one entry of `configMapGenerator:` (`kind` ConfigMap) or `secretGenerator:`
    /// (`kind` Secret).
    pub fn parse(node: &Node, kind: GeneratorKind) -> Result<GeneratorArgs, GenerateError> {
        Self::parse_at(node, kind, kind.kustomization_field()).map_err(GenerateError::Decode)
    }

    fn parse_at(node: &Node, kind: GeneratorKind, at: &str) -> Result<GeneratorArgs, DecodeError> {
        let f = Field::new(kind.args_struct(), at);
        let mut envs = f.strings(node, "envs")?;
        let env = f.string(node, "env")?;
        if !env.is_empty() {
            envs.push(env);
        }
        let options = match f.object(node, "options", "types.GeneratorOptions")? {
            Some(o) => Some(GeneratorOptions::parse_at(o, &format!("{at}.options"))?),
            None => None,
        };
        Ok(GeneratorArgs {
            kind,
            name: f.string(node, "name")?,
            namespace: f.string(node, "namespace")?,
            behavior: parse_behavior(&f.string(node, "behavior")?),
            literals: f.strings(node, "literals")?,
            files: f.strings(node, "files")?,
            envs,
            secret_type: match kind {
                GeneratorKind::Secret => f.string(node, "type")?,
                GeneratorKind::ConfigMap => String::new(),
            },
            options,
        })
    }

    /// Parses a `generators:` entry configuring a built-in generator:
    /// `apiVersion: builtin`, `kind: ConfigMapGenerator` or `SecretGenerator`, `metadata`,
    /// and the fields of a generator entry inline. `name:`/`namespace:` default to
    /// `metadata.name`/`metadata.namespace`. kustomize does not apply the kustomization's
    /// `generatorOptions:` to such generators, so callers should pass `None` as the global
    /// options when generating from them.
    pub fn parse_plugin(node: &Node) -> Result<GeneratorArgs, GenerateError> {
        let kind = match node.str_at(&["kind"]) {
            Some("ConfigMapGenerator") => GeneratorKind::ConfigMap,
            Some("SecretGenerator") => GeneratorKind::Secret,
            other => {
                return Err(GenerateError::NotAGenerator {
                    kind: other.unwrap_or("").to_string(),
                })
            }
        };
        let mut args = Self::parse_at(node, kind, "").map_err(GenerateError::Decode)?;
        let meta = Field::new("ObjectMeta", "metadata");
        let md = node.get("metadata").cloned().unwrap_or_else(Node::map);
        if args.name.is_empty() {
            args.name = meta.string(&md, "name").map_err(GenerateError::Decode)?;
        }
        if args.namespace.is_empty() {
            args.namespace = meta
                .string(&md, "namespace")
                .map_err(GenerateError::Decode)?;
        }
        Ok(args)
    }
}

/// kustomize's reading of `behavior:`; unknown values fall back to create.
fn parse_behavior(s: &str) -> Behavior {
    match s {
        "merge" => Behavior::Merge,
        "replace" => Behavior::Replace,
        _ => Behavior::Create,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: Vec<(&str, Node)>) -> Node {
        let mut n = Node::map();
        for (k, v) in pairs {
            n.as_map_mut().unwrap().insert(k.into(), v);
        }
        n
    }

    fn strs(v: &[&str]) -> Node {
        Node::Seq(v.iter().map(|s| Node::string(*s)).collect())
    }

    #[test]
    fn parses_every_field() {
        let n = map(vec![
            ("name", Node::string("cm")),
            ("namespace", Node::string("ns")),
            ("behavior", Node::string("merge")),
            ("literals", strs(&["a=1"])),
            ("files", strs(&["k=f.txt"])),
            ("envs", strs(&["a.env"])),
            ("env", Node::string("b.env")),
            (
                "options",
                map(vec![("disableNameSuffixHash", Node::bool(true))]),
            ),
        ]);
        let a = GeneratorArgs::parse(&n, GeneratorKind::ConfigMap).unwrap();
        assert_eq!(a.name, "cm");
        assert_eq!(a.behavior, Behavior::Merge);
        assert_eq!(a.envs, vec!["a.env", "b.env"]);
        assert!(a.options.unwrap().disable_name_suffix_hash);
    }

    #[test]
    fn option_type_errors_name_the_path() {
        let n = map(vec![(
            "options",
            map(vec![("labels", map(vec![("o", Node::int(1))]))]),
        )]);
        let e = GeneratorArgs::parse(&n, GeneratorKind::ConfigMap).unwrap_err();
        assert_eq!(
            e.to_string(),
            "json: cannot unmarshal number into Go struct field GeneratorOptions.configMapGenerator.options.labels of type string"
        );
    }

    #[test]
    fn local_options_win_over_global_labels() {
        let mut g = GeneratorOptions::default();
        g.labels.insert("both".into(), "global".into());
        g.labels.insert("g".into(), "global".into());
        let mut l = GeneratorOptions {
            immutable: true,
            ..Default::default()
        };
        l.labels.insert("both".into(), "local".into());
        let m = GeneratorOptions::merged(Some(&g), Some(&l));
        assert_eq!(m.labels["both"], "local");
        assert_eq!(m.labels["g"], "global");
        assert!(m.immutable);
        assert!(!m.disable_name_suffix_hash);
    }

    #[test]
    fn plugin_name_field_beats_metadata() {
        let n = map(vec![
            ("apiVersion", Node::string("builtin")),
            ("kind", Node::string("SecretGenerator")),
            (
                "metadata",
                map(vec![
                    ("name", Node::string("m")),
                    ("namespace", Node::string("ns")),
                ]),
            ),
            ("name", Node::string("other")),
            ("type", Node::string("foo")),
        ]);
        let a = GeneratorArgs::parse_plugin(&n).unwrap();
        assert_eq!((a.name.as_str(), a.namespace.as_str()), ("other", "ns"));
        assert_eq!(a.kind, GeneratorKind::Secret);
        assert_eq!(a.secret_type, "foo");
    }
}
