"""An organisation's people: creating one, its members page (invite, roles, remove, leave),
and the page an emailed invitation opens.

The invitation page says who invites you where, in which role, and offers Accept.

It answers the same way for every visitor until they act: logged out, it asks them to log in
or sign up with the invited address; logged in as someone else, it says the invitation is for
another address (never whether that address has an account); logged in as the invitee, Accept
joins the organisation. A link that cannot be used gets the link-problem page.
"""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.exceptions import HTTPException

from dashboard.audit import ACTION_WORDS
from dashboard.customer_only import customer_only
from dashboard.errors import error_response
from dashboard.extensions import db, limiter
from dashboard.members.forms import (
    ActionForm,
    InviteForm,
    NewOrganisationForm,
    RoleForm,
    SettingsForm,
    SwitchForm,
)
from dashboard.models import Organisation, User, utcnow
from dashboard.models.types import parse_uuid
from dashboard.organisations.current import acting, permission_of, refusal_for, switch_to
from dashboard.organisations.invitations import (
    InvitationProblem,
    accept,
    invitation_for,
    invitation_of,
    invite,
    pending_of,
    resend,
    revoke,
)
from dashboard.organisations.roles import DESCRIPTIONS, Permission, Role, allows, parse_role
from dashboard.organisations.service import (
    MembershipRefused,
    activity_of,
    change_role,
    create_organisation,
    delete_organisation,
    leave,
    members_of,
    organisation_by_slug,
    remove_member,
    role_in,
    transfer_ownership,
    update_settings,
)
from dashboard.organisations.settings import leaked_key_action, set_leaked_key_action

bp = Blueprint("organisations", __name__)

# Invitations and their resends are mail: one limit per person for both.
limit_invitations = limiter.shared_limit(
    lambda: current_app.config["INVITATION_SEND_RATE_LIMIT"],
    scope="invitation-sends",
    key_func=lambda: f"person:{current_user.get_id()}",
    methods=["POST"],
    exempt_when=lambda: (request.view_args or {}).get("action") == "revoke",
    error_message="You have sent many invitations in the last hour. Wait a while, then try again.",
)

PROBLEM_TITLES = {
    "expired": "This invitation has expired",
    "used": "This invitation was already used",
    "revoked": "This invitation was withdrawn",
    "invalid": "This invitation link does not work",
    "other_address": "This invitation is for another address",
}


def problem_page(problem: InvitationProblem):
    return render_template(
        "members/invitation_problem.html", title=PROBLEM_TITLES[problem.reason], problem=problem
    ), 410 if problem.reason in ("expired", "used", "revoked") else 404


@bp.route("/invitations/<token>", methods=["GET", "POST"], endpoint="invitation")
@customer_only  # support viewing as a customer neither reads nor accepts their invitations
def invitation_page(token: str):
    try:
        invitation = invitation_for(token)
    except InvitationProblem as problem:
        return problem_page(problem)
    organisation = db.session.get(Organisation, invitation.organisation_id)
    inviter = db.session.get(User, invitation.invited_by_id) if invitation.invited_by_id else None
    is_invitee = current_user.is_authenticated and current_user.email.lower() == invitation.email
    if request.method == "POST":
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=url_for(".invitation", token=token)), 303)
        try:
            joined = accept(current_user, token)
        except InvitationProblem as problem:
            return problem_page(problem)
        opened = open_if_allowed(joined)
        flash(
            f"You joined {joined.name} as {invitation.role}."
            + (" It is the account open now." if opened else ""),
            "success",
        )
        return redirect(url_for(".members", slug=joined.slug), 303)
    role = Role(invitation.role)
    return render_template(
        "members/invitation.html",
        title=f"Join {organisation.name}",
        invitation=invitation,
        organisation=organisation,
        inviter=inviter,
        role=role,
        role_description=DESCRIPTIONS[role],
        is_invitee=is_invitee,
        token=token,
    )


# Organisations and their people.


def open_if_allowed(organisation: Organisation) -> bool:
    """Open `organisation` as the current account when its rules let the person in."""
    try:
        switch_to(current_user, str(organisation.user_id))
    except ValueError:
        return False
    return True


@bp.post("/accounts/switch", endpoint="switch")
@login_required
@customer_only  # viewing as a customer shows their account only
def switch_account():
    """Open another of the person's accounts (the header's switcher), then the same page."""
    form = SwitchForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        opened = switch_to(current_user, form.account.data)
    except ValueError as refused:
        flash(str(refused), "danger")
        return redirect(url_for("auth.home"), 303)
    flash(f"{opened.name} is the account open now.", "success")
    return redirect(switch_destination(form.next.data), 303)


