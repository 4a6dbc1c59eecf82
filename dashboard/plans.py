"""Plans as data: the one place that says what each plan allows."""

from dataclasses import dataclass, replace

from flask import current_app


@dataclass(frozen=True)
class Plan:
    name: str
    title: str
    monthly_calls: int
    max_rate_limit: int
    max_active_keys: int
    log_retention_days: int
    price_per_month: int  # whole US dollars, for display only
    # Calls a minute for all of the account's keys together (every worker counts them);
    # unset, as many as one key may make at most.
    account_calls_per_minute: int | None = None
    # Calls of the account's keys in flight at once (every worker counts them): one account
    # cannot occupy every worker with slow calls.
    max_concurrent_calls: int = 2
    # Calls in flight of every account on this plan together, across every worker (None: no
    # cap): a bulkhead, so that accounts anyone can open for free cannot hold the workers that
    # paying accounts and the dashboard need. PLAN_CALLS_IN_FLIGHT sets it per deployment.
    plan_concurrent_calls: int | None = None

    def __post_init__(self) -> None:
        if self.account_calls_per_minute is None:
            object.__setattr__(self, "account_calls_per_minute", self.max_rate_limit)


DEFAULT_PLANS = {
    "free": Plan(
        "free",
        "Free",
        1_000,
        100,
        3,
        7,
        0,
        account_calls_per_minute=100,
        max_concurrent_calls=3,
        # Half of the 4 sync workers of docs/production.md: measured in
        # tests/reliability/test_bulkheads.py; raise it with the workers (PLAN_CALLS_IN_FLIGHT).
        plan_concurrent_calls=2,
    ),
    "pro": Plan(
        "pro",
        "Pro",
        100_000,
        1_000,
        20,
        90,
        49,
        account_calls_per_minute=1_000,
        max_concurrent_calls=16,
    ),
    "scale": Plan(
        "scale",
        "Scale",
        5_000_000,
        10_000,
        100,
        365,
        499,
        account_calls_per_minute=10_000,
        max_concurrent_calls=64,
    ),
}
DEFAULT_PLAN = "free"


def with_calls_in_flight(plans: dict[str, Plan], setting: str) -> dict[str, Plan]:
    """The plans with their plan-wide calls in flight from `free=3,pro=40` (0 or `none`: no
    cap); a plan the setting does not name keeps its own."""
    changed = dict(plans)
    for item in filter(None, (part.strip() for part in setting.split(","))):
        name, _, value = (text.strip() for text in item.partition("="))
        if name not in plans:
            raise ValueError(f"PLAN_CALLS_IN_FLIGHT names no plan called {name!r}")
        cap = None if value.lower() in ("0", "none") else value
        if cap is not None:
            if not cap.isdigit():
                raise ValueError(f"PLAN_CALLS_IN_FLIGHT: {item!r} is not a number of calls")
            cap = int(cap)
        changed[name] = replace(plans[name], plan_concurrent_calls=cap)
    return changed


def all_plans() -> list[Plan]:
    """Every plan of this deployment, cheapest first."""
    return sorted(current_app.config["PLANS"].values(), key=lambda p: p.monthly_calls)


def plan_named(name: str | None) -> Plan:
    """The plan called `name`; an unknown name (e.g. set by another service) falls back to free."""
    plans = current_app.config["PLANS"]
    return plans.get(name or DEFAULT_PLAN) or plans[DEFAULT_PLAN]
