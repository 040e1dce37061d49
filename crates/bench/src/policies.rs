//! `mamori-bench policies` (issue 18, item 1): acknowledgement status for 5,000 people × 10
//! documents must answer in ≤ 200 ms p95.
//!
//! A real server runs the demo. Through the store (fast, and beside the point), the benchmark
//! adds N people — nine in ten operators, the rest supervisors — over three sites and ten client
//! companies (one or two each); then, through the core as `demo-admin01`, D documents of every
//! kind with different scopes (everyone, operators, one site, one client company, operators of
//! two clients…), each published, the pledge in a second version; then acknowledgements for
//! about 85 % of the people in each document's scope (the pledge's second version about 60 %,
//! its first version kept for everyone). Then, one request at a time over loopback with an API
//! token, it times from the request's start to the last byte:
//!
//! - `GET /api/v1/isms/policies`: every document with how many acknowledged its version in
//!   force and the names of everyone who has not — the acknowledgement status the issue names;
//! - `GET /api/v1/policies/{pledge}` as a security admin: the pledge with its versions, its
//!   status and every acknowledgement of every version;
//! - `GET /api/v1/policies` as an operator (their own documents and what keeps them from
//!   looking customers up);
//! - the console's `/isms/policies` as `demo-admin01`.

use crate::Backend;
use crate::console::{Session, percentile};
use crate::isms::{load_average, row, time_rounds};
use anyhow::Context;
use mamori_audit::RequestContext;
use mamori_core::Principal;
use mamori_domain::identity::UserStatus;
use mamori_domain::isms::policy::{DraftInput, Person, PolicyInput, PolicyKind, PolicyScope};
use mamori_domain::{Clock, Permission, Role, SystemClock};
use mamori_server::config::ServerConfig;
use mamori_store::{OrgKind, PolicyAckRecord, UserRecord};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Options {
    pub backend: Backend,
    pub postgres: String,
    pub users: usize,
    pub documents: usize,
    pub rounds: usize,
}

const SITES: usize = 3;
const CLIENTS: usize = 10;
/// Rows written per transaction while filling.
const BATCH: usize = 1_000;

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

/// A small deterministic generator (the same population every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % below.max(1) as u64) as usize
    }
}

