//! `fjord server` authentication and RBAC end to end, through the built binary on either
//! backend: the first-start admin bootstrap (bcrypt hash, signing key, initial admin Secret),
//! login and its cookie, wrong passwords and the lock after five failures, session expiry
//! (`users.session.duration`), the CSRF guard (415 without JSON, 403 for a foreign Origin),
//! `argocd-rbac-cm` (a read-only local account: lists filtered, a denied project hidden, sync
//! refused), project-role tokens for CI (their project only; revoked by deleting the entry),
//! and no secret value in any response. HTTP goes through `curl`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{poll, s, server, Cluster, NS};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{CURL, KUBECTL};
use serde_json::{json, Value};

/// The password of the local accounts `alice` and `carol`, and its bcrypt hash (cost 10).
const PASSWORD: &str = "alice-pass-42";
const HASH: &str = "$2b$10$gQIct9.HQS//SAocnZ.pV.0mvjIKSbyf9IeN90A0CKePvmKxTfQuO";

/// One answer: status, headers (lowercased names), body.
struct Answer {
    code: u16,
    headers: String,
    body: String,
}

/// `fjord server` as a child process (the test logs in itself); every answer is kept to check
/// for secrets.
struct ApiServer {
    inner: server::ApiServer,
    seen: std::cell::RefCell<Vec<String>>,
}

impl ApiServer {
    fn start(cluster: &Cluster) -> ApiServer {
        ApiServer::spawn(&cluster.kubeconfig, cluster.dir.path(), "server")
    }

    /// `fjord server` on `kubeconfig`, its log `<dir>/<name>.log`.
    fn spawn(kubeconfig: &Path, dir: &Path, name: &str) -> ApiServer {
        let env = [("FJORD_LOGIN_FAILURE_DELAY_MS", "20")];
        ApiServer {
            inner: server::ApiServer::spawn(kubeconfig, dir, name, &[], &env),
            seen: Default::default(),
        }
    }

    /// One request: `headers` as `Name: value`; a body is sent as given.
    fn call(&self, method: &str, path: &str, headers: &[&str], body: Option<&str>) -> Answer {
        let a = self
            .inner
            .send(method, path, headers, body.map(str::as_bytes));
        self.seen
            .borrow_mut()
            .push(format!("{}\n\n{}", a.head, a.body));
        Answer {
            code: a.code,
            headers: a.head.to_ascii_lowercase(),
            body: a.body,
        }
    }

    /// A JSON write with a token (`None`: none).
    fn write(&self, method: &str, path: &str, token: Option<&str>, body: &Value) -> Answer {
        let auth = token.map(|t| format!("Authorization: Bearer {t}"));
        let mut h = vec!["Content-Type: application/json"];
        h.extend(auth.as_deref());
        self.call(method, path, &h, Some(&body.to_string()))
    }

    /// A GET with a token.
    fn get(&self, path: &str, token: &str) -> Answer {
        self.call(
            "GET",
            path,
            &[&format!("Authorization: Bearer {token}")],
            None,
        )
    }

    /// Logs in; the answer (200 with a token, or the failure).
    fn login(&self, user: &str, password: &str) -> Answer {
        self.write(
            "POST",
            "/api/v1/session",
            None,
            &json!({"username": user, "password": password}),
        )
    }

    /// The token of a successful login.
    fn token(&self, user: &str, password: &str) -> String {
        let a = self.login(user, password);
        assert_eq!(a.code, 200, "login {user}: {}\n{}", a.body, self.log_text());
        let v: Value = serde_json::from_str(&a.body).unwrap();
        s(&v, "/token").to_string()
    }

