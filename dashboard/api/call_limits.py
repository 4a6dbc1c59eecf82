"""The per-minute limits of a call, key and account together, in a sliding window.

Every call is counted against two limits: its key's (`api_keys.rate_limit_per_minute`) and its
account's (the plan's `account_calls_per_minute`, shared by all of the account's keys). Each
limit keeps a log of the calls it let through in the last 60 seconds (a "sliding log"): a call is
let through when both logs hold fewer calls than their limits, and is then written into both.
So no client ever gets more than its limit in ANY 60 seconds, across window edges included
(a fixed window lets through twice the limit around its edge; a sliding counter or GCRA about
the same when the earlier calls bunch up at the end of a window). Refused calls are not logged,
so hammering a full window does not push its reset further away.

On Redis one call is ONE round trip: a Lua script trims both logs (sorted sets scored by Redis'
own clock in ms), counts them, takes one of the account's slots for calls in flight (see
dashboard/api/concurrency.py; a tool call only), adds the call to both logs when there is room
in both and a slot was free, finds when each log next frees a place, and reads the two
"invalidated at" marks of the key and its account (see dashboard/api/revocation.py). Cost per
call: O(log n) in the log's size, plus the calls that left the window (each removed once);
memory: one entry per call let through in the last minute.
In memory (`memory://`) the same logs are deques in the process, which is then the only one
counting: limits are per process.

X-RateLimit-Reset / RateLimit `t` is the number of seconds until the binding log next frees a
place (its oldest call leaves the window, or, when full, the one that brings it under the
limit); Retry-After on a 429 is the same time for the limit that refused.
"""

import itertools
import math
import os
import threading
import time
import uuid
import weakref
from collections import deque
from dataclasses import dataclass

import redis

WINDOW_SECONDS = 60  # RATELIMIT_WINDOW_SECONDS; shorter only in tests

# KEYS: key log, account log, key's invalidated-at mark, account's invalidated-at mark, the
#       key's calls this month (a counter, used only when the key has a monthly cap), and for a
#       tool call the account's slots for calls in flight (members scored by when they lapse)
#       and, when its plan caps them, the plan's slots (every account on the plan together).
# ARGV: key limit, account limit, window (ms), a member unique to this call, 1 to count the call
#       (0 only reads the windows, for answers that are not counted), the account's cap of calls
#       in flight, the slot's lifetime (ms), the plan's cap (0 when not taking a slot), the key's
#       monthly cap ("" none), the key's calls this month from the database ("" not read: the
#       counter must exist) and the counter's lifetime (ms).
# Answers: refused (0 no, 1 by the key's limit, 2 by the account's, 3 by the account's calls in
#          flight, 4 by the plan's, 5 by the key's monthly cap, 6 the key's month count is not
#          in Redis: send it), the key log's size and ms until it frees a place, the same for the
#          account, the two marks ("" when unset), and the key's calls this month with this one
#          (-1 when uncapped or unknown). A call refused for any reason is neither logged, nor
#          given a slot, nor counted in the month.
SLIDING_LOGS = """
local clock = redis.call("TIME")
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local window = tonumber(ARGV[3])
local limits = {tonumber(ARGV[1]), tonumber(ARGV[2])}
local counts = {}
for i = 1, 2 do
    redis.call("zremrangebyscore", KEYS[i], "-inf", now - window)
    counts[i] = redis.call("zcard", KEYS[i])
end
local cap = tonumber(ARGV[9])
local month_used = -1
if cap then
    local stored = redis.call("get", KEYS[5])
    if stored then
        month_used = tonumber(stored)
    elseif ARGV[10] ~= "" then
        redis.call("set", KEYS[5], ARGV[10], "PX", ARGV[11])
        month_used = tonumber(ARGV[10])
    end
end
local refused = 0
if ARGV[5] == "1" then
    if counts[1] >= limits[1] then
        refused = 1
    elseif counts[2] >= limits[2] then
        refused = 2
    elseif cap and month_used < 0 then
        refused = 6
    elseif cap and month_used >= cap then
        refused = 5
    elseif KEYS[6] then
        for i = 6, #KEYS do
            redis.call("zremrangebyscore", KEYS[i], "-inf", now)
        end
        if redis.call("zcard", KEYS[6]) >= tonumber(ARGV[6]) then
            refused = 3
        elseif KEYS[7] and redis.call("zcard", KEYS[7]) >= tonumber(ARGV[8]) then
            refused = 4
        else
            local lifetime = tonumber(ARGV[7])
            for i = 6, #KEYS do
                redis.call("zadd", KEYS[i], now + lifetime, ARGV[4])
                if redis.call("pttl", KEYS[i]) < lifetime then
                    redis.call("pexpire", KEYS[i], lifetime)
                end
            end
        end
    end
    if refused == 0 then
        local member = now .. ":" .. ARGV[4]
        for i = 1, 2 do
            redis.call("zadd", KEYS[i], now, member)
            redis.call("pexpire", KEYS[i], window)
            counts[i] = counts[i] + 1
        end
        if cap then
            month_used = redis.call("incr", KEYS[5])
        end
    end
end
local frees = {}
for i = 1, 2 do
    frees[i] = 0
    if counts[i] > 0 then
        local index = math.max(counts[i] - limits[i], 0)
        local entry = redis.call("zrange", KEYS[i], index, index, "WITHSCORES")
        if entry[2] then
            frees[i] = math.max(tonumber(entry[2]) + window - now, 0)
        end
    end
end
local marks = redis.call("mget", KEYS[3], KEYS[4])
return {refused, counts[1], frees[1], counts[2], frees[2], marks[1] or "", marks[2] or "",
    month_used}
"""


