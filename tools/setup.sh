#!/usr/bin/env bash
# setup.sh - one entry point for a fresh Debian 12 machine.
#
#   tools/setup.sh run [troupe options]   install what is missing, build, start a node
#   tools/setup.sh test                   install what is missing, build, run the suite
#   tools/setup.sh test-asan              the suite under AddressSanitizer + UBSan
#   tools/setup.sh test-tsan              the suite under ThreadSanitizer
#   tools/setup.sh deps | build           just those steps
#
# Installs Debian packages with apt-get (as root, or through sudo) only when
# they are missing. Build dirs: build/ (RelWithDebInfo), build-asan/, build-tsan/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Everything the build, the tests and the benchmarks use (see docs/architecture.md).
PACKAGES=(
  gcc g++ make cmake pkg-config clang
  libuv1-dev libnng-dev libmsgpack-dev liblmdb-dev libsodium-dev
  libhttp-parser-dev libwslay-dev libcurl4-openssl-dev libjansson-dev
  libexpat1-dev libyaml-dev libcmocka-dev curl
)

log() { echo "[setup] $*" >&2; }

deps() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # node and npm for the tests that run Camunda's JavaScript client
  # (tests/clients/camunda): Debian's, unless the machine has them already
  # (a NodeSource nodejs brings its own npm and conflicts with Debian's)
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    missing+=(nodejs npm)
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "need root or sudo to install: ${missing[*]}"; exit 1; }
    sudo="sudo"
  fi
  log "installing: ${missing[*]}"
  if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2; then
    $sudo apt-get update -q >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
  fi
}

jobs() { nproc 2>/dev/null || echo 2; }

build() { # build DIR [cmake options...]
  local dir=$1; shift
  cmake -S . -B "$dir" "$@" >&2
  cmake --build "$dir" -j"$(jobs)" >&2
}

suite() { # suite DIR: the whole test suite of one build
  ctest --test-dir "$1" --output-on-failure -j"$(jobs)" --timeout 900
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  deps) deps ;;
  build) deps; build build ;;
  run) deps; build build; exec build/tools/troupe/troupe "$@" ;;
  test) deps; build build; suite build ;;
  test-asan) deps; build build-asan -DTROUPE_SANITIZE=ON -DTROUPE_BENCH=OFF; suite build-asan ;;
  test-tsan) deps; build build-tsan -DTROUPE_TSAN=ON -DTROUPE_BENCH=OFF; suite build-tsan ;;
  *) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
