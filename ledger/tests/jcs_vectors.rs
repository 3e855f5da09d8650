//! RFC 8785 (JCS) conformance of `bangfu_ledger::jcs`, against published vectors.
//!
//! Fixtures live in `tests/data/jcs/` (their provenance is in the README.md there):
//!
//! - `cyberphone/`: the test data of the RFC's reference implementation, byte for byte;
//! - `rfc8785/`: the examples printed in RFC 8785 (§3.2.2, §3.2.3, §3.2.4, appendices B–E);
//! - `cases.jsonl`: 1,261 texts canonicalized by the independent Python package `rfc8785`.
//!
//! The ledger accepts only a subset of I-JSON: integers within ±(2^53 − 1), strings and keys in
//! Unicode NFC, no duplicate keys. A vector inside that subset must canonicalize to exactly the
//! published bytes. A vector outside it must be refused, with the right [`JcsErrorKind`] and at
//! the right byte, so this file documents precisely which published vectors the ledger does not
//! take and why. Where a refused vector is refused only for one member, a variant without that
//! member (derived from the published text by a checked, one-place edit) must still canonicalize to
//! the correspondingly edited published output.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use bangfu_ledger::jcs::{self, JcsError, JcsErrorKind, MAX_DEPTH, MAX_SAFE_INTEGER};
use proptest::prelude::*;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!("data/jcs/", $path)).as_slice()
    };
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The byte offset of the only occurrence of `needle` in `hay`.
fn offset_of(hay: &[u8], needle: &str) -> usize {
    let n = needle.as_bytes();
    let hits: Vec<usize> = (0..=hay.len().saturating_sub(n.len()))
        .filter(|&i| hay[i..].starts_with(n))
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "{needle:?} should occur exactly once in {:?}",
        show(hay)
    );
    hits[0]
}

/// `hay` with the only occurrence of `from` replaced by `to`.
fn edit(hay: &[u8], from: &str, to: &str) -> Vec<u8> {
    let at = offset_of(hay, from);
    let mut out = hay[..at].to_vec();
    out.extend_from_slice(to.as_bytes());
    out.extend_from_slice(&hay[at + from.len()..]);
    out
}

/// `input` is in the ledger's subset and its canonical form is exactly `expected`.
fn assert_canonical(name: &str, input: &[u8], expected: &[u8]) {
    match jcs::canonicalize(input) {
        Ok(got) => assert!(
            got == expected,
            "{name}: canonical form differs\n     got: {}\nexpected: {}",
            show(&got),
            show(expected)
        ),
        Err(e) => panic!("{name}: refused ({e}; {:?})", e.kind),
    }
    let value = jcs::parse(input).unwrap();
    assert_eq!(
        jcs::parse_canonical(expected),
        Ok(value.clone()),
        "{name}: the published canonical form must pass parse_canonical and mean the same value"
    );
    assert_eq!(
        jcs::to_vec(&value).as_deref(),
        Ok(expected),
        "{name}: to_vec"
    );
    assert_eq!(
        jcs::canonicalize(expected).as_deref(),
        Ok(expected),
        "{name}: canonicalize must be idempotent"
    );
    if input != expected {
        assert_eq!(
            jcs::parse_canonical(input).map_err(|e| e.kind),
            Err(JcsErrorKind::NotCanonical),
            "{name}: a non-canonical spelling must be refused by parse_canonical"
        );
    }
}

/// `input` is refused by every entry point with `kind`, pointing at the first byte of `at`.
fn assert_refused(name: &str, input: &[u8], kind: JcsErrorKind, at: &str) {
    let want = JcsError {
        kind,
        offset: offset_of(input, at),
    };
    assert_eq!(
        jcs::parse(input).as_ref().err(),
        Some(&want),
        "{name}: parse"
    );
    assert_eq!(
        jcs::canonicalize(input).err(),
        Some(want.clone()),
        "{name}: canonicalize"
    );
    assert_eq!(
        jcs::parse_canonical(input).err(),
        Some(want),
        "{name}: parse_canonical"
    );
}

