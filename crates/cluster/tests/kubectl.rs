//! End-to-end tests driving the real `kubectl` against the backend `FJORD_TEST_BACKEND` picks
//! (fjord's local API in process, or the real kube-apiserver); the assertions are what a real
//! cluster does.

mod common;

use common::Cluster;
use fjord_testkit::require_tools;
use fjord_testkit::tools::KUBECTL;
use serde_json::Value;

const DEPLOY: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: fe}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports: [{containerPort: 80}]
      - name: sidecar
        image: busybox
";

#[test]
fn api_resources_lists_builtin_kinds_with_scope_and_short_names() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    let out = c.kubectl_ok(&["api-resources"]);
    for (name, short, api, namespaced) in [
        ("deployments", "deploy", "apps/v1", "true"),
        ("namespaces", "ns", "v1", "false"),
        (
            "customresourcedefinitions",
            "crd,crds",
            "apiextensions.k8s.io/v1",
            "false",
        ),
        ("horizontalpodautoscalers", "hpa", "autoscaling/v2", "true"),
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing:\n{out}"));
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[1], short, "{line}");
        assert_eq!(cols[2], api, "{line}");
        assert_eq!(cols[3], namespaced, "{line}");
    }
    let version = c.kubectl_ok(&["version"]);
    let server = version
        .lines()
        .find_map(|l| l.strip_prefix("Server Version: v1."))
        .unwrap_or_else(|| panic!("no server version:\n{version}"));
    let minor: u32 = server
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("unparsable server version: {version}"));
    assert!(minor >= 32, "{version}");
}

#[test]
fn client_side_apply_creates_then_strategic_patches() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    assert!(c
        .kubectl_ok_in(&["apply", "-f", "-"], DEPLOY)
        .contains("deployment.apps/web created"));
    assert!(c
        .kubectl_ok_in(&["apply", "-f", "-"], DEPLOY)
        .contains("unchanged"));
    let changed = DEPLOY
        .replace("image: nginx:1.25", "image: nginx:1.26")
        .replace("      - name: sidecar\n        image: busybox\n", "");
    assert!(c
        .kubectl_ok_in(&["apply", "-f", "-"], &changed)
        .contains("configured"));
    let d = c.get_json(&["deploy", "web"]);
    let cs = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    assert_eq!(cs.len(), 1, "sidecar must be gone: {cs:?}");
    assert_eq!(cs[0]["image"], "nginx:1.26");
    assert_eq!(d["metadata"]["generation"], 2);
}

#[test]
fn server_side_apply_prunes_conflicts_and_forces() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    // A no-op apply does not bump the RV (a ConfigMap: no controller writes its status).
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: same}\ndata: {k: v}\n";
    assert!(c
        .kubectl_ok_in(&["apply", "--server-side", "-f", "-"], cm)
        .contains("configmap/same serverside-applied"));
    let rv1 = c.get_json(&["cm", "same"])["metadata"]["resourceVersion"].clone();
    c.kubectl_ok_in(&["apply", "--server-side", "-f", "-"], cm);
    assert_eq!(
        c.get_json(&["cm", "same"])["metadata"]["resourceVersion"],
        rv1,
        "a no-op apply must not bump the RV"
    );
    assert!(c
        .kubectl_ok_in(&["apply", "--server-side", "-f", "-"], DEPLOY)
        .contains("deployment.apps/web serverside-applied"));
    // Re-apply without the tier label and the sidecar: both are removed.
    let smaller = DEPLOY
        .replace(", tier: fe", "")
        .replace("      - name: sidecar\n        image: busybox\n", "");
    c.kubectl_ok_in(&["apply", "--server-side", "-f", "-"], &smaller);
    let d = c.get_json(&["deploy", "web"]);
    assert!(
        d["metadata"]["labels"].get("tier").is_none(),
        "{}",
        d["metadata"]
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // Another manager changes replicas: the next apply of a different value conflicts.
    c.kubectl_ok(&["scale", "deploy/web", "--replicas=5"]);
    let conflicting = smaller.replace("replicas: 2", "replicas: 3");
    let err = c.kubectl_fails(
        &[
            "apply",
            "--server-side",
            "--field-manager=gitops",
            "-f",
            "-",
        ],
        &conflicting,
    );
    assert!(err.contains("conflict"), "{err}");
    assert!(err.contains(".spec.replicas"), "{err}");
    c.kubectl_ok_in(
        &[
            "apply",
            "--server-side",
            "--field-manager=gitops",
            "--force-conflicts",
            "-f",
            "-",
        ],
        &conflicting,
    );
    let d: Value = serde_json::from_str(&c.kubectl_ok(&[
        "get",
        "deploy",
        "web",
        "-o",
        "json",
        "--show-managed-fields",
    ]))
    .expect("json");
    assert_eq!(d["spec"]["replicas"], 3);
    let gitops = d["metadata"]["managedFields"]
        .as_array()
        .expect("mf")
        .iter()
        .find(|e| e["manager"] == "gitops")
        .cloned()
        .expect("gitops entry");
    assert!(gitops["fieldsV1"]["f:spec"].get("f:replicas").is_some());
}

