"""Forms of the support console."""

from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from dashboard.audit import ACTION_WORDS, KNOWN_ACTIONS

REASON_MIN = 5
REASON_MAX = 500


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class SearchForm(FlaskForm):
    """A GET form: searching changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False

    q = StringField(
        "Email, organisation, account id or key prefix",
        filters=[strip],
        validators=[Optional(), Length(max=254, message="Search with at most 254 characters.")],
        render_kw={
            "placeholder": "ana@example.com, acme, an account id or tk_live_Ab12Cd",
            "maxlength": 254,
        },
    )


class ImpersonateForm(FlaskForm):
    reason = TextAreaField(
        "Reason",
        filters=[strip],
        validators=[
            DataRequired("Say why you need to view as this customer."),
            Length(
                min=REASON_MIN,
                max=REASON_MAX,
                message=f"Write between {REASON_MIN} and {REASON_MAX} characters.",
            ),
        ],
        description="The customer sees this reason on their account page, with your email.",
        render_kw={"rows": 2, "minlength": REASON_MIN, "maxlength": REASON_MAX},
    )


class RoleForm(FlaskForm):
    role = SelectField(
        "Role",
        choices=[SelectChoice("user", "Customer (user)"), SelectChoice("support", "Support staff")],
        validators=[InputRequired("Choose a role.")],
    )


class PlanForm(FlaskForm):
    plan = SelectField("Plan", validators=[InputRequired("Choose a plan.")])


class EndImpersonationForm(FlaskForm):
    """Only the CSRF token: ending is one button."""


class AuditFilterForm(FlaskForm):
    """A GET form for filtering the audit log."""

    class Meta:
        csrf = False

    action = SelectField(
        "Action",
        choices=[SelectChoice("", "Any action")]
        + [SelectChoice(a, ACTION_WORDS[a]) for a in KNOWN_ACTIONS],
        validators=[Optional()],
    )
    actor = StringField("Actor email", filters=[strip], validators=[Optional(), Length(max=254)])
    subject = StringField(
        "Subject email or organisation",
        filters=[strip],
        validators=[Optional(), Length(max=254)],
    )
    since = DateField("From", validators=[Optional()])
    until = DateField("To", validators=[Optional()])
