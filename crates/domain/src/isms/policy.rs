//! Policies with acknowledgements (issue 18, item 1; ISMS-2, ISMS-3, LEAK-7): the three tiers of the
//! centre's rules [基本方針・対策基準・実施手順], the privacy policy and the confidentiality pledge
//! [機密保持誓約書] — versioned Markdown documents, published to the people in scope (roles, sites,
//! client companies), each acknowledged [同意] by every one of them. Pure: what a document may
//! hold, who is in scope, who still has to acknowledge, the safe rendering and the diff.

use crate::Role;
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// Which kind of document.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// 基本方針: the information security policy, the top tier.
    BasicPolicy,
    /// 対策基準: the standards under it.
    Standard,
    /// 実施手順: the procedures people follow.
    Procedure,
    /// プライバシーポリシー.
    PrivacyPolicy,
    /// 機密保持誓約書: the pledge each person signs (SNS rules and the penalties, LEAK-7).
    ConfidentialityPledge,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 5] = [
        PolicyKind::BasicPolicy,
        PolicyKind::Standard,
        PolicyKind::Procedure,
        PolicyKind::PrivacyPolicy,
        PolicyKind::ConfidentialityPledge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::BasicPolicy => "basic_policy",
            PolicyKind::Standard => "standard",
            PolicyKind::Procedure => "procedure",
            PolicyKind::PrivacyPolicy => "privacy_policy",
            PolicyKind::ConfidentialityPledge => "confidentiality_pledge",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Who a document is published to. Each list empty means "everyone"; a person is in scope when
/// they hold one of the roles, work at one of the sites and serve one of the client companies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyScope {
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Site ids.
    #[serde(default)]
    pub sites: Vec<String>,
    /// Client company ids.
    #[serde(default)]
    pub clients: Vec<String>,
}

/// A person as scope sees them.
#[derive(Debug, Clone, Copy)]
pub struct Person<'a> {
    pub id: &'a str,
    pub roles: &'a [Role],
    pub site_id: Option<&'a str>,
    pub client_ids: &'a [String],
}

impl PolicyScope {
    pub fn covers(&self, p: &Person<'_>) -> bool {
        (self.roles.is_empty() || p.roles.iter().any(|r| self.roles.contains(r)))
            && (self.sites.is_empty() || p.site_id.is_some_and(|s| self.sites.iter().any(|x| x == s)))
            && (self.clients.is_empty() || p.client_ids.iter().any(|c| self.clients.contains(c)))
    }

    /// Stored as three comma-separated lists (ids never hold a comma).
    pub fn encode(&self) -> (String, String, String) {
        let roles: Vec<&str> = self.roles.iter().map(|r| r.as_str()).collect();
        (roles.join(","), self.sites.join(","), self.clients.join(","))
    }

    pub fn decode(roles: &str, sites: &str, clients: &str) -> PolicyScope {
        let list = |s: &str| s.split(',').filter(|x| !x.is_empty()).map(str::to_owned).collect::<Vec<_>>();
        PolicyScope {
            roles: list(roles).iter().filter_map(|r| r.parse().ok()).collect(),
            sites: list(sites),
            clients: list(clients),
        }
    }
}

/// A field refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub field: &'static str,
    pub message: String,
}

fn err(field: &'static str, message: impl Into<String>) -> PolicyError {
    PolicyError { field, message: message.into() }
}

pub const TITLE_MAX: usize = 200;
pub const BODY_MAX: usize = 200_000;
pub const NOTE_MAX: usize = 1_000;

/// A new document: its kind, title, scope and the first draft's text.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    pub kind: PolicyKind,
    pub title: String,
    #[serde(default)]
    pub scope: PolicyScope,
    /// Markdown; raw HTML in it is shown as text, never as markup.
    pub body: String,
    /// What this version changes (shown beside the version).
    #[serde(default)]
    pub note: String,
}

/// A draft of the next version (replaces an unpublished draft).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftInput {
    pub body: String,
    #[serde(default)]
    pub note: String,
}

