#!/usr/bin/env bash
# Run the app on its embedded default: SQLite, tasks in-process, demo data loaded.
#   make run         # then open http://127.0.0.1:8000/
set -Eeuo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 DJANGO_DEBUG=${DJANGO_DEBUG:-1}
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q -c constraints.txt -e . 2>&1 | grep -v 'is ignored' || true
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py load_demo
echo
echo "ESFCA manager: http://127.0.0.1:8000/   (admin: http://127.0.0.1:8000/admin/)"
echo "Demo logins are listed above; every demo password is: demo-password-2025"
exec .venv/bin/python manage.py runserver 127.0.0.1:8000
