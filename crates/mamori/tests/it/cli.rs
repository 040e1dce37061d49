//! The `mamori` binary as an administrator meets it: start-up, configuration, TLS, shutdown, logs.

use crate::support::{PASSWORD, mamori_bin};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn mamori(args: &[&str]) -> Command {
    let mut c = Command::new(mamori_bin());
    c.args(args).env_remove("MAMORI_LOG").env("NO_COLOR", "1");
    c
}

/// A `mamori serve` child whose standard error is read all along (a server logging at debug
/// level would otherwise fill the pipe and stop, waiting to write).
struct Served {
    child: Child,
    stderr: std::thread::JoinHandle<String>,
}

/// Starts `mamori serve`, returning the child and the stdout lines up to `until`.
fn serve_until(cmd: &mut Command, until: &str) -> (Served, Vec<String>) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn mamori");
    let stdout = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut text);
        text
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            let done = line.contains(until);
            lines.push(line);
            if done {
                return (Served { child, stderr }, lines);
            }
        }
    }
    let _ = child.kill();
    panic!("mamori did not print {until:?}; got {lines:?}");
}

fn terminate(mut served: Served) -> (std::process::ExitStatus, String) {
    let pid = served.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = served.child.wait().unwrap();
    (status, served.stderr.join().unwrap_or_default())
}

async fn wait_ready(url: &str, client: &reqwest::Client) {
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{url}/readyz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} never became ready");
}

#[tokio::test]
async fn first_start_prints_the_setup_link_once_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let args = ["serve", "--data-dir", data.to_str().unwrap(), "--listen", &listen];
    let (child, lines) = serve_until(&mut mamori(&args), "/setup?token=");
    let link = lines.last().unwrap().trim().to_owned();
    assert!(link.starts_with(&format!("http://{listen}/setup?token=")));
    let key = data.join("keys/secret-box.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600, "key file is 0600");
    assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
    let client = reqwest::Client::new();
    wait_ready(&format!("http://{listen}"), &client).await;
    assert_eq!(client.get(&link).send().await.unwrap().status(), 200);
    let (status, _) = terminate(child);
    assert!(status.success(), "graceful shutdown on SIGTERM exits 0: {status}");

    // Second start: the link is still valid, so it is not printed again.
    let (child, lines) = serve_until(&mut mamori(&args), "setup link printed earlier");
    assert!(!lines.iter().any(|l| l.contains("token=")), "the link is printed once");
    terminate(child);
    let out = mamori(&["setup-link", "--data-dir", data.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("/setup?token="), "a lost link can be replaced");
}

#[test]
fn bad_configuration_is_refused_with_the_key_name() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let run = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = run(&mut mamori(&["serve", "--data-dir", data, "--listen", "0.0.0.0:0"]));
    assert!(err.contains("listen") && err.contains("--tls-cert"), "{err}");
    let config = dir.path().join("m.toml");
    std::fs::write(&config, "[session]\nidle_timeout = 5\n").unwrap();
    let err = run(&mut mamori(&["serve", "--config", config.to_str().unwrap(), "--data-dir", data]));
    assert!(err.contains("session.idle_timeout"), "{err}");
    std::fs::write(&config, "[lockout]\nmax_failures = -3\n").unwrap();
    let err = run(&mut mamori(&["serve", "--config", config.to_str().unwrap(), "--data-dir", data]));
    assert!(err.contains("lockout.max_failures"), "{err}");
    let err = run(mamori(&["serve", "--data-dir", data]).env("MAMORI_LISTNE", "x"));
    assert!(err.contains("MAMORI_LISTNE"), "{err}");
    let err = run(mamori(&["serve", "--data-dir", data]).env("MAMORI_SESSION_IDLE_TIMEOUT_MINUTES", "0"));
    assert!(err.contains("session.idle_timeout_minutes"), "{err}");
}

#[tokio::test]
async fn insecure_http_allows_a_public_address_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let listen = format!("0.0.0.0:{port}");
    let args = ["serve", "--data-dir", dir.path().to_str().unwrap(), "--listen", &listen, "--insecure-http"];
    let (child, _) = serve_until(&mut mamori(&args), "token=");
    wait_ready(&format!("http://127.0.0.1:{port}"), &reqwest::Client::new()).await;
    let (_, stderr) = terminate(child);
    assert!(stderr.contains("plain HTTP"), "{stderr}");
}

