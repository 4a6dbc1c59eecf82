"""The tool pool: tool runs in processes of their own, under a hard deadline and a memory cap.

Each web worker keeps TOOL_POOL_SIZE tool processes (started lazily, or by gunicorn's
post_worker_init). A run takes an idle process, sends it (function, payload) over a pipe and
waits on the pipe with `poll(deadline)`:
- an answer in time: the tool's output, its InputRefused (422), OutputTooLarge (422: the
  output's JSON is measured in the tool process, so an oversized output never crosses the pipe
  into the web worker), or what else it raised (ToolRaised, as text);
- no answer by the deadline: the process is killed (SIGKILL) and replaced: ToolTimeout;
- MemoryError inside the process: ToolOutOfMemory (422 naming the cap), and it is replaced;
- the pipe closes (the process died: os._exit, a signal, a crash in C code): ToolCrashed.
A process is replaced after TOOL_RECYCLE_AFTER runs, so slow leaks in a library cannot grow.

Processes come from a fork server (multiprocessing's "forkserver" context) that imported
dashboard/tools/warmed.py once: every tool process is forked from an interpreter that already
holds the lexicons and models, so it starts warm in milliseconds and shares those pages with its
siblings, and it inherits none of the web worker's threads, locks, sockets or database
connections (which a plain fork of a threaded worker would).

The memory cap is RLIMIT_AS, set in each tool process: its size once warmed plus
TOOL_MEMORY_MB. Python then raises MemoryError where an allocation would pass it.

Why the standard library and not pebble: pebble's ProcessPool does the same supervision
(deadline, kill, replace, max_tasks), but it is not installed here, and its futures add a
result-handling thread and a queue hop per run; the part we need (one pipe per process, poll with
a timeout, SIGKILL, setrlimit) is about a hundred lines we can read and test. We did not measure
pebble (installing it into the shared environment was not ours to do).
"""

import math
import multiprocessing
import os
import pickle
import queue
import resource
import select
import signal
import threading
import traceback
from collections.abc import Callable

from dashboard.tools.tool import InputRefused, OutputTooLarge, output_size

# The fork server imports these once; its children are forked from it, warm.
PRELOAD = ["dashboard.tools.warmed"]
# The exit code of a tool process that ran out of memory sending its answer.
OUT_OF_MEMORY_EXIT = 3
# How long a dead process's exit code is waited for, to say how it ended.
EXIT_WAIT_SECONDS = 1.0
# Runs and answers go over the pipe as plain pickles (functions by reference): nothing sent is a
# socket or a pipe, so multiprocessing's ForkingPickler (its reducer tables copied per message)
# is not needed.
PROTOCOL = pickle.HIGHEST_PROTOCOL


class ToolTimeout(Exception):
    """The run passed its deadline; its process was killed."""


class ToolCrashed(Exception):
    """The run's process died or passed its memory cap; it was replaced."""


class ToolOutOfMemory(ToolCrashed):
    """The run passed the memory cap (`limit_bytes` over the process's warmed size)."""

    def __init__(self, limit_bytes: int) -> None:
        megabytes = limit_bytes // (1024 * 1024)
        super().__init__(f"it ran past its memory cap ({megabytes} MB over its start)")
        self.limit_bytes = limit_bytes


class ToolRaised(Exception):
    """The tool raised inside its process: `str()` is `Type: message`, `details` its traceback."""

    def __init__(self, summary: str, details: str = "") -> None:
        super().__init__(summary)
        self.details = details


def serve(connection, memory_bytes: int, runs: int) -> None:
    """A tool process: cap its memory, then answer up to `runs` runs and leave.

    SIGTERM (and SIGINT) end an idle process at once, but let a run finish first: on a graceful
    shutdown (systemd signals the whole group) the web worker finishes its call, so its run must
    finish too. Each run's CPU time is also capped (RLIMIT_CPU) a little past its deadline, so a
    run that spins on after its worker died or left is stopped by the kernel."""
    state = {"busy": False, "leaving": False}

    def leave(signum, frame) -> None:
        if not state["busy"]:
            os._exit(0)
        state["leaving"] = True

    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGINT, leave)
    cap_memory(memory_bytes)
    for _ in range(runs):
        try:
            message = connection.recv_bytes()
        except (EOFError, OSError):  # the web worker is gone or retired this process
            return
        state["busy"] = True
        kind, value = run_one(message)
        try:
            connection.send_bytes(pickle.dumps((kind, value), PROTOCOL))
        except MemoryError:
            os._exit(OUT_OF_MEMORY_EXIT)  # the parent sees the pipe close: ToolOutOfMemory
        except Exception as error:  # an output that cannot be pickled
            answer = ("raised", (summary_of(error), traceback.format_exc()))
            connection.send_bytes(pickle.dumps(answer, PROTOCOL))
        state["busy"] = False
        if kind == "memory" or state["leaving"]:
            return  # after a MemoryError the process may be in any state: start afresh


