"""Stand-in for ComfyUI in the pod harness.

    app.py write   first start: create the venv and the user's files
    app.py modify  later starts: change and add files in what the restore made
                   (pip-like writes into the venv, custom node updates)
    app.py idle    only wait

Each mode then logs READY and waits for SIGTERM (exit 0). Every step is
logged as `app: ...`; a failure is logged as `app: FAIL ...` and the
process exits 1 (before READY).
"""
import os
import signal
import subprocess
import sys
import time

NV = os.environ.get("NETWORK_VOLUME", "/workspace")


def log(msg):
    print("app: " + msg, flush=True)


def write(rel, text, mode="w"):
    p = os.path.join(NV, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, mode) as f:
        f.write(text)


def mode_write():
    venv = os.path.join(NV, "venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    write("venv/lib/site-packages-marker.txt", "torch==2.5.1\n")
    write("ComfyUI/custom_nodes/ComfyUI-Manager/__init__.py", "NODE_CLASS_MAPPINGS = {}\n")
    write("ComfyUI/custom_nodes/ComfyUI-Manager/config.ini", "[default]\nsecurity_level = normal\n")
    write("ComfyUI/user/default/comfy.settings.json", '{"Comfy.Theme": "dark"}\n')
    write("ComfyUI/output/ComfyUI_00001_.png", "PNG" * 1000)
    write(".cache/huggingface/token-like.txt", "cache\n")
    os.makedirs(os.path.join(NV, ".comfyui"), exist_ok=True)
    write(".comfyui/state.json", "{}\n")
    os.symlink("ComfyUI-Manager", os.path.join(NV, "ComfyUI/custom_nodes/manager-link"))


def mode_modify():
    venv = os.path.join(NV, "venv")
    # `python3 -m venv --upgrade` rewrites pyvenv.cfg and the bin/ links.
    # Python's venv refuses an env dir that is a symlink ("Unable to create
    # directory"), which a venv linked from the network volume is: there
    # only the venv's own python writes (what pip does).
    if os.path.islink(venv):
        log("venv is a symlink to %s: no venv --upgrade" % os.readlink(venv))
    else:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--upgrade", venv], check=True)
    subprocess.run([os.path.join(venv, "bin/python"), "-c",
                    "import sys, os; open(os.path.join(sys.prefix, 'lib/pip-installed.txt'), 'w').write('x')"],
                   check=True)
    write("venv/lib/site-packages-marker.txt", "numpy==2.1.0\n", mode="a")
    write("venv/lib/new-package.txt", "new\n")
    write("ComfyUI/custom_nodes/ComfyUI-Manager/config.ini", "[default]\nsecurity_level = weak\n")
    write("ComfyUI/custom_nodes/ComfyUI-Impact/__init__.py", "X = 1\n")
    write("ComfyUI/user/default/comfy.settings.json", '{"Comfy.Theme": "light"}\n')


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "idle"
    signal.signal(signal.SIGTERM, lambda *_: (log("SIGTERM"), sys.exit(0)))
    log("start mode=%s uid=%d gid=%d groups=%s" % (mode, os.getuid(), os.getgid(), os.getgroups()))
    try:
        if mode == "write":
            mode_write()
        elif mode == "modify":
            mode_modify()
    except (OSError, subprocess.CalledProcessError) as e:
        log("FAIL %s: %s" % (mode, e))
        sys.exit(1)
    log("READY")
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
