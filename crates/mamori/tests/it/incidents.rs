//! Incidents (issue 16, items 4 and 5): anyone reports a possible leak in one step (also
//! anonymously); a security admin runs the incident through its workflow with the playbook's
//! checklist and a timeline; an incident with card data shows the report to the PPC as
//! required, with its deadlines, reminds before each, and drafts the report.

use crate::both_backends;
use crate::support::{Backend, TestServer};
use mamori_core::incidents::{IncidentChange, NewIncident};
use mamori_domain::detect::Severity;
use mamori_domain::incident::{DataAssessment, IncidentKind, IncidentState};
use mamori_domain::{Permission, Role};
use serde_json::{Value, json};
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

async fn breach_clock(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.principal_of(s.user("admin", &[Role::SecurityAdmin]).await);
    let op = s.user("op", &[Role::Operator]).await;
    let auditor = s.user("auditor", &[Role::Auditor]).await;
    let ctx = Default::default();
    let client = s
        .core
        .identity
        .create_org_unit(&admin, mamori_store::OrgKind::Client, "通販A社", None, &ctx)
        .await
        .unwrap();

    // An operator reports a lost USB stick in one step, anonymously.
    let op_token = s.token(op.clone(), &[Permission::CustomersRead]).await;
    let api = reqwest::Client::new();
    let report = json!({"kind": "lost_device", "description": "帰りの電車でUSBメモリを紛失しました。顧客リストが入っていた可能性があります。", "anonymous": true});
    let r = api
        .post(s.url("/api/v1/incidents/report"))
        .bearer_auth(&op_token)
        .json(&report)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let reported: Value = r.json().await.unwrap();
    assert!(reported["reported_by"].is_null(), "{reported}");
    assert_eq!(reported["state"], "new");
    let opened = s.audit("incident.open").await;
    assert_eq!(opened[0].actor, "anonymous");
    assert_eq!(opened[0].source_ip, None, "no address for an anonymous report");
    // With a name, and refusals of bad input.
    let named = json!({"kind": "misdirected_mail", "description": "宛先を間違えて送信しました"});
    let r =
        api.post(s.url("/api/v1/incidents/report")).bearer_auth(&op_token).json(&named).send().await.unwrap();
    let named: Value = r.json().await.unwrap();
    assert_eq!(named["reported_by"], op.id.as_str());
    for bad in [
        json!({"kind": "aliens", "description": "x"}),
        json!({"kind": "other", "description": "  "}),
        json!({"kind": "other", "description": "x", "extra": 1}),
    ] {
        let r = api
            .post(s.url("/api/v1/incidents/report"))
            .bearer_auth(&op_token)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{bad}");
    }
    // An operator reads no incidents.
    let r = api.get(s.url("/api/v1/incidents")).bearer_auth(&op_token).send().await.unwrap();
    assert_eq!(r.status(), 403);

    // The security admin opens an insider incident and records card data of 23 people.
    let new = NewIncident {
        title: "契約社員による顧客情報の書き写し".into(),
        kind: IncidentKind::InsiderCopying,
        severity: Severity::High,
        description: "通話外の参照23件".into(),
        alert_ids: vec![],
    };
    let incident = s.core.incidents.open_incident(&admin, &new, &ctx).await.unwrap();
    let opened_at = incident.learned_at;
    let data = DataAssessment { people: 23, financial: true, ..Default::default() };
    let assess = IncidentChange::Assess { data, client_ids: vec![client.id.clone()] };
    s.core.incidents.update_incident(&admin, &incident.id, assess, &ctx).await.unwrap();
    let detail = s.core.incidents.incident(&admin, &incident.id, &ctx).await.unwrap();
    let duty = detail.duty.expect("card numbers: a report is required");
    assert_eq!(duty.preliminary_due.0 - opened_at.0, 3 * 86_400_000);
    assert_eq!(duty.final_due.0 - opened_at.0, 30 * 86_400_000);
    assert_eq!(detail.clients, [(client.id.clone(), "通販A社".to_owned())]);
    assert_eq!(detail.checklist.first().map(|c| c.0.as_str()), Some("preserve_audit_evidence"));

    // Reminders: a day before the preliminary report, once.
    assert_eq!(s.core.incidents.send_reminders().await.unwrap(), 0);
    s.clock.advance(2 * DAY + Duration::from_secs(60));
    assert_eq!(s.core.incidents.send_reminders().await.unwrap(), 1);
    assert_eq!(s.core.incidents.send_reminders().await.unwrap(), 0, "once");
    let reminders = s.audit("incident.reminder").await;
    assert_eq!(
        (reminders[0].details["report"].as_str(), reminders[0].details["days_before"].as_str()),
        ("preliminary", "1")
    );
    let due = s.core.incidents.reports_due(&admin).await.unwrap();
    assert_eq!(due[0].1, duty.preliminary_due);
    // The preliminary report is made: no more reminders of it; the final one's come later.
    let made = IncidentChange::ReportMade { report: "preliminary".into() };
    s.core.incidents.update_incident(&admin, &incident.id, made.clone(), &ctx).await.unwrap();
    assert!(
        s.core.incidents.update_incident(&admin, &incident.id, made, &ctx).await.is_err(),
        "recorded once"
    );
    s.clock.advance(DAY);
    assert_eq!(s.core.incidents.send_reminders().await.unwrap(), 0);
    s.clock.advance(20 * DAY);
    assert_eq!(s.core.incidents.send_reminders().await.unwrap(), 1, "a week before the final report");
    assert_eq!(s.audit("incident.reminder").await.len(), 2);

    // A wrongful purpose gives the final report 60 days.
    let data = DataAssessment { people: 23, financial: true, wrongful_purpose: true, ..Default::default() };
    let assess = IncidentChange::Assess { data, client_ids: vec![client.id.clone()] };
    s.core.incidents.update_incident(&admin, &incident.id, assess, &ctx).await.unwrap();
    let duty = s.core.incidents.incident(&admin, &incident.id, &ctx).await.unwrap().duty.unwrap();
    assert_eq!(duty.final_due.0 - opened_at.0, 60 * 86_400_000);

    // The draft report and the API's view of the clock.
    let token = s.token(admin.user.clone(), &[Permission::IncidentsRead, Permission::IncidentsManage]).await;
    let path = s.url(&format!("/api/v1/incidents/{}", incident.id));
    let draft: Value = api
        .get(format!("{path}/report-draft"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(draft["required"], true);
    assert_eq!(draft["people"], 23);
    assert!(draft["data_items"].as_array().unwrap().iter().any(|i| i == "クレジットカード番号"), "{draft}");
    assert!(draft["other"].as_str().unwrap().contains("通販A社"), "{draft}");
    let view: Value = api.get(&path).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let grounds = &view["incident"]["report_duty"]["grounds"];
    assert_eq!(grounds, &json!(["financial", "wrongful_purpose"]));
    let kinds: Vec<&str> =
        view["timeline"].as_array().unwrap().iter().map(|t| t["kind"].as_str().unwrap()).collect();
    assert!(kinds.starts_with(&["opened", "assessment"]) && kinds.contains(&"reminder"), "{kinds:?}");

    // The workflow: forward only; closing needs the review; a closed one may be reopened.
    let post = |body: Value| api.post(&path).bearer_auth(&token).json(&body).send();
    assert_eq!(post(json!({"change": "state", "to": "triage"})).await.unwrap().status(), 200);
    assert_eq!(post(json!({"change": "state", "to": "new"})).await.unwrap().status(), 409);
    assert_eq!(post(json!({"change": "state", "to": "closed"})).await.unwrap().status(), 422, "no review");
    assert_eq!(
        post(json!({"change": "checklist", "item": "isolate_pc", "done": true})).await.unwrap().status(),
        422,
        "not this playbook's"
    );
    assert_eq!(
        post(json!({"change": "checklist", "item": "suspend_account", "done": true})).await.unwrap().status(),
        200
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(post(json!({"change": "link_alerts", "alert_ids": [unknown]})).await.unwrap().status(), 404);
    let closed =
        post(json!({"change": "state", "to": "closed", "review": "参照の目的確認を通話単位に改めた"}))
            .await
            .unwrap();
    assert_eq!(closed.status(), 200);
    let closed: Value = closed.json().await.unwrap();
    assert_eq!(closed["state"], "closed");
    let reopen = IncidentChange::State { to: IncidentState::Triage, review: None };
    s.core.incidents.update_incident(&admin, &incident.id, reopen, &ctx).await.unwrap();

    // The auditor reads, and changes nothing.
    let auditor_token = s.token(auditor, &[Permission::IncidentsRead]).await;
    let listed: Value = api
        .get(s.url("/api/v1/incidents"))
        .bearer_auth(&auditor_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["incidents"].as_array().unwrap().len(), 3);
    let r = api
        .post(&path)
        .bearer_auth(&auditor_token)
        .json(&json!({"change": "comment", "text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}
both_backends!(breach_clock);

/// Alerts grouped into an incident appear on its timeline with their automatic responses.
async fn alerts_become_an_incident(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.principal_of(s.user("admin", &[Role::SecurityAdmin]).await);
    let ctx = Default::default();
    // Failed sign-ins until the account locks: an alert.
    for _ in 0..10 {
        let _ = s.core.identity.sign_in("admin", "wrong-password-here", &ctx).await;
    }
    let alerts = crate::detection::alerts_until(&s, &admin, 1).await;
    let alert = alerts.iter().find(|a| a.record.rule == "account_locked").expect("the lockout's alert");
    let new = NewIncident {
        title: "管理者アカウントへのパスワード推測".into(),
        kind: IncidentKind::Other,
        severity: Severity::Medium,
        description: String::new(),
        alert_ids: vec![alert.record.id.clone()],
    };
    let incident = s.core.incidents.open_incident(&admin, &new, &ctx).await.unwrap();
    let detail = s.core.incidents.incident(&admin, &incident.id, &ctx).await.unwrap();
    assert_eq!(detail.alerts.len(), 1);
    assert!(detail.timeline.iter().any(|t| t.kind == "alert" && t.detail.starts_with("account_locked|")));
    assert!(detail.duty.is_none(), "no personal data recorded: no report");
    assert_eq!(s.audit("incident.open").await[0].details["via"], "alerts");
}
both_backends!(alerts_become_an_incident);

/// The timeline shows what the people involved asked for around the incident and who decided
/// (issue 16, item 4: "filled automatically from alerts, responses, approvals and comments"):
/// the reporter's print, approved by their supervisor; another person's request is not on it.
async fn approvals_of_the_people_involved(backend: Backend) {
    use crate::approvals::{person, print_of};
    let s = TestServer::start(backend).await;
    crate::commands::two_teams(&s).await;
    let ctx = Default::default();
    let (op, sv, admin) = (person(&s, "op.a").await, person(&s, "sv.a").await, person(&s, "admin").await);
    let ask = s.core.approvals.request(&op, &print_of("c1"), &ctx).await.unwrap();
    s.clock.advance(Duration::from_secs(60));
    let step = s.core.identity.step_up(&sv, &s.next_totp(), "approval", &ctx).await.unwrap();
    s.core.approvals.decide(&sv, &ask.id, true, Some(&step), "", &ctx).await.unwrap();
    s.clock.advance(Duration::from_secs(60));
    let others = s.core.approvals.request(&person(&s, "op.b").await, &print_of("c2"), &ctx).await.unwrap();
    let report = mamori_core::incidents::LeakReport {
        kind: IncidentKind::LostDevice,
        description: "印刷した顧客控えを紛失".into(),
        anonymous: false,
    };
    let incident = s.core.incidents.report_leak(&op, &report, &ctx).await.unwrap();

    let detail = s.core.incidents.incident(&admin, &incident.id, &ctx).await.unwrap();
    let asked: Vec<_> = detail.timeline.iter().filter(|t| t.kind == "approval").collect();
    assert_eq!(asked.len(), 1, "{:?}", detail.timeline);
    assert_eq!(asked[0].detail, format!("print|granted|{}", ask.id));
    assert_eq!(asked[0].person.as_ref().map(|u| u.id.as_str()), Some(op.user.id.as_str()));
    assert!(detail.timeline.iter().all(|t| !t.detail.contains(&others.id)), "not involved");
    let decided: Vec<_> = detail.timeline.iter().filter(|t| t.kind == "approval_decision").collect();
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0].person.as_ref().map(|u| u.id.as_str()), Some(sv.user.id.as_str()));
    let order: Vec<&str> = detail.timeline.iter().map(|t| t.kind.as_str()).collect();
    let at = |k: &str| order.iter().position(|x| *x == k).unwrap();
    assert!(
        at("approval") < at("approval_decision") && at("approval_decision") < at("reported"),
        "{order:?}"
    );
    let page =
        s.signed_in("admin").await.get(&format!("/incidents/{}", incident.id)).await.text().await.unwrap();
    for expected in ["承認を申請: 印刷（現在: ", "承認: 印刷"] {
        assert!(page.contains(expected), "{expected}: {page}");
    }
}
both_backends!(approvals_of_the_people_involved);
