#!/usr/bin/env python3
"""Write the shell scripts' layout (LEGACY.md) for several users into a
folder, the way the old scripts left it in S3, plus what netvol restore must
make of it.

  gen.py good OUT     users in every generation and variant;
                      OUT/store/<user>/... is the legacy root of each user,
                      OUT/expected/<user>/<dataset>.json the restored trees
  gen.py hostile OUT  one user per hazard (OUT/store/<user>/...), and
                      OUT/hostile.txt: "<user> <dataset> <words the error names>"
  gen.py seeds OUT    small archives for the fuzz corpus

Deterministic (seeded), Python 3 stdlib only.
"""
import hashlib
import io
import json
import os
import random
import stat
import sys
import tarfile
import zipfile

MTIME = 1700000000
PY = "3.11"
rng = random.Random(13)


def blob(n):
    return bytes(rng.getrandbits(8) for _ in range(n)) if n < 4096 else rng.randbytes(n)


class Tree:
    """path -> ("f", bytes, mode) | ("l", target)"""

    def __init__(self):
        self.e = {}

    def f(self, p, data, mode=0o644):
        self.e[p] = ("f", data, mode)

    def l(self, p, target):
        self.e[p] = ("l", target)

    def sub(self, prefix):
        t = Tree()
        for p, v in self.e.items():
            if p.startswith(prefix + "/"):
                t.e[p[len(prefix) + 1:]] = v
        return t

    def expected(self):
        out = {}
        for p, v in self.e.items():
            if v[0] == "f":
                out[p] = {"type": "f", "sha": hashlib.sha256(v[1]).hexdigest(), "mode": v[2]}
            else:
                out[p] = {"type": "l", "target": v[1]}
        return out


