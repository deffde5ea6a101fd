#!/usr/bin/env bash
# npm run test:fleet — the multi-host test (issue 16): three hosts made of network
# namespaces on this machine, joined by veth pairs to a bridge that lives in a fourth
# namespace, so no address appears in the machine's own namespace and nothing leaves it:
#
#   db  10.77.0.2  PostgreSQL 15 (a throw-away cluster)
#   a   10.77.0.3  npm start (game port 7777, control plane 8080), --server-name fleet-a-<id>
#   b   10.77.0.4  npm start, --server-name fleet-b-<id>
#   c   10.77.0.5  the driver (test/fleet/driver.ts): 200 bots play on a, a drains, they
#                  move to b; it checks every bot's state and prints the table
#
# a and b share the database and the ticket secret; each has its own data directory,
# state directory (token file), server name (pipe path, shared-memory segment). Needs
# root (ip netns). Bounded: every wait has a limit, the driver runs under `timeout`.
# Everything (servers, PostgreSQL, namespaces, temporary files) is removed at the end,
# also on failure or interruption.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "test-fleet: needs root for ip netns (network namespaces)" >&2
  exit 2
fi
pg_bin="${PG_BIN:-/usr/lib/postgresql/15/bin}"
[ -x "$pg_bin/initdb" ] || { echo "test-fleet: $pg_bin/initdb not found (apt-get install postgresql-15)" >&2; exit 2; }
[ -f dist/server.js ] || { echo "test-fleet: dist/server.js missing: npm install (or npm run build) first" >&2; exit 2; }
BOTS="${GAMESRV_FLEET_BOTS:-200}"

id="$(printf '%04x' $((RANDOM % 65536)))"
ns_br="gsf${id}br" ns_db="gsf${id}db" ns_a="gsf${id}a" ns_b="gsf${id}b" ns_c="gsf${id}c"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/gamesrv-fleet.XXXXXX")"
chmod 0755 "$tmp"
pids=()
pg_started=0

cleanup() {
  local status=$?
  set +e
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
  if [ "$pg_started" -eq 1 ]; then
    ip netns exec "$ns_db" runuser -u postgres -- "$pg_bin/pg_ctl" -D "$tmp/pg" -m fast -w stop >/dev/null 2>&1
  fi
  for ns in "$ns_c" "$ns_b" "$ns_a" "$ns_db" "$ns_br"; do ip netns del "$ns" 2>/dev/null; done
  if [ "$status" -ne 0 ]; then
    for log in a b pglog/pg; do [ -f "$tmp/$log.log" ] && { echo "---- $log.log (last 40 lines)" >&2; tail -n 40 "$tmp/$log.log" >&2; }; done
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The network: a bridge in its own namespace; one veth pair per host.
ip netns add "$ns_br"
ip -n "$ns_br" link add br0 type bridge
ip -n "$ns_br" link set br0 up
ip -n "$ns_br" link set lo up
n=2
for ns in "$ns_db" "$ns_a" "$ns_b" "$ns_c"; do
  ip netns add "$ns"
  ip -n "$ns_br" link add "p$n" type veth peer name eth0 netns "$ns"
  ip -n "$ns_br" link set "p$n" master br0 up
  ip -n "$ns" addr add "10.77.0.$n/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  n=$((n + 1))
done

# PostgreSQL on db.
mkdir -p "$tmp/pg" "$tmp/pglog"
chown postgres: "$tmp/pg" "$tmp/pglog"
runuser -u postgres -- "$pg_bin/initdb" -D "$tmp/pg" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$tmp/initdb.log" 2>&1 ||
  { cat "$tmp/initdb.log" >&2; exit 1; }
echo "host all all 10.77.0.0/24 trust" >>"$tmp/pg/pg_hba.conf"
ip netns exec "$ns_db" runuser -u postgres -- "$pg_bin/pg_ctl" -D "$tmp/pg" -l "$tmp/pglog/pg.log" -w -t 60 \
  -o "-c listen_addresses=10.77.0.2 -p 5432 -k $tmp/pg -c max_connections=100" start >/dev/null
pg_started=1
ip netns exec "$ns_db" runuser -u postgres -- "$pg_bin/psql" -h 10.77.0.2 -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
  -c "CREATE DATABASE gamesrv" >/dev/null

# The servers: one token and one ticket secret for the fleet.
token="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
secret="$(head -c 33 /dev/urandom | base64 | tr -d '/+=')"
start_server() {  # name ns address handoff-to
  local name=$1 ns=$2 addr=$3 handoff=$4
  mkdir -p "$tmp/$name-state"
  ip netns exec "$ns" env -u GAMESRV_TOKEN_FILE \
    GAMESRV_TOKEN="$token" GAMESRV_TICKET_SECRET="$secret" XDG_STATE_HOME="$tmp/$name-state" \
    GAMESRV_DATABASE_URL="postgres://postgres@10.77.0.2:5432/gamesrv" \
    node dist/server.js --host "$addr" --port 8080 --game-host "$addr" --game-port 7777 \
    --server-name "fleet-$name-$id" --data-dir "$tmp/$name-data" --database postgres \
    --durability journal --flush-ms 200 --drain-deadline 20000 --session-rate 200 --handoff-url "$handoff" \
    >"$tmp/$name.log" 2>&1 &
  pids+=($!)
}
start_server a "$ns_a" 10.77.0.3 10.77.0.4:7777  # a's players go to b
start_server b "$ns_b" 10.77.0.4 10.77.0.3:7777

export GAMESRV_FLEET_TOKEN="$token"
timeout --kill-after=10 300 ip netns exec "$ns_c" node --import tsx test/fleet/driver.ts \
  --a http://10.77.0.3:8080 --b http://10.77.0.4:8080 --a-game 10.77.0.3:7777 --b-game 10.77.0.4:7777 --bots "$BOTS"
