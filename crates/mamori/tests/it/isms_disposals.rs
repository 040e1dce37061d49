//! The disposal register (issue 18, item 7; LEAK-3): bad records refused by field and nothing
//! written; a revoked PC's asset stays in force, flagged, until its disposal is recorded, and
//! then retires in the same transaction; registered equipment retires only with its disposal;
//! every record audited; the live evidence of A.7.14 counts the PCs still to dispose of; the
//! console page in Japanese — against a running server, both databases.

use crate::both_backends;
use crate::support::{Backend, TestServer, principal};
use mamori_domain::isms::asset::{AssetInput, AssetKind, Availability, Confidentiality, Integrity};
use mamori_domain::isms::evidence::{EvidenceKind, EvidenceStatus};
use mamori_domain::{Permission, Role};
use serde_json::{Value, json};

fn jst_day(s: &TestServer, days: i64) -> String {
    mamori_domain::UnixMillis(s.core.now().0 + 9 * 3_600_000 + days * 86_400_000).rfc3339()[..10].to_owned()
}

async fn evidence_of(s: &TestServer, who: &mamori_core::Principal) -> (EvidenceStatus, String) {
    let items = s.core.check_evidence_now(who, &Default::default()).await.unwrap();
    let item = items.into_iter().find(|i| i.kind == EvidenceKind::DevicesNotDisposed).unwrap();
    (item.status, item.value)
}

