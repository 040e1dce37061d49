//! `mamori-bench`: measures the audit log beside its ceilings (see docs/BENCHMARKS.md).
//!
//! - `append`: entries appended per second, each acknowledged only once committed, with N
//!   concurrent writers, on SQLite or PostgreSQL — through the group-commit path reads use, and
//!   through a transaction per entry as changes do — while the checkpointer hashes the tree and
//!   signs every second; the ceiling is the same appends with no hashing at all.
//! - `verify`: verification of an N-entry export bundle beside raw SHA-256 over the same bytes.
//! - `fleet-setup`, `fleet`: simulated agents against a real server (see [`fleet`]).
//! - `console`: every console page per role, and the live floor's delay (see [`console`]).
//! - `export`: a customer export's rows per second and memory (see [`export`]).
//! - `approvals`: from an approval to the requester's screen (see [`approvals`]).
//! - `mail`: the SMTP relay's throughput and added latency beside a relay with no checks (see [`mail`]).
//! - `detect-replay`, `detect-day`, `detect-latency`: the detectors' throughput, a normal day's
//!   false positives, and from an insider's burst to the alert and the lock (see [`detect`]).
//! - `isms`: the asset, risk, vendor and SoA lists at 10,000 assets, 1,000 risks and 500
//!   vendors, and the live evidence's delay after a change (see [`isms`]).
//! - `training`: the training overview (every course, who owes it, everyone overdue) for
//!   5,000 people (see [`training`]).
//! - `policies`: the acknowledgement status of 5,000 people × 10 policy documents (see
//!   [`policies`]).
//! - `access-reviews`: a campaign over 5,000 people frozen and flagged, then a reviewer's page
//!   of 50 (see [`access_reviews`]).

mod access_reviews;
mod approvals;
mod console;
mod detect;
mod export;
mod fleet;
mod isms;
mod mail;
mod policies;
mod training;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use mamori_audit::{Actor, AuditEvent, Outcome, RequestContext, actions};
use mamori_core::Core;
use mamori_domain::SystemClock;
use mamori_server::config::ServerConfig;
use sha2::Digest;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "mamori-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Path {
    /// Group commit (entries of reads).
    Grouped,
    /// One transaction per entry (entries of changes).
    PerTransaction,
}

