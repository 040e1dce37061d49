//! Starting real servers for tests, on either backend, and driving them like a browser would.

use mamori_core::Core;
use mamori_domain::clock::ManualClock;
use mamori_domain::{Clock, Role, SystemClock};
use mamori_server::config::ServerConfig;
use mamori_server::serve::Running;
use mamori_store::UserRecord;
use std::sync::Arc;

pub const PASSWORD: &str = "correct-horse-battery-7";
/// Fixed TOTP secret the tests enrol users with.
pub const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test body once per backend: `both_backends!(name, body_fn)` makes
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::support::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::support::postgres_available().await {
                    super::$name($crate::support::Backend::Postgres).await
                }
            }
        }
    };
}

pub fn pg_base_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether PostgreSQL tests can run. Under CI (`CI=true`) an unreachable database is a failure,
/// not a skip.
pub async fn postgres_available() -> bool {
    match sqlx::PgPool::connect(&pg_base_url()).await {
        Ok(pool) => {
            pool.close().await;
            true
        }
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("PostgreSQL is required under CI=true but unreachable at {}: {e}", pg_base_url());
            }
            eprintln!("SKIPPED: PostgreSQL unreachable at {} ({e}); set TEST_POSTGRES_URL", pg_base_url());
            false
        }
    }
}

/// A fresh, empty schema of its own for one test, as a URL whose connections use it.
pub async fn fresh_pg_url() -> String {
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(&pg_base_url()).await.expect("connect to PostgreSQL");
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&pool).await.expect("create schema");
    pool.close().await;
    let sep = if pg_base_url().contains('?') { '&' } else { '?' };
    format!("{}{sep}options=-c%20search_path%3D{schema}", pg_base_url())
}

