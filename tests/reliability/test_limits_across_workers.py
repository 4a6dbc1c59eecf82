"""Limits and keys that hold across every worker: real gunicorn (3 workers), PostgreSQL and Redis.

The workers cache key rows for 60 s, so only the invalidation marks can make them notice a
change; rate-limit logs live under a random key prefix (Redis is shared: never flushed).
"""

import re
import time
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar

import pytest
import sqlalchemy as sa

from dashboard.alerts.key_events import SYSTEM
from dashboard.auth.service import create_user
from dashboard.extensions import db
from dashboard.keys.service import GRACE_PERIODS, KeyLimitReached, create_key, keys_of, roll_key
from dashboard.models import ApiKey, ToolLog, User
from dashboard.organisations.service import create_organisation
from tests.conftest import PASSWORD
from tests.reliability.conftest import http, redis_gunicorn

pytestmark = pytest.mark.slow

WORKERS = 3
PREFIX = f"test-workers-{uuid.uuid4().hex[:12]}"


def workers_server(databases, tmp_path_factory, window_seconds: int):
    return redis_gunicorn(
        databases,
        tmp_path_factory,
        WORKERS,
        f"{PREFIX}-{window_seconds}",
        RATELIMIT_WINDOW_SECONDS=str(window_seconds),
        API_KEY_CACHE_SECONDS="60",
        # These tests are about rate limits; the plan's cap on calls in flight (a bulkhead,
        # tests/reliability/test_bulkheads.py) would refuse some of a burst before them.
        PLAN_CALLS_IN_FLIGHT="free=none",
    )


@pytest.fixture(scope="module")
def server(databases, tmp_path_factory):
    """(gunicorn, setup app) with the product's 60-second window."""
    with workers_server(databases, tmp_path_factory, 60) as served:
        yield served


class Account:
    def __init__(self, user: User) -> None:
        self.id, self.email = user.id, user.email


def new_account(app, plan: str = "free") -> Account:
    with app.app_context():
        return Account(create_user(f"{uuid.uuid4().hex[:10]}@example.com", PASSWORD, plan=plan))


def new_key(app, user_id, rate_limit: int = 100) -> str:
    with app.app_context():
        user = db.session.get(User, user_id)
        return create_key(user, "workers", rate_limit_per_minute=rate_limit)[1]


def call(base_url: str, secret: str, n: int = 0):
    headers = {"Authorization": f"Bearer {secret}"}
    return http("POST", base_url + "/api/v1/tools/echo", {"message": f"call {n}"}, headers)


def fire(base_url: str, secrets: list[str], calls: int) -> list[tuple]:
    """`calls` echo calls from 24 threads, taking the secrets in turn; (status, headers, body)."""
    with ThreadPoolExecutor(max_workers=24) as pool:
        return list(pool.map(lambda n: call(base_url, secrets[n % len(secrets)], n), range(calls)))


