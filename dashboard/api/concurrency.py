"""Calls in flight per account: the plan's `max_concurrent_calls`, held across every worker.

A call takes a slot before its tool runs and gives it back after it is metered and answered.
On Redis (the key limiter's client) the account's slots are a sorted set whose members are the
calls in flight, scored by when each slot expires: the call's own time limit plus a margin. A
worker killed in the middle of a call (gunicorn's timeout, a deploy, the OOM killer) never gives
its slot back; the slot then lapses on its own instead of shrinking the account's cap for good.
Taking a slot is one script (EVALSHA), giving it back one ZREM.

In memory (`memory://`) the counts are per process, like the rate limits.
"""

import itertools
import os
import threading
import time
import uuid
from dataclasses import dataclass

from dashboard.api.throttle import KeyLimiter

# A slot outlives its call's own time limit by this much, at most (gunicorn's worker timeout).
SLOT_MARGIN_SECONDS = 30
# A refused call is told to try again after this long: slots free as calls end.
RETRY_AFTER_SECONDS = 1

# KEYS: the account's slots. ARGV: the cap, this call's member, the slot's lifetime (ms).
# Answers: 1 when the slot was taken, 0 when the account was at its cap; the calls in flight.
TAKE_SLOT = """
local clock = redis.call("TIME")
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local lifetime = tonumber(ARGV[3])
redis.call("zremrangebyscore", KEYS[1], "-inf", now)
local count = redis.call("zcard", KEYS[1])
if count >= tonumber(ARGV[1]) then
    return {0, count}
end
redis.call("zadd", KEYS[1], now + lifetime, ARGV[2])
if redis.call("pttl", KEYS[1]) < lifetime then
    redis.call("pexpire", KEYS[1], lifetime)
end
return {1, count + 1}
"""


class RedisSlots:
    """The accounts' slots in Redis, shared by every worker."""

    def __init__(self, client, prefix: str) -> None:
        self.client = client
        self.script = client.register_script(TAKE_SLOT)
        self.prefix = prefix
        # Members must be unique among every worker of every host sharing this Redis: a pid
        # alone repeats across hosts (and two calls sharing a member would share one slot).
        self.origin = uuid.uuid4().hex[:12]
        self.sequence = itertools.count()

    def take(self, user_id, cap: int, lifetime_seconds: float) -> str | None:
        """This call's slot (a member to give back), or None when the account is at its cap."""
        member = f"{self.origin}:{os.getpid()}:{next(self.sequence)}"
        taken, _ = self.script([self.name(user_id)], [cap, member, int(lifetime_seconds * 1000)])
        return member if int(taken) else None

    def give_back(self, user_id, member: str) -> None:
        self.client.zrem(self.name(user_id), member)

    def name(self, user_id) -> str:
        return f"{self.prefix}:inflight:account:{user_id}"


class MemorySlots:
    """The accounts' slots in this process (`memory://`)."""

    def __init__(self) -> None:
        self.counts: dict[object, int] = {}
        self.lock = threading.Lock()

    def take(self, user_id, cap: int, lifetime_seconds: float) -> str | None:
        with self.lock:
            count = self.counts.get(user_id, 0)
            if count >= cap:
                return None
            self.counts[user_id] = count + 1
            return "slot"

    def give_back(self, user_id, member: str) -> None:
        with self.lock:
            count = self.counts.get(user_id, 0) - 1
            if count > 0:
                self.counts[user_id] = count
            else:
                self.counts.pop(user_id, None)


class AccountFull(Exception):
    """The account already has as many calls in flight as its plan allows."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"{cap} calls in flight")
        self.cap = cap


def slots_of(limiter: KeyLimiter) -> RedisSlots | MemorySlots:
    """The limiter's slots: in its Redis when it has one, else in this process."""
    if limiter.slots is None:
        if limiter.redis is not None:
            limiter.slots = RedisSlots(limiter.redis, limiter.prefix)
        else:
            limiter.slots = MemorySlots()
    return limiter.slots


@dataclass
class Slot:
    """One call's slot; `give_back()` when the call is answered (member None: none was held)."""

    limiter: KeyLimiter
    user_id: object
    member: str | None

    def give_back(self) -> None:
        """Give the slot back; when Redis fails now, the slot lapses by itself."""
        if self.member is None:
            return
        try:
            self.limiter.slots.give_back(self.user_id, self.member)
        except Exception:
            self.limiter.down_until = time.monotonic() + self.limiter.retry_seconds


def take_slot(limiter: KeyLimiter, user_id, cap: int, lifetime_seconds: float) -> Slot:
    """One of the account's `cap` slots, held for at most lifetime_seconds plus a margin;
    AccountFull when none is free. When Redis fails the limiter's rule applies: no slot is
    held (fail open) or LimiterUnavailable (fail closed)."""
    slots = slots_of(limiter)
    if not limiter.available():
        return Slot(limiter, user_id, None)
    try:
        member = slots.take(user_id, cap, lifetime_seconds + SLOT_MARGIN_SECONDS)
    except Exception:  # redis.ConnectionError, TimeoutError, ...
        limiter.storage_failed()
        return Slot(limiter, user_id, None)
    if member is None:
        raise AccountFull(cap)
    return Slot(limiter, user_id, member)
