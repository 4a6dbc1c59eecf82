"""The portal's reference pages: the API reference (/docs/api, the served OpenAPI document
rendered by Redoc) and the tools' changelog (/docs/changelog, and its Atom feed), made from the
registry. Public (no log-in); 404 while the portal is off (PORTAL_ENABLED)."""

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, abort, render_template, url_for

from dashboard.api.catalog import active_tools
from dashboard.models import utcnow
from dashboard.portal.routes import public_page
from dashboard.portal.settings import is_public, portal_settings
from dashboard.public_url import public_url_for
from dashboard.tools.tool import ToolVersion, midnight

bp = Blueprint("portal_reference", __name__, url_prefix="/docs")

# What befell a version on a day, as the changelog words it.
KINDS = {"released": "Released", "deprecated": "Deprecated", "retired": "Retired"}


@bp.before_request
def portal_on():
    """No portal, no pages: a 404, as for any unknown address."""
    if not portal_settings().enabled:
        abort(404)


@bp.get("/api")
def api_reference():
    """The API reference: the served OpenAPI document, rendered in the browser by Redoc."""
    return public_page(
        render_template(
            "portal_reference/api.html",
            title="API reference",
            settings=portal_settings(),
            document_url=url_for("api.openapi"),
        )
    )


@dataclass(frozen=True)
class Change:
    """One line of the changelog: a version released, deprecated or retired on a day."""

    day: date
    kind: str  # a key of KINDS
    tool: ToolVersion

    @property
    def label(self) -> str:
        return KINDS[self.kind]

    @property
    def anchor(self) -> str:
        """The line's fragment id, also its Atom entry's id."""
        return f"{self.tool.name}-{self.tool.version}-{self.kind}"


def changes(today: date) -> tuple[list[Change], list[Change]]:
    """(what happened, newest first; retirements to come, soonest first) for the public tools."""
    past, coming = [], []
    settings = portal_settings()
    for tool in active_tools().all():
        if not is_public(tool.name, settings):
            continue
        if tool.released_on is not None:
            past.append(Change(tool.released_on, "released", tool))
        if tool.deprecated_on is not None and tool.deprecated_on <= today:
            past.append(Change(tool.deprecated_on, "deprecated", tool))
        elif tool.deprecated_on is not None:
            coming.append(Change(tool.deprecated_on, "deprecated", tool))
        if tool.sunset_on is not None:
            retired = Change(tool.sunset_on, "retired", tool)
            (past if tool.retired(today) else coming).append(retired)
    order = {"released": 0, "deprecated": 1, "retired": 2}
    past.sort(key=lambda c: (c.day, order[c.kind], c.tool.name, c.tool.version), reverse=True)
    coming.sort(key=lambda c: (c.day, c.tool.name, c.tool.version))
    return past, coming


@bp.get("/changelog")
def changelog():
    """Versions released, deprecated and retired, newest first, and the retirements to come."""
    today = utcnow().date()
    past, coming = changes(today)
    return public_page(
        render_template(
            "portal_reference/changelog.html",
            title="Tools changelog",
            settings=portal_settings(),
            past=past,
            coming=coming,
        )
    )


@bp.get("/changelog.atom")
def changelog_feed():
    """The changelog as an Atom feed (RFC 4287): what happened, newest first."""
    past, _ = changes(utcnow().date())
    page = public_url_for("portal_reference.changelog")
    body = render_template(
        "portal_reference/changelog.atom",
        settings=portal_settings(),
        past=past[:50],
        page=page,
        feed=public_url_for("portal_reference.changelog_feed"),
        updated=midnight(past[0].day) if past else midnight(date(2026, 1, 1)),
        midnight=midnight,
    )
    return public_page(body, mimetype="application/atom+xml")
