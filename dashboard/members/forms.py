"""Forms of an organisation's pages: create one, invite, change a role; empty action forms."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import Email, InputRequired, Length, Optional

from dashboard.account.forms import LEAKED_KEY_CHOICES, LEAKED_KEY_LABEL
from dashboard.organisations.roles import Role
from dashboard.organisations.service import NAME_MAX

ROLE_CHOICES = [SelectChoice(role.value, role.value.capitalize()) for role in Role]


class NewOrganisationForm(FlaskForm):
    name = StringField(
        "Organisation name",
        validators=[
            InputRequired("Give the organisation a name."),
            Length(max=NAME_MAX, message=f"Keep the name to {NAME_MAX} characters."),
        ],
        description="Shown to its members and in its URLs (as a slug).",
    )
    billing_email = EmailField(
        "Billing contact (optional)",
        validators=[Optional(), Length(max=254)],
        description="Where invoices will go; your own address if left empty.",
    )


class InviteForm(FlaskForm):
    email = EmailField("Email address", validators=[InputRequired("Enter the address to invite.")])
    role = SelectField(
        "Role",
        choices=ROLE_CHOICES,
        default=Role.DEVELOPER.value,
        description="What each role may do is listed below.",
    )


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class ActionForm(FlaskForm):
    """No fields: the CSRF token of a button's form."""


class SettingsForm(FlaskForm):
    billing_email = EmailField(
        "Billing contact",
        validators=[
            InputRequired("Enter the billing contact's address."),
            Email("Enter an email address, like billing@example.com."),
            Length(max=254),
        ],
        description="Where invoices go; owners and admins get the alerts.",
    )
    require_two_factor = BooleanField(
        "Require two-factor sign-in",
        description="Members without it are asked to turn it on before they can open the "
        "organisation.",
    )
    leaked_key_action = SelectField(
        LEAKED_KEY_LABEL.replace("your keys", "the organisation's keys"),
        choices=LEAKED_KEY_CHOICES,
        validators=[InputRequired("Choose what happens to a leaked key.")],
        description="Owners and admins are emailed either way.",
    )


class SwitchForm(FlaskForm):
    account = HiddenField(validators=[InputRequired()])
    next = HiddenField()
