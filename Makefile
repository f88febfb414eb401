.PHONY: run test lint bench

# Set up and run the app on SQLite with demo data at http://127.0.0.1:8000/
run:
	scripts/run.sh

# Set up and run the whole test suite on real PostgreSQL and Redis (as root on Debian 12)
test:
	scripts/test.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
