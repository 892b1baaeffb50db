#!/usr/bin/env python3
"""Image updater benchmark: N Applications watching one image in one real registry.

    bench/image_updater_bench/updater.py --fjord BIN [--apps N] [--interval S] [--cycles C]
                                         [--timeout S] [--keep]

Starts Debian's `docker-registry` (anonymous, filesystem storage) behind a small counting
reverse proxy (every request the updater sends is counted by kind: ping `/v2/`, tag list,
manifest, blob), `git daemon` serving one config repository (a kustomization with a Deployment
of image `<registry>/bench/app:1.0.0`), `fjord local-cluster` (in memory, simulation delay 0)
and `fjord controller --image-updater=true --image-updater-interval=S`. N Applications (one
namespace each, auto-sync) carry Argo CD Image Updater's annotations: `image-list:
app=<registry>/bench/app`, semver strategy, write-back `argocd`. Measured:

  1. steady state: registry requests per update cycle over C cycles once every app is Synced
     (nothing new in the registry);
  2. a bump: after tag 1.1.0 is pushed, the time until every Application's
     `spec.source.kustomize.images` names 1.1.0, and the registry requests until then;
  3. the controller's CPU-seconds and peak RSS.

The peer figure is Argo CD Image Updater v0.18.0's cost per cycle, read from its code (its Go
module is not served here, so it cannot be built and run beside fjord): for every app and
every image it creates a registry client whose `NewRepository` pings `/v2/`
(registry-scanner/pkg/registry/client.go) and then lists the tags (`GetTags` →
`regClient.Tags()`, registry-scanner/pkg/registry/registry.go), i.e. 2 requests per app per
cycle on an anonymous registry with one tag page (3 with a bearer token). The ratio printed is
fjord's measured requests per cycle over that figure. Numbers, not assertions.
"""
import argparse
import hashlib
import http.client
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchlib import free_port, proc_stats, start_cluster, start_controller, tail, wait_for  # noqa: E402

NS = "argocd"
IMAGE_REPO = "bench/app"


def request(port, method, path, body=None, headers=None, raw=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    h = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    text = r.read()
    hdrs = dict(r.getheaders())
    c.close()
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    return r.status, parsed, hdrs


def ok(port, method, path, body=None, headers=None, raw=None):
    status, out, hdrs = request(port, method, path, body, headers, raw)
    if status >= 400:
        sys.exit(f"{method} {path}: {status} {json.dumps(out)[:300]}")
    return out, hdrs


class Counter:
    """Requests seen by the proxy, by kind."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def add(self, path):
        kind = "other"
        if path.rstrip("/") == "/v2":
            kind = "ping"
        elif "/tags/list" in path:
            kind = "tags"
        elif "/manifests/" in path:
            kind = "manifest"
        elif "/blobs/" in path:
            kind = "blob"
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def snapshot(self):
        with self.lock:
            return dict(self.counts)


def start_proxy(upstream, counter):
    """A counting reverse proxy for GET/HEAD in front of the registry; returns its port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def forward(self):
            counter.add(self.path)
            c = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
            hdrs = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            c.request(self.command, self.path, headers=hdrs)
            r = c.getresponse()
            body = r.read()
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            c.close()

        do_GET = forward
        do_HEAD = forward

    port = free_port()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return port, srv


def start_registry(tmp, procs):
    port = free_port()
    with open(f"{tmp}/registry.yml", "w") as fh:
        fh.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                 f"    rootdirectory: {tmp}/registry\nhttp:\n  addr: 127.0.0.1:{port}\n")
    procs.append(subprocess.Popen(["docker-registry", "serve", f"{tmp}/registry.yml"],
                                  stdout=subprocess.DEVNULL,
                                  stderr=open(f"{tmp}/registry.log", "w")))

    def up():
        try:
            return request(port, "GET", "/v2/")[0] == 200
        except OSError:
            return False
    wait_for("docker-registry", up, 30, context=lambda: tail(f"{tmp}/registry.log"))
    return port


