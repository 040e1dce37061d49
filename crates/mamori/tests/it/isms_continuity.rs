//! Business continuity (issue 18, item 6; ISMS-5): plans with contact trees and drill
//! intervals, bad input refused by field with nothing written, every version kept; a drill
//! past its date on the dashboard (and its reminder), recorded drills moving the date on;
//! every change audited; the console page in Japanese — both databases.

use crate::both_backends;
use crate::support::{Backend, TestServer, principal};
use mamori_core::isms::dashboard::ReviewOf;
use mamori_domain::{Permission, Role};
use serde_json::{Value, json};
use std::time::Duration;

async fn plans_drills_and_the_dashboard(backend: Backend) {
    let s = TestServer::start(backend).await;
    let sec = s.user("sec", &[Role::SecurityAdmin]).await;
    let admin = principal(sec.clone());
    let sv = s.user("sv.kato", &[Role::Supervisor]).await;
    let op = s.user("op.a", &[Role::Operator]).await;
    let token = s.token(sec.clone(), &[Permission::IsmsRead, Permission::IsmsManage]).await;
    let op_token = s.token(op.clone(), &[Permission::CustomersRead]).await;
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
    let plan = json!({
        "scenario": "earthquake",
        "title": "地震発生時の対応",
        "steps": "1. 身の安全を確保\n2. 点呼と安否確認\n3. 委託元へ業務停止を連絡",
        "owner_id": sec.id,
        "contacts": [
            {"name": "センター長 山田", "role": "責任者", "phone": "090-1111-2222"},
            {"user_id": sv.id, "role": "連絡係", "phone": "090-3333-4444", "called_by": 0},
        ],
        "drill_every_months": 1,
    });
    // Bad input: refused by field, nothing written.
    let with = |key: &str, value: Value| {
        let mut p = plan.clone();
        p[key] = value;
        p
    };
    for (body, field) in [
        (with("drill_every_months", json!(0)), "drill_every_months"),
        (with("title", json!(" ")), "title"),
        (with("owner_id", json!(uuid::Uuid::new_v4().to_string())), "owner_id"),
        (with("contacts", json!([{"name": "a", "role": "b", "called_by": 0}])), "contacts.called_by"),
        (with("contacts", json!([{"name": "a", "role": "b", "phone": "call me"}])), "contacts.phone"),
    ] {
        let (status, problem) = send(M::POST, "/api/v1/isms/continuity/plans", &token, Some(body)).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["field"], field, "{problem}");
    }
    let (status, _) =
        send(M::POST, "/api/v1/isms/continuity/plans", &token, Some(with("unknown", json!(1)))).await;
    assert_eq!(status, 422, "unknown fields are refused");
    let (status, _) = send(M::POST, "/api/v1/isms/continuity/plans", &op_token, Some(plan.clone())).await;
    assert_eq!(status, 403, "an operator's token");
    let (_, register) = send(M::GET, "/api/v1/isms/continuity", &token, None).await;
    assert_eq!(register["plans"].as_array().unwrap().len(), 0, "nothing written");

    let (status, created) = send(M::POST, "/api/v1/isms/continuity/plans", &token, Some(plan.clone())).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, register) = send(M::GET, "/api/v1/isms/continuity", &token, None).await;
    let p = &register["plans"][0];
    assert_eq!((p["version"].as_i64(), p["last_drill_on"].is_null()), (Some(1), true));
    assert_eq!(p["contacts"][1]["name"], "Test sv.kato", "a user is named from the register");
    assert_eq!(p["contacts"][1]["called_by"], 0);

    // A month and more later the first drill is overdue: on the dashboard (whose overdue
    // reviews are mailed by the reminder sweep, `isms::a_lapsing_certificate_is_mailed`).
    s.clock.advance(Duration::from_secs(40 * 86_400));
    let token = s.token(sec.clone(), &[Permission::IsmsRead, Permission::IsmsManage]).await;
    let dashboard = s.core.isms.dashboard(&admin, &Default::default()).await.unwrap();
    let due: Vec<_> = dashboard.reviews.iter().filter(|r| r.of == ReviewOf::Drill).collect();
    assert_eq!(due.len(), 1);
    assert!(due[0].days_left < 0 && due[0].id == id, "{due:?}");

    // A drill that did not go as planned needs what will change; one held tomorrow is refused.
    let today = mamori_domain::UnixMillis(s.core.now().0 + 9 * 3_600_000).rfc3339()[..10].to_owned();
    let drill = json!({"plan_id": id, "held_on": today, "participants": [op.id, sv.id], "result": "partly",
        "findings": "連絡網の 2 名に繋がらず"});
    let (status, problem) =
        send(M::POST, "/api/v1/isms/continuity/drills", &token, Some(drill.clone())).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("actions")));
    let mut tomorrow = drill.clone();
    tomorrow["held_on"] = json!("2999-01-01");
    tomorrow["actions"] = json!("x");
    assert_eq!(send(M::POST, "/api/v1/isms/continuity/drills", &token, Some(tomorrow)).await.0, 422);
    let mut ok = drill.clone();
    ok["actions"] = json!("連絡先を四半期ごとに確認");
    let (status, _) = send(M::POST, "/api/v1/isms/continuity/drills", &token, Some(ok)).await;
    assert_eq!(status, 201);
    let dashboard = s.core.isms.dashboard(&admin, &Default::default()).await.unwrap();
    let due: Vec<_> = dashboard.reviews.iter().filter(|r| r.of == ReviewOf::Drill).collect();
    assert!(due.iter().all(|r| r.days_left >= 0), "drilled today: next due in a month {due:?}");
    let (_, register) = send(M::GET, "/api/v1/isms/continuity", &token, None).await;
    assert_eq!(register["plans"][0]["last_drill_on"], today.as_str());
    assert_eq!(register["drills"][0]["participants"].as_array().unwrap().len(), 2);

    // A change is a new version; retiring keeps the history and leaves the register.
    let mut changed = plan.clone();
    changed["drill_every_months"] = json!(6);
    let (status, _) =
        send(M::PUT, &format!("/api/v1/isms/continuity/plans/{id}"), &token, Some(changed)).await;
    assert_eq!(status, 200);
    let mut read = s.core.store().read().await.unwrap();
    assert_eq!(read.continuity_plan_history(&id).await.unwrap().len(), 2);
    drop(read);
    let audit = s.audit("continuity.plan_change").await;
    let changes: Vec<&str> = audit.iter().map(|e| e.details["change"].as_str()).collect();
    assert!(changes.contains(&"create") && changes.contains(&"update"), "{changes:?}");
    assert_eq!(s.audit("continuity.drill").await[0].details["result"], "partly");

    // The console in Japanese: the plan, its tree, the drill; a plan typed as a phone tree.
    let b = s.signed_in("sec").await;
    let html = b.get("/isms/continuity").await.text().await.unwrap();
    for expected in [
        "地震発生時の対応",
        "緊急連絡網",
        "センター長 山田",
        "連絡元",
        "一部に課題",
        "連絡先を四半期ごとに確認",
    ] {
        assert!(html.contains(expected), "{expected}: {html}");
    }
    let csrf = b.csrf("/isms/continuity").await;
    let tree = "責任者: センター長, 090-1111-2222\n  SV: 加藤\n    A班: 佐藤\n";
    let form = [
        ("_csrf", csrf.as_str()),
        ("id", ""),
        ("scenario", "power_loss"),
        ("title", "停電時の対応"),
        ("steps", "UPS で 15 分"),
        ("owner_id", sec.id.as_str()),
        ("contacts", tree),
        ("every", "12"),
    ];
    let r = b.post_form("/isms/continuity", &form).await;
    assert_eq!(r.status(), 303);
    let mut bad = form;
    bad[6] = ("contacts", "責任者 センター長");
    let r = b.post_form("/isms/continuity", &bad).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("緊急連絡網の 1 行目"));
    let (_, register) = send(M::GET, "/api/v1/isms/continuity", &token, None).await;
    let power =
        register["plans"].as_array().unwrap().iter().find(|p| p["scenario"] == "power_loss").unwrap().clone();
    assert_eq!(power["contacts"][2]["called_by"], 1);

    let r = b.get(&format!("/isms/continuity/{id}/retire")).await;
    assert!(r.text().await.unwrap().contains("廃止しますか"));
    let r = b.post_form(&format!("/isms/continuity/{id}/retire"), &[("_csrf", csrf.as_str())]).await;
    assert_eq!(r.status(), 303);
    let (_, register) = send(M::GET, "/api/v1/isms/continuity", &token, None).await;
    assert_eq!(register["plans"].as_array().unwrap().len(), 1, "the retired plan left");
    let (status, _) =
        send(M::POST, &format!("/api/v1/isms/continuity/plans/{id}/retire"), &token, None).await;
    assert_eq!(status, 409, "retired already");
}
both_backends!(plans_drills_and_the_dashboard);
