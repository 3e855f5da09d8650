#!/usr/bin/env bash
# CI step for issue 7: a bundle exported by bangfu is verified by the independent Python verifier.
# Runs the verifier's self-test (the §13 vectors and tiny bundles), then makes the demo ledger,
# exports it and verifies the bundle (also --since an older checkpoint of the demo); has a real
# `bangfu witness` cosign a checkpoint and verifies that export; then verifies tampered copies of
# it, which must fail with exit 1 at the right place (tamper.py prints the expected first line).
# Usage: tests/pyverify/ci.sh [path of a built bangfu binary, default <target>/debug/bangfu]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
bangfu="${1:-$target/debug/bangfu}"
venv="$target/pyverify-venv"
work="$(mktemp -d)"
witness_pid=""
cleanup() {
  if [ -n "$witness_pid" ]; then kill "$witness_pid" 2>/dev/null || true; wait "$witness_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "-- pyverify: self-test against docs/ledger-format.md §13 (tests/pyverify/test_vectors.py)"
"$here/run.sh" --self-test

if [ ! -x "$bangfu" ]; then
  echo "pyverify: no bangfu binary at $bangfu: build it (cargo build -p bangfu-api) or pass its path" >&2
  exit 1
fi
echo "-- pyverify: bangfu demo --data $work/data --quiet --json"
"$bangfu" demo --data "$work/data" --quiet --json >"$work/demo.json"
# The demo's own account of its log: the vkey to expect in the bundle, and the older checkpoint
# its spot check was drawn from (a real earlier checkpoint to verify --since against).
read -r demo_entries spot_size demo_vkey < <("$venv/bin/python" -c '
import json, sys
s = json.load(open(sys.argv[1], encoding="utf-8"))
print(s["entries"], s["spot_check"]["checkpoint_size"], s["log_vkey"])' "$work/demo.json")
echo "   $demo_entries entries, log vkey $demo_vkey, spot check drawn at size $spot_size"
echo "-- pyverify: bangfu export --out $work/bundle"
"$bangfu" export --data "$work/data" --out "$work/bundle"
ls -l "$work/bundle"
size="$(wc -l <"$work/bundle/entries.jsonl")"
echo "-- pyverify: bangfu prove --consistency $spot_size $size --old-out old.checkpoint"
"$bangfu" prove --data "$work/data" --consistency "$spot_size" "$size" \
  --old-out "$work/old.checkpoint" --out "$work/consistency.proof" >/dev/null

passed=0
failed=0
skipped=0
ok() { echo "   $1"; passed=$((passed + 1)); }
bad() { echo "FAILED: $1" >&2; failed=$((failed + 1)); }
# matches REGEX TEXT: Python's re, the dialect tamper.py writes its patterns in.
matches() { "$venv/bin/python" -c 'import re, sys; sys.exit(not re.search(*sys.argv[1:]))' "$1" "$2"; }

# expect EXIT REGEX BUNDLE [verifier args...]: the verifier exits EXIT, its first line matches.
expect() {
  local want="$1" pattern="$2" rc=0 out first
  shift 2
  out="$("$here/run.sh" "$@" 2>"$work/stderr")" || rc=$?
  first="$(printf '%s\n' "$out" | head -n 1)"
  if [ "$rc" = "$want" ] && matches "$pattern" "$first"; then
    ok "$first"
  else
    bad "$* exited $rc (expected $want and /$pattern/); output:"
    printf '%s\n' "$out" >&2
    cat "$work/stderr" >&2
  fi
}

echo "-- pyverify: the bundle's log.vkey is the one the demo reported"
if [ "$(cat "$work/bundle/log.vkey")" = "$demo_vkey" ]; then ok "log.vkey $demo_vkey"; else
  bad "log.vkey is $(cat "$work/bundle/log.vkey"), the demo said $demo_vkey"
fi
echo "-- pyverify: the untouched bundle verifies"
expect 0 "^ok: $demo_entries entries, root \\S+, checkpoint verified" "$work/bundle"
echo "-- pyverify: it extends the demo's checkpoint of size $spot_size (--since)"
expect 0 "^ok: .*, consistent with the checkpoint of size $spot_size$" \
  "$work/bundle" --since "$work/old.checkpoint"
echo "-- pyverify: ... and not that checkpoint with its root altered"
"$venv/bin/python" - "$work/old.checkpoint" "$work/forged.checkpoint" <<'EOF'
import base64, sys
lines = open(sys.argv[1], encoding="utf-8", newline="").read().split("\n")
root = bytearray(base64.b64decode(lines[2]))
root[-1] ^= 1
lines[2] = base64.b64encode(bytes(root)).decode()
open(sys.argv[2], "w", encoding="utf-8", newline="").write("\n".join(lines))
EOF
expect 1 "^since: .*signature does not verify" "$work/bundle" --since "$work/forged.checkpoint"

echo "-- pyverify: a real witness cosigns (bangfu witness serve, bangfu checkpoint --witness)"
"$bangfu" witness init --key "$work/witness.key" --name witness.example/pyverify-ci >/dev/null
witness_vkey="$("$bangfu" witness vkey --key "$work/witness.key")"
"$bangfu" witness serve --key "$work/witness.key" --state "$work/witness.state" --log "$demo_vkey" \
  --listen 127.0.0.1:0 --log-format json 2>"$work/witness.log" &
witness_pid=$!
address=""
for _ in $(seq 1 100); do
  address="$(grep -o '"address":"[^"]*"' "$work/witness.log" | head -n 1 | cut -d'"' -f4 || true)"
  [ -n "$address" ] && break
  sleep 0.1
done
[ -n "$address" ] || { cat "$work/witness.log" >&2; echo "bangfu witness serve did not start" >&2; exit 1; }
"$bangfu" checkpoint --data "$work/data" --witness "http://$address=$witness_vkey" >/dev/null
# A second listed witness that never cosigns: a warning, and short of a quorum of two.
lagging_vkey="$("$venv/bin/python" -c '
import base64, hashlib, nacl.signing
name = "witness.example/lagging"
pub = nacl.signing.SigningKey(bytes(range(32))).verify_key.encode()
kid = hashlib.sha256(name.encode() + b"\n\x04" + pub).digest()[:4]
key = base64.b64encode(b"\x04" + pub).decode()
print(f"{name}+{kid.hex()}+{key}")')"
"$bangfu" export --data "$work/data" --out "$work/cosigned" --no-sign \
  --witness "$witness_vkey" --witness "$lagging_vkey" >/dev/null
expect 0 "^ok: $demo_entries entries, .*, 1 cosignatures" "$work/cosigned" --quorum 1
if grep -q "witness witness.example/lagging (key [0-9a-f]*) has not cosigned" "$work/stderr"; then
  ok "$(cat "$work/stderr")"
else
  bad "no warning about the witness that did not cosign: $(cat "$work/stderr")"
fi
expect 1 "^quorum: .*1 valid cosignature\\(s\\) from witnesses.vkeys, --quorum asks for 2" \
  "$work/cosigned" --quorum 2

# Tampered copies of the cosigned bundle.
cases=(statement-byte statement-field recorded-at delete-line swap-lines truncate-tail
       checkpoint-root cosignature vault-value vault-orphan)
for case in "${cases[@]}"; do
  rc=0
  pattern="$("$venv/bin/python" "$here/tamper.py" "$work/cosigned" "$work/t-$case" "$case")" || rc=$?
  if [ "$rc" = 3 ]; then
    echo "-- pyverify: $case: SKIPPED, $pattern"
    skipped=$((skipped + 1))
    continue
  elif [ "$rc" != 0 ]; then
    bad "tamper.py $case exited $rc"
    continue
  fi
  echo "-- pyverify: tampered ($case): expecting exit 1 and /$pattern/"
  expect 1 "$pattern" "$work/t-$case"
  rm -rf "$work/t-$case"
done

echo "pyverify ci: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
