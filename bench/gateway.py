"""The gateway's overhead, measured: `python -m bench.gateway`.

Starts the app under gunicorn on 127.0.0.1 against its own PostgreSQL database and Redis, loads it
with wrk from a second process, and prints side by side, in one run:
  (a) GET /bench/bare   a JSON answer with no database work
  (b) GET /bench/read   the same with one indexed PostgreSQL read
  (c) POST /api/v1/tools/echo with a valid key (many keys, round-robin)
  (d) the same with one hot key (all calls on one key's counters)
with requests/s, p50/p90/p99 latency, the CPU time per request of the app's workers, the bench
database's PostgreSQL backends and Redis, the ratios (c)/(a), (c)/(b), (d)/(c), and the resident
memory of each worker before and after 100,000 tool calls. Endpoints alternate over --rounds
rounds and each reports its median round, so a neighbour's load burst on a shared machine hits
all of them. Every load loop is bounded in time (and the memory check also in count) and
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

from bench.common import POSTGRES_SERVER, bench_database

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
    deadline = time.monotonic() + 120  # each worker loads the tools' models first
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/bare", timeout=1).read()
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not start within 120 s")


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


def cpu_seconds(pids) -> dict[int, float]:
    """User + system CPU seconds of each process that still exists."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return found


def postgres_backends(database_url: str) -> list[int]:
    """The PostgreSQL backends connected to the bench database (the app's pools)."""
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        pids = connection.execute(
            sa.text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalars()
        pids = list(pids)
    engine.dispose()
    return pids


def redis_cpu(url: str) -> float:
    """Redis' own CPU seconds (the whole server: other users of it count too)."""
    import redis

    info = redis.Redis.from_url(url).info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]


class CpuMeter:
    """CPU seconds spent by the gunicorn workers, the bench database's backends and Redis."""

    def __init__(self, master: int, database_url: str, redis_url: str) -> None:
        self.master, self.database_url, self.redis_url = master, database_url, redis_url

    def snapshot(self) -> dict:
        return {
            "app": cpu_seconds(worker_pids(self.master)),
            "postgres": cpu_seconds(postgres_backends(self.database_url)),
            "redis": redis_cpu(self.redis_url),
        }

    @staticmethod
    def spent(before: dict, after: dict) -> dict[str, float]:
        spent = {"redis": after["redis"] - before["redis"]}
        for part in ("app", "postgres"):
            spent[part] = sum(
                seconds - before[part].get(pid, 0.0) for pid, seconds in after[part].items()
            )
        return spent


def median_run(rounds: list[dict]) -> dict:
    """The round with the median throughput (its latencies go with it)."""
    ordered = sorted(rounds, key=lambda r: r["rps"])
    return ordered[(len(ordered) - 1) // 2]


def count_logs(database_url: str) -> int:
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        count = connection.execute(sa.text("SELECT count(*) FROM tool_logs")).scalar_one()
    engine.dispose()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per endpoint")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per endpoint")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--keys", type=int, default=100, help="keys for the many-keys run")
    parser.add_argument("--memory-calls", type=int, default=100_000)
    parser.add_argument(
        "--memory-max-seconds", type=int, default=600, help="time bound of the memory check"
    )
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

    load_before = load_average()
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
    results["machine"] = machine()
    results["load_before"] = load_before
    report(results, args)


