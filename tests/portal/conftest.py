"""Portal test helpers: the tools table synced from the registry, a tool whose example fails,
and an upstream tool whose private parts (URL, secret name, schema comments) no page may show."""

import pytest

from dashboard.extensions import db
from dashboard.models import Tool
from dashboard.portal.docs import forget_examples
from dashboard.tools import registry
from dashboard.tools.definitions import checked_definition, save_definition
from dashboard.tools.sync import sync_tools
from dashboard.tools.tool import ToolVersion, object_schema

UPSTREAM_URL = "http://10.1.2.3:8123/internal/vat-service"
UPSTREAM_SECRET = "vat_signing_secret_ref"
UPSTREAM_NOTE = "INTERNAL: billing team owns this, ask Dana"


def fail(payload: dict) -> dict:
    raise RuntimeError("the example broke")


BROKEN = ToolVersion(
    name="broken_example",
    version="v1",
    title="Broken example",
    description="A tool whose example fails.",
    input_schema=object_schema({"n": {"type": "integer", "minimum": 1}}, required=["n"]),
    output_schema=object_schema({}, required=[]),
    example_input={"n": 1},
    run=fail,
)


@pytest.fixture(scope="module", autouse=True)
def broken_tool():
    """A tool whose example raises, registered while a module runs."""
    registry.register(BROKEN)
    yield BROKEN
    registry.TOOLS.pop(BROKEN.name, None)


@pytest.fixture(autouse=True)
def synced_tools(app):
    """The tools table mirrors the registry, plus one upstream tool; examples run afresh."""
    sync_tools(db.session, Tool)
    definition = checked_definition(
        {
            "name": "vat",
            "version": "v1",
            "title": "VAT",
            "description": "Adds VAT to an amount.",
            "url": UPSTREAM_URL,
            "secret": UPSTREAM_SECRET,
            "input_schema": {
                "type": "object",
                "$comment": UPSTREAM_NOTE,
                "properties": {"amount": {"type": "number", "minimum": 0}},
                "required": ["amount"],
            },
            "output_schema": {
                "type": "object",
                "properties": {"total": {"type": "number", "$comment": UPSTREAM_NOTE}},
            },
            "example_input": {"amount": 100},
        }
    )
    save_definition(db.session, definition, managed_by="page")
    db.session.commit()
    forget_examples()
    yield
    forget_examples()
