//! Four eyes (issue 15; LEAK-1, LEAK-9, LEAK-13, TW-4, TW-9; DESIGN invariant 3): a risky action
//! becomes a request that others approve before it may happen once.
//!
//! The rules here, free of storage and time sources:
//! - a kind of request has a policy: how many approvals, from which roles (and whether an
//!   operator's own team supervisor counts), within what time, how long the grant lasts;
//! - the requester never decides their own request, whatever roles they hold; no one decides
//!   twice; a decision needs a second factor passed within [`STEP_UP_WINDOW_MS`];
//! - a grant is bound to the request's content (its digest, computed by the caller over the
//!   canonical content) and used once.

use crate::{Role, UnixMillis};
use serde::{Deserialize, Serialize};

/// What is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalKind {
    /// Printing a customer sheet [印刷はSVの承認制].
    Print,
    /// Exporting customers [データ持ち出し].
    Export,
    /// Taking a device, medium or paper out [持ち出し申請].
    TakeOut,
    /// An outgoing mail with customer data to an external domain [ダブルチェック].
    Mail,
    /// A reveal beyond the allowance.
    Reveal,
    /// A privileged action (granting security_admin, a policy change, key rotation…).
    Privileged,
}

impl ApprovalKind {
    pub const ALL: [ApprovalKind; 6] = [
        ApprovalKind::Print,
        ApprovalKind::Export,
        ApprovalKind::TakeOut,
        ApprovalKind::Mail,
        ApprovalKind::Reveal,
        ApprovalKind::Privileged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalKind::Print => "print",
            ApprovalKind::Export => "export",
            ApprovalKind::TakeOut => "take_out",
            ApprovalKind::Mail => "mail",
            ApprovalKind::Reveal => "reveal",
            ApprovalKind::Privileged => "privileged",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What it is, in Japanese and English, for words that leave the console (e-mail).
    pub fn words(self) -> (&'static str, &'static str) {
        match self {
            ApprovalKind::Print => ("印刷", "print"),
            ApprovalKind::Export => ("データ持ち出し", "customer export"),
            ApprovalKind::TakeOut => ("持ち出し申請", "take-out"),
            ApprovalKind::Mail => ("外部宛てメール", "external mail"),
            ApprovalKind::Reveal => ("上限を超える表示", "reveal beyond the allowance"),
            ApprovalKind::Privileged => ("特権操作", "privileged action"),
        }
    }

    /// The policy until the security admin sets one: an operator's work is approved by a
    /// supervisor of their team (or a security admin); privileged actions by a second security
    /// admin.
    pub fn default_policy(self) -> ApprovalPolicy {
        let hour = 3_600_000;
        match self {
            ApprovalKind::Privileged => ApprovalPolicy {
                approvals: 1,
                approver_roles: vec![Role::SecurityAdmin],
                own_team_supervisor: false,
                decide_within_ms: 24 * hour,
                grant_valid_ms: hour,
            },
            ApprovalKind::TakeOut => ApprovalPolicy {
                approvals: 1,
                approver_roles: vec![Role::Supervisor, Role::SecurityAdmin],
                own_team_supervisor: true,
                decide_within_ms: 24 * hour,
                grant_valid_ms: 7 * 24 * hour,
            },
            _ => ApprovalPolicy {
                approvals: 1,
                approver_roles: vec![Role::Supervisor, Role::SecurityAdmin],
                own_team_supervisor: true,
                decide_within_ms: 4 * hour,
                grant_valid_ms: hour,
            },
        }
    }
}

/// How a kind of request is decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApprovalPolicy {
    /// Approvals needed (1–3); one denial ends the request.
    pub approvals: u8,
    /// Roles that may decide.
    pub approver_roles: Vec<Role>,
    /// A supervisor decides only for their own team's people (security admins for anyone).
    pub own_team_supervisor: bool,
    /// A request not decided within this long expires.
    pub decide_within_ms: i64,
    /// A grant not used within this long expires.
    pub grant_valid_ms: i64,
}

/// A privileged action (issue 15, item 7): done only once a second security admin approved it
/// — unless the installation has a single security admin, who can have no second. The
/// request's content is this, serialised; the grant is bound to exactly it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum PrivilegedAction {
    /// Gives a user the security_admin role: `roles` is every role they will hold.
    GrantSecurityAdmin { user: String, roles: Vec<Role> },
    /// Sets how a kind of request is decided.
    SetApprovalPolicy { kind: ApprovalKind, policy: ApprovalPolicy },
    /// Sets the outgoing-mail rules (which domains are internal, the self-check, the client
    /// companies' recipient domains): one admin alone could otherwise let mail out unchecked.
    SetMailPolicy { policy: crate::mail::MailPolicy },
    /// Sets the detection rules in a way that turns one off: one admin alone could otherwise
    /// blind the detectors before acting.
    SetDetectionRules {
        rules: std::collections::BTreeMap<crate::detect::RuleId, crate::detect::RuleSettings>,
    },
    /// Erases a customer for a data-subject request.
    EraseCustomer { customer: String, request_ref: String },
    /// Rotates the vault's key-encryption key (`mamori keys rotate`).
    RotateVaultKeys,
    /// Destroys the vault's retired key versions (`mamori keys retire`).
    RetireVaultKeys,
}

