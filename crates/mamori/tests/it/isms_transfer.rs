//! The registers exported and imported (issue 17, item 9): every register to XLSX, into a fresh
//! install, and out again identical; a bad file refused whole with the place of each problem;
//! a dry run that writes nothing; one register as CSV — against a running server, both
//! databases.

use crate::both_backends;
use crate::support::{Backend, TestServer, principal};
use mamori_domain::isms::asset::{AssetInput, AssetKind, Availability, Confidentiality, Integrity};
use mamori_domain::isms::legal::{LegalInput, LegalKind};
use mamori_domain::isms::risk::{Rating, RiskInput, Treatment};
use mamori_domain::isms::transfer::Workbook;
use mamori_domain::isms::vendor::{
    AssessmentInput, CertificateInput, Criterion, Scheme, VendorInput, VisitInput,
};
use mamori_domain::isms::{Implementation, SoaDecision};
use mamori_domain::{Permission, Role};
use mamori_server::workbook::{read_xlsx, write_xlsx};
use serde_json::Value;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const A_5_1: &str = "urn:mamori:control:iso27001-2022:a.5.1";
const A_8_1: &str = "urn:mamori:control:iso27001-2022:a.8.1";
const A_7_4: &str = "urn:mamori:control:iso27001-2022:a.7.4";

/// An install with the people and client companies both sides share (they are not registers).
async fn install(backend: Backend) -> (TestServer, mamori_core::Principal, String) {
    let s = TestServer::start(backend).await;
    let admin = principal(s.user("sec", &[Role::SecurityAdmin]).await);
    // The owner's sign-in name names them on both sides (their ids differ).
    s.user("suzuki", &[Role::Supervisor]).await;
    for client in ["通販A社", "保険B社"] {
        s.core
            .identity
            .create_org_unit(&admin, mamori_store::OrgKind::Client, client, None, &Default::default())
            .await
            .unwrap();
    }
    s.core.sync_followed_assets().await.unwrap();
    let token = s.token(admin.user.clone(), &[Permission::IsmsRead, Permission::IsmsManage]).await;
    (s, admin, token)
}

fn asset(kind: AssetKind, name: &str, owner: Option<&str>) -> AssetInput {
    let listed = matches!(kind, AssetKind::Software | AssetKind::CloudService);
    AssetInput {
        kind,
        name: name.into(),
        owner_id: owner.map(Into::into),
        location: "本社 3F".into(),
        confidentiality: Confidentiality::Restricted,
        integrity: Integrity::High,
        availability: Availability::NightStopOk,
        allowed: listed.then_some(true),
        review_on: Some("2027-03-31".into()),
        notes: "=SUM(A1) は数式ではなく文字\n二行目".into(),
    }
}

