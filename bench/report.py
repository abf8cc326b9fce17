#!/usr/bin/env python3
"""Turn bench/s3.sh's OUTDIR (meta, results.tsv) into a Markdown section.

usage: report.py OUTDIR COMMAND > section.md
"""
import statistics
import sys
from collections import defaultdict

out, command = sys.argv[1], sys.argv[2]
meta = {}
for line in open(f"{out}/meta"):
    k, _, v = line.rstrip("\n").partition("=")
    meta[k] = v
try:
    changed = int(open(f"{out}/changed_bytes").read().split()[0])
except (OSError, ValueError, IndexError):
    changed = 0
try:
    rawbytes = int(open(f"{out}/rawget_bytes").read())
except (OSError, ValueError):
    rawbytes = 0

runs = defaultdict(list)  # (scenario, tool) -> [(wall, cpu, rss_kb, sent, recv, load)]
fails = defaultdict(int)
order = []
for line in open(f"{out}/results.tsv"):
    f = line.rstrip("\n").split("\t")
    key = (f[0], f[1])
    if key not in runs and key not in fails:
        order.append(key)
    if len(f) < 8 or f[2] == "FAIL":
        fails[key] += 1
        continue
    # bytes may be "-": not measured (see the section's notes)
    nb = [int(x) if x != "-" else None for x in (f[5], f[6])]
    runs[key].append((float(f[2]), float(f[3]), int(f[4]), nb[0], nb[1], float(f[7])))


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def mib(b):
    return "-" if b != b else f"{b / 1048576:.1f}"


def summary(key):
    r = runs.get(key, [])
    if not r:
        return None
    return {
        "wall": med([x[0] for x in r]),
        "cpu": med([x[1] for x in r]),
        "rss": max(x[2] for x in r) / 1024,
        "sent": med([x[3] for x in r if x[3] is not None]),
        "recv": med([x[4] for x in r if x[4] is not None]),
        "load": med([x[5] for x in r]),
        "n": len(r),
        "walls": [x[0] for x in r],
    }


print(f"### netvol vs restic, rclone and tar.gz + aws s3 cp on a local S3 server "
      f"({meta.get('size')}, {meta.get('date')})")
print()
print(f"Command: `{command}` (bench/s3.sh, then bench/report.py).  ")
print(f"Machine: {meta.get('machine')} (the 1-minute load average at the start of each run "
      f"is in the tables).  ")
print(f"Versions: {meta.get('netvol')}; static: {meta.get('netvol_static', '-')}; {meta.get('restic')}; {meta.get('rclone')}; "
      f"{meta.get('aws')}; {meta.get('radosgw')}.  ")
print(f"Tree: `bench/gen.py tree --size {meta.get('size')} --seed 1` (venv, "
      f"ComfyUI/custom_nodes, .cache): {meta.get('tree_files')} files "
      f"({meta.get('tree_entries')} entries), {int(meta.get('tree_bytes', 0)) / 1e6:.0f} MB.  ")
print(f"Server: one Ceph radosgw on loopback (tests/s3/rgw.sh: memstore OSD, beast), plain HTTP. "
      f"{meta.get('runs')} repetitions per scenario, the tool order rotated each time; "
      f"median wall and CPU (user+sys, children included), the highest peak RSS "
      f"(of one process: for tar.gz + aws, the biggest of the pipeline's processes), "
      f"median bytes sent to and received from the server port (IP packets, iptables counters).")
print()

raw = summary(("rawget", "curl"))
rg = rawbytes / raw["wall"] / 1e6 if raw and rawbytes else 0
if raw:
    print(f"**Raw GET throughput of the server**: the objects netvol stores for this tree "
          f"({rawbytes / 1048576:.0f} MiB), each fetched whole by `curl --aws-sigv4` to /dev/null "
          f"over 16 connections: median {raw['wall']:.2f} s = **{rg:.0f} MB/s** "
          f"(runs: {', '.join(f'{w:.2f}' for w in raw['walls'])} s; load {raw['load']:.1f}).")
    print()
print(f"Restores and copies write to a {meta.get('dst_fs', '?')}.")
print()

names = {
    "full_sync": "Full sync of a fresh tree (empty bucket)",
    "unchanged_sync": "Unchanged sync (right after the full sync; the tar.gz way has no "
                      "incremental mode, its unchanged sync is its full sync)",
    "cold_restore": "Cold restore into an empty folder",
    "incr_sync": f"Incremental sync after `gen.py change` ({changed / 1e6:.1f} MB changed: "
                 "one new 50 MB package, 5 edited files)",
}
tools = ["netvol", "restic", "rclone", "tgz"]
label = {"netvol": "netvol", "restic": "restic", "rclone": "rclone",
         "tgz": f"tar.gz x{meta.get('tgz_chunks', 4)} + aws s3 cp"}
