"""The usage page's weight on a slow connection: bytes over the wire and time to the first chart.

    python -m bench.page_weight [--down-kbps 400] [--rtt-ms 400] [--runs 3] [--keep]

Makes a SQLite database in a temporary directory with the demo data (`flask demo load`), serves
the app with gunicorn (2 sync workers; static files through WhiteNoise, as in production), logs
in as the demo account in Chromium at full speed, then opens /usage/ with the browser cache off
on a throttled connection (Chrome DevTools Protocol `Network.emulateNetworkConditions`; the
default is DevTools' "Slow 3G": 400 kbit/s down and up, 400 ms round trip). It reports, per run:

- bytes transferred: each response's encodedDataLength (headers and body as they crossed the
  wire, compressed where the server compressed), and the decoded body sizes beside them;
- time to first chart: from the navigation's start (performance.timeOrigin) until the first
  chart card says Plotly drew it (usage.js sets `data-drawn-theme`), and until all six have.

Then the median run. Results also go to bench/results/page_weight.json.
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEMO_EMAIL, DEMO_PASSWORD = "demo@example.com", "demo-password"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHARTS = 6  # the usage page's chart cards
# Records when the first chart, and the last, says it was drawn; runs before the page's scripts.
DRAWN_OBSERVER = """
(() => {
  const seen = () => document.querySelectorAll('[data-usage-chart][data-drawn-theme]').length;
  new MutationObserver(() => {
    const drawn = seen();
    if (drawn && window.__firstChart === undefined) window.__firstChart = performance.now();
    if (drawn >= CHARTS && window.__allCharts === undefined) window.__allCharts = performance.now();
  }).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-drawn-theme']});
})();
""".replace("CHARTS", str(CHARTS))


def environment(database: Path) -> dict:
    """The app's settings for this run: its own SQLite file, nothing written into instance/."""
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": secrets.token_hex(32),
        "QUEUE_URL": "memory://",
        "MAIL_OUTBOX_FILE": "",
        "LOG_REQUESTS": "false",
    }


def prepare(env: dict, calls: int) -> None:
    flask = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi"]
    for args in (["db", "upgrade"], ["tools", "sync"], ["demo", "load", "--calls", str(calls)]):
        subprocess.run([*flask, *args], cwd=ROOT, env=env, check=True, capture_output=True)


def serve(env: dict, port: int) -> subprocess.Popen:
    gunicorn = str(ROOT / ".venv" / "bin" / "gunicorn")
    server = subprocess.Popen(
        [gunicorn, "--workers", "2", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            subprocess.run(
                ["curl", "-sf", "-o", "/dev/null", f"http://127.0.0.1:{port}/health/live"],
                check=True,
            )
            return server
        except subprocess.CalledProcessError:
            time.sleep(0.2)  # gunicorn is starting: there is no event to wait on
    os.killpg(server.pid, signal.SIGKILL)
    raise RuntimeError("gunicorn did not start")


class Responses:
    """Each response of the visit, by CDP request id: its URL, Content-Encoding, the body's
    decoded bytes and the bytes that crossed the wire (headers included)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.by_id: dict[str, dict] = {}

    def received(self, event: dict) -> None:
        if not event["response"]["url"].startswith("http"):
            return  # data: URLs inside the CSS cross no wire
        headers = {name.lower(): value for name, value in event["response"]["headers"].items()}
        self.by_id[event["requestId"]] = {
            "url": event["response"]["url"].removeprefix(self.base),
            "encoding": headers.get("content-encoding", ""),
            "decoded": 0,
        }

    def data(self, event: dict) -> None:
        if event["requestId"] in self.by_id:
            self.by_id[event["requestId"]]["decoded"] += event["dataLength"]

    def finished(self, event: dict) -> None:
        if event["requestId"] in self.by_id:
            self.by_id[event["requestId"]]["transferred"] = event["encodedDataLength"]


def one_visit(browser, base: str, down_kbps: int, rtt_ms: int) -> dict:
    """Log in at full speed, then load /usage/ cold on the throttled connection."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(DEMO_EMAIL)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/usage/")

    cdp = context.new_cdp_session(page)
    responses = Responses(base)
    cdp.on("Network.responseReceived", responses.received)
    cdp.on("Network.dataReceived", responses.data)
    cdp.on("Network.loadingFinished", responses.finished)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": rtt_ms,
            "downloadThroughput": down_kbps * 1000 / 8,
            "uploadThroughput": down_kbps * 1000 / 8,
        },
    )
    page.add_init_script(DRAWN_OBSERVER)
    page.goto(f"{base}/usage/", wait_until="commit", timeout=300_000)
    drawn = page.locator("[data-usage-chart][data-drawn-theme]")
    drawn.nth(CHARTS - 1).wait_for(state="attached", timeout=300_000)
    page.wait_for_load_state("load", timeout=300_000)
    first, every = page.evaluate("[window.__firstChart, window.__allCharts]")
    context.close()
    files = sorted(
        (r for r in responses.by_id.values() if "transferred" in r),
        key=lambda r: -r["transferred"],
    )
    return {
        "first_chart_s": round(first / 1000, 2),
        "all_charts_s": round(every / 1000, 2),
        "transferred_bytes": sum(r["transferred"] for r in files),
        "decoded_bytes": sum(r["decoded"] for r in files),
        "files": files,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--down-kbps", type=int, default=400)
    parser.add_argument("--rtt-ms", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=1500, help="demo calls (flask demo load)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="page-weight-"))
    env = environment(work / "demo.sqlite")
    prepare(env, args.calls)
    port = free_port()
    server = serve(env, port)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM)
            runs = [
                one_visit(browser, f"http://127.0.0.1:{port}", args.down_kbps, args.rtt_ms)
                for _ in range(args.runs)
            ]
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        if not args.keep:
            shutil.rmtree(work)

    for number, run in enumerate(runs, 1):
        print(
            f"run {number}: {run['transferred_bytes']:,} bytes transferred "
            f"({run['decoded_bytes']:,} decoded), first chart {run['first_chart_s']} s, "
            f"all {CHARTS} charts {run['all_charts_s']} s"
        )
    median = sorted(runs, key=lambda run: run["first_chart_s"])[len(runs) // 2]
    print(f"\n/usage/ at {args.down_kbps} kbit/s, {args.rtt_ms} ms RTT, cache off (median run):")
    for row in median["files"]:
        encoding = row["encoding"] or "identity"
        print(
            f"  {row['transferred']:>10,} B on the wire  {row['decoded']:>10,} B decoded  "
            f"{encoding:<8} {row['url']}"
        )
    print(
        f"  total {median['transferred_bytes']:,} B transferred, {median['decoded_bytes']:,} B "
        f"decoded; first chart after {median['first_chart_s']} s, all "
        f"{CHARTS} after {median['all_charts_s']} s "
        f"(medians of {len(runs)}: first {statistics.median(r['first_chart_s'] for r in runs)} s)"
    )
    RESULTS.mkdir(exist_ok=True)
    report = {"down_kbps": args.down_kbps, "rtt_ms": args.rtt_ms, "runs": runs}
    (RESULTS / "page_weight.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
