//! A second factor for staff (retail, finance, admin): TOTP codes (RFC 6238:
//! SHA-1, 6 digits, 30-second steps, one step of clock drift either way)
//! from an authenticator app, enrolled by scanning a QR code drawn here (no
//! outside service), with ten one-time recovery codes kept as SHA-256 only.
//! Once enrolled it is asked for after the password at every sign-in, in the
//! portal and over the API; an administrator's setting can require every
//! staff member to enrol. A code's time step is accepted once (a code seen
//! over someone's shoulder cannot be replayed), and wrong codes are throttled
//! like passwords.
//!
//! The secret itself must be readable to check codes, so it is stored as is
//! (as every TOTP server must hold it); it never leaves the server after
//! enrolment.

use totp_rs::{Algorithm, Secret, TOTP};

use super::{Role, store};
use crate::digest::sha256_hex;
use crate::state::AppState;

/// Seconds per code.
const STEP_SECONDS: i64 = 30;
/// Digits per code.
const DIGITS: usize = 6;
/// Random bytes in a secret (160 bits, as RFC 4226 recommends).
const SECRET_BYTES: usize = 20;
/// Wrong codes for one account, from all addresses, in the sign-in window
/// before its second factor is locked (only someone with the password gets
/// this far, so locking the account hurts no innocent owner).
pub const ACCOUNT_FAILURES_MAX: i64 = 10;
/// Recovery codes given at enrolment.
pub const RECOVERY_CODES: usize = 10;
/// The name an authenticator app shows.
const ISSUER: &str = "kuota Pos Digicert";

/// True for the roles that use a second factor.
#[must_use]
pub fn applies_to(role: Role) -> bool {
    matches!(role, Role::Retail | Role::Finance | Role::Admin)
}

/// A new random secret, base32 (what an authenticator app is given).
///
/// # Errors
/// No randomness.
pub fn new_secret() -> anyhow::Result<String> {
    let mut bytes = [0_u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("no random bytes: {error}"))?;
    Ok(Secret::Raw(bytes.to_vec()).to_encoded().to_string())
}

fn totp(secret: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().ok()?;
    TOTP::new(Algorithm::SHA1, DIGITS, 1, u64::try_from(STEP_SECONDS).ok()?, bytes).ok()
}

/// The code of `secret` at a time step (what the app shows then).
#[must_use]
pub fn code_at(secret: &str, step: i64) -> Option<String> {
    totp(secret).map(|totp| totp.generate(u64::try_from(step * STEP_SECONDS).unwrap_or_default()))
}

/// The time step of Unix second `unix_seconds`.
#[must_use]
pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The time step `code` belongs to — this step or one either side — if any.
#[must_use]
pub fn matching_step(secret: &str, code: &str, unix_seconds: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(unix_seconds);
    [now - 1, now, now + 1]
        .into_iter()
        .find(|step| code_at(secret, *step).is_some_and(|c| same(c.as_bytes(), code.as_bytes())))
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `otpauth://` address an authenticator app reads from the QR code.
#[must_use]
pub fn otpauth_url(secret: &str, account: &str) -> String {
    let label = format!("{}:{}", encode(ISSUER), encode(account));
    format!(
        "otpauth://totp/{label}?secret={secret}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        encode(ISSUER)
    )
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// New recovery codes: `xxxxx-xxxxx`, base32, 50 random bits each.
///
/// # Errors
/// No randomness.
pub fn new_recovery_codes() -> anyhow::Result<Vec<String>> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0_u8; 7];
            getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("no random bytes: {error}"))?;
            let text = Secret::Raw(bytes.to_vec()).to_encoded().to_string().to_lowercase();
            Ok(format!("{}-{}", &text[..5], &text[5..10]))
        })
        .collect()
}

/// The SHA-256 a recovery code is kept as (spaces, dashes and case ignored).
#[must_use]
pub fn recovery_sha256(code: &str) -> String {
    let normal: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase();
    sha256_hex(normal.as_bytes())
}

