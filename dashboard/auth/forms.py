"""Sign-up and log-in forms."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import Email, EqualTo, InputRequired, Length

PASSWORD_MIN = 10
PASSWORD_MAX = 128
EMAIL_MAX = 254


def strip(value: str | None) -> str | None:
    """Trim surrounding spaces, which people paste along with addresses."""
    return value.strip() if isinstance(value, str) else value


def email_field(label: str = "Email") -> EmailField:
    return EmailField(
        label,
        filters=[strip],
        validators=[
            InputRequired("Enter your email address."),
            Length(max=EMAIL_MAX, message=f"An email address has at most {EMAIL_MAX} characters."),
            Email(
                "Enter a valid email address, like name@example.com.", check_deliverability=False
            ),
        ],
        render_kw={"autocomplete": "email", "maxlength": EMAIL_MAX},
    )


def new_password_field(label: str = "Password") -> PasswordField:
    return PasswordField(
        label,
        validators=[
            InputRequired("Choose a password."),
            Length(
                min=PASSWORD_MIN,
                max=PASSWORD_MAX,
                message=f"Use between {PASSWORD_MIN} and {PASSWORD_MAX} characters.",
            ),
        ],
        render_kw={
            "autocomplete": "new-password",
            "minlength": PASSWORD_MIN,
            "maxlength": PASSWORD_MAX,
        },
        description=f"At least {PASSWORD_MIN} characters.",
    )


class SignupForm(FlaskForm):
    email = email_field()
    password = new_password_field()


class LoginForm(FlaskForm):
    email = email_field()
    password = PasswordField(
        "Password",
        validators=[
            InputRequired("Enter your password."),
            Length(max=PASSWORD_MAX, message="That password is too long."),
        ],
        render_kw={"autocomplete": "current-password"},
    )


class ForgotPasswordForm(FlaskForm):
    email = email_field()


class ResetPasswordForm(FlaskForm):
    password = new_password_field("New password")
    confirm_password = PasswordField(
        "Repeat new password",
        validators=[
            InputRequired("Repeat the new password."),
            EqualTo("password", "The two passwords differ."),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class TwoFactorCodeForm(FlaskForm):
    code = StringField(
        "Code from your app",
        validators=[InputRequired("Enter the 6-digit code."), Length(max=20)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 20},
    )
