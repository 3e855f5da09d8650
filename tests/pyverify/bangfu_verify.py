#!/usr/bin/env python3
"""An independent verifier of bangfu export bundles (docs/ledger-format.md, format v1).

Written from the format document alone: it shares no code with the Rust implementation, so a bug
in one is not silently repeated in the other. Standard library + rfc8785 + PyNaCl only.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime
import hashlib
import json
import os
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import nacl.exceptions
import nacl.signing
import rfc8785

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

EMPTY_ROOT = hashlib.sha256(b"").digest()
STATEMENT_PREFIX = b"bangfu/statement/v1\n"
MAX_SAFE_INT = 2**53 - 1
MAX_DEPTH = 64
# Not a format rule: the format sets no maximum entry size. A cap keeps memory bounded on a
# hostile file; it is a flag so a genuine large entry can still be checked.
DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024

ENTRY_FIELDS = frozenset({"index", "prev_root", "recorded_at", "statement", "events"})
STATEMENT_FIELDS = frozenset({"body", "sig"})
BODY_FIELDS = frozenset({"id", "type", "target", "args", "signed_at", "key"})
EVENT_FIELDS = frozenset(
    {"aggregate_type", "aggregate_id", "sequence", "event_type", "event_version", "payload"}
)
VAULT_FIELDS = frozenset({"commitment", "salt", "value"})

# §1 spellings. [0-9] rather than \d: \d also matches non-ASCII digits in Python.
TIMESTAMP_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{3})Z"
)
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
COMMAND_RE = re.compile(r"[a-z][a-z0-9_]*")  # command names and aggregate types
AGGREGATE_ID_RE = re.compile(r"[A-Za-z0-9._:-]+")
EVENT_TYPE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
SIZE_RE = re.compile(r"0|[1-9][0-9]*")
KEY_ID_HEX_RE = re.compile(r"[0-9a-f]{8}")

VKEY_TYPE_ED25519 = 0x01  # C2SP signed-note Ed25519 key (the log key, §6)
VKEY_TYPE_COSIGNATURE = 0x04  # C2SP tlog-cosignature/v1 key (witnesses, §7)
EM_DASH = "\u2014"


# ---------------------------------------------------------------------------------------------
# Failures


@dataclass
class Failure(Exception):
    """A finding that makes the bundle fail verification (exit 1)."""

    where: str  # "entry 5", "checkpoint", "vault line 3", ...
    kind: str  # stable machine-readable code, e.g. "bad_signature"
    label: str  # "中文 / English" headline
    detail: str  # what exactly was wrong
    index: Optional[int] = None

    def line(self) -> str:
        return f"{self.where}: {self.label}: {self.detail}"

    def as_json(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {
            "ok": False,
            "where": self.where,
            "kind": self.kind,
            "reason": f"{self.label}: {self.detail}",
        }
        if self.index is not None:
            out["index"] = self.index
        return out


class UsageError(Exception):
    """Bad invocation or a missing file (exit 2)."""


class Malformed(ValueError):
    """Raised by the parsers; the caller turns it into a Failure with the right location."""


LABELS = {
    "malformed": "格式错误 / malformed",
    "wrong_index": "序号错误 / wrong index",
    "wrong_prev_root": "prev_root 错误 / wrong prev_root",
    "bad_signature": "签名无效 / bad signature",
    "checkpoint": "检查点无效 / checkpoint invalid",
    "cosignature": "见证联署无效 / bad cosignature",
    "quorum": "见证联署不足 / quorum not met",
    "vault": "保管库记录无效 / vault row invalid",
    "since": "与旧检查点不一致 / inconsistent with the older checkpoint",
    "bundle": "导出包文件无效 / bundle file invalid",
}


def fail(where: str, kind: str, detail: str, index: Optional[int] = None) -> Failure:
    return Failure(where=where, kind=kind, label=LABELS[kind], detail=detail, index=index)


# ---------------------------------------------------------------------------------------------
# §1 encodings


def b64decode_strict(value: Any, length: Optional[int] = None, what: str = "value") -> bytes:
    """Standard base64 with padding, one spelling per byte string (§1)."""
    if not isinstance(value, str):
        raise Malformed(f"{what} must be a base64 string")
    if not value.isascii():
        raise Malformed(f"{what} is not base64 (non-ASCII characters)")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise Malformed(f"{what} is not strict standard base64 ({e})") from None
    # Re-encoding catches non-zero trailing bits, the one thing validate=True lets through.
    if base64.b64encode(raw).decode("ascii") != value:
        raise Malformed(f"{what} is not the canonical base64 spelling of its bytes")
    if length is not None and len(raw) != length:
        raise Malformed(f"{what} must decode to {length} bytes, not {len(raw)}")
    return raw


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def check_timestamp(value: Any, what: str) -> None:
    if not isinstance(value, str):
        raise Malformed(f"{what} must be a string")
    m = TIMESTAMP_RE.fullmatch(value)
    if not m:
        raise Malformed(f"{what} {value!r} is not YYYY-MM-DDTHH:MM:SS.mmmZ")
    year, month, day, hour, minute, second = (int(m.group(k)) for k in range(1, 7))
    if year < 1:
        raise Malformed(f"{what} {value!r}: year must be 0001-9999")
    try:
        datetime.date(year, month, day)
    except ValueError:
        raise Malformed(f"{what} {value!r} is not a calendar date") from None
    if hour > 23 or minute > 59 or second > 59:  # no leap second (§1)
        raise Malformed(f"{what} {value!r} is not a valid time of day")


def _reject_float(text: str) -> Any:
    raise Malformed(f"number {text} has a fraction or exponent; only integers are allowed")


def _reject_constant(text: str) -> Any:
    raise Malformed(f"{text} is not JSON")


def _pairs_hook(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    obj: Dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise Malformed(f"object has the key {key!r} twice")
        obj[key] = value
    return obj


def _check_string(s: str) -> None:
    for ch in s:
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise Malformed("string contains an unpaired surrogate escape")
    if not unicodedata.is_normalized("NFC", s):
        raise Malformed(f"string {s[:40]!r} is not in Unicode Normalization Form C")


def check_subset(value: Any) -> None:
    """§1 subset rules that a re-encoding alone does not catch: NFC, surrogates, range, depth."""
    stack: List[Tuple[Any, int]] = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, str):
            _check_string(v)
        elif isinstance(v, bool) or v is None:
            pass
        elif isinstance(v, int):
            if not -MAX_SAFE_INT <= v <= MAX_SAFE_INT:
                raise Malformed(f"integer {v} is outside ±(2^53 − 1)")
        elif isinstance(v, (dict, list)):
            # The outermost object or array is at depth 1.
            if depth + 1 > MAX_DEPTH:
                raise Malformed(f"nesting deeper than {MAX_DEPTH} arrays/objects")
            if isinstance(v, dict):
                for key, item in v.items():
                    _check_string(key)
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in v)
        else:  # pragma: no cover - json.loads produces nothing else
            raise Malformed(f"unexpected JSON value of type {type(v).__name__}")


def parse_subset(raw: bytes) -> Any:
    """Parse UTF-8 JSON under the §1 subset (not necessarily canonical)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Malformed(f"not valid UTF-8 (byte {e.start})") from None
    try:
        value = json.loads(
            text,
            parse_float=_reject_float,
            parse_constant=_reject_constant,
            object_pairs_hook=_pairs_hook,
        )
    except Malformed:
        raise
    except RecursionError:
        raise Malformed(f"nesting deeper than {MAX_DEPTH} arrays/objects") from None
    except ValueError as e:  # JSONDecodeError, and int() beyond Python's digit limit
        raise Malformed(f"not JSON ({e})") from None
    check_subset(value)
    return value


