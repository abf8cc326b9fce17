#!/bin/sh
# restore's summary reaches `kubectl describe pod`: the webhook gives
# netvol-restore terminationMessagePolicy FallbackToLogsOnError, and netvol
# restore writes one line to the termination log (NETVOL_TERMINATION_LOG,
# default /dev/termination-log) when that file exists and is writable; it
# never creates it, and a run without one is unchanged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../webhook/lib.sh"

POD="$(dirname "$0")/../webhook/pod-comfyui.json"
"$WEBHOOK" --review "$POD" --restore-sync >"$T/patch.json" 2>/dev/null || fail "--review failed"
python3 - "$T/patch.json" <<'PY' || fail "netvol-restore lacks terminationMessagePolicy: $(cat "$T/patch.json")"
import json, sys
ops = json.load(open(sys.argv[1]))
ctrs = []
for o in ops:
    if o["path"].startswith("/spec/initContainers"):
        v = o["value"]
        ctrs += v if isinstance(v, list) else [v]
r = [c for c in ctrs if isinstance(c, dict) and c.get("name") == "netvol-restore"]
assert len(r) == 1 and r[0]["terminationMessagePolicy"] == "FallbackToLogsOnError", r
PY

export NETVOL_STORE="$(nv_store_url term)" POD_USER_NAME=tess NETVOL_DATASETS=venv
mkdir -p "$T/p"
: >"$T/termination-log"
assert_exit 0 env NETVOL_TERMINATION_LOG="$T/termination-log" NETWORK_VOLUME="$T/p" "$NETVOL" restore
line=$(cat "$T/termination-log")
assert_contains "$line" "netvol restore: 1 datasets, 0 failed, "
assert_eq "$(wc -l <"$T/termination-log" | tr -d ' ')" "1" "one line"
# a second run replaces the line, never appends
assert_exit 0 env NETVOL_TERMINATION_LOG="$T/termination-log" NETWORK_VOLUME="$T/p" "$NETVOL" restore
assert_eq "$(wc -l <"$T/termination-log" | tr -d ' ')" "1" "replaced, not appended"
# absent: not created, restore still exits 0
assert_exit 0 env NETVOL_TERMINATION_LOG="$T/none/termination-log" NETWORK_VOLUME="$T/p" "$NETVOL" restore
[ ! -e "$T/none" ] || fail "the termination log must not be created"
# not writable (a directory): ignored, exit 0
mkdir -p "$T/dir-log"
assert_exit 0 env NETVOL_TERMINATION_LOG="$T/dir-log" NETWORK_VOLUME="$T/p" "$NETVOL" restore
echo "t0570 ok"