impl PrivilegedAction {
    /// The action's code, as the audit log and the console's labels name it.
    pub fn code(&self) -> &'static str {
        match self {
            PrivilegedAction::GrantSecurityAdmin { .. } => "grant_security_admin",
            PrivilegedAction::SetApprovalPolicy { .. } => "set_approval_policy",
            PrivilegedAction::SetMailPolicy { .. } => "set_mail_policy",
            PrivilegedAction::SetDetectionRules { .. } => "set_detection_rules",
            PrivilegedAction::EraseCustomer { .. } => "erase_customer",
            PrivilegedAction::RotateVaultKeys => "rotate_vault_keys",
            PrivilegedAction::RetireVaultKeys => "retire_vault_keys",
        }
    }
}

/// A decision must follow a second factor passed within this long (step-up).
pub const STEP_UP_WINDOW_MS: i64 = 15 * 60 * 1000;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    /// Waiting for decisions.
    Pending,
    /// Approved: the grant may be used once, until it expires.
    Granted,
    Denied,
    /// Not decided, or the grant not used, in time.
    Expired,
    /// Withdrawn by the requester.
    Cancelled,
    /// The grant was used.
    Used,
}

impl ApprovalState {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Granted => "granted",
            ApprovalState::Denied => "denied",
            ApprovalState::Expired => "expired",
            ApprovalState::Cancelled => "cancelled",
            ApprovalState::Used => "used",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ApprovalState::Pending,
            ApprovalState::Granted,
            ApprovalState::Denied,
            ApprovalState::Expired,
            ApprovalState::Cancelled,
            ApprovalState::Used,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Someone who may decide, as the rules see them.
#[derive(Debug, Clone, Copy)]
pub struct Decider<'a> {
    pub user_id: &'a str,
    pub roles: &'a [Role],
    pub team_id: Option<&'a str>,
    /// When they last passed a second factor.
    pub second_factor_at: Option<UnixMillis>,
}

/// The request as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    pub requester_id: &'a str,
    pub requester_team: Option<&'a str>,
    pub state: ApprovalState,
    pub decide_by: UnixMillis,
    /// Who has decided already.
    pub decided_by: &'a [String],
}

/// Why a decision is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecisionRefused {
    #[error("the requester never decides their own request")]
    OwnRequest,
    #[error("this person has decided on this request already")]
    DecidedAlready,
    #[error("the request is no longer waiting for a decision")]
    NotPending,
    #[error("the request was not decided in time")]
    TooLate,
    #[error("this person's roles do not decide this kind of request, or not for this team")]
    NotAnApprover,
    #[error("a decision needs a second factor passed within the last 15 minutes")]
    StepUpNeeded,
}

impl DecisionRefused {
    /// The code the audit log records.
    pub fn code(self) -> &'static str {
        match self {
            DecisionRefused::OwnRequest => "own_request",
            DecisionRefused::DecidedAlready => "decided_already",
            DecisionRefused::NotPending => "not_pending",
            DecisionRefused::TooLate => "too_late",
            DecisionRefused::NotAnApprover => "not_an_approver",
            DecisionRefused::StepUpNeeded => "step_up",
        }
    }
}

impl ApprovalPolicy {
    /// Whether this person's roles and team let them decide this request (the four-eyes rule
    /// and the step-up are [`may_decide`]'s).
    pub fn is_approver(&self, who: &Decider<'_>, requester_team: Option<&str>) -> bool {
        who.roles.iter().any(|r| {
            self.approver_roles.contains(r)
                && match r {
                    // A supervisor decides for their own team only, where the policy says so.
                    Role::Supervisor if self.own_team_supervisor => {
                        who.team_id.is_some() && who.team_id == requester_team
                    }
                    _ => true,
                }
        })
    }

    /// Checks the policy's own bounds.
    pub fn checked(self) -> Result<Self, &'static str> {
        if !(1..=3).contains(&self.approvals) {
            return Err("approvals must be 1 to 3");
        }
        if self.approver_roles.is_empty() || self.approver_roles.contains(&Role::Operator) {
            return Err("approvers are supervisors, security admins or auditors");
        }
        let hour = 3_600_000;
        if !(60_000..=30 * 24 * hour).contains(&self.decide_within_ms)
            || !(60_000..=30 * 24 * hour).contains(&self.grant_valid_ms)
        {
            return Err("times are between one minute and 30 days");
        }
        Ok(self)
    }
}

