"""Settings for Seedance Studio, read from the environment.

Every variable is parsed strictly: a value that does not parse stops start-up with
``ImproperlyConfigured`` naming the variable. The names of the variables are fixed by
docs/architecture.md "Configuration"; `.env.example` lists them all with their defaults.
"""

import os
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is read when present; the real environment wins over it. ENV_FILE names another
# file, or none when empty (the test settings read none, whatever a developer's .env says).
ENV_FILE = os.environ.get("ENV_FILE", str(BASE_DIR / ".env")).strip()
if ENV_FILE:
    environ.Env.read_env(ENV_FILE, overwrite=False)


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """Return the environment variable ``name``, refusing values outside ``choices``."""
    value = env.str(name, default=default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}; got {value!r}.")
    return value


def _url(name: str, default: str, *, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """Return the URL in ``name`` without a trailing slash; unset or empty gives ``default``."""
    value = (env.str(name, default="").strip() or default).rstrip("/")
    if value and (urlsplit(value).scheme not in schemes or not urlsplit(value).netloc):
        raise ImproperlyConfigured(f"{name} must be an absolute {'/'.join(schemes)} URL.")
    return value


def _usd(name: str, default: str) -> Decimal:
    """Return the US-dollar amount in ``name`` as a Decimal (never a float), >= 0."""
    try:
        value = Decimal(env.str(name, default=default).strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0:
        raise ImproperlyConfigured(f"{name} must be a non-negative amount of US dollars.")
    return value


# --- Django basics -------------------------------------------------------------------------
# No insecure default (issue #12 item 10; docs/architecture.md "Configuration"): DEBUG unset is
# production, and there is no built-in key. `python3 dev.py run` writes development values
# (DEBUG=true, a generated key, console mail) to a local .env; the test settings bring their own.
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="").strip()
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. In production set it to a long random value, e.g. the output "
        "of: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'. For development, "
        "`python3 dev.py run` writes one to .env."
    )
# The same rule as Django's own deploy check (security.W009), refused at start-up.
if not DEBUG and (
    len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-")
):
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak for DEBUG=false: use at least 50 random characters."
    )
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is not set: with DEBUG=false list the portal's host names, e.g. "
        "ALLOWED_HOSTS=studio.example.com."
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "django_q",
    # The REST API (docs/api.md); listed so its Swagger UI is served from local static files.
    "ninja",
    "generations",
]

MIDDLEWARE = [
    # First: every later middleware's log lines carry the request id (issue #13 item 9).
    "generations.middleware.RequestIdMiddleware",
    # Before host validation and the HTTPS redirect: a node's own /healthz, /readyz and
    # /metrics answer a probe sent to its address (docs/deploy.md "Health, metrics and logs").
    "generations.middleware.NodeProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language from the cookie or Accept-Language (docs/i18n.md "Choosing the language"):
    # after the session, before CommonMiddleware.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A signed-in user's saved language wins over the cookie and Accept-Language.
    "generations.middleware.UserLanguageMiddleware",
    # Before anything reads the body: 413 for a declared body over the upload form's limit.
    "generations.middleware.RequestSizeLimitMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns lockouts into responses.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "seedance_site.urls"
WSGI_APPLICATION = "seedance_site.wsgi.application"
ASGI_APPLICATION = "seedance_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "generations.context_processors.credits",
                "generations.context_processors.provider_alerts",
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------------------
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
_engine = DATABASES["default"]["ENGINE"]
if _engine not in ("django.db.backends.sqlite3", "django.db.backends.postgresql"):
    raise ImproperlyConfigured("DATABASE_URL must point to SQLite or PostgreSQL.")
if _engine == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process and qcluster share one SQLite file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
# Persistent connections, one per thread that serves requests or runs tasks, checked before
# reuse. gunicorn and qcluster have a fixed number of threads, so a node holds at most
# WEB_CONCURRENCY x WEB_THREADS (web) or Q_WORKERS + 2 (worker) connections; see the README's
# sizing rule. runserver starts a thread per browser connection and keeps it for keep-alive,
# so there a persistent connection per thread grows without bound: it closes each connection
# at the end of its request instead (issue #13 item 3). On SQLite too: opening the file and
# running the PRAGMAs above cost more than a small request's own query (issue #14 item 4).
_runserver = sys.argv[1:2] == ["runserver"]
DATABASES["default"]["CONN_MAX_AGE"] = 0 if _runserver else env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts ------------------------------------------------------------------------------
AUTH_USER_MODEL = "generations.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "generations:list"
LOGOUT_REDIRECT_URL = "login"
# django-axes: lock an account/IP pair out for an hour after 5 failed logins.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# A page in the portal's layout saying how long to wait, with a password-reset link (429).
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"

# --- E-mail --------------------------------------------------------------------------------
# EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587; consolemail:// writes each
# message to the log (development: dev.py writes it). With DEBUG=false and none set, no mail
# is sent: every send fails like an unreachable server and `check --deploy` warns
# (seedance.W002). The console is never the production default: it wrote invitation and
# password-reset links to the journal (docs/deploy.md "Environment").
_email_url = env.str("EMAIL_URL", default="").strip()
vars().update(environ.Env.email_url_config(_email_url or "consolemail://"))
EMAIL_CONFIGURED = bool(_email_url) or DEBUG
if not EMAIL_CONFIGURED:
    EMAIL_BACKEND = "generations.mail.NoMailServerBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Seedance Studio <noreply@localhost>")

