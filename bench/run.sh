#!/usr/bin/env bash
# ferry benchmark suite (issue #4). Not part of the test suite.
#
#   bench/run.sh [-n ROUNDS] [-w "A B C D E F"] [-e E_ROUNDS] [-f F_ROUNDS] [-F F_GIB]
#                [-s "ferry nginx tus-node sink"] [-S tree|head] [-q] [-k]
#
#   -n  measured rounds for A-D (default 5; one more warm-up round runs first and is dropped)
#   -w  workloads to run (default "A B C D E F"; see bench/README.md)
#   -e  rounds for E (default 2), -f rounds for F (default 1); E and F have no warm-up round
#       (E's "alone" upload warms each server first)
#   -F  size of the F upload in GiB (default 20; scaled down with a warning if the disk is short)
#   -s  servers to compare (default: all four); dd rows are added to A and B
#   -S  ferry source: "tree" (default: `make` in the work tree, falling back to gcc, then to
#       HEAD) or "head" (the committed HEAD, exported with git archive); FERRY_BIN=path overrides
#   -q  quick smoke run with small sizes (checks the harness, numbers mean nothing)
#   -k  keep the work directory (data, logs, raw samples) instead of deleting it
#
# Installs what is missing (apt: nginx-light wrk curl time; npm ci in bench/), builds ferry
# (make, or the gcc fallback) and bench/sink.c into a private work dir, starts every server
# itself on 127.0.0.1 with a free port, runs each workload interleaved across servers
# (ferry nginx tus-node sink ferry nginx ...), and writes bench/results/<date>.md plus the
# raw numbers (<date>.tsv) and prints the table. Work dir: $FERRY_BENCH_DIR (default /var/tmp).
set -euo pipefail
shopt -s lastpipe # F: `head -c N /dev/zero | single_upload ...` must set R_* in this shell

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

ROUNDS=5
WORKLOADS="A B C D E F"
E_ROUNDS=2
F_ROUNDS=1
F_GIB=20
SERVERS="ferry nginx tus-node sink"
QUICK=0
KEEP=0
SOURCE=tree
usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; }
while getopts "n:w:e:f:F:s:S:qkh" o; do
    case $o in
    n) ROUNDS=$OPTARG ;;
    w) WORKLOADS=$OPTARG ;;
    e) E_ROUNDS=$OPTARG ;;
    f) F_ROUNDS=$OPTARG ;;
    F) F_GIB=$OPTARG ;;
    s) SERVERS=$OPTARG ;;
    S) SOURCE=$OPTARG ;;
    q) QUICK=1 ;;
    k) KEEP=1 ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
for v in "$ROUNDS" "$E_ROUNDS" "$F_ROUNDS" "$F_GIB"; do
    [[ $v =~ ^[0-9]+$ ]] || { echo "not a number: $v" >&2; exit 2; }
done

MiB=$((1024 * 1024))
GiB=$((1024 * MiB))
# sizes (the -q smoke run shrinks them)
A_BYTES=$GiB           # A: one upload, one request
B_CHUNK=$((8 * MiB))   # B: 128 requests of 8 MiB
B_COUNT=128
C_EACH=$((16 * MiB))   # C: 64 uploads of 16 MiB at once
C_COUNT=64
D_SECS=5               # D: wrk -t4 -c4 -d5s, 64 KiB PATCHes
E_CONNS=2000           # E: 2000 trickling connections at 1 KiB/s for 20 s
E_SECS=20
PREWARM_MIB=1536
if ((QUICK)); then
    A_BYTES=$((64 * MiB)); B_CHUNK=$((512 * 1024)); C_EACH=$MiB; D_SECS=1
    E_CONNS=200; E_SECS=3; F_GIB=1; PREWARM_MIB=64
