# camunda_lib.sh - shared by the Camunda client tests (sourced after lib.sh):
# node and npm present, the pinned client installed, a troupe daemon on a
# loopback HTTP port and its readiness.
CLIENTS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../clients/camunda" && pwd)

# node and npm are a hard requirement: a missing one fails the test (a skip
# would let the REST API go untested); tools/setup.sh installs them
need_node() {
  command -v node >/dev/null 2>&1 ||
    die "node is not installed: the Camunda client tests run Camunda's JavaScript client (tools/setup.sh deps installs nodejs and npm)"
  command -v npm >/dev/null 2>&1 ||
    die "npm is not installed: it installs the pinned Camunda client (tools/setup.sh deps installs nodejs and npm)"
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 18 ] || die "node $(node --version) is too old: fetch, FormData and Blob need node 18 or later"
  # the client, as pinned by package-lock.json; once per checkout (and again
  # when the lock file changes), under a lock: tests run side by side
  if [ ! -f "$CLIENTS/node_modules/.package-lock.json" ] ||
     [ "$CLIENTS/package-lock.json" -nt "$CLIENTS/node_modules/.package-lock.json" ]; then
    flock "$CLIENTS" bash -c '
      cd "$1"
      if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        npm ci --no-audit --no-fund >&2
      fi' _ "$CLIENTS" || die "npm ci in $CLIENTS failed"
  fi
  [ -f "$CLIENTS/node_modules/camunda-external-task-client-js/package.json" ] ||
    die "camunda-external-task-client-js is not installed in $CLIENTS/node_modules"
}

# ready PORT: /readyz answers 200 "ready" (bash's /dev/tcp: no curl needed)
ready() {
  local port=$1
  (
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
    timeout 5 cat <&3 | grep -q '"status":"ready"'
  ) 2>/dev/null
}

# start_troupe LOG [PORT]: a daemon on $T/data with HTTP on 127.0.0.1:PORT
# (0 or none: any free port, which the kernel picks, so no race with other
# tests); sets TPID and PORT once /readyz answers. Writes to the store are
# synced (--durability sync): what the API acknowledged survives kill -9.
# Returns 1 if the daemon exits while starting (its log says why).
start_troupe() {
  local log=$1 want=${2:-0} i
  "$TROUPE" -d "$T/data" -t 2 --durability sync --http-listen "127.0.0.1:$want" \
    --cluster-listen tcp://127.0.0.1:0 --console-listen tcp://127.0.0.1:0 >"$log" 2>&1 &
  TPID=$!
  PIDS+=("$TPID")
  for ((i = 0; i < 600; i++)); do
    grep -qE 'node [0-9a-f]{16} up: .*http 127\.0\.0\.1:[0-9]+' "$log" 2>/dev/null && break
    kill -0 "$TPID" 2>/dev/null || { cat "$log" >&2; echo "troupe exited while starting" >&2; return 1; }
    sleep 0.05
  done
  PORT=$(grep -oE 'http 127\.0\.0\.1:[0-9]+' "$log" | head -1 | cut -d: -f2)
  [ -n "$PORT" ] || { cat "$log" >&2; die "troupe did not say it was up within 30s"; }
  for ((i = 0; i < 600; i++)); do
    ready "$PORT" && return 0
    sleep 0.05
  done
  cat "$log" >&2
  die "troupe on port $PORT not ready within 30s"
}
