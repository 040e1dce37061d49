//! `mamori-bench export`: a customer export (issue 15, item 3) of N customers, as the requester
//! downloads it — rows per second, and how far the process' resident memory rises above where
//! it stood when the download began (it should not grow with N: run 10,000 and 100,000).
//!
//! The approval itself is not what is measured: the granted request is written straight into
//! the store (as a supervisor's approval would leave it), then the ticket, the grant's use and
//! the stream go through the service as the console's download does.

use crate::{Backend, RequestContext, bench_admin, close, csv_rows, open};
use mamori_domain::UnixMillis;
use mamori_domain::approval::{ApprovalKind, ApprovalState};
use mamori_domain::customer::CustomerField;
use std::time::Instant;

/// Resident memory of this process now (kB), from /proc.
fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

pub async fn run(backend: Backend, customers: u64, postgres: &str) -> anyhow::Result<()> {
    use mamori_core::vault::import::CsvEncoding;
    let scratch = open(backend, postgres).await?;
    let core = scratch.core.clone();
    let ctx = RequestContext::default();
    let admin = bench_admin(&core).await?;
    let client = core
        .identity
        .create_org_unit(&admin, mamori_store::OrgKind::Client, "Bench Client", None, &ctx)
        .await?;
    let rows = csv_rows(customers, None);
    core.vault
        .import_customers_csv(&admin, &client.id, &rows[..], CsvEncoding::Utf8, &mut |_| {}, &ctx)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    drop(rows);

    let operator = mamori_store::UserRecord::new(
        uuid::Uuid::new_v4().to_string(),
        "bench-op".into(),
        "bench operator".into(),
        vec![mamori_domain::Role::Operator],
        mamori_domain::identity::UserStatus::Active,
        core.now(),
    );
    let now = core.now();
    let content = serde_json::json!({
        "document": "customer_export",
        "client": client.id,
        "fields": ["name_kanji", "name_kana", "phones", "email", "postal_address", "birth_date", "card_number"],
        "customers": customers,
        "registered_before": now.0 + 1,
    });
    let granted = mamori_core::approvals::Approval {
        id: uuid::Uuid::new_v4().to_string(),
        kind: ApprovalKind::Export,
        requester_id: operator.id.clone(),
        requester_team: None,
        digest: mamori_core::approvals::content_digest(&content),
        content: content.to_string(),
        reason: "benchmark".into(),
        state: ApprovalState::Granted,
        created_at: now,
        decide_by: UnixMillis(now.0 + 3_600_000),
        closed_at: Some(now),
        grant_expires_at: Some(UnixMillis(now.0 + 3_600_000)),
    };
    let mut tx = core.store().begin().await?;
    tx.insert_user(&operator).await?;
    tx.insert_approval(&granted).await?;
    tx.commit().await?;
    let op = mamori_core::Principal::direct(&operator, vec![client.id.clone()]);

    let before = rss_kb();
    let mut peak = before;
    let started = Instant::now();
    let ticket = core.prepare_export(&op, &granted.id, &ctx).await?;
    let header = |f: CustomerField| f.as_str().to_owned();
    let mut stream = core.export_customers(&op, &granted.id, &ticket.ticket, &header, &ctx).await?;
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next_chunk().await? {
        bytes += chunk.len() as u64;
        peak = peak.max(rss_kb());
    }
    let s = started.elapsed().as_secs_f64();
    let name = if backend == Backend::Sqlite { "sqlite" } else { "postgres" };
    anyhow::ensure!(stream.rows == customers, "exported {} of {customers}", stream.rows);
    println!(
        "export backend={name}: {} customers, 7 fields, {:.1} MB archive in {s:.2} s = {:.0} rows/s; \
         RSS {} MB at the start of the download, peak +{:.1} MB during it",
        stream.rows,
        bytes as f64 / 1e6,
        stream.rows as f64 / s,
        before / 1024,
        (peak - before) as f64 / 1024.0
    );
    close(scratch).await
}
