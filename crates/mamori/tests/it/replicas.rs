//! State replicas must agree on (DESIGN invariant 10; issue 13, defect 1): two real `mamori
//! serve` processes on one PostgreSQL database refuse a signed agent request replayed from one
//! to the other, and count one reveal allowance between them — which a restart does not reset.

use crate::support::*;
use mamori_domain::{Permission, Role};
use mamori_store::OrgKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_nonces_and_allowances() {
    if !postgres_available().await {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = mamori_server::config::ServerConfig::defaults(dir.path().join("data"));
    config.database_url = Some(fresh_pg_url().await);
    let core = mamori_server::serve::open_core(&config, std::sync::Arc::new(mamori_domain::SystemClock))
        .await
        .unwrap();
    let ctx = Default::default();
    let admin = principal(&insert_user(&core, "admin", &[Role::SecurityAdmin]).await);
    let client =
        core.identity.create_org_unit(&admin, OrgKind::Client, "Client A", None, &ctx).await.unwrap();
    let customer = mamori_core::vault::NewCustomer {
        client_id: client.id.clone(),
        fields: [
            ("name_kanji", "山田太郎"),
            ("phones", "0312345678"),
            ("card_number", "4111 1111 1111 1111"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect(),
    };
    let customer = core.vault.create_customer(&admin, &customer, &ctx).await.unwrap();
    let op = insert_user(&core, "op.a", &[Role::Operator]).await;
    core.identity.set_user_clients(&admin, &op.id, std::slice::from_ref(&client.id), &ctx).await.unwrap();
    let op_token = api_token(&core, &op, &[Permission::CustomersRead]).await;
    let enrolment =
        mamori_core::devices::NewEnrolment { site_id: None, user_id: Some(op.id.clone()), valid_hours: 1 };
    let (_, enrol_token) = core.devices.create_enrolment(&admin, &enrolment, &ctx).await.unwrap();
    let key = mamori_crypto::device_auth::DeviceKey::generate().unwrap();
    let request = mamori_proto::agent::EnrolRequest {
        token: enrol_token,
        public_key: key.public_key(),
        hostname: "pc".into(),
    };
    let device = core.devices.enrol_device(&request, &ctx).await.unwrap();
    drop(core);

    let a = ServeProcess::start(&config).await;
    let b = ServeProcess::start(&config).await;
    let api = reqwest::Client::new();

    // One signed heartbeat, sent to each replica: the second is a replay.
    let body = b"{}".to_vec();
    let now = mamori_domain::Clock::now(&mamori_domain::SystemClock).0;
    let header = key.authorize(&device, "POST", "/api/v1/agent/heartbeat", &body, now).unwrap();
    let beat = |base: &str| {
        api.post(format!("{base}/api/v1/agent/heartbeat"))
            .header("authorization", header.clone())
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
    };
    assert_eq!(beat(&a.base).await.unwrap().status(), 200);
    assert_eq!(beat(&b.base).await.unwrap().status(), 401, "replayed to the other replica");

    // The allowance (5 at once by default) is one, whichever replica answers.
    let reveal = |base: String| {
        api.post(format!("{base}/api/v1/customers/{customer}/reveal"))
            .bearer_auth(&op_token)
            .json(&serde_json::json!({"field": "card_number", "reason_code": "fraud_check", "reason_text": "不正利用の確認"}))
            .send()
    };
    let mut answers = Vec::new();
    for i in 0..8 {
        let base = if i % 2 == 0 { a.base.clone() } else { b.base.clone() };
        answers.push(reveal(base).await.unwrap().status().as_u16());
    }
    assert_eq!(answers, [200, 200, 200, 200, 200, 403, 403, 403], "counted once across replicas");

    // A restart does not refill it.
    a.stop();
    b.stop();
    let c = ServeProcess::start(&config).await;
    assert_eq!(reveal(c.base.clone()).await.unwrap().status(), 403, "kept across a restart");
    c.stop();
}
