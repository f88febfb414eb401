#!/usr/bin/env bash
# OUR_CMD for the hordak harness (see vs_hordak.sh): receipt_record on the harness's cluster,
# its own database, migrated before anything is timed; writes $RESULTS/ours_single.json.
set -euo pipefail
. "$(dirname "$0")/../harness_db.sh" esfca_bench_receipts
"$PY" bench/receipts/bench_receipts.py --existing "${EXISTING:-10000}" \
  --receipts "${RECEIPTS:-300}" --reps "$REPS" --json "$RESULTS/ours_single.json"
