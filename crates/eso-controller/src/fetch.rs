//! Fetching an ExternalSecret's data from its store(s): every `data[]` entry and every
//! `dataFrom[]` source (`extract`, `find` by name regexp or tags over a LIST of the metadata
//! path, then `rewrite`), through one [`Session`] per store and one read per path (reads of the
//! same path within one ExternalSecret are made once; the session caches them per interval).
//! Values are picked (`property`), decoded and size-checked here; no value ever enters an error.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::stores::{Session, StoreError};
use crate::Shared;
use fjord_eso::path::{metadata_path, read_path, PathError};
use fjord_eso::spec::{
    DataFromEntry, DataFromSource, ExternalSecretSpec, Find, KvVersion, MetadataPolicy, RemoteRef,
    StoreRef,
};
use fjord_eso::value::{self, ValueError, MAX_VALUE_BYTES};

/// Directory levels `find` walks below its path.
const FIND_MAX_DEPTH: usize = 16;
/// Secrets `find` considers at most (names listed, before filtering).
const FIND_MAX_NAMES: usize = 10_000;

/// A failed fetch; every variant names the spec field it came from.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// Neither the entry nor `spec.secretStoreRef` names a store.
    #[error("{field}: no store: set spec.secretStoreRef or the entry's sourceRef.storeRef")]
    NoStore {
        /// The entry without a store.
        field: String,
    },
    /// The store could not be resolved, logged into or read.
    #[error("{field}")]
    Store {
        /// The store reference or the key being read.
        field: String,
        /// The store's error.
        #[source]
        source: Box<StoreError>,
    },
    /// The key does not make a valid path below the mount.
    #[error("{field}")]
    Path {
        /// `spec.data[i].remoteRef.key` and the like.
        field: String,
        /// Why.
        #[source]
        source: PathError,
    },
    /// A `data[]` secret that does not exist at the provider (an error, not empty data).
    #[error("{field}: secret {key:?} does not exist at the provider")]
    NotFound {
        /// `spec.data[i].remoteRef.key`.
        field: String,
        /// The key as written in the spec (a path, not a value).
        key: String,
    },
    /// Picking, decoding or rewriting a value failed.
    #[error("{field}")]
    Value {
        /// `spec.data[i].remoteRef.property` and the like.
        field: String,
        /// Why.
        #[source]
        source: ValueError,
    },
    /// A value over [`MAX_VALUE_BYTES`].
    #[error("{field}: value of key {key:?} is {size} bytes, over the limit of {MAX_VALUE_BYTES} bytes (1 MiB)")]
    TooLarge {
        /// The entry.
        field: String,
        /// The Secret key.
        key: String,
        /// Its size in bytes.
        size: usize,
    },
    /// Two provider keys became one Secret key under `conversionStrategy` (ESO: "secret name
    /// collision during conversion").
    #[error("{field}: secret key collision during conversion: {key:?}")]
    Collision {
        /// `spec.dataFrom[j].extract.conversionStrategy` and the like.
        field: String,
        /// The converted key (a name, not a value).
        key: String,
    },
    /// `find` without a path on a store without a mount path.
    #[error("{field}: required when the store has no spec.provider.vault.path")]
    FindRoot {
        /// `spec.dataFrom[j].find.path`.
        field: String,
    },
    /// `metadataPolicy: Fetch` or `find.tags` on a KV v1 store.
    #[error("{field}: needs a KV v2 store (version v2)")]
    NeedsV2 {
        /// The entry.
        field: String,
    },
}

impl FetchError {
    /// Whether retrying later may help without a spec change (the store or Vault was
    /// unreachable, sealed, rate-limiting).
    pub(crate) fn is_transient(&self) -> bool {
        matches!(self, FetchError::Store { source, .. } if source.is_transient())
    }
}

/// What one fetch produced.
#[derive(Debug, Default)]
pub(crate) struct Fetched {
    /// Secret key → value bytes, decoded, keys converted and rewritten.
    pub(crate) data: BTreeMap<String, Vec<u8>>,
    /// Indexes of `dataFrom[]` entries whose secret does not exist at the provider.
    pub(crate) missing_data_from: Vec<usize>,
}

