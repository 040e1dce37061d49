//! `mamori audit …`: the public key, export bundles, and verification of a bundle (offline:
//! nothing but the file and the key) or of the live database.

use crate::{AuditCommand, CommonArgs, load_config};
use anyhow::{Context, bail};
use mamori_audit::bundle::{hex_root, verify_bundle};
use mamori_audit::checkpoint::CheckpointVerifier;
use mamori_audit::verify::Verified;
use mamori_core::Core;
use mamori_core::audit_log::VerifyError;
use mamori_domain::SystemClock;
use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

pub fn run(command: AuditCommand, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    match command {
        AuditCommand::PublicKey(common) => {
            let core = runtime.block_on(open(&common))?;
            println!("{}", core.audit.audit_public_key());
            Ok(())
        }
        AuditCommand::Export { common, from_size, to_size, output } => {
            runtime.block_on(export(&common, from_size, to_size, &output))
        }
        AuditCommand::Show { bundle } => show(&bundle),
        AuditCommand::Archive { common, output_dir } => runtime.block_on(archive(&common, &output_dir)),
        AuditCommand::Verify { bundle: Some(bundle), public_key, previous_checkpoint, common: _ } => {
            let Some(key) = public_key else {
                bail!(
                    "a bundle is verified against the log's public key: pass --public-key KEY (or a file holding it)"
                );
            };
            let key = parse_key(&key)?;
            let previous = previous_checkpoint
                .map(|p| {
                    std::fs::read_to_string(&p)
                        .with_context(|| format!("cannot read the checkpoint {}", p.display()))
                })
                .transpose()?;
            let file = std::fs::File::open(&bundle)
                .with_context(|| format!("cannot open the bundle {}", bundle.display()))?;
            let result = verify_bundle(BufReader::new(file), &key, previous.as_deref());
            report(&bundle.display().to_string(), result.map_err(VerifyError::from))
        }
        AuditCommand::Verify { bundle: None, public_key, previous_checkpoint, common } => {
            if previous_checkpoint.is_some() {
                bail!(
                    "--previous-checkpoint goes with a bundle; the live database is checked from its start"
                );
            }
            runtime.block_on(async {
                let core = open(&common).await?;
                let key = match public_key {
                    Some(k) => parse_key(&k)?,
                    None => core.audit.audit_signer().verifier(),
                };
                let mut progress = progress_printer("verifying");
                let result = core.audit.verify_audit_log(&key, &mut progress).await;
                report("the live database", result)
            })
        }
    }
}

async fn open(common: &CommonArgs) -> anyhow::Result<Core> {
    let config = load_config(common, Vec::new(), false)?;
    if config.database_url.is_none() && !config.data_dir.join("mamori.db").exists() {
        bail!(
            "no Mamori database in {}; pass --data-dir (or --database-url for PostgreSQL)",
            config.data_dir.display()
        );
    }
    Ok(mamori_server::serve::open_core(&config, Arc::new(SystemClock)).await?)
}

/// The key itself, or a file that holds it.
fn parse_key(text: &str) -> anyhow::Result<CheckpointVerifier> {
    let text = if Path::new(text).is_file() {
        std::fs::read_to_string(text).with_context(|| format!("cannot read the public key file {text}"))?
    } else {
        text.to_owned()
    };
    CheckpointVerifier::parse(&text)
        .context("--public-key is not a Mamori audit public key (mamori audit public-key prints it)")
}

/// Progress on stderr, when a person is watching.
fn progress_printer(what: &'static str) -> impl FnMut(u64, u64) {
    let tty = std::io::stderr().is_terminal();
    move |done, total| {
        if tty {
            eprint!("\r{what}: {done} / {total} entries");
            if done == total {
                eprintln!();
            }
        }
    }
}

fn show(bundle: &Path) -> anyhow::Result<()> {
    use std::io::BufRead;
    let file = std::fs::File::open(bundle)
        .with_context(|| format!("cannot open the bundle {}", bundle.display()))?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (n, line) in BufReader::new(file).lines().enumerate().skip(1) {
        let line = line?;
        let (_, entry) = mamori_audit::bundle::parse_entry_line(&line)
            .map_err(|e| anyhow::anyhow!("line {}: {e}; run `mamori audit verify` on it", n + 1))?;
        writeln!(out, "{}", mamori_audit::siem::json_line(&entry))?;
    }
    out.flush()?;
    Ok(())
}

async fn archive(common: &CommonArgs, dir: &Path) -> anyhow::Result<()> {
    let config = load_config(common, Vec::new(), false)?;
    let core = open(common).await?;
    let cutoff = core.now().minus(config.audit_retention);
    let Some((from, to)) = core.audit.audit_archive_range(cutoff).await? else {
        println!(
            "nothing to archive: no signed entry is older than {} days",
            config.audit_retention.as_secs() / 86_400
        );
        return Ok(());
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let bundle = dir.join(format!("mamori-audit-{from:012}-{to:012}.jsonl"));
    write_bundle(&core, from, Some(to), &bundle).await?;
    let deleted = core.audit.prune_audit_log(to, &Default::default()).await?;
    println!(
        "archived entries {from} to {} in {}; {deleted} deleted from the database",
        to - 1,
        bundle.display()
    );
    println!("keep the bundle and its .checkpoint: the next archive continues from it");
    Ok(())
}

async fn export(common: &CommonArgs, from: u64, to: Option<u64>, output: &Path) -> anyhow::Result<()> {
    let core = open(common).await?;
    let header = write_bundle(&core, from, to, output).await?;
    let checkpoint = output.with_extension("checkpoint");
    println!(
        "wrote entries {} to {} ({} entries) to {}",
        header.from_size,
        header.to_size.saturating_sub(1),
        header.to_size - header.from_size,
        output.display()
    );
    println!(
        "its checkpoint is in {}: keep it, and verify the next export with --previous-checkpoint {}",
        checkpoint.display(),
        checkpoint.display()
    );
    Ok(())
}

/// Writes a bundle and its `.checkpoint` beside it, durably, or nothing at all.
async fn write_bundle(
    core: &Core,
    from: u64,
    to: Option<u64>,
    output: &Path,
) -> anyhow::Result<mamori_audit::bundle::BundleHeader> {
    // Write beside the target and rename at the end: a failed export leaves no half bundle.
    let partial = output.with_extension("partial");
    let file =
        std::fs::File::create(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let mut out = BufWriter::new(file);
    let mut progress = progress_printer("exporting");
    let header = match core.audit.export_audit_bundle(from, to, &mut out, &mut progress).await {
        Ok(h) => h,
        Err(e) => {
            drop(out);
            let _ = std::fs::remove_file(&partial);
            return Err(e.into());
        }
    };
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&partial, output)?;
    let checkpoint = output.with_extension("checkpoint");
    std::fs::write(&checkpoint, &header.checkpoint)?;
    std::fs::File::open(&checkpoint)?.sync_all()?;
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(header)
}

fn report(what: &str, result: Result<Verified, VerifyError>) -> anyhow::Result<()> {
    match result {
        Ok(v) => {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "OK: {what} verifies — entries {} to {} ({} entries), {} signed checkpoints matched, root {}",
                v.from_size,
                v.to_size.saturating_sub(1),
                v.to_size - v.from_size,
                v.checkpoints,
                hex_root(&v.root)
            )?;
            Ok(())
        }
        Err(VerifyError::Mismatch(m)) => {
            eprintln!("FAILED: {what} does not verify: {m}");
            std::process::exit(1);
        }
        Err(VerifyError::Core(e)) => Err(anyhow::anyhow!("cannot verify {what}: {e}")),
    }
}
