"""The usage page at scale: a month of a million calls, read from the rollups.

    python -m bench.usage [--calls 1000000] [--requests 30] [--with-logs] [--keep]

Creates its own PostgreSQL database (dashboard_bench_usage), runs the migrations, and writes the
rollups that the metering path (dashboard/api/metering.record_call) would have written for
`--calls` calls in last month: usage_daily rows per day x key x tool (calls, errors, tokens,
execution time, latency histogram, rejections) and usage_summaries for 12 months, for one user
with several keys and tools, plus other users' rows around it. With --with-logs it also COPYs
`--calls` tool_logs rows, to show that the page does not read them. Then it measures the usage
page's server time through the Flask test client (the time for client.get to return the whole
answer), after a warm-up: last month as a full page and as an htmx fragment, and this month.
Drops the database at the end unless --keep.
"""

import argparse
import json
import os
import random
import re
import statistics
import time
import uuid
from datetime import date, datetime, timedelta

import psycopg

from bench.common import admin, make_app, setup_database

SERVER = os.environ.get("BENCH_POSTGRES_SERVER", "postgresql://postgres@127.0.0.1:5432")
DATABASE = "dashboard_bench_usage"
PASSWORD = "bench password 123"
TOOLS = ("summarize", "translate", "sentiment", "keywords", "readability", "markdown", "echo")
TOOL_WEIGHTS = (30, 22, 16, 12, 9, 7, 4)
KEYS = ("Production", "Production (EU)", "Staging", "CI", "Batch jobs")
KEY_WEIGHTS = (45, 25, 12, 10, 8)
# Share of calls in each usage_daily latency bucket (≤1, ≤2, ≤5 … ≤5000, >5000 ms).
LATENCY_SHARES = (0.01, 0.02, 0.06, 0.12, 0.2, 0.25, 0.17, 0.09, 0.05, 0.02, 0.009, 0.001)
LATENCY_MIDPOINTS = (1, 2, 4, 8, 15, 35, 75, 150, 350, 750, 3000, 8000)
LATENCY_COLUMNS = (
    "latency_le_1, latency_le_2, latency_le_5, latency_le_10, latency_le_20, latency_le_50, "
    "latency_le_100, latency_le_200, latency_le_500, latency_le_1000, latency_le_5000, "
    "latency_gt_5000"
)
DAILY_COLUMNS = (
    "user_id, day, api_key_id, tool_name, calls, errors, tokens, execution_ms_total, "
    f"rejected_rate_limit, rejected_quota, {LATENCY_COLUMNS}"
)