/// One ExternalSecret's fetch: sessions per store and reads per path, made once.
struct Fetcher<'a> {
    shared: &'a Shared,
    namespace: &'a str,
    default_store: Option<&'a StoreRef>,
    sessions: HashMap<String, Session>,
    reads: HashMap<String, Option<Value>>,
}

fn store_key(store: &StoreRef) -> String {
    format!("{:?}/{}", store.kind, store.name)
}

fn kind_name(store: &StoreRef) -> &'static str {
    match store.kind {
        fjord_eso::spec::StoreKind::SecretStore => "SecretStore",
        fjord_eso::spec::StoreKind::ClusterSecretStore => "ClusterSecretStore",
    }
}

/// The secret body of a read: `data.data` (KV v2) or `data` (KV v1); `None` for a KV v2 secret
/// whose current version is deleted (`data.data: null`).
fn secret_body(body: &Value, kv: KvVersion) -> Option<&Value> {
    let data = match kv {
        KvVersion::V2 => body.pointer("/data/data"),
        KvVersion::V1 => body.get("data"),
    }?;
    data.is_object().then_some(data)
}

fn check_size(field: &str, key: &str, bytes: &[u8]) -> Result<(), FetchError> {
    if bytes.len() > MAX_VALUE_BYTES {
        return Err(FetchError::TooLarge {
            field: field.to_string(),
            key: key.to_string(),
            size: bytes.len(),
        });
    }
    Ok(())
}

impl<'a> Fetcher<'a> {
    /// The store an entry uses, as `(field naming it, ref)`.
    fn store_for(
        &self,
        own: Option<&'a StoreRef>,
        field: &str,
    ) -> Result<(String, &'a StoreRef), FetchError> {
        match (own, self.default_store) {
            (Some(s), _) => Ok((format!("{field}.sourceRef.storeRef"), s)),
            (None, Some(s)) => Ok(("spec.secretStoreRef".to_string(), s)),
            (None, None) => Err(FetchError::NoStore {
                field: field.to_string(),
            }),
        }
    }

    /// The session of `store`, opened on first use.
    async fn session(&mut self, store: &StoreRef, field: &str) -> Result<&Session, FetchError> {
        let key = store_key(store);
        if !self.sessions.contains_key(&key) {
            let session = self
                .shared
                .stores
                .session(&self.shared.api, store, self.namespace)
                .await
                .map_err(|source| FetchError::Store {
                    field: format!("{field} ({} {})", kind_name(store), store.name),
                    source: Box::new(source),
                })?;
            self.sessions.insert(key.clone(), session);
        }
        Ok(&self.sessions[&key])
    }

    /// The mount path and KV version of `store`.
    async fn layout(
        &mut self,
        store: &StoreRef,
        field: &str,
    ) -> Result<(Option<String>, KvVersion), FetchError> {
        let provider = &self.session(store, field).await?.provider;
        Ok((provider.path.clone(), provider.version))
    }

    /// Reads `path` through the session of `store`, once per ExternalSecret.
    async fn read(
        &mut self,
        store: &StoreRef,
        path: &str,
        field: &str,
    ) -> Result<Option<Value>, FetchError> {
        let key = format!("{}\0{path}", store_key(store));
        if let Some(v) = self.reads.get(&key) {
            return Ok(v.clone());
        }
        let session = self.session(store, field).await?;
        let body = session
            .read(path)
            .await
            .map_err(|source| FetchError::Store {
                field: field.to_string(),
                source: Box::new(source),
            })?;
        self.reads.insert(key, body.clone());
        Ok(body)
    }

