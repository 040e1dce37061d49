//! `mamori`: the server (`mamori serve`) and its command-line tools.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use mamori_core::identity::setup::SetupState;
use mamori_domain::{Clock, SystemClock};
use mamori_server::config::{self, ServerConfig, Sources};
use std::path::PathBuf;
use std::sync::Arc;

mod audit;

#[derive(Parser)]
#[command(name = "mamori", version, about = "Mamori — security platform for contact centers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (console and API).
    Serve(ServeArgs),
    /// Print a new one-time setup link when no user exists yet (the first one was lost or expired).
    SetupLink(CommonArgs),
    /// Print the current TOTP code of the demo accounts (the demo's secret is published).
    DemoTotp,
    /// Print the configuration keys and their environment variables.
    ConfigKeys,
    /// The tamper-evident audit log: public key, export bundles, verification.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Customer records.
    #[command(subcommand)]
    Customers(CustomersCommand),
    /// The vault's keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new key-encryption key version and re-wrap every customer's (and vendor file's)
    /// data key with it, online; run it again to finish a rotation that was interrupted.
    Rotate {
        #[command(flatten)]
        common: CommonArgs,
        /// Records re-wrapped per transaction.
        #[arg(long, default_value_t = 1000)]
        batch_size: i64,
        /// The approved request for it (needed once there are two security admins: a privileged
        /// action, issue 15).
        #[arg(long)]
        approval: Option<String>,
    },
    /// Destroy the key versions older than the current one, after a finished rotation: database
    /// backups made before can no longer be opened — nor the customers erased since (APPI).
    Retire {
        #[command(flatten)]
        common: CommonArgs,
        /// The approved request for it (needed once there are two security admins).
        #[arg(long)]
        approval: Option<String>,
    },
}