def parse_canonical(raw: bytes) -> Any:
    """Parse, then require the bytes to be exactly the RFC 8785 encoding of the parse."""
    value = parse_subset(raw)
    try:
        canonical = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as e:
        raise Malformed(f"cannot be canonicalized ({e})") from None
    if canonical != raw:
        at = next(
            (k for k, (a, b) in enumerate(zip(canonical, raw)) if a != b),
            min(len(canonical), len(raw)),
        )
        raise Malformed(f"not canonical JCS (RFC 8785): bytes differ from byte {at} on")
    return value


def jcs(value: Any) -> bytes:
    return rfc8785.dumps(value)


# ---------------------------------------------------------------------------------------------
# §3, §4 shapes


def _exact_fields(obj: Any, fields: frozenset, what: str) -> None:
    if not isinstance(obj, dict):
        raise Malformed(f"{what} must be a JSON object")
    keys = set(obj)
    missing = sorted(fields - keys)
    extra = sorted(keys - fields)
    if missing or extra:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        if extra:
            parts.append("unexpected " + ", ".join(extra))
        raise Malformed(f"{what} must have exactly the v1 fields ({'; '.join(parts)})")


def _name(value: Any, pattern: re.Pattern, what: str, max_bytes: int) -> None:
    if not isinstance(value, str) or not pattern.fullmatch(value) or len(value) > max_bytes:
        raise Malformed(f"{what} {value!r} is not a valid name (§1)")


