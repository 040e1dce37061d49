//! The tamper-evident audit log (issue 3; TW-10, ISMS-6, LEAK-14; DESIGN invariants 1 and 7):
//! checkpoints and proofs over the API, verification of the live database and of export
//! bundles against every kind of tampering, and failing closed when the log cannot be written.

use crate::both_backends;
use crate::support::{Backend, ServeProcess, TestServer};
use mamori_audit::bundle::verify_bundle;
use mamori_audit::checkpoint::CheckpointVerifier;
use mamori_audit::merkle::{self, Hash};
use mamori_audit::verify::Mismatch;
use mamori_core::audit_log::VerifyError;
use mamori_domain::{Permission, Role};
use reqwest::Method;
use serde_json::{Value, json};

fn unhex(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// A server with an admin, a token that reads the log, and some logged activity.
async fn busy_server(backend: Backend) -> (TestServer, String) {
    let s = TestServer::start(backend).await;
    let admin = s.user("admin", &[Role::SecurityAdmin]).await;
    let token = s.token(&admin, &[Permission::AuditRead, Permission::UsersManage]).await;
    let api = reqwest::Client::new();
    for i in 0..12 {
        let r = api
            .post(s.url("/api/v1/users"))
            .bearer_auth(&token)
            .json(&json!({"username": format!("op.{i:02}"), "display_name": "Op", "roles": ["operator"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    (s, token)
}

async fn get(s: &TestServer, token: &str, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new().get(s.url(path)).bearer_auth(token).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Extends the tree and signs now (the server's own checkpointer may have just done it) and
/// returns the signed size.
async fn sign_now(s: &TestServer) -> u64 {
    s.core.audit.checkpoint_audit_log().await.unwrap();
    s.core.audit.latest_audit_checkpoint().await.unwrap().expect("a checkpoint").size
}

async fn verify_live(s: &TestServer) -> Result<u64, VerifyError> {
    let key = s.core.audit.audit_signer().verifier();
    s.core.audit.verify_audit_log(&key, &mut |_, _| {}).await.map(|v| v.to_size)
}

/// Checkpoints are signed notes the public key verifies; every entry's inclusion proof and the
/// consistency proof between two checkpoints verify with the RFC 9162 algorithms.
async fn checkpoints_and_proofs(backend: Backend) {
    let (s, token) = busy_server(backend).await;
    let first = sign_now(&s).await;
    let (status, cp) = get(&s, &token, "/api/v1/audit/checkpoint").await;
    assert_eq!(status, 200);
    assert_eq!(cp["size"], first);
    let key = CheckpointVerifier::parse(cp["public_key"].as_str().unwrap()).unwrap();
    let signed = key.verify(cp["note"].as_str().unwrap()).unwrap();
    assert_eq!(signed.size, first);
    assert_eq!(hex::encode(signed.root), cp["root"].as_str().unwrap());

    for index in 0..first {
        let (status, p) = get(&s, &token, &format!("/api/v1/audit/entries/{index}")).await;
        assert_eq!(status, 200, "{p}");
        let entry: mamori_audit::AuditEntry = serde_json::from_value(p["entry"].clone()).unwrap();
        let leaf = mamori_audit::encoding::leaf_hash(&entry);
        assert_eq!(hex::encode(leaf), p["leaf_hash"].as_str().unwrap());
        let proof: Vec<Hash> =
            p["inclusion_proof"].as_array().unwrap().iter().map(|h| unhex(h.as_str().unwrap())).collect();
        assert!(merkle::verify_inclusion(&leaf, index, first, &proof, &signed.root), "entry {index}");
    }
    assert_eq!(get(&s, &token, &format!("/api/v1/audit/entries/{first}")).await.0, 422, "not yet signed");
    assert_eq!(get(&s, &token, "/api/v1/audit/entries/x1").await.0, 404);
    assert_eq!(get(&s, &token, "/api/v1/audit/entries/0?tree_size=-1").await.0, 400);

    // More activity (the proof reads above were themselves logged), a second checkpoint.
    let second = sign_now(&s).await;
    assert!(second > first);
    let (status, c) = get(&s, &token, &format!("/api/v1/audit/consistency?from={first}&to={second}")).await;
    assert_eq!(status, 200, "{c}");
    let new = key.verify(c["to_checkpoint"].as_str().unwrap()).unwrap();
    let proof: Vec<Hash> =
        c["proof"].as_array().unwrap().iter().map(|h| unhex(h.as_str().unwrap())).collect();
    assert!(merkle::verify_consistency(first, second, &signed.root, &new.root, &proof));
    // An older entry proven against the newer tree.
    let (_, p) = get(&s, &token, &format!("/api/v1/audit/entries/3?tree_size={second}")).await;
    let proof: Vec<Hash> =
        p["inclusion_proof"].as_array().unwrap().iter().map(|h| unhex(h.as_str().unwrap())).collect();
    assert!(merkle::verify_inclusion(&unhex(p["leaf_hash"].as_str().unwrap()), 3, second, &proof, &new.root));
    assert_eq!(get(&s, &token, &format!("/api/v1/audit/consistency?from={second}&to={first}")).await.0, 422);
    assert_eq!(
        verify_live(&s).await.unwrap(),
        s.core.store().read().await.unwrap().audit_log_size().await.unwrap()
    );
    s.stop().await;
}
both_backends!(checkpoints_and_proofs);

/// Someone with full access to the database changes one thing at a time; `verify` names it.
async fn live_tampering_is_named(backend: Backend) {
    let (s, _) = busy_server(backend).await;
    sign_now(&s).await;
    let size = verify_live(&s).await.expect("an untouched log verifies");
    assert!(size >= 13);

    let mismatch = |r: Result<u64, VerifyError>| match r {
        Err(VerifyError::Mismatch(m)) => m,
        other => panic!("expected a mismatch, got {other:?}"),
    };

    // The auditor verifies from the console too (issue 14, item 5), and the check is recorded.
    s.user("auditor", &[Role::Auditor]).await;
    let b = s.signed_in("auditor").await;
    let verify_in_console = || async {
        let csrf = b.csrf("/audit").await;
        let r = b.post_form("/audit/verify", &[("_csrf", csrf.as_str())]).await;
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    };
    let page = verify_in_console().await;
    assert!(page.contains("一致しました") && page.contains("id=\"audit-verification\""), "{page}");

    // One byte of one entry (whichever action it holds: start-up writes come first).
    let action =
        s.core.store().read().await.unwrap().audit_entries(5, 6).await.unwrap().pop().unwrap().action;
    let changed = format!("{}X", &action[..action.len() - 1]);
    s.tamper(&format!("UPDATE audit_entries SET action = '{changed}' WHERE idx = 5")).await;
    let m = mismatch(verify_live(&s).await);
    assert_eq!(m, Mismatch::EntryChanged { index: 5 });
    assert!(m.to_string().contains("entry 5"), "{m}");
    let page = verify_in_console().await;
    assert!(page.contains("一致しません") && page.contains("entry 5"), "{page}");
    let checks = s.audit("audit.verify").await;
    assert_eq!(checks.len(), 2, "each check is recorded");
    assert!(checks.iter().any(|e| e.outcome == mamori_audit::Outcome::Failure && e.details["mismatch"].contains("entry 5")));
    s.tamper(&format!("UPDATE audit_entries SET action = '{action}' WHERE idx = 5")).await;
    verify_live(&s).await.expect("restored");

    // The recorded leaf hash of one entry.
    s.tamper("UPDATE audit_tree SET hash = (SELECT hash FROM audit_tree WHERE level = 0 AND idx = 8) WHERE level = 0 AND idx = 7").await;
    assert_eq!(mismatch(verify_live(&s).await), Mismatch::EntryChanged { index: 7 });
    s.tamper("DELETE FROM audit_tree WHERE level = 0 AND idx = 7").await;
    assert_eq!(mismatch(verify_live(&s).await), Mismatch::EntryChanged { index: 7 });
    let leaf7 = {
        let e = s.core.store().read().await.unwrap().audit_entries(7, 8).await.unwrap().pop().unwrap();
        hex::encode(mamori_audit::encoding::leaf_hash(&e))
    };
    let restore = match backend {
        Backend::Sqlite => format!("INSERT INTO audit_tree (level, idx, hash) VALUES (0, 7, X'{leaf7}')"),
        Backend::Postgres => {
            format!("INSERT INTO audit_tree (level, idx, hash) VALUES (0, 7, '\\x{leaf7}'::bytea)")
        }
    };
    s.tamper(&restore).await;
    verify_live(&s).await.expect("restored");

    // An inner node of the tree.
    s.tamper("UPDATE audit_tree SET hash = (SELECT hash FROM audit_tree WHERE level = 0 AND idx = 0) WHERE level = 2 AND idx = 1").await;
    assert_eq!(mismatch(verify_live(&s).await), Mismatch::NodeChanged { level: 2, index: 1, first_entry: 4 });

    s.stop().await;

    // A checkpoint's stored root, and its signed note.
    let (s, _) = busy_server(backend).await;
    sign_now(&s).await;
    s.tamper("UPDATE audit_checkpoints SET root = (SELECT hash FROM audit_tree WHERE level = 0 AND idx = 0)")
        .await;
    assert!(mismatch(verify_live(&s).await).to_string().contains("was changed"));
    s.stop().await;

    let (s, _) = busy_server(backend).await;
    let size = sign_now(&s).await;
    // The signed note's tree size line, one more.
    s.tamper(&format!("UPDATE audit_checkpoints SET note = REPLACE(note, '\n{size}\n', '\n{}\n')", size + 1))
        .await;
    assert!(mismatch(verify_live(&s).await).to_string().contains("does not verify"));
    s.stop().await;

    // An entry removed from the middle, and the log cut short.
    let (s, _) = busy_server(backend).await;
    let size = sign_now(&s).await;
    s.tamper("DELETE FROM audit_entries WHERE idx = 4").await;
    assert_eq!(mismatch(verify_live(&s).await), Mismatch::OutOfOrder { expected: 4, found: 5 });
    s.tamper(&format!("DELETE FROM audit_entries WHERE idx >= {}", size - 2)).await;
    s.tamper("DELETE FROM audit_tree WHERE level = 0 AND idx = 4").await;
    let m = mismatch(verify_live(&s).await);
    assert!(matches!(m, Mismatch::OutOfOrder { expected: 4, .. }), "{m}");
    s.stop().await;

    let (s, _) = busy_server(backend).await;
    let size = sign_now(&s).await;
    s.tamper(&format!("DELETE FROM audit_entries WHERE idx >= {}", size - 2)).await;
    assert_eq!(mismatch(verify_live(&s).await), Mismatch::Truncated { expected: size, found: size - 2 });
    s.stop().await;
}
both_backends!(live_tampering_is_named);

async fn bundle_bytes(s: &TestServer, from: u64, to: Option<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    s.core.audit.export_audit_bundle(from, to, &mut out, &mut |_, _| {}).await.unwrap();
    out
}

/// Every single-byte change to a bundle fails verification; removed, repeated, reordered and
/// cut-off entries are named; consecutive bundles chain through their checkpoints.
async fn bundles_verify_offline(backend: Backend) {
    let (s, token) = busy_server(backend).await;
    let first = sign_now(&s).await;
    let key = CheckpointVerifier::parse(&s.core.audit.audit_public_key()).unwrap();
    let bundle = bundle_bytes(&s, 0, None).await;
    let verified = verify_bundle(&bundle[..], &key, None).unwrap();
    assert_eq!((verified.from_size, verified.to_size), (0, first));

    for flip in [0x01u8, 0x20] {
        for i in 0..bundle.len() {
            if bundle[i] == b'\n' {
                continue;
            }
            let mut bad = bundle.clone();
            bad[i] ^= flip;
            assert!(verify_bundle(&bad[..], &key, None).is_err(), "byte {i} ^ {flip:#x} still verifies");
        }
    }

    let lines: Vec<&[u8]> = bundle.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    let join = |ls: &[&[u8]]| ls.iter().flat_map(|l| l.iter().copied().chain([b'\n'])).collect::<Vec<u8>>();
    let fail = |ls: Vec<&[u8]>| verify_bundle(&join(&ls)[..], &key, None).unwrap_err();
    // Line 0 is the header; line 1 + k holds entry k.
    let mut removed = lines.clone();
    removed.remove(1 + 3);
    assert_eq!(fail(removed), Mismatch::OutOfOrder { expected: 3, found: 4 });
    let mut swapped = lines.clone();
    swapped.swap(1 + 5, 1 + 6);
    assert_eq!(fail(swapped), Mismatch::OutOfOrder { expected: 5, found: 6 });
    let mut repeated = lines.clone();
    repeated.insert(1 + 2, lines[1 + 1]);
    assert_eq!(fail(repeated), Mismatch::OutOfOrder { expected: 2, found: 1 });
    let mut cut = lines.clone();
    cut.truncate(lines.len() - 2);
    assert_eq!(fail(cut), Mismatch::Truncated { expected: first, found: first - 2 });
    // An entry rewritten together with its recorded hash still fails, at the checkpoint.
    let (_, mut entry) =
        mamori_audit::bundle::parse_entry_line(std::str::from_utf8(lines[1 + 4]).unwrap()).unwrap();
    entry.actor = "user:someone-else".into();
    let forged_line = mamori_audit::bundle::entry_line(&entry, &mamori_audit::encoding::leaf_hash(&entry));
    let mut rewritten = lines.clone();
    rewritten[1 + 4] = forged_line.as_bytes();
    let m = fail(rewritten);
    // Found at the first signed checkpoint that covers it (the checkpointer signs as the log grows).
    assert!(matches!(m, Mismatch::RootDiffers { size, .. } if size > 4 && size <= first), "{m}");
    // The entry changed, its recorded hash not: named.
    let stale_line =
        mamori_audit::bundle::entry_line(&entry, &unhex(&String::from_utf8_lossy(&lines[1 + 4][..64])));
    let mut changed = lines.clone();
    changed[1 + 4] = stale_line.as_bytes();
    assert_eq!(fail(changed), Mismatch::EntryChanged { index: 4 });

    // The next export continues from the first one's checkpoint.
    assert_eq!(get(&s, &token, "/api/v1/audit?limit=1").await.0, 200, "more entries");
    let second = sign_now(&s).await;
    assert!(second > first);
    let next = bundle_bytes(&s, first, Some(second)).await;
    let header: Value = serde_json::from_slice(next.split(|b| *b == b'\n').next().unwrap()).unwrap();
    let kept: Value = serde_json::from_slice(lines[0]).unwrap();
    let kept = kept["checkpoint"].as_str().unwrap();
    let v = verify_bundle(&next[..], &key, Some(kept)).unwrap();
    assert_eq!((v.from_size, v.to_size), (first, second));
    assert_eq!(header["previous_checkpoint"].as_str().unwrap(), kept);
    // Against a checkpoint it does not continue from, or another log's key, it fails.
    let other = bundle_bytes(&s, 2, Some(second)).await;
    assert!(
        verify_bundle(&other[..], &key, Some(kept))
            .unwrap_err()
            .to_string()
            .contains("continues from size 2")
    );
    let (stranger, _) = busy_server(backend).await;
    let stranger_key = CheckpointVerifier::parse(&stranger.core.audit.audit_public_key()).unwrap();
    assert!(verify_bundle(&bundle[..], &stranger_key, None).is_err());
    stranger.stop().await;
    s.stop().await;
}
both_backends!(bundles_verify_offline);

/// If the audit entry cannot be written, the action fails and nothing of it remains
/// (DESIGN invariant 1): not the change, not the data a read would have returned.
async fn fails_closed(backend: Backend) {
    let (s, token) = busy_server(backend).await;
    let before =
        s.core.identity.list_users(&crate::support::inspector(), &Default::default()).await.unwrap().len();
    s.break_audit_log().await;
    let api = reqwest::Client::new();
    let r = api
        .post(s.url("/api/v1/users"))
        .bearer_auth(&token)
        .json(&json!({"username": "not.logged", "display_name": "X", "roles": ["operator"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "the change fails with its audit entry");
    assert_eq!(
        s.core.identity.list_users(&crate::support::inspector(), &Default::default()).await.unwrap().len(),
        before,
        "and is not made"
    );
    let r = api.get(s.url("/api/v1/audit?limit=5")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 503, "a read whose access entry cannot be written returns nothing");
    let body = r.text().await.unwrap();
    assert!(!body.contains("user.invite"), "no entries leak: {body}");
    let b = s.browser();
    let r = b.sign_in("admin", crate::support::PASSWORD).await;
    assert_ne!(
        r.headers().get("location").map(|l| l.to_str().unwrap()),
        Some("/signin/totp"),
        "no sign-in unlogged"
    );
    s.stop().await;
}
both_backends!(fails_closed);

/// The console's audit page shows the public key and the latest checkpoint to auditors.
async fn console_shows_the_key(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.user("auditor", &[Role::Auditor]).await;
    sign_now(&s).await;
    let b = s.signed_in("auditor").await;
    let html = b.get("/audit").await.text().await.unwrap();
    assert!(html.contains(&s.core.audit.audit_public_key()), "public key shown");
    assert!(html.contains("id=\"audit-checkpoint\""), "checkpoint shown");
    let r = b.api(Method::GET, "/api/v1/audit/checkpoint", None).await;
    assert_eq!(r.status(), 200);
    s.stop().await;
}
both_backends!(console_shows_the_key);

/// Two `mamori serve` processes on one PostgreSQL database, both under load at once, make one
/// log: no entry lost, repeated or out of order, and it verifies (issue 3, item 9).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_one_log() {
    if !crate::support::postgres_available().await {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = mamori_server::config::ServerConfig::defaults(dir.path().join("data"));
    config.database_url = Some(crate::support::fresh_pg_url().await);
    let token = crate::support::admin_token(&config, &[Permission::AuditRead, Permission::UsersManage]).await;
    let a = ServeProcess::start(&config).await;
    let b = ServeProcess::start(&config).await;
    let core = open_core(&config).await;
    let before = core.store().read().await.unwrap().audit_log_size().await.unwrap();
    let api = reqwest::Client::new();
    let mut tasks = Vec::new();
    for (n, base) in [a.base.clone(), b.base.clone()].into_iter().enumerate() {
        for w in 0..8 {
            let (api, base, token) = (api.clone(), base.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..20 {
                    // A change (its own transaction) and a read (group commit), alternately.
                    let r = if i % 2 == 0 {
                        api.post(format!("{base}/api/v1/users"))
                            .bearer_auth(&token)
                            .json(&json!({"username": format!("r{n}.w{w}.{i}"), "display_name": "R", "roles": ["operator"]}))
                            .send()
                            .await
                            .unwrap()
                    } else {
                        api.get(format!("{base}/api/v1/audit?limit=1")).bearer_auth(&token).send().await.unwrap()
                    };
                    assert!(r.status().is_success(), "{}", r.status());
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Both processes' checkpointers ran meanwhile; each signs once more as it stops.
    a.stop();
    b.stop();
    core.audit.checkpoint_audit_log().await.unwrap();
    let size = core.store().read().await.unwrap().audit_log_size().await.unwrap();
    assert_eq!(size - before, 2 * 8 * 20, "every acknowledged request has exactly one entry");
    let entries = core.store().read().await.unwrap().audit_entries(0, size).await.unwrap();
    assert!(entries.iter().enumerate().all(|(i, e)| e.index == i as u64), "no gap, no repeat");
    let key = core.audit.audit_signer().verifier();
    let verified = core.audit.verify_audit_log(&key, &mut |_, _| {}).await.unwrap();
    assert_eq!(verified.to_size, size);
    assert!(verified.checkpoints > 1, "the checkpoints both processes signed all verify");
}

async fn open_core(config: &mamori_server::config::ServerConfig) -> mamori_core::Core {
    mamori_server::serve::open_core(config, std::sync::Arc::new(mamori_domain::SystemClock)).await.unwrap()
}

/// An entry whose action was acknowledged survives `kill -9` of the server (DESIGN invariant 7).
async fn survives_kill_9(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = mamori_server::config::ServerConfig::defaults(dir.path().join("data"));
    if backend == Backend::Postgres {
        config.database_url = Some(crate::support::fresh_pg_url().await);
    }
    let token = crate::support::admin_token(&config, &[Permission::UsersManage]).await;
    let server = ServeProcess::start(&config).await;
    let (api, base) = (reqwest::Client::new(), server.base.clone());
    // Writers keep changing things; the server is killed in the middle of it.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (api, base, token, acknowledged) =
            (api.clone(), base.clone(), token.clone(), acknowledged.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let name = format!("k{w}.{i}");
                let r = api
                    .post(format!("{base}/api/v1/users"))
                    .bearer_auth(&token)
                    .json(&json!({"username": name, "display_name": "K", "roles": ["operator"]}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 201 => acknowledged.lock().unwrap().push(name),
                    _ => break,
                }
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    server.kill();
    for t in tasks {
        t.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() > 10, "the server was under load when killed ({})", acknowledged.len());

    let core = open_core(&config).await;
    let users = core.identity.list_users(&crate::support::inspector(), &Default::default()).await.unwrap();
    let size = core.store().read().await.unwrap().audit_log_size().await.unwrap();
    let entries = core.store().read().await.unwrap().audit_entries(0, size).await.unwrap();
    for name in &acknowledged {
        let user = users.iter().find(|u| &u.username == name).unwrap_or_else(|| panic!("{name} lost"));
        let object = format!("user:{}", user.id);
        assert!(
            entries.iter().any(|e| e.action == "user.invite" && e.object.as_deref() == Some(object.as_str())),
            "the audit entry of {name} was lost"
        );
    }
    let key = core.audit.audit_signer().verifier();
    core.audit.verify_audit_log(&key, &mut |_, _| {}).await.expect("the log verifies after the crash");
    core.audit.checkpoint_audit_log().await.unwrap();
    assert_eq!(core.audit.verify_audit_log(&key, &mut |_, _| {}).await.unwrap().to_size, size);
}
both_backends!(survives_kill_9);

/// A syslog receiver the test controls: octet-counted RFC 5424 over TCP, or TLS when given a
/// certificate and key; it can be stopped and started again on the same port.
struct Receiver {
    addr: std::net::SocketAddr,
    messages: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    async fn start(tls: Option<std::sync::Arc<rustls::ServerConfig>>) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut r = Receiver { addr, messages: Default::default(), tls, task: None };
        r.serve(listener);
        r
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let (messages, tls) = (self.messages.clone(), self.tls.clone());
        self.task = Some(tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let (messages, tls) = (messages.clone(), tls.clone());
                connections.spawn(async move {
                    match tls {
                        Some(config) => {
                            let Ok(stream) = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await else {
                                return;
                            };
                            read_frames(stream, messages).await
                        }
                        None => read_frames(tcp, messages).await,
                    }
                });
            }
        }));
    }

    fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    async fn restart(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    /// The entry indexes received so far, each once.
    fn indexes(&self) -> std::collections::BTreeSet<u64> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .map(|m| {
                let json = &m[m.find("] {").unwrap() + 2..];
                serde_json::from_str::<Value>(json).unwrap()["index"].as_u64().unwrap()
            })
            .collect()
    }
}

async fn read_frames(
    mut stream: impl tokio::io::AsyncRead + Unpin,
    messages: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let Ok(n) = stream.read(&mut chunk).await else { return };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        // RFC 6587 octet counting: "<length> <message>".
        while let Some(space) = buf.iter().position(|b| *b == b' ') {
            let len: usize = std::str::from_utf8(&buf[..space]).unwrap().parse().unwrap();
            if buf.len() < space + 1 + len {
                break;
            }
            let message = String::from_utf8(buf[space + 1..space + 1 + len].to_vec()).unwrap();
            assert!(
                message.starts_with('<') && message.contains(" mamori - audit [mamori@32473 index=\""),
                "{message}"
            );
            messages.lock().unwrap().push(message);
            buf.drain(..space + 1 + len);
        }
    }
}

async fn wait_for_all(what: &str, size: u64, received: impl Fn() -> std::collections::BTreeSet<u64>) {
    for _ in 0..200 {
        if received().len() as u64 >= size {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let got = received();
    let missing: Vec<u64> = (0..size).filter(|i| !got.contains(i)).collect();
    assert!(missing.is_empty(), "{what}: entries {missing:?} never arrived");
}

async fn log_size(s: &TestServer) -> u64 {
    s.core.store().read().await.unwrap().audit_log_size().await.unwrap()
}

async fn invite(s: &TestServer, token: &str, name: &str) {
    let r = reqwest::Client::new()
        .post(s.url("/api/v1/users"))
        .bearer_auth(token)
        .json(&json!({"username": name, "display_name": "F", "roles": ["operator"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

fn jsonl_indexes(path: &std::path::Path) -> std::collections::BTreeSet<u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["index"].as_u64().unwrap())
        .collect()
}

/// A server forwarding its log to `target` (and to the JSON Lines file `jsonl`), with an admin
/// and a token of theirs that invites users (each invitation: an entry to forward).
async fn forwarding_server(
    backend: Backend,
    target: mamori_server::config::SyslogTarget,
    jsonl: Option<std::path::PathBuf>,
) -> (TestServer, mamori_store::UserRecord, String) {
    let s = TestServer::start_with(backend, move |c| {
        c.forwarding.syslog = Some(target);
        c.forwarding.jsonl = jsonl;
    })
    .await;
    let admin = s.user("admin", &[Role::SecurityAdmin]).await;
    let token = s.token(&admin, &[Permission::UsersManage]).await;
    (s, admin, token)
}

/// Forwarding to syslog and to a JSON Lines file survives a receiver restart and a server
/// restart with nothing lost or skipped (issue 3, item 8).
async fn forwarding_survives_restarts(backend: Backend) {
    let mut receiver = Receiver::start(None).await;
    let jsonl = tempfile::tempdir().unwrap();
    let file = jsonl.path().join("audit.jsonl");
    let (addr, path) = (receiver.addr.to_string(), file.clone());
    let target =
        mamori_server::config::SyslogTarget { address: addr, tls: None, relp: false, client_identity: None };
    let (s, admin, token) = forwarding_server(backend, target, Some(path)).await;
    for i in 0..5 {
        invite(&s, &token, &format!("a.{i}")).await;
    }
    wait_for_all("syslog", log_size(&s).await, || receiver.indexes()).await;

    // The receiver goes away; entries keep coming; it comes back.
    receiver.stop();
    for i in 0..5 {
        invite(&s, &token, &format!("b.{i}")).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    receiver.restart().await;
    wait_for_all("syslog after a receiver restart", log_size(&s).await, || receiver.indexes()).await;

    // The server restarts (with entries it had not sent yet, made while it was down).
    let s = s.restart().await;
    let token = s.token(&admin, &[Permission::UsersManage]).await;
    for i in 0..5 {
        invite(&s, &token, &format!("c.{i}")).await;
    }
    let size = log_size(&s).await;
    wait_for_all("syslog after a server restart", size, || receiver.indexes()).await;
    wait_for_all("the JSON Lines file", size, || jsonl_indexes(&file)).await;
    s.stop().await;
}
both_backends!(forwarding_survives_restarts);

/// Syslog over TLS (RFC 5425) to a receiver whose certificate the configured CA file vouches for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_over_tls() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, cert.cert.pem()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    let receiver = Receiver::start(Some(std::sync::Arc::new(config))).await;
    let address = format!("localhost:{}", receiver.addr.port());
    let target = mamori_server::config::SyslogTarget {
        address,
        tls: Some((ca, "localhost".into())),
        relp: false,
        client_identity: None,
    };
    let (s, _, token) = forwarding_server(Backend::Sqlite, target, None).await;
    invite(&s, &token, "t.1").await;
    wait_for_all("syslog over TLS", log_size(&s).await, || receiver.indexes()).await;
    s.stop().await;
}

/// A real rsyslog (Debian's `rsyslogd` with `imrelp`) taking RELP on a loopback port and writing
/// each message it acknowledges to a file. Queues are direct, so an acknowledged message is in
/// the file even if the process is then killed.
struct Rsyslog {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<std::process::Child>,
}

impl Rsyslog {
    /// `None` when rsyslog is not installed (under CI it must be: `scripts/install-test-deps.sh`).
    /// With `tls` (its certificate and key, and the CA file it trusts clients by), the input is
    /// RELP over TLS and a client must show a certificate that CA file vouches for.
    async fn start(tls: Option<(&std::path::Path, &std::path::Path, &std::path::Path)>) -> Option<Rsyslog> {
        if std::process::Command::new("rsyslogd").arg("-v").output().is_err() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "rsyslogd is required under CI=true; run scripts/install-test-deps.sh"
            );
            eprintln!("SKIPPED: rsyslogd is not installed (scripts/install-test-deps.sh installs it)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let d = dir.path().display();
        let tls = tls.map_or(String::new(), |(cert, key, clients)| {
            format!(
                " tls=\"on\" tls.mycert=\"{}\" tls.myprivkey=\"{}\" tls.cacert=\"{}\" tls.authmode=\"certvalid\"",
                cert.display(),
                key.display(),
                clients.display()
            )
        });
        std::fs::write(
            dir.path().join("rsyslog.conf"),
            format!(
                "global(workDirectory=\"{d}\")\n\
                 module(load=\"imrelp\")\n\
                 main_queue(queue.type=\"Direct\")\n\
                 input(type=\"imrelp\" address=\"127.0.0.1\" port=\"{port}\"{tls})\n\
                 template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n\
                 action(type=\"omfile\" file=\"{d}/received.log\" template=\"raw\" flushOnTXEnd=\"on\")\n"
            ),
        )
        .unwrap();
        let mut r = Rsyslog { dir, port, child: None };
        r.run().await;
        Some(r)
    }

    async fn run(&mut self) {
        let d = self.dir.path();
        let child = std::process::Command::new("rsyslogd")
            .args(["-n", "-f"])
            .arg(d.join("rsyslog.conf"))
            .arg("-i")
            .arg(d.join("rsyslogd.pid"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("rsyslogd did not listen on port {}", self.port);
    }

    /// SIGSTOP: it hangs, its connections stay open, like a receiver whose machine froze.
    fn freeze(&self) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(std::process::Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    }

    /// `kill -9`: whatever it had not acknowledged is lost with it.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        let _ = std::fs::remove_file(self.dir.path().join("rsyslogd.pid"));
    }

    fn messages(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("received.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn indexes(&self) -> std::collections::BTreeSet<u64> {
        let marker = format!("[mamori@{} index=\"", mamori_audit::siem::ENTERPRISE_NUMBER);
        self.messages()
            .iter()
            .filter_map(|m| m.split_once(&marker)?.1.split('"').next()?.parse().ok())
            .collect()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.kill();
    }
}

/// RELP to a real rsyslog: every entry is acknowledged before the cursor moves, so killing the
/// receiver with `kill -9` while entries stream loses nothing — nor does a receiver that hangs
/// for longer than plain syslog's two-second confirmation and then dies (issue 3, item 8).
async fn forwarding_over_relp(backend: Backend) {
    let Some(mut rsyslog) = Rsyslog::start(None).await else { return };
    let address = format!("127.0.0.1:{}", rsyslog.port);
    let target =
        mamori_server::config::SyslogTarget { address, tls: None, relp: true, client_identity: None };
    let (s, _, token) = forwarding_server(backend, target, None).await;
    invite(&s, &token, "relp.first").await;
    wait_for_all("RELP", log_size(&s).await, || rsyslog.indexes()).await;
    let first = rsyslog.messages().into_iter().next().unwrap();
    assert!(first.starts_with('<') && first.contains(">1 ") && first.contains(" mamori - audit "), "{first}");

    // Entries stream in while the receiver is killed and comes back.
    let writer = {
        let (base, token) = (s.base.clone(), token.clone());
        tokio::spawn(async move {
            let api = reqwest::Client::new();
            for i in 0..60 {
                let r = api
                    .post(format!("{base}/api/v1/users"))
                    .bearer_auth(&token)
                    .json(
                        &json!({"username": format!("relp.{i}"), "display_name": "R", "roles": ["operator"]}),
                    )
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    rsyslog.kill();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    rsyslog.run().await;
    writer.await.unwrap();
    wait_for_all("RELP after the receiver was killed", log_size(&s).await, || rsyslog.indexes()).await;

    // The receiver hangs with the connection open; entries are sent into it; it dies later than
    // plain syslog would have counted them as arrived.
    rsyslog.freeze();
    for i in 0..10 {
        invite(&s, &token, &format!("frozen.{i}")).await;
    }
    tokio::time::sleep(mamori_server::forwarding::SYSLOG_CONFIRM + std::time::Duration::from_millis(1000))
        .await;
    rsyslog.kill();
    rsyslog.run().await;
    wait_for_all("RELP after the receiver hung and died", log_size(&s).await, || rsyslog.indexes()).await;
    s.stop().await;
}
both_backends!(forwarding_over_relp);

/// RELP over TLS to rsyslog, which asks for a client certificate: Mamori checks the receiver's
/// certificate against `syslog_ca` and shows its own (`syslog_client_cert`, `syslog_client_key`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_over_relp_with_tls() {
    let certs = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| {
        let path = certs.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let server = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let client = rcgen::generate_simple_self_signed(vec!["mamori-forwarder".into()]).unwrap();
    let (server_cert, server_key) =
        (write("server.pem", server.cert.pem()), write("server.key", server.signing_key.serialize_pem()));
    let (client_cert, client_key) =
        (write("client.pem", client.cert.pem()), write("client.key", client.signing_key.serialize_pem()));
    let trusted_clients = write("clients.pem", format!("{}{}", server.cert.pem(), client.cert.pem()));
    let Some(rsyslog) = Rsyslog::start(Some((&server_cert, &server_key, &trusted_clients))).await else {
        return;
    };
    let address = format!("localhost:{}", rsyslog.port);
    let target = mamori_server::config::SyslogTarget {
        address,
        tls: Some((server_cert, "localhost".into())),
        relp: true,
        client_identity: Some((client_cert, client_key)),
    };
    let (s, _, token) = forwarding_server(Backend::Sqlite, target, None).await;
    invite(&s, &token, "tls.1").await;
    wait_for_all("RELP over TLS", log_size(&s).await, || rsyslog.indexes()).await;
    s.stop().await;
}

/// A RELP receiver that refuses (`500`) the first message of its first session and takes all
/// later ones: the refused batch is not counted as delivered, and arrives over the next session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relp_refusal_is_resent() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let taken = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let sessions = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let receiver = {
        let (taken, sessions) = (taken.clone(), sessions.clone());
        tokio::spawn(async move {
            loop {
                let (mut conn, _) = listener.accept().await.unwrap();
                let first_session = sessions.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                'session: while let Ok(n) = conn.read(&mut chunk).await {
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some((frame, used)) = mamori_audit::relp::parse(&buf).unwrap() {
                        let answer: &[u8] = match (frame.command, first_session) {
                            ("open", _) => b"200 OK\nrelp_version=0\ncommands=syslog",
                            ("syslog", true) => b"500 queue full",
                            ("syslog", false) => {
                                let text = String::from_utf8_lossy(frame.data);
                                let index = text.split_once("index=\"").unwrap().1.split('"').next().unwrap();
                                taken.lock().unwrap().insert(index.parse::<u64>().unwrap());
                                b"200 OK"
                            }
                            _ => b"500 unexpected",
                        };
                        let reply = mamori_audit::relp::frame(frame.txnr, "rsp", answer);
                        buf.drain(..used);
                        if conn.write_all(&reply).await.is_err() {
                            break 'session;
                        }
                    }
                }
            }
        })
    };
    let target =
        mamori_server::config::SyslogTarget { address, tls: None, relp: true, client_identity: None };
    let (s, _, token) = forwarding_server(Backend::Sqlite, target, None).await;
    invite(&s, &token, "refused.1").await;
    wait_for_all("RELP after a refusal", log_size(&s).await, || taken.lock().unwrap().clone()).await;
    assert!(sessions.load(std::sync::atomic::Ordering::SeqCst) >= 2, "the refusal ended the first session");
    s.stop().await;
    receiver.abort();
}

/// Auditors search by actor, action, object, outcome and time, page back, and export a search
/// as CSV or JSON Lines; the export is itself recorded (issue 3, item 7).
async fn search_and_export(backend: Backend) {
    let (s, token) = busy_server(backend).await;
    let (status, page) = get(&s, &token, "/api/v1/audit?action=user.invite&limit=5").await;
    assert_eq!(status, 200);
    assert_eq!(page["entries"].as_array().unwrap().len(), 5);
    let before = page["next_before"].as_u64().unwrap();
    let (_, older) =
        get(&s, &token, &format!("/api/v1/audit?action=user.invite&limit=100&before={before}")).await;
    assert_eq!(older["entries"].as_array().unwrap().len(), 7, "the rest, older than the first page");

    let api = reqwest::Client::new();
    let export = |q: &str| api.get(s.url(&format!("/api/v1/audit/export?{q}"))).bearer_auth(&token).send();
    let r = export("format=csv&action=user.invite").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "index,time_jst,category,action,actor,actor_name,object,object_name,outcome,source_ip,request_id,details"
    );
    // Japan time with its offset, and the actor by name (issue 14, item 5).
    assert!(lines[1].contains("+09:00,") && lines[1].contains(" (admin)"), "{}", lines[1]);
    assert_eq!(lines.len(), 1 + 12);
    assert!(lines[1..].iter().all(|l| l.contains(",user.invite,")));

    let r = export("format=jsonl&outcome=success&action=user.invite").await.unwrap();
    let body = r.text().await.unwrap();
    let rows: Vec<Value> = body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 12);
    let now = s.core.now().0;
    let r = export(&format!("format=jsonl&action=user.invite&from={}", now + 60_000)).await.unwrap();
    assert_eq!(r.text().await.unwrap(), "", "nothing after the time range starts");

    let r = export("format=xml").await.unwrap();
    assert_eq!(r.status(), 400);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["field"], "format");
    let exports = s.audit("audit.export").await;
    assert_eq!(exports.len(), 3, "every export is recorded, the refused one not");
    assert!(exports.iter().any(|e| e.details.get("entries").map(String::as_str) == Some("12")
        && e.details.get("filter_action").map(String::as_str) == Some("user.invite")));

    // The console: filters, paging links and export links.
    s.user("auditor", &[Role::Auditor]).await;
    let b = s.signed_in("auditor").await;
    let today = time::OffsetDateTime::now_utc().to_offset(time::UtcOffset::from_hms(9, 0, 0).unwrap()).date();
    let html =
        b.get(&format!("/audit?action=user.invite&from={today}&to={today}")).await.text().await.unwrap();
    assert_eq!(html.matches("<code>user.invite</code>").count(), 12);
    let link = html.find("id=\"audit-export-csv\"").map(|i| &html[i..i + 160]).unwrap_or_default();
    let link = link.replace("&#38;", "&").replace("&amp;", "&");
    assert!(link.contains("format=csv&action=user.invite&from="), "{link}");
    let yesterday = today.previous_day().unwrap();
    let html = b.get(&format!("/audit?action=user.invite&to={yesterday}")).await.text().await.unwrap();
    assert_eq!(html.matches("<code>user.invite</code>").count(), 0, "nothing before today");

    // Read like Japanese (issue 14, item 5): a person found by user name, an action by a word of
    // its label in either language, labels for categories and outcomes, people shown by name.
    for query in ["actor=admin&action=招待", "actor=ADM&action=invited", "actor=admin&action=user.invite"] {
        let html = b.get(&format!("/audit?{query}")).await.text().await.unwrap();
        assert_eq!(html.matches("<code>user.invite</code>").count(), 12, "{query}");
        assert!(
            html.contains("ユーザー招待") && html.contains(">成功<") && html.contains(">操作<"),
            "{query}"
        );
        assert!(
            html.contains("(admin)") && !html.contains("<td class=\"wrap\">user:"),
            "{query}: names, not ids"
        );
    }
    let html = b.get("/audit?actor=nobody.here").await.text().await.unwrap();
    assert!(html.contains("条件に合う記録はありません"), "an empty result says so");
    let html = b.get("/audit?action=user.invite&size=50").await.text().await.unwrap();
    assert_eq!(html.matches("<code>user.invite</code>").count(), 12);
    s.stop().await;
}
both_backends!(search_and_export);

/// Entries past the retention period move to archive bundles and out of the database; the
/// archives chain, the live log still verifies, later entries' proofs still verify, and an
/// archived entry is simply not there (issue 3, item 11; PCI DSS 10.5.1).
async fn retention_archives_and_prunes(backend: Backend) {
    let (s, _) = busy_server(backend).await;
    let key = CheckpointVerifier::parse(&s.core.audit.audit_public_key()).unwrap();
    let year = std::time::Duration::from_secs(365 * 86_400);
    s.clock.advance(year + std::time::Duration::from_secs(86_400));
    invite(&s, &admin_token(&s).await, "recent.1").await;
    sign_now(&s).await;

    let cutoff = s.core.now().minus(year);
    let (from, to) = s.core.audit.audit_archive_range(cutoff).await.unwrap().expect("old entries to archive");
    assert_eq!(from, 0);
    let mut first = Vec::new();
    let header = s.core.audit.export_audit_bundle(from, Some(to), &mut first, &mut |_, _| {}).await.unwrap();
    assert_eq!(s.core.audit.prune_audit_log(to, &Default::default()).await.unwrap(), to);
    assert!(verify_bundle(&first[..], &key, None).is_ok(), "the archive verifies offline");
    assert_eq!(s.core.audit.audit_archive_range(cutoff).await.unwrap(), None, "nothing older is left");
    assert_eq!(s.core.store().read().await.unwrap().audit_entries(0, to).await.unwrap().len(), 0, "pruned");

    sign_now(&s).await;
    let size = verify_live(&s).await.expect("the pruned log still verifies");
    let (status, _) = get(&s, &admin_token(&s).await, &format!("/api/v1/audit/entries/{}", to - 1)).await;
    assert_eq!(status, 404, "an archived entry is not in the database");
    let (status, p) = get(&s, &admin_token(&s).await, &format!("/api/v1/audit/entries/{to}")).await;
    assert_eq!(status, 200, "{p}");
    let proof: Vec<Hash> =
        p["inclusion_proof"].as_array().unwrap().iter().map(|h| unhex(h.as_str().unwrap())).collect();
    let signed = key.verify(p["checkpoint"].as_str().unwrap()).unwrap();
    assert!(merkle::verify_inclusion(
        &unhex(p["leaf_hash"].as_str().unwrap()),
        to,
        signed.size,
        &proof,
        &signed.root
    ));

    // Nobody deletes above the floor, and the floor does not go down.
    let before = log_size(&s).await;
    assert!(
        s.core.store().begin().await.unwrap().prune_audit(to - 1).await.is_ok(),
        "a lower floor changes nothing"
    );
    assert_eq!(s.core.store().read().await.unwrap().audit_pruned_below().await.unwrap(), to);
    assert_eq!(log_size(&s).await, before);

    // A year later the next archive continues from the first one's checkpoint.
    s.clock.advance(year + std::time::Duration::from_secs(86_400));
    invite(&s, &admin_token(&s).await, "recent.2").await;
    sign_now(&s).await;
    let (from2, to2) = s.core.audit.audit_archive_range(s.core.now().minus(year)).await.unwrap().unwrap();
    assert_eq!(from2, to);
    let mut second = Vec::new();
    s.core.audit.export_audit_bundle(from2, Some(to2), &mut second, &mut |_, _| {}).await.unwrap();
    s.core.audit.prune_audit_log(to2, &Default::default()).await.unwrap();
    let v = verify_bundle(&second[..], &key, Some(&header.checkpoint)).unwrap();
    assert_eq!((v.from_size, v.to_size), (to, to2));
    sign_now(&s).await;
    assert!(verify_live(&s).await.unwrap() > size);
    assert_eq!(s.audit("audit.prune").await.len(), 1, "pruning is recorded…");
    let archived_prune = String::from_utf8_lossy(&second)
        .lines()
        .skip(1)
        .filter_map(|l| mamori_audit::bundle::parse_entry_line(l).ok())
        .any(|(_, e)| e.action == "audit.prune");
    assert!(archived_prune, "…and the first record of it is archived");
    s.stop().await;
}
both_backends!(retention_archives_and_prunes);

/// A token of the busy server's admin, valid from the clock's present.
async fn admin_token(s: &TestServer) -> String {
    let admin = s
        .core
        .identity
        .list_users(&crate::support::inspector(), &Default::default())
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.username == "admin")
        .unwrap();
    s.token(&admin, &[Permission::AuditRead, Permission::UsersManage]).await
}

/// Every entry a representative run writes — sign-ins, sessions, administration, the vault,
/// devices, the log's own reads, and refusals of each kind — names an action of the catalogue
/// (`mamori_audit::actions`) with the category the catalogue gives it, including the actions
/// whose refusals are written under another category.
async fn every_action_is_catalogued(backend: Backend) {
    use mamori_core::vault::{NewCustomer, Purpose};
    use mamori_store::OrgKind;
    let s = TestServer::start(backend).await;
    let ctx = Default::default();
    let admin_user = s.user("admin", &[Role::SecurityAdmin]).await;
    let admin = s.principal_of(&admin_user);

    // Sign-ins: password and TOTP (a session renewed), a wrong password, an unknown name.
    let b = s.signed_in("admin").await;
    assert_eq!(s.browser().sign_in("admin", "wrong-password-guess").await.status(), 401);
    assert_eq!(s.browser().sign_in("nobody", "wrong-password-guess").await.status(), 401);
    let r = b.get("/audit").await;
    assert_eq!(r.status(), 200);

    // Administration.
    let site = s.core.identity.create_org_unit(&admin, OrgKind::Site, "Site", None, &ctx).await.unwrap();
    let team = s
        .core
        .identity
        .create_org_unit(&admin, OrgKind::Team, "Team", Some(site.id.clone()), &ctx)
        .await
        .unwrap();
    let a = s.core.identity.create_org_unit(&admin, OrgKind::Client, "Client A", None, &ctx).await.unwrap();
    let other =
        s.core.identity.create_org_unit(&admin, OrgKind::Client, "Client B", None, &ctx).await.unwrap();
    let invitation = mamori_core::identity::admin::Invitation {
        username: "op.invited".into(),
        display_name: "Invited".into(),
        roles: vec![Role::Operator],
        team_id: Some(team.id.clone()),
        site_id: None,
        client_ids: vec![a.id.clone()],
        mail_address: None,
    };
    s.core.identity.invite_user(&admin, &invitation, &ctx).await.unwrap();
    let op_user = s.user("op.a", &[Role::Operator]).await;
    s.core.identity.disable_user(&admin, &op_user.id, &ctx).await.unwrap();
    s.core.identity.enable_user(&admin, &op_user.id, &ctx).await.unwrap();
    s.core.identity.unlock_user(&admin, &op_user.id, &ctx).await.unwrap();
    s.core.identity.end_user_sessions(&admin, &op_user.id, &ctx).await.unwrap();
    assert!(
        s.core.identity.disable_user(&admin, &admin_user.id, &ctx).await.is_err(),
        "not one's own account"
    );
    let token = s
        .core
        .identity
        .create_api_token(&admin, "t", &[Permission::AuditRead], std::time::Duration::from_secs(3600), &ctx)
        .await
        .unwrap();
    s.core.identity.revoke_api_token(&admin, &token.token.id, &ctx).await.unwrap();
    s.core.identity.set_totp_for_everyone(&admin, true, &ctx).await.unwrap();
    s.core.identity.set_totp_for_everyone(&admin, false, &ctx).await.unwrap();
    s.core.audit.search_audit(&admin, &Default::default(), &ctx).await.unwrap();

    // A permission refusal.
    let op_token = s.token(&op_user, &[Permission::CustomersRead]).await;
    let r = reqwest::Client::new().get(s.url("/api/v1/users")).bearer_auth(&op_token).send().await.unwrap();
    assert_eq!(r.status(), 403);

    // The vault: a customer at each client; the operator works on client A only.
    let customer = |client: &str| NewCustomer {
        client_id: client.into(),
        fields: [("name_kanji", "山田太郎"), ("phones", "090-1234-5678")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    let in_a = s.core.vault.create_customer(&admin, &customer(&a.id), &ctx).await.unwrap();
    let in_b = s.core.vault.create_customer(&admin, &customer(&other.id), &ctx).await.unwrap();
    let mut op = s.principal_of(&op_user);
    op.client_ids = vec![a.id.clone()];
    let why = Purpose::Reason { code: "callback".into(), text: "お約束の折り返し".into() };
    s.core.vault.find_customers_by_phone(&op, "090-1234-5678", &why, &ctx).await.unwrap();
    let _ = s.core.vault.reveal_field(&op, &in_a, "phones", &why, &ctx).await;
    s.core.vault.add_customer_note(&op, &in_a, "折り返し済み", &ctx).await.unwrap();
    // Another client's customer: refused at once and recorded, on both backends (on SQLite the
    // refusal was once recorded while the note's transaction held the one writer: a 30 s stall,
    // and the entry lost).
    assert!(
        s.core.vault.add_customer_note(&op, &in_b, "x", &ctx).await.is_err(),
        "another client's customer"
    );
    let refused = s.audit("customer.note_add").await;
    assert!(
        refused
            .iter()
            .any(|e| e.outcome == mamori_audit::Outcome::Denied && e.details["reason"] == "client_scope")
    );

    // Devices: a supervisor without a team is refused a PC and a person, for reads and changes.
    let pc = crate::hostile::enrolled_pc(&s, &admin, &op_user.id, "PC-1").await;
    let sv = s.principal_of(&s.user("sv", &[Role::Supervisor]).await);
    assert!(s.core.devices.revoke_device(&sv, &pc, &ctx).await.is_err());
    assert!(s.core.devices.issue_command(&sv, &pc, "lock", None, &ctx).await.is_err());
    assert!(s.core.devices.set_user_networks(&sv, &op_user.id, vec![], &ctx).await.is_err());
    s.core.devices.issue_command(&admin, &pc, "lock", None, &ctx).await.unwrap();
    s.core.devices.revoke_device(&admin, &pc, &ctx).await.unwrap();

    // Throttled credential guesses, on each path that shares the throttle.
    let anon = s.browser();
    let csrf = anon.csrf("/signin").await;
    let mut throttled = false;
    for _ in 0..100 {
        let r = anon.post_form("/setup", &[("_csrf", &csrf), ("token", "not-a-token")]).await;
        if r.status() == 429 {
            throttled = true;
            break;
        }
    }
    assert!(throttled, "the setup form is throttled");
    assert_eq!(anon.post_form("/invite", &[("_csrf", &csrf), ("token", "not-a-token")]).await.status(), 429);
    let enrol = json!({"token": "not-a-token", "public_key": "x", "hostname": "h"});
    let r = reqwest::Client::new().post(s.url("/api/v1/agent/enroll")).json(&enrol).send().await.unwrap();
    assert_eq!(r.status(), 429);

    s.core.identity.sign_out_everywhere(&admin, &ctx).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await; // aggregated refusals written

    let seen = s.assert_catalogued().await;
    for pair in [
        ("signin.totp", "authentication"),
        ("session.renew", "login"),
        ("route.denied", "access"),
        ("user.disable", "operation"),
        ("customer.note_add", "operation"),
        ("customer.lookup", "access"),
        ("device.revoke", "device"),
        ("device.revoke", "access"),
        ("device.command", "access"),
        ("device.networks_change", "access"),
        ("setup.complete", "authentication"),
        ("user.invitation_accept", "authentication"),
        ("device.enrol", "device"),
        ("device.enrol", "authentication"),
    ] {
        assert!(seen.contains(&(pair.0.to_owned(), pair.1)), "{pair:?} not written: {seen:?}");
    }
    if backend == Backend::Postgres {
        assert!(seen.contains(&("customer.note_add".to_owned(), "access")), "{seen:?}");
    }
    assert!(seen.len() >= 30, "a broad run: {} distinct pairs", seen.len());
    s.stop().await;
}
both_backends!(every_action_is_catalogued);

/// Production code names a catalogued action: no crate but `mamori-audit` makes an `Action`,
/// builds an `AuditEvent` field by field or renames an event's action.
#[test]
fn actions_are_made_only_in_the_catalogue() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let crates = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for krate in std::fs::read_dir(&crates).unwrap() {
        let krate = krate.unwrap().path();
        if krate.file_name().is_some_and(|n| n != "audit") && krate.join("src").is_dir() {
            walk(&krate.join("src"), &mut files);
        }
    }
    assert!(files.len() > 50, "the sources were found: {}", files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let declares = |l: &&str| ["->", "enum ", "struct ", "impl "].iter().any(|k| l.contains(k));
        for line in text.lines().filter(|l| !declares(l)) {
            for bad in ["Action {", "AuditEvent {", ".action = "] {
                assert!(
                    !line.contains(bad),
                    "{} has `{line}`: name an action of mamori_audit::actions",
                    file.display()
                );
            }
        }
    }
}
