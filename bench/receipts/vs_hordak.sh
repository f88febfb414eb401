#!/usr/bin/env bash
# receipt_record (the full service) beside django-hordak's single-commit transfers in the same
# run, on the shared harness's throwaway cluster (../shared/bench/hordak/run.sh, or $HARNESS):
#   bench/receipts/vs_hordak.sh            # N=2000 hordak transfers x REPS=3; ours 300 x 3
# Prints the harness's table, then ours / hordak.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
HARNESS=${HARNESS:-$HERE/../../../shared/bench/hordak/run.sh}
export N=${N:-2000} REPS=${REPS:-3} WORK=${WORK:-/tmp/hordak-bench-receipts}
export RESULTS=${RESULTS:-$WORK/results}
export OUR_CMD="$HERE/ours.sh"
rm -rf "$RESULTS"
"$HARNESS"
"$HERE/../../.venv/bin/python" - "$RESULTS" <<'PY'
import json, pathlib, statistics, sys
results = pathlib.Path(sys.argv[1])
hordak = statistics.median(
    json.loads(p.read_text())["transfers_per_s"] for p in results.glob("hordak_single_r*.json")
)
ours = json.loads((results / "ours_single.json").read_text())
print(f"hordak single-commit median: {hordak:,.1f}/s")
print(f"receipt_record, month empty: {ours['transfers_per_s']:,.1f}/s = {ours['transfers_per_s'] / hordak:.2f}x hordak")
print(f"receipt_record, {ours['existing_in_month']:,} in month: {ours['full_month_per_s']:,.1f}/s = {ours['full_month_per_s'] / hordak:.2f}x hordak")
print(f"our ledger posting alone: {ours['ledger_floor_per_s']:,.1f}/s = {ours['ledger_floor_per_s'] / hordak:.2f}x hordak")
PY
