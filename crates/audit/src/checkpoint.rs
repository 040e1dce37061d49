//! Checkpoints in the C2SP `tlog-checkpoint` signed-note format, signed with Ed25519 as C2SP
//! `signed-note` describes:
//!
//! ```text
//! <origin>
//! <tree size>
//! <base64 root hash>
//!
//! — <key name> <base64(key id ‖ signature)>
//! ```
//!
//! The key name is the log's origin. The key id is the first four bytes of
//! SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key); the signature covers the note's body (the three
//! lines, each ending in a newline). The verifier key is written `<name>+<hex key id>+<base64(0x01 ‖ public key)>`.

use crate::merkle::Hash;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

const ED25519: u8 = 0x01;
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// A tree head: the log's identity, its size and root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The signed text: three lines, each ending in a newline.
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("the checkpoint is not a signed note: {0}")]
    Malformed(&'static str),
    #[error("the checkpoint carries no signature by {0}")]
    NotSignedByKey(String),
    #[error("the checkpoint's signature by {0} does not verify")]
    BadSignature(String),
    #[error("the checkpoint is for log `{found}`, expected `{expected}`")]
    WrongOrigin { expected: String, found: String },
    #[error("the public key is not a valid verifier key: {0}")]
    BadKey(&'static str),
}

fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0A, ED25519]);
    h.update(public.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A log origin must be one line of printable text without spaces or `+` (it is also the key
/// name, which the verifier-key format separates with `+`).
pub fn check_origin(origin: &str) -> Result<(), &'static str> {
    if origin.is_empty() || origin.len() > 200 {
        return Err("must be 1 to 200 characters");
    }
    if origin.chars().any(|c| c.is_whitespace() || c.is_control() || c == '+') {
        return Err("must not contain spaces, control characters or `+`");
    }
    Ok(())
}

/// The origin a log gets when none is configured: `mamori/` and 16 hex digits of the SHA-256
/// of its public key — stable for as long as the key is, and different for every installation.
pub fn default_origin(seed: &[u8; 32]) -> String {
    let public = SigningKey::from_bytes(seed).verifying_key();
    format!("mamori/{}", hex::encode(&Sha256::digest(public.as_bytes())[..8]))
}

/// Signs checkpoints of one log.
pub struct CheckpointSigner {
    origin: String,
    key: SigningKey,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointSigner").field("origin", &self.origin).finish_non_exhaustive()
    }
}

impl CheckpointSigner {
    /// `seed` is the 32-byte Ed25519 private key kept in the data directory.
    pub fn new(origin: &str, seed: &[u8; 32]) -> Result<Self, CheckpointError> {
        check_origin(origin).map_err(CheckpointError::BadKey)?;
        Ok(CheckpointSigner { origin: origin.to_owned(), key: SigningKey::from_bytes(seed) })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn verifier(&self) -> CheckpointVerifier {
        let public = self.key.verifying_key();
        CheckpointVerifier { name: self.origin.clone(), id: key_id(&self.origin, &public), public }
    }

    /// The signed note for a tree head of this log.
    pub fn sign(&self, size: u64, root: Hash) -> String {
        let body = Checkpoint { origin: self.origin.clone(), size, root }.body();
        let signature = self.key.sign(body.as_bytes());
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&key_id(&self.origin, &self.key.verifying_key()));
        blob.extend_from_slice(&signature.to_bytes());
        format!("{body}\n{SIGNATURE_PREFIX}{} {}\n", self.origin, B64.encode(blob))
    }
}

/// Checks checkpoints against one public key; needs nothing but the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointVerifier {
    name: String,
    id: [u8; 4],
    public: VerifyingKey,
}

