"""The registry: lookup, ordering, validation messages and token counting."""

import json
import math

import pytest
from jsonschema import Draft202012Validator

from dashboard.tools.registry import (
    TOOLS,
    ToolVersion,
    all_tools,
    count_tokens,
    find_tool,
    latest_versions,
    validation_errors,
)
from dashboard.tools.tool import object_schema

EXPECTED = {
    ("echo", "v1"),
    ("json_validate", "v1"),
    ("keywords", "v1"),
    ("language", "v1"),
    ("markdown", "v1"),
    ("readability", "v1"),
    ("sentiment", "v1"),
    ("sentiment", "v2"),
    ("slugify", "v1"),  # the example plugin (examples/plugin/), installed by make dev-deps
}


def make_tool(version: str) -> ToolVersion:
    """A throwaway tool version for ordering tests."""
    return ToolVersion(
        name="demo",
        version=version,
        title="Demo",
        description="Demo.",
        input_schema=object_schema({}, required=[]),
        output_schema=object_schema({}, required=[]),
        example_input={},
        run=lambda payload: {},
    )


def test_registry_holds_the_builtin_tools():
    assert {(tool.name, tool.version) for tool in all_tools()} == EXPECTED


def test_all_tools_sorted_by_name_then_version_number(monkeypatch):
    demo = {v: make_tool(v) for v in ("v10", "v2", "v9", "v1")}
    monkeypatch.setitem(TOOLS, "demo", demo)
    names = [(tool.name, tool.version) for tool in all_tools()]
    assert names == sorted(names, key=lambda pair: (pair[0], int(pair[1][1:])))
    demo_versions = [version for name, version in names if name == "demo"]
    assert demo_versions == ["v1", "v2", "v9", "v10"]
    assert find_tool("demo").version == "v10"


def test_find_tool_newest_exact_and_missing():
    assert find_tool("sentiment").version == "v2"
    assert find_tool("sentiment", "v1").version == "v1"
    assert find_tool("sentiment", "v9") is None
    assert find_tool("nope") is None
    assert find_tool("nope", "v1") is None


def test_latest_versions_one_per_tool():
    latest = latest_versions()
    assert [tool.name for tool in latest] == sorted({name for name, _ in EXPECTED})
    assert find_tool("sentiment", "v2") in latest


@pytest.mark.parametrize("tool", all_tools(), ids=lambda tool: f"{tool.name}-{tool.version}")
def test_schemas_are_closed_bounded_and_2020_12(tool):
    schema = tool.input_schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    for prop in schema["properties"].values():
        if prop.get("type") == "string" and "pattern" not in prop:
            assert prop["maxLength"] <= 20_000
    assert isinstance(tool.validator, Draft202012Validator)
    assert tool.endpoint_path == f"/api/v1/tools/{tool.name}/{tool.version}"
    assert tool.description and tool.title


def test_validator_compiled_once_per_tool():
    tool = find_tool("echo")
    assert tool.validator is tool.validator
    assert validation_errors(tool, {"message": "hi"}) == []


def test_validation_errors_paths_sorted():
    tool = find_tool("keywords")
    errors = validation_errors(
        tool, {"text": "", "max_keywords": 0, "language": "english", "extra": 1}
    )
    assert [error["path"] for error in errors] == ["", "/language", "/max_keywords", "/text"]
    assert "extra" in errors[0]["message"]


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({}, ""),
        ([], ""),
        ("text", ""),
        (None, ""),
        ({"text": 5}, "/text"),
        ({"text": "x" * 20_001}, "/text"),
    ],
)
def test_sentiment_rejections(payload, path):
    errors = validation_errors(find_tool("sentiment"), payload)
    assert [error["path"] for error in errors] == [path]


def test_long_values_are_not_echoed_in_messages():
    errors = validation_errors(find_tool("sentiment"), {"text": "x" * 20_001})
    assert errors == [{"path": "/text", "message": "is longer than 20000 characters"}]


def test_json_pointer_escapes_slash_and_tilde():
    errors = validation_errors(find_tool("echo"), {"a/b~c": 1, "message": "m"})
    assert errors[0]["path"] == ""
    errors = validation_errors(find_tool("echo"), {"message": ["x"]})
    assert errors[0]["path"] == "/message"


def test_validation_errors_survive_huge_and_deep_values():
    tool = find_tool("sentiment")
    deep: list = []
    for _ in range(5_000):
        deep = [deep]
    for payload in ({"text": 10**5000}, {"text": deep}, 10**5000, {"text": "a\x00b"}):
        errors = validation_errors(tool, payload)
        assert isinstance(errors, list)
    assert validation_errors(tool, {"text": "a\x00b"}) == []


def test_count_tokens_hand_computed():
    # {"text":"héllo"} is 16 bytes (é is 2), {"label":"ok"} is 14 bytes: ceil(30 / 4) = 8.
    assert count_tokens({"text": "héllo"}, {"label": "ok"}) == 8
    assert count_tokens({}, {}) == 1  # "{}{}" is 4 bytes, and the minimum is 1 anyway
    assert count_tokens({"b": 1, "a": 2}, {}) == count_tokens({"a": 2, "b": 1}, {})


def test_count_tokens_matches_the_documented_rule():
    payload, output = {"text": "😀 naïve \ud800"}, {"z": [1, 2.5, None], "a": True}
    size = sum(
        len(
            json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode(
                "utf-8", "surrogatepass"
            )
        )
        for value in (payload, output)
    )
    assert count_tokens(payload, output) == math.ceil(size / 4)
