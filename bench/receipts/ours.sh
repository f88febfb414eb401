#!/usr/bin/env bash
# OUR_CMD for the hordak harness (see vs_hordak.sh): receipt_record on the harness's cluster,
# its own database, migrated before anything is timed; writes $RESULTS/ours_single.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
DB=${BENCH_OUR_DB:-esfca_bench_receipts}
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
"$PY" bench/receipts/bench_receipts.py --existing "${EXISTING:-10000}" \
  --receipts "${RECEIPTS:-300}" --reps "$REPS" --json "$RESULTS/ours_single.json"
