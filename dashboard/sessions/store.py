"""Where session data is kept: Flask-Session with Redis, or with our own table on the default.

Flask-Session's own SQLAlchemy backend declares its model anew for every app (the test suite
makes hundreds on one `db`, which SQLAlchemy refuses) and creates its table at start-up rather
than through a migration. So the embedded default uses Flask-Session's server-side interface with
the three storage methods it asks subclasses to implement, on the `web_sessions` table.
"""

from datetime import timedelta

import redis
import sqlalchemy as sa
from flask import Flask, current_app, request, session
from flask_session.base import ServerSideSession, ServerSideSessionInterface
from flask_session.redis import RedisSessionInterface

from dashboard.extensions import db
from dashboard.models import StoredSession, utcnow
from dashboard.redis_waits import bounded_waits

STORE_ERROR = "dashboard.session_store_error"


class AnswersWhenStoreFails:
    """A session interface whose store being down or silent becomes the app's 503 page.

    A session is opened before any error handler can answer, so a store error there would give
    a bare 500. Keep the error for the request's first hook to raise (the app's handler then
    shows its "try again shortly" page) and never save this session.
    """

    store_errors: tuple[type[Exception], ...] = ()

    def open_session(self, app, request) -> ServerSideSession:
        try:
            return super().open_session(app, request)
        except self.store_errors as error:
            request.environ[STORE_ERROR] = error
            return self.session_class(sid=self._generate_sid(self.sid_length), permanent=False)

    def save_session(self, app, session, response) -> None:
        if STORE_ERROR in request.environ:
            return
        try:
            super().save_session(app, session, response)
        except self.store_errors:  # the answer (often the 503 page) still goes out
            app.logger.warning("Session not saved: its store is unreachable", exc_info=True)


class RedisSessions(AnswersWhenStoreFails, RedisSessionInterface):
    """Session data in Redis (SESSION_REDIS_URL), with bounded waits (REDIS_TIMEOUT_SECONDS)."""

    store_errors = (redis.RedisError,)


class DatabaseSessionInterface(AnswersWhenStoreFails, ServerSideSessionInterface):
    """Session data in the `web_sessions` table, through the app's own SQLAlchemy session."""

    ttl = False  # expired rows are deleted by `flask session_cleanup` (or when read)
    store_errors = (sa.exc.OperationalError,)

    def _retrieve_session_data(self, store_id: str) -> dict | None:
        # Always read the row: writes go through their own connection (below), so a copy the
        # ORM session still holds (an app context kept over several requests) may be stale.
        row = db.session.get(StoredSession, store_id, populate_existing=True)
        if row is None or row.expires_at <= utcnow():
            return None
        return self.serializer.decode(row.data)

    # Writes use a connection of their own: the request's ORM session may be streaming an
    # export through a server-side cursor when the session is saved.
    def _delete_session(self, store_id: str) -> None:
        with db.engine.begin() as connection:
            connection.execute(sa.delete(StoredSession).where(StoredSession.session_id == store_id))

    def _upsert_session(
        self, session_lifetime: timedelta, session: ServerSideSession, store_id: str
    ) -> None:
        values = {
            "data": self.serializer.encode(session),
            "expires_at": utcnow() + session_lifetime,
        }
        with db.engine.begin() as connection:
            updated = connection.execute(
                sa.update(StoredSession)
                .where(StoredSession.session_id == store_id)
                .values(**values)
            )
        if updated.rowcount == 0:
            try:
                with db.engine.begin() as connection:
                    connection.execute(
                        sa.insert(StoredSession).values(session_id=store_id, **values)
                    )
            except sa.exc.IntegrityError:  # a parallel request of the same browser won
                self._upsert_session(session_lifetime, session, store_id)

    def _delete_expired_sessions(self) -> None:
        with db.engine.begin() as connection:
            connection.execute(sa.delete(StoredSession).where(StoredSession.expires_at <= utcnow()))


def init_app(app: Flask) -> None:
    """Keep sessions in Redis when SESSION_REDIS_URL is set, else in the database."""
    options = {
        "key_prefix": app.config["SESSION_KEY_PREFIX"],
        # A browser-session cookie, as before; and Flask-Login's "strong" protection, which
        # drops a login used from another browser, only acts on non-permanent sessions.
        "permanent": False,
        "sid_length": 32,
        "serialization_format": "msgpack",
    }
    if app.config["SESSION_REDIS_URL"]:
        waits = bounded_waits(app.config["REDIS_TIMEOUT_SECONDS"])
        client = redis.Redis.from_url(app.config["SESSION_REDIS_URL"], **waits)
        app.session_interface = RedisSessions(app, client=client, **options)
    else:
        app.session_interface = DatabaseSessionInterface(app, **options)
    # First of all hooks: CSRF checks and logins read the session.
    app.before_request_funcs.setdefault(None, []).insert(0, raise_session_store_error)


# What answers without a session: health checks (static files never reach the app: WhiteNoise
# serves them, the error page's own CSS included).
SESSIONLESS_BLUEPRINTS = frozenset({"observability"})


def raise_session_store_error() -> None:
    """Answer a request whose session could not be read as the store's error it was."""
    if request.endpoint == "static" or request.blueprint in SESSIONLESS_BLUEPRINTS:
        return
    if error := request.environ.get(STORE_ERROR):
        raise error


def rotate_session_id() -> None:
    """Keep this browser's session data under a new id; the old id's stored data is deleted.

    For every change of privilege (log-in, each two-factor step, starting and ending viewing as
    a customer): an id someone planted or copied before the change is worth nothing after it.
    """
    current_app.session_interface.regenerate(session)


def fresh_session() -> None:
    """A new, empty session under a new id (log-in): nothing from before carries over.

    Flask-Session's regenerate() does nothing on an empty session, and clear() empties it, so
    the id is rotated first. A session that is empty already has a fresh id anyway: open_session
    makes a new one whenever the cookie names no stored data.
    """
    rotate_session_id()
    session.clear()
