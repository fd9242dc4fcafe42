#!/usr/bin/env bash
# Runs troupe's benchmarks, each as a fresh OS process, and prints one median line
# per benchmark on stdout, in the peers kit's format (../shared/peers/README.md):
#   peer=troupe bench=<name> runs=<ok runs> <metric>=<median> ... <primary>_min=.. <primary>_max=..
# persist and recover have one line per size instead (their group fields come first):
#   peer=troupe bench=persist writers=<N> runs=.. events_per_s=.. p50_ms=.. p99_ms=.. ...
#   peer=troupe bench=recover events=<N> snapshot=no|yes runs=.. replay_events_per_s=.. recover_ms=..
#
# usage: bench/run.sh [names...]         default: pingpong fanout spawn skynet
#   REPS=5 bench/run.sh spawn            5 runs, median per metric
#   PP_N=500000 bench/run.sh pingpong    other sizes (same knobs and defaults as the kit)
#   bench/run.sh persist recover         storage: append rate/latency, replay rate
#   REPS=1 PS_SECS=1 RC_BIG=0 bench/run.sh persist recover   quick check
#
# Knobs (environment): REPS (1), TIMEOUT (180 s per run), SETTLE_MAX (30 s, 0 = off),
# NO_BUILD=1 (use the binaries as they are), BUILD_DIR (build-bench), TROUPE_THREADS (2),
# sizes PP_N FO_S FO_M SP_K SP_SETTLE_MS SK_SIZE SK_DIV;
# persist: PS_WRITERS ("1 100 10000": one run per writer count and repetition),
#   PS_SECS (3 s measured per run; sync mode; data dir: a fresh one under /tmp),
#   PS_MODE=nosync (no fsync: not durable, the ceiling the CPU alone allows);
# recover: RC_EVENTS (10000), RC_BIG (1000000: a second run with that many events,
#   for the replay rate; 0 = off). Each recover run prints snapshot=no and snapshot=yes.
# remote: two nodes on loopback (the kit's benchmark 5): RM_N (20000) strict round
#   trips, RM_M (200000) pipelined with RM_W (1000) in flight; one run per payload in
#   RM_PAYLOADS ("64 1024 64u"; "u" = frames not encrypted, to measure sealing).
# virtual: VA_K (100000) names activated, then VA_M (2000000) messages over VA_W
#   (1000) active names and the same over as many refs (troupe only: no peer has it).
# http: the troupe daemon's GET /healthz beside nginx (Debian package) serving the
#   same bytes as a static file, one after the other, with the same wrk (Debian
#   package): HT_SECS (10) s, HT_CONNS (64) keep-alive connections, HT_WRK_THREADS
#   (2); HT_PIN none|split|same (bench/http.sh). Lines peer=troupe and peer=nginx
#   bench=http req_per_s=.., and bench=http_vs_nginx ratio=.. (troupe / nginx).
# workflow: process instances/s, start -> external task -> end, sync, one run per
#   mode in WF_MODES ("sdk http"): sdk = bench_workflow WF_N (20000) instances with
#   WF_WINDOW (100) starts in flight from a starter actor (WF_STARTER actor|threads),
#   WF_WORKERS (2) SDK worker actors; http = the daemon with its Camunda REST API
#   and bench_wfhttp, WFH_N (20000) instances, WFH_STARTERS (64) starter and
#   WFH_WORKERS (4) worker connections (skipped, with a line saying so, while the
#   daemon answers 404 on /engine-rest/deployment/create). Both then pace starts at
#   half the peak for WF_LAT_SECS (3) s for start_p50_ms/start_p99_ms. After the
#   workflow runs of each repetition, the raw LMDB probe of ../shared/limits
#   (LIMITS_SRC) runs once: peer=lmdb bench=limits lmdb_commit_sync_per_s=.. ...
#   `bench/run.sh workflow http` ends with a table against the issue's targets.
# events: one line, bench=events ingest_per_s=.. deliveries_per_s=.. p50_ms=..
#   p99_ms=.. (bench/events.sh): durable ingest in process (bench/events.c): EV_SECS
#   (5) s of PUBLISH_MANY asks of EV_BATCH (1000) events, EV_WINDOW (8) in flight,
#   then as long of single PUBLISH asks: ingest_per_s, ingest_single_per_s (SYNC
#   store); then events_ws's first mode, real:0 (below): deliveries_per_s, p50_ms,
#   p99_ms of EV_SUBS keyed subscribers at EV_RATE events/s (fanout_subs=, rate=).
# warehouse: WH_N (10000000) events stored (NOSYNC, not timed), then timed reads:
#   count_per_minute_ms over all of them, one type, a query by pi, a distinct.
# events_ws: the notifier's fan-out (bench/events_ws.c, in process): EV_SUBS (1000)
#   WebSocket subscribers, a burst of EV_BURST (2000) events for deliveries_per_s,
#   then EV_RATE (10000) events/s for EV_WS_SECS (3) s for p50_ms/p99_ms (publish ->
#   receive); prints the C harness's own ceiling too. One run per mode in
#   EV_WS_MODES ("real:0 real:10 fake:all"), BUS:UNFILTERED: real = the durable bus
#   fed the engine's own TR_WF_EVENT messages, fake = the in-memory test bus;
#   UNFILTERED subscribers take every event (all = EV_SUBS), the others each follow
#   one business key of their own. Lines: bench=events subs=.. unfiltered=.. bus=..
# First builds a Release tree in BUILD_DIR (incremental). Raw per-run lines go to stderr
# and build/bench-results/. Exit status: 0 all runs ok, 1 some run failed, 2 bad name.
# bench/compare.sh sources this file for its troupe half (then main does not run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench}
OUT_DIR=${OUT_DIR:-$ROOT/build/bench-results}
PEERS_KIT=${PEERS_KIT:-$ROOT/../shared/peers}  # only its calib.c is used here

