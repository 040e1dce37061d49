//! The audit log as a transparency log (TW-10, ISMS-6, LEAK-14): extending the Merkle tree and
//! signing checkpoints, proofs, export bundles and verification of the live database.
//!
//! Entries are appended by every service in the transaction of the change they record
//! (`Base::audit`). The tree over them is extended afterwards by [`AuditLog::checkpoint_audit_log`],
//! which the server runs every second (and at shutdown); one process at a time does it.

use crate::{CoreError, Principal};
use mamori_audit::bundle::{BUNDLE_FORMAT, BundleHeader, entry_line};
use mamori_audit::checkpoint::{CheckpointSigner, CheckpointVerifier};
use mamori_audit::merkle::{self, Hash, NodeId, NodeSource, TreeBuilder};
use mamori_audit::verify::{LogWalk, Mismatch, Verified};
use mamori_audit::{AuditEntry, encoding};
use mamori_audit::{
    AuditEvent, Outcome, RequestContext,
    actions::{self, Action},
};
use mamori_domain::Permission;
use mamori_domain::UnixMillis;
use mamori_proto::ErrorCode;
use mamori_store::{AuditQuery, StoreRead};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

pub mod feed;

/// A signed tree head as stored (plain data).
pub use mamori_store::CheckpointRecord;

/// The audit log service.
#[derive(Debug)]
pub struct AuditLog {
    base: Arc<crate::base::Base>,
    /// Signs the audit log's checkpoints.
    audit_signer: CheckpointSigner,
}

impl AuditLog {
    pub(crate) fn new(base: Arc<crate::base::Base>, audit_signer: CheckpointSigner) -> Self {
        AuditLog { base, audit_signer }
    }
}

/// Entries hashed per checkpoint round; a long backlog takes several rounds.
const ROUND: u64 = 50_000;
/// The most entries one export of a search returns; narrow the search for more.
pub const EXPORT_LIMIT: usize = 100_000;
/// How long a replica keeps the right to deliver to a destination without renewing it.
const FORWARD_LEASE: std::time::Duration = std::time::Duration::from_secs(15);
/// Entries read per query while exporting or verifying.
const PAGE: u64 = 10_000;

/// An entry with its proof of inclusion in a signed tree head.
#[derive(Debug, Clone)]
pub struct EntryProof {
    pub entry: AuditEntry,
    pub leaf_hash: Hash,
    pub tree_size: u64,
    pub proof: Vec<Hash>,
    pub checkpoint: String,
}

enum Round {
    UpToDate,
    Signed { size: u64, more: bool },
    Raced,
}

/// Why verification stopped: the log does not match, or it could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Mismatch(#[from] Mismatch),
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Records which nodes a proof needs, so they can be fetched before the proof is computed.
#[derive(Default)]
struct Wanted(RefCell<Vec<NodeId>>);

impl NodeSource for Wanted {
    fn node(&self, id: NodeId) -> Option<Hash> {
        self.0.borrow_mut().push(id);
        Some([0; 32])
    }
}

async fn fetch_nodes(
    tx: &mut Box<dyn StoreRead>,
    ids: &[NodeId],
) -> Result<HashMap<NodeId, Hash>, CoreError> {
    let mut nodes = HashMap::with_capacity(ids.len());
    for id in ids {
        if nodes.contains_key(id) {
            continue;
        }
        let hash = tx.audit_node(*id).await?.ok_or_else(|| {
            CoreError::Internal(format!("audit tree node level {} index {} is missing", id.level, id.index))
        })?;
        nodes.insert(*id, hash);
    }
    Ok(nodes)
}

/// The stored hashes of the complete subtrees that make up the first `size` entries.
async fn frontier(tx: &mut Box<dyn StoreRead>, size: u64) -> Result<Vec<Hash>, CoreError> {
    let ids = merkle::decompose(0, size);
    let nodes = fetch_nodes(tx, &ids).await?;
    Ok(ids.iter().filter_map(|id| nodes.get(id).copied()).collect())
}

/// Runs `compute` against the stored tree: once to learn which nodes it needs, then for real.
async fn with_nodes<T>(
    tx: &mut Box<dyn StoreRead>,
    compute: impl Fn(&dyn NodeSource) -> Result<T, merkle::ProofError>,
) -> Result<T, CoreError> {
    let wanted = Wanted::default();
    compute(&wanted)
        .map_err(|_| CoreError::invalid("size", ErrorCode::OutOfRange, "outside the signed tree"))?;
    let ids = wanted.0.into_inner();
    let nodes = fetch_nodes(tx, &ids).await?;
    compute(&nodes).map_err(|e| CoreError::Internal(e.to_string()))
}

