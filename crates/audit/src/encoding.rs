//! The canonical byte encoding of an entry: what its leaf hash covers. Specified in
//! `docs/audit-log.md`; version 1:
//!
//! ```text
//! u8  version (1)
//! u64 index          big-endian, 0-based position in the log
//! i64 time           big-endian, Unix milliseconds
//! str category       str = u32 big-endian byte length, then UTF-8 bytes
//! str action
//! str actor
//! opt object         opt = u8 0 (absent) | u8 1 then str
//! str outcome
//! opt source_ip
//! opt request_id
//! u32 detail count, then per detail in ascending byte order of keys: str key, str value
//! ```

use crate::AuditEntry;

pub const ENCODING_VERSION: u8 = 1;

/// The fields of an entry as borrowed text: what the encoding reads, whether the entry came
/// from the database or from a bundle being verified.
pub struct EntryFields<'a, D> {
    pub index: u64,
    pub time: i64,
    pub category: &'a str,
    pub action: &'a str,
    pub actor: &'a str,
    pub object: Option<&'a str>,
    pub outcome: &'a str,
    pub source_ip: Option<&'a str>,
    pub request_id: Option<&'a str>,
    /// In ascending byte order of keys, each key once.
    pub details: D,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Lengths beyond u32 cannot occur: fields are bounded long before (1 MiB request limit).
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

/// Writes the canonical bytes of `f` into `out` (cleared first).
pub fn encode_fields<'a, D>(f: &EntryFields<'a, D>, out: &mut Vec<u8>)
where
    D: Iterator<Item = (&'a str, &'a str)> + ExactSizeIterator + Clone,
{
    out.clear();
    out.push(ENCODING_VERSION);
    out.extend_from_slice(&f.index.to_be_bytes());
    out.extend_from_slice(&f.time.to_be_bytes());
    put_str(out, f.category);
    put_str(out, f.action);
    put_str(out, f.actor);
    put_opt(out, f.object);
    put_str(out, f.outcome);
    put_opt(out, f.source_ip);
    put_opt(out, f.request_id);
    out.extend_from_slice(&u32::try_from(f.details.len()).unwrap_or(u32::MAX).to_be_bytes());
    for (k, v) in f.details.clone() {
        put_str(out, k);
        put_str(out, v);
    }
}

/// The bytes the leaf hash is computed over.
pub fn encode(e: &AuditEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(160);
    // A BTreeMap of Strings iterates in ascending byte order of keys.
    let fields = EntryFields {
        index: e.index,
        time: e.time.0,
        category: e.category.as_str(),
        action: &e.action,
        actor: &e.actor,
        object: e.object.as_deref(),
        outcome: e.outcome.as_str(),
        source_ip: e.source_ip.as_deref(),
        request_id: e.request_id.as_deref(),
        details: e.details.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    };
    encode_fields(&fields, &mut out);
    out
}

/// The entry's leaf hash in the log's Merkle tree.
pub fn leaf_hash(e: &AuditEntry) -> crate::merkle::Hash {
    crate::merkle::leaf_hash(&encode(e))
}

/// Why bytes are not a version-1 entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a canonical audit entry: {0}")]
pub struct DecodeError(&'static str);

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(DecodeError("it ends too early"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }
    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = usize::try_from(self.u32()?).map_err(|_| DecodeError("a length is too large"))?;
        std::str::from_utf8(self.take(n)?).map_err(|_| DecodeError("text that is not UTF-8"))
    }
    fn opt(&mut self) -> Result<Option<&'a str>, DecodeError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.str()?)),
            _ => Err(DecodeError("an optional field marker other than 0 or 1")),
        }
    }
}

/// The fields of canonical bytes, borrowed from them.
pub struct Decoded<'a> {
    pub index: u64,
    pub time: i64,
    pub category: crate::Category,
    pub action: &'a str,
    pub actor: &'a str,
    pub object: Option<&'a str>,
    pub outcome: crate::Outcome,
    pub source_ip: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub details: Vec<(&'a str, &'a str)>,
}

/// Reads canonical bytes, refusing anything [`encode`] would not have written (so that one
/// entry has exactly one encoding).
pub fn decode_borrowed(bytes: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let mut r = Reader { bytes };
    if r.u8()? != ENCODING_VERSION {
        return Err(DecodeError("an unknown version"));
    }
    let index = r.u64()?;
    let time = i64::from_be_bytes(r.u64()?.to_be_bytes());
    let category = crate::Category::parse(r.str()?).ok_or(DecodeError("an unknown category"))?;
    let (action, actor, object) = (r.str()?, r.str()?, r.opt()?);
    let outcome = crate::Outcome::parse(r.str()?).ok_or(DecodeError("an unknown outcome"))?;
    let (source_ip, request_id) = (r.opt()?, r.opt()?);
    let count = r.u32()?;
    let mut details: Vec<(&str, &str)> = Vec::with_capacity(usize::try_from(count.min(64)).unwrap_or(0));
    for _ in 0..count {
        let (k, v) = (r.str()?, r.str()?);
        if details.last().is_some_and(|(last, _)| *last >= k) {
            return Err(DecodeError("details out of order or repeated"));
        }
        details.push((k, v));
    }
    if !r.bytes.is_empty() {
        return Err(DecodeError("bytes after the end"));
    }
    Ok(Decoded { index, time, category, action, actor, object, outcome, source_ip, request_id, details })
}

