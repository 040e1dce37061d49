//! The demo contact center: a BPO serving two client companies from two sites, with about forty
//! staff in every role, and 10,000 customers. Everything is plainly synthetic (names end in
//! "(デモ)" / "(demo)" or read "デモ顧客").
//! Later features add their own demo data here.

use crate::vault::NewCustomer;
use crate::{Core, CoreError, Principal, new_id, settings};
use mamori_audit::{Actor, AuditEvent, Outcome, actions};
use mamori_domain::Role;
use mamori_domain::activity::{Shift, ShiftSchedule, Weekday};
use mamori_domain::identity::UserStatus;
use mamori_store::{OrgKind, OrgUnit, UserRecord};

/// Every demo account signs in with this password.
pub const DEMO_PASSWORD: &str = "mamori-demo-2026";
/// The TOTP secret every demo account that needs a second factor is enrolled with. Published on
/// purpose: `mamori demo-totp` prints the current code.
pub const DEMO_TOTP_SECRET: &str = "MFQW2ZLSNFSGK3LPMFQW2ZLSNFSGK3LP";

/// Synthetic customers the demo loads, split between its two client companies.
pub const DEMO_CUSTOMERS: usize = 10_000;
/// A demo customer's phone number to try a lookup with (client: the first demo client).
pub const DEMO_SAMPLE_PHONE: &str = "050-1000-0000";
/// The demo center's own mail domain (mail only to it passes the relay at once).
pub const DEMO_MAIL_DOMAIN: &str = "demo-center.example.jp";

/// One line of the demo's sign-in sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoAccount {
    pub username: String,
    pub role: Role,
    pub needs_totp: bool,
}

/// (username prefix, display name stem, role, count)
const STAFF: [(&str, &str, Role, usize); 4] = [
    ("demo-op", "オペレーター", Role::Operator, 30),
    ("demo-sv", "スーパーバイザー", Role::Supervisor, 6),
    ("demo-admin", "セキュリティ管理者", Role::SecurityAdmin, 2),
    ("demo-auditor", "監査人", Role::Auditor, 2),
];

impl Core {
    /// Loads the demo into an empty database; does nothing if it is already loaded. Refuses a
    /// database that holds real users.
    pub async fn load_demo(&self) -> Result<Vec<DemoAccount>, CoreError> {
        let accounts = demo_accounts();
        let mut read = self.base.store.read().await?;
        if read.setting(settings::DEMO_LOADED).await?.is_some() {
            return Ok(accounts);
        }
        if read.count_users().await? > 0 {
            return Err(CoreError::Conflict(
                "this data directory already holds real users; run the demo with its own --data-dir".into(),
            ));
        }
        drop(read);

        let hash = crate::hash_password(DEMO_PASSWORD).await?;
        let now = self.now();
        let mut tx = self.base.store.begin().await?;
        let unit = |kind, name: &str, site_id: Option<&str>| OrgUnit {
            id: new_id(),
            kind,
            name: name.to_owned(),
            site_id: site_id.map(str::to_owned),
            created_at: now,
        };
        let tokyo = unit(OrgKind::Site, "東京第1センター (デモ)", None);
        let sapporo = unit(OrgKind::Site, "札幌センター (デモ)", None);
        let clients = [
            unit(OrgKind::Client, "サンプル通販株式会社 (デモ)", None),
            unit(OrgKind::Client, "Example Insurance Co. (demo)", None),
        ];
        let teams = [
            unit(OrgKind::Team, "通販受注チーム (デモ)", Some(&tokyo.id)),
            unit(OrgKind::Team, "保険サポートチーム (デモ)", Some(&tokyo.id)),
            unit(OrgKind::Team, "札幌夜間チーム (デモ)", Some(&sapporo.id)),
        ];
        for u in [&tokyo, &sapporo].into_iter().chain(&clients).chain(&teams) {
            tx.insert_org_unit(u).await?;
        }

        let sealed_for = |id: &str| self.identity.secrets.seal(DEMO_TOTP_SECRET.as_bytes(), id);
        let mut index = 0usize;
        for (prefix, stem, role, count) in STAFF {
            for n in 1..=count {
                let team = &teams[index % teams.len()];
                let client = &clients[index % clients.len()];
                index += 1;
                let id = new_id();
                let totp_secret = if role.requires_totp() { Some(sealed_for(&id)?) } else { None };
                let user = UserRecord {
                    team_id: (role == Role::Operator || role == Role::Supervisor).then(|| team.id.clone()),
                    site_id: team.site_id.clone(),
                    password_hash: Some(hash.clone()),
                    password_changed_at: Some(now),
                    totp_secret,
                    mail_address: Some(format!("{prefix}{n:02}@{DEMO_MAIL_DOMAIN}")),
                    ..UserRecord::new(
                        id.clone(),
                        format!("{prefix}{n:02}"),
                        format!("デモ{stem}{n:02} (demo)"),
                        vec![role],
                        UserStatus::Active,
                        now,
                    )
                };
                tx.insert_user(&user).await?;
                let assigned: Vec<String> = match role {
                    Role::Operator => vec![client.id.clone()],
                    _ => clients.iter().map(|c| c.id.clone()).collect(),
                };
                tx.set_user_clients(&id, &assigned).await?;
            }
        }
        tx.put_setting(settings::DEMO_LOADED, &now.0.to_string()).await?;
        let e = AuditEvent::of(&actions::DEMO_LOAD, Actor::System, Outcome::Success)
            .detail("users", index.to_string());
        tx.append_audit(now, &e).await?;
        tx.commit().await?;
        self.load_demo_customers(&clients).await?;
        self.load_demo_requests().await?;
        self.load_demo_soa().await?;
        self.load_demo_registers().await?;
        Ok(accounts)
    }

