//! Ed25519 as the format requires it: strict verification decides every verdict, and a batch fast
//! path that is guaranteed to reach the same verdict.
//!
//! *Strict* is ed25519-dalek's `verify_strict`: RFC 8032 with the cofactorless equation, canonical
//! `S`, an `R` whose encoding is reproduced exactly, and no small-order `A` or `R`. libsodium (and so
//! PyNaCl) decides the same way. Plain `verify` accepts a known forgery with a small-order key and is
//! never used.
//!
//! Why batch needs care: a batch checks Σ zᵢ·(Rᵢ − [sᵢ]B + [hᵢ]Aᵢ) = 0 with random zᵢ. If some Rᵢ or
//! Aᵢ carries a component of order 2, 4 or 8 (a "mixed-order" point, which only the key holder can
//! craft into a signature), that component survives only when zᵢ is not a multiple of its order, so
//! the batch accepts such a signature with probability up to 1/2 while strict always rejects it. So an
//! item joins the batch only if its `R` has a canonical encoding and both `R` and `A` are torsion-free
//! (and therefore of prime order); any other item is decided by strict verification alone. When the
//! batch fails, every item in it is re-checked strictly, so a batch never rejects what strict accepts.
//! The torsion check of `R` costs about as much as the batch saves: measured on the 2-core
//! development machine, strict verification took 145 µs a signature, a batch of 64 took 63 µs a
//! signature, and the check of `R` 110 µs. Whether the verifier should batch or spread strict checks
//! over cores is for the benchmarks to decide.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
pub use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

/// A public key as the format writes it: base64 of its 32 raw bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<PublicKey, KeyError> {
        // Decompressing a point costs a field exponentiation, and a log has far fewer signers than
        // entries: remember this thread's recent keys (exact bytes in, the same point out).
        thread_local! {
            static RECENT: RefCell<HashMap<[u8; 32], VerifyingKey>> = RefCell::new(HashMap::new());
        }
        const RECENT_KEYS: usize = 16_384;
        if let Some(key) = RECENT.with_borrow(|recent| recent.get(bytes).copied()) {
            return Ok(PublicKey(key));
        }
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::NotAPoint)?;
        RECENT.with_borrow_mut(|recent| {
            if recent.len() >= RECENT_KEYS {
                recent.clear();
            }
            recent.insert(*bytes, key);
        });
        Ok(PublicKey(key))
    }

    pub fn from_base64(s: &str) -> Result<PublicKey, KeyError> {
        let bytes = crate::b64::decode_array::<32>(s).ok_or(KeyError::Encoding)?;
        Self::from_bytes(&bytes)
    }

    pub fn to_base64(&self) -> String {
        crate::b64::encode(self.0.as_bytes())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }

    /// Strict verification (see the module documentation).
    pub fn verify_strict(&self, message: &[u8], sig: &Signature) -> Result<(), BadSignature> {
        self.0.verify_strict(message, sig).map_err(|_| BadSignature)
    }
}

impl From<VerifyingKey> for PublicKey {
    fn from(k: VerifyingKey) -> Self {
        PublicKey(k)
    }
}

impl From<&SigningKey> for PublicKey {
    fn from(k: &SigningKey) -> Self {
        PublicKey(k.verifying_key())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

/// A public key that cannot be used at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    Encoding,
    NotAPoint,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Encoding => {
                write!(
                    f,
                    "a public key must be standard base64 of exactly 32 bytes"
                )
            }
            KeyError::NotAPoint => write!(f, "the public key is not a valid Ed25519 point"),
        }
    }
}

impl std::error::Error for KeyError {}

/// The signature does not verify (strictly) for this key and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadSignature;

impl fmt::Display for BadSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the Ed25519 signature does not verify for this key and message"
        )
    }
}

impl std::error::Error for BadSignature {}

/// Decodes a signature from standard base64 of exactly 64 bytes.
pub fn signature_from_base64(s: &str) -> Option<Signature> {
    crate::b64::decode_array::<64>(s).map(|b| Signature::from_bytes(&b))
}

/// One signature to check.
pub struct Item<'a> {
    pub key: &'a PublicKey,
    pub message: &'a [u8],
    pub signature: &'a Signature,
}

/// Verifies many signatures; `result[i]` is exactly `items[i].key.verify_strict(..).is_ok()`.
pub fn verify_many(items: &[Item<'_>]) -> Vec<bool> {
    let mut verdict = vec![false; items.len()];
    let mut torsion_free_keys: HashMap<[u8; 32], bool> = HashMap::new();
    let mut batch: Vec<usize> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let key_ok = *torsion_free_keys
            .entry(*item.key.as_bytes())
            .or_insert_with(|| is_prime_order(&item.key.0.to_edwards()));
        if key_ok && r_is_canonical_prime_order(item.signature) {
            batch.push(i);
        } else {
            verdict[i] = strict(item);
        }
    }
    if !batch.is_empty() {
        let messages: Vec<&[u8]> = batch.iter().map(|&i| items[i].message).collect();
        let sigs: Vec<Signature> = batch.iter().map(|&i| *items[i].signature).collect();
        let keys: Vec<VerifyingKey> = batch.iter().map(|&i| items[i].key.0).collect();
        if ed25519_dalek::verify_batch(&messages, &sigs, &keys).is_ok() {
            for &i in &batch {
                verdict[i] = true;
            }
        } else {
            for &i in &batch {
                verdict[i] = strict(&items[i]);
            }
        }
    }
    verdict
}

