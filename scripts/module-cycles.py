#!/usr/bin/env python3
"""Lists module-level import cycles inside each crate of the workspace.

Usage: scripts/module-cycles.py [CRATES_DIR] [CRATE ...]
       scripts/module-cycles.py --self-test

CRATES_DIR defaults to `crates` (relative to the current directory). With CRATE names, only
those crates (directory names under CRATES_DIR) are checked.

A module is one file under a crate's `src/` (`foo/mod.rs` is module `foo`; `lib.rs`/`main.rs`
are the crate root; `src/bin/` is left out). Module A depends on module B when A's code (test
modules written as `#[cfg(test)] mod name { ... }` and comments excluded) names a path that
resolves to B through `crate::`, `super::` or `self::`. A path resolves to the deepest existing
module along it, so `crate::a::b::Item` counts as a dependency on `a::b` when `a/b.rs` exists
and on `a` otherwise. Dependencies on the crate root and on a module's own ancestors are not
counted: re-exporting at the crate root is the way out of a cycle.

For each cycle (a strongly connected component of that graph) the script prints its modules
and every dependency inside it, each with one example: the file and line of the first import,
and the path written there, so a reader knows what to move.

Paths reached only through `#[path]` attributes, macros or method calls are not seen.
`--self-test` checks the script itself on small generated crates.

Exit status: 0 when no crate has a cycle, 1 when any has one, 2 on bad arguments.
"""

import os
import re
import sys