    /// The ISMS registers filled (issue 17, item 10): assets besides the PCs and client data the
    /// registers follow by themselves, 40 risks over the two sites, eight vendors in a chain
    /// with their assessments, and certificates — one vendor's Privacy Mark ends in 20 days.
    async fn load_demo_registers(&self) -> Result<(), CoreError> {
        use mamori_domain::isms::asset::{AssetInput, AssetKind, Availability, Confidentiality, Integrity};
        use mamori_domain::isms::risk::{Rating, RiskInput, Treatment};
        use mamori_domain::isms::vendor::{
            AssessmentInput, CertificateInput, Criterion, Scheme, VendorInput,
        };
        let mut read = self.base.store.read().await?;
        let Some(admin) = read.user_by_username("demo-admin01").await? else {
            return Ok(());
        };
        let clients = read.list_org_units(mamori_store::OrgKind::Client).await?;
        drop(read);
        let admin = crate::Principal::direct(&admin, Vec::new());
        let ctx = mamori_audit::RequestContext::default();
        let day =
            |days: i64| crate::jst::day(mamori_domain::UnixMillis(self.now().0 + days * crate::jst::DAY_MS));

        use AssetKind::*;
        use Availability::*;
        use Confidentiality::*;
        use Integrity::*;
        type DemoAsset<'a> =
            (AssetKind, &'a str, &'a str, Confidentiality, Integrity, Availability, Option<bool>);
        let assets: [DemoAsset; 28] = [
            (Document, "通販 業務委託契約書", "東京第1センター 金庫", Restricted, High, DaytimeStopOk, None),
            (Document, "保険 業務委託契約書", "東京第1センター 金庫", Restricted, High, DaytimeStopOk, None),
            (Document, "通販 申込書控え", "東京第1センター 書庫", Restricted, Medium, DaytimeStopOk, None),
            (
                Document,
                "保険 応対記録（紙）",
                "東京第1センター 書庫",
                Restricted,
                Medium,
                DaytimeStopOk,
                None,
            ),
            (Document, "保険 業務マニュアル", "共有フォルダ", Internal, Medium, DaytimeStopOk, None),
            (Document, "研修資料（個人情報保護）", "社内ポータル", Public, Low, DaytimeStopOk, None),
            (Equipment, "入退室管理装置（東京）", "東京第1センター", Internal, High, AlwaysOn, None),
            (Equipment, "入退室管理装置（札幌）", "札幌センター", Internal, High, AlwaysOn, None),
            (Equipment, "監視カメラ（東京 執務室）", "東京第1センター", Restricted, Medium, AlwaysOn, None),
            (Equipment, "シュレッダー（札幌）", "札幌センター", Internal, Low, DaytimeStopOk, None),
            (Document, "業務マニュアル（受注）", "共有フォルダ", Internal, Medium, DaytimeStopOk, None),
            (Document, "応対スクリプト", "共有フォルダ", Internal, Medium, DaytimeStopOk, None),
            (Document, "紙の申込書（郵送分）", "東京第1センター 書庫", Restricted, High, DaytimeStopOk, None),
            (Document, "個人情報取扱規程", "社内ポータル", Internal, High, NightStopOk, None),
            (Software, "CRM（顧客管理）", "データセンター", Restricted, High, AlwaysOn, Some(true)),
            (Software, "CTI（電話制御）", "データセンター", Internal, High, AlwaysOn, Some(true)),
            (Software, "ウイルス対策ソフト", "全端末", Internal, High, AlwaysOn, Some(true)),
            (Software, "表計算ソフト（個人導入）", "一部端末", Internal, Low, DaytimeStopOk, Some(false)),
            (
                CloudService,
                "社内メール",
                "クラウド（東京リージョン）",
                Restricted,
                High,
                AlwaysOn,
                Some(true),
            ),
            (CloudService, "ビジネスチャット", "クラウド", Internal, Medium, NightStopOk, Some(true)),
            (
                CloudService,
                "個人向けファイル共有サービス",
                "インターネット",
                Restricted,
                Low,
                DaytimeStopOk,
                Some(false),
            ),
            (Equipment, "複合機（東京 3F）", "東京第1センター", Restricted, Medium, DaytimeStopOk, None),
            (Equipment, "VPN ルーター", "東京第1センター サーバールーム", Internal, High, AlwaysOn, None),
            (Equipment, "録音サーバー", "データセンター", Restricted, High, AlwaysOn, None),
            (Person, "オペレーター（派遣社員を含む）", "各センター", Internal, Medium, NightStopOk, None),
            (Person, "スーパーバイザー", "各センター", Internal, Medium, NightStopOk, None),
            (Premises, "東京第1センター 執務室", "東京", Restricted, Medium, AlwaysOn, None),
            (Premises, "札幌センター 執務室", "札幌", Restricted, Medium, AlwaysOn, None),
        ];
        let mut asset_ids = Vec::new();
        for (i, (kind, name, location, c, integrity, a, allowed)) in assets.into_iter().enumerate() {
            let input = AssetInput {
                kind,
                name: format!("{name}（デモ）"),
                owner_id: Some(admin.user.id.clone()),
                location: location.into(),
                confidentiality: c,
                integrity,
                availability: a,
                allowed,
                review_on: Some(day(if i % 6 == 0 { -10 } else { 90 + i as i64 * 7 })),
                notes: String::new(),
            };
            asset_ids.push(self.isms.create_asset(&admin, input, &ctx).await?);
        }

        type DemoRisk<'a> = (&'a str, &'a str, &'a str, (u8, u8), Option<(u8, u8)>, Treatment, &'a [&'a str]);
        let risks: [DemoRisk; 20] = [
            (
                "オペレーターによる顧客情報の書き写し",
                "内部不正",
                "閲覧件数の監視がない",
                (3, 4),
                Some((1, 4)),
                Treatment::Reduce,
                &["a.8.16", "a.8.12"],
            ),
            (
                "USB メモリでの顧客データ持ち出し",
                "内部不正",
                "USB ストレージが使える",
                (2, 4),
                Some((1, 4)),
                Treatment::Reduce,
                &["a.7.10", "a.8.12"],
            ),
            (
                "メールの誤送信",
                "誤操作",
                "送信前の確認がない",
                (3, 3),
                Some((2, 3)),
                Treatment::Reduce,
                &["a.5.14"],
            ),
            ("FAX の誤送信", "誤操作", "短縮ダイヤルの登録誤り", (2, 3), None, Treatment::Undecided, &[]),
            (
                "ノート PC の紛失",
                "紛失・盗難",
                "持ち出し時の管理が不十分",
                (2, 3),
                Some((1, 2)),
                Treatment::Reduce,
                &["a.8.1", "a.7.9"],
            ),
            (
                "共有アカウントの貸し借り",
                "なりすまし",
                "ID の共用",
                (2, 3),
                Some((1, 3)),
                Treatment::Reduce,
                &["a.5.16", "a.5.17"],
            ),
            (
                "委託先からの情報漏えい",
                "委託先の不正・過失",
                "再委託先の管理が不十分",
                (2, 4),
                None,
                Treatment::Transfer,
                &["a.5.19", "a.5.22"],
            ),
            (
                "ランサムウェア感染",
                "マルウェア",
                "OS の更新遅れ",
                (2, 4),
                Some((1, 4)),
                Treatment::Reduce,
                &["a.8.7", "a.8.8"],
            ),
            (
                "私物スマートフォンでの画面撮影",
                "内部不正",
                "私物の持ち込み",
                (3, 4),
                None,
                Treatment::Undecided,
                &[],
            ),
            (
                "退職者アカウントの残存",
                "不正アクセス",
                "アカウント棚卸しの遅れ",
                (2, 3),
                Some((1, 3)),
                Treatment::Reduce,
                &["a.5.18"],
            ),
            (
                "印刷物の放置",
                "紛失",
                "クリアデスクの不徹底",
                (3, 2),
                Some((2, 2)),
                Treatment::Reduce,
                &["a.7.7"],
            ),
            (
                "書類の不適切な廃棄",
                "紛失",
                "廃棄手順の不備",
                (2, 3),
                Some((1, 3)),
                Treatment::Reduce,
                &["a.7.14", "a.8.10"],
            ),
            (
                "許可外クラウドへのファイル保存",
                "シャドー IT",
                "利用ルールの周知不足",
                (3, 3),
                None,
                Treatment::Undecided,
                &[],
            ),
            ("停電による受付停止", "災害", "無停電電源の容量不足", (1, 3), None, Treatment::Accept, &[]),
            (
                "地震による拠点の被災",
                "災害",
                "単一拠点への集中",
                (1, 4),
                Some((1, 3)),
                Treatment::Reduce,
                &["a.5.30"],
            ),
            (
                "CTI サーバーの故障",
                "障害",
                "冗長化していない",
                (2, 3),
                Some((1, 3)),
                Treatment::Reduce,
                &["a.8.14"],
            ),
            (
                "在宅勤務中の家族による覗き見",
                "覗き見",
                "作業場所のルール不足",
                (2, 2),
                None,
                Treatment::Accept,
                &[],
            ),
            (
                "フィッシングによる認証情報の窃取",
                "不正アクセス",
                "多要素認証の未適用",
                (2, 4),
                Some((1, 4)),
                Treatment::Reduce,
                &["a.8.5"],
            ),
            (
                "録音データの不正な再生",
                "内部不正",
                "録音へのアクセス権が広い",
                (2, 3),
                Some((1, 3)),
                Treatment::Reduce,
                &["a.5.15", "a.8.3"],
            ),
            (
                "SNS への業務情報の書き込み",
                "内部不正",
                "誓約の形骸化",
                (2, 3),
                None,
                Treatment::Undecided,
                &[],
            ),
        ];
        for site in ["東京", "札幌"] {
            for (i, (title, threat, vulnerability, inherent, residual, treatment, controls)) in
                risks.iter().enumerate()
            {
                let input = RiskInput {
                    title: format!("{site}: {title}"),
                    threat: (*threat).into(),
                    vulnerability: (*vulnerability).into(),
                    asset_ids: vec![asset_ids[i % asset_ids.len()].clone()],
                    inherent: Rating { probability: inherent.0, impact: inherent.1 },
                    residual: residual.map(|(p, i)| Rating { probability: p, impact: i }),
                    treatment: *treatment,
                    control_urns: controls
                        .iter()
                        .map(|c| format!("urn:mamori:control:iso27001-2022:{c}"))
                        .collect(),
                    owner_id: Some(admin.user.id.clone()),
                    due_on: Some(day(60 + i as i64 * 3)),
                    review_on: Some(day(if i == 3 { -5 } else { 120 + i as i64 })),
                    notes: String::new(),
                };
                self.isms.create_risk(&admin, None, input, &ctx).await?;
            }
        }

        let client_ids: Vec<String> = clients.iter().map(|c| c.id.clone()).collect();
        let vendors: [(&str, Option<usize>, &str); 8] = [
            ("北海道コールサービス株式会社（デモ）", None, "氏名・電話番号・注文履歴"),
            ("札幌テレマーケティング有限会社（デモ）", Some(0), "氏名・電話番号"),
            ("九州コンタクト株式会社（デモ）", None, "氏名・住所・電話番号・問い合わせ内容"),
            ("データ入力サービス株式会社（デモ）", Some(2), "申込書の記載事項"),
            ("セキュア文書廃棄株式会社（デモ）", None, "廃棄する書類・媒体"),
            ("クラウド録音サービス株式会社（デモ）", None, "通話録音"),
            ("印刷発送センター株式会社（デモ）", None, "氏名・住所"),
            ("システム保守パートナー株式会社（デモ）", None, "保守作業時に画面に表示される情報"),
        ];
        let mut vendor_ids: Vec<String> = Vec::new();
        for (i, (name, parent, data)) in vendors.into_iter().enumerate() {
            let input = VendorInput {
                name: name.into(),
                parent_id: parent.map(|p| vendor_ids[p].clone()),
                client_ids: vec![client_ids[i % client_ids.len()].clone()],
                data_handled: data.into(),
                contact: "担当: 情報セキュリティ責任者".into(),
                review_on: Some(day(30 + i as i64 * 20)),
                notes: String::new(),
            };
            let id = self.isms.create_vendor(&admin, input, &ctx).await?;
            let scores = Criterion::ALL
                .iter()
                .map(|c| (*c, if i == 1 && *c == Criterion::Nda { 1 } else { 3 + (i % 3) as u8 }))
                .collect();
            let assessment =
                AssessmentInput { assessed_on: day(-200 + i as i64 * 10), scores, notes: String::new() };
            self.isms.assess_vendor(&admin, &id, assessment, &ctx).await?;
            // The first vendor's Privacy Mark ends in 20 days; the others' run for a year or more.
            let (scheme, ends) = if i % 3 == 2 {
                (Scheme::Iso27001, 500 + i as i64 * 30)
            } else {
                (Scheme::PrivacyMark, if i == 0 { 20 } else { 300 + i as i64 * 20 })
            };
            let valid_days = if scheme == Scheme::PrivacyMark { 729 } else { 1094 };
            let certificate = CertificateInput {
                scheme,
                number: format!("DEMO-{:04}", 1000 + i),
                issuer: if scheme == Scheme::PrivacyMark {
                    "JIPDEC".into()
                } else {
                    "デモ認証機関".into()
                },
                first_obtained_on: day(ends - valid_days - 365 * (i as i64 % 4)),
                issued_on: day(ends - valid_days),
                expires_on: day(ends),
            };
            self.isms.record_certificate(&admin, Some(&id), certificate, &ctx).await?;
            vendor_ids.push(id);
        }
        for (scheme, number, ends, valid) in
            [(Scheme::PrivacyMark, "第10820001(05)号", 400, 729), (Scheme::Iso27001, "IS 765432", 700, 1094)]
        {
            let certificate = CertificateInput {
                scheme,
                number: number.into(),
                issuer: if scheme == Scheme::PrivacyMark {
                    "JIPDEC".into()
                } else {
                    "デモ認証機関".into()
                },
                first_obtained_on: day(ends - valid - 365 * 6),
                issued_on: day(ends - valid),
                expires_on: day(ends),
            };
            self.isms.record_certificate(&admin, None, certificate, &ctx).await?;
        }

        // The legal register (ISMS-4): the laws and guidelines, the Privacy Mark's standard, and
        // each client company's outsourcing contract; the My Number Act's review is overdue.
        use mamori_domain::isms::legal::{LegalInput, LegalKind};
        let requirement = |kind, title: &str, reference: &str, obligations: &str, review: i64| LegalInput {
            kind,
            title: title.into(),
            reference: reference.into(),
            obligations: obligations.into(),
            client_id: None,
            owner_id: Some(admin.user.id.clone()),
            review_on: Some(day(review)),
            notes: String::new(),
        };
        let mut legal = vec![
            requirement(
                LegalKind::Law,
                "個人情報の保護に関する法律（個人情報保護法）",
                "第20条〜第26条、第27条",
                "利用目的の範囲内での取扱い、安全管理措置、従業者・委託先の監督、漏えい等の報告と本人への通知、第三者提供の制限",
                90,
            ),
            requirement(
                LegalKind::Law,
                "行政手続における特定の個人を識別するための番号の利用等に関する法律（番号法）",
                "第12条、第19条、第20条",
                "個人番号を扱う業務の限定、特定個人情報の安全管理措置、提供・収集・保管の制限、再委託には委託元の許諾",
                -7,
            ),
            requirement(
                LegalKind::Guideline,
                "個人情報保護委員会 個人情報の保護に関する法律についてのガイドライン（通則編）",
                "3-4-4 委託先の監督",
                "適切な委託先の選定、委託契約の締結、委託先における取扱状況の把握（定期的な監査・報告）",
                150,
            ),
            requirement(
                LegalKind::CertificationRule,
                "JIS Q 15001:2023 個人情報保護マネジメントシステム（プライバシーマーク）",
                "附属書A",
                "個人情報の特定とリスクの認識、教育、内部監査、マネジメントレビュー、2年ごとの更新審査",
                200,
            ),
        ];
        for (i, client) in clients.iter().enumerate() {
            let mut contract = requirement(
                LegalKind::Contract,
                &format!("{} 業務委託契約（コールセンター業務）", client.name),
                &format!("契約番号 DEMO-{:03}", 101 + i),
                "委託元の指示の範囲内での取扱い、再委託の事前承認、事故時の即時報告、契約終了時の返却・消去、委託元の監査への協力",
                45 + i as i64 * 30,
            );
            contract.client_id = Some(client.id.clone());
            legal.push(contract);
        }
        for input in legal {
            self.isms.create_legal(&admin, input, &ctx).await?;
        }
        self.load_demo_training(&admin).await?;
        self.load_demo_disposals(&admin).await?;
        self.load_demo_policies(&admin).await?;
        self.load_demo_continuity(&admin).await?;
        self.load_demo_internal_audits(&admin).await?;
        self.load_demo_checks(&admin).await?;
        Ok(())
    }

    /// Checks (issue 18, item 4; ISMS-7, LEAK-2, LEAK-4): the operators' daily self-check of
    /// their seat and the supervisors' weekly floor check, in force for two weeks; yesterday
    /// every operator did theirs but the first two (overdue now: first on `/isms/checks`, on
    /// the dashboard and in the evidence), last week every team's floor was checked; today one
    /// operator found a customer's form left on the desk — a follow-up for the supervisor.
    async fn load_demo_checks(&self, admin: &crate::Principal) -> Result<(), CoreError> {
        use mamori_domain::isms::checks::{
            Answer, ChecklistInput, Frequency, ItemResult, Performer, RunInput, previous_period,
        };
        let ctx = mamori_audit::RequestContext::default();
        let lists = [
            (
                "オペレーター自席点検（毎日）",
                Performer::OwnSeat,
                Frequency::Daily,
                vec![
                    "机の上に顧客情報の紙がない",
                    "私物のスマートフォンはロッカー",
                    "離席時の画面ロック",
                    "USBメモリを差していない",
                ],
            ),
            (
                "SV フロア点検（毎週）",
                Performer::Supervisor,
                Frequency::Weekly,
                vec![
                    "帳票・媒体が所定の場所に施錠保管",
                    "持ち出し台帳と実物が一致",
                    "入退室記録の確認",
                    "シュレッダー待ちの紙が溜まっていない",
                    "私物持ち込み禁止の掲示がある",
                ],
            ),
        ];
        let mut ids = Vec::new();
        for (title, performer, frequency, items) in lists {
            let input = ChecklistInput {
                title: title.into(),
                items: items.into_iter().map(str::to_owned).collect(),
                performer,
                frequency,
                site_id: None,
                team_id: None,
            };
            ids.push((self.isms.save_checklist(admin, None, input, &ctx).await?, frequency, 4 + ids.len()));
        }
        let now = self.now();
        let day = |days: i64| crate::jst::day(mamori_domain::UnixMillis(now.0 + days * crate::jst::DAY_MS));
        let today = mamori_domain::isms::vendor::parse_date(&day(0)).unwrap_or(time::Date::MIN);
        let mut tx = self.base.store.begin().await?;
        for (id, ..) in &ids {
            if let Some(mut list) = tx.checklist(id).await? {
                list.created_on = day(-14);
                tx.put_checklist(&list).await?;
            }
        }
        let mut users: Vec<UserRecord> =
            tx.list_users().await?.into_iter().filter(|u| u.status == UserStatus::Active).collect();
        users.sort_by(|a, b| a.username.cmp(&b.username));
        let operators: Vec<&UserRecord> =
            users.iter().filter(|u| u.username.starts_with("demo-op")).collect();
        let all_ok = |n: usize| {
            let answers: Vec<Answer> =
                (0..n).map(|item| Answer { item, result: ItemResult::Ok, note: String::new() }).collect();
            serde_json::to_string(&answers).unwrap_or_default()
        };
        let run = |list: &str, period: String, user: &UserRecord, items: usize, ago: i64| {
            mamori_store::CheckRunRecord {
                id: new_id(),
                checklist_id: list.to_owned(),
                period,
                user_id: user.id.clone(),
                team_id: user.team_id.clone(),
                done_at: mamori_domain::UnixMillis(now.0 - ago),
                answers: all_ok(items),
                note: String::new(),
                failed: 0,
            }
        };
        let (daily, _, daily_items) = &ids[0];
        for op in operators.iter().skip(2) {
            tx.insert_check_run(&run(daily, day(-1), op, *daily_items, crate::jst::DAY_MS)).await?;
        }
        let (weekly, weekly_frequency, weekly_items) = &ids[1];
        let (last_week, _, _) = previous_period(*weekly_frequency, today);
        let mut teams_done = std::collections::HashSet::new();
        for sv in users.iter().filter(|u| u.roles.contains(&Role::Supervisor)) {
            if let Some(team) = &sv.team_id
                && teams_done.insert(team.clone())
            {
                tx.insert_check_run(&run(
                    weekly,
                    last_week.clone(),
                    sv,
                    *weekly_items,
                    3 * crate::jst::DAY_MS,
                ))
                .await?;
            }
        }
        tx.commit().await?;
        if let Some(op) = operators.get(2) {
            let who = crate::Principal::direct((*op).clone(), Vec::new());
            let mut answers: Vec<Answer> = (0..*daily_items)
                .map(|item| Answer { item, result: ItemResult::Ok, note: String::new() })
                .collect();
            answers[0] = Answer {
                item: 0,
                result: ItemResult::NotOk,
                note: "前の通話の申込書（控え）が机の端に残っていた".into(),
            };
            let input = RunInput { checklist_id: daily.clone(), answers, note: String::new() };
            self.isms.record_check_run(&who, input, Vec::new(), &ctx).await?;
        }
        Ok(())
    }

    /// An Annex A Statement of Applicability about half done (issue 17, item 10): secure
    /// development left out (the centre writes no software), most of the rest decided —
    /// implemented or partly — and a quarter still undecided.
    async fn load_demo_soa(&self) -> Result<(), CoreError> {
        use mamori_domain::isms::{Implementation, SoaDecision};
        let mut read = self.base.store.read().await?;
        let Some(admin) = read.user_by_username("demo-admin01").await? else {
            return Ok(());
        };
        let controls = read.catalog_controls(Some("urn:mamori:catalog:iso27001-2022")).await?;
        drop(read);
        let admin = crate::Principal::direct(&admin, Vec::new());
        let ctx = mamori_audit::RequestContext::default();
        let development = ["A.8.25", "A.8.26", "A.8.27", "A.8.28", "A.8.29", "A.8.30", "A.8.31"];
        for (i, c) in controls.iter().filter(|c| c.assessable).enumerate() {
            let decision = if development.contains(&c.ref_id.as_str()) {
                SoaDecision {
                    applicable: false,
                    justification: "当センターではソフトウェアを開発せず、開発を委託もしていないため（デモ）"
                        .into(),
                    implementation: Implementation::NotStarted,
                    owner_id: None,
                    review_on: Some("2027-04-01".into()),
                }
            } else {
                let implementation = match i % 4 {
                    0 | 2 => Implementation::Implemented,
                    1 => Implementation::Partial,
                    _ => continue,
                };
                SoaDecision {
                    applicable: true,
                    justification: "個人情報を扱う受託業務のリスク対応として必要（デモ）".into(),
                    implementation,
                    owner_id: Some(admin.user.id.clone()),
                    review_on: Some("2027-04-01".into()),
                }
            };
            self.isms.decide(&admin, &c.urn, decision, &ctx).await?;
        }
        Ok(())
    }

    /// A pending print for the demo's first supervisor to decide (issue 15): demo-op01 asks to
    /// print the sheet of the customer calling from the demo's sample number, for a mailing.
    async fn load_demo_requests(&self) -> Result<(), CoreError> {
        let mut read = self.base.store.read().await?;
        let Some(op) = read.user_by_username("demo-op01").await? else {
            return Ok(());
        };
        let clients = read.user_clients(&op.id).await?;
        let (kind, digest) =
            self.vault.index_digest(&crate::vault::LookupKey::Phone(DEMO_SAMPLE_PHONE.into()))?;
        let Some(customer) = read.customers_by_index(kind, &digest).await?.into_iter().next() else {
            return Ok(());
        };
        drop(read);
        let op = crate::Principal::direct(&op, clients);
        let reason = "ご依頼の書類を郵送するため、宛名と住所を印刷します。";
        self.request_print(&op, &customer.id, reason, &mamori_audit::RequestContext::default()).await?;
        self.load_demo_mail(&op, &customer.client_id).await
    }

    /// The demo's mail rules and a held mail (issue 15, item 5): demo-op01 wrote to the client
    /// company's person in charge about the sample caller, with the caller's number in the text —
    /// held for demo-op01's check, then for their supervisor's approval.
    async fn load_demo_mail(&self, op: &crate::Principal, client_id: &str) -> Result<(), CoreError> {
        let policy = mamori_domain::mail::MailPolicy {
            internal_domains: vec![DEMO_MAIL_DOMAIN.into()],
            client_domains: [(client_id.to_owned(), vec!["sample-tsuhan.example.jp".into()])].into(),
            ..mamori_domain::mail::MailPolicy::default()
        };
        let json = serde_json::to_string(&policy).map_err(|e| CoreError::Internal(e.to_string()))?;
        let mut tx = self.base.store.begin().await?;
        tx.put_setting(crate::outgoing_mail::MAIL_POLICY, &json).await?;
        tx.commit().await?;
        let message = format!(
            "From: demo-op01@{DEMO_MAIL_DOMAIN}\r\nTo: tantou@sample-tsuhan.example.jp\r\nCc: demo-sv01@{DEMO_MAIL_DOMAIN}\r\n\
             Subject: =?UTF-8?B?{subject}?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\
             Content-Transfer-Encoding: 8bit\r\n\r\n\
             サンプル通販 ご担当者様\r\n\r\n本日お電話のあったお客様（{DEMO_SAMPLE_PHONE}）から、\
             ご注文の配送先変更のご依頼がありました。ご確認をお願いいたします。\r\n",
            subject = base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                "配送先変更のご依頼（デモ）"
            ),
        );
        let submission = crate::outgoing_mail::Submission {
            envelope_from: format!("demo-op01@{DEMO_MAIL_DOMAIN}"),
            recipients: vec![
                "tantou@sample-tsuhan.example.jp".into(),
                format!("demo-sv01@{DEMO_MAIL_DOMAIN}"),
            ],
            message: message.into_bytes(),
        };
        self.submit_mail(op, submission, &mamori_audit::RequestContext::default()).await?;
        Ok(())
    }

    /// 10,000 plainly synthetic customers ("デモ顧客00001", 050 numbers, example.com addresses,
    /// card test numbers), alternating between the two demo clients.
    async fn load_demo_customers(&self, clients: &[OrgUnit]) -> Result<(), CoreError> {
        let admin = self
            .base
            .store
            .read()
            .await?
            .user_by_username("demo-admin01")
            .await?
            .ok_or(CoreError::NotFound { what: "demo admin" })?;
        let principal = crate::Principal::direct(&admin, Vec::new());
        let customers: Vec<NewCustomer> = (0..DEMO_CUSTOMERS)
            .map(|i| {
                let fields = [
                    ("name_kanji", format!("デモ顧客{i:05}")),
                    ("name_kana", format!("デモコキャク{i:05}")),
                    ("phones", format!("0501000{i:04}")),
                    ("email", format!("demo-customer{i:05}@example.com")),
                    ("postal_address", format!("東京都千代田区デモ町{}-{}", i % 9 + 1, i % 30 + 1)),
                    ("birth_date", format!("{}-{:02}-{:02}", 1950 + i % 50, i % 12 + 1, i % 28 + 1)),
                    ("gender", ["女性", "男性", "回答しない"][i % 3].to_owned()),
                    ("card_number", ["4111111111111111", "5555555555554444"][i % 2].to_owned()),
                    ("notes", "デモ用の架空の問い合わせ記録です。".to_owned()),
                ];
                NewCustomer {
                    client_id: clients[i % clients.len()].id.clone(),
                    fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                }
            })
            .collect();
        self.vault.create_customers(&principal, &customers, &Default::default()).await.map_err(|e| {
            e.into_iter().next().map_or_else(|| CoreError::Internal("demo customers".into()), |(_, e)| e)
        })?;
        Ok(())
    }
}