def push_blob(port, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _, hdrs = ok(port, "POST", f"/v2/{IMAGE_REPO}/blobs/uploads/", raw=b"")
    loc = hdrs.get("Location") or hdrs.get("location")
    path = loc.split(f"127.0.0.1:{port}", 1)[-1]
    sep = "&" if "?" in path else "?"
    ok(port, "PUT", f"{path}{sep}digest={digest}", raw=data,
       headers={"Content-Type": "application/octet-stream"})
    return digest, len(data)


def push_image(port, tag):
    config = json.dumps({"created": "2026-12-01T00:00:00Z", "os": "linux",
                         "architecture": "amd64", "rootfs": {"type": "layers", "diff_ids": []},
                         "config": {}}).encode()
    layer = f"layer of {tag}".encode()
    cd, cs = push_blob(port, config)
    ld, ls = push_blob(port, layer)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd,
                   "size": cs},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld,
                    "size": ls}]}).encode()
    ok(port, "PUT", f"/v2/{IMAGE_REPO}/manifests/{tag}", raw=manifest,
       headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def start_git(tmp, image, procs):
    """A config repository served by git daemon; returns its URL."""
    work = f"{tmp}/work"
    os.makedirs(f"{work}/app")
    with open(f"{work}/app/kustomization.yaml", "w") as fh:
        fh.write("resources:\n- deployment.yaml\n")
    with open(f"{work}/app/deployment.yaml", "w") as fh:
        fh.write("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n"
                 "  selector:\n    matchLabels: {app: app}\n  template:\n    metadata:\n"
                 "      labels: {app: app}\n    spec:\n      containers:\n      - name: app\n"
                 f"        image: {image}:1.0.0\n")
    git(work, "init", "-q", "-b", "main")
    git(work, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "add", ".")
    git(work, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit",
        "-q", "-m", "initial")
    os.makedirs(f"{tmp}/srv")
    git(tmp, "clone", "-q", "--bare", work, f"{tmp}/srv/config.git")
    port = free_port()
    procs.append(subprocess.Popen(
        ["git", "daemon", "--reuseaddr", f"--base-path={tmp}/srv", "--export-all",
         f"--port={port}", "--listen=127.0.0.1", f"{tmp}/srv"],
        stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/git.log", "w")))
    time.sleep(0.5)
    return f"git://127.0.0.1:{port}/config.git"


def application(i, repo, image):
    prefix = "argocd-image-updater.argoproj.io/"
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": f"app-{i:03d}", "namespace": NS, "annotations": {
            prefix + "image-list": f"app={image}",
            prefix + "app.update-strategy": "semver",
            prefix + "write-back-method": "argocd"}},
        "spec": {"project": "default",
                 "source": {"repoURL": repo, "path": "app", "targetRevision": "main"},
                 "destination": {"server": "https://kubernetes.default.svc",
                                 "namespace": f"bench-{i:03d}"},
                 "syncPolicy": {"automated": {}, "syncOptions": ["CreateNamespace=true"]}},
    }


