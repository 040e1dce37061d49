//! Reminders by e-mail (issue 17, item 7): the services queue them, once per reminder key, in
//! the transaction that finds them due; the server's sending task claims what is due (replicas
//! share the queue), sends it to the configured address and records the outcome. A failed
//! attempt is tried again with back-off (1 min, 2, 4 … 1 h), ten times at most.

use crate::{Core, CoreError};
pub use mamori_store::MailNotification;
use std::time::Duration;

/// Attempts before a reminder is given up.
pub const MAX_ATTEMPTS: i64 = 10;
/// How long a claim holds a reminder for the replica sending it.
const CLAIM: Duration = Duration::from_secs(120);

impl Core {
    /// Reminders due now, claimed for this replica.
    pub async fn claim_mail_notifications(&self, limit: i64) -> Result<Vec<MailNotification>, CoreError> {
        let now = self.base.now();
        let mut tx = self.base.store.begin().await?;
        let due = tx.claim_mail_notifications(now, now.plus(CLAIM), MAX_ATTEMPTS, limit).await?;
        tx.commit().await?;
        Ok(due)
    }

    /// Records a sending: done, or tried again later.
    pub async fn record_mail_notification(
        &self,
        n: &MailNotification,
        outcome: Result<(), String>,
    ) -> Result<(), CoreError> {
        let now = self.base.now();
        let mut tx = self.base.store.begin().await?;
        match outcome {
            Ok(()) => tx.record_mail_notification(&n.id, Ok(now)).await?,
            Err(e) => {
                let backoff = Duration::from_secs(60 << n.attempts.clamp(0, 6));
                let error: String = e.chars().take(500).collect();
                tx.record_mail_notification(&n.id, Err((now.plus(backoff), &error))).await?
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
