//! The detection task: reads the detection feed in order, feeds the detectors, and writes what
//! they found — alerts (one per rule and subject while the cause lasts), their evidence, the
//! automatic responses, the hourly counts and the feed's cursor — in one transaction, so a
//! crash at any point loses and repeats nothing (the next holder resumes at the stored cursor).
//!
//! The detectors keep only windows in memory. When a process takes the feed over (at start, or
//! from a replica that stopped) it first replays the entries of the longest window before the
//! cursor, without raising anything, so a window that straddles the restart is whole again.
//!
//! It spans the detection, the devices (a lock goes through the agent's command path) and
//! identity (ending sessions), so it lives on [`Core`].

use crate::audit_log::feed::AuditFeed;
use crate::{Core, CoreError, new_id};
use mamori_audit::{Actor, AuditEntry, AuditEvent, Category, Outcome, RequestContext, actions};
use mamori_domain::UnixMillis;
use mamori_domain::activity::ShiftSchedule;
use mamori_domain::detect::{
    Detector, Finding, MAX_HISTORY_HOURS, Observed, PlaceKind, Placement, Response, RuleId, SeenPlace,
};
use mamori_store::{AlertRecord, AlertResponseRecord, StoreTx};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

/// How often a runner re-reads the rules (another replica may have changed them).
pub const RULES_RELOAD: Duration = Duration::from_secs(5);
/// The feed's consumer name.
pub const FEED_NAME: &str = "detection";
/// While nothing new is committed, the feed's lease (a write) is renewed this often; in
/// between, a read tells whether there is anything to do.
const IDLE_CLAIM: Duration = Duration::from_secs(5);
const HOUR_MS: i64 = 3_600_000;

/// One process's detection task.
#[derive(Debug)]
pub struct DetectionRunner {
    core: Core,
    feed: AuditFeed,
    detector: Option<Detector>,
    /// The index the detector's windows expect next; a batch starting elsewhere (another
    /// replica ran the detectors meanwhile) rebuilds them.
    expected: u64,
    rules_generation: u64,
    rules_read_at: Instant,
    /// When the feed was last claimed (its lease renewed).
    claimed_at: Option<Instant>,
    /// Operators' shifts, read at most once a minute each: (schedule, when read).
    shifts: HashMap<String, (Option<ShiftSchedule>, Instant)>,
    /// People's site, team and client companies (rule scopes), read at most once a minute
    /// each: (placement, when read); `None` for an id that is no user.
    places: HashMap<String, (Option<Placement>, Instant)>,
}

/// How long a person's shifts and placement are used before they are read again.
const PEOPLE_RELOAD: Duration = Duration::from_secs(60);

/// What one step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StepReport {
    /// Entries read.
    pub entries: usize,
    /// Alerts raised (new ones).
    pub raised: usize,
    /// Firings counted on existing alerts.
    pub repeated: usize,
}

/// The findings of one batch for one rule and subject, merged.
struct Merged {
    last: Finding,
    hits: i64,
    evidence: Vec<u64>,
}

impl Core {
    /// The detection task of this process (`holder` tells replicas apart in the feed's lease).
    pub fn detection_runner(&self, holder: &str) -> DetectionRunner {
        DetectionRunner {
            core: self.clone(),
            feed: self.audit.audit_feed(FEED_NAME, holder),
            detector: None,
            expected: 0,
            rules_generation: 0,
            rules_read_at: Instant::now(),
            claimed_at: None,
            shifts: HashMap::new(),
            places: HashMap::new(),
        }
    }
}

