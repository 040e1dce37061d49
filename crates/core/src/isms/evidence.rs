//! Live evidence (issue 17, item 4): Mamori measures itself — the audit log verified, second
//! factors of privileged accounts, dormant accounts, the vault's key versions, the PCs'
//! posture, USB sticks without a take-out, open incidents and alerts — and records each
//! result with when it was measured, a row each time a result changes (so an auditor sees the
//! SoA as it stood at a date), and an `evidence.change` entry when a status changes.
//!
//! **On events, not in a nightly batch.** The evidence task reads the audit log through its
//! own feed (`feed:evidence`, one replica at a time); an entry whose action can change a
//! measurement ([`EvidenceKind::changed_by`]) has it taken again within a second or two.
//! Measurements of time (dormancy, ages, overdue items) are also taken every minute, and the
//! log's full verification every ten minutes (and on demand): tampering with the stored log is
//! not an event Mamori writes.

use crate::audit_log::VerifyError;
use crate::audit_log::feed::{AuditFeed, FEED_BATCH};
use crate::isms::EvidenceItem;
use crate::{Core, CoreError, Principal};
use mamori_audit::{Actor, AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::isms::evidence::{EvidenceKind, Measured};
use mamori_domain::{Permission, UnixMillis};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The evidence task's feed (`feed:evidence` among the cursors).
pub const FEED_NAME: &str = "evidence";
const DAY_MS: i64 = 24 * 3_600_000;
/// Accounts unused this long are dormant (LEAK-6).
const DORMANT_DAYS: i64 = 30;
/// Time-based measurements are taken again this often.
pub const TIMED_EVERY: Duration = Duration::from_secs(60);
/// The whole log is verified again this often.
pub const VERIFY_EVERY: Duration = Duration::from_secs(600);
/// While caught up, the lease is renewed this often; in between, only the log's size is read.
const IDLE_CLAIM: Duration = Duration::from_secs(5);

/// The PCs' figures, read once for the two measurements that need them.
#[derive(Debug, Default, Clone, Copy)]
struct DeviceFigures {
    compliant: u64,
    total: u64,
    oldest_signatures_days: Option<u64>,
}

impl Core {
    /// Takes `kinds`' measurements, records them (actor `system`), and audits each status that
    /// changed. Returns the results.
    pub async fn refresh_evidence(&self, kinds: &[EvidenceKind]) -> Result<Vec<EvidenceItem>, CoreError> {
        let mut devices: Option<DeviceFigures> = None;
        let mut results = Vec::with_capacity(kinds.len());
        for &kind in kinds {
            let measured = self.measure(kind, &mut devices).await?;
            results.push((kind, kind.judge(&measured)));
        }
        let now = self.base.now();
        let mut tx = self.base.store.begin().await?;
        let before: std::collections::HashMap<String, String> =
            tx.evidence_current().await?.into_iter().map(|r| (r.kind, r.status)).collect();
        let mut items = Vec::with_capacity(results.len());
        for (kind, judged) in results {
            let status = judged.status.as_str();
            let changed = tx.record_evidence(kind.as_str(), status, &judged.value, now).await?;
            let previous = before.get(kind.as_str());
            if changed && previous.map(String::as_str) != Some(status) {
                let mut e = AuditEvent::of(&actions::EVIDENCE_CHANGE, Actor::System, Outcome::Success)
                    .object(format!("evidence:{}", kind.as_str()))
                    .detail("to", status)
                    .detail("value", judged.value.clone());
                if let Some(p) = previous {
                    e = e.detail("from", p.clone());
                }
                self.base.audit(&mut tx, &RequestContext::default(), e).await?;
            }
            items.push(EvidenceItem {
                kind,
                status: judged.status,
                value: judged.value,
                computed_at: now,
                checked_at: now,
            });
        }
        tx.commit().await?;
        Ok(items)
    }

    /// Every measurement taken now, for a security admin who asks (`isms.manage`).
    pub async fn check_evidence_now(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<Vec<EvidenceItem>, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::ISMS_READ, ctx).await?;
        self.refresh_evidence(&EvidenceKind::ALL).await
    }

    /// One measurement; the PCs' figures, needed by two, are read once per round (`devices`).
    async fn measure(
        &self,
        kind: EvidenceKind,
        devices: &mut Option<DeviceFigures>,
    ) -> Result<Measured, CoreError> {
        let now = self.base.now();
        Ok(match kind {
            EvidenceKind::AuditLogVerified => {
                let key = self.audit.audit_signer().verifier();
                match self.audit.verify_audit_log(&key, &mut |_, _| {}).await {
                    Ok(v) => Measured::Verification(Ok(v.to_size)),
                    Err(VerifyError::Mismatch(m)) => Measured::Verification(Err(m.to_string())),
                    Err(VerifyError::Core(e)) => return Err(e),
                }
            }
            EvidenceKind::AuditForwardingLag => {
                let mut read = self.base.store.read().await?;
                let size = read.audit_log_size().await?;
                let lag = read
                    .audit_cursors()
                    .await?
                    .into_iter()
                    .filter(|(name, _, _)| !name.starts_with("feed:"))
                    .map(|(_, next, _)| size.saturating_sub(next))
                    .max();
                Measured::Lag(lag)
            }
            EvidenceKind::PrivilegedSecondFactor => {
                let users = self.base.store.read().await?.list_users().await?;
                let privileged: Vec<_> = users
                    .iter()
                    .filter(|u| u.status == mamori_domain::identity::UserStatus::Active)
                    .filter(|u| u.roles.iter().any(|r| r.requires_totp()))
                    .collect();
                let with = privileged.iter().filter(|u| u.totp_secret.is_some()).count();
                Measured::Share { part: with as u64, whole: privileged.len() as u64 }
            }
            EvidenceKind::DormantAccounts => {
                let since = UnixMillis(now.0 - DORMANT_DAYS * DAY_MS);
                let mut read = self.base.store.read().await?;
                let used: BTreeSet<String> = read
                    .actors_with_action_since(actions::SESSION_START.name, since)
                    .await?
                    .into_iter()
                    .collect();
                let dormant = read
                    .list_users()
                    .await?
                    .into_iter()
                    .filter(|u| u.status == mamori_domain::identity::UserStatus::Active)
                    .filter(|u| u.created_at < since && !used.contains(&format!("user:{}", u.id)))
                    .count();
                Measured::Count(dormant as u64)
            }
            EvidenceKind::LastAccessReview => {
                let last = self.base.store.read().await?.last_finished_access_review().await?;
                Measured::Days(
                    last.and_then(|c| c.finished_at).map(|t| ((now.0 - t.0).max(0) / DAY_MS) as u64),
                )
            }
            EvidenceKind::VaultKeyCurrent => {
                // Customers' records and vendors' evidence files: both sealed under the vault's key.
                let mut read = self.base.store.read().await?;
                let version = self.vault.key_version();
                let total = read.count_customers().await?
                    + read.count_vendor_files().await?
                    + read.count_check_photos().await?;
                let pending = read.count_customers_to_rewrap(version).await?
                    + read.count_vendor_files_to_rewrap(version).await?
                    + read.count_check_photos_to_rewrap(version).await?;
                let (total, pending) =
                    (u64::try_from(total).unwrap_or(0), u64::try_from(pending).unwrap_or(0));
                Measured::Share { part: total.saturating_sub(pending), whole: total }
            }
            EvidenceKind::KeyRotationAge => {
                let mut read = self.base.store.read().await?;
                let query = mamori_store::AuditQuery {
                    actions: Some(vec![actions::KEYS_ROTATE.name.to_owned()]),
                    detail: Some(("phase".into(), "start".into())),
                    limit: 1,
                    ..Default::default()
                };
                let rotated = read.search_audit(&query).await?.into_iter().next().map(|e| e.time);
                // Never rotated: the key is as old as the installation (its first entry).
                let made = match rotated {
                    Some(t) => Some(t),
                    None => {
                        let floor = read.audit_pruned_below().await?;
                        read.audit_entries(floor, floor + 1).await?.into_iter().next().map(|e| e.time)
                    }
                };
                Measured::Days(made.map(|t| u64::try_from((now.0 - t.0) / DAY_MS).unwrap_or(0)))
            }
            EvidenceKind::UsbWithoutTakeOut => {
                let since = UnixMillis(now.0 - DORMANT_DAYS * DAY_MS);
                let alerts = self.base.store.read().await?.alerts_since(since, &[], 10_000).await?;
                Measured::Count(alerts.iter().filter(|a| a.rule == "usb_storage").count() as u64)
            }
            EvidenceKind::PolicyAcknowledgements => {
                let mut read = self.base.store.read().await?;
                let (part, whole) = super::policies::acknowledgement_share(&mut *read).await?;
                Measured::Share { part, whole }
            }
            EvidenceKind::TrainingCompletion => {
                let mut read = self.base.store.read().await?;
                let today =
                    mamori_domain::isms::vendor::parse_date(&crate::jst::day(now)).unwrap_or(time::Date::MIN);
                let (part, whole) = super::training::completion_share(&mut *read, today).await?;
                Measured::Share { part, whole }
            }
            EvidenceKind::OpenFindings => {
                let today = crate::jst::day(now);
                let findings = self.base.store.read().await?.audit_findings().await?;
                let open: Vec<_> = findings
                    .iter()
                    .filter(|f| f.state != "closed")
                    .filter(|f| {
                        mamori_domain::isms::internal_audit::FindingKind::parse(&f.kind)
                            .is_some_and(|k| k.is_nonconformity())
                    })
                    .collect();
                let overdue =
                    open.iter().filter(|f| f.due_on.as_deref().is_some_and(|d| d < today.as_str())).count();
                Measured::Open { open: open.len() as u64, overdue: overdue as u64 }
            }
            EvidenceKind::OverdueChecks => {
                let mut read = self.base.store.read().await?;
                Measured::Count(super::checks::overdue_checks(&mut *read, now).await?.len() as u64)
            }
            EvidenceKind::DevicesNotDisposed => {
                let mut read = self.base.store.read().await?;
                Measured::Count(super::disposals::count_revoked_not_disposed(&mut *read).await? as u64)
            }
            EvidenceKind::OpenIncidents => {
                let days = self.incidents.preliminary_days().await?;
                let open = self.base.store.read().await?.open_incidents().await?;
                let overdue = open
                    .iter()
                    .filter(|i| {
                        let Some(duty) = mamori_domain::incident::report_duty(&i.data, i.learned_at, days)
                        else {
                            return false;
                        };
                        (i.preliminary_reported_at.is_none() && duty.preliminary_due < now)
                            || (i.final_reported_at.is_none() && duty.final_due < now)
                    })
                    .count();
                Measured::Open { open: open.len() as u64, overdue: overdue as u64 }
            }
            EvidenceKind::OpenHighAlerts => {
                let alerts = self
                    .base
                    .store
                    .read()
                    .await?
                    .alerts_since(UnixMillis(0), &crate::detection::ACTIVE_STATES, 10_000)
                    .await?;
                let high: Vec<_> = alerts.iter().filter(|a| a.severity == "high").collect();
                let overdue = high.iter().filter(|a| a.first_at.0 < now.0 - DAY_MS).count();
                Measured::Open { open: high.len() as u64, overdue: overdue as u64 }
            }
            EvidenceKind::TimeToContain => {
                let since = UnixMillis(now.0 - 90 * DAY_MS);
                let mut read = self.base.store.read().await?;
                let mut hours = Vec::new();
                for i in read.incidents_since(since, &[], 500).await? {
                    if i.created_at < since {
                        continue;
                    }
                    let contained = read
                        .incident_events(&i.id)
                        .await?
                        .into_iter()
                        .find(|e| e.kind == "state" && e.detail.ends_with("|contained"));
                    if let Some(e) = contained {
                        hours.push(u64::try_from((e.at.0 - i.created_at.0) / 3_600_000).unwrap_or(0));
                    }
                }
                hours.sort_unstable();
                Measured::Hours(hours.get(hours.len() / 2).copied())
            }
            EvidenceKind::CompliantDevices | EvidenceKind::AntivirusSignatureAge => {
                let f = match *devices {
                    Some(f) => f,
                    None => *devices.insert(self.device_figures().await?),
                };
                match kind {
                    EvidenceKind::CompliantDevices => Measured::Share { part: f.compliant, whole: f.total },
                    _ => Measured::Days(f.oldest_signatures_days),
                }
            }
        })
    }

    /// Ledger PCs in use: how many meet their site's posture rules, and the oldest antivirus
    /// signatures among them. A PC that never sent an inventory is not compliant.
    async fn device_figures(&self) -> Result<DeviceFigures, CoreError> {
        let devices = self.base.store.read().await?.list_devices().await?;
        let mut f = DeviceFigures::default();
        for d in devices.iter().filter(|d| d.revoked_at.is_none()) {
            let inventory = self.devices.latest_inventory(d).await?;
            let posture = self.devices.posture_with(d, inventory.as_ref()).await?;
            f.total += 1;
            f.compliant += u64::from(posture.failures.is_some_and(|failures| failures.is_empty()));
            if let Some(Some(days)) =
                inventory.as_ref().map(crate::devices::facts_of).and_then(|x| x.antivirus_age_days)
            {
                f.oldest_signatures_days = Some(f.oldest_signatures_days.unwrap_or(0).max(u64::from(days)));
            }
        }
        Ok(f)
    }

    /// The evidence task of this process (`holder` tells replicas apart in the feed's lease).
    pub fn evidence_runner(&self, holder: &str) -> EvidenceRunner {
        EvidenceRunner {
            core: self.clone(),
            feed: self.audit.audit_feed(FEED_NAME, holder),
            expected: None,
            claimed_at: None,
            pending: BTreeSet::new(),
            assets_due: true,
            timed_at: None,
            verified_at: None,
        }
    }
}

