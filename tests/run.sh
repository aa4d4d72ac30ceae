#!/usr/bin/env bash
# The whole suite: unit tests and fuzz-corpus replays, then the integration tests against the real
# server, once on the normal build and once on an AddressSanitizer+UBSan build.
# Ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
passed=0
failed=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

count_meson() { # build dir, label
    local out="$log/meson-$2.txt"
    meson test -C "$1" --print-errorlogs >"$out" 2>&1
    local rc=$?
    cat "$out"
    # Count the cmocka cases inside each unit-test binary, and each fuzz replay as one test.
    local tl="$1/meson-logs/testlog.txt" ok fail replays
    ok=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$tl" | awk '{s+=$1} END {print s+0}')
    fail=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$tl" | awk '{s+=$1} END {print s+0}')
    replays=$(grep -c '^replayed [0-9]* inputs' "$tl")
    passed=$((passed + ok + replays))
    failed=$((failed + fail))
    # A crash, timeout or non-cmocka failure still counts as a failure.
    [ "$rc" = 0 ] || [ "$fail" != 0 ] || failed=$((failed + 1))
}

count_node() { # label, env...
    local label=$1; shift
    local out="$log/node-$label.txt"
    (cd tests/integration && env "$@" node --test --test-concurrency=2 --test-reporter=spec *.test.mjs) >"$out" 2>&1
    local rc=$?
    cat "$out"
    local ok fail
    ok=$(sed -n 's/^ℹ pass \([0-9]*\)/\1/p' "$out" | tail -1)
    fail=$(sed -n 's/^ℹ fail \([0-9]*\)/\1/p' "$out" | tail -1)
    passed=$((passed + ${ok:-0}))
    failed=$((failed + ${fail:-0}))
    [ "$rc" = 0 ] || [ "${fail:-0}" != 0 ] || failed=$((failed + 1))
}

# The slowloris test holds thousands of sockets in one process.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "== build"
make -s all || { echo "0 passed, 1 failed"; exit 1; }
make -s asan || { echo "0 passed, 1 failed"; exit 1; }

echo "== unit tests and fuzz corpus replay (normal build)"
count_meson build normal
echo "== unit tests and fuzz corpus replay (ASan+UBSan build)"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 count_meson build-asan asan

echo "== integration tests (normal build)"
count_node normal FERRY_BIN="$root/build/ferry" FAULTPROXY_BIN="$root/build/faultproxy"
echo "== integration tests (ASan+UBSan build)"
count_node asan FERRY_BIN="$root/build-asan/ferry" FAULTPROXY_BIN="$root/build-asan/faultproxy" \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    FERRY_TEST_SANITIZED=1

echo
echo "${passed} passed, ${failed} failed"
[ "$failed" = 0 ]
