//! Shared parts of the image updater end-to-end tests (image_updater_e2e.rs): a cluster with
//! `fjord controller --image-updater=true --image-updater-interval=2s`, a real
//! docker-registry (`fjord_testkit::registry`), config repositories served as `file://` bare
//! repositories (the updater pushes to them), Applications carrying Image Updater's
//! annotations, and the waits and counts the tests assert on.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use crate::common::{s, Cluster, Controller, Env, GitRepo, NS};
use serde_json::{json, Value};

/// The updater's interval in these tests.
pub const INTERVAL: Duration = Duration::from_secs(2);
/// Long enough for three update cycles (each cycle also waits on the API and Git).
pub const THREE_CYCLES: Duration = Duration::from_secs(9);
/// The annotation prefix.
pub const P: &str = "argocd-image-updater.argoproj.io/";
/// fjord's own annotations.
pub const REVERTED: &str = "image-updater.fjord.dev/reverted";
pub const WRITTEN: &str = "image-updater.fjord.dev/written";

/// A cluster and `fjord controller` with the image updater on a 2 s interval.
pub fn start_env() -> Env {
    let cluster = Cluster::start();
    let controller = Controller::start_with(
        &cluster,
        "2s",
        &[
            "--image-updater=true",
            "--image-updater-interval=2s",
            "--external-secrets=false",
        ],
    );
    Env {
        controller,
        cluster,
    }
}

/// The `file://` URL of a repository's bare side.
pub fn url(repo: &GitRepo) -> String {
    format!("file://{}", repo.bare.display())
}

/// Commits on `main` of the bare repository.
pub fn commit_count(repo: &GitRepo) -> usize {
    fjord_testkit::git::git(&repo.bare, &["rev-list", "--count", "main"])
        .parse()
        .unwrap()
}

/// A file at the tip of `main` of the bare repository.
pub fn file_at_head(repo: &GitRepo, path: &str) -> String {
    fjord_testkit::git::git(&repo.bare, &["show", &format!("main:{path}")])
}

/// The message of the commit at the tip of `main`.
pub fn head_message(repo: &GitRepo) -> String {
    fjord_testkit::git::git(&repo.bare, &["log", "-1", "--format=%B", "main"])
}

/// The files the tip commit of `main` changed.
pub fn head_files(repo: &GitRepo) -> Vec<String> {
    fjord_testkit::git::git(&repo.bare, &["show", "--name-only", "--format=", "main"])
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Brings the working copy to the bare repository's `main` (the updater pushed there).
pub fn pull(repo: &GitRepo) {
    let bare = repo.bare.to_str().unwrap();
    repo.git(&["fetch", "-q", bare, "main"]);
    repo.git(&["reset", "-q", "--hard", "FETCH_HEAD"]);
}

/// A Deployment `name` running `image`.
pub fn deployment(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n  \
         selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        \
         app: {name}\n    spec:\n      containers:\n      - name: {name}\n        image: {image}\n"
    )
}

/// A kustomization with the deployment and an `images:` entry pinning `image` to `tag`.
pub fn kustomization(image: &str, tag: &str) -> String {
    format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n# managed by the image updater\n\
         resources:\n- deployment.yaml\nimages:\n- name: {image}\n  newTag: {tag} # bumped\n"
    )
}

/// The files of one kustomize app in `dir`: a Deployment `name` of `image:tag`.
pub fn app_files(dir: &str, name: &str, image: &str, tag: &str) -> Vec<(String, String)> {
    vec![
        (
            format!("{dir}/deployment.yaml"),
            deployment(name, &format!("{image}:{tag}")),
        ),
        (
            format!("{dir}/kustomization.yaml"),
            kustomization(image, tag),
        ),
    ]
}

/// An Application deploying `path` of `repo` into namespace `dest`, auto-synced, with the
/// updater's `annotations`.
pub fn app(name: &str, repo: &str, path: &str, dest: &str, annotations: &[(&str, &str)]) -> Value {
    let mut a = crate::common::application(
        name,
        repo,
        path,
        dest,
        Some(json!({"prune": true, "selfHeal": true})),
    );
    let ann: serde_json::Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| {
            let k = if k.contains('/') {
                k.to_string()
            } else {
                format!("{P}{k}")
            };
            (k, json!(v))
        })
        .collect();
    a["metadata"]["annotations"] = Value::Object(ann);
    a
}

