"""The tools' worked examples: each served version's `example_input` run through its tool, so
that an example which no longer runs is flagged on the super admins' portal page instead of
being shown to the public as if it worked.

Each version runs once per process (its outcome is kept); upstream tools are not called from a
page, so their examples are not run here.
"""

import functools
import logging
from typing import NamedTuple

from jsonschema import Draft202012Validator

from dashboard.tools.served import active_tools
from dashboard.tools.tool import ToolVersion

log = logging.getLogger(__name__)


class ExampleFailure(NamedTuple):
    tool_name: str
    version: str
    message: str


def example_failures() -> list[ExampleFailure]:
    """Every served version whose example does not run, by name and version."""
    failures = []
    for tool in active_tools().all():
        if tool.run is None:
            continue
        problem = example_problem(tool)
        if problem:
            failures.append(ExampleFailure(tool.name, tool.version, problem))
    return failures


@functools.cache
def example_problem(tool: ToolVersion) -> str | None:
    """What goes wrong when the example runs (input or output against the schemas, or the
    run itself), or None when it runs."""
    try:
        refused = next(tool.validator.iter_errors(tool.example_input), None)
        if refused is not None:
            return f"The example input does not match the input schema: {refused.message}"
        output = tool.run(tool.example_input)
        broken = next(Draft202012Validator(tool.output_schema).iter_errors(output), None)
        if broken is not None:
            return f"The answer does not match the output schema: {broken.message}"
    except Exception as error:  # a broken example is reported, never a broken page
        log.exception("The example of %s %s failed", tool.name, tool.version)
        return f"{type(error).__name__}: {error}"
    return None
