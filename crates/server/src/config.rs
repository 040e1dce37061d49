//! Configuration: built-in defaults, then a TOML file (`--config`), then `MAMORI_*` environment
//! variables, then command-line flags — each later source wins. Unknown keys, unknown `MAMORI_*`
//! variables and bad values stop the start with the key's name.

use mamori_domain::lockout::LockoutPolicy;
use mamori_domain::session_policy::SessionPolicy;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    Boolean,
    List,
}

/// Every key the configuration knows, as `section.key`, with its type and meaning. The
/// environment variable is `MAMORI_` + the key in capitals with `.` as `_`.
const KEYS: &[(&str, Kind, &str)] = &[
    ("data_dir", Kind::Text, "directory for the SQLite database and key files (default ./mamori-data)"),
    ("database_url", Kind::Text, "postgres://… to use PostgreSQL instead of the embedded SQLite"),
    ("listen", Kind::Text, "address to listen on (default 127.0.0.1:8080)"),
    ("public_url", Kind::Text, "the URL users reach Mamori at, for links (default from `listen`)"),
    ("tls_cert", Kind::Text, "PEM certificate chain; enables HTTPS with tls_key"),
    ("tls_key", Kind::Text, "PEM private key"),
    ("insecure_http", Kind::Boolean, "allow plain HTTP on a non-loopback address"),
    ("trusted_proxies", Kind::List, "addresses of reverse proxies whose X-Forwarded-For is believed"),
    ("log", Kind::Text, "log filter, e.g. `info` or `mamori=debug` (default info)"),
    ("log_format", Kind::Text, "`text` (default) or `json`: one JSON object a line, with the request id"),
    (
        "metrics.token_file",
        Kind::Text,
        "file holding the token a Prometheus scrape of /metrics must bear (at least 32 characters); without it, /metrics answers loopback only",
    ),
    ("session.idle_timeout_minutes", Kind::Integer, "a session unused this long ends (default 15)"),
    ("session.absolute_timeout_hours", Kind::Integer, "a session ends this long after sign-in (default 12)"),
    ("lockout.max_failures", Kind::Integer, "failed sign-ins in a row that lock an account (default 10)"),
    ("lockout.duration_minutes", Kind::Integer, "how long a lockout lasts (default 30)"),
    (
        "signin_throttle.per_minute",
        Kind::Integer,
        "sign-in attempts allowed per client address per minute (default 60)",
    ),
    ("signin_throttle.burst", Kind::Integer, "attempts allowed at once before throttling (default 20)"),
    (
        "audit.syslog",
        Kind::Text,
        "host:port of a SIEM's syslog receiver: the audit log is forwarded as RFC 5424 over TCP",
    ),
    ("audit.syslog_tls", Kind::Boolean, "forward to the syslog receiver over TLS (RFC 5425)"),
    (
        "audit.syslog_relp",
        Kind::Boolean,
        "speak RELP to the receiver (rsyslog's imrelp), which acknowledges each entry, instead of plain syslog",
    ),
    (
        "audit.syslog_ca",
        Kind::Text,
        "PEM file of the CA that issued the syslog receiver's certificate (needed with syslog_tls)",
    ),
    (
        "audit.syslog_server_name",
        Kind::Text,
        "name in the syslog receiver's certificate (default: the host of audit.syslog)",
    ),
    (
        "audit.syslog_client_cert",
        Kind::Text,
        "PEM certificate Mamori shows the syslog receiver, for receivers that require one (with syslog_client_key)",
    ),
    ("audit.syslog_client_key", Kind::Text, "PEM private key of audit.syslog_client_cert"),
    ("audit.jsonl", Kind::Text, "file the audit log is appended to as JSON Lines, for a SIEM to collect"),
    (
        "vault.reveal_burst",
        Kind::Integer,
        "masked values one user may reveal at once before waiting (default 5)",
    ),
    ("vault.reveals_per_hour", Kind::Integer, "how fast that allowance refills, per hour (default 10)"),
    (
        "import.max_listed_problems",
        Kind::Integer,
        "problems a refused customer import lists, the rest only counted (default 1000, at most 100000)",
    ),
    (
        "devices.command_timeout_secs",
        Kind::Integer,
        "a remote command (lock, sign-out, message) not finished this long after it was issued times out and is never delivered (default 60, 10 to 3600)",
    ),
    (
        "notify.webhook_url",
        Kind::Text,
        "http(s) URL that gets each approval step as a signed JSON POST (issue 15): X-Mamori-Timestamp and X-Mamori-Signature (sha256= HMAC of timestamp.body)",
    ),
    (
        "notify.webhook_secret_file",
        Kind::Text,
        "file holding the webhook's HMAC secret (at least 32 characters; required with notify.webhook_url)",
    ),
    (
        "notify.alert_min_severity",
        Kind::Text,
        "alerts of this severity or above are posted to the webhook too (issue 16): low, medium or high (default high); incidents opened and breach-report reminders always are",
    ),
    (
        "notify.mail_url",
        Kind::Text,
        "SMTP server notifications are sent through — reminders (issue 17: certificates about to lapse, reviews overdue) and approval steps to the people concerned (issue 15; to their account's mail address), usually the upstream relay: smtp://host:port, smtp://host:587?tls=required or smtps://host:465, user:password@ before the host to sign in",
    ),
    ("notify.mail_from", Kind::Text, "the sender address of notifications (required with notify.mail_url)"),
    (
        "notify.mail_to",
        Kind::Text,
        "where reminders go: one address or several separated by commas, e.g. the security team's list (required with notify.mail_url)",
    ),
    (
        "mail.listen",
        Kind::Text,
        "address of the SMTP submission relay the center's mail clients use (issue 15): STARTTLS with the server's certificate, AUTH with each person's mail password; unset, there is no relay",
    ),
    (
        "mail.upstream_url",
        Kind::Text,
        "where released mail goes: smtp://host:port (plain, for a relay on the same network), smtp://host:587?tls=required (STARTTLS) or smtps://host:465; user:password@ before the host to sign in (required with mail.listen)",
    ),
    ("mail.hostname", Kind::Text, "the name the relay greets with (default: the host of public_url)"),
    (
        "mail.bounce_from",
        Kind::Text,
        "the From address of mail returned to a sender (default mailer-daemon@ and mail.hostname)",
    ),
    (
        "mail.max_message_mb",
        Kind::Integer,
        "largest message the relay accepts, in MiB (default 25, at most 100)",
    ),
    (
        "audit.retention_days",
        Kind::Integer,
        "entries older than this may be archived and pruned by `mamori audit archive` (default 365, PCI DSS 10.5.1)",
    ),
];

