//! Forwarding the audit log to a SIEM: RFC 5424 syslog over TCP or TLS (octet-counted framing,
//! RFC 6587 / RFC 5425, or RELP), and JSON Lines appended to a file.
//!
//! Each destination has a cursor in the database, moved only past entries known to have
//! arrived: for the file, once they are fsynced; for RELP, once the receiver has acknowledged
//! each one; for plain syslog — which has no acknowledgements — once the connection has stayed
//! up for [`SYSLOG_CONFIRM`] after they were sent. When the receiver goes away, delivery resumes
//! from the cursor: entries may arrive twice, never not at all. Entries carry their index, so
//! duplicates are easy to drop. One replica at a time holds a destination's lease.

use crate::config::{Forwarding, SyslogTarget};
use mamori_audit::AuditEntry;
use mamori_audit::relp;
use mamori_audit::siem::{json_line, octet_counted, syslog_message};
use mamori_core::Core;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::net::TcpStream;

/// Entries per batch.
const BATCH: u64 = 500;
/// How often a caught-up destination looks for new entries.
const POLL: Duration = Duration::from_millis(250);
/// Wait after a failed delivery, doubling up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How often an idle destination renews its lease.
const LEASE_RENEWAL: Duration = Duration::from_secs(5);
/// How long a syslog connection must stay up after a batch before the batch counts as arrived.
pub const SYSLOG_CONFIRM: Duration = Duration::from_secs(2);
/// How long a RELP receiver may take to acknowledge a batch (or answer `open`).
const RELP_ANSWER: Duration = Duration::from_secs(30);

trait Connection: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Connection for T {}

/// A syslog connection: the writing half, and a flag the reading half clears when the receiver
/// closes its side or the connection breaks.
struct Link {
    writer: WriteHalf<Box<dyn Connection>>,
    alive: Arc<AtomicBool>,
}

impl Link {
    fn new(conn: Box<dyn Connection>) -> Link {
        let (mut reader, writer) = tokio::io::split(conn);
        let alive = Arc::new(AtomicBool::new(true));
        let flag = alive.clone();
        tokio::spawn(async move {
            let mut sink = [0u8; 512];
            // Receivers send nothing; a read returning means the connection ended.
            while let Ok(n) = reader.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
            flag.store(false, Ordering::Release);
        });
        Link { writer, alive }
    }

    fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }
}

/// A RELP session: the connection, what the receiver sent that is not read yet, and the next
/// transaction number.
struct RelpSession {
    conn: Box<dyn Connection>,
    received: Vec<u8>,
    next_txnr: u32,
}

fn relp_refused(why: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, why)
}

impl RelpSession {
    /// Connects and opens the session (RELP version 0, the `syslog` command).
    async fn open(conn: Box<dyn Connection>) -> std::io::Result<RelpSession> {
        let mut session = RelpSession { conn, received: Vec::new(), next_txnr: 1 };
        session.exchange("open", [relp::open_offers().into_bytes()]).await?;
        Ok(session)
    }

    /// Sends one `command` frame per item of `data`, all in one write, and waits until the
    /// receiver has answered `200` to each; anything else — or no answer within
    /// [`RELP_ANSWER`], a receiver too stuck even to take the bytes included — ends the session
    /// with an error that says what happened.
    async fn exchange(
        &mut self,
        command: &str,
        data: impl IntoIterator<Item = Vec<u8>>,
    ) -> std::io::Result<()> {
        let mut out = Vec::new();
        let mut waiting = std::collections::HashSet::new();
        for item in data {
            let txnr = self.next_txnr;
            self.next_txnr = relp::next_txnr(txnr);
            out.extend_from_slice(&relp::frame(txnr, command, &item));
            waiting.insert(txnr);
        }
        tokio::time::timeout(RELP_ANSWER, async {
            self.conn.write_all(&out).await?;
            self.conn.flush().await?;
            self.acknowledged(waiting).await
        })
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "the RELP receiver did not answer"))?
    }

    async fn acknowledged(&mut self, mut waiting: std::collections::HashSet<u32>) -> std::io::Result<()> {
        let mut chunk = [0u8; 4096];
        while !waiting.is_empty() {
            while let Some((response, used)) =
                relp::parse(&self.received).map_err(|e| relp_refused(e.to_string()))?
            {
                match (response.command, response.status()) {
                    ("rsp", Some(200)) => {
                        waiting.remove(&response.txnr);
                    }
                    ("rsp", _) => {
                        return Err(relp_refused(format!(
                            "the RELP receiver refused transaction {}: {}",
                            response.txnr,
                            response.status_text()
                        )));
                    }
                    ("serverclose", _) => {
                        return Err(relp_refused("the RELP receiver closed the session".into()));
                    }
                    (other, _) => return Err(relp_refused(format!("unexpected RELP command `{other}`"))),
                }
                self.received.drain(..used);
            }
            if waiting.is_empty() {
                break;
            }
            let n = self.conn.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "the RELP receiver closed the connection",
                ));
            }
            self.received.extend_from_slice(&chunk[..n]);
        }
        Ok(())
    }
}

