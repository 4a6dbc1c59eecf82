"""An organisation's key on the hot path: the call is metered, limited and counted on the
organisation (the key row's owner), with exactly the statements a person's key costs."""

import pytest
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.models import ToolLog, UsageSummary, utcnow
from dashboard.organisations.service import create_organisation
from tests.api.test_limits import TINY_PLANS


def statements_of_a_call(api_app, api, secret) -> list[str]:
    """The SQL statements the API app runs for one call of `secret`."""
    with api_app.app_context():
        engine = db.engine
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement.split()[0].upper())

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert api.call("echo", {"message": "hi"}, key=secret).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return sent


@pytest.mark.parametrize("app_overrides", [{"API_KEY_CACHE_SECONDS": 60}])
def test_an_organisations_key_costs_the_statements_a_persons_key_costs(
    api_app, api, make_key, make_user, user
):
    organisation = create_organisation(user, "Acme")
    person = make_user()  # an account the gateway has not seen yet, as the organisation
    personal = make_key(owner=person)
    shared = make_key(owner=organisation.account)
    statements_of_a_call(api_app, api, make_key())  # the process's first call loads the tools
    cold = [statements_of_a_call(api_app, api, s) for s in (personal, shared)]
    warm = [statements_of_a_call(api_app, api, s) for s in (personal, shared)]
    assert cold[0] == cold[1]
    assert warm[0] == warm[1]
    assert len(warm[1]) <= len(cold[1])
    month = utcnow().strftime("%Y-%m")
    owners = db.session.execute(
        sa.select(ToolLog.user_id, sa.func.count()).group_by(ToolLog.user_id)
    )
    assert dict(owners.all()) == {user.id: 1, person.id: 2, organisation.user_id: 2}
    counted = db.session.scalar(
        sa.select(UsageSummary.total_calls).where(
            UsageSummary.user_id == organisation.user_id, UsageSummary.month_year == month
        )
    )
    assert counted == 2


@pytest.mark.parametrize("app_overrides", [{"PLANS": TINY_PLANS}])
def test_the_quota_of_an_organisation_is_its_own(api, make_key, user):
    organisation = create_organisation(user, "Acme")
    shared = make_key(owner=organisation.account)
    personal = make_key()
    answers = [api.call("echo", {"message": "hi"}, key=shared).status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    # The person's own account has its own month.
    assert api.call("echo", {"message": "hi"}, key=personal).status_code == 200