fi
F_BYTES=$((F_GIB * GiB))

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- cleanup of everything started
declare -a STARTED=()      # pids of servers and background helpers we started
WORK=""
cleanup() {
    local rc=$?
    set +e
    local p
    for p in "${STARTED[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in "${STARTED[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
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
forget() { # forget PID: drop it from STARTED after it has been stopped
    local p out=()
    for p in "${STARTED[@]}"; do [[ $p == "$1" ]] || out+=("$p"); done
    STARTED=("${out[@]}")
}

# ---------------------------------------------------------------- dependencies
install_deps() {
    local need=()
    command -v nginx >/dev/null || need+=(nginx-light)
    command -v wrk >/dev/null || need+=(wrk)
    command -v curl >/dev/null || need+=(curl)
    [[ -x /usr/bin/time ]] || need+=(time)
    command -v node >/dev/null || need+=(nodejs)
    command -v npm >/dev/null || need+=(npm)
    command -v gcc >/dev/null || need+=(gcc)
    if ((${#need[@]})); then
        log "installing: ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
    if [[ ! -f $HERE/node_modules/@tus/server/package.json || ! -f $HERE/node_modules/@tus/file-store/package.json ||
        $HERE/package-lock.json -nt $HERE/node_modules/.package-lock.json ]]; then
        log "npm ci in bench/"
        (cd "$HERE" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi
}

gcc_ferry() { # gcc_ferry SRCDIR OUT: the fallback build (-O2 -g, like meson's debugoptimized)
    local libs=(-ljansson -lcrypto -lpthread)
    [[ -e /usr/include/zlib.h ]] && libs+=(-lz)
    (cd "$1" && gcc -std=c17 -D_GNU_SOURCE -DFERRY_VERSION='"0.1.0"' -O2 -g -Isrc $([[ -d include ]] && echo -Iinclude) \
        $(ls src/*/*.c src/store/local/*.c | grep -v '^src/client\|^src/cli') "${libs[@]}" -o "$2") >>"$WORK/logs/build.log" 2>&1
}
# The copy under test is named fy-srv, not ferry: other sessions on a shared machine clean up
# with `pkill ferry`, which killed the server mid-run once (it is restarted, but loses a round).
FERRY=""
build() { # FERRY_BIN=path uses that binary; -S head builds the committed HEAD instead of the work tree
    mkdir -p "$WORK/bin"
    FERRY="$WORK/bin/fy-srv"
    local how="" rev
    rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
    if [[ -n ${FERRY_BIN:-} ]]; then
        cp "$FERRY_BIN" "$FERRY" || die "FERRY_BIN=$FERRY_BIN not usable"
        how="FERRY_BIN=$FERRY_BIN"
    fi
    if [[ -z $how && $SOURCE == tree ]]; then
        if (cd "$ROOT" && timeout 600 make >"$WORK/logs/build.log" 2>&1) && [[ -x $ROOT/build/ferry ]]; then
            cp "$ROOT/build/ferry" "$FERRY"
            how="work tree at $rev$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes'), make (meson debugoptimized)"
        elif gcc_ferry "$ROOT" "$FERRY"; then
            how="work tree at $rev$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes'), gcc -O2 -g fallback"
        else
            log "warning: the work tree does not build (others mid-edit?); building the committed HEAD instead"
            tail -5 "$WORK/logs/build.log" >&2 || true
        fi
    fi
    if [[ -z $how ]]; then # committed HEAD, exported into the work dir (the tree is not touched)
        mkdir -p "$WORK/src"
        git -C "$ROOT" archive HEAD | tar -x -C "$WORK/src" || die "git archive failed"
        if (cd "$WORK/src" && timeout 600 meson setup "$WORK/src/build" --buildtype=debugoptimized -Dwerror=false >>"$WORK/logs/build.log" 2>&1 &&
            timeout 600 ninja -C "$WORK/src/build" ferry >>"$WORK/logs/build.log" 2>&1) && [[ -x $WORK/src/build/ferry ]]; then
            cp "$WORK/src/build/ferry" "$FERRY"
            how="committed HEAD $rev, meson debugoptimized"
        elif gcc_ferry "$WORK/src" "$FERRY"; then
            how="committed HEAD $rev, gcc -O2 -g"
        else
            tail -20 "$WORK/logs/build.log" >&2
            die "cannot build ferry"
        fi
    fi
    gcc -O2 -Wall -o "$WORK/bin/sink" "$HERE/sink.c" -lpthread || die "cannot build bench/sink.c"
    FERRY_BUILD=$how
    log "ferry: $FERRY_BUILD"
}

# ---------------------------------------------------------------- process tree, RSS, CPU
tree_pids() { # tree_pids PID: PID and all its descendants
    local queue=("$1") out=() p c
    while ((${#queue[@]})); do
        p=${queue[0]}
        queue=("${queue[@]:1}")
        [[ -d /proc/$p ]] || continue
        out+=("$p")
        for c in $(pgrep -P "$p" 2>/dev/null || true); do queue+=("$c"); done
    done
    echo "${out[*]}"
}
cpu_ticks() { # sum of utime+stime+cutime+cstime over the given pids (clock ticks)
    local sum=0 p line rest f
    for p in "$@"; do
        read -r line <"/proc/$p/stat" 2>/dev/null || continue
        rest=${line##*) }
        read -ra f <<<"$rest"
        sum=$((sum + f[11] + f[12] + f[13] + f[14]))
    done
    echo "$sum"
}
status_sum() { # status_sum FIELD PIDS...: sum of a /proc/PID/status kB field
    local field=$1 sum=0 p k v _
    shift
    for p in "$@"; do
        while read -r k v _; do
            if [[ $k == "$field:" ]]; then sum=$((sum + v)); break; fi
        done <"/proc/$p/status" 2>/dev/null || true
    done
    echo "$sum"
}
reset_hwm() { local p; for p in "$@"; do echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true; done; }
SAMPLER=""
start_sampler() { # start_sampler OUTFILE PIDS...: VmRSS sum every 0.1 s
    local out=$1
    shift
    : >"$out"
    (
        set +e
        for _ in $(seq 1 36000); do # bounded: 1 hour
            printf '%s %s\n' "$EPOCHREALTIME" "$(status_sum VmRSS "$@")" >>"$out"
            sleep 0.1
        done
    ) &
    SAMPLER=$!
    STARTED+=("$SAMPLER")
}
stop_sampler() {
    [[ -n $SAMPLER ]] || return 0
    kill "$SAMPLER" 2>/dev/null || true
    wait "$SAMPLER" 2>/dev/null || true
    forget "$SAMPLER"
    SAMPLER=""
}

# ---------------------------------------------------------------- servers
pick_port() { # a port below the ephemeral range (client sockets cannot hold it) with no listener
    local p lo=32768
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    ((lo > 12000)) || lo=61000
    for _ in $(seq 1 100); do
        if ((lo == 61000)); then p=$((61000 + RANDOM % 4000)); else p=$((10000 + RANDOM % (lo - 10000))); fi
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    die "no free port found"
}
declare -A PID URL
wait_listening() { # wait_listening LOGFILE PID -> prints the URL
    local f=$1 p=$2 u
    for _ in $(seq 1 150); do
        u=$(grep -o 'http://127\.0\.0\.1:[0-9]*/files/' "$f" 2>/dev/null | head -1 || true)
        if [[ -n $u ]]; then echo "$u"; return 0; fi
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    cat "$f" >&2 || true
    return 1
}
start_server() { # start_server NAME: fresh empty data dir, sets PID[NAME] URL[NAME]
    local s=$1 d="$WORK/data/$1" lg="$WORK/logs/$1.log" port
    rm -rf "$d"
    mkdir -p "$d"
    case $s in
    ferry)
        "$FERRY" serve --listen 127.0.0.1:0 --data "$d" --max-connections 20000 >"$lg" 2>&1 &
        PID[$s]=$!
        ;;
    sink)
        "$WORK/bin/sink" --listen 127.0.0.1:0 --threads "$(nproc)" >"$lg" 2>&1 &
        PID[$s]=$!
        ;;
    tus-node)
        node "$HERE/peers/tus-node.mjs" "$d" 0 >"$lg" 2>&1 &
        PID[$s]=$!
        ;;
    nginx)
        local ng="$WORK/nginx" attempt up
        mkdir -p "$d/files" "$WORK/data/nginx-body-temp"
        for attempt in 1 2 3 4 5; do
            port=$(pick_port)
            rm -rf "$ng"
            mkdir -p "$ng/logs" "$ng/conf"
            # client_body_temp_path on the same filesystem as the data, so PUT ends in a rename
            cat >"$ng/conf/nginx.conf" <<EOF
daemon off;
master_process on;
user root root;
worker_processes auto;
pid $ng/nginx.pid;
error_log $ng/logs/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $WORK/data/nginx-body-temp;
    proxy_temp_path $ng/proxy; fastcgi_temp_path $ng/fastcgi; uwsgi_temp_path $ng/uwsgi; scgi_temp_path $ng/scgi;
    server {
        listen 127.0.0.1:$port;
        root $d;
        client_max_body_size 0;
        location /files/ {
            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw;
        }
    }
}
EOF
            nginx -p "$ng" -c "$ng/conf/nginx.conf" -e "$ng/logs/error.log" >"$lg" 2>&1 &
            PID[$s]=$!
            up=0
            for _ in $(seq 1 50); do
                kill -0 "${PID[$s]}" 2>/dev/null || break
                if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/files/"; then up=1; break; fi
                sleep 0.1
            done
            if ((up)); then
                echo "listening on http://127.0.0.1:$port/files/" >>"$lg"
                break
            fi
            log "nginx did not come up on port $port (attempt $attempt): $(tail -1 "$lg")"
            kill -TERM "${PID[$s]}" 2>/dev/null || true
            wait "${PID[$s]}" 2>/dev/null || true
        done
        ;;
    *) die "unknown server $s" ;;
    esac
    STARTED+=("${PID[$s]}")
    URL[$s]=$(wait_listening "$lg" "${PID[$s]}") || die "$s did not start (log: $lg)"
    sleep 0.3 # let nginx workers and node settle
    log "started $s pid ${PID[$s]} at ${URL[$s]}"
}
stop_server() {
    local s=$1 p=${PID[$1]:-}
    [[ -n $p ]] || return 0
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    forget "$p"
    unset "PID[$s]"
    rm -rf "$WORK/data/$s"
}

# ---------------------------------------------------------------- inputs and helpers
make_inputs() {
    mkdir -p "$WORK/in/b"
    log "generating inputs (random bytes, kept in the page cache)"
    head -c "$A_BYTES" /dev/urandom >"$WORK/in/a.bin"
    local i
    for ((i = 0; i < B_COUNT; i++)); do
        dd if="$WORK/in/a.bin" of="$WORK/in/b/$i" bs="$B_CHUNK" skip="$i" count=1 status=none
    done
    head -c "$C_EACH" "$WORK/in/a.bin" >"$WORK/in/c.bin"
}
prewarm() { # sync, then write and delete ~1.5 GiB so the page cache runs on host-backed memory
    sync
    dd if=/dev/zero of="$WORK/prewarm" bs=1M count="$PREWARM_MIB" status=none
    rm -f "$WORK/prewarm"
    sync
}
CURL=(curl -sS --no-progress-meter --connect-timeout 5)
TUSH=(-H 'Tus-Resumable: 1.0.0')
is_tus() { [[ $1 != nginx ]]; }
tus_create() { # tus_create SERVER LENGTH -> location
    "${CURL[@]}" --max-time 30 -X POST "${TUSH[@]}" -H "Upload-Length: $2" -o /dev/null \
        -w '%{http_code} %header{location}\n' "${URL[$1]}" | awk '$1 == 201 { print $2 }'
}
CREATED="" # file with the locations created in the current run (DELETEd afterwards)
data_bytes() { # bytes stored by SERVER (payload files only)
    find "$WORK/data/$1" -type f ! -name '*.info' ! -name '*.json' -printf '%s\n' 2>/dev/null |
        awk '{ s += $1 } END { printf "%.0f\n", s }' # %d caps at 2^31-1 in mawk
}
clean_data() {
    local s=$1 loc
    if [[ -n $CREATED && -s $CREATED ]] && is_tus "$s"; then
        while read -r loc; do
            [[ -n $loc ]] && "${CURL[@]}" --max-time 10 -o /dev/null -X DELETE "${TUSH[@]}" "$loc" || true
        done <"$CREATED"
    fi
    if [[ $s == nginx ]]; then
        rm -rf "$WORK/data/nginx/files" && mkdir -p "$WORK/data/nginx/files"
    elif [[ -d $WORK/data/$s ]]; then
        find "$WORK/data/$s" -mindepth 1 -delete 2>/dev/null || true
    fi
    : >"$CREATED"
}
cfg_sep() { [[ ! -s $1 ]] || echo next >>"$1"; } # curl -K: `next` between entries, never last
count_codes() { # count_codes CODE... < lines of http codes -> number matching
    awk -v want=" $* " 'index(want, " " $1 " ") { n++ } END { print n + 0 }'
}

# ---------------------------------------------------------------- one measured run
# Every client function sets: R_OK (1/0), R_BYTES (payload bytes), R_VAL (metric), R_UNIT, R_EXTRA
R_OK=0 R_BYTES=0 R_VAL=0 R_UNIT="" R_EXTRA=""
T_START=0
t_start() { T_START=$EPOCHREALTIME; }
t_secs() { awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.6f\n", b - a }'; }
mibps() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.1f\n", (t > 0 ? b / 1048576 / t : 0) }'; }

single_upload() { # single_upload SERVER FILE-or-"-" BYTES NAME: one request carries it all
    local s=$1 src=$2 n=$3 name=$4 code loc secs maxt=600
    [[ $src == - ]] && maxt=3600
    if [[ $s == nginx ]]; then
        t_start
        code=$("${CURL[@]}" --max-time "$maxt" -T "$src" -H 'Expect:' -H "Content-Length: $n" -H 'Transfer-Encoding:' \
            -o /dev/null -w '%{http_code}' "${URL[$s]}$name" || true)
        secs=$(t_secs)
        [[ $code == 201 || $code == 204 ]] && R_OK=1 || R_OK=0
    else
        t_start
        loc=$(tus_create "$s" "$n" || true)
        [[ -n $loc ]] && echo "$loc" >>"$CREATED"
        code=$("${CURL[@]}" --max-time "$maxt" -X PATCH -T "$src" -H 'Expect:' -H "Content-Length: $n" -H 'Transfer-Encoding:' \
            "${TUSH[@]}" -H 'Upload-Offset: 0' -H 'Content-Type: application/offset+octet-stream' \
            -o /dev/null -w '%{http_code}' "${loc:-http://127.0.0.1:9/}" || true)
        secs=$(t_secs)
        [[ $code == 204 ]] && R_OK=1 || R_OK=0
    fi
    R_BYTES=$n R_UNIT="MiB/s"
    R_VAL=$(mibps "$n" "$secs")
    R_EXTRA="secs=$secs"
}

client_A() {
    local s=$1
    case $s in
    dd | dd-sync)
        local conv=() t
        [[ $s == dd-sync ]] && conv=(conv=fdatasync)
        t_start
        /usr/bin/time -f '%U %S %M' -o "$WORK/time.out" dd if="$WORK/in/a.bin" of="$WORK/data/dd/a" bs=1M "${conv[@]}" status=none
        t=$(t_secs)
        R_OK=1 R_BYTES=$A_BYTES R_UNIT="MiB/s" R_VAL=$(mibps "$A_BYTES" "$t") R_EXTRA="secs=$t"
        ;;
    *) single_upload "$s" "$WORK/in/a.bin" "$A_BYTES" a.bin ;;
    esac
}

client_B() {
    local s=$1 cfg="$WORK/b.cfg" i loc t ok
    case $s in
    dd | dd-sync)
        local conv=()
        [[ $s == dd-sync ]] && conv=(conv=fdatasync)
        t_start
        /usr/bin/time -f '%U %S %M' -o "$WORK/time.out" dd if="$WORK/in/a.bin" of="$WORK/data/dd/b" bs="$B_CHUNK" "${conv[@]}" status=none
        t=$(t_secs)
        R_OK=1 R_BYTES=$((B_CHUNK * B_COUNT)) R_UNIT="MiB/s" R_VAL=$(mibps "$R_BYTES" "$t") R_EXTRA="secs=$t"
        return
        ;;
    esac
    : >"$cfg"
    t_start
    if is_tus "$s"; then
        loc=$(tus_create "$s" $((B_CHUNK * B_COUNT)) || true)
        [[ -n $loc ]] && echo "$loc" >>"$CREATED"
        for ((i = 0; i < B_COUNT; i++)); do
            cfg_sep "$cfg"
            printf 'url = "%s"\nrequest = "PATCH"\nupload-file = "%s"\nheader = "Tus-Resumable: 1.0.0"\nheader = "Upload-Offset: %d"\nheader = "Content-Type: application/offset+octet-stream"\nheader = "Expect:"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
                "${loc:-http://127.0.0.1:9/}" "$WORK/in/b/$i" $((i * B_CHUNK)) >>"$cfg"
        done
        ok=$("${CURL[@]}" --max-time 600 -K "$cfg" 2>>"$WORK/logs/curl.err" | count_codes 204 || true)
    else
        for ((i = 0; i < B_COUNT; i++)); do
            cfg_sep "$cfg"
            printf 'url = "%sb/part-%d"\nupload-file = "%s"\nheader = "Expect:"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
                "${URL[$s]}" "$i" "$WORK/in/b/$i" >>"$cfg"
        done
        ok=$("${CURL[@]}" --max-time 600 -K "$cfg" 2>>"$WORK/logs/curl.err" | count_codes 201 204 || true)
    fi
    t=$(t_secs)
    [[ $ok == "$B_COUNT" ]] && R_OK=1 || R_OK=0
    R_BYTES=$((B_CHUNK * B_COUNT)) R_UNIT="MiB/s" R_VAL=$(mibps "$R_BYTES" "$t") R_EXTRA="secs=$t,ok_requests=$ok"
}

client_C() {
    local s=$1 cfg="$WORK/c.cfg" ccfg="$WORK/c-create.cfg" i loc t ok tc=0
    local par=(--parallel --parallel-immediate --parallel-max "$C_COUNT")
    : >"$cfg"
    t_start
    if is_tus "$s"; then
        : >"$ccfg"
        for ((i = 0; i < C_COUNT; i++)); do
            cfg_sep "$ccfg"
            printf 'url = "%s"\nrequest = "POST"\nheader = "Tus-Resumable: 1.0.0"\nheader = "Upload-Length: %d"\noutput = "/dev/null"\nwrite-out = "%%{http_code} %%header{location}\\n"\n' \
                "${URL[$s]}" "$C_EACH" >>"$ccfg"
        done
        "${CURL[@]}" --max-time 60 "${par[@]}" -K "$ccfg" 2>>"$WORK/logs/curl.err" | awk '$1 == 201 { print $2 }' >>"$CREATED" || true
        tc=$(t_secs)
        while read -r loc; do
            cfg_sep "$cfg"
            printf 'url = "%s"\nrequest = "PATCH"\nupload-file = "%s"\nheader = "Tus-Resumable: 1.0.0"\nheader = "Upload-Offset: 0"\nheader = "Content-Type: application/offset+octet-stream"\nheader = "Expect:"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
                "$loc" "$WORK/in/c.bin" >>"$cfg"
        done <"$CREATED"
        ok=$("${CURL[@]}" --max-time 600 "${par[@]}" -K "$cfg" 2>>"$WORK/logs/curl.err" | count_codes 204 || true)
    else
        for ((i = 0; i < C_COUNT; i++)); do
            cfg_sep "$cfg"
            printf 'url = "%sc/u-%d"\nupload-file = "%s"\nheader = "Expect:"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
                "${URL[$s]}" "$i" "$WORK/in/c.bin" >>"$cfg"
        done
        ok=$("${CURL[@]}" --max-time 600 "${par[@]}" -K "$cfg" 2>>"$WORK/logs/curl.err" | count_codes 201 204 || true)
    fi
    t=$(t_secs)
    [[ $ok == "$C_COUNT" ]] && R_OK=1 || R_OK=0
    R_BYTES=$((C_EACH * C_COUNT)) R_UNIT="MiB/s" R_VAL=$(mibps "$R_BYTES" "$t") R_EXTRA="secs=$t,create_secs=$tc,ok_requests=$ok"
}

client_D() {
    local s=$1 mode=tus out="$WORK/wrk.out" line req dur non2xx errs bad
    [[ $s == nginx ]] && mode=put
    timeout $((D_SECS + 30)) wrk -t4 -c4 -d"${D_SECS}s" --timeout 10s -s "$HERE/wl-d.lua" "${URL[$s]}" -- "$mode" >"$out" 2>&1 || true
    line=$(grep '^WLD ' "$out" | tail -1 || true)
    [[ -n $line ]] || { cat "$out" >&2; R_OK=0 R_VAL=0 R_BYTES=0 R_UNIT="req/s" R_EXTRA=""; return; }
    req=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$line")
    dur=$(sed 's/.*duration_us=\([0-9]*\).*/\1/' <<<"$line")
    non2xx=$(sed 's/.*non2xx=\([0-9]*\).*/\1/' <<<"$line")
    errs=$(sed 's/.* errors=\([0-9]*\).*/\1/' <<<"$line")
    bad=$(sed 's/.* bad=\([0-9]*\).*/\1/' <<<"$line")
    [[ $non2xx == 0 && $errs == 0 && $bad == 0 && $req -gt 0 ]] && R_OK=1 || R_OK=0
    R_BYTES=$((req * 65536)) R_UNIT="req/s"
    R_VAL=$(awk -v r="$req" -v d="$dur" 'BEGIN { printf "%.0f\n", r / (d / 1e6) }')
    R_EXTRA="requests=$req,non2xx=$non2xx,errors=$errs,$(sed 's/.*\(p50_us=[0-9]*\) \(p99_us=[0-9]*\).*/\1,\2/' <<<"$line")"
}

# E is measured by run_E (it needs an unmeasured "alone" upload first).
client_E() {
    local s=$1 mode=tus ready="$WORK/e.ready" tp out="$WORK/trickle.out" alone="$E_ALONE" during j
    [[ $s == nginx ]] && mode=put
    rm -f "$ready"
    timeout $((E_SECS + 150)) node "$HERE/trickle.mjs" --url "${URL[$s]}" --mode "$mode" --conns "$E_CONNS" \
        --rate 1024 --seconds "$E_SECS" --ready "$ready" >"$out" 2>"$WORK/logs/trickle.err" &
    tp=$!
    STARTED+=("$tp")
    for _ in $(seq 1 1200); do [[ -f $ready ]] && break; kill -0 "$tp" 2>/dev/null || break; sleep 0.1; done
    if [[ -f $ready ]]; then
        single_upload "$s" "$WORK/in/a.bin" "$A_BYTES" e-fast.bin
        during=$R_VAL
    else
        during=0
    fi
    wait "$tp" 2>/dev/null || true
    forget "$tp"
    j=$(tail -1 "$out" 2>/dev/null || true)
    local held
    held=$(sed -n 's/.*"held":\([0-9]*\).*/\1/p' <<<"$j")
    held=${held:-0}
    [[ $held == "$E_CONNS" ]] && R_OK=1 || R_OK=0
    R_VAL=$held R_UNIT="held" R_BYTES=$((E_CONNS * 1024 * E_SECS + A_BYTES))
    R_EXTRA="fast_alone=$alone,fast_during=$during,fast_ratio=$(awk -v a="$alone" -v d="$during" 'BEGIN { printf "%.3f", (a > 0 ? d / a : 0) }'),trickle=$(tr -d ' ,' <<<"$j" | tr '"' "'" | head -c 300)"
}

client_F() {
    local s=$1
    set +o pipefail
    head -c "$F_BYTES" /dev/zero | single_upload "$s" - "$F_BYTES" f.bin
    set -o pipefail
}

RAW=""
ensure_alive() { # a server that died (crash, or killed by someone else) is restarted, loudly
    local s=$1
    [[ $s == dd* ]] && return 0
    if [[ -z ${PID[$s]:-} ]] || ! kill -0 "${PID[$s]}" 2>/dev/null; then
        log "WARNING: $s (pid ${PID[$s]:-none}) is not running; restarting it (log: $WORK/logs/$s.died.log)"
        cp "$WORK/logs/$s.log" "$WORK/logs/$s.died.log" 2>/dev/null || true
        [[ -n ${PID[$s]:-} ]] && forget "${PID[$s]}"
        wait "${PID[$s]:-0}" 2>/dev/null || true
        DIED+=("$s")
        start_server "$s"
    fi
}
declare -a DIED=()
measure() { # measure WORKLOAD SERVER ROUND [retry]
    local w=$1 s=$2 r=$3 pids=() c0 c1 hwm rssmax cpu samples="$WORK/rss.samples" tick
    tick=$(getconf CLK_TCK)
    ensure_alive "$s"
    clean_data "$s"
    mkdir -p "$WORK/data/dd"
    prewarm
    if [[ $w == E ]]; then # the unmeasured "alone" run, then clean again
        single_upload "$s" "$WORK/in/a.bin" "$A_BYTES" e-alone.bin
        E_ALONE=$R_VAL
        clean_data "$s"
        sync
    fi
    if [[ -n ${PID[$s]:-} ]]; then
        read -ra pids <<<"$(tree_pids "${PID[$s]}")"
        reset_hwm "${pids[@]}"
        c0=$(cpu_ticks "${pids[@]}")
        start_sampler "$samples" "${pids[@]}"
    fi
    R_OK=0 R_BYTES=0 R_VAL=0 R_UNIT="" R_EXTRA=""
    "client_$w" "$s"
    if [[ -n ${PID[$s]:-} ]]; then
        stop_sampler
        if ! kill -0 "${PID[$s]}" 2>/dev/null; then
            if [[ -z ${4:-} ]]; then
                log "WARNING: $s died during $w round $r; retrying the run once"
                measure "$w" "$s" "$r" retry
                return
            fi
            R_OK=0 R_EXTRA+=",server_died"
        fi
        c1=$(cpu_ticks "${pids[@]}")
        hwm=$(status_sum VmHWM "${pids[@]}")
        rssmax=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$samples")
        cpu=$(awk -v a="$c0" -v b="$c1" -v t="$tick" 'BEGIN { printf "%.3f", (b - a) / t }')
        if [[ $w == F ]]; then # flatness: max of the first and the second half of the samples
            R_EXTRA+=",$(awk '{ t[NR] = $2 } END { h = int(NR / 2); for (i = 1; i <= NR; i++) { if (i <= h && t[i] > a) a = t[i]; if (i > h && t[i] > b) b = t[i] } printf "rss_first_half_kib=%d,rss_second_half_kib=%d,samples=%d", a, b, NR }' "$samples")"
        fi
        # the server must have written every byte (disk-backed servers, workloads A-C and F)
        if [[ $s != sink && $w =~ [ABCF] && $R_OK == 1 ]]; then
            local stored
            stored=$(data_bytes "$s")
            ((stored == R_BYTES)) || { R_OK=0; R_EXTRA+=",stored=$stored"; }
        fi
    else # dd: CPU and max RSS of dd itself
        local u st m
        read -r u st m <"$WORK/time.out"
        hwm=$m rssmax=$m
        cpu=$(awk -v u="$u" -v s="$st" 'BEGIN { printf "%.3f", u + s }')
    fi
    local load
    read -r load _ </proc/loadavg
    R_EXTRA+=",load1=$load"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$s" "$r" "$R_VAL" "$R_UNIT" "$R_BYTES" "$R_OK" \
        "$hwm" "$rssmax" "$cpu" "$R_EXTRA" >>"$RAW"
    log "$(printf '%s %-8s round %s: %s %s ok=%s rss=%s KiB cpu=%ss' "$w" "$s" "$r" "$R_VAL" "$R_UNIT" "$R_OK" "$hwm" "$cpu")"
    clean_data "$s"
    rm -rf "$WORK/data/dd"
}

run_workload() {
    local w=$1 servers=() s r first=0 last=$ROUNDS
    read -ra servers <<<"$SERVERS"
    case $w in
    A | B) servers+=(dd dd-sync) ;;
    E) first=1 last=$E_ROUNDS ;;
    F) first=1 last=$F_ROUNDS ;;
    esac
    if [[ $w == F ]]; then
        local avail need
        avail=$(df -B1 --output=avail "$WORK" | tail -1 | tr -d ' ')
        need=$((F_BYTES + 4 * GiB))
        if ((avail < need)); then
            local g=$(((avail - 4 * GiB) / GiB))
            ((g >= 1)) || { log "warning: F skipped, only $((avail / GiB)) GiB free under $WORK"; return 0; }
            log "WARNING: only $((avail / GiB)) GiB free under $WORK: F scaled down from $F_GIB GiB to $g GiB"
            F_GIB=$g F_BYTES=$((g * GiB))
        fi
        echo "f_gib=$F_GIB" >>"$WORK/meta"
    fi
    log "=== workload $w: servers ${servers[*]}, rounds $first..$last (round 0 = warm-up, dropped)"
    for s in "${servers[@]}"; do [[ $s == dd* ]] || start_server "$s"; done
    for ((r = first; r <= last; r++)); do
        for s in "${servers[@]}"; do measure "$w" "$s" "$r"; done
    done
    for s in "${servers[@]}"; do [[ $s == dd* ]] || stop_server "$s"; done
}

