//! `mamori-bench access-reviews` (issue 18, item 3): a campaign over 5,000 users × their
//! assignments is created — population frozen, flags computed — in ≤ 5 s; the reviewer's page of
//! 50 entries answers in ≤ 200 ms p95.
//!
//! A real server runs the demo. Through the store (fast, and beside the point), the benchmark
//! adds N people in teams of 50 — two supervisors a team, the rest operators — over ten client
//! companies (one or two each), a PC enrolled to every other person, one in ten accounts older
//! than 30 days without a sign-in (dormant), and shared-account signals on a few. Then, through
//! the core as `demo-admin01`, it starts a campaign over everyone `--campaigns` times, timing
//! each from the call to its commit (freeze, flags, entries written, audit entry). Then, one
//! request at a time over loopback with an API token, it times from the request's start to the
//! last byte:
//!
//! - `GET /api/v1/access-reviews/{id}` as a team supervisor: their page of 50 entries, flagged
//!   first, with their progress — the reviewer's page the issue names;
//! - the same with `open_only=true&offset=50` (the second page of what is still open);
//! - `GET /api/v1/access-reviews/{id}?whose=all` as the security admin (everyone's first page
//!   and every reviewer's progress);
//! - the console's `/access-reviews/{id}` as a demo supervisor.

use crate::Backend;
use crate::console::{Session, percentile};
use crate::isms::{load_average, row, time_rounds};
use anyhow::Context;
use mamori_audit::RequestContext;
use mamori_core::Principal;
use mamori_domain::identity::UserStatus;
use mamori_domain::isms::access_review::CampaignInput;
use mamori_domain::{Clock, Permission, Role, SystemClock, UnixMillis};
use mamori_server::config::ServerConfig;
use mamori_store::{DeviceRecord, OrgKind, OrgUnit, SecurityEvent, UserRecord};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Options {
    pub backend: Backend,
    pub postgres: String,
    pub users: usize,
    pub campaigns: usize,
    pub rounds: usize,
}

