//! The file key provider's key file: every version of the key-encryption key, one per line as
//! `<version> <base64 key>`, mode 0600, in the data directory (never in the database). A
//! rotation appends a version; old versions stay until every data key is re-wrapped.

use crate::envelope::{DataKey, KeyProvider, LocalKeys, VersionedKeys, WrappedKey};
use crate::{CryptoError, random_bytes};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use zeroize::Zeroizing;

fn err(path: &Path, problem: impl Into<String>) -> CryptoError {
    CryptoError::KeyFile { path: path.display().to_string(), problem: problem.into() }
}

fn read(path: &Path) -> Result<VersionedKeys, CryptoError> {
    let mode = std::fs::metadata(path).map_err(|e| err(path, e.to_string()))?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(err(
            path,
            format!("is readable by other users (mode {:o}); run `chmod 600` on it", mode & 0o777),
        ));
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(path, e.to_string()))?);
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = || err(path, format!("line {} is not `<version> <base64 key>`", n + 1));
        let (version, key) = line.trim().split_once(' ').ok_or_else(bad)?;
        let version: u32 = version.parse().map_err(|_| bad())?;
        let key = Zeroizing::new(B64.decode(key).map_err(|_| bad())?);
        let key: [u8; 32] = key.as_slice().try_into().map_err(|_| bad())?;
        if keys.iter().any(|(v, _)| *v == version) {
            return Err(err(path, format!("version {version} appears twice")));
        }
        keys.push((version, Zeroizing::new(key)));
    }
    if keys.is_empty() {
        return Err(err(path, "holds no key"));
    }
    Ok(keys)
}

fn write(path: &Path, keys: &[(u32, Zeroizing<[u8; 32]>)]) -> Result<(), CryptoError> {
    let tmp = path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| err(&tmp, e.to_string()))?;
    let mut text = Zeroizing::new(String::new());
    for (v, k) in keys {
        text.push_str(&format!("{v} {}\n", B64.encode(&k[..])));
    }
    f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(|e| err(&tmp, e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| err(path, e.to_string()))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| err(dir, e.to_string()))?;
    }
    Ok(())
}

/// The file key provider: the key file's versions, read again when a version it does not know
/// turns up (another process rotated) — so a running server follows `mamori keys rotate`
/// without a restart.
pub struct FileKeyProvider {
    path: std::path::PathBuf,
    keys: std::sync::RwLock<LocalKeys>,
    /// When the file was last read: a newer file means another process rotated.
    read_at: std::sync::Mutex<Option<std::time::SystemTime>>,
}

impl std::fmt::Debug for FileKeyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileKeyProvider").field("path", &self.path).finish_non_exhaustive()
    }
}

impl FileKeyProvider {
    /// Opens the key file, creating it with a first version if it does not exist.
    pub fn open(path: &Path) -> Result<Self, CryptoError> {
        let keys = std::sync::RwLock::new(load_or_create(path)?);
        let read_at = std::sync::Mutex::new(modified(path));
        Ok(FileKeyProvider { path: path.to_owned(), keys, read_at })
    }

    /// Reads the file again.
    pub fn reload(&self) -> Result<(), CryptoError> {
        if let Ok(mut at) = self.read_at.lock() {
            *at = modified(&self.path);
        }
        let fresh = LocalKeys::new(&read(&self.path)?)?;
        let mut keys = self.keys.write().map_err(|_| CryptoError::Open)?;
        *keys = fresh;
        Ok(())
    }

    fn with<T>(&self, f: impl FnOnce(&LocalKeys) -> Result<T, CryptoError>) -> Result<T, CryptoError> {
        f(&*self.keys.read().map_err(|_| CryptoError::Open)?)
    }
}

impl KeyProvider for FileKeyProvider {
    fn current_version(&self) -> u32 {
        self.with(|k| Ok(k.current_version())).unwrap_or(0)
    }

