"""The real-backend half of bench/controller.py (issue 11, item 5).

For each size N, on a FRESH real control plane per contender (scripts/control-plane.sh: etcd,
kube-apiserver v1.34, kube-controller-manager, kube-scheduler, kwok nodes that make Pods Ready),
all contenders reading the same git repository over smart HTTP (bench/git_http.py):

  floor   one `kubectl apply --server-side` of all the apps' rendered objects (and their
          namespaces), plus the wait until every Deployment is rolled out (available);
  fjord   `fjord controller`: create N Applications -> all Synced and Healthy;
  argocd  Argo CD's application controller + repo server + redis (bench/argocd-peer.sh), the
          same N Applications -> all Synced and Healthy.

Each app is a Deployment (1 replica), a ServiceAccount, a Service and a ConfigMap (no Ingress:
without an ingress controller an Ingress never gets a load balancer, so Argo CD would never call
it Healthy). Convergence is observed through a watch, so each app's own time to Synced+Healthy
is known too. CPU is utime+stime (+ reaped children) from /proc/<pid>/stat at convergence, since
the process started; RSS is VmHWM. The API server's and etcd's CPU during the window is reported
as well. kwok's two default nodes hold 220 Pods; the benchmark adds fake nodes for larger N.
"""
import http.client
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CP = os.path.join(ROOT, "scripts", "control-plane.sh")
PEER = os.path.join(ROOT, "bench", "argocd-peer.sh")
APPS_PATH = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications"
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A setup step failed; the message names the step and carries a log tail."""


def tail(path, n=30):
    try:
        with open(path, errors="replace") as fh:
            return "".join(fh.readlines()[-n:])
    except OSError:
        return f"(no log at {path})"


# ---- processes ---------------------------------------------------------------------------

def cpu_seconds(pid):
    """utime+stime of the process and its reaped children, in seconds (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # after the ")": state is field 3, so utime (14) is index 11.
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK_TCK


def vm_hwm(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class ControlPlane:
    """A fresh real control plane in DIR, stopped by stop()."""

    def __init__(self, tmp, name):
        self.dir = os.path.join(tmp, name)
        out = subprocess.run([CP, "start", self.dir], capture_output=True, text=True)
        if out.returncode != 0:
            subprocess.run([CP, "stop", self.dir], capture_output=True)
            raise BenchError(f"starting the real control plane for {name} failed:\n"
                             f"{(out.stdout + out.stderr)[-3000:]}")
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        env = open(os.path.join(self.dir, "env")).read()
        url = next(line.split("=", 1)[1] for line in env.splitlines() if "FJORD_CP_API=" in line)
        self.api = Api(url, os.path.join(self.dir, "pki"))
        self.pids = {}
        for line in open(os.path.join(self.dir, "pids")):
            name_, pid = line.split()
            self.pids[name_] = int(pid)

    def server_cpu(self):
        return sum(cpu_seconds(self.pids[n]) for n in ("kube-apiserver", "etcd") if n in self.pids)

    def add_pod_capacity(self, pods):
        """Adds fake kwok nodes (500 Pods each) so that `pods` more Pods fit."""
        for k in range((pods + 499) // 500):
            name = f"bench-node-{k}"
            self.api.req("POST", "/api/v1/nodes", {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                                           "kwok.x-k8s.io/node": "fake"},
                             "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                        "type": "kwok"}},
                "status": {"allocatable": {"cpu": "500", "memory": "4000Gi", "pods": "500"},
                           "capacity": {"cpu": "500", "memory": "4000Gi", "pods": "500"}}})

    def kubectl(self, *args, timeout=3600):
        out = subprocess.run(["kubectl", "--kubeconfig", self.kubeconfig,
                              "--cache-dir", os.path.join(self.dir, "kubectl-cache"), *args],
                             capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise BenchError(f"kubectl {' '.join(args[:3])}... failed: {out.stderr[-2000:]}")
        return out.stdout

    def stop(self):
        subprocess.run([CP, "stop", self.dir], capture_output=True)


# ---- the API ------------------------------------------------------------------------------

class Api:
    """HTTPS to the real API server as the harness's admin (client certificate)."""

    def __init__(self, url, pki):
        hostport = url.split("://", 1)[1]
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        self.ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
        self.ctx.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))
        self.local = threading.local()  # one kept-alive connection per thread

    def connect(self, timeout=60):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)

    def req(self, method, path, body=None, ctype="application/json"):
        for attempt in range(2):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = self.connect()
            try:
                data = json.dumps(body).encode() if body is not None else None
                conn.request(method, path, body=data,
                             headers={"Content-Type": ctype} if data else {})
                r = conn.getresponse()
                text = r.read()
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        if r.status >= 400:
            raise BenchError(f"{method} {path}: {r.status} {text[:300]!r}")
        return json.loads(text) if text else None