#[derive(Subcommand)]
enum Command {
    /// Append throughput.
    Append {
        #[arg(long, value_enum)]
        backend: Backend,
        #[arg(long, default_value_t = 64)]
        writers: usize,
        #[arg(long, value_enum, default_value = "grouped")]
        path: Path,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// The ceiling: no checkpointer, so nothing is hashed.
        #[arg(long)]
        no_hashing: bool,
        /// PostgreSQL server to create a scratch database on.
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        postgres: String,
    },
    /// Verification throughput of an export bundle.
    Verify {
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
        /// Also keep the bundle and its public key (`bundle.jsonl`, `public-key`) in this
        /// directory, to time `mamori audit verify` on them.
        #[arg(long)]
        keep: Option<std::path::PathBuf>,
    },
    /// From a supervisor's approval to the requester's approvals page showing it, N times.
    Approvals {
        #[arg(long, default_value_t = 1000)]
        samples: usize,
    },
    /// The SMTP relay: messages/s held or relayed, beside a relay with no checks.
    Mail {
        #[arg(long, value_enum)]
        backend: Backend,
        #[arg(long, default_value_t = 16)]
        clients: usize,
        #[arg(long, default_value_t = 2000)]
        messages: usize,
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        postgres: String,
    },
    /// A customer export of N customers: rows/s and the rise in resident memory.
    Export {
        #[arg(long, value_enum)]
        backend: Backend,
        #[arg(long, default_value_t = 100_000)]
        customers: u64,
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        postgres: String,
    },
    /// CSV import rate: a clean N-row file, then the same file with some bad rows (refused).
    Import {
        #[arg(long, value_enum)]
        backend: Backend,
        #[arg(long, default_value_t = 100_000)]
        rows: u64,
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        postgres: String,
    },
    /// Prepares a data directory (or PostgreSQL database) for the customer-lookup HTTP
    /// benchmark: a client company, an operator assigned to it, N customers with distinct
    /// phone numbers; prints the operator's API token and a phone number to look up.
    VaultSetup {
        #[arg(long)]
        data_dir: std::path::PathBuf,
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 100_000)]
        customers: u64,
    },
    /// Prepares a data directory for the agent footprint benchmark: an admin, an operator on
    /// shift round the clock, and a one-time enrolment token for the operator's PC, which it
    /// prints.
    AgentSetup {
        #[arg(long)]
        data_dir: std::path::PathBuf,
    },
    /// Prepares a data directory (or PostgreSQL database) for the agent ingest benchmark: N
    /// enrolled devices of operators on shift, written with their keys to `--out`.
    FleetSetup {
        #[arg(long)]
        data_dir: std::path::PathBuf,
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 10_000)]
        devices: usize,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Every console page each demo role opens, on a server running the demo with N more audit
    /// entries; the live floor from an agent's report to the browser's stream.
    Console {
        #[arg(long, value_enum)]
        backend: Backend,
        #[arg(long, default_value_t = 100_000)]
        audit_entries: u64,
        /// Requests per page (after one to warm up).
        #[arg(long, default_value_t = 40)]
        rounds: usize,
        /// Agent reports timed to the floor's stream.
        #[arg(long, default_value_t = 100)]
        floor_samples: usize,
        /// A Node script timing pages in a real browser against the same server.
        #[arg(long)]
        browser_script: Option<std::path::PathBuf>,
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        postgres: String,
    },
    /// Runs the fleet written by `fleet-setup` against a server: long polls, heartbeats every
    /// 30 s, a bucket a minute, and commands issued through the API.
    Fleet {
        #[arg(long)]
        server: String,
        #[arg(long)]
        ca: std::path::PathBuf,
        #[arg(long)]
        fleet: std::path::PathBuf,
        /// Seconds over which the devices start.
        #[arg(long, default_value_t = 60)]
        ramp: u64,
        /// Seconds measured after the ramp.
        #[arg(long, default_value_t = 180)]
        seconds: u64,
        #[arg(long, default_value_t = 5.0)]
        commands_per_sec: f64,
    },
    /// The detectors' throughput over a simulated floor's audit entries: the pure detector on
    /// one core, then (with `--backend`) the detection runner reading them from a database.
    DetectReplay {
        #[arg(long, default_value_t = 1_000_000)]
        entries: usize,
        #[arg(long, default_value_t = 1000)]
        seats: usize,
        /// Also write the entries to a scratch database and time the runner over them.
        #[arg(long, value_enum)]
        backend: Option<Backend>,
        /// Entries written to the database (default: all).
        #[arg(long)]
        db_entries: Option<usize>,
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        postgres: String,
    },
    /// A simulated normal day of a floor through the detectors: findings and alerts per rule.
    DetectDay {
        #[arg(long, default_value_t = 40)]
        seats: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 1)]
        days: u64,
        /// Share of callers whose number is also another client company's customer's (0–1).
        #[arg(long, default_value_t = 0.0)]
        shared_numbers: f64,
    },
    /// From an insider's burst of 60 off-call lookups to the alert and to the lock at their PC's
    /// agent, on a real server under a background of on-call lookups.
    DetectLatency {
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: Backend,
        #[arg(long, default_value_t = 50)]
        samples: usize,
        /// Background on-call lookups a second.
        #[arg(long, default_value_t = 2000.0)]
        rate: f64,
        /// Operators the background lookups are spread over.
        #[arg(long, default_value_t = 400)]
        operators: usize,
        /// Serve this data directory (e.g. written by `fleet-setup`) instead of a scratch one.
        #[arg(long)]
        data_dir: Option<std::path::PathBuf>,
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<std::path::PathBuf>,
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<std::path::PathBuf>,
        /// Seconds of background load before the first burst.
        #[arg(long, default_value_t = 10)]
        warmup: u64,
        /// Seconds between bursts.
        #[arg(long, default_value_t = 2.0)]
        gap: f64,
        /// After the bursts, keep serving until this file exists (a fleet run ends first).
        #[arg(long)]
        hold_until: Option<std::path::PathBuf>,
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        postgres: String,
    },
    /// The ISMS registers with N assets and M risks: the asset, risk and SoA lists (API and
    /// console page), and from a role change to the live evidence showing it.
    Isms {
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: Backend,
        #[arg(long, default_value_t = 10_000)]
        assets: usize,
        #[arg(long, default_value_t = 1_000)]
        risks: usize,
        #[arg(long, default_value_t = 500)]
        vendors: usize,
        /// Requests per endpoint (after one to warm up).
        #[arg(long, default_value_t = 100)]
        rounds: usize,
        /// Role changes timed to the live evidence.
        #[arg(long, default_value_t = 20)]
        evidence_samples: usize,
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        postgres: String,
    },
    /// Access-right reviews (issue 18, item 3): a campaign over N people × their roles, client
    /// companies and PCs created (frozen, flagged), then a reviewer's page of 50 (API, console).
    AccessReviews {
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: Backend,
        #[arg(long, default_value_t = 5_000)]
        users: usize,
        /// Campaigns started one after the other (each timed).
        #[arg(long, default_value_t = 3)]
        campaigns: usize,
        /// Requests per endpoint (after one to warm up).
        #[arg(long, default_value_t = 100)]
        rounds: usize,
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        postgres: String,
    },
    /// Policies with acknowledgements (issue 18, item 1): the acknowledgement status of N people
    /// × D documents (API and console page).
    Policies {
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: Backend,
        #[arg(long, default_value_t = 5_000)]
        users: usize,
        #[arg(long, default_value_t = 10)]
        documents: usize,
        /// Requests per endpoint (after one to warm up).
        #[arg(long, default_value_t = 100)]
        rounds: usize,
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        postgres: String,
    },
    /// Training (issue 18, item 2): the overview of C courses — who owes each, everyone
    /// overdue — for N people (API, core, console page).
    Training {
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: Backend,
        #[arg(long, default_value_t = 5_000)]
        users: usize,
        #[arg(long, default_value_t = 6)]
        courses: usize,
        /// Requests per endpoint (after one to warm up).
        #[arg(long, default_value_t = 100)]
        rounds: usize,
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        postgres: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Append { backend, writers, path, seconds, no_hashing, postgres } => {
            runtime.block_on(append(backend, writers, path, seconds, no_hashing, &postgres))
        }
        Command::Verify { entries, keep } => runtime.block_on(verify(entries, keep)),
        Command::Import { backend, rows, postgres } => runtime.block_on(import(backend, rows, &postgres)),
        Command::Approvals { samples } => runtime.block_on(approvals::run(samples)),
        Command::Mail { backend, clients, messages, postgres } => {
            runtime.block_on(mail::run(backend, clients, messages, &postgres))
        }
        Command::Export { backend, customers, postgres } => {
            runtime.block_on(export::run(backend, customers, &postgres))
        }
        Command::VaultSetup { data_dir, database_url, customers } => {
            runtime.block_on(vault_setup(data_dir, database_url, customers))
        }
        Command::AgentSetup { data_dir } => runtime.block_on(agent_setup(data_dir)),
        Command::FleetSetup { data_dir, database_url, devices, out } => {
            runtime.block_on(fleet::setup(data_dir, database_url, devices, out))
        }
        Command::Console { backend, audit_entries, rounds, floor_samples, browser_script, postgres } => {
            runtime.block_on(console::run(console::Options {
                backend,
                postgres,
                audit_entries,
                rounds,
                floor_samples,
                browser_script,
            }))
        }
        Command::Fleet { server, ca, fleet, ramp, seconds, commands_per_sec } => {
            runtime.block_on(fleet::run(server, ca, fleet, ramp, seconds, commands_per_sec))
        }
        Command::DetectReplay { entries, seats, backend, db_entries, postgres } => {
            runtime.block_on(detect::replay(entries, seats, backend, &postgres, db_entries))
        }
        Command::DetectDay { seats, seed, days, shared_numbers } => {
            detect::day(seats, seed, days, shared_numbers)
        }
        Command::DetectLatency {
            backend,
            samples,
            rate,
            operators,
            data_dir,
            database_url,
            listen,
            tls_cert,
            tls_key,
            warmup,
            gap,
            hold_until,
            postgres,
        } => runtime.block_on(detect::latency(detect::LatencyOptions {
            backend,
            postgres,
            samples,
            rate,
            operators,
            data_dir,
            database_url,
            listen,
            tls: tls_cert.zip(tls_key),
            warmup,
            gap,
            hold_until,
        })),
        Command::Isms { backend, assets, risks, vendors, rounds, evidence_samples, postgres } => runtime
            .block_on(isms::run(isms::Options {
                backend,
                postgres,
                assets,
                risks,
                vendors,
                rounds,
                evidence_samples,
            })),
        Command::AccessReviews { backend, users, campaigns, rounds, postgres } => {
            runtime.block_on(access_reviews::run(access_reviews::Options {
                backend,
                postgres,
                users,
                campaigns,
                rounds,
            }))
        }
        Command::Policies { backend, users, documents, rounds, postgres } => {
            runtime.block_on(policies::run(policies::Options { backend, postgres, users, documents, rounds }))
        }
        Command::Training { backend, users, courses, rounds, postgres } => {
            runtime.block_on(training::run(training::Options { backend, postgres, users, courses, rounds }))
        }
    }
}

