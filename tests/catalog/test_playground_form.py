"""The schema walk behind the playground's form: each kind of property gets its widget, and the
posted text becomes the JSON value (or a form error), and back."""

import pytest
from werkzeug.datastructures import MultiDict

from dashboard.catalog.playground_form import input_form_class, schema_fields
from dashboard.tools.tool import ToolVersion, object_schema


@pytest.fixture
def backend() -> str:
    """Forms only, no database work: one backend is enough."""
    return "sqlite"


PROPERTIES = {
    "title": {"type": "string", "maxLength": 80, "description": "A short title."},
    "body": {"type": "string"},
    "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
    "mode": {"enum": ["fast", "exact"], "default": "fast"},
    "level": {"enum": [1, 2, 3]},
    "count": {"type": "integer", "minimum": 1, "maximum": 9},
    "ratio": {"type": "number"},
    "strict": {"type": "boolean"},
    "verbose": {"type": "boolean", "default": True},
    "tags": {"type": "array", "items": {"type": "string"}},
    "sizes": {"type": "array", "items": {"type": "integer"}},
    "colours": {"type": "array", "items": {"enum": ["red", "blue"]}},
    "options": {"type": "object"},
    "anything": {},
    "maybe": {"type": ["string", "null"]},
    "two words": {"type": "string", "maxLength": 5},
}
TOOL = ToolVersion(
    name="kinds",
    version="v1",
    title="Kinds",
    description="Every kind of field.",
    input_schema=object_schema(PROPERTIES, required=["title", "strict", "level"]),
    output_schema=object_schema({}, required=[]),
    example_input={"title": "Hello"},
    run=lambda payload: {},
)


def test_each_kind_of_property_gets_its_widget():
    kinds = {field.name: field.kind for field in schema_fields(TOOL.input_schema)}
    assert kinds == {
        "title": "text",
        "body": "textarea",
        "code": "text",
        "mode": "select",
        "level": "select",
        "count": "integer",
        "ratio": "number",
        "strict": "checkbox",
        "verbose": "checkbox",
        "tags": "lines",
        "sizes": "lines",
        "colours": "lines",
        "options": "json",
        "anything": "json",
        "maybe": "json",
        "two words": "text",
    }
    keys = [field.key for field in schema_fields(TOOL.input_schema)]
    assert keys[0] == "in_title" and keys[-1] == "in-15"  # a name unfit for an id gets a number


def posted(app, **data):
    """The bound form for posted data (field names as keys)."""
    with app.test_request_context(method="POST", data=MultiDict(data)):
        form = input_form_class(TOOL)()
        form.validate()
        return form


def test_posted_text_becomes_the_json_the_schema_wants(app):
    form = posted(
        app,
        in_title="Hi",
        in_body="line one\r\nline two",
        in_level="2",
        in_count="3",
        in_ratio="0.5",
        in_tags="a\r\n\r\n b ",
        in_sizes="1\n2",
        in_colours="red",
        in_options='{"x": [1]}',
        **{"in-15": "w"},
    )
    assert form.payload() == {
        "title": "Hi",
        "body": "line one\nline two",
        "level": 2,
        "count": 3,
        "ratio": 0.5,
        "strict": False,  # required: an unticked box says false
        "verbose": False,  # its default is true: unticked says false
        "tags": ["a", "b"],
        "sizes": [1, 2],
        "colours": ["red"],
        "options": {"x": [1]},
        "two words": "w",
    }
    # An empty field sends nothing: the API says what is missing.
    assert posted(app, in_verbose="y").payload() == {"strict": False, "verbose": True}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("in_count", "many", "Not a valid integer value."),
        ("in_ratio", "half", "Not a valid float value."),
        ("in_sizes", "1\nx", "Line 2: “x” is not a whole number."),
        ("in_colours", "green", "Line 1: “green” is not one of the choices."),
        ("in_options", "{", "This is not valid JSON"),
        ("in_mode", '"slow"', "Not a valid choice."),
    ],
)
def test_text_that_cannot_become_json_is_a_form_error(app, name, value, message):
    form = posted(app, **{name: value})
    with pytest.raises(ValueError):
        form.payload()
    assert any(message in error for error in form[name].errors)


def test_a_json_object_fills_the_form_and_what_does_not_fit_is_named(app):
    form = posted(app)
    payload = {"title": "T", "mode": "exact", "tags": ["x", "y"], "options": {"a": 1}}
    assert form.fill(payload) == []
    assert form["in_mode"].data == '"exact"' and form["in_tags"].data == "x\ny"
    assert form["in_options"].data == '{\n  "a": 1\n}'
    problems = form.fill({"count": "3", "mode": "slow", "extra": 1})
    assert "“extra” is not a field of this form." in problems
    assert any(problem.startswith("count:") for problem in problems)
    assert any(problem.startswith("mode:") for problem in problems)


def test_the_apis_schema_errors_land_on_their_fields(app):
    form = posted(app)
    form.attach_api_errors(
        [
            {"path": "", "message": "'title' is a required property"},
            {"path": "/count", "message": "0 is less than the minimum of 1"},
            {"path": "/tags/2", "message": "5 is not of type 'string'"},
            {"path": "", "message": "Additional properties are not allowed"},
        ]
    )
    assert form["in_title"].errors == ["This field is required. (from the API)"]
    assert form["in_count"].errors == ["0 is less than the minimum of 1 (from the API)"]
    assert form["in_tags"].errors == ["5 is not of type 'string' (from the API)"]
