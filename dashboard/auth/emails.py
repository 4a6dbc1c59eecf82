"""The messages the accounts send: each builds its link on PUBLIC_URL (never on the request's
Host header) and goes through dashboard.mail."""

from flask import current_app

from dashboard.auth.tokens import email_change_token, reset_token, verification_token
from dashboard.mail import send_email_or_log
from dashboard.models import User
from dashboard.public_url import public_url_for

SIGNATURE = "\n-- \nToolbox\n"


def send_verification(user: User, signs_in: bool = False) -> bool:
    """Ask the account to confirm its address; `signs_in` (sign-up's own mail only): the link
    also logs in, once, for SIGNUP_LINK_LOGIN_MINUTES."""
    link = public_url_for("auth.verify_email", token=verification_token(user, signs_in))
    config = current_app.config
    hours = config["EMAIL_VERIFY_HOURS"]
    if signs_in:
        how = (
            f"Open this link to confirm that {user.email} is your address and log in (it logs "
            f"in once, within {config['SIGNUP_LINK_LOGIN_MINUTES']} minutes; it confirms the "
            f"address for {hours} hours):"
        )
    else:
        how = (
            f"Confirm that {user.email} is your address by opening this link "
            f"(it works for {hours} hours):"
        )
    return send_email_or_log(
        user.email,
        "Confirm your email address",
        f"Welcome to Toolbox.\n\n{how}\n\n{link}\n\n"
        "If you did not sign up, ignore this message: nothing happens without the link.\n"
        + SIGNATURE,
    )


def send_signup_attempt(user: User) -> bool:
    """Someone tried to sign up with an address that already has an account."""
    return send_email_or_log(
        user.email,
        "Someone tried to sign up with your address",
        "Someone (maybe you) tried to create a Toolbox account with this address, which "
        "already has one. Nothing was changed.\n\n"
        f"Log in: {public_url_for('auth.login')}\n"
        f"Forgot your password? {public_url_for('auth.forgot_password')}\n" + SIGNATURE,
    )


def send_password_reset(user: User) -> bool:
    """A link that sets a new password once (accounts without a password get their first)."""
    link = public_url_for("auth.reset_password", token=reset_token(user))
    minutes = current_app.config["PASSWORD_RESET_MINUTES"]
    return send_email_or_log(
        user.email,
        "Set a new password",
        f"Open this link to choose a new password for {user.email}. It works once, for "
        f"{minutes} minutes, and logs out every session of the account:\n\n{link}\n\n"
        "If you did not ask for this, ignore this message: your password stays as it is.\n"
        + SIGNATURE,
    )


def send_email_change(user: User, new_email: str) -> bool:
    """To the new address: confirm the change. To the old one: a notice."""
    link = public_url_for("auth.confirm_email_change", token=email_change_token(user, new_email))
    hours = current_app.config["EMAIL_CHANGE_HOURS"]
    sent = send_email_or_log(
        new_email,
        "Confirm your new email address",
        f"Open this link to make {new_email} the address of your Toolbox account (it works for "
        f"{hours} hours):\n\n{link}\n" + SIGNATURE,
    )
    send_email_or_log(
        user.email,
        "Your email address is about to change",
        f"Someone logged in to your Toolbox account asked to change its address to {new_email}. "
        "It changes only when the link sent there is opened.\n\n"
        "If this was not you, log in, change your password and log out everywhere else: "
        f"{public_url_for('account.index')}\n" + SIGNATURE,
    )
    return sent


def send_email_changed(old_email: str, new_email: str) -> bool:
    """A notice to the old address once the change is done."""
    return send_email_or_log(
        old_email,
        "Your email address was changed",
        f"The address of your Toolbox account is now {new_email}. This address ({old_email}) "
        "no longer logs in.\n\nIf this was not you, contact support at once.\n" + SIGNATURE,
    )