@dataclass(frozen=True)
class Window:
    """One limit's state after a call: what the rate-limit headers say about it."""

    policy: str  # "key" or "account"
    limit: int
    used: int  # calls in the log (this one included when it was let through)
    reset_seconds: float  # until the log next frees a place

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def reset(self) -> int:
        return max(0, math.ceil(self.reset_seconds))


@dataclass(frozen=True)
class Verdict:
    """What the limits said about one call, and when its key or account was last changed."""

    # None (let through), "key", "account", "in_flight" (the account's calls in flight),
    # "plan_in_flight" (the calls in flight of every account on its plan together),
    # "key_quota" (the key's monthly cap) or "key_month_unknown" (ask again with the count)
    refused_by: str | None
    key: Window
    account: Window
    invalidated_at: float = 0.0  # epoch seconds of the newer mark; 0.0 when there is none
    window_seconds: int = WINDOW_SECONDS
    slot: str | None = None  # the slot this call holds among the account's calls in flight
    # The key's monthly cap and its calls this month (this one included when let through).
    key_cap: int | None = None
    key_month_calls: int | None = None

    @property
    def binding(self) -> Window:
        """The window that refused the call, else the one with fewer calls left."""
        if self.refused_by == "account":
            return self.account
        if self.refused_by == "key":
            return self.key
        return self.account if self.account.remaining < self.key.remaining else self.key

    def headers(self) -> list[tuple[str, str]]:
        """X-RateLimit-* for the binding window, and the IETF RateLimit-Policy / RateLimit
        fields (draft-ietf-httpapi-ratelimit-headers) for both."""
        binding, key, account, window = self.binding, self.key, self.account, self.window_seconds
        return [
            *self.key_quota_headers(),
            ("X-RateLimit-Limit", str(binding.limit)),
            ("X-RateLimit-Remaining", str(binding.remaining)),
            ("X-RateLimit-Reset", str(binding.reset())),
            (
                "RateLimit-Policy",
                f'"key";q={key.limit};w={window}, "account";q={account.limit};w={window}',
            ),
            (
                "RateLimit",
                f'"key";r={key.remaining};t={key.reset()}, '
                f'"account";r={account.remaining};t={account.reset()}',
            ),
        ]

    def key_quota_headers(self) -> list[tuple[str, str]]:
        """X-Key-Quota-Limit / -Remaining for a key with a monthly cap (none otherwise)."""
        if self.key_cap is None or self.key_month_calls is None:
            return []
        remaining = max(0, self.key_cap - self.key_month_calls)
        return [("X-Key-Quota-Limit", str(self.key_cap)), ("X-Key-Quota-Remaining", str(remaining))]

    def judged_again(self, fresh: "Verdict") -> "Verdict":
        """This call's verdict after its key row was read again: `fresh` read the logs with the
        new row's limits (count=False); a call already let through is refused when it put a
        log over a new, lower limit (it stays in the log, like any call let through)."""
        refused_by = self.refused_by
        if refused_by is None:
            if fresh.key.used > fresh.key.limit:
                refused_by = "key"
            elif fresh.account.used > fresh.account.limit:
                refused_by = "account"
        return Verdict(
            refused_by,
            fresh.key,
            fresh.account,
            fresh.invalidated_at,
            self.window_seconds,
            self.slot,
            self.key_cap,
            self.key_month_calls,
        )

    def retry_after(self) -> int:
        """Seconds until the limit that refused lets one more call through (at least 1)."""
        return max(1, self.binding.reset())


