//! fjord's container image, end to end: `scripts/image.sh` builds it with buildah from this
//! test's own fjord binary (the Containerfile has no base image), pushes it to Debian's
//! `docker-registry`, and the pushed image is checked from the registry: `skopeo inspect`
//! (user, entrypoint, command, labels, architecture), its one layer's listing (binary, owners,
//! modes), then run twice as the non-root user — its root filesystem under `chroot
//! --userspec=65532:65532`, and the image itself with `podman run`. Needs no cluster (it runs
//! the same on both backends) but needs root (buildah's store, chroot, a private mount
//! namespace for podman).
//!
//! podman on this kind of machine: crun refuses a cgroup v1/v2 hybrid layout ("cgroups in
//! hybrid mode not supported") and may not raise rlimits above the caller's hard limit, so
//! podman runs inside `unshare -m` with the empty-of-v1-controllers `/sys/fs/cgroup/unified`
//! unmounted there (the machine's own mounts are untouched), with explicit `--ulimit`s.

use fjord_testkit::registry::{Registry, DOCKER_REGISTRY};
use fjord_testkit::require_tools;
use fjord_testkit::tools::{BUILDAH, PODMAN, SKOPEO, UNSHARE};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The fjord binary under test (a debug build: image.sh `--strip`s it).
const FJORD: &str = env!("CARGO_BIN_EXE_fjord");
/// The image's user and group.
const USER: &str = "65532:65532";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `cmd`, panicking with its output unless it succeeds; returns stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", describe(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn describe(out: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn require_root() {
    let uid = run(Command::new("id").arg("-u"));
    assert_eq!(uid.trim(), "0", "buildah, chroot and podman here need root");
}

/// `fjord 0.1.0 (commit 2f79123f2d30, built 2026-12-07)` → the commit.
fn commit_of(version_line: &str) -> String {
    let rest = version_line
        .strip_prefix(&format!("fjord {} (commit ", env!("CARGO_PKG_VERSION")))
        .unwrap_or_else(|| panic!("unexpected --version output {version_line:?}"));
    let (commit, date) = rest.split_once(", built ").unwrap();
    let date = date.strip_suffix(')').unwrap();
    assert!(
        date == "unknown" || (date.len() == 10 && date.chars().filter(|c| *c == '-').count() == 2),
        "build date {date:?} is not YYYY-MM-DD"
    );
    commit.to_string()
}

#[test]
fn version_names_the_commit_and_build_date() {
    let line = run(Command::new(FJORD).arg("--version"));
    let commit = commit_of(line.trim());
    // The build script stamps `git rev-parse --short=12 HEAD` when git sees the checkout.
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo_root())
        .output()
        .ok()
        .filter(|o| o.status.success());
    if let Some(head) = head {
        if std::env::var_os("FJORD_BUILD_COMMIT").is_none() {
            assert_eq!(commit, String::from_utf8_lossy(&head.stdout).trim());
        }
    }
    // Every sub-command prints the same stamp.
    let sub = run(Command::new(FJORD).args(["controller", "--version"]));
    assert!(sub.contains(&format!("(commit {commit}, built ")), "{sub}");
}