def _int(value: Any, what: str, minimum: int) -> int:
    # bool is an int in Python; JSON true is not a number.
    if type(value) is not int or value < minimum:
        raise Malformed(f"{what} must be an integer ≥ {minimum}")
    return value


def check_entry_shape(entry: Any) -> None:
    _exact_fields(entry, ENTRY_FIELDS, "the entry")
    _int(entry["index"], "index", 0)
    b64decode_strict(entry["prev_root"], 32, "prev_root")
    check_timestamp(entry["recorded_at"], "recorded_at")
    statement = entry["statement"]
    _exact_fields(statement, STATEMENT_FIELDS, "the statement")
    b64decode_strict(statement["sig"], 64, "statement.sig")
    body = statement["body"]
    _exact_fields(body, BODY_FIELDS, "the statement body")
    if not isinstance(body["id"], str) or not UUID_RE.fullmatch(body["id"]):
        raise Malformed(f"body.id {body['id']!r} is not a lowercase canonical UUID")
    _name(body["type"], COMMAND_RE, "body.type", 64)
    target = body["target"]
    if not isinstance(target, str) or target.count("/") != 1:
        raise Malformed(f"body.target {target!r} is not <aggregate_type>/<aggregate_id>")
    agg_type, agg_id = target.split("/")
    _name(agg_type, COMMAND_RE, "body.target's aggregate type", 64)
    _name(agg_id, AGGREGATE_ID_RE, "body.target's aggregate id", 128)
    if not isinstance(body["args"], dict):
        raise Malformed("body.args must be a JSON object")
    check_timestamp(body["signed_at"], "body.signed_at")
    b64decode_strict(body["key"], 32, "body.key")
    events = entry["events"]
    if not isinstance(events, list):
        raise Malformed("events must be an array")
    for k, event in enumerate(events):
        what = f"events[{k}]"
        _exact_fields(event, EVENT_FIELDS, what)
        _name(event["aggregate_type"], COMMAND_RE, f"{what}.aggregate_type", 64)
        _name(event["aggregate_id"], AGGREGATE_ID_RE, f"{what}.aggregate_id", 128)
        _int(event["sequence"], f"{what}.sequence", 1)
        _name(event["event_type"], EVENT_TYPE_RE, f"{what}.event_type", 64)
        version = event["event_version"]
        if not isinstance(version, str) or not 1 <= len(version) <= 16:
            raise Malformed(f"{what}.event_version must be a string of 1-16 characters")
        if not isinstance(event["payload"], dict):
            raise Malformed(f"{what}.payload must be a JSON object")


def sealed_commitments(value: Any):
    """Yield the 32-byte commitments of every sealed value (§9) inside a JSON value."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if len(v) == 1 and "sealed" in v:
                try:
                    yield b64decode_strict(v["sealed"], 32, "sealed")
                    continue
                except Malformed:
                    pass  # not a sealed value, just an object with that key
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


# ---------------------------------------------------------------------------------------------
# §2 signatures, §5 tree


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Strict Ed25519 (§2): libsodium refuses small-order A and R and non-canonical S."""
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
        return True
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError, TypeError):
        return False


