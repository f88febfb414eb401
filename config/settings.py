"""Settings of the ESFCA manager, read from the environment (names fixed in the design).

Embedded default: SQLite, tasks run eagerly in-process. Production: PostgreSQL via
DATABASE_URL, Celery on Redis via CELERY_BROKER_URL, DJANGO_DEBUG=0 and a secret key.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def secret_key_weakness(key: str) -> str | None:
    """Why ``key`` is too weak to sign sessions and password-reset links in production (the
    limits of Django's ``check --deploy``, security.W009), or None."""
    if key.startswith(SECRET_KEY_INSECURE_PREFIX):
        return f"it starts with {SECRET_KEY_INSECURE_PREFIX!r}, the mark of a throwaway key"
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"it has {len(key)} characters (at least {SECRET_KEY_MIN_LENGTH})"
    if (distinct := len(set(key))) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        return (
            f"it uses {distinct} different characters (at least {SECRET_KEY_MIN_UNIQUE_CHARACTERS})"
        )
    return None


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required unless DJANGO_DEBUG=1.")
    SECRET_KEY = "insecure-development-key-only-for-DJANGO_DEBUG-1"
elif not DEBUG and (weakness := secret_key_weakness(SECRET_KEY)):
    raise ImproperlyConfigured(
        f"DJANGO_SECRET_KEY is too weak for production: {weakness}. Make one with: "
        "python -c 'import secrets; print(secrets.token_urlsafe(64))'"
    )
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")

INSTALLED_APPS = [
    "exporters",  # first: its createsuperuser (password validators with --noinput) wins
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
    "ledger",
    "esfca",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy (see "Headers" below)
    "django_permissions_policy.PermissionsPolicyMiddleware",
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

# --- Headers (issue 14) --------------------------------------------------------------------
# Every script and stylesheet is a file served from this site (htmx from django-htmx, Swagger UI
# from drf-spectacular-sidecar, our app.css): no inline code, no CDN, no eval.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],  # the favicon placeholder, Swagger UI's icons
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Browser features no page of the app uses, turned off for it and anything it could embed.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer", "autoplay", "browsing-topics", "camera", "display-capture",
        "encrypted-media", "fullscreen", "geolocation", "gyroscope", "magnetometer",
        "microphone", "midi", "payment", "picture-in-picture", "publickey-credentials-get",
        "screen-wake-lock", "usb", "xr-spatial-tracking",
    )
}  # fmt: skip