REPS=${REPS:-1}
TIMEOUT=${TIMEOUT:-180}
SETTLE_MAX=${SETTLE_MAX:-30}
DEFAULT_BENCHES="pingpong fanout spawn skynet"
KNOWN_BENCHES="$DEFAULT_BENCHES persist recover remote virtual http workflow events events_ws warehouse"

# Sizes: the kit's knobs and defaults, so that the same work is measured.
PP_N=${PP_N:-2000000}
FO_S=${FO_S:-4}
FO_M=${FO_M:-2500000}
SP_K=${SP_K:-500000}
SP_SETTLE_MS=${SP_SETTLE_MS:-500}
SK_SIZE=${SK_SIZE:-1000000}
SK_DIV=${SK_DIV:-10}
PS_WRITERS=${PS_WRITERS:-"1 100 10000"}
PS_SECS=${PS_SECS:-3}
RC_EVENTS=${RC_EVENTS:-10000}
RC_BIG=${RC_BIG:-1000000}
RM_N=${RM_N:-20000}
RM_M=${RM_M:-200000}
RM_W=${RM_W:-1000}
RM_PAYLOADS=${RM_PAYLOADS:-"64 1024 64u"}  # bytes per message; "u": unsealed (bench-only)
VA_K=${VA_K:-100000}   # virtual: names activated
VA_M=${VA_M:-2000000}  # virtual: messages to active names (and again to refs)
VA_W=${VA_W:-1000}     # virtual: names (and refs) the messages go round
EV_SECS=${EV_SECS:-5}          # events: seconds of each ingest run (batched, then single)
EV_BATCH=${EV_BATCH:-1000}     # events: events per PUBLISH_MANY
EV_WINDOW=${EV_WINDOW:-8}      # events: PUBLISH_MANY asks in flight
WH_N=${WH_N:-10000000}         # warehouse: events stored before the timed reads
EV_SUBS=${EV_SUBS:-1000}   # events_ws: WebSocket subscribers
EV_RATE=${EV_RATE:-10000}  # events_ws: events/s in the latency phase
EV_WS_SECS=${EV_WS_SECS:-3} # events_ws: seconds of the latency phase
EV_BURST=${EV_BURST:-2000} # events_ws: events in the throughput burst
EV_WS_MODES=${EV_WS_MODES:-"real:0 real:10 fake:all"} # events_ws: BUS:UNFILTERED runs
HT_SECS=${HT_SECS:-10}
HT_CONNS=${HT_CONNS:-64}
HT_WRK_THREADS=${HT_WRK_THREADS:-2}
WF_MODES=${WF_MODES:-"sdk http"}
WF_N=${WF_N:-20000}         # workflow sdk: instances in the peak phase
WF_WINDOW=${WF_WINDOW:-100} # starts in flight (measured best here: 100)
WF_WORKERS=${WF_WORKERS:-2} # SDK worker actors, 1000 jobs in flight each
WF_STARTER=${WF_STARTER:-actor}
WF_LAT_SECS=${WF_LAT_SECS:-3}
WFH_N=${WFH_N:-20000}
WFH_STARTERS=${WFH_STARTERS:-64}
WFH_WORKERS=${WFH_WORKERS:-4}
LIMITS_SRC=${LIMITS_SRC:-$ROOT/../shared/limits}

