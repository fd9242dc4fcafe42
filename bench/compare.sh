#!/usr/bin/env bash
# troupe against the peers kit (Erlang/OTP, CAF; ../shared/peers) in ONE invocation
# on the same machine: for every benchmark, repetition 1 of troupe, erlang, caf, then
# repetition 2, ... (interleaved, so slow phases of the shared VM hit all three).
#
# usage: bench/compare.sh [names...]      default: pingpong fanout spawn skynet
#   REPS=5 bench/compare.sh spawn
#   PEERS=caf SK_SIZE=100000 bench/compare.sh skynet
#
# Prints version lines, then one median line per peer and benchmark (kit format,
# runs=<ok runs>), then a summary table: the better peer per metric and troupe's
# ratio to it (>1 means troupe is better; for ms, bytes and MB it is peer / troupe).
# Knobs: REPS (3), PEERS ("erlang caf"), TIMEOUT (180 s per run), SETTLE_MAX (30 s),
# the kit's sizes and options (PP_N FO_S FO_M SP_K SP_SETTLE_MS SK_SIZE SK_DIV RM_*,
# CAF_SPAWN_OPTS, ...), PEERS_KIT (kit source), KIT_DIR (where it is copied and built).
# Raw runs, medians and the table go to build/bench-results/compare-*-<stamp>.txt.
set -euo pipefail

REPS=${REPS:-3}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KIT_SRC=${PEERS_KIT:-$ROOT/../shared/peers}
KIT=${KIT_DIR:-$ROOT/build/peers}
KIT_BENCHES="pingpong fanout spawn skynet remote"  # the cases of the kit's run_one