const CLIENTS: usize = 10;
const TEAM: usize = 50;
const BATCH: usize = 1_000;
const DAY_MS: i64 = 86_400_000;

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
    let admin = core.store().read().await?.user_by_username("demo-admin01").await?.context("demo-admin01")?;
    let admin = Principal::direct(&admin, Vec::new());
    let now = SystemClock.now();

    // Teams and client companies, then the people, their PCs and signals, straight into the store.
    let started = Instant::now();
    let unit = |kind, name: String| OrgUnit {
        id: uuid::Uuid::new_v4().to_string(),
        kind,
        name,
        site_id: None,
        created_at: now,
    };
    let teams: Vec<OrgUnit> =
        (0..o.users.div_ceil(TEAM)).map(|k| unit(OrgKind::Team, format!("ベンチチーム {k:03}"))).collect();
    let clients: Vec<OrgUnit> =
        (0..CLIENTS).map(|k| unit(OrgKind::Client, format!("ベンチ委託元 {k:02} 株式会社"))).collect();
    let mut tx = core.store().begin().await?;
    for u in teams.iter().chain(&clients) {
        tx.insert_org_unit(u).await?;
    }
    tx.commit().await?;
    let mut people = Vec::with_capacity(o.users);
    for i in 0..o.users {
        let role = if i % TEAM < 2 { Role::Supervisor } else { Role::Operator };
        // One in ten is an old account that has not signed in for 30 days: dormant.
        let created = if i % 10 == 5 { UnixMillis(now.0 - 60 * DAY_MS) } else { now };
        let mut u = UserRecord::new(
            uuid::Uuid::new_v4().to_string(),
            format!("bench-{i:05}"),
            format!("ベンチ 利用者 {i:05}"),
            vec![role],
            UserStatus::Active,
            created,
        );
        u.team_id = Some(teams[i / TEAM].id.clone());
        let mut cs = vec![clients[i % CLIENTS].id.clone()];
        if i % 3 == 0 {
            cs.push(clients[(i + 1) % CLIENTS].id.clone());
        }
        people.push((u, cs));
    }
    let mut devices = 0usize;
    for (n, chunk) in people.chunks(BATCH).enumerate() {
        let mut tx = core.store().begin().await?;
        for (k, (u, cs)) in chunk.iter().enumerate() {
            let i = n * BATCH + k;
            tx.insert_user(u).await?;
            tx.set_user_clients(&u.id, cs).await?;
            if i.is_multiple_of(2) {
                tx.insert_device(&DeviceRecord {
                    id: uuid::Uuid::new_v4().to_string(),
                    public_key: format!("bench-public-key-{i:05}"),
                    hostname: format!("BENCH-PC-{i:05}"),
                    site_id: None,
                    user_id: Some(u.id.clone()),
                    enrolled_at: now,
                    revoked_at: None,
                    last_seen_at: None,
                    last_ip: None,
                })
                .await?;
                devices += 1;
            }
            if i % 97 == 3 {
                tx.insert_security_event(&SecurityEvent {
                    id: uuid::Uuid::new_v4().to_string(),
                    kind: "shared_account_suspected".into(),
                    user_id: Some(u.id.clone()),
                    details: "{}".into(),
                    created_at: UnixMillis(now.0 - 3 * DAY_MS),
                })
                .await?;
            }
        }
        tx.commit().await?;
    }
    eprintln!(
        "{backend}: added {} people, {devices} PCs in {:.1} s",
        o.users,
        started.elapsed().as_secs_f64()
    );

    // The campaigns: each freezes everyone (the demo's people too) and computes the flags.
    println!("\n| {backend} | entries | flagged | created in s |\n|---|---:|---:|---:|");
    let mut created = Vec::new();
    let mut campaign = String::new();
    for k in 0..o.campaigns.max(1) {
        let start = Instant::now();
        let input = CampaignInput { title: format!("ベンチ棚卸し {k}"), due_days: Some(14) };
        let (id, entries) = core.isms.start_access_review(&admin, input, &ctx).await?;
        let secs = start.elapsed().as_secs_f64();
        created.push(secs);
        let record =
            core.isms.access_review_page(&admin, &id, Default::default(), false, 0, &ctx).await?.campaign;
        println!(
            "| campaign {} over {} people | {entries} | {} | {secs:.2} |",
            k + 1,
            o.users,
            record.flagged
        );
        campaign = id;
    }
    created.sort_by(f64::total_cmp);
    let slowest = created.last().copied().unwrap_or(0.0);

    // The reviewer: the first bench team's supervisor; the security admin's token.
    let sv = &people[0].0;
    let mut reviewer = Principal::direct(sv, people[0].1.clone());
    reviewer.permissions.insert(Permission::TokensManage);
    let sv_token = core
        .identity
        .create_api_token(
            &reviewer,
            "access-review-bench-sv",
            &[Permission::AccessReviewsRead, Permission::AccessReviewsDecide],
            Duration::from_secs(86_400),
            &ctx,
        )
        .await?
        .secret;
    let admin_token = core
        .identity
        .create_api_token(
            &admin,
            "access-review-bench",
            &[Permission::AccessReviewsRead, Permission::IsmsRead],
            Duration::from_secs(86_400),
            &ctx,
        )
        .await?
        .secret;
    let api = reqwest::Client::new();
    let page: serde_json::Value = api
        .get(format!("{base}/api/v1/access-reviews/{campaign}"))
        .bearer_auth(&sv_token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let shown = page["entries"].as_array().map_or(0, Vec::len);
    println!(
        "\n{backend}: the reviewer's page holds {shown} of their {} entries (50 a page)",
        page["total"].as_i64().unwrap_or(0)
    );
    anyhow::ensure!(shown == 50, "the reviewer's page should hold 50 entries");

    let load_before = load_average();
    println!("\n| {backend} | size | p50 ms | p95 ms | max ms |\n|---|---:|---:|---:|---:|");
    let paths: [(&str, String, &String); 3] = [
        (
            "`GET /api/v1/access-reviews/{id}` (a supervisor's page of 50)",
            format!("/api/v1/access-reviews/{campaign}"),
            &sv_token,
        ),
        (
            "… `?open_only=true&offset=50` (their second page still open)",
            format!("/api/v1/access-reviews/{campaign}?open_only=true&offset=50"),
            &sv_token,
        ),
        (
            "… `?whose=all` (security admin: everyone's first page)",
            format!("/api/v1/access-reviews/{campaign}?whose=all"),
            &admin_token,
        ),
    ];
    let mut worst = 0.0f64;
    for (what, path, bearer) in paths {
        match time_rounds(o.rounds, || api.get(format!("{base}{path}")).bearer_auth(bearer)).await? {
            Ok((times, bytes)) => {
                println!("{}", row(what, &times, bytes));
                worst = worst.max(percentile(&times, 95.0));
            }
            Err(status) => println!("| {what} | answered {status} | | | |"),
        }
    }
    let session = Session::sign_in(base, "demo-sv01").await?;
    match time_rounds(o.rounds, || session.client.get(format!("{base}/access-reviews/{campaign}"))).await? {
        Ok((times, bytes)) => {
            println!("{}", row("`GET /access-reviews/{id}` (console, demo-sv01)", &times, bytes))
        }
        Err(status) => println!("| `GET /access-reviews/{{id}}` (console) | answered {status} | | | |"),
    }
    println!(
        "\n{backend}: slowest campaign created in {slowest:.2} s (target ≤ 5 s); worst API p95 {worst:.1} ms (target ≤ 200 ms); load average {load_before} before, {} after",
        load_average()
    );
    Ok(())
}
