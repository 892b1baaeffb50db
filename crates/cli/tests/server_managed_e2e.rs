//! End-to-end test of drift forensics through the real binary, on both backends: `fjord
//! controller` syncs a Deployment and a Secret from a Git repository (auto-sync without
//! self-heal, so drift stays), `kubectl scale` and `kubectl set image` change it, and the field
//! managers (`kubectl` via `/scale`, `kubectl-set`) are named by `GET .../managed-resources` of `fjord server`, by `fjord app diff`
//! and by the app's `OutOfSync` Event; no response, output or Event carries the Secret's value.

mod common;

use base64::Engine as _;
use common::server::ApiServer;
use common::{application, deployment, s, Controller, Env, GitRepo, CONVERGE, NS};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{CURL, GIT, KUBECTL};
use serde_json::{json, Value};

/// The Secret's value: it must never come out.
const SECRET: &str = "hunter2-drift-sekret";

/// Asserts that `text` carries the Secret's value neither plain nor base64-encoded.
fn assert_no_secret(what: &str, text: &str) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(SECRET);
    assert!(
        !text.contains(SECRET) && !text.contains(&b64),
        "{what} leaks the Secret's value"
    );
}

fn repo() -> GitRepo {
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ntype: Opaque\nstringData:\n  \
         password: {SECRET}\n"
    );
    GitRepo::new(
        "drift.git",
        &[
            ("app/web.yaml", deployment("web", 2)),
            ("app/secret.yaml", secret),
        ],
    )
}

#[test]
fn kubectl_scale_is_named_by_the_api_app_diff_and_the_event() {
    require_tools!(GIT, KUBECTL, CURL);
    let repo = repo();
    let daemon = common::git_daemon(&repo.root);
    let url = format!("git://127.0.0.1:{}/drift.git", daemon.port);
    let env = Env::start("2s");
    let auto = json!({"prune": true, "selfHeal": false});
    env.apply_json(&application("drift", &url, "app", "drift", Some(auto)));
    env.wait_app("drift", "Synced", |a| {
        s(a, "/status/sync/status") == "Synced" && a.get("operation").is_none()
    });

    // kubectl 1.32's `scale` sends no field manager: the API server names it after the user
    // agent (`kubectl`) and records the `scale` subresource; `set image` is `kubectl-set`.
    env.kubectl_ok(&["scale", "deployment", "web", "-n", "drift", "--replicas=5"]);
    env.kubectl_ok(&[
        "set",
        "image",
        "deployment/web",
        "-n",
        "drift",
        "web=nginx:1.28",
    ]);
    env.wait_app("drift", "OutOfSync after kubectl scale", |a| {
        s(a, "/status/sync/status") == "OutOfSync"
    });

    // The API: the Deployment is modified; each drifted field names its manager.
    let server = ApiServer::start(&env);
    let path = "/api/v1/applications/drift/managed-resources";
    assert_eq!(server.call_anonymous("GET", path, None).0, 401);
    let (code, body) = server.call("GET", &format!("{path}?kindd=Deployment"), None);
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("kindd"), "{body}");
    let started = std::time::Instant::now();
    let (code, body) = server.call("GET", path, None);
    let first = started.elapsed();
    assert_eq!(code, 200, "{body}");
    let started = std::time::Instant::now();
    assert_eq!(server.call("GET", path, None).0, 200);
    eprintln!(
        "managed-resources: first {first:?} (render + dry run), again {:?}",
        started.elapsed()
    );
    assert_no_secret("managed-resources", &body);
    let items: Value = serde_json::from_str(&body).unwrap();
    let items = items["items"].as_array().expect("items").clone();
    let web = items
        .iter()
        .find(|i| i["kind"] == "Deployment" && i["name"] == "web")
        .unwrap_or_else(|| panic!("no Deployment web in {body}"));
    assert_eq!(web["modified"], true, "{web}");
    assert_eq!(web["group"], "apps");
    let drift = web["drift"].as_array().expect("drift");
    let replicas = drift
        .iter()
        .find(|d| d["path"] == "spec.replicas")
        .unwrap_or_else(|| panic!("no spec.replicas drift in {web}"));
    assert_eq!(replicas["manager"], "kubectl", "{replicas}");
    assert_eq!(replicas["operation"], "Update", "{replicas}");
    assert_eq!(replicas["subresource"], "scale", "{replicas}");
    let image = drift
        .iter()
        .find(|d| d["path"] == "spec.template.spec.containers[name=web].image")
        .unwrap_or_else(|| panic!("no image drift in {web}"));
    assert_eq!(image["manager"], "kubectl-set", "{image}");
    assert_eq!(image["operation"], "Update", "{image}");
    assert!(!s(image, "/time").is_empty(), "{image}");
    for field in [
        "targetState",
        "liveState",
        "normalizedLiveState",
        "predictedLiveState",
    ] {
        let state: Value = serde_json::from_str(s(web, &format!("/{field}"))).unwrap();
        assert_eq!(state["kind"], "Deployment", "{field}");
    }
    let live: Value = serde_json::from_str(s(web, "/liveState")).unwrap();
    assert_eq!(live["spec"]["replicas"], 5);
    let secret = items
        .iter()
        .find(|i| i["kind"] == "Secret")
        .unwrap_or_else(|| panic!("no Secret in {body}"));
    assert_eq!(secret["modified"], false, "{secret}");
    let (code, only) = server.call("GET", &format!("{path}?kind=Secret&name=creds"), None);
    assert_eq!(code, 200, "{only}");
    let only: Value = serde_json::from_str(&only).unwrap();
    assert_eq!(only["items"].as_array().unwrap().len(), 1, "{only}");

    let (code, body) = server.call("GET", "/api/v1/applications/drift/manifests", None);
    assert_eq!(code, 200, "{body}");
    assert_no_secret("manifests", &body);
    let manifests: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        manifests["manifests"].as_array().unwrap().len(),
        2,
        "{body}"
    );
    assert_eq!(
        manifests["revision"],
        s(&env.app("drift"), "/status/sync/revision")
    );
    assert_eq!(manifests["sourceType"], "Directory");

    // `fjord app diff`: exit 1, the field and its manager under the Deployment.
    let out = env.fjord(&["app", "diff", "drift"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("apps/Deployment drift/web"), "{stdout}");
    assert!(
        stdout.contains("spec.replicas set by kubectl via /scale (Update)"),
        "{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(
            "spec.template.spec.containers[name=web].image set by kubectl-set (Update) at "
        ),
        "{stdout}\n{stderr}"
    );
    assert_no_secret("fjord app diff", &format!("{stdout}{stderr}"));

    // The Event of the Synced -> OutOfSync change names the field and its manager.
    let event = env.wait("the drift Event", CONVERGE, || {
        let events = env.get_json(&["events", "-n", NS]);
        events["items"]
            .as_array()?
            .iter()
            .filter(|e| e["involvedObject"]["name"] == "drift")
            .map(|e| s(e, "/message").to_string())
            .find(|m| m.contains("-> OutOfSync") && m.contains("drift: "))
    });
    assert!(
        event.contains("apps/Deployment drift/web: spec.replicas set by kubectl"),
        "{event}"
    );
    assert_no_secret("the Event", &event);
    let _controller: &Controller = &env.controller;
}