fn check_text(field: &'static str, value: &str, max: usize, required: bool) -> Result<(), PolicyError> {
    if required && value.trim().is_empty() {
        return Err(err(field, "required"));
    }
    if value.chars().count() > max {
        return Err(err(field, format!("at most {max} characters")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(err(field, "control characters are not allowed"));
    }
    Ok(())
}

impl DraftInput {
    pub fn checked(mut self) -> Result<DraftInput, PolicyError> {
        self.body = self.body.replace("\r\n", "\n");
        check_text("body", &self.body, BODY_MAX, true)?;
        self.note = self.note.trim().to_owned();
        check_text("note", &self.note, NOTE_MAX, false)?;
        Ok(self)
    }
}

impl PolicyInput {
    /// Checks the fields; `known_sites` and `known_clients` are the organisation's ids.
    pub fn checked(
        mut self,
        known_sites: &HashSet<String>,
        known_clients: &HashSet<String>,
    ) -> Result<PolicyInput, PolicyError> {
        self.title = self.title.trim().to_owned();
        check_text("title", &self.title, TITLE_MAX, true)?;
        self.scope = self.scope.checked(known_sites, known_clients)?;
        let draft = DraftInput { body: self.body, note: self.note }.checked()?;
        self.body = draft.body;
        self.note = draft.note;
        Ok(self)
    }
}

impl PolicyScope {
    pub fn checked(
        mut self,
        known_sites: &HashSet<String>,
        known_clients: &HashSet<String>,
    ) -> Result<PolicyScope, PolicyError> {
        self.roles.sort();
        self.roles.dedup();
        self.sites.sort();
        self.sites.dedup();
        self.clients.sort();
        self.clients.dedup();
        if let Some(s) = self.sites.iter().find(|s| !known_sites.contains(*s)) {
            return Err(err("scope.sites", format!("no site has the id {s}")));
        }
        if let Some(c) = self.clients.iter().find(|c| !known_clients.contains(*c)) {
            return Err(err("scope.clients", format!("no client company has the id {c}")));
        }
        Ok(self)
    }
}

/// A document with its version in force, as the acknowledgement status needs it.
#[derive(Debug, Clone)]
pub struct Published<'a> {
    pub id: &'a str,
    pub version: i64,
    pub scope: &'a PolicyScope,
}

/// Who still has to acknowledge each document's version in force: for each document, the
/// people in scope with no acknowledgement of that version (older versions' acknowledgements
/// are kept, but do not count). `acknowledged` holds (document id, version, user id).
pub fn pending<'a>(
    documents: &[Published<'a>],
    people: &[Person<'a>],
    acknowledged: &HashSet<(&str, i64, &str)>,
) -> HashMap<&'a str, Vec<&'a str>> {
    documents
        .iter()
        .map(|d| {
            let owed = people
                .iter()
                .filter(|p| d.scope.covers(p) && !acknowledged.contains(&(d.id, d.version, p.id)))
                .map(|p| p.id)
                .collect();
            (d.id, owed)
        })
        .collect()
}

/// Renders a document's Markdown as HTML that is safe to put in a page: raw HTML (blocks and
/// inline) is shown as text, and links or images whose address is not `http(s)`, `mailto` or
/// relative (a `javascript:` link) lose their address. Images are shown as their alt text
/// (the page's CSP loads none from elsewhere anyway).
pub fn render_markdown(body: &str) -> String {
    render(body, None)
}

/// [`render_markdown`], keeping the images whose address is a path under `images` (a course's
/// own, served by Mamori: `/training/images/`); every other image is shown as its alt text.
/// Training (issue 18, item 2) renders its courses with it.
pub fn render_markdown_with_images(body: &str, images: &str) -> String {
    render(body, Some(images))
}

fn render(body: &str, images: Option<&str>) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let own_image = |url: &str| {
        images.is_some_and(|prefix| {
            url.strip_prefix(prefix).is_some_and(|rest| {
                !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
        })
    };
    let mut in_image = 0usize;
    let events = Parser::new_ext(body, options).filter_map(move |event| match event {
        Event::Html(h) | Event::InlineHtml(h) => Some(Event::Text(h)),
        Event::Start(Tag::Image { link_type, dest_url, title, id })
            if in_image == 0 && own_image(&dest_url) =>
        {
            Some(Event::Start(Tag::Image { link_type, dest_url, title, id }))
        }
        Event::Start(Tag::Image { .. }) => {
            in_image += 1;
            None
        }
        Event::End(pulldown_cmark::TagEnd::Image) if in_image > 0 => {
            in_image -= 1;
            None
        }
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => Some(Event::Start(Tag::Link {
            link_type,
            dest_url: if safe_url(&dest_url) { dest_url } else { CowStr::Borrowed("#") },
            title,
            id,
        })),
        other => Some(other),
    });
    let mut out = String::with_capacity(body.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    match lower.split_once(':') {
        // No scheme (a relative link), or a colon after a path or query character.
        None => true,
        Some((scheme, _)) if scheme.contains(['/', '?', '#']) => true,
        Some((scheme, _)) => matches!(scheme, "http" | "https" | "mailto"),
    }
}

/// One line of a diff between two versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DiffLine {
    /// `same`, `added` or `removed`.
    pub change: String,
    pub text: String,
}

/// The line diff from `old` to `new`.
pub fn diff(old: &str, new: &str) -> Vec<DiffLine> {
    similar::TextDiff::from_lines(old, new)
        .iter_all_changes()
        .map(|c| DiffLine {
            change: match c.tag() {
                similar::ChangeTag::Equal => "same",
                similar::ChangeTag::Insert => "added",
                similar::ChangeTag::Delete => "removed",
            }
            .to_owned(),
            text: c.value().trim_end_matches('\n').to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_is_text_and_script_links_are_cut() {
        let html = render_markdown(
            "# 機密保持\n\n<script>alert(1)</script>\n\nA <b>bold</b> [x](javascript:alert(1)) [y](https://example.jp) [z](/policies)\n\n![img](https://evil/x.png)",
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("href=\"https://example.jp\""), "{html}");
        assert!(html.contains("href=\"/policies\""), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("<h1>機密保持</h1>"), "{html}");
    }

    #[test]
    fn scope_and_pending() {
        let scope = PolicyScope { roles: vec![Role::Operator], sites: vec![], clients: vec!["c1".into()] };
        let c1 = vec!["c1".to_owned()];
        let none: Vec<String> = vec![];
        let a = Person { id: "a", roles: &[Role::Operator], site_id: None, client_ids: &c1 };
        let b = Person { id: "b", roles: &[Role::Operator], site_id: None, client_ids: &none };
        let sv = Person { id: "sv", roles: &[Role::Supervisor], site_id: None, client_ids: &c1 };
        assert!(scope.covers(&a) && !scope.covers(&b) && !scope.covers(&sv));
        let everyone = PolicyScope::default();
        let docs = [
            Published { id: "p", version: 2, scope: &scope },
            Published { id: "q", version: 1, scope: &everyone },
        ];
        // a acknowledged version 1 of p (kept, but not the version in force) and q.
        let acks: HashSet<(&str, i64, &str)> = [("p", 1, "a"), ("q", 1, "a")].into_iter().collect();
        let owed = pending(&docs, &[a, b, sv], &acks);
        assert_eq!(owed["p"], vec!["a"]);
        assert_eq!(owed["q"], vec!["b", "sv"]);
    }

    #[test]
    fn diff_marks_lines() {
        let d = diff("a\nb\n", "a\nc\n");
        let tags: Vec<_> = d.iter().map(|l| (l.change.as_str(), l.text.as_str())).collect();
        assert_eq!(tags, [("same", "a"), ("removed", "b"), ("added", "c")]);
    }

    #[test]
    fn bad_input_is_named() {
        let none = HashSet::new();
        let input = |title: &str, body: &str| PolicyInput {
            kind: PolicyKind::ConfidentialityPledge,
            title: title.into(),
            scope: PolicyScope::default(),
            body: body.into(),
            note: String::new(),
        };
        assert_eq!(input(" ", "x").checked(&none, &none).unwrap_err().field, "title");
        assert_eq!(input("t", "  ").checked(&none, &none).unwrap_err().field, "body");
        let mut bad_site = input("t", "x");
        bad_site.scope.sites = vec!["nowhere".into()];
        assert_eq!(bad_site.checked(&none, &none).unwrap_err().field, "scope.sites");
    }
}
