//! Refusals as evidence (DESIGN invariant 9): every refused attempt — a missing permission, a
//! forged or missing CSRF token, another client's or team's record, a reveal over the
//! allowance, a throttled or locked sign-in — leaves an audit entry with outcome `denied` and
//! its reason.
//!
//! A flood must not fill the disk, and must not cost a commit per request either. So refusals
//! are aggregated per *key* — actor, action, object, reason (and the source address when the
//! actor is anonymous): the first refusal of a key is written at once, through the read log's
//! group commit, and waited for; further refusals of that key within the same second are only
//! counted, and one entry per key (`repeats`: how many) is written when the second ends. A
//! flood thus writes at most two entries a second per key. The table of keys is bounded; past
//! [`MAX_KEYS`], new keys are counted together into one `denials.overflow` entry a second.
//!
//! A crash loses at most the counts of the last second; the first refusal of every key is
//! already committed.

use crate::base::read_log::ReadLog;
use mamori_audit::{Actor, AuditEvent, Outcome, actions};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

/// How long repeats of one key are counted before their entry is written.
pub const AGGREGATION_WINDOW: Duration = Duration::from_secs(1);
/// Distinct keys counted at once; beyond this, refusals are counted as overflow.
pub const MAX_KEYS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    action: &'static str,
    actor: String,
    object: Option<String>,
    reason: String,
    source: Option<String>,
}

impl Key {
    fn of(event: &AuditEvent) -> Self {
        Key {
            action: event.action,
            actor: event.actor.encode(),
            object: event.object.clone(),
            reason: event.details.get("reason").cloned().unwrap_or_default(),
            // Anonymous callers are told apart by where they come from.
            source: if event.actor == Actor::Anonymous { event.source_ip.clone() } else { None },
        }
    }
}

/// A key seen in the current window: the last refusal (for the aggregate entry) and how many
/// came after the first.
#[derive(Debug)]
struct Seen {
    last: AuditEvent,
    repeats: u64,
}

#[derive(Debug, Default)]
struct Window {
    seen: HashMap<Key, Seen>,
    overflow: u64,
}

#[derive(Debug, Default)]
pub(crate) struct DenialLog {
    window: Mutex<Window>,
    flusher: OnceLock<()>,
}

impl DenialLog {
    /// Records a refusal (already stamped with its request's origin). Returns once the entry is
    /// committed when it is the first of its key in this window; at once when it is counted.
    /// `read_log` must be started.
    pub(crate) async fn record(
        self: &Arc<Self>,
        read_log: &Arc<OnceLock<ReadLog>>,
        event: AuditEvent,
    ) -> Result<(), crate::CoreError> {
        debug_assert_eq!(event.outcome, Outcome::Denied);
        let Some(writer) = read_log.get() else {
            return Err(crate::CoreError::Internal("the audit writer has not started".into()));
        };
        self.flusher.get_or_init(|| self.start_flusher(read_log.clone()));
        let key = Key::of(&event);
        let first = {
            let Ok(mut window) = self.window.lock() else {
                return Err(crate::CoreError::Internal("denial log poisoned".into()));
            };
            let full = window.seen.len() >= MAX_KEYS;
            match window.seen.get_mut(&key) {
                Some(seen) => {
                    seen.repeats += 1;
                    seen.last = event.clone();
                    false
                }
                None if full => {
                    window.overflow += 1;
                    false
                }
                None => {
                    window.seen.insert(key, Seen { last: event.clone(), repeats: 0 });
                    true
                }
            }
        };
        if first {
            writer.append(event).await?;
        }
        Ok(())
    }

    /// Writes each window's counts when it ends. The task holds the log weakly and ends with it.
    fn start_flusher(self: &Arc<Self>, read_log: Arc<OnceLock<ReadLog>>) {
        let me: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(AGGREGATION_WINDOW);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(log) = me.upgrade() else { return };
                let entries = log.end_window();
                drop(log);
                let Some(writer) = read_log.get() else { continue };
                if !entries.is_empty()
                    && let Err(e) = writer.append_all(entries).await
                {
                    tracing::error!(error = %e, "counts of repeated refusals could not be written");
                }
            }
        });
    }

    /// Closes the current window: one entry for each key refused more than once, and one for
    /// the overflow.
    fn end_window(&self) -> Vec<AuditEvent> {
        let window = match self.window.lock() {
            Ok(mut w) => std::mem::take(&mut *w),
            Err(_) => return Vec::new(),
        };
        let window_ms = AGGREGATION_WINDOW.as_millis().to_string();
        let mut entries: Vec<AuditEvent> = window
            .seen
            .into_values()
            .filter(|s| s.repeats > 0)
            .map(|s| {
                let mut e = s.last;
                e.request_id = None;
                e.detail("repeats", s.repeats.to_string()).detail("window_ms", window_ms.clone())
            })
            .collect();
        if window.overflow > 0 {
            entries.push(
                AuditEvent::of(&actions::DENIALS_OVERFLOW, Actor::System, Outcome::Denied)
                    .detail("reason", "too_many_distinct_refusals")
                    .detail("repeats", window.overflow.to_string())
                    .detail("window_ms", window_ms),
            );
        }
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(actor: Actor, reason: &str, ip: &str) -> AuditEvent {
        let mut e = AuditEvent::of(&actions::ROUTE_DENIED, actor, Outcome::Denied)
            .object("route:GET /api/v1/users")
            .detail("reason", reason);
        e.source_ip = Some(ip.into());
        e
    }

    #[test]
    fn keys_tell_apart_actor_reason_and_anonymous_sources() {
        let a = Key::of(&refusal(Actor::User("u1".into()), "permission", "10.0.0.1"));
        assert_eq!(a, Key::of(&refusal(Actor::User("u1".into()), "permission", "10.0.0.2")));
        assert_ne!(a, Key::of(&refusal(Actor::User("u2".into()), "permission", "10.0.0.1")));
        assert_ne!(a, Key::of(&refusal(Actor::User("u1".into()), "csrf", "10.0.0.1")));
        let anon = Key::of(&refusal(Actor::Anonymous, "throttled", "10.0.0.1"));
        assert_ne!(anon, Key::of(&refusal(Actor::Anonymous, "throttled", "10.0.0.2")));
    }

    #[test]
    fn a_window_aggregates_repeats_and_overflow() {
        let log = DenialLog::default();
        {
            let mut w = log.window.lock().unwrap();
            let e = refusal(Actor::User("u1".into()), "permission", "10.0.0.1");
            w.seen.insert(Key::of(&e), Seen { last: e.clone(), repeats: 41 });
            let once = refusal(Actor::User("u2".into()), "permission", "10.0.0.1");
            w.seen.insert(Key::of(&once), Seen { last: once, repeats: 0 });
            w.overflow = 7;
        }
        let entries = log.end_window();
        assert_eq!(entries.len(), 2, "a key refused once has no aggregate entry");
        assert_eq!(entries[0].details["repeats"], "41");
        assert_eq!(entries[0].outcome, Outcome::Denied);
        assert_eq!(entries[1].action, "denials.overflow");
        assert_eq!(entries[1].details["repeats"], "7");
        assert!(log.end_window().is_empty(), "the next window starts empty");
    }
}
