//! How an enrolled agent proves each request is its own (issue 5): an Ed25519 signature, by the
//! device key that never leaves the PC, over the request — method, path, device id, time, a
//! random nonce and the SHA-256 of the body — sent as one header:
//!
//! ```text
//! Authorization: MamoriDevice id=<device id>,ts=<unix ms>,nonce=<32 hex>,sig=<base64 signature>
//! ```
//!
//! The signed bytes are the lines `mamori-device-v1`, method, path (with query), device id, ts,
//! nonce and hex SHA-256 of the body, each ending in `\n`. The server checks the signature with
//! the public key registered at enrolment, refuses a time more than [`MAX_SKEW_MS`] away from its
//! own and a nonce it has seen (replay).

use crate::{CryptoError, random_bytes};
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

/// The scheme name in the `Authorization` header.
pub const SCHEME: &str = "MamoriDevice";
/// How far a request's time may be from the server's.
pub const MAX_SKEW_MS: i64 = 5 * 60 * 1000;

/// A device's key pair (the agent's side).
pub struct DeviceKey(SigningKey);

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceKey(…)")
    }
}

impl DeviceKey {
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(DeviceKey(SigningKey::from_bytes(&random_bytes::<32>()?)))
    }

    pub fn from_seed(seed: &[u8; 32]) -> Self {
        DeviceKey(SigningKey::from_bytes(seed))
    }

    pub fn seed(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(self.0.to_bytes())
    }

    /// The public key, base64 — what enrolment registers.
    pub fn public_key(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0.verifying_key().to_bytes())
    }

    /// The `Authorization` header value for one request.
    pub fn authorize(
        &self,
        device_id: &str,
        method: &str,
        path: &str,
        body: &[u8],
        now_ms: i64,
    ) -> Result<String, CryptoError> {
        let nonce = hex::encode(random_bytes::<16>()?);
        let sig = self.0.sign(&signed_bytes(method, path, device_id, now_ms, &nonce, body));
        let sig = base64::engine::general_purpose::STANDARD.encode(sig.to_bytes());
        Ok(format!("{SCHEME} id={device_id},ts={now_ms},nonce={nonce},sig={sig}"))
    }
}

fn signed_bytes(method: &str, path: &str, device_id: &str, ts: i64, nonce: &str, body: &[u8]) -> Vec<u8> {
    format!(
        "mamori-device-v1\n{method}\n{path}\n{device_id}\n{ts}\n{nonce}\n{}\n",
        hex::encode(Sha256::digest(body))
    )
    .into_bytes()
}

/// Why a request's device signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceAuthError {
    #[error("send `Authorization: MamoriDevice id=…,ts=…,nonce=…,sig=…`")]
    Malformed,
    #[error("the request's time is more than 5 minutes from the server's: check the PC's clock")]
    Skew,
    #[error("the signature does not match this device's key")]
    BadSignature,
    #[error("this request was already received (replay)")]
    Replay,
    #[error("unknown or revoked device: enrol it again")]
    UnknownDevice,
}

/// The parts of a device `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceClaim {
    pub device_id: String,
    pub ts: i64,
    pub nonce: String,
    signature: [u8; 64],
}

impl DeviceClaim {
    /// Parses a header value; anything not exactly the expected shape is refused.
    pub fn parse(header: &str) -> Result<DeviceClaim, DeviceAuthError> {
        let rest = header
            .strip_prefix(SCHEME)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or(DeviceAuthError::Malformed)?;
        let (mut id, mut ts, mut nonce, mut sig) = (None, None, None, None);
        for part in rest.split(',') {
            let (k, v) = part.trim().split_once('=').ok_or(DeviceAuthError::Malformed)?;
            let slot = match k {
                "id" => &mut id,
                "ts" => &mut ts,
                "nonce" => &mut nonce,
                "sig" => &mut sig,
                _ => return Err(DeviceAuthError::Malformed),
            };
            if slot.replace(v).is_some() {
                return Err(DeviceAuthError::Malformed);
            }
        }
        let (Some(id), Some(ts), Some(nonce), Some(sig)) = (id, ts, nonce, sig) else {
            return Err(DeviceAuthError::Malformed);
        };
        let id_ok =
            !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let nonce_ok = nonce.len() == 32 && nonce.bytes().all(|b| b.is_ascii_hexdigit());
        let ts: i64 = ts.parse().map_err(|_| DeviceAuthError::Malformed)?;
        let signature: [u8; 64] = base64::engine::general_purpose::STANDARD
            .decode(sig)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(DeviceAuthError::Malformed)?;
        if !id_ok || !nonce_ok {
            return Err(DeviceAuthError::Malformed);
        }
        Ok(DeviceClaim { device_id: id.to_owned(), ts, nonce: nonce.to_owned(), signature })
    }

