"""One key's activity: calls per day by outcome, success rate, latency, last use, history."""

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.keys.rules import key_status
from dashboard.models import ApiKey, AuditEvent, Membership, ToolLog, UsageDaily, utcnow
from dashboard.models.usage import LATENCY_COLUMNS
from dashboard.usage import charts

ACTIVITY_DAYS = 30
# Audit actions about keys (written by the keys pages and by support; see dashboard/audit.py).
KEY_ACTIONS = ("key.create", "key.edit", "key.roll", "key.expire", "key.move")


@dataclass(frozen=True)
class HistoryEntry:
    """Something that happened to a key: when, what, and who did it."""

    at: datetime
    what: str
    by: str | None  # an email; None: the owner or the system
    support: bool = False


@dataclass(frozen=True)
class MonthCapGauge:
    """A capped key's calls this calendar month (UTC) against its monthly cap."""

    calls: int
    cap: int
    resets_on: date

    @property
    def used(self) -> float:
        return self.calls / self.cap

    @property
    def remaining(self) -> int:
        return max(0, self.cap - self.calls)


def month_cap_gauge(key: ApiKey, now: datetime | None = None) -> MonthCapGauge | None:
    """The key's calls this month against its cap (from the daily rollup, as the gateway counts
    them); None for a key without a cap."""
    if key.monthly_call_cap is None:
        return None
    today = (now or utcnow()).date()
    first = today.replace(day=1)
    resets_on = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    calls = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(UsageDaily.calls), 0)).where(
            UsageDaily.user_id == key.user_id,
            UsageDaily.api_key_id == key.id,
            UsageDaily.day >= first,
            UsageDaily.day < resets_on,
        )
    )
    return MonthCapGauge(int(calls), key.monthly_call_cap, resets_on)


def key_activity(key: ApiKey, now: datetime | None = None) -> dict:
    """The last ACTIVITY_DAYS days of one key, from the daily rollup (never tool_logs)."""
    now = now or utcnow()
    first = now.date() - timedelta(days=ACTIVITY_DAYS - 1)
    days = [first + timedelta(days=n) for n in range(ACTIVITY_DAYS)]
    index = {day: n for n, day in enumerate(days)}
    zero = [0] * ACTIVITY_DAYS
    series = {name: list(zero) for name in ("calls", "errors", "rate_limit", "quota")}
    histogram = [0] * len(LATENCY_COLUMNS)
    columns = [UsageDaily.__table__.c[name] for name in LATENCY_COLUMNS]
    rows = db.session.execute(
        sa.select(
            UsageDaily.day,
            sa.func.sum(UsageDaily.calls),
            sa.func.sum(UsageDaily.errors),
            sa.func.sum(UsageDaily.rejected_rate_limit),
            sa.func.sum(UsageDaily.rejected_quota),
            *(sa.func.sum(column) for column in columns),
        )
        .where(UsageDaily.api_key_id == key.id, UsageDaily.day >= first)
        .group_by(UsageDaily.day)
    )
    for day, calls, errors, rate_limit, quota, *buckets in rows:
        n = index[day]
        series["calls"][n] = int(calls or 0)
        series["errors"][n] = int(errors or 0)
        series["rate_limit"][n] = int(rate_limit or 0)
        series["quota"][n] = int(quota or 0)
        histogram = [a + int(b or 0) for a, b in zip(histogram, buckets, strict=True)]
    calls, errors = sum(series["calls"]), sum(series["errors"])
    return {
        "days": days,
        "series": series,
        "histogram": histogram,
        "calls": calls,
        "errors": errors,
        "rejected": sum(series["rate_limit"]) + sum(series["quota"]),
        "success_rate": (calls - errors) / calls if calls else None,
        "since": first,
    }


def last_call(key: ApiKey) -> ToolLog | None:
    """The key's newest logged call (its time and client IP), by the key's index."""
    return db.session.scalar(
        sa.select(ToolLog)
        .where(ToolLog.api_key_id == key.id)
        .order_by(ToolLog.created_at.desc(), ToolLog.id.desc())
        .limit(1)
    )


