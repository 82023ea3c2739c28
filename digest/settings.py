"""Settings for Daily Papers Digest, all in one place.

Every value comes from the environment (12-factor) and has a default that needs no
server: SQLite under var/, a filesystem Celery broker under var/, emails written to
var/outbox/. Set DATABASE_URL, REDIS_URL and EMAIL_HOST to run on PostgreSQL, Redis and
a real mail server.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """A whole number; out of [minimum, maximum] is refused at start, naming the setting
    (DIGEST_PLAN_CHUNK=0 planned nobody and said nothing; DIGEST_TICK_SECONDS=0 queued
    thousands of ticks a second)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {value}")
    return value


_RATE = re.compile(r"\d+/(?:[1-9]\d*)?[smhd]")  # "10/0m" would divide by a zero period


def env_rate(name: str, default: str) -> str:
    """A rate limit as django-ratelimit reads it ("10/h", "5/10m"): a typo is refused
    at start, not met by an error on every request (the admin login among them)."""
    value = env_str(name, default)
    if not _RATE.fullmatch(value):
        raise ImproperlyConfigured(f'{name} must be a rate like "10/h" (per s, m, h or d), not {value!r}')
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


# The matcher's vector products are small (a day's papers times a few vectors): BLAS
# threads only add wake-up latency, and on a busy machine they wait on each other (8 ms
# instead of 0.1 ms measured for one reader's feedback). Set before numpy is imported.
for _blas in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_blas, "1")

DEBUG = env_bool("DEBUG", True)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off: set it to a long random string."
        )
    # In development a key is generated once and kept, so signed links in emails that
    # were written to the outbox still work after a restart.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
SITE_URL = env_str("SITE_URL", "http://localhost:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", SITE_URL)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # Installed for its system check of the cache the rate limits count in.
    "django_ratelimit",
    "anymail",
    "digest",
    "subscriptions",
]

MIDDLEWARE = [
    # First: the health probe is answered before the host check (digest/health.py).
    "digest.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "digest.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
]

ROOT_URLCONF = "digest.urls"
WSGI_APPLICATION = "digest.wsgi.application"

TEMPLATES = [
    {
        # Web pages and emails: Jinja2, from the top-level templates/ folder.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {
            "environment": "digest.jinja2.environment",
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csrf",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
    {
        # The admin keeps Django's own templates.
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

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    except (ValueError, dj_database_url.UnknownSchemeError) as exc:
        raise ImproperlyConfigured(
            f"DATABASE_URL is not a database URL (postgres://user@host:5432/name or sqlite:////path): {exc}"
        ) from None
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # Web, worker and beat share the file: wait for a lock instead of failing.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
            # A file, not memory, so worker processes started by the tests see it.
            "TEST": {"NAME": str(VAR_DIR / "test_db.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://")):
    # Else Celery reads it as some other broker ("amqp://guest@notaurl") and says so.
    raise ImproperlyConfigured(f"REDIS_URL must start with redis:// or rediss://, not {REDIS_URL!r}")

# The cache backs rate limits, so it must be shared by every process: Redis when there
# is one, else a cache table in the database (created by `migrate`, see digest/apps.py).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "dpd"),
        }
    }
else:
    CACHES = {
        "default": {
            # Django's database cache, with increments made atomic (digest/cache.py).
            "BACKEND": "digest.cache.AtomicDatabaseCache",
            "LOCATION": "dpd_cache",
        }
    }
# django-ratelimit's check warns (W001) about any cache it has not tested. Both caches
# above increment atomically, which is what its counters need: Django's RedisCache with
# Redis INCRBY, AtomicDatabaseCache under a row (or database) lock. Its E003 ("does not
# support atomic increment") names the plain database cache, which is not used.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]

# Celery: Redis when REDIS_URL (or CELERY_BROKER_URL) is set, else kombu's filesystem
# transport under var/broker/, so a real worker and beat run on a bare machine.
# The host part is ignored by the transport; naming one keeps kombu from warning
# "No hostname was supplied" on every command that queues a task.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL) or "filesystem://localhost/"
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(BROKER_DIR / "control"),
    }
else:
    # A task not acknowledged within this long is handed out again. Every countdown
    # (digest retries) stays well below it; see DIGEST_RETRY_MAX_SECONDS.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Progress of a send is read from Digest rows, not task results, so no result backend.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Every task is stopped if it runs away: a soft limit it can react to, then a hard one.
