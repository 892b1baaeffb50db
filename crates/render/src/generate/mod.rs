//! ConfigMap and Secret generators, and the content-hash name suffix.
//!
//! The flow, as in kustomize v5.5: each `configMapGenerator:`/`secretGenerator:` entry is
//! parsed once into [`GeneratorArgs`]; [`generate`] reads its literals, files and env files
//! through the kustomization's [`Loader`] and builds the object; [`add_generated`] adds it to
//! the build's resources honouring `behavior:`; and at the very end of the top-level build
//! [`apply_hash_suffixes`] appends the content hash to the names of the generated objects
//! that asked for it.

mod args;
pub(crate) mod decode;
mod hash;
mod kv;

pub use args::{GeneratorArgs, GeneratorKind, GeneratorOptions};
pub use decode::DecodeError;
pub use hash::content_hash;
pub use kv::{pairs_from_env, parse_file_source, parse_literal, Pair};

use crate::loader::Loader;
use crate::resource::{Behavior, Generated, ResMap, Resource};
use base64::Engine;
use fjord_model::ResId;
use fjord_yaml::{Map, Node};

/// Why generating or adding a ConfigMap/Secret failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum GenerateError {
    /// A generator field has the wrong type.
    #[error(transparent)]
    Decode(DecodeError),
    /// A `generators:` entry is not a built-in ConfigMap/Secret generator.
    #[error("kind {kind:?} is not ConfigMapGenerator or SecretGenerator")]
    NotAGenerator {
        /// The kind found.
        kind: String,
    },
    /// The generator has no name.
    #[error("a configmap must have a name")]
    MissingName,
    /// Reading the key/value sources failed.
    #[error("loading KV pairs: {message}")]
    LoadPairs {
        /// What failed, with the sources named as kustomize names them.
        message: String,
    },
    /// Two sources gave the same key.
    #[error("configmap {name} illegally repeats the key `{key}`")]
    DuplicateKey {
        /// The generator's name.
        name: String,
        /// The repeated key.
        key: String,
    },
    /// `behavior: merge|replace` but nothing to merge with.
    #[error("merging from generator {name}: id {id} does not exist; cannot merge or replace")]
    MergeTargetMissing {
        /// The generator's name.
        name: String,
        /// The id, in Go's `%#v` spelling.
        id: String,
    },
    /// `behavior: create` (or unset) but an object with that id already exists.
    #[error("merging from generator {name}: id {id} exists; behavior must be merge or replace")]
    AlreadyExists {
        /// The generator's name.
        name: String,
        /// The id, in Go's `%#v` spelling.
        id: String,
    },
    /// More than one object could be merged with.
    #[error("merging from generator {name}: found multiple objects {ids} that could be merged with {id}")]
    Ambiguous {
        /// The generator's name.
        name: String,
        /// The candidates.
        ids: String,
        /// The generated object's id.
        id: String,
    },
    /// Only ConfigMaps and Secrets can be hashed.
    #[error("cannot compute a name hash for kind {kind:?}")]
    HashKind {
        /// The kind found.
        kind: String,
    },
}

/// Builds the ConfigMap or Secret for `args`. `global` is the kustomization's
/// `generatorOptions:` (pass `None` for a `generators:` plugin entry). Files are read through
/// `loader`. The result carries [`Generated`] with the behavior and whether it wants the hash.
pub fn generate(
    args: &GeneratorArgs,
    global: Option<&GeneratorOptions>,
    loader: &Loader,
) -> Result<Resource, GenerateError> {
    if args.name.is_empty() {
        return Err(GenerateError::MissingName);
    }
    let pairs = kv::load_pairs(args, loader)?;
    let mut seen = std::collections::HashSet::new();
    for p in &pairs {
        if !seen.insert(p.key.as_str()) {
            return Err(GenerateError::DuplicateKey {
                name: args.name.clone(),
                key: p.key.clone(),
            });
        }
    }
    let opts = GeneratorOptions::merged(global, args.options.as_ref());
    let obj = build_object(args, &opts, &pairs);
    let mut res = Resource::new(obj, args.kind.kustomization_field());
    res.generated = Some(Generated {
        behavior: args.behavior,
        hash_suffix: !opts.disable_name_suffix_hash,
    });
    Ok(res)
}

