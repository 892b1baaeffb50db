//! The Helm chart `charts/fjord`, checked with the real `helm` (v4.3.2, built by
//! scripts/test.sh): `helm lint --strict`, `helm template` compared object by object with
//! `manifests/install.yaml` and `manifests/namespace-install.yaml` (H-install's generated
//! manifests; Helm's labels aside), the values (replicas, shards, resources, ServiceMonitor,
//! Ingress) and the schema that refuses bad ones, and the seed's
//! `helm upgrade --install fjord charts/fjord --namespace argocd --create-namespace`.
//!
//! On the real control plane the installed ServiceAccount's token then runs the controller
//! in-cluster as a process, with the chart's Deployment arguments, and it syncs seed 002's
//! Application with no permission refused; `helm uninstall` removes what was installed. On the
//! local API the in-cluster run is left out (the local API has no RBAC or TokenRequest), and
//! `helm uninstall` keeps the release record (`--keep-history`): Helm deletes it with a
//! protobuf-encoded DeleteOptions body the local API cannot read (it answers 500).
//!
//! `charts/fjord/crds/crds.yaml` is generated from the controllers' embedded CRDs, like
//! manifests/crds.yaml: `FJORD_UPDATE_MANIFESTS=1 cargo test -p fjord --test helm_chart_e2e`
//! rewrites it; without it a difference fails.

mod common;

use common::in_cluster::{require_root, InCluster};
use common::manifests::{assert_not_refused, generated_crds, payments_base, seed_002};
use common::sealed::sealing_keys_args;
use common::{s, text, Cluster, Env, GitRepo, NS};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{GIT, HELM, KUBECTL, UNSHARE};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The chart's folder.
fn chart() -> PathBuf {
    root().join("charts/fjord")
}

/// `helm` with its configuration, cache and data in a folder of its own (no repositories, no
/// plugins, nothing of the machine's).
struct Helm {
    home: tempfile::TempDir,
}

impl Helm {
    fn new() -> Helm {
        Helm {
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let h = self.home.path();
        Command::new("helm")
            .args(args)
            .env("HELM_CACHE_HOME", h.join("cache"))
            .env("HELM_CONFIG_HOME", h.join("config"))
            .env("HELM_DATA_HOME", h.join("data"))
            .env_remove("KUBECONFIG")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "helm {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `helm template fjord charts/fjord --namespace argocd --include-crds EXTRA`, as JSON.
    fn render(&self, extra: &[&str]) -> Vec<Value> {
        let chart = chart();
        let mut args = vec![
            "template",
            "fjord",
            chart.to_str().unwrap(),
            "--namespace",
            NS,
            "--include-crds",
        ];
        args.extend_from_slice(extra);
        documents(&self.ok(&args))
    }
}

/// The non-empty documents of a YAML stream, as JSON.
fn documents(yaml: &str) -> Vec<Value> {
    fjord_yaml::parse_documents(yaml.as_bytes())
        .unwrap_or_else(|e| panic!("not YAML ({e}):\n{yaml}"))
        .iter()
        .map(|n| fjord_yaml::to_json_value(n).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

/// (kind, namespace, name) of an object.
type Key = (String, String, String);

fn key(v: &Value) -> Key {
    (
        s(v, "/kind").to_string(),
        s(v, "/metadata/namespace").to_string(),
        s(v, "/metadata/name").to_string(),
    )
}

/// The objects by key; a key twice fails.
fn by_key(objects: Vec<Value>) -> BTreeMap<Key, Value> {
    let mut out = BTreeMap::new();
    for o in objects {
        let k = key(&o);
        assert!(out.insert(k.clone(), o).is_none(), "{k:?} twice");
    }
    out
}

/// The object without its labels and annotations (Helm adds its own labels).
fn without_labels(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("labels");
        m.remove("annotations");
    }
    v
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| s(o, "/kind") == kind && s(o, "/metadata/name") == name)
        .unwrap_or_else(|| panic!("no {kind} {name} rendered"))
}

/// The controller container's arguments.
fn controller_args(objects: &[Value]) -> Vec<String> {
    let d = find(objects, "Deployment", "fjord-controller");
    d.pointer("/spec/template/spec/containers/0/args")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// Reads a generated manifest of H-install's; its absence fails (the chart must be compared).
fn install_manifest(file: &str) -> Vec<Value> {
    let path = root().join("manifests").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; the chart's default render is compared with it (fjord install --dry-run \
             -o yaml generates it)",
            path.display()
        )
    });
    documents(&text)
}

