//! `fjord set-image` through the real binary: kustomizations, plain manifests, errors that leave
//! every file as it was, and `--commit --push` over `git http-backend` (basic auth, credential
//! helper) and OpenSSH `sshd`, including a push that races another one and is retried on the
//! new tip without forcing. Needs `git` (and `sshd`, `ssh-keygen` for the SSH test); a missing
//! tool follows fjord-testkit's rule.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use fjord_testkit::git::{git, GitRepo};
use fjord_testkit::tools::{GIT, SSHD, SSH_KEYGEN};
use fjord_testkit::{http_backend, require_tools, sshd};

const KUSTOMIZATION: &str = "\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- deploy.yaml
images:
- name: redis
  newTag: \"6\"
- name: nginx
  newTag: \"1.19\"
";

/// What `kustomize edit set image nginx:1.25 redis=myredis:7` (v5.5.0) writes for it.
const KUSTOMIZATION_SET: &str = "\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- deploy.yaml
images:
- name: nginx
  newTag: \"1.25\"
- name: redis
  newName: myredis
  newTag: \"7\"
";

const DEPLOY: &str = "\
# The web front end.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # keep me
spec:
  template:
    spec:
      initContainers:
      - name: init
        image: busybox

      containers:
        # main container
        - name: web
          image: nginx:1.19 # pinned by ops
          ports:
            - containerPort: 80
        - name: cache
          image: 'redis:6'
";

const DEPLOY_SET: &str = "\
# The web front end.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # keep me
spec:
  template:
    spec:
      initContainers:
      - name: init
        image: busybox:1.36

      containers:
        # main container
        - name: web
          image: registry.example.com/nginx:1.25 # pinned by ops
          ports:
            - containerPort: 80
        - name: cache
          image: 'redis:6'
";

const SERVICE: &str = "\
apiVersion: v1
kind: Service # no images here
metadata:
  name: web
";

fn fjord(args: &[&str], home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fjord"))
        .arg("set-image")
        .args(args)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("GIT_SSH_COMMAND")
        .output()
        .expect("run fjord")
}

fn text(o: &Output) -> String {
    fjord_testkit::binary::text(o)
}

fn write(dir: &Path, rel: &str, content: &str) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, content).unwrap();
}

