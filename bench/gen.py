#!/usr/bin/env python3
"""Make a reproducible, realistic tree from a seed.

kinds:
  venv   tens of thousands of small .py/.pyc (log-normal sizes), dist-info
         folders, bin/ symlinks, and a few large .so files (1 MB and up) that
         hold most of the bytes, part compressible, part not, like real builds
  nodes  custom_nodes-like git checkouts: many small files plus .git packs
  cache  a few large files

  tree   a pod's shared datasets at a size preset (--size small|medium|large):
         DIR/venv, DIR/ComfyUI/custom_nodes, DIR/.cache
  change a realistic change to a tree made by `tree`: one new ~50 MB package
         in the venv and a few edited files; prints the changed bytes
  revert undo `change` (the edited files get their old bytes and mtime back)

usage: gen.py KIND DIR [--mb SIZE] [--files N] [--seed S] [--size PRESET]
"""
import argparse
import os
import random


_CORPUS = None


def blob(rng, n, compressible):
    """n bytes: random, or source-like text when compressible (zstd -3 ~ 3-4x)."""
    global _CORPUS
    if not compressible:
        return rng.randbytes(n)
    if _CORPUS is None:
        words = [b"import", b"def", b"return", b"self", b"torch", b"numpy", b"class", b"None",
                 b"(", b")", b":", b"\n    ", b"=", b"tensor", b"cuda", b"if", b"else", b"for", b"in"]
        out = bytearray()
        while len(out) < (2 << 20):
            out += rng.choice(words) + b" " + str(rng.randint(0, 99999)).encode()
        _CORPUS = bytes(out)
    parts, left = [], n
    while left > 0:
        k = min(left, rng.randint(512, 65536))
        off = rng.randint(0, len(_CORPUS) - k)
        parts.append(_CORPUS[off:off + k])
        left -= k
    return b"".join(parts)


def venv(rng, root, total, nfiles):
    nlarge = max(3, nfiles // 1500)
    small_budget = total * 0.2
    small_sizes = [max(64, int(rng.lognormvariate(8.0, 1.2))) for _ in range(nfiles - nlarge)]
    scale = small_budget / max(1, sum(small_sizes))
    small_sizes = [max(16, int(s * scale)) for s in small_sizes]
    large_budget = total - sum(small_sizes)
    weights = [rng.random() ** 2 + 0.05 for _ in range(nlarge)]
    large_sizes = [min(500 << 20, max(1 << 20, int(large_budget * w / sum(weights))))
                   for w in weights]
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


# preset: (venv MB, venv files, nodes MB, nodes files, cache MB, cache files)
PRESETS = {
    "small": (130, 8000, 40, 2000, 30, 2),
    "medium": (1300, 40000, 400, 8000, 350, 4),
    "large": (5500, 100000, 1200, 20000, 1500, 6),
}


def tree(rng, root, size):
    vmb, vf, nmb, nf, cmb, cf = PRESETS[size]
    venv(rng, os.path.join(root, "venv"), vmb << 20, vf)
    nodes(rng, os.path.join(root, "ComfyUI", "custom_nodes"), nmb << 20, nf)
    cache(rng, os.path.join(root, ".cache"), cmb << 20, cf)


def _edit_candidates(root, rng):
    sp = os.path.join(root, "venv", "lib", "python3.11", "site-packages")
    names = []
    for d, _, files in os.walk(sp):
        names += [os.path.join(d, f) for f in files if f.endswith(".py")]
    names.sort()
    return rng.sample(names, min(5, len(names)))


def change(rng, root):
    """One new package (~40 MB .so + ~10 MB of sources) and 5 edited .py files."""
    undo = root.rstrip("/") + ".undo"
    os.makedirs(undo, exist_ok=True)
    changed = 0
    sp = os.path.join(root, "venv", "lib", "python3.11", "site-packages")
    pkg = os.path.join(sp, "newpkg")
    os.makedirs(os.path.join(pkg, "lib"), exist_ok=True)
    with open(os.path.join(pkg, "lib", "_core.so"), "wb") as f:
        for _ in range(10):
            f.write(blob(rng, 4 << 20, False))
    changed += 40 << 20
    for i in range(300):
        data = blob(rng, 35000, True)
        with open(os.path.join(pkg, f"m{i}.py"), "wb") as f:
            f.write(data)
        changed += len(data)
    for i, path in enumerate(_edit_candidates(root, rng)):
        st = os.stat(path)
        with open(path, "rb") as f:
            old = f.read()
        with open(os.path.join(undo, str(i)), "wb") as f:
            f.write(old)
        with open(os.path.join(undo, str(i) + ".path"), "w") as f:
            f.write(f"{path}\n{st.st_atime_ns} {st.st_mtime_ns}\n")
        with open(path, "ab") as f:
            f.write(b"\n# edited by bench/gen.py change\n")
        changed += len(old) + 34
    print(changed)


def revert(root):
    import shutil
    undo = root.rstrip("/") + ".undo"
    shutil.rmtree(os.path.join(root, "venv", "lib", "python3.11", "site-packages", "newpkg"),
                  ignore_errors=True)
    if not os.path.isdir(undo):
        return
    for name in os.listdir(undo):
        if name.endswith(".path"):
            continue
        with open(os.path.join(undo, name + ".path")) as f:
            path, times = f.read().splitlines()
        with open(os.path.join(undo, name), "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data)
        at, mt = (int(x) for x in times.split())
        os.utime(path, ns=(at, mt))
    shutil.rmtree(undo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["venv", "nodes", "cache", "tree", "change", "revert"])
    ap.add_argument("dir")
    ap.add_argument("--mb", type=int, default=1000)
    ap.add_argument("--files", type=int, default=30000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--size", choices=sorted(PRESETS), default="small")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    if a.kind == "tree":
        tree(rng, a.dir, a.size)
    elif a.kind == "change":
        change(rng, a.dir)
    elif a.kind == "revert":
        revert(a.dir)
    else:
        globals()[a.kind](rng, a.dir, a.mb << 20, a.files)


main()