say() { echo "[bench] $*" >&2; }

# The one place a benchmark is plugged in: `troupe_cmd NAME [VARIANT]` sets CMD to
# the argv of one run, which must print `peer=troupe bench=<name> ...` line(s).
# VARIANT is one word of `troupe_variants NAME` (the size of a benchmark that runs
# at several sizes; empty: the first). Returns 3 for benchmarks that are announced
# but not written yet, 2 for unknown names.
troupe_cmd() {
  local bin="$BUILD_DIR/bench/bench_$1" v=${2:-}
  case "$1" in
    pingpong) CMD=("$bin" "$PP_N") ;;
    fanout)   CMD=("$bin" "$FO_S" "$FO_M") ;;
    spawn)    CMD=("$bin" "$SP_K" "$SP_SETTLE_MS") ;;
    skynet)   CMD=("$bin" "$SK_SIZE" "$SK_DIV") ;;
    persist)  [ -n "$v" ] || read -r v _ <<< "$PS_WRITERS"; CMD=("$bin" "$v" "$PS_SECS") ;;
    recover)  CMD=("$bin" "${v:-$RC_EVENTS}") ;;
    remote)   local pl=${v:-64} u=0
              [ "${pl%u}" != "$pl" ] && u=1 && pl=${pl%u}
              CMD=(env TROUPE_BENCH_UNSEALED=$u "$bin" "$RM_N" "$RM_M" "$RM_W" "$pl") ;;
    virtual)  CMD=("$bin" "$VA_K" "$VA_M" "$VA_W") ;;
    http)     CMD=(bash "$ROOT/bench/http.sh" "$BUILD_DIR/tools/troupe/troupe" "$HT_SECS" "$HT_CONNS" "$HT_WRK_THREADS") ;;
    workflow) if [ "${v:-sdk}" = http ]; then
                CMD=(bash "$ROOT/bench/wfhttp.sh" "$BUILD_DIR" "$WFH_N" "$WFH_STARTERS" "$WFH_WORKERS" "$WF_LAT_SECS")
              else
                CMD=("$bin" "$WF_N" "$WF_WINDOW" "$WF_WORKERS" "$WF_LAT_SECS" "$WF_STARTER")
              fi ;;
    events)   CMD=(bash "$ROOT/bench/events.sh" "$BUILD_DIR" "$EV_SECS" "$EV_BATCH" "$EV_WINDOW"
                   "$EV_SUBS" "$EV_RATE" "$EV_WS_SECS" "$EV_BURST") ;;
    warehouse) CMD=("$BUILD_DIR/bench/bench_events" warehouse "$WH_N") ;;
    events_ws) local m=${v:-real:0} b u
               b=${m%%:*} u=${m#*:}; [ "$u" = all ] && u=$EV_SUBS
               CMD=("$BUILD_DIR/bench/bench_events_ws" "$EV_SUBS" "$EV_RATE" "$EV_WS_SECS" "$EV_BURST"
                    "$([ "$b" = real ] && echo 1 || echo 0)" "$u") ;;
    *) return 2 ;;
  esac
}

