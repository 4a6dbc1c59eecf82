"""The events alerts raise: their types, their webhook body and their email."""

from datetime import datetime

from blinker import signal

from dashboard.models import utcnow

# Sent once per alert raised (sender: the account's id; event_type, data, at). Webhooks connect
# to it, so alerts need not know who else hears of an alert: webhooks build on alerts.
alert_raised = signal("alert-raised")

# Subscribable event types, in the order the pages list them.
EVENT_TYPES = {
    "quota.threshold_reached": "Monthly quota reached 50%, 80% or 100%",
    "error_rate.high": "Error rate of the last 15 minutes above your threshold",
    "key.expiring": "An API key expires within 7 days",
    "key.new_ip": "A watched API key was used from a new IP",
    "key.leaked": "A secret scanner found one of your keys in public",
    "key.created": "An API key was created",
    "key.rolled": "An API key was rolled (replaced by a new one)",
    "key.expired": "An API key expired (expired now, or reached its expiry date)",
    "key.deleted": "An API key was deleted",
    "key.quota_reached": "An API key reached its own monthly call cap",
}
# Key lifecycle events (dashboard/alerts/key_events.py): always recorded and sent to the
# endpoints that subscribe; of them only KEY_EVENTS_EMAILED go by email (when email is on).
KEY_EVENTS = ("key.created", "key.rolled", "key.expired", "key.deleted", "key.quota_reached")
KEY_EVENTS_EMAILED = ("key.quota_reached",)
TEST_EVENT = "webhook.test"
ENDPOINT_DISABLED_EVENT = "webhook.endpoint_disabled"  # email only


def iso_z(moment: datetime) -> str:
    """`2026-12-03T20:15:00.123Z`: the timestamp format of event bodies."""
    return moment.isoformat(timespec="milliseconds") + "Z"


def event_body(event_type: str, data: dict, at: datetime | None = None) -> dict:
    """The JSON a webhook receives: Standard Webhooks' {type, timestamp, data}."""
    return {"type": event_type, "timestamp": iso_z(at or utcnow()), "data": data}


def email_for(event_type: str, data: dict) -> tuple[str, str]:
    """Subject and text of the alert email for an event."""
    if event_type == "quota.threshold_reached":
        subject = f"You have used {data['threshold']}% of this month's calls"
        text = (
            f"Your account has made {data['calls']:,} of its {data['quota']:,} calls for "
            f"{data['month']} ({data['threshold']}% of the {data['plan']} plan's quota)."
        )
        if data["threshold"] >= 100:
            text += " Further calls are refused with quota_exceeded until the month ends."
    elif event_type == "error_rate.high":
        subject = f"{data['error_percent']}% of your calls failed in the last 15 minutes"
        text = (
            f"{data['errors']:,} of {data['calls']:,} calls in the last {data['window_minutes']}"
            f" minutes failed, above your alert threshold of {data['threshold_percent']}%."
        )
    elif event_type == "key.expiring":
        subject = f"API key {data['key_name'] or data['key_prefix']} expires soon"
        text = (
            f"The API key {data['key_name']!r} ({data['key_prefix']}…) expires at "
            f"{data['expires_at']}. Roll it on the API keys page before then."
        )
    elif event_type == "key.new_ip":
        subject = f"API key {data['key_name'] or data['key_prefix']} used from a new IP"
        text = (
            f"The API key {data['key_name']!r} ({data['key_prefix']}…) was used from "
            f"{data['ip']} at {data['seen_at']}, an address never seen for it before. If this "
            "was not you, expire the key on the API keys page."
        )
    elif event_type == "key.leaked":
        kind = "root key" if data["key_kind"] == "root" else "API key"
        subject = f"Your {kind} {data['key_name'] or data['key_prefix']} was found in public"
        if data["action"] == "expired":
            done = "We expired it: calls with it are refused from now on. Make a new key"
        else:
            done = (
                "It still works, as your account's settings ask: roll or expire it now on the "
                "dashboard"
            )
        text = (
            f"{data['source'] or 'A secret scanner'} reported the {kind} {data['key_name']!r} "
            f"({data['key_prefix']}…) at {data['url'] or 'an unnamed place'}. Anyone who saw "
            f"it there can use it. {done}, and remove the secret from where it was published."
        )
    elif event_type == "key.quota_reached":
        key = data["key"]
        subject = f"API key {key['name'] or key['prefix']} reached its monthly cap"
        text = (
            f"The API key {key['name']!r} ({key['prefix']}…) has made the {data['cap']:,} calls "
            f"its cap allows for {data['month']}. Further calls with it are refused until the "
            "month ends or its cap is raised on the API keys page; other keys are not affected."
        )
    elif event_type == "tool.deprecated":
        subject = f"{data['tool']} {data['version']} is deprecated"
        text = (
            f"Your API keys called {data['tool']} {data['version']} in the last 30 days. That "
            f"version was deprecated on {data['deprecated_on']}"
        )
        if data["sunset_on"]:
            text += (
                f" and is retired on {data['sunset_on']}: from then on its calls are refused "
                "with 410 tool_version_retired"
            )
        if data["replacement"]:
            text += f". Move your calls to {data['tool']} {data['replacement']}"
        text += f". What changed: {data['changelog_url']}"
        text += ". We send this notice once."
    elif event_type == ENDPOINT_DISABLED_EVENT:
        subject = "A webhook endpoint was disabled"
        text = (
            f"Deliveries to {data['url']} kept failing ({data['failures']} attempts in a row, "
            f"last: {data['reason']}), so the endpoint was disabled. Fix it and enable it again "
            "on the Webhooks page."
        )
    else:
        subject, text = f"Toolbox alert: {event_type}", str(data)
    return subject, text + "\n\nAlert settings: the Alerts page of your Toolbox dashboard.\n"
