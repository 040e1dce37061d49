//! `mamori-bench isms` (issue 17): the ISMS registers at the size issue 17 names — 10,000
//! assets, 1,000 risks, 500 vendors — and the live evidence's delay.
//!
//! A real server runs the demo (its Annex A SoA half decided; the rest is decided here, so every
//! line has an entry and an owner). Through the core, as a security admin (`demo-admin01`), the
//! benchmark registers N assets (every kind and grade, most with an owner and a review date),
//! M risks spread evenly over the 5×5 grid, each threatening 1–3 of the assets and treated
//! by 1–2 Annex A controls, two in three re-rated after treatment, and V vendors — one in four
//! direct, the others subcontractors in chains four deep, each handling 1–3 of ten client
//! companies' data, with a certificate (Privacy Mark or ISO/IEC 27001, some lapsing) and an
//! assessment. Then, one request at a time over loopback with an API token, it times from the
//! request's start to the last byte:
//!
//! - `GET /api/v1/isms/assets`: the first page (100 assets by name) with the total; the largest
//!   page (500); a page deep in the register; a filtered page (kind, confidentiality, sorted by
//!   review date) and a text search (which reads every row);
//! - `GET /api/v1/isms/vendors`: every vendor with its chain, clients, latest assessment and
//!   certificates;
//! - `GET /api/v1/isms/risks`: every risk of the assessment, with both heat maps;
//! - `GET /api/v1/isms/soa`: Annex A, each line with its live evidence (and, in the core, the
//!   risks each control treats);
//! - the console's `GET /isms/soa`, `/isms/assets` (first page, and filtered), `/isms/vendors`
//!   (signed in as `demo-admin01`) when the route answers 200.
//!
//! Last, the live evidence: an operator of its own is made a supervisor (`PATCH
//! /api/v1/users/{id}`, roles) and back, N times; each time the clock runs from the start of the
//! PATCH until `GET /api/v1/isms/evidence`, polled every 50 ms, shows a new
//! `privileged_second_factor` value (the new supervisor has no second factor, so the share
//! changes both ways).

use crate::Backend;
use crate::console::{Session, percentile};
use anyhow::Context;
use mamori_audit::RequestContext;
use mamori_core::Principal;
use mamori_core::isms::assets::AssetListQuery;
use mamori_domain::isms::asset::{AssetInput, AssetKind, Availability, Confidentiality, Integrity};
use mamori_domain::isms::risk::{Rating, RiskInput, Treatment};
use mamori_domain::isms::vendor::{AssessmentInput, CertificateInput, Criterion, Scheme, VendorInput};
use mamori_domain::isms::{Implementation, SoaDecision};
use mamori_domain::{Permission, Role, SystemClock};
use mamori_server::config::ServerConfig;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Options {
    pub backend: Backend,
    pub postgres: String,
    pub assets: usize,
    pub risks: usize,
    pub vendors: usize,
    /// Requests per endpoint (after one to warm up).
    pub rounds: usize,
    /// Role changes timed to the live evidence.
    pub evidence_samples: usize,
}

/// A filtered page of the asset list: two filters and a sort the store's index does not give.
const ASSETS_FILTERED: &str = "/api/v1/isms/assets?kind=document&confidentiality=restricted&sort=review_on";
/// A text search: part of the place (「第2センター 2階」, one asset in nine), read in every row.
const ASSETS_SEARCHED: &str =
    "/api/v1/isms/assets?q=%E7%AC%AC2%E3%82%BB%E3%83%B3%E3%82%BF%E3%83%BC%202%E9%9A%8E";
/// The console's asset page, filtered the same way.
const CONSOLE_ASSETS_FILTERED: &str = "/isms/assets?kind=document&confidentiality=restricted&sort=review_on";

/// The built-in Annex A catalog.
const ANNEX_A: &str = "urn:mamori:catalog:iso27001-2022";
/// Tasks registering assets at once. Risks are registered one at a time: on PostgreSQL two risks
/// registered at the same moment may draw the same number (`MAX(number) + 1`) and one of them
/// fails with `risks_assessment_id_number_key`.
const ASSET_WRITERS: usize = 4;