# --- Sign-in security (issue 14): throttling, second factor ------------------------------
# django-axes (esfca/lockout.py): 10 failed sign-ins for one username, or from one address,
# lock it out for 15 minutes (429 with Retry-After), on the web login and the API's token.
# Counts live in the database (shared by every web worker, on SQLite and PostgreSQL alike).
# django-otp (esfca/second_factor.py): TOTP and recovery codes for reviewers and admins.
INSTALLED_APPS += [
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
]
MIDDLEWARE += [
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified()
    "esfca.middleware.SecondFactorMiddleware",  # reviewers and admins pass it before any page
    "axes.middleware.AxesMiddleware",  # last, as axes asks
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out username or address
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = 10
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own, not the pair
AXES_RESET_ON_SUCCESS = False  # a success on one's own account must not clear an address
AXES_LOCKOUT_CALLABLE = "esfca.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "esfca.lockout.client_address"
AXES_VERBOSE = False  # no banner on every manage.py command; failures are still logged
# Reverse proxies in front of Django that append the client's address to X-Forwarded-For
# (SECURE_PROXY_SSL_HEADER already trusts one when DEBUG is off); 0 where Django faces clients.
TRUSTED_PROXIES = int(os.environ.get("DJANGO_TRUSTED_PROXIES", "0" if DEBUG else "1"))
OTP_TOTP_ISSUER = "ESFCA manager"  # the account's label in authenticator apps
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # the admin never shows a TOTP key or a recovery code

# --- Sign-in security (issue 14): API tokens ----------------------------------------------
# A token lives this long from its creation (esfca/tokens.py); expired → 401.
API_TOKEN_LIFETIME_HOURS = float(os.environ.get("API_TOKEN_LIFETIME_HOURS", "24"))

# --- REST API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [  # token lifetime, second factor on sessions
        "esfca.api.authentication.ApiTokenAuthentication",
        "esfca.api.authentication.VerifiedSessionAuthentication",
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
# A new rate moving more than this percentage from the latest active one is held (rules.md §10).
FX_GUARD_MAX_MOVE_PCT = os.environ.get("FX_GUARD_MAX_MOVE_PCT", "5")  # a Decimal string
# A rate older than this many working days (Mon-Fri) is shown as stale.
FX_STALE_WORKING_DAYS = int(os.environ.get("FX_STALE_WORKING_DAYS", "2"))
# OXR feed: buy = mid x (1 - spread/200), sell = mid x (1 + spread/200); 0 = buy = sell = mid.
FX_FEED_SPREAD_PCT = os.environ.get("FX_FEED_SPREAD_PCT", "0")  # a Decimal string
# --- Rates by rules.md §10 ---
# The move guard compares with the latest active rate dated at most this many working days
# before the new one, from any source.
FX_GUARD_WINDOW_WORKING_DAYS = int(os.environ.get("FX_GUARD_WINDOW_WORKING_DAYS", "10"))
# A feed job refuses a payload dated in the future or more than this many working days ago.
FX_FEED_MAX_AGE_WORKING_DAYS = int(os.environ.get("FX_FEED_MAX_AGE_WORKING_DAYS", "5"))
# A feed answer longer than this many bytes is refused (FX_FEED_TIMEOUT bounds its whole time).
FX_FEED_MAX_BYTES = int(os.environ.get("FX_FEED_MAX_BYTES", "1000000"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}

# --- Request and upload limits (api-contract.md 1.1 "Errors and limits"; README) ----------
# A request body (JSON, a form) over this many bytes is refused with 413 before it is read.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE", 1 << 20))
MIDDLEWARE.insert(1, "esfca.limits.RequestBodyLimitMiddleware")  # before anything reads it
# Each uploaded file is counted as it streams in; past ESFCA_IMPORT_MAX_BYTES it is dropped.
FILE_UPLOAD_HANDLERS = [
    "esfca.limits.FileSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# A receipts import: the file as uploaded; its rows; its cells and the characters in one; an
# XLSX's members unpacked, in all and as a multiple of the file's size (a zip bomb is not).
ESFCA_IMPORT_MAX_BYTES = int(os.environ.get("ESFCA_IMPORT_MAX_BYTES", 20 << 20))
ESFCA_IMPORT_MAX_ROWS = int(os.environ.get("ESFCA_IMPORT_MAX_ROWS", "200000"))
ESFCA_IMPORT_MAX_CELLS = int(os.environ.get("ESFCA_IMPORT_MAX_CELLS", "4000000"))
ESFCA_IMPORT_MAX_CELL_CHARS = int(os.environ.get("ESFCA_IMPORT_MAX_CELL_CHARS", "32767"))
ESFCA_IMPORT_MAX_UNPACKED_BYTES = int(os.environ.get("ESFCA_IMPORT_MAX_UNPACKED_BYTES", 200 << 20))
ESFCA_IMPORT_MAX_RATIO = int(os.environ.get("ESFCA_IMPORT_MAX_RATIO", "100"))
# A month in an API path is any segment: malformed is a 400, out of range a 404 (the view).
SPECTACULAR_SETTINGS["PATH_CONVERTER_OVERRIDES"] = {
    "month": {"type": "string", "example": "2025-11", "description": "YYYY-MM, 2021-02 to 9999-12"}
}
# Sending a task to a broker that is down fails within seconds (the import answers 503)
# instead of hanging on a connection that never opens.
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 3}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}

# --- Import jobs that never stay stuck (issue 15, README "Import jobs") ------------------
# A working import job beats this often (seconds); one silent for ESFCA_IMPORT_STALE_SECONDS
# is failed by the sweeper (beat, every minute; `manage.py imports_sweep`), resumable.
ESFCA_IMPORT_HEARTBEAT_SECONDS = float(os.environ.get("ESFCA_IMPORT_HEARTBEAT_SECONDS", "15"))
ESFCA_IMPORT_STALE_SECONDS = int(os.environ.get("ESFCA_IMPORT_STALE_SECONDS", "120"))
CELERY_BEAT_SCHEDULE["imports-sweep"] = {"task": "esfca.tasks.imports_sweep", "schedule": 60.0}

# --- The database away (issue 15, "Resilience": esfca/database.py) -------------------------
# A persistent connection is checked before a request reuses it: one broken by a database
# restart is replaced, not failed on. A request that loses it midway answers 503.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# --- Audit log (tamper evidence) -----------------------------------------------------------
# The HMAC key of the audit chains (esfca/audit.py). Set it in production, kept apart from
# the database credentials and never changed while the log is kept; unset, a key derived
# from DJANGO_SECRET_KEY is used (a new secret key then fails every older audit row).
AUDIT_KEY = os.environ.get("ESFCA_AUDIT_KEY", "")
# Who did it, for writes made outside the services (signals: users, roles, firms, banks).
MIDDLEWARE.append("esfca.security.AuditActorMiddleware")

# --- Issue 15, imports in bounded memory ---
# A worker child whose RSS is above this many KiB after a task is replaced by a fresh one
# (Celery's worker_max_memory_per_child): an import's child peaks near 180 MB and keeps
# some 150–165 MB after it (glibc and Python keep freed memory; malloc_trim gives back only
# ~25 MB), a fresh child holds ~90 MB. docs/benchmarks.md, "Imports in bounded memory".
CELERY_WORKER_MAX_MEMORY_PER_CHILD = int(os.environ.get("ESFCA_WORKER_MAX_MEMORY_KB", "150000"))