@dataclass(frozen=True)
class InFlight:
    """A tool call asks for one of its account's `cap` slots for calls in flight, held for at
    most `lifetime_seconds` (its time limit and a margin) unless given back sooner; with a
    `plan`, also one of the `plan_cap` slots that every account on that plan shares."""

    cap: int
    lifetime_seconds: float
    plan: str | None = None
    plan_cap: int | None = None


@dataclass(frozen=True)
class MonthCap:
    """A key's monthly cap for one call: the month (`YYYY-MM`, UTC), the cap, and the key's calls
    that month as the database has them (None: not read; the storage must already count them)."""

    month: str
    cap: int
    calls: int | None = None


# How long a key's month counter outlives its last call: past the month's end, never reused.
MONTH_COUNTER_MS = 40 * 24 * 3600 * 1000

REFUSALS = {
    0: None,
    1: "key",
    2: "account",
    3: "in_flight",
    4: "plan_in_flight",
    5: "key_quota",
    6: "key_month_unknown",
}


def verdict_from(
    refused,
    counts,
    frees_ms,
    limits,
    window_seconds,
    marks=("", ""),
    slot=None,
    month: MonthCap | None = None,
    month_calls: int = -1,
) -> Verdict:
    """A Verdict from the script's answer (or the memory logs' equivalent)."""
    key, account = (
        Window(policy, limit, int(count), int(ms) / 1000)
        for policy, limit, count, ms in zip(
            ("key", "account"), limits, counts, frees_ms, strict=True
        )
    )
    stamps = [float(mark) for mark in marks if mark not in ("", b"", None)]
    refused_by = REFUSALS[int(refused)]
    return Verdict(
        refused_by,
        key,
        account,
        max(stamps, default=0.0),
        window_seconds,
        slot if refused_by is None else None,
        month.cap if month is not None else None,
        int(month_calls) if month is not None and int(month_calls) >= 0 else None,
    )


# The Redis limits of this process, whose threads' connections a forked child must not share.
_LIMITS_IN_PROCESS: weakref.WeakSet = weakref.WeakSet()


def _forget_connections_after_fork() -> None:
    """In a forked child (a server that loads the app before forking its workers), drop the
    parent's kept connections: each thread of the child connects on its own. Dropping closes
    nothing of the parent's (the pool, reset for the new pid, does not own them)."""
    for limits in _LIMITS_IN_PROCESS:
        limits.threads = threading.local()


os.register_at_fork(after_in_child=_forget_connections_after_fork)