    fn names(&self, token: &str) -> Vec<String> {
        let a = self.get("/api/v1/applications", token);
        assert_eq!(a.code, 200, "{}", a.body);
        let v: Value = serde_json::from_str(&a.body).unwrap();
        let mut out: Vec<String> = v["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|a| s(a, "/metadata/name").to_string())
            .collect();
        out.sort();
        out
    }

    fn log_text(&self) -> String {
        self.inner.log_text()
    }
}

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn unb64(text: &str) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

/// Namespace, CRDs, projects, apps, accounts and the RBAC policy.
fn prepare(cluster: &Cluster) {
    cluster.kubectl_ok(&["create", "namespace", NS]);
    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds.yaml");
    cluster.kubectl_ok(&["apply", "--server-side", "-f", crds.to_str().unwrap()]);
    cluster.wait_argoproj_crds();
    let ci = json!([{"name": "ci", "groups": ["ci-bots"], "policies": [
        "p, proj:team-a:ci, applications, get, team-a/*, allow",
        "p, proj:team-a:ci, applications, sync, team-a/*, allow",
    ]}]);
    for p in ["team-a", "team-b"] {
        let roles = if p == "team-a" { ci.clone() } else { json!([]) };
        cluster.apply_json(&json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
            "metadata": {"name": p, "namespace": NS},
            "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}],
                     "roles": roles},
        }));
    }
    for (name, project) in [("a1", "team-a"), ("b1", "team-b")] {
        cluster.apply_json(&json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"project": project,
                     "source": {"repoURL": "https://git.example/r.git", "path": "."},
                     "destination": {"server": "https://kubernetes.default.svc",
                                     "namespace": "default"}},
        }));
    }
    cluster.apply_json(&json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": NS},
        "data": {"accounts.alice": "login", "accounts.carol": "login"},
    }));
    cluster.apply_json(&json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "argocd-rbac-cm", "namespace": NS},
        "data": {"policy.csv": "g, alice, role:readonly\n\
                                p, alice, applications, get, team-b/*, deny\n"},
    }));
    // An argocd-secret without key or admin password: the server adds them.
    cluster.apply_json(&json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "argocd-secret", "namespace": NS},
        "data": {"accounts.alice.password": b64(HASH), "accounts.carol.password": b64(HASH)},
    }));
}

/// The decoded data of a Secret.
fn secret(cluster: &Cluster, name: &str) -> serde_json::Map<String, Value> {
    let v = cluster
        .get("Secret", NS, name)
        .unwrap_or_else(|| panic!("Secret {name}"));
    v["data"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), json!(unb64(v.as_str().unwrap()))))
        .collect()
}

#[test]
fn server_auth_sessions_csrf_rbac_and_project_tokens() {
    require_tools!(KUBECTL, CURL);
    let cluster = Cluster::start();
    prepare(&cluster);
    let server = ApiServer::start(&cluster);

    // Bootstrap: a bcrypt hash, a key, and the plaintext in the initial admin Secret.
    let initial = secret(&cluster, "argocd-initial-admin-secret");
    let admin_pw = s(&Value::Object(initial), "/password").to_string();
    assert_eq!(admin_pw.len(), 16);
    let argocd = secret(&cluster, "argocd-secret");
    let hash = argocd["admin.password"].as_str().unwrap().to_string();
    assert!(
        hash.starts_with("$2") && !hash.contains(&admin_pw),
        "a bcrypt hash"
    );
    assert!(!s(&argocd["admin.passwordMtime"], "").is_empty());
    let key = argocd["server.secretkey"].as_str().unwrap().to_string();
    assert!(key.len() >= 40, "a 32-byte key, base64");

    sessions(&server, &admin_pw);
    lockout(&server);
    csrf(&server, &admin_pw);
    rbac(&server);
    project_tokens(&server, &cluster, &admin_pw);
    expiry(&server, &cluster, &admin_pw);

    // No secret value in any answer.
    for text in server.seen.borrow().iter() {
        for secret in [admin_pw.as_str(), &hash, &key, PASSWORD, HASH] {
            assert!(
                !text.contains(secret),
                "a secret value in an answer:\n{text}"
            );
        }
    }
}

