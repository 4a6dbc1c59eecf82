"""The address customers open the dashboard at (PUBLIC_URL).

Every link the product sends out (password resets, address confirmations, email changes)
starts with it, never with the Host header that a request happened to carry: a request naming
`Host: evil.example` must not make the mail point there. Jobs build links the same way, with no
request at all. In production PUBLIC_URL is required, and a request naming any other host than
its own (or EXTRA_TRUSTED_HOSTS, for probes on the machine) is refused 400 by Flask's
TRUSTED_HOSTS.
"""

from urllib.parse import urlsplit

from flask import Flask, current_app


def public_url_for(endpoint: str, **values) -> str:
    """The absolute URL of `endpoint` under PUBLIC_URL, in a request or a job alike."""
    base = urlsplit(current_app.config["PUBLIC_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme
    )
    return adapter.build(endpoint, values, force_external=True)


def public_url_problem(url: str, production: bool) -> str | None:
    """Why `url` cannot be PUBLIC_URL (in words for the operator), or None."""
    if not url:
        if production:
            return (
                "PUBLIC_URL must be set in production (APP_ENV=production): the address "
                "customers open, such as https://dash.example.com. Links in emails start with "
                "it, and requests for any other host are refused."
            )
        return "PUBLIC_URL is empty."
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"PUBLIC_URL {url!r} is not an http:// or https:// address with a host name."
    if parts.query or parts.fragment or parts.username or parts.password:
        return f"PUBLIC_URL {url!r} may hold a scheme, a host, a port and a path, nothing else."
    try:
        parts.port  # noqa: B018 (raises on a port that is no number)
    except ValueError:
        return f"PUBLIC_URL {url!r} has a port that is no number."
    return None


def init_app(app: Flask) -> None:
    """Refuse to start on a missing or malformed PUBLIC_URL; in production trust only its host
    (and EXTRA_TRUSTED_HOSTS)."""
    url = app.config["PUBLIC_URL"].rstrip("/")
    problem = public_url_problem(url, app.config["PRODUCTION"])
    if problem:
        raise RuntimeError(problem)
    app.config["PUBLIC_URL"] = url
    if app.config["PRODUCTION"]:
        app.config["TRUSTED_HOSTS"] = [urlsplit(url).hostname, *app.config["EXTRA_TRUSTED_HOSTS"]]
