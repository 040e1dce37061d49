//! Four eyes (issue 15, item 1; DESIGN invariants 3, 9, 10): a request is decided by someone
//! else, after a step-up, under its kind's policy; its grant is for exactly what was asked and
//! is used once — also when a second replica tries. Each refusal is a test and an audit entry.

use crate::both_backends;
use crate::commands::two_teams;
use crate::support::{Backend, TestServer, principal};
use mamori_core::CoreError;
use mamori_core::approvals::NewRequest;
use mamori_domain::Role;
use mamori_domain::approval::{ApprovalKind, ApprovalState};
use serde_json::json;
use std::time::Duration;

/// A call on a second replica (another process's services on the same database). On the
/// embedded SQLite that process may find the database busy with the first one's background
/// writes; it tries again, as a real replica's next request would.
macro_rules! on_replica {
    ($call:expr) => {{
        let mut result = $call;
        for _ in 0..20 {
            if !matches!(result, Err(CoreError::Store(mamori_store::StoreError::Unavailable(_)))) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            result = $call;
        }
        result
    }};
}

pub(crate) async fn person(s: &TestServer, username: &str) -> mamori_core::Principal {
    principal(s.core.store().read().await.unwrap().user_by_username(username).await.unwrap().unwrap())
}

pub(crate) fn print_of(customer: &str) -> NewRequest {
    NewRequest {
        kind: ApprovalKind::Print,
        content: json!({"customer": customer, "document": "customer_sheet"}),
        reason: "お客様への郵送控え".into(),
    }
}

/// A client company with `n` customers (the first with a card number), op.a assigned to it.
pub(crate) async fn client_with_customers(s: &TestServer, n: usize) -> (String, Vec<String>) {
    let ctx = Default::default();
    let admin = person(s, "admin").await;
    let client = s
        .core
        .identity
        .create_org_unit(&admin, mamori_store::OrgKind::Client, "通販A社", None, &ctx)
        .await
        .unwrap();
    let records: Vec<_> = (0..n)
        .map(|i| {
            let mut fields: std::collections::BTreeMap<String, String> = [
                ("name_kanji".to_owned(), format!("山田太郎{i}")),
                ("phones".to_owned(), format!("03-1234-{:04}", 5678 + i)),
            ]
            .into_iter()
            .collect();
            if i == 0 {
                fields.insert("card_number".into(), "4111 1111 1111 1111".into());
            }
            mamori_core::vault::NewCustomer { client_id: client.id.clone(), fields }
        })
        .collect();
    let customers = s.core.vault.create_customers(&admin, &records, &ctx).await.unwrap();
    let op = person(s, "op.a").await;
    s.core
        .identity
        .set_user_clients(&admin, &op.user.id, std::slice::from_ref(&client.id), &ctx)
        .await
        .unwrap();
    (client.id, customers)
}

fn refused(r: Result<impl std::fmt::Debug, CoreError>, what: &str) {
    match r {
        Err(CoreError::Forbidden(_) | CoreError::ApprovalRefused { .. }) => {}
        other => panic!("{what}: expected a refusal, got {other:?}"),
    }
}

