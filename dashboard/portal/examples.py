"""The tools' worked examples: each served version's `example_input` run through its tool, so
that an example which no longer runs is flagged on the super admins' portal page instead of
being shown to the public as if it worked.

Each version runs once per process (its outcome is kept); upstream tools are not called from a
page, so their examples are not run here.
"""

from typing import NamedTuple

from dashboard.portal.docs import worked_example
from dashboard.tools.served import active_tools


class ExampleFailure(NamedTuple):
    tool_name: str
    version: str
    message: str


def example_failures() -> list[ExampleFailure]:
    """Every served version whose example does not run, by name and version (each runs once per
    process, as on its public page: dashboard/portal/docs.py)."""
    failures = []
    for tool in active_tools().all():
        if tool.run is None:
            continue
        problem = worked_example(tool).problem
        if problem:
            failures.append(ExampleFailure(tool.name, tool.version, problem))
    return failures