#[test]
fn diff_server_side_exits_one_on_difference() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    c.kubectl_ok_in(&["apply", "--server-side", "-f", "-"], DEPLOY);
    // Let the simulated rollout finish so no status write lands between diff's read and its dry run.
    c.kubectl_ok(&["rollout", "status", "deployment/web", "--timeout=30s"]);
    let same = c.kubectl_in(&["diff", "--server-side", "-f", "-"], DEPLOY);
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );
    let other = c.kubectl_in(
        &["diff", "--server-side", "-f", "-"],
        &DEPLOY.replace("nginx:1.25", "nginx:1.27"),
    );
    assert_eq!(
        other.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    assert!(String::from_utf8_lossy(&other.stdout).contains("nginx:1.27"));
    // Nothing was persisted by the dry run.
    assert_eq!(
        c.get_json(&["deploy", "web"])["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.25"
    );
}

#[test]
fn get_output_formats_all_namespaces_and_selectors() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    c.kubectl_ok_in(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n",
    );
    for (ns, name, app) in [
        ("default", "a", "web"),
        ("default", "b", "db"),
        ("team", "c", "web"),
    ] {
        let cm = format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {ns}, labels: {{app: {app}}}}}\ndata: {{k: v}}\n");
        c.kubectl_ok_in(&["apply", "-f", "-"], &cm);
    }
    let yaml = c.kubectl_ok(&["get", "cm", "a", "-o", "yaml"]);
    assert!(
        yaml.contains("name: a") && yaml.contains("uid:") && yaml.contains("creationTimestamp:"),
        "{yaml}"
    );
    let table = c.kubectl_ok(&["get", "cm"]);
    assert!(
        table.starts_with("NAME") && table.contains("DATA"),
        "{table}"
    );
    let all = c.kubectl_ok(&["get", "cm", "-A", "-l", "app=web"]);
    assert!(
        all.contains("team") && all.contains(" c ") || all.contains("c "),
        "{all}"
    );
    assert!(!all.contains("\nb ") && !all.contains(" b "), "{all}");
    let list = c.get_json(&["cm", "-A", "-l", "app=web"]);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
    let by_field = c.get_json(&["cm", "--field-selector", "metadata.name=b"]);
    assert_eq!(by_field["items"][0]["metadata"]["name"], "b");
    c.kubectl_ok_in(&["apply", "-f", "-"], DEPLOY);
    let wide = c.kubectl_ok(&["get", "deploy", "-o", "wide"]);
    assert!(
        wide.contains("IMAGES") && wide.contains("nginx:1.25,busybox"),
        "{wide}"
    );
}