#[test]
fn image_script_refuses_a_missing_binary() {
    let out = Command::new(repo_root().join("scripts/image.sh"))
        .args(["--binary", "/nonexistent/fjord", "--rootfs-only"])
        .arg(tempfile::tempdir().unwrap().path().join("rootfs"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--binary /nonexistent/fjord"), "{err}");
}

/// The image config as `skopeo inspect --config` reports it, and the one layer's media type
/// and blob path after `skopeo copy` into an OCI layout at `layout`.
fn inspect_and_copy(reference: &str, layout: &Path) -> (Value, PathBuf) {
    let config: Value = serde_json::from_str(&run(Command::new("skopeo").args([
        "inspect",
        "--config",
        "--tls-verify=false",
        reference,
    ])))
    .unwrap();
    run(Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false", reference])
        .arg(format!("oci:{}:e2e", layout.display())));
    let read = |p: PathBuf| -> Value {
        serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"))).unwrap()
    };
    let blob = |digest: &str| {
        layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let index = read(layout.join("index.json"));
    let manifest = read(blob(index["manifests"][0]["digest"].as_str().unwrap()));
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(
        layers.len(),
        1,
        "one layer (the rootfs archive): {manifest}"
    );
    (config, blob(layers[0]["digest"].as_str().unwrap()))
}

/// `tar -tv` of the layer: `(mode, owner, path)` per entry, paths without `./`.
fn list_layer(layer: &Path) -> Vec<(String, String, String)> {
    let listing = run(Command::new("tar")
        .args(["--numeric-owner", "-tvzf"])
        .arg(layer));
    listing
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let path = f[5].trim_start_matches("./").trim_end_matches('/');
            (f[0].to_string(), f[1].to_string(), path.to_string())
        })
        .collect()
}

/// podman with its own store under `storage`, in a private mount namespace without the
/// unified cgroup v2 mount when the machine has the hybrid layout crun refuses.
fn podman(storage: &Path, args: &[&str]) -> Output {
    let script =
        "if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi; \
                  exec \"$@\"";
    Command::new("unshare")
        .args(["-m", "sh", "-c", script, "sh", "podman"])
        .arg("--root")
        .arg(storage.join("root"))
        .arg("--runroot")
        .arg(storage.join("run"))
        .args(["--cgroup-manager=cgroupfs", "--events-backend=file"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn image_builds_pushes_and_runs_as_the_non_root_user() {
    require_tools!(BUILDAH, SKOPEO, PODMAN, UNSHARE, DOCKER_REGISTRY);
    require_root();
    let version_line = run(Command::new(FJORD).arg("--version")).trim().to_string();
    let commit = commit_of(&version_line);
    let registry = Registry::anonymous();
    let work = tempfile::tempdir().unwrap();

    // Build from this test's binary and push (in a private mount namespace: buildah's overlay
    // store bind-mounts itself, and that mount must not outlive the test).
    let tag = "fjord:e2e";
    let built = run(Command::new("unshare")
        .arg("-m")
        .arg(repo_root().join("scripts/image.sh"))
        .args(["--binary", FJORD, "--strip", "--tag", tag, "--push"])
        .arg(registry.host())
        .arg("--storage-root")
        .arg(work.path().join("buildah")));
    assert_eq!(built.trim(), tag);
    let image = format!("{}/{tag}", registry.host());

    // What the registry holds.
    let (config, layer) = inspect_and_copy(&format!("docker://{image}"), &work.path().join("oci"));
    assert_eq!(config["architecture"], "amd64", "{config}");
    assert_eq!(config["os"], "linux");
    let c = &config["config"];
    assert_eq!(c["User"], USER);
    assert_eq!(c["Entrypoint"], serde_json::json!(["/usr/local/bin/fjord"]));
    assert_eq!(c["Cmd"], serde_json::json!(["controller"]));
    let labels = &c["Labels"];
    assert_eq!(
        labels["org.opencontainers.image.version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(labels["org.opencontainers.image.revision"], commit.as_str());
    assert!(labels["org.opencontainers.image.source"]
        .as_str()
        .is_some_and(|s| s.starts_with("https://")));

    let entries = list_layer(&layer);
    let entry = |path: &str| {
        entries
            .iter()
            .find(|(_, _, p)| p == path)
            .unwrap_or_else(|| panic!("{path} not in the layer: {entries:?}"))
    };
    assert_eq!(entry("usr/local/bin/fjord").0, "-rwxr-xr-x");
    assert_eq!(entry("usr/local/bin/fjord").1, "0/0");
    assert_eq!(entry("tmp").0, "drwxrwxrwt");
    assert_eq!(entry("var/cache/fjord").1, "65532/65532");
    assert_eq!(entry("home/fjord").1, "65532/65532");
    assert!(entry("etc/ssl/certs/ca-certificates.crt")
        .0
        .starts_with("-rw-r--r--"));
    assert!(entry("etc/passwd").0.starts_with("-rw-r--r--"));
    // The loader at the path the binary names (/lib64 -> usr/lib64, merged /usr) and libc.
    assert_eq!(entry("lib64").0, "lrwxrwxrwx");
    assert_eq!(entry("usr/lib64/ld-linux-x86-64.so.2").0, "lrwxrwxrwx");
    entry("usr/lib/x86_64-linux-gnu/libc.so.6");
    // Nothing but what the rootfs needs: no shell, no package manager.
    assert!(entries.iter().all(|(_, _, p)| !p.ends_with("bin/sh")));

    // Its root filesystem, run as the image's user with chroot.
    let rootfs = work.path().join("rootfs");
    std::fs::create_dir(&rootfs).unwrap();
    run(Command::new("tar")
        .args(["--numeric-owner", "-xzf"])
        .arg(&layer)
        .arg("-C")
        .arg(&rootfs));
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
    assert!(passwd.contains("fjord:x:65532:65532:"), "{passwd}");
    let chroot = |args: &[&str]| {
        run(Command::new("chroot")
            .arg(format!("--userspec={USER}"))
            .arg(&rootfs)
            .arg("/usr/local/bin/fjord")
            .args(args)
            // The image's environment, not the test's (chroot itself is found on this PATH).
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin")
            .env("HOME", "/home/fjord"))
    };
    assert_eq!(chroot(&["--version"]).trim(), version_line);
    let help = chroot(&["controller", "--help"]);
    assert!(help.contains("Usage: fjord controller"), "{help}");
    assert!(help.contains("--cache-dir"), "{help}");

    // The pushed image itself, pulled into a fresh store and run by podman: read-only root,
    // no network, its own user.
    let store = work.path().join("podman");
    let pull = podman(&store, &["pull", "--tls-verify=false", &image]);
    assert!(pull.status.success(), "podman pull: {}", describe(&pull));
    let run_args = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--rm",
            "--network",
            "none",
            "--read-only",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            &image,
        ];
        args.extend_from_slice(extra);
        podman(&store, &args)
    };
    let out = run_args(&["--version"]);
    assert!(
        out.status.success(),
        "podman run --version: {}",
        describe(&out)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), version_line);
    let out = run_args(&["controller", "--help"]);
    assert!(
        out.status.success(),
        "podman run controller --help: {}",
        describe(&out)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: fjord controller"));
    // No arguments: the default command is `controller`, which stops at the missing cluster.
    let out = run_args(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        err.contains("starting the controller") && err.contains("kubeconfig"),
        "{err}"
    );
    let user = podman(
        &store,
        &["image", "inspect", "--format", "{{.Config.User}}", &image],
    );
    assert_eq!(String::from_utf8_lossy(&user.stdout).trim(), USER);
}