fn strict(item: &Item<'_>) -> bool {
    item.key.verify_strict(item.message, item.signature).is_ok()
}

fn r_is_canonical_prime_order(sig: &Signature) -> bool {
    let r = CompressedEdwardsY(sig.r_bytes().to_owned());
    match r.decompress() {
        Some(point) => point.compress() == r && is_prime_order(&point),
        None => false,
    }
}

/// True when the point is in the prime-order subgroup and is not the identity: [ℓ]P = 0, P ≠ 0.
fn is_prime_order(p: &EdwardsPoint) -> bool {
    // ℓ itself is not a canonical scalar, so compute [ℓ − 1]P + P, in variable time (all public).
    let l_minus_1 = Scalar::ZERO - Scalar::ONE;
    let lp = EdwardsPoint::vartime_double_scalar_mul_basepoint(&l_minus_1, p, &Scalar::ZERO) + p;
    lp.is_identity() && !p.is_identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
    use sha2::{Digest, Sha512};

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    /// A signature crafted by the key holder with a mixed-order R = [r]B + T (T of order 8):
    /// strict verification rejects it; a naive batch accepts it for some coefficients.
    fn mixed_order_signature(sk: &SigningKey, msg: &[u8], t: usize) -> Signature {
        let a = sk.to_scalar();
        let r = Scalar::from(7u64 + t as u64);
        let big_r = (ED25519_BASEPOINT_POINT * r + EIGHT_TORSION[t]).compress();
        let mut h = Sha512::new();
        h.update(big_r.as_bytes());
        h.update(sk.verifying_key().as_bytes());
        h.update(msg);
        let k = Scalar::from_hash(h);
        let s = r + k * a;
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(big_r.as_bytes());
        bytes[32..].copy_from_slice(s.as_bytes());
        Signature::from_bytes(&bytes)
    }

    #[test]
    fn batch_agrees_with_strict_on_good_bad_and_crafted_signatures() {
        let keys: Vec<SigningKey> = (1..=4).map(key).collect();
        let pubs: Vec<PublicKey> = keys.iter().map(PublicKey::from).collect();
        let msgs: Vec<Vec<u8>> = (0..40)
            .map(|i| format!("message {i}").into_bytes())
            .collect();
        let mut sigs: Vec<Signature> = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| ed25519_dalek::Signer::sign(&keys[i % 4], m))
            .collect();
        // A wrong message, a crafted mixed-order R for every torsion point, a non-canonical S.
        sigs[3] = ed25519_dalek::Signer::sign(&keys[3], b"other");
        for t in 1..8 {
            sigs[8 + t] = mixed_order_signature(&keys[(8 + t) % 4], &msgs[8 + t], t);
        }
        let mut bad_s = sigs[20].to_bytes();
        bad_s[63] |= 0xf0;
        sigs[20] = Signature::from_bytes(&bad_s);
        let items: Vec<Item> = (0..40)
            .map(|i| Item {
                key: &pubs[i % 4],
                message: &msgs[i],
                signature: &sigs[i],
            })
            .collect();
        let fast = verify_many(&items);
        let slow: Vec<bool> = items.iter().map(strict).collect();
        assert_eq!(fast, slow);
        assert_eq!(slow.iter().filter(|ok| !**ok).count(), 9);
        // The crafted signatures really are the ones dalek's bare batch can be fooled by: at least
        // one of them passes an unguarded batch on its own.
        let fooled = (1..8).any(|t| {
            let i = 8 + t;
            ed25519_dalek::verify_batch(&[&msgs[i]], &[sigs[i]], &[pubs[i % 4].0]).is_ok()
        });
        assert!(
            fooled,
            "test vectors no longer exercise the mixed-order case"
        );
    }

    #[test]
    fn small_order_keys_are_refused() {
        // The identity point (a small-order key) "signs" anything with R = identity, S = 0 under
        // non-strict verification; strict refuses.
        let identity = CompressedEdwardsY([
            1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0,
        ]);
        let pk = PublicKey::from_bytes(identity.as_bytes()).unwrap();
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(identity.as_bytes());
        let sig = Signature::from_bytes(&sig);
        assert!(
            ed25519_dalek::Verifier::verify(&pk.0, b"anything", &sig).is_ok(),
            "the forgery plain verify accepts"
        );
        assert_eq!(pk.verify_strict(b"anything", &sig), Err(BadSignature));
        let item = Item {
            key: &pk,
            message: b"anything",
            signature: &sig,
        };
        assert_eq!(verify_many(&[item]), vec![false]);
    }
}
