#!/bin/sh
# The layout is .clang-format's; `make format` fixes what this reports.
set -eu
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "checkformat: clang-format missing" >&2; exit 1; }
files=$(git ls-files 'common/*.[ch]' 'init/*.[ch]' 'webhook/*.[ch]' 'tests/*.[ch]' 2>/dev/null || true)
[ -n "$files" ] || exit 0
clang-format --dry-run -Werror $files
echo "checkformat: ok"