fn read(p: impl AsRef<Path>) -> String {
    fs::read_to_string(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn kustomization_is_rewritten_and_exit_code_reports_no_change() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("app");
    write(&dir, "kustomization.yaml", KUSTOMIZATION);
    write(&dir, "deploy.yaml", DEPLOY);
    let args = [s(&dir), "nginx:1.25", "redis=myredis:7", "--exit-code"];
    let o = fjord(&args, tmp.path());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(read(dir.join("kustomization.yaml")), KUSTOMIZATION_SET);
    assert_eq!(
        read(dir.join("deploy.yaml")),
        DEPLOY,
        "only the kustomization is edited"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("kustomization.yaml"), "{out}");

    // Again: nothing changes; 2 with --exit-code, 0 without.
    let o = fjord(&args, tmp.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(o.stdout.is_empty(), "{}", text(&o));
    let o = fjord(&args[..3], tmp.path());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(read(dir.join("kustomization.yaml")), KUSTOMIZATION_SET);
}

#[test]
fn plain_manifests_keep_every_other_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("app");
    write(&dir, "deploy.yaml", DEPLOY);
    write(&dir, "service.yml", SERVICE);
    write(&dir, "notes.txt", "image: nginx:1.19\n");
    write(&dir, "nested/deploy.yaml", DEPLOY);
    let o = fjord(
        &[
            s(&dir),
            "nginx=registry.example.com/nginx:1.25",
            "busybox:1.36",
        ],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(read(dir.join("deploy.yaml")), DEPLOY_SET);
    assert_eq!(read(dir.join("service.yml")), SERVICE);
    assert_eq!(read(dir.join("notes.txt")), "image: nginx:1.19\n");
    assert_eq!(
        read(dir.join("nested/deploy.yaml")),
        DEPLOY,
        "not recursive"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("deploy.yaml"), "{out}");
    let o = fjord(
        &[
            s(&dir),
            "nginx=registry.example.com/nginx:1.25",
            "--exit-code",
        ],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn errors_exit_1_and_leave_every_file_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let kust = tmp.path().join("kust");
    write(&kust, "kustomization.yaml", KUSTOMIZATION);
    let plain = tmp.path().join("plain");
    write(&plain, "a.yaml", DEPLOY);
    write(&plain, "b.yaml", DEPLOY);

    // A bad argument: named, nothing written.
    for dir in [&kust, &plain] {
        let o = fjord(&[s(dir), "nginx:1.25", "justaname"], tmp.path());
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains("justaname"), "{}", text(&o));
    }
    let o = fjord(&[s(&kust)], tmp.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("no image specified"), "{}", text(&o));

    // A file that cannot be edited after one that can: nothing is written.
    fs::write(plain.join("c.yaml"), b"image: \xff\xfe\n").unwrap();
    let o = fjord(&[s(&plain), "nginx:1.25"], tmp.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("c.yaml"), "{}", text(&o));
    fs::remove_file(plain.join("c.yaml")).unwrap();

    // A symlink leading out of DIR, and a file over 8 MiB.
    write(tmp.path(), "outside/x.yaml", DEPLOY);
    std::os::unix::fs::symlink(tmp.path().join("outside/x.yaml"), plain.join("z.yaml")).unwrap();
    let o = fjord(&[s(&plain), "nginx:1.25"], tmp.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("z.yaml") && text(&o).contains("outside"),
        "{}",
        text(&o)
    );
    fs::remove_file(plain.join("z.yaml")).unwrap();
    fs::write(plain.join("huge.yaml"), vec![b'#'; 8 * 1024 * 1024 + 1]).unwrap();
    let o = fjord(&[s(&plain), "nginx:1.25"], tmp.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("huge.yaml"), "{}", text(&o));

    assert_eq!(read(kust.join("kustomization.yaml")), KUSTOMIZATION);
    assert_eq!(read(plain.join("a.yaml")), DEPLOY);
    assert_eq!(read(plain.join("b.yaml")), DEPLOY);
    assert_eq!(read(tmp.path().join("outside/x.yaml")), DEPLOY);
    let leftovers: Vec<_> = fs::read_dir(&plain)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A repository with the app at `apps/web`, served from `served/shop.git`.
fn shop() -> GitRepo {
    GitRepo::new(
        "shop.git",
        &[
            ("apps/web/kustomization.yaml", KUSTOMIZATION.to_string()),
            ("apps/web/deploy.yaml", DEPLOY.to_string()),
            ("README.md", "shop\n".to_string()),
        ],
    )
}

/// Another clone pushes a commit to the bare repository (the race); returns it.
fn push_from_elsewhere(repo: &GitRepo) -> String {
    let other = repo.scratch("other");
    let bare = s(&repo.bare).to_string();
    git(&other, &["clone", "-q", &bare, "clone"]);
    let clone = other.join("clone");
    write(&clone, "README.md", "shop, edited elsewhere\n");
    git(&clone, &["commit", "-q", "-am", "theirs"]);
    git(&clone, &["push", "-q", "origin", "main"]);
    git(&clone, &["rev-parse", "HEAD"])
}

/// `(commit, parent, subject)` of the bare repository's `main`, newest first.
fn log(repo: &GitRepo) -> Vec<(String, String, String)> {
    git(&repo.bare, &["log", "--format=%H %P %s", "main"])
        .lines()
        .map(|l| {
            let mut it = l.splitn(3, ' ');
            let mut next = || it.next().unwrap_or_default().to_string();
            (next(), next(), next())
        })
        .collect()
}

#[test]
fn commit_and_push_over_http_with_a_credential_helper_retries_a_race() {
    require_tools!(GIT);
    let repo = shop();
    let server = http_backend::serve(&repo.root, Some(("alice", "s3cret-pw")));
    let home = repo.scratch("home");
    let store = repo.scratch("creds").join("store");
    fs::write(
        &store,
        format!("http://alice:s3cret-pw@127.0.0.1:{}\n", server.port),
    )
    .unwrap();
    let url = format!("http://127.0.0.1:{}/shop.git", server.port);
    repo.git(&["remote", "add", "origin", &url]);
    repo.git(&[
        "config",
        "credential.helper",
        &format!("store --file={}", s(&store)),
    ]);
    repo.git(&["fetch", "-q", "origin"]);
    repo.git(&["branch", "-q", "--set-upstream-to=origin/main"]);
    let dir = repo.work.join("apps/web");

    // No author anywhere: refused before anything is written.
    let o = fjord(&[s(&dir), "nginx:1.25", "--push"], &home);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("user.name"), "{}", text(&o));
    assert_eq!(read(dir.join("kustomization.yaml")), KUSTOMIZATION);

    // Uncommitted changes: --push refused, nothing written.
    write(&repo.work, "scratch.txt", "wip\n");
    let o = fjord(
        &[
            s(&dir),
            "nginx:1.25",
            "--push",
            "--author-name",
            "Bot",
            "--author-email",
            "bot@example.com",
        ],
        &home,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("scratch.txt"), "{}", text(&o));
    assert_eq!(read(dir.join("kustomization.yaml")), KUSTOMIZATION);
    fs::remove_file(repo.work.join("scratch.txt")).unwrap();

    // Someone pushes first; ours is refused, re-applied on their commit, pushed.
    let initial = repo.head();
    let theirs = push_from_elsewhere(&repo);
    repo.git(&["config", "user.name", "Config Bot"]);
    repo.git(&["config", "user.email", "config-bot@example.com"]);
    let o = fjord(
        &[
            s(&dir),
            "nginx:1.25",
            "redis=myredis:7",
            "--push",
            "-m",
            "bump web images",
        ],
        &home,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!text(&o).contains("s3cret-pw"), "{}", text(&o));
    assert!(text(&o).contains("refused"), "{}", text(&o));
    let log = log(&repo);
    assert_eq!(log.len(), 3, "{log:?}");
    assert_eq!(log[0].2, "bump web images");
    assert_eq!(log[0].1, theirs, "ours is on top of theirs");
    assert_eq!(
        (log[1].0.as_str(), log[1].1.as_str()),
        (theirs.as_str(), initial.as_str())
    );
    let pushed = &log[0].0;
    assert_eq!(repo.head(), *pushed, "the local branch is the pushed one");
    assert_eq!(
        git(&repo.bare, &["show", "main:apps/web/kustomization.yaml"]),
        KUSTOMIZATION_SET.trim_end()
    );
    assert_eq!(
        git(&repo.bare, &["show", "main:README.md"]),
        "shop, edited elsewhere"
    );
    assert_eq!(
        git(&repo.bare, &["log", "-1", "--format=%an <%ae>", "main"]),
        "Config Bot <config-bot@example.com>"
    );
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    assert!(
        server
            .unauthorized
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0
    );

    // Nothing left to change: exit 2 with --exit-code, no new commit.
    let o = fjord(&[s(&dir), "nginx:1.25", "--push", "--exit-code"], &home);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(git(&repo.bare, &["rev-parse", "main"]), *pushed);
}

#[test]
fn commit_only_and_push_over_ssh() {
    require_tools!(GIT, SSHD, SSH_KEYGEN);
    let repo = shop();
    let keys = repo.scratch("keys");
    let home = repo.scratch("home");
    let ssh_dir = home.join(".ssh");
    fs::create_dir_all(&ssh_dir).unwrap();
    let client_key = ssh_dir.join("id_ed25519");
    sshd::keygen(&client_key);
    let client_pub = read(ssh_dir.join("id_ed25519.pub"));
    let server = sshd::sshd(&keys, &client_pub);
    let host_pub = read(keys.join("ssh_host_ed25519_key.pub"));
    let host: Vec<&str> = host_pub.split_whitespace().collect();
    let url = format!(
        "ssh://{}@127.0.0.1:{}{}",
        sshd::whoami(),
        server.port,
        s(&repo.bare)
    );
    repo.git(&["remote", "add", "origin", &url]);
    repo.git(&["config", "branch.main.remote", "origin"]);
    repo.git(&["config", "branch.main.merge", "refs/heads/main"]);
    let dir = repo.work.join("apps/web");
    let author = ["--author-name", "Bot", "--author-email", "bot@example.com"];
    let initial = repo.head();

    // --commit: a local commit with just the changed file, nothing pushed.
    let mut args = vec![s(&dir), "nginx:1.25", "redis=myredis:7", "--commit"];
    args.extend(author);
    let o = fjord(&args, &home);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_ne!(repo.head(), initial);
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s", "HEAD"]),
        "fjord set-image: nginx:1.25 redis=myredis:7"
    );
    assert_eq!(
        repo.git(&["diff", "--name-only", "HEAD~1", "HEAD"]),
        "apps/web/kustomization.yaml"
    );
    assert_eq!(git(&repo.bare, &["rev-parse", "main"]), initial);

    // The host is unknown: the push fails naming it.
    let mut args = vec![s(&dir), "nginx:1.26", "--push"];
    args.extend(author);
    let o = fjord(&args, &home);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("known_hosts"), "{}", text(&o));
    assert!(!text(&o).contains("PRIVATE KEY"), "{}", text(&o));

    // Known host: the two local commits go out.
    fs::write(
        ssh_dir.join("known_hosts"),
        format!("[127.0.0.1]:{} {} {}\n", server.port, host[0], host[1]),
    )
    .unwrap();
    let mut args = vec![s(&dir), "nginx:1.27", "--push"];
    args.extend(author);
    let o = fjord(&args, &home);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(git(&repo.bare, &["rev-parse", "main"]), repo.head());
    assert_eq!(
        log(&repo).len(),
        4,
        "initial, --commit, the failed push's commit, this one"
    );
    let pushed = git(&repo.bare, &["show", "main:apps/web/kustomization.yaml"]);
    assert!(pushed.contains("newTag: \"1.27\""), "{pushed}");

    // A refusal that is not "the branch moved" (a server hook): reported, not retried.
    let hook = repo.bare.join("hooks/pre-receive");
    fs::write(&hook, "#!/bin/sh\necho no pushes today >&2\nexit 1\n").unwrap();
    fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let before = git(&repo.bare, &["rev-parse", "main"]);
    let mut args = vec![s(&dir), "nginx:1.28", "--push"];
    args.extend(author);
    let o = fjord(&args, &home);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("declined"), "{}", text(&o));
    assert!(
        !text(&o).contains("re-applying"),
        "not retried: {}",
        text(&o)
    );
    assert_eq!(git(&repo.bare, &["rev-parse", "main"]), before);
}
