//! Checks (issue 18, item 4; ISMS-7, LEAK-2, LEAK-4): checklists made by a security admin (not
//! an operator), runs refused by field with nothing written (an item missing, a photo too large
//! or not an image), a failed item opening a follow-up that the team's supervisor resolves, a
//! photo stored sealed and opened only by those who may, a missed period on the dashboard and
//! in the live evidence `overdue_checks`, every step audited; the pages in Japanese — both
//! databases.

use crate::both_backends;
use crate::commands::two_teams;
use crate::support::{Backend, TestServer};
use base64::Engine;
use mamori_core::isms::dashboard::ReviewOf;
use mamori_domain::isms::evidence::{EvidenceKind, EvidenceStatus};
use mamori_domain::{Permission, Role};
use serde_json::{Value, json};
use std::time::Duration;

async fn overdue_evidence(s: &TestServer, who: &mamori_core::Principal) -> (EvidenceStatus, String) {
    let items = s.core.check_evidence_now(who, &Default::default()).await.unwrap();
    let item = items.into_iter().find(|i| i.kind == EvidenceKind::OverdueChecks).unwrap();
    (item.status, item.value)
}

async fn checks_follow_ups_photos_and_overdue(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (op_a, op_b) = two_teams(&s).await;
    let mut read = s.core.store().read().await.unwrap();
    let admin_user = read.user_by_username("admin").await.unwrap().unwrap();
    let sv = read.user_by_username("sv.a").await.unwrap().unwrap();
    drop(read);
    let admin = s.principal_of(admin_user.clone());
    let auditor = s.principal_of(s.user("auditor", &[Role::Auditor, Role::SecurityAdmin]).await);
    let token = s.token(admin_user.clone(), &[Permission::IsmsRead, Permission::IsmsManage]).await;
    let op_token = s.token(op_a.clone(), &[Permission::ChecksDo]).await;
    let other_token = s.token(op_b.clone(), &[Permission::ChecksDo]).await;
    let sv_token = s.token(sv.clone(), &[Permission::ChecksDo]).await;
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
    let list = json!({
        "title": "自席の点検",
        "items": ["机の上に顧客情報の紙がない", "私物のスマートフォンはロッカー", "離席時の画面ロック", "USBメモリを差していない"],
        "performer": "self",
        "frequency": "daily",
    });
    // An operator cannot manage checklists; bad input is refused by field.
    let (status, _) = send(M::POST, "/api/v1/isms/checks/checklists", &op_token, Some(list.clone())).await;
    assert_eq!(status, 403, "an operator");
    let mut empty = list.clone();
    empty["items"] = json!([" "]);
    let (status, problem) = send(M::POST, "/api/v1/isms/checks/checklists", &token, Some(empty)).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("items")), "{problem}");
    let (status, created) = send(M::POST, "/api/v1/isms/checks/checklists", &token, Some(list.clone())).await;
    assert_eq!(status, 201, "{created}");
    let list_id = created["id"].as_str().unwrap().to_owned();
    let floor = json!({"title": "フロア点検", "items": ["帳票・媒体が所定の場所に施錠保管"],
        "performer": "supervisor", "frequency": "weekly"});
    let (status, _) = send(M::POST, "/api/v1/isms/checks/checklists", &token, Some(floor)).await;
    assert_eq!(status, 201);

    // What each owes: the operator their seat, the supervisor the floor (one team has one).
    let (_, mine) = send(M::GET, "/api/v1/checks", &op_token, None).await;
    let titles: Vec<&str> = mine["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["checklist"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["自席の点検"]);
    let (_, theirs) = send(M::GET, "/api/v1/checks", &sv_token, None).await;
    let titles: Vec<&str> = theirs["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["checklist"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["フロア点検"]);
    assert_eq!(theirs["supervisor"], true);
    let (_, overview) = send(M::GET, "/api/v1/isms/checks", &token, None).await;
    let floor_line =
        overview["checklists"].as_array().unwrap().iter().find(|c| c["title"] == "フロア点検").unwrap();
    assert_eq!(floor_line["owed"], 1, "one team has a supervisor");

    // Bad runs: nothing written.
    let png: Vec<u8> = [&b"\x89PNG\r\n\x1a\n"[..], &[7u8; 600]].concat();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let answers = json!([
        {"item": 0, "result": "not_ok", "note": "申込書が 1 枚出ていた"},
        {"item": 1, "result": "ok"},
        {"item": 2, "result": "ok"},
        {"item": 3, "result": "na"},
    ]);
    let run = |answers: Value, photos: Value| json!({"checklist_id": list_id, "answers": answers, "photos": photos});
    let missing =
        json!([{"item": 0, "result": "ok"}, {"item": 1, "result": "ok"}, {"item": 2, "result": "ok"}]);
    let too_large: Vec<u8> = [&b"\xff\xd8\xff\xe0"[..], &vec![0u8; 6 * 1024 * 1024]].concat();
    for (body, field) in [
        (run(missing, json!([])), "answers"),
        (run(answers.clone(), json!([{"data": b64(&too_large)}])), "photos"),
        (run(answers.clone(), json!([{"data": b64(b"<svg onload=alert(1)>")}])), "photos"),
        (run(answers.clone(), json!([{"data": b64(&png), "media_type": "image/jpeg"}])), "photos"),
        (run(answers.clone(), json!([{"data": "not base64!"}])), "photos"),
    ] {
        let (status, problem) = send(M::POST, "/api/v1/checks/runs", &op_token, Some(body)).await;
        assert_eq!((status, problem["field"].as_str()), (422, Some(field)), "{problem}");
    }
    let (_, overview) = send(M::GET, "/api/v1/isms/checks", &token, None).await;
    assert_eq!(overview["runs"].as_array().unwrap().len(), 0, "nothing written");
    assert_eq!(overview["follow_ups"].as_array().unwrap().len(), 0, "nothing written");
    // The floor check is not an operator's to do.
    let floor_id = floor_line["id"].as_str().unwrap();
    let (status, _) = send(
        M::POST,
        "/api/v1/checks/runs",
        &op_token,
        Some(json!({"checklist_id": floor_id, "answers": [{"item": 0, "result": "ok"}]})),
    )
    .await;
    assert_eq!(status, 403);

    // A run with a failed item and a photo: a follow-up for the team's supervisor.
    let (status, created) = send(
        M::POST,
        "/api/v1/checks/runs",
        &op_token,
        Some(run(answers.clone(), json!([{"item": 0, "data": b64(&png), "media_type": "image/png"}]))),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (_, mine) = send(M::GET, "/api/v1/checks", &op_token, None).await;
    assert!(mine["checks"][0]["done_run_id"].is_string(), "done this period: {mine}");
    let photo_id = mine["runs"][0]["photos"][0]["id"].as_str().unwrap().to_owned();
    let (_, theirs) = send(M::GET, "/api/v1/checks", &sv_token, None).await;
    let follow_up = theirs["follow_ups"][0].clone();
    assert_eq!(follow_up["item_text"], "机の上に顧客情報の紙がない");
    assert_eq!(follow_up["note"], "申込書が 1 枚出ていた");
    let follow_up_id = follow_up["id"].as_str().unwrap().to_owned();

    // The photo is stored sealed; the person, their supervisor and auditors open it, nobody else.
    let mut read = s.core.store().read().await.unwrap();
    let (record, sealed) = read.check_photo(&photo_id).await.unwrap().unwrap();
    drop(read);
    assert_eq!(record.media_type, "image/png");
    assert!(
        sealed.content != png && !sealed.content.windows(16).any(|w| w == &png[..16]),
        "not the plain image"
    );
    for who in [&op_token, &sv_token] {
        let r = api
            .get(s.url(&format!("/api/v1/checks/photos/{photo_id}")))
            .bearer_auth(who)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "image/png");
        assert_eq!(r.bytes().await.unwrap().to_vec(), png, "round trip");
    }
    let r = api
        .get(s.url(&format!("/api/v1/checks/photos/{photo_id}")))
        .bearer_auth(&other_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "another team's operator");
    let (_, bytes) = s.core.isms.check_photo(&auditor, &photo_id, &Default::default()).await.unwrap();
    assert_eq!(bytes, png);
    // A key rotation re-wraps the photo's data key: it still opens once the old key is destroyed.
    s.core.vault.rotate_vault_keys(100, &mut |_, _| {}).await.unwrap();
    assert!(!s.core.vault.retire_vault_keys().await.unwrap().is_empty());
    let (_, bytes) = s.core.isms.check_photo(&auditor, &photo_id, &Default::default()).await.unwrap();
    assert_eq!(bytes, png, "after a rotation");

    // Resolved by the supervisor (not by another team's operator), once.
    let path = format!("/api/v1/checks/follow-ups/{follow_up_id}/resolve");
    let (status, _) = send(M::POST, &path, &other_token, Some(json!({"note": "x"}))).await;
    assert_eq!(status, 403);
    let (status, problem) = send(M::POST, &path, &sv_token, Some(json!({"note": " "}))).await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("note")));
    let (status, _) =
        send(M::POST, &path, &sv_token, Some(json!({"note": "本人と確認し、書類を施錠保管した"}))).await;
    assert_eq!(status, 204);
    let (status, _) = send(M::POST, &path, &sv_token, Some(json!({"note": "again"}))).await;
    assert_eq!(status, 409);
    let (_, overview) = send(M::GET, "/api/v1/isms/checks", &token, None).await;
    assert_eq!(overview["follow_ups"][0]["resolution"], "本人と確認し、書類を施錠保管した");
    assert_eq!(overview["follow_ups"][0]["resolved_by_name"], "佐藤 SV");

    // Nothing is overdue on the first day; two days later both operators missed yesterday.
    assert_eq!(overdue_evidence(&s, &auditor).await.0, EvidenceStatus::Pass);
    s.clock.advance(Duration::from_secs(2 * 86_400));
    let dashboard = s.core.isms.dashboard(&admin, &Default::default()).await.unwrap();
    let due: Vec<_> = dashboard.reviews.iter().filter(|r| r.of == ReviewOf::Check).collect();
    assert!(due.iter().any(|r| r.id == list_id && r.days_left < 0 && r.name.contains("(2)")), "{due:?}");
    assert_eq!(
        overdue_evidence(&s, &auditor).await,
        (EvidenceStatus::Warn, "2".into()),
        "two seats (the weekly floor check was made this week: last week is not owed)"
    );
    let token = s.token(admin_user.clone(), &[Permission::IsmsRead, Permission::IsmsManage]).await;
    let (_, overview) = send(M::GET, "/api/v1/isms/checks", &token, None).await;
    let who: Vec<&str> =
        overview["overdue"].as_array().unwrap().iter().map(|o| o["who"].as_str().unwrap()).collect();
    assert!(who.contains(&"山田 花子") && who.contains(&"鈴木 一郎"), "{who:?}");
    // Doing today's check clears the operator.
    let op_token = s.token(op_a.clone(), &[Permission::ChecksDo]).await;
    let all_ok = json!([{"item": 0, "result": "ok"}, {"item": 1, "result": "ok"}, {"item": 2, "result": "ok"}, {"item": 3, "result": "ok"}]);
    let (status, _) = send(M::POST, "/api/v1/checks/runs", &op_token, Some(run(all_ok, json!([])))).await;
    assert_eq!(status, 201);
    assert_eq!(overdue_evidence(&s, &auditor).await.1, "1");

    // Every step audited.
    assert_eq!(s.audit("checks.checklist").await.len(), 2);
    let runs = s.audit("checks.run").await;
    assert!(runs.iter().any(|e| e.details["failed"] == "1" && e.details["photos"] == "1"), "{runs:?}");
    assert_eq!(s.audit("checks.follow_up").await[0].details["item"], "1");
    assert!(!s.audit("checks.read").await.is_empty(), "photos opened, refusals");

    // The pages in Japanese: the operator's checks and the overview.
    let b = s.signed_in("op.b").await;
    let html = b.get("/checks").await.text().await.unwrap();
    assert!(html.contains("自席の点検") && html.contains("期限切れ"), "{html}");
    let html = b.get(&format!("/checks/{list_id}")).await.text().await.unwrap();
    assert!(html.contains("私物のスマートフォンはロッカー") && html.contains("不備"), "{html}");
    let csrf = b.csrf("/checks").await;
    let boundary = "mamori-check-boundary";
    let mut body = String::new();
    let mut part = |name: &str, value: &str| {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    };
    part("_csrf", &csrf);
    for i in 0..4 {
        part(&format!("item_{i}"), "1");
        part(&format!("result_{i}"), "ok");
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let r = b
        .client
        .post(s.url(&format!("/checks/{list_id}")))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let admin_b = s.signed_in("admin").await;
    let html = admin_b.get("/isms/checks").await.text().await.unwrap();
    assert!(html.contains("期限を過ぎた点検") && html.contains("フロア点検"), "{html}");
}
both_backends!(checks_follow_ups_photos_and_overdue);