impl DetectionRunner {
    /// Reads and handles the next batch; an empty report when caught up (or another replica
    /// holds the feed).
    pub async fn step(&mut self) -> Result<StepReport, CoreError> {
        // Caught up and holding the lease: a read says whether anything was committed since, so
        // an idle server does not write (and log) five times a second.
        if self.detector.is_some() && self.claimed_at.is_some_and(|at| at.elapsed() < IDLE_CLAIM) {
            let size = self.core.base.store.read().await?.audit_log_size().await?;
            if size <= self.expected {
                return Ok(StepReport::default());
            }
        }
        self.claimed_at = Some(Instant::now());
        let entries = self.feed.next_batch(mamori_domain::detect::MAX_EVIDENCE as u64 * 5).await?;
        if entries.is_empty() {
            return Ok(StepReport::default());
        }
        if entries[0].index != self.expected {
            self.detector = None;
        }
        self.prepare(entries[0].index).await?;
        let entries = self.with_take_outs(entries).await?;
        let entries = self.with_shifts(entries).await?;
        let entries = self.with_teams(entries).await?;
        let Some(mut detector) = self.detector.take() else {
            return Err(CoreError::Internal("the detector was not prepared".into()));
        };
        let result = self.handle(&mut detector, &entries).await;
        match result {
            // Lost the lease before committing (an empty report): the windows hold entries
            // another replica now handles, so they are rebuilt when the feed is ours again.
            Ok(report) if report.entries == 0 => Ok(report),
            Ok(report) => {
                self.detector = Some(detector);
                self.expected = entries.last().map_or(self.expected, |e| e.index + 1);
                Ok(report)
            }
            // Nothing of the batch was committed: the windows are rebuilt from the stored
            // cursor by the next step.
            Err(e) => {
                self.feed.settled(None);
                Err(e)
            }
        }
    }

    /// Hands the feed back (at shutdown), so another replica resumes at once.
    pub async fn release(&self) -> Result<(), CoreError> {
        self.feed.release().await
    }

    /// A detector with the current rules, its windows rebuilt from the entries before `from`.
    async fn prepare(&mut self, from: u64) -> Result<(), CoreError> {
        let detection = &self.core.detection;
        let stale = self.rules_generation != detection.rules_generation()
            || self.rules_read_at.elapsed() >= RULES_RELOAD;
        if let Some(d) = &mut self.detector {
            if stale {
                self.rules_generation = detection.rules_generation();
                self.rules_read_at = Instant::now();
                d.set_rules(detection.rule_set().await?);
            }
            return Ok(());
        }
        self.rules_generation = detection.rules_generation();
        self.rules_read_at = Instant::now();
        let rules = detection.rule_set().await?;
        let longest = rules.0.values().map(|s| s.window_ms()).max().unwrap_or(HOUR_MS);
        let mut detector = Detector::new(rules);
        // Whole hours, so the hourly counts of the first replayed hour are complete.
        let replay_from = {
            let t = self.core.now().0 - longest;
            UnixMillis(t.div_euclid(HOUR_MS) * HOUR_MS)
        };
        let mut read = self.core.base.store.read().await?;
        let start = read.first_audit_index_since(replay_from).await?.unwrap_or(from).min(from);
        drop(read);
        let mut next = start;
        while next < from {
            let batch = self.core.audit.audit_entries_from(next, (from - next).min(5000)).await?;
            if batch.is_empty() {
                break;
            }
            let batch = self.with_take_outs(batch).await?;
            let batch = self.with_shifts(batch).await?;
            let batch = self.with_teams(batch).await?;
            self.load_history(&mut detector, &batch, replay_from.0).await?;
            self.load_places(&mut detector, &batch).await?;
            for e in &batch {
                detector.observe(&observed(e));
            }
            next += batch.len() as u64;
        }
        self.detector = Some(detector);
        Ok(())
    }

    /// Marks the PC signals a take-out in force explains (detail `take_out`, the approval):
    /// the detectors know no approvals, the take-outs are read here.
    async fn with_take_outs(&self, mut entries: Vec<AuditEntry>) -> Result<Vec<AuditEntry>, CoreError> {
        let signal = |e: &AuditEntry| {
            e.action == "device.signal"
                && matches!(e.details.get("kind").map(String::as_str), Some("usb_attached" | "off_network"))
        };
        let Some(oldest) = entries.iter().filter(|e| signal(e)).map(|e| e.time).min() else {
            return Ok(entries);
        };
        let grants = self.core.take_out_grants(oldest).await?;
        for e in entries.iter_mut().filter(|e| signal(e)) {
            let device = e.object.as_deref().and_then(|o| o.strip_prefix("device:"));
            let kind = e.details.get("kind").cloned().unwrap_or_default();
            let serial = e.details.get("serial").map(String::as_str);
            if let Some(g) = grants.iter().find(|g| g.explains(&kind, device, serial, e.time)) {
                e.details.insert("take_out".into(), g.approval.id.clone());
            }
        }
        Ok(entries)
    }

