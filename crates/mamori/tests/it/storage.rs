//! The storage conformance suite: the same story on SQLite and PostgreSQL.

use crate::both_backends;
use crate::support::{Backend, fresh_pg_url};
use mamori_audit::{Actor, AuditEvent, Outcome, actions};
use mamori_domain::identity::UserStatus;
use mamori_domain::{Role, UnixMillis};
use mamori_store::*;
use mamori_store_sql::Database;
use std::sync::Arc;

async fn open(backend: Backend, dir: &std::path::Path) -> (Arc<dyn Store>, Database) {
    let db = match backend {
        Backend::Sqlite => Database::Sqlite(dir.join("m.db")),
        Backend::Postgres => Database::Postgres(fresh_pg_url().await),
    };
    (mamori_store_sql::open(&db).await.expect("open store"), db)
}

fn user(id: &str, name: &str) -> UserRecord {
    UserRecord {
        id: id.into(),
        username: name.into(),
        display_name: "表示名".into(),
        roles: vec![Role::Operator, Role::Auditor],
        status: UserStatus::Active,
        language: Some("ja".into()),
        team_id: None,
        site_id: None,
        mail_address: Some("user@center.example.jp".into()),
        password_hash: Some("h0".into()),
        password_changed_at: Some(UnixMillis(1)),
        totp_secret: None,
        totp_pending: Some(vec![1, 2, 3]),
        totp_last_step: None,
        failed_signins: 0,
        locked_until: None,
        created_at: UnixMillis(1),
        updated_at: UnixMillis(1),
    }
}

/// An entry under a name of the test's own: the store keeps whatever action it is given (the
/// catalogue is for the code that writes entries, not for the store).
fn event(action: &'static str) -> AuditEvent {
    let mut e = AuditEvent::of(&actions::DEMO_LOAD, Actor::System, Outcome::Success).detail("k", "v");
    e.action = action;
    e
}

async fn users_and_credentials(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(backend, dir.path()).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_user(&user("u1", "tanaka")).await.unwrap();
    tx.commit().await.unwrap();

    let mut r = store.read().await.unwrap();
    let u = r.user_by_username("tanaka").await.unwrap().unwrap();
    assert_eq!(u, user("u1", "tanaka"), "round trip keeps every field, Japanese text and bytes included");
    assert_eq!(r.count_users().await.unwrap(), 1);
    drop(r);

    let mut tx = store.begin().await.unwrap();
    assert!(
        matches!(tx.insert_user(&user("u2", "tanaka")).await, Err(StoreError::Conflict(_))),
        "unique user name"
    );
    drop(tx);

    let mut tx = store.begin().await.unwrap();
    for i in 1..=7 {
        tx.set_password("u1", &format!("h{i}"), UnixMillis(10 + i)).await.unwrap();
    }
    assert_eq!(
        tx.password_history("u1", 10).await.unwrap(),
        vec!["h7", "h6", "h5", "h4", "h3"],
        "only the last 5 are kept"
    );
    assert_eq!(tx.add_failed_signin("u1").await.unwrap(), 1);
    assert_eq!(tx.add_failed_signin("u1").await.unwrap(), 2);
    tx.lock_user("u1", UnixMillis(99)).await.unwrap();
    assert_eq!(tx.user_by_id("u1").await.unwrap().unwrap().locked_until, Some(UnixMillis(99)));
    tx.clear_failed_signins("u1").await.unwrap();
    let u = tx.user_by_id("u1").await.unwrap().unwrap();
    assert_eq!((u.failed_signins, u.locked_until), (0, None));

    tx.enable_totp("u1", &[9, 9], 100).await.unwrap();
    assert!(!tx.advance_totp_step("u1", 100).await.unwrap(), "same step refused");
    assert!(tx.advance_totp_step("u1", 101).await.unwrap());
    tx.replace_recovery_codes("u1", &["a".into(), "b".into()]).await.unwrap();
    assert!(tx.use_recovery_code("u1", "a").await.unwrap());
    assert!(!tx.use_recovery_code("u1", "a").await.unwrap(), "single use");
    assert_eq!(tx.count_recovery_codes("u1").await.unwrap(), 1);
    tx.disable_totp("u1").await.unwrap();
    assert_eq!(tx.count_recovery_codes("u1").await.unwrap(), 0);
    assert!(tx.user_by_id("u1").await.unwrap().unwrap().totp_secret.is_none());

    tx.set_user_roles("u1", &[Role::SecurityAdmin], UnixMillis(20)).await.unwrap();
    tx.set_user_status("u1", "disabled", UnixMillis(20)).await.unwrap();
    let u = tx.user_by_id("u1").await.unwrap().unwrap();
    assert_eq!((u.roles, u.status), (vec![Role::SecurityAdmin], UserStatus::Disabled));
    tx.commit().await.unwrap();
}
both_backends!(users_and_credentials);