# troupe_variants NAME: the sizes NAME runs at, one run each per repetition ("-": one).
troupe_variants() {
  case "$1" in
    persist) echo "$PS_WRITERS" ;;
    remote) echo "$RM_PAYLOADS" ;;
    workflow) echo "$WF_MODES" ;;
    events_ws) echo "$EV_WS_MODES" ;;
    recover) if [ "$RC_BIG" != 0 ] && [ "$RC_BIG" != "$RC_EVENTS" ]; then echo "$RC_EVENTS $RC_BIG"; else echo "$RC_EVENTS"; fi ;;
    *) echo - ;;
  esac
}

# troupe_groups NAME: the median groups NAME yields, as the start of their lines
# after "peer=troupe " (see bench_medians); used to report runs that never succeeded.
troupe_groups() {
  local v
  for v in $(troupe_variants "$1"); do
    case "$1" in
      persist) echo "bench=persist writers=$v" ;;
      recover) echo "bench=recover events=$v snapshot=no"; echo "bench=recover events=$v snapshot=yes" ;;
      remote) local pl=${v%u} sealed=yes; [ "$pl" != "$v" ] && sealed=no
              echo "bench=remote_pingpong payload=$pl sealed=$sealed"
              echo "bench=remote_pipelined payload=$pl sealed=$sealed" ;;
      workflow) echo "bench=workflow workers=$v" ;;
      events_ws) local b=${v%%:*} u=${v#*:}; [ "$u" = all ] && u=$EV_SUBS
                 echo "bench=events subs=$EV_SUBS unfiltered=$u bus=$b" ;;
      *) echo "bench=$1" ;;
    esac
  done
}

# Prints the names among "$@" that troupe can run now; says which are skipped.
troupe_runnable() {
  local b rc
  for b in "$@"; do
    rc=0; troupe_cmd "$b" || rc=$?
    case $rc in
      0) echo "$b" ;;
      3) say "troupe: bench=$b not built yet (no case in troupe_cmd), skipped" ;;
    esac
  done
}

# Release build of just the benchmark programs (tests off: faster, and not our business).
# Configures every time (under a second): a tree configured before a bench target
# existed has no rule for it, and `cmake --build` re-configures only for known targets.
troupe_build() {
  [ "${NO_BUILD:-0}" = 1 ] && return 0
  [ $# -eq 0 ] && return 0
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DTROUPE_TESTS=OFF >&2
  local targets=() b
  for b in "$@"; do
    case "$b" in
      http) targets+=(troupe) ;;                                      # bench/http.sh: the daemon
      workflow) targets+=(bench_workflow bench_wfhttp troupe) ;;
      events) targets+=(bench_events bench_events_ws) ;;              # bench/events.sh
      warehouse) targets+=(bench_events) ;;
      *) targets+=("bench_$b") ;;
    esac
  done
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target "${targets[@]}" >&2
}

troupe_version() {
  local rev build cc
  rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  [ -n "$(git -C "$ROOT" status --porcelain -- runtime codec storage include bench 2>/dev/null)" ] && rev="$rev+dirty"
  build=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
  cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
  cc=$("${cc:-cc}" -dumpfullversion 2>/dev/null || echo unknown)
  echo "peer=troupe bench=version commit=$rev build=${build:-unknown} cc=$cc threads=${TROUPE_THREADS:-2}"
}

