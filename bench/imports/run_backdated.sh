#!/usr/bin/env bash
# The backdated-rows import benchmark (issue 15) on a throwaway PostgreSQL 15 cluster on a
# free loopback port (started here, always stopped). As root on Debian 12, like scripts/test.sh:
#   bench/imports/run_backdated.sh [--sizes 1000,5000,20000] [--runs 3] [--later 1000]
exec "$(dirname "$0")/../with_postgres.sh" bench/imports/bench_backdated.py "$@"
