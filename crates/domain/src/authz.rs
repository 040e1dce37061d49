//! Roles and permissions: the one place that says which role may do what (TW-4).
//!
//! Routes declare a [`Permission`]; a principal holds the union of its roles' permissions
//! (API tokens hold a subset of their owner's). Nothing is allowed unless listed here.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Operator,
    Supervisor,
    SecurityAdmin,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Operator, Role::Supervisor, Role::SecurityAdmin, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Supervisor => "supervisor",
            Role::SecurityAdmin => "security_admin",
            Role::Auditor => "auditor",
        }
    }

    /// The permissions this role grants. The matrix is documented in `docs/authorization.md`,
    /// and a test keeps that page equal to this function.
    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Operator => &[CustomersRead, PoliciesRead, TrainingTake, ChecksDo],
            Role::Supervisor => &[
                UsersRead,
                OrgRead,
                CustomersRead,
                DevicesRead,
                DevicesCommand,
                AlertsRead,
                AlertsManage,
                AccessReviewsRead,
                AccessReviewsDecide,
                PoliciesRead,
                TrainingTake,
                ChecksDo,
            ],
            Role::SecurityAdmin => &[
                UsersRead,
                UsersManage,
                OrgRead,
                OrgManage,
                TokensManage,
                AuditRead,
                SecurityEventsRead,
                SettingsManage,
                CustomersManage,
                CtiWrite,
                DevicesRead,
                DevicesCommand,
                DevicesManage,
                AlertsRead,
                AlertsManage,
                IncidentsRead,
                IncidentsManage,
                IsmsRead,
                IsmsManage,
                AccessReviewsRead,
                AccessReviewsDecide,
                AccessReviewsManage,
                PoliciesRead,
                TrainingTake,
            ],
            Role::Auditor => &[
                UsersRead,
                OrgRead,
                AuditRead,
                SecurityEventsRead,
                DevicesRead,
                AlertsRead,
                IncidentsRead,
                IsmsRead,
                AccessReviewsRead,
                PoliciesRead,
                TrainingTake,
            ],
        }
    }

    /// Roles whose holders must sign in with a second factor (TW-8).
    pub fn requires_totp(self) -> bool {
        !matches!(self, Role::Operator)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| UnknownName(s.to_owned()))
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
pub enum Permission {
    /// List and read user accounts.
    #[serde(rename = "users.read")]
    UsersRead,
    /// Invite, disable, enable, unlock users; change roles and client assignments.
    #[serde(rename = "users.manage")]
    UsersManage,
    /// Read teams, sites and client companies.
    #[serde(rename = "org.read")]
    OrgRead,
    /// Create teams, sites and client companies.
    #[serde(rename = "org.manage")]
    OrgManage,
    /// Create and revoke API tokens.
    #[serde(rename = "tokens.manage")]
    TokensManage,
    /// Read the audit log.
    #[serde(rename = "audit.read")]
    AuditRead,
    /// Read security events (shared accounts, lockouts).
    #[serde(rename = "security_events.read")]
    SecurityEventsRead,
    /// Change system-wide settings such as "TOTP for everyone".
    #[serde(rename = "settings.manage")]
    SettingsManage,
    /// Look up customers of one's own client companies and read their cards, masked per role.
    #[serde(rename = "customers.read")]
    CustomersRead,
    /// Create, import, correct and erase customer records (nothing is shown unmasked by it).
    #[serde(rename = "customers.manage")]
    CustomersManage,
    /// Report calls starting and ending (the telephony integration's API token).
    #[serde(rename = "cti.write")]
    CtiWrite,
    /// Read the device ledger: devices, their inventory and state.
    #[serde(rename = "devices.read")]
    DevicesRead,
    /// Lock a PC, sign its user out or show them a message — the everyday remote commands — on
    /// PCs in one's people scope (a supervisor: their own team's).
    #[serde(rename = "devices.command")]
    DevicesCommand,
    /// Create enrolment tokens, revoke devices, send every remote command (a refresh of the
    /// inventory too).
    #[serde(rename = "devices.manage")]
    DevicesManage,
    /// Read the alerts the detectors raised about people in one's scope (a supervisor: their
    /// own team), with the entries behind them.
    #[serde(rename = "alerts.read")]
    AlertsRead,
    /// Acknowledge, assign, suppress, close alerts and reverse automatic responses (in scope).
    #[serde(rename = "alerts.manage")]
    AlertsManage,
    /// Read incidents: their timeline, the personal data involved, the reports due.
    #[serde(rename = "incidents.read")]
    IncidentsRead,
    /// Open, run and close incidents; record the reports made. (Reporting a possible leak
    /// needs no permission: anyone signed in may.)
    #[serde(rename = "incidents.manage")]
    IncidentsManage,
    /// Read the ISMS registers: control catalogs, the Statement of Applicability and its live
    /// evidence.
    #[serde(rename = "isms.read")]
    IsmsRead,
    /// Keep the ISMS registers: import catalogs, decide applicability and implementation.
    #[serde(rename = "isms.manage")]
    IsmsManage,
    /// Read access-right reviews (issue 18, item 3; LEAK-6): a supervisor the entries they
    /// review, security admins and auditors every campaign.
    #[serde(rename = "access_reviews.read")]
    AccessReviewsRead,
    /// Decide the access-review entries one reviews (a supervisor their team's; a security admin
    /// any): approve, revoke at once, defer with a reason, escalate.
    #[serde(rename = "access_reviews.decide")]
    AccessReviewsDecide,
    /// Run access reviews: start campaigns, their schedule and the dormant-account option,
    /// export a campaign as evidence.
    #[serde(rename = "access_reviews.manage")]
    AccessReviewsManage,
    /// Read the policies published to oneself (by role, site, client company) and acknowledge
    /// them (issue 18, item 1): everyone signed in who is in a document's scope.
    #[serde(rename = "policies.read")]
    PoliciesRead,
    /// Take the training courses one owes or is assigned (issue 18, item 2; ISMS-8): read them,
    /// answer their quizzes, download one's certificates — everyone signed in.
    #[serde(rename = "training.take")]
    TrainingTake,
    /// Do one's checks (issue 18, item 4; ISMS-7): an operator their own seat's, a supervisor
    /// their team's floor; a supervisor also sees the team's runs and resolves its follow-ups.
    #[serde(rename = "checks.do")]
    ChecksDo,
}