/// The first account of each role, for the sign-in sheet printed at start.
pub fn demo_accounts() -> Vec<DemoAccount> {
    STAFF
        .iter()
        .map(|(prefix, _, role, _)| DemoAccount {
            username: format!("{prefix}01"),
            role: *role,
            needs_totp: role.requires_totp(),
        })
        .collect()
}

/// The number of demo staff.
pub fn demo_staff_count() -> usize {
    STAFF.iter().map(|s| s.3).sum()
}

/// The demo's simulated telephony system: keeps calls coming to the demo operators, so the
/// workspace shows a caller to look up without a reason (issue 4, item 5). `demo-op01` is
/// given a new call whenever theirs ends, so a walkthrough always finds one.
#[derive(Debug, Default)]
pub struct DemoCallFeed {
    /// operator user name → (call id, when it ends)
    calls: std::collections::HashMap<String, (String, mamori_domain::UnixMillis)>,
    started: bool,
    /// Customers `demo-op05` has browsed outside any call so far.
    browsed: usize,
}

/// The demo operator who browses customers outside any call (the insider the detectors are
/// for): one customer a step, [`DEMO_BROWSED`] in all — past the off-call rule's 15.
const DEMO_BROWSER: &str = "demo-op05";
const DEMO_BROWSED: usize = 20;

