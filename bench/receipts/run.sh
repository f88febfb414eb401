#!/usr/bin/env bash
# One receipt at a time through the full service, in an empty and in a full month, beside
# the ledger's own posting, on a throwaway PostgreSQL 15 cluster (started here, always
# stopped). As root on Debian 12, like scripts/test.sh:
#   bench/receipts/run.sh [--existing 10000] [--receipts 300] [--reps 3]
exec "$(dirname "$0")/../with_postgres.sh" bench/receipts/bench_receipts.py "$@"