class Tracker:
    """Watches a list path and records when each object first satisfies `ready` (and when it
    stops); `done` is set when `want` objects are ready at once."""

    def __init__(self, api, path, ready, want, selector=lambda o: True):
        self.api, self.path, self.ready, self.want, self.selector = api, path, ready, want, selector
        self.state = {}          # key -> ready now
        self.since = {}          # key -> monotonic time it last became ready
        self.done = threading.Event()
        self.done_at = None
        self.stopped = False
        self.error = None
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _see(self, obj, deleted=False):
        if not self.selector(obj):
            return
        m = obj["metadata"]
        key = (m.get("namespace"), m["name"])
        ok = (not deleted) and self.ready(obj)
        with self.lock:
            if ok and not self.state.get(key):
                self.since[key] = time.monotonic()
            self.state[key] = ok
            if sum(1 for v in self.state.values() if v) >= self.want and not self.done.is_set():
                self.done_at = time.monotonic()
                self.done.set()

    def _run(self):
        while not self.stopped:
            try:
                listed = self.api.req("GET", self.path)
                for o in listed.get("items") or []:
                    self._see(o)
                rv = listed["metadata"]["resourceVersion"]
                c = self.api.connect(timeout=3700)
                c.request("GET", f"{self.path}?watch=1&resourceVersion={rv}"
                                 "&allowWatchBookmarks=true&timeoutSeconds=3600")
                r = c.getresponse()
                while not self.stopped:
                    line = r.readline()
                    if not line:
                        break
                    ev = json.loads(line)
                    if ev["type"] in ("ADDED", "MODIFIED", "DELETED"):
                        self._see(ev["object"], ev["type"] == "DELETED")
                    elif ev["type"] == "ERROR":
                        break
                c.close()
            except Exception as e:  # noqa: BLE001 - a watch that breaks is restarted
                self.error = e
                time.sleep(0.2)

    def wait(self, timeout):
        if not self.done.wait(timeout):
            with self.lock:
                ok = sum(1 for v in self.state.values() if v)
            raise BenchError(f"only {ok} of {self.want} ready on {self.path} after {timeout} s "
                             f"(last watch error: {self.error})")
        return self.done_at

    def ready_times(self):
        with self.lock:
            return sorted(t for k, t in self.since.items() if self.state.get(k))

    def stop(self):
        self.stopped = True


def deployment_available(d):
    spec, st = d.get("spec", {}), d.get("status", {})
    want = spec.get("replicas", 1)
    return (st.get("observedGeneration", 0) >= d["metadata"].get("generation", 1)
            and st.get("updatedReplicas", 0) == want and st.get("availableReplicas", 0) == want
            and st.get("replicas", 0) == want)


def app_converged(a):
    st = a.get("status") or {}
    return ((st.get("sync") or {}).get("status") == "Synced"
            and (st.get("health") or {}).get("status") == "Healthy")


# ---- the apps -----------------------------------------------------------------------------

def app_name(i):
    return f"app-{i:04d}"


