#!/usr/bin/env python3
"""The environment the kubelet gives a container, computed from a pod spec.

    from podenv import resolve_env
    env = resolve_env(pod, container, secrets, configmaps)   # [(name, value), ...]

    python3 tests/pods/podenv.py --pod POD.json --container NAME \
        [--secret NAME=FILE.env]... [--configmap NAME=FILE.env]... --print
    python3 tests/pods/podenv.py --pod POD.json --container NAME ... -- CMD ARGS...

`--print` prints KEY=VALUE lines; `-- CMD ARGS` execs CMD with exactly that
environment (like `env -i`; CMD is looked up in the resolved PATH). A
container is looked up among `initContainers` then `containers`. Secret and
ConfigMap files hold KEY=VALUE lines (`kubectl create secret generic
--from-env-file` syntax: blank lines and lines starting with # are skipped,
the value is everything after the first `=`).

What the kubelet does (pkg/kubelet/kubelet_pods.go, makeEnvironmentVariables),
in this order:
  1. `envFrom`, each source in order: every key of the ConfigMap or Secret,
     with the source's `prefix`; a later source overrides an earlier one.
  2. `env`, in order: `value` with `$(VAR)` expanded against what is defined
     so far (envFrom and earlier `env` entries; an undefined `$(VAR)` stays as
     written, `$$` is a literal `$`); `valueFrom` (`fieldRef`,
     `resourceFieldRef`, `secretKeyRef`, `configMapKeyRef`) taken as is.
A missing Secret/ConfigMap or key is an error (the kubelet's
CreateContainerConfigError) unless the reference says `optional: true`, in
which case the variable (or the whole source) is left out. Not modelled: the
service links variables (`enableServiceLinks`, KUBERNETES_SERVICE_HOST...).

Exit codes of the CLI: 0 ok, 1 the environment cannot be resolved (the
message names the reference), 2 usage.
"""
import argparse
import json
import math
import os
import re
import sys


class EnvError(Exception):
    """A reference the kubelet could not resolve (CreateContainerConfigError)."""


def expand(s, defined):
    """Kubernetes' $(VAR) expansion (third_party/forked/golang/expansion)."""
    out = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c != "$" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nx = s[i + 1]
        if nx == "$":  # escaped operator
            out.append("$")
            i += 2
        elif nx == "(":
            j = s.find(")", i + 2)
            if j < 0:  # incomplete reference: kept, scanning goes on after "$("
                out.append("$(")
                i += 2
                continue
            name = s[i + 2:j]
            out.append(defined[name] if name in defined else "$(" + name + ")")
            i = j + 1
        else:
            out.append("$" + nx)
            i += 2
    return "".join(out)


_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\[['\"]?(.*?)['\"]?\]$")


def field_ref(pod, path):
    """The downward API's fieldRef.fieldPath values."""
    meta = pod.get("metadata", {})
    spec = pod.get("spec", {})
    status = pod.get("status", {})
    m = _SUBSCRIPT.match(path)
    if m:
        return (meta.get(m.group(1)) or {}).get(m.group(2), "")
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", "default"),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.hostIP": status.get("hostIP", ""),
        "status.podIP": status.get("podIP", ""),
        "status.hostIPs": ",".join(a.get("ip", "") for a in status.get("hostIPs", [])),
        "status.podIPs": ",".join(a.get("ip", "") for a in status.get("podIPs", [])),
    }
    if path in simple:
        return simple[path]
    if path in ("metadata.labels", "metadata.annotations"):
        d = meta.get(path.split(".")[1]) or {}
        return "\n".join('%s="%s"' % (k, d[k]) for k in sorted(d))
    raise EnvError("unsupported fieldRef.fieldPath '%s'" % path)


_SUFFIX = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
           "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def quantity(q):
    m = re.match(r"^([0-9.]+)([a-zA-Z]*)$", str(q))
    if not m or m.group(2) not in _SUFFIX:
        raise EnvError("bad quantity '%s'" % q)
    return float(m.group(1)) * _SUFFIX[m.group(2)]


def resource_field_ref(container, ref):
    """resourceFieldRef: the limit (else the request; a missing limit would be
    the node's allocatable, which this model does not have), divided by the
    divisor and rounded up, like the kubelet."""
    res = ref.get("resource", "")
    kind, _, name = res.partition(".")
    r = container.get("resources", {})
    v = (r.get(kind) or {}).get(name)
    if v is None and kind == "limits":
        v = (r.get("requests") or {}).get(name)
    if v is None:
        raise EnvError("resourceFieldRef '%s': not set on the container (node allocatable not modelled)" % res)
    div = quantity(ref.get("divisor", "1"))
    return str(int(math.ceil(quantity(v) / div)))


