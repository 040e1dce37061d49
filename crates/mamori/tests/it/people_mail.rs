//! People's mail addresses (issue 15, items 5 and 8): kept on the account (checked, lower-cased,
//! cleared with a blank); approval steps mailed to whoever could decide them and, once decided,
//! to the requester — through a real SMTP server on loopback, with neither the request's
//! content nor its reason; and the mail relay letting a person send as their own address only.

use crate::approvals::person;
use crate::both_backends;
use crate::commands::two_teams;
use crate::support::{Backend, TestServer};
use mamori_core::CoreError;
use mamori_core::approvals::NewRequest;
use mamori_core::outgoing_mail::Submission;
use mamori_domain::Permission;
use mamori_domain::approval::ApprovalKind;
use serde_json::{Value, json};
use std::time::Duration;

/// An account's address over the API: given at the invitation, changed, refused when it is
/// not an address (nothing written), cleared with `null`.
async fn accounts_keep_a_mail_address(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.user("admin", &[mamori_domain::Role::SecurityAdmin]).await;
    let token = s.token(&admin, &[Permission::UsersRead, Permission::UsersManage]).await;
    let api = reqwest::Client::new();
    let r = api
        .post(s.url("/api/v1/users"))
        .bearer_auth(&token)
        .json(&json!({"username": "op.c", "display_name": "高橋 三郎", "roles": ["operator"], "mail_address": " Takahashi.S@Center.Example.JP "}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let user: Value = r.json().await.unwrap();
    assert_eq!(user["user"]["mail_address"], "takahashi.s@center.example.jp");
    let path = s.url(&format!("/api/v1/users/{}", user["user"]["id"].as_str().unwrap()));
    for bad in ["takahashi", "a b@center.example.jp", "x@localhost", "<x@center.example.jp>"] {
        let r =
            api.patch(&path).bearer_auth(&token).json(&json!({"mail_address": bad})).send().await.unwrap();
        assert_eq!(r.status(), 422, "{bad}");
        let problem: Value = r.json().await.unwrap();
        assert_eq!(problem["field"], "mail_address", "{problem}");
    }
    let r = api.get(&path).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["mail_address"], "takahashi.s@center.example.jp");
    let r = api.patch(&path).bearer_auth(&token).json(&json!({"mail_address": null})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["mail_address"], Value::Null);
    let fields: Vec<String> =
        s.audit("user.update").await.iter().map(|e| e.details["fields"].clone()).collect();
    assert_eq!(fields, ["mail_address"], "the change is recorded, the refusals wrote nothing");
}
both_backends!(accounts_keep_a_mail_address);

async fn set_address(s: &TestServer, username: &str, address: &str) {
    let admin = person(s, "admin").await;
    let user = person(s, username).await;
    let change = mamori_core::identity::admin::UserChange {
        mail_address: Some(Some(address.into())),
        ..Default::default()
    };
    s.core.identity.change_user(&admin, &user.user.id, &change, &Default::default()).await.unwrap();
}

/// A request is mailed to those who could decide it (the requester's own supervisor by default,
/// not another team's, not the requester); the decision to the requester. The mails name the
/// kind, the requester and the times, and link the console — never the content or the reason.
async fn approval_steps_are_mailed(backend: Backend) {
    let sink = crate::mail::Sink::start().await;
    let port = sink.port;
    let s = TestServer::start_with(backend, |c| {
        c.mail_notify = Some(mamori_server::config::MailNotify {
            url: format!("smtp://127.0.0.1:{port}"),
            from: "mamori@center.example.jp".into(),
            to: vec!["security@center.example.jp".into()],
        })
    })
    .await;
    two_teams(&s).await;
    s.user("sv.b", &[mamori_domain::Role::Supervisor]).await;
    for (who, address) in [
        ("op.a", "yamada@center.example.jp"),
        ("sv.a", "sato@center.example.jp"),
        ("sv.b", "other-team@center.example.jp"),
    ] {
        set_address(&s, who, address).await;
    }
    let ctx = Default::default();
    let (op, sv) = (person(&s, "op.a").await, person(&s, "sv.a").await);
    let print = NewRequest {
        kind: ApprovalKind::Print,
        content: json!({"customer": "c1", "document": "customer_sheet"}),
        reason: "お客様への郵送控え".into(),
    };
    let ask = s.core.approvals.request(&op, &print, &ctx).await.unwrap();
    let asked = sink.wait_for("承認依頼").await;
    assert!(asked.contains("To: sato@center.example.jp"), "{asked}");
    assert!(asked.contains("印刷") && asked.contains("山田 花子") && asked.contains("/approvals"), "{asked}");
    assert!(!asked.contains("郵送控え") && !asked.contains("c1"), "no reason, no content: {asked}");

    let step = s.core.identity.step_up(&sv, &s.next_totp(), "approval", &ctx).await.unwrap();
    s.core.approvals.decide(&sv, &ask.id, true, Some(&step), "確認済み", &ctx).await.unwrap();
    let decided = sink.wait_for("承認されました").await;
    assert!(decided.contains("To: yamada@center.example.jp"), "{decided}");
    assert!(decided.contains("use by"), "the grant's end is told: {decided}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let all = sink.messages();
    assert_eq!(all.len(), 2, "one mail per step: {all:?}");
    assert!(!all.iter().any(|m| m.contains("other-team@")), "another team's supervisor is not asked");
}
both_backends!(approval_steps_are_mailed);

/// With an address on their account, a person's mail goes out only as that address (on the
/// envelope and in From); the refusal is recorded. Without one, nothing is checked.
async fn senders_send_as_themselves(backend: Backend) {
    let s = TestServer::start(backend).await;
    two_teams(&s).await;
    set_address(&s, "op.a", "yamada@center.example.jp").await;
    let op = person(&s, "op.a").await;
    let other = person(&s, "op.b").await;
    let mail = |envelope: &str, from: &str| Submission {
        envelope_from: envelope.into(),
        recipients: vec!["team@center.example.jp".into()],
        message: format!("From: {from}\r\nTo: team@center.example.jp\r\nSubject: test\r\n\r\nhello\r\n")
            .into_bytes(),
    };
    let ctx = Default::default();
    for (envelope, from) in [
        ("sato@center.example.jp", "yamada@center.example.jp"),
        ("yamada@center.example.jp", "Sato <sato@center.example.jp>"),
        ("yamada@center.example.jp", "yamada@center.example.jp, sato@center.example.jp"),
    ] {
        let r = s.core.submit_mail(&op, mail(envelope, from), &ctx).await;
        assert!(matches!(r, Err(CoreError::Forbidden(_))), "{envelope} / {from}: {r:?}");
    }
    s.core
        .submit_mail(&op, mail("<Yamada@Center.Example.JP>", "山田 <YAMADA@center.example.jp>"), &ctx)
        .await
        .unwrap();
    s.core
        .submit_mail(&other, mail("anyone@center.example.jp", "anyone@center.example.jp"), &ctx)
        .await
        .unwrap();
    let refused: Vec<_> = s
        .audit("mail.submit")
        .await
        .into_iter()
        .filter(|e| e.outcome == mamori_audit::Outcome::Denied)
        .collect();
    // Refusals of one key within a second are counted into one entry (invariant 9).
    assert!(!refused.is_empty());
    assert!(refused.iter().all(|e| e.details["reason"] == "not_own_address"));
}
both_backends!(senders_send_as_themselves);

/// Alerts and incidents by e-mail (issue 16, item 6), through a real SMTP server: a lockout
/// (medium) about op.b reaches op.b's team supervisor but not the security team's list (high
/// and above by default); a USB stick (high) on op.a's PC reaches the list, op.a's supervisor
/// and the address op.a's client company's route names; a reported leak reaches the list. The
/// rule is named in both languages; no free text of the report travels.
async fn alerts_and_incidents_are_mailed(backend: Backend) {
    let sink = crate::mail::Sink::start().await;
    let port = sink.port;
    let s = TestServer::start_with(backend, |c| {
        c.mail_notify = Some(mamori_server::config::MailNotify {
            url: format!("smtp://127.0.0.1:{port}"),
            from: "mamori@center.example.jp".into(),
            to: vec!["security@center.example.jp".into()],
        })
    })
    .await;
    let (op_a, _) = two_teams(&s).await;
    s.user("sv.b", &[mamori_domain::Role::Supervisor]).await;
    let admin = person(&s, "admin").await;
    let ctx = Default::default();
    let team_b = person(&s, "op.b").await.user.team_id.unwrap();
    let change = mamori_core::identity::admin::UserChange {
        team_id: Some(Some(team_b)),
        mail_address: Some(Some("suzuki.sv@center.example.jp".into())),
        ..Default::default()
    };
    s.core.identity.change_user(&admin, &person(&s, "sv.b").await.user.id, &change, &ctx).await.unwrap();
    set_address(&s, "sv.a", "sato@center.example.jp").await;
    let client = s
        .core
        .identity
        .create_org_unit(&admin, mamori_store::OrgKind::Client, "通販A社", None, &ctx)
        .await
        .unwrap();
    s.core.identity.set_user_clients(&admin, &op_a.id, std::slice::from_ref(&client.id), &ctx).await.unwrap();

    // Routes are checked: an unknown client company, a bad address.
    let mut routing = s.core.mail_routing().await.unwrap();
    assert_eq!(routing, mamori_core::mail_notifications::MailRouting::default());
    let route = |addresses: Vec<&str>| mamori_domain::notify::ClientRoute {
        from: mamori_domain::detect::Severity::High,
        addresses: addresses.into_iter().map(Into::into).collect(),
    };
    routing.clients.insert(uuid::Uuid::new_v4().to_string(), route(vec!["a@client.example.jp"]));
    assert!(s.core.set_mail_routing(&admin, routing.clone(), &ctx).await.is_err(), "unknown client");
    routing.clients.clear();
    routing.clients.insert(client.id.clone(), route(vec!["not an address"]));
    assert!(s.core.set_mail_routing(&admin, routing.clone(), &ctx).await.is_err(), "bad address");
    routing.clients.insert(client.id.clone(), route(vec!["Manager@Client.example.jp"]));
    s.core.set_mail_routing(&admin, routing, &ctx).await.unwrap();
    assert_eq!(s.audit("notify.routing_change").await.len(), 1);

    for _ in 0..10 {
        let _ = s.core.identity.sign_in("op.b", "wrong-password-here", &ctx).await;
    }
    let locked = sink.wait_for("アカウントロック").await;
    assert!(locked.contains("suzuki.sv@center.example.jp") && !locked.contains("security@"), "{locked}");
    assert!(locked.contains("Account locked") && locked.contains("鈴木 一郎"), "{locked}");

    let token = s.token(admin.user.clone(), &[Permission::DevicesManage, Permission::DevicesRead]).await;
    let pc = crate::devices::enrol_agent(&s, &token, &op_a.id, "PC-A").await;
    let usb = json!({"vendor_id": "0781", "product_id": "5581", "product": "Cruzer", "serial": "4C530001", "mass_storage": true});
    let now = s.core.now().0;
    let events = json!({"events": [{"id": "u1", "time": now - 1000, "kind": "usb_attached", "data": usb}]});
    assert_eq!(pc.send("/api/v1/agent/events", &events).await.0, 200);
    let usb_mails: Vec<String> = {
        sink.wait_for("USB storage plugged in").await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        sink.messages().into_iter().filter(|m| m.contains("USB storage plugged in")).collect()
    };
    assert_eq!(usb_mails.len(), 2, "the team's list, and the people: {usb_mails:?}");
    assert!(usb_mails.iter().any(|m| m.contains("To: security@center.example.jp")), "{usb_mails:?}");
    let people = usb_mails.iter().find(|m| !m.contains("To: security@")).unwrap();
    assert!(
        people.contains("manager@client.example.jp") && people.contains("sato@center.example.jp"),
        "{people}"
    );
    assert!(people.contains("/alerts/"), "{people}");

    let report = mamori_core::incidents::LeakReport {
        kind: mamori_domain::incident::IncidentKind::LostDevice,
        description: "山田様の書類を紛失".into(),
        anonymous: false,
    };
    s.core.incidents.report_leak(&person(&s, "op.a").await, &report, &ctx).await.unwrap();
    let incident = sink.wait_for("INC-1").await;
    assert!(incident.contains("To: security@center.example.jp"), "{incident}");
    assert!(incident.contains("USBメモリ・PC・スマートフォンの紛失・盗難"), "the kind in words: {incident}");
    assert!(!incident.contains("山田様"), "no free text: {incident}");
}
both_backends!(alerts_and_incidents_are_mailed);
