#!/usr/bin/env python3
"""Copy a bundle and tamper with the copy, for ci.sh.

Usage: tamper.py SRC_BUNDLE DST_BUNDLE CASE
Prints the regular expression the verifier's first output line must match, and exits 0; exits 3
when the bundle has nothing to tamper with for CASE (e.g. no vault rows), 2 on bad usage.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import sys
from typing import Callable, Dict, List

import rfc8785

SKIP = 3


class Skip(Exception):
    pass


def read_lines(path: str) -> List[bytes]:
    with open(path, "rb") as f:
        return f.read().splitlines(keepends=True)


def write_lines(path: str, lines: List[bytes]) -> None:
    with open(path, "wb") as f:
        f.writelines(lines)


def middle(lines: List[bytes]) -> int:
    if len(lines) < 4:
        raise Skip("fewer than 4 entries")
    return len(lines) // 2


def body_signed_at(line: bytes) -> int:
    """Where the statement body's signed_at member starts. Members are sorted and the statement
    is the entry's last: after the body's signed_at come only target, type and sig, and a string
    cannot hold the unescaped bytes `"signed_at":"`, so the last occurrence is the body's."""
    return line.rindex(b'"signed_at":"')


def statement_byte(dst: str) -> str:
    """One signed byte: the last millisecond digit of the statement's signed_at."""
    path = os.path.join(dst, "entries.jsonl")
    lines = read_lines(path)
    k = middle(lines)
    line = bytearray(lines[k])
    digit = body_signed_at(lines[k]) + len('"signed_at":"2016-01-04T01:00:00.00')
    line[digit] = ord(str((int(chr(line[digit])) + 1) % 10))
    lines[k] = bytes(line)
    write_lines(path, lines)
    return rf"^entry {k}: .*bad signature"


def statement_field(dst: str) -> str:
    """One byte of a field name in the statement body: still JSON, no longer the v1 fields."""
    path = os.path.join(dst, "entries.jsonl")
    lines = read_lines(path)
    k = middle(lines)
    at = body_signed_at(lines[k])
    lines[k] = lines[k][: at + 9] + b"u" + lines[k][at + 10 :]  # "signed_at" -> "signed_au"
    write_lines(path, lines)
    return rf"^entry {k}: .*malformed: the statement body must have exactly the v1 fields"


def recorded_at(dst: str) -> str:
    """A byte outside the signature (the log's own timestamp): the next entry's prev_root breaks."""
    path = os.path.join(dst, "entries.jsonl")
    lines = read_lines(path)
    k = middle(lines)
    line = bytearray(lines[k])
    # The entry's own member, found by the index and prev_root that precede it.
    entry = json.loads(lines[k])
    head = b'"index":%d,"prev_root":"%s","recorded_at":"' % (k, entry["prev_root"].encode())
    digit = line.index(head) + len(head) + len("2016-01-04T01:00:00.00")
    line[digit] = ord(str((int(chr(line[digit])) + 1) % 10))
    lines[k] = bytes(line)
    write_lines(path, lines)
    return rf"^entry {k + 1}: .*wrong prev_root"


def delete_line(dst: str) -> str:
    path = os.path.join(dst, "entries.jsonl")
    lines = read_lines(path)
    k = middle(lines)
    del lines[k]
    write_lines(path, lines)
    return rf"^entry {k}: .*wrong index"


def swap_lines(dst: str) -> str:
    path = os.path.join(dst, "entries.jsonl")
    lines = read_lines(path)
    k = middle(lines)
    lines[k], lines[k + 1] = lines[k + 1], lines[k]
    write_lines(path, lines)
    return rf"^entry {k}: .*wrong index"


def truncate_tail(dst: str) -> str:
    path = os.path.join(dst, "entries.jsonl")
    lines = read_lines(path)
    n = len(lines)
    middle(lines)
    write_lines(path, lines[: n - 3])
    return rf"^checkpoint: .*signed for size {n} but entries.jsonl holds {n - 3} entries"


def checkpoint_root(dst: str) -> str:
    path = os.path.join(dst, "checkpoint")
    with open(path, "r", encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    root = bytearray(base64.b64decode(lines[2]))
    root[0] ^= 1
    lines[2] = base64.b64encode(bytes(root)).decode()
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(lines))
    return r"^checkpoint: .*the log key's signature does not verify"


def cosignature(dst: str) -> str:
    """Flip the last byte of the first cosignature by a listed witness."""
    names = set()
    try:
        with open(os.path.join(dst, "witnesses.vkeys"), encoding="utf-8") as f:
            names = {line.split("+", 1)[0] for line in f.read().splitlines() if line}
    except FileNotFoundError:
        pass
    path = os.path.join(dst, "checkpoint")
    with open(path, "r", encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    for k, line in enumerate(lines):
        parts = line.split(" ")
        if len(parts) == 3 and parts[0] == "\u2014" and parts[1] in names:
            sig = bytearray(base64.b64decode(parts[2]))
            sig[-1] ^= 1
            lines[k] = f"\u2014 {parts[1]} {base64.b64encode(bytes(sig)).decode()}"
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write("\n".join(lines))
            return rf"^cosignature {re.escape(parts[1])}: .*bad cosignature"
    raise Skip("the checkpoint carries no cosignature by a listed witness")


def vault_rows(dst: str) -> List[bytes]:
    path = os.path.join(dst, "vault.jsonl")
    if not os.path.exists(path):
        raise Skip("the bundle has no vault.jsonl")
    rows = read_lines(path)
    if not rows:
        raise Skip("vault.jsonl is empty")
    return rows


def vault_value(dst: str) -> str:
    """Alter the value of the first vault row (still valid JSON, no longer the sealed one)."""
    rows = vault_rows(dst)
    row = json.loads(rows[0])
    row["value"] = {"altered": row["value"]}
    rows[0] = rfc8785.dumps(row) + b"\n"
    write_lines(os.path.join(dst, "vault.jsonl"), rows)
    return r"^vault line 1: .*do not open the commitment"


def vault_orphan(dst: str) -> str:
    """A row that opens its commitment, which no entry holds."""
    rows = vault_rows(dst)
    salt = bytes(range(16))
    value = "not in any entry"
    commitment = hashlib.sha256(salt + rfc8785.dumps(value)).digest()
    row = {
        "commitment": base64.b64encode(commitment).decode(),
        "salt": base64.b64encode(salt).decode(),
        "value": value,
    }
    rows.append(rfc8785.dumps(row) + b"\n")
    write_lines(os.path.join(dst, "vault.jsonl"), rows)
    return rf"^vault line {len(rows)}: .*appears in no entry"


CASES: Dict[str, Callable[[str], str]] = {
    "statement-byte": statement_byte,
    "statement-field": statement_field,
    "recorded-at": recorded_at,
    "delete-line": delete_line,
    "swap-lines": swap_lines,
    "truncate-tail": truncate_tail,
    "checkpoint-root": checkpoint_root,
    "cosignature": cosignature,
    "vault-value": vault_value,
    "vault-orphan": vault_orphan,
}


def main() -> int:
    if len(sys.argv) != 4 or sys.argv[3] not in CASES:
        print(f"usage: tamper.py SRC DST {{{','.join(CASES)}}}", file=sys.stderr)
        return 2
    src, dst, case = sys.argv[1:]
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    try:
        print(CASES[case](dst))
    except Skip as e:
        print(e)
        return SKIP
    return 0


if __name__ == "__main__":
    sys.exit(main())