/// Lays out the object as kustomize's generators do.
fn build_object(args: &GeneratorArgs, opts: &GeneratorOptions, pairs: &[Pair]) -> Node {
    let mut m = Map::new();
    m.insert("apiVersion".into(), Node::string("v1"));
    m.insert("kind".into(), Node::string(args.kind.object_kind()));
    let mut md = Map::new();
    md.insert("name".into(), Node::string(&args.name));
    if !args.namespace.is_empty() {
        md.insert("namespace".into(), Node::string(&args.namespace));
    }
    let string_map = |src: &indexmap::IndexMap<String, String>| {
        Node::Map(
            src.iter()
                .map(|(k, v)| (k.clone(), Node::string(v)))
                .collect(),
        )
    };
    if !opts.labels.is_empty() {
        md.insert("labels".into(), string_map(&opts.labels));
    }
    if !opts.annotations.is_empty() {
        md.insert("annotations".into(), string_map(&opts.annotations));
    }
    m.insert("metadata".into(), Node::Map(md));
    let b64 = base64::engine::general_purpose::STANDARD;
    match args.kind {
        GeneratorKind::ConfigMap => {
            let mut data = Map::new();
            let mut binary = Map::new();
            for p in pairs {
                match std::str::from_utf8(&p.value) {
                    Ok(s) => data.insert(p.key.clone(), Node::string(s)),
                    Err(_) => binary.insert(
                        p.key.clone(),
                        Node::string(wrap_base64(b64.encode(&p.value))),
                    ),
                };
            }
            if !data.is_empty() {
                m.insert("data".into(), Node::Map(data));
            }
            if !binary.is_empty() {
                m.insert("binaryData".into(), Node::Map(binary));
            }
        }
        GeneratorKind::Secret => {
            let ty = if args.secret_type.is_empty() {
                "Opaque"
            } else {
                &args.secret_type
            };
            m.insert("type".into(), Node::string(ty));
            let data: Map = pairs
                .iter()
                .map(|p| {
                    (
                        p.key.clone(),
                        Node::string(wrap_base64(b64.encode(&p.value))),
                    )
                })
                .collect();
            m.insert("data".into(), Node::Map(data));
        }
    }
    if opts.immutable {
        m.insert("immutable".into(), Node::bool(true));
    }
    Node::Map(m)
}