def leaf_hash(entry_bytes: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry_bytes).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class CompactRange:
    """The roots of the complete subtrees on the right edge: O(log n) hashes (§11)."""

    def __init__(self) -> None:
        self.size = 0
        self.hashes: List[bytes] = []  # largest subtree first, one per set bit of size

    def append(self, leaf: bytes) -> None:
        h = leaf
        n = self.size
        # Each trailing 1 bit of the old size is a complete subtree the new leaf completes.
        while n & 1:
            h = node_hash(self.hashes.pop(), h)
            n >>= 1
        self.hashes.append(h)
        self.size += 1

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        h = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            h = node_hash(left, h)
        return h


# ---------------------------------------------------------------------------------------------
# §6, §7 notes, checkpoints, vkeys, cosignatures


def key_id(name: str, key_type: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([key_type]) + public_key).digest()[
        :4
    ]


def _check_key_name(name: str, what: str) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise Malformed(f"{what}: key name {name!r} must be non-empty, without spaces or '+'")


@dataclass(frozen=True)
class Vkey:
    name: str
    key_id: bytes
    public_key: bytes
    text: str


def parse_vkey(text: str, key_type: int, what: str) -> Vkey:
    """`<name>+<8 lowercase hex key ID>+<base64(type || public key)>` (§6, §7)."""
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise Malformed(f"{what}: {text!r} is not <name>+<key id>+<base64 key>")
    name, hex_id, key_b64 = parts
    _check_key_name(name, what)
    if not KEY_ID_HEX_RE.fullmatch(hex_id):
        raise Malformed(f"{what}: key id {hex_id!r} must be 8 lowercase hex digits")
    raw = b64decode_strict(key_b64, 33, f"{what}: the key")
    if raw[0] != key_type:
        raise Malformed(
            f"{what}: key type is 0x{raw[0]:02x}, expected 0x{key_type:02x} "
            f"({'Ed25519 log key' if key_type == VKEY_TYPE_ED25519 else 'cosignature/v1 key'})"
        )
    public_key = raw[1:]
    expected = key_id(name, key_type, public_key)
    if expected.hex() != hex_id:
        raise Malformed(f"{what}: key id {hex_id} does not match the key (it is {expected.hex()})")
    return Vkey(name=name, key_id=expected, public_key=public_key, text=text)


@dataclass
class SignedNote:
    text: str  # the note text, ending in "\n"
    signatures: List[Tuple[str, bytes]]  # (key name, base64-decoded signature bytes)


def parse_signed_note(raw: bytes) -> SignedNote:
    """C2SP signed-note: text, an empty line, then `— <name> <base64>` lines."""
    try:
        note = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("not valid UTF-8") from None
    split = note.rfind("\n\n")
    if split < 0:
        raise Malformed("no empty line between the note text and its signatures")
    text, sig_block = note[: split + 1], note[split + 2 :]
    if not sig_block:
        raise Malformed("the note carries no signature")
    if not sig_block.endswith("\n"):
        raise Malformed("the last signature line does not end in a newline")
    signatures = []
    for line in sig_block[:-1].split("\n"):
        prefix = EM_DASH + " "
        if not line.startswith(prefix):
            raise Malformed(f"signature line {line[:40]!r} does not start with '— '")
        rest = line[len(prefix) :]
        name, sep, sig_b64 = rest.rpartition(" ")
        if not sep:
            raise Malformed(f"signature line {line[:40]!r} is not '— <name> <signature>'")
        _check_key_name(name, "signature line")
        sig = b64decode_strict(sig_b64, None, f"signature of {name}")
        if len(sig) < 4:
            raise Malformed(f"signature of {name} is shorter than its 4-byte key id")
        signatures.append((name, sig))
    return SignedNote(text=text, signatures=signatures)


@dataclass
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: List[str]
    note: SignedNote


def parse_checkpoint(raw: bytes) -> Checkpoint:
    note = parse_signed_note(raw)
    lines = note.text[:-1].split("\n")
    if len(lines) < 3:
        raise Malformed("the checkpoint text needs origin, size and root lines")
    origin, size_text, root_text = lines[:3]
    if not origin:
        raise Malformed("the origin line is empty")
    if not SIZE_RE.fullmatch(size_text):
        raise Malformed(f"size {size_text!r} is not a decimal without leading zeros")
    root = b64decode_strict(root_text, 32, "root hash")
    if "" in lines[3:]:
        raise Malformed("the checkpoint text has an empty line")
    return Checkpoint(origin, int(size_text), root, lines[3:], note)


