"""vaxbook settings. Every value that differs between machines comes from the environment.

Without ``DATABASE_URL`` and ``REDIS_URL`` this is the embedded default of ``make run``:
SQLite, an in-memory cache and Celery tasks run eagerly in-process. With them (tests,
benchmark, production) it is PostgreSQL, Redis as cache and broker, and real workers.

``DJANGO_ENV=production`` refuses to start without its secrets, host names, ``DATABASE_URL``
and ``REDIS_URL``, and serves over HTTPS only; ``manage.py check --deploy`` reports nothing.
"""

import ipaddress
import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from vaxbook import config

BASE_DIR = config.BASE_DIR
PRODUCTION = config.is_production()

DEBUG = config.get_bool("DJANGO_DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured(
        "DJANGO_DEBUG must be off when DJANGO_ENV=production: debug pages show settings and "
        "personal data to anyone."
    )
SECRET_KEY = config.get_mandatory_secret("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = [
    h.strip()
    for h in config.get_production_setting(
        "DJANGO_ALLOWED_HOSTS",
        development_default="127.0.0.1,localhost,testserver",
        why="the comma-separated host names the site answers to.",
    ).split(",")
    if h.strip()
]

# vaxbook's own settings: every VAXBOOK_* variable is read here, typed (a bad value stops the
# start with ImproperlyConfigured naming the variable), with its meaning.
#
# Personal data. Encryption keys are Fernet keys, newest first, comma-separated, so that a key
# can be rotated in; the HMAC key for matching registration numbers is separate.
VAXBOOK_PII_KEYS = [
    k.strip()
    for k in config.get_mandatory_secret("VAXBOOK_PII_KEYS", kind="fernet").split(",")
    if k.strip()
]
VAXBOOK_RRN_HMAC_KEY = config.get_mandatory_secret("VAXBOOK_RRN_HMAC_KEY")
# Retention (bookings.retention, `manage.py purge_personal_data`): this many days after a
# campaign closes (and the appointment has passed), its bookings lose name, phone and
# registration number; what statistics need (status, slot, birth year) stays.
VAXBOOK_RETENTION_DAYS = config.get_int("VAXBOOK_RETENTION_DAYS", 90, minimum=0)

# The booking steps: how long each signed step token of the flow stays valid (seconds).
VAXBOOK_STEP_TOKEN_MAX_AGE = config.get_int("VAXBOOK_STEP_TOKEN_MAX_AGE", 1800, minimum=60)

# Confirmation. A booking still pending after VAXBOOK_PENDING_SWEEP_AFTER seconds is decided by
# the sweep, which Celery beat runs every VAXBOOK_SWEEP_INTERVAL_SECONDS (the recovery for a
# lost or never-sent message), so that none stays pending. A confirmation that keeps failing on
# the database (a lost connection, a lock timeout) is retried VAXBOOK_CONFIRM_MAX_RETRIES times,
# waiting 1, 2, 4… seconds (at most the cap, with jitter); then its booking is rejected with a
# "system problem" reason instead of staying pending.
VAXBOOK_PENDING_SWEEP_AFTER = config.get_int("VAXBOOK_PENDING_SWEEP_AFTER", 120, minimum=1)
VAXBOOK_SWEEP_INTERVAL_SECONDS = config.get_float(
    "VAXBOOK_SWEEP_INTERVAL_SECONDS", 60.0, minimum=1.0
)
VAXBOOK_CONFIRM_MAX_RETRIES = config.get_int("VAXBOOK_CONFIRM_MAX_RETRIES", 5, minimum=0)
VAXBOOK_CONFIRM_RETRY_BACKOFF_MAX = config.get_int(
    "VAXBOOK_CONFIRM_RETRY_BACKOFF_MAX", 30, minimum=1
)
# A confirmation task decides its own booking and, in the same transaction, up to this many
# bookings that published no task of their own because one was already queued (they wait in a
# Redis sorted set; bookings.services._enqueue_confirmation), the places going in request
# order; a full batch publishes the next. 0: one task and one transaction per booking.
VAXBOOK_CONFIRM_BATCH = config.get_int("VAXBOOK_CONFIRM_BATCH", 100, minimum=0)
# Messages a Celery worker takes from the broker ahead (acks_late: a dead worker's come back).
VAXBOOK_CELERY_PREFETCH = config.get_int("VAXBOOK_CELERY_PREFETCH", 4, minimum=1)
# Seconds before Redis redelivers a task a worker received but never acknowledged (below).
VAXBOOK_BROKER_VISIBILITY_TIMEOUT = config.get_int(
    "VAXBOOK_BROKER_VISIBILITY_TIMEOUT", 3600, minimum=60
)
# PostgreSQL: how long a statement waits for a row lock (0: forever), and the name of this
# process's sessions in pg_stat_activity (see DATABASES below).
VAXBOOK_DB_LOCK_TIMEOUT_MS = config.get_int("VAXBOOK_DB_LOCK_TIMEOUT_MS", 5000, minimum=0)
VAXBOOK_DB_APPLICATION_NAME = config.get_setting("VAXBOOK_DB_APPLICATION_NAME")

