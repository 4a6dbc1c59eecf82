"""(f) The floor of a metered tool call: only what a metered call cannot avoid.

Hash the key, look it up (cached per process), count it in a limiter shared through Redis (one
round trip), run echo, and write the log row and both counters with the product's own metering
statement on a connection kept per thread, committed durably before answering. No schema
validation, no headers beyond the JSON answer, no error handling beyond 401/429.

Benchmark reference only, never part of the product: `gunicorn bench.minimal:app`, with
DATABASE_URL and RATELIMIT_STORAGE_URI as for the app.
"""

import hashlib
import json
import math
import os
import threading
import time
import uuid
from datetime import UTC, datetime

import psycopg
import redis
from flask import Flask, jsonify, request

from dashboard.api.metering import LAST_USED_RESOLUTION, RECORD_CALL_SQL
from dashboard.models.usage import LATENCY_COLUMNS, latency_bucket_column

app = Flask(__name__)
DATABASE = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
LIMITER = redis.Redis.from_url(os.environ["RATELIMIT_STORAGE_URI"])
HIT = LIMITER.register_script(
    "local n = redis.call('incr', KEYS[1]) "
    "if n == 1 then redis.call('expire', KEYS[1], 60) end return n"
)
KEY_SQL = "SELECT id, user_id, rate_limit_per_minute FROM api_keys WHERE key = %s"
keys: dict[str, tuple] = {}
local = threading.local()


def connection() -> psycopg.Connection:
    if getattr(local, "connection", None) is None or local.connection.closed:
        local.connection = psycopg.connect(DATABASE, autocommit=True)
    return local.connection


@app.post("/bench/echo")
def echo():
    """A metered echo call."""
    secret = request.headers.get("Authorization", "").removeprefix("Bearer ")
    key_hash = hashlib.sha256(secret.encode()).hexdigest()
    cached = keys.get(key_hash)
    if cached is None or cached[0] < time.monotonic():
        row = connection().execute(KEY_SQL, (key_hash,)).fetchone()
        cached = keys[key_hash] = (time.monotonic() + 5, row)
    key = cached[1]
    if key is None:
        return jsonify(error={"code": "invalid_api_key"}), 401
    if HIT(keys=[f"minimal:{key[0]}"]) > key[2]:
        return jsonify(error={"code": "rate_limited"}), 429
    payload = request.get_json()
    started = time.perf_counter()
    output = {"message": payload["message"]}
    execution_ms = round((time.perf_counter() - started) * 1000)
    input_json, output_json = json.dumps(payload), json.dumps(output)
    tokens = max(1, math.ceil((len(input_json) + len(output_json)) / 4))
    at = datetime.now(UTC).replace(tzinfo=None)
    log_id = uuid.uuid4()
    bucket = latency_bucket_column(execution_ms)
    connection().execute(
        RECORD_CALL_SQL[False, False, True],  # durable commit, a successful, billable call
        {
            "log_id": log_id,
            "summary_id": uuid.uuid4(),
            "user_id": key[1],
            "api_key_id": key[0],
            "tool_name": "echo",
            "tool_version": "v1",
            "input_payload": input_json,
            "output_payload": output_json,
            "at": at,
            "status": "success",
            "execution_time_ms": execution_ms,
            "tokens_used": tokens,
            "error_message": None,
            "error_code": None,
            "client_ip": request.remote_addr,
            "month_year": at.strftime("%Y-%m"),
            "day": at.date(),
            "failed": 0,
            "touch_before": at - LAST_USED_RESOLUTION,
            "http_status": 200,
            "errors": None,
            "error_fingerprint": None,
            "source": None,
            "error_code_key": "",
            "group_message": "",
            **{column: int(column == bucket) for column in LATENCY_COLUMNS},
        },
    )
    return jsonify(output=output, request_id=str(log_id), tool="echo", version="v1")
