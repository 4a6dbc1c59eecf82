"""Modules that other programs import first (gunicorn and granian load `bench.minimal`, the tool
pool's fork server loads the tools, jobs load metering) import on their own, in a fresh
interpreter: no circular import hides behind the app factory's import order."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "module",
    [
        "wsgi",  # what gunicorn and `flask --app wsgi` load first
        "dashboard.auth.two_factor",
        "dashboard.auth.routes",
        "dashboard.stamps",
        "dashboard.support.service",
        "dashboard.webhooks.tasks",
        "dashboard.api.metering",
        "dashboard.api.gateway",
        "dashboard.alerts.service",
        "dashboard.tools.pool",
        "dashboard.tools.warmed",
    ],
)
def test_module_imports_first(module):
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_every_package_has_a_layer_and_no_arrow_is_excused():
    """import-linter checks only the modules its layers name: a new package of dashboard/ left
    out of them could import anything. And no upward import is listed as an exception."""
    linter = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in linter["contracts"] if c["type"] == "layers")
    in_layers = {name.strip() for layer in layers["layers"] for name in layer.split(":")}
    packages = {
        f"dashboard.{path.stem}"
        for path in (ROOT / "dashboard").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").exists()
    }
    assert in_layers == packages
    assert not any(contract.get("ignore_imports") for contract in linter["contracts"])


def test_the_api_uses_the_inbox_and_webhooks_services_without_their_pages():
    """The API app's error groups and webhook endpoints import the services the pages use; the
    packages' __init__ import no page, so neither page comes along."""
    probe = (
        "import sys, dashboard.api.management_hooks; "
        "pages = ('dashboard.inbox.routes', 'dashboard.webhooks.routes', "
        "'dashboard.webhooks.forms'); "
        "print([page for page in pages if page in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
