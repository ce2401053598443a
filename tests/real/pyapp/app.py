"""A readiness probe with a warm-up window, as many real services have.

GET /health answers 200 as soon as the worker serves. GET /health/ready answers 503 for
READY_DELAY_MS (default 60 ms) after the worker loaded the app, then 200: a probe that comes
right after the port opens can see the 503.
"""

import os
import time

from flask import Flask, jsonify

READY_AT = time.monotonic() + int(os.environ.get("READY_DELAY_MS", "60")) / 1000

app = Flask(__name__)


@app.get("/health")
def health():
    return jsonify(status="healthy")


@app.get("/health/ready")
def ready():
    if time.monotonic() < READY_AT:
        return jsonify(status="warming up"), 503
    return jsonify(status="ready")