def measure(base, args, many, hot, master, database_url) -> dict:
    echo = f"{base}/api/v1/tools/echo"
    runs = {
        "a_bare": dict(url=f"{base}/bench/bare"),
        "b_read": dict(url=f"{base}/bench/read"),
        "c_tool_many_keys": dict(url=echo, method="POST", body=ECHO_BODY, keys_file=many),
        "d_tool_hot_key": dict(url=echo, method="POST", body=ECHO_BODY, keys_file=hot),
    }
    meter = CpuMeter(master, database_url, args.redis)
    for spec in runs.values():
        run_wrk(seconds=args.warmup, args=args, **spec)
    rounds: dict[str, list[dict]] = {name: [] for name in runs}
    cpu: dict[str, dict[str, float]] = {name: {} for name in runs}
    # Rounds alternate the endpoints, so that a neighbour's burst of load on a shared machine
    # falls on all of them rather than on one; each endpoint reports its median round.
    for number in range(1, args.rounds + 1):
        for name, spec in runs.items():
            print(f"round {number}/{args.rounds}: {name} for {args.duration} s …", flush=True)
            before = meter.snapshot()
            result = run_wrk(seconds=args.duration, args=args, **spec)
            for part, seconds in meter.spent(before, meter.snapshot()).items():
                cpu[name][part] = cpu[name].get(part, 0.0) + seconds
            rounds[name].append(result)
    results: dict = {"runs": {}, "rounds": rounds}
    for name in runs:
        requests = sum(r["requests"] for r in rounds[name])
        results["runs"][name] = {
            **median_run(rounds[name]),
            "cpu_us": {part: s / requests * 1e6 for part, s in cpu[name].items()},
        }
    workers = worker_pids(master)
    before = {pid: rss_mib(pid) for pid in workers}
    start_logs = count_logs(database_url)
    print(f"making {args.memory_calls:,} tool calls for the memory check …", flush=True)
    # Bounded in count (log rows written) and in time; wrk runs in chunks sized by the rate.
    rps = max(results["runs"]["c_tool_many_keys"]["rps"], 1)
    deadline = time.monotonic() + args.memory_max_seconds
    while time.monotonic() < deadline:
        remaining = args.memory_calls - (count_logs(database_url) - start_logs)
        if remaining <= 0:
            break
        seconds = max(1, min(60, int(remaining / rps) + 1, int(deadline - time.monotonic())))
        run_wrk(seconds=seconds, args=args, **runs["c_tool_many_keys"])
    after = {pid: rss_mib(pid) for pid in worker_pids(master)}
    results["memory_mib"] = {
        str(pid): {"before": round(before.get(pid, 0), 1), "after": round(after[pid], 1)}
        for pid in after
    }
    results["memory_calls"] = count_logs(database_url) - start_logs
    return results


def machine() -> dict:
    """What the figures were measured on."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    engine = sa.create_engine(f"{POSTGRES_SERVER}/postgres")
    with engine.connect() as connection:
        postgres = connection.execute(sa.text("SHOW server_version")).scalar_one()
    engine.dispose()
    return {"nproc": os.cpu_count(), "cpu": model, "postgresql": postgres}


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def report(results: dict, args) -> None:
    runs = results["runs"]
    print()
    print(
        f"{'endpoint':<18}{'req/s':>8}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'errors':>7}"
        f"{'app µs':>8}{'pg µs':>7}{'redis µs':>9}{'rounds req/s':>22}"
    )
    for name, r in runs.items():
        errors = sum(x["socket_errors"] + x["non_2xx"] for x in results["rounds"][name])
        each = "/".join(f"{x['rps']:.0f}" for x in results["rounds"][name])
        cpu = r["cpu_us"]
        print(
            f"{name:<18}{r['rps']:>8,.0f}{r['p50_ms']:>8.2f}{r['p90_ms']:>8.2f}"
            f"{r['p99_ms']:>8.2f}{errors:>7}{cpu['app']:>8,.0f}{cpu['postgres']:>7,.0f}"
            f"{cpu['redis']:>9,.0f}{each:>22}"
        )
    a, b = runs["a_bare"]["rps"], runs["b_read"]["rps"]
    c, d = runs["c_tool_many_keys"]["rps"], runs["d_tool_hot_key"]["rps"]
    print(f"\n(c)/(a) = {c / a:.2f}   (c)/(b) = {c / b:.2f}   hot key (d)/(c) = {d / c:.2f}")

    def server_cpu(name: str) -> float:
        return sum(runs[name]["cpu_us"].values())

    print(
        "server CPU per request (app + PostgreSQL + Redis), a/c: "
        f"{server_cpu('a_bare') / server_cpu('c_tool_many_keys'):.2f}"
    )
    print(f"\nworker RSS (MiB) before → after {results['memory_calls']:,} tool calls:")
    for pid, m in results["memory_mib"].items():
        print(f"  worker {pid}: {m['before']:.1f} → {m['after']:.1f}")
    settings = {
        "workers": args.workers,
        "worker_class": args.worker_class,
        "threads": args.threads if args.worker_class == "gthread" else 1,
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "synchronous_commit": args.synchronous_commit,
        "key_cache_seconds": args.key_cache_seconds,
    }
    print(f"\nsettings: {json.dumps(settings)}")
    print(f"machine: {json.dumps(results['machine'])}")
    print(f"load average: {results['load_before']} before, {load_average()} after")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"gateway-{stamp}.json").write_text(
        json.dumps({"settings": settings, **results}, indent=2)
    )


if __name__ == "__main__":
    main()
