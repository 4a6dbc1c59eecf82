"""The portal's public pages: the landing page, a page per tool version, pricing, the
quickstart, and the sitemap and robots.txt that point search engines at them.

No page needs a log-in. Each answer carries an ETag and Cache-Control, and a conditional
request whose ETag still matches is answered 304. When the portal is off every page here is
404 and `/` is the dashboard's front door (dashboard.auth.routes.home), as without a portal.
"""

import json

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user

from dashboard.auth.routes import home as dashboard_home
from dashboard.extensions import db
from dashboard.models import ApiKey, utcnow
from dashboard.organisations.current import current_account
from dashboard.plans import all_plans
from dashboard.portal.docs import (
    error_codes,
    limits_of_tool,
    public_tool,
    public_tools,
    schema_rows,
    worked_example,
)
from dashboard.portal.samples import KEY_VARIABLE, samples_for
from dashboard.portal.settings import is_public, portal_settings
from dashboard.public_url import public_url_for

bp = Blueprint("portal", __name__)

# Where the API reference is served (by the reference page's blueprint, when registered).
# Anonymous visitors' pages may be kept by browsers and proxies this long, then revalidated.
PUBLIC_MAX_AGE = 300


@bp.before_request
def portal_on():
    """Every portal page is 404 while the portal is off (`/` falls back to the dashboard)."""
    if not portal_settings().enabled and request.endpoint != "portal.landing":
        abort(404)


@bp.app_context_processor
def portal_context() -> dict:
    """The portal's texts and links, for its header (on every page of the portal)."""
    if request.blueprint not in ("portal", "portal_reference"):
        return {}
    settings = portal_settings()
    return {
        "portal": settings,
        "site_name": settings.title,
        "public_page": True,
        "api_reference_url": api_reference_url(),
        "canonical_url": canonical_url(),
    }


@bp.app_context_processor
def public_docs_link() -> dict:
    """`public_docs_url(tool)` for the dashboard's tool page: the tool version's public page,
    or None while the portal is off or the tool is not public."""
    return {"public_docs_url": public_docs_url}


def public_docs_url(tool) -> str | None:
    settings = portal_settings()
    if not settings.enabled or not is_public(tool.name, settings):
        return None
    return url_for("portal.tool", name=tool.name, version=tool.version)


@bp.get("/")
def landing():
    """The landing page for visitors; people logged in go where the dashboard sends them, and
    so does a visitor with a message waiting (`Address confirmed`: the log-in page shows it)."""
    if current_user.is_authenticated or not portal_settings().enabled or "_flashes" in session:
        return dashboard_home()
    return public_page(render_template("portal/landing.html", tools=public_tools()))


@bp.get("/docs/tools/")
def tools():
    """Every public tool, with its versions."""
    return public_page(render_template("portal/tools.html", tools=public_tools()))


@bp.get("/docs/tools/<name>")
@bp.get("/docs/tools/<name>/<version>")
def tool(name: str, version: str | None = None):
    """One tool version's documentation: fields, worked example, samples, errors, limits."""
    found = public_tool(name)
    chosen = found and (
        found.latest
        if version is None
        else next((t for t in found.versions if t.version == version), None)
    )
    if not chosen:
        return not_found(found, name, version)
    example = worked_example(chosen)
    url = public_url_for("api.call_tool", name=chosen.name, version=chosen.version)
    page = render_template(
        "portal/tool.html",
        entry=found,
        tool=chosen,
        inputs=schema_rows(chosen.input_schema),
        outputs=schema_rows(chosen.output_schema),
        example=example,
        request_json=json.dumps(example.input, indent=2, ensure_ascii=False),
        answer_json=json.dumps(example.answer, indent=2, ensure_ascii=False)
        if example.answer
        else None,
        samples=samples_for(chosen, url, current_app.config["PUBLIC_URL"]),
        key_hint=key_hint(),
        key_variable=KEY_VARIABLE,
        errors=error_codes(chosen),
        limits=limits_of_tool(chosen),
    )
    return public_page(page)