async fn four_eyes(backend: Backend) {
    let s = TestServer::start(backend).await;
    two_teams(&s).await;
    let ctx = Default::default();
    let (op, sv) = (person(&s, "op.a").await, person(&s, "sv.a").await);
    let admin = person(&s, "admin").await;
    // A supervisor of team A who is also an operator there, asking for themselves.
    let both = s.user("sv.op", &[Role::Supervisor, Role::Operator]).await;
    let profile = mamori_store::UserProfile {
        display_name: "兼務 SV".into(),
        team_id: sv.user.team_id.clone(),
        site_id: None,
        mail_address: None,
    };
    s.core.identity.update_user_profile(&admin, &both.id, &profile, &ctx).await.unwrap();
    let both = person(&s, "sv.op").await;

    let ask = s.core.approvals.request(&op, &print_of("c1"), &ctx).await.unwrap();
    assert_eq!(ask.state, ApprovalState::Pending);
    let inbox = s.core.approvals.inbox(&sv).await.unwrap();
    assert_eq!(inbox.to_decide.len(), 1, "the team's supervisor sees it");
    assert!(s.core.approvals.inbox(&op).await.unwrap().to_decide.is_empty());
    assert_eq!(s.core.approvals.inbox(&op).await.unwrap().mine.len(), 1);

    // No step-up: refused. A wrong code: refused, and counted.
    refused(s.core.approvals.decide(&sv, &ask.id, true, None, "", &ctx).await, "no step-up");
    let wrong = s.core.identity.step_up(&sv, "000000", "approval", &ctx).await;
    assert!(matches!(wrong, Err(CoreError::SecondFactorFailed)), "{wrong:?}");
    // Another's step-up does not count.
    let admin_step = s.core.identity.step_up(&admin, &s.next_totp(), "approval", &ctx).await.unwrap();
    refused(
        s.core.approvals.decide(&sv, &ask.id, true, Some(&admin_step), "", &ctx).await,
        "another's step-up",
    );

    // The requester never decides, whatever roles they hold.
    let own = s.core.approvals.request(&both, &print_of("c2"), &ctx).await.unwrap();
    let step = s.core.identity.step_up(&both, &s.next_totp(), "approval", &ctx).await.unwrap();
    refused(s.core.approvals.decide(&both, &own.id, true, Some(&step), "", &ctx).await, "self-approval");

    // The supervisor steps up and approves: granted; a second decision by them is refused.
    let step = s.core.identity.step_up(&sv, &s.next_totp(), "approval", &ctx).await.unwrap();
    let granted = s.core.approvals.decide(&sv, &ask.id, true, Some(&step), "確認済み", &ctx).await.unwrap();
    assert_eq!(granted.state, ApprovalState::Granted);
    assert!(granted.grant_expires_at.is_some());
    refused(s.core.approvals.decide(&sv, &ask.id, true, Some(&step), "", &ctx).await, "double approval");

    // The grant is for exactly what was asked, used once, by the requester.
    let asked = print_of("c1").content;
    refused(
        s.core
            .approvals
            .use_grant(
                &op,
                &ask.id,
                ApprovalKind::Print,
                &json!({"customer": "c9", "document": "customer_sheet"}),
                &ctx,
            )
            .await,
        "a changed request",
    );
    refused(
        s.core.approvals.use_grant(&sv, &ask.id, ApprovalKind::Print, &asked, &ctx).await,
        "not the requester",
    );
    s.core.approvals.use_grant(&op, &ask.id, ApprovalKind::Print, &asked, &ctx).await.unwrap();
    refused(s.core.approvals.use_grant(&op, &ask.id, ApprovalKind::Print, &asked, &ctx).await, "a replay");

    // A second replica (another process's services on the same database) cannot use it again,
    // nor one the first has used; a grant used there is used here too.
    let other = mamori_server::serve::open_core(&s.config, s.clock.clone()).await.unwrap();
    refused(
        on_replica!(other.approvals.use_grant(&op, &ask.id, ApprovalKind::Print, &asked, &ctx).await),
        "replay on a replica",
    );
    let again = s.core.approvals.request(&op, &print_of("c3"), &ctx).await.unwrap();
    let step = s.core.identity.step_up(&sv, &s.next_totp(), "approval", &ctx).await.unwrap();
    s.core.approvals.decide(&sv, &again.id, true, Some(&step), "", &ctx).await.unwrap();
    let c3 = print_of("c3").content;
    on_replica!(other.approvals.use_grant(&op, &again.id, ApprovalKind::Print, &c3, &ctx).await).unwrap();
    refused(
        s.core.approvals.use_grant(&op, &again.id, ApprovalKind::Print, &c3, &ctx).await,
        "used on the replica",
    );
    drop(other);

    // A denial ends the request; the requester may cancel their own; nobody else may.
    let deny = s.core.approvals.request(&op, &print_of("c4"), &ctx).await.unwrap();
    let step = s.core.identity.step_up(&admin, &s.next_totp(), "approval", &ctx).await.unwrap();
    let denied =
        s.core.approvals.decide(&admin, &deny.id, false, Some(&step), "理由が不十分", &ctx).await.unwrap();
    assert_eq!(denied.state, ApprovalState::Denied);
    let cancel = s.core.approvals.request(&op, &print_of("c5"), &ctx).await.unwrap();
    assert!(matches!(s.core.approvals.cancel(&sv, &cancel.id, &ctx).await, Err(CoreError::NotFound { .. })));
    s.core.approvals.cancel(&op, &cancel.id, &ctx).await.unwrap();

    // Not decided in time: expired, and then nobody decides it.
    let late = s.core.approvals.request(&op, &print_of("c6"), &ctx).await.unwrap();
    s.clock.advance(Duration::from_secs(5 * 3600));
    assert!(s.core.approvals.expire_approvals().await.unwrap() >= 1);
    let step = s.core.identity.step_up(&sv, &s.next_totp(), "approval", &ctx).await.unwrap();
    refused(s.core.approvals.decide(&sv, &late.id, true, Some(&step), "", &ctx).await, "expired");

    // Bad requests are refused in words, nothing written.
    for bad in [
        NewRequest { content: json!("not an object"), ..print_of("x") },
        NewRequest { content: json!({}), ..print_of("x") },
        NewRequest { reason: " ".into(), ..print_of("x") },
        NewRequest { content: json!({"notes": "x".repeat(5000)}), ..print_of("x") },
    ] {
        let r = s.core.approvals.request(&op, &bad, &ctx).await;
        assert!(matches!(r, Err(CoreError::Invalid { .. })), "{r:?}");
    }

    // Every step is in the log; every refusal too, with its reason.
    assert_eq!(s.audit("approval.request").await.len(), 6);
    let approvals = s.audit("approval.approve").await;
    let reasons: Vec<&str> =
        approvals.iter().filter_map(|e| e.details.get("reason").map(String::as_str)).collect();
    for reason in ["step_up", "own_request", "decided_already", "not_pending"] {
        assert!(reasons.contains(&reason), "{reason} recorded: {reasons:?}");
    }
    let uses = s.audit("approval.use").await;
    let reasons: Vec<&str> =
        uses.iter().filter_map(|e| e.details.get("reason").map(String::as_str)).collect();
    for reason in ["changed", "not_requester", "not_granted"] {
        assert!(reasons.contains(&reason), "{reason} recorded: {reasons:?}");
    }
    let cancels = s.audit("approval.cancel").await;
    assert!(
        cancels.iter().any(|e| e.details.get("reason").map(String::as_str) == Some("not_requester")),
        "{cancels:?}"
    );
    for action in ["approval.deny", "approval.cancel", "approval.expire", "mfa.step_up"] {
        assert!(!s.audit(action).await.is_empty(), "{action}");
    }
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(four_eyes);

/// The same through `/api/v1/approvals`: an operator's token asks, the supervisor's session
/// approves with a TOTP code in the body; without a second factor there is no decision.
async fn approvals_api(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.signin_burst = 10_000).await;
    two_teams(&s).await;
    let (_, customers) = client_with_customers(&s, 1).await;
    let op = s.core.store().read().await.unwrap().user_by_username("op.a").await.unwrap().unwrap();
    let token = s.token(&op, &[mamori_domain::Permission::CustomersRead]).await;
    let api = reqwest::Client::new();
    let ask = json!({"kind": "print", "content": {"customer": customers[0], "document": "customer_sheet"}, "reason": "郵送控え"});
    let r = api.post(s.url("/api/v1/approvals")).bearer_auth(&token).json(&ask).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let made: serde_json::Value = r.json().await.unwrap();
    let id = made["id"].as_str().unwrap().to_owned();
    assert_eq!((made["state"].as_str(), made["approvals_needed"].as_u64()), (Some("pending"), Some(1)));
    assert_eq!(made["digest"].as_str().map(str::len), Some(64));
    for bad in [
        json!({"kind": "print", "content": "x", "reason": "r"}),
        json!({"kind": "teleport", "content": {"a": 1}, "reason": "r"}),
        json!({"kind": "print", "content": {"a": 1}, "reason": "r", "extra": true}),
        json!({"kind": "print", "content": {"customer": customers[0], "copies": 9}, "reason": "r"}),
        json!({"kind": "mail", "content": {"to": "x@example.com"}, "reason": "r"}),
    ] {
        let r = api.post(s.url("/api/v1/approvals")).bearer_auth(&token).json(&bad).send().await.unwrap();
        assert!(r.status() == 422 || r.status() == 400, "{bad}: {}", r.status());
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    // The requester has no second factor to step up with, and may not decide anyway.
    let decide = json!({"totp_code": "123456"});
    let r = api
        .post(s.url(&format!("/api/v1/approvals/{id}/approve")))
        .bearer_auth(&token)
        .json(&decide)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let sv = s.signed_in("sv.a").await;
    let inbox: serde_json::Value =
        sv.api(reqwest::Method::GET, "/api/v1/approvals", None).await.json().await.unwrap();
    assert_eq!(inbox["to_decide"][0]["id"], id.as_str());
    let wrong = json!({"totp_code": "000000"});
    let r = sv.api(reqwest::Method::POST, &format!("/api/v1/approvals/{id}/approve"), Some(wrong)).await;
    assert_eq!(r.status(), 401, "a wrong code is a failed second factor");
    let right = json!({"totp_code": s.next_totp(), "comment": "確認済み"});
    let r = sv.api(reqwest::Method::POST, &format!("/api/v1/approvals/{id}/approve"), Some(right)).await;
    assert_eq!(r.status(), 200);
    let granted: serde_json::Value = r.json().await.unwrap();
    assert_eq!(granted["state"], "granted");
    assert_eq!(granted["decisions"][0]["comment"], "確認済み");
    let r =
        api.post(s.url(&format!("/api/v1/approvals/{id}/cancel"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 204, "the requester withdraws the unused grant");
    s.stop().await;
}
both_backends!(approvals_api);

/// The inbox in the console: the supervisor sees who asks, what and why, decides with a code
/// on the spot; a wrong code decides nothing; the requester sees the result.
async fn approvals_console(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.signin_burst = 10_000).await;
    two_teams(&s).await;
    let ctx = Default::default();
    let op = person(&s, "op.a").await;
    let ask = s.core.approvals.request(&op, &print_of("C-00042"), &ctx).await.unwrap();
    let sv = s.signed_in("sv.a").await;
    let html = sv.get("/approvals").await.text().await.unwrap();
    for expected in ["印刷", "山田 花子", "お客様への郵送控え", "顧客シート", "C-00042", "認証コード"]
    {
        assert!(html.contains(expected), "{expected}: {html}");
    }
    let csrf = sv.csrf("/approvals").await;
    let path = format!("/approvals/{}/decide", ask.id);
    let r = sv.post_form(&path, &[("_csrf", &csrf), ("decision", "approve"), ("code", "000000")]).await;
    assert_eq!(r.status(), 401, "a failed second factor");
    assert!(r.text().await.unwrap().contains("role=\"alert\""), "the refusal in words");
    assert_eq!(
        s.core.approvals.approval(&op, &ask.id, &ctx).await.unwrap().request.state,
        ApprovalState::Pending
    );
    let code = s.next_totp();
    let r = sv
        .post_form(&path, &[("_csrf", &csrf), ("decision", "approve"), ("code", &code), ("comment", "OK")])
        .await;
    assert_eq!(r.headers()["location"], "/approvals?done=approval_approved");
    s.user("plain.op", &[Role::Operator]).await;
    let requester = s.browser();
    requester.sign_in("op.a", crate::support::PASSWORD).await;
    let html = requester.get("/approvals").await.text().await.unwrap();
    assert!(html.contains("承認済み（未使用）") && html.contains("佐藤 SV"), "{html}");
    assert!(!html.contains("あなたの判断を待つ申請"), "an operator decides nothing: {html}");
    s.stop().await;
}
both_backends!(approvals_console);

/// Printing (issue 15, item 2; LEAK-9): an operator asks from the customer's card; nothing
/// prints before a supervisor approves; then one PDF, watermarked with who, the request and the
/// client company on every page; a second download is refused. Another client's customer
/// cannot even be asked for.
async fn print_needs_approval(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.signin_burst = 10_000).await;
    two_teams(&s).await;
    let ctx = Default::default();
    let (_, customers) = client_with_customers(&s, 1).await;
    let customer = customers[0].clone();

    let b = s.browser();
    b.sign_in("op.a", crate::support::PASSWORD).await;
    let csrf = b.csrf("/approvals").await;
    let form = [("_csrf", csrf.as_str()), ("customer_id", customer.as_str()), ("reason", "郵送の宛名")];
    let r = b.post_form("/workspace/print-request", &form).await;
    assert_eq!(r.headers()["location"], "/approvals?done=print_requested");
    let id = s.core.approvals.inbox(&person(&s, "op.a").await).await.unwrap().mine[0].request.id.clone();
    let print = format!("/approvals/{id}/print");
    let r = b.post_form(&print, &[("_csrf", &csrf)]).await;
    assert_eq!(r.status(), 403, "nothing prints before the approval");

    // Another team's operator, not assigned to the client: the customer is not found.
    let other = s.browser();
    other.sign_in("op.b", crate::support::PASSWORD).await;
    let csrf_b = other.csrf("/approvals").await;
    let r = other
        .post_form(
            "/workspace/print-request",
            &[("_csrf", &csrf_b), ("customer_id", &customer), ("reason", "x")],
        )
        .await;
    assert_eq!(r.status(), 404);

    let sv = person(&s, "sv.a").await;
    let step = s.core.identity.step_up(&sv, &s.next_totp(), "approval", &ctx).await.unwrap();
    s.core.approvals.decide(&sv, &id, true, Some(&step), "", &ctx).await.unwrap();
    let html = b.get("/approvals").await.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{print}\"")), "the download offered: {html}");
    let r = b.post_form(&print, &[("_csrf", &csrf)]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let pdf = r.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF"), "a PDF");
    if let Ok(mut child) = std::process::Command::new("pdftotext")
        .args(["-", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&pdf).unwrap();
        let text = String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout).into_owned();
        for expected in [id.as_str(), "op.a", "通販A社", "山田太郎0"] {
            assert!(text.contains(expected), "{expected} on the sheet: {text}");
        }
    } else {
        assert!(std::env::var("CI").is_err(), "pdftotext is installed by scripts/install-test-deps.sh");
    }
    let r = b.post_form(&print, &[("_csrf", &csrf)]).await;
    assert_eq!(r.status(), 403, "one download");
    let prints = s.audit("customer.print").await;
    let outcomes: Vec<_> = prints.iter().map(|e| e.outcome).collect();
    assert_eq!(
        outcomes,
        vec![mamori_audit::Outcome::Success, mamori_audit::Outcome::Denied],
        "one print; op.b refused (newest first)"
    );
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(print_needs_approval);

