"""Settings, read from the environment (twelve-factor style).

Every variable is listed in README.md and `.env.example`. The defaults run the demo with no
server at all: SQLite in the project folder and aiocache's in-memory backend. Production sets
`DATABASE_URL` (PostgreSQL) and `CACHE_URL` (Redis) and turns `DEBUG` off, which makes
`SECRET_KEY` mandatory.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from django_project import integrations
from django_project.env import env_bool, env_float, env_int, env_list

BASE_DIR = Path(__file__).resolve().parent.parent


def parse_cache_url(url: str) -> dict[str, object]:
    """Validate CACHE_URL at start-up so a typo fails loudly instead of silently using memory."""
    parts = urlsplit(url)
    if parts.scheme == "memory":
        return {"backend": "memory"}
    if parts.scheme in {"redis", "rediss"}:
        db_path = parts.path.lstrip("/") or "0"
        if not db_path.isdigit():
            raise ImproperlyConfigured(f"CACHE_URL database must be a number, got {db_path!r}")
        return {
            "backend": "redis",
            "endpoint": parts.hostname or "127.0.0.1",
            "port": parts.port or 6379,
            "db": int(db_path),
            "password": parts.password,
            "ssl": parts.scheme == "rediss",
        }
    raise ImproperlyConfigured(
        f"CACHE_URL must start with memory:// or redis://, got scheme {parts.scheme!r}"
    )


DEBUG = env_bool("DEBUG", False)
#: `make serve` sets it: DEBUG must be off and every variable production needs must be set
#: (checked below, all at once, so one start-up names everything that is missing).
PRODUCTION = env_bool("PRODUCTION", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and not PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see .env.example).")
    SECRET_KEY = "django-insecure-dev-only-key-never-used-when-debug-is-off"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic.runserver_nostatic",
    "django.contrib.staticfiles",
    # Before strawberry_django so our offline graphql/graphiql.html template wins.
    "django_project.graphiql",
    "strawberry_django",
    "corsheaders",
    "django_project.accounts",
    "django_project.properties",
    "django_project.operations",
    "django_project.bench",
]

# Django's stock middleware, adapted to run on the event loop (django_project/middleware.py):
# under ASGI each stock hook would cost a hand-off to a worker thread.
MIDDLEWARE = [
    "django_project.middleware.SecurityMiddleware",
    # Before anything that can answer: preflights and refusals need CORS headers too.
    "corsheaders.middleware.CorsMiddleware",
    # Refuses GraphQL requests at once when the worker is saturated (503, Retry-After).
    "django_project.admission.AdmissionMiddleware",
    "django_project.middleware.StaticFilesMiddleware",
    "django_project.middleware.SessionMiddleware",
    "django_project.middleware.CommonMiddleware",
    "django_project.middleware.CsrfViewMiddleware",
    "django_project.middleware.AuthenticationMiddleware",
    "django_project.middleware.MessageMiddleware",
    "django_project.middleware.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "django_project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

ASGI_APPLICATION = "django_project.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}

# Threads per worker that run database work (django_project/asgi.py); requests take turns.
DATABASE_THREADS = env_int("DATABASE_THREADS", 2, minimum=1)

# At ASGI startup, keep Python's cyclic garbage collector off what lives as long as the
# worker, and make its young collections rarer (django_project/asgi.py
# `tune_garbage_collection`).
PYTHON_GC_TUNING = env_bool("PYTHON_GC_TUNING", True)

CACHE_URL = os.environ.get("CACHE_URL", "").strip() or "memory://"
CACHE_CONFIG = parse_cache_url(CACHE_URL)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# GraphiQL's browser assets come from npm packages installed by `make install` (package.json
# pins the versions strawberry's own page uses), so the IDE works with no internet access.
NODE_MODULES_DIR = Path(os.environ.get("NODE_MODULES_DIR") or BASE_DIR / "node_modules")
GRAPHIQL_ASSETS = {
    "graphiql": NODE_MODULES_DIR / "graphiql",
    "react": NODE_MODULES_DIR / "react" / "umd",
    "react-dom": NODE_MODULES_DIR / "react-dom" / "umd",
    "graphiql-plugin-explorer": NODE_MODULES_DIR / "@graphiql" / "plugin-explorer" / "dist",
    "js-cookie": NODE_MODULES_DIR / "js-cookie" / "dist",
}
STATICFILES_DIRS = [(f"vendor/{name}", path) for name, path in GRAPHIQL_ASSETS.items()]
SERVESTATIC_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# GraphQL
GRAPHIQL_ENABLED = env_bool("GRAPHIQL_ENABLED", DEBUG)
GRAPHQL_MAX_PAGE_SIZE = env_int("GRAPHQL_MAX_PAGE_SIZE", 100, minimum=1)
# Hostile-query limits: nesting depth, aliases (fragments included), parser tokens, body size.
GRAPHQL_MAX_DEPTH = env_int("GRAPHQL_MAX_DEPTH", 8, minimum=2)
GRAPHQL_MAX_ALIASES = env_int("GRAPHQL_MAX_ALIASES", 30, minimum=1)
GRAPHQL_MAX_TOKENS = env_int("GRAPHQL_MAX_TOKENS", 3000, minimum=100)
GRAPHQL_MAX_BODY_BYTES = env_int("GRAPHQL_MAX_BODY_BYTES", 64 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = GRAPHQL_MAX_BODY_BYTES
# Seconds from a request's arrival that its external fields may wait for upstreams; then a
# field still being fetched answers its stale value or null with a timeout error.
GRAPHQL_EXTERNAL_BUDGET = env_float("GRAPHQL_EXTERNAL_BUDGET", 3.0, minimum=0.05)
# Seconds more an external field may wait past the budget, granted only when the event loop
# ran the deadline late (the process was busy, not the upstream slow).
GRAPHQL_EXTERNAL_GRACE = env_float("GRAPHQL_EXTERNAL_GRACE", 0.5, minimum=0.0)
# Admission (django_project/admission.py): GraphQL requests in progress per worker at most, and
# how late the event loop may run callbacks (ms, sustained) before new requests are refused
# with 503 instead of being admitted into a saturated worker.
GRAPHQL_MAX_IN_FLIGHT = env_int("GRAPHQL_MAX_IN_FLIGHT", 512, minimum=1)
GRAPHQL_MAX_LOOP_LAG_MS = env_float("GRAPHQL_MAX_LOOP_LAG_MS", 150.0, minimum=1.0)
# Milliseconds keys that concurrent requests want from the same system may wait for each
# other before their call leaves (resolvers/batching.py); the call leaves earlier once no key
# joined for half of it. 0: keys batch per request only.
UPSTREAM_BATCH_WINDOW_MS = env_float("UPSTREAM_BATCH_WINDOW_MS", 20.0, minimum=0.0)
# Milliseconds a worker's lease on the keys it fetches lasts in Redis (renewed while the fetch
# runs): workers sharing the Redis cache fetch each key once between them, and a worker that
# dies holding a lease delays the others by at most this (resolvers/fleet.py). 0: off.
UPSTREAM_LEASE_MS = env_int("UPSTREAM_LEASE_MS", 2000, minimum=0)
# Query cost: objects resolved + 20 per upstream call the query can cause (schema/cost.py).
# A page of 100 properties with all four external fields costs about 600.
GRAPHQL_MAX_COST = env_int("GRAPHQL_MAX_COST", 2500, minimum=10)
# Introspection (__schema, __type) on or off; GraphiQL needs it. Blank = the value of DEBUG.
GRAPHQL_INTROSPECTION = env_bool("GRAPHQL_INTROSPECTION", DEBUG)
# Persisted queries: apq (Apollo's automatic persisted queries), only (just the operations in
# GRAPHQL_PERSISTED_QUERIES_MANIFEST), or off.
GRAPHQL_PERSISTED_QUERIES = (
    os.environ.get("GRAPHQL_PERSISTED_QUERIES", "").strip() or "apq"
).lower()
if GRAPHQL_PERSISTED_QUERIES not in {"apq", "only", "off"}:
    raise ImproperlyConfigured(
        f"GRAPHQL_PERSISTED_QUERIES must be apq, only or off, got {GRAPHQL_PERSISTED_QUERIES!r}"
    )
GRAPHQL_PERSISTED_QUERIES_MANIFEST = os.environ.get(
    "GRAPHQL_PERSISTED_QUERIES_MANIFEST", ""
).strip()
if GRAPHQL_PERSISTED_QUERIES == "only" and not GRAPHQL_PERSISTED_QUERIES_MANIFEST:
    raise ImproperlyConfigured(
        "GRAPHQL_PERSISTED_QUERIES=only needs GRAPHQL_PERSISTED_QUERIES_MANIFEST (a JSON "
        "apollo-persisted-query-manifest)."
    )
# Seconds a response's local (database) fields may be cached by its consumers: the ceiling
# of every query's Cache-Control max-age (schema/cache_control.py). 0: revalidate each time.
GRAPHQL_LOCAL_MAX_AGE = env_int("GRAPHQL_LOCAL_MAX_AGE", 0, minimum=0)
# Apollo's inline federated traces (ftv1) for requests that send
# `apollo-federation-include-trace: ftv1`; 0 refuses them (answers carry no trace).
GRAPHQL_FEDERATED_TRACING = env_bool("GRAPHQL_FEDERATED_TRACING", True)
# With tracing on (OTEL_EXPORTER_OTLP_ENDPOINT), a span per resolved field too: a span and a
# task per field, several times a big page's cost. Off: one span per operation.
GRAPHQL_TRACE_FIELDS = env_bool("GRAPHQL_TRACE_FIELDS", False)
# Seconds a registered APQ query stays in the cache (a week).
GRAPHQL_APQ_TTL = env_int("GRAPHQL_APQ_TTL", 7 * 86400, minimum=60)

# CORS for /graphql/ (django-cors-headers): browser apps on these origins may call the API.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", "")
CORS_URLS_REGEX = r"^/graphql/?$"
CORS_ALLOW_METHODS = ("GET", "POST", "OPTIONS")
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "x-csrftoken",
    "x-requested-with",
    # Sent by Apollo Client (CSRF prevention, operation names, client awareness).
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "apollographql-client-name",
    "apollographql-client-version",
)
# Cookies across origins (session + CSRF token) only when asked; token clients need none.
CORS_ALLOW_CREDENTIALS = env_bool("CORS_ALLOW_CREDENTIALS", False)
CORS_PREFLIGHT_MAX_AGE = env_int("CORS_PREFLIGHT_MAX_AGE", 600, minimum=0)

STRAWBERRY_DJANGO = {
    "FIELD_DESCRIPTION_FROM_HELP_TEXT": True,
    "TYPE_DESCRIPTION_FROM_MODEL_DOCSTRING": True,
    "GENERATE_ENUMS_FROM_CHOICES": True,
    "PAGINATION_DEFAULT_LIMIT": min(20, GRAPHQL_MAX_PAGE_SIZE),
    "PAGINATION_MAX_LIMIT": GRAPHQL_MAX_PAGE_SIZE,
}

#: The external systems, in the order the schema, reports and metrics list them. Adding one is
#: one line here; each layer finds its part of the system by this name:
#: django_project/integrations/<name>.py (settings), clients/<name>.py, resolvers/<name>.py
#: (its INTEGRATION: client factory and loaders), schema/<name>.py (types and Property's
#: fields), emulators/<name>.py (its EMULATOR).
EXTERNAL_SYSTEMS = ["filemaker", "salesforce", "tax_assessor", "geocoder", "legacy_permits"]

# Each system's client settings as <PREFIX>, its TTLs as <PREFIX>_CACHE (prefix: the name in
# capitals), and the variables production needs (django_project/integrations/).
_external, _external_required = integrations.settings_for(EXTERNAL_SYSTEMS)
globals().update(_external)

if PRODUCTION:
    _required = (
        *("SECRET_KEY", "DATABASE_URL", "CACHE_URL", "ALLOWED_HOSTS"),
        *_external_required,
    )
    _missing = [name for name in _required if not os.environ.get(name, "").strip()]
    if _missing:
        raise ImproperlyConfigured(
            "Production (PRODUCTION=1) needs these environment variables, which are unset or "
            "blank: " + ", ".join(_missing) + ". See .env.example and README.md."
        )
    if DEBUG:
        raise ImproperlyConfigured("PRODUCTION=1 with DEBUG on: turn DEBUG off.")
    if CACHE_CONFIG["backend"] != "redis":
        raise ImproperlyConfigured(
            "PRODUCTION=1 needs CACHE_URL=redis://...: workers must share one cache."
        )

#: Baseline views for `manage.py bench` (a plain JSON view and a naive one); never in production.
BENCH_VIEWS = env_bool("BENCH_VIEWS", False) and not PRODUCTION

# /metrics: off, open, or token (send METRICS_TOKEN as a bearer token). Blank: open with DEBUG.
METRICS = (os.environ.get("METRICS", "").strip() or ("open" if DEBUG else "off")).lower()
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "").strip()
if METRICS not in {"off", "open", "token"}:
    raise ImproperlyConfigured(f"METRICS must be off, open or token, got {METRICS!r}")
if METRICS == "token" and len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("METRICS=token needs METRICS_TOKEN of at least 16 characters")

LOG_LEVEL = (os.environ.get("LOG_LEVEL", "").strip() or "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {LOG_LEVEL!r}"
    )

LOG_FORMAT = (os.environ.get("LOG_FORMAT", "").strip() or "plain").lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # One JSON object per line; `extra` fields (service, duration_ms, ...) become keys.
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        # httpx logs every request's full URL at INFO: tokens in paths (FileMaker logout),
        # SOQL and addresses in query strings. clients/ logs each call itself, redacted.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # stamina logs a bare "retry_scheduled" per retry; clients.core already logs each
        # retried call with its service, status and wait.
        "stamina": {"level": "ERROR"},
    },
}