# ../shared is read-only to us: work on a copy. Timestamps are kept, so the kit's
# make-like checks keep its g++ builds in $KIT/build between invocations.
kit_copy() {
  local f
  mkdir -p "$KIT"
  for f in "$KIT_SRC"/* "$KIT_SRC"/.gitignore; do
    case "$(basename "$f")" in build | results) continue ;; esac
    rm -rf "${KIT:?}/$(basename "$f")"
    cp -R --preserve=timestamps "$f" "$KIT/"
  done
  chmod -R u+w "$KIT"
  # We source the kit's functions instead of calling its run.sh once per run: every
  # call recompiles the .erl files, starts erl for versions and re-probes the quiet
  # CPU baseline (~2 s each), and a baseline probed right after a run that freed
  # gigabytes is not quiet, which defeats the settle step.
  if [ "$(tail -n 1 "$KIT/run.sh")" != 'main "$@"' ]; then
    echo "compare.sh: $KIT_SRC/run.sh no longer ends with 'main \"\$@\"'; update kit_copy" >&2
    exit 1
  fi
  head -n -1 "$KIT/run.sh" > "$KIT/kit-lib.sh"
}
kit_copy
# shellcheck source=/dev/null
source "$KIT/kit-lib.sh"                   # install_missing build versions settle run_one medians ...
source "$ROOT/bench/run.sh"                # troupe_cmd troupe_build troupe_run record ...

# One row per benchmark and metric: its primary metric (the one with _min/_max),
# bytes_per_actor and peak_rss_mb. Lower is better for ms, bytes and MB.
summary() { # summary PEER... < median lines
  awk -v peers="$*" -v reps="$REPS" '
  # Rates in M or K (chosen by the largest value of the row), 3 significant digits.
  function unit(x, k) {
    DIV = 1; SUF = ""
    if (k ~ /_per_s$/ && x >= 1e6) { DIV = 1e6; SUF = " M" }
    else if (k ~ /_per_s$/ && x >= 1e3) { DIV = 1e3; SUF = " K" }
  }
  function num(x) { x /= DIV; return sprintf(x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : "%.2f", x) }
  function cell(p, b, k, prim,   s) {
    if (!((p, b, k) in val)) return ((p, b) in runs && runs[p, b] == 0) ? "failed" : "-"
    s = num(val[p, b, k]) SUF
    if (prim) s = s " [" num(val[p, b, k "_min"]) "-" num(val[p, b, k "_max"]) "]"
    if (runs[p, b] + 0 < reps + 0) s = s " (" runs[p, b] "/" reps " runs)"
    return s
  }
  function row(b, k, lower, prim,   i, p, x, t, have, best, bp, line, r) {
    have = 0; bp = "-"; r = "-"; x = 0
    for (i = 1; i <= np; i++) if ((P[i], b, k) in val && val[P[i], b, k] + 0 > x) x = val[P[i], b, k] + 0
    unit(x, k)
    line = "| " b " | " k " |"
    for (i = 1; i <= np; i++) {
      p = P[i]; line = line " " cell(p, b, k, prim) " |"
      if (p == "troupe" || !((p, b, k) in val)) continue
      x = val[p, b, k] + 0
      if (!have || (lower ? x < best : x > best)) { have = 1; best = x; bp = p }
    }
    if (have && (("troupe", b, k) in val)) {
      t = val["troupe", b, k] + 0
      if (lower && t > 0) r = sprintf("%.2fx", best / t)
      if (!lower && best > 0) r = sprintf("%.2fx", t / best)
    }
    print line " " bp " | " r " |"
  }
  $1 ~ /^peer=/ && $2 ~ /^bench=/ {
    p = substr($1, 6); b = substr($2, 7)
    if (p == "machine") {  # the state of the machine at start and end, for the footer
      for (i = 3; i <= NF; i++) { eq = index($i, "="); if (eq) m[b, substr($i, 1, eq - 1)] = substr($i, eq + 1) }
      next
    }
    if (b == "version") next
    if (!(b in bseen)) { bseen[b] = 1; border[++nb] = b }
    for (i = 3; i <= NF; i++) {
      eq = index($i, "="); if (!eq) continue
      k = substr($i, 1, eq - 1); v = substr($i, eq + 1)
      if (k == "runs") { runs[p, b] = v + 0; continue }
      val[p, b, k] = v; has[b, k] = 1
      if (k ~ /_min$/) prim[b] = substr(k, 1, length(k) - 4)
    }
  }
  END {
    np = split(peers, P, " ")
    line = "| benchmark | metric |"; sep = "| --- | --- |"
    for (i = 1; i <= np; i++) { line = line " " P[i] " |"; sep = sep " --- |" }
    print line " better peer | troupe vs better |"
    print sep " --- | --- |"
    for (j = 1; j <= nb; j++) {
      b = border[j]
      if (b in prim) row(b, prim[b], prim[b] == "ms", 1)
      else row(b, "(no result)", 0, 0)
      if (has[b, "bytes_per_actor"]) row(b, "bytes_per_actor", 1, 0)
      if (has[b, "peak_rss_mb"]) row(b, "peak_rss_mb", 1, 0)
    }
    print ""
    print "medians of " reps " runs [min-max of the primary metric]; troupe vs better: >1 means troupe is better"
    print "(rates: troupe / peer; ms, bytes_per_actor, peak_rss_mb: peer / troupe)"
    print "peer=machine bench=summary nproc=" m["version", "nproc"] " cpu_base_ns=" m["version", "cpu_base_ns"] \
      " loadavg_start=" m["version", "loadavg"] " loadavg_end=" m["calib_end", "loadavg1"] \
      " touch_us_per_page_start=" m["calib", "touch_us_per_page"] " touch_us_per_page_end=" m["calib_end", "touch_us_per_page"] \
      " cpu_ns_per_iter_start=" m["calib", "cpu_ns_per_iter"] " cpu_ns_per_iter_end=" m["calib_end", "cpu_ns_per_iter"]
  }'
}

# shellcheck disable=SC2153  # BUILD, PEERS: set by the kit's run.sh
compare_main() {
  local names=("$@") b rc
  [ ${#names[@]} -gt 0 ] || read -r -a names <<< "$DEFAULT_BENCHES"
  for b in "${names[@]}"; do
    rc=0; troupe_cmd "$b" || rc=$?
    if [ $rc -eq 2 ] && [[ " $KIT_BENCHES " != *" $b "* ]]; then
      say "unknown benchmark: $b (known: $DEFAULT_BENCHES, kit: $KIT_BENCHES)"
      exit 2
    fi
  done
  local troupe_names=()
  mapfile -t troupe_names < <(troupe_runnable "${names[@]}")

  install_missing
  build                                    # the kit's: erlc, g++, calib
  troupe_build "${troupe_names[@]}"
  mkdir -p "$OUT_DIR"
  local stamp med rep peer
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  RAW="$OUT_DIR/compare-raw-$stamp.txt"
  med="$OUT_DIR/compare-$stamp.txt"
  : > "$RAW"
  CPU_BASE=$("$BUILD/calib" probe)         # quiet baseline, once, before any run
  { versions; troupe_version; } | tee "$med"

  for ((rep = 1; rep <= REPS; rep++)); do "$BUILD/calib" | tee -a "$RAW" >&2; done
  for b in "${names[@]}"; do
    for ((rep = 1; rep <= REPS; rep++)); do
      if [[ " ${troupe_names[*]} " == *" $b "* ]]; then
        settle
        troupe_run "$b" "$rep"
      fi
      [[ " $KIT_BENCHES " == *" $b "* ]] || continue
      for peer in $PEERS; do
        settle
        say "bench=$b rep=$rep peer=$peer"
        record "peer=$peer bench=$b rep=$rep" run_one "$peer" "$b"
      done
    done
  done
  for ((rep = 1; rep <= REPS; rep++)); do
    "$BUILD/calib" | sed 's/bench=calib /bench=calib_end /' | tee -a "$RAW" >&2
  done

  local kit_names=() all_peers=()
  for b in "${names[@]}"; do [[ " $KIT_BENCHES " != *" $b "* ]] || kit_names+=("$b"); done
  read -r -a all_peers <<< "troupe $PEERS"
  {
    medians < "$RAW"
    [ ${#troupe_names[@]} -eq 0 ] || missing_runs "$RAW" troupe -- "${troupe_names[@]}"
    # shellcheck disable=SC2086  # PEERS is a word list
    [ ${#kit_names[@]} -eq 0 ] || missing_runs "$RAW" $PEERS -- "${kit_names[@]}"
  } | tee -a "$med"
  local table
  table=$(summary "${all_peers[@]}" < "$med")
  printf '\n%s\n' "$table" | tee -a "$med"
  say "raw runs: ${RAW#"$ROOT"/}  medians and table: ${med#"$ROOT"/}"
  [ "$FAILED" -eq 0 ] || { say "$FAILED run(s) failed"; exit 1; }
}

compare_main "$@"
