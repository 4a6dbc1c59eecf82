"""SIGTERM to gunicorn while a call is being answered: the call still gets its answer and its
log row, then the server exits (graceful_timeout in gunicorn.conf.py).

The call is held in the middle deterministically: gunicorn reaches PostgreSQL through a proxy
that holds the bytes; once the worker's query is held, the call is surely in progress.
"""

import os
import signal
import threading
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from dashboard.auth.service import create_user
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import Tool, ToolLog
from dashboard.tools.sync import sync_tools
from tests.conftest import PASSWORD, make_app, upgrade_to_head
from tests.reliability.conftest import Gunicorn, http, require_gunicorn
from tests.reliability.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow


def children(pid: int) -> set[int]:
    """The pids of a process's children (gunicorn's workers), from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def test_sigterm_lets_the_call_in_progress_finish_and_be_metered(databases, tmp_path):
    require_gunicorn()
    url = databases.create("postgresql")
    upgrade_to_head(url)
    app = make_app(url)
    with app.app_context():
        sync_tools(db.session, Tool)
        user = create_user("graceful@example.com", PASSWORD, plan="pro")
        _, secret = create_key(user, "graceful")
        db.session.commit()
    target = urlsplit(url)
    proxy = TcpProxy(target.hostname, target.port).start()
    through_proxy = url.replace(f"@{target.hostname}:{target.port}/", f"@127.0.0.1:{proxy.port}/")
    env = {
        "DATABASE_URL": through_proxy,
        "SECRET_KEY": "graceful-test-secret",
        "APP_ENV": "development",
        "API_CONNECTION_KEEP_SECONDS": "0",
        "DATABASE_CONNECT_TIMEOUT": "60",  # the held bytes may be the connection's first
    }
    gunicorn = Gunicorn(env, 2, tmp_path)
    answers = []
    try:
        gunicorn.wait_until_ready()
        workers = children(gunicorn.process.pid)
        assert len(workers) == 2

        proxy.hold()
        caller = threading.Thread(
            target=lambda: answers.append(
                http(
                    "POST",
                    gunicorn.base_url + "/api/v1/tools/echo",
                    {"message": "in flight"},
                    {"Authorization": f"Bearer {secret}"},
                    timeout=60,
                )
            )
        )
        caller.start()
        assert proxy.held.wait(30), "the call never reached the database"

        os.kill(gunicorn.process.pid, signal.SIGTERM)
        # The idle worker leaves at once: the SIGTERM has reached the workers.
        wait_for(lambda: len(children(gunicorn.process.pid)) < 2)
        proxy.release()
        caller.join(60)
        assert gunicorn.process.wait(60) == 0
    finally:
        proxy.release()
        gunicorn.stop()
        proxy.cut()

    [(status, headers, body)] = answers
    assert status == 200, body
    assert body["output"] == {"echo": "in flight", "length": 9}
    assert headers["Request-Id"] == body["request_id"]
    with app.app_context():
        row = db.session.get(ToolLog, uuid.UUID(body["request_id"]))
        assert row is not None and row.status == "success"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ToolLog)) == 1
        db.session.remove()
        db.engine.dispose()


def wait_for(condition, seconds: float = 30) -> None:
    """Poll `condition` until it holds (a process leaving has no event to wait on)."""
    done = threading.Event()
    for _ in range(int(seconds * 20)):
        if condition():
            return
        done.wait(0.05)
    raise AssertionError("the condition never held")
