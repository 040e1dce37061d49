//! Internal audits (issue 18, item 5; ISMS-7): an audit planned against SoA controls and
//! reported; a nonconformity through its CAPA — root cause and action, done, an effectiveness
//! check refused to the action's owner and made by someone else, not effective sending it back;
//! an observation acknowledged; an overdue action on the dashboard; steps out of order refused
//! (409) and bad input refused by field with nothing written; every step audited; the console
//! page in Japanese — both databases.

use crate::both_backends;
use crate::support::{Backend, TestServer, principal};
use mamori_core::isms::dashboard::ReviewOf;
use mamori_domain::isms::evidence::{EvidenceKind, EvidenceStatus};
use mamori_domain::{Permission, Role};
use serde_json::{Value, json};
use std::time::Duration;

async fn findings_are_tracked_to_closure(backend: Backend) {
    let s = TestServer::start(backend).await;
    let sec = s.user("sec", &[Role::SecurityAdmin]).await;
    let sec2 = s.user("sec2", &[Role::SecurityAdmin]).await;
    let admin = principal(sec.clone());
    let token = s.token(sec.clone(), &[Permission::IsmsRead, Permission::IsmsManage]).await;
    let api = reqwest::Client::new();
    let send = |method: reqwest::Method, path: &str, token: &str, body: Option<Value>| {
        let r = api.request(method, s.url(path)).bearer_auth(token);
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
    let controls = s.core.store().read().await.unwrap().catalog_controls(None).await.unwrap();
    let a515 = controls.iter().find(|c| c.ref_id == "A.5.15").expect("Annex A ships").urn.clone();
    let a77 = controls.iter().find(|c| c.ref_id == "A.7.7").unwrap().urn.clone();
    let day = |days: i64| {
        mamori_domain::UnixMillis(s.core.now().0 + 9 * 3_600_000 + days * 86_400_000).rfc3339()[..10]
            .to_owned()
    };
    let audit = json!({"title": "2026年度 内部監査（東京）", "scope": "東京センター 全チーム",
        "controls": [a515, a77], "auditor_id": sec2.id, "planned_on": day(0)});
    for (key, value, field) in [
        ("controls", json!(["urn:nope"]), "controls"),
        ("planned_on", json!("来週"), "planned_on"),
        ("auditor_id", json!("someone"), "auditor_id"),
        ("title", json!(""), "title"),
    ] {
        let mut bad = audit.clone();
        bad[key] = value;
        let (status, problem) = send(M::POST, "/api/v1/isms/audits", &token, Some(bad)).await;
        assert_eq!((status, problem["field"].as_str()), (422, Some(field)), "{problem}");
    }
    let (_, register) = send(M::GET, "/api/v1/isms/audits", &token, None).await;
    assert!(register["audits"].as_array().unwrap().is_empty(), "nothing written");
    let (status, created) = send(M::POST, "/api/v1/isms/audits", &token, Some(audit)).await;
    assert_eq!(status, 201);
    let audit_id = created["id"].as_str().unwrap().to_owned();

    // Two findings: a nonconformity about A.7.7 and an observation.
    let nc = json!({"kind": "minor_nonconformity", "control": a77, "description": "退席時に画面ロックされていない席が 3 席"});
    let (status, created) =
        send(M::POST, &format!("/api/v1/isms/audits/{audit_id}/findings"), &token, Some(nc)).await;
    assert_eq!(status, 201);
    let nc_id = created["id"].as_str().unwrap().to_owned();
    let obs = json!({"kind": "observation", "description": "ロッカーの鍵の管理台帳が手書き"});
    let (_, created) =
        send(M::POST, &format!("/api/v1/isms/audits/{audit_id}/findings"), &token, Some(obs)).await;
    let obs_id = created["id"].as_str().unwrap().to_owned();
    let step = |id: &str, body: Value, token: &str| {
        let path = format!("/api/v1/isms/findings/{id}/steps");
        let token = token.to_owned();
        let send = &send;
        async move { send(M::POST, &path, &token, Some(body)).await }
    };

    // Out of order: 409; a nonconformity is not acknowledged; an observation gets no action.
    assert_eq!(step(&nc_id, json!({"step": "implemented", "note": "x"}), &token).await.0, 409);
    assert_eq!(step(&nc_id, json!({"step": "acknowledge", "note": ""}), &token).await.0, 409);
    let plan = json!({"step": "plan", "root_cause": "自動ロックの設定が 15 分のまま", "corrective_action": "自動ロックを 5 分に変更し周知",
        "owner_id": sec.id, "due_on": day(14)});
    assert_eq!(step(&obs_id, plan.clone(), &token).await.0, 409);
    let mut past = plan.clone();
    past["due_on"] = json!(day(-1));
    let (status, problem) = step(&nc_id, past, &token).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("due_on")));
    assert_eq!(step(&nc_id, plan, &token).await.0, 204);
    assert_eq!(step(&obs_id, json!({"step": "acknowledge", "note": "次年度に電子化"}), &token).await.0, 204);

    // Past its due date: overdue on the dashboard.
    s.clock.advance(Duration::from_secs(20 * 86_400));
    let token = s.token(sec.clone(), &[Permission::IsmsRead, Permission::IsmsManage]).await;
    // A second security admin checks the actions' effect (tokens made after the clock moved).
    let token2 = s.token(sec2.clone(), &[Permission::IsmsRead, Permission::IsmsManage]).await;
    let dashboard = s.core.isms.dashboard(&admin, &Default::default()).await.unwrap();
    let due: Vec<_> = dashboard.reviews.iter().filter(|r| r.of == ReviewOf::Finding).collect();
    assert_eq!(due.len(), 1, "{due:?}");
    assert!(due[0].days_left < 0 && due[0].id == nc_id);
    // The live evidence of A.5.35/A.5.36 fails while a corrective action is overdue.
    let evidence = |s: &TestServer| {
        let admin = admin.clone();
        let s = s.core.clone();
        async move {
            let items = s.check_evidence_now(&admin, &Default::default()).await.unwrap();
            let item = items.into_iter().find(|i| i.kind == EvidenceKind::OpenFindings).unwrap();
            (item.status, item.value)
        }
    };
    assert_eq!(evidence(&s).await, (EvidenceStatus::Fail, "1/1".to_owned()));
    // The dashboard's people controls show it among the part-2 measurements.
    let dashboard = s.core.isms.dashboard(&admin, &Default::default()).await.unwrap();
    let people: Vec<EvidenceKind> = dashboard.people.iter().map(|e| e.kind).collect();
    assert!(people.contains(&EvidenceKind::OpenFindings), "{people:?}");

    // Done; the owner cannot check their own action; someone else finds it not effective (back
    // to a new action), then effective (closed).
    assert_eq!(step(&nc_id, json!({"step": "implemented", "note": "設定を変更"}), &token).await.0, 204);
    assert_eq!(
        step(&nc_id, json!({"step": "verify", "effective": true, "note": "巡回で確認"}), &token).await.0,
        409
    );
    assert_eq!(
        step(&nc_id, json!({"step": "verify", "effective": false, "note": "2 席で未設定"}), &token2).await.0,
        204
    );
    let replan = json!({"step": "plan", "root_cause": "設定の配布が一部の PC に届いていない", "corrective_action": "端末ルールで強制",
        "owner_id": sec.id, "due_on": day(27)});
    assert_eq!(step(&nc_id, replan, &token).await.0, 204);
    assert_eq!(step(&nc_id, json!({"step": "implemented", "note": "端末ルールに追加"}), &token).await.0, 204);
    assert_eq!(
        step(&nc_id, json!({"step": "verify", "effective": true, "note": "全席で確認"}), &token2).await.0,
        204
    );
    let (_, register) = send(M::GET, "/api/v1/isms/audits", &token, None).await;
    let finding =
        register["findings"].as_array().unwrap().iter().find(|f| f["id"] == nc_id.as_str()).unwrap().clone();
    assert_eq!(finding["state"], "closed");
    let steps: Vec<&str> =
        finding["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(
        steps,
        ["raise", "plan", "implemented", "verify_not_effective", "plan", "implemented", "verify_effective"]
    );
    assert_eq!(register["audits"][0]["findings_open"], 0);
    assert_eq!(evidence(&s).await, (EvidenceStatus::Pass, "0/0".to_owned()), "closed after its check");
    let audited = s.audit("internal_audit.finding").await;
    assert_eq!(audited.len(), 9, "every step an entry");

    // The report; the console in Japanese.
    let report = json!({"held_on": day(0), "report": "指摘 2 件。画面ロックの不適合は是正済み。"});
    assert_eq!(
        send(M::POST, &format!("/api/v1/isms/audits/{audit_id}/report"), &token, Some(report)).await.0,
        204
    );
    let b = s.signed_in("sec").await;
    let html = b.get("/isms/audits").await.text().await.unwrap();
    for expected in [
        "内部監査",
        "軽微な不適合",
        "完了",
        "有効性を確認: 有効でない",
        "2026年度 内部監査（東京）",
        "監査報告",
    ] {
        assert!(html.contains(expected), "{expected}: {html}");
    }
    let html = b.get("/isms").await.text().await.unwrap();
    assert!(html.contains("人的対策") && html.contains("内部監査の指摘事項"), "{html}");
    let csrf = b.csrf("/isms/audits").await;
    let r = b
        .post_form(
            &format!("/isms/audits/{audit_id}/findings"),
            &[
                ("_csrf", csrf.as_str()),
                ("kind", "major_nonconformity"),
                ("control", ""),
                ("description", "入退室記録の欠落"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = b
        .post_form(
            &format!("/isms/audits/{audit_id}/findings"),
            &[("_csrf", csrf.as_str()), ("kind", "x"), ("description", "y")],
        )
        .await;
    assert_eq!(r.status(), 422);
}
both_backends!(findings_are_tracked_to_closure);