def verify_log_signature(cp: Checkpoint, log_key: Vkey) -> None:
    """The checkpoint must carry a valid signature by the log key (§6)."""
    if cp.origin != log_key.name:
        raise Malformed(f"origin {cp.origin!r} is not the log key's name {log_key.name!r}")
    candidates = [s for n, s in cp.note.signatures if n == log_key.name and s[:4] == log_key.key_id]
    if not candidates:
        raise Malformed(f"no signature line by the log key {log_key.name}+{log_key.key_id.hex()}")
    for sig in candidates:
        if len(sig) != 4 + 64:
            raise Malformed("the log key's signature is not 4 + 64 bytes")
        if not ed25519_verify(log_key.public_key, cp.note.text.encode("utf-8"), sig[4:]):
            raise Malformed("the log key's signature does not verify over the checkpoint text")


def cosignature_message(timestamp: int, note_text: str) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode("ascii") + note_text.encode("utf-8")


def verify_cosignature(sig: bytes, witness: Vkey, note_text: str) -> Optional[str]:
    """None if the tlog-cosignature/v1 signature verifies, else what is wrong (§7)."""
    if len(sig) != 4 + 8 + 64:
        return f"is {len(sig)} bytes, not key id (4) + timestamp (8) + signature (64)"
    timestamp = int.from_bytes(sig[4:12], "big")
    if not ed25519_verify(witness.public_key, cosignature_message(timestamp, note_text), sig[12:]):
        return f"(time {timestamp}) does not verify over the checkpoint"
    return None


# ---------------------------------------------------------------------------------------------
# The bundle


@dataclass
class Report:
    entries: int = 0
    root: bytes = EMPTY_ROOT
    cosignatures: int = 0
    vault_rows: int = 0
    since_size: Optional[int] = None
    warnings: List[str] = field(default_factory=list)

    def summary(self) -> str:
        line = (
            f"ok: {self.entries} entries, root {b64(self.root)}, checkpoint verified, "
            f"{self.cosignatures} cosignatures, {self.vault_rows} vault rows"
        )
        if self.since_size is not None:
            line += f", consistent with the checkpoint of size {self.since_size}"
        return line


def read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def load_vault(path: str) -> Tuple[Dict[bytes, int], Optional[Failure], int]:
    """Open every row's commitment; return {commitment: first line}, the first failure, rows."""
    commitments: Dict[bytes, int] = {}
    rows = 0
    if not os.path.exists(path):
        return commitments, None, 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            where = f"vault line {number}"
            rows += 1
            try:
                if not raw.endswith(b"\n"):
                    raise Malformed("the line does not end in a newline")
                row = parse_subset(raw[:-1])
                _exact_fields(row, VAULT_FIELDS, "the row")
                commitment = b64decode_strict(row["commitment"], 32, "commitment")
                salt = b64decode_strict(row["salt"], 16, "salt")
                opened = hashlib.sha256(salt + jcs(row["value"])).digest()
            except Malformed as e:
                return commitments, fail(where, "vault", str(e)), rows
            except rfc8785.CanonicalizationError as e:
                return (
                    commitments,
                    fail(where, "vault", f"value cannot be canonicalized ({e})"),
                    rows,
                )
            if opened != commitment:
                return (
                    commitments,
                    fail(
                        where,
                        "vault",
                        f"value and salt do not open the commitment {b64(commitment)}",
                    ),
                    rows,
                )
            commitments.setdefault(commitment, number)
    return commitments, None, rows


