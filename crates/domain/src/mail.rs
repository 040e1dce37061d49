//! Outgoing mail held for a check (issue 15, item 5; LEAK-9, TW-9 — 誤送信防止, メールのダブルチェック).
//!
//! The rules, free of SMTP and storage:
//! - a recipient's domain is internal when it is one of the policy's internal domains or a
//!   subdomain of one; mail to internal domains only passes at once;
//! - mail to any external domain is held for the sender's own check (after a delay, during which
//!   they may cancel);
//! - mail to an external domain that carries customer data — an attachment, a card number, or a
//!   phone number or e-mail address that is a customer's (matched by blind index elsewhere) —
//!   also needs a supervisor's approval;
//! - a client company may limit the external domains its customers' data may go to
//!   ([`MailPolicy::refused_domain`]).
//!
//! [`candidates`] finds the values in a text that may be customer data; the caller matches them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The security admin's rules for outgoing mail (kept as one setting, shared by replicas).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailPolicy {
    /// The center's own domains: mail only to these (and their subdomains) passes at once.
    pub internal_domains: Vec<String>,
    /// Seconds a held mail waits before its sender may confirm it (they may cancel meanwhile).
    pub self_check_delay_secs: u32,
    /// Hours a held mail waits for its sender's check before it is returned to them.
    pub hold_hours: u32,
    /// Client company id → the only external domains mail with its customers' data may go to.
    #[serde(default)]
    pub client_domains: BTreeMap<String, Vec<String>>,
    /// Attachments of a released mail leave as one-time download links instead of files (the
    /// recipient downloads each file once per external recipient, until the links expire).
    #[serde(default)]
    pub attachment_links: bool,
    /// Hours a download link works (1–720).
    #[serde(default = "default_link_hours")]
    pub link_hours: u32,
}

fn default_link_hours() -> u32 {
    72
}

impl Default for MailPolicy {
    fn default() -> Self {
        MailPolicy {
            internal_domains: Vec::new(),
            self_check_delay_secs: 60,
            hold_hours: 24,
            client_domains: BTreeMap::new(),
            attachment_links: false,
            link_hours: default_link_hours(),
        }
    }
}

/// Why a policy cannot be kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailPolicyError {
    #[error("`{0}` is not a domain name (letters, digits, hyphens and dots, like example.co.jp)")]
    Domain(String),
    #[error("the self-check delay is 0 to 600 seconds")]
    Delay,
    #[error("a held mail waits 1 to 168 hours")]
    Hold,
    #[error("a download link works 1 to 720 hours (30 days)")]
    LinkHours,
}

/// A domain as compared: trimmed, lower-case, without a trailing dot.
pub fn normalize_domain(domain: &str) -> Result<String, MailPolicyError> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if d.len() <= 253 && d.contains('.') && d.split('.').all(label_ok) {
        Ok(d)
    } else {
        Err(MailPolicyError::Domain(domain.chars().take(80).collect()))
    }
}

/// `domain` is `parent` or under it.
fn within(domain: &str, parent: &str) -> bool {
    domain == parent || domain.strip_suffix(parent).is_some_and(|rest| rest.ends_with('.'))
}

impl MailPolicy {
    /// The policy with its domains normalized, or what is wrong with it.
    pub fn checked(mut self) -> Result<Self, MailPolicyError> {
        let norm = |list: &mut Vec<String>| -> Result<(), MailPolicyError> {
            let mut out = list.iter().map(|d| normalize_domain(d)).collect::<Result<Vec<_>, _>>()?;
            out.sort();
            out.dedup();
            *list = out;
            Ok(())
        };
        norm(&mut self.internal_domains)?;
        for list in self.client_domains.values_mut() {
            norm(list)?;
        }
        self.client_domains.retain(|_, list| !list.is_empty());
        if self.self_check_delay_secs > 600 {
            return Err(MailPolicyError::Delay);
        }
        if !(1..=168).contains(&self.hold_hours) {
            return Err(MailPolicyError::Hold);
        }
        if !(1..=720).contains(&self.link_hours) {
            return Err(MailPolicyError::LinkHours);
        }
        Ok(self)
    }

