"""The form of the developer portal's settings on the super-admin page."""

from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import Length

from dashboard.alerts.forms import CheckboxesField
from dashboard.auth.forms import strip
from dashboard.models import PortalOverrides
from dashboard.portal.settings import (
    INTRO_MAX,
    LOGO_URL_MAX,
    TAGLINE_MAX,
    TITLE_MAX,
    PortalChoices,
    PortalSettings,
    intro_problem,
    logo_url_problem,
)

# The radio's value for "as configured" (stored as NULL).
CONFIGURED = "configured"


def blank_to_none(value: str | None) -> str | None:
    """An empty text means "as configured"."""
    return value or None


class PortalSettingsForm(FlaskForm):
    """Texts left empty follow the configuration (PORTAL_*), shown as each field's placeholder."""

    title = StringField(
        "Title",
        filters=[strip, blank_to_none],
        validators=[Length(max=TITLE_MAX, message=f"A title has at most {TITLE_MAX} characters.")],
        render_kw={"maxlength": TITLE_MAX, "autocomplete": "off"},
    )
    tagline = StringField(
        "Tagline",
        filters=[strip, blank_to_none],
        validators=[
            Length(max=TAGLINE_MAX, message=f"A tagline has at most {TAGLINE_MAX} characters.")
        ],
        render_kw={"maxlength": TAGLINE_MAX, "autocomplete": "off"},
    )
    logo_url = StringField(
        "Logo URL",
        filters=[strip, blank_to_none],
        validators=[
            Length(max=LOGO_URL_MAX, message=f"A URL has at most {LOGO_URL_MAX} characters.")
        ],
        render_kw={"maxlength": LOGO_URL_MAX, "inputmode": "url", "spellcheck": "false"},
        description=(
            "A path on this site, such as /static/logo.svg (pages show images from this site only)."
        ),
    )
    intro = TextAreaField(
        "Introduction (Markdown)",
        filters=[strip, blank_to_none],
        validators=[
            Length(max=INTRO_MAX, message=f"The introduction has at most {INTRO_MAX:,} characters.")
        ],
        render_kw={"rows": 8, "maxlength": INTRO_MAX},
        description="Shown under the tagline on the landing page. Markdown: links, lists, "
        "emphasis and tables; HTML tags other than safe ones, scripts and event handlers are "
        "removed.",
    )
    public_tools_choice = RadioField("Public tools", default=CONFIGURED, choices=[])
    public_tools = CheckboxesField("Tools", choices=[], validate_choice=False)

    def __init__(self, *args, configured: PortalSettings, tools: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.title.render_kw = {**self.title.render_kw, "placeholder": configured.title}
        self.tagline.render_kw = {**self.tagline.render_kw, "placeholder": configured.tagline}
        if configured.logo_url:
            self.logo_url.render_kw = {
                **self.logo_url.render_kw,
                "placeholder": configured.logo_url,
            }
        listed = sorted(configured.public_tools) if configured.public_tools else None
        self.public_tools_choice.choices = [
            SelectChoice(
                CONFIGURED,
                "As configured (PORTAL_PUBLIC_TOOLS: "
                + (", ".join(listed) if listed else "every tool")
                + ")",
            ),
            SelectChoice("all", "Every tool"),
            SelectChoice("chosen", "Only the tools ticked below"),
        ]
        self.public_tools.choices = [SelectChoice(name) for name in tools]

    def fill(self, row: PortalOverrides | None) -> None:
        """Show the stored choices (none stored: every field as configured)."""
        if row is None:
            return
        self.title.data = row.title
        self.tagline.data = row.tagline
        self.logo_url.data = row.logo_url
        self.intro.data = row.intro
        self.public_tools_choice.data = row.public_tools_choice or CONFIGURED
        self.public_tools.data = list(row.public_tools or [])

    def choices(self) -> PortalChoices:
        """The form's values, as save_choices() stores them."""
        choice = self.public_tools_choice.data
        return PortalChoices(
            title=self.title.data,
            tagline=self.tagline.data,
            logo_url=self.logo_url.data,
            intro=self.intro.data,
            public_tools_choice=None if choice == CONFIGURED else choice,
            public_tools=tuple(self.public_tools.data or ()) if choice == "chosen" else (),
        )

    def validate_logo_url(self, field):
        if field.data and not field.errors and (problem := logo_url_problem(field.data)):
            field.errors.append(problem)

    def validate_intro(self, field):
        if field.data and not field.errors and (problem := intro_problem(field.data)):
            field.errors.append(problem)

    def validate_public_tools(self, field):
        known = {choice.value for choice in field.choices}
        unknown = sorted(set(field.data or []) - known)
        if unknown:
            field.errors.append("Unknown tools: " + ", ".join(unknown) + ".")
        elif self.public_tools_choice.data == "chosen" and not field.data:
            field.errors.append("Tick at least one tool, or choose every tool.")
