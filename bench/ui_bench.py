#!/usr/bin/env python3
"""The web UI and API server at scale (issue 14): on `fjord local-cluster`, 10,000 Applications
with a realistic status written straight through the API (sync, health, resources, history; no
controller runs, so nothing rewrites it) and one app whose status lists 2,000 ConfigMaps that
exist live; then `fjord server`, measured

  - in Debian's headless Chromium (ui/e2e/bench.mjs, playwright-core): list first load
    (navigation start -> app-count reads 10,000), filter keystroke -> updated list (median of
    20), tree render of the 2,000-object app (navigation -> last tree-node change);
  - GET /api/v1/applications of all apps (median of 10, one keep-alive connection);
  - the server's peak RSS (VmHWM);
  - the time from spawning the server to its first answer and to its first complete list.

With `--peer argocd` (the default), fjord's server is stopped after its figures are taken and
Argo CD's argocd-server (bench/argocd-peer.sh start-server: its own redis and repo server, no
controller, no Dex) is started against the same cluster and the same objects, logged in as the
same admin (argocd-secret written by fjord's server), and measured the same way for the API
figures; the UI rows have no peer (its web UI is not built here). `--peer none` skips it.

Writes bench/results/ui.md. FJORD_BIN=/path/to/fjord skips the release build.
Usage: bench/ui_bench.py [--apps 10000] [--objects 2000] [--peer argocd|none]
"""
import argparse
import base64
import concurrent.futures
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, proc_stats, start_cluster, tail, wait_for  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NS = "argocd"
PREFIX = "bench-"
TARGETS = {"list": 1500, "key": 100, "tree": 1000, "api": 300, "rss": 300}


def fjord_binary():
    if os.environ.get("FJORD_BIN"):
        return os.environ["FJORD_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    subprocess.run(["cargo", "build", "--release", "-p", "fjord"], cwd=ROOT, check=True)
    return os.path.join(target, "release", "fjord")


class Api:
    """Plain HTTP to the cluster through `kubectl proxy` (one connection per thread)."""

    def __init__(self, port):
        self.port = port

    def call(self, method, path, body=None, ctype="application/json", conn=None):
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        data = json.dumps(body).encode() if body is not None else None
        c.request(method, path, body=data, headers={"Content-Type": ctype} if data else {})
        r = c.getresponse()
        text = r.read()
        if r.status >= 300 and r.status != 409:
            sys.exit(f"{method} {path}: {r.status} {text[:300]!r}")
        return json.loads(text) if text else None


def app_object(i, n_resources):
    name = f"{PREFIX}{10000 + i}"
    ok = i % 10 != 0
    resources = [
        {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "apps",
         "name": f"web-{i}", "status": "Synced" if ok else "OutOfSync",
         "health": {"status": "Healthy" if ok else "Progressing"}},
        {"version": "v1", "kind": "Service", "namespace": "apps", "name": f"web-{i}",
         "status": "Synced", "health": {"status": "Healthy"}},
        {"version": "v1", "kind": "ConfigMap", "namespace": "apps", "name": f"cfg-{i}",
         "status": "Synced"},
    ]
    if n_resources:
        resources = [{"version": "v1", "kind": "ConfigMap", "namespace": "bench-big",
                      "name": f"cm-{k:04d}", "status": "Synced"} for k in range(n_resources)]
    rev = f"{i:040x}"[-40:]
    return name, {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": NS,
                     "labels": {"team": f"team-{i % 20}"}},
        "spec": {"project": "default",
                 "source": {"repoURL": "https://git.example/apps.git",
                            "targetRevision": "HEAD", "path": f"apps/{i}"},
                 "destination": {"server": "https://kubernetes.default.svc",
                                 "namespace": "bench-big" if n_resources else "apps"}},
    }, {
        "sync": {"status": "Synced" if ok else "OutOfSync", "revision": rev,
                 "comparedTo": {"source": {"repoURL": "https://git.example/apps.git",
                                           "path": f"apps/{i}", "targetRevision": "HEAD"}}},
        "health": {"status": "Healthy" if ok else "Progressing"},
        "resources": resources,
        "summary": {"images": ["nginx:1.27"]},
        "reconciledAt": "2026-12-07T22:00:00Z",
        "sourceType": "Directory",
        "history": [{"id": 0, "revision": rev, "deployedAt": "2026-12-07T21:00:00Z",
                     "source": {"repoURL": "https://git.example/apps.git", "path": f"apps/{i}"}}],
        "operationState": {"phase": "Succeeded", "message": "successfully synced",
                           "startedAt": "2026-12-07T21:00:00Z",
                           "finishedAt": "2026-12-07T21:00:01Z",
                           "operation": {"sync": {"revision": rev}},
                           "syncResult": {"revision": rev}},
    }