/// Fills every register of `s`, with the awkward cases: lists, line breaks, formula-like text,
/// a retired asset a risk still names, a subcontractor, a retired vendor, a second assessment.
async fn fill(s: &TestServer, admin: &mamori_core::Principal) {
    let ctx = Default::default();
    let isms = &s.core.isms;
    let people = s.core.identity.list_users(&crate::support::inspector(), &ctx).await.unwrap();
    let owner = people.into_iter().find(|u| u.username == "suzuki").unwrap().id;
    let crm = isms
        .create_asset(admin, asset(AssetKind::CloudService, "CRM クラウド", Some(&owner)), &ctx)
        .await
        .unwrap();
    let manual =
        isms.create_asset(admin, asset(AssetKind::Document, "応対マニュアル", None), &ctx).await.unwrap();
    let old = isms.create_asset(admin, asset(AssetKind::Equipment, "旧 FAX 機", None), &ctx).await.unwrap();
    let assets = isms.assets(admin, false, &ctx).await.unwrap();
    let data = assets.iter().find(|a| a.record.source == "client_data").unwrap().record.id.clone();
    let risk = |title: &str, assets: Vec<String>, residual: Option<Rating>| RiskInput {
        title: title.into(),
        threat: "持ち出し".into(),
        vulnerability: "USB が使える".into(),
        asset_ids: assets,
        inherent: Rating { probability: 3, impact: 4 },
        residual,
        treatment: Treatment::Reduce,
        control_urns: vec![A_8_1.into(), A_7_4.into()],
        owner_id: Some(owner.clone()),
        due_on: Some("2027-01-31".into()),
        review_on: None,
        notes: String::new(),
    };
    isms.create_risk(
        admin,
        None,
        risk("顧客データの持ち出し", vec![data, crm.clone()], Some(Rating { probability: 1, impact: 4 })),
        &ctx,
    )
    .await
    .unwrap();
    isms.create_risk(admin, None, risk("FAX の誤送信", vec![old.clone(), manual], None), &ctx).await.unwrap();
    // Equipment retires with its disposal record (LEAK-3).
    let disposal = mamori_domain::isms::disposal::DisposalInput {
        kind: mamori_domain::isms::disposal::DisposalKind::Disk,
        method: mamori_domain::isms::disposal::DisposalMethod::PhysicalDestruction,
        description: "旧 FAX 機の内蔵メモリ".into(),
        serial: "FX-0001".into(),
        quantity: None,
        disposed_on: "2026-01-15".into(),
        witness_id: owner.clone(),
        company: String::new(),
        certificate: String::new(),
        notes: String::new(),
        asset_id: Some(old.clone()),
        device_id: None,
    };
    isms.record_disposal(admin, disposal, &ctx).await.unwrap();
    let second = isms.create_risk_assessment(admin, "2027 年度", None, 2, &ctx).await.unwrap();
    isms.create_risk(admin, Some(&second), risk("在宅での覗き見", vec![crm], None), &ctx).await.unwrap();
    let decision = |applicable: bool, justification: &str| SoaDecision {
        applicable,
        justification: justification.into(),
        implementation: Implementation::Implemented,
        owner_id: Some(owner.clone()),
        review_on: Some("2027-04-01".into()),
    };
    isms.decide(admin, A_5_1, decision(true, ""), &ctx).await.unwrap();
    isms.decide(admin, A_7_4, decision(false, "監視カメラは入居ビルの管理"), &ctx).await.unwrap();
    let clients = s.core.identity.list_org(mamori_store::OrgKind::Client).await.unwrap();
    let vendor = |name: &str, parent: Option<&String>| VendorInput {
        name: name.into(),
        parent_id: parent.cloned(),
        client_ids: clients.iter().map(|c| c.id.clone()).collect(),
        data_handled: "氏名・電話番号".into(),
        contact: "03-0000-0000".into(),
        review_on: Some("2027-06-30".into()),
        notes: String::new(),
    };
    let a = isms.create_vendor(admin, vendor("北海道コール株式会社", None), &ctx).await.unwrap();
    let b = isms.create_vendor(admin, vendor("札幌テレサービス", Some(&a)), &ctx).await.unwrap();
    let gone = isms.create_vendor(admin, vendor("旧印刷会社", None), &ctx).await.unwrap();
    isms.retire_vendor(admin, &gone, &ctx).await.unwrap();
    let mark = |scheme: Scheme, issued: &str, expires: &str| CertificateInput {
        scheme,
        number: "第10820001(05)号".into(),
        issuer: "JIPDEC".into(),
        first_obtained_on: "2016-04-01".into(),
        issued_on: issued.into(),
        expires_on: expires.into(),
    };
    isms.record_certificate(admin, None, mark(Scheme::PrivacyMark, "2025-04-01", "2027-03-31"), &ctx)
        .await
        .unwrap();
    isms.record_certificate(admin, Some(&b), mark(Scheme::Iso27001, "2024-10-01", "2027-09-30"), &ctx)
        .await
        .unwrap();
    let scores = Criterion::ALL.iter().enumerate().map(|(i, c)| (*c, 3 + (i % 3) as u8)).collect();
    let assessment =
        AssessmentInput { assessed_on: "2026-10-01".into(), scores, notes: "再委託先も確認".into() };
    isms.assess_vendor(admin, &b, assessment, &ctx).await.unwrap();
    let visit = VisitInput {
        visited_on: "2026-10-15".into(),
        visitor: "鈴木".into(),
        findings: "入退室記録あり\n私物持込禁止".into(),
    };
    isms.record_vendor_visit(admin, &b, visit, &ctx).await.unwrap();
    let legal = |kind: LegalKind, title: &str, client: Option<&String>| LegalInput {
        kind,
        title: title.into(),
        reference: "第27条".into(),
        obligations: "委託先の監督\n安全管理措置".into(),
        client_id: client.cloned(),
        owner_id: Some(owner.clone()),
        review_on: Some("2027-04-01".into()),
        notes: String::new(),
    };
    isms.create_legal(admin, legal(LegalKind::Law, "個人情報の保護に関する法律", None), &ctx).await.unwrap();
    isms.create_legal(admin, legal(LegalKind::Contract, "通販 業務委託契約", Some(&clients[0].id)), &ctx)
        .await
        .unwrap();
    let old_rule =
        isms.create_legal(admin, legal(LegalKind::Guideline, "旧ガイドライン", None), &ctx).await.unwrap();
    isms.retire_legal(admin, &old_rule, &ctx).await.unwrap();
}