# --- Internationalisation ------------------------------------------------------------------
# English and Russian (docs/i18n.md). URLs carry no language prefix: the API's and the
# providers' callbacks' addresses stay stable; the language comes from the user's saved
# preference, the language cookie set by the switch, or Accept-Language.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Русский")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files and storage --------------------------------------------------------------
STATIC_URL = "static/"
# Where collectstatic writes (whitenoise serves from there with DEBUG=false).
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
# No MEDIA_URL is routed: stored videos are served by views that check who may see them.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # bytes; larger uploads spool to disk
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Uploads are limited while they stream (issue #12 item 11): the first handler passes a file on
# only up to its field's limit and cuts a body past the form's total (generations.uploads).
FILE_UPLOAD_HANDLERS = [
    "generations.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# --- Media storage (results and inputs; docs/storage.md) -----------------------------------
# MEDIA_STORAGE=local keeps files under MEDIA_ROOT; s3 puts them in an S3-compatible bucket
# (AWS S3, MinIO, Cloudflare R2) through django-storages, configured by its own AWS_* names.
# Either way, files are reached only through views that check who may see them.
MEDIA_STORAGE = _choice("MEDIA_STORAGE", "local", ("local", "s3"))
# Local files: served by Django itself (honouring Range) or handed to the web server in front:
# nginx (X-Accel-Redirect to MEDIA_ACCEL_PREFIX, an `internal` location aliasing MEDIA_ROOT)
# or Apache (X-Sendfile with mod_xsendfile).
MEDIA_ACCEL = _choice("MEDIA_ACCEL", "none", ("none", "nginx", "apache"))
_accel_prefix = env.str("MEDIA_ACCEL_PREFIX", default="/protected-media/").strip().strip("/")
if not _accel_prefix or not all(
    part and part != ".." and part.replace("-", "").replace("_", "").isalnum()
    for part in _accel_prefix.split("/")
):
    raise ImproperlyConfigured("MEDIA_ACCEL_PREFIX must be a URL path such as /protected-media/.")
MEDIA_ACCEL_PREFIX = f"/{_accel_prefix}/"
if MEDIA_STORAGE == "s3":
    if MEDIA_ACCEL != "none":
        raise ImproperlyConfigured("MEDIA_ACCEL applies to MEDIA_STORAGE=local only.")
    AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="").strip()
    if not AWS_STORAGE_BUCKET_NAME:
        raise ImproperlyConfigured("MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME.")
    # Empty: AWS S3 itself. MinIO: http(s)://host:9000; R2: https://<account>.r2.cloudflarestorage.com
    AWS_S3_ENDPOINT_URL = _url("AWS_S3_ENDPOINT_URL", default="") or None
    AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="").strip() or None  # R2: auto
    # Unset keys leave boto3 its own credential chain (instance role, ~/.aws, ...).
    AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="") or None
    AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="") or None
    # Key prefix inside the bucket, e.g. "seedance/" to share a bucket.
    AWS_LOCATION = env.str("AWS_LOCATION", default="").strip("/")
    # "path" for MinIO without wildcard DNS; "virtual" or "auto" (boto3's choice) otherwise.
    _addressing = _choice("AWS_S3_ADDRESSING_STYLE", "auto", ("auto", "path", "virtual"))
    AWS_S3_ADDRESSING_STYLE = None if _addressing == "auto" else _addressing
    AWS_S3_SIGNATURE_VERSION = "s3v4"
    # Objects stay private: owners get presigned URLs valid this many seconds (SigV4 allows
    # at most 7 days), after the owner check, one per request.
    AWS_QUERYSTRING_AUTH = True
    AWS_QUERYSTRING_EXPIRE = env.int("AWS_QUERYSTRING_EXPIRE", default=300)
    if not 1 <= AWS_QUERYSTRING_EXPIRE <= 604_800:
        raise ImproperlyConfigured("AWS_QUERYSTRING_EXPIRE must be 1-604800 seconds.")
    AWS_DEFAULT_ACL = None  # the bucket's policy applies; never public-read
    AWS_S3_FILE_OVERWRITE = False  # a name in use gets a suffix, as on the local disk
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage"}