# The waiting room: seconds after an opening before its draw (arrivals still in flight at the
# opening instant get in), and the shortest interval at which a queue page polls.
VAXBOOK_QUEUE_DRAW_GRACE = config.get_float("VAXBOOK_QUEUE_DRAW_GRACE", 3.0, minimum=0.0)
VAXBOOK_QUEUE_POLL_SECONDS = config.get_int("VAXBOOK_QUEUE_POLL_SECONDS", 2, minimum=1)
# The longest a queue page waits before it asks again (campaigns.waiting_room.poll_after): an
# official's raised rate reaches a waiting page this late at worst, and a person whose turn it
# brings forward can lose that much of their pass (it runs from their turn).
VAXBOOK_QUEUE_POLL_MAX_SECONDS = config.get_int("VAXBOOK_QUEUE_POLL_MAX_SECONDS", 60, minimum=1)
# Seconds each web process keeps a campaign's waiting-room configuration (rates, windows, pass
# minutes) without asking Redis: an official's change is seen at once by the process that made
# it and within this by every other (campaigns.waiting_room.config_for).
VAXBOOK_CONFIG_CACHE_SECONDS = config.get_float("VAXBOOK_CONFIG_CACHE_SECONDS", 2.0, minimum=0)
# The proof of work a ticket costs (ALTCHA, PBKDF2-SHA256): iterations per try; a browser makes
# 256 tries on average (about a second or two on a phone at the default), the server one.
VAXBOOK_QUEUE_POW_COST = config.get_int("VAXBOOK_QUEUE_POW_COST", 5000, minimum=1)
# Seconds a proof-of-work challenge stays valid once the queue page has handed it out.
VAXBOOK_QUEUE_POW_TTL = config.get_int("VAXBOOK_QUEUE_POW_TTL", 600, minimum=30)
# How many different people one admission pass may book for (a person and their household).
VAXBOOK_PEOPLE_PER_PASS = config.get_int("VAXBOOK_PEOPLE_PER_PASS", 4, minimum=1)

# Abuse limits (bookings.throttle): attempts per window, per client address and per person.
VAXBOOK_THROTTLE_WINDOW_SECONDS = config.get_int("VAXBOOK_THROTTLE_WINDOW_SECONDS", 600, minimum=1)
VAXBOOK_THROTTLE_PER_ADDRESS = config.get_int("VAXBOOK_THROTTLE_PER_ADDRESS", 300, minimum=1)
VAXBOOK_THROTTLE_PER_PERSON = config.get_int("VAXBOOK_THROTTLE_PER_PERSON", 10, minimum=1)
# Our own load balancers (addresses or networks, comma-separated): a request whose peer is one
# of them is counted against the client address they append to X-Forwarded-For. Empty: the
# peer itself (nothing in front, as in development and the tests' default).
VAXBOOK_TRUSTED_PROXIES = config.get_list("VAXBOOK_TRUSTED_PROXIES", validate=ipaddress.ip_network)

