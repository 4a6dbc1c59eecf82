"""An organisation to work on: `acme`, owned by `owner`; `join` adds a member directly; `inbox`
reads what the test SMTP server received (a module turns mail on in its `app_overrides`)."""

import pytest

from dashboard.extensions import db
from dashboard.models import Membership
from dashboard.organisations.roles import Role
from dashboard.organisations.service import create_organisation
from tests.mail_server import smtp_server  # noqa: F401 (fixture)


@pytest.fixture
def inbox(smtp_server):  # noqa: F811
    return smtp_server[0]


@pytest.fixture
def owner(make_user):
    return make_user("owner@example.com")


@pytest.fixture
def acme(owner):
    return create_organisation(owner, "Acme")


def join(organisation, person, role: Role) -> None:
    """Make `person` a member in `role`, without an invitation."""
    db.session.add(Membership(organisation_id=organisation.user_id, person_id=person.id, role=role))
    db.session.commit()
