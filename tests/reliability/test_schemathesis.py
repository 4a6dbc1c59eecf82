"""Schemathesis generates calls from /api/openapi.json and checks the answers against it.

Run against the WSGI app (no server), with a real key in the Authorization header, on both
databases: no answer is a server error, and every answer (status, headers, body) matches the
document that the API publishes.
"""

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dashboard.extensions import db
from dashboard.keys.root import SCOPES, create_root_key
from dashboard.keys.service import create_key
from dashboard.models import ApiKey, IdempotentRequest, Tool, WebhookEndpoint
from dashboard.tools.sync import sync_tools

EXAMPLES_PER_OPERATION = 6
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def secret(app, make_user):
    sync_tools(db.session, Tool)
    db.session.commit()
    return create_key(make_user(plan="pro"), "schemathesis", rate_limit_per_minute=100_000)[1]


def test_api_matches_its_openapi_document(app, secret):
    """Every documented operation, a few generated cases each (positive and negative)."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    headers = {"Authorization": f"Bearer {secret}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10  # every tool twice, the catalog, usage, the document, health

    check_every_operation(schema, headers)


def check_every_operation(schema, headers: dict) -> None:
    """A few generated cases (positive and negative) of each operation of `schema`, sent with
    `headers`, each answer held to every check in CHECKS."""
    for result in schema.get_all_operations():
        operation = result.ok()
        strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
            GenerationMode.NEGATIVE
        )

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
        except Exception as error:
            if not interpreter_ast_bug(error):
                raise
            check()  # once more: the failure was the interpreter's, not the API's (see below)


# CPython 3.11.7 can raise "SystemError: AST constructor recursion depth mismatch" from
# ast.parse (fixed upstream by gh-106905). Hypothesis parses a library's source to describe a
# lambda while drawing a case, so a rare run fails there before any request is made, and
# Hypothesis reports it as flaky. That one error, and only it, runs the operation's cases again.
AST_BUG = "AST constructor recursion depth mismatch"


def interpreter_ast_bug(error: BaseException) -> bool:
    if isinstance(error, SystemError) and AST_BUG in str(error):
        return True
    if isinstance(error, BaseExceptionGroup):
        return any(interpreter_ast_bug(inner) for inner in error.exceptions)
    cause = error.__cause__ or error.__context__
    return cause is not None and interpreter_ast_bug(cause)


@pytest.fixture
def root_secret(app, make_user):
    sync_tools(db.session, Tool)
    db.session.commit()
    person = make_user(plan="pro")
    return create_root_key(person, person, "schemathesis", list(SCOPES))[1]


@pytest.mark.parametrize("app_overrides", [{"MANAGEMENT_RATE_LIMIT_PER_MINUTE": 100_000}])
def test_the_management_api_matches_its_document_with_a_root_key(app, root_secret):
    """The management operations, generated cases with a root key of every scope."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app).include(tag="management")
    headers = {"Authorization": f"Bearer {root_secret}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 16  # keys (7), logs, usage (2); errors; webhooks (5)

    check_every_operation(schema, headers)


def stateful_walk(app, root_secret, paths: str, max_examples: int, made) -> set[str]:
    """Run Schemathesis's stateful phase over the management operations whose path matches
    `paths`, with a root key; the operationIds it called successfully. After each example the
    rows of `made` and the kept idempotent answers are deleted, so that each example starts
    from the same state and answers the same when Hypothesis replays it (an account's cap
    filling up, or a remembered Idempotency-Key, would make a replay answer otherwise)."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app).include(
        tag="management", path_regex=paths
    )
    headers = {"Authorization": f"Bearer {root_secret}"}
    followed = set()

    class Walk(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": headers}

        def after_call(self, response, case):
            super().after_call(response, case)
            if response.status_code < 300:
                followed.add(case.operation.definition.raw["operationId"])

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

        def teardown(self):
            db.session.rollback()
            db.session.execute(sa.delete(made))
            db.session.execute(sa.delete(IdempotentRequest))
            db.session.commit()
            super().teardown()

    Walk.run(
        settings=settings(
            max_examples=max_examples,
            stateful_step_count=6,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    return followed


@pytest.mark.parametrize("app_overrides", [{"MANAGEMENT_RATE_LIMIT_PER_MINUTE": 100_000}])
def test_the_stateful_phase_walks_create_then_get_update_roll_expire_and_delete(app, root_secret):
    """Schemathesis follows the document's links from a created key to its other operations."""
    followed = stateful_walk(app, root_secret, "^/api/v1/keys", max_examples=15, made=ApiKey)
    assert {"create_key", "get_key", "delete_key"} <= followed


@pytest.mark.parametrize("app_overrides", [{"MANAGEMENT_RATE_LIMIT_PER_MINUTE": 100_000}])
def test_the_stateful_phase_walks_a_webhook_from_create_to_get_update_and_delete(app, root_secret):
    """The links from a created (or listed) webhook endpoint to its get, update and delete."""

    followed = stateful_walk(
        app, root_secret, "^/api/v1/webhooks", max_examples=25, made=WebhookEndpoint
    )
    assert "create_webhook" in followed
    assert {"get_webhook", "update_webhook", "delete_webhook"} & followed  # by a link
