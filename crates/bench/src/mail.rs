//! `mamori-bench mail` (issue 15, item 5): the SMTP submission relay's throughput and added
//! latency, beside a relay that checks nothing.
//!
//! Everything runs on this machine over loopback, plain SMTP with AUTH (no TLS, so the
//! comparison is of the relays' own work):
//! - a **sink**: a receiving SMTP server (mailin, in this process) that accepts and counts;
//! - the **ceiling**: a pass-through relay (mailin and lettre, in this process) that relays each
//!   message to the sink before answering, with no parsing, no lookups, no storage;
//! - **Mamori** with the demo (10,000 customers) and its relay pointed at the sink.
//!
//! N clients (lettre, one connection per message as mail programs do) each send their share:
//! 1. the same external mail with a customer's phone number in the text through the ceiling
//!    relay, then through Mamori, where it is held (read, searched by blind index, sealed,
//!    stored, audited) — messages/s of each;
//! 2. an internal mail through the ceiling and through Mamori (relayed before the answer, then
//!    audited) — messages/s and per-message latency, p50/p99; the difference is what the
//!    checks add;
//! 3. the held mails without customer data, confirmed by their sender: the rate the outbox
//!    drains them to the sink.

use crate::console::percentile;
use anyhow::Context;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use mailin::{Action, AuthMechanism, Handler, Response, SessionBuilder};
use mamori_domain::clock::ManualClock;
use mamori_domain::{Clock, SystemClock};
use mamori_server::config::{MailRelay, ServerConfig};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

type Client = AsyncSmtpTransport<Tokio1Executor>;

/// A finished message waiting to be forwarded (the pass-through relay).
type Pending = Arc<Mutex<Option<(String, Vec<String>, Vec<u8>)>>>;

