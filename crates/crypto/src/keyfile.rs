//! Key files in the data directory: created once with mode 0600, refused if others can read them.

use crate::{CryptoError, random_bytes};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use zeroize::Zeroizing;

fn err(path: &Path, problem: impl Into<String>) -> CryptoError {
    CryptoError::KeyFile { path: path.display().to_string(), problem: problem.into() }
}

/// Reads a 32-byte key, creating it (0600, random) if the file does not exist yet.
/// Returns the key and whether it was created now.
pub fn load_or_create_32(path: &Path) -> Result<(Zeroizing<[u8; 32]>, bool), CryptoError> {
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(mut f) => {
            let key = Zeroizing::new(random_bytes::<32>()?);
            f.write_all(&key[..]).and_then(|()| f.sync_all()).map_err(|e| err(path, e.to_string()))?;
            Ok((key, true))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok((load_32(path)?, false)),
        Err(e) => Err(err(path, e.to_string())),
    }
}

fn load_32(path: &Path) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let mut f = std::fs::File::open(path).map_err(|e| err(path, e.to_string()))?;
    let mode = f.metadata().map_err(|e| err(path, e.to_string()))?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(err(
            path,
            format!("is readable by other users (mode {:o}); run `chmod 600` on it", mode & 0o777),
        ));
    }
    let mut buf = Zeroizing::new(Vec::new());
    f.read_to_end(&mut buf).map_err(|e| err(path, e.to_string()))?;
    let key: [u8; 32] = buf
        .as_slice()
        .try_into()
        .map_err(|_| err(path, format!("holds {} bytes, expected 32", buf.len())))?;
    Ok(Zeroizing::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_0600_then_reloaded() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("k.key");
        let (k1, created) = load_or_create_32(&p)?;
        assert!(created);
        assert_eq!(std::fs::metadata(&p)?.permissions().mode() & 0o777, 0o600);
        let (k2, created) = load_or_create_32(&p)?;
        assert!(!created);
        assert_eq!(*k1, *k2);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644))?;
        assert!(load_or_create_32(&p).unwrap_err().to_string().contains("chmod 600"));
        Ok(())
    }
}