/// Checks that `bytes` are a canonical entry, without keeping its fields; returns its index.
pub fn check(bytes: &[u8]) -> Result<u64, DecodeError> {
    let mut r = Reader { bytes };
    if r.u8()? != ENCODING_VERSION {
        return Err(DecodeError("an unknown version"));
    }
    let index = r.u64()?;
    r.u64()?;
    crate::Category::parse(r.str()?).ok_or(DecodeError("an unknown category"))?;
    // action, actor, object: any text
    r.str()?;
    r.str()?;
    r.opt()?;
    crate::Outcome::parse(r.str()?).ok_or(DecodeError("an unknown outcome"))?;
    // source_ip, request_id
    r.opt()?;
    r.opt()?;
    let mut last: Option<&str> = None;
    for _ in 0..r.u32()? {
        let (k, _) = (r.str()?, r.str()?);
        if last.is_some_and(|l| l >= k) {
            return Err(DecodeError("details out of order or repeated"));
        }
        last = Some(k);
    }
    if !r.bytes.is_empty() {
        return Err(DecodeError("bytes after the end"));
    }
    Ok(index)
}

/// [`decode_borrowed`], into an owned entry.
pub fn decode(bytes: &[u8]) -> Result<AuditEntry, DecodeError> {
    let d = decode_borrowed(bytes)?;
    Ok(AuditEntry {
        index: d.index,
        time: mamori_domain::UnixMillis(d.time),
        category: d.category,
        action: d.action.to_owned(),
        actor: d.actor.to_owned(),
        object: d.object.map(str::to_owned),
        outcome: d.outcome,
        source_ip: d.source_ip.map(str::to_owned),
        request_id: d.request_id.map(str::to_owned),
        details: d.details.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{Category, Outcome};
    use mamori_domain::UnixMillis;

    /// A fixed example, byte for byte, so the specification in docs/audit-log.md and this code
    /// cannot drift apart silently (the same bytes are printed there).
    #[test]
    fn example_bytes() {
        let e = AuditEntry {
            index: 7,
            time: UnixMillis(1_700_000_000_000),
            category: Category::Login,
            action: "session.end".into(),
            actor: "user:u1".into(),
            object: None,
            outcome: Outcome::Success,
            source_ip: Some("192.0.2.1".into()),
            request_id: None,
            details: [("reason".to_owned(), "sign_out".to_owned())].into(),
        };
        let bytes = encode(&e);
        assert_eq!(
            hex::encode(&bytes),
            "01\
             0000000000000007\
             0000018bcfe56800\
             000000056c6f67696e\
             0000000b73657373696f6e2e656e64\
             00000007757365723a7531\
             00\
             0000000773756363657373\
             01000000093139322e302e322e31\
             00\
             00000001\
             00000006726561736f6e\
             000000087369676e5f6f7574"
        );
        assert_eq!(
            hex::encode(leaf_hash(&e)),
            hex::encode(crate::merkle::leaf_hash(&bytes)),
            "leaf = SHA-256(0x00 ‖ entry)"
        );
        assert_eq!(decode(&bytes), Ok(e), "decodes back");
        assert_eq!(check(&bytes), Ok(7));
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err() && check(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err() && check(&longer).is_err());
    }

    #[test]
    fn every_field_is_covered() {
        let base = AuditEntry {
            index: 1,
            time: UnixMillis(2),
            category: Category::Operation,
            action: "a.b".into(),
            actor: "system".into(),
            object: Some("user:x".into()),
            outcome: Outcome::Success,
            source_ip: None,
            request_id: Some("r".into()),
            details: Default::default(),
        };
        let h = leaf_hash(&base);
        type Change = Box<dyn Fn(&mut AuditEntry)>;
        let variants: Vec<Change> = vec![
            Box::new(|e| e.index = 2),
            Box::new(|e| e.time = UnixMillis(3)),
            Box::new(|e| e.category = Category::Access),
            Box::new(|e| e.action = "a.c".into()),
            Box::new(|e| e.actor = "anonymous".into()),
            Box::new(|e| e.object = None),
            Box::new(|e| e.outcome = Outcome::Denied),
            Box::new(|e| e.source_ip = Some(String::new())),
            Box::new(|e| e.request_id = None),
            Box::new(|e| {
                e.details.insert("k".into(), "v".into());
            }),
            // Moving bytes between adjacent fields changes the encoding too (length prefixes).
            Box::new(|e| {
                e.action = "a.bs".into();
                e.actor = "ystem".into();
            }),
        ];
        for change in variants {
            let mut e = base.clone();
            change(&mut e);
            assert_ne!(leaf_hash(&e), h, "{e:?}");
        }
    }
}
