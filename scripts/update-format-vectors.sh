#!/usr/bin/env bash
# Rewrites the worked-vector block of docs/ledger-format.md §13 from `bangfu vectors`.
# Run only when the format changed on purpose; the diff then shows exactly what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run -q --release -- vectors > target/vectors.txt
python3 - <<'PY'
import re
doc = open("docs/ledger-format.md", encoding="utf-8").read()
vec = open("target/vectors.txt", encoding="utf-8").read()
begin = doc.index("<!-- VECTORS-BEGIN")
fence = doc.index("```text\n", begin) + len("```text\n")
end = doc.index("```\n<!-- VECTORS-END -->", fence)
open("docs/ledger-format.md", "w", encoding="utf-8").write(doc[:fence] + vec + doc[end:])
PY
echo "docs/ledger-format.md §13 updated"