    /// Marks what happened outside the person's shifts (detail `off_shift`): their lookups,
    /// their sign-ins (half an hour early still belongs to the shift; `shifts` names them), and
    /// their PC falling silent — a PC shut down at the end of a shift (or in its last half hour)
    /// is not a signal. A person with no shifts set has nothing marked (nothing to compare with).
    async fn with_shifts(&mut self, mut entries: Vec<AuditEntry>) -> Result<Vec<AuditEntry>, CoreError> {
        const SHIFTS_RELOAD: Duration = PEOPLE_RELOAD;
        const END_OF_SHIFT_GRACE_MS: i64 = 30 * 60_000;
        for e in entries.iter_mut().filter(|e| e.outcome == Outcome::Success) {
            let (person, grace) = match e.action.as_str() {
                "device.signal" if e.details.get("kind").map(String::as_str) == Some("heartbeat_lost") => {
                    match e.details.get("user") {
                        Some(user) => (user.as_str(), END_OF_SHIFT_GRACE_MS),
                        None => continue,
                    }
                }
                "session.start" => (e.actor.as_str(), 0),
                // Signing out, a second factor, a renewed session: no use of the account.
                _ if e.category == Category::Login => continue,
                _ => (e.actor.as_str(), 0),
            };
            let Some(user) = person.strip_prefix("user:") else { continue };
            let fresh = self.shifts.get(user).is_some_and(|(_, at)| at.elapsed() < SHIFTS_RELOAD);
            if !fresh {
                let schedule = self.core.base.store.read().await?.shift_schedule(user).await?;
                self.shifts.insert(user.to_owned(), (schedule, Instant::now()));
            }
            let Some((Some(schedule), _)) = self.shifts.get(user) else { continue };
            let on_shift = |t: i64| schedule.on_shift(mamori_domain::UnixMillis(t));
            let in_shift = if e.action == "session.start" {
                // Signing in a few minutes before the shift is part of it.
                mamori_domain::detect::signin_in_shift(on_shift, e.time.0)
            } else {
                on_shift(e.time.0) && on_shift(e.time.0 + grace)
            };
            if !schedule.shifts.is_empty() && !in_shift {
                e.details.insert("off_shift".into(), "true".into());
                if e.action != "customer.lookup" {
                    // The alert names the shifts the sign-in (or the use) fell outside of.
                    e.details.insert("shifts".into(), mamori_domain::detect::window_text(schedule));
                }
            }
        }
        Ok(entries)
    }

    /// Marks each lookup with the operator's team and client companies (details `team` and
    /// `clients`), so the volume rule compares an operator's hour with their peers'. Read at
    /// most once a minute per person.
    async fn with_teams(&mut self, mut entries: Vec<AuditEntry>) -> Result<Vec<AuditEntry>, CoreError> {
        for e in entries.iter_mut() {
            if e.action != "customer.lookup" || e.outcome != Outcome::Success {
                continue;
            }
            let Some(user) = e.actor.strip_prefix("user:") else { continue };
            let user = user.to_owned();
            let Some(place) = self.placement(&user).await? else { continue };
            if let Some(team) = place.team {
                e.details.insert("team".into(), team);
            }
            if !place.clients.is_empty() {
                let mut clients = place.clients;
                clients.sort();
                e.details.insert("clients".into(), clients.join(","));
            }
        }
        Ok(entries)
    }

