//! Codes in words (issue 14, item 7): on the demo contact center with its PCs running, every
//! console page each role can open, in Japanese, is read as a person reads it — its text, not
//! its markup — and must not show a raw code from the catalogues (event kinds, permissions,
//! posture rules, audit categories and outcomes, roles, floor and command states) where its label
//! belongs. Codes shown on purpose beside their label (`<code>customer.reveal</code>` on the audit
//! page) are inside `<code>` and not counted.

use crate::both_backends;
use crate::support::{Backend, Browser, TestServer};
use mamori_domain::{Clock, Permission, Role};
use mamori_server::routes::all_routes;
use reqwest::Method;
use std::collections::BTreeSet;
use std::time::Duration;

/// Every code a person must never read raw on a Japanese page.
fn catalogue_codes() -> BTreeSet<String> {
    let ja: toml::Table = include_str!("../../../server/locales/ja.toml").parse().unwrap();
    let section = |name: &str| -> Vec<String> { ja[name].as_table().unwrap().keys().cloned().collect() };
    let mut codes: BTreeSet<String> = BTreeSet::new();
    codes.extend(section("event_kind"));
    codes.extend(section("posture_rule"));
    codes.extend(section("disposal_method"));
    codes.extend(section("policy_kind"));
    codes.extend(section("course_kind"));
    codes.extend(Permission::ALL.iter().map(|p| p.as_str().to_owned()));
    codes.extend(Role::ALL.iter().map(|r| r.as_str().to_owned()));
    codes.extend(["access", "authentication", "login", "operation", "security", "device"].map(String::from));
    codes.extend(["success", "failure", "denied"].map(String::from));
    codes.extend(["working", "idle", "locked", "off_shift", "offline", "no_device"].map(String::from));
    codes.extend(["pending", "delivered", "done", "failed", "expired"].map(String::from));
    codes.extend(["compliant", "not_compliant", "unapproved", "unrestricted"].map(String::from));
    // Approval kinds that are not also ordinary words of a command line (`mamori audit export`).
    codes.extend(["take_out", "privileged", "granted", "cancelled", "customer_sheet"].map(String::from));
    codes
}

/// What a person reads on a page: its text outside `<head>`, scripts and `<code>`, tags gone.
fn visible_text(html: &str) -> String {
    let mut text = String::new();
    let mut rest = html.split_once("<body").map_or(html, |(_, b)| b);
    loop {
        let skip = ["<code", "<script", "<style"].iter().filter_map(|t| rest.find(t).map(|i| (i, *t))).min();
        let Some((at, tag)) = skip else {
            text.push_str(rest);
            break;
        };
        text.push_str(&rest[..at]);
        let close = format!("</{}>", &tag[1..]);
        rest = rest[at..].find(&close).map_or("", |end| &rest[at + end + close.len()..]);
    }
    let mut out = String::new();
    let mut in_tag = false;
    for ch in text.chars() {
        match ch {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(ch),
            _ => {}
        }
    }
    out.replace("&#38;", "&").replace("&amp;", "&")
}

/// The codes that stand as words of their own in the text.
fn raw_codes_in(text: &str, codes: &BTreeSet<String>) -> Vec<String> {
    let part_of_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-';
    let mut found = Vec::new();
    for code in codes {
        let mut from = 0;
        while let Some(i) = text[from..].find(code.as_str()) {
            let at = from + i;
            let before = text[..at].chars().next_back();
            let after = text[at + code.len()..].chars().next();
            if !before.is_some_and(part_of_word) && !after.is_some_and(part_of_word) {
                let start =
                    (0..=at.saturating_sub(60)).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
                let context: String = text[start..].chars().take(80).collect();
                found.push(format!(
                    "`{code}` in …{}…",
                    context.split_whitespace().collect::<Vec<_>>().join(" ")
                ));
                break;
            }
            from = at + code.len();
        }
    }
    found
}

async fn demo_user(s: &TestServer, username: &str) -> Browser {
    let b = s.browser();
    let r = b.sign_in(username, mamori_core::demo::DEMO_PASSWORD).await;
    assert_eq!(r.status(), 303, "{username} signs in");
    if r.headers()["location"] == "/signin/totp" {
        let code = mamori_crypto::totp::code_at(mamori_core::demo::DEMO_TOTP_SECRET, s.clock.now().as_secs())
            .expect("code");
        let csrf = b.csrf("/signin/totp").await;
        let r = b.post_form("/signin/totp", &[("_csrf", &csrf), ("code", &code)]).await;
        assert_eq!(r.headers()["location"], "/dashboard", "{username}: second factor");
    }
    b
}

