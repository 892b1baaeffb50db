"""Shared parts of the Python bench drivers (bench/eso_bench/eso.py,
bench/image_updater_bench/updater.py): ports, waits, process figures, and starting
`fjord local-cluster` and `fjord controller` as their own processes."""
import os
import socket
import subprocess
import sys
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tail(path, n=30):
    try:
        with open(path, errors="replace") as fh:
            return "".join(fh.readlines()[-n:])
    except OSError:
        return ""


def wait_for(what, pred, timeout, every=0.1, context=lambda: ""):
    """Polls `pred` until it holds; exits with `context()` after `timeout` seconds."""
    start = time.monotonic()
    while True:
        if pred():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            sys.exit(f"timed out after {timeout}s waiting for {what}\n{context()}")
        time.sleep(every)


def proc_stats(pid):
    """(CPU-seconds incl. reaped children, peak RSS MiB) of a live process."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            f = fh.read().rsplit(")", 1)[1].split()
        cpu = sum(int(x) for x in f[11:15]) / os.sysconf("SC_CLK_TCK")
        rss = 0
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    rss = int(line.split()[1]) // 1024
        return cpu, rss
    except OSError:
        return 0.0, 0


def start_cluster(fjord, tmp, procs):
    """`fjord local-cluster` in memory, simulation delay 0; returns (port, kubeconfig)."""
    port = free_port()
    procs.append(subprocess.Popen(
        [fjord, "local-cluster", "--data-dir", f"{tmp}/cluster", "--addr", f"127.0.0.1:{port}",
         "--in-memory", "--sim-delay-ms", "0"],
        stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/cluster.log", "w")))
    kc = f"{tmp}/cluster/kubeconfig"
    wait_for("the local cluster", lambda: os.path.exists(kc), 30, 0.05,
             lambda: tail(f"{tmp}/cluster.log"))
    return port, kc


def start_controller(fjord, tmp, kc, extra, procs):
    """`fjord controller` with `extra` flags (Sealed Secrets off); returns (process, log)."""
    log = f"{tmp}/controller.log"
    ctrl = subprocess.Popen(
        [fjord, "controller", "--kubeconfig", kc, "--metrics-addr", f"127.0.0.1:{free_port()}",
         "--webhook-addr", f"127.0.0.1:{free_port()}", "--cache-dir", f"{tmp}/cache",
         "--sealed-secrets", "false", *extra],
        stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    procs.append(ctrl)

    def running():
        if ctrl.poll() is not None:
            sys.exit(f"fjord controller exited ({ctrl.returncode}):\n{tail(log)}")
        with open(log, errors="replace") as fh:
            return "fjord controller running" in fh.read()
    wait_for("the controller", running, 60)
    return ctrl, log
