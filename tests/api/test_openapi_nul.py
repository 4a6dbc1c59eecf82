"""The published input schemas say what the gateway refuses: no \\u0000 in any string or
property name (400 invalid_json), also in strings with a pattern of their own and in schemas
that keep their own references (Schemathesis found both allowing it)."""

from jsonschema import Draft202012Validator

from dashboard.api.openapi import NOT_NUL, storable_input
from dashboard.tools.tool import ToolVersion


def tool(input_schema: dict) -> ToolVersion:
    return ToolVersion(
        name="nul",
        version="v1",
        title="NUL",
        description="",
        input_schema=input_schema,
        output_schema={"type": "object"},
        example_input={},
        run=lambda payload: payload,
    )


def test_a_string_with_its_own_pattern_refuses_nul_besides():
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^[a-z]+"}}}
    code = storable_input(tool(schema), schema)["properties"]["code"]
    assert code["pattern"] == "^[a-z]+"
    assert code["allOf"] == [{"pattern": NOT_NUL}]
    validator = Draft202012Validator(code)
    assert validator.is_valid("abc")
    assert not validator.is_valid("abc\u0000")


def test_a_schema_with_its_own_references_refuses_nul_in_strings_and_names():
    schema = {
        "type": "object",
        "properties": {"item": {"$ref": "#/$defs/item"}},
        "$defs": {"item": {"type": "object", "properties": {"text": {"type": "string"}}}},
    }
    published = storable_input(tool(schema), schema)
    assert published["$id"] == "urn:tools-api:nul:v1:input"  # its references stay local
    validator = Draft202012Validator(published)
    assert validator.is_valid({"item": {"text": "hello"}})
    assert not validator.is_valid({"item": {"text": "hel\u0000lo"}})
    assert not validator.is_valid({"item": {"te\u0000xt": "hello"}})
    assert not validator.is_valid({"it\u0000em": {}})
