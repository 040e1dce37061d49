//! The customer vault's foundations (issue 4): sealed records, blind-index lookup by phone,
//! client isolation, masking per role, refusal of card security codes, and the database holding
//! no plaintext (LEAK-14, TW-5, TW-9, PCI DSS 3.3.1 and 3.4.1).

use crate::both_backends;
use crate::support::{Backend, TestServer, pg_base_url};
use mamori_core::CoreError;
use mamori_core::vault::import::{CsvEncoding, ImportError};
use mamori_core::vault::{NewCustomer, Purpose};
use mamori_domain::Role;
use mamori_domain::customer::CustomerField;
use mamori_store::OrgKind;

const PLAINTEXT: [&str; 8] = [
    "山田太郎",
    "ヤマダタロウ",
    "+819012345678",
    "090-1234-5678",
    "taro.yamada@example.jp",
    "4111111111111111",
    "東京都千代田区丸の内",
    "解約の相談",
];

fn customer(client_id: &str, phone: &str) -> NewCustomer {
    let fields = [
        ("name_kanji", "山田太郎"),
        ("name_kana", "ヤマダタロウ"),
        ("phones", phone),
        ("email", "Taro.Yamada@Example.JP"),
        ("postal_address", "東京都千代田区丸の内1-1-1"),
        ("birth_date", "1980-04-01"),
        ("card_number", "4111 1111 1111 1111"),
        ("notes", "解約の相談あり"),
    ];
    NewCustomer {
        client_id: client_id.into(),
        fields: fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
    }
}

fn callback() -> Purpose {
    Purpose::Reason { code: "callback".into(), text: "お約束の折り返し".into() }
}

