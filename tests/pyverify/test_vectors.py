#!/usr/bin/env python3
"""Self-test of the independent verifier: its primitives against the worked vectors of
docs/ledger-format.md §13, then tiny bundles built in temp dirs from those vectors to exercise
every failure the verifier reports. Run by `run.sh --self-test` (standard library unittest).

The bundle builder here computes Merkle roots by the recursive RFC 6962 definition, not with the
verifier's compact range, so the two check each other.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from typing import Any, Dict, List, Optional

import nacl.signing
import rfc8785

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bangfu_verify as v  # noqa: E402
import tamper  # noqa: E402

VERIFIER = os.path.join(HERE, "bangfu_verify.py")

# --- §13, copied from the document -------------------------------------------------------------
AUTHORITY_SEED = bytes.fromhex("11" * 32)
AUTHORITY_PUB = "0EqyMnQrtKs6E2i9RhXk5tAiSrcaAWuvhSCjMsl3hzc="
INSPECTOR_SEED = bytes.fromhex("22" * 32)
INSPECTOR_PUB = "oJql9HpnWYAv+VX43C0qFKXJnSO+l/hkEn/5ODRVpPA="
LOG_SEED = bytes.fromhex("33" * 32)
LOG_VKEY = "bangfu.example/gulou+088e0d02+ARfLefsrQSDysexl5BmNbgiyjoE/6wHkpACDm4XhgIDO"
WITNESS_SEED = bytes.fromhex("44" * 32)
WITNESS_VKEY = "witness.example/jiwei+181fc6ba+BNdZeTu8E6KBmoJ8dq22+6ikmu4Af0ny0JktmbglrSxI"
ORIGIN = "bangfu.example/gulou"
WITNESS = "witness.example/jiwei"
ENTRY0_BODY = '{"args":{"holder":"person/org-dept","name":"鼓楼区委组织部 (fictional)","origin":"bangfu.example/gulou","roles":["coordinator"]},"id":"00000000-0000-4000-8000-000000000000","key":"0EqyMnQrtKs6E2i9RhXk5tAiSrcaAWuvhSCjMsl3hzc=","signed_at":"2016-01-04T01:00:00.000Z","target":"authority/gulou","type":"genesis"}'
ENTRY0_MESSAGE_HEX = "62616e6766752f73746174656d656e742f76310a7b2261726773223a7b22686f6c646572223a22706572736f6e2f6f72672d64657074222c226e616d65223a22e9bc93e6a5bce58cbae5a794e7bb84e7bb87e983a8202866696374696f6e616c29222c226f726967696e223a2262616e6766752e6578616d706c652f67756c6f75222c22726f6c6573223a5b22636f6f7264696e61746f72225d7d2c226964223a2230303030303030302d303030302d343030302d383030302d303030303030303030303030222c226b6579223a22304571794d6e5172744b7336453269395268586b3574416953726361415775766853436a4d736c33687a633d222c227369676e65645f6174223a22323031362d30312d30345430313a30303a30302e3030305a222c22746172676574223a22617574686f726974792f67756c6f75222c2274797065223a2267656e65736973227d"
ENTRY0_SIG = (
    "lCyKLpyPz30MN87LPgYuqaPgxKwz85D548Ga+uvJtzWb1TFF1WSFvt/gG43g38nU0R7LdffyHnYKcqBARlLTCA=="
)
ENTRY0 = '{"events":[{"aggregate_id":"gulou","aggregate_type":"authority","event_type":"LogCreated","event_version":"1.0","payload":{"authority_key":"0EqyMnQrtKs6E2i9RhXk5tAiSrcaAWuvhSCjMsl3hzc=","holder":"person/org-dept","name":"鼓楼区委组织部 (fictional)","origin":"bangfu.example/gulou","roles":["coordinator"]},"sequence":1}],"index":0,"prev_root":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","recorded_at":"2016-01-04T01:00:00.120Z","statement":{"body":{"args":{"holder":"person/org-dept","name":"鼓楼区委组织部 (fictional)","origin":"bangfu.example/gulou","roles":["coordinator"]},"id":"00000000-0000-4000-8000-000000000000","key":"0EqyMnQrtKs6E2i9RhXk5tAiSrcaAWuvhSCjMsl3hzc=","signed_at":"2016-01-04T01:00:00.000Z","target":"authority/gulou","type":"genesis"},"sig":"lCyKLpyPz30MN87LPgYuqaPgxKwz85D548Ga+uvJtzWb1TFF1WSFvt/gG43g38nU0R7LdffyHnYKcqBARlLTCA=="}}'
ENTRY0_LEAF = "uBwcSmEQqjdQhNiwQxYKT7zA+OcKH1oMA+juonBxLqU="
SEALED_VALUE_JCS = '"春节前走访，送米一袋、油一桶，了解孩子上学困难。"'
SEALED_SALT = bytes.fromhex("55" * 16)
SEALED_COMMITMENT = '{"sealed":"EdlOOhzBXwvf9cbTAaYdCY49LJDH8fIb8AHx0Pm3g9M="}'
VAULT_LINE = '{"commitment":"EdlOOhzBXwvf9cbTAaYdCY49LJDH8fIb8AHx0Pm3g9M=","salt":"VVVVVVVVVVVVVVVVVVVVVQ==","value":"春节前走访，送米一袋、油一桶，了解孩子上学困难。"}'
ENTRY1 = '{"events":[{"aggregate_id":"gulou","aggregate_type":"authority","event_type":"KeyRegistered","event_version":"1.0","payload":{"holder":"person/zhang-san","key":"oJql9HpnWYAv+VX43C0qFKXJnSO+l/hkEn/5ODRVpPA=","roles":["inspector"]},"sequence":2}],"index":1,"prev_root":"uBwcSmEQqjdQhNiwQxYKT7zA+OcKH1oMA+juonBxLqU=","recorded_at":"2016-01-05T02:15:02.345Z","statement":{"body":{"args":{"holder":"person/zhang-san","key":"oJql9HpnWYAv+VX43C0qFKXJnSO+l/hkEn/5ODRVpPA=","roles":["inspector"]},"id":"6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f","key":"0EqyMnQrtKs6E2i9RhXk5tAiSrcaAWuvhSCjMsl3hzc=","signed_at":"2016-01-05T02:15:00.000Z","target":"authority/gulou","type":"register_key"},"sig":"jSenZsMYDF2+jadVQNaebIuc2rCBOmr0SXz+AQXfJiw7cH1dd8i+hzJYgB2aBUO40xdv31fR9atbpJmS/uSAAg=="}}'
ENTRY1_LEAF = "2SZ6z7Z/AE5o0OpTjSe+8f3usCJfYEMFqB5rGD/slHI="
ROOT1 = "uBwcSmEQqjdQhNiwQxYKT7zA+OcKH1oMA+juonBxLqU="
ROOT2 = "hCy8E2oEs+LUxs2qbg057MBrhtYZkKE5Tpv4hlRmQbA="
CHECKPOINT = (
    "bangfu.example/gulou\n2\nhCy8E2oEs+LUxs2qbg057MBrhtYZkKE5Tpv4hlRmQbA=\n\n"
    "— bangfu.example/gulou CI4NArqSpyBhfYu4FhJMi6bfCBZ0CLcgWPVKiP6eN4qTn/+3jJSWNcCAGaTuYVYlKaO0MwgbHVoqRcG5NLH9hGC4YQk=\n"
    "— witness.example/jiwei GB/GugAAAABW1NuAqSUPmtWEmAGnktJVnglC7UBoBW5Jly1y6wU+Qad6AhirLyWaJd5+U+CZn+cPktxlHij+i8JrUeSLLBAGtthtAw==\n"
)
TLOG_PROOF_INDEX = 1
TLOG_PROOF_PATH = ["uBwcSmEQqjdQhNiwQxYKT7zA+OcKH1oMA+juonBxLqU="]
CONSISTENCY_1_2 = "2SZ6z7Z/AE5o0OpTjSe+8f3usCJfYEMFqB5rGD/slHI=\n"


# --- an independent little bundle builder ------------------------------------------------------


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def merkle_root(leaves: List[bytes]) -> bytes:
    """RFC 6962 §2.1, recursively, over leaf hashes."""
    if not leaves:
        return sha(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha(b"\x01" + merkle_root(leaves[:k]) + merkle_root(leaves[k:]))


def leaf(line: bytes) -> bytes:
    return sha(b"\x00" + line)


def pub_b64(seed: bytes) -> str:
    return base64.b64encode(nacl.signing.SigningKey(seed).verify_key.encode()).decode()


def sign(seed: bytes, message: bytes) -> bytes:
    return nacl.signing.SigningKey(seed).sign(message).signature


def statement(seed: bytes, body: Dict[str, Any]) -> Dict[str, Any]:
    sig = sign(seed, b"bangfu/statement/v1\n" + rfc8785.dumps(body))
    return {"body": body, "sig": base64.b64encode(sig).decode()}


def entry_line(index: int, prev: bytes, st: Dict[str, Any], events: List[Any], at: str) -> bytes:
    return rfc8785.dumps(
        {
            "index": index,
            "prev_root": base64.b64encode(prev).decode(),
            "recorded_at": at,
            "statement": st,
            "events": events,
        }
    )


def key_id(name: str, key_type: int, seed: bytes) -> bytes:
    pub = nacl.signing.SigningKey(seed).verify_key.encode()
    return sha(name.encode() + b"\n" + bytes([key_type]) + pub)[:4]


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def log_sig_line(text: str, seed: bytes = LOG_SEED, name: str = ORIGIN) -> str:
    sig = key_id(name, 0x01, seed) + sign(seed, text.encode())
    return f"— {name} {base64.b64encode(sig).decode()}\n"


def cosig_line(text: str, timestamp: int, seed: bytes = WITNESS_SEED, name: str = WITNESS) -> str:
    message = f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()
    sig = key_id(name, 0x04, seed) + timestamp.to_bytes(8, "big") + sign(seed, message)
    return f"— {name} {base64.b64encode(sig).decode()}\n"


SEALED = json.loads(SEALED_COMMITMENT)


def entry2_statement(**overrides: Any) -> Dict[str, Any]:
    body = {
        "args": {"date": "2016-02-01", "diary": SEALED, "household": "hh-0001"},
        "id": "3b8f0e52-4a1d-4c7e-9f2b-1d2e3f4a5b6c",
        "key": INSPECTOR_PUB,
        "signed_at": "2016-02-01T08:30:00.000Z",
        "target": "household/hh-0001",
        "type": "record_visit",
    }
    body.update(overrides)
    return statement(INSPECTOR_SEED, body)


ENTRY2_EVENTS = [
    {
        "aggregate_id": "hh-0001",
        "aggregate_type": "household",
        "event_type": "VisitRecorded",
        "event_version": "1.0",
        "payload": {"date": "2016-02-01", "diary": SEALED},
        "sequence": 1,
    }
]


def base_lines() -> List[bytes]:
    """The two vector entries and a third carrying the vector's sealed value."""
    lines = [ENTRY0.encode(), ENTRY1.encode()]
    prev = merkle_root([leaf(x) for x in lines])
    lines.append(entry_line(2, prev, entry2_statement(), ENTRY2_EVENTS, "2016-02-01T08:30:01.000Z"))
    return lines


