"""What the portal shows: whether it is on, its texts, and which tools are public.

The configuration (PORTAL_*) gives the defaults; a super admin's choices on the settings page
(/support/portal, the `portal_settings` table) override them field by field. Every page asks
here, never the config or the table itself, and a request reads the table once.

PORTAL_ENABLED is the environment's alone: whether a company shows anything to the public at all
is a deployment decision, like exposing a port, so a private install stays private whatever the
database says, and a super admin's page can never open what the operator closed.
"""

import functools
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app, g
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError

from dashboard.audit import record_event
from dashboard.extensions import db
from dashboard.models import PortalOverrides, User, utcnow
from dashboard.models.portal import PORTAL_SETTINGS_ID
from dashboard.tools.builtin.markdown import render_markdown
from dashboard.tools.tool import OutputTooLarge

TITLE_MAX = 80
TAGLINE_MAX = 200
LOGO_URL_MAX = 2000
INTRO_MAX = 10_000
# How the public tools are chosen: PORTAL_PUBLIC_TOOLS (None), every tool, or a list.
PUBLIC_TOOLS_CHOICES = ("all", "chosen")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PortalSettings:
    enabled: bool
    title: str
    tagline: str
    logo_url: str
    # Names of the tools the portal shows; None: every tool in the registry.
    public_tools: frozenset[str] | None
    # Markdown shown on the landing page under the tagline (intro_html() renders it safely).
    intro: str = ""

    @property
    def intro_html(self) -> Markup:
        """The intro as sanitised HTML (empty when there is none, or when a configured one
        renders too large: the page checks what it stores, not what the environment says)."""
        try:
            return intro_html(self.intro)
        except OutputTooLarge:
            log.error("PORTAL_INTRO renders to too much HTML; the portal shows no intro")
            return Markup("")


@dataclass(frozen=True)
class PortalChoices:
    """What the settings page saves: None for a text means "as configured"."""

    title: str | None
    tagline: str | None
    logo_url: str | None
    intro: str | None
    public_tools_choice: str | None  # None, "all" or "chosen"
    public_tools: tuple[str, ...] = ()


def configured_settings() -> PortalSettings:
    """The portal's settings as the configuration (PORTAL_*) gives them."""
    config = current_app.config
    public = config["PORTAL_PUBLIC_TOOLS"]
    return PortalSettings(
        enabled=config["PORTAL_ENABLED"],
        title=config["PORTAL_TITLE"],
        tagline=config["PORTAL_TAGLINE"],
        logo_url=config["PORTAL_LOGO_URL"],
        public_tools=frozenset(public) if public else None,
        intro=config["PORTAL_INTRO"],
    )


def portal_settings() -> PortalSettings:
    """The portal's settings for this request: the configuration with the super admin's
    choices over it (read once per request)."""
    settings = g.get("portal_settings")
    if settings is None:
        settings = g.portal_settings = overridden(configured_settings(), stored_choices())
    return settings


def overridden(configured: PortalSettings, stored: PortalOverrides | None) -> PortalSettings:
    """The configured settings with every field the super admin set replaced."""
    if stored is None:
        return configured
    public_tools = configured.public_tools
    if stored.public_tools_choice == "all":
        public_tools = None
    elif stored.public_tools_choice == "chosen":
        public_tools = frozenset(stored.public_tools or ())
    return PortalSettings(
        enabled=configured.enabled,
        title=configured.title if stored.title is None else stored.title,
        tagline=configured.tagline if stored.tagline is None else stored.tagline,
        logo_url=configured.logo_url if stored.logo_url is None else stored.logo_url,
        public_tools=public_tools,
        intro=configured.intro if stored.intro is None else stored.intro,
    )


def is_public(tool_name: str, settings: PortalSettings | None = None) -> bool:
    """Whether the portal shows this tool."""
    settings = settings or portal_settings()
    return settings.public_tools is None or tool_name in settings.public_tools


def stored_choices() -> PortalOverrides | None:
    """The super admin's row, or None when the settings page was never saved."""
    return db.session.get(PortalOverrides, PORTAL_SETTINGS_ID)


def save_choices(choices: PortalChoices, actor: User) -> list[str]:
    """Store the super admin's choices, with an audit row naming what changed; the names of
    the fields that changed (none: nothing written)."""
    row = stored_choices()
    before = as_values(row)
    after = {
        "title": choices.title,
        "tagline": choices.tagline,
        "logo_url": choices.logo_url,
        "intro": choices.intro,
        "public_tools_choice": choices.public_tools_choice,
        "public_tools": sorted(choices.public_tools) if choices.public_tools_choice else [],
    }
    changed = [name for name, value in after.items() if before[name] != value]
    if not changed:
        return []
    first_row = row is None
    if first_row:
        row = PortalOverrides(id=PORTAL_SETTINGS_ID)
    for name, value in after.items():
        setattr(row, name, value)
    row.updated_by_id = actor.id
    row.updated_at = utcnow()
    # The intro can be long: the audit row says it changed and how long it is now.
    details = {name: after[name] for name in changed if name != "intro"}
    if "intro" in changed:
        details["intro_characters"] = len(choices.intro or "")
    try:
        db.session.add(row)
        record_event(
            "portal.settings", actor=actor, subject=None, details={"changed": changed, **details}
        )  # commits the row with its audit event
    except IntegrityError:
        if not first_row:
            raise
        # Another super admin's first save made the row meanwhile: save over theirs.
        db.session.rollback()
        return save_choices(choices, actor)
    g.pop("portal_settings", None)
    return changed


def as_values(row: PortalOverrides | None) -> dict:
    """A stored row as save_choices() compares it (no row: everything as configured)."""
    if row is None:
        return dict.fromkeys(("title", "tagline", "logo_url", "intro", "public_tools_choice")) | {
            "public_tools": []
        }
    return {
        "title": row.title,
        "tagline": row.tagline,
        "logo_url": row.logo_url,
        "intro": row.intro,
        "public_tools_choice": row.public_tools_choice,
        "public_tools": sorted(row.public_tools or []),
    }


def logo_url_problem(value: str) -> str | None:
    """Why `value` cannot be the portal's logo, or None. It must be a path on this site, such
    as /static/logo.svg: the Content-Security-Policy (img-src 'self' data:) would refuse an
    image from another site, and a page must not show a broken logo."""
    if any(character.isspace() or not character.isprintable() for character in value):
        return "A logo URL has no spaces or control characters."
    if "\\" in value:
        return "A logo URL has no backslashes."
    if not value.startswith("/") or value.startswith("//"):
        return (
            "Give a path on this site, such as /static/logo.svg: pages may show images from "
            "this site only."
        )
    try:
        urlsplit(value)
    except ValueError:
        return "This is not a URL."
    return None


def intro_problem(text: str) -> str | None:
    """Why the intro cannot be shown, or None (it is rendered once here to find out)."""
    try:
        intro_html(text)
    except OutputTooLarge:
        return "This text renders to too much HTML; shorten it or use fewer links."
    return None


@functools.lru_cache(maxsize=16)
def intro_html(text: str) -> Markup:
    """Markdown as HTML that is safe to embed (no scripts, event handlers or javascript:
    links), rendered by the markdown tool: the same renderer and sanitiser the API serves."""
    if not text.strip():
        return Markup("")
    return Markup(render_markdown({"markdown": text})["html"])  # noqa: S704 (sanitised by nh3)
