//! The agent ingest benchmark (issue 5): a fleet of simulated agents against a real server over
//! TLS, each signing every request with its own device key as the real agent does — a command
//! long poll held open, a heartbeat every 30 s, an activity bucket every minute — while commands
//! are issued through the API at a steady rate. Reports how long each command took from the
//! click (the API request) to its arrival at the agent, and the latency of heartbeats.

use anyhow::Context;
use mamori_audit::RequestContext;
use mamori_crypto::device_auth::DeviceKey;
use mamori_domain::activity::{Shift, ShiftSchedule, Weekday};
use mamori_domain::{Clock, SystemClock};
use mamori_server::config::ServerConfig;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Operators the fleet's PCs are shared among (each with round-the-clock shifts).
const OPERATORS: usize = 100;

/// Creates the fleet in a data directory (or PostgreSQL database): operators on shift, N
/// enrolled devices, an admin API token. Writes the token and every device's id and key seed
/// to `out` (a benchmark's throwaway file).
pub async fn setup(
    data_dir: std::path::PathBuf,
    database_url: Option<String>,
    devices: usize,
    out: std::path::PathBuf,
) -> anyhow::Result<()> {
    use mamori_domain::Permission;
    let mut config = ServerConfig::defaults(data_dir);
    config.database_url = database_url;
    let core = mamori_server::serve::open_core(&config, Arc::new(SystemClock)).await?;
    let ctx = RequestContext::default();
    let admin = crate::bench_admin(&core).await?;
    let mut operators = Vec::new();
    for i in 0..OPERATORS {
        operators.push(operator_on_shift(&core, &admin, &format!("fleet-op-{i:03}")).await?);
    }
    let mut lines = Vec::with_capacity(devices + 1);
    let token = core
        .identity
        .create_api_token(
            &admin,
            "fleet",
            &[Permission::DevicesManage, Permission::DevicesRead],
            Duration::from_secs(86_400),
            &ctx,
        )
        .await?;
    lines.push(token.secret);
    for chunk in (0..devices).collect::<Vec<_>>().chunks(1000) {
        let mut tx = core.store().begin().await?;
        for i in chunk {
            let key = DeviceKey::generate()?;
            let device = mamori_store::DeviceRecord {
                id: uuid::Uuid::new_v4().to_string(),
                public_key: key.public_key(),
                hostname: format!("FLEET-PC-{i:05}"),
                site_id: None,
                user_id: Some(operators[i % OPERATORS].clone()),
                enrolled_at: core.now(),
                revoked_at: None,
                last_seen_at: None,
                last_ip: Some("127.0.0.1".into()),
            };
            tx.insert_device(&device).await?;
            let seed: String = key.seed().iter().map(|b| format!("{b:02x}")).collect();
            lines.push(format!("{} {seed}", device.id));
        }
        tx.commit().await?;
    }
    std::fs::write(&out, lines.join("\n") + "\n")?;
    eprintln!("fleet of {devices} devices, {OPERATORS} operators");
    Ok(())
}

/// An operator with round-the-clock shifts, so everything their PC reports is kept; their id.
pub async fn operator_on_shift(
    core: &mamori_core::Core,
    admin: &mamori_core::Principal,
    name: &str,
) -> anyhow::Result<String> {
    let user = mamori_store::UserRecord::new(
        uuid::Uuid::new_v4().to_string(),
        name.into(),
        name.into(),
        vec![mamori_domain::Role::Operator],
        mamori_domain::identity::UserStatus::Active,
        core.now(),
    );
    let mut tx = core.store().begin().await?;
    tx.insert_user(&user).await?;
    tx.commit().await?;
    let all_day = ShiftSchedule {
        utc_offset_minutes: 540,
        shifts: vec![Shift { days: Weekday::ALL.to_vec(), start: "00:00".into(), end: "24:00".into() }],
    };
    core.devices.set_user_shifts(admin, &user.id, all_day, &RequestContext::default()).await?;
    Ok(user.id)
}

