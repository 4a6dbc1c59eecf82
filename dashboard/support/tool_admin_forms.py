"""The form of an upstream tool version on the super-admin page."""

import json

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import InputRequired, Optional

from dashboard.tools.definitions import DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT_MS


class UpstreamToolForm(FlaskForm):
    """Field names are the catalog file's; checked_definition() does the real checking."""

    name = StringField(
        "Name",
        validators=[InputRequired("Give the tool a name.")],
        description="Lowercase letters, digits and _, as in the call's URL.",
    )
    version = StringField("Version", default="v1", validators=[InputRequired("Give a version.")])
    title = StringField("Title", validators=[Optional()])
    description = TextAreaField("Description", validators=[Optional()], render_kw={"rows": 2})
    url = URLField(
        "Upstream URL",
        validators=[InputRequired("Where is the service?")],
        description="http:// or https://; the gateway POSTs the input here.",
    )
    timeout_ms = IntegerField("Deadline (ms)", default=DEFAULT_TIMEOUT_MS, validators=[Optional()])
    max_concurrency = IntegerField(
        "Calls in progress per worker", default=DEFAULT_CONCURRENCY, validators=[Optional()]
    )
    secret = StringField(
        "Secret name",
        validators=[Optional()],
        description="A name in UPSTREAM_SECRETS; the calls are signed with it.",
    )
    active = BooleanField("Active (served by the API)", default=True)
    input_schema = TextAreaField("Input JSON Schema", render_kw={"rows": 8, "spellcheck": "false"})
    output_schema = TextAreaField(
        "Output JSON Schema", render_kw={"rows": 8, "spellcheck": "false"}
    )
    example_input = TextAreaField(
        "Example input (JSON)", default="{}", render_kw={"rows": 3, "spellcheck": "false"}
    )
    released_on = DateField("Released on", validators=[Optional()])
    deprecated_on = DateField(
        "Deprecated on",
        validators=[Optional()],
        description="From this day calls carry Deprecation and Sunset headers.",
    )
    sunset_on = DateField(
        "Sunset on",
        validators=[Optional()],
        description="From this day calls answer 410 tool_version_retired.",
    )
    replacement = StringField(
        "Replaced by", validators=[Optional()], description="Another version, e.g. v2."
    )

    def raw_definition(self) -> dict:
        """The fields as a definition for checked_definition()."""
        return {name: self[name].data for name in DEFINITION_FIELDS if self[name].data != ""}

    def fill(self, definition: dict) -> None:
        """Show a stored definition (schemas as indented JSON)."""
        for name in DEFINITION_FIELDS:
            value = definition.get(name)
            if isinstance(value, dict):
                value = json.dumps(value, indent=2, ensure_ascii=False)
            self[name].data = value


DEFINITION_FIELDS = (
    "name",
    "version",
    "title",
    "description",
    "url",
    "timeout_ms",
    "max_concurrency",
    "secret",
    "active",
    "input_schema",
    "output_schema",
    "example_input",
    "released_on",
    "deprecated_on",
    "sunset_on",
    "replacement",
)
