# The rework: the same app and venv, started by the venv's Python; no uv in the image,
# nothing written at start, so it runs under a read-only root as is.
ARG BASE=rofs-audit-seed/base:bookworm
ARG BEFORE=rofs-audit-seed/webhook:before
FROM ${BEFORE} AS build

FROM ${BASE}
LABEL dev.rofs-audit.test=1

RUN groupadd --gid 1000 appuser \
 && useradd --uid 1000 --gid 1000 --home-dir /home/appuser --create-home --shell /bin/bash appuser

WORKDIR /app
# Same base image and same path, so the venv's interpreter symlinks stay valid.
COPY --from=build --chown=1000:1000 /app/.venv /app/.venv
COPY --from=build --chown=1000:1000 /app/app /app/app

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 1000
EXPOSE 5000
CMD ["/app/.venv/bin/python", "-m", "app"]
