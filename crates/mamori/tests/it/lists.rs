//! Lists a person can search, and risky actions that ask first (issue 14, item 7): the user list
//! by name, role and state (locked ones among them), the device ledger by host, user and
//! compliance with its antivirus and USB columns; an API token's revocation confirmed first.

use crate::both_backends;
use crate::commands::two_teams;
use crate::devices::enrol_agent;
use crate::support::{Backend, TestServer, hidden_value};
use mamori_domain::{Permission, Role};

async fn lists_search_and_ask(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.signin_burst = 10_000).await;
    let (own_op, other_op) = two_teams(&s).await;
    let admin_user = s.core.store().read().await.unwrap().user_by_username("admin").await.unwrap().unwrap();
    let token = s.token(&admin_user, &[Permission::DevicesManage, Permission::DevicesRead]).await;
    enrol_agent(&s, &token, &own_op.id, "PC-YAMADA").await;
    enrol_agent(&s, &token, &other_op.id, "PC-SUZUKI").await;
    let until = s.core.now().plus(std::time::Duration::from_secs(600));
    let mut tx = s.core.store().begin().await.unwrap();
    tx.lock_user(&other_op.id, until).await.unwrap();
    tx.commit().await.unwrap();
    s.user("secadmin", &[Role::SecurityAdmin]).await;
    let admin = s.signed_in("secadmin").await;

    // Users: by words of the name, by role, locked ones.
    let html = admin.get("/admin/users?q=%E5%B1%B1%E7%94%B0").await.text().await.unwrap();
    assert!(html.contains("op.a") && !html.contains(">op.b<"), "山田 finds op.a only: {html}");
    let html = admin.get("/admin/users?role=supervisor").await.text().await.unwrap();
    assert!(html.contains("sv.a") && !html.contains(">op.a<"), "{html}");
    let html = admin.get("/admin/users?status=locked").await.text().await.unwrap();
    assert!(html.contains(">op.b<") && !html.contains(">op.a<"), "{html}");
    let html = admin.get("/admin/users?q=nobody-at-all").await.text().await.unwrap();
    assert!(html.contains("id=\"users-empty\""), "{html}");
    // The admin's home counts the lockout and links to that list.
    let html = admin.get("/dashboard").await.text().await.unwrap();
    assert!(html.contains("href=\"/admin/users?status=locked\""), "{html}");

    // The ledger: search, compliance, antivirus and USB columns.
    let html = admin.get("/devices?q=yamada").await.text().await.unwrap();
    assert!(html.contains("PC-YAMADA") && !html.contains("PC-SUZUKI"), "{html}");
    for column in ["準拠状況", "ウイルス対策", "USB"] {
        assert!(html.contains(column), "{column}: {html}");
    }
    let html = admin.get("/devices?compliance=not_compliant").await.text().await.unwrap();
    assert!(html.contains("id=\"ledger-empty\""), "no rules set, nobody fails them: {html}");

    // Revoking a token asks first, naming it; asking changes nothing.
    let csrf = admin.csrf("/admin/tokens").await;
    let form = [
        ("_csrf", csrf.as_str()),
        ("name", "CTI 連携"),
        ("permissions", "cti.write"),
        ("expires_in_days", "30"),
    ];
    assert_eq!(admin.post_form("/admin/tokens", &form).await.status(), 200);
    let tokens =
        s.core.identity.list_api_tokens(&crate::support::inspector(), &Default::default()).await.unwrap();
    let cti = tokens.iter().find(|t| t.name == "CTI 連携").unwrap();
    let html = admin.get("/admin/tokens").await.text().await.unwrap();
    assert!(html.contains(&format!("href=\"/admin/tokens/{}/revoke\"", cti.id)), "{html}");
    assert!(html.contains("通話の開始・終了の通知（CTI連携）"), "permissions in words: {html}");
    let html = admin.get(&format!("/admin/tokens/{}/revoke", cti.id)).await.text().await.unwrap();
    assert!(html.contains("本当にAPIトークン「CTI 連携」を失効させますか？"), "{html}");
    assert!(s.audit("token.revoke").await.is_empty(), "asking is not doing");
    let csrf = hidden_value(&html, "_csrf").unwrap();
    let r = admin.post_form(&format!("/admin/tokens/{}/revoke", cti.id), &[("_csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(s.audit("token.revoke").await.len(), 1);
    assert_eq!(admin.get(&format!("/admin/tokens/{}/revoke", cti.id)).await.status(), 404, "already revoked");
    s.stop().await;
}
both_backends!(lists_search_and_ask);
