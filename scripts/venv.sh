#!/usr/bin/env bash
# Create the project's virtualenv and install OneMap in it, editable, with its test and dev extras.
# On a bare Debian the venv module is packaged apart (python3-venv): install it when missing.
set -euo pipefail
PY=${1:-python3}
VENV=${2:-.venv}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "[venv] need root or sudo to run: $*" >&2; exit 1; fi
}

if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  ver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  echo "[venv] installing python${ver}-venv" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "python${ver}-venv" || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "[venv] creating $VENV" >&2
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel
echo "[venv] installing OneMap and its dependencies" >&2
"$VENV/bin/python" -m pip install -q -e '.[test,dev]'
# capparselib (its copy of the OASIS CAP 1.2 schema validates our alerts in the tests) pins an
# lxml that no longer builds on current Python; its code runs on today's lxml, installed above.
"$VENV/bin/python" -m pip install -q --no-deps 'capparselib==0.6.6'
