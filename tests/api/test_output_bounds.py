"""Output and storage bounds: a tool's output past its version's limit is refused (422
output_too_large, logged), and a log row keeps at most LOG_PAYLOAD_MAX_BYTES of each payload,
so an amplifying input cannot fill the disk through tool_logs."""

import json
import random
import string

import pytest
import sqlalchemy as sa

from dashboard.config import TestConfig
from dashboard.extensions import db
from dashboard.models import ToolLog
from dashboard.models.payloads import kept_payload, truncation_of
from dashboard.tools import registry
from dashboard.tools.pool import close_pools, tool_pool
from dashboard.tools.tool import ToolVersion, object_schema
from tests.api.conftest import error_code

ISOLATED = {"TOOL_ISOLATION": True, "TOOL_POOL_SIZE": 1}
IN_PROCESS = {"TOOL_ISOLATION": False}
CAP = 16 * 1024  # LOG_PAYLOAD_MAX_BYTES's default


def amplify(payload: dict) -> dict:
    """`times` copies of `text`: an output as large as asked for."""
    return {"text": payload["text"] * payload["times"]}


def amplify_version(version: str, max_output_bytes: int | None = None) -> ToolVersion:
    return ToolVersion(
        name="amplify",
        version=version,
        title="Amplify",
        description="Repeats a text (tests only).",
        input_schema=object_schema(
            {"text": {"type": "string"}, "times": {"type": "integer", "minimum": 0}},
            required=["text", "times"],
        ),
        output_schema=object_schema({"text": {"type": "string"}}, required=["text"]),
        example_input={"text": "a", "times": 2},
        run=amplify,
        max_output_bytes=max_output_bytes,
    )


AMPLIFY = [amplify_version("v1"), amplify_version("v2", max_output_bytes=1000)]


@pytest.fixture(scope="module", autouse=True)
def amplify_tool():
    """The amplifying test tool, registered while this module runs; its tool processes stopped
    after it."""
    for tool in AMPLIFY:
        registry.register(tool)
    tool_pool({**TestConfig().__dict__, **ISOLATED}).start()
    yield
    registry.TOOLS.pop("amplify", None)
    close_pools()


def markdown_bomb() -> str:
    """The reported input: one link reference definition with a 10 KB random URL, then
    `[a] ` 2,497 times (20,000 characters; it renders to 25 MB of HTML)."""
    chance = random.Random(24)
    url = "https://x.example/" + "".join(chance.choices(string.ascii_letters, k=9_960))
    return (f"[a]: {url}\n\n" + "[a] " * 2_497)[:20_000]


def stored_sizes() -> list[tuple[int, int]]:
    """(input, output) bytes of JSON that each log row stores."""
    if db.engine.dialect.name == "postgresql":
        length = sa.func.octet_length
        columns = (
            length(sa.cast(ToolLog.input_payload, sa.Text)),
            length(sa.cast(ToolLog.output_payload, sa.Text)),
        )
    else:
        columns = (sa.func.length(ToolLog.input_payload), sa.func.length(ToolLog.output_payload))
    return [tuple(row) for row in db.session.execute(sa.select(*columns)).all()]


@pytest.mark.parametrize("app_overrides", [ISOLATED, IN_PROCESS])
def test_a_markdown_bomb_is_refused_naming_the_limit_and_logged(api, secret):
    answer = api.call("markdown", {"markdown": markdown_bomb()}, key=secret)
    assert (answer.status_code, error_code(answer)) == (422, "output_too_large")
    error = answer.get_json()["error"]
    assert error["limit"] == 1024 * 1024
    assert "more than the limit of 1,048,576 bytes" in error["message"]
    row = db.session.scalars(sa.select(ToolLog)).one()
    assert (row.error_code, row.http_status, str(row.id)) == (
        "output_too_large",
        422,
        error["request_id"],
    )
    assert row.output_payload is None