def tar_bytes(members, dotslash=False):
    """members: list of (name, entry) in order; entry as in Tree."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w:gz", format=tarfile.GNU_FORMAT) as tf:
        dirs = set()
        for name, v in members:
            parts = name.split("/")
            for i in range(1, len(parts)):
                if parts[i - 1] in ("", ".", ".."):
                    break  # hostile names: no folder entries for them
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    ti = tarfile.TarInfo(("./" if dotslash else "") + d)
                    ti.type = tarfile.DIRTYPE
                    ti.mode = 0o755
                    ti.mtime = MTIME
                    tf.addfile(ti)
            ti = tarfile.TarInfo(("./" if dotslash else "") + name)
            ti.mtime = MTIME
            if v[0] == "f":
                ti.size = len(v[1])
                ti.mode = v[2]
                tf.addfile(ti, io.BytesIO(v[1]))
            elif v[0] == "l":
                ti.type = tarfile.SYMTYPE
                ti.linkname = v[1]
                tf.addfile(ti)
            elif v[0] == "h":
                ti.type = tarfile.LNKTYPE
                ti.linkname = v[1]
                tf.addfile(ti)
    return bio.getvalue()


def zip_bytes(members):
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, v in members:
            zi = zipfile.ZipInfo(name, date_time=(2023, 11, 14, 22, 13, 20))
            zi.compress_type = zipfile.ZIP_DEFLATED
            if v[0] == "f":
                zi.external_attr = (stat.S_IFREG | v[2]) << 16
                zf.writestr(zi, v[1])
            else:
                zi.create_system = 3
                zi.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(zi, v[1])
    return bio.getvalue()


def put(store, user, key, data):
    p = os.path.join(store, user, key)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)


def make_venv(name, big=0):
    """A venv as `python -m venv` makes it, regular files only (chunks)."""
    t = Tree()
    t.f("pyvenv.cfg", ("home = /usr/bin\ninclude-system-site-packages = false\n"
                       "version = %s.2\n" % PY).encode())
    t.f("bin/activate", b"# activate %s\n" % name.encode())
    t.f("bin/pip", b"#!/usr/bin/env python\nprint('pip')\n", 0o755)
    sp = "lib/python%s/site-packages" % PY
    for i in range(25):
        t.f("%s/pkg_%s/mod%d.py" % (sp, name, i), blob(200 + i * 37))
    t.f("%s/pkg_%s/data.bin" % (sp, name), blob(3000))
    t.f("%s/%s-1.0.dist-info/RECORD" % (sp, name), b"record\n")
    t.f("include/site/python%s/greenlet/greenlet.h" % PY, b"/* h */\n")
    if big:
        t.f("%s/torch_%s/libbig.so" % (sp, name), blob(big), 0o755)
    return t


def chunks_of(items, limit):
    groups, cur, size = [], [], 0
    for it in items:
        n = len(it[1][1])
        if cur and size + n > limit:
            groups.append(cur)
            cur, size = [], 0
        cur.append(it)
        size += n
    if cur:
        groups.append(cur)
    return groups


def write_chunks(store, user, folder, venv, variant, limit=4000, stale=0, dotslash=False):
    """variant: whole | lib | sitepackages. Returns the restored tree."""
    sp = "lib/python%s/site-packages" % PY
    files = sorted(venv.e.items())
    if variant == "whole":
        inchunks = files
        other = []
    elif variant == "lib":
        inchunks = [x for x in files if x[0].startswith("lib/") or x[0].startswith("lib64/")]
        other = [x for x in files if x not in inchunks]
    else:
        inchunks = [(p[len(sp) + 1:], v) for p, v in files if p.startswith(sp + "/")]
        other = [x for x in files if not x[0].startswith(sp + "/")]
    sums = []
    groups = chunks_of(inchunks, limit)
    for i, g in enumerate(groups, 1):
        data = tar_bytes(g, dotslash=dotslash)
        name = "venv_chunk_%d.tar.gz" % i
        put(store, user, folder + name, data)
        sums.append("%s %s" % (hashlib.sha256(data).hexdigest(), name))
    for j in range(stale):
        # leftovers of a bigger venv: not listed, must not appear
        n = len(groups) + 1 + j
        put(store, user, folder + "venv_chunk_%d.tar.gz" % n,
            tar_bytes([("lib/python%s/site-packages/STALE_%d.py" % (PY, n), ("f", b"stale", 0o644))]))
    if other:
        # made following symlinks: the interpreter is a full copy
        other = other + [("bin/python", ("f", b"ELF-copy", 0o755)),
                         ("bin/python3", ("f", b"ELF-copy", 0o755)),
                         ("bin/python%s" % PY, ("f", b"ELF-copy", 0o755))]
        put(store, user, folder + "venv_other_folders.zip", zip_bytes(other))
    put(store, user, folder + "venv_chunks.checksums", ("\n".join(sums) + "\n").encode())
    put(store, user, folder + "source.checksum", b"deadbeef\n")
    t = Tree()
    t.e = dict(venv.e)
    if other:
        t.f("bin/python%s" % PY, b"ELF-copy", 0o755)
    if os.path.exists("/usr/bin/python%s" % PY):
        t.l("bin/python", "/usr/bin/python%s" % PY)
        t.l("bin/python3", "/usr/bin/python%s" % PY)
    elif other:
        t.f("bin/python", b"ELF-copy", 0o755)
        t.f("bin/python3", b"ELF-copy", 0o755)
    return t


def comfy_tree(tag):
    t = Tree()
    t.f("comfy.settings.json", b'{"user": "%s"}' % tag.encode())
    t.f("logs/comfyui.log", blob(500))
    return t


def cache_tree(tag):
    t = Tree()
    t.f("pip/http/abc", blob(2000))
    t.f("huggingface/hub/models--x/blobs/1", blob(5000))
    t.f("aws/config", b"[default]\nregion = eu-west-1\n", 0o600)
    t.f("aws/credentials", b"[default]\naws_access_key_id = AKIA%s\n" % tag.upper().encode(), 0o600)
    return t


def nodes_tree(tag):
    t = Tree()
    t.f("ComfyUI-Manager/__init__.py", b"# manager %s\n" % tag.encode())
    t.f("ComfyUI-Manager/requirements.txt", b"gitpython\n")
    t.f("was-node-suite/run.sh", b"#!/bin/sh\n", 0o755)
    t.l("was-node-suite/link-to-run", "run.sh")
    return t


def pod_tree(tag):
    """NV/ComfyUI minus models, custom_nodes, .browser-session"""
    t = Tree()
    t.f("main.py", b"# comfy main\n")
    t.f(".gitignore", b"*.pyc\n")
    t.f("comfy/sd.py", b"# code\n")
    t.f("user/default/comfy.settings.json", b'{"pod": "%s"}' % tag.encode())
    t.f("user/default/workflows/w1.json", blob(700))
    t.f("input/example.png", blob(9000))
    t.f("output/ComfyUI_00001_.png", blob(12000))
    t.f("output/sub/ComfyUI_00002_.png", blob(1000))
    t.f("temp/x.tmp", b"tmp")
    return t


def prefixed(prefix, tree):
    return [(prefix + p, v) for p, v in sorted(tree.e.items())]


def expect(out, user, ds, tree):
    d = os.path.join(out, "expected", user)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, ds.replace("/", "__") + ".json"), "w") as f:
        json.dump(tree.expected() if isinstance(tree, Tree) else tree, f, indent=1, sort_keys=True)


def good(out):
    store = os.path.join(out, "store")
    # alice: newest generation. Two venvs in per-venv chunk folders (whole venv;
    # lib only + venv_other_folders.zip), _comfyui, _cache, custom_nodes under
    # ComfyUI/shared, the pod archives.
    u = "alice"
    v1 = make_venv("comfyui", big=11 << 20)  # > one 8 MiB piece
    v2 = make_venv("tools")
    t1 = write_chunks(store, u, "shared/venv_chunks/comfyui/", v1, "whole", limit=6000)
    t2 = write_chunks(store, u, "shared/venv_chunks/tools/", v2, "lib", dotslash=True)
    venv = Tree()
    venv.e = {**{"comfyui/" + p: v for p, v in t1.e.items()}, **{"tools/" + p: v for p, v in t2.e.items()}}
    expect(out, u, "venv", venv)
    c = comfy_tree(u)
    put(store, u, "shared/_comfyui.tar.gz", tar_bytes(prefixed(".comfyui/", c)))
    put(store, u, "shared/.comfyui.tar.gz", tar_bytes(prefixed(".comfyui/", comfy_tree("older"))))
    expect(out, u, ".comfyui", c)
    k = cache_tree(u)
    put(store, u, "shared/_cache.tar.gz", tar_bytes(prefixed(".cache/", k)))
    # the AWS CLI's files stay out (store credentials never reach ComfyUI)
    del k.e["aws/config"], k.e["aws/credentials"]
    expect(out, u, ".cache", k)
    n = nodes_tree(u)
    put(store, u, "ComfyUI/shared/custom_nodes.tar.gz", tar_bytes(prefixed("custom_nodes/", n)))
    put(store, u, "shared/custom_nodes.tar.gz", tar_bytes(prefixed("custom_nodes/", nodes_tree("older"))))
    expect(out, u, "ComfyUI/custom_nodes", n)
    p = pod_tree(u)
    # what the scripts left out of it may still be there (an older
    # generation): the ComfyUI dataset excludes it
    stray = Tree()
    stray.f("models/checkpoints/stray.safetensors", blob(500))
    stray.f("custom_nodes/stray-node/__init__.py", b"# not this dataset's\n")
    stray.f(".browser-session/cookies", b"secret")
    put(store, u, "pod-a1/comfyui_pod_specific_data.tar.gz",
        tar_bytes(prefixed("", p) + prefixed("", stray), dotslash=True))
    for sub in ("user", "input", "output"):
        expect(out, u, "ComfyUI/" + sub, p.sub(sub))
    expect(out, u, "ComfyUI", p)
    o = Tree()
    o.f("extra/notes.txt", b"notes\n")
    o.f("workspace-tools/t.sh", b"#!/bin/sh\n", 0o755)
    put(store, u, "pod-a1/other_pod_specific_data.tar.gz", tar_bytes(prefixed("", o), dotslash=True))
    expect(out, u, "extra", o.sub("extra"))

    # bob: single-venv chunk folder, site-packages-only chunks (the rest in
    # venv_other_folders.zip), two stale chunks; .comfyui.tar.gz (older name);
    # custom_nodes.tar.gz under shared/.
    u = "bob"
    t = write_chunks(store, u, "shared/venv_chunks/", make_venv("bob"), "sitepackages", stale=2)
    expect(out, u, "venv", prefix_tree("comfyui/", t))
    c = comfy_tree(u)
    put(store, u, "shared/.comfyui.tar.gz", tar_bytes(prefixed(".comfyui/", c)))
    expect(out, u, ".comfyui", c)
    n = nodes_tree(u)
    put(store, u, "shared/custom_nodes.tar.gz", tar_bytes(prefixed("custom_nodes/", n)))
    expect(out, u, "ComfyUI/custom_nodes", n)

    # erin: single-venv folder, whole venv in chunks, one stale chunk.
    u = "erin"
    t = write_chunks(store, u, "shared/venv_chunks/", make_venv("erin"), "whole", stale=1, dotslash=True)
    expect(out, u, "venv", prefix_tree("comfyui/", t))
    # frank: single-venv folder, lib only + zip.
    u = "frank"
    t = write_chunks(store, u, "shared/venv_chunks/", make_venv("frank"), "lib")
    expect(out, u, "venv", prefix_tree("comfyui/", t))

    # carol: venv.tar.gz only (real venv symlinks), loose .comfyui, loose
    # custom_nodes, loose pod folders; also a venv.zip that must lose to the tar.
    u = "carol"
    v = make_venv("carol")
    v.l("bin/python3", "/usr/bin/python3")
    v.l("bin/python", "python3")
    v.l("bin/python%s" % PY, "python3")
    v.l("lib64", "lib")
    put(store, u, "shared/venv.tar.gz", tar_bytes(prefixed("venv/comfyui/", v)))
    put(store, u, "shared/venv.zip", zip_bytes(prefixed("comfyui/", make_venv("zip-loses"))))
    expect(out, u, "venv", prefix_tree("comfyui/", v))
    c = comfy_tree(u)
    for pth, e in c.e.items():
        put(store, u, "shared/.comfyui/" + pth, e[1])
    expect(out, u, ".comfyui", loose(c))
    n = nodes_tree(u)
    del n.e["was-node-suite/link-to-run"]
    for pth, e in n.e.items():
        put(store, u, "ComfyUI/shared/custom_nodes/" + pth, e[1])
    expect(out, u, "ComfyUI/custom_nodes", loose(n))
    p = pod_tree(u)
    for pth, e in p.e.items():
        if pth.split("/")[0] in ("user", "input", "output"):
            put(store, u, "pod-c1/ComfyUI/" + pth, e[1])
    for sub in ("user", "input", "output"):
        expect(out, u, "ComfyUI/" + sub, loose(p.sub(sub)))
    put(store, u, "pod-c1/ComfyUI/models/loras/stray.safetensors", blob(300))
    kept = Tree()
    kept.e = {k: v for k, v in p.e.items() if k.split("/")[0] in ("user", "input", "output")}
    expect(out, u, "ComfyUI", loose(kept))

    for u, t in older_single_venv(store):
        expect(out, u, "venv", t)

    # dave: the zip generation (one zip per folder, made from inside it).
    u = "dave"
    v = make_venv("dave")
    put(store, u, "shared/venv.zip", zip_bytes(prefixed("comfyui/", v)))
    expect(out, u, "venv", prefix_tree("comfyui/", venv_fixed(v)))
    c = comfy_tree(u)
    put(store, u, "shared/.comfyui.zip", zip_bytes(prefixed("", c)))
    expect(out, u, ".comfyui", c)
    n = nodes_tree(u)
    put(store, u, "ComfyUI/shared/custom_nodes.zip", zip_bytes(prefixed("", n)))
    expect(out, u, "ComfyUI/custom_nodes", n)


def older_single_venv(store):
    """Older generations where NV/venv was the venv itself: its root entries
    (bin/, lib/, pyvenv.cfg) at the archive's top. Restored as venv/comfyui."""
    u = "gina"  # venv.zip made from inside that venv
    v = make_venv("gina")
    put(store, u, "shared/venv.zip", zip_bytes(prefixed("", v)))
    yield u, prefix_tree("comfyui/", venv_fixed(v))
    u = "hank"  # aws s3 sync of that venv
    v = make_venv("hank")
    for pth, e in v.e.items():
        put(store, u, "shared/venv/" + pth, e[1])
    yield u, prefix_tree("comfyui/", venv_fixed(loose(v)))
    u = "ivan"  # venv.tar.gz with venv/bin/... members
    v = make_venv("ivan")
    put(store, u, "shared/venv.tar.gz", tar_bytes(prefixed("venv/", v)))
    yield u, prefix_tree("comfyui/", venv_fixed(v))


