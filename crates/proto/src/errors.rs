//! The catalogue of error codes: every `code` a problem document of the API can carry, and
//! every code a service error has (the console shows its message by it). Each entry says what
//! the code means and what the client should do next; `docs/api.md` lists them from here (a
//! test keeps the two equal), each under the anchor `error-<code>`.
//!
//! The code strings are stable across versions: clients and the console's messages match on
//! them. A code is never renamed or reused for another meaning; new ones may be added.
//!
//! Each code has one [`ErrorKind`], the sort of failure it is; the server maps kinds to HTTP
//! statuses in one place (`mamori_server::problem::status`), so this crate knows nothing of
//! HTTP.

use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// The sort of failure a code is. The API answers each kind with one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request cannot be read as sent: not JSON, an unknown query parameter, a broken body.
    Unreadable,
    /// No valid credential, or one that still owes its second factor.
    Unauthenticated,
    /// The caller is known but may not do this.
    Refused,
    /// No such record or route, or none the caller may see.
    NotFound,
    /// The route does not take this method.
    WrongMethod,
    /// It conflicts with what exists.
    Conflict,
    /// A one-time link or token that is used, expired or unknown.
    Gone,
    /// The body is over its size limit.
    TooLarge,
    /// The body is not of the media type the operation takes.
    WrongMediaType,
    /// A value is unknown, of the wrong type, or breaks a rule.
    Invalid,
    /// The account is locked.
    Locked,
    /// Too many attempts.
    Throttled,
    /// The server failed; nothing the client sent is at fault.
    Fault,
    /// Not available for now.
    Unavailable,
}

/// One entry of the catalogue.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    /// The stable snake_case code, as sent in a problem's `code`.
    pub code: &'static str,
    pub kind: ErrorKind,
    /// What it means, in one line.
    pub meaning: &'static str,
    /// What the client should do next, in one line.
    pub next_step: &'static str,
    /// The problem document's `type`: `urn:mamori:problem:<code>`.
    pub type_uri: &'static str,
    /// The code's anchor in `docs/api.md`: `error-<code>`.
    pub anchor: &'static str,
}

/// One table, one row per code: the enum, its strings and its descriptions all come from it.
macro_rules! catalogue {
    ($($id:ident = $code:literal, $kind:ident, $meaning:literal, $next:literal;)*) => {
        /// A stable error code (see `docs/api.md`, "Errors"). New codes may be added in later
        /// versions; a client that meets one it does not know can act on the answer's status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum ErrorCode {
            $(#[doc = $meaning] #[serde(rename = $code)] $id,)*
        }

        impl ErrorCode {
            /// Every code, in the catalogue's order (grouped by kind).
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$id),*];

            /// The code's entry in the catalogue.
            pub const fn entry(self) -> &'static Entry {
                match self {
                    $(ErrorCode::$id => &Entry {
                        code: $code,
                        kind: ErrorKind::$kind,
                        meaning: $meaning,
                        next_step: $next,
                        type_uri: concat!("urn:mamori:problem:", $code),
                        anchor: concat!("error-", $code),
                    },)*
                }
            }
        }
    };
}