#[test]
fn label_annotate_scale_and_three_patch_types() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    c.kubectl_ok_in(&["apply", "-f", "-"], DEPLOY);
    c.kubectl_ok(&["label", "deploy/web", "team=blue"]);
    c.kubectl_ok(&["annotate", "deploy/web", "note=hi"]);
    c.kubectl_ok(&["scale", "deploy/web", "--replicas=4"]);
    c.kubectl_ok(&[
        "patch",
        "deploy/web",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"merged":"yes"}}}"#,
    ]);
    c.kubectl_ok(&[
        "patch",
        "deploy/web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:2"}]"#,
    ]);
    c.kubectl_ok(&[
        "patch",
        "deploy/web",
        "--type=strategic",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:2"}]}}}}"#,
    ]);
    let d: Value = serde_json::from_str(&c.kubectl_ok(&[
        "get",
        "deploy",
        "web",
        "-o",
        "json",
        "--show-managed-fields",
    ]))
    .expect("json");
    assert_eq!(d["metadata"]["labels"]["team"], "blue");
    assert_eq!(d["metadata"]["labels"]["merged"], "yes");
    assert_eq!(d["metadata"]["annotations"]["note"], "hi");
    assert_eq!(d["spec"]["replicas"], 4);
    let cs = &d["spec"]["template"]["spec"]["containers"];
    assert_eq!(cs[0]["image"], "nginx:2");
    assert_eq!(cs[1]["image"], "busybox:2");
    assert_eq!(
        cs.as_array().map(Vec::len),
        Some(2),
        "strategic merge keeps both containers"
    );
    let managers: Vec<&str> = d["metadata"]["managedFields"]
        .as_array()
        .expect("mf")
        .iter()
        .filter_map(|e| e["manager"].as_str())
        .collect();
    assert!(
        managers.contains(&"kubectl-label") && managers.contains(&"kubectl-patch"),
        "{managers:?}"
    );
}

#[test]
fn replace_with_stale_object_conflicts() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    c.kubectl_ok_in(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: '1'}\n",
    );
    let stale = c.kubectl_ok(&["get", "cm", "cfg", "-o", "json"]);
    c.kubectl_ok(&[
        "patch",
        "cm",
        "cfg",
        "--type=merge",
        "-p",
        r#"{"data":{"a":"2"}}"#,
    ]);
    let err = c.kubectl_fails(&["replace", "-f", "-"], &stale);
    assert!(err.contains("the object has been modified"), "{err}");
    let mut fresh: Value =
        serde_json::from_str(&c.kubectl_ok(&["get", "cm", "cfg", "-o", "json"])).expect("json");
    fresh["data"]["a"] = Value::String("3".into());
    c.kubectl_ok_in(&["replace", "-f", "-"], &fresh.to_string());
    assert_eq!(c.get_json(&["cm", "cfg"])["data"]["a"], "3");
}

#[test]
fn wait_available_and_rollout_status() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    c.kubectl_ok_in(&["apply", "--server-side", "-f", "-"], DEPLOY);
    c.kubectl_ok(&[
        "wait",
        "--for=condition=Available",
        "deploy/web",
        "--timeout=20s",
    ]);
    let out = c.kubectl_ok(&["rollout", "status", "deploy/web", "--timeout=20s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let d = c.get_json(&["deploy", "web"]);
    assert_eq!(d["status"]["availableReplicas"], 2);
    assert_eq!(
        d["status"]["observedGeneration"],
        d["metadata"]["generation"]
    );
    // A spec change is observed again after the delay.
    c.kubectl_ok(&["set", "image", "deploy/web", "nginx=nginx:1.27"]);
    c.kubectl_ok(&["rollout", "status", "deploy/web", "--timeout=20s"]);
    let d = c.get_json(&["deploy", "web"]);
    assert_eq!(d["status"]["observedGeneration"], 2);
    // A failing workload never becomes Available: its Pods fit no node (a real scheduler
    // leaves them Pending); the local API's simulator fails it by its annotation.
    let failing = DEPLOY
        .replace(
            "name: web\n",
            "name: bad\n  annotations: {fjord.dev/simulate: fail}\n",
        )
        .replace(
            "    spec:\n      containers:",
            "    spec:\n      nodeSelector: {fjord.dev/no-such-node: \"true\"}\n      containers:",
        );
    c.kubectl_ok_in(&["apply", "-f", "-"], &failing);
    let out = c.kubectl(&[
        "wait",
        "--for=condition=Available",
        "deploy/bad",
        "--timeout=2s",
    ]);
    assert!(!out.status.success());
}

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: string, jsonPath: .spec.size}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: string}
              tags: {type: array, items: {type: string}, x-kubernetes-list-type: set}
