"""vaxbook settings. Every value that differs between machines comes from the environment.

Without ``DATABASE_URL`` and ``REDIS_URL`` this is the embedded default of ``make run``:
SQLite, an in-memory cache and Celery tasks run eagerly in-process. With them (tests,
benchmark, production) it is PostgreSQL, Redis as cache and broker, and real workers.
"""

import dj_database_url

from vaxbook import config

BASE_DIR = config.BASE_DIR

DEBUG = config.get_bool("DJANGO_DEBUG", default=not config.is_production())
SECRET_KEY = config.get_mandatory_secret("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = [
    h.strip()
    for h in config.get_setting("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
    if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "campaigns",
    "clinics",
    "bookings",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "vaxbook.middleware.StaffSessionExpiry",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
        },
    },
]

DATABASE_URL = config.get_setting("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = config.get_setting("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "vaxbook",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Sessions carry a booking in progress (the person's RRN only encrypted); keep them in the
# database so that they survive a cache flush, with the cache in front for reads.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_AGE = 60 * 60 * 2
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "vaxbook.views.csrf_failure"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"
LOGIN_REDIRECT_URL = "/staff/"

LANGUAGE_CODE = "en"
# Windows are stored as aware datetimes (UTC in the database) and shown in Korea time.
TIME_ZONE = "Asia/Seoul"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
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
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The sweep re-enqueues bookings still pending after a lost message, so none stays pending.
CELERY_BEAT_SCHEDULE = {
    "confirm-stale-pending-bookings": {
        "task": "bookings.tasks.confirm_stale_bookings",
        "schedule": 60.0,
    },
    # A safety net for the draw, which the first poll after the opening normally starts.
    "draw-due-waiting-rooms": {
        "task": "campaigns.tasks.draw_due_waiting_rooms",
        "schedule": 5.0,
    },
}

# Personal data. Encryption keys are Fernet keys, newest first, comma-separated, so that a
# key can be rotated in; the HMAC key for matching registration numbers is separate.
VAXBOOK_PII_KEYS = [
    k.strip()
    for k in config.get_mandatory_secret("VAXBOOK_PII_KEYS", kind="fernet").split(",")
    if k.strip()
]
VAXBOOK_RRN_HMAC_KEY = config.get_mandatory_secret("VAXBOOK_RRN_HMAC_KEY")
# How long each signed step token of the booking flow stays valid.
VAXBOOK_STEP_TOKEN_MAX_AGE = int(config.get_setting("VAXBOOK_STEP_TOKEN_MAX_AGE", "1800"))
# A booking still pending after this many seconds is re-enqueued by the sweep.
VAXBOOK_PENDING_SWEEP_AFTER = int(config.get_setting("VAXBOOK_PENDING_SWEEP_AFTER", "120"))

# The waiting room: seconds after the opening before the draw (arrivals still in flight at
# the opening instant get in), and the shortest interval at which a queue page polls.
VAXBOOK_QUEUE_DRAW_GRACE = float(config.get_setting("VAXBOOK_QUEUE_DRAW_GRACE", "3"))
VAXBOOK_QUEUE_POLL_SECONDS = int(config.get_setting("VAXBOOK_QUEUE_POLL_SECONDS", "2"))
SESSION_COOKIE_SECURE = config.is_production()
CSRF_COOKIE_SECURE = config.is_production()

# Abuse limits (bookings.throttle): attempts per window, per client address and per person.
VAXBOOK_THROTTLE_WINDOW_SECONDS = int(config.get_setting("VAXBOOK_THROTTLE_WINDOW_SECONDS", "600"))
VAXBOOK_THROTTLE_PER_ADDRESS = int(config.get_setting("VAXBOOK_THROTTLE_PER_ADDRESS", "30"))
VAXBOOK_THROTTLE_PER_PERSON = int(config.get_setting("VAXBOOK_THROTTLE_PER_PERSON", "10"))
VAXBOOK_ADMIN_LOGIN_FAILURES = int(config.get_setting("VAXBOOK_ADMIN_LOGIN_FAILURES", "5"))
# Staff sessions end after this many seconds without a request.
VAXBOOK_STAFF_SESSION_IDLE_SECONDS = int(
    config.get_setting("VAXBOOK_STAFF_SESSION_IDLE_SECONDS", "1800")
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": config.get_setting("LOG_LEVEL", "INFO")},
}