/// The approvals webhook (issue 15, item 8).
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    pub url: String,
    pub secret: String,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").field("url", &self.url).finish_non_exhaustive()
    }
}

/// Where reminders are e-mailed: lettre's URL of the SMTP server (it may hold a password: not
/// printed), the sender and the recipients.
#[derive(Clone)]
pub struct MailNotify {
    pub url: String,
    pub from: String,
    pub to: Vec<String>,
}

impl std::fmt::Debug for MailNotify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailNotify").field("from", &self.from).field("to", &self.to).finish_non_exhaustive()
    }
}

/// Where the audit log is forwarded (each with a cursor in the database: delivery resumes
/// where it stopped, at least once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forwarding {
    pub syslog: Option<SyslogTarget>,
    pub jsonl: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogTarget {
    /// host:port
    pub address: String,
    /// The CA file and the certificate name to expect, when TLS is used.
    pub tls: Option<(PathBuf, String)>,
    /// RELP framing with acknowledgements, instead of octet-counted syslog.
    pub relp: bool,
    /// The certificate and key files Mamori authenticates itself with (TLS only).
    pub client_identity: Option<(PathBuf, PathBuf)>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("config file {path}: {problem}")]
    File { path: String, problem: String },
    #[error("unknown configuration key `{0}`; known keys: {1}")]
    UnknownKey(String, String),
    #[error(
        "unknown environment variable `{0}`; Mamori reads only the MAMORI_* variables listed in docs/configuration.md"
    )]
    UnknownEnv(String),
    #[error("`{key}`: {problem}")]
    Invalid { key: String, problem: String },
}

fn invalid(key: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: key.to_owned(), problem: problem.into() }
}

/// The configuration the server runs with, every value checked.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub listen: SocketAddr,
    pub public_url: String,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub insecure_http: bool,
    pub trusted_proxies: Vec<IpAddr>,
    pub log: String,
    /// Log lines as JSON objects (`log_format = "json"`) instead of text.
    pub log_json: bool,
    /// The token `/metrics` asks for; `None`: loopback only.
    pub metrics_token: Option<String>,
    pub session: SessionPolicy,
    pub lockout: LockoutPolicy,
    pub signin_per_minute: u32,
    pub signin_burst: u32,
    pub forwarding: Forwarding,
    /// How long audit entries stay in the database before `mamori audit archive` may move them out.
    pub audit_retention: Duration,
    /// Each user's allowance of reveals of masked values.
    pub reveals: mamori_domain::rate::RateLimit,
    /// How many problems a refused customer import lists; the rest are counted.
    pub import_max_listed_problems: usize,
    /// How long a remote command may take before it times out.
    pub command_timeout: Duration,
    /// Where approval steps are posted, and the HMAC secret they are signed with.
    pub webhook: Option<Webhook>,
    /// Where reminders are e-mailed.
    pub mail_notify: Option<MailNotify>,
    /// Alerts of this severity or above are posted to the webhook too.
    pub alert_min_severity: mamori_domain::detect::Severity,
    /// The SMTP submission relay, when `mail.listen` is set.
    pub mail: Option<MailRelay>,
}