# The slowest honest task is a send batch against a slow mail server (50 digests, each
# SMTP step bounded by EMAIL_TIMEOUT, 30 s); both limits stay below half the Redis
# visibility timeout, past which a task still running would be handed to a second
# worker. (Time limits need the prefork pool, the worker's default.)
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_TASK_TIME_LIMIT = 27 * 60
# Separate queues, so a slow import or a long planning tick never holds up mail, and
# each can get its own workers (docker-compose.yml). A worker started without -Q
# consumes them all (make run, the tests).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in ("celery", "mail", "planning", "imports")]
CELERY_TASK_ROUTES = {
    "digest.tasks.send_digest_batch": {"queue": "mail"},
    "subscriptions.tasks.send_subscription_email": {"queue": "mail"},
    "digest.tasks.send_due_digests": {"queue": "planning"},
    "digest.tasks.plan_digest_chunk": {"queue": "planning"},
    "digest.tasks.import_daily_feeds": {"queue": "imports"},
    "digest.tasks.refresh_papers": {"queue": "imports"},
    "digest.tasks.refile_catalog": {"queue": "imports"},
    "digest.tasks.embed_keywords": {"queue": "imports"},
}
DIGEST_TICK_SECONDS = env_int("DIGEST_TICK_SECONDS", 300, minimum=1)
# Readers planned at a time (one query for their rows, one transaction for their ledger
# rows, one planning task when the tick fans out): memory stays that of a chunk, and a
# chunk takes seconds, so a lost one is cheap to redo. (digest.digests.PLAN_CHUNK)
DIGEST_PLAN_CHUNK = env_int("DIGEST_PLAN_CHUNK", 2000, minimum=1)
CELERY_BEAT_SCHEDULE = {
    # Subscribers choose their local delivery time; a tick every few minutes sends
    # whoever has become due since the last tick.
    "send-due-digests": {
        "task": "digest.tasks.send_due_digests",
        "schedule": DIGEST_TICK_SECONDS,
        # A tick still queued when the next one is due is dropped: after a backlog (the
        # workers were down) one tick does the work, not a pile of stale ones.
        "options": {"expires": DIGEST_TICK_SECONDS},
    },
    # Re-queues digests stranded by a lost broker message, a killed worker or a
    # database outage, and retries whose time has come.
    "sweep-stranded-digests": {
        "task": "digest.tasks.sweep_digests",
        "schedule": env_int("DIGEST_SWEEP_SECONDS", 60, minimum=1),
    },
    "import-daily-feeds": {
        "task": "digest.tasks.import_daily_feeds",
        "schedule": crontab(minute=env_str("FEED_IMPORT_MINUTE", "15"), hour="*/2"),
    },
    "purge-unconfirmed-subscribers": {
        "task": "subscriptions.tasks.purge_unconfirmed",
        "schedule": crontab(minute=30, hour=3),
    },
    # "Pause until a date": flips those subscribers back to active once the date comes.
    "resume-ended-pauses": {
        "task": "subscriptions.tasks.resume_ended_pauses",
        "schedule": crontab(minute=5),
    },
    "forget-sent-subscription-emails": {
        "task": "subscriptions.tasks.forget_sent_emails",
        "schedule": crontab(minute=50, hour=3),
    },
    "clear-expired-sessions": {
        "task": "subscriptions.tasks.clear_expired_sessions",
        "schedule": crontab(minute=45, hour=3),
    },
}

# Email: SMTP when EMAIL_HOST is set, else every message is written to var/outbox/.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    # Django's SMTP backend, able to tell a connection lost after the message was sent
    # (delivery uncertain) from one lost before.
    "digest.mail_smtp.EmailBackend" if EMAIL_HOST else "digest.mail_outbox.OutboxBackend",
)
# How message bodies travel (digest/mime.py). "8bit", Django's own choice and what every
# digest so far was sent as, costs nothing to encode (quoted-printable takes a quarter
# of a digest's build time); a line over 998 bytes is sent quoted-printable either way.
# "quoted-printable" makes every message 7-bit, for a relay without 8BITMIME.
EMAIL_BODY_ENCODING = env_str("EMAIL_BODY_ENCODING", "8bit")
if EMAIL_BODY_ENCODING not in {"8bit", "quoted-printable"}:
    raise ImproperlyConfigured(f"EMAIL_BODY_ENCODING must be 8bit or quoted-printable, not {EMAIL_BODY_ENCODING!r}")
