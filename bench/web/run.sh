#!/usr/bin/env bash
# Web pages at a bank's scale: the demo data plus a firm with 50,000 receipts in 12 months,
# gunicorn (2 workers x 4 threads) on a throwaway PostgreSQL 15 cluster (started here, always
# stopped); single requests, then locust's 50 users. Needs the bench extra:
#   .venv/bin/pip install -c constraints.txt -e '.[bench]'
#   bench/web/run.sh [--receipts 50000] [--runs 3] [--seconds 60] [--single 15]
export DJANGO_SECURE_SSL_REDIRECT=0 DJANGO_ALLOWED_HOSTS=127.0.0.1
exec "$(dirname "$0")/../with_postgres.sh" bench/web/bench_web.py "$@"