# Staff accounts: failed logins before a lock (vaxbook.login_limits), idle seconds before a
# session ends, and a second factor (vaxbook.second_factor) always possible, compulsory for
# every account when VAXBOOK_REQUIRE_SECOND_FACTOR is on (the production default).
VAXBOOK_ADMIN_LOGIN_FAILURES = config.get_int("VAXBOOK_ADMIN_LOGIN_FAILURES", 5, minimum=1)
VAXBOOK_STAFF_SESSION_IDLE_SECONDS = config.get_int(
    "VAXBOOK_STAFF_SESSION_IDLE_SECONDS", 1800, minimum=60
)
VAXBOOK_REQUIRE_SECOND_FACTOR = config.get_bool("VAXBOOK_REQUIRE_SECOND_FACTOR", PRODUCTION)

# Messages (vaxbook.notifications). Texts go out through VAXBOOK_SMS_BACKEND: "console" (the
# log and /dev/outbox/, development only: production refuses to start with it) or "solapi"
# (SOLAPI_* below). A message the channel refuses for now is tried again with a growing wait
# (10 s, 20 s, 40 s… at most VAXBOOK_MESSAGE_RETRY_MAX s), VAXBOOK_MESSAGE_MAX_ATTEMPTS times
# in all, then it is "failed" (officials can resend it from the admin). Links in messages start
# with VAXBOOK_SITE_URL.
VAXBOOK_SMS_BACKEND = config.get_setting("VAXBOOK_SMS_BACKEND", "console")
if PRODUCTION and VAXBOOK_SMS_BACKEND == "console":
    raise ImproperlyConfigured(
        "VAXBOOK_SMS_BACKEND=console only writes texts to the log: set a provider (solapi) "
        "in production."
    )
VAXBOOK_SITE_URL = config.get_production_setting(
    "VAXBOOK_SITE_URL",
    development_default="http://127.0.0.1:8000",
    why="the links in the texts people receive start with it",
)
VAXBOOK_MESSAGE_MAX_ATTEMPTS = config.get_int("VAXBOOK_MESSAGE_MAX_ATTEMPTS", 5, minimum=1)
VAXBOOK_MESSAGE_RETRY_MAX = config.get_int("VAXBOOK_MESSAGE_RETRY_MAX", 600, minimum=1)
# One-time codes texted to a phone (vaxbook.notifications.phone_codes): valid for
# VAXBOOK_PHONE_CODE_TTL seconds and VAXBOOK_PHONE_CODE_TRIES wrong tries; at most
# VAXBOOK_PHONE_CODE_SENDS codes to one phone per VAXBOOK_THROTTLE_WINDOW_SECONDS.
VAXBOOK_PHONE_CODE_TTL = config.get_int("VAXBOOK_PHONE_CODE_TTL", 300, minimum=30)
VAXBOOK_PHONE_CODE_TRIES = config.get_int("VAXBOOK_PHONE_CODE_TRIES", 5, minimum=1)
VAXBOOK_PHONE_CODE_SENDS = config.get_int("VAXBOOK_PHONE_CODE_SENDS", 5, minimum=1)
# ...and at most VAXBOOK_PHONE_CODE_SENDS_PER_DAY a day, each per purpose (booking, sign-up);
# one address has at most VAXBOOK_PHONE_CODE_SENDS_PER_ADDRESS codes sent per window.
VAXBOOK_PHONE_CODE_SENDS_PER_DAY = config.get_int("VAXBOOK_PHONE_CODE_SENDS_PER_DAY", 10, minimum=1)
VAXBOOK_PHONE_CODE_SENDS_PER_ADDRESS = config.get_int(
    "VAXBOOK_PHONE_CODE_SENDS_PER_ADDRESS", 20, minimum=1
)
# A message found "sending" (its worker stopped mid-send) is taken up again only after this many
# seconds, once the first worker's request to the provider cannot still be in flight (it must
# stay well above VAXBOOK_SOLAPI_TIMEOUT); the sweep that takes it up, and that publishes again
# a queued message whose task was lost, runs every VAXBOOK_SWEEP_INTERVAL_SECONDS.
VAXBOOK_MESSAGE_SENDING_LEASE = config.get_int("VAXBOOK_MESSAGE_SENDING_LEASE", 60, minimum=1)
# SOLAPI (VAXBOOK_SMS_BACKEND=solapi): the API key and secret of the account, the sender number
# registered with it, and how long to wait for an answer (seconds; a slow provider is retried).


