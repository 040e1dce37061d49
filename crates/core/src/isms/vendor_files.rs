//! Evidence files attached to a vendor (issue 17, item 5): a signed NDA, an audit report, a
//! site-visit photo, a certificate scan. Stored sealed like a customer record (`crate::vault`):
//! the content under a data key of its own (AES-256-GCM, the associated data binding the file's
//! id and its vendor's, so a sealed blob moved to another row does not open), the data key
//! wrapped by the vault's versioned key-encryption key — the same key holder and current
//! version, re-wrapped by the same rotation. The sealed content is kept in the row (10 MiB at
//! most).
//!
//! Who: `isms.manage` attaches; `isms.read` lists (metadata only) and downloads — each download
//! opened, its SHA-256 checked and audited in its transaction. Nothing else: evidence is never
//! changed or deleted.

use super::Isms;
use crate::{CoreError, Principal, check_id, new_id};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions};
use mamori_crypto::envelope::{DataKey, WrappedKey};
use mamori_domain::Permission;
use mamori_proto::ErrorCode;
pub use mamori_store::VendorFileRecord;
use mamori_store::VendorFileSealed;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Largest file a vendor takes.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// Longest file name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 2_000;

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The media types a vendor file may have.
pub const MEDIA_TYPES: &[&str] =
    &["application/pdf", "image/png", "image/jpeg", DOCX, XLSX, "text/plain", "text/csv"];

/// The name a sealed file is bound to: its data key's wrap and its content's seal.
fn record_name(file_id: &str) -> String {
    format!("vendor_file:{file_id}")
}

/// What the content's seal is bound to besides the file: its vendor.
fn field_name(vendor_id: &str) -> String {
    format!("vendor:{vendor_id}")
}

/// A media type as sent (`text/csv; charset=utf-8`), normalised and checked against the
/// allow-list.
pub fn media_type_of(claimed: &str) -> Result<&'static str, CoreError> {
    let bare = claimed.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    MEDIA_TYPES.iter().copied().find(|m| *m == bare).ok_or_else(|| {
        CoreError::invalid(
            "media_type",
            ErrorCode::InvalidValue,
            format!("a vendor file is one of: {}", MEDIA_TYPES.join(", ")),
        )
    })
}

fn zip_holds(bytes: &[u8], entry_prefix: &[u8]) -> bool {
    // An OOXML file is a ZIP archive; its entries' names are stored uncompressed.
    bytes.windows(entry_prefix.len()).any(|w| w == entry_prefix)
}

/// Whether the content is what its media type says, by its first bytes (and, for office files,
/// the archive's entries).
fn content_matches(media_type: &str, bytes: &[u8]) -> bool {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    const ZIP: &[u8] = b"PK\x03\x04";
    let binary = [&b"%PDF-"[..], PNG, b"\xff\xd8\xff", ZIP].iter().any(|m| bytes.starts_with(m));
    match media_type {
        "application/pdf" => bytes.starts_with(b"%PDF-"),
        "image/png" => bytes.starts_with(PNG),
        "image/jpeg" => bytes.starts_with(b"\xff\xd8\xff"),
        DOCX => {
            bytes.starts_with(ZIP) && zip_holds(bytes, b"[Content_Types].xml") && zip_holds(bytes, b"word/")
        }
        XLSX => {
            bytes.starts_with(ZIP) && zip_holds(bytes, b"[Content_Types].xml") && zip_holds(bytes, b"xl/")
        }
        "text/plain" | "text/csv" => !binary && !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok(),
        _ => false,
    }
}

