#!/usr/bin/env python3
"""Controller scale benchmark (the shape of Flux's published benchmark), on fjord's local
cluster and on a real Kubernetes control plane, with Argo CD as the peer.

The full run (about an hour on 2 cores; builds fjord and, once, Argo CD):

    bench/controller.py --backend both --apps 3,200,1000 --peer argocd

    bench/controller.py [--backend local|real|both] [--apps N[,N...]] [--peer argocd|none]
                        [--fjord-crds fjord|argocd|both] [--pushes P] [--workers W]

local (for each N): starts `fjord local-cluster` (in memory, simulation delay 0), a smart-HTTP git
server (bench/git_http.py around `git http-backend`) holding ONE repository with N apps, each a
Deployment, a ServiceAccount, a Service and an Ingress, and `fjord controller` as its own process.
Then it measures:

  1. the time from creating the N Applications until all are Synced and Healthy;
  2. a no-op full refresh: every app is asked to refresh (annotation) and re-compared;
  3. push-to-converged latency with the webhook: P commits, each changing one app, each followed
     by a signed GitHub push webhook; latency = webhook sent -> change visible in the cluster
     (apps carry `argocd.argoproj.io/manifest-generate-paths: .`, so a push refreshes only the
     apps whose files it touched);
  4. the controller's peak RSS (VmHWM).

real (for each N; see bench/controller_real.py): a fresh real control plane per contender
(scripts/control-plane.sh; kwok nodes make Pods Ready), reporting the floor (one
`kubectl apply --server-side` of all the rendered objects plus the rollout), fjord controller
(with its own CRDs, and/or Argo CD's published ones: --fjord-crds) and Argo CD's application
controller + repo server + redis (bench/argocd-peer.sh): time to all Synced+Healthy, CPU-seconds,
peak RSS, API server+etcd CPU, and the ratios.

The report goes to stdout and bench/results/controller.txt, after the stamp of bench/stamp.sh
(commit, CPU, kernel, rustc, fjord, kubectl, kube-apiserver and Argo CD versions).
FJORD_BIN=/path/to/fjord skips the release build; ARGOCD_BIN=/path/to/argocd skips Argo CD's.
Exits non-zero when a setup step fails (with the failing component's log tail) or the apps never
converge. fjord's Sealed Secrets and External Secrets controllers are switched off
(--sealed-secrets false --external-secrets false): the peer has neither.
"""
import argparse
import hashlib
import hmac
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "bench-webhook-secret"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def git(cwd, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="b@example.com",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="b@example.com")
    out = subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=env,
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


class Api:
    """Plain HTTP to the local cluster (its kubeconfig has no credentials)."""

    def __init__(self, port):
        self.port = port

    def req(self, method, path, body=None, ctype="application/json"):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        data = json.dumps(body).encode() if body is not None else None
        c.request(method, path, body=data, headers={"Content-Type": ctype} if data else {})
        r = c.getresponse()
        text = r.read()
        c.close()
        if r.status >= 400:
            raise RuntimeError(f"{method} {path}: {r.status} {text[:300]!r}")
        return json.loads(text) if text else None