/// The SMTP submission relay (issue 15, item 5).
#[derive(Clone, PartialEq, Eq)]
pub struct MailRelay {
    pub listen: SocketAddr,
    /// lettre's URL of the upstream relay (it may hold a password: not printed).
    pub upstream_url: String,
    pub hostname: String,
    pub bounce_from: String,
    pub max_message_bytes: usize,
}

impl std::fmt::Debug for MailRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailRelay")
            .field("listen", &self.listen)
            .field("hostname", &self.hostname)
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    /// Defaults for everything; what `mamori serve` runs with when given nothing.
    pub fn defaults(data_dir: PathBuf) -> Self {
        ServerConfig {
            data_dir,
            database_url: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
            tls: None,
            insecure_http: false,
            trusted_proxies: Vec::new(),
            log: "info".into(),
            log_json: false,
            metrics_token: None,
            session: SessionPolicy::default(),
            lockout: LockoutPolicy::default(),
            signin_per_minute: 60,
            signin_burst: 20,
            forwarding: Forwarding::default(),
            audit_retention: Duration::from_secs(365 * 86_400),
            reveals: mamori_domain::rate::RateLimit { capacity: 5, per_hour: 10 },
            import_max_listed_problems: mamori_core::vault::import::DEFAULT_MAX_LISTED_PROBLEMS,
            command_timeout: mamori_core::devices::DEFAULT_COMMAND_TIMEOUT,
            alert_min_severity: mamori_domain::detect::Severity::High,
            webhook: None,
            mail_notify: None,
            mail: None,
        }
    }

    /// Whether the server must refuse to start: plain HTTP on an address others can reach.
    pub fn check_transport(&self) -> Result<(), ConfigError> {
        if let Some(mail) = &self.mail
            && self.tls.is_none()
            && !mail.listen.ip().is_loopback()
        {
            return Err(invalid(
                "mail.listen",
                format!(
                    "{} is reachable from other machines, and without TLS (STARTTLS) mail passwords and customer data \
                     would cross the network in clear; give --tls-cert and --tls-key",
                    mail.listen
                ),
            ));
        }
        if self.tls.is_none() && !self.listen.ip().is_loopback() && !self.insecure_http {
            return Err(invalid(
                "listen",
                format!(
                    "{} is reachable from other machines, and without TLS passwords would cross the network in \
                     clear; give --tls-cert and --tls-key, or --insecure-http if a TLS proxy sits in front",
                    self.listen
                ),
            ));
        }
        Ok(())
    }
}

/// The host of a URL (`https://mamori.example.jp:8443/x` → `mamori.example.jp`).
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    if host.is_empty() { "localhost".into() } else { host.to_owned() }
}

/// The raw sources, before merging.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// The TOML file's text and path, if `--config` was given.
    pub file: Option<(String, String)>,
    /// The process environment (only `MAMORI_*` entries are looked at).
    pub env: Vec<(String, String)>,
    /// Flags as `key = value` in the keys' own names.
    pub flags: Vec<(&'static str, toml::Value)>,
    /// Where the data lives when nothing says otherwise.
    pub default_data_dir: PathBuf,
}

fn kind_of(key: &str) -> Option<Kind> {
    KEYS.iter().find(|(k, _, _)| *k == key).map(|(_, kind, _)| *kind)
}

fn env_name(key: &str) -> String {
    format!("MAMORI_{}", key.replace('.', "_").to_uppercase())
}

/// The documentation table of keys and environment variables (docs/configuration.md).
pub fn keys_markdown() -> String {
    let mut out = String::from("| key | environment variable | meaning |\n|---|---|---|\n");
    for (key, _, doc) in KEYS {
        out.push_str(&format!("| `{key}` | `{}` | {doc} |\n", env_name(key)));
    }
    out
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (k, v) in table {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(t) if kind_of(&key).is_none() => flatten(&key, t, out),
            other => out.push((key, other.clone())),
        }
    }
}

fn env_value(key: &str, var: &str, raw: &str) -> Result<toml::Value, ConfigError> {
    let kind = kind_of(key).ok_or_else(|| ConfigError::UnknownEnv(var.to_owned()))?;
    Ok(match kind {
        Kind::Text => toml::Value::String(raw.to_owned()),
        Kind::Integer => toml::Value::Integer(
            raw.trim().parse().map_err(|_| invalid(var, format!("`{raw}` is not a whole number")))?,
        ),
        Kind::Boolean => toml::Value::Boolean(match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err(invalid(var, format!("`{raw}` is not true or false"))),
        }),
        Kind::List => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.into()))
                .collect(),
        ),
    })
}