/// Login, the cookie, userinfo, 401s.
fn sessions(server: &ApiServer, admin_pw: &str) {
    let a = server.login("admin", admin_pw);
    assert_eq!(a.code, 200, "{}\n{}", a.body, server.log_text());
    let cookie = a
        .headers
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {}", a.headers))
        .to_string();
    for attr in ["argocd.token=", "path=/", "httponly", "samesite=lax"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    assert!(
        !cookie.contains("secure"),
        "plain HTTP: no Secure: {cookie}"
    );
    let token = s(&serde_json::from_str(&a.body).unwrap(), "/token").to_string();
    let jwt = cookie
        .split("argocd.token=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    assert_eq!(jwt, token.to_ascii_lowercase());

    let me = server.call(
        "GET",
        "/api/v1/session/userinfo",
        &[&format!("Cookie: argocd.token={token}")],
        None,
    );
    let v: Value = serde_json::from_str(&me.body).unwrap();
    assert_eq!(
        (v["loggedIn"].clone(), s(&v, "/username")),
        (json!(true), "admin"),
        "{v}"
    );
    assert_eq!(s(&v, "/iss"), "argocd");
    let anon = server.call("GET", "/api/v1/session/userinfo", &[], None);
    assert_eq!(anon.code, 200);
    assert!(anon.body.contains("\"loggedIn\":false"), "{}", anon.body);

    let none = server.call("GET", "/api/v1/applications", &[], None);
    assert_eq!(none.code, 401, "{}", none.body);
    let bad = server.get("/api/v1/applications", "not.a.token");
    assert_eq!(bad.code, 401, "{}", bad.body);
    assert!(
        !bad.body.contains("not.a.token"),
        "the token is never echoed"
    );
    let out = server.write("DELETE", "/api/v1/session", Some(&token), &json!({}));
    assert_eq!(out.code, 200, "{}", out.body);
    assert!(
        out.headers.contains("argocd.token=;"),
        "logout clears the cookie: {}",
        out.headers
    );
}

/// Wrong passwords: 401 with one message; the sixth attempt is locked even when right.
fn lockout(server: &ApiServer) {
    for i in 0..5 {
        let a = server.login("carol", "wrong");
        assert_eq!(a.code, 401, "attempt {i}: {}", a.body);
        assert!(
            a.body.contains("Invalid username or password"),
            "{}",
            a.body
        );
    }
    let a = server.login("carol", PASSWORD);
    assert_eq!(a.code, 401, "locked after five failures: {}", a.body);
    assert!(
        a.body.contains("Invalid username or password"),
        "{}",
        a.body
    );
    let a = server.login("nobody", PASSWORD);
    assert_eq!(a.code, 401, "{}", a.body);
}

/// 415 without a JSON content type; 403 for a foreign Origin; the own origin passes.
fn csrf(server: &ApiServer, admin_pw: &str) {
    let body = json!({"username": "admin", "password": admin_pw}).to_string();
    let a = server.call(
        "POST",
        "/api/v1/session",
        &["Content-Type: text/plain"],
        Some(&body),
    );
    assert_eq!(a.code, 415, "{}", a.body);
    assert!(a.body.contains("application/json"), "{}", a.body);
    let json_ct = "Content-Type: application/json";
    let evil = server.call(
        "POST",
        "/api/v1/session",
        &[json_ct, "Origin: https://evil.example"],
        Some(&body),
    );
    assert_eq!(evil.code, 403, "{}", evil.body);
    let own = format!("Origin: {}", server.inner.url);
    let ok = server.call("POST", "/api/v1/session", &[json_ct, &own], Some(&body));
    assert_eq!(ok.code, 200, "{}", ok.body);
}

/// A read-only account: filtered lists, a denied project hidden, sync refused.
fn rbac(server: &ApiServer) {
    let alice = server.token("alice", PASSWORD);
    poll(
        "alice's list",
        Duration::from_secs(60),
        || server.log_text(),
        || (server.names(&alice) == ["a1"]).then_some(()),
    );
    assert_eq!(server.get("/api/v1/applications/b1", &alice).code, 403);
    let can = |path: &str| {
        let a = server.get(&format!("/api/v1/account/can-i/{path}"), &alice);
        assert_eq!(a.code, 200, "{}", a.body);
        s(&serde_json::from_str(&a.body).unwrap(), "/value").to_string()
    };
    assert_eq!(can("applications/get/team-a/a1"), "yes");
    assert_eq!(can("applications/sync/team-a/a1"), "no");
    assert_eq!(can("applications/get/team-b/b1"), "no");
    let sync = server.write(
        "POST",
        "/api/v1/applications/a1/sync",
        Some(&alice),
        &json!({}),
    );
    assert_eq!(sync.code, 403, "{}", sync.body);
    assert!(sync.body.contains("permission denied"), "{}", sync.body);
    // alice may not mint project tokens.
    let t = server.write(
        "POST",
        "/api/v1/projects/team-a/roles/ci/token",
        Some(&alice),
        &json!({}),
    );
    assert_eq!(t.code, 403, "{}", t.body);
}

/// A project-role token works for its project only, until its entry is deleted.
fn project_tokens(server: &ApiServer, cluster: &Cluster, admin_pw: &str) {
    let admin = server.token("admin", admin_pw);
    let path = "/api/v1/projects/team-a/roles/ci/token";
    let a = server.write(
        "POST",
        path,
        Some(&admin),
        &json!({"expiresIn": "3600", "id": "ci-1"}),
    );
    assert_eq!(a.code, 200, "{}\n{}", a.body, server.log_text());
    let ci = s(&serde_json::from_str(&a.body).unwrap(), "/token").to_string();
    let again = server.write("POST", path, Some(&admin), &json!({"id": "ci-1"}));
    assert_eq!(again.code, 409, "a duplicate id: {}", again.body);
    let proj = cluster.get("AppProject", NS, "team-a").unwrap();
    let item = &proj["status"]["jwtTokensByRole"]["ci"]["items"][0];
    assert_eq!(s(item, "/id"), "ci-1", "{proj}");
    let iat = item["iat"].as_i64().unwrap();
    assert!(item["exp"].as_i64().unwrap() >= iat + 3600);

    let a1 = server.get("/api/v1/applications/a1", &ci);
    assert_eq!(a1.code, 200, "{}", a1.body);
    assert_eq!(server.get("/api/v1/applications/b1", &ci).code, 403);
    assert_eq!(server.names(&ci), ["a1"]);
    let can = server.get("/api/v1/account/can-i/applications/sync/team-b/b1", &ci);
    assert!(can.body.contains("\"no\""), "{}", can.body);

    let del = server.write("DELETE", &format!("{path}/{iat}"), Some(&admin), &json!({}));
    assert_eq!(del.code, 200, "{}", del.body);
    poll(
        "the revoked token refused",
        Duration::from_secs(30),
        || server.log_text(),
        || (server.get("/api/v1/applications/a1", &ci).code == 401).then_some(()),
    );
}

/// `users.session.duration: 2s`: a session expires.
fn expiry(server: &ApiServer, cluster: &Cluster, admin_pw: &str) {
    cluster.kubectl_ok(&[
        "-n",
        NS,
        "patch",
        "configmap",
        "argocd-cm",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"users.session.duration":"2s"}}"#,
    ]);
    poll(
        "a 2 s session expires",
        Duration::from_secs(60),
        || server.log_text(),
        || {
            let t = server.token("admin", admin_pw);
            std::thread::sleep(Duration::from_millis(3100));
            let a = server.get("/api/v1/applications", &t);
            (a.code == 401 && a.body.contains("expired")).then_some(())
        },
    );
}

