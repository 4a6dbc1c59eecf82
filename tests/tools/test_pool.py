"""The tool pool on its own: recycling, replacement, and the kernel's CPU cap on a run whose
web worker is no longer waiting for it."""

import os
import signal
from multiprocessing.reduction import ForkingPickler

import pytest

from dashboard.tools.pool import (
    ToolCrashed,
    ToolOutOfMemory,
    ToolPool,
    ToolProcess,
    ToolTimeout,
)
from dashboard.tools.tool import OutputTooLarge
from tests.api.hostile import misbehave


@pytest.fixture(scope="module")
def pool():
    pool = ToolPool(size=1, memory_mb=64, recycle_after=2)
    pool.start()
    yield pool
    pool.close()


def test_a_process_is_recycled_after_its_runs(pool):
    pids = [pool.run(misbehave, {"do": "pid"}, 5)["done"] for _ in range(4)]
    assert pids[0] == pids[1] != pids[2] == pids[3]


def test_a_killed_or_dead_process_is_replaced(pool):
    with pytest.raises(ToolTimeout, match=r"deadline of 0\.5 s"):
        pool.run(misbehave, {"do": "spin"}, 0.5)
    with pytest.raises(ToolCrashed, match="SIGKILL"):
        pool.run(misbehave, {"do": "die"}, 5)
    assert pool.run(misbehave, {"do": "ok"}, 5) == {"done": "ok"}


def test_an_output_past_its_limit_is_measured_in_the_tool_process(pool):
    """The web worker is told the size, never sent the output; the process is kept."""
    with pytest.raises(OutputTooLarge) as refused:
        pool.run(misbehave, {"do": "x" * 5000}, 5, max_output_bytes=1000)
    assert (refused.value.limit, refused.value.size) == (1000, len('{"done":""}') + 5000)
    assert pool.run(misbehave, {"do": "x" * 900}, 5, max_output_bytes=1000)["done"]


def test_a_run_past_the_memory_cap_is_out_of_memory_naming_the_cap(pool):
    with pytest.raises(ToolOutOfMemory, match=r"memory cap \(64 MB") as refused:
        pool.run(misbehave, {"do": "allocate"}, 10)
    assert refused.value.limit_bytes == 64 * 1024 * 1024
    assert pool.run(misbehave, {"do": "ok"}, 5) == {"done": "ok"}


def test_an_idle_process_that_died_is_replaced_before_a_run():
    pool = ToolPool(size=1, memory_mb=64, recycle_after=10)
    try:
        first = pool.run(misbehave, {"do": "pid"}, 5)["done"]
        process = pool.idle.get()
        assert str(process.process.pid) == first and not process.gone()
        process.process.kill()  # as the OOM killer would, between two runs
        process.process.join(10)
        assert process.gone()
        pool.idle.put(process)
        assert pool.run(misbehave, {"do": "pid"}, 5)["done"] != first  # a new one, no crash
    finally:
        pool.close()


def test_a_run_nobody_waits_for_is_stopped_by_its_cpu_cap(pool):
    """As if its web worker had died mid-call: the spinning run is ended by RLIMIT_CPU
    (its deadline plus 2 s of CPU), not left running for ever."""
    process = ToolProcess(pool.context, memory_bytes=0, runs=5)
    message = (0.5, None, misbehave, {"do": "spin"})  # deadline, output limit, run, input
    process.connection.send_bytes(ForkingPickler.dumps(message))
    process.process.join(30)
    assert process.process.exitcode == -signal.SIGXCPU
    process.stop()


def test_an_idle_process_leaves_on_sigterm_at_once(pool):
    process = ToolProcess(pool.context, memory_bytes=0, runs=5)
    assert process.run(misbehave, {"do": "ok"}, 5) == {"done": "ok"}
    process.process.terminate()
    process.process.join(10)
    assert process.process.exitcode == 0
    process.stop()


def test_tool_processes_run_at_a_lower_cpu_priority_than_the_web_worker():
    pool = ToolPool(size=1, memory_mb=64, recycle_after=10, nice=7)
    try:
        pid = int(pool.run(misbehave, {"do": "pid"}, 5)["done"])
        worker = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(worker + 7, 19)
    finally:
        pool.close()
