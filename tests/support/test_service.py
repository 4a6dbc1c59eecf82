"""The support services called directly: search, refusals, changes, the audit page."""

import uuid
from datetime import timedelta

import pytest

from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import AuditEvent, utcnow
from dashboard.paging import read_cursor as decode_cursor
from dashboard.support.audit import AuditFilter, audit_page, support_access_for
from dashboard.support.guards import refused_while_impersonating
from dashboard.support.service import (
    NotAllowed,
    change_plan,
    change_role,
    impersonation_refusal,
    search_accounts,
    search_kind,
)


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        (str(uuid.uuid4()), "id"),
        ("tk_live_Ab12Cd", "key"),
        ("tk_", "key"),
        ("ana@example.com", "text"),
        ("12345", "text"),
    ],
)
def test_search_kind(query, kind):
    assert search_kind(query) == kind


def test_search_by_key_prefix_finds_each_owner_once(app, make_user):
    owner = make_user()
    create_key(owner, "a")
    create_key(owner, "b")
    page = search_accounts("tk_live_")
    assert [r.account.id for r in page.results] == [owner.id]


def test_search_pages_continue_after_the_last_email(app, make_user):
    for n in range(5):
        make_user(f"s{n}@service.test")
    first = search_accounts("service.test", size=2)
    assert [r.account.email for r in first.results] == ["s0@service.test", "s1@service.test"]
    assert first.next_after == "s1@service.test"
    last = search_accounts("service.test", after="s3@service.test", size=2)
    assert [r.account.email for r in last.results] == ["s4@service.test"]
    assert last.next_after is None


def test_impersonation_refusals(app, make_user):
    support = make_user(role="support")
    customer = make_user()
    assert impersonation_refusal(support, customer) is None
    assert "Only support staff" in impersonation_refusal(customer, support)
    assert "yourself" in impersonation_refusal(support, support)
    assert "support person" in impersonation_refusal(support, make_user(role="support"))


def test_changes_need_a_super_admin(app, make_user):
    support = make_user(role="support")
    customer = make_user()
    with pytest.raises(NotAllowed):
        change_role(support, customer, "support")
    with pytest.raises(NotAllowed):
        change_plan(support, customer, "scale")
    assert (customer.role, customer.subscription_plan) == ("user", "free")


@pytest.mark.parametrize(
    ("endpoint", "method", "refused"),
    [
        ("keys.index", "GET", False),
        ("logs.index", "GET", False),
        ("keys.expire", "POST", False),
        ("auth.logout", "POST", False),
        ("support.end_impersonation", "POST", False),
        ("keys.create", "POST", True),
        ("keys.edit_form", "GET", True),
        ("keys.roll_form", "GET", True),
        ("keys.confirm_expire", "GET", False),
        ("keys.roll", "POST", True),
        ("account.password", "POST", True),
        ("account.delete", "POST", True),
        ("tools.try_it", "POST", True),
        ("some.future_thing", "DELETE", True),
        ("support.index", "GET", True),
        (None, "POST", True),
    ],
)
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_write_rule(app, endpoint, method, refused):
    assert refused_while_impersonating(endpoint, method) is refused


def test_audit_cursor_round_trip_and_garbage():
    assert decode_cursor("garbage") is None
    assert decode_cursor("20260101T000000.000000_nothex") is None
    assert decode_cursor(None) is None


def test_audit_page_orders_by_time_then_id(app):
    at = utcnow().replace(microsecond=0)
    for n in range(4):
        db.session.add(
            AuditEvent(action="user.plan", actor_email=f"a{n}@x", created_at=at, details={})
        )
    db.session.add(
        AuditEvent(action="user.role", actor_email="old@x", created_at=at - timedelta(1))
    )
    db.session.commit()
    first, cursor = audit_page(AuditFilter(), size=3)
    second, end = audit_page(AuditFilter(), before=cursor, size=3)
    assert end is None
    assert len({e.id for e in first + second}) == 5
    assert second[-1].actor_email == "old@x"
    ids = [e.id for e in first + second[:-1]]
    assert ids == sorted(ids, reverse=True)


def test_support_access_for_anonymous_is_empty(app):
    from flask_login import AnonymousUserMixin

    assert support_access_for(AnonymousUserMixin()) == []
