//! Access-right reviews [アクセス権の棚卸し] (issue 18, item 3; LEAK-6). Pure: what an entry of a
//! campaign is, the flags Mamori puts on it at the freeze, the separation-of-duties rule, who
//! reviews whom, and what a decision may say.

use crate::{Role, UnixMillis};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// Days without a sign-in after which an account is dormant.
pub const DORMANT_DAYS: i64 = 30;
/// How far back a shared-account signal flags an account.
pub const SHARED_SIGNAL_DAYS: i64 = 90;
/// Days a campaign has, unless the setting says otherwise.
pub const DEFAULT_DUE_DAYS: i64 = 14;
pub const REASON_MAX: usize = 1_000;
pub const TITLE_MAX: usize = 200;
/// Entries on a reviewer's page.
pub const PAGE_SIZE: i64 = 50;

/// Roles no one may hold together (separation of duties): who runs the floor must not run the
/// security system or audit it, and who audits must not run what they audit.
pub const CONFLICTING_ROLES: [(Role, Role); 4] = [
    (Role::Operator, Role::SecurityAdmin),
    (Role::Operator, Role::Auditor),
    (Role::SecurityAdmin, Role::Auditor),
    (Role::Supervisor, Role::Auditor),
];

/// The pairs of `roles` that conflict.
pub fn conflicts(roles: &[Role]) -> Vec<(Role, Role)> {
    CONFLICTING_ROLES.into_iter().filter(|(a, b)| roles.contains(a) && roles.contains(b)).collect()
}

/// Whether a role is privileged: it runs or reads the whole security system.
pub fn privileged(role: Role) -> bool {
    matches!(role, Role::SecurityAdmin | Role::Auditor)
}

/// What an entry is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// One of the person's roles.
    Role,
    /// A client company whose customers they work on.
    Client,
    /// A PC enrolled to them (not revoked).
    Device,
}

impl EntryKind {
    pub const ALL: [EntryKind; 3] = [EntryKind::Role, EntryKind::Client, EntryKind::Device];
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Role => "role",
            EntryKind::Client => "client",
            EntryKind::Device => "device",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What Mamori noticed about an entry at the freeze.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// No sign-in for 30 days (and the account is older than that).
    Dormant,
    /// A security_admin or auditor role.
    Privileged,
    /// A shared-account signal (`shared_account_suspected`) in the last 90 days.
    SharedAccount,
    /// A role few of the person's team hold (see [`role_mismatches`]).
    RoleMismatch,
    /// A role that conflicts with another the person holds ([`CONFLICTING_ROLES`]).
    SodConflict,
}

impl Flag {
    pub const ALL: [Flag; 5] =
        [Flag::Dormant, Flag::Privileged, Flag::SharedAccount, Flag::RoleMismatch, Flag::SodConflict];
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Dormant => "dormant",
            Flag::Privileged => "privileged",
            Flag::SharedAccount => "shared_account",
            Flag::RoleMismatch => "role_mismatch",
            Flag::SodConflict => "sod_conflict",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// Stored as a comma-separated list.
    pub fn encode(flags: &BTreeSet<Flag>) -> String {
        flags.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(",")
    }
    pub fn decode(s: &str) -> Vec<Flag> {
        s.split(',').filter_map(Flag::parse).collect()
    }
}

/// A team smaller than this is not judged for role mismatches (too few to say what is usual).
pub const MISMATCH_MIN_TEAM: usize = 4;

/// The "role not matching the team" rule: in a team of at least [`MISMATCH_MIN_TEAM`] active
/// people, a role other than `supervisor` held by fewer than a quarter of the team's members
/// (the person included) does not match the team — an operator team's one security admin, an
/// auditor sitting in an operator team. Supervisors are exempt: every team has one or two.
/// Input: each member's roles; output: for each member index, the roles that do not match.
pub fn role_mismatches(team: &[&[Role]]) -> Vec<Vec<Role>> {
    if team.len() < MISMATCH_MIN_TEAM {
        return vec![Vec::new(); team.len()];
    }
    let mut held: HashMap<Role, usize> = HashMap::new();
    for roles in team {
        for r in roles.iter().collect::<BTreeSet<_>>() {
            *held.entry(*r).or_default() += 1;
        }
    }
    team.iter()
        .map(|roles| {
            roles
                .iter()
                .copied()
                .filter(|r| *r != Role::Supervisor && held.get(r).copied().unwrap_or(0) * 4 < team.len())
                .collect()
        })
        .collect()
}

/// What a reviewer decides about an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Keep it.
    Approve,
    /// Take it away, at once.
    Revoke,
    /// Decide later; needs a reason. The entry stays open.
    Defer,
    /// Hand it to the security admins. The entry stays open.
    Escalate,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Revoke => "revoke",
            Decision::Defer => "defer",
            Decision::Escalate => "escalate",
        }
    }
    /// Whether it closes the entry.
    pub fn closes(self) -> bool {
        matches!(self, Decision::Approve | Decision::Revoke)
    }
}