// ---------------------------------------------------------------------------------------------
// cyberphone/json-canonicalization testdata (the RFC's reference implementation)
// ---------------------------------------------------------------------------------------------

enum Verdict {
    /// Inside the ledger's subset: `canonicalize(input)` is exactly the published output.
    Canonical,
    /// Outside the subset: the input is refused with `kind` at the first byte of `at`; the
    /// published output is refused the same way at `output_at`, or is itself in the subset and
    /// canonical (`None`).
    Refused {
        kind: JcsErrorKind,
        at: &'static str,
        output_at: Option<&'static str>,
    },
}

struct Upstream {
    name: &'static str,
    input: &'static [u8],
    output: &'static [u8],
    verdict: Verdict,
}

fn upstream() -> Vec<Upstream> {
    vec![
        Upstream {
            name: "arrays.json",
            input: fixture!("cyberphone/input/arrays.json"),
            output: fixture!("cyberphone/output/arrays.json"),
            verdict: Verdict::Canonical,
        },
        Upstream {
            name: "french.json",
            input: fixture!("cyberphone/input/french.json"),
            output: fixture!("cyberphone/output/french.json"),
            verdict: Verdict::Canonical,
        },
        Upstream {
            name: "simpleString.json",
            input: fixture!("cyberphone/input/simpleString.json"),
            output: fixture!("cyberphone/output/simpleString.json"),
            verdict: Verdict::Canonical,
        },
        // "Unnormalized Unicode" is U+1E0D U+0307, which is already NFC (there is no precomposed
        // d with dot below and dot above), so the ledger accepts it and must not alter it.
        Upstream {
            name: "unicode.json",
            input: fixture!("cyberphone/input/unicode.json"),
            output: fixture!("cyberphone/output/unicode.json"),
            verdict: Verdict::Canonical,
        },
        // `"\n": 56.0` is a float in the input; the output writes it as the integer 56, so the
        // output alone is in the subset.
        Upstream {
            name: "structures.json",
            input: fixture!("cyberphone/input/structures.json"),
            output: fixture!("cyberphone/output/structures.json"),
            verdict: Verdict::Refused {
                kind: JcsErrorKind::Float,
                at: "56.0",
                output_at: None,
            },
        },
        // The "numbers" array is all floats (1E30, 4.50, 333333333.33333329, 2e-3, 1e-27).
        Upstream {
            name: "values.json",
            input: fixture!("cyberphone/input/values.json"),
            output: fixture!("cyberphone/output/values.json"),
            verdict: Verdict::Refused {
                kind: JcsErrorKind::Float,
                at: "1E30",
                output_at: Some("1e+30"),
            },
        },
        // The key U+FB33 HEBREW LETTER DALET WITH DAGESH is a composition exclusion: its NFC
        // form is U+05D3 U+05BC, so the key is not NFC.
        Upstream {
            name: "weird.json",
            input: fixture!("cyberphone/input/weird.json"),
            output: fixture!("cyberphone/output/weird.json"),
            verdict: Verdict::Refused {
                kind: JcsErrorKind::NotNfc,
                at: "\"\\ufb33\"",
                output_at: Some("\"\u{fb33}\""),
            },
        },
    ]
}

#[test]
fn upstream_vectors_are_canonicalized_or_refused_for_the_right_reason() {
    for v in upstream() {
        match v.verdict {
            Verdict::Canonical => assert_canonical(v.name, v.input, v.output),
            Verdict::Refused {
                kind,
                at,
                output_at,
            } => {
                assert_refused(v.name, v.input, kind.clone(), at);
                match output_at {
                    Some(out_at) => assert_refused(v.name, v.output, kind, out_at),
                    None => assert_eq!(
                        jcs::parse_canonical(v.output).map(|_| ()),
                        Ok(()),
                        "{}: published output",
                        v.name
                    ),
                }
            }
        }
    }
}