/// Runs `7z` on an archive: whether it opened, and what it printed (the file with `x -so`).
fn seven_zip(archive: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("7z").args(args).arg(archive).output().expect("7z runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The export's password on its page.
fn shown_password(html: &str) -> String {
    let marker = "id=\"export-password\">";
    let start = html.find(marker).expect("the password is shown") + marker.len();
    html[start..].split('<').next().unwrap().to_owned()
}

/// Exporting customers (issue 15, item 3; LEAK-1, LEAK-13): asked for with a client company and
/// fields; nothing downloads before a supervisor approves; then one AES-256 ZIP that `7z` opens
/// with the password shown on screen, and not without; card numbers stay masked; a second
/// download is refused; another client's customers cannot be asked for. The same through the
/// API. Bad requests get 422 and make nothing.
async fn export_needs_approval(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.signin_burst = 10_000).await;
    two_teams(&s).await;
    let ctx = Default::default();
    let (client, _) = client_with_customers(&s, 30).await;
    let sv = person(&s, "sv.a").await;

    let b = s.browser();
    b.sign_in("op.a", crate::support::PASSWORD).await;
    let html = b.get("/exports/new").await.text().await.unwrap();
    assert!(html.contains("通販A社") && html.contains("氏名（カナ）"), "{html}");
    let csrf = b.csrf("/exports/new").await;
    let ask = |fields: &'static [&'static str], from: &'static str| {
        let mut form = vec![
            ("_csrf", csrf.clone()),
            ("client_id", client.clone()),
            ("registered_from", from.to_owned()),
            ("reason", "委託元への月次報告".to_owned()),
        ];
        form.extend(fields.iter().map(|f| ("fields", (*f).to_owned())));
        form
    };
    for (form, why) in [
        (ask(&[], ""), "no field"),
        (ask(&["name_kanji", "shoe_size"], ""), "an unknown field"),
        (ask(&["name_kanji"], "2026/01/01"), "a day not written YYYY-MM-DD"),
        (ask(&["name_kanji"], "2999-01-01"), "no customer in these days"),
    ] {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = b.post_form("/exports", &form).await;
        assert_eq!(r.status(), 422, "{why}");
        assert!(r.text().await.unwrap().contains("role=\"alert\""), "{why}: said in words");
    }
    assert!(s.core.approvals.inbox(&sv).await.unwrap().to_decide.is_empty(), "bad requests make nothing");
    let form = ask(&["name_kanji", "phones", "card_number"], "");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = b.post_form("/exports", &form).await;
    assert_eq!(r.headers()["location"], "/approvals?done=export_requested");

    // Another team's operator, not assigned to the client company: not found.
    let other = s.browser();
    other.sign_in("op.b", crate::support::PASSWORD).await;
    let csrf_b = other.csrf("/approvals").await;
    let r = other
        .post_form(
            "/exports",
            &[("_csrf", &csrf_b), ("client_id", &client), ("fields", "name_kanji"), ("reason", "x")],
        )
        .await;
    assert_eq!(r.status(), 404);

    let id = s.core.approvals.inbox(&sv).await.unwrap().to_decide[0].request.id.clone();
    let prepare = format!("/approvals/{id}/export");
    let r = b.post_form(&prepare, &[("_csrf", &csrf)]).await;
    assert_eq!(r.status(), 403, "no password, no download before the approval");
    let svb = s.signed_in("sv.a").await;
    let html = svb.get("/approvals").await.text().await.unwrap();
    for expected in ["データ持ち出し", "通販A社", "顧客数: 30", "氏名、電話番号", "委託元への月次報告"]
    {
        assert!(html.contains(expected), "{expected} for the approver: {html}");
    }
    let step = s.core.identity.step_up(&sv, &s.next_totp(), "approval", &ctx).await.unwrap();
    s.core.approvals.decide(&sv, &id, true, Some(&step), "", &ctx).await.unwrap();

    let html = b.get("/approvals").await.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{prepare}\"")), "the download offered: {html}");
    let r = b.post_form(&prepare, &[("_csrf", &csrf)]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    let password = shown_password(&html);
    assert_eq!(password.len(), 24, "{password}");
    let ticket = html.split("name=\"ticket\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    // Opening the page again: a new ticket, another password; the first ticket still downloads.
    let again = b.post_form(&prepare, &[("_csrf", &csrf)]).await.text().await.unwrap();
    assert_ne!(shown_password(&again), password);

    let download = format!("/approvals/{id}/export/download");
    let r = b.post_form(&download, &[("_csrf", &csrf), ("ticket", &ticket)]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    let zip = r.bytes().await.unwrap();
    assert!(!zip.windows("山田太郎".len()).any(|w| w == "山田太郎".as_bytes()), "encrypted");
    let r = b.post_form(&download, &[("_csrf", &csrf), ("ticket", &ticket)]).await;
    assert_eq!(r.status(), 403, "one download");
    let text = r.text().await.unwrap();
    assert!(text.contains("有効な承認がありません"), "said in Japanese: {text}");
    let refused_use = s.audit("approval.use").await;
    assert!(
        refused_use.iter().any(|e| e.outcome == mamori_audit::Outcome::Denied
            && e.details.get("reason").map(String::as_str) == Some("not_granted")),
        "the refused second download is on the record"
    );
    // Nor through a second replica (another process's services on the same database).
    let replica = mamori_server::serve::open_core(&s.config, s.clock.clone()).await.unwrap();
    let op = mamori_core::Principal::direct(person(&s, "op.a").await.user, vec![client.clone()]);
    let field = |f: mamori_domain::customer::CustomerField| f.as_str().to_owned();
    let again = on_replica!(replica.export_customers(&op, &id, &ticket, &field, &ctx).await);
    assert!(matches!(again, Err(CoreError::ApprovalRefused { .. })), "replayed on a replica: {again:?}");
    drop(replica);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.zip");
    std::fs::write(&file, &zip).unwrap();
    if std::process::Command::new("7z").arg("i").output().is_ok() {
        let (opened, _) = seven_zip(&file, &["t", "-pWRONG-PASSWORD"]);
        assert!(!opened, "a wrong password does not open it");
        let (opened, listing) = seven_zip(&file, &["l", "-slt"]);
        assert!(opened && listing.contains("AES-256"), "AES-256: {listing}");
        let (opened, csv) = seven_zip(&file, &["x", "-so", &format!("-p{password}")]);
        assert!(opened, "the shown password opens it");
        let csv = csv.trim_start_matches('\u{feff}');
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 31, "a header and 30 customers: {csv}");
        assert!(lines[0].starts_with("氏名,電話番号,"), "{}", lines[0]);
        assert!(csv.contains("+81312345678"), "phones in full: {csv}");
        assert!(csv.contains("**** **** **** 1111") && !csv.contains("4111"), "card numbers masked: {csv}");
    } else {
        assert!(std::env::var("CI").is_err(), "7z is installed by scripts/install-test-deps.sh");
    }
    let exports = s.audit("customer.export").await;
    let outcomes: Vec<_> = exports.iter().map(|e| e.outcome).collect();
    assert_eq!(
        outcomes,
        vec![mamori_audit::Outcome::Success, mamori_audit::Outcome::Denied],
        "one export; op.b refused (newest first)"
    );
    assert_eq!(exports[0].details.get("customers").map(String::as_str), Some("30"));

    // Through the API: a token asks, the supervisor approves, a ticket, then the download.
    let op = s.core.store().read().await.unwrap().user_by_username("op.a").await.unwrap().unwrap();
    let token = s.token(&op, &[mamori_domain::Permission::CustomersRead]).await;
    let api = reqwest::Client::new();
    for bad in [
        json!({"client_id": client, "fields": [], "reason": "r"}),
        json!({"client_id": client, "fields": ["shoe_size"], "reason": "r"}),
        json!({"client_id": client, "fields": ["email"], "reason": "r", "format": "xlsx"}),
        json!({"client_id": client, "fields": ["email"], "reason": ""}),
        json!({"client_id": client, "fields": ["email"], "registered_to": "昨日", "reason": "r"}),
    ] {
        let r = api.post(s.url("/api/v1/exports")).bearer_auth(&token).json(&bad).send().await.unwrap();
        assert!(r.status() == 422 || r.status() == 400, "{bad}: {}", r.status());
    }
    let body = json!({"client_id": client, "fields": ["phones"], "registered_to": "2999-12-31", "reason": "監査対応"});
    let r = api.post(s.url("/api/v1/exports")).bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let made: serde_json::Value = r.json().await.unwrap();
    let id = made["id"].as_str().unwrap().to_owned();
    assert_eq!(made["content"]["customers"], 30);
    let step = s.core.identity.step_up(&sv, &s.next_totp(), "approval", &ctx).await.unwrap();
    s.core.approvals.decide(&sv, &id, true, Some(&step), "", &ctx).await.unwrap();
    let r = api
        .post(s.url(&format!("/api/v1/approvals/{id}/export-ticket")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ticket: serde_json::Value = r.json().await.unwrap();
    let url = s.url(&format!("/api/v1/approvals/{id}/export"));
    let body = json!({"ticket": ticket["ticket"]});
    let r = api.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let zip = r.bytes().await.unwrap();
    std::fs::write(&file, &zip).unwrap();
    if std::process::Command::new("7z").arg("i").output().is_ok() {
        let password = format!("-p{}", ticket["password"].as_str().unwrap());
        let (opened, csv) = seven_zip(&file, &["x", "-so", &password]);
        assert!(opened && csv.trim_start_matches('\u{feff}').starts_with("phones\n"), "{csv}");
    }
    let r = api.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 403, "the grant was used");
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(export_needs_approval);

/// Beyond the reveal allowance (issue 15, item 6): the refused reveal offers to ask the
/// supervisor; once approved, the operator sees that one field once — not counted against the
/// allowance, recorded with the approval. A field shown in full, a short reason and another
/// client's customer are refused; the same through the API.
async fn reveal_beyond_allowance(backend: Backend) {
    let s = TestServer::start_with(backend, |c| {
        c.signin_burst = 10_000;
        c.reveals.capacity = 1;
    })
    .await;
    two_teams(&s).await;
    let ctx = Default::default();
    let (client, customers) = client_with_customers(&s, 1).await;
    let customer = customers[0].clone();
    let sv = person(&s, "sv.a").await;
    let b = s.browser();
    b.sign_in("op.a", crate::support::PASSWORD).await;
    let csrf = b.csrf("/workspace").await;
    let reveal = [
        ("_csrf", csrf.as_str()),
        ("customer_id", customer.as_str()),
        ("field", "card_number"),
        ("reason_code", "fraud_check"),
        ("reason_text", "不正利用の確認のため"),
    ];
    let html = b.post_form("/workspace/reveal", &reveal).await.text().await.unwrap();
    assert!(html.contains("4111111111111111") && !html.contains("reveal-ask"), "within the allowance");
    let html = b.post_form("/workspace/reveal", &reveal).await.text().await.unwrap();
    assert!(html.contains("id=\"reveal-ask\"") && !html.contains("4111111111111111"), "beyond it: {html}");
    assert!(html.contains("SVに承認を申請する"), "{html}");

    let ask = |field: &'static str, text: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("customer_id", customer.clone()),
            ("field", field.to_owned()),
            ("reason_code", "fraud_check".to_owned()),
            ("reason_text", text.to_owned()),
        ]
    };
    for (form, status, why) in [
        (ask("name_kanji", "不正利用の確認のため"), 422, "a field shown in full needs no reveal"),
        (ask("card_number", "確認"), 422, "a reason of fewer than 5 characters"),
        (ask("shoe_size", "不正利用の確認のため"), 422, "not a field"),
    ] {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(b.post_form("/workspace/reveal-request", &form).await.status(), status, "{why}");
    }
    let other = s.browser();
    other.sign_in("op.b", crate::support::PASSWORD).await;
    let csrf_b = other.csrf("/workspace").await;
    let mut form = reveal.to_vec();
    form[0] = ("_csrf", csrf_b.as_str());
    assert_eq!(other.post_form("/workspace/reveal-request", &form).await.status(), 404, "another client's");

    let r = b.post_form("/workspace/reveal-request", &reveal).await;
    assert_eq!(r.headers()["location"], "/approvals?done=reveal_requested");
    let id = s.core.approvals.inbox(&sv).await.unwrap().to_decide[0].request.id.clone();
    let show = format!("/approvals/{id}/reveal");
    assert_eq!(b.post_form(&show, &[("_csrf", &csrf)]).await.status(), 403, "not before the approval");
    let svb = s.signed_in("sv.a").await;
    let html = svb.get("/approvals").await.text().await.unwrap();
    for expected in ["全桁表示", "カード番号", "不正利用の確認", "不正利用の確認のため"]
    {
        assert!(html.contains(expected), "{expected} for the approver: {html}");
    }
    let step = s.core.identity.step_up(&sv, &s.next_totp(), "approval", &ctx).await.unwrap();
    s.core.approvals.decide(&sv, &id, true, Some(&step), "", &ctx).await.unwrap();
    let html = b.get("/approvals").await.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{show}\"")), "offered: {html}");
    let html = b.get("/workspace").await.text().await.unwrap();
    assert!(html.contains("承認済み（未使用） 1件"), "the workspace's badge: {html}");
    let r = b.post_form(&show, &[("_csrf", &csrf)]).await;
    assert_eq!((r.status().as_u16(), &r.headers()["cache-control"]), (200, &"no-store".parse().unwrap()));
    assert!(r.text().await.unwrap().contains("4111111111111111"), "shown once");
    assert_eq!(b.post_form(&show, &[("_csrf", &csrf)]).await.status(), 403, "and not twice");
    let replica = mamori_server::serve::open_core(&s.config, s.clock.clone()).await.unwrap();
    let op = mamori_core::Principal::direct(person(&s, "op.a").await.user, vec![client.clone()]);
    let again = on_replica!(replica.reveal_approved(&op, &id, &ctx).await);
    assert!(matches!(again, Err(CoreError::ApprovalRefused { .. })), "nor on a replica: {again:?}");
    drop(replica);

    // Through the API.
    let op = s.core.store().read().await.unwrap().user_by_username("op.a").await.unwrap().unwrap();
    let token = s.token(&op, &[mamori_domain::Permission::CustomersRead]).await;
    let api = reqwest::Client::new();
    let url = s.url(&format!("/api/v1/customers/{customer}/reveal-requests"));
    let body =
        json!({"field": "card_number", "reason_code": "fraud_check", "reason_text": "不正利用の確認のため"});
    let bad =
        json!({"field": "card_number", "reason_code": "curiosity", "reason_text": "不正利用の確認のため"});
    let r = api.post(&url).bearer_auth(&token).json(&bad).send().await.unwrap();
    assert_eq!(r.status(), 422, "an unknown reason code");
    let r = api.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let step = s.core.identity.step_up(&sv, &s.next_totp(), "approval", &ctx).await.unwrap();
    s.core.approvals.decide(&sv, &id, true, Some(&step), "", &ctx).await.unwrap();
    let url = s.url(&format!("/api/v1/approvals/{id}/reveal"));
    let r = api.post(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["value"], "4111111111111111");
    assert_eq!(api.post(&url).bearer_auth(&token).send().await.unwrap().status(), 403);

    let approved: Vec<_> = s
        .audit("customer.reveal")
        .await
        .into_iter()
        .filter(|e| e.details.get("purpose").map(String::as_str) == Some("approval"))
        .collect();
    assert_eq!(approved.len(), 2, "each approved reveal recorded with its approval");
    assert_eq!(approved[0].details.get("approval"), Some(&id));
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(reveal_beyond_allowance);

