#!/usr/bin/env python3
"""Make a reproducible, realistic tree from a seed.

kinds:
  venv   tens of thousands of small .py/.pyc (log-normal sizes), dist-info
         folders, bin/ symlinks, and a few large .so files (1 MB and up) that
         hold most of the bytes, part compressible, part not, like real builds
  nodes  custom_nodes-like git checkouts: many small files plus .git packs
  cache  a few large files

usage: gen.py KIND DIR --mb SIZE --files N [--seed S]
"""
import argparse
import os
import random


def blob(rng, n, compressible):
    """n bytes: random, or text-like when compressible (zstd -3 ~ 3-4x)."""
    if not compressible:
        return os.urandom(n) if n < (64 << 20) else b"".join(os.urandom(1 << 20) for _ in range(n >> 20)) + os.urandom(n & ((1 << 20) - 1))
    words = [b"import", b"def", b"return", b"self", b"torch", b"numpy", b"class", b"None",
             b"(", b")", b":", b"\n    ", b"=", b"tensor", b"cuda", b"if", b"else", b"for", b"in"]
    out = bytearray()
    while len(out) < n:
        out += rng.choice(words) + b" " + str(rng.randint(0, 99999)).encode()
    return bytes(out[:n])


def venv(rng, root, total, nfiles):
    nlarge = max(3, nfiles // 1500)
    small_budget = total * 0.2
    small_sizes = [max(64, int(rng.lognormvariate(8.0, 1.2))) for _ in range(nfiles - nlarge)]
    scale = small_budget / max(1, sum(small_sizes))
    small_sizes = [max(16, int(s * scale)) for s in small_sizes]
    large_budget = total - sum(small_sizes)
    weights = [rng.random() ** 2 + 0.05 for _ in range(nlarge)]
    large_sizes = [max(1 << 20, int(large_budget * w / sum(weights))) for w in weights]
    sp = os.path.join(root, "lib", "python3.11", "site-packages")
    os.makedirs(os.path.join(root, "bin"), exist_ok=True)
    pkgs = [f"pkg{i:03d}" for i in range(max(1, nfiles // 120))]
    i = 0
    for size in small_sizes:
        pkg = pkgs[i % len(pkgs)]
        sub = os.path.join(sp, pkg, f"mod{(i // len(pkgs)) % 7}")
        if i % 10 == 0:
            sub = os.path.join(sp, pkg, "__pycache__")
        os.makedirs(sub, exist_ok=True)
        ext = ".pyc" if sub.endswith("__pycache__") else ".py"
        with open(os.path.join(sub, f"f{i}{ext}"), "wb") as f:
            f.write(blob(rng, size, True))
        i += 1
    for pkg in pkgs:
        di = os.path.join(sp, f"{pkg}-1.0.dist-info")
        os.makedirs(di, exist_ok=True)
        for name in ("METADATA", "RECORD", "WHEEL"):
            with open(os.path.join(di, name), "w") as f:
                f.write(f"Name: {pkg}\nVersion: 1.0\n")
    for j, size in enumerate(large_sizes):
        d = os.path.join(sp, pkgs[j % len(pkgs)], "lib")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"lib{j}.so"), "wb") as f:
            left = size
            while left > 0:
                n = min(left, 4 << 20)
                f.write(blob(rng, n, rng.random() < 0.5))
                left -= n
    for name in ("python", "python3", "python3.11"):
        p = os.path.join(root, "bin", name)
        if not os.path.lexists(p):
            os.symlink("/usr/bin/python3", p)


def nodes(rng, root, total, nfiles):
    per = max(1, nfiles // 20)
    for n in range(20):
        d = os.path.join(root, f"node{n}")
        os.makedirs(os.path.join(d, ".git", "objects", "pack"), exist_ok=True)
        for i in range(per):
            with open(os.path.join(d, f"file{i}.py"), "wb") as f:
                f.write(blob(rng, rng.randint(200, 8000), True))
        with open(os.path.join(d, ".git", "objects", "pack", "pack-1.pack"), "wb") as f:
            f.write(blob(rng, max(1, total // 20 - per * 4000), False))


def cache(rng, root, total, nfiles):
    os.makedirs(root, exist_ok=True)
    n = max(1, nfiles)
    for i in range(n):
        with open(os.path.join(root, f"cache{i}.bin"), "wb") as f:
            left = total // n
            while left > 0:
                k = min(left, 4 << 20)
                f.write(blob(rng, k, False))
                left -= k


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["venv", "nodes", "cache"])
    ap.add_argument("dir")
    ap.add_argument("--mb", type=int, default=1000)
    ap.add_argument("--files", type=int, default=30000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    globals()[a.kind](rng, a.dir, a.mb << 20, a.files)


main()