#[test]
fn every_upstream_file_is_classified() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/jcs/cyberphone");
    let names = |sub: &str| -> BTreeSet<String> {
        std::fs::read_dir(format!("{dir}/{sub}"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect()
    };
    let classified: BTreeSet<String> = upstream().iter().map(|v| v.name.to_string()).collect();
    assert_eq!(names("input"), classified);
    assert_eq!(names("output"), classified);
}

#[test]
fn upstream_outhex_matches_output() {
    let hex = std::str::from_utf8(fixture!("cyberphone/outhex/simpleString.txt")).unwrap();
    let bytes: Vec<u8> = hex
        .split_whitespace()
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
    assert_eq!(bytes, fixture!("cyberphone/output/simpleString.json"));
}

/// The refused upstream vectors with the offending member made acceptable: everything else in
/// them (escapes, key order, U+0080/U+007F left raw, surrogate-pair keys) must still come out
/// exactly as published.
#[test]
fn upstream_vectors_minus_what_the_ledger_refuses() {
    // structures.json: 56.0 is the only float, and the published output already says 56.
    assert_canonical(
        "structures.json with 56",
        &edit(fixture!("cyberphone/input/structures.json"), "56.0", "56"),
        fixture!("cyberphone/output/structures.json"),
    );

    // values.json without its "numbers" member.
    assert_canonical(
        "values.json without numbers",
        &edit(
            fixture!("cyberphone/input/values.json"),
            "  \"numbers\": [1E30, 4.50, 333333333.33333329, 2e-3, 0.000000000000000000000000001],\n",
            "",
        ),
        &edit(
            fixture!("cyberphone/output/values.json"),
            ",\"numbers\":[1e+30,4.5,333333333.3333333,0.002,1e-27]",
            "",
        ),
    );

    // weird.json with the U+FB33 key in NFC (U+05D3 U+05BC), which sorts between ö and €.
    let hebrew = ",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"";
    let out = edit(fixture!("cyberphone/output/weird.json"), hebrew, "");
    let out = edit(
        &out,
        "\"\u{20ac}\":",
        "\"\u{5d3}\u{5bc}\":\"Hebrew Letter Dalet With Dagesh\",\"\u{20ac}\":",
    );
    assert_canonical(
        "weird.json with an NFC key",
        &edit(
            fixture!("cyberphone/input/weird.json"),
            "\\ufb33",
            "\\u05d3\\u05bc",
        ),
        &out,
    );
}

// ---------------------------------------------------------------------------------------------
// RFC 8785's own examples
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc_3_2_4_bytes_are_the_3_2_3_output() {
    let hex = std::str::from_utf8(fixture!("rfc8785/section-3.2.4-output.hex")).unwrap();
    let bytes: Vec<u8> = hex
        .split_whitespace()
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
    assert_eq!(bytes, fixture!("rfc8785/section-3.2.3-output.json"));
}

/// §3.2.2's sample has a "numbers" member of floats, so the ledger refuses both it and its
/// canonical form (§3.2.3, bytes in §3.2.4); without that member, the string escapes and the
/// literals must come out exactly as the RFC prints them.
#[test]
fn rfc_3_2_2_sample() {
    let input = fixture!("rfc8785/section-3.2.2-input.json");
    let output = fixture!("rfc8785/section-3.2.3-output.json");
    assert_refused(
        "RFC 8785 §3.2.2",
        input,
        JcsErrorKind::Float,
        "333333333.33333329",
    );
    assert_refused(
        "RFC 8785 §3.2.3",
        output,
        JcsErrorKind::Float,
        "333333333.3333333,",
    );
    assert_canonical(
        "RFC 8785 §3.2.2 without numbers",
        &edit(
            input,
            "  \"numbers\": [333333333.33333329, 1E30, 4.50,\n              2e-3, 0.000000000000000000000000001],\n",
            "",
        ),
        &edit(
            output,
            "\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],",
            "",
        ),
    );
}

fn values_in_order(canonical: &[u8]) -> Vec<String> {
    // The values in the order their members appear in the text (serde_json's map has its own
    // order, so each member is located in the text).
    let text = std::str::from_utf8(canonical).unwrap();
    let obj = jcs::parse(canonical).unwrap();
    let mut found: Vec<(usize, String)> = obj
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let member = format!(
                "{}:{}",
                show(&jcs::to_vec(&Value::String(k.clone())).unwrap()),
                show(&jcs::to_vec(v).unwrap())
            );
            (
                offset_of(text.as_bytes(), &member),
                v.as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, v)| v).collect()
}