async fn japanese_pages_show_no_raw_codes(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.signin_burst = 100_000).await;
    s.core.load_demo().await.unwrap();
    // A few minutes of the demo: PCs enrol and report, a USB stick, a PC taken home, calls.
    let mut devices = mamori_core::demo::DemoDeviceFeed::default();
    let mut calls = mamori_core::demo::DemoCallFeed::default();
    for _ in 0..40 {
        s.core.demo_device_tick(&mut devices).await.unwrap();
        s.core.demo_call_tick(&mut calls).await.unwrap();
        s.clock.advance(Duration::from_secs(5));
    }
    let read = || async { s.core.store().read().await.unwrap() };
    let device = read().await.list_devices().await.unwrap().into_iter().next().expect("a demo PC").id;
    let user = read().await.user_by_username("demo-op01").await.unwrap().unwrap().id;
    // A locked account, for the signals and the user list.
    for _ in 0..12 {
        s.browser().sign_in("demo-op02", "not-the-password").await;
    }
    let admin = demo_user(&s, "demo-admin01").await;
    let csrf = admin.csrf("/admin/tokens").await;
    let form =
        [("_csrf", csrf.as_str()), ("name", "CTI"), ("permissions", "cti.write"), ("expires_in_days", "5")];
    assert_eq!(admin.post_form("/admin/tokens", &form).await.status(), 200);
    let token =
        s.core.identity.list_api_tokens(&crate::support::inspector(), &Default::default()).await.unwrap()[0]
            .id
            .clone();
    let csrf = admin.csrf("/audit").await;
    admin.post_form("/audit/verify", &[("_csrf", &csrf)]).await;

    let codes = catalogue_codes();
    let routes = all_routes().into_parts().1;
    let mut pages: Vec<String> = routes
        .specs()
        .iter()
        .filter(|r| r.method == Method::GET && !r.is_api())
        .map(|r| r.path)
        .filter(|p| !p.starts_with("/static/") && !p.ends_with("/stream") && *p != "/")
        .map(|p| {
            let id = if p.starts_with("/devices/") {
                &device
            } else if p.starts_with("/admin/tokens/") {
                &token
            } else {
                &user
            };
            p.replace("{id}", id)
        })
        .collect();
    pages.extend(
        [
            "/audit?all=1&size=500",
            "/signals?period=30d",
            "/floor?flag=attention",
            "/devices?compliance=not_compliant",
            "/admin/users?status=locked",
        ]
        .map(String::from),
    );
    pages.push(format!("/devices/{device}/commands?kind=lock"));
    // The demo's pledge (issue 18, item 1): two versions, some operators owing the second.
    let pledge =
        read().await.policies().await.unwrap().into_iter().find(|p| p.kind == "confidentiality_pledge");
    let pledge = pledge.expect("the demo's pledge").id;
    pages.extend([format!("/policies/{pledge}"), format!("/policies/{pledge}/diff?from=1&to=2")]);
    // The demo's onboarding course (issue 18, item 2): its text, quiz and who still owes it.
    let course = read().await.training_courses(false).await.unwrap().into_iter().next();
    pages.push(format!("/training/{}", course.expect("the demo's course").id));

    let mut problems = Vec::new();
    let mut read_pages = 0;
    for username in ["demo-admin01", "demo-sv01", "demo-auditor01", "demo-op01"] {
        let other;
        let b = if username == "demo-admin01" {
            &admin
        } else {
            other = demo_user(&s, username).await;
            &other
        };
        for page in &pages {
            let r = b.get(page).await;
            let html_page = r
                .headers()
                .get("content-type")
                .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/html"));
            if r.status() != 200 || !html_page {
                continue;
            }
            let html = r.text().await.unwrap();
            assert!(html.contains("<html lang=\"ja\""), "{username} {page} is in Japanese");
            read_pages += 1;
            for found in raw_codes_in(&visible_text(&html), &codes) {
                problems.push(format!("{username} {page}: {found}"));
            }
        }
    }
    assert!(read_pages > 40, "the walk read the console ({read_pages} pages)");
    assert!(problems.is_empty(), "raw codes on Japanese pages:\n{}", problems.join("\n"));
    s.stop().await;
}
both_backends!(japanese_pages_show_no_raw_codes);

#[test]
fn the_check_catches_a_raw_code() {
    let codes = catalogue_codes();
    let html = "<body><p>種類: usb_attached</p><code>customer.reveal</code><p>devices.read の権限</p></body>";
    let found = raw_codes_in(&visible_text(html), &codes);
    assert_eq!(found.len(), 2, "{found:?}");
    let html =
        "<body><p>USB機器の接続 <code>usb_attached</code></p><a href=\"/x?kind=usb_attached\">x</a></body>";
    assert!(raw_codes_in(&visible_text(html), &codes).is_empty());
}