#[tokio::test]
async fn tls_with_rustls() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let port = free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let data = dir.path().join("d");
    let args = [
        "serve",
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        &listen,
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ];
    let (child, lines) = serve_until(&mut mamori(&args), "token=");
    assert!(lines.last().unwrap().contains(&format!("https://{listen}/setup")));
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap())
        .build()
        .unwrap();
    let base = format!("https://localhost:{port}");
    wait_ready(&base, &client).await;
    let r = client.get(format!("{base}/signin")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["strict-transport-security"].to_str().unwrap().contains("max-age"));
    assert!(r.headers()["set-cookie"].to_str().unwrap().contains("Secure"), "cookies are Secure under TLS");
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success(), "no plain HTTP on the TLS port");
    terminate(child);
}

/// Invariant 4: the log never holds personal data, passwords or one-time secrets.
#[tokio::test]
async fn no_personal_data_in_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let data = dir.path().join("d");
    let args = ["serve", "--data-dir", data.to_str().unwrap(), "--listen", &listen];
    let (child, lines) = serve_until(mamori(&args).env("MAMORI_LOG", "debug"), "token=");
    let link = lines.last().unwrap().trim().to_owned();
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let base = format!("http://{listen}");
    let b = crate::support::Browser::new(&base, None);
    wait_ready(&base, &b.client).await;
    let csrf = b.csrf(&format!("/setup?token={token}")).await;
    let secrets = ["admin.takahashi", "高橋 美咲", "Distinctive-Passphrase-42"];
    let r = b
        .post_form(
            "/setup",
            &[
                ("_csrf", &csrf),
                ("token", &token),
                ("username", secrets[0]),
                ("display_name", secrets[1]),
                ("password", secrets[2]),
                ("password_again", secrets[2]),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    b.sign_in("stranger.kobayashi", "Another-Secret-Phrase-99").await;
    b.sign_in(secrets[0], "wrong-passphrase-guess").await;
    b.sign_in(secrets[0], secrets[2]).await;
    let (_, stderr) = terminate(child);
    assert!(stderr.contains("request"), "the access log is on");
    for s in
        secrets.iter().chain(&["stranger.kobayashi", "Another-Secret-Phrase-99", token.as_str(), PASSWORD])
    {
        assert!(!stderr.contains(s), "the log holds {s:?}");
    }
}

/// `mamori audit`: the public key, an export, offline verification that names a changed entry
/// (exit 1), verification of the live database, and archiving (issue 3, item 6).
#[tokio::test]
async fn audit_commands() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let data_arg = data.to_str().unwrap();
    {
        let config = mamori_server::config::ServerConfig::defaults(data.clone());
        let core = mamori_server::serve::open_core(&config, std::sync::Arc::new(mamori_domain::SystemClock))
            .await
            .unwrap();
        let mut tx = core.store().begin().await.unwrap();
        for i in 0..10 {
            let mut e = mamori_audit::AuditEvent::of(
                &mamori_audit::actions::DEMO_LOAD,
                mamori_audit::Actor::System,
                mamori_audit::Outcome::Success,
            )
            .detail("step", i.to_string());
            e.action = "test.step"; // a name of the test's own, category `operation`
            tx.append_audit(core.now(), &e).await.unwrap();
        }
        tx.commit().await.unwrap();
        core.audit.checkpoint_audit_log().await.unwrap();
    }
    let run = |args: &[&str]| {
        let out = mamori(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, key, _) = run(&["audit", "public-key", "--data-dir", data_arg]);
    assert_eq!(code, Some(0));
    let key = key.trim().to_owned();
    assert!(key.starts_with("mamori/"), "{key}");

    let bundle = dir.path().join("b.jsonl");
    let (code, out, err) = run(&["audit", "export", "--data-dir", data_arg, "-o", bundle.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("wrote entries 0 to 9"), "{out}");
    assert!(dir.path().join("b.checkpoint").exists());

    // Offline: a directory holding only a copy of the binary, the bundle and the key (in a
    // file), run with no environment at all and the data directory moved away.
    let key_file = dir.path().join("key.txt");
    std::fs::write(&key_file, &key).unwrap();
    let offline = tempfile::tempdir().unwrap();
    std::fs::copy(mamori_bin(), offline.path().join("mamori")).unwrap();
    std::fs::copy(&bundle, offline.path().join("b.jsonl")).unwrap();
    std::fs::copy(&key_file, offline.path().join("key.txt")).unwrap();
    let away = dir.path().join("d-away");
    std::fs::rename(&data, &away).unwrap();
    let out = Command::new(offline.path().join("mamori"))
        .args(["audit", "verify", "b.jsonl", "--public-key", "key.txt"])
        .current_dir(offline.path())
        .env_clear()
        .output()
        .unwrap();
    std::fs::rename(&away, &data).unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && printed.starts_with("OK:"), "{printed}");
    let mut names: Vec<_> = std::fs::read_dir(offline.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["b.jsonl", "key.txt", "mamori"], "verification wrote nothing beside them");
    let (code, out, _) =
        run(&["audit", "verify", bundle.to_str().unwrap(), "--public-key", key_file.to_str().unwrap()]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("OK:"), "{out}");
    // Entry 3 (line 5) rewritten, its recorded hash left as it was.
    let text = std::fs::read_to_string(&bundle).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let (leaf, mut entry) = mamori_audit::bundle::parse_entry_line(&lines[4]).unwrap();
    entry.details.insert("step".into(), "4".into());
    lines[4] = mamori_audit::bundle::entry_line(&entry, &leaf);
    let changed = dir.path().join("changed.jsonl");
    std::fs::write(&changed, lines.join("\n") + "\n").unwrap();
    let (code, shown, _) = run(&["audit", "show", bundle.to_str().unwrap()]);
    assert_eq!(code, Some(0));
    assert_eq!(shown.lines().count(), 10);
    assert!(shown.lines().nth(3).unwrap().contains("\"step\":\"3\""), "{shown}");
    let (code, _, err) = run(&["audit", "verify", changed.to_str().unwrap(), "--public-key", &key]);
    assert_eq!(code, Some(1));
    assert!(err.contains("FAILED") && err.contains("entry 3"), "{err}");
    let (code, _, err) = run(&["audit", "verify", bundle.to_str().unwrap()]);
    assert_ne!(code, Some(0));
    assert!(err.contains("--public-key"), "{err}");

    let (code, out, err) = run(&["audit", "verify", "--data-dir", data_arg]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("the live database verifies"), "{out}");
    let (code, out, _) = run(&[
        "audit",
        "archive",
        "--data-dir",
        data_arg,
        "--output-dir",
        dir.path().join("a").to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0));
    assert!(out.contains("nothing to archive"), "nothing is a year old: {out}");
    let (code, _, err) =
        run(&["audit", "verify", "--data-dir", dir.path().join("nowhere").to_str().unwrap()]);
    assert_ne!(code, Some(0));
    assert!(err.contains("no Mamori database"), "{err}");
}

/// `mamori customers import`: a clean file imports; a bad one is refused with its lines (exit 1).
#[tokio::test]
async fn customers_import_command() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    {
        let config = mamori_server::config::ServerConfig::defaults(data.clone());
        let core = mamori_server::serve::open_core(&config, std::sync::Arc::new(mamori_domain::SystemClock))
            .await
            .unwrap();
        let admin = crate::support::insert_user(&core, "admin", &[mamori_domain::Role::SecurityAdmin]).await;
        crate::support::insert_user(&core, "op", &[mamori_domain::Role::Operator]).await;
        let p = crate::support::principal(&admin);
        core.identity
            .create_org_unit(&p, mamori_store::OrgKind::Client, "Client A", None, &Default::default())
            .await
            .unwrap();
    }
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "name_kanji,phones\n山田太郎,03-1111-2222\n佐藤花子,090-3333-4444\n").unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "name_kanji,phones\n山田太郎,03-1111-2222\n佐藤花子,not-a-phone\n").unwrap();
    let run = |user: &str, file: &std::path::Path| {
        let args = [
            "customers",
            "import",
            "--data-dir",
            data.to_str().unwrap(),
            "--as",
            user,
            "--client",
            "Client A",
            "--file",
            file.to_str().unwrap(),
        ];
        let out = mamori(&args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = run("admin", &good);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("imported 2 customers into Client A"), "{out}");
    let (code, _, err) = run("admin", &bad);
    assert_eq!(code, Some(1));
    assert!(err.contains("line 3, column phones") && err.contains("nothing was imported"), "{err}");
    let (code, _, err) = run("op", &good);
    assert_ne!(code, Some(0));
    assert!(err.contains("customers.manage"), "{err}");

    // Issue 12: the first problems are listed (three here, by configuration), the rest counted.
    let many = dir.path().join("many.csv");
    std::fs::write(&many, format!("name_kanji,phones\n{}", "山田太郎,bad\n".repeat(1005))).unwrap();
    let out = mamori(&[
        "customers",
        "import",
        "--data-dir",
        data.to_str().unwrap(),
        "--as",
        "admin",
        "--client",
        "Client A",
        "--file",
        many.to_str().unwrap(),
    ])
    .env("MAMORI_IMPORT_MAX_LISTED_PROBLEMS", "3")
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.matches("column phones").count(), 3, "{err}");
    assert!(err.contains("line 4, column phones") && !err.contains("line 5,"), "{err}");
    assert!(err.contains("… and 1002 more") && err.contains("refused: 1005 problem(s)"), "{err}");
}
