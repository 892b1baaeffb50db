//! Foundation of the fjord application controller: Argo CD-compatible Application and
//! AppProject types ([`api`]), their CRDs ([`crds`]), a de-duplicating work queue
//! ([`queue`]), Prometheus metrics ([`metrics`]), status builders ([`status`]), the
//! auto-sync/self-heal policy ([`selfheal`]) and the etcd-style disk check ([`doctor`]).
//! [`chain`] prints an error with its causes.

pub mod api;
pub mod chain;
pub mod crds;
pub mod doctor;
pub mod metrics;
pub mod queue;
pub mod runtime;
pub mod selfheal;
pub mod status;