catalogue! {
    // ── The request cannot be read ──────────────────────────────────────────────────────────
    MalformedJson = "malformed_json", Unreadable,
        "The body is not JSON, or not UTF-8.",
        "Send the body as well-formed JSON in UTF-8.";
    InvalidQuery = "invalid_query", Unreadable,
        "A query-string parameter is unknown, of the wrong type, or out of range — an entry index or tree size beyond 9223372036854775807 included (`field` names it).",
        "Correct the parameter; the operation's parameters are in the OpenAPI document.";
    BodyUnreadable = "body_unreadable", Unreadable,
        "The request body could not be read (the connection broke off mid-body).",
        "Send the request again.";

    // ── Who is calling ──────────────────────────────────────────────────────────────────────
    Unauthenticated = "unauthenticated", Unauthenticated,
        "No valid session or API token.",
        "Send `Authorization: Bearer <API token>`, or sign in.";
    InvalidToken = "invalid_token", Unauthenticated,
        "The API token is unknown, expired or revoked.",
        "Make a new token (in the console, or `POST /api/v1/tokens`).";
    SecondFactorRequired = "second_factor_required", Unauthenticated,
        "The session still owes its TOTP code.",
        "Finish signing in with the second factor.";
    SignInFailed = "sign_in_failed", Unauthenticated,
        "Wrong user name or password (signing in, in the console).",
        "Check both and try again; repeated failures lock the account.";
    SecondFactorFailed = "second_factor_failed", Unauthenticated,
        "The TOTP or recovery code was not accepted.",
        "Wait for the next code and try again.";
    SessionEnded = "session_ended", Unauthenticated,
        "The session has ended: signed out, timed out, or ended by a security admin.",
        "Sign in again.";
    DeviceRefused = "device_refused", Unauthenticated,
        "An agent's request was not signed as it must be: a missing or malformed `Authorization: MamoriDevice …`, an unknown or revoked device, a bad signature, a time over 5 minutes off, or a request received already.",
        "Check the PC's clock; enrol a revoked PC again.";

    // ── Known, but refused ──────────────────────────────────────────────────────────────────
    Forbidden = "forbidden", Refused,
        "Authenticated, but without the permission the route needs, or a rule forbids it.",
        "Ask a security admin for the permission; the refusal is in the audit log.";
    ApprovalRefused = "approval_refused", Refused,
        "A four-eyes rule refused the step: one's own request, decided already, no longer waiting or too late, not an approver for this team, no step-up; or a grant used, expired, never given, or not for exactly this (`detail` says which).",
        "Read `detail`: ask a colleague to decide, give the TOTP code again, or ask again.";
    ApprovalRequired = "approval_required", Refused,
        "A privileged action (granting security_admin, an approval policy, a customer erasure, a vault key rotation or retirement) needs a second security admin's approval.",
        "Ask for it (`POST /api/v1/privileged`, or the console's form); once approved, carry it out with `POST /api/v1/approvals/{id}/execute`.";
    TotpEnrolmentRequired = "totp_enrolment_required", Refused,
        "The user's role needs TOTP and none is enrolled yet.",
        "Enrol TOTP in the console first.";
    CsrfTokenMissing = "csrf_token_missing", Refused,
        "A cookie-authenticated unsafe request without a matching `X-CSRF-Token` header.",
        "Send the session's CSRF token in `X-CSRF-Token`, or use an API token.";

    // ── Nothing there ───────────────────────────────────────────────────────────────────────
    NotFound = "not_found", NotFound,
        "No such record or route, or none the caller may see (another client's customer, a PC outside a supervisor's team); ids that are not UUIDs are simply not found.",
        "Check the id and the path.";
    MethodNotAllowed = "method_not_allowed", WrongMethod,
        "The route does not take this method.",
        "Use a method the OpenAPI document lists for the path.";
    Conflict = "conflict", Conflict,
        "It conflicts with what exists: a unique name is taken, or it is done already.",
        "Read the current state and decide again.";
    LinkInvalid = "link_invalid", Gone,
        "A setup or invitation link, or a PC's enrolment token, that is used, expired or unknown.",
        "Ask for a new one.";

    // ── The body ────────────────────────────────────────────────────────────────────────────
    BodyTooLarge = "body_too_large", TooLarge,
        "The body exceeds 1 MiB, an import's CSV file 256 MiB (counted as it streams: a chunked body without `Content-Length` too).",
        "Send less; import a larger file with `mamori customers import`.";
    UnsupportedMediaType = "unsupported_media_type", WrongMediaType,
        "The body is not `application/json` (an import's: not `text/csv`).",
        "Send the body with the `Content-Type` the operation takes.";

    // ── A value breaks a rule ───────────────────────────────────────────────────────────────
    InvalidField = "invalid_field", Invalid,
        "A body value is of the wrong type, or a field is unknown (`field` names it).",
        "Correct the field; the request schemas are in the OpenAPI document.";
    ImportRefused = "import_refused", Invalid,
        "A customer import's file has problems; nothing was imported (`problems` lists the first, `problems_total` counts them all).",
        "Correct the file and send all of it again.";
    Required = "required", Invalid,
        "A value that is needed is missing (`field` names it).",
        "Give it.";
    InvalidValue = "invalid_value", Invalid,
        "A value is not of its form: a phone number, e-mail address, card number, date, network, schedule, or a text too long or with control characters (`field` names it).",
        "Correct the value; `detail` says what is expected.";
    TooLong = "too_long", Invalid,
        "A customer field's value is over 10,000 bytes.",
        "Shorten it.";
    OutOfRange = "out_of_range", Invalid,
        "A number is outside its range: a validity, a number of hours, a tree size beyond the signed tree.",
        "Give a number within the range `detail` states.";
    UnknownField = "unknown_field", Invalid,
        "Not a customer field.",
        "Use a field of the field policy (`GET /api/v1/vault/policy`).";
    CardSecurityCodeRefused = "card_security_code_refused", Invalid,
        "A card security code was sent; it is never stored (PCI DSS).",
        "Leave it out.";
    LookupKey = "lookup_key", Invalid,
        "A customer lookup needs exactly one key: a call alone, a phone number, an e-mail address, or a name with a birth date.",
        "Send exactly one of them.";
    ReasonRequired = "reason_required", Invalid,
        "A lookup or reveal that no active call covers needs a reason.",
        "Give `reason_code` and `reason_text`.";
    UnknownReason = "unknown_reason", Invalid,
        "The reason code is not one of the list.",
        "Use one of the codes `detail` lists.";
    InvalidReason = "invalid_reason", Invalid,
        "The reason text is not 5 to 500 characters.",
        "Explain the reason in 5 to 500 characters.";
    InvalidPolicy = "invalid_policy", Invalid,
        "A field policy or a site's device policy breaks one of its rules.",
        "Correct what `detail` names and send the policy again.";
    InvalidCatalog = "invalid_catalog", Invalid,
        "A control catalog file does not read, or breaks a rule of the format; nothing was imported (`detail` says where: the line and column, or the control and field).",
        "Correct the file (its format is in docs/isms.md) and import it again.";
    InvalidFilter = "invalid_filter", Invalid,
        "An audit search filter is over 200 characters or holds control characters.",
        "Shorten the filter.";
    PasswordTooShort = "password_too_short", Invalid,
        "The new password is shorter than the policy's minimum (12 characters).",
        "Choose a longer password.";
    PasswordTooLong = "password_too_long", Invalid,
        "The new password is over 256 characters.",
        "Choose a shorter password.";
    PasswordIsUsername = "password_is_username", Invalid,
        "The new password is the user name.",
        "Choose another password.";
    PasswordCommon = "password_common", Invalid,
        "The new password is on the list of common passwords.",
        "Choose another password.";
    PasswordReused = "password_reused", Invalid,
        "The new password is one of the user's last five.",
        "Choose another password.";
    WrongCurrentPassword = "wrong_current_password", Invalid,
        "The current password given with a change is wrong.",
        "Give the current password.";
    NoEnrolment = "no_enrolment", Invalid,
        "A TOTP code came, but no enrolment was started.",
        "Start TOTP enrolment first.";
    EnrolmentExpired = "enrolment_expired", Invalid,
        "The TOTP enrolment was started over an hour ago.",
        "Scan the new QR code and enter its code.";
    TotpCodeWrong = "totp_code_wrong", Invalid,
        "The TOTP code does not match the enrolment.",
        "Check the phone's clock and enter the next code.";
    TotpNotEnabled = "totp_not_enabled", Invalid,
        "TOTP is not enrolled: there is nothing to turn off, and no recovery codes to make.",
        "Enrol TOTP first.";
    UsernameInvalid = "username_invalid", Invalid,
        "The user name is not 3–64 lower-case letters, digits, `.`, `_` and `-`.",
        "Choose another user name.";
    UsernameTaken = "username_taken", Invalid,
        "The user name is taken.",
        "Choose another user name.";
    DisplayNameInvalid = "display_name_invalid", Invalid,
        "The display name is not 1–100 characters.",
        "Correct the display name.";
    RolesEmpty = "roles_empty", Invalid,
        "A user needs at least one role.",
        "Give a role.";
    NameInvalid = "name_invalid", Invalid,
        "The name of a site, team, client company or token is not 1–100 characters.",
        "Correct the name.";
    NameTaken = "name_taken", Invalid,
        "A site, team or client company of this name exists.",
        "Choose another name.";
    PermissionsEmpty = "permissions_empty", Invalid,
        "A token needs at least one permission.",
        "Give a permission.";
    PermissionNotHeld = "permission_not_held", Invalid,
        "A token may hold only permissions its maker holds.",
        "Leave out the permissions `detail` names.";
    UnknownReference = "unknown_reference", Invalid,
        "A site, team or client company id names no such unit (`field` names it).",
        "Use the id of an existing unit (`GET /api/v1/sites`, `/teams`, `/clients`).";
    NotApplicable = "not_applicable", Invalid,
        "Only a team belongs to a site.",
        "Leave out `site_id`.";

    // ── Wait ────────────────────────────────────────────────────────────────────────────────
    AccountLocked = "account_locked", Locked,
        "Too many failed sign-ins: the account is locked for a while.",
        "Wait, or ask a security admin to unlock the account.";
    Throttled = "throttled", Throttled,
        "Too many credential attempts from this address (passwords, codes, links, enrolment tokens).",
        "Wait a minute.";

    // ── The server's side ───────────────────────────────────────────────────────────────────
    SettingUnreadable = "setting_unreadable", Fault,
        "A rule set stored in the database cannot be read; meanwhile its check fails closed.",
        "Set it again.";
    Internal = "internal", Fault,
        "A bug (a handler that panicked included); the detail says nothing of it, the server log has it under the request id.",
        "Try again; if it persists, tell the administrator the answer's `X-Request-Id`.";
    StorageUnavailable = "storage_unavailable", Unavailable,
        "The database did not answer.",
        "Try again.";
    Starting = "starting", Unavailable,
        "`/readyz` before start-up (migrations included) is finished.",
        "Try again in a moment.";
    DatabaseUnreachable = "database_unreachable", Unavailable,
        "`/readyz`: the database does not answer.",
        "Try again; if it persists, check the database.";
}

