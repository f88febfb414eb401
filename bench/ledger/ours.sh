#!/usr/bin/env bash
# OUR_CMD for ../shared/bench/hordak/run.sh: our posting path on the harness's PostgreSQL cluster.
# Uses BENCH_PGHOST/PORT/USER, N, REPS and RESULTS from the harness; its own database, migrated
# before anything is timed; writes $RESULTS/ours_single.json.
set -euo pipefail
. "$(dirname "$0")/../harness_db.sh" esfca_bench
"$PY" manage.py bench_posting -n "${N:-10000}" --reps "${REPS:-3}" \
  --history "${HISTORY:-1000000}" --json "$RESULTS/ours_single.json" >/dev/null
echo "ours: $RESULTS/ours_single.json"