for sc, title in names.items():
    base = summary((sc, "netvol"))
    if not any(summary((sc, t)) for t in tools):
        continue
    print(f"#### {title}")
    print()
    print("| tool | wall (median) | ratio to netvol | CPU | peak RSS | sent | received | load | runs (wall s) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for t in tools:
        s = summary((sc, t))
        if not s:
            if fails.get((sc, t)):
                print(f"| {label[t]} | failed | | | | | | | |")
            continue
        ratio = f"{s['wall'] / base['wall']:.2f}x" if base and base["wall"] > 0 else ""
        extra = f" ({fails[(sc, t)]} failed)" if fails.get((sc, t)) else ""
        print(f"| {label[t]} | {s['wall']:.2f} s | {ratio} | {s['cpu']:.2f} s | {s['rss']:.0f} MiB "
              f"| {mib(s['sent'])} MiB | {mib(s['recv'])} MiB | {s['load']:.1f} "
              f"| {', '.join(f'{w:.2f}' for w in s['walls'])}{extra} |")
    print()
    if sc == "cold_restore" and rg and base:
        rs = int(meta.get("tree_bytes", 0)) / base["wall"] / 1e6
        ws = base["recv"] / base["wall"] / 1e6
        print(f"netvol restore: {rs:.0f} MB/s of tree written, {ws:.0f} MB/s received; "
              f"raw GET {rg:.0f} MB/s (netvol's receive rate is {ws / rg:.2f} of it).")
        peers = [(label[t], summary((sc, t))) for t in tools[1:] if summary((sc, t))]
        if peers and base["recv"] == base["recv"]:
            floor = base["recv"] / 1e6 / rg
            print()
            print(f"Floor: receiving netvol's {mib(base['recv'])} MiB at the raw GET rate takes "
                  f"{floor:.2f} s, so a restore of these bytes from this server can beat each "
                  f"peer by at most: "
                  + "; ".join(f"{n} ({p['wall']:.2f} s) {p['wall'] / floor:.2f}x, netvol "
                              f"{p['wall'] / base['wall']:.2f}x" for n, p in peers) + ".")
        print()
    if sc == "incr_sync" and base and changed:
        print(f"netvol uploaded {mib(base['sent'])} MiB for {mib(changed)} MiB changed "
              f"({base['sent'] / changed:.2f}x, compressed).")
        print()

sym = summary(("nv_symlink_restore", "netvol"))
pre = summary(("nv_prestop_copy", "netvol"))
cpa = summary(("nv_prestop_copy", "cp-a"))
if sym or pre:
    print("#### Network-volume path (netvol)")
    print()
    print("| step | wall (median) | CPU | peak RSS | load | runs (wall s) |")
    print("| --- | --- | --- | --- | --- | --- |")
    if sym:
        print(f"| restore, all 3 shared datasets on the network volume (symlinks) | "
              f"{sym['wall'] * 1000:.0f} ms | {sym['cpu'] * 1000:.0f} ms | {sym['rss']:.0f} MiB | "
              f"{sym['load']:.1f} | {', '.join(f'{w:.2f}' for w in sym['walls'])} |")
    sys_ = summary(("nv_symlink_restore", "netvol-static"))
    if sys_:
        print(f"| the same with the static binary (`make static`, what the init container runs) | "
              f"{sys_['wall'] * 1000:.0f} ms | {sys_['cpu'] * 1000:.0f} ms | {sys_['rss']:.0f} MiB | "
              f"{sys_['load']:.1f} | {', '.join(f'{w:.2f}' for w in sys_['walls'])} |")
    syi = summary(("nv_symlink_internal", "netvol"))
    if syi:
        print(f"| the same, netvol's own time (`restore.summary duration_ms`: store open, probe, "
              f"links; no process start-up) | {syi['wall'] * 1000:.0f} ms | | | {syi['load']:.1f} "
              f"| {', '.join(f'{w:.3f}' for w in syi['walls'])} |")
    if pre:
        print(f"| preStop sync onto an empty network volume (copy + unchanged store sync) | "
              f"{pre['wall']:.2f} s | {pre['cpu']:.2f} s | {pre['rss']:.0f} MiB | {pre['load']:.1f} "
              f"| {', '.join(f'{w:.2f}' for w in pre['walls'])} |")
    if cpa:
        print(f"| reference: `cp -a` of the same folders | {cpa['wall']:.2f} s | {cpa['cpu']:.2f} s "
              f"| {cpa['rss']:.0f} MiB | {cpa['load']:.1f} | {', '.join(f'{w:.2f}' for w in cpa['walls'])} |")
    print()

scale = defaultdict(dict)
for (sc, tool) in order:
    if sc.startswith("scale_"):
        kind, mb, files = sc.split(":")
        scale[(int(mb), int(files))][kind] = summary((sc, tool))
if scale:
    print("#### Scaling (netvol, venv-like trees `gen.py venv --mb MB --files N --seed 2`, one run per point)")
    print()
    print("| tree | sync | sync RSS | sent | unchanged sync | restore | restore RSS | received | load |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (mb, files) in sorted(scale):
        d = scale[(mb, files)]
        s, u, r = d.get("scale_sync"), d.get("scale_unchanged"), d.get("scale_restore")
        if not (s and u and r):
            print(f"| {mb} MB, {files} files | failed | | | | | | | |")
            continue
        print(f"| {mb} MB, {files} files | {s['wall']:.2f} s | {s['rss']:.0f} MiB | {mib(s['sent'])} MiB "
              f"| {u['wall']:.2f} s ({u['cpu']:.2f} s CPU) | {r['wall']:.2f} s | {r['rss']:.0f} MiB | {mib(r['recv'])} MiB "
              f"| {s['load']:.1f} |")
    print()
if fails:
    print("Failed runs: " + ", ".join(f"{sc}/{t} x{n}" for (sc, t), n in fails.items()) + ".")
    print()
