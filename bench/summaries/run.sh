#!/usr/bin/env bash
# The summaries benchmark on a throwaway PostgreSQL 15 cluster on a free loopback port
# (started here, always stopped). As root on Debian 12, like scripts/test.sh:
#   bench/summaries/run.sh [--receipts 1000,10000,50000] [--firms 1000] [--reps 7]
exec "$(dirname "$0")/../with_postgres.sh" bench/summaries/bench_summaries.py "$@"