";

#[test]
fn crd_then_custom_resource_lifecycle() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    c.kubectl_ok_in(&["apply", "-f", "-"], CRD);
    c.kubectl_ok(&[
        "wait",
        "--for=condition=established",
        "crd/widgets.example.com",
        "--timeout=10s",
    ]);
    let w = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: big, tags: [a]}\n";
    c.kubectl_ok_in(&["apply", "-f", "-"], w);
    c.kubectl_ok_in(&["apply", "-f", "-"], &w.replace("big", "small"));
    c.kubectl_ok_in(
        &["apply", "--server-side", "-f", "-"],
        &w.replace("w1", "w2"),
    );
    let table = c.kubectl_ok(&["get", "wd"]);
    assert!(
        table.contains("SIZE") && table.contains("small") && table.contains("w2"),
        "{table}"
    );
    assert_eq!(c.get_json(&["widget", "w1"])["spec"]["size"], "small");
    c.kubectl_ok(&["delete", "widget", "w1"]);
    assert!(c.kubectl(&["get", "widget", "w1"]).status.code() == Some(1));
    c.kubectl_ok(&["delete", "crd", "widgets.example.com", "--timeout=20s"]);
    let out = c.kubectl(&["get", "widgets.example.com"]);
    assert!(!out.status.success(), "widgets must be gone with their CRD");
}

#[test]
fn delete_namespace_with_contents() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    c.kubectl_ok_in(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: doomed}\n",
    );
    c.kubectl_ok_in(&["apply", "-n", "doomed", "-f", "-"], DEPLOY);
    c.kubectl_ok_in(
        &["apply", "-n", "doomed", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n",
    );
    c.kubectl_ok(&["delete", "namespace", "doomed", "--timeout=30s"]);
    assert_eq!(c.kubectl(&["get", "ns", "doomed"]).status.code(), Some(1));
    let list = c.get_json(&["cm", "-A"]);
    assert!(list["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|i| i["metadata"]["namespace"] != "doomed"));
    let err = c.kubectl_fails(&["delete", "ns", "default"], "");
    assert!(err.contains("forbidden"), "{err}");
}

#[test]
fn invalid_object_is_rejected_with_422_causes() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    let bad =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: Bad_Name}\nspec: {replicas: 1}\n";
    let err = c.kubectl_fails(&["apply", "-f", "-"], bad);
    assert!(err.contains("is invalid"), "{err}");
    assert!(
        err.contains("metadata.name") && err.contains("spec.selector: Required value"),
        "{err}"
    );
    let (code, body) = c.http(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","labels":{"k":"-bad-"}}}"#,
    );
    assert_eq!(code, 422, "{body}");
    let status: Value = serde_json::from_str(&body).expect("status");
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(status["details"]["causes"][0]["field"], "metadata.labels");
}

