#!/usr/bin/env bash
# Run one benchmark script against a throwaway PostgreSQL 15 cluster on a free loopback port
# (started here, migrated, always stopped). As root on Debian 12, like scripts/test.sh:
#   bench/with_postgres.sh bench/<name>/bench_<name>.py [its arguments]
set -Eeuo pipefail
cd "$(dirname "$0")/.."
SCRIPT=$1
shift
PGBIN=/usr/lib/postgresql/15/bin
RUN=$(mktemp -d /tmp/esfca-bench.XXXXXX)
chmod 755 "$RUN"
if [ "$(id -u)" = 0 ]; then
  as_pg() { runuser -u postgres -- "$@"; }
  install -d -o postgres -g postgres -m 700 "$RUN/pg"
else
  as_pg() { "$@"; }
  install -d -m 700 "$RUN/pg"
fi
STARTED=""
cleanup() {
  [ -n "$STARTED" ] && as_pg "$PGBIN/pg_ctl" -D "$RUN/pg/data" -m fast -w stop >/dev/null
  rm -rf "$RUN"
}
trap cleanup EXIT
PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$PGBIN/initdb" -D "$RUN/pg/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
STARTED=1
as_pg "$PGBIN/pg_ctl" -D "$RUN/pg/data" -l "$RUN/pg/server.log" -w -o \
  "-c listen_addresses=127.0.0.1 -p $PORT -k $RUN/pg -c fsync=off -c synchronous_commit=off" start >/dev/null
"$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres esfca_bench
export DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/esfca_bench"
DJANGO_SECRET_KEY="$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(64))')"
export DJANGO_SECRET_KEY DJANGO_DEBUG=0 DJANGO_CONN_MAX_AGE=600
.venv/bin/python manage.py migrate -v0
.venv/bin/python "$SCRIPT" "$@"
