//! The console's two languages. Messages live in `locales/ja.toml` and `locales/en.toml`; a test
//! keeps their keys identical and checks that every key a template uses exists, and that every
//! error code of the catalogue has its message (`error.<code>`).
//!
//! Which language a page is in: the user's own setting if they chose one, else the browser's
//! `Accept-Language`, else Japanese.

use mamori_domain::identity::Language;
use std::collections::HashMap;
use std::sync::OnceLock;

static JA: &str = include_str!("../locales/ja.toml");
static EN: &str = include_str!("../locales/en.toml");

fn flatten(prefix: &str, table: &toml::Table, out: &mut HashMap<String, String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out),
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            _ => {}
        }
    }
}

pub fn catalogue(lang: Language) -> &'static HashMap<String, String> {
    static CATALOGUES: OnceLock<(HashMap<String, String>, HashMap<String, String>)> = OnceLock::new();
    let (ja, en) = CATALOGUES.get_or_init(|| {
        let load = |text: &str| {
            let mut out = HashMap::new();
            if let Ok(table) = toml::from_str::<toml::Table>(text) {
                flatten("", &table, &mut out);
            }
            out
        };
        (load(JA), load(EN))
    });
    match lang {
        Language::Ja => ja,
        Language::En => en,
    }
}

/// A page's translator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tr(pub Language);

impl Tr {
    /// The message for `key`; the key itself if it is missing (tests make sure none is).
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        match catalogue(self.0).get(key) {
            Some(s) => s.as_str(),
            None => key,
        }
    }

    /// The message for `key` if there is one.
    pub fn get(&self, key: &str) -> Option<&'static str> {
        catalogue(self.0).get(key).map(String::as_str)
    }

    pub fn lang(&self) -> &'static str {
        self.0.as_str()
    }
}

/// The language of a page: the user's setting, else the browser's preference, else Japanese.
pub fn negotiate(user_setting: Option<&str>, accept_language: Option<&str>) -> Language {
    if let Some(lang) = user_setting.and_then(Language::parse) {
        return lang;
    }
    let mut best: Option<(Language, f32)> = None;
    for part in accept_language.unwrap_or("").split(',') {
        let mut pieces = part.trim().split(';');
        let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let lang = match tag.split('-').next() {
            Some("ja") => Language::Ja,
            Some("en") => Language::En,
            _ => continue,
        };
        if best.is_none_or(|(_, bq)| q > bq) {
            best = Some((lang, q));
        }
    }
    best.map_or(Language::Ja, |(l, _)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_keys() {
        let ja = catalogue(Language::Ja);
        let en = catalogue(Language::En);
        assert!(ja.len() > 50, "catalogue loaded");
        let missing_en: Vec<_> = ja.keys().filter(|k| !en.contains_key(*k)).collect();
        let missing_ja: Vec<_> = en.keys().filter(|k| !ja.contains_key(*k)).collect();
        assert!(missing_en.is_empty(), "missing in en.toml: {missing_en:?}");
        assert!(missing_ja.is_empty(), "missing in ja.toml: {missing_ja:?}");
    }

    #[test]
    fn every_key_a_template_uses_exists() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let ja = catalogue(Language::Ja);
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for piece in text.split("t(\"").skip(1) {
                let key = piece.split('"').next().unwrap();
                if !ja.contains_key(key) {
                    missing.push(key.to_owned());
                }
            }
        }
        assert!(missing.is_empty(), "keys used by templates but not in the catalogues: {missing:?}");
    }

    /// The console shows an error by its code (`error.<code>`): every code of the catalogue has a
    /// message in both languages, so none falls back to the service's English text.
    #[test]
    fn every_error_code_has_a_message() {
        for lang in [Language::Ja, Language::En] {
            let missing: Vec<_> = mamori_proto::ErrorCode::ALL
                .iter()
                .filter(|code| !catalogue(lang).contains_key(&format!("error.{code}")))
                .collect();
            assert!(missing.is_empty(), "error codes without a message in {}: {missing:?}", lang.as_str());
        }
    }

    /// The audit log shows every action, category and outcome by its label (issue 14, item 5).
    #[test]
    fn every_audit_action_has_a_label() {
        use mamori_audit::{Category, Outcome};
        let categories = [
            Category::Access,
            Category::Authentication,
            Category::Login,
            Category::Operation,
            Category::Security,
            Category::Device,
        ];
        for lang in [Language::Ja, Language::En] {
            let keys = mamori_audit::actions::ALL
                .iter()
                .map(|a| format!("audit_action.{}", a.name))
                .chain(
                    mamori_audit::actions::ALL
                        .iter()
                        .flat_map(|a| a.details.iter().map(|(k, _)| format!("audit_detail.{k}"))),
                )
                .chain(["repeats", "window_ms"].map(|k| format!("audit_detail.{k}")))
                .chain(categories.iter().map(|c| format!("audit_category.{}", c.as_str())))
                .chain(
                    [Outcome::Success, Outcome::Failure, Outcome::Denied]
                        .iter()
                        .map(|o| format!("audit_outcome.{}", o.as_str())),
                );
            let missing: Vec<String> = keys.filter(|k| !catalogue(lang).contains_key(k)).collect();
            assert!(missing.is_empty(), "without a label in {}: {missing:?}", lang.as_str());
        }
    }

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(None, None), Language::Ja);
        assert_eq!(negotiate(None, Some("en-US,en;q=0.9")), Language::En);
        assert_eq!(negotiate(None, Some("fr-FR, en;q=0.5, ja;q=0.8")), Language::Ja);
        assert_eq!(negotiate(Some("en"), Some("ja")), Language::En);
        assert_eq!(negotiate(Some("xx"), Some("en")), Language::En);
    }
}
