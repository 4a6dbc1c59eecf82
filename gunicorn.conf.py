"""gunicorn reads this from the working directory: `gunicorn wsgi:app` needs nothing else."""

from dashboard.tools.registry import warm_up


def post_worker_init(worker) -> None:
    """Load the tools' lexicons and models before the worker takes its first call."""
    warm_up()
