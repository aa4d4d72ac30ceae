#!/usr/bin/env bash
# Profiling helper for ferry's upload hot path (issue #4). Not part of the test suite.
#
#   bench/profile.sh [-m MIB] [-a GIB] [-S tree|head] [-k]
#
#   -m  size of the upload run under callgrind, MiB (default 64)
#   -a  size of the workload-A upload run under perf, GiB (default 1)
#   -S  "tree" (default: `make` in the work tree, gcc fallback, then HEAD) or "head"
#       (the committed HEAD, exported with git archive); FERRY_BIN=path overrides
#   -k  keep the work directory (callgrind.out files, perf.data)
#
# 1. perf stat -e task-clock,context-switches,cpu-migrations attached to the ferry process
#    during workload A (one 1 GiB PATCH), plus perf record (cpu-clock, call graphs) for the
#    top functions, kernel included; the same for workload D (64 KiB PATCHes, wrk 4x4, 5 s).
# 2. valgrind --tool=callgrind --trace-children=no on `ferry serve --workers 1`:
#    an idle baseline run (start, one POST, stop), a run with one MIB-MiB PATCH and a run with
#    256 PATCHes of 64 KiB on one connection. Prints user-space instructions per MiB ingested
#    and per 64 KiB request (baseline subtracted) - a stable number to compare optimisations -
#    and the top functions by self cost. Instruction counts exclude the kernel (copies in
#    recv/pwrite), which perf shows.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CG_MIB=64
A_GIB=1
SOURCE=tree
KEEP=0
while getopts "m:a:S:kh" o; do
    case $o in
    m) CG_MIB=$OPTARG ;;
    a) A_GIB=$OPTARG ;;
    S) SOURCE=$OPTARG ;;
    k) KEEP=1 ;;
    h) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) exit 2 ;;
    esac
done
[[ $CG_MIB =~ ^[0-9]+$ && $A_GIB =~ ^[0-9]+$ ]] || { echo "sizes must be numbers" >&2; exit 2; }

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }
declare -a STARTED=()
WORK=""
cleanup() {
    local rc=$? p
    set +e
    for p in "${STARTED[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${STARTED[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$p" 2>/dev/null
    done
    if [[ -n $WORK && -d $WORK ]]; then
        if ((KEEP)); then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for c in perf valgrind callgrind_annotate wrk curl gcc; do
    command -v "$c" >/dev/null || NEED="${NEED:-} $c"
done
if [[ -n ${NEED:-} ]]; then
    log "installing:${NEED}"
    pk=()
    for c in $NEED; do
        case $c in
        perf) pk+=(linux-perf) ;;
        valgrind | callgrind_annotate) pk+=(valgrind) ;;
        *) pk+=("$c") ;;
        esac
    done
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pk[@]}" >/dev/null
fi

WORK=$(mktemp -d "${FERRY_BENCH_DIR:-/var/tmp}/ferry-profile.XXXXXX")
mkdir -p "$WORK/logs"

