"""Properties: validation never raises, and no tool raises on input its schema accepts.

hypothesis-jsonschema does not work with this Hypothesis version, so accepted inputs are built
from each schema's properties by `accepted_inputs` (texts of any characters, lone surrogates
and NUL included; small random JSON Schemas for json_validate).
"""

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from dashboard.tools.registry import all_tools, validation_errors

ALL = all_tools()
IDS = [f"{tool.name}-{tool.version}" for tool in ALL]

characters = st.one_of(
    st.characters(),
    st.characters(categories=["Cs"]),  # lone surrogates, which JSON "\ud800" escapes allow
    st.sampled_from("\x00 \n\t.!?…[]()*_<>#`'\"-😀"),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(characters, max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
schemas = st.recursive(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["string", "integer", "number", "array", "object", "null"]),
            "minimum": st.integers(-5, 5),
            "maxLength": st.integers(0, 5),
            "pattern": st.sampled_from(["^a", "\\d+", "(", "^(a+)+$", "[[:alpha:]]"]),
            "required": st.lists(st.text(max_size=3), max_size=3),
            "enum": st.lists(json_values, max_size=3),
            "$ref": st.sampled_from(["#", "#/$defs/x", "http://example.com/s", "other.json"]),
            "uniqueItems": st.booleans(),
        },
    ),
    lambda children: st.fixed_dictionaries(
        {},
        optional={
            "items": children,
            "properties": st.dictionaries(st.text(max_size=3), children, max_size=3),
            "anyOf": st.lists(children, min_size=1, max_size=3),
            "not": children,
            "$defs": st.fixed_dictionaries({"x": children}),
        },
    ),
    max_leaves=8,
)


def property_values(name: str, schema: dict):
    """A strategy for one input property, from its schema."""
    if name == "schema":
        return st.booleans() | schemas | st.dictionaries(st.text(max_size=8), json_values)
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True)
    if schema.get("type") == "string":
        size = {"min_size": schema.get("minLength", 0), "max_size": 300}
        return st.text(characters, **size) | st.text(st.sampled_from("[*<>😀 .a\n"), **size)
    if schema.get("type") == "integer":
        return st.integers(schema["minimum"], schema["maximum"])
    return json_values


def accepted_inputs(tool):
    """Payloads built from the tool's input schema; optional properties come and go."""
    properties = tool.input_schema["properties"]
    required = tool.input_schema["required"]
    return st.fixed_dictionaries(
        {name: property_values(name, properties[name]) for name in required},
        optional={
            name: property_values(name, schema)
            for name, schema in properties.items()
            if name not in required
        },
    )


@settings(max_examples=60, deadline=None)
@given(payload=json_values | st.dictionaries(st.sampled_from(["text", "message"]), json_values))
def test_validation_errors_never_raise(payload):
    for tool in ALL:
        errors = validation_errors(tool, payload)
        assert all(set(error) == {"path", "message"} for error in errors)
        assert errors == sorted(errors, key=lambda error: (error["path"], error["message"]))


@pytest.mark.parametrize("tool", ALL, ids=IDS)
def test_tools_never_raise_on_accepted_input(tool):
    output_validator = Draft202012Validator(tool.output_schema)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(payload=accepted_inputs(tool))
    def check(payload):
        assume(validation_errors(tool, payload) == [])
        output = tool.run(payload)
        assert list(output_validator.iter_errors(output)) == []

    check()
