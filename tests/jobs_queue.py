"""Run the jobs that a test app queued (its `memory://` queue), as the worker would."""


def run_queued(app, name: str) -> int:
    """Run every queued job called `name` (others stay queued, in order); how many ran."""
    huey = app.extensions["jobs"].huey
    others, ran = [], 0
    while (task := huey.dequeue()) is not None:
        if task.name == name:
            huey.execute(task)
            ran += 1
        else:
            others.append(task)
    for task in others:
        huey.enqueue(task)
    return ran


def queued(app) -> list[tuple[str, tuple]]:
    """(name, arguments) of each job waiting in the app's queue."""
    return [(task.name, task.args) for task in app.extensions["jobs"].huey.pending()]