/// A small deterministic generator (the same registers every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % below.max(1) as u64) as usize
    }
}

fn asset_input(i: usize, owners: &[String]) -> AssetInput {
    const NAMES: [&str; 7] =
        ["顧客名簿", "通話録音", "業務マニュアル", "CRM", "クラウドストレージ", "業務用PC", "オペレーター"];
    let kind = AssetKind::ALL[i % AssetKind::ALL.len()];
    let listed = matches!(kind, AssetKind::Software | AssetKind::CloudService);
    AssetInput {
        kind,
        name: format!("{} {i:05}", NAMES[i % NAMES.len()]),
        owner_id: (!i.is_multiple_of(5)).then(|| owners[i % owners.len()].clone()),
        location: format!("東京第{}センター {}階", i % 3 + 1, i % 9 + 1),
        confidentiality: Confidentiality::ALL[i % 3],
        integrity: Integrity::ALL[(i / 3) % 3],
        availability: Availability::ALL[(i / 9) % 3],
        allowed: listed.then_some(!i.is_multiple_of(4)),
        review_on: i.is_multiple_of(2).then(|| format!("2027-{:02}-{:02}", i % 12 + 1, i % 28 + 1)),
        notes: if i.is_multiple_of(3) {
            "年次棚卸で確認済み（ベンチマーク）".into()
        } else {
            String::new()
        },
    }
}

fn risk_input(
    i: usize,
    rng: &mut Lcg,
    assets: &[String],
    controls: &[String],
    owners: &[String],
) -> RiskInput {
    // Every cell of the 5×5 grid gets the same share.
    let (probability, impact) = ((i % 5) as u8, ((i / 5) % 5) as u8);
    let residual = (!i.is_multiple_of(3)).then(|| Rating {
        probability: probability.saturating_sub(1 + (i % 2) as u8),
        impact: impact.saturating_sub((i % 2) as u8),
    });
    let treatment = match i % 10 {
        0 => Treatment::Accept,
        1 => Treatment::Undecided,
        2 => Treatment::Transfer,
        _ => Treatment::Reduce,
    };
    let asset_ids = (0..1 + rng.next(3)).map(|_| assets[rng.next(assets.len())].clone()).collect();
    let control_urns = (0..1 + rng.next(2)).map(|_| controls[rng.next(controls.len())].clone()).collect();
    RiskInput {
        title: format!("リスク {i:04}: 委託先社員による顧客情報の持ち出し"),
        threat: "内部不正による個人情報の持ち出し".into(),
        vulnerability: "画面の撮影を検知できない".into(),
        asset_ids,
        inherent: Rating { probability, impact },
        residual,
        treatment,
        control_urns,
        owner_id: Some(owners[i % owners.len()].clone()),
        due_on: Some(format!("2027-{:02}-15", i % 12 + 1)),
        review_on: Some("2027-04-01".into()),
        notes: String::new(),
    }
}

/// Client companies the vendors work for: the demo's two and these.
const EXTRA_CLIENTS: usize = 8;

/// Vendor `i`: one in four direct, the others the subcontractor of the one before (chains of
/// four); 1–3 clients' data.
fn vendor_input(i: usize, parent: Option<String>, clients: &[String]) -> VendorInput {
    let first = i % clients.len();
    VendorInput {
        name: format!("委託先 {i:04} 株式会社"),
        parent_id: parent,
        client_ids: (0..1 + i % 3).map(|k| clients[(first + k) % clients.len()].clone()).collect(),
        data_handled: "氏名・電話番号・購入履歴".into(),
        contact: format!("vendor{i:04}@example.jp"),
        review_on: Some(format!("2027-{:02}-{:02}", i % 12 + 1, i % 28 + 1)),
        notes: String::new(),
    }
}