/// §3.2.3's sorting test data. Its key U+FB33 is not NFC, so the ledger refuses it as printed.
/// With that key replaced by U+FB4F (NFC, and like U+FB33 a BMP code unit above the surrogates,
/// so the vector keeps its point: the emoji's surrogate pair sorts first), the values must come
/// out in the RFC's "expected argument order".
#[test]
fn rfc_3_2_3_sorting_vector() {
    let input = fixture!("rfc8785/section-3.2.3-sorting-input.json");
    assert_refused(
        "RFC 8785 §3.2.3 sorting",
        input,
        JcsErrorKind::NotNfc,
        "\"\\ufb33\"",
    );
    let expected_order: Vec<String> =
        std::str::from_utf8(fixture!("rfc8785/section-3.2.3-sorting-order.txt"))
            .unwrap()
            .lines()
            .map(|l| l.trim().trim_matches('"').to_string())
            .collect();
    assert_eq!(expected_order.len(), 7);

    let variant = edit(input, "\\ufb33", "\\ufb4f");
    let canonical = jcs::canonicalize(&variant).unwrap();
    assert_eq!(values_in_order(&canonical), expected_order);
    assert_canonical("RFC 8785 §3.2.3 with U+FB4F", &variant, &canonical);
    // Written out, so that a change in escaping shows here too: \r escaped, U+0080 raw.
    assert_eq!(
        show(&canonical),
        "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
         \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
         \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb4f}\":\"Hebrew Letter Dalet With Dagesh\"}"
    );

    // Without the Hebrew member at all, the other six keep the RFC's order.
    let without = edit(
        input,
        "  \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\",\n",
        "",
    );
    let canonical = jcs::canonicalize(&without).unwrap();
    assert_eq!(values_in_order(&canonical), expected_order[..6]);
}

/// Appendix B's number samples. All but two are floats or integers beyond 2^53 − 1 and must be
/// refused; zero (and minus zero, spelled `-0`) is accepted and written `0`; NaN and Infinity have
/// no JSON spelling at all.
#[test]
fn rfc_appendix_b_numbers() {
    let table = std::str::from_utf8(fixture!("rfc8785/appendix-b-numbers.tsv")).unwrap();
    let mut rows = 0;
    for line in table.lines().filter(|l| !l.starts_with('#')) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (hex, repr, comment) = (cols[0], cols[1], cols[2]);
        let ieee = f64::from_bits(u64::from_str_radix(hex, 16).unwrap());
        rows += 1;
        if repr.is_empty() {
            assert!(ieee.is_nan() || ieee.is_infinite(), "{comment}");
            for spelling in ["NaN", "Infinity", "-Infinity"] {
                assert!(
                    matches!(
                        jcs::parse(spelling.as_bytes()).map_err(|e| e.kind),
                        Err(JcsErrorKind::Syntax(_))
                    ),
                    "{spelling}"
                );
            }
            continue;
        }
        // The transcription of the table is self-consistent: the JSON representation reads back
        // as exactly that IEEE 754 value.
        // (Minus zero is written "0", so only its magnitude can be compared.)
        let read: f64 = repr.parse().unwrap();
        assert!(
            read == ieee && (ieee == 0.0 || read.to_bits() == ieee.to_bits()),
            "{hex} is not {repr}"
        );
        let got = jcs::canonicalize(repr.as_bytes()).map_err(|e| e.kind);
        if repr.contains(['.', 'e', 'E']) {
            assert_eq!(got, Err(JcsErrorKind::Float), "{hex} {repr}");
        } else if ieee.abs() <= MAX_SAFE_INTEGER as f64 {
            assert_eq!(ieee, 0.0, "{hex}");
            assert_eq!(got, Ok(b"0".to_vec()), "{hex} {repr}");
        } else {
            assert_eq!(got, Err(JcsErrorKind::IntegerOutOfRange), "{hex} {repr}");
        }
    }
    assert_eq!(rows, 26);
    // Minus zero: its RFC representation is "0", and the JSON spelling -0 canonicalizes to it.
    assert!(f64::from_bits(0x8000_0000_0000_0000).is_sign_negative());
    assert_eq!(jcs::canonicalize(b"-0").unwrap(), b"0");
    assert_eq!(
        jcs::parse_canonical(b"-0").map_err(|e| e.kind),
        Err(JcsErrorKind::NotCanonical)
    );
    // Note (1): integers are exact within ±9007199254740991, which the ledger allows inclusively.
    assert_eq!(
        jcs::canonicalize(b"[9007199254740991,-9007199254740991]").unwrap(),
        b"[9007199254740991,-9007199254740991]"
    );
}

