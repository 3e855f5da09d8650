//! RFC 8032 §7.1 test vectors (TEST 1–3), re-typed from the RFC: our keys derive the same public
//! keys, sign to the same bytes (Ed25519 is deterministic), and strict verification accepts them —
//! and refuses any flipped bit.

use bangfu_ledger::signature::{Item, PublicKey, Signature, SigningKey, verify_many};

fn hex<const N: usize>(s: &str) -> [u8; N] {
    let v: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    v.try_into().unwrap()
}

fn bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const VECTORS: [(&str, &str, &str, &str); 3] = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
];

#[test]
fn rfc8032_section_7_1_vectors() {
    for (seed, public, message, signature) in VECTORS {
        let sk = SigningKey::from_bytes(&hex::<32>(seed));
        let pk = PublicKey::from(&sk);
        assert_eq!(pk.as_bytes(), &hex::<32>(public));
        let msg = bytes(message);
        let sig = ed25519_dalek::Signer::sign(&sk, &msg);
        assert_eq!(sig.to_bytes(), hex::<64>(signature));
        pk.verify_strict(&msg, &sig).unwrap();
        assert_eq!(PublicKey::from_bytes(&hex::<32>(public)).unwrap(), pk);
    }
}

#[test]
fn every_flipped_bit_is_refused_strictly_and_in_batch() {
    for (_, public, message, signature) in VECTORS {
        let pk = PublicKey::from_bytes(&hex::<32>(public)).unwrap();
        let msg = bytes(message);
        let good = hex::<64>(signature);
        let mut sigs = vec![Signature::from_bytes(&good)];
        for bit in 0..512 {
            let mut b = good;
            b[bit / 8] ^= 1 << (bit % 8);
            sigs.push(Signature::from_bytes(&b));
        }
        let items: Vec<Item> = sigs
            .iter()
            .map(|s| Item {
                key: &pk,
                message: &msg,
                signature: s,
            })
            .collect();
        let verdicts = verify_many(&items);
        assert!(verdicts[0]);
        assert!(verdicts[1..].iter().all(|ok| !ok));
        for s in &sigs[1..] {
            assert!(pk.verify_strict(&msg, s).is_err());
        }
    }
}