    /// Hands the detector the stored hourly history of the people in `entries` it lacks.
    async fn load_history(
        &self,
        detector: &mut Detector,
        entries: &[AuditEntry],
        before: i64,
    ) -> Result<(), CoreError> {
        let people: HashSet<&str> = entries
            .iter()
            .filter(|e| e.action == "customer.lookup" && !detector.has_history(&e.actor))
            .map(|e| e.actor.as_str())
            .collect();
        if people.is_empty() {
            return Ok(());
        }
        let from = before - MAX_HISTORY_HOURS as i64 * HOUR_MS;
        let mut read = self.core.base.store.read().await?;
        for person in people {
            let counts = read.detector_hours(person, from, before).await?;
            detector.set_history(person, counts);
        }
        Ok(())
    }

    /// Hands the detector the stored networks and browsers of the people signing in in
    /// `entries` it lacks (first seen): what was stored holds every sign-in before the cursor,
    /// so a restarted process knows what the one before it knew.
    async fn load_places(&self, detector: &mut Detector, entries: &[AuditEntry]) -> Result<(), CoreError> {
        let people: HashSet<&str> = entries
            .iter()
            .filter(|e| e.action == "session.start" && e.actor.starts_with("user:"))
            .filter(|e| PlaceKind::ALL.iter().any(|k| !detector.has_places(*k, &e.actor)))
            .map(|e| e.actor.as_str())
            .collect();
        if people.is_empty() {
            return Ok(());
        }
        let mut read = self.core.base.store.read().await?;
        for kind in PlaceKind::ALL {
            let since = entries[0].time.0 - detector.rules().get(kind.rule()).memory_ms();
            for person in &people {
                if !detector.has_places(kind, person) {
                    let seen = read.detector_places(kind, person, since).await?;
                    detector.set_places(kind, person, seen);
                }
            }
        }
        Ok(())
    }

    /// Drops the findings of rules narrowed to a scope whose subject is outside it (a person
    /// of another site, team or client company; anything not a person).
    async fn in_scope(
        &mut self,
        detector: &Detector,
        found: Vec<Finding>,
    ) -> Result<Vec<Finding>, CoreError> {
        let rules = detector.rules();
        if !rules.has_scopes() {
            return Ok(found);
        }
        let mut kept = Vec::with_capacity(found.len());
        for f in found {
            if rules.get(f.rule).scope.is_everywhere() {
                kept.push(f);
                continue;
            }
            let place = match f.subject.strip_prefix("user:") {
                Some(user) => self.placement(user).await?,
                None => None,
            };
            if rules.admits(&f, place.as_ref()) {
                kept.push(f);
            }
        }
        Ok(kept)
    }

    /// A person's site, team and client companies, read at most once a minute.
    async fn placement(&mut self, user: &str) -> Result<Option<Placement>, CoreError> {
        if let Some((place, at)) = self.places.get(user)
            && at.elapsed() < PEOPLE_RELOAD
        {
            return Ok(place.clone());
        }
        let mut read = self.core.base.store.read().await?;
        let place = match read.user_by_id(user).await? {
            Some(u) => {
                let clients = read.user_clients(user).await?;
                Some(Placement { site: u.site_id, team: u.team_id, clients })
            }
            None => None,
        };
        self.places.insert(user.to_owned(), (place.clone(), Instant::now()));
        Ok(place)
    }

