//! Mamori's cryptography, all of it from well-kept crates: Argon2id for passwords, RFC 6238 TOTP,
//! AES-256-GCM for secrets kept in the database, SHA-256 digests for bearer secrets, and key files
//! created with mode 0600, HMAC-SHA-256 keyed hashes of ids for the audit log, and
//! Ed25519 signatures of the endpoint agents' requests. Nothing here is a home-made cipher or hash.

pub mod device_auth;
pub mod envelope;
// Key files rely on Unix permissions; the server runs on Unix, the agent needs neither.
#[cfg(unix)]
pub mod kek_file;
pub mod keyed_id;
#[cfg(unix)]
pub mod keyfile;
pub mod password;
pub mod secret_box;
pub mod tokens;
pub mod totp;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the system random number generator failed: {0}")]
    Random(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("a sealed secret could not be opened (wrong key or damaged data)")]
    Open,
    #[error("TOTP setup failed: {0}")]
    Totp(String),
    #[error("key file {path}: {problem}")]
    KeyFile { path: String, problem: String },
}

/// Fills a buffer from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| CryptoError::Random(e.to_string()))?;
    Ok(buf)
}
