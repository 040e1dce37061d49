//! The export bundle: a JSON Lines file an auditor verifies with nothing but the log's public
//! key. Line 1 is the [`BundleHeader`]; every further line is one [`BundleEntry`], in index
//! order. The format is specified in `docs/audit-log.md`.

use crate::AuditEntry;
use crate::checkpoint::{Checkpoint, CheckpointVerifier};
use crate::merkle::{Hash, empty_root, verify_consistency};
use crate::verify::{LogWalk, Mismatch, Verified};
use serde::{Deserialize, Serialize};
use std::io::BufRead;

pub const BUNDLE_FORMAT: &str = "mamori-audit-bundle/1";

/// Hashes travel as lowercase hex, and only lowercase is accepted: every byte of a bundle has
/// one meaning, so changing any byte is a change the verifier sees.
pub mod hex_hash {
    use super::Hash;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }

    pub(super) fn parse(text: &str) -> Option<Hash> {
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        hex::decode(text).ok().and_then(|b| b.try_into().ok())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        parse(&String::deserialize(d)?).ok_or_else(|| D::Error::custom("not a 32-byte lowercase hex hash"))
    }

    pub mod list {
        use super::*;
        pub fn serialize<S: Serializer>(v: &[Hash], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(hex::encode))
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Hash>, D::Error> {
            Vec::<String>::deserialize(d)?
                .iter()
                .map(|t| parse(t))
                .collect::<Option<Vec<Hash>>>()
                .ok_or_else(|| D::Error::custom("not a list of 32-byte lowercase hex hashes"))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleHeader {
    pub format: String,
    pub origin: String,
    /// Entries before this index are not in the bundle (an earlier export holds them).
    pub from_size: u64,
    pub to_size: u64,
    /// The signed checkpoint at `from_size` (absent when it is 0).
    pub previous_checkpoint: Option<String>,
    /// The signed checkpoint at `to_size`.
    pub checkpoint: String,
    /// Signed checkpoints between the two, in order: they narrow down where a change is.
    pub intermediate_checkpoints: Vec<String>,
    /// The hashes of the complete subtrees that make up the first `from_size` entries.
    #[serde(with = "hex_hash::list")]
    pub frontier: Vec<Hash>,
    /// RFC 9162 consistency proof from `from_size` to `to_size`.
    #[serde(with = "hex_hash::list")]
    pub consistency_proof: Vec<Hash>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleEntry {
    #[serde(with = "hex_hash")]
    pub leaf_hash: Hash,
    pub entry: AuditEntry,
}

fn other(why: impl Into<String>) -> Mismatch {
    Mismatch::Other(why.into())
}

/// Verifies a bundle read line by line. `previous` is the checkpoint the auditor kept from the
/// last export, if any: the bundle must continue from exactly there.
pub fn verify_bundle(
    input: impl BufRead,
    key: &CheckpointVerifier,
    previous: Option<&str>,
) -> Result<Verified, Mismatch> {
    let mut lines = input.lines();
    let header_line = lines
        .next()
        .ok_or_else(|| other("the bundle is empty"))?
        .map_err(|e| other(format!("cannot read the bundle: {e}")))?;
    let header: BundleHeader = serde_json::from_str(&header_line)
        .map_err(|e| other(format!("line 1 is not a bundle header: {e}")))?;
    if header.format != BUNDLE_FORMAT {
        return Err(other(format!(
            "unknown bundle format `{}` (this verifier reads {BUNDLE_FORMAT})",
            header.format
        )));
    }
    if header.origin != key.origin() {
        return Err(other(format!(
            "the bundle is from log `{}`, the key is for `{}`",
            header.origin,
            key.origin()
        )));
    }
    let signed = |note: &str, what: &str| {
        key.verify(note).map_err(|e| other(format!("the {what} does not verify: {e}")))
    };
    let end = signed(&header.checkpoint, "checkpoint")?;
    if end.size != header.to_size {
        return Err(other(format!(
            "the checkpoint is for size {}, the bundle says {}",
            end.size, header.to_size
        )));
    }
    let start = match &header.previous_checkpoint {
        Some(note) => signed(note, "previous checkpoint")?,
        None if header.from_size == 0 => {
            Checkpoint { origin: header.origin.clone(), size: 0, root: empty_root() }
        }
        None => return Err(other("the bundle does not start at 0 and carries no previous checkpoint")),
    };
    if start.size != header.from_size {
        return Err(other(format!(
            "the previous checkpoint is for size {}, the bundle starts at {}",
            start.size, header.from_size
        )));
    }
    if let Some(kept) = previous {
        let kept = signed(kept, "previous checkpoint you supplied")?;
        if kept.size != start.size || kept.root != start.root {
            return Err(other(format!(
                "the bundle continues from size {}, not from your checkpoint at size {}: export from {} \
                 (or verify against the matching checkpoint)",
                start.size, kept.size, kept.size
            )));
        }
    }
    if !verify_consistency(start.size, end.size, &start.root, &end.root, &header.consistency_proof) {
        return Err(other(format!(
            "the consistency proof from size {} to {} does not verify: the log was rewritten or forked",
            start.size, end.size
        )));
    }
    let mut intermediate = Vec::with_capacity(header.intermediate_checkpoints.len());
    for note in &header.intermediate_checkpoints {
        let c = signed(note, "intermediate checkpoint")?;
        if c.size <= start.size || c.size >= end.size {
            return Err(other(format!(
                "an intermediate checkpoint (size {}) lies outside the bundle",
                c.size
            )));
        }
        intermediate.push(c);
    }
    intermediate.push(end);

    let mut walk = LogWalk::start(start.size, &header.frontier, &start.root)?;
    walk.expect(intermediate);
    for (n, line) in lines.enumerate() {
        let line_no = n + 2;
        let line = line.map_err(|e| other(format!("cannot read line {line_no}: {e}")))?;
        let expected = walk.size();
        if expected >= header.to_size {
            return Err(other(format!(
                "line {line_no}: an entry beyond size {}, which the checkpoint does not cover",
                header.to_size
            )));
        }
        let item: BundleEntry = serde_json::from_str(&line).map_err(|e| {
            other(format!("entry {expected} (line {line_no}) is unreadable, so it was changed: {e}"))
        })?;
        walk.push(&item.entry, &item.leaf_hash, |_, _| Ok(()))?;
    }
    walk.finish()
}

/// The root of a bundle's checkpoint, for printing after a successful check.
pub fn hex_root(root: &Hash) -> String {
    hex::encode(root)
}
