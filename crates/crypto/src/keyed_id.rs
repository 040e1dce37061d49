//! Keyed hashes of identifiers (HMAC-SHA-256), for the audit log: an entry names a customer by
//! a value only the holder of the key can link to the customer. The key lives in its own file,
//! apart from the log, so a copy of the log or its export reveals no customer id, and erasing a
//! customer never requires editing the log (LEAK-14, APPI).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The key for one installation.
pub struct IdHasher {
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for IdHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdHasher(…)")
    }
}

impl IdHasher {
    pub fn new(key: &[u8; 32]) -> Self {
        IdHasher { key: Zeroizing::new(*key) }
    }

    /// HMAC-SHA-256(key, kind ‖ 0x00 ‖ value): the blind index of a normalised value, or the
    /// keyed hash of an id. The same value of another kind gives an unrelated digest.
    pub fn digest(&self, kind: &str, value: &str) -> [u8; 32] {
        // HMAC accepts keys of any length; a 32-byte key cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&*self.key) else { return [0; 32] };
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// `kind:h:` and 32 hex digits (128 bits) of [`IdHasher::digest`]: how the audit log names
    /// a personal record.
    pub fn object(&self, kind: &str, id: &str) -> String {
        format!("{kind}:h:{}", hex::encode(&self.digest(kind, id)[..16]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_keyed_and_kind_separated() {
        let a = IdHasher::new(&[1; 32]);
        let b = IdHasher::new(&[2; 32]);
        let x = a.object("customer", "C-000123");
        assert_eq!(x, a.object("customer", "C-000123"), "stable");
        assert!(x.starts_with("customer:h:") && x.len() == "customer:h:".len() + 32);
        assert!(!x.contains("000123"), "the id does not show through");
        assert_ne!(x, b.object("customer", "C-000123"), "another key, another value");
        assert_ne!(x, a.object("customer", "C-000124"));
        assert_ne!(a.object("customer", "1"), a.object("call", "1"));
    }
}
