"""Modules that other programs import first (gunicorn and granian load `bench.minimal`, the tool
pool's fork server loads the tools, jobs load metering) import on their own, in a fresh
interpreter: no circular import hides behind the app factory's import order."""

import subprocess
import sys
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