/// Every object of the install manifest, but its Namespace (Helm's `--create-namespace` makes
/// that one), renders the same in the chart, Helm's labels aside; and nothing else renders.
fn assert_same_objects(manifest: &str, install: Vec<Value>, chart: Vec<Value>) {
    let install: Vec<Value> = install
        .into_iter()
        .filter(|o| !(s(o, "/kind") == "Namespace" && s(o, "/metadata/name") == NS))
        .collect();
    let (install, chart) = (by_key(install), by_key(chart));
    let want: Vec<&Key> = install.keys().collect();
    let have: Vec<&Key> = chart.keys().collect();
    assert_eq!(
        have, want,
        "the chart renders other objects than {manifest}"
    );
    for (k, want) in &install {
        let have = &chart[k];
        assert_eq!(
            without_labels(have),
            without_labels(want),
            "{k:?} differs from {manifest}'s"
        );
    }
}

#[test]
fn the_chart_version_is_the_workspace_version() {
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let version = cargo
        .split("[workspace.package]")
        .nth(1)
        .and_then(|t| t.lines().find_map(|l| l.trim().strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').to_string())
        .expect("workspace.package.version in Cargo.toml");
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let chart_yaml = std::fs::read_to_string(chart().join("Chart.yaml")).unwrap();
    let chart = &documents(&chart_yaml)[0];
    assert_eq!(s(chart, "/apiVersion"), "v2");
    assert_eq!(s(chart, "/name"), "fjord");
    assert_eq!(s(chart, "/version"), version, "Chart.yaml version");
    assert_eq!(s(chart, "/appVersion"), version, "Chart.yaml appVersion");
}

const CRDS_HEADER: &str = "\
# Every CustomResourceDefinition fjord serves (the same as manifests/crds.yaml); Helm installs
# the files of crds/ before the templates and never upgrades or deletes them. Generated from the
# controllers' embedded CRDs by crates/cli/tests/helm_chart_e2e.rs (FJORD_UPDATE_MANIFESTS=1
# rewrites it); do not edit.
";

/// A file's lines after its leading comment lines.
fn without_header(text: &str) -> String {
    let mut lines = text.lines().skip_while(|l| l.starts_with('#'));
    let mut out = String::new();
    for l in lines.by_ref() {
        out.push_str(l);
        out.push('\n');
    }
    out
}

#[test]
fn the_chart_crds_are_what_the_code_generates() {
    let path = chart().join("crds/crds.yaml");
    let want = generated_crds(CRDS_HEADER);
    if std::env::var("FJORD_UPDATE_MANIFESTS").as_deref() == Ok("1") {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "charts/fjord/crds/crds.yaml differs from the controllers' embedded CRDs; run \
         FJORD_UPDATE_MANIFESTS=1 cargo test -p fjord --test helm_chart_e2e"
    );
    let manifest = std::fs::read_to_string(root().join("manifests/crds.yaml")).unwrap();
    assert_eq!(
        without_header(&have),
        without_header(&manifest),
        "the chart's CRDs and manifests/crds.yaml differ"
    );
    let entries: Vec<String> = std::fs::read_dir(chart().join("crds"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries, ["crds.yaml"], "only the generated file in crds/");
}

#[test]
fn helm_lints_the_chart_strictly() {
    require_tools!(HELM);
    let helm = Helm::new();
    let chart = chart();
    let chart = chart.to_str().unwrap();
    for extra in [
        &[][..],
        &["--strict"][..],
        &["--strict", "--set", "namespaceInstall=true"][..],
        &[
            "--strict",
            "--set",
            "metrics.serviceMonitor.enabled=true,webhook.ingress.enabled=true",
        ][..],
        &["--strict", "--set", "server.tls.selfSigned=true"][..],
        &["--strict", "--set", "server.enabled=false"][..],
    ] {
        let mut args = vec!["lint", chart];
        args.extend_from_slice(extra);
        let out = helm.ok(&args);
        assert!(out.contains("0 chart(s) failed"), "helm {args:?}: {out}");
    }
}

#[test]
fn the_default_render_is_the_install_manifest() {
    require_tools!(HELM);
    let helm = Helm::new();
    let chart = helm.render(&[]);
    assert!(
        !chart.iter().any(|o| s(o, "/kind") == "Namespace"),
        "the chart renders no Namespace (helm --create-namespace makes it)"
    );
    // Spelled out, so a difference in the comparison below reads plainly.
    assert_eq!(
        controller_args(&chart),
        [
            "controller",
            "--leader-elect",
            "--namespace=argocd",
            "--cache-dir=/var/cache/fjord",
            "--metrics-addr=0.0.0.0:8082",
            "--webhook-addr=0.0.0.0:8083",
            "--sealed-secrets=false",
        ]
    );
    let d = find(&chart, "Deployment", "fjord-controller");
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], format!("fjord:{}", env!("CARGO_PKG_VERSION")));
    assert_eq!(c["resources"]["limits"]["memory"], "1Gi");
    assert_eq!(c["resources"]["limits"]["cpu"], "1");
    let install = install_manifest("install.yaml");
    let roles: Vec<&Value> = install
        .iter()
        .filter(|o| s(o, "/kind") == "ClusterRole")
        .collect();
    assert_eq!(roles.len(), 3, "three ClusterRoles in install.yaml");
    for role in roles {
        let name = s(role, "/metadata/name");
        assert_eq!(
            find(&chart, "ClusterRole", name)["rules"],
            role["rules"],
            "the ClusterRole {name}'s rules"
        );
    }
    // Sealed Secrets: its own Deployment in the key namespace, behind its Service.
    let sealed = find(&chart, "Deployment", "sealed-secrets-controller");
    assert_eq!(s(sealed, "/metadata/namespace"), "kube-system");
    assert_eq!(
        s(sealed, "/spec/template/spec/containers/0/args/0"),
        "sealed-secrets-controller"
    );
    assert_same_objects("manifests/install.yaml", install, chart);

    // The namespace install: Role and RoleBinding only, `--namespaced`, nothing in kube-system.
    let chart = helm.render(&["--set", "namespaceInstall=true"]);
    assert!(controller_args(&chart).contains(&"--namespaced".to_string()));
    assert!(!chart
        .iter()
        .any(|o| s(o, "/metadata/namespace") == "kube-system"));
    assert!(!chart.iter().any(|o| s(o, "/kind").starts_with("Cluster")));
    let install = install_manifest("namespace-install.yaml");
    assert_same_objects("manifests/namespace-install.yaml", install, chart);
}

#[test]
fn values_set_replicas_shards_resources_monitor_and_ingress() {
    require_tools!(HELM);
    let helm = Helm::new();
    let objects = helm.render(&[
        "--set",
        "controller.replicas=3",
        "--set",
        "controller.shards=auto",
        "--set",
        "controller.resources.limits.memory=2Gi",
        "--set",
        "controller.extraArgs={--workers=8}",
    ]);
    let d = find(&objects, "Deployment", "fjord-controller");
    assert_eq!(d["spec"]["replicas"], 3);
    let args = controller_args(&objects);
    assert!(args.contains(&"--leader-elect".to_string()), "{args:?}");
    assert!(args.contains(&"--shards=auto".to_string()), "{args:?}");
    assert_eq!(args.last().map(String::as_str), Some("--workers=8"));
    let res = &d["spec"]["template"]["spec"]["containers"][0]["resources"];
    assert_eq!(res["limits"]["memory"], "2Gi");
    assert_eq!(res["limits"]["cpu"], "1", "the other limit is kept");
    assert_eq!(res["requests"]["memory"], "256Mi");

    let args = controller_args(&helm.render(&["--set", "controller.shards=4"]));
    assert!(args.contains(&"--shards=4".to_string()), "{args:?}");
    let args = controller_args(&helm.render(&[]));
    assert!(!args.iter().any(|a| a.starts_with("--shards")), "{args:?}");
    let off = helm.render(&["--set", "sealedSecrets.enabled=false"]);
    assert!(controller_args(&off).contains(&"--sealed-secrets=false".to_string()));
    assert!(
        !off.iter()
            .any(|o| s(o, "/metadata/name").contains("sealed-secrets")),
        "no Sealed Secrets object when disabled"
    );
    // keyNamespace moves the whole Sealed Secrets controller (Deployment, Service, Lease Role)
    // and its keys.
    let moved = helm.render(&["--set", "sealedSecrets.keyNamespace=sealing"]);
    for (kind, name) in [
        ("Deployment", "sealed-secrets-controller"),
        ("Service", "sealed-secrets-controller"),
        ("ServiceAccount", "sealed-secrets-controller"),
        ("Role", "fjord-sealed-secrets"),
        ("RoleBinding", "fjord-sealed-secrets"),
    ] {
        assert_eq!(
            s(find(&moved, kind, name), "/metadata/namespace"),
            "sealing",
            "{kind}"
        );
    }
    let d = find(&moved, "Deployment", "sealed-secrets-controller");
    let args = &d["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(args
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("--sealed-secrets-key-namespace=sealing")));
    let b = find(&moved, "ClusterRoleBinding", "fjord-sealed-secrets");
    assert_eq!(s(b, "/subjects/0/namespace"), "sealing");

    // Off by default.
    let defaults = helm.render(&[]);
    assert!(!defaults
        .iter()
        .any(|o| ["ServiceMonitor", "Ingress"].contains(&s(o, "/kind"))));
    let objects = helm.render(&[
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        "metrics.serviceMonitor.labels.release=prometheus",
        "--set",
        "webhook.ingress.enabled=true",
        "--set",
        "webhook.ingress.host=fjord.example.org",
        "--set",
        "webhook.ingress.className=nginx",
        "--set",
        "webhook.ingress.tls[0].secretName=fjord-tls",
        "--set",
        "webhook.ingress.tls[0].hosts[0]=fjord.example.org",
    ]);
    let sm = find(&objects, "ServiceMonitor", "fjord-controller");
    assert_eq!(s(sm, "/apiVersion"), "monitoring.coreos.com/v1");
    assert_eq!(s(sm, "/metadata/labels/release"), "prometheus");
    assert_eq!(s(sm, "/spec/endpoints/0/port"), "metrics");
    // The ServiceMonitor selects the metrics Service and only it.
    let selector = sm["spec"]["selector"]["matchLabels"].as_object().unwrap();
    let selected: Vec<&str> = objects
        .iter()
        .filter(|o| s(o, "/kind") == "Service")
        .filter(|o| {
            selector
                .iter()
                .all(|(k, v)| o["metadata"]["labels"][k.as_str()] == *v)
        })
        .map(|o| s(o, "/metadata/name"))
        .collect();
    assert_eq!(selected, ["fjord-controller-metrics"]);
    let ing = find(&objects, "Ingress", "fjord-webhook");
    assert_eq!(s(ing, "/spec/ingressClassName"), "nginx");
    assert_eq!(s(ing, "/spec/rules/0/host"), "fjord.example.org");
    assert_eq!(s(ing, "/spec/rules/0/http/paths/0/path"), "/api/webhook");
    let backend = &ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
    assert_eq!(backend["name"], "fjord-webhook");
    assert_eq!(backend["port"]["name"], "webhook");
    assert_eq!(s(ing, "/spec/tls/0/secretName"), "fjord-tls");
}

