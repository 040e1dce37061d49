//! The detection feed (issue 13, item 5): committed audit entries as one ordered stream with a
//! durable cursor — every entry once, in order, across a restart, one replica at a time.

use crate::both_backends;
use crate::support::*;
use mamori_domain::Role;

async fn invite(s: &TestServer, admin: &mamori_core::Principal, n: usize, prefix: &str) {
    for i in 0..n {
        let inv = mamori_core::identity::admin::Invitation {
            username: format!("{prefix}{i}"),
            display_name: format!("User {i}"),
            roles: vec![Role::Operator],
            team_id: None,
            site_id: None,
            client_ids: vec![],
            mail_address: None,
        };
        s.core.identity.invite_user(admin, &inv, &Default::default()).await.unwrap();
    }
}

/// Reads the feed to its end, marking each batch done; returns the indexes read.
async fn drain(feed: &mut mamori_core::audit_log::feed::AuditFeed, batch: u64) -> Vec<u64> {
    let mut seen = Vec::new();
    loop {
        let entries = feed.next_batch(batch).await.unwrap();
        if entries.is_empty() {
            return seen;
        }
        seen.extend(entries.iter().map(|e| e.index));
        assert!(feed.done().await.unwrap());
    }
}

async fn feed_in_order_once(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.principal_of(&s.user("admin", &[Role::SecurityAdmin]).await);
    invite(&s, &admin, 25, "first.").await;

    let mut feed = s.core.audit.audit_feed("test-detector", "replica-a");
    let seen = drain(&mut feed, 7).await;
    let size = s.core.store().read().await.unwrap().audit_log_size().await.unwrap();
    assert_eq!(seen, (0..size).collect::<Vec<_>>(), "every committed entry, once, in order");

    // A batch read but not marked done is read again by the next reader of that consumer.
    invite(&s, &admin, 5, "second.").await;
    let unfinished: Vec<u64> = feed.next_batch(3).await.unwrap().iter().map(|e| e.index).collect();
    assert_eq!(unfinished, [size, size + 1, size + 2]);
    drop(feed);
    let s = s.restart().await;
    let mut feed = s.core.audit.audit_feed("test-detector", "replica-a");
    let after_restart = drain(&mut feed, 100).await;
    assert_eq!(after_restart[..3], unfinished[..], "resumed at the stored cursor, after a restart");
    let size_now = s.core.store().read().await.unwrap().audit_log_size().await.unwrap();
    assert_eq!(after_restart, (size..size_now).collect::<Vec<_>>(), "then on to the end, in order");

    // One replica at a time: another holder reads nothing while the lease runs, and takes over
    // at the stored cursor once it is released.
    let admin = s.principal_of(&s.user("admin2", &[Role::SecurityAdmin]).await);
    invite(&s, &admin, 3, "third.").await;
    let mut other = s.core.audit.audit_feed("test-detector", "replica-b");
    assert!(other.next_batch(100).await.unwrap().is_empty(), "replica-a holds the consumer");
    feed.release().await.unwrap();
    let taken_over = drain(&mut other, 100).await;
    assert_eq!(
        taken_over.first(),
        Some(&(after_restart.last().unwrap() + 1)),
        "no entry skipped or repeated"
    );

    // A consumer's own writes and its cursor commit together (exactly once).
    invite(&s, &admin, 2, "fourth.").await;
    let batch = other.next_batch(100).await.unwrap();
    assert_eq!(batch.len(), 2, "the two invitations");
    let mut tx = s.core.store().begin().await.unwrap();
    tx.put_setting("feed_test_derived", &batch.len().to_string()).await.unwrap();
    let moved = other.done_in(&mut tx).await.unwrap();
    drop(tx); // rolled back: neither the derived row nor the cursor move stays
    other.settled(None);
    assert!(moved.is_some());
    let again = other.next_batch(100).await.unwrap();
    assert_eq!(again.first().map(|e| e.index), batch.first().map(|e| e.index), "rolled back: read again");
    let mut tx = s.core.store().begin().await.unwrap();
    let moved = other.done_in(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    other.settled(moved);
    assert!(other.next_batch(100).await.unwrap().is_empty(), "committed: done");
    s.stop().await;
}
both_backends!(feed_in_order_once);
