"""Settings of the ESFCA manager, read from the environment (names fixed in the design).

Embedded default: SQLite, tasks run eagerly in-process. Production: PostgreSQL via
DATABASE_URL, Celery on Redis via CELERY_BROKER_URL, DJANGO_DEBUG=0 and a secret key.
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required unless DJANGO_DEBUG=1.")
    SECRET_KEY = "insecure-development-key-only-for-DJANGO_DEBUG-1"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "djmoney",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets from the package: no CDN (banks run offline)
    "django_filters",
    "django_htmx",
    "django_celery_beat",
    "exporters",
    "ledger",
    "esfca",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers queue for the lock instead of failing with "database is locked" (Django 5.1+).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg prepares a statement that asks for it (execute(..., prepare=True): the ledger's
    # posting statement, once per connection), and nothing else: Django's default (None) turns
    # preparing off even for that, and a threshold no statement reaches leaves the automatic
    # preparing of repeated statements off. Django's own cursors bind parameters on the client
    # and are never prepared whatever this says. A pooler in transaction mode needs prepared
    # statements supported (PgBouncer >= 1.21, max_prepared_statements).
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 2**62

AUTH_USER_MODEL = "exporters.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ur", "اردو")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Karachi"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []

EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "esfca@localhost")

# --- Security (on whenever DEBUG is off) -------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")
if not DEBUG:
    # TLS usually ends at the reverse proxy, which also redirects http -> https; set
    # DJANGO_SECURE_SSL_REDIRECT=1 where Django itself faces clients (check --deploy asks).
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- REST API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "EXCEPTION_HANDLER": "esfca.api.exceptions.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ESFCA manager API",
    "DESCRIPTION": "Bank-facing API of the ESFCA manager (contract version 1).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Money ---------------------------------------------------------------------------------
CURRENCIES = ("PKR", "USD", "EUR", "GBP", "AED", "SAR", "CAD", "AUD", "CHF", "CNY")
DEFAULT_CURRENCY = "PKR"

# --- Celery --------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", CELERY_BROKER_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "fx-refresh-working-days": {
        "task": "ledger.tasks.fx_refresh",
        "schedule": crontab(minute=30, hour="10,16", day_of_week="mon-fri"),
    },
    "summaries-draft-monthly": {
        "task": "esfca.tasks.summaries_prepare_drafts",
        "schedule": crontab(minute=0, hour=2, day_of_month=1),
    },
    "summaries-filing-reminders": {
        "task": "esfca.tasks.summaries_send_reminders",
        "schedule": crontab(minute=0, hour=9),
    },
}

FX_FEED_URL = os.environ.get("FX_FEED_URL", "")
ECB_FEED_URL = os.environ.get(
    "ECB_FEED_URL", "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"
)
FX_FEED_TIMEOUT = float(os.environ.get("FX_FEED_TIMEOUT", "10"))
# Currencies the rate table keeps (SBP WACR's ten); feeds must carry them all (ECB: what it has).
FX_CURRENCIES = tuple(
    os.environ.get("FX_CURRENCIES", "AED,AUD,CAD,CHF,CNY,EUR,GBP,JPY,SAR,USD").split(",")
)
# Refreshable providers, in run order (ECB crosses through a USD/PKR rate stored by a better one).
FX_PROVIDERS = tuple(p for p in os.environ.get("FX_PROVIDERS", "oxr,ecb").split(",") if p)
# A new rate moving more than this percentage from the last active one of its source is held.
FX_GUARD_MAX_MOVE_PCT = os.environ.get("FX_GUARD_MAX_MOVE_PCT", "5")  # a Decimal string
# A rate older than this many working days (Mon-Fri) is shown as stale.
FX_STALE_WORKING_DAYS = int(os.environ.get("FX_STALE_WORKING_DAYS", "2"))
# OXR feed: buy = mid x (1 - spread/200), sell = mid x (1 + spread/200); 0 = buy = sell = mid.
FX_FEED_SPREAD_PCT = os.environ.get("FX_FEED_SPREAD_PCT", "0")  # a Decimal string

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}

# --- Audit log (tamper evidence) -----------------------------------------------------------
# The HMAC key of the audit chains (esfca/audit.py). Set it in production, kept apart from
# the database credentials and never changed while the log is kept; unset, a key derived
# from DJANGO_SECRET_KEY is used (a new secret key then fails every older audit row).
AUDIT_KEY = os.environ.get("ESFCA_AUDIT_KEY", "")
# Who did it, for writes made outside the services (signals: users, roles, firms, banks).
MIDDLEWARE.append("esfca.security.AuditActorMiddleware")
