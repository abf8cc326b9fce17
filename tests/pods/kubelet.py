"""A small kubelet over docker, for the pod harness (tests/pods/run.sh).

    spec = admit(pod, webhook_url, ca)       # the API server's admission step
    pod = Pod(spec, node)                    # node: Node (volumes, secrets)
    pod.start()                              # volumes, init containers, sidecars, app
    pod.exec("comfyui", [...])               # docker exec
    pod.stop()                               # preStop, SIGTERM, grace, sidecars last
    pod.logs("netvol-restore")

What it models, and what it does not, is written down in docs/DEPLOY.md
("Pods in CI"). Every container runs with --network host (the pod's network
is the host's loopback) or --network none; nothing gets another address.
"""
import base64
import json
import os
import random
import re
import shlex
import ssl
import string
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import jsonpatch

from podenv import expand, resolve_env

DOCKER = os.environ.get("NV_DOCKER", "/usr/bin/docker")


class PodFailed(Exception):
    """The pod could not start (an init container failed, a reference is missing)."""


def _suffix(n=5):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def review(pod, namespace):
    return {
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "operation": "CREATE", "namespace": namespace,
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": pod, "dryRun": False,
        },
    }


def admit(pod, url, ca, timeout_s=10, failure_policy="Ignore"):
    """The API server's mutating admission: POST an AdmissionReview to the
    webhook over TLS (verified against `ca`), apply the JSONPatch. With
    failurePolicy Ignore an unreachable or failing webhook leaves the pod as
    it is. Returns (pod, info) where info says what happened."""
    ns = pod.get("metadata", {}).get("namespace", "default")
    body = json.dumps(review(pod, ns)).encode()
    ctx = ssl.create_default_context(cafile=ca)
    req = urllib.request.Request(url.rstrip("/") + "/mutate", data=body,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s, context=ctx) as r:
            resp = json.load(r)["response"]
    except (OSError, urllib.error.URLError, ValueError, KeyError) as e:
        if failure_policy == "Ignore":
            return pod, {"result": "ignored", "error": str(e)}
        raise PodFailed("admission webhook failed: %s" % e)
    if not resp.get("allowed"):
        raise PodFailed("admission denied: %s" % resp.get("status"))
    info = {"result": "unchanged", "warnings": resp.get("warnings", [])}
    if resp.get("patch"):
        if resp.get("patchType") != "JSONPatch":
            raise PodFailed("patchType %s" % resp.get("patchType"))
        ops = json.loads(base64.b64decode(resp["patch"]))
        pod = jsonpatch.apply_patch(pod, ops)
        info.update(result="patched", ops=len(ops))
    return pod, info


class Node:
    """What the kubelet's node has: a folder for pod volumes, the
    PersistentVolumes (claim name -> host folder, shared by every pod that
    mounts the claim), the Secrets and ConfigMaps of the namespace, and the
    docker label that marks this run's containers."""

    def __init__(self, root, pvcs=None, secrets=None, configmaps=None, label="netvol-pods"):
        self.root = root
        self.pvcs = pvcs if pvcs is not None else {}
        self.secrets = secrets or {}
        self.configmaps = configmaps or {}
        self.label = label
        os.makedirs(root, exist_ok=True)


