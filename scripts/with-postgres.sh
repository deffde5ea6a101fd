#!/usr/bin/env bash
# Runs a command beside a throw-away PostgreSQL 15 cluster:
#   bash scripts/with-postgres.sh <command...>
# initdb in a fresh temporary directory (owned by the `postgres` user when run as root:
# PostgreSQL refuses to run as root), trust authentication for local connections only,
# listening on 127.0.0.1 on a free port and on a unix socket in that directory; a database
# `gamesrv`; GAMESRV_TEST_DATABASE_URL exported for the command. The cluster is always
# stopped (pg_ctl stop -m fast) and its directory removed, and the command's exit status
# is returned. Binaries: $PG_BIN, else /usr/lib/postgresql/15/bin (Debian's postgresql-15).
set -euo pipefail
if [ "$#" -eq 0 ]; then
  echo "usage: $0 <command...>" >&2
  exit 2
fi
pg_bin="${PG_BIN:-/usr/lib/postgresql/15/bin}"
for tool in initdb pg_ctl; do
  if [ ! -x "$pg_bin/$tool" ]; then
    echo "with-postgres: $pg_bin/$tool not found (Debian: apt-get install postgresql-15, or set PG_BIN)" >&2
    exit 2
  fi
done

# As root, the cluster runs as `postgres`; otherwise as the caller.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  if ! id postgres >/dev/null 2>&1; then
    echo "with-postgres: running as root, but there is no 'postgres' user to run the cluster as" >&2
    exit 2
  fi
  if command -v runuser >/dev/null 2>&1; then as_pg=(runuser -u postgres --); else as_pg=(su postgres -s /bin/sh -c '"$0" "$@"'); fi
  db_user=postgres
else
  db_user="$(id -un)"
fi

dir="$(mktemp -d "${TMPDIR:-/tmp}/gamesrv-pg.XXXXXX")"
chmod 0755 "$dir"  # the cluster's own directories inside stay 0700
[ "${#as_pg[@]}" -gt 0 ] && chown postgres: "$dir"
started=0
cleanup() {
  local status=$?
  if [ "$started" -eq 1 ]; then
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || \
      echo "with-postgres: pg_ctl stop failed; see $dir/server.log" >&2
  fi
  rm -rf "$dir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A port nobody listens on now (the window until the server binds it is small; a
# collision makes pg_ctl fail loudly, not silently share a server).
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)))"

"${as_pg[@]}" "$pg_bin/initdb" -D "$dir/data" -U "$db_user" --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
  cat "$dir/initdb.log" >&2
  exit 1
}
# Loopback TCP and the socket directory only; trust is fine for a cluster nobody else can reach.
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >/dev/null || {
  cat "$dir/server.log" >&2
  exit 1
}
started=1
"${as_pg[@]}" "$pg_bin/psql" -h 127.0.0.1 -p "$port" -U "$db_user" -d postgres -q -v ON_ERROR_STOP=1 \
  -c "CREATE DATABASE gamesrv" >/dev/null 2>"$dir/createdb.log" || {
  cat "$dir/createdb.log" >&2
  exit 1
}
export GAMESRV_TEST_DATABASE_URL="postgres://$db_user@127.0.0.1:$port/gamesrv"
echo "with-postgres: PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') at $GAMESRV_TEST_DATABASE_URL (data in $dir)" >&2
set +e
"$@"
status=$?
set -e
exit "$status"
