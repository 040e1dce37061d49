//! Notifications. The webhook (issue 15, item 8; alerts and incidents since issue 16): each
//! approval step the services queued (request, approve, deny, cancel, expire) is POSTed as JSON
//! to `notify.webhook_url`, signed so the receiver can tell it came from Mamori and is fresh:
//!
//! - `X-Mamori-Timestamp`: Unix seconds when it was sent;
//! - `X-Mamori-Signature`: `sha256=` and the hex HMAC-SHA256, under the shared secret, of the
//!   timestamp, a `.`, and the body — the receiver recomputes it and refuses a timestamp more
//!   than five minutes off.
//!
//! A delivery is an answer 2xx within 10 s. Anything else is tried again with back-off (1 s, 2 s,
//! 4 s … 5 min) and given up after ten attempts; every attempt is recorded on the notification
//! (`GET /api/v1/approvals/notifications`). Replicas share the queue: each claims what it sends.
//!
//! Reminders by e-mail (issue 17): [`spawn_mail`].

use crate::config::Webhook;
use hmac::{Hmac, Mac};
use mamori_core::Core;
use std::time::Duration;

/// How often the queue is looked at when nothing wakes the task.
const POLL: Duration = Duration::from_secs(1);

/// `sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>").
pub fn signature(secret: &str, timestamp: u64, body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn deliver(client: &reqwest::Client, hook: &Webhook, core: &Core, body: &str) -> Result<(), String> {
    let timestamp = core.now().as_secs();
    let r = client
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("x-mamori-timestamp", timestamp.to_string())
        .header("x-mamori-signature", signature(&hook.secret, timestamp, body.as_bytes()))
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| format!("not delivered: {e}"))?;
    if r.status().is_success() { Ok(()) } else { Err(format!("the receiver answered {}", r.status())) }
}

/// A queued mail's `{{ja:key}}` and `{{en:key}}` filled with the console's labels (the
/// services know codes, the console's catalogue their words); an unknown key stays as its code.
pub fn fill_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let parsed = after.find("}}").and_then(|end| {
            let (lang, key) = after[..end].split_once(':')?;
            let tr = crate::i18n::Tr(mamori_domain::identity::Language::parse(lang)?);
            Some((tr.get(key).unwrap_or(key.rsplit('.').next().unwrap_or(key)), end))
        });
        match parsed {
            Some((word, end)) => {
                out.push_str(word);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Sends the queue, woken by each approval change and at least every second.
pub fn spawn(core: Core, hook: Webhook) {
    tokio::spawn(async move {
        let client = match reqwest::Client::builder().timeout(Duration::from_secs(10)).build() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "the webhook client could not start");
                return;
            }
        };
        let mut changes = core.approvals.watch();
        loop {
            match core.approvals.claim_notifications(50).await {
                Ok(due) => {
                    for n in &due {
                        let outcome = deliver(&client, &hook, &core, &n.payload).await;
                        if let Err(e) = &outcome {
                            tracing::warn!(event = %n.event, attempt = n.attempts + 1, error = %e, "webhook delivery failed");
                        }
                        if let Err(e) = core.approvals.record_notification(n, outcome).await {
                            tracing::error!(error = %e, "a webhook delivery could not be recorded");
                        }
                    }
                    if !due.is_empty() {
                        continue;
                    }
                }
                Err(e) => tracing::error!(error = %e, "the webhook queue could not be read"),
            }
            let _ = tokio::time::timeout(POLL, changes.changed()).await;
        }
    });
}

/// Sends what is queued for e-mail through `notify.mail_url` as plain UTF-8 text: reminders
/// (issue 17, item 7) to `notify.mail_to`, approval steps (issue 15, item 8) to the people
/// concerned; looks every five seconds. Fails at start when the
/// URL or an address does not parse.
pub fn spawn_mail(core: Core, mail: crate::config::MailNotify) -> Result<(), String> {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&mail.url)
        .map_err(|e| format!("notify.mail_url: {e}"))?
        .timeout(Some(Duration::from_secs(30)))
        .build();
    let from: lettre::message::Mailbox = mail.from.parse().map_err(|e| format!("notify.mail_from: {e}"))?;
    let to: Vec<lettre::message::Mailbox> = mail
        .to
        .iter()
        .map(|a| a.parse())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("notify.mail_to: {e}"))?;
    tokio::spawn(async move {
        loop {
            match core.claim_mail_notifications(20).await {
                Ok(due) => {
                    for n in &due {
                        let mut message =
                            Message::builder().from(from.clone()).subject(fill_words(&n.subject));
                        // A person's own notification (an approval step), else the team's list.
                        let own: Vec<lettre::message::Mailbox> =
                            n.recipients.iter().filter_map(|a| a.parse().ok()).collect();
                        for r in if n.recipients.is_empty() { &to } else { &own } {
                            message = message.to(r.clone());
                        }
                        let outcome = match message
                            .header(lettre::message::header::ContentType::TEXT_PLAIN)
                            .body(fill_words(&n.body))
                        {
                            Ok(m) => transport.send(m).await.map(drop).map_err(|e| e.to_string()),
                            Err(e) => Err(e.to_string()),
                        };
                        if let Err(e) = &outcome {
                            tracing::warn!(reminder = %n.reminder, attempt = n.attempts + 1, error = %e, "a reminder e-mail was not sent");
                        }
                        if let Err(e) = core.record_mail_notification(n, outcome).await {
                            tracing::error!(error = %e, "a reminder e-mail could not be recorded");
                        }
                    }
                    if !due.is_empty() {
                        continue;
                    }
                }
                Err(e) => tracing::error!(error = %e, "the reminder queue could not be read"),
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::fill_words;

    #[test]
    fn labels_are_filled_in_both_languages() {
        assert_eq!(
            fill_words("{{ja:audit_value.rule.usb_storage}} / {{en:audit_value.rule.usb_storage}}"),
            "USBストレージの接続 / USB storage plugged in"
        );
        assert_eq!(fill_words("{{en:audit_value.rule.no_such_rule}}"), "no_such_rule");
        // Anything that is not a marker stays as written.
        for odd in ["{{", "a {{ b", "{{xx:y}}", "}} {{ja", "山田 {{", "{{en:x"] {
            assert_eq!(fill_words(odd), odd);
        }
        assert_eq!(fill_words("[{{ja:}}]"), "[]");
    }
}