async fn lookups_are_isolated_masked_and_audited(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.principal_of(&s.user("admin", &[Role::SecurityAdmin]).await);
    let ctx = Default::default();
    let a = s.core.identity.create_org_unit(&admin, OrgKind::Client, "Client A", None, &ctx).await.unwrap();
    let b = s.core.identity.create_org_unit(&admin, OrgKind::Client, "Client B", None, &ctx).await.unwrap();
    let in_a = s.core.vault.create_customer(&admin, &customer(&a.id, "090-1234-5678"), &ctx).await.unwrap();
    // The same number at another client.
    s.core.vault.create_customer(&admin, &customer(&b.id, "０９０（１２３４）５６７８"), &ctx).await.unwrap();

    let mut op = s.principal_of(&s.user("op.a", &[Role::Operator]).await);
    op.client_ids = vec![a.id.clone()];
    let cards =
        s.core.vault.find_customers_by_phone(&op, "+81 90 1234 5678", &callback(), &ctx).await.unwrap();
    assert_eq!(cards.len(), 1, "only client A's customer");
    assert_eq!(cards[0].id, in_a);
    let shown = |f: CustomerField| cards[0].fields.iter().find(|x| x.field == f).unwrap().clone();
    assert_eq!(shown(CustomerField::NameKanji).value, "山田太郎");
    assert_eq!(shown(CustomerField::CardNumber).value, "**** **** **** 1111", "PCI DSS 3.4.1");
    assert_eq!(shown(CustomerField::Phones).value, "***-****-5678");
    assert_eq!(shown(CustomerField::Email).value, "t***@example.jp");

    let mut nobody = op.clone();
    nobody.client_ids.clear();
    assert!(
        s.core
            .vault
            .find_customers_by_phone(&nobody, "09012345678", &callback(), &ctx)
            .await
            .unwrap()
            .is_empty()
    );
    let mut admin_in_a = admin.clone();
    admin_in_a.client_ids = vec![a.id.clone()];
    // A security admin does not look customers up at all (no `customers.read`), even through
    // the services directly: refused, not merely shown masked (issue 13, item 3).
    assert!(matches!(
        s.core.vault.find_customers_by_phone(&admin_in_a, "09012345678", &callback(), &ctx).await,
        Err(CoreError::Forbidden(_))
    ));

    // Bad input: a clear error naming the field.
    let field_of = |e: CoreError| match e {
        CoreError::Invalid { field, code, .. } => (field, code),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        field_of(s.core.vault.find_customers_by_phone(&op, "abc", &callback(), &ctx).await.unwrap_err()).0,
        "phone"
    );
    let vague = Purpose::Reason { code: "curiosity".into(), text: "just looking".into() };
    assert_eq!(
        field_of(s.core.vault.find_customers_by_phone(&op, "0312345678", &vague, &ctx).await.unwrap_err()).0,
        "reason_code"
    );
    let short = Purpose::Reason { code: "callback".into(), text: "x".into() };
    assert_eq!(
        field_of(s.core.vault.find_customers_by_phone(&op, "0312345678", &short, &ctx).await.unwrap_err()).0,
        "reason_text"
    );
    let mut with_cvv = customer(&a.id, "0312345678");
    with_cvv.fields.insert("cvv".into(), "123".into());
    assert_eq!(
        field_of(s.core.vault.create_customer(&admin, &with_cvv, &ctx).await.unwrap_err()).1,
        "card_security_code_refused"
    );
    let mut bad_card = customer(&a.id, "0312345678");
    bad_card.fields.insert("card_number".into(), "4111 1111 1111 1112".into());
    assert_eq!(
        field_of(s.core.vault.create_customer(&admin, &bad_card, &ctx).await.unwrap_err()).0,
        "card_number"
    );
    let mut unknown = customer(&a.id, "0312345678");
    unknown.fields.insert("favourite_colour".into(), "blue".into());
    assert_eq!(
        field_of(s.core.vault.create_customer(&admin, &unknown, &ctx).await.unwrap_err()).1,
        "unknown_field"
    );
    assert_eq!(
        s.core.store().read().await.unwrap().count_customers().await.unwrap(),
        2,
        "nothing half-written"
    );

    // Every lookup is recorded with hashed ids, field names and the purpose — no values.
    let (lookups, refused): (Vec<_>, Vec<_>) = s
        .audit("customer.lookup")
        .await
        .into_iter()
        .partition(|e| e.outcome == mamori_audit::Outcome::Success);
    assert_eq!(lookups.len(), 2, "the operator's and the one with no client");
    // The security admin's lookup was refused for the permission, and recorded.
    let (by_permission, refused): (Vec<_>, Vec<_>) =
        refused.into_iter().partition(|e| e.details["reason"] == "permission");
    assert_eq!(by_permission.len(), 1);
    assert_eq!(by_permission[0].details["needs"], "customers.read");
    // Customers with the number at clients the caller does not work on were not shown, and the
    // attempts are on record (client B's for the operator; both for the one with no client).
    assert!(refused.iter().any(|e| e.details["client"] == b.id));
    assert!(refused.iter().all(|e| e.outcome == mamori_audit::Outcome::Denied
        && e.details["reason"] == "client_scope"
        && [&a.id, &b.id].contains(&&e.details["client"])
        && e.object.as_deref().is_some_and(|o| o.starts_with("customer:h:"))));
    let first = lookups
        .iter()
        .find(|e| e.actor == format!("user:{}", op.user.id) && e.details["results"] == "1")
        .unwrap();
    assert_eq!(first.object.as_deref(), Some(s.core.audit.audit_object("customer", &in_a).as_str()));
    assert_eq!(first.details.get("reason_code").map(String::as_str), Some("callback"));
    assert!(first.details["fields"].contains("card_number"));
    let log = serde_json::to_string(&s.audit("customer.create").await).unwrap()
        + &serde_json::to_string(&lookups).unwrap();
    for p in PLAINTEXT.iter().chain([&in_a.as_str()]) {
        assert!(!log.contains(p), "the audit log holds `{p}`");
    }

    // The database, as a thief would copy it, holds none of the values.
    s.core.audit.checkpoint_audit_log().await.unwrap();
    let dump = database_bytes(&s).await;
    for p in PLAINTEXT {
        assert!(!contains(&dump, p.as_bytes()), "the database holds `{p}` in plaintext");
    }
    assert!(contains(&dump, a.id.as_bytes()), "the dump is real (it holds the client's id)");
    s.assert_catalogued().await;
    s.stop().await;
}
both_backends!(lookups_are_isolated_masked_and_audited);

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// SQLite: the database file and its write-ahead log. PostgreSQL: `pg_dump` of the test's schema.
async fn database_bytes(s: &TestServer) -> Vec<u8> {
    match &s.config.database_url {
        None => {
            let db = s.config.data_dir.join("mamori.db");
            let mut bytes = std::fs::read(&db).unwrap();
            bytes.extend(std::fs::read(db.with_extension("db-wal")).unwrap_or_default());
            bytes
        }
        Some(url) => {
            let schema = url.split("search_path%3D").nth(1).unwrap().to_owned();
            let out = std::process::Command::new("pg_dump")
                .args(["--schema", &schema, &pg_base_url()])
                .output()
                .expect("pg_dump (scripts/install-test-deps.sh installs postgresql-client)");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            out.stdout
        }
    }
}