# django-anymail (EMAIL_BACKEND=anymail.backends.<provider>.EmailBackend): each
# ANYMAIL_<NAME> variable becomes ANYMAIL["<NAME>"], e.g. ANYMAIL_POSTMARK_SERVER_TOKEN.
# With an anymail backend its tracking webhooks are routed under /esp/ (digest/urls.py):
# bounces, complaints and unsubscribes stop mail (subscriptions/esp_events.py). They
# answer only requests with ANYMAIL_WEBHOOK_SECRET ("user:password") as HTTP basic
# auth, which the provider's webhook URL carries: https://user:password@host/esp/...
ANYMAIL = {
    name.removeprefix("ANYMAIL_"): value.strip()
    for name, value in sorted(os.environ.items())
    if name.startswith("ANYMAIL_") and value.strip()
}
ESP_WEBHOOKS = EMAIL_BACKEND.startswith("anymail.")
if ESP_WEBHOOKS and ":" not in ANYMAIL.get("WEBHOOK_SECRET", ""):
    raise ImproperlyConfigured(
        "ANYMAIL_WEBHOOK_SECRET is required with an anymail EMAIL_BACKEND, as user:password "
        "(two long random strings): the mail provider's webhooks must prove who they are."
    )
OUTBOX_DIR = Path(env_str("OUTBOX_DIR", str(VAR_DIR / "outbox")))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "digest@localhost")
EMAIL_FROM_NAME = env_str("EMAIL_FROM_NAME", "Daily Papers Digest")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Postal address and privacy policy shown in every email footer (anti-spam law).
POSTAL_ADDRESS = env_str("POSTAL_ADDRESS", "Daily Papers Digest, 1 Example Street, 00000 Example City")
PRIVACY_POLICY_URL = env_str("PRIVACY_POLICY_URL", f"{SITE_URL}/privacy/")

# Digest delivery. A temporary failure (4xx, connection lost) is retried after about
# DIGEST_RETRY_SECONDS, doubling per attempt up to DIGEST_RETRY_MAX_SECONDS, with jitter;
# after DIGEST_MAX_ATTEMPTS attempts the digest is recorded as failed.
DIGEST_RETRY_SECONDS = env_int("DIGEST_RETRY_SECONDS", 60, minimum=1)
DIGEST_RETRY_MAX_SECONDS = env_int("DIGEST_RETRY_MAX_SECONDS", 15 * 60, minimum=1)
DIGEST_MAX_ATTEMPTS = env_int("DIGEST_MAX_ATTEMPTS", 8, minimum=1)
DIGEST_SWEEP_SECONDS = env_int("DIGEST_SWEEP_SECONDS", 60, minimum=1)
_visibility = CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout")
if _visibility and DIGEST_RETRY_MAX_SECONDS > _visibility // 2:
    # A countdown past the visibility timeout makes the broker hand the retry out twice.
    raise ImproperlyConfigured(
        f"DIGEST_RETRY_MAX_SECONDS ({DIGEST_RETRY_MAX_SECONDS}) must be at most half the broker's "
        f"visibility timeout ({_visibility} s)"
    )
if min(DIGEST_RETRY_SECONDS, DIGEST_RETRY_MAX_SECONDS, DIGEST_MAX_ATTEMPTS, DIGEST_SWEEP_SECONDS) < 1:
    raise ImproperlyConfigured("DIGEST_RETRY_SECONDS, DIGEST_RETRY_MAX_SECONDS, DIGEST_MAX_ATTEMPTS and "
                               "DIGEST_SWEEP_SECONDS must be at least 1")

# Paper feeds imported on the beat schedule: comma-separated URLs. "{date}" is replaced
# by the day being fetched (YYYY-MM-DD).
DAILY_FEED_URLS = env_list("DAILY_FEED_URLS", "https://huggingface.co/api/daily_papers?date={date}")
# Deadline of one whole download (not of each read: a server dripping bytes cannot
# stretch it).
FEED_TIMEOUT_SECONDS = env_int("FEED_TIMEOUT_SECONDS", 30, minimum=1)
# Imports refuse a file or download larger than this (a daily feed is tens of kB).
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_MB", 50, minimum=1) * 2**20
# The admin's URL import refuses addresses on the server's own network (loopback,
# private ranges) unless this is on: for a feed served on the machine itself, and tests.
IMPORT_PRIVATE_URLS = env_bool("IMPORT_PRIVATE_URLS", False)
# The admin's "delete selected" over a filtered list (a bad import of thousands of
# papers) posts one field per paper; Django's default of 1,000 refused it with a 400.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 20_000
# Hosts a feed may redirect to besides its own (a redirect elsewhere fails the import).
FEED_REDIRECT_HOSTS = env_list("FEED_REDIRECT_HOSTS", "")
# arXiv's API terms: at most one request every three seconds. Not an environment
# variable on purpose; tests shorten it through Django's settings override.
ARXIV_REQUEST_INTERVAL_SECONDS = 3.0

# Editor's picks per digest, shown in their own section above the reader's own papers.
EDITORS_PICKS_PER_DIGEST = env_int("EDITORS_PICKS_PER_DIGEST", 3, minimum=0)