def app_namespace(i):
    return f"bench-{i % 10}"


def app_files(i):
    name = app_name(i)
    return {
        "deployment.yaml": f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
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
        "configmap.yaml": f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
  greeting: hello from {name}
""",
    }


def git(cwd, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="b@example.com",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="b@example.com")
    subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=env, check=True,
                   capture_output=True, text=True)


def make_repo(tmp, n):
    """One repository with N apps under apps/app-NNNN/, served bare from tmp/served/bench.git."""
    work, served = os.path.join(tmp, "work"), os.path.join(tmp, "served")
    os.makedirs(work)
    os.makedirs(served)
    git(work, "init", "-q")
    for i in range(n):
        d = os.path.join(work, "apps", app_name(i))
        os.makedirs(d)
        for f, text in app_files(i).items():
            with open(os.path.join(d, f), "w") as fh:
                fh.write(text)
    git(work, "add", "-A")
    git(work, "commit", "-qm", "apps")
    git(served, "clone", "-q", "--bare", work, "bench.git")
    return served


def rendered(n):
    """All apps' objects with their namespaces, as one multi-document YAML (for the floor)."""
    docs = [f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench-{k}\n"
            for k in range(min(n, 10))]
    for i in range(n):
        for text in app_files(i).values():
            docs.append(text.replace("metadata:\n", f"metadata:\n  namespace: {app_namespace(i)}\n", 1))
    return "---\n".join(docs)


def application(i, repo_url):
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": app_name(i), "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": repo_url, "targetRevision": "HEAD", "path": f"apps/{app_name(i)}"},
            "destination": {"server": "https://kubernetes.default.svc",
                            "namespace": app_namespace(i)},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                           "syncOptions": ["CreateNamespace=true"]},
        },
    }


def bench_deployment(d):
    return d["metadata"].get("namespace", "").startswith("bench-")


# ---- contenders ---------------------------------------------------------------------------

def timeout_for(n):
    return max(300, 3 * n)


def run_floor(tmp, n):
    cp = ControlPlane(tmp, f"floor-{n}")
    try:
        cp.add_pod_capacity(n)
        path = os.path.join(tmp, f"rendered-{n}.yaml")
        with open(path, "w") as fh:
            fh.write(rendered(n))
        tr = Tracker(cp.api, "/apis/apps/v1/deployments", deployment_available, n,
                     bench_deployment).start()
        cp.kubectl("api-resources")  # warm kubectl's discovery cache: the floor excludes it
        s0 = cp.server_cpu()
        t0 = time.monotonic()
        cp.kubectl("apply", "--server-side", "-f", path)
        applied = time.monotonic() - t0
        done = tr.wait(timeout_for(n)) - t0
        tr.stop()
        return {"total": done, "apply": applied, "server_cpu": cp.server_cpu() - s0}
    finally:
        cp.stop()


def create_apps(cp, n, repo_url):
    for i in range(n):
        cp.api.req("POST", APPS_PATH, application(i, repo_url))


def converge(cp, n, repo_url, procs):
    """Creates the N Applications and waits until all are Synced+Healthy; returns the figures.
    `procs` lists the contender's pids (checked for liveness, summed for CPU and RSS)."""
    tr = Tracker(cp.api, APPS_PATH, app_converged, n).start()
    s0 = cp.server_cpu()
    t0 = time.monotonic()
    create_apps(cp, n, repo_url)
    created = time.monotonic() - t0
    deadline = time.monotonic() + timeout_for(n)
    while not tr.done.wait(1):
        dead = [name for name, pid in procs.items() if not os.path.exists(f"/proc/{pid}")]
        if dead:
            raise BenchError(f"{', '.join(dead)} exited while converging")
        if time.monotonic() > deadline:
            tr.wait(0)
    done = tr.done_at - t0
    times = [t - t0 for t in tr.ready_times()]
    tr.stop()
    return {"total": done, "created": created,
            "app_p50": statistics.median(times) if times else 0.0,
            "cpu": sum(cpu_seconds(p) for p in procs.values()),
            "rss": sum(vm_hwm(p) for p in procs.values()),
            "server_cpu": cp.server_cpu() - s0}


