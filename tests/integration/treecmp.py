#!/usr/bin/env python3
"""Compare two folders the way netvol promises to keep them: paths, types,
permission bits, symlink targets (verbatim), file contents, mtimes (ns) of
files, symlinks and directories, and which names are hardlinks of each other.
Usage: treecmp.py A B   (exit 0 when identical, 1 with the differences)."""
import hashlib
import os
import stat
import sys


def scan(root):
    out, inodes = {}, {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames + ([""] if dirpath == root else []):
            p = os.path.join(dirpath, name) if name else dirpath
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            kind = stat.S_IFMT(st.st_mode)
            info = {"type": kind, "mtime": st.st_mtime_ns}
            if not stat.S_ISLNK(st.st_mode):
                info["mode"] = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                info["target"] = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
                info["sha"] = h.hexdigest()
                if st.st_nlink > 1:
                    inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
            elif stat.S_ISDIR(st.st_mode):
                pass
            else:
                continue  # special files are not kept
            out[rel] = info
    groups = sorted(sorted(g) for g in inodes.values() if len(g) > 1)
    return out, groups


def main():
    a, ga = scan(sys.argv[1])
    b, gb = scan(sys.argv[2])
    diffs = []
    for p in sorted(set(a) | set(b)):
        if p not in a or p not in b:
            diffs.append(f"only in {'A' if p in a else 'B'}: {p!r}")
        elif a[p] != b[p]:
            diffs.append(f"differs: {p!r}: {a[p]} != {b[p]}")
    if ga != gb:
        diffs.append(f"hardlink groups differ: {ga} != {gb}")
    for d in diffs[:30]:
        print(d)
    sys.exit(1 if diffs else 0)


main()
