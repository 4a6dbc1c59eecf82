"""`flask doctor` says what is wrong in words and exits non-zero when something must be fixed."""

import pytest

from dashboard.extensions import db
from dashboard.models import Tool
from dashboard.tools.sync import sync_tools
from tests.conftest import make_app
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
