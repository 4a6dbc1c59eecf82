"""json_validate: check a JSON document against a JSON Schema (draft 2020-12), offline."""

import functools

from dashboard.tools.tool import ToolVersion, object_schema

MAX_ERRORS = 100
MAX_MESSAGE_LENGTH = 300
# A user's "pattern" runs in the `regex` module with this timeout, so a catastrophic pattern
# such as "(a+)+$" cannot hold a worker.
PATTERN_TIMEOUT_SECONDS = 0.1


@functools.cache
def schema_validator_class():
    """Draft 2020-12 with pattern and patternProperties evaluated under a timeout."""
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import ValidationError

    def pattern(validator, pattern, instance, schema):
        """The pattern keyword, with a time limit."""
        if validator.is_type(instance, "string") and not _search(pattern, instance):
            yield ValidationError(f"does not match {pattern!r}")

    def pattern_properties(validator, pattern_properties, instance, schema):
        """The patternProperties keyword, with a time limit."""
        if not validator.is_type(instance, "object"):
            return
        for name_pattern, subschema in pattern_properties.items():
            for name, value in instance.items():
                if _search(name_pattern, name):
                    yield from validator.descend(value, subschema, path=name, schema_path=name)

    return validators.extend(
        Draft202012Validator, {"pattern": pattern, "patternProperties": pattern_properties}
    )


@functools.cache
def schema_format_checker():
    """jsonschema's format checks for check_schema, with patterns compiled by `regex`."""
    import regex
    from jsonschema import FormatChecker

    checker = FormatChecker()  # a fresh copy; the shared default is left alone
    checker.checks("regex", raises=regex.error)(regex.compile)
    return checker


def _search(pattern: str, text: str) -> bool:
    """Whether pattern matches somewhere in text; raises PatternTooSlow past the time limit."""
    import regex

    try:
        return regex.search(pattern, text, timeout=PATTERN_TIMEOUT_SECONDS) is not None
    except TimeoutError as error:
        raise PatternTooSlow(pattern) from error
    except regex.error as error:
        raise BadPattern(f"{pattern!r} is not a valid regular expression: {error}") from error


class PatternTooSlow(Exception):
    """A schema pattern took longer than PATTERN_TIMEOUT_SECONDS on the document."""


class BadPattern(Exception):
    """A schema pattern that the regex engine cannot compile."""


def warm_up() -> None:
    """Import jsonschema's validator and the regex engine."""
    schema_validator_class()
    import regex  # noqa: F401


def validate_document(payload: dict) -> dict:
    """Whether the document matches the schema, and at most 100 errors with their paths."""
    schema = payload["schema"]
    problem = schema_problem(schema)
    if problem:
        return rejected_schema([problem])
    validator_class = schema_validator_class()
    from jsonschema.exceptions import SchemaError
    from referencing.exceptions import Unresolvable

    errors = []
    try:
        validator_class.check_schema(schema, format_checker=schema_format_checker())
        for error in validator_class(schema).iter_errors(payload["document"]):
            if len(errors) == MAX_ERRORS:
                return {"valid": False, "schema_valid": True, "errors": errors, "truncated": True}
            errors.append(as_error(error.absolute_path, error.message))
    except SchemaError as error:
        return rejected_schema([as_error(error.absolute_path, error.message)])
    except Unresolvable as error:
        return rejected_schema([as_error([], f"a $ref cannot be resolved: {error}")])
    except PatternTooSlow as error:
        return rejected_schema([as_error([], f"pattern {error} took too long to evaluate")])
    except BadPattern as error:
        return rejected_schema([as_error([], str(error))])
    except RecursionError:
        return rejected_schema([as_error([], "the schema or document is nested too deeply")])
    except ValueError:  # jsonschema prints values; Python refuses ints over 4,300 digits
        error = as_error([], "the document has a number too large to check")
        return {"valid": False, "schema_valid": True, "errors": [error], "truncated": False}
    errors.sort(key=lambda error: error["path"])
    return {"valid": not errors, "schema_valid": True, "errors": errors, "truncated": False}


def schema_problem(schema: object) -> dict | None:
    """The first remote $ref or $dynamicRef in the schema, as an error; None when there is none."""
    stack = [((), schema)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                is_reference = key in ("$ref", "$dynamicRef") and isinstance(value, str)
                if is_reference and ("://" in value or value.startswith("//")):
                    return as_error(
                        (*path, key), f"remote references are not allowed (no network): {value}"
                    )
                stack.append(((*path, key), value))
        elif isinstance(node, list):
            stack.extend(((*path, index), value) for index, value in enumerate(node))
    return None


def rejected_schema(errors: list[dict]) -> dict:
    """The answer for a schema that cannot be used; its error paths point into the schema."""
    return {"valid": False, "schema_valid": False, "errors": errors, "truncated": False}


def as_error(path, message: str) -> dict:
    """One {path, message} error, path as a JSON pointer, message cut to a readable length."""
    pointer = "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)
    if len(message) > MAX_MESSAGE_LENGTH:
        message = message[: MAX_MESSAGE_LENGTH - 1] + "…"
    return {"path": pointer, "message": message}


ERROR_LIST = {
    "type": "array",
    "maxItems": MAX_ERRORS,
    "items": {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "JSON pointer; '' is the whole document."},
            "message": {"type": "string"},
        },
        "required": ["path", "message"],
        "additionalProperties": False,
    },
}

TOOL_VERSIONS = [
    ToolVersion(
        name="json_validate",
        version="v1",
        title="JSON Schema validation",
        description=(
            "Validates a JSON document against your JSON Schema (draft 2020-12) and lists up to "
            "100 errors with JSON-pointer paths. Remote $ref is not allowed."
        ),
        input_schema=object_schema(
            {
                "document": {"description": "Any JSON value to validate."},
                "schema": {
                    "type": ["object", "boolean"],
                    "description": "A JSON Schema, draft 2020-12; only local $ref.",
                },
            },
            required=["document", "schema"],
        ),
        output_schema=object_schema(
            {
                "valid": {"type": "boolean"},
                "schema_valid": {
                    "type": "boolean",
                    "description": "False when the schema itself is unusable; errors then "
                    "point into the schema.",
                },
                "errors": ERROR_LIST,
                "truncated": {
                    "type": "boolean",
                    "description": "True when there were more than 100 errors.",
                },
            },
            required=["valid", "schema_valid", "errors", "truncated"],
        ),
        example_input={
            "document": {"name": "Ada", "age": -3},
            "schema": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "age": {"type": "integer", "minimum": 0},
                },
                "required": ["name", "age"],
            },
        },
        run=validate_document,
    )
]