def app_files(i, rev=0):
    name = f"app-{i:04d}"
    return {
        "deployment.yaml": f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    bench/rev: "{rev}"
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      serviceAccountName: {name}
      containers:
      - name: app
        image: ghcr.io/example/podinfo:6.5.0
        ports:
        - containerPort: 9898
""",
        "serviceaccount.yaml": f"""apiVersion: v1
kind: ServiceAccount
metadata:
  name: {name}
""",
        "service.yaml": f"""apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector:
    app: {name}
  ports:
  - port: 80
    targetPort: 9898
""",
        "ingress.yaml": f"""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
spec:
  rules:
  - host: {name}.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: {name}
            port:
              number: 80
""",
    }


def write_app(work, i, rev=0):
    d = os.path.join(work, "apps", f"app-{i:04d}")
    os.makedirs(d, exist_ok=True)
    for f, text in app_files(i, rev).items():
        with open(os.path.join(d, f), "w") as fh:
            fh.write(text)


def application(i, repo_url):
    name = f"app-{i:04d}"
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd",
                     "annotations": {"argocd.argoproj.io/manifest-generate-paths": "."}},
        "spec": {
            "project": "default",
            "source": {"repoURL": repo_url, "targetRevision": "HEAD", "path": f"apps/{name}"},
            "destination": {"server": "https://kubernetes.default.svc",
                            "namespace": f"bench-{i % 10}"},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                           "syncOptions": ["CreateNamespace=true"]},
        },
    }


def wait_for(what, pred, timeout, every=0.5):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if pred():
            return time.monotonic() - start
        time.sleep(every)
    raise SystemExit(f"bench/controller.py: {what} did not happen within {timeout}s")


def vm_hwm(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return 0


def make_repo(tmp, n, git_port, procs):
    """One repository with N apps in TMP/work (its `origin` the bare copy that
    bench/git_http.py serves on GIT_PORT, appended to PROCS); returns the served URL."""
    work, served = f"{tmp}/work", f"{tmp}/served"
    os.makedirs(work)
    os.makedirs(served)
    git(work, "init", "-q")
    for i in range(n):
        write_app(work, i)
    git(work, "add", "-A")
    git(work, "commit", "-qm", "apps")
    git(served, "clone", "-q", "--bare", work, "bench.git")
    git(work, "remote", "add", "origin", f"{served}/bench.git")
    procs.append(subprocess.Popen([sys.executable, os.path.join(ROOT, "bench/git_http.py"),
                                   served, str(git_port)]))
    return f"http://127.0.0.1:{git_port}/bench.git"


def run_local(fjord, n, args):
    """The local-cluster benchmark at N apps; returns the report lines."""
    tmp = tempfile.mkdtemp(prefix="fjord-bench-ctrl-")
    procs = []
    try:
        api_port, git_port, m_port, w_port = free_port(), free_port(), free_port(), free_port()
        procs.append(subprocess.Popen(
            [fjord, "local-cluster", "--data-dir", f"{tmp}/cluster", "--addr",
             f"127.0.0.1:{api_port}", "--in-memory", "--sim-delay-ms", "0"],
            stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/cluster.log", "w")))
        kc = f"{tmp}/cluster/kubeconfig"
        wait_for("the local cluster", lambda: os.path.exists(kc), 30, 0.05)

        repo_url = make_repo(tmp, n, git_port, procs)
        work = f"{tmp}/work"

        a = Api(api_port)
        a.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": "argocd"}})
        a.req("POST", "/api/v1/namespaces/argocd/secrets", {
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "argocd-secret", "namespace": "argocd"},
            "stringData": {"webhook.github.secret": SECRET}})
        ctrl_log = open(f"{tmp}/controller.log", "w")
        ctrl = subprocess.Popen(
            [fjord, "controller", "--kubeconfig", kc, "--metrics-addr", f"127.0.0.1:{m_port}",
             "--webhook-addr", f"127.0.0.1:{w_port}", "--cache-dir", f"{tmp}/cache",
             "--workers", str(args.workers), "--sealed-secrets", "false",
             "--external-secrets", "false"], stdout=subprocess.DEVNULL, stderr=ctrl_log)
        procs.append(ctrl)

        def ready():
            try:
                c = http.client.HTTPConnection("127.0.0.1", m_port, timeout=2)
                c.request("GET", "/readyz")
                return c.getresponse().status == 200
            except OSError:
                return False
        wait_for("the controller", ready, 60, 0.1)

        apps_path = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications"

        def counts():
            items = a.req("GET", apps_path)["items"]
            ok = sum(1 for x in items
                     if x.get("status", {}).get("sync", {}).get("status") == "Synced"
                     and x.get("status", {}).get("health", {}).get("status") == "Healthy")
            return ok, items

        t0 = time.monotonic()
        for i in range(n):
            a.req("POST", apps_path, application(i, repo_url))
        created = time.monotonic() - t0
        converge = wait_for("convergence", lambda: counts()[0] == n, 600) + created

        # No-op full refresh.
        _, items = counts()
        before = {x["metadata"]["name"]: x["status"].get("reconciledAt") for x in items}
        time.sleep(1.1)  # reconciledAt has one-second resolution
        t1 = time.monotonic()
        for i in range(n):
            a.req("PATCH", f"{apps_path}/app-{i:04d}",
                  {"metadata": {"annotations": {"argocd.argoproj.io/refresh": "normal"}}},
                  "application/merge-patch+json")

        def refreshed():
            items = counts()[1]
            return all(x["status"].get("reconciledAt") != before[x["metadata"]["name"]]
                       and "argocd.argoproj.io/refresh" not in
                       x["metadata"].get("annotations", {}) for x in items)
        wait_for("the no-op refresh", refreshed, 600, 0.25)
        refresh = time.monotonic() - t1

        # Push-to-converged latency with the webhook.
        latencies = []
        stride = max(1, n // max(1, args.pushes))
        for k in range(args.pushes):
            i = (k * stride) % n
            write_app(work, i, rev=k + 1)
            git(work, "commit", "-qam", f"app {i} rev {k + 1}")
            before_sha = git(work, "rev-parse", "HEAD~1")
            sha = git(work, "rev-parse", "HEAD")
            git(work, "push", "-q", "origin", "HEAD:main")
            payload = json.dumps({
                "ref": "refs/heads/main", "before": before_sha, "after": sha,
                "repository": {"html_url": f"http://127.0.0.1:{git_port}/bench",
                               "clone_url": repo_url, "default_branch": "main"},
                "commits": [{"id": sha, "added": [], "removed": [],
                             "modified": [f"apps/app-{i:04d}/deployment.yaml"]}],
            }).encode()
            sig = "sha256=" + hmac.new(SECRET.encode(), payload, hashlib.sha256).hexdigest()
            start = time.monotonic()
            c = http.client.HTTPConnection("127.0.0.1", w_port, timeout=10)
            c.request("POST", "/api/webhook", body=payload, headers={
                "X-GitHub-Event": "push", "X-Hub-Signature-256": sig,
                "Content-Type": "application/json"})
            resp = c.getresponse()
            resp.read()
            if resp.status != 200:
                raise SystemExit(f"bench/controller.py: webhook answered {resp.status}")
            dep = f"/apis/apps/v1/namespaces/bench-{i % 10}/deployments/app-{i:04d}"

            def changed():
                d = a.req("GET", dep)
                return d["metadata"].get("labels", {}).get("bench/rev") == str(k + 1)
            wait_for(f"push {k + 1}", changed, 60, 0.005)
            latencies.append(time.monotonic() - start)

        rss = vm_hwm(ctrl.pid)
        latencies.sort()
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(round(0.99 * (len(latencies) - 1))))]
        objects = n * 4
        lines = [
            f"local cluster, {n} Applications from one repository (http, git http-backend), "
            f"{objects} objects",
            f"all Synced and Healthy after creating the apps   {converge:8.1f} s   (target < 60 s)",
            f"  of which creating {n} Applications          {created:8.1f} s",
            f"no-op full refresh of every app                  {refresh:8.1f} s   (target < 15 s)",
            f"push-to-converged with webhook, {len(latencies)} pushes    "
            f"p50 {p50 * 1000:6.0f} ms, p99 {p99 * 1000:6.0f} ms   (target p50 < 1 s)",
            f"controller peak RSS (VmHWM)                      {rss:8d} MiB (target < 300 MiB)",
        ]
        return lines
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def sizes(text):
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        out = []
    if not out or any(x < 1 for x in out):
        raise argparse.ArgumentTypeError(f"--apps wants positive numbers like 3,200,1000, not {text!r}")
    return out


def choices(allowed):
    def parse(text):
        if text == "both":
            return list(allowed)
        if text not in allowed:
            raise argparse.ArgumentTypeError(f"want one of {', '.join(allowed)} or both, not {text!r}")
        return [text]
    return parse


def load():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def stamp(fjord, args, real):
    """bench/stamp.sh's stamp: commit, CPU, kernel, rustc, and the versions of fjord, kubectl (the
    floor applies with it), and on the real backend kube-apiserver and Argo CD."""
    tools = [f"fjord={fjord}", "kubectl"]
    if real:
        import controller_real
        out = subprocess.run([os.path.join(ROOT, "scripts/control-plane.sh"), "build"],
                             capture_output=True, text=True)
        kube = "?"
        if out.returncode == 0:
            kube = subprocess.run([os.path.join(out.stdout.strip().splitlines()[-1], "kube-apiserver"),
                                   "--version"], capture_output=True, text=True).stdout.strip()
        tools.append(f"kube-apiserver={kube}")
        if args.peer == "argocd":
            tools.append(f"argocd={controller_real.argocd_version()}")
    return subprocess.run([os.path.join(ROOT, "bench/stamp.sh"), *tools], capture_output=True,
                          text=True).stdout.rstrip("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--apps", type=sizes, default=[1000], help="sizes, e.g. 3,200,1000")
    ap.add_argument("--backend", type=choices(["local", "real"]), default=["local", "real"],
                    help="local, real or both (default)")
    ap.add_argument("--peer", choices=["argocd", "none"], default="argocd",
                    help="run Argo CD on the real backend too")
    ap.add_argument("--fjord-crds", type=choices(["fjord", "argocd"]), default=["fjord"],
                    help="which CRDs fjord runs with on the real backend")
    ap.add_argument("--pushes", type=int, default=20)
    ap.add_argument("--workers", type=int, default=8)
    args = ap.parse_args()

    fjord = os.environ.get("FJORD_BIN")
    if not fjord:
        print("building fjord (release)...", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "-q", "--locked", "-p", "fjord"], cwd=ROOT,
                       check=True)
        fjord = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")),
                             "release", "fjord")
    real = "real" in args.backend
    header = [
        stamp(fjord, args, real),
        "",
        f"fjord controller scale benchmark: load {load()} at start; {args.workers} fjord workers",
        "",
    ]
    print("\n".join(header))
    body = []
    if "local" in args.backend:
        for n in args.apps:
            lines = run_local(fjord, n, args) + [""]
            print("\n".join(lines))
            body.extend(lines)
    if real:
        import controller_real
        tmp = tempfile.mkdtemp(prefix="fjord-bench-real-")
        try:
            lines = controller_real.run_real(tmp, args.apps, fjord, args, free_port)
        except controller_real.BenchError as e:
            raise SystemExit(f"bench/controller.py: {e}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print("\n".join(lines))
        body.extend(lines)
    report = "\n".join(header + body).rstrip() + "\n"
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench/results/controller.txt"), "w") as fh:
        fh.write(report)


if __name__ == "__main__":
    main()