# Public pages (home, listing days, papers, topic feeds) are the same for every anonymous
# visitor and are served from the cache (digest/page_cache.py); imports and curators'
# edits replace them at once, this bounds a copy's life otherwise. 0 turns caching off.
PUBLIC_PAGE_CACHE_SECONDS = env_int("PUBLIC_PAGE_CACHE_SECONDS", 600, minimum=0)
# Papers per page on the home page and a listing day's page.
PAPERS_PER_PAGE = env_int("PAPERS_PER_PAGE", 30, minimum=1)

# Subscriptions.
CONFIRMATION_MAX_AGE_DAYS = env_int("CONFIRMATION_MAX_AGE_DAYS", 7, minimum=1)
MANAGE_LINK_MAX_AGE_DAYS = env_int("MANAGE_LINK_MAX_AGE_DAYS", 60, minimum=1)
# "More / less like this" links in digests: they only record a vote on one paper.
FEEDBACK_LINK_MAX_AGE_DAYS = env_int("FEEDBACK_LINK_MAX_AGE_DAYS", 180, minimum=1)
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)
RATELIMIT_VIEW = "subscriptions.views.rate_limited"
# How many reverse proxies in front of the app append to X-Forwarded-For (0: none, the
# header is ignored). The client IP the rate limits count and the consent evidence stores
# is read that many hops from the header's right, else REMOTE_ADDR (digest/proxies.py).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured(f"TRUSTED_PROXY_COUNT must be 0 or more, not {TRUSTED_PROXY_COUNT}")
RATELIMIT_IP_META_KEY = "digest.proxies.ratelimit_ip"
if env_str("RATELIMIT_IP_META_KEY"):
    # The old setting trusted whatever a header said; refuse it rather than ignore it.
    raise ImproperlyConfigured(
        "RATELIMIT_IP_META_KEY is no longer read: unset it and set TRUSTED_PROXY_COUNT "
        "to the number of reverse proxies in front of the app (0 for none)."
    )
SIGNUP_RATE_PER_IP = env_rate("SIGNUP_RATE_PER_IP", "10/h")
SIGNUP_RATE_PER_ADDRESS = env_rate("SIGNUP_RATE_PER_ADDRESS", "3/h")
# Admin login attempts (right or wrong) per client IP and per username.
ADMIN_LOGIN_RATE_PER_IP = env_rate("ADMIN_LOGIN_RATE_PER_IP", "20/h")
ADMIN_LOGIN_RATE_PER_USERNAME = env_rate("ADMIN_LOGIN_RATE_PER_USERNAME", "10/h")

# Behind a TLS-terminating proxy in production.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", SITE_URL.startswith("https"))
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # Browsers remember to use https only once the site is really served over https.
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if SITE_URL.startswith("https") else 0, minimum=0)
    # Off by default: only the operator knows whether every subdomain is https, and the
    # preload list is hard to leave; the proxy usually redirects http to https itself.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    # /healthz is answered before this redirect (its middleware comes first): the
    # container's own health check speaks plain http.
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Semantic matching (digest.semantic): stored vectors from an offline MiniLM model widen
# typed keywords to the curated topic they name and to papers close in meaning, and let
# feedback re-rank. Off, or without the model installed, matching is lexical only.
SEMANTIC_MATCHING = env_bool("SEMANTIC_MATCHING", True)
# Threads the model may use where it runs (imports, the web process); send workers never load it.
EMBEDDING_THREADS = env_int("EMBEDDING_THREADS", 2, minimum=1)

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns about a missing folder before collectstatic
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Error reports to Sentry (or a compatible service) when SENTRY_DSN is set: unhandled
# errors in requests and Celery tasks. No personal data: no cookies, users, IPs or
# request bodies (the forms hold email addresses), and link tokens are redacted.
SENTRY_DSN = env_str("SENTRY_DSN")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    from digest.log_redaction import sentry_before_send

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT", "production"),
        integrations=[DjangoIntegration(transaction_style="url"), CeleryIntegration()],
        send_default_pii=False,
        max_request_body_size="never",
        # Local variables hold tokens and addresses; the stack trace is enough.
        include_local_variables=False,
        traces_sample_rate=0,
        before_send=sentry_before_send,
    )

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in logging.getLevelNamesMapping():  # WARN, FATAL and NOTSET too, as logging takes them
    raise ImproperlyConfigured(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {LOG_LEVEL!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Signed links in request paths ("Not Found: /digests/<token>/") are redacted.
    "filters": {"redact_tokens": {"()": "digest.log_redaction.RedactTokens"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_tokens"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's default handlers for these would print request paths unfiltered:
        # declared here, theirs are removed and every line goes through the filter.
        "django": {"handlers": [], "propagate": True},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # httpx logs every request at INFO; the importers log their own summary instead.
        "httpx": {"level": "WARNING"},
    },
}