    async fn handle(
        &mut self,
        detector: &mut Detector,
        entries: &[AuditEntry],
    ) -> Result<StepReport, CoreError> {
        // The history of people new to this process: stored hours before the first one it holds.
        let first_hour = entries[0].time.0.div_euclid(HOUR_MS) * HOUR_MS;
        self.load_history(detector, entries, first_hour).await?;
        self.load_places(detector, entries).await?;
        let mut found = Vec::new();
        for e in entries {
            found.extend(detector.observe(&observed(e)));
        }
        let found = self.in_scope(detector, found).await?;
        let mut merged: BTreeMap<(RuleId, String), Merged> = BTreeMap::new();
        for f in found {
            match merged.get_mut(&(f.rule, f.subject.clone())) {
                Some(m) => {
                    m.hits += 1;
                    m.evidence.extend(&f.evidence);
                    m.last = f;
                }
                None => {
                    let key = (f.rule, f.subject.clone());
                    merged.insert(key, Merged { hits: 1, evidence: f.evidence.clone(), last: f });
                }
            }
        }
        let mut report = StepReport { entries: entries.len(), ..Default::default() };
        let mut tx = self.core.base.store.begin().await?;
        let mut woken = Vec::new();
        for (_, mut m) in merged {
            m.evidence.sort_unstable();
            m.evidence.dedup();
            if self.record(&mut tx, detector, &m, &mut woken).await? {
                report.raised += 1;
            } else {
                report.repeated += 1;
            }
        }
        tx.put_detector_hours(&detector.take_hour_stats()).await?;
        let places = detector.take_place_updates();
        for kind in PlaceKind::ALL {
            let seen: Vec<SeenPlace> = places.iter().filter(|p| p.kind == kind).cloned().collect();
            if !seen.is_empty() {
                let memory = detector.rules().get(kind.rule()).memory_ms();
                let newest = seen.iter().map(|n| n.last_seen).max().unwrap_or(0);
                tx.put_detector_places(kind, &seen, newest - memory).await?;
            }
        }
        let moved = self.feed.done_in(&mut tx).await?;
        if moved.is_none() {
            // The lease was lost: another replica handles these entries.
            drop(tx);
            self.feed.settled(None);
            return Ok(StepReport::default());
        }
        tx.commit().await?;
        self.feed.settled(moved);
        for device in woken {
            self.core.devices.wake_commands(&device);
        }
        if report.raised + report.repeated > 0 {
            self.core.detection.alerts_changed();
        }
        if report.raised > 0 {
            // Wakes the webhook's sender (it also looks every second).
            self.core.approvals.changed();
        }
        Ok(report)
    }

    /// Writes one merged finding: a new alert (true) or a further firing of the one its cause
    /// already raised (false).
    async fn record(
        &self,
        tx: &mut Box<dyn StoreTx>,
        detector: &Detector,
        m: &Merged,
        woken: &mut Vec<String>,
    ) -> Result<bool, CoreError> {
        let f = &m.last;
        let now = self.core.now();
        let settings = detector.rules().get(f.rule);
        let latest = tx.latest_alert_for(f.rule.as_str(), &f.subject).await?;
        let same_cause = latest.filter(|a| {
            f.time.0 - a.last_at.0 < settings.window_ms() || super::suppressed_at(a, f.time).is_some()
        });
        let baseline = f.baseline;
        if let Some(mut alert) = same_cause {
            alert.last_at = f.time;
            alert.hits += m.hits;
            alert.value = alert.value.max(f.value as i64);
            alert.threshold = i64::from(f.threshold);
            alert.window_minutes = i64::from(f.window_minutes);
            alert.severity = f.severity.as_str().into();
            if let Some(b) = baseline {
                alert.baseline_median = Some(b.median);
                alert.baseline_mad = Some(b.mad);
                alert.baseline_hours = Some(b.hours as i64);
                alert.deviation = Some(alert.deviation.map_or(b.z, |z| z.max(b.z)));
            }
            tx.record_alert_hit(&alert).await?;
            tx.insert_alert_evidence(&alert.id, &m.evidence).await?;
            return Ok(false);
        }
        let person = match f.subject.strip_prefix("user:") {
            Some(id) => tx.user_by_id(id).await?.map(|u| u.id),
            None => None,
        };
        let alert = AlertRecord {
            id: new_id(),
            rule: f.rule.as_str().into(),
            subject: f.subject.clone(),
            subject_user_id: person.clone(),
            severity: f.severity.as_str().into(),
            state: "open".into(),
            first_at: f.time,
            last_at: f.time,
            hits: m.hits,
            value: f.value as i64,
            threshold: i64::from(f.threshold),
            window_minutes: i64::from(f.window_minutes),
            baseline_median: baseline.map(|b| b.median),
            baseline_mad: baseline.map(|b| b.mad),
            baseline_hours: baseline.map(|b| b.hours as i64),
            deviation: baseline.map(|b| b.z),
            raised_index: f.index as i64,
            assignee_id: None,
            state_reason: None,
            suppressed_until: None,
            updated_at: now,
            updated_by: None,
        };
        tx.insert_alert(&alert).await?;
        tx.insert_alert_evidence(&alert.id, &m.evidence).await?;
        let ctx = RequestContext::default();
        let mut e = AuditEvent::of(&actions::ALERT_RAISE, Actor::System, Outcome::Success)
            .object(format!("alert:{}", alert.id))
            .detail("rule", alert.rule.clone())
            .detail("severity", alert.severity.clone())
            .detail("subject", alert.subject.clone())
            .detail("value", f.value.to_string())
            .detail("threshold", f.threshold.to_string())
            .detail("window_minutes", f.window_minutes.to_string())
            .detail("evidence", m.evidence.len().to_string());
        for (key, value) in &f.context {
            e = e.detail(key, value.clone());
        }
        if let Some(b) = baseline {
            e = e
                .detail("baseline_median", format!("{:.1}", b.median))
                .detail("deviation", format!("{:.1}", b.z));
        }
        self.core.base.audit(tx, &ctx, e).await?;
        if f.severity >= self.core.base.policies.notify_alert_severity {
            let payload = serde_json::json!({
                "event": "alert.raise",
                "alert": {
                    "id": alert.id,
                    "rule": alert.rule,
                    "severity": alert.severity,
                    "subject": alert.subject,
                    "value": f.value,
                    "threshold": f.threshold,
                    "window_minutes": f.window_minutes,
                    "first_at": f.time.rfc3339(),
                },
                "path": format!("/alerts/{}", alert.id),
            });
            self.core.base.queue_webhook(tx, format!("alert:{}", alert.id), "alert.raise", payload).await?;
        }
        self.core.base.mail_alert_in(tx, &alert).await?;
        for response in &settings.responses {
            self.respond(tx, &alert, *response, person.as_deref(), woken).await?;
        }
        Ok(true)
    }