/// The API server's values: off, replicas, resources, TLS from a Secret (mounted, its flags,
/// HTTPS probes, Service port https 443) or self-signed; the namespace install gives it one
/// Role.
#[test]
fn server_values_turn_it_off_scale_it_and_serve_tls() {
    require_tools!(HELM);
    let helm = Helm::new();
    let args_of = |objects: &[Value]| -> Vec<String> {
        let d = find(objects, "Deployment", "fjord-server");
        d["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    };
    let off = helm.render(&["--set", "server.enabled=false"]);
    assert!(
        !off.iter().any(|o| s(o, "/metadata/name") == "fjord-server"),
        "no server object when disabled"
    );
    find(&off, "Deployment", "fjord-controller");

    let objects = helm.render(&[
        "--set",
        "server.replicas=2,server.resources.limits.memory=1Gi",
        "--set",
        "server.tls.secretName=fjord-server-tls,server.extraArgs={--log-level=debug}",
    ]);
    let d = find(&objects, "Deployment", "fjord-server");
    assert_eq!(d["spec"]["replicas"], 2);
    let pod = &d["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(c["resources"]["limits"]["memory"], "1Gi");
    assert_eq!(
        c["resources"]["limits"]["cpu"], "1",
        "the other limit is kept"
    );
    let args = args_of(&objects);
    assert_eq!(
        args[..4],
        [
            "server",
            "--addr=0.0.0.0:8088",
            "--namespace=argocd",
            "--cache-dir=/var/cache/fjord"
        ]
    );
    assert!(
        args.contains(&"--tls-cert=/etc/fjord/tls/tls.crt".to_string()),
        "{args:?}"
    );
    assert!(
        args.contains(&"--tls-key=/etc/fjord/tls/tls.key".to_string()),
        "{args:?}"
    );
    assert_eq!(args.last().map(String::as_str), Some("--log-level=debug"));
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(c[probe]["httpGet"]["scheme"], "HTTPS", "{probe}");
    }
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "tls")
        .expect("the TLS Secret as a volume");
    assert_eq!(volume["secret"]["secretName"], "fjord-server-tls");
    assert!(c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["name"] == "tls" && m["mountPath"] == "/etc/fjord/tls"));
    let svc = find(&objects, "Service", "fjord-server");
    assert_eq!(s(svc, "/spec/ports/0/name"), "https");
    assert_eq!(svc["spec"]["ports"][0]["port"], 443);

    let objects = helm.render(&[
        "--set",
        "server.tls.selfSigned=true,server.service.port=8443",
    ]);
    assert!(args_of(&objects).contains(&"--self-signed-tls".to_string()));
    assert_eq!(
        find(&objects, "Service", "fjord-server")["spec"]["ports"][0]["port"],
        8443
    );
    let plain = helm.render(&[]);
    assert!(!args_of(&plain).iter().any(|a| a.contains("tls")));
    let svc = find(&plain, "Service", "fjord-server");
    assert_eq!(s(svc, "/spec/ports/0/name"), "http");
    assert_eq!(svc["spec"]["ports"][0]["port"], 80);

    let narrow = helm.render(&["--set", "namespaceInstall=true"]);
    let role = find(&narrow, "Role", "fjord-server");
    assert_eq!(s(role, "/metadata/namespace"), NS);
    assert_eq!(role["rules"].as_array().unwrap().len(), 8);
}