/// `YYYY-MM-DD` in Japan, `days` after now on the test's clock.
fn jst_day(s: &TestServer, days: i64) -> String {
    let at = s.core.now().0 / 1000 + days * 86_400 + 9 * 3600;
    let t = time::OffsetDateTime::from_unix_timestamp(at).unwrap();
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// Take-outs (issue 15, item 4; LEAK-10, TW-4, MON-2): an operator asks to take their PC and a
/// USB stick out; once approved, the PC connecting from elsewhere and the stick being plugged
/// in are marked "approved take-out" on the signals page, and the floor shows the PC as taken
/// out instead of needing attention; past the return date without a return it raises
/// `take_out_overdue`; the supervisor records the return (the requester cannot). Bad requests
/// are refused in words.
async fn take_out_explains_signals(backend: Backend) {
    use mamori_core::take_out::{TakeOutItem, TakeOutRequest};
    let s = TestServer::start_with(backend, |c| c.signin_burst = 10_000).await;
    let (op_a, _) = two_teams(&s).await;
    let ctx = Default::default();
    let admin = person(&s, "admin").await;
    let sv = person(&s, "sv.a").await;
    let admin_user = s.core.store().read().await.unwrap().user_by_username("admin").await.unwrap().unwrap();
    let token = s.token(&admin_user, &[mamori_domain::Permission::DevicesManage]).await;
    let mut pc = crate::devices::enrol_agent(&s, &token, &op_a.id, "DEMO-PC-07").await;
    s.core.devices.set_user_networks(&admin, &op_a.id, vec!["127.0.0.1/32".into()], &ctx).await.unwrap();
    assert_eq!(pc.send("/api/v1/agent/heartbeat", &json!({})).await.0, 200);

    let b = s.browser();
    b.sign_in("op.a", crate::support::PASSWORD).await;
    let html = b.get("/take-outs/new").await.text().await.unwrap();
    assert!(html.contains("DEMO-PC-07"), "their own PC is offered: {html}");
    let csrf = b.csrf("/take-outs/new").await;
    let until = jst_day(&s, 2);
    let ask = |item: &str, key: &str, value: &str, until: &str| {
        let v = vec![
            ("_csrf", csrf.clone()),
            ("item", item.to_owned()),
            (key, value.to_owned()),
            ("until", until.to_owned()),
            ("reason", "顧客先での研修".to_owned()),
        ];
        v.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Vec<(String, String)>>()
    };
    for (form, status, why) in [
        (ask("device", "device_id", &pc.id, "2020-01-01"), 422, "a return date in the past"),
        (ask("device", "device_id", &pc.id, &jst_day(&s, 30)), 422, "longer than the policy allows"),
        (ask("device", "device_id", &pc.id, "来週"), 422, "not a date"),
        (ask("usb", "usb_serial", "ab", &until), 422, "not a serial"),
        (ask("paper", "paper", "", &until), 422, "no description"),
        (ask("device", "device_id", &uuid::Uuid::new_v4().to_string(), &until), 404, "not a PC of theirs"),
    ] {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = b.post_form("/take-outs", &form).await;
        assert_eq!(r.status(), status, "{why}");
    }
    let form = ask("device", "device_id", &pc.id, &until);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = b.post_form("/take-outs", &form).await;
    assert_eq!(r.headers()["location"], "/approvals?done=take_out_requested");
    // The stick through the API.
    let op_token = s.token(&op_a, &[mamori_domain::Permission::CustomersRead]).await;
    let api = reqwest::Client::new();
    let body = json!({"item": "usb", "usb_serial": "4c530001230312116325", "until": until, "reason": "研修資料の持参"});
    let r = api.post(s.url("/api/v1/take-outs")).bearer_auth(&op_token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let bad = json!({"item": "usb", "device_id": pc.id, "until": until, "reason": "x"});
    let r = api.post(s.url("/api/v1/take-outs")).bearer_auth(&op_token).json(&bad).send().await.unwrap();
    assert_eq!(r.status(), 422, "the item's own field only");

    let svb = s.signed_in("sv.a").await;
    let html = svb.get("/approvals").await.text().await.unwrap();
    for expected in
        ["持ち出し申請", "DEMO-PC-07", "返却予定", "USBメモリ", "4C530001230312116325", "顧客先での研修"]
    {
        assert!(html.contains(expected), "{expected} for the approver: {html}");
    }
    // The floor's badge: two requests waiting for this supervisor (item 8).
    let html = svb.get("/floor").await.text().await.unwrap();
    assert!(html.contains("id=\"floor-approvals\"") && html.contains("承認待ち 2件"), "{html}");
    for ask in s.core.approvals.inbox(&sv).await.unwrap().to_decide {
        let step = s.core.identity.step_up(&sv, &s.next_totp(), "approval", &ctx).await.unwrap();
        s.core.approvals.decide(&sv, &ask.request.id, true, Some(&step), "", &ctx).await.unwrap();
    }

    // A take-out whose return time passes before anyone decides is no longer decided.
    let soon = {
        let at = s.core.now().0 / 1000 + 2 * 3600 + 9 * 3600;
        let t = time::OffsetDateTime::from_unix_timestamp(at).unwrap();
        format!("{:04}-{:02}-{:02}T{:02}:{:02}", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
    };
    let paper =
        TakeOutRequest {
            item: TakeOutItem::Paper("研修資料".into()), until: soon, reason: "研修".into()
        };
    let late = s.core.request_take_out(&person(&s, "op.a").await, &paper, &ctx).await.unwrap();

    // Out of the office: the PC connects from elsewhere, the stick is plugged in.
    pc.from = Some("127.0.0.2".parse().unwrap());
    assert_eq!(pc.send("/api/v1/agent/heartbeat", &json!({})).await.0, 200);
    let now = s.core.now().0;
    let usb = json!({"vendor_id": "0781", "product_id": "5581", "product": "Cruzer", "serial": "4C530001230312116325", "mass_storage": true});
    let events = json!({"events": [{"id": "u1", "time": now, "kind": "usb_attached", "data": usb}]});
    assert_eq!(pc.send("/api/v1/agent/events", &events).await.0, 200);
    let html = svb.get("/signals").await.text().await.unwrap();
    assert_eq!(html.matches("take-out-approved").count(), 2, "both explained: {html}");
    let html = svb.get("/floor").await.text().await.unwrap();
    assert!(html.contains("持ち出し中（承認済み）") && !html.contains("reason-network"), "{html}");

    // Past the return date, not returned: a signal, and the approver's list marks it.
    s.clock.advance(Duration::from_secs(3 * 3600));
    let step = s.core.identity.step_up(&sv, &s.next_totp(), "approval", &ctx).await.unwrap();
    refused(
        s.core.approvals.decide(&sv, &late.id, true, Some(&step), "", &ctx).await,
        "past its return time",
    );
    s.clock.advance(Duration::from_secs(3 * 86_400));
    s.core.approvals.expire_approvals().await.unwrap();
    let filter = mamori_core::signals::SignalFilter {
        since: s.core.now(),
        kind: Some("take_out_overdue".into()),
        team_id: None,
        device_id: None,
    };
    let overdue = s.core.signals(&sv, &filter, &ctx).await.unwrap();
    assert_eq!(overdue.len(), 2, "the PC and the stick");
    let html = s.signed_in("sv.a").await.get("/signals?kind=take_out_overdue").await.text().await.unwrap();
    for expected in ["持ち出しの返却期限切れ", "返却予定", "DEMO-PC-07"] {
        assert!(html.contains(expected), "{expected} on the signals page: {html}");
    }
    let other_sv = s.principal_of(s.user("sv.none", &[Role::Supervisor]).await);
    assert!(s.core.signals(&other_sv, &filter, &ctx).await.unwrap().is_empty(), "not their team's");
    let out = s.core.take_outs_to_return(&sv).await.unwrap();
    assert_eq!(out.len(), 2);

    // The return: never by the requester; by their supervisor, once.
    let id = out.iter().find(|v| v.request.content.contains("\"device\"")).unwrap().request.id.clone();
    refused(s.core.record_return(&person(&s, "op.a").await, &id, &ctx).await, "the requester");
    s.core.record_return(&sv, &id, &ctx).await.unwrap();
    assert!(s.core.record_return(&sv, &id, &ctx).await.is_err(), "once");
    assert_eq!(s.core.signals(&sv, &filter, &ctx).await.unwrap().len(), 1, "the stick is still out");
    let returns = s.audit("take_out.return").await;
    assert_eq!(returns[0].details.get("overdue").map(String::as_str), Some("true"));
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(take_out_explains_signals);

/// Privileged actions (issue 15, item 7; invariant 3): with a single security admin they go
/// ahead (so a new installation can appoint a second); with two, granting security_admin, an
/// approval policy, an erasure and the key commands are each refused directly, asked for,
/// approved by the other admin after a step-up, and carried out once by the one who asked —
/// exactly as approved.
async fn privileged_actions_need_two_admins(backend: Backend) {
    use mamori_domain::approval::PrivilegedAction;
    let s = TestServer::start_with(backend, |c| c.signin_burst = 10_000).await;
    let (op_a, _) = two_teams(&s).await;
    let ctx = Default::default();
    let admin = person(&s, "admin").await;
    let second = s.user("admin2", &[Role::Auditor]).await;
    // Alone, the admin appoints a second one directly.
    let both = [Role::SecurityAdmin];
    s.core.identity.set_user_roles(&admin, &second.id, &both, &ctx).await.unwrap();
    let admin2 = person(&s, "admin2").await;

    // Now two: a grant is refused directly, and recorded.
    let r = s.core.identity.set_user_roles(&admin, &op_a.id, &both, &ctx).await;
    assert!(matches!(r, Err(CoreError::ApprovalRequired)), "{r:?}");
    let refused_roles = s.audit("user.roles").await;
    assert_eq!(refused_roles[0].details.get("reason").map(String::as_str), Some("approval_required"));
    // The console asks for it instead.
    let b = s.signed_in("admin").await;
    let csrf = b.csrf("/approvals").await;
    let path = format!("/admin/users/{}/roles", op_a.id);
    let r = b
        .post_form(
            &path,
            &[("_csrf", &csrf), ("roles", "security_admin"), ("reason", "夜間の当番を増やすため")],
        )
        .await;
    assert_eq!(r.headers()["location"], "/approvals?done=privileged_requested");
    let asked = s.core.approvals.inbox(&admin).await.unwrap().mine[0].request.clone();
    assert!(s.core.approvals.inbox(&admin).await.unwrap().to_decide.is_empty(), "not their own");
    assert!(s.core.approvals.inbox(&person(&s, "sv.a").await).await.unwrap().to_decide.is_empty());
    let html = s.signed_in("admin2").await.get("/approvals").await.text().await.unwrap();
    for expected in ["特権操作", "セキュリティ管理者ロールの付与", "山田 花子", "夜間の当番を増やすため"]
    {
        assert!(html.contains(expected), "{expected} for the second admin: {html}");
    }
    let step = s.core.identity.step_up(&admin2, &s.next_totp(), "approval", &ctx).await.unwrap();
    s.core.approvals.decide(&admin2, &asked.id, true, Some(&step), "", &ctx).await.unwrap();
    refused(s.core.execute_privileged(&admin2, &asked.id, &ctx).await, "not the requester");
    let html = b.get("/approvals").await.text().await.unwrap();
    let execute = format!("/approvals/{}/execute", asked.id);
    assert!(html.contains(&format!("action=\"{execute}\"")), "{html}");
    let r = b.post_form(&execute, &[("_csrf", &csrf)]).await;
    assert_eq!(r.headers()["location"], "/approvals?done=privileged_done");
    assert_eq!(b.post_form(&execute, &[("_csrf", &csrf)]).await.status(), 403, "once");
    let replica = mamori_server::serve::open_core(&s.config, s.clock.clone()).await.unwrap();
    refused(on_replica!(replica.execute_privileged(&admin, &asked.id, &ctx).await), "nor on a replica");
    drop(replica);
    let roles = person(&s, "op.a").await.user.roles;
    assert_eq!(roles, vec![Role::SecurityAdmin]);
    assert_eq!(s.audit("user.roles").await[0].details.get("approval"), Some(&asked.id));

    // An approval policy, through the API.
    let admin_user = s.core.store().read().await.unwrap().user_by_username("admin").await.unwrap().unwrap();
    let perms = [mamori_domain::Permission::SettingsManage, mamori_domain::Permission::CustomersManage];
    let token = s.token(&admin_user, &perms).await;
    let api = reqwest::Client::new();
    let two = json!({"approvals": 2, "approver_roles": ["supervisor", "security_admin"], "own_team_supervisor": true,
        "decide_within_ms": 14_400_000, "grant_valid_ms": 3_600_000});
    let r = api
        .put(s.url("/api/v1/approval-policies/print"))
        .bearer_auth(&token)
        .json(&two)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], "approval_required");
    let mut zero = two.clone();
    zero["approvals"] = 0.into();
    for bad in [
        json!({"action": {"action": "set_approval_policy", "kind": "print", "policy": zero}, "reason": "r"}),
        json!({"action": {"action": "launch_missiles"}, "reason": "r"}),
        json!({"action": {"action": "erase_customer", "customer": "x", "request_ref": "DSR-1"}, "reason": "r"}),
    ] {
        let r = api.post(s.url("/api/v1/privileged")).bearer_auth(&token).json(&bad).send().await.unwrap();
        assert!([400, 404, 422].contains(&r.status().as_u16()), "{bad}: {}", r.status());
    }
    let ask = json!({"action": {"action": "set_approval_policy", "kind": "print", "policy": two}, "reason": "印刷は二人で確認"});
    let r = api.post(s.url("/api/v1/privileged")).bearer_auth(&token).json(&ask).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let step = s.core.identity.step_up(&admin2, &s.next_totp(), "approval", &ctx).await.unwrap();
    s.core.approvals.decide(&admin2, &id, true, Some(&step), "", &ctx).await.unwrap();
    let url = s.url(&format!("/api/v1/approvals/{id}/execute"));
    let r = api.post(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.core.approvals.policy(ApprovalKind::Print).await.unwrap().approvals, 2);
    let html = b.get("/admin/approval-policies").await.text().await.unwrap();
    assert!(html.contains("承認2人"), "{html}");

    // An erasure.
    let (_, customers) = client_with_customers(&s, 1).await;
    let r = s.core.vault.erase_customer(&admin, &customers[0], "DSR-2026-0042", &ctx).await;
    assert!(matches!(r, Err(CoreError::ApprovalRequired)), "{r:?}");
    let erase = PrivilegedAction::EraseCustomer {
        customer: customers[0].clone(),
        request_ref: "DSR-2026-0042".into(),
    };
    let asked = s.core.request_privileged(&admin, &erase, "削除請求への対応", &ctx).await.unwrap();
    let step = s.core.identity.step_up(&admin2, &s.next_totp(), "approval", &ctx).await.unwrap();
    s.core.approvals.decide(&admin2, &asked.id, true, Some(&step), "", &ctx).await.unwrap();
    s.core.execute_privileged(&admin, &asked.id, &ctx).await.unwrap();
    assert!(s.core.store().read().await.unwrap().customer(&customers[0]).await.unwrap().is_none(), "erased");
    assert_eq!(s.audit("customer.erase").await[0].details.get("approval"), Some(&asked.id));

    // The key commands: cleared only with an approval of exactly that command, once.
    let rotate = PrivilegedAction::RotateVaultKeys;
    assert!(matches!(s.core.clear_key_command(&rotate, None).await, Err(CoreError::ApprovalRequired)));
    let asked = s.core.request_privileged(&admin, &rotate, "年次の鍵更新", &ctx).await.unwrap();
    let step = s.core.identity.step_up(&admin2, &s.next_totp(), "approval", &ctx).await.unwrap();
    s.core.approvals.decide(&admin2, &asked.id, true, Some(&step), "", &ctx).await.unwrap();
    let r = s.core.execute_privileged(&admin, &asked.id, &ctx).await;
    assert!(matches!(r, Err(CoreError::Invalid { .. })), "run on the server: {r:?}");
    let retire = PrivilegedAction::RetireVaultKeys;
    assert!(s.core.clear_key_command(&retire, Some(&asked.id)).await.is_err(), "another command");
    s.core.clear_key_command(&rotate, Some(&asked.id)).await.unwrap();
    assert!(s.core.clear_key_command(&rotate, Some(&asked.id)).await.is_err(), "once");
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(privileged_actions_need_two_admins);

/// What the test's webhook receiver got: (timestamp, signature, body).
pub(crate) type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, String, String)>>>;

/// A webhook receiver on loopback that answers 500 to its first `fail` requests, then 204.
pub(crate) async fn webhook_receiver(fail: usize) -> (String, Received) {
    use axum::http::{HeaderMap, StatusCode};
    let got: Received = Default::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let header = |name: &str| {
                    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
                };
                let mut seen = seen.lock().unwrap();
                seen.push((header("x-mamori-timestamp"), header("x-mamori-signature"), body));
                if seen.len() <= fail { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::NO_CONTENT }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

/// Notifications by signed webhook (issue 15, item 8): each step of a request — asked,
/// approved — is POSTed to a real receiver on loopback with an HMAC-SHA256 signature over the
/// timestamp and the body, which the receiver can check with the shared secret; a receiver that
/// fails is tried again with back-off, and every attempt is recorded. No content, no reason.
async fn webhook_notifications(backend: Backend) {
    use hmac::{Hmac, Mac};
    let (url, got) = webhook_receiver(2).await;
    let secret = "a-shared-secret-of-at-least-32-characters";
    let s = TestServer::start_with(backend, |c| {
        c.signin_burst = 10_000;
        c.webhook = Some(mamori_server::config::Webhook { url, secret: secret.into() });
    })
    .await;
    two_teams(&s).await;
    let ctx = Default::default();
    let (client, customers) = client_with_customers(&s, 1).await;
    let sv = person(&s, "sv.a").await;
    let op = mamori_core::Principal::direct(person(&s, "op.a").await.user, vec![client]);
    let asked = s.core.request_print(&op, &customers[0], "郵送の控え（宛名確認用）", &ctx).await.unwrap();
    let step = s.core.identity.step_up(&sv, &s.next_totp(), "approval", &ctx).await.unwrap();
    s.core.approvals.decide(&sv, &asked.id, true, Some(&step), "", &ctx).await.unwrap();
    // Two failures, then deliveries: the retries wait on the server's clock.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let delivered = loop {
        let list = s.core.approvals.notifications(&person(&s, "admin").await, 10, &ctx).await.unwrap();
        if list.len() == 2 && list.iter().all(|n| n.status == "delivered") {
            break list;
        }
        assert!(std::time::Instant::now() < deadline, "not delivered: {list:?}");
        s.clock.advance(Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let attempts: i64 = delivered.iter().map(|n| n.attempts).sum();
    assert_eq!(attempts, 4, "two failed attempts, then one each: {delivered:?}");
    assert!(delivered.iter().any(|n| n.last_error.as_deref().is_some_and(|e| e.contains("500"))));

    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 4);
    let mut events = Vec::new();
    for (timestamp, signature, body) in &got {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{timestamp}.{body}").as_bytes());
        assert_eq!(signature, &format!("sha256={}", hex::encode(mac.finalize().into_bytes())), "signed");
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["approval"]["id"], asked.id.as_str());
        assert!(
            !body.contains("宛名確認用") && !body.contains(&customers[0]),
            "no reason, no customer: {body}"
        );
        events.push(v["event"].as_str().unwrap().to_owned());
    }
    events.sort();
    events.dedup();
    assert_eq!(events, ["approval.approve", "approval.request"]);
    // The deliveries are listed for security admins, in the API too.
    let admin_user = s.core.store().read().await.unwrap().user_by_username("admin").await.unwrap().unwrap();
    let token = s.token(&admin_user, &[mamori_domain::Permission::SettingsManage]).await;
    let r = reqwest::Client::new()
        .get(s.url("/api/v1/approval-notifications"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let list: serde_json::Value = r.json().await.unwrap();
    assert_eq!(list["notifications"].as_array().map(Vec::len), Some(2));
    s.stop().await;
}
both_backends!(webhook_notifications);
