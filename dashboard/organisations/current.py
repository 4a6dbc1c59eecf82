"""The account a request acts on, and what the person may do there.

A person picks the account in the header's switcher (their own, or an organisation they
belong to); the choice is kept in their session under ACCOUNT_KEY. URLs do not name the
account: every page of keys, logs, usage, errors, tools, alerts and webhooks reads
`current_account`, and the header always says which account is open.

Every view of those pages carries a mark, `@acts_on(permission)` (roles.py's table decides who
holds it). Before each request `guard_account_pages` resolves the account and checks the mark:

- the membership is read on every request, so a member who is removed, or whose role changes,
  is refused from their next request on, in every session;
- an organisation that requires two-factor sign-in is not opened for a member without it;
- a role without the permission gets 403 (a page, or a JSON error), before the view runs.

When the kept choice is no longer allowed, the person is back on their own account with a
message saying why. While support views as a customer, the account is the one viewed (a
person's own, or an organisation) and the session's choice is not read.
"""

import uuid
from dataclasses import dataclass

from flask import Flask, current_app, flash, g, request, session
from flask_login import current_user, user_logged_in
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.local import LocalProxy

from dashboard.errors import refusal_response
from dashboard.extensions import db
from dashboard.models import Organisation, User
from dashboard.organisations.roles import Permission, Role, allows
from dashboard.organisations.service import accounts_of, role_in

ACCOUNT_KEY = "account_id"
MARK = "account_permission"
# `@acts_on(ANY_ROLE)`: every member may open the page (the tool catalog).
ANY_ROLE = "any"


def acts_on(permission: Permission | str):
    """Mark a view as a page of the current account that needs `permission` there (put it
    under the route decorator). Views of account pages without a mark are refused."""

    def mark(view):
        setattr(view, MARK, permission)
        return view

    return mark


def permission_of(view) -> Permission | str | None:
    return getattr(view, MARK, None)


@dataclass(frozen=True)
class Acting:
    """Who acts (the person logged in, or the customer viewed), on which account, as what."""

    account: User
    organisation: Organisation | None
    role: Role

    @property
    def name(self) -> str:
        return self.organisation.name if self.organisation else "Personal"

    def may(self, permission: Permission | str) -> bool:
        return permission == ANY_ROLE or allows(self.role, permission)


def acting() -> Acting:
    """The current request's account (resolved once per request)."""
    if "acting" not in g:
        g.acting = resolve()
    return g.acting


def resolve() -> Acting:
    person = current_user._get_current_object()
    own = Acting(person, db.session.get(Organisation, person.id), Role.OWNER)
    chosen = session.get(ACCOUNT_KEY)
    if g.get("impersonation") is not None or not chosen or chosen == str(person.id):
        return own  # viewing as a customer: the account viewed, a person or an organisation
    try:
        organisation = db.session.get(Organisation, uuid.UUID(chosen))
    except (ValueError, TypeError):
        organisation = None
    refusal = refusal_for(person, organisation)
    if refusal:
        session.pop(ACCOUNT_KEY, None)
        if request.method in ("GET", "HEAD") and not request.headers.get("HX-Request"):
            flash(refusal, "warning")
        return own
    return Acting(organisation.account, organisation, role_in(person, organisation.account))


def refusal_for(person: User, organisation: Organisation | None) -> str | None:
    """Why `person` may not open `organisation` now, or None when they may."""
    if organisation is None or role_in(person, organisation.account) is None:
        return "You are no longer a member of that organisation, so your own account is open."
    if organisation.require_two_factor and not person.two_factor_enabled:
        return (
            f"{organisation.name} asks every member to use two-factor sign-in. "
            "Turn it on (Account, Two-factor sign-in) to open it."
        )
    return None


def switch_to(person: User, account_id: str) -> Acting:
    """Keep `account_id` as the person's open account; ValueError with the reason if they may
    not open it."""
    if account_id == str(person.id):
        session.pop(ACCOUNT_KEY, None)
    else:
        try:
            organisation = db.session.get(Organisation, uuid.UUID(account_id))
        except (ValueError, TypeError):
            organisation = None
        refusal = refusal_for(person, organisation)
        if refusal:
            raise ValueError(
                "That account is not one of yours." if "no longer" in refusal else refusal
            )
        session[ACCOUNT_KEY] = str(organisation.user_id)
    g.pop("acting", None)
    return acting()


current_account: User = LocalProxy(lambda: acting().account)  # type: ignore[assignment]


def guard_account_pages():
    """Before each request: refuse an account page the role may not open (see the module)."""
    if request.endpoint is None or not current_user.is_authenticated:
        return None
    permission = permission_of(current_app.view_functions.get(request.endpoint))
    if permission is None:
        return None
    here = acting()
    if here.may(permission):
        return None
    return refusal_response(
        f"Your role in {here.name} ({here.role.value}) may not do this.",
        "An owner or admin of the organisation can change your role.",
    )


def account_context() -> dict:
    """The header's switcher: the open account and the others the person may open."""
    try:
        if not current_user.is_authenticated:
            return {}
        acting()
    except SQLAlchemyError:
        return {}  # the database is down: the error page renders without the switcher
    if g.get("impersonation") is not None:
        return {"acting": acting(), "current_account": current_account}
    return {
        "acting": acting(),
        "current_account": current_account,
        "account_choices": lambda: accounts_of(current_user),
    }


def forget_choice(sender, user, **extra) -> None:
    """A new sign-in starts on the person's own account."""
    session.pop(ACCOUNT_KEY, None)


def init_app(app: Flask) -> None:
    app.before_request(guard_account_pages)
    app.context_processor(account_context)
    user_logged_in.connect(forget_choice, app)
