"""Alert settings, raising an alert exactly once, and the periodic checks that find alerts."""

import logging
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from dashboard.alerts.events import ENDPOINT_DISABLED_EVENT, alert_raised, email_for, iso_z
from dashboard.dialects import upsert
from dashboard.extensions import db
from dashboard.mail import MailNotSent, send_email
from dashboard.models import (
    AlertEvent,
    AlertKeyWatch,
    AlertSettings,
    ApiKey,
    KeySeenIp,
    ToolLog,
    utcnow,
)
from dashboard.organisations.service import contact_addresses

logger = logging.getLogger(__name__)

ERROR_RATE_WINDOW = timedelta(minutes=15)
EXPIRY_NOTICE = timedelta(days=7)
NEW_IP_LOOKBACK = timedelta(minutes=10)  # the check runs every minute; overlap is harmless


def settings_for(user_id: uuid.UUID) -> AlertSettings:
    """The account's alert settings (defaults, unsaved, when it never changed them)."""
    settings = db.session.get(AlertSettings, user_id)
    if settings is None:
        settings = AlertSettings(
            user_id=user_id,
            by_email=True,
            quota=False,
            error_rate=False,
            error_rate_percent=10,
            error_rate_min_calls=20,
            key_expiry=False,
        )
    return settings


def save_settings(user_id: uuid.UUID, watched_key_ids: set[uuid.UUID], **values) -> None:
    """Store the account's alert settings and which of its keys are watched for new IPs."""
    settings = db.session.get(AlertSettings, user_id) or AlertSettings(user_id=user_id)
    for name, value in values.items():
        setattr(settings, name, value)
    settings.updated_at = utcnow()
    db.session.add(settings)
    own_keys = set(db.session.scalars(sa.select(ApiKey.id).where(ApiKey.user_id == user_id)))
    wanted = watched_key_ids & own_keys
    current = set(
        db.session.scalars(
            sa.select(AlertKeyWatch.api_key_id).where(AlertKeyWatch.user_id == user_id)
        )
    )
    for key_id in current - wanted:
        db.session.delete(db.session.get(AlertKeyWatch, key_id))
    for key_id in wanted - current:
        db.session.add(AlertKeyWatch(api_key_id=key_id, user_id=user_id))
        remember_known_ips(key_id)
    db.session.commit()


def watched_key_ids(user_id: uuid.UUID) -> set[uuid.UUID]:
    """The account's keys watched for use from a new IP."""
    query = sa.select(AlertKeyWatch.api_key_id).where(AlertKeyWatch.user_id == user_id)
    return set(db.session.scalars(query))


def remember_known_ips(key_id: uuid.UUID) -> None:
    """Mark every IP the key was already used from as seen, so turning the watch on is quiet."""
    known = (
        sa.select(ToolLog.api_key_id, ToolLog.client_ip)
        .where(ToolLog.api_key_id == key_id, ToolLog.client_ip.is_not(None))
        .distinct()
    )
    statement = upsert(KeySeenIp).from_select(["api_key_id", "ip"], known)
    db.session.execute(statement.on_conflict_do_nothing())


