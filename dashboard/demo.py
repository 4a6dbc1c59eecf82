"""Demo data: accounts, keys and weeks of calls made through the real metering path."""

import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from dashboard.api.metering import record_call, record_rejection
from dashboard.audit import record_event
from dashboard.auth.service import create_user, user_by_email
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import Membership, SuperAdmin, UsageSummary, User, utcnow
from dashboard.organisations.roles import Role
from dashboard.organisations.service import create_organisation
from dashboard.plans import DEFAULT_PLANS, plan_named
from dashboard.tools.registry import all_tools, count_tokens, validation_errors

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"  # noqa: S105 (printed for the demo account)
DEMO_PLAN = "free"
# The demo account's month ends near, not past, its quota: the usage page shows how close it
# is, and nothing was refused for quota yet.
QUOTA_SHARE = 0.87
SUPPORT_EMAIL = "support@example.com"
ADMIN_EMAIL = "admin@example.com"
ORGANISATION_NAME = "Acme Robotics"
TEAMMATES = {"dev@example.com": Role.DEVELOPER, "viewer@example.com": Role.VIEWER}


def load_demo(
    days: int = 45, calls: int = 1500, users: int = 0, seed: int = 7, progress=None
) -> dict:
    """Create the demo accounts (if missing), `users` more customers with two keys each, and
    `calls` calls spread over `days` days, each customer with its own error rate."""
    rng = random.Random(seed)
    if user_by_email(DEMO_EMAIL) is not None:
        return {"created": False}
    demo = create_user(DEMO_EMAIL, DEMO_PASSWORD, plan=DEMO_PLAN)
    support = create_user(SUPPORT_EMAIL, DEMO_PASSWORD, role="support")
    admin = create_user(ADMIN_EMAIL, DEMO_PASSWORD)
    teammates = [create_user(email, DEMO_PASSWORD) for email in TEAMMATES]
    for account in (demo, support, admin, *teammates):
        account.email_verified_at = utcnow()  # demo addresses have no inbox to confirm from
    db.session.add(SuperAdmin(user_id=admin.id, notes="demo data"))
    db.session.commit()

    now = utcnow()
    # Every key exists before its first call; staging's key expired ten days ago and the old
    # laptop's three days ago, neither used after that (see key_for). One key works: a newcomer
    # can create two more before the Free plan's three (tests/test_demo.py).
    made = now - timedelta(days=days + 1)
    production, _ = create_key(demo, "Production server", rate_limit_per_minute=100)
    staging, _ = create_key(
        demo, "Staging", rate_limit_per_minute=60, expires_at=now - timedelta(days=10)
    )
    laptop, _ = create_key(demo, "Old laptop", expires_at=now - timedelta(days=3))
    for key in (production, staging, laptop):
        key.created_at = made
    # Plain ids, read once: ORM objects would be refreshed (a query) after every commit.
    customers = [DemoCustomer(demo.id, (production.id,) * 3 + (staging.id, laptop.id), 0.06)]
    expired = {laptop.id: laptop.expires_at, staging.id: staging.expires_at}
    plans = sorted(DEFAULT_PLANS)
    for n in range(1, users + 1):
        user = create_user(customer_email(n), DEMO_PASSWORD, plan=plans[n % len(plans)])
        keys = [create_key(user, "Server")[0], create_key(user, "Batch jobs")[0]]
        for key in keys:
            key.created_at = made
        customers.append(
            DemoCustomer(user.id, tuple(key.id for key in keys), rng.uniform(0.01, 0.2))
        )
    customers.append(demo_organisation(demo, made))
    db.session.commit()
    weights = [3] + [1] * users + [2]  # the demo account is the busiest

    tools = [t for t in all_tools() if t.name != "echo"]
    for n in range(calls):
        customer = rng.choices(customers, weights)[0]
        tool = rng.choice(tools)
        # More traffic on recent days, at working hours.
        age = timedelta(days=days * rng.random() ** 1.6, hours=rng.gauss(0, 3))
        at = min(now - timedelta(seconds=5), now - age)
        key_id = key_for(customer, at, expired, rng)
        if rng.random() < 0.02:
            # Bursts past a key's rate limit; no account passes its monthly quota, so there
            # are no quota rejections.
            record_rejection(
                user_id=customer.user_id,
                api_key_id=key_id,
                tool_name=tool.name,
                reason="rate_limit",
                at=at,
            )
        else:
            record_demo_call(customer, key_id, tool, at, rng)
        if progress and n % 100 == 0:
            progress(n, calls)
    topped_up = fill_the_month(customers[0], tools, expired, rng, now)
    return {
        "created": True,
        "accounts": {
            DEMO_EMAIL: f"{DEMO_PLAN} plan, near its monthly quota",
            SUPPORT_EMAIL: "support",
            ADMIN_EMAIL: "super admin",
            **{email: f"{role.value} of {ORGANISATION_NAME}" for email, role in TEAMMATES.items()},
        },
        "password": DEMO_PASSWORD,
        "month_calls_added": topped_up,
    }


