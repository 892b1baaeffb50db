//! External Secrets in fjord, the pure part (no I/O).
//!
//! - [`spec`]: the `external-secrets.io` objects parsed and validated into typed specs;
//! - [`path`]: ESO's rules turning a `remoteRef.key` into a Vault/OpenBao request path;
//! - [`value`]: picking a `property` out of a secret, decoding and converting values;
//! - [`template`]: the v2 template engine (a Go `text/template` subset);
//! - [`target`]: the Secret ESO writes (labels, annotations, hashes, owner) and the status.
//!
//! ```
//! use std::collections::BTreeMap;
//! use fjord_eso::{path, spec, target, value};
//! use serde_json::json;
//!
//! let es = json!({
//!     "apiVersion": "external-secrets.io/v1beta1",
//!     "kind": "ExternalSecret",
//!     "metadata": {"name": "db-creds", "namespace": "production", "uid": "1234"},
//!     "spec": {
//!         "refreshInterval": "1h",
//!         "secretStoreRef": {"name": "vault-backend", "kind": "ClusterSecretStore"},
//!         "target": {"name": "db-creds-k8s"},
//!         "data": [{"secretKey": "username",
//!                   "remoteRef": {"key": "secret/data/production/db", "property": "username"}}]
//!     }
//! });
//! let parsed = spec::parse_external_secret(&es).unwrap();
//! let entry = &parsed.data[0];
//!
//! // The Vault request: GET /v1/secret/data/production/db (store path "secret", KV v2).
//! let p = path::read_path(Some("secret"), spec::KvVersion::V2, &entry.remote_ref.key, None).unwrap();
//! assert_eq!(p, "secret/data/production/db");
//!
//! // The property out of the KV v2 response body.
//! let response = json!({"data": {"data": {"username": "admin"}, "metadata": {"version": 1}}});
//! let body = value::secret_data(&response, spec::KvVersion::V2).unwrap();
//! let bytes = value::get_property(body, entry.remote_ref.property.as_deref()).unwrap();
//!
//! // The Secret to write, labelled and owned as ESO does.
//! let data = BTreeMap::from([(entry.secret_key.clone(), bytes)]);
//! let secret = target::desired_secret(&es, &parsed, &data, &BTreeMap::new(), &BTreeMap::new());
//! assert_eq!(secret["metadata"]["name"], "db-creds-k8s");
//! assert_eq!(secret["data"]["username"], "YWRtaW4=");
//! assert_eq!(secret["metadata"]["labels"][target::LABEL_MANAGED], "true");
//! ```

pub mod path;
pub mod spec;
pub mod target;
pub mod template;
pub mod value;
