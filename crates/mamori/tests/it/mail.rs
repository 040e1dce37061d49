//! Outgoing mail held for a check (issue 15, item 5; LEAK-9, TW-9 — 誤送信防止): a real SMTP
//! exchange on loopback. A mail client (lettre, over STARTTLS with AUTH) submits to Mamori's
//! relay; a real receiving SMTP server (Debian's aiosmtpd, writing a maildir) gets internal mail
//! at once, external mail only after the sender's self-check, mail with customer data only
//! after a supervisor's approval; a client company's domain limit and a supervisor's denial
//! bounce to the sender with the reason in Japanese and English.

use crate::approvals::{client_with_customers, person};
use crate::both_backends;
use crate::commands::two_teams;
use crate::support::{Backend, TestServer};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use mamori_core::CoreError;
use mamori_domain::approval::ApprovalState;
use mamori_domain::mail::MailPolicy;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// aiosmtpd writing every mail it receives into a maildir.
pub(crate) struct Sink {
    child: std::process::Child,
    pub(crate) port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sink {
    pub(crate) async fn start() -> Sink {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new("/usr/bin/python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("aiosmtpd (python3-aiosmtpd) runs: scripts/install-test-deps.sh installs it");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(std::time::Instant::now() < deadline, "aiosmtpd did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Sink { child, port, maildir, _dir: dir }
    }

    /// Every message received so far.
    pub(crate) fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else { return Vec::new() };
        entries.filter_map(|e| std::fs::read(e.ok()?.path()).ok()).map(|b| decoded(&b)).collect()
    }

    /// Waits until a received message contains `needle` (the server's outbox runs on its own).
    pub(crate) async fn wait_for(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(m) = self.messages().into_iter().find(|m| m.contains(needle)) {
                return m;
            }
            assert!(std::time::Instant::now() < deadline, "no mail with {needle:?}: {:?}", self.messages());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every message received so far, as received.
    fn raw_messages(&self) -> Vec<Vec<u8>> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else { return Vec::new() };
        entries.filter_map(|e| std::fs::read(e.ok()?.path()).ok()).collect()
    }

    fn has(&self, needle: &str) -> bool {
        self.messages().iter().any(|m| m.contains(needle))
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A received mail as text: its headers, then its decoded subject and text parts.
fn decoded(raw: &[u8]) -> String {
    let header_end =
        raw.windows(4).position(|w| w == b"\r\n\r\n").or_else(|| raw.windows(2).position(|w| w == b"\n\n"));
    let headers = String::from_utf8_lossy(&raw[..header_end.unwrap_or(0)]).into_owned();
    let message = mail_parser::MessageParser::default().parse(raw).unwrap();
    let mut text = format!("{headers}\nSUBJECT: {}\n", message.subject().unwrap_or_default());
    for i in 0..message.text_body_count() {
        text.push_str(&message.body_text(i).unwrap_or_default());
    }
    text
}

fn certificate(dir: &Path) -> (PathBuf, PathBuf, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (pem, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&pem, cert.cert.pem()).unwrap();
    std::fs::write(&key, cert.signing_key.serialize_pem()).unwrap();
    (pem, key, cert.cert.pem())
}

/// A mail client of op.a: STARTTLS (the server's certificate), AUTH with the mail password.
fn client(port: u16, ca_pem: &str, user: &str, password: &str) -> AsyncSmtpTransport<Tokio1Executor> {
    let tls = TlsParameters::builder("localhost".into())
        .add_root_certificate(Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .build_rustls()
        .unwrap();
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("localhost")
        .port(port)
        .tls(Tls::Required(tls))
        .credentials(Credentials::new(user.into(), password.into()))
        .build()
}

fn raw_mail(to: &str, cc: Option<&str>, subject: &str, body: &str) -> Vec<u8> {
    let cc = cc.map(|c| format!("Cc: {c}\r\n")).unwrap_or_default();
    format!(
        "From: op.a@center.example.jp\r\nTo: {to}\r\n{cc}Subject: {subject}\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

async fn submit(
    smtp: &AsyncSmtpTransport<Tokio1Executor>,
    to: &[&str],
    message: &[u8],
) -> Result<String, lettre::transport::smtp::Error> {
    let envelope = lettre::address::Envelope::new(
        Some("op.a@center.example.jp".parse().unwrap()),
        to.iter().map(|a| a.parse().unwrap()).collect(),
    )
    .unwrap();
    let response = smtp.send_raw(&envelope, message).await?;
    Ok(response.message().collect::<Vec<_>>().join(" "))
}

/// The held mail's id from the relay's answer (`…/mail/<id>`).
fn held_id(answer: &str) -> String {
    let id = answer.rsplit("/mail/").next().unwrap().trim().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "held: {answer}");
    id
}

async fn relay_holds_and_checks_outgoing_mail(backend: Backend) {
    let sink = Sink::start().await;
    let certs = tempfile::tempdir().unwrap();
    let (cert, key, ca_pem) = certificate(certs.path());
    let sink_port = sink.port;
    let s = TestServer::start_with(backend, |c| {
        c.signin_burst = 10_000;
        c.tls = Some((cert.clone(), key.clone()));
        c.mail = Some(mamori_server::config::MailRelay {
            listen: "127.0.0.1:0".parse().unwrap(),
            upstream_url: format!("smtp://127.0.0.1:{sink_port}"),
            hostname: "mamori.center.example.jp".into(),
            bounce_from: "mailer-daemon@center.example.jp".into(),
            max_message_bytes: 1 << 20,
        });
    })
    .await;
    let port = s.mail_port();
    two_teams(&s).await;
    let ctx = Default::default();
    let (client_id, _) = client_with_customers(&s, 1).await;
    let admin = person(&s, "admin").await;
    let policy = MailPolicy {
        internal_domains: vec!["center.example.jp".into()],
        client_domains: [(client_id.clone(), vec!["tsuhan-a.co.jp".into()])].into(),
        ..MailPolicy::default()
    };
    s.core.set_mail_policy(&admin, policy, &ctx).await.unwrap();
    let op = person(&s, "op.a").await;
    let sv = person(&s, "sv.a").await;
    let password = s.core.new_mail_password(&op, &ctx).await.unwrap();

    // No mail password, a wrong one: refused, and recorded.
    let wrong = client(port, &ca_pem, "op.a", "mml_wrong");
    let refused =
        submit(&wrong, &["sv.a@center.example.jp"], &raw_mail("sv.a@center.example.jp", None, "x", "x"))
            .await;
    assert!(refused.unwrap_err().to_string().contains("535"), "a wrong password is refused");

    let smtp = client(port, &ca_pem, "op.a", &password);

    // 1. Internal only: relayed before the client hears back.
    let answer = submit(
        &smtp,
        &["sv.a@center.example.jp"],
        &raw_mail("sv.a@center.example.jp", None, "社内連絡", "本日のシフトです。"),
    )
    .await
    .unwrap();
    assert!(answer.contains("Sent"), "{answer}");
    assert!(sink.has("本日のシフトです。"), "internal mail arrives at once");

    // 2. External, no customer data: held until the sender checks it after the delay.
    let message = raw_mail(
        "yamada@tsuhan-a.co.jp",
        Some("sv.a@center.example.jp"),
        "お見積り",
        "お見積りをお送りします。",
    );
    let answer = submit(&smtp, &["yamada@tsuhan-a.co.jp", "sv.a@center.example.jp"], &message).await.unwrap();
    let quote = held_id(&answer);
    let view = s.core.outgoing_mail(&op, &quote, &ctx).await.unwrap();
    assert_eq!(view.summary.subject, "お見積り");
    let external: Vec<_> =
        view.recipients.iter().filter(|r| r.visible_external()).map(|r| r.address.as_str()).collect();
    assert_eq!(external, ["yamada@tsuhan-a.co.jp"], "the external recipient in To is warned of");
    assert!(!view.findings.customer_data());
    match s.core.confirm_mail(&op, &quote, &ctx).await {
        Err(CoreError::ApprovalRefused { reason: "too_early", .. }) => {}
        other => panic!("confirmed before the self-check delay: {other:?}"),
    }
    // Someone else cannot confirm it or even see it.
    assert!(matches!(s.core.confirm_mail(&sv, &quote, &ctx).await, Err(CoreError::NotFound { .. })));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!sink.has("お見積りをお送りします。"), "held mail does not leave");
    s.clock.advance(Duration::from_secs(61));
    s.core.confirm_mail(&op, &quote, &ctx).await.unwrap();
    let got = sink.wait_for("お見積りをお送りします。").await;
    assert!(got.contains("X-RcptTo: yamada@tsuhan-a.co.jp, sv.a@center.example.jp"), "{got}");

    // 3. A customer's phone number to an allowed external domain: the sender's check, then the
    //    supervisor's approval.
    let body = "お客様（03-1234-5678）からのご依頼の件です。";
    let answer =
        submit(&smtp, &["yamada@tsuhan-a.co.jp"], &raw_mail("yamada@tsuhan-a.co.jp", None, "ご依頼", body))
            .await
            .unwrap();
    let with_data = held_id(&answer);
    let view = s.core.outgoing_mail(&op, &with_data, &ctx).await.unwrap();
    assert_eq!(view.findings.customer_phones, 1);
    assert_eq!(view.findings.clients, std::slice::from_ref(&client_id));
    s.clock.advance(Duration::from_secs(61));
    let waiting = s.core.confirm_mail(&op, &with_data, &ctx).await.unwrap();
    assert_eq!(waiting.state, "awaiting_approval");
    let approval_id = waiting.approval_id.clone().unwrap();
    // The supervisor sees the mail through its request; op.b does not.
    assert!(s.core.outgoing_mail(&sv, &with_data, &ctx).await.is_ok());
    let op_b = person(&s, "op.b").await;
    assert!(matches!(s.core.outgoing_mail(&op_b, &with_data, &ctx).await, Err(CoreError::NotFound { .. })));
    // The sender cannot approve their own mail.
    assert!(s.core.approvals.decide(&op, &approval_id, true, None, "", &ctx).await.is_err());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!sink.has("からのご依頼の件です"), "not before the approval");
    let step = s.core.identity.step_up(&sv, &s.next_totp(), "approval", &ctx).await.unwrap();
    // A second replica (another process's services on the same database) sweeps at the same
    // moment as the server's outbox: the mail is released, and sent, once. Replicas share
    // PostgreSQL; the embedded SQLite belongs to one process (a second one's write waits on
    // its lock and may give up), so there the server's own outbox and a sweep race instead.
    let other = match backend {
        Backend::Postgres => Some(mamori_server::serve::open_core(&s.config, s.clock.clone()).await.unwrap()),
        Backend::Sqlite => None,
    };
    s.core.approvals.decide(&sv, &approval_id, true, Some(&step), "", &ctx).await.unwrap();
    let second = async {
        match &other {
            Some(core) => core.sweep_mail().await,
            None => Ok(0),
        }
    };
    let (a, b) = tokio::join!(second, s.core.sweep_mail());
    assert!(a.unwrap() + b.unwrap() <= 1, "released at most once by these two sweeps");
    sink.wait_for("からのご依頼の件です").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let copies = sink.messages().iter().filter(|m| m.contains("からのご依頼の件です")).count();
    assert_eq!(copies, 1, "sent once");
    let releases = s.audit("mail.release").await;
    let object = format!("mail:{with_data}");
    assert_eq!(releases.iter().filter(|e| e.object.as_deref() == Some(object.as_str())).count(), 1);
    drop(other);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let a = s.core.approvals.approval(&op, &approval_id, &ctx).await.unwrap();
        if a.request.state == ApprovalState::Used {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the grant is used by the release");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sent = s.core.outgoing_mail(&op, &with_data, &ctx).await.unwrap();
    assert_eq!(sent.mail.state, "sent");

    // 4. Customer data to a domain the client company does not allow: bounced, with the reason.
    let answer = submit(
        &smtp,
        &["someone@free-mail.example.com"],
        &raw_mail("someone@free-mail.example.com", None, "転送", body),
    )
    .await
    .unwrap();
    assert!(answer.contains("Not sent"), "{answer}");
    let bounce = sink.wait_for("送信されませんでした").await;
    assert!(bounce.contains("X-RcptTo: op.a@center.example.jp"), "the bounce goes to the sender: {bounce}");
    assert!(bounce.contains("free-mail.example.com") && bounce.contains("通販A社"), "{bounce}");
    assert!(bounce.contains("This mail was not sent") && bounce.contains("is not one"), "{bounce}");
    assert!(!sink.has("X-RcptTo: someone@free-mail.example.com"));

    // 5. Denied by the supervisor: returned with the comment.
    let answer = submit(
        &smtp,
        &["yamada@tsuhan-a.co.jp"],
        &raw_mail("yamada@tsuhan-a.co.jp", None, "再送", "カード 4111 1111 1111 1111"),
    )
    .await
    .unwrap();
    let denied = held_id(&answer);
    s.clock.advance(Duration::from_secs(61));
    let waiting = s.core.confirm_mail(&op, &denied, &ctx).await.unwrap();
    let step = s.core.identity.step_up(&sv, &s.next_totp(), "approval", &ctx).await.unwrap();
    s.core
        .approvals
        .decide(
            &sv,
            waiting.approval_id.as_deref().unwrap(),
            false,
            Some(&step),
            "カード番号は送らないでください",
            &ctx,
        )
        .await
        .unwrap();
    let bounce = sink.wait_for("カード番号は送らないでください").await;
    assert!(
        bounce.contains("スーパーバイザーが送信を承認しませんでした") && bounce.contains("did not approve")
    );
    assert!(!sink.has("4111 1111 1111 1111"), "the denied mail never left");

    // 6. Cancelled during the self-check: never sent.
    let answer = submit(
        &smtp,
        &["yamada@tsuhan-a.co.jp"],
        &raw_mail("yamada@tsuhan-a.co.jp", None, "誤送信", "間違えました"),
    )
    .await
    .unwrap();
    let cancelled = held_id(&answer);
    s.core.cancel_mail(&op, &cancelled, &ctx).await.unwrap();
    s.clock.advance(Duration::from_secs(61));
    assert!(
        s.core.confirm_mail(&op, &cancelled, &ctx).await.is_err(),
        "a cancelled mail cannot be confirmed"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!sink.has("間違えました"));

    // Every step is in the log; no address or subject is.
    // Refusals are written outside the request's transaction: give them a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = s.core.store().read().await.unwrap().audit_entries(0, u64::MAX >> 2).await.unwrap();
    let names: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    for action in [
        "mail.submit",
        "mail.confirm",
        "mail.cancel",
        "mail.release",
        "mail.send",
        "mail.return",
        "mail.auth",
    ] {
        assert!(names.contains(&action), "{action} is logged");
    }
    let text = serde_json::to_string(&log).unwrap();
    // The whole card number: four digits alone turn up in hashes and times.
    for secret in ["yamada@", "お見積り", "03-1234-5678", "4111 1111 1111 1111", "4111111111111111"] {
        assert!(!text.contains(secret), "{secret} reached the audit log");
    }
}
both_backends!(relay_holds_and_checks_outgoing_mail);

/// The outgoing-mail rules: bad rules are refused with the reason and nothing kept; with a
/// second security admin, a change is a privileged action (one admin alone could otherwise
/// declare a free-mail domain internal).
async fn mail_rules_are_checked_and_need_two_admins(backend: Backend) {
    use mamori_domain::approval::PrivilegedAction;
    let s = TestServer::start_with(backend, |c| c.signin_burst = 10_000).await;
    two_teams(&s).await;
    let ctx = Default::default();
    let (client_id, _) = client_with_customers(&s, 1).await;
    let admin_user = s.core.store().read().await.unwrap().user_by_username("admin").await.unwrap().unwrap();
    let token = s.token(&admin_user, &[mamori_domain::Permission::SettingsManage]).await;
    let api = reqwest::Client::new();
    let put = |body: serde_json::Value| {
        api.put(s.url("/api/v1/mail-policy")).bearer_auth(&token).json(&body).send()
    };
    let good = serde_json::json!({"internal_domains": ["Center.Example.JP"], "self_check_delay_secs": 30,
        "hold_hours": 8, "client_domains": {client_id.clone(): ["tsuhan-a.co.jp"]}});
    for (bad, why) in [
        (
            serde_json::json!({"internal_domains": ["not a domain"], "self_check_delay_secs": 30, "hold_hours": 8}),
            "domain",
        ),
        (serde_json::json!({"internal_domains": [], "self_check_delay_secs": 601, "hold_hours": 8}), "delay"),
        (serde_json::json!({"internal_domains": [], "self_check_delay_secs": 30, "hold_hours": 0}), "hold"),
        (
            serde_json::json!({"internal_domains": [], "self_check_delay_secs": 30, "hold_hours": 8,
            "attachment_links": true, "link_hours": 721}),
            "link hours",
        ),
        (
            serde_json::json!({"internal_domains": [], "self_check_delay_secs": 30, "hold_hours": 8, "bcc_all": true}),
            "unknown key",
        ),
        (
            serde_json::json!({"internal_domains": [], "self_check_delay_secs": 30, "hold_hours": 8,
            "client_domains": {uuid::Uuid::new_v4().to_string(): ["x.jp"]}}),
            "unknown client",
        ),
    ] {
        let r = put(bad).await.unwrap();
        assert_eq!(r.status(), 422, "{why}");
    }
    assert_eq!(s.core.mail_policy().await.unwrap(), MailPolicy::default(), "nothing was kept");
    // One security admin: the change is made at once, normalized.
    let r = put(good.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let kept = s.core.mail_policy().await.unwrap();
    assert_eq!(kept.internal_domains, ["center.example.jp"]);
    let r = api.get(s.url("/api/v1/mail-policy")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.json::<MailPolicy>().await.unwrap(), kept);
    let r = api
        .get(s.url(&format!("/api/v1/mail/{}", uuid::Uuid::new_v4())))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // A second security admin: the change waits for their approval.
    s.user("admin2", &[mamori_domain::Role::SecurityAdmin]).await;
    let mut wider = good.clone();
    wider["internal_domains"] = serde_json::json!(["center.example.jp", "free-mail.example.com"]);
    let r = put(wider.clone()).await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], "approval_required");
    assert_eq!(s.core.mail_policy().await.unwrap(), kept, "not changed alone");
    let admin = person(&s, "admin").await;
    let policy: MailPolicy = serde_json::from_value(wider).unwrap();
    let action = PrivilegedAction::SetMailPolicy { policy };
    let asked = s.core.request_privileged(&admin, &action, "フリーメールを社内扱いに", &ctx).await.unwrap();
    let second = person(&s, "admin2").await;
    let step = s.core.identity.step_up(&second, &s.next_totp(), "approval", &ctx).await.unwrap();
    s.core.approvals.decide(&second, &asked.id, true, Some(&step), "", &ctx).await.unwrap();
    s.core.execute_privileged(&admin, &asked.id, &ctx).await.unwrap();
    assert!(s.core.mail_policy().await.unwrap().is_internal("free-mail.example.com"));
    assert!(s.core.execute_privileged(&admin, &asked.id, &ctx).await.is_err(), "used once");
    let change = s.audit("mail.policy_change").await;
    assert!(change.iter().any(|e| e.details.get("approval") == Some(&asked.id)), "{change:?}");
}
both_backends!(mail_rules_are_checked_and_need_two_admins);

/// Hostile mail clients (the relay faces the network): garbage lines, a line without end,
/// commands smuggled behind STARTTLS (CVE-2011-0411's attack), mail before signing in, a
/// mangled AUTH, and random messages from a signed-in client. Each gets a refusal or a closed
/// connection — never a crash, never an internal error — and the relay serves a real client
/// afterwards.
async fn relay_survives_hostile_clients(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sink = Sink::start().await;
    let certs = tempfile::tempdir().unwrap();
    let (cert, key, ca_pem) = certificate(certs.path());
    let sink_port = sink.port;
    let s = TestServer::start_with(backend, |c| {
        c.signin_burst = 100_000;
        c.signin_per_minute = 100_000;
        c.tls = Some((cert.clone(), key.clone()));
        c.mail = Some(mamori_server::config::MailRelay {
            listen: "127.0.0.1:0".parse().unwrap(),
            upstream_url: format!("smtp://127.0.0.1:{sink_port}"),
            hostname: "mamori.center.example.jp".into(),
            bounce_from: "mailer-daemon@center.example.jp".into(),
            max_message_bytes: 256 << 10,
        });
    })
    .await;
    let port = s.mail_port();
    two_teams(&s).await;
    let ctx = Default::default();
    let admin = person(&s, "admin").await;
    let policy = MailPolicy { internal_domains: vec!["center.example.jp".into()], ..MailPolicy::default() };
    s.core.set_mail_policy(&admin, policy, &ctx).await.unwrap();
    let op = person(&s, "op.a").await;
    let password = s.core.new_mail_password(&op, &ctx).await.unwrap();

    /// Writes `bytes`, then reads what comes back until the server stops talking (or 2 s).
    async fn exchange(port: u16, bytes: &[u8]) -> String {
        let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let _ = conn.write_all(bytes).await;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout(Duration::from_secs(2), conn.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    }

    let mut state = 0x853c_49e6_748f_ea9b_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..30 {
        let mut session = b"EHLO fuzz\r\n".to_vec();
        for _ in 0..next() % 12 {
            let line: Vec<u8> =
                (0..next() % 200).map(|_| (next() % 256) as u8).filter(|b| *b != b'\n').collect();
            session.extend_from_slice(&line);
            session.extend_from_slice(b"\r\n");
        }
        session.extend_from_slice(b"QUIT\r\n");
        let answer = exchange(port, &session).await;
        assert!(answer.starts_with("220 "), "greeted: {answer:?}");
        assert!(!answer.contains("\r\n451 "), "no internal error: {answer:?}");
    }
    // A line without end: the connection is closed, nothing buffered without bound.
    let endless = exchange(port, &vec![b'A'; 600 << 10]).await;
    assert!(!endless.contains("250"), "{endless:?}");
    // Mail before signing in.
    let early = exchange(port, b"EHLO x\r\nMAIL FROM:<op.a@center.example.jp>\r\nQUIT\r\n").await;
    assert!(early.contains("\r\n530 ") || early.contains("\r\n503 "), "{early:?}");
    // Plain-text AUTH is not offered before STARTTLS on a TLS relay.
    let plain = exchange(port, b"EHLO x\r\nAUTH PLAIN AG9wLmEAeA==\r\nQUIT\r\n").await;
    assert!(!plain.contains("\r\n235 "), "{plain:?}");
    // Commands smuggled behind STARTTLS: the connection ends without obeying them.
    let smuggled = exchange(port, b"EHLO x\r\nSTARTTLS\r\nMAIL FROM:<x@evil.example>\r\n").await;
    assert!(smuggled.contains("220 ") && !smuggled.contains("\r\n250 OK\r\n250"), "{smuggled:?}");

    // Random messages from a signed-in client: held, refused as unreadable, or passed — never 451.
    let smtp = client(port, &ca_pem, "op.a", &password);
    for round in 0..20 {
        let mut message = raw_mail("yamada@tsuhan-a.co.jp", None, "fuzz", "x");
        for _ in 0..1 + next() % 6 {
            let at = (next() as usize) % message.len();
            if round % 2 == 0 {
                message[at] = (next() % 256) as u8;
            } else {
                message.truncate(at.max(1));
            }
        }
        // Each within the client's patience: a refused message must not leave the session hanging.
        let r = tokio::time::timeout(
            Duration::from_secs(20),
            submit(&smtp, &["yamada@tsuhan-a.co.jp"], &message),
        );
        match r.await.expect("answered in time") {
            Ok(_) => {}
            Err(e) => assert!(e.to_string().contains("554") || e.to_string().contains("5.6.0"), "{e}"),
        }
    }
    let held =
        submit(&smtp, &["yamada@tsuhan-a.co.jp"], &raw_mail("yamada@tsuhan-a.co.jp", None, "ok", "ok")).await;
    assert!(held.unwrap().contains("/mail/"), "the relay still serves");
    let calm = raw_mail("sv.a@center.example.jp", None, "ok", "after the storm");
    assert!(submit(&smtp, &["sv.a@center.example.jp"], &calm).await.unwrap().contains("Sent"));
    sink.wait_for("after the storm").await;
}
both_backends!(relay_survives_hostile_clients);

/// A refused message ends that message, not the session: the client's next command is read as
/// a command (mailin alone would keep reading it as the refused message's text). On loopback,
/// plain, with the commands a mail program sends.
async fn a_refused_message_leaves_the_session_usable(backend: Backend) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let sink = Sink::start().await;
    let sink_port = sink.port;
    let s = TestServer::start_with(backend, |c| {
        c.mail = Some(mamori_server::config::MailRelay {
            listen: "127.0.0.1:0".parse().unwrap(),
            upstream_url: format!("smtp://127.0.0.1:{sink_port}"),
            hostname: "mamori.center.example.jp".into(),
            bounce_from: "mailer-daemon@center.example.jp".into(),
            max_message_bytes: 64 << 10,
        });
    })
    .await;
    two_teams(&s).await;
    let ctx = Default::default();
    let admin = person(&s, "admin").await;
    let policy = MailPolicy { internal_domains: vec!["center.example.jp".into()], ..MailPolicy::default() };
    s.core.set_mail_policy(&admin, policy, &ctx).await.unwrap();
    let password = s.core.new_mail_password(&person(&s, "op.a").await, &ctx).await.unwrap();
    let conn = tokio::net::TcpStream::connect(("127.0.0.1", s.mail_port())).await.unwrap();
    let (read, mut write) = conn.into_split();
    let mut read = tokio::io::BufReader::new(read);
    // Sends a command (or text) and reads the reply's last line.
    let mut say = async |text: &str| -> String {
        if !text.is_empty() {
            write.write_all(text.as_bytes()).await.unwrap();
        }
        let mut line = String::new();
        loop {
            line.clear();
            let got = tokio::time::timeout(Duration::from_secs(10), read.read_line(&mut line)).await;
            assert!(got.is_ok(), "no reply to {text:?}");
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.trim_end().to_owned();
            }
        }
    };
    assert!(say("").await.starts_with("220 "));
    assert!(say("EHLO client.center.example.jp\r\n").await.starts_with("250 "));
    let auth =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("\0op.a\0{password}"));
    assert!(say(&format!("AUTH PLAIN {auth}\r\n")).await.starts_with("235 "));
    assert!(say("MAIL FROM:<op.a@center.example.jp>\r\n").await.starts_with("250 "));
    assert!(say("RCPT TO:<sv.a@center.example.jp>\r\n").await.starts_with("250 "));
    assert!(say("DATA\r\n").await.starts_with("354 "));
    let refused = say("F\r\n.\r\n").await;
    assert!(refused.starts_with("554 "), "{refused}");
    // The session goes on: a command is a command again, and the next mail passes.
    assert!(say("MAIL FROM:<op.a@center.example.jp>\r\n").await.starts_with("250 "));
    assert!(say("RCPT TO:<sv.a@center.example.jp>\r\n").await.starts_with("250 "));
    assert!(say("DATA\r\n").await.starts_with("354 "));
    let message = "From: op.a@center.example.jp\r\nTo: sv.a@center.example.jp\r\nSubject: again\r\n\r\nsecond try\r\n.\r\n";
    let sent = say(message).await;
    assert!(sent.starts_with("250 ") && sent.contains("Sent"), "{sent}");
    assert!(say("QUIT\r\n").await.starts_with("221 "));
    sink.wait_for("second try").await;
}
both_backends!(a_refused_message_leaves_the_session_usable);

/// A mail to `to` from op.a with a text part and the files attached (base64).
fn mail_with_files(to: &str, subject: &str, body: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    use base64::Engine;
    let mut m = format!(
        "From: op.a@center.example.jp\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <files-{}@center.example.jp>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"part\"\r\n\r\n--part\r\n\
         Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n",
        subject.len()
    );
    for (name, bytes) in files {
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        m.push_str(&format!(
            "--part\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n"
        ));
    }
    m.push_str("--part--\r\n");
    m.into_bytes()
}

/// The tokens of the download links in a received mail, in order.
fn link_tokens(text: &str) -> Vec<String> {
    let mut tokens: Vec<String> = text
        .split("/mail-files/")
        .skip(1)
        .map(|rest| {
            rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
        })
        .collect();
    // Each link is written twice (in Japanese, then in English).
    let half = tokens.len() / 2;
    assert_eq!(tokens[..half], tokens[half..], "the same links in both languages: {text}");
    tokens.truncate(half);
    tokens
}

/// With the rules' `attachment_links` on, a mail's attachments leave as one-time download links:
/// the receiving server gets the mail without the files and with a link to each; opening a link
/// never takes a download (mail gateways open links), the page's button does — one per external
/// recipient, two at once cannot both have the last one — and an expired link is refused like
/// an unknown one.
async fn attachments_leave_as_links(backend: Backend) {
    let sink = Sink::start().await;
    let certs = tempfile::tempdir().unwrap();
    let (cert, key, ca_pem) = certificate(certs.path());
    let sink_port = sink.port;
    let s = TestServer::start_with(backend, |c| {
        c.signin_burst = 10_000;
        c.tls = Some((cert.clone(), key.clone()));
        c.public_url = "https://mamori.center.example.jp".into();
        c.mail = Some(mamori_server::config::MailRelay {
            listen: "127.0.0.1:0".parse().unwrap(),
            upstream_url: format!("smtp://127.0.0.1:{sink_port}"),
            hostname: "mamori.center.example.jp".into(),
            bounce_from: "mailer-daemon@center.example.jp".into(),
            max_message_bytes: 1 << 20,
        });
    })
    .await;
    two_teams(&s).await;
    let ctx = Default::default();
    let admin = person(&s, "admin").await;
    let policy = MailPolicy {
        internal_domains: vec!["center.example.jp".into()],
        attachment_links: true,
        link_hours: 48,
        ..MailPolicy::default()
    };
    s.core.set_mail_policy(&admin, policy, &ctx).await.unwrap();
    let op = person(&s, "op.a").await;
    let sv = person(&s, "sv.a").await;
    let password = s.core.new_mail_password(&op, &ctx).await.unwrap();
    let smtp = client(s.mail_port(), &ca_pem, "op.a", &password);
    // The recipient's browser: the test server's certificate is self-signed.
    let web = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();

    // Sends a held mail through the sender's check and the supervisor's approval (an attachment
    // is customer data); returns what the receiving server got.
    let send = async |to: &[&str], subject: &str, files: &[(&str, &[u8])]| -> (String, Vec<u8>) {
        let body = format!("{subject}の資料をお送りします。");
        let message = mail_with_files(&to.join(", "), subject, &body, files);
        let id = held_id(&submit(&smtp, to, &message).await.unwrap());
        s.clock.advance(Duration::from_secs(61));
        let waiting = s.core.confirm_mail(&op, &id, &ctx).await.unwrap();
        let step = s.core.identity.step_up(&sv, &s.next_totp(), "approval", &ctx).await.unwrap();
        let approval = waiting.approval_id.unwrap();
        s.core.approvals.decide(&sv, &approval, true, Some(&step), "", &ctx).await.unwrap();
        s.core.sweep_mail().await.unwrap();
        let text = sink.wait_for(&body).await;
        let raw = sink.raw_messages().into_iter().find(|m| {
            String::from_utf8_lossy(m).contains(&*id) || {
                mail_parser::MessageParser::default()
                    .parse(m)
                    .and_then(|p| p.subject().map(|x| x == subject))
                    .unwrap_or(false)
            }
        });
        (text, raw.expect("the raw message"))
    };

    // 1. One external recipient (and one internal): one download per link.
    let pdf: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 256) as u8).collect();
    let (text, raw) =
        send(&["yamada@partner.example.com", "sv.a@center.example.jp"], "見積書", &[("見積書.pdf", &pdf)])
            .await;
    let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(parsed.attachments().count(), 0, "the file does not leave with the mail");
    assert_eq!(parsed.subject(), Some("見積書"), "the subject is kept");
    let message_id = format!("files-{}@center.example.jp", "見積書".len());
    assert_eq!(parsed.message_id(), Some(message_id.as_str()), "the Message-ID is kept");
    assert!(text.contains("見積書の資料をお送りします。"), "the text is kept: {text}");
    assert!(text.contains("ダウンロード") && text.contains("download links"), "{text}");
    assert!(text.contains("見積書.pdf") && text.contains("JST"), "{text}");
    assert!(text.contains("https://mamori.center.example.jp/mail-files/"), "links on the public URL: {text}");
    let tokens = link_tokens(&text);
    assert_eq!(tokens.len(), 1);
    let link = s.url(&format!("/mail-files/{}", tokens[0]));
    // Opened twice (a gateway, then the recipient): the page, and nothing taken.
    for _ in 0..2 {
        let page = web.get(&link).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("ダウンロード") && html.contains("Download"), "both languages: {html}");
        assert!(
            html.contains("見積書.pdf") && html.contains(&format!("action=\"/mail-files/{}\"", tokens[0])),
            "{html}"
        );
    }
    let got = web.post(&link).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["x-content-type-options"], "nosniff");
    assert_eq!(got.headers()["content-type"], "application/pdf");
    let disposition = got.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(
        disposition.starts_with("attachment;") && disposition.contains("filename*=UTF-8''%E8%A6%8B"),
        "{disposition}"
    );
    assert_eq!(got.bytes().await.unwrap().to_vec(), pdf, "the exact bytes");
    // None left: refused, with the same page as a link that never was.
    let again = web.post(&link).send().await.unwrap();
    assert_eq!(again.status(), 404);
    let used_page = again.text().await.unwrap();
    let unknown = web.post(s.url(&format!("/mail-files/{}", "A".repeat(43)))).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.text().await.unwrap(), used_page, "nothing tells a used link from an unknown one");
    assert!(
        used_page.contains("再送") && used_page.contains("ask the sender"),
        "both languages: {used_page}"
    );
    assert_eq!(web.get(&link).send().await.unwrap().status(), 404);
    for bad in ["x", "%FF%FE", "..%2F..%2Fetc", &"あ".repeat(20)] {
        let r = web.post(s.url(&format!("/mail-files/{bad}"))).send().await.unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }

    // 2. Two external recipients: two downloads per link, and three at once get two.
    let sheet = b"name,phone\nyamada,03\n".to_vec();
    let (text, _) = send(
        &["yamada@partner.example.com", "sato@other.example.com"],
        "一覧",
        &[("一覧.csv", &sheet), ("控え.pdf", b"%PDF-1.4 copy")],
    )
    .await;
    let tokens = link_tokens(&text);
    assert_eq!(tokens.len(), 2);
    let first = s.url(&format!("/mail-files/{}", tokens[0]));
    let (a, b, c) = tokio::join!(web.post(&first).send(), web.post(&first).send(), web.post(&first).send());
    let statuses: Vec<u16> = [a, b, c].into_iter().map(|r| r.unwrap().status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 2, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 404).count(), 1, "{statuses:?}");
    // Past its hours, a link with downloads left is refused too.
    let second = s.url(&format!("/mail-files/{}", tokens[1]));
    assert_eq!(web.get(&second).send().await.unwrap().status(), 200);
    s.clock.advance(Duration::from_secs(48 * 3600 + 60));
    assert_eq!(web.get(&second).send().await.unwrap().status(), 404);
    assert_eq!(web.post(&second).send().await.unwrap().status(), 404);
    // Housekeeping forgets the files that can no longer leave (all three here: two used up,
    // one expired); the refusals stay the same.
    assert_eq!(s.core.forget_mail_files().await.unwrap(), 3);
    assert_eq!(s.core.forget_mail_files().await.unwrap(), 0, "once");
    let digest = mamori_crypto::tokens::digest(&tokens[1]);
    let kept = s.core.store().read().await.unwrap().mail_file_link(&digest).await.unwrap().unwrap();
    assert!(kept.sealed.is_empty() && kept.name == "控え.pdf");
    assert_eq!(web.get(&second).send().await.unwrap().status(), 404);

    // In the log: how many files became links, each download and each refusal — no file name.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let releases = s.audit("mail.release").await;
    let mut links: Vec<_> = releases.iter().filter_map(|e| e.details.get("attachment_links")).collect();
    links.sort();
    assert_eq!(links, ["1", "2"], "{releases:?}");
    let downloads = s.audit("mail.file_download").await;
    let ok = downloads.iter().filter(|e| e.outcome == mamori_audit::Outcome::Success).count();
    assert_eq!(ok, 3, "{downloads:?}");
    let reasons: Vec<&str> =
        downloads.iter().filter_map(|e| e.details.get("reason").map(String::as_str)).collect();
    for reason in ["used_up", "unknown", "expired"] {
        assert!(reasons.contains(&reason), "{reason}: {reasons:?}");
    }
    let log = serde_json::to_string(
        &s.core.store().read().await.unwrap().audit_entries(0, u64::MAX >> 2).await.unwrap(),
    )
    .unwrap();
    for secret in ["見積書", "一覧.csv", &tokens[0], "yamada@"] {
        assert!(!log.contains(secret), "{secret} reached the audit log");
    }
}
both_backends!(attachments_leave_as_links);

