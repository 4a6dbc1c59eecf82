"""json_validate: check a JSON document against a JSON Schema (draft 2020-12), offline.

The work of one call is bounded, not only its input's size: at most MAX_SCHEMA_VALUES values in
the schema and MAX_DOCUMENT_VALUES in the document, at most MAX_CHECKS keyword checks in all
and CHECK_BUDGET_SECONDS of checking (a check is one keyword applied to one value: `anyOf` over
a recursive `$ref` can multiply them far beyond both sizes), `uniqueItems` in linear time
(hashing, not comparing every pair) and one time budget for every `pattern` and
`patternProperties` match of the call together. Past a limit the call is refused with 422
invalid_input naming it (InputRefused); a pattern past the budget is an answer (schema_valid
false), as before.

A pattern's counted repetitions are expanded when `regex` compiles it, nested ones multiplied:
"(?:a{1000}){1000}" (17 characters) takes 280 MB and 2.5 s to compile, past the tool process's
memory cap. A pattern whose expansion passes MAX_PATTERN_EXPANSION is refused before it is
compiled (measured: 100,000 takes about 45 MB and 0.3 s).
"""

import contextvars
import functools
import re
import time

from dashboard.tools.builtin import RELEASED
from dashboard.tools.tool import InputRefused, ToolVersion, object_schema

MAX_ERRORS = 100
MAX_MESSAGE_LENGTH = 300
# A user's "pattern"s run in the `regex` module with a timeout, so a catastrophic pattern
# such as "(a+)+$" cannot hold a worker: all of one call's matches share this budget.
PATTERN_BUDGET_SECONDS = 0.5
MAX_SCHEMA_VALUES = 10_000
MAX_DOCUMENT_VALUES = 100_000
MAX_CHECKS = 500_000
# Checks through `$ref` cost far more than plain ones, so their time is bounded too.
CHECK_BUDGET_SECONDS = 2.0
# Items of a pattern once its counted repetitions ({n}, {n,}, {n,m}: n times) are expanded.
MAX_PATTERN_EXPANSION = 100_000
COUNTED = re.compile(r"\{(\d*)(?:,(\d*))?\}")

# The running call's budget (each call sets its own; calls in threads do not share it).
_budget: contextvars.ContextVar["Budget"] = contextvars.ContextVar("json_validate_budget")


class Budget:
    """What is left of one call's checks and pattern time."""

    def __init__(self) -> None:
        now = time.monotonic()
        self.checks_left = MAX_CHECKS
        self.checks_until = now + CHECK_BUDGET_SECONDS
        self.patterns_until = now + PATTERN_BUDGET_SECONDS


class TooManyChecks(Exception):
    """The call used up its MAX_CHECKS keyword checks or CHECK_BUDGET_SECONDS."""


def counted(check):
    """A keyword's check that first takes one check from the call's budget."""

    def counted_check(validator, value, instance, schema):
        budget = _budget.get(None)
        if budget is not None:
            budget.checks_left -= 1
            if budget.checks_left < 0 or (
                budget.checks_left % 256 == 0 and time.monotonic() > budget.checks_until
            ):
                raise TooManyChecks
        return check(validator, value, instance, schema)

    return counted_check


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

    def unique_items(validator, unique, instance, schema):
        """The uniqueItems keyword in linear time: each item's hashable form goes in a set."""
        if not unique or not validator.is_type(instance, "array"):
            return
        seen: dict = {}
        for index, item in enumerate(instance):
            first = seen.setdefault(hashable(item), index)
            if first != index:
                yield ValidationError(f"has non-unique elements (items {first} and {index})")
                return

    own = {"pattern": pattern, "patternProperties": pattern_properties, "uniqueItems": unique_items}
    checks = {**Draft202012Validator.VALIDATORS, **own}
    return validators.extend(
        Draft202012Validator, {keyword: counted(check) for keyword, check in checks.items()}
    )


def hashable(value):
    """A hashable form of a JSON value, equal for equal JSON values (1 and 1.0 equal; true and
    1 not; objects whatever their key order)."""
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, dict):
        return ("object", frozenset((key, hashable(item)) for key, item in value.items()))
    if isinstance(value, list):
        return ("array", tuple(hashable(item) for item in value))
    return ("value", value)  # str, int, float (1 == 1.0 and they hash alike), None


@functools.cache
def schema_format_checker():
    """jsonschema's format checks for check_schema, with patterns compiled by `regex`."""
    import regex
    from jsonschema import FormatChecker

    checker = FormatChecker()  # a fresh copy; the shared default is left alone
    checker.checks("regex", raises=regex.error)(lambda pattern: regex.compile(bounded(pattern)))
    return checker


