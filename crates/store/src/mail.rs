//! Outgoing mail held for a check (issue 15, item 5): the held messages (sealed), their state
//! as the sender checks them and a supervisor approves, and the queue the relay sends from;
//! and each person's mail password (its digest). Every change of state is a conditional update,
//! so two replicas never both release, send or return one mail.

use super::*;

/// A reminder by e-mail (issue 17, item 7), queued once per `reminder` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailNotification {
    pub id: String,
    /// What it is about and which threshold (`certificate:<id>:expires_soon`): queued once.
    pub reminder: String,
    pub subject: String,
    pub body: String,
    pub created_at: UnixMillis,
    pub attempts: i64,
    pub next_at: UnixMillis,
    pub last_error: Option<String>,
    pub sent_at: Option<UnixMillis>,
    /// Where it goes; empty: the security team's list (`notify.mail_to`).
    pub recipients: Vec<String>,
}

/// What a read handle may do in this area.
#[async_trait]
pub trait MailRead: Send {
    /// A mail without its message.
    async fn outgoing_mail(&mut self, id: &str) -> StoreResult<Option<OutgoingMail>>;
    /// The sealed message of a mail.
    async fn outgoing_mail_message(&mut self, id: &str) -> StoreResult<Option<Vec<u8>>>;
    /// A sender's latest mails (not bounces), newest first, without their messages.
    async fn outgoing_mails_of(&mut self, sender_id: &str, limit: i64) -> StoreResult<Vec<OutgoingMail>>;
    /// Mails in `state`, oldest first, without their messages.
    async fn outgoing_mails_in(&mut self, state: &str, limit: i64) -> StoreResult<Vec<OutgoingMail>>;
    /// Held mails not checked by `now` (the sweep returns them), oldest first.
    async fn held_mails_past(&mut self, now: UnixMillis, limit: i64) -> StoreResult<Vec<OutgoingMail>>;
    /// Mails waiting for an approval whose request was decided, withdrawn or expired (the
    /// sweep moves them on), oldest first.
    async fn mails_with_decided_requests(&mut self, limit: i64) -> StoreResult<Vec<OutgoingMail>>;
    /// The digest of a person's mail password.
    async fn mail_password_digest(&mut self, user_id: &str) -> StoreResult<Option<String>>;
    /// A released mail's attachment kept for download, by the digest of its link's token.
    async fn mail_file_link(&mut self, token_digest: &str) -> StoreResult<Option<MailFileLink>>;
}

/// What only a write transaction may do in this area.
#[async_trait]
pub trait MailWrite: MailRead {
    async fn insert_outgoing_mail(&mut self, mail: &OutgoingMail, sealed_message: &[u8]) -> StoreResult<()>;
    /// Moves a mail from `from` to `to`; false when it was no longer in `from`. `closed` marks a
    /// final state; `reason` says why it was returned; `approval_id` links its request.
    async fn move_outgoing_mail(&mut self, id: &str, from: &str, to: &MailMove) -> StoreResult<bool>;
    /// Released mails due now and not claimed by another replica, claimed until `until`.
    async fn claim_outgoing_mails(
        &mut self,
        now: UnixMillis,
        until: UnixMillis,
        limit: i64,
    ) -> StoreResult<Vec<OutgoingMail>>;
    /// A failed attempt at relaying: tried again at `next_at`.
    async fn record_mail_attempt(
        &mut self,
        id: &str,
        attempts: i64,
        next_at: UnixMillis,
        error: &str,
    ) -> StoreResult<()>;
    /// Queues a reminder; false when one with its key was queued before.
    async fn insert_mail_notification(&mut self, n: &MailNotification) -> StoreResult<bool>;
    /// Reminders due now (fewer than `max_attempts` tried), claimed until `until`.
    async fn claim_mail_notifications(
        &mut self,
        now: UnixMillis,
        until: UnixMillis,
        max_attempts: i64,
        limit: i64,
    ) -> StoreResult<Vec<MailNotification>>;
    /// A reminder sent (`Ok(at)`), or a failed attempt tried again at `next_at`.
    async fn record_mail_notification(
        &mut self,
        id: &str,
        outcome: Result<UnixMillis, (UnixMillis, &str)>,
    ) -> StoreResult<()>;
    async fn set_mail_password_digest(
        &mut self,
        user_id: &str,
        digest: &str,
        at: UnixMillis,
    ) -> StoreResult<()>;
    /// Puts a rewritten message (sealed) in place of a mail's message (its `size` stays the
    /// submitted message's).
    async fn replace_outgoing_mail_message(&mut self, id: &str, sealed_message: &[u8]) -> StoreResult<()>;
    async fn insert_mail_file_link(&mut self, link: &MailFileLink) -> StoreResult<()>;
    /// Takes one download of a link that has one left and has not expired at `now`; false when
    /// it has none (another download took the last one) or has expired.
    async fn take_mail_file_download(&mut self, id: &str, now: UnixMillis) -> StoreResult<bool>;
    /// Empties the sealed files of links expired at `now` or used up (the rows stay, so a late
    /// click is still refused with its reason); how many were emptied.
    async fn forget_mail_files(&mut self, now: UnixMillis) -> StoreResult<u64>;
}

/// An attachment of a released mail to external recipients, kept for download through a
/// one-time link instead of leaving with the mail (the outgoing-mail rules' `attachment_links`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFileLink {
    pub id: String,
    pub mail_id: String,
    /// Hex SHA-256 of the link's token: the token itself is only in the mail.
    pub token_digest: String,
    pub name: String,
    pub content_type: String,
    /// The file's size in bytes (not sealed).
    pub size: i64,
    /// The file, sealed with the mail key (bound to the link's id).
    pub sealed: Vec<u8>,
    pub expires_at: UnixMillis,
    pub downloads_left: i64,
    pub created_at: UnixMillis,
}
