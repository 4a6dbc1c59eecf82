"""The support console: search, a customer's page, viewing as them, roles, plans, the audit log."""

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from wtforms import SelectChoice

from dashboard.audit import ACTION_WORDS
from dashboard.auth.service import user_by_id
from dashboard.errors import error_response
from dashboard.plans import all_plans, plan_named
from dashboard.support import impersonation
from dashboard.support.audit import (
    AuditFilter,
    audit_page,
    organisations_among,
    support_access_for,
)
from dashboard.support.forms import (
    AuditFilterForm,
    EndImpersonationForm,
    ImpersonateForm,
    PlanForm,
    RoleForm,
    SearchForm,
)
from dashboard.support.guards import (
    forbidden_while_impersonating,
    staff_required,
    super_admin_required,
)
from dashboard.support.service import (
    NotAllowed,
    alerting_overview,
    change_plan,
    change_role,
    impersonation_refusal,
    keys_overview,
    latest_errors,
    people_overview,
    search_accounts,
    shown_name,
    this_month_usage,
)
from dashboard.templating import fragment_request

bp = Blueprint("support", __name__, url_prefix="/support")
bp.record_once(lambda state: impersonation.install(state.app))
bp.after_app_request(impersonation.audit_impersonated_write)
bp.app_context_processor(impersonation.banner_context)
bp.add_app_template_global(support_access_for)


def with_vary(body):
    """A response that caches apart from its htmx fragment."""
    response = make_response(body)
    response.headers["Vary"] = "HX-Request, HX-History-Restore-Request"
    return response


@bp.get("/")
@staff_required
def index():
    """Search accounts by email, organisation name or slug, account id or key prefix."""
    form = SearchForm(request.args)
    page = None
    if form.q.data and form.validate():
        page = search_accounts(form.q.data, after=request.args.get("after") or None)
    template = "support/_results.html" if fragment_request() else "support/index.html"
    return with_vary(render_template(template, form=form, page=page))


def subject_or_404(user_id: str):
    """The account with this id, or a 404 page that says so (unknown and malformed alike)."""
    subject = user_by_id(user_id)
    if subject is None:
        abort(make_response(error_response(404, "No account has that id. Search for it again.")))
    return subject


def plan_form_for(subject, formdata=None) -> PlanForm:
    """The plan picker, offering this deployment's plans."""
    form = PlanForm(formdata=formdata, plan=subject.subscription_plan)
    form.plan.choices = [SelectChoice(p.name, p.title) for p in all_plans()]
    return form


def render_user(subject, impersonate_form=None, role_form=None, plan_form=None, status=200):
    """The customer's console page, with any forms that came back with errors."""
    return render_template(
        "support/user.html",
        subject=subject,
        plan=plan_named(subject.subscription_plan),
        keys=keys_overview(subject),
        errors=latest_errors(subject),
        usage=this_month_usage(subject),
        people=people_overview(subject),
        refusal=impersonation_refusal(current_user, subject),
        recent_access=support_access_for(subject)[:5],
        alerting=alerting_overview(subject.id),
        impersonate_form=impersonate_form or ImpersonateForm(formdata=None),
        role_form=role_form or RoleForm(formdata=None, role=subject.role),
        plan_form=plan_form or plan_form_for(subject),
    ), status


@bp.get("/users/<user_id>")
@staff_required
def user_detail(user_id: str):
    """One customer: plan, dates, keys, this month's usage and latest errors."""
    return render_user(subject_or_404(user_id))


@bp.post("/users/<user_id>/impersonate")
@forbidden_while_impersonating
@staff_required
def impersonate(user_id: str):
    """Start viewing as this customer, with a reason."""
    subject = subject_or_404(user_id)
    form = ImpersonateForm()
    if not form.validate_on_submit():
        return render_user(subject, impersonate_form=form, status=422)
    try:
        impersonation.start_impersonation(current_user, subject, form.reason.data)
    except NotAllowed as refusal:
        return error_response(403, str(refusal))
    flash(f"Now viewing as {shown_name(subject)}. Actions are limited and audited.", "warning")
    return redirect(url_for("auth.home"), 303)


@bp.post("/impersonation/end")
def end_impersonation():
    """End viewing as a customer (the banner's button) and go back to their console page."""
    form = EndImpersonationForm()
    if not form.validate_on_submit():
        abort(400)
    if g.get("impersonation") is None:
        if not current_user.is_authenticated or not current_user.is_staff:
            abort(404)
        flash("You were not viewing as anyone.", "info")
        return redirect(url_for("support.index"), 303)
    subject = impersonation.end_impersonation("button")
    flash(f"You stopped viewing as {shown_name(subject)}.", "success")
    return redirect(url_for("support.user_detail", user_id=subject.id), 303)


@bp.post("/users/<user_id>/role")
@forbidden_while_impersonating
@staff_required
def role(user_id: str):
    """Grant or remove the support role (super admins only)."""
    subject = subject_or_404(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        return render_user(subject, role_form=form, status=422)
    try:
        changed = change_role(current_user, subject, form.role.data)
    except NotAllowed as refusal:
        return error_response(403, str(refusal))
    flash(f"{shown_name(subject)} is now “{subject.role}”." if changed else "No change.", "success")
    return redirect(url_for("support.user_detail", user_id=subject.id), 303)


@bp.post("/users/<user_id>/plan")
@forbidden_while_impersonating
@staff_required
def plan(user_id: str):
    """Move the customer to another plan (super admins only)."""
    subject = subject_or_404(user_id)
    form = plan_form_for(subject, formdata=request.form)
    if not form.validate_on_submit():
        return render_user(subject, plan_form=form, status=422)
    try:
        changed = change_plan(current_user, subject, form.plan.data)
    except NotAllowed as refusal:
        return error_response(403, str(refusal))
    title = plan_named(subject.subscription_plan).title
    flash(f"{shown_name(subject)} is now on {title}." if changed else "No change.", "success")
    return redirect(url_for("support.user_detail", user_id=subject.id), 303)


@bp.get("/audit")
@super_admin_required
def audit():
    """The whole audit log, newest first, filtered by action, people and dates."""
    form = AuditFilterForm(request.args)
    valid = form.validate()
    filters = AuditFilter(
        action=form.action.data or "",
        actor=form.actor.data or "",
        subject=form.subject.data or "",
        since=form.since.data if valid else None,
        until=form.until.data if valid else None,
    )
    events, following = audit_page(filters, before=request.args.get("before"))
    next_args = {k: v for k, v in request.args.items() if k != "before" and v}
    template = "support/_audit_rows.html" if fragment_request() else "support/audit.html"
    return with_vary(
        render_template(
            template,
            form=form,
            events=events,
            organisations=organisations_among(events),
            following=following,
            next_args=next_args,
            action_words=ACTION_WORDS,
        )
    )