/// Accepts everything: any sign-in, any message.
struct AcceptAll {
    pending: Pending,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for AcceptAll {
    fn mail(&mut self, _ip: std::net::IpAddr, _domain: &str, from: &str) -> Response {
        self.from = from.to_owned();
        self.to.clear();
        mailin::response::OK
    }
    fn rcpt(&mut self, to: &str) -> Response {
        self.to.push(to.to_owned());
        mailin::response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> Response {
        let message = std::mem::take(&mut self.data);
        if let Ok(mut slot) = self.pending.lock() {
            *slot = Some((self.from.clone(), self.to.clone(), message));
        }
        mailin::response::OK
    }
    fn auth_plain(&mut self, _authz: &str, _user: &str, _password: &str) -> Response {
        mailin::response::AUTH_OK
    }
}

/// A receiving server that counts messages, or (with `forward`) a relay that checks nothing and
/// answers only once the next server took the message.
async fn smtp_server(forward: Option<Client>) -> anyhow::Result<(u16, Arc<AtomicU64>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let received = Arc::new(AtomicU64::new(0));
    let count = received.clone();
    let forward = forward.map(Arc::new);
    tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let (count, forward) = (count.clone(), forward.clone());
            tokio::spawn(async move {
                let pending: Pending = Arc::new(Mutex::new(None));
                let handler = AcceptAll {
                    pending: pending.clone(),
                    from: String::new(),
                    to: Vec::new(),
                    data: Vec::new(),
                };
                let mut builder = SessionBuilder::new("bench.example.jp");
                // The relay asks for a sign-in as Mamori's does; the sink takes mail as a mail
                // server takes it from its relay.
                if forward.is_some() {
                    builder.enable_auth(AuthMechanism::Plain).insecure_enable_plaintext_auth();
                }
                let mut session = builder.build(peer.ip(), handler);
                let _ = stream.set_nodelay(true);
                let (read, mut write) = stream.into_split();
                let mut read = BufReader::new(read);
                let Ok(greeting) = session.greeting().buffer() else { return };
                if write.write_all(&greeting).await.is_err() {
                    return;
                }
                let mut line = Vec::new();
                loop {
                    line.clear();
                    match read.read_until(b'\n', &mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let mut response = session.process(&line);
                    let done = pending.lock().ok().and_then(|mut p| p.take());
                    if let Some((from, to, message)) = done {
                        count.fetch_add(1, Ordering::Relaxed);
                        if let Some(next) = &forward
                            && relay(next, &from, &to, &message).await.is_err()
                        {
                            response = Response::custom(451, "4.4.1 upstream".into());
                        }
                    }
                    match response.action {
                        Action::NoReply => {}
                        Action::Close | Action::Reply | Action::UpgradeTls => {
                            let Ok(bytes) = response.buffer() else { return };
                            if write.write_all(&bytes).await.is_err() || response.action == Action::Close {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    Ok((port, received))
}

async fn relay(client: &Client, from: &str, to: &[String], message: &[u8]) -> anyhow::Result<()> {
    let envelope = lettre::address::Envelope::new(
        Some(from.parse()?),
        to.iter().map(|a| a.parse()).collect::<Result<Vec<_>, _>>()?,
    )?;
    client.send_raw(&envelope, message).await?;
    Ok(())
}

fn plain_client(port: u16, user: &str, password: &str) -> Client {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .credentials(Credentials::new(user.into(), password.into()))
        .build()
}

fn message(to: &str, body: &str) -> Vec<u8> {
    format!(
        "From: demo-op01@{domain}\r\nTo: {to}\r\nSubject: bench\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n",
        domain = mamori_core::demo::DEMO_MAIL_DOMAIN
    )
    .into_bytes()
}

/// Sends `count` copies of `message` to `to` from `clients` concurrent clients; each message's
/// time from connect to the final answer, sorted (ms), and the whole run's wall time.
async fn send_all(
    port: u16,
    user: &str,
    password: &str,
    clients: usize,
    count: usize,
    to: &str,
    message: &[u8],
) -> anyhow::Result<(Vec<f64>, Duration)> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let share = count / clients + usize::from(c < count % clients);
        let client = plain_client(port, user, password);
        let (to, message) = (to.to_owned(), message.to_vec());
        let from = format!("demo-op01@{}", mamori_core::demo::DEMO_MAIL_DOMAIN);
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(share);
            for _ in 0..share {
                let t = Instant::now();
                relay(&client, &from, std::slice::from_ref(&to), &message).await?;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            anyhow::Ok(times)
        }));
    }
    let mut times = Vec::with_capacity(count);
    for t in tasks {
        times.extend(t.await??);
    }
    let wall = started.elapsed();
    times.sort_by(f64::total_cmp);
    Ok((times, wall))
}

fn line(what: &str, count: usize, times: &[f64], wall: Duration) {
    println!(
        "{what:<44} {:>8.0} msg/s   p50 {:>6.1} ms   p99 {:>6.1} ms",
        count as f64 / wall.as_secs_f64(),
        percentile(times, 50.0),
        percentile(times, 99.0)
    );
}

pub async fn run(
    backend: crate::Backend,
    clients: usize,
    messages: usize,
    postgres: &str,
) -> anyhow::Result<()> {
    let (sink_port, sink_count) = smtp_server(None).await?;
    let sink = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(sink_port).build();
    let (ceiling_port, _) = smtp_server(Some(sink)).await?;

    let dir = tempfile::tempdir()?;
    let mut config = ServerConfig::defaults(dir.path().join("data"));
    config.listen = "127.0.0.1:0".parse()?;
    config.signin_burst = 1_000_000;
    config.signin_per_minute = 1_000_000;
    let scratch = match backend {
        crate::Backend::Sqlite => None,
        crate::Backend::Postgres => Some(crate::scratch_postgres(postgres).await?),
    };
    config.database_url = scratch.as_ref().map(|(url, _)| url.clone());
    config.mail = Some(MailRelay {
        listen: "127.0.0.1:0".parse()?,
        upstream_url: format!("smtp://127.0.0.1:{sink_port}"),
        hostname: "mamori.bench.example.jp".into(),
        bounce_from: "mailer-daemon@bench.example.jp".into(),
        max_message_bytes: 1 << 20,
    });
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    println!("loading the demo (10,000 customers) …");
    let running = mamori_server::serve::start(config, clock.clone(), true).await?;
    let mamori_port = running.started.mail_addr.context("the relay listens")?.port();
    let core = running.state.core.clone();
    let op = core.store().read().await?.user_by_username("demo-op01").await?.context("demo-op01")?;
    let clients_of_op = core.store().read().await?.user_clients(&op.id).await?;
    let op = mamori_core::Principal::direct(&op, clients_of_op);
    let password = core.new_mail_password(&op, &Default::default()).await?;
    let internal = format!("demo-sv01@{}", mamori_core::demo::DEMO_MAIL_DOMAIN);
    let external = "tantou@sample-tsuhan.example.jp";
    let with_data =
        message(external, &format!("お客様（{}）からのご依頼です。", mamori_core::demo::DEMO_SAMPLE_PHONE));
    let plain_external = message(external, "お見積りをお送りします。");
    let internal_mail = message(&internal, "本日のシフトです。");
    println!("{clients} clients, {messages} messages each run, {backend:?}");

    let (t, w) = send_all(ceiling_port, "x", "x", clients, messages, external, &with_data).await?;
    line("ceiling: relayed, no checks (customer data)", messages, &t, w);
    let (t, w) =
        send_all(mamori_port, "demo-op01", &password, clients, messages, external, &with_data).await?;
    line("Mamori: held for check + approval", messages, &t, w);

    let (ct, cw) = send_all(ceiling_port, "x", "x", clients, messages, &internal, &internal_mail).await?;
    line("ceiling: relayed, no checks (internal)", messages, &ct, cw);
    let (mt, mw) =
        send_all(mamori_port, "demo-op01", &password, clients, messages, &internal, &internal_mail).await?;
    line("Mamori: internal, relayed at once", messages, &mt, mw);
    println!(
        "added latency, internal mail: p50 {:+.1} ms, p99 {:+.1} ms",
        percentile(&mt, 50.0) - percentile(&ct, 50.0),
        percentile(&mt, 99.0) - percentile(&ct, 99.0)
    );
    let (st, _) = send_all(ceiling_port, "x", "x", 1, 200, &internal, &internal_mail).await?;
    let (sm, _) = send_all(mamori_port, "demo-op01", &password, 1, 200, &internal, &internal_mail).await?;
    println!(
        "one client alone, internal mail: ceiling p50 {:.1} / p99 {:.1} ms, Mamori p50 {:.1} / p99 {:.1} ms",
        percentile(&st, 50.0),
        percentile(&st, 99.0),
        percentile(&sm, 50.0),
        percentile(&sm, 99.0)
    );

    // The held mails without customer data, confirmed after the self-check delay: the outbox
    // relays them.
    let held = messages.min(1000);
    send_all(mamori_port, "demo-op01", &password, clients, held, external, &plain_external).await?;
    clock.advance(Duration::from_secs(120));
    let ids: Vec<String> = core
        .store()
        .read()
        .await?
        .outgoing_mails_in("held", 100_000)
        .await?
        .into_iter()
        .filter(|m| {
            serde_json::from_str::<mamori_domain::mail::Findings>(&m.findings)
                .is_ok_and(|f| !f.customer_data())
        })
        .map(|m| m.id)
        .collect();
    let before = sink_count.load(Ordering::Relaxed);
    let started = Instant::now();
    for id in &ids {
        core.confirm_mail(&op, id, &Default::default()).await?;
    }
    let confirmed = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(600);
    while sink_count.load(Ordering::Relaxed) < before + ids.len() as u64 {
        anyhow::ensure!(Instant::now() < deadline, "the outbox did not drain");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained = started.elapsed();
    println!(
        "held → confirmed → relayed by the outbox: {} mails, confirms {:.0}/s, delivered {:.0}/s",
        ids.len(),
        ids.len() as f64 / confirmed.as_secs_f64(),
        ids.len() as f64 / drained.as_secs_f64()
    );
    running.shutdown().await;
    if let Some((_, name)) = scratch {
        crate::drop_postgres(postgres, &name).await?;
    }
    Ok(())
}