def populate(api, apps, objects):
    """The namespaces, the big app's ConfigMaps, the apps and their status (4 threads)."""
    for ns in ("argocd", "apps", "bench-big"):
        api.call("POST", "/api/v1/namespaces",
                 {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    api.call("POST", f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/appprojects",
             {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
              "metadata": {"name": "default", "namespace": NS},
              "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}],
                       "clusterResourceWhitelist": [{"group": "*", "kind": "*"}]}})

    def configmaps(ks):
        c = http.client.HTTPConnection("127.0.0.1", api.port, timeout=60)
        for k in ks:
            api.call("POST", "/api/v1/namespaces/bench-big/configmaps",
                     {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": f"cm-{k:04d}", "namespace": "bench-big"},
                      "data": {"k": str(k)}}, conn=c)

    def applications(idx):
        c = http.client.HTTPConnection("127.0.0.1", api.port, timeout=60)
        base = f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/applications"
        for i in idx:
            name, obj, status = app_object(i, objects if i == 0 else 0)
            api.call("POST", base, obj, conn=c)
            api.call("PATCH", f"{base}/{name}/status", {"status": status},
                     ctype="application/merge-patch+json", conn=c)

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(configmaps, [range(k, objects, 4) for k in range(4)]))
        list(pool.map(applications, [range(k, apps, 4) for k in range(4)]))
    print(f"created {apps} apps and {objects} ConfigMaps in {time.monotonic() - start:.1f}s",
          file=sys.stderr)


