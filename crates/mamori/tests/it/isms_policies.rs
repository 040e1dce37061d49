//! Policies with acknowledgements (issue 18, item 1; ISMS-2, ISMS-3, LEAK-7): a document's draft is in
//! force only once a security admin publishes it; everyone in scope acknowledges the version
//! in force; publishing a new version keeps the old acknowledgements and lists everyone who
//! must acknowledge again; bad input is refused by field with nothing written; Markdown is
//! rendered without raw HTML; with the policy option on, customer lookups wait for the pledge
//! and the refusal says why and links to it — against a running server, both databases.

use crate::approvals::{client_with_customers, person};
use crate::both_backends;
use crate::commands::two_teams;
use crate::support::{Backend, TestServer};
use mamori_core::CoreError;
use mamori_core::vault::{LookupKey, Purpose};
use mamori_domain::isms::evidence::{EvidenceKind, EvidenceStatus};
use mamori_domain::isms::policy::{DraftInput, PolicyInput, PolicyKind, PolicyScope};
use mamori_domain::{Permission, Role};
use serde_json::{Value, json};

fn pledge(body: &str) -> PolicyInput {
    PolicyInput {
        kind: PolicyKind::ConfidentialityPledge,
        title: "機密保持誓約書".into(),
        scope: PolicyScope { roles: vec![Role::Operator], ..Default::default() },
        body: body.into(),
        note: String::new(),
    }
}

const PLEDGE_V1: &str = "# 機密保持誓約書\n\n- 業務で知った顧客情報を口外しません。\n- SNS に業務のことを書き込みません。\n\n<script>alert(1)</script>\n";
const PLEDGE_V2: &str = "# 機密保持誓約書\n\n- 業務で知った顧客情報を口外しません。\n- SNS に業務のことを、写真も含めて書き込みません。\n- 違反した場合は懲戒処分の対象となります。\n";