/// A decision as asked for.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    pub decision: Decision,
    /// Required to defer; optional otherwise (≤ 1,000 characters).
    #[serde(default)]
    pub reason: String,
}

/// A field refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewError {
    pub field: &'static str,
    pub message: String,
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), ReviewError> {
    if value.chars().count() > max {
        return Err(ReviewError { field, message: format!("at most {max} characters") });
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(ReviewError { field, message: "control characters are not allowed".into() });
    }
    Ok(())
}

impl DecisionInput {
    /// The reason, trimmed, once the input holds together.
    pub fn check(&self) -> Result<String, ReviewError> {
        let reason = self.reason.trim();
        check_text("reason", reason, REASON_MAX)?;
        if self.decision == Decision::Defer && reason.is_empty() {
            return Err(ReviewError { field: "reason", message: "required".into() });
        }
        Ok(reason.to_owned())
    }
}

/// A campaign started by a security admin.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    pub title: String,
    /// Days the reviewers have (1–90); default 14.
    #[serde(default)]
    pub due_days: Option<i64>,
}

impl CampaignInput {
    pub fn check(&self) -> Result<(String, i64), ReviewError> {
        let title = self.title.trim();
        if title.is_empty() {
            return Err(ReviewError { field: "title", message: "required".into() });
        }
        check_text("title", title, TITLE_MAX)?;
        let days = self.due_days.unwrap_or(DEFAULT_DUE_DAYS);
        if !(1..=90).contains(&days) {
            return Err(ReviewError { field: "due_days", message: "from 1 to 90 days".into() });
        }
        Ok((title.to_owned(), days))
    }
}

/// The review settings (security admin's): the schedule, the days a campaign has, and the
/// automatic disabling of dormant accounts. All off by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewSettings {
    /// A campaign over everyone every this many months (3: quarterly); 0: none by itself.
    #[serde(default)]
    pub every_months: i64,
    /// Days each campaign has (1–90).
    #[serde(default = "default_due_days")]
    pub due_days: i64,
    /// Accounts with no sign-in for this many days are disabled by the sweep (0: never;
    /// otherwise at least 30). Security admins are never disabled this way.
    #[serde(default)]
    pub disable_dormant_days: i64,
}

fn default_due_days() -> i64 {
    DEFAULT_DUE_DAYS
}

impl Default for ReviewSettings {
    fn default() -> Self {
        ReviewSettings { every_months: 0, due_days: DEFAULT_DUE_DAYS, disable_dormant_days: 0 }
    }
}

impl ReviewSettings {
    pub fn check(&self) -> Result<(), ReviewError> {
        if !(0..=12).contains(&self.every_months) {
            return Err(ReviewError { field: "every_months", message: "0 (off) to 12".into() });
        }
        if !(1..=90).contains(&self.due_days) {
            return Err(ReviewError { field: "due_days", message: "from 1 to 90 days".into() });
        }
        if self.disable_dormant_days != 0 && !(30..=3650).contains(&self.disable_dormant_days) {
            return Err(ReviewError {
                field: "disable_dormant_days",
                message: "0 (off) or from 30 to 3650 days".into(),
            });
        }
        Ok(())
    }

    /// The period a scheduled campaign at `at` belongs to (`YYYY-MM`, the period's first month,
    /// in Japan's calendar), or `None` when the schedule is off.
    pub fn period(&self, at: UnixMillis) -> Option<String> {
        if self.every_months <= 0 {
            return None;
        }
        let jst = at.0 / 1000 + 9 * 3600;
        let days = jst.div_euclid(86_400);
        let (y, m, _) = civil_from_days(days);
        let index = (y * 12 + (m - 1)) / self.every_months * self.every_months;
        Some(format!("{:04}-{:02}", index / 12, index % 12 + 1))
    }
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// One person as the freeze sees them.
#[derive(Debug, Clone)]
pub struct Member<'a> {
    pub id: &'a str,
    pub roles: &'a [Role],
    pub team_id: Option<&'a str>,
    pub created_at: UnixMillis,
}

/// The flags of one person's entries: those of the person (dormant, shared account) and, per
/// role, those of the role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonFlags {
    pub person: BTreeSet<Flag>,
    pub roles: HashMap<Role, BTreeSet<Flag>>,
}

impl PersonFlags {
    /// The flags of an entry of `kind` (`role` names the role of a role entry).
    pub fn of(&self, kind: EntryKind, role: Option<Role>) -> BTreeSet<Flag> {
        let mut out = self.person.clone();
        if kind == EntryKind::Role
            && let Some(r) = role
            && let Some(f) = self.roles.get(&r)
        {
            out.extend(f.iter().copied());
        }
        out
    }
}

