"""CSV exports that a spreadsheet cannot turn into formulas (OWASP CSV injection)."""

import csv
import io

import pytest

from dashboard.extensions import db
from dashboard.logs.export import neutralised


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_cells_that_start_like_a_formula_are_neutralised(start):
    assert neutralised(f"{start}HYPERLINK(1)") == f"'{start}HYPERLINK(1)"


@pytest.mark.parametrize("cell", ["plain", "", "a=b", 42, -3, None])
def test_other_cells_are_unchanged(cell):
    assert neutralised(cell) == cell


def test_a_key_named_like_a_formula_exports_as_text(client, call, key):
    key.name = '=HYPERLINK("http://evil.example","x")'
    db.session.commit()
    call(status="error", error="@SUM(1+1)", code="tool_error")
    table = list(csv.reader(io.StringIO(client.get("/logs/export.csv").text)))
    header, row = table[0], table[1]
    assert row[header.index("key_name")] == "'" + key.name
    assert row[header.index("error_message")] == "'@SUM(1+1)"