@functools.lru_cache(maxsize=256)
def bounded(pattern: str) -> str:
    """The pattern, or InputRefused when compiling it would expand it past
    MAX_PATTERN_EXPANSION items."""
    if expansion(pattern) > MAX_PATTERN_EXPANSION:
        shown = pattern if len(pattern) <= 60 else pattern[:59] + "…"
        raise InputRefused(
            "/schema",
            f"pattern {shown!r} repeats to more than {MAX_PATTERN_EXPANSION:,} items once its "
            "counted repetitions are expanded, the limit",
        )
    return pattern


def expansion(pattern: str) -> int:
    """How many items compiling the pattern makes, about: each atom counts 1, times the
    lower bound of every counted repetition around it (nested ones multiply)."""
    totals = [0]  # one per open group
    last = 0  # the size of the atom or group just read, before its quantifier
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "(":
            totals.append(0)
            index += 1
            continue
        if char == ")" and len(totals) > 1:
            last = totals.pop()
            index += 1
        elif char == "[":
            end = index + 1
            end += pattern[end : end + 1] in ("^",)
            end += pattern[end : end + 1] == "]"
            while end < len(pattern) and pattern[end] != "]":
                end += 2 if pattern[end] == "\\" else 1
            last, index = 1, end + 1
        else:
            last = 1
            index += 2 if char == "\\" else 1
        counted = COUNTED.match(pattern, index)
        if counted and (counted.group(1) or counted.group(2)):
            last *= max(1, int(counted.group(1) or 0))
            index = counted.end()
        totals[-1] += last
    return sum(totals)


def _search(pattern: str, text: str) -> bool:
    """Whether pattern matches somewhere in text; raises PatternTooSlow once the call's
    pattern budget is spent."""
    import regex

    budget = _budget.get(None)
    until = budget.patterns_until if budget else time.monotonic() + PATTERN_BUDGET_SECONDS
    left = until - time.monotonic()
    if left <= 0:
        raise PatternTooSlow(pattern)
    try:
        return regex.search(bounded(pattern), text, timeout=left) is not None
    except TimeoutError as error:
        raise PatternTooSlow(pattern) from error
    except regex.error as error:
        raise BadPattern(f"{pattern!r} is not a valid regular expression: {error}") from error


class PatternTooSlow(Exception):
    """The call's patterns took longer than PATTERN_BUDGET_SECONDS together."""


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
    refuse_past(payload["document"], MAX_DOCUMENT_VALUES, "/document", "document")
    token = _budget.set(Budget())
    try:
        return validate_within_budget(schema, payload["document"])
    except TooManyChecks:
        raise InputRefused(
            "",
            f"checking this document against this schema takes more than {MAX_CHECKS:,} "
            f"keyword checks or {CHECK_BUDGET_SECONDS:g} s, the limits of one call",
        ) from None
    finally:
        _budget.reset(token)


def refuse_past(value, limit: int, path: str, what: str) -> None:
    """InputRefused when `value` holds more than `limit` JSON values (itself included)."""
    count, stack = 0, [value]
    while stack:
        node = stack.pop()
        count += 1
        if count > limit:
            raise InputRefused(path, f"the {what} has more than {limit:,} values, the limit")
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def validate_within_budget(schema, document) -> dict:
    """validate_document's work, under the call's budget."""
    validator_class = schema_validator_class()
    from jsonschema.exceptions import SchemaError
    from referencing.exceptions import Unresolvable

    errors = []
    try:
        validator_class.check_schema(schema, format_checker=schema_format_checker())
        for error in validator_class(schema).iter_errors(document):
            if len(errors) == MAX_ERRORS:
                return {"valid": False, "schema_valid": True, "errors": errors, "truncated": True}
            errors.append(as_error(error.absolute_path, error.message))
    except SchemaError as error:
        return rejected_schema([as_error(error.absolute_path, error.message)])
    except Unresolvable as error:
        return rejected_schema([as_error([], f"a $ref cannot be resolved: {error}")])
    except PatternTooSlow as error:
        message = (
            f"pattern {error} took too long to evaluate: the patterns of one call may take "
            f"{PATTERN_BUDGET_SECONDS:g} s in all"
        )
        return rejected_schema([as_error([], message)])
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
    """The first remote $ref or $dynamicRef in the schema, as an error; None when there is none.
    InputRefused when the schema holds more than MAX_SCHEMA_VALUES values."""
    stack = [((), schema)]
    count = 0
    while stack:
        path, node = stack.pop()
        count += 1
        if count > MAX_SCHEMA_VALUES:
            message = f"the schema has more than {MAX_SCHEMA_VALUES:,} values, the limit"
            raise InputRefused("/schema", message)
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
        released_on=RELEASED,
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