/// Flags everyone at the freeze. `signed_in` holds who signed in within [`DORMANT_DAYS`] of
/// `now`; `shared` who had a shared-account signal within [`SHARED_SIGNAL_DAYS`].
pub fn flag_people(
    members: &[Member<'_>],
    signed_in: &BTreeSet<&str>,
    shared: &BTreeSet<&str>,
    now: UnixMillis,
) -> Vec<PersonFlags> {
    let dormant_before = now.0 - DORMANT_DAYS * 86_400_000;
    let mut teams: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, m) in members.iter().enumerate() {
        if let Some(t) = m.team_id {
            teams.entry(t).or_default().push(i);
        }
    }
    let mut mismatch: HashMap<usize, Vec<Role>> = HashMap::new();
    for idx in teams.values() {
        let roles: Vec<&[Role]> = idx.iter().map(|i| members[*i].roles).collect();
        for (i, m) in idx.iter().zip(role_mismatches(&roles)) {
            mismatch.insert(*i, m);
        }
    }
    members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut f = PersonFlags::default();
            if m.created_at.0 < dormant_before && !signed_in.contains(m.id) {
                f.person.insert(Flag::Dormant);
            }
            if shared.contains(m.id) {
                f.person.insert(Flag::SharedAccount);
            }
            let conflicting: BTreeSet<Role> =
                conflicts(m.roles).into_iter().flat_map(|(a, b)| [a, b]).collect();
            for r in m.roles {
                let mut rf = BTreeSet::new();
                if privileged(*r) {
                    rf.insert(Flag::Privileged);
                }
                if conflicting.contains(r) {
                    rf.insert(Flag::SodConflict);
                }
                if mismatch.get(&i).is_some_and(|m| m.contains(r)) {
                    rf.insert(Flag::RoleMismatch);
                }
                if !rf.is_empty() {
                    f.roles.insert(*r, rf);
                }
            }
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separation_of_duties() {
        assert_eq!(
            conflicts(&[Role::Operator, Role::SecurityAdmin]),
            vec![(Role::Operator, Role::SecurityAdmin)]
        );
        assert!(conflicts(&[Role::Supervisor, Role::SecurityAdmin]).is_empty());
        assert_eq!(conflicts(&[Role::SecurityAdmin, Role::Auditor, Role::Operator]).len(), 3);
    }

    #[test]
    fn a_role_few_of_the_team_hold_does_not_match() {
        let op: &[Role] = &[Role::Operator];
        let sv: &[Role] = &[Role::Supervisor];
        let admin: &[Role] = &[Role::Operator, Role::SecurityAdmin];
        let m = role_mismatches(&[op, op, op, op, sv, admin]);
        assert!(m[0].is_empty());
        assert!(m[4].is_empty(), "supervisors are exempt");
        assert_eq!(m[5], vec![Role::SecurityAdmin]);
        assert!(role_mismatches(&[op, admin]).iter().all(Vec::is_empty), "small teams are not judged");
    }

    #[test]
    fn flags_at_the_freeze() {
        let now = UnixMillis(100 * 86_400_000);
        let old = UnixMillis(0);
        let roles_a = [Role::Operator, Role::SecurityAdmin];
        let roles_b = [Role::Operator];
        let members = [
            Member { id: "a", roles: &roles_a, team_id: None, created_at: old },
            Member { id: "b", roles: &roles_b, team_id: None, created_at: UnixMillis(now.0 - 1) },
        ];
        let signed: BTreeSet<&str> = BTreeSet::new();
        let shared: BTreeSet<&str> = ["b"].into();
        let f = flag_people(&members, &signed, &shared, now);
        assert!(f[0].person.contains(&Flag::Dormant));
        assert!(!f[1].person.contains(&Flag::Dormant), "a new account is not dormant");
        assert!(f[1].person.contains(&Flag::SharedAccount));
        let admin = f[0].of(EntryKind::Role, Some(Role::SecurityAdmin));
        assert!(admin.contains(&Flag::Privileged) && admin.contains(&Flag::SodConflict));
        assert!(f[0].of(EntryKind::Client, None).contains(&Flag::Dormant));
        assert_eq!(Flag::decode(&Flag::encode(&admin)), admin.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn defer_needs_a_reason() {
        let d = DecisionInput { decision: Decision::Defer, reason: "  ".into() };
        assert_eq!(d.check().unwrap_err().field, "reason");
        assert!(DecisionInput { decision: Decision::Approve, reason: String::new() }.check().is_ok());
    }

    #[test]
    fn periods() {
        let s = ReviewSettings { every_months: 3, ..Default::default() };
        // 2026-11-29T23:00Z is 2026-11-30 in Japan: the quarter starting in October.
        assert_eq!(s.period(UnixMillis(1_795_993_200_000)).as_deref(), Some("2026-10"));
        assert_eq!(ReviewSettings::default().period(UnixMillis(0)), None);
    }
}
