//! Envelope encryption for customer records (issue 4 builds the vault on it).
//!
//! - Each record has its own **data key** (DEK, 32 random bytes). Its confidential fields are
//!   sealed with it, AES-256-GCM, each bound by associated data to the record and field name, so a
//!   ciphertext cannot be moved to another record or field.
//! - The data key is stored only **wrapped** by a key-encryption key (KEK) from a
//!   [`KeyProvider`]. KEKs are versioned; the wrapped key names the version that wrapped it, so a
//!   rotation adds a version and re-wraps data keys one by one while every record stays readable.
//! - Destroying a record's wrapped data key makes its fields unreadable everywhere, backups
//!   included (crypto-shredding).
//!
//! Formats (all integers big-endian):
//! - sealed field: `0x01 ‖ nonce (12) ‖ ciphertext ‖ tag (16)`, AAD = `record id ‖ 0x00 ‖ field name`;
//! - wrapped key: `0x01 ‖ KEK version (u32) ‖ nonce (12) ‖ encrypted data key (32) ‖ tag (16)`,
//!   AAD = `"mamori-dek" ‖ 0x00 ‖ record id`.

use crate::secret_box::SecretBox;
use crate::{CryptoError, random_bytes};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

const WRAP_FORMAT: u8 = 1;
const WRAPPED_LEN: usize = 1 + 4 + 12 + 32 + 16;

/// A record's data key.
pub struct DataKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

fn field_aad(record: &str, field: &str) -> String {
    format!("{record}\0{field}")
}

impl DataKey {
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(DataKey(Zeroizing::new(random_bytes::<32>()?)))
    }

    /// Seals one field of one record.
    pub fn seal(&self, record: &str, field: &str, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        SecretBox::new(&self.0).seal(plaintext, &field_aad(record, field))
    }

    pub fn open(&self, record: &str, field: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        SecretBox::new(&self.0).open(sealed, &field_aad(record, field))
    }
}

/// A data key as stored: encrypted under one version of the key-encryption key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey(Vec<u8>);

impl WrappedKey {
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, CryptoError> {
        if bytes.len() != WRAPPED_LEN || bytes[0] != WRAP_FORMAT {
            return Err(CryptoError::Open);
        }
        Ok(WrappedKey(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The KEK version that wrapped it: rotation re-wraps those below the current one.
    pub fn kek_version(&self) -> u32 {
        u32::from_be_bytes([self.0[1], self.0[2], self.0[3], self.0[4]])
    }
}

fn wrap_aad(record: &str) -> Vec<u8> {
    let mut aad = b"mamori-dek\0".to_vec();
    aad.extend_from_slice(record.as_bytes());
    aad
}

/// Wraps and unwraps data keys with a versioned key-encryption key held somewhere else: the
/// data directory's key file by default, or an external KMS. To add a KMS, implement this for a
/// client of it — `wrap` and `unwrap` are one call each to the KMS's encrypt/decrypt of 32 bytes
/// (AWS KMS `Encrypt`/`Decrypt`, Vault transit `encrypt`/`decrypt`) — keeping the byte format of
/// [`WrappedKey`] with the KMS key's version in it.
pub trait KeyProvider: Send + Sync + std::fmt::Debug {
    /// The version new data keys are wrapped with.
    fn current_version(&self) -> u32;
    fn wrap(&self, record: &str, key: &DataKey) -> Result<WrappedKey, CryptoError>;
    fn unwrap(&self, record: &str, wrapped: &WrappedKey) -> Result<DataKey, CryptoError>;
    /// Makes a new key version current (rotation). Providers whose keys are rotated elsewhere
    /// (in the KMS) say so.
    fn add_version(&self) -> Result<u32, CryptoError> {
        Err(CryptoError::KeyFile {
            path: String::new(),
            problem: "this key provider's keys are rotated where they are kept".into(),
        })
    }
    /// Destroys every version below `version`; returns the versions destroyed. Whatever they
    /// wrapped — in backups too — can no longer be opened.
    fn retire_before(&self, version: u32) -> Result<Vec<u32>, CryptoError> {
        let _ = version;
        Err(CryptoError::KeyFile {
            path: String::new(),
            problem: "this key provider's keys are retired where they are kept".into(),
        })
    }
}

/// Key-encryption keys by version, as read from where they are kept.
pub type VersionedKeys = Vec<(u32, Zeroizing<[u8; 32]>)>;

/// Key-encryption keys held in memory, by version (what [`crate::kek_file`] loads).
pub struct LocalKeys {
    versions: Vec<(u32, Aes256Gcm)>,
}

impl std::fmt::Debug for LocalKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKeys")
            .field("versions", &self.versions.iter().map(|v| v.0).collect::<Vec<_>>())
            .finish()
    }
}

impl LocalKeys {
    /// `keys` are (version, key) pairs; the highest version is current.
    pub fn new(keys: &[(u32, Zeroizing<[u8; 32]>)]) -> Result<Self, CryptoError> {
        if keys.is_empty() {
            return Err(CryptoError::KeyFile { path: String::new(), problem: "holds no key".into() });
        }
        let mut versions: Vec<(u32, Aes256Gcm)> =
            keys.iter().map(|(v, k)| (*v, Aes256Gcm::new((&**k).into()))).collect();
        versions.sort_by_key(|(v, _)| *v);
        Ok(LocalKeys { versions })
    }