/// Merges the sources and checks every value.
pub fn load(sources: &Sources) -> Result<ServerConfig, ConfigError> {
    let mut merged: Vec<(String, toml::Value)> = Vec::new();
    if let Some((path, text)) = &sources.file {
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| ConfigError::File { path: path.clone(), problem: e.to_string() })?;
        flatten("", &table, &mut merged);
        let known: Vec<&str> = KEYS.iter().map(|k| k.0).collect();
        if let Some((bad, _)) = merged.iter().find(|(k, _)| kind_of(k).is_none()) {
            return Err(ConfigError::UnknownKey(bad.clone(), known.join(", ")));
        }
    }
    let mut env: Vec<&(String, String)> =
        sources.env.iter().filter(|(k, _)| k.starts_with("MAMORI_")).collect();
    env.sort();
    for (var, raw) in env {
        let key = KEYS
            .iter()
            .map(|k| k.0)
            .find(|k| env_name(k) == *var)
            .ok_or_else(|| ConfigError::UnknownEnv(var.clone()))?;
        merged.push((key.to_owned(), env_value(key, var, raw)?));
    }
    for (key, value) in &sources.flags {
        merged.push(((*key).to_owned(), value.clone()));
    }

    let mut c = ServerConfig::defaults(sources.default_data_dir.clone());
    let mut public_url = None;
    let (mut webhook_url, mut webhook_secret): (Option<String>, Option<PathBuf>) = (None, None);
    let mut tls_cert = None;
    let mut tls_key = None;
    let (mut syslog, mut syslog_tls, mut syslog_ca, mut syslog_name) = (None, false, None, None);
    let mut syslog_relp = false;
    let (mut client_cert, mut client_key) = (None, None);
    let (mut mail_listen, mut mail_upstream, mut mail_hostname, mut mail_bounce_from) =
        (None, None, None, None);
    let mut mail_max_mb = 25;
    let (mut notify_mail_url, mut notify_mail_from, mut notify_mail_to) = (None, None, None);
    for (key, value) in merged {
        let k = key.as_str();
        match k {
            "data_dir" => c.data_dir = PathBuf::from(text(k, &value)?),
            "database_url" => {
                let url = text(k, &value)?;
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(invalid(
                        k,
                        "must be a postgres:// URL (leave it unset for the embedded SQLite)",
                    ));
                }
                c.database_url = Some(url);
            }
            "listen" => {
                let s = text(k, &value)?;
                c.listen = s
                    .parse()
                    .map_err(|_| invalid(k, format!("`{s}` is not an address like 127.0.0.1:8080")))?;
            }
            "public_url" => {
                let s = text(k, &value)?;
                if !(s.starts_with("http://") || s.starts_with("https://")) {
                    return Err(invalid(k, "must start with http:// or https://"));
                }
                public_url = Some(s.trim_end_matches('/').to_owned());
            }
            "tls_cert" => tls_cert = Some(PathBuf::from(text(k, &value)?)),
            "tls_key" => tls_key = Some(PathBuf::from(text(k, &value)?)),
            "insecure_http" => c.insecure_http = boolean(k, &value)?,
            "trusted_proxies" => {
                let toml::Value::Array(items) = &value else {
                    return Err(invalid(k, "must be a list of addresses"));
                };
                c.trusted_proxies = items
                    .iter()
                    .map(|v| {
                        let s = text(k, v)?;
                        s.parse::<IpAddr>().map_err(|_| invalid(k, format!("`{s}` is not an IP address")))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "log" => c.log = text(k, &value)?,
            "log_format" => {
                c.log_json = match text(k, &value)?.as_str() {
                    "text" => false,
                    "json" => true,
                    other => return Err(invalid(k, format!("`{other}` is neither `text` nor `json`"))),
                }
            }
            "metrics.token_file" => {
                let file = PathBuf::from(text(k, &value)?);
                let token = std::fs::read_to_string(&file)
                    .map_err(|e| invalid(k, format!("{}: {e}", file.display())))?;
                let token = token.trim().to_owned();
                if token.chars().count() < 32 {
                    return Err(invalid(k, "the token is at least 32 characters"));
                }
                c.metrics_token = Some(token);
            }
            "session.idle_timeout_minutes" => {
                c.session.idle_timeout = Duration::from_secs(60 * integer(k, &value, 1, 24 * 60)?)
            }
            "session.absolute_timeout_hours" => {
                c.session.absolute_timeout = Duration::from_secs(3600 * integer(k, &value, 1, 7 * 24)?)
            }
            "lockout.max_failures" => {
                c.lockout.max_failures = u32::try_from(integer(k, &value, 1, 1000)?).unwrap_or(10)
            }
            "lockout.duration_minutes" => {
                c.lockout.duration = Duration::from_secs(60 * integer(k, &value, 1, 7 * 24 * 60)?)
            }
            "signin_throttle.per_minute" => {
                c.signin_per_minute = u32::try_from(integer(k, &value, 1, 100_000)?).unwrap_or(60)
            }
            "signin_throttle.burst" => {
                c.signin_burst = u32::try_from(integer(k, &value, 1, 100_000)?).unwrap_or(20)
            }
            "audit.syslog" => {
                let a = text(k, &value)?;
                let port = a.rsplit_once(':').and_then(|(h, p)| (!h.is_empty()).then_some(p));
                if port.and_then(|p| p.parse::<u16>().ok()).is_none_or(|p| p == 0) {
                    return Err(invalid(k, format!("`{a}` is not host:port, like siem.example.jp:6514")));
                }
                syslog = Some(a);
            }
            "audit.syslog_tls" => syslog_tls = boolean(k, &value)?,
            "audit.syslog_relp" => syslog_relp = boolean(k, &value)?,
            "audit.syslog_client_cert" => client_cert = Some(PathBuf::from(text(k, &value)?)),
            "audit.syslog_client_key" => client_key = Some(PathBuf::from(text(k, &value)?)),
            "audit.syslog_ca" => syslog_ca = Some(PathBuf::from(text(k, &value)?)),
            "audit.syslog_server_name" => syslog_name = Some(text(k, &value)?),
            "audit.jsonl" => c.forwarding.jsonl = Some(PathBuf::from(text(k, &value)?)),
            "notify.webhook_url" => {
                let url = text(k, &value)?;
                if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2000 {
                    return Err(invalid(k, format!("`{url}` is not an http(s) URL")));
                }
                webhook_url = Some(url);
            }
            "notify.webhook_secret_file" => webhook_secret = Some(PathBuf::from(text(k, &value)?)),
            "notify.mail_url" => {
                let url = text(k, &value)?;
                if !(url.starts_with("smtp://") || url.starts_with("smtps://")) || url.len() > 2000 {
                    return Err(invalid(
                        k,
                        "must be an smtp:// or smtps:// URL, like smtp://relay.example.jp:25",
                    ));
                }
                notify_mail_url = Some(url);
            }
            "notify.mail_from" => {
                let from = text(k, &value)?;
                if from.parse::<lettre::Address>().is_err() {
                    return Err(invalid(k, format!("`{from}` is not a mail address")));
                }
                notify_mail_from = Some(from);
            }
            "notify.mail_to" => {
                let list = text(k, &value)?;
                let to: Vec<String> =
                    list.split(',').map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()).collect();
                if to.is_empty() || to.len() > 50 {
                    return Err(invalid(k, "one to 50 addresses, separated by commas"));
                }
                if let Some(bad) = to.iter().find(|a| a.parse::<lettre::Address>().is_err()) {
                    return Err(invalid(k, format!("`{bad}` is not a mail address")));
                }
                notify_mail_to = Some(to);
            }
            "notify.alert_min_severity" => {
                let v = text(k, &value)?;
                c.alert_min_severity = mamori_domain::detect::Severity::parse(&v)
                    .ok_or_else(|| invalid(k, format!("`{v}` is not low, medium or high")))?;
            }
            "vault.reveal_burst" => {
                c.reveals.capacity = u32::try_from(integer(k, &value, 1, 1000)?).unwrap_or(5)
            }
            "vault.reveals_per_hour" => {
                c.reveals.per_hour = u32::try_from(integer(k, &value, 0, 100_000)?).unwrap_or(10)
            }
            "import.max_listed_problems" => {
                c.import_max_listed_problems = usize::try_from(integer(k, &value, 1, 100_000)?)
                    .unwrap_or(mamori_core::vault::import::DEFAULT_MAX_LISTED_PROBLEMS)
            }
            "devices.command_timeout_secs" => {
                c.command_timeout = Duration::from_secs(integer(k, &value, 10, 3600)?)
            }
            "mail.listen" => {
                let s = text(k, &value)?;
                mail_listen = Some(
                    s.parse::<SocketAddr>()
                        .map_err(|_| invalid(k, format!("`{s}` is not an address like 0.0.0.0:587")))?,
                );
            }
            "mail.upstream_url" => {
                let url = text(k, &value)?;
                if !(url.starts_with("smtp://") || url.starts_with("smtps://")) || url.len() > 2000 {
                    return Err(invalid(
                        k,
                        "must be an smtp:// or smtps:// URL, like smtp://relay.example.jp:25",
                    ));
                }
                mail_upstream = Some(url);
            }
            "mail.hostname" => {
                let name = text(k, &value)?;
                mamori_domain::mail::normalize_domain(&name)
                    .map_err(|_| invalid(k, format!("`{name}` is not a host name")))?;
                mail_hostname = Some(name);
            }
            "mail.bounce_from" => {
                let from = text(k, &value)?;
                if from.parse::<lettre::Address>().is_err() {
                    return Err(invalid(k, format!("`{from}` is not a mail address")));
                }
                mail_bounce_from = Some(from);
            }
            "mail.max_message_mb" => mail_max_mb = integer(k, &value, 1, 100)?,
            "audit.retention_days" => {
                c.audit_retention = Duration::from_secs(86_400 * integer(k, &value, 1, 100 * 366)?)
            }
            other => return Err(ConfigError::UnknownKey(other.to_owned(), String::new())),
        }
    }
    c.webhook = match (webhook_url, webhook_secret) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(invalid("notify.webhook_secret_file", "is needed with notify.webhook_url"));
        }
        (None, Some(_)) => {
            return Err(invalid("notify.webhook_url", "is needed with notify.webhook_secret_file"));
        }
        (Some(url), Some(file)) => {
            let secret = std::fs::read_to_string(&file)
                .map_err(|e| invalid("notify.webhook_secret_file", format!("{}: {e}", file.display())))?;
            let secret = secret.trim().to_owned();
            if secret.chars().count() < 32 {
                return Err(invalid("notify.webhook_secret_file", "the secret is at least 32 characters"));
            }
            Some(Webhook { url, secret })
        }
    };
    c.mail_notify = match (notify_mail_url, notify_mail_from, notify_mail_to) {
        (None, None, None) => None,
        (Some(url), Some(from), Some(to)) => Some(MailNotify { url, from, to }),
        (None, _, _) => {
            return Err(invalid("notify.mail_url", "is needed with notify.mail_from and notify.mail_to"));
        }
        (_, None, _) => return Err(invalid("notify.mail_from", "is needed with notify.mail_url")),
        (_, _, None) => return Err(invalid("notify.mail_to", "is needed with notify.mail_url")),
    };
    c.tls = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        (Some(_), None) => return Err(invalid("tls_key", "is needed with tls_cert")),
        (None, Some(_)) => return Err(invalid("tls_cert", "is needed with tls_key")),
    };
    let client_identity = match (client_cert, client_key) {
        (Some(cert), Some(key)) if syslog_tls => Some((cert, key)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(invalid("audit.syslog_client_key", "is needed with audit.syslog_client_cert"));
        }
        (None, Some(_)) => {
            return Err(invalid("audit.syslog_client_cert", "is needed with audit.syslog_client_key"));
        }
        (Some(_), Some(_)) => {
            return Err(invalid(
                "audit.syslog_client_cert",
                "needs audit.syslog_tls: a certificate is shown over TLS only",
            ));
        }
    };
    c.forwarding.syslog = match (syslog, syslog_tls, syslog_ca) {
        (None, false, None) => None,
        (None, _, _) => {
            return Err(invalid("audit.syslog", "is needed with audit.syslog_tls and audit.syslog_ca"));
        }
        (Some(address), false, None) => {
            Some(SyslogTarget { address, tls: None, relp: syslog_relp, client_identity: None })
        }
        (Some(_), false, Some(_)) => {
            return Err(invalid("audit.syslog_tls", "must be true when audit.syslog_ca is set"));
        }
        (Some(_), true, None) => {
            return Err(invalid(
                "audit.syslog_ca",
                "is needed with audit.syslog_tls: the CA that issued the receiver's certificate",
            ));
        }
        (Some(address), true, Some(ca)) => {
            let host = address.rsplit_once(':').map_or(address.as_str(), |(h, _)| h);
            let name =
                syslog_name.unwrap_or_else(|| host.trim_start_matches('[').trim_end_matches(']').to_owned());
            Some(SyslogTarget { address, tls: Some((ca, name)), relp: syslog_relp, client_identity })
        }
    };
    if syslog_relp && c.forwarding.syslog.is_none() {
        return Err(invalid(
            "audit.syslog",
            "is needed with audit.syslog_relp: the RELP receiver's host:port",
        ));
    }
    let scheme = if c.tls.is_some() { "https" } else { "http" };
    c.public_url = public_url.unwrap_or_else(|| format!("{scheme}://{}", c.listen));
    c.mail = match (mail_listen, mail_upstream) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(invalid("mail.upstream_url", "is needed with mail.listen: where does mail go?"));
        }
        (None, Some(_)) => return Err(invalid("mail.listen", "is needed with mail.upstream_url")),
        (Some(listen), Some(upstream_url)) => {
            let hostname = mail_hostname.unwrap_or_else(|| host_of(&c.public_url));
            Some(MailRelay {
                listen,
                upstream_url,
                bounce_from: mail_bounce_from.unwrap_or_else(|| match mamori_domain::mail::normalize_domain(
                    &hostname,
                ) {
                    Ok(domain) => format!("mailer-daemon@{domain}"),
                    // An address for a host named by its IP would need brackets; no one answers a bounce.
                    Err(_) => "mailer-daemon@mamori.invalid".into(),
                }),
                hostname,
                max_message_bytes: usize::try_from(mail_max_mb).unwrap_or(25) << 20,
            })
        }
    };
    Ok(c)
}