def stream_entries(
    path: str,
    max_line: int,
    vault: Dict[bytes, int],
    since_size: Optional[int],
) -> Tuple[CompactRange, set, Optional[bytes]]:
    """Check every entry in §11 order; return the tree, the vault hits and the root at since_size."""
    tree = CompactRange()
    seen: set = set()
    root_at_since = EMPTY_ROOT if since_size == 0 else None
    with open(path, "rb") as f:
        while True:
            raw = f.readline(max_line + 1)
            if not raw:
                break
            i = tree.size
            where = f"entry {i}"
            if len(raw) > max_line:
                raise fail(
                    where,
                    "malformed",
                    f"the line is longer than this verifier's limit of {max_line} bytes "
                    "(not a format rule; raise it with --max-line-bytes)",
                    i,
                )
            try:
                if not raw.endswith(b"\n"):
                    raise Malformed("the line does not end in a newline (§10)")
                entry_bytes = raw[:-1]
                entry = parse_canonical(entry_bytes)  # step 1
                check_entry_shape(entry)
            except Malformed as e:
                raise fail(where, "malformed", str(e), i) from None
            if entry["index"] != i:  # step 2
                raise fail(
                    where,
                    "wrong_index",
                    f"line {i + 1} holds index {entry['index']}: an entry is missing, repeated or moved",
                    i,
                )
            expected_prev = tree.root()
            if entry["prev_root"] != b64(expected_prev):  # step 3
                raise fail(
                    where,
                    "wrong_prev_root",
                    f"prev_root is {entry['prev_root']} but entries 0..{i - 1} hash to "
                    f"{b64(expected_prev)}: an earlier entry was changed",
                    i,
                )
            statement = entry["statement"]
            message = STATEMENT_PREFIX + jcs(statement["body"])
            key = base64.b64decode(statement["body"]["key"])
            sig = base64.b64decode(statement["sig"])
            if not ed25519_verify(key, message, sig):  # step 4
                raise fail(
                    where,
                    "bad_signature",
                    f"the statement's Ed25519 signature does not verify under its key "
                    f"{statement['body']['key']} (strict, §2)",
                    i,
                )
            # Step 5 (keys, roles, domain replay) is deliberately out of scope: see --help.
            if vault:
                sources = [statement["body"]["args"]] + [e["payload"] for e in entry["events"]]
                for source in sources:
                    for commitment in sealed_commitments(source):
                        if commitment in vault:
                            seen.add(commitment)
            tree.append(leaf_hash(entry_bytes))
            if since_size is not None and tree.size == since_size:
                root_at_since = tree.root()
    return tree, seen, root_at_since


def verify_bundle(
    report: Report, bundle: str, since: Optional[str], quorum: int, max_line: int
) -> None:
    """Fill `report`, or raise the first Failure (or a UsageError); warnings land in `report`."""
    entries_path = os.path.join(bundle, "entries.jsonl")
    checkpoint_path = os.path.join(bundle, "checkpoint")
    log_vkey_path = os.path.join(bundle, "log.vkey")
    witnesses_path = os.path.join(bundle, "witnesses.vkeys")
    vault_path = os.path.join(bundle, "vault.jsonl")
    if not os.path.isdir(bundle):
        raise UsageError(
            f"找不到导出包目录 / no bundle directory at {bundle}: pass the folder written by `bangfu export --out`"
        )
    for path in (entries_path, checkpoint_path, log_vkey_path):
        if not os.path.isfile(path):
            raise UsageError(
                f"导出包缺少文件 / the bundle lacks {os.path.basename(path)} ({path}): "
                "a bundle holds entries.jsonl, checkpoint and log.vkey (format §10); export it again"
            )
    if since is not None and not os.path.isfile(since):
        raise UsageError(
            f"找不到旧检查点文件 / no checkpoint file at {since}: pass a checkpoint saved earlier to --since"
        )

    # The older checkpoint's size is needed while streaming; its other checks come last (§11).
    since_cp: Optional[Checkpoint] = None
    since_error: Optional[str] = None
    if since is not None:
        try:
            since_cp = parse_checkpoint(read_file(since))
        except Malformed as e:
            since_error = f"the older checkpoint {since} is malformed: {e}"

    vault, vault_failure, report.vault_rows = load_vault(vault_path)

    tree, seen, root_at_since = stream_entries(
        entries_path, max_line, vault, since_cp.size if since_cp else None
    )
    report.entries = tree.size
    report.root = tree.root()

    log_key = load_log_vkey(log_vkey_path)
    cp = check_checkpoint(report, checkpoint_path, log_key, tree.size)
    check_cosignatures(report, witnesses_path, cp, log_key, quorum)
    # The vault (§9, §10): every row opens (checked on loading) and its commitment is in an entry.
    if vault_failure:
        raise vault_failure
    for commitment, number in sorted(vault.items(), key=lambda kv: kv[1]):
        if commitment not in seen:
            raise fail(
                f"vault line {number}",
                "vault",
                f"the commitment {b64(commitment)} appears in no entry's args or payload",
            )
    if since is not None:
        check_since(report, since_cp, since_error, log_key, tree.size, root_at_since)


