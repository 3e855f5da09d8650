#!/usr/bin/env bash
# The independent Python verifier of export bundles (bangfu_verify.py), in a venv under the target
# dir so nothing global is needed: the venv is made once and re-made when requirements.txt changes.
# Usage: tests/pyverify/run.sh BUNDLE_DIR [--since OLD_CHECKPOINT_FILE] [--quorum N] [--json]
#        tests/pyverify/run.sh --self-test     (test_vectors.py: the §13 vectors and tiny bundles)
# Exit status is the verifier's: 0 verified, 1 a check failed, 2 usage error.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${CARGO_TARGET_DIR:-$repo/target}/pyverify-venv"
stamp="$venv/requirements.installed"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$here/requirements.txt" "$stamp"; then
  if ! python3 -m venv "$venv"; then
    echo "无法创建 Python 虚拟环境 / python3 -m venv failed: on Debian install python3-venv" >&2
    exit 2
  fi
  # Wheels only: PyNaCl must come as a manylinux wheel with libsodium inside, never compiled here.
  "$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
    -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$stamp"
fi
if [ "${1:-}" = "--self-test" ]; then
  shift
  exec "$venv/bin/python" "$here/test_vectors.py" "$@"
fi
exec "$venv/bin/python" "$here/bangfu_verify.py" "$@"
