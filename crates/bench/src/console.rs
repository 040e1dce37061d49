//! The console benchmark (issue 14): every console page each demo role opens, timed on a real
//! server with the demo contact center running and 100,000 more audit entries; and the live
//! floor — from an agent's signed report to the floor's server-sent event showing it.
//!
//! Pages are timed from the request's start to the last byte of the page, over loopback, one
//! request at a time (the server's answer time; a browser adds its own rendering). The floor is
//! timed from the start of the agent's `POST /api/v1/agent/events` (a screen lock, then an
//! unlock) to the moment the stream brings a floor whose row for that PC shows it.

use crate::Backend;
use anyhow::Context;
use mamori_audit::{Actor, AuditEvent, Outcome, actions};
use mamori_crypto::device_auth::DeviceKey;
use mamori_domain::{Clock, SystemClock};
use mamori_server::config::ServerConfig;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Options {
    pub backend: Backend,
    pub postgres: String,
    pub audit_entries: u64,
    pub rounds: usize,
    pub floor_samples: usize,
    /// A Node script to time pages in the browser (`scripts/bench-console-browser.mjs`), run
    /// against the same server when given.
    pub browser_script: Option<std::path::PathBuf>,
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A signed-in console session.
pub(crate) struct Session {
    pub(crate) client: reqwest::Client,
    base: String,
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))? + name.len() + 15;
    Some(html[at..at + html[at..].find('"')?].to_owned())
}

impl Session {
    pub(crate) async fn sign_in(base: &str, username: &str) -> anyhow::Result<Session> {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let page = client.get(format!("{base}/signin")).send().await?.text().await?;
        let csrf = hidden(&page, "_csrf").context("sign-in form")?;
        let form = [
            ("_csrf", csrf.as_str()),
            ("username", username),
            ("password", mamori_core::demo::DEMO_PASSWORD),
        ];
        let r = client.post(format!("{base}/signin")).form(&form).send().await?;
        if r.headers().get("location").is_some_and(|l| l == "/signin/totp") {
            let page = client.get(format!("{base}/signin/totp")).send().await?.text().await?;
            let csrf = hidden(&page, "_csrf").context("TOTP form")?;
            let code = mamori_crypto::totp::code_at(
                mamori_core::demo::DEMO_TOTP_SECRET,
                SystemClock.now().as_secs(),
            )?;
            let r = client
                .post(format!("{base}/signin/totp"))
                .form(&[("_csrf", csrf.as_str()), ("code", code.as_str())])
                .send()
                .await?;
            anyhow::ensure!(r.status() == 303, "{username}: second factor refused");
        }
        Ok(Session { client, base: base.to_owned() })
    }

    /// The page's status and the time to its last byte.
    async fn time(&self, path: &str) -> anyhow::Result<(u16, f64)> {
        let start = Instant::now();
        let r = self.client.get(format!("{}{path}", self.base)).send().await?;
        let status = r.status().as_u16();
        r.bytes().await?;
        Ok((status, start.elapsed().as_secs_f64() * 1000.0))
    }
}