/// With the switch off (the default), an attachment leaves with its mail, as written.
async fn attachments_leave_as_written_without_links(backend: Backend) {
    let sink = Sink::start().await;
    let sink_port = sink.port;
    let s = TestServer::start_with(backend, |c| {
        c.mail = Some(mamori_server::config::MailRelay {
            listen: "127.0.0.1:0".parse().unwrap(),
            upstream_url: format!("smtp://127.0.0.1:{sink_port}"),
            hostname: "mamori.center.example.jp".into(),
            bounce_from: "mailer-daemon@center.example.jp".into(),
            max_message_bytes: 1 << 20,
        });
    })
    .await;
    two_teams(&s).await;
    let ctx = Default::default();
    let admin = person(&s, "admin").await;
    let policy = MailPolicy { internal_domains: vec!["center.example.jp".into()], ..MailPolicy::default() };
    s.core.set_mail_policy(&admin, policy, &ctx).await.unwrap();
    let op = person(&s, "op.a").await;
    let sv = person(&s, "sv.a").await;
    let message = mail_with_files(
        "yamada@partner.example.com",
        "資料",
        "資料を添付します。",
        &[("a.pdf", b"%PDF-1.4 a")],
    );
    let submission = mamori_core::outgoing_mail::Submission {
        envelope_from: "op.a@center.example.jp".into(),
        recipients: vec!["yamada@partner.example.com".into()],
        message: message.clone(),
    };
    let mamori_core::outgoing_mail::Submitted::Held { id, .. } =
        s.core.submit_mail(&op, submission, &ctx).await.unwrap()
    else {
        panic!("held")
    };
    s.clock.advance(Duration::from_secs(61));
    let approval = s.core.confirm_mail(&op, &id, &ctx).await.unwrap().approval_id.unwrap();
    let step = s.core.identity.step_up(&sv, &s.next_totp(), "approval", &ctx).await.unwrap();
    s.core.approvals.decide(&sv, &approval, true, Some(&step), "", &ctx).await.unwrap();
    s.core.sweep_mail().await.unwrap();
    sink.wait_for("資料を添付します。").await;
    use mail_parser::MimeHeaders;
    let raw = sink.raw_messages().pop().unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let files: Vec<_> = parsed
        .attachments()
        .map(|a| (a.attachment_name().unwrap().to_owned(), a.contents().to_vec()))
        .collect();
    assert_eq!(files, [("a.pdf".to_owned(), b"%PDF-1.4 a".to_vec())]);
    assert!(!String::from_utf8_lossy(&raw).contains("/mail-files/"));
    assert!(s.audit("mail.release").await.iter().all(|e| !e.details.contains_key("attachment_links")));

    // The security admin turns links on from the rules page; the sender's check page then says
    // the attachments will go as links.
    let b = s.signed_in("admin").await;
    let csrf = b.csrf("/admin/mail-policy").await;
    let form = [
        ("_csrf", csrf.as_str()),
        ("internal_domains", "center.example.jp"),
        ("self_check_delay_secs", "60"),
        ("hold_hours", "24"),
        ("attachment_links", "on"),
        ("link_hours", "24"),
    ];
    assert_eq!(b.post_form("/admin/mail-policy", &form).await.status(), 303);
    let kept = s.core.mail_policy().await.unwrap();
    assert!(kept.attachment_links && kept.link_hours == 24, "{kept:?}");
    let html = b.get("/admin/mail-policy").await.text().await.unwrap();
    assert!(html.contains("id=\"attachment-links\" checked"), "{html}");
    let submission = mamori_core::outgoing_mail::Submission {
        envelope_from: "op.a@center.example.jp".into(),
        recipients: vec!["yamada@partner.example.com".into()],
        message: message.clone(),
    };
    let mamori_core::outgoing_mail::Submitted::Held { id, .. } =
        s.core.submit_mail(&op, submission, &ctx).await.unwrap()
    else {
        panic!("held")
    };
    let html = s.signed_in("op.a").await.get(&format!("/mail/{id}")).await.text().await.unwrap();
    assert!(html.contains("id=\"mail-attachment-links\"") && html.contains("24"), "{html}");
}
both_backends!(attachments_leave_as_written_without_links);
