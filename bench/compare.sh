#!/usr/bin/env bash
# troupe against the peers kit (Erlang/OTP, CAF; ../shared/peers) in ONE invocation
# on the same machine: for every benchmark, repetition 1 of troupe, erlang, caf, then
# repetition 2, ... (interleaved, so slow phases of the shared VM hit all three).
# The storage benchmarks persist and recover have no kit counterpart: they are set
# beside the raw LMDB limit on the same disk instead, measured in the same invocation
# by ../shared/limits/lmdb_probe.c (built with gcc into BUILD_DIR, run in a fresh dir
# under /tmp like troupe's data dirs), once per repetition, right after troupe's
# persist runs of that repetition: rep 1 persist (each PS_WRITERS), probe, recover
# (RC_EVENTS, RC_BIG), then rep 2, ...
#
# usage: bench/compare.sh [names...]      default: pingpong fanout spawn skynet
#   REPS=5 bench/compare.sh spawn
#   PEERS=caf SK_SIZE=100000 bench/compare.sh skynet
#   bench/compare.sh persist recover      storage vs raw LMDB (~1 min per repetition)
#   REPS=1 PS_SECS=1 bench/compare.sh persist recover   quick check
#
# Prints version lines, then one median line per peer and benchmark (kit format,
# runs=<ok runs>; persist/recover one per size, see run.sh; the probe's figures as
# `peer=lmdb bench=limits lmdb_put_batch1000_per_s=.. lmdb_commit_sync_per_s=.. ...`),
# then a summary table for the actor benchmarks: the better peer per metric and
# troupe's ratio to it (>1 means troupe is better; for ms, bytes and MB it is
# peer / troupe); and for persist/recover a second one: persisted events/s, p50/p99
# append latency, the ratio to raw LMDB with 1000 puts per commit (%) and with one put
# per commit (x), replay rate and recovery time, each against the issue's targets.
# Knobs: REPS (3), PEERS ("erlang caf"), TIMEOUT (180 s per run), SETTLE_MAX (30 s),
# the kit's sizes and options (PP_N FO_S FO_M SP_K SP_SETTLE_MS SK_SIZE SK_DIV RM_*,
# CAF_SPAWN_OPTS, ...), PEERS_KIT (kit source), KIT_DIR (where it is copied and built),
# run.sh's PS_WRITERS PS_SECS RC_EVENTS RC_BIG, LIMITS_SRC (../shared/limits),
# LIMITS_SECS (the probe's seconds per figure, default 1).
# Raw runs, medians and the tables go to build/bench-results/compare-*-<stamp>.txt.
set -euo pipefail

REPS=${REPS:-3}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KIT_SRC=${PEERS_KIT:-$ROOT/../shared/peers}
KIT=${KIT_DIR:-$ROOT/build/peers}
KIT_BENCHES="pingpong fanout spawn skynet remote"  # the cases of the kit's run_one
STORAGE_BENCHES="persist recover"                  # beside raw LMDB, not the kit
LIMITS_SRC=${LIMITS_SRC:-$ROOT/../shared/limits}

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

# raw LMDB limit: lmdb_build, lmdb_version, lmdb_limits are in run.sh (sourced above)

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

# Targets of issue 3 (Benchmarks): with T_WRITERS writers at least T_BATCH_PCT % of
# lmdb_put_batch1000 and T_SYNC_X times lmdb_commit_sync, p99 under T_P99_MS; replay
# (snapshot=no) at least T_REPLAY events/s.
T_WRITERS=10000 T_BATCH_PCT=35 T_SYNC_X=100 T_P99_MS=20 T_REPLAY=1000000