/// Appendix C's address record: only strings, so in the subset; the RFC states the resulting
/// order ("address", "city", "name", "state", "zip").
#[test]
fn rfc_appendix_c_address_record() {
    assert_canonical(
        "RFC 8785 appendix C",
        fixture!("rfc8785/appendix-c-input.json"),
        b"{\"address\":\"2000 Sunset Boulevard\",\"city\":\"Los Angeles\",\"name\":\"John Doe\",\
          \"state\":\"CA\",\"zip\":\"90001\"}",
    );
}

/// Appendix D's big numbers: every member is outside the subset. The RFC's remedy, wrapping
/// such numbers in strings, is what the ledger requires, and such strings pass unchanged.
#[test]
fn rfc_appendix_d_big_numbers() {
    let input = fixture!("rfc8785/appendix-d-input.json");
    assert_refused(
        "RFC 8785 appendix D",
        input,
        JcsErrorKind::Float,
        "1.4e+9999",
    );
    assert_eq!(
        jcs::parse(b"26000.33").unwrap_err().kind,
        JcsErrorKind::Float
    );
    assert_eq!(
        jcs::parse(b"9223372036854775807").unwrap_err().kind,
        JcsErrorKind::IntegerOutOfRange
    );
    // The RFC's own string-wrapped example.
    assert_canonical(
        "RFC 8785 appendix D, wrapped",
        br#"{"giantNumber": "1.4e+9999"}"#,
        br#"{"giantNumber":"1.4e+9999"}"#,
    );
    assert_canonical(
        "RFC 8785 appendix D, all wrapped",
        &edit(
            &edit(
                &edit(input, "1.4e+9999", "\"1.4e+9999\""),
                "26000.33",
                "\"26000.33\"",
            ),
            "9223372036854775807",
            "\"9223372036854775807\"",
        ),
        br#"{"giantNumber":"1.4e+9999","int64Max":"9223372036854775807","payMeThis":"26000.33"}"#,
    );
}

/// Appendix E's subtypes: "val" is a float, so the ledger refuses the sample and the RFC's
/// canonical form of it; the string subtypes must survive unaltered ("055", not "55").
#[test]
fn rfc_appendix_e_string_subtypes() {
    let input = fixture!("rfc8785/appendix-e-input.json");
    let output = fixture!("rfc8785/appendix-e-output.json");
    assert_refused("RFC 8785 appendix E", input, JcsErrorKind::Float, "3.5");
    assert_refused(
        "RFC 8785 appendix E output",
        output,
        JcsErrorKind::Float,
        "3.5",
    );
    assert_canonical(
        "RFC 8785 appendix E without val",
        &edit(input, ",\n  \"val\": 3.5", ""),
        &edit(output, ",\"val\":3.5", ""),
    );
}