def run_one(message: bytes) -> tuple[str, object]:
    """("ok", output), ("refused", (path, message)), ("too_large", (limit, size, estimated)),
    ("memory", None) or ("raised", (summary, traceback)) for one run."""
    try:
        deadline, max_output_bytes, function, payload = pickle.loads(message)  # noqa: S301
        cap_cpu(deadline)
        output = function(payload)
        size = output_size(output) if max_output_bytes else None
        if size is not None and size > max_output_bytes:
            return "too_large", (max_output_bytes, size, False)
        return "ok", output
    except InputRefused as refusal:
        return "refused", (refusal.path, refusal.message)
    except OutputTooLarge as refusal:
        return "too_large", (refusal.limit, refusal.size, refusal.estimated)
    except MemoryError:
        return "memory", None
    except Exception as error:
        return "raised", (summary_of(error), traceback.format_exc())


def summary_of(error: BaseException) -> str:
    try:
        return f"{type(error).__name__}: {error}"
    except Exception:
        return type(error).__name__


def cap_cpu(deadline: float) -> None:
    """Let this process use at most `deadline` (rounded up) plus 2 more CPU seconds: past
    them the kernel sends SIGXCPU, which ends it."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + deadline) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.getrlimit(resource.RLIMIT_CPU)[1]))


def cap_memory(extra_bytes: int) -> None:
    """Limit this process's address space to its present size plus `extra_bytes` (0: no cap)."""
    if extra_bytes <= 0:
        return
    with open("/proc/self/statm") as statm:
        size = int(statm.read().split()[0]) * resource.getpagesize()
    limit = size + extra_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class ToolProcess:
    """One tool process and the web worker's end of its pipe."""

    def __init__(self, context, memory_bytes: int, runs: int, nice: int = 0) -> None:
        ours, theirs = context.Pipe()
        self.process = context.Process(
            target=serve, args=(theirs, memory_bytes, runs), daemon=True, name="tool"
        )
        self.process.start()
        if nice > 0:
            # Tool runs yield the CPU to the web workers: a costly run slows other runs, not
            # the pages and the gateway's own work (raising the nice value of a process of
            # one's own needs no privilege).
            own = os.getpriority(os.PRIO_PROCESS, 0)
            os.setpriority(os.PRIO_PROCESS, self.process.pid, min(own + nice, 19))
        theirs.close()
        self.connection = ours
        # Polled for the answer on every run: one poll object, not a selector per run.
        self.answered = select.poll()
        self.answered.register(ours.fileno(), select.POLLIN)
        self.runs_left = runs
        self.memory_bytes = memory_bytes

    def run(
        self,
        function: Callable[[dict], dict],
        payload: dict,
        deadline: float,
        max_output_bytes: int | None = None,
    ) -> dict:
        """The tool's output, or ToolTimeout / ToolCrashed / ToolOutOfMemory / ToolRaised /
        InputRefused / OutputTooLarge."""
        # Raises here if it cannot be sent (a closure, say): the process is left as it was.
        message = pickle.dumps((deadline, max_output_bytes, function, payload), PROTOCOL)
        self.runs_left -= 1
        try:
            self.connection.send_bytes(message)
            if not self.answered.poll(math.ceil(deadline * 1000)):  # ready, or the pipe closed
                raise ToolTimeout(f"ran past its deadline of {deadline:g} s and was stopped")
            # Our own tool process, as multiprocessing's Connection.recv() trusts it.
            kind, value = pickle.loads(self.connection.recv_bytes())  # noqa: S301
        except (EOFError, OSError):
            death = self.death()
            if death == f"exit code {OUT_OF_MEMORY_EXIT}":
                raise ToolOutOfMemory(self.memory_bytes) from None
            raise ToolCrashed(f"its process died ({death})") from None
        if kind == "memory":
            raise ToolOutOfMemory(self.memory_bytes)
        if kind == "raised":
            raise ToolRaised(*value)
        if kind == "refused":
            raise InputRefused(*value)
        if kind == "too_large":
            raise OutputTooLarge(*value)
        return value

    def gone(self) -> bool:
        """Whether the idle process died (its pipe closed): an idle process never writes, so
        its end of the pipe is ready only when closed. One poll, no waitpid."""
        return bool(self.answered.poll(0))

    def death(self) -> str:
        """How the process ended: `SIGKILL`, `exit code 3`, …"""
        self.process.join(EXIT_WAIT_SECONDS)
        code = self.process.exitcode
        if code is None:
            return "still running"
        if code < 0:
            return signal.Signals(-code).name
        return f"exit code {code}"

    def stop(self, kill: bool = False) -> None:
        """Retire the process: close its pipe, so that it leaves by itself (without waiting for
        it: a recycled process costs its last call nothing), or kill it first."""
        if kill:
            self.process.kill()
        self.connection.close()


