//! "Require a supervisor's approval for their next lookups" (issue 16, item 3): a rule whose
//! response is `hold_lookups` pauses the person's customer lookups when it fires; each refused
//! lookup says why and is recorded; the person's supervisor releases them by reversing the
//! response, and lookups work again.

use crate::approvals::{client_with_customers, person};
use crate::both_backends;
use crate::commands::two_teams;
use crate::support::{Backend, TestServer};
use mamori_core::CoreError;
use mamori_core::vault::{LookupKey, Purpose};
use mamori_domain::detect::{Response, RuleId};

fn off_call() -> Purpose {
    Purpose::Reason { code: "callback".into(), text: "折り返しのお約束".into() }
}

async fn a_hold_pauses_lookups_until_released(backend: Backend) {
    let s = TestServer::start(backend).await;
    two_teams(&s).await;
    let (client, _) = client_with_customers(&s, 3).await;
    let ctx = Default::default();
    let (admin, mut op, sv) = (person(&s, "admin").await, person(&s, "op.a").await, person(&s, "sv.a").await);
    op.client_ids = vec![client.clone()];
    let mut rules = s.core.detection.rules(&admin, &ctx).await.unwrap().rules;
    let off_call_rule = rules.0.get_mut(&RuleId::OffCallLookups).unwrap();
    off_call_rule.threshold = 2;
    off_call_rule.responses = vec![Response::HoldLookups];
    s.core.detection.set_rules(&admin, rules, &ctx).await.unwrap();

    let look = |i: usize| LookupKey::Phone(format!("03-1234-{:04}", 5678 + i));
    for i in 0..2 {
        s.core.vault.find_customers(&op, &look(i), &off_call(), &ctx).await.unwrap();
    }
    let alert = wait_for_alert(&s, &sv, "off_call_lookups").await;
    let detail = s.core.detection.alert(&sv, &alert.record.id, &ctx).await.unwrap();
    let hold = detail.responses.iter().find(|r| r.kind == "hold_lookups").expect("the hold was taken");
    assert_eq!((hold.state.as_str(), hold.target.clone()), ("done", format!("user:{}", op.user.id)));

    // Held: refused with its reason, recorded; another operator is not held.
    let refused = s.core.vault.find_customers(&op, &look(2), &off_call(), &ctx).await;
    assert!(matches!(refused, Err(CoreError::ApprovalRefused { reason: "lookups_held", .. })), "{refused:?}");
    let denied: Vec<_> = s
        .audit("customer.lookup")
        .await
        .into_iter()
        .filter(|e| e.outcome == mamori_audit::Outcome::Denied)
        .collect();
    assert!(
        denied.iter().any(|e| e.details["reason"] == "lookups_held" && e.details["alert"] == alert.record.id)
    );
    let mut other = person(&s, "op.b").await;
    other.client_ids = vec![client];
    assert!(
        !matches!(
            s.core.vault.find_customers(&other, &look(2), &off_call(), &ctx).await,
            Err(CoreError::ApprovalRefused { .. })
        ),
        "only the person the alert is about is held"
    );

    // The supervisor releases them: lookups work again.
    s.core.reverse_alert_response(&sv, &alert.record.id, &hold.id, &ctx).await.unwrap();
    s.core.vault.find_customers(&op, &look(2), &off_call(), &ctx).await.unwrap();
}
both_backends!(a_hold_pauses_lookups_until_released);

/// Waits until the detection task has raised an alert of `rule` the principal sees.
async fn wait_for_alert(
    s: &TestServer,
    who: &mamori_core::Principal,
    rule: &str,
) -> mamori_core::detection::Alert {
    for _ in 0..300 {
        let alerts = s.core.detection.alerts(who, 7, &[], &Default::default()).await.unwrap();
        if let Some(a) = alerts.into_iter().find(|a| a.record.rule == rule) {
            return a;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no {rule} alert was raised");
}

/// Walking through a block of phone numbers (issue 16: enumeration, with the vault's help): an
/// operator who tries, with a reason and no call, numbers that differ only in their last two
/// digits and find no one raises `neighbouring_numbers`; the log holds the block and the number
/// as keyed hashes, never a number. A number that finds a customer adds no probe.
async fn a_walk_through_neighbouring_numbers_is_seen(backend: Backend) {
    let s = TestServer::start(backend).await;
    two_teams(&s).await;
    let (client, _) = client_with_customers(&s, 3).await;
    let ctx = Default::default();
    let (mut op, sv) = (person(&s, "op.a").await, person(&s, "sv.a").await);
    op.client_ids = vec![client];
    let look = |number: &str| LookupKey::Phone(number.to_owned());
    // 03-1234-5678 is a customer; 5690–5694 are no one's, all in the block …56xx.
    let found = s.core.vault.find_customers(&op, &look("03-1234-5678"), &off_call(), &ctx).await.unwrap();
    assert_eq!(found.len(), 1);
    for last in ["5690", "5691", "5691", "5692", "5693"] {
        s.core.vault.find_customers(&op, &look(&format!("03-1234-{last}")), &off_call(), &ctx).await.unwrap();
    }
    // A number of another block (…57xx) is a block of its own.
    s.core.vault.find_customers(&op, &look("03-1234-5790"), &off_call(), &ctx).await.unwrap();
    let lookups = s.audit("customer.lookup").await;
    let detail = |key: &str| lookups.iter().filter_map(|e| e.details.get(key).cloned()).collect::<Vec<_>>();
    let blocks: std::collections::BTreeSet<String> = detail("near").into_iter().collect();
    assert_eq!(blocks.len(), 2, "…56xx is one block, …57xx another: {blocks:?}");
    assert!(blocks.iter().all(|b| b.starts_with("phone_block:h:")));
    assert_eq!(detail("probe").len(), 6, "one per try that found no one");
    // Four distinct numbers of the block so far (5691 twice): the fifth raises it.
    s.core.vault.find_customers(&op, &look("03-1234-5694"), &off_call(), &ctx).await.unwrap();
    let alert = wait_for_alert(&s, &sv, "neighbouring_numbers").await;
    assert_eq!((alert.record.value, alert.record.threshold, alert.record.severity.as_str()), (5, 5, "high"));
    let logged = serde_json::to_string(
        &s.audit("customer.lookup").await.iter().map(|e| &e.details).collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(!logged.contains("5690") && !logged.contains("31234"), "no number in the log");
}
both_backends!(a_walk_through_neighbouring_numbers_is_seen);
