#!/usr/bin/env bash
# schemathesis against a live `bangfu serve` on a small embedded ledger made without the service
# (bangfu-test-ledger): once unsigned (public routes work, protected ones must answer 401), once
# with every request signed by the ledger's coordinator (bangfu_hooks.py). Any 5xx or answer that
# does not match the OpenAPI description fails the run. Installs schemathesis into a venv under
# target/, so nothing global is needed. Usage: tests/schemathesis/run.sh [max seconds per run]
set -euo pipefail
cd "$(dirname "$0")/../.."
budget="${1:-60}"
repo="$(pwd)"
venv="$repo/target/schemathesis-venv"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5" "cryptography==50.0.2"
fi
# The same build as the test step, so in CI this is a no-op.
cargo test --workspace --locked --no-run --quiet
work="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  cd "$repo"
  rm -rf "$work"
}
trap cleanup EXIT
"$repo/target/debug/bangfu-test-ledger" "$work/ledger"
"$repo/target/debug/bangfu" serve --data "$work/ledger" --listen 127.0.0.1:0 --log-format json 2>"$work/serve.log" &
server=$!
address=""
for _ in $(seq 1 100); do
  address="$(grep -o '"address":"[^"]*"' "$work/serve.log" | head -n 1 | cut -d'"' -f4 || true)"
  [ -n "$address" ] && break
  sleep 0.1
done
[ -n "$address" ] || { cat "$work/serve.log" >&2; echo "bangfu serve did not start" >&2; exit 1; }
url="http://$address"
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection
common=(--phases examples,coverage,fuzzing --max-time "$budget" --max-examples 25 --workers 1 --seed 1
        --suppress-health-check all --warnings off)

# schemathesis keeps a cache in ./.schemathesis: run it from the scratch directory.
cd "$work"
echo "-- schemathesis: unsigned requests"
"$venv/bin/schemathesis" run "$url/openapi.json" --checks "$checks,ignored_auth" "${common[@]}"

echo "-- schemathesis: requests signed by the coordinator"
BANGFU_ST_KEY="$work/ledger/authority.key.hex" BANGFU_ST_URL="$url" \
  PYTHONPATH="$repo/tests/schemathesis${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=bangfu_hooks \
  "$venv/bin/schemathesis" run "$url/openapi.json" --checks "$checks" "${common[@]}"
if grep -q '"level":"ERROR"' "$work/serve.log"; then
  grep '"level":"ERROR"' "$work/serve.log" >&2
  echo "the service logged errors during the run" >&2
  exit 1
fi