    pub fn is_internal(&self, domain: &str) -> bool {
        self.internal_domains.iter().any(|d| within(domain, d))
    }

    /// The first external domain the mail may not go to, and the client company whose limit
    /// refuses it. The limits of the client companies whose customers the mail carries apply,
    /// each; when it carries none, the sender's client companies' limits apply together (a
    /// domain any of them allows), unless one of them has no limit.
    pub fn refused_domain<'a>(
        &self,
        external_domains: &'a [String],
        matched_clients: &[String],
        sender_clients: &[String],
    ) -> Option<(&'a str, String)> {
        let allows = |client: &str, domain: &str| {
            self.client_domains.get(client).is_none_or(|list| list.iter().any(|d| within(domain, d)))
        };
        for domain in external_domains {
            if let Some(client) = matched_clients.iter().find(|c| !allows(c, domain)) {
                return Some((domain, client.clone()));
            }
            let all_limited = !sender_clients.is_empty()
                && sender_clients.iter().all(|c| self.client_domains.contains_key(c));
            if matched_clients.is_empty() && all_limited && !sender_clients.iter().any(|c| allows(c, domain))
            {
                return Some((domain, sender_clients[0].clone()));
            }
        }
        None
    }
}

/// Where a recipient was named: in the To or Cc header (every recipient sees it), or only on
/// the envelope (Bcc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Header {
    To,
    Cc,
    Bcc,
}

/// One recipient of a submitted mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recipient {
    pub address: String,
    pub domain: String,
    pub external: bool,
    pub header: Header,
}

impl Recipient {
    /// An external address in To or Cc shows every recipient's address to the others
    /// (a classic leak: a mass mail sent with all addresses visible).
    pub fn visible_external(&self) -> bool {
        self.external && self.header != Header::Bcc
    }
}

/// What a submitted mail carries that may be customer data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Findings {
    pub attachments: usize,
    /// Luhn-valid numbers of 13 to 19 digits.
    pub card_numbers: usize,
    /// Phone numbers and e-mail addresses that are customers' (blind index).
    pub customer_phones: usize,
    pub customer_emails: usize,
    /// The client companies whose customers matched.
    pub clients: Vec<String>,
}

impl Findings {
    pub fn customer_data(&self) -> bool {
        self.attachments + self.card_numbers + self.customer_phones + self.customer_emails > 0
    }
}

/// What happens to a submitted mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Every recipient is internal: it goes now.
    Pass,
    /// Held for the sender's check; with customer data, also for a supervisor's approval.
    Hold { needs_approval: bool },
    /// A client company's domain limit refuses this recipient domain: it is returned.
    Refuse { domain: String, client: String },
}

/// The one rule that routes a mail.
pub fn route(
    policy: &MailPolicy,
    recipients: &[Recipient],
    findings: &Findings,
    sender_clients: &[String],
) -> Route {
    let mut external: Vec<String> =
        recipients.iter().filter(|r| r.external).map(|r| r.domain.clone()).collect();
    external.sort();
    external.dedup();
    if external.is_empty() {
        return Route::Pass;
    }
    if let Some((domain, client)) = policy.refused_domain(&external, &findings.clients, sender_clients) {
        return Route::Refuse { domain: domain.to_owned(), client };
    }
    Route::Hold { needs_approval: findings.customer_data() }
}

/// Values in a text that may be customer data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidates {
    /// Luhn-valid card numbers (digits only).
    pub card_numbers: Vec<String>,
    /// Phone numbers in E.164.
    pub phones: Vec<String>,
    /// E-mail addresses, normalized.
    pub emails: Vec<String>,
}

/// At most this many distinct phones and e-mail addresses are looked up per mail.
pub const MAX_LOOKUPS: usize = 200;