# `use crate::...;`, `use super::...;`, `use self::...;` (possibly spanning lines).
USE = re.compile(r"\buse\s+((?:crate|super|self)::[^;]*);", re.S)
# A path written inline in code, such as `crate::node::Node::new` or `super::Error`.
INLINE = re.compile(r"\b(?:crate|super)(?:::[A-Za-z_][A-Za-z0-9_]*)+")
# An inline test module; everything from it to the end of the file is test code.
TEST_MODULE = re.compile(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{")
def modules(src):
    """Maps each module path (a tuple of names; () is the crate root) to its file."""
    mods = {}
    for dirpath, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, src)[:-3].split(os.sep)
            if rel[0] == "bin":
                continue
            if rel[-1] == "mod":
                rel = rel[:-1]
            if rel in (["lib"], ["main"]):
                rel = []
            mods[tuple(rel)] = path
    return mods


CHAR = re.compile(r"'(?:[^\\'\n]|\\u\{[0-9a-fA-F]+\}|\\.)'")
RAW = re.compile(r'b?r(#*)"')


def blank(text):
    """Spaces for a piece of text, keeping its newlines so line numbers stay right."""
    return re.sub(r"[^\n]", " ", text)


def strip_literals(text):
    """The text with comments and the contents of string and char literals blanked."""
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
        elif text.startswith("/*", i):
            depth, end = 1, i + 2
            while end < n and depth:
                if text.startswith("/*", end):
                    depth, end = depth + 1, end + 2
                elif text.startswith("*/", end):
                    depth, end = depth - 1, end + 2
                else:
                    end += 1
        elif (raw := RAW.match(text, i)) and (i == 0 or not text[i - 1].isalnum()):
            close = '"' + raw.group(1)
            end = text.find(close, raw.end())
            end = n if end < 0 else end + len(close)
        elif ch == '"':
            end = i + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            end += 1
        elif ch == "'" and (lit := CHAR.match(text, i)):
            end = lit.end()
        else:
            out.append(ch)
            i += 1
            continue
        out.append(blank(text[i:end]))
        i = end
    return "".join(out)


def code_of(path):
    """The file's text without comments, literals and inline test modules, lines unchanged."""
    with open(path, encoding="utf-8") as f:
        text = strip_literals(f.read())
    test = TEST_MODULE.search(text)
    return text[: test.start()] if test else text


def flatten(tree):
    """Expands a use tree such as `crate::{a::{b, c}, d as e}` into its paths."""
    tree = tree.strip()
    open_at = tree.find("{")
    if open_at < 0:
        return [tree.split(" as ")[0].strip()]
    prefix = tree[:open_at]
    body = tree[open_at + 1 : tree.rfind("}")]
    parts, depth, cur = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    paths = []
    for part in parts:
        if part.strip():
            paths.extend(flatten(prefix + part.strip()))
    return paths


def written_paths(text):
    """Every (line, path) the code names through crate::, super:: or self::."""
    found = []
    for m in USE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        tree = " ".join(m.group(1).split())
        found.extend((line, p) for p in flatten(tree))
    for m in INLINE.finditer(text):
        found.append((text.count("\n", 0, m.start()) + 1, m.group(0)))
    return sorted(found)


def resolve(path, here, mods):
    """The module a path written in module `here` depends on, or None for an external path."""
    segs = [s.strip() for s in path.split("::")]
    if segs[0] == "crate":
        base, rest = [], segs[1:]
    elif segs[0] in ("super", "self"):
        base = list(here)
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
        rest = segs
    else:
        return None
    best, cur = tuple(base), list(base)
    for seg in rest:
        cur.append(seg)
        if tuple(cur) not in mods:
            break
        best = tuple(cur)
    return best


def dependencies(mods):
    """Maps each module to {module it depends on: (file, line, path) of the first use}."""
    deps = {m: {} for m in mods}
    for m, file in mods.items():
        for line, path in written_paths(code_of(file)):
            target = resolve(path, m, mods)
            if target is None or target == m or target == ():
                continue
            if m[: len(target)] == target:  # one of the module's own ancestors
                continue
            deps[m].setdefault(target, (file, line, path))
    return deps


def components(deps):
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for root in sorted(deps):
        if root in index:
            continue
        work = [(root, iter(sorted(deps[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(deps[child]))))
                elif child in on_stack:
                    low[v] = min(low[v], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return sorted(found)


def name(module):
    """A module's path as written in Rust, relative to its crate."""
    return "::".join(module)


def self_test():
    """Checks cycle detection, examples and literal/comment handling on generated crates."""
    import tempfile

    files = {
        "a/src/lib.rs": "mod x;\nmod y;\nmod z;\n",
        "a/src/x.rs": "use crate::{y::Thing, z};\n",
        "a/src/y.rs": "// use crate::z;\nfn f() {\n    super::x::run();\n}\n",
        "a/src/z/mod.rs": "mod inner;\nconst S: &str = \"crate::x\";\n",
        "a/src/z/inner.rs": "use super::super::y;\n#[cfg(test)]\nmod tests {\n use crate::x;\n}\n",
        "b/src/lib.rs": "mod p;\nmod q;\n",
        "b/src/p.rs": "use crate::q;\nlet c = '\"'; /* crate::q::x */\n",
        "b/src/q.rs": "pub use crate::Root;\n",
    }
    with tempfile.TemporaryDirectory() as root:
        for rel, text in files.items():
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        a = dependencies(modules(os.path.join(root, "a", "src")))
        b = dependencies(modules(os.path.join(root, "b", "src")))
    checks = [
        (components(a), [[("x",), ("y",)]]),
        (a[("x",)][("y",)][1:], (1, "crate::y::Thing")),
        (a[("y",)][("x",)][1:], (3, "super::x::run")),
        (sorted(a[("z",)]), []),
        (sorted(a[("z", "inner")]), [("y",)]),
        (components(b), []),
        (sorted(b[("q",)]), []),
    ]
    failed = [(got, want) for got, want in checks if got != want]
    for got, want in failed:
        print(f"self-test: got {got!r}, want {want!r}", file=sys.stderr)
    print("self-test: " + ("FAILED" if failed else "ok"))
    return 1 if failed else 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    root = argv[1] if len(argv) > 1 else "crates"
    wanted = set(argv[2:])
    if not os.path.isdir(root):
        print(f"{root}: not a directory", file=sys.stderr)
        return 2
    total = 0
    for crate in sorted(os.listdir(root)):
        src = os.path.join(root, crate, "src")
        if (wanted and crate not in wanted) or not os.path.isdir(src):
            continue
        deps = dependencies(modules(src))
        for comp in components(deps):
            total += 1
            print(f"{crate}: " + " <-> ".join(name(m) for m in comp))
            members = set(comp)
            for m in comp:
                for target, (file, line, path) in sorted(deps[m].items()):
                    if target in members:
                        print(f"  {name(m)} -> {name(target)}: {file}:{line} {path}")
    print(f"{total} cycles")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
