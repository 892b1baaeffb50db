//! `fjord install`: the objects that run fjord in a cluster, generated from the code (the
//! CRDs the controllers embed, the RBAC the controller needs, its Deployment and Services, the
//! API server and web UI `fjord-server`),
//! printed (`--dry-run -o yaml|json`, what manifests/install.yaml and
//! manifests/namespace-install.yaml hold) or server-side applied as field manager
//! `fjord-install`: CRDs first (waited for until Established), then the rest in order.

mod output;
mod rbac;
mod sealed;
mod server;
mod workload;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use std::process::ExitCode;
use std::time::Duration;

use super::kube_args::{runtime as tokio_runtime, ConnectArgs};

/// Name of the ServiceAccount, the (Cluster)Role, its binding and the Deployment.
pub const CONTROLLER: &str = "fjord-controller";
/// The field manager of applied objects.
pub const FIELD_MANAGER: &str = "fjord-install";

/// Output format of `--dry-run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A multi-document YAML stream (as `kubectl apply -f` reads it).
    Yaml,
    /// One JSON `List`.
    Json,
}

/// Arguments of `fjord install`.
#[derive(Args, Debug)]
pub struct InstallArgs {
    /// The cluster.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Namespace of the controller (created when missing).
    #[arg(short = 'n', long, value_name = "NAMESPACE", default_value = "argocd", value_parser = parse_namespace)]
    pub namespace: String,
    /// Manage only the install namespace: Roles instead of a ClusterRole, `fjord controller
    /// --namespaced` (the CRDs are still included).
    #[arg(long)]
    pub namespace_install: bool,
    /// The controller's container image.
    #[arg(long, value_name = "IMAGE", default_value = concat!("fjord:", env!("CARGO_PKG_VERSION")), value_parser = parse_image)]
    pub image: String,
    /// Print the objects instead of applying them.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format of --dry-run.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FORMAT",
        value_enum,
        default_value = "yaml",
        requires = "dry_run"
    )]
    pub output: Format,
}

/// What the objects are generated from.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The install namespace.
    pub namespace: String,
    /// The container image.
    pub image: String,
    /// Namespace install (Roles only, `--namespaced`).
    pub namespaced: bool,
}

/// One generated object; a (Cluster)Role carries the reason of each rule.
pub struct Object {
    /// The object.
    pub value: Value,
    /// Reasons of `rules[i]`, in order (empty for other kinds).
    pub rule_notes: Vec<&'static str>,
}

impl Object {
    /// An object without notes.
    pub fn plain(value: Value) -> Object {
        Object {
            value,
            rule_notes: Vec::new(),
        }
    }
}

/// A namespace name: a DNS-1123 label.
fn parse_namespace(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-');
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!(
            "'{text}' is not a namespace name (lowercase letters, digits and '-', at most 63 \
             characters, starting and ending with a letter or digit)"
        ))
    }
}

/// An image reference: non-empty, no whitespace or control characters.
fn parse_image(text: &str) -> Result<String, String> {
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err(format!("'{text}' is not an image reference"))
    } else {
        Ok(text.to_string())
    }
}

/// The embedded CRDs, with what they define: Application, AppProject, SealedSecret and the
/// four external-secrets.io kinds (what manifests/crds.yaml holds).
pub fn crd_documents() -> [(&'static str, &'static str); 4] {
    [
        ("Application", fjord_controller::crds::APPLICATION_CRD_YAML),
        ("AppProject", fjord_controller::crds::APPPROJECT_CRD_YAML),
        ("SealedSecret", fjord_seal_controller::CRD_YAML),
        ("External Secrets", fjord_eso_controller::CRDS_YAML),
    ]
}

/// Every object but the CRDs, in apply order: the Namespace, RBAC, Deployment, Services, the
/// API server's objects, then (cluster install) the Sealed Secrets controller's objects in
/// kube-system.
pub fn objects(spec: &Spec) -> Vec<Object> {
    let mut out = vec![Object::plain(json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": spec.namespace, "labels": {"app.kubernetes.io/part-of": "fjord"}},
    }))];
    out.extend(rbac::objects(spec));
    out.push(workload::deployment(spec));
    out.extend(workload::services(spec));
    out.extend(server::objects(spec));
    if !spec.namespaced {
        out.extend(sealed::objects(spec));
    }
    out
}

/// Runs `fjord install`.
pub fn run(args: InstallArgs) -> anyhow::Result<ExitCode> {
    let spec = Spec {
        namespace: args.namespace.clone(),
        image: args.image.clone(),
        namespaced: args.namespace_install,
    };
    let objects = objects(&spec);
    if args.dry_run {
        let text = match args.output {
            Format::Yaml => output::yaml(&spec, &objects)?,
            Format::Json => output::json(&objects)?,
        };
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    let rt = tokio_runtime()?;
    rt.block_on(apply(&args.connect, &objects))?;
    Ok(ExitCode::SUCCESS)
}

/// `kind/name` (with the namespace) of an object, for messages.
fn describe(obj: &Value) -> String {
    let kind = obj["kind"].as_str().unwrap_or_default();
    let name = obj.pointer("/metadata/name").and_then(Value::as_str);
    match obj.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) => format!("{kind} {ns}/{}", name.unwrap_or_default()),
        None => format!("{kind} {}", name.unwrap_or_default()),
    }
}