def signed_checkpoint(
    lines: List[bytes], *, size: Optional[int] = None, cosign: bool = True, origin: str = ORIGIN
) -> str:
    size = len(lines) if size is None else size
    text = checkpoint_text(origin, size, merkle_root([leaf(x) for x in lines[:size]]))
    note = text + "\n" + log_sig_line(text, name=origin)
    if cosign:
        note += cosig_line(text, 1_700_000_000)
    return note


class Bundle:
    """A bundle folder in a temp dir; each part can be replaced before running the verifier."""

    def __init__(self, root: str, lines: Optional[List[bytes]] = None) -> None:
        self.dir = root
        self.lines = base_lines() if lines is None else lines
        self.checkpoint: Optional[str] = None  # None: signed over self.lines when written
        self.log_vkey = LOG_VKEY + "\n"
        self.witnesses: Optional[str] = WITNESS_VKEY + "\n"
        self.vault: Optional[str] = VAULT_LINE + "\n"
        self.raw_entries: Optional[bytes] = None

    def write(self) -> str:
        os.makedirs(self.dir, exist_ok=True)
        entries = self.raw_entries
        if entries is None:
            entries = b"".join(x + b"\n" for x in self.lines)
        with open(os.path.join(self.dir, "entries.jsonl"), "wb") as f:
            f.write(entries)
        cp = self.checkpoint if self.checkpoint is not None else signed_checkpoint(self.lines)
        parts = {"checkpoint": cp, "log.vkey": self.log_vkey}
        parts["witnesses.vkeys"] = self.witnesses
        parts["vault.jsonl"] = self.vault
        for name, text in parts.items():
            path = os.path.join(self.dir, name)
            if text is None:
                if os.path.exists(path):
                    os.remove(path)
            else:
                with open(path, "wb") as f:
                    f.write(text.encode("utf-8"))
        return self.dir


