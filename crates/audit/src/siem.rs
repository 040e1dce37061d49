//! How entries leave for a SIEM: RFC 5424 syslog messages and JSON Lines. Both carry the
//! entry's index, so a receiver can drop the duplicates that at-least-once delivery may bring.

use crate::{AuditEntry, Category, Outcome};

/// The private enterprise number in structured-data ids. 32473 is the number RFC 5612 reserves
/// for documentation and examples; Mamori has none of its own.
pub const ENTERPRISE_NUMBER: u32 = 32473;

/// Facility 13, "log audit" (RFC 5424 §6.2.1).
const FACILITY_LOG_AUDIT: u8 = 13;

fn severity(e: &AuditEntry) -> u8 {
    match (e.category, e.outcome) {
        (Category::Security, _) => 4,                 // warning
        (_, Outcome::Failure | Outcome::Denied) => 5, // notice
        _ => 6,                                       // informational
    }
}

/// RFC 5424 §6.3.3: inside a parameter value, `"`, `\` and `]` are escaped with a backslash.
fn param_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// RFC 5424 allows printable US-ASCII only in the header fields; anything else becomes `-`.
fn header_field(s: &str, max: usize) -> String {
    if s.is_empty() || s.len() > max || !s.bytes().all(|b| (33..=126).contains(&b)) {
        "-".into()
    } else {
        s.to_owned()
    }
}

/// One entry as an RFC 5424 message: the header, a `mamori@32473` structured-data element
/// with the entry's fields, and the entry as JSON as the message.
pub fn syslog_message(e: &AuditEntry, hostname: &str) -> String {
    let pri = FACILITY_LOG_AUDIT * 8 + severity(e);
    let time = e.time.rfc3339();
    let mut sd = format!(
        "[mamori@{ENTERPRISE_NUMBER} index=\"{}\" category=\"{}\" action=\"{}\" actor=\"{}\" outcome=\"{}\"",
        e.index,
        e.category.as_str(),
        param_value(&e.action),
        param_value(&e.actor),
        e.outcome.as_str()
    );
    for (name, value) in [("object", &e.object), ("source_ip", &e.source_ip), ("request_id", &e.request_id)] {
        if let Some(v) = value {
            sd.push_str(&format!(" {name}=\"{}\"", param_value(v)));
        }
    }
    sd.push(']');
    format!("<{pri}>1 {time} {} mamori - audit {sd} {}", header_field(hostname, 255), json_line(e))
}

/// The entry as one line of JSON (no newline).
pub fn json_line(e: &AuditEntry) -> String {
    serde_json::to_string(e).unwrap_or_default()
}

/// RFC 6587 octet counting: the message's length in bytes, a space, the message.
pub fn octet_counted(message: &str) -> String {
    format!("{} {message}", message.len())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use mamori_domain::UnixMillis;

    #[test]
    fn rfc5424_message() {
        let e = AuditEntry {
            index: 42,
            time: UnixMillis(1_795_518_767_236),
            category: Category::Authentication,
            action: "signin.password".into(),
            actor: "anonymous".into(),
            object: Some("user:a\"b]".into()),
            outcome: Outcome::Failure,
            source_ip: Some("192.0.2.7".into()),
            request_id: None,
            details: Default::default(),
        };
        let m = syslog_message(&e, "mamori-01");
        assert!(
            m.starts_with(
                "<109>1 2026-11-24T11:12:47.236Z mamori-01 mamori - audit [mamori@32473 index=\"42\" "
            ),
            "{m}"
        );
        assert!(m.contains(r#"object="user:a\"b\]""#), "{m}");
        assert!(m.ends_with(&json_line(&e)));
        assert_eq!(syslog_message(&e, "has space").split(' ').nth(2), Some("-"));
        assert_eq!(octet_counted("abc"), "3 abc");
        assert_eq!(mamori_domain::UnixMillis(0).rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(mamori_domain::UnixMillis(951_782_400_000).rfc3339(), "2000-02-29T00:00:00.000Z");
    }
}
