"""The playground's form, generated from a tool version's input JSON Schema (no form per tool).

One walk of the schema's top-level properties (`schema_fields`) decides each property's widget:

| schema | widget | value sent |
| --- | --- | --- |
| `enum` of JSON scalars | select | the chosen member |
| string with `pattern`, `format` or `maxLength` ≤ 200 | text input | the text |
| other strings | textarea | the text (line ends as \\n) |
| integer, number | number input with min/max | the number |
| boolean | checkbox | true/false |
| array of scalars (or of an enum) | textarea, one item per line | the list |
| anything else (objects, `anyOf`, type lists, no type) | textarea of JSON | the JSON value |

An empty field sends nothing, so that a missing required property is answered by the API
(422 invalid_input), as it would be for a program. Only what cannot be turned into JSON at all
(a word in a number field, JSON that does not parse) is a form error, and then nothing is sent.
The same fields turn a JSON object back into form values (for "Back to the form"), and make the
tool page's table of input fields (`input_fields`).
"""

import json
import re
from dataclasses import dataclass
from functools import lru_cache

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FloatField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Optional, ValidationError
from wtforms.widgets import NumberInput, PasswordInput

from dashboard.tools.registry import ToolVersion

SCALARS = ("string", "integer", "number", "boolean")
SHORT_TEXT = 200  # strings this long at most get a one-line input
SAFE_NAME = re.compile(r"[A-Za-z0-9_]{1,60}")
REQUIRED_MESSAGE = re.compile(r"^'(?P<name>.+)' is a required property$")
LIMITS = (
    ("minLength", "min length"),
    ("maxLength", "max length"),
    ("minimum", "min"),
    ("maximum", "max"),
    ("minItems", "min items"),
    ("maxItems", "max items"),
)


class FormValueError(ValueError):
    """A field's text cannot be turned into the JSON value its schema wants."""


@dataclass(frozen=True)
class SchemaField:
    """One top-level property of an input schema, as a form field."""

    name: str  # the property's name in the JSON
    key: str  # the form field's name and id
    kind: str  # select | text | textarea | integer | number | checkbox | lines | json
    spec: dict
    required: bool

    @property
    def item_type(self) -> str | None:
        """The type of a `lines` field's items (None for an enum of items)."""
        return self.spec.get("items", {}).get("type")

    @property
    def label(self) -> str:
        return f"{self.name} (required)" if self.required else self.name

    @property
    def help(self) -> str:
        """The description, the limits and how to write the value."""
        parts = [self.spec.get("description", "")]
        limits = limits_of(self.spec)
        if limits:
            text = " · ".join(limits)
            parts.append(text[0].upper() + text[1:] + ".")
        parts.append(HOW_TO_WRITE.get(self.kind, ""))
        return " ".join(part for part in parts if part)


HOW_TO_WRITE = {
    "lines": "One item per line.",
    "json": "Any JSON value, e.g. an object in braces.",
}


def limits_of(spec: dict) -> list[str]:
    """A property's limits in words: `max length 20,000`, `one of a, b`, `default 10`."""
    limits = [
        f"{label} {spec[key]:,}" if isinstance(spec[key], int) else f"{label} {spec[key]}"
        for key, label in LIMITS
        if key in spec
    ]
    if "pattern" in spec:
        limits.append(f"pattern {spec['pattern']}")
    if "enum" in spec:
        limits.append("one of " + ", ".join(map(str, spec["enum"])))
    if "default" in spec:
        limits.append(f"default {json.dumps(spec['default'])}")
    return limits


def kind_of(spec: dict) -> str:
    """Which widget a property's schema gets (see the table in the module's docstring)."""
    if is_scalar_enum(spec):
        return "select"
    kind = spec.get("type")
    if kind == "string":
        short = spec.get("maxLength", SHORT_TEXT + 1) <= SHORT_TEXT
        return "text" if short or "pattern" in spec or "format" in spec else "textarea"
    if kind in ("integer", "number"):
        return kind
    if kind == "boolean":
        return "checkbox"
    items = spec.get("items")
    scalar_items = isinstance(items, dict) and (
        items.get("type") in SCALARS or is_scalar_enum(items)
    )
    if kind == "array" and scalar_items:
        return "lines"
    return "json"


def is_scalar_enum(spec: dict) -> bool:
    values = spec.get("enum")
    return isinstance(values, list) and bool(values) and all(is_scalar(v) for v in values)


