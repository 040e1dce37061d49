//! The legal register (issue 17, item 6; ISMS-4): laws, guidelines, contracts with client
//! companies and certification rules, each change a version and an audit entry; bad input
//! refused by field; auditors read but do not write; an overdue review reaches the dashboard —
//! against a running server, both databases.

use crate::both_backends;
use crate::support::{Backend, TestServer, principal};
use mamori_domain::{Permission, Role};
use serde_json::{Value, json};

fn jst_day(s: &TestServer, days: i64) -> String {
    mamori_domain::UnixMillis(s.core.now().0 + 9 * 3_600_000 + days * 86_400_000).rfc3339()[..10].to_owned()
}

async fn legal_register_keeps_versions(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = principal(s.user("sec", &[Role::SecurityAdmin]).await);
    let auditor = s.user("kansa", &[Role::Auditor]).await;
    let ctx = Default::default();
    let client = s
        .core
        .identity
        .create_org_unit(&admin, mamori_store::OrgKind::Client, "通販A社", None, &ctx)
        .await
        .unwrap();
    let token = s.token(admin.user.clone(), &[Permission::IsmsRead, Permission::IsmsManage]).await;
    let api = reqwest::Client::new();
    let send = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let r = api.request(method, s.url(path)).bearer_auth(&token);
        let r = match body {
            Some(b) => r.json(&b),
            None => r,
        };
        async move {
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    use reqwest::Method as M;

    // The law, and the client company's outsourcing contract.
    let appi = json!({
        "kind": "law",
        "title": "個人情報の保護に関する法律",
        "reference": "第23条〜第25条",
        "obligations": "安全管理措置、従業者の監督、委託先の監督",
        "owner_id": admin.user.id,
        "review_on": jst_day(&s, -3),
    });
    let (status, created) = send(M::POST, "/api/v1/isms/legal", Some(appi.clone())).await;
    assert_eq!(status, 201, "{created}");
    let law = created["id"].as_str().unwrap().to_owned();
    let contract = json!({
        "kind": "contract",
        "title": "通販A社 業務委託契約",
        "reference": "契約番号 2024-017",
        "obligations": "再委託の事前承認、事故時の即時報告",
        "client_id": client.id,
        "review_on": jst_day(&s, 200),
    });
    let (status, created) = send(M::POST, "/api/v1/isms/legal", Some(contract)).await;
    assert_eq!(status, 201, "{created}");
    let contract = created["id"].as_str().unwrap().to_owned();

    // Names, not ids.
    let (status, list) = send(M::GET, "/api/v1/isms/legal", None).await;
    assert_eq!(status, 200);
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{list}");
    let of = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(of(&contract)["client_name"], "通販A社");
    assert_eq!(of(&law)["owner_name"], admin.user.display_name.as_str());

    // A change is a new version; the old one stays.
    let mut changed = appi.clone();
    changed["obligations"] = json!("安全管理措置、従業者の監督、委託先の監督、漏えい等の報告");
    changed["review_on"] = json!(jst_day(&s, 90));
    let (status, body) = send(M::PUT, &format!("/api/v1/isms/legal/{law}"), Some(changed)).await;
    assert_eq!((status, body["version"].as_i64()), (200, Some(2)), "{body}");
    let (status, detail) = send(M::GET, &format!("/api/v1/isms/legal/{law}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(detail["requirement"]["version"], 2);
    let history: Vec<(i64, &str)> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["version"].as_i64().unwrap(), h["obligations"].as_str().unwrap()))
        .collect();
    assert_eq!(
        history,
        [
            (2, "安全管理措置、従業者の監督、委託先の監督、漏えい等の報告"),
            (1, "安全管理措置、従業者の監督、委託先の監督")
        ]
    );
    assert_eq!(detail["history"][1]["owner_name"], admin.user.display_name.as_str());

    // Bad input is refused by field, and changes nothing.
    for (body, field) in [
        (json!({"kind": "law", "title": " ", "obligations": "x"}), "title"),
        (json!({"kind": "law", "title": "番号法", "obligations": ""}), "obligations"),
        (
            json!({"kind": "law", "title": "番号法", "obligations": "x", "review_on": "2027-02-30"}),
            "review_on",
        ),
        (json!({"kind": "law", "title": "番号法", "obligations": "x", "client_id": client.id}), "client_id"),
        (
            json!({"kind": "contract", "title": "B社 契約", "obligations": "x", "client_id": "no-such-client"}),
            "client_id",
        ),
        (
            json!({"kind": "law", "title": "番号法", "obligations": "x", "owner_id": auditor.id.clone() + "x"}),
            "owner_id",
        ),
    ] {
        let (status, problem) = send(M::POST, "/api/v1/isms/legal", Some(body)).await;
        assert_eq!((status, problem["field"].as_str()), (422, Some(field)), "{problem}");
    }
    let (status, problem) = send(
        M::POST,
        "/api/v1/isms/legal",
        Some(json!({"kind": "treaty", "title": "x", "obligations": "x"})),
    )
    .await;
    assert_eq!(status, 422, "an unknown kind: {problem}");
    let (status, _) =
        send(M::PUT, &format!("/api/v1/isms/legal/{}", uuid::Uuid::new_v4()), Some(appi.clone())).await;
    assert_eq!(status, 404);

    // The overdue review is on the dashboard until it is changed; the contract's is far off.
    let d = s.core.isms.dashboard(&admin, &ctx).await.unwrap();
    assert!(!d.reviews.iter().any(|r| r.id == law), "reviewed: no longer overdue");
    let mut overdue = appi.clone();
    overdue["review_on"] = json!(jst_day(&s, -1));
    assert_eq!(send(M::PUT, &format!("/api/v1/isms/legal/{law}"), Some(overdue)).await.0, 200);
    let (status, d) = send(M::GET, "/api/v1/isms/dashboard", None).await;
    assert_eq!(status, 200);
    let reviews: Vec<(&str, &str, i64)> = d["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["of"].as_str().unwrap(), r["name"].as_str().unwrap(), r["days_left"].as_i64().unwrap()))
        .collect();
    assert_eq!(reviews, [("legal", "個人情報の保護に関する法律", -1)]);

    // The auditor reads the register but cannot change it.
    let read_only = s.token(auditor.clone(), &[Permission::IsmsRead]).await;
    let r = api.get(s.url("/api/v1/isms/legal")).bearer_auth(&read_only).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r =
        api.get(s.url(&format!("/api/v1/isms/legal/{law}"))).bearer_auth(&read_only).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = api.post(s.url("/api/v1/isms/legal")).bearer_auth(&read_only).json(&appi).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = api
        .post(s.url(&format!("/api/v1/isms/legal/{law}/retire")))
        .bearer_auth(&read_only)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let as_auditor = s
        .core
        .isms
        .create_legal(&principal(auditor), serde_json::from_value(appi.clone()).unwrap(), &ctx)
        .await;
    assert!(matches!(as_auditor, Err(mamori_core::CoreError::Forbidden(_))), "{as_auditor:?}");

    // Retired: out of the register and the reviews, its versions kept; not retired twice.
    let (status, body) = send(M::POST, &format!("/api/v1/isms/legal/{law}/retire"), None).await;
    assert_eq!((status, body["version"].as_i64()), (200, Some(4)), "{body}");
    assert_eq!(send(M::POST, &format!("/api/v1/isms/legal/{law}/retire"), None).await.0, 404);
    assert_eq!(send(M::PUT, &format!("/api/v1/isms/legal/{law}"), Some(appi.clone())).await.0, 404);
    let (_, list) = send(M::GET, "/api/v1/isms/legal", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (_, all) = send(M::GET, "/api/v1/isms/legal?include_retired=true", None).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (_, detail) = send(M::GET, &format!("/api/v1/isms/legal/{law}"), None).await;
    assert!(detail["requirement"]["retired_at"].is_i64());
    assert_eq!(detail["history"].as_array().unwrap().len(), 4);
    let (_, d) = send(M::GET, "/api/v1/isms/dashboard", None).await;
    assert!(d["reviews"].as_array().unwrap().iter().all(|r| r["of"] != "legal"), "{d}");

    // Every change audited, by whom and what.
    let entries: Vec<_> = s
        .audit("legal.change")
        .await
        .into_iter()
        .filter(|e| e.outcome == mamori_audit::Outcome::Success)
        .collect();
    let mut changes: Vec<(String, String, String)> = entries
        .iter()
        .map(|e| (e.object.clone().unwrap(), e.details["change"].clone(), e.details["version"].clone()))
        .collect();
    changes.reverse();
    let law_object = format!("legal:{law}");
    let contract_object = format!("legal:{contract}");
    assert_eq!(
        changes,
        [
            (law_object.clone(), "create".into(), "1".into()),
            (contract_object, "create".into(), "1".into()),
            (law_object.clone(), "update".into(), "2".into()),
            (law_object.clone(), "update".into(), "3".into()),
            (law_object, "retire".into(), "4".into()),
        ]
    );
    assert!(entries.iter().all(|e| e.actor.starts_with("token:")), "the admin's API token");
    assert_eq!(entries[0].details["kind"], "law");

    // The console lists it by name, problems first, with the kind in words.
    let b = s.signed_in("sec").await;
    let page = b.get("/isms/legal?include_retired=1").await.text().await.unwrap();
    assert!(page.contains("通販A社 業務委託契約") && page.contains("個人情報の保護に関する法律"));
    let item = b.get(&format!("/isms/legal/{contract}")).await.text().await.unwrap();
    assert!(item.contains("通販A社") && item.contains("契約番号 2024-017"), "{item}");
}
both_backends!(legal_register_keeps_versions);

/// The console's form registers a requirement with its CSRF token; a refusal names the field
/// in words and keeps what was typed.
async fn legal_register_console_form(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.user("sec", &[Role::SecurityAdmin]).await;
    s.user("kansa", &[Role::Auditor]).await;
    let b = s.signed_in("sec").await;
    let csrf = b.csrf("/isms/legal").await;
    let r = b
        .post_form(
            "/isms/legal",
            &[
                ("_csrf", &csrf),
                ("kind", "guideline"),
                ("title", "個人情報保護委員会ガイドライン（通則編）"),
                ("obligations", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let text = r.text().await.unwrap();
    assert!(text.contains("個人情報保護委員会ガイドライン（通則編）"), "what was typed is kept");
    let r = b
        .post_form(
            "/isms/legal",
            &[
                ("_csrf", &csrf),
                ("kind", "guideline"),
                ("title", "個人情報保護委員会ガイドライン（通則編）"),
                ("reference", "3-4-4"),
                ("obligations", "委託先の監督"),
                ("review_on", &jst_day(&s, -10)),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("/isms/legal/") && to.ends_with("?saved=1"), "{to}");
    let page = b.get("/isms/legal").await.text().await.unwrap();
    assert!(page.contains("id=\"legal-overdue\""), "the overdue review is pointed out");

    // The auditor sees the list but no form, and a post is refused.
    let a = s.signed_in("kansa").await;
    let page = a.get("/isms/legal").await;
    assert_eq!(page.status(), 200);
    assert!(!page.text().await.unwrap().contains("id=\"legal-form\""));
    let csrf = a.csrf("/isms/legal").await;
    let r = a
        .post_form("/isms/legal", &[("_csrf", &csrf), ("kind", "law"), ("title", "x"), ("obligations", "x")])
        .await;
    assert_eq!(r.status(), 403);
}
both_backends!(legal_register_console_form);

/// The demo's legal register: APPI, the My Number Act, the PPC's guidelines, JIS Q 15001 and
/// one outsourcing contract per client company, each with an owner; one review overdue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_has_a_legal_register() {
    let s = TestServer::start(Backend::Sqlite).await;
    s.core.load_demo().await.unwrap();
    let admin = s.core.store().read().await.unwrap().user_by_username("demo-admin01").await.unwrap().unwrap();
    let admin = principal(admin);
    let ctx = Default::default();
    let register = s.core.isms.legal_register(&admin, false, &ctx).await.unwrap();
    let clients = s.core.identity.list_org(mamori_store::OrgKind::Client).await.unwrap();
    assert_eq!(register.len(), 4 + clients.len());
    assert!(register.iter().all(|r| r.owner.is_some() && r.record.review_on.is_some()));
    let contracts: Vec<&str> =
        register.iter().filter(|r| r.record.kind == "contract").filter_map(|r| r.client.as_deref()).collect();
    assert_eq!(contracts.len(), clients.len(), "one contract per client company, named");
    for kind in ["law", "guideline", "certification_rule"] {
        assert!(register.iter().any(|r| r.record.kind == kind), "{kind}");
    }
    let d = s.core.isms.dashboard(&admin, &ctx).await.unwrap();
    let overdue: Vec<&str> = d
        .reviews
        .iter()
        .filter(|r| r.of == mamori_core::isms::dashboard::ReviewOf::Legal && r.days_left < 0)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(overdue.len(), 1, "{overdue:?}");
    assert!(overdue[0].contains("番号法"), "{overdue:?}");
}
