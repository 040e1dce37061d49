//! The export bundle: a text file an auditor verifies with nothing but the log's public key.
//! Line 1 is the [`BundleHeader`] as JSON; every further line is one entry, in index order: its
//! recorded leaf hash in hex, a space, and its canonical bytes in base64 ([`entry_line`]) — so
//! the verifier hashes exactly the bytes it reads. `mamori audit show` prints the entries as
//! JSON. The format is specified in `docs/audit-log.md`.

use crate::AuditEntry;
use crate::checkpoint::{Checkpoint, CheckpointVerifier};
use crate::merkle::{Hash, empty_root, leaf_hash, verify_consistency};
use crate::verify::{LogWalk, Mismatch, Verified};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
        // Into a fixed array: no allocation, as this runs once per entry line.
        let mut hash = [0u8; 32];
        hex::decode_to_slice(text, &mut hash).ok().map(|()| hash)
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

/// One entry's line (without the newline): recorded leaf hash, space, canonical bytes.
pub fn entry_line(entry: &AuditEntry, recorded_leaf: &Hash) -> String {
    format!("{} {}", hex::encode(recorded_leaf), B64.encode(crate::encoding::encode(entry)))
}

/// Reads an entry line back: the recorded leaf hash and the entry.
pub fn parse_entry_line(line: &str) -> Result<(Hash, AuditEntry), String> {
    let mut bytes = Vec::new();
    let recorded = split_line_into(line.as_bytes(), &mut bytes)?;
    let recorded = hex_hash_of(recorded)?;
    Ok((recorded, crate::encoding::decode(&bytes).map_err(|e| e.to_string())?))
}

/// The recorded leaf hash as written (64 hex digits, unchecked); the entry's bytes go into
/// `bytes` (cleared first).
fn split_line_into<'l>(line: &'l [u8], bytes: &mut Vec<u8>) -> Result<&'l [u8], String> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let (Some(leaf), Some(b' '), Some(entry)) = (line.get(..64), line.get(64), line.get(65..)) else {
        return Err("a line holds a 64-digit hash, a space and the entry".into());
    };
    bytes.clear();
    B64.decode_vec(entry, bytes).map_err(|e| format!("the entry is not base64: {e}"))?;
    Ok(leaf)
}

fn hex_hash_of(text: &[u8]) -> Result<Hash, String> {
    std::str::from_utf8(text)
        .ok()
        .and_then(hex_hash::parse)
        .ok_or_else(|| "the leaf hash is not lowercase hex".into())
}

fn other(why: impl Into<String>) -> Mismatch {
    Mismatch::Other(why.into())
}

/// Verifies a bundle read line by line. `previous` is the checkpoint the auditor kept from the
/// last export, if any: the bundle must continue from exactly there.
pub fn verify_bundle(
    mut input: impl BufRead + Send,
    key: &CheckpointVerifier,
    previous: Option<&str>,
) -> Result<Verified, Mismatch> {
    let mut header_line = Vec::new();
    input.read_until(b'\n', &mut header_line).map_err(|e| other(format!("cannot read the bundle: {e}")))?;
    if header_line.is_empty() {
        return Err(other("the bundle is empty"));
    }
    let header: BundleHeader = serde_json::from_slice(&header_line)
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
    let (from, to) = (header.from_size, header.to_size);
    hash_in_parallel(input, from, |chunk| {
        if let Some(subtree) = &chunk.subtree
            && walk.size() + chunk.hashed.len() as u64 <= to
            && walk.push_checked_subtree(CHUNK_LEVEL, subtree)?
        {
            return Ok(());
        }
        for hashed in chunk.hashed {
            let expected = walk.size();
            let line_no = expected - from + 2;
            let (index, leaf, recorded) = hashed.map_err(|e| {
                other(format!("entry {expected} (line {line_no}) is unreadable, so it was changed: {e}"))
            })?;
            if expected >= to {
                return Err(other(format!(
                    "line {line_no}: an entry beyond size {to}, which the checkpoint does not cover"
                )));
            }
            walk.push_hashed(index, &leaf, &recorded, |_, _| Ok(()))?;
        }
        Ok(())
    })?;
    walk.finish()
}