/// The evidence task: reads what was committed, takes again the measurements it may have
/// changed, and the timed ones when due; and keeps the assets that follow the device ledger
/// and the client companies in step.
#[derive(Debug)]
pub struct EvidenceRunner {
    core: Core,
    feed: AuditFeed,
    /// The index after the last entry read, while caught up.
    expected: Option<u64>,
    claimed_at: Option<Instant>,
    /// Measurements to take once the feed has caught up.
    pending: BTreeSet<EvidenceKind>,
    /// The followed assets are to be brought in step (at start, and after a PC or a client
    /// company came or went).
    assets_due: bool,
    timed_at: Option<Instant>,
    verified_at: Option<Instant>,
}

impl EvidenceRunner {
    /// One round; returns how many measurements were taken (0 when nothing was due, or
    /// another replica holds the feed).
    pub async fn step(&mut self) -> Result<usize, CoreError> {
        let timed_due = self.timed_at.is_none_or(|t| t.elapsed() >= TIMED_EVERY);
        let verify_due = self.verified_at.is_none_or(|t| t.elapsed() >= VERIFY_EVERY);
        if !timed_due && !verify_due && self.claimed_at.is_some_and(|t| t.elapsed() < IDLE_CLAIM) {
            let size = self.core.base.store.read().await?.audit_log_size().await?;
            if self.expected.is_some_and(|e| size <= e) {
                return Ok(0);
            }
        }
        self.claimed_at = Some(Instant::now());
        let entries = self.feed.next_batch(FEED_BATCH).await?;
        let Some(_) = self.feed_position(&entries) else {
            return Ok(0);
        };
        for e in &entries {
            self.pending.extend(EvidenceKind::ALL.into_iter().filter(|k| k.changed_by(&e.action)));
            self.assets_due |= crate::isms::assets::moves_followed_assets(&e.action);
        }
        if entries.len() as u64 == FEED_BATCH {
            // More to read: measure once, after the last batch.
            self.feed.done().await?;
            return Ok(0);
        }
        if timed_due {
            self.pending
                .extend(EvidenceKind::ALL.into_iter().filter(|k| *k != EvidenceKind::AuditLogVerified));
            self.timed_at = Some(Instant::now());
        }
        if verify_due {
            self.pending.insert(EvidenceKind::AuditLogVerified);
            self.verified_at = Some(Instant::now());
        }
        if self.assets_due {
            self.core.sync_followed_assets().await?;
            self.assets_due = false;
        }
        let kinds: Vec<EvidenceKind> = std::mem::take(&mut self.pending).into_iter().collect();
        if !kinds.is_empty() {
            self.core.refresh_evidence(&kinds).await?;
        }
        self.feed.done().await?;
        Ok(kinds.len())
    }

    /// Where the feed stands after a read: `None` while another replica holds it.
    fn feed_position(&mut self, entries: &[mamori_audit::AuditEntry]) -> Option<u64> {
        let next = self.feed.position()?;
        self.expected = Some(entries.last().map_or(next, |e| e.index + 1));
        Some(next)
    }

    /// Hands the feed back (at shutdown), so another replica resumes at once.
    pub async fn release(&self) -> Result<(), CoreError> {
        self.feed.release().await
    }
}
