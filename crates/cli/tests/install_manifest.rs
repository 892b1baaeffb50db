//! `manifests/install.yaml` and `manifests/namespace-install.yaml`: what `fjord install
//! [--namespace-install] --dry-run -o yaml` prints, so the shipped files never drift from the
//! code. `FJORD_UPDATE_MANIFESTS=1 cargo test -p fjord --test install_manifest` rewrites them;
//! without it a difference fails. Bad flags are refused naming the flag.

mod common;

use common::{fjord, text};

fn path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../manifests")
        .join(name)
}

/// `fjord install ARGS --dry-run -o yaml`.
fn generated(extra: &[&str]) -> String {
    let mut args = vec!["install", "--dry-run", "-o", "yaml"];
    args.extend(extra);
    let out = fjord().run(&args);
    assert!(out.status.success(), "fjord {args:?}: {}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn check(file: &str, extra: &[&str]) -> String {
    let want = generated(extra);
    if std::env::var("FJORD_UPDATE_MANIFESTS").as_deref() == Ok("1") {
        std::fs::write(path(file), &want).unwrap();
    }
    let have = std::fs::read_to_string(path(file)).unwrap_or_default();
    assert!(
        have == want,
        "manifests/{file} differs from `fjord install {extra:?} --dry-run -o yaml`; run \
         FJORD_UPDATE_MANIFESTS=1 cargo test -p fjord --test install_manifest"
    );
    want
}

#[test]
fn the_checked_in_install_manifest_is_what_the_code_generates() {
    let text = check("install.yaml", &[]);
    for want in [
        "kind: ClusterRole\n",
        "kind: ClusterRoleBinding\n",
        "name: applications.argoproj.io\n",
        "name: sealedsecrets.bitnami.com\n",
        "name: clustersecretstores.external-secrets.io\n",
        &format!("image: fjord:{}\n", env!("CARGO_PKG_VERSION")),
        "- --leader-elect\n",
        "- --namespace=argocd\n",
        "- --cache-dir=/var/cache/fjord\n",
        "name: sealed-secrets-controller\n  namespace: kube-system\n",
    ] {
        assert!(text.contains(want), "install.yaml lacks {want:?}");
    }
    for verb in ["escalate", "bind", "impersonate"] {
        assert!(!text.contains(&format!("- {verb}\n")), "{verb} granted");
    }
    // Every rule of the ClusterRole says why it is there.
    let role = text
        .split("\n---\n")
        .find(|d| d.contains("kind: ClusterRole\n"))
        .unwrap();
    let rules = role.matches("\n- apiGroups:").count();
    let reasons = role
        .lines()
        .zip(role.lines().skip(1))
        .filter(|(a, b)| a.starts_with('#') && b.starts_with("- apiGroups:"))
        .count();
    assert!(
        rules >= 5 && rules == reasons,
        "{rules} rules, {reasons} reasons"
    );
}

#[test]
fn the_checked_in_namespace_install_manifest_is_what_the_code_generates() {
    let text = check("namespace-install.yaml", &["--namespace-install"]);
    assert!(!text.contains("kind: ClusterRole"), "cluster RBAC");
    assert!(text.contains("kind: Role\n") && text.contains("kind: RoleBinding\n"));
    assert!(text.contains("- --namespaced\n"));
    assert!(text.contains("name: appprojects.argoproj.io\n"), "CRDs");
}

#[test]
fn json_output_is_one_list_and_the_image_flag_is_used() {
    let out = fjord().run(&[
        "install",
        "--dry-run",
        "-o",
        "json",
        "--namespace",
        "team",
        "--image",
        "reg/fjord:1",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().unwrap();
    let deploy = items.iter().find(|i| i["kind"] == "Deployment").unwrap();
    assert_eq!(deploy["metadata"]["namespace"], "team");
    let c = &deploy["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "reg/fjord:1");
    assert!(c["args"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("--namespace=team")));
    assert_eq!(
        items
            .iter()
            .filter(|i| i["kind"] == "CustomResourceDefinition")
            .count(),
        7
    );
}

#[test]
fn bad_flags_are_refused_naming_the_flag() {
    for (args, flag) in [
        (
            vec!["install", "--namespace", "Bad_NS", "--dry-run"],
            "--namespace",
        ),
        (vec!["install", "--image", "", "--dry-run"], "--image"),
        (vec!["install", "-o", "yaml"], "--dry-run"),
        (vec!["install", "--dry-run", "-o", "toml"], "--output"),
    ] {
        let out = fjord().run(&args);
        assert!(!out.status.success(), "{args:?} accepted");
        assert!(out.stdout.is_empty(), "{args:?} printed objects");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{args:?}: {err}");
    }
}

/// The Sealed Secrets controller runs as its own Deployment in kube-system: the Service
/// `sealed-secrets-controller` selects those Pods (a Service reaches only Pods of its own
/// namespace), with their own ServiceAccount and narrow RBAC; the app controller runs with
/// `--sealed-secrets=false`.
#[test]
fn sealed_secrets_runs_in_kube_system_behind_its_service_with_narrow_rbac() {
    let out = fjord().run(&["install", "--dry-run", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = list["items"].as_array().unwrap();
    let find = |kind: &str, name: &str| {
        items
            .iter()
            .find(|i| i["kind"] == kind && i["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
            .clone()
    };
    let svc = find("Service", "sealed-secrets-controller");
    let dep = find("Deployment", "sealed-secrets-controller");
    assert_eq!(svc["metadata"]["namespace"], "kube-system");
    assert_eq!(dep["metadata"]["namespace"], "kube-system");
    assert_eq!(svc["spec"]["ports"][0]["name"], "http");
    assert_eq!(svc["spec"]["ports"][0]["port"], 8080);
    let pod = &dep["spec"]["template"];
    for (k, v) in svc["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&pod["metadata"]["labels"][k], v, "selector {k}");
    }
    assert_eq!(
        pod["spec"]["serviceAccountName"],
        "sealed-secrets-controller"
    );
    let c = &pod["spec"]["containers"][0];
    assert_eq!(c["args"][0], "sealed-secrets-controller");
    assert_eq!(c["ports"][0]["name"], "http");
    let sa = find("ServiceAccount", "sealed-secrets-controller");
    assert_eq!(sa["metadata"]["namespace"], "kube-system");
    let main = find("Deployment", "fjord-controller");
    let args = main["spec"]["template"]["spec"]["containers"][0]["args"].clone();
    let args: Vec<&str> = args
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert!(args.contains(&"--sealed-secrets=false"), "{args:?}");
    assert!(
        !args.iter().any(|a| a.starts_with("--sealed-secrets-addr")),
        "{args:?}"
    );
    // The app controller's Pods are no longer behind a kube-system Service.
    assert!(items
        .iter()
        .filter(|i| i["kind"] == "Service")
        .all(
            |s| s["spec"]["selector"]["app.kubernetes.io/name"] != "fjord-controller"
                || s["metadata"]["namespace"] == "argocd"
        ));
    // RBAC: bound to that ServiceAccount; no escalate/bind/impersonate/delete; Secrets only
    // read, created and updated; Leases only in kube-system.
    for (kind, ns) in [
        ("ClusterRoleBinding", None),
        ("RoleBinding", Some("kube-system")),
    ] {
        let b = find(kind, "fjord-sealed-secrets");
        assert_eq!(b["subjects"][0]["name"], "sealed-secrets-controller");
        assert_eq!(b["subjects"][0]["namespace"], "kube-system");
        assert_eq!(b["roleRef"]["name"], "fjord-sealed-secrets");
        if let Some(ns) = ns {
            assert_eq!(b["metadata"]["namespace"], ns);
        }
    }
    let cluster = find("ClusterRole", "fjord-sealed-secrets");
    let role = find("Role", "fjord-sealed-secrets");
    assert_eq!(role["metadata"]["namespace"], "kube-system");
    let verbs_of = |r: &serde_json::Value, resource: &str| -> Vec<String> {
        r["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|rule| {
                rule["resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x == resource)
            })
            .flat_map(|rule| rule["verbs"].as_array().unwrap().clone())
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    for r in [&cluster, &role] {
        for rule in r["rules"].as_array().unwrap() {
            for bad in ["escalate", "bind", "impersonate", "delete", "*"] {
                assert!(
                    !rule["verbs"].as_array().unwrap().iter().any(|v| v == bad),
                    "{bad}: {rule}"
                );
            }
            assert!(
                !rule["resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|v| v == "*"),
                "{rule}"
            );
        }
    }
    assert_eq!(
        verbs_of(&cluster, "secrets"),
        ["get", "list", "watch", "create", "update"]
    );
    assert_eq!(verbs_of(&cluster, "sealedsecrets/status"), ["patch"]);
    assert!(
        verbs_of(&cluster, "leases").is_empty(),
        "Leases cluster-wide"
    );
    assert_eq!(verbs_of(&role, "leases"), ["get", "create", "update"]);
    // Each of those rules says why (the Secret verbs included) in install.yaml.
    let yaml = generated(&[]);
    for doc in yaml
        .split("\n---\n")
        .filter(|d| d.contains("name: fjord-sealed-secrets\n") && d.contains("\nrules:\n"))
    {
        let rules = doc.matches("\n- apiGroups:").count();
        let reasons = doc
            .lines()
            .zip(doc.lines().skip(1))
            .filter(|(a, b)| a.starts_with('#') && b.starts_with("- apiGroups:"))
            .count();
        assert!(
            rules >= 1 && rules == reasons,
            "{rules} rules, {reasons} reasons"
        );
    }
    assert!(yaml.contains("# Secrets: the unsealed Secrets are created and updated"));
}

/// `fjord sealed-secrets-controller` refuses, before connecting anywhere, flags that would run
/// nothing or shard a singleton, naming the flag; its Lease defaults to its own name.
#[test]
fn sealed_secrets_controller_refuses_flags_that_make_no_sense() {
    for (args, flag) in [
        (
            vec!["sealed-secrets-controller", "--sealed-secrets=false"],
            "--sealed-secrets=false",
        ),
        (
            vec!["sealed-secrets-controller", "--shards", "2"],
            "--shards",
        ),
        (
            vec![
                "sealed-secrets-controller",
                "--leader-elect",
                "--leader-elect-renew-deadline",
                "20s",
            ],
            "--leader-elect-renew-deadline",
        ),
    ] {
        let out = fjord().run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    let help = fjord().run(&["sealed-secrets-controller", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("[default: sealed-secrets-controller]"),
        "{help}"
    );
    assert!(help.contains("--sealed-secrets-key-namespace"), "{help}");
}

/// The API server and web UI (`fjord server`): its own ServiceAccount, Deployment (hardened as
/// the controller's, probes on /api/version, a bounded cache at --cache-dir) and Service
/// `fjord-server` (http 80 -> 8088); RBAC that writes only Applications, AppProjects and, in its
/// namespace, its two Secrets, each rule with its reason; Roles only in the namespace install.
#[test]
fn the_server_runs_hardened_with_least_privilege_rbac() {
    let items = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["install", "--dry-run", "-o", "json"];
        args.extend(extra);
        let out = fjord().run(&args);
        assert!(out.status.success(), "{}", text(&out));
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        list["items"].as_array().unwrap().clone()
    };
    let cluster = items(&[]);
    let find = |items: &[serde_json::Value], kind: &str| {
        items
            .iter()
            .find(|i| i["kind"] == kind && i["metadata"]["name"] == "fjord-server")
            .unwrap_or_else(|| panic!("no {kind} fjord-server"))
            .clone()
    };
    let dep = find(&cluster, "Deployment");
    let pod = &dep["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "fjord-server");
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let c = &pod["containers"][0];
    assert_eq!(
        c["args"],
        serde_json::json!([
            "server",
            "--addr=0.0.0.0:8088",
            "--namespace=argocd",
            "--cache-dir=/var/cache/fjord"
        ])
    );
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
    assert!(c["resources"]["limits"]["memory"].is_string());
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(c[probe]["httpGet"]["path"], "/api/version", "{probe}");
        assert_eq!(c[probe]["httpGet"]["port"], "http", "{probe}");
    }
    assert_eq!(c["ports"][0]["containerPort"], 8088);
    let cache = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == "/var/cache/fjord")
        .expect("the cache mounted at --cache-dir");
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == cache["name"])
        .unwrap();
    assert!(volume["emptyDir"]["sizeLimit"].is_string(), "{volume}");
    let svc = find(&cluster, "Service");
    assert_eq!(
        svc["spec"]["ports"][0],
        serde_json::json!({"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"})
    );
    for (k, v) in svc["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&dep["spec"]["template"]["metadata"]["labels"][k], v);
    }

    // Writes: Applications (patch, update, delete), AppProjects (patch, update), and in the
    // install namespace only the two Secrets by name; everything else read only.
    let writes = |role: &serde_json::Value| -> Vec<String> {
        let mut out = Vec::new();
        for rule in role["rules"].as_array().unwrap() {
            for v in rule["verbs"].as_array().unwrap() {
                let v = v.as_str().unwrap();
                assert!(
                    !["*", "escalate", "bind", "impersonate"].contains(&v),
                    "{rule}"
                );
                if !["get", "list", "watch"].contains(&v) {
                    for r in rule["resources"].as_array().unwrap() {
                        let names = rule["resourceNames"].to_string();
                        out.push(format!("{} {v} {names}", r.as_str().unwrap()));
                    }
                }
            }
        }
        out
    };
    let cluster_role = find(&cluster, "ClusterRole");
    assert_eq!(
        writes(&cluster_role),
        [
            "applications patch null",
            "applications update null",
            "applications delete null",
            "appprojects patch null",
            "appprojects update null"
        ]
    );
    let role = find(&cluster, "Role");
    assert_eq!(role["metadata"]["namespace"], "argocd");
    let names = "[\"argocd-secret\",\"argocd-initial-admin-secret\"]";
    assert_eq!(
        writes(&role),
        [
            "secrets create null".to_string(),
            format!("secrets update {names}"),
            format!("secrets patch {names}")
        ]
    );
    for kind in ["ClusterRoleBinding", "RoleBinding"] {
        let b = find(&cluster, kind);
        assert_eq!(b["subjects"][0]["name"], "fjord-server", "{kind}");
        assert_eq!(b["subjects"][0]["namespace"], "argocd", "{kind}");
    }
    // Each rule's reason is a comment above it in install.yaml.
    let yaml = generated(&[]);
    for doc in yaml
        .split("\n---\n")
        .filter(|d| d.contains("  name: fjord-server\n") && d.contains("\nrules:\n"))
    {
        let rules = doc.matches("\n- apiGroups:").count();
        let reasons = doc
            .lines()
            .zip(doc.lines().skip(1))
            .filter(|(a, b)| a.starts_with('#') && b.starts_with("- apiGroups:"))
            .count();
        assert!(
            rules >= 3 && rules == reasons,
            "{rules} rules, {reasons} reasons"
        );
    }

    // The namespace install: one Role with every rule, in the namespace; no cluster RBAC.
    let narrow = items(&["--namespace-install", "-n", "team"]);
    let role = find(&narrow, "Role");
    assert_eq!(role["metadata"]["namespace"], "team");
    assert_eq!(
        role["rules"].as_array().unwrap().len(),
        cluster_role["rules"].as_array().unwrap().len()
            + find(&cluster, "Role")["rules"].as_array().unwrap().len()
    );
    assert_eq!(
        find(&narrow, "RoleBinding")["subjects"][0]["namespace"],
        "team"
    );
    assert!(!narrow
        .iter()
        .any(|i| i["kind"].as_str().unwrap().starts_with("Cluster")
            && i["metadata"]["name"] == "fjord-server"));
    let c = &find(&narrow, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["args"][2], "--namespace=team");
}
