"""Notes: a Flask app that keeps its state where many apps keep it by default.

SQLite next to the code, Django-style (NOTES_DB, default /app/notes.db; the table is created at
startup), and a signing key made at the first start in $HOME/.config/notes/secret_key (0600),
read at later starts (NOTES_SECRET_KEY instead). A token from GET /token passes
GET /token/check?t=... after a restart only if the key file survived.
"""

import hashlib
import hmac
import os
import sqlite3
from contextlib import closing

from flask import Flask, jsonify, request

DB = os.environ.get("NOTES_DB", "/app/notes.db")
KEY_FILE = os.path.join(os.path.expanduser("~"), ".config", "notes", "secret_key")


def secret_key():
    if os.environ.get("NOTES_SECRET_KEY"):
        return os.environ["NOTES_SECRET_KEY"].encode()
    try:
        with open(KEY_FILE, "rb") as f:
            return f.read()
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(KEY_FILE), mode=0o700, exist_ok=True)
    key = os.urandom(32)
    with os.fdopen(os.open(KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(key)
    return key


def db():
    return closing(sqlite3.connect(DB))


KEY = secret_key()
with db() as c, c:
    c.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")

app = Flask(__name__)


def sign(nonce):
    return hmac.new(KEY, nonce.encode(), hashlib.sha256).hexdigest()


@app.get("/health")
def health():
    return jsonify(status="ok")


@app.post("/notes")
def add_note():
    # A form field, or the raw body of any other content type.
    text = request.form.get("text") or request.get_data(as_text=True)
    if not text:
        return jsonify(error="no text"), 400
    with db() as c, c:
        note_id = c.execute("INSERT INTO notes (text) VALUES (?)", (text,)).lastrowid
    return jsonify(id=note_id, text=text), 201


@app.get("/notes")
def list_notes():
    with db() as c:
        rows = c.execute("SELECT id, text FROM notes ORDER BY id").fetchall()
    return jsonify([{"id": i, "text": t} for i, t in rows])


@app.get("/token")
def token():
    nonce = os.urandom(8).hex()
    return jsonify(token=f"{nonce}.{sign(nonce)}")


@app.get("/token/check")
def token_check():
    nonce, _, mac = request.args.get("t", "").partition(".")
    if nonce and hmac.compare_digest(mac, sign(nonce)):
        return jsonify(valid=True)
    return jsonify(valid=False), 403