@pytest.mark.parametrize("app_overrides", [ISOLATED])
def test_markdown_bombs_grow_tool_logs_by_at_most_the_cap_per_call(api, secret):
    bomb = {"markdown": markdown_bomb()}
    calls = 8
    for _ in range(calls):
        answer = api.call("markdown", bomb, key=secret)
        assert error_code(answer) == "output_too_large"
    sizes = stored_sizes()
    assert len(sizes) == calls
    assert all(stored_input <= CAP for stored_input, _ in sizes), sizes
    assert truncation_of(db.session.scalars(sa.select(ToolLog.input_payload)).first()) is not None


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize("app_overrides", [{**ISOLATED, "TOOL_MAX_OUTPUT_BYTES": 64 * 1024 * 1024}])
def test_large_outputs_grow_the_postgresql_table_by_at_most_the_caps(api, secret):
    """With the output limit raised out of the way, 1 MB outputs are answered whole but each
    row keeps 16 KiB of them: the table (with TOAST and indexes) grows by at most the caps."""
    chance = random.Random(2)
    text = "".join(chance.choices(string.ascii_letters, k=1000))
    body = {"text": text, "times": 1000}
    api.call(
        "amplify", body, key=secret, version="v1"
    )  # the table's first pages exist before measuring
    size = sa.text("SELECT pg_total_relation_size('tool_logs')")
    before = db.session.scalar(size)
    calls = 10
    for _ in range(calls):
        answer = api.call("amplify", body, key=secret, version="v1")
        assert answer.status_code == 200, answer.get_json()
        assert len(answer.get_json()["output"]["text"]) == 1_000_000
    db.session.commit()
    grown = db.session.scalar(size) - before
    assert grown <= calls * 2 * CAP, grown  # was about 1 MB a call
    assert all(output <= CAP for _, output in stored_sizes())


@pytest.mark.parametrize("app_overrides", [ISOLATED, IN_PROCESS])
def test_every_tool_output_is_bounded_by_its_version_limit(api, secret):
    default = api.call("amplify", {"text": "ab", "times": 600_000}, key=secret, version="v1")
    assert (default.status_code, error_code(default)) == (422, "output_too_large")
    assert default.get_json()["error"]["limit"] == 1024 * 1024
    own = api.call("amplify", {"text": "ab", "times": 600}, key=secret, version="v2")
    assert (own.status_code, error_code(own)) == (422, "output_too_large")
    assert own.get_json()["error"]["limit"] == 1000
    fits = api.call("amplify", {"text": "ab", "times": 400}, key=secret, version="v2")
    assert fits.status_code == 200


@pytest.mark.parametrize("app_overrides", [{**IN_PROCESS, "TOOL_MAX_OUTPUT_BYTES": 100}])
def test_the_setting_is_the_default_limit(api, secret):
    answer = api.call("amplify", {"text": "a", "times": 200}, key=secret, version="v1")
    assert (answer.status_code, answer.get_json()["error"]["limit"]) == (422, 100)


@pytest.mark.parametrize("app_overrides", [IN_PROCESS])
def test_the_log_page_says_a_payload_was_truncated(api, secret, auth, user, client):
    answer = api.call("amplify", {"text": '"é', "times": 20_000}, key=secret, version="v1")
    assert answer.status_code == 200
    row = db.session.scalars(sa.select(ToolLog)).one()
    cut = truncation_of(row.output_payload)
    assert cut is not None and cut.total_bytes == len(
        json.dumps(
            amplify({"text": '"é', "times": 20_000}), ensure_ascii=False, separators=(",", ":")
        ).encode()
    )
    assert cut.preview.startswith('{"text":"\\"é')
    assert truncation_of(row.input_payload) is None  # a small input is kept whole
    auth.login(user)
    page = client.get(f"/logs/{row.id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-testid="output-truncated"' in text
    assert f"the output was {cut.total_bytes:,} bytes of JSON" in text
    assert "Copy command" in text  # the input was kept whole: it can be repeated


def test_kept_payload_is_valid_json_within_the_cap():
    for text in ('{"a":"' + '\\"' * 50_000 + '"}', '{"a":"' + "é€😀" * 30_000 + '"}', "x" * 99):
        for cap in (200, 1000, CAP):
            kept, cut = kept_payload(text, cap)
            assert len(kept.encode()) <= max(cap, 100)
            if cut:
                marker = json.loads(kept)
                assert truncation_of(marker).total_bytes == len(text.encode())
                assert text.startswith(marker["preview"])
            else:
                assert kept == text