async fn export(s: &TestServer, token: &str, query: &str) -> Vec<u8> {
    let r = reqwest::Client::new()
        .get(s.url(&format!("/api/v1/isms/registers/export{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap().to_vec()
}

async fn import(s: &TestServer, token: &str, query: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(s.url(&format!("/api/v1/isms/registers/import{query}")))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn counts(report: &Value, register: &str) -> (u64, u64, u64) {
    let sheet = report["sheets"].as_array().unwrap().iter().find(|s| s["register"] == register).unwrap();
    (
        sheet["created"].as_u64().unwrap(),
        sheet["changed"].as_u64().unwrap(),
        sheet["unchanged"].as_u64().unwrap(),
    )
}

fn rows(book: &Workbook, register: &str) -> usize {
    book.sheets.iter().find(|s| s.name == register).unwrap().rows.len() - 1
}

/// Round trip (issue 17, done when): every register exported to XLSX, imported into a fresh
/// install, exported again: identical.
async fn registers_round_trip_through_xlsx(backend: Backend) {
    let (a, admin, token_a) = install(backend).await;
    fill(&a, &admin).await;
    let first = export(&a, &token_a, "").await;
    let book = read_xlsx(&first).unwrap();
    let sizes: Vec<(String, usize)> =
        book.sheets.iter().map(|s| (s.name.clone(), s.rows.len() - 1)).collect();
    assert_eq!(
        sizes.iter().map(|(n, r)| format!("{n}={r}")).collect::<Vec<_>>().join(" "),
        "assets=5 risk_assessments=2 risks=3 soa=120 vendors=3 certificates=2 vendor_assessments=1 vendor_visits=1 legal=3",
    );

    let (b, _, token_b) = install(backend).await;
    let before = export(&b, &token_b, "").await;
    let (status, dry) = import(&b, &token_b, "?dry_run=true", XLSX, first.clone()).await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!((dry["dry_run"].as_bool(), dry["applied"].as_bool()), (Some(true), Some(false)));
    assert_eq!(counts(&dry, "assets"), (3, 0, 2), "the client companies' data are followed on both sides");
    assert_eq!(counts(&dry, "risk_assessments"), (1, 0, 1), "the first assessment is the same everywhere");
    assert_eq!(counts(&dry, "soa"), (2, 0, 118));
    assert_eq!(
        read_xlsx(&export(&b, &token_b, "").await).unwrap(),
        read_xlsx(&before).unwrap(),
        "a dry run writes nothing"
    );

    let (status, done) = import(&b, &token_b, "", XLSX, first.clone()).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["applied"], true);
    assert_eq!(counts(&done, "vendors"), (3, 0, 0));
    let second = export(&b, &token_b, "").await;
    assert_eq!(read_xlsx(&second).unwrap(), book, "exported again: identical");

    // The import is audited: each record its usual entry, then the import's sum.
    let sum = b.audit("isms.import").await;
    assert_eq!(sum.len(), 1);
    assert_eq!(sum[0].details["created"], "19", "{:?}", sum[0].details);
    assert_eq!(b.audit("risk.change").await.len(), 3);
    assert_eq!(b.audit("isms.export").await.len(), 3);

    // Importing the same file again changes nothing.
    let (status, again) = import(&b, &token_b, "", XLSX, first).await;
    assert_eq!(status, 200);
    for sheet in again["sheets"].as_array().unwrap() {
        assert_eq!((sheet["created"].as_u64(), sheet["changed"].as_u64()), (Some(0), Some(0)), "{sheet}");
    }
}
both_backends!(registers_round_trip_through_xlsx);

/// A bad file is refused whole, each problem named by sheet, row and column; nothing is
/// written. One register travels as CSV too.
async fn a_bad_workbook_changes_nothing(backend: Backend) {
    let (s, admin, token) = install(backend).await;
    fill(&s, &admin).await;
    let original = export(&s, &token, "").await;
    let mut book = read_xlsx(&original).unwrap();
    let sheet = |book: &mut Workbook, name: &str| {
        book.sheets.iter_mut().find(|s| s.name == name).unwrap().rows.clone()
    };
    let set = |book: &mut Workbook, name: &str, row: usize, column: &str, value: &str| {
        let sheet = book.sheets.iter_mut().find(|s| s.name == name).unwrap();
        let at = sheet.rows[0].iter().position(|c| c == column).unwrap();
        sheet.rows[row][at] = value.into();
    };
    // A good change (an asset renamed) beside bad ones: none is written.
    set(&mut book, "assets", 1, "name", "改名した資産");
    set(&mut book, "assets", 2, "confidentiality", "secret");
    set(&mut book, "risks", 1, "assets", "7d0c3b36-58a4-4e8e-9a7e-000000000000");
    set(&mut book, "risks", 2, "inherent_probability", "9");
    set(&mut book, "vendor_assessments", 1, "nda", "");
    set(&mut book, "soa", 1, "applicable", "false");
    let vendors = sheet(&mut book, "vendors");
    let mut new_row = vendors[1].clone();
    new_row[0] = String::new();
    new_row[3] = "存在しない会社".into();
    book.sheets.iter_mut().find(|s| s.name == "vendors").unwrap().rows.push(new_row);
    let (status, refused) = import(&s, &token, "", XLSX, write_xlsx(&book).unwrap()).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["code"], "import_refused");
    let problems: Vec<String> = refused["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} {} {} {}",
                p["sheet"].as_str().unwrap(),
                p["line"],
                p["column"].as_str().unwrap_or("-"),
                p["message"].as_str().unwrap()
            )
        })
        .collect();
    let expected = [
        "assets 3 F (confidentiality) one of: public, internal, restricted",
        "risks 2 G (assets) no asset has the id 7d0c3b36-58a4-4e8e-9a7e-000000000000 (in this install or the sheet assets)",
        "risks 3 H (inherent_probability) a whole number from 1 to 5",
        "soa 2 F (justification) a control that does not apply needs a justification (ISO/IEC 27001 6.1.3 d)",
        "vendors 5 D (clients) no client company is named 存在しない会社; add it first",
        "vendor_assessments 2 L (nda) a score from 1 (poor) to 5 (good)",
    ];
    assert_eq!(problems, expected, "{refused}");
    assert!(
        refused["detail"].as_str().unwrap().contains("sheet assets, row 3, column F (confidentiality)"),
        "{refused}"
    );
    assert_eq!(
        read_xlsx(&export(&s, &token, "").await).unwrap(),
        read_xlsx(&original).unwrap(),
        "nothing written"
    );
    assert!(s.audit("isms.import").await.is_empty());

    // Column names are checked before any row.
    let mut misnamed = read_xlsx(&original).unwrap();
    misnamed.sheets[0].rows[0][2] = "nmae".into();
    let (status, refused) = import(&s, &token, "", XLSX, write_xlsx(&misnamed).unwrap()).await;
    assert_eq!(status, 422);
    let first = &refused["problems"][0];
    assert_eq!((first["line"].as_u64(), first["column"].as_str()), (Some(1), Some("C (nmae)")), "{refused}");

    // Not a workbook; CSV without its register; another media type; a reader's token.
    let (status, body) = import(&s, &token, "", XLSX, b"id,name\n".to_vec()).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("file")), "{body}");
    let (status, _) = import(&s, &token, "", "text/csv", b"id\n".to_vec()).await;
    assert_eq!(status, 400);
    let (status, _) = import(&s, &token, "?register=assets", "application/json", b"{}".to_vec()).await;
    assert_eq!(status, 415);
    let auditor = s.user("kansa", &[Role::Auditor]).await;
    let reader = s.token(&auditor, &[Permission::IsmsRead]).await;
    let (status, _) = import(&s, &reader, "", XLSX, original.clone()).await;
    assert_eq!(status, 403);
    assert!(export(&s, &reader, "?format=csv&register=vendors").await.len() > 3, "a reader exports");

    // One register as CSV: a changed cell comes back as a new version.
    let csv = export(&s, &token, "?format=csv&register=assets").await;
    assert!(csv.starts_with(&[0xEF, 0xBB, 0xBF]));
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    assert!(text.contains("'=SUM(A1)"), "a formula-like cell is guarded: {text}");
    let edited = text.replacen("応対マニュアル", "応対マニュアル 第2版", 1);
    let (status, done) = import(&s, &token, "?register=assets", "text/csv", edited.into_bytes()).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(counts(&done, "assets"), (0, 1, 4));
    let assets = s.core.isms.assets(&admin, false, &Default::default()).await.unwrap();
    let manual = assets.iter().find(|a| a.record.name.starts_with("応対マニュアル")).unwrap();
    assert_eq!((manual.record.name.as_str(), manual.record.version), ("応対マニュアル 第2版", 2));
    assert_eq!(manual.record.notes, "=SUM(A1) は数式ではなく文字\n二行目", "the guard is taken off again");
    assert_eq!(rows(&read_xlsx(&export(&s, &token, "").await).unwrap(), "assets"), 5);
}
both_backends!(a_bad_workbook_changes_nothing);
