//! The demo contact center: a BPO serving two client companies from two sites, with about forty
//! staff in every role, and 10,000 customers. Everything is plainly synthetic (names end in
//! "(デモ)" / "(demo)" or read "デモ顧客").
//! Later features add their own demo data here.

use crate::vault::NewCustomer;
use crate::{Core, CoreError, new_id, settings};
use mamori_audit::{Actor, AuditEvent, Category, Outcome};
use mamori_domain::Role;
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
        let mut read = self.store.read().await?;
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
        let mut tx = self.store.begin().await?;
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

        let sealed_for = |id: &str| self.secrets.seal(DEMO_TOTP_SECRET.as_bytes(), id);
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
        let e = AuditEvent::new(Category::Operation, "demo.load", Actor::System, Outcome::Success)
            .detail("users", index.to_string());
        tx.append_audit(now, &e).await?;
        tx.commit().await?;
        self.load_demo_customers(&clients).await?;
        Ok(accounts)
    }

    /// 10,000 plainly synthetic customers ("デモ顧客00001", 050 numbers, example.com addresses,
    /// card test numbers), alternating between the two demo clients.
    async fn load_demo_customers(&self, clients: &[OrgUnit]) -> Result<(), CoreError> {
        let admin = self
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
        self.create_customers(&principal, &customers, &Default::default()).await.map_err(|e| {
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
}

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
                let Some(user) = self.store.read().await?.user_by_username(&name).await? else { continue };
                for call in self.store.read().await?.active_calls(&user.id).await? {
                    self.call_ended(Actor::System, &call.external_id, &Default::default()).await?;
                }
            }
            feed.started = true;
        }
        let ended: Vec<String> =
            feed.calls.iter().filter(|(_, (_, until))| *until <= now).map(|(op, _)| op.clone()).collect();
        for op in ended {
            if let Some((call_id, _)) = feed.calls.remove(&op) {
                self.call_ended(Actor::System, &call_id, &Default::default()).await?;
            }
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
            self.call_started(Actor::System, &call_id, &op, &caller, &Default::default()).await?;
            let secs = 45 + u64::try_from(pick(135)).unwrap_or(0);
            feed.calls.insert(op, (call_id, now.plus(std::time::Duration::from_secs(secs))));
        }
        Ok(())
    }
}