async fn sessions_links_tokens_org(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(backend, dir.path()).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_user(&user("u1", "sato")).await.unwrap();
    let session = SessionRecord {
        id: "s1".into(),
        digest: "d1".into(),
        user_id: "u1".into(),
        state: SessionState::AwaitingSecondFactor,
        csrf_token: "c".into(),
        source_ip: Some("127.0.0.1".into()),
        user_agent: None,
        created_at: UnixMillis(5),
        last_seen_at: UnixMillis(5),
    };
    tx.insert_session(&session).await.unwrap();
    tx.promote_session("s1", UnixMillis(6)).await.unwrap();
    let s = tx.session_by_digest("d1").await.unwrap().unwrap();
    assert_eq!((s.state, s.last_seen_at), (SessionState::Active, UnixMillis(6)));
    tx.insert_session(&SessionRecord { id: "s2".into(), digest: "d2".into(), ..session.clone() })
        .await
        .unwrap();
    assert_eq!(tx.user_sessions("u1").await.unwrap().len(), 2);
    assert_eq!(tx.delete_sessions_seen_before(UnixMillis(6)).await.unwrap(), 1, "only the idle one");
    assert_eq!(tx.delete_user_sessions("u1").await.unwrap(), 1);

    let link = OneTimeLink {
        digest: "L".into(),
        purpose: LinkPurpose::Setup,
        user_id: None,
        created_at: UnixMillis(1),
        expires_at: UnixMillis(100),
        used_at: None,
    };
    tx.insert_link(&link).await.unwrap();
    assert!(tx.unexpired_setup_link_exists(UnixMillis(50)).await.unwrap());
    assert!(!tx.unexpired_setup_link_exists(UnixMillis(100)).await.unwrap());
    assert!(tx.use_link("L", UnixMillis(2)).await.unwrap());
    assert!(!tx.use_link("L", UnixMillis(3)).await.unwrap(), "a link works once");

    let token = ApiTokenRecord {
        id: "t1".into(),
        digest: "td".into(),
        name: "n".into(),
        owner_id: "u1".into(),
        permissions: vec!["users.read".into(), "audit.read".into()],
        created_at: UnixMillis(1),
        expires_at: UnixMillis(9),
        revoked_at: None,
        last_used_at: None,
    };
    tx.insert_api_token(&token).await.unwrap();
    assert_eq!(tx.api_token_by_digest("td").await.unwrap().unwrap(), token);
    assert!(tx.revoke_api_token("t1", UnixMillis(2)).await.unwrap());
    assert!(!tx.revoke_api_token("t1", UnixMillis(3)).await.unwrap());

    let site = OrgUnit {
        id: "o1".into(),
        kind: OrgKind::Site,
        name: "東京".into(),
        site_id: None,
        created_at: UnixMillis(1),
    };
    tx.insert_org_unit(&site).await.unwrap();
    tx.commit().await.unwrap();
    // A failed statement ends a PostgreSQL transaction, so the conflict gets one of its own.
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.insert_org_unit(&OrgUnit { id: "o2".into(), ..site.clone() }).await,
        Err(StoreError::Conflict(_))
    ));
    drop(tx);

    let mut tx = store.begin().await.unwrap();
    let client = OrgUnit {
        id: "c1".into(),
        kind: OrgKind::Client,
        name: "A社".into(),
        site_id: None,
        created_at: UnixMillis(1),
    };
    tx.insert_org_unit(&client).await.unwrap();
    tx.set_user_clients("u1", &["c1".into()]).await.unwrap();
    assert_eq!(tx.user_clients("u1").await.unwrap(), vec!["c1"]);
    assert_eq!(tx.list_org_units(OrgKind::Site).await.unwrap(), vec![site]);
    tx.put_setting("k", "1").await.unwrap();
    tx.put_setting("k", "2").await.unwrap();
    assert_eq!(tx.setting("k").await.unwrap().as_deref(), Some("2"));
    tx.commit().await.unwrap();
}
both_backends!(sessions_links_tokens_org);