/// The same over HTTP: an admin's token creates, an operator's token looks up — their client's
/// customers only — and bad bodies get a problem naming the field.
async fn over_the_api(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin_user = s.user("admin", &[Role::SecurityAdmin]).await;
    let admin = s.principal_of(&admin_user);
    let ctx = Default::default();
    let a = s.core.identity.create_org_unit(&admin, OrgKind::Client, "Client A", None, &ctx).await.unwrap();
    let b = s.core.identity.create_org_unit(&admin, OrgKind::Client, "Client B", None, &ctx).await.unwrap();
    let op = s.user("op.a", &[Role::Operator]).await;
    s.core.identity.set_user_clients(&admin, &op.id, std::slice::from_ref(&a.id), &ctx).await.unwrap();
    let admin_token = s.token(&admin_user, &[mamori_domain::Permission::CustomersManage]).await;
    let op_token = s.token(&op, &[mamori_domain::Permission::CustomersRead]).await;
    let api = reqwest::Client::new();
    let post = |token: &str, path: &str, body: serde_json::Value| {
        api.post(s.url(path)).bearer_auth(token).json(&body).send()
    };
    for (client, name) in [(&a.id, "山田太郎"), (&b.id, "佐藤花子")] {
        let r = post(&admin_token, "/api/v1/customers", serde_json::json!({
            "client_id": client, "fields": {"name_kanji": name, "phones": "03-1234-5678", "card_number": "4111111111111111"}
        })).await.unwrap();
        assert_eq!(r.status(), 201);
    }
    let lookup = serde_json::json!({"phone": "0312345678", "reason_code": "callback", "reason_text": "折り返しのお約束"});
    let r = post(&op_token, "/api/v1/customers/lookup", lookup.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let customers = body["customers"].as_array().unwrap();
    assert_eq!(customers.len(), 1, "client A's only: {body}");
    let text = body.to_string();
    assert!(text.contains("山田太郎") && !text.contains("佐藤花子") && text.contains("**** **** **** 1111"));
    assert_eq!(
        post(&admin_token, "/api/v1/customers/lookup", lookup).await.unwrap().status(),
        403,
        "admins hold no customers.read"
    );
    assert_eq!(post(&op_token, "/api/v1/customers", serde_json::json!({})).await.unwrap().status(), 403);

    let r = post(
        &admin_token,
        "/api/v1/customers",
        serde_json::json!({
            "client_id": a.id, "fields": {"name_kanji": "X", "cvc2": "123"}
        }),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["code"], "card_security_code_refused", "{p}");
    let r = post(
        &op_token,
        "/api/v1/customers/lookup",
        serde_json::json!({"phone": "x", "reason_code": "callback"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 422, "a missing field");
    let r = post(&op_token, "/api/v1/customers/lookup", serde_json::json!({"phone": "'; DROP TABLE customers; --", "reason_code": "callback", "reason_text": "hostile input"})).await.unwrap();
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["field"], "phone");
    s.stop().await;
}
both_backends!(over_the_api);

/// CSV import: UTF-8 (with a spreadsheet's byte-order mark) and Shift_JIS; a file with bad rows
/// is refused whole with every bad line listed; nothing is half-written.
async fn csv_import(backend: Backend) {
    use mamori_core::vault::import::Refusal as ImportRefusal;
    let s = TestServer::start(backend).await;
    let admin = s.principal_of(&s.user("admin", &[Role::SecurityAdmin]).await);
    let ctx = Default::default();
    let a = s.core.identity.create_org_unit(&admin, OrgKind::Client, "Client A", None, &ctx).await.unwrap();
    let count = || async { s.core.store().read().await.unwrap().count_customers().await.unwrap() };
    let import = |bytes: Vec<u8>, encoding| {
        let (core, admin, client) = (s.core.clone(), admin.clone(), a.id.clone());
        async move {
            core.vault
                .import_customers_csv(&admin, &client, &bytes[..], encoding, &mut |_| {}, &Default::default())
                .await
        }
    };

    let header = "name_kanji,name_kana,phones,email,birth_date,card_number,notes\n";
    let good = format!(
        "\u{feff}{header}山田太郎,ヤマダタロウ,03-1111-2222,taro@example.jp,1980-04-01,4111111111111111,\"複数行の\n備考\"\n\
         佐藤花子,サトウハナコ,090-3333-4444,,1990-12-31,,\n"
    );
    assert_eq!(import(good.into_bytes(), CsvEncoding::Utf8).await.unwrap(), 2);
    assert_eq!(count().await, 2);

    let bad = format!(
        "{header}鈴木一郎,スズキイチロウ,0311112222,ok@example.jp,1970-01-01,,\n\
         高橋,タカハシ,not-a-phone,,,,\n\
         田中,タナカ,0355556666,,,4111111111111112,\n\
         伊藤,イトウ,0366667777,,19800401,,\n\
         渡辺,ワタナベ,0377778888\n"
    );
    let Err(ImportError::Refused(refusal)) = import(bad.into_bytes(), CsvEncoding::Utf8).await else {
        panic!("a file with bad rows is refused")
    };
    assert_eq!(refusal.total, 4);
    let problems = refusal.problems;
    let listed: Vec<(u64, Option<&str>)> = problems.iter().map(|p| (p.line, p.column.as_deref())).collect();
    assert_eq!(
        listed,
        vec![(3, Some("phones")), (4, Some("card_number")), (5, Some("birth_date")), (6, None)],
        "every bad line, with its column: {problems:?}"
    );
    assert_eq!(count().await, 2, "nothing of the refused file was written");

    let with_cvv = "name_kanji,phones,CVV\n山本,0388889999,123\n".to_owned();
    let Err(ImportError::Refused(ImportRefusal { problems: p, .. })) =
        import(with_cvv.into_bytes(), CsvEncoding::Utf8).await
    else {
        panic!()
    };
    assert_eq!((p[0].line, p[0].column.as_deref()), (1, Some("CVV")));
    assert!(p[0].message.contains("PCI DSS 3.3.1"));

    // Shift_JIS, as Japanese clients send it.
    let (sjis, _, unmappable) =
        encoding_rs::SHIFT_JIS.encode("name_kanji,name_kana,phones\n中村健,ナカムラケン,06-1234-5678\n");
    assert!(!unmappable);
    assert_eq!(import(sjis.into_owned(), CsvEncoding::ShiftJis).await.unwrap(), 1);
    let mut op = s.principal_of(&s.user("op", &[Role::Operator]).await);
    op.client_ids = vec![a.id.clone()];
    let cards = s.core.vault.find_customers_by_phone(&op, "0612345678", &callback(), &ctx).await.unwrap();
    assert_eq!(cards[0].fields.iter().find(|f| f.field == CustomerField::NameKanji).unwrap().value, "中村健");
    let mut broken = b"name_kanji,phones\n".to_vec();
    broken.extend_from_slice(b"\x82\xa0\x82,0312345678\n\x81\x7f\x81,0312345679\n");
    let Err(ImportError::Refused(ImportRefusal { problems: p, .. })) =
        import(broken, CsvEncoding::ShiftJis).await
    else {
        panic!()
    };
    assert!(p[0].message.contains("Shift_JIS"), "{p:?}");
    let Err(ImportError::Refused(ImportRefusal { problems: p, .. })) =
        import(vec![0xff, 0xfe, b'\n'], CsvEncoding::Utf8).await
    else {
        panic!()
    };
    assert!(p[0].message.contains("UTF-8"), "{p:?}");
    // A file without its header line: the first customer's values are not repeated back.
    let headless = "山田太郎,03-1111-2222\n佐藤花子,090-3333-4444\n".to_owned();
    let Err(ImportError::Refused(r)) = import(headless.into_bytes(), CsvEncoding::Utf8).await else {
        panic!()
    };
    assert_eq!((r.total, r.problems[0].line, r.problems[0].column.as_deref()), (1, 1, None), "{r:?}");
    assert!(r.problems[0].message.contains("not a header") && !format!("{r:?}").contains("山田"), "{r:?}");
    // An unclosed quote would make the rest of the file one row: it is refused at 1 MiB.
    let open_quote = format!("name_kanji,notes\n山田,\"{}\n", "長い備考\n".repeat(300_000));
    let Err(ImportError::Refused(r)) = import(open_quote.into_bytes(), CsvEncoding::Utf8).await else {
        panic!()
    };
    assert_eq!(r.total, 1);
    assert!(r.problems[0].message.contains("longer than 1 MiB"), "{r:?}");
    assert_eq!(count().await, 3);
    assert_eq!(s.audit("customer.import").await.len(), 2, "each import is one audit entry");
    s.stop().await;
}
both_backends!(csv_import);

/// `mamori keys rotate` killed with `kill -9` half-way: every record stays readable, and the
/// next run finishes the rotation (issue 4, "Done when").
async fn key_rotation_survives_kill_9(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = mamori_server::config::ServerConfig::defaults(dir.path().join("data"));
    if backend == Backend::Postgres {
        config.database_url = Some(crate::support::fresh_pg_url().await);
    }
    let open = || mamori_server::serve::open_core(&config, std::sync::Arc::new(mamori_domain::SystemClock));
    let rows = 10_000;
    let (client_id, op) = {
        let core = open().await.unwrap();
        let admin = crate::support::insert_user(&core, "admin", &[Role::SecurityAdmin]).await;
        let p = crate::support::principal(&admin);
        let client = core
            .identity
            .create_org_unit(&p, OrgKind::Client, "Client A", None, &Default::default())
            .await
            .unwrap();
        let mut csv = String::from("name_kanji,phones\n");
        for i in 0..rows {
            csv.push_str(&format!("顧客{i},070{i:08}\n"));
        }
        core.vault
            .import_customers_csv(
                &p,
                &client.id,
                csv.as_bytes(),
                mamori_core::vault::import::CsvEncoding::Utf8,
                &mut |_| {},
                &Default::default(),
            )
            .await
            .unwrap();
        let op = crate::support::insert_user(&core, "op", &[Role::Operator]).await;
        (client.id, op)
    };
    let readable = |core: mamori_core::Core| {
        let mut p = crate::support::principal(&op);
        p.client_ids = vec![client_id.clone()];
        async move {
            for i in [0, rows / 2, rows - 1] {
                let cards = core
                    .vault
                    .find_customers_by_phone(&p, &format!("070{i:08}"), &callback(), &Default::default())
                    .await
                    .unwrap();
                let name =
                    &cards[0].fields.iter().find(|f| f.field == CustomerField::NameKanji).unwrap().value;
                assert_eq!(name, &format!("顧客{i}"));
            }
        }
    };

    let mut cmd = std::process::Command::new(crate::support::mamori_bin());
    cmd.args(["keys", "rotate", "--data-dir", config.data_dir.to_str().unwrap(), "--batch-size", "50"]);
    if let Some(url) = &config.database_url {
        cmd.args(["--database-url", url]);
    }
    let mut child =
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert!(line.starts_with("re-wrapped "), "{line}");
    std::process::Command::new("kill").args(["-9", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap();

    let core = open().await.unwrap();
    let remaining = core.store().read().await.unwrap().count_customers_to_rewrap(2).await.unwrap();
    assert!(remaining > 0 && remaining < rows as i64, "killed half-way ({remaining} of {rows} left)");
    readable(core.clone()).await;

    let out = cmd.stdout(std::process::Stdio::piped()).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("finished the rotation to key version 2"), "{text}");
    let core = open().await.unwrap();
    assert_eq!(core.store().read().await.unwrap().count_customers_to_rewrap(2).await.unwrap(), 0);
    readable(core).await;
}
both_backends!(key_rotation_survives_kill_9);

/// The telephony integration reports a call; looking up its caller then needs no reason, and
/// needs one again once the call ends (issue 4, item 5).
async fn active_call_purpose(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin_user = s.user("admin", &[Role::SecurityAdmin]).await;
    let admin = s.principal_of(&admin_user);
    let ctx = Default::default();
    let a = s.core.identity.create_org_unit(&admin, OrgKind::Client, "Client A", None, &ctx).await.unwrap();
    s.core.vault.create_customer(&admin, &customer(&a.id, "03-1234-5678"), &ctx).await.unwrap();
    let op = s.user("op.a", &[Role::Operator]).await;
    s.core.identity.set_user_clients(&admin, &op.id, std::slice::from_ref(&a.id), &ctx).await.unwrap();
    let cti = s.token(&admin_user, &[mamori_domain::Permission::CtiWrite]).await;
    let op_token = s.token(&op, &[mamori_domain::Permission::CustomersRead]).await;
    let api = reqwest::Client::new();
    let post = |token: &str, path: &str, body: serde_json::Value| {
        api.post(s.url(path)).bearer_auth(token).json(&body).send()
    };
    let on_call = serde_json::json!({"phone": "+81312345678"});
    let problem = |r: reqwest::Response| async move {
        (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
    };

    let (status, p) =
        problem(post(&op_token, "/api/v1/customers/lookup", on_call.clone()).await.unwrap()).await;
    assert_eq!((status, p["code"].as_str()), (422, Some("reason_required")), "no call yet: {p}");
    let start = serde_json::json!({"call_id": "pbx-0001", "operator": "op.a", "caller": "03-1234-5678"});
    assert_eq!(post(&cti, "/api/v1/cti/calls", start.clone()).await.unwrap().status(), 201);
    assert_eq!(post(&cti, "/api/v1/cti/calls", start).await.unwrap().status(), 409, "one call id once");
    assert_eq!(
        post(
            &op_token,
            "/api/v1/cti/calls",
            serde_json::json!({"call_id": "x", "operator": "op.a", "caller": "0312345678"})
        )
        .await
        .unwrap()
        .status(),
        403
    );

    let r = post(&op_token, "/api/v1/customers/lookup", on_call.clone()).await.unwrap();
    assert_eq!(r.status(), 200, "the caller on the operator's active call");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["customers"].as_array().unwrap().len(), 1);
    let (status, _) = problem(
        post(&op_token, "/api/v1/customers/lookup", serde_json::json!({"phone": "0399998888"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422, "another number still needs a reason");
    let lookups = s.audit("customer.lookup").await;
    let on_call_entry =
        lookups.iter().find(|e| e.details.get("purpose").map(String::as_str) == Some("active_call")).unwrap();
    assert!(on_call_entry.details.contains_key("call"));

    assert_eq!(
        post(&cti, "/api/v1/cti/calls/end", serde_json::json!({"call_id": "pbx-0001"}))
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        post(&cti, "/api/v1/cti/calls/end", serde_json::json!({"call_id": "pbx-0001"}))
            .await
            .unwrap()
            .status(),
        404
    );
    let (status, _) = problem(post(&op_token, "/api/v1/customers/lookup", on_call).await.unwrap()).await;
    assert_eq!(status, 422, "after the call, a reason again");
    for action in ["cti.call_start", "cti.call_end"] {
        let entries = serde_json::to_string(&s.audit(action).await).unwrap();
        assert!(
            entries.contains(action) && !entries.contains("1234-5678") && !entries.contains("+81312345678"),
            "{entries}"
        );
    }
    s.stop().await;
}
both_backends!(active_call_purpose);

/// Revealing a masked field: with a reason, in full, recorded, within the user's allowance —
/// then refused; never another client's customer, never a field the role does not see.
async fn reveal_with_a_reason(backend: Backend) {
    let s = TestServer::start_with(backend, |c| {
        c.reveals = mamori_domain::rate::RateLimit { capacity: 2, per_hour: 1 }
    })
    .await;
    let admin_user = s.user("admin", &[Role::SecurityAdmin]).await;
    let admin = s.principal_of(&admin_user);
    let ctx = Default::default();
    let a = s.core.identity.create_org_unit(&admin, OrgKind::Client, "Client A", None, &ctx).await.unwrap();
    let b = s.core.identity.create_org_unit(&admin, OrgKind::Client, "Client B", None, &ctx).await.unwrap();
    let in_a = s.core.vault.create_customer(&admin, &customer(&a.id, "0312345678"), &ctx).await.unwrap();
    let in_b = s.core.vault.create_customer(&admin, &customer(&b.id, "0312345678"), &ctx).await.unwrap();
    let op = s.user("op.a", &[Role::Operator]).await;
    s.core.identity.set_user_clients(&admin, &op.id, std::slice::from_ref(&a.id), &ctx).await.unwrap();
    let token = s.token(&op, &[mamori_domain::Permission::CustomersRead]).await;
    let api = reqwest::Client::new();
    let reveal = |id: &str, field: &str| {
        api.post(s.url(&format!("/api/v1/customers/{id}/reveal")))
            .bearer_auth(&token)
            .json(&serde_json::json!({"field": field, "reason_code": "fraud_check", "reason_text": "カード不正利用の確認"}))
            .send()
    };
    let r = reveal(&in_a, "card_number").await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["value"], "4111111111111111", "in full");
    assert_eq!(
        reveal(&in_b, "card_number").await.unwrap().status(),
        404,
        "another client's customer is not there"
    );
    assert_eq!(reveal(&in_a, "favourite_colour").await.unwrap().status(), 422);
    assert_eq!(reveal(&in_a, "phones").await.unwrap().status(), 200, "the second of two");
    let r = reveal(&in_a, "email").await.unwrap();
    assert_eq!(r.status(), 403, "beyond the allowance");
    s.clock.advance(std::time::Duration::from_secs(3600));
    assert_eq!(reveal(&in_a, "email").await.unwrap().status(), 200, "an hour later, one more");
    let (entries, refused): (Vec<_>, Vec<_>) = s
        .audit("customer.reveal")
        .await
        .into_iter()
        .partition(|e| e.outcome == mamori_audit::Outcome::Success);
    assert_eq!(entries.len(), 3, "every reveal recorded");
    // Refusals are evidence too (DESIGN invariant 9): another client's customer, the allowance.
    let mut reasons: Vec<&str> = refused.iter().map(|e| e.details["reason"].as_str()).collect();
    reasons.sort_unstable();
    assert_eq!(reasons, ["allowance", "client_scope"]);
    assert!(refused.iter().all(|e| e.outcome == mamori_audit::Outcome::Denied
        && e.object.as_deref().is_some_and(|o| o.starts_with("customer:h:"))));
    assert!(entries.iter().all(|e| e.details["reason_code"] == "fraud_check"
        && e.object.as_deref().is_some_and(|o| o.starts_with("customer:h:"))));
    assert!(!serde_json::to_string(&entries).unwrap().contains("4111111111111111"));
    s.stop().await;
}
both_backends!(reveal_with_a_reason);

/// Lookups by e-mail and by name with birth date find the same customer, however the values
/// are written; an active call never covers them (issue 4, item 3).
async fn lookup_by_email_and_name(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.principal_of(&s.user("admin", &[Role::SecurityAdmin]).await);
    let ctx = Default::default();
    let a = s.core.identity.create_org_unit(&admin, OrgKind::Client, "Client A", None, &ctx).await.unwrap();
    let id = s.core.vault.create_customer(&admin, &customer(&a.id, "0312345678"), &ctx).await.unwrap();
    let op = s.user("op.a", &[Role::Operator]).await;
    s.core.identity.set_user_clients(&admin, &op.id, std::slice::from_ref(&a.id), &ctx).await.unwrap();
    let token = s.token(&op, &[mamori_domain::Permission::CustomersRead]).await;
    let api = reqwest::Client::new();
    let lookup = |body: serde_json::Value| {
        api.post(s.url("/api/v1/customers/lookup")).bearer_auth(&token).json(&body).send()
    };
    let reason = |mut v: serde_json::Value| {
        v["reason_code"] = "callback".into();
        v["reason_text"] = "お約束の折り返し".into();
        v
    };
    for key in [
        serde_json::json!({"email": " TARO.YAMADA@example.jp "}),
        serde_json::json!({"name": "山田　太郎", "birth_date": "1980-04-01"}),
        serde_json::json!({"name": "やまだ たろう", "birth_date": "1980-04-01"}),
    ] {
        let r = lookup(reason(key.clone())).await.unwrap();
        assert_eq!(r.status(), 200, "{key}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["customers"][0]["id"], id.as_str(), "{key}");
    }
    let r =
        lookup(reason(serde_json::json!({"name": "山田太郎", "birth_date": "1980-04-02"}))).await.unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["customers"].as_array().unwrap().len(), 0, "another birth date, nobody");
    for bad in [
        serde_json::json!({}),
        serde_json::json!({"phone": "0312345678", "email": "a@b.jp"}),
        serde_json::json!({"name": "山田"}),
    ] {
        let r = lookup(reason(bad.clone())).await.unwrap();
        assert_eq!(r.status(), 422, "{bad}");
    }
    let r = lookup(serde_json::json!({"email": "taro.yamada@example.jp"})).await.unwrap();
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["code"], "reason_required");
    let by: Vec<String> = s.audit("customer.lookup").await.iter().map(|e| e.details["by"].clone()).collect();
    assert!(by.contains(&"email".to_owned()) && by.contains(&"name_birth".to_owned()), "{by:?}");
    s.stop().await;
}
both_backends!(lookup_by_email_and_name);

/// Issue 4, done when: a 100,000-row file with some bad rows is refused with every bad line
/// listed; the clean file imports completely; and the database then holds none of the imported
/// values in plaintext.
async fn hundred_thousand_rows(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.principal_of(&s.user("admin", &[Role::SecurityAdmin]).await);
    let ctx = Default::default();
    let a = s.core.identity.create_org_unit(&admin, OrgKind::Client, "Client A", None, &ctx).await.unwrap();
    let rows = 100_000;
    let file = |bad_every: Option<usize>| {
        let mut csv = String::from("name_kanji,phones,email,postal_address,card_number\n");
        for i in 0..rows {
            let phone = match bad_every {
                Some(n) if i % n == n - 1 => "not-a-phone".to_owned(),
                _ => format!("080{i:08}"),
            };
            csv.push_str(&format!(
                "取込顧客{i:06},{phone},imported{i:06}@example.jp,大阪府大阪市取込町{i},5555555555554444\n"
            ));
        }
        csv.into_bytes()
    };
    let import = |bytes: Vec<u8>| {
        let (core, admin, client) = (s.core.clone(), admin.clone(), a.id.clone());
        async move {
            core.vault
                .import_customers_csv(
                    &admin,
                    &client,
                    &bytes[..],
                    CsvEncoding::Utf8,
                    &mut |_| {},
                    &Default::default(),
                )
                .await
        }
    };
    let Err(ImportError::Refused(refusal)) = import(file(Some(1000))).await else {
        panic!("a file with bad rows is refused")
    };
    assert_eq!(refusal.total, 100);
    let lines: Vec<u64> = refusal.problems.iter().map(|p| p.line).collect();
    let expected: Vec<u64> = (1..=100).map(|k| k * 1000 + 1).collect();
    assert_eq!(lines, expected, "every bad line (file line = row + 1 for the header)");
    assert_eq!(s.core.store().read().await.unwrap().count_customers().await.unwrap(), 0);
    assert_eq!(import(file(None)).await.unwrap(), rows as u64);
    assert_eq!(s.core.store().read().await.unwrap().count_customers().await.unwrap(), rows as i64);

    s.core.audit.checkpoint_audit_log().await.unwrap();
    let dump = database_bytes(&s).await;
    for i in [0, 4_242, rows - 1] {
        for value in [
            format!("取込顧客{i:06}"),
            format!("+8180{i:08}"),
            format!("imported{i:06}@example.jp"),
            format!("取込町{i}"),
        ] {
            assert!(!contains(&dump, value.as_bytes()), "the database holds `{value}` in plaintext");
        }
    }
    assert!(!contains(&dump, b"5555555555554444"), "no card number in plaintext");
    s.stop().await;
}
both_backends!(hundred_thousand_rows);

/// Issue 12, item 3: a refused import over the API lists the first problems (five here, by
/// configuration) and counts them all; the file is written a chunk at a time inside one
/// transaction, and a problem after the first chunks were written still leaves nothing behind.
async fn import_lists_first_problems(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.import_max_listed_problems = 5).await;
    let admin_user = s.user("admin", &[Role::SecurityAdmin]).await;
    let admin = s.principal_of(&admin_user);
    let a = s
        .core
        .identity
        .create_org_unit(&admin, OrgKind::Client, "Client A", None, &Default::default())
        .await
        .unwrap();
    let token = s.token(&admin_user, &[mamori_domain::Permission::CustomersManage]).await;
    let api = reqwest::Client::new();
    let post = |body: String| {
        api.post(s.url(&format!("/api/v1/customers/import?client_id={}", a.id)))
            .bearer_auth(&token)
            .header("content-type", "text/csv")
            .body(body)
            .send()
    };
    let count = || async { s.core.store().read().await.unwrap().count_customers().await.unwrap() };
    // 10,000 rows (more than two chunks); `bad` rows have a bad phone, `broken` ones a cell too many.
    let file = |bad: &dyn Fn(usize) -> bool, broken: &dyn Fn(usize) -> bool| {
        let mut csv = String::from("name_kanji,phones\n");
        for i in 0..10_000 {
            match (bad(i), broken(i)) {
                (true, _) => csv.push_str(&format!("顧客{i},not-a-phone\n")),
                (_, true) => csv.push_str(&format!("顧客{i},070{i:08},extra\n")),
                _ => csv.push_str(&format!("顧客{i},070{i:08}\n")),
            }
        }
        csv
    };

    let r = post(file(&|i| i % 100 == 7, &|i| i % 100 == 50)).await.unwrap();
    assert_eq!(r.status(), 422);
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["code"], "import_refused");
    assert_eq!(p["problems_total"], 200, "100 bad phones and 100 broken rows, all counted: {p}");
    let listed: Vec<(u64, Option<&str>)> = p["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["line"].as_u64().unwrap(), q["column"].as_str()))
        .collect();
    assert_eq!(
        listed,
        vec![(9, Some("phones")), (52, None), (109, Some("phones")), (152, None), (209, Some("phones"))],
        "the first five, in the file's order: {p}"
    );
    assert!(p["detail"].as_str().unwrap().contains("200 problem(s), the first 5 listed"), "{p}");
    assert!(!p.to_string().contains("顧客"), "no value in the answer: {p}");
    assert_eq!(count().await, 0);

    // Over the API and directly: the only bad row comes after two chunks were written.
    let late = file(&|i| i == 9_000, &|_| false);
    let r = post(late.clone()).await.unwrap();
    assert_eq!(r.status(), 422);
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!((p["problems_total"].as_u64(), p["problems"][0]["line"].as_u64()), (Some(1), Some(9_002)));
    let direct = s
        .core
        .vault
        .import_customers_csv(
            &admin,
            &a.id,
            late.as_bytes(),
            CsvEncoding::Utf8,
            &mut |_| {},
            &Default::default(),
        )
        .await;
    assert!(matches!(direct, Err(ImportError::Refused(ref r)) if r.total == 1), "{direct:?}");
    assert_eq!(count().await, 0, "nothing of a refused file is written, however far it got");

    let r = post(file(&|_| false, &|_| false)).await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["imported"], 10_000);
    assert_eq!(count().await, 10_000);
    let entries = s.audit("customer.import").await;
    assert_eq!(entries.len(), 1, "one audit entry for the whole file");
    s.stop().await;
}
both_backends!(import_lists_first_problems);

/// A value (in KiB) of `/proc/<pid>/status`: `VmRSS`, or `VmHWM` for the peak.
fn proc_status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(key)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Issue 12, item 3: a file in which every one of 8,000,000 rows is wrong (`notes`, then
/// `a,b` rows: two cells where the header has one — what a file in the wrong encoding or with
/// the wrong separator looks like) is refused with the first problems listed and the total
/// counted, and a real `mamori serve` process grows by less than 100 MB meanwhile (it grew by
/// 1.2 GB and answered with 495 MB).
async fn import_memory_bounded(backend: Backend) {
    use crate::support::{ServeProcess, api_token, insert_user, principal};
    let dir = tempfile::tempdir().unwrap();
    let mut config = mamori_server::config::ServerConfig::defaults(dir.path().join("data"));
    if backend == Backend::Postgres {
        config.database_url = Some(crate::support::fresh_pg_url().await);
    }
    let (token, client) = {
        let core = mamori_server::serve::open_core(&config, std::sync::Arc::new(mamori_domain::SystemClock))
            .await
            .unwrap();
        let admin = insert_user(&core, "admin", &[Role::SecurityAdmin]).await;
        let client = core
            .identity
            .create_org_unit(&principal(&admin), OrgKind::Client, "Client A", None, &Default::default())
            .await
            .unwrap();
        (api_token(&core, &admin, &[mamori_domain::Permission::CustomersManage]).await, client.id)
    };
    let server = ServeProcess::start(&config).await;
    let rows = 8_000_000;
    let mut body = b"notes\n".to_vec();
    body.reserve(4 * rows);
    for _ in 0..rows {
        body.extend_from_slice(b"a,b\n");
    }
    let size = body.len();
    let rss_before = proc_status_kib(server.pid(), "VmRSS");
    let started = std::time::Instant::now();
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/customers/import?client_id={client}", server.base))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let answer = r.bytes().await.unwrap();
    let took = started.elapsed();
    let peak = proc_status_kib(server.pid(), "VmHWM");
    let rss_after = proc_status_kib(server.pid(), "VmRSS");
    let growth_mb = peak.saturating_sub(rss_before) as f64 / 1024.0;
    eprintln!(
        "{backend:?}: {size} bytes, {rows} bad rows: {status}, answer {} bytes, {:.1} s; \
         RSS {rss_before} KiB before, peak {peak} KiB (+{growth_mb:.0} MiB), {rss_after} KiB after",
        answer.len(),
        took.as_secs_f64()
    );
    assert_eq!(status, 422);
    assert!(growth_mb < 100.0, "the server grew by {growth_mb:.0} MiB");
    assert!(answer.len() < 1024 * 1024, "a short answer, not {} bytes", answer.len());
    let p: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(p["code"], "import_refused");
    assert_eq!(p["problems_total"], rows as u64);
    let listed = p["problems"].as_array().unwrap();
    assert_eq!(listed.len(), 1000, "the first 1,000 (the default) are listed");
    assert_eq!(listed[0]["line"], 2);
    assert_eq!(listed[999]["line"], 1001);

    // A file over the 256 MiB limit sent without a length (chunked) is cut off with 413.
    let mib = format!("山田,{}\n", "x".repeat(8184)).repeat(128).into_bytes();
    let chunks = std::iter::once(Ok::<_, std::io::Error>(b"name_kanji,notes\n".to_vec()))
        .chain(std::iter::repeat_n(mib, 260).map(Ok));
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/customers/import?client_id={client}", server.base))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let p: serde_json::Value = r.json().await.unwrap();
    assert!(p["detail"].as_str().unwrap().contains("256 MiB"), "{p}");
    server.stop();
}
both_backends!(import_memory_bounded);