impl ErrorCode {
    /// The stable code string.
    pub const fn as_str(self) -> &'static str {
        self.entry().code
    }

    pub const fn kind(self) -> ErrorKind {
        self.entry().kind
    }

    /// The problem document's `type`.
    pub const fn type_uri(self) -> &'static str {
        self.entry().type_uri
    }

    /// The code named by its string, if the catalogue has it.
    pub fn parse(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == code)
    }
}

// Written by hand: utoipa's derive would list the variants' names, not the codes they are sent as.
impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A stable error code, described in docs/api.md under `#error-<code>`. New codes may be \
                 added in later versions; a client that meets one it does not know can act on the \
                 answer's status.",
            ))
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// Compared with its string, so a test can say `assert_eq!(code, "not_found")`.
impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_snake_case_and_described() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let e = code.entry();
            assert!(seen.insert(e.code), "{} is listed twice", e.code);
            assert!(
                !e.code.is_empty() && e.code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{}: want snake_case",
                e.code
            );
            for text in [e.meaning, e.next_step] {
                assert!(text.ends_with('.') && !text.contains('\n'), "{}: one sentence: {text}", e.code);
            }
            assert_eq!(ErrorCode::parse(e.code), Some(*code));
            assert_eq!(e.type_uri, format!("urn:mamori:problem:{}", e.code));
            assert_eq!(e.anchor, format!("error-{}", e.code));
        }
    }

    /// The wire form is the code string, both ways.
    #[test]
    fn serialized_as_the_code() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str());
            assert_eq!(serde_json::from_value::<ErrorCode>(json).unwrap(), *code);
        }
        assert!(serde_json::from_str::<ErrorCode>("\"no_such_code\"").is_err());
    }
}
