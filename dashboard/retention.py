"""How long logs are kept: each plan's retention, shown from (the logs page, the errors inbox,
the management API) and purged at (`flask logs purge`, the daily job)."""

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from dashboard.extensions import db
from dashboard.models import ToolLog, User, utcnow
from dashboard.plans import plan_named


def retention_start(user: User, now: datetime | None = None) -> datetime:
    """The oldest created_at the user's plan still shows."""
    return (now or utcnow()) - timedelta(days=plan_named(user.subscription_plan).log_retention_days)


def purge_expired_logs(batch_size: int = 10_000, now: datetime | None = None) -> int:
    """Delete log rows older than their owner's plan retention, in batches; rows deleted."""
    now = now or utcnow()
    plans = current_app.config["PLANS"]
    deleted = 0
    for plan in plans.values():
        if plan.name == plan_named(None).name:  # unknown plan names fall back to the default
            owners = sa.select(User.id).where(
                sa.or_(
                    User.subscription_plan.is_(None),
                    User.subscription_plan.not_in([p for p in plans if p != plan.name]),
                )
            )
        else:
            owners = sa.select(User.id).where(User.subscription_plan == plan.name)
        cutoff = now - timedelta(days=plan.log_retention_days)
        while True:
            batch = (
                sa.select(ToolLog.id)
                .where(ToolLog.user_id.in_(owners), ToolLog.created_at < cutoff)
                .limit(batch_size)
            )
            result = db.session.execute(sa.delete(ToolLog).where(ToolLog.id.in_(batch)))
            db.session.commit()
            deleted += result.rowcount
            if result.rowcount < batch_size:
                break
    return deleted