# Raw LMDB limit (also used by compare.sh): ../shared/limits/lmdb_probe.c built with
# gcc into BUILD_DIR and run in a fresh dir under /tmp, like troupe's data dirs.
LMDB_PROBE="$BUILD_DIR/lmdb_probe"
LMDB_TMP=/tmp  # the probe's mkdtemp prefix: where bench_persist/bench_recover make theirs
lmdb_build() {
  mkdir -p "$BUILD_DIR"
  if [ ! -x "$LMDB_PROBE" ] || [ "$LIMITS_SRC/lmdb_probe.c" -nt "$LMDB_PROBE" ] \
    || [ "$LIMITS_SRC/bench.h" -nt "$LMDB_PROBE" ]; then
    say "gcc lmdb_probe.c"
    gcc -O2 -Wall -Wextra -pthread -o "$LMDB_PROBE" "$LIMITS_SRC/lmdb_probe.c" -llmdb >&2
  fi
}
lmdb_version() {
  local deb fs
  deb=$(dpkg-query -W -f='${Version}' liblmdb-dev 2>/dev/null || echo unknown)
  fs=$(df -T "$LMDB_TMP" | awk 'NR == 2 { print $2 "_on_" $1 }')
  echo "peer=lmdb bench=version deb=$deb probe=lmdb_probe.c dir=$LMDB_TMP fs=$fs limits_secs=${LIMITS_SECS:-1}"
}
# One probe run as one kit-format line; the batched rate first (the primary metric,
# with _min/_max in the medians). Prints nothing, so counts as failed, without the
# two figures the table needs (awk exits 0 then, so record sees the probe's status).
lmdb_limits() {
  timeout -k 10 "$TIMEOUT" "$LMDB_PROBE" "$LMDB_TMP" | awk '
  $1 ~ /^limit=/ {
    n = substr($1, 7)
    for (i = 2; i <= NF; i++) if ($i ~ /^value=/) { v[n] = substr($i, 7) + 0; order[++k] = n }
  }
  END {
    if (!("lmdb_put_batch1000" in v) || !("lmdb_commit_sync" in v)) exit 0
    line = "peer=lmdb bench=limits lmdb_put_batch1000_per_s=" sprintf("%.1f", v["lmdb_put_batch1000"])
    for (j = 1; j <= k; j++)
      if (order[j] != "lmdb_put_batch1000") line = line " " order[j] "_per_s=" sprintf("%.1f", v[order[j]])
    print line
  }'
}

# The kit's settle step (README "Method"): after a run frees a lot of memory this VM
# is slow for seconds, so wait for a CPU probe near the quiet baseline CPU_BASE.
CALIB=${CALIB:-}
CPU_BASE=${CPU_BASE:-0}
calib_setup() {
  if [ -z "$CALIB" ] && [ -f "$PEERS_KIT/calib/calib.c" ]; then
    CALIB="$BUILD_DIR/calib"; mkdir -p "$BUILD_DIR"
    if [ ! -x "$CALIB" ] || [ "$PEERS_KIT/calib/calib.c" -nt "$CALIB" ]; then
      gcc -O2 -o "$CALIB" "$PEERS_KIT/calib/calib.c"
    fi
  fi
  if [ -n "$CALIB" ]; then CPU_BASE=$("$CALIB" probe); else say "no calib tool: runs are not settled"; fi
}
bench_settle() {
  [ -z "$CALIB" ] || [ "$SETTLE_MAX" = 0 ] || "$CALIB" settle "$CPU_BASE" "$SETTLE_MAX"
}

# record LABEL CMD...: one run. Its peer= line(s) go to $RAW and stderr; a run that
# prints none counts as failed (FAILED), without stopping the others.
FAILED=0
record() {
  local label=$1 rc=0; shift
  "$@" > "$RAW.tmp" || rc=$?
  case $rc in
    0) ;;
    124) say "timed out after $TIMEOUT s: $label" ;;
    *) say "non-zero exit $rc: $label" ;;
  esac
  grep -v '^peer=' "$RAW.tmp" >&2 || true  # diagnostics, if any
  if grep -q '^peer=' "$RAW.tmp"; then
    grep '^peer=' "$RAW.tmp" | tee -a "$RAW" >&2
    if grep -q 'sum_ok=false' "$RAW.tmp"; then say "WRONG RESULT: $label"; fi
  else
    say "FAILED: $label (no result recorded)"
    FAILED=$((FAILED + 1))
  fi
  rm -f "$RAW.tmp"
}

troupe_run() { # troupe_run NAME REP [VARIANT]
  local v=${3:--} label
  if [ "$v" = - ]; then troupe_cmd "$1"; else troupe_cmd "$1" "$v"; fi
  label="bench=$1 rep=$2 peer=troupe"
  case "$1" in
    persist) label="$label writers=$v" ;;
    recover) label="$label events=$v" ;;
    workflow) label="$label workers=$v" ;;
    *) [ "$v" = - ] || label="$label size=$v" ;;
  esac
  say "$label"
  record "$label" timeout -k 10 "$TIMEOUT" "${CMD[@]}"
}