    /// Takes one automatic response, in the alert's transaction.
    async fn respond(
        &self,
        tx: &mut Box<dyn StoreTx>,
        alert: &AlertRecord,
        response: Response,
        person: Option<&str>,
        woken: &mut Vec<String>,
    ) -> Result<(), CoreError> {
        let now = self.core.now();
        let ctx = RequestContext::default();
        let entry = |outcome| {
            AuditEvent::of(&actions::ALERT_RESPONSE, Actor::System, outcome)
                .object(format!("alert:{}", alert.id))
                .detail("kind", response.as_str())
        };
        let mut record = AlertResponseRecord {
            id: new_id(),
            alert_id: alert.id.clone(),
            kind: response.as_str().into(),
            target: alert.subject.clone(),
            state: "done".into(),
            detail: None,
            created_at: now,
            reversed_at: None,
            reversed_by: None,
        };
        let device_subject = alert.subject.strip_prefix("device:");
        if let (Response::LockPc, Some(device_id)) = (response, device_subject) {
            return self.lock(tx, alert, record, device_id, woken).await;
        }
        let Some(person) = person else {
            record.state = "skipped".into();
            record.detail = Some("not_a_person".into());
            tx.insert_alert_response(&record).await?;
            return self
                .core
                .base
                .audit(tx, &ctx, entry(Outcome::Failure).detail("reason", "not_a_person"))
                .await;
        };
        match response {
            Response::LockPc => {
                let device =
                    tx.devices_of_user(person).await?.into_iter().max_by_key(|d| d.last_seen_at.map(|t| t.0));
                let Some(device) = device else {
                    record.state = "skipped".into();
                    record.detail = Some("no_device".into());
                    record.target = format!("user:{person}");
                    tx.insert_alert_response(&record).await?;
                    return self
                        .core
                        .base
                        .audit(tx, &ctx, entry(Outcome::Failure).detail("reason", "no_device"))
                        .await;
                };
                self.lock(tx, alert, record, &device.id, woken).await
            }
            // The hold is the response itself: lookups check for one not reversed (the vault's gate).
            Response::HoldLookups => {
                record.target = format!("user:{person}");
                tx.insert_alert_response(&record).await?;
                let e = entry(Outcome::Success).detail("target", record.target.clone());
                self.core.base.audit(tx, &ctx, e).await
            }
            Response::EndSessions => {
                let ended = tx.delete_user_sessions(person).await?;
                record.target = format!("user:{person}");
                record.detail = Some(ended.to_string());
                tx.insert_alert_response(&record).await?;
                let e = entry(Outcome::Success)
                    .detail("target", record.target.clone())
                    .detail("sessions_ended", ended.to_string());
                self.core.base.audit(tx, &ctx, e).await
            }
        }
    }
}