def load_log_vkey(path: str) -> Vkey:
    try:
        text = read_file(path).decode("utf-8")
        if not text.endswith("\n") or "\n" in text[:-1]:
            raise Malformed("must be exactly one line ending in a newline")
        return parse_vkey(text[:-1], VKEY_TYPE_ED25519, "the log vkey")
    except (Malformed, UnicodeDecodeError) as e:
        raise fail("log.vkey", "bundle", str(e)) from None


def check_checkpoint(report: Report, path: str, log_key: Vkey, size: int) -> Checkpoint:
    """§6. The signature is checked first, so an altered checkpoint reports as such."""
    try:
        cp = parse_checkpoint(read_file(path))
        verify_log_signature(cp, log_key)
    except Malformed as e:
        raise fail("checkpoint", "checkpoint", str(e)) from None
    if cp.extensions:
        report.warnings.append(
            f"checkpoint: {len(cp.extensions)} extension line(s), "
            "which format v1 does not write; ignored"
        )
    if cp.size != size:
        raise fail(
            "checkpoint",
            "checkpoint",
            f"signed for size {cp.size} but entries.jsonl holds {size} entries "
            "(entries were removed or added after signing)",
        )
    if cp.root != report.root:
        raise fail(
            "checkpoint",
            "checkpoint",
            f"signed root {b64(cp.root)} is not the root of the entries, {b64(report.root)}",
        )
    return cp


def load_witnesses(path: str) -> List[Vkey]:
    if not os.path.exists(path):
        return []
    try:
        text = read_file(path).decode("utf-8")
    except UnicodeDecodeError:
        raise fail("witnesses.vkeys", "bundle", "not valid UTF-8") from None
    if text and not text.endswith("\n"):
        raise fail("witnesses.vkeys", "bundle", "the last line does not end in a newline")
    witnesses = []
    for number, line in enumerate(text.split("\n")[:-1], start=1):
        try:
            witnesses.append(parse_vkey(line, VKEY_TYPE_COSIGNATURE, "witness vkey"))
        except Malformed as e:
            raise fail(f"witnesses.vkeys line {number}", "bundle", str(e)) from None
    return witnesses


def check_cosignatures(
    report: Report, path: str, cp: Checkpoint, log_key: Vkey, quorum: int
) -> None:
    """§7: a bad cosignature fails, a missing one warns (witnesses may lag), --quorum counts."""
    accounted = {(log_key.name, log_key.key_id)}
    for witness in load_witnesses(path):
        accounted.add((witness.name, witness.key_id))
        lines = [s for n, s in cp.note.signatures if n == witness.name and s[:4] == witness.key_id]
        if not lines:
            report.warnings.append(
                f"witness {witness.name} (key {witness.key_id.hex()}) "
                "has not cosigned this checkpoint"
            )
            continue
        for sig in lines:
            problem = verify_cosignature(sig, witness, cp.note.text)
            if problem:
                raise fail(
                    f"cosignature {witness.name}", "cosignature", f"the cosignature {problem}"
                )
        report.cosignatures += 1
    # Per C2SP signed-note, lines by keys the verifier does not know are ignored.
    for name, sig in cp.note.signatures:
        if (name, sig[:4]) not in accounted:
            report.warnings.append(
                f"checkpoint: signature line by {name} (key {sig[:4].hex()}) "
                "matches no listed key; ignored"
            )
    if report.cosignatures < quorum:
        raise fail(
            "quorum",
            "quorum",
            f"{report.cosignatures} valid cosignature(s) from witnesses.vkeys, "
            f"--quorum asks for {quorum}",
        )