# The persist/recover table from the median lines; FOOTER=1 adds the machine line
# (when the actor table, which has it, is not printed).
storage_summary() { # storage_summary FOOTER < median lines
  awk -v reps="$REPS" -v footer="$1" -v tw="$T_WRITERS" -v tpct="$T_BATCH_PCT" \
    -v tx="$T_SYNC_X" -v tp99="$T_P99_MS" -v trep="$T_REPLAY" '
  function get(s, k,   n, i, a) {
    n = split(s, a, " ")
    for (i = 1; i <= n; i++) if (index(a[i], k "=") == 1) return substr(a[i], length(k) + 2)
    return ""
  }
  function rate(x) {  # 3 significant digits, K or M
    x += 0
    if (x >= 1e6) return sig(x / 1e6) " M"
    if (x >= 1e3) return sig(x / 1e3) " K"
    return sig(x)
  }
  function sig(x) { return sprintf(x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : "%.2f", x) }
  function ms(x) { return x == "" ? "-" : sig(x + 0) }
  function runs(s,   r) {
    r = get(s, "runs")
    return (r + 0 < reps + 0) ? " (" r "/" reps " runs)" : ""
  }
  function prim(s, k) {  # median [min-max] (runs)
    if (get(s, "runs") == "0") return "failed"
    if (get(s, k) == "") return "-"
    return rate(get(s, k)) " [" rate(get(s, k "_min")) "-" rate(get(s, k "_max")) "]" runs(s)
  }
  $1 ~ /^peer=/ && $2 ~ /^bench=/ {
    p = substr($1, 6); b = substr($2, 7)
    if (p == "machine") {
      for (i = 3; i <= NF; i++) { eq = index($i, "="); if (eq) m[b, substr($i, 1, eq - 1)] = substr($i, eq + 1) }
    }
    else if (p == "lmdb" && b == "version") lver = $0
    else if (p == "lmdb" && b == "limits" && get($0, "runs") != "0") lim = $0
    else if (p == "troupe" && b == "persist") ps[++nps] = $0
    else if (p == "troupe" && b == "recover") rc[++nrc] = $0
  }
  END {
    batch = get(lim, "lmdb_put_batch1000_per_s") + 0; one = get(lim, "lmdb_commit_sync_per_s") + 0
    if (nps) {
      print "| persist (sync) | events/s [min-max] | p50_ms | p99_ms | vs lmdb_put_batch1000 | vs lmdb_commit_sync | target |"
      print "| --- | --- | --- | --- | --- | --- | --- |"
      for (j = 1; j <= nps; j++) {
        s = ps[j]; w = get(s, "writers"); e = get(s, "events_per_s"); p99 = get(s, "p99_ms")
        pct = "-"; x = "-"; t = "-"
        if (e != "" && batch > 0) pct = sprintf("%.1f%%", 100 * e / batch)
        if (e != "" && one > 0) x = sprintf("%.1fx", e / one)
        if (w == tw) {
          if (e == "" || p99 == "") t = "no result"
          else if (batch <= 0 || one <= 0) t = "unknown (no LMDB figure)"
          else {
            miss = ""
            if (100 * e / batch < tpct) miss = miss ", < " tpct "% of batched"
            if (e / one < tx) miss = miss ", < " tx "x one-put"
            if (p99 + 0 >= tp99) miss = miss ", p99 >= " tp99 " ms"
            t = miss == "" ? "met" : "MISSED (" substr(miss, 3) ")"
          }
        }
        print "| troupe writers=" w " | " prim(s, "events_per_s") " | " ms(get(s, "p50_ms")) " | " ms(p99) " | " pct " | " x " | " t " |"
      }
      if (lim == "") print "| raw LMDB (lmdb_probe) | failed | | | | | |"
      else {
        print "| raw lmdb_put_batch1000 | " prim(lim, "lmdb_put_batch1000_per_s") " puts/s | | | 100% | " \
          (one > 0 ? sprintf("%.1fx", batch / one) : "-") " | |"
        print "| raw lmdb_commit_sync | " rate(one) " commits/s | | | " (batch > 0 ? sprintf("%.2f%%", 100 * one / batch) : "-") " | 1.0x | |"
        if (get(lim, "lmdb_commit_nosync_per_s") != "")
          print "| raw lmdb_commit_nosync | " rate(get(lim, "lmdb_commit_nosync_per_s")) " commits/s | | | | | |"
      }
      print ""
      print "target at writers=" tw ": >= " tpct "% of lmdb_put_batch1000, >= " tx "x lmdb_commit_sync, p99 < " tp99 " ms"
    }
    if (nrc) {
      if (nps) print ""
      print "| recover | replayed | replay events/s [min-max] | recover_ms | target (snapshot=no: replay >= " rate(trep) "/s) |"
      print "| --- | --- | --- | --- | --- |"
      for (j = 1; j <= nrc; j++) {
        s = rc[j]; r = get(s, "replay_events_per_s"); t = "-"
        snap = get(s, "snapshot"); rep = get(s, "replayed")
        cellr = prim(s, "replay_events_per_s")
        if (snap == "yes" && rep == "0") cellr = "- (nothing to replay)"
        if (snap == "no") t = get(s, "runs") == "0" ? "no result" : (r + 0 >= trep ? "met" : "MISSED")
        if (snap == "") snap = "?"
        print "| events=" get(s, "events") " snapshot=" snap " | " (rep == "" ? "-" : rep) " | " cellr " | " ms(get(s, "recover_ms")) " | " t " |"
      }
    }
    print ""
    print "medians of " reps " runs [min-max]; raw LMDB: one lmdb_probe run per repetition, right after troupe'"'"'s persist runs"
    if (lver != "") print lver
    if (footer)
      print "peer=machine bench=summary nproc=" m["version", "nproc"] " cpu_base_ns=" m["version", "cpu_base_ns"] \
        " loadavg_start=" m["version", "loadavg"] " loadavg_end=" m["calib_end", "loadavg1"] \
        " touch_us_per_page_start=" m["calib", "touch_us_per_page"] " touch_us_per_page_end=" m["calib_end", "touch_us_per_page"] \
        " cpu_ns_per_iter_start=" m["calib", "cpu_ns_per_iter"] " cpu_ns_per_iter_end=" m["calib_end", "cpu_ns_per_iter"]
  }'
}

is_storage() { [[ " $STORAGE_BENCHES " == *" $1 "* ]]; }