def venv_fixed(v):
    t = Tree()
    t.e = dict(v.e)
    if os.path.exists("/usr/bin/python%s" % PY):
        t.l("bin/python", "/usr/bin/python%s" % PY)
        t.l("bin/python3", "/usr/bin/python%s" % PY)
    return t


def loose(t):
    """aws s3 sync keeps no modes: files come back 0644 (0755 in bin/)."""
    out = Tree()
    for p, v in t.e.items():
        if v[0] == "f":
            d = os.path.dirname(p)
            out.f(p, v[1], 0o755 if os.path.basename(d) == "bin" else 0o644)
    return out


def prefix_tree(prefix, t):
    out = Tree()
    out.e = {prefix + p: v for p, v in t.e.items()}
    return out


def hostile(out):
    store = os.path.join(out, "store")
    cases = []

    def case(user, ds, words, key, data):
        put(store, user, key, data)
        cases.append("%s %s %s" % (user, ds, words))

    ok = [(".comfyui/good.txt", ("f", b"good", 0o644))]
    case("h-dotdot", ".comfyui", "_comfyui.tar.gz ../../escaped",
         "shared/_comfyui.tar.gz", tar_bytes(ok + [(".comfyui/../../escaped", ("f", b"x", 0o644))]))
    case("h-abs", ".comfyui", "_comfyui.tar.gz absolute",
         "shared/_comfyui.tar.gz", tar_bytes(ok + [("/tmp/netvol-abs-escape", ("f", b"x", 0o644))]))
    case("h-symlink", ".comfyui", "_comfyui.tar.gz outside",
         "shared/_comfyui.tar.gz",
         tar_bytes(ok + [(".comfyui/up", ("l", "../../..")), (".comfyui/up/escaped", ("f", b"x", 0o644))]))
    case("h-symlink-abs", ".comfyui", "_comfyui.tar.gz /etc",
         "shared/_comfyui.tar.gz", tar_bytes(ok + [(".comfyui/etc", ("l", "/etc"))]))
    case("h-symlink-walk", ".comfyui", "_comfyui.tar.gz outside",
         "shared/_comfyui.tar.gz",
         tar_bytes(ok + [(".comfyui/a", ("l", ".")), (".comfyui/b", ("l", "a/.."))]))
    case("h-hardlink", ".comfyui", "_comfyui.tar.gz hardlink",
         "shared/_comfyui.tar.gz", tar_bytes(ok + [(".comfyui/pw", ("h", "../etc/passwd"))]))
    case("h-hardlink-out", ".comfyui", "_comfyui.tar.gz hardlink",
         "shared/_comfyui.tar.gz",
         tar_bytes([("other/secret", ("f", b"s", 0o644))] + ok + [(".comfyui/s", ("h", "other/secret"))]))
    case("h-hardlink-symlink", ".comfyui", "_comfyui.tar.gz .comfyui/top",
         "shared/_comfyui.tar.gz",
         tar_bytes(ok + [(".comfyui/a/b/l", ("l", "../../good.txt")), (".comfyui/top", ("h", ".comfyui/a/b/l"))]))
    case("h-device", ".comfyui", "_comfyui.tar.gz device", "shared/_comfyui.tar.gz", special(tarfile.CHRTYPE))
    case("h-fifo", ".comfyui", "_comfyui.tar.gz fifo", "shared/_comfyui.tar.gz", special(tarfile.FIFOTYPE))
    case("h-huge", ".comfyui", "_comfyui.tar.gz absurd", "shared/_comfyui.tar.gz", huge())
    full = tar_bytes(ok + [(".comfyui/big.bin", ("f", blob(300000), 0o644))])
    case("h-truncated", ".comfyui", "_comfyui.tar.gz", "shared/_comfyui.tar.gz", full[: len(full) // 2])
    case("h-truncated-tail", ".comfyui", "_comfyui.tar.gz", "shared/_comfyui.tar.gz", full[:-6])
    case("h-garbage", ".comfyui", "_comfyui.tar.gz", "shared/_comfyui.tar.gz", b"this is not gzip at all" * 10)
    case("h-zip-dotdot", "venv", "venv.zip ../escaped",
         "shared/venv.zip", zip_bytes([("comfyui/ok", ("f", b"ok", 0o644)), ("../escaped", ("f", b"x", 0o644))]))
    case("h-zip-symlink", "venv", "venv.zip outside",
         "shared/venv.zip", zip_bytes([("comfyui/ok", ("f", b"ok", 0o644)), ("comfyui/l", ("l", "../../../x"))]))
    # a chunk that disagrees with venv_chunks.checksums
    u = "h-badsum"
    write_chunks(store, u, "shared/venv_chunks/comfyui/", make_venv("x"), "whole")
    p = os.path.join(store, u, "shared/venv_chunks/comfyui/venv_chunk_1.tar.gz")
    with open(p, "wb") as f:
        f.write(tar_bytes([("lib/evil.py", ("f", b"evil", 0o644))]))
    cases.append("%s venv venv_chunk_1.tar.gz SHA-256" % u)
    # a listed chunk that is missing
    u = "h-missing"
    write_chunks(store, u, "shared/venv_chunks/comfyui/", make_venv("y"), "whole")
    os.unlink(os.path.join(store, u, "shared/venv_chunks/comfyui/venv_chunk_2.tar.gz"))
    cases.append("%s venv venv_chunk_2.tar.gz missing" % u)
    with open(os.path.join(out, "hostile.txt"), "w") as f:
        f.write("\n".join(cases) + "\n")


def special(kind):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w:gz") as tf:
        ti = tarfile.TarInfo(".comfyui/good.txt")
        ti.size = 4
        tf.addfile(ti, io.BytesIO(b"good"))
        ti = tarfile.TarInfo(".comfyui/dev")
        ti.type = kind
        ti.devmajor, ti.devminor = 1, 3
        tf.addfile(ti)
    return bio.getvalue()


def huge():
    """A header that declares 2^40 bytes (the data is not there)."""
    ti = tarfile.TarInfo(".comfyui/huge.bin")
    ti.size = 1 << 40
    hdr = ti.tobuf(format=tarfile.GNU_FORMAT)
    import gzip
    return gzip.compress(hdr + b"\0" * 4096, mtime=0)


def seeds(out):
    os.makedirs(out, exist_ok=True)
    items = {
        "tar-plain": tar_bytes(prefixed(".comfyui/", comfy_tree("s"))),
        "tar-dotslash-links": tar_bytes(prefixed("", nodes_tree("s")) +
                                        [("h", ("h", "ComfyUI-Manager/requirements.txt"))], dotslash=True),
        "tar-dotdot": tar_bytes([("../x", ("f", b"x", 0o644))]),
        "tar-symlink-out": tar_bytes([("a", ("l", "../..")), ("a/b", ("f", b"x", 0o644))]),
        "tar-device": special(tarfile.CHRTYPE),
        "zip-plain": zip_bytes(prefixed("", comfy_tree("z"))),
        "zip-symlink": zip_bytes([("l", ("l", "/etc")), ("ok", ("f", b"ok", 0o644))]),
    }
    # fuzz_legacy's first byte: bit 0 zip, bit 1 keep .comfyui/ only,
    # bit 2 below v/ with the python-link hook, bit 3 a checksum to fail
    for name, data in items.items():
        for opt in (0, 2, 4, 8):
            with open(os.path.join(out, "%s-%d" % (name, opt)), "wb") as f:
                f.write(bytes([opt | (1 if name.startswith("zip") else 0)]) + data)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("good", "hostile", "seeds"):
        sys.exit(__doc__)
    {"good": good, "hostile": hostile, "seeds": seeds}[sys.argv[1]](sys.argv[2])
