"""Where the API path spends its time, in one process: `python -m bench.profile`.

Builds the same database as `bench.gateway` (PostgreSQL, Redis db 15), then calls the WSGI app
directly (no gunicorn, no sockets) for each endpoint and prints the CPU time this process spent
per request: a figure that a busy machine disturbs far less than wall-clock throughput. With
--pyinstrument it also prints a pyinstrument profile of the tool call.
"""

import argparse
import io
import json
import os
import sys
import time

from bench.common import bench_database

ECHO_BODY = json.dumps({"message": "Hello, tools API!"}).encode()


def environ(path: str, method: str = "GET", body: bytes = b"", secret: str | None = None) -> dict:
    """A WSGI environ for one request from 127.0.0.1."""
    from werkzeug.test import EnvironBuilder

    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    builder = EnvironBuilder(
        path=path,
        method=method,
        data=body,
        headers=headers,
        content_type="application/json",
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    try:
        return builder.get_environ()
    finally:
        builder.close()


def call(app, env: dict) -> int:
    """Run one request through the WSGI app; its status code."""
    env = dict(env)
    env["wsgi.input"] = io.BytesIO(env["wsgi.input"].getvalue())
    status = []
    chunks = app(env, lambda s, h, exc_info=None: status.append(s))
    for _ in chunks:
        pass
    if hasattr(chunks, "close"):
        chunks.close()
    return int(status[0].split()[0])


def per_request(app, envs: list[dict], count: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per request over `count` requests, cycling through `envs`."""
    for n in range(min(200, count)):
        call(app, envs[n % len(envs)])
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(count):
        status = call(app, envs[n % len(envs)])
        if status != 200:
            raise SystemExit(f"status {status}")
    return (
        (time.process_time() - cpu) / count * 1e6,
        (time.perf_counter() - wall) / count * 1e6,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="requests per endpoint")
    parser.add_argument("--keys", type=int, default=100)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--key-cache-seconds", type=int, default=5)
    parser.add_argument("--no-synchronous-commit", dest="synchronous_commit", action="store_false")
    parser.add_argument("--pyinstrument", action="store_true", help="profile the tool call")
    args = parser.parse_args()
    args.workers, args.worker_class = 1, "sync"

    from bench.servers import app_environment, prepare_database

    with bench_database("dashboard_bench_profile") as database_url:
        env = app_environment(database_url, args)
        secrets, _ = prepare_database(env, args.keys)
        os.environ.update(env)
        sys.path.insert(0, env["PYTHONPATH"])
        from bench.minimal import app as minimal
        from bench.plain import app as plain
        from bench.wsgi import app

        echo = "/api/v1/tools/echo"
        runs = {
            "a_api_bare": (app, [environ("/api/bench/bare")]),
            "b_api_read": (app, [environ("/api/bench/read")]),
            "c_tool_many_keys": (app, [environ(echo, "POST", ECHO_BODY, s) for s in secrets]),
            "d_tool_hot_key": (app, [environ(echo, "POST", ECHO_BODY, secrets[0])]),
            "e_plain_flask": (plain, [environ("/bench/bare")]),
            "f_minimal_call": (
                minimal,
                [environ("/bench/echo", "POST", ECHO_BODY, s) for s in secrets],
            ),
        }
        print(f"{'endpoint':<22}{'CPU µs/req':>12}{'wall µs/req':>13}")
        for name, (target, envs) in runs.items():
            cpu, wall = per_request(target, envs, args.count)
            print(f"{name:<22}{cpu:>12,.0f}{wall:>13,.0f}", flush=True)
        if args.pyinstrument:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
            with profiler:
                per_request(*runs["c_tool_many_keys"], args.count)
            print(profiler.output_text(unicode=True, color=False, show_all=False))
        from dashboard.extensions import db

        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
