//! Access-right reviews (issue 18, item 3; LEAK-6): a transfer starts a campaign reviewed by the
//! person's new team supervisor; a revoked client company is gone at once (the next lookup of
//! its customer is refused) and the audit log says who decided and when; bad input changes
//! nothing; a campaign past its due date goes to the security admins; the dormant-account
//! policy disables accounts; the campaign exports as CSV evidence — both databases.

use crate::approvals::{client_with_customers, person};
use crate::both_backends;
use crate::commands::two_teams;
use crate::support::{Backend, TestServer};
use mamori_audit::Outcome;
use mamori_domain::{Permission, Role};
use serde_json::{Value, json};
use std::time::Duration;

async fn call(s: &TestServer, method: &str, token: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let api = reqwest::Client::new();
    let mut r = api.request(method.parse().unwrap(), s.url(path)).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json::<Value>().await.unwrap_or(Value::Null))
}

async fn lookup(s: &TestServer, token: &str) -> (u16, Value) {
    let body = json!({"phone": "03-1234-5678", "reason_code": "callback", "reason_text": "お約束の折り返し"});
    call(s, "POST", token, "/api/v1/customers/lookup", Some(body)).await
}

/// Done when (issue 18): a finished access review that revokes a client assignment removes that
/// access at once — the next lookup of that client's customer is refused — and the audit log
/// shows who decided and when.
async fn a_revoked_client_is_gone_at_once(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (op_a, op_b) = two_teams(&s).await;
    // op.a is assigned the client company: a transfer, so a campaign over op.a starts.
    let (client, customers) = client_with_customers(&s, 1).await;
    let admin = person(&s, "admin").await;
    let sv = person(&s, "sv.a").await;
    let op_token = s.token(op_a.clone(), &[Permission::CustomersRead]).await;
    let sv_token =
        s.token(sv.user.clone(), &[Permission::AccessReviewsRead, Permission::AccessReviewsDecide]).await;
    let admin_token = s
        .token(
            admin.user.clone(),
            &[
                Permission::AccessReviewsRead,
                Permission::AccessReviewsDecide,
                Permission::AccessReviewsManage,
            ],
        )
        .await;
    let (status, found) = lookup(&s, &op_token).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["customers"].as_array().unwrap().len(), 1);
    let notes = format!("/api/v1/customers/{}/notes", customers[0]);
    let (status, _) = call(&s, "POST", &op_token, &notes, Some(json!({"text": "初回"}))).await;
    assert_eq!(status, 204, "in scope before the review");

    // The supervisor sees the transfer campaign over op.a, with op.a's role and client company.
    let (status, list) = call(&s, "GET", &sv_token, "/api/v1/access-reviews", None).await;
    assert_eq!(status, 200, "{list}");
    let campaign = list["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["trigger"] == "transfer" && c["subject"]["id"] == op_a.id.as_str() && c["entries"] == 2)
        .cloned()
        .unwrap_or_else(|| panic!("a transfer campaign over op.a: {list}"));
    let cid = campaign["id"].as_str().unwrap().to_owned();
    assert_eq!(campaign["subject"]["name"], "山田 花子");
    let (status, page) = call(&s, "GET", &sv_token, &format!("/api/v1/access-reviews/{cid}"), None).await;
    assert_eq!(status, 200, "{page}");
    let entries = page["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 2, "{page}");
    let client_entry = entries.iter().find(|e| e["kind"] == "client").unwrap().clone();
    let role_entry = entries.iter().find(|e| e["kind"] == "role").unwrap().clone();
    assert_eq!(client_entry["item_name"], "通販A社");
    assert_eq!(client_entry["item"], client.as_str());
    assert_eq!(client_entry["reviewers"][0]["name"], "佐藤 SV", "the new team's supervisor reviews");
    assert_eq!(client_entry["team"], "Team A");

    // Bad input: refused, nothing written.
    let decide = |id: &str| format!("/api/v1/access-reviews/entries/{id}/decision");
    let client_id = client_entry["id"].as_str().unwrap().to_owned();
    let role_id = role_entry["id"].as_str().unwrap().to_owned();
    let (status, p) =
        call(&s, "POST", &sv_token, &decide(&client_id), Some(json!({"decision": "defer"}))).await;
    assert_eq!(status, 422, "{p}");
    assert_eq!(p["field"], "reason");
    let (status, _) =
        call(&s, "POST", &sv_token, &decide(&client_id), Some(json!({"decision": "maybe"}))).await;
    assert!(status == 400 || status == 422, "{status}");
    let (status, _) = call(
        &s,
        "POST",
        &sv_token,
        &decide("00000000-0000-4000-8000-000000000000"),
        Some(json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(status, 404);
    // Another team's person (op.b: Team B has no supervisor, so the security admins review).
    let (status, all) = call(&s, "GET", &admin_token, "/api/v1/access-reviews", None).await;
    assert_eq!(status, 200);
    let b_campaign = all["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["subject"]["id"] == op_b.id.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("a transfer campaign over op.b: {all}"));
    let (_, b_page) = call(
        &s,
        "GET",
        &admin_token,
        &format!("/api/v1/access-reviews/{}?whose=all", b_campaign["id"].as_str().unwrap()),
        None,
    )
    .await;
    let b_entry = b_page["entries"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(b_page["entries"][0]["reviewers"], json!([]), "no supervisor: the security admins");
    let (status, _) =
        call(&s, "POST", &sv_token, &decide(&b_entry), Some(json!({"decision": "approve"}))).await;
    assert_eq!(status, 403, "a reviewer deciding someone else's entry");
    let denied = s.audit("access_review.decide").await;
    assert!(
        denied.iter().any(|e| e.outcome == Outcome::Denied && e.details["reason"] == "not_reviewer"),
        "the refusal is recorded"
    );
    assert!(denied.iter().all(|e| e.outcome == Outcome::Denied), "nothing decided yet");
    // A supervisor's page holds only their own entries, even when asking for everything.
    let (_, b_seen) = call(
        &s,
        "GET",
        &sv_token,
        &format!("/api/v1/access-reviews/{}?whose=all", b_campaign["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(b_seen["total"], 0, "{b_seen}");

    // The supervisor approves the role and revokes the client company: finished, gone at once.
    let (status, r) =
        call(&s, "POST", &sv_token, &decide(&role_id), Some(json!({"decision": "approve"}))).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["finished"], false);
    let before = s.core.now();
    let (status, r) = call(
        &s,
        "POST",
        &sv_token,
        &decide(&client_id),
        Some(json!({"decision": "revoke", "reason": "異動で担当外"})),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["finished"], true, "{r}");
    assert_eq!(r["removed"], true, "{r}");
    let (status, refused) = lookup(&s, &op_token).await;
    assert!(
        status != 200 || refused["customers"].as_array().is_some_and(|c| c.is_empty()),
        "the next lookup is refused: {status} {refused}"
    );
    let lookups = s.audit("customer.lookup").await;
    assert_eq!(lookups[0].details["results"], "0", "the search no longer reaches that client's customers");
    // Named by its id, the customer is out of scope: not found, and the refusal recorded.
    let notes = format!("/api/v1/customers/{}/notes", customers[0]);
    let (status, _) = call(&s, "POST", &op_token, &notes, Some(json!({"text": "確認"}))).await;
    assert_eq!(status, 404);
    let refused = s.audit("customer.note_add").await;
    assert!(
        refused[0].outcome == Outcome::Denied && refused[0].details["reason"] == "client_scope",
        "{refused:?}"
    );

    // The audit log: who decided, when, what.
    let decided: Vec<_> =
        s.audit("access_review.decide").await.into_iter().filter(|e| e.outcome == Outcome::Success).collect();
    assert_eq!(decided.len(), 2);
    let revoke = decided.iter().find(|e| e.details["decision"] == "revoke").unwrap();
    assert!(revoke.actor.starts_with("token:"), "the supervisor's token: {}", revoke.actor);
    assert!(revoke.time >= before, "when");
    assert_eq!(revoke.details["item"], client);
    assert_eq!(revoke.details["user"], format!("user:{}", op_a.id));
    let clients = s.audit("user.clients").await;
    let last = clients.first().unwrap();
    assert_eq!(last.actor, revoke.actor);
    assert_eq!(last.details["to"], "");
    assert_eq!(s.audit("access_review.finish").await.len(), 1);

    // A decision on a finished campaign: 409; the page says it is finished.
    let (status, _) =
        call(&s, "POST", &sv_token, &decide(&role_id), Some(json!({"decision": "revoke"}))).await;
    assert_eq!(status, 409);
    let (_, page) = call(&s, "GET", &sv_token, &format!("/api/v1/access-reviews/{cid}"), None).await;
    assert!(page["campaign"]["finished_at"].is_i64(), "{page}");
    let decided =
        page["entries"].as_array().unwrap().iter().find(|e| e["decision"] == "revoke").unwrap().clone();
    assert_eq!(decided["decided_by"], "佐藤 SV", "who decided");
    assert!(decided["decided_at"].as_i64().is_some_and(|t| t >= before.0), "when");

    // The export: CSV with a BOM, who decided what and when; audited. Not for supervisors.
    let api = reqwest::Client::new();
    let r = api
        .get(s.url(&format!("/api/v1/access-reviews/{cid}/export")))
        .bearer_auth(&sv_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let auditor = s.user("audit.a", &[Role::Auditor]).await;
    let auditor_token =
        s.token(auditor.clone(), &[Permission::AccessReviewsRead, Permission::IsmsRead]).await;
    let r = api
        .get(s.url(&format!("/api/v1/access-reviews/{cid}/export")))
        .bearer_auth(&auditor_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "a BOM for Excel");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.contains("revoke") && text.contains("佐藤 SV") && text.contains("通販A社"), "{text}");
    assert!(text.contains("異動で担当外"), "{text}");
    let exports = s.audit("access_review.export").await;
    assert_eq!(exports.iter().filter(|e| e.outcome == Outcome::Success).count(), 1);
    assert!(exports.iter().all(|e| e.outcome == Outcome::Success), "the supervisor was refused at the route");
    // Auditors read, never decide.
    let (status, _) =
        call(&s, "POST", &auditor_token, &decide(&b_entry), Some(json!({"decision": "approve"}))).await;
    assert_eq!(status, 403);
}
both_backends!(a_revoked_client_is_gone_at_once);

/// A campaign past its due date hands its open entries to the security admins; the schedule
/// starts a campaign over everyone once per period; the dormant-account policy disables
/// accounts without a sign-in (actor `system`), never a security admin.
async fn the_sweep_escalates_schedules_and_disables(backend: Backend) {
    let s = TestServer::start(backend).await;
    two_teams(&s).await;
    let admin = person(&s, "admin").await;
    let ctx = Default::default();
    // Off by default: a sweep starts nothing.
    let report = s.core.isms.sweep_access_reviews().await.unwrap();
    assert_eq!(report.started, None);
    let input = mamori_domain::isms::access_review::CampaignInput { title: " ".into(), due_days: None };
    assert!(s.core.isms.start_access_review(&admin, input, &ctx).await.is_err(), "a title is required");
    let input = mamori_domain::isms::access_review::CampaignInput {
        title: "2026年度 第3四半期".into(),
        due_days: Some(7),
    };
    let (id, entries) = s.core.isms.start_access_review(&admin, input, &ctx).await.unwrap();
    assert!(entries >= 4, "everyone's roles: {entries}");
    let settings = mamori_domain::isms::access_review::ReviewSettings {
        every_months: 3,
        due_days: 14,
        disable_dormant_days: 30,
    };
    let bad = mamori_domain::isms::access_review::ReviewSettings { disable_dormant_days: 5, ..settings };
    assert!(s.core.isms.set_access_review_settings(&admin, bad, &ctx).await.is_err());
    s.core.isms.set_access_review_settings(&admin, settings, &ctx).await.unwrap();
    s.clock.advance(Duration::from_secs(8 * 86_400));
    let report = s.core.isms.sweep_access_reviews().await.unwrap();
    assert!(report.started.is_some(), "the quarter's campaign");
    assert!(report.escalated >= 1);
    let escalated = s.audit("access_review.escalate").await;
    assert!(escalated.iter().any(|e| e.object.as_deref() == Some(&format!("access_review:{id}"))));
    assert!(escalated.iter().all(|e| e.actor == "system"));
    // Now the security admins' page holds those entries.
    let page = s
        .core
        .isms
        .access_review_page(&admin, &id, mamori_core::isms::access_reviews::Whose::Mine, true, 0, &ctx)
        .await
        .unwrap();
    assert!(page.total >= 4, "{}", page.total);
    assert!(page.entries.iter().all(|e| e.reviewers.is_none() && e.escalated_at.is_some()));
    let again = s.core.isms.sweep_access_reviews().await.unwrap();
    assert_eq!(again.started, None, "once per period");
    // Nobody signed in for 30 days: dormant accounts disabled, but never the security admin.
    s.clock.advance(Duration::from_secs(31 * 86_400));
    s.core.isms.sweep_access_reviews().await.unwrap();
    let disabled = s.audit("user.disable").await;
    assert!(disabled.iter().any(|e| e.actor == "system" && e.details.contains_key("dormant_days")));
    let read = s.core.store().read().await.unwrap();
    drop(read);
    let me = person(&s, "admin").await;
    assert_eq!(me.user.status, mamori_domain::identity::UserStatus::Active);
    let op = person(&s, "op.a").await;
    assert_eq!(op.user.status, mamori_domain::identity::UserStatus::Disabled);
}
both_backends!(the_sweep_escalates_schedules_and_disables);

/// A revoked PC is revoked in the ledger and a revoked last role disables the account, each in
/// the decision's transaction; nobody decides their own access; auditors read everything.
async fn revoking_a_pc_and_a_role(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (op_a, _) = two_teams(&s).await;
    let ctx = Default::default();
    let admin = person(&s, "admin").await;
    let now = s.core.now();
    let device = mamori_store::DeviceRecord {
        id: uuid::Uuid::new_v4().to_string(),
        public_key: "test-key".into(),
        hostname: "PC-A".into(),
        site_id: None,
        user_id: Some(op_a.id.clone()),
        enrolled_at: now,
        revoked_at: None,
        last_seen_at: None,
        last_ip: None,
    };
    let mut tx = s.core.store().begin().await.unwrap();
    tx.insert_device(&device).await.unwrap();
    tx.commit().await.unwrap();
    let input = mamori_domain::isms::access_review::CampaignInput { title: "全員".into(), due_days: None };
    let (id, _) = s.core.isms.start_access_review(&admin, input, &ctx).await.unwrap();
    let all = s.core.store().read().await.unwrap().access_review_entries(&id).await.unwrap();
    let pc = all.iter().find(|e| e.kind == "device").unwrap();
    assert_eq!(pc.item_name, "PC-A");
    let role = all.iter().find(|e| e.kind == "role" && e.user_id == op_a.id).unwrap();
    let own = all.iter().find(|e| e.user_id == admin.user.id).unwrap();
    use mamori_domain::isms::access_review::{Decision, DecisionInput};
    let revoke = || DecisionInput { decision: Decision::Revoke, reason: String::new() };
    let refused = s.core.isms.decide_access_review(&admin, &own.id, revoke(), &ctx).await;
    assert!(matches!(refused, Err(mamori_core::CoreError::Forbidden(_))), "{refused:?}");
    let auditor = s.principal_of(s.user("audit.b", &[Role::Auditor]).await);
    let page = s
        .core
        .isms
        .access_review_page(&auditor, &id, mamori_core::isms::access_reviews::Whose::All, false, 0, &ctx)
        .await
        .unwrap();
    assert!(!page.can_decide && page.total as usize == all.len(), "auditors read everything");
    assert!(s.core.isms.decide_access_review(&auditor, &pc.id, revoke(), &ctx).await.is_err());
    s.core.isms.decide_access_review(&admin, &pc.id, revoke(), &ctx).await.unwrap();
    let stored = s.core.store().read().await.unwrap().device(&device.id).await.unwrap().unwrap();
    assert!(stored.revoked_at.is_some(), "the PC is revoked in the ledger");
    assert_eq!(s.audit("device.revoke").await.len(), 1);
    s.core.isms.decide_access_review(&admin, &role.id, revoke(), &ctx).await.unwrap();
    let op = person(&s, "op.a").await;
    assert!(op.user.roles.is_empty());
    assert_eq!(op.user.status, mamori_domain::identity::UserStatus::Disabled, "no role left: disabled");
}
both_backends!(revoking_a_pc_and_a_role);