impl CheckpointVerifier {
    /// Parses `<name>+<hex key id>+<base64(0x01 ‖ public key)>`.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CheckpointError::BadKey("expected <name>+<key id>+<key>"));
        };
        check_origin(name).map_err(CheckpointError::BadKey)?;
        let id: [u8; 4] = hex::decode(id_hex)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(CheckpointError::BadKey("the key id is not 8 hex digits"))?;
        let raw = B64.decode(key_b64).map_err(|_| CheckpointError::BadKey("the key is not base64"))?;
        let [ED25519, key @ ..] = raw.as_slice() else {
            return Err(CheckpointError::BadKey("not an Ed25519 key"));
        };
        let key: [u8; 32] =
            key.try_into().map_err(|_| CheckpointError::BadKey("an Ed25519 key is 32 bytes"))?;
        let public =
            VerifyingKey::from_bytes(&key).map_err(|_| CheckpointError::BadKey("not an Ed25519 point"))?;
        if key_id(name, &public) != id {
            return Err(CheckpointError::BadKey("the key id does not match the key"));
        }
        Ok(CheckpointVerifier { name: name.to_owned(), id, public })
    }

    pub fn origin(&self) -> &str {
        &self.name
    }

    /// The verifier key in its text form (what `mamori audit public-key` prints).
    pub fn encode(&self) -> String {
        let mut raw = vec![ED25519];
        raw.extend_from_slice(self.public.as_bytes());
        format!("{}+{}+{}", self.name, hex::encode(self.id), B64.encode(raw))
    }

    /// Checks the signature and returns the tree head it vouches for.
    pub fn verify(&self, note: &str) -> Result<Checkpoint, CheckpointError> {
        let split =
            note.find("\n\n").ok_or(CheckpointError::Malformed("no blank line before the signatures"))?;
        let (body, signatures) = (&note[..=split], &note[split + 2..]);
        if !signatures.ends_with('\n') {
            return Err(CheckpointError::Malformed("the signature lines must end with a newline"));
        }
        let mut verified = false;
        for line in signatures.lines() {
            let rest = line
                .strip_prefix(SIGNATURE_PREFIX)
                .ok_or(CheckpointError::Malformed("a signature line must start with an em dash"))?;
            let (name, blob) =
                rest.split_once(' ').ok_or(CheckpointError::Malformed("a signature line needs a name"))?;
            let Ok(blob) = B64.decode(blob) else { continue };
            if name != self.name || blob.len() != 68 || blob[..4] != self.id {
                continue; // another signer's line (a witness, say)
            }
            let signature = Signature::from_slice(&blob[4..])
                .map_err(|_| CheckpointError::BadSignature(self.name.clone()))?;
            self.public
                .verify(body.as_bytes(), &signature)
                .map_err(|_| CheckpointError::BadSignature(self.name.clone()))?;
            verified = true;
        }
        if !verified {
            return Err(CheckpointError::NotSignedByKey(self.name.clone()));
        }
        let checkpoint = parse_body(body)?;
        if checkpoint.origin != self.name {
            return Err(CheckpointError::WrongOrigin {
                expected: self.name.clone(),
                found: checkpoint.origin,
            });
        }
        Ok(checkpoint)
    }
}

fn parse_body(body: &str) -> Result<Checkpoint, CheckpointError> {
    let mut lines = body.split('\n');
    let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
        return Err(CheckpointError::Malformed("a checkpoint has an origin, a size and a root hash"));
    };
    // C2SP allows extension lines after the root; Mamori writes none and ignores any.
    let size: u64 = size
        .parse()
        .ok()
        .filter(|_| size == "0" || !size.starts_with('0'))
        .ok_or(CheckpointError::Malformed("the tree size is not a decimal number"))?;
    let root: Hash = B64
        .decode(root)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(CheckpointError::Malformed("the root hash is not 32 bytes of base64"))?;
    Ok(Checkpoint { origin: origin.to_owned(), size, root })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn signer() -> CheckpointSigner {
        CheckpointSigner::new("mamori.example/log", &[7u8; 32]).unwrap()
    }

    #[test]
    fn round_trip_and_format() {
        let s = signer();
        let note = s.sign(42, [9u8; 32]);
        let lines: Vec<&str> = note.lines().collect();
        assert_eq!(lines[0], "mamori.example/log");
        assert_eq!(lines[1], "42");
        assert_eq!(lines[2], B64.encode([9u8; 32]));
        assert_eq!(lines[3], "");
        assert!(lines[4].starts_with("\u{2014} mamori.example/log "));
        let v = CheckpointVerifier::parse(&s.verifier().encode()).unwrap();
        assert_eq!(v, s.verifier());
        assert_eq!(
            v.verify(&note).unwrap(),
            Checkpoint { origin: "mamori.example/log".into(), size: 42, root: [9u8; 32] }
        );
    }

    #[test]
    fn any_change_is_refused() {
        let s = signer();
        let v = s.verifier();
        let note = s.sign(42, [9u8; 32]);
        for i in 0..note.len() {
            let mut bytes = note.clone().into_bytes();
            bytes[i] ^= 0x01;
            if let Ok(text) = String::from_utf8(bytes) {
                assert!(v.verify(&text).is_err(), "byte {i} changed and still verified");
            }
        }
        let other = CheckpointSigner::new("mamori.example/log", &[8u8; 32]).unwrap();
        assert_eq!(
            v.verify(&other.sign(42, [9u8; 32])),
            Err(CheckpointError::NotSignedByKey("mamori.example/log".into()))
        );
    }

    #[test]
    fn bad_keys() {
        for k in ["", "a+b", "a+0011223+AQ==", "log+00112233+AAAA", "has space+00112233+AQ=="] {
            assert!(CheckpointVerifier::parse(k).is_err(), "{k}");
        }
        let good = signer().verifier().encode();
        let mut wrong_id = good.clone();
        let at = good.find('+').unwrap() + 1;
        wrong_id.replace_range(at..at + 1, if &good[at..at + 1] == "0" { "1" } else { "0" });
        assert!(CheckpointVerifier::parse(&wrong_id).is_err());
    }
}
