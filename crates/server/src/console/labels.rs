//! Codes in words (issue 14, item 7): every code a page shows — an event's kind, a posture rule,
//! an event's details — goes through here to its label in the page's language, so no page
//! prints `usb_attached` or `disk_encryption`. A test renders every page in Japanese and looks
//! for raw codes.

use super::local_time;
use crate::i18n::Tr;
use serde_json::Value;

/// "USBストレージの接続" for `usb_attached`; the code only if the catalogue lacks it (a test
/// keeps every kind labelled).
pub fn event_kind(tr: Tr, kind: &str) -> String {
    tr.get(&format!("event_kind.{kind}")).map_or_else(|| kind.to_owned(), str::to_owned)
}

/// "ディスク暗号化が無効" for `disk_encryption`.
pub fn posture_rule(tr: Tr, rule: &str) -> String {
    tr.get(&format!("posture_rule.{rule}")).map_or_else(|| rule.to_owned(), str::to_owned)
}

/// "ユーザーの閲覧" for `users.read`.
pub fn permission(tr: Tr, code: &str) -> String {
    tr.get(&format!("permission.{code}")).map_or_else(|| code.to_owned(), str::to_owned)
}

/// The application in front during a minute, with the browser's site when known
/// ("msedge · crm.example.co.jp").
pub fn app_in_front(bucket: &mamori_domain::activity::ActivityBucket) -> String {
    match (&bucket.app, &bucket.browser_domain) {
        (Some(app), Some(domain)) => format!("{app} · {domain}"),
        (app, domain) => app.clone().or(domain.clone()).unwrap_or_default(),
    }
}

/// Details of an event that add nothing for a person (internal ids).
const HIDDEN_DETAILS: [&str; 3] = ["session", "other_session", "minute"];

/// An event's details as "label: value" lines, values in words: yes/no, times in JST, posture
/// rules by name.
pub fn event_details(tr: Tr, details: &serde_json::Map<String, Value>) -> Vec<String> {
    details
        .iter()
        .filter(|(k, v)| !HIDDEN_DETAILS.contains(&k.as_str()) && !v.is_null())
        .map(|(k, v)| {
            let label = tr.get(&format!("event_detail.{k}")).unwrap_or(k.as_str());
            format!("{label}: {}", detail_value(tr, k, v))
        })
        .collect()
}

fn detail_value(tr: Tr, key: &str, v: &Value) -> String {
    match (key, v) {
        (_, Value::Bool(b)) => tr.t(if *b { "common.yes" } else { "common.no" }).to_owned(),
        ("locked_until", Value::Number(n)) => n.as_i64().map(local_time).unwrap_or_default(),
        ("failures", Value::Array(list)) if list.is_empty() => tr.t("signals.no_failures").to_owned(),
        ("failures", Value::Array(list)) => list
            .iter()
            .map(|f| posture_rule(tr, f["rule"].as_str().or(f.as_str()).unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(tr.t("common.list_separator")),
        (_, Value::String(s)) => rfc3339_local(s).unwrap_or_else(|| s.clone()),
        (_, other) => other.to_string(),
    }
}

/// An RFC 3339 time as JST; None when the text is not one.
fn rfc3339_local(s: &str) -> Option<String> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    let ms = i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()?;
    Some(local_time(ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_domain::identity::Language;

    #[test]
    fn details_read_as_words_in_japanese() {
        let tr = Tr(Language::Ja);
        let details = serde_json::json!({
            "mass_storage": true,
            "last_seen": "2026-11-28T01:02:03Z",
            "failures": [{"rule": "disk_encryption", "detail": "off"}],
            "session": "abc",
        });
        let lines = event_details(tr, details.as_object().unwrap());
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines.iter().any(|l| l.contains("はい")), "{lines:?}");
        assert!(lines.iter().any(|l| l.contains("2026-11-28 10:02:03")), "{lines:?}");
        assert!(!lines.iter().any(|l| l.contains("disk_encryption") || l.contains("abc")), "{lines:?}");
    }
}