def _solapi_setting(name: str) -> str:
    if VAXBOOK_SMS_BACKEND != "solapi":
        return config.get_setting(name)
    return config.get_production_setting(
        name, development_default="", why="VAXBOOK_SMS_BACKEND=solapi sends texts with it"
    )


VAXBOOK_SOLAPI_API_KEY = _solapi_setting("VAXBOOK_SOLAPI_API_KEY")
VAXBOOK_SOLAPI_API_SECRET = _solapi_setting("VAXBOOK_SOLAPI_API_SECRET")
VAXBOOK_SOLAPI_SENDER = _solapi_setting("VAXBOOK_SOLAPI_SENDER")
VAXBOOK_SOLAPI_URL = config.get_setting("VAXBOOK_SOLAPI_URL", "https://api.solapi.com")
VAXBOOK_SOLAPI_TIMEOUT = config.get_float("VAXBOOK_SOLAPI_TIMEOUT", 5.0, minimum=0.1)
# E-mail, to those who give an address on the identity step: VAXBOOK_EMAIL_BACKEND "smtp"
# (VAXBOOK_EMAIL_HOST, mandatory in production, and the rest below) or "console" (development:
# printed; refused in production).
_email_backends = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
}
VAXBOOK_EMAIL_BACKEND = config.get_setting(
    "VAXBOOK_EMAIL_BACKEND", "smtp" if PRODUCTION else "console"
)
if VAXBOOK_EMAIL_BACKEND not in _email_backends:
    raise ImproperlyConfigured(f"VAXBOOK_EMAIL_BACKEND must be one of {list(_email_backends)}.")
if PRODUCTION and VAXBOOK_EMAIL_BACKEND == "console":
    raise ImproperlyConfigured("VAXBOOK_EMAIL_BACKEND=console only prints e-mail: use smtp.")
