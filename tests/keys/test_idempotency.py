"""The management API's kept idempotent answers: purged past IDEMPOTENCY_KEEP_HOURS (by the
hourly job and `flask keys purge-idempotency`), counted per root key up to IDEMPOTENCY_KEYS_MAX."""

from datetime import datetime, timedelta

import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.keys.idempotency import (
    keys_exhausted,
    purge_idempotent_requests,
    seconds_until_one_frees,
)
from dashboard.keys.root import create_root_key
from dashboard.models import IdempotentRequest, utcnow


def keep(root_key, *ages_in_hours) -> None:
    """Kept answers of `root_key`, created that many hours ago."""
    now = utcnow()
    db.session.add_all(
        IdempotentRequest(
            root_key_id=root_key.id,
            idempotency_key=f"k{n}",
            request_hash="h",
            status=201,
            body="{}",
            created_at=now - timedelta(hours=age),
        )
        for n, age in enumerate(ages_in_hours)
    )
    db.session.commit()


def kept() -> set:
    return set(
        db.session.execute(
            sa.select(IdempotentRequest.root_key_id, IdempotentRequest.idempotency_key)
        ).all()
    )


def test_the_purge_keeps_the_window_of_every_root_key(runner, user):
    first = create_root_key(user, user, "CI", ["keys:write"])[0]
    second = create_root_key(user, user, "CD", ["keys:write"])[0]
    keep(first, 1, 23.9, 25, 100)
    keep(second, 30, 2)
    result = runner.invoke(args=["keys", "purge-idempotency", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    assert "Deleted 3 idempotent answers" in result.output
    assert kept() == {(first.id, "k0"), (first.id, "k1"), (second.id, "k1")}
    again = runner.invoke(args=["keys", "purge-idempotency"])
    assert "Deleted 0 idempotent answers" in again.output


def test_the_window_follows_the_setting(app, user):
    root_key = create_root_key(user, user, "CI", ["keys:write"])[0]
    keep(root_key, 1, 3)
    app.config["IDEMPOTENCY_KEEP_HOURS"] = 2
    assert purge_idempotent_requests() == 1
    assert kept() == {(root_key.id, "k0")}


def test_the_purge_refuses_a_zero_batch(runner):
    result = runner.invoke(args=["keys", "purge-idempotency", "--batch-size", "0"])
    assert result.exit_code != 0
    assert "at least 1" in result.output


def test_the_cap_counts_only_answers_inside_the_window(app, user):
    app.config["IDEMPOTENCY_KEYS_MAX"] = 2
    root_key = create_root_key(user, user, "CI", ["keys:write"])[0]
    other = create_root_key(user, user, "CD", ["keys:write"])[0]
    keep(root_key, 30, 1)  # one stale (not yet purged), one inside
    keep(other, 1, 2)
    assert not keys_exhausted(root_key.id)
    assert keys_exhausted(other.id)
    # The oldest inside the window (2 h old) leaves it in 22 h.
    assert abs(seconds_until_one_frees(other.id) - 22 * 3600) <= 2


def test_the_purge_runs_hourly_on_the_scheduler(app):
    task = app.extensions["jobs"].tasks["purge_idempotency"]
    runs = task.task_class().validate_datetime
    assert runs(datetime(2026, 12, 3, 5, 23))
    assert not runs(datetime(2026, 12, 3, 5, 24))
    assert task.call_local() == 0