# Median of every numeric metric over the runs, per (peer, bench); non-numeric values
# are taken from the first run; the primary metric (first *_per_s or ms) also gets
# _min and _max. The kit's own awk (run.sh `medians`), so that numbers compare, with
# one addition: for the benchmarks in GROUPS (bench=field,field ...) those fields join
# the group id, so persist writers=1 and writers=100 are medians of their own; the
# output line starts with the id (peer= bench= <group fields> runs= ...).
BENCH_GROUPS=${BENCH_GROUPS:-"persist=writers recover=events,snapshot remote_pingpong=payload,sealed remote_pipelined=payload,sealed workflow=workers events=subs,unfiltered,bus"}
bench_medians() {
  awk -v groups="$BENCH_GROUPS" '
  BEGIN {
    ng = split(groups, G, " ")
    for (g = 1; g <= ng; g++) { eq = index(G[g], "="); gkeys["bench=" substr(G[g], 1, eq - 1)] = "," substr(G[g], eq + 1) "," }
  }
  {
    id = $1 " " $2; split("", ing)
    if ($2 in gkeys)
      for (i = 3; i <= NF; i++) {
        eq = index($i, "=")
        if (eq && index(gkeys[$2], "," substr($i, 1, eq - 1) ",")) { id = id " " $i; ing[i] = 1 }
      }
    if (!(id in seen)) { seen[id] = 1; order[++nid] = id }
    nr[id]++
    for (i = 3; i <= NF; i++) {
      if (i in ing) continue
      eq = index($i, "="); if (eq == 0) continue
      k = substr($i, 1, eq - 1); v = substr($i, eq + 1)
      kid = id SUBSEP k
      if (!(kid in kseen)) { kseen[kid] = 1; nk[id]++; keys[id, nk[id]] = k }
      cnt[kid]++; vals[kid, cnt[kid]] = v
    }
  }
  END {
    for (j = 1; j <= nid; j++) {
      id = order[j]; line = id " runs=" nr[id]; prim = ""; extra = ""
      for (m = 1; m <= nk[id]; m++) {
        k = keys[id, m]; kid = id SUBSEP k; n = cnt[kid]; num = 1
        for (t = 1; t <= n; t++) { a[t] = vals[kid, t]; if (a[t] !~ /^-?[0-9]+(\.[0-9]+)?$/) num = 0 }
        if (!num) { line = line " " k "=" a[1]; continue }
        for (t = 2; t <= n; t++) {
          x = a[t]; u = t - 1
          while (u >= 1 && a[u] + 0 > x + 0) { a[u + 1] = a[u]; u-- }
          a[u + 1] = x
        }
        if (n % 2) med = a[(n + 1) / 2]
        else med = sprintf("%.4f", (a[n / 2] + a[n / 2 + 1]) / 2)
        line = line " " k "=" med
        if (prim == "" && k ~ /(_per_s|^ms)$/) {
          prim = k; extra = " " k "_min=" a[1] " " k "_max=" a[n]
        }
      }
      print line extra
    }
  }'
}

# Targets of the workflow/HTTP issue, on this 2-core machine: instances/s with SDK
# workers and with HTTP workers, troupe's requests/s against nginx's (same run).
T_WF_SDK=10000 T_WF_HTTP=2000 T_HTTP_VS_NGINX=0.5
# Durable events per instance of bench.bpmn: the instance's started and job-done,
# the queue's create, lock, complete and forget (the instance's ack).
WF_EVENTS_PER_INSTANCE=6

