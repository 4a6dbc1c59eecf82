"""(e) The floor of any Flask answer: a plain Flask app with no extensions and no hooks.

Benchmark reference only, never part of the product: `gunicorn bench.plain:app`.
"""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/bench/bare")
def bare():
    """The same small JSON object as the API app's bare answer."""
    return jsonify(status="ok", service="bench")
