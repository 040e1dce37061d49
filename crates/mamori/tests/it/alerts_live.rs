//! The alert list is live (issue 16, item 6): a supervisor's open list receives each alert as
//! it is raised, through server-sent events, without a reload; a refused filter streams nothing.

use crate::both_backends;
use crate::commands::two_teams;
use crate::support::{Backend, TestServer};
use std::time::Duration;

/// Reads server-sent events until one carries `needle`; returns that event's data.
async fn event_with(stream: &mut reqwest::Response, needle: &str) -> String {
    let mut buffer = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if event.contains(needle) {
                return event;
            }
            continue;
        }
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("no event with {needle:?}"))
            .unwrap()
            .unwrap_or_else(|| panic!("the stream ended before {needle:?}"));
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

async fn the_alert_list_is_live(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.signin_burst = 10_000).await;
    two_teams(&s).await;
    let sv = s.signed_in("sv.a").await;
    let page = sv.get("/alerts?state=active").await.text().await.unwrap();
    assert!(page.contains(r#"data-stream="/alerts/stream?state=active&amp;days=7""#), "{page}");
    assert!(page.contains("/static/live.js"), "{page}");

    let mut stream = sv.get("/alerts/stream?state=active&days=7").await;
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let first = event_with(&mut stream, "event: live").await;
    assert!(first.contains("alerts-empty"), "nothing yet: {first}");

    // op.a (sv.a's team) locks their account with wrong passwords: the list shows the alert.
    for _ in 0..10 {
        let _ = s.core.identity.sign_in("op.a", "wrong-password-here", &Default::default()).await;
    }
    let raised = event_with(&mut stream, "rule-account_locked").await;
    assert!(raised.contains("山田 花子"), "the person by name: {raised}");

    // A filter the page refuses has no stream.
    let refused = sv.get("/alerts?state=nonsense").await.text().await.unwrap();
    assert!(!refused.contains("data-stream"), "{refused}");
    assert_eq!(sv.get("/alerts/stream?state=nonsense").await.status(), 400);
}
both_backends!(the_alert_list_is_live);