#[test]
fn generator_commands_send_protobuf_bodies_we_decode() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    let creates: &[&[&str]] = &[
        &["create", "namespace", "gen"],
        &[
            "create",
            "configmap",
            "c",
            "--from-literal=a=b",
            "--from-literal=e=",
        ],
        &["create", "secret", "generic", "s", "--from-literal=a=b"],
        &["create", "serviceaccount", "sa"],
        &[
            "create",
            "deployment",
            "d",
            "--image=nginx",
            "--replicas=0",
            "--port=80",
        ],
        &["create", "service", "clusterip", "svc", "--tcp=80:8080"],
        &["create", "job", "j", "--image=busybox", "--", "echo", "hi"],
        &[
            "create",
            "cronjob",
            "cj",
            "--image=busybox",
            "--schedule=*/5 * * * *",
        ],
        &["create", "role", "r", "--verb=get", "--resource=pods"],
        &[
            "create",
            "rolebinding",
            "rb",
            "--role=r",
            "--serviceaccount=default:sa",
        ],
        &[
            "create",
            "clusterrole",
            "cr",
            "--verb=get",
            "--non-resource-url=/logs",
        ],
        &[
            "create",
            "clusterrolebinding",
            "crb",
            "--clusterrole=cr",
            "--group=g1",
        ],
        &[
            "create",
            "priorityclass",
            "pc",
            "--value=1000",
            "--description=d",
        ],
        &[
            "create",
            "poddisruptionbudget",
            "pdb",
            "--selector=app=a",
            "--min-available=50%",
        ],
        &[
            "create",
            "ingress",
            "ing",
            "--rule=foo.com/bar=svc1:8080,tls=my-cert",
        ],
        &[
            "create",
            "quota",
            "q",
            "--hard=pods=2",
            "--scopes=BestEffort",
        ],
    ];
    for args in creates {
        let out = c.kubectl_ok(args);
        assert!(out.contains("created"), "{args:?}: {out}");
    }
    let cm = c.get_json(&["configmap", "c"]);
    assert_eq!(cm["data"], serde_json::json!({"a": "b", "e": ""}));
    assert_eq!(c.get_json(&["secret", "s"])["data"]["a"], "Yg==");
    let d = c.get_json(&["deployment", "d"]);
    assert_eq!(d["spec"]["replicas"], 0, "{d}");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        80
    );
    let svc = c.get_json(&["service", "svc"]);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
    let cj = c.get_json(&["cronjob", "cj"]);
    assert_eq!(cj["spec"]["schedule"], "*/5 * * * *");
    let rb = c.get_json(&["rolebinding", "rb"]);
    assert_eq!(rb["subjects"][0]["namespace"], "default");
    assert_eq!(rb["roleRef"]["kind"], "Role");
    assert_eq!(c.get_json(&["priorityclass", "pc"])["value"], 1000);
    assert_eq!(c.get_json(&["pdb", "pdb"])["spec"]["minAvailable"], "50%");
    let ing = c.get_json(&["ingress", "ing"]);
    assert_eq!(
        ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["number"],
        8080
    );
    assert_eq!(c.get_json(&["quota", "q"])["spec"]["hard"]["pods"], "2");
    let cm = c.get_json(&["configmap", "c", "--show-managed-fields"]);
    let fm = &cm["metadata"]["managedFields"][0];
    assert_eq!(fm["manager"], "kubectl-create");
    // A BestEffort quota may only count pods: the server refuses a cpu limit in it.
    let err = c.kubectl_fails(
        &[
            "create",
            "quota",
            "q2",
            "--hard=cpu=1,pods=2",
            "--scopes=BestEffort",
        ],
        "",
    );
    assert!(
        err.contains("ResourceQuota \"q2\" is invalid")
            && err.contains("spec.scopes: Invalid value")
            && err.contains("unsupported scope applied to resource"),
        "{err}"
    );
    // Duplicate create through protobuf gets an ordinary AlreadyExists.
    let err = c.kubectl_fails(&["create", "configmap", "c"], "");
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn create_self_subject_access_review_with_client_side_validation() {
    require_tools!(KUBECTL);
    let c = Cluster::start();
    let review = "apiVersion: authorization.k8s.io/v1\nkind: SelfSubjectAccessReview\n\
        spec:\n  resourceAttributes: {verb: get, resource: pods, namespace: default}\n";
    let out = c.kubectl_ok_in(&["create", "-f", "-", "-o", "json"], review);
    let status: Value = serde_json::from_str(&out).expect("review json");
    assert_eq!(status["kind"], "SelfSubjectAccessReview", "{out}");
    assert_eq!(status["status"]["allowed"], true, "{out}");
    let (code, body) = c.http("GET", "/openapi/v2", "application/json", "");
    assert_eq!(code, 200, "{body}");
    let doc: Value = serde_json::from_str(&body).expect("v2 json");
    assert_eq!(doc["swagger"], "2.0");
    let review_def = &doc["definitions"]["io.k8s.api.authorization.v1.SelfSubjectAccessReview"];
    assert_eq!(
        review_def["x-kubernetes-group-version-kind"][0]["kind"],
        "SelfSubjectAccessReview"
    );
    assert_eq!(review_def["type"], "object");
}
