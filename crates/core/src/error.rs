use mamori_domain::UnixMillis;
use mamori_proto::ErrorCode;
use mamori_store::StoreError;

/// What can go wrong in a service call. `code()` is its entry in the catalogue of error codes
/// (`mamori_proto::errors`), which the API and the console's messages use. Messages carry ids
/// and rule names, never personal data.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("{field}: {message}")]
    Invalid { field: &'static str, code: ErrorCode, message: String },
    #[error("{0}")]
    Conflict(String),
    #[error("not allowed: {0}")]
    Forbidden(&'static str),
    /// A four-eyes step refused by its rules (issue 15): `reason` is the code the audit entry
    /// records (`own_request`, `step_up`, `not_granted`, `changed` …), which the console words.
    #[error("not allowed: {message}")]
    ApprovalRefused { reason: &'static str, message: &'static str },
    /// A privileged action that a second security admin must approve first (issue 15, item 7).
    #[error("a second security admin must approve this first: ask for approval")]
    ApprovalRequired,
    #[error("sign-in failed: wrong user name or password")]
    SignInFailed,
    /// An agent request whose device signature was refused, and why.
    #[error("device not authenticated: {0}")]
    DeviceRefused(mamori_crypto::device_auth::DeviceAuthError),
    #[error("the second factor was not accepted")]
    SecondFactorFailed,
    #[error(
        "the account is locked until {until:?} after too many failed sign-ins; wait, or ask a security admin to unlock it"
    )]
    Locked { until: UnixMillis },
    #[error("this link is invalid, expired or already used; ask for a new one")]
    LinkInvalid,
    #[error("the session has ended; sign in again")]
    SessionEnded,
    /// A rule set kept in the database cannot be read (its check fails closed meanwhile).
    #[error("the stored setting `{key}` cannot be read; set it again")]
    SettingUnreadable { key: String },
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

impl CoreError {
    pub fn code(&self) -> ErrorCode {
        match self {
            CoreError::NotFound { .. } => ErrorCode::NotFound,
            CoreError::Invalid { code, .. } => *code,
            CoreError::Conflict(_) => ErrorCode::Conflict,
            CoreError::Forbidden(_) => ErrorCode::Forbidden,
            CoreError::ApprovalRequired => ErrorCode::ApprovalRequired,
            CoreError::ApprovalRefused { .. } => ErrorCode::ApprovalRefused,
            CoreError::SignInFailed => ErrorCode::SignInFailed,
            CoreError::DeviceRefused(_) => ErrorCode::DeviceRefused,
            CoreError::SecondFactorFailed => ErrorCode::SecondFactorFailed,
            CoreError::Locked { .. } => ErrorCode::AccountLocked,
            CoreError::LinkInvalid => ErrorCode::LinkInvalid,
            CoreError::SessionEnded => ErrorCode::SessionEnded,
            CoreError::SettingUnreadable { .. } => ErrorCode::SettingUnreadable,
            CoreError::Store(StoreError::Conflict(_)) => ErrorCode::Conflict,
            CoreError::Store(_) => ErrorCode::StorageUnavailable,
            CoreError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub(crate) fn invalid(field: &'static str, code: ErrorCode, message: impl Into<String>) -> Self {
        CoreError::Invalid { field, code, message: message.into() }
    }
}

impl From<mamori_crypto::CryptoError> for CoreError {
    fn from(e: mamori_crypto::CryptoError) -> Self {
        CoreError::Internal(e.to_string())
    }
}