# --- Security ------------------------------------------------------------------------------
# Secure defaults follow from DEBUG=false. An operator serving plain HTTP (e.g. on a private
# network) opts out with ALLOW_PLAIN_HTTP=true.
ALLOW_PLAIN_HTTP = env.bool("ALLOW_PLAIN_HTTP", default=False)
_https = not DEBUG and not ALLOW_PLAIN_HTTP
SECURE_SSL_REDIRECT = _https
# The probes answer over plain HTTP on a node's own address (NodeProbeMiddleware serves them
# before SecurityMiddleware; this keeps them unredirected should that middleware be removed).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SECURE_HSTS_SECONDS = 31_536_000 if _https else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = _https
SECURE_HSTS_PRELOAD = _https
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
TRUST_X_FORWARDED_PROTO = env.bool("TRUST_X_FORWARDED_PROTO", default=False)
if TRUST_X_FORWARDED_PROTO:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Login throttling behind proxies (issue #12 item 12). django-axes keys failures by the client's
# address, which behind nginx would be nginx's own for everyone: one attacker would lock out the
# whole team. TRUSTED_PROXY_COUNT proxies in front of the portal (default 1 with
# TRUST_X_FORWARDED_PROTO) each append the address they saw to X-Forwarded-For, so the client is
# that many entries from the right; whatever a client wrote further left is ignored. django-ipware
# reads it (axes' AXES_IPWARE_* settings; its proxy count is the hops listed after the client).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1 if TRUST_X_FORWARDED_PROTO else 0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")
if TRUSTED_PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    AXES_IPWARE_PROXY_ORDER = "left-most"  # X-Forwarded-For lists the client first
    AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT - 1  # the last proxy is REMOTE_ADDR
    IPWARE_STRICT = False  # a client may prepend anything; the count is from the right
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Providers -----------------------------------------------------------------------------
# Without APIXO_API_KEY the portal talks to the local simulator through the same client code;
# only the base URL differs (docs/architecture.md "Provider simulator").
SIMULATOR_HOST = env.str("SIMULATOR_HOST", default="127.0.0.1")
SIMULATOR_PORT = env.int("SIMULATOR_PORT", default=8765)
SIMULATOR_API_KEY = "sim-apixo-key"
APIXO_API_KEY = env.str("APIXO_API_KEY", default="")
USE_SIMULATOR = not APIXO_API_KEY
APIXO_BASE_URL = _url(
    "APIXO_BASE_URL",
    default=(
        f"http://{SIMULATOR_HOST}:{SIMULATOR_PORT}/api/v1"
        if USE_SIMULATOR
        else "https://api.apixo.ai/api/v1"
    ),
)
if USE_SIMULATOR:
    APIXO_API_KEY = SIMULATOR_API_KEY
# With DEBUG off, the simulator is a mistake unless said so: `manage.py check --deploy` warns
# (seedance.W001) and /readyz's provider check names it (docs/deploy.md "Environment"). A
# demo or a load test on purpose sets this to true.
SIMULATOR_IN_PRODUCTION = env.bool("SIMULATOR_IN_PRODUCTION", default=False)
APIXO_ROUTING = _choice("APIXO_ROUTING", "auto", ("auto", "value", "official"))
# The second provider (issue #7; docs/providers/aivideoapi.md). It is offered when it has
# a key, or when the portal runs on the simulator (no APIXO key): the simulator speaks its API
# too, under /aivideoapi/v1.
AIVIDEOAPI_API_KEY = env.str("AIVIDEOAPI_API_KEY", default="")
# docs/providers/aivideoapi.md "invalid_api_key (401)": keys start with sk-
AIVIDEOAPI_SIMULATOR_API_KEY = "sk-sim-aivideoapi-key"
AIVIDEOAPI_USES_SIMULATOR = USE_SIMULATOR and not AIVIDEOAPI_API_KEY
AIVIDEOAPI_BASE_URL = _url(
    "AIVIDEOAPI_BASE_URL",
    default=(
        f"http://{SIMULATOR_HOST}:{SIMULATOR_PORT}/aivideoapi/v1"
        if AIVIDEOAPI_USES_SIMULATOR
        else "https://api.aivideoapi.ai/v1"
    ),
)
if AIVIDEOAPI_USES_SIMULATOR:
    AIVIDEOAPI_API_KEY = AIVIDEOAPI_SIMULATOR_API_KEY
# The provider a job goes to when the member (or `generate`) does not choose one; a mode or
# resolution it does not offer goes to the other configured provider.
PROVIDER_DEFAULT = _choice("PROVIDER_DEFAULT", "apixo", ("apixo", "aivideoapi"))
# Failover (off by default): a submit the first provider refuses with a retryable error (5xx,
# network) after its retries goes to the other configured provider, at that provider's price,
# if the member's balance covers the difference. Never after a submit with an unknown outcome.
PROVIDER_FAILOVER = env.bool("PROVIDER_FAILOVER", default=False)
PROVIDER_CONNECT_TIMEOUT = env.float("PROVIDER_CONNECT_TIMEOUT", default=5.0)  # seconds
PROVIDER_READ_TIMEOUT = env.float("PROVIDER_READ_TIMEOUT", default=30.0)  # seconds
# The provider allows 10,000 requests a minute (docs/providers/apixo.md "Rate limits");
# the poller keeps to this share of it.
PROVIDER_REQUESTS_PER_MINUTE = env.int("PROVIDER_REQUESTS_PER_MINUTE", default=8_000)
# The webhook's confirming status read (issue #12 item 14): seconds to connect, to answer; their
# sum is the total budget, well under the 30 s APIXO gives the receiver
# (docs/providers/apixo.md "Webhooks").
WEBHOOK_STATUS_CONNECT_TIMEOUT = env.float("WEBHOOK_STATUS_CONNECT_TIMEOUT", default=2.0)
WEBHOOK_STATUS_READ_TIMEOUT = env.float("WEBHOOK_STATUS_READ_TIMEOUT", default=3.0)
if not (
    WEBHOOK_STATUS_CONNECT_TIMEOUT > 0
    and WEBHOOK_STATUS_READ_TIMEOUT > 0
    and WEBHOOK_STATUS_CONNECT_TIMEOUT + WEBHOOK_STATUS_READ_TIMEOUT <= 20
):
    raise ImproperlyConfigured(
        "WEBHOOK_STATUS_CONNECT_TIMEOUT and WEBHOOK_STATUS_READ_TIMEOUT must be positive "
        "seconds adding up to at most 20 (APIXO waits 30 s for the webhook's answer)."
    )

# HTTPS here enables callback mode and public input URLs (docs/architecture.md "Generation
# lifecycle").
PUBLIC_BASE_URL = _url("PUBLIC_BASE_URL", default="")
# The team spend page warns managers when the provider account's balance (USD, from
# GET /apikeys/current-balance; docs/providers/apixo.md "Balance endpoint") is below this.
PROVIDER_BALANCE_WARNING_USD = _usd("PROVIDER_BALANCE_WARNING_USD", default="20")

# Callback mode over plain HTTP, for the local simulator only (run it with
# --allow-http-callbacks): webhook URLs then start with PUBLIC_BASE_URL or http://PORTAL_ADDRESS.
# APIXO itself takes only public HTTPS callback URLs (docs/providers/apixo.md "Parameters"), so this
# is refused unless APIXO_BASE_URL is a loopback address.
CALLBACK_ALLOW_HTTP = env.bool("CALLBACK_ALLOW_HTTP", default=False)
if CALLBACK_ALLOW_HTTP and (urlsplit(APIXO_BASE_URL).hostname or "") not in (
    "127.0.0.1",
    "localhost",
    "::1",
):
    raise ImproperlyConfigured("CALLBACK_ALLOW_HTTP needs APIXO_BASE_URL on a loopback address.")

# --- Generations ---------------------------------------------------------------------------
RESULT_MAX_BYTES = env.int("RESULT_MAX_BYTES", default=500 * 1024 * 1024)
# Seconds for one result download; it runs inside a django-q2 task, so it must end before the
# task's timeout (Q_CLUSTER below) or the worker is killed mid-download and it is retried.
RESULT_DOWNLOAD_TIMEOUT = env.float("RESULT_DOWNLOAD_TIMEOUT", default=75.0)
# Polling starts near the documented typical completion time, scaled for the simulator.
POLL_TIME_SCALE = env.float("POLL_TIME_SCALE", default=0.05 if USE_SIMULATOR else 1.0)
GENERATION_DEADLINE_SECONDS = env.int("GENERATION_DEADLINE_SECONDS", default=3 * 3600)
# Uploaded inputs stay reachable at their public URL this long after their job is final.
INPUT_URL_MARGIN_SECONDS = env.int("INPUT_URL_MARGIN_SECONDS", default=3600)
# Invitation links work once, for this many days.
INVITATION_TTL_DAYS = env.int("INVITATION_TTL_DAYS", default=7)
# Where this portal listens (dev.py runs runserver there). With the simulator and no
# PUBLIC_BASE_URL, input URLs use it: the local simulator can reach it, a real provider cannot.
PORTAL_ADDRESS = env.str("PORTAL_ADDRESS", default="127.0.0.1:8000")

# --- Task queue (django-q2) ----------------------------------------------------------------
Q_BROKER = _choice("Q_BROKER", "orm", ("orm", "redis"))
# Redis (issue #13): empty by default. When set it is Django's cache (shared by every web and
# worker node: provider balances, ...) and, with Q_BROKER=redis, django-q2's broker.
REDIS_URL = _url("REDIS_URL", default="", schemes=("redis", "rediss"))
if Q_BROKER == "redis" and not REDIS_URL:
    raise ImproperlyConfigured("Q_BROKER=redis needs REDIS_URL, e.g. redis://127.0.0.1:6379/0.")
# Several portals may share one Redis: their broker queues and cache keys are kept apart by
# this name (the django-q2 cluster name and the cache key prefix).
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="seedance").strip()
if not REDIS_KEY_PREFIX or not REDIS_KEY_PREFIX.replace("-", "").replace("_", "").isalnum():
    raise ImproperlyConfigured("REDIS_KEY_PREFIX must be letters, digits, - or _.")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
            # A Redis outage fails a request within seconds instead of hanging it.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# This worker node's name in heartbeats and metrics; default "<host>:<qcluster pid>".
