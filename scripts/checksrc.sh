#!/bin/sh
# Refuse functions that have no place in netvol (curl's checksrc idea):
# unbounded string functions and number parsers without error checks.
set -eu
cd "$(dirname "$0")/.."
files=$(git ls-files 'common/*.[ch]' 'init/*.[ch]' 'webhook/*.[ch]' 2>/dev/null || true)
[ -n "$files" ] || files=$(find common init webhook -name '*.[ch]')
bad=$(grep -nE '(^|[^A-Za-z0-9_])(sprintf|vsprintf|strcpy|strcat|strncpy|strncat|strtok|atoi|atol|atoll|sscanf|gets)[[:space:]]*\(' $files || true)
if [ -n "$bad" ]; then
	echo "checksrc: banned functions (use nv_buf, snprintf, strtoull with checks):" >&2
	echo "$bad" >&2
	exit 1
fi
echo "checksrc: ok"
