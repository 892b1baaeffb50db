//! The status codes of an Application, as serde enums spelled as Argo CD spells them: sync
//! status, health, operation phase and a resource's sync result.
//!
//! Each parses any string: a code fjord does not know (written by another tool, or by a newer
//! Argo CD) is kept verbatim as `Other`, so reading and writing an Application loses nothing.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares a status-code enum: its known codes, an `Other` for the rest, `as_str`/`parse`,
/// `Display` and serde as a plain string.
macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident { $( $(#[$vm:meta])* $var:ident = $text:literal ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vm])* $var, )*
            /// A code fjord does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// The code as Argo CD spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$var => $text, )*
                    $name::Other(s) => s,
                }
            }

            /// Parses a code; one fjord does not know is kept as `Other`.
            pub fn parse(code: &str) -> $name {
                match code {
                    $( $text => $name::$var, )*
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl From<&str> for $name {
            fn from(code: &str) -> $name {
                $name::parse(code)
            }
        }

        /// A code reads as its spelling (`code.as_deref() == Some("Synced")` on an
        /// `Option` of it).
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                self.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Ok($name::parse(&String::deserialize(deserializer)?))
            }
        }
    };
}

code_enum! {
    /// A sync status (`status.sync.status`, `status.resources[].status`).
    SyncStatusCode {
        /// Live state matches the target state.
        Synced = "Synced",
        /// Live state differs from the target state.
        OutOfSync = "OutOfSync",
        /// Comparison failed or was not possible.
        Unknown = "Unknown",
    }
}

code_enum! {
    /// A health status (`status.health.status`, `status.resources[].health.status`).
    HealthStatusCode {
        /// Fully healthy.
        Healthy = "Healthy",
        /// Not healthy yet, but can still get there.
        Progressing = "Progressing",
        /// Failed or cannot reach a healthy state.
        Degraded = "Degraded",
        /// Suspended or paused.
        Suspended = "Suspended",
        /// Not in the cluster.
        Missing = "Missing",
        /// Could not be assessed.
        Unknown = "Unknown",
    }
}

code_enum! {
    /// An operation phase (`status.operationState.phase`).
    OperationPhase {
        /// The operation is in progress.
        Running = "Running",
        /// The operation is being terminated.
        Terminating = "Terminating",
        /// The operation failed.
        Failed = "Failed",
        /// The operation hit an error.
        Error = "Error",
        /// The operation completed successfully.
        Succeeded = "Succeeded",
    }
}

code_enum! {
    /// A resource's sync result (`status.operationState.syncResult.resources[].status`).
    ResultCode {
        /// Applied.
        Synced = "Synced",
        /// Apply (or dry run, or health) failed.
        SyncFailed = "SyncFailed",
        /// Deleted.
        Pruned = "Pruned",
        /// Not deleted (pruning off, `Prune=false`).
        PruneSkipped = "PruneSkipped",
        /// Not applied (another application owns it, or the sync stopped first).
        Skipped = "Skipped",
    }
}

impl OperationPhase {
    /// Whether the phase is final (`Succeeded`, `Failed` or `Error`).
    pub fn is_completed(&self) -> bool {
        matches!(
            self,
            OperationPhase::Succeeded | OperationPhase::Failed | OperationPhase::Error
        )
    }
}

impl From<fjord_health::HealthStatus> for HealthStatusCode {
    fn from(h: fjord_health::HealthStatus) -> HealthStatusCode {
        HealthStatusCode::parse(h.as_str())
    }
}

impl From<fjord_sync::OperationPhase> for OperationPhase {
    fn from(p: fjord_sync::OperationPhase) -> OperationPhase {
        match p {
            fjord_sync::OperationPhase::Succeeded => OperationPhase::Succeeded,
            fjord_sync::OperationPhase::Failed => OperationPhase::Failed,
            fjord_sync::OperationPhase::Error => OperationPhase::Error,
        }
    }
}

impl From<fjord_sync::ResultCode> for ResultCode {
    fn from(c: fjord_sync::ResultCode) -> ResultCode {
        match c {
            fjord_sync::ResultCode::Synced => ResultCode::Synced,
            fjord_sync::ResultCode::SyncFailed => ResultCode::SyncFailed,
            fjord_sync::ResultCode::Pruned => ResultCode::Pruned,
            fjord_sync::ResultCode::PruneSkipped => ResultCode::PruneSkipped,
            fjord_sync::ResultCode::Skipped => ResultCode::Skipped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_argo_spells_them_and_keep_unknown_ones() {
        let v = serde_json::to_value(SyncStatusCode::OutOfSync).unwrap();
        assert_eq!(v, serde_json::json!("OutOfSync"));
        let p: OperationPhase = serde_json::from_value(serde_json::json!("Terminating")).unwrap();
        assert_eq!(p, OperationPhase::Terminating);
        let odd: HealthStatusCode = serde_json::from_value(serde_json::json!("Weird")).unwrap();
        assert_eq!(odd, HealthStatusCode::Other("Weird".into()));
        assert_eq!(
            serde_json::to_value(&odd).unwrap(),
            serde_json::json!("Weird")
        );
        for h in fjord_health::HealthStatus::ALL {
            assert_eq!(HealthStatusCode::from(h).as_str(), h.as_str());
            assert!(!matches!(
                HealthStatusCode::from(h),
                HealthStatusCode::Other(_)
            ));
        }
        assert!(OperationPhase::Error.is_completed());
        assert!(!OperationPhase::Running.is_completed());
        assert_eq!(
            ResultCode::from(fjord_sync::ResultCode::PruneSkipped).as_str(),
            "PruneSkipped"
        );
    }
}
