"""The gateway's overhead, measured: `python -m bench.gateway`.

Starts the app under gunicorn on 127.0.0.1 against its own PostgreSQL database and Redis, loads it
with wrk from a second process, and prints side by side, in one run:
  (a) GET /bench/bare   a JSON answer with no database work
  (b) GET /bench/read   the same with one indexed PostgreSQL read
  (c) POST /api/v1/tools/echo with a valid key (many keys, round-robin)
  (d) the same with one hot key (all calls on one key's counters)
with requests/s, p50/p90/p99 latency, the ratios (c)/(a), (c)/(b), (d)/(c), and the resident
memory of each worker before and after 100,000 tool calls. Every load loop is bounded in time and
targets only 127.0.0.1.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from bench.common import bench_database

ROOT = Path(__file__).resolve().parent.parent
WRK_SCRIPT = Path(__file__).parent / "wrk" / "request.lua"
ECHO_BODY = json.dumps({"message": "Hello, tools API!"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_environment(database_url: str, args) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="bench-" + "x" * 40,
        APP_ENV="production",
        RATELIMIT_STORAGE_URI=args.redis,
        API_KEY_CACHE_SECONDS=str(args.key_cache_seconds),
        METERING_SYNCHRONOUS_COMMIT="true" if args.synchronous_commit else "false",
        DATABASE_POOL_SIZE="2",
        FLASK_APP="bench.wsgi",
        PYTHONPATH=str(ROOT),
    )
    return env


def prepare_database(env: dict, keys: int) -> tuple[list[str], str]:
    """Migrate, sync tools, and make one user with `keys` keys; returns (secrets, user id)."""
    flask = str(Path(sys.executable).parent / "flask")
    subprocess.run([flask, "db", "upgrade"], env=env, check=True, capture_output=True, cwd=ROOT)
    subprocess.run([flask, "tools", "sync"], env=env, check=True, capture_output=True, cwd=ROOT)
    code = f"""