/// Demo operators (`demo-op01`…) and how many there are.
const DEMO_OPERATORS: usize = STAFF[0].3;

/// A random number below `n` (demo traffic only; not for anything secret).
fn pick(n: u128) -> u128 {
    uuid::Uuid::new_v4().as_u128() % n.max(1)
}

impl Core {
    /// One step of the simulated feed: ends the calls whose time is up and gives a call to an
    /// idle operator — usually from one of their client's customers, sometimes from an unknown
    /// number.
    pub async fn demo_call_tick(&self, feed: &mut DemoCallFeed) -> Result<(), CoreError> {
        let now = self.now();
        if !feed.started {
            // Calls left open by an earlier run of the demo end now.
            for n in 1..=DEMO_OPERATORS {
                let name = format!("{}{n:02}", STAFF[0].0);
                let Some(user) = self.base.store.read().await?.user_by_username(&name).await? else {
                    continue;
                };
                for call in self.base.store.read().await?.active_calls(&user.id).await? {
                    self.vault.call_ended(Actor::System, &call.external_id, &Default::default()).await?;
                }
            }
            feed.started = true;
        }
        let ended: Vec<String> =
            feed.calls.iter().filter(|(_, (_, until))| *until <= now).map(|(op, _)| op.clone()).collect();
        for op in ended {
            if let Some((call_id, _)) = feed.calls.remove(&op) {
                self.vault.call_ended(Actor::System, &call_id, &Default::default()).await?;
            }
        }
        if feed.browsed < DEMO_BROWSED {
            self.demo_browse(feed.browsed).await?;
            feed.browsed += 1;
        }
        let first = format!("{}01", STAFF[0].0);
        let mut idle = vec![first.clone()];
        idle.push(format!("{}{:02}", STAFF[0].0, pick(DEMO_OPERATORS as u128) + 1));
        for op in idle {
            if feed.calls.contains_key(&op) {
                continue;
            }
            // Operator n works for demo client (n - 1) % 2, whose customers are the ones with
            // an index of that parity.
            let n: u128 = op.trim_start_matches(STAFF[0].0).parse().unwrap_or(1);
            let caller = if pick(8) == 0 {
                format!("0120{:06}", pick(1_000_000))
            } else {
                let i = pick(DEMO_CUSTOMERS as u128 / 2) * 2 + (n - 1) % 2;
                format!("0501000{i:04}")
            };
            let call_id = format!("demo-{}", new_id());
            self.vault.call_started(Actor::System, &call_id, &op, &caller, &Default::default()).await?;
            let secs = 45 + u64::try_from(pick(135)).unwrap_or(0);
            feed.calls.insert(op, (call_id, now.plus(std::time::Duration::from_secs(secs))));
        }
        Ok(())
    }
}

impl Core {
    /// `demo-op05` looks up one of their client's customers with a reason but no call — a real
    /// lookup, recorded as any other, which the detectors judge as any other.
    async fn demo_browse(&self, i: usize) -> Result<(), CoreError> {
        let mut read = self.base.store.read().await?;
        let Some(user) = read.user_by_username(DEMO_BROWSER).await? else { return Ok(()) };
        let clients = read.user_clients(&user.id).await?;
        drop(read);
        let op = Principal::direct(user, clients);
        // Operator 5 works for demo client 0: customers of even index.
        let phone = format!("0501000{:04}", 2 * (37 + 13 * i));
        let why = crate::vault::Purpose::Reason {
            code: "callback".into(),
            text: "折り返しのお約束（デモ）".into(),
        };
        self.vault.find_customers_by_phone(&op, &phone, &why, &Default::default()).await?;
        Ok(())
    }
}

