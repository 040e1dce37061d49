//! Bearer secrets: session cookies, API tokens, invitation and setup links, recovery codes.
//!
//! Each is 256 bits from the OS (recovery codes: 80 bits, typed by hand) and is stored only as its
//! SHA-256 digest, so a copy of the database cannot be replayed as a credential.

use crate::{CryptoError, random_bytes};
use base64::Engine;
use sha2::{Digest, Sha256};

/// A fresh URL-safe secret of 32 random bytes.
pub fn new_secret() -> Result<String, CryptoError> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// What the database keeps of a secret: hex SHA-256.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Ten single-use recovery codes, shaped `abcd-efgh-ijkl-mnop` (base32, 80 bits each).
pub fn new_recovery_codes() -> Result<Vec<String>, CryptoError> {
    (0..10)
        .map(|_| {
            let raw = data_encoding::BASE32_NOPAD.encode(&random_bytes::<10>()?).to_lowercase();
            let groups: Vec<&str> = (0..4).map(|i| &raw[i * 4..i * 4 + 4]).collect();
            Ok(groups.join("-"))
        })
        .collect()
}

/// Recovery codes are compared without case, spaces or dashes, as people type them.
pub fn normalize_recovery_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

pub fn recovery_code_digest(code: &str) -> String {
    digest(&normalize_recovery_code(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_distinct_and_digests_stable() -> Result<(), CryptoError> {
        let a = new_secret()?;
        assert_eq!(a.len(), 43);
        assert_ne!(a, new_secret()?);
        assert_eq!(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        Ok(())
    }

    #[test]
    fn recovery_codes() -> Result<(), CryptoError> {
        let codes = new_recovery_codes()?;
        assert_eq!(codes.len(), 10);
        assert_eq!(codes[0].len(), 19);
        let typed = codes[0].to_uppercase().replace('-', " ");
        assert_eq!(recovery_code_digest(&typed), recovery_code_digest(&codes[0]));
        Ok(())
    }
}
