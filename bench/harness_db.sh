# Sourced by an OUR_CMD of ../shared/bench/hordak/run.sh (bench/ledger/ours.sh,
# bench/receipts/ours.sh): our own database on the harness's PostgreSQL cluster (from
# BENCH_PGHOST/PORT/USER), created afresh and migrated before anything is timed; leaves the
# working directory at the project root and PY set.
#   . "$(dirname "$0")/../harness_db.sh" DATABASE_NAME
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DB=${BENCH_OUR_DB:-$1}
PY=${PYTHON:-.venv/bin/python}
"$PY" - <<PY
import psycopg
with psycopg.connect(host="$BENCH_PGHOST", port="$BENCH_PGPORT", user="$BENCH_PGUSER",
                     dbname="postgres", autocommit=True) as conn:
    conn.execute('DROP DATABASE IF EXISTS "$DB"')
    conn.execute('CREATE DATABASE "$DB"')
PY
export DATABASE_URL="postgres://$BENCH_PGUSER@$BENCH_PGHOST:$BENCH_PGPORT/$DB"
DJANGO_SECRET_KEY="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(64))')"
export DJANGO_SECRET_KEY DJANGO_DEBUG=0 DJANGO_CONN_MAX_AGE=600
"$PY" manage.py migrate -v0