impl Permission {
    pub const ALL: [Permission; 26] = [
        Permission::UsersRead,
        Permission::UsersManage,
        Permission::OrgRead,
        Permission::OrgManage,
        Permission::TokensManage,
        Permission::AuditRead,
        Permission::SecurityEventsRead,
        Permission::SettingsManage,
        Permission::CustomersRead,
        Permission::CustomersManage,
        Permission::CtiWrite,
        Permission::DevicesRead,
        Permission::DevicesCommand,
        Permission::DevicesManage,
        Permission::AlertsRead,
        Permission::AlertsManage,
        Permission::IncidentsRead,
        Permission::IncidentsManage,
        Permission::IsmsRead,
        Permission::IsmsManage,
        Permission::AccessReviewsRead,
        Permission::AccessReviewsDecide,
        Permission::AccessReviewsManage,
        Permission::PoliciesRead,
        Permission::TrainingTake,
        Permission::ChecksDo,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::UsersRead => "users.read",
            Permission::UsersManage => "users.manage",
            Permission::OrgRead => "org.read",
            Permission::OrgManage => "org.manage",
            Permission::TokensManage => "tokens.manage",
            Permission::AuditRead => "audit.read",
            Permission::SecurityEventsRead => "security_events.read",
            Permission::SettingsManage => "settings.manage",
            Permission::CustomersRead => "customers.read",
            Permission::CustomersManage => "customers.manage",
            Permission::CtiWrite => "cti.write",
            Permission::DevicesRead => "devices.read",
            Permission::DevicesCommand => "devices.command",
            Permission::DevicesManage => "devices.manage",
            Permission::AlertsRead => "alerts.read",
            Permission::AlertsManage => "alerts.manage",
            Permission::IncidentsRead => "incidents.read",
            Permission::IncidentsManage => "incidents.manage",
            Permission::IsmsRead => "isms.read",
            Permission::IsmsManage => "isms.manage",
            Permission::AccessReviewsRead => "access_reviews.read",
            Permission::AccessReviewsDecide => "access_reviews.decide",
            Permission::AccessReviewsManage => "access_reviews.manage",
            Permission::PoliciesRead => "policies.read",
            Permission::TrainingTake => "training.take",
            Permission::ChecksDo => "checks.do",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| UnknownName(s.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown name `{0}`")]
pub struct UnknownName(pub String);

impl Permission {
    /// The permissions holding this one includes: every command (`devices.manage`) includes
    /// the everyday ones (`devices.command`), so a token made with `devices.manage` alone can
    /// still lock a PC.
    pub fn includes(self) -> &'static [Permission] {
        match self {
            Permission::DevicesManage => &[Permission::DevicesCommand],
            _ => &[],
        }
    }
}

/// Whether a set of held permissions grants `needs`, directly or through [`Permission::includes`].
pub fn holds(held: &BTreeSet<Permission>, needs: Permission) -> bool {
    held.contains(&needs) || held.iter().any(|p| p.includes().contains(&needs))
}

/// The permissions a set of roles grants.
pub fn permissions_of(roles: &[Role]) -> BTreeSet<Permission> {
    roles.iter().flat_map(|r| r.permissions().iter().copied()).collect()
}

/// What a route needs before its handler runs. Every route names one (deny by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (sign-in page, health checks, static files).
    Public,
    /// Any session, even one still waiting for its second factor (sign-out).
    AnySession,
    /// A session that has passed its password but not yet its second factor.
    PendingSecondFactor,
    /// A fully signed-in user who still has to enrol TOTP (their role requires it).
    EnrolmentAllowed,
    /// Any fully signed-in user.
    SignedIn,
    /// A fully signed-in user or token holding this permission.
    Permission(Permission),
    /// An enrolled, unrevoked device, by a request signed with its key (the agent's routes).
    Device,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Public => f.write_str("public"),
            Access::AnySession => f.write_str("any session"),
            Access::PendingSecondFactor => f.write_str("pending second factor"),
            Access::EnrolmentAllowed => f.write_str("signed in (TOTP enrolment allowed)"),
            Access::SignedIn => f.write_str("signed in"),
            Access::Permission(p) => write!(f, "permission {p}"),
            Access::Device => f.write_str("an enrolled device's signature"),
        }
    }
}

