//! `fjord seal` reaching the Sealed Secrets controller the way `kubeseal` does, with only the
//! kubeconfig: through the API server's service proxy
//! (`/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:http/proxy/…`).
//! The controller runs as its own process; a Service without selector and an Endpoints object
//! point at its sealed-secrets address. The real API server refuses loopback endpoint
//! addresses, so the controller listens on a non-loopback address of this machine (from
//! `hostname -I`, else one added on a dummy interface for the test's duration).

mod common;

use std::net::IpAddr;
use std::process::{Command, Output};
use std::time::Duration;

use base64::Engine as _;
use common::manifests::run_with_stdin;
use common::proxy_pod::{self, HostPod};
use common::sealed::{seal_until_ok, sealed_addr};
use common::{poll, s, text, Cluster, Controller, FJORD};
use fjord_testkit::require_tools;
use fjord_testkit::tools::KUBECTL;
use serde_json::json;

const SECRET: &str = "apiVersion: v1
kind: Secret
metadata:
  name: api-key
  namespace: vault-free
type: Opaque
stringData:
  key: proxied-s3cret-value
";

/// An address of this machine other than loopback; the dummy interface made for it, if any,
/// is removed on drop.
struct HostAddr {
    ip: IpAddr,
    dummy: bool,
}

impl HostAddr {
    fn find() -> HostAddr {
        let out = Command::new("hostname").arg("-I").output();
        let listed = out
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default();
        let usable = listed
            .split_whitespace()
            .filter_map(|w| w.parse::<IpAddr>().ok())
            .find(|ip| match ip {
                IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local(),
                IpAddr::V6(_) => false,
            });
        if let Some(ip) = usable {
            return HostAddr { ip, dummy: false };
        }
        let ip: IpAddr = "198.51.100.77".parse().unwrap();
        for args in [
            &["link", "add", "fjord0", "type", "dummy"][..],
            &["addr", "add", "198.51.100.77/32", "dev", "fjord0"],
            &["link", "set", "fjord0", "up"],
        ] {
            let o = Command::new("ip").args(args).output().expect("run ip");
            assert!(o.status.success(), "ip {args:?}: {}", text(&o));
        }
        HostAddr { ip, dummy: true }
    }
}

impl Drop for HostAddr {
    fn drop(&mut self) {
        if self.dummy {
            let _ = Command::new("ip").args(["link", "del", "fjord0"]).output();
        }
    }
}

/// `fjord controller` with its sealed-secrets endpoint on `ip`.
fn controller(cluster: &Cluster, ip: IpAddr) -> Controller {
    let mut cmd = Controller::command(cluster);
    cmd.arg("--sealed-secrets-addr")
        .arg(format!("{ip}:0"))
        .arg("--cache-dir")
        .arg(cluster.dir.path().join("cache"))
        .args(["--resync", "10m"]);
    Controller::spawn(cmd, &cluster.dir.path().join("controller.log"))
}

/// The port the unsealing controller listens on, from the line `fjord controller` prints.
fn sealed_port(c: &Controller) -> u16 {
    let addr: std::net::SocketAddr = sealed_addr(c).parse().unwrap();
    addr.port()
}

/// `fjord seal ARGS` with `stdin`, reaching the cluster through `$KUBECONFIG` only.
fn seal(cluster: &Cluster, args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(FJORD);
    cmd.arg("seal")
        .args(args)
        .env("KUBECONFIG", &cluster.kubeconfig);
    run_with_stdin(cmd, stdin)
}

fn seal_ok(cluster: &Cluster, args: &[&str], stdin: &str) -> String {
    let o = seal(cluster, args, stdin);
    assert!(o.status.success(), "fjord seal {args:?}: {}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

/// The Pod standing for the controller process (see [`proxy_pod`]): not Ready, no ports.
fn host_pod(cluster: &Cluster, ip: IpAddr) -> serde_json::Value {
    let pod = HostPod {
        node: "fjord-seal-host",
        name: "fjord-sealer",
        labels: json!({"app.kubernetes.io/name": "fjord-controller"}),
        container: json!({"name": "fjord", "image": "fjord:test"}),
        ready: false,
    };
    proxy_pod::host_pod(cluster, &pod, ip)
}

/// The Service without selector and its Endpoints, as an install would make them.
fn expose(cluster: &Cluster, ip: IpAddr, port: u16) {
    let mut address = json!({"ip": ip.to_string()});
    if common::real() {
        address["targetRef"] = host_pod(cluster, ip);
    }
    cluster.apply_json(&json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "sealed-secrets-controller", "namespace": "kube-system"},
        "spec": {"ports": [{"name": "http", "port": 8080, "targetPort": port, "protocol": "TCP"}]},
    }));
    cluster.apply_json(&json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "sealed-secrets-controller", "namespace": "kube-system"},
        "subsets": [{"addresses": [address],
            "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}],
    }));
}