# The workflow/HTTP table from the median lines, with the raw LMDB figures of the
# same run and the published peers (quoted, not measured here).
wf_summary() { # wf_summary < median lines
  awk -v reps="$REPS" -v tsdk="$T_WF_SDK" -v thttp="$T_WF_HTTP" -v tng="$T_HTTP_VS_NGINX" \
    -v epi="$WF_EVENTS_PER_INSTANCE" '
  function get(s, k,   n, i, a) {
    n = split(s, a, " ")
    for (i = 1; i <= n; i++) if (index(a[i], k "=") == 1) return substr(a[i], length(k) + 2)
    return ""
  }
  function sig(x) { x += 0; return sprintf(x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : "%.2f", x) }
  function rate(x) { x += 0; return x >= 1e6 ? sig(x / 1e6) " M" : x >= 1e3 ? sig(x / 1e3) " K" : sig(x) }
  function prim(s, k) {
    if (s == "" || get(s, "runs") == "0") return "failed"
    if (get(s, k) == "") return "-"
    if (reps + 0 <= 1) return rate(get(s, k))
    return rate(get(s, k)) " [" rate(get(s, k "_min")) "-" rate(get(s, k "_max")) "]"
  }
  function target(s, k, t) {
    if (s == "" || get(s, k) == "") return "no result"
    return get(s, k) + 0 >= t ? "met" : "**MISSED**"
  }
  $1 ~ /^peer=/ {
    if ($1 == "peer=troupe" && $2 == "bench=workflow" && $3 == "workers=sdk") sdk = $0
    if ($1 == "peer=troupe" && $2 == "bench=workflow" && $3 == "workers=http") http = $0
    if ($1 == "peer=troupe" && $2 == "bench=http") th = $0
    if ($1 == "peer=nginx" && $2 == "bench=http") ng = $0
    if ($1 == "peer=troupe" && $2 == "bench=http_vs_nginx") ratio = $0
    if ($1 == "peer=lmdb" && $2 == "bench=limits" && get($0, "runs") != "0") lim = $0
  }
  END {
    one = get(lim, "lmdb_commit_sync_per_s") + 0; batch = get(lim, "lmdb_put_batch1000_per_s") + 0
    print "| measure | troupe | target | |"
    print "| --- | --- | --- | --- |"
    if (sdk != "") {
      print "| workflow, SDK workers: instances/s (start -> external task -> end, sync) | " prim(sdk, "instances_per_s") " | >= " rate(tsdk) " | " target(sdk, "instances_per_s", tsdk) " |"
      print "| SDK: start latency p50 / p99 at " rate(get(sdk, "paced_per_s")) "/s (half the peak) | " sig(get(sdk, "start_p50_ms")) " / " sig(get(sdk, "start_p99_ms")) " ms | | |"
      e = get(sdk, "instances_per_s") * epi
      if (one > 0) print "| SDK: durable events/s (" epi " per instance) vs raw LMDB | " rate(e) " | | " sprintf("%.1f%%", 100 * e / batch) " of lmdb_put_batch1000, " sprintf("%.0fx", e / one) " lmdb_commit_sync |"
    }
    if (http != "" && get(http, "skipped") != "")
      print "| workflow, HTTP workers (Camunda REST) | skipped: " get(http, "skipped") " | >= " rate(thttp) " | not measured |"
    else if (http != "") {
      print "| workflow, HTTP workers (Camunda REST, C driver): instances/s | " prim(http, "instances_per_s") " | >= " rate(thttp) " | " target(http, "instances_per_s", thttp) " |"
      print "| HTTP: start latency p50 / p99 at " rate(get(http, "paced_per_s")) "/s (half the peak) | " sig(get(http, "start_p50_ms")) " / " sig(get(http, "start_p99_ms")) " ms | | |"
    }
    if (th != "" || ng != "") {
      r = get(ratio, "ratio")
      print "| HTTP small GET (" get(th, "path") ", " get(th, "body_bytes") " B, wrk -t" get(th, "wrk_threads") " -c" get(th, "conns") ", pin=" get(th, "pin") "): troupe req/s | " prim(th, "req_per_s") " | | |"
      print "| nginx, the same bytes as a static file, same run | " prim(ng, "req_per_s") " | | |"
      print "| troupe / nginx | " (r == "" ? "-" : sprintf("%.2f", r)) " | >= " tng " | " (r == "" ? "no result" : (r + 0 >= tng ? "met" : "**MISSED**")) " |"
    }
    if (lim != "") {
      print "| raw LMDB, one put per fsync'"'"'d commit (lmdb_probe) | " rate(one) " commits/s | | |"
      print "| raw LMDB, 1000 puts per commit | " rate(batch) " puts/s | | |"
    }
    print "| published: Camunda 7, 4-core notebook | 100-500 instances/s (quoted) | | |"
    print "| published: Camunda 8 / Zeebe, 3 brokers | ~250 instances/s (quoted) | | |"
  }'
}

