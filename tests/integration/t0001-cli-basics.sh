#!/bin/sh
# The CLI's contract: help and version exit 0, misuse exits 2.
. "$(dirname "$0")/lib.sh"

assert_exit 0 "$NETVOL" version
assert_contains "$OUT" "netvol 0."
assert_contains "$OUT" "zstd/"
assert_exit 0 "$NETVOL" --help
assert_contains "$OUT" "usage: netvol"
assert_exit 2 "$NETVOL"
assert_exit 2 "$NETVOL" no-such-verb
assert_contains "$OUT" "unknown verb 'no-such-verb'"