    /// Checks the time and the signature against the device's registered public key (base64).
    pub fn verify(
        &self,
        public_key: &str,
        method: &str,
        path: &str,
        body: &[u8],
        now_ms: i64,
    ) -> Result<(), DeviceAuthError> {
        // `abs_diff`: the time is the sender's, and `now - ts` overflows for a far-off one.
        if now_ms.abs_diff(self.ts) > MAX_SKEW_MS.unsigned_abs() {
            return Err(DeviceAuthError::Skew);
        }
        let key = parse_public_key(public_key).ok_or(DeviceAuthError::UnknownDevice)?;
        let bytes = signed_bytes(method, path, &self.device_id, self.ts, &self.nonce, body);
        key.verify(&bytes, &Signature::from_bytes(&self.signature)).map_err(|_| DeviceAuthError::BadSignature)
    }
}

/// A registered public key, if it is one (base64 of 32 bytes, a valid curve point).
pub fn parse_public_key(public_key: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] =
        base64::engine::general_purpose::STANDARD.decode(public_key.trim()).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn signs_and_verifies() {
        let key = DeviceKey::generate().unwrap();
        let pk = key.public_key();
        let h = key.authorize("dev-1", "POST", "/api/v1/agent/inventory", b"{}", 1_000_000).unwrap();
        let claim = DeviceClaim::parse(&h).unwrap();
        assert_eq!(claim.device_id, "dev-1");
        assert!(claim.verify(&pk, "POST", "/api/v1/agent/inventory", b"{}", 1_000_000).is_ok());
        let wrong = |m: &str, p: &str, b: &[u8], now: i64| claim.verify(&pk, m, p, b, now).unwrap_err();
        assert_eq!(wrong("GET", "/api/v1/agent/inventory", b"{}", 1_000_000), DeviceAuthError::BadSignature);
        assert_eq!(wrong("POST", "/api/v1/agent/events", b"{}", 1_000_000), DeviceAuthError::BadSignature);
        assert_eq!(
            wrong("POST", "/api/v1/agent/inventory", b"{ }", 1_000_000),
            DeviceAuthError::BadSignature
        );
        assert_eq!(
            wrong("POST", "/api/v1/agent/inventory", b"{}", 1_000_000 + MAX_SKEW_MS + 1),
            DeviceAuthError::Skew
        );
        for far in [i64::MIN, i64::MAX] {
            let h = key.authorize("dev-1", "POST", "/api/v1/agent/inventory", b"{}", far).unwrap();
            let far_claim = DeviceClaim::parse(&h).unwrap();
            assert_eq!(
                far_claim.verify(&pk, "POST", "/api/v1/agent/inventory", b"{}", 1_000_000),
                Err(DeviceAuthError::Skew)
            );
        }
        let other = DeviceKey::generate().unwrap().public_key();
        assert_eq!(
            claim.verify(&other, "POST", "/api/v1/agent/inventory", b"{}", 1_000_000),
            Err(DeviceAuthError::BadSignature)
        );
        let seed = key.seed();
        assert_eq!(DeviceKey::from_seed(&seed).public_key(), pk, "the key survives being stored");
    }

    #[test]
    fn garbage_headers_are_refused_never_panic() {
        let key = DeviceKey::generate().unwrap();
        let good = key.authorize("dev-1", "GET", "/x", b"", 5).unwrap();
        for bad in [
            String::new(),
            "Bearer abc".into(),
            "MamoriDevice".into(),
            "MamoriDevice id=a".into(),
            good.replace("ts=5", "ts=five"),
            good.replace("id=dev-1", "id=dev 1"),
            good.replace(",sig=", ",sig=%%"),
            format!("{good},id=dev-2"),
            format!("{good},extra=1"),
            good.replace("nonce=", "nonce=zz"),
        ] {
            assert_eq!(DeviceClaim::parse(&bad), Err(DeviceAuthError::Malformed), "{bad}");
        }
        // Every prefix and every single-byte change of a good header: refused or not verified.
        for i in 0..good.len() {
            if let Some(prefix) = good.get(..i) {
                let _ = DeviceClaim::parse(prefix);
            }
            let mut bytes = good.clone().into_bytes();
            bytes[i] ^= 0x01;
            if let Ok(s) = String::from_utf8(bytes)
                && let Ok(c) = DeviceClaim::parse(&s)
            {
                assert!(c.verify(&key.public_key(), "GET", "/x", b"", 5).is_err(), "{s}");
            }
        }
        assert!(parse_public_key("not base64").is_none());
        assert!(parse_public_key("AAAA").is_none());
    }
}