    /// The secret map a remoteRef points at, `None` when the provider has no such secret.
    async fn remote_secret(
        &mut self,
        store: &StoreRef,
        store_field: &str,
        remote: &RemoteRef,
        key_field: &str,
    ) -> Result<Option<Value>, FetchError> {
        let (mount, kv) = self.layout(store, store_field).await?;
        let mount = mount.as_deref();
        let path_err = |source| FetchError::Path {
            field: key_field.to_string(),
            source,
        };
        if remote.metadata_policy == MetadataPolicy::Fetch {
            if !matches!(kv, KvVersion::V2) {
                return Err(FetchError::NeedsV2 {
                    field: key_field.to_string(),
                });
            }
            let path = metadata_path(mount, kv, &remote.key).map_err(path_err)?;
            let body = self.read(store, &path, key_field).await?;
            return Ok(body.map(|b| {
                b.pointer("/data/custom_metadata")
                    .filter(|m| m.is_object())
                    .cloned()
                    .unwrap_or_else(|| Value::Object(serde_json::Map::new()))
            }));
        }
        let path =
            read_path(mount, kv, &remote.key, remote.version.as_deref()).map_err(path_err)?;
        let Some(body) = self.read(store, &path, key_field).await? else {
            return Ok(None);
        };
        Ok(secret_body(&body, kv).cloned())
    }

    /// `data[i]`: one key.
    async fn data_entry(
        &mut self,
        i: usize,
        entry: &'a fjord_eso::spec::DataEntry,
        out: &mut BTreeMap<String, Vec<u8>>,
    ) -> Result<(), FetchError> {
        let field = format!("spec.data[{i}]");
        let (store_field, store) = self.store_for(entry.store_ref.as_ref(), &field)?;
        let remote = &entry.remote_ref;
        let key_field = format!("{field}.remoteRef.key");
        let secret = self
            .remote_secret(store, &store_field, remote, &key_field)
            .await?
            .ok_or_else(|| FetchError::NotFound {
                field: key_field.clone(),
                key: remote.key.clone(),
            })?;
        let prop_field = format!("{field}.remoteRef.property");
        let bytes = value::get_property(&secret, remote.property.as_deref()).map_err(|source| {
            FetchError::Value {
                field: prop_field.clone(),
                source,
            }
        })?;
        let bytes = value::decode(bytes, remote.decoding).map_err(|source| FetchError::Value {
            field: format!("{field}.remoteRef.decodingStrategy"),
            source,
        })?;
        check_size(&field, &entry.secret_key, &bytes)?;
        out.insert(entry.secret_key.clone(), bytes);
        Ok(())
    }

    /// `dataFrom[j].extract`: every key of one secret; `None` when it does not exist.
    async fn extract(
        &mut self,
        field: &str,
        store: &StoreRef,
        store_field: &str,
        remote: &RemoteRef,
    ) -> Result<Option<BTreeMap<String, Vec<u8>>>, FetchError> {
        let key_field = format!("{field}.extract.key");
        let Some(secret) = self
            .remote_secret(store, store_field, remote, &key_field)
            .await?
        else {
            return Ok(None);
        };
        let all = value::all_properties(&secret).map_err(|source| FetchError::Value {
            field: key_field.clone(),
            source,
        })?;
        Ok(Some(all))
    }

