"""The Alerts and Webhooks pages, plain and with htmx; owners only; the support console's
read-only panel; the worker command and the daily purge on the scheduler."""

import re
from datetime import datetime

import pytest

from dashboard.alerts.service import settings_for, watched_key_ids
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import WebhookDelivery
from dashboard.webhooks import service
from tests.alerts.conftest import wait_for

PAGES = ["/alerts/", "/webhooks/"]


@pytest.mark.parametrize("url", PAGES)
def test_pages_need_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_alert_settings_saved_plain_and_with_htmx(client, logged_in):
    key, _ = create_key(logged_in, "watch me")
    page = client.get("/alerts/")
    assert page.status_code == 200 and "watch me" in page.get_data(as_text=True)
    form = {
        "quota": "y",
        "error_rate": "y",
        "error_rate_percent": "25",
        "error_rate_min_calls": "50",
        "watched_keys": str(key.id),
        "by_email": "y",
    }
    response = client.post("/alerts/", data=form)
    assert response.status_code == 303
    settings = settings_for(logged_in.id)
    assert settings.quota and settings.error_rate and not settings.key_expiry
    assert (settings.error_rate_percent, settings.error_rate_min_calls) == (25, 50)
    assert watched_key_ids(logged_in.id) == {key.id}

    response = client.post(
        "/alerts/", data={**form, "watched_keys": []}, headers={"HX-Request": "true"}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and 'id="alert-settings"' in body
    assert watched_key_ids(logged_in.id) == set()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("error_rate_percent", "0", "Between 1 and 100"), ("error_rate_min_calls", "x", "")],
)
def test_bad_alert_settings_are_refused_with_a_message(client, logged_in, field, value, message):
    data = {"error_rate_percent": "10", "error_rate_min_calls": "20", field: value}
    response = client.post("/alerts/", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_adding_an_endpoint_shows_its_secret_once(client, logged_in, receiver):
    response = client.post(
        "/webhooks/",
        data={"url": receiver.url, "description": "ops", "event_types": ["key.expiring"]},
    )
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", page).group(0)
    (endpoint,) = service.endpoints_of(logged_in.id)
    assert endpoint.secret == secret and endpoint.event_types == ["key.expiring"]
    again = client.get(response.headers["Location"]).get_data(as_text=True)
    assert secret not in again and 'id="webhook-secret"' not in again


@pytest.mark.parametrize(
    ("url", "events", "message"),
    [
        ("ftp://example.com/", ["key.expiring"], "must start with https://"),
        ("https://example.com/", [], "Choose at least one event"),
        ("https://example.com/", ["no.such"], "valid choice"),
        ("", ["key.expiring"], "Give the URL"),
    ],
)
def test_bad_endpoints_are_refused_with_a_message(client, logged_in, url, events, message):
    response = client.post("/webhooks/", data={"url": url, "event_types": events})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert service.endpoints_of(logged_in.id) == []


@pytest.mark.parametrize("app_overrides", [{"WEBHOOK_ALLOW_PRIVATE": False}])
def test_private_ip_endpoints_are_refused_in_the_form(client, logged_in):
    data = {"url": "http://10.0.0.5/hook", "event_types": ["key.expiring"]}
    response = client.post("/webhooks/", data=data)
    assert response.status_code == 422 and "private" in response.get_data(as_text=True)


def test_someone_elses_endpoint_is_404(client, logged_in, make_user):
    other = make_user()
    endpoint, _ = service.create_endpoint(other.id, "https://example.com/", "", ["key.expiring"])
    for url in (f"/webhooks/{endpoint.id}", "/webhooks/not-an-id"):
        assert client.get(url).status_code == 404
    for action in ("test", "rotate", "enabled", "delete"):
        assert client.post(f"/webhooks/{endpoint.id}/{action}").status_code == 404


def test_test_event_and_resend_update_the_log_in_place(client, logged_in, worker, receiver):
    endpoint, _ = service.create_endpoint(logged_in.id, receiver.url, "", ["key.expiring"])
    response = client.post(f"/webhooks/{endpoint.id}/test", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and 'id="deliveries"' in body
    assert "webhook.<wbr>test" in body
    (delivery,) = service.deliveries_of(endpoint)
    wait_for(lambda: worker.idle() and receiver.received, what="the test event")
    response = client.post(f"/webhooks/deliveries/{delivery.id}/resend")
    assert response.status_code == 303
    wait_for(lambda: len(receiver.received) == 2 and worker.idle(), what="the resend")
    fragment = client.get(f"/webhooks/{endpoint.id}", headers={"HX-Request": "true"})
    assert fragment.get_data(as_text=True).count('data-status="succeeded"') == 2


def test_endpoint_page_gives_htmx_its_log_and_a_history_restore_the_whole_page(client, logged_in):
    endpoint, _ = service.create_endpoint(
        logged_in.id, "https://example.com/", "", ["key.expiring"]
    )
    url, htmx = f"/webhooks/{endpoint.id}", {"HX-Request": "true"}
    page = client.get(url).get_data(as_text=True)
    fragment = client.get(url, headers=htmx).get_data(as_text=True)
    restored = client.get(url, headers={**htmx, "HX-History-Restore-Request": "true"})
    assert "<html" in page and "<html" in restored.get_data(as_text=True)
    assert "<html" not in fragment and 'id="deliveries"' in fragment
    assert restored.vary.as_set() >= {"hx-request"}


def test_disable_enable_rotate_delete(client, logged_in):
    endpoint, secret = service.create_endpoint(
        logged_in.id, "https://example.com/", "", ["key.expiring"]
    )
    assert client.post(f"/webhooks/{endpoint.id}/enabled").status_code == 303
    assert not service.endpoint_of(logged_in.id, endpoint.id).is_enabled
    client.post(f"/webhooks/{endpoint.id}/enabled", data={"enabled": "1"})
    assert service.endpoint_of(logged_in.id, endpoint.id).is_enabled
    response = client.post(f"/webhooks/{endpoint.id}/rotate")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    rotated = service.endpoint_of(logged_in.id, endpoint.id)
    assert rotated.secret in page and rotated.previous_secret == secret
    client.post(f"/webhooks/{endpoint.id}/delete")
    assert service.endpoints_of(logged_in.id) == []


def test_support_console_shows_alerting_read_only(client, auth, make_user):
    customer = make_user()
    service.create_endpoint(customer.id, "https://example.com/h", "", ["key.new_ip"])
    staff = make_user(role="support")
    auth.login(staff)
    page = client.get(f"/support/users/{customer.id}").get_data(as_text=True)
    assert 'data-testid="support-alerting"' in page and "https://example.com/h" in page
    assert "Resend" not in page


def test_worker_refuses_an_in_process_queue(app):
    app.config["QUEUE_URL"] = "memory://"
    result = app.test_cli_runner().invoke(args=["worker"])
    assert result.exit_code != 0 and "a worker needs redis://" in result.output


def test_the_log_purge_runs_daily_on_the_scheduler(app):
    task = app.extensions["jobs"].tasks["purge_logs"]
    hour = app.config["JOBS_PURGE_LOGS_HOUR"]
    runs = task.task_class().validate_datetime
    assert runs(datetime(2026, 12, 3, hour, 0))
    assert not runs(datetime(2026, 12, 3, hour, 1))
    assert not runs(datetime(2026, 12, 3, (hour + 1) % 24, 0))
    assert task.call_local() == 0  # nothing to purge, but it runs


def test_the_new_secret_has_a_copy_button_and_says_how_to_verify(client, logged_in, receiver):
    response = client.post(
        "/webhooks/", data={"url": receiver.url, "event_types": ["key.expiring"]}
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    (endpoint,) = service.endpoints_of(logged_in.id)
    # The secret is an element of its own (selectable without JavaScript) that the button copies;
    # the button is hidden until app.js can copy, and "Copied" goes to an aria-live region.
    assert '<code id="webhook-secret" class="webhook-secret-value user-select-all' in page
    assert f">{endpoint.secret}</code>" in page
    button = re.search(r"<button[^>]*data-copy-target=\"#webhook-secret\"[^>]*>", page).group(0)
    assert " hidden" in button and 'data-copy-status="#webhook-secret-status"' in button
    assert re.search(r'id="webhook-secret-status"[^>]*aria-live="polite"', page)
    assert "README" not in page
    for header in ("webhook-id", "webhook-timestamp", "webhook-signature", "HMAC-SHA256"):
        assert header in page


def test_each_delivery_shows_its_payload_escaped_and_its_endpoint_cut_short(client, logged_in):
    url = "https://example.com/a-rather-long-path/that-would-push-the-table/wide"
    endpoint, _ = service.create_endpoint(logged_in.id, url, "", ["key.expiring"])
    payload = {"data": {"key_name": "<b>CI & ops</b>"}}  # one key a level: jsonb reorders keys
    db.session.add(
        WebhookDelivery(
            endpoint_id=endpoint.id,
            user_id=logged_in.id,
            message_id="msg_1",
            event_type="key.expiring",
            payload=payload,
        )
    )
    db.session.commit()
    # Indented, and escaped by the template (quotes too: &#34;).
    pretty = (
        "{\n  &#34;data&#34;: {\n"
        "    &#34;key_name&#34;: &#34;&lt;b&gt;CI &amp; ops&lt;/b&gt;&#34;\n  }\n}"
    )
    for page in (f"/webhooks/{endpoint.id}", "/webhooks/"):
        body = client.get(page).get_data(as_text=True)
        assert "<summary>Payload" in body
        shown = re.search(r'data-testid="delivery-payload"[^>]*>(.*?)</pre>', body, re.DOTALL)
        assert shown.group(1) == pretty
        assert "<b>CI" not in body
    index = client.get("/webhooks/").get_data(as_text=True)
    assert f'class="endpoint-url" href="/webhooks/{endpoint.id}" title="{url}">{url}</a>' in index