async fn a_new_version_keeps_acknowledgements_and_asks_again(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (op_a, op_b) = two_teams(&s).await;
    let admin = person(&s, "admin").await;
    let (a, sv) = (person(&s, "op.a").await, person(&s, "sv.a").await);
    let ctx = Default::default();
    let api = reqwest::Client::new();
    let admin_token = s
        .token(admin.user.clone(), &[Permission::IsmsRead, Permission::IsmsManage, Permission::PoliciesRead])
        .await;
    let op_token = s.token(a.user.clone(), &[Permission::PoliciesRead]).await;
    let sv_token = s.token(sv.user.clone(), &[Permission::PoliciesRead]).await;

    // Bad input: refused by field, nothing written.
    for (body, field) in [
        (json!({"kind": "confidentiality_pledge", "title": " ", "body": "x"}), "title"),
        (json!({"kind": "confidentiality_pledge", "title": "t", "body": ""}), "body"),
        (
            json!({"kind": "confidentiality_pledge", "title": "t", "body": "x", "scope": {"sites": ["nowhere"]}}),
            "scope.sites",
        ),
    ] {
        let r = api
            .post(s.url("/api/v1/isms/policies"))
            .bearer_auth(&admin_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{body}");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["field"], field, "{p}");
    }
    let r = api
        .post(s.url("/api/v1/isms/policies"))
        .bearer_auth(&admin_token)
        .json(&json!({"kind": "rulebook", "title": "t", "body": "x"}))
        .send()
        .await
        .unwrap();
    assert!(r.status() == 400 || r.status() == 422, "an unknown kind: {}", r.status());
    assert!(s.core.isms.policy_overview(&admin, &ctx).await.unwrap().policies.is_empty(), "nothing written");

    // A draft is not in force: nobody owes anything, operators do not see it.
    let id = s.core.isms.create_policy(&admin, pledge(PLEDGE_V1), &ctx).await.unwrap();
    assert!(s.core.isms.my_policies(&a, &ctx).await.unwrap().is_empty());
    let r = api.get(s.url(&format!("/api/v1/policies/{id}"))).bearer_auth(&op_token).send().await.unwrap();
    assert_eq!(r.status(), 403, "a draft is not published to anyone");
    let refused = s.core.isms.acknowledge_policy(&a, &id, 1, &ctx).await;
    assert!(matches!(refused, Err(CoreError::Conflict(_))), "{refused:?}");

    // Published by the security admin (the approval): both operators owe it, the SV is out of scope.
    let r = api
        .post(s.url(&format!("/api/v1/isms/policies/{id}/publish")))
        .bearer_auth(&admin_token)
        .json(&json!({"version": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let published: Value = r.json().await.unwrap();
    assert_eq!(published["pending"], 2, "{published}");
    let r = api.get(s.url(&format!("/api/v1/policies/{id}"))).bearer_auth(&sv_token).send().await.unwrap();
    assert_eq!(r.status(), 403, "not published to supervisors");

    // The operator reads it — raw HTML shown as text — and acknowledges it over the API.
    let r = api.get(s.url(&format!("/api/v1/policies/{id}"))).bearer_auth(&op_token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    let html = doc["versions"][0]["html"].as_str().unwrap();
    assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"), "{html}");
    assert_eq!(doc["acknowledged_at"], Value::Null);
    for (body, status) in
        [(json!({"version": "one"}), 422), (json!({}), 422), (json!({"version": 1, "extra": 1}), 422)]
    {
        let r = api
            .post(s.url(&format!("/api/v1/policies/{id}/acknowledge")))
            .bearer_auth(&op_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status() == 400 || r.status() == status, "{body}: {}", r.status());
    }
    let r = api
        .post(s.url(&format!("/api/v1/policies/{id}/acknowledge")))
        .bearer_auth(&op_token)
        .json(&json!({"version": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let acks = s.audit("isms_policy.acknowledge").await;
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].details["version"], "1");
    assert_eq!(acks[0].object.as_deref(), Some(format!("isms_policy:{id}").as_str()));
    let overview = s.core.isms.policy_overview(&admin, &ctx).await.unwrap();
    let status = &overview.policies[0];
    assert_eq!((status.in_scope, status.acknowledged), (2, 1));
    assert_eq!(status.pending.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), [op_b.id.as_str()]);
    let (ev, value) = evidence(&s, &admin).await;
    assert_eq!((ev, value.as_str()), (EvidenceStatus::Fail, "1/2"));

    // A new version: the old acknowledgement stays, and everyone must acknowledge again.
    let draft = DraftInput { body: PLEDGE_V2.into(), note: "SNS の写真と懲戒処分を追記".into() };
    assert_eq!(s.core.isms.save_policy_draft(&admin, &id, draft, &ctx).await.unwrap(), 2);
    let r = api
        .get(s.url(&format!("/api/v1/policies/{id}/diff?from=1&to=2")))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let d: Value = r.json().await.unwrap();
    let lines = d["lines"].as_array().unwrap();
    assert!(
        lines.iter().any(|l| l["change"] == "added" && l["text"].as_str().unwrap().contains("懲戒処分")),
        "{d}"
    );
    assert!(
        lines.iter().any(|l| l["change"] == "removed" && l["text"].as_str().unwrap().contains("<script>")),
        "{d}"
    );
    for q in ["from=1", "from=x&to=2", "from=1&to=2&x=1"] {
        let r = api
            .get(s.url(&format!("/api/v1/policies/{id}/diff?{q}")))
            .bearer_auth(&admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{q}");
    }
    let r = api
        .get(s.url(&format!("/api/v1/policies/{id}/diff?from=1&to=9")))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    // The operator does not see the draft's text.
    let doc: Value = api
        .get(s.url(&format!("/api/v1/policies/{id}")))
        .bearer_auth(&op_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["versions"].as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(
        s.core.isms.publish_policy(&admin, &id, 2, &ctx).await.unwrap(),
        2,
        "both must acknowledge again"
    );
    assert!(matches!(s.core.isms.publish_policy(&admin, &id, 2, &ctx).await, Err(CoreError::Conflict(_))));
    let detail = s.core.isms.policy_detail(&admin, &id, &ctx).await.unwrap();
    assert!(
        detail.acknowledgements.iter().any(|k| k.version == 1 && k.user_id == op_a.id),
        "the acknowledgement of version 1 stays"
    );
    let pending: Vec<_> = detail.status.unwrap().pending.into_iter().map(|p| p.0).collect();
    assert_eq!(pending.len(), 2);
    assert!(pending.contains(&op_a.id) && pending.contains(&op_b.id));
    // Acknowledging the old version is refused by field; the new one is accepted.
    let old = s.core.isms.acknowledge_policy(&a, &id, 1, &ctx).await;
    assert!(matches!(old, Err(CoreError::Invalid { field: "version", .. })), "{old:?}");
    s.core.isms.acknowledge_policy(&a, &id, 2, &ctx).await.unwrap();
    s.core.isms.acknowledge_policy(&a, &id, 2, &ctx).await.unwrap();
    assert_eq!(s.audit("isms_policy.acknowledge").await.len(), 2, "acknowledging twice writes once");
    let mine = s.core.isms.my_policies(&a, &ctx).await.unwrap();
    assert_eq!((mine.len(), mine[0].version, mine[0].acknowledged_at.is_some()), (1, 2, true));
    // Reminding: op.b has no mail address, so nobody is mailed, and it is recorded.
    let r = api
        .post(s.url(&format!("/api/v1/isms/policies/{id}/remind")))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    let reminded: Value = r.json().await.unwrap();
    assert_eq!((reminded["pending"].as_u64(), reminded["mailed"].as_u64()), (Some(1), Some(0)), "{reminded}");
    assert_eq!(s.audit("isms_policy.remind").await.len(), 1);
    assert_eq!(s.audit("isms_policy.publish").await.len(), 2);
    // Operators cannot publish or draft.
    let r = api
        .post(s.url(&format!("/api/v1/isms/policies/{id}/publish")))
        .bearer_auth(&op_token)
        .json(&json!({"version": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}
both_backends!(a_new_version_keeps_acknowledgements_and_asks_again);

async fn evidence(s: &TestServer, who: &mamori_core::Principal) -> (EvidenceStatus, String) {
    let items = s.core.check_evidence_now(who, &Default::default()).await.unwrap();
    let item = items.into_iter().find(|i| i.kind == EvidenceKind::PolicyAcknowledgements).unwrap();
    (item.status, item.value)
}

fn off_call() -> Purpose {
    Purpose::Reason { code: "callback".into(), text: "折り返しのお約束".into() }
}

/// Done when (issue 18): with the policy option on, a new operator cannot look customers up
/// until the pledge is acknowledged; the refusal says why and links to what is missing.
async fn lookups_wait_for_the_pledge(backend: Backend) {
    let s = TestServer::start(backend).await;
    two_teams(&s).await;
    let (client, _) = client_with_customers(&s, 2).await;
    let ctx = Default::default();
    let admin = person(&s, "admin").await;
    let mut op = person(&s, "op.a").await;
    op.client_ids = vec![client];
    let look = LookupKey::Phone("03-1234-5678".into());
    let id = s.core.isms.create_policy(&admin, pledge(PLEDGE_V2), &ctx).await.unwrap();
    s.core.isms.publish_policy(&admin, &id, 1, &ctx).await.unwrap();
    // Option off: the pledge is owed but lookups go on.
    assert_eq!(s.core.vault.find_customers(&op, &look, &off_call(), &ctx).await.unwrap().len(), 1);

    let api = reqwest::Client::new();
    let admin_token = s.token(admin.user.clone(), &[Permission::IsmsManage]).await;
    let r = api
        .put(s.url("/api/v1/isms/policies/option"))
        .bearer_auth(&admin_token)
        .json(&json!({"lookups_require_pledge": "yes"}))
        .send()
        .await
        .unwrap();
    assert!(r.status() == 400 || r.status() == 422, "{}", r.status());
    let r = api
        .put(s.url("/api/v1/isms/policies/option"))
        .bearer_auth(&admin_token)
        .json(&json!({"lookups_require_pledge": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.audit("isms_policy.option").await.len(), 1);

    let refused = s.core.vault.find_customers(&op, &look, &off_call(), &ctx).await;
    assert!(
        matches!(refused, Err(CoreError::ApprovalRefused { reason: "policy_not_acknowledged", .. })),
        "{refused:?}"
    );
    let denied: Vec<_> = s
        .audit("customer.lookup")
        .await
        .into_iter()
        .filter(|e| e.outcome == mamori_audit::Outcome::Denied)
        .collect();
    assert!(denied.iter().any(|e| e.details["reason"] == "policy_not_acknowledged"
        && e.details["policy"] == format!("isms_policy:{id}")));
    // The API says what is missing and where; so does the console's workspace, in Japanese.
    let op_token = s.token(op.user.clone(), &[Permission::PoliciesRead, Permission::CustomersRead]).await;
    let mine: Value =
        api.get(s.url("/api/v1/policies")).bearer_auth(&op_token).send().await.unwrap().json().await.unwrap();
    assert_eq!(mine["lookups_need"][0]["href"], format!("/policies/{id}"), "{mine}");
    assert_eq!(mine["lookups_need"][0]["reason"], "policy_not_acknowledged");
    let b = s.signed_in("op.a").await;
    let page = b.get("/workspace").await.text().await.unwrap();
    assert!(page.contains(&format!("href=\"/policies/{id}\"")), "the workspace links the pledge");
    assert!(page.contains("機密保持誓約書"), "in Japanese");
    let doc = b.get(&format!("/policies/{id}")).await.text().await.unwrap();
    assert!(doc.contains("懲戒処分") && doc.contains("同意"), "the pledge's page in Japanese");

    // Acknowledged (through the console's form): lookups work again.
    let csrf = b.csrf(&format!("/policies/{id}")).await;
    let r = b
        .post_form(
            &format!("/policies/{id}/acknowledge"),
            &[("_csrf", &csrf), ("version", "1"), ("agree", "on")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(s.core.vault.find_customers(&op, &look, &off_call(), &ctx).await.unwrap().len(), 1);
    assert!(
        b.get("/workspace").await.text().await.unwrap().find(&format!("href=\"/policies/{id}\"")).is_none()
    );
}
both_backends!(lookups_wait_for_the_pledge);
