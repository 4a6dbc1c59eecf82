"""The alert settings form."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectMultipleField
from wtforms.validators import InputRequired, NumberRange
from wtforms.widgets import CheckboxInput, ListWidget


class CheckboxesField(SelectMultipleField):
    """Several choices as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class AlertSettingsForm(FlaskForm):
    quota = BooleanField("Monthly quota reaches 50%, 80% and 100%")
    error_rate = BooleanField("Error rate of the last 15 minutes goes above")
    error_rate_percent = IntegerField(
        "Error rate threshold (%)",
        validators=[
            InputRequired("Give a percentage."),
            NumberRange(1, 100, "Between 1 and 100 percent."),
        ],
    )
    error_rate_min_calls = IntegerField(
        "Only with at least this many calls",
        validators=[
            InputRequired("Give a number of calls."),
            NumberRange(1, 1_000_000, "Between 1 and 1,000,000 calls."),
        ],
    )
    key_expiry = BooleanField("An API key expires within 7 days")
    watched_keys = CheckboxesField("Alert when these keys are used from a new IP", choices=[])
    by_email = BooleanField("Also send alerts by email")
