"""Table tests of tests/pods/podenv.py (no docker): the kubelet's env rules
and the CLI. Prints ok/FAIL lines; exit 1 on a failure."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from podenv import EnvError, expand, resolve_env  # noqa: E402

fails = 0


def check(name, got, want):
    global fails
    if got == want:
        print("ok   podenv: %s" % name)
    else:
        fails += 1
        print("FAIL podenv: %s\n     got  %r\n     want %r" % (name, got, want))


D = {"A": "a", "EMPTY": ""}
for s, want in [
    ("$(A)", "a"), ("x$(A)y", "xay"), ("$(B)", "$(B)"), ("$$(A)", "$(A)"), ("$$$(A)", "$a"),
    ("$(A", "$(A"), ("$", "$"), ("a$", "a$"), ("$x", "$x"), ("$(EMPTY)z", "z"), ("$()", "$()"),
    ("$(A)$(A)", "aa"), ("$(A)(", "a("),
]:
    check("expand %r" % s, expand(s, D), want)

POD = {"metadata": {"name": "p-1", "namespace": "ns", "uid": "u-1", "labels": {"user": "alice"},
                    "annotations": {"a/b": "c"}},
       "spec": {"serviceAccountName": "sa"}}
SECRETS = {"store": {"NETVOL_STORE": "s3://b/p", "AWS_REGION": "eu"}}
CMS = {"cm": {"MODE": "fast", "AWS_REGION": "us"}}
C = {"name": "c",
     "resources": {"limits": {"memory": "1Gi", "cpu": "1500m"}},
     "envFrom": [{"secretRef": {"name": "store"}}, {"configMapRef": {"name": "cm"}, "prefix": "CM_"},
                 {"configMapRef": {"name": "nope", "optional": True}}],
     "env": [
         {"name": "LATER_REF", "value": "$(ROOT)/x"},
         {"name": "ROOT", "value": "/workspace"},
         {"name": "SUB", "value": "$(ROOT)/venv $(NETVOL_STORE) $(CM_MODE)"},
         {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
         {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
         {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
         {"name": "USER", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['user']"}}},
         {"name": "ANN", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['a/b']"}}},
         {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
         {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
         {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
         {"name": "REGION", "valueFrom": {"secretKeyRef": {"name": "store", "key": "AWS_REGION"}}},
         {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "store", "key": "nokey", "optional": True}}},
         {"name": "FROMREF", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "MODE"}}},
         {"name": "AWS_REGION", "value": "override"},
         {"name": "NOEXP", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "MODE"}}},
     ]}
env = resolve_env(POD, C, SECRETS, CMS)
check("order: envFrom first, then env; duplicates keep their first place", [k for k, _ in env][:4],
      ["NETVOL_STORE", "AWS_REGION", "CM_MODE", "CM_AWS_REGION"])
d = dict(env)
check("a reference to a later variable stays as written", d["LATER_REF"], "$(ROOT)/x")
check("expansion against envFrom and earlier env", d["SUB"], "/workspace/venv s3://b/p fast")
check("fieldRefs", [d[k] for k in ("NAME", "NS", "UID", "USER", "ANN", "SA")],
      ["p-1", "ns", "u-1", "alice", "c", "sa"])
check("resourceFieldRef with divisor, cpu rounded up", (d["MEM"], d["CPU"]), ("1024", "2"))
check("secretKeyRef, configMapKeyRef", (d["REGION"], d["FROMREF"]), ("eu", "fast"))
check("optional missing key: variable left out", "OPT" in d, False)
check("env overrides envFrom", d["AWS_REGION"], "override")
for name, cont in [
    ("missing secret", {"name": "x", "envFrom": [{"secretRef": {"name": "gone"}}]}),
    ("missing key", {"name": "x", "env": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "store", "key": "k"}}}]}),
    ("unknown fieldPath", {"name": "x", "env": [{"name": "K", "valueFrom": {"fieldRef": {"fieldPath": "spec.nope"}}}]}),
]:
    try:
        resolve_env(POD, cont, SECRETS, CMS)
        check(name + " is an error", "no error", "EnvError")
    except EnvError:
        check(name + " is an error", "EnvError", "EnvError")

# The CLI: --print and -- CMD (env -i style).
with tempfile.TemporaryDirectory() as t:
    pod = dict(POD, spec={"containers": [{"name": "app", "envFrom": [{"secretRef": {"name": "store"}}],
                                          "env": [{"name": "PATH", "value": "/usr/bin:/bin"},
                                                  {"name": "X", "value": "$(NETVOL_STORE)!"}]}]})
    with open(os.path.join(t, "pod.json"), "w") as f:
        json.dump(pod, f)
    with open(os.path.join(t, "s.env"), "w") as f:
        f.write("# comment\n\nNETVOL_STORE=s3://b/p=q\n")
    me = os.path.join(os.path.dirname(os.path.abspath(__file__)), "podenv.py")
    base = [sys.executable, me, "--pod", os.path.join(t, "pod.json"), "--container", "app",
            "--secret", "store=" + os.path.join(t, "s.env")]
    r = subprocess.run(base + ["--print"], capture_output=True, text=True)
    check("CLI --print", (r.returncode, r.stdout), (0, "NETVOL_STORE=s3://b/p=q\nPATH=/usr/bin:/bin\nX=s3://b/p=q!\n"))
    r = subprocess.run(base + ["--", "env"], capture_output=True, text=True, env={"LEAK": "1"})
    check("CLI -- env: exactly that environment", sorted(r.stdout.splitlines()),
          ["NETVOL_STORE=s3://b/p=q", "PATH=/usr/bin:/bin", "X=s3://b/p=q!"])
    r = subprocess.run(base[:5] + ["nope", "--print"], capture_output=True, text=True)
    check("CLI: unknown container exits 1", r.returncode, 1)
    r = subprocess.run(base, capture_output=True, text=True)
    check("CLI: neither --print nor CMD exits 2", r.returncode, 2)

sys.exit(1 if fails else 0)
