//! Group commit for audit entries that record a read.
//!
//! A change writes its audit entry in its own transaction. A read has no transaction of its
//! own, yet its entry must be durable before the data is returned (fail closed). Giving each
//! read a transaction would cost one disk flush per read; instead, entries from concurrent
//! reads queue here and one writer commits them together — every caller still waits until
//! its entry is committed, and learns its index.

use crate::CoreError;
use mamori_audit::AuditEvent;
use mamori_domain::Clock;
use mamori_store::Store;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Entries committed in one transaction at most.
const BATCH: usize = 1024;

type Reply = oneshot::Sender<Result<u64, String>>;

#[derive(Debug)]
pub(crate) struct ReadLog {
    queue: mpsc::Sender<(AuditEvent, Reply)>,
}

impl ReadLog {
    /// Starts the writer task; it ends when the last `ReadLog` handle is dropped.
    pub(crate) fn start(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        let (queue, mut incoming) = mpsc::channel::<(AuditEvent, Reply)>(BATCH * 4);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while incoming.recv_many(&mut batch, BATCH).await > 0 {
                let result = commit(&*store, &*clock, &batch).await;
                for (i, (_, reply)) in batch.drain(..).enumerate() {
                    let _ = reply.send(match &result {
                        Ok(indexes) => indexes.get(i).copied().ok_or_else(|| "entry not appended".to_owned()),
                        Err(e) => Err(e.clone()),
                    });
                }
            }
        });
        ReadLog { queue }
    }

    /// Appends and waits until the entry is committed; returns its index.
    pub(crate) async fn append(&self, event: AuditEvent) -> Result<u64, CoreError> {
        let indexes = self.append_all(vec![event]).await?;
        indexes.first().copied().ok_or_else(|| CoreError::Internal("entry not appended".into()))
    }

    /// Appends several entries (queued together, so usually committed together) and waits
    /// until every one is committed.
    pub(crate) async fn append_all(&self, events: Vec<AuditEvent>) -> Result<Vec<u64>, CoreError> {
        let stopped = || CoreError::Internal("the audit writer has stopped".into());
        let mut answers = Vec::with_capacity(events.len());
        for event in events {
            let (reply, answer) = oneshot::channel();
            self.queue.send((event, reply)).await.map_err(|_| stopped())?;
            answers.push(answer);
        }
        let mut indexes = Vec::with_capacity(answers.len());
        for answer in answers {
            let index = answer
                .await
                .map_err(|_| stopped())?
                .map_err(|e| CoreError::Store(mamori_store::StoreError::Unavailable(e)))?;
            indexes.push(index);
        }
        Ok(indexes)
    }
}

/// Commits a batch in one transaction; returns the entries' indexes.
async fn commit(
    store: &dyn Store,
    clock: &dyn Clock,
    batch: &[(AuditEvent, Reply)],
) -> Result<Vec<u64>, String> {
    let work = async {
        let events: Vec<AuditEvent> = batch.iter().map(|(e, _)| e.clone()).collect();
        let mut tx = store.begin().await?;
        let first = tx.append_audit_batch(clock.now(), &events).await?;
        tx.commit().await?;
        Ok::<_, mamori_store::StoreError>((first..first + events.len() as u64).collect())
    };
    work.await.map_err(|e| e.to_string())
}