/// Vendor `i`'s certificate: Privacy Marks (2 years) and ISO/IEC 27001 (3 years), issued over
/// the last three years, so some have lapsed, some are about to and most are in force.
fn certificate_input(i: usize) -> CertificateInput {
    let (month, day) = (i % 12 + 1, i % 28 + 1);
    let (scheme, years) = if i.is_multiple_of(2) { (Scheme::PrivacyMark, 2) } else { (Scheme::Iso27001, 3) };
    let issued = 2024 + (i / 12) % 3;
    CertificateInput {
        scheme,
        number: format!("第{:08}({:02})号", 10_000_000 + i, i % 20),
        issuer: if scheme == Scheme::PrivacyMark { "JIPDEC".into() } else { "認証機関".into() },
        first_obtained_on: "2015-04-01".into(),
        issued_on: format!("{issued}-{month:02}-{day:02}"),
        expires_on: format!("{}-{month:02}-{day:02}", issued + years),
    }
}

/// Vendor `i`'s assessment: every criterion scored 1–5 (every tier occurs).
fn assessment_input(i: usize) -> AssessmentInput {
    AssessmentInput {
        assessed_on: format!("2026-{:02}-{:02}", i % 10 + 1, i % 28 + 1),
        scores: Criterion::ALL.iter().enumerate().map(|(k, c)| (*c, (1 + (i + k) % 5) as u8)).collect(),
        notes: String::new(),
    }
}

