//! [`RegistryError`]: every failure of the crate. Messages name the registry (its API URL), the
//! repository and the step; never a password or token.

use std::sync::Arc;
use std::time::Duration;

/// A boxed, shareable cause.
pub type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// What the client was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `GET /v2/`.
    Ping,
    /// Fetching a bearer token from the challenge's realm.
    Token,
    /// `GET /v2/<name>/tags/list` (a page of it).
    Tags,
    /// `GET /v2/<name>/manifests/<reference>`.
    Manifest,
    /// `GET /v2/<name>/blobs/<digest>` (the image config).
    Blob,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Ping => "ping",
            Step::Token => "fetching a token",
            Step::Tags => "listing tags",
            Step::Manifest => "fetching a manifest",
            Step::Blob => "fetching a config blob",
        })
    }
}

/// A failure of the registry client or of reading its configuration. Cheap to clone (causes are
/// shared), so one failed request can be handed to every caller waiting on it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RegistryError {
    /// `registries.conf` is not valid YAML.
    #[error("registries.conf: not valid YAML")]
    ConfYaml {
        /// The parser's error.
        #[source]
        source: Cause,
    },
    /// `registries.conf` has a wrong shape or value.
    #[error("registries.conf: {field}: {reason}")]
    Conf {
        /// Where: `registries[2].limit`, `registries[0]`, ….
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A docker config (`.dockerconfigjson`) cannot be used.
    #[error("docker config for {registry}: {reason}")]
    DockerConfig {
        /// The API URL the credentials were looked up for.
        registry: String,
        /// What is wrong (never the credentials).
        reason: String,
    },
    /// The endpoint's API URL cannot be used.
    #[error("registry {registry}: invalid API URL: {reason}")]
    Url {
        /// The API URL as configured.
        registry: String,
        /// What is wrong.
        reason: String,
    },
    /// No connection (refused, reset, DNS) or the connection broke.
    #[error("registry {registry}: {repo}: {step}: unreachable")]
    Unreachable {
        /// The registry's API URL (or a token realm's origin for [`Step::Token`]).
        registry: String,
        /// The repository.
        repo: String,
        /// The step.
        step: Step,
        /// The transport's error.
        #[source]
        source: Cause,
    },
    /// The TLS handshake failed.
    #[error("registry {registry}: {repo}: {step}: TLS: {reason}")]
    Tls {
        /// The registry.
        registry: String,
        /// The repository.
        repo: String,
        /// The step.
        step: Step,
        /// rustls's reason.
        reason: String,
    },
    /// No answer within the timeout.
    #[error("registry {registry}: {repo}: {step}: no answer within {after:?}")]
    Timeout {
        /// The registry.
        registry: String,
        /// The repository.
        repo: String,
        /// The step.
        step: Step,
        /// The timeout.
        after: Duration,
    },
    /// 401 or 403: missing, wrong or insufficient credentials.
    #[error("registry {registry}: {repo}: {step}: unauthorized (HTTP {status})")]
    Unauthorized {
        /// The registry.
        registry: String,
        /// The repository.
        repo: String,
        /// The step.
        step: Step,
        /// 401 or 403.
        status: u16,
    },
    /// 404: no such repository, tag or blob.
    #[error("registry {registry}: {repo}: {step}: not found")]
    NotFound {
        /// The registry.
        registry: String,
        /// The repository.
        repo: String,
        /// The step.
        step: Step,
    },
    /// 429: the registry's rate limit (e.g. Docker Hub's pull limit).
    #[error("registry {registry}: {repo}: {step}: rate limited{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// The registry.
        registry: String,
        /// The repository.
        repo: String,
        /// The step.
        step: Step,
        /// The `Retry-After` the registry asked for.
        retry_after: Option<Duration>,
    },
    /// Any other unexpected HTTP status.
    #[error("registry {registry}: {repo}: {step}: HTTP {status}")]
    Status {
        /// The registry.
        registry: String,
        /// The repository.
        repo: String,
        /// The step.
        step: Step,
        /// The status.
        status: u16,
    },
    /// The answer is malformed (JSON, headers, challenge, media type, size, redirects).
    #[error("registry {registry}: {repo}: {step}: {reason}")]
    Protocol {
        /// The registry.
        registry: String,
        /// The repository.
        repo: String,
        /// The step.
        step: Step,
        /// What is wrong.
        reason: String,
    },
}

impl RegistryError {
    /// Whether retrying later may help (unreachable, timeouts, rate limits, 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Unreachable { .. }
            | RegistryError::Timeout { .. }
            | RegistryError::RateLimited { .. } => true,
            RegistryError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// Who and what a request is about, for error messages.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) registry: String,
    pub(crate) repo: String,
    pub(crate) step: Step,
}

impl Ctx {
    pub(crate) fn new(registry: &str, repo: &str, step: Step) -> Ctx {
        Ctx {
            registry: registry.to_string(),
            repo: repo.to_string(),
            step,
        }
    }

    pub(crate) fn protocol(&self, reason: impl Into<String>) -> RegistryError {
        RegistryError::Protocol {
            registry: self.registry.clone(),
            repo: self.repo.clone(),
            step: self.step,
            reason: reason.into(),
        }
    }

    /// The error of a non-success `status` (`retry_after` from a 429's header).
    pub(crate) fn status(&self, status: u16, retry_after: Option<Duration>) -> RegistryError {
        let (registry, repo, step) = (self.registry.clone(), self.repo.clone(), self.step);
        match status {
            401 | 403 => RegistryError::Unauthorized {
                registry,
                repo,
                step,
                status,
            },
            404 => RegistryError::NotFound {
                registry,
                repo,
                step,
            },
            429 => RegistryError::RateLimited {
                registry,
                repo,
                step,
                retry_after,
            },
            _ => RegistryError::Status {
                registry,
                repo,
                step,
                status,
            },
        }
    }
}