/// §3.1 (I-JSON: no duplicate property names) and the §3.2.2.2 note (a lone surrogate such as
/// the RFC's own U+DEAD must end canonicalization with an error). No published vector exercises
/// these, so they are spelled out here.
#[test]
fn rfc_3_1_duplicates_and_3_2_2_2_lone_surrogates() {
    for (input, key, at) in [
        (r#"{"a":1,"a":2}"#, "a", r#""a":2"#),
        (r#"{"a":1,"\u0061":2}"#, "a", r#""\u0061""#),
        (r#"{"x":[{"b":1,"c":2,"b":3}]}"#, "b", r#""b":3"#),
        (
            r#"{"\ud83d\ude00":1,"\ud83d\ude00":2}"#,
            "\u{1f600}",
            r#""\ud83d\ude00":2"#,
        ),
        (
            "{\"\u{5e2e}\u{6276}\":1,\"\\u5e2e\\u6276\":2}",
            "\u{5e2e}\u{6276}",
            "\"\\u5e2e",
        ),
    ] {
        assert_refused(
            input,
            input.as_bytes(),
            JcsErrorKind::DuplicateKey(key.into()),
            at,
        );
    }
    for (input, at) in [
        (r#""\udead""#, "\\udead"),
        (r#""\ud800""#, "\\ud800"),
        (r#""\udc00\ud800""#, "\\udc00"),
        (r#""\ud83d\u0041""#, "\\ud83d"),
        (r#""\ud83d\ud83d\ude00""#, "\\ud83d\\ud83d"),
        (r#"{"\ude00":1}"#, "\\ude00"),
        (r#"["a\ud83d"]"#, "\\ud83d"),
    ] {
        let e = jcs::parse(input.as_bytes()).unwrap_err();
        assert_eq!(e.kind, JcsErrorKind::LoneSurrogate, "{input}");
        // The offset points into the offending escape (at its backslash or its 'u').
        let escape = offset_of(input.as_bytes(), at);
        assert!((escape..=escape + 1).contains(&e.offset), "{input}: {e:?}");
    }
    // A surrogate encoded directly in UTF-8 (CESU-style) is not UTF-8 at all.
    assert_eq!(
        jcs::parse(b"\"\xed\xba\xad\"").unwrap_err(),
        JcsError {
            kind: JcsErrorKind::InvalidUtf8,
            offset: 1
        }
    );
}

/// Every object among the Python cases, with its first member repeated, is refused as a
/// duplicate of exactly that key.
#[test]
fn python_cases_with_a_duplicated_member() {
    let mut checked = 0;
    for (_, canonical) in python_cases() {
        let Ok(Value::Object(map)) = jcs::parse(canonical.as_bytes()) else {
            continue;
        };
        // The first member in canonical order (serde_json's map is in UTF-8 order).
        let Some((key, value)) = map
            .iter()
            .min_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()))
        else {
            continue;
        };
        let member = format!(
            "{}:{}",
            show(&jcs::to_vec(&Value::String(key.clone())).unwrap()),
            show(&jcs::to_vec(value).unwrap())
        );
        assert!(canonical[1..].starts_with(&member), "{canonical}");
        let input = format!("{{{member},{}", &canonical[1..]);
        assert_eq!(
            jcs::parse(input.as_bytes()).unwrap_err(),
            JcsError {
                kind: JcsErrorKind::DuplicateKey(key.clone()),
                offset: member.len() + 2
            },
            "{input}"
        );
        checked += 1;
    }
    assert!(checked > 300, "only {checked} objects");
}

// ---------------------------------------------------------------------------------------------
// Cases from the Python `rfc8785` package (tests/data/jcs/generate.py)
// ---------------------------------------------------------------------------------------------

fn python_cases() -> &'static [(String, String)] {
    static CASES: OnceLock<Vec<(String, String)>> = OnceLock::new();
    CASES.get_or_init(|| {
        std::str::from_utf8(fixture!("cases.jsonl"))
            .unwrap()
            .lines()
            .enumerate()
            .map(|(i, line)| {
                let rec: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("cases.jsonl line {}: {e}", i + 1));
                let field = |k: &str| rec[k].as_str().unwrap().to_string();
                (field("input"), field("canonical"))
            })
            .collect()
    })
}

#[test]
fn python_rfc8785_cases() {
    let cases = python_cases();
    assert_eq!(
        cases.len(),
        1261,
        "cases.jsonl is truncated or was regenerated"
    );
    let mut respelled = 0;
    for (line, (input, canonical)) in cases.iter().enumerate() {
        let name = format!("cases.jsonl line {}", line + 1);
        assert_canonical(&name, input.as_bytes(), canonical.as_bytes());
        if input != canonical {
            respelled += 1;
        }
    }
    // Most values appear in three non-canonical spellings besides the canonical text.
    assert!(respelled > 900, "only {respelled} non-canonical spellings");
}

// ---------------------------------------------------------------------------------------------
// Robustness and properties
// ---------------------------------------------------------------------------------------------

#[test]
fn hostile_nesting_is_refused_not_a_stack_overflow() {
    for open in ["[", "{\"a\":"] {
        let deep = open.repeat(100_000);
        assert_eq!(
            jcs::parse(deep.as_bytes()).unwrap_err().kind,
            JcsErrorKind::TooDeep
        );
    }
    let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert_eq!(jcs::canonicalize(ok.as_bytes()).unwrap(), ok.as_bytes());
    let too_deep = format!("[{ok}]");
    assert_eq!(
        jcs::parse(too_deep.as_bytes()).unwrap_err().kind,
        JcsErrorKind::TooDeep
    );
}

/// What must hold for any input at all: no panic; errors point inside the input; whatever is
/// accepted canonicalizes to a text that is itself canonical and means the same value.
fn check_any_input(input: &[u8]) {
    let parsed = jcs::parse(input);
    let canon = jcs::canonicalize(input);
    let strict = jcs::parse_canonical(input);
    for e in [
        parsed.as_ref().err(),
        canon.as_ref().err(),
        strict.as_ref().err(),
    ]
    .into_iter()
    .flatten()
    {
        assert!(
            e.offset <= input.len(),
            "{e:?} beyond {} bytes",
            input.len()
        );
        let _ = e.to_string();
    }
    match (&parsed, &canon) {
        (Ok(v), Ok(c)) => {
            assert_eq!(jcs::parse_canonical(c).as_ref(), Ok(v));
            assert_eq!(jcs::canonicalize(c).as_ref(), Ok(c));
            match &strict {
                Ok(s) => {
                    assert_eq!(s, v);
                    assert_eq!(c.as_slice(), input);
                }
                Err(e) => {
                    assert_eq!(e.kind, JcsErrorKind::NotCanonical);
                    assert_ne!(c.as_slice(), input);
                }
            }
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b);
            assert_eq!(strict.as_ref().err(), Some(a));
        }
        _ => panic!("parse and canonicalize disagree on {:?}", show(input)),
    }
}

/// Byte strings that make mutations likely to hit interesting parser states.
const SPLICES: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"\\u",
    b"\\ud83d",
    b"\\ude00",
    b"\\u0000",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"-",
    b"0",
    b".",
    b"e",
    b" ",
    b"\n",
    b"9007199254740992",
    b"null",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xcc\x81",
    b"\xef\xbb\xbf",
];

fn mutate(base: &[u8], edits: &[(u8, usize, u8)]) -> Vec<u8> {
    let mut v = base.to_vec();
    for &(op, pos, byte) in edits {
        let at = if v.is_empty() { 0 } else { pos % (v.len() + 1) };
        match op % 5 {
            0 if at < v.len() => v[at] = byte,
            1 => v.insert(at, byte),
            2 if at < v.len() => {
                v.remove(at);
            }
            3 => v.truncate(at),
            _ => {
                let s = SPLICES[byte as usize % SPLICES.len()];
                v.splice(at..at, s.iter().copied());
            }
        }
    }
    v
}

fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range(' ', '~'),
        1 => proptest::char::range('\0', '\u{1f}'),
        1 => proptest::sample::select(vec![
            '\u{7f}', '\u{80}', '\u{e9}', '\u{301}', '\u{307}', '\u{323}', '\u{2028}',
            '\u{5e2e}', '\u{6276}', '\u{4f4e}', '\u{4fdd}', '\u{6237}', '\u{d7ff}', '\u{e000}',
            '\u{fb33}', '\u{ff21}', '\u{fffd}', '\u{ffff}', '\u{10000}', '\u{1d11e}',
            '\u{1f600}', '\u{20000}', '\u{10ffff}',
        ]),
        1 => any::<char>(),
    ]
}

/// Strings in NFC (normalizing whatever was drawn, so combining marks still occur).
fn nfc_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(interesting_char(), 0..10)
        .prop_map(|cs| cs.into_iter().collect::<String>().nfc().collect())
}

fn safe_integer() -> impl Strategy<Value = i64> {
    prop_oneof![
        2 => -MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER,
        1 => -1000i64..=1000,
        1 => proptest::sample::select(vec![
            0,
            1,
            -1,
            MAX_SAFE_INTEGER,
            -MAX_SAFE_INTEGER,
            MAX_SAFE_INTEGER - 1,
            i64::from(i32::MAX),
            i64::from(u32::MAX),
        ]),
    ]
}

/// Arbitrary JSON values inside the ledger's subset.
fn subset_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        safe_integer().prop_map(Value::from),
        nfc_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec((nfc_string(), inner), 0..8)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..256)) {
        check_any_input(&input);
    }

    #[test]
    fn mutated_json_never_panics(
        which in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..6),
    ) {
        let cases = python_cases();
        let (input, canonical) = &cases[which.index(cases.len())];
        check_any_input(&mutate(input.as_bytes(), &edits));
        check_any_input(&mutate(canonical.as_bytes(), &edits));
    }
}

