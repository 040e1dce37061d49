//! `/metrics` (issue 20, item 3): the Prometheus text format with requests by route template,
//! their latency and the audit log's readers' lag; loopback only without a token, the token
//! alone with one; route templates as labels, so no number, id or name of a lookup reaches a
//! metric — against a running server, both databases.

use crate::approvals::{client_with_customers, person};
use crate::both_backends;
use crate::support::{Backend, TestServer};
use mamori_domain::Permission;
use serde_json::json;

async fn metrics_count_routes_not_values(backend: Backend) {
    let s = TestServer::start(backend).await;
    crate::commands::two_teams(&s).await;
    let (client, customers) = client_with_customers(&s, 3).await;
    let op = person(&s, "op.a").await;
    let token = s.token(op.user.clone(), &[Permission::CustomersRead]).await;
    let api = reqwest::Client::new();
    assert_eq!(api.get(s.url("/healthz")).send().await.unwrap().status(), 200);
    // A lookup by phone with a reason, and a reveal by the customer's id.
    let phone = "03-1234-5678";
    let body = json!({"phone": phone, "reason_code": "callback", "reason_text": "折り返しのお約束"});
    let r = api.post(s.url("/api/v1/customers/lookup")).bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200, "{client}");
    let id = &customers[0];
    let body = json!({"field": "phones", "reason_code": "callback", "reason_text": "折り返しのお約束"});
    let _ = api
        .post(s.url(&format!("/api/v1/customers/{id}/reveal")))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await;

    let r = api.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the loopback may scrape");
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = r.text().await.unwrap();
    for expected in [
        "mamori_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1",
        "mamori_http_requests_total{route=\"/api/v1/customers/lookup\",method=\"POST\",status=\"200\"} 1",
        "route=\"/api/v1/customers/{id}/reveal\"",
        "mamori_http_request_duration_seconds_bucket{le=",
        "mamori_audit_log_entries ",
        "mamori_audit_checkpoint_lag_entries ",
        "mamori_audit_reader_lag_entries{reader=\"feed:detection\"}",
        "mamori_agents_connected 0",
    ] {
        assert!(text.contains(expected), "{expected} in\n{text}");
    }
    for secret in [phone, "0312345678", id.as_str(), "折り返し"] {
        assert!(!text.contains(secret), "{secret} reached the metrics");
    }

    // With a token configured, only a scrape bearing it gets in; others see no such page.
    let s = TestServer::start_with(backend, |c| c.metrics_token = Some("m".repeat(40))).await;
    let get = |bearer: Option<&str>| {
        let mut r = api.get(s.url("/metrics"));
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get(None).await, 404);
    assert_eq!(get(Some("wrong-token")).await, 404);
    assert_eq!(get(Some(&"m".repeat(40))).await, 200);
}
both_backends!(metrics_count_routes_not_values);