/// The remote commands `devices.command` sends: what a supervisor needs on the floor. A refresh
/// of the inventory is the admins' (it changes nothing a supervisor acts on).
pub const EVERYDAY_COMMANDS: [&str; 3] = ["lock", "sign_out", "message"];

/// The permission a remote command of `kind` needs from someone holding `held`:
/// `devices.manage` sends any command (so an admin's token made before `devices.command` existed
/// keeps working), `devices.command` only the everyday ones. The resource's scope is then
/// checked by [`authorize`] as for any other permission.
pub fn command_permission(held: &BTreeSet<Permission>, kind: &str) -> Permission {
    if !held.contains(&Permission::DevicesManage) && EVERYDAY_COMMANDS.contains(&kind) {
        Permission::DevicesCommand
    } else {
        Permission::DevicesManage
    }
}

/// Renders the matrix as the Markdown table in `docs/authorization.md`.
pub fn matrix_markdown() -> String {
    let mut out = String::from("| permission |");
    for r in Role::ALL {
        out.push_str(&format!(" {r} |"));
    }
    out.push_str("\n|---|");
    for _ in Role::ALL {
        out.push_str("---|");
    }
    out.push('\n');
    for p in Permission::ALL {
        out.push_str(&format!("| `{p}` |"));
        for r in Role::ALL {
            out.push_str(if r.permissions().contains(&p) { " ✓ |" } else { "   |" });
        }
        out.push('\n');
    }
    out
}

/// Who asks, as the authorization rule sees them: their id, roles, team, client companies and
/// the permissions they hold (an API token's may be fewer than its owner's roles grant).
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub user_id: &'a str,
    pub roles: &'a [Role],
    pub team_id: Option<&'a str>,
    pub client_ids: &'a [String],
    pub permissions: &'a BTreeSet<Permission>,
}

/// What an operation is done to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    /// The system as a whole: users, organisation, tokens, settings, policies, the audit log.
    System,
    /// A customer of one client company (reads are limited to the caller's client companies).
    Customer { client_id: &'a str },
    /// A person's monitoring data or a PC of theirs (`user_id` None: a PC assigned to nobody).
    Person { user_id: Option<&'a str>, team_id: Option<&'a str> },
}

