//! Where the client configuration comes from, by kubectl's (client-go `clientcmd`) rules:
//!
//! 1. `--kubeconfig FILE`: that file only; it must exist.
//! 2. `$KUBECONFIG`: its `:`-separated files, empty entries and duplicates dropped, files that
//!    do not exist skipped, merged in order: the first file to set a cluster, user or context
//!    name wins the whole entry, and `current-context` comes from the first file that sets it.
//!    Relative paths in each file are relative to that file.
//! 3. `~/.kube/config` when it exists.
//! 4. Otherwise, inside a Pod (`KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT` set): the
//!    service account's token, CA and namespace files. The token is a token *file*, which kube
//!    re-reads at least once a minute, so a rotated projected token is picked up.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use kube::config::Kubeconfig;
use serde_json::json;

use crate::ClientError;

/// Where the service-account files are mounted in a Pod (below the filesystem root).
pub const SERVICE_ACCOUNT_DIR: &str = "var/run/secrets/kubernetes.io/serviceaccount";

/// What the configuration is read from: the process environment, made explicit so that it can
/// be tested without touching the real one.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `--kubeconfig`.
    pub explicit: Option<PathBuf>,
    /// `$KUBECONFIG`.
    pub kubeconfig_env: Option<OsString>,
    /// `$HOME`.
    pub home: Option<PathBuf>,
    /// `$KUBERNETES_SERVICE_HOST`.
    pub service_host: Option<String>,
    /// `$KUBERNETES_SERVICE_PORT`.
    pub service_port: Option<String>,
    /// The filesystem root the service-account directory is looked up under (`/`).
    pub root: PathBuf,
}

impl Sources {
    /// The process's own environment, with `explicit` as `--kubeconfig`.
    pub fn from_env(explicit: Option<&PathBuf>) -> Sources {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Sources {
            explicit: explicit.cloned(),
            kubeconfig_env: std::env::var_os("KUBECONFIG"),
            home: std::env::var_os("HOME").map(PathBuf::from),
            service_host: var("KUBERNETES_SERVICE_HOST"),
            service_port: var("KUBERNETES_SERVICE_PORT"),
            root: PathBuf::from("/"),
        }
    }

    /// The kubeconfig files to read, in order (empty: none exists).
    pub fn kubeconfig_files(&self) -> Vec<PathBuf> {
        if let Some(p) = &self.explicit {
            return vec![p.clone()];
        }
        if let Some(env) = self.kubeconfig_env.as_ref().filter(|e| !e.is_empty()) {
            // kubectl: a set $KUBECONFIG replaces ~/.kube/config, even when its files are all
            // missing.
            let mut seen = HashSet::new();
            return std::env::split_paths(env)
                .filter(|p| !p.as_os_str().is_empty() && p.exists())
                .filter(|p| seen.insert(p.clone()))
                .collect();
        }
        match &self.home {
            Some(h) if h.join(".kube").join("config").exists() => {
                vec![h.join(".kube").join("config")]
            }
            _ => Vec::new(),
        }
    }
}

/// A configuration source after loading.
pub enum Loaded {
    /// One or more kubeconfig files, merged.
    Files {
        /// The merged kubeconfig.
        config: Kubeconfig,
        /// The files, for error messages.
        files: Vec<PathBuf>,
    },
    /// The in-cluster configuration, as a one-context kubeconfig.
    InCluster(Kubeconfig),
}

/// Reads and merges kubeconfig `files` by kubectl's rules.
pub fn merge_files(files: &[PathBuf]) -> Result<Kubeconfig, ClientError> {
    let mut merged = Kubeconfig::default();
    for path in files {
        let mut next =
            Kubeconfig::read_from(path).map_err(|source| ClientError::ReadKubeconfig {
                path: path.clone(),
                source: crate::Foreign::new(source),
            })?;
        // client-go does not compare `kind`/`apiVersion` across files; kube refuses a mismatch.
        next.kind = None;
        next.api_version = None;
        merged = merged
            .merge(next)
            .map_err(|source| ClientError::ReadKubeconfig {
                path: path.clone(),
                source: crate::Foreign::new(source),
            })?;
    }
    Ok(merged)
}

