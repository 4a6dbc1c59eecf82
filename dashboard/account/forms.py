"""Forms of the account page."""

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import EqualTo, InputRequired, Length

from dashboard.auth.forms import PASSWORD_MAX, email_field, new_password_field
from dashboard.organisations.settings import LEAKED_KEY_ACTIONS

LEAKED_KEY_CHOICES = [SelectChoice(value, words) for value, words in LEAKED_KEY_ACTIONS.items()]
LEAKED_KEY_LABEL = "When a secret scanner finds one of your keys in public"


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[InputRequired("Enter your current password."), Length(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = new_password_field("New password")
    confirm_password = PasswordField(
        "Repeat new password",
        validators=[
            InputRequired("Repeat the new password."),
            EqualTo("new_password", "The two new passwords differ."),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class DeleteAccountForm(FlaskForm):
    confirm_email = StringField(
        "Type your email address to confirm",
        validators=[InputRequired("Type your email address to confirm."), Length(max=254)],
        render_kw={"autocomplete": "off"},
    )
    password = PasswordField(
        "Password",
        validators=[InputRequired("Enter your password."), Length(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "current-password"},
    )


class ChangeEmailForm(FlaskForm):
    new_email = email_field("New email address")
    password = PasswordField(
        "Password",
        validators=[InputRequired("Enter your password."), Length(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "current-password"},
    )


class DisableTwoFactorForm(FlaskForm):
    password = PasswordField(
        "Password",
        validators=[InputRequired("Enter your password."), Length(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "current-password"},
    )


class LeakedKeysForm(FlaskForm):
    leaked_key_action = SelectField(
        LEAKED_KEY_LABEL,
        choices=LEAKED_KEY_CHOICES,
        validators=[InputRequired("Choose what happens to a leaked key.")],
        description="You are emailed either way. A key left working can be used by anyone who "
        "saw it until you roll or expire it.",
    )
