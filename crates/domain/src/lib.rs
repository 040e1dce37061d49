//! Mamori's domain rules, free of HTTP, SQL and I/O.
//!
//! Everything here is a pure function of its inputs: time comes in through [`clock::Clock`], so tests
//! control TOTP windows, expiries and lockouts. The role → permission matrix lives in [`authz`] and
//! nowhere else.

pub mod activity;
pub mod approval;
pub mod authz;
pub mod clock;
pub mod customer;
pub mod detect;
pub mod identity;
pub mod incident;
pub mod isms;
pub mod lockout;
pub mod mail;
pub mod notify;
pub mod password_policy;
pub mod posture;
pub mod rate;
pub mod session_policy;
pub mod vault_policy;

pub use authz::{Permission, Role};
pub use clock::{Clock, SystemClock, UnixMillis};