WORKER_NODE_NAME = env.str("WORKER_NODE_NAME", default="").strip()
# A worker node renews its heartbeat this often (seconds); /readyz wants one within 3x.
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=10.0)
if not 0 < WORKER_HEARTBEAT_SECONDS <= 300:
    raise ImproperlyConfigured("WORKER_HEARTBEAT_SECONDS must be between 0 and 300 seconds.")
# Bearer token for /metrics; empty answers 404 (docs/architecture.md "Configuration").
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
Q_CLUSTER = {
    "name": REDIS_KEY_PREFIX,
    "workers": env.int("Q_WORKERS", default=2),
    # A task may run for `timeout` seconds; the broker hands it out again only after `retry`,
    # well above it, so a slow task is never run twice at once. Attempts are finite.
    "timeout": 90,
    "retry": 180,
    "max_attempts": 3,
    "ack_failures": True,
    # Schedules (the poller, the sweeper) never run a backlog of missed runs.
    "catch_up": False,
    "save_limit": 500,
    "poll": 0.2,
    "label": "Task queue",
}
if Q_CLUSTER["timeout"] - RESULT_DOWNLOAD_TIMEOUT < 5:
    raise ImproperlyConfigured(
        f"RESULT_DOWNLOAD_TIMEOUT must end at least 5 s before the task timeout "
        f"({Q_CLUSTER['timeout']} s)."
    )
