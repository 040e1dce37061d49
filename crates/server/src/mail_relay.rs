//! The SMTP submission relay (issue 15, item 5; LEAK-9, TW-9 — 誤送信防止).
//!
//! The center's mail clients submit here instead of to the mail server: STARTTLS with the
//! server's certificate (plain only on a loopback address), AUTH PLAIN or LOGIN with the
//! person's user name and the mail password they made on their profile page. What a mail
//! becomes is `mamori_core::outgoing_mail`'s business; this is the transport around it:
//!
//! - **Listening.** `mailin` is the SMTP state machine (commands, replies, dot-unstuffing); each
//!   connection runs on a blocking thread with rustls's blocking stream, and asks the services
//!   through the runtime's handle — the answers a mail client waits for come from them.
//! - **Internal mail** is relayed upstream before the client hears `250`, so a mail the upstream
//!   refuses is refused to the client (`451`, try again), never lost.
//! - **Held and returned mail** goes through the outbox: [`spawn_outbox`] sweeps it (grants,
//!   denials, holds past their time) and sends what is released and the bounces, worded here in
//!   Japanese and English, through `lettre`.
//!
//! The relay never logs an address or a subject: its entries name the mail by id.

use crate::AppState;
use crate::config::MailRelay;
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use mailin::{Action, AuthMechanism, Handler, Response, SessionBuilder};
use mamori_audit::RequestContext;
use mamori_core::outgoing_mail::{Bounce, MailContentToSend, MailToSend, PassedMail, Submission, Submitted};
use mamori_core::{CoreError, Principal};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// A connection idle this long is closed.
const IDLE: Duration = Duration::from_secs(300);
/// Longest command line (RFC 5321 says 512; a little room for long AUTH lines).
const MAX_COMMAND_LINE: usize = 4096;
/// Most connections served at once; more wait for the listener.
const MAX_CONNECTIONS: usize = 256;

/// The upstream relay, as lettre speaks to it.
pub type Upstream = AsyncSmtpTransport<Tokio1Executor>;

/// Opens the upstream transport from its URL (connections are made per message).
pub fn upstream(relay: &MailRelay) -> Result<Upstream, String> {
    Ok(AsyncSmtpTransport::<Tokio1Executor>::from_url(&relay.upstream_url)
        .map_err(|e| format!("mail.upstream_url: {e}"))?
        .timeout(Some(Duration::from_secs(30)))
        .build())
}

/// Sends raw bytes upstream with this envelope.
async fn relay_upstream(
    upstream: &Upstream,
    from: &str,
    to: &[String],
    message: &[u8],
) -> Result<(), String> {
    let from = if from.is_empty() {
        None
    } else {
        Some(from.parse::<lettre::Address>().map_err(|e| format!("the sender address: {e}"))?)
    };
    let to = to
        .iter()
        .map(|a| a.parse::<lettre::Address>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("a recipient address: {e}"))?;
    let envelope = Envelope::new(from, to).map_err(|e| e.to_string())?;
    upstream.send_raw(&envelope, message).await.map(drop).map_err(|e| e.to_string())
}

/// What every connection shares.
struct Shared {
    state: AppState,
    relay: MailRelay,
    upstream: Upstream,
    tls: Option<Arc<rustls::ServerConfig>>,
    runtime: tokio::runtime::Handle,
}

