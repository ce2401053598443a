# A small Flask app under gunicorn (the wheels pinned in pyapp/requirements.txt), run as uid 1000
# with HOME=/home/app, that keeps its state where many apps do by default: its SQLite database
# next to its code, /app/notes.db (NOTES_DB), created at the first start, and a signing key it
# generates at the first start, $HOME/.config/notes/secret_key (NOTES_SECRET_KEY instead).
# gunicorn >= 25 opens its control socket at $HOME/.gunicorn/gunicorn.ctl (kept on), and its
# worker heartbeat file goes to /tmp.
ARG BASE=rofs-audit-real/base:bookworm-2
FROM ${BASE}
LABEL dev.rofs-audit.test=1
RUN groupadd --gid 1000 app \
 && useradd --uid 1000 --gid 1000 --home-dir /home/app --create-home --shell /bin/bash app \
 && install -d -o 1000 -g 1000 /app
WORKDIR /app
USER 1000
# Wheels come from the host (no network in RUN); the hashes pin them. Debian's pip wheel
# installs into a venv without pip; the app is compiled at build time like the packages.
COPY --chown=1000:1000 requirements.txt wheels/ /tmp/wheels/
COPY --chown=1000:1000 notes.py /app/notes.py
RUN python3 -m venv --without-pip .venv \
 && pip=$(echo /usr/share/python-wheels/pip-*.whl) \
 && python3 "$pip/pip" --python .venv/bin/python install --no-cache-dir --no-index \
      --find-links /tmp/wheels --require-hashes -r /tmp/wheels/requirements.txt \
 && .venv/bin/python -m compileall -q /app/notes.py \
 && rm -rf /tmp/wheels
ENV HOME=/home/app \
    PATH=/app/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "1", "--graceful-timeout", "5", "notes:app"]