/// ConfigMap `argocd-image-updater-config` with `registries.conf` naming the registry at
/// `host` (plain HTTP) and `extra` data keys.
pub fn updater_config(host: &str, extra: &[(&str, &str)]) -> Value {
    let conf = format!(
        "registries:\n- name: test\n  prefix: {host}\n  api_url: http://{host}\n  insecure: yes\n"
    );
    let mut data = serde_json::Map::new();
    data.insert("registries.conf".into(), json!(conf));
    for (k, v) in extra {
        data.insert(k.to_string(), json!(v));
    }
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "argocd-image-updater-config", "namespace": NS},
        "data": data})
}

/// The `ImageUpdateError` conditions' messages of an app.
pub fn update_errors(app: &Value) -> Vec<String> {
    app.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c["type"] == "ImageUpdateError")
        .map(|c| s(c, "/message").to_string())
        .collect()
}

/// An annotation of an app.
pub fn annotation<'a>(app: &'a Value, key: &str) -> &'a str {
    app.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The first container image of Deployment `ns/name`.
pub fn deployed_image(env: &Env, ns: &str, name: &str) -> String {
    env.get("deployment", ns, name)
        .map(|d| s(&d, "/spec/template/spec/containers/0/image").to_string())
        .unwrap_or_default()
}

/// Waits until Deployment `ns/name` runs `image`.
pub fn wait_image(env: &Env, ns: &str, name: &str, image: &str) {
    env.wait_object("deployment", ns, name, &format!("image {image}"), |d| {
        d.is_some_and(|d| s(d, "/spec/template/spec/containers/0/image") == image)
    });
}

/// Waits until `repo` has `n` commits on `main`.
pub fn wait_commits(env: &Env, repo: &GitRepo, n: usize) {
    env.wait(
        &format!("{n} commits on main"),
        crate::common::CONVERGE,
        || (commit_count(repo) == n).then_some(()),
    );
}

/// Waits until app `name` has an `ImageUpdateError` condition containing every needle;
/// returns the message.
pub fn wait_update_error(env: &Env, name: &str, needles: &[&str]) -> String {
    env.wait(
        &format!("application {name}: ImageUpdateError with {needles:?}"),
        crate::common::CONVERGE,
        || {
            let app = env.get("application", NS, name)?;
            update_errors(&app)
                .into_iter()
                .find(|m| needles.iter().all(|n| m.contains(n)))
        },
    )
}

/// Writes `repo`'s working copy file and commits and pushes it.
pub fn commit_file(repo: &GitRepo, path: &str, text: &str, msg: &str) {
    pull(repo);
    repo.write(path, text);
    repo.commit_push(msg);
}

/// Waits `d` (cycles of the updater pass meanwhile).
pub fn pause(d: Duration) {
    std::thread::sleep(d);
}

/// Whether a path exists in the working copy.
pub fn exists(repo: &GitRepo, rel: &str) -> bool {
    Path::new(&repo.work).join(rel).exists()
}

pub use fjord_testkit::registry::{DOCKER_REGISTRY as REGISTRY, HTPASSWD};

/// The test registry (`fjord_testkit::registry::Registry`) with the few verbs these tests use.
pub struct Reg(pub fjord_testkit::registry::Registry);

impl Reg {
    /// A registry anyone may pull from and push to.
    pub fn plain() -> Reg {
        Reg(fjord_testkit::registry::Registry::anonymous())
    }

    /// A registry that takes only `user`/`pass` (basic auth).
    pub fn basic(user: &str, pass: &str) -> Reg {
        Reg(fjord_testkit::registry::Registry::basic(user, pass))
    }

    /// Pushes a small linux/amd64 image as `repo:tag`.
    pub fn push(&self, repo: &str, tag: &str) {
        let spec = fjord_testkit::registry::ImageSpec::linux("amd64", "2026-01-01T00:00:00Z");
        self.0.push_image(repo, tag, &spec);
    }

    /// `127.0.0.1:PORT`, the image prefix.
    pub fn host(&self) -> String {
        self.0.host()
    }

    /// `GET /v2/<repo>/tags/list` requests so far.
    pub fn tag_lists(&self, repo: &str) -> usize {
        self.0.tag_list_requests(repo)
    }

    /// Kills the server and closes its port.
    pub fn stop(&mut self) {
        self.0.stop();
    }

    /// Starts it again on the same port with the same data.
    pub fn start(&mut self) {
        self.0.start();
    }
}