/// The listening relay.
pub struct Listener {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Listener {
    pub fn stop(&self) {
        self.task.abort();
    }
}

/// The server's certificate for STARTTLS.
fn tls_config(cert: &std::path::Path, key: &std::path::Path) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

/// Binds the relay's port and serves it until stopped.
pub async fn start(state: AppState, relay: MailRelay) -> Result<Listener, String> {
    let tls = match &state.config.tls {
        Some((cert, key)) => Some(tls_config(cert, key)?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(relay.listen)
        .await
        .map_err(|e| format!("cannot listen on {} (mail.listen): {e}", relay.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let shared = Arc::new(Shared {
        upstream: upstream(&relay)?,
        state,
        relay,
        tls,
        runtime: tokio::runtime::Handle::current(),
    });
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let task = tokio::spawn(async move {
        loop {
            let Ok(permit) = slots.clone().acquire_owned().await else { return };
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "the mail relay could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let shared = shared.clone();
            let Ok(stream) = stream.into_std() else { continue };
            tokio::task::spawn_blocking(move || {
                if let Err(e) = serve_connection(stream, peer, &shared) {
                    tracing::debug!(error = %e, "a mail relay connection ended");
                }
                drop(permit);
            });
        }
    });
    tracing::info!(%addr, "the SMTP submission relay is listening");
    Ok(Listener { addr, task })
}

/// The connection, plain or after STARTTLS.
enum Conn {
    Plain(BufReader<TcpStream>),
    Tls(Box<BufReader<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>>),
}

impl Conn {
    /// One line, CRLF included; None at the end. A line longer than `max` is an error.
    fn read_line(&mut self, line: &mut Vec<u8>, max: usize) -> std::io::Result<Option<()>> {
        line.clear();
        let reader: &mut dyn BufRead = match self {
            Conn::Plain(r) => r,
            Conn::Tls(r) => r.as_mut(),
        };
        let n = reader.take(max as u64 + 1).read_until(b'\n', line)?;
        if n == 0 {
            return Ok(None);
        }
        if n > max {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "line too long"));
        }
        Ok(Some(()))
    }

    fn reply(&mut self, response: &Response) -> std::io::Result<()> {
        let writer: &mut dyn Write = match self {
            Conn::Plain(r) => r.get_mut(),
            Conn::Tls(r) => r.get_mut(),
        };
        // One write per reply: written piecemeal, Nagle's algorithm would hold the rest until
        // the client's delayed acknowledgement (40 ms a reply).
        writer.write_all(&response.buffer()?)?;
        writer.flush()
    }
}

fn serve_connection(stream: TcpStream, peer: SocketAddr, shared: &Arc<Shared>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    // Replies are small and each waits for the client's next line: send them at once.
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IDLE))?;
    stream.set_write_timeout(Some(IDLE))?;
    let mut builder = SessionBuilder::new(shared.relay.hostname.clone());
    builder.enable_auth(AuthMechanism::Plain).enable_auth(AuthMechanism::Login);
    if shared.tls.is_some() {
        builder.enable_start_tls();
    } else {
        // Only on loopback (the configuration refuses a plain relay others can reach).
        builder.insecure_enable_plaintext_auth();
    }
    let refused = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handler = RelayHandler::new(shared.clone(), peer.ip(), refused.clone());
    let mut session = builder.build(peer.ip(), handler);
    let mut conn = Conn::Plain(BufReader::new(stream));
    conn.reply(&session.greeting())?;
    let mut line = Vec::with_capacity(1024);
    // Within a message a line may be long (RFC 5322 allows 998 octets; some clients send more,
    // up to the message's limit); a command line is short.
    let mut in_message = false;
    loop {
        let max_line = if in_message { shared.relay.max_message_bytes } else { MAX_COMMAND_LINE };
        if conn.read_line(&mut line, max_line)?.is_none() {
            break;
        }
        if in_message && line == b".\r\n" {
            in_message = false;
        }
        let response = session.process(&line);
        in_message |= response.code == 354;
        match response.action {
            Action::NoReply => {}
            Action::Reply => {
                conn.reply(&response)?;
                if refused.swap(false, std::sync::atomic::Ordering::Relaxed) {
                    // mailin keeps a session whose message was refused in its DATA state (the
                    // client's next command would be read as text): end that message once more,
                    // unseen, so the session is back where RFC 5321 puts it.
                    let _ = session.process(b".\r\n");
                }
            }
            Action::Close => {
                conn.reply(&response)?;
                break;
            }
            Action::UpgradeTls => {
                conn.reply(&response)?;
                let (Conn::Plain(reader), Some(tls)) = (conn, shared.tls.clone()) else {
                    return Ok(());
                };
                // Anything the client sent after STARTTLS before the handshake is an injection
                // attempt (CVE-2011-0411): it is dropped with the connection.
                if !reader.buffer().is_empty() {
                    return Ok(());
                }
                let server = rustls::ServerConnection::new(tls).map_err(std::io::Error::other)?;
                let stream = rustls::StreamOwned::new(server, reader.into_inner());
                conn = Conn::Tls(Box::new(BufReader::new(stream)));
                session.tls_active();
            }
        }
    }
    Ok(())
}

/// One SMTP session's state, as `mailin` calls it.
struct RelayHandler {
    shared: Arc<Shared>,
    ip: IpAddr,
    sender: Option<Principal>,
    from: String,
    to: Vec<String>,
    message: Vec<u8>,
    too_big: bool,
    /// Set when a message was refused at its end (the driver then resets the session).
    refused: Arc<std::sync::atomic::AtomicBool>,
    /// The next end of message is the driver's reset, not the client's.
    resetting: bool,
}

impl RelayHandler {
    fn new(shared: Arc<Shared>, ip: IpAddr, refused: Arc<std::sync::atomic::AtomicBool>) -> Self {
        RelayHandler {
            shared,
            ip,
            sender: None,
            from: String::new(),
            to: Vec::new(),
            message: Vec::new(),
            too_big: false,
            refused,
            resetting: false,
        }
    }

