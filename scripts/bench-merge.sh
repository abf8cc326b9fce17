#!/bin/sh
# Replace the section between <!-- bench:NAME --> markers of FILE with the
# content of PART (append the section if it is not there yet).
set -eu
file=$1 name=$2 part=$3
[ -f "$file" ] || printf '# Benchmarks\n\nEvery figure comes from the command named with it, on this project'"'"'s 2-core machine.\n' >"$file"
python3 - "$file" "$name" "$part" <<'PY'
import sys, re
f, name, part = sys.argv[1:]
text = open(f).read()
body = open(part).read().rstrip() + "\n"
start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
block = f"{start}\n{body}{end}\n"
if start in text and end in text:
    text = re.sub(re.escape(start) + ".*?" + re.escape(end) + "\n?", lambda m: block, text, flags=re.S)
else:
    text = text.rstrip() + "\n\n" + block
open(f, "w").write(text)
PY