/// 100,000 entries like a busy center's: lookups, reveals, calls, inventories, by demo people.
async fn fill_audit_log(core: &mamori_core::Core, entries: u64) -> anyhow::Result<()> {
    let users: Vec<String> =
        core.store().read().await?.list_users().await?.into_iter().map(|u| u.id).collect();
    let kinds = [
        &actions::CUSTOMER_LOOKUP,
        &actions::CTI_CALL_START,
        &actions::CTI_CALL_END,
        &actions::CUSTOMER_REVEAL,
        &actions::DEVICE_INVENTORY,
        &actions::CUSTOMER_NOTE_ADD,
    ];
    let started = Instant::now();
    let mut written = 0;
    while written < entries {
        let mut tx = core.store().begin().await?;
        for i in written..(written + 2000).min(entries) {
            let action = kinds[(i % kinds.len() as u64) as usize];
            let actor = Actor::User(users[(i % users.len() as u64) as usize].clone());
            let e = AuditEvent::of(action, actor, Outcome::Success)
                .object("customer:h:4f1c2a9be07d5531c2b8a0d6e1f34a77")
                .detail("purpose", if i % 10 == 0 { "reason" } else { "active_call" });
            tx.append_audit(core.now(), &e).await?;
        }
        tx.commit().await?;
        written = (written + 2000).min(entries);
        if written % 20_000 == 0 {
            eprintln!(
                "  audit log: {written} / {entries} entries ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    core.audit.checkpoint_audit_log().await?;
    Ok(())
}

/// The console's GET pages, ids filled in.
fn console_pages(device: &str, user: &str) -> Vec<String> {
    let routes = mamori_server::routes::all_routes().into_parts().1;
    let mut pages: Vec<String> = routes
        .specs()
        .iter()
        .filter(|r| r.method == reqwest::Method::GET && !r.is_api())
        .map(|r| r.path)
        .filter(|p| !p.starts_with("/static/") && !p.ends_with("/stream") && !p.starts_with("/signin"))
        .filter(|p| {
            !["/", "/setup", "/invite", "/enrol-totp", "/security-events", "/healthz", "/readyz"].contains(p)
        })
        .map(|p| p.replace("{id}", if p.starts_with("/devices/") { device } else { user }))
        .collect();
    pages.push(format!("/devices/{device}/commands?kind=lock"));
    pages.push("/audit?size=500".into());
    pages.push("/audit?all=1&size=500".into());
    pages
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
    eprintln!("demo loaded at {base}; writing {} audit entries", o.audit_entries);
    fill_audit_log(&core, o.audit_entries).await?;
    // The demo's PCs enrol and report on the demo's first steps.
    tokio::time::sleep(Duration::from_secs(12)).await;

    let read = || async { core.store().read().await };
    let device = read().await?.list_devices().await?.into_iter().next().context("a demo PC")?.id;
    let user = read().await?.user_by_username("demo-op01").await?.context("demo-op01")?.id;
    let pages = console_pages(&device, &user);
    println!("| role | page | p50 ms | p95 ms | max ms |\n|---|---|---:|---:|---:|");
    let mut worst: Vec<(f64, String)> = Vec::new();
    for (username, role) in [
        ("demo-admin01", "security admin"),
        ("demo-sv01", "supervisor"),
        ("demo-auditor01", "auditor"),
        ("demo-op01", "operator"),
    ] {
        let session = Session::sign_in(&base, username).await?;
        for page in &pages {
            let (status, _) = session.time(page).await?; // warm-up, and whether the role may open it
            if status != 200 {
                continue;
            }
            let mut times = Vec::with_capacity(o.rounds);
            for _ in 0..o.rounds {
                times.push(session.time(page).await?.1);
            }
            times.sort_by(f64::total_cmp);
            let (p50, p95, max) =
                (percentile(&times, 50.0), percentile(&times, 95.0), times[times.len() - 1]);
            println!("| {role} | `{page}` | {p50:.1} | {p95:.1} | {max:.1} |");
            worst.push((p95, format!("{role} {page}")));
        }
    }
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    if let Some((p95, what)) = worst.first() {
        println!(
            "\nslowest page at p95: {what} ({p95:.1} ms); {} pages over 50 ms",
            worst.iter().filter(|w| w.0 > 50.0).count()
        );
    }

    floor_latency(&core, &base, o.floor_samples).await?;

    if let Some(script) = &o.browser_script {
        let status = std::process::Command::new("node").arg(script).arg(&base).status();
        match status {
            Ok(s) if s.success() => {}
            other => eprintln!("the browser timing did not run: {other:?}"),
        }
    }
    running.shutdown().await;
    if let Some(name) = drop_db {
        crate::drop_postgres(&o.postgres, &name).await?;
    }
    Ok(())
}

/// From an agent's report to the floor's stream showing it, `samples` times (a lock, an unlock…).
async fn floor_latency(core: &mamori_core::Core, base: &str, samples: usize) -> anyhow::Result<()> {
    let admin = crate::bench_admin(core).await?;
    let operator = crate::fleet::operator_on_shift(core, &admin, "floor-bench-op").await?;
    let key = DeviceKey::generate()?;
    let device = mamori_store::DeviceRecord {
        id: uuid::Uuid::new_v4().to_string(),
        public_key: key.public_key(),
        hostname: "BENCH-PC-01".into(),
        site_id: None,
        user_id: Some(operator),
        enrolled_at: core.now(),
        revoked_at: None,
        last_seen_at: Some(core.now()),
        last_ip: Some("127.0.0.1".into()),
    };
    let mut tx = core.store().begin().await?;
    tx.insert_device(&device).await?;
    tx.commit().await?;
    let agent = reqwest::Client::new();
    let report = |n: usize, locked: bool| {
        let kind = if locked { "screen_locked" } else { "screen_unlocked" };
        let body = serde_json::to_vec(&serde_json::json!({"events": [
            {"id": format!("bench-{n}"), "time": SystemClock.now().0, "kind": kind, "data": {}}
        ]}))
        .unwrap_or_default();
        let path = "/api/v1/agent/events";
        let auth = key.authorize(&device.id, "POST", path, &body, SystemClock.now().0);
        let request =
            agent.post(format!("{base}{path}")).header("content-type", "application/json").body(body);
        async move {
            let r = request.header("authorization", auth?).send().await?;
            anyhow::ensure!(r.status().is_success(), "agent report refused: {}", r.status());
            Ok::<_, anyhow::Error>(())
        }
    };
    // The row shows the state the stream's latest floor gives the bench PC.
    let row_locked = |event: &str| -> Option<bool> {
        let at = event.find(&format!("data-device=\"{}\"", device.id))?;
        let row = &event[at..at + event[at..].find("</tr>")?];
        Some(row.contains("state-locked"))
    };
    // Another admin than the pages' one: a TOTP code is accepted once per user and step.
    let session = Session::sign_in(base, "demo-admin02").await?;
    let mut stream = session.client.get(format!("{base}/floor/stream")).send().await?;
    let mut buffer = String::new();
    let mut latencies = Vec::with_capacity(samples);
    for n in 0..samples {
        let locked = n % 2 == 0;
        let sent = Instant::now();
        report(n, locked).await?;
        loop {
            if let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                if row_locked(&event) == Some(locked) {
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                    buffer.clear();
                    break;
                }
                continue;
            }
            match tokio::time::timeout(Duration::from_secs(15), stream.chunk()).await {
                Ok(Ok(Some(chunk))) => buffer.push_str(&String::from_utf8_lossy(&chunk)),
                // The stream ends after a minute; the browser reconnects, and so does this.
                Ok(Ok(None)) => {
                    stream = session.client.get(format!("{base}/floor/stream")).send().await?;
                    buffer.clear();
                }
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => anyhow::bail!("no floor showing report {n} within 15 s"),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "\nfloor update after an agent's report ({} samples): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        latencies.len(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}