class RedisCallLimits:
    """The sliding logs and the slots in Redis, shared by every worker: one script call per API
    call, and one ZREM when a call gives its slot back. Each thread keeps one connection of the
    client's pool for itself (as the hot path keeps its database connection), so a call checks
    no connection out of the pool and back."""

    def __init__(self, client, prefix: str, window_seconds: int = WINDOW_SECONDS) -> None:
        self.client = client
        self.threads = threading.local()
        _LIMITS_IN_PROCESS.add(self)
        self.script = client.register_script(SLIDING_LOGS)
        self.window_seconds = window_seconds
        self.prefix = prefix
        # Members must be unique among every worker of every host sharing this Redis: a pid
        # alone repeats across hosts (and two calls sharing a member would share one slot).
        self.origin = uuid.uuid4().hex[:12]
        self.sequence = itertools.count()

    def check(
        self,
        key_id,
        user_id,
        key_limit: int,
        account_limit: int,
        count: bool = True,
        in_flight: InFlight | None = None,
        month: MonthCap | None = None,
    ) -> Verdict:
        """Count (or with count=False only read) one call against both limits; with
        `in_flight`, also take one of the account's slots (Verdict.slot); with `month`, also
        count it against the key's monthly cap."""
        keys = [
            f"{self.prefix}:log:key:{key_id}",
            f"{self.prefix}:log:account:{user_id}",
            f"{self.prefix}:invalidated:key:{key_id}",
            f"{self.prefix}:invalidated:account:{user_id}",
            self.month_name(key_id, month.month if month is not None else ""),
        ]
        member = f"{self.origin}:{os.getpid()}:{next(self.sequence)}"
        argv = [key_limit, account_limit, self.window_seconds * 1000, member, 1 if count else 0]
        taking_slot = in_flight is not None and count
        slot_argv = [0, 0, 0]
        if taking_slot:
            keys.append(self.slots_name(user_id))
            slot_argv[:2] = [in_flight.cap, int(in_flight.lifetime_seconds * 1000)]
            if in_flight.plan is not None:
                keys.append(self.plan_slots_name(in_flight.plan))
                slot_argv[2] = in_flight.plan_cap
        argv += slot_argv
        if month is None:
            argv += ["", "", 0]
        else:
            seed = "" if month.calls is None else month.calls
            argv += [month.cap, seed, MONTH_COUNTER_MS]
        refused, key_count, key_frees, account_count, account_frees, *marks, month_calls = (
            self.script(keys, argv, client=self.thread_client())
        )
        return verdict_from(
            refused,
            (key_count, account_count),
            (key_frees, account_frees),
            (key_limit, account_limit),
            self.window_seconds,
            [mark.decode() if isinstance(mark, bytes) else mark for mark in marks],
            slot=member if taking_slot else None,
            month=month,
            month_calls=month_calls,
        )

    def give_back_month(self, key_id, month: str) -> None:
        """Take back a call counted against the key's monthly cap that was then refused before
        it was metered (the account's quota): one write, no round trip (see give_back)."""
        self._send_unanswered([("DECR", self.month_name(key_id, month))])

    def give_back(self, user_id, slot: str, plan: str | None = None) -> None:
        """Give back a slot taken by check() (and its plan's), without waiting: CLIENT REPLY
        SKIP tells Redis not to answer the ZREM after it, so this is one write and no round
        trip. Redis runs it before anything sent later on this connection; the answer leaves
        after it is sent."""
        names = [self.slots_name(user_id)]
        if plan is not None:
            names.append(self.plan_slots_name(plan))
        self._send_unanswered([("ZREM", name, slot) for name in names])

    def _send_unanswered(self, commands: list[tuple]) -> None:
        """Send `commands`, each after CLIENT REPLY SKIP: Redis runs them, answers none."""
        connection = self.thread_client().connection
        command = [part for one in commands for part in (("CLIENT", "REPLY", "SKIP"), one)]
        try:
            connection.send_packed_command(connection.pack_commands(command))
        except BaseException:
            connection.disconnect()  # the next command connects afresh
            raise

    def thread_client(self) -> redis.Redis:
        """This thread's client, holding one connection of the pool (made on first use)."""
        client = getattr(self.threads, "client", None)
        if client is None:
            pool = self.client.connection_pool
            client = self.threads.client = redis.Redis(
                connection_pool=pool, single_connection_client=True
            )
        return client

    def month_name(self, key_id, month: str) -> str:
        return f"{self.prefix}:month:key:{key_id}:{month}"

    def slots_name(self, user_id) -> str:
        return f"{self.prefix}:inflight:account:{user_id}"

    def plan_slots_name(self, plan: str) -> str:
        return f"{self.prefix}:inflight:plan:{plan}"


