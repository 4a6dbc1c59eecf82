"""Plans as data: the one place that says what each plan allows."""

from dataclasses import dataclass

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

    def __post_init__(self) -> None:
        if self.account_calls_per_minute is None:
            object.__setattr__(self, "account_calls_per_minute", self.max_rate_limit)


DEFAULT_PLANS = {
    "free": Plan(
        "free", "Free", 1_000, 100, 3, 7, 0, account_calls_per_minute=100, max_concurrent_calls=3
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


def all_plans() -> list[Plan]:
    """Every plan of this deployment, cheapest first."""
    return sorted(current_app.config["PLANS"].values(), key=lambda p: p.monthly_calls)


def plan_named(name: str | None) -> Plan:
    """The plan called `name`; an unknown name (e.g. set by another service) falls back to free."""
    plans = current_app.config["PLANS"]
    return plans.get(name or DEFAULT_PLAN) or plans[DEFAULT_PLAN]