async fn a_pc_retires_only_with_its_disposal(backend: Backend) {
    let s = TestServer::start(backend).await;
    let sec = s.user("sec", &[Role::SecurityAdmin]).await;
    let admin = principal(sec.clone());
    let witness = s.user("sv.tanaka", &[Role::Supervisor]).await;
    let gone = s.user("sv.gone", &[Role::Supervisor]).await;
    let op = s.user("op.a", &[Role::Operator]).await;
    let auditor = s.user("kansa", &[Role::Auditor]).await;
    let ctx = Default::default();
    s.core.identity.disable_user(&admin, &gone.id, &ctx).await.unwrap();
    let token = s
        .token(
            sec.clone(),
            &[
                Permission::DevicesManage,
                Permission::DevicesRead,
                Permission::IsmsRead,
                Permission::IsmsManage,
            ],
        )
        .await;
    let pc_a = crate::devices::enrol_agent(&s, &token, &op.id, "PC-A").await;
    let pc_b = crate::devices::enrol_agent(&s, &token, &op.id, "PC-B").await;
    s.core.sync_followed_assets().await.unwrap();
    let asset_of = |device: String| {
        let s = &s;
        let admin = &admin;
        async move {
            s.core
                .isms
                .assets(admin, true, &Default::default())
                .await
                .unwrap()
                .into_iter()
                .find(|a| a.record.source_id.as_deref() == Some(device.as_str()))
                .unwrap()
        }
    };
    let asset_a = asset_of(pc_a.id.clone()).await.record.id;
    let laptop = s
        .core
        .isms
        .create_asset(
            &admin,
            AssetInput {
                kind: AssetKind::Equipment,
                name: "予備ノートPC（倉庫）".into(),
                owner_id: None,
                location: "3階 倉庫".into(),
                confidentiality: Confidentiality::Internal,
                integrity: Integrity::Medium,
                availability: Availability::DaytimeStopOk,
                allowed: None,
                review_on: None,
                notes: String::new(),
            },
            &ctx,
        )
        .await
        .unwrap();

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
    let destroyed = |device: &str| {
        json!({
            "kind": "pc",
            "method": "physical_destruction",
            "description": "ThinkPad L580（旧 OP-07 席）",
            "serial": "PF-1X2Y3Z",
            "disposed_on": jst_day(&s, 0),
            "witness_id": witness.id,
            "company": "東京リサイクル株式会社",
            "certificate": "TRC-2026-1120-07",
            "device_id": device,
        })
    };

    // Refused by field, and nothing written.
    let with = |changes: Value| {
        let mut body = destroyed(&pc_b.id);
        body.as_object_mut().unwrap().remove("device_id");
        for (k, v) in changes.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (with(json!({"kind": "paper", "method": "overwrite", "serial": "", "quantity": 3})), "method"),
        (with(json!({"method": "dissolving"})), "method"),
        (with(json!({"witness_id": sec.id})), "witness_id"),
        (with(json!({"witness_id": gone.id})), "witness_id"),
        (with(json!({"witness_id": uuid::Uuid::new_v4().to_string()})), "witness_id"),
        (with(json!({"disposed_on": jst_day(&s, 1)})), "disposed_on"),
        (with(json!({"certificate": ""})), "certificate"),
        (with(json!({"serial": ""})), "serial"),
        (with(json!({"description": " "})), "description"),
        (with(json!({"asset_id": uuid::Uuid::new_v4().to_string()})), "asset_id"),
        (with(json!({"device_id": uuid::Uuid::new_v4().to_string()})), "device_id"),
        (with(json!({"device_id": pc_b.id})), "device_id"),
        (with(json!({"asset_id": asset_a})), "device_id"),
    ];
    for (body, field) in cases {
        let (status, problem) = send(M::POST, "/api/v1/isms/disposals", &token, Some(body.clone())).await;
        assert_eq!((status, problem["field"].as_str()), (422, Some(field)), "{body} → {problem}");
    }
    let (_, problem) = send(M::POST, "/api/v1/isms/disposals", &token, Some(destroyed(&pc_b.id))).await;
    assert!(problem["detail"].as_str().unwrap().contains("revoke it"), "says what to do: {problem}");
    let (status, _) = send(M::POST, "/api/v1/isms/disposals", &token, Some(json!({"kind": "tablet"}))).await;
    assert_eq!(status, 422, "an unknown kind");
    let (status, list) = send(M::GET, "/api/v1/isms/disposals", &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(list["disposals"].as_array().unwrap().len(), 0, "nothing refused was written: {list}");
    assert!(s.audit("disposal.record").await.iter().all(|e| e.outcome != mamori_audit::Outcome::Success));
    assert!(s.audit("asset.change").await.iter().all(|e| e.details["change"] != "dispose"));

    // Revoked: the agent is cut, the asset stays in force and says its disposal is missing.
    assert_eq!(evidence_of(&s, &admin).await.0, EvidenceStatus::Pass);
    s.core.devices.revoke_device(&admin, &pc_a.id, &ctx).await.unwrap();
    s.core.sync_followed_assets().await.unwrap();
    let a = asset_of(pc_a.id.clone()).await;
    assert!(a.record.retired_at.is_none() && a.revoked_not_disposed, "{a:?}");
    let (_, page) = send(M::GET, "/api/v1/isms/assets?source=device", &token, None).await;
    let flagged: Vec<(&str, bool)> = page["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["revoked_not_disposed"].as_bool().unwrap()))
        .collect();
    assert_eq!(flagged, [("PC-A", true), ("PC-B", false)]);
    let (_, list) = send(M::GET, "/api/v1/isms/disposals", &token, None).await;
    assert_eq!(list["revoked_not_disposed"], json!([{"id": pc_a.id, "hostname": "PC-A"}]));
    assert_eq!(evidence_of(&s, &admin).await, (EvidenceStatus::Warn, "1".to_owned()));

    // Neither the PC's asset nor registered equipment retires by hand.
    for id in [&asset_a, &laptop] {
        let (status, problem) =
            send(M::POST, &format!("/api/v1/isms/assets/{id}/retire"), &token, None).await;
        assert_eq!(status, 409, "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains("disposal"), "{problem}");
    }

    // The disposal recorded: the asset retires with it.
    let (status, created) = send(M::POST, "/api/v1/isms/disposals", &token, Some(destroyed(&pc_a.id))).await;
    assert_eq!(status, 201, "{created}");
    let pc_disposal = created["id"].as_str().unwrap().to_owned();
    let a = asset_of(pc_a.id.clone()).await;
    assert!(a.record.retired_at.is_some() && !a.revoked_not_disposed);
    assert!(a.record.changed_by.starts_with("token:"), "retired by who recorded the disposal");
    assert_eq!(evidence_of(&s, &admin).await.0, EvidenceStatus::Pass);
    assert!(asset_of(pc_b.id.clone()).await.record.retired_at.is_none(), "the other PC stays");

    // A batch of paper dissolved; the registered laptop degaussed in-house, which retires it.
    let paper = json!({
        "kind": "paper", "method": "dissolving", "description": "申込書 2023年度分", "quantity": 12,
        "disposed_on": jst_day(&s, -1), "witness_id": witness.id,
        "company": "株式会社東京機密文書処理", "certificate": "KM-88812",
    });
    assert_eq!(send(M::POST, "/api/v1/isms/disposals", &token, Some(paper)).await.0, 201);
    let in_house = json!({
        "kind": "disk", "method": "degauss", "description": "予備ノートPCの HDD", "serial": "WD-77",
        "disposed_on": jst_day(&s, -2), "witness_id": witness.id, "asset_id": laptop,
        "notes": "訂正: 前回の記録の製造番号の誤り",
    });
    assert_eq!(send(M::POST, "/api/v1/isms/disposals", &token, Some(in_house)).await.0, 201);
    let laptop_now = s.core.isms.asset(&admin, &laptop, &ctx).await.unwrap();
    assert!(laptop_now.asset.record.retired_at.is_some());

    // Listed newest first, with names; the auditor reads but does not record.
    let read_only = s.token(auditor.clone(), &[Permission::IsmsRead]).await;
    let (status, list) = send(M::GET, "/api/v1/isms/disposals", &read_only, None).await;
    assert_eq!(status, 200);
    let rows: Vec<(&str, &str, Option<&str>, Option<&str>)> = list["disposals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap(),
                d["method"].as_str().unwrap(),
                d["device_hostname"].as_str().or(d["asset_name"].as_str()),
                d["witness_name"].as_str(),
            )
        })
        .collect();
    let w = Some(witness.display_name.as_str());
    assert_eq!(
        rows,
        [
            ("pc", "physical_destruction", Some("PC-A"), w),
            ("paper", "dissolving", None, w),
            ("disk", "degauss", Some("予備ノートPC（倉庫）"), w),
        ]
    );
    assert_eq!(list["revoked_not_disposed"], json!([]));
    let (status, _) = send(M::POST, "/api/v1/isms/disposals", &read_only, Some(destroyed(&pc_a.id))).await;
    assert_eq!(status, 403);

    // Audited: who recorded what, the asset's retirement its own entry.
    let records: Vec<_> = s
        .audit("disposal.record")
        .await
        .into_iter()
        .filter(|e| e.outcome == mamori_audit::Outcome::Success)
        .collect();
    assert_eq!(records.len(), 3);
    let first =
        records.iter().find(|e| e.object.as_deref() == Some(&format!("disposal:{pc_disposal}"))).unwrap();
    assert!(first.actor.starts_with("token:"), "{first:?}");
    assert_eq!(
        (first.details["kind"].as_str(), first.details["method"].as_str(), first.details["device"].as_str()),
        ("pc", "physical_destruction", pc_a.id.as_str())
    );
    assert_eq!(first.details["asset"], asset_a);
    let disposed: Vec<_> =
        s.audit("asset.change").await.into_iter().filter(|e| e.details["change"] == "dispose").collect();
    assert_eq!(disposed.len(), 2, "the PC's asset and the laptop");
}
both_backends!(a_pc_retires_only_with_its_disposal);

/// The console page (`/isms/disposals`) in Japanese: kinds and methods in words, people by
/// name, a refused form back with the reason and what was typed, a good one recorded.
async fn the_disposal_page(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.user("sec", &[Role::SecurityAdmin]).await;
    let witness = s.user("sv.tanaka", &[Role::Supervisor]).await;
    s.user("kansa", &[Role::Auditor]).await;
    let b = s.signed_in("sec").await;
    let page = b.get("/isms/disposals").await.text().await.unwrap();
    assert!(page.contains("廃棄記録") && page.contains("id=\"disposal-form\""), "{page}");
    assert!(page.contains("物理破壊") && page.contains("溶解") && page.contains(&witness.display_name));
    let csrf = b.csrf("/isms/disposals").await;
    let form = |method: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("kind", "paper".to_owned()),
            ("method", method.to_owned()),
            ("description", "申込書 2023年度分".to_owned()),
            ("quantity", "12".to_owned()),
            ("disposed_on", jst_day(&s, 0)),
            ("witness_id", witness.id.clone()),
            ("company", "株式会社東京機密文書処理".to_owned()),
            ("certificate", "KM-88812".to_owned()),
        ]
    };
    let post = |pairs: Vec<(&'static str, String)>| {
        let b = &b;
        async move {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            b.post_form("/isms/disposals", &pairs).await
        }
    };
    let r = post(form("overwrite")).await;
    assert_eq!(r.status(), 422);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("方法が種類に合いません") && text.contains("value=\"申込書 2023年度分\""),
        "{text}"
    );
    let r = post(form("dissolving")).await;
    assert_eq!(r.status(), 303);
    let page = b.get("/isms/disposals?saved=1").await.text().await.unwrap();
    assert!(page.contains("廃棄を記録しました。"), "{page}");
    assert!(page.contains("溶解") && page.contains("紙") && page.contains("KM-88812"));
    let table = page.split("id=\"disposals\"").nth(1).unwrap().split("</table>").next().unwrap();
    assert!(table.contains(&witness.display_name) && !table.contains(&witness.id), "by name: {table}");
    assert!(!table.contains(">dissolving<") && !table.contains(">paper<"));

    // A revoked PC: flagged on the asset list, offered by the form, retired by its record.
    let sec = s.core.identity.list_users(&crate::support::inspector(), &Default::default()).await.unwrap();
    let sec = sec.into_iter().find(|u| u.username == "sec").unwrap();
    let admin = principal(sec.clone());
    let token = s.token(sec, &[Permission::DevicesManage, Permission::DevicesRead]).await;
    let op = s.user("op.a", &[Role::Operator]).await;
    let pc = crate::devices::enrol_agent(&s, &token, &op.id, "PC-OLD").await;
    s.core.sync_followed_assets().await.unwrap();
    s.core.devices.revoke_device(&admin, &pc.id, &Default::default()).await.unwrap();
    let list = b.get("/isms/assets?source=device").await.text().await.unwrap();
    assert!(list.contains("PC-OLD") && list.contains("失効済み・廃棄未記録"), "{list}");
    let asset = s.core.isms.assets(&admin, false, &Default::default()).await.unwrap();
    let asset = asset.into_iter().find(|a| a.record.source == "device").unwrap().record.id;
    let r = b.get(&format!("/isms/assets/{asset}/retire")).await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("廃棄記録"));
    let page = b.get("/isms/disposals").await.text().await.unwrap();
    assert!(page.contains("失効済みで廃棄が記録されていない端末が1台あります。"), "{page}");
    assert!(page.contains(&format!("<option value=\"{}\"", pc.id)), "the PC is offered");
    let mut pairs = form("physical_destruction");
    pairs.retain(|(k, _)| !matches!(*k, "kind" | "quantity"));
    pairs.extend([("kind", "pc".to_owned()), ("serial", "SN-OLD".to_owned()), ("device_id", pc.id.clone())]);
    assert_eq!(post(pairs).await.status(), 303);
    let page = b.get(&format!("/isms/assets/{asset}")).await.text().await.unwrap();
    assert!(page.contains("廃止") && !page.contains("失効済み・廃棄未記録"), "{page}");

    // The auditor reads the register; no form, and a post is refused.
    let a = s.signed_in("kansa").await;
    let page = a.get("/isms/disposals").await.text().await.unwrap();
    assert!(page.contains("申込書 2023年度分") && !page.contains("id=\"disposal-form\""));
    let csrf = a.csrf("/isms/disposals").await;
    assert_eq!(a.post_form("/isms/disposals", &[("_csrf", &csrf)]).await.status(), 403);
}
both_backends!(the_disposal_page);

