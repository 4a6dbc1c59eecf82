"""The catalog file (TOML, at TOOLS_CATALOG_FILE): upstream tool versions declared by operators.

    [[tool]]
    name = "vat"
    version = "v1"
    url = "http://billing.internal:8600/vat"
    secret = "billing"          # a name in UPSTREAM_SECRETS
    input_schema = '''{"type": "object", ...}'''   # JSON text, or a TOML table
    output_schema = '''{"type": "object", ...}'''
    deprecated_on = 2026-11-01     # optional: released_on, deprecated_on, sunset_on,
    sunset_on = 2027-06-30         # replacement (docs/deprecations.md)
    replacement = "v2"

Every table is checked before anything is written: one mistake refuses the whole file with
the file, the line and the reason.
"""

import re
import tomllib
from pathlib import Path

import sqlalchemy as sa

from dashboard.models import Tool
from dashboard.tools.definitions import DefinitionError, checked_definition, save_definition

TABLE_HEADER = re.compile(r"\s*\[\[\s*tool\s*\]\]")


class CatalogFileError(ValueError):
    """The file cannot be used; str() lists every problem as `file:line: reason`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def read_catalog(path: str | Path) -> list[dict]:
    """The checked definitions in the file, or CatalogFileError with every problem found."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CatalogFileError([f"{path}: cannot be read ({error})"]) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = getattr(error, "lineno", None) or line_in_message(str(error))
        raise CatalogFileError([f"{path}:{line}: {error}"]) from None
    lines = text.splitlines()
    problems = [
        f"{path}:{line_of(lines, key, 0)}: unknown top-level field {key!r} (expected [[tool]])"
        for key in document
        if key != "tool"
    ]
    tables = document.get("tool", [])
    if not isinstance(tables, list):
        problems.append(f"{path}:{line_of(lines, 'tool', 0)}: write each tool as [[tool]]")
        tables = []
    starts = [number for number, line in enumerate(lines) if TABLE_HEADER.match(line)]
    definitions, seen = [], {}
    for index, table in enumerate(tables):
        start = starts[index] if index < len(starts) else 0
        try:
            definition = checked_definition(table)
        except DefinitionError as error:
            line = line_of(lines, error.field, start)
            problems.append(f"{path}:{line}: {error.field}: {error.reason}")
            continue
        key = (definition["name"], definition["version"])
        if key in seen:
            problems.append(
                f"{path}:{start + 1}: {key[0]} {key[1]} is already defined at line {seen[key]}"
            )
        seen[key] = start + 1
        definitions.append(definition)
    if problems:
        raise CatalogFileError(problems)
    return definitions


def sync_catalog(session, path: str | Path) -> dict:
    """Write the file's versions (the file wins) and switch off file-defined versions it no
    longer lists; {"added", "updated", "deactivated"}. The caller commits."""
    definitions = read_catalog(path)
    counts = {"added": 0, "updated": 0, "deactivated": 0}
    for definition in definitions:
        outcome = save_definition(session, definition, managed_by="catalog")
        if outcome:
            counts[outcome] += 1
    listed = {(definition["name"], definition["version"]) for definition in definitions}
    for row in session.scalars(sa.select(Tool).where(Tool.managed_by == "catalog")):
        if (row.name, row.version) not in listed and row.is_active:
            row.is_active = False
            counts["deactivated"] += 1
    session.flush()
    return counts


def line_of(lines: list[str], key: str, start: int) -> int:
    """The 1-based line where `key = ` is first written at or after line `start` (0-based),
    within the same [[tool]] table; the table's first line when not found."""
    pattern = re.compile(rf"\s*(\[\s*tool\s*\.\s*)?{re.escape(key)}\s*[=.\]]")
    for number in range(start, len(lines)):
        if number > start and TABLE_HEADER.match(lines[number]):
            break
        if pattern.match(lines[number]):
            return number + 1
    return start + 1


def line_in_message(message: str) -> int | str:
    """tomllib writes "(at line N, column M)" in its messages."""
    found = re.search(r"line (\d+)", message)
    return int(found.group(1)) if found else "?"
