#!/usr/bin/env python3
"""Writes cases.jsonl: JSON texts in the ledger's subset and their RFC 8785 form per PyPI `rfc8785`.

The ledger's own canonicaliser (ledger/src/jcs.rs) is checked against an independent
implementation: every line of cases.jsonl is

    {"input": <a JSON text, as a JSON string>, "canonical": <rfc8785.dumps(json.loads(input))>}

Every value is inside the ledger's subset (integers within +-(2^53 - 1), strings and keys in
Unicode NFC, no duplicate keys), so the Rust side must reproduce `canonical` byte for byte.
`input` is either the canonical text itself or a deliberately non-canonical spelling of the same
value: shuffled keys, whitespace between every token, needless `\\uXXXX` escapes (either hex case),
astral characters spelled as surrogate-pair escapes, `\\/`, and `-0` for zero.

The output is deterministic (fixed seed, no set or hash ordering). Run with the version of
rfc8785 recorded in README.md beside this file; the test does not need Python.
"""

import json
import random
import sys
import unicodedata
from pathlib import Path

import rfc8785

SEED = 8785
RANDOM_VALUES = 300
MAX_SAFE = 2**53 - 1

# Keys chosen for sorting traps. UTF-16 order puts every astral character (a surrogate pair,
# 0xD800-0xDBFF first) before U+E000-U+FFFF, while UTF-8 byte order and code point order put
# them after; ASCII digits/case and prefixes test the plain lexicographic rules.
SORT_KEYS = [
    "", "a", "aa", "ab", "b", "A", "B", "Z", "_", "1", "10", "111", "2", " ", "~",
    "\u0000", "\u0001", "\u001f", "\b", "\t", "\n", "\f", "\r", "\"", "\\", "/",
    "\u007f", "\u0080", "\u00e9", "\u00f6", "\u00ff", "\u0100", "\u20ac", "\u2028", "\u2029",
    "\ud7ff", "\ue000", "\uf8ff", "\ufb4f", "\ufeff", "\uff21", "\ufffd", "\uffff",
    "\U00010000", "\U0001d11e", "\U0001f600", "\U0001f602", "\U00020000", "\U0010ffff",
    "\u5e2e\u6276", "\u4f4e\u4fdd\u6237", "\u6237\u4e3b", "\u6551\u52a9\u91d1\u989d",
    "\u5e2e\u6276\u5bf9\u8c61", "\u4f4e", "\u4f4e\u4fdd",
    "a\U0001f600", "a\ue000", "a\uffff", "\U0001f600a", "\ue000a",
]

# Alphabet for random strings: ASCII, every C0 control, DEL, Latin-1, CJK (including the words
# the ledger actually stores), BMP private use and specials, astral, and two combining marks so
# that some random strings are multi-code-point yet still NFC (strings that are not NFC are
# dropped below).
ALPHABET = (
    [chr(c) for c in range(0x20, 0x7F)]
    + [chr(c) for c in range(0x00, 0x20)]
    + ["\u007f", "\u0080", "\u009f", "\u00a0", "\u00e9", "\u00f6", "\u00df"]
    + list("\u5e2e\u6276\u4f4e\u4fdd\u6237\u4e3b\u6551\u52a9\u91d1\u989d\u6751\u4e61\u9547\u5143")
    + ["\u3000", "\u2028", "\u2029", "\u20ac", "\ud7ff", "\ue000", "\uf8ff", "\ufb4f", "\ufeff",
       "\uff21", "\ufffd", "\uffff"]
    + ["\U00010000", "\U0001d11e", "\U0001f600", "\U0001f602", "\U00020000", "\U0010ffff"]
    + ["\u0307", "\u0323"]
)

BOUNDARY_INTS = [
    0, 1, -1, 9, 10, -10, 99, 100, 255, 256, 1000, 65535, 65536,
    2**31 - 1, 2**31, -(2**31), 2**32, 2**53 - 2, -(2**53 - 2),
    MAX_SAFE, -MAX_SAFE, 10**15, -(10**15), 999999999999999, 1000000000000000,
]

WHITESPACE = ["", "", "", " ", "  ", "\n", "\t", "\r\n", " \n\t", "\r", "\n    "]


def is_nfc(s):
    return unicodedata.is_normalized("NFC", s)


def check(v):
    """Asserts that v is inside the ledger's subset."""
    if v is None or isinstance(v, bool):
        return
    if isinstance(v, int):
        assert -MAX_SAFE <= v <= MAX_SAFE, v
    elif isinstance(v, str):
        assert is_nfc(v), ascii(v)
    elif isinstance(v, list):
        for x in v:
            check(x)
    elif isinstance(v, dict):
        for k, x in v.items():
            assert is_nfc(k), ascii(k)
            check(x)
    else:
        raise AssertionError(f"not in the subset: {v!r}")


def rand_string(rng, max_len=12):
    while True:
        s = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(max_len + 1)))
        if is_nfc(s):
            return s


def rand_key(rng):
    r = rng.random()
    if r < 0.5:
        return rng.choice(SORT_KEYS)
    if r < 0.7:
        return rng.choice(SORT_KEYS) + rng.choice(SORT_KEYS)
    return rand_string(rng, 6)


def rand_int(rng):
    r = rng.random()
    if r < 0.4:
        return rng.choice(BOUNDARY_INTS)
    if r < 0.7:
        return rng.randrange(-1000, 1001)
    return rng.randrange(-MAX_SAFE, MAX_SAFE + 1)


