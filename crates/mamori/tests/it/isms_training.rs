//! Training (issue 18, item 2; ISMS-8, TW-13): a course's quiz comes in a new order, without the
//! right answers, and is graded on the server; attempts are permanent rows; a pass has a PDF
//! certificate; images are checked and served with a safe type; bad input is refused by field
//! with nothing written; onboarding is assigned at invitation, a course after an incident to
//! the people involved, an annual course by the sweep; overdue people are listed; and, with the
//! policy option on, customer lookups wait for onboarding and the pledge, the refusal naming
//! both and linking to them (the first "done when") — against a running server, both
//! databases.

use crate::approvals::{client_with_customers, person};
use crate::both_backends;
use crate::commands::two_teams;
use crate::support::{Backend, TestServer};
use mamori_core::CoreError;
use mamori_core::vault::{LookupKey, Purpose};
use mamori_domain::isms::evidence::{EvidenceKind, EvidenceStatus};
use mamori_domain::isms::policy::{PolicyInput, PolicyKind, PolicyScope};
use mamori_domain::isms::training::{AssignInput, CourseInput, CourseKind, Question};
use mamori_domain::{Permission, Role};

use serde_json::{Value, json};
use std::time::Duration;

fn question(n: usize) -> Question {
    Question {
        text: format!("質問{n}: 離席するときは？"),
        choices: vec!["そのまま".into(), "画面をロックする".into(), "隣の人に頼む".into()],
        answer: 1,
    }
}

fn course(kind: CourseKind, questions: usize) -> CourseInput {
    CourseInput {
        kind,
        title: "入社時研修".into(),
        title_en: "Onboarding".into(),
        summary: String::new(),
        summary_en: String::new(),
        body: "# 職場のルール\n\n<script>alert(1)</script>\n\n![机](https://evil.example/x.png)\n".into(),
        pass_mark: 80,
        roles: vec![Role::Operator],
        due_days: 14,
        questions: (0..questions).map(question).collect(),
    }
}

