//! The agent's offline queue: every event is a file of its own in the state directory, written
//! and synced before it counts as queued, removed only once the server has acknowledged it. So
//! events survive network loss, a server restart and the agent's own restart; and since each
//! keeps its id, a batch sent again after a lost answer is stored once. The queue is bounded:
//! beyond [`MAX_EVENTS`] the oldest are dropped and an `events_dropped` event says how many.

use anyhow::{Context, Result};
use mamori_proto::agent::{AgentEvent, EventData};
use std::path::{Path, PathBuf};

/// The most events kept while the server cannot be reached (about a week of a busy PC).
pub const MAX_EVENTS: usize = 10_000;

pub struct Queue {
    dir: PathBuf,
    max: usize,
}

/// A fresh event id: 128 random bits, hex.
pub fn new_event_id() -> String {
    mamori_crypto::random_bytes::<16>()
        .map(|b| b.iter().map(|x| format!("{x:02x}")).collect())
        .unwrap_or_default()
}

pub fn event(time: i64, what: EventData) -> AgentEvent {
    AgentEvent { id: new_event_id(), time, event: what }
}

impl Queue {
    pub fn open(dir: &Path) -> Result<Queue> {
        Self::with_limit(dir, MAX_EVENTS)
    }

    pub fn with_limit(dir: &Path, max: usize) -> Result<Queue> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the event queue {}", dir.display()))?;
        Ok(Queue { dir: dir.to_owned(), max: max.max(2) })
    }

    /// Queued files, oldest first (names start with the zero-padded time).
    fn files(&self) -> Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        Ok(files)
    }

    pub fn len(&self) -> usize {
        self.files().map(|f| f.len()).unwrap_or(0)
    }

    /// Queues an event durably.
    pub fn push(&self, e: &AgentEvent) -> Result<()> {
        let mut files = self.files()?;
        if files.len() >= self.max {
            // Keep the newest; say how many of the oldest were dropped.
            let drop_n = files.len() + 2 - self.max;
            for f in files.drain(..drop_n) {
                let _ = std::fs::remove_file(f);
            }
            self.write(&event(e.time, EventData::EventsDropped { count: drop_n as u64 }))?;
        }
        self.write(e)
    }

    fn write(&self, e: &AgentEvent) -> Result<()> {
        let name = format!("{:016}-{}.json", e.time.max(0), e.id);
        let tmp = self.dir.join(format!("{name}.tmp"));
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&serde_json::to_vec(e)?)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, self.dir.join(name))?;
        #[cfg(unix)]
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Up to `n` of the oldest events with their files. A file that cannot be read is removed
    /// (it was never acknowledged; it is damaged, and would block the queue forever).
    pub fn peek(&self, n: usize) -> Result<Vec<(PathBuf, AgentEvent)>> {
        let mut out = Vec::new();
        for path in self.files()?.into_iter().take(n) {
            match std::fs::read(&path).ok().and_then(|b| serde_json::from_slice::<AgentEvent>(&b).ok()) {
                Some(e) => out.push((path, e)),
                None => {
                    eprintln!("mamori-agent: removing a damaged queued event {}", path.display());
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        Ok(out)
    }

    /// Forgets events the server acknowledged.
    pub fn remove(&self, sent: &[(PathBuf, AgentEvent)]) {
        for (path, _) in sent {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn survives_reopening_keeps_order_and_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::with_limit(dir.path(), 5).unwrap();
        for t in 1..=3 {
            q.push(&event(t, EventData::ScreenLocked {})).unwrap();
        }
        let q = Queue::with_limit(dir.path(), 5).unwrap();
        let first = q.peek(10).unwrap();
        assert_eq!(first.iter().map(|(_, e)| e.time).collect::<Vec<_>>(), vec![1, 2, 3]);
        // Sent but not acknowledged: still there, with the same ids.
        let again = q.peek(10).unwrap();
        assert_eq!(
            first.iter().map(|(_, e)| &e.id).collect::<Vec<_>>(),
            again.iter().map(|(_, e)| &e.id).collect::<Vec<_>>()
        );
        q.remove(&first[..2]);
        assert_eq!(q.len(), 1);
        for t in 10..20 {
            q.push(&event(t, EventData::ScreenUnlocked {})).unwrap();
        }
        assert!(q.len() <= 5, "bounded: {}", q.len());
        let kept = q.peek(10).unwrap();
        assert!(
            kept.iter().any(|(_, e)| matches!(e.event, EventData::EventsDropped { .. })),
            "the drop is said"
        );
        assert_eq!(kept.last().unwrap().1.time, 19, "the newest are kept");
        std::fs::write(dir.path().join("0000000000000000-bad.json"), b"{not json").unwrap();
        assert!(q.peek(10).unwrap().iter().all(|(_, e)| e.id != "bad"));
        assert!(!dir.path().join("0000000000000000-bad.json").exists());
    }
}
