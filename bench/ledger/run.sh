#!/usr/bin/env bash
# Side-by-side posting benchmark: django-hordak vs. our ledger on one throwaway PostgreSQL 15.
#   bench/ledger/run.sh                    # N=10000 REPS=3, results in $WORK/results
# Uses the shared harness (../shared/bench/hordak/run.sh, or $HARNESS) with ours.sh as OUR_CMD.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
HARNESS=${HARNESS:-$HERE/../../../shared/bench/hordak/run.sh}
export N=${N:-10000} REPS=${REPS:-3} WORK=${WORK:-/tmp/hordak-bench}
export OUR_CMD="$HERE/ours.sh"
exec "$HARNESS"
