"""The catalog file of upstream tools and `flask tools sync`: all or nothing, errors by line."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.models import AuditEvent, Tool
from dashboard.tools.catalog_file import CatalogFileError, read_catalog

EXAMPLE = Path(__file__).parents[2] / "examples" / "upstream" / "tools.toml"


def upstream_rows() -> dict:
    rows = db.session.scalars(sa.select(Tool).where(Tool.kind == "upstream"))
    return {(row.name, row.version): row for row in rows}


def broken(tmp_path, old: str, new: str) -> Path:
    """The example file with one change."""
    text = EXAMPLE.read_text()
    assert old in text
    path = tmp_path / "tools.toml"
    path.write_text(text.replace(old, new, 1))
    return path


def line_number(path: Path, fragment: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if fragment in line)


def test_sync_loads_the_example_catalog(runner, app):
    result = runner.invoke(args=["tools", "sync", "--catalog", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "2 added" in result.output
    rows = upstream_rows()
    assert set(rows) == {("vat", "v1"), ("shout", "v1")}
    vat = rows["vat", "v1"]
    assert (vat.upstream_url, vat.timeout_ms, vat.secret_ref) == (
        "http://127.0.0.1:8600/vat",
        2000,
        "example",
    )
    assert vat.managed_by == "catalog" and vat.is_active
    assert vat.endpoint_path == "/api/v1/tools/vat/v1"
    assert rows["shout", "v1"].input_schema["properties"]["text"]["maxLength"] == 1000
    # Syncing again changes nothing; built-ins are untouched by the file.
    again = runner.invoke(args=["tools", "sync", "--catalog", str(EXAMPLE)])
    assert "0 added, 0 updated, 0 deactivated" in again.output.splitlines()[-1]
    assert db.session.scalar(sa.select(Tool).where(Tool.name == "echo")).kind == "builtin"
    actions = db.session.scalars(sa.select(AuditEvent.action))
    assert sorted(actions) == ["upstream_tool.added", "upstream_tool.added"]


def test_catalog_file_setting_is_used(runner, app):
    app.config["TOOLS_CATALOG_FILE"] = str(EXAMPLE)
    assert runner.invoke(args=["tools", "sync"]).exit_code == 0
    assert len(upstream_rows()) == 2


def test_a_version_dropped_from_the_file_is_switched_off(runner, app, tmp_path):
    runner.invoke(args=["tools", "sync", "--catalog", str(EXAMPLE)])
    text = EXAMPLE.read_text()
    only_vat = tmp_path / "tools.toml"
    only_vat.write_text(text[: text.index('[[tool]]\nname = "shout"')])
    result = runner.invoke(args=["tools", "sync", "--catalog", str(only_vat)])
    assert "1 deactivated" in result.output
    assert not upstream_rows()["shout", "v1"].is_active


@pytest.mark.parametrize(
    ("old", "new", "at", "reason"),
    [
        ("timeout_ms = 2000", 'timeout_ms = 2000\ncolour = "red"', "colour", "unknown field"),
        ('url = "http://127.0.0.1:8600/vat"', 'url = "ftp://x/vat"', "ftp://", "http:// or"),
        (
            'url = "http://127.0.0.1:8600/shout"',
            'url = "http://127.0.0.1:99999/shout"',
            "99999",
            "is not a URL",
        ),
        (
            '"minimum": 0, "maximum"',
            '"minimum": "zero", "maximum"',
            "input_schema = '''",
            "JSON Schema",
        ),
        ('"required": ["net"', '"required": ["net",', "output_schema = '''", "not valid JSON"),
        (
            'type = "object"\nrequired = ["shout"]',
            'type = 7\nrequired = ["shout"]',
            "[tool.output_schema]",
            "JSON Schema",
        ),
        (
            'example_input = { text = "hello" }',
            "example_input = { text = 5 }",
            "text = 5",
            "does not match the input schema",
        ),
        ('name = "shout"', 'name = "echo"', 'name = "echo"', "built-in or plugin"),
        ('name = "shout"', 'name = "vat"', "second [[tool]]", "already defined at line"),
    ],
)
def test_a_wrong_file_is_refused_with_line_and_nothing_applied(
    runner, app, tmp_path, old, new, at, reason
):
    path = broken(tmp_path, old, new)
    result = runner.invoke(args=["tools", "sync", "--catalog", str(path)])
    assert result.exit_code != 0
    assert reason in result.output
    if at == "second [[tool]]":  # a duplicate is reported at its table's header
        line = [n for n, text in enumerate(path.read_text().splitlines(), 1) if text == at[7:]][1]
    else:
        line = line_number(path, at)
    assert f"{path}:{line}:" in result.output, result.output
    assert "Nothing synced" in result.output
    assert upstream_rows() == {}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Tool)) == 0


def test_toml_syntax_error_has_a_line(tmp_path):
    path = tmp_path / "tools.toml"
    path.write_text('[[tool]]\nname = "x"\nversion = \n')
    with pytest.raises(CatalogFileError) as refused:
        read_catalog(path)
    assert f"{path}:3:" in str(refused.value)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(CatalogFileError, match="cannot be read"):
        read_catalog(tmp_path / "nope.toml")