def apps(api):
    _, out, _ = request(api, "GET", f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/applications")
    return (out or {}).get("items", [])


def count_where(api, pred):
    return sum(1 for a in apps(api) if pred(a))


def synced(a):
    return a.get("status", {}).get("sync", {}).get("status") == "Synced"


def bumped(a):
    images = (a.get("spec", {}).get("source", {}).get("kustomize") or {}).get("images") or []
    return any(x.endswith(":1.1.0") for x in images)


def run(fjord, args):
    tmp = tempfile.mkdtemp(prefix="fjord-bench-updater-")
    procs = []
    srv = None
    try:
        reg = start_registry(tmp, procs)
        counter = Counter()
        proxy, srv = start_proxy(reg, counter)
        image = f"127.0.0.1:{proxy}/{IMAGE_REPO}"
        push_image(reg, "1.0.0")
        repo = start_git(tmp, image, procs)
        api, kc = start_cluster(fjord, tmp, procs)
        ctrl, log = start_controller(fjord, tmp, kc, [
            "--external-secrets", "false", "--image-updater", "true",
            "--image-updater-interval", f"{args.interval}s"], procs)
        conf = f"registries:\n- name: bench\n  prefix: 127.0.0.1:{proxy}\n" \
               f"  api_url: http://127.0.0.1:{proxy}\n"
        ok(api, "POST", f"/api/v1/namespaces/{NS}/configmaps", {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "argocd-image-updater-config"},
            "data": {"registries.conf": conf}})
        t0 = time.monotonic()
        for i in range(args.apps):
            ok(api, "POST", f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/applications",
               application(i, repo, image))
        wait_for(f"all {args.apps} apps Synced", lambda: count_where(api, synced) == args.apps,
                 args.timeout, 0.5, lambda: f"{count_where(api, synced)} Synced\n{tail(log)}")
        all_synced = time.monotonic() - t0
        time.sleep(args.interval)
        before = sum(counter.snapshot().values())
        by_kind_before = counter.snapshot()
        time.sleep(args.interval * args.cycles)
        steady = counter.snapshot()
        per_cycle = (sum(steady.values()) - before) / args.cycles
        kinds = {k: (v - by_kind_before.get(k, 0)) / args.cycles for k, v in steady.items()}
        start = sum(counter.snapshot().values())
        t1 = time.monotonic()
        push_image(reg, "1.1.0")
        wait_for("every app bumped to 1.1.0", lambda: count_where(api, bumped) == args.apps,
                 args.timeout, 0.2, lambda: f"{count_where(api, bumped)} bumped\n{tail(log)}")
        bump = time.monotonic() - t1
        bump_requests = sum(counter.snapshot().values()) - start
        cpu, rss = proc_stats(ctrl.pid)
        return {"all_synced": all_synced, "per_cycle": per_cycle, "kinds": kinds,
                "bump": bump, "bump_requests": bump_requests, "cpu": cpu, "rss": rss}
    finally:
        if srv:
            srv.shutdown()
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fjord", required=True)
    ap.add_argument("--apps", type=int, default=100)
    ap.add_argument("--interval", type=int, default=10, help="--image-updater-interval, s")
    ap.add_argument("--cycles", type=int, default=3)
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    n = args.apps
    print(f"fjord image updater benchmark: {n} Applications on one image (semver, write-back "
          f"argocd), docker-registry behind a counting proxy, fjord local-cluster; interval "
          f"{args.interval}s, {args.cycles} cycles counted")
    print()
    r = run(args.fjord, args)
    peer = 2 * n
    k = r["kinds"]
    print(f"{'apps':>5} {'all Synced':>10} {'req/cycle':>9} {'ping':>5} {'tags':>5} "
          f"{'manif.':>6} {'blob':>5} {'Image Updater req/cycle':>23} {'ratio':>6} "
          f"{'bump (all apps)':>15} {'bump req':>8} {'CPU s':>6} {'RSS MiB':>7}")
    print(f"{n:>5} {r['all_synced']:>9.1f}s {r['per_cycle']:>9.1f} {k.get('ping', 0):>5.1f} "
          f"{k.get('tags', 0):>5.1f} {k.get('manifest', 0):>6.1f} {k.get('blob', 0):>5.1f} "
          f"{peer:>23} {r['per_cycle'] / peer:>6.3f} {r['bump']:>14.1f}s "
          f"{r['bump_requests']:>8} {r['cpu']:>6.1f} {r['rss']:>7}")
    print()
    print("Image Updater req/cycle = 2 per app (ping + tag list; v0.18.0's per-app registry "
          "client, see the docstring); ratio = fjord measured / that (lower is better).")


if __name__ == "__main__":
    main()