def _source(kind, store, name, optional):
    if name in store:
        return store[name]
    if optional:
        return None
    raise EnvError("%s '%s' not found" % (kind, name))


def resolve_env(pod, container, secrets, configmaps):
    """[(name, value)] as the kubelet sets them for `container` of `pod`.

    secrets / configmaps: {name: {key: value}}. Each name appears once, at
    the place it was first defined, with its last value."""
    env = {}
    order = []

    def put(k, v):
        if k not in env:
            order.append(k)
        env[k] = v

    for src in container.get("envFrom") or []:
        prefix = src.get("prefix", "")
        if "configMapRef" in src:
            ref = src["configMapRef"]
            data = _source("configmap", configmaps, ref.get("name", ""), ref.get("optional", False))
        elif "secretRef" in src:
            ref = src["secretRef"]
            data = _source("secret", secrets, ref.get("name", ""), ref.get("optional", False))
        else:
            raise EnvError("envFrom entry with neither configMapRef nor secretRef")
        for k, v in (data or {}).items():
            put(prefix + k, v)

    for e in container.get("env") or []:
        name = e["name"]
        vf = e.get("valueFrom")
        if vf is None:
            put(name, expand(e.get("value", ""), env))
            continue
        if "fieldRef" in vf:
            put(name, field_ref(pod, vf["fieldRef"]["fieldPath"]))
        elif "resourceFieldRef" in vf:
            put(name, resource_field_ref(container, vf["resourceFieldRef"]))
        elif "secretKeyRef" in vf or "configMapKeyRef" in vf:
            kind = "secret" if "secretKeyRef" in vf else "configmap"
            ref = vf["secretKeyRef"] if kind == "secret" else vf["configMapKeyRef"]
            store = secrets if kind == "secret" else configmaps
            data = _source(kind, store, ref.get("name", ""), ref.get("optional", False))
            if data is None:
                continue
            if ref["key"] not in data:
                if ref.get("optional", False):
                    continue
                raise EnvError("%s '%s' has no key '%s' (env %s)" % (kind, ref.get("name"), ref["key"], name))
            put(name, data[ref["key"]])
        else:
            raise EnvError("env %s: unsupported valueFrom %s" % (name, sorted(vf)))
    return [(k, env[k]) for k in order]


def read_env_file(path):
    """KEY=VALUE lines (kubectl --from-env-file)."""
    d = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n").lstrip()
            if not line or line.startswith("#"):
                continue
            k, sep, v = line.partition("=")
            if not sep or not k:
                raise EnvError("%s:%d: not KEY=VALUE" % (path, n))
            d[k] = v
    return d


def find_container(pod, name):
    spec = pod.get("spec", {})
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        if c.get("name") == name:
            return c
    return None


def main(argv):
    args, cmd = argv, []
    if "--" in argv:
        i = argv.index("--")
        args, cmd = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(prog="podenv.py", description="The environment the kubelet gives a container.")
    p.add_argument("--pod", required=True, help="pod spec (JSON)")
    p.add_argument("--container", required=True)
    p.add_argument("--secret", action="append", default=[], metavar="NAME=FILE.env")
    p.add_argument("--configmap", action="append", default=[], metavar="NAME=FILE.env")
    p.add_argument("--print", action="store_true", help="print KEY=VALUE lines")
    o = p.parse_args(args)
    if o.print == bool(cmd):
        p.error("give exactly one of --print or -- CMD ARGS")
    try:
        with open(o.pod, encoding="utf-8") as f:
            pod = json.load(f)
        stores = {}
        for kind in ("secret", "configmap"):
            stores[kind] = {}
            for item in getattr(o, kind):
                name, sep, path = item.partition("=")
                if not sep or not name or not path:
                    p.error("--%s wants NAME=FILE.env, got '%s'" % (kind, item))
                stores[kind][name] = read_env_file(path)
        c = find_container(pod, o.container)
        if c is None:
            raise EnvError("no container '%s' in the pod" % o.container)
        env = resolve_env(pod, c, stores["secret"], stores["configmap"])
    except (OSError, ValueError, EnvError) as e:
        print("podenv: %s" % e, file=sys.stderr)
        return 1
    if o.print:
        for k, v in env:
            sys.stdout.write("%s=%s\n" % (k, v))
        return 0
    newenv = dict(env)
    try:
        os.execvpe(cmd[0], cmd, newenv)
    except OSError as e:
        print("podenv: cannot run '%s': %s" % (cmd[0], e), file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
