//! What makes a password acceptable (TW-8).
//!
//! At least 12 characters, not the user name, not on the list of common passwords the project
//! ships (`data/common-passwords.txt`, compared case-insensitively). The "none of the last 5"
//! rule needs the stored hashes, so the identity service applies it with [`HISTORY_DEPTH`].

/// How many earlier passwords a new one may not repeat.
pub const HISTORY_DEPTH: usize = 5;
pub const MIN_LENGTH: usize = 12;
/// Argon2 of a megabyte is a denial-of-service; nobody types more than this.
pub const MAX_LENGTH: usize = 256;

static COMMON: &str = include_str!("../data/common-passwords.txt");

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("must be at least 12 characters")]
    TooShort,
    #[error("must be at most 256 characters")]
    TooLong,
    #[error("must not be the user name")]
    SameAsUsername,
    #[error("is on the list of commonly used passwords")]
    Common,
    #[error("was one of your last 5 passwords")]
    Reused,
}

/// Checks every rule that needs no stored data.
pub fn check(username: &str, password: &str) -> Result<(), PasswordProblem> {
    let len = password.chars().count();
    if len < MIN_LENGTH {
        return Err(PasswordProblem::TooShort);
    }
    if len > MAX_LENGTH {
        return Err(PasswordProblem::TooLong);
    }
    let lower = password.to_lowercase();
    if lower == username.to_lowercase() {
        return Err(PasswordProblem::SameAsUsername);
    }
    if is_common(&lower) {
        return Err(PasswordProblem::Common);
    }
    Ok(())
}

fn is_common(lower: &str) -> bool {
    COMMON.lines().any(|line| line == lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert_eq!(check("tanaka", "short"), Err(PasswordProblem::TooShort));
        assert_eq!(check("tanaka.hanako", "Tanaka.Hanako"), Err(PasswordProblem::SameAsUsername));
        assert_eq!(check("tanaka", "Password1234"), Err(PasswordProblem::Common));
        assert_eq!(check("tanaka", "qwertyuiop123"), Err(PasswordProblem::Common));
        assert_eq!(check("tanaka", &"x".repeat(300)), Err(PasswordProblem::TooLong));
        assert_eq!(check("tanaka", "correct horse battery"), Ok(()));
        // Twelve characters, not bytes: Japanese passphrases count by character.
        assert_eq!(check("tanaka", "あいうえおかきくけこさし"), Ok(()));
    }

    #[test]
    fn shipped_list_is_sorted_lower_case_and_long_enough() {
        let lines: Vec<&str> = COMMON.lines().collect();
        assert!(lines.len() > 1000);
        assert!(lines.windows(2).all(|w| w[0] < w[1]));
        assert!(lines.iter().all(|l| l.chars().count() >= MIN_LENGTH && *l == l.to_lowercase()));
    }
}