class Browser:
    """Pages over HTTP with cookies, following redirects (what a person's browser does)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def open(self, path: str, form: dict | None = None) -> str:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        assert self.base_url.startswith("http://127.0.0.1:")
        with self.opener.open(self.base_url + path, data=data, timeout=30) as response:
            return response.read().decode()


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_a_key_expired_on_the_keys_page_is_refused_by_every_worker(server):
    gunicorn, app = server
    user = new_account(app, plan="scale")
    secret = new_key(app, user.id, rate_limit=10_000)
    # Calls in parallel until every worker has answered one (and so has the key row cached):
    # the kernel hands connections to whichever worker accepts first, so a busy machine may
    # need many rounds.
    for _ in range(40):
        answers = [status for status, _, _ in fire(gunicorn.base_url, [secret], 24)]
        assert answers == [200] * 24
        if len(gunicorn.worker_pids()) == WORKERS:
            break
    assert len(gunicorn.worker_pids()) == WORKERS

    browser = Browser(gunicorn.base_url)
    page = browser.open("/login")
    browser.open(
        "/login", {"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(page)}
    )
    keys_page = browser.open("/keys/")
    with app.app_context():
        key_id = keys_of(db.session.get(User, user.id))[0].id
    expired = browser.open(f"/keys/{key_id}/expire", {"csrf_token": csrf_token(keys_page)})
    assert "expired. It stops working within a second" in expired

    time.sleep(1)  # the guarantee: calls that start a second after the change are refused
    refused = [call(gunicorn.base_url, secret, n) for n in range(30)]
    assert {(status, body["error"]["code"]) for status, _, body in refused} == {
        (401, "revoked_api_key")
    }


def test_a_burst_across_two_keys_is_held_to_the_account_limit(server):
    gunicorn, app = server
    user = new_account(app)  # Free: 100 calls a minute for the account, 100 per key
    secrets = [new_key(app, user.id), new_key(app, user.id)]
    answers = fire(gunicorn.base_url, secrets, 300)
    statuses = [status for status, _, _ in answers]
    assert statuses.count(200) == 100
    assert statuses.count(429) == 200
    refused = [body for status, _, body in answers if status == 429]
    assert {body["error"]["code"] for body in refused} == {"rate_limited"}
    policies = {headers["RateLimit-Policy"] for _, headers, _ in answers}
    assert policies == {'"key";q=100;w=60, "account";q=100;w=60'}


def test_an_organisations_keys_share_its_account_limit_across_workers(server):
    """Two members' keys of one organisation are held to the organisation's limit together;
    a member's own key counts on their own account."""
    gunicorn, app = server
    person = new_account(app)
    with app.app_context():
        organisation = create_organisation(db.session.get(User, person.id), "Workers Ltd")
        organisation_id = organisation.user_id
    secrets = [new_key(app, organisation_id), new_key(app, organisation_id)]
    own = new_key(app, person.id)
    answers = fire(gunicorn.base_url, secrets, 300)
    statuses = [status for status, _, _ in answers]
    assert statuses.count(200) == 100
    assert statuses.count(429) == 200
    assert call(gunicorn.base_url, own)[0] == 200
    with app.app_context():
        logged = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(ToolLog)
            .where(ToolLog.user_id == organisation_id)
        )
    assert logged == 100


def test_rolled_keys_never_leave_more_working_secrets_than_the_cap(server):
    gunicorn, app = server
    user = new_account(app)  # Free: 3 keys
    with app.app_context():
        owner = db.session.get(User, user.id)
        key, first = create_key(owner, "rolled")
        secrets = [first]
        for _ in range(5):
            try:
                key, secret = roll_key(key, GRACE_PERIODS["7d"], actor=SYSTEM)
            except KeyLimitReached:
                key, secret = roll_key(key, GRACE_PERIODS["none"], actor=SYSTEM)
            key = db.session.get(ApiKey, key.id)
            secrets.append(secret)
    working = [secret for secret in secrets if call(gunicorn.base_url, secret)[0] == 200]
    assert len(working) == 3
    assert secrets[-1] in working


@pytest.fixture(scope="module")
def short_window_server(databases, tmp_path_factory):
    """The same server with a 3-second window, so crossing a window edge is quick."""
    with workers_server(databases, tmp_path_factory, 3) as served:
        yield served


def test_no_client_passes_its_limit_across_a_window_boundary(short_window_server):
    """A client that calls as fast as it can for three windows: in no 3-second span does it
    get more than its 10 calls (a fixed window lets 20 through around its edge)."""
    gunicorn, app = short_window_server
    user = new_account(app, plan="pro")
    secret = new_key(app, user.id, rate_limit=10)
    accepted = []
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        while time.monotonic() - started < 9:
            sent = time.monotonic()
            for status, _, _ in pool.map(lambda n: call(gunicorn.base_url, secret, n), range(4)):
                if status == 200:
                    accepted.append((sent, time.monotonic()))
    assert len(accepted) >= 20  # the limit let calls through again as old ones left
    for sent, _ in accepted:
        # calls surely inside a 3 s span starting at `sent`: sent after it, answered before its end
        inside = [
            1 for other_sent, answered in accepted if other_sent >= sent and answered < sent + 3
        ]
        assert len(inside) <= 10