fn text(key: &str, v: &toml::Value) -> Result<String, ConfigError> {
    match v {
        toml::Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
        toml::Value::String(_) => Err(invalid(key, "must not be empty")),
        _ => Err(invalid(key, "must be a string")),
    }
}

fn boolean(key: &str, v: &toml::Value) -> Result<bool, ConfigError> {
    v.as_bool().ok_or_else(|| invalid(key, "must be true or false"))
}

fn integer(key: &str, v: &toml::Value, min: u64, max: u64) -> Result<u64, ConfigError> {
    match v.as_integer().and_then(|i| u64::try_from(i).ok()) {
        Some(i) if (min..=max).contains(&i) => Ok(i),
        _ => Err(invalid(key, format!("must be a whole number from {min} to {max}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources() -> Sources {
        Sources { default_data_dir: "./mamori-data".into(), ..Default::default() }
    }

    #[test]
    fn defaults() {
        let c = load(&sources()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./mamori-data"));
        assert_eq!(c.session.idle_timeout, Duration::from_secs(900));
        assert_eq!(c.lockout.max_failures, 10);
        assert!(c.check_transport().is_ok());
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let mut s = sources();
        s.file = Some((
            "m.toml".into(),
            "listen = \"127.0.0.1:1000\"\n[session]\nidle_timeout_minutes = 5\n".into(),
        ));
        s.env = vec![("MAMORI_LISTEN".into(), "127.0.0.1:2000".into()), ("PATH".into(), "/bin".into())];
        let c = load(&s).unwrap();
        assert_eq!(c.listen.port(), 2000);
        assert_eq!(c.session.idle_timeout, Duration::from_secs(300));
        s.flags = vec![("listen", toml::Value::String("127.0.0.1:3000".into()))];
        assert_eq!(load(&s).unwrap().listen.port(), 3000);
    }

    #[test]
    fn unknown_and_bad_values_name_the_key() {
        let mut s = sources();
        s.file = Some(("m.toml".into(), "[session]\nidle_minutes = 5\n".into()));
        assert!(matches!(load(&s), Err(ConfigError::UnknownKey(k, _)) if k == "session.idle_minutes"));
        s.file = Some(("m.toml".into(), "[lockout]\nmax_failures = \"ten\"\n".into()));
        assert!(load(&s).unwrap_err().to_string().contains("lockout.max_failures"));
        s.file = None;
        s.env = vec![("MAMORI_LISTEN_ADDR".into(), "x".into())];
        assert_eq!(load(&s).unwrap_err(), ConfigError::UnknownEnv("MAMORI_LISTEN_ADDR".into()));
        s.env = vec![("MAMORI_SESSION_IDLE_TIMEOUT_MINUTES".into(), "soon".into())];
        assert!(load(&s).unwrap_err().to_string().contains("MAMORI_SESSION_IDLE_TIMEOUT_MINUTES"));
        s.env = vec![("MAMORI_LISTEN".into(), "everywhere".into())];
        assert!(load(&s).unwrap_err().to_string().contains("`listen`"));
        s.env = vec![("MAMORI_DATABASE_URL".into(), "mysql://x".into())];
        assert!(load(&s).unwrap_err().to_string().contains("database_url"));
        s.env = vec![("MAMORI_TLS_CERT".into(), "c.pem".into())];
        assert!(load(&s).unwrap_err().to_string().contains("tls_key"));
    }

    #[test]
    fn syslog_forwarding() {
        let mut s = sources();
        s.file = Some(("m.toml".into(), "[audit]\nsyslog = \"siem:2514\"\nsyslog_relp = true\n".into()));
        let target = load(&s).unwrap().forwarding.syslog.unwrap();
        assert_eq!((target.address.as_str(), target.tls, target.relp), ("siem:2514", None, true));
        s.file = Some(("m.toml".into(), "[audit]\nsyslog_relp = true\n".into()));
        assert!(
            load(&s).unwrap_err().to_string().contains("`audit.syslog`: is needed with audit.syslog_relp")
        );
        s.file = Some((
            "m.toml".into(),
            "[audit]\nsyslog = \"siem:2514\"\nsyslog_tls = true\nsyslog_ca = \"ca.pem\"\n\
             syslog_client_cert = \"me.pem\"\nsyslog_client_key = \"me.key\"\n"
                .into(),
        ));
        let target = load(&s).unwrap().forwarding.syslog.unwrap();
        assert_eq!(target.client_identity, Some(("me.pem".into(), "me.key".into())));
        s.file = Some((
            "m.toml".into(),
            "[audit]\nsyslog = \"siem:2514\"\nsyslog_client_cert = \"me.pem\"\n".into(),
        ));
        assert!(load(&s).unwrap_err().to_string().contains("`audit.syslog_client_key`: is needed"));
        s.file = Some((
            "m.toml".into(),
            "[audit]\nsyslog = \"siem:2514\"\nsyslog_client_cert = \"me.pem\"\nsyslog_client_key = \"me.key\"\n"
                .into(),
        ));
        assert!(load(&s).unwrap_err().to_string().contains("needs audit.syslog_tls"));
        s.file = Some(("m.toml".into(), "[audit]\nsyslog = \"siem\"\n".into()));
        assert!(load(&s).unwrap_err().to_string().contains("is not host:port"));
    }

    #[test]
    fn webhook_needs_a_url_and_a_long_secret() {
        let dir = tempfile::tempdir().unwrap();
        let (long, short) = (dir.path().join("long"), dir.path().join("short"));
        std::fs::write(&long, "0123456789abcdef0123456789abcdef\n").unwrap();
        std::fs::write(&short, "too-short").unwrap();
        let with = |toml: String| {
            let mut s = sources();
            s.file = Some(("m.toml".into(), toml));
            load(&s)
        };
        let good = format!(
            "[notify]\nwebhook_url = \"https://hooks.example.jp/mamori\"\nwebhook_secret_file = \"{}\"\n",
            long.display()
        );
        let hook = with(good).unwrap().webhook.unwrap();
        assert_eq!(hook.secret, "0123456789abcdef0123456789abcdef");
        assert!(!format!("{hook:?}").contains("0123456789"), "the secret is not printed");
        for bad in [
            "[notify]\nwebhook_url = \"https://hooks.example.jp/mamori\"\n".to_owned(),
            format!("[notify]\nwebhook_secret_file = \"{}\"\n", long.display()),
            format!("[notify]\nwebhook_url = \"ftp://x\"\nwebhook_secret_file = \"{}\"\n", long.display()),
            format!("[notify]\nwebhook_url = \"https://x\"\nwebhook_secret_file = \"{}\"\n", short.display()),
            "[notify]\nwebhook_url = \"https://x\"\nwebhook_secret_file = \"/nonexistent/secret\"\n"
                .to_owned(),
        ] {
            assert!(matches!(with(bad.clone()), Err(ConfigError::Invalid { .. })), "{bad}");
        }
    }

    #[test]
    fn plain_http_only_on_loopback_unless_told() {
        let mut s = sources();
        s.flags = vec![("listen", toml::Value::String("0.0.0.0:8080".into()))];
        assert!(load(&s).unwrap().check_transport().is_err());
        s.flags.push(("insecure_http", toml::Value::Boolean(true)));
        assert!(load(&s).unwrap().check_transport().is_ok());
    }

    #[test]
    fn log_format_and_metrics_token() {
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short");
        std::fs::write(&short, "too-short").unwrap();
        let good = dir.path().join("good");
        std::fs::write(&good, format!("{}\n", "t".repeat(40))).unwrap();
        let with = |text: String| {
            let mut s = sources();
            s.file = Some(("m.toml".into(), text));
            load(&s)
        };
        assert!(with("log_format = \"json\"\n".into()).unwrap().log_json);
        assert!(matches!(with("log_format = \"xml\"\n".into()), Err(ConfigError::Invalid { .. })));
        let c = with(format!("[metrics]\ntoken_file = \"{}\"\n", good.display())).unwrap();
        assert_eq!(c.metrics_token.as_deref(), Some("t".repeat(40).as_str()), "trimmed");
        assert!(with(format!("[metrics]\ntoken_file = \"{}\"\n", short.display())).is_err());
        assert!(with("[metrics]\ntoken_file = \"/nonexistent/token\"\n".into()).is_err());
        assert_eq!(load(&sources()).unwrap().metrics_token, None, "loopback only by default");
    }
}
