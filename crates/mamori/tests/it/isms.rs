//! The ISMS registers, part 1 (issue 17; ISMS-1…4, ISMS-7, ISMS-9, TW-10): the built-in control
//! catalogs, the Statement of Applicability with the live evidence Mamori measures of itself,
//! decisions kept as versions, and catalog imports — against a running server, both databases.

use crate::both_backends;
use crate::support::{Backend, TestServer, principal};
use mamori_domain::isms::asset::{AssetInput, AssetKind, Availability, Confidentiality, Integrity};
use mamori_domain::isms::evidence::{EvidenceKind, EvidenceStatus};
use mamori_domain::isms::{Implementation, SoaDecision};
use mamori_domain::{Permission, Role};
use serde_json::{Value, json};
use std::time::Duration;

const ANNEX_A: &str = "urn:mamori:catalog:iso27001-2022";
const A_8_15: &str = "urn:mamori:control:iso27001-2022:a.8.15";

/// Waits until the evidence task has measured every kind at least once.
async fn measured(s: &TestServer, who: &mamori_core::Principal) -> Vec<mamori_core::isms::EvidenceItem> {
    for _ in 0..300 {
        let items = s.core.isms.evidence(who, None, &Default::default()).await.unwrap();
        if items.len() == EvidenceKind::ALL.len() {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the evidence task did not measure every kind");
}

fn status_of(items: &[mamori_core::isms::EvidenceItem], kind: EvidenceKind) -> (EvidenceStatus, String) {
    let item = items.iter().find(|i| i.kind == kind).unwrap_or_else(|| panic!("{kind:?} in {items:?}"));
    (item.status, item.value.clone())
}

/// A fresh install ships Annex A (93 controls in 4 themes), TW-1…13 and LEAK-1…14; the SoA
/// shows live evidence for logging, access control, cryptography and endpoint computed from
/// the running system; tampering with the audit table flips the logging evidence to failing
/// on the next check, and the flip is itself an audit entry (issue 17, done when).
async fn catalogs_ship_with_live_evidence(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = principal(s.user("sec", &[Role::SecurityAdmin]).await);
    let token = s.token(admin.user.clone(), &[Permission::IsmsRead]).await;
    let api = reqwest::Client::new();
    let get = |path: &str| {
        let r = api.get(s.url(path)).bearer_auth(&token).send();
        async move {
            let r = r.await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let catalogs = get("/api/v1/isms/catalogs").await;
    let urns: Vec<&str> = catalogs.as_array().unwrap().iter().map(|c| c["urn"].as_str().unwrap()).collect();
    assert_eq!(urns.len(), 3, "{catalogs}");
    let assessable = |soa: &Value| {
        soa["lines"].as_array().unwrap().iter().filter(|l| l["control"]["assessable"] == true).count()
    };
    let annex = get("/api/v1/isms/soa").await;
    assert_eq!(annex["catalog"]["urn"], ANNEX_A, "Annex A by default");
    assert_eq!((assessable(&annex), annex["lines"].as_array().unwrap().len()), (93, 97));
    let tw = get("/api/v1/isms/soa?catalog=urn:mamori:catalog:telework").await;
    let leak = get("/api/v1/isms/soa?catalog=urn:mamori:catalog:leak").await;
    assert_eq!((assessable(&tw), assessable(&leak)), (13, 14));
    assert_eq!(s.audit("catalog.import").await.len(), 3, "each built-in catalog installed once, audited");

    // The evidence task measures everything at start. The test's admin was written straight
    // into the store (no audit entry, so no event for the task): measure once more to see it.
    measured(&s, &admin).await;
    s.core.refresh_evidence(&[EvidenceKind::PrivilegedSecondFactor]).await.unwrap();
    let items = measured(&s, &admin).await;
    assert_eq!(status_of(&items, EvidenceKind::AuditLogVerified).0, EvidenceStatus::Pass, "{items:?}");
    assert_eq!(status_of(&items, EvidenceKind::PrivilegedSecondFactor), (EvidenceStatus::Pass, "1/1".into()));
    assert_eq!(
        status_of(&items, EvidenceKind::VaultKeyCurrent).0,
        EvidenceStatus::NotApplicable,
        "no records yet"
    );
    assert_eq!(status_of(&items, EvidenceKind::KeyRotationAge), (EvidenceStatus::Pass, "0".into()));
    assert_eq!(
        status_of(&items, EvidenceKind::CompliantDevices).0,
        EvidenceStatus::NotApplicable,
        "no PCs yet"
    );

    // Beside the control: A.8.15 (logging) carries the verification, and TW-10 (incidents and
    // logs) shows it through its mapping to A.8.15.
    let annex = get("/api/v1/isms/soa").await;
    let line = |soa: &Value, ref_id: &str| {
        soa["lines"].as_array().unwrap().iter().find(|l| l["control"]["ref_id"] == ref_id).cloned().unwrap()
    };
    let logging = line(&annex, "A.8.15");
    let kinds: Vec<&str> =
        logging["evidence"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"audit_log_verified"), "{logging}");
    assert_eq!(logging["evidence_status"], "pass", "{logging}");
    let tw10 = line(&get("/api/v1/isms/soa?catalog=urn:mamori:catalog:telework").await, "TW-10");
    assert!(tw10["mapped"].as_array().unwrap().iter().any(|m| m == A_8_15), "{tw10}");
    assert!(tw10["evidence"].as_array().unwrap().iter().any(|e| e["kind"] == "audit_log_verified"), "{tw10}");
    assert_eq!(line(&annex, "A.8.5")["evidence_status"], "pass", "second factors of privileged accounts");
    // The security admin's second factor removed behind Mamori's back: the next measurement fails.
    let mut tx = s.core.store().begin().await.unwrap();
    tx.disable_totp(&admin.user.id).await.unwrap();
    tx.commit().await.unwrap();
    let checked = s.core.refresh_evidence(&[EvidenceKind::PrivilegedSecondFactor]).await.unwrap();
    assert_eq!((checked[0].status, checked[0].value.as_str()), (EvidenceStatus::Fail, "0/1"));
    assert_eq!(line(&get("/api/v1/isms/soa").await, "A.8.5")["evidence_status"], "fail");

    s.clock.advance(Duration::from_secs(60));
    // One changed byte in the stored log: the next check fails, names the entry, and says so
    // in the log.
    s.tamper("UPDATE audit_entries SET action = 'catalog.imporT' WHERE idx = 1").await;
    let checked = s.core.refresh_evidence(&[EvidenceKind::AuditLogVerified]).await.unwrap();
    assert_eq!(checked[0].status, EvidenceStatus::Fail);
    assert!(checked[0].value.contains("entry 1"), "{checked:?}");
    let flips = s.audit("evidence.change").await;
    let flip = flips
        .iter()
        .find(|e| e.object.as_deref() == Some("evidence:audit_log_verified") && e.details["to"] == "fail");
    let flip = flip.unwrap_or_else(|| panic!("{flips:?}"));
    assert_eq!((flip.actor.as_str(), flip.details["from"].as_str()), ("system", "pass"));
    let annex = get("/api/v1/isms/soa").await;
    assert_eq!(line(&annex, "A.8.15")["evidence_status"], "fail");

    // The history keeps both results: as of a moment before the tampering it verified.
    let before = flip.time.0 - 1;
    let then = s
        .core
        .isms
        .evidence(&admin, Some(mamori_domain::UnixMillis(before)), &Default::default())
        .await
        .unwrap();
    assert_eq!(status_of(&then, EvidenceKind::AuditLogVerified).0, EvidenceStatus::Pass);
    let history = s
        .core
        .isms
        .evidence_history(&admin, EvidenceKind::AuditLogVerified, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        history.iter().map(|h| h.status).collect::<Vec<_>>(),
        [EvidenceStatus::Fail, EvidenceStatus::Pass]
    );
}
both_backends!(catalogs_ship_with_live_evidence);

/// Evidence follows events, not a nightly batch: a change that alters a measurement is
/// reflected by the running evidence task within seconds, with no one asking.
async fn evidence_follows_events(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = principal(s.user("sec", &[Role::SecurityAdmin]).await);
    measured(&s, &admin).await;
    // The test's user is written straight into the store (no event): measured once by hand, so
    // the task's first measurement racing its creation does not matter.
    let before = s.core.refresh_evidence(&[EvidenceKind::PrivilegedSecondFactor]).await.unwrap();
    assert_eq!(status_of(&before, EvidenceKind::PrivilegedSecondFactor).1, "1/1");
    // An operator (with no second factor) made supervisor: one more privileged account, and
    // it has none.
    let ctx = Default::default();
    s.core
        .identity
        .set_user_roles(&admin, &s.user("sv", &[Role::Operator]).await.id, &[Role::Supervisor], &ctx)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        let items = s.core.isms.evidence(&admin, None, &ctx).await.unwrap();
        if status_of(&items, EvidenceKind::PrivilegedSecondFactor).1 == "1/2" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "the evidence did not follow: {items:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
both_backends!(evidence_follows_events);

/// A control's line is decided by a security admin and kept as versions; each is audited; an
/// auditor reads the SoA as it stood at a date; bad decisions are refused by field.
async fn soa_decisions_are_versions(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = principal(s.user("sec", &[Role::SecurityAdmin]).await);
    let owner = s.user("owner", &[Role::Supervisor]).await;
    let token = s.token(admin.user.clone(), &[Permission::IsmsRead, Permission::IsmsManage]).await;
    let api = reqwest::Client::new();
    let put = |urn: &str, body: Value| {
        api.put(s.url(&format!("/api/v1/isms/controls/{urn}/soa"))).bearer_auth(&token).json(&body).send()
    };
    let a_5_1 = "urn:mamori:control:iso27001-2022:a.5.1";
    let r = put(a_5_1, json!({"applicable": true, "justification": "基本方針を定める", "implementation": "partial", "owner_id": owner.id, "review_on": "2027-04-01"})).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["version"], 1);
    let first_decided = s.core.now();
    s.clock.advance(Duration::from_secs(60));
    let decision = SoaDecision {
        applicable: true,
        justification: "基本方針・対策基準を承認済み".into(),
        implementation: Implementation::Implemented,
        owner_id: Some(owner.id.clone()),
        review_on: None,
    };
    assert_eq!(s.core.isms.decide(&admin, a_5_1, decision, &Default::default()).await.unwrap(), 2);

    let detail: Value = api
        .get(s.url(&format!("/api/v1/isms/controls/{a_5_1}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["line"]["entry"]["version"], 2);
    assert_eq!(detail["line"]["entry"]["owner_name"], owner.display_name.as_str());
    let versions: Vec<i64> =
        detail["history"].as_array().unwrap().iter().map(|h| h["version"].as_i64().unwrap()).collect();
    assert_eq!(versions, [2, 1]);
    let changes = s.audit("soa.change").await;
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0].object.as_deref(), Some(format!("control:{a_5_1}").as_str()));
    assert_eq!(changes[0].actor, format!("user:{}", admin.user.id));

    // The SoA as CSV, for a spreadsheet (with a byte-order mark) or the auditor's file.
    let r = api.get(s.url("/api/v1/isms/soa/export")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.bytes().await.unwrap();
    assert!(csv.starts_with(&[0xEF, 0xBB, 0xBF]));
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 94, "a header and the 93 controls");
    assert!(lines[0].starts_with("catalog,ref_id,name,name_ja,applicable"));
    let row = lines.iter().find(|l| l.contains(",A.5.1,")).unwrap();
    assert!(
        row.contains("true,基本方針・対策基準を承認済み,implemented") && row.contains(&owner.display_name),
        "{row}"
    );

    // The SoA as PDF, in the caller's language (Japanese here), the font embedded.
    let r = api.get(s.url("/api/v1/isms/soa/export?format=pdf")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"mamori-soa-ISOIEC270012022AnnexA.pdf\""
    );
    let pdf = r.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF"), "a PDF");
    if let Ok(mut child) = std::process::Command::new("pdftotext")
        .args(["-raw", "-enc", "UTF-8", "-", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&pdf).unwrap();
        let text = String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout).into_owned();
        // Cells wrap: compare without the line breaks and spaces.
        let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        for expected in [
            "適用宣言書",
            "A.5.1",
            "情報セキュリティのための方針群",
            "基本方針・対策基準を承認済み",
            "実施済み",
            "A.8.15",
        ] {
            assert!(text.contains(&expected.replace(' ', "")), "{expected} in the PDF: {text}");
        }
        assert!(text.contains(&owner.display_name.replace(' ', "")), "the owner in the PDF: {text}");
    } else {
        assert!(std::env::var("CI").is_err(), "pdftotext is installed by scripts/install-test-deps.sh");
    }
    // In English for an English reader.
    let r = api
        .get(s.url("/api/v1/isms/soa/export?format=pdf"))
        .header("accept-language", "en")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let pdf = r.bytes().await.unwrap();
    if let Ok(mut child) = std::process::Command::new("pdftotext")
        .args(["-raw", "-enc", "UTF-8", "-", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&pdf).unwrap();
        let text = String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout).into_owned();
        // Cells wrap: compare without the line breaks and spaces.
        let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        for expected in ["Statement of Applicability", "Policies for information security", "CONFIDENTIAL"] {
            assert!(text.contains(&expected.replace(' ', "")), "{expected} in the English PDF: {text}");
        }
    }
    // An unknown format is a bad query, named.
    let r = api.get(s.url("/api/v1/isms/soa/export?format=xlsx")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let p: Value = r.json().await.unwrap();
    assert_eq!((p["code"].as_str(), p["field"].as_str()), (Some("invalid_query"), Some("format")), "{p}");
    // `format=csv` is the default.
    let r = api.get(s.url("/api/v1/isms/soa/export?format=csv")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");

    // As it stood after the first decision.
    let auditor = principal(s.user("audit", &[Role::Auditor]).await);
    let then = s.core.isms.soa(&auditor, None, Some(first_decided), &Default::default()).await.unwrap();
    let line = then.lines.iter().find(|l| l.control.urn == a_5_1).unwrap();
    assert_eq!(line.entry.as_ref().map(|e| (e.version, e.implementation.as_str())), Some((1, "partial")));

    // Refusals, each naming what to change; nothing is written.
    let refused = |body: Value, urn: &'static str| {
        let r = put(urn, body);
        async move {
            let r = r.await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, p) = refused(json!({"applicable": false, "implementation": "not_started"}), a_5_1).await;
    assert_eq!(
        (status, p["code"].as_str(), p["field"].as_str()),
        (422, Some("required"), Some("justification")),
        "{p}"
    );
    let (status, p) = refused(json!({"applicable": true, "implementation": "done"}), a_5_1).await;
    assert_eq!((status, p["code"].as_str()), (422, Some("invalid_field")), "{p}");
    let (status, p) =
        refused(json!({"applicable": true, "implementation": "planned", "review_on": "2027-02-30"}), a_5_1)
            .await;
    assert_eq!((status, p["field"].as_str()), (422, Some("review_on")), "{p}");
    let (status, p) =
        refused(json!({"applicable": true, "implementation": "planned", "owner_id": "nobody"}), a_5_1).await;
    assert_eq!((status, p["field"].as_str()), (422, Some("owner_id")), "{p}");
    let (status, _) = refused(
        json!({"applicable": true, "implementation": "planned"}),
        "urn:mamori:control:iso27001-2022:a.5",
    )
    .await;
    assert_eq!(status, 404, "a theme is not decided");
    let (status, _) =
        refused(json!({"applicable": true, "implementation": "planned"}), "urn:mamori:control:nothing:1")
            .await;
    assert_eq!(status, 404);
    assert_eq!(s.audit("soa.change").await.len(), 2, "nothing refused was written");

    // An auditor reads but does not decide; an operator does not read.
    let auditor_token = s.token(auditor.user.clone(), &[Permission::IsmsRead]).await;
    let r = api
        .put(s.url(&format!("/api/v1/isms/controls/{a_5_1}/soa")))
        .bearer_auth(&auditor_token)
        .json(&json!({"applicable": true, "implementation": "planned"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let operator = principal(s.user("op", &[Role::Operator]).await);
    assert!(s.core.isms.soa(&operator, None, None, &Default::default()).await.is_err());
}
both_backends!(soa_decisions_are_versions);

/// A centre imports its own catalog (Mamori's format or a CISO Assistant library): a dry run
/// changes nothing; a bad file is refused whole with where and what; a built-in catalog is
/// not replaced by an import.
async fn a_catalog_is_imported_whole_or_not_at_all(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = principal(s.user("sec", &[Role::SecurityAdmin]).await);
    let token = s.token(admin.user.clone(), &[Permission::IsmsRead, Permission::IsmsManage]).await;
    let api = reqwest::Client::new();
    let import = |yaml: String, query: &str, content_type: &str| {
        api.post(s.url(&format!("/api/v1/isms/catalogs{query}")))
            .bearer_auth(&token)
            .header("content-type", content_type.to_owned())
            .body(yaml)
            .send()
    };
    let own = |mapping_to: &str| {
        format!(
            "format: 1\nurn: urn:acme:catalog:client-rules\nref_id: ACME\nname: Client A's rules\nversion: 1\n\
             translations:\n  ja:\n    name: A社 委託元規程\ncontrols:\n  - urn: urn:acme:control:1\n    ref_id: \"1\"\n\
             \x20   name: Recordings kept 90 days\n    assessable: true\n    translations:\n      ja:\n        name: 録音の90日保存\n\
             mappings:\n  - from: urn:acme:control:1\n    to: {mapping_to}\n"
        )
    };
    let r = import(own(A_8_15), "?dry_run=true", "application/yaml").await.unwrap();
    assert_eq!(r.status(), 200);
    let summary: Value = r.json().await.unwrap();
    assert_eq!(
        (summary["controls"].as_i64(), summary["mappings"].as_i64(), summary["dry_run"].as_bool()),
        (Some(1), Some(1), Some(true))
    );
    assert_eq!(
        s.core.isms.catalogs(&admin, &Default::default()).await.unwrap().len(),
        3,
        "a dry run installs nothing"
    );

    let r = import(own("urn:mamori:control:iso27001-2022:a.99.1"), "", "application/yaml").await.unwrap();
    assert_eq!(r.status(), 422);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["code"], "invalid_catalog");
    assert!(p["detail"].as_str().unwrap().contains("a.99.1"), "{p}");
    let r = import("urn: [".into(), "", "application/yaml").await.unwrap();
    let p: Value = r.json().await.unwrap();
    assert!(p["detail"].as_str().unwrap().contains("line 1"), "{p}");
    let r = import(own(A_8_15), "", "text/csv").await.unwrap();
    assert_eq!(r.status(), 415);
    let built_in = own(A_8_15).replace("urn:acme:catalog:client-rules", ANNEX_A);
    let r = import(built_in, "", "application/yaml").await.unwrap();
    assert_eq!(r.status(), 422, "a built-in catalog is not replaced");
    assert_eq!(s.audit("catalog.import").await.len(), 3, "nothing refused was written");

    let r = import(own(A_8_15), "", "application/yaml").await.unwrap();
    assert_eq!(r.status(), 200);
    let soa = s
        .core
        .isms
        .soa(&admin, Some("urn:acme:catalog:client-rules"), None, &Default::default())
        .await
        .unwrap();
    assert_eq!(soa.catalog.name_ja.as_deref(), Some("A社 委託元規程"));
    assert_eq!(soa.lines[0].mapped[0].urn, A_8_15);
    let imports = s.audit("catalog.import").await;
    assert!(imports[0].actor.starts_with("token:"), "{:?}", imports[0]);
    assert_eq!(imports[0].details["built_in"], "false");
}
both_backends!(a_catalog_is_imported_whole_or_not_at_all);

/// Waits until the followed assets match `done`.
async fn assets_until(
    s: &TestServer,
    who: &mamori_core::Principal,
    done: impl Fn(&[mamori_core::isms::assets::AssetView]) -> bool,
) -> Vec<mamori_core::isms::assets::AssetView> {
    for _ in 0..300 {
        let assets = s.core.isms.assets(who, true, &Default::default()).await.unwrap();
        if done(&assets) {
            return assets;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the followed assets did not come in step");
}

/// The asset register (issue 17, item 1; ISMS-1, TW-2): a ledger PC and a client company's
/// customer data appear as assets without retyping and stay in step (a revoked PC's asset
/// stays in force, flagged, and retires with its disposal record — LEAK-3); a person registers
/// the rest with the article's ratings; every version stays.
async fn assets_follow_the_ledger(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = principal(s.user("sec", &[Role::SecurityAdmin]).await);
    let op = s.user("op.a", &[Role::Operator]).await;
    let ctx = Default::default();
    s.core
        .identity
        .create_org_unit(&admin, mamori_store::OrgKind::Client, "通販A社", None, &ctx)
        .await
        .unwrap();
    let token = s
        .token(
            admin.user.clone(),
            &[
                Permission::DevicesManage,
                Permission::DevicesRead,
                Permission::IsmsRead,
                Permission::IsmsManage,
            ],
        )
        .await;
    let pc = crate::devices::enrol_agent(&s, &token, &op.id, "PC-A").await;

    let followed = |a: &[mamori_core::isms::assets::AssetView]| {
        a.iter().filter(|a| a.record.source != "manual").count() == 2
    };
    let assets = assets_until(&s, &admin, followed).await;
    let data = assets.iter().find(|a| a.record.source == "client_data").unwrap();
    assert_eq!(data.record.name, "顧客データ: 通販A社");
    assert_eq!(
        (data.record.kind.as_str(), data.record.confidentiality.as_str(), data.record.availability.as_str()),
        ("customer_data", "restricted", "always_on")
    );
    let device = assets.iter().find(|a| a.record.source == "device").unwrap();
    assert_eq!(
        (device.record.name.as_str(), device.record.source_id.as_deref()),
        ("PC-A", Some(pc.id.as_str()))
    );
    assert_eq!(device.owner.as_deref(), Some(op.display_name.as_str()), "the PC's person answers for it");
    assert_eq!(device.record.changed_by, "system");

    // Syncs racing each other (replicas, the evidence task) all succeed and make one asset.
    s.core
        .identity
        .create_org_unit(&admin, mamori_store::OrgKind::Client, "保険B社", None, &ctx)
        .await
        .unwrap();
    let (a, b, c) = tokio::join!(
        s.core.sync_followed_assets(),
        s.core.sync_followed_assets(),
        s.core.sync_followed_assets()
    );
    for synced in [a, b, c] {
        synced.unwrap();
    }
    let assets = s.core.isms.assets(&admin, true, &ctx).await.unwrap();
    assert_eq!(assets.iter().filter(|a| a.record.name == "顧客データ: 保険B社").count(), 1);

    // A person rates the PC higher; its name stays the ledger's.
    let api = reqwest::Client::new();
    let put = api
        .put(s.url(&format!("/api/v1/isms/assets/{}", device.record.id)))
        .bearer_auth(&token)
        .json(&json!({"kind": "equipment", "name": "renamed", "confidentiality": "restricted", "integrity": "high", "availability": "night_stop_ok", "review_on": "2027-03-31"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let detail: Value = api
        .get(s.url(&format!("/api/v1/isms/assets/{}", device.record.id)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (detail["asset"]["name"].as_str(), detail["asset"]["confidentiality"].as_str()),
        (Some("PC-A"), Some("restricted"))
    );
    assert_eq!(detail["history"].as_array().unwrap().len(), 2);

    // Software needs its allowed-list answer (TW-2); then it is registered.
    let post = |body: Value| api.post(s.url("/api/v1/isms/assets")).bearer_auth(&token).json(&body).send();
    let crm = json!({"kind": "cloud_service", "name": "クラウドCRM", "location": "東京リージョン", "confidentiality": "restricted", "integrity": "high", "availability": "always_on"});
    let r = post(crm.clone()).await.unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "allowed");
    let mut allowed = crm.clone();
    allowed["allowed"] = json!(true);
    let r = post(allowed).await.unwrap();
    assert_eq!(r.status(), 201);
    let crm_id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = post(json!({"kind": "premises", "name": "", "confidentiality": "internal", "integrity": "low", "availability": "always_on"})).await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "name");
    let r = post(json!({"kind": "premises", "name": "執務室", "confidentiality": "secret", "integrity": "low", "availability": "always_on"})).await.unwrap();
    assert_eq!(r.status(), 422, "an unknown grade");

    // A followed asset retires with its source, a registered one by hand.
    assert!(matches!(
        s.core.isms.retire_asset(&admin, &device.record.id, &ctx).await,
        Err(mamori_core::CoreError::Conflict(_))
    ));
    let retire = api
        .post(s.url(&format!("/api/v1/isms/assets/{crm_id}/retire")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(retire.status(), 204);
    s.core.devices.revoke_device(&admin, &pc.id, &ctx).await.unwrap();
    // Revoked: the asset stays in force, flagged, until its disposal is recorded.
    assets_until(&s, &admin, |a| a.iter().any(|a| a.record.source == "device" && a.revoked_not_disposed))
        .await;
    s.core.sync_followed_assets().await.unwrap();
    let in_force = s.core.isms.assets(&admin, false, &ctx).await.unwrap();
    assert_eq!(in_force.len(), 3, "the PC's asset is still in force");
    let witness = s.user("sv.witness", &[Role::Supervisor]).await;
    let disposal = mamori_domain::isms::disposal::DisposalInput {
        kind: mamori_domain::isms::disposal::DisposalKind::Pc,
        method: mamori_domain::isms::disposal::DisposalMethod::PhysicalDestruction,
        description: "PC-A".into(),
        serial: "SN-1".into(),
        quantity: None,
        disposed_on: mamori_domain::UnixMillis(s.core.now().0 + 9 * 3_600_000).rfc3339()[..10].to_owned(),
        witness_id: witness.id.clone(),
        company: String::new(),
        certificate: String::new(),
        notes: String::new(),
        asset_id: None,
        device_id: Some(pc.id.clone()),
    };
    s.core.isms.record_disposal(&admin, disposal, &ctx).await.unwrap();
    let assets = s.core.isms.assets(&admin, true, &ctx).await.unwrap();
    assert!(assets.iter().any(|a| a.record.source == "device" && a.record.retired_at.is_some()));
    assert_eq!(
        assets.iter().filter(|a| a.record.retired_at.is_none()).count(),
        2,
        "the two companies' customer data only"
    );
    let in_force = s.core.isms.assets(&admin, false, &ctx).await.unwrap();
    assert_eq!(in_force.len(), 2);
    let changes: Vec<String> =
        s.audit("asset.change").await.iter().map(|e| e.details["change"].clone()).collect();
    for change in ["create", "update", "retire", "dispose"] {
        assert!(changes.iter().any(|c| c == change), "{changes:?}");
    }
}
both_backends!(assets_follow_the_ledger);

/// One asset of the paged register's scenario: (name, kind, confidentiality, owner, location,
/// review date, retired).
struct Listed {
    name: String,
    kind: AssetKind,
    confidentiality: Confidentiality,
    /// 0: nobody, 1: the second owner, 2: the security admin.
    owner: usize,
    location: String,
    review_on: Option<&'static str>,
    retired: bool,
}

fn listed(i: usize) -> Listed {
    Listed {
        // A literal `%` in one name: the search takes it as itself, not as a wildcard.
        name: if i == 22 { format!("asset-{i:02} 100% copy") } else { format!("asset-{i:02}") },
        kind: AssetKind::ALL[i % AssetKind::ALL.len()],
        confidentiality: Confidentiality::ALL[i % 3],
        owner: [0, 1, 2, 2][i % 4],
        location: if i.is_multiple_of(3) { format!("Tokyo Floor {i}") } else { format!("大阪 第{i}") },
        review_on: [Some("2020-01-01"), Some("2099-12-31"), None, None, None][i % 5],
        retired: i == 3,
    }
}

/// The asset list pages and filters in the store (issue 17's benchmark: the list answers in
/// ≤ 200 ms whatever the register's size): `limit`/`offset` pages that never overlap, the total
/// on every page, each filter (kind, confidentiality, source, owner, text, overdue, retired),
/// the sorts; bad values are refused as `invalid_query` by name. The console page pages the
/// same way and shrugs off values that mean nothing.
async fn the_asset_list_pages_and_filters(backend: Backend) {
    let s = TestServer::start(backend).await;
    let sec = s.user("sec", &[Role::SecurityAdmin]).await;
    let admin = principal(sec.clone());
    let second = s.user("owner.b", &[Role::Supervisor]).await;
    let ctx = Default::default();
    let all: Vec<Listed> = (0..23).map(listed).collect();
    let mut ids = Vec::new();
    for a in &all {
        let listed = matches!(a.kind, AssetKind::Software | AssetKind::CloudService);
        let input = AssetInput {
            kind: a.kind,
            name: a.name.clone(),
            owner_id: [None, Some(second.id.clone()), Some(sec.id.clone())][a.owner].clone(),
            location: a.location.clone(),
            confidentiality: a.confidentiality,
            integrity: Integrity::Medium,
            availability: Availability::AlwaysOn,
            allowed: listed.then_some(true),
            review_on: a.review_on.map(str::to_owned),
            notes: String::new(),
        };
        let id = s.core.isms.create_asset(&admin, input, &ctx).await.unwrap();
        if a.retired {
            s.core.isms.retire_asset(&admin, &id, &ctx).await.unwrap();
        }
        ids.push(id);
    }
    let in_force: Vec<&Listed> = all.iter().filter(|a| !a.retired).collect();
    assert_eq!(s.core.isms.assets(&admin, false, &ctx).await.unwrap().len(), in_force.len(), "nothing else");
    let token = s.token(sec.clone(), &[Permission::IsmsRead]).await;
    let api = reqwest::Client::new();
    let get = |query: String| {
        let r = api.get(s.url(&format!("/api/v1/isms/assets{query}"))).bearer_auth(&token).send();
        async move {
            let r = r.await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let names = |page: &Value| -> Vec<String> {
        page["assets"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_owned()).collect()
    };
    let count = |f: &dyn Fn(&&Listed) -> bool| in_force.iter().filter(|a| f(a)).count() as i64;

    // Paging: three pages of 10 that never overlap and add up to the register, in name order.
    let mut expected: Vec<String> = in_force.iter().map(|a| a.name.clone()).collect();
    expected.sort();
    let mut seen = Vec::new();
    let mut offset = Some(0);
    let mut pages = 0;
    while let Some(o) = offset {
        let (status, page) = get(format!("?limit=10&offset={o}")).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(
            (page["total"].as_i64(), page["offset"].as_i64(), page["limit"].as_i64()),
            (Some(22), Some(o), Some(10))
        );
        seen.extend(names(&page));
        offset = page["next_offset"].as_i64();
        pages += 1;
    }
    assert_eq!((pages, &seen), (3, &expected), "three pages, in name order, nothing twice");
    let (_, last) = get("?limit=10&offset=20".into()).await;
    assert_eq!((names(&last).len(), last["next_offset"].is_null()), (2, true), "{last}");
    let (status, past) = get("?offset=22".into()).await;
    assert_eq!(
        (status, names(&past).len(), past["total"].as_i64()),
        (200, 0, Some(22)),
        "past the end: empty"
    );
    let (_, past) = get("?offset=100000".into()).await;
    assert_eq!(names(&past).len(), 0);
    let (_, first) = get(String::new()).await;
    assert_eq!(
        (names(&first), first["limit"].as_i64()),
        (expected.clone(), Some(100)),
        "100 a page by default"
    );
    let overdue = count(&|a| a.review_on == Some("2020-01-01"));
    assert_eq!(first["overdue"].as_i64(), Some(overdue), "reviews overdue counted over every page");
    let (_, one) = get("?limit=1&offset=21".into()).await;
    assert_eq!((names(&one), one["next_offset"].is_null()), (vec![expected[21].clone()], true));

    // Each filter narrows, in the store; the total counts what matches.
    let total = |page: &Value| page["total"].as_i64().unwrap();
    let (_, retired) = get("?include_retired=true".into()).await;
    assert_eq!(total(&retired), 23, "retired ones too");
    assert!(names(&retired).contains(&"asset-03".to_owned()));
    let (_, documents) = get("?kind=document".into()).await;
    assert_eq!(total(&documents), count(&|a| a.kind == AssetKind::Document));
    assert!(documents["assets"].as_array().unwrap().iter().all(|a| a["kind"] == "document"));
    let (_, restricted) = get("?confidentiality=restricted".into()).await;
    assert_eq!(total(&restricted), count(&|a| a.confidentiality == Confidentiality::Restricted));
    let (_, both) = get("?kind=software&confidentiality=public".into()).await;
    assert_eq!(
        total(&both),
        count(&|a| a.kind == AssetKind::Software && a.confidentiality == Confidentiality::Public)
    );
    let (_, manual) = get("?source=manual".into()).await;
    let (_, devices) = get("?source=device".into()).await;
    assert_eq!((total(&manual), total(&devices)), (22, 0));
    let (_, owned) = get(format!("?owner={}", second.id)).await;
    assert_eq!(total(&owned), count(&|a| a.owner == 1));
    assert!(
        owned["assets"].as_array().unwrap().iter().all(|a| a["owner_name"] == second.display_name.as_str())
    );
    let (_, nobody) = get("?owner=none".into()).await;
    assert_eq!(total(&nobody), count(&|a| a.owner == 0));
    assert!(nobody["assets"].as_array().unwrap().iter().all(|a| a["owner_id"].is_null()));
    let (_, tokyo) = get("?q=tOKYO".into()).await;
    assert_eq!(total(&tokyo), count(&|a| a.location.starts_with("Tokyo")), "letters in any case");
    let (_, osaka) = get(format!("?q={}", query_value("大阪 第1"))).await;
    assert_eq!(total(&osaka), count(&|a| a.location.starts_with("大阪 第1")));
    let (_, by_name) = get("?q=ASSET-1".into()).await;
    assert_eq!(total(&by_name), 10, "asset-10 … asset-19");
    let (_, percent) = get("?q=%25".into()).await;
    assert_eq!(names(&percent), vec!["asset-22 100% copy".to_owned()], "`%` is itself");
    let (_, underscore) = get("?q=_".into()).await;
    assert_eq!(total(&underscore), 0, "`_` is itself");
    let (_, late) = get("?overdue=true&limit=2".into()).await;
    assert_eq!((total(&late), late["overdue"].as_i64(), names(&late).len()), (overdue, Some(overdue), 2));
    assert!(late["assets"].as_array().unwrap().iter().all(|a| a["review_on"] == "2020-01-01"));

    // The sorts.
    let (_, by_review) = get("?sort=review_on".into()).await;
    let reviews: Vec<Option<&str>> =
        by_review["assets"].as_array().unwrap().iter().map(|a| a["review_on"].as_str()).collect();
    let dated = reviews.iter().filter(|r| r.is_some()).count();
    assert!(reviews[..dated].windows(2).all(|w| w[0] <= w[1]), "earliest first: {reviews:?}");
    assert!(reviews[dated..].iter().all(Option::is_none), "those without one last: {reviews:?}");
    let (_, by_kind) = get("?sort=kind".into()).await;
    let kinds: Vec<&str> =
        by_kind["assets"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert!(kinds.windows(2).all(|w| w[0] <= w[1]), "{kinds:?}");

    // Bad values: refused by name, nothing crashes.
    let long = "x".repeat(201);
    for (query, field) in [
        ("?limit=0", Some("limit")),
        ("?limit=100000", Some("limit")),
        ("?limit=-5", Some("limit")),
        ("?limit=ten", Some("limit")),
        ("?offset=-1", Some("offset")),
        ("?offset=99999999999999999999", Some("offset")),
        ("?kind=spaceship", Some("kind")),
        ("?confidentiality=secret", Some("confidentiality")),
        ("?source=spreadsheet", Some("source")),
        ("?sort=colour", Some("sort")),
        ("?owner=bob", Some("owner")),
        ("?include_retired=maybe", Some("include_retired")),
        (&format!("?q={long}"), Some("q")),
        ("?colour=red", None),
    ] {
        let (status, problem) = get(query.to_owned()).await;
        assert_eq!(status, 400, "{query}: {problem}");
        assert_eq!(problem["code"], "invalid_query", "{query}: {problem}");
        if let Some(field) = field {
            assert_eq!(problem["field"], field, "{query}: {problem}");
        }
    }

    // The console page: 100 a page, "1–N of M", filters as a GET form; nonsense is ignored.
    let b = s.signed_in("sec").await;
    let html = b.get("/isms/assets?kind=document&sort=kind").await.text().await.unwrap();
    let documents = count(&|a| a.kind == AssetKind::Document);
    assert!(html.contains(&format!("{documents}件中 1–{documents}件")), "{html}");
    assert!(html.contains(r#"<option value="document" selected>"#), "the form keeps the filter");
    let html = b.get("/isms/assets?q=asset-1&offset=5").await.text().await.unwrap();
    assert!(
        html.contains("10件中 6–10件") && html.contains("asset-15") && !html.contains("asset-14<"),
        "{html}"
    );
    assert!(html.contains(r#"id="asset-prev""#) && !html.contains(r#"id="asset-next""#));
    let r = b.get("/isms/assets?kind=spaceship&offset=abc&sort=colour&owner=bob").await;
    assert_eq!(r.status(), 200, "nonsense in the form is ignored");
    assert!(r.text().await.unwrap().contains("22件中 1–22件"));
}
both_backends!(the_asset_list_pages_and_filters);

/// `text` for a query string: every byte but letters and digits as `%XX`.
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// Risks (issue 17, item 2; ISMS-2): rated on the assessment's matrix by grid lookup, inherent
/// and residual, above or below the appetite, counted on the heat map, linked to assets and to
/// the controls that treat them (which show them in the SoA); every version kept; a new
/// assessment's own matrix does not touch the old one's ratings.
async fn risks_are_rated_on_their_matrix(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = principal(s.user("sec", &[Role::SecurityAdmin]).await);
    let token = s.token(admin.user.clone(), &[Permission::IsmsRead, Permission::IsmsManage]).await;
    let api = reqwest::Client::new();
    let post = |path: &str, body: Value| api.post(s.url(path)).bearer_auth(&token).json(&body).send();
    let get = |path: &str| {
        let r = api.get(s.url(path)).bearer_auth(&token).send();
        async move { r.await.unwrap().json::<Value>().await.unwrap() }
    };
    let asset = post("/api/v1/isms/assets", json!({"kind": "document", "name": "紙の申込書", "confidentiality": "restricted", "integrity": "medium", "availability": "daytime_stop_ok"})).await.unwrap();
    let asset_id = asset.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let a_8_12 = "urn:mamori:control:iso27001-2022:a.8.12";
    let copying = json!({
        "title": "委託先社員による顧客情報の書き写し", "threat": "内部不正", "vulnerability": "閲覧件数の監視がない",
        "asset_ids": [asset_id], "inherent": {"probability": 3, "impact": 4}, "residual": {"probability": 1, "impact": 4},
        "treatment": "reduce", "control_urns": [a_8_12], "due_on": "2027-03-31"
    });
    let r = post("/api/v1/isms/risks", copying.clone()).await.unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = post(
        "/api/v1/isms/risks",
        json!({"title": "停電", "inherent": {"probability": 2, "impact": 3}, "treatment": "undecided"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);

    let register = get("/api/v1/isms/risks").await;
    assert_eq!(register["assessment"]["name"], "リスクアセスメント");
    let risks = register["risks"].as_array().unwrap();
    assert_eq!(risks.len(), 2);
    let first = &risks[0];
    assert_eq!(
        (first["number"].as_i64(), first["inherent"]["level"].as_i64(), first["residual"]["level"].as_i64()),
        (Some(1), Some(4), Some(2))
    );
    assert_eq!(first["above_appetite"], false, "reduced below high");
    assert_eq!(
        (risks[1]["inherent"]["level"].as_i64(), risks[1]["above_appetite"].as_bool()),
        (Some(3), Some(true)),
        "grid[2][3] is high"
    );
    assert_eq!(register["inherent_heat"][3][4], 1);
    assert_eq!(register["residual_heat"][1][4], 1);
    assert_eq!(register["residual_heat"][2][3], 1, "not yet re-rated: counted at its inherent rating");

    // The control that treats it lists it in the SoA.
    let soa = s.core.isms.soa(&admin, None, None, &Default::default()).await.unwrap();
    let dlp = soa.lines.iter().find(|l| l.control.urn == a_8_12).unwrap();
    assert_eq!(
        dlp.risks.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
        ["R-1 委託先社員による顧客情報の書き写し"]
    );
    // With the asset the risk threatens (ISMS-1 ↔ SoA), in the API and on the control's page.
    let line = get("/api/v1/isms/soa").await["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["control"]["urn"] == a_8_12)
        .cloned()
        .unwrap();
    assert_eq!(line["risks"][0]["id"], id.as_str());
    assert_eq!(
        (line["assets"][0]["id"].as_str(), line["assets"][0]["name"].as_str()),
        (Some(asset_id.as_str()), Some("紙の申込書"))
    );
    let b = s.signed_in("sec").await;
    let page = b.get(&format!("/isms/controls/{a_8_12}")).await.text().await.unwrap();
    assert!(page.contains("class=\"linked-asset\">紙の申込書</a>"), "{page}");
    assert!(page.contains(&format!("/isms/risks/{id}")), "the risk links to its page");

    // A change is a version; the history keeps the links as they were.
    let mut accepted = copying.clone();
    accepted["treatment"] = json!("accept");
    accepted["control_urns"] = json!([]);
    let r = api
        .put(s.url(&format!("/api/v1/isms/risks/{id}")))
        .bearer_auth(&token)
        .json(&accepted)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["version"], 2);
    let detail = get(&format!("/api/v1/isms/risks/{id}")).await;
    assert_eq!(detail["risk"]["control_urns"], json!([]));
    assert_eq!(detail["history"][1]["control_urns"], json!([a_8_12]));
    assert_eq!(s.audit("risk.change").await.len(), 3);

    // Refusals name the field; nothing refused is written.
    let refused = |mut body: Value, key: &str, value: Value| {
        body[key] = value;
        let r = post("/api/v1/isms/risks", body);
        async move {
            let r = r.await.unwrap();
            assert_eq!(r.status(), 422);
            r.json::<Value>().await.unwrap()["field"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(
        refused(copying.clone(), "inherent", json!({"probability": 5, "impact": 0})).await,
        "inherent"
    );
    assert_eq!(refused(copying.clone(), "control_urns", json!([])).await, "control_urns");
    assert_eq!(
        refused(copying.clone(), "control_urns", json!(["urn:mamori:control:nothing:1"])).await,
        "control_urns"
    );
    assert_eq!(
        refused(copying.clone(), "asset_ids", json!(["7d0e6d9c-0000-4000-8000-000000000000"])).await,
        "asset_ids"
    );
    assert_eq!(refused(copying.clone(), "title", json!(" ")).await, "title");
    assert_eq!(s.audit("risk.change").await.len(), 3);

    // A new assessment (a year on) with a 3×3 matrix of its own; the first one's ratings stay.
    s.clock.advance(Duration::from_secs(3600));
    let three = |levels: Value| {
        json!({
            "probability": [{"en": "Low", "ja": "低"}, {"en": "Mid", "ja": "中"}, {"en": "High", "ja": "高"}],
            "impact": [{"en": "Low", "ja": "低"}, {"en": "Mid", "ja": "中"}, {"en": "High", "ja": "高"}],
            "levels": levels,
            "grid": [[0, 0, 1], [0, 1, 2], [1, 2, 2]]
        })
    };
    let levels = json!([{"en": "Low", "ja": "低", "color": "#2e7d32"}, {"en": "Mid", "ja": "中", "color": "#fbc02d"}, {"en": "High", "ja": "高", "color": "#c62828"}]);
    let r = post("/api/v1/isms/risk-assessments", json!({"name": "2027年度", "matrix": three(json!([{"en": "Low", "ja": "低", "color": "green"}, {"en": "Mid", "ja": "中", "color": "#fbc02d"}, {"en": "High", "ja": "高", "color": "#c62828"}])), "appetite": 2})).await.unwrap();
    assert_eq!(r.status(), 422, "a colour is #rrggbb");
    let r = post(
        "/api/v1/isms/risk-assessments",
        json!({"name": "2027年度", "matrix": three(levels), "appetite": 2}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let next = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = api
        .post(s.url(&format!("/api/v1/isms/risks?assessment={next}")))
        .bearer_auth(&token)
        .json(
            &json!({"title": "停電", "inherent": {"probability": 3, "impact": 0}, "treatment": "undecided"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "grade 3 is outside a 3×3 matrix");
    let r = api
        .post(s.url(&format!("/api/v1/isms/risks?assessment={next}")))
        .bearer_auth(&token)
        .json(
            &json!({"title": "停電", "inherent": {"probability": 2, "impact": 1}, "treatment": "undecided"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let newest = get("/api/v1/isms/risks").await;
    assert_eq!(
        (
            newest["assessment"]["name"].as_str(),
            newest["risks"][0]["inherent"]["level"].as_i64(),
            newest["risks"][0]["number"].as_i64()
        ),
        (Some("2027年度"), Some(2), Some(1))
    );
    let old =
        get(&format!("/api/v1/isms/risks?assessment={}", register["assessment"]["id"].as_str().unwrap()))
            .await;
    assert_eq!(old["risks"][0]["inherent"]["level"], 4, "the old assessment's matrix is unchanged");
}
both_backends!(risks_are_rated_on_their_matrix);

/// A day in Japan `days` from the server's now, as `YYYY-MM-DD`.
fn jst_day(s: &TestServer, days: i64) -> String {
    mamori_domain::UnixMillis(s.core.now().0 + 9 * 3_600_000 + days * 86_400_000).rfc3339()[..10].to_owned()
}

/// Vendors, subcontractors and certificates (issue 17, items 5 and 6; VEND-1…6): the chain
/// of outsourcers (never a loop), the client companies whose data each handles, an assessment
/// on the article's criteria giving a tier and a reassessment date, site visits, and
/// certificates watched for expiry — the centre's own Privacy Mark ending in 20 days is urgent
/// until its renewal is recorded.
async fn vendors_and_certificates_are_watched(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = principal(s.user("sec", &[Role::SecurityAdmin]).await);
    let ctx = Default::default();
    let client = s
        .core
        .identity
        .create_org_unit(&admin, mamori_store::OrgKind::Client, "通販A社", None, &ctx)
        .await
        .unwrap();
    let token = s.token(admin.user.clone(), &[Permission::IsmsRead, Permission::IsmsManage]).await;
    let api = reqwest::Client::new();
    let post = |path: String, body: Value| api.post(s.url(&path)).bearer_auth(&token).json(&body).send();
    let get = |path: String| {
        let r = api.get(s.url(&path)).bearer_auth(&token).send();
        async move { r.await.unwrap().json::<Value>().await.unwrap() }
    };
    let created = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    };
    let a = created(post("/api/v1/isms/vendors".into(), json!({"name": "北海道コール株式会社", "client_ids": [client.id], "data_handled": "氏名・電話番号・注文履歴"})).await.unwrap()).await;
    let b = created(
        post(
            "/api/v1/isms/vendors".into(),
            json!({"name": "札幌テレサービス", "parent_id": a, "client_ids": [client.id]}),
        )
        .await
        .unwrap(),
    )
    .await;
    // A loop in the chain is refused.
    let r = api
        .put(s.url(&format!("/api/v1/isms/vendors/{a}")))
        .bearer_auth(&token)
        .json(&json!({"name": "北海道コール株式会社", "parent_id": b}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "parent_id");
    let r = post("/api/v1/isms/vendors".into(), json!({"name": "X", "client_ids": ["no-such-client"]}))
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "client_ids");

    // The centre's own Privacy Mark ends in 20 days; the vendor's ISMS runs for years.
    let own = json!({"scheme": "privacy_mark", "number": "第10820001(05)号", "issuer": "JIPDEC", "first_obtained_on": "2016-04-01", "issued_on": jst_day(&s, 20 - 730), "expires_on": jst_day(&s, 20)});
    created(post("/api/v1/isms/certificates".into(), own.clone()).await.unwrap()).await;
    created(post(format!("/api/v1/isms/vendors/{a}/certificates"), json!({"scheme": "iso27001", "number": "IS 123456", "first_obtained_on": jst_day(&s, -300), "issued_on": jst_day(&s, -300), "expires_on": jst_day(&s, 700)})).await.unwrap()).await;
    let mut too_long = own.clone();
    too_long["expires_on"] = json!(jst_day(&s, 400));
    let r = post("/api/v1/isms/certificates".into(), too_long).await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.json::<Value>().await.unwrap()["field"].as_str().map(str::to_owned)),
        (422, Some("expires_on".into())),
        "a Privacy Mark is valid 2 years"
    );
    let mut backwards = own.clone();
    backwards["first_obtained_on"] = json!(jst_day(&s, 30));
    assert_eq!(post("/api/v1/isms/certificates".into(), backwards).await.unwrap().status(), 422);

    let certificates = get("/api/v1/isms/certificates".into()).await;
    let mark =
        certificates.as_array().unwrap().iter().find(|c| c["scheme"] == "privacy_mark").unwrap().clone();
    assert_eq!(mark["notices"][0], json!({"kind": "expires_soon", "days": 20}), "{mark}");
    assert_eq!(mark["holder"], "");
    assert!(mark["held_years"].as_i64().unwrap() >= 10);
    let iso = certificates.as_array().unwrap().iter().find(|c| c["scheme"] == "iso27001").unwrap().clone();
    assert_eq!(iso["holder"], "北海道コール株式会社");
    // Issued 300 days ago: the first surveillance audit falls due in about 65 days.
    assert_eq!(
        (iso["notices"][0]["kind"].as_str(), iso["notices"][0]["year"].as_i64()),
        (Some("surveillance_due"), Some(1)),
        "{iso}"
    );

    // The renewal is recorded: the old mark is no longer urgent, and both stay.
    let mut renewal = own.clone();
    renewal["issued_on"] = json!(jst_day(&s, 21));
    renewal["expires_on"] = json!(jst_day(&s, 21 + 729));
    created(post("/api/v1/isms/certificates".into(), renewal).await.unwrap()).await;
    let certificates = get("/api/v1/isms/certificates".into()).await;
    let marks: Vec<&Value> =
        certificates.as_array().unwrap().iter().filter(|c| c["scheme"] == "privacy_mark").collect();
    assert_eq!(marks.len(), 2);
    assert!(marks.iter().any(|m| m["renewed"] == true && m["notices"] == json!([])), "{marks:?}");

    // An assessment: no NDA makes the tier high whatever the rest; reassessed in six months.
    let mut scores = serde_json::Map::new();
    for c in mamori_domain::isms::vendor::Criterion::ALL {
        scores.insert(
            c.as_str().to_owned(),
            json!(if c == mamori_domain::isms::vendor::Criterion::Nda { 1 } else { 5 }),
        );
    }
    let r = post(
        format!("/api/v1/isms/vendors/{a}/assessments"),
        json!({"assessed_on": "2026-11-01", "scores": scores}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let assessment: Value = r.json().await.unwrap();
    assert_eq!(
        (assessment["total"].as_i64(), assessment["tier"].as_str(), assessment["next_on"].as_str()),
        (Some(46), Some("high"), Some("2027-05-01"))
    );
    scores.remove("nda");
    let r = post(
        format!("/api/v1/isms/vendors/{a}/assessments"),
        json!({"assessed_on": "2026-11-01", "scores": scores}),
    )
    .await
    .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "scores");
    created(post(format!("/api/v1/isms/vendors/{a}/visits"), json!({"visited_on": "2026-10-20", "visitor": "情報セキュリティ委員会 田中", "findings": "ロッカー運用を確認"})).await.unwrap()).await;

    let detail = get(format!("/api/v1/isms/vendors/{a}")).await;
    assert_eq!(detail["subcontractors"][0][1], "札幌テレサービス");
    assert_eq!(detail["vendor"]["client_names"], json!(["通販A社"]));
    assert_eq!(detail["vendor"]["latest_assessment"]["tier"], "high");
    assert_eq!(
        (detail["assessments"].as_array().unwrap().len(), detail["visits"].as_array().unwrap().len()),
        (1, 1)
    );
    let sub = get(format!("/api/v1/isms/vendors/{b}")).await;
    assert_eq!(sub["vendor"]["parent_name"], "北海道コール株式会社");

    // The outsourcer retires first; its subcontractor can still be retired after it.
    for v in [&a, &b] {
        let r = api.post(s.url(&format!("/api/v1/isms/vendors/{v}/retire"))).bearer_auth(&token).send().await;
        assert_eq!(r.unwrap().status(), 200);
    }
    assert_eq!(get("/api/v1/isms/vendors".into()).await.as_array().unwrap().len(), 0);
    let changes: Vec<String> =
        s.audit("vendor.change").await.iter().map(|e| e.details["change"].clone()).collect();
    for change in ["create", "assess", "visit", "retire"] {
        assert!(changes.iter().any(|c| c == change), "{changes:?}");
    }
    assert_eq!(s.audit("certificate.record").await.len(), 3);
}
both_backends!(vendors_and_certificates_are_watched);

/// The security admin's dashboard (issue 17, items 7 and 8): failing live evidence, risks above
/// the appetite, reviews overdue or due soon, and certificates about to lapse — each naming
/// what it is about.
async fn the_dashboard_puts_problems_first(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = principal(s.user("sec", &[Role::SecurityAdmin]).await);
    let ctx = Default::default();
    measured(&s, &admin).await;
    let token = s.token(admin.user.clone(), &[Permission::IsmsRead, Permission::IsmsManage]).await;
    let api = reqwest::Client::new();
    let post = |path: &str, body: Value| api.post(s.url(path)).bearer_auth(&token).json(&body).send();
    let asset = json!({"kind": "premises", "name": "東京第1センター 執務室", "confidentiality": "restricted", "integrity": "medium", "availability": "always_on", "review_on": jst_day(&s, -1)});
    assert_eq!(post("/api/v1/isms/assets", asset).await.unwrap().status(), 201);
    assert_eq!(post("/api/v1/isms/risks", json!({"title": "執務室への私物スマートフォン持ち込み", "inherent": {"probability": 4, "impact": 3}, "treatment": "undecided", "review_on": jst_day(&s, 10)})).await.unwrap().status(), 201);
    let mark = json!({"scheme": "privacy_mark", "number": "第10820001(05)号", "first_obtained_on": "2016-04-01", "issued_on": jst_day(&s, 20 - 730), "expires_on": jst_day(&s, 20)});
    assert_eq!(post("/api/v1/isms/certificates", mark).await.unwrap().status(), 201);
    let decision = SoaDecision {
        applicable: true,
        justification: String::new(),
        implementation: Implementation::Implemented,
        owner_id: None,
        review_on: Some(jst_day(&s, 5)),
    };
    s.core.isms.decide(&admin, "urn:mamori:control:iso27001-2022:a.8.5", decision, &ctx).await.unwrap();
    let mut tx = s.core.store().begin().await.unwrap();
    tx.disable_totp(&admin.user.id).await.unwrap();
    tx.commit().await.unwrap();
    s.core.refresh_evidence(&[EvidenceKind::PrivilegedSecondFactor]).await.unwrap();

    let d: Value = api
        .get(s.url("/api/v1/isms/dashboard"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (d["controls_total"].as_i64(), d["controls_implemented"].as_i64(), d["controls_undecided"].as_i64()),
        (Some(93), Some(1), Some(92))
    );
    let failing: Vec<&str> =
        d["failing_controls"].as_array().unwrap().iter().map(|c| c["ref_id"].as_str().unwrap()).collect();
    assert!(failing.contains(&"A.8.5") && failing.contains(&"A.8.2"), "{failing:?}");
    assert_eq!(d["failing_controls"][0]["status"], "fail");
    assert_eq!(d["risks_above_appetite"][0]["name"], "R-1 執務室への私物スマートフォン持ち込み");
    assert_eq!(d["risks_above_appetite"][0]["level_ja"], "非常に高い");
    let reviews: Vec<(&str, i64)> = d["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["of"].as_str().unwrap(), r["days_left"].as_i64().unwrap()))
        .collect();
    assert_eq!(reviews, [("asset", -1), ("control", 5), ("risk", 10)], "overdue first");
    assert_eq!(d["certificates"][0]["notices"][0], json!({"kind": "expires_soon", "days": 20}));
}
both_backends!(the_dashboard_puts_problems_first);

/// A certificate about to lapse is mailed (issue 17, done when): through a real SMTP server on
/// loopback, once however often the reminder sweep runs; an overdue review too.
async fn a_lapsing_certificate_is_mailed(backend: Backend) {
    let sink = crate::mail::Sink::start().await;
    let port = sink.port;
    let s = TestServer::start_with(backend, |c| {
        c.mail_notify = Some(mamori_server::config::MailNotify {
            url: format!("smtp://127.0.0.1:{port}"),
            from: "mamori@center.example.jp".into(),
            to: vec!["security@center.example.jp".into(), "ciso@center.example.jp".into()],
        })
    })
    .await;
    let admin = principal(s.user("sec", &[Role::SecurityAdmin]).await);
    let ctx = Default::default();
    let vendor = mamori_domain::isms::vendor::VendorInput {
        name: "北海道コール株式会社".into(),
        parent_id: None,
        client_ids: vec![],
        data_handled: String::new(),
        contact: String::new(),
        review_on: Some(jst_day(&s, -3)),
        notes: String::new(),
    };
    let vendor = s.core.isms.create_vendor(&admin, vendor, &ctx).await.unwrap();
    let mark = mamori_domain::isms::vendor::CertificateInput {
        scheme: mamori_domain::isms::vendor::Scheme::PrivacyMark,
        number: "第10820001(05)号".into(),
        issuer: "JIPDEC".into(),
        first_obtained_on: "2016-04-01".into(),
        issued_on: jst_day(&s, 20 - 730),
        expires_on: jst_day(&s, 20),
    };
    s.core.isms.record_certificate(&admin, Some(&vendor), mark, &ctx).await.unwrap();

    // The sweep (every five minutes in the server) queues two reminders: the certificate and the
    // vendor's overdue review. Running it again queues nothing new.
    assert_eq!(s.core.isms.queue_reminders().await.unwrap(), 2);
    assert_eq!(s.core.isms.queue_reminders().await.unwrap(), 0);
    let mail = sink.wait_for("あと 20 日で期限切れ").await;
    assert!(mail.contains("北海道コール株式会社") && mail.contains("第10820001(05)号"), "{mail}");
    assert!(mail.contains("security@center.example.jp") && mail.contains("ciso@center.example.jp"), "{mail}");
    assert!(mail.contains("From: mamori@center.example.jp"), "{mail}");
    sink.wait_for("review overdue").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.messages().len(), 2, "each reminder once");
}
both_backends!(a_lapsing_certificate_is_mailed);