#[test]
fn bad_values_are_refused_by_the_schema() {
    require_tools!(HELM);
    let helm = Helm::new();
    let chart = chart();
    for (set, field, why) in [
        ("controller.replicas=-1", "/controller/replicas", "minimum"),
        ("controller.shards=0", "/controller/shards", "minimum"),
        ("controller.shards=-2", "/controller/shards", "minimum"),
        (
            "controller.shards=many",
            "/controller/shards",
            "does not match",
        ),
        (
            "controller.resources.limits.memory=2GB",
            "/controller/resources/limits/memory",
            "does not match",
        ),
        (
            "controller.resource.limits.memory=2Gi",
            "/controller",
            "'resource' not allowed",
        ),
        (
            "image.pullPolicy=Sometimes",
            "/image/pullPolicy",
            "value must be one of",
        ),
        ("server.replicas=-1", "/server/replicas", "minimum"),
        (
            "server.tls.secretName=fjord-tls,server.tls.selfSigned=true",
            "/server/tls",
            "'not' failed",
        ),
        (
            "server.extraArgs={addr}",
            "/server/extraArgs/0",
            "does not match",
        ),
    ] {
        for verb in ["template", "lint"] {
            let mut args = vec![verb];
            if verb == "template" {
                args.push("fjord");
            }
            args.extend([chart.to_str().unwrap(), "--set", set]);
            let out = helm.run(&args);
            let msg = text(&out);
            assert!(
                !out.status.success(),
                "helm {verb} --set {set} passed: {msg}"
            );
            assert!(
                msg.contains("values don't meet the specifications of the schema")
                    && msg.contains(&format!("at '{field}'"))
                    && msg.contains(why),
                "helm {verb} --set {set}: the message names {field} and why ({why}):\n{msg}"
            );
            if verb == "template" {
                assert!(out.stdout.is_empty(), "nothing rendered for {set}");
            }
        }
    }
}