fn out_of_range(field: &'static str, message: String) -> CoreError {
    CoreError::invalid(field, ErrorCode::OutOfRange, message)
}

impl AuditLog {
    pub fn audit_signer(&self) -> &CheckpointSigner {
        &self.audit_signer
    }

    /// Every entry a search matches, newest first, up to [`EXPORT_LIMIT`] (the flag says whether
    /// there were more). The export is recorded, with its filters, before anything is returned.
    pub async fn export_audit_search(
        &self,
        principal: &Principal,
        search: &AuditSearch,
        ctx: &RequestContext,
    ) -> Result<(Vec<AuditEntry>, bool), CoreError> {
        self.base.permitted(principal, Permission::AuditRead, &actions::AUDIT_EXPORT, ctx).await?;
        check_audit_filters(search)?;
        let query = self.query_for(search).await?;
        let mut read = self.base.store.read().await?;
        let mut all = Vec::new();
        let mut page = AuditQuery { limit: 1000, before_index: None, ..query.clone() };
        let truncated = loop {
            let entries = read.search_audit(&page).await?;
            let last = entries.last().map(|e| e.index);
            let full = entries.len() == 1000;
            all.extend(entries);
            if all.len() >= EXPORT_LIMIT {
                all.truncate(EXPORT_LIMIT);
                break true;
            }
            match last {
                Some(i) if full => page.before_index = Some(i),
                _ => break false,
            }
        };
        drop(read);
        let mut e = AuditEvent::of(&actions::AUDIT_EXPORT, principal.actor(), Outcome::Success)
            .object("audit_log")
            .detail("entries", all.len().to_string())
            .detail("truncated", truncated.to_string());
        for (name, value) in [
            ("actor", search.actor.clone()),
            ("action", search.actions.as_ref().map(|a| a.join(","))),
            ("object", search.object.clone()),
            ("outcome", search.outcome.clone()),
        ] {
            if let Some(v) = value {
                e = e.detail(&format!("filter_{name}"), v);
            }
        }
        if let Some(t) = query.from {
            e = e.detail("filter_from", t.0.to_string());
        }
        if let Some(t) = query.to {
            e = e.detail("filter_to", t.0.to_string());
        }
        self.base.audit_access(ctx, e).await?;
        Ok((all, truncated))
    }

    /// The public key auditors verify checkpoints with.
    pub fn audit_public_key(&self) -> String {
        self.audit_signer.verifier().encode()
    }

    /// Refuses a database whose log another key signs: replicas must share the signing key, or
    /// their checkpoints would not verify together.
    pub async fn check_audit_key(&self) -> Result<(), CoreError> {
        let Some(latest) = self.latest_audit_checkpoint().await? else { return Ok(()) };
        match self.audit_signer.verifier().verify(&latest.note) {
            Ok(_) => Ok(()),
            Err(_) => Err(CoreError::Conflict(format!(
                "this database's audit log is signed by another key than this data directory's \
                 keys/audit-signing.key (public key {}); every replica needs the same key file — copy it from \
                 the first server",
                self.audit_public_key()
            ))),
        }
    }

    /// Extends the tree over the entries appended since the last checkpoint and signs a new
    /// checkpoint. Returns the new tree size, or `None` when there was nothing new (or another
    /// replica is doing it).
    pub async fn checkpoint_audit_log(&self) -> Result<Option<u64>, CoreError> {
        let mut grew = None;
        loop {
            match self.checkpoint_round().await? {
                Round::Signed { size, more } => {
                    grew = Some(size);
                    if !more {
                        return Ok(grew);
                    }
                }
                // Another process extended the tree meanwhile: look again from its checkpoint.
                Round::Raced => {}
                Round::UpToDate => return Ok(grew),
            }
        }
    }

