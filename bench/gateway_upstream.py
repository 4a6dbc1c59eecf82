"""(g) of `python -m bench.gateway --upstream`: calls to an upstream tool that answers in 50 ms.

The example upstream service (examples/upstream/service.py) runs in its own process; the
catalog file gives the app two upstream tools: `slow50` (answers after 50 ms) and `broken`
(answers after 2 s, past its 1 s deadline). For each server setting and 16 and 64 connections
it reports throughput and p99 beside the ideal (connections / 50 ms), then the healthy tool's
figures while a second load generator keeps calling the broken one.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import bench_database
from bench.servers import (
    ROOT,
    app_environment,
    free_port,
    load_average,
    machine,
    prepare_database,
    run_wrk,
    start_server,
)

SECRET = "bench-upstream-secret"
DELAY_MS = 50
BODY = json.dumps({"amount": 100, "rate": 20})
# (label, worker class, workers, threads): the documented production setting is gthread.
SETTINGS = [("sync x4", "sync", 4, 1), ("gthread 2x32", "gthread", 2, 32)]
CATALOG = """
[[tool]]
name = "slow50"
version = "v1"
url = "http://127.0.0.1:{port}/vat?delay_ms={delay}"
secret = "bench"
timeout_ms = 1000
max_concurrency = 64
input_schema = '{{"type": "object", "required": ["amount"]}}'
output_schema = '{{"type": "object", "required": ["gross"]}}'
example_input = {{ amount = 100 }}

[[tool]]
name = "broken"
version = "v1"
url = "http://127.0.0.1:{port}/vat?delay_ms=2000"
secret = "bench"
timeout_ms = 1000
max_concurrency = 64
input_schema = '{{"type": "object", "required": ["amount"]}}'
output_schema = '{{"type": "object", "required": ["gross"]}}'
example_input = {{ amount = 100 }}
"""


def start_upstream(port: int) -> subprocess.Popen:
    service = ROOT / "examples" / "upstream" / "service.py"
    command = [sys.executable, str(service), "--port", str(port), "--secret", SECRET]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
        except urllib.error.HTTPError:
            return process  # it answers (501 for GET): it is up
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("the example upstream did not start")


def run(args: argparse.Namespace) -> None:
    load_before = load_average()
    upstream_port = free_port()
    upstream = start_upstream(upstream_port)
    results = []
    try:
        with (
            bench_database("dashboard_bench_upstream", keep=args.keep) as database_url,
            tempfile.TemporaryDirectory() as tmp,
        ):
            catalog = Path(tmp) / "tools.toml"
            catalog.write_text(CATALOG.format(port=upstream_port, delay=DELAY_MS))
            env = app_environment(database_url, args)
            env.update(
                TOOLS_CATALOG_FILE=str(catalog),
                UPSTREAM_SECRETS=f"bench={SECRET}",
                # Threads wait on the upstream, not on PostgreSQL: they must not keep a pooled
                # connection between queries (the default keeps it 1 s), or 32 threads need 32.
                DATABASE_POOL_SIZE="16",
                API_CONNECTION_KEEP_SECONDS="0",
            )
            secrets, _ = prepare_database(env, args.keys)
            keys = Path(tmp) / "keys.txt"
            keys.write_text("\n".join(secrets))
            for label, worker_class, workers, threads in SETTINGS:
                results += measure_setting(env, args, keys, label, worker_class, workers, threads)
    finally:
        os.killpg(upstream.pid, signal.SIGTERM)
        upstream.wait(timeout=10)
    report(results, load_before)


def measure_setting(env, args, keys, label, worker_class, workers, threads) -> list[dict]:
    setting = argparse.Namespace(**{**vars(args), "worker_class": worker_class})
    setting.workers, setting.threads = workers, threads
    model = "gunicorn-gthread" if worker_class == "gthread" else "gunicorn-sync"
    server, base_url = start_server(env, model, "product", setting)
    base = f"{base_url}/api/v1/tools"
    rows = []
    try:
        for connections in (16, 64):
            load = argparse.Namespace(**{**vars(setting), "connections": connections})
            spec = dict(url=f"{base}/slow50", method="POST", body=BODY, keys_file=str(keys))
            run_wrk(seconds=args.warmup, args=load, **spec)
            print(f"(g) {label}, {connections} connections, {args.duration} s …", flush=True)
            result = run_wrk(seconds=args.duration, args=load, **spec)
            rows.append({"setting": label, "connections": connections, **result})
        if worker_class == "gthread":
            rows.append(with_broken_neighbour(base, args, setting, keys, label))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return rows


def with_broken_neighbour(base, args, setting, keys, label) -> dict:
    """The healthy tool at 32 connections while 32 more keep calling the broken one."""
    half = argparse.Namespace(**{**vars(setting), "connections": 32})
    broken = dict(url=f"{base}/broken", method="POST", body=BODY, keys_file=str(keys))
    healthy = dict(url=f"{base}/slow50", method="POST", body=BODY, keys_file=str(keys))
    print(f"(g) {label}: healthy 32 + broken 32 connections, {args.duration} s …", flush=True)
    alone = run_wrk(seconds=args.duration, args=half, **healthy)
    env = dict(os.environ, WRK_METHOD="POST", WRK_BODY=BODY, KEYS_FILE=str(keys))
    command = ["wrk", "-t1", "-c32", f"-d{args.duration + 2}s", "--timeout", "5s"]
    neighbour = subprocess.Popen(
        [*command, "-s", str(ROOT / "bench" / "wrk" / "request.lua"), broken["url"]],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1)  # let the broken tool's breaker see its failures first
    beside = run_wrk(seconds=args.duration, args=half, **healthy)
    out, _ = neighbour.communicate(timeout=args.duration + 30)
    line = next((ln for ln in out.splitlines() if ln.startswith("WRK_JSON ")), "WRK_JSON {}")
    return {
        "setting": label,
        "connections": "32+32 broken",
        "alone": alone,
        **beside,
        "broken": json.loads(line.removeprefix("WRK_JSON ")),
    }


def report(results: list[dict], load_before: str) -> None:
    print(f"\n(g) upstream tool answering after {DELAY_MS} ms")
    print(
        f"{'setting':<14}{'conns':>14}{'req/s':>8}{'ideal':>8}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'non-2xx':>8}"
    )
    for row in results:
        connections = row["connections"]
        ideal = (connections if isinstance(connections, int) else 32) / (DELAY_MS / 1000)
        print(
            f"{row['setting']:<14}{connections!s:>14}{row['rps']:>8,.0f}{ideal:>8,.0f}"
            f"{row['p50_ms']:>8.1f}{row['p99_ms']:>8.1f}{row['non_2xx'] + row['socket_errors']:>8}"
        )
        if "alone" in row:
            alone, broken = row["alone"], row["broken"]
            print(
                f"{'':<14}{'alone, 32':>14}{alone['rps']:>8,.0f}{ideal:>8,.0f}"
                f"{alone['p50_ms']:>8.1f}{alone['p99_ms']:>8.1f}"
                f"{alone['non_2xx'] + alone['socket_errors']:>8}"
            )
            print(
                f"{'':<14}{'the broken one':>14}{broken.get('rps', 0):>8,.0f}{'':>8}"
                f"{broken.get('p50_ms', 0):>8.1f}{broken.get('p99_ms', 0):>8.1f}"
                f"{broken.get('non_2xx', 0):>8}"
            )
    print(f"machine: {json.dumps(machine())}")
    print(f"load average: {load_before} before, {load_average()} after")
