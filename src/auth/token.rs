//! Secret tokens: 32 random bytes shown once, stored only as SHA-256.

/// Prefix that makes a kuota token recognisable (e.g. by secret scanners).
pub const TOKEN_PREFIX: &str = "kuota_";
const TOKEN_RANDOM_BYTES: usize = 32;

/// A new random token.
///
/// # Errors
/// The operating system's random source failed.
pub fn generate() -> anyhow::Result<String> {
    let mut bytes = [0_u8; TOKEN_RANDOM_BYTES];
    getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("no randomness: {error}"))?;
    Ok(format!("{TOKEN_PREFIX}{}", crate::digest::to_hex(&bytes)))
}

/// The stored form of a token.
#[must_use]
pub fn hash(token: &str) -> String {
    crate::digest::sha256_hex(token.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_prefixed() -> anyhow::Result<()> {
        let (first, second) = (generate()?, generate()?);
        assert_ne!(first, second);
        assert!(first.starts_with(TOKEN_PREFIX));
        assert_eq!(first.len(), TOKEN_PREFIX.len() + 64);
        Ok(())
    }

    #[test]
    fn the_stored_hash_is_not_the_token() {
        let stored = hash("kuota_abc");
        assert_eq!(stored, crate::digest::sha256_hex(b"kuota_abc"));
        assert!(!stored.contains("abc") || stored.len() == 64);
        assert_eq!(stored.len(), 64);
    }
}
