"""The code samples of the tool pages, copied from the page as a reader would and run against
a live server with a real key: curl, Python requests, JavaScript fetch (Node) and the client
openapi-python-client generates. Each must print the output the tool gives for its example."""

import ast
import html
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.portal.docs import public_tools
from tests.conftest import require

pytestmark = pytest.mark.slow

SAMPLE = re.compile(r'<code id="sample-(\w+)"[^>]*>(.*?)</code>', re.S)
PUBLIC_URL = "http://localhost"  # TestConfig's PUBLIC_URL, which the samples are written for


@pytest.fixture
def key_env(make_user) -> dict:
    """The environment a reader runs the samples in: TOOLBOX_API_KEY set to a Pro key."""
    owner = make_user(plan="pro")
    secret = create_key(owner, "samples", rate_limit_per_minute=1000)[1]
    db.session.commit()
    return {**os.environ, "TOOLBOX_API_KEY": secret}


def samples_on(client, path: str, server: str) -> dict[str, str]:
    """{sample id: code} as the page shows them, pointed at the live server."""
    page = client.get(path).get_data(as_text=True)
    return {
        name: html.unescape(code).replace(PUBLIC_URL, server) for name, code in SAMPLE.findall(page)
    }


def run(command: list[str], env: dict, cwd=None) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def builtin_versions():
    return [tool for entry in public_tools() for tool in entry.versions if tool.kind == "builtin"]


def test_curl_and_requests_samples_of_every_tool_work_as_written(client, http_server, key_env):
    require(shutil.which("curl") is not None, "curl is not installed")
    tools = [tool for tool in builtin_versions() if tool.name != "broken_example"]
    assert len(tools) >= 7
    for tool in tools:
        samples = samples_on(client, f"/docs/tools/{tool.name}/{tool.version}", http_server)
        expected = tool.run(tool.example_input)
        answer = json.loads(run(["bash", "-c", samples["curl"]], key_env))
        assert answer["output"] == expected, (tool.name, tool.version, answer)
        printed = run([sys.executable, "-c", samples["python"]], key_env)
        assert ast.literal_eval(printed) == expected, (tool.name, tool.version)


def test_the_javascript_sample_works_in_node(client, http_server, key_env):
    require(shutil.which("node") is not None, "node is not installed")
    samples = samples_on(client, "/docs/tools/sentiment/v2", http_server)
    printed = run(["node", "--input-type=module", "-e", samples["javascript"]], key_env)
    assert "compound" in printed


def test_the_generated_client_sample_works(client, http_server, key_env, tmp_path):
    """The sample's three commented commands make the client; its code then runs as written."""
    generator = shutil.which("openapi-python-client") or os.path.join(
        os.path.dirname(sys.executable), "openapi-python-client"
    )
    require(os.path.exists(generator), "openapi-python-client is not installed")
    code = samples_on(client, "/docs/tools/echo/v1", http_server)["client"]
    commands = [line.removeprefix("# ") for line in code.splitlines()[:3]]
    assert commands[0] == "pip install openapi-python-client"
    assert commands[2] == "pip install ./tools-api-client"
    generate = commands[1].split()
    assert generate[:3] == ["openapi-python-client", "generate", "--url"]
    run([generator, *generate[1:]], key_env, cwd=tmp_path)
    env = {**key_env, "PYTHONPATH": str(tmp_path / "tools-api-client")}
    printed = run([sys.executable, "-c", code], env)
    assert printed.startswith("EchoV1Output(") and "echo=" in printed


def test_the_quickstarts_commands_make_a_call_and_find_it_counted(client, http_server, key_env):
    require(shutil.which("curl") is not None, "curl is not installed")
    page = html.unescape(client.get("/quickstart").get_data(as_text=True))
    steps = dict(re.findall(r'<code id="step-(\w+)">(.*?)</code>', page, re.S))
    assert steps["key"] == "export TOOLBOX_API_KEY=tk_live_…"
    call, usage = (
        json.loads(run(["bash", "-c", steps[step].replace(PUBLIC_URL, http_server)], key_env))
        for step in ("call", "usage")
    )
    assert call["tool"] == "echo" and call["request_id"]
    assert usage["calls"] == 1