/// Why the rule refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The permission is not held.
    Permission(Permission),
    /// A customer of a client company the caller does not work on.
    ClientScope,
    /// A person outside the caller's people scope (a supervisor's team).
    TeamScope,
}

impl Refusal {
    /// The reason recorded with the `denied` entry.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Permission(_) => "permission",
            Refusal::ClientScope => "client_scope",
            Refusal::TeamScope => "team_scope",
        }
    }
}

/// The one authorization rule every operation applies, whoever calls it — a route, the command
/// line, a background job, a detector: the permission must be held, and the resource must be in
/// the caller's scope. A person may always read their own monitoring data (DESIGN invariant 8),
/// without `devices.read`.
pub fn authorize(subject: &Subject<'_>, needs: Permission, resource: Resource<'_>) -> Result<(), Refusal> {
    let own_monitoring = needs == Permission::DevicesRead
        && matches!(resource, Resource::Person { user_id: Some(u), .. } if u == subject.user_id);
    if !own_monitoring && !holds(subject.permissions, needs) {
        return Err(Refusal::Permission(needs));
    }
    match resource {
        Resource::System => Ok(()),
        // Managing customers (import, correction, erasure) is the security admin's, across
        // clients; reading them is limited to one's own client companies.
        Resource::Customer { .. } if needs == Permission::CustomersManage => Ok(()),
        Resource::Customer { client_id } => {
            if subject.client_ids.iter().any(|c| c == client_id) {
                Ok(())
            } else {
                Err(Refusal::ClientScope)
            }
        }
        Resource::Person { user_id, team_id } => {
            if PeopleScope::of(subject.roles, subject.team_id).covers(subject.user_id, user_id, team_id) {
                Ok(())
            } else {
                Err(Refusal::TeamScope)
            }
        }
    }
}

/// Whose monitoring data — devices, their activity, events and commands, shifts — a person
/// may see. Security admins and auditors see everyone; a supervisor sees the members of their
/// own team and no one else (a supervisor without a team sees no one: deny by default); anyone
/// else sees only themselves, through their own pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeopleScope {
    Everyone,
    Team(String),
    OnlySelf,
}

impl PeopleScope {
    pub fn of(roles: &[Role], team_id: Option<&str>) -> Self {
        if roles.iter().any(|r| matches!(r, Role::SecurityAdmin | Role::Auditor)) {
            PeopleScope::Everyone
        } else if roles.contains(&Role::Supervisor) {
            team_id.map_or(PeopleScope::OnlySelf, |t| PeopleScope::Team(t.to_owned()))
        } else {
            PeopleScope::OnlySelf
        }
    }

