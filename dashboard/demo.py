"""Demo data: accounts, keys and weeks of calls made through the real metering path."""

import random
import time
from datetime import timedelta

from dashboard.api.metering import record_call, record_rejection
from dashboard.auth.service import create_user, user_by_email
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import SuperAdmin, utcnow
from dashboard.tools.registry import all_tools, count_tokens

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"  # noqa: S105 (printed for the demo account)
SUPPORT_EMAIL = "support@example.com"
ADMIN_EMAIL = "admin@example.com"


def load_demo(days: int = 45, calls: int = 1500, seed: int = 7, progress=None) -> dict:
    """Create the demo accounts (if missing) and `calls` calls spread over `days` days."""
    rng = random.Random(seed)
    if user_by_email(DEMO_EMAIL) is not None:
        return {"created": False}
    demo = create_user(DEMO_EMAIL, DEMO_PASSWORD, plan="pro")
    create_user(SUPPORT_EMAIL, DEMO_PASSWORD, role="support")
    admin = create_user(ADMIN_EMAIL, DEMO_PASSWORD)
    db.session.add(SuperAdmin(user_id=admin.id, notes="demo data"))
    db.session.commit()

    production, _ = create_key(demo, "Production server", rate_limit_per_minute=600)
    staging, _ = create_key(demo, "Staging", rate_limit_per_minute=100)
    laptop, _ = create_key(demo, "Old laptop", expires_at=utcnow() - timedelta(days=3))
    keys = [production, production, production, staging, laptop]

    tools = [t for t in all_tools() if t.name != "echo"]
    now = utcnow()
    for n in range(calls):
        tool = rng.choice(tools)
        key = rng.choice(keys)
        # More traffic on recent days, at working hours.
        age = timedelta(days=days * rng.random() ** 1.6, hours=rng.gauss(0, 3))
        at = min(now - timedelta(seconds=5), now - age)
        if rng.random() < 0.02:
            reason = "rate_limit" if rng.random() < 0.7 else "quota"
            record_rejection(
                user_id=demo.id, api_key_id=key.id, tool_name=tool.name, reason=reason, at=at
            )
            continue
        record_demo_call(demo, key, tool, at, rng)
        if progress and n % 100 == 0:
            progress(n, calls)
    return {
        "created": True,
        "accounts": {DEMO_EMAIL: "pro plan", SUPPORT_EMAIL: "support", ADMIN_EMAIL: "super admin"},
        "password": DEMO_PASSWORD,
    }


def record_demo_call(user, key, tool, at, rng) -> None:
    """Run the tool for real on its example input (sometimes a broken one) and meter it."""
    if rng.random() < 0.06:
        record_call(
            user_id=user.id,
            api_key_id=key.id,
            tool_name=tool.name,
            tool_version=tool.version,
            input_payload={"txt": "wrong field name"},
            output_payload=None,
            status="error",
            execution_time_ms=0,
            tokens_used=count_tokens({"txt": "wrong field name"}, {}),
            error_message="Input does not match the schema: 'text' is a required property",
            error_code="invalid_input",
            at=at,
        )
        return
    started = time.perf_counter()
    output = tool.run(tool.example_input)
    elapsed = int((time.perf_counter() - started) * 1000) + rng.randint(0, 40)
    record_call(
        user_id=user.id,
        api_key_id=key.id,
        tool_name=tool.name,
        tool_version=tool.version,
        input_payload=tool.example_input,
        output_payload=output,
        status="success",
        execution_time_ms=elapsed,
        tokens_used=count_tokens(tool.example_input, output),
        at=at,
    )
