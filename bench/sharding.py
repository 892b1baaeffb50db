#!/usr/bin/env python3
"""Sharding benchmark: N Applications on one `fjord controller` against the same N on three
replicas with `--shards auto`, on fjord's local API (`fjord local-cluster`).

    bench/sharding.py [--apps N] [--replicas R] [--workers W] [--timeout S]

For each contender (1 replica, then R replicas with `--leader-elect --shards auto`) it starts a
fresh `fjord local-cluster` (in memory, simulation delay 0), a smart-HTTP git server
(bench/git_http.py) holding ONE repository with N apps (each a Deployment, a ServiceAccount, a
Service and an Ingress: bench/controller.py's apps) and the controller process(es). With
shards, it waits until every replica's /metrics count R members, so the apps are spread from
the start. Then it measures:

  1. the time from creating the N Applications until all are Synced and Healthy;
  2. each replica's peak RSS (VmHWM from /proc/<pid>/status) and CPU-seconds;
  3. how the apps were spread (fjord_controller_shard_apps of each replica).

and reports the ratios sharded/single for the time, the largest replica's peak RSS and the
summed CPU. All replicas share the machine's cores: on 2 cores three replicas do not run
faster than one; what sharding buys there is a smaller per-replica memory peak.
The report goes to stdout and bench/results/sharding.txt, after bench/stamp.sh's stamp.
FJORD_BIN=/path/to/fjord skips the release build. Exits non-zero when a setup step fails
(with the failing component's log tail) or the apps never converge.
"""
import argparse
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from benchlib import free_port, proc_stats, start_cluster, start_controller, tail, wait_for  # noqa: E402
from controller import Api, application, make_repo  # noqa: E402

APPS = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications"


def metrics_addr(log):
    """The metrics address the controller announced in its log."""
    with open(log, errors="replace") as fh:
        m = re.search(r"metrics http://([0-9.]+:[0-9]+)", fh.read())
    return m.group(1) if m else None


def scrape(addr):
    host, port = addr.rsplit(":", 1)
    try:
        c = http.client.HTTPConnection(host, int(port), timeout=5)
        c.request("GET", "/metrics")
        r = c.getresponse()
        return r.read().decode(errors="replace") if r.status == 200 else ""
    except OSError:
        return ""


def gauge(page, name):
    """The first sample of `name` (any labels), or None."""
    for line in page.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            try:
                return float(line.rsplit(" ", 1)[1])
            except ValueError:
                return None
    return None


def run(fjord, n, replicas, args):
    """One contender: `replicas` == 1 runs a plain controller, more run `--shards auto`."""
    tmp = tempfile.mkdtemp(prefix="fjord-bench-shard-")
    procs = []
    try:
        api_port, kc = start_cluster(fjord, tmp, procs)
        url = make_repo(tmp, n, free_port(), procs)
        a = Api(api_port)
        a.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": "argocd"}})
        ctrls = []
        for r in range(replicas):
            d = f"{tmp}/r{r}"
            os.makedirs(d)
            extra = ["--workers", str(args.workers), "--external-secrets", "false"]
            if replicas > 1:
                extra += ["--leader-elect", "--identity", f"r{r}", "--shards", "auto"]
            ctrl, log = start_controller(fjord, d, kc, extra, procs)
            ctrls.append((ctrl, log, metrics_addr(log)))
        if replicas > 1:
            def members():
                return all(gauge(scrape(m), "fjord_controller_shard_members") == replicas
                           for _, _, m in ctrls)
            wait_for(f"{replicas} shard members", members, 120, 0.5,
                     lambda: "\n".join(tail(log) for _, log, _ in ctrls))

        def synced():
            for r, (ctrl, log, _) in enumerate(ctrls):
                if ctrl.poll() is not None:
                    sys.exit(f"bench/sharding.py: replica r{r} exited ({ctrl.returncode}) "
                             f"before convergence:\n{tail(log)}")
            items = a.req("GET", APPS)["items"]
            return sum(1 for x in items
                       if x.get("status", {}).get("sync", {}).get("status") == "Synced"
                       and x.get("status", {}).get("health", {}).get("status") == "Healthy") == n

        t0 = time.monotonic()
        for i in range(n):
            a.req("POST", APPS, application(i, url))
        created = time.monotonic() - t0
        wait_for("convergence", synced, args.timeout, 1.0,
                 lambda: "\n".join(tail(log) for _, log, _ in ctrls))
        converge = time.monotonic() - t0
        synced()  # every replica is still alive
        stats = []
        for ctrl, log, m in ctrls:
            cpu, rss = proc_stats(ctrl.pid)
            owned = gauge(scrape(m), "fjord_controller_shard_apps") if replicas > 1 else n
            stats.append((cpu, rss, owned))
        return converge, created, stats
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def report(n, replicas, single, sharded):
    t1, c1, s1 = single
    tn, cn, sn = sharded
    rss1, rssn = s1[0][1], max(s[1] for s in sn)
    cpu1, cpun = s1[0][0], sum(s[0] for s in sn)
    lines = [f"local cluster, {n} Applications from one repository ({n * 4} objects)",
             f"  1 replica                      all Synced+Healthy {t1:7.1f} s "
             f"(created in {c1:.1f} s); CPU {cpu1:7.1f} s; peak RSS {rss1:5d} MiB"]
    lines.append(f"  {replicas} replicas, --shards auto    all Synced+Healthy {tn:7.1f} s "
                 f"(created in {cn:.1f} s); CPU {cpun:7.1f} s (sum)")
    for r, (cpu, rss, owned) in enumerate(sn):
        owned = "?" if owned is None else int(owned)
        lines.append(f"    replica r{r}: owns {owned} apps; CPU {cpu:7.1f} s; peak RSS {rss:5d} MiB")
    lines.append(f"  ratios sharded/single: time {tn / t1:.2f}, largest peak RSS "
                 f"{rssn / max(rss1, 1):.2f}, summed peak RSS "
                 f"{sum(s[1] for s in sn) / max(rss1, 1):.2f}, CPU {cpun / max(cpu1, 0.01):.2f}")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--apps", type=int, default=3000)
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--timeout", type=int, default=1800)
    args = ap.parse_args()
    if args.apps < 1 or args.replicas < 2:
        raise SystemExit("bench/sharding.py: --apps >= 1 and --replicas >= 2")
    fjord = os.environ.get("FJORD_BIN")
    if not fjord:
        print("building fjord (release)...", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "-q", "--locked", "-p", "fjord"], cwd=ROOT,
                       check=True)
        fjord = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")),
                             "release", "fjord")
    stamp = subprocess.run([os.path.join(ROOT, "bench/stamp.sh"), f"fjord={fjord}"],
                           capture_output=True, text=True).stdout.rstrip("\n")
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    header = [stamp, "", f"fjord sharding benchmark: load {load} at start; {args.workers} "
              f"workers per replica; binary {fjord}", ""]
    print("\n".join(header), flush=True)
    single = run(fjord, args.apps, 1, args)
    print(f"1 replica: {single[0]:.1f} s", file=sys.stderr, flush=True)
    sharded = run(fjord, args.apps, args.replicas, args)
    lines = report(args.apps, args.replicas, single, sharded)
    print("\n".join(lines))
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench/results/sharding.txt"), "w") as fh:
        fh.write("\n".join(header + lines).rstrip() + "\n")


if __name__ == "__main__":
    main()
