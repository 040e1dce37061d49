//! The catalogue of audit actions: every action Mamori writes, with its category, what its
//! object is and what each detail means — so a detector, a report and a SIEM rule can rely on
//! them. `docs/audit-log.md` lists them from this module (a test keeps the two equal).
//!
//! Code names an entry of this catalogue to make an event ([`AuditEvent::of`]), so an action
//! is not invented at a call site. The names are stable across versions: stored logs and SIEM
//! rules refer to them.
//!
//! **Category.** An action has one category, taken from the entry. A few actions are written
//! with another category when they are *refused* (outcome `denied`); [`Action::denied_as`]
//! names it, and [`Action::category_for`] gives the category for an outcome:
//!
//! - a supervisor refused a PC or person outside their team (`reason` `team_scope`), or a user
//!   refused another client company's customer (`client_scope`), is an `access` entry, though
//!   the action itself (`device.revoke`, `customer.note_add`, …) is a `device` or `operation`;
//! - an attempt refused by the per-address throttle of credential guesses (`throttled`) is an
//!   `authentication` entry, though `setup.complete`, `user.invitation_accept` and
//!   `device.enrol` are otherwise `operation` or `device` entries.
//!
//! **Refusals under a flood.** Any `denied` entry may also carry `repeats` (how many further
//! refusals of the same key it stands for) and `window_ms` (the window they were counted in);
//! see `crates/core/src/denials.rs`. Those two details are not repeated under each action.
//!
//! [`AuditEvent::of`]: crate::AuditEvent::of

use crate::{Category, Outcome};

/// One action of the catalogue.
#[derive(Debug, PartialEq, Eq)]
pub struct Action {
    /// Dotted lower-case name, as written in the log: `signin.password`.
    pub name: &'static str,
    /// The entry's category.
    pub category: Category,
    /// The category of this action's `denied` entries, where it differs from `category`.
    pub denied_as: Option<Category>,
    /// What the entry's object is (`user:<id>`), or `—` when it has none.
    pub object: &'static str,
    /// Detail key → what it holds.
    pub details: &'static [(&'static str, &'static str)],
    /// What happened.
    pub summary: &'static str,
}

impl Action {
    /// The category an entry of this action with `outcome` is written with.
    pub const fn category_for(&self, outcome: Outcome) -> Category {
        match (outcome, self.denied_as) {
            (Outcome::Denied, Some(category)) => category,
            _ => self.category,
        }
    }

    /// Whether an entry with this action name, `category` and `outcome` matches this action.
    pub fn allows(&self, category: Category, outcome: Outcome) -> bool {
        self.category_for(outcome) == category
    }
}

/// The action named `name`.
pub fn find(name: &str) -> Option<&'static Action> {
    ALL.iter().copied().find(|a| a.name == name)
}