enum Sink {
    Syslog {
        target: SyslogTarget,
        tls: Option<tokio_rustls::TlsConnector>,
        hostname: String,
        link: Option<Link>,
    },
    Relp {
        target: SyslogTarget,
        tls: Option<tokio_rustls::TlsConnector>,
        hostname: String,
        session: Option<RelpSession>,
    },
    File {
        path: PathBuf,
    },
}

impl Sink {
    fn name(&self) -> &'static str {
        match self {
            // RELP or not, it is the one syslog destination, with one cursor.
            Sink::Syslog { .. } | Sink::Relp { .. } => "syslog",
            Sink::File { .. } => "jsonl",
        }
    }

    /// How long after delivery a batch counts as arrived.
    fn confirm_after(&self) -> Duration {
        match self {
            Sink::Syslog { .. } => SYSLOG_CONFIRM,
            Sink::Relp { .. } | Sink::File { .. } => Duration::ZERO,
        }
    }

    /// False when what was sent since the last confirmation may have been lost.
    fn still_connected(&mut self) -> bool {
        match self {
            Sink::Syslog { link, .. } => match link {
                Some(l) if !l.is_alive() => {
                    *link = None;
                    false
                }
                _ => true,
            },
            Sink::Relp { .. } | Sink::File { .. } => true,
        }
    }

    async fn connect(
        target: &SyslogTarget,
        tls: Option<&tokio_rustls::TlsConnector>,
    ) -> std::io::Result<Box<dyn Connection>> {
        let tcp = TcpStream::connect(&target.address).await?;
        tcp.set_nodelay(true)?;
        let conn: Box<dyn Connection> = match (tls, &target.tls) {
            (Some(connector), Some((_, name))) => {
                let name = ServerName::try_from(name.clone())
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
                Box::new(connector.connect(name, tcp).await?)
            }
            _ => Box::new(tcp),
        };
        Ok(conn)
    }

    async fn deliver(&mut self, entries: &[AuditEntry]) -> std::io::Result<()> {
        match self {
            Sink::Syslog { target, tls, hostname, link } => {
                if link.is_none() {
                    *link = Some(Link::new(Self::connect(target, tls.as_ref()).await?));
                }
                let mut out = String::new();
                for e in entries {
                    out.push_str(&octet_counted(&syslog_message(e, hostname)));
                }
                let result = async {
                    let l = link.as_mut().ok_or_else(|| std::io::Error::other("not connected"))?;
                    l.writer.write_all(out.as_bytes()).await?;
                    l.writer.flush().await
                }
                .await;
                if result.is_err() {
                    *link = None;
                }
                result
            }
            Sink::Relp { target, tls, hostname, session } => {
                let result = async {
                    if session.is_none() {
                        *session = Some(RelpSession::open(Self::connect(target, tls.as_ref()).await?).await?);
                    }
                    let s = session.as_mut().ok_or_else(|| std::io::Error::other("not connected"))?;
                    s.exchange("syslog", entries.iter().map(|e| syslog_message(e, hostname).into_bytes()))
                        .await
                }
                .await;
                if result.is_err() {
                    *session = None;
                }
                result
            }
            Sink::File { path } => {
                let mut out = String::new();
                for e in entries {
                    out.push_str(&json_line(e));
                    out.push('\n');
                }
                let mut f = tokio::fs::OpenOptions::new().create(true).append(true).open(&*path).await?;
                f.write_all(out.as_bytes()).await?;
                f.sync_data().await
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ForwardingError {
    #[error("audit.syslog_ca {path}: {problem}")]
    Ca { path: String, problem: String },
    #[error("audit.syslog_client_cert/_key {path}: {problem}")]
    ClientIdentity { path: String, problem: String },
}

fn tls_connector(
    ca: &std::path::Path,
    client_identity: Option<&(PathBuf, PathBuf)>,
) -> Result<tokio_rustls::TlsConnector, ForwardingError> {
    let err = |problem: String| ForwardingError::Ca { path: ca.display().to_string(), problem };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| err(e.to_string()))? {
        roots.add(cert.map_err(|e| err(e.to_string()))?).map_err(|e| err(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(err("holds no certificate".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(e.to_string()))?
        .with_root_certificates(roots);
    let config = match client_identity {
        None => config.with_no_client_auth(),
        Some((cert, key)) => {
            let err = |path: &std::path::Path, problem: String| ForwardingError::ClientIdentity {
                path: path.display().to_string(),
                problem,
            };
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| err(cert, e.to_string()))?;
            if chain.is_empty() {
                return Err(err(cert, "holds no certificate".into()));
            }
            let private = PrivateKeyDer::from_pem_file(key).map_err(|e| err(key, e.to_string()))?;
            config.with_client_auth_cert(chain, private).map_err(|e| err(cert, e.to_string()))?
        }
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default()
}

/// The running deliveries of this process.
pub struct Forwarders {
    holder: String,
    tasks: Vec<(&'static str, tokio::task::JoinHandle<()>)>,
}

impl Forwarders {
    /// Stops delivering and hands the leases back, so another server (or this one, restarted)
    /// resumes at once instead of after the lease runs out.
    pub async fn stop(self, core: &Core) {
        for (name, task) in self.tasks {
            task.abort();
            let _ = task.await;
            if let Err(e) = core.audit.release_audit_forwarding(name, &self.holder).await {
                tracing::warn!(destination = name, error = %e, "could not release the forwarding lease");
            }
        }
    }
}

/// Starts one task per configured destination.
pub fn start(core: &Core, forwarding: &Forwarding) -> Result<Forwarders, ForwardingError> {
    let mut sinks = Vec::new();
    if let Some(target) = &forwarding.syslog {
        let tls = target
            .tls
            .as_ref()
            .map(|(ca, _)| tls_connector(ca, target.client_identity.as_ref()))
            .transpose()?;
        let (target, hostname) = (target.clone(), hostname());
        sinks.push(if target.relp {
            Sink::Relp { target, tls, hostname, session: None }
        } else {
            Sink::Syslog { target, tls, hostname, link: None }
        });
    }
    if let Some(path) = &forwarding.jsonl {
        sinks.push(Sink::File { path: path.clone() });
    }
    let holder = uuid::Uuid::new_v4().to_string();
    let tasks = sinks
        .into_iter()
        .map(|sink| (sink.name(), tokio::spawn(run(core.clone(), sink, holder.clone()))))
        .collect();
    Ok(Forwarders { holder, tasks })
}

/// Delivery to one destination. `confirmed` is the database cursor; `sent` runs ahead of it by
/// the batches awaiting confirmation.
async fn run(core: Core, mut sink: Sink, holder: String) {
    let name = sink.name();
    let mut backoff = FIRST_BACKOFF;
    let mut failing = false;
    let mut unconfirmed: VecDeque<(u64, Instant)> = VecDeque::new();
    let mut position: Option<(u64, u64)> = None; // (confirmed, sent)
    let mut claimed_at = Instant::now();
    loop {
        let (confirmed, sent) = match position {
            Some(p) => p,
            None => match core.audit.claim_audit_forwarding(name, &holder).await {
                Ok(Some(cursor)) => {
                    claimed_at = Instant::now();
                    (cursor, cursor)
                }
                Ok(None) => {
                    tokio::time::sleep(POLL).await; // another replica delivers
                    continue;
                }
                Err(e) => {
                    tracing::error!(destination = name, error = %e, "audit forwarding cannot read its cursor");
                    tokio::time::sleep(MAX_BACKOFF).await;
                    continue;
                }
            },
        };
        if !sink.still_connected() {
            tracing::warn!(
                destination = name,
                from = confirmed,
                "the receiver closed the connection; resending unconfirmed entries"
            );
            unconfirmed.clear();
            position = Some((confirmed, confirmed));
            continue;
        }
        // Batches that have stood long enough count as arrived; the lease is renewed with it.
        let mut newly = confirmed;
        while let Some((to, at)) = unconfirmed.front() {
            if at.elapsed() < sink.confirm_after() {
                break;
            }
            newly = *to;
            unconfirmed.pop_front();
        }
        let confirmed = if newly > confirmed {
            match core.audit.audit_forwarded(name, &holder, confirmed, newly).await {
                Ok(true) => newly,
                Ok(false) => {
                    // The lease went to another replica; start over from the stored cursor.
                    unconfirmed.clear();
                    position = None;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(destination = name, error = %e, "could not record audit forwarding progress");
                    confirmed
                }
            }
        } else {
            confirmed
        };
        position = Some((confirmed, sent));
        let entries = match core.audit.audit_entries_from(sent, BATCH).await {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(destination = name, error = %e, "audit forwarding cannot read the log");
                tokio::time::sleep(MAX_BACKOFF).await;
                continue;
            }
        };
        if entries.is_empty() {
            tokio::time::sleep(POLL).await;
            // Keep the lease while idle (it lasts 15 s).
            if claimed_at.elapsed() > LEASE_RENEWAL {
                match core.audit.claim_audit_forwarding(name, &holder).await {
                    Ok(Some(_)) => claimed_at = Instant::now(),
                    _ => {
                        unconfirmed.clear();
                        position = None;
                    }
                }
            }
            continue;
        }
        let to = sent + entries.len() as u64;
        match sink.deliver(&entries).await {
            Ok(()) => {
                if failing {
                    tracing::info!(destination = name, "audit forwarding delivers again");
                    failing = false;
                }
                backoff = FIRST_BACKOFF;
                unconfirmed.push_back((to, Instant::now()));
                position = Some((confirmed, to));
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(destination = name, error = %e, from = sent, "audit forwarding failed; retrying");
                    failing = true;
                }
                unconfirmed.clear();
                position = Some((confirmed, confirmed));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A wrong TLS file stops the server at start, naming the setting and the file.
    #[test]
    fn tls_files_are_checked_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let write = |name: &str, text: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let (pem, key, empty) = (
            write("me.pem", cert.cert.pem()),
            write("me.key", cert.signing_key.serialize_pem()),
            write("empty.pem", String::new()),
        );
        assert!(tls_connector(&pem, None).is_ok());
        assert!(tls_connector(&pem, Some(&(pem.clone(), key.clone()))).is_ok());
        let why = |r: Result<tokio_rustls::TlsConnector, ForwardingError>| r.err().unwrap().to_string();
        let e = why(tls_connector(&empty, None));
        assert!(
            e.starts_with("audit.syslog_ca") && e.contains("empty.pem") && e.contains("no certificate"),
            "{e}"
        );
        let e = why(tls_connector(&pem, Some(&(empty.clone(), key.clone()))));
        assert!(e.starts_with("audit.syslog_client_cert") && e.contains("no certificate"), "{e}");
        let e = why(tls_connector(&pem, Some(&(pem.clone(), empty.clone()))));
        assert!(e.contains("empty.pem"), "{e}");
        let e = why(tls_connector(&pem, Some(&(pem.clone(), dir.path().join("missing.key")))));
        assert!(e.contains("missing.key"), "{e}");
    }
}
