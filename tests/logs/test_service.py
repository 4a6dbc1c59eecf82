import base64
import json
import shlex
import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from dashboard.extensions import db
from dashboard.logs import service
from dashboard.logs.curl import repeat_curl
from dashboard.logs.export import csv_chunks, export_rows
from dashboard.logs.filters import LogFilter, parse_filters
from dashboard.models import User, utcnow
from dashboard.paging import BadCursor, decode_cursor, encode_cursor


def test_cursor_round_trip_is_opaque_and_url_safe():
    at = datetime(2025, 3, 1, 12, 30, 5, 123000)
    log_id = uuid.uuid4()
    cursor = encode_cursor(at, log_id)
    assert str(log_id) not in cursor and "=" not in cursor
    assert cursor == cursor.replace("+", "").replace("/", "")
    assert decode_cursor(cursor) == (at, log_id)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "a",
        base64.urlsafe_b64encode(b"no separator").decode(),
        base64.urlsafe_b64encode(b"2025-01-01T00:00:00|not-a-uuid").decode(),
        base64.urlsafe_b64encode(b"yesterday|" + str(uuid.uuid4()).encode()).decode(),
        base64.urlsafe_b64encode(
            b"2025-01-01T00:00:00+00:00|" + str(uuid.uuid4()).encode()
        ).decode(),
        base64.urlsafe_b64encode(b"\xff\xfe|x").decode(),
        "é",
    ],
)
def test_bad_cursors_raise_bad_cursor(cursor):
    with pytest.raises(BadCursor):
        decode_cursor(cursor)


def test_like_pattern_escapes_wildcards():
    assert service.like_pattern("100%_a\\b") == "%100\\%\\_a\\\\b%"


def test_repeat_curl_quotes_the_input_for_a_shell():
    payload = {"message": 'it\'s $HOME `rm -rf` "quoted"', "n": 1}
    command = repeat_curl("https://tools.example/", "echo", "v2", payload)
    words = shlex.split(command.replace("\\\n", " "))
    assert words[:4] == ["curl", "-X", "POST", "https://tools.example/api/v1/tools/echo/v2"]
    assert "Authorization: Bearer $TOOLBOX_API_KEY" in words
    assert json.loads(words[words.index("-d") + 1]) == payload


def test_pretty_json_sorts_and_indents():
    assert service.pretty_json({"b": 1, "a": {"c": "é"}}) == (
        '{\n  "a": {\n    "c": "é"\n  },\n  "b": 1\n}'
    )


def test_parse_filters_keeps_good_values(app, user):
    filters = parse_filters(
        MultiDict({"tool": " echo ", "status": "error", "from": "2025-01-02", "q": "x"}), user
    )
    assert filters.problems == []
    assert filters.query_args() == {
        "tool": "echo",
        "status": "error",
        "from": "2025-01-02",
        "q": "x",
    }
    assert filters.active


def test_parse_filters_rejects_a_reversed_range(app, user):
    filters = parse_filters(MultiDict({"from": "2025-02-02", "to": "2025-02-01"}), user)
    assert filters.date_from is None and filters.date_to is None
    assert filters.invalid == {"from", "to"}
    assert not filters.active


def test_page_of_logs_directly(app, call, logged_in):
    base = utcnow().replace(microsecond=0) - timedelta(hours=1)
    ids = [call(at=base + timedelta(seconds=n)) for n in range(7)]
    empty = LogFilter()
    first = service.page_of_logs(logged_in, empty, page_size=3)
    assert [log.id for log in first.logs] == ids[::-1][:3]
    assert first.prev_cursor is None and first.is_first
    second = service.page_of_logs(logged_in, empty, first.next_cursor, "next", page_size=3)
    assert [log.id for log in second.logs] == ids[::-1][3:6]
    third = service.page_of_logs(logged_in, empty, second.next_cursor, "next", page_size=3)
    assert [log.id for log in third.logs] == [ids[0]] and third.next_cursor is None
    back = service.page_of_logs(logged_in, empty, third.prev_cursor, "prev", page_size=3)
    assert [log.id for log in back.logs] == ids[::-1][3:6]
    top = service.page_of_logs(logged_in, empty, back.prev_cursor, "prev", page_size=3)
    assert top.is_first and [log.id for log in top.logs] == ids[::-1][:3]
    with pytest.raises(BadCursor):
        service.page_of_logs(logged_in, empty, "garbage", "next")


def test_export_rows_directly(app, call, logged_in, key):
    log_id = call(status="error", error="boom", code="tool_error", ms=3, tokens=4)
    [row] = list(export_rows(logged_in, LogFilter()))
    assert row[1:] == (
        str(log_id),
        "echo",
        "v1",
        "error",
        "tool_error",
        "Production",
        key.prefix,
        3,
        4,
        "boom",
        500,  # http_status (tool_error), then calls and source
        1,
        "api",
    )
    assert row[0].endswith("Z")


def test_an_export_leaves_the_sessions_later_statements_as_they_were(app, call, logged_in):
    # The export's server-side cursor once stuck to the session's connection: the next UPDATE
    # in that transaction ran as "DECLARE ... CURSOR FOR UPDATE", which PostgreSQL refuses
    # (the query-string walk met it when a page touched user_sessions after an export).
    call()
    assert len(list(export_rows(logged_in, LogFilter()))) == 1
    db.session.execute(sa.update(User).where(User.id == logged_in.id).values(role="support"))
    db.session.commit()
    assert db.session.scalar(sa.select(User.role).where(User.id == logged_in.id)) == "support"


def test_csv_chunks_stream_in_pieces():
    rows = ((str(n), "a,b") for n in range(1200))
    chunks = list(csv_chunks(rows, rows_per_chunk=500))
    assert len(chunks) == 3
    assert chunks[0].startswith("created_at,request_id,")
    assert "".join(chunks).count('"a,b"') == 1200
