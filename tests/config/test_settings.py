"""Settings read the environment as config/settings.py and design.md document."""

import json
import os
import secrets
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


STRONG = secrets.token_urlsafe(64)


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


@pytest.mark.parametrize(
    "key, why",
    [
        ("test-only-secret-key-not-for-production", "it has 39 characters (at least 50)"),
        ("x" * 60, "it uses 1 different characters (at least 5)"),
        ("abcd" * 20, "it uses 4 different characters (at least 5)"),
        (
            "django-insecure-" + STRONG,
            "it starts with 'django-insecure-', the mark of a throwaway key",
        ),
    ],
)
def test_a_weak_secret_key_is_refused_in_production(key, why):
    result = probe(DJANGO_SECRET_KEY=key)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"DJANGO_SECRET_KEY is too weak for production: {why}." in result.stderr
    assert key not in result.stderr  # the key itself is never printed


def test_a_weak_secret_key_is_allowed_for_development():
    assert settings_with(DJANGO_DEBUG="1", DJANGO_SECRET_KEY="dev")["debug"] is True


def test_production_variables_are_read():
    s = settings_with(
        DJANGO_SECRET_KEY=STRONG,
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
    s = settings_with(DJANGO_SECRET_KEY=STRONG)
    assert s["ssl_redirect"] is False
    assert s["secure_cookies"] is True


@pytest.mark.parametrize("raw,expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_debug_flag_parsing(raw, expected):
    assert settings_with(DJANGO_DEBUG=raw, DJANGO_SECRET_KEY=STRONG)["debug"] is expected


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