async fn measure(o: &Options, core: &mamori_core::Core, base: &str) -> anyhow::Result<()> {
    let backend = if o.backend == Backend::Sqlite { "SQLite" } else { "PostgreSQL" };
    let ctx = RequestContext::default();
    let admin = core.store().read().await?.user_by_username("demo-admin01").await?.context("demo-admin01")?;
    let admin = Principal::direct(&admin, Vec::new());

    // Sites and client companies.
    let mut sites = Vec::new();
    for k in 0..SITES {
        let name = format!("ベンチ拠点 {k}");
        sites.push(core.identity.create_org_unit(&admin, OrgKind::Site, &name, None, &ctx).await?.id);
    }
    let mut clients = Vec::new();
    for k in 0..CLIENTS {
        let name = format!("ベンチ委託元 {k:02} 株式会社");
        clients.push(core.identity.create_org_unit(&admin, OrgKind::Client, &name, None, &ctx).await?.id);
    }

    // The people, straight into the store.
    let started = Instant::now();
    let mut rng = Lcg(7);
    let now = SystemClock.now();
    let mut people: Vec<(UserRecord, Vec<String>)> = Vec::with_capacity(o.users);
    for i in 0..o.users {
        let role = if i % 10 == 9 { Role::Supervisor } else { Role::Operator };
        let mut u = UserRecord::new(
            uuid::Uuid::new_v4().to_string(),
            format!("bench-{i:05}"),
            format!("ベンチ 利用者 {i:05}"),
            vec![role],
            UserStatus::Active,
            now,
        );
        u.site_id = Some(sites[i % SITES].clone());
        let first = rng.next(CLIENTS);
        let mut cs = vec![clients[first].clone()];
        if i % 3 == 0 {
            cs.push(clients[(first + 1) % CLIENTS].clone());
        }
        people.push((u, cs));
    }
    for chunk in people.chunks(BATCH) {
        let mut tx = core.store().begin().await?;
        for (u, cs) in chunk {
            tx.insert_user(u).await?;
            tx.set_user_clients(&u.id, cs).await?;
        }
        tx.commit().await?;
    }
    eprintln!("{backend}: added {} people in {:.1} s", o.users, started.elapsed().as_secs_f64());

    // The documents, published through the core.
    let scopes = |d: usize| -> PolicyScope {
        match d % 5 {
            0 => PolicyScope::default(),
            1 => PolicyScope { roles: vec![Role::Operator], ..Default::default() },
            2 => PolicyScope { sites: vec![sites[d % SITES].clone()], ..Default::default() },
            3 => PolicyScope { clients: vec![clients[d % CLIENTS].clone()], ..Default::default() },
            _ => PolicyScope {
                roles: vec![Role::Operator, Role::Supervisor],
                clients: vec![clients[d % CLIENTS].clone(), clients[(d + 3) % CLIENTS].clone()],
                ..Default::default()
            },
        }
    };
    // The demo's documents count among the D (their scope is everyone or operators and
    // supervisors, so the bench's people owe them too).
    let started = Instant::now();
    let mut documents: Vec<(String, PolicyScope, i64)> = Vec::new();
    let existing = core.isms.policy_overview(&admin, &ctx).await?.policies;
    for s in existing.iter().filter(|s| s.record.published_version.is_some()).take(o.documents) {
        documents.push((s.record.id.clone(), s.scope.clone(), s.record.published_version.unwrap_or(1)));
    }
    let pledge_index =
        existing.iter().position(|s| s.record.kind == PolicyKind::ConfidentialityPledge.as_str());
    for d in documents.len()..o.documents {
        let kind = PolicyKind::ALL[d % PolicyKind::ALL.len()];
        let scope = scopes(d);
        let input = PolicyInput {
            kind,
            title: format!("ベンチ規程 {d:02}"),
            scope: scope.clone(),
            body: format!(
                "# ベンチ規程 {d:02}\n\n- 顧客情報を口外しません。\n- SNS に業務のことを書きません。\n"
            ),
            note: String::new(),
        };
        let id = core.isms.create_policy(&admin, input, &ctx).await?;
        core.isms.publish_policy(&admin, &id, 1, &ctx).await?;
        documents.push((id, scope, 1));
    }
    eprintln!("{backend}: published {} documents in {:.1} s", o.documents, started.elapsed().as_secs_f64());

    // Acknowledgements: ~85 % of each scope; the pledge's first version by everyone in scope,
    // then a second version acknowledged by ~60 %.
    let started = Instant::now();
    let mut acks: Vec<PolicyAckRecord> = Vec::new();
    let mut ack = |id: &str, version: i64, user: &str| {
        acks.push(PolicyAckRecord {
            policy_id: id.to_owned(),
            version,
            user_id: user.to_owned(),
            acknowledged_at: now,
        })
    };
    let pledge_index = pledge_index.unwrap_or(0);
    for (d, (id, scope, version)) in documents.iter().enumerate() {
        for (u, cs) in &people {
            let p = Person { id: &u.id, roles: &u.roles, site_id: u.site_id.as_deref(), client_ids: cs };
            if scope.covers(&p) && (d == pledge_index || rng.next(100) < 85) {
                ack(id, *version, &u.id);
            }
        }
    }
    let written = acks.len();
    for chunk in acks.chunks(BATCH) {
        let mut tx = core.store().begin().await?;
        for a in chunk {
            tx.insert_policy_acknowledgement(a).await?;
        }
        tx.commit().await?;
    }
    let (pledge, pledge_scope, pledge_version) = documents[pledge_index].clone();
    let draft = DraftInput {
        body: "# 機密保持誓約書 新版\n\n- SNS に写真も投稿しません。\n".into(),
        note: String::new(),
    };
    let next = core.isms.save_policy_draft(&admin, &pledge, draft, &ctx).await?;
    anyhow::ensure!(next == pledge_version + 1, "the pledge's next version");
    core.isms.publish_policy(&admin, &pledge, next, &ctx).await?;
    let mut second = Vec::new();
    for (u, cs) in &people {
        let p = Person { id: &u.id, roles: &u.roles, site_id: u.site_id.as_deref(), client_ids: cs };
        if pledge_scope.covers(&p) && rng.next(100) < 60 {
            second.push(PolicyAckRecord {
                policy_id: pledge.clone(),
                version: next,
                user_id: u.id.clone(),
                acknowledged_at: now,
            });
        }
    }
    for chunk in second.chunks(BATCH) {
        let mut tx = core.store().begin().await?;
        for a in chunk {
            tx.insert_policy_acknowledgement(a).await?;
        }
        tx.commit().await?;
    }
    eprintln!(
        "{backend}: wrote {} acknowledgements in {:.1} s",
        written + second.len(),
        started.elapsed().as_secs_f64()
    );

    let token = core
        .identity
        .create_api_token(
            &admin,
            "policies-bench",
            &[Permission::IsmsRead, Permission::PoliciesRead],
            Duration::from_secs(86_400),
            &ctx,
        )
        .await?
        .secret;
    // An operator's own token (limited to `policies.read`); the bench lends them the right to
    // make one, which operators do not have.
    let mut operator = Principal::direct(&people[0].0, people[0].1.clone());
    operator.permissions.insert(Permission::TokensManage);
    let op_token = core
        .identity
        .create_api_token(
            &operator,
            "policies-bench-op",
            &[Permission::PoliciesRead],
            Duration::from_secs(86_400),
            &ctx,
        )
        .await?
        .secret;
    let api = reqwest::Client::new();

    // What the answer holds, checked once.
    let overview: serde_json::Value = api
        .get(format!("{base}/api/v1/isms/policies"))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let rows = overview["policies"].as_array().cloned().unwrap_or_default();
    let owed: u64 = rows.iter().filter_map(|r| r["in_scope"].as_u64()).sum();
    let given: u64 = rows.iter().filter_map(|r| r["acknowledged"].as_u64()).sum();
    let pending: usize = rows.iter().map(|r| r["pending"].as_array().map_or(0, Vec::len)).sum();
    println!(
        "\n{backend}: {} people, {} documents; {owed} acknowledgements owed, {given} given, {pending} people listed as pending",
        o.users,
        rows.len()
    );
    anyhow::ensure!(rows.len() >= o.documents, "the overview is short");
    anyhow::ensure!(pending as u64 == owed - given, "pending does not add up");

    let load_before = load_average();
    println!("\n| {backend} | size | p50 ms | p95 ms | max ms |\n|---|---:|---:|---:|---:|");
    let paths: [(&str, String, &String); 3] = [
        ("`GET /api/v1/isms/policies` (status of every document)", "/api/v1/isms/policies".into(), &token),
        ("`GET /api/v1/policies/{pledge}` (security admin)", format!("/api/v1/policies/{pledge}"), &token),
        ("`GET /api/v1/policies` (an operator's own)", "/api/v1/policies".into(), &op_token),
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
    // Where the time goes: the same status through the core (no HTTP, no JSON).
    let mut times = Vec::with_capacity(o.rounds);
    for round in 0..=o.rounds {
        let start = Instant::now();
        let overview = core.isms.policy_overview(&admin, &ctx).await?;
        if round > 0 {
            times.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        anyhow::ensure!(overview.policies.len() >= o.documents, "the overview is short");
    }
    times.sort_by(f64::total_cmp);
    println!("{}", row("core `isms.policy_overview` (no HTTP, no JSON)", &times, 0));
    let session = Session::sign_in(base, "demo-admin01").await?;
    match time_rounds(o.rounds, || session.client.get(format!("{base}/isms/policies"))).await? {
        Ok((times, bytes)) => println!("{}", row("`GET /isms/policies` (console page)", &times, bytes)),
        Err(status) => println!("| `GET /isms/policies` (console page) | answered {status} | | | |"),
    }
    println!(
        "\n{backend}: worst API p95 {worst:.1} ms (target ≤ 200 ms); load average {load_before} before, {} after",
        load_average()
    );
    Ok(())
}
