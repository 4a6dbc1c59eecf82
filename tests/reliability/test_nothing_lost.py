"""Nothing lost, nothing half-written: a failing tool still leaves its log row, and the log row
and its counters are committed together or not at all. On both databases."""

import pytest
import sqlalchemy as sa

from dashboard.api.metering import record_call
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import ApiKey, Tool, ToolLog, UsageDaily, UsageSummary
from dashboard.tools import registry
from dashboard.tools.sync import sync_tools
from dashboard.tools.tool import ToolVersion, object_schema


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise ValueError("cannot print this error")


FAILURES = {
    "runtime": RuntimeError("boom"),
    "recursion": RecursionError("maximum recursion depth exceeded"),
    "nul": ValueError("bad byte \x00 in the middle"),
    "surrogate": UnicodeDecodeError("utf-8", b"\xff", 0, 1, "lone \udc80 here"),
    "long": ValueError("x" * 100_000),
    "unprintable": UnprintableError(),
}


# Outputs that a tool may wrongly return: not JSON, not an object, or not storable.
BAD_OUTPUTS = {
    "nan output": {"x": float("nan")},
    "nul output": {"x": "a\x00b"},
    "surrogate output": {"x": "\udc80"},
    "list output": ["a"],
    "object output": {"x": object()},
}


def failing(payload: dict) -> dict:
    if payload["failure"] in BAD_OUTPUTS:
        return BAD_OUTPUTS[payload["failure"]]
    raise FAILURES[payload["failure"]]


FAILING_TOOL = ToolVersion(
    name="failing",
    version="v1",
    title="Failing",
    description="Raises the exception it is asked for.",
    input_schema=object_schema(
        {"failure": {"enum": sorted(FAILURES) + sorted(BAD_OUTPUTS)}}, required=["failure"]
    ),
    output_schema=object_schema({}, required=[]),
    example_input={"failure": "runtime"},
    run=failing,
)


@pytest.fixture
def failing_tool():
    """A test-only tool that raises, registered only while the test runs."""
    registry.register(FAILING_TOOL)
    yield FAILING_TOOL
    registry.TOOLS.pop(FAILING_TOOL.name, None)


@pytest.fixture
def secret(app, user, failing_tool):
    sync_tools(db.session, Tool)
    db.session.commit()
    return create_key(user, "nothing lost")[1]


def totals() -> tuple[int, int, int]:
    """(log rows, month calls, daily calls) over every user."""
    logs = db.session.scalar(sa.select(sa.func.count()).select_from(ToolLog))
    month = db.session.scalar(sa.select(sa.func.sum(UsageSummary.total_calls)))
    daily = db.session.scalar(sa.select(sa.func.sum(UsageDaily.calls)))
    return logs, int(month or 0), int(daily or 0)


def call(client, secret, tool: str, body: dict):
    return client.post(
        f"/api/v1/tools/{tool}", json=body, headers={"Authorization": f"Bearer {secret}"}
    )


@pytest.mark.parametrize("failure", sorted(FAILURES) + sorted(BAD_OUTPUTS))
def test_a_failing_tool_leaves_its_log_row(client, secret, failure):
    response = call(client, secret, "failing", {"failure": failure})

    assert response.status_code == 500
    body = response.get_json()["error"]
    assert body["code"] == "tool_error"
    db.session.expire_all()
    (row,) = db.session.scalars(sa.select(ToolLog)).all()
    assert body["request_id"] == str(row.id)
    assert (row.status, row.error_code, row.tool_name) == ("error", "tool_error", "failing")
    assert row.error_message and len(row.error_message) <= 500
    assert totals() == (1, 1, 1)
    daily = db.session.scalar(sa.select(UsageDaily))
    assert daily.errors == 1


TRIGGERS = {
    "postgresql": [
        """CREATE FUNCTION refuse_counter() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION 'counter write refused by the test'; END $$""",
        """CREATE TRIGGER refuse_counter BEFORE INSERT OR UPDATE ON {table}
           FOR EACH ROW EXECUTE FUNCTION refuse_counter()""",
    ],
    "sqlite": [
        """CREATE TRIGGER refuse_counter_insert BEFORE INSERT ON {table}
           BEGIN SELECT RAISE(ABORT, 'counter write refused by the test'); END""",
        """CREATE TRIGGER refuse_counter_update BEFORE UPDATE ON {table}
           BEGIN SELECT RAISE(ABORT, 'counter write refused by the test'); END""",
    ],
}
DROP_TRIGGERS = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS refuse_counter ON {table}",
        "DROP FUNCTION IF EXISTS refuse_counter()",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS refuse_counter_insert",
        "DROP TRIGGER IF EXISTS refuse_counter_update",
    ],
}


@pytest.fixture
def refused_counter(app):
    """refused_counter(table): writes to that counter table fail until the test ends."""
    dialect = db.engine.dialect.name
    tables = []

    def refuse(table: str) -> None:
        tables.append(table)
        for statement in TRIGGERS[dialect]:
            db.session.execute(sa.text(statement.format(table=table)))
        db.session.commit()

    def allow_again() -> None:
        db.session.rollback()
        for table in tables:
            for statement in DROP_TRIGGERS[dialect]:
                db.session.execute(sa.text(statement.format(table=table)))
        db.session.commit()
        tables.clear()

    refuse.allow_again = allow_again
    yield refuse
    allow_again()


@pytest.mark.parametrize("table", ["usage_summaries", "usage_daily"])
@pytest.mark.parametrize("existing_counter", [False, True], ids=["insert", "update"])
def test_a_failed_counter_write_leaves_no_log_row(
    client, secret, refused_counter, table, existing_counter
):
    if existing_counter:  # the upsert then updates the counter row instead of inserting it
        assert call(client, secret, "echo", {"message": "first"}).status_code == 200
    before = totals()
    refused_counter(table)

    response = call(client, secret, "echo", {"message": "lost?"})

    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    db.session.expire_all()
    assert totals() == before  # the log row was rolled back with the counter
    refused_counter.allow_again()
    assert call(client, secret, "echo", {"message": "again"}).status_code == 200
    logs, month, daily = totals()
    assert logs == month == daily == before[0] + 1


def test_record_call_is_one_transaction(app, user, refused_counter):
    """Called directly, a failing counter write leaves neither the log row nor the other counter."""
    create_key(user, "direct")
    key_id = db.session.scalar(sa.select(ApiKey.id))
    refused_counter("usage_daily")  # written after the log row and the month's counter
    with pytest.raises(sa.exc.DBAPIError):
        record_call(
            user_id=user.id,
            api_key_id=key_id,
            tool_name="echo",
            tool_version="v1",
            input_payload={"message": "a"},
            output_payload={"echo": "a", "length": 1},
            status="success",
            execution_time_ms=1,
            tokens_used=1,
        )
    db.session.rollback()
    assert totals() == (0, 0, 0)