/// kustomize (kyaml) breaks base64 text longer than 70 characters into 70-character lines, each
/// ending in a newline; the hash and the output both see the broken-up text.
fn wrap_base64(encoded: String) -> String {
    const LINE: usize = 70;
    if encoded.len() <= LINE {
        return encoded;
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / LINE + 1);
    for chunk in encoded.as_bytes().chunks(LINE) {
        // base64 text is ASCII, so every chunk boundary is a char boundary.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// kustomize's "effective namespace" comparison: unset and `default` are the same.
fn same_namespace(a: &str, b: &str) -> bool {
    let eff = |s: &str| {
        if s.is_empty() {
            "default".to_string()
        } else {
            s.to_string()
        }
    };
    eff(a) == eff(b)
}

/// Whether `id` equals `want` (GVK, name, effective namespace).
fn id_equals(id: &ResId, want: &ResId) -> bool {
    id.gvk == want.gvk && id.name == want.name && same_namespace(&id.namespace, &want.namespace)
}

/// Go's `%#v` of a kustomize `resid.ResId`, as its merge errors print it.
fn go_resid(id: &ResId) -> String {
    format!(
        "resid.ResId{{Gvk:resid.Gvk{{Group:{:?}, Version:{:?}, Kind:{:?}, isClusterScoped:false}}, Name:{:?}, Namespace:{:?}}}",
        id.gvk.group, id.gvk.version, id.gvk.kind, id.name, id.namespace
    )
}

/// Adds a generated object to `res` according to its behavior: `create` appends it (an
/// object with the same id — current or earlier — is an error); `merge` and `replace` need
/// exactly one such object and take its place, keeping its name, namespace and id history,
/// with labels and annotations merged (the generated ones win); `merge` also merges `data`
/// and `binaryData` the same way. The merged object wants the hash suffix only when both the
/// old and the new one did (kustomize v5.5 behaviour).
pub fn add_generated(res: &mut ResMap, mut new: Resource) -> Result<(), GenerateError> {
    let id = new.id();
    let gen = new.generated.clone().unwrap_or_default();
    let matches: Vec<usize> = res
        .iter()
        .enumerate()
        .filter(|(_, r)| id_equals(&r.id(), &id) || r.prev_ids.iter().any(|p| id_equals(p, &id)))
        .map(|(i, _)| i)
        .collect();
    let name = new.name().to_string();
    match matches.as_slice() {
        [] => match gen.behavior {
            Behavior::Merge | Behavior::Replace => Err(GenerateError::MergeTargetMissing {
                name,
                id: go_resid(&id),
            }),
            Behavior::Create => {
                res.push(new);
                Ok(())
            }
        },
        [i] => {
            let old = &res[*i];
            if gen.behavior == Behavior::Create {
                return Err(GenerateError::AlreadyExists {
                    name,
                    id: go_resid(&id),
                });
            }
            for field in ["labels", "annotations"] {
                merge_string_map(&old.obj, &mut new.obj, &["metadata", field]);
            }
            if gen.behavior == Behavior::Merge {
                merge_string_map(&old.obj, &mut new.obj, &["data"]);
                merge_string_map(&old.obj, &mut new.obj, &["binaryData"]);
            }
            let old_name = old.name().to_string();
            let old_ns = old.namespace().to_string();
            if let Some(md) = new.obj.ensure_map_path(&["metadata"]) {
                md.insert("name".into(), Node::string(old_name));
                if old_ns.is_empty() {
                    md.shift_remove("namespace");
                } else {
                    md.insert("namespace".into(), Node::string(old_ns));
                }
            }
            let old_hash = old.generated.as_ref().is_some_and(|g| g.hash_suffix);
            new.prev_ids = old.prev_ids.clone();
            new.origin = old.origin.clone();
            new.generated = Some(Generated {
                behavior: gen.behavior,
                hash_suffix: gen.hash_suffix && old_hash,
            });
            res[*i] = new;
            Ok(())
        }
        many => {
            let ids: Vec<String> = many.iter().map(|i| res[*i].id().to_string()).collect();
            Err(GenerateError::Ambiguous {
                name,
                ids: format!("[{}]", ids.join(" ")),
                id: id.to_string(),
            })
        }
    }
}

/// Sets the mapping at `path` in `new` to the old one's entries overlaid with the new one's;
/// leaves it absent when both are empty.
fn merge_string_map(old: &Node, new: &mut Node, path: &[&str]) {
    let mut merged = old
        .get_path(path)
        .and_then(Node::as_map)
        .cloned()
        .unwrap_or_default();
    if let Some(n) = new.get_path(path).and_then(Node::as_map) {
        for (k, v) in n {
            merged.insert(k.clone(), v.clone());
        }
    }
    if merged.is_empty() {
        return;
    }
    let (last, parents) = match path.split_last() {
        Some(x) => x,
        None => return,
    };
    if let Some(parent) = new.ensure_map_path(parents) {
        parent.insert((*last).to_string(), Node::Map(merged));
    }
}

/// Appends `-<content hash>` to the name of every generated object that wants it (via
/// [`Resource::set_name`], so the old name stays in its history for name-reference fixing).
/// Runs once, at the end of the top-level build, after all transformers.
pub fn apply_hash_suffixes(res: &mut ResMap) -> Result<(), GenerateError> {
    for r in res.iter_mut() {
        if r.generated.as_ref().is_some_and(|g| g.hash_suffix) {
            let h = content_hash(&r.obj)?;
            let name = format!("{}-{h}", r.name());
            r.set_name(&name);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
