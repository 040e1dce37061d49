//! The ISMS register pages change what they show (issue 17): a vendor registered, edited,
//! assessed, visited, certified and retired through its confirmation; an asset, a risk and a
//! legal requirement edited (and retired where the register allows it); a refused form comes
//! back with the reason in words and what was typed; an auditor gets no form and a 403 on a
//! post — in the console, with its CSRF tokens, both databases.

use crate::both_backends;
use crate::support::{Backend, Browser, TestServer, principal};
use mamori_domain::Role;
use mamori_domain::isms::vendor::Criterion;

fn jst_day(s: &TestServer, days: i64) -> String {
    mamori_domain::UnixMillis(s.core.now().0 + 9 * 3_600_000 + days * 86_400_000).rfc3339()[..10].to_owned()
}

fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

/// Posts a form of owned pairs.
async fn post(b: &Browser, path: &str, form: &[(String, String)]) -> reqwest::Response {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    b.post_form(path, &pairs).await
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// The id a redirect to `{prefix}{id}?saved=1` names.
fn saved_id(r: &reqwest::Response, prefix: &str) -> String {
    assert_eq!(r.status(), 303, "{:?}", r.headers());
    let to = location(r);
    assert!(to.starts_with(prefix) && to.ends_with("?saved=1"), "{to}");
    to[prefix.len()..to.len() - "?saved=1".len()].to_owned()
}

async fn vendor_forms(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = principal(s.user("sec", &[Role::SecurityAdmin]).await);
    s.user("kansa", &[Role::Auditor]).await;
    let ctx = Default::default();
    let client = s
        .core
        .identity
        .create_org_unit(&admin, mamori_store::OrgKind::Client, "通販A社", None, &ctx)
        .await
        .unwrap();
    let b = s.signed_in("sec").await;
    let csrf = b.csrf("/isms/vendors").await;

    // The list has the form; client companies are offered by name.
    let page = b.get("/isms/vendors").await.text().await.unwrap();
    assert!(page.contains("id=\"vendor-form\"") && page.contains("通販A社"), "{page}");
    assert!(page.contains("id=\"own-certificate-form\""));

    let r = b
        .post_form(
            "/isms/vendors",
            &[
                ("_csrf", &csrf),
                ("name", "コールサポート株式会社"),
                ("client_ids", &client.id),
                ("data_handled", "氏名・電話番号"),
                ("contact", "営業部 佐藤"),
                ("review_on", &jst_day(&s, 180)),
            ],
        )
        .await;
    let outsourcer = saved_id(&r, "/isms/vendors/");
    // The outsourcer is chosen by name.
    let page = b.get("/isms/vendors").await.text().await.unwrap();
    assert!(
        page.contains(&format!("<option value=\"{outsourcer}\">コールサポート株式会社</option>")),
        "{page}"
    );
    let r = b
        .post_form(
            "/isms/vendors",
            &[("_csrf", &csrf), ("name", "データ入力サービス"), ("parent_id", &outsourcer)],
        )
        .await;
    let sub = saved_id(&r, "/isms/vendors/");
    let page = b.get("/isms/vendors").await.text().await.unwrap();
    assert!(page.contains("データ入力サービス"));

    // A bad date: the form again, the reason in words, what was typed kept.
    let r = b
        .post_form(
            "/isms/vendors",
            &[("_csrf", &csrf), ("name", "誤入力テスト社"), ("review_on", "2026-13-45")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("id=\"vendor-form-error\"") && text.contains("見直し日を日付で入力してください。"),
        "{text}"
    );
    assert!(text.contains("value=\"誤入力テスト社\"") && text.contains("value=\"2026-13-45\""));
    assert!(text.contains("id=\"vendor-create\" open"), "the refused form is open");

    // The vendor page: the edit form prefilled, the client ticked.
    let at = format!("/isms/vendors/{outsourcer}");
    let page = b.get(&format!("{at}?saved=1")).await.text().await.unwrap();
    assert!(page.contains("保存しました。"));
    assert!(page.contains("id=\"vendor-edit-form\"") && page.contains("value=\"営業部 佐藤\""));
    assert!(page.contains(&format!("value=\"{}\" checked", client.id)), "{page}");
    assert!(!page.contains(&format!("<option value=\"{outsourcer}\"")), "not its own outsourcer");
    assert!(!page.contains(&format!("<option value=\"{sub}\"")), "nor under its subcontractor");
    let r = b
        .post_form(
            &at,
            &[
                ("_csrf", &csrf),
                ("name", "コールサポート株式会社"),
                ("client_ids", &client.id),
                ("data_handled", "氏名・電話番号・購入履歴"),
                ("contact", "営業部 佐藤"),
                ("review_on", &jst_day(&s, 200)),
            ],
        )
        .await;
    assert_eq!(saved_id(&r, "/isms/vendors/"), outsourcer);
    let r = b
        .post_form(&at, &[("_csrf", &csrf), ("name", "コールサポート株式会社"), ("review_on", "tomorrow")])
        .await;
    assert_eq!(r.status(), 422);
    let text = r.text().await.unwrap();
    assert!(text.contains("id=\"vendor-edit\" open") && text.contains("value=\"tomorrow\""), "{text}");

    // An assessment: every criterion 1–5.
    let mut form = pairs(&[("_csrf", &csrf), ("assessed_on", &jst_day(&s, 0)), ("notes", "年次評価")]);
    for c in Criterion::ALL {
        form.push((format!("score.{}", c.as_str()), "4".to_owned()));
    }
    let r = post(&b, &format!("{at}/assessments"), &form).await;
    assert_eq!(saved_id(&r, "/isms/vendors/"), outsourcer);
    // One criterion left out: refused, in words.
    let r = post(&b, &format!("{at}/assessments"), &form[..form.len() - 1]).await;
    assert_eq!(r.status(), 422);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("すべての評価項目を 1〜5 で採点してください。")
            && text.contains("id=\"vendor-assess\" open")
    );

    // A site visit and a certificate.
    let r = b
        .post_form(
            &format!("{at}/visits"),
            &[
                ("_csrf", &csrf),
                ("visited_on", &jst_day(&s, -1)),
                ("visitor", "情報セキュリティ委員会 田中"),
                ("findings", "入退室管理と施錠保管を確認"),
            ],
        )
        .await;
    assert_eq!(saved_id(&r, "/isms/vendors/"), outsourcer);
    let r = b
        .post_form(
            &format!("{at}/certificates"),
            &[
                ("_csrf", &csrf),
                ("scheme", "privacy_mark"),
                ("number", "第12345678(05)号"),
                ("issuer", "JIPDEC"),
                ("first_obtained_on", "2016-04-01"),
                ("issued_on", &jst_day(&s, -100)),
                ("expires_on", &jst_day(&s, 500)),
            ],
        )
        .await;
    assert_eq!(saved_id(&r, "/isms/vendors/"), outsourcer);
    let page = b.get(&at).await.text().await.unwrap();
    for shown in [
        "氏名・電話番号・購入履歴",
        "40 / 50 点",
        "入退室管理と施錠保管を確認",
        "第12345678(05)号",
        "プライバシーマーク",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    // Expiry past the scheme's two years: refused by field.
    let r = b
        .post_form(
            &format!("{at}/certificates"),
            &[
                ("_csrf", &csrf),
                ("scheme", "privacy_mark"),
                ("number", "第12345678(06)号"),
                ("first_obtained_on", "2016-04-01"),
                ("issued_on", &jst_day(&s, -10)),
                ("expires_on", &jst_day(&s, 1000)),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let text = r.text().await.unwrap();
    assert!(text.contains("有効期限を") && text.contains("value=\"第12345678(06)号\""), "{text}");

    // The centre's own certificate, where the certificates are listed.
    let r = b
        .post_form(
            "/isms/certificates",
            &[
                ("_csrf", &csrf),
                ("scheme", "iso27001"),
                ("number", "IS 700001"),
                ("issuer", "認証機関B"),
                ("first_obtained_on", "2019-07-01"),
                ("issued_on", &jst_day(&s, -30)),
                ("expires_on", &jst_day(&s, 900)),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/isms/vendors?saved=1#certificates");
    let page = b.get("/isms/vendors").await.text().await.unwrap();
    assert!(page.contains("IS 700001") && page.contains("own-certificate"));

    // Retiring asks first; the confirmation posts with its token.
    let r = b.get(&format!("/isms/vendors/{sub}/retire")).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("id=\"confirm-question\"") && text.contains("データ入力サービス"), "{text}");
    assert!(text.contains(&format!("action=\"/isms/vendors/{sub}/retire\"")));
    let csrf_confirm = crate::support::hidden_value(&text, "_csrf").unwrap();
    let r = b.post_form(&format!("/isms/vendors/{sub}/retire"), &[("_csrf", &csrf_confirm)]).await;
    assert_eq!(saved_id(&r, "/isms/vendors/"), sub);
    let page = b.get(&format!("/isms/vendors/{sub}")).await.text().await.unwrap();
    assert!(
        page.contains("廃止") && !page.contains("id=\"vendor-edit-form\""),
        "no form on a retired vendor"
    );
    let list = b.get("/isms/vendors").await.text().await.unwrap();
    assert!(!list.contains("データ入力サービス"), "gone from the list");
    let changes: Vec<String> =
        s.audit("vendor.change").await.iter().filter_map(|e| e.details.get("change").cloned()).collect();
    for change in ["create", "update", "assess", "visit", "retire"] {
        assert!(changes.iter().any(|c| c == change), "{change} audited: {changes:?}");
    }

    // The auditor reads, with no form; a post is refused.
    let a = s.signed_in("kansa").await;
    let page = a.get("/isms/vendors").await.text().await.unwrap();
    assert!(!page.contains("id=\"vendor-form\"") && !page.contains("id=\"own-certificate-form\""));
    let page = a.get(&at).await.text().await.unwrap();
    assert!(page.contains("コールサポート株式会社") && !page.contains("id=\"vendor-manage\""), "{page}");
    let csrf = a.csrf("/isms/vendors").await;
    assert_eq!(a.post_form("/isms/vendors", &[("_csrf", &csrf), ("name", "x")]).await.status(), 403);
    assert_eq!(a.post_form(&at, &[("_csrf", &csrf), ("name", "x")]).await.status(), 403);
    assert_eq!(a.get(&format!("{at}/retire")).await.status(), 403);
    assert_eq!(a.post_form(&format!("{at}/retire"), &[("_csrf", &csrf)]).await.status(), 403);
    s.stop().await;
}
both_backends!(vendor_forms);

async fn asset_risk_legal_forms(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.user("sec", &[Role::SecurityAdmin]).await;
    s.user("kansa", &[Role::Auditor]).await;
    let b = s.signed_in("sec").await;
    let csrf = b.csrf("/isms/assets").await;

    // An asset registered, then edited on its page.
    let r = b
        .post_form(
            "/isms/assets",
            &[
                ("_csrf", &csrf),
                ("kind", "document"),
                ("name", "紙の申込書"),
                ("location", "3階 書庫"),
                ("confidentiality", "restricted"),
                ("integrity", "medium"),
                ("availability", "daytime_stop_ok"),
            ],
        )
        .await;
    let asset = saved_id(&r, "/isms/assets/");
    let at = format!("/isms/assets/{asset}");
    let page = b.get(&at).await.text().await.unwrap();
    assert!(page.contains("id=\"asset-edit-form\"") && page.contains("value=\"3階 書庫\""), "prefilled");
    let edit = |review_on: &'static str| {
        [
            ("kind", "document"),
            ("name", "紙の申込書（原本）"),
            ("location", "3階 書庫 B"),
            ("confidentiality", "restricted"),
            ("integrity", "high"),
            ("availability", "daytime_stop_ok"),
            ("review_on", review_on),
            ("notes", "年1回 棚卸し"),
        ]
    };
    let mut form = pairs(&edit("2026-02-30"));
    form.push(("_csrf".into(), csrf.clone()));
    let r = post(&b, &at, &form).await;
    assert_eq!(r.status(), 422);
    let text = r.text().await.unwrap();
    assert!(text.contains("見直し日を日付で入力してください。"), "{text}");
    assert!(
        text.contains("value=\"紙の申込書（原本）\"")
            && text.contains("value=\"2026-02-30\"")
            && text.contains("年1回 棚卸し")
    );
    assert!(text.contains("id=\"asset-edit\" open"));
    let mut form = pairs(&edit(""));
    form.push(("_csrf".into(), csrf.clone()));
    let r = post(&b, &at, &form).await;
    assert_eq!(saved_id(&r, "/isms/assets/"), asset);
    let page = b.get(&at).await.text().await.unwrap();
    assert!(page.contains("紙の申込書（原本）") && page.contains("3階 書庫 B"));

    // Retired through the confirmation.
    let text = b.get(&format!("{at}/retire")).await.text().await.unwrap();
    assert!(text.contains("id=\"confirm-question\"") && text.contains("紙の申込書（原本）"), "{text}");
    let token = crate::support::hidden_value(&text, "_csrf").unwrap();
    let r = b.post_form(&format!("{at}/retire"), &[("_csrf", &token)]).await;
    assert_eq!(saved_id(&r, "/isms/assets/"), asset);
    let page = b.get(&at).await.text().await.unwrap();
    assert!(page.contains("廃止") && !page.contains("id=\"asset-edit-form\""));
    assert!(s.audit("asset.change").await.iter().any(|e| e.details["change"] == "retire"));

    // A risk edited.
    let r = b
        .post_form(
            "/isms/risks",
            &[
                ("_csrf", &csrf),
                ("title", "在宅端末からの持ち出し"),
                ("inherent_probability", "3"),
                ("inherent_impact", "3"),
                ("treatment", "undecided"),
            ],
        )
        .await;
    let risk = saved_id(&r, "/isms/risks/");
    let at = format!("/isms/risks/{risk}");
    let page = b.get(&at).await.text().await.unwrap();
    assert!(page.contains("id=\"risk-edit-form\"") && page.contains("value=\"在宅端末からの持ち出し\""));
    let r = b
        .post_form(
            &at,
            &[
                ("_csrf", &csrf),
                ("title", "在宅端末からの持ち出し"),
                ("inherent_probability", "3"),
                ("inherent_impact", "3"),
                ("residual_probability", "1"),
                ("residual_impact", "3"),
                ("treatment", "reduce"),
                ("controls", "A.8.12"),
                ("due_on", "2026-99-01"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("value=\"2026-99-01\""));
    let r = b
        .post_form(
            &at,
            &[
                ("_csrf", &csrf),
                ("title", "在宅端末からの持ち出し"),
                ("inherent_probability", "3"),
                ("inherent_impact", "3"),
                ("residual_probability", "1"),
                ("residual_impact", "3"),
                ("treatment", "reduce"),
                ("controls", "A.8.12"),
            ],
        )
        .await;
    assert_eq!(saved_id(&r, "/isms/risks/"), risk);
    let page = b.get(&at).await.text().await.unwrap();
    assert!(page.contains("value=\"A.8.12\""), "the control by its number");

    // A legal requirement edited and retired.
    let r = b
        .post_form(
            "/isms/legal",
            &[
                ("_csrf", &csrf),
                ("kind", "law"),
                ("title", "個人情報保護法"),
                ("obligations", "安全管理措置"),
            ],
        )
        .await;
    let law = saved_id(&r, "/isms/legal/");
    let at = format!("/isms/legal/{law}");
    let r = b
        .post_form(
            &at,
            &[
                ("_csrf", &csrf),
                ("kind", "law"),
                ("title", "個人情報の保護に関する法律"),
                ("obligations", "安全管理措置、委託先の監督"),
            ],
        )
        .await;
    assert_eq!(saved_id(&r, "/isms/legal/"), law);
    let text = b.get(&format!("{at}/retire")).await.text().await.unwrap();
    assert!(text.contains("個人情報の保護に関する法律"));
    let token = crate::support::hidden_value(&text, "_csrf").unwrap();
    let r = b.post_form(&format!("{at}/retire"), &[("_csrf", &token)]).await;
    assert_eq!(saved_id(&r, "/isms/legal/"), law);
    assert!(!b.get(&at).await.text().await.unwrap().contains("id=\"legal-edit-form\""));

    // The auditor: no forms, and 403.
    let a = s.signed_in("kansa").await;
    let page = a.get(&format!("/isms/risks/{risk}")).await.text().await.unwrap();
    assert!(!page.contains("id=\"risk-edit-form\""));
    let csrf = a.csrf("/isms/risks").await;
    let r = a.post_form(&format!("/isms/risks/{risk}"), &[("_csrf", &csrf), ("title", "x")]).await;
    assert_eq!(r.status(), 403);
    assert_eq!(a.get(&format!("/isms/assets/{asset}/retire")).await.status(), 403);
    s.stop().await;
}
both_backends!(asset_risk_legal_forms);