def switch_destination(target: str | None) -> str:
    """Where to land after a switch: the list page the person was on, never a page of one
    record (it belongs to the other account) or another site."""
    endpoint = None
    if target and target.startswith("/") and not target.startswith("//"):
        try:
            endpoint, arguments = current_app.url_map.bind("").match(target.split("?")[0])
        except HTTPException:
            endpoint = None
        else:
            endpoint = None if arguments else endpoint
    permission = permission_of(current_app.view_functions.get(endpoint))
    if endpoint and permission and acting().may(permission):
        return url_for(endpoint)
    return url_for("auth.home")


@bp.post("/o/<slug>/settings", endpoint="settings")
@login_required
def organisation_settings(slug: str):
    organisation, role = membership_or_404(slug)
    require(role, Permission.WRITE_SETTINGS)
    form = SettingsForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            flash(" ".join(errors), "danger")
        return back_to_members(organisation)
    if form.require_two_factor.data and not current_user.two_factor_enabled:
        flash("Turn on two-factor sign-in yourself first, or you would be locked out.", "danger")
        return back_to_members(organisation)
    set_leaked_key_action(
        organisation.account, form.leaked_key_action.data, actor=current_user, commit=False
    )
    update_settings(
        current_user,
        organisation,
        billing_email=form.billing_email.data,
        require_two_factor=form.require_two_factor.data,
    )
    flash("The organisation's settings are saved.", "success")
    return back_to_members(organisation)


def membership_or_404(slug: str) -> tuple[Organisation, Role]:
    """The organisation of `slug` and the current person's role in it; 404 for anyone else
    (an organisation's existence is not told to strangers), 403 for a member it asks to turn
    on two-factor sign-in first."""
    organisation = organisation_by_slug(slug)
    role = role_in(current_user, organisation.account) if organisation else None
    if organisation is None or role is None:
        abort(404)
    refusal = refusal_for(current_user, organisation)
    if refusal:
        abort(make_response(error_response(403, refusal)))
    return organisation, role


def require(role: Role, permission: Permission) -> None:
    """403 with a page that says why, unless `role` may do `permission`."""
    if not allows(role, permission):
        message = f"As {role.value} you cannot do this here: ask an owner or an admin."
        abort(make_response(error_response(403, message)))


def checked_action() -> None:
    """Refuse an action whose form carries no valid CSRF token."""
    if not ActionForm().validate_on_submit():
        abort(400)


def back_to_members(organisation: Organisation):
    return redirect(url_for(".members", slug=organisation.slug), 303)


@bp.route("/organisations/new", methods=["GET", "POST"], endpoint="new")
@login_required
@limiter.limit(
    lambda: current_app.config["ORGANISATION_CREATE_RATE_LIMIT"],
    key_func=lambda: f"person:{current_user.get_id()}",
    methods=["POST"],
    error_message="You have created many organisations today. Try again tomorrow.",
)
@customer_only  # support viewing as a customer creates nothing in their name
def new_organisation():
    form = NewOrganisationForm()
    if form.validate_on_submit():
        try:
            organisation = create_organisation(
                current_user, form.name.data, form.billing_email.data or None
            )
        except MembershipRefused as refused:
            form.name.errors.append(str(refused))
        else:
            switch_to(current_user, str(organisation.user_id))
            flash(
                f"{organisation.name} is created, and you are its owner. It is the account "
                "open now: keys, logs and usage you see are its own.",
                "success",
            )
            return back_to_members(organisation)
    status = 422 if form.errors else 200
    return render_template("members/new.html", title="New organisation", form=form), status


@bp.get("/o/<slug>/members/", endpoint="members")
@login_required
def members_page(slug: str):
    organisation, role = membership_or_404(slug)
    return render_members(organisation, role, InviteForm(formdata=None))


def render_members(organisation: Organisation, role: Role, invite_form, status: int = 200):
    manages = allows(role, Permission.WRITE_MEMBERS)
    return render_template(
        "members/index.html",
        title=f"{organisation.name}: members",
        organisation=organisation,
        role=role,
        manages=manages,
        members=members_of(organisation),
        invitations=pending_of(organisation) if manages else [],
        invite_form=invite_form,
        settings_form=SettingsForm(
            formdata=None,
            obj=organisation,
            leaked_key_action=leaked_key_action(organisation.user_id),
        )
        if allows(role, Permission.WRITE_SETTINGS)
        else None,
        action_form=ActionForm(),
        activity=activity_of(organisation),
        action_words=ACTION_WORDS,
        roles=list(Role),
        descriptions=DESCRIPTIONS,
        now=utcnow(),
    ), status


