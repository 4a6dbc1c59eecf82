"""Code samples of a tool call, generated from its example input: curl, Python (requests and
the client openapi-python-client generates from the API's document) and JavaScript (fetch).

Every sample reads the key from the TOOLBOX_API_KEY environment variable, so that it can be
copied and run as it is once the variable is set.
"""

import json
import pprint
from dataclasses import dataclass

from dashboard.api.openapi import schema_name
from dashboard.tools.registry import ToolVersion
from dashboard.tools.service import curl_command

KEY_VARIABLE = "TOOLBOX_API_KEY"
# The package openapi-python-client makes from the document (see README, "Manage keys by code").
CLIENT_PACKAGE = "tools_api_client"


@dataclass(frozen=True)
class Sample:
    """One sample: an id for the page's tabs and copy buttons, its label and language."""

    id: str
    label: str
    language: str
    code: str


def samples_for(tool: ToolVersion, url: str, api_url: str) -> list[Sample]:
    """The four samples that call `url` (this version's endpoint) with the example input;
    `api_url` is the server the generated client is given."""
    return [
        Sample("curl", "curl", "sh", curl_sample(tool, url)),
        Sample("python", "Python (requests)", "python", requests_sample(tool, url)),
        Sample("client", "Python (generated client)", "python", client_sample(tool, api_url)),
        Sample("javascript", "JavaScript (fetch)", "javascript", fetch_sample(tool, url)),
    ]


def curl_sample(tool: ToolVersion, url: str) -> str:
    body = json.dumps(tool.example_input, ensure_ascii=False)
    return curl_command(url, body)


def python_literal(value: dict, indent: int) -> str:
    """`value` as a Python literal, its continuation lines indented by `indent` spaces."""
    text = pprint.pformat(value, indent=1, width=88 - indent, sort_dicts=False)
    return text.replace("\n", "\n" + " " * indent)


def requests_sample(tool: ToolVersion, url: str) -> str:
    return (
        "import os\n\n"
        "import requests\n\n"
        "answer = requests.post(\n"
        f"    {url!r},\n"
        f'    headers={{"Authorization": f"Bearer {{os.environ[{KEY_VARIABLE!r}]}}"}},\n'
        f"    json={python_literal(tool.example_input, 4)},\n"
        "    timeout=30,\n"
        ")\n"
        "answer.raise_for_status()\n"
        'print(answer.json()["output"])\n'
    )


def client_sample(tool: ToolVersion, api_url: str) -> str:
    operation = f"call_{tool.name}_{tool.version}"
    model = schema_name(tool, "Input")
    return (
        "# pip install openapi-python-client\n"
        f"# openapi-python-client generate --url {api_url}/api/openapi.json\n"
        "# pip install ./tools-api-client\n"
        "import os\n\n"
        f"from {CLIENT_PACKAGE} import AuthenticatedClient\n"
        f"from {CLIENT_PACKAGE}.api.tools import {operation}\n"
        f"from {CLIENT_PACKAGE}.models import {model}\n\n"
        f"client = AuthenticatedClient(base_url={api_url!r}, token=os.environ[{KEY_VARIABLE!r}])\n"
        f"body = {model}.from_dict({python_literal(tool.example_input, 0)})\n"
        f"answer = {operation}.sync(client=client, body=body)\n"
        "print(answer.output)\n"
    )


def fetch_sample(tool: ToolVersion, url: str) -> str:
    body = json.dumps(tool.example_input, indent=2, ensure_ascii=False).replace("\n", "\n  ")
    return (
        f"const response = await fetch({json.dumps(url)}, {{\n"
        '  method: "POST",\n'
        "  headers: {\n"
        f"    Authorization: `Bearer ${{process.env.{KEY_VARIABLE}}}`,\n"
        '    "Content-Type": "application/json",\n'
        "  },\n"
        f"  body: JSON.stringify({body}),\n"
        "});\n"
        "const answer = await response.json();\n"
        "console.log(answer.output);\n"
    )