/// The demo's simulated agents: a PC for every demo operator, heard from every few seconds, so
/// the device ledger is alive. One PC (`DEMO-PC-07`) is taken home — seen from outside the
/// Tokyo site's approved network, under a take-out — `DEMO-PC-15` leaves it with none, and another (`DEMO-PC-12`) has a USB stick plugged in and
/// out every minute or so. They take remote commands as a real agent does: a lock or a
/// sign-out leaves the PC locked until its operator comes back ([`DEMO_AWAY`] later), a message
/// is shown, an inventory sent again.
#[derive(Debug, Default)]
pub struct DemoDeviceFeed {
    devices: Vec<mamori_store::DeviceRecord>,
    ticks: u64,
    /// The last minute whose activity buckets were sent.
    last_minute: i64,
    /// PCs a command locked or signed out: device id → when the operator is back, and whether
    /// they sign in again (after a sign-out) or unlock.
    away: std::collections::HashMap<String, (mamori_domain::UnixMillis, bool)>,
}

/// How long a demo operator stays away from a PC that a command locked or signed out.
pub const DEMO_AWAY: std::time::Duration = std::time::Duration::from_secs(120);

/// The Tokyo site's approved network in the demo (a documentation range).
const DEMO_OFFICE_NETWORK: &str = "203.0.113.0/24";

fn demo_inventory(hostname: &str, n: usize) -> mamori_proto::agent::Inventory {
    use mamori_proto::agent::{Antivirus, Inventory, Software};
    let software = ["Microsoft Edge", "Microsoft Teams", "7-Zip 23.01 (x64)", "Zoom Workplace"]
        .iter()
        .chain(if n == 5 { ["AnyDesk"].iter() } else { [].iter() })
        .map(|s| Software { name: (*s).to_owned(), version: "1.0".into() })
        .collect();
    Inventory {
        hostname: hostname.to_owned(),
        os_family: "windows".into(),
        os_name: "Windows 11 Pro".into(),
        os_version: "23H2".into(),
        os_build: if n == 9 { "19044.1288".into() } else { "22631.4169".into() },
        uptime_secs: 3600,
        cpu_model: Some("Intel(R) Core(TM) i5-1235U".into()),
        cpu_count: 8,
        memory_mb: 16_000,
        disk_encryption: Some(n != 3),
        firewall_enabled: Some(true),
        screen_lock_timeout_secs: Some(600),
        antivirus: Some(Antivirus {
            product: "Microsoft Defender Antivirus".into(),
            signature_age_days: Some(if n == 4 { 12 } else { 0 }),
        }),
        local_admins: vec!["Administrator".into()],
        software,
        unavailable: Default::default(),
    }
}

/// The simulated minute of demo PC `n`: a busy operator on the CRM, `DEMO-PC-05` locked,
/// `DEMO-PC-09` idle, and `DEMO-PC-15` typing at a rate no person does (a keystroke injector)
/// for one minute in ten.
fn demo_activity(n: usize, minute: i64, ticks: u64) -> Vec<mamori_proto::agent::AgentEvent> {
    use mamori_domain::activity::ActivityBucket;
    use mamori_proto::agent::{AgentEvent, EventData};
    let event = |event| AgentEvent { id: format!("demo-{n}-{minute}"), time: minute + 60_000, event };
    if n == 5 {
        // Locked once, at the start of the demo.
        return if ticks <= 1 {
            vec![AgentEvent { id: format!("demo-{n}-lock"), time: minute, event: EventData::ScreenLocked {} }]
        } else {
            Vec::new()
        };
    }
    let spread = u32::try_from((minute / 60_000 + n as i64 * 7).rem_euclid(40)).unwrap_or(0);
    let (app, domain) = match n % 4 {
        0 => ("msedge", Some("crm.example.co.jp")),
        1 => ("chrome", Some("crm.example.co.jp")),
        2 => ("Teams", None),
        _ => ("EXCEL", None),
    };
    let mut bucket = ActivityBucket {
        minute,
        keystrokes: 60 + spread * 4,
        clicks: 5 + spread / 2,
        idle_secs: 0,
        app: Some(app.into()),
        browser_domain: domain.map(str::to_owned),
    };
    if n == 9 {
        bucket = ActivityBucket { minute, idle_secs: 60, ..Default::default() };
    }
    if n == 15 && (minute / 60_000) % 10 == 0 {
        bucket.keystrokes = 2_400;
    }
    vec![event(EventData::Activity(bucket))]
}

impl Core {
    /// Enrols the demo PCs and sets the demo sites' device policy (once, with the demo).
    async fn load_demo_devices(&self) -> Result<(), CoreError> {
        let now = self.now();
        let mut read = self.base.store.read().await?;
        if !read.list_devices().await?.is_empty() {
            return Ok(());
        }
        let admin =
            read.user_by_username("demo-admin01").await?.ok_or(CoreError::NotFound { what: "demo admin" })?;
        let sites = read.list_org_units(OrgKind::Site).await?;
        drop(read);
        let principal = crate::Principal::direct(&admin, Vec::new());
        let policy = mamori_domain::posture::PosturePolicy {
            min_os_build: [("windows".to_owned(), "19045".to_owned())].into(),
            max_av_age_days: Some(3),
            max_screen_lock_secs: Some(900),
            require_disk_encryption: true,
            software_allowlist: Some(vec!["Microsoft *".into(), "7-Zip*".into(), "Zoom*".into()]),
            approved_networks: vec![DEMO_OFFICE_NETWORK.into()],
            ..Default::default()
        };
        for site in &sites {
            self.devices
                .set_site_device_policy(&principal, &site.id, policy.clone(), &Default::default())
                .await?;
        }
        for n in 1..=DEMO_OPERATORS {
            let Some(user) =
                self.base.store.read().await?.user_by_username(&format!("{}{n:02}", STAFF[0].0)).await?
            else {
                continue;
            };
            let key = mamori_crypto::device_auth::DeviceKey::generate()?;
            let device = mamori_store::DeviceRecord {
                id: new_id(),
                public_key: key.public_key(),
                hostname: format!("DEMO-PC-{n:02}"),
                site_id: user.site_id.clone(),
                user_id: Some(user.id.clone()),
                enrolled_at: now,
                revoked_at: None,
                last_seen_at: None,
                last_ip: Some(format!("203.0.113.{n}")),
            };
            let mut tx = self.base.store.begin().await?;
            tx.insert_device(&device).await?;
            tx.commit().await?;
            // Round-the-clock shifts, so the demo floor is alive at any hour — except for the last
            // operator, who has none and so shows as off shift, with nothing collected.
            if n < DEMO_OPERATORS {
                let all_day = ShiftSchedule {
                    utc_offset_minutes: 540,
                    shifts: vec![Shift {
                        days: Weekday::ALL.to_vec(),
                        start: "00:00".into(),
                        end: "24:00".into(),
                    }],
                };
                self.devices.set_user_shifts(&principal, &user.id, all_day, &Default::default()).await?;
            }
            self.devices
                .record_inventory(&device, &demo_inventory(&device.hostname, n), &Default::default())
                .await?;
            if n == 7 {
                self.demo_take_out(&user, &device).await?;
            }
        }
        // The PCs enter the asset register now, not at the evidence task's next event.
        self.sync_followed_assets().await?;
        Ok(())
    }

    /// Internal audits (issue 18, item 5; ISMS-7): this year's audit of the Tokyo centre,
    /// reported, with a minor nonconformity whose corrective action is overdue (the dashboard
    /// shows it), one closed after its effectiveness check, and an observation.
    async fn load_demo_internal_audits(&self, admin: &crate::Principal) -> Result<(), CoreError> {
        use mamori_domain::isms::internal_audit::{AuditInput, FindingInput, FindingKind, FindingStep};
        let ctx = mamori_audit::RequestContext::default();
        let mut read = self.base.store.read().await?;
        let controls = read.catalog_controls(None).await?;
        let users = read.list_users().await?;
        drop(read);
        let urn = |ref_id: &str| controls.iter().find(|c| c.ref_id == ref_id).map(|c| c.urn.clone());
        let (Some(a77), Some(a715), Some(a57)) = (urn("A.7.7"), urn("A.5.15"), urn("A.5.7")) else {
            return Ok(());
        };
        // The effectiveness check is someone else's: another security admin, or an auditor.
        let Some(checker) = users.iter().find(|u| {
            u.id != admin.user.id
                && (u.roles.contains(&Role::SecurityAdmin) || u.roles.contains(&Role::Auditor))
        }) else {
            return Ok(());
        };
        let checker = crate::Principal::direct(checker, Vec::new());
        let day =
            |days: i64| crate::jst::day(mamori_domain::UnixMillis(self.now().0 + days * crate::jst::DAY_MS));
        let audit = AuditInput {
            title: "2026年度 内部監査（東京センター）".into(),
            scope: "東京センター 全チーム・入退室管理・端末管理".into(),
            controls: vec![a77.clone(), a715.clone(), a57],
            auditor_id: checker.user.id.clone(),
            planned_on: day(-30),
        };
        let audit = self.isms.plan_internal_audit(admin, audit, &ctx).await?;
        let finding = |kind, control: Option<&String>, text: &str| FindingInput {
            kind,
            control: control.cloned(),
            description: text.into(),
        };
        let lock = self
            .isms
            .raise_finding(
                admin,
                &audit,
                finding(
                    FindingKind::MinorNonconformity,
                    Some(&a77),
                    "離席時に画面ロックされていない席が 3 席あった",
                ),
                &ctx,
            )
            .await?;
        let access = self
            .isms
            .raise_finding(
                admin,
                &audit,
                finding(
                    FindingKind::MinorNonconformity,
                    Some(&a715),
                    "異動した SV 1 名の旧チームの権限が残っていた",
                ),
                &ctx,
            )
            .await?;
        self.isms
            .raise_finding(
                admin,
                &audit,
                finding(FindingKind::Observation, None, "ロッカーの鍵の管理台帳が手書き"),
                &ctx,
            )
            .await?;
        let plan = |cause: &str, action: &str| FindingStep::Plan {
            root_cause: cause.into(),
            corrective_action: action.into(),
            owner_id: admin.user.id.clone(),
            due_on: day(0),
        };
        self.isms
            .take_finding_step(
                admin,
                &lock,
                plan("自動ロックが 15 分のままの PC があった", "端末ルールで 5 分に統一し、朝礼で周知"),
                &ctx,
            )
            .await?;
        self.isms
            .take_finding_step(
                admin,
                &access,
                plan("異動時の権限見直しの手順がなかった", "異動をきっかけに棚卸しを始める"),
                &ctx,
            )
            .await?;
        let done = FindingStep::Implemented { note: "棚卸しの手順を追加".into() };
        self.isms.take_finding_step(admin, &access, done, &ctx).await?;
        let check = FindingStep::Verify {
            effective: true,
            note: "翌月の異動 2 件で権限が外れたことを確認".into(),
        };
        self.isms.take_finding_step(&checker, &access, check, &ctx).await?;
        // The demo cannot wait for a due date to pass: the screen-lock action was due ten days
        // ago, as if planned then.
        let mut tx = self.base.store.begin().await?;
        if let Some(mut f) = tx.audit_finding(&lock).await? {
            f.due_on = Some(day(-10));
            let state = f.state.clone();
            tx.move_audit_finding(&f, &state).await?;
        }
        tx.commit().await?;
        self.isms
            .report_internal_audit(
                admin,
                &audit,
                &day(-28),
                "不適合 2 件（軽微）、観察事項 1 件。詳細は指摘事項を参照。",
                &ctx,
            )
            .await?;
        Ok(())
    }

