"""Calls in flight per account (the plan's `max_concurrent_calls`) and per plan (its
`plan_concurrent_calls`, every account on the plan together), held across every worker.

The plan's cap is a bulkhead: however many Free accounts a client opens, their calls together
hold at most that many web workers and tool processes, and the rest serve paying accounts and
the dashboard (tests/reliability/test_bulkheads.py).

A tool call takes a slot in the same step that counts it against its rate limits (one Redis
round trip, dashboard/api/call_limits.py) and gives it back after it is metered and answered
(one ZREM). On Redis the account's slots are a sorted set whose members are the calls in
flight, scored by when each slot lapses: the call's own time limit plus a margin. A worker
killed in the middle of a call (gunicorn's timeout, a deploy, the OOM killer) never gives its
slot back; the slot then lapses on its own instead of shrinking the account's cap for good.
A call refused for its rate limits takes no slot, and a call refused for want of a slot is not
counted against its rate limits.

In memory (`memory://`) the counts are per process, like the rate limits.
"""

import time
from dataclasses import dataclass

from dashboard.api.call_limits import InFlight
from dashboard.api.throttle import KeyLimiter
from dashboard.plans import Plan

# A slot outlives its call's own time limit by this much, at most (gunicorn's worker timeout).
SLOT_MARGIN_SECONDS = 30
# A refused call is told to try again after this long: slots free as calls end.
RETRY_AFTER_SECONDS = 1


def in_flight(plan: Plan, time_limit_seconds: float) -> InFlight:
    """What a tool call asks for: one of its account's slots and, when the plan caps them, one
    of the plan's, lapsing after its time limit and a margin."""
    capped = plan.plan_concurrent_calls is not None
    return InFlight(
        plan.max_concurrent_calls,
        time_limit_seconds + SLOT_MARGIN_SECONDS,
        plan.name if capped else None,
        plan.plan_concurrent_calls,
    )


@dataclass
class Slot:
    """One call's slot, given back when the block it guards ends (member None: none held, as
    when the call asked for none or Redis was down and the gateway failed open)."""

    limiter: KeyLimiter
    user_id: object
    member: str | None
    plan: str | None = None  # the capped plan whose slot the call also holds

    def __enter__(self) -> "Slot":
        return self

    def __exit__(self, *exc_info) -> None:
        self.give_back()

    def give_back(self) -> None:
        """Give the slot back (once); when Redis fails now, the slot lapses by itself."""
        member, self.member = self.member, None
        if member is None:
            return
        try:
            self.limiter.limits.give_back(self.user_id, member, self.plan)
        except Exception:
            self.limiter.down_until = time.monotonic() + self.limiter.retry_seconds