/// One simulated agent.
struct Device {
    id: String,
    key: DeviceKey,
}

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    errors: AtomicU64,
    buckets: AtomicU64,
    heartbeat_ms: Mutex<Vec<f64>>,
    /// Command id → when the API request issuing it started.
    issued: Mutex<HashMap<String, Instant>>,
    /// Command id → when an agent's poll brought it.
    received: Mutex<HashMap<String, Instant>>,
}

struct Fleet {
    client: reqwest::Client,
    server: String,
    stats: Stats,
    deadline: Instant,
}

fn now_ms() -> i64 {
    SystemClock.now().0
}

impl Fleet {
    async fn post(
        &self,
        device: &Device,
        path: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let bytes = serde_json::to_vec(body)?;
        let auth = device.key.authorize(&device.id, "POST", path, &bytes, now_ms())?;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let r = self
            .client
            .post(format!("{}{path}", self.server))
            .header("authorization", auth)
            .header("content-type", "application/json")
            .body(bytes)
            .send()
            .await;
        match r {
            Ok(r) if r.status().is_success() => Ok(r.json().await?),
            Ok(r) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                anyhow::bail!("{path}: {}", r.status())
            }
            Err(e) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                Err(e.into())
            }
        }
    }

    /// The command long poll, held open as the real agent holds it.
    async fn poll_loop(&self, device: &Device) {
        while Instant::now() < self.deadline {
            let polled =
                self.post(device, "/api/v1/agent/commands/poll", &serde_json::json!({"wait_secs": 25})).await;
            let arrived = Instant::now();
            match polled {
                Ok(v) => {
                    for c in v["commands"].as_array().into_iter().flatten() {
                        let id = c["id"].as_str().unwrap_or_default().to_owned();
                        if let Ok(mut r) = self.stats.received.lock() {
                            r.insert(id.clone(), arrived);
                        }
                        let path = format!("/api/v1/agent/commands/{id}/result");
                        let _ = self
                            .post(device, &path, &serde_json::json!({"ok": true, "detail": "shown"}))
                            .await;
                    }
                }
                Err(_) => tokio::time::sleep(Duration::from_secs(5)).await,
            }
        }
    }

    /// Heartbeats every 30 s and a bucket every minute, from a random point in the cycle.
    async fn report_loop(&self, device: &Device, offset: Duration) {
        tokio::time::sleep(offset).await;
        let mut beat = tokio::time::interval(Duration::from_secs(30));
        let mut n = 0u64;
        while Instant::now() < self.deadline {
            beat.tick().await;
            let t = Instant::now();
            if self.post(device, "/api/v1/agent/heartbeat", &serde_json::json!({})).await.is_ok()
                && let Ok(mut h) = self.stats.heartbeat_ms.lock()
            {
                h.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            n += 1;
            if n.is_multiple_of(2) {
                let minute = now_ms().div_euclid(60_000) * 60_000 - 60_000;
                let event = serde_json::json!({"events": [{"id": format!("b{minute}"), "time": minute + 60_000,
                    "kind": "activity", "data": {"minute": minute, "keystrokes": 120 + n % 50, "clicks": 9,
                    "idle_secs": 0, "app": "msedge", "browser_domain": "crm.example.co.jp"}}]});
                if self.post(device, "/api/v1/agent/events", &event).await.is_ok() {
                    self.stats.buckets.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the fleet for `ramp + seconds`: devices start evenly over `ramp`, then commands are
/// issued at `commands_per_sec` to random devices for `seconds`.
pub async fn run(
    server: String,
    ca: std::path::PathBuf,
    fleet_file: std::path::PathBuf,
    ramp: u64,
    seconds: u64,
    commands_per_sec: f64,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&fleet_file).context("reading the fleet file")?;
    let mut lines = text.lines();
    let token = lines.next().context("an empty fleet file")?.to_owned();
    let mut devices = Vec::new();
    for line in lines {
        let (id, seed) = line.split_once(' ').context("a fleet line")?;
        let bytes: Vec<u8> = (0..seed.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&seed[i..i + 2], 16))
            .collect::<Result<_, _>>()?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| anyhow::anyhow!("a seed is 32 bytes"))?;
        devices.push(Arc::new(Device { id: id.to_owned(), key: DeviceKey::from_seed(&seed) }));
    }
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&ca)?)?;
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .tls_built_in_root_certs(false)
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(60))
        .build()?;
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(ramp);
    let fleet = Arc::new(Fleet {
        client,
        server: server.trim_end_matches('/').to_owned(),
        stats: Stats::default(),
        deadline: measure_from + Duration::from_secs(seconds),
    });
    let n = devices.len();
    let mut tasks = Vec::with_capacity(2 * n);
    for (i, device) in devices.iter().enumerate() {
        let at = Duration::from_secs_f64(ramp as f64 * i as f64 / n as f64);
        let (f1, f2, d1, d2) = (fleet.clone(), fleet.clone(), device.clone(), device.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(at).await;
            f1.poll_loop(&d1).await;
        }));
        // Heartbeats spread over the cycle, whatever the ramp.
        let offset = at + Duration::from_millis((i as u64 * 7_919) % 30_000);
        tasks.push(tokio::spawn(async move { f2.report_loop(&d2, offset).await }));
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let requests_before = fleet.stats.requests.load(Ordering::Relaxed);
    eprintln!("fleet: {n} devices started; issuing commands for {seconds} s");
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / commands_per_sec));
    let mut k: usize = 0;
    // Commands stop 30 s before the end, so every one has time to arrive.
    let issue_until = fleet.deadline - Duration::from_secs(30);
    let mut issued = 0u64;
    while Instant::now() < issue_until {
        tick.tick().await;
        k = (k + 7_919) % n;
        let device = &devices[k];
        let t = Instant::now();
        let r = fleet
            .client
            .post(format!("{}/api/v1/devices/{}/commands", fleet.server, device.id))
            .bearer_auth(&token)
            .json(&serde_json::json!({"kind": "message", "message": "benchmark"}))
            .send()
            .await;
        if let Ok(r) = r
            && r.status().is_success()
        {
            let v: serde_json::Value = r.json().await?;
            if let Ok(mut m) = fleet.stats.issued.lock() {
                m.insert(v["id"].as_str().unwrap_or_default().to_owned(), t);
            }
            issued += 1;
        } else {
            eprintln!("fleet: issuing a command failed");
        }
    }
    tokio::time::sleep_until(fleet.deadline.into()).await;
    let requests = fleet.stats.requests.load(Ordering::Relaxed) - requests_before;
    for t in tasks {
        t.abort();
    }
    let issued_at = fleet.stats.issued.lock().map(|m| m.clone()).unwrap_or_default();
    let received = fleet.stats.received.lock().map(|m| m.clone()).unwrap_or_default();
    let mut delivery: Vec<f64> = issued_at
        .iter()
        .filter_map(|(id, t)| received.get(id).map(|r| r.duration_since(*t).as_secs_f64() * 1000.0))
        .collect();
    delivery.sort_by(f64::total_cmp);
    let mut beats = fleet.stats.heartbeat_ms.lock().map(|h| h.clone()).unwrap_or_default();
    beats.sort_by(f64::total_cmp);
    let missing = issued as usize - delivery.len();
    println!(
        "| {n} devices | {:.0} agent req/s | {} buckets | commands: {issued} issued, {missing} not delivered, delivery p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms | heartbeat p50 {:.1} ms, p99 {:.1} ms | {} errors |",
        requests as f64 / seconds as f64,
        fleet.stats.buckets.load(Ordering::Relaxed),
        percentile(&delivery, 0.5),
        percentile(&delivery, 0.99),
        delivery.last().copied().unwrap_or(f64::NAN),
        percentile(&beats, 0.5),
        percentile(&beats, 0.99),
        fleet.stats.errors.load(Ordering::Relaxed),
    );
    Ok(())
}