/// The objects a release of the chart makes (the CRDs aside), as `kind/name -n namespace`.
const RELEASED: &[(&str, &str, &str)] = &[
    ("serviceaccount", NS, "fjord-controller"),
    ("clusterrole", "", "fjord-controller"),
    ("clusterrolebinding", "", "fjord-controller"),
    ("deployment", NS, "fjord-controller"),
    ("service", NS, "fjord-controller-metrics"),
    ("service", NS, "fjord-webhook"),
    ("service", "kube-system", "sealed-secrets-controller"),
    ("deployment", "kube-system", "sealed-secrets-controller"),
    ("serviceaccount", "kube-system", "sealed-secrets-controller"),
    ("clusterrole", "", "fjord-sealed-secrets"),
    ("role", "kube-system", "fjord-sealed-secrets"),
    ("serviceaccount", NS, "fjord-server"),
    ("clusterrole", "", "fjord-server"),
    ("role", NS, "fjord-server"),
    ("deployment", NS, "fjord-server"),
    ("service", NS, "fjord-server"),
];

/// The seed's install command, twice (the second is an upgrade that changes nothing).
fn install_twice(helm: &Helm, cluster: &Cluster) {
    let chart = chart();
    let kubeconfig = cluster.kubeconfig.to_str().unwrap().to_string();
    let install = [
        "upgrade",
        "--install",
        "fjord",
        chart.to_str().unwrap(),
        "--namespace",
        NS,
        "--create-namespace",
        "--set",
        "controller.resources.limits.memory=2Gi",
        "--kubeconfig",
        &kubeconfig,
    ];
    let first = helm.ok(&install);
    assert!(first.contains("STATUS: deployed"), "{first}");
    for (kind, ns, name) in RELEASED {
        assert!(
            cluster.exists(kind, ns, name),
            "{kind} {ns}/{name} installed"
        );
    }
    let d = cluster.get("deployment", NS, "fjord-controller").unwrap();
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["resources"]["limits"]["memory"], "2Gi");
    let generation = d["metadata"]["generation"].clone();
    let second = helm.ok(&install);
    assert!(
        second.contains("has been upgraded") && second.contains("REVISION: 2"),
        "{second}"
    );
    let d = cluster.get("deployment", NS, "fjord-controller").unwrap();
    assert_eq!(
        d["metadata"]["generation"], generation,
        "the upgrade left the Deployment as it was"
    );
    let status = helm.ok(&["status", "fjord", "-n", NS, "--kubeconfig", &kubeconfig]);
    assert!(status.contains("STATUS: deployed"), "{status}");
}

