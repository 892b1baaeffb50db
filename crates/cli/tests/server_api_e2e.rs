//! `fjord server` end to end, through the built binary on either backend: the application
//! list (filters, search, selector, field projection), get with Argo CD's 403-or-404 answers
//! and `refresh`, projects, settings, version, the SSE stream (replay, changes, filters),
//! refused query parameters and bodies, and serving from the cache while the API server is
//! gone. Applications are created directly (no controller). HTTP goes through `curl`.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::server::ApiServer;
use common::{poll, s, Cluster, FJORD, NS};
use fjord_testkit::cluster::Server as Backend;
use fjord_testkit::tools::{CURL, KUBECTL, OPENSSL};
use fjord_testkit::{require_tools, LocalApi};
use serde_json::{json, Value};

/// The path of the applications' SSE stream.
const STREAM: &str = "/api/v1/stream/applications";

/// The names of the apps a list request returns.
fn names(server: &ApiServer, query: &str) -> Vec<String> {
    let v = server.get(&format!("/api/v1/applications{query}"), 200);
    v["items"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|a| s(a, "/metadata/name").to_string())
        .collect()
}

/// The namespace, the CRDs (manifests/crds.yaml) and the projects `default` and `team-a`.
fn prepare(cluster: &Cluster) {
    cluster.kubectl_ok(&["create", "namespace", NS]);
    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds.yaml");
    cluster.kubectl_ok(&["apply", "--server-side", "-f", crds.to_str().unwrap()]);
    cluster.wait_argoproj_crds();
    for p in ["default", "team-a"] {
        // The role `reader` may read the project's apps only.
        let policy = format!("p, proj:{p}:reader, applications, get, {p}/*, allow");
        cluster.apply_json(&json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
            "metadata": {"name": p, "namespace": NS},
            "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}],
                     "roles": [{"name": "reader", "policies": [policy]}]},
        }));
    }
}

/// An Application (no controller runs: only the object matters).
fn app(name: &str, project: &str, repo: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {
            "project": project,
            "source": {"repoURL": repo, "targetRevision": "HEAD", "path": "."},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
        },
    })
}

fn apply_all(cluster: &Cluster, items: Vec<Value>) {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    cluster.kubectl_ok_in(&["apply", "-f", "-"], &list.to_string());
}

/// Waits until the list holds `n` apps.
fn wait_count(server: &ApiServer, n: usize) {
    poll(
        &format!("{n} apps in the list"),
        Duration::from_secs(60),
        || server.log_text(),
        || (names(server, "").len() == n).then_some(()),
    );
}