def ready_http(port, path, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def run_fjord(tmp, n, repo_url, fjord, workers, crds, free_port):
    cp = ControlPlane(tmp, f"fjord-{crds}-{n}")
    proc = None
    log = os.path.join(tmp, f"fjord-{crds}-{n}.log")
    try:
        cp.add_pod_capacity(n)
        if crds == "argocd":
            src = argocd_src()
            cp.kubectl("create", "-f", os.path.join(src, "manifests/crds/application-crd.yaml"),
                       "-f", os.path.join(src, "manifests/crds/appproject-crd.yaml"))
            wait_established(cp)
        m_port, w_port = free_port(), free_port()
        proc = subprocess.Popen(
            [fjord, "controller", "--kubeconfig", cp.kubeconfig,
             "--metrics-addr", f"127.0.0.1:{m_port}", "--webhook-addr", f"127.0.0.1:{w_port}",
             "--cache-dir", os.path.join(tmp, f"fjord-cache-{crds}-{n}"),
             "--workers", str(workers), "--sealed-secrets", "false",
             "--external-secrets", "false"],
            stdout=subprocess.DEVNULL, stderr=open(log, "w"))
        if not ready_http(m_port, "/readyz"):
            raise BenchError(f"fjord controller not ready in 60 s:\n{tail(log)}")
        try:
            return converge(cp, n, repo_url, {"fjord controller": proc.pid})
        except BenchError as e:
            raise BenchError(f"{e}\nfjord controller log:\n{tail(log)}") from e
    finally:
        if proc:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        cp.stop()


def wait_established(cp):
    """Polls until Argo CD's CRDs are Established (kubectl wait fails at once while a new CRD
    has no conditions yet)."""
    for _ in range(300):
        try:
            cp.kubectl("wait", "--for=condition=Established", "--timeout=10s",
                       "crd/applications.argoproj.io", "crd/appprojects.argoproj.io")
            return
        except BenchError:
            time.sleep(0.2)
    raise BenchError("Argo CD's CRDs were not Established within 60 s")


def argocd_src():
    """The extracted Argo CD source of the peer build (for its CRDs and VERSION)."""
    binary = argocd_binary()
    return os.path.join(os.path.dirname(binary), "src")


_ARGOCD_BIN = []


def argocd_binary():
    if not _ARGOCD_BIN:
        out = subprocess.run([PEER, "build"], capture_output=True, text=True)
        if out.returncode != 0:
            raise BenchError(f"building Argo CD failed:\n{out.stderr[-3000:]}")
        _ARGOCD_BIN.append(out.stdout.strip().splitlines()[-1])
    return _ARGOCD_BIN[0]


def run_argocd(tmp, n, repo_url):
    argocd_binary()
    cp = ControlPlane(tmp, f"argocd-{n}")
    pdir = os.path.join(tmp, f"argocd-peer-{n}")
    try:
        cp.add_pod_capacity(n)
        out = subprocess.run([PEER, "start", cp.kubeconfig, pdir], capture_output=True, text=True)
        if out.returncode != 0:
            raise BenchError(f"starting Argo CD failed:\n{out.stderr[-3000:]}")
        env = dict(line.split("=", 1) for line in open(os.path.join(pdir, "env")).read().split())
        procs = {"argocd-application-controller": int(env["CTRL_PID"]),
                 "argocd-repo-server": int(env["REPO_PID"]), "redis": int(env["REDIS_PID"])}
        try:
            return converge(cp, n, repo_url, procs)
        except BenchError as e:
            raise BenchError(f"{e}\nArgo CD controller log:\n{tail(os.path.join(pdir, 'controller.log'))}"
                             f"\nrepo server log:\n{tail(os.path.join(pdir, 'repo-server.log'))}") from e
    finally:
        subprocess.run([PEER, "stop", pdir], capture_output=True)
        cp.stop()


def argocd_version():
    try:
        src = argocd_src()
        version = open(os.path.join(src, "VERSION")).read().strip()
        return f"Argo CD {version} ({os.path.basename(os.path.dirname(src))[:12]})"
    except (OSError, BenchError):
        return "Argo CD (not built)"


# ---- one size, all contenders -------------------------------------------------------------

def fmt_contender(label, r, floor):
    ratio = f"{r['total'] / floor['total']:5.2f}x floor" if floor else ""
    return (f"  {label:<34} {r['total']:8.1f} s  {ratio}  (apps created in {r['created']:.1f} s; "
            f"median app {r['app_p50']:.1f} s)\n"
            f"  {'':<34} CPU {r['cpu']:7.1f} s, peak RSS {r['rss']:6.0f} MiB, "
            f"API server+etcd CPU {r['server_cpu']:6.1f} s")


def run_size(tmp_root, n, fjord, args, free_port, git_http):
    """Runs every contender at size N; returns the report lines."""
    tmp = os.path.join(tmp_root, f"real-{n}")
    os.makedirs(tmp)
    served = make_repo(tmp, n)
    port = free_port()
    srv = subprocess.Popen([sys.executable, git_http, served, str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    repo_url = f"http://127.0.0.1:{port}/bench.git"
    lines = [f"real control plane, {n} Applications ({4 * n} objects; Deployment, Service, "
             f"ServiceAccount, ConfigMap each)"]
    res = {}
    try:
        print(f"[real {n}] floor: kubectl apply --server-side + rollout...", file=sys.stderr)
        res["floor"] = floor = run_floor(tmp, n)
        lines.append(f"  {'floor: kubectl apply --server-side':<34} {floor['total']:8.1f} s  "
                     f"(apply {floor['apply']:.1f} s, then rollout; API server+etcd CPU "
                     f"{floor['server_cpu']:.1f} s)")
        for crds in args.fjord_crds:
            print(f"[real {n}] fjord controller ({crds} CRDs)...", file=sys.stderr)
            r = res[f"fjord-{crds}"] = run_fjord(tmp, n, repo_url, fjord, args.workers, crds,
                                                 free_port)
            lines.append(fmt_contender(f"fjord controller ({crds} CRDs)", r, floor))
        if args.peer == "argocd":
            print(f"[real {n}] Argo CD...", file=sys.stderr)
            r = res["argocd"] = run_argocd(tmp, n, repo_url)
            lines.append(fmt_contender("Argo CD (controller+repo+redis)", r, floor))
        fj = res.get(f"fjord-{args.fjord_crds[0]}") if args.fjord_crds else None
        ratios = []
        if fj:
            ratios.append(f"fjord/floor {fj['total'] / floor['total']:.2f}")
        if "argocd" in res:
            ratios.append(f"argocd/floor {res['argocd']['total'] / floor['total']:.2f}")
        if fj and "argocd" in res:
            a = res["argocd"]
            ratios.append(f"argocd/fjord time {a['total'] / fj['total']:.2f}, "
                          f"CPU {a['cpu'] / max(fj['cpu'], 0.01):.1f}, "
                          f"RSS {a['rss'] / max(fj['rss'], 0.01):.1f}")
        if ratios:
            lines.append("  ratios: " + "; ".join(ratios))
    finally:
        srv.terminate()
        srv.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return lines


def run_real(tmp_root, sizes, fjord, args, free_port):
    """The real-backend section of the report."""
    git_http = os.path.join(ROOT, "bench", "git_http.py")
    if args.peer == "argocd":
        argocd_binary()  # build (or find) it before the first control plane starts
    lines = []
    for n in sizes:
        lines.extend(run_size(tmp_root, n, fjord, args, free_port, git_http))
        lines.append("")
    return lines
