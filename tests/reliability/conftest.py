"""Reliability helpers: Redis and gunicorn checks, a real gunicorn server, a small HTTP client."""

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import redis

from dashboard.extensions import db
from dashboard.models import Tool
from dashboard.tools.sync import sync_tools
from tests.conftest import REDIS_SERVER, make_app, require, require_redis, upgrade_to_head

ROOT = Path(__file__).resolve().parents[2]


def require_gunicorn() -> None:
    require(importlib.util.find_spec("gunicorn") is not None, "gunicorn is not installed")


def served_database(databases):
    """(url, setup app) of a fresh migrated PostgreSQL database with the registry's tools
    synced into its tools table, for a server to serve."""
    url = databases.create("postgresql")
    upgrade_to_head(url)
    app = make_app(url)
    with app.app_context():
        sync_tools(db.session, Tool)
        db.session.commit()
    return url, app


def stop_server(gunicorn, app, redis_prefix: str | None = None) -> None:
    """Stop the server, close the setup app's connections and delete the Redis keys the run
    wrote under its own prefix."""
    gunicorn.stop()
    with app.app_context():
        db.engine.dispose()
    if redis_prefix:
        client = redis.Redis.from_url(REDIS_SERVER)
        for name in client.scan_iter(f"{redis_prefix}*"):
            client.delete(name)


@contextlib.contextmanager
def redis_gunicorn(databases, tmp_path_factory, workers: int, prefix: str, **settings):
    """(gunicorn, setup app): `workers` workers on a fresh PostgreSQL database, counting limits
    in Redis under `prefix` (failures show up, never pass open), with `settings` added to the
    environment; stopped, and the prefix's Redis keys deleted, on leaving."""
    require_gunicorn()
    require_redis()
    url, app = served_database(databases)
    env = {
        "DATABASE_URL": url,
        "RATELIMIT_STORAGE_URI": REDIS_SERVER,
        "RATELIMIT_KEY_PREFIX": prefix,
        "RATELIMIT_FAIL_OPEN": "false",  # a Redis failure must show up, not pass silently
        "SECRET_KEY": "gunicorn-test-secret",
        "APP_ENV": "development",
        "DATABASE_POOL_SIZE": "4",
        **settings,
    }
    gunicorn = Gunicorn(env, workers, tmp_path_factory.mktemp("gunicorn"))
    try:
        gunicorn.wait_until_ready()
        yield gunicorn, app
    finally:
        stop_server(gunicorn, app, prefix)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def closed_port() -> int:
    """A local port where nothing listens (bound and released)."""
    return free_port()


class Gunicorn:
    """`gunicorn --workers N wsgi:app` as a subprocess; every request's worker pid is logged."""

    def __init__(
        self, env: dict, workers: int, log_dir: Path, options=(), app_module: str = "wsgi:app"
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.access_log = log_dir / "access.log"
        self.error_log = log_dir / "error.log"
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--access-logfile",
            str(self.access_log),
            "--access-logformat",
            "%(p)s %(s)s",
            "--error-logfile",
            str(self.error_log),
            "--timeout",
            "30",
            *options,
            app_module,
        ]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, start_new_session=True
        )

    def wait_until_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.error_log.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                if http("GET", self.base_url + "/api/v1/health", timeout=2)[0] == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {seconds} s")

    def worker_pids(self) -> set[str]:
        """The pids of the workers that answered requests, from the access log."""
        lines = self.access_log.read_text().splitlines()
        return {line.split()[0] for line in lines if line.strip()}

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


class Granian(Gunicorn):
    """`granian --interface wsgi --workers N --blocking-threads T wsgi:app` as a subprocess."""

    def __init__(self, env: dict, workers: int, threads: int, log_dir: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.error_log = log_dir / "granian.log"
        command = [
            str(Path(sys.executable).parent / "granian"),
            "--interface",
            "wsgi",
            "--workers",
            str(workers),
            "--blocking-threads",
            str(threads),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "wsgi:app",
        ]
        with self.error_log.open("w") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, **env},
                start_new_session=True,
                stdout=log,
                stderr=subprocess.STDOUT,
            )


def http(method: str, url: str, body=None, headers=None, timeout: float = 30):
    """(status, headers, JSON body or None) over a new connection; 4xx/5xx do not raise."""
    data = json.dumps(body).encode() if body is not None else None
    assert url.startswith("http://127.0.0.1:")
    request = urllib.request.Request(  # noqa: S310 (a local http URL, checked above)
        url, data=data, method=method, headers=dict(headers or {})
    )
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, answer_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, raw = error.code, error.headers, error.read()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return status, answer_headers, parsed