/// An entry line's index, the leaf hash its bytes give, and the leaf hash recorded beside it.
type Hashed = (u64, Hash, Hash);

fn hash_line(line: &[u8], bytes: &mut Vec<u8>) -> Result<Hashed, String> {
    let recorded = split_line_into(line, bytes)?;
    let index = crate::encoding::check(bytes).map_err(|e| e.to_string())?;
    let leaf = leaf_hash(bytes);
    // Comparing text with text is the common case and saves decoding the recorded hash; only
    // lowercase hex can be equal, so anything else is decoded (and refused if malformed).
    let mut leaf_hex = [0u8; 64];
    let recorded = match hex::encode_to_slice(leaf, &mut leaf_hex) {
        Ok(()) if leaf_hex[..] == *recorded => leaf,
        _ => hex_hash_of(recorded)?,
    };
    Ok((index, leaf, recorded))
}

/// Lines per unit of work: a complete subtree of `2^CHUNK_LEVEL` entries.
const CHUNK_LEVEL: u8 = 12;
const CHUNK: usize = 1 << CHUNK_LEVEL;

/// A chunk of lines, hashed. When every line was readable, carried its expected index and gave
/// its recorded leaf hash, and the chunk is a whole aligned subtree, `subtree` is its hash: the
/// walk takes it in one step instead of line by line.
struct Chunk {
    hashed: Vec<Result<Hashed, String>>,
    subtree: Option<Hash>,
}

fn hash_chunk(lines: &[u8], first_index: u64) -> Chunk {
    let mut bytes = Vec::with_capacity(512);
    let mut hashed: Vec<Result<Hashed, String>> = Vec::with_capacity(CHUNK);
    let mut start = 0;
    // Every line ends with a newline, except perhaps the file's last: an empty line is an
    // inserted byte like any other, and unreadable.
    let ends = memchr::memchr_iter(b'\n', lines).chain((lines.last() != Some(&b'\n')).then_some(lines.len()));
    for end in ends {
        hashed.push(hash_line(&lines[start..end], &mut bytes));
        start = end + 1;
    }
    let whole = hashed.len() == CHUNK && first_index.is_multiple_of(CHUNK as u64);
    let subtree = whole
        .then(|| {
            let mut tree = crate::merkle::TreeBuilder::default();
            for (i, h) in hashed.iter().enumerate() {
                match h {
                    Ok((index, leaf, recorded)) if *index == first_index + i as u64 && leaf == recorded => {
                        tree.push(*leaf, |_, _| {});
                    }
                    _ => return None,
                }
            }
            Some(tree.root())
        })
        .flatten();
    Chunk { hashed, subtree }
}

