"""The job queue: work that must not run in a web request (alert delivery, webhooks, purges).

Huey, because it covers both halves of the design with one library: Redis in production
(`QUEUE_URL=redis://...`), its SQLite storage on the embedded default (nothing to install,
`instance/jobs.sqlite`), a consumer with worker threads and a built-in periodic scheduler
(crontab), and delayed jobs for retries with backoff. RQ needs Redis everywhere and a separate
scheduler; Dramatiq needs Redis or RabbitMQ.

Tasks are declared once, at import, with `@jobs.task` / `@jobs.periodic(...)`; `init_app` makes
one Huey per app from its config and registers every task there, each run inside an app context.
Call a task with `jobs.enqueue(func, *args)` or `jobs.schedule(func, args, delay)`; both raise
QueueUnavailable when the queue's storage is down or silent (Redis waits are bounded by
REDIS_TIMEOUT_SECONDS), so a page can say so instead of hanging or failing.
"""

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from huey import MemoryHuey, RedisHuey, SqliteHuey, crontab
from redis import ConnectionPool, RedisError

from dashboard.redis_waits import bounded_waits

logger = logging.getLogger(__name__)
# What the queue's storage raises when it is down, silent or locked.
STORAGE_ERRORS = (RedisError, sqlite3.OperationalError)


class QueueUnavailable(Exception):
    """The job could not be queued: the queue's storage did not answer."""


class Jobs:
    """Tasks declared at import, bound to each app's Huey by `init_app`."""

    def __init__(self) -> None:
        self.declared: dict[str, tuple[Callable, Callable | None]] = {}

    def task(self, func: Callable) -> Callable:
        """Declare `func` a job; it stays a plain function (tests may call it directly)."""
        self.declared[func.__name__] = (func, None)
        return func

    def periodic(self, schedule: Callable[[dict], crontab]) -> Callable:
        """Declare a periodic job; `schedule(config)` gives its crontab."""

        def declare(func: Callable) -> Callable:
            self.declared[func.__name__] = (func, schedule)
            return func

        return declare

    def init_app(self, app: Flask) -> None:
        huey = huey_for(app)
        bound = {}
        for name, (func, schedule) in self.declared.items():
            run = in_app_context(app, func)
            if schedule is None:
                bound[name] = huey.task(name=name)(run)
            else:
                bound[name] = huey.periodic_task(schedule(app.config), name=name)(run)
        app.extensions["jobs"] = BoundJobs(huey, bound)

    def enqueue(self, func: Callable, *args) -> None:
        """Queue `func(*args)` to run on a worker now (QueueUnavailable when it cannot)."""
        try:
            current_app.extensions["jobs"].tasks[func.__name__](*args)
        except STORAGE_ERRORS as error:
            raise QueueUnavailable(f"{func.__name__} was not queued: {error}") from error

    def schedule(self, func: Callable, args: tuple, delay: float) -> None:
        """Queue `func(*args)` to run on a worker in `delay` seconds (QueueUnavailable when
        it cannot)."""
        task = current_app.extensions["jobs"].tasks[func.__name__]
        try:
            task.schedule(args=args, delay=delay)
        except STORAGE_ERRORS as error:
            raise QueueUnavailable(f"{func.__name__} was not scheduled: {error}") from error


class BoundJobs:
    """One app's Huey and its registered tasks."""

    def __init__(self, huey, tasks: dict) -> None:
        self.huey = huey
        self.tasks = tasks


def huey_for(app: Flask):
    """A Huey for the app's QUEUE_URL: redis://, memory://, immediate://, sqlite:///path or
    empty (instance/jobs.sqlite)."""
    url = app.config["QUEUE_URL"]
    name = app.config["QUEUE_NAME"]
    options = {"results": False, "utc": True}
    if url.startswith(("redis://", "rediss://", "unix://")):
        waits = bounded_waits(app.config["REDIS_TIMEOUT_SECONDS"])
        return RedisHuey(name, connection_pool=ConnectionPool.from_url(url, **waits), **options)
    if url == "memory://":
        return MemoryHuey(name, **options)
    if url == "immediate://":
        return MemoryHuey(name, immediate=True, **options)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
    elif url == "":
        path = Path(app.instance_path) / "jobs.sqlite"
    else:
        raise RuntimeError(
            f"QUEUE_URL {url!r} is not redis://, sqlite:///, memory://, immediate:// or empty."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(path), **options)


def in_app_context(app: Flask, func: Callable) -> Callable:
    """`func` run inside an app context of `app` (its own database session)."""

    def run(*args):
        with app.app_context():
            return func(*args)

    run.__name__ = func.__name__
    run.__module__ = func.__module__  # the worker lists jobs by where they are declared
    run.__doc__ = func.__doc__
    return run


jobs = Jobs()


@click.command("worker")
@click.option("--workers", type=int, default=None, help="Worker threads (JOBS_WORKERS).")
@with_appcontext
def worker_command(workers: int | None) -> None:
    """Run the queue's consumer: queued jobs, retries and the periodic schedule."""
    bound = current_app.extensions["jobs"]
    if current_app.config["QUEUE_URL"] in ("memory://", "immediate://"):
        raise click.ClickException(
            "QUEUE_URL keeps jobs inside the web process; a worker needs redis:// or SQLite."
        )
    show_logs_of("huey", "dashboard")
    wait_through_blocking_reads(bound.huey)
    count = workers or current_app.config["JOBS_WORKERS"]
    consumer = bound.huey.create_consumer(workers=count, worker_type="thread", periodic=True)
    consumer.run()


def wait_through_blocking_reads(huey) -> None:
    """The consumer waits for jobs with BRPOP for up to `read_timeout` seconds: its Redis
    answers may take that long (plus REDIS_TIMEOUT_SECONDS), where a web request's may not."""
    storage = huey.storage
    pool = getattr(storage, "pool", None)
    if pool is not None and getattr(storage, "blocking", False):
        kwargs = pool.connection_kwargs
        kwargs["socket_timeout"] = storage.read_timeout + kwargs["socket_timeout"]
        pool.disconnect()  # connections made before now keep the short timeout


def show_logs_of(*names: str) -> None:
    """INFO and above of these loggers through the app's one handler (text, or JSON in
    production); the scheduler's line for every periodic job it queues only at DEBUG."""
    for name in names:
        logging.getLogger(name).setLevel(logging.INFO)
    logging.getLogger("huey.consumer.Scheduler").setLevel(logging.WARNING)