/// Finds card numbers, phone numbers and e-mail addresses in a text (full-width digits too).
pub fn candidates(text: &str) -> Candidates {
    use crate::customer::{normalize_card_number, normalize_email, normalize_phone};
    use unicode_normalization::UnicodeNormalization;
    let folded: String = text.nfkc().collect();
    let mut found = Candidates::default();
    // Runs of digits with the separators people write numbers with.
    let is_part = |c: char| c.is_ascii_digit() || matches!(c, '-' | ' ' | '(' | ')' | '.' | '+');
    let mut run = String::new();
    let flush = |run: &mut String, found: &mut Candidates| {
        let trimmed = run.trim_matches(|c: char| !c.is_ascii_digit() && c != '+');
        let digits = trimmed.chars().filter(char::is_ascii_digit).count();
        if (13..=19).contains(&digits) {
            if let Ok(card) = normalize_card_number(&trimmed.replace(['(', ')', '.', '+'], "")) {
                found.card_numbers.push(card);
            }
        } else if (10..=15).contains(&digits)
            && let Ok(phone) = normalize_phone(trimmed)
        {
            found.phones.push(phone);
        }
        run.clear();
    };
    for c in folded.chars() {
        if is_part(c) && (c.is_ascii_digit() || c == '+' || !run.is_empty()) {
            run.push(c);
        } else {
            flush(&mut run, &mut found);
        }
    }
    flush(&mut run, &mut found);
    let is_delimiter = |c: char| c.is_whitespace() || "<>()[],;:\"'「」『』、。".contains(c);
    for word in folded.split(is_delimiter) {
        let word = word.trim_matches(|c: char| c == '.' || c == '!' || c == '?');
        if word.contains('@')
            && let Ok(email) = normalize_email(word.strip_prefix("mailto:").unwrap_or(word))
        {
            found.emails.push(email);
        }
    }
    for list in [&mut found.card_numbers, &mut found.phones, &mut found.emails] {
        list.sort();
        list.dedup();
        list.truncate(MAX_LOOKUPS);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> MailPolicy {
        MailPolicy {
            internal_domains: vec!["Center.example.JP".into()],
            client_domains: BTreeMap::from([("acme".into(), vec!["acme.co.jp".into()])]),
            ..MailPolicy::default()
        }
        .checked()
        .unwrap()
    }

    fn to(address: &str, policy: &MailPolicy, header: Header) -> Recipient {
        let domain = address.rsplit('@').next().unwrap().to_owned();
        Recipient { address: address.into(), external: !policy.is_internal(&domain), domain, header }
    }

    #[test]
    fn internal_means_the_domain_or_under_it() {
        let p = policy();
        assert!(p.is_internal("center.example.jp"));
        assert!(p.is_internal("mail.center.example.jp"));
        assert!(!p.is_internal("evilcenter.example.jp"));
        assert!(!p.is_internal("center.example.jp.evil.com"));
    }

    #[test]
    fn routes_internal_external_and_customer_data() {
        let p = policy();
        let none = Findings::default();
        let inside = [to("a@center.example.jp", &p, Header::To)];
        assert_eq!(route(&p, &inside, &none, &[]), Route::Pass);
        let outside = [inside[0].clone(), to("b@partner.example.com", &p, Header::Cc)];
        assert_eq!(route(&p, &outside, &none, &[]), Route::Hold { needs_approval: false });
        let card = Findings { card_numbers: 1, ..Findings::default() };
        assert_eq!(route(&p, &outside, &card, &[]), Route::Hold { needs_approval: true });
        // Customer data to internal recipients only still passes.
        assert_eq!(route(&p, &inside, &card, &[]), Route::Pass);
    }

    #[test]
    fn client_limits_apply_to_their_customers_data_and_to_their_operators() {
        let p = policy();
        let partner = [to("b@partner.example.com", &p, Header::To)];
        let acme_data = Findings { customer_phones: 1, clients: vec!["acme".into()], ..Findings::default() };
        assert_eq!(
            route(&p, &partner, &acme_data, &[]),
            Route::Refuse { domain: "partner.example.com".into(), client: "acme".into() }
        );
        let acme = [to("x@sub.acme.co.jp", &p, Header::To)];
        assert_eq!(route(&p, &acme, &acme_data, &[]), Route::Hold { needs_approval: true });
        // No customer matched: an operator who works only on acme writes only to acme.
        let none = Findings::default();
        assert!(matches!(route(&p, &partner, &none, &["acme".into()]), Route::Refuse { .. }));
        // … unless they also work on a client without a limit.
        assert_eq!(
            route(&p, &partner, &none, &["acme".into(), "other".into()]),
            Route::Hold { needs_approval: false }
        );
    }

    #[test]
    fn bcc_hides_an_external_address() {
        let p = policy();
        assert!(to("b@partner.example.com", &p, Header::Cc).visible_external());
        assert!(!to("b@partner.example.com", &p, Header::Bcc).visible_external());
        assert!(!to("a@center.example.jp", &p, Header::To).visible_external());
    }

    #[test]
    fn finds_cards_phones_and_addresses_in_japanese_text() {
        let text = "お客様の電話は０９０－１２３４－５６７８、カードは4111 1111 1111 1111です。\
                    連絡先<Hanako.Yamada@Example.JP>。注文番号 1234567890123 は違う。";
        let c = candidates(text);
        assert_eq!(c.card_numbers, vec!["4111111111111111"]);
        assert_eq!(c.phones, vec!["+819012345678"]);
        assert_eq!(c.emails, vec!["hanako.yamada@example.jp"]);
    }

    /// A fuzz-style run over the text a mail brings from outside: random characters of every
    /// width, digits and separators — never a panic, and every card found passes Luhn.
    #[test]
    fn candidates_take_any_text() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet: Vec<char> =
            "0123456789０１２３４５６７８９ -+().@@a.jp\n、。「」ー－＠\u{0}\u{301}漢".chars().collect();
        for _ in 0..5000 {
            let len = (next() % 120) as usize;
            let text: String = (0..len)
                .map(|_| match next() % 8 {
                    0 => char::from_u32((next() % 0x11_0000) as u32).unwrap_or('?'),
                    _ => alphabet[(next() % alphabet.len() as u64) as usize],
                })
                .collect();
            let found = candidates(&text);
            for card in &found.card_numbers {
                assert!(crate::customer::normalize_card_number(card).is_ok(), "{card}");
            }
            assert!(found.phones.len() <= MAX_LOOKUPS && found.emails.len() <= MAX_LOOKUPS);
        }
    }

    #[test]
    fn a_policy_with_a_bad_domain_or_delay_is_refused() {
        let bad = MailPolicy { internal_domains: vec!["not a domain".into()], ..MailPolicy::default() };
        assert!(matches!(bad.checked(), Err(MailPolicyError::Domain(_))));
        let slow = MailPolicy { self_check_delay_secs: 601, ..MailPolicy::default() };
        assert_eq!(slow.checked(), Err(MailPolicyError::Delay));
        for hours in [0, 721] {
            let links = MailPolicy { attachment_links: true, link_hours: hours, ..MailPolicy::default() };
            assert_eq!(links.checked(), Err(MailPolicyError::LinkHours), "{hours}");
        }
        let links = MailPolicy { attachment_links: true, link_hours: 720, ..MailPolicy::default() };
        assert!(links.checked().is_ok());
    }

    /// A policy kept before the links existed reads as links off, 72 hours.
    #[test]
    fn an_older_policy_reads_with_links_off() {
        let old = "internal_domains: [center.example.jp]\nself_check_delay_secs: 60\nhold_hours: 24\n";
        let p: MailPolicy = yaml_serde::from_str(old).unwrap();
        assert!(!p.attachment_links);
        assert_eq!(p.link_hours, 72);
    }
}
