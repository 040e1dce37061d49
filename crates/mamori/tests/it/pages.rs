//! Console pages for what only the API and the command line did before (issue 14, item 9): a
//! person's roster and own networks (TW-3, TW-10), the customer CSV import with its dry run, and
//! the data-subject requests of APPI. Pages are read as a browser gets them.

use crate::both_backends;
use crate::support::{Backend, TestServer};
use mamori_domain::Role;

/// A home worker's shifts (several a week) and own networks: forms filled with what is in
/// force, saved, shown as words; bad rows refused in words, nothing saved.
async fn roster_and_networks(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.user("admin", &[Role::SecurityAdmin]).await;
    let op = s.user("op.home", &[Role::Operator]).await;
    let b = s.signed_in("admin").await;
    let user_page = b.get(&format!("/admin/users/{}", op.id)).await.text().await.unwrap();
    let roster = format!("/admin/users/{}/roster", op.id);
    assert!(user_page.contains(&format!("href=\"{roster}\"")), "linked from the user's page");
    let html = b.get(&roster).await.text().await.unwrap();
    assert!(html.contains("なし（操作状況は収集されません）"), "no shifts yet: {html}");
    let csrf = b.csrf(&roster).await;

    // Two shifts a week.
    let r = b
        .post_form(
            &format!("/admin/users/{}/shifts", op.id),
            &[
                ("_csrf", &csrf),
                ("days.0", "mon"),
                ("days.0", "tue"),
                ("days.0", "wed"),
                ("days.0", "thu"),
                ("days.0", "fri"),
                ("start.0", "09:00"),
                ("end.0", "18:00"),
                ("days.1", "sat"),
                ("start.1", "10:00"),
                ("end.1", "15:00"),
                ("start.2", ""),
                ("end.2", ""),
            ],
        )
        .await;
    assert_eq!(r.headers()["location"], format!("{roster}?done=shifts_saved").as_str());
    let saved = s.core.devices.user_shifts(&crate::support::inspector(), &op.id, &Default::default()).await;
    assert_eq!(saved.unwrap().shifts.len(), 2);
    let html = b.get(&roster).await.text().await.unwrap();
    assert!(html.contains("月〜金 09:00–18:00") && html.contains(">土 10:00–15:00<"), "{html}");
    assert!(html.contains("name=\"days.0\" value=\"fri\" checked"), "the form filled: {html}");
    assert!(html.contains("name=\"start.1\" value=\"10:00\""), "the second row filled");
    assert!(!html.contains("name=\"days.2\" value=\"mon\" checked"), "the third row empty");

    // A wrong time: refused in words, naming the row; nothing saved, what was sent shown again.
    let r = b
        .post_form(
            &format!("/admin/users/{}/shifts", op.id),
            &[("_csrf", &csrf), ("days.0", "mon"), ("start.0", "09:00"), ("end.0", "25:00")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("1行目: 「25:00」は時刻ではありません"), "{html}");
    assert!(html.contains("name=\"end.0\" value=\"25:00\""), "what was sent, to correct");
    let r = b
        .post_form(&format!("/admin/users/{}/shifts", op.id), &[("_csrf", &csrf), ("start.3", "09:00")])
        .await;
    assert!(r.text().await.unwrap().contains("4行目: 開始と終了の時刻を入力してください"));
    let kept = s.core.devices.user_shifts(&crate::support::inspector(), &op.id, &Default::default()).await;
    assert_eq!(kept.unwrap().shifts.len(), 2, "nothing saved");

    // Own networks: one a line.
    let networks = format!("/admin/users/{}/networks", op.id);
    let r = b.post_form(&networks, &[("_csrf", &csrf), ("networks", "203.0.113.0/24\n10.9.0.0/33\n")]).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("2行目: 「10.9.0.0/33」はCIDR形式のネットワークではありません"), "{html}");
    let none = s.core.devices.user_networks(&crate::support::inspector(), &op.id, &Default::default()).await;
    assert!(none.unwrap().is_empty(), "nothing saved");
    let r = b
        .post_form(&networks, &[("_csrf", &csrf), ("networks", "203.0.113.0/24\r\n\r\n2001:db8::/32")])
        .await;
    assert_eq!(r.headers()["location"], format!("{roster}?done=networks_saved").as_str());
    let html = b.get(&format!("{roster}?done=networks_saved")).await.text().await.unwrap();
    assert!(html.contains(">2001:db8::/32\n203.0.113.0/24</textarea>"), "filled: {html}");
    assert!(html.contains("接続を認めるネットワークを保存しました"));
    assert_eq!(s.audit("device.networks_change").await.len(), 1);

    // In English.
    let en = s.signed_in("admin").await;
    let csrf_en = en.csrf("/profile").await;
    en.post_form("/profile/language", &[("_csrf", &csrf_en), ("language", "en")]).await;
    let html = en.get(&roster).await.text().await.unwrap();
    assert!(html.contains("Mon–Fri 09:00–18:00"), "{html}");

    // An operator may not open it.
    let opb = s.signed_in("op.home").await;
    assert_eq!(opb.get(&roster).await.status(), 403);
    s.stop().await;
}
both_backends!(roster_and_networks);
