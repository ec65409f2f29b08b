//! Signing in, so that it holds under attack: every attempt is recorded
//! before its password is checked (parallel guesses cannot all pass the
//! check), attempts are limited per (account, client address) and per
//! client address, an unknown e-mail gets exactly the answers a known one
//! does, and Argon2 runs on the bounded [`Hasher`](super::password::Hasher).
//!
//! Why per (account, address) and not per account: a per-account lock lets
//! anyone lock retail@ or admin@ out by guessing five times. Counting failures
//! per (account, address) locks the guesser's address only; the owner signs in
//! from their own. A guesser with many addresses is bounded by the per-address
//! limit on each, and every failure is in the audit trail.

use super::{ApiCaller, password};
use crate::developer::EmailAddress;
use crate::error::AppError;
use crate::state::AppState;

/// Failed attempts for one account from one address within the window.
pub const ACCOUNT_FAILURES_MAX: i64 = 5;
/// Failed attempts from one address, for any accounts, within the window.
pub const ADDRESS_FAILURES_MAX: i64 = 30;
/// Failures for one account from all addresses at which an operator is warned.
pub const ACCOUNT_ALERT_FAILURES: i64 = 100;
/// The window, and how long a lock lasts after the last failure.
pub const SIGN_IN_WINDOW_MS: i64 = 15 * 60 * 1000;

/// A hash of no password, checked for unknown e-mails so that they cost the
/// same time as known ones.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI";

/// Why a sign-in was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown e-mail or wrong password: the same answer for both (401).
    #[error("the e-mail or password is wrong")]
    Refused,
    /// Too many failures from this address (429).
    #[error("too many failed sign-ins from this address; try again in 15 minutes")]
    Throttled,
    /// The password checker is full (429).
    #[error(transparent)]
    Busy(password::HashError),
    /// A fault.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for SignInError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<password::HashError> for SignInError {
    fn from(error: password::HashError) -> Self {
        match error {
            password::HashError::Busy => Self::Busy(error),
            password::HashError::Failed(cause) => Self::Internal(cause),
        }
    }
}

impl From<SignInError> for AppError {
    fn from(error: SignInError) -> Self {
        let detail = error.to_string();
        match error {
            SignInError::Refused => Self::Unauthorized(detail),
            SignInError::Throttled | SignInError::Busy(_) => Self::TooManyRequests(detail),
            SignInError::Internal(cause) => Self::Internal(cause),
        }
    }
}

/// Checks an e-mail and password from a client address; the caller they sign
/// in as.
///
/// # Errors
/// Refused (wrong or unknown), throttled, busy, or a fault.
pub async fn sign_in(
    state: &AppState,
    email: &str,
    password_text: &str,
    address: &str,
) -> Result<ApiCaller, SignInError> {
    let now_ms = state.clock.now_ms();
    // One spelling of the account for counting, whether or not it exists.
    let account: String = email.trim().to_lowercase().chars().take(crate::developer::domain::EMAIL_MAX_CHARS).collect();
    let pool = state.db.pool();
    let user = match email.parse::<EmailAddress>() {
        Ok(email) => super::store::find_user_credentials(pool, &email).await?,
        Err(_) => None,
    };
    let stored = user.as_ref().map_or(DUMMY_HASH, |user| user.password_hash.as_str());
    let succeeded = check_password(state, &account, address, password_text, stored).await?;
    let Some(user) = user else { return Err(SignInError::Refused) };
    let subject = format!("user:{}", user.id);
    let action = if succeeded { "user.sign_in" } else { "user.sign_in_failed" };
    let after = serde_json::json!({"address": address});
    let audit = crate::audit::Record {
        actor: &subject,
        action,
        subject: &subject,
        before: None,
        after: Some(after),
        at_ms: now_ms,
    };
    crate::audit::record_alone(pool, &state.audit_key, &audit).await?;
    if !succeeded {
        return Err(SignInError::Refused);
    }
    user.caller().ok_or_else(|| SignInError::Internal(anyhow::anyhow!("user {} has an unknown role", user.id)))
}

/// Records an attempt at `account`'s secret (a password, a second-factor
/// code) from `address` before it is checked, as failed until marked; refused
/// when this account from this address, or this address, failed too often in
/// the window — or, with `account_limit`, when the account failed more often
/// than that from anywhere (for secrets only someone past the password can
/// try, where locking the account locks no innocent owner out). Returns the
/// attempt's id.
///
/// # Errors
/// Throttled, or a fault.
pub async fn record_attempt(
    state: &AppState,
    account: &str,
    address: &str,
    account_limit: Option<i64>,
) -> Result<i64, SignInError> {
    let now_ms = state.clock.now_ms();
    let pool = state.db.pool();
    let attempt = super::store::insert_sign_in_attempt(pool, account, address, now_ms).await?;
    let (for_account, for_address, from_anywhere) =
        super::store::count_sign_in_failures(pool, account, address, now_ms - SIGN_IN_WINDOW_MS).await?;
    if from_anywhere == ACCOUNT_ALERT_FAILURES {
        // Many addresses guessing one account: not locked (that would lock
        // the owner out too), but said once per window for an operator to see.
        tracing::warn!(account, failures = from_anywhere, "an account is being guessed from many addresses");
    }
    let over_account_limit = account_limit.is_some_and(|limit| from_anywhere > limit);
    if for_account > ACCOUNT_FAILURES_MAX || for_address > ADDRESS_FAILURES_MAX || over_account_limit {
        return Err(SignInError::Throttled);
    }
    Ok(attempt)
}

/// Checks a password against its stored hash for `account` from `address`,
/// under the sign-in throttle: the attempt is recorded before the check, and
/// refused when this account from this address, or this address, failed too
/// often in the window. True when the password is right.
///
/// # Errors
/// Throttled, busy, or a fault.
pub async fn check_password(
    state: &AppState,
    account: &str,
    address: &str,
    password_text: &str,
    stored: &str,
) -> Result<bool, SignInError> {
    let pool = state.db.pool();
    let attempt = record_attempt(state, account, address, None).await?;
    let checked = state.hasher.verify(password_text, stored).await;
    if matches!(checked, Err(password::HashError::Busy)) {
        // Not judged: a busy checker must not count against the person.
        super::store::delete_sign_in_attempt(pool, attempt).await?;
    }
    let succeeded = checked?;
    if succeeded {
        super::store::mark_sign_in_succeeded(pool, attempt).await?;
    }
    Ok(succeeded)
}