def recent_alerts(user_id: uuid.UUID, limit: int = 20) -> list[AlertEvent]:
    """The account's latest alerts, newest first."""
    query = (
        sa.select(AlertEvent)
        .where(AlertEvent.user_id == user_id)
        .order_by(AlertEvent.created_at.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def raise_alert(
    user_id: uuid.UUID,
    event_type: str,
    dedupe_key: str,
    data: dict,
    *,
    email: bool = True,
    force_email: bool = False,
) -> bool:
    """Record the alert unless (user, dedupe_key) was raised before, then send it to the
    account's webhooks and, if `email` and the account wants email, by email (email=False: an
    event that is never emailed, its email status left empty; force_email: by email even when
    the account turned alert emails off, as for a leaked key). The unique constraint decides, so
    of many workers raising the same alert at once exactly one goes on; True for that one."""
    alert_id = uuid.uuid4()
    now = utcnow()
    statement = (
        upsert(AlertEvent)
        .values(
            id=alert_id,
            user_id=user_id,
            event_type=event_type,
            dedupe_key=dedupe_key,
            payload=data,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["user_id", "dedupe_key"])
        .returning(AlertEvent.id)
    )
    inserted = db.session.execute(statement).scalar_one_or_none()
    db.session.commit()
    if inserted is None:
        return False
    alert_raised.send(user_id, event_type=event_type, data=data, at=now)
    if not email:
        return True
    alert = db.session.get(AlertEvent, alert_id)
    alert.email_status = email_owner(user_id, event_type, data, force=force_email)
    db.session.commit()
    return True


def email_owner(user_id: uuid.UUID, event_type: str, data: dict, force: bool = False) -> str:
    """Email the account's contacts (organisations.service.contact_addresses) about an event if
    it wants email; what happened, in words."""
    if not force and not settings_for(user_id).by_email:
        return "off"
    subject, text = email_for(event_type, data)
    failures = []
    for email in contact_addresses(user_id):
        try:
            send_email(email, subject, text)
        except MailNotSent as error:
            logger.warning("Alert email to user %s failed: %s", user_id, error)
            failures.append(str(error))
    if failures:
        return f"failed: {failures[0]}"[:300]
    return "sent"


def endpoint_disabled(user_id: uuid.UUID, url: str, failures: int, reason: str) -> None:
    """Tell the owner, by email whatever their settings, that an endpoint was disabled."""
    data = {"url": url, "failures": failures, "reason": reason}
    email_owner(user_id, ENDPOINT_DISABLED_EVENT, data, force=True)


# The checks the periodic jobs run.


def check_error_rates(now: datetime | None = None) -> int:
    """Raise error_rate.high for accounts above their threshold; at most once an hour each."""
    now = now or utcnow()
    since = now - ERROR_RATE_WINDOW
    failed = sa.func.sum(sa.case((ToolLog.status != "success", 1), else_=0))
    query = (
        sa.select(
            AlertSettings.user_id,
            AlertSettings.error_rate_percent,
            AlertSettings.error_rate_min_calls,
            sa.func.count(ToolLog.id),
            failed,
        )
        .join(ToolLog, ToolLog.user_id == AlertSettings.user_id)
        .where(AlertSettings.error_rate.is_(True), ToolLog.created_at >= since)
        .group_by(
            AlertSettings.user_id,
            AlertSettings.error_rate_percent,
            AlertSettings.error_rate_min_calls,
        )
    )
    raised = 0
    for user_id, percent, min_calls, calls, errors in db.session.execute(query).all():
        if calls < min_calls or errors * 100 <= percent * calls:
            continue
        data = {
            "calls": calls,
            "errors": errors,
            "error_percent": round(errors * 100 / calls, 1),
            "threshold_percent": percent,
            "window_minutes": int(ERROR_RATE_WINDOW.total_seconds() // 60),
        }
        raised += raise_alert(user_id, "error_rate.high", f"error_rate:{now:%Y-%m-%dT%H}", data)
    return raised


def check_expiring_keys(now: datetime | None = None) -> int:
    """Raise key.expiring once for each usable key that expires within 7 days."""
    now = now or utcnow()
    query = (
        sa.select(ApiKey)
        .join(AlertSettings, AlertSettings.user_id == ApiKey.user_id)
        .where(
            AlertSettings.key_expiry.is_(True),
            ApiKey.is_active.is_(True),
            ApiKey.is_playground.is_(False),  # made for a quarter of an hour on purpose
            ApiKey.revoked_at.is_(None),
            ApiKey.expires_at > now,
            ApiKey.expires_at <= now + EXPIRY_NOTICE,
        )
    )
    raised = 0
    for key in db.session.scalars(query).all():
        data = {
            **key_data(key),
            "expires_at": iso_z(key.expires_at),
        }
        dedupe = f"key_expiring:{key.id}:{key.expires_at:%Y-%m-%dT%H:%M:%S}"
        raised += raise_alert(key.user_id, "key.expiring", dedupe, data)
    return raised


def check_new_ips(now: datetime | None = None) -> int:
    """Raise key.new_ip for each watched key used from an IP not seen for it before."""
    now = now or utcnow()
    uses = (
        sa.select(ToolLog.api_key_id, ToolLog.client_ip, sa.func.min(ToolLog.created_at))
        .join(AlertKeyWatch, AlertKeyWatch.api_key_id == ToolLog.api_key_id)
        .where(ToolLog.created_at >= now - NEW_IP_LOOKBACK, ToolLog.client_ip.is_not(None))
        .group_by(ToolLog.api_key_id, ToolLog.client_ip)
    )
    raised = 0
    for key_id, ip, seen_at in db.session.execute(uses).all():
        statement = (
            upsert(KeySeenIp)
            .values(api_key_id=key_id, ip=ip, first_seen_at=seen_at)
            .on_conflict_do_nothing()
            .returning(KeySeenIp.ip)
        )
        is_new = db.session.execute(statement).scalar_one_or_none() is not None
        db.session.commit()
        if not is_new:
            continue
        key = db.session.get(ApiKey, key_id)
        data = {**key_data(key), "ip": ip, "seen_at": iso_z(seen_at)}
        raised += raise_alert(key.user_id, "key.new_ip", f"key_new_ip:{key_id}:{ip}", data)
    return raised


def key_data(key: ApiKey) -> dict:
    """How an event names a key: its id, name and prefix (never its secret or hash)."""
    return {"key_id": str(key.id), "key_name": key.name, "key_prefix": key.prefix}
