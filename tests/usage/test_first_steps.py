"""The usage home's first-run card: three steps, each ticked when done, until the account's
first successful call with its own key."""

from datetime import date

import pytest
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import ToolLog, UsageDaily


def steps_of(client) -> dict[str, str] | None:
    page = client.get("/usage/").get_data(as_text=True)
    if 'data-testid="first-steps"' not in page:
        return None
    return {
        name: "done" if f'data-testid="step-{name}" data-done="true"' in page else "to do"
        for name in ("playground", "key", "call")
    }


def log_call(user, key, **fields) -> None:
    db.session.add(ToolLog(user_id=user.id, api_key_id=key.id, tool_name="echo", **fields))
    db.session.commit()


def test_a_new_account_sees_three_steps_with_links(client, logged_in):
    page = client.get("/usage/").get_data(as_text=True)
    assert steps_of(client) == {"playground": "to do", "key": "to do", "call": "to do"}
    for href in ('href="/tools/"', 'href="/keys/"', 'href="/logs/"'):
        assert href in page
    assert page.count("Not done yet") == 3  # the state in words, not only in colour


def test_each_step_ticks_then_the_card_goes_with_the_first_successful_call(client, logged_in):
    key, _ = create_key(logged_in, "First")
    assert steps_of(client) == {"playground": "to do", "key": "done", "call": "to do"}
    log_call(logged_in, key, source="playground")
    assert steps_of(client) == {"playground": "done", "key": "done", "call": "to do"}
    log_call(logged_in, key, status="error", error_code="invalid_input")
    assert steps_of(client) is not None  # a failed call is not the first success
    log_call(logged_in, key)
    assert steps_of(client) is None


def test_the_card_stays_gone_after_the_logs_are_purged(client, logged_in):
    key, _ = create_key(logged_in, "First")
    db.session.add(
        UsageDaily(user_id=logged_in.id, day=date(2021, 2, 1), api_key_id=key.id, tool_name="echo")
    )
    db.session.commit()
    row = db.session.scalars(sa.select(UsageDaily)).one()
    row.calls, row.errors = 1, 1  # a failed call only: the card stays
    db.session.commit()
    assert steps_of(client) is not None
    row.calls = 2
    db.session.commit()
    assert steps_of(client) is None


@pytest.mark.parametrize("htmx", [False, True])
def test_the_card_is_in_the_page_and_its_fragment(client, logged_in, htmx):
    headers = {"HX-Request": "true"} if htmx else {}
    page = client.get("/usage/?month=2021-02", headers=headers).get_data(as_text=True)
    assert 'data-testid="first-steps"' in page
    assert ("<html" in page) is not htmx