/// `helm uninstall` (with `extra` flags): every object of the release is gone, the CRDs stay
/// (Helm never deletes crds/, so the Applications survive).
fn uninstall(helm: &Helm, cluster: &Cluster, extra: &[&str]) {
    let kubeconfig = cluster.kubeconfig.to_str().unwrap().to_string();
    let mut args = vec!["uninstall", "fjord", "-n", NS, "--kubeconfig", &kubeconfig];
    args.extend_from_slice(extra);
    let out = helm.ok(&args);
    assert!(out.contains("uninstalled"), "{out}");
    for (kind, ns, name) in RELEASED {
        common::poll(
            &format!("{kind} {ns}/{name} deleted"),
            common::CONVERGE,
            String::new,
            || (!cluster.exists(kind, ns, name)).then_some(()),
        );
    }
    assert!(cluster.exists("crd", "", "applications.argoproj.io"));
}

/// A kustomize base (Deployment + Service `payment-gateway`) and the `overlays/prod` of seed
/// 002 (two replicas, the image `registry.coolvds.com/app:v1.4.0`).
fn payments_repo() -> GitRepo {
    let mut files = payments_base();
    files.push((
        "overlays/prod/kustomization.yaml",
        "resources:\n- ../../base\nreplicas:\n- name: payment-gateway\n  count: 2\nimages:\n- \
                 name: my-app\n  newName: registry.coolvds.com/app\n  newTag: v1.4.0\n"
            .to_string(),
    ));
    GitRepo::new("fintech/payments-config.git", &files)
}