    /// One bounded round. Hashing happens outside the write transaction, so appends are held
    /// up only while the new nodes are written.
    async fn checkpoint_round(&self) -> Result<Round, CoreError> {
        let mut read = self.base.store.read().await?;
        let latest = read.latest_checkpoint().await?;
        let (from, root) = latest.as_ref().map_or((0, merkle::empty_root()), |c| (c.size, c.root));
        let log_size = read.audit_log_size().await?;
        if log_size <= from && latest.is_some() {
            return Ok(Round::UpToDate);
        }
        let to = log_size.min(from + ROUND);
        let frontier = frontier(&mut read, from).await?;
        let mut builder =
            TreeBuilder::from_frontier(from, &frontier).map_err(|e| CoreError::Internal(e.to_string()))?;
        if builder.root() != root {
            return Err(CoreError::Internal(format!(
                "the stored audit tree does not match the checkpoint at size {from}; run `mamori audit verify`"
            )));
        }
        let mut nodes = Vec::with_capacity(usize::try_from(2 * (to - from)).unwrap_or(0));
        let mut at = from;
        while at < to {
            let page_end = to.min(at + PAGE);
            let entries = read.audit_entries(at, page_end).await?;
            for entry in &entries {
                if entry.index != builder.size() {
                    return Err(CoreError::Internal(format!(
                        "audit entry {} is missing; run `mamori audit verify`",
                        builder.size()
                    )));
                }
                let leaf = encoding::leaf_hash(entry);
                nodes.push((NodeId { level: 0, index: entry.index }, leaf));
                builder.push(leaf, |id, h| nodes.push((id, h)));
            }
            if builder.size() != page_end {
                return Err(CoreError::Internal(format!(
                    "audit entry {} is missing; run `mamori audit verify`",
                    builder.size()
                )));
            }
            at = page_end;
        }
        drop(read);
        let root = builder.root();
        let checkpoint = CheckpointRecord {
            size: to,
            root,
            time: self.base.now(),
            note: self.audit_signer.sign(to, root),
        };
        let mut tx = self.base.store.begin().await?;
        tx.lock_audit_integrator().await?;
        // Another process may have extended the tree meanwhile: then this round's work is moot.
        if tx.latest_checkpoint().await?.map(|c| c.size) != latest.map(|c| c.size) {
            return Ok(Round::Raced);
        }
        tx.insert_audit_nodes(&nodes).await?;
        tx.insert_checkpoint(&checkpoint).await?;
        tx.commit().await?;
        Ok(Round::Signed { size: to, more: to < log_size })
    }

