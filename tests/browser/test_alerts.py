"""The Alerts and Webhooks pages in Chromium: settings saved in place, an endpoint added with its
secret shown once, the delivery log; desktop and phone, light and dark."""

import itertools
import re
from datetime import timedelta

from playwright.sync_api import Page, expect

from dashboard.extensions import db
from dashboard.models import User, WebhookDelivery, WebhookEndpoint, utcnow
from tests.browser import people

_n = itertools.count()
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


def four_ways(page: Page, screenshot, name: str) -> None:
    """Screenshots at desktop and phone width, light and dark (under test-results/)."""
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        expect(page.locator("html")).to_have_attribute("data-bs-theme", scheme)
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            screenshot(f"{name}-{label}-{scheme}")
    page.set_viewport_size(DESKTOP)
    page.emulate_media(color_scheme="light")


def sign_up(page: Page) -> str:
    return people.sign_up(page, f"alerts{next(_n)}-{id(_n)}@example.com")


def test_alert_settings_save_in_place(page: Page, screenshot):
    sign_up(page)
    page.get_by_role("link", name="Alerts").click()
    expect(page.get_by_role("heading", name="Alerts", level=1)).to_be_visible()
    page.get_by_label("Monthly quota reaches 50%, 80% and 100%").check()
    page.get_by_label("Error rate threshold (%)").fill("0")
    page.get_by_role("button", name="Save alert settings").click()
    expect(page.get_by_text("Between 1 and 100 percent.")).to_be_visible()
    page.get_by_label("Error rate threshold (%)").fill("15")
    page.get_by_label("Error rate of the last 15 minutes goes above").check()
    page.get_by_role("button", name="Save alert settings").click()
    expect(page.get_by_text("Alert settings saved.")).to_be_visible()
    expect(page.get_by_label("Error rate threshold (%)")).to_have_value("15")
    page.reload()
    expect(page.get_by_label("Monthly quota reaches 50%, 80% and 100%")).to_be_checked()
    four_ways(page, screenshot, "alerts")


def test_add_endpoint_secret_once_and_delivery_log(page: Page, screenshot, live_app):
    email = sign_up(page)
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_text("No endpoints yet.")).to_be_visible()
    page.get_by_label("Endpoint URL").fill("http://10.1.2.3/hook")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_text("private, loopback or link-local")).to_be_visible()
    four_ways(page, screenshot, "webhooks-errors")

    page.get_by_label("Endpoint URL").fill("https://hooks.example.com/toolbox")
    page.get_by_label("Description (optional)").fill("Ops channel")
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.get_by_test_id("webhook-secret")
    expect(secret).to_contain_text(re.compile(r"whsec_[A-Za-z0-9+/=]{32}"))
    add_deliveries(live_app, email)
    page.reload()
    expect(page.get_by_test_id("webhook-secret")).to_have_count(0)
    expect(page.locator("tr[data-status=failed]")).to_have_count(1)
    four_ways(page, screenshot, "webhook-endpoint")

    page.get_by_role("button", name="Send test event").click()
    expect(page.get_by_text("Test event queued.")).to_be_visible()
    expect(page.locator("tr[data-status=pending]")).to_have_count(1)
    page.get_by_role("link", name="← Webhooks").click()
    expect(page.get_by_text("https://hooks.example.com/toolbox").first).to_be_visible()
    four_ways(page, screenshot, "webhooks")


def add_deliveries(app, email: str) -> None:
    """A delivery log as the worker leaves it: a success, a retry, a failure."""
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == email))
        endpoint = db.session.scalar(
            db.select(WebhookEndpoint).where(WebhookEndpoint.user_id == user.id)
        )
        now = utcnow()
        rows = [
            ("succeeded", 1, 200, None, '{"ok":true}', 84),
            ("retrying", 2, 503, "The endpoint answered HTTP 503.", "Service Unavailable", 212),
            ("failed", 1, None, "No answer within 5 s (timed out).", None, 5003),
        ]
        for minutes, (status, attempts, code, error, excerpt, ms) in enumerate(rows):
            db.session.add(
                WebhookDelivery(
                    endpoint_id=endpoint.id,
                    user_id=user.id,
                    message_id=f"msg_{minutes}",
                    event_type="quota.threshold_reached",
                    payload={},
                    status=status,
                    attempts=attempts,
                    response_status=code,
                    response_excerpt=excerpt,
                    latency_ms=ms,
                    error=error,
                    created_at=now - timedelta(minutes=10 * minutes),
                    next_attempt_at=now + timedelta(minutes=2) if status == "retrying" else None,
                )
            )
        db.session.commit()
