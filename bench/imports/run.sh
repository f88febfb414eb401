#!/usr/bin/env bash
# The receipts import benchmark on a throwaway PostgreSQL 15 cluster on a free loopback port
# (started here, always stopped). As root on Debian 12, like scripts/test.sh:
#   bench/imports/run.sh [--rows 100000] [--per-month 500] [--per-row 2000]
exec "$(dirname "$0")/../with_postgres.sh" bench/imports/bench_imports.py "$@"