EMAIL_BACKEND = _email_backends[VAXBOOK_EMAIL_BACKEND]
EMAIL_HOST = (
    config.get_production_setting(
        "VAXBOOK_EMAIL_HOST",
        development_default="localhost",
        why="the e-mail people asked for goes through it",
    )
    if VAXBOOK_EMAIL_BACKEND == "smtp"
    else "localhost"
)
EMAIL_PORT = config.get_int("VAXBOOK_EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = config.get_setting("VAXBOOK_EMAIL_USER")
EMAIL_HOST_PASSWORD = config.get_setting("VAXBOOK_EMAIL_PASSWORD")
EMAIL_USE_TLS = config.get_bool("VAXBOOK_EMAIL_USE_TLS", default=PRODUCTION)
EMAIL_TIMEOUT = config.get_float("VAXBOOK_EMAIL_TIMEOUT", 10.0, minimum=0.1)
DEFAULT_FROM_EMAIL = config.get_setting("VAXBOOK_EMAIL_FROM", "vaxbook <noreply@vaxbook.example>")
# Someone who signed up for it (campaigns.window_signups) is texted this many minutes before
# the opening of the booking window that is for their birth date. Reminders go the day before
# an appointment at each campaign's reminder time (Campaign.reminder_time, KST).
VAXBOOK_WINDOW_NOTICE_MINUTES = config.get_int("VAXBOOK_WINDOW_NOTICE_MINUTES", 10, minimum=1)

# Operators (vaxbook.metrics). GET /metrics answers Prometheus with
# "Authorization: Bearer <VAXBOOK_METRICS_TOKEN>"; without a token set it is off (404) in
# production and open in development. /healthz (load balancers) needs no token; each of its
# checks (database, Redis, broker) gives up after VAXBOOK_HEALTH_TIMEOUT seconds, and their
# result is reused, per process, for VAXBOOK_HEALTH_CACHE_SECONDS (a probe flood costs the
# database a session a second per process at most).
# Under gunicorn's several workers, set PROMETHEUS_MULTIPROC_DIR (read by prometheus-client
# itself, not here) to a directory emptied before every start; unset, each process counts alone.
VAXBOOK_METRICS_TOKEN = config.get_setting("VAXBOOK_METRICS_TOKEN")
if VAXBOOK_METRICS_TOKEN and len(VAXBOOK_METRICS_TOKEN) < 32:
    raise ImproperlyConfigured(
        "VAXBOOK_METRICS_TOKEN must be at least 32 characters (e.g. `openssl rand -hex 32`)."
    )
# The booking figures of a scrape (a count over the bookings table) are shared through the cache
# for this many seconds, so that scraping every web machine counts once (0: every scrape counts).
VAXBOOK_METRICS_CACHE_SECONDS = config.get_int("VAXBOOK_METRICS_CACHE_SECONDS", 10, minimum=0)
# Where the capacity planner finds the benchmark's measurements (`make bench` writes them there).
VAXBOOK_BENCH_RESULTS_DIR = Path(
    config.get_setting("VAXBOOK_BENCH_RESULTS_DIR", str(BASE_DIR / "bench" / "results"))
)
VAXBOOK_HEALTH_TIMEOUT = config.get_float("VAXBOOK_HEALTH_TIMEOUT", 2.0, minimum=0.1)
if VAXBOOK_HEALTH_TIMEOUT > 2.0:
    raise ImproperlyConfigured(
        "VAXBOOK_HEALTH_TIMEOUT must be at most 2 seconds: a load balancer's check is short."
    )
VAXBOOK_HEALTH_CACHE_SECONDS = config.get_float("VAXBOOK_HEALTH_CACHE_SECONDS", 1.0, minimum=0)
if VAXBOOK_HEALTH_CACHE_SECONDS > 10:
    raise ImproperlyConfigured(
        "VAXBOOK_HEALTH_CACHE_SECONDS must be at most 10 seconds: a load balancer must see an "
        "outage."
    )
# prometheus-client goes multiprocess as soon as either spelling is in the environment, even
# empty (its files then land in the working directory): set, it must name a directory.
for _variable in ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir"):
    _multiproc_dir = os.environ.get(_variable)
    if _multiproc_dir is not None and not (_multiproc_dir and Path(_multiproc_dir).is_dir()):
        raise ImproperlyConfigured(
            f"{_variable}={_multiproc_dir!r} must be an existing (emptied) directory, or unset."
        )

INSTALLED_APPS = [
    "csp",
    "vaxbook.apps.AdminConfig",  # django.contrib.admin, its login with a second factor
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "vaxbook.auditlog",  # the audit log every app writes to
    "vaxbook.notifications",  # the outbox: texts and e-mails people receive
    "vaxbook.dashboard",  # officials' live picture of an opening (admin)
    "vaxbook.planner",  # the capacity planner (admin)
    "vaxbook.metrics",  # Prometheus metrics and /healthz for operators
    "campaigns",
    "clinics",
    "bookings",
]

MIDDLEWARE = [
    # First: it times every request, the other middleware included, and counts it by view.
    "vaxbook.metrics.middleware.RequestMetrics",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "vaxbook.middleware.RequireUtf8Body",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the one chosen with the switch (its cookie), else the browser's, else Korean.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "vaxbook.second_factor.SecondFactorRequired",
    "vaxbook.middleware.StaffSessionExpiry",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked login into the 429 page.
    "axes.middleware.AxesMiddleware",
]

# The waiting room's status poll (vaxbook.wsgi serves it with a lean handler) goes through these
# only, in this order: it reads signed cookies and the cache, and needs no session, CSRF, login,
# second factor, messages or login lockout. CommonMiddleware keeps the Host check of every page.
_lean = (
    "vaxbook.metrics.middleware.RequestMetrics",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)
LEAN_MIDDLEWARE = [m for m in MIDDLEWARE if m in _lean]

ROOT_URLCONF = "vaxbook.urls"
WSGI_APPLICATION = "vaxbook.wsgi.application"

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
            ],
            # In every template without {% load %}: {% translate %} and the KST date filters.
            "builtins": ["django.templatetags.i18n", "vaxbook.template_dates"],
        },
    },
]