    /// Business continuity (issue 18, item 6; ISMS-5): an earthquake plan with its contact
    /// tree, drilled two months ago; a power-cut plan whose yearly drill is overdue (the
    /// dashboard shows it); an intruder plan not drilled yet.
    async fn load_demo_continuity(&self, admin: &crate::Principal) -> Result<(), CoreError> {
        use mamori_domain::isms::continuity::{Contact, DrillInput, DrillResult, PlanInput, Scenario};
        let ctx = mamori_audit::RequestContext::default();
        let users = self.base.store.read().await?.list_users().await?;
        let supervisors: Vec<&mamori_store::UserRecord> =
            users.iter().filter(|u| u.roles.contains(&Role::Supervisor)).take(2).collect();
        let operators: Vec<String> = users
            .iter()
            .filter(|u| u.roles.contains(&Role::Operator))
            .take(12)
            .map(|u| u.id.clone())
            .collect();
        let day =
            |days: i64| crate::jst::day(mamori_domain::UnixMillis(self.now().0 + days * crate::jst::DAY_MS));
        let person = |user: Option<&&mamori_store::UserRecord>, role: &str, phone: &str, called_by| Contact {
            user_id: user.map(|u| u.id.clone()),
            name: if user.is_some() { String::new() } else { role.to_owned() },
            role: role.into(),
            phone: phone.into(),
            called_by,
        };
        let outside = |name: &str, role: &str, phone: &str, called_by| Contact {
            user_id: None,
            name: name.into(),
            role: role.into(),
            phone: phone.into(),
            called_by,
        };
        let tree = vec![
            outside("センター長（デモ）", "責任者", "090-0000-1001", None),
            person(supervisors.first(), "連絡係（SV）", "090-0000-1002", Some(0)),
            person(supervisors.get(1), "連絡係（SV）", "090-0000-1003", Some(0)),
            outside("丸の内ビル管理（デモ）", "ビル管理会社", "03-0000-2001", Some(0)),
            outside("委託元 緊急窓口（デモ）", "委託元への連絡", "03-0000-3001", Some(1)),
        ];
        let plans = [
            (
                Scenario::Earthquake,
                "地震発生時の対応",
                "1. 机の下で身の安全を確保する（通話は「地震のため折り返します」と伝えて切る）\n\
                 2. 揺れが収まったら SV が席ごとに点呼し、安否を連絡網で責任者へ\n\
                 3. 顧客情報の紙・媒体は施錠保管庫へ。PC は画面ロック\n\
                 4. 責任者が委託元へ受付停止を連絡し、IVR を停止案内に切り替える\n\
                 5. 建物の安全確認後、再開または在宅切替を判断する",
                6,
                Some((
                    -60,
                    DrillResult::Partly,
                    "2 名に電話が繋がらず（番号変更）",
                    "連絡網の番号を四半期ごとに確認する",
                )),
            ),
            (
                Scenario::PowerLoss,
                "停電時の対応",
                "1. UPS で 15 分稼働: 通話中の顧客へ事情を伝えて終話\n\
                 2. 書きかけの応対メモは紙に残さず、復電後に入力\n\
                 3. ビル管理会社へ復旧見込みを確認し、30 分を超えるなら委託元へ連絡",
                12,
                Some((-400, DrillResult::Achieved, "手順どおりに終話・連絡できた", "")),
            ),
            (
                Scenario::Intrusion,
                "不審者侵入時の対応",
                "1. 見つけた人は近づかず SV へ内線\n\
                 2. SV はフロアの画面ロックを指示し、入退室記録を確認\n\
                 3. 警備会社と責任者へ連絡",
                12,
                None,
            ),
        ];
        for (scenario, title, steps, every, drill) in plans {
            let input = PlanInput {
                scenario,
                title: title.into(),
                steps: steps.into(),
                owner_id: admin.user.id.clone(),
                contacts: tree.clone(),
                drill_every_months: every,
            };
            let id = self.isms.save_continuity_plan(admin, None, input, &ctx).await?;
            if let Some((days, result, findings, actions)) = drill
                && !operators.is_empty()
            {
                let drill = DrillInput {
                    plan_id: id,
                    held_on: day(days),
                    participants: operators.clone(),
                    result,
                    findings: findings.into(),
                    actions: actions.into(),
                };
                self.isms.record_drill(admin, drill, &ctx).await?;
            }
        }
        Ok(())
    }

    /// The disposal register (issue 18, item 7; LEAK-3): the old PC of the asset register,
    /// physically destroyed by a disposal company with its certificate (the asset retires with
    /// the record), and eight boxes of paper past their retention dissolved.
    async fn load_demo_disposals(&self, admin: &crate::Principal) -> Result<(), CoreError> {
        use mamori_domain::isms::asset::{AssetInput, AssetKind, Availability, Confidentiality, Integrity};
        use mamori_domain::isms::disposal::{DisposalInput, DisposalKind, DisposalMethod};
        let ctx = mamori_audit::RequestContext::default();
        let users = self.base.store.read().await?.list_users().await?;
        let Some(witness) = users.iter().find(|u| u.roles.contains(&Role::Supervisor)) else {
            return Ok(());
        };
        let day =
            |days: i64| crate::jst::day(mamori_domain::UnixMillis(self.now().0 + days * crate::jst::DAY_MS));
        let old_pc = AssetInput {
            kind: AssetKind::Equipment,
            name: "旧業務用PC（2019年導入）".into(),
            owner_id: Some(admin.user.id.clone()),
            location: "東京 3階 倉庫".into(),
            confidentiality: Confidentiality::Internal,
            integrity: Integrity::Medium,
            availability: Availability::DaytimeStopOk,
            allowed: None,
            review_on: None,
            notes: "端末台帳の導入前に使っていたPC。".into(),
        };
        let old_pc = self.isms.create_asset(admin, old_pc, &ctx).await?;
        let pc = DisposalInput {
            kind: DisposalKind::Pc,
            method: DisposalMethod::PhysicalDestruction,
            description: "旧業務用PC（2019年導入、SSD 破砕）".into(),
            serial: "5CD9281XYZ".into(),
            quantity: None,
            disposed_on: day(-20),
            witness_id: witness.id.clone(),
            company: "株式会社東京リサイクルセンター（デモ）".into(),
            certificate: "TRC-2026-0412".into(),
            notes: String::new(),
            asset_id: Some(old_pc),
            device_id: None,
        };
        let paper = DisposalInput {
            kind: DisposalKind::Paper,
            method: DisposalMethod::Dissolving,
            description: "申込書・応対メモ 2024年度分（保存期間満了）段ボール箱".into(),
            serial: String::new(),
            quantity: Some(8),
            disposed_on: day(-45),
            company: "株式会社機密文書リサイクル（デモ）".into(),
            certificate: "KB-55102".into(),
            asset_id: None,
            ..pc.clone()
        };
        for input in [paper, pc] {
            self.isms.record_disposal(admin, input, &ctx).await?;
        }
        Ok(())
    }

