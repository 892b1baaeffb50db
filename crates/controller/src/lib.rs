//! Foundation of the fjord application controller: Argo CD-compatible Application and
//! AppProject types ([`api`]), their CRDs ([`crds`]), a de-duplicating work queue
//! ([`queue`]), Prometheus metrics ([`metrics`]), status builders ([`status`]), the
//! auto-sync/self-heal policy ([`selfheal`]) and the etcd-style disk check ([`doctor`]).
//! Errors are shown with their causes by [`fjord_model::chain()`].
//!
//! ```
//! use fjord_controller::api::{HealthStatusCode, SyncStatusCode};
//!
//! // Status codes are enums that read and write Argo CD's spellings.
//! assert_eq!(serde_json::to_value(SyncStatusCode::OutOfSync).unwrap(), "OutOfSync");
//! let h: HealthStatusCode = serde_json::from_value("Degraded".into()).unwrap();
//! assert_eq!(h, HealthStatusCode::Degraded);
//! ```

pub mod api;
pub mod crds;
pub mod doctor;
pub mod metrics;
pub mod queue;
pub mod runtime;
pub mod selfheal;
pub mod shard;
pub mod status;