def rand_value(rng, depth):
    r = rng.random()
    if depth <= 0 or r < 0.45:
        return rand_leaf(rng)
    if r < 0.7:
        return [rand_value(rng, depth - 1) for _ in range(rng.randrange(5))]
    obj = {}
    for _ in range(rng.randrange(7)):
        obj[rand_key(rng)] = rand_value(rng, depth - 1)
    return obj


def rand_leaf(rng):
    r = rng.random()
    if r < 0.1:
        return None
    if r < 0.2:
        return rng.random() < 0.5
    if r < 0.6:
        return rand_int(rng)
    return rand_string(rng)


def handmade():
    """Fixed values: realistic ledger statements and targeted edge cases."""
    yield {
        "type": "\u53d1\u653e",  # 发放
        "program": "\u5e2e\u6276\u8d44\u91d1",  # 帮扶资金
        "recipient": {"category": "\u4f4e\u4fdd\u6237", "household": "H-0042", "members": 3},
        "amount_fen": 125000,
        "items": [{"what": "\u6551\u52a9\u91d1", "fen": 100000}, {"what": "\u53d6\u6696\u8865\u8d34", "fen": 25000}],
        "note": "\u300c\u5e2e\u6276\u300d\u2014\u201c\u4f4e\u4fdd\u6237\u201d\u0020\u7b2c\u4e00\u6279",
        "seq": 1,
        "signed": True,
        "revoked": None,
    }
    yield {k: i for i, k in enumerate(SORT_KEYS)}
    yield {k: {k: [k]} for k in SORT_KEYS[::3]}
    yield [{"\U0001f600": 1, "\ue000": 2}, {"\uffff": 1, "\U00010000": 2}, {"\U0010ffff": 1, "\uff21": 2}]
    yield {"\u5e2e\u6276": 1, "\u4f4e\u4fdd\u6237": 2, "\U00020000": 3, "\ue000": 4}
    yield BOUNDARY_INTS
    yield {"max": MAX_SAFE, "min": -MAX_SAFE, "zero": 0, "one": -1}
    yield "".join(chr(c) for c in range(0x20))
    yield "\u007f\u0080\u009f\u00a0\u2028\u2029\ufeff\ufffd\uffff"
    yield "\"\\/\b\f\n\r\t</script>"
    yield "\u1e0d\u0307"  # NFC although two code points
    yield ""
    yield []
    yield {}
    deep = {"deep": [[[{}]]]}
    for _ in range(20):
        deep = [deep]
    yield deep
    yield {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": [1, {"i": None}]}}}}}}}}
    yield [None, True, False, 0, "", [], {}]
    yield {"": {"": {"": ""}}}
    yield 0
    yield MAX_SAFE
    yield -MAX_SAFE
    yield True
    yield None
    yield "\u5e2e\u6276"


def esc_unit(u, rng):
    h = f"{u:04x}"
    return "\\u" + (h.upper() if rng.random() < 0.5 else h)


def spell_string(s, rng, p_escape):
    out = ['"']
    for ch in s:
        c = ord(ch)
        short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
        if ch in short:
            out.append(short[ch] if rng.random() < 0.6 else esc_unit(c, rng))
        elif c < 0x20:
            out.append(esc_unit(c, rng))
        elif ch == "/" and rng.random() < 0.5:
            out.append("\\/")
        elif rng.random() < p_escape:
            if c > 0xFFFF:
                c -= 0x10000
                out.append(esc_unit(0xD800 + (c >> 10), rng) + esc_unit(0xDC00 + (c & 0x3FF), rng))
            else:
                out.append(esc_unit(c, rng))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def spell(v, rng, p_escape):
    """A non-canonical spelling of v: random whitespace, key order and escapes."""
    ws = lambda: rng.choice(WHITESPACE)  # noqa: E731
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return "-0" if v == 0 and rng.random() < 0.5 else str(v)
    if isinstance(v, str):
        return spell_string(v, rng, p_escape)
    if isinstance(v, list):
        if not v:
            return "[" + ws() + "]"
        return "[" + ",".join(ws() + spell(x, rng, p_escape) + ws() for x in v) + "]"
    items = list(v.items())
    rng.shuffle(items)
    if not items:
        return "{" + ws() + "}"
    return "{" + ",".join(
        ws() + spell_string(k, rng, p_escape) + ws() + ":" + ws() + spell(x, rng, p_escape) + ws()
        for k, x in items
    ) + "}"


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), keys
    return dict(pairs)


def main():
    rng = random.Random(SEED)
    values = list(handmade())
    for _ in range(RANDOM_VALUES):
        values.append(rand_value(rng, rng.randrange(1, 6)))
    lines = []
    for v in values:
        check(v)
        canonical = rfc8785.dumps(v).decode("utf-8")
        spellings = [canonical]
        for p_escape in (0.0, 0.3, 1.0):
            s = rng.choice(WHITESPACE) + spell(v, rng, p_escape) + rng.choice(WHITESPACE)
            if s not in spellings:
                spellings.append(s)
        for text in spellings:
            parsed = json.loads(text, object_pairs_hook=no_duplicates)
            check(parsed)
            c = rfc8785.dumps(parsed).decode("utf-8")
            assert c == canonical, (text, c, canonical)
            lines.append(json.dumps({"input": text, "canonical": c}, ensure_ascii=False))
    out = Path(__file__).with_name("cases.jsonl")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
    print(f"wrote {len(lines)} cases to {out} (rfc8785 {rfc8785.__version__})", file=sys.stderr)


if __name__ == "__main__":
    main()