if Q_BROKER == "orm":
    # The ORM broker survives a worker crash; the Redis one does not (docs/style.md practice 6).
    Q_CLUSTER["orm"] = "default"
else:
    Q_CLUSTER["redis"] = REDIS_URL

# --- Logging -------------------------------------------------------------------------------
# LOG_FORMAT=json: one JSON object per line (python-json-logger) with request_id, user_id,
# generation_id and task_id where known (generations.log_context; issue #13 item 9). text: one
# readable line with the request id. gunicorn.conf.py logs its access lines the same way.
LOG_FORMAT = _choice("LOG_FORMAT", "text", ("text", "json"))
LOG_LEVEL = _choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error", "critical")).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "generations.log_context.ContextFilter"},
        # Secrets carried in callback, input and invitation paths never reach a log line.
        "redact": {"()": "generations.log_redaction.RedactingFilter"},
    },
    "formatters": {
        "text": {
            "()": "generations.log_context.TextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(user_id)s "
            "%(generation_id)s %(task_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Quiet by default (issue #18 item 6): the portal's own loggers tell an operator about
        # jobs, errors and alerts at INFO; django-q2's per-task lines (several a minute from an
        # idle worker's schedules) and django-axes' lines (four per login) only with
        # LOG_LEVEL=debug. Their warnings and errors always show.
        **{
            name: {"level": "DEBUG" if LOG_LEVEL == "DEBUG" else "WARNING"}
            for name in ("django-q", "axes")
        },
    },
}