def check_since(
    report: Report,
    since_cp: Optional[Checkpoint],
    since_error: Optional[str],
    log_key: Vkey,
    size: int,
    root_at_since: Optional[bytes],
) -> None:
    """An older checkpoint: signed by the same log key, and a prefix of this log."""
    if since_error or since_cp is None:
        raise fail("since", "since", since_error or "the older checkpoint could not be read")
    try:
        verify_log_signature(since_cp, log_key)
    except Malformed as e:
        raise fail("since", "since", f"the older checkpoint: {e}") from None
    if since_cp.size > size:
        raise fail(
            "since",
            "since",
            f"the older checkpoint is of size {since_cp.size}, larger than the bundle's {size} "
            "entries: the log was truncated or forked",
        )
    if root_at_since != since_cp.root:
        raise fail(
            "since",
            "since",
            f"the older checkpoint's root {b64(since_cp.root)} is not the root of the bundle's "
            f"first {since_cp.size} entries ({b64(root_at_since or EMPTY_ROOT)}): "
            "the log was rewritten",
        )
    report.since_size = since_cp.size


DESCRIPTION = """\
Verify a bangfu export bundle (docs/ledger-format.md §10) offline, independently of bangfu's code.

Checks, in the order of §11, stopping at the first failure: each entry of entries.jsonl is
canonical RFC 8785 JSON of the §1 subset with exactly the v1 fields, its index, its prev_root and
its statement's strict Ed25519 signature; then the checkpoint's signature by log.vkey and its size
and root; the cosignatures of the witnesses in witnesses.vkeys; vault.jsonl (each row opens its
commitment, and the commitment appears in an entry); and, with --since, that an older checkpoint
by the same log key is a prefix of this log.

NOT checked (out of scope for this small verifier): step 5 of §11, the domain rules: whether each
statement's key was registered, not revoked and held a role allowed to issue the command at the
time, and whether each entry's events are what the domain produces. `bangfu verify --bundle`
checks those. Nor does it know who the log or the witnesses are: compare log.vkey and
witnesses.vkeys with keys obtained independently of the bundle.

Exit status: 0 verified, 1 a check failed (the first failure is printed as `entry <i>: <reason>`
or `<file>: <reason>`), 2 usage error.
"""


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bangfu_verify.py",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("bundle", metavar="BUNDLE_DIR", help="folder written by `bangfu export`")
    parser.add_argument(
        "--since", metavar="OLD_CHECKPOINT_FILE", help="an older checkpoint this log must extend"
    )
    parser.add_argument(
        "--quorum", type=int, default=0, metavar="N", help="fail unless N listed witnesses cosigned"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--max-line-bytes",
        type=int,
        default=DEFAULT_MAX_LINE_BYTES,
        metavar="B",
        help=f"longest entry line read (default {DEFAULT_MAX_LINE_BYTES}; not a format rule)",
    )
    args = parser.parse_args(argv)
    if args.quorum < 0 or args.max_line_bytes < 1:
        parser.error(
            "--quorum 不能为负数，--max-line-bytes 须为正数 / --quorum must be ≥ 0, --max-line-bytes ≥ 1"
        )

    # Reasons are bilingual: never let a C locale turn them into an encoding error.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="backslashreplace")
    report = Report()
    try:
        verify_bundle(report, args.bundle, args.since, args.quorum, args.max_line_bytes)
    except UsageError as e:
        if args.json:
            print(json.dumps({"ok": False, "kind": "usage", "reason": str(e)}, ensure_ascii=False))
        print(f"usage error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        if args.json:
            print(json.dumps({"ok": False, "kind": "usage", "reason": str(e)}, ensure_ascii=False))
        print(f"无法读取文件 / cannot read a bundle file: {e}", file=sys.stderr)
        return EXIT_USAGE
    except Failure as f:
        if args.json:
            print(json.dumps({**f.as_json(), "warnings": report.warnings}, ensure_ascii=False))
        else:
            for warning in report.warnings:
                print(f"warning: {warning}", file=sys.stderr)
            print(f.line())
        return EXIT_FAILED

    if args.json:
        out = {
            "ok": True,
            "entries": report.entries,
            "root": b64(report.root),
            "cosignatures": report.cosignatures,
            "vault_rows": report.vault_rows,
            "warnings": report.warnings,
        }
        if report.since_size is not None:
            out["since_size"] = report.since_size
        print(json.dumps(out, ensure_ascii=False))
    else:
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(report.summary())
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
