//! Console pages for what only the API and the command line did before (issue 14, item 9): a
//! person's roster and own networks (MON-1, MON-2), the customer CSV import with its dry run, and
//! the data-subject requests of APPI (ISMS-3, ISMS-4). Pages are read as a browser gets them.

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

/// A customer of "Client A" for the customer pages' tests; returns the admin's principal, the
/// client company's id and the customer's id.
async fn customer_of_client_a(s: &TestServer) -> (mamori_core::Principal, String, String) {
    let admin_user = s.user("admin", &[Role::SecurityAdmin]).await;
    let admin = s.principal_of(&admin_user);
    let ctx = Default::default();
    let a = s
        .core
        .identity
        .create_org_unit(&admin, mamori_store::OrgKind::Client, "Client A", None, &ctx)
        .await
        .unwrap();
    let new = mamori_core::vault::NewCustomer {
        client_id: a.id.clone(),
        fields: [
            ("name_kanji", "山田太郎"),
            ("phones", "03-1234-5678"),
            ("email", "taro@example.jp"),
            ("birth_date", "1980-04-01"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect(),
    };
    let id = s.core.vault.create_customer(&admin, &new, &ctx).await.unwrap();
    (admin, a.id, id)
}

/// Data-subject requests from the console (APPI arts. 33–35): the admin finds the person by
/// what they gave, in every client company; a disclosure report, a correction and an erasure,
/// each with its request reference in the audit entry; the erasure only after its confirmation.
async fn subject_requests(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (_, _, id) = customer_of_client_a(&s).await;
    let b = s.signed_in("admin").await;
    let policy = b.get("/admin/vault-policy").await.text().await.unwrap();
    assert!(policy.contains("href=\"/admin/customers\""), "reachable from the field policy page");
    let csrf = b.csrf("/admin/customers").await;

    // No reference, no search.
    let r = b
        .post_form("/admin/customers/find", &[("_csrf", &csrf), ("by", "phone"), ("value", "0312345678")])
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(s.audit("customer.lookup").await.len(), 0);
    let r = b
        .post_form(
            "/admin/customers/find",
            &[
                ("_csrf", &csrf),
                ("request_ref", "DSR-2026-001"),
                ("by", "name_birth"),
                ("value", "山田 太郎"),
                ("birth_date", "1980-04-01"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains(&format!("data-customer=\"{id}\"")) && html.contains("Client A"), "{html}");
    assert!(!html.contains("taro@example.jp"), "the search shows no values");
    let found = s.audit("customer.lookup").await;
    assert_eq!(found[0].details["request_ref"], "DSR-2026-001");
    assert_eq!(found[0].details["purpose"], "data_subject_request");

    // Disclosure report: everything held, and who read it.
    let r = b
        .post_form(
            &format!("/admin/customers/{id}/disclosure"),
            &[("_csrf", &csrf), ("request_ref", "DSR-2026-001")],
        )
        .await;
    let html = r.text().await.unwrap();
    assert!(
        html.contains("taro@example.jp") && html.contains("+81312345678") && html.contains("1980-04-01"),
        "{html}"
    );
    assert!(
        html.contains("開示等の請求への対応"),
        "the request's own search in the history, in words: {html}"
    );
    assert_eq!(s.audit("customer.disclose").await[0].details["request_ref"], "DSR-2026-001");

    // Correction: only what is typed changes; a bad value changes nothing and says so.
    let correct = format!("/admin/customers/{id}/correct");
    let page = b.get(&format!("{correct}?request_ref=DSR-2026-001")).await.text().await.unwrap();
    assert!(page.contains("name=\"value.email\""));
    assert_eq!(b.get(&correct).await.status(), 422, "no reference, no form");
    let r = b
        .post_form(&correct, &[("_csrf", &csrf), ("request_ref", "DSR-2026-001"), ("value.phones", "12")])
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("value=\"12\""), "what was typed, to correct");
    let r = b
        .post_form(
            &correct,
            &[
                ("_csrf", &csrf),
                ("request_ref", "DSR-2026-002"),
                ("value.email", "taro@example.com"),
                ("remove", "birth_date"),
            ],
        )
        .await;
    assert_eq!(r.headers()["location"], "/admin/customers?done=customer_corrected");
    let corrections = s.audit("customer.correct").await;
    assert_eq!(corrections.len(), 1);
    assert_eq!(corrections[0].details["request_ref"], "DSR-2026-002");
    assert_eq!(corrections[0].details["fields"], "birth_date,email");
    let d =
        s.core.vault.disclose_customer(&crate::support::inspector(), &id, "check", &Default::default()).await;
    let fields = d.unwrap().fields;
    assert!(fields.iter().any(|(_, _, v)| v == "taro@example.com"));
    assert!(!fields.iter().any(|(f, _, _)| f.as_str() == "birth_date"), "removed");

    // Erasure: the link shows a confirmation; only its POST erases.
    let erase = format!("/admin/customers/{id}/erase");
    let r = b.get(&format!("{erase}?request_ref=DSR-2026-003")).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"confirm-question\"") && html.contains("DSR-2026-003"), "{html}");
    assert!(
        html.contains(&format!("action=\"{erase}\""))
            && html.contains("name=\"request_ref\" value=\"DSR-2026-003\"")
    );
    assert_eq!(s.audit("customer.erase").await.len(), 0, "asking erases nothing");
    let r = b.post_form(&erase, &[("_csrf", &csrf), ("request_ref", "")]).await;
    assert_eq!(r.status(), 422, "no reference, no erasure");
    let r = b.post_form(&erase, &[("_csrf", &csrf), ("request_ref", "DSR-2026-003")]).await;
    assert_eq!(r.headers()["location"], "/admin/customers?done=customer_erased");
    assert_eq!(s.audit("customer.erase").await[0].details["request_ref"], "DSR-2026-003");
    let r = b
        .post_form(
            &format!("/admin/customers/{id}/disclosure"),
            &[("_csrf", &csrf), ("request_ref", "DSR-2026-004")],
        )
        .await;
    assert_eq!(r.status(), 404, "gone");

    // An operator may not open these pages.
    s.user("op.a", &[Role::Operator]).await;
    let op = s.signed_in("op.a").await;
    assert_eq!(op.get("/admin/customers").await.status(), 403);
    s.stop().await;
}
both_backends!(subject_requests);

/// A multipart form as a browser sends it: the small fields, then the file.
pub fn multipart(fields: &[(&str, &str)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----mamori-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"customers.csv\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The customer CSV import page (TW-5): a dry run lists the problems in words — line, field,
/// what is wrong — and writes nothing, not even for a clean file; the import says how many it
/// imported; bad choices and a file over the limit are refused in words.
async fn customer_import_page(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (_, client, _) = customer_of_client_a(&s).await;
    let b = s.signed_in("admin").await;
    let customers = b.get("/admin/customers").await.text().await.unwrap();
    assert!(customers.contains("href=\"/admin/customers/import\""), "reachable from the customer page");
    let html = b.get("/admin/customers/import").await.text().await.unwrap();
    assert!(html.contains("enctype=\"multipart/form-data\"") && html.contains("Client A"), "{html}");
    let csrf = b.csrf("/admin/customers/import").await;
    let count =
        || async { s.core.store().read().await.unwrap().count_customers_to_rewrap(u32::MAX).await.unwrap() };
    assert_eq!(count().await, 1);
    let post = |fields: Vec<(&'static str, String)>, file: Vec<u8>| {
        let b = &b;
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (content_type, body) = multipart(&pairs, &file);
            b.client
                .post(format!("{}/admin/customers/import", b.base()))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let form = |mode: &str| {
        vec![
            ("_csrf", csrf.clone()),
            ("client_id", client.clone()),
            ("encoding", "utf-8".to_owned()),
            ("mode", mode.to_owned()),
        ]
    };
    let bad = "name_kanji,phones,birth_date\n佐藤花子,090-1111-2222,1990-01-02\n鈴木一郎,12345,1985-01-01\n,,\n山本,,1985-13\n";
    let r = post(form("check"), bad.as_bytes().to_vec()).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("3行目（電話番号）: 電話番号の形式ではありません"), "{html}");
    assert!(html.contains("4行目（氏名）: 氏名（漢字またはカナ）が必要です"), "{html}");
    assert!(html.contains("5行目（生年月日）: 生年月日は YYYY-MM-DD"), "every problem listed: {html}");
    assert!(html.contains("確認の結果：問題があります") && html.contains("何も取り込まれていません"));
    assert_eq!(count().await, 1, "a dry run writes nothing");

    let good =
        "\u{feff}name_kanji,phones,email\n佐藤花子,090-1111-2222,hanako@example.jp\n鈴木一郎,03-2222-3333,\n";
    let r = post(form("check"), good.as_bytes().to_vec()).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("2行を確認し、問題はありませんでした"), "{html}");
    assert_eq!(count().await, 1, "a clean dry run writes nothing either");
    assert_eq!(s.audit("customer.import").await.len(), 0);

    let r = post(form("import"), good.as_bytes().to_vec()).await;
    assert_eq!(r.status(), 200);
    // The import is sent as it runs: the page, the progress, then the outcome in the same page.
    let html = r.text().await.unwrap();
    let started = html.find("取り込みを始めました").expect("the progress box");
    let done = html.find("2件の顧客を取り込みました（スキップ 0件）").expect("the outcome");
    assert!(started < done && html.trim_end().ends_with("</html>"), "one whole page: {html}");
    assert_eq!(count().await, 3);
    assert_eq!(s.audit("customer.import").await[0].details["records"], "2");
    // The import itself refuses a bad file whole.
    let r = post(form("import"), bad.as_bytes().to_vec()).await;
    assert!(r.text().await.unwrap().contains("取り込みませんでした"));
    assert_eq!(count().await, 3, "nothing of a refused file");

    // Shift_JIS, chosen as such.
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("name_kana,phones\nタナカ,0466-11-2233\n");
    let mut sjis_form = form("check");
    sjis_form[2].1 = "shift_jis".into();
    let r = post(sjis_form, sjis.to_vec()).await;
    assert!(r.text().await.unwrap().contains("1行を確認し"), "Shift_JIS read");
    let r = post(form("check"), sjis.to_vec()).await;
    assert!(r.text().await.unwrap().contains("UTF-8として読めません"), "the wrong encoding named");

    // No client company, no file, no token.
    let mut no_client = form("check");
    no_client[1].1 = String::new();
    assert_eq!(post(no_client, good.as_bytes().to_vec()).await.status(), 422);
    let r = post(form("check"), Vec::new()).await;
    assert!(r.text().await.unwrap().contains("ファイルを選んでください"));
    let mut no_token = form("import");
    no_token[0].1 = "wrong".into();
    assert_eq!(post(no_token, good.as_bytes().to_vec()).await.status(), 403);
    assert_eq!(count().await, 3);

    // Over the limit: refused before it is read, saying what to do.
    // The server answers 413 from the declared length and closes; the client may still be
    // writing the body and see the connection closed instead. Either way nothing is read.
    let pairs = form("check");
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (content_type, body) = multipart(&pairs, &vec![b'a'; mamori_server::problem::CONSOLE_IMPORT_LIMIT]);
    let r = b
        .client
        .post(format!("{}/admin/customers/import", b.base()))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await;
    match r {
        Ok(r) => {
            assert_eq!(r.status(), 413);
            let html = r.text().await.unwrap();
            assert!(html.contains("32 MiBまで") && html.contains("mamori customers import"), "{html}");
        }
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    assert_eq!(count().await, 3);
    s.stop().await;
}
both_backends!(customer_import_page);