/// Two servers starting at once on an empty namespace generate one admin password between them
/// (both accept it; a restart keeps it); `admin.enabled: "false"` and policy changes are
/// followed without a restart.
#[test]
fn server_auth_bootstraps_once_and_follows_settings() {
    require_tools!(KUBECTL, CURL);
    let cluster = Cluster::start();
    prepare(&cluster);
    let (kc, dir) = (cluster.kubeconfig.clone(), cluster.dir.path().to_path_buf());
    let (one, two) = std::thread::scope(|sc| {
        let a = sc.spawn(|| ApiServer::spawn(&kc, &dir, "one"));
        let b = sc.spawn(|| ApiServer::spawn(&kc, &dir, "two"));
        (a.join().unwrap(), b.join().unwrap())
    });
    let pw = server::admin_password(|args| cluster.kubectl(args));
    let hash = secret(&cluster, "argocd-secret")["admin.password"].clone();
    for server in [&one, &two] {
        poll(
            "the initial password accepted",
            Duration::from_secs(30),
            || server.log_text(),
            || (server.login("admin", &pw).code == 200).then_some(()),
        );
    }
    drop(two);
    let three = ApiServer::start(&cluster);
    assert_eq!(
        secret(&cluster, "argocd-secret")["admin.password"],
        hash,
        "kept on restart"
    );
    assert_eq!(three.login("admin", &pw).code, 200);

    // A policy change is followed: alice becomes admin.
    let alice = one.token("alice", PASSWORD);
    let can = |t: &str| {
        one.get("/api/v1/account/can-i/applications/sync/team-a/a1", t)
            .body
    };
    assert!(can(&alice).contains("\"no\""));
    cluster.kubectl_ok(&[
        "-n",
        NS,
        "patch",
        "configmap",
        "argocd-rbac-cm",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"policy.csv":"g, alice, role:admin"}}"#,
    ]);
    poll(
        "the new policy",
        Duration::from_secs(30),
        || one.log_text(),
        || can(&alice).contains("\"yes\"").then_some(()),
    );
    // A password change (passwordMtime) ends the sessions issued before it.
    std::thread::sleep(Duration::from_millis(1100));
    let now = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    let now = String::from_utf8(now.stdout).unwrap().trim().to_string();
    let patch = json!({"data": {"accounts.alice.passwordMtime": b64(&now)}}).to_string();
    cluster.kubectl_ok(&[
        "-n",
        NS,
        "patch",
        "secret",
        "argocd-secret",
        "--type",
        "merge",
        "-p",
        &patch,
    ]);
    poll(
        "the old session refused",
        Duration::from_secs(30),
        || one.log_text(),
        || (one.get("/api/v1/applications", &alice).code == 401).then_some(()),
    );
    std::thread::sleep(Duration::from_millis(1100));
    let fresh = one.token("alice", PASSWORD);
    assert_eq!(one.get("/api/v1/applications", &fresh).code, 200);

    // admin.enabled: "false" refuses the admin's login and its existing sessions.
    let admin = one.token("admin", &pw);
    cluster.kubectl_ok(&[
        "-n",
        NS,
        "patch",
        "configmap",
        "argocd-cm",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"admin.enabled":"false"}}"#,
    ]);
    poll(
        "admin disabled",
        Duration::from_secs(30),
        || one.log_text(),
        || (one.get("/api/v1/applications", &admin).code == 401).then_some(()),
    );
    assert_eq!(one.login("admin", &pw).code, 401);
}