/// Reads entry lines on one thread, parses and hashes them on the others, and hands the
/// chunks to `consume` in order; the first error `consume` returns stops everything.
/// `from` is the index of the first entry line.
fn hash_in_parallel(
    mut input: impl BufRead + Send,
    from: u64,
    mut consume: impl FnMut(Chunk) -> Result<(), Mismatch>,
) -> Result<(), Mismatch> {
    use std::sync::mpsc;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let (job_tx, job_rx) = mpsc::sync_channel::<(u64, Vec<u8>)>(workers * 2);
    // Shared by the workers only: when they have all stopped, the reader's sends fail and it stops.
    let job_rx = std::sync::Arc::new(std::sync::Mutex::new(job_rx));
    let (done_tx, done_rx) = mpsc::sync_channel::<(u64, Chunk)>(workers * 2);
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || -> Result<(), String> {
            let mut seq = 0;
            loop {
                let mut chunk = Vec::with_capacity(CHUNK * 400);
                let mut lines = 0;
                while lines < CHUNK {
                    let n = input.read_until(b'\n', &mut chunk).map_err(|e| e.to_string())?;
                    if n == 0 {
                        break;
                    }
                    lines += 1;
                }
                if lines == 0 {
                    return Ok(());
                }
                if job_tx.send((seq, chunk)).is_err() {
                    return Ok(()); // the walk stopped early
                }
                seq += 1;
            }
        });
        for _ in 0..workers {
            let (job_rx, done_tx) = (job_rx.clone(), done_tx.clone());
            scope.spawn(move || {
                loop {
                    let job = match job_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((seq, lines)) = job else { return };
                    let chunk = hash_chunk(&lines, from + seq * CHUNK as u64);
                    if done_tx.send((seq, chunk)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        drop(job_rx);
        // Chunks come back in any order; the walk takes them in file order.
        let mut waiting = BTreeMap::new();
        let mut next = 0u64;
        let mut outcome = Ok(());
        'receive: for (seq, chunk) in done_rx.iter() {
            waiting.insert(seq, chunk);
            while let Some(chunk) = waiting.remove(&next) {
                next += 1;
                if let Err(e) = consume(chunk) {
                    outcome = Err(e);
                    break 'receive;
                }
            }
        }
        drop(done_rx);
        let read = reader.join().unwrap_or_else(|_| Err("the reader failed".into()));
        outcome?;
        read.map_err(|e| other(format!("cannot read the bundle: {e}")))
    })
}

/// The root of a bundle's checkpoint, for printing after a successful check.
pub fn hex_root(root: &Hash) -> String {
    hex::encode(root)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::checkpoint::CheckpointSigner;

    fn entry(index: u64) -> AuditEntry {
        AuditEntry {
            index,
            time: mamori_domain::UnixMillis(1_700_000_000_000 + index as i64),
            category: crate::Category::Access,
            action: "customer.view".into(),
            actor: format!("user:u{}", index % 17),
            object: Some(format!("customer:h:{index:032x}")),
            outcome: crate::Outcome::Success,
            source_ip: None,
            request_id: None,
            details: [("fields".to_owned(), "phone".to_owned())].into(),
        }
    }

    /// A bundle of entries `from..to` of a log of `to` entries, built in memory, with signed
    /// checkpoints at the given sizes in between.
    fn bundle(signer: &CheckpointSigner, from: u64, to: u64, between: &[u64]) -> Vec<u8> {
        let mut nodes = std::collections::HashMap::new();
        let mut tree = crate::merkle::TreeBuilder::default();
        let mut roots = std::collections::HashMap::new();
        for i in 0..to {
            let leaf = crate::encoding::leaf_hash(&entry(i));
            nodes.insert(crate::merkle::NodeId { level: 0, index: i }, leaf);
            tree.push(leaf, |id, h| {
                nodes.insert(id, h);
            });
            roots.insert(i + 1, tree.root());
        }
        roots.insert(0, empty_root());
        let header = BundleHeader {
            format: BUNDLE_FORMAT.into(),
            origin: signer.origin().into(),
            from_size: from,
            to_size: to,
            previous_checkpoint: (from > 0).then(|| signer.sign(from, roots[&from])),
            checkpoint: signer.sign(to, roots[&to]),
            intermediate_checkpoints: between.iter().map(|s| signer.sign(*s, roots[s])).collect(),
            frontier: crate::merkle::decompose(0, from).iter().map(|id| nodes[id]).collect(),
            consistency_proof: crate::merkle::consistency_proof(&nodes, from, to).unwrap(),
        };
        let mut out = serde_json::to_vec(&header).unwrap();
        out.push(b'\n');
        for i in from..to {
            let e = entry(i);
            out.extend_from_slice(entry_line(&e, &crate::encoding::leaf_hash(&e)).as_bytes());
            out.push(b'\n');
        }
        out
    }

    fn replace_line(bundle: &[u8], line: usize, new: &str) -> Vec<u8> {
        let text = String::from_utf8(bundle.to_vec()).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines[line] = new;
        (lines.join("\n") + "\n").into_bytes()
    }

    /// Bundles big enough for the workers to hash whole subtrees: aligned and not, with
    /// checkpoints inside chunks, and with changes inside a chunk.
    #[test]
    fn large_bundles() {
        let signer = CheckpointSigner::new("mamori/test", &[5; 32]).unwrap();
        let key = signer.verifier();
        for (from, to, between) in
            [(0, 20_000, vec![]), (0, 20_000, vec![5_000, 8_192, 12_345]), (3_000, 17_000, vec![9_000])]
        {
            let b = bundle(&signer, from, to, &between);
            let v = verify_bundle(&b[..], &key, None).unwrap();
            assert_eq!((v.from_size, v.to_size, v.checkpoints), (from, to, between.len() + 1));

            // One entry changed, its hash not: named, wherever it is.
            for target in [from + 1, 10_000, to - 1] {
                let mut e = entry(target);
                e.actor = "user:intruder".into();
                let line = entry_line(&e, &crate::encoding::leaf_hash(&entry(target)));
                let bad = replace_line(&b, (target - from + 1) as usize, &line);
                assert_eq!(
                    verify_bundle(&bad[..], &key, None),
                    Err(Mismatch::EntryChanged { index: target })
                );
                // Changed together with its hash: caught at the next checkpoint.
                let forged = entry_line(&e, &crate::encoding::leaf_hash(&e));
                let bad = replace_line(&b, (target - from + 1) as usize, &forged);
                assert!(matches!(verify_bundle(&bad[..], &key, None), Err(Mismatch::RootDiffers { .. })));
                // The recorded hash in capitals, or an empty line inserted before the entry:
                // a changed byte, named.
                let good = entry_line(&entry(target), &crate::encoding::leaf_hash(&entry(target)));
                let upper = format!("{}{}", good[..64].to_ascii_uppercase(), &good[64..]);
                let bad = replace_line(&b, (target - from + 1) as usize, &upper);
                let why = verify_bundle(&bad[..], &key, None).unwrap_err().to_string();
                assert!(why.contains(&format!("entry {target} ")) && why.contains("lowercase hex"), "{why}");
                let blank = format!("\n{good}");
                let bad = replace_line(&b, (target - from + 1) as usize, &blank);
                let why = verify_bundle(&bad[..], &key, None).unwrap_err().to_string();
                assert!(why.starts_with(&format!("entry {target} ")) && why.contains("unreadable"), "{why}");
            }
        }
    }

    /// A fuzz-style check of the parser that reads files from outside: random and mangled input
    /// gives an error, never a panic or a pass.
    #[test]
    fn garbage_never_verifies_or_panics() {
        let key = CheckpointSigner::new("mamori/test", &[3; 32]).unwrap().verifier();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let header = r#"{"format":"mamori-audit-bundle/1","origin":"mamori/test","from_size":0,"to_size":1,"previous_checkpoint":null,"checkpoint":"x","intermediate_checkpoints":[],"frontier":[],"consistency_proof":[]}"#;
        for round in 0..2000 {
            let len = (next() % 600) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| (next() & 0xff) as u8).collect();
            if round % 2 == 0 {
                let mut framed = header.as_bytes().to_vec();
                framed.push(b'\n');
                framed.extend_from_slice(&bytes);
                bytes = framed;
            }
            assert!(verify_bundle(&bytes[..], &key, None).is_err());
            let _ = key.verify(&String::from_utf8_lossy(&bytes));
            let _ = crate::encoding::decode(&bytes);
            let _ = parse_entry_line(&String::from_utf8_lossy(&bytes));
        }
    }
}
