//! The operator workspace in the console (issue 4, item 4): the active call's caller found with
//! one click, a lookup with a reason, a reveal, a note; and the security admin's field-policy
//! page. Pages are read as a browser gets them (cookies, CSRF tokens, redirects).

use crate::both_backends;
use crate::support::{Backend, TestServer};
use mamori_domain::Role;
use mamori_store::OrgKind;

async fn operator_workspace(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin_user = s.user("admin", &[Role::SecurityAdmin]).await;
    let admin = s.principal_of(&admin_user);
    let ctx = Default::default();
    let a = s.core.identity.create_org_unit(&admin, OrgKind::Client, "Client A", None, &ctx).await.unwrap();
    let fields =
        [("name_kanji", "山田太郎"), ("phones", "03-1234-5678"), ("card_number", "4111111111111111")];
    let new = mamori_core::vault::NewCustomer {
        client_id: a.id.clone(),
        fields: fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
    };
    let id = s.core.vault.create_customer(&admin, &new, &ctx).await.unwrap();
    let op = s.user("op.a", &[Role::Operator]).await;
    s.core.identity.set_user_clients(&admin, &op.id, std::slice::from_ref(&a.id), &ctx).await.unwrap();
    s.core
        .vault
        .call_started(mamori_audit::Actor::System, "pbx-42", "op.a", "0312345678", &ctx)
        .await
        .unwrap();

    let b = s.signed_in("op.a").await;
    let html = b.get("/workspace").await.text().await.unwrap();
    assert!(html.contains("対応中の通話"), "Japanese by default");
    // The call is listed by its caller's number, masked like a card's phone (issue 14, item 8).
    assert!(html.contains("***-****-5678") && !html.contains("0312345678"), "{html}");
    assert!(!html.contains("<code>pbx-42</code>"), "the call id is not what the operator reads");
    let stored = s.core.store().read().await.unwrap().active_calls(&op.id).await.unwrap();
    assert_eq!(stored[0].caller_masked.as_deref(), Some("***-****-5678"), "only the masked form is kept");
    let csrf = b.csrf("/workspace").await;
    let r = b.post_form("/workspace/lookup", &[("_csrf", &csrf), ("call_id", "pbx-42")]).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("山田太郎") && html.contains("**** **** **** 1111"), "the caller's card, masked");
    assert!(!html.contains("4111111111111111"));

    // Another number without a reason: refused with the reason why, in Japanese.
    let r = b
        .post_form(
            "/workspace/lookup",
            &[("_csrf", &csrf), ("by", "phone"), ("value", "0399998888"), ("reason_code", "")],
        )
        .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("理由を選んでください"), "{html}");
    let r = b
        .post_form(
            "/workspace/lookup",
            &[
                ("_csrf", &csrf),
                ("by", "phone"),
                ("value", "03-1234-5678"),
                ("reason_code", "callback"),
                ("reason_text", "お約束の折り返し"),
            ],
        )
        .await;
    assert!(r.text().await.unwrap().contains("山田太郎"));

    let r = b
        .post_form(
            "/workspace/reveal",
            &[
                ("_csrf", &csrf),
                ("customer_id", &id),
                ("field", "card_number"),
                ("reason_code", "fraud_check"),
                ("reason_text", "不正利用の確認"),
            ],
        )
        .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"revealed-value\">4111111111111111<"), "{html}");
    assert_eq!(s.audit("customer.reveal").await.len(), 1);

    // A reveal from a card keeps the card (issue 14, item 8): the lookup is carried in the
    // form's body, the cards are shown again with the value in its row, the note field stays.
    let lookups_before = s.audit("customer.lookup").await.len();
    let r = b
        .post_form(
            "/workspace/reveal",
            &[
                ("_csrf", &csrf),
                ("customer_id", &id),
                ("lookup_call_id", "pbx-42"),
                ("field", "card_number"),
                ("reason_code", "fraud_check"),
                ("reason_text", "不正利用の確認"),
            ],
        )
        .await;
    assert!(!r.url().as_str().contains("4111"), "nothing in the URL");
    let html = r.text().await.unwrap();
    let card = html.split(&format!("id=\"customer-{id}\"")).nth(1).expect("the card is still there");
    assert!(card.contains("山田太郎") && card.contains("name=\"text\""), "the card and its note field");
    assert!(card.contains("<tr data-field=\"card_number\" class=\"revealed\">"), "{card}");
    assert!(card.contains("id=\"revealed-value\">4111111111111111<") && card.contains("表示中"));
    assert!(!html.contains("id=\"revealed\""), "no separate box when the card is shown");
    assert_eq!(s.audit("customer.reveal").await.len(), 2, "the reveal recorded once");
    assert_eq!(s.audit("customer.lookup").await.len(), lookups_before + 1, "the card shown again: a lookup");

    let r = b
        .post_form("/workspace/notes", &[("_csrf", &csrf), ("customer_id", &id), ("text", "折り返し済み")])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/workspace?done=note_added");
    let r = b.post_form("/workspace/notes", &[("_csrf", &csrf), ("customer_id", &id), ("text", "")]).await;
    assert!(r.text().await.unwrap().contains("role=\"alert\""), "an empty note is refused on the page");
    let r = b.post_form("/workspace/lookup", &[("call_id", "pbx-42")]).await;
    assert_eq!(r.status(), 403, "no CSRF token, no lookup");
    assert_eq!(b.get("/admin/vault-policy").await.status(), 403);

    // The security admin's field policy page.
    let admin_browser = s.signed_in("admin").await;
    let html = admin_browser.get("/admin/vault-policy").await.text().await.unwrap();
    assert!(html.contains("name=\"mask.card_number.operator\""), "{html}");
    let csrf = admin_browser.csrf("/admin/vault-policy").await;
    let policy = s.core.vault.vault_policy(&crate::support::inspector(), &Default::default()).await.unwrap();
    let mut form: Vec<(String, String)> = vec![("_csrf".into(), csrf.clone())];
    for rule in &policy.fields {
        form.push((
            format!("class.{}", rule.field.as_str()),
            serde_json::to_value(rule.class).unwrap().as_str().unwrap().into(),
        ));
        for (role, mask) in &rule.masks {
            let mut m = serde_json::to_value(mask).unwrap().as_str().unwrap().to_owned();
            if rule.field.as_str() == "name_kanji" && *role == Role::Operator {
                m = "partial".into();
            }
            form.push((format!("mask.{}.{}", rule.field.as_str(), role.as_str()), m));
        }
    }
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = admin_browser.post_form("/admin/vault-policy", &pairs).await;
    assert_eq!(r.headers()["location"], "/admin/vault-policy?done=policy_saved");
    let csrf_op = b.csrf("/workspace").await;
    let html = b
        .post_form("/workspace/lookup", &[("_csrf", &csrf_op), ("call_id", "pbx-42")])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("山**") && !html.contains("山田太郎"), "the operator now sees the name in part");
    let mut bad = pairs.clone();
    for p in bad.iter_mut() {
        if p.0 == "mask.card_number.supervisor" {
            p.1 = "full";
        }
    }
    let html = admin_browser.post_form("/admin/vault-policy", &bad).await.text().await.unwrap();
    assert!(html.contains("PCI DSS 3.4.1"), "refused, saying why");
    s.stop().await;
}
both_backends!(operator_workspace);
