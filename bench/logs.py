"""The logs page at scale: a million calls for one user, pages by cursor, filters, the export,
the errors inbox and refused calls.

    python -m bench.logs [--rows 1000000] [--pages 500] [--error-rate 0.1] [--no-export] [--keep]

Creates its own PostgreSQL database (dashboard_bench_logs), runs the migrations, loads the rows
with COPY, ANALYZEs, then measures server time through the Flask test client against the real
app (time for client.get to return the whole answer). Drops the database unless --keep.
"""

import argparse
import json
import os
import random
import re
import statistics
import time
import uuid
from datetime import timedelta

import psycopg

from bench.common import admin, make_app, setup_database

SERVER = os.environ.get("BENCH_POSTGRES_SERVER", "postgresql://postgres@127.0.0.1:5432")
DATABASE = "dashboard_bench_logs"
PASSWORD = "bench password 123"
TOOLS = ("echo", "keywords", "sentiment", "readability", "markdown", "language")
# Messages with values that vary (the inbox groups them by fingerprint): {n} is random.
ERRORS = (
    ("tool_error", 500, "Tool timed out after {n} ms"),
    ("invalid_input", 422, "Input does not match the schema: 'text{n}' is a required property"),
    ("tool_error", 500, "Upstream model returned 5{n} Bad Gateway"),
    ("invalid_json", 400, "Expecting value: line {n} column 1 (char {n})"),
    ("payload_too_large", 413, "The body is larger than the {n} bytes we accept."),
)
COLUMNS = (
    "id, user_id, api_key_id, tool_name, tool_version, input_payload, output_payload, "
    "created_at, status, execution_time_ms, tokens_used, error_message, error_code, client_ip, "
    "http_status, error_fingerprint"
)
# Error groups as metering keeps them, rebuilt from the loaded rows with one GROUP BY.
BUILD_ERROR_GROUPS = """
INSERT INTO error_group_days (user_id, day, tool_name, tool_version, error_code, fingerprint,
    api_key_id, count, first_at, last_at, message, sample_log_id)
SELECT user_id, created_at::date, tool_name, tool_version, coalesce(error_code, ''),
    error_fingerprint, api_key_id, count(*), min(created_at), max(created_at),
    (array_agg(left(error_message, 500) ORDER BY created_at DESC, id DESC))[1],
    (array_agg(id ORDER BY created_at DESC, id DESC))[1]
FROM tool_logs WHERE status = 'error'
GROUP BY user_id, created_at::date, tool_name, tool_version, coalesce(error_code, ''),
    error_fingerprint, api_key_id
"""


def create_accounts(app) -> tuple[dict, list[dict]]:
    """The measured user (scale plan: a year of retention) and two others, with keys."""
    from dashboard.auth.service import create_user
    from dashboard.keys.service import create_key

    with app.app_context():
        accounts = []
        for n, plan in enumerate(("scale", "pro", "free")):
            user = create_user(f"bench{n}@example.com", PASSWORD, plan=plan)
            keys = [create_key(user, name)[0].id for name in ("Production", "Staging", "CI")]
            accounts.append({"email": user.email, "id": user.id, "keys": keys})
        return accounts[0], accounts[1:]