def demo_organisation(demo: User, made) -> "DemoCustomer":
    """An organisation that the demo account owns, on the Pro plan, with its two teammates (a
    developer, who made its CI key, and a viewer) and two keys."""
    organisation = create_organisation(demo, ORGANISATION_NAME)
    organisation.account.subscription_plan = "pro"
    for email, role in TEAMMATES.items():
        person = user_by_email(email)
        db.session.add(
            Membership(
                organisation_id=organisation.user_id,
                person_id=person.id,
                role=role.value,
                invited_by_id=demo.id,
            )
        )
    developer = user_by_email(next(iter(TEAMMATES)))
    backend, _ = create_key(organisation.account, "Backend")
    ci, _ = create_key(organisation.account, "CI", rate_limit_per_minute=30)
    for key, maker in ((backend, demo), (ci, developer)):
        key.created_at = made
        details = {"key_id": str(key.id), "key_prefix": key.prefix, "key_name": key.name}
        record_event(
            "key.create", actor=maker, subject=organisation.account, details=details, commit=False
        )
    return DemoCustomer(organisation.user_id, (backend.id, backend.id, ci.id), 0.04)


@dataclass(frozen=True)
class DemoCustomer:
    """A demo account: its id, its keys (repeated for weight) and how often its calls fail."""

    user_id: uuid.UUID
    key_ids: tuple
    error_rate: float


def customer_email(n: int) -> str:
    """The address of the n-th extra demo customer."""
    return f"customer{n}@demo.example.com"


def key_for(customer: DemoCustomer, at, expired: dict, rng):
    """One of the customer's keys that still worked at `at`."""
    usable = [k for k in customer.key_ids if k not in expired or at < expired[k]]
    return rng.choice(usable)


def fill_the_month(customer: DemoCustomer, tools, expired: dict, rng, now) -> int:
    """More calls this month, through the same metering, until the account has made
    QUOTA_SHARE of its plan's monthly calls; spread over the month so far, busier lately.
    The number of calls added."""
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    made = db.session.scalar(
        sa.select(UsageSummary.total_calls).where(
            UsageSummary.user_id == customer.user_id,
            UsageSummary.month_year == now.strftime("%Y-%m"),
        )
    )
    missing = max(0, int(plan_named(DEMO_PLAN).monthly_calls * QUOTA_SHARE) - (made or 0))
    span = now - timedelta(seconds=5) - month_start
    for _ in range(missing):
        at = month_start + span * rng.random() ** 0.6
        record_demo_call(customer, key_for(customer, at, expired, rng), rng.choice(tools), at, rng)
    return missing


def broken_input(tool) -> tuple[dict, str]:
    """The tool's example input without its first required field, and the message the gateway
    gives for it (the same validator, the same wording)."""
    required = tool.input_schema.get("required") or sorted(tool.example_input)[:1]
    payload = {k: v for k, v in tool.example_input.items() if k not in required[:1]}
    first = validation_errors(tool, payload)[0]
    where = f" at {first['path']}" if first["path"] else ""
    return payload, f"The input does not match the schema{where}: {first['message']}"


def record_demo_call(customer: DemoCustomer, key_id, tool, at, rng) -> None:
    """Run the tool for real on its example input (sometimes a broken one) and meter it."""
    if rng.random() < customer.error_rate:
        payload, message = broken_input(tool)
        record_call(
            user_id=customer.user_id,
            api_key_id=key_id,
            tool_name=tool.name,
            tool_version=tool.version,
            input_payload=payload,
            output_payload=None,
            status="error",
            execution_time_ms=0,
            tokens_used=count_tokens(payload, {}),
            error_message=message,
            error_code="invalid_input",
            at=at,
        )
        return
    started = time.perf_counter()
    output = tool.run(tool.example_input)
    elapsed = int((time.perf_counter() - started) * 1000) + rng.randint(0, 40)
    record_call(
        user_id=customer.user_id,
        api_key_id=key_id,
        tool_name=tool.name,
        tool_version=tool.version,
        input_payload=tool.example_input,
        output_payload=output,
        status="success",
        execution_time_ms=elapsed,
        tokens_used=count_tokens(tool.example_input, output),
        at=at,
    )