#[test]
fn server_lists_gets_streams_and_refuses_bad_input() {
    require_tools!(KUBECTL, CURL);
    let cluster = Cluster::start();
    prepare(&cluster);
    apply_all(
        &cluster,
        vec![app(
            "solo",
            "team-a",
            "https://git.example/Team/Solo.git",
            json!({}),
        )],
    );
    let server = ApiServer::start(&cluster);
    wait_count(&server, 1);
    let list = server.get("/api/v1/applications", 200);
    assert!(!s(&list, "/metadata/resourceVersion").is_empty(), "{list}");

    // Many apps: filters, search, selector, projection, order.
    let many: Vec<Value> = (0..40)
        .map(|i| {
            let tier = if i % 2 == 0 { "web" } else { "db" };
            let repo = format!("https://git.example/org/repo-{}.git", i % 4);
            app(
                &format!("app-{i:03}"),
                "default",
                &repo,
                json!({"tier": tier}),
            )
        })
        .collect();
    apply_all(&cluster, many);
    wait_count(&server, 41);
    let all = names(&server, "");
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "the list is sorted by name");
    assert_eq!(names(&server, "?search=SOLO"), vec!["solo"]);
    assert_eq!(names(&server, "?search=app-00").len(), 10);
    assert_eq!(
        names(&server, "?search=team%2Fsolo"),
        vec!["solo"],
        "search covers the repo"
    );
    assert_eq!(names(&server, "?projects=team-a"), vec!["solo"]);
    assert_eq!(names(&server, "?project=team-a"), vec!["solo"]);
    assert_eq!(
        names(&server, "?projects=default&projects=team-a").len(),
        41
    );
    assert_eq!(names(&server, "?selector=tier%3Dweb").len(), 20);
    assert_eq!(
        names(&server, "?selector=tier+in+(db)%2C!missing").len(),
        20
    );
    assert_eq!(names(&server, "?selector=tier+notin+(web)").len(), 21);
    assert_eq!(names(&server, "?selector=!tier"), vec!["solo"]);
    assert_eq!(names(&server, "?name=app-007"), vec!["app-007"]);
    let repo = "https%3A%2F%2Fgit.example%2Forg%2Frepo-1.git";
    assert_eq!(names(&server, &format!("?repo={repo}")).len(), 10);
    let v = server.get("/api/v1/applications?fields=items.metadata.name", 200);
    assert_eq!(
        v["items"][0],
        json!({"metadata": {"name": "app-000"}}),
        "{v}"
    );
    assert!(v.get("metadata").is_none(), "{v}");
    let v = server.get("/api/v1/applications?name=solo&fields=-items.spec", 200);
    assert!(v["items"][0].get("spec").is_none(), "{v}");
    assert_eq!(s(&v["items"][0], "/metadata/name"), "solo");

    // Refused input: the 400 names the parameter.
    let (code, body) = server.call("GET", "/api/v1/applications?bogus=1", None);
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("bogus"), "{body}");
    let (code, body) = server.call("GET", "/api/v1/applications?selector=a+b+c", None);
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("selector"), "{body}");
    let (code, body) = server.call("GET", "/api/v1/applications/solo?refresh=soon", None);
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("refresh"), "{body}");
    let (code, body) = server.call_anonymous("POST", "/api/v1/session", Some("{\"username\":"));
    assert_eq!(code, 400, "a malformed JSON body: {body}");
    let (code, body) = server.call_anonymous("GET", "/api/v1/applications", None);
    assert_eq!(code, 401, "no session: {body}");

    // A caller who may read team-a's apps only: the others are left out of the list silently,
    // and an app it may not read is a 403 whether it exists or not.
    let path = "/api/v1/projects/team-a/roles/reader/token";
    let (code, body) = server.call("POST", path, Some("{}"));
    assert_eq!(code, 200, "project token: {body}");
    let reader = s(&serde_json::from_str(&body).unwrap(), "/token").to_string();
    let (code, body) = server.call_as(&reader, "GET", "/api/v1/applications", None);
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(s(&v, "/items/0/metadata/name"), "solo");
    assert_eq!(
        server
            .call_as(&reader, "GET", "/api/v1/applications/solo", None)
            .0,
        200
    );
    let (code, body) = server.call_as(&reader, "GET", "/api/v1/applications/app-001", None);
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        server
            .call_as(&reader, "GET", "/api/v1/applications/nope", None)
            .0,
        403
    );
    let bearer = format!("Authorization: Bearer {reader}");
    let reader_stream = server.stream_with(Some(&bearer), STREAM);
    assert_eq!(
        reader_stream.next(),
        ("ADDED".to_string(), "solo".to_string())
    );

    // Get: 403 unless the project is given and readable, then 404.
    let got = server.get("/api/v1/applications/solo", 200);
    assert_eq!(s(&got, "/spec/project"), "team-a");
    let v = server.get("/api/v1/applications/nope", 403);
    assert!(s(&v, "/message").contains("permission denied"), "{v}");
    server.get("/api/v1/applications/nope?project=default", 404);
    let got = server.get("/api/v1/applications/solo?refresh=hard", 200);
    let ann = "/metadata/annotations/argocd.argoproj.io~1refresh";
    assert_eq!(s(&got, ann), "hard", "{got}");
    let live = cluster.get("application", NS, "solo").unwrap();
    assert_eq!(s(&live, ann), "hard");
    poll(
        "the refresh annotation in the cache",
        Duration::from_secs(30),
        || server.log_text(),
        || (s(&server.get("/api/v1/applications/solo", 200), ann) == "hard").then_some(()),
    );

    // Projects, settings, version.
    let v = server.get("/api/v1/projects", 200);
    let names: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| s(p, "/metadata/name"))
        .collect();
    assert_eq!(names, vec!["default", "team-a"]);
    server.get("/api/v1/projects/team-a", 200);
    server.get("/api/v1/projects/nope", 404);
    let (code, body) = server.call_anonymous("GET", "/api/v1/settings", None);
    assert_eq!(code, 200, "settings need no session: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["clusterReachable"], json!(true), "{v}");
    assert_eq!(v["controllerNamespace"], json!(NS));
    assert_eq!(v["appLabelKey"], json!("app.kubernetes.io/instance"));
    let v = server.get("/api/version", 200);
    assert!(s(&v, "/Version").starts_with('v'), "{v}");
    assert!(
        !s(&v, "/GitCommit").is_empty(),
        "logged in: build details: {v}"
    );
    let (_, body) = server.call_anonymous("GET", "/api/version", None);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v.get("GitCommit").is_none(), "anonymous: Version only: {v}");

    // The stream: replay of one app by name, then its change.
    let one = server.stream(&format!("{STREAM}?name=solo"));
    assert_eq!(one.next(), ("ADDED".to_string(), "solo".to_string()));
    // From the list's resourceVersion, in project team-a only: no replay, and app-002's change
    // (project default) is filtered out.
    let rv = s(
        &server.get("/api/v1/applications", 200),
        "/metadata/resourceVersion",
    )
    .to_string();
    let team = server.stream(&format!("{STREAM}?resourceVersion={rv}&projects=team-a"));
    let every = server.stream(&format!("{STREAM}?resourceVersion={rv}"));
    std::thread::sleep(Duration::from_millis(500));
    cluster.kubectl_ok(&["-n", NS, "label", "application", "app-002", "touched=1"]);
    cluster.kubectl_ok(&["-n", NS, "label", "application", "solo", "touched=1"]);
    assert_eq!(one.next(), ("MODIFIED".to_string(), "solo".to_string()));
    // The reader's stream: solo's refresh, then its label; never app-002 (not readable).
    loop {
        let v = reader_stream.next_value();
        assert_eq!(s(&v, "/result/application/metadata/name"), "solo", "{v}");
        assert_eq!(s(&v, "/result/type"), "MODIFIED", "{v}");
        if s(&v, "/result/application/metadata/labels/touched") == "1" {
            break;
        }
    }
    assert_eq!(team.next(), ("MODIFIED".to_string(), "solo".to_string()));
    assert_eq!(
        every.next(),
        ("MODIFIED".to_string(), "app-002".to_string())
    );
    assert_eq!(every.next(), ("MODIFIED".to_string(), "solo".to_string()));
    cluster.kubectl_ok(&["-n", NS, "delete", "application", "app-003"]);
    assert_eq!(every.next(), ("DELETED".to_string(), "app-003".to_string()));
}

