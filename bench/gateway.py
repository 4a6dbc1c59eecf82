"""The gateway's overhead against the floors it cannot go below: `python -m bench.gateway`.

Starts, on 127.0.0.1 against one PostgreSQL database of its own and Redis (a random key
prefix, nothing flushed), three apps under each server model in turn (gunicorn sync workers,
gunicorn gthread workers, granian), loads them with wrk from a second process, and prints side
by side, in one run:
  (a) GET /api/bench/bare   the API app's JSON answer with no database work
  (b) GET /api/bench/read   the API app with one indexed PostgreSQL read
  (c) POST /api/v1/tools/echo with a valid key (many keys, round-robin)
  (d) the same with one hot key (all calls on one key's counters)
  (e) GET /bench/bare       a plain Flask app: no extensions, no hooks (bench/plain.py)
  (f) POST /bench/echo      the minimal metered call (bench/minimal.py): hash, cached key,
                            shared limiter in Redis, one metering statement, durable commit
  (g) with --upstream, only: an upstream tool answering after 50 ms (bench/gateway_upstream.py)
  (h) with --isolation, only: (c) with TOOL_ISOLATION off and on, side by side (first server
      model of --servers; the tool pool's processes count in the app's CPU time)
  (i) with --key-modes, only: (c) with live keys, live keys with a monthly cap (counted, never
      reached) and test-mode keys, each of its own account, beside (f) (first server model)
with requests/s, p50/p90/p99 latency, the CPU time per request of the app's workers, the bench
database's PostgreSQL backends and Redis, the ratios (a)/(e), (c)/(e), (c)/(f), (d)/(c), and the
resident memory of the product's workers before and after 100,000 tool calls. Endpoints
alternate over --rounds rounds and each reports its median round, so a neighbour's load burst
on a shared machine hits all of them. Every load loop is bounded in time (and the memory check
also in count) and targets only 127.0.0.1.
"""

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import gateway_upstream
from bench.common import bench_database
from bench.servers import (
    APPS,
    ECHO_BODY,
    SERVER_MODELS,
    CpuMeter,
    app_environment,
    count_logs,
    load_average,
    machine,
    median_run,
    prepare_database,
    rss_mib,
    run_wrk,
    start_server,
    stop_server,
    worker_pids,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per endpoint")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per endpoint")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4, help="worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread/granian worker")
    parser.add_argument(
        "--servers",
        default=",".join(SERVER_MODELS),
        help=f"comma-separated server models, from {', '.join(SERVER_MODELS)}",
    )
    parser.add_argument("--keys", type=int, default=100, help="keys for the many-keys run")
    parser.add_argument(
        "--key-cap",
        type=int,
        default=None,
        help="give every key a monthly call cap this high (counted on every call, never reached)",
    )
    parser.add_argument("--memory-calls", type=int, default=100_000)
    parser.add_argument(
        "--memory-max-seconds", type=int, default=300, help="time bound of the memory check"
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
    parser.add_argument(
        "--upstream", action="store_true", help="only (g): an upstream tool answering in 50 ms"
    )
    parser.add_argument(
        "--isolation",
        action="store_true",
        help="only (h): echo run in the request's thread against echo run in the tool pool",
    )
    parser.add_argument(
        "--key-modes",
        action="store_true",
        help="only (i): live, capped and test-mode keys against the minimal call",
    )
    args = parser.parse_args()
    if args.key_modes:
        return key_modes(args, args.servers.split(",")[0])
    if args.isolation:
        return isolation_cost(args, args.servers.split(",")[0])
    if args.upstream:
        return gateway_upstream.run(args)
    models = [model for model in args.servers.split(",") if model]
    unknown = set(models) - set(SERVER_MODELS)
    if unknown:
        parser.error(f"unknown server models: {', '.join(sorted(unknown))}")

    load_before = load_average()
    results: dict = {"servers": {}}
    with bench_database("dashboard_bench_gateway", keep=args.keep) as database_url:
        env = app_environment(database_url, args)
        secrets, _ = prepare_database(env, args.keys, args.key_cap)
        with tempfile.TemporaryDirectory() as tmp:
            many = Path(tmp) / "many.txt"
            many.write_text("\n".join(secrets))
            hot = Path(tmp) / "hot.txt"
            hot.write_text(secrets[0])
            for position, model in enumerate(models):
                servers = {}
                try:
                    for app in APPS:
                        servers[app] = start_server(env, model, app, args)
                    results["servers"][model] = measure(
                        servers, args, str(many), str(hot), database_url, memory=position == 0
                    )
                finally:
                    for server, _ in servers.values():
                        stop_server(server)
    results["machine"] = machine()
    results["load_before"] = load_before
    report(results, args, models)


def measure(servers, args, many, hot, database_url, memory: bool) -> dict:
    product, plain, minimal = (servers[name][1] for name in ("product", "plain", "minimal"))
    echo = f"{product}/api/v1/tools/echo"
    runs = {
        "a_api_bare": dict(url=f"{product}/api/bench/bare"),
        "b_api_read": dict(url=f"{product}/api/bench/read"),
        "c_tool_many_keys": dict(url=echo, method="POST", body=ECHO_BODY, keys_file=many),
        "d_tool_hot_key": dict(url=echo, method="POST", body=ECHO_BODY, keys_file=hot),
        "e_plain_flask": dict(url=f"{plain}/bench/bare"),
        "f_minimal_call": dict(
            url=f"{minimal}/bench/echo", method="POST", body=ECHO_BODY, keys_file=many
        ),
    }
    masters = [server.pid for server, _ in servers.values()]
    results = alternate(runs, CpuMeter(masters, database_url, args.redis), args)
    if memory:
        results.update(memory_check(servers["product"][0].pid, runs, args, database_url, results))
    return results


def alternate(runs: dict, meter: "CpuMeter", args) -> dict:
    """Warm every run up, then measure them in alternating rounds: each run's median round and
    its CPU time per request (app, PostgreSQL, Redis)."""
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
        requests = max(1, sum(r["requests"] for r in rounds[name]))
        results["runs"][name] = {
            **median_run(rounds[name]),
            "cpu_us": {part: s / requests * 1e6 for part, s in cpu[name].items()},
        }
    return results


ISOLATION_MODES = {"in_process": "false", "isolated": "true"}


def isolation_cost(args, model: str) -> None:
    """(h) The cost of the tool pool: the product app twice under `model`, TOOL_ISOLATION off
    and on, echo calls alternating between the two in the same run."""
    load_before = load_average()
    with bench_database("dashboard_bench_isolation", keep=args.keep) as database_url:
        env = app_environment(database_url, args)
        secrets, _ = prepare_database(env, args.keys, args.key_cap)
        servers = {}
        with tempfile.TemporaryDirectory() as tmp:
            many = Path(tmp) / "many.txt"
            many.write_text("\n".join(secrets))
            try:
                for mode, flag in ISOLATION_MODES.items():
                    pool_size = args.threads if model != "gunicorn-sync" else 1
                    mode_env = {**env, "TOOL_ISOLATION": flag, "TOOL_POOL_SIZE": str(pool_size)}
                    servers[mode] = start_server(mode_env, model, "product", args)
                runs = {
                    mode: dict(
                        url=f"{base}/api/v1/tools/echo",
                        method="POST",
                        body=ECHO_BODY,
                        keys_file=str(many),
                    )
                    for mode, (_, base) in servers.items()
                }
                masters = [server.pid for server, _ in servers.values()]
                measured = alternate(runs, CpuMeter(masters, database_url, args.redis), args)
            finally:
                for server, _ in servers.values():
                    stop_server(server)
    print(f"\n== (h) isolation, {model}, {args.workers} workers")
    print(f"{'echo':<12}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'app µs':>8}{'rounds req/s':>22}")
    for mode, r in measured["runs"].items():
        each = "/".join(f"{x['rps']:.0f}" for x in measured["rounds"][mode])
        print(
            f"{mode:<12}{r['rps']:>8,.0f}{r['p50_ms']:>8.2f}{r['p99_ms']:>8.2f}"
            f"{r['cpu_us']['app']:>8,.0f}{each:>22}"
        )
    runs = measured["runs"]
    ratio = runs["isolated"]["rps"] / runs["in_process"]["rps"]
    print(f"isolated / in process = {ratio:.3f} ({(1 - ratio) * 100:.1f}% fewer calls a second)")
    print(f"load average: {load_before} before, {load_average()} after")


KEY_MODES = {  # name: (monthly cap, test mode)
    "c_live": (None, False),
    "c_capped": (1_000_000_000, False),
    "c_test": (None, True),
}


def key_modes(args, model: str) -> None:
    """(i) What a key's monthly cap and test mode cost a tool call: three accounts' keys (live,
    capped, test mode) on one product server, alternating with the minimal call in one run."""
    load_before = load_average()
    with bench_database("dashboard_bench_key_modes", keep=args.keep) as database_url:
        # Test-mode keys have a lower limit of their own; here, like the others, never reached.
        env = app_environment(database_url, args)
        env["TEST_KEY_RATE_LIMIT_PER_MINUTE"] = "1000000000"
        servers = {}
        with tempfile.TemporaryDirectory() as tmp:
            files = {}
            for mode, (cap, test_mode) in KEY_MODES.items():
                secrets, _ = prepare_database(
                    env, args.keys, cap, email=f"{mode}@example.com", test_mode=test_mode
                )
                files[mode] = Path(tmp) / f"{mode}.txt"
                files[mode].write_text("\n".join(secrets))
            try:
                for app in ("product", "minimal"):
                    servers[app] = start_server(env, model, app, args)
                product, minimal = servers["product"][1], servers["minimal"][1]
                runs = {
                    mode: dict(
                        url=f"{product}/api/v1/tools/echo",
                        method="POST",
                        body=ECHO_BODY,
                        keys_file=str(files[mode]),
                    )
                    for mode in KEY_MODES
                }
                runs["f_minimal_call"] = dict(
                    url=f"{minimal}/bench/echo",
                    method="POST",
                    body=ECHO_BODY,
                    keys_file=str(files["c_live"]),
                )
                masters = [server.pid for server, _ in servers.values()]
                measured = alternate(runs, CpuMeter(masters, database_url, args.redis), args)
            finally:
                for server, _ in servers.values():
                    stop_server(server)
    print(f"\n== (i) key modes, {model}, {args.workers} workers, {args.keys} keys each")
    print(
        f"{'run':<16}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'app µs':>8}{'/(f)':>7}"
        f"{'rounds req/s':>22}"
    )
    runs = measured["runs"]
    floor = max(runs["f_minimal_call"]["rps"], 1)
    for name, r in runs.items():
        each = "/".join(f"{x['rps']:.0f}" for x in measured["rounds"][name])
        print(
            f"{name:<16}{r['rps']:>8,.0f}{r['p50_ms']:>8.2f}{r['p99_ms']:>8.2f}"
            f"{r['cpu_us']['app']:>8,.0f}{r['rps'] / floor:>7.2f}{each:>22}"
        )
    refused = {name: r["non_2xx"] for name, r in runs.items() if r.get("non_2xx")}
    if refused:
        print(f"answers other than 2xx (the figures above are not comparable): {refused}")
    print(f"load average: {load_before} before, {load_average()} after")


def memory_check(master, runs, args, database_url, results) -> dict:
    """RSS of the product's workers before and after --memory-calls more tool calls."""
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
    return {
        "memory_mib": {
            str(pid): {"before": round(before.get(pid, 0), 1), "after": round(after[pid], 1)}
            for pid in after
        },
        "memory_calls": count_logs(database_url) - start_logs,
    }


def report(results: dict, args, models: list[str]) -> None:
    for model in models:
        measured = results["servers"][model]
        runs = measured["runs"]
        print(f"\n== {model}")
        print(
            f"{'endpoint':<18}{'req/s':>8}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'errors':>7}"
            f"{'app µs':>8}{'pg µs':>7}{'redis µs':>9}{'rounds req/s':>22}"
        )
        for name, r in runs.items():
            errors = sum(x["socket_errors"] + x["non_2xx"] for x in measured["rounds"][name])
            each = "/".join(f"{x['rps']:.0f}" for x in measured["rounds"][name])
            cpu = r["cpu_us"]
            print(
                f"{name:<18}{r['rps']:>8,.0f}{r['p50_ms']:>8.2f}{r['p90_ms']:>8.2f}"
                f"{r['p99_ms']:>8.2f}{errors:>7}{cpu['app']:>8,.0f}{cpu['postgres']:>7,.0f}"
                f"{cpu['redis']:>9,.0f}{each:>22}"
            )
        rps = {name: r["rps"] for name, r in runs.items()}
        a, c, d = rps["a_api_bare"], rps["c_tool_many_keys"], rps["d_tool_hot_key"]
        e, f = rps["e_plain_flask"], rps["f_minimal_call"]
        print(
            f"(a)/(e) API bare over plain Flask = {a / e:.2f}   (c)/(e) = {c / e:.2f}   "
            f"(c)/(f) tool call over minimal call = {c / f:.2f}   hot key (d)/(c) = {d / c:.2f}"
        )
        print(
            f"p99: (c) {runs['c_tool_many_keys']['p99_ms']:.2f} ms, "
            f"(f) {runs['f_minimal_call']['p99_ms']:.2f} ms"
        )
        if "memory_mib" in measured:
            print(f"worker RSS (MiB) before → after {measured['memory_calls']:,} tool calls:")
            for pid, m in measured["memory_mib"].items():
                print(f"  worker {pid}: {m['before']:.1f} → {m['after']:.1f}")
    settings = {
        "servers": models,
        "workers": args.workers,
        "threads": args.threads,
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
