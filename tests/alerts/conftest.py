"""Real parts for the alert tests: the queue (Redis on PostgreSQL runs, SQLite storage on SQLite
runs) consumed by a real Huey consumer, an SMTP server (aiosmtpd) and HTTP receivers, all on
127.0.0.1."""

import http.server
import signal
import socket
import threading
import time
import uuid

import pytest
import redis
from aiosmtpd.controller import Controller
from huey import signals

from dashboard.extensions import db
from dashboard.jobs import wait_through_blocking_reads
from tests.conftest import REDIS_SERVER, require_redis


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, timeout: float = 15.0, what: str = "condition"):
    """Poll `condition` (a fresh database view each time) until it is truthy; its value."""
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Sink:
    """An aiosmtpd handler that keeps every message."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"

    def texts(self) -> list[str]:
        return [m.content.decode("utf-8", "replace") for m in self.messages]


@pytest.fixture(scope="session")
def smtp_server():
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def mailbox(smtp_server):
    """The messages the SMTP server receives during this test."""
    smtp_server.handler.messages.clear()
    return smtp_server.handler


@pytest.fixture
def queue_url(backend, tmp_path):
    if backend == "postgresql":
        require_redis()
        return REDIS_SERVER
    return f"sqlite:///{tmp_path / 'jobs.sqlite'}"


@pytest.fixture
def app_overrides(queue_url, smtp_server):
    return {
        "QUEUE_URL": queue_url,
        "QUEUE_NAME": f"test-alerts-{uuid.uuid4().hex[:10]}",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp_server.port,
        "MAIL_USE_TLS": False,
        "WEBHOOK_ALLOW_PRIVATE": True,
        "WEBHOOK_TIMEOUT_SECONDS": 2.0,
        "WEBHOOK_RETRY_SECONDS": 0.2,
        "WEBHOOK_RETRY_FOR_SECONDS": 60,
        "WEBHOOK_DISABLE_AFTER_FAILURES": 3,
    }


class Worker:
    """A Huey consumer running in this process, with a count of finished jobs by name."""

    def __init__(self, app) -> None:
        self.huey = app.extensions["jobs"].huey
        self.finished: dict[str, int] = {}
        self.queued: dict[str, int] = {}
        self.lock = threading.Lock()

        @self.huey.signal(signals.SIGNAL_COMPLETE, signals.SIGNAL_ERROR)
        def count_finished(signal_name, task, *args):
            with self.lock:
                self.finished[task.name] = self.finished.get(task.name, 0) + 1

        def count_queued(signal_name, task, *args):
            with self.lock:
                self.queued[task.name] = self.queued.get(task.name, 0) + 1

        # Jobs are queued by the dashboard app and by the API app (metered calls), each
        # through its own Huey on the same queue; this consumer runs them all.
        for queuing_app in (app, app.extensions["api_app"]):
            queuing_app.extensions["jobs"].huey.signal(signals.SIGNAL_ENQUEUED)(count_queued)

        # As `flask worker` does: the consumer's blocking reads wait past REDIS_TIMEOUT_SECONDS.
        # Without it a read timed out client-side while Redis still counted it as waiting, and
        # a job pushed in that moment could go to the closed connection and be lost.
        wait_through_blocking_reads(self.huey)
        self.consumer = self.huey.create_consumer(
            workers=3,
            worker_type="thread",
            periodic=False,
            initial_delay=0.02,
            max_delay=0.2,
            scheduler_interval=1,
            check_worker_health=False,
        )

    def start(self) -> None:
        saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        self.consumer.start()
        for number, handler in saved.items():  # the consumer's handlers are for `flask worker`
            signal.signal(number, handler)

    def stop(self) -> None:
        self.consumer.stop(graceful=True)

    def count(self, name: str) -> int:
        with self.lock:
            return self.finished.get(name, 0)

    def idle(self) -> bool:
        """Every job queued from this process has run (retries included)."""
        with self.lock:
            return self.queued == self.finished


@pytest.fixture
def worker(app, app_overrides):
    """The real queue, consumed while the test runs; its Redis keys are removed after."""
    running = Worker(app)
    running.start()
    yield running
    running.stop()
    if app.config["QUEUE_URL"].startswith("redis://"):
        connection = redis.Redis.from_url(app.config["QUEUE_URL"])
        for key in connection.scan_iter(f"huey.*.{running.huey.storage.name}*"):
            connection.delete(key)


class Receiver:
    """An HTTP server on 127.0.0.1 that answers as `mode` says and records what it received."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.received: list[tuple[dict, bytes]] = []
        self.release = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append((dict(self.headers.items()), body))
                receiver.answer(self)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def answer(self, handler) -> None:
        if self.mode == "hang":
            self.release.wait(10)
            return
        if self.mode == "redirect":
            handler.send_response(302)
            handler.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if self.mode == "huge":
            handler.send_response(200)
            handler.end_headers()  # no length: streamed until the client stops reading
            try:
                for _ in range(1000):
                    handler.wfile.write(b"x" * 65536)
            except OSError:
                pass
            return
        status = 200 if self.mode == "ok" else 500
        body = b'{"received": true}' if status == 200 else b"upstream exploded"
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()
