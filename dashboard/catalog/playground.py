"""Running a tool from its page: the real API call, made in the same process.

The dashboard sends the call through its own WSGI app (`current_app.wsgi_app`, which mounts the
API app under /api), exactly as a program's HTTP request would arrive: the same authentication,
rate limits, quota, validation, metering and logs. Only two things differ, both set in the WSGI
environ where no HTTP client can reach: the client address is the person's, and the call is
logged with source `playground` (dashboard.api.CALL_SOURCE_ENVIRON).

The key is the user's choice: a short-lived playground key (keys.service.playground_key), or
the secret of one of their own keys, pasted for this call and never stored.
"""

import json
from dataclasses import dataclass

from flask import current_app, request, url_for
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from dashboard.api import CALL_SOURCE_ENVIRON
from dashboard.catalog.playground_form import FormValueError, PlaygroundForm
from dashboard.keys.secrets import display_prefix
from dashboard.keys.service import key_owner_id, playground_key
from dashboard.models import User
from dashboard.tools.registry import ToolVersion
from dashboard.tools.service import curl_command

PLAYGROUND_SOURCE = "playground"
# The answer's headers a person wants to see, in this order, when present.
SHOWN_HEADERS = (
    "Content-Type",
    "Request-Id",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit-Policy",
    "RateLimit",
    "Retry-After",
    "Server-Timing",
)
NOT_YOUR_KEY = "That is not the secret of one of your keys."


@dataclass(frozen=True)
class Answer:
    """What the API answered to a playground call, and the curl that makes the same call."""

    status: int
    status_text: str  # `422 UNPROCESSABLE ENTITY`
    headers: list[tuple[str, str]]
    body: str  # the JSON pretty-printed, or the body as it came
    data: dict | None
    curl: str
    key_label: str  # which key made the call, in words

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> dict:
        """The answer's `error` object ({} for a success)."""
        error = (self.data or {}).get("error")
        return error if isinstance(error, dict) else {}

    @property
    def request_id(self) -> str | None:
        """The logged call's id, when the call was logged (it then has a log page)."""
        value = (self.data or {}).get("request_id") or self.error.get("request_id")
        return value if isinstance(value, str) else None


@dataclass
class Playground:
    """The playground's state after a post: its form, which input is in use, the answer."""

    form: PlaygroundForm
    answer: Answer | None = None

    @property
    def mode(self) -> str:
        return "json" if self.form.mode.data == "json" else "form"

    @property
    def has_errors(self) -> bool:
        return any(field.errors for field in self.form)


def handle_post(form: PlaygroundForm, tool: ToolVersion, user: User, action: str) -> Playground:
    """Do what the button pressed asks: `run`, `json` (edit the input as JSON) or `form`."""
    state = Playground(form)
    form.validate()  # CSRF is checked by the view; this reads the fields
    if action == "json":
        form.key_secret.errors = []
        switch_to_json(state)
    elif action == "form":
        form.key_secret.errors = []
        switch_to_form(state)
    else:
        run(state, tool, user)
    return state


def switch_to_json(state: Playground) -> None:
    """The raw JSON textarea, filled from the form."""
    try:
        payload = state.form.payload()
    except FormValueError:
        return
    state.form.raw.data = json.dumps(payload, indent=2, ensure_ascii=False)
    state.form.mode.data = "json"


def switch_to_form(state: Playground) -> None:
    """The form, filled from the raw JSON when it fits the form; else stay with the JSON."""
    form = state.form
    try:
        payload = json.loads(form.raw.data or "{}")
    except (ValueError, RecursionError) as error:  # RecursionError: nested too deep
        form.raw.errors = [f"This is not valid JSON: {error}."]
        return
    if not isinstance(payload, dict):
        form.raw.errors = ["The input is a JSON object, in braces."]
        return
    problems = form.fill(payload)
    if problems:
        form.raw.errors = ["This input does not fit the form: " + " ".join(problems)]
        return
    form.mode.data = "form"


def run(state: Playground, tool: ToolVersion, user: User) -> None:
    """Call the tool through the API with the chosen key, unless the form has errors."""
    form = state.form
    body = request_body(state)
    if body is None or form.key_choice.errors or form.key_secret.errors:
        return
    if form.key_choice.data == "pasted":
        secret = form.key_secret.data.strip()
        if key_owner_id(secret) != user.id:
            form.key_secret.errors = [NOT_YOUR_KEY]
            return
        shown_secret, key_label = secret, f"your key {display_prefix(secret)}…"
    else:
        key, secret = playground_key(user)
        shown_secret, key_label = None, f"playground key {key.prefix}…"
    state.answer = call_api(tool, body, secret, shown_secret, key_label)
    errors = state.answer.error.get("errors")
    if state.mode == "form" and isinstance(errors, list):
        form.attach_api_errors([error for error in errors if isinstance(error, dict)])


def request_body(state: Playground) -> str | None:
    """The body to send: the form's input as JSON, or the raw JSON as written; None (with
    the form's errors) when there is nothing that can be sent."""
    form = state.form
    if state.mode == "json":
        if not (form.raw.data or "").strip():
            form.raw.errors = ["Write the input: a JSON object, in braces."]
            return None
        return form.raw.data
    try:
        return json.dumps(form.payload(), ensure_ascii=False)
    except FormValueError:
        return None


def call_api(
    tool: ToolVersion, body: str, secret: str, shown_secret: str | None, key_label: str
) -> Answer:
    """POST the body to the tool version's API URL through this process's WSGI app."""
    path = url_for("api.call_tool", name=tool.name, version=tool.version)
    builder = EnvironBuilder(
        path=path,
        base_url=request.host_url,
        method="POST",
        data=body.encode("utf-8", "surrogatepass"),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        environ_overrides={
            "REMOTE_ADDR": request.remote_addr or "127.0.0.1",
            CALL_SOURCE_ENVIRON: PLAYGROUND_SOURCE,
        },
    )
    try:
        response = Response.from_app(current_app.wsgi_app, builder.get_environ(), buffered=True)
    finally:
        builder.close()
    text = response.get_data(as_text=True)
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    return Answer(
        status=response.status_code,
        status_text=response.status,
        headers=[
            (name, response.headers[name]) for name in SHOWN_HEADERS if name in response.headers
        ],
        body=json.dumps(data, indent=2, ensure_ascii=False) if data is not None else text,
        data=data if isinstance(data, dict) else None,
        curl=curl_command(request.host_url.rstrip("/") + path, body, shown_secret),
        key_label=key_label,
    )