    /// Takes (or renews) the lease to deliver to forwarding destination `name` (`holder` names
    /// this process) and returns the index delivery resumes from; `None` while another replica
    /// holds the lease.
    pub async fn claim_audit_forwarding(&self, name: &str, holder: &str) -> Result<Option<u64>, CoreError> {
        let now = self.base.now();
        let mut tx = self.base.store.begin().await?;
        let claimed = tx.claim_audit_cursor(name, holder, now, now.plus(FORWARD_LEASE)).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// Gives up the lease on a destination (at shutdown), so another server may take it at once.
    pub async fn release_audit_forwarding(&self, name: &str, holder: &str) -> Result<(), CoreError> {
        let now = self.base.now();
        let mut tx = self.base.store.begin().await?;
        tx.claim_audit_cursor(name, holder, now, UnixMillis(0)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Up to `max` committed entries from index `from`, for forwarding.
    pub async fn audit_entries_from(&self, from: u64, max: u64) -> Result<Vec<AuditEntry>, CoreError> {
        let mut read = self.base.store.read().await?;
        let floor = read.audit_pruned_below().await?;
        if from < floor {
            return Err(CoreError::Internal(format!(
                "forwarding stopped at entry {from}, but entries below {floor} were pruned; deliver them \
                 from the archive bundles"
            )));
        }
        let to = read.audit_log_size().await?.min(from + max);
        Ok(read.audit_entries(from, to).await?)
    }

    /// Records that entries `from..to` reached destination `name`.
    pub async fn audit_forwarded(
        &self,
        name: &str,
        holder: &str,
        from: u64,
        to: u64,
    ) -> Result<bool, CoreError> {
        let mut tx = self.base.store.begin().await?;
        let moved = tx.advance_audit_cursor(name, holder, from, to, self.base.now()).await?;
        tx.commit().await?;
        Ok(moved)
    }

    pub async fn latest_audit_checkpoint(&self) -> Result<Option<CheckpointRecord>, CoreError> {
        Ok(self.base.store.read().await?.latest_checkpoint().await?)
    }

    /// The checkpoint at exactly `size`, signing one if the tree has reached that size but no
    /// checkpoint was kept for it (exports and proofs may ask for any size).
    async fn checkpoint_at(&self, size: u64) -> Result<CheckpointRecord, CoreError> {
        let mut read = self.base.store.read().await?;
        if let Some(c) = read.checkpoints_between(size, size).await?.pop() {
            return Ok(c);
        }
        let latest = read.latest_checkpoint().await?.map_or(0, |c| c.size);
        if size > latest {
            return Err(out_of_range(
                "size",
                format!("the signed tree has {latest} entries; size {size} is not signed yet"),
            ));
        }
        let root = with_nodes(&mut read, |src| Ok(merkle::root(src, size)?)).await?;
        drop(read);
        let checkpoint =
            CheckpointRecord { size, root, time: self.base.now(), note: self.audit_signer.sign(size, root) };
        let mut tx = self.base.store.begin().await?;
        tx.insert_checkpoint(&checkpoint).await?;
        tx.commit().await?;
        Ok(checkpoint)
    }

    /// Records a read of the log itself (reading the log is access to it, TW-10), before the
    /// data is returned: if it cannot be recorded, nothing is returned.
    async fn audit_read(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
        action: &'static Action,
        detail: String,
    ) -> Result<(), CoreError> {
        let e = AuditEvent::of(action, principal.actor(), Outcome::Success)
            .object("audit_log")
            .detail("what", detail);
        self.base.audit_access(ctx, e).await.map(drop)
    }

    /// An entry and the proof that the signed tree of `tree_size` entries includes it (the
    /// latest checkpoint by default).
    pub async fn audit_entry_proof(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
        index: u64,
        tree_size: Option<u64>,
    ) -> Result<EntryProof, CoreError> {
        self.base.permitted(principal, Permission::AuditRead, &actions::AUDIT_PROOF, ctx).await?;
        let latest = self.latest_audit_checkpoint().await?.map_or(0, |c| c.size);
        let size = tree_size.unwrap_or(latest);
        if index >= size || size > latest {
            return Err(out_of_range(
                "index",
                format!("entry {index} is not in a signed tree of {size} entries (the latest has {latest})"),
            ));
        }
        let checkpoint = self.checkpoint_at(size).await?;
        let mut read = self.base.store.read().await?;
        let entry = read
            .audit_entries(index, index + 1)
            .await?
            .pop()
            .ok_or(CoreError::NotFound { what: "audit entry (archived or pruned)" })?;
        let leaf_hash = read
            .audit_node(NodeId { level: 0, index })
            .await?
            .ok_or(CoreError::NotFound { what: "audit leaf" })?;
        let proof = with_nodes(&mut read, |src| merkle::inclusion_proof(src, index, size)).await?;
        drop(read);
        self.audit_read(principal, ctx, &actions::AUDIT_PROOF, format!("entry {index} in tree {size}"))
            .await?;
        Ok(EntryProof { entry, leaf_hash, tree_size: size, proof, checkpoint: checkpoint.note })
    }

    /// Proof that the signed tree of `from` entries is a prefix of the one of `to`.
    pub async fn audit_consistency(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
        from: u64,
        to: u64,
    ) -> Result<(Vec<Hash>, String, String), CoreError> {
        self.base.permitted(principal, Permission::AuditRead, &actions::AUDIT_PROOF, ctx).await?;
        let latest = self.latest_audit_checkpoint().await?.map_or(0, |c| c.size);
        if from > to || to > latest {
            return Err(out_of_range("to", format!("need from ≤ to ≤ {latest} (the latest signed size)")));
        }
        let (old, new) = (self.checkpoint_at(from).await?, self.checkpoint_at(to).await?);
        let mut read = self.base.store.read().await?;
        let proof = with_nodes(&mut read, |src| merkle::consistency_proof(src, from, to)).await?;
        drop(read);
        self.audit_read(principal, ctx, &actions::AUDIT_PROOF, format!("consistency {from} to {to}")).await?;
        Ok((proof, old.note, new.note))
    }

    /// Writes the bundle of entries `from..to` (sizes of the tree): entries with their recorded
    /// leaf hashes, the checkpoints, the frontier of `from` and the consistency proof.
    /// `progress` is told how many entries are written.
    pub async fn export_audit_bundle(
        &self,
        from: u64,
        to: Option<u64>,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<BundleHeader, CoreError> {
        let latest = self.latest_audit_checkpoint().await?.map_or(0, |c| c.size);
        let to = to.unwrap_or(latest);
        if from > to || to > latest {
            return Err(out_of_range(
                "to_size",
                format!("need from-size ≤ to-size ≤ {latest} (the latest signed size)"),
            ));
        }
        let floor = self.base.store.read().await?.audit_pruned_below().await?;
        if from < floor {
            return Err(out_of_range(
                "from_size",
                format!(
                    "entries below {floor} are archived; export from {floor}, or use the archive bundles"
                ),
            ));
        }
        let end = self.checkpoint_at(to).await?;
        let start = if from > 0 { Some(self.checkpoint_at(from).await?) } else { None };
        let mut read = self.base.store.read().await?;
        let frontier = frontier(&mut read, from).await?;
        let consistency_proof = with_nodes(&mut read, |src| merkle::consistency_proof(src, from, to)).await?;
        let intermediate =
            if to > from + 1 { read.checkpoints_between(from + 1, to - 1).await? } else { Vec::new() };
        let header = BundleHeader {
            format: BUNDLE_FORMAT.into(),
            origin: self.audit_signer.origin().to_owned(),
            from_size: from,
            to_size: to,
            previous_checkpoint: start.map(|c| c.note),
            checkpoint: end.note,
            intermediate_checkpoints: intermediate.into_iter().map(|c| c.note).collect(),
            frontier,
            consistency_proof,
        };
        let write_err = |e: std::io::Error| CoreError::Internal(format!("writing the bundle: {e}"));
        let line = serde_json::to_string(&header).map_err(|e| CoreError::Internal(e.to_string()))?;
        writeln!(out, "{line}").map_err(write_err)?;
        let mut at = from;
        while at < to {
            let page_end = to.min(at + PAGE);
            let entries = read.audit_entries(at, page_end).await?;
            let leaves: HashMap<u64, Hash> =
                read.audit_nodes_range(0, at, page_end).await?.into_iter().collect();
            for entry in entries {
                // The recorded hash, not a recomputed one: a changed entry must show as changed.
                let leaf_hash = leaves.get(&entry.index).copied().unwrap_or_default();
                writeln!(out, "{}", entry_line(&entry, &leaf_hash)).map_err(write_err)?;
            }
            at = page_end;
            progress(at - from, to - from);
        }
        out.flush().map_err(write_err)?;
        Ok(header)
    }

    /// What the next archive covers: the entries from the retention floor up to the first one
    /// stamped at or after `cutoff` (and only signed ones). `None` when there is nothing to archive.
    pub async fn audit_archive_range(&self, cutoff: UnixMillis) -> Result<Option<(u64, u64)>, CoreError> {
        let mut read = self.base.store.read().await?;
        let floor = read.audit_pruned_below().await?;
        let signed = read.latest_checkpoint().await?.map_or(0, |c| c.size);
        let first_kept = match read.first_audit_index_since(cutoff).await? {
            Some(i) => i,
            None => read.audit_log_size().await?,
        };
        let to = first_kept.min(signed);
        Ok((to > floor).then_some((floor, to)))
    }

    /// Deletes the entries below `below` from the database after they were archived (the
    /// archive bundle must be safely written first). Their hashes stay in the tree, so every
    /// checkpoint and every later entry's proofs still verify. Recorded in the log.
    pub async fn prune_audit_log(&self, below: u64, ctx: &RequestContext) -> Result<u64, CoreError> {
        // A checkpoint at exactly the floor lets verification start there.
        self.checkpoint_at(below).await?;
        let mut tx = self.base.store.begin().await?;
        let deleted = tx.prune_audit(below).await?;
        let e = AuditEvent::of(&actions::AUDIT_PRUNE, mamori_audit::Actor::System, Outcome::Success)
            .object("audit_log")
            .detail("below", below.to_string())
            .detail("deleted", deleted.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// [`AuditLog::verify_audit_log`] for an auditor in the console, with this server's own key:
    /// the answer says whether the live log matched (and up to where) or what did not. The check
    /// is recorded (`audit.verify`). The proof that does not trust this server stays the offline
    /// check of a bundle against the key the auditor saved.
    pub async fn verify_for(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<Result<Verified, String>, CoreError> {
        self.base.permitted(principal, Permission::AuditRead, &actions::AUDIT_VERIFY, ctx).await?;
        let key = self.audit_signer.verifier();
        let outcome = match self.verify_audit_log(&key, &mut |_, _| {}).await {
            Ok(v) => Ok(v),
            Err(VerifyError::Mismatch(m)) => Err(m.to_string()),
            Err(VerifyError::Core(e)) => return Err(e),
        };
        let e = match &outcome {
            Ok(v) => AuditEvent::of(&actions::AUDIT_VERIFY, principal.actor(), Outcome::Success)
                .detail("to_size", v.to_size.to_string())
                .detail("checkpoints", v.checkpoints.to_string()),
            Err(m) => AuditEvent::of(&actions::AUDIT_VERIFY, principal.actor(), Outcome::Failure)
                .detail("mismatch", m.clone()),
        };
        self.base.audit_access(ctx, e.object("audit_log")).await?;
        Ok(outcome)
    }

    /// Verifies the live log the way a bundle is verified: every entry against its stored leaf
    /// hash, every stored tree node against the entries, every checkpoint's signature and root.
    pub async fn verify_audit_log(
        &self,
        key: &CheckpointVerifier,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<Verified, VerifyError> {
        let mut read = self.base.store.read().await.map_err(CoreError::from)?;
        let floor = read.audit_pruned_below().await.map_err(CoreError::from)?;
        // Checkpoints first, then the size: a checkpoint signed in between must not look like
        // a truncation.
        let stored = read.checkpoints_between(floor, u64::MAX >> 1).await.map_err(CoreError::from)?;
        let log_size = read.audit_log_size().await.map_err(CoreError::from)?;
        let mut signed = Vec::with_capacity(stored.len());
        for c in &stored {
            let note = key.verify(&c.note).map_err(|e| {
                Mismatch::Other(format!("the checkpoint at size {} does not verify: {e}", c.size))
            })?;
            if note.size != c.size || note.root != c.root {
                return Err(Mismatch::Other(format!(
                    "the checkpoint at size {} was changed: its stored size or root differs from its signed note",
                    c.size
                ))
                .into());
            }
            signed.push(note);
        }
        let integrated = signed.last().map_or(0, |c| c.size);
        let mut walk = if floor == 0 {
            LogWalk::start(0, &[], &merkle::empty_root())?
        } else {
            let start = signed.first().filter(|c| c.size == floor).ok_or_else(|| {
                Mismatch::Other(format!("no signed checkpoint at the retention floor {floor}"))
            })?;
            let frontier = frontier(&mut read, floor).await?;
            LogWalk::start(floor, &frontier, &start.root)?
        };
        walk.expect(signed);
        let mut at = floor;
        while at < log_size {
            let page_end = log_size.min(at + PAGE);
            let entries = read.audit_entries(at, page_end).await.map_err(CoreError::from)?;
            let leaves: HashMap<u64, Hash> =
                read.audit_nodes_range(0, at, page_end).await.map_err(CoreError::from)?.into_iter().collect();
            let mut stored_nodes: HashMap<NodeId, Hash> = HashMap::new();
            // Only levels whose subtrees can end inside this page: no higher than the page's end.
            for level in (1..64u8).take_while(|l| (1u64 << l) <= page_end) {
                let (lo, hi) = (at >> level, (page_end >> level) + 1);
                for (index, hash) in read.audit_nodes_range(level, lo, hi).await.map_err(CoreError::from)? {
                    stored_nodes.insert(NodeId { level, index }, hash);
                }
            }
            for entry in &entries {
                let recorded = match leaves.get(&entry.index) {
                    Some(h) => *h,
                    None if entry.index >= integrated => encoding::leaf_hash(entry),
                    None => return Err(Mismatch::EntryChanged { index: entry.index }.into()),
                };
                walk.push(entry, &recorded, |id, hash| match stored_nodes.get(&id) {
                    Some(s) if *s != hash => Err(Mismatch::NodeChanged {
                        level: id.level,
                        index: id.index,
                        first_entry: id.leaves().0,
                    }),
                    None if id.leaves().0 + id.leaves().1 <= integrated => Err(Mismatch::NodeChanged {
                        level: id.level,
                        index: id.index,
                        first_entry: id.leaves().0,
                    }),
                    _ => Ok(()),
                })?;
            }
            if walk.size() != page_end {
                let found = entries.iter().map(|e| e.index).find(|i| *i > walk.size()).unwrap_or(log_size);
                return Err(Mismatch::OutOfOrder { expected: walk.size(), found }.into());
            }
            at = page_end;
            progress(at - floor, log_size - floor);
        }
        Ok(walk.finish()?)
    }
}

impl AuditLog {
    /// Records a refusal made outside the services — the route guard's, the sign-in throttle's
    /// (see [`crate::Base`]: aggregated under a flood, never while holding a write transaction).
    pub async fn record_denied(&self, ctx: &mamori_audit::RequestContext, event: mamori_audit::AuditEvent) {
        self.base.record_denied(ctx, event).await
    }
}

impl AuditLog {
    /// How an audit entry names a personal record: `kind:h:<keyed hash>`, never the id itself.
    pub fn audit_object(&self, kind: &str, id: &str) -> String {
        self.base.audit_object(kind, id)
    }

    /// Records a read and returns once it is committed (see [`crate::Base`]); the benchmark of
    /// the read log calls it directly.
    pub async fn audit_access(
        &self,
        ctx: &mamori_audit::RequestContext,
        event: mamori_audit::AuditEvent,
    ) -> Result<u64, CoreError> {
        self.base.audit_access(ctx, event).await
    }
}

/// A search of the audit log as a caller states it; every field narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSearch {
    /// An actor as the log writes it (`user:<id>`, `token:<id>`, `device:<id>`, `system`,
    /// `anonymous`), or words of a person's name: then every user whose user name or display
    /// name contains them, and their API tokens.
    pub actor: Option<String>,
    /// Any of these actions (codes; a caller that searches by label turns it into codes).
    pub actions: Option<Vec<String>>,
    /// None of these actions.
    pub hidden_actions: Vec<String>,
    pub object: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<UnixMillis>,
    pub to: Option<UnixMillis>,
    /// Only entries with an index below this (paging backwards from the newest).
    pub before_index: Option<u64>,
    /// Only entries with this detail: a key and a code (`purpose`, `reason`).
    pub detail: Option<(String, String)>,
    /// Entries at most (1–1000); an export ignores it and pages through everything.
    pub limit: i64,
}

impl AuditLog {
    /// How the log's actors and objects read as names, for those who read the log
    /// (`audit.read`): `user:<id>` → "display name (user name)", `token:<id>` → "token name —
    /// owner", `device:<id>` → its host name. Customers stay keyed hashes.
    pub async fn names(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<HashMap<String, String>, CoreError> {
        self.base.permitted(principal, Permission::AuditRead, &actions::AUDIT_SEARCH, ctx).await?;
        let mut read = self.base.store.read().await?;
        let users = read.list_users().await?;
        let person: HashMap<&str, String> =
            users.iter().map(|u| (u.id.as_str(), format!("{} ({})", u.display_name, u.username))).collect();
        let mut names: HashMap<String, String> = person
            .iter()
            .map(|(id, name)| (mamori_audit::Actor::User((*id).to_owned()).encode(), name.clone()))
            .collect();
        for t in read.list_api_tokens().await? {
            let owner = person.get(t.owner_id.as_str()).cloned().unwrap_or_default();
            names.insert(mamori_audit::Actor::ApiToken(t.id).encode(), format!("{} — {owner}", t.name));
        }
        for d in read.list_devices().await? {
            names.insert(mamori_audit::Actor::Device(d.id).encode(), d.hostname);
        }
        Ok(names)
    }
}

/// Whether `actor` is written as the log writes actors, rather than words of a name.
fn is_encoded_actor(actor: &str) -> bool {
    ["user:", "token:", "device:"].iter().any(|p| actor.starts_with(p))
        || matches!(actor, "system" | "anonymous")
}

impl AuditLog {
    /// The store's query for a search: a name becomes the actors it names.
    async fn query_for(&self, search: &AuditSearch) -> Result<AuditQuery, CoreError> {
        let actors = match search.actor.as_deref() {
            None => None,
            Some(actor) if is_encoded_actor(actor) => Some(vec![actor.to_owned()]),
            Some(words) => {
                let words = words.to_lowercase();
                let mut read = self.base.store.read().await?;
                let named: Vec<String> = read
                    .list_users()
                    .await?
                    .into_iter()
                    .filter(|u| {
                        u.username.to_lowercase().contains(&words)
                            || u.display_name.to_lowercase().contains(&words)
                    })
                    .map(|u| u.id)
                    .collect();
                let tokens =
                    read.list_api_tokens().await?.into_iter().filter(|t| named.contains(&t.owner_id));
                let tokens: Vec<String> =
                    tokens.map(|t| mamori_audit::Actor::ApiToken(t.id).encode()).collect();
                Some(
                    named
                        .into_iter()
                        .map(|id| mamori_audit::Actor::User(id).encode())
                        .chain(tokens)
                        .collect(),
                )
            }
        };
        Ok(AuditQuery {
            actors,
            actions: search.actions.clone(),
            hidden_actions: search.hidden_actions.clone(),
            object: search.object.clone(),
            outcome: search.outcome.clone(),
            from: search.from,
            to: search.to,
            before_index: search.before_index,
            detail: search.detail.clone(),
            limit: search.limit,
        })
    }
}

impl AuditLog {
    /// Searches the audit log. Reading the log is itself recorded (TW-10: access logs).
    pub async fn search_audit(
        &self,
        principal: &Principal,
        search: &AuditSearch,
        ctx: &RequestContext,
    ) -> Result<Vec<AuditEntry>, CoreError> {
        self.base.permitted(principal, Permission::AuditRead, &actions::AUDIT_SEARCH, ctx).await?;
        check_audit_filters(search)?;
        let query = AuditQuery { limit: search.limit.clamp(1, 1000), ..self.query_for(search).await? };
        let entries = self.base.store.read().await?.search_audit(&query).await?;
        let e = AuditEvent::of(&actions::AUDIT_SEARCH, principal.actor(), Outcome::Success)
            .object("audit_log")
            .detail("results", entries.len().to_string());
        self.base.audit_access(ctx, e).await?;
        Ok(entries)
    }
}

/// Where one delivery of the log stands (a forwarding destination, the detection feed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryState {
    pub name: String,
    /// Entries written but not yet delivered.
    pub behind: u64,
    /// When the cursor last moved.
    pub moved_at: UnixMillis,
}

impl AuditLog {
    /// How many entries a search matches, for the home pages' counts (`audit.read`). Only a
    /// number leaves: no access entry is written, unlike a search that returns entries.
    pub async fn count_audit(
        &self,
        principal: &Principal,
        search: &AuditSearch,
        ctx: &RequestContext,
    ) -> Result<u64, CoreError> {
        self.base.permitted(principal, Permission::AuditRead, &actions::AUDIT_SEARCH, ctx).await?;
        check_audit_filters(search)?;
        let query = self.query_for(search).await?;
        Ok(self.base.store.read().await?.count_audit(&query).await?)
    }

    /// The latest verification of the live log from the console (`audit.read`), for the home
    /// pages: a summary of the auditors' own work, read without an access entry.
    pub async fn latest_verification(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<Option<AuditEntry>, CoreError> {
        self.base.permitted(principal, Permission::AuditRead, &actions::AUDIT_SEARCH, ctx).await?;
        let query = AuditQuery {
            actions: Some(vec![actions::AUDIT_VERIFY.name.to_owned()]),
            limit: 1,
            ..Default::default()
        };
        Ok(self.base.store.read().await?.search_audit(&query).await?.into_iter().next())
    }

    /// Each delivery's lag behind the log (`audit.read`).
    pub async fn delivery_states(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<Vec<DeliveryState>, CoreError> {
        self.base.permitted(principal, Permission::AuditRead, &actions::AUDIT_SEARCH, ctx).await?;
        let mut read = self.base.store.read().await?;
        let size = read.audit_log_size().await?;
        Ok(read
            .audit_cursors()
            .await?
            .into_iter()
            .map(|(name, next, moved_at)| DeliveryState { name, behind: size.saturating_sub(next), moved_at })
            .collect())
    }
}

/// Search filters are short, printable text (at most 100 actions).
fn check_audit_filters(search: &AuditSearch) -> Result<(), CoreError> {
    let actions = search.actions.as_deref().unwrap_or_default();
    let filters = [
        ("actor", search.actor.as_deref()),
        ("object", search.object.as_deref()),
        ("outcome", search.outcome.as_deref()),
    ]
    .into_iter()
    .chain(actions.iter().chain(&search.hidden_actions).map(|a| ("action", Some(a.as_str()))));
    let code = |s: &str| {
        !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    };
    if search.detail.as_ref().is_some_and(|(k, v)| !code(k) || !code(v)) {
        return Err(CoreError::invalid(
            "detail",
            ErrorCode::InvalidFilter,
            "a detail filter is a key and a code",
        ));
    }
    if actions.len() + search.hidden_actions.len() > 100 {
        return Err(CoreError::invalid(
            "action",
            ErrorCode::InvalidFilter,
            "at most 100 actions in one search",
        ));
    }
    for (field, value) in filters {
        if value.is_some_and(|v| v.chars().any(char::is_control) || v.len() > 200) {
            return Err(CoreError::invalid(
                field,
                ErrorCode::InvalidFilter,
                "a filter is at most 200 characters, without control characters",
            ));
        }
    }
    Ok(())
}