def load_rows(
    conn,
    account: dict,
    rows: int,
    days: int,
    rng: random.Random,
    label: str,
    error_rate: float,
) -> None:
    """COPY `rows` calls for one account, newest now, spread over `days` days, with ties."""
    from dashboard.api.fingerprint import fingerprint
    from dashboard.models import utcnow

    now = utcnow().replace(microsecond=0)
    step = timedelta(days=days) / rows
    started = time.perf_counter()
    report_every = max(rows // 10, 1)
    with conn.cursor() as cursor, cursor.copy(f"COPY tool_logs ({COLUMNS}) FROM STDIN") as copy:
        for n in range(rows):
            # Groups of three calls share one millisecond: pages must handle ties.
            at = now - step * (n - n % 3)
            failed = rng.random() < error_rate
            code, http_status, message = rng.choice(ERRORS) if failed else (None, 200, None)
            if failed:
                message = message.format(n=rng.randint(10, 9999))
            tool = TOOLS[n % len(TOOLS)]
            copy.write_row(
                (
                    uuid.uuid4(),
                    account["id"],
                    account["keys"][n % 3],
                    tool,
                    "v2" if n % 7 == 0 else "v1",
                    json.dumps({"text": f"call {n}", "limit": n % 10}),
                    None if failed else json.dumps({"ok": True, "n": n}),
                    at,
                    "error" if failed else "success",
                    rng.randint(1, 400),
                    rng.randint(5, 900),
                    message,
                    code,
                    "203.0.113.7",
                    http_status,
                    fingerprint(message) if failed else None,
                )
            )
            if (n + 1) % report_every == 0:
                done, elapsed = n + 1, time.perf_counter() - started
                print(
                    f"  {label}: {done:>9,} / {rows:,} rows ({done / rows:4.0%}, "
                    f"{elapsed:5.1f} s, {done / elapsed:,.0f} rows/s)",
                    flush=True,
                )
    conn.commit()


def load_rejections(conn, account: dict, minutes: int, rng: random.Random) -> None:
    """Refused calls as metering aggregates them: a burst in one minute of every 20."""
    from dashboard.models import utcnow

    now = utcnow().replace(second=0, microsecond=0)
    columns = "api_key_id, minute, reason, tool_name, user_id, count, last_at"
    with (
        conn.cursor() as cursor,
        cursor.copy(f"COPY rejected_calls ({columns}) FROM STDIN") as copy,
    ):
        for n in range(minutes):
            minute = now - timedelta(minutes=20 * n)
            copy.write_row(
                (
                    account["keys"][n % 3],
                    minute,
                    "rate_limit" if n % 10 else "quota",
                    TOOLS[n % len(TOOLS)],
                    account["id"],
                    rng.randint(1, 500),
                    minute + timedelta(seconds=59),
                )
            )
    conn.commit()


def bulk_load(
    url_psycopg: str, main: dict, others: list[dict], rows: int, error_rate: float
) -> float:
    """Load with the tool_logs indexes dropped, then rebuild them exactly as they were."""
    rng = random.Random(7)
    started = time.perf_counter()
    with psycopg.connect(url_psycopg) as conn:
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename = 'tool_logs' AND indexname <> 'tool_logs_pkey'"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        conn.commit()
        load_rows(conn, main, rows, 300, rng, "measured user", error_rate)
        for n, other in enumerate(others):
            load_rows(
                conn, other, max(rows // 20, 1000), 60, rng, f"other user {n + 1}", error_rate
            )
        print("  error groups (one GROUP BY, as metering would have kept them) ...", flush=True)
        conn.execute(BUILD_ERROR_GROUPS)
        load_rejections(conn, main, 300 * 24 * 3, rng)
        print("  rebuilding indexes ...", flush=True)
        for _, definition in indexes:
            conn.execute(definition)
        conn.commit()
        conn.autocommit = True
        print("  ANALYZE ...", flush=True)
        for table in ("tool_logs", "error_group_days", "rejected_calls"):
            conn.execute(f"ANALYZE {table}")
    return time.perf_counter() - started


def rss_mb() -> float:
    """The process's resident memory now (Linux), in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# Time spent waiting for PostgreSQL (statement sent to result read), and the app's own CPU
# time: on a shared, loaded machine these move less than the wall-clock time.
DB_MS = [0.0]
CPU_MS = []


def count_database_time(engine) -> None:
    """Add the time of every statement `engine` runs to DB_MS."""
    from sqlalchemy import event

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):
        DB_MS[0] += (time.perf_counter() - conn.info.pop("bench_started")) * 1000


def timed_get(client, url: str) -> tuple[float, str]:
    started, cpu = time.perf_counter(), time.process_time()
    response = client.get(url)
    body = response.get_data(as_text=True)
    elapsed = (time.perf_counter() - started) * 1000
    CPU_MS.append((time.process_time() - cpu) * 1000)
    assert response.status_code == 200, (url, response.status_code)
    return elapsed, body


def next_link(html: str) -> str | None:
    found = re.search(r'rel="next" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def repeat(client, url: str, times: int = 15) -> tuple[float, int, float, float]:
    """Median server time of `url` (after one warm-up), the rows it showed, and the median
    app CPU time and database time per request."""
    _, html = timed_get(client, url)
    CPU_MS.clear()
    database = []
    samples = []
    for _ in range(times):
        DB_MS[0] = 0.0
        samples.append(timed_get(client, url)[0])
        database.append(DB_MS[0])
    rows = sum(html.count(marker) for marker in ROW_MARKERS)
    return statistics.median(samples), rows, statistics.median(CPU_MS), statistics.median(database)


# What marks one row of a page: a logged call, an error group, a refused-calls minute.
ROW_MARKERS = ("data-log-id=", 'class="error-group ', "data-rejected-count=")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(app, email: str, pages: int, export: bool) -> dict:
    from dashboard.extensions import db

    count_database_time(db.engine)
    results = {}
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 303, "log-in failed"

    results["first page"] = repeat(client, "/logs/")

    url = "/logs/"
    walk = []
    for _ in range(pages):
        elapsed, html = timed_get(client, url)
        walk.append(elapsed)
        url = next_link(html)
        if url is None:
            break
    results["walk"] = walk

    results["tool=keywords&status=error"] = repeat(client, "/logs/?tool=keywords&status=error")
    results["q=timed out"] = repeat(client, "/logs/?q=timed+out")
    results["q=no such text"] = repeat(client, "/logs/?q=no+such+text")
    results["code=invalid_input&http=422"] = repeat(client, "/logs/?code=invalid_input&http=422")
    results["status=rejected (refused calls)"] = repeat(client, "/logs/?status=rejected")
    results["errors inbox /errors/ (30 days)"] = repeat(client, "/errors/")
    results["errors inbox, whole retention"] = repeat(client, "/errors/?days=0")
    html = timed_get(client, "/errors/")[1]
    group_link = re.search(r'href="(/logs/\?[^"]+)" data-testid="group-count"', html)
    if group_link:
        results["one error group's logs"] = repeat(
            client, group_link.group(1).replace("&amp;", "&")
        )
    keys_html = timed_get(client, "/keys/")[1]
    key_link = re.search(r'href="(/keys/[0-9a-f-]+)" data-testid="key-page-link"', keys_html)
    if key_link:
        results["key page /keys/<id>"] = repeat(client, key_link.group(1))
    if not export:
        return results

    started = time.perf_counter()
    before = rss_mb()
    peak = before
    rows = -1  # the header line
    size = 0
    response = client.get("/logs/export.csv", buffered=False)
    for chunk in response.response:
        size += len(chunk)
        rows += chunk.count("\r\n") if isinstance(chunk, str) else chunk.count(b"\r\n")
        peak = max(peak, rss_mb())
    response.close()
    elapsed = time.perf_counter() - started
    results["export"] = {
        "rows": rows,
        "seconds": elapsed,
        "rate": rows / elapsed,
        "mb": size / 2**20,
        "rss_before": before,
        "rss_peak": peak,
    }
    return results


def report(results: dict, rows: int, load_seconds: float) -> None:
    print(f"\nLoaded {rows:,} rows for the measured user in {load_seconds:.1f} s (incl. indexes).")
    median, shown, *_ = results["first page"]
    print(f"first page                          median {median:7.1f} ms  ({shown} rows)")
    walk = results["walk"]
    print(
        f"walk {len(walk)} pages by cursor            median {statistics.median(walk):7.1f} ms"
        f"  p95 {percentile(walk, 0.95):6.1f} ms  page {len(walk)}: {walk[-1]:.1f} ms"
    )
    for name in (
        "tool=keywords&status=error",
        "q=timed out",
        "q=no such text",
        "code=invalid_input&http=422",
        "status=rejected (refused calls)",
        "errors inbox /errors/ (30 days)",
        "errors inbox, whole retention",
        "one error group's logs",
        "key page /keys/<id>",
    ):
        if name in results:
            median, shown, cpu, database = results[name]
            print(
                f"{name:<35} median {median:7.1f} ms  ({shown} rows)"
                f"  app CPU {cpu:6.1f} ms  database {database:6.1f} ms"
            )
    export = results.get("export")
    if export is None:
        return
    print(
        f"export.csv: {export['rows']:,} rows, {export['mb']:.0f} MB in {export['seconds']:.1f} s"
        f" = {export['rate']:,.0f} rows/s; RSS {export['rss_before']:.0f} MB before,"
        f" {export['rss_peak']:.0f} MB peak (+{export['rss_peak'] - export['rss_before']:.0f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="calls of the measured user")
    parser.add_argument("--pages", type=int, default=500, help="pages to walk by cursor")
    parser.add_argument("--error-rate", type=float, default=0.1, help="share of failed calls")
    parser.add_argument("--no-export", action="store_true", help="skip the CSV export")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    url_psycopg = f"{SERVER}/{DATABASE}"
    url = url_psycopg.replace("postgresql://", "postgresql+psycopg://", 1)
    print(f"Database {DATABASE}: creating and migrating ...", flush=True)
    setup_database(DATABASE, url)
    app = make_app(url)
    try:
        main_account, others = create_accounts(app)
        print(f"Loading {args.rows:,} calls (+{len(others)} other users) with COPY ...")
        load_seconds = bulk_load(url_psycopg, main_account, others, args.rows, args.error_rate)
        with app.app_context():
            results = measure(app, main_account["email"], args.pages, not args.no_export)
        report(results, args.rows, load_seconds)
    finally:
        with app.app_context():
            from dashboard.extensions import db

            db.session.remove()
            db.engine.dispose()
        if args.keep:
            print(f"Kept database {DATABASE}.")
        else:
            admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            print(f"Dropped database {DATABASE}.")


if __name__ == "__main__":
    main()
