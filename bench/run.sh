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
#   PS_SECS (3 s measured per run; sync mode; data dir: a fresh one under /tmp);
# recover: RC_EVENTS (10000), RC_BIG (1000000: a second run with that many events,
#   for the replay rate; 0 = off). Each recover run prints snapshot=no and snapshot=yes.
# remote: two nodes on loopback (the kit's benchmark 5): RM_N (20000) strict round
#   trips, RM_M (200000) pipelined with RM_W (1000) in flight; one run per payload in
#   RM_PAYLOADS ("64 1024 64u"; "u" = frames not encrypted, to measure sealing).
# virtual: VA_K (100000) names activated, then VA_M (2000000) messages over VA_W
#   (1000) active names and the same over as many refs (troupe only: no peer has it).
# http: wrk (Debian package) for HT_SECS (5) with HT_CONNS (64) keep-alive
#   connections, GET of a 13-byte body from a callback route.
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
KNOWN_BENCHES="$DEFAULT_BENCHES persist recover remote http"

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
HT_SECS=${HT_SECS:-5}
HT_CONNS=${HT_CONNS:-64}

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
    http)     CMD=("$bin" "$HT_SECS" "$HT_CONNS") ;;
    events | warehouse | workflow) return 3 ;;
    *) return 2 ;;
  esac
}

# troupe_variants NAME: the sizes NAME runs at, one run each per repetition ("-": one).
troupe_variants() {
  case "$1" in
    persist) echo "$PS_WRITERS" ;;
    remote) echo "$RM_PAYLOADS" ;;
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
  for b in "$@"; do targets+=("bench_$b"); done
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
BENCH_GROUPS=${BENCH_GROUPS:-"persist=writers recover=events,snapshot remote_pingpong=payload,sealed remote_pipelined=payload,sealed"}
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
  troupe_version | tee "$med" >&2
  for b in "${run_names[@]}"; do
    for ((rep = 1; rep <= REPS; rep++)); do
      for v in $(troupe_variants "$b"); do
        bench_settle
        troupe_run "$b" "$rep" "$v"
      done
    done
  done
  { bench_medians < "$RAW"; missing_runs "$RAW" troupe -- "${run_names[@]}"; } | tee -a "$med"
  say "raw runs: ${RAW#"$ROOT"/}  medians: ${med#"$ROOT"/}"
  [ "$FAILED" -eq 0 ] || { say "$FAILED run(s) failed"; exit 1; }
}

# Run only when executed, not when sourced (by compare.sh).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