    pub fn has_version(&self, version: u32) -> bool {
        self.versions.iter().any(|(v, _)| *v == version)
    }

    fn cipher(&self, version: u32) -> Result<&Aes256Gcm, CryptoError> {
        self.versions.iter().find(|(v, _)| *v == version).map(|(_, c)| c).ok_or(CryptoError::Open)
    }
}

impl KeyProvider for LocalKeys {
    fn current_version(&self) -> u32 {
        self.versions.last().map_or(0, |(v, _)| *v)
    }

    fn wrap(&self, record: &str, key: &DataKey) -> Result<WrappedKey, CryptoError> {
        let version = self.current_version();
        let nonce = random_bytes::<12>()?;
        let aad = wrap_aad(record);
        let ct = self
            .cipher(version)?
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: &key.0[..], aad: &aad })
            .map_err(|_| CryptoError::Open)?;
        let mut out = Vec::with_capacity(WRAPPED_LEN);
        out.push(WRAP_FORMAT);
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        WrappedKey::from_bytes(out)
    }

    fn unwrap(&self, record: &str, wrapped: &WrappedKey) -> Result<DataKey, CryptoError> {
        let b = wrapped.as_bytes();
        let (nonce, ct) = b[5..].split_at(12);
        let aad = wrap_aad(record);
        let plain = Zeroizing::new(
            self.cipher(wrapped.kek_version())?
                .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
                .map_err(|_| CryptoError::Open)?,
        );
        let key: [u8; 32] = plain.as_slice().try_into().map_err(|_| CryptoError::Open)?;
        Ok(DataKey(Zeroizing::new(key)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn keys(versions: &[u32]) -> LocalKeys {
        let keys: Vec<(u32, Zeroizing<[u8; 32]>)> =
            versions.iter().map(|v| (*v, Zeroizing::new([*v as u8; 32]))).collect();
        LocalKeys::new(&keys).unwrap()
    }

    #[test]
    fn fields_are_bound_to_record_and_field() {
        let dek = DataKey::generate().unwrap();
        let sealed = dek.seal("c-1", "phone", "+81312345678".as_bytes()).unwrap();
        assert_eq!(&dek.open("c-1", "phone", &sealed).unwrap()[..], b"+81312345678");
        assert!(dek.open("c-2", "phone", &sealed).is_err(), "another record");
        assert!(dek.open("c-1", "email", &sealed).is_err(), "another field");
        assert!(DataKey::generate().unwrap().open("c-1", "phone", &sealed).is_err(), "another key");
    }

    #[test]
    fn wrapping_rotation_and_binding() {
        let v1 = keys(&[1]);
        let dek = DataKey::generate().unwrap();
        let sealed = dek.seal("c-1", "name", "山田 太郎".as_bytes()).unwrap();
        let wrapped = v1.wrap("c-1", &dek).unwrap();
        assert_eq!(wrapped.kek_version(), 1);
        assert!(v1.unwrap("c-2", &wrapped).is_err(), "a wrapped key belongs to its record");

        // Rotation: version 2 is added; old wraps still open; re-wrapping moves them to 2.
        let v12 = keys(&[1, 2]);
        assert_eq!(v12.current_version(), 2);
        let opened = v12.unwrap("c-1", &wrapped).unwrap();
        let rewrapped = v12.wrap("c-1", &opened).unwrap();
        assert_eq!(rewrapped.kek_version(), 2);
        let again = keys(&[2]).unwrap("c-1", &rewrapped).unwrap();
        assert_eq!(&again.open("c-1", "name", &sealed).unwrap()[..], "山田 太郎".as_bytes());
        assert!(keys(&[2]).unwrap("c-1", &wrapped).is_err(), "version 1 is gone once retired");

        let mut bad = wrapped.as_bytes().to_vec();
        bad[20] ^= 1;
        assert!(v1.unwrap("c-1", &WrappedKey::from_bytes(bad).unwrap()).is_err());
        assert!(WrappedKey::from_bytes(vec![1; 10]).is_err());
    }
}