class MemoryCallLimits:
    """The same sliding logs in this process (`memory://`): limits are per process."""

    def __init__(self, window_seconds: int = WINDOW_SECONDS) -> None:
        self.window_seconds = window_seconds
        self.logs: dict[tuple[str, object], deque] = {}
        self.in_flight: dict[object, int] = {}  # calls in flight per account
        self.plan_in_flight: dict[str, int] = {}  # calls in flight per capped plan
        self.month_calls: dict[tuple, int] = {}  # (key, month) -> calls counted against a cap
        self.lock = threading.Lock()

    def check(
        self,
        key_id,
        user_id,
        key_limit: int,
        account_limit: int,
        count: bool = True,
        in_flight: InFlight | None = None,
        month: MonthCap | None = None,
    ) -> Verdict:
        """Count (or with count=False only read) one call against both limits; with
        `in_flight`, also take one of the account's slots (Verdict.slot); with `month`, also
        count it against the key's monthly cap."""
        now = time.monotonic()
        limits = (key_limit, account_limit)
        with self.lock:
            logs = [self._trimmed(("key", key_id), now), self._trimmed(("account", user_id), now)]
            month_calls = -1
            if month is not None:
                counter = (key_id, month.month)
                if counter not in self.month_calls and month.calls is not None:
                    self.month_calls[counter] = month.calls
                month_calls = self.month_calls.get(counter, -1)
            refused = 0
            if count:
                if len(logs[0]) >= key_limit:
                    refused = 1
                elif len(logs[1]) >= account_limit:
                    refused = 2
                elif month is not None and month_calls < 0:
                    refused = 6
                elif month is not None and month_calls >= month.cap:
                    refused = 5
                elif in_flight is not None:
                    held = self.in_flight.get(user_id, 0)
                    plan_held = self.plan_in_flight.get(in_flight.plan, 0)
                    if held >= in_flight.cap:
                        refused = 3
                    elif in_flight.plan is not None and plan_held >= in_flight.plan_cap:
                        refused = 4
                    else:
                        self.in_flight[user_id] = held + 1
                        if in_flight.plan is not None:
                            self.plan_in_flight[in_flight.plan] = plan_held + 1
                if refused == 0:
                    for log in logs:
                        log.append(now)
                    if month is not None:
                        month_calls = self.month_calls[counter] = month_calls + 1
            frees = [
                self._frees_ms(log, limit, now) for log, limit in zip(logs, limits, strict=True)
            ]
            counts = [len(log) for log in logs]
            slot = "slot" if in_flight is not None and count else None
            return verdict_from(
                refused,
                counts,
                frees,
                limits,
                self.window_seconds,
                slot=slot,
                month=month,
                month_calls=month_calls,
            )

    def give_back_month(self, key_id, month: str) -> None:
        """Take back a call counted against the key's monthly cap (refused before metering)."""
        with self.lock:
            counter = (key_id, month)
            if counter in self.month_calls:
                self.month_calls[counter] -= 1

    def give_back(self, user_id, slot: str, plan: str | None = None) -> None:
        """Give back a slot taken by check() (and its plan's)."""
        with self.lock:
            release(self.in_flight, user_id)
            if plan is not None:
                release(self.plan_in_flight, plan)

    def _trimmed(self, name, now: float) -> deque:
        log = self.logs.setdefault(name, deque())
        while log and log[0] <= now - self.window_seconds:
            log.popleft()
        return log

    def _frees_ms(self, log: deque, limit: int, now: float) -> float:
        if not log:
            return 0
        entry = log[max(len(log) - limit, 0)]
        return max(0.0, (entry + self.window_seconds - now) * 1000)


def release(counts: dict, name) -> None:
    """One fewer call in flight for `name`; a name with none left is forgotten."""
    held = counts.get(name, 0) - 1
    if held > 0:
        counts[name] = held
    else:
        counts.pop(name, None)