impl DetectionRunner {
    /// Locks a PC through its agent's command path, in the alert's transaction.
    async fn lock(
        &self,
        tx: &mut Box<dyn StoreTx>,
        alert: &AlertRecord,
        mut record: AlertResponseRecord,
        device_id: &str,
        woken: &mut Vec<String>,
    ) -> Result<(), CoreError> {
        let ctx = RequestContext::default();
        let command = crate::devices::system_command(device_id, "lock", None, self.core.now());
        tx.insert_command(&command).await?;
        let issued = AuditEvent::of(&actions::DEVICE_COMMAND, Actor::System, Outcome::Success)
            .object(format!("device:{device_id}"))
            .detail("command", command.id.clone())
            .detail("kind", "lock");
        self.core.base.audit(tx, &ctx, issued).await?;
        record.target = format!("device:{device_id}");
        record.detail = Some(command.id.clone());
        tx.insert_alert_response(&record).await?;
        woken.push(device_id.to_owned());
        let e = AuditEvent::of(&actions::ALERT_RESPONSE, Actor::System, Outcome::Success)
            .object(format!("alert:{}", alert.id))
            .detail("kind", Response::LockPc.as_str())
            .detail("target", record.target.clone())
            .detail("command", command.id);
        self.core.base.audit(tx, &ctx, e).await
    }
}

impl Core {
    /// Reverses an automatic response of an alert (`alerts.manage` in scope): a PC locked by
    /// Mamori gets a message that the supervisor released it (the operator unlocks it with
    /// their own password, as after any lock); ended sessions are marked reversed (the person
    /// signs in again). Audited as `alert.response_reverse`.
    pub async fn reverse_alert_response(
        &self,
        principal: &crate::Principal,
        alert_id: &str,
        response_id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let response = self.detection.reversible_response(principal, alert_id, response_id, ctx).await?;
        let mut tx = self.base.store.begin().await?;
        if !tx.reverse_alert_response(response_id, self.now(), &principal.actor().encode()).await? {
            return Err(CoreError::Conflict("the response was reversed already".into()));
        }
        let mut e = AuditEvent::of(&actions::ALERT_RESPONSE_REVERSE, principal.actor(), Outcome::Success)
            .object(format!("alert:{alert_id}"))
            .detail("response", response_id)
            .detail("kind", response.kind.clone());
        let mut woken = None;
        if let (Some(device_id), "lock_pc") =
            (response.target.strip_prefix("device:"), response.kind.as_str())
        {
            let text = "管理者がロックを解除しました。ご自身のパスワードでサインインしてください。 / \
                        Your supervisor released the lock: sign in with your own password.";
            let mut command = crate::devices::system_command(device_id, "message", Some(text), self.now());
            command.issued_by = principal.user.id.clone();
            tx.insert_command(&command).await?;
            e = e.detail("command", command.id.clone());
            woken = Some(device_id.to_owned());
        }
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        if let Some(device) = woken {
            self.devices.wake_commands(&device);
        }
        self.detection.alerts_changed();
        Ok(())
    }
}

/// An audit entry as the detectors see it.
pub fn observed(e: &AuditEntry) -> Observed<'_> {
    Observed {
        index: e.index,
        time: e.time,
        action: &e.action,
        actor: &e.actor,
        object: e.object.as_deref(),
        outcome: e.outcome.as_str(),
        source_ip: e.source_ip.as_deref(),
        details: &e.details,
    }
}