    /// The names below `dir` (a LIST path), recursing into sub-directories.
    async fn list_names(
        &mut self,
        store: &StoreRef,
        list_path: &str,
        prefix: &str,
        field: &str,
    ) -> Result<Vec<String>, FetchError> {
        let mut names = Vec::new();
        let mut dirs = vec![(String::new(), 0usize)];
        while let Some((dir, depth)) = dirs.pop() {
            let path = format!("{}/{dir}", list_path.trim_end_matches('/'));
            let path = path.trim_end_matches('/').to_string();
            let session = self.session(store, field).await?;
            let keys = session
                .list(&path)
                .await
                .map_err(|source| FetchError::Store {
                    field: field.to_string(),
                    source: Box::new(source),
                })?;
            for key in keys {
                if let Some(sub) = key.strip_suffix('/') {
                    if depth < FIND_MAX_DEPTH {
                        dirs.push((format!("{dir}{sub}/"), depth + 1));
                    }
                } else if names.len() < FIND_MAX_NAMES {
                    names.push(format!("{prefix}{dir}{key}"));
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// `dataFrom[j].find`: one key per matching secret (its path, converted), valued with the
    /// whole secret as JSON.
    async fn find(
        &mut self,
        field: &str,
        store: &StoreRef,
        store_field: &str,
        find: &Find,
    ) -> Result<BTreeMap<String, Vec<u8>>, FetchError> {
        let (mount, kv) = self.layout(store, store_field).await?;
        let mount = mount.as_deref();
        let path_field = format!("{field}.find.path");
        if !find.tags.is_empty() && !matches!(kv, KvVersion::V2) {
            return Err(FetchError::NeedsV2 {
                field: format!("{field}.find.tags"),
            });
        }
        let (list_path, prefix) = match (find.path.as_deref(), mount) {
            (Some(p), _) => (
                metadata_path(mount, kv, p).map_err(|source| FetchError::Path {
                    field: path_field.clone(),
                    source,
                })?,
                format!("{}/", p.trim_end_matches('/')),
            ),
            (None, Some(m)) => match kv {
                KvVersion::V2 => (
                    format!("{}/metadata", m.trim_end_matches('/')),
                    String::new(),
                ),
                KvVersion::V1 => (m.trim_end_matches('/').to_string(), String::new()),
            },
            (None, None) => return Err(FetchError::FindRoot { field: path_field }),
        };
        let names = self
            .list_names(store, &list_path, &prefix, &path_field)
            .await?;
        let mut out = BTreeMap::new();
        for name in names {
            let short = name.strip_prefix(&prefix).unwrap_or(&name);
            if find
                .name_regexp
                .as_ref()
                .is_some_and(|re| !re.is_match(&name) && !re.is_match(short))
            {
                continue;
            }
            if !self
                .tags_match(store, store_field, find, &name, field)
                .await?
            {
                continue;
            }
            let remote = RemoteRef {
                key: name.clone(),
                property: None,
                version: None,
                decoding: find.decoding,
                conversion: find.conversion,
                metadata_policy: MetadataPolicy::None,
            };
            let key_field = format!("{field}.find");
            let Some(secret) = self
                .remote_secret(store, store_field, &remote, &key_field)
                .await?
            else {
                continue;
            };
            let bytes = value::get_property(&secret, None).map_err(|source| FetchError::Value {
                field: key_field.clone(),
                source,
            })?;
            out.insert(name, bytes);
        }
        Ok(out)
    }

    /// Whether the secret `name` carries every `find.tags` entry in its custom metadata.
    async fn tags_match(
        &mut self,
        store: &StoreRef,
        store_field: &str,
        find: &Find,
        name: &str,
        field: &str,
    ) -> Result<bool, FetchError> {
        if find.tags.is_empty() {
            return Ok(true);
        }
        let remote = RemoteRef {
            key: name.to_string(),
            property: None,
            version: None,
            decoding: find.decoding,
            conversion: find.conversion,
            metadata_policy: MetadataPolicy::Fetch,
        };
        let meta = self
            .remote_secret(store, store_field, &remote, &format!("{field}.find.tags"))
            .await?;
        Ok(meta.is_some_and(|m| {
            find.tags
                .iter()
                .all(|(k, v)| m.get(k).and_then(Value::as_str) == Some(v.as_str()))
        }))
    }

    /// `dataFrom[j]`: the source, then the rewrites; `None` when the secret does not exist.
    async fn data_from_entry(
        &mut self,
        j: usize,
        entry: &'a DataFromEntry,
    ) -> Result<Option<BTreeMap<String, Vec<u8>>>, FetchError> {
        let field = format!("spec.dataFrom[{j}]");
        let (store_field, store) = self.store_for(entry.store_ref.as_ref(), &field)?;
        let (map, source, conversion, decoding) = match &entry.source {
            DataFromSource::Extract(remote) => {
                match self.extract(&field, store, &store_field, remote).await? {
                    Some(m) => (m, "extract", remote.conversion, remote.decoding),
                    None => return Ok(None),
                }
            }
            DataFromSource::Find(find) => {
                let m = self.find(&field, store, &store_field, find).await?;
                (m, "find", find.conversion, find.decoding)
            }
        };
        // ESO's order: rewrite the provider's keys, or (only without rewrites) convert them;
        // then decode the values.
        let map = if entry.rewrite.is_empty() {
            convert_keys(
                map,
                conversion,
                &format!("{field}.{source}.conversionStrategy"),
            )?
        } else {
            value::rewrite_keys(map, &entry.rewrite).map_err(|source| FetchError::Value {
                field: format!("{field}.rewrite"),
                source,
            })?
        };
        let map = value::decode_map(map, decoding).map_err(|e| FetchError::Value {
            field: format!("{field}.{source}.decodingStrategy"),
            source: e,
        })?;
        for (k, v) in &map {
            check_size(&field, k, v)?;
        }
        Ok(Some(map))
    }
}

/// `conversionStrategy` applied to every key; two keys becoming one is an error.
fn convert_keys(
    map: BTreeMap<String, Vec<u8>>,
    strategy: fjord_eso::spec::ConversionStrategy,
    field: &str,
) -> Result<BTreeMap<String, Vec<u8>>, FetchError> {
    let mut out = BTreeMap::new();
    for (k, v) in map {
        let key = value::convert_key(&k, strategy);
        if out.insert(key.clone(), v).is_some() {
            let field = field.to_string();
            return Err(FetchError::Collision { field, key });
        }
    }
    Ok(out)
}

/// Fetches everything `spec` asks for, for an ExternalSecret in `namespace`. `dataFrom` entries
/// come first and `data[]` entries override their keys, as ESO merges them.
pub(crate) async fn fetch(
    shared: &Shared,
    namespace: &str,
    spec: &ExternalSecretSpec,
) -> Result<Fetched, FetchError> {
    let mut f = Fetcher {
        shared,
        namespace,
        default_store: spec.store_ref.as_ref(),
        sessions: HashMap::new(),
        reads: HashMap::new(),
    };
    let mut out = Fetched::default();
    for (j, entry) in spec.data_from.iter().enumerate() {
        match f.data_from_entry(j, entry).await? {
            Some(map) => out.data.extend(map),
            None => out.missing_data_from.push(j),
        }
    }
    for (i, entry) in spec.data.iter().enumerate() {
        f.data_entry(i, entry, &mut out.data).await?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_body_takes_data_data_for_v2_and_data_for_v1() {
        let v2 = json!({"data": {"data": {"a": "1"}, "metadata": {"version": 1}}});
        assert_eq!(secret_body(&v2, KvVersion::V2), Some(&json!({"a": "1"})));
        let v1 = json!({"data": {"a": "1"}});
        assert_eq!(secret_body(&v1, KvVersion::V1), Some(&json!({"a": "1"})));
        // A soft-deleted KV v2 version has data.data null: no secret.
        let deleted = json!({"data": {"data": null, "metadata": {"deletion_time": "x"}}});
        assert_eq!(secret_body(&deleted, KvVersion::V2), None);
        assert_eq!(secret_body(&json!({}), KvVersion::V1), None);
    }

    #[test]
    fn size_limit_is_one_mib_inclusive() {
        assert!(check_size("spec.data[0]", "k", &vec![b'x'; MAX_VALUE_BYTES]).is_ok());
        let err = check_size("spec.data[0]", "k", &vec![b'x'; MAX_VALUE_BYTES + 1]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("spec.data[0]: value of key \"k\""),
            "{text}"
        );
        assert!(text.contains("1048577 bytes"), "{text}");
        assert!(!err.is_transient());
    }

    #[test]
    fn not_found_names_the_key_field() {
        let err = FetchError::NotFound {
            field: "spec.data[1].remoteRef.key".into(),
            key: "secret/data/x".into(),
        };
        assert_eq!(
            err.to_string(),
            "spec.data[1].remoteRef.key: secret \"secret/data/x\" does not exist at the provider"
        );
    }
}
