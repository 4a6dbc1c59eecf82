"""Security properties that hold for every route, found by walking the URL map."""

import uuid

import pytest

# Routes that programs call with API keys: no cookies, so no CSRF token.
CSRF_EXEMPT_PREFIXES = ("/api/",)


def state_changing_rules(app):
    for rule in app.url_map.iter_rules():
        methods = rule.methods - {"GET", "HEAD", "OPTIONS"}
        if methods and not rule.rule.startswith(CSRF_EXEMPT_PREFIXES):
            yield rule, sorted(methods)


def fill(rule) -> str:
    """A concrete URL for a rule, with made-up ids."""
    values = {name: str(uuid.uuid4()) for name in rule.arguments}
    for name, converter in rule._converters.items():
        if converter.__class__.__name__ == "IntegerConverter":
            values[name] = "1"
    from flask import url_for

    return url_for(rule.endpoint, **values)


@pytest.mark.parametrize("app_overrides", [{"WTF_CSRF_ENABLED": True}])
def test_every_state_changing_route_refuses_a_request_without_csrf_token(app, client, logged_in):
    rules = list(state_changing_rules(app))
    assert len(rules) >= 3  # log-out, password, delete at least
    with app.test_request_context():
        urls = [(fill(rule), methods) for rule, methods in rules]
    for url, methods in urls:
        for method in methods:
            response = client.open(url, method=method, data={"anything": "x"})
            assert response.status_code == 400, f"{method} {url} accepted a request without CSRF"
            assert "expired or was sent from another site" in response.get_data(as_text=True)
    # And the user is still logged in: nothing above logged them out.
    assert client.get("/account/").status_code == 200


@pytest.mark.parametrize("app_overrides", [{"WTF_CSRF_ENABLED": True}])
def test_htmx_requests_are_refused_without_the_csrf_header(client, logged_in):
    response = client.post("/logout", headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert client.get("/account/").status_code == 200