@bp.get("/pricing")
def pricing():
    """The plans: calls, limits, keys, log retention and price."""
    return public_page(render_template("portal/pricing.html", plans=all_plans()))


@bp.get("/quickstart")
def quickstart():
    """Four steps: sign up, create a key, make a first call, read its log."""
    tools = public_tools()
    first = next((entry.latest for entry in tools if entry.name == "echo"), None)
    first = first or (tools[0].latest if tools else None)
    curl = None
    if first is not None:
        url = public_url_for("api.call_tool", name=first.name, version=first.version)
        curl = samples_for(first, url, current_app.config["PUBLIC_URL"])[0].code
    usage_curl = f'curl -s {public_url_for("api.usage")} -H "Authorization: Bearer ${KEY_VARIABLE}"'
    page = render_template(
        "portal/quickstart.html", first=first, curl=curl, usage_curl=usage_curl, key_hint=key_hint()
    )
    return public_page(page)


@bp.get("/sitemap.xml")
def sitemap():
    """Every public page, for search engines."""
    body = render_template("portal/sitemap.xml", urls=page_urls())
    return public_page(body, mimetype="application/xml")


@bp.get("/robots.txt")
def robots():
    """Public pages may be indexed; the dashboard's pages need a log-in and are not."""
    body = render_template("portal/robots.txt", sitemap=public_url_for("portal.sitemap"))
    return public_page(body, mimetype="text/plain")


def page_urls() -> list[str]:
    """The absolute URL of every public page: the fixed ones, then each tool and version."""
    urls = [
        public_url_for(endpoint)
        for endpoint in (
            "portal.landing",
            "portal.tools",
            "portal.pricing",
            "portal.quickstart",
            "portal_reference.api_reference",
            "portal_reference.changelog",
        )
    ]
    for entry in public_tools():
        urls.append(public_url_for("portal.tool", name=entry.name))
        urls.extend(
            public_url_for("portal.tool", name=entry.name, version=tool.version)
            for tool in entry.versions
        )
    return urls


def not_found(entry, name: str, version: str | None):
    """A 404 that helps: which tool or version is unknown, and the ones there are."""
    page = render_template(
        "portal/not_found.html", entry=entry, name=name, version=version, tools=public_tools()
    )
    response = make_response(page, 404)
    response.headers["Cache-Control"] = "no-cache"
    return response


def public_page(body: str, mimetype: str = "text/html"):
    """The answer with an ETag and Cache-Control, or 304 when the visitor's copy is current.

    A logged-in visitor's page names their key, and a page that showed a flashed message
    (which changes the session) is this visitor's: both are private to them."""
    response = make_response(body)
    response.mimetype = mimetype
    if current_user.is_authenticated or session.modified:
        response.headers["Cache-Control"] = "private, no-cache"
    else:
        response.headers["Cache-Control"] = f"public, max-age={PUBLIC_MAX_AGE}"
    response.vary.add("Cookie")
    response.add_etag()
    return response.make_conditional(request)


def canonical_url() -> str | None:
    """This page's address under PUBLIC_URL (what search engines should index)."""
    if request.url_rule is None or request.endpoint is None:
        return None
    return public_url_for(request.endpoint, **(request.view_args or {}))


def api_reference_url() -> str:
    """The API reference page's address."""
    return url_for("portal_reference.api_reference")


def key_hint() -> str | None:
    """The prefix of the logged-in account's newest working key (`tk_live_ab12`), or None."""
    if not current_user.is_authenticated:
        return None
    query = (
        sa.select(ApiKey.prefix)
        .where(
            ApiKey.user_id == current_account.id,
            ApiKey.revoked_at.is_(None),
            ApiKey.is_playground.is_(False),
            sa.or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > utcnow()),
        )
        .order_by(ApiKey.created_at.desc())
        .limit(1)
    )
    return db.session.scalar(query)