def shift(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def split(total: int, weights, rng: random.Random) -> list[int]:
    """`total` split by `weights` with some noise; the parts add up to `total` exactly."""
    noisy = [w * rng.uniform(0.7, 1.3) for w in weights]
    scale = total / sum(noisy)
    parts = [int(w * scale) for w in noisy]
    parts[0] += total - sum(parts)
    return parts


def month_rows(user_id, keys, first: date, calls: int, days: int, rng: random.Random):
    """usage_daily rows for `calls` calls over the first `days` days of the month."""
    day_weights = [
        (0.6 if (first + timedelta(n)).weekday() >= 5 else 1.0) * rng.uniform(0.85, 1.15)
        for n in range(days)
    ]
    rows, tokens_total = [], 0
    for n, day_calls in enumerate(split(calls, day_weights, rng)):
        day = first + timedelta(days=n)
        for key, key_calls in zip(
            keys, split(day_calls, KEY_WEIGHTS[: len(keys)], rng), strict=True
        ):
            for tool, c in zip(TOOLS, split(key_calls, TOOL_WEIGHTS, rng), strict=True):
                histogram = split(c, LATENCY_SHARES, rng) if c else [0] * 12
                histogram = [max(0, h) for h in histogram]
                histogram[5] += c - sum(histogram)
                tokens = c * rng.randint(80, 400)
                tokens_total += tokens
                ms = sum(h * m for h, m in zip(histogram, LATENCY_MIDPOINTS, strict=True))
                rows.append(
                    (
                        user_id,
                        day,
                        key,
                        tool,
                        c,
                        int(c * rng.uniform(0.01, 0.05)),
                        tokens,
                        ms,
                        int(c * 0.004),
                        int(c * 0.001),
                        *histogram,
                    )
                )
    return rows, tokens_total


def load_rollups(url: str, app, calls: int, rng: random.Random) -> dict:
    """The measured account (scale plan), its keys and 12 months of rollups; other accounts."""
    from dashboard.auth.service import create_user
    from dashboard.keys.service import create_key
    from dashboard.models import utcnow

    today = utcnow().date()
    this_month = today.replace(day=1)
    last_month = shift(this_month, -1)
    with app.app_context():
        user = create_user("bench-usage@example.com", PASSWORD, plan="scale")
        keys = [create_key(user, name)[0].id for name in KEYS]
        others = []
        for n in range(50):
            other = create_user(f"other{n}@example.com", PASSWORD, plan="pro")
            others.append((other.id, [create_key(other, "Production")[0].id]))
        user_id = user.id
    daily, summaries = [], []
    for back in range(11, -1, -1):  # 11 whole months, and this month so far
        first = shift(this_month, -back)
        following = shift(first, 1)
        days = (min(following, today + timedelta(days=1)) - first).days
        month_calls = calls if first == last_month else int(calls * rng.uniform(0.5, 1.0))
        if first == this_month:
            month_calls = calls * days // 30
        rows, tokens = month_rows(user_id, keys, first, month_calls, days, rng)
        daily += rows
        summaries.append((uuid.uuid4(), user_id, first.strftime("%Y-%m"), month_calls, tokens))
        for other_id, other_keys in others:
            rows, tokens = month_rows(other_id, other_keys, first, 3000, days, rng)
            daily += rows
            summaries.append((uuid.uuid4(), other_id, first.strftime("%Y-%m"), 3000, tokens))
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        with cursor.copy(f"COPY usage_daily ({DAILY_COLUMNS}) FROM STDIN") as copy:
            for row in daily:
                copy.write_row(row)
        with cursor.copy(
            "COPY usage_summaries (id, user_id, month_year, total_calls, total_tokens) FROM STDIN"
        ) as copy:
            for row in summaries:
                copy.write_row(row)
    return {
        "user_id": user_id,
        "keys": keys,
        "last_month": last_month,
        "this_month": this_month,
        "usage_daily_rows": len(daily),
        "measured_month_rows": sum(
            1 for row in daily if row[0] == user_id and last_month <= row[1] < this_month
        ),
    }


def load_logs(url: str, account: dict, calls: int, rng: random.Random) -> None:
    """`calls` tool_logs rows in the measured month via COPY (the page must not read them)."""
    first = account["last_month"]
    seconds = (account["this_month"] - first).days * 86400
    columns = (
        "id, user_id, api_key_id, tool_name, tool_version, input_payload, output_payload, "
        "created_at, status, execution_time_ms, tokens_used"
    )
    start = datetime(first.year, first.month, 1)
    with (
        psycopg.connect(url) as conn,
        conn.cursor() as cursor,
        cursor.copy(f"COPY tool_logs ({columns}) FROM STDIN") as copy,
    ):
        for _ in range(calls):
            failed = rng.random() < 0.03
            copy.write_row(
                (
                    uuid.uuid4(),
                    account["user_id"],
                    rng.choice(account["keys"]),
                    rng.choices(TOOLS, TOOL_WEIGHTS)[0],
                    "v1",
                    '{"text": "hello world"}',
                    None if failed else '{"ok": true}',
                    start + timedelta(seconds=rng.uniform(0, seconds)),
                    "error" if failed else "success",
                    rng.randint(1, 900),
                    rng.randint(80, 400),
                )
            )


def analyze(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def measure(client, path: str, requests: int, headers=None) -> dict:
    """Median and p95 of server time for GET `path`, after five warm-up requests."""
    for _ in range(5):
        assert client.get(path, headers=headers).status_code == 200
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        response.get_data()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    times.sort()
    return {
        "path": path + (" (HX-Request)" if headers else ""),
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, round(0.95 * len(times)) - 1)], 1),
        "max_ms": round(times[-1], 1),
        "bytes": len(response.get_data()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls in the month")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--with-logs", action="store_true", help="also COPY the tool_logs rows")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    rng = random.Random(42)
    url = f"{SERVER}/{DATABASE}"
    sa_url = url.replace("postgresql://", "postgresql+psycopg://", 1)

    started = time.perf_counter()
    setup_database(DATABASE, sa_url)
    app = make_app(sa_url)
    account = load_rollups(url, app, args.calls, rng)
    if args.with_logs:
        load_logs(url, account, args.calls, rng)
    analyze(url)
    loaded = time.perf_counter() - started
    try:
        client = app.test_client()
        response = client.post(
            "/login", data={"email": "bench-usage@example.com", "password": PASSWORD}
        )
        assert response.status_code == 303, "log-in failed"
        month = account["last_month"].strftime("%Y-%m")
        page = client.get(f"/usage/?month={month}").get_data(as_text=True)
        shown = re.search(r'data-testid="stat-calls">([\d,]+)<', page).group(1)
        assert shown == f"{args.calls:,}", f"the page shows {shown} calls"
        results = [
            measure(client, f"/usage/?month={month}", args.requests),
            measure(client, f"/usage/?month={month}", args.requests, {"HX-Request": "true"}),
            measure(client, "/usage/", args.requests),
        ]
    finally:
        with app.app_context():
            from dashboard.extensions import db

            db.engine.dispose()
        if not args.keep:
            admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    print(
        json.dumps(
            {
                "calls_in_month": args.calls,
                "usage_daily_rows": account["usage_daily_rows"],
                "usage_daily_rows_in_measured_month": account["measured_month_rows"],
                "tool_logs_rows": args.calls if args.with_logs else 0,
                "load_seconds": round(loaded, 1),
                "goal_ms": 50,
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