/// The in-cluster configuration under `src.root`, `None` when not running in a cluster (either
/// service variable unset, as client-go requires both).
pub fn in_cluster(src: &Sources) -> Result<Option<Kubeconfig>, ClientError> {
    let (Some(host), Some(port)) = (&src.service_host, &src.service_port) else {
        return Ok(None);
    };
    let port: u16 = port.trim().parse().map_err(|e| ClientError::InCluster {
        what: "KUBERNETES_SERVICE_PORT",
        path: PathBuf::from(port),
        reason: format!("not a port: {e}"),
    })?;
    let host = host.trim();
    let server = if host.contains(':') && !host.starts_with('[') {
        format!("https://[{host}]:{port}")
    } else {
        format!("https://{host}:{port}")
    };
    let dir = src.root.join(SERVICE_ACCOUNT_DIR);
    let token = dir.join("token");
    let unreadable = |what, path: &Path, e: std::io::Error| ClientError::InCluster {
        what,
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    std::fs::metadata(&token).map_err(|e| unreadable("service-account token", &token, e))?;
    let ns_file = dir.join("namespace");
    let namespace = match std::fs::read_to_string(&ns_file) {
        Ok(ns) if !ns.trim().is_empty() => ns.trim().to_string(),
        Ok(_) => "default".to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "default".to_string(),
        Err(e) => return Err(unreadable("service-account namespace", &ns_file, e)),
    };
    let mut cluster = json!({ "server": server });
    let ca = dir.join("ca.crt");
    if ca.exists() {
        cluster["certificate-authority"] = json!(ca);
    }
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "in-cluster", "cluster": cluster}],
        "users": [{"name": "service-account", "user": {"tokenFile": token}}],
        "contexts": [{"name": "in-cluster", "context": {
            "cluster": "in-cluster", "user": "service-account", "namespace": namespace}}],
        "current-context": "in-cluster",
    });
    Kubeconfig::from_yaml(&doc.to_string())
        .map(Some)
        .map_err(|source| ClientError::LoadContext {
            path: dir,
            context: "in-cluster".into(),
            user: "service-account".into(),
            source: crate::Foreign::new(source),
        })
}

/// Loads the configuration `src` points at, by the rules of the module docs.
pub fn load(src: &Sources) -> Result<Loaded, ClientError> {
    let files = src.kubeconfig_files();
    if !files.is_empty() {
        let config = merge_files(&files)?;
        // client-go: an empty merged kubeconfig falls back to the in-cluster configuration.
        if !is_empty(&config) || src.explicit.is_some() {
            return Ok(Loaded::Files { config, files });
        }
        if let Some(config) = in_cluster(src)? {
            return Ok(Loaded::InCluster(config));
        }
        return Ok(Loaded::Files { config, files });
    }
    match in_cluster(src)? {
        Some(config) => Ok(Loaded::InCluster(config)),
        None => Err(ClientError::NoKubeconfig),
    }
}

/// Whether a kubeconfig names nothing to connect to.
fn is_empty(kc: &Kubeconfig) -> bool {
    kc.clusters.is_empty()
        && kc.auth_infos.is_empty()
        && kc.contexts.is_empty()
        && kc.current_context.is_none()
}

/// The `user` of `context` (the current one when `None`) in `kc`, for error messages.
pub fn user_of(kc: &Kubeconfig, context: Option<&str>) -> String {
    let name = context.or(kc.current_context.as_deref());
    kc.contexts
        .iter()
        .find(|c| Some(c.name.as_str()) == name)
        .and_then(|c| c.context.as_ref())
        .and_then(|c| c.user.clone())
        .unwrap_or_else(|| "?".into())
}

/// The files as one path for error messages (`a:b`).
pub fn joined(files: &[PathBuf]) -> PathBuf {
    std::env::join_paths(files)
        .map(PathBuf::from)
        .unwrap_or_else(|_| files.first().cloned().unwrap_or_default())
}

#[cfg(test)]
#[path = "kubeconfig_tests.rs"]
mod tests;
