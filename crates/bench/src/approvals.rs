//! `mamori-bench approvals` (issue 15): from a supervisor's approval to the requester's screen.
//! A real server runs the demo; the requester (demo-op01) has the approvals page open — its
//! server-sent stream — and for each sample a print request is made, the stream opened (its
//! first event is the page as it stands), demo-op01's supervisor steps up and approves, and the
//! time is taken from the start of the decision to the moment the stream brings the page that
//! shows the request approved. The decision's commit, the wake-up of the stream, rendering and
//! loopback are all inside it.
//!
//! The server's clock is moved 30 s before each step-up (each TOTP code may be used once), so
//! a thousand samples take minutes, not hours; sessions are made to last.

use crate::console::{Session, percentile};
use anyhow::Context;
use mamori_domain::clock::ManualClock;
use mamori_domain::{Clock, SystemClock};
use mamori_server::config::ServerConfig;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Reads the stream until an event's data contains `needle`.
async fn until_event(
    stream: &mut reqwest::Response,
    buffer: &mut String,
    needle: &str,
) -> anyhow::Result<()> {
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if event.contains("event: live") && event.contains(needle) {
                return Ok(());
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(30), stream.chunk())
            .await
            .context("no event within 30 s")??
            .context("the stream ended")?;
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

pub async fn run(samples: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = ServerConfig::defaults(dir.path().join("data"));
    config.listen = "127.0.0.1:0".parse()?;
    config.signin_burst = 10_000;
    config.session.idle_timeout = Duration::from_secs(24 * 3600);
    config.session.absolute_timeout = Duration::from_secs(7 * 24 * 3600);
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let running = mamori_server::serve::start(config, clock.clone(), true).await?;
    let base = format!("http://{}", running.addr());
    let core = running.state.core.clone();
    let requester = Session::sign_in(&base, "demo-op01").await?;
    let read = || async { core.store().read().await };
    let op = read().await?.user_by_username("demo-op01").await?.context("demo-op01")?;
    let clients = read().await?.user_clients(&op.id).await?;
    let sv = read()
        .await?
        .list_users()
        .await?
        .into_iter()
        .find(|u| u.roles.contains(&mamori_domain::Role::Supervisor) && u.team_id == op.team_id)
        .context("demo-op01's supervisor")?;
    let op = mamori_core::Principal::direct(&op, clients);
    let sv = mamori_core::Principal::direct(&sv, Vec::new());
    let ctx = mamori_audit::RequestContext::default();
    // The customer of the demo's pending print, which demo-op01 may read.
    let demo_print = core.approvals.inbox(&op).await?.mine.into_iter().next().context("the demo's print")?;
    let content: serde_json::Value = serde_json::from_str(&demo_print.request.content)?;
    let customer = content["customer"].as_str().context("its customer")?.to_owned();

    let mut times = Vec::with_capacity(samples);
    for i in 0..samples {
        let asked = core.request_print(&op, &customer, &format!("郵送の控え {i}"), &ctx).await?;
        let mut stream =
            requester.client.get(format!("{base}/approvals/stream")).send().await?.error_for_status()?;
        let mut buffer = String::new();
        until_event(&mut stream, &mut buffer, &format!("mine-{}", asked.id)).await?;
        clock.advance(Duration::from_secs(30));
        let code = mamori_crypto::totp::code_at(mamori_core::demo::DEMO_TOTP_SECRET, clock.now().as_secs())?;
        let step = core.identity.step_up(&sv, &code, &format!("approval:{}", asked.id), &ctx).await?;
        let started = Instant::now();
        core.approvals.decide(&sv, &asked.id, true, Some(&step), "", &ctx).await?;
        // The requester's row for it now offers the download.
        until_event(&mut stream, &mut buffer, &format!("/approvals/{}/print", asked.id)).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        core.approvals.cancel(&op, &asked.id, &ctx).await?;
    }
    times.sort_by(f64::total_cmp);
    println!(
        "approval → requester's screen over {} approvals: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        times.len(),
        percentile(&times, 50.0),
        percentile(&times, 90.0),
        percentile(&times, 99.0),
        times.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}
