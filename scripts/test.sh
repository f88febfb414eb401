#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine (run as root, or with the packages present):
# installs what is missing, builds .venv, starts PostgreSQL 15 and Redis on free loopback
# ports, runs the static checks and pytest against them, and always stops the servers.
#   make test            # or: scripts/test.sh [pytest args]
set -Eeuo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1
t0=$SECONDS
log() { printf '[test %4ss] %s\n' "$((SECONDS - t0))" "$*"; }

# ---------- 1. Debian packages (only what is missing) ----------
APT_PKGS=(postgresql-15 redis-server chromium poppler-utils libharfbuzz-subset0
          libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core)
missing=()
for p in "${APT_PKGS[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
done
if ((${#missing[@]})); then
  [ "$(id -u)" = 0 ] || { echo "missing Debian packages (${missing[*]}): run as root" >&2; exit 1; }
  log "apt-get install ${missing[*]}"
  if [[ " ${missing[*]} " == *" postgresql-15 "* ]]; then  # no auto 'main' cluster on :5432
    mkdir -p /etc/postgresql-common/createcluster.d
    echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/esfca.conf
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---------- 2. venv ----------
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 needed" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q -c constraints.txt -e '.[test]' 2>&1 | grep -v 'is ignored' || true
.venv/bin/python -c 'import django, pytest_django' || { echo "pip install failed" >&2; exit 1; }
log "venv ready"

# ---------- 3. services on loopback; cleanup always ----------
PGBIN=/usr/lib/postgresql/15/bin
RUN=$(mktemp -d /tmp/esfca-test.XXXXXX)
chmod 755 "$RUN"
REDIS_PORT="" PG_STARTED="" TEST_PID=""
cleanup() {
  local rc=$?
  set +e
  [ -n "$TEST_PID" ] && kill -TERM "$TEST_PID" 2>/dev/null && wait "$TEST_PID" 2>/dev/null
  if [ -n "$REDIS_PORT" ]; then
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 \
      || { [ -s "$RUN/redis.pid" ] && kill "$(cat "$RUN/redis.pid")"; }
  fi
  [ -n "$PG_STARTED" ] && as_pg "$PGBIN/pg_ctl" -D "$RUN/pg/data" -m fast -w -t 30 stop >/dev/null
  if [ "$rc" -ne 0 ]; then tail -n 20 "$RUN"/pg/server.log "$RUN"/redis.log 2>/dev/null; fi
  rm -rf "$RUN"
  log "services stopped (exit $rc)"
  exit "$rc"
}
on_signal() { exit 130; }
trap cleanup EXIT
trap on_signal INT TERM HUP

pick_port() {
  .venv/bin/python -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError: s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' "$1"
}
if [ "$(id -u)" = 0 ]; then
  id -u postgres >/dev/null 2>&1 || useradd --system --user-group --no-create-home \
    --home-dir /nonexistent --shell /usr/sbin/nologin postgres
  as_pg() { runuser -u postgres -- "$@"; }
  install -d -o postgres -g postgres -m 700 "$RUN/pg"
else
  as_pg() { "$@"; }
  install -d -m 700 "$RUN/pg"
fi
PGPORT=$(pick_port "${PGPORT:-55433}")
as_pg "$PGBIN/initdb" -D "$RUN/pg/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
  --no-sync >"$RUN/initdb.log"
PG_STARTED=1
as_pg "$PGBIN/pg_ctl" -D "$RUN/pg/data" -l "$RUN/pg/server.log" -w -t 60 -o \
  "-c listen_addresses=127.0.0.1 -p $PGPORT -k $RUN/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null
"$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres esfca
log "postgres up on 127.0.0.1:$PGPORT"

REDIS_WANT=$(pick_port "${REDIS_PORT_WANTED:-56380}")
redis-server --port "$REDIS_WANT" --bind 127.0.0.1 --daemonize yes --dir "$RUN" \
  --pidfile "$RUN/redis.pid" --logfile "$RUN/redis.log" --save '' --appendonly no
REDIS_PORT=$REDIS_WANT
for _ in $(seq 50); do [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] || { echo "redis did not start" >&2; exit 1; }
log "redis up on 127.0.0.1:$REDIS_PORT"

export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/esfca"
export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
export CELERY_RESULT_BACKEND="redis://127.0.0.1:$REDIS_PORT/1"
export CHROMIUM_PATH=/usr/bin/chromium ESFCA_REQUIRE_SERVICES=1
export ESFCA_ARTIFACTS=${ESFCA_ARTIFACTS:-$PWD/test-artifacts}
# A strong key made for this run: with DJANGO_DEBUG=0 the settings refuse a weak one.
DJANGO_SECRET_KEY="$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(64))')"
export DJANGO_SECRET_KEY DJANGO_DEBUG=0 DJANGO_SECURE_SSL_REDIRECT=0
mkdir -p "$ESFCA_ARTIFACTS"

# ---------- 4. static checks ----------
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python manage.py makemigrations --check --dry-run >/dev/null
DJANGO_SECURE_SSL_REDIRECT=1 DJANGO_ALLOWED_HOSTS=esfca.example.com \
  DJANGO_SECRET_KEY="$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
  .venv/bin/python manage.py check --deploy --fail-level WARNING
log "static checks passed"

# ---------- 5. tests (background + wait so a TERM stops the servers at once) ----------
set +e
.venv/bin/pytest -q "$@" &
TEST_PID=$!
wait "$TEST_PID"; rc=$?
TEST_PID=""
set -e
log "test artifacts (screenshots, documents): $ESFCA_ARTIFACTS"
exit "$rc"
