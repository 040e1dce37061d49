//! Verifying a log: entries in order, each recomputed to its leaf hash, the tree rebuilt, and
//! every signed checkpoint on the way compared with the rebuilt root. The same walk checks an
//! exported bundle (offline, with only the public key) and the live database.
//!
//! The first thing that does not match stops the walk, and the failure names the entry.

use crate::AuditEntry;
use crate::checkpoint::Checkpoint;
use crate::merkle::{Hash, NodeId, TreeBuilder};
use std::collections::VecDeque;
use std::fmt;

/// Why a log does not verify; each names what to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// An entry whose bytes do not give its recorded leaf hash: the entry or the hash was changed.
    EntryChanged { index: u64 },
    /// The entry at this position carries another index: entries were removed, reordered or
    /// inserted before it.
    OutOfOrder { expected: u64, found: u64 },
    /// A stored tree node differs from the one the entries give.
    NodeChanged { level: u8, index: u64, first_entry: u64 },
    /// The entries up to `size` do not give the root a signed checkpoint vouches for; the change
    /// lies in `since..size` (an entry rewritten together with its recorded hash).
    RootDiffers { size: u64, since: u64 },
    /// A signed checkpoint covers more entries than there are.
    Truncated { expected: u64, found: u64 },
    /// Something other than entries: a bad signature, a malformed line, a failed proof.
    Other(String),
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::EntryChanged { index } => {
                write!(f, "entry {index} does not match its recorded hash: the entry or its hash was changed")
            }
            Mismatch::OutOfOrder { expected, found } if found > expected => write!(
                f,
                "entry {expected} is missing: entry {found} comes next (entries removed or reordered)"
            ),
            Mismatch::OutOfOrder { expected, found } => write!(
                f,
                "entry {expected} is not where it should be: entry {found} appears in its place \
                 (entries inserted, repeated or reordered)"
            ),
            Mismatch::NodeChanged { level, index, first_entry } => write!(
                f,
                "the stored tree hash at level {level}, index {index} (entries from {first_entry}) \
                 does not match the entries"
            ),
            Mismatch::RootDiffers { size, since } => write!(
                f,
                "entries {since} to {} do not match the signed checkpoint at size {size}: one of \
                 them was changed together with its recorded hash",
                size.saturating_sub(1)
            ),
            Mismatch::Truncated { expected, found } => write!(
                f,
                "the log is truncated: a signed checkpoint covers {expected} entries, only {found} \
                 are present (entry {found} is the first missing)"
            ),
            Mismatch::Other(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Mismatch {}

/// What a successful walk covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub from_size: u64,
    pub to_size: u64,
    pub root: Hash,
    pub checkpoints: usize,
}

/// Walks entries from a verified starting point.
#[derive(Debug)]
pub struct LogWalk {
    builder: TreeBuilder,
    from_size: u64,
    /// Signed checkpoints not yet reached, by size.
    pending: VecDeque<Checkpoint>,
    /// The largest size known to match a checkpoint.
    last_matched: u64,
    matched: usize,
}

impl LogWalk {
    /// Starts after the first `size` entries, whose tree is given by its frontier hashes (see
    /// [`crate::merkle::decompose`]) and must have the root `root` (from a signed checkpoint).
    pub fn start(size: u64, frontier: &[Hash], root: &Hash) -> Result<Self, Mismatch> {
        let builder = TreeBuilder::from_frontier(size, frontier).map_err(|_| {
            Mismatch::Other(format!("the starting hashes do not describe a tree of {size} entries"))
        })?;
        if builder.root() != *root {
            return Err(Mismatch::Other(format!(
                "the hashes of the first {size} entries do not match the signed checkpoint at size {size}"
            )));
        }
        Ok(LogWalk { builder, from_size: size, pending: VecDeque::new(), last_matched: size, matched: 0 })
    }

    /// Signed (already verified) checkpoints to compare against as the walk passes their sizes.
    pub fn expect(&mut self, mut checkpoints: Vec<Checkpoint>) {
        checkpoints.retain(|c| c.size > self.builder.size());
        checkpoints.sort_by_key(|c| c.size);
        checkpoints.dedup_by_key(|c| c.size);
        self.pending = checkpoints.into();
    }

    pub fn size(&self) -> u64 {
        self.builder.size()
    }

    /// The next entry, with the leaf hash recorded for it (in the bundle or the database).
    /// `completed` sees each tree node the entry completes, to compare with stored ones.
    pub fn push(
        &mut self,
        entry: &AuditEntry,
        recorded_leaf: &Hash,
        completed: impl FnMut(NodeId, Hash) -> Result<(), Mismatch>,
    ) -> Result<(), Mismatch> {
        self.push_hashed(entry.index, &crate::encoding::leaf_hash(entry), recorded_leaf, completed)
    }

    /// [`LogWalk::push`] for an entry already hashed: its index, the leaf hash its bytes give,
    /// and the one recorded for it.
    pub fn push_hashed(
        &mut self,
        index: u64,
        leaf: &Hash,
        recorded_leaf: &Hash,
        mut completed: impl FnMut(NodeId, Hash) -> Result<(), Mismatch>,
    ) -> Result<(), Mismatch> {
        let expected = self.builder.size();
        if index != expected {
            return Err(Mismatch::OutOfOrder { expected, found: index });
        }
        let leaf = *leaf;
        if leaf != *recorded_leaf {
            return Err(Mismatch::EntryChanged { index: expected });
        }
        let mut failure = None;
        self.builder.push(leaf, |id, hash| {
            if failure.is_none() {
                failure = completed(id, hash).err();
            }
        });
        if let Some(f) = failure {
            return Err(f);
        }
        self.reached()
    }

    /// The next `2^level` entries at once, by their subtree's hash, when each was already checked
    /// against its recorded leaf and index (by a worker thread). Returns false, doing nothing,
    /// when the walk is not aligned for it or a signed checkpoint falls strictly inside, where
    /// the entries must be walked one by one.
    pub fn push_checked_subtree(&mut self, level: u8, hash: &Hash) -> Result<bool, Mismatch> {
        let (size, span) = (self.builder.size(), 1u64 << level);
        let inside = self.pending.front().is_some_and(|c| c.size > size && c.size < size + span);
        if !size.is_multiple_of(span) || inside {
            return Ok(false);
        }
        self.builder.push_subtree(level, *hash, |_, _| {});
        self.reached()?;
        Ok(true)
    }

    fn reached(&mut self) -> Result<(), Mismatch> {
        while let Some(c) = self.pending.front() {
            if c.size != self.builder.size() {
                break;
            }
            if c.root != self.builder.root() {
                return Err(Mismatch::RootDiffers { size: c.size, since: self.last_matched });
            }
            self.last_matched = c.size;
            self.matched += 1;
            self.pending.pop_front();
        }
        Ok(())
    }

    /// Ends the walk: every expected checkpoint must have been reached.
    pub fn finish(self) -> Result<Verified, Mismatch> {
        if let Some(c) = self.pending.back() {
            return Err(Mismatch::Truncated { expected: c.size, found: self.builder.size() });
        }
        Ok(Verified {
            from_size: self.from_size,
            to_size: self.builder.size(),
            root: self.builder.root(),
            checkpoints: self.matched,
        })
    }
}