def api_list_ms(port, token, runs=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times, size, count = [], 0, 0
    for _ in range(runs):
        t = time.perf_counter()
        c.request("GET", "/api/v1/applications", headers={"Authorization": f"Bearer {token}"})
        r = c.getresponse()
        body = r.read()
        times.append((time.perf_counter() - t) * 1000)
        if r.status != 200:
            sys.exit(f"GET /api/v1/applications: {r.status} {body[:200]!r}")
        size = len(body)
        count = len(json.loads(body).get("items") or [])
    return statistics.median(times), size, count


def session(port, password):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/api/v1/session",
              body=json.dumps({"username": "admin", "password": password}),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit(f"POST /api/v1/session: {r.status}")
    return json.loads(body)["token"]


def complete_list(port, token, apps, started, timeout, context):
    """Seconds from `started` (time.time()) until the server lists all `apps` apps."""
    wait_for("all apps in the server's list",
             lambda: api_list_ms(port, token, 1)[2] == apps, timeout, 0.2, context)
    return time.time() - started


def peer_argocd(kc, tmp, apps, password):
    """argocd-server on the same cluster and objects: its API figures (dict)."""
    script = os.path.join(ROOT, "bench", "argocd-peer.sh")
    pdir = os.path.join(tmp, "argocd")
    out = subprocess.run([script, "start-server", kc, pdir], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"bench/argocd-peer.sh start-server failed:\n{out.stderr}")
    up_at = time.time()
    env = dict(line.split("=", 1) for line in out.stdout.split() if "=" in line)
    started, port = float(env["SERVER_STARTED"]), int(env["SERVER_PORT"])
    log = os.path.join(pdir, "server.log")
    token = session(port, password)
    full = complete_list(port, token, apps, started, 300, lambda: tail(log))
    api_ms, api_bytes, _ = api_list_ms(port, token)
    rss = {k: proc_stats(int(env[f"{k}_PID"]))[1] for k in ("SERVER", "REDIS", "REPO")}
    commit = os.path.basename(os.path.dirname(subprocess.run(
        [script, "build"], capture_output=True, text=True).stdout.strip()))
    return {"up": up_at - started, "full": full, "api_ms": api_ms, "api_bytes": api_bytes,
            "rss": rss["SERVER"], "rss_redis": rss["REDIS"], "rss_repo": rss["REPO"],
            "commit": commit}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--apps", type=int, default=10000)
    ap.add_argument("--objects", type=int, default=2000)
    ap.add_argument("--peer", choices=["argocd", "none"], default="argocd")
    args = ap.parse_args()
    if args.peer == "argocd":
        # Build (or find) Argo CD first: a failed build should not cost the fjord run.
        subprocess.run([os.path.join(ROOT, "bench", "argocd-peer.sh"), "build"], check=True,
                       stdout=subprocess.DEVNULL)
    fjord = fjord_binary()
    procs = []
    tmp = tempfile.mkdtemp(prefix="fjord-ui-bench-")
    peer = None
    try:
        _, kc = start_cluster(fjord, tmp, procs)
        pport = free_port()
        procs.append(subprocess.Popen(
            ["kubectl", "--kubeconfig", kc, "proxy", f"--port={pport}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        api = Api(pport)

        def proxy_up():
            try:
                http.client.HTTPConnection("127.0.0.1", pport, timeout=2).request("GET", "/version")
                return True
            except OSError:
                return False
        wait_for("kubectl proxy", proxy_up, 30)
        subprocess.run(["kubectl", "--kubeconfig", kc, "apply", "-f",
                        os.path.join(ROOT, "manifests", "crds.yaml")],
                       check=True, stdout=subprocess.DEVNULL)
        wait_for("the Application CRD", lambda: subprocess.run(
            ["kubectl", "--kubeconfig", kc, "get", "applications", "-A"],
            capture_output=True).returncode == 0, 30)
        populate(api, args.apps, args.objects)

        port = free_port()
        log = f"{tmp}/server.log"
        spawned = time.time()
        server = subprocess.Popen(
            [fjord, "server", "--kubeconfig", kc, "--addr", f"127.0.0.1:{port}",
             "--cache-dir", f"{tmp}/server-cache"],
            stdout=subprocess.DEVNULL, stderr=open(log, "w"))
        procs.append(server)

        def up():
            if server.poll() is not None:
                sys.exit(f"fjord server exited ({server.returncode}):\n{tail(log)}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/api/version")
                return c.getresponse().status == 200
            except OSError:
                return False
        startup = wait_for("fjord server", up, 120, 0.1, lambda: tail(log))

        def secret():
            o = subprocess.run(["kubectl", "--kubeconfig", kc, "-n", NS, "get", "secret",
                                "argocd-initial-admin-secret", "-o", "jsonpath={.data.password}"],
                               capture_output=True, text=True)
            return o.stdout if o.returncode == 0 and o.stdout else None
        wait_for("argocd-initial-admin-secret", lambda: secret() is not None, 60)
        password = base64.b64decode(secret()).decode()
        token = session(port, password)
        # The cache must hold every app before timing: poll until the list is complete.
        full = complete_list(port, token, args.apps, spawned, 120, lambda: tail(log))
        api_ms, api_bytes, _ = api_list_ms(port, token)
        _, rss_api = proc_stats(server.pid)

        shots = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")),
                             "ui-screenshots", "bench")
        env = dict(os.environ, FJORD_UI_URL=f"http://127.0.0.1:{port}", FJORD_UI_PASSWORD=password,
                   FJORD_BENCH_TOTAL=str(args.apps), FJORD_BENCH_PREFIX=PREFIX,
                   FJORD_BENCH_BIG=f"{PREFIX}10000", FJORD_BENCH_BIG_NODES=str(args.objects),
                   FJORD_UI_SCREENSHOTS=shots)
        out = subprocess.run(["node", "bench.mjs"], cwd=os.path.join(ROOT, "ui", "e2e"),
                             env=env, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"ui/e2e/bench.mjs failed:\n{out.stdout}\n{out.stderr}\n{tail(log)}")
        ui = json.loads(out.stdout.strip().splitlines()[-1])
        _, rss = proc_stats(server.pid)
        mine = {"up": startup, "full": full, "api_ms": api_ms, "api_bytes": api_bytes,
                "rss_api": rss_api, "rss": rss}
        if args.peer == "argocd":
            # One server at a time on the 2 cores: fjord's is stopped before Argo CD's starts.
            server.terminate()
            server.wait(10)
            peer = peer_argocd(kc, tmp, args.apps, password)
        write_results(fjord, args, ui, mine, peer)
    finally:
        if args.peer == "argocd":
            subprocess.run([os.path.join(ROOT, "bench", "argocd-peer.sh"), "stop",
                            os.path.join(tmp, "argocd")], check=False)
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def write_results(fjord, args, ui, mine, peer):
    tools = [f"fjord={fjord}"] + (["argocd"] if peer else [])
    stamp = subprocess.run([os.path.join(ROOT, "bench", "stamp.sh"), *tools],
                           capture_output=True, text=True).stdout
    chromium = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True,
                              text=True).stdout.strip()

    def row(what, value, unit, target=None, theirs=None, fmt=".0f"):
        ok = "" if target is None else ("yes" if value < target else "NO")
        goal = "" if target is None else f"< {target} {unit}"
        if theirs is None:
            other, ratio = "—", "—"
        else:
            other, ratio = f"{theirs:{fmt}} {unit}", f"{theirs / value:.1f}×" if value else "—"
        return f"| {what} | {value:{fmt}} {unit} | {other} | {ratio} | {goal} | {ok} |"

    p = peer or {}
    mb = mine["api_bytes"] / 1e6
    lines = [
        "# Web UI and API server at scale (bench/ui_bench.py)", "", "```", stamp.strip(),
        f"browser: {chromium} (headless, playwright-core)", "```", "",
        f"{args.apps} Applications with status written through the API (no controller), one of "
        f"them listing {args.objects} live ConfigMaps, on `fjord local-cluster`.",
        "", "| measure | fjord | Argo CD | Argo CD / fjord | target (fjord) | met |",
        "|---|---|---|---|---|---|",
        row("list first load (navigation start -> app-count = all)", ui["listFirstLoadMs"], "ms",
            TARGETS["list"]),
        row("filter keystroke -> updated list (median of 20)", ui["keystrokeMedianMs"], "ms",
            TARGETS["key"]),
        row(f"tree render of the {args.objects}-object app ({ui['treeNodesShown']} tree-nodes in "
            f"view: the tree is windowed; {ui['treeLastNodeReached']} reached by scrolling)",
            ui["treeRenderMs"], "ms", TARGETS["tree"]),
        row(f"GET /api/v1/applications, {args.apps} apps (median of 10, one keep-alive "
            "connection, no gzip)", mine["api_ms"], "ms", TARGETS["api"], p.get("api_ms")),
        row("its response body", mb, "MB", None,
            p["api_bytes"] / 1e6 if peer else None, ".1f"),
        row("server peak RSS (VmHWM) after start, login and the API list", mine["rss_api"],
            "MiB", None, p.get("rss")),
        row("server peak RSS (VmHWM) at the end, after the browser runs too", mine["rss"], "MiB",
            TARGETS["rss"]),
        row("spawn -> first answer (fjord: /api/version; Argo CD: /healthz, which waits for its "
            "informers)", mine["up"], "s", None, p.get("up"), ".1f"),
        row("spawn -> first complete list (login included)", mine["full"], "s", None,
            p.get("full"), ".1f"),
        "", f"Runs: list loads {[round(x) for x in ui['listLoadRunsMs']]} ms; keystrokes "
        f"{ui['keystrokeMs']} ms (max {ui['keystrokeMaxMs']:.0f}); tree {ui['treeRuns']}.", "",
    ]
    if peer:
        lines += [
            f"Peer: Argo CD's argocd-server ({peer['commit'][:12]}, bench/argocd-peer.sh "
            "start-server), started after fjord's server had been measured and stopped, on the "
            "same cluster and the same objects (fjord's CRDs; Argo CD's config maps added), "
            "`--insecure`, logged in as the same admin through POST /api/v1/session; no "
            "application controller ran. Both list the same spec and status; Argo CD's body "
            "also carries each object's managedFields, which fjord's leaves out. Its redis and repo server are not in its RSS: "
            f"{peer['rss_redis']} MiB and {peer['rss_repo']} MiB at the end. Argo CD's web UI "
            "is not built here (its `ui/dist` is a placeholder), so the browser rows have no "
            "peer.", "",
        ]
    else:
        lines += ["Peer: not run (`--peer none`).", ""]
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "ui.md"), "w") as fh:
        fh.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