class ToolPool:
    """TOOL_POOL_SIZE tool processes of one web worker, each used by one run at a time."""

    def __init__(
        self,
        size: int,
        memory_mb: int,
        recycle_after: int,
        nice: int = 0,
        start_method="forkserver",
    ):
        self.context = multiprocessing.get_context(start_method)
        self.nice = nice
        if start_method == "forkserver":
            self.context.set_forkserver_preload(PRELOAD)
        self.memory_bytes = memory_mb * 1024 * 1024
        self.recycle_after = max(1, recycle_after)
        self.owner = os.getpid()
        self.idle: queue.LifoQueue[ToolProcess | None] = queue.LifoQueue()
        for _ in range(max(1, size)):
            self.idle.put(None)  # a place for a process, started when first needed

    def new_process(self) -> ToolProcess:
        return ToolProcess(self.context, self.memory_bytes, self.recycle_after, self.nice)

    def start(self) -> None:
        """Start every process now (a web worker's start-up), not on the first calls."""
        places = []
        while True:
            try:
                places.append(self.idle.get_nowait())
            except queue.Empty:
                break
        for process in places:
            self.idle.put(process or self.new_process())

    def run(
        self,
        function: Callable[[dict], dict],
        payload: dict,
        deadline: float,
        max_output_bytes: int | None = None,
    ) -> dict:
        """Run `function(payload)` in a tool process within `deadline` seconds; an output of
        more than `max_output_bytes` (compact JSON) is OutputTooLarge."""
        try:
            process = self.idle.get(timeout=deadline)
        except queue.Empty:
            raise ToolTimeout(f"waited {deadline:g} s for a free tool process") from None
        try:
            if process is None or process.gone():
                if process is not None:
                    process.stop()
                process = self.new_process()
            return process.run(function, payload, deadline, max_output_bytes)
        except (ToolTimeout, ToolCrashed):
            process.stop(kill=True)
            process = None  # replaced by the next run
            raise
        finally:
            if process is not None and process.runs_left <= 0:
                process.stop()
                process = None
            self.idle.put(process)

    def close(self) -> None:
        """Stop every process of the pool."""
        while True:
            try:
                process = self.idle.get_nowait()
            except queue.Empty:
                return
            if process is not None:
                process.stop(kill=True)


_pools: dict[tuple, ToolPool] = {}
_pools_lock = threading.Lock()


def tool_pool(config) -> ToolPool:
    """This process's pool for the app's settings (a forked web worker makes its own)."""
    settings = (
        config["TOOL_POOL_SIZE"],
        config["TOOL_MEMORY_MB"],
        config["TOOL_RECYCLE_AFTER"],
        config["TOOL_NICE"],
    )
    with _pools_lock:
        pool = _pools.get(settings)
        if pool is None or pool.owner != os.getpid():
            pool = _pools[settings] = ToolPool(*settings)
    return pool


def close_pools() -> None:
    """Stop every pool of this process (tests; a worker's exit)."""
    with _pools_lock:
        for pool in _pools.values():
            if pool.owner == os.getpid():
                pool.close()
        _pools.clear()