fn course_json(questions: usize) -> Value {
    serde_json::to_value(course(CourseKind::Onboarding, questions)).unwrap()
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xff\xff?\0\x05\xfe\x02\xfe\xa7\x35\x81\x84\0\0\0\0IEND\xaeB`\x82";

async fn a_course_is_taken_graded_and_certified(backend: Backend) {
    let s = TestServer::start(backend).await;
    two_teams(&s).await;
    let admin = person(&s, "admin").await;
    let op = person(&s, "op.a").await;
    let api = reqwest::Client::new();
    let admin_token = s
        .token(admin.user.clone(), &[Permission::IsmsRead, Permission::IsmsManage, Permission::TrainingTake])
        .await;
    let op_token = s.token(op.user.clone(), &[Permission::TrainingTake]).await;

    // Bad input: refused by field (ISMS-8: a quiz with a pass mark), nothing written.
    let mut no_questions = course_json(0);
    no_questions["questions"] = json!([]);
    let mut mark_0 = course_json(5);
    mark_0["pass_mark"] = json!(0);
    let mut mark_101 = course_json(5);
    mark_101["pass_mark"] = json!(101);
    let mut bad_answer = course_json(5);
    bad_answer["questions"][3]["answer"] = json!(3);
    for (body, field) in [
        (no_questions, "questions"),
        (mark_0, "pass_mark"),
        (mark_101, "pass_mark"),
        (bad_answer, "questions"),
    ] {
        let r = api
            .post(s.url("/api/v1/isms/training"))
            .bearer_auth(&admin_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{body}");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["field"], field, "{p}");
        if field == "questions" && body["questions"].as_array().is_some_and(|q| !q.is_empty()) {
            assert!(p["detail"].as_str().unwrap().contains("questions[3].answer"), "names the question: {p}");
        }
    }
    assert!(s.core.store().read().await.unwrap().training_courses(true).await.unwrap().is_empty());

    let r = api
        .post(s.url("/api/v1/isms/training"))
        .bearer_auth(&admin_token)
        .json(&course_json(6))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    // Images: checked by content and size, served with their own type and nosniff.
    let upload = |bytes: Vec<u8>, content_type: &'static str| {
        api.post(s.url(&format!("/api/v1/isms/training/{id}/images")))
            .bearer_auth(&admin_token)
            .header("content-type", content_type)
            .body(bytes)
            .send()
    };
    let r = upload(b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec(), "image/png")
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "not an image");
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "image");
    let big = [PNG, &vec![0u8; 600 * 1024]].concat();
    let r = upload(big, "image/png").await.unwrap();
    assert!(r.status() == 413 || r.status() == 422, "too large: {}", r.status());
    let r = upload(PNG.to_vec(), "image/jpeg").await.unwrap();
    assert_eq!(r.status(), 422, "a PNG claimed as JPEG");
    let r = upload(PNG.to_vec(), "image/png").await.unwrap();
    assert_eq!(r.status(), 201);
    let image = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = api
        .get(s.url(&format!("/api/v1/training/images/{image}")))
        .bearer_auth(&op_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(&r.bytes().await.unwrap()[..], PNG);
    assert_eq!(s.audit("training.image").await.len(), 1, "only the good image was stored");

    // The operator reads the course: raw HTML as text, foreign images cut, no right answers.
    let get = || async {
        let r =
            api.get(s.url(&format!("/api/v1/training/{id}"))).bearer_auth(&op_token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()
    };
    let doc = get().await;
    let html = doc["html"].as_str().unwrap();
    assert!(
        html.contains("&lt;script&gt;") && !html.contains("<script>") && !html.contains("evil.example"),
        "{html}"
    );
    assert!(!doc.to_string().contains("\"answer\""), "the right answers never leave the server: {doc}");
    let order = |d: &Value| {
        d["quiz"].as_array().unwrap().iter().map(|q| q["index"].as_u64().unwrap()).collect::<Vec<_>>()
    };
    let first = order(&doc);
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(sorted, (0..6).collect::<Vec<u64>>(), "every question once");
    let mut changed = false;
    for _ in 0..8 {
        changed |= order(&get().await) != first;
    }
    assert!(changed, "the order changes between attempts");
    assert_eq!(doc["state"], "owed");

    // Bad answers: refused, nothing recorded.
    let answers = |choice: fn(usize) -> usize| json!({"answers": (0..6).map(|q| json!({"question": q, "choice": choice(q)})).collect::<Vec<_>>()});
    let attempt = |body: Value| {
        api.post(s.url(&format!("/api/v1/training/{id}/attempts"))).bearer_auth(&op_token).json(&body).send()
    };
    for body in [
        answers(|_| 3),
        json!({"answers": [{"question": 0, "choice": 1}]}),
        json!({"answers": [{"question": 9, "choice": 1}]}),
        json!({"answers": [{"question": 0, "choice": 1}, {"question": 0, "choice": 1}]}),
    ] {
        let r = attempt(body.clone()).await.unwrap();
        assert_eq!(r.status(), 422, "{body}");
        assert_eq!(r.json::<Value>().await.unwrap()["field"], "answers");
    }
    assert!(s.audit("training.attempt").await.is_empty(), "nothing recorded");

    // Four of six right: 66% < 80%, failed; then all right: passed. Both are rows.
    let r = attempt(answers(|q| if q < 4 { 1 } else { 0 })).await.unwrap();
    assert_eq!(r.status(), 201);
    let failed: Value = r.json().await.unwrap();
    assert_eq!((failed["score"].as_i64(), failed["passed"].as_bool()), (Some(66), Some(false)), "{failed}");
    let r = api
        .get(s.url(&format!("/api/v1/training/{id}/certificate")))
        .bearer_auth(&op_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "no certificate before a pass");
    let passed: Value = attempt(answers(|_| 1)).await.unwrap().json().await.unwrap();
    assert_eq!((passed["score"].as_i64(), passed["passed"].as_bool()), (Some(100), Some(true)));
    let attempts = s.core.store().read().await.unwrap().training_attempts(Some(&id), None).await.unwrap();
    assert_eq!(attempts.len(), 2, "attempts are permanent rows");
    let audited = s.audit("training.attempt").await;
    assert_eq!(audited.len(), 2);
    assert!(audited.iter().any(|e| e.details["passed"] == "true" && e.details["score"] == "100"));
    assert_eq!(get().await["state"], "done");

    // The certificate: a PDF (Japanese font embedded), audited as a read.
    let r = api
        .get(s.url(&format!("/api/v1/training/{id}/certificate")))
        .bearer_auth(&op_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert!(r.bytes().await.unwrap().starts_with(b"%PDF"));
    assert_eq!(s.audit("training.certificate").await.len(), 1);
    // Another person's certificate: only for isms.read.
    let r = api
        .get(s.url(&format!("/api/v1/training/{id}/certificate?user_id={}", admin.user.id)))
        .bearer_auth(&op_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // A course for operators is refused to a supervisor who is not assigned it.
    let sv = person(&s, "sv.a").await;
    let sv_token = s.token(sv.user.clone(), &[Permission::TrainingTake]).await;
    let r = api.get(s.url(&format!("/api/v1/training/{id}"))).bearer_auth(&sv_token).send().await.unwrap();
    assert_eq!(r.status(), 403);

    // The console's quiz, in Japanese: radio buttons named by question, the result page.
    let b = s.signed_in("op.a").await;
    let page = b.get(&format!("/training/{id}")).await.text().await.unwrap();
    assert!(
        page.contains("確認テスト") && page.contains("name=\"q0\"") && page.contains("合格済み"),
        "{page}"
    );
    let csrf = b.csrf(&format!("/training/{id}")).await;
    let r = b.post_form(&format!("/training/{id}/attempt"), &[("_csrf", &csrf), ("q0", "1")]).await;
    assert_eq!(r.status(), 422, "unanswered questions");
    assert!(r.text().await.unwrap().contains("すべての問題に"));
    let mut form: Vec<(String, String)> = (0..6).map(|i| (format!("q{i}"), "1".to_owned())).collect();
    form.push(("_csrf".into(), csrf));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = b.post_form(&format!("/training/{id}/attempt"), &pairs).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("合格です"));
    let r = b.get(&format!("/training/{id}/certificate")).await;
    assert_eq!(r.headers()["content-type"], "application/pdf");
}
both_backends!(a_course_is_taken_graded_and_certified);

async fn evidence(s: &TestServer, who: &mamori_core::Principal) -> (EvidenceStatus, String) {
    let items = s.core.check_evidence_now(who, &Default::default()).await.unwrap();
    let item = items.into_iter().find(|i| i.kind == EvidenceKind::TrainingCompletion).unwrap();
    (item.status, item.value)
}

async fn assignments_overdue_and_the_sweep(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (op_a, op_b) = two_teams(&s).await;
    let admin = person(&s, "admin").await;
    let ctx = Default::default();
    let onboarding =
        s.core.isms.create_training_course(&admin, course(CourseKind::Onboarding, 5), &ctx).await.unwrap();
    let mut annual_input = course(CourseKind::Annual, 5);
    annual_input.title = "年次研修".into();
    let annual = s.core.isms.create_training_course(&admin, annual_input, &ctx).await.unwrap();
    let mut topic_input = course(CourseKind::Topic, 5);
    topic_input.title = "メール誤送信の再発防止".into();
    topic_input.roles = vec![];
    let topic = s.core.isms.create_training_course(&admin, topic_input, &ctx).await.unwrap();

    // A person invited now is assigned onboarding with the account (ISMS-8: training for newcomers).
    let invitation = mamori_core::identity::admin::Invitation {
        username: "new.op".into(),
        display_name: "新人 太郎".into(),
        roles: vec![Role::Operator],
        team_id: None,
        site_id: None,
        client_ids: vec![],
        mail_address: None,
    };
    let invited = s.core.identity.invite_user(&admin, &invitation, &ctx).await.unwrap();
    let theirs =
        s.core.store().read().await.unwrap().training_assignments(Some(&invited.user.id)).await.unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(
        (theirs[0].course_id.as_str(), theirs[0].reason.as_str()),
        (onboarding.as_str(), "onboarding")
    );
    assert!(s.audit("training.assign").await.iter().any(|e| e.details["reason"] == "onboarding"));

    // An incident reported by op.a: the topic course goes to the people involved.
    let a = person(&s, "op.a").await;
    let report = mamori_core::incidents::LeakReport {
        kind: mamori_domain::incident::IncidentKind::MisdirectedMail,
        description: "メールを別のお客さまに送ってしまいました".into(),
        anonymous: false,
    };
    let incident = s.core.incidents.report_leak(&a, &report, &ctx).await.unwrap();
    let bad = AssignInput { incident_id: Some("not-an-id".into()), ..Default::default() };
    assert!(matches!(
        s.core.isms.assign_training(&admin, &topic, bad, &ctx).await,
        Err(CoreError::Invalid { field: "incident_id", .. })
    ));
    let past = AssignInput {
        user_ids: vec![op_b.id.clone()],
        due_on: Some("2000-01-01".into()),
        ..Default::default()
    };
    assert!(matches!(
        s.core.isms.assign_training(&admin, &topic, past, &ctx).await,
        Err(CoreError::Invalid { field: "due_on", .. })
    ));
    let api = reqwest::Client::new();
    let token = s.token(admin.user.clone(), &[Permission::IsmsManage, Permission::IsmsRead]).await;
    let r = api
        .post(s.url(&format!("/api/v1/isms/training/{topic}/assign")))
        .bearer_auth(&token)
        .json(&json!({"incident_id": incident.id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["user_ids"], json!([op_a.id]));
    assert!(
        s.audit("training.assign")
            .await
            .iter()
            .any(|e| e.details["reason"] == "incident" && e.details["incident"] == incident.id.as_str())
    );

    // Op.a passes onboarding; op.b does not. Fifteen days on, op.a's topic course is overdue.
    let answers: Vec<Option<usize>> = vec![Some(1); 5];
    s.core.isms.submit_training_attempt(&a, &onboarding, &answers, &ctx).await.unwrap();
    s.clock.advance(Duration::from_secs(15 * 86_400));
    let o = s.core.isms.training_overview(&admin, &ctx).await.unwrap();
    let overdue: Vec<(&str, &str)> =
        o.overdue.iter().map(|r| (r.name.as_str(), r.course_title.as_str())).collect();
    assert_eq!(overdue, [("山田 花子", "メール誤送信の再発防止")], "{overdue:?}");
    let onboarding_status = o.courses.iter().find(|c| c.course.record.id == onboarding).unwrap();
    assert_eq!(onboarding_status.done, 1);
    assert!(onboarding_status.owed.iter().any(|r| r.name == "鈴木 一郎" && r.due_on.is_none()));
    let token = s.token(admin.user.clone(), &[Permission::IsmsManage, Permission::IsmsRead]).await;
    let r = api.get(s.url("/api/v1/isms/training")).bearer_auth(&token).send().await.unwrap();
    let listed: Value = r.json().await.unwrap();
    assert_eq!(listed["overdue"][0]["name"], "山田 花子", "{listed}");
    let r = api.post(s.url("/api/v1/isms/training/remind")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["overdue"], 1);

    // The sweep assigns the annual course to those who never passed it, once.
    let made = s.core.isms.sweep_training().await.unwrap();
    assert_eq!(made, 2, "op.a and op.b");
    assert_eq!(s.core.isms.sweep_training().await.unwrap(), 0, "once");
    let b_assigned = s.core.store().read().await.unwrap().training_assignments(Some(&op_b.id)).await.unwrap();
    assert!(b_assigned.iter().any(|x| x.course_id == annual && x.reason == "annual"));

    // Evidence on A.6.3: a share of what is owed.
    let (status, value) = evidence(&s, &admin).await;
    assert_eq!(status, EvidenceStatus::Fail, "{value}");
    assert_eq!(value, "1/5", "op.a passed onboarding, of 2 onboarding, 2 annual, 1 topic assigned: {value}");

    // The console's overview puts the overdue first, in Japanese.
    let browser = s.signed_in("admin").await;
    let page = browser.get("/isms/training").await.text().await.unwrap();
    let overdue_at = page.find("training-overdue").expect("the overdue list");
    assert!(overdue_at < page.find("training-courses").unwrap(), "problems first");
    assert!(page.contains("期限切れ") && page.contains("山田 花子"));
    // The incident's page offers the courses to assign to the people involved.
    let page = browser.get(&format!("/incidents/{}", incident.id)).await.text().await.unwrap();
    assert!(page.contains("incident-training-form") && page.contains("メール誤送信の再発防止"), "{page}");
    let csrf = browser.csrf(&format!("/incidents/{}", incident.id)).await;
    let r = browser
        .post_form(
            "/isms/training/assign",
            &[("_csrf", &csrf), ("course_id", &topic), ("incident_id", &incident.id)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], format!("/incidents/{}?done=training_assigned", incident.id));
    // A retired course is owed by nobody; retiring is confirmed first.
    let confirm = browser.get(&format!("/isms/training/{topic}/retire")).await.text().await.unwrap();
    assert!(confirm.contains("廃止しますか"));
    s.core.isms.retire_training_course(&admin, &topic, &ctx).await.unwrap();
    let o = s.core.isms.training_overview(&admin, &ctx).await.unwrap();
    assert!(o.overdue.is_empty());
}
both_backends!(assignments_overdue_and_the_sweep);

fn off_call() -> Purpose {
    Purpose::Reason { code: "callback".into(), text: "折り返しのお約束".into() }
}

/// Done when (issue 18): with the policy option on, a new operator cannot look customers up
/// until onboarding is passed and the pledge acknowledged; the refusal says why and links to
/// what is missing.
async fn lookups_wait_for_onboarding_and_the_pledge(backend: Backend) {
    let s = TestServer::start(backend).await;
    two_teams(&s).await;
    let (client, _) = client_with_customers(&s, 2).await;
    let ctx = Default::default();
    let admin = person(&s, "admin").await;
    let mut op = person(&s, "op.a").await;
    op.client_ids = vec![client];
    let look = LookupKey::Phone("03-1234-5678".into());
    let pledge = PolicyInput {
        kind: PolicyKind::ConfidentialityPledge,
        title: "機密保持誓約書".into(),
        scope: PolicyScope { roles: vec![Role::Operator], ..Default::default() },
        body: "# 機密保持誓約書\n\n業務で知った情報を漏らしません。\n".into(),
        note: String::new(),
    };
    let policy = s.core.isms.create_policy(&admin, pledge, &ctx).await.unwrap();
    s.core.isms.publish_policy(&admin, &policy, 1, &ctx).await.unwrap();
    let course_id =
        s.core.isms.create_training_course(&admin, course(CourseKind::Onboarding, 5), &ctx).await.unwrap();
    // Options off: lookups go on.
    assert_eq!(s.core.vault.find_customers(&op, &look, &off_call(), &ctx).await.unwrap().len(), 1);

    let api = reqwest::Client::new();
    let admin_token = s.token(admin.user.clone(), &[Permission::IsmsManage]).await;
    let r = api
        .put(s.url("/api/v1/isms/training/option"))
        .bearer_auth(&admin_token)
        .json(&json!({"lookups_require_onboarding": "yes"}))
        .send()
        .await
        .unwrap();
    assert!(r.status() == 400 || r.status() == 422, "{}", r.status());
    let r = api
        .put(s.url("/api/v1/isms/training/option"))
        .bearer_auth(&admin_token)
        .json(&json!({"lookups_require_onboarding": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.audit("training.option").await.len(), 1);
    s.core.isms.set_lookups_require_pledge(&admin, true, &ctx).await.unwrap();

    // Both missing: refused, the entry names both.
    let refused = s.core.vault.find_customers(&op, &look, &off_call(), &ctx).await;
    assert!(
        matches!(refused, Err(CoreError::ApprovalRefused { reason: "prerequisites_missing", .. })),
        "{refused:?}"
    );
    let denied = s.audit("customer.lookup").await;
    assert!(denied.iter().any(|e| e.details["reason"] == "prerequisites_missing"
        && e.details["policy"] == format!("isms_policy:{policy}")
        && e.details["course"] == format!("training_course:{course_id}")));
    let op_token = s.token(op.user.clone(), &[Permission::TrainingTake, Permission::CustomersRead]).await;
    let mine: Value =
        api.get(s.url("/api/v1/training")).bearer_auth(&op_token).send().await.unwrap().json().await.unwrap();
    let needs: Vec<&str> =
        mine["lookups_need"].as_array().unwrap().iter().map(|n| n["href"].as_str().unwrap()).collect();
    assert_eq!(needs, [format!("/policies/{policy}"), format!("/training/{course_id}")], "{mine}");

    // The workspace says so in Japanese and links both.
    let b = s.signed_in("op.a").await;
    let page = b.get("/workspace").await.text().await.unwrap();
    assert!(
        page.contains(&format!("href=\"/policies/{policy}\""))
            && page.contains(&format!("href=\"/training/{course_id}\""))
    );
    assert!(page.contains("確認テストに合格してください"), "in Japanese");

    // The pledge acknowledged: still refused, now for the course alone.
    s.core.isms.acknowledge_policy(&op, &policy, 1, &ctx).await.unwrap();
    let refused = s.core.vault.find_customers(&op, &look, &off_call(), &ctx).await;
    assert!(
        matches!(refused, Err(CoreError::ApprovalRefused { reason: "training_not_passed", .. })),
        "{refused:?}"
    );

    // A failed attempt does not count; a pass does: lookups work again.
    s.core.isms.submit_training_attempt(&op, &course_id, &[Some(0); 5], &ctx).await.unwrap();
    assert!(s.core.vault.find_customers(&op, &look, &off_call(), &ctx).await.is_err());
    s.core.isms.submit_training_attempt(&op, &course_id, &[Some(1); 5], &ctx).await.unwrap();
    assert_eq!(s.core.vault.find_customers(&op, &look, &off_call(), &ctx).await.unwrap().len(), 1);
    let page = b.get("/workspace").await.text().await.unwrap();
    assert!(!page.contains(&format!("href=\"/training/{course_id}\"")));
    // The policies store is untouched by training (one pledge, one acknowledgement).
    assert_eq!(
        s.core.store().read().await.unwrap().policy_acknowledgements(None, None).await.unwrap().len(),
        1
    );
}
both_backends!(lookups_wait_for_onboarding_and_the_pledge);