@bp.post("/o/<slug>/members/invite", endpoint="invite")
@login_required
@limit_invitations
def invite_member(slug: str):
    organisation, role = membership_or_404(slug)
    require(role, Permission.WRITE_MEMBERS)
    form = InviteForm()
    if form.validate_on_submit():
        chosen = parse_role(form.role.data)
        try:
            invite(current_user, organisation, form.email.data, chosen)
        except MembershipRefused as refused:
            form.email.errors.append(str(refused))
        else:
            flash(f"Invitation sent to {form.email.data.strip()}.", "success")
            return back_to_members(organisation)
    return render_members(organisation, role, form, status=422)


def flash_outcome(action, done: str) -> None:
    """Run `action`; flash the refusal it raises, or `done`."""
    try:
        action()
    except MembershipRefused as refused:
        flash(str(refused), "danger")
    else:
        flash(done, "success")


def member_action(slug: str, person_id: str, permission: Permission, action, done: str):
    """A button on a member's row: checked role, CSRF token and id, then `action(actor,
    organisation, member_id)` with its outcome flashed on the members page."""
    organisation, role = membership_or_404(slug)
    require(role, permission)
    checked_action()
    person = parse_uuid(person_id)
    if person is None:
        abort(404)
    flash_outcome(lambda: action(current_user, organisation, person), done)
    return back_to_members(organisation)


@bp.post("/o/<slug>/members/<person_id>/role", endpoint="change_role")
@login_required
def change_member_role(slug: str, person_id: str):
    organisation, role = membership_or_404(slug)
    require(role, Permission.WRITE_MEMBERS)
    form = RoleForm()
    person = parse_uuid(person_id)
    if not form.validate_on_submit() or person is None:
        abort(400 if person else 404)
    chosen = parse_role(form.role.data)
    flash_outcome(
        lambda: change_role(current_user, organisation, person, chosen), "The role is changed."
    )
    return back_to_members(organisation)


@bp.post("/o/<slug>/members/<person_id>/remove", endpoint="remove")
@login_required
def remove(slug: str, person_id: str):
    return member_action(
        slug,
        person_id,
        Permission.WRITE_MEMBERS,
        remove_member,
        "The member is removed; their next page no longer opens the organisation.",
    )


@bp.post("/o/<slug>/members/<person_id>/transfer", endpoint="transfer")
@login_required
def transfer(slug: str, person_id: str):
    """Make a member an owner, and the owner who asks an admin."""
    return member_action(
        slug,
        person_id,
        Permission.TRANSFER_OWNERSHIP,
        transfer_ownership,
        "Ownership is transferred; you are an admin now.",
    )


@bp.post("/o/<slug>/delete", endpoint="delete")
@login_required
def delete(slug: str):
    """Delete the organisation and all it owns, after its name is typed to confirm."""
    organisation, role = membership_or_404(slug)
    require(role, Permission.DELETE_ORGANISATION)
    checked_action()
    name = organisation.name
    try:
        delete_organisation(current_user, organisation, request.form.get("confirm_name", ""))
    except MembershipRefused as refused:
        flash(str(refused), "danger")
        return back_to_members(organisation)
    switch_to(current_user, str(current_user.id))
    flash(f"{name} and all its keys, logs and usage were deleted.", "success")
    return redirect(url_for("account.index"), 303)


@bp.post("/o/<slug>/leave", endpoint="leave")
@login_required
def leave_organisation(slug: str):
    organisation, _ = membership_or_404(slug)
    checked_action()
    try:
        leave(current_user, organisation)
    except MembershipRefused as refused:
        flash(str(refused), "danger")
        return back_to_members(organisation)
    if acting().account.id == organisation.user_id:
        switch_to(current_user, str(current_user.id))
    flash(f"You left {organisation.name}.", "success")
    return redirect(url_for("account.index"), 303)


@bp.post("/o/<slug>/invitations/<invitation_id>/<action>", endpoint="invitation_action")
@login_required
@limit_invitations
def invitation_action(slug: str, invitation_id: str, action: str):
    organisation, role = membership_or_404(slug)
    require(role, Permission.WRITE_MEMBERS)
    checked_action()
    invitation_key = parse_uuid(invitation_id)
    invitation = invitation_of(organisation, invitation_key) if invitation_key else None
    if invitation is None or action not in ("resend", "revoke"):
        abort(404)
    if action == "resend":
        flash_outcome(
            lambda: resend(current_user, organisation, invitation),
            f"Invitation sent again to {invitation.email}; the earlier link no longer works.",
        )
    else:
        flash_outcome(
            lambda: revoke(current_user, organisation, invitation),
            f"The invitation to {invitation.email} is withdrawn.",
        )
    return back_to_members(organisation)
