"""A tool registered only in tests that misbehaves on request: it sleeps, spins, allocates
without bound, kills its own process or raises (or says which process ran it). Module-level, so
that the tool pool can send its run function to a tool process by reference."""

import os
import signal
import time

from dashboard.tools.tool import ToolVersion, object_schema

DEADLINE_SECONDS = 1.0


def misbehave(payload: dict) -> dict:
    """Do what `do` says; `ok` answers at once."""
    what = payload["do"]
    if what == "sleep":
        time.sleep(60)
    elif what == "spin":
        while True:
            pass
    elif what == "allocate":
        hoard = []
        while True:
            hoard.append(bytearray(16 * 1024 * 1024))
    elif what == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    elif what == "raise":
        raise RuntimeError("hostile on purpose")
    elif what == "pid":
        return {"done": str(os.getpid())}
    return {"done": what}


HOSTILE = ToolVersion(
    name="hostile",
    version="v1",
    title="Hostile",
    description="Misbehaves on request (tests only).",
    input_schema=object_schema(
        {"do": {"enum": ["ok", "sleep", "spin", "allocate", "die", "raise", "pid"]}},
        required=["do"],
    ),
    output_schema=object_schema({"done": {"type": "string"}}, required=["done"]),
    example_input={"do": "ok"},
    run=misbehave,
    deadline_seconds=DEADLINE_SECONDS,
)
