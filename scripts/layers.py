#!/usr/bin/env python3
"""The layers of libnetvol, and the direction includes may go.

    scripts/layers.py --check    (make check) refuse an include against the direction
    scripts/layers.py --fix      rewrite every #include "x.h" of a common/ header to its
                                 folder ("base/x.h"), wherever the header now lives

common/ is layered like curl's lib/ + lib/vtls/ (a backend family in its own
folder) and libuv's src/ + src/unix/:

    base/      errors, buffers, memory, logging, configuration, filesystem,
               hashing, progress, the retry policy, the tree walk, versions
    store/     the object store interface, the file:// backend, the key layout
    store/s3/  the S3 backend family: S3, SigV4, HTTP, XML, AWS credentials
    engine/    the snapshot format, sync, restore, gc, the network volume

Allowed: base -> base; store -> base, store (store/s3 -> store/s3 too); engine
-> base, engine and the store interface (store/store.h, store/keys.h), never a
backend; webhook/ -> base; init/ -> anything in common/. Nothing in common/
includes init/ or webhook/. Tests, fuzz targets and tools may include anything.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INC = re.compile(r'^(\s*#\s*include\s+")([^"]+)(")', re.M)


def tracked():
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "*.c", "*.h"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [f for f in out.split("\n") if f and os.path.exists(os.path.join(ROOT, f))]


def headers(files):
    """basename -> path below common/ of every common/ header."""
    m = {}
    for f in files:
        if f.startswith("common/") and f.endswith(".h"):
            rel = f[len("common/"):]
            base = os.path.basename(rel)
            if base in m:
                sys.exit(f"layers: two common headers named {base}: {m[base]} and {rel}")
            m[base] = rel
    return m


def layer(rel):
    """'base', 'store', 'store/s3', 'engine' of a path below common/ (or None)."""
    d = os.path.dirname(rel)
    return d or None


def allowed(src, dst):
    """May a file of layer src (a common/ folder, 'webhook', 'init') include dst?"""
    if src == "init":
        return True
    if src == "webhook":
        return dst == "base"
    if src == "base":
        return dst == "base"
    if src == "store":
        return dst in ("base", "store")
    if src == "store/s3":
        return dst in ("base", "store", "store/s3")
    if src == "engine":
        return dst in ("base", "engine", "store-interface")
    return False


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "--check"
    files = tracked()
    hdr = headers(files)
    bad = []
    for f in files:
        top = f.split("/")[0]
        if top not in ("common", "init", "webhook", "tests", "fuzz", "bench"):
            continue
        path = os.path.join(ROOT, f)
        text = open(path, encoding="utf-8").read()

        def fix(mo):
            name = os.path.basename(mo.group(2))
            if name in hdr and (mo.group(2) == name or mo.group(2) != hdr[name]):
                return mo.group(1) + hdr[name] + mo.group(3)
            return mo.group(0)

        if mode == "--fix":
            new = INC.sub(fix, text)
            if new != text:
                open(path, "w", encoding="utf-8").write(new)
            continue
        if top in ("tests", "fuzz", "bench"):
            continue
        src = layer(f[len("common/"):]) if top == "common" else top
        if top == "common" and src is None:
            bad.append(f"{f}: a file directly in common/ (put it in a layer folder)")
            continue
        for mo in INC.finditer(text):
            inc = mo.group(2)
            if inc.startswith(("init/", "webhook/")) or "../" in inc:
                if top == "common":
                    bad.append(f"{f}: includes {inc} (common/ never includes the programs)")
                continue
            if inc not in hdr.values():
                base = os.path.basename(inc)
                if base in hdr and top != "webhook":
                    bad.append(f"{f}: includes \"{inc}\": write \"{hdr[base]}\"")
                continue  # the program's own header or a system one
            dst = layer(inc)
            if top == "common" and src == layer(f[len("common/"):]) and dst == src:
                continue
            kind = dst
            if src == "engine" and inc in ("store/store.h", "store/keys.h"):
                kind = "store-interface"
            if not allowed(src, kind):
                bad.append(f"{f} ({src}) includes {inc} ({dst}): against the layers")
    if mode == "--fix":
        return 0
    if bad:
        print("layers: includes against the direction (scripts/layers.py):", file=sys.stderr)
        for b in bad:
            print("  " + b, file=sys.stderr)
        return 1
    print("layers: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
