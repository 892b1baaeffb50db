#!/usr/bin/env python3
"""External Secrets benchmark: N ExternalSecrets against one ClusterSecretStore, on fjord's
local cluster, with a real OpenBao dev server whose file audit device counts every request.

    bench/eso_bench/eso.py --fjord BIN [--count N] [--keys K[,K...]] [--interval S]
                           [--cycles C] [--timeout S]

For each K in --keys (default "10,1000": (a) N ExternalSecrets over 10 distinct Vault keys,
(b) over N distinct keys) a fresh set of processes is started: `fjord local-cluster` (in memory,
simulation delay 0), `bao server -dev` with a declarative `audit "file"` device (OpenBao 2.x
refuses to enable audit devices through the API), and `fjord controller` (Sealed Secrets off,
--external-secrets-resync from --eso-resync, else its default). The store authenticates
with a token from a read-only policy. Measured:

  1. create: the time to POST the N ExternalSecrets to the API;
  2. all Ready: from the first POST until every ExternalSecret has Ready=True (polled by
     listing them every 0.5 s);
  3. Vault requests per refresh cycle: audit-log `request` entries during C cycles of
     steady state (C * refreshInterval seconds, after all are Ready and one cycle has passed),
     divided by C, split into reads (secret/data/...), token lookup-self, renew-self, logins
     and other; how many ExternalSecrets refreshed in that window (their status.refreshTime
     moved) is printed next to it;

against the one-request-per-secret baseline (N reads per cycle) and ESO's default cost per
sync, login + lookup-self + read + revoke-self (~4 N per cycle; reference §10): the ratios are
printed. Also the controller's CPU-seconds and peak RSS. Exits non-zero when a process fails
to start or the ExternalSecrets never all become Ready (printing the controller's log tail).
"""
import argparse
import base64
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchlib import free_port, proc_stats, start_cluster, start_controller, tail, wait_for  # noqa: E402

POLICY = 'path "secret/data/*" { capabilities = ["read"] }\n'
NS = "bench"


