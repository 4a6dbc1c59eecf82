"""What every gateway benchmark shares: the database it loads, the servers it starts, wrk, and
the meters it reads (CPU time, memory, PostgreSQL backends, Redis). `bench.gateway` and
`bench.gateway_upstream` both build on it; neither imports the other's helpers."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import sqlalchemy as sa

from bench.common import POSTGRES_SERVER

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
        PUBLIC_URL="http://127.0.0.1",  # the bench calls 127.0.0.1 only
        RATELIMIT_STORAGE_URI=args.redis,
        RATELIMIT_KEY_PREFIX=f"bench-{uuid.uuid4().hex[:12]}",
        API_KEY_CACHE_SECONDS=str(args.key_cache_seconds),
        METERING_SYNCHRONOUS_COMMIT="true" if args.synchronous_commit else "false",
        DATABASE_POOL_SIZE="2",
        FLASK_APP="bench.wsgi",
        PYTHONPATH=str(ROOT),
    )
    return env


def prepare_database(
    env: dict,
    keys: int,
    key_cap: int | None = None,
    *,
    email: str = "bench@example.com",
    test_mode: bool = False,
) -> tuple[list[str], str]:
    """Migrate, sync tools, and make one user (`email`) with `keys` keys (each with a monthly
    cap of `key_cap` calls, when given: counted, never reached; test-mode keys with
    `test_mode`); returns (secrets, user id). Called again, it adds another user."""
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
    user = create_user({email!r}, "bench password 123", plan="scale")
    secrets = [create_key(user, f"bench {{n}}", is_test={test_mode!r})[1] for n in range({keys})]
    # No rejections during the run: the limiter still counts every call, it never says no.
    db.session.execute(
        db.update(ApiKey)
        .where(ApiKey.user_id == user.id)
        .values(rate_limit_per_minute=1_000_000_000, monthly_call_cap={key_cap!r})
    )
    db.session.commit()
    print(json.dumps({{"secrets": secrets, "user": str(user.id)}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True, cwd=ROOT
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["secrets"], data["user"]


SERVER_MODELS = ("gunicorn-sync", "gunicorn-gthread", "granian")
APPS = {  # name: (WSGI app, a GET path that answers when it is up)
    "product": ("bench.wsgi:app", "/api/bench/bare"),
    "plain": ("bench.plain:app", "/bench/bare"),
    "minimal": ("bench.minimal:app", "/bench/echo"),
}


def server_command(model: str, target: str, port: int, args) -> list[str]:
    """The command line of one server model: the same workers, and threads where it has them."""
    bin_dir = Path(sys.executable).parent
    if model == "granian":
        return [
            str(bin_dir / "granian"),
            "--interface",
            "wsgi",
            "--workers",
            str(args.workers),
            "--blocking-threads",
            str(args.threads),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            target,
        ]
    command = [
        str(bin_dir / "gunicorn"),
        "--workers",
        str(args.workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    if model == "gunicorn-gthread":
        command += ["--worker-class", "gthread", "--threads", str(args.threads)]
    return [*command, target]


def start_server(env: dict, model: str, app: str, args) -> tuple[subprocess.Popen, str]:
    """Start `app` under `model` on a free port; (process, base URL) once it answers."""
    target, probe = APPS[app]
    port = free_port()
    command = server_command(model, target, port, args)
    server = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + probe, timeout=1).read()  # noqa: S310 (127.0.0.1)
            return server, base
        except urllib.error.HTTPError:
            return server, base  # it answers (a 404 for the minimal app's probe)
        except OSError:
            time.sleep(0.2)
    os.killpg(server.pid, signal.SIGTERM)
    raise SystemExit(f"{model} did not start {target} within 120 s")


def stop_server(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True
    ).stdout
    return sorted(int(pid) for pid in out.split())


def descendants(master: int) -> list[int]:
    """Every process under `master`: workers, and with TOOL_ISOLATION their tool pool's fork
    server and tool processes (whose CPU is the tool calls' too)."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        pid, ppid = (int(field) for field in line.split())
        children.setdefault(ppid, []).append(pid)
    found, stack = [], list(children.get(master, []))
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return sorted(found)


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
    """CPU seconds spent by the servers' workers, the bench database's backends and Redis."""

    def __init__(self, masters: list[int], database_url: str, redis_url: str) -> None:
        self.masters, self.database_url, self.redis_url = masters, database_url, redis_url

    def snapshot(self) -> dict:
        workers = [pid for master in self.masters for pid in descendants(master)]
        return {
            "app": cpu_seconds(workers),
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
