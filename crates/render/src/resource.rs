//! A resource during a build, and the ordered set of them (kustomize's `ResMap`).

use fjord_model::ResId;
use fjord_yaml::Node;

/// How a generated ConfigMap/Secret combines with one of the same name (`behavior:`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Behavior {
    /// A new object; an existing one with the same id is an error.
    #[default]
    Create,
    /// Merge data into the existing object.
    Merge,
    /// Replace the existing object.
    Replace,
}

/// What a generator recorded on the object it made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Generated {
    /// The `behavior:` it was generated with.
    pub behavior: Behavior,
    /// Whether the content-hash suffix is appended to its name at the end of the build
    /// (`generatorOptions.disableNameSuffixHash` / `options.disableNameSuffixHash` unset).
    pub hash_suffix: bool,
}

/// One object being built.
#[derive(Clone, Debug)]
pub struct Resource {
    /// The object itself (a mapping).
    pub obj: Node,
    /// Its earlier identities, oldest first: each time a transformer changes its name or
    /// namespace (prefix, suffix, namespace, hash, patch), the id it had before is pushed here.
    /// Name-reference fixing matches referrers against these.
    pub prev_ids: Vec<ResId>,
    /// Set on objects made by a ConfigMap/Secret generator.
    pub generated: Option<Generated>,
    /// Where the object came from: its file's path relative to the top kustomization's
    /// directory (for messages and `buildMetadata: [originAnnotations]`).
    pub origin: String,
    /// The built-in transformers that ran over it, as (kustomization file relative to the top,
    /// transformer kind), for `buildMetadata: [transformerAnnotations]`.
    pub transformations: Vec<(String, &'static str)>,
    /// The name prefixes added to it, innermost kustomization first (kustomize's
    /// `internal.config.kubernetes.io/prefixes`); name-reference fixing compares these.
    pub name_prefixes: Vec<String>,
    /// The name suffixes added to it, innermost first (`internal.config.kubernetes.io/suffixes`).
    pub name_suffixes: Vec<String>,
}

impl Resource {
    /// Wraps an object read from `origin`.
    pub fn new(obj: Node, origin: impl Into<String>) -> Resource {
        Resource {
            obj,
            prev_ids: Vec::new(),
            generated: None,
            origin: origin.into(),
            transformations: Vec::new(),
            name_prefixes: Vec::new(),
            name_suffixes: Vec::new(),
        }
    }

    /// The current identity.
    pub fn id(&self) -> ResId {
        ResId::of(&self.obj)
    }

    /// The identity it had when it was loaded or generated.
    pub fn orig_id(&self) -> ResId {
        self.prev_ids.first().cloned().unwrap_or_else(|| self.id())
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.obj.str_at(&["metadata", "name"]).unwrap_or_default()
    }

    /// `metadata.namespace`, empty when unset.
    pub fn namespace(&self) -> &str {
        self.obj
            .str_at(&["metadata", "namespace"])
            .unwrap_or_default()
    }

    /// `kind`.
    pub fn kind(&self) -> &str {
        self.obj.str_at(&["kind"]).unwrap_or_default()
    }

    /// Records the current id in the history, then sets `metadata.name`.
    pub fn set_name(&mut self, name: &str) {
        let id = self.id();
        if id.name != name {
            self.prev_ids.push(id);
            if let Some(meta) = self.obj.ensure_map_path(&["metadata"]) {
                meta.insert("name".into(), Node::string(name));
            }
        }
    }

    /// Records the current id in the history, then sets `metadata.namespace`.
    pub fn set_namespace(&mut self, ns: &str) {
        let id = self.id();
        if id.namespace != ns {
            self.prev_ids.push(id);
            if let Some(meta) = self.obj.ensure_map_path(&["metadata"]) {
                meta.insert("namespace".into(), Node::string(ns));
            }
        }
    }
}

/// The resources of a build, in the order they were added.
pub type ResMap = Vec<Resource>;