    /// Whether a person of `team_id` (`user_id`) is in this scope of `viewer_id`.
    pub fn covers(&self, viewer_id: &str, user_id: Option<&str>, team_id: Option<&str>) -> bool {
        match self {
            PeopleScope::Everyone => true,
            PeopleScope::Team(t) => team_id == Some(t.as_str()),
            PeopleScope::OnlySelf => user_id == Some(viewer_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managing_devices_includes_the_everyday_commands() {
        let manage: BTreeSet<_> = [Permission::DevicesManage].into();
        assert!(holds(&manage, Permission::DevicesCommand));
        assert!(!holds(&manage, Permission::DevicesRead), "nothing else");
        let command: BTreeSet<_> = [Permission::DevicesCommand].into();
        assert!(!holds(&command, Permission::DevicesManage), "not the other way");
    }

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(p));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn operators_hold_no_admin_permission() {
        assert_eq!(
            permissions_of(&[Role::Operator]),
            [
                Permission::CustomersRead,
                Permission::PoliciesRead,
                Permission::TrainingTake,
                Permission::ChecksDo
            ]
            .into()
        );
        assert!(!permissions_of(&[Role::Auditor]).contains(&Permission::UsersManage));
    }

    #[test]
    fn several_roles_grant_the_union() {
        let both = permissions_of(&[Role::Supervisor, Role::Auditor]);
        assert!(both.contains(&Permission::AuditRead));
        assert!(both.contains(&Permission::UsersRead));
        assert!(!both.contains(&Permission::UsersManage));
    }

    #[test]
    fn people_scope_is_team_for_supervisors_and_nobody_without_a_team() {
        let sv = PeopleScope::of(&[Role::Supervisor], Some("t1"));
        assert!(sv.covers("me", Some("u2"), Some("t1")));
        assert!(!sv.covers("me", Some("u3"), Some("t2")));
        assert!(!sv.covers("me", None, None), "a device of nobody is outside a team");
        let lone = PeopleScope::of(&[Role::Supervisor], None);
        assert!(!lone.covers("me", Some("u2"), Some("t1")));
        assert!(lone.covers("me", Some("me"), None));
        for wide in [Role::SecurityAdmin, Role::Auditor] {
            assert_eq!(PeopleScope::of(&[Role::Supervisor, wide], Some("t1")), PeopleScope::Everyone);
        }
        assert_eq!(PeopleScope::of(&[Role::Operator], Some("t1")), PeopleScope::OnlySelf);
    }

    #[test]
    fn one_rule_for_permission_and_scope() {
        let clients = vec!["c1".to_owned()];
        let sv_perms = permissions_of(&[Role::Supervisor]);
        let sv = Subject {
            user_id: "sv",
            roles: &[Role::Supervisor],
            team_id: Some("t1"),
            client_ids: &clients,
            permissions: &sv_perms,
        };
        let team_pc = Resource::Person { user_id: Some("op1"), team_id: Some("t1") };
        let other_pc = Resource::Person { user_id: Some("op2"), team_id: Some("t2") };
        assert_eq!(authorize(&sv, Permission::DevicesRead, team_pc), Ok(()));
        assert_eq!(authorize(&sv, Permission::DevicesRead, other_pc), Err(Refusal::TeamScope));
        assert_eq!(
            authorize(&sv, Permission::DevicesManage, team_pc),
            Err(Refusal::Permission(Permission::DevicesManage))
        );
        assert_eq!(authorize(&sv, Permission::CustomersRead, Resource::Customer { client_id: "c1" }), Ok(()));
        assert_eq!(
            authorize(&sv, Permission::CustomersRead, Resource::Customer { client_id: "c2" }),
            Err(Refusal::ClientScope)
        );

        let op_perms = permissions_of(&[Role::Operator]);
        let op = Subject {
            user_id: "op1",
            roles: &[Role::Operator],
            team_id: Some("t1"),
            client_ids: &[],
            permissions: &op_perms,
        };
        let own = Resource::Person { user_id: Some("op1"), team_id: Some("t1") };
        assert_eq!(authorize(&op, Permission::DevicesRead, own), Ok(()), "one's own minutes (invariant 8)");
        assert_eq!(
            authorize(
                &op,
                Permission::DevicesRead,
                Resource::Person { user_id: Some("op3"), team_id: Some("t1") }
            ),
            Err(Refusal::Permission(Permission::DevicesRead))
        );
        assert_eq!(
            authorize(&op, Permission::DevicesManage, own),
            Err(Refusal::Permission(Permission::DevicesManage))
        );

        let admin_perms = permissions_of(&[Role::SecurityAdmin]);
        let admin = Subject {
            user_id: "a",
            roles: &[Role::SecurityAdmin],
            team_id: None,
            client_ids: &[],
            permissions: &admin_perms,
        };
        assert_eq!(
            authorize(&admin, Permission::CustomersManage, Resource::Customer { client_id: "c2" }),
            Ok(())
        );
        assert_eq!(authorize(&admin, Permission::DevicesManage, other_pc), Ok(()));

        // Supervisors lock, sign out and message their own team's PCs; the rest stays the admins'.
        let lock = command_permission(&sv_perms, "lock");
        assert_eq!(lock, Permission::DevicesCommand);
        assert_eq!(authorize(&sv, lock, team_pc), Ok(()));
        assert_eq!(authorize(&sv, lock, other_pc), Err(Refusal::TeamScope));
        let refresh = command_permission(&sv_perms, "refresh_inventory");
        assert_eq!(authorize(&sv, refresh, team_pc), Err(Refusal::Permission(Permission::DevicesManage)));
        assert_eq!(
            authorize(&op, command_permission(&op_perms, "lock"), own),
            Err(Refusal::Permission(Permission::DevicesCommand)),
            "an operator does not lock even their own PC from the console"
        );
        let token_perms: BTreeSet<Permission> = [Permission::DevicesManage].into();
        assert_eq!(command_permission(&token_perms, "lock"), Permission::DevicesManage);
        assert_eq!(authorize(&admin, Permission::SettingsManage, Resource::System), Ok(()));
    }
}