/// The chart's controller arguments with the addresses and the cache folder of a process on
/// this machine (what the Pod's network and volume give it).
fn process_args(chart_args: &[String], cache: &Path) -> Vec<String> {
    chart_args
        .iter()
        .map(|a| match a.split_once('=') {
            Some(("--metrics-addr" | "--webhook-addr" | "--sealed-secrets-addr", _)) => {
                format!("{}=127.0.0.1:0", a.split_once('=').unwrap().0)
            }
            Some(("--cache-dir", _)) => format!("--cache-dir={}", cache.display()),
            _ => a.clone(),
        })
        .collect()
}

/// The chart's Sealed Secrets Deployment as a process in-cluster (its arguments, POD_NAME, the
/// token of its own ServiceAccount in kube-system); returns once it leads and serves.
fn spawn_sealed(cluster: &Cluster) -> (fjord_testkit::Proc, PathBuf, InCluster) {
    let live = cluster
        .get("deployment", "kube-system", "sealed-secrets-controller")
        .unwrap();
    let pod_spec = &live["spec"]["template"]["spec"];
    assert_eq!(pod_spec["serviceAccountName"], "sealed-secrets-controller");
    let args: Vec<String> = pod_spec["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| match a.as_str().unwrap().split_once('=') {
            Some(("--sealed-secrets-addr", _)) => "--sealed-secrets-addr=127.0.0.1:0".into(),
            _ => a.as_str().unwrap().to_string(),
        })
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let pod = InCluster::new(cluster, "kube-system", "sealed-secrets-controller");
    let log = cluster.dir.path().join("sealed-secrets.log");
    let mut cmd = pod.command(&args);
    cmd.env("POD_NAME", "sealed-secrets-controller-7c9b5d8f4-x2k8m")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut proc = fjord_testkit::Proc::spawn_or_panic(&mut cmd, "fjord sealed-secrets-controller");
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    common::poll(
        "the sealed secrets controller to serve",
        std::time::Duration::from_secs(60),
        read,
        || {
            if let Some(st) = proc.try_wait() {
                panic!("fjord sealed-secrets-controller exited: {st}\n{}", read());
            }
            read()
                .contains("sealed secrets controller running")
                .then_some(())
        },
    );
    (proc, log, pod)
}