DATABASE_URL = config.get_production_setting(
    "DATABASE_URL",
    development_default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
    why="PostgreSQL, for example postgres://user@host:5432/vaxbook.",
)
if PRODUCTION and DATABASE_URL.startswith("sqlite"):
    raise ImproperlyConfigured(
        "DATABASE_URL must point at PostgreSQL when DJANGO_ENV=production, not SQLite: only "
        "PostgreSQL keeps the capacity and one-booking-per-person guarantees under load."
    )
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _db_options = DATABASES["default"].setdefault("OPTIONS", {})
    # How long a statement waits for a row lock before it fails (0: forever). Every capacity
    # change waits on its slot's row; a transaction that keeps it (a stuck session, an official's
    # console left open in a transaction) must not freeze every confirmation of that slot
    # behind it: the task fails, retries with backoff and finally gives up honestly. Normal
    # waits on a hot slot are milliseconds, so 5 s only ends the pathological ones.
    if VAXBOOK_DB_LOCK_TIMEOUT_MS:
        _db_options["options"] = (
            f"{_db_options.get('options', '')} -c lock_timeout={VAXBOOK_DB_LOCK_TIMEOUT_MS}".strip()
        )
    # Names this process's sessions in pg_stat_activity (web, worker, ...), so that an operator
    # (or a test) can find and end them.
    if VAXBOOK_DB_APPLICATION_NAME:
        _db_options["application_name"] = VAXBOOK_DB_APPLICATION_NAME
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = config.get_production_setting(
    "REDIS_URL",
    development_default="",
    why="Redis is the cache and the Celery broker; without it tasks would run eagerly inside "
    "the web process.",
)
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's, with one redis-py client reused per pool (vaxbook/redis_cache.py)
            "BACKEND": "vaxbook.redis_cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "vaxbook",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Sessions carry a booking in progress (the person's RRN only encrypted). With Redis they live
# only in Redis: no database write on every step of the surge (cached_db wrote each change
# through to PostgreSQL). The trade-off: if Redis loses its data, people in the middle of the
# steps start again at step 1 (bookings themselves are rows in PostgreSQL), and staff log in
# again. Without Redis (the embedded default) they stay in the database.
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cache"
    if REDIS_URL
    else "django.contrib.sessions.backends.cached_db"
)
SESSION_COOKIE_AGE = 60 * 60 * 2
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "vaxbook.views.csrf_failure"

# HTTPS. Production is served over HTTPS only; development (`make run`) is plain HTTP.
# TLS ends at the load balancer, which forwards plain HTTP to gunicorn and says in
# X-Forwarded-Proto which scheme the client used. Trusting that header is safe only because the
# load balancer overwrites any X-Forwarded-Proto a client sends and gunicorn is not reachable
# except through it; in development nothing sets it, so it is not trusted there.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
SECURE_SSL_REDIRECT = PRODUCTION
# Load balancers' health checks and Prometheus reach gunicorn directly on the internal network,
# over plain HTTP: no redirect for them (the metrics still need their token).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
LANGUAGE_COOKIE_SECURE = PRODUCTION
# A year of HSTS, for every subdomain, and eligible for the browsers' preload lists. This is a
# commitment: once preloaded, the domain and all its subdomains cannot go back to plain HTTP
# for months, so every subdomain must serve HTTPS before this is deployed.
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365 if PRODUCTION else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
# In every mode (they cost nothing on plain HTTP, and the tests see them).
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Content Security Policy (django-csp), in every mode so that development and the tests run
# under the policy production sends: our own script and style files only — no inline script,
# no inline style attribute anywhere (the admin's campaign timeline is SVG with presentation
# attributes), so neither needs 'unsafe-inline'.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses an attempt while its user name and address are locked (django-axes).
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed logins (vaxbook.login_limits): locked per normalised user name *and* address, for
# VAXBOOK_THROTTLE_WINDOW_SECONDS after VAXBOOK_ADMIN_LOGIN_FAILURES failures.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "vaxbook.login_limits.username_tried"
AXES_FAILURE_LIMIT = "vaxbook.login_limits.failure_limit"
AXES_COOLOFF_TIME = "vaxbook.login_limits.cool_off"
AXES_LOCKOUT_CALLABLE = "vaxbook.login_limits.locked_out"
AXES_CLIENT_IP_CALLABLE = "bookings.throttle.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
LOGIN_URL = "/admin/login/"
OTP_TOTP_ISSUER = "vaxbook"
LOGIN_REDIRECT_URL = "/staff/"