async fn audit_is_transactional_and_append_only(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (store, db) = open(backend, dir.path()).await;

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.append_audit(UnixMillis(1), &event("a.one")).await.unwrap(), 0, "indexes start at 0");
    assert_eq!(tx.append_audit(UnixMillis(2), &event("a.two")).await.unwrap(), 1);
    tx.commit().await.unwrap();

    // A change and its entry roll back together (DESIGN invariant 1).
    let mut tx = store.begin().await.unwrap();
    tx.insert_user(&user("u9", "rolled.back")).await.unwrap();
    tx.append_audit(UnixMillis(3), &event("a.rolled_back")).await.unwrap();
    drop(tx);
    let mut r = store.read().await.unwrap();
    assert!(r.user_by_id("u9").await.unwrap().is_none());
    let all = r.search_audit(&AuditQuery { limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(all.iter().map(|e| e.index).collect::<Vec<_>>(), vec![1, 0], "no gap, newest first");
    assert_eq!(all[0].details.get("k").map(String::as_str), Some("v"));
    let found = r
        .search_audit(&AuditQuery { actions: Some(vec!["a.one".into()]), limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let page =
        r.search_audit(&AuditQuery { before_index: Some(1), limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(page.len(), 1);
    drop(r);

    // Indexes stay gap-free under concurrent appenders.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                let mut tx = store.begin().await.unwrap();
                tx.append_audit(UnixMillis(4), &event("a.concurrent")).await.unwrap();
                tx.commit().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut r = store.read().await.unwrap();
    let all = r.search_audit(&AuditQuery { limit: 1000, ..Default::default() }).await.unwrap();
    let indexes: Vec<u64> = all.iter().rev().map(|e| e.index).collect();
    assert_eq!(indexes, (0..82).collect::<Vec<_>>());
    drop(r);

    // Nobody edits or deletes entries, not even with SQL.
    match &db {
        Database::Sqlite(path) => {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
            assert!(
                sqlx::query("UPDATE audit_entries SET action = 'x' WHERE idx = 1")
                    .execute(&pool)
                    .await
                    .is_err()
            );
            assert!(sqlx::query("DELETE FROM audit_entries").execute(&pool).await.is_err());
        }
        Database::Postgres(url) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            assert!(
                sqlx::query("UPDATE audit_entries SET action = 'x' WHERE idx = 1")
                    .execute(&pool)
                    .await
                    .is_err()
            );
            assert!(sqlx::query("DELETE FROM audit_entries").execute(&pool).await.is_err());
            assert!(sqlx::query("TRUNCATE audit_entries").execute(&pool).await.is_err());
        }
    }
}
both_backends!(audit_is_transactional_and_append_only);

async fn newer_schema_is_refused(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (store, db) = open(backend, dir.path()).await;
    drop(store);
    let bump = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                VALUES (99990101000000, 'from the future', TRUE, X'00', 1)";
    match &db {
        Database::Sqlite(path) => {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
            sqlx::query(bump).execute(&pool).await.unwrap();
            pool.close().await;
        }
        Database::Postgres(url) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(&bump.replace("X'00'", "'\\x00'::bytea")).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
    let err = mamori_store_sql::open(&db).await.expect_err("a newer schema must be refused");
    assert!(matches!(err, StoreError::SchemaTooNew { found: 99990101000000, .. }), "{err}");
    assert!(err.to_string().contains("newer than this Mamori binary"));
}
both_backends!(newer_schema_is_refused);

/// The identity generation moves when a committed transaction changed who someone is or what
/// they may do, and only then: not on a rollback, a last-seen touch or an audit append.
async fn identity_generation(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(backend, dir.path()).await;
    let g0 = store.identity_generation();
    let mut tx = store.begin().await.unwrap();
    tx.insert_user(&user("u1", "tanaka")).await.unwrap();
    drop(tx);
    assert_eq!(store.identity_generation(), g0, "rolled back");

    let mut tx = store.begin().await.unwrap();
    tx.insert_user(&user("u1", "tanaka")).await.unwrap();
    tx.commit().await.unwrap();
    let g1 = store.identity_generation();
    assert!(g1 > g0, "committed user");

    let mut tx = store.begin().await.unwrap();
    tx.append_audit(UnixMillis(5), &event("x.y")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.identity_generation(), g1, "an audit entry changes nobody's rights");

    let mut tx = store.begin().await.unwrap();
    tx.set_user_status("u1", "disabled", UnixMillis(6)).await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.identity_generation() > g1, "disabled user");
}
both_backends!(identity_generation);