# shellcheck disable=SC2153  # BUILD, PEERS: set by the kit's run.sh
compare_main() {
  local names=("$@") b rc
  [ ${#names[@]} -gt 0 ] || read -r -a names <<< "$DEFAULT_BENCHES"
  for b in "${names[@]}"; do
    rc=0; troupe_cmd "$b" || rc=$?
    if [ $rc -eq 2 ] && [[ " $KIT_BENCHES " != *" $b "* ]]; then
      say "unknown benchmark: $b (known: $KNOWN_BENCHES, kit: $KIT_BENCHES)"
      exit 2
    fi
  done
  local troupe_names=() actor_names=() storage_names=()
  mapfile -t troupe_names < <(troupe_runnable "${names[@]}")
  for b in "${names[@]}"; do
    if is_storage "$b"; then
      [[ " ${troupe_names[*]} " != *" $b "* ]] || storage_names+=("$b")
    else
      actor_names+=("$b")
    fi
  done

  install_missing
  build                                    # the kit's: erlc, g++, calib
  troupe_build "${troupe_names[@]}"
  [ ${#storage_names[@]} -eq 0 ] || lmdb_build
  mkdir -p "$OUT_DIR"
  local stamp med rep peer v
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  RAW="$OUT_DIR/compare-raw-$stamp.txt"
  med="$OUT_DIR/compare-$stamp.txt"
  : > "$RAW"
  CPU_BASE=$("$BUILD/calib" probe)         # quiet baseline, once, before any run
  {
    versions; troupe_version
    [ ${#storage_names[@]} -eq 0 ] || lmdb_version
  } | tee "$med"

  for ((rep = 1; rep <= REPS; rep++)); do "$BUILD/calib" | tee -a "$RAW" >&2; done
  for b in "${actor_names[@]}"; do
    for ((rep = 1; rep <= REPS; rep++)); do
      if [[ " ${troupe_names[*]} " == *" $b "* ]]; then
        for v in $(troupe_variants "$b"); do
          settle
          troupe_run "$b" "$rep" "$v"
        done
      fi
      [[ " $KIT_BENCHES " == *" $b "* ]] || continue
      for peer in $PEERS; do
        settle
        say "bench=$b rep=$rep peer=$peer"
        record "peer=$peer bench=$b rep=$rep" run_one "$peer" "$b"
      done
    done
  done
  # Storage: per repetition troupe's runs of each name, and the LMDB probe once,
  # right after the first name (persist when it is asked for).
  for ((rep = 1; rep <= REPS; rep++)); do
    for b in "${storage_names[@]}"; do
      for v in $(troupe_variants "$b"); do
        settle
        troupe_run "$b" "$rep" "$v"
      done
      if [ "$b" = "${storage_names[0]}" ]; then
        settle
        say "bench=limits rep=$rep peer=lmdb"
        record "peer=lmdb bench=limits rep=$rep" lmdb_limits
      fi
    done
  done
  for ((rep = 1; rep <= REPS; rep++)); do
    "$BUILD/calib" | sed 's/bench=calib /bench=calib_end /' | tee -a "$RAW" >&2
  done

  local kit_names=() all_peers=()
  for b in "${names[@]}"; do [[ " $KIT_BENCHES " != *" $b "* ]] || kit_names+=("$b"); done
  read -r -a all_peers <<< "troupe $PEERS"
  {
    bench_medians < "$RAW"               # the kit's medians, grouped by size for persist/recover
    [ ${#troupe_names[@]} -eq 0 ] || missing_runs "$RAW" troupe -- "${troupe_names[@]}"
    # shellcheck disable=SC2086  # PEERS is a word list
    [ ${#kit_names[@]} -eq 0 ] || missing_runs "$RAW" $PEERS -- "${kit_names[@]}"
    [ ${#storage_names[@]} -eq 0 ] || grep -q '^peer=lmdb bench=limits ' "$RAW" \
      || echo "peer=lmdb bench=limits runs=0"
  } | tee -a "$med"
  local table
  if [ ${#actor_names[@]} -gt 0 ]; then
    # the actor table sees neither the storage lines nor the probe's, and of
    # troupe's remote lines only the peers' case (64 B, sealed): the others
    # (1 KiB, unsealed) would take its row by coming last
    table=$(awk '$2 !~ /^bench=(persist|recover|limits)$/ && $1 != "peer=lmdb" &&
                 !($1 == "peer=troupe" && $2 ~ /^bench=remote_/ &&
                   !(/ payload=64 / && / sealed=yes /))' "$med" \
      | summary "${all_peers[@]}")
    printf '\n%s\n' "$table" | tee -a "$med"
  fi
  if [ ${#storage_names[@]} -gt 0 ]; then
    table=$(storage_summary "$([ ${#actor_names[@]} -gt 0 ] && echo 0 || echo 1)" < "$med")
    printf '\n%s\n' "$table" | tee -a "$med"
  fi
  say "raw runs: ${RAW#"$ROOT"/}  medians and table: ${med#"$ROOT"/}"
  [ "$FAILED" -eq 0 ] || { say "$FAILED run(s) failed"; exit 1; }
}

compare_main "$@"
