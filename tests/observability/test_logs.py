"""Log lines: JSON in production, text in development, each with its request id, no secrets."""

import json
import logging

import pytest

from dashboard.auth.tokens import email_change_token, reset_token, verification_token
from dashboard.keys.secrets import hash_secret
from dashboard.observability.logs import configure_logging


@pytest.fixture
def text_logs_after():
    yield
    configure_logging("text", "INFO")  # as the other tests' apps leave it


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("app_overrides", [{"LOG_FORMAT": "json"}])
def test_json_lines_carry_the_request_id(client, secret, capsys, text_logs_after):
    capsys.readouterr()
    answer = client.post(
        "/api/v1/tools/explode", json={}, headers={"Authorization": f"Bearer {secret}"}
    )
    lines = json_lines(capsys.readouterr().err)

    request_id = answer.headers["Request-Id"]
    mine = [line for line in lines if line["request_id"] == request_id]
    failure = next(line for line in mine if line["message"].startswith("Tool explode v1 failed"))
    assert failure["level"] == "ERROR" and "RuntimeError: boom" in failure["exc_info"]
    finished = next(line for line in mine if line["logger"] == "dashboard.requests")
    assert finished["route"] == "/api/v1/tools/<name>"
    assert (finished["method"], finished["status"]) == ("POST", 500)
    assert finished["duration_ms"] > 0
    assert {"time", "level", "logger", "message"} <= set(finished)


@pytest.mark.parametrize(
    "app_overrides, logged", [({}, False), ({"LOG_METERED_CALLS": True}, True)]
)
def test_a_successful_tool_call_is_its_log_row_not_a_line(client, secret, capsys, logged):
    capsys.readouterr()
    headers = {"Authorization": f"Bearer {secret}"}
    success = client.post("/api/v1/tools/echo", json={"message": "hi"}, headers=headers)
    refused = client.post("/api/v1/tools/echo", json={"message": 1}, headers=headers)
    err = capsys.readouterr().err
    assert (success.status_code, refused.status_code) == (200, 422)
    assert (success.headers["Request-Id"] in err) is logged
    assert f"[{refused.headers['Request-Id']}] dashboard.requests: POST /v1/tools/echo 422" in err


def test_text_lines_in_development(client, capsys):
    capsys.readouterr()
    answer = client.get("/login")
    err = capsys.readouterr().err
    assert f"INFO [{answer.headers['Request-Id']}] dashboard.requests: GET /login 200" in err


def test_outside_a_request_the_id_is_a_dash(app, capsys):
    capsys.readouterr()
    logging.getLogger("dashboard.test").warning("no request here")
    assert "WARNING [-] dashboard.test: no request here" in capsys.readouterr().err


@pytest.mark.parametrize("app_overrides", [{"LOG_FORMAT": "json"}])
def test_no_secret_hash_or_payload_in_any_line(client, secret, capsys, text_logs_after):
    capsys.readouterr()
    marker = "payload-marker-7731"
    for tool, body in (("echo", {"message": marker}), ("explode", {"x": marker})):
        client.post(
            f"/api/v1/tools/{tool}",
            json=body,
            headers={"Authorization": f"Bearer {secret}"},
        )
    client.post("/api/v1/tools/echo?key=" + secret, json={"message": marker})
    err = capsys.readouterr().err
    assert json_lines(err), "nothing was logged"
    for forbidden in (secret, hash_secret(secret), marker):
        assert forbidden not in err


@pytest.mark.parametrize("app_overrides", [{"LOG_FORMAT": "json"}])
def test_no_emailed_link_token_in_any_line(client, user, capsys, caplog, text_logs_after):
    reset = reset_token(user)
    tokens = (reset, verification_token(user), email_change_token(user, "new@example.com"))
    capsys.readouterr()
    answers = [
        client.get(f"/password/reset/{reset}").status_code,
        client.post(f"/password/reset/{reset}", data={"password": "short"}).status_code,
        client.get(f"/verify/{tokens[1]}").status_code,
        client.get(f"/account/email/{tokens[2]}").status_code,
        client.get(f"/password/reset/{reset}/more").status_code,  # matches no route
    ]
    assert answers == [200, 200, 303, 303, 404]
    err = capsys.readouterr().err
    for token in tokens:
        assert token not in err and token not in caplog.text
    lines = [line for line in json_lines(err) if line["logger"] == "dashboard.requests"]
    assert [(line["path"], line["message"]) for line in lines] == [
        ("/password/reset/[redacted]", "GET /password/reset/[redacted] 200"),
        ("/password/reset/[redacted]", "POST /password/reset/[redacted] 200"),
        ("/verify/[redacted]", "GET /verify/[redacted] 303"),
        ("/account/email/[redacted]", "GET /account/email/[redacted] 303"),
        ("/password/reset/[redacted]", "GET /password/reset/[redacted] 404"),
    ]
    assert lines[0]["route"] == "/password/reset/<token>"


def test_the_job_worker_prints_each_line_once_and_not_every_scheduler_tick(app, capfd):
    from dashboard.jobs import show_logs_of

    names = ("huey", "dashboard", "huey.consumer.Scheduler")
    levels = {name: logging.getLogger(name).level for name in names}
    capfd.readouterr()
    try:
        show_logs_of("huey", "dashboard")
        logging.getLogger("huey.consumer").info("Huey consumer started with 2 thread")
        logging.getLogger("huey.consumer.Scheduler").info("Enqueueing periodic task purge.")
        logging.getLogger("dashboard.webhooks.tasks").info("delivered 1234")
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    printed = capfd.readouterr().err
    assert printed.count("Huey consumer started with 2 thread") == 1
    assert printed.count("delivered 1234") == 1
    assert "Enqueueing periodic task" not in printed