import json
from bench.wsgi import app
from dashboard.auth.service import create_user
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import ApiKey
with app.app_context():
    user = create_user("bench@example.com", "bench password 123", plan="scale")
    secrets = [create_key(user, f"bench {{n}}")[1] for n in range({keys})]
    # No rejections during the run: the limiter still counts every call, it never says no.
    db.session.execute(db.update(ApiKey).values(rate_limit_per_minute=1_000_000_000))
    db.session.commit()
    print(json.dumps({{"secrets": secrets, "user": str(user.id)}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True, cwd=ROOT
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["secrets"], data["user"]


def start_gunicorn(env: dict, port: int, args) -> subprocess.Popen:
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    command = [
        gunicorn,
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "bench.wsgi:app",
    ]
    if args.worker_class == "gthread":
        command += ["--threads", str(args.threads)]
    server = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/bare", timeout=1).read()
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not start within 30 s")


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True
    ).stdout
    return sorted(int(pid) for pid in out.split())


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_wrk(url: str, seconds: int, args, method="GET", body=None, keys_file=None) -> dict:
    env = dict(os.environ, WRK_METHOD=method)
    if body:
        env["WRK_BODY"] = body
    if keys_file:
        env["KEYS_FILE"] = keys_file
    command = [
        "wrk",
        f"-t{args.wrk_threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(WRK_SCRIPT),
        url,
    ]
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise SystemExit(f"wrk failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(line.removeprefix("WRK_JSON "))


def count_logs(database_url: str) -> int:
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        count = connection.execute(sa.text("SELECT count(*) FROM tool_logs")).scalar_one()
    engine.dispose()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per endpoint")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--keys", type=int, default=100, help="keys for the many-keys run")
    parser.add_argument("--memory-calls", type=int, default=100_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--key-cache-seconds", type=int, default=5)
    parser.add_argument(
        "--no-synchronous-commit",
        dest="synchronous_commit",
        action="store_false",
        help="METERING_SYNCHRONOUS_COMMIT=false",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    with bench_database("dashboard_bench_gateway", keep=args.keep) as database_url:
        env = app_environment(database_url, args)
        secrets, _ = prepare_database(env, args.keys)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with tempfile.TemporaryDirectory() as tmp:
            many = Path(tmp) / "many.txt"
            many.write_text("\n".join(secrets))
            hot = Path(tmp) / "hot.txt"
            hot.write_text(secrets[0])
            server = start_gunicorn(env, port, args)
            try:
                results = measure(base, args, str(many), str(hot), server.pid, database_url)
            finally:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
    report(results, args)


def measure(base, args, many, hot, master, database_url) -> dict:
    echo = f"{base}/api/v1/tools/echo"
    runs = {
        "a_bare": dict(url=f"{base}/bench/bare"),
        "b_read": dict(url=f"{base}/bench/read"),
        "c_tool_many_keys": dict(url=echo, method="POST", body=ECHO_BODY, keys_file=many),
        "d_tool_hot_key": dict(url=echo, method="POST", body=ECHO_BODY, keys_file=hot),
    }
    results: dict = {"runs": {}}
    for name, spec in runs.items():
        run_wrk(seconds=args.warmup, args=args, **spec)
        print(f"measuring {name} for {args.duration} s …", flush=True)
        results["runs"][name] = run_wrk(seconds=args.duration, args=args, **spec)
    workers = worker_pids(master)
    before = {pid: rss_mib(pid) for pid in workers}
    start_logs = count_logs(database_url)
    rps = results["runs"]["c_tool_many_keys"]["rps"]
    print(f"making {args.memory_calls:,} tool calls for the memory check …", flush=True)
    while count_logs(database_url) - start_logs < args.memory_calls:
        remaining = args.memory_calls - (count_logs(database_url) - start_logs)
        seconds = max(2, min(120, int(remaining / max(rps, 1)) + 1))
        run_wrk(seconds=seconds, args=args, **runs["c_tool_many_keys"])
    after = {pid: rss_mib(pid) for pid in worker_pids(master)}
    results["memory_mib"] = {
        str(pid): {"before": round(before.get(pid, 0), 1), "after": round(after[pid], 1)}
        for pid in after
    }
    results["memory_calls"] = count_logs(database_url) - start_logs
    return results


def report(results: dict, args) -> None:
    runs = results["runs"]
    print()
    print(f"{'endpoint':<22}{'req/s':>10}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, r in runs.items():
        errors = r["socket_errors"] + r["non_2xx"]
        print(
            f"{name:<22}{r['rps']:>10,.0f}{r['p50_ms']:>9.2f}{r['p90_ms']:>9.2f}"
            f"{r['p99_ms']:>9.2f}{errors:>8}"
        )
    a, b = runs["a_bare"]["rps"], runs["b_read"]["rps"]
    c, d = runs["c_tool_many_keys"]["rps"], runs["d_tool_hot_key"]["rps"]
    print(f"\n(c)/(a) = {c / a:.2f}   (c)/(b) = {c / b:.2f}   hot key (d)/(c) = {d / c:.2f}")
    print(f"\nworker RSS (MiB) before → after {results['memory_calls']:,} tool calls:")
    for pid, m in results["memory_mib"].items():
        print(f"  worker {pid}: {m['before']:.1f} → {m['after']:.1f}")
    settings = {
        "workers": args.workers,
        "worker_class": args.worker_class,
        "connections": args.connections,
        "duration_s": args.duration,
        "synchronous_commit": args.synchronous_commit,
        "key_cache_seconds": args.key_cache_seconds,
    }
    print(f"\nsettings: {json.dumps(settings)}; {os.cpu_count()} cores")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"gateway-{stamp}.json").write_text(
        json.dumps({"settings": settings, **results}, indent=2)
    )


if __name__ == "__main__":
    main()