def is_scalar(value) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def schema_fields(schema: dict) -> list[SchemaField]:
    """The form fields of an input schema's top-level properties, in the schema's order."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return []
    required = set(schema.get("required", []))
    fields = []
    for index, (name, spec) in enumerate(properties.items()):
        spec = spec if isinstance(spec, dict) else {}
        key = f"in_{name}" if SAFE_NAME.fullmatch(name) else f"in-{index}"
        fields.append(SchemaField(name, key, kind_of(spec), spec, name in required))
    return fields


class PlaygroundForm(FlaskForm):
    """The parts every tool's playground has; input_form_class() adds the schema's fields."""

    key_choice = RadioField(
        "Run it with",
        choices=[
            SelectChoice("playground", "A short-lived playground key"),
            SelectChoice("pasted", "One of my keys (paste its secret)"),
        ],
        default="playground",
    )
    # Shown again after a run (hide_value=False), so the next run can use it; the pages that
    # carry it are never cached, and it is never stored.
    key_secret = PasswordField(
        "Key secret",
        widget=PasswordInput(hide_value=False),
        description="Used for this call only, never stored.",
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    raw = TextAreaField(
        "Input (JSON)",
        description="The request body, sent as it is written.",
        render_kw={"rows": 10, "spellcheck": "false"},
    )
    mode = HiddenField(default="form")  # form | json: which of the two inputs is in use

    def validate_key_secret(self, field) -> None:
        if self.key_choice.data == "pasted" and not (field.data or "").strip():
            raise ValidationError("Paste the secret of one of your keys, or use a playground key.")

    fields_of_schema: tuple[SchemaField, ...] = ()

    def schema_inputs(self) -> list[tuple[SchemaField, object]]:
        """Each schema field with its bound form field, for the template."""
        return [(spec, self[spec.key]) for spec in self.fields_of_schema]

    def payload(self) -> dict:
        """The input object the form describes; FormValueError goes on its field's errors and
        is raised again (as a whole) when any field could not be read."""
        payload, failed = {}, False
        for spec, field in self.schema_inputs():
            if field.errors:  # WTForms could not read it (e.g. "abc" in a number field)
                failed = True
                continue
            try:
                present, value = form_value(spec, field.data)
            except FormValueError as error:
                field.errors = [*field.errors, str(error)]
                failed = True
                continue
            if present:
                payload[spec.name] = value
        if failed:
            raise FormValueError("Some fields could not be read.")
        return payload

    def fill(self, payload: dict) -> list[str]:
        """Put a JSON object's values in the fields; what does not fit them, in words."""
        by_name = {spec.name: spec for spec in self.fields_of_schema}
        unknown = [name for name in payload if name not in by_name]
        problems = [f"“{name}” is not a field of this form." for name in unknown[:5]]
        for spec in self.fields_of_schema:
            if spec.name not in payload:
                self[spec.key].data = None if spec.kind != "checkbox" else False
                continue
            try:
                self[spec.key].data = field_text(spec, payload[spec.name])
            except FormValueError as error:
                problems.append(f"{spec.name}: {error}")
        return problems

    def attach_api_errors(self, errors: list[dict]) -> None:
        """Show each schema error of a 422 answer at its field too (by its JSON pointer)."""
        by_name = {spec.name: spec for spec in self.fields_of_schema}
        for error in errors:
            path, message = str(error.get("path", "")), str(error.get("message", ""))
            name = path.split("/")[1].replace("~1", "/").replace("~0", "~") if path else None
            if name is None and (match := REQUIRED_MESSAGE.match(message)):
                name, message = match["name"], "This field is required."
            spec = by_name.get(name)
            if spec is not None:
                field = self[spec.key]
                field.errors = [*field.errors, f"{message} (from the API)"]


def form_value(spec: SchemaField, data) -> tuple[bool, object]:
    """(present, JSON value) of a field's data; an empty field is not present."""
    kind = spec.kind
    if kind == "checkbox":
        # Unticked sends false only where that says something: required, or default true.
        present = bool(data) or spec.required or spec.spec.get("default") is True
        return present, bool(data)
    if data is None or data == "":
        return False, None
    if kind in ("integer", "number"):
        return True, data
    if kind == "select":
        return True, json.loads(data)  # the choices are JSON texts of the enum's members
    text = str(data).replace("\r\n", "\n")
    if kind in ("text", "textarea"):
        return True, text
    if kind == "lines":
        lines = [line.strip() for line in text.split("\n")]
        return True, [
            item_value(spec, line, number) for number, line in enumerate(lines, 1) if line
        ]
    try:
        return True, json.loads(text)
    except (ValueError, RecursionError) as error:  # RecursionError: nested too deep
        raise FormValueError(f"This is not valid JSON: {error}.") from None