# Korean first: a browser that asks for nothing we speak gets Korean; English is the second
# language. Catalogues: locale/ (shared templates, vaxbook) and <app>/locale/ (each app's own).
LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", "한국어"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates and times as each language writes them (vaxbook/formats/<lang>/formats.py), the admin's too.
FORMAT_MODULE_PATH = ["vaxbook.formats"]
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
# Windows are stored as aware datetimes (UTC in the database) and shown in Korea time.
TIME_ZONE = "Asia/Seoul"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["vaxbook.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Celery: Redis as broker when REDIS_URL is set; otherwise tasks run eagerly in-process.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# With acks_late a prefetched message stays unacknowledged until done, so prefetching a few
# is safe (a dead worker's messages come back) and saves a broker round trip per task.
CELERY_WORKER_PREFETCH_MULTIPLIER = VAXBOOK_CELERY_PREFETCH
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis gives a message that was delivered but never acknowledged (acks_late: its worker was
# killed mid-task) to another worker only after this many seconds. Shorter brings a killed
# worker's confirmations back sooner, but every task still held longer than this is delivered
# a second time while its first worker still has it: a slow task, a message waiting in a busy
# worker's prefetch, and above all a retry waiting out its backoff (its message stays
# unacknowledged until it runs). confirm_booking is
# idempotent, so that costs work, not correctness; it must still stay well above the retry
# backoff and the longest task. The sweep below decides such bookings within minutes anyway,
# so the default stays Celery's hour.
# Urgent messages (a one-time code someone is waiting for, standing at the identity step) go
# to their own queue, "urgent", which every worker consumes before the default one, "celery":
# both are listed here, so a worker started without -Q consumes both, and the "priority" order
# makes Redis's BRPOP always look at "urgent" first (kombu's default round robin would let a
# burst of confirmations hold a code back). A worker still runs what it already prefetched
# (VAXBOOK_CELERY_PREFETCH) before it takes an urgent message.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = (Queue("urgent"), Queue("celery"))
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": VAXBOOK_BROKER_VISIBILITY_TIMEOUT,
    "queue_order_strategy": "priority",
}
CELERY_BEAT_SCHEDULE = {
    "confirm-stale-pending-bookings": {
        "task": "bookings.tasks.confirm_stale_bookings",
        "schedule": VAXBOOK_SWEEP_INTERVAL_SECONDS,
    },
    "purge-personal-data": {
        "task": "bookings.tasks.purge_personal_data",
        "schedule": 24 * 3600.0,
    },
    # Messages whose task or worker was lost (vaxbook.notifications.services.deliver).
    "send-stalled-notifications": {
        "task": "vaxbook.notifications.tasks.send_stalled_notifications",
        "schedule": VAXBOOK_SWEEP_INTERVAL_SECONDS,
    },
    # A safety net for the draws, which the first poll after an opening normally starts.
    "draw-due-waiting-rooms": {
        "task": "campaigns.tasks.draw_due_waiting_rooms",
        "schedule": 5.0,
    },
    # The day-before reminders due (vaxbook.notifications.reminders), and the texts to those
    # who asked to be told when their booking window opens (campaigns.window_signups).
    "send-due-reminders": {
        "task": "vaxbook.notifications.tasks.send_due_reminders",
        "schedule": 300.0,
    },
    "send-window-notices": {
        "task": "campaigns.tasks.send_window_notices",
        "schedule": 60.0,
    },
    # After a clinic's day (KST), appointments not checked in become no-shows; hourly, so the
    # first run after midnight KST does it (idempotent: later runs find nothing).
    "mark-no-shows": {
        "task": "bookings.tasks.mark_no_shows",
        "schedule": 3600.0,
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": config.get_setting("LOG_LEVEL", "INFO")},
    # django-axes logs every login at INFO; failures and lock-outs (WARNING) are what matter.
    "loggers": {"axes": {"level": "WARNING"}},
}
