"""Settings read the environment as config/settings.py and design.md document."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "options": db.get("OPTIONS", {}),
    "debug": settings.DEBUG, "hosts": settings.ALLOWED_HOSTS,
    "eager": settings.CELERY_TASK_ALWAYS_EAGER, "broker": settings.CELERY_BROKER_URL,
    "ssl_redirect": getattr(settings, "SECURE_SSL_REDIRECT", False),
    "secure_cookies": getattr(settings, "SESSION_COOKIE_SECURE", False),
    "hsts": getattr(settings, "SECURE_HSTS_SECONDS", 0),
    "fx_feed": settings.FX_FEED_URL,
}))
"""
VARS = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "DJANGO_SECRET_KEY",
    "DJANGO_DEBUG",
    "DJANGO_ALLOWED_HOSTS",
    "FX_FEED_URL",
    "DJANGO_SECURE_SSL_REDIRECT",
)


def probe(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in VARS}
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        [sys.executable, "-c", PROBE], env=clean, cwd=ROOT, capture_output=True, text=True
    )


def settings_with(**env) -> dict:
    result = probe(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_defaults_are_the_embedded_sqlite_with_eager_tasks():
    s = settings_with(DJANGO_DEBUG="1")
    assert s["engine"] == "django.db.backends.sqlite3"
    assert s["name"] == str(ROOT / "db.sqlite3")
    assert s["options"]["transaction_mode"] == "IMMEDIATE"
    assert s["eager"] is True
    assert s["broker"] == ""
    assert s["hosts"] == ["localhost", "127.0.0.1"]
    assert s["fx_feed"] == ""


def test_secret_key_is_required_when_debug_is_off():
    result = probe()
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_production_variables_are_read():
    s = settings_with(
        DJANGO_SECRET_KEY="x" * 60,
        DATABASE_URL="postgres://esfca:pw@db.internal:5433/esfca",
        CELERY_BROKER_URL="redis://cache.internal:6379/0",
        DJANGO_ALLOWED_HOSTS="esfca.example.com, api.example.com",
        FX_FEED_URL="http://feed.internal/latest.json",
        DJANGO_SECURE_SSL_REDIRECT="1",
    )
    assert s["engine"] == "django.db.backends.postgresql"
    assert s["name"] == "esfca"
    assert s["debug"] is False
    assert s["eager"] is False
    assert s["broker"] == "redis://cache.internal:6379/0"
    assert s["hosts"] == ["esfca.example.com", "api.example.com"]
    assert s["fx_feed"] == "http://feed.internal/latest.json"
    assert s["ssl_redirect"] is True
    assert s["secure_cookies"] is True
    assert s["hsts"] >= 31536000


def test_plain_http_behind_a_proxy_is_the_production_default():
    s = settings_with(DJANGO_SECRET_KEY="k" * 50)
    assert s["ssl_redirect"] is False
    assert s["secure_cookies"] is True


@pytest.mark.parametrize("raw,expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_debug_flag_parsing(raw, expected):
    assert settings_with(DJANGO_DEBUG=raw, DJANGO_SECRET_KEY="k" * 50)["debug"] is expected


def test_check_deploy_is_clean_in_production_mode():
    env = {k: v for k, v in os.environ.items() if k not in VARS}
    env.update(
        DJANGO_SECRET_KEY="a-long-random-production-secret-" + "q7Z" * 20,
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="esfca.example.com",
        DJANGO_SECURE_SSL_REDIRECT="1",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
