# The webhook as it shipped, started through `uv run`: uv creates its cache under $HOME before
# it execs Python (and drops lock files in .venv and /tmp), so a read-only root kills it at start.
ARG BASE=rofs-audit-seed/base:bookworm
FROM ${BASE}
LABEL dev.rofs-audit.test=1

RUN groupadd --gid 1000 appuser \
 && useradd --uid 1000 --gid 1000 --home-dir /home/appuser --create-home --shell /bin/bash appuser \
 && install -d -o 1000 -g 1000 /app

# The standalone binary, as `COPY --from=ghcr.io/astral-sh/uv /uv` would give (no registry here).
COPY uv /usr/local/bin/uv

WORKDIR /app
USER 1000
# Wheels come from the host (no network in RUN); the hashes pin them to uv.lock.
# Like a venv made by `uv sync`, this one has no pip: Debian's pip wheel installs into it.
COPY --chown=1000:1000 requirements.txt wheels/ /tmp/wheels/
COPY --chown=1000:1000 app/ ./
RUN python3 -m venv --without-pip .venv \
 && pip=$(echo /usr/share/python-wheels/pip-*.whl) \
 && python3 "$pip/pip" --python .venv/bin/python install --no-cache-dir --no-index \
      --find-links /tmp/wheels --require-hashes -r /tmp/wheels/requirements.txt \
 && rm -rf /tmp/wheels

# The image was built from the lock: `uv run` must not re-resolve it at start.
ENV UV_FROZEN=1
EXPOSE 5000
CMD ["uv", "run", "python", "-m", "app"]
