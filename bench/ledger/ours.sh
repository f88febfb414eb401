#!/usr/bin/env bash
# OUR_CMD for ../shared/bench/hordak/run.sh: our posting path on the harness's PostgreSQL cluster.
# Uses BENCH_PGHOST/PORT/USER, N, REPS and RESULTS from the harness; its own database, migrated
# before anything is timed; writes $RESULTS/ours_single.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
DB=${BENCH_OUR_DB:-esfca_bench}
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
"$PY" manage.py bench_posting -n "${N:-10000}" --reps "${REPS:-3}" \
  --history "${HISTORY:-1000000}" --json "$RESULTS/ours_single.json" >/dev/null
echo "ours: $RESULTS/ours_single.json"
