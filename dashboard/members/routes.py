"""The page an emailed invitation opens: who invites you where, in which role, and Accept.

It answers the same way for every visitor until they act: logged out, it asks them to log in
or sign up with the invited address; logged in as someone else, it says the invitation is for
another address (never whether that address has an account); logged in as the invitee, Accept
joins the organisation. A link that cannot be used gets the link-problem page.
"""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from dashboard.customer_only import customer_only
from dashboard.extensions import db
from dashboard.models import Organisation, User
from dashboard.organisations.invitations import InvitationProblem, accept, invitation_for
from dashboard.organisations.roles import DESCRIPTIONS, Role

bp = Blueprint("organisations", __name__)

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
        flash(f"You joined {joined.name} as {invitation.role}.", "success")
        return redirect(url_for("auth.home"), 303)
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