/// A typical read entry: an operator's lookup of one customer.
fn event(writer: usize) -> AuditEvent {
    AuditEvent::of(
        &actions::CUSTOMER_LOOKUP,
        Actor::User(format!("bench-user-{writer:03}")),
        Outcome::Success,
    )
    .object("customer:h:4f1c2a9be07d5531c2b8a0d6e1f34a77")
    .detail("fields", "name,phone")
    .detail("purpose", "active_call")
}

struct Scratch {
    core: Core,
    _dir: tempfile::TempDir,
    drop_db: Option<(String, String)>,
}

/// A scratch database on the PostgreSQL server: its URL and its name.
async fn scratch_postgres(postgres: &str) -> anyhow::Result<(String, String)> {
    let name = format!("mamori_bench_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(postgres).await.context("connect to PostgreSQL")?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await?;
    admin.close().await;
    let base = postgres.rsplit_once('/').map_or(postgres, |(b, _)| b);
    Ok((format!("{base}/{name}"), name))
}

async fn drop_postgres(postgres: &str, name: &str) -> anyhow::Result<()> {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let admin = sqlx::PgPool::connect(postgres).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await?;
    Ok(())
}

async fn open(backend: Backend, postgres: &str) -> anyhow::Result<Scratch> {
    let dir = tempfile::tempdir()?;
    let mut config = ServerConfig::defaults(dir.path().join("data"));
    let mut drop_db = None;
    if backend == Backend::Postgres {
        let (url, name) = scratch_postgres(postgres).await?;
        config.database_url = Some(url);
        drop_db = Some((postgres.to_owned(), name));
    }
    let core = mamori_server::serve::open_core(&config, Arc::new(SystemClock)).await?;
    Ok(Scratch { core, _dir: dir, drop_db })
}

async fn close(s: Scratch) -> anyhow::Result<()> {
    let Scratch { core, _dir, drop_db } = s;
    drop(core);
    if let Some((url, name)) = drop_db {
        drop_postgres(&url, &name).await?;
    }
    Ok(())
}

async fn append(
    backend: Backend,
    writers: usize,
    path: Path,
    seconds: u64,
    no_hashing: bool,
    postgres: &str,
) -> anyhow::Result<()> {
    let scratch = open(backend, postgres).await?;
    let core = scratch.core.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let appended = Arc::new(AtomicU64::new(0));
    let checkpointer = (!no_hashing).then(|| {
        let core = core.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                core.audit.checkpoint_audit_log().await?;
            }
            Ok::<_, mamori_core::CoreError>(())
        })
    });
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (core, stop, appended) = (core.clone(), stop.clone(), appended.clone());
        tasks.push(tokio::spawn(async move {
            let ctx = RequestContext::default();
            while !stop.load(Ordering::Relaxed) {
                match path {
                    Path::Grouped => {
                        core.audit.audit_access(&ctx, event(w)).await?;
                    }
                    Path::PerTransaction => {
                        let mut tx = core.store().begin().await?;
                        tx.append_audit(core.now(), &ctx.stamp(event(w))).await?;
                        tx.commit().await?;
                    }
                }
                appended.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, mamori_core::CoreError>(())
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let n = appended.load(Ordering::Relaxed);
    let mut line = format!(
        "append backend={} writers={writers} path={} hashing={}: {n} entries in {elapsed:.1} s = {:.0} entries/s",
        if backend == Backend::Sqlite { "sqlite" } else { "postgres" },
        if path == Path::Grouped { "grouped" } else { "per-transaction" },
        !no_hashing,
        n as f64 / elapsed
    );
    if let Some(c) = checkpointer {
        c.await??;
        let signed = core.audit.latest_audit_checkpoint().await?.map_or(0, |c| c.size);
        let t = Instant::now();
        core.audit.checkpoint_audit_log().await?;
        line.push_str(&format!(
            "; signed during the run: {signed}, the rest ({}) signed in {:.2} s after it",
            n - signed.min(n),
            t.elapsed().as_secs_f64()
        ));
    }
    println!("{line}");
    close(scratch).await
}

async fn verify(entries: u64, keep: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let scratch = open(Backend::Sqlite, "").await?;
    let core = scratch.core.clone();
    let t = Instant::now();
    let mut done = 0;
    while done < entries {
        let n = (entries - done).min(20_000);
        let events: Vec<AuditEvent> =
            (0..n).map(|i| event(usize::try_from((done + i) % 500).unwrap_or(0))).collect();
        let mut tx = core.store().begin().await?;
        tx.append_audit_batch(core.now(), &events).await?;
        tx.commit().await?;
        done += n;
    }
    println!("loaded {entries} entries in {:.1} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    core.audit.checkpoint_audit_log().await?;
    let integrate = t.elapsed().as_secs_f64();
    println!("tree built and signed in {integrate:.1} s = {:.0} entries/s", entries as f64 / integrate);

    let path = scratch._dir.path().join("bundle.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    core.audit.export_audit_bundle(0, None, &mut out, &mut |_, _| {}).await?;
    drop(out);
    let bytes = std::fs::read(&path)?;
    let key = core.audit.audit_signer().verifier();
    if let Some(dir) = keep {
        std::fs::create_dir_all(&dir)?;
        std::fs::copy(&path, dir.join("bundle.jsonl"))?;
        std::fs::write(dir.join("public-key"), key.encode())?;
    }

    let t = Instant::now();
    let v =
        mamori_audit::bundle::verify_bundle(&bytes[..], &key, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let verify_s = t.elapsed().as_secs_f64();
    anyhow::ensure!(v.to_size == entries, "verified {} entries", v.to_size);

    let t = Instant::now();
    let digest = sha2::Sha256::digest(&bytes);
    let sha_file = t.elapsed().as_secs_f64();
    std::hint::black_box(digest);

    // The leaf hashes alone: SHA-256 over each entry's canonical bytes.
    let all = core.store().read().await?.audit_entries(0, entries).await?;
    let encoded: Vec<Vec<u8>> = all.iter().map(mamori_audit::encoding::encode).collect();
    let canonical_bytes: usize = encoded.iter().map(Vec::len).sum();
    let t = Instant::now();
    for e in &encoded {
        std::hint::black_box(mamori_audit::merkle::leaf_hash(e));
    }
    let sha_leaves = t.elapsed().as_secs_f64();

    println!(
        "verify: {entries} entries, bundle {:.0} MB: {verify_s:.2} s = {:.0} entries/s",
        bytes.len() as f64 / 1e6,
        entries as f64 / verify_s
    );
    println!(
        "ceiling: SHA-256 over the bundle's bytes {sha_file:.2} s ({:.1}x); SHA-256 over the {:.0} MB of canonical \
         entries {sha_leaves:.2} s ({:.1}x)",
        verify_s / sha_file,
        canonical_bytes as f64 / 1e6,
        verify_s / sha_leaves
    );
    close(scratch).await
}

async fn vault_setup(
    data_dir: std::path::PathBuf,
    database_url: Option<String>,
    n: u64,
) -> anyhow::Result<()> {
    use mamori_core::vault::NewCustomer;
    use mamori_domain::{Permission, Role};
    let mut config = ServerConfig::defaults(data_dir);
    config.database_url = database_url;
    let core = mamori_server::serve::open_core(&config, Arc::new(SystemClock)).await?;
    let ctx = RequestContext::default();
    let now = core.now();
    let user = |name: &str, roles: Vec<Role>| {
        mamori_store::UserRecord::new(
            uuid::Uuid::new_v4().to_string(),
            name.into(),
            format!("{name} (bench)"),
            roles,
            mamori_domain::identity::UserStatus::Active,
            now,
        )
    };
    let (admin, operator) =
        (user("bench-admin", vec![Role::SecurityAdmin]), user("bench-op", vec![Role::Operator]));
    let mut tx = core.store().begin().await?;
    tx.insert_user(&admin).await?;
    tx.insert_user(&operator).await?;
    tx.commit().await?;
    let principal = |u: &mamori_store::UserRecord| mamori_core::Principal::direct(u, Vec::new());
    let admin_p = principal(&admin);
    let client = core
        .identity
        .create_org_unit(&admin_p, mamori_store::OrgKind::Client, "Bench Client", None, &ctx)
        .await?;
    core.identity.set_user_clients(&admin_p, &operator.id, std::slice::from_ref(&client.id), &ctx).await?;
    let t = Instant::now();
    let mut done = 0;
    while done < n {
        let batch: Vec<NewCustomer> = (done..(done + 5_000).min(n))
            .map(|i| NewCustomer {
                client_id: client.id.clone(),
                fields: [
                    ("name_kanji", format!("試験 太郎{i}")),
                    ("name_kana", format!("シケン タロウ{i}")),
                    ("phones", format!("090{:08}", i)),
                    ("email", format!("bench{i}@example.jp")),
                    ("postal_address", "東京都千代田区丸の内1-1-1".to_owned()),
                    ("birth_date", "1980-04-01".to_owned()),
                    ("card_number", "4111111111111111".to_owned()),
                    ("notes", "ベンチマーク用の架空データ".to_owned()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            })
            .collect();
        core.vault
            .create_customers(&admin_p, &batch, &ctx)
            .await
            .map_err(|e| anyhow::anyhow!("{:?}", e.first().map(|(_, e)| e.to_string())))?;
        done += batch.len() as u64;
    }
    eprintln!(
        "created {n} customers in {:.1} s = {:.0}/s",
        t.elapsed().as_secs_f64(),
        n as f64 / t.elapsed().as_secs_f64()
    );
    let token = core
        .identity
        .create_api_token(
            &principal(&operator),
            "bench",
            &[Permission::CustomersRead],
            Duration::from_secs(86_400),
            &ctx,
        )
        .await?;
    println!("{}", token.secret);
    println!("090{:08}", n / 2);
    Ok(())
}

fn csv_rows(rows: u64, bad_every: Option<u64>) -> Vec<u8> {
    let mut out =
        String::from("name_kanji,name_kana,phones,email,postal_address,birth_date,card_number,notes\n");
    for i in 0..rows {
        let phone = if bad_every.is_some_and(|n| i % n == n - 1) {
            "not-a-phone".to_owned()
        } else {
            format!("080{i:08}")
        };
        out.push_str(&format!(
            "試験 次郎{i},シケン ジロウ{i},{phone},jiro{i}@example.jp,大阪府大阪市北区1-{i},1985-07-15,4111111111111111,架空データ\n"
        ));
    }
    out.into_bytes()
}

async fn import(backend: Backend, rows: u64, postgres: &str) -> anyhow::Result<()> {
    use mamori_core::vault::import::{CsvEncoding, ImportError};
    let scratch = open(backend, postgres).await?;
    let core = scratch.core.clone();
    let ctx = RequestContext::default();
    let p = bench_admin(&core).await?;
    let client =
        core.identity.create_org_unit(&p, mamori_store::OrgKind::Client, "Bench Client", None, &ctx).await?;
    let name = if backend == Backend::Sqlite { "sqlite" } else { "postgres" };

    let clean = csv_rows(rows, None);
    let t = Instant::now();
    let n = core
        .vault
        .import_customers_csv(&p, &client.id, &clean[..], CsvEncoding::Utf8, &mut |_| {}, &ctx)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let s = t.elapsed().as_secs_f64();
    println!(
        "import backend={name}: {n} rows ({:.1} MB) in {s:.2} s = {:.0} rows/s",
        clean.len() as f64 / 1e6,
        n as f64 / s
    );

    let bad = csv_rows(rows, Some(1_000));
    let t = Instant::now();
    match core
        .vault
        .import_customers_csv(&p, &client.id, &bad[..], CsvEncoding::Utf8, &mut |_| {}, &ctx)
        .await
    {
        Err(ImportError::Refused(refusal)) => println!(
            "refuse backend={name}: {rows} rows with {} bad ones ({} listed) in {:.2} s",
            refusal.total,
            refusal.problems.len(),
            t.elapsed().as_secs_f64()
        ),
        other => anyhow::bail!("the bad file was not refused: {other:?}"),
    }
    close(scratch).await
}

async fn agent_setup(data_dir: std::path::PathBuf) -> anyhow::Result<()> {
    let config = ServerConfig::defaults(data_dir);
    let core = mamori_server::serve::open_core(&config, Arc::new(SystemClock)).await?;
    let p = bench_admin(&core).await?;
    let operator = fleet::operator_on_shift(&core, &p, "bench-op").await?;
    let new =
        mamori_core::devices::NewEnrolment { valid_hours: 2, user_id: Some(operator), ..Default::default() };
    let (_, token) = core.devices.create_enrolment(&p, &new, &RequestContext::default()).await?;
    println!("{token}");
    Ok(())
}

/// A security admin for a benchmark's setup, acting through the services directly.
async fn bench_admin(core: &Core) -> anyhow::Result<mamori_core::Principal> {
    let admin = mamori_store::UserRecord::new(
        uuid::Uuid::new_v4().to_string(),
        "bench-admin".into(),
        "bench admin".into(),
        vec![mamori_domain::Role::SecurityAdmin],
        mamori_domain::identity::UserStatus::Active,
        core.now(),
    );
    let mut tx = core.store().begin().await?;
    tx.insert_user(&admin).await?;
    tx.commit().await?;
    Ok(mamori_core::Principal::direct(&admin, Vec::new()))
}