/// Server-side applies one object; prints what was applied.
async fn apply_one(client: &fjord_client::Client, obj: &Value) -> anyhow::Result<()> {
    let what = describe(obj);
    let t = client
        .resolve_object(obj)
        .await
        .with_context(|| format!("discovering the type of {what}"))?;
    let opts = fjord_client::ApplyOptions {
        force: true,
        field_manager: FIELD_MANAGER.into(),
        ..Default::default()
    };
    client
        .apply(&t, obj, &opts)
        .await
        .with_context(|| format!("applying {what}"))?;
    println!("{what} applied");
    Ok(())
}

/// Applies the CRDs (waiting until each is Established), then every other object.
async fn apply(connect: &ConnectArgs, objects: &[Object]) -> anyhow::Result<()> {
    let client = fjord_client::Client::connect(&connect.client_options(None))
        .await
        .context("connecting to the cluster")?;
    let mut crds = Vec::new();
    for node in output::crd_nodes()? {
        crds.push(fjord_yaml::to_json_value(&node).context("reading an embedded CRD")?);
    }
    for crd in &crds {
        apply_one(&client, crd).await?;
    }
    for crd in &crds {
        let name = crd
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        client
            .wait_established(name, Duration::from_secs(60))
            .await
            .with_context(|| format!("waiting for CustomResourceDefinition {name}"))?;
    }
    for object in objects {
        apply_one(&client, &object.value).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(namespaced: bool) -> Spec {
        Spec {
            namespace: "team".into(),
            image: "fjord:test".into(),
            namespaced,
        }
    }

    #[test]
    fn namespace_names_are_dns_labels() {
        assert!(parse_namespace("argocd").is_ok());
        assert!(parse_namespace("a-1").is_ok());
        for bad in ["Bad_NS", "", "-a", "a-", "a.b", &"a".repeat(64)] {
            assert!(parse_namespace(bad).is_err(), "{bad}");
        }
        assert!(parse_image("a b").is_err());
        assert!(parse_image("").is_err());
    }

    #[test]
    fn the_namespace_install_has_no_cluster_rbac_and_stays_in_its_namespace() {
        let objs = objects(&spec(true));
        let kinds: Vec<&str> = objs
            .iter()
            .filter_map(|o| o.value["kind"].as_str())
            .collect();
        assert!(!kinds.contains(&"ClusterRole") && !kinds.contains(&"ClusterRoleBinding"));
        assert!(kinds.contains(&"Role") && kinds.contains(&"RoleBinding"));
        for o in &objs {
            if o.value["kind"] != "Namespace" {
                assert_eq!(
                    o.value["metadata"]["namespace"],
                    "team",
                    "{}",
                    describe(&o.value)
                );
            }
        }
        let args = workload::args(&spec(true));
        assert!(args.contains(&"--namespaced".to_string()));
    }

    #[test]
    fn the_cluster_install_names_match_the_contract() {
        let objs = objects(&spec(false));
        let names: Vec<String> = objs.iter().map(|o| describe(&o.value)).collect();
        for want in [
            "ServiceAccount team/fjord-controller",
            "ClusterRole fjord-controller",
            "ClusterRoleBinding fjord-controller",
            "Deployment team/fjord-controller",
            "Service team/fjord-controller-metrics",
            "Service team/fjord-webhook",
            "ServiceAccount team/fjord-server",
            "ClusterRole fjord-server",
            "ClusterRoleBinding fjord-server",
            "Role team/fjord-server",
            "RoleBinding team/fjord-server",
            "Deployment team/fjord-server",
            "Service team/fjord-server",
            "ServiceAccount kube-system/sealed-secrets-controller",
            "ClusterRole fjord-sealed-secrets",
            "ClusterRoleBinding fjord-sealed-secrets",
            "Role kube-system/fjord-sealed-secrets",
            "RoleBinding kube-system/fjord-sealed-secrets",
            "Deployment kube-system/sealed-secrets-controller",
            "Service kube-system/sealed-secrets-controller",
        ] {
            assert!(names.contains(&want.to_string()), "{want} in {names:?}");
        }
        let args = workload::args(&spec(false));
        assert_eq!(
            args[..3],
            ["controller", "--leader-elect", "--namespace=team"]
        );
        assert!(args.contains(&"--sealed-secrets=false".to_string()));
        let yaml = output::yaml(&spec(false), &objs).unwrap();
        assert!(yaml.contains("# Leader election"), "rule comments");
        assert!(output::json(&objs).unwrap().contains("\"kind\": \"List\""));
    }
}