#[derive(Subcommand)]
enum CustomersCommand {
    /// Import a CSV file of one client company's customers (line 1: field names). All or
    /// nothing: a file with any bad row is refused, and every problem is listed.
    Import {
        #[command(flatten)]
        common: CommonArgs,
        /// The user the import is recorded as (a security admin).
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        /// The client company: its name or id.
        #[arg(long, value_name = "CLIENT")]
        client: String,
        /// The CSV file.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// utf-8 or shift_jis.
        #[arg(long, default_value = "utf-8")]
        encoding: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Print the key that verifies the log's checkpoints (give it to auditors).
    PublicKey(CommonArgs),
    /// Write entries A..B with their checkpoints and proofs to a bundle that verifies offline.
    Export {
        #[command(flatten)]
        common: CommonArgs,
        /// Tree size the bundle starts at: the `to-size` of the previous export [default: 0].
        #[arg(long, value_name = "A", default_value_t = 0)]
        from_size: u64,
        /// Tree size the bundle ends at [default: the latest checkpoint].
        #[arg(long, value_name = "B")]
        to_size: Option<u64>,
        /// The bundle file to write.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Print a bundle's entries as JSON Lines, to read them (verify the bundle first).
    Show {
        /// An export bundle.
        bundle: PathBuf,
    },
    /// Move entries older than the retention period (audit.retention_days, default 365) into a
    /// bundle in DIR, then delete them from the database; every checkpoint and proof still verifies.
    Archive {
        #[command(flatten)]
        common: CommonArgs,
        /// Directory for the archive bundle and its checkpoint.
        #[arg(long, value_name = "DIR")]
        output_dir: PathBuf,
    },
    /// Verify a bundle offline, or without BUNDLE the live database; exits 1 naming the first
    /// entry that does not match.
    Verify {
        /// An export bundle; without it the live database is checked.
        bundle: Option<PathBuf>,
        /// The log's public key, or a file holding it (required for a bundle; for the live
        /// database the data directory's key is used when it is not given).
        #[arg(long, value_name = "KEY|FILE")]
        public_key: Option<String>,
        /// The checkpoint kept from the previous export: the bundle must continue from it.
        #[arg(long, value_name = "FILE")]
        previous_checkpoint: Option<PathBuf>,
        #[command(flatten)]
        common: CommonArgs,
    },
}

/// Where the data is; shared by every command that opens it.
#[derive(Args, Clone)]
struct CommonArgs {
    /// TOML configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for the SQLite database and key files [default: ./mamori-data, ./mamori-demo with --demo].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://…); without it Mamori uses the embedded SQLite.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// The URL users reach Mamori at, used in links.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// PEM certificate chain for HTTPS.
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Allow plain HTTP on a non-loopback address (only behind a TLS proxy).
    #[arg(long)]
    insecure_http: bool,
    /// Load a synthetic contact center and print its sign-in names and passwords.
    #[arg(long)]
    demo: bool,
}

fn load_config(
    common: &CommonArgs,
    extra: Vec<(&'static str, toml::Value)>,
    demo: bool,
) -> anyhow::Result<ServerConfig> {
    let file = match &common.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the config file {}", path.display()))?;
            Some((path.display().to_string(), text))
        }
        None => None,
    };
    let mut flags = extra;
    if let Some(d) = &common.data_dir {
        flags.push(("data_dir", toml::Value::String(d.display().to_string())));
    }
    if let Some(u) = &common.database_url {
        flags.push(("database_url", toml::Value::String(u.clone())));
    }
    let sources = Sources {
        file,
        env: std::env::vars().collect(),
        flags,
        default_data_dir: PathBuf::from(if demo { "./mamori-demo" } else { "./mamori-data" }),
    };
    Ok(config::load(&sources)?)
}

fn init_logging(filter: &str) {
    init_logging_as(filter, false);
}

/// Text lines, or one JSON object a line (`log_format = "json"`) for a log shipper; the request
/// log line carries the request id either way.
fn init_logging_as(filter: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    if json {
        logs.json().init();
    } else {
        logs.init();
    }
    // A panic message may quote data; log where it happened, never what it said (invariant 4).
    std::panic::set_hook(Box::new(|info| {
        let place = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        tracing::error!(location = %place, "internal error (panic); the request was answered with 500");
    }));
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args)),
        Command::SetupLink(common) => runtime.block_on(setup_link(common)),
        Command::DemoTotp => {
            let now = SystemClock.now().as_secs();
            println!("{}", mamori_crypto::totp::code_at(mamori_core::demo::DEMO_TOTP_SECRET, now)?);
            Ok(())
        }
        Command::ConfigKeys => {
            print!("{}", config::keys_markdown());
            Ok(())
        }
        Command::Audit(command) => {
            init_logging("warn");
            audit::run(command, &runtime)
        }
        Command::Keys(KeysCommand::Rotate { common, batch_size, approval }) => {
            init_logging("warn");
            runtime.block_on(rotate_keys(&common, batch_size, approval.as_deref()))
        }
        Command::Keys(KeysCommand::Retire { common, approval }) => {
            init_logging("warn");
            runtime.block_on(retire_keys(&common, approval.as_deref()))
        }
        Command::Customers(CustomersCommand::Import { common, as_user, client, file, encoding }) => {
            init_logging("warn");
            runtime.block_on(import_customers(&common, &as_user, &client, &file, &encoding))
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut flags = Vec::new();
    if let Some(l) = &args.listen {
        flags.push(("listen", toml::Value::String(l.clone())));
    }
    if let Some(u) = &args.public_url {
        flags.push(("public_url", toml::Value::String(u.clone())));
    }
    if let Some(c) = &args.tls_cert {
        flags.push(("tls_cert", toml::Value::String(c.display().to_string())));
    }
    if let Some(k) = &args.tls_key {
        flags.push(("tls_key", toml::Value::String(k.display().to_string())));
    }
    if args.insecure_http {
        flags.push(("insecure_http", toml::Value::Boolean(true)));
    }
    let config = load_config(&args.common, flags, args.demo)?;
    init_logging_as(&config.log, config.log_json);
    if config.tls.is_none() && !config.listen.ip().is_loopback() {
        tracing::warn!(listen = %config.listen, "serving plain HTTP on a non-loopback address (--insecure-http); put a TLS proxy in front");
    }
    let public_url = config.public_url.clone();
    let running = mamori_server::serve::start(config, Arc::new(SystemClock), args.demo).await?;
    let started = &running.started;
    tracing::info!(addr = %started.addr, backend = started.backend, "Mamori is listening");
    print_start_notes(started, &public_url);

    shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

fn print_start_notes(started: &mamori_server::serve::Started, public_url: &str) {
    match &started.setup {
        SetupState::NewLink(token) => {
            println!();
            println!(
                "  First start: create the first security admin with this one-time link (valid 1 hour):"
            );
            println!("  {public_url}/setup?token={token}");
            println!();
        }
        SetupState::LinkOutstanding => {
            println!("  No user exists yet, and a setup link printed earlier is still valid.");
            println!("  Lost it? Run `mamori setup-link` for a new one.");
        }
        SetupState::Done => {}
    }
    if let Some(accounts) = &started.demo {
        println!();
        println!("  Demo contact center loaded (synthetic data). Open {public_url}/ and sign in as:");
        for a in accounts {
            let totp = if a.needs_totp { "  + TOTP code from `mamori demo-totp`" } else { "" };
            println!(
                "    {:<16} {:<15} password {}{totp}",
                a.username,
                a.role.as_str(),
                mamori_core::demo::DEMO_PASSWORD
            );
        }
        println!(
            "  ({} demo staff in all: demo-op01–30, demo-sv01–06, demo-admin01–02, demo-auditor01–02.)",
            mamori_core::demo::demo_staff_count()
        );
        println!("  Demo TOTP secret (add to an authenticator app): {}", mamori_core::demo::DEMO_TOTP_SECRET);
        println!(
            "  {} synthetic customers; an operator can look one up by phone, e.g. {}.",
            mamori_core::demo::DEMO_CUSTOMERS,
            mamori_core::demo::DEMO_SAMPLE_PHONE
        );
        println!("  Simulated telephony gives demo-op01 a caller to look up; simulated agents fill the");
        println!("  device ledger (DEMO-PC-07 leaves the office network, DEMO-PC-12 plugs in a USB stick).");
        println!();
    }
}

async fn import_customers(
    common: &CommonArgs,
    as_user: &str,
    client: &str,
    file: &std::path::Path,
    encoding: &str,
) -> anyhow::Result<()> {
    use mamori_core::vault::import::{CsvEncoding, ImportError};
    let encoding = CsvEncoding::parse(encoding)
        .ok_or_else(|| anyhow::anyhow!("--encoding must be utf-8 or shift_jis, not `{encoding}`"))?;
    let config = load_config(common, Vec::new(), false)?;
    let core = mamori_server::serve::open_core(&config, Arc::new(SystemClock)).await?;
    let user = match core.identity.user_named(as_user).await {
        Ok(user) if user.status == mamori_domain::identity::UserStatus::Active => user,
        Ok(_) | Err(mamori_core::CoreError::NotFound { .. }) => anyhow::bail!("no active user `{as_user}`"),
        Err(e) => return Err(e.into()),
    };
    let principal = mamori_core::Principal::direct(&user, Vec::new());
    if !principal.can(mamori_domain::Permission::CustomersManage) {
        anyhow::bail!("`{as_user}` does not hold customers.manage (a security admin does)");
    }
    let clients = core.identity.list_org(mamori_domain::identity::OrgKind::Client).await?;
    let client = clients
        .iter()
        .find(|c| c.id == client || c.name == client)
        .ok_or_else(|| anyhow::anyhow!("no client company named `{client}`"))?;
    let input = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let started = std::time::Instant::now();
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut progress = |rows: u64| {
        if tty {
            eprint!("\rread {rows} rows");
        }
    };
    let ctx = mamori_audit::RequestContext::default();
    match core.vault.import_customers_csv(&principal, &client.id, input, encoding, &mut progress, &ctx).await
    {
        Ok(n) => {
            if tty {
                eprintln!();
            }
            println!(
                "imported {n} customers into {} in {:.1} s",
                client.name,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Err(ImportError::Refused(refusal)) => {
            if tty {
                eprintln!();
            }
            for p in &refusal.problems {
                eprintln!("{p}");
            }
            if refusal.unlisted() > 0 {
                eprintln!("… and {} more", refusal.unlisted());
            }
            eprintln!(
                "refused: {} problem(s); nothing was imported. Correct the file and import it again.",
                refusal.total
            );
            std::process::exit(1);
        }
        Err(ImportError::Core(e)) => Err(e.into()),
    }
}

async fn rotate_keys(common: &CommonArgs, batch: i64, approval: Option<&str>) -> anyhow::Result<()> {
    use std::io::Write;
    let config = load_config(common, Vec::new(), false)?;
    let core = mamori_server::serve::open_core(&config, Arc::new(SystemClock)).await?;
    let action = mamori_domain::approval::PrivilegedAction::RotateVaultKeys;
    core.clear_key_command(&action, approval).await.map_err(key_command_refused)?;
    let mut progress = |done: u64, total: u64| {
        println!("re-wrapped {done} of {total}");
        let _ = std::io::stdout().flush();
    };
    let r = core.vault.rotate_vault_keys(batch, &mut progress).await?;
    let how = if r.started { "rotated to" } else { "finished the rotation to" };
    println!("{how} key version {}: {} data keys re-wrapped", r.version, r.rewrapped);
    Ok(())
}

async fn retire_keys(common: &CommonArgs, approval: Option<&str>) -> anyhow::Result<()> {
    let config = load_config(common, Vec::new(), false)?;
    let core = mamori_server::serve::open_core(&config, Arc::new(SystemClock)).await?;
    let action = mamori_domain::approval::PrivilegedAction::RetireVaultKeys;
    core.clear_key_command(&action, approval).await.map_err(key_command_refused)?;
    let retired = core.vault.retire_vault_keys().await?;
    if retired.is_empty() {
        println!("no key version to retire: only the current one is kept");
    } else {
        let list = retired.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
        println!(
            "retired key version(s) {list}; backups made before they were retired cannot be opened any more"
        );
    }
    Ok(())
}

async fn setup_link(common: CommonArgs) -> anyhow::Result<()> {
    let config = load_config(&common, Vec::new(), false)?;
    init_logging("warn");
    let core = mamori_server::serve::open_core(&config, Arc::new(SystemClock)).await?;
    match core.identity.force_setup_link().await? {
        Some(token) => println!("{}/setup?token={token}", config.public_url),
        None => anyhow::bail!("users exist already; the first security admin can invite others"),
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

/// A key command not cleared to run, in words that say what to do.
fn key_command_refused(e: mamori_core::CoreError) -> anyhow::Error {
    match e {
        mamori_core::CoreError::ApprovalRequired => anyhow::anyhow!(
            "a second security admin must approve this first: ask for it in the console (承認 → 特権操作) or with \
             POST /api/v1/privileged, then run this again with --approval <id>"
        ),
        mamori_core::CoreError::Forbidden(_) => anyhow::anyhow!(
            "this approval cannot be used for this command: it was used, expired, never approved, or is for another action"
        ),
        other => other.into(),
    }
}
