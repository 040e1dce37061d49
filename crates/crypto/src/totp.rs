//! RFC 6238 TOTP: SHA-1, 6 digits, 30-second steps — what every authenticator app speaks.
//!
//! A code is accepted for the step before, the current step and the step after (clock drift), and
//! only for a step later than the last one accepted, so an overheard code cannot be replayed.

use crate::{CryptoError, random_bytes};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

pub const STEP_SECONDS: u64 = 30;
pub const DIGITS: usize = 6;

/// A new 160-bit shared secret, in base32 as authenticator apps show it.
pub fn new_secret_base32() -> Result<String, CryptoError> {
    Ok(data_encoding::BASE32_NOPAD.encode(&random_bytes::<20>()?))
}

fn totp(secret_base32: &str, issuer: &str, account: &str) -> Result<TOTP, CryptoError> {
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret_base32.as_bytes())
        .map_err(|e| CryptoError::Totp(e.to_string()))?;
    // The otpauth label forbids ':' in either part.
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECONDS,
        secret,
        Some(issuer.replace(':', " ")),
        account.replace(':', " "),
    )
    .map_err(|e| CryptoError::Totp(e.to_string()))
}

/// The `otpauth://totp/…` URI an authenticator app scans.
pub fn otpauth_uri(secret_base32: &str, issuer: &str, account: &str) -> Result<String, CryptoError> {
    Ok(totp(secret_base32, issuer, account)?.get_url())
}

/// The URI as a QR code, an SVG document (no script; safe to inline in a page).
pub fn qr_svg(uri: &str) -> Result<String, CryptoError> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|e| CryptoError::Totp(e.to_string()))?;
    Ok(code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build())
}

/// The code for a moment (used by tests and the demo).
pub fn code_at(secret_base32: &str, unix_seconds: u64) -> Result<String, CryptoError> {
    Ok(totp(secret_base32, "Mamori", "user")?.generate(unix_seconds))
}

/// Checks `code` at `unix_seconds`. Returns the time step it matched, which the caller stores;
/// `None` when it does not match or its step is not after `last_step`.
pub fn verify(
    secret_base32: &str,
    code: &str,
    unix_seconds: u64,
    last_step: Option<u64>,
) -> Result<Option<u64>, CryptoError> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let t = totp(secret_base32, "Mamori", "user")?;
    let now_step = unix_seconds / STEP_SECONDS;
    for step in [now_step.saturating_sub(1), now_step, now_step + 1] {
        if last_step.is_some_and(|last| step <= last) {
            continue;
        }
        let expected = t.generate(step * STEP_SECONDS);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            return Ok(Some(step));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B, SHA-1: secret "12345678901234567890", 8 digits. We use 6 digits, which
    // are the last six of the RFC's values.
    const RFC_SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn rfc6238_vectors() -> Result<(), CryptoError> {
        assert_eq!(code_at(RFC_SECRET_B32, 59)?, "287082");
        assert_eq!(code_at(RFC_SECRET_B32, 1111111109)?, "081804");
        assert_eq!(code_at(RFC_SECRET_B32, 1234567890)?, "005924");
        assert_eq!(code_at(RFC_SECRET_B32, 2000000000)?, "279037");
        Ok(())
    }

    #[test]
    fn window_and_replay() -> Result<(), CryptoError> {
        let s = new_secret_base32()?;
        let now = 1_800_000_000;
        let code = code_at(&s, now)?;
        let step = verify(&s, &code, now, None)?;
        assert_eq!(step, Some(now / 30));
        assert_eq!(verify(&s, &code, now, step)?, None, "replay refused");
        assert!(verify(&s, &code_at(&s, now - 30)?, now, None)?.is_some(), "one step of drift");
        assert_eq!(verify(&s, &code_at(&s, now - 90)?, now, None)?, None);
        assert_eq!(verify(&s, "12345x", now, None)?, None);
        Ok(())
    }

    #[test]
    fn uri_and_qr() -> Result<(), CryptoError> {
        let s = new_secret_base32()?;
        let uri = otpauth_uri(&s, "Mamori", "tanaka")?;
        assert!(uri.starts_with("otpauth://totp/Mamori:tanaka?"));
        assert!(uri.contains(&format!("secret={s}")));
        assert!(qr_svg(&uri)?.contains("<svg"));
        Ok(())
    }
}
