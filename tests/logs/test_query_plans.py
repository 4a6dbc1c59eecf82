"""On PostgreSQL the list's queries walk the (user_id, created_at DESC, id DESC) index."""

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.logs import service
from dashboard.logs.filters import LogFilter
from dashboard.models import ToolLog, utcnow

pytestmark = pytest.mark.postgres_only


def load_rows(users_and_keys, per_user: int) -> None:
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "user_id": user.id,
            "api_key_id": key.id,
            "tool_name": ("echo", "keywords", "sentiment")[n % 3],
            "tool_version": "v1",
            "created_at": now - timedelta(seconds=n),
            "status": "error" if n % 10 == 0 else "success",
            "execution_time_ms": 5,
            "tokens_used": 5,
            "error_message": "boom" if n % 10 == 0 else None,
        }
        for user, key in users_and_keys
        for n in range(per_user)
    ]
    db.session.execute(sa.insert(ToolLog), rows)
    db.session.commit()
    db.session.execute(sa.text("ANALYZE tool_logs"))
    db.session.commit()


def captured_plans(run) -> list[str]:
    """EXPLAIN of every SELECT on tool_logs that `run()` sends."""
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM tool_logs" in statement and statement.lstrip().startswith("SELECT"):
            statements.append((statement, parameters))

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    plans = []
    connection = db.session.connection()
    for statement, parameters in statements:
        rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters).all()
        plans.append("\n".join(row[0] for row in rows))
    return plans


@pytest.mark.parametrize("backend", ["postgresql"])
def test_first_page_and_cursor_pages_use_the_index(app, make_user):
    owners = []
    for _ in range(3):
        user = make_user()
        key, _ = create_key(user, "k")
        owners.append((user, key))
    load_rows(owners, per_user=2000)
    user = owners[0][0]
    empty = LogFilter()
    page = service.page_of_logs(user, empty)
    for _ in range(10):
        page = service.page_of_logs(user, empty, page.next_cursor, "next")
    deep = page.next_cursor  # 550 rows down
    cases = {
        "first page": lambda: service.page_of_logs(user, empty),
        "older by cursor": lambda: service.page_of_logs(user, empty, deep, "next"),
        "newer by cursor": lambda: service.page_of_logs(user, empty, deep, "prev"),
        "filtered by cursor": lambda: service.page_of_logs(user, LogFilter(status="error"), deep),
    }
    for name, run in cases.items():
        plans = captured_plans(run)
        assert plans, f"{name}: no query was captured"
        for plan in plans:
            scans = [line for line in plan.splitlines() if "Scan" in line]
            assert scans, plan
            assert all(" Index Scan" in s or "Index Only Scan" in s for s in scans), plan
            assert "Sort" not in plan, f"{name}: {plan}"
        if name != "first page":
            assert "ROW(created_at, id)" in plans[0], plans[0]  # the keyset is an index condition


@pytest.mark.parametrize("backend", ["postgresql"])
def test_an_error_search_that_matches_nothing_uses_the_trigram_index(app, make_user):
    """The search reads the trigram index, not every failed call, when nothing matches."""
    user = make_user(plan="scale")
    key, _ = create_key(user, "k")
    load_rows([(user, key)], per_user=20000)
    plans = captured_plans(lambda: service.page_of_logs(user, LogFilter(q="no such text anywhere")))
    assert plans and "tool_logs_error_message_trgm_idx" in plans[0], plans[0]
    assert "Seq Scan" not in plans[0], plans[0]


@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_code_and_group_filters_walk_their_indexes(app, make_user):
    user = make_user()
    key, _ = create_key(user, "k")
    load_rows([(user, key)], per_user=5000)
    cases = {
        "code": LogFilter(code="tool_error"),
        "group": LogFilter(
            status="error", tool="echo", version="v1", fingerprint="0123456789abcdef"
        ),
    }
    for name, filters in cases.items():
        (plan, *_) = captured_plans(lambda f=filters: service.page_of_logs(user, f))
        assert "Sort" not in plan and "Seq Scan" not in plan, f"{name}: {plan}"
