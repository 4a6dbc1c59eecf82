"""One account's flood of deliveries cannot hold the queue: test events and resends are limited
per account, and each account has at most WEBHOOK_ACCOUNT_IN_FLIGHT deliveries queued or being
sent, the rest deferred (kept, sent later), so the other workers stay free for everyone else."""

import time

import pytest

from dashboard.extensions import db
from dashboard.models import WebhookDelivery
from dashboard.webhooks import service, tasks
from tests.alerts.conftest import Receiver, wait_for

pytestmark = pytest.mark.slow

FLOOD = 30


@pytest.fixture
def hanging_receiver():
    """An endpoint that accepts the request and never answers (until the test ends)."""
    running = Receiver()
    running.mode = "hang"
    yield running
    running.close()


def test_a_flood_from_one_account_does_not_delay_another(
    app, make_user, worker, receiver, hanging_receiver
):
    flooder, bystander = make_user(), make_user()
    stuck = service.create_endpoint(flooder.id, hanging_receiver.url, "", ["usage"])[0]
    for _ in range(FLOOD):
        tasks.send_test(stuck)
    statuses = [d.status for d in service.deliveries_of(stuck)]
    # One on the queue or being sent at a time, the rest waiting their turn (on a slow machine
    # the first attempt may have timed out already, and the next one taken its place).
    assert statuses.count("pending") + statuses.count("sending") <= 1, statuses
    assert statuses.count("deferred") >= FLOOD - 5, statuses

    started = time.monotonic()
    endpoint = service.create_endpoint(bystander.id, receiver.url, "", ["usage"])[0]
    delivery = tasks.send_test(endpoint)
    # The bystander's share is free: queued at once (the worker may have taken it already).
    assert delivery.status in ("pending", "sending", "succeeded"), delivery.status

    def delivered():
        return db.session.get(WebhookDelivery, delivery.id).status == "succeeded"

    wait_for(delivered, timeout=30, what="the bystander's delivery")
    waited = time.monotonic() - started
    attempted = [d for d in service.deliveries_of(stuck, limit=FLOOD) if d.attempts]
    # Without the share, the bystander's event waits behind the whole flood (30 attempts of
    # 2 s on 3 workers); with it, the flooder holds one worker: at most one attempt per 2 s
    # went by (and one started) while the bystander waited, however slow the machine is.
    most = int(waited / 2) + 2
    assert len(attempted) <= min(most, FLOOD - 1), (
        f"{len(attempted)} flood attempts in the {waited:.1f} s before the bystander's event"
    )
    print(f"bystander delivered after {waited:.2f} s; flood attempts by then: {len(attempted)}")
    assert len(service.deliveries_of(stuck, limit=FLOOD * 2)) == FLOOD  # nothing lost


def test_test_events_and_resends_are_limited_per_account(
    app, client, auth, user, make_user, worker
):
    auth.login(user)
    endpoint = service.create_endpoint(user.id, "https://example.com/hook", "", ["usage"])[0]
    answers = [client.post(f"/webhooks/{endpoint.id}/test").status_code for _ in range(9)]
    delivery = service.deliveries_of(endpoint)[0]
    answers.append(client.post(f"/webhooks/deliveries/{delivery.id}/resend").status_code)
    assert answers == [303] * 10

    refused = client.post(f"/webhooks/{endpoint.id}/test")
    assert refused.status_code == 429
    assert "Wait a minute, then try again" in refused.get_data(as_text=True)
    htmx = client.post(f"/webhooks/deliveries/{delivery.id}/resend", headers={"HX-Request": "1"})
    assert htmx.status_code == 429
    assert len(service.deliveries_of(endpoint)) == 10  # the refused ones queued nothing

    someone_else = make_user()  # another account keeps its own allowance
    other = app.test_client()
    type(auth)(other).login(someone_else)
    theirs = service.create_endpoint(someone_else.id, "https://example.com/hook", "", ["usage"])
    assert other.post(f"/webhooks/{theirs[0].id}/test").status_code == 303
