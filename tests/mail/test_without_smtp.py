"""Mail without MAIL_SERVER: development prints it and keeps it in the outbox file; production
sends nothing and logs one JSON line with the recipient and subject, never the body or its link."""

import json
import re

import pytest

from dashboard.mail import send_email
from dashboard.observability.logs import configure_logging
from tests.auth.test_email_links import signup

VERIFY_LINK = re.compile(r"/verify/[^\s\"]+")


@pytest.fixture
def text_logs_after():
    yield
    configure_logging("text", "INFO")  # as the other tests' apps leave it


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("app_overrides", [{"PRODUCTION": True, "LOG_FORMAT": "json"}])
def test_production_logs_one_json_line_without_the_link(client, capsys, text_logs_after):
    capsys.readouterr()
    assert signup(client, "newcomer@example.com").status_code == 303
    err = capsys.readouterr().err
    assert not VERIFY_LINK.search(err), err
    assert all(line.startswith("{") for line in err.splitlines() if line.strip()), err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    mail = [line for line in lines if line["logger"] == "dashboard.mail"]
    assert len(mail) == 1, lines
    assert mail[0]["level"] == "WARNING"
    assert mail[0]["message"] == "Email not sent: MAIL_SERVER is not set"
    assert mail[0]["mail_to"] == "newcomer@example.com"
    assert "confirm" in mail[0]["mail_subject"].lower()


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("app_overrides", [{"PRODUCTION": True}])
def test_production_keeps_no_outbox_file(app, tmp_path, capsys):
    app.config["MAIL_OUTBOX_FILE"] = str(tmp_path / "outbox.txt")
    send_email("x@example.com", "Reset your password", "http://localhost/password/reset/abc")
    assert not (tmp_path / "outbox.txt").exists()
    assert "/password/reset/abc" not in capsys.readouterr().err


@pytest.mark.parametrize("backend", ["sqlite"])
def test_development_prints_and_keeps_the_whole_message(app, tmp_path, capsys):
    app.config["MAIL_OUTBOX_FILE"] = str(tmp_path / "outbox.txt")
    send_email("x@example.com", "Reset your password", "http://localhost/password/reset/abc")
    assert "http://localhost/password/reset/abc" in capsys.readouterr().err
    kept = (tmp_path / "outbox.txt").read_text()
    assert "To: x@example.com" in kept and "http://localhost/password/reset/abc" in kept
