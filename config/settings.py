"""Attune settings: one module, driven by environment variables.

Defaults give a working development setup (SQLite under ``var/``, the django-q2 ORM broker).
With ``DEBUG`` off, a missing ``SECRET_KEY`` stops the process instead of running insecurely.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (or set DEBUG=1 for local development)."
        )
    SECRET_KEY = "attune-insecure-development-key"  # noqa: S105 - only ever used with DEBUG on

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if not DEBUG else "*")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.import_export",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "import_export",
    "axes",
    "people",
    "identity",
    "computed",
    "audiences",
    "actions",
    "privacy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # serves the admin's static files in production
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # last, as django-axes requires: answers a locked-out admin login with 429
    "axes.middleware.AxesMiddleware",
]
# The client APIs (tracking, mParticle, Profile API, client actions) authenticate with write keys and
# tokens: no session, user, CSRF, messages, static files or login throttling. config/wsgi.py serves
# these paths through this stack (config/handlers.py), which sets the same security headers.
CLIENT_API_PATHS = ("/v1/", "/v2/", "/beacon/")
CLIENT_API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Served over TLS (HTTPS=1, usually behind a proxy that terminates it): Secure cookies, HSTS and a
# Content-Security-Policy. Off by default, so local http://localhost development keeps working.
# Each can also be set on its own; see docs/deployment.md.
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600) if HTTPS else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Off by default: SDKs that POST to http:// would not follow a redirect; let the proxy redirect.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# The proxy tells Django the original scheme (HSTS and Secure cookies need request.is_secure()).
if env_bool("TRUST_X_FORWARDED_PROTO", HTTPS):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Only our own origin: the admin (Unfold, Alpine.js) needs inline scripts and styles and eval.
DEFAULT_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY", DEFAULT_CONTENT_SECURITY_POLICY if HTTPS else ""
)

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
            ],
        },
    },
]

# Database: DATABASE_URL (PostgreSQL in production), else an embedded SQLite file.
(BASE_DIR / "var").mkdir(exist_ok=True)
DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'var' / 'attune.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "600")),
        conn_health_checks=os.environ.get("DATABASE_HEALTH_CHECKS", "1") != "0",
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Statements are prepared only where the code asks (``people.rawsql.select_prepared``: the hot
    # statements whose plan costs more than their run); never automatically. Behind PgBouncer in
    # transaction mode, that needs its ``max_prepared_statements`` (docs/deployment.md).
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 2**31 - 1
    # DATABASE_POOL_SIZE > 0: each process keeps a pool of at most that many open connections
    # (psycopg_pool through Django's "pool" option), lent to a request and taken back after it. The
    # production server sets it (config/gunicorn.conf.py): its gevent workers serve each request in a
    # greenlet of its own, which without a pool would open and close a connection per request (a new
    # server process, cold catalog caches, prepared statements planned again every time). A request
    # waits up to DATABASE_POOL_TIMEOUT seconds for a free connection. Pooling replaces CONN_MAX_AGE.
    DATABASE_POOL_SIZE = int(os.environ.get("DATABASE_POOL_SIZE", "0"))
    if DATABASE_POOL_SIZE > 0:
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": min(2, DATABASE_POOL_SIZE),
            "max_size": DATABASE_POOL_SIZE,
            "timeout": float(os.environ.get("DATABASE_POOL_TIMEOUT", "30")),
        }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the django-q2 worker share the file.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Admin login throttling (django-axes): after ADMIN_LOGIN_FAILURE_LIMIT wrong passwords for one
# username from one address, that pair is refused (429) for ADMIN_LOGIN_COOLOFF_MINUTES. Attempts
# are kept in the database, so every worker and host sees them; an Admin can unlock early under
# "Access attempts" or with `manage.py axes_reset`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("ADMIN_LOGIN_THROTTLING", True)
AXES_FAILURE_LIMIT = int(os.environ.get("ADMIN_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("ADMIN_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
# The organization timezone ("today", calendar days, "on a date") is first filled from here and
# then edited in the admin (people.OrganizationSettings).
ORGANIZATION_NAME = os.environ.get("ORGANIZATION_NAME", "Attune")
ORGANIZATION_TIMEZONE = os.environ.get("ORGANIZATION_TIMEZONE", "UTC")

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "admin:index"

# django-q2: the ORM broker by default, Redis when REDIS_URL is set.
REDIS_URL = os.environ.get("REDIS_URL", "")
Q_CLUSTER = {
    "name": "attune",
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    "timeout": 1800,
    "retry": 1900,
    "max_attempts": 3,
    "queue_limit": 50,
    "save_limit": 500,
    "catch_up": False,
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
# Queued ingestion's drain on a queue of its own: with INGEST_DRAIN_CLUSTER=ingest the drain tasks go to
# the "ingest" queue, served by a second cluster started as `Q_CLUSTER_NAME=ingest manage.py qcluster`
# (INGEST_DRAIN_WORKERS workers); computed refreshes and jobs stay on the default one. Empty: one queue.
INGEST_DRAIN_CLUSTER = os.environ.get("INGEST_DRAIN_CLUSTER", "")
Q_CLUSTER["ALT_CLUSTERS"] = (
    {INGEST_DRAIN_CLUSTER: {"workers": int(os.environ.get("INGEST_DRAIN_WORKERS", "2"))}}
    if INGEST_DRAIN_CLUSTER
    else {}
)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.api.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["config.api.permissions.StaffModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": [
        "config.api.filters.CheckedFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.DefaultCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.errors.exception_handler",
    # JSON nested deeper than Python's decoder can follow is a 400 with a reason, never a 500.
    "DEFAULT_PARSER_CLASSES": [
        "config.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Attune API",
    "DESCRIPTION": (
        "Management API (`/api/`), tracking endpoints (Segment/RudderStack `/v1/*`, mParticle `/v2/*`) "
        "and the Profile API of Attune, an open-source customer data platform."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Named enums of the actions API (several apps have a "state" or "kind").
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    **SPECTACULAR_SETTINGS.get("ENUM_NAME_OVERRIDES", {}),
    "ActionStateEnum": "actions.models.Action.State",
    "ActionPropertyKindEnum": "actions.models.ActionProperty.Kind",
    "ActionHookKindEnum": "actions.models.Hook.Kind",
    "ActionReactionKindEnum": "actions.models.ReactionKind",
    "WebhookDeliveryStatusEnum": "actions.models.WebhookDelivery.Status",
}

# Ingestion limits (identity app reads these).
INGEST_MAX_BODY_BYTES = int(os.environ.get("INGEST_MAX_BODY_BYTES", str(4 * 1024 * 1024)))
INGEST_MAX_MESSAGE_BYTES = int(os.environ.get("INGEST_MAX_MESSAGE_BYTES", str(32 * 1024)))
# "inline": a tracking request is fully processed before it is answered; "queued": it is stored
# durably in one INSERT, answered at once and processed by the django-q2 workers (see docs/ingestion.md).
INGEST_MODE = os.environ.get("INGEST_MODE", "inline")
INGEST_QUEUE_BATCH_MESSAGES = int(os.environ.get("INGEST_QUEUE_BATCH_MESSAGES", "1000"))
# messageId de-duplication window in hours (never below 48).
INGEST_DEDUPE_HOURS = int(os.environ.get("INGEST_DEDUPE_HOURS", "72"))


# Caches. "default" serves per-process read caches (dashboard figures); "ratelimit" holds the request
# counters of the tracking, mParticle and Profile APIs: Redis when REDIS_URL is set (atomic counters
# shared by every worker and host), else the process's own memory (each worker counts alone).
# With Redis, "default" is shared too: a service's cache version bump (people/caching.py) and the
# dashboard figures then reach every process at once.
def _cache(location: str) -> dict:
    if REDIS_URL:
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": location}


CACHES = {"default": _cache("attune-default"), "ratelimit": _cache("attune-ratelimit")}
ATTUNE_RATE_LIMIT_CACHE = "ratelimit"
# "<requests>/<seconds>" (or /second, /minute, /hour); "0" turns a limit off. Answered 429 with
# Retry-After in each API's own error shape (docs/deployment.md).
ATTUNE_RATE_LIMITS = {
    # per write key, tracking (/v1/*) and mParticle (/v2/*) together: 500 requests a second
    "write_key": os.environ.get("RATE_LIMIT_WRITE_KEY", "30000/60"),
    # per Profile API token: 100 requests a second
    "profile_token": os.environ.get("RATE_LIMIT_PROFILE_TOKEN", "6000/60"),
    # per client address, requests with a wrong write key, key:secret or token
    "failed_auth": os.environ.get("RATE_LIMIT_FAILED_AUTH", "60/60"),
}

# Privacy: the salt of tombstones and audit hashes (salted hashes of erased identifiers). Empty: derived
# from SECRET_KEY; pin it here before rotating SECRET_KEY (see docs/privacy.md).
PRIVACY_TOMBSTONE_SALT = os.environ.get("PRIVACY_TOMBSTONE_SALT", "")

# django-import-export
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}


def _can(permission: str | None):
    """A sidebar item shows only to users who may open the page behind it."""
    if permission is None:
        return lambda request: request.user.is_active and request.user.is_staff
    return lambda request: request.user.has_perm(permission)


# One sidebar for every page: the marketer's pages first, then data collection, identity, the data
# model and settings. Apps added later appear under "All applications" until they get a section here.
UNFOLD = {
    "SITE_TITLE": "Attune",
    "SITE_HEADER": "Attune",
    "SITE_SUBHEADER": "Customer data platform",
    "DASHBOARD_CALLBACK": "people.dashboard.dashboard_callback",
    "SHOW_HISTORY": True,
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        "navigation": [
            {
                "title": _("People"),
                "separator": True,
                "items": [
                    {
                        "title": _("Dashboard"),
                        "icon": "dashboard",
                        "link": reverse_lazy("admin:index"),
                        "permission": _can(None),
                    },
                    {
                        "title": _("People"),
                        "icon": "people",
                        "link": reverse_lazy("admin:people_person_changelist"),
                        "permission": _can("people.view_person"),
                    },
                    {
                        "title": _("Import people"),
                        "icon": "upload_file",
                        "link": reverse_lazy("people_import_upload"),
                        "permission": _can("people.change_person"),
                    },
                    {
                        "title": _("Export people"),
                        "icon": "download",
                        "link": reverse_lazy("people_export"),
                        "permission": _can("people.view_person"),
                    },
                    {
                        "title": _("Events"),
                        "icon": "bolt",
                        "link": reverse_lazy("admin:people_event_changelist"),
                        "permission": _can("people.view_event"),
                    },
                    {
                        "title": _("Computed attributes"),
                        "icon": "functions",
                        "link": reverse_lazy("admin:computed_computedattribute_changelist"),
                        "permission": _can("computed.view_computedattribute"),
                    },
                    {
                        "title": _("Audiences"),
                        "icon": "groups",
                        "link": reverse_lazy("admin:audiences_audience_changelist"),
                        "permission": _can("audiences.view_audience"),
                    },
                    {
                        "title": _("Jobs"),
                        "icon": "pending_actions",
                        "link": reverse_lazy("admin:people_job_changelist"),
                        "permission": _can("people.view_job"),
                    },
                ],
            },
            {
                "title": _("Actions"),
                "separator": True,
                "items": [
                    {
                        "title": _("Actions"),
                        "icon": "campaign",
                        "link": reverse_lazy("admin:actions_action_changelist"),
                        "permission": _can("actions.view_action"),
                    },
                    {
                        "title": _("Reactions"),
                        "icon": "touch_app",
                        "link": reverse_lazy("admin:actions_reaction_changelist"),
                        "permission": _can("actions.view_reaction"),
                    },
                    {
                        "title": _("Webhook deliveries"),
                        "icon": "webhook",
                        "link": reverse_lazy("admin:actions_webhookdelivery_changelist"),
                        "permission": _can("actions.view_webhookdelivery"),
                    },
                    {
                        "title": _("Audience webhooks"),
                        "icon": "notifications",
                        "link": reverse_lazy("admin:actions_audiencewebhook_changelist"),
                        "permission": _can("actions.view_audiencewebhook"),
                    },
                ],
            },
            {
                "title": _("Data collection"),
                "separator": True,
                "items": [
                    {
                        "title": _("Sources"),
                        "icon": "input",
                        "link": reverse_lazy("admin:people_source_changelist"),
                        "permission": _can("people.view_source"),
                    },
                    {
                        "title": _("Event debugger"),
                        "icon": "troubleshoot",
                        "link": reverse_lazy("admin:identity_debugger_index"),
                        "permission": _can("identity.view_sourcedailystat"),
                    },
                    {
                        "title": _("Source activity"),
                        "icon": "monitoring",
                        "link": reverse_lazy("admin:identity_sourcedailystat_changelist"),
                        "permission": _can("identity.view_sourcedailystat"),
                        # The debugger's pages live under this one's address; only one is highlighted.
                        "active": lambda request: (
                            request.path.startswith("/admin/identity/sourcedailystat/")
                            and "/debugger/" not in request.path
                        ),
                    },
                    {
                        "title": _("Rejected messages"),
                        "icon": "report",
                        "link": reverse_lazy("admin:people_rejectedmessage_changelist"),
                        "permission": _can("people.view_rejectedmessage"),
                    },
                    {
                        "title": _("Seen but undefined"),
                        "icon": "help",
                        "link": reverse_lazy("admin:identity_seenundefined_changelist"),
                        "permission": _can("identity.view_seenundefined"),
                    },
                    {
                        "title": _("Inbound batches"),
                        "icon": "inbox",
                        "link": reverse_lazy("admin:identity_inboundbatch_changelist"),
                        "permission": _can("identity.view_inboundbatch"),
                    },
                ],
            },
            {
                "title": _("Identity"),
                "separator": True,
                "items": [
                    {
                        "title": _("Identities"),
                        "icon": "fingerprint",
                        "link": reverse_lazy("admin:identity_identity_changelist"),
                        "permission": _can("identity.view_identity"),
                    },
                    {
                        "title": _("Merges"),
                        "icon": "merge",
                        "link": reverse_lazy("admin:identity_merge_changelist"),
                        "permission": _can("identity.view_merge"),
                    },
                    {
                        "title": _("Identifier types"),
                        "icon": "badge",
                        "link": reverse_lazy("admin:identity_identifiertype_changelist"),
                        "permission": _can("identity.view_identifiertype"),
                    },
                    {
                        "title": _("Suppressed identifiers"),
                        "icon": "block",
                        "link": reverse_lazy("admin:identity_suppressedidentifier_changelist"),
                        "permission": _can("identity.view_suppressedidentifier"),
                    },
                ],
            },
            {
                "title": _("Privacy"),
                "separator": True,
                "items": [
                    {
                        "title": _("Privacy requests"),
                        "icon": "policy",
                        "link": reverse_lazy("admin:privacy_privacyrequest_changelist"),
                        "permission": _can("privacy.view_privacyrequest"),
                    },
                    {
                        "title": _("Suppressed profiles"),
                        "icon": "block",
                        "link": reverse_lazy("admin:privacy_suppression_changelist"),
                        "permission": _can("privacy.view_suppression"),
                    },
                    {
                        "title": _("Tombstones"),
                        "icon": "delete_forever",
                        "link": reverse_lazy("admin:privacy_tombstone_changelist"),
                        "permission": _can("privacy.view_tombstone"),
                    },
                    {
                        "title": _("Privacy audit log"),
                        "icon": "history",
                        "link": reverse_lazy("admin:privacy_auditentry_changelist"),
                        "permission": _can("privacy.view_auditentry"),
                    },
                ],
            },
            {
                "title": _("Data model"),
                "separator": True,
                "items": [
                    {
                        "title": _("Attribute definitions"),
                        "icon": "label",
                        "link": reverse_lazy("admin:people_attributedefinition_changelist"),
                        "permission": _can("people.view_attributedefinition"),
                    },
                    {
                        "title": _("Event definitions"),
                        "icon": "schema",
                        "link": reverse_lazy("admin:people_eventdefinition_changelist"),
                        "permission": _can("people.view_eventdefinition"),
                    },
                    {
                        "title": _("Context definitions"),
                        "icon": "devices",
                        "link": reverse_lazy("admin:people_contextdefinition_changelist"),
                        "permission": _can("people.view_contextdefinition"),
                    },
                    {
                        "title": _("Channels"),
                        "icon": "hub",
                        "link": reverse_lazy("admin:people_channel_changelist"),
                        "permission": _can("people.view_channel"),
                    },
                ],
            },
            {
                "title": _("Settings"),
                "separator": True,
                "items": [
                    {
                        "title": _("Organization"),
                        "icon": "apartment",
                        "link": reverse_lazy("admin:people_organizationsettings_changelist"),
                        "permission": _can("people.view_organizationsettings"),
                    },
                    {
                        "title": _("Profile API tokens"),
                        "icon": "key",
                        "link": reverse_lazy("admin:identity_accesstoken_changelist"),
                        "permission": _can("identity.view_accesstoken"),
                    },
                    {
                        "title": _("Management API tokens"),
                        "icon": "vpn_key",
                        "link": reverse_lazy("admin:authtoken_tokenproxy_changelist"),
                        "permission": _can("authtoken.view_tokenproxy"),
                    },
                    {
                        "title": _("Admin login attempts"),
                        "icon": "lock_person",
                        "link": reverse_lazy("admin:axes_accessattempt_changelist"),
                        "permission": _can("axes.view_accessattempt"),
                    },
                    {
                        "title": _("Users"),
                        "icon": "person",
                        "link": reverse_lazy("admin:auth_user_changelist"),
                        "permission": _can("auth.view_user"),
                    },
                    {
                        "title": _("Groups"),
                        "icon": "group",
                        "link": reverse_lazy("admin:auth_group_changelist"),
                        "permission": _can("auth.view_group"),
                    },
                    {
                        "title": _("Task queue"),
                        "icon": "schedule",
                        "link": reverse_lazy("admin:django_q_success_changelist"),
                        "permission": _can("django_q.view_success"),
                    },
                ],
            },
        ],
    },
}

# The actions app's sidebar group.
# Task paths (strings, so people imports no higher app) enqueued after commit with the ids of people
# whose attributes or events changed: the higher apps' incremental refresh.
ATTUNE_PERSON_CHANGED_TASKS: list[str] = ["computed.tasks.refresh_people", "audiences.tasks.refresh_people"]
# Dotted paths of functions ``load(stdout) -> None`` that add each higher app's demo data after
# people's (``manage.py load_demo``): identities, computed attributes ...
ATTUNE_DEMO_HOOKS: list[str] = [
    "identity.demo.load",
    "computed.demo.load",
    "audiences.demo.load",
    "actions.demo.load",
]
# Task paths that audiences call after commit with (audience_id=, first_history_id=, last_history_id=)
# when people enter or exit an audience: the actions app's audience webhooks.
ATTUNE_MEMBERSHIP_CHANGED_TASKS: list[str] = ["actions.tasks.audience_membership_changed"]