    fn ctx(&self) -> RequestContext {
        RequestContext {
            source_ip: Some(self.ip.to_string()),
            user_agent: Some("smtp".into()),
            request_id: None,
            browser: None,
        }
    }

    fn sign_in(&mut self, username: &str, password: &str) -> Response {
        let core = self.shared.state.core.clone();
        let ctx = self.ctx();
        if self.shared.state.signin_limiter.check_key(&self.ip).is_err() {
            self.shared.runtime.block_on(core.mail_sign_in_throttled(&ctx));
            return Response::custom(454, "4.7.0 Too many sign-in attempts; wait a minute".into());
        }
        match self.shared.runtime.block_on(core.mail_sender(username, password, &ctx)) {
            Ok(principal) => {
                self.sender = Some(principal);
                mailin::response::AUTH_OK
            }
            Err(CoreError::SignInFailed) => Response::custom(
                535,
                "5.7.8 Wrong user name or mail password (make one on your profile page in Mamori)".into(),
            ),
            Err(e) => {
                tracing::error!(error = %e, "the mail relay could not check a sign-in");
                mailin::response::TEMP_AUTH_FAILURE
            }
        }
    }

    fn submit(&mut self) -> Response {
        let Some(sender) = self.sender.clone() else {
            return mailin::response::AUTHENTICATION_REQUIRED;
        };
        let submission = Submission {
            envelope_from: std::mem::take(&mut self.from),
            recipients: std::mem::take(&mut self.to),
            message: std::mem::take(&mut self.message),
        };
        let core = self.shared.state.core.clone();
        let ctx = self.ctx();
        let (envelope_from, recipients) = (submission.envelope_from.clone(), submission.recipients.clone());
        let shared = self.shared.clone();
        self.shared.runtime.block_on(async move {
            match core.submit_mail(&sender, submission, &ctx).await {
                Ok(Submitted::Pass(passed)) => {
                    pass(&shared, &sender, &passed, &envelope_from, &recipients, &ctx).await
                }
                Ok(Submitted::Held { id, .. }) => Response::custom(
                    250,
                    format!(
                        "2.6.0 Held for your check before it goes: {}/mail/{id}",
                        shared.state.config.public_url
                    ),
                ),
                Ok(Submitted::Returned { domain, .. }) => Response::custom(
                    250,
                    format!(
                        "2.6.0 Not sent: {domain} may not receive this client's data; a return notice follows"
                    ),
                ),
                Err(CoreError::Invalid { message, .. }) => Response::custom(554, format!("5.6.0 {message}")),
                Err(CoreError::Forbidden(message)) => Response::custom(550, format!("5.7.1 {message}")),
                Err(e) => {
                    tracing::error!(error = %e, "the mail relay could not take a mail");
                    Response::custom(451, "4.3.0 Mamori could not take the mail now; try again".into())
                }
            }
        })
    }
}

/// An internal mail: upstream now, then its audit entry.
async fn pass(
    shared: &Shared,
    sender: &Principal,
    passed: &PassedMail,
    from: &str,
    to: &[String],
    ctx: &RequestContext,
) -> Response {
    let relayed = relay_upstream(&shared.upstream, from, to, &passed.message).await;
    let reply = match &relayed {
        Ok(()) => Response::custom(250, "2.0.0 Sent (internal recipients only)".into()),
        Err(e) => {
            tracing::warn!(mail = %passed.id, error = %e, "the upstream relay refused an internal mail");
            Response::custom(451, "4.4.1 The upstream mail server did not take it; try again later".into())
        }
    };
    if let Err(e) = shared.state.core.mail_passed(sender, passed, relayed, ctx).await {
        tracing::error!(error = %e, "an internal mail could not be recorded");
    }
    reply
}

impl Handler for RelayHandler {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        if self.sender.is_none() {
            return mailin::response::AUTHENTICATION_REQUIRED;
        }
        self.from = from.to_owned();
        self.to.clear();
        mailin::response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        if self.to.len() >= mamori_core::outgoing_mail::MAX_RECIPIENTS {
            return Response::custom(452, "4.5.3 Too many recipients: send it in parts".into());
        }
        if to.parse::<lettre::Address>().is_err() {
            return Response::custom(553, "5.1.3 That is not a mail address".into());
        }
        self.to.push(to.to_owned());
        mailin::response::OK
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, _to: &[String]) -> Response {
        self.message.clear();
        self.too_big = false;
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self.message.len() + buf.len() > self.shared.relay.max_message_bytes {
            self.too_big = true;
        } else {
            self.message.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if std::mem::take(&mut self.resetting) {
            return mailin::response::OK;
        }
        let response = if self.too_big {
            self.message.clear();
            Response::custom(
                552,
                format!("5.3.4 The message is larger than {} KiB", self.shared.relay.max_message_bytes >> 10),
            )
        } else {
            self.submit()
        };
        if response.is_error {
            self.resetting = true;
            self.refused.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        response
    }

    fn auth_plain(&mut self, _authorization_id: &str, authentication_id: &str, password: &str) -> Response {
        self.sign_in(authentication_id, password)
    }

    fn auth_login(&mut self, username: &str, password: &str) -> Response {
        self.sign_in(username, password)
    }
}

/// The words of a bounce, in Japanese then English.
fn bounce_text(b: &Bounce, public_url: &str) -> String {
    let (ja, en) = match b.reason.as_str() {
        "domain_refused" => (
            format!(
                "宛先のドメイン {} は、{} の顧客情報を送れる宛先として登録されていません。",
                b.domain.as_deref().unwrap_or("-"),
                b.client.as_deref().unwrap_or("-")
            ),
            format!(
                "The recipient domain {} is not one {}'s customer data may be sent to.",
                b.domain.as_deref().unwrap_or("-"),
                b.client.as_deref().unwrap_or("-")
            ),
        ),
        "denied" => (
            "スーパーバイザーが送信を承認しませんでした。".to_owned(),
            "A supervisor did not approve sending it.".to_owned(),
        ),
        "approval_expired" => (
            "スーパーバイザーの承認が期限内に得られませんでした。".to_owned(),
            "It was not approved in time.".to_owned(),
        ),
        "not_confirmed" => (
            "送信者の確認が期限内に行われませんでした。".to_owned(),
            "You did not check it in time.".to_owned(),
        ),
        _ => (
            "送信先のメールサーバーが受け取りませんでした。".to_owned(),
            "The mail server did not accept it.".to_owned(),
        ),
    };
    let comment = b.comment.as_deref().map(|c| format!("\nコメント / Comment: {c}\n")).unwrap_or_default();
    format!(
        "このメールは送信されませんでした。\n理由: {ja}\n件名: {subject}\n{comment}\n\
         This mail was not sent.\nReason: {en}\nSubject: {subject}\n\n\
         Mamori: {public_url}/mail/{id}\n",
        subject = b.subject,
        id = b.mail_id,
    )
}

/// A bounce as a mail to the sender.
fn bounce_message(b: &Bounce, relay: &MailRelay, to: &str, public_url: &str) -> Result<Vec<u8>, String> {
    let message = lettre::Message::builder()
        .from(relay.bounce_from.parse().map_err(|e| format!("mail.bounce_from: {e}"))?)
        .to(to.parse().map_err(|e| format!("the sender's address: {e}"))?)
        .subject(format!("送信されませんでした / Not sent: {}", b.subject))
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(bounce_text(b, public_url))
        .map_err(|e| e.to_string())?;
    Ok(message.formatted())
}

async fn send(
    shared_state: &AppState,
    relay: &MailRelay,
    upstream: &Upstream,
    mail: &MailToSend,
) -> Result<(), String> {
    match &mail.content {
        MailContentToSend::Message(bytes) => relay_upstream(upstream, &mail.from, &mail.to, bytes).await,
        MailContentToSend::Bounce(bounce) => {
            let to = mail.to.first().ok_or("the returned mail had no sender address")?;
            let bytes = bounce_message(bounce, relay, to, &shared_state.config.public_url)?;
            relay_upstream(upstream, "", &mail.to, &bytes).await
        }
    }
}

/// Moves held mail on and sends what is released, woken by each approval change and at least
/// every two seconds. Without a relay configured, held mail (the demo's, or mail left from when
/// one was) is still moved on; what is released waits for a relay.
pub fn spawn_outbox(
    state: AppState,
    relay: Option<MailRelay>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let sender = match relay {
        Some(relay) => Some((upstream(&relay)?, relay)),
        None => None,
    };
    Ok(tokio::spawn(async move {
        let mut changes = state.core.approvals.watch();
        loop {
            if let Err(e) = state.core.sweep_mail().await {
                tracing::warn!(error = %e, "moving held mail on failed");
            }
            if let Some((upstream, relay)) = &sender
                && send_due(&state, relay, upstream).await
            {
                continue;
            }
            let _ = tokio::time::timeout(Duration::from_secs(2), changes.changed()).await;
        }
    }))
}

/// Mails sent at once by one replica's outbox (each a connection to the upstream relay).
const SEND_AT_ONCE: usize = 8;

/// Sends what is due, several at once; whether there was any (then there may be more).
async fn send_due(state: &AppState, relay: &MailRelay, upstream: &Upstream) -> bool {
    use futures_util::StreamExt;
    match state.core.claim_mail(50).await {
        Ok(due) => {
            let any = !due.is_empty();
            futures_util::stream::iter(due)
                .for_each_concurrent(SEND_AT_ONCE, |mail| async move {
                    let outcome = send(state, relay, upstream, &mail).await;
                    if let Err(e) = &outcome {
                        tracing::warn!(mail = %mail.mail.id, attempt = mail.mail.attempts + 1, error = %e, "relaying a mail failed");
                    }
                    if let Err(e) = state.core.record_mail_relay(&mail, outcome).await {
                        tracing::error!(error = %e, "a mail relay attempt could not be recorded");
                    }
                })
                .await;
            any
        }
        Err(e) => {
            tracing::error!(error = %e, "the mail outbox could not be read");
            false
        }
    }
}