    fn wrap(&self, record: &str, key: &DataKey) -> Result<WrappedKey, CryptoError> {
        // New keys are wrapped with the newest version, even one another process just added.
        let stale = self.read_at.lock().map(|at| *at != modified(&self.path)).unwrap_or(true);
        if stale {
            self.reload()?;
        }
        self.with(|k| k.wrap(record, key))
    }

    /// Adds a version to the file and uses it from now on.
    fn add_version(&self) -> Result<u32, CryptoError> {
        let v = add_version(&self.path)?;
        self.reload()?;
        Ok(v)
    }

    fn retire_before(&self, version: u32) -> Result<Vec<u32>, CryptoError> {
        let retired = retire_before(&self.path, version)?;
        self.reload()?;
        Ok(retired)
    }

    fn unwrap(&self, record: &str, wrapped: &WrappedKey) -> Result<DataKey, CryptoError> {
        let known = self.with(|k| Ok(k.has_version(wrapped.kek_version())))?;
        if !known {
            self.reload()?;
        }
        self.with(|k| k.unwrap(record, wrapped))
    }
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Loads the keys, creating the file with a first version if it does not exist.
pub fn load_or_create(path: &Path) -> Result<LocalKeys, CryptoError> {
    if !path.exists() {
        write(path, &[(1, Zeroizing::new(random_bytes::<32>()?))])?;
    }
    LocalKeys::new(&read(path)?)
}

/// Adds a new version (the current one from now on) and returns it.
pub fn add_version(path: &Path) -> Result<u32, CryptoError> {
    let mut keys = read(path)?;
    let next = keys.iter().map(|(v, _)| *v).max().unwrap_or(0) + 1;
    keys.push((next, Zeroizing::new(random_bytes::<32>()?)));
    write(path, &keys)?;
    Ok(next)
}

/// Removes every version below `version` from the file; returns the versions removed. The
/// newest version always stays.
pub fn retire_before(path: &Path, version: u32) -> Result<Vec<u32>, CryptoError> {
    let keys = read(path)?;
    let newest = keys.iter().map(|(v, _)| *v).max().unwrap_or(0);
    let floor = version.min(newest);
    let (retired, kept): (Vec<_>, Vec<_>) = keys.into_iter().partition(|(v, _)| *v < floor);
    if !retired.is_empty() {
        write(path, &kept)?;
    }
    Ok(retired.into_iter().map(|(v, _)| v).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::envelope::{DataKey, KeyProvider};

    #[test]
    fn versions_survive_reloading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault-kek.keys");
        let v1 = load_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let dek = DataKey::generate().unwrap();
        let wrapped = v1.wrap("c-1", &dek).unwrap();
        assert_eq!(add_version(&path).unwrap(), 2);
        let v2 = load_or_create(&path).unwrap();
        assert_eq!(v2.current_version(), 2);
        assert!(v2.unwrap("c-1", &wrapped).is_ok(), "old versions stay readable");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(load_or_create(&path).unwrap_err().to_string().contains("chmod 600"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let provider = FileKeyProvider::open(&path).unwrap();
        let third = provider.add_version().unwrap();
        assert_eq!(provider.current_version(), third);
        // Another process rotates: this one follows when it meets the new version.
        let other = FileKeyProvider::open(&path).unwrap();
        add_version(&path).unwrap();
        let dek = DataKey::generate().unwrap();
        let newer = FileKeyProvider::open(&path).unwrap().wrap("c-9", &dek).unwrap();
        assert!(other.unwrap("c-9", &newer).is_ok(), "an unknown version makes it read the file again");
        // Retiring destroys the old versions: what they wrapped is gone, the newest stays.
        assert_eq!(provider.retire_before(u32::MAX).unwrap(), vec![1, 2, 3]);
        assert!(provider.unwrap("c-1", &wrapped).is_err(), "retired versions open nothing");
        assert!(provider.unwrap("c-9", &newer).is_ok());
        assert!(retire_before(&path, 4).unwrap().is_empty());
        std::fs::write(&path, "1 not-base64\n").unwrap();
        assert!(load_or_create(&path).unwrap_err().to_string().contains("line 1"));
    }
}
