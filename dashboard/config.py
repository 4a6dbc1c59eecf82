"""Configuration read from the environment, with safe defaults for a first run."""

import os
from datetime import timedelta

from dashboard.plans import DEFAULT_PLANS, with_calls_in_flight

DEVELOPMENT_URL = "http://127.0.0.1:5000"  # where `make run` serves
DEFAULT_MAIL_FROM = "Toolbox <no-reply@toolbox.localhost>"  # `flask doctor` warns in production


def env_flag(name: str, default: bool = False) -> bool:
    """A boolean environment variable: 1/true/yes/on are true."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    """An integer environment variable, or the default when unset."""
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_secrets(name: str) -> dict[str, str]:
    """`ref=secret,ref2=secret2` from the environment, as {ref: secret}."""
    pairs = (item.partition("=") for item in os.environ.get(name, "").split(","))
    return {ref.strip(): secret.strip() for ref, _, secret in pairs if ref.strip() and secret}


def env_float(name: str, default: float) -> float:
    """A number environment variable, or the default when unset."""
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def env_list(name: str, default: str) -> list[str]:
    """A comma-separated environment variable as a list (empty items dropped)."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def normalise_database_url(url: str) -> str:
    """Point plain postgres:// URLs at psycopg 3, the driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    """Settings for a normal run; every value can come from the environment."""

    TESTING = False
    PRODUCTION = False

    def __init__(self) -> None:
        self.SECRET_KEY = os.environ.get("SECRET_KEY")  # None: generated in instance/ (dev only)
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            os.environ.get("DATABASE_URL", "sqlite:///dashboard.sqlite")
        )
        # The address customers open (https://dash.example.com): every emailed link starts with
        # it, whatever Host a request names. Required in production; `make run`'s elsewhere.
        self.PUBLIC_URL = os.environ.get("PUBLIC_URL") or (
            "" if self.PRODUCTION else DEVELOPMENT_URL
        )
        # Production refuses (400) a request whose Host is neither PUBLIC_URL's host nor one of
        # these: the machine's own names, for health probes and `curl` on it.
        self.EXTRA_TRUSTED_HOSTS = env_list("EXTRA_TRUSTED_HOSTS", "localhost,127.0.0.1")
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI)
        self.RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
        # Redis down: the gateway fails open (calls go through, unmetered by the limiter).
        self.RATELIMIT_FAIL_OPEN = env_flag("RATELIMIT_FAIL_OPEN", True)
        # Redis waits and outages: a call waits at most this long, then Redis is left alone.
        self.RATELIMIT_REDIS_TIMEOUT = env_float("RATELIMIT_REDIS_TIMEOUT", 0.25)
        self.RATELIMIT_RETRY_SECONDS = env_float("RATELIMIT_RETRY_SECONDS", 5)
        # Names of the API's rate-limit logs and invalidation marks in Redis start with this.
        self.RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "tools-api")
        # The sliding window of the API's limits ("calls a minute"); shorter only in tests.
        self.RATELIMIT_WINDOW_SECONDS = env_int("RATELIMIT_WINDOW_SECONDS", 60)
        # Test-mode keys (tk_test_…) make at most this many calls a minute (or their own limit).
        self.TEST_KEY_RATE_LIMIT_PER_MINUTE = env_int("TEST_KEY_RATE_LIMIT_PER_MINUTE", 10)
        self.RATELIMIT_HEADERS_ENABLED = False  # the gateway writes its own headers
        # The form limiter (log-in, sign-up, resets) with Redis down: count in this process
        # instead (per worker) until Redis answers again, and never fail a page for it.
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        self.RATELIMIT_SWALLOW_ERRORS = True
        # Said outright: Flask-Limiter's one Limiter keeps the last app's value when an app's
        # config does not say (an app that turned it off would turn it off for the next one).
        self.RATELIMIT_ENABLED = True
        # Sessions and the job queue on Redis: each connect and each answer waits at most this
        # long (no retries); then the page answers 503 or the job is not queued, logged.
        self.REDIS_TIMEOUT_SECONDS = env_float("REDIS_TIMEOUT_SECONDS", 0.5)
        self.LOGIN_RATE_LIMIT_PER_IP = os.environ.get("LOGIN_RATE_LIMIT_PER_IP", "20/minute")
        self.LOGIN_RATE_LIMIT_PER_EMAIL = os.environ.get("LOGIN_RATE_LIMIT_PER_EMAIL", "5/minute")
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = env_flag("SESSION_COOKIE_SECURE", self.PRODUCTION)
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.PERMANENT_SESSION_LIFETIME = timedelta(days=14)
        # Session data on the server (the cookie holds only an id): Redis when this is set,
        # else the `web_sessions` table of the database.
        self.SESSION_REDIS_URL = os.environ.get("SESSION_REDIS_URL", "")
        self.SESSION_KEY_PREFIX = os.environ.get("SESSION_KEY_PREFIX", "session:")
        self.FORCE_HTTPS = env_flag("FORCE_HTTPS", False)
        self.TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)
        self.MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 1024 * 1024)
        self.API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 256 * 1024)
        self.API_KEY_CACHE_SECONDS = env_int("API_KEY_CACHE_SECONDS", 5)
        # What a tool_logs row keeps of each payload (input, output, schema errors): JSON up
        # to this size, else a truncation marker (dashboard/models/payloads.py).
        self.LOG_PAYLOAD_MAX_BYTES = env_int("LOG_PAYLOAD_MAX_BYTES", 16 * 1024)
        # A user's calls this month, kept per worker between metering writes (quota checks);
        # None follows API_KEY_CACHE_SECONDS.
        quota_seconds = os.environ.get("API_QUOTA_CACHE_SECONDS")
        self.API_QUOTA_CACHE_SECONDS = int(quota_seconds) if quota_seconds else None
        self.API_CONNECTION_KEEP_SECONDS = env_int("API_CONNECTION_KEEP_SECONDS", 1)
        self.METERING_SYNCHRONOUS_COMMIT = env_flag("METERING_SYNCHRONOUS_COMMIT", True)
        self.IMPERSONATION_MINUTES = env_int("IMPERSONATION_MINUTES", 30)
        # How long a key made by a tool's playground works (a new one is made after that).
        self.PLAYGROUND_KEY_MINUTES = env_int("PLAYGROUND_KEY_MINUTES", 15)
        # The public developer portal (dashboard/portal): on or off, its texts, and which tools
        # it shows (empty: every tool). A super admin may override the texts and the tools on
        # /support/portal; PORTAL_ENABLED stays the environment's (docs/portal.md).
        self.PORTAL_ENABLED = env_flag("PORTAL_ENABLED", True)
        self.PORTAL_TITLE = os.environ.get("PORTAL_TITLE", "Toolbox API")
        self.PORTAL_TAGLINE = os.environ.get(
            "PORTAL_TAGLINE", "Small, fast tools for text and JSON, one HTTP call away."
        )
        self.PORTAL_LOGO_URL = os.environ.get("PORTAL_LOGO_URL", "")
        self.PORTAL_PUBLIC_TOOLS = env_list("PORTAL_PUBLIC_TOOLS", "")
        # Markdown under the tagline on the landing page (rendered and sanitised).
        self.PORTAL_INTRO = os.environ.get("PORTAL_INTRO", "")
        # Email (dashboard/mail.py): SMTP when MAIL_SERVER is set; otherwise messages are printed
        # and appended to MAIL_OUTBOX_FILE in instance/ (empty: printed only).
        self.MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
        self.MAIL_PORT = env_int("MAIL_PORT", 587)
        self.MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
        self.MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
        self.MAIL_USE_TLS = env_flag("MAIL_USE_TLS", False)
        self.MAIL_FROM = os.environ.get("MAIL_FROM", DEFAULT_MAIL_FROM)
        # Where pages send customers who need support (a plan change, more keys): an address or
        # an https URL; empty, the address emails come from.
        self.SUPPORT_CONTACT = os.environ.get("SUPPORT_CONTACT", "")
        self.MAIL_TIMEOUT = env_int("MAIL_TIMEOUT", 10)
        self.MAIL_OUTBOX_FILE = os.environ.get("MAIL_OUTBOX_FILE", "outbox.txt")
        # A page (/outbox) showing that file's newest messages, linked from "check your inbox":
        # development only (never in production, whatever this says; off in tests).
        self.OUTBOX_PAGE = env_flag("OUTBOX_PAGE", not self.PRODUCTION)
        # Links sent by email: how long each works.
        self.EMAIL_VERIFY_HOURS = env_int("EMAIL_VERIFY_HOURS", 48)
        # A new sign-up's confirmation link also logs in (once) when opened within this long;
        # later it only confirms the address.
        self.SIGNUP_LINK_LOGIN_MINUTES = env_int("SIGNUP_LINK_LOGIN_MINUTES", 60)
        self.PASSWORD_RESET_MINUTES = env_int("PASSWORD_RESET_MINUTES", 30)
        self.EMAIL_CHANGE_HOURS = env_int("EMAIL_CHANGE_HOURS", 24)
        # An invitation to an organisation (single use, for the invited address only).
        self.INVITATION_DAYS = env_int("INVITATION_DAYS", 7)
        # Throttles of the pages that anyone can post to (Flask-Limiter syntax).
        self.SIGNUP_RATE_LIMIT_PER_IP = os.environ.get("SIGNUP_RATE_LIMIT_PER_IP", "10/hour")
        self.SIGNUP_RATE_LIMIT_PER_EMAIL = os.environ.get("SIGNUP_RATE_LIMIT_PER_EMAIL", "3/hour")
        self.RESET_RATE_LIMIT_PER_IP = os.environ.get("RESET_RATE_LIMIT_PER_IP", "10/hour")
        self.RESET_RATE_LIMIT_PER_EMAIL = os.environ.get("RESET_RATE_LIMIT_PER_EMAIL", "3/hour")
        self.TWO_FACTOR_RATE_LIMIT = os.environ.get("TWO_FACTOR_RATE_LIMIT", "5/minute")
        # Wrong codes per account over a longer window, after which log-in by code is locked.
        self.TWO_FACTOR_LOCKOUT = os.environ.get("TWO_FACTOR_LOCKOUT", "10 per 15 minutes")
        # Wrong passwords per account on the forms that ask for it again (change password or
        # address, turn two-factor off, delete the account), counted together.
        self.PASSWORD_CHECK_RATE_LIMIT = os.environ.get(
            "PASSWORD_CHECK_RATE_LIMIT", "10 per 15 minutes"
        )
        # Support staff and super admins must turn on two-factor sign-in to open the console.
        self.STAFF_REQUIRE_TWO_FACTOR = env_flag("STAFF_REQUIRE_TWO_FACTOR", True)
        self.EMAIL_RATE_LIMIT_PER_USER = os.environ.get("EMAIL_RATE_LIMIT_PER_USER", "5/hour")
        # Per person: organisations created, and invitations sent or sent again (they are mail).
        self.ORGANISATION_CREATE_RATE_LIMIT = os.environ.get(
            "ORGANISATION_CREATE_RATE_LIMIT", "10/day"
        )
        # Requests a minute of each root key on the management API.
        self.MANAGEMENT_RATE_LIMIT_PER_MINUTE = int(
            os.environ.get("MANAGEMENT_RATE_LIMIT_PER_MINUTE", "120")
        )
        # Idempotent writes of the management API: each answer is kept this long (then purged
        # hourly), and a root key may hold this many in that window (past it: 429
        # idempotency_keys_exhausted for a new Idempotency-Key).
        self.IDEMPOTENCY_KEEP_HOURS = env_int("IDEMPOTENCY_KEEP_HOURS", 24)
        self.IDEMPOTENCY_KEYS_MAX = env_int("IDEMPOTENCY_KEYS_MAX", 10_000)
        # Leak reports (POST /api/v1/leaks): the secret scanners' ECDSA public keys, as a JSON
        # object {key identifier: PEM}; empty: every report is refused.
        self.LEAK_REPORT_PUBLIC_KEYS = os.environ.get("LEAK_REPORT_PUBLIC_KEYS", "{}")
        # Tokens one leak report may name (each may cost lookups, an expiry and an email);
        # past it: 413 too_many_leak_reports, and the scanner sends smaller batches.
        self.LEAK_REPORT_MAX_TOKENS = env_int("LEAK_REPORT_MAX_TOKENS", 1000)
        self.INVITATION_SEND_RATE_LIMIT = os.environ.get("INVITATION_SEND_RATE_LIMIT", "30/hour")
        # Observability (dashboard/observability): request ids, logs, metrics.
        self.REQUEST_ID_HEADER = os.environ.get("REQUEST_ID_HEADER", "")  # a trusted proxy's
        self.LOG_FORMAT = os.environ.get("LOG_FORMAT", "json" if self.PRODUCTION else "text")
        self.LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
        self.LOG_REQUESTS = env_flag("LOG_REQUESTS", True)
        # A successful tool call's line too: off, since its log row (same id) and the metrics
        # already record it, and the line costs the API about 7 % of its CPU per call.
        self.LOG_METERED_CALLS = env_flag("LOG_METERED_CALLS", False)
        self.METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None
        # gunicorn.conf.py: the master serves every worker's metrics on this port (0: off).
        self.METRICS_PORT = env_int("METRICS_PORT", 0)
        self.METRICS_BIND = os.environ.get("METRICS_BIND", "127.0.0.1")
        self.GRACEFUL_TIMEOUT = env_int("GRACEFUL_TIMEOUT", 30)  # s to finish calls on SIGTERM
        # Calls in flight of all accounts on a plan together (`free=3,pro=40`; see plans.py).
        self.PLANS = with_calls_in_flight(DEFAULT_PLANS, os.environ.get("PLAN_CALLS_IN_FLIGHT", ""))
        # Upstream tools (dashboard/tools/upstream.py) and their catalog file.
        self.TOOLS_CATALOG_FILE = os.environ.get("TOOLS_CATALOG_FILE") or None
        self.UPSTREAM_SECRETS = env_secrets("UPSTREAM_SECRETS")
        self.UPSTREAM_CONNECT_TIMEOUT_MS = env_int("UPSTREAM_CONNECT_TIMEOUT_MS", 1000)
        self.UPSTREAM_MAX_RESPONSE_BYTES = env_int("UPSTREAM_MAX_RESPONSE_BYTES", 1024 * 1024)
        self.UPSTREAM_MAX_CONNECTIONS = env_int("UPSTREAM_MAX_CONNECTIONS", 100)
        self.UPSTREAM_BREAKER_FAILURES = env_int("UPSTREAM_BREAKER_FAILURES", 5)
        self.UPSTREAM_BREAKER_COOLDOWN_SECONDS = env_int("UPSTREAM_BREAKER_COOLDOWN_SECONDS", 30)
        # Tools run in a supervised pool of processes (dashboard/tools/pool.py): a hard deadline
        # and a memory cap per run. Off, they run in the request's thread, unbounded (tests).
        self.TOOL_ISOLATION = env_flag("TOOL_ISOLATION", self.PRODUCTION)
        # A tool version's own deadline_seconds wins; keep both well below the web server's
        # worker timeout (gunicorn: 30 s), so a tool never gets a worker killed.
        self.TOOL_DEADLINE_SECONDS = env_float("TOOL_DEADLINE_SECONDS", 5)
        # The largest output (bytes of compact JSON) a tool version may answer, unless its
        # definition says otherwise (max_output_bytes); past it: 422 output_too_large.
        self.TOOL_MAX_OUTPUT_BYTES = env_int("TOOL_MAX_OUTPUT_BYTES", 1024 * 1024)
        self.TOOL_POOL_SIZE = env_int("TOOL_POOL_SIZE", 2)  # tool processes per web worker
        self.TOOL_MEMORY_MB = env_int("TOOL_MEMORY_MB", 256)  # over the warmed process's size
        self.TOOL_RECYCLE_AFTER = env_int("TOOL_RECYCLE_AFTER", 1000)  # runs, then a new process
        # Tool processes run at this lower CPU priority (nice, 0-19): costly runs never take the
        # CPU from the web workers that serve pages and other accounts' calls.
        self.TOOL_NICE = env_int("TOOL_NICE", 10)
        self.WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
        # Jobs (alerts, webhooks, the daily log purge): redis://... in production; empty is a
        # SQLite file in instance/ (nothing to install); memory:// keeps jobs in this process.
        self.QUEUE_URL = os.environ.get("QUEUE_URL", "")
        self.QUEUE_NAME = os.environ.get("QUEUE_NAME", "toolbox")
        self.JOBS_WORKERS = env_int("JOBS_WORKERS", 2)
        self.JOBS_PURGE_LOGS_HOUR = env_int("JOBS_PURGE_LOGS_HOUR", 3)  # UTC, daily
        # Webhooks: private, loopback and link-local destinations are refused unless allowed.
        self.WEBHOOK_ALLOW_PRIVATE = env_flag("WEBHOOK_ALLOW_PRIVATE", False)
        self.WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "5"))
        self.WEBHOOK_MAX_RESPONSE_BYTES = env_int("WEBHOOK_MAX_RESPONSE_BYTES", 64 * 1024)
        self.WEBHOOK_RETRY_SECONDS = float(os.environ.get("WEBHOOK_RETRY_SECONDS", "30"))
        self.WEBHOOK_RETRY_FOR_SECONDS = env_int("WEBHOOK_RETRY_FOR_SECONDS", 24 * 3600)
        self.WEBHOOK_DISABLE_AFTER_FAILURES = env_int("WEBHOOK_DISABLE_AFTER_FAILURES", 30)
        self.WEBHOOK_SECRET_OVERLAP_HOURS = env_int("WEBHOOK_SECRET_OVERLAP_HOURS", 24)
        # A fair queue: an account has at most this many deliveries queued or being sent; the
        # rest wait (status "deferred") for one of them to finish. Keep it below JOBS_WORKERS,
        # so one account's backlog always leaves workers for everyone else.
        self.WEBHOOK_ACCOUNT_IN_FLIGHT = env_int("WEBHOOK_ACCOUNT_IN_FLIGHT", 1)
        # "Send test event" and "Resend", together, per account.
        self.WEBHOOK_SEND_RATE_LIMIT = os.environ.get("WEBHOOK_SEND_RATE_LIMIT", "10/minute")


class ProductionConfig(Config):
    """Production: secure cookies and a secret key that must be given."""

    PRODUCTION = True


class TestConfig(Config):
    """Tests: a database URL from the fixture, fast password hashing, no HTTPS."""

    TESTING = True
    __test__ = False  # not a pytest test class

    def __init__(self, database_url: str = "sqlite://") -> None:
        super().__init__()
        self.SECRET_KEY = "test-secret-key"  # noqa: S105 (tests only)
        self.PUBLIC_URL = "http://localhost"  # the test client's host
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(database_url)
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI)
        self.RATELIMIT_STORAGE_URI = "memory://"
        self.PASSWORD_HASH_FAST = True
        self.API_KEY_CACHE_SECONDS = 0
        self.API_CONNECTION_KEEP_SECONDS = 0  # each test's engine is disposed of at its end
        self.WTF_CSRF_ENABLED = False  # CSRF tests turn it back on with app_overrides
        self.TOOL_ISOLATION = False  # the isolation tests turn it on with app_overrides
        self.QUEUE_URL = "memory://"  # alert tests run a real queue (tests/alerts/conftest.py)
        self.WEBHOOK_ALLOW_PRIVATE = False
        self.STAFF_REQUIRE_TWO_FACTOR = False  # tests/account/test_two_factor.py turns it on
        self.MAIL_SERVER = ""  # mail tests point this at their own SMTP server
        self.MAIL_OUTBOX_FILE = ""  # print only; never write into the repository's instance/
        self.OUTBOX_PAGE = False


def engine_options(url: str) -> dict:
    """Bounded waits on PostgreSQL so a database outage answers quickly instead of hanging.

    SQL parameters stay out of logs and error messages on every database (hide_parameters):
    they hold key hashes, password hashes, emails and the customers' tool payloads.
    """
    if not url.startswith("postgresql"):
        return {"hide_parameters": True}
    return {
        "hide_parameters": True,
        "pool_pre_ping": env_flag("DATABASE_POOL_PRE_PING", True),
        "pool_size": env_int("DATABASE_POOL_SIZE", 5),
        "max_overflow": 5,
        "pool_timeout": 5,
        "connect_args": {
            "connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT", 3),
            "options": "-c timezone=UTC -c statement_timeout={}".format(
                env_int("DATABASE_STATEMENT_TIMEOUT_MS", 15_000)
            ),
        },
    }


def config_from_environment() -> Config:
    """Production config when FLASK_ENV/APP_ENV says production, else the development one."""
    env = os.environ.get("APP_ENV", "development").lower()
    return ProductionConfig() if env == "production" else Config()
