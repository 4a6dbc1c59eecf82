"""The API contract: Schemathesis with ALL of its checks and its stateful phase, against the
document the server publishes, through gunicorn on PostgreSQL: once over the tool routes with an
API key, once over the management routes with a root key of every scope. (A client generated
from that document is used against a live server in tests/api/test_generated_client.py.)"""

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from dashboard.auth.service import create_user
from dashboard.extensions import db
from dashboard.keys.root import SCOPES, create_root_key
from dashboard.keys.service import create_key
from dashboard.models import Tool
from dashboard.tools.registry import all_tools
from dashboard.tools.sync import sync_tools
from tests.conftest import PASSWORD, make_app, upgrade_to_head
from tests.reliability.conftest import ROOT, Gunicorn, require_gunicorn

pytestmark = pytest.mark.slow


# What each run walks, and with which secret of `served`.
RUNS = {
    # The tool routes with an API key. The management routes take a root key (401 here) and
    # have their own run below; leak reports are signed by a scanner's key instead
    # (tests/api/test_leaks.py signs them with a key pair it makes).
    "tools": ("api_key", ["--exclude-tag", "management", "--exclude-tag", "leaks"]),
    # The management routes with a root key holding every scope: creates, gets, updates, rolls
    # and expires keys (the stateful phase follows the document's links from a create). Its
    # hooks (contract_hooks.py) make a valid request what a real client sends where the
    # document cannot say so (a unique Idempotency-Key, no made-up cursor, served tools, real
    # networks, an expiry in the future); every check stays on.
    "management": ("root_key", ["--include-tag", "management"]),
}
HOOKS = {"management": Path(__file__).with_name("contract_hooks.py")}


@pytest.fixture(scope="module")
def served(databases, tmp_path_factory):
    """(gunicorn, {"api_key": a Scale-plan key with room for every generated call, "root_key":
    a root key of the same account with every scope}) on PostgreSQL."""
    require_gunicorn()
    url = databases.create("postgresql")
    upgrade_to_head(url)
    app = make_app(url)
    with app.app_context():
        sync_tools(db.session, Tool)
        user = create_user(f"contract-{uuid.uuid4().hex[:8]}@example.com", PASSWORD, plan="scale")
        _, secret = create_key(user, "contract", rate_limit_per_minute=10_000)
        _, root_secret = create_root_key(user, user, "contract", list(SCOPES))
    env = {
        "DATABASE_URL": url,
        "SECRET_KEY": "contract-test-secret",
        "DATABASE_POOL_SIZE": "4",
        "MANAGEMENT_RATE_LIMIT_PER_MINUTE": "100000",
    }
    gunicorn = Gunicorn(env, 2, tmp_path_factory.mktemp("gunicorn"))
    try:
        gunicorn.wait_until_ready()
        yield gunicorn, {"api_key": secret, "root_key": root_secret}
    finally:
        gunicorn.stop()
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("walked", list(RUNS))
def test_schemathesis_finds_nothing_with_all_checks_and_the_stateful_phase(
    served, tmp_path, walked
):
    gunicorn, secrets = served
    secret_name, selection = RUNS[walked]
    command = [
        str(ROOT / ".venv" / "bin" / "schemathesis"),
        "run",
        f"{gunicorn.base_url}/api/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--header",
        f"Authorization: Bearer {secrets[secret_name]}",
        "--max-examples",
        "15",
        "--workers",
        "1",
        "--suppress-health-check",
        "all",
        # The document forbids NUL in every string and property name (StorableValue), but the
        # generator does not apply that rule inside recursive references: without this flag it
        # sends NUL there and counts the documented 400 as a failure.
        "--generation-allow-x00",
        "false",
        "--no-color",
        *selection,
    ]
    if not (ROOT / ".venv" / "bin" / "schemathesis").exists():
        command[0] = shutil.which("schemathesis") or "schemathesis"
    env = dict(os.environ)
    if walked in HOOKS:
        env["SCHEMATHESIS_HOOKS"] = str(HOOKS[walked])
        env["CONTRACT_TOOLS"] = ",".join(sorted({tool.name for tool in all_tools()}))
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env, check=False
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert "No issues found" in output
    assert "✅ Stateful" in output  # the stateful phase ran (links: calls to usage, create to get)