/// A running server with its own data directory (and schema), a clock the test moves, and
/// direct access to the services for set-up.
pub struct TestServer {
    pub base: String,
    /// The first-start setup link's token, when one was made.
    pub setup_token: Option<String>,
    pub core: Core,
    pub clock: Arc<ManualClock>,
    pub config: ServerConfig,
    running: Option<Running>,
    /// Owned by the first server; a replica shares it.
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig::defaults(dir.path().join("data"));
        config.listen = "127.0.0.1:0".parse().expect("addr");
        if backend == Backend::Postgres {
            config.database_url = Some(fresh_pg_url().await);
        }
        tweak(&mut config);
        let mut s = Self::start_config(config).await;
        s._dir = Some(dir);
        s
    }

    async fn start_config(config: ServerConfig) -> TestServer {
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let running =
            mamori_server::serve::start(config.clone(), clock.clone(), false).await.expect("server starts");
        let scheme = if config.tls.is_some() { "https" } else { "http" };
        let base = format!("{scheme}://{}", running.addr());
        let core = running.state.core.clone();
        let setup_token = match &running.started.setup {
            mamori_core::identity::setup::SetupState::NewLink(t) => Some(t.clone()),
            _ => None,
        };
        TestServer { base, setup_token, core, clock, config, running: Some(running), _dir: None }
    }

    /// Stops this server and starts it again on the same database and data directory.
    pub async fn restart(mut self) -> TestServer {
        let dir = self._dir.take();
        let config = self.config.clone();
        self.stop().await;
        let mut s = Self::start_config(config).await;
        s._dir = dir;
        s
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    /// The port of the SMTP submission relay (configured with `mail`).
    pub fn mail_port(&self) -> u16 {
        self.running.as_ref().and_then(|r| r.started.mail_addr).expect("the mail relay is configured").port()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Creates an active user with [`PASSWORD`]; roles that need TOTP get [`TOTP_SECRET`].
    pub async fn user(&self, username: &str, roles: &[Role]) -> UserRecord {
        insert_user(&self.core, username, roles).await
    }

    /// The current TOTP code of [`TOTP_SECRET`], after moving the clock past any step used before.
    pub fn next_totp(&self) -> String {
        self.clock.advance(std::time::Duration::from_secs(30));
        mamori_crypto::totp::code_at(TOTP_SECRET, self.clock.now().as_secs()).expect("code")
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.base, None)
    }

    /// A browser signed in as `username` (password, then TOTP if the account has it).
    pub async fn signed_in(&self, username: &str) -> Browser {
        let b = self.browser();
        let resp = b.sign_in(username, PASSWORD).await;
        assert_eq!(resp.status(), 303, "password accepted for {username}");
        if resp.headers()["location"] == "/signin/totp" {
            let csrf = b.csrf("/signin/totp").await;
            let r = b.post_form("/signin/totp", &[("_csrf", &csrf), ("code", &self.next_totp())]).await;
            assert_eq!(r.headers()["location"], "/dashboard", "second factor accepted for {username}");
        }
        b
    }

    /// `user` acting through the services directly, with all the rights of their roles.
    pub fn principal_of(&self, user: impl Into<mamori_core::User>) -> mamori_core::Principal {
        principal(user)
    }

    /// An API token with the given permissions, made by `owner` through the services.
    pub async fn token(
        &self,
        owner: impl Into<mamori_core::User>,
        permissions: &[mamori_domain::Permission],
    ) -> String {
        api_token(&self.core, owner, permissions).await
    }

    /// Serves a router of the test's own making — behind the real guard and outer middleware,
    /// with `table` as its route table — on this server's services; returns its address.
    pub async fn serve_router(
        &self,
        router: axum::Router<mamori_server::AppState>,
        table: mamori_server::routes::RouteTable,
    ) -> std::net::SocketAddr {
        let mut state = mamori_server::AppState::new(self.core.clone(), self.config.clone());
        state.routes = Arc::new(table);
        let app = mamori_server::routes::with_guard(router, state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    /// Runs SQL on the server's database as someone with full access to it would: the
    /// append-only triggers do not stop it.
    pub async fn tamper(&self, sql: &str) {
        match &self.config.database_url {
            Some(url) => {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
                sqlx::raw_sql(&format!("SET session_replication_role = replica; {sql}"))
                    .execute(&mut c)
                    .await
                    .expect("tamper");
            }
            None => {
                use sqlx::Connection;
                let path = self.config.data_dir.join("mamori.db");
                let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                    .await
                    .expect("connect");
                let triggers: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'trigger'")
                        .fetch_all(&mut c)
                        .await
                        .expect("triggers");
                for t in triggers {
                    sqlx::raw_sql(&format!("DROP TRIGGER {t}")).execute(&mut c).await.expect("drop trigger");
                }
                sqlx::raw_sql(sql).execute(&mut c).await.expect("tamper");
            }
        }
    }

    /// Makes every append to the audit log fail from now on, as a full disk would.
    pub async fn break_audit_log(&self) {
        let sql = match &self.config.database_url {
            None => {
                "CREATE TRIGGER audit_broken BEFORE INSERT ON audit_entries \
                     BEGIN SELECT RAISE(ABORT, 'disk full'); END;"
            }
            Some(_) => {
                "CREATE FUNCTION audit_broken() RETURNS trigger LANGUAGE plpgsql AS $$ \
                        BEGIN RAISE EXCEPTION 'disk full'; END; $$; \
                        CREATE TRIGGER audit_broken BEFORE INSERT ON audit_entries \
                        FOR EACH ROW EXECUTE FUNCTION audit_broken();"
            }
        };
        self.tamper(sql).await;
    }

    /// Checks that every entry in the log names an action of the catalogue
    /// (`mamori_audit::actions`) with the category the catalogue gives for its outcome, and
    /// returns the (action, category) pairs seen.
    pub async fn assert_catalogued(&self) -> std::collections::BTreeSet<(String, &'static str)> {
        let q = mamori_store::AuditQuery { limit: 100_000, ..Default::default() };
        let entries = self.core.store().read().await.expect("read").search_audit(&q).await.expect("search");
        let mut seen = std::collections::BTreeSet::new();
        for e in &entries {
            let action = mamori_audit::actions::find(&e.action).unwrap_or_else(|| {
                panic!("entry {} has action {} missing from the catalogue", e.index, e.action)
            });
            assert!(
                action.allows(e.category, e.outcome),
                "entry {}: {} written as {} ({}), the catalogue says {}",
                e.index,
                e.action,
                e.category.as_str(),
                e.outcome.as_str(),
                action.category_for(e.outcome).as_str()
            );
            seen.insert((e.action.clone(), e.category.as_str()));
        }
        seen
    }

    /// Audit entries with this action, newest first.
    pub async fn audit(&self, action: &str) -> Vec<mamori_audit::AuditEntry> {
        let q = mamori_store::AuditQuery {
            actions: Some(vec![action.into()]),
            limit: 1000,
            ..Default::default()
        };
        self.core.store().read().await.expect("read").search_audit(&q).await.expect("search")
    }
}

/// Creates an active user with [`PASSWORD`]; roles that need TOTP get [`TOTP_SECRET`].
pub async fn insert_user(core: &Core, username: &str, roles: &[Role]) -> UserRecord {
    let now = core.now();
    let id = uuid::Uuid::new_v4().to_string();
    let needs_totp = roles.iter().any(|r| r.requires_totp());
    let user = UserRecord {
        password_hash: Some(password_hash()),
        password_changed_at: Some(now),
        totp_secret: needs_totp.then(|| core.identity.seal_totp_secret(TOTP_SECRET, &id).expect("seal")),
        ..UserRecord::new(
            id.clone(),
            username.into(),
            format!("Test {username}"),
            roles.to_vec(),
            mamori_domain::identity::UserStatus::Active,
            now,
        )
    };
    let mut tx = core.store().begin().await.expect("begin");
    tx.insert_user(&user).await.expect("insert user");
    tx.commit().await.expect("commit");
    user
}

/// `user` acting through the services directly, with all the rights of their roles.
/// Someone who may read everything (a security admin who is also an auditor), for tests that
/// look at what the services hold rather than at who may see it.
pub fn inspector() -> mamori_core::Principal {
    let user = UserRecord::new(
        uuid::Uuid::new_v4().to_string(),
        "inspector".into(),
        "Inspector".into(),
        vec![mamori_domain::Role::SecurityAdmin, mamori_domain::Role::Auditor],
        mamori_domain::identity::UserStatus::Active,
        mamori_domain::UnixMillis(0),
    );
    principal(&user)
}

pub fn principal(user: impl Into<mamori_core::User>) -> mamori_core::Principal {
    mamori_core::Principal::direct(user, Vec::new())
}

fn password_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| mamori_crypto::password::hash_password(PASSWORD).expect("hash")).clone()
}

