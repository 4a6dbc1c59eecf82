"""Sign-up, log-in and log-out pages."""

import math
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter import RequestLimit
from flask_login import current_user, login_required, login_user, logout_user

from dashboard.auth.emails import send_signup_attempt, send_verification
from dashboard.auth.forms import LoginForm, SignupForm, TwoFactorCodeForm
from dashboard.auth.history import record_security_event
from dashboard.auth.service import (
    authenticate,
    normalise_email,
    record_login,
    register,
    user_by_email,
    user_by_id,
)
from dashboard.auth.two_factor import second_factor_ok
from dashboard.extensions import limiter, login_manager
from dashboard.mail import outbox_page_enabled
from dashboard.models import utcnow
from dashboard.sessions.records import (
    active_session_for,
    end_current_session,
    start_session_record,
)
from dashboard.sessions.store import fresh_session

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = "Log in to see that page."
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(user_id: str):
    """The account of this session, only while its server-side record is active."""
    user = user_by_id(user_id)
    if user is None or active_session_for(user.id) is None:
        return None
    return user


def safe_next(target: str | None) -> str:
    """A same-site path to go to after logging in; anything else goes home."""
    if target:
        parts = urlsplit(target)
        if (
            not parts.scheme
            and not parts.netloc
            and target.startswith("/")
            and not target.startswith("//")
        ):
            return target
    return url_for("auth.home")


def form_email_key(prefix: str):
    """A limiter key per email address posted in the form (throttles per address)."""
    return lambda: prefix + normalise_email(request.form.get("email", ""))[:254]


login_email_key = form_email_key("login:")


def failed_login(response) -> bool:
    return response.status_code != 303


def start_session(user) -> None:
    """Log `user` in on a fresh session (new id, nothing from before the login carries over)."""
    fresh_session()
    start_session_record(user)
    login_user(user)
    record_login(user)
    record_security_event(user, "login")


@bp.get("/")
def home():
    """The front door: the console for support staff (unless viewing as a customer), usage for
    customers, the log-in page for everyone else."""
    if current_user.is_authenticated:
        if current_user.is_staff and g.get("impersonation") is None:
            return redirect(url_for("support.index"))
        return redirect(url_for("usage.index"))
    return redirect(url_for("auth.login"))


SIGNED_UP_EMAIL = "signed_up_email"


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["SIGNUP_RATE_LIMIT_PER_IP"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["SIGNUP_RATE_LIMIT_PER_EMAIL"],
    key_func=form_email_key("signup:"),
    methods=["POST"],
)
def signup():
    """Create an account; the answer is the same whether the address already has one."""
    if current_user.is_authenticated:
        return redirect(url_for("auth.home"))
    form = SignupForm()
    if form.validate_on_submit():
        user = register(form.email.data, form.password.data)
        if user is None:
            existing = user_by_email(form.email.data)
            if existing is not None:
                send_signup_attempt(existing)
        else:
            send_verification(user, signs_in=True)
        session[SIGNED_UP_EMAIL] = normalise_email(form.email.data)
        return redirect(url_for("auth.signup_sent"), 303)
    return render_template("auth/signup.html", form=form)


@bp.get("/signup/sent")
def signup_sent():
    """After sign-up: check your inbox, or log in right away (confirming can wait)."""
    email = session.get(SIGNED_UP_EMAIL)
    if not email:
        return redirect(url_for("auth.signup"))
    form = LoginForm(formdata=None, data={"email": email})
    return render_template(
        "auth/signup_sent.html", email=email, form=form, outbox=outbox_page_enabled()
    )


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_PER_IP"],
    methods=["POST"],
    deduct_when=failed_login,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_PER_EMAIL"],
    key_func=login_email_key,
    methods=["POST"],
    deduct_when=failed_login,
)
def login():
    """Log in with email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("auth.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is None:
            form.password.errors.append("That email and password do not match an account.")
        elif user.is_disabled:
            form.email.errors.append("This account is disabled. Contact support.")
        elif user.two_factor_enabled:
            return ask_for_code(user, request.args.get("next"))
        else:
            start_session(user)
            return redirect(safe_next(request.args.get("next")), 303)
    return render_template("auth/login.html", form=form)


# Between a right password and a right code: who, since when, and where to go after.
PENDING_LOGIN = "pending_two_factor_login"
CODE_MINUTES = 5


def ask_for_code(user, next_url: str | None):
    """The password was right: remember that (on the server) and ask for the second factor."""
    fresh_session()
    session[PENDING_LOGIN] = {
        "user": str(user.id),
        "at": utcnow().isoformat(),
        "next": safe_next(next_url),
    }
    return redirect(url_for("auth.login_code"), 303)


def pending_login_user():
    """The account waiting for its code, while the wait is under CODE_MINUTES."""
    pending = session.get(PENDING_LOGIN)
    if not isinstance(pending, dict):
        return None
    try:
        since = datetime.fromisoformat(pending.get("at", ""))
    except (TypeError, ValueError):
        return None
    if utcnow() - since > timedelta(minutes=CODE_MINUTES):
        return None
    return user_by_id(pending.get("user", ""))


def pending_login_key() -> str:
    pending = session.get(PENDING_LOGIN)
    return "totp:" + (pending.get("user", "") if isinstance(pending, dict) else "none")


def wait_words(limit: RequestLimit) -> str:
    """ "3 minutes": how long until `limit` lets the next try through."""
    minutes = max(1, math.ceil((limit.reset_at - time.time()) / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def code_form_refused(limit: RequestLimit):
    """The code form again, saying why no code is checked now (429): too many wrong ones."""
    form = TwoFactorCodeForm()
    form.code.errors = [
        f"Too many wrong codes for this account: try again in {wait_words(limit)}. "
        "Until then no code is checked, not even a right one."
    ]
    return current_app.make_response((render_template("auth/login_code.html", form=form), 429))


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["TWO_FACTOR_RATE_LIMIT"],
    key_func=pending_login_key,
    methods=["POST"],
    deduct_when=failed_login,
    on_breach=code_form_refused,
)
@limiter.limit(
    lambda: current_app.config["TWO_FACTOR_LOCKOUT"],
    key_func=pending_login_key,
    methods=["POST"],
    deduct_when=failed_login,
    on_breach=code_form_refused,
)
def login_code():
    """The second step of logging in: a code from the app, or a recovery code."""
    if current_user.is_authenticated:
        return redirect(url_for("auth.home"))
    user = pending_login_user()
    if user is None or user.is_disabled or not user.two_factor_enabled:
        session.pop(PENDING_LOGIN, None)
        flash("Log in again: the code must follow the password within 5 minutes.", "info")
        return redirect(url_for("auth.login"), 303)
    form = TwoFactorCodeForm()
    if form.validate_on_submit():
        how = second_factor_ok(user, form.code.data)
        if how in ("totp", "recovery"):
            target = session[PENDING_LOGIN]["next"]
            start_session(user)
            if how == "recovery":
                record_security_event(user, "two_factor.recovery_code")
                flash("You used a recovery code: it works no more.", "warning")
            return redirect(target, 303)
        record_security_event(user, "login.failed_code")
        form.code.errors.append(
            "That code was used already: wait for the next one in your app."
            if how == "used"
            else "That code is not right."
        )
        return render_template("auth/login_code.html", form=form), 422
    return render_template("auth/login_code.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    """Log out and forget the session, here and in every saved copy of its cookie."""
    logout_user()
    end_current_session("logout")
    fresh_session()  # the old id keeps nothing
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"), 303)