def docker(*args, check=True, timeout=None, capture=True):
    r = subprocess.run([DOCKER, *args], stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.STDOUT if capture else None, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise PodFailed("docker %s: exit %d: %s" % (" ".join(shlex.quote(a) for a in args[:3]),
                                                       r.returncode, (r.stdout or "").strip()[-2000:]))
    return r


class Pod:
    def __init__(self, spec, node, log=print):
        self.spec = json.loads(json.dumps(spec))
        self.node = node
        self.log = log
        meta = self.spec.setdefault("metadata", {})
        if not meta.get("name"):
            meta["name"] = meta.get("generateName", "pod-") + _suffix()
        meta.setdefault("namespace", "default")
        meta.setdefault("uid", str(uuid.uuid4()))
        self.name = meta["name"]
        self.dir = os.path.join(node.root, "pods", meta["uid"])
        self.volumes = {}       # name -> host folder
        self.running = []       # (container spec, docker name, sidecar?)
        self.events = []        # (monotonic time, what)
        self.init_results = {}  # name -> exit code
        self.prestop = {}       # container -> (exit code, output)
        self.exit_codes = {}    # container -> exit code after stop

    # ---- volumes -------------------------------------------------------
    def _event(self, what):
        self.events.append((time.monotonic(), what))
        self.log("pod %s: %s" % (self.name, what))

    def _setup_volumes(self):
        spec = self.spec.get("spec", {})
        fs_group = (spec.get("securityContext") or {}).get("fsGroup")
        for v in spec.get("volumes") or []:
            name = v["name"]
            if "emptyDir" in v:
                p = os.path.join(self.dir, "volumes", "empty-dir", name)
                os.makedirs(p)
                os.chmod(p, 0o777)  # the kubelet makes emptyDirs 0777
                if fs_group is not None:  # fsGroup: group-owned, setgid
                    os.chown(p, -1, int(fs_group))
                    os.chmod(p, 0o2777)
            elif "persistentVolumeClaim" in v:
                claim = v["persistentVolumeClaim"]["claimName"]
                if claim not in self.node.pvcs:
                    raise PodFailed("persistentvolumeclaim '%s' not found" % claim)
                p = self.node.pvcs[claim]
                os.makedirs(p, exist_ok=True)
            elif "hostPath" in v:
                p = v["hostPath"]["path"]
                if v["hostPath"].get("type") == "DirectoryOrCreate":
                    os.makedirs(p, exist_ok=True)
            elif "secret" in v or "configMap" in v:
                kind = "secret" if "secret" in v else "configMap"
                ref = v[kind]
                store = self.node.secrets if kind == "secret" else self.node.configmaps
                ref_name = ref.get("secretName") if kind == "secret" else ref.get("name")
                data = store.get(ref_name)
                if data is None and not ref.get("optional"):
                    raise PodFailed("%s '%s' not found (volume %s)" % (kind, ref_name, name))
                p = os.path.join(self.dir, "volumes", kind, name)
                os.makedirs(p)
                mode = ref.get("defaultMode", 0o644)
                for k, val in (data or {}).items():
                    with open(os.path.join(p, k), "w") as f:
                        f.write(val)
                    os.chmod(os.path.join(p, k), mode)
            else:
                raise PodFailed("volume %s: type %s not modelled" % (name, sorted(set(v) - {"name"})))
            self.volumes[name] = p

    def _mounts(self, c, env):
        args = []
        envd = dict(env)
        for m in c.get("volumeMounts") or []:
            if m["name"] not in self.volumes:
                raise PodFailed("container %s mounts unknown volume %s" % (c["name"], m["name"]))
            src = self.volumes[m["name"]]
            sub = m.get("subPath") or ""
            if m.get("subPathExpr"):
                # The kubelet refuses to start the container when a variable
                # of subPathExpr is undefined or empty (CreateContainerConfigError).
                missing = sorted({n for n in re.findall(r"(?<!\$)\$\(([^)]*)\)", m["subPathExpr"])
                                  if not envd.get(n)})
                if missing:
                    raise PodFailed("container %s: CreateContainerConfigError: subPathExpr '%s': missing value for %s"
                                    % (c["name"], m["subPathExpr"], ", ".join(missing)))
                sub = expand(m["subPathExpr"], envd)
            if sub:
                if os.path.isabs(sub) or ".." in sub.split("/"):
                    raise PodFailed("subPath '%s' must be relative, without '..'" % sub)
                root = src
                src = os.path.join(root, sub)
                if not os.path.lexists(src):
                    # The kubelet creates a missing subPath with the volume root's mode.
                    os.makedirs(src)
                    os.chmod(src, os.stat(root).st_mode & 0o7777)
            ro = ",readonly" if m.get("readOnly") else ""
            args += ["--mount", "type=bind,src=%s,dst=%s%s" % (src, m["mountPath"], ro)]
        return args

    # ---- containers ----------------------------------------------------
    def _docker_name(self, c):
        return "%s_%s_%s" % (self.name, c["name"], self.spec["metadata"]["uid"][:8])

    def _run_args(self, c, detach):
        try:
            env = resolve_env(self.spec, c, self.node.secrets, self.node.configmaps)
        except Exception as e:  # CreateContainerConfigError
            raise PodFailed("container %s: %s" % (c["name"], e))
        envd = dict(env)
        spec = self.spec.get("spec", {})
        psc = spec.get("securityContext") or {}
        csc = c.get("securityContext") or {}
        args = ["run", "--name", self._docker_name(c), "--label", self.node.label,
                "--network", "host" if not c.get("_networkNone") else "none",
                "--stop-timeout", "0"]
        if detach:
            args.append("--detach")
        uid = csc.get("runAsUser", psc.get("runAsUser"))
        gid = csc.get("runAsGroup", psc.get("runAsGroup"))
        # runAsUser alone: the primary group is the image's for that uid
        # (else 0), as with containerd's CRI; docker --user UID does the same.
        if uid is not None:
            args += ["--user", str(uid) if gid is None else "%d:%d" % (uid, gid)]
        elif gid is not None:
            raise PodFailed("runAsGroup without runAsUser: not modelled")
        groups = list(psc.get("supplementalGroups") or [])
        if psc.get("fsGroup") is not None:
            groups.append(psc["fsGroup"])
        for g in groups:
            args += ["--group-add", str(g)]
        if csc.get("readOnlyRootFilesystem"):
            args.append("--read-only")
        for k, v in env:
            args += ["--env", "%s=%s" % (k, v)]
        if c.get("workingDir"):
            args += ["--workdir", c["workingDir"]]
        args += self._mounts(c, env)
        # command replaces the image's ENTRYPOINT (and drops its CMD), args
        # replace CMD; both get $(VAR) expansion.
        cmd = [expand(a, envd) for a in c.get("command") or []]
        cargs = [expand(a, envd) for a in c.get("args") or []]
        if cmd:
            args += ["--entrypoint", cmd[0], c["image"]] + cmd[1:] + cargs
        else:
            args += [c["image"]] + cargs
        return args

    def start(self, init_timeout_s=300, before_app=None):
        """Volumes, then init containers in order (a native sidecar,
        restartPolicy Always, is started and kept running; the next one
        starts once it runs), then the app containers. before_app() runs
        between the two (the tests look at what the init containers left).
        Raises PodFailed."""
        self._event("scheduled")
        os.makedirs(self.dir)
        self._setup_volumes()
        spec = self.spec.get("spec", {})
        for c in spec.get("initContainers") or []:
            if c.get("restartPolicy") == "Always":
                docker(*self._run_args(c, detach=True))
                self.running.append((c, self._docker_name(c), True))
                self._wait_running(c)
                self._event("sidecar %s started" % c["name"])
                continue
            self._event("init %s started" % c["name"])
            try:
                r = docker(*self._run_args(c, detach=False), check=False, timeout=init_timeout_s)
            except subprocess.TimeoutExpired:
                docker("rm", "-f", self._docker_name(c), check=False)
                raise PodFailed("init container %s did not finish in %d s" % (c["name"], init_timeout_s))
            self.init_results[c["name"]] = r.returncode
            self._event("init %s exited %d" % (c["name"], r.returncode))
            if r.returncode != 0:
                # restartPolicy Never (this model): the pod fails (Init:Error).
                raise PodFailed("init container %s exited %d:\n%s" % (c["name"], r.returncode, r.stdout[-4000:]))
        if before_app:
            before_app()
        for c in spec.get("containers") or []:
            docker(*self._run_args(c, detach=True))
            self.running.append((c, self._docker_name(c), False))
            self._event("container %s started" % c["name"])

    def _wait_running(self, c, timeout_s=30):
        t = time.monotonic() + timeout_s
        while time.monotonic() < t:
            st = docker("inspect", "-f", "{{.State.Status}}", self._docker_name(c), check=False).stdout.strip()
            if st == "running":
                return
            if st in ("exited", "dead"):
                raise PodFailed("sidecar %s exited: %s" % (c["name"], self.logs(c["name"])[-2000:]))
            time.sleep(0.1)
        raise PodFailed("sidecar %s not running after %d s" % (c["name"], timeout_s))

    def wait_log(self, container, text, timeout_s=60):
        """Wait until the container's output holds `text` (PodFailed if it exits first)."""
        t = time.monotonic() + timeout_s
        name = self._name_of(container)
        while time.monotonic() < t:
            out = self.logs(container)
            if text in out:
                return out
            st = docker("inspect", "-f", "{{.State.Status}}", name, check=False).stdout.strip()
            if st in ("exited", "dead", ""):
                raise PodFailed("container %s stopped (%s) before logging %r:\n%s" % (container, st, text, out[-3000:]))
            time.sleep(0.1)
        raise PodFailed("container %s did not log %r in %d s" % (container, text, timeout_s))

    def _name_of(self, container):
        for c, n, _ in self.running:
            if c["name"] == container:
                return n
        for c in self.spec.get("spec", {}).get("initContainers") or []:
            if c["name"] == container:
                return self._docker_name(c)
        raise KeyError(container)

    def logs(self, container):
        return docker("logs", self._name_of(container), check=False).stdout or ""

    def exec(self, container, cmd, timeout_s=60, user=None):
        a = ["exec"] + (["--user", user] if user else []) + [self._name_of(container)] + cmd
        return docker(*a, check=False, timeout=timeout_s)

    def env_of(self, container):
        out = docker("inspect", "-f", "{{json .Config.Env}}", self._name_of(container)).stdout
        return dict(e.split("=", 1) for e in json.loads(out))

    # ---- termination ---------------------------------------------------
    def _terminate(self, c, name, deadline):
        """preStop exec (bounded by the grace period), then SIGTERM, then
        SIGKILL at the deadline (at least 2 s after a preStop hook, like the
        kubelet's minimum)."""
        hook = ((c.get("lifecycle") or {}).get("preStop") or {})
        if "exec" in hook:
            self._event("preStop %s started" % c["name"])
            left = max(deadline - time.monotonic(), 0)
            try:
                r = docker("exec", name, *hook["exec"]["command"], check=False, timeout=left)
                self.prestop[c["name"]] = (r.returncode, r.stdout)
            except subprocess.TimeoutExpired:
                self.prestop[c["name"]] = (None, "preStop hook killed after the grace period")
            self._event("preStop %s exited %s" % (c["name"], self.prestop[c["name"]][0]))
            deadline = max(deadline, time.monotonic() + 2)
        elif hook:
            raise PodFailed("preStop %s not modelled" % sorted(hook))
        left = max(int(deadline - time.monotonic() + 0.999), 0)
        self._event("SIGTERM %s (kill in %d s)" % (c["name"], left))
        docker("stop", "--time", str(left), name, check=False, timeout=left + 30)
        code = docker("inspect", "-f", "{{.State.ExitCode}}", name, check=False).stdout.strip()
        self.exit_codes[c["name"]] = int(code) if code.lstrip("-").isdigit() else None
        self._event("%s exited %s" % (c["name"], code))

    def stop(self):
        """Delete the pod: the app containers terminate in parallel, each
        with its preStop hook then SIGTERM within terminationGracePeriodSeconds;
        the native sidecars after them, in reverse order, with what is left."""
        grace = self.spec.get("spec", {}).get("terminationGracePeriodSeconds", 30)
        deadline = time.monotonic() + grace
        self._event("deleted (grace %d s)" % grace)
        apps = [(c, n) for c, n, side in self.running if not side]
        threads = [threading.Thread(target=self._terminate, args=(c, n, deadline)) for c, n in apps]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for c, n, side in reversed(self.running):
            if side:
                self._terminate(c, n, max(deadline, time.monotonic() + 2))

    def remove(self):
        for c in (self.spec.get("spec", {}).get("initContainers") or []) + \
                (self.spec.get("spec", {}).get("containers") or []):
            docker("rm", "-f", self._docker_name(c), check=False)