/// Stands in for the API server once the test has stopped it.
struct Stopped;

impl LocalApi for Stopped {
    fn kubeconfig(&self) -> PathBuf {
        PathBuf::new()
    }
    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 1))
    }
}

#[test]
fn server_keeps_serving_from_its_cache_when_the_cluster_is_unreachable() {
    require_tools!(KUBECTL, CURL);
    let mut cluster = Cluster::start();
    prepare(&cluster);
    let apps = (0..3)
        .map(|i| {
            app(
                &format!("kept-{i}"),
                "default",
                "https://git.example/a.git",
                json!({}),
            )
        })
        .collect();
    apply_all(&cluster, apps);
    let server = ApiServer::start(&cluster);
    wait_count(&server, 3);
    let reachable = |server: &ApiServer| {
        let (_, body) = server.call_anonymous("GET", "/api/v1/settings", None);
        serde_json::from_str::<Value>(&body).unwrap_or(Value::Null)["clusterReachable"].clone()
    };
    assert_eq!(reachable(&server), json!(true));

    // Stop the API server (local process or real control plane).
    let gone = std::mem::replace(&mut cluster.0.server, Backend::Local(Box::new(Stopped)));
    drop(gone);
    poll(
        "settings to say clusterReachable false",
        Duration::from_secs(60),
        || server.log_text(),
        || (reachable(&server) == json!(false)).then_some(()),
    );
    assert_eq!(names(&server, ""), vec!["kept-0", "kept-1", "kept-2"]);
    let got = server.get("/api/v1/applications/kept-1", 200);
    assert_eq!(s(&got, "/metadata/name"), "kept-1");
    assert!(
        server.log_text().contains("unreachable"),
        "the server logs the lost API: {}",
        server.log_text()
    );
}

#[test]
fn server_serves_tls_from_files_or_self_signed_and_refuses_half_tls_flags() {
    require_tools!(KUBECTL, CURL, OPENSSL);
    // Half the TLS flags: a clear error naming the missing one, before anything starts.
    let out = Command::new(FJORD)
        .args(["server", "--tls-cert", "/nonexistent/tls.crt"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tls-key"), "{err}");

    let cluster = Cluster::start();
    prepare(&cluster);
    apply_all(
        &cluster,
        vec![app(
            "tls-app",
            "default",
            "https://git.example/a.git",
            json!({}),
        )],
    );
    let server = ApiServer::start_with(&cluster, &["--self-signed-tls"]);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    wait_count(&server, 1);
    // Plain HTTP to the TLS port gets no API answer.
    let plain = server.url.replacen("https:", "http:", 1);
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5", "-w", "%{http_code}"])
        .arg(format!("{plain}/api/v1/settings"))
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stdout).ends_with("200"),
        "plain HTTP answered"
    );
    drop(server);

    // A certificate and key from files (openssl), and a key file that is not a key.
    let dir = cluster.dir.path();
    let (crt, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .unwrap();
    assert!(ok.status.success(), "openssl: {}", common::text(&ok));
    let (crt_s, key_s) = (crt.to_str().unwrap(), key.to_str().unwrap());
    let server = ApiServer::start_with(&cluster, &["--tls-cert", crt_s, "--tls-key", key_s]);
    assert!(server.url.starts_with("https://"), "{}", server.url);
    assert_eq!(names(&server, ""), vec!["tls-app"]);
    drop(server);
    let out = cluster.fjord(&[
        "server",
        "--addr",
        "127.0.0.1:0",
        "--tls-cert",
        crt_s,
        "--tls-key",
        crt_s,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TLS key") && err.contains("tls.crt"), "{err}");
}
