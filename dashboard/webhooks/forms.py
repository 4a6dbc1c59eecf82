"""The webhook endpoint form, and the empty forms that carry a CSRF token for actions."""

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.fields import SelectChoice
from wtforms.validators import InputRequired, Length, ValidationError

from dashboard.alerts.events import EVENT_TYPES
from dashboard.alerts.forms import CheckboxesField
from dashboard.webhooks.delivery import url_problem


class EndpointForm(FlaskForm):
    url = StringField(
        "Endpoint URL",
        validators=[InputRequired("Give the URL to send events to."), Length(max=2000)],
        render_kw={"placeholder": "https://example.com/webhooks/toolbox", "inputmode": "url"},
    )
    description = StringField("Description (optional)", validators=[Length(max=200)])
    event_types = CheckboxesField(
        "Events",
        choices=[SelectChoice(value, label) for value, label in EVENT_TYPES.items()],
        validators=[InputRequired("Choose at least one event.")],
    )

    def validate_url(self, field) -> None:
        problem = url_problem(field.data.strip())
        if problem:
            raise ValidationError(problem)


class ActionForm(FlaskForm):
    """No fields: the CSRF token of a button's form."""