def request(port, method, path, body=None, headers=None, ctype="application/json"):
    """One plain-HTTP request; returns (status, parsed JSON or None)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    data = json.dumps(body).encode() if body is not None else None
    h = dict(headers or {})
    if data is not None:
        h["Content-Type"] = ctype
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    text = r.read()
    c.close()
    try:
        return r.status, (json.loads(text) if text else None)
    except ValueError:
        return r.status, None


def ok(port, method, path, body=None, headers=None):
    status, out = request(port, method, path, body, headers)
    if status >= 400:
        sys.exit(f"{method} {path}: {status} {json.dumps(out)[:300]}")
    return out


class Audit:
    """The OpenBao file audit log: `request` entries, by category."""

    def __init__(self, path):
        self.path = path

    def entries(self):
        out = []
        try:
            with open(self.path) as fh:
                for line in fh:
                    try:
                        e = json.loads(line)
                    except ValueError:
                        continue
                    if e.get("type") == "request":
                        out.append(e.get("request", {}).get("path", ""))
        except OSError:
            pass
        return out

    @staticmethod
    def category(path):
        if path.startswith("secret/data/") or path.startswith("secret/metadata/"):
            return "read"
        if path == "auth/token/lookup-self":
            return "lookup"
        if path == "auth/token/renew-self":
            return "renew"
        if path == "auth/token/revoke-self":
            return "revoke"
        if path.startswith("auth/") and path.endswith("/login") or "/login/" in path:
            return "login"
        return "other"


def external_secret(i, keys, interval):
    return {
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": f"es-{i:04d}", "namespace": NS},
        "spec": {
            "refreshInterval": f"{interval}s",
            "secretStoreRef": {"name": "vault-backend", "kind": "ClusterSecretStore"},
            "target": {"name": f"es-{i:04d}", "creationPolicy": "Owner"},
            "data": [{"secretKey": "password",
                      "remoteRef": {"key": f"secret/data/bench/k{i % keys}",
                                    "property": "password"}}],
        },
    }


def ready_state(port):
    """(number Ready=True, {name: refreshTime}) of the ExternalSecrets."""
    _, out = request(port, "GET", f"/apis/external-secrets.io/v1/namespaces/{NS}/externalsecrets")
    items = (out or {}).get("items", [])
    n = 0
    times = {}
    for x in items:
        st = x.get("status", {})
        times[x["metadata"]["name"]] = st.get("refreshTime")
        if any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in st.get("conditions", [])):
            n += 1
    return n, times


def start_bao(tmp, procs):
    """A dev server with a file audit device; returns (port, Audit)."""
    port = free_port()
    audit = f"{tmp}/audit.log"
    with open(f"{tmp}/bao.hcl", "w") as fh:
        fh.write(f'audit "file" "bench" {{\n  options {{\n    file_path = "{audit}"\n  }}\n}}\n')
    procs.append(subprocess.Popen(
        ["bao", "server", "-dev", "-dev-root-token-id=root",
         f"-dev-listen-address=127.0.0.1:{port}", f"-config={tmp}/bao.hcl"],
        stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/bao.log", "w"),
        env=dict(os.environ, HOME=tmp)))

    def up():
        try:
            return request(port, "GET", "/v1/sys/health")[0] == 200
        except OSError:
            return False
    wait_for("bao server", up, 30, context=lambda: tail(f"{tmp}/bao.log"))
    return port, Audit(audit)


def setup_bao(port, n_keys):
    """The read policy, a token carrying it, and the keys; returns the token."""
    root = {"X-Vault-Token": "root"}
    ok(port, "PUT", "/v1/sys/policies/acl/eso-read", {"policy": POLICY}, root)
    tok = ok(port, "POST", "/v1/auth/token/create",
             {"policies": ["eso-read"], "ttl": "24h"}, root)["auth"]["client_token"]
    for k in range(n_keys):
        ok(port, "POST", f"/v1/secret/data/bench/k{k}",
           {"data": {"password": f"bench-value-{k}"}}, root)
    return tok


def run(fjord, args, n_keys):
    """One scenario; returns a dict of figures."""
    tmp = tempfile.mkdtemp(prefix="fjord-bench-eso-")
    procs = []
    try:
        bao_port, audit = start_bao(tmp, procs)
        token = setup_bao(bao_port, n_keys)
        api, kc = start_cluster(fjord, tmp, procs)
        eso_resync = ["--external-secrets-resync", args.eso_resync] if args.eso_resync else []
        ctrl, log = start_controller(fjord, tmp, kc, eso_resync, procs)
        wait_for("the external-secrets.io API",
                 lambda: request(api, "GET", "/apis/external-secrets.io/v1")[0] == 200, 60,
                 context=lambda: tail(log))
        ok(api, "POST", "/api/v1/namespaces",
           {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        ok(api, "POST", f"/api/v1/namespaces/{NS}/secrets", {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "vault-token"},
            "data": {"token": base64.b64encode(token.encode()).decode()}})
        ok(api, "POST", "/apis/external-secrets.io/v1/clustersecretstores", {
            "apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore",
            "metadata": {"name": "vault-backend"},
            "spec": {"provider": {"vault": {
                "server": f"http://127.0.0.1:{bao_port}", "path": "secret", "version": "v2",
                "auth": {"tokenSecretRef": {"name": "vault-token", "key": "token",
                                            "namespace": NS}}}}}})
        setup_requests = len(audit.entries())

        t0 = time.monotonic()
        for i in range(args.count):
            ok(api, "POST", f"/apis/external-secrets.io/v1/namespaces/{NS}/externalsecrets",
               external_secret(i, n_keys, args.interval))
        created = time.monotonic() - t0
        wait_for(f"all {args.count} ExternalSecrets Ready",
                 lambda: ready_state(api)[0] == args.count, args.timeout, 0.5,
                 lambda: f"{ready_state(api)[0]} Ready\n{tail(log)}")
        all_ready = time.monotonic() - t0
        first = audit.entries()[setup_requests:]

        # Steady state: skip one cycle, then count C cycles.
        time.sleep(args.interval)
        _, before = ready_state(api)
        start = len(audit.entries())
        time.sleep(args.interval * args.cycles)
        window = audit.entries()[start:]
        _, after = ready_state(api)
        refreshed = sum(1 for k, v in after.items() if v != before.get(k))
        cats = {}
        for p in window:
            c = Audit.category(p)
            cats[c] = cats.get(c, 0) + 1
        cpu, rss = proc_stats(ctrl.pid)
        return {
            "keys": n_keys, "created": created, "all_ready": all_ready,
            "first_sync_requests": len(first),
            "per_cycle": len(window) / args.cycles,
            "cats": {k: v / args.cycles for k, v in cats.items()},
            "refreshed": refreshed, "cpu": cpu, "rss": rss,
        }
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fjord", required=True)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--keys", default="10,1000")
    ap.add_argument("--interval", type=int, default=30, help="refreshInterval, s")
    ap.add_argument("--eso-resync", default="",
                    help="fjord controller --external-secrets-resync (default: its own, 10s)")
    ap.add_argument("--cycles", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=900, help="limit for all Ready, s")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folders")
    args = ap.parse_args()
    n = args.count
    print(f"fjord External Secrets benchmark: {n} ExternalSecrets, one ClusterSecretStore "
          f"(vault provider, token auth), OpenBao dev server with a file audit device, "
          f"fjord local-cluster; refreshInterval {args.interval}s, "
          f"--external-secrets-resync {args.eso_resync or 'default (10s)'}, "
          f"{args.cycles} cycles counted")
    print()
    head = (f"{'scenario':<26} {'create':>7} {'all Ready':>9} {'1st sync':>8} "
            f"{'req/cycle':>9} {'reads':>6} {'lookup':>6} {'renew':>5} {'login':>5} "
            f"{'other':>5} {'ES refreshed':>12} {'vs N reads':>10} {'vs ESO ~4N':>10} "
            f"{'CPU s':>6} {'RSS MiB':>7}")
    print(head)
    for k in [int(x) for x in args.keys.split(",")]:
        r = run(args.fjord, args, k)
        c = r["cats"]
        label = f"{n} ES over {k} keys"
        per = r["per_cycle"]
        print(f"{label:<26} {r['created']:>6.1f}s {r['all_ready']:>8.1f}s "
              f"{r['first_sync_requests']:>8} {per:>9.1f} {c.get('read', 0):>6.1f} "
              f"{c.get('lookup', 0):>6.1f} {c.get('renew', 0):>5.1f} {c.get('login', 0):>5.1f} "
              f"{c.get('other', 0) + c.get('revoke', 0):>5.1f} "
              f"{r['refreshed']:>5}/{n:<6} {per / n:>10.3f} {per / (4 * n):>10.4f} "
              f"{r['cpu']:>6.1f} {r['rss']:>7}", flush=True)
    print()
    print(f"baselines per cycle: one read per ExternalSecret = {n}; ESO's default "
          f"(login + lookup-self + read + revoke-self per sync, reference §10) ~ {4 * n}.")
    print("'1st sync' = Vault requests from the first POST until all Ready; "
          "'vs' columns = requests per cycle / baseline (lower is better).")


if __name__ == "__main__":
    main()
