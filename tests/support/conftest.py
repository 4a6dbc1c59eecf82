"""Support fixtures: staff accounts, a customer with keys and calls, and viewing as them."""

import pytest
import sqlalchemy as sa

from dashboard.api.metering import record_call
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import AuditEvent, SuperAdmin
from tests.organisations.conftest import acme, owner  # noqa: F401 (fixtures: an organisation)

REASON = "Ticket 4821: key fails with 401"


@pytest.fixture
def support(make_user):
    """A support person."""
    return make_user(role="support")


@pytest.fixture
def admin(make_user):
    """A super admin (a row in super_admins), with the default role."""
    user = make_user()
    db.session.add(SuperAdmin(user_id=user.id, notes="tests"))
    db.session.commit()
    return user


@pytest.fixture
def customer(make_user):
    """An ordinary customer on the pro plan."""
    return make_user(plan="pro")


def start_viewing(client, subject, reason: str = REASON):
    """Ask the console to view as `subject` (the client must be logged in as staff)."""
    return client.post(f"/support/users/{subject.id}/impersonate", data={"reason": reason})


@pytest.fixture
def viewing(client, auth, support, customer):
    """The client is logged in as `support` and views as `customer`; yields the customer."""
    auth.login(support)
    response = start_viewing(client, customer)
    assert response.status_code == 303
    return customer


def events(action: str | None = None) -> list[AuditEvent]:
    """Audit rows, oldest first, of one action, or of all but the reads made while viewing."""
    query = sa.select(AuditEvent).order_by(AuditEvent.created_at, AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    else:
        query = query.where(AuditEvent.action != "impersonation.read")
    return list(db.session.scalars(query))


def make_call(user, key, status: str = "success", at=None, code: str | None = None) -> None:
    """One metered call through the real metering path."""
    record_call(
        user_id=user.id,
        api_key_id=key.id,
        tool_name="echo",
        tool_version="v1",
        input_payload={"message": "hi"},
        output_payload={"echo": "hi"} if status == "success" else None,
        status=status,
        execution_time_ms=12,
        tokens_used=3,
        error_message="boom" if status == "error" else None,
        error_code=code,
        at=at,
    )


@pytest.fixture
def customer_key(customer):
    """The customer's key and its secret."""
    return create_key(customer, "Production server")
