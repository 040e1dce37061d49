//! Secrets the server must read back (TOTP shared secrets) are sealed with AES-256-GCM under a key
//! from the data directory, so a copy of the database alone does not yield second factors.
//!
//! Format: `0x01 ‖ nonce (12 bytes) ‖ ciphertext+tag`. The caller's `context` (for example the
//! user id) is bound as associated data, so a sealed value cannot be moved to another row.

use crate::{CryptoError, random_bytes};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

const VERSION: u8 = 1;

pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> Self {
        SecretBox { cipher: Aes256Gcm::new(key.into()) }
    }

    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<Vec<u8>, CryptoError> {
        let nonce_bytes = random_bytes::<12>()?;
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce_bytes), Payload { msg: plaintext, aad: context.as_bytes() })
            .map_err(|_| CryptoError::Open)?;
        let mut out = Vec::with_capacity(1 + 12 + ct.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < 1 + 12 + 16 || sealed[0] != VERSION {
            return Err(CryptoError::Open);
        }
        let (nonce, ct) = sealed[1..].split_at(12);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: context.as_bytes() })
            .map(zeroize::Zeroizing::new)
            .map_err(|_| CryptoError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_context_binding() -> Result<(), CryptoError> {
        let b = SecretBox::new(&[7u8; 32]);
        let sealed = b.seal(b"JBSWY3DPEHPK3PXP", "user-1")?;
        assert_eq!(&b.open(&sealed, "user-1")?[..], b"JBSWY3DPEHPK3PXP");
        assert!(b.open(&sealed, "user-2").is_err());
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(b.open(&flipped, "user-1").is_err());
        assert!(SecretBox::new(&[8u8; 32]).open(&sealed, "user-1").is_err());
        Ok(())
    }
}