/// A cookie-keeping HTTP client that does not follow redirects, like a browser seen step by step.
pub struct Browser {
    pub client: reqwest::Client,
    base: String,
}

impl Browser {
    pub fn new(base: &str, local_address: Option<std::net::IpAddr>) -> Browser {
        let mut b = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none());
        if let Some(addr) = local_address {
            b = b.local_address(addr);
        }
        Browser { client: b.build().expect("client"), base: base.to_owned() }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.base)).send().await.expect("GET")
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client.post(format!("{}{path}", self.base)).form(form).send().await.expect("POST")
    }

    /// The CSRF token in the forms of a page.
    pub async fn csrf(&self, path: &str) -> String {
        let html = self.get(path).await.text().await.expect("body");
        hidden_value(&html, "_csrf").unwrap_or_else(|| panic!("no CSRF token on {path}"))
    }

    pub async fn sign_in(&self, username: &str, password: &str) -> reqwest::Response {
        let csrf = self.csrf("/signin").await;
        self.post_form("/signin", &[("_csrf", &csrf), ("username", username), ("password", password)]).await
    }

    /// A JSON API call with the session cookie and its CSRF header.
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let csrf = self.csrf("/profile").await;
        let mut req =
            self.client.request(method, format!("{}{path}", self.base)).header("x-csrf-token", csrf);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("API call")
    }
}

pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    Some(html[start..].split('"').next()?.to_owned())
}

/// The `mamori` binary built for these tests.
pub fn mamori_bin() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_mamori"))
}

/// A real `mamori serve` process on a free loopback port, for what only separate processes
/// show: a crash (`kill -9`) and several replicas on one database.
pub struct ServeProcess {
    child: std::process::Child,
    pub base: String,
}

impl ServeProcess {
    /// Starts `mamori serve` on the configuration's data directory and database, and waits until
    /// it is ready.
    pub async fn start(config: &ServerConfig) -> ServeProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = std::process::Command::new(mamori_bin());
        cmd.args([
            "serve",
            "--data-dir",
            config.data_dir.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("MAMORI_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        if let Some(url) = &config.database_url {
            cmd.args(["--database-url", url]);
        }
        let mut child = cmd.spawn().expect("mamori serve starts");
        let base = format!("http://127.0.0.1:{port}");
        let api = reqwest::Client::new();
        for _ in 0..200 {
            if api.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
                return ServeProcess { child, base };
            }
            assert!(child.try_wait().unwrap().is_none(), "mamori serve exited before it was ready");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("mamori serve was not ready within 10 s");
    }

    /// The process id, to read its memory from `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: no shutdown work at all.
    pub fn kill(mut self) {
        self.signal("-KILL");
    }

    /// SIGTERM, as a service manager stops it: the server shuts down in order.
    pub fn stop(mut self) {
        self.signal("-TERM");
    }

    fn signal(&mut self, which: &str) {
        std::process::Command::new("kill").args([which, &self.child.id().to_string()]).status().unwrap();
        self.child.wait().unwrap();
    }
}

/// A security admin and an API token of theirs, made through the services before any server
/// process starts on `config`.
pub async fn admin_token(config: &ServerConfig, permissions: &[mamori_domain::Permission]) -> String {
    let core = mamori_server::serve::open_core(config, Arc::new(SystemClock)).await.unwrap();
    let admin = insert_user(&core, "admin", &[Role::SecurityAdmin]).await;
    api_token(&core, &admin, permissions).await
}

/// An API token (a day long) with the given permissions, made by `owner` through the services.
/// Making tokens needs `tokens.manage`, which only security admins hold; an operator's token
/// (as a telephony integration or a test of the operator's API uses) is made here as if they
/// held it. The token still carries only what the owner's roles grant.
pub async fn api_token(
    core: &Core,
    owner: impl Into<mamori_core::User>,
    permissions: &[mamori_domain::Permission],
) -> String {
    let mut maker = principal(owner);
    maker.permissions.insert(mamori_domain::Permission::TokensManage);
    core.identity
        .create_api_token(
            &maker,
            "test",
            permissions,
            std::time::Duration::from_secs(86400),
            &Default::default(),
        )
        .await
        .expect("token")
        .secret
}

/// A TOTP code from `oathtool`, an implementation independent of ours, for a given moment.
/// `None` when oathtool is not installed (then the caller skips; under CI it must be installed).
pub fn oathtool_code(secret: &str, unix_seconds: u64) -> Option<String> {
    let out = std::process::Command::new("oathtool")
        .args(["--totp", "-b", secret, "--now", &format!("@{unix_seconds}")])
        .output();
    match out {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).trim().to_owned()),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "oathtool is required under CI=true; run scripts/install-test-deps.sh"
            );
            eprintln!("SKIPPED part: oathtool not installed (scripts/install-test-deps.sh installs it)");
            None
        }
    }
}