#[test]
fn seal_with_only_the_kubeconfig_goes_through_the_service_proxy() {
    require_tools!(KUBECTL);
    let host = HostAddr::find();
    let cluster = Cluster::start();
    let controller = controller(&cluster, host.ip);
    let port = sealed_port(&controller);
    expose(&cluster, host.ip, port);

    // --fetch-cert: the PEM, the same as the controller serves directly.
    let cert = seal_until_ok(
        "the certificate through the service proxy",
        Duration::from_secs(60),
        || {
            let slices = cluster.kubectl(&[
                "get",
                "endpointslices,endpoints",
                "-n",
                "kube-system",
                "-o",
                "yaml",
            ]);
            format!("{}\n{}", text(&slices), controller.log_text())
        },
        || seal(&cluster, &["--fetch-cert"], ""),
    );
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
    let direct = seal_ok(
        &cluster,
        &[
            "--fetch-cert",
            "--controller-url",
            &format!("http://{}:{port}", host.ip),
        ],
        "",
    );
    assert_eq!(cert, direct);

    // Seal with no --cert: the SealedSecret the controller unseals.
    let sealed = seal_ok(&cluster, &["--format", "yaml"], SECRET);
    assert!(sealed.contains("kind: SealedSecret"), "{sealed}");
    assert!(!sealed.contains("proxied-s3cret-value"));
    // --validate goes the same way (POST /v1/verify through the proxy).
    seal_ok(&cluster, &["--validate"], &sealed);
    cluster.kubectl_ok(&["create", "namespace", "vault-free"]);
    cluster.kubectl_ok_in(&["apply", "-f", "-"], &sealed);
    let secret = poll(
        "the unsealed Secret",
        Duration::from_secs(45),
        || controller.log_text(),
        || cluster.get("secret", "vault-free", "api-key"),
    );
    let value = base64::engine::general_purpose::STANDARD
        .decode(s(&secret, "/data/key"))
        .unwrap();
    assert_eq!(value, b"proxied-s3cret-value");

    // A missing Service: exit 1, a message naming it and the way out, and no credential.
    let o = seal(
        &cluster,
        &["--fetch-cert", "--controller-name", "no-such-sealer"],
        "",
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("service no-such-sealer not found in namespace kube-system"),
        "{err}"
    );
    assert!(err.contains("--cert"), "{err}");
    let kubeconfig = std::fs::read_to_string(&cluster.kubeconfig).unwrap();
    for secret_field in ["token:", "client-key-data:"] {
        if let Some(v) = kubeconfig
            .lines()
            .find_map(|l| l.trim().strip_prefix(secret_field))
        {
            assert!(!err.contains(v.trim()), "a credential was printed");
        }
    }
}

/// `fjord up` creates the `sealed-secrets-controller` Service and its Endpoints: `fjord seal`
/// works against it with only the kubeconfig (`local_api_`: `fjord up` is the local API).
#[test]
fn local_api_fjord_up_serves_the_certificate_through_its_service_proxy() {
    require_tools!(KUBECTL);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("up.out");
    let mut cmd = Command::new(FJORD);
    cmd.args(["up", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"])
        .args([
            "--webhook-addr",
            "127.0.0.1:0",
            "--sealed-secrets-addr",
            "127.0.0.1:0",
        ])
        .args(["--image-updater", "false", "--server-addr", "127.0.0.1:0"])
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(dir.path().join("up.err")).unwrap());
    let _up = fjord_testkit::Proc::spawn_or_panic(&mut cmd, "fjord up");
    let kubeconfig = dir.path().join("data").join("kubeconfig");
    poll(
        "fjord up to be up",
        Duration::from_secs(150),
        || std::fs::read_to_string(dir.path().join("up.err")).unwrap_or_default(),
        || {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            text.contains("fjord seal --kubeconfig").then_some(())
        },
    );
    let run = |args: &[&str], stdin: &str| {
        let mut cmd = Command::new(FJORD);
        cmd.arg("seal").args(args).env("KUBECONFIG", &kubeconfig);
        let o = run_with_stdin(cmd, stdin);
        assert!(o.status.success(), "fjord seal {args:?}: {}", text(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let cert = run(&["--fetch-cert"], "");
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
    let sealed = run(&["--format", "yaml"], SECRET);
    let kubectl = |args: &[&str], stdin: &str| {
        let mut cmd = Command::new("kubectl");
        cmd.args(args).env("KUBECONFIG", &kubeconfig);
        run_with_stdin(cmd, stdin)
    };
    assert!(kubectl(&["create", "namespace", "vault-free"], "")
        .status
        .success());
    let o = kubectl(&["apply", "-f", "-"], &sealed);
    assert!(o.status.success(), "{}", text(&o));
    let secret: serde_json::Value = poll(
        "the unsealed Secret",
        Duration::from_secs(45),
        || std::fs::read_to_string(dir.path().join("up.err")).unwrap_or_default(),
        || {
            let o = kubectl(
                &["get", "secret", "api-key", "-n", "vault-free", "-o", "json"],
                "",
            );
            o.status
                .success()
                .then(|| serde_json::from_slice(&o.stdout).unwrap())
        },
    );
    let value = base64::engine::general_purpose::STANDARD
        .decode(s(&secret, "/data/key"))
        .unwrap();
    assert_eq!(value, b"proxied-s3cret-value");
}
