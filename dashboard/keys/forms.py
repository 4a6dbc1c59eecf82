"""Forms of the keys page: create, edit, roll and delete."""

from datetime import date

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from dashboard.auth.forms import strip
from dashboard.keys.rules import parse_ip_list
from dashboard.keys.service import DEFAULT_RATE_LIMIT, GRACE_PERIODS, NAME_MAX
from dashboard.models import utcnow
from dashboard.plans import Plan

IPS_MAX_CHARS = 4000
# The largest monthly cap a key may be given (an INTEGER column; far above any plan's quota).
MONTHLY_CAP_MAX = 1_000_000_000
EXPIRY_CHOICES = [
    SelectChoice("never", "Never"),
    SelectChoice("7", "In 7 days"),
    SelectChoice("30", "In 30 days"),
    SelectChoice("90", "In 90 days"),
    SelectChoice("custom", "On a date"),
]
GRACE_CHOICES = [
    SelectChoice("none", "No grace: the old key stops at once"),
    SelectChoice("1h", "1 hour"),
    SelectChoice("24h", "24 hours"),
    SelectChoice("7d", "7 days"),
]


class WholeNumberField(IntegerField):
    """An integer field whose bad input gets a message people understand."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            self.data = int(valuelist[0].strip())
        except ValueError:
            self.data = None
            raise ValueError("Enter a whole number, like 100.") from None


class DayField(DateField):
    """A date field whose bad input gets a message people understand."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError("Enter a date like 2030-01-31.") from None


class KeySettingsForm(FlaskForm):
    """What can be set on a key at creation and changed later."""

    name = StringField(
        "Name",
        filters=[strip],
        validators=[
            DataRequired("Give the key a name."),  # after trimming: spaces are no name
            Length(max=NAME_MAX, message=f"A name has at most {NAME_MAX} characters."),
        ],
        render_kw={"maxlength": NAME_MAX, "autocomplete": "off"},
        description="To tell your keys apart, e.g. “production server”.",
    )
    rate_limit_per_minute = WholeNumberField(
        "Rate limit (calls per minute)", default=DEFAULT_RATE_LIMIT
    )
    monthly_call_cap = WholeNumberField(
        "Monthly call cap (optional)",
        description="The most calls this key may make in a calendar month (UTC); past it calls "
        "get 429 key_quota_exceeded. Leave empty for the account's quota only.",
    )
    allowed_tools = SelectMultipleField("Only these tools", choices=[], validate_choice=False)
    allowed_ips = TextAreaField(
        "Only from these IP addresses",
        filters=[strip],
        validators=[
            Length(max=IPS_MAX_CHARS, message=f"Use at most {IPS_MAX_CHARS} characters here.")
        ],
        render_kw={"rows": 3, "spellcheck": "false", "autocomplete": "off"},
        description="Addresses or CIDR ranges, one per line or separated by commas, e.g. "
        "203.0.113.7, 10.0.0.0/8, 2001:db8::/32. Leave empty to allow any address.",
    )

    def __init__(self, *args, plan: Plan, tools: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.allowed_tools.choices = [SelectChoice(name) for name in tools]
        self.ip_entries: list[str] = []

    def use_id_prefix(self, prefix: str) -> None:
        """Give the fields unique ids, so that several forms can share one page."""
        for field in self:
            field.id = prefix + field.name
            field.label.field_id = field.id

    def validate_rate_limit_per_minute(self, field):
        if field.errors:  # not a number: the field already says so
            return
        highest = self.plan.max_rate_limit
        if field.data is None:
            field.errors.append("Enter a rate limit.")
        elif not 1 <= field.data <= highest:
            field.errors.append(
                f"Choose between 1 and {highest:,} calls per minute "
                f"(the most your {self.plan.title} plan allows)."
            )

    def validate_monthly_call_cap(self, field):
        if field.errors or field.data is None:
            return
        if not 1 <= field.data <= MONTHLY_CAP_MAX:
            field.errors.append(f"Choose between 1 and {MONTHLY_CAP_MAX:,} calls a month.")

    def validate_allowed_tools(self, field):
        known = {choice.value for choice in field.choices}
        unknown = sorted(set(field.data or []) - known)
        if unknown:
            field.errors.append("Unknown tools: " + ", ".join(unknown) + ".")

    def validate_allowed_ips(self, field):
        entries, invalid = parse_ip_list(field.data or "")
        if invalid:
            shown = ", ".join(invalid[:10]) + (" …" if len(invalid) > 10 else "")
            field.errors.append(f"Not an IP address or CIDR range: {shown}")
        self.ip_entries = entries

    def restrictions(self) -> dict:
        """The validated restrictions as stored: None means unrestricted."""
        return {
            "allowed_tools": sorted(set(self.allowed_tools.data or [])) or None,
            "allowed_ips": self.ip_entries or None,
        }


class CreateKeyForm(KeySettingsForm):
    is_test = BooleanField(
        "Test mode",
        description="A tk_test_ key: same tools and answers, not billed and not counted against "
        "the monthly quota, with a lower rate limit. Cannot be changed later.",
    )
    expiry = RadioField("Expires", choices=EXPIRY_CHOICES, default="never", validate_choice=False)
    expires_on = DayField(
        "Date (for “On a date”)",
        validators=[Optional()],
        description="The key stops working at 00:00 UTC on this date.",
    )

    def validate_expiry(self, field):
        if field.data not in {choice.value for choice in EXPIRY_CHOICES}:
            field.errors.append("Choose when the key expires.")

    def validate_expires_on(self, field):
        if self.expiry.data == "custom" and field.data and field.data <= utcnow().date():
            field.errors.append("Pick a date after today.")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.expiry.data == "custom" and self.expires_on.data is None:
            if not self.expires_on.errors:
                self.expires_on.errors.append("Pick the date the key expires.")
            valid = False
        return valid

    @property
    def custom_date(self) -> date | None:
        return self.expires_on.data if self.expiry.data == "custom" else None


class EditKeyForm(KeySettingsForm):
    pass


class RollKeyForm(FlaskForm):
    grace = RadioField(
        "Keep the old key working for",
        choices=GRACE_CHOICES,
        default="24h",
        validate_choice=False,
    )

    def validate_grace(self, field):
        if field.data not in GRACE_PERIODS:
            field.errors.append("Choose how long the old key keeps working.")


class DeleteKeyForm(FlaskForm):
    """Deleting a key asks for its name typed again (its prefix for an unnamed key)."""

    confirm = StringField(
        "Type the key's name to confirm",
        filters=[strip],
        validators=[DataRequired("Type the key's name to confirm."), Length(max=NAME_MAX + 20)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )

    def __init__(self, *args, key, **kwargs):
        super().__init__(*args, **kwargs)
        self.key = key
        if not key.name:
            self.confirm.label.text = "Type the key's prefix to confirm"

    def validate_confirm(self, field):
        wanted = self.key.name or self.key.prefix
        if " ".join((field.data or "").split()) != " ".join(wanted.split()):
            field.errors.append(f"Type “{wanted}” exactly to delete this key.")