def item_value(spec: SchemaField, line: str, number: int):
    """One line of a `lines` field as its item type."""
    items = spec.spec.get("items", {})
    if is_scalar_enum(items):
        for member in items["enum"]:
            if line == (member if isinstance(member, str) else json.dumps(member)):
                return member
        raise FormValueError(f"Line {number}: “{line}” is not one of the choices.")
    kind = items.get("type")
    if kind == "string":
        return line
    if kind == "boolean" and line in ("true", "false"):
        return line == "true"
    if kind in ("integer", "number"):
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind == "number" and isinstance(value, float):
            return value
    word = {"integer": "a whole number", "number": "a number", "boolean": "true or false"}[kind]
    raise FormValueError(f"Line {number}: “{line}” is not {word}.")


def field_text(spec: SchemaField, value):
    """A JSON value as the data of its form field (FormValueError when it does not fit)."""
    kind = spec.kind
    if kind == "json":
        return json.dumps(value, indent=2, ensure_ascii=False)
    if kind == "select":
        if value not in spec.spec["enum"]:
            raise FormValueError(f"{json.dumps(value)} is not one of the choices")
        return json.dumps(value)
    if kind == "lines":
        if not isinstance(value, list) or not all(is_scalar(item) for item in value):
            raise FormValueError("not a list of single values")
        return "\n".join(item if isinstance(item, str) else json.dumps(item) for item in value)
    expected = {
        "text": str,
        "textarea": str,
        "checkbox": bool,
        "integer": int,
        "number": (int, float),
    }[kind]
    if not isinstance(value, expected) or (kind != "checkbox" and isinstance(value, bool)):
        raise FormValueError(f"{json.dumps(value)[:40]} does not fit a {kind} field")
    return value


def wtforms_field(spec: SchemaField):
    """The unbound WTForms field of one schema field."""
    options = {"validators": [Optional()], "description": spec.help}
    attributes = {"required": True} if spec.required and spec.kind != "checkbox" else {}
    kind = spec.kind
    if kind == "select":
        choices = [SelectChoice("", "(not set)")] if not spec.required else []
        choices += [
            SelectChoice(json.dumps(value), value if isinstance(value, str) else json.dumps(value))
            for value in spec.spec["enum"]
        ]
        return SelectField(spec.label, choices=choices, render_kw=attributes, **options)
    if kind in ("integer", "number"):
        for key, attribute in (("minimum", "min"), ("maximum", "max")):
            if key in spec.spec:
                attributes[attribute] = spec.spec[key]
        if kind == "integer":
            return IntegerField(spec.label, render_kw=attributes, **options)
        widget = NumberInput(step="any")
        return FloatField(spec.label, widget=widget, render_kw=attributes, **options)
    if kind == "checkbox":
        return BooleanField(spec.label, description=spec.help)
    attributes["spellcheck"] = "false"
    if kind == "text":
        if "maxLength" in spec.spec:
            attributes["maxlength"] = spec.spec["maxLength"]
        return StringField(spec.label, render_kw=attributes, **options)
    attributes["rows"] = {"textarea": 4, "lines": 4, "json": 6}[kind]
    return TextAreaField(spec.label, render_kw=attributes, **options)


@lru_cache(maxsize=128)
def input_form_class(tool: ToolVersion) -> type[PlaygroundForm]:
    """A PlaygroundForm with a field for each property of the tool version's input schema."""
    fields = schema_fields(tool.input_schema)
    attributes = {spec.key: wtforms_field(spec) for spec in fields}
    attributes["fields_of_schema"] = tuple(fields)
    return type(f"{tool.name}_{tool.version}_form", (PlaygroundForm,), attributes)


def input_fields(tool: ToolVersion) -> list[dict]:
    """The input schema's top-level properties, for a readable table."""
    return [
        {
            "name": field.name,
            "type": field.spec.get("type", "any"),
            "required": field.required,
            "description": field.spec.get("description", ""),
            "limits": limits_of(field.spec),
        }
        for field in schema_fields(tool.input_schema)
    ]