# ---------------------------------------------------------------- main
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(($(ulimit -n) >= 4200)) || log "warning: ulimit -n is $(ulimit -n); E needs ~4100 descriptors"
install_deps
mkdir -p "${FERRY_BENCH_DIR:-/var/tmp}"
WORK=$(mktemp -d "${FERRY_BENCH_DIR:-/var/tmp}/ferry-bench.XXXXXX")
mkdir -p "$WORK/logs" "$WORK/data"
CREATED="$WORK/created"
: >"$CREATED"
build
make_inputs
STAMP=$(date -u +%Y-%m-%dT%H%MZ)
((QUICK)) && STAMP="$STAMP-quick"
mkdir -p "$HERE/results"
RAW="$HERE/results/$STAMP.tsv"
printf 'workload\tserver\tround\tvalue\tunit\tbytes\tok\trss_hwm_kib\trss_sampled_kib\tcpu_s\textra\n' >"$RAW"
{
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "command=bench/run.sh $*"
    echo "nproc=$(nproc)"
    echo "kernel=$(uname -sr)"
    echo "mem=$(free -g | awk '/^Mem:/ { print $2 " GiB total, " $7 " GiB available" }')"
    echo "cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "ferry=$FERRY_BUILD"
    echo "nginx=$(nginx -v 2>&1 | sed 's/.*nginx\///')"
    echo "node=$(node --version)"
    echo "tus_server=$(node -p "require('$HERE/node_modules/@tus/server/package.json').version")"
    echo "tus_file_store=$(node -p "require('$HERE/node_modules/@tus/file-store/package.json').version")"
    echo "curl=$(curl --version | head -1 | awk '{ print $2 }')"
    echo "wrk=$(wrk -v 2>&1 | head -1 | awk '{ print $2 }')"
    echo "rounds=$ROUNDS"
    echo "e_rounds=$E_ROUNDS"
    echo "f_rounds=$F_ROUNDS"
    echo "quick=$QUICK"
    echo "e_conns=$E_CONNS"
    echo "workdir_fs=$(df --output=source,fstype "$WORK" 2>/dev/null | tail -1 | tr -s ' ')"
} >"$WORK/meta"
T_ALL=$SECONDS
for w in $WORKLOADS; do
    case $w in
    A | B | C | D | E | F) run_workload "$w" ;;
    *) die "unknown workload $w" ;;
    esac
done
echo "elapsed_s=$((SECONDS - T_ALL))" >>"$WORK/meta"
echo "died=${DIED[*]}" >>"$WORK/meta"
node "$HERE/summarize.mjs" "$RAW" "$WORK/meta" >"$HERE/results/$STAMP.md"
cat "$HERE/results/$STAMP.md"
log "wrote bench/results/$STAMP.md and bench/results/$STAMP.tsv"
