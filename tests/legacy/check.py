#!/usr/bin/env python3
"""check.py EXPECTED.json DIR [SKIP...]: DIR holds exactly the files and symlinks
EXPECTED.json lists (gen.py), with the same contents, permission bits and
link targets; folders are implied. Paths below a SKIP (relative to DIR:
another dataset nested in it) are not looked at. Exit 0 when so, 1 with the differences."""
import hashlib
import json
import os
import stat
import sys


def scan(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = {"type": "l", "target": os.readlink(p)}
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    out[rel] = {"type": "f", "sha": hashlib.sha256(f.read()).hexdigest(),
                                "mode": stat.S_IMODE(st.st_mode)}
            elif not stat.S_ISDIR(st.st_mode):
                out[rel] = {"type": "other"}
    return out


def main():
    with open(sys.argv[1]) as f:
        want = json.load(f)
    skip = sys.argv[3:]
    got = {p: v for p, v in scan(sys.argv[2]).items()
           if not any(p == s or p.startswith(s + "/") for s in skip)}
    bad = []
    for p in sorted(set(want) | set(got)):
        if p not in got:
            bad.append("missing: %s" % p)
        elif p not in want:
            bad.append("unexpected: %s %s" % (p, got[p]))
        elif want[p] != got[p]:
            bad.append("differs: %s want %s got %s" % (p, want[p], got[p]))
    if bad:
        print("\n".join(bad[:40]))
        sys.exit(1)


main()