/// An import cannot retire equipment in force either (`retired` true on its row): the whole
/// file is refused on that column, and the asset stays.
async fn an_import_does_not_retire_equipment(backend: Backend) {
    let s = TestServer::start(backend).await;
    let sec = s.user("sec", &[Role::SecurityAdmin]).await;
    let admin = principal(sec.clone());
    let input = AssetInput {
        kind: AssetKind::Equipment,
        name: "旧 FAX 機".into(),
        owner_id: None,
        location: String::new(),
        confidentiality: Confidentiality::Internal,
        integrity: Integrity::Low,
        availability: Availability::DaytimeStopOk,
        allowed: None,
        review_on: None,
        notes: String::new(),
    };
    let fax = s.core.isms.create_asset(&admin, input, &Default::default()).await.unwrap();
    let token = s.token(sec, &[Permission::IsmsRead, Permission::IsmsManage]).await;
    let api = reqwest::Client::new();
    let csv = api
        .get(s.url("/api/v1/isms/registers/export?format=csv&register=assets"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    let edited: String = text
        .split_inclusive('\n')
        .map(|line| if line.contains(&fax) { line.replacen("false", "true", 1) } else { line.to_owned() })
        .collect();
    assert_ne!(edited, text);
    let r = api
        .post(s.url("/api/v1/isms/registers/import?register=assets"))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(edited)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let refused: Value = r.json().await.unwrap();
    assert_eq!(refused["code"], "import_refused", "{refused}");
    assert!(refused.to_string().contains("retired") && refused.to_string().contains("disposal"), "{refused}");
    let fax = s.core.isms.asset(&admin, &fax, &Default::default()).await.unwrap();
    assert!(fax.asset.record.retired_at.is_none());
}
both_backends!(an_import_does_not_retire_equipment);