macro_rules! catalogue {
    ($($(#[$meta:meta])* $id:ident = $action:expr;)*) => {
        $($(#[$meta])* pub const $id: Action = $action;)*
        /// Every action, in the order of this module (grouped by area).
        pub const ALL: &[&Action] = &[$(&$id),*];
    };
}

const USER: &str = "`user:<id>`";
const CUSTOMER: &str = "`customer:h:<keyed hash of the customer id>`";
const DEVICE: &str = "`device:<id>`";
const SESSION: &str = "`session:<id>`";
const ALERT: &str = "`alert:<id>`";
const INCIDENT: &str = "`incident:<id>`";
const NONE: &str = "—";
const SESSIONS_ENDED: (&str, &str) = ("sessions_ended", "how many of the user's sessions were ended");

catalogue! {
    // ── Sign-in and second factors ──────────────────────────────────────────────────────────
    SIGNIN_PASSWORD = Action {
        name: "signin.password",
        category: Category::Authentication,
        denied_as: None,
        object: "`user:<id>` (none for an unknown user name; actor `anonymous`)",
        details: &[(
            "reason",
            "failure: `unknown_user`, `wrong_password`, `invited`, `disabled`; denied: `locked`, `throttled`",
        )],
        summary: "a password checked at sign-in",
    };
    SIGNIN_SECOND_FACTOR = Action {
        name: "signin.second_factor",
        category: Category::Authentication,
        denied_as: None,
        object: USER,
        details: &[("reason", "denied: `locked`, `throttled` (actor `anonymous`)")],
        summary: "a second-factor attempt refused before its code was checked",
    };
    SIGNIN_TOTP = Action {
        name: "signin.totp",
        category: Category::Authentication,
        denied_as: None,
        object: USER,
        details: &[],
        summary: "a TOTP code checked at sign-in (success or failure)",
    };
    SIGNIN_RECOVERY_CODE = Action {
        name: "signin.recovery_code",
        category: Category::Authentication,
        denied_as: None,
        object: USER,
        details: &[],
        summary: "a recovery code used at sign-in (success or failure)",
    };
    PASSWORD_CHANGE = Action {
        name: "password.change",
        category: Category::Authentication,
        denied_as: None,
        object: USER,
        details: &[
            ("reason", "failure: `wrong_current_password`"),
            ("other_sessions_ended", "how many other sessions the change ended"),
        ],
        summary: "a user changed their password",
    };
    MFA_ENABLE = Action {
        name: "mfa.enable",
        category: Category::Authentication,
        denied_as: None,
        object: USER,
        details: &[("method", "`totp`")],
        summary: "a user enrolled a second factor",
    };
    MFA_DISABLE = Action {
        name: "mfa.disable",
        category: Category::Authentication,
        denied_as: None,
        object: USER,
        details: &[("reason", "denied: `totp_not_enabled`, `required_by_role`")],
        summary: "a user turned off their second factor",
    };
    MFA_RECOVERY_CODES_REGENERATE = Action {
        name: "mfa.recovery_codes_regenerate",
        category: Category::Authentication,
        denied_as: None,
        object: USER,
        details: &[],
        summary: "a user replaced their recovery codes",
    };
    MFA_RESET = Action {
        name: "mfa.reset",
        category: Category::Authentication,
        denied_as: None,
        object: USER,
        details: &[SESSIONS_ENDED],
        summary: "an admin removed a user's second factor (a lost phone)",
    };
    MFA_STEP_UP = Action {
        name: "mfa.step_up",
        category: Category::Authentication,
        denied_as: None,
        object: USER,
        details: &[("for", "what the step-up was asked for (`approval:<id>`)")],
        summary: "a signed-in user gave a TOTP code again before a sensitive decision (success or failure)",
    };

    // ── Sessions ────────────────────────────────────────────────────────────────────────────
    SESSION_START = Action {
        name: "session.start",
        category: Category::Login,
        denied_as: None,
        object: SESSION,
        details: &[(
            "browser",
            "the console browser's recognition cookie, as 16 hex digits of its SHA-256 (first-seen device)",
        )],
        summary: "a session began (after the password; it may still await a second factor)",
    };
    SESSION_RENEW = Action {
        name: "session.renew",
        category: Category::Login,
        denied_as: None,
        object: "`session:<id>` (the new session)",
        details: &[
            ("previous", "`session:<id>` it replaces"),
            ("reason", "`second_factor`, `mfa_enabled`, `password_changed`"),
        ],
        summary: "a session gained rights under a new id",
    };
    SESSION_END = Action {
        name: "session.end",
        category: Category::Login,
        denied_as: None,
        object: SESSION,
        details: &[("reason", "`sign_out`, `ended_by_user`, `expired`, `user_disabled`")],
        summary: "a session ended",
    };
    SESSION_END_ALL = Action {
        name: "session.end_all",
        category: Category::Login,
        denied_as: None,
        object: USER,
        details: &[SESSIONS_ENDED],
        summary: "all of a user's sessions were ended (by the user or an admin)",
    };

    // ── Security signals and refusals ───────────────────────────────────────────────────────
    ACCOUNT_LOCK = Action {
        name: "account.lock",
        category: Category::Security,
        denied_as: None,
        object: USER,
        details: &[
            ("failures", "consecutive failed sign-ins"),
            ("locked_until", "Unix milliseconds"),
        ],
        summary: "an account was locked after failed sign-ins (actor `system`)",
    };
    ACCOUNT_SHARED_SUSPECTED = Action {
        name: "account.shared_suspected",
        category: Category::Security,
        denied_as: None,
        object: USER,
        details: &[
            ("session", "the new session's id"),
            ("other_session", "the live session from another address"),
        ],
        summary: "a sign-in from a second address while a session is live (actor `system`)",
    };
    ROUTE_DENIED = Action {
        name: "route.denied",
        category: Category::Access,
        denied_as: None,
        object: "`route:<METHOD> <pattern>`",
        details: &[
            ("reason", "`permission`, `csrf`"),
            ("needs", "the permission the route needs (reason `permission`)"),
        ],
        summary: "a request refused before its handler ran",
    };
    DENIALS_OVERFLOW = Action {
        name: "denials.overflow",
        category: Category::Security,
        denied_as: None,
        object: NONE,
        details: &[
            ("reason", "`too_many_distinct_refusals`"),
            ("repeats", "refusals counted together"),
            ("window_ms", "the window they were counted in"),
        ],
        summary: "refusals beyond the table of aggregated keys (actor `system`)",
    };

    // ── Users, organisation, tokens, settings ───────────────────────────────────────────────
    PROFILE_LANGUAGE = Action {
        name: "profile.language",
        category: Category::Operation,
        denied_as: None,
        object: USER,
        details: &[("language", "`ja`, `en` or `browser`")],
        summary: "a user chose the console's language",
    };
    USER_INVITE = Action {
        name: "user.invite",
        category: Category::Operation,
        denied_as: None,
        object: USER,
        details: &[
            ("roles", "comma-separated roles"),
            ("clients", "comma-separated client company ids"),
            ("reason", "denied (object `invitation`): `approval_required` — inviting a security admin with a second admin to approve; invite with another role, then ask for the grant"),
        ],
        summary: "an admin invited a user",
    };
    USER_REINVITE = Action {
        name: "user.reinvite",
        category: Category::Operation,
        denied_as: None,
        object: USER,
        details: &[],
        summary: "an admin issued a new invitation link",
    };
    USER_UPDATE = Action {
        name: "user.update",
        category: Category::Operation,
        denied_as: None,
        object: USER,
        details: &[("fields", "comma-separated names of the changed profile fields")],
        summary: "an admin changed a user's profile",
    };
    USER_ROLES = Action {
        name: "user.roles",
        category: Category::Operation,
        denied_as: None,
        object: USER,
        details: &[
            ("from", "roles before"),
            ("to", "roles after"),
            ("approval", "granting security_admin: the approval a second security admin gave"),
            ("reason", "denied: `own_account` (removing one's own admin role), `approval_required` (granting security_admin with a second admin to approve)"),
        ],
        summary: "an admin changed a user's roles",
    };
    USER_CLIENTS = Action {
        name: "user.clients",
        category: Category::Operation,
        denied_as: None,
        object: USER,
        details: &[("from", "client company ids before"), ("to", "client company ids after")],
        summary: "an admin changed the client companies a user works on",
    };
    USER_DISABLE = Action {
        name: "user.disable",
        category: Category::Operation,
        denied_as: None,
        object: USER,
        details: &[
            SESSIONS_ENDED,
            ("reason", "denied: `own_account`"),
            ("dormant_days", "actor `system`: disabled by the access-review policy after this many days without a sign-in"),
        ],
        summary: "an admin disabled a user (or the dormant-account policy did)",
    };
    USER_ENABLE = Action {
        name: "user.enable",
        category: Category::Operation,
        denied_as: None,
        object: USER,
        details: &[],
        summary: "an admin re-enabled a user",
    };
    ACCESS_REVIEW_START = Action {
        name: "access_review.start",
        category: Category::Operation,
        denied_as: None,
        object: "`access_review:<id>`",
        details: &[
            ("trigger", "`scheduled`, `manual` or `transfer` (a person's team, site, client companies or roles changed)"),
            ("subject", "for `transfer`: the person reviewed (`user:<id>`)"),
            ("entries", "how many entries were frozen (person × role, client company, PC)"),
            ("flagged", "how many of them carry a flag"),
            ("due", "the due date (Unix milliseconds)"),
        ],
        summary: "an access-right review campaign started; its population was frozen (issue 18, item 3; LEAK-6)",
    };
    ACCESS_REVIEW_READ = Action {
        name: "access_review.read",
        category: Category::Access,
        denied_as: None,
        object: "`access_review:<id>` or `access_review_entry:<id>`",
        details: &[("reason", "`permission`, `not_reviewer` (a supervisor asking for entries they do not review)")],
        summary: "refused: an access review, without the permission or not one's own entries (only refusals are written)",
    };
    ACCESS_REVIEW_DECIDE = Action {
        name: "access_review.decide",
        category: Category::Operation,
        denied_as: Some(Category::Access),
        object: "`access_review_entry:<id>`",
        details: &[
            ("campaign", "the campaign (`access_review:<id>`)"),
            ("user", "the person whose access it is (`user:<id>`)"),
            ("kind", "`role`, `client` or `device`"),
            ("item", "the role's name, the client company's id or the PC's id"),
            ("decision", "`approve`, `revoke` (taken away in the same transaction), `defer` or `escalate` (to the security admins)"),
            ("flags", "the entry's flags at the freeze, comma-separated"),
            ("reason_chars", "the length of the reason given (the reason itself is on the entry)"),
            ("reason", "denied: `not_reviewer` (the entry is another reviewer's)"),
        ],
        summary: "a reviewer decided an access-review entry",
    };
    ACCESS_REVIEW_ESCALATE = Action {
        name: "access_review.escalate",
        category: Category::Operation,
        denied_as: None,
        object: "`access_review:<id>`",
        details: &[("entries", "how many open entries went to the security admins")],
        summary: "a campaign passed its due date: its unfinished entries went to the security admins (actor `system`)",
    };
    ACCESS_REVIEW_FINISH = Action {
        name: "access_review.finish",
        category: Category::Operation,
        denied_as: None,
        object: "`access_review:<id>`",
        details: &[
            ("entries", "entries in the campaign"),
            ("revoked", "of them revoked"),
        ],
        summary: "the last entry of a campaign was approved or revoked: the campaign is finished",
    };
    ACCESS_REVIEW_EXPORT = Action {
        name: "access_review.export",
        category: Category::Access,
        denied_as: None,
        object: "`access_review:<id>`",
        details: &[("entries", "how many entries the CSV holds")],
        summary: "a campaign was exported as evidence (CSV)",
    };
    ACCESS_REVIEW_SETTINGS = Action {
        name: "access_review.settings",
        category: Category::Operation,
        denied_as: None,
        object: "`settings`",
        details: &[
            ("every_months", "a campaign over everyone every this many months (0: off)"),
            ("due_days", "the days a campaign has"),
            ("disable_dormant_days", "accounts without a sign-in for this many days are disabled (0: off)"),
        ],
        summary: "the access-review settings changed",
    };
    USER_UNLOCK = Action {
        name: "user.unlock",
        category: Category::Operation,
        denied_as: None,
        object: USER,
        details: &[("was_locked", "`true` if a lockout was lifted")],
        summary: "an admin lifted a lockout",
    };
    SITE_CREATE = Action {
        name: "site.create",
        category: Category::Operation,
        denied_as: None,
        object: "`site:<id>`",
        details: &[],
        summary: "an admin created a site",
    };
    TEAM_CREATE = Action {
        name: "team.create",
        category: Category::Operation,
        denied_as: None,
        object: "`team:<id>`",
        details: &[],
        summary: "an admin created a team",
    };
    CLIENT_CREATE = Action {
        name: "client.create",
        category: Category::Operation,
        denied_as: None,
        object: "`client:<id>`",
        details: &[],
        summary: "an admin created a client company",
    };
    TOKEN_CREATE = Action {
        name: "token.create",
        category: Category::Operation,
        denied_as: None,
        object: "`token:<id>`",
        details: &[
            ("permissions", "comma-separated permissions"),
            ("expires_at", "Unix milliseconds"),
        ],
        summary: "an API token was created",
    };
    TOKEN_REVOKE = Action {
        name: "token.revoke",
        category: Category::Operation,
        denied_as: None,
        object: "`token:<id>`",
        details: &[],
        summary: "an API token was revoked",
    };
    SETTINGS_TOTP_FOR_EVERYONE = Action {
        name: "settings.totp_for_everyone",
        category: Category::Operation,
        denied_as: None,
        object: "`settings`",
        details: &[("value", "`true` or `false`")],
        summary: "TOTP required of every user, or no longer",
    };
    SETUP_LINK_ISSUED = Action {
        name: "setup.link_issued",
        category: Category::Operation,
        denied_as: None,
        object: NONE,
        details: &[],
        summary: "a one-time setup link was made (actor `system`)",
    };
    SETUP_COMPLETE = Action {
        name: "setup.complete",
        category: Category::Operation,
        denied_as: Some(Category::Authentication),
        object: USER,
        details: &[
            ("roles", "`security_admin`"),
            ("reason", "denied: `throttled` (actor `anonymous`)"),
        ],
        summary: "the first security admin was created through the setup link",
    };
    USER_INVITATION_ACCEPT = Action {
        name: "user.invitation_accept",
        category: Category::Operation,
        denied_as: Some(Category::Authentication),
        object: USER,
        details: &[("reason", "denied: `throttled` (actor `anonymous`)")],
        summary: "an invited user set their password",
    };
    APPROVAL_REQUEST = Action {
        name: "approval.request",
        category: Category::Operation,
        denied_as: None,
        object: "`approval:<id>`",
        details: &[
            ("kind", "`print`, `export`, `take_out`, `mail`, `reveal`, `privileged`"),
            ("digest", "the first 16 hex digits of the request's content digest"),
        ],
        summary: "a four-eyes request was made",
    };
    APPROVAL_APPROVE = Action {
        name: "approval.approve",
        category: Category::Operation,
        denied_as: None,
        object: "`approval:<id>`",
        details: &[
            ("kind", "the request's kind"),
            ("granted", "`true` when this approval completed the grant"),
            ("reason", "denied: `own_request`, `decided_already`, `not_pending`, `too_late`, `not_an_approver`, `step_up`"),
        ],
        summary: "a request was approved (denied: a decision refused by the four-eyes rules)",
    };
    APPROVAL_DENY = Action {
        name: "approval.deny",
        category: Category::Operation,
        denied_as: None,
        object: "`approval:<id>`",
        details: &[
            ("kind", "the request's kind"),
            ("reason", "denied: as for `approval.approve`"),
        ],
        summary: "a request was turned down",
    };
    APPROVAL_CANCEL = Action {
        name: "approval.cancel",
        category: Category::Operation,
        denied_as: None,
        object: "`approval:<id>`",
        details: &[("kind", "the request's kind"), ("reason", "denied: `not_requester`")],
        summary: "the requester withdrew a request or an unused grant",
    };
    APPROVAL_READ = Action {
        name: "approval.read",
        category: Category::Access,
        denied_as: None,
        object: "`approval:<id>`",
        details: &[("reason", "`not_involved` (neither its requester, an approver of its kind, nor an auditor)")],
        summary: "refused: a request read by someone not on it (only refusals are written)",
    };
    APPROVAL_EXPIRE = Action {
        name: "approval.expire",
        category: Category::Operation,
        denied_as: None,
        object: "`approval:<id>`",
        details: &[("kind", "the request's kind"), ("was", "`pending` (not decided in time) or `granted` (not used in time)")],
        summary: "a request or its grant ran out of time (actor `system`)",
    };
    APPROVAL_USE = Action {
        name: "approval.use",
        category: Category::Operation,
        denied_as: None,
        object: "`approval:<id>`",
        details: &[
            ("kind", "the request's kind"),
            ("reason", "denied: `not_granted` (unknown, used, expired or never granted), `changed` (not what was approved), `not_requester`"),
        ],
        summary: "a grant was used, once",
    };
    DEMO_LOAD = Action {
        name: "demo.load",
        category: Category::Operation,
        denied_as: None,
        object: NONE,
        details: &[("users", "how many demo users were made")],
        summary: "the synthetic demo data was loaded (actor `system`)",
    };

    // ── The audit log ───────────────────────────────────────────────────────────────────────
    AUDIT_SEARCH = Action {
        name: "audit.search",
        category: Category::Access,
        denied_as: None,
        object: "`audit_log`",
        details: &[("results", "entries returned")],
        summary: "the audit log was searched",
    };
    AUDIT_EXPORT = Action {
        name: "audit.export",
        category: Category::Access,
        denied_as: None,
        object: "`audit_log`",
        details: &[
            ("entries", "entries exported"),
            ("truncated", "`true` if the search had more"),
            ("filter_actor", "the search's filter, if given"),
            ("filter_action", "the search's filter, if given"),
            ("filter_object", "the search's filter, if given"),
            ("filter_outcome", "the search's filter, if given"),
            ("filter_from", "Unix milliseconds, if given"),
            ("filter_to", "Unix milliseconds, if given"),
        ],
        summary: "a search of the audit log was exported (CSV or JSON Lines)",
    };
    AUDIT_PROOF = Action {
        name: "audit.proof",
        category: Category::Access,
        denied_as: None,
        object: "`audit_log`",
        details: &[("what", "`entry <index> in tree <size>` or `consistency <from> to <to>`")],
        summary: "an inclusion or consistency proof was read",
    };
    AUDIT_VERIFY = Action {
        name: "audit.verify",
        category: Category::Access,
        denied_as: None,
        object: "`audit_log`",
        details: &[
            ("to_size", "entries verified (success)"),
            ("checkpoints", "signed checkpoints checked (success)"),
            ("mismatch", "what did not match (failure)"),
        ],
        summary: "the live log was verified from the console (success: it matched; failure: it did not)",
    };
    AUDIT_PRUNE = Action {
        name: "audit.prune",
        category: Category::Operation,
        denied_as: None,
        object: "`audit_log`",
        details: &[
            ("below", "entries below this index were deleted"),
            ("deleted", "how many"),
        ],
        summary: "archived entries past retention were deleted (actor `system`)",
    };

    // ── The customer vault and telephony ────────────────────────────────────────────────────
    CUSTOMER_IMPORT = Action {
        name: "customer.import",
        category: Category::Operation,
        denied_as: None,
        object: "`customers`",
        details: &[
            ("records", "customers imported"),
            ("clients", "comma-separated client company ids"),
        ],
        summary: "customers were imported or created together",
    };
    CUSTOMER_CREATE = Action {
        name: "customer.create",
        category: Category::Operation,
        denied_as: None,
        object: CUSTOMER,
        details: &[
            ("client", "client company id"),
            ("fields", "comma-separated names of the fields given"),
        ],
        summary: "one customer was created",
    };
    CUSTOMER_LOOKUP = Action {
        name: "customer.lookup",
        category: Category::Access,
        denied_as: None,
        object: "the customer shown, or `customer:none` when none was found",
        details: &[
            ("by", "the index searched (`phone`, …)"),
            ("results", "customers found"),
            ("fields", "field names shown"),
            ("confidential", "confidential field names shown"),
            ("purpose", "`active_call` or `reason`"),
            ("call", "the active call's id"),
            ("reason_code", "the stated reason's code"),
            ("reason_text_chars", "length of the stated reason"),
            ("reason_text_sealed", "the stated reason, sealed under the customer's key"),
            ("reason", "denied: `client_scope`; `lookups_held` (an alert's response paused the person's lookups); `policy_not_acknowledged` (the current confidentiality pledge is not acknowledged and lookups require it); `training_not_passed` (an onboarding course is not passed and lookups require it); `prerequisites_missing` (both)"),
            ("client", "denied: the customer's client company id"),
            ("alert", "denied for `lookups_held`: the alert whose response holds them"),
            ("policy", "denied for `policy_not_acknowledged`: the policy (`isms_policy:<id>`) to acknowledge first"),
            ("course", "denied for `training_not_passed` or `prerequisites_missing`: the onboarding course (`training_course:<id>`) to pass first"),
            ("near", "a lookup by phone with a reason that found no one: the number's block (all but its last two digits) as `phone_block:h:<keyed hash>`"),
            ("probe", "a lookup with a reason that found no one: with `near`, the number as `phone:h:<keyed hash>`; otherwise the key searched as `<kind>:h:<keyed hash>` (`email`, `name_birth`, `phone`)"),
        ],
        summary: "a customer was looked up (one entry per customer shown)",
    };
    CUSTOMER_REVEAL = Action {
        name: "customer.reveal",
        category: Category::Access,
        denied_as: None,
        object: CUSTOMER,
        details: &[
            ("field", "the field revealed"),
            ("purpose", "`reason`, or `approval` (beyond the allowance, approved by a supervisor)"),
            ("approval", "purpose `approval`: the approval whose grant the reveal used"),
            ("reason_code", "the stated reason's code"),
            ("reason_text_chars", "length of the stated reason"),
            ("reason_text_sealed", "the stated reason, sealed under the customer's key"),
            ("reason", "denied: `client_scope`, `field_hidden`, `allowance`"),
            ("client", "denied (`client_scope`): the customer's client company id"),
        ],
        summary: "a masked field was shown in full",
    };
    CUSTOMER_PRINT = Action {
        name: "customer.print",
        category: Category::Access,
        denied_as: None,
        object: CUSTOMER,
        details: &[
            ("fields", "field names printed (masked as the printer's roles see them)"),
            ("approval", "the approval whose grant the print used"),
            ("reason", "denied: `client_scope`"),
            ("client", "denied: the customer's client company id"),
        ],
        summary: "a customer sheet was printed (a watermarked PDF), once per approved request",
    };
    CUSTOMER_EXPORT = Action {
        name: "customer.export",
        category: Category::Access,
        denied_as: None,
        object: "`org:<client company id>`",
        details: &[
            ("fields", "field names exported (card numbers always masked)"),
            ("customers", "how many customers the approved request covered"),
            ("approval", "the approval whose grant the export used"),
            ("reason", "denied: `client_scope`, `permission`"),
            ("needs", "denied for a permission: the permission missing"),
        ],
        summary: "customers of one client company were exported as an encrypted archive, once per approved request",
    };
    TAKE_OUT_RETURN = Action {
        name: "take_out.return",
        category: Category::Operation,
        denied_as: None,
        object: "`approval:<id>`",
        details: &[
            ("overdue", "`true` when it came back after its return date"),
            ("reason", "denied: `own_request`, `not_an_approver`, `not_taken_out`"),
        ],
        summary: "a supervisor recorded that a PC, USB stick or paper file taken out came back",
    };
    MAIL_SUBMIT = Action {
        name: "mail.submit",
        category: Category::Operation,
        denied_as: None,
        object: "`mail:<id>`",
        details: &[
            ("route", "`pass` (internal recipients only, relayed at once), `held` (external: the sender checks it), `returned` (a client company's domain limit refused it)"),
            ("recipients", "how many recipients"),
            ("external_domains", "comma-separated external recipient domains"),
            ("customer_data", "what was found: `attachments`, `card_numbers`, `customer_phones`, `customer_emails` with counts"),
            ("needs_approval", "`true` when a supervisor must approve it too"),
            ("bytes", "the message's size"),
            ("error", "failure: why the relay upstream refused an internal mail"),
        ],
        summary: "a mail was submitted to the relay (no addresses or content are logged, only domains and counts)",
    };
    MAIL_CONFIRM = Action {
        name: "mail.confirm",
        category: Category::Operation,
        denied_as: None,
        object: "`mail:<id>`",
        details: &[
            ("approval", "the request a supervisor decides, when the mail carries customer data"),
            ("reason", "denied: `too_early` (before the self-check delay), `not_held`, `not_sender`"),
        ],
        summary: "the sender checked a held mail and let it go (or asked for its approval)",
    };
    MAIL_CANCEL = Action {
        name: "mail.cancel",
        category: Category::Operation,
        denied_as: None,
        object: "`mail:<id>`",
        details: &[("reason", "denied: `not_held`, `not_sender`")],
        summary: "the sender stopped a held mail; it is not sent",
    };
    MAIL_RELEASE = Action {
        name: "mail.release",
        category: Category::Operation,
        denied_as: None,
        object: "`mail:<id>`",
        details: &[
            ("approval", "the approval whose grant released it, when one was needed"),
            ("attachment_links", "how many attachments became one-time download links (the rules' `attachment_links`)"),
        ],
        summary: "a held mail was released to the relay (actor: its sender; `system` when a grant released it)",
    };
    MAIL_SEND = Action {
        name: "mail.send",
        category: Category::Operation,
        denied_as: None,
        object: "`mail:<id>`",
        details: &[
            ("kind", "`mail` or `bounce`"),
            ("attempts", "attempts it took"),
            ("error", "failure: the upstream relay's last answer, when it was given up"),
        ],
        summary: "the relay handed a released mail or a bounce to the upstream relay (actor `system`)",
    };
    MAIL_RETURN = Action {
        name: "mail.return",
        category: Category::Operation,
        denied_as: None,
        object: "`mail:<id>`",
        details: &[(
            "reason",
            "`domain_refused`, `denied` (the supervisor turned it down), `approval_expired`, `not_confirmed` (not checked in time), `upstream_failed`",
        )],
        summary: "a mail was returned to its sender with the reason (a bounce in Japanese and English)",
    };
    MAIL_READ = Action {
        name: "mail.read",
        category: Category::Access,
        denied_as: None,
        object: "`mail:<id>`",
        details: &[("reason", "`not_involved` (neither its sender nor someone who decides its request)")],
        summary: "refused: a held mail read by someone not on it (only refusals are written)",
    };
    MAIL_AUTH = Action {
        name: "mail.auth",
        category: Category::Authentication,
        denied_as: None,
        object: "`user:<id>`, or `—` for an unknown name",
        details: &[(
            "reason",
            "denied: `bad_password` (unknown user, no mail password, wrong password or a disabled account), `throttled` (too many attempts from the address; actor `anonymous`)",
        )],
        summary: "refused: a mail client's sign-in to the relay (only refusals are written)",
    };
    MAIL_PASSWORD_SET = Action {
        name: "mail.password_set",
        category: Category::Authentication,
        denied_as: None,
        object: USER,
        details: &[],
        summary: "a person made a new password for the mail relay (the old one stops working)",
    };
    MAIL_POLICY_CHANGE = Action {
        name: "mail.policy_change",
        category: Category::Operation,
        denied_as: None,
        object: "`mail_policy`",
        details: &[
            ("internal_domains", "comma-separated internal domains"),
            ("self_check_delay_secs", "the self-check delay"),
            ("hold_hours", "how long a held mail waits for its check"),
            ("client_limits", "how many client companies limit their recipient domains"),
            ("approval", "the approval a second security admin gave"),
            ("reason", "denied: `permission`, `approval_required`"),
        ],
        summary: "a security admin changed the outgoing-mail rules",
    };
    MAIL_FILE_DOWNLOAD = Action {
        name: "mail.file_download",
        category: Category::Access,
        denied_as: None,
        object: "`mail:<id>`, or `—` for an unknown link",
        details: &[
            ("link", "the download link's id (no file name: it may name a customer)"),
            ("bytes", "the file's size"),
            ("downloads_left", "downloads the link has left after this one"),
            ("step", "denied: `view` (the link's page) or `download`"),
            ("reason", "denied: `unknown` (no such link, or not a link's shape), `expired`, `used_up`"),
        ],
        summary: "an external recipient downloaded an attachment through its one-time link (actor `anonymous`), or a link was refused",
    };
    ALERT_RAISE = Action {
        name: "alert.raise",
        category: Category::Security,
        denied_as: None,
        object: ALERT,
        details: &[
            ("rule", "the detection rule that fired"),
            ("severity", "`low`, `medium`, `high`"),
            ("subject", "who or what it is about: `user:<id>`, `token:<id>`, `ip:<address>`"),
            ("value", "the counted value in the window"),
            ("threshold", "the rule's threshold"),
            ("window_minutes", "the rule's window"),
            ("baseline_median", "the operator's median per active hour (volume)"),
            ("deviation", "the robust z-score against that median (volume)"),
            ("evidence", "how many entries are behind it"),
            ("network", "`first_seen_network`: the new network (IPv4 /24, IPv6 /48)"),
            ("known_networks", "`first_seen_network`: how many networks the person used within the memory"),
            ("last_network", "`first_seen_network`: the network they last used before"),
            ("memory_days", "`first_seen_network`, `first_seen_device`: how long a network or a browser stays known"),
            ("known_browsers", "`first_seen_device`: how many browsers the person used within the memory"),
            ("action", "`admin_off_window`: the administrative action; `used_off_shift`: what was done"),
            ("change_window", "`admin_off_window`: the change window it fell outside of"),
            ("shifts", "`signin_off_shift`, `used_off_shift`: the owner's shifts the sign-in or the use fell outside of"),
            ("calls", "`lookups_per_call`: the calls the telephony reported for the operator in the window"),
            ("customers_per_call", "`lookups_per_call`: distinct customers per call (calls counted as 1 when none)"),
            ("min_customers", "`lookups_per_call`: customers in the window before it judges"),
            ("peer_group", "`lookup_volume`: whom the hour was compared with: `team_and_client`, `team`, `client`"),
            ("peers", "`lookup_volume`: the peers who looked up customers in the same hour"),
            ("peers_median", "`lookup_volume`: their median distinct customers this hour"),
            ("peers_mad", "`lookup_volume`: their median absolute deviation"),
            ("peers_deviation", "`lookup_volume`: the robust z-score of the operator's hour against them"),
        ],
        summary: "a detection rule raised an alert (actor `system`); further firings of the same cause are counted on it, not written again",
    };
    ALERT_RESPONSE = Action {
        name: "alert.response",
        category: Category::Security,
        denied_as: None,
        object: ALERT,
        details: &[
            ("kind", "`lock_pc`, `end_sessions`"),
            ("target", "`device:<id>` or `user:<id>`"),
            ("command", "lock_pc: the device command issued"),
            ("sessions_ended", "end_sessions: how many"),
            ("reason", "failure (nothing done): `no_device`, `not_a_person`"),
        ],
        summary: "an automatic response to an alert (actor `system`)",
    };
    ALERT_RESPONSE_REVERSE = Action {
        name: "alert.response_reverse",
        category: Category::Security,
        denied_as: None,
        object: ALERT,
        details: &[("response", "the response's id"), ("kind", "its kind"), ("command", "lock_pc: the message command telling the operator")],
        summary: "a supervisor reversed an automatic response",
    };
    ALERT_UPDATE = Action {
        name: "alert.update",
        category: Category::Security,
        denied_as: None,
        object: ALERT,
        details: &[
            ("from", "the state before"),
            ("to", "`acknowledged`, `suppressed`, `false_positive`, `resolved`, or `assigned` (state unchanged)"),
            ("assignee", "`user:<id>` it was assigned to"),
            ("suppressed_until", "Unix milliseconds"),
            ("reason_chars", "length of the reason given"),
            ("reason", "denied: `not_in_state`"),
        ],
        summary: "an alert was acknowledged, assigned, suppressed, marked a false positive or resolved",
    };
    INCIDENT_OPEN = Action {
        name: "incident.open",
        category: Category::Security,
        denied_as: None,
        object: INCIDENT,
        details: &[
            ("kind", "the playbook: `lost_device`, `misdirected_mail`, `malware`, `insider_copying`, `vendor_incident`, `other`"),
            ("severity", "`low`, `medium`, `high`"),
            ("alerts", "how many alerts it groups"),
            ("via", "`report` (a possible leak reported from the console), `alerts`, `hand`"),
            ("anonymous", "`true` for an anonymous report (actor `anonymous`, no address)"),
            ("description_chars", "the description's length"),
        ],
        summary: "an incident was opened: by hand, from alerts, or by anyone reporting a possible leak",
    };
    INCIDENT_UPDATE = Action {
        name: "incident.update",
        category: Category::Security,
        denied_as: None,
        object: INCIDENT,
        details: &[
            ("change", "`state`, `assign`, `assessment`, `checklist`, `comment`, `alerts`, `report`, `learned_at`"),
            ("from", "state: the state before"),
            ("to", "state: the state after"),
            ("assignee", "assign: `user:<id>`"),
            ("people", "assessment: people involved"),
            ("report_required", "assessment: `true` when a report to the PPC is required"),
            ("grounds", "assessment: comma-separated grounds"),
            ("item", "checklist: the item; `done` whether it is done"),
            ("done", "checklist: `true` or `false`"),
            ("report", "report: `preliminary`, `final`, `people`, `clients`"),
            ("linked", "alerts: how many alerts were linked"),
            ("chars", "comment, review: the text's length"),
            ("reason", "denied: `not_allowed` (a state move the workflow refuses)"),
        ],
        summary: "an incident was moved on, assigned, assessed, commented, or a report recorded",
    };
    INCIDENT_REMINDER = Action {
        name: "incident.reminder",
        category: Category::Security,
        denied_as: None,
        object: INCIDENT,
        details: &[
            ("report", "`preliminary` or `final`"),
            ("due", "the deadline, Unix milliseconds"),
            ("days_before", "days left (0: due today)"),
        ],
        summary: "a breach-report deadline is near and the report is not recorded yet (actor `system`)",
    };
    ISMS_READ = Action {
        name: "isms.read",
        category: Category::Access,
        denied_as: None,
        object: "—",
        details: &[("reason", "`permission`")],
        summary: "refused: the ISMS registers (catalogs, Statement of Applicability, live evidence) without `isms.read` (only refusals are written)",
    };
    CATALOG_IMPORT = Action {
        name: "catalog.import",
        category: Category::Operation,
        denied_as: None,
        object: "`catalog:<urn>`",
        details: &[
            ("version", "the catalog's version"),
            ("controls", "how many controls it holds"),
            ("mappings", "how many of its controls map to another catalog's"),
            ("built_in", "`true`: shipped with Mamori and installed at start (actor `system`)"),
        ],
        summary: "a control catalog was installed or replaced by a newer version",
    };
    SOA_CHANGE = Action {
        name: "soa.change",
        category: Category::Operation,
        denied_as: None,
        object: "`control:<urn>`",
        details: &[
            ("version", "the line's new version"),
            ("applicable", "`true` or `false`"),
            ("implementation", "`not_started`, `planned`, `partial`, `implemented`"),
            ("owner", "the owner's user id, if any"),
        ],
        summary: "a control's line in the Statement of Applicability was decided or changed",
    };
    ASSET_CHANGE = Action {
        name: "asset.change",
        category: Category::Operation,
        denied_as: None,
        object: "`asset:<id>`",
        details: &[
            ("change", "`create`, `update`, `retire`, `dispose` (retired by a disposal record, `disposal.record`), or `sync` (a ledger PC or a client company's data followed, actor `system`)"),
            ("version", "the asset's new version"),
            ("kind", "`customer_data`, `document`, `software`, `cloud_service`, `equipment`, `person`, `premises`"),
        ],
        summary: "an information asset was registered, changed or retired",
    };
    RISK_ASSESSMENT_CREATE = Action {
        name: "risk.assessment_create",
        category: Category::Operation,
        denied_as: None,
        object: "`risk_assessment:<id>`",
        details: &[
            ("matrix", "its grid, probability × impact grades (`5x5`)"),
            ("appetite", "the level (from 0) at or above which a risk is above the appetite"),
        ],
        summary: "a risk assessment was started with its matrix (the first one by `system` at start)",
    };
    RISK_CHANGE = Action {
        name: "risk.change",
        category: Category::Operation,
        denied_as: None,
        object: "`risk:<id>`",
        details: &[
            ("change", "`create` or `update`"),
            ("number", "its number in the assessment (`R-<number>`)"),
            ("version", "the risk's new version"),
            ("level", "its current level (residual when rated, else inherent), from 0"),
            ("treatment", "`undecided`, `reduce`, `accept`, `transfer`, `avoid`"),
        ],
        summary: "a risk was registered or changed",
    };
    VENDOR_CHANGE = Action {
        name: "vendor.change",
        category: Category::Operation,
        denied_as: None,
        object: "`vendor:<id>`",
        details: &[
            ("change", "`create`, `update`, `retire`, `assess` (an assessment recorded), `visit` (a site visit recorded)"),
            ("version", "create, update, retire: the vendor's new version"),
        ],
        summary: "a vendor or subcontractor was registered, changed, retired, assessed or visited",
    };
    VENDOR_FILE_ATTACH = Action {
        name: "vendor.file_attach",
        category: Category::Operation,
        denied_as: None,
        object: "`vendor:<id>`",
        details: &[
            ("file", "the file's id"),
            ("media_type", "the file's media type"),
            ("bytes", "its size"),
            ("digest", "SHA-256 of its content (hex)"),
            ("kek_version", "the key version its data key is wrapped with"),
        ],
        summary: "an evidence file was attached to a vendor (sealed; its name is not recorded)",
    };
    VENDOR_FILE_READ = Action {
        name: "vendor.file_read",
        category: Category::Access,
        denied_as: None,
        object: "`vendor:<id>`",
        details: &[("file", "the file's id"), ("bytes", "its size")],
        summary: "a vendor's evidence file was downloaded (opened and its SHA-256 checked)",
    };
    LEGAL_CHANGE = Action {
        name: "legal.change",
        category: Category::Operation,
        denied_as: None,
        object: "`legal:<id>`",
        details: &[
            ("change", "`create`, `update` or `retire`"),
            ("version", "the requirement's new version"),
            ("kind", "`law`, `regulation`, `guideline`, `contract`, `certification_rule`"),
        ],
        summary: "a requirement of the legal register (a law, a guideline, a contract…) was registered, changed or retired",
    };
    DISPOSAL_RECORD = Action {
        name: "disposal.record",
        category: Category::Operation,
        denied_as: None,
        object: "`disposal:<id>`",
        details: &[
            ("kind", "`pc`, `disk`, `medium` or `paper`"),
            ("method", "`overwrite`, `degauss`, `physical_destruction` or `dissolving`"),
            ("witness", "the witness's user id"),
            ("asset", "the asset it disposes of (retired with it, `asset.change` `dispose`), if any"),
            ("device", "the ledger PC it disposes of (revoked before), if any"),
        ],
        summary: "a PC, disk, medium or batch of paper was recorded as disposed of (LEAK-3)",
    };
    CONTINUITY_PLAN_CHANGE = Action {
        name: "continuity.plan_change",
        category: Category::Operation,
        denied_as: None,
        object: "`continuity_plan:<id>`",
        details: &[
            ("change", "`create`, `update` or `retire`"),
            ("version", "the plan's new version"),
            ("scenario", "`earthquake`, `power_loss`, `intrusion`, `server_failure`, `network_failure`, `pandemic`, `other`"),
            ("contacts", "how many people its contact tree holds"),
        ],
        summary: "a business-continuity plan was made, changed or retired (ISMS-5)",
    };
    INTERNAL_AUDIT_CHANGE = Action {
        name: "internal_audit.change",
        category: Category::Operation,
        denied_as: None,
        object: "`internal_audit:<id>`",
        details: &[
            ("change", "`plan` or `report`"),
            ("number", "the audit's number (`IA-<n>`)"),
            ("controls", "plan: how many SoA controls it audits"),
        ],
        summary: "an internal audit was planned, or its report recorded (ISMS-7)",
    };
    INTERNAL_AUDIT_FINDING = Action {
        name: "internal_audit.finding",
        category: Category::Operation,
        denied_as: None,
        object: "`audit_finding:<id>`",
        details: &[
            ("step", "`raise`, `plan`, `implemented`, `verify_effective`, `verify_not_effective`, `acknowledge`"),
            ("number", "the finding's number (`F-<n>`)"),
            ("kind", "raise: `major_nonconformity`, `minor_nonconformity`, `observation`, `improvement`"),
            ("audit", "raise: the audit's id"),
            ("from", "the state before: `open`, `action_planned`, `implemented`"),
            ("to", "the state after: `action_planned`, `implemented`, `closed`"),
        ],
        summary: "a finding of an internal audit was raised, or a step of its corrective action taken (CAPA, ISMS-7)",
    };
    CONTINUITY_DRILL = Action {
        name: "continuity.drill",
        category: Category::Operation,
        denied_as: None,
        object: "`continuity_plan:<id>`",
        details: &[
            ("drill", "the drill's id"),
            ("held_on", "the day it was held (`YYYY-MM-DD`)"),
            ("result", "`achieved`, `partly` or `failed`"),
            ("participants", "how many took part"),
        ],
        summary: "a drill of a business-continuity plan was recorded (ISMS-5)",
    };
    CHECKS_CHECKLIST = Action {
        name: "checks.checklist",
        category: Category::Operation,
        denied_as: None,
        object: "`checklist:<id>`",
        details: &[
            ("change", "`create`, `update` or `retire`"),
            ("performer", "`self` (each operator, their own seat) or `supervisor` (a team's floor)"),
            ("frequency", "`daily`, `weekly` or `monthly`"),
            ("items", "how many items it has"),
        ],
        summary: "a checklist of the recurring checks was made, changed or retired (ISMS-7, LEAK-2, LEAK-4)",
    };
    CHECKS_RUN = Action {
        name: "checks.run",
        category: Category::Operation,
        denied_as: None,
        object: "`checklist:<id>`",
        details: &[
            ("run", "the run's id"),
            ("period", "the day, ISO week or month it counts for (`2026-11-30`, `2026-W49`, `2026-11`)"),
            ("failed", "how many items were not ok (each opened a follow-up)"),
            ("photos", "how many photos were attached (stored sealed)"),
        ],
        summary: "a check was done: each item ok, not ok or not applicable",
    };
    CHECKS_FOLLOW_UP = Action {
        name: "checks.follow_up",
        category: Category::Operation,
        denied_as: None,
        object: "`check_follow_up:<id>`",
        details: &[
            ("run", "the run whose failed item it is"),
            ("item", "the item's number on the checklist (from 1)"),
            ("overdue", "`true` when resolved after its due day"),
        ],
        summary: "a failed item of a check was put right and its follow-up resolved",
    };
    CHECKS_READ = Action {
        name: "checks.read",
        category: Category::Access,
        denied_as: None,
        object: "`checklist:<id>`, `check_run:<id>`, `check_follow_up:<id>` or —",
        details: &[
            ("reason", "`permission`, `scope` (a check the person does not owe, or another team's)"),
            ("photo", "a photo opened: its id"),
        ],
        summary: "a check's photo was opened (sealed, checked against its digest); or refused: a check outside the person's scope",
    };
    ISMS_POLICY_READ = Action {
        name: "isms_policy.read",
        category: Category::Access,
        denied_as: None,
        object: "`isms_policy:<id>` or —",
        details: &[("reason", "`permission`, `scope` (a document not published to the person)")],
        summary: "refused: a policy document, without `policies.read` or outside its scope (only refusals are written)",
    };
    ISMS_POLICY_CREATE = Action {
        name: "isms_policy.create",
        category: Category::Operation,
        denied_as: None,
        object: "`isms_policy:<id>`",
        details: &[
            ("kind", "`basic_policy`, `standard`, `procedure`, `privacy_policy` or `confidentiality_pledge`"),
            ("version", "the first draft's version (1)"),
        ],
        summary: "a policy document was created, with its first draft (issue 18, item 1)",
    };
    ISMS_POLICY_DRAFT = Action {
        name: "isms_policy.draft",
        category: Category::Operation,
        denied_as: None,
        object: "`isms_policy:<id>`",
        details: &[("version", "the draft's version")],
        summary: "a draft of a policy's next version was saved (not yet in force)",
    };
    ISMS_POLICY_PUBLISH = Action {
        name: "isms_policy.publish",
        category: Category::Operation,
        denied_as: None,
        object: "`isms_policy:<id>`",
        details: &[
            ("version", "the version now in force"),
            ("pending", "how many people in scope must acknowledge it"),
        ],
        summary: "a security admin approved and published a policy version; everyone in scope must acknowledge it",
    };
    ISMS_POLICY_ACKNOWLEDGE = Action {
        name: "isms_policy.acknowledge",
        category: Category::Operation,
        denied_as: None,
        object: "`isms_policy:<id>`",
        details: &[
            ("version", "the version acknowledged"),
            ("kind", "the document's kind"),
        ],
        summary: "a person acknowledged (同意) the version in force of a policy published to them",
    };
    ISMS_POLICY_REMIND = Action {
        name: "isms_policy.remind",
        category: Category::Operation,
        denied_as: None,
        object: "`isms_policy:<id>`",
        details: &[
            ("version", "the version in force"),
            ("pending", "how many have not acknowledged it"),
            ("mailed", "how many of them were sent a reminder (those with a mail address)"),
        ],
        summary: "the people who have not acknowledged a policy were reminded by e-mail",
    };
    ISMS_POLICY_OPTION = Action {
        name: "isms_policy.option",
        category: Category::Operation,
        denied_as: None,
        object: "`settings`",
        details: &[("lookups_require_pledge", "`true` or `false`")],
        summary: "customer lookups now require (or no longer require) the current confidentiality pledge acknowledged",
    };
    TRAINING_READ = Action {
        name: "training.read",
        category: Category::Access,
        denied_as: None,
        object: "`training_course:<id>` or —",
        details: &[("reason", "`permission`, `scope` (a course not for the person and not assigned to them)")],
        summary: "refused: a training course, without `training.take` or not for the person (only refusals are written)",
    };
    TRAINING_CREATE = Action {
        name: "training.create",
        category: Category::Operation,
        denied_as: None,
        object: "`training_course:<id>`",
        details: &[
            ("kind", "`onboarding`, `annual` or `topic`"),
            ("questions", "how many quiz questions"),
            ("pass_mark", "the share of right answers needed to pass (%)"),
        ],
        summary: "a training course was created with its quiz (issue 18, item 2)",
    };
    TRAINING_IMAGE = Action {
        name: "training.image",
        category: Category::Operation,
        denied_as: None,
        object: "`training_course:<id>`",
        details: &[
            ("image", "the image's id"),
            ("content_type", "`image/png`, `image/jpeg`, `image/gif` or `image/webp`, told by its content"),
            ("bytes", "its size"),
        ],
        summary: "an image was added to a training course",
    };
    TRAINING_RETIRE = Action {
        name: "training.retire",
        category: Category::Operation,
        denied_as: None,
        object: "`training_course:<id>`",
        details: &[],
        summary: "a training course was retired: nobody owes it any more; its attempts stay",
    };
    TRAINING_ASSIGN = Action {
        name: "training.assign",
        category: Category::Operation,
        denied_as: None,
        object: "`training_course:<id>`",
        details: &[
            ("reason", "`onboarding` (a new person), `annual` (a year since the last pass), `incident` (the people involved in an incident) or `manual`"),
            ("users", "the people assigned (user ids, comma-separated)"),
            ("incident", "for `incident`: the incident's id"),
            ("due_on", "the due day (`YYYY-MM-DD`, Japan)"),
        ],
        summary: "a training course was assigned to people, with a due day",
    };
    TRAINING_ATTEMPT = Action {
        name: "training.attempt",
        category: Category::Operation,
        denied_as: None,
        object: "`training_course:<id>`",
        details: &[
            ("attempt", "the attempt's id"),
            ("score", "the share of right answers (%)"),
            ("pass_mark", "the share needed (%)"),
            ("passed", "`true` or `false`"),
        ],
        summary: "a person answered a course's quiz; the server graded it",
    };
    TRAINING_CERTIFICATE = Action {
        name: "training.certificate",
        category: Category::Access,
        denied_as: None,
        object: "`training_course:<id>`",
        details: &[("attempt", "the passing attempt it certifies"), ("user", "whose certificate (user id)")],
        summary: "a completion certificate (PDF) was downloaded",
    };
    TRAINING_REMIND = Action {
        name: "training.remind",
        category: Category::Operation,
        denied_as: None,
        object: "`settings` (every course) or `training_course:<id>`",
        details: &[
            ("overdue", "how many courses owed are past their due day"),
            ("mailed", "how many reminders were queued (people with a mail address, once a day each)"),
        ],
        summary: "the people overdue with their training were reminded by e-mail",
    };
    TRAINING_OPTION = Action {
        name: "training.option",
        category: Category::Operation,
        denied_as: None,
        object: "`settings`",
        details: &[("lookups_require_onboarding", "`true` or `false`")],
        summary: "customer lookups now require (or no longer require) the onboarding courses passed",
    };
    CERTIFICATE_RECORD = Action {
        name: "certificate.record",
        category: Category::Operation,
        denied_as: None,
        object: "`certificate:<id>`",
        details: &[
            ("holder", "`centre` (the centre's own) or `vendor:<id>`"),
            ("scheme", "`privacy_mark` or `iso27001`"),
            ("expires_on", "the last day it is valid"),
        ],
        summary: "a certificate (Privacy Mark, ISO/IEC 27001) was recorded, or its renewal",
    };
    REGISTERS_IMPORT = Action {
        name: "isms.import",
        category: Category::Operation,
        denied_as: None,
        object: "—",
        details: &[
            ("format", "`xlsx` or `csv`"),
            ("created", "rows that made a new record, over every sheet"),
            ("changed", "rows that made a new version of a record"),
            ("unchanged", "rows equal to the record in force"),
        ],
        summary: "the ISMS registers were imported from a workbook (each record it changed has its own entry before this one)",
    };
    REGISTERS_EXPORT = Action {
        name: "isms.export",
        category: Category::Access,
        denied_as: None,
        object: "—",
        details: &[("format", "`xlsx` or `csv`"), ("registers", "the sheets exported")],
        summary: "the ISMS registers were exported",
    };
    EVIDENCE_CHANGE = Action {
        name: "evidence.change",
        category: Category::Security,
        denied_as: None,
        object: "`evidence:<kind>`",
        details: &[
            ("from", "the status before (`pass`, `warn`, `fail`, `not_applicable`; none the first time)"),
            ("to", "the status now"),
            ("value", "the figure measured"),
        ],
        summary: "a live evidence measurement changed status (actor `system`)",
    };
    DETECTION_RULES_CHANGE = Action {
        name: "detection.rules_change",
        category: Category::Operation,
        denied_as: None,
        object: "`detection_rules`",
        details: &[
            ("version", "the rules' new version"),
            ("changed", "comma-separated rules whose settings changed"),
            ("disabled", "comma-separated rules turned off"),
            ("narrowed", "comma-separated rules whose scope (sites, teams, clients) now judges fewer people"),
            ("approval", "the approval a second security admin gave"),
            ("reason", "denied: `approval_required` (turning a rule off, or narrowing its scope, with a second admin to approve)"),
        ],
        summary: "a security admin changed the detection rules",
    };
    NOTIFY_ROUTING_CHANGE = Action {
        name: "notify.routing_change",
        category: Category::Operation,
        denied_as: None,
        object: "`mail_routing`",
        details: &[
            ("security_team_from", "alerts from this severity go to the security team's list (empty: none)"),
            ("supervisors_from", "alerts from this severity go to the person's supervisors (empty: none)"),
            ("incidents", "`true` when incidents and report reminders go to the security team's list"),
            ("clients", "how many client companies have their own addresses"),
            ("reason", "denied: `permission`"),
        ],
        summary: "a security admin changed who is told of alerts and incidents by e-mail",
    };
    APPROVAL_POLICY_CHANGE = Action {
        name: "approval.policy_change",
        category: Category::Operation,
        denied_as: None,
        object: "`approval_policy:<kind>`",
        details: &[
            ("approvals", "approvals needed"),
            ("approver_roles", "comma-separated roles that decide"),
            ("own_team_supervisor", "whether a supervisor decides only for their own team"),
            ("decide_within_ms", "time to decide"),
            ("grant_valid_ms", "how long a grant lasts"),
            ("approval", "the approval a second security admin gave"),
            ("reason", "denied: `approval_required`"),
        ],
        summary: "a security admin changed how a kind of request is decided",
    };
    PRIVILEGED_KEYS = Action {
        name: "keys.privileged",
        category: Category::Operation,
        denied_as: None,
        object: "`vault_kek`",
        details: &[
            ("action", "`rotate_vault_keys` or `retire_vault_keys`"),
            ("approval", "the approval a second security admin gave"),
            ("reason", "denied: `approval_required` (run without `--approval` with a second admin to approve)"),
        ],
        summary: "a vault key rotation or retirement was cleared to run from the command line",
    };
    CUSTOMER_NOTE_ADD = Action {
        name: "customer.note_add",
        category: Category::Operation,
        denied_as: Some(Category::Access),
        object: CUSTOMER,
        details: &[
            ("chars", "the note's length"),
            ("reason", "denied: `client_scope`"),
            ("client", "denied: the customer's client company id"),
        ],
        summary: "a note was added to a customer",
    };
    CUSTOMER_CORRECT = Action {
        name: "customer.correct",
        category: Category::Operation,
        denied_as: None,
        object: CUSTOMER,
        details: &[
            ("fields", "comma-separated names of the corrected fields"),
            ("request_ref", "the data-subject request's reference"),
        ],
        summary: "a customer's fields were corrected",
    };
    CUSTOMER_DISCLOSE = Action {
        name: "customer.disclose",
        category: Category::Access,
        denied_as: None,
        object: CUSTOMER,
        details: &[
            ("fields", "field names disclosed"),
            ("purpose", "`data_subject_request`"),
            ("request_ref", "the data-subject request's reference"),
        ],
        summary: "a customer's record and access history were disclosed to them",
    };
    CUSTOMER_ERASE = Action {
        name: "customer.erase",
        category: Category::Operation,
        denied_as: None,
        object: CUSTOMER,
        details: &[
            ("client", "client company id"),
            ("kek_version", "the key version that wrapped the record"),
            ("request_ref", "the data-subject request's reference"),
            ("approval", "the approval a second security admin gave"),
            ("reason", "denied: `approval_required` (asked directly with a second admin to approve)"),
        ],
        summary: "a customer was erased",
    };
    VAULT_POLICY_CHANGE = Action {
        name: "vault.policy_change",
        category: Category::Operation,
        denied_as: None,
        object: "`vault_policy`",
        details: &[("fields", "comma-separated names of the fields whose rules changed")],
        summary: "the field policy (masking, classes) was changed",
    };
    KEYS_ROTATE = Action {
        name: "keys.rotate",
        category: Category::Operation,
        denied_as: None,
        object: "`vault_kek`",
        details: &[
            ("version", "the new key version"),
            ("phase", "`start`, `resume` or `done`"),
            ("records", "records to rewrap (`start`, `resume`)"),
            ("rewrapped", "records rewrapped (`done`)"),
        ],
        summary: "the vault's key-encryption key was rotated (actor `system`)",
    };
    KEYS_RETIRE = Action {
        name: "keys.retire",
        category: Category::Operation,
        denied_as: None,
        object: "`vault_kek`",
        details: &[
            ("retired", "comma-separated key versions destroyed"),
            ("current", "the current version"),
        ],
        summary: "old key versions were destroyed (actor `system`)",
    };
    CTI_CALL_START = Action {
        name: "cti.call_start",
        category: Category::Operation,
        denied_as: None,
        object: "`call:<id>`",
        details: &[("operator", "the operator's user id")],
        summary: "the telephony system reported a call taken",
    };
    CTI_CALL_END = Action {
        name: "cti.call_end",
        category: Category::Operation,
        denied_as: None,
        object: "`call`",
        details: &[("external_id", "the telephony system's call id")],
        summary: "the telephony system reported a call ended",
    };

    // ── Devices (endpoint agents) ───────────────────────────────────────────────────────────
    DEVICE_ENROLMENT_CREATE = Action {
        name: "device.enrolment_create",
        category: Category::Device,
        denied_as: None,
        object: "`enrolment:<id>`",
        details: &[("valid_hours", "how long the token is valid")],
        summary: "an enrolment token was created",
    };
    DEVICE_ENROL = Action {
        name: "device.enrol",
        category: Category::Device,
        denied_as: Some(Category::Authentication),
        object: "`device:<id>` (none on failure)",
        details: &[
            ("enrolment", "the enrolment token's id"),
            ("reason", "failure: the token was unknown, used or expired; denied: `throttled`"),
        ],
        summary: "a PC enrolled (actor `device:<id>`; `anonymous` when it failed)",
    };
    DEVICE_INVENTORY = Action {
        name: "device.inventory",
        category: Category::Device,
        denied_as: None,
        object: DEVICE,
        details: &[("software", "how many packages were reported")],
        summary: "an agent reported its PC's inventory",
    };
    DEVICE_REVOKE = Action {
        name: "device.revoke",
        category: Category::Device,
        denied_as: Some(Category::Access),
        object: DEVICE,
        details: &[("reason", "denied: `team_scope`")],
        summary: "a PC's enrolment was revoked",
    };
    DEVICE_COMMAND = Action {
        name: "device.command",
        category: Category::Device,
        denied_as: Some(Category::Access),
        object: DEVICE,
        details: &[
            ("command", "the command's id"),
            ("kind", "`lock`, `sign_out`, `message`, `refresh_inventory`"),
            ("reason", "denied: `team_scope`"),
        ],
        summary: "a remote command was issued to a PC",
    };
    DEVICE_SIGNAL = Action {
        name: "device.signal",
        category: Category::Device,
        denied_as: None,
        object: DEVICE,
        details: &[
            ("kind", "`usb_attached`, `off_network`, `posture_changed`, `heartbeat_lost`, `abnormal_keystroke_rate`, `events_dropped`"),
            ("event", "the device event's id"),
            ("user", "`user:<id>` the PC is enrolled for"),
            ("serial", "usb_attached: the stick's serial number"),
            ("mass_storage", "usb_attached: `true` for storage"),
            ("ip", "off_network: the address the PC connected from"),
            ("failures", "posture_changed: comma-separated rules the PC now fails"),
            ("shadow_it", "posture_changed: the software not on the allowlist (names, at most 300 characters)"),
        ],
        summary: "a PC raised a signal (actor `device:<id>`; `system` for those the server derived: off network, posture, silence, keystroke rate)",
    };
    DEVICE_COMMAND_RESULT = Action {
        name: "device.command_result",
        category: Category::Device,
        denied_as: None,
        object: DEVICE,
        details: &[("command", "the command's id")],
        summary: "an agent reported a command done (success) or failed (failure)",
    };
    DEVICE_COMMAND_EXPIRE = Action {
        name: "device.command_expire",
        category: Category::Device,
        denied_as: None,
        object: DEVICE,
        details: &[
            ("command", "the command's id"),
            ("kind", "`lock`, `sign_out`, `message`, `refresh_inventory`"),
            ("delivered", "`true` when the agent had fetched it, `false` when it never did"),
        ],
        summary: "a remote command was not finished within `devices.command_timeout_secs`; it will not be delivered",
    };
    DEVICE_POLICY_CHANGE = Action {
        name: "device.policy_change",
        category: Category::Device,
        denied_as: None,
        object: "`site:<id>`",
        details: &[("networks", "how many approved networks"), ("version", "the new version of the site's rules")],
        summary: "a site's device rules were changed",
    };
    DEVICE_NETWORKS_CHANGE = Action {
        name: "device.networks_change",
        category: Category::Device,
        denied_as: Some(Category::Access),
        object: USER,
        details: &[
            ("networks", "how many approved networks"),
            ("reason", "denied: `team_scope`"),
        ],
        summary: "a home worker's approved networks were changed",
    };
    DEVICE_SHIFTS_CHANGE = Action {
        name: "device.shifts_change",
        category: Category::Device,
        denied_as: Some(Category::Access),
        object: USER,
        details: &[("shifts", "how many shifts"), ("reason", "denied: `team_scope`")],
        summary: "an operator's shifts were set",
    };
    DEVICE_KEYSTROKE_LIMITS_CHANGE = Action {
        name: "device.keystroke_limits_change",
        category: Category::Device,
        denied_as: None,
        object: NONE,
        details: &[],
        summary: "the limits of plausible typing were changed",
    };
    DEVICE_ACTIVITY_READ = Action {
        name: "device.activity_read",
        category: Category::Access,
        denied_as: None,
        object: DEVICE,
        details: &[
            ("hours", "the period read"),
            ("buckets", "activity buckets returned"),
            ("reason", "denied: `team_scope`"),
        ],
        summary: "a PC's activity counts were read",
    };
    DEVICE_READ = Action {
        name: "device.read",
        category: Category::Access,
        denied_as: None,
        object: DEVICE,
        details: &[("reason", "`team_scope`")],
        summary: "refused: a PC outside the supervisor's team (only refusals are written)",
    };
    DEVICE_EVENTS_READ = Action {
        name: "device.events_read",
        category: Category::Access,
        denied_as: None,
        object: DEVICE,
        details: &[("reason", "`team_scope`")],
        summary: "refused: a PC's events outside the supervisor's team (only refusals are written)",
    };
    DEVICE_COMMANDS_READ = Action {
        name: "device.commands_read",
        category: Category::Access,
        denied_as: None,
        object: DEVICE,
        details: &[("reason", "`team_scope`")],
        summary: "refused: a PC's commands outside the supervisor's team (only refusals are written)",
    };
    DEVICE_SHIFTS_READ = Action {
        name: "device.shifts_read",
        category: Category::Access,
        denied_as: None,
        object: USER,
        details: &[("reason", "`team_scope`")],
        summary: "refused: shifts of a person outside the supervisor's team (only refusals are written)",
    };
    USER_READ = Action {
        name: "user.read",
        category: Category::Access,
        denied_as: None,
        object: "`user:<id>`, or `users` for the list",
        details: &[("reason", "`permission`")],
        summary: "refused: a user or the list of users, without `users.read` (only refusals are written)",
    };
    TOKEN_LIST = Action {
        name: "token.list",
        category: Category::Access,
        denied_as: None,
        object: "`api_tokens`",
        details: &[("reason", "`permission`")],
        summary: "refused: the list of API tokens, without `tokens.manage` (only refusals are written)",
    };
    SECURITY_EVENT_LIST = Action {
        name: "security_event.list",
        category: Category::Access,
        denied_as: None,
        object: "`security_events`",
        details: &[("reason", "`permission`")],
        summary: "refused: the security events, without `security_events.read` (only refusals are written)",
    };
    SIGNAL_LIST = Action {
        name: "signal.list",
        category: Category::Access,
        denied_as: None,
        object: "—",
        details: &[("reason", "`permission`")],
        summary: "refused: the signals view, without `devices.read` (only refusals are written)",
    };
    POLICY_READ = Action {
        name: "policy.read",
        category: Category::Access,
        denied_as: None,
        object: "`device_policy:<site id>`, `keystroke_limits`, `vault_policy`, or `user:<id>` (a home worker's networks)",
        details: &[("reason", "`permission`, `team_scope`")],
        summary: "refused: a rule set, without the permission that reads it or outside the team (only refusals are written)",
    };
}

/// The catalogue as a Markdown table, for `docs/audit-log.md`.
pub fn markdown() -> String {
    let mut out = String::from("| action | category | object | details | what |\n|---|---|---|---|---|\n");
    for a in ALL {
        let category = match a.denied_as {
            Some(d) => format!("`{}` (denied: `{}`)", a.category.as_str(), d.as_str()),
            None => format!("`{}`", a.category.as_str()),
        };
        let details = if a.details.is_empty() {
            NONE.to_owned()
        } else {
            a.details.iter().map(|(k, v)| format!("`{k}`: {v}")).collect::<Vec<_>>().join("<br>")
        };
        out.push_str(&format!("| `{}` | {category} | {} | {details} | {} |\n", a.name, a.object, a.summary));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_are_unique_and_dotted_lower_case() {
        let mut seen = BTreeSet::new();
        for a in ALL {
            assert!(seen.insert(a.name), "{} is listed twice", a.name);
            let parts: Vec<&str> = a.name.split('.').collect();
            assert_eq!(parts.len(), 2, "{}: want area.verb", a.name);
            for p in parts {
                assert!(
                    !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{}: want dotted lower-case",
                    a.name
                );
            }
            assert!(!a.summary.is_empty() && !a.object.is_empty(), "{} lacks a description", a.name);
            assert_ne!(a.denied_as, Some(a.category), "{}: denied_as repeats the category", a.name);
            let mut keys = BTreeSet::new();
            for (k, v) in a.details {
                assert!(keys.insert(*k), "{}: detail {k} listed twice", a.name);
                assert!(!v.is_empty(), "{}: detail {k} unexplained", a.name);
            }
        }
    }

    #[test]
    fn categories_follow_the_outcome() {
        assert_eq!(DEVICE_REVOKE.category_for(Outcome::Success), Category::Device);
        assert_eq!(DEVICE_REVOKE.category_for(Outcome::Denied), Category::Access);
        assert_eq!(DEVICE_ENROL.category_for(Outcome::Failure), Category::Device);
        assert_eq!(DEVICE_ENROL.category_for(Outcome::Denied), Category::Authentication);
        assert_eq!(CUSTOMER_REVEAL.category_for(Outcome::Denied), Category::Access);
        assert!(find("customer.note_add").is_some_and(|a| a.allows(Category::Access, Outcome::Denied)));
        assert!(find("customer.note_add").is_some_and(|a| !a.allows(Category::Access, Outcome::Success)));
        assert!(find("customer.view").is_none());
    }

    #[test]
    fn table_has_a_row_per_action() {
        assert_eq!(markdown().lines().count(), ALL.len() + 2);
        assert!(!markdown().contains('\n') || markdown().lines().all(|l| l.starts_with('|')));
    }
}