def run_verifier(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, VERIFIER, *args], capture_output=True, text=True, encoding="utf-8"
    )


# --- RFC 9162 proof checks, written here to check the vectors' proofs ---------------------------


def verify_inclusion(index: int, size: int, leaf_h: bytes, path: List[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_h
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = sha(b"\x01" + p + r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = sha(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(m: int, n: int, old: bytes, new: bytes, proof: List[bytes]) -> bool:
    """RFC 9162 §2.1.4.2, plus §5's empty proofs for m = 0 and m = n."""
    if m == 0 or m == n:
        return not proof and (old == sha(b"") if m == 0 else old == new)
    if m > n or not proof:
        return False
    if m & (m - 1) == 0:  # m is a power of two: the old root is the first node
        proof = [old] + proof
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = sha(b"\x01" + c + fr)
            sr = sha(b"\x01" + c + sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = sha(b"\x01" + sr + c)
        fn >>= 1
        sn >>= 1
    return fr == old and sr == new and sn == 0


def d(text: str) -> bytes:
    return base64.b64decode(text)


# --- the vectors -------------------------------------------------------------------------------


class Vectors(unittest.TestCase):
    def test_keys_and_vkeys(self) -> None:
        self.assertEqual(pub_b64(AUTHORITY_SEED), AUTHORITY_PUB)
        self.assertEqual(pub_b64(INSPECTOR_SEED), INSPECTOR_PUB)
        log = v.parse_vkey(LOG_VKEY, v.VKEY_TYPE_ED25519, "log")
        self.assertEqual(log.name, ORIGIN)
        self.assertEqual(log.public_key, nacl.signing.SigningKey(LOG_SEED).verify_key.encode())
        self.assertEqual(log.key_id, key_id(ORIGIN, 0x01, LOG_SEED))
        wit = v.parse_vkey(WITNESS_VKEY, v.VKEY_TYPE_COSIGNATURE, "witness")
        self.assertEqual(wit.key_id.hex(), "181fc6ba")
        self.assertEqual(wit.public_key, nacl.signing.SigningKey(WITNESS_SEED).verify_key.encode())
        # The two key types are not interchangeable, and the key id is checked.
        with self.assertRaisesRegex(v.Malformed, "key type"):
            v.parse_vkey(WITNESS_VKEY, v.VKEY_TYPE_ED25519, "log")
        with self.assertRaisesRegex(v.Malformed, "does not match"):
            v.parse_vkey(LOG_VKEY.replace("+088e0d02+", "+088e0d03+"), 0x01, "log")
        with self.assertRaisesRegex(v.Malformed, "lowercase hex"):
            v.parse_vkey(LOG_VKEY.replace("+088e0d02+", "+088E0D02+"), 0x01, "log")

    def test_entry0_statement_and_signature(self) -> None:
        entry = v.parse_canonical(ENTRY0.encode())
        body = entry["statement"]["body"]
        self.assertEqual(v.jcs(body), ENTRY0_BODY.encode())
        message = v.STATEMENT_PREFIX + v.jcs(body)
        self.assertEqual(message.hex(), ENTRY0_MESSAGE_HEX)
        self.assertEqual(base64.b64encode(sign(AUTHORITY_SEED, message)).decode(), ENTRY0_SIG)
        self.assertTrue(v.ed25519_verify(d(AUTHORITY_PUB), message, d(ENTRY0_SIG)))
        self.assertFalse(v.ed25519_verify(d(INSPECTOR_PUB), message, d(ENTRY0_SIG)))

    def test_entries_leaves_and_roots(self) -> None:
        for line in (ENTRY0, ENTRY1):
            v.check_entry_shape(v.parse_canonical(line.encode()))
        self.assertEqual(v.b64(v.leaf_hash(ENTRY0.encode())), ENTRY0_LEAF)
        self.assertEqual(v.b64(v.leaf_hash(ENTRY1.encode())), ENTRY1_LEAF)
        tree = v.CompactRange()
        self.assertEqual(v.b64(tree.root()), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
        tree.append(v.leaf_hash(ENTRY0.encode()))
        self.assertEqual(v.b64(tree.root()), ROOT1)
        tree.append(v.leaf_hash(ENTRY1.encode()))
        self.assertEqual(v.b64(tree.root()), ROOT2)
        entry1 = json.loads(ENTRY1)
        self.assertEqual(entry1["prev_root"], ROOT1)
        msg = v.STATEMENT_PREFIX + v.jcs(entry1["statement"]["body"])
        self.assertTrue(v.ed25519_verify(d(AUTHORITY_PUB), msg, d(entry1["statement"]["sig"])))

    def test_compact_range_matches_recursive_definition(self) -> None:
        leaves = [sha(bytes([k])) for k in range(70)]
        tree = v.CompactRange()
        for n in range(71):
            self.assertEqual(tree.root(), merkle_root(leaves[:n]), f"size {n}")
            self.assertLessEqual(len(tree.hashes), 7)
            if n < 70:
                tree.append(leaves[n])

    def test_checkpoint_and_cosignature(self) -> None:
        cp = v.parse_checkpoint(CHECKPOINT.encode())
        self.assertEqual((cp.origin, cp.size, v.b64(cp.root)), (ORIGIN, 2, ROOT2))
        log = v.parse_vkey(LOG_VKEY, v.VKEY_TYPE_ED25519, "log")
        v.verify_log_signature(cp, log)
        # Ed25519 is deterministic, so our own signing reproduces the vector's lines exactly.
        text = checkpoint_text(ORIGIN, 2, d(ROOT2))
        self.assertEqual(cp.note.text, text)
        wit = v.parse_vkey(WITNESS_VKEY, v.VKEY_TYPE_COSIGNATURE, "witness")
        (cosig,) = [s for n, s in cp.note.signatures if n == WITNESS]
        self.assertIsNone(v.verify_cosignature(cosig, wit, cp.note.text))
        timestamp = int.from_bytes(cosig[4:12], "big")
        self.assertEqual(CHECKPOINT, text + "\n" + log_sig_line(text) + cosig_line(text, timestamp))
        # A cosignature over another time, or by the log key, does not verify.
        forged = cosig[:4] + (timestamp + 1).to_bytes(8, "big") + cosig[12:]
        self.assertIsNotNone(v.verify_cosignature(forged, wit, cp.note.text))

    def test_sealed_value_and_vault_line(self) -> None:
        value = json.loads(SEALED_VALUE_JCS)
        self.assertEqual(rfc8785.dumps(value), SEALED_VALUE_JCS.encode())
        commitment = sha(SEALED_SALT + rfc8785.dumps(value))
        self.assertEqual(json.loads(SEALED_COMMITMENT), {"sealed": v.b64(commitment)})
        self.assertEqual(list(v.sealed_commitments({"a": [SEALED]})), [commitment])
        # One field more and it is just an object.
        self.assertEqual(list(v.sealed_commitments({**SEALED, "x": 1})), [])
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "vault.jsonl")
            with open(path, "w", encoding="utf-8") as f:
                f.write(VAULT_LINE + "\n")
            vault, failure, rows = v.load_vault(path)
            self.assertIsNone(failure)
            self.assertEqual((vault, rows), ({commitment: 1}, 1))

    def test_inclusion_and_consistency_proofs(self) -> None:
        path = [d(h) for h in TLOG_PROOF_PATH]
        self.assertTrue(verify_inclusion(TLOG_PROOF_INDEX, 2, d(ENTRY1_LEAF), path, d(ROOT2)))
        self.assertFalse(verify_inclusion(0, 2, d(ENTRY1_LEAF), path, d(ROOT2)))
        proof = [d(h) for h in CONSISTENCY_1_2.splitlines()]
        self.assertTrue(verify_consistency(1, 2, d(ROOT1), d(ROOT2), proof))
        self.assertFalse(verify_consistency(1, 2, d(ROOT2), d(ROOT2), proof))
        # The verifier itself does not need proofs (it has every entry): it recomputes the old
        # root, which must agree with what the proof proves. See Bundles.test_since_*.


class Primitives(unittest.TestCase):
    def test_strict_base64(self) -> None:
        self.assertEqual(v.b64decode_strict("VVVVVVVVVVVVVVVVVVVVVQ==", 16), SEALED_SALT)
        for bad in (
            "VVVVVVVVVVVVVVVVVVVVVQ",  # missing padding
            "VVVVVVVVVVVVVVVVVVVVVR==",  # non-zero trailing bits
            "VVVVVVVVVVVV VVVVVVVVVQ==",  # whitespace
            "VVVVVVVVVVVVVVVVVVVVVQ==\n",
            "-_-_",  # URL-safe alphabet
            "ＶＶＶＶ",  # non-ASCII look-alikes
        ):
            with self.assertRaises(v.Malformed, msg=bad):
                v.b64decode_strict(bad)
        with self.assertRaisesRegex(v.Malformed, "32 bytes"):
            v.b64decode_strict("VVVVVVVVVVVVVVVVVVVVVQ==", 32)

    def test_json_subset(self) -> None:
        self.assertEqual(
            v.parse_canonical(b'{"a":[1,-2,"x"],"b":null}'), {"a": [1, -2, "x"], "b": None}
        )
        bad = {
            b'{"a":1.0}': "fraction or exponent",
            b'{"a":1e2}': "fraction or exponent",
            b'{"a":NaN}': "not JSON",
            b'{"a":1,"a":1}': "twice",
            b'{"a":9007199254740992}': "outside",
            b'{"a":-0}': "not canonical",
            b'{"a":"\\ud800"}': "surrogate",
            b'{"a":"e\xcc\x81"}': "Normalization Form C",
            b'{"e\xcc\x81":1}': "Normalization Form C",
            b'{"a":"\xff"}': "UTF-8",
            b'{"b":1,"a":2}': "not canonical",
            b'{"a": 1}': "not canonical",
            b'{"a":"\\u00e9"}': "not canonical",
            b'{"a":"\\/"}': "not canonical",
            b'{"a":"\\u001F"}': "not canonical",
            b"\xef\xbb\xbf{}": "not JSON",
            b"{}x": "not JSON",
            b'{"a":' + b"1" * 5000 + b"}": "not JSON",
            b'{"a":-9007199254740992}': "outside",
        }
        for raw, reason in bad.items():
            with self.assertRaisesRegex(v.Malformed, reason, msg=raw):
                v.parse_canonical(raw)
        self.assertEqual(v.parse_canonical(b'{"a":"\\u001f\\n"}'), {"a": "\x1f\n"})
        self.assertEqual(v.parse_canonical(b'{"a":9007199254740991}'), {"a": 2**53 - 1})

    def test_keys_sort_by_utf16_code_units(self) -> None:
        # U+1F600 is D83D DE00 in UTF-16, so it sorts before U+FFFD, unlike by code point.
        utf16 = '{"😀":1,"\ufffd":2}'.encode()
        codepoint = '{"\ufffd":2,"😀":1}'.encode()
        self.assertEqual(v.parse_canonical(utf16), {"😀": 1, "\ufffd": 2})
        with self.assertRaisesRegex(v.Malformed, "not canonical"):
            v.parse_canonical(codepoint)

    def test_nesting_limit(self) -> None:
        v.parse_canonical(b"[" * 64 + b"]" * 64)
        with self.assertRaisesRegex(v.Malformed, "nesting"):
            v.parse_canonical(b"[" * 65 + b"]" * 65)
        with self.assertRaisesRegex(v.Malformed, "nesting"):
            v.parse_canonical(b"[" * 100000 + b"]" * 100000)

    def test_timestamps(self) -> None:
        v.check_timestamp("2016-02-29T23:59:59.999Z", "t")
        v.check_timestamp("0001-01-01T00:00:00.000Z", "t")
        for bad in (
            "2015-02-29T00:00:00.000Z",
            "2016-01-01T00:00:60.000Z",
            "2016-01-01T24:00:00.000Z",
            "0000-01-01T00:00:00.000Z",
            "2016-01-01T00:00:00.00Z",
            "2016-01-01T00:00:00.000z",
            "2016-01-01t00:00:00.000Z",
            "2016-01-01T00:00:00.000+00:00",
            "2016-01-01T00:00:00Z",
            "２016-01-01T00:00:00.000Z",
        ):
            with self.assertRaises(v.Malformed, msg=bad):
                v.check_timestamp(bad, "t")

    def test_strict_signatures(self) -> None:
        message = b"bangfu/statement/v1\n{}"
        key = nacl.signing.SigningKey(AUTHORITY_SEED)
        pub = key.verify_key.encode()
        sig = key.sign(message).signature
        self.assertTrue(v.ed25519_verify(pub, message, sig))
        # S + ℓ satisfies the equation mod ℓ but is not canonical (§2 rule 2).
        ell = 2**252 + 27742317777372353535851937790883648493
        s = int.from_bytes(sig[32:], "little") + ell
        self.assertFalse(v.ed25519_verify(pub, message, sig[:32] + s.to_bytes(32, "little")))
        # The identity as key and R with S = 0 passes the cofactorless equation for every
        # message: the known forgery that rule 1 (no small-order A or R) exists to refuse.
        identity = b"\x01" + bytes(31)
        self.assertFalse(v.ed25519_verify(identity, message, identity + bytes(32)))
        self.assertFalse(v.ed25519_verify(pub[:31], message, sig))


class Bundles(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="pyverify-")
        self.count = 0

    def tearDown(self) -> None:
        shutil.rmtree(self.tmp)

    def bundle(self, lines: Optional[List[bytes]] = None) -> Bundle:
        self.count += 1
        return Bundle(os.path.join(self.tmp, f"b{self.count}"), lines)

    def expect_ok(self, b: Bundle, *args: str) -> subprocess.CompletedProcess:
        r = run_verifier(b.write(), *args)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def expect_fail(self, b: Bundle, pattern: str, *args: str) -> subprocess.CompletedProcess:
        r = run_verifier(b.write(), *args)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stdout, "^" + pattern)
        self.assertEqual(len(r.stdout.splitlines()), 1, r.stdout)
        return r

    def write_checkpoint(self, name: str, note: str) -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(note)
        return path

    # -- success

    def test_vector_bundle_verifies(self) -> None:
        b = self.bundle([ENTRY0.encode(), ENTRY1.encode()])
        b.checkpoint = CHECKPOINT
        b.vault = None
        r = self.expect_ok(b)
        self.assertEqual(
            r.stdout,
            f"ok: 2 entries, root {ROOT2}, checkpoint verified, 1 cosignatures, 0 vault rows\n",
        )
        self.assertEqual(r.stderr, "")

    def test_bundle_with_vault_verifies(self) -> None:
        r = self.expect_ok(self.bundle())
        self.assertRegex(
            r.stdout,
            r"^ok: 3 entries, root \S+, checkpoint verified, 1 cosignatures, 1 vault rows\n$",
        )
        j = self.expect_ok(self.bundle(), "--json", "--quorum", "1")
        out = json.loads(j.stdout)
        self.assertEqual(
            (out["ok"], out["entries"], out["cosignatures"], out["vault_rows"]), (True, 3, 1, 1)
        )

    def test_empty_log(self) -> None:
        b = self.bundle([])
        b.vault = None
        r = self.expect_ok(b)
        self.assertIn("ok: 0 entries, root 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", r.stdout)

    def test_deepest_allowed_args(self) -> None:
        # The entry is depth 1, statement 2, body 3, args 4: 60 more arrays make 64 in all.
        nested: Any = []
        for _ in range(59):
            nested = [nested]
        lines = [ENTRY0.encode(), ENTRY1.encode()]
        prev = merkle_root([leaf(x) for x in lines])
        args = {"deep": nested}
        ok = entry_line(2, prev, entry2_statement(args=args), [], "2016-02-01T08:30:01.000Z")
        b = self.bundle(lines + [ok])
        b.vault = None
        self.expect_ok(b)
        args = {"deep": [nested]}
        deep = entry_line(2, prev, entry2_statement(args=args), [], "2016-02-01T08:30:01.000Z")
        self.expect_fail(
            self.bundle(lines + [deep]), r"entry 2: .*malformed.*nesting deeper than 64"
        )

    # -- entries, step 1 (malformed)

    def tampered_entry(self, k: int, edit) -> Bundle:
        lines = base_lines()
        lines[k] = edit(lines[k])
        return self.bundle(lines)

    def test_malformed_entries(self) -> None:
        def replace(old: bytes, new: bytes):
            def edit(line: bytes) -> bytes:
                self.assertIn(old, line)
                return line.replace(old, new, 1)

            return edit

        def obj_edit(fn):
            def edit(line: bytes) -> bytes:
                obj = json.loads(line)
                fn(obj)
                return rfc8785.dumps(obj)

            return edit

        cases = [
            (1, replace(b'"index":1', b'"index": 1'), "not canonical"),
            (1, replace(b'"sequence":2', b'"sequence":2.0'), "fraction or exponent"),
            (1, replace(b'"sequence":2', b'"sequence":2e0'), "fraction or exponent"),
            (1, replace(b'"index":1,', b'"index":1,"index":1,'), "twice"),
            (1, replace(b'"index":1', b'"index":true'), "index must be an integer"),
            (1, replace(b'"sequence":2', b'"sequence":0'), r"sequence must be an integer ≥ 1"),
            (1, replace(b'"sequence":2', b'"sequence":9007199254740993'), r"outside ±\(2\^53"),
            (
                1,
                replace(
                    b'"recorded_at":"2016-01-05T02:15:02.345Z"',
                    b'"recorded_at":"2016-01-05T02:15:02.345+00:00"',
                ),
                "recorded_at",
            ),
            (
                1,
                replace(b'"recorded_at":"2016-01-05T', b'"recorded_at":"2016-02-30T'),
                "calendar date",
            ),
            (1, replace(b"6f1c2a4e", b"6F1C2A4E"), "lowercase canonical UUID"),
            (1, replace(b'"type":"register_key"', b'"type":"Register_key"'), "body.type"),
            (
                1,
                replace(b'"target":"authority/gulou"', b'"target":"authority/gu/lou"'),
                "body.target",
            ),
            (
                1,
                replace(b'"event_type":"KeyRegistered"', b'"event_type":"1KeyRegistered"'),
                "event_type",
            ),
            (1, replace(b'"event_version":"1.0"', b'"event_version":""'), "event_version"),
            (
                1,
                replace(
                    b'"prev_root":"uBwcSmEQqjdQhNiwQxYKT7zA+OcKH1oMA+juonBxLqU="',
                    b'"prev_root":"uBwcSmEQqjdQhNiwQxYKT7zA-OcKH1oMA-juonBxLqU="',
                ),
                "prev_root is not strict",
            ),
            (1, obj_edit(lambda o: o.update(extra=1)), "unexpected extra"),
            (1, obj_edit(lambda o: o.pop("recorded_at")), "missing recorded_at"),
            (
                1,
                obj_edit(lambda o: o["statement"]["body"].update(nonce=1)),
                "statement body .*unexpected nonce",
            ),
            (
                1,
                obj_edit(lambda o: o["statement"].update(note="x")),
                "the statement .*unexpected note",
            ),
            (
                1,
                obj_edit(lambda o: o["events"][0].pop("payload")),
                r"events\[0\] .*missing payload",
            ),
            (1, obj_edit(lambda o: o.update(events={})), "events must be an array"),
            (
                1,
                obj_edit(lambda o: o["statement"].update(sig=o["statement"]["sig"][:-4] + "AAA=")),
                "statement.sig must decode to 64",
            ),
            (
                1,
                obj_edit(lambda o: o["statement"]["body"]["args"].update(name="Cafe\u0301")),
                "Normalization Form C",
            ),
            (1, lambda line: line[:-1] + b"\xff}", "UTF-8"),
            (1, lambda line: line + b"\r", "not canonical"),
            (1, lambda line: b"", "not JSON"),
            (0, lambda line: b"[" + line + b"]", "the entry must be a JSON object"),
        ]
        for k, edit, reason in cases:
            with self.subTest(reason=reason):
                self.expect_fail(
                    self.tampered_entry(k, edit), rf"entry {k}: 格式错误 / malformed: .*{reason}"
                )

    def test_last_line_without_newline(self) -> None:
        b = self.bundle()
        b.raw_entries = b"".join(x + b"\n" for x in b.lines)[:-1]
        self.expect_fail(b, r"entry 2: .*malformed: the line does not end in a newline")

    def test_line_longer_than_limit(self) -> None:
        r = run_verifier(self.bundle().write(), "--max-line-bytes", "500")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stdout, r"^entry 0: .*limit of 500 bytes")

    # -- steps 2 to 4

    def test_deleted_and_swapped_lines(self) -> None:
        lines = base_lines()
        self.expect_fail(
            self.bundle([lines[0], lines[2]]),
            r"entry 1: 序号错误 / wrong index: line 2 holds index 2",
        )
        self.expect_fail(self.bundle([lines[0], lines[2], lines[1]]), r"entry 1: .*wrong index")
        self.expect_fail(
            self.bundle([lines[0], lines[0]] + lines[1:]),
            r"entry 1: .*wrong index: line 2 holds index 0",
        )
        self.expect_fail(self.bundle(lines[1:]), r"entry 0: .*wrong index")

    def test_earlier_entry_changed_outside_its_signature(self) -> None:
        # recorded_at is the log's, not the signer's: entry 0 still verifies, entry 1 does not chain.
        lines = base_lines()
        lines[0] = lines[0].replace(b"2016-01-04T01:00:00.120Z", b"2016-01-04T01:00:00.121Z")
        self.expect_fail(
            self.bundle(lines), r"entry 1: prev_root 错误 / wrong prev_root: prev_root is uBwc"
        )

    def test_bad_signatures(self) -> None:
        lines = base_lines()
        lines[2] = lines[2].replace(b"08:30:00.000Z", b"08:30:00.001Z")  # a signed byte
        self.expect_fail(self.bundle(lines), r"entry 2: 签名无效 / bad signature: .*oJql9HpnWY")
        # Signed by the authority while naming the inspector's key.
        lines = base_lines()
        prev = merkle_root([leaf(x) for x in lines[:2]])
        st = entry2_statement()
        st["sig"] = statement(AUTHORITY_SEED, st["body"])["sig"]
        lines[2] = entry_line(2, prev, st, ENTRY2_EVENTS, "2016-02-01T08:30:01.000Z")
        self.expect_fail(self.bundle(lines), r"entry 2: .*bad signature")
        # The small-order forgery: identity key, identity R, S = 0 "signs" anything.
        identity = base64.b64encode(b"\x01" + bytes(31)).decode()
        st = {
            "body": dict(entry2_statement()["body"], key=identity),
            "sig": base64.b64encode(b"\x01" + bytes(63)).decode(),
        }
        lines[2] = entry_line(2, prev, st, ENTRY2_EVENTS, "2016-02-01T08:30:01.000Z")
        self.expect_fail(self.bundle(lines), r"entry 2: .*bad signature")

    def test_first_failure_wins(self) -> None:
        # Entry 1 is malformed and entry 2's signature is bad: entry 1 is reported; a bad vault
        # row is reported only after every entry passed.
        lines = base_lines()
        lines[1] = lines[1].replace(b'"index":1', b'"index": 1')
        lines[2] = lines[2].replace(b"08:30:00.000Z", b"08:30:00.001Z")
        b = self.bundle(lines)
        b.vault = VAULT_LINE.replace("困难", "问题") + "\n"
        self.expect_fail(b, r"entry 1: .*malformed")

    # -- checkpoint

    def test_checkpoint_failures(self) -> None:
        lines = base_lines()
        # The tail truncated: entries verify, the checkpoint is for a longer log.
        b = self.bundle(lines[:2])
        b.checkpoint = signed_checkpoint(lines)
        b.vault = None
        self.expect_fail(
            b,
            r"checkpoint: 检查点无效 / checkpoint invalid: signed for size 3 but entries.jsonl holds 2",
        )
        # Its root changed: the log signature no longer verifies.
        good = signed_checkpoint(lines)
        root_line = good.split("\n")[2]
        b = self.bundle()
        b.checkpoint = good.replace(root_line, base64.b64encode(sha(b"x")).decode())
        self.expect_fail(b, r"checkpoint: .*signature does not verify")
        # Signed by another key under the log's name.
        text = checkpoint_text(ORIGIN, 3, merkle_root([leaf(x) for x in lines]))
        b = self.bundle()
        b.checkpoint = text + "\n" + log_sig_line(text, seed=WITNESS_SEED)
        self.expect_fail(
            b, r"checkpoint: .*no signature line by the log key bangfu.example/gulou\+088e0d02"
        )
        # Another origin.
        b = self.bundle()
        b.checkpoint = signed_checkpoint(lines, origin="bangfu.example/other")
        self.expect_fail(b, r"checkpoint: .*origin 'bangfu.example/other'")
        # A well-signed checkpoint of another tree (a fork).
        fork = checkpoint_text(ORIGIN, 3, sha(b"fork"))
        b = self.bundle()
        b.checkpoint = fork + "\n" + log_sig_line(fork)
        self.expect_fail(b, r"checkpoint: .*signed root \S+ is not the root of the entries")
        for broken, reason in (
            (good.replace("\n\n", "\n"), "no empty line"),
            (good.replace("\n3\n", "\n03\n"), "leading zeros"),
            (good.replace("— ", "-- ", 1), "does not start with"),
            (good[:-1], "does not end in a newline"),
            (text + "\n", "carries no signature"),
            (text + "\n\n" + log_sig_line(text), "empty line"),
        ):
            with self.subTest(reason=reason):
                b = self.bundle()
                b.checkpoint = broken
                self.expect_fail(b, rf"checkpoint: .*{reason}")

    def test_log_vkey_malformed(self) -> None:
        b = self.bundle()
        b.log_vkey = LOG_VKEY  # no newline
        self.expect_fail(
            b, r"log.vkey: 导出包文件无效 / bundle file invalid: must be exactly one line"
        )
        b = self.bundle()
        b.log_vkey = WITNESS_VKEY + "\n"
        self.expect_fail(b, r"log.vkey: .*key type")

    def test_extension_lines_warn(self) -> None:
        lines = base_lines()
        text = checkpoint_text(ORIGIN, 3, merkle_root([leaf(x) for x in lines])) + "ext line\n"
        b = self.bundle()
        b.checkpoint = text + "\n" + log_sig_line(text) + cosig_line(text, 5)
        r = self.expect_ok(b)
        self.assertIn("warning: checkpoint: 1 extension line(s)", r.stderr)

    # -- cosignatures

    def test_cosignatures(self) -> None:
        lines = base_lines()
        text = checkpoint_text(ORIGIN, 3, merkle_root([leaf(x) for x in lines]))
        signed = text + "\n" + log_sig_line(text)
        # Missing: a warning, and a failure once a quorum asks for it.
        b = self.bundle()
        b.checkpoint = signed
        r = self.expect_ok(b)
        self.assertIn("0 cosignatures", r.stdout)
        self.assertIn(
            "warning: witness witness.example/jiwei (key 181fc6ba) has not cosigned", r.stderr
        )
        r = self.expect_fail(
            b, r"quorum: 见证联署不足 / quorum not met: 0 valid cosignature\(s\)", "--quorum", "1"
        )
        self.assertIn("has not cosigned", r.stderr)
        # Present but bad: a failure even without a quorum.
        cosig = cosig_line(text, 1_700_000_000)
        raw = bytearray(base64.b64decode(cosig.split(" ")[-1]))
        raw[-1] ^= 1
        b = self.bundle()
        b.checkpoint = (
            signed + cosig.rsplit(" ", 1)[0] + " " + base64.b64encode(bytes(raw)).decode() + "\n"
        )
        self.expect_fail(
            b,
            r"cosignature witness.example/jiwei: 见证联署无效 / bad cosignature: the cosignature \(time 1700000000\)",
        )
        # Over another checkpoint (the vector's size-2 one).
        b = self.bundle()
        b.checkpoint = signed + cosig_line(checkpoint_text(ORIGIN, 2, d(ROOT2)), 7)
        self.expect_fail(b, r"cosignature witness.example/jiwei: .*does not verify")
        # Truncated: wrong length.
        b = self.bundle()
        b.checkpoint = (
            signed
            + f"— {WITNESS} {base64.b64encode(key_id(WITNESS, 4, WITNESS_SEED) + bytes(64)).decode()}\n"
        )
        self.expect_fail(b, r"cosignature .*not key id \(4\) \+ timestamp \(8\)")
        # Valid and quorum met; an unknown signer is ignored with a warning.
        b = self.bundle()
        b.checkpoint = signed + cosig + cosig_line(text, 9, seed=bytes(32), name="other.example/w")
        r = self.expect_ok(b, "--quorum", "1")
        self.assertIn("1 cosignatures", r.stdout)
        self.assertIn("signature line by other.example/w", r.stderr)
        # No witnesses.vkeys: cosignature lines are unknown keys, nothing to count.
        b = self.bundle()
        b.witnesses = None
        r = self.expect_ok(b)
        self.assertIn("0 cosignatures", r.stdout)
        self.expect_fail(b, r"quorum: ", "--quorum", "1")
        b = self.bundle()
        b.witnesses = "not a vkey\n"
        self.expect_fail(b, r"witnesses.vkeys line 1: ")

    # -- vault

    def test_vault_failures(self) -> None:
        b = self.bundle()
        b.vault = VAULT_LINE.replace("困难", "问题") + "\n"
        self.expect_fail(
            b,
            r"vault line 1: 保管库记录无效 / vault row invalid: value and salt do not open the commitment EdlO",
        )
        b = self.bundle()
        b.vault = VAULT_LINE.replace("VVVVVVVVVVVVVVVVVVVVVQ==", "VVVVVVVVVVVVVVVVVVVVVA==") + "\n"
        self.expect_fail(b, r"vault line 1: .*do not open")
        # A row that opens, but whose commitment no entry holds.
        salt = bytes(16)
        commitment = base64.b64encode(sha(salt + rfc8785.dumps("x"))).decode()
        row = rfc8785.dumps(
            {"commitment": commitment, "salt": base64.b64encode(salt).decode(), "value": "x"}
        ).decode()
        b = self.bundle()
        b.vault = VAULT_LINE + "\n" + row + "\n"
        self.expect_fail(
            b, rf"vault line 2: .*the commitment {re.escape(commitment)} appears in no entry"
        )
        # The vector bundle without entry 2: the vector's own vault line has nowhere to point.
        b = self.bundle([ENTRY0.encode(), ENTRY1.encode()])
        self.expect_fail(b, r"vault line 1: .*appears in no entry")
        for bad, reason in (
            (
                '{"commitment":"EdlO=","salt":"VVVVVVVVVVVVVVVVVVVVVQ==","value":1}',
                "commitment is not the canonical base64",
            ),
            (VAULT_LINE[:-1] + ',"x":1}', "unexpected x"),
            (VAULT_LINE.replace('"value"', '"value":1,"value"'), "twice"),
            (VAULT_LINE.replace("VVVVVVVVVVVVVVVVVVVVVQ==", "VVVV"), "salt must decode to 16"),
        ):
            with self.subTest(reason=reason):
                b = self.bundle()
                b.vault = bad + "\n"
                self.expect_fail(b, rf"vault line 1: .*{reason}")

    # -- an older checkpoint

    def test_since(self) -> None:
        lines = base_lines()
        for m in (0, 1, 2, 3):
            with self.subTest(m=m):
                old = self.write_checkpoint(
                    f"old{m}", signed_checkpoint(lines, size=m, cosign=False)
                )
                r = self.expect_ok(self.bundle(), "--since", old)
                self.assertIn(f"consistent with the checkpoint of size {m}", r.stdout)
        # The vector checkpoint of size 2 is an ancestor of the three-entry bundle.
        old = self.write_checkpoint("vector", CHECKPOINT)
        self.expect_ok(self.bundle(), "--since", old)
        # A fork: the log key signed a size-2 tree with another entry 1.
        fork_lines = [
            lines[0],
            lines[1].replace(b"2016-01-05T02:15:02.345Z", b"2016-01-05T02:15:02.346Z"),
        ]
        old = self.write_checkpoint("fork", signed_checkpoint(fork_lines, cosign=False))
        self.expect_fail(
            self.bundle(),
            r"since: 与旧检查点不一致 / inconsistent with the older checkpoint: .*rewritten",
            "--since",
            old,
        )
        # Larger than the bundle: truncated.
        longer = lines + [lines[2]]
        old = self.write_checkpoint("longer", signed_checkpoint(longer, cosign=False))
        self.expect_fail(
            self.bundle(), r"since: .*size 4, larger than the bundle's 3", "--since", old
        )
        # Not by the log key.
        text = checkpoint_text(ORIGIN, 1, d(ROOT1))
        old = self.write_checkpoint("other", text + "\n" + log_sig_line(text, seed=WITNESS_SEED))
        self.expect_fail(
            self.bundle(), r"since: .*no signature line by the log key", "--since", old
        )
        old = self.write_checkpoint("junk", "not a checkpoint\n")
        self.expect_fail(self.bundle(), r"since: .*malformed", "--since", old)

    # -- usage

    def test_usage_errors(self) -> None:
        r = run_verifier(os.path.join(self.tmp, "nothing"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("no bundle directory", r.stderr)
        b = self.bundle()
        b.write()
        os.remove(os.path.join(b.dir, "checkpoint"))
        r = run_verifier(b.dir)
        self.assertEqual(r.returncode, 2)
        self.assertIn("导出包缺少文件 / the bundle lacks checkpoint", r.stderr)
        r = run_verifier(self.bundle().write(), "--since", os.path.join(self.tmp, "missing"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("no checkpoint file", r.stderr)
        r = run_verifier(self.bundle().write(), "--quorum", "-1")
        self.assertEqual(r.returncode, 2)
        r = run_verifier()
        self.assertEqual(r.returncode, 2)
        r = run_verifier("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("NOT checked", r.stdout)
        r = run_verifier(os.path.join(self.tmp, "nothing"), "--json")
        self.assertEqual(json.loads(r.stdout)["kind"], "usage")

    def test_ci_tamper_cases(self) -> None:
        """Every case of tamper.py (used by ci.sh on a real export) on a 12-entry bundle."""
        lines = base_lines()
        vault = [VAULT_LINE]
        for k in range(3, 12):
            salt = bytes([k]) * 16
            value = {"diary": f"第{k}次走访"}
            commitment = base64.b64encode(sha(salt + rfc8785.dumps(value))).decode()
            sealed = {"sealed": commitment}
            vault.append(
                rfc8785.dumps(
                    {
                        "commitment": commitment,
                        "salt": base64.b64encode(salt).decode(),
                        "value": value,
                    }
                ).decode()
            )
            st = entry2_statement(
                args={"diary": sealed, "household": "hh-0001"},
                id=f"3b8f0e52-4a1d-4c7e-9f2b-{k:012x}",
                signed_at=f"2016-02-{k:02d}T08:30:00.000Z",
            )
            events = [dict(ENTRY2_EVENTS[0], sequence=k - 1, payload={"diary": sealed})]
            prev = merkle_root([leaf(x) for x in lines])
            lines.append(entry_line(k, prev, st, events, f"2016-02-{k:02d}T08:30:01.000Z"))
        src = self.bundle(lines)
        src.vault = "".join(row + "\n" for row in vault)
        self.expect_ok(src, "--quorum", "1")
        for case in tamper.CASES:
            with self.subTest(case=case):
                dst = os.path.join(self.tmp, f"tampered-{case}")
                t = subprocess.run(
                    [sys.executable, os.path.join(HERE, "tamper.py"), src.dir, dst, case],
                    capture_output=True,
                    text=True,
                )
                self.assertEqual(t.returncode, 0, t.stdout + t.stderr)
                r = run_verifier(dst)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertRegex(r.stdout.splitlines()[0], t.stdout.strip())
        # A bundle with nothing to tamper with for a case is a skip (3), not a pass.
        bare = self.bundle()
        bare.vault = None
        bare.write()
        t = subprocess.run(
            [
                sys.executable,
                os.path.join(HERE, "tamper.py"),
                bare.dir,
                bare.dir + "-t",
                "vault-value",
            ],
            capture_output=True,
            text=True,
        )
        self.assertEqual(t.returncode, 3, t.stdout + t.stderr)

    def test_json_failure(self) -> None:
        lines = base_lines()
        lines[2] = lines[2].replace(b"08:30:00.000Z", b"08:30:00.001Z")
        r = run_verifier(self.bundle(lines).write(), "--json")
        self.assertEqual(r.returncode, 1)
        out = json.loads(r.stdout)
        self.assertEqual(
            (out["ok"], out["kind"], out["index"], out["where"]),
            (False, "bad_signature", 2, "entry 2"),
        )


def main() -> int:
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors)
    # The plain closing line CI reads in any language.
    print(f"pyverify: {result.testsRun - failed} passed, {failed} failed")
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
