"""Real gunicorn, several worker processes, PostgreSQL and Redis: exact metering and exact limits.

One server for the module: `gunicorn --workers 3 wsgi:app` on a database of its own, with rate
limits counted in Redis under this run's own key prefix (each test makes its own keys, so their
counters never meet; the run's keys are deleted at its end, never the database).
"""

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from dashboard.auth.service import create_user
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import ToolLog, UsageDaily, UsageSummary
from tests.conftest import PASSWORD, REDIS_KEY_PREFIX
from tests.reliability.conftest import http, redis_gunicorn

pytestmark = pytest.mark.slow

WORKERS = 3
CLIENT_THREADS = 24


@pytest.fixture(scope="module")
def server(databases, tmp_path_factory):
    """(gunicorn, setup app) on a fresh migrated PostgreSQL database with the tools synced."""
    with redis_gunicorn(databases, tmp_path_factory, WORKERS, f"{REDIS_KEY_PREFIX}-load") as served:
        yield served


def new_key(app, email: str, rate_limit: int) -> tuple[object, str]:
    """(user id, secret) of a new pro-plan account with one key."""
    with app.app_context():
        user = create_user(email, PASSWORD, plan="pro")
        _, secret = create_key(user, "load", rate_limit_per_minute=rate_limit)
        return user.id, secret


def fire(base_url: str, secret: str, calls: int) -> list[tuple[int, object, object]]:
    """`calls` echo calls from CLIENT_THREADS threads at once; (status, headers, body) each."""
    headers = {"Authorization": f"Bearer {secret}"}

    def one(n: int):
        return http(
            "POST", base_url + "/api/v1/tools/echo", {"message": f"call {n}"}, headers, timeout=30
        )

    with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
        return list(pool.map(one, range(calls)))


def counts(app, user_id) -> tuple[int, int, int, int]:
    """(log rows, month counter, daily calls, daily rate-limit rejections) of one user."""
    with app.app_context():
        logs = db.session.scalar(
            sa.select(sa.func.count()).select_from(ToolLog).where(ToolLog.user_id == user_id)
        )
        month = db.session.scalar(
            sa.select(UsageSummary.total_calls).where(UsageSummary.user_id == user_id)
        )
        daily, rejected = db.session.execute(
            sa.select(
                sa.func.sum(UsageDaily.calls), sa.func.sum(UsageDaily.rejected_rate_limit)
            ).where(UsageDaily.user_id == user_id)
        ).one()
        db.session.remove()
        return logs, month or 0, int(daily or 0), int(rejected or 0)


def test_600_parallel_calls_across_workers_are_metered_exactly(server):
    gunicorn, app = server
    user_id, secret = new_key(app, "load@example.com", rate_limit=10_000)

    answers = fire(gunicorn.base_url, secret, 600)

    statuses = sorted({status for status, _, _ in answers})
    assert statuses == [200], [body for status, _, body in answers if status != 200][:3]
    assert len({body["request_id"] for _, _, body in answers}) == 600
    assert counts(app, user_id) == (600, 600, 600, 0)
    assert len(gunicorn.worker_pids()) >= 2, "the calls should have been spread over workers"


def test_burst_gets_exactly_the_limit_across_workers(server):
    gunicorn, app = server
    user_id, secret = new_key(app, "burst@example.com", rate_limit=50)

    answers = fire(gunicorn.base_url, secret, 300)

    accepted = [answer for answer in answers if answer[0] == 200]
    refused = [answer for answer in answers if answer[0] != 200]
    assert len(accepted) == 50
    assert len(refused) == 250
    for status, headers, body in refused:
        assert (status, body["error"]["code"]) == (429, "rate_limited")
        assert 1 <= int(headers["Retry-After"]) <= 60
        assert headers["X-RateLimit-Remaining"] == "0"
    # Remaining is read after the atomic count, so two calls at once may both see the lower
    # number; it never claims more room than there is.
    remaining = [int(headers["X-RateLimit-Remaining"]) for _, headers, _ in accepted]
    assert all(0 <= left <= 49 for left in remaining)
    assert min(remaining) == 0
    assert counts(app, user_id) == (50, 50, 50, 250)
