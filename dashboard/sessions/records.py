"""One row per signed-in browser: started at log-in, checked on every page, ended on purpose.

The Flask session holds the row's id (`ACCOUNT_SESSION`). Flask-Login's user loader asks
`active_session_for` before it trusts `_user_id`, so ending the row logs out every copy of the
cookie on every worker, whether the session data lives in the database or in Redis.
"""

import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, request, session
from ua_parser import parse as parse_user_agent

from dashboard.extensions import db
from dashboard.models import Impersonation, User, UserSession, utcnow
from dashboard.models.types import parse_uuid

ACCOUNT_SESSION = "account_session_id"
# last_seen_at is written at most this often, so that reading pages is not a write each time.
SEEN_EVERY = timedelta(minutes=1)


def start_session_record(user: User) -> UserSession:
    """A new row for this browser; its id goes into the (new) Flask session."""
    record = UserSession(
        user_id=user.id,
        ip=request.remote_addr,
        user_agent=(request.user_agent.string or "")[:500] or None,
    )
    db.session.add(record)
    db.session.commit()
    session[ACCOUNT_SESSION] = str(record.id)
    return record


def current_session_id() -> uuid.UUID | None:
    """The id of this browser's row, from the Flask session."""
    return parse_uuid(session.get(ACCOUNT_SESSION))


def active_session_for(user_id: uuid.UUID) -> UserSession | None:
    """This browser's row when it belongs to `user_id`, has not ended and has not gone stale."""
    record_id = current_session_id()
    if record_id is None:
        return None
    record = db.session.get(UserSession, record_id)
    if record is None or record.user_id != user_id or record.ended_at is not None:
        return None
    now = utcnow()
    if now - record.last_seen_at > current_app.config["PERMANENT_SESSION_LIFETIME"]:
        return None
    if now - record.last_seen_at > SEEN_EVERY:
        record.last_seen_at = now
        record.ip = request.remote_addr
        db.session.commit()
    return record


def active_sessions(user: User) -> list[UserSession]:
    """The account's signed-in browsers, most recently seen first."""
    since = utcnow() - current_app.config["PERMANENT_SESSION_LIFETIME"]
    return list(
        db.session.scalars(
            sa.select(UserSession)
            .where(
                UserSession.user_id == user.id,
                UserSession.ended_at.is_(None),
                UserSession.last_seen_at > since,
            )
            .order_by(UserSession.last_seen_at.desc(), UserSession.id)
        )
    )


def end_sessions(user: User, reason: str, *, keep: uuid.UUID | None = None, only=None) -> int:
    """End the account's sessions (all, all but `keep`, or the one `only`); how many ended."""
    conditions = [UserSession.user_id == user.id, UserSession.ended_at.is_(None)]
    if keep is not None:
        conditions.append(UserSession.id != keep)
    if only is not None:
        conditions.append(UserSession.id == only)
    now = utcnow()
    ended = list(
        db.session.scalars(
            sa.update(UserSession)
            .where(*conditions)
            .values(ended_at=now, ended_reason=reason)
            .returning(UserSession.id)
        )
    )
    if ended:  # viewing as a customer lives in a session: it ends with it
        db.session.execute(
            sa.update(Impersonation)
            .where(Impersonation.session_id.in_(ended), Impersonation.ended_at.is_(None))
            .values(ended_at=now, ended_how=reason)
        )
    db.session.commit()
    return len(ended)


def end_current_session(reason: str) -> None:
    """End this browser's row (log-out), whoever the request is acting as."""
    record_id = current_session_id()
    if record_id is None:
        return
    db.session.execute(
        sa.update(UserSession)
        .where(UserSession.id == record_id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_reason=reason)
    )
    db.session.commit()


def device_name(user_agent: str | None) -> str:
    """ "Firefox 133 on Windows": a name a person recognises for a browser."""
    if not user_agent:
        return "Unknown device"
    parsed = parse_user_agent(user_agent)
    browser = parsed.user_agent.family if parsed.user_agent else "Unknown browser"
    if parsed.user_agent and parsed.user_agent.major:
        browser = f"{browser} {parsed.user_agent.major}"
    system = parsed.os.family if parsed.os else None
    if system and system != "Other":
        return f"{browser} on {system}"
    return browser if browser != "Other" else "Unknown device"
