"""`flask doctor` says what is wrong in words and exits non-zero when something must be fixed."""

import pytest

from dashboard.extensions import db
from dashboard.models import Tool
from dashboard.observability.logs import configure_logging
from dashboard.tools.sync import sync_tools
from tests.conftest import REDIS_KEY_PREFIX, REDIS_SERVER, make_app, require_redis
from tests.reliability.conftest import closed_port


@pytest.fixture
def synced(app):
    sync_tools(db.session, Tool)
    db.session.commit()


def doctor(runner):
    return runner.invoke(args=["doctor"])


def test_all_good_on_a_migrated_database_with_tools_and_assets(runner, synced):
    result = doctor(runner)
    assert result.exit_code == 0, result.output
    assert "PROBLEM" not in result.output
    assert "migrations" in result.output and "at head" in result.output
    assert result.output.rstrip().endswith("All good.")


def test_tools_not_synced(runner):
    result = doctor(runner)
    assert result.exit_code == 1
    assert "not in the tools table, so not served: echo v1" in result.output
    assert "flask --app wsgi tools sync" in result.output


def test_a_database_without_migrations(tmp_path):
    result = (
        make_app(f"sqlite:///{tmp_path}/empty.sqlite").test_cli_runner().invoke(args=["doctor"])
    )
    assert result.exit_code == 1
    assert "the database has no tables yet: run `flask --app wsgi db upgrade`" in result.output


def test_an_unreachable_database_and_redis():
    app = make_app(
        f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/nothing",
        RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{closed_port()}",
    )
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1
    assert "the database does not answer (OperationalError): check DATABASE_URL" in result.output
    assert "Redis) does not answer: calls go through unlimited" in result.output
    assert "2 problem(s) to fix" in result.output


@pytest.mark.parametrize("backend", ["sqlite"])
def test_missing_front_end_assets(app, runner, synced, tmp_path):
    app.static_folder = str(tmp_path)
    result = doctor(runner)
    assert result.exit_code == 1
    assert (
        "vendor/htmx.min.js, vendor/bootstrap.min.css, vendor/plotly-basic.min.js missing"
        in result.output
    )
    assert "run `make assets`" in result.output


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    "app_overrides",
    [{"PRODUCTION": True, "SECRET_KEY": "short", "PUBLIC_URL": "http://dash.example.com"}],
)
def test_production_settings(runner, synced):
    result = doctor(runner)
    assert result.exit_code == 1
    assert "PROBLEM  SECRET_KEY" in result.output and "shorter than 32 characters" in result.output
    assert "WARNING  PUBLIC_URL" in result.output and "plain http" in result.output
    assert "WARNING  rate limits" in result.output
    assert "a key gets its limit once per worker" in result.output


PRODUCTION_DEFAULTS = {
    "PRODUCTION": True,
    "SECRET_KEY": "x" * 32,
    "PUBLIC_URL": "https://dash.example.com",
    "QUEUE_URL": "",
    "TOOL_ISOLATION": True,
    "LOG_FORMAT": "json",
    "SESSION_COOKIE_SECURE": True,
}


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("app_overrides", [PRODUCTION_DEFAULTS])
def test_production_left_at_development_defaults_is_not_all_good(runner, synced, text_logs_after):
    """Issue 26 #15: no MAIL_SERVER and no QUEUE_URL once said "All good."."""
    result = doctor(runner)
    assert result.exit_code == 0, result.output  # it runs: warnings, not problems
    assert "All good." not in result.output
    for subject, words in [
        ("DATABASE_URL", "SQLite (the development default)"),
        ("rate limits", "RATELIMIT_STORAGE_URI=redis://"),
        ("QUEUE_URL", "jobs in a SQLite file (instance/jobs.sqlite, the development default)"),
        ("MAIL_SERVER", "not set: sign-up confirmations, password resets and alerts are not sent"),
        ("MAIL_FROM", "the development default"),
    ]:
        line = next(line for line in result.output.splitlines() if f"WARNING  {subject} " in line)
        assert words in line, line
    assert "5 warning(s): it runs, but not as production should" in result.output


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    "app_overrides",
    [
        {
            **PRODUCTION_DEFAULTS,
            "QUEUE_URL": "memory://",
            "TOOL_ISOLATION": False,
            "LOG_FORMAT": "text",
            "SESSION_COOKIE_SECURE": False,
            "WEBHOOK_ALLOW_PRIVATE": True,
        }
    ],
)
def test_production_flags_turned_off_by_hand(runner, synced, text_logs_after):
    output = doctor(runner).output
    assert "`flask worker` never sees them" in output
    for subject in (
        "TOOL_ISOLATION",
        "LOG_FORMAT",
        "SESSION_COOKIE_SECURE",
        "WEBHOOK_ALLOW_PRIVATE",
    ):
        assert f"WARNING  {subject} " in output, output


@pytest.fixture
def text_logs_after():
    yield
    configure_logging("text", "INFO")  # LOG_FORMAT=json apps switch the root handler


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.parametrize(
    "app_overrides",
    [
        {
            **PRODUCTION_DEFAULTS,
            "RATELIMIT_STORAGE_URI": REDIS_SERVER,
            "QUEUE_URL": REDIS_SERVER,
            "QUEUE_NAME": f"{REDIS_KEY_PREFIX}-doctor",
            "MAIL_SERVER": "smtp.example.com",
            "MAIL_FROM": "Toolbox <no-reply@example.com>",
        }
    ],
)
def test_production_with_every_setting_is_all_good(runner, synced, text_logs_after):
    require_redis()
    result = doctor(runner)
    assert result.exit_code == 0, result.output
    assert "WARNING" not in result.output and "PROBLEM" not in result.output
    assert "queue" in result.output and "Redis answers" in result.output
    assert result.output.rstrip().endswith("All good.")


def test_an_unreachable_queue(migrated_urls):
    app = make_app(migrated_urls("sqlite"), QUEUE_URL=f"redis://127.0.0.1:{closed_port()}")
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1
    assert "PROBLEM  queue" in result.output
    assert "Redis does not answer (ConnectionError): check QUEUE_URL" in result.output
