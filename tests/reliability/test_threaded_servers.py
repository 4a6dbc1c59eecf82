"""The API on threaded servers: more threads than the pool's kept connections, all metered.

gunicorn's gthread workers and granian's blocking threads run several requests of one process
at once. Each busy thread holds one PostgreSQL connection of the API app's pool, which grows
past DATABASE_POOL_SIZE instead of making a thread wait (dashboard.create_api_app).
"""

import importlib.util
from concurrent.futures import ThreadPoolExecutor

import pytest

from dashboard.auth.service import create_user
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import Tool
from dashboard.tools.sync import sync_tools
from tests.conftest import PASSWORD, make_app, require, upgrade_to_head
from tests.reliability.conftest import Granian, Gunicorn, http, require_gunicorn
from tests.reliability.test_gunicorn_load import counts

pytestmark = pytest.mark.slow

WORKERS, THREADS, CALLS = 2, 8, 240


def start(model: str, env: dict, log_dir):
    if model == "granian":
        require(importlib.util.find_spec("granian") is not None, "granian is not installed")
        return Granian(env, WORKERS, THREADS, log_dir)
    require_gunicorn()
    return Gunicorn(
        env, WORKERS, log_dir, options=["--worker-class", "gthread", "--threads", str(THREADS)]
    )


@pytest.mark.parametrize("model", ["gunicorn-gthread", "granian"])
def test_threads_beyond_the_pool_size_all_answer_and_are_metered(model, databases, tmp_path):
    url = databases.create("postgresql")
    upgrade_to_head(url)
    app = make_app(url)
    with app.app_context():
        sync_tools(db.session, Tool)
        user = create_user(f"{model}@example.com", PASSWORD, plan="pro")
        _, secret = create_key(user, "threads", rate_limit_per_minute=10_000)
        user_id = user.id
        db.session.commit()
    env = {
        "DATABASE_URL": url,
        "SECRET_KEY": "threaded-test-secret",
        "APP_ENV": "development",
        "DATABASE_POOL_SIZE": "1",  # fewer kept connections than threads
        "API_CONNECTION_KEEP_SECONDS": "1",
    }
    server = start(model, env, tmp_path)
    try:
        server.wait_until_ready()
        headers = {"Authorization": f"Bearer {secret}"}

        def one(n: int):
            body = {"message": f"call {n}"}
            return http("POST", server.base_url + "/api/v1/tools/echo", body, headers, timeout=30)

        with ThreadPoolExecutor(max_workers=WORKERS * THREADS) as pool:
            answers = list(pool.map(one, range(CALLS)))
    finally:
        server.stop()
    failed = [(status, body) for status, _, body in answers if status != 200]
    assert not failed, failed[:3]
    assert len({body["request_id"] for _, _, body in answers}) == CALLS
    assert counts(app, user_id) == (CALLS, CALLS, CALLS, 0)
    with app.app_context():
        db.engine.dispose()
