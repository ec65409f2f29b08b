//! Passwords: Argon2id with a random salt, stored as a PHC string.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

/// Shortest password accepted.
pub const PASSWORD_MIN_CHARS: usize = 10;
/// Longest password accepted (hashing time grows with length).
pub const PASSWORD_MAX_CHARS: usize = 256;

/// Why a password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Too short or too long.
    #[error("the password must be {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters")]
    Length,
}

/// Checks the length rule.
///
/// # Errors
/// Too short or too long.
pub fn check(password: &str) -> Result<(), PasswordError> {
    let length = password.chars().count();
    if (PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&length) { Ok(()) } else { Err(PasswordError::Length) }
}

/// The Argon2id PHC string of a password.
///
/// # Errors
/// No randomness, or the hasher failed.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let hashed =
        Argon2::default().hash_password(password.as_bytes()).map_err(|error| anyhow::anyhow!("hashing: {error}"))?;
    Ok(hashed.to_string())
}

/// True when `password` matches the stored PHC string.
#[must_use]
pub fn verify(password: &str, stored: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), stored).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() -> anyhow::Result<()> {
        let stored = hash("kata-laluan-rahsia")?;
        assert!(stored.starts_with("$argon2id$"));
        assert!(!stored.contains("kata-laluan-rahsia"));
        assert!(verify("kata-laluan-rahsia", &stored));
        assert!(!verify("kata-laluan-salah", &stored));
        assert!(!verify("anything", "not a hash"));
        Ok(())
    }

    #[test]
    fn length_is_bounded() {
        assert_eq!(check("short"), Err(PasswordError::Length));
        assert!(check("panjang-cukup").is_ok());
        assert_eq!(check(&"x".repeat(257)), Err(PasswordError::Length));
    }
}