/// Whether `who` may decide `asked` now under `policy`. The four-eyes rule comes first: the
/// requester is refused whatever roles they hold.
pub fn may_decide(
    policy: &ApprovalPolicy,
    asked: &Asked<'_>,
    who: &Decider<'_>,
    now: UnixMillis,
) -> Result<(), DecisionRefused> {
    if who.user_id == asked.requester_id {
        return Err(DecisionRefused::OwnRequest);
    }
    if asked.decided_by.iter().any(|d| d == who.user_id) {
        return Err(DecisionRefused::DecidedAlready);
    }
    if asked.state != ApprovalState::Pending {
        return Err(DecisionRefused::NotPending);
    }
    if now > asked.decide_by {
        return Err(DecisionRefused::TooLate);
    }
    if !policy.is_approver(who, asked.requester_team) {
        return Err(DecisionRefused::NotAnApprover);
    }
    match who.second_factor_at {
        Some(at) if now.0 - at.0 <= STEP_UP_WINDOW_MS && at.0 <= now.0 => Ok(()),
        _ => Err(DecisionRefused::StepUpNeeded),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixMillis = UnixMillis(10_000_000_000);

    fn sv<'a>(id: &'a str, team: Option<&'a str>) -> Decider<'a> {
        Decider { user_id: id, roles: &[Role::Supervisor], team_id: team, second_factor_at: Some(NOW) }
    }

    fn asked<'a>(decided: &'a [String]) -> Asked<'a> {
        Asked {
            requester_id: "op",
            requester_team: Some("team-a"),
            state: ApprovalState::Pending,
            decide_by: UnixMillis(NOW.0 + 1000),
            decided_by: decided,
        }
    }

    #[test]
    fn four_eyes_and_step_up() {
        let policy = ApprovalKind::Print.default_policy();
        assert_eq!(may_decide(&policy, &asked(&[]), &sv("sv", Some("team-a")), NOW), Ok(()));
        // The requester never decides, even holding every role.
        let all = Role::ALL;
        let me = Decider { user_id: "op", roles: &all, team_id: Some("team-a"), second_factor_at: Some(NOW) };
        assert_eq!(may_decide(&policy, &asked(&[]), &me, NOW), Err(DecisionRefused::OwnRequest));
        let twice = ["sv".to_owned()];
        assert_eq!(
            may_decide(&policy, &asked(&twice), &sv("sv", Some("team-a")), NOW),
            Err(DecisionRefused::DecidedAlready)
        );
        assert_eq!(
            may_decide(&policy, &asked(&[]), &sv("sv", Some("team-b")), NOW),
            Err(DecisionRefused::NotAnApprover),
            "another team's supervisor"
        );
        let stale = Decider {
            second_factor_at: Some(UnixMillis(NOW.0 - STEP_UP_WINDOW_MS - 1)),
            ..sv("sv", Some("team-a"))
        };
        assert_eq!(may_decide(&policy, &asked(&[]), &stale, NOW), Err(DecisionRefused::StepUpNeeded));
        let late = UnixMillis(NOW.0 + 2000);
        assert_eq!(
            may_decide(&policy, &asked(&[]), &sv("sv", Some("team-a")), late),
            Err(DecisionRefused::TooLate)
        );
        let admin = Decider {
            user_id: "admin",
            roles: &[Role::SecurityAdmin],
            team_id: None,
            second_factor_at: Some(NOW),
        };
        assert_eq!(
            may_decide(&policy, &asked(&[]), &admin, NOW),
            Ok(()),
            "a security admin decides for anyone"
        );
        let privileged = ApprovalKind::Privileged.default_policy();
        assert_eq!(
            may_decide(&privileged, &asked(&[]), &sv("sv", Some("team-a")), NOW),
            Err(DecisionRefused::NotAnApprover),
            "privileged actions: two security admins"
        );
    }

    #[test]
    fn policies_are_bounded() {
        let mut p = ApprovalKind::Export.default_policy();
        assert!(p.clone().checked().is_ok());
        p.approver_roles.push(Role::Operator);
        assert!(p.clone().checked().is_err());
        let p = ApprovalPolicy { approvals: 0, ..ApprovalKind::Export.default_policy() };
        assert!(p.checked().is_err());
        for k in ApprovalKind::ALL {
            assert_eq!(ApprovalKind::parse(k.as_str()), Some(k));
            assert!(k.default_policy().checked().is_ok(), "{k:?}");
        }
    }
}