/// Checks a file name: no path, no control characters, at most 200 characters.
pub fn check_file_name(name: &str) -> Result<String, CoreError> {
    let name = name.trim();
    let bad = |m: &str| CoreError::invalid("name", ErrorCode::InvalidValue, m.to_owned());
    if name.is_empty() {
        return Err(CoreError::invalid("name", ErrorCode::Required, "name the file"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(bad("a file name is at most 200 characters"));
    }
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(bad("a file name holds no path (no `/` or `\\`)"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("a file name holds no control characters"));
    }
    Ok(name.to_owned())
}

/// A file to attach, as received.
#[derive(Debug, Clone)]
pub struct NewVendorFile {
    pub name: String,
    /// The media type claimed (the `Content-Type` or the form's part).
    pub media_type: String,
    pub content: Vec<u8>,
    pub note: Option<String>,
    /// The site visit it documents.
    pub visit_id: Option<String>,
}

/// A vendor file as a list shows it: who uploaded it by name.
#[derive(Debug, Clone)]
pub struct VendorFileView {
    pub record: VendorFileRecord,
    /// The uploader's display name: the person, or the owner of the API token used.
    pub uploaded_by_name: Option<String>,
}

/// A downloaded file: its metadata and its content, opened and checked.
#[derive(Debug, Clone)]
pub struct VendorFileContent {
    pub record: VendorFileRecord,
    pub content: Vec<u8>,
}

impl Isms {
    /// Attaches an evidence file to a vendor: checked (size, name, media type against the
    /// content's first bytes), sealed under a new data key wrapped by the vault's current key
    /// version, stored and audited in one transaction. Returns the file's id.
    pub async fn attach_vendor_file(
        &self,
        principal: &Principal,
        vendor_id: &str,
        file: NewVendorFile,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::VENDOR_FILE_ATTACH, ctx).await?;
        check_id(vendor_id, "vendor")?;
        if file.content.is_empty() {
            return Err(CoreError::invalid("file", ErrorCode::Required, "the file is empty"));
        }
        if file.content.len() > MAX_FILE_BYTES {
            return Err(CoreError::invalid(
                "file",
                ErrorCode::BodyTooLarge,
                "a vendor file is at most 10 MiB",
            ));
        }
        let name = check_file_name(&file.name)?;
        let media_type = media_type_of(&file.media_type)?;
        if !content_matches(media_type, &file.content) {
            return Err(CoreError::invalid(
                "file",
                ErrorCode::InvalidValue,
                format!("the file's content is not {media_type}"),
            ));
        }
        let note = file.note.map(|n| n.trim().to_owned()).unwrap_or_default();
        if note.chars().count() > MAX_NOTE_CHARS
            || note.chars().any(|c| c.is_control() && c != '\n' && c != '\r')
        {
            return Err(CoreError::invalid(
                "note",
                ErrorCode::InvalidValue,
                "a note is at most 2,000 characters, without control characters",
            ));
        }
        let visit_id = file.visit_id.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());

        let id = new_id();
        let sha256 = hex::encode(Sha256::digest(&file.content));
        let key = DataKey::generate()?;
        let content = key.seal(&record_name(&id), &field_name(vendor_id), &file.content)?;
        let wrapped = self.vault_kek.wrap(&record_name(&id), &key)?;
        let size = i64::try_from(file.content.len()).unwrap_or(i64::MAX);
        drop(file.content);

        let mut tx = self.base.store.begin().await?;
        tx.vendor(vendor_id).await?.ok_or(CoreError::NotFound { what: "vendor" })?;
        if let Some(visit) = &visit_id
            && !tx.vendor_visits(vendor_id).await?.iter().any(|v| &v.id == visit)
        {
            return Err(CoreError::invalid(
                "visit_id",
                ErrorCode::InvalidValue,
                "no visit of this vendor has this id",
            ));
        }
        let record = VendorFileRecord {
            id: id.clone(),
            vendor_id: vendor_id.to_owned(),
            name,
            media_type: media_type.to_owned(),
            size,
            sha256: sha256.clone(),
            kek_version: wrapped.kek_version(),
            note,
            visit_id,
            uploaded_at: self.base.now(),
            uploaded_by: principal.actor().encode(),
        };
        tx.insert_vendor_file(
            &record,
            &VendorFileSealed { wrapped_key: wrapped.as_bytes().to_vec(), content },
        )
        .await?;
        let e = AuditEvent::of(&actions::VENDOR_FILE_ATTACH, principal.actor(), Outcome::Success)
            .object(format!("vendor:{vendor_id}"))
            .detail("file", id.clone())
            .detail("media_type", media_type.to_owned())
            .detail("bytes", size.to_string())
            .detail("digest", sha256)
            .detail("kek_version", record.kek_version.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A vendor's files, newest first: metadata only, nothing opened.
    pub async fn vendor_files(
        &self,
        principal: &Principal,
        vendor_id: &str,
        ctx: &RequestContext,
    ) -> Result<Vec<VendorFileView>, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        check_id(vendor_id, "vendor")?;
        let mut read = self.base.store.read().await?;
        read.vendor(vendor_id).await?.ok_or(CoreError::NotFound { what: "vendor" })?;
        let files = read.vendor_files(vendor_id).await?;
        let mut names: HashMap<String, String> = HashMap::new();
        if !files.is_empty() {
            let users: HashMap<String, String> =
                read.list_users().await?.into_iter().map(|u| (u.id, u.display_name)).collect();
            for actor in files.iter().map(|f| f.uploaded_by.clone()) {
                if names.contains_key(&actor) {
                    continue;
                }
                // A person, or an API token by its owner's name.
                let owner = match actor.split_once(':') {
                    Some(("user", id)) => Some(id.to_owned()),
                    Some(("token", id)) => read.api_token_by_id(id).await?.map(|t| t.owner_id),
                    _ => None,
                };
                if let Some(name) = owner.and_then(|o| users.get(&o).cloned()) {
                    names.insert(actor, name);
                }
            }
        }
        Ok(files
            .into_iter()
            .map(|record| VendorFileView {
                uploaded_by_name: names.get(&record.uploaded_by).cloned(),
                record,
            })
            .collect())
    }

    /// Downloads a vendor's file: opened (whatever key version wraps its data key), its SHA-256
    /// checked, and the read audited in the same transaction — no content without its entry.
    pub async fn read_vendor_file(
        &self,
        principal: &Principal,
        vendor_id: &str,
        file_id: &str,
        ctx: &RequestContext,
    ) -> Result<VendorFileContent, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        check_id(vendor_id, "vendor")?;
        check_id(file_id, "vendor file")?;
        let mut tx = self.base.store.begin().await?;
        let (record, sealed) =
            tx.vendor_file(vendor_id, file_id).await?.ok_or(CoreError::NotFound { what: "vendor file" })?;
        let content = open_file(self.vault_kek.as_ref(), &record, &sealed)?;
        let e = AuditEvent::of(&actions::VENDOR_FILE_READ, principal.actor(), Outcome::Success)
            .object(format!("vendor:{vendor_id}"))
            .detail("file", record.id.clone())
            .detail("bytes", record.size.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(VendorFileContent { record, content })
    }
}

/// Opens a sealed file and checks it is what was stored.
fn open_file(
    kek: &dyn mamori_crypto::envelope::KeyProvider,
    record: &VendorFileRecord,
    sealed: &VendorFileSealed,
) -> Result<Vec<u8>, CoreError> {
    let name = record_name(&record.id);
    let key = kek.unwrap(&name, &WrappedKey::from_bytes(sealed.wrapped_key.clone())?)?;
    let content = key.open(&name, &field_name(&record.vendor_id), &sealed.content)?;
    if hex::encode(Sha256::digest(&content[..])) != record.sha256 {
        return Err(CoreError::Internal(format!(
            "vendor file {}: its content does not match its SHA-256",
            record.id
        )));
    }
    Ok(content.to_vec())
}

/// Re-wraps the data keys of vendor files wrapped below `version` (a batch per transaction);
/// the key rotation of the vault calls it after the customers'. Returns how many it re-wrapped.
pub(crate) async fn rewrap_vendor_files(
    base: &crate::Base,
    kek: &dyn mamori_crypto::envelope::KeyProvider,
    version: u32,
    batch: i64,
) -> Result<u64, CoreError> {
    let mut done = 0u64;
    loop {
        let rows = base.store.read().await?.vendor_files_to_rewrap(version, batch.max(1)).await?;
        if rows.is_empty() {
            return Ok(done);
        }
        let mut rewrapped = Vec::with_capacity(rows.len());
        for (id, old) in rows {
            let name = record_name(&id);
            let key = kek.unwrap(&name, &WrappedKey::from_bytes(old.clone())?)?;
            rewrapped.push((id, old, kek.wrap(&name, &key)?));
        }
        let mut tx = base.store.begin().await?;
        for (id, old, new) in &rewrapped {
            if tx.rewrap_vendor_file(id, old, new.as_bytes(), new.kek_version()).await? {
                done += 1;
            }
        }
        tx.commit().await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_checked_against_the_claimed_type() {
        assert!(content_matches("application/pdf", b"%PDF-1.7\n..."));
        assert!(!content_matches("application/pdf", b"\x89PNG\r\n\x1a\n...."));
        assert!(content_matches("image/png", b"\x89PNG\r\n\x1a\n...."));
        assert!(content_matches("image/jpeg", b"\xff\xd8\xff\xe0...."));
        assert!(content_matches("text/csv", "a,b\n名前,1\n".as_bytes()));
        assert!(!content_matches("text/plain", b"%PDF-1.7"));
        assert!(!content_matches("text/plain", b"a\0b"));
        assert!(content_matches(XLSX, b"PK\x03\x04..[Content_Types].xml..xl/workbook.xml"));
        assert!(!content_matches(DOCX, b"PK\x03\x04..[Content_Types].xml..xl/workbook.xml"));
        assert_eq!(media_type_of("Text/CSV; charset=utf-8").unwrap(), "text/csv");
        assert!(media_type_of("application/zip").is_err());
    }

    #[test]
    fn names_hold_no_path() {
        assert!(check_file_name("NDA 2026.pdf").is_ok());
        assert!(check_file_name("../etc/passwd").is_err());
        assert!(check_file_name("a\\b.pdf").is_err());
        assert!(check_file_name("a\nb.pdf").is_err());
        assert!(check_file_name(&"x".repeat(201)).is_err());
        assert!(check_file_name("  ").is_err());
    }
}