/// Runs `f(i)` for `0..n` on `writers` tasks; returns the results in order and the seconds.
async fn in_parallel<T, F, Fut>(n: usize, writers: usize, f: F) -> anyhow::Result<(Vec<T>, f64)>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<T>> + Send,
{
    let started = Instant::now();
    let f = Arc::new(f);
    let mut tasks = Vec::new();
    for w in 0..writers {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in (w..n).step_by(writers) {
                out.push((i, f(i).await?));
            }
            Ok::<_, anyhow::Error>(out)
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok((all.into_iter().map(|(_, t)| t).collect(), started.elapsed().as_secs_f64()))
}

/// One GET: its status, its size and the milliseconds to its last byte.
async fn time_get(request: reqwest::RequestBuilder) -> anyhow::Result<(u16, usize, f64)> {
    let start = Instant::now();
    let r = request.send().await?;
    let status = r.status().as_u16();
    let body = r.bytes().await?;
    Ok((status, body.len(), start.elapsed().as_secs_f64() * 1000.0))
}

/// Times `rounds` GETs after one to warm up; `None` when the warm-up is not a 200.
pub(crate) async fn time_rounds(
    rounds: usize,
    request: impl Fn() -> reqwest::RequestBuilder,
) -> anyhow::Result<Result<(Vec<f64>, usize), u16>> {
    let (status, _, _) = time_get(request()).await?;
    if status != 200 {
        return Ok(Err(status));
    }
    let mut times = Vec::with_capacity(rounds);
    let mut size = 0;
    for _ in 0..rounds {
        let (status, bytes, ms) = time_get(request()).await?;
        anyhow::ensure!(status == 200, "answered {status} during the run");
        size = bytes;
        times.push(ms);
    }
    times.sort_by(f64::total_cmp);
    Ok(Ok((times, size)))
}

pub(crate) fn row(what: &str, times: &[f64], bytes: usize) -> String {
    format!(
        "| {what} | {:.0} kB | {:.1} | {:.1} | {:.1} |",
        bytes as f64 / 1000.0,
        percentile(times, 50.0),
        percentile(times, 95.0),
        times.last().copied().unwrap_or(f64::NAN)
    )
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = ServerConfig::defaults(dir.path().join("data"));
    config.listen = "127.0.0.1:0".parse()?;
    config.signin_burst = 10_000;
    let mut drop_db = None;
    if o.backend == Backend::Postgres {
        let (url, name) = crate::scratch_postgres(&o.postgres).await?;
        config.database_url = Some(url);
        drop_db = Some(name);
    }
    let running = mamori_server::serve::start(config, Arc::new(SystemClock), true).await?;
    let base = format!("http://{}", running.addr());
    let core = running.state.core.clone();
    let result = measure(&o, &core, &base).await;
    running.shutdown().await;
    if let Some(name) = drop_db {
        crate::drop_postgres(&o.postgres, &name).await?;
    }
    result
}

async fn measure(o: &Options, core: &mamori_core::Core, base: &str) -> anyhow::Result<()> {
    let backend = if o.backend == Backend::Sqlite { "SQLite" } else { "PostgreSQL" };
    let ctx = RequestContext::default();
    let mut read = core.store().read().await?;
    let admin = read.user_by_username("demo-admin01").await?.context("demo-admin01")?;
    let owners: Vec<String> = read
        .list_users()
        .await?
        .into_iter()
        .filter(|u| u.status == mamori_domain::identity::UserStatus::Active)
        .map(|u| u.id)
        .collect();
    drop(read);
    let admin = Principal::direct(&admin, Vec::new());
    let owners = Arc::new(owners);

    // The rest of Annex A decided, so every line has an entry and an owner.
    let soa = core.isms.soa(&admin, Some(ANNEX_A), None, &ctx).await?;
    let controls: Vec<String> =
        soa.lines.iter().filter(|l| l.control.assessable).map(|l| l.control.urn.clone()).collect();
    let mut decided = 0;
    for line in soa.lines.iter().filter(|l| l.control.assessable && l.entry.is_none()) {
        let decision = SoaDecision {
            applicable: true,
            justification: "受託業務のリスク対応として必要（ベンチマーク）".into(),
            implementation: Implementation::Planned,
            owner_id: Some(owners[decided % owners.len()].clone()),
            review_on: Some("2027-04-01".into()),
        };
        core.isms.decide(&admin, &line.control.urn, decision, &ctx).await?;
        decided += 1;
    }
    eprintln!("{backend}: Annex A has {} lines; decided the {decided} left undecided", soa.lines.len());

    let (asset_ids, s) = {
        let (core, admin, owners) = (core.clone(), admin.clone(), owners.clone());
        in_parallel(o.assets, ASSET_WRITERS, move |i| {
            let (core, admin, input) = (core.clone(), admin.clone(), asset_input(i, &owners));
            async move { Ok(core.isms.create_asset(&admin, input, &RequestContext::default()).await?) }
        })
        .await?
    };
    eprintln!("{backend}: registered {} assets in {s:.1} s ({:.0}/s)", o.assets, o.assets as f64 / s);
    let (_, s) = {
        let (core, admin, owners) = (core.clone(), admin.clone(), owners.clone());
        let (assets, controls) = (Arc::new(asset_ids), Arc::new(controls));
        in_parallel(o.risks, 1, move |i| {
            let mut rng = Lcg((i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let input = risk_input(i, &mut rng, &assets, &controls, &owners);
            let (core, admin) = (core.clone(), admin.clone());
            async move { Ok(core.isms.create_risk(&admin, None, input, &RequestContext::default()).await?) }
        })
        .await?
    };
    eprintln!("{backend}: registered {} risks in {s:.1} s ({:.0}/s)", o.risks, o.risks as f64 / s);

    // Vendors: ten client companies (the demo's two and eight more), then the vendors in order
    // (an outsourcer before its subcontractors), each with a certificate and an assessment.
    let mut clients: Vec<String> = core
        .store()
        .read()
        .await?
        .list_org_units(mamori_store::OrgKind::Client)
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect();
    for k in 0..EXTRA_CLIENTS {
        let name = format!("ベンチ委託元 {k:02} 株式会社");
        let unit =
            core.identity.create_org_unit(&admin, mamori_store::OrgKind::Client, &name, None, &ctx).await?;
        clients.push(unit.id);
    }
    let started = Instant::now();
    let mut vendor_ids: Vec<String> = Vec::with_capacity(o.vendors);
    for i in 0..o.vendors {
        let parent = (!i.is_multiple_of(4)).then(|| vendor_ids[i - 1].clone());
        let id = core.isms.create_vendor(&admin, vendor_input(i, parent, &clients), &ctx).await?;
        core.isms.record_certificate(&admin, Some(&id), certificate_input(i), &ctx).await?;
        core.isms.assess_vendor(&admin, &id, assessment_input(i), &ctx).await?;
        vendor_ids.push(id);
    }
    let s = started.elapsed().as_secs_f64();
    eprintln!(
        "{backend}: registered {} vendors (each with a certificate and an assessment) for {} clients in {s:.1} s",
        o.vendors,
        clients.len()
    );

    let token = core
        .identity
        .create_api_token(
            &admin,
            "isms-bench",
            &[Permission::IsmsRead, Permission::IsmsManage, Permission::UsersRead, Permission::UsersManage],
            Duration::from_secs(86_400),
            &ctx,
        )
        .await?
        .secret;
    let api = reqwest::Client::new();
    let get = |path: &str| api.get(format!("{base}{path}")).bearer_auth(&token);

    // What the answers hold, checked once.
    let assets: serde_json::Value =
        get("/api/v1/isms/assets").send().await?.error_for_status()?.json().await?;
    let vendors: serde_json::Value =
        get("/api/v1/isms/vendors").send().await?.error_for_status()?.json().await?;
    let risks: serde_json::Value = get("/api/v1/isms/risks").send().await?.error_for_status()?.json().await?;
    let soa: serde_json::Value = get("/api/v1/isms/soa").send().await?.error_for_status()?.json().await?;
    let count = |v: &serde_json::Value| v.as_array().map_or(0, Vec::len);
    let heat: u64 = risks["inherent_heat"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r.as_array().into_iter().flatten())
        .filter_map(serde_json::Value::as_u64)
        .sum();
    let lines = soa["lines"].as_array().cloned().unwrap_or_default();
    let evidence: usize = lines.iter().map(|l| count(&l["evidence"])).sum();
    let linked: usize = lines.iter().map(|l| count(&l["risks"])).sum();
    let total_assets = assets["total"].as_u64().unwrap_or(0) as usize;
    let subcontractors =
        vendors.as_array().into_iter().flatten().filter(|v| !v["parent_id"].is_null()).count();
    println!(
        "\n{backend}: the API pages {} assets ({} on the first page), {} risks (heat map total {heat}), {} vendors \
         ({subcontractors} subcontractors); the SoA {} lines with {evidence} evidence items{}",
        total_assets,
        count(&assets["assets"]),
        count(&risks["risks"]),
        count(&vendors),
        lines.len(),
        if linked > 0 {
            format!(" and {linked} linked risks")
        } else {
            " (no `risks` in the API's lines)".into()
        }
    );
    anyhow::ensure!(total_assets >= o.assets, "the asset list is short");
    anyhow::ensure!(count(&vendors) >= o.vendors, "the vendor list is short");
    anyhow::ensure!(count(&risks["risks"]) >= o.risks, "the risk list is short");

    let load_before = load_average();
    println!("\n| {backend} | size | p50 ms | p95 ms | max ms |\n|---|---:|---:|---:|---:|");
    let mut worst: Vec<(f64, String)> = Vec::new();
    let deep = format!("/api/v1/isms/assets?offset={}", (total_assets / 100).saturating_sub(1) * 100);
    for path in [
        "/api/v1/isms/assets",
        "/api/v1/isms/assets?limit=500",
        deep.as_str(),
        ASSETS_FILTERED,
        ASSETS_SEARCHED,
        "/api/v1/isms/vendors",
        "/api/v1/isms/risks",
        "/api/v1/isms/soa",
        "/api/v1/isms/evidence",
    ] {
        match time_rounds(o.rounds, || get(path)).await? {
            Ok((times, bytes)) => {
                println!("{}", row(&format!("`GET {path}`"), &times, bytes));
                worst.push((percentile(&times, 95.0), path.to_owned()));
            }
            Err(status) => println!("| `GET {path}` | answered {status} | | | |"),
        }
    }
    let session = Session::sign_in(base, "demo-admin01").await?;
    for path in ["/isms/assets", CONSOLE_ASSETS_FILTERED, "/isms/vendors", "/isms/soa", "/isms/evidence"] {
        match time_rounds(o.rounds, || session.client.get(format!("{base}{path}"))).await? {
            Ok((times, bytes)) => {
                println!("{}", row(&format!("`GET {path}` (console page)"), &times, bytes));
                worst.push((percentile(&times, 95.0), path.to_owned()));
            }
            Err(status) => {
                println!("| `GET {path}` (console page) | not measured: answered {status} | | | |")
            }
        }
    }
    // Where the time goes: the same reads through the core (no HTTP, no JSON), and the
    // store's queries alone.
    let assessment = core.isms.risks(&admin, None, &ctx).await?.assessment.id;
    let profiles: [(&str, Probe); 7] = [
        ("core `isms.asset_page` (first page of 100, total, names)", Probe::CoreAssetPage),
        ("store `asset_page` alone (first page of 100 and the counts)", Probe::StoreAssetPage),
        ("store `assets(false)` alone (every asset, unpaged: exports, sync)", Probe::StoreAssets),
        ("core `isms.vendors` (chains, clients, assessments, certificates)", Probe::CoreVendors),
        ("core `isms.risks` (with heat maps)", Probe::CoreRisks),
        ("store `risks(assessment)` alone", Probe::StoreRisks),
        ("core `isms.soa` (Annex A, evidence, linked risks)", Probe::CoreSoa),
    ];
    for (what, probe) in profiles {
        let mut times = Vec::with_capacity(o.rounds);
        for round in 0..=o.rounds {
            let start = Instant::now();
            match probe {
                Probe::CoreAssetPage => {
                    drop(core.isms.asset_page(&admin, AssetListQuery::default(), &ctx).await?)
                }
                Probe::StoreAssetPage => {
                    let query =
                        AssetListQuery { overdue_before: Some("2026-11-29".into()), ..Default::default() };
                    drop(core.store().read().await?.asset_page(&query).await?)
                }
                Probe::StoreAssets => drop(core.store().read().await?.assets(false).await?),
                Probe::CoreVendors => drop(core.isms.vendors(&admin, false, &ctx).await?),
                Probe::CoreRisks => drop(core.isms.risks(&admin, None, &ctx).await?),
                Probe::StoreRisks => drop(core.store().read().await?.risks(&assessment).await?),
                Probe::CoreSoa => drop(core.isms.soa(&admin, Some(ANNEX_A), None, &ctx).await?),
            }
            if round > 0 {
                times.push(start.elapsed().as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(f64::total_cmp);
        println!("{}", row(what, &times, 0).replace("| 0 kB |", "| — |"));
    }
    println!("\n{backend}: load average while timing: {} → {}", load_before, load_average());
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    if let Some((p95, what)) = worst.first() {
        println!(
            "\n{backend}: slowest at p95 {what} ({p95:.1} ms); {} over 200 ms",
            worst.iter().filter(|w| w.0 > 200.0).count()
        );
    }

    transfer(base, &api, &token, backend).await?;
    evidence_latency(core, base, &api, &token, o.evidence_samples, backend).await
}

/// The registers exported as one workbook and imported back (item 9): the export, a dry run of
/// the same file (every row checked, nothing written), its import (every row unchanged), and an
/// import that changes 1,000 assets (1,000 versions and audit entries in one transaction).
async fn transfer(base: &str, api: &reqwest::Client, token: &str, backend: &str) -> anyhow::Result<()> {
    const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    let url = |path: &str| format!("{base}{path}");
    let start = Instant::now();
    let file = api.get(url("/api/v1/isms/registers/export")).bearer_auth(token).send().await?;
    anyhow::ensure!(file.status() == 200, "the export answered {}", file.status());
    let file = file.bytes().await?.to_vec();
    let export_ms = start.elapsed().as_secs_f64() * 1000.0;
    let mut book = mamori_server::workbook::read_xlsx(&file).map_err(anyhow::Error::msg)?;
    let rows: usize = book.sheets.iter().map(|s| s.rows.len().saturating_sub(1)).sum();
    let import = |body: Vec<u8>, query: &'static str| {
        let request = api.post(url(&format!("/api/v1/isms/registers/import{query}"))).bearer_auth(token);
        async move {
            let start = Instant::now();
            let r = request.header("content-type", XLSX).body(body).send().await?;
            let status = r.status();
            let text = r.text().await?;
            anyhow::ensure!(status == 200, "the import answered {status}: {text}");
            anyhow::Ok(start.elapsed().as_secs_f64() * 1000.0)
        }
    };
    let dry_ms = import(file.clone(), "?dry_run=true").await?;
    let same_ms = import(file.clone(), "").await?;
    let assets = book
        .sheets
        .iter_mut()
        .find(|s| s.name == "assets")
        .ok_or_else(|| anyhow::anyhow!("no assets sheet"))?;
    let notes =
        assets.rows[0].iter().position(|c| c == "notes").ok_or_else(|| anyhow::anyhow!("no notes column"))?;
    for row in assets.rows.iter_mut().skip(1).take(1000) {
        row[notes].push_str(" (benchmark)");
    }
    let changed = mamori_server::workbook::write_xlsx(&book).map_err(anyhow::Error::msg)?;
    let changed_ms = import(changed, "").await?;
    println!(
        "\n| {backend}: registers workbook ({rows} rows, {} kB) | ms |\n|---|---:|\n\
         | `GET /api/v1/isms/registers/export` (XLSX) | {export_ms:.0} |\n\
         | `POST …/import?dry_run=true` (every row checked) | {dry_ms:.0} |\n\
         | `POST …/import` (every row unchanged) | {same_ms:.0} |\n\
         | `POST …/import` (1,000 assets changed) | {changed_ms:.0} |",
        file.len() / 1024
    );
    Ok(())
}

#[derive(Clone, Copy)]
enum Probe {
    CoreAssetPage,
    StoreAssetPage,
    StoreAssets,
    CoreVendors,
    CoreRisks,
    StoreRisks,
    CoreSoa,
}

/// The machine's 1-minute load average (other work on the same cores shows in the figures).
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// The `privileged_second_factor` value the API shows now.
async fn second_factor_value(api: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<String> {
    let items: serde_json::Value = api
        .get(format!("{base}/api/v1/isms/evidence"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let item = items
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["kind"] == "privileged_second_factor")
        .context("no privileged_second_factor evidence")?;
    Ok(format!("{} {}", item["status"].as_str().unwrap_or(""), item["value"].as_str().unwrap_or("")))
}

async fn evidence_latency(
    core: &mamori_core::Core,
    base: &str,
    api: &reqwest::Client,
    token: &str,
    samples: usize,
    backend: &str,
) -> anyhow::Result<()> {
    // An operator of its own, without a second factor.
    let op = mamori_store::UserRecord::new(
        uuid::Uuid::new_v4().to_string(),
        "isms-bench-op".into(),
        "ISMS bench operator".into(),
        vec![Role::Operator],
        mamori_domain::identity::UserStatus::Active,
        core.now(),
    );
    let mut tx = core.store().begin().await?;
    tx.insert_user(&op).await?;
    tx.commit().await?;
    let mut rng = Lcg(17);
    let (mut latencies, mut patches) = (Vec::with_capacity(samples), Vec::with_capacity(samples));
    for n in 0..samples {
        let before = second_factor_value(api, base, token).await?;
        let roles = if n % 2 == 0 { ["supervisor"] } else { ["operator"] };
        let started = Instant::now();
        let r = api
            .patch(format!("{base}/api/v1/users/{}", op.id))
            .bearer_auth(token)
            .json(&serde_json::json!({ "roles": roles }))
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "the role change answered {}", r.status());
        r.bytes().await?;
        patches.push(started.elapsed().as_secs_f64() * 1000.0);
        loop {
            let now = second_factor_value(api, base, token).await?;
            if now != before {
                latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            anyhow::ensure!(started.elapsed() < Duration::from_secs(60), "no new evidence within 60 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A gap of its own each time, so the changes fall anywhere in the evidence task's pause.
        tokio::time::sleep(Duration::from_millis(200 + rng.next(1000) as u64)).await;
    }
    latencies.sort_by(f64::total_cmp);
    patches.sort_by(f64::total_cmp);
    println!(
        "\n{backend}: live evidence after a role change ({} samples, polled every 50 ms): p50 {:.0} ms, p95 {:.0} ms, \
         max {:.0} ms (the PATCH itself: p50 {:.1} ms, max {:.1} ms)",
        latencies.len(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 95.0),
        latencies.last().copied().unwrap_or(f64::NAN),
        percentile(&patches, 50.0),
        patches.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}