# ---- build (same order as bench/run.sh)
gcc_ferry() {
    local libs=(-ljansson -lcrypto -lpthread)
    [[ -e /usr/include/zlib.h ]] && libs+=(-lz)
    (cd "$1" && gcc -std=c17 -D_GNU_SOURCE -DFERRY_VERSION='"0.1.0"' -O2 -g -Isrc $([[ -d include ]] && echo -Iinclude) \
        $(ls src/*/*.c src/store/local/*.c | grep -v '^src/client\|^src/cli') "${libs[@]}" -o "$2") >>"$WORK/logs/build.log" 2>&1
}
FERRY="$WORK/fy-srv" # not named ferry: other sessions clean up with `pkill ferry`
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
HOW=""
if [[ -n ${FERRY_BIN:-} ]]; then
    cp "$FERRY_BIN" "$FERRY" && HOW="FERRY_BIN=$FERRY_BIN"
elif [[ $SOURCE == tree ]]; then
    if (cd "$ROOT" && timeout 600 make >"$WORK/logs/build.log" 2>&1) && [[ -x $ROOT/build/ferry ]]; then
        cp "$ROOT/build/ferry" "$FERRY" && HOW="work tree at $rev, make"
    elif gcc_ferry "$ROOT" "$FERRY"; then
        HOW="work tree at $rev, gcc -O2 -g"
    else
        log "warning: the work tree does not build; profiling the committed HEAD"
    fi
fi
if [[ -z $HOW ]]; then
    mkdir -p "$WORK/src"
    git -C "$ROOT" archive HEAD | tar -x -C "$WORK/src"
    if (cd "$WORK/src" && meson setup build --buildtype=debugoptimized -Dwerror=false >>"$WORK/logs/build.log" 2>&1 &&
        ninja -C build ferry >>"$WORK/logs/build.log" 2>&1); then
        cp "$WORK/src/build/ferry" "$FERRY" && HOW="committed HEAD $rev, meson debugoptimized"
    elif gcc_ferry "$WORK/src" "$FERRY"; then
        HOW="committed HEAD $rev, gcc -O2 -g"
    else
        tail -20 "$WORK/logs/build.log" >&2
        die "cannot build ferry"
    fi
fi
log "ferry: $HOW"

MiB=$((1024 * 1024))
head -c $((A_GIB * 1024 * MiB)) /dev/urandom >"$WORK/a.bin"
head -c $((CG_MIB * MiB)) "$WORK/a.bin" >"$WORK/cg.bin"
head -c 65536 "$WORK/a.bin" >"$WORK/d.bin"

# start_ferry NAME PREFIX... : runs ferry (optionally under a wrapper), sets FPID, FURL
start_ferry() {
    local name=$1
    shift
    rm -rf "$WORK/data-$name"
    mkdir -p "$WORK/data-$name"
    "$@" "$FERRY" serve --listen 127.0.0.1:0 --data "$WORK/data-$name" --workers 1 >"$WORK/logs/$name.log" 2>&1 &
    FPID=$!
    STARTED+=("$FPID")
    FURL=""
    for _ in $(seq 1 600); do
        FURL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/files/' "$WORK/logs/$name.log" 2>/dev/null | head -1 || true)
        [[ -n $FURL ]] && break
        kill -0 "$FPID" 2>/dev/null || break
        sleep 0.1
    done
    [[ -n $FURL ]] || { cat "$WORK/logs/$name.log" >&2; die "ferry ($name) did not start"; }
    sleep 0.2
}
stop_ferry() {
    kill -TERM "$FPID" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$FPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$FPID" 2>/dev/null || true
    wait "$FPID" 2>/dev/null || true
}
create() { # create LENGTH -> location
    curl -sS --max-time 60 -X POST -H 'Tus-Resumable: 1.0.0' -H "Upload-Length: $1" -o /dev/null -w '%header{location}' "$FURL"
}
patch_file() { # patch_file LOCATION FILE OFFSET -> http code
    curl -sS --max-time 600 -X PATCH -T "$2" -H 'Expect:' -H 'Tus-Resumable: 1.0.0' -H "Upload-Offset: $3" \
        -H 'Content-Type: application/offset+octet-stream' -o /dev/null -w '%{http_code}' "$1"
}
small_patches() { # small_patches LOCATION COUNT: COUNT x 64 KiB PATCHes on one keep-alive connection
    local cfg="$WORK/d.cfg" i
    : >"$cfg"
    for ((i = 0; i < $2; i++)); do
        ((i)) && echo next >>"$cfg"
        printf 'url = "%s"\nrequest = "PATCH"\nupload-file = "%s"\nheader = "Tus-Resumable: 1.0.0"\nheader = "Upload-Offset: %d"\nheader = "Content-Type: application/offset+octet-stream"\nheader = "Expect:"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
            "$1" "$WORK/d.bin" $((i * 65536)) >>"$cfg"
    done
    curl -sS --max-time 600 -K "$cfg" | grep -c '^204$' || true
}

# ---------------------------------------------------------------- 1. perf on A and D
PERF_OK=1
perf stat -e task-clock -- true >/dev/null 2>&1 || { PERF_OK=0; log "perf is not usable here; skipping part 1"; }
echo "# ferry profile — $(date -u '+%Y-%m-%d %H:%M UTC') — $HOW"
echo "# machine: $(nproc) CPUs, $(uname -sr)"
perf_pair() { # perf_pair NAME CMD...: runs CMD twice against the server: once under perf stat, once under perf record
    local name=$1 ps pr
    shift
    perf stat -e task-clock,context-switches,cpu-migrations -p "$FPID" -o "$WORK/perf-$name.stat" &
    ps=$!
    STARTED+=("$ps")
    sleep 0.3
    t0=$EPOCHREALTIME
    RES=$("$@")
    t1=$EPOCHREALTIME
    kill -INT "$ps" 2>/dev/null || true
    wait "$ps" 2>/dev/null || true
    perf record -q -e cpu-clock -F 999 -g -p "$FPID" -o "$WORK/perf-$name.data" >/dev/null 2>&1 &
    pr=$!
    STARTED+=("$pr")
    sleep 0.3
    "$@" >/dev/null
    kill -INT "$pr" 2>/dev/null || true
    wait "$pr" 2>/dev/null || true
}
perf_top() { # perf_top NAME: top symbols (self) and DSOs
    echo "### top functions (self, cpu-clock samples, kernel included; from a second, perf-record run)"
    perf report -i "$WORK/perf-$1.data" --stdio --no-children --sort dso,symbol -g none --percent-limit 0.7 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -25 | sed 's/ *$//; s/^/    /' || true
    echo "### where it goes: inclusive share of the system calls (children included)"
    perf report -i "$WORK/perf-$1.data" --stdio --children --sort symbol -g none 2>/dev/null |
        grep -E '^ +[0-9.]+% +[0-9.]+% ' | grep -E '\] +(__x64_sys_[a-z_0-9]+|handle_softirqs|ret_from_fork[a-z_]*|wb_workfn|start_thread|epoll_wait) ' |
        head -14 | sed 's/ *$//; s/^/    /' || true
}
a_upload() { # one A_GIB PATCH on a fresh upload; prints the HTTP code
    local loc
    loc=$(create $((A_GIB * 1024 * MiB)))
    patch_file "$loc" "$WORK/a.bin" 0
}
d_wrk() {
    timeout 40 wrk -t4 -c4 -d5s --timeout 10s -s "$HERE/wl-d.lua" "$FURL" -- tus 2>&1 | grep '^WLD' || echo 'wrk failed'
}
if ((PERF_OK)); then
    sync
    start_ferry perf env # default worker count, as in bench/run.sh
    perf_pair a a_upload
    echo
    echo "## perf, workload A (one ${A_GIB} GiB PATCH, default workers): HTTP $RES, $(awk -v a="$t0" -v b="$t1" -v g="$A_GIB" 'BEGIN { printf "%.0f MiB/s", g * 1024 / (b - a) }')"
    grep -E 'task-clock|context-switches|cpu-migrations|elapsed' "$WORK/perf-a.stat" | sed 's/ *$//; s/^/    /'
    awk -v g="$A_GIB" '/task-clock/ { gsub(",", "", $1); printf "    => %.3f CPU-s per GiB (task-clock of the whole server while the upload ran)\n", $1 / 1000 / g }' "$WORK/perf-a.stat"
    perf_top a
    find "$WORK/data-perf" -type f -delete
    perf_pair d d_wrk
    echo
    echo "## perf, workload D (wrk -t4 -c4 -d5s, 64 KiB PATCHes): $RES"
    grep -E 'task-clock|context-switches|cpu-migrations' "$WORK/perf-d.stat" | sed 's/ *$//; s/^/    /'
    perf_top d
    stop_ferry
fi

# ---------------------------------------------------------------- 2. callgrind, --workers 1
VG=(valgrind --tool=callgrind --trace-children=no --error-exitcode=0)
cg_total() { # total Ir of a callgrind.out file
    awk '/^(summary|totals):/ { print $2; exit }' "$1"
}
cg_run() { # cg_run NAME: starts ferry under callgrind; caller drives, then cg_stop
    start_ferry "$1" "${VG[@]}" --callgrind-out-file="$WORK/cg-$1.out"
}
echo
echo "## callgrind (user space only, ferry --workers 1)"
cg_run idle
loc=$(create 1)
stop_ferry
I0=$(cg_total "$WORK/cg-idle.out")

cg_run big
loc=$(create $((CG_MIB * MiB)))
code=$(patch_file "$loc" "$WORK/cg.bin" 0)
stop_ferry
I1=$(cg_total "$WORK/cg-big.out")

N_SMALL=256
cg_run small
loc=$(create $((N_SMALL * 65536)))
ok=$(small_patches "$loc" "$N_SMALL")
stop_ferry
I2=$(cg_total "$WORK/cg-small.out")

awk -v i0="$I0" -v i1="$I1" -v i2="$I2" -v m="$CG_MIB" -v n="$N_SMALL" -v code="$code" -v ok="$ok" 'BEGIN {
    printf "    baseline (start, 1 POST, stop):      %14.0f Ir\n", i0
    printf "    one %d MiB PATCH (HTTP %s):          %14.0f Ir\n", m, code, i1
    printf "    %d x 64 KiB PATCHes (%d x 204):     %14.0f Ir\n", n, ok, i2
    printf "    => %.0f instructions per MiB ingested (one big PATCH)\n", (i1 - i0) / m
    printf "    => %.0f instructions per 64 KiB PATCH request (%.0f per MiB)\n", (i2 - i0) / n, (i2 - i0) / n * 16
}'
echo "### top functions, one ${CG_MIB} MiB PATCH (self Ir; whole run incl. startup, dynamic linker hidden)"
callgrind_annotate --inclusive=no "$WORK/cg-big.out" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | grep -v 'ld-linux\|/elf/' | head -15 | sed 's/^/    /' || true
echo "### top functions, ${N_SMALL} x 64 KiB PATCHes (self Ir)"
callgrind_annotate --inclusive=no "$WORK/cg-small.out" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | grep -v 'ld-linux\|/elf/' | head -20 | sed 's/^/    /' || true
echo "### inclusive, ${N_SMALL} x 64 KiB PATCHes"
callgrind_annotate --inclusive=yes "$WORK/cg-small.out" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | grep -v 'ld-linux\|/elf/' | head -20 | sed 's/^/    /' || true