/// Why a second factor was refused.
#[derive(Debug, thiserror::Error)]
pub enum SecondFactorError {
    /// A wrong, reused or missing code (401).
    #[error("the code is wrong, was already used, or has expired")]
    Wrong,
    /// Too many wrong codes (429).
    #[error("too many wrong codes; try again in 15 minutes")]
    Throttled,
    /// Nothing is being enrolled (409).
    #[error("no second factor is being enrolled; open the enrolment page again")]
    NotEnrolling,
    /// A fault.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for SecondFactorError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<super::service::SignInError> for SecondFactorError {
    fn from(error: super::service::SignInError) -> Self {
        match error {
            super::service::SignInError::Throttled => Self::Throttled,
            super::service::SignInError::Internal(cause) => Self::Internal(cause),
            other => Self::Internal(anyhow::anyhow!("{other}")),
        }
    }
}

/// What a user must still do after the right password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needed {
    /// Nothing (not staff, or staff without a second factor while the
    /// setting does not require one).
    Nothing,
    /// Give a code (or a recovery code).
    Code,
    /// Enrol first (the setting requires it of every staff member).
    Enrolment,
}

/// What `caller` (just signed in with the right password) must still do.
///
/// # Errors
/// A fault.
pub async fn needed(state: &AppState, caller: &super::ApiCaller) -> Result<Needed, SecondFactorError> {
    let Some(user_id) = caller.user_id.filter(|_| applies_to(caller.role)) else { return Ok(Needed::Nothing) };
    if is_enrolled(state, user_id).await? {
        return Ok(Needed::Code);
    }
    let required = crate::settings::load(state.db.pool()).await?.require_staff_second_factor;
    Ok(if required { Needed::Enrolment } else { Needed::Nothing })
}

/// True when the user has enrolled a second factor.
///
/// # Errors
/// A fault.
pub async fn is_enrolled(state: &AppState, user_id: i64) -> Result<bool, SecondFactorError> {
    let mut connection = state.db.pool().acquire().await?;
    Ok(store::second_factor(&mut connection, user_id).await?.secret.is_some())
}

/// The secret to enrol, for the enrolment page's QR code: a new one each
/// time the page is opened (`fresh`), replacing the one shown before, so only
/// the secret shown last can be confirmed (someone else who opened the page
/// earlier holds a dead one); the same one again after a mistyped code.
///
/// # Errors
/// A fault.
pub async fn enrolment_secret(state: &AppState, user_id: i64, fresh: bool) -> Result<String, SecondFactorError> {
    let mut transaction = state.db.begin_write().await?;
    if !fresh {
        if let Some(secret) = store::second_factor(&mut transaction, user_id).await?.pending_secret {
            return Ok(secret);
        }
    }
    let secret = new_secret()?;
    store::set_pending_secret(&mut transaction, user_id, &secret).await?;
    transaction.commit().await?;
    Ok(secret)
}

/// Confirms enrolment with a code from the app: the secret becomes the
/// user's second factor, and new recovery codes are made and returned (to be
/// shown once). Throttled like a password.
///
/// # Errors
/// Nothing being enrolled, a wrong code, throttled, or a fault.
pub async fn enrol(
    state: &AppState,
    user_id: i64,
    code: &str,
    address: &str,
) -> Result<Vec<String>, SecondFactorError> {
    let account = format!("second-factor:user:{user_id}");
    let attempt = super::service::record_attempt(state, &account, address, Some(ACCOUNT_FAILURES_MAX)).await?;
    let now_ms = state.clock.now_ms();
    let mut transaction = state.db.begin_write().await?;
    let pending =
        store::second_factor(&mut transaction, user_id).await?.pending_secret.ok_or(SecondFactorError::NotEnrolling)?;
    let step = matching_step(&pending, code, now_ms.div_euclid(1000)).ok_or(SecondFactorError::Wrong)?;
    if !store::enrol_pending_secret(&mut transaction, user_id, &pending, step).await? {
        return Err(SecondFactorError::NotEnrolling);
    }
    let codes = new_recovery_codes()?;
    let hashes: Vec<String> = codes.iter().map(|code| recovery_sha256(code)).collect();
    store::replace_recovery_codes(&mut transaction, user_id, &hashes).await?;
    let subject = format!("user:{user_id}");
    let record = crate::audit::Record {
        actor: &subject,
        action: "user.second_factor_enrol",
        subject: &subject,
        before: None,
        after: Some(serde_json::json!({"recovery_codes": RECOVERY_CODES, "address": address})),
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, &state.audit_key, &record).await?;
    transaction.commit().await?;
    store::mark_sign_in_succeeded(state.db.pool(), attempt).await?;
    Ok(codes)
}