    /// Policies with acknowledgements (issue 18, item 1): the three tiers, the privacy policy
    /// and the confidentiality pledge, published. The pledge has a second version (SNS photos,
    /// penalties): everyone acknowledged the first, and all but the last six operators the
    /// second — they are listed as owing it again, their first acknowledgement kept. The option
    /// that makes lookups wait for the pledge is left off, so the demo's floor keeps working.
    async fn load_demo_policies(&self, admin: &crate::Principal) -> Result<(), CoreError> {
        use mamori_domain::isms::policy::{DraftInput, PolicyInput, PolicyKind, PolicyScope};
        let ctx = mamori_audit::RequestContext::default();
        let staff = PolicyScope { roles: vec![Role::Operator, Role::Supervisor], ..Default::default() };
        let documents = [
            (PolicyKind::BasicPolicy, "情報セキュリティ基本方針", PolicyScope::default(), DEMO_BASIC_POLICY),
            (PolicyKind::Standard, "情報セキュリティ対策基準", PolicyScope::default(), DEMO_STANDARD),
            (PolicyKind::Procedure, "コールセンター業務の実施手順", staff.clone(), DEMO_PROCEDURE),
            (
                PolicyKind::PrivacyPolicy,
                "個人情報保護方針（プライバシーポリシー）",
                PolicyScope::default(),
                DEMO_PRIVACY,
            ),
            (PolicyKind::ConfidentialityPledge, "機密保持誓約書", staff, DEMO_PLEDGE_V1),
        ];
        let users = self.base.store.read().await?.list_users().await?;
        let people: Vec<crate::Principal> = users
            .iter()
            .filter(|u| u.username.starts_with("demo-"))
            .map(|u| crate::Principal::direct(u, Vec::new()))
            .collect();
        let late = |p: &crate::Principal| {
            p.user
                .username
                .strip_prefix("demo-op")
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| n > 24)
        };
        let mut pledge = None;
        let in_scope = |scope: &PolicyScope, p: &crate::Principal| {
            scope.roles.is_empty() || p.user.roles.iter().any(|r| scope.roles.contains(r))
        };
        for (kind, title, scope, body) in documents {
            let input = PolicyInput {
                kind,
                title: title.into(),
                scope: scope.clone(),
                body: body.into(),
                note: "初版".into(),
            };
            let id = self.isms.create_policy(admin, input, &ctx).await?;
            self.isms.publish_policy(admin, &id, 1, &ctx).await?;
            for p in people.iter().filter(|p| in_scope(&scope, p)) {
                self.isms.acknowledge_policy(p, &id, 1, &ctx).await?;
            }
            if kind == PolicyKind::ConfidentialityPledge {
                pledge = Some(id);
            }
        }
        let Some(pledge) = pledge else { return Ok(()) };
        let draft = DraftInput {
            body: DEMO_PLEDGE_V2.into(),
            note: "SNS への写真・動画の投稿と、違反時の処分を明記".into(),
        };
        self.isms.save_policy_draft(admin, &pledge, draft, &ctx).await?;
        self.isms.publish_policy(admin, &pledge, 2, &ctx).await?;
        for p in people
            .iter()
            .filter(|p| !late(p) && matches!(p.user.roles[..], [Role::Operator | Role::Supervisor]))
        {
            self.isms.acknowledge_policy(p, &pledge, 2, &ctx).await?;
        }
        Ok(())
    }

    /// Training (issue 18, item 2): the onboarding course on the floor's rules, for operators
    /// and supervisors, with its quiz. Everyone was assigned it; all but the last four
    /// operators passed (demo-op27 failed once first); demo-op27 and demo-op28 are overdue,
    /// demo-op29 and demo-op30 still within their time. The option that makes lookups wait for
    /// onboarding is left off, so the demo's floor keeps working.
    async fn load_demo_training(&self, admin: &crate::Principal) -> Result<(), CoreError> {
        use mamori_domain::isms::training::{CourseInput, CourseKind, parse_quiz};
        let ctx = mamori_audit::RequestContext::default();
        let questions = parse_quiz(DEMO_ONBOARDING_QUIZ)
            .map_err(|e| CoreError::Internal(format!("the demo quiz: {}", e.message)))?;
        let right: Vec<Option<usize>> = questions.iter().map(|q| Some(q.answer)).collect();
        let input = CourseInput {
            kind: CourseKind::Onboarding,
            title: "入社時研修：情報漏えいを防ぐ職場のルール".into(),
            title_en: "Onboarding: the floor's rules against leaks".into(),
            summary: "クリアデスク、私物スマートフォン、USBメモリ、メール宛先の確認、漏えいを疑ったときの行動".into(),
            summary_en: "Clean desk, personal phones, USB sticks, checking mail recipients, what to do when you suspect a leak".into(),
            body: DEMO_ONBOARDING_BODY.into(),
            pass_mark: 80,
            roles: vec![Role::Operator, Role::Supervisor],
            due_days: 14,
            questions,
        };
        let course = self.isms.create_training_course(admin, input, &ctx).await?;
        let users = self.base.store.read().await?.list_users().await?;
        let staff: Vec<crate::Principal> = users
            .iter()
            .filter(|u| u.username.starts_with("demo-op") || u.username.starts_with("demo-sv"))
            .map(|u| crate::Principal::direct(u, Vec::new()))
            .collect();
        let number = |p: &crate::Principal| {
            p.user.username.strip_prefix("demo-op").and_then(|n| n.parse::<usize>().ok()).unwrap_or(0)
        };
        // Assigned as if invited: the late ones three weeks ago (overdue), the others today.
        let today = mamori_domain::isms::vendor::parse_date(&crate::jst::day(self.base.now()))
            .unwrap_or(time::Date::MIN);
        let mut tx = self.base.store.begin().await?;
        for p in &staff {
            let late = matches!(number(p), 27 | 28);
            tx.insert_training_assignment(&mamori_store::TrainingAssignmentRecord {
                id: crate::new_id(),
                course_id: course.clone(),
                user_id: p.user.id.clone(),
                reason: "onboarding".into(),
                incident_id: None,
                assigned_at: if late {
                    self.base.now().minus(std::time::Duration::from_secs(21 * 86_400))
                } else {
                    self.base.now()
                },
                assigned_by: "system".into(),
                due_on: if late { today - time::Duration::days(7) } else { today + time::Duration::days(14) }
                    .to_string(),
            })
            .await?;
        }
        tx.commit().await?;
        for p in &staff {
            match number(p) {
                27 => {
                    // One wrong answer in two: failed, not retaken yet.
                    let wrong: Vec<Option<usize>> = right
                        .iter()
                        .enumerate()
                        .map(|(i, a)| if i % 2 == 0 { a.map(|x| (x + 1) % 3) } else { *a })
                        .collect();
                    self.isms.submit_training_attempt(p, &course, &wrong, &ctx).await?;
                }
                28..=30 => {}
                _ => {
                    self.isms.submit_training_attempt(p, &course, &right, &ctx).await?;
                }
            }
        }
        Ok(())
    }

    /// DEMO-PC-07's operator asked to take it home and their supervisor approved (issue 15,
    /// item 4), through the engine with the demo TOTP code as the step-up: when the PC shows up
    /// outside the office network, its signal reads "approved take-out".
    async fn demo_take_out(
        &self,
        user: &UserRecord,
        device: &mamori_store::DeviceRecord,
    ) -> Result<(), CoreError> {
        let ctx = mamori_audit::RequestContext::default();
        let users = self.base.store.read().await?.list_users().await?;
        let Some(sv) =
            users.into_iter().find(|u| u.roles.contains(&Role::Supervisor) && u.team_id == user.team_id)
        else {
            return Ok(());
        };
        let op = crate::Principal::direct(user, Vec::new());
        let until = crate::take_out::TakeOutRequest {
            item: crate::take_out::TakeOutItem::Device(device.id.clone()),
            until: crate::jst::day(mamori_domain::UnixMillis(self.now().0 + 3 * crate::jst::DAY_MS)),
            reason: "在宅勤務（3日間）のため自宅へ持ち帰ります。".into(),
        };
        let asked = self.request_take_out(&op, &until, &ctx).await?;
        let sv = crate::Principal::direct(&sv, Vec::new());
        // The oldest code still accepted (the previous 30-second step's first): the current one
        // stays free for the supervisor's own sign-in as the demo starts. If they signed in
        // already, a later step is taken.
        let now = self.now().as_secs();
        let mut step = None;
        for at in [now.saturating_sub(30), now, now + 30] {
            let code = mamori_crypto::totp::code_at(DEMO_TOTP_SECRET, at)?;
            if let Ok(s) = self.identity.step_up(&sv, &code, &format!("approval:{}", asked.id), &ctx).await {
                step = Some(s);
                break;
            }
        }
        let Some(step) = step else {
            tracing::warn!("the demo take-out was left for a supervisor to decide");
            return Ok(());
        };
        self.approvals
            .decide(&sv, &asked.id, true, Some(&step), "自宅の回線で、VPN接続を確認済み。", &ctx)
            .await?;
        Ok(())
    }

    /// One step of the simulated agents (every few seconds).
    pub async fn demo_device_tick(&self, feed: &mut DemoDeviceFeed) -> Result<(), CoreError> {
        use mamori_proto::agent::{AgentEvent, EventData, UsbDevice};
        if feed.devices.is_empty() {
            self.load_demo_devices().await?;
            // The access review freezes the PCs too, so it starts once they are enrolled.
            self.load_demo_access_review().await?;
            feed.devices = self.base.store.read().await?.list_devices().await?;
        }
        feed.ticks += 1;
        for (i, device) in feed.devices.iter().enumerate() {
            let n = i + 1;
            // DEMO-PC-07 goes home after a minute of the demo.
            // DEMO-PC-07 goes home after a minute of the demo, under an approved take-out;
            // DEMO-PC-15 shows up outside the office a little later with none.
            let ip = match n {
                7 if feed.ticks > 12 => "198.51.100.7".to_owned(),
                15 if feed.ticks > 20 => "198.51.100.15".to_owned(),
                _ => format!("203.0.113.{n}"),
            };
            let current =
                self.base.store.read().await?.device(&device.id).await?.unwrap_or_else(|| device.clone());
            self.devices.device_contact(&current, Some(&ip)).await?;
            if current.revoked_at.is_none() {
                self.demo_take_commands(&mut feed.away, &current, n).await?;
            }
        }
        // Operators back at PCs a command locked: they unlock (or sign in again).
        let now = self.now();
        let back: Vec<String> =
            feed.away.iter().filter(|(_, (until, _))| *until <= now).map(|(id, _)| id.clone()).collect();
        for id in back {
            let Some((_, signed_out)) = feed.away.remove(&id) else { continue };
            let Some(device) = feed.devices.iter().find(|d| d.id == id) else { continue };
            let event = if signed_out {
                EventData::SessionLogon { user: "demo".into() }
            } else {
                EventData::ScreenUnlocked {}
            };
            let e = AgentEvent { id: format!("back-{}", new_id()), time: now.0, event };
            self.devices.record_events(device, &[e]).await?;
        }
        let minute = self.now().0.div_euclid(60_000) * 60_000 - 60_000;
        if minute != feed.last_minute {
            feed.last_minute = minute;
            for (i, device) in feed.devices.iter().enumerate() {
                // Nobody types at a locked PC.
                if feed.away.contains_key(&device.id) {
                    continue;
                }
                let events = demo_activity(i + 1, minute, feed.ticks);
                self.devices.record_events(device, &events).await?;
            }
        }
        if let Some(pc12) = feed.devices.get(11) {
            let usb = UsbDevice {
                vendor_id: "0781".into(),
                product_id: "5581".into(),
                product: Some("Ultra USB 3.0 (demo)".into()),
                serial: None,
                mass_storage: true,
            };
            let event = match feed.ticks % 30 {
                5 => Some(EventData::UsbAttached(usb)),
                20 => Some(EventData::UsbRemoved(usb)),
                _ => None,
            };
            if let Some(event) = event {
                let e = AgentEvent { id: new_id(), time: self.now().0, event };
                self.devices.record_events(pc12, &[e]).await?;
            }
        }
        Ok(())
    }
}