/// The rules beyond the apps' objects did their work (the leader Lease in argocd, the sealing
/// key in kube-system made by the Sealed Secrets process whose log is `sealed_log`), and the
/// API refused neither process anything, in-cluster.
fn assert_nothing_refused(env: &Env, sealed_log: &Path) {
    let lease = env
        .get("lease", NS, "fjord-controller")
        .expect("the leader Lease");
    assert!(
        s(&lease, "/spec/holderIdentity").starts_with(POD_NAME),
        "the in-cluster controller leads: {lease}"
    );
    env.wait(
        "the Sealed Secrets key in kube-system",
        common::CONVERGE,
        || {
            let keys = env.kubectl_ok(&sealing_keys_args("name"));
            (!keys.trim().is_empty()).then_some(())
        },
    );
    let sealed = std::fs::read_to_string(sealed_log).unwrap_or_default();
    for log in [env.controller.log_text(), sealed] {
        assert_not_refused(
            &log,
            &["forbidden", "403 ", "(403", "\"code\":403", "status: 403"],
            "the chart's RBAC refused something",
        );
        assert!(
            !log.contains("kubeconfig"),
            "in-cluster, no kubeconfig:\n{log}"
        );
    }
}

/// The Pod name the controller process is given (`POD_NAME`, from the Deployment's fieldRef).
const POD_NAME: &str = "fjord-controller-5d8c7b9f6d-h2x7k";

#[test]
fn helm_installs_the_chart_and_its_controller_syncs_the_seed_in_cluster() {
    require_tools!(HELM, KUBECTL);
    let helm = Helm::new();
    if !common::real() {
        let cluster = Cluster::start();
        install_twice(&helm, &cluster);
        // The local API cannot read the protobuf DeleteOptions Helm deletes its release
        // Secrets with (it answers 500); --keep-history leaves that record and removes the
        // objects. Straight to stderr: libtest keeps a passing test's `eprintln!`.
        uninstall(&helm, &cluster, &["--keep-history"]);
        let _ = writeln!(
            std::io::stderr(),
            "NOTE: {}: the in-cluster controller run is left out on the local API (no RBAC, \
             no TokenRequest); FJORD_TEST_BACKEND=real runs it",
            fjord_testkit::tools::current_test()
        );
        return;
    }
    require_tools!(GIT, UNSHARE);
    require_root();
    let repo = payments_repo();
    let daemon = common::git_daemon(&repo.root);
    let url = format!(
        "git://127.0.0.1:{}/fintech/payments-config.git",
        daemon.port
    );
    let cluster = Cluster::start();
    install_twice(&helm, &cluster);

    // The Pod the Deployment describes, as a process: its arguments, POD_NAME, and the token
    // of the chart's ServiceAccount.
    let live = cluster.get("deployment", NS, "fjord-controller").unwrap();
    let pod_spec = &live["spec"]["template"]["spec"];
    assert_eq!(pod_spec["serviceAccountName"], "fjord-controller");
    let chart_args = controller_args(std::slice::from_ref(&live));
    let args = process_args(&chart_args, &cluster.dir.path().join("cache"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let pod = InCluster::new(&cluster, NS, "fjord-controller");
    let log = cluster.dir.path().join("controller.log");
    let controller = pod.spawn_controller(&args, &[("POD_NAME", POD_NAME)], &log);
    let (sealed, sealed_log, _sealed_pod) = spawn_sealed(&cluster);
    let env = Env {
        controller,
        cluster,
    };
    env.apply(&seed_002(&url));
    let app = env.wait_synced("nordic-payment-gateway", Some(&repo.head()));
    assert_eq!(s(&app, "/status/sourceType"), "Kustomize");
    let d = env
        .get("deployment", "payments-prod", "payment-gateway")
        .unwrap();
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.coolvds.com/app:v1.4.0"
    );
    assert!(env.exists("service", "payments-prod", "payment-gateway"));
    assert_nothing_refused(&env, &sealed_log);
    let Env {
        controller,
        cluster,
    } = env;
    drop(sealed);
    drop(controller);
    uninstall(&helm, &cluster, &[]);
    let secrets =
        cluster.kubectl_ok(&["get", "secrets", "-n", NS, "-l", "owner=helm", "-o", "name"]);
    assert_eq!(secrets.trim(), "", "helm's release records are purged");
}