/// Checks a second factor at sign-in: a code from the app (each time step
/// once) or an unused recovery code (used up). Throttled like a password.
///
/// # Errors
/// A wrong or reused code, throttled, or a fault.
pub async fn verify(state: &AppState, user_id: i64, code: &str, address: &str) -> Result<(), SecondFactorError> {
    let account = format!("second-factor:user:{user_id}");
    let attempt = super::service::record_attempt(state, &account, address, Some(ACCOUNT_FAILURES_MAX)).await?;
    let now_ms = state.clock.now_ms();
    let mut transaction = state.db.begin_write().await?;
    let secret = store::second_factor(&mut transaction, user_id).await?.secret.ok_or(SecondFactorError::Wrong)?;
    let accepted = match matching_step(&secret, code, now_ms.div_euclid(1000)) {
        Some(step) => store::use_step(&mut transaction, user_id, step).await?,
        None => store::use_recovery_code(&mut transaction, user_id, &recovery_sha256(code), now_ms).await?,
    };
    let subject = format!("user:{user_id}");
    let record = crate::audit::Record {
        actor: &subject,
        action: if accepted { "user.second_factor" } else { "user.second_factor_failed" },
        subject: &subject,
        before: None,
        after: Some(serde_json::json!({"address": address})),
        at_ms: now_ms,
    };
    if !accepted {
        drop(transaction);
        crate::audit::record_alone(state.db.pool(), &state.audit_key, &record).await?;
        return Err(SecondFactorError::Wrong);
    }
    crate::audit::record(&mut transaction, &state.audit_key, &record).await?;
    transaction.commit().await?;
    store::mark_sign_in_succeeded(state.db.pool(), attempt).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1: the 20-byte ASCII secret "12345678901234567890".
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn codes_follow_rfc_6238() {
        // The RFC's 8-digit values end in these 6 digits.
        for (seconds, code) in
            [(59, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924"), (2_000_000_000, "279037")]
        {
            assert_eq!(code_at(RFC_SECRET, step_of(seconds)).as_deref(), Some(code), "at {seconds}");
            assert_eq!(matching_step(RFC_SECRET, code, seconds), Some(step_of(seconds)));
        }
    }

    #[test]
    fn a_code_works_one_step_either_side_and_no_further() {
        let now = 1_234_567_890;
        let code = code_at(RFC_SECRET, step_of(now)).unwrap_or_default();
        assert_eq!(matching_step(RFC_SECRET, &code, now + 30), Some(step_of(now)));
        assert_eq!(matching_step(RFC_SECRET, &code, now - 30), Some(step_of(now)));
        assert_eq!(matching_step(RFC_SECRET, &code, now + 90), None);
        for wrong in ["", "12345", "1234567", "abcdef", "000000"] {
            assert_eq!(matching_step(RFC_SECRET, wrong, now), None, "{wrong}");
        }
    }

    #[test]
    fn secrets_recovery_codes_and_the_qr_code_are_well_formed() -> anyhow::Result<()> {
        let secret = new_secret()?;
        assert_eq!(secret.len(), 32);
        assert!(code_at(&secret, 1).is_some());
        let url = otpauth_url(&secret, "ali@posdigicert.com.my");
        assert!(url.starts_with("otpauth://totp/kuota%20Pos%20Digicert:ali@posdigicert.com.my?secret="), "{url}");
        assert!(crate::qr::svg(&url).is_some_and(|svg| svg.starts_with("<svg") && svg.contains("<path d=\"M")));
        let codes = new_recovery_codes()?;
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert!(codes.iter().all(|code| code.len() == 11 && code.as_bytes()[5] == b'-'));
        assert_eq!(recovery_sha256(&codes[0]), recovery_sha256(&codes[0].to_uppercase().replace('-', " ")));
        Ok(())
    }
}