# missing_runs RAW PEERS -- BENCHES: a runs=0 line for every pair with no ok run, so
# that a benchmark that always failed still shows up (for troupe: every group of
# troupe_groups, e.g. each writers= of persist).
missing_runs() {
  local raw=$1 p b g; shift
  local peers=()
  while [ "$1" != -- ]; do peers+=("$1"); shift; done
  shift
  for b in "$@"; do
    for p in "${peers[@]}"; do
      if [ "$p" = troupe ]; then
        while read -r g; do
          grep -q "^peer=$p $g\( \|\$\)" "$raw" || echo "peer=$p $g runs=0"
        done < <(troupe_groups "$b")
      else
        grep -q "^peer=$p bench=${b}[ _]" "$raw" || echo "peer=$p bench=$b runs=0"
      fi
    done
  done
}

main() {
  local names=("$@") b rc
  [ ${#names[@]} -gt 0 ] || read -r -a names <<< "$DEFAULT_BENCHES"
  for b in "${names[@]}"; do
    rc=0; troupe_cmd "$b" || rc=$?
    [ $rc -ne 2 ] || { say "unknown benchmark: $b (known: $KNOWN_BENCHES)"; exit 2; }
  done
  local run_names=()
  mapfile -t run_names < <(troupe_runnable "${names[@]}")
  [ ${#run_names[@]} -gt 0 ] || exit 0
  troupe_build "${run_names[@]}"
  mkdir -p "$OUT_DIR"
  local stamp med rep v
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  RAW="$OUT_DIR/raw-$stamp.txt"
  med="$OUT_DIR/median-$stamp.txt"
  : > "$RAW"
  calib_setup
  local lmdb=0
  if [[ " ${run_names[*]} " == *" workflow "* ]]; then
    if [ -f "$LIMITS_SRC/lmdb_probe.c" ]; then lmdb=1; lmdb_build; else say "no $LIMITS_SRC/lmdb_probe.c: no raw LMDB line"; fi
  fi
  {
    troupe_version
    echo "peer=machine bench=version nproc=$(nproc) loadavg=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,) date=$(date -u +%Y-%m-%dT%H:%MZ)"
    [ $lmdb = 0 ] || lmdb_version
  } | tee "$med" >&2
  for b in "${run_names[@]}"; do
    for ((rep = 1; rep <= REPS; rep++)); do
      for v in $(troupe_variants "$b"); do
        bench_settle
        troupe_run "$b" "$rep" "$v"
      done
      if [ "$b" = workflow ] && [ $lmdb = 1 ]; then  # the raw limit beside it, same repetition
        bench_settle
        say "bench=limits rep=$rep peer=lmdb"
        record "peer=lmdb bench=limits rep=$rep" lmdb_limits
      fi
    done
  done
  echo "peer=machine bench=end loadavg=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,) date=$(date -u +%Y-%m-%dT%H:%MZ)" | tee -a "$med" >&2
  { bench_medians < "$RAW"; missing_runs "$RAW" troupe -- "${run_names[@]}"; } | tee -a "$med"
  if [[ " ${run_names[*]} " == *" workflow "* ]] || [[ " ${run_names[*]} " == *" http "* ]]; then
    printf '\n%s\n' "$(wf_summary < "$med")" | tee -a "$med"
  fi
  say "raw runs: ${RAW#"$ROOT"/}  medians: ${med#"$ROOT"/}"
  [ "$FAILED" -eq 0 ] || { say "$FAILED run(s) failed"; exit 1; }
}

# Run only when executed, not when sourced (by compare.sh).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