proptest! {
    #![proptest_config(config(1024))]

    /// A string is accepted exactly when it is NFC, checked against a full normalization rather
    /// than the quick check the implementation uses.
    #[test]
    fn strings_are_accepted_iff_nfc(cs in proptest::collection::vec(interesting_char(), 0..10)) {
        let s: String = cs.into_iter().collect();
        let nfc = s.chars().eq(s.nfc());
        for text in [
            serde_json::to_string(&s).unwrap(),
            serde_json::to_string(&serde_json::json!({ s.clone(): 0 })).unwrap(),
        ] {
            let got = jcs::parse(text.as_bytes()).map(|_| ()).map_err(|e| e.kind);
            if nfc {
                prop_assert_eq!(got, Ok(()));
            } else {
                prop_assert_eq!(got, Err(JcsErrorKind::NotNfc));
            }
        }
    }

    /// An integer is accepted exactly when it is within ±(2^53 − 1), and is written back as the
    /// same decimal digits.
    #[test]
    fn integers_are_accepted_iff_safe(n in prop_oneof![
        any::<i64>(),
        (-MAX_SAFE_INTEGER - 3)..=(-MAX_SAFE_INTEGER + 3),
        (MAX_SAFE_INTEGER - 3)..=(MAX_SAFE_INTEGER + 3),
    ]) {
        let text = n.to_string();
        let got = jcs::canonicalize(text.as_bytes()).map_err(|e| e.kind);
        if n.abs() <= MAX_SAFE_INTEGER {
            prop_assert_eq!(got, Ok(text.into_bytes()));
        } else {
            prop_assert_eq!(got, Err(JcsErrorKind::IntegerOutOfRange));
        }
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn subset_values_round_trip(v in subset_value()) {
        let c = jcs::to_vec(&v).unwrap();
        prop_assert_eq!(jcs::parse(&c).unwrap(), v.clone());
        prop_assert_eq!(jcs::parse_canonical(&c).unwrap(), v.clone());
        prop_assert_eq!(jcs::canonicalize(&c).unwrap(), c.clone());
        // Other spellings of the same value (serde_json's compact and pretty writers) reach the
        // same canonical bytes.
        prop_assert_eq!(jcs::canonicalize(&serde_json::to_vec(&v).unwrap()).unwrap(), c.clone());
        prop_assert_eq!(jcs::canonicalize(&serde_json::to_vec_pretty(&v).unwrap()).unwrap(), c);
    }
}
