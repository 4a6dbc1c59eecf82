"""One list of error codes: the answers, the OpenAPI document and the API page agree."""

import re
from pathlib import Path

from dashboard.api.codes import ErrorCode
from tests.api.conftest import error_code

API_PAGE = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def readme_error_table() -> dict[int, set[str]]:
    """The API page's error table (docs/api.md): status -> the codes its row names."""
    table: dict[int, set[str]] = {}
    for line in API_PAGE.read_text().splitlines():
        row = re.match(r"^\| (\d{3}) \| (.+) \|$", line)
        if row:
            table[int(row.group(1))] = set(re.findall(r"`([a-z_]+)`", row.group(2)))
    return table


def test_the_readme_error_table_lists_every_code_under_its_status():
    table = readme_error_table()
    assert table, "no error table found in docs/api.md"
    for code in ErrorCode:
        assert str(code) in table.get(code.status, set()), f"{code} missing under {code.status}"
    named = set().union(*table.values())
    fields = {"errors", "path", "message", "limit"}  # the 422 answers' own fields, not codes
    assert named - fields == {str(code) for code in ErrorCode}


def test_every_documented_code_is_an_error_code(api):
    document = api.get("/api/openapi.json").get_json()
    listed = set()
    for operations in document["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                for part in response["content"]["application/json"]["schema"].get("allOf", []):
                    enum = part.get("properties", {}).get("error", {}).get("properties", {})
                    for code in enum.get("code", {}).get("enum", []):
                        assert ErrorCode(code).status == int(status), (code, status)
                        listed.add(code)
    assert {"invalid_input", "quota_exceeded", "tool_error", "invalid_month"} <= listed


def test_unknown_paths_and_methods_answer_json_with_allow(client):
    missing = client.get("/api/v1/nothing-here")
    assert (missing.status_code, error_code(missing)) == (404, "not_found")
    slash = client.post("/api/v1/tools/%2F0", json={})
    assert (slash.status_code, error_code(slash)) == (404, "not_found")
    wrong = client.delete("/api/v1/tools")
    assert (wrong.status_code, error_code(wrong)) == (405, "method_not_allowed")
    assert set(wrong.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}
    assert "Set-Cookie" not in wrong.headers
