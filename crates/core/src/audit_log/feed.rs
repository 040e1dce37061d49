//! The detection feed: the committed audit entries as one ordered stream that a consumer — a
//! detector, a report — reads with a durable cursor, on the machinery that forwards the log to
//! SIEMs (`audit_cursors`: a cursor and a lease per consumer).
//!
//! - **In order, each entry once.** Entries are read from the cursor up, in index order (the
//!   sequencer commits them in that order, so no entry below the log's size is still to come).
//!   The cursor moves only when the consumer says a batch is done; a consumer that stops before
//!   that gets the batch again (at least once). A consumer inside `mamori-core` that writes what
//!   it derived in the same transaction as the cursor move ([`AuditFeed::done_in`]) sees every
//!   entry exactly once, across crashes.
//! - **One replica at a time.** A consumer's lease (15 s, renewed as it reads) lets one process
//!   read it; on other replicas the same consumer reads nothing until the lease is released or
//!   runs out, then resumes from the stored cursor.
//!
//! Consumers are named `feed:<name>` among the cursors, apart from SIEM destinations.

use crate::{AuditLog, CoreError};
use mamori_audit::AuditEntry;
use mamori_store::StoreTx;
use std::sync::Arc;

/// Entries one read returns at most.
pub const FEED_BATCH: u64 = 1000;

/// One consumer's view of the feed in this process.
#[derive(Debug)]
pub struct AuditFeed {
    log: Arc<AuditLog>,
    cursor: String,
    holder: String,
    /// The next index to read, while this process holds the lease.
    next: Option<u64>,
    /// Where the stored cursor stands (the end of the last batch marked done).
    stored: u64,
}

impl AuditLog {
    /// The feed for consumer `name` in this process (`holder` tells replicas apart in leases).
    pub fn audit_feed(self: &Arc<Self>, name: &str, holder: &str) -> AuditFeed {
        AuditFeed {
            log: self.clone(),
            cursor: format!("feed:{name}"),
            holder: holder.to_owned(),
            next: None,
            stored: 0,
        }
    }
}

impl AuditFeed {
    /// The next entries after those read (at most `max`), in index order; empty when the
    /// consumer has caught up or another replica holds it. Renews the lease.
    pub async fn next_batch(&mut self, max: u64) -> Result<Vec<AuditEntry>, CoreError> {
        let Some(resume) = self.log.claim_audit_forwarding(&self.cursor, &self.holder).await? else {
            self.next = None;
            return Ok(Vec::new());
        };
        let next = match self.next {
            // Still ours since the last read: go on after what was read.
            Some(next) if resume == self.stored => next,
            // Newly taken (or taken back after another holder moved the cursor).
            _ => resume,
        };
        self.stored = resume;
        let entries = self.log.audit_entries_from(next, max.min(FEED_BATCH)).await?;
        self.next = Some(next + entries.len() as u64);
        Ok(entries)
    }

    /// The next index to read, while this process holds the lease (`None` otherwise).
    pub fn position(&self) -> Option<u64> {
        self.next
    }

    /// Marks everything read so far as done: the stored cursor moves past it. False when the
    /// lease was lost meanwhile (another replica will deliver those entries again).
    pub async fn done(&mut self) -> Result<bool, CoreError> {
        let Some(next) = self.next else { return Ok(false) };
        if next == self.stored {
            return Ok(true);
        }
        let moved = self.log.audit_forwarded(&self.cursor, &self.holder, self.stored, next).await?;
        self.settle(moved, next);
        Ok(moved)
    }

    /// [`AuditFeed::done`] inside the consumer's own transaction, so what it derived from the
    /// entries and the cursor move commit together (exactly once). Call [`AuditFeed::settled`]
    /// after the commit.
    pub async fn done_in(&self, tx: &mut Box<dyn StoreTx>) -> Result<Option<u64>, CoreError> {
        let Some(next) = self.next else { return Ok(None) };
        if next == self.stored {
            return Ok(Some(next));
        }
        let now = self.log.base.now();
        let moved = tx.advance_audit_cursor(&self.cursor, &self.holder, self.stored, next, now).await?;
        Ok(moved.then_some(next))
    }

    /// After the transaction of [`AuditFeed::done_in`] committed (`Some`) or failed (`None`).
    pub fn settled(&mut self, moved_to: Option<u64>) {
        match moved_to {
            Some(next) => self.settle(true, next),
            None => self.settle(false, 0),
        }
    }

    fn settle(&mut self, moved: bool, next: u64) {
        if moved {
            self.stored = next;
        } else {
            // Lost the lease: read again from the stored cursor when it is ours again.
            self.next = None;
        }
    }

    /// Hands the lease back (at shutdown), so another replica resumes at once.
    pub async fn release(&self) -> Result<(), CoreError> {
        self.log.release_audit_forwarding(&self.cursor, &self.holder).await
    }
}
