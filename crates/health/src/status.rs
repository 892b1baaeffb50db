//! Health status codes and the assessed health of one object.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A health status code, as Argo CD reports it.
///
/// The variants are declared from most to least healthy, the order Argo CD uses when it folds
/// resource health into application health (gitops-engine `health.IsWorse`): `Healthy` <
/// `Suspended` < `Progressing` < `Missing` < `Degraded` < `Unknown`. The derived [`Ord`] follows
/// that order, so the worst of several statuses is their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HealthStatus {
    /// The resource is fully healthy.
    Healthy,
    /// The resource is suspended or paused (a paused Deployment, a suspended Job).
    Suspended,
    /// The resource is not healthy yet but can still get there.
    Progressing,
    /// The resource does not exist in the cluster.
    Missing,
    /// The resource failed or cannot reach a healthy state.
    Degraded,
    /// The health could not be assessed.
    Unknown,
}

impl HealthStatus {
    /// Every status, from most to least healthy.
    pub const ALL: [HealthStatus; 6] = [
        HealthStatus::Healthy,
        HealthStatus::Suspended,
        HealthStatus::Progressing,
        HealthStatus::Missing,
        HealthStatus::Degraded,
        HealthStatus::Unknown,
    ];

    /// The code as Argo CD spells it (`"Healthy"`, `"Progressing"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "Healthy",
            HealthStatus::Suspended => "Suspended",
            HealthStatus::Progressing => "Progressing",
            HealthStatus::Missing => "Missing",
            HealthStatus::Degraded => "Degraded",
            HealthStatus::Unknown => "Unknown",
        }
    }

    /// Parses a code spelled exactly as Argo CD spells it; anything else is `None`.
    pub fn parse(code: &str) -> Option<HealthStatus> {
        HealthStatus::ALL.into_iter().find(|s| s.as_str() == code)
    }

    /// Position in Argo CD's severity order: 0 for `Healthy` up to 5 for `Unknown`.
    pub fn severity(self) -> u8 {
        self as u8
    }

    /// Whether `self` is a worse condition than `current` (gitops-engine `IsWorse(current, self)`).
    pub fn is_worse_than(self, current: HealthStatus) -> bool {
        self > current
    }
}

/// gitops-engine's `health.IsWorse(current, new)`: whether `new` is worse than `current`.
pub fn is_worse(current: HealthStatus, new: HealthStatus) -> bool {
    new.is_worse_than(current)
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when a string is not one of Argo CD's health status codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid health status {0:?}: expected one of Healthy, Suspended, Progressing, Missing, Degraded, Unknown")]
pub struct ParseHealthStatusError(pub String);

impl FromStr for HealthStatus {
    type Err = ParseHealthStatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HealthStatus::parse(s).ok_or_else(|| ParseHealthStatusError(s.to_string()))
    }
}

impl Serialize for HealthStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for HealthStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        code.parse().map_err(serde::de::Error::custom)
    }
}

/// The assessed health of one object: a status and a (possibly empty) message.
///
/// Serialises like Argo CD's `HealthStatus` (`{"status": "...", "message": "..."}`, the message
/// left out when empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Health {
    /// The status code.
    pub status: HealthStatus,
    /// A human-readable explanation; empty when the check has nothing to say.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl Health {
    /// A health with the given status and message.
    pub fn new(status: HealthStatus, message: impl Into<String>) -> Health {
        Health {
            status,
            message: message.into(),
        }
    }

    /// A health with the given status and an empty message.
    pub fn status(status: HealthStatus) -> Health {
        Health::new(status, String::new())
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.status)
        } else {
            write!(f, "{}: {}", self.status, self.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_order_matches_gitops_engine() {
        use HealthStatus::*;
        let order = [Healthy, Suspended, Progressing, Missing, Degraded, Unknown];
        for (i, a) in order.iter().enumerate() {
            assert_eq!(a.severity() as usize, i);
            for b in &order[i + 1..] {
                assert!(is_worse(*a, *b), "{b} should be worse than {a}");
                assert!(!is_worse(*b, *a), "{a} should not be worse than {b}");
            }
            assert!(!is_worse(*a, *a));
        }
        // The cases gitops-engine's own TestIsWorse asserts.
        assert!(is_worse(Healthy, Progressing));
        assert!(is_worse(Healthy, Degraded));
        assert!(!is_worse(Degraded, Progressing));
    }

    #[test]
    fn codes_round_trip_through_strings_and_serde() {
        for s in HealthStatus::ALL {
            assert_eq!(s.as_str().parse::<HealthStatus>(), Ok(s));
            let json = serde_json::to_string(&s).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert!("healthy".parse::<HealthStatus>().is_err());
        assert!(serde_json::from_str::<HealthStatus>("\"Fine\"").is_err());
    }

    #[test]
    fn health_serialises_like_argo() {
        let h = Health::status(HealthStatus::Healthy);
        assert_eq!(
            serde_json::to_string(&h).unwrap_or_default(),
            r#"{"status":"Healthy"}"#
        );
        let h = Health::new(HealthStatus::Degraded, "boom");
        assert_eq!(
            serde_json::to_string(&h).unwrap_or_default(),
            r#"{"status":"Degraded","message":"boom"}"#
        );
        assert_eq!(h.to_string(), "Degraded: boom");
    }
}
