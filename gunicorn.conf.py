"""gunicorn reads this from the working directory: `gunicorn wsgi:app` needs nothing else.

- Metrics: every worker counts into PROMETHEUS_MULTIPROC_DIR (by default a directory of this
  server's own under the temporary directory, removed at exit), emptied when this file is
  read; `/metrics` (with METRICS_TOKEN) adds all workers up, and so does the master on
  METRICS_PORT when it is set.
- Shutdown: on SIGTERM each worker finishes the call it is answering (and its metering) before
  it exits, for up to GRACEFUL_TIMEOUT seconds.
- Tools: with TOOL_ISOLATION each worker starts its tool processes before its first call
  (dashboard/tools/pool.py); tool deadlines stay well below gunicorn's --timeout (30 s).
- Logs: gunicorn's own lines are JSON too when LOG_FORMAT is json (production's default).
"""

import os
import shutil
import tempfile

# prometheus-client reads this when first imported: before the app (and this file's imports).
# Start with an empty directory: files of earlier workers would count again.
METRICS_DIRECTORY = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR",
    os.path.join(tempfile.gettempdir(), f"toolbox-metrics-{os.getpid()}"),
)
shutil.rmtree(METRICS_DIRECTORY, ignore_errors=True)
os.makedirs(METRICS_DIRECTORY)

from prometheus_client import CollectorRegistry, multiprocess, start_http_server  # noqa: E402

from dashboard.config import config_from_environment  # noqa: E402
from dashboard.observability.logs import JSON_DATES, JSON_FIELDS, JSON_RENAMED  # noqa: E402
from dashboard.tools.pool import close_pools, tool_pool  # noqa: E402
from dashboard.tools.registry import warm_up  # noqa: E402

app_config = config_from_environment()
graceful_timeout = app_config.GRACEFUL_TIMEOUT

if app_config.LOG_FORMAT == "json":
    # Replaces gunicorn's logging setup: the root logger gets the app's handler in each worker
    # (dashboard/observability/logs.py); the app logs every request, so no access log here.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": "INFO", "handlers": []},
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": JSON_FIELDS.replace(" %(request_id)s", ""),
                "rename_fields": JSON_RENAMED,
                "datefmt": JSON_DATES,
            }
        },
        "handlers": {
            "error_console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
    }


def when_ready(server) -> None:
    """Serve every worker's metrics from the master on METRICS_PORT, when it is set."""
    if app_config.METRICS_PORT:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        start_http_server(app_config.METRICS_PORT, addr=app_config.METRICS_BIND, registry=registry)
        server.log.info(
            "Metrics on http://%s:%s/metrics", app_config.METRICS_BIND, app_config.METRICS_PORT
        )


def post_worker_init(worker) -> None:
    """Before the worker takes its first call: with TOOL_ISOLATION, start its tool processes
    (their fork server loads the tools' lexicons and models; the worker itself never runs a
    tool, so it does not load them); without, load them in the worker."""
    if app_config.TOOL_ISOLATION:
        tool_pool(vars(app_config)).start()
    else:
        warm_up()


def worker_exit(server, worker) -> None:
    """Stop the worker's tool processes with it."""
    close_pools()


def child_exit(server, worker) -> None:
    """A worker's live gauges (connections in use) stop counting when it is gone."""
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    """Remove the metrics directory this server made for itself."""
    if os.path.basename(METRICS_DIRECTORY) == f"toolbox-metrics-{os.getpid()}":
        shutil.rmtree(METRICS_DIRECTORY, ignore_errors=True)
