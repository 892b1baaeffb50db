#!/usr/bin/env python3
"""The RustSec advisories that concern fjord's dependencies, as facts, for offline checks.

    scripts/advisory-snapshot.py write ADVISORY_DB_CHECKOUT   # refresh deny/advisory-snapshot.json
    scripts/advisory-snapshot.py build OUT_DIR                # a git repository cargo-deny can open

`write` reads a checkout of github.com/rustsec/advisory-db and keeps, for every crate named in
Cargo.lock or fuzz/Cargo.lock, each advisory's machine-readable facts (id, package, date, kind,
withdrawal, aliases, the affected and patched version ranges, the source URL); no advisory prose.
`build` turns that file back into the database layout cargo-deny reads (one front-matter file
per advisory, a one-line title naming the id) and commits it with the snapshot's date, so
`cargo deny check advisories` runs where github.com cannot be reached (scripts/deny.sh).
"""
import json
import os
import re
import subprocess
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SNAPSHOT = os.path.join(ROOT, "deny", "advisory-snapshot.json")
KEPT = ("id", "package", "date", "informational", "withdrawn", "aliases", "url", "cvss")


def locked_crates():
    names = set()
    for lock in ("Cargo.lock", "fuzz/Cargo.lock"):
        with open(os.path.join(ROOT, lock), "rb") as f:
            names.update(p["name"] for p in tomllib.load(f).get("package", []))
    return names


def front_matter(text, path):
    m = re.match(r"\s*```toml\n(.*?)\n```", text, re.S)
    if not m:
        raise SystemExit(f"{path}: no TOML front matter")
    return tomllib.loads(m.group(1))


def write(checkout):
    crates = locked_crates()
    out = []
    for name in sorted(crates):
        d = os.path.join(checkout, "crates", name)
        if not os.path.isdir(d):
            continue
        for file in sorted(os.listdir(d)):
            if not file.endswith(".md"):
                continue
            path = os.path.join(d, file)
            with open(path, encoding="utf-8") as f:
                meta = front_matter(f.read(), path)
            adv = {k: v for k, v in meta["advisory"].items() if k in KEPT}
            adv["versions"] = meta.get("versions", {})
            if "affected" in meta:
                adv["affected"] = {k: v for k, v in meta["affected"].items() if k in ("os", "arch")}
            out.append(adv)
    head = subprocess.run(["git", "-C", checkout, "log", "-1", "--format=%H %cI"],
                          capture_output=True, text=True, check=True).stdout.split()
    doc = {"source": "https://github.com/rustsec/advisory-db", "commit": head[0],
           "date": head[1], "advisories": out}
    with open(SNAPSHOT, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(out)} advisories for {len(crates)} locked crates, database {head[0][:12]} of {head[1]}")


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise SystemExit(f"unexpected value {v!r}")


def build(out_dir):
    with open(SNAPSHOT, encoding="utf-8") as f:
        doc = json.load(f)
    subprocess.run(["rm", "-rf", out_dir], check=True)
    for adv in doc["advisories"]:
        lines = ["```toml", "[advisory]"]
        lines += [f"{k} = {toml_value(adv[k])}" for k in KEPT if k in adv]
        if adv.get("affected"):
            lines.append("\n[affected]")
            lines += [f"{k} = {toml_value(v)}" for k, v in adv["affected"].items()]
        lines.append("\n[versions]")
        lines += [f"{k} = {toml_value(v)}" for k, v in adv["versions"].items()]
        lines += ["```", "", f"# {adv['id']} in {adv['package']}", "",
                  f"Recorded by fjord's offline snapshot; see {adv.get('url') or 'https://rustsec.org/advisories/' + adv['id']}.", ""]
        d = os.path.join(out_dir, "crates", adv["package"])
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, adv["id"] + ".md"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
    with open(os.path.join(out_dir, "FJORD-SNAPSHOT"), "w", encoding="utf-8") as f:
        f.write(f"{doc['source']} at {doc['commit']} ({doc['date']})\n")
    env = dict(os.environ, GIT_AUTHOR_DATE=doc["date"], GIT_COMMITTER_DATE=doc["date"],
               GIT_AUTHOR_NAME="fjord", GIT_AUTHOR_EMAIL="fjord@localhost",
               GIT_COMMITTER_NAME="fjord", GIT_COMMITTER_EMAIL="fjord@localhost")
    git = lambda *a: subprocess.run(["git", "-C", out_dir, *a], env=env, check=True,
                                    stdout=subprocess.DEVNULL)
    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", f"snapshot of {doc['commit']}")
    print(f"{len(doc['advisories'])} advisories from {doc['date']} in {out_dir}")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "build"):
        raise SystemExit(__doc__)
    (write if sys.argv[1] == "write" else build)(sys.argv[2])