def key_history(key: ApiKey, now: datetime | None = None) -> list[HistoryEntry]:
    """Created, rolled (from or to), edited, expired or revoked: newest first, with who did
    it when the audit trail says (support staff included)."""
    now = now or utcnow()
    entries = [HistoryEntry(key.created_at, "Created", None)]
    predecessor = db.session.scalar(sa.select(ApiKey).where(ApiKey.replaced_by_id == key.id))
    if predecessor is not None:
        entries.append(
            HistoryEntry(key.created_at, f"Made by rolling key {predecessor.prefix}…", None)
        )
    if key.replaced_by_id is not None and key.grace_ends_at is not None:
        successor = db.session.get(ApiKey, key.replaced_by_id)
        label = f"Rolled; replaced by {successor.prefix}…" if successor else "Rolled"
        entries.append(HistoryEntry(successor.created_at if successor else now, label, None))
    status = key_status(key, now)
    if key.expires_at is not None and key.expires_at <= now and status == "expired":
        entries.append(HistoryEntry(key.expires_at, "Expired (its expiry date)", None))
    audited = db.session.scalars(
        sa.select(AuditEvent)
        .where(
            AuditEvent.subject_id == key.user_id,
            AuditEvent.action.in_(KEY_ACTIONS),
            sa.or_(
                AuditEvent.details["key_id"].as_string() == str(key.id),
                AuditEvent.details["key_prefix"].as_string() == key.prefix,
                AuditEvent.details["successor_id"].as_string() == str(key.id),
            ),
        )
        .order_by(AuditEvent.created_at.desc())
        .limit(200)
    )
    # In an organisation the members act on its keys; anyone else acting is support.
    members = set(
        db.session.scalars(
            sa.select(Membership.person_id).where(Membership.organisation_id == key.user_id)
        )
    )
    recorded_expiry = False
    for event in audited:
        support = event.actor_id not in (None, event.subject_id) and event.actor_id not in members
        made_here = (event.details or {}).get("successor_id") == str(key.id)
        if event.action == "key.create" or (event.action == "key.roll" and made_here):
            # Who made the key: on its "Created" (and "Made by rolling") entries.
            entries = [
                replace(entry, by=event.actor_email, support=support)
                if entry.what == "Created" or entry.what.startswith("Made by rolling")
                else entry
                for entry in entries
            ]
            continue
        if event.action == "key.roll":
            entries = [
                replace(entry, by=event.actor_email, support=support)
                if entry.what.startswith("Rolled")
                else entry
                for entry in entries
            ]
            continue
        what = {
            "key.edit": "Settings changed",
            "key.expire": "Expired now",
            "key.move": "Moved here from a personal account, with its history",
        }[event.action]
        if event.action == "key.edit":
            what = "Settings changed: " + ", ".join((event.details or {}).get("changed", []) or [])
            what = what.rstrip(": ")
        if event.action == "key.expire":
            recorded_expiry = True
        entries.append(HistoryEntry(event.created_at, what, event.actor_email, support))
    if key.revoked_at is not None and not recorded_expiry:
        entries.append(HistoryEntry(key.revoked_at, "Expired now", None))
    return sorted(entries, key=lambda entry: entry.at, reverse=True)


def changed_settings(key: ApiKey, **new) -> list[str]:
    """The names of the settings that `new` changes on `key` (for the key's history)."""
    labels = {
        "name": "name",
        "rate_limit_per_minute": "rate limit",
        "monthly_call_cap": "monthly cap",
        "allowed_tools": "allowed tools",
        "allowed_ips": "allowed IPs",
    }
    return [
        label
        for field, label in labels.items()
        if field in new and (new[field] or None) != (getattr(key, field) or None)
    ]


def key_figures(report: dict) -> dict:
    """The key page's chart (calls per day by outcome), its text summary and the latency
    percentiles of the period."""
    series = report["series"]
    success = [c - e for c, e in zip(series["calls"], series["errors"], strict=True)]
    figure = charts.calls_by_outcome_chart(
        report["days"], success, series["errors"], series["rate_limit"], series["quota"]
    )
    summary = (
        f"{report['calls']:,} calls in the last {ACTIVITY_DAYS} days: "
        f"{report['calls'] - report['errors']:,} succeeded, {report['errors']:,} failed, "
        f"{report['rejected']:,} were refused."
    )
    return {
        "figures": {"calls-by-outcome": charts.figure_json(figure)},
        "summaries": {"calls-by-outcome": summary},
        "latency": {
            name: charts.latency_percentile(report["histogram"], q)
            for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
        },
    }