# --- Dispatcher ----------------------------------------------------------------------------
# Seconds between dispatcher passes (each pass enqueues due submits, polls and downloads).
DISPATCH_INTERVAL = env.float("DISPATCH_INTERVAL", default=1.0)
# Start a dispatcher loop right after a submit instead of waiting for the minute schedule.
DISPATCHER_AUTOSTART = True

# --- REST API and outbound webhooks (docs/api.md) ------------------------------------------
# Requests per token per minute; past it the API answers 429 with Retry-After. Counted in
# Django's cache, so every web node shares the count when REDIS_URL is set.
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=120)
if API_RATE_LIMIT_PER_MINUTE < 1:
    raise ImproperlyConfigured("API_RATE_LIMIT_PER_MINUTE must be 1 or more.")
# Seconds a webhook endpoint has to answer one delivery (connect and answer together).
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
if not 0 < WEBHOOK_TIMEOUT_SECONDS <= 30:
    raise ImproperlyConfigured("WEBHOOK_TIMEOUT_SECONDS must be between 0 and 30 seconds.")
# An endpoint is disabled (and its owner e-mailed) once its attempts have failed this many
# times in a row over at least this many hours.
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=15)
WEBHOOK_DISABLE_AFTER_HOURS = env.float("WEBHOOK_DISABLE_AFTER_HOURS", default=24.0)
if WEBHOOK_DISABLE_AFTER_FAILURES < 1 or WEBHOOK_DISABLE_AFTER_HOURS < 0:
    raise ImproperlyConfigured(
        "WEBHOOK_DISABLE_AFTER_FAILURES must be 1 or more, WEBHOOK_DISABLE_AFTER_HOURS 0 or more."
    )
# Webhook targets pass the same address guard as downloads: no private, loopback or
# link-local addresses. Tests (and only tests) allow loopback targets with this.
WEBHOOK_ALLOW_LOOPBACK = env.bool("WEBHOOK_ALLOW_LOOPBACK", default=False)