impl Core {
    /// A simulated PC takes its commands as the agent does — the same poll and result
    /// operations, never the store directly — and reports what a real PC would: the screen
    /// locked, the user signed out, the message shown.
    async fn demo_take_commands(
        &self,
        away: &mut std::collections::HashMap<String, (mamori_domain::UnixMillis, bool)>,
        device: &mamori_store::DeviceRecord,
        n: usize,
    ) -> Result<(), CoreError> {
        use mamori_proto::agent::{AgentEvent, EventData};
        let ctx = mamori_audit::RequestContext::default();
        for command in self.devices.poll_commands(device, std::time::Duration::ZERO).await? {
            let now = self.now();
            let event = |event| AgentEvent { id: format!("cmd-{}", command.id), time: now.0, event };
            let detail = match command.kind.as_str() {
                "lock" => {
                    self.devices.record_events(device, &[event(EventData::ScreenLocked {})]).await?;
                    away.insert(device.id.clone(), (now.plus(DEMO_AWAY), false));
                    "screen locked (simulated PC)"
                }
                "sign_out" => {
                    let logoff = EventData::SessionLogoff { user: "demo".into() };
                    self.devices.record_events(device, &[event(logoff)]).await?;
                    away.insert(device.id.clone(), (now.plus(DEMO_AWAY), true));
                    "signed out (simulated PC)"
                }
                "message" => "message shown (simulated PC)",
                "refresh_inventory" => {
                    self.devices.record_inventory(device, &demo_inventory(&device.hostname, n), &ctx).await?;
                    "inventory sent (simulated PC)"
                }
                _ => "",
            };
            let ok = !detail.is_empty();
            let detail = if ok { detail } else { "this agent does not know the command" };
            self.devices.finish_command(device, &command.id, ok, detail, &ctx).await?;
        }
        Ok(())
    }
}

// The demo's policies (issue 18, item 1): short, in Japanese, on the source articles' rules.
const DEMO_BASIC_POLICY: &str = "# 情報セキュリティ基本方針（デモ）\n\n\
当センターは、委託元企業からお預かりした顧客情報をはじめとする情報資産を、漏えい・改ざん・紛失から守ることを経営の最重要課題とします。\n\n\
1. 法令・契約・委託元の定めを守ります。\n\
2. 情報資産を特定し、リスクに応じた対策を講じます。\n\
3. 全従業員に教育を行い、規程への同意を求めます。\n\
4. 事故が起きた場合は速やかに報告し、再発を防ぎます。\n\
5. この方針と対策を定期的に見直し、改善します。\n";

const DEMO_STANDARD: &str = "# 情報セキュリティ対策基準（デモ）\n\n\
## 物理的対策\n\n\
- 執務エリアへの私物（スマートフォン、USB メモリ、筆記用具）の持ち込みを禁止し、ロッカーに保管する。\n\
- 退席時は画面をロックし、机上に書類を残さない（クリアデスク）。\n\n\
## 技術的対策\n\n\
- 顧客情報の参照は通話中または理由の記録を必須とし、すべて監査ログに残す。\n\
- USB 記憶媒体は承認された持ち出し以外では使用しない。\n";

const DEMO_PROCEDURE: &str = "# コールセンター業務の実施手順（デモ）\n\n\
1. 始業時に PC を起動し、自分のアカウントでサインインする（共用しない）。\n\
2. 顧客情報は、応対中の顧客についてのみ参照する。\n\
3. メールは送信前に宛先と本文を読み上げて確認する（ダブルチェック）。\n\
4. 情報漏えいの疑いに気づいたら、ただちに SV に報告する。\n";

const DEMO_PRIVACY: &str = "# 個人情報保護方針（デモ）\n\n\
当センターは、個人情報の保護に関する法律その他の法令を遵守し、委託元企業の指示の範囲内で個人情報を取り扱います。\n\n\
- 利用目的の範囲を超えて取り扱いません。\n\
- 安全管理措置を講じ、従業者と委託先を監督します。\n\
- 開示等の求めには、委託元企業と連携して対応します。\n";

const DEMO_PLEDGE_V1: &str = "# 機密保持誓約書（デモ）\n\n\
私は、業務に従事するにあたり、次の事項を遵守することを誓約します。\n\n\
1. 業務上知り得た顧客情報・委託元の情報を、在職中も退職後も第三者に漏らしません。\n\
2. 顧客情報を業務以外の目的で参照・複製・持ち出ししません。\n\
3. SNS に業務に関する内容を書き込みません。\n";

const DEMO_PLEDGE_V2: &str = "# 機密保持誓約書（デモ）\n\n\
私は、業務に従事するにあたり、次の事項を遵守することを誓約します。\n\n\
1. 業務上知り得た顧客情報・委託元の情報を、在職中も退職後も第三者に漏らしません。\n\
2. 顧客情報を業務以外の目的で参照・複製・持ち出ししません。\n\
3. SNS に業務に関する内容を、写真・動画を含めて投稿しません（私的なアカウントも同様です）。\n\
4. 違反した場合、就業規則に基づく懲戒処分および損害賠償の対象となることを理解しています。\n";

// The demo's onboarding course (issue 18, item 2): the source articles' rules, in plain Japanese.
const DEMO_ONBOARDING_BODY: &str = "# 情報漏えいを防ぐ職場のルール\n\n\
コールセンターでは、毎日たくさんのお客さまの情報を扱います。情報漏えいの多くは、うっかりしたミスや、ちょっとした油断から起こります。次の5つのルールを必ず守ってください。\n\n\
## 1. 机の上には何も残さない（クリアデスク）\n\n\
- 席を離れるときは、短い時間でも画面をロックします（Windows キー＋L）。\n\
- メモや印刷した書類は机の上に置いたままにしません。業務が終わったら、決められた場所にしまうか、シュレッダーで処分します。\n\
- お客さまの情報を付箋や手帳に書き写してはいけません。\n\n\
## 2. 私物のスマートフォンは席に持ち込まない\n\n\
- スマートフォン、スマートウォッチ、私物のノートやペンはロッカーに入れてから執務エリアに入ります。\n\
- 画面を撮影すれば、一瞬で大量の情報が外に出てしまいます。急ぎの連絡が必要なときは SV に相談してください。\n\n\
## 3. USB メモリは使わない\n\n\
- USB メモリなどの記録媒体は、承認された持ち出し以外では使いません。PC に挿すと記録され、SV とセキュリティ管理者に通知されます。\n\
- 拾った USB メモリを PC に挿してはいけません。ウイルスが仕込まれていることがあります。\n\n\
## 4. メールは送る前に宛先を二人で確かめる\n\n\
- 送信前に、宛先・CC・添付ファイルを声に出して読み上げ、もう一人に確認してもらいます（ダブルチェック）。\n\
- 宛先の入力補完（オートコンプリート）をそのまま信じてはいけません。似た名前のアドレスが出てきます。\n\
- 複数のお客さまに送るときは BCC を使います。\n\n\
## 5. 漏えいかもしれないと思ったら、すぐに報告する\n\n\
- メールの誤送信、書類や USB メモリの紛失、不審な電話やメールに気づいたら、自分で何とかしようとせず、すぐに SV に報告します。\n\
- Mamori の「漏えいの可能性を報告」からも報告できます（名前を伏せて報告することもできます）。\n\
- 個人情報の漏えいは、国（個人情報保護委員会）への報告期限があります。早く報告するほど、被害を小さくできます。報告したことで責められることはありません。\n";

const DEMO_ONBOARDING_QUIZ: &str = "\
? 5分だけ席を離れます。正しい行動はどれですか。
- 5分ならそのままでよい
* 画面をロックし、書類をしまってから離れる
- 隣の人に画面を見ていてもらう

? 私物のスマートフォンはどこに置きますか。
- 机の引き出し
- 電源を切ってポケットに入れる
* ロッカー

? 駐車場で USB メモリを拾いました。どうしますか。
- 持ち主を探すため、PC に挿して中身を確認する
* PC には挿さず、SV に渡す
- 自宅の PC で確認する

? お客さまにメールを送る前にすることはどれですか。
* 宛先・CC・添付ファイルを読み上げ、もう一人に確認してもらう
- 入力補完で出てきたアドレスなので、そのまま送る
- 送ってから、宛先が正しかったか確かめる

? 複数のお客さまに同じ案内をメールで送ります。宛先はどこに入れますか。
- TO
- CC
* BCC

? メールを違う相手に送ってしまったかもしれません。どうしますか。
- 相手から連絡がなければ様子を見る
- 自分で相手に電話して削除をお願いし、誰にも言わない
* すぐに SV に報告する（Mamori から報告してもよい）
";
