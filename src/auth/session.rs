//! Sessions of people signed in to the portal: a random token in an
//! HttpOnly, SameSite=Lax cookie (Secure when the portal is served over
//! HTTPS), its SHA-256 in the `sessions` table so any node serves any
//! request; a new token at every sign-in; a CSRF token per session. The API
//! lets a session read (documents, payment proofs); the portal builds its
//! `Member` on the same lookup.

use axum::http::{HeaderMap, header};

use super::users::Language;
use super::{ApiCaller, Role};
use crate::error::AppResult;
use crate::state::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "kuota_session";
/// How long a session lasts after sign-in.
pub const SESSION_TTL_MS: i64 = 8 * 3_600_000;

/// The value of cookie `name`, if sent.
#[must_use]
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// The person a live session belongs to.
#[derive(Debug, Clone)]
pub struct SessionUser {
    /// As the API sees them (role, company).
    pub caller: ApiCaller,
    /// User id.
    pub user_id: i64,
    /// E-mail.
    pub email: String,
    /// Name.
    pub name: String,
    /// Their company's code, for developer users.
    pub developer_code: Option<String>,
    /// The session's CSRF token.
    pub csrf: String,
    /// Their language.
    pub language: Language,
    /// The SHA-256 of this session's token (the session to keep when the
    /// user changes their password and every other one ends).
    pub session_sha256: String,
}

/// The person whose unexpired session the request's cookie names, if any.
///
/// # Errors
/// A database fault.
pub async fn find(state: &AppState, headers: &HeaderMap) -> AppResult<Option<SessionUser>> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else { return Ok(None) };
    let session_sha256 = super::token::hash(token);
    let row = super::store::find_session(state.db.pool(), &session_sha256, state.clock.now_ms()).await?;
    let Some(row) = row else { return Ok(None) };
    let Ok(role) = row.role.parse::<Role>() else { return Ok(None) };
    Ok(Some(SessionUser {
        caller: ApiCaller { client_id: None, user_id: Some(row.user_id), role, developer_id: row.developer_id },
        user_id: row.user_id,
        email: row.email,
        name: row.name,
        developer_code: row.developer_code,
        csrf: row.csrf_token,
        language: row.language.parse::<Language>().unwrap_or(Language::Ms),
        session_sha256,
    }))
}

/// Starts a session for `user_id`, ending the one the browser held (the
/// token changes at every sign-in); returns the Set-Cookie value.
///
/// # Errors
/// A database fault or no randomness.
pub async fn start(state: &AppState, user_id: i64, previous: Option<&str>) -> AppResult<String> {
    start_stage(state, user_id, previous, Stage::Full).await
}

/// What a session may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Every page the user's role allows.
    Full,
    /// Only the second-factor page after the password (staff who enrolled).
    SecondFactor,
    /// Only enrolment (staff who must enrol before their first page).
    Enrol,
}

impl Stage {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::SecondFactor => "second_factor",
            Self::Enrol => "enrol",
        }
    }

    fn lifetime_ms(self) -> i64 {
        match self {
            Self::Full => SESSION_TTL_MS,
            Self::SecondFactor | Self::Enrol => STAGED_SESSION_TTL_MS,
        }
    }
}

/// How long a session waiting for the second factor lasts.
pub const STAGED_SESSION_TTL_MS: i64 = 10 * 60 * 1000;

/// Starts a session of this stage for `user_id`, ending the one the browser
/// held (a new token at every step); returns the Set-Cookie value.
///
/// # Errors
/// A database fault or no randomness.
pub async fn start_stage(state: &AppState, user_id: i64, previous: Option<&str>, stage: Stage) -> AppResult<String> {
    let now_ms = state.clock.now_ms();
    if let Some(previous) = previous {
        end(state, previous).await?;
    }
    super::store::delete_expired_sessions(state.db.pool(), now_ms).await?;
    let token = super::token::generate()?;
    let csrf = super::token::generate()?;
    let token_sha256 = super::token::hash(&token);
    let lifetime_ms = stage.lifetime_ms();
    let session = super::store::NewSession {
        token_sha256: &token_sha256,
        user_id,
        csrf_token: &csrf,
        stage: stage.as_str(),
        now_ms,
        expires_at_ms: now_ms + lifetime_ms,
    };
    super::store::insert_session(state.db.pool(), &session).await?;
    Ok(cookie_header(state, SESSION_COOKIE, &token, lifetime_ms / 1000))
}

/// A session waiting for the second factor or enrolment.
#[derive(Debug, Clone)]
pub struct StagedSession {
    /// The user.
    pub user_id: i64,
    /// What it waits for.
    pub stage: Stage,
    /// The forms' CSRF token.
    pub csrf: String,
    /// The user's e-mail.
    pub email: String,
    /// Their language.
    pub language: Language,
    /// The cookie's token (to end it when the full session starts).
    pub token: String,
}

/// The waiting session the request's cookie names, if any.
///
/// # Errors
/// A database fault.
pub async fn find_staged(state: &AppState, headers: &HeaderMap) -> AppResult<Option<StagedSession>> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else { return Ok(None) };
    let row =
        super::store::find_staged_session(state.db.pool(), &super::token::hash(token), state.clock.now_ms()).await?;
    Ok(row.map(|row| StagedSession {
        user_id: row.user_id,
        stage: if row.stage == "enrol" { Stage::Enrol } else { Stage::SecondFactor },
        csrf: row.csrf_token,
        email: row.email,
        language: row.language.parse::<Language>().unwrap_or(Language::Ms),
        token: token.to_owned(),
    }))
}

/// Ends the session with this token.
///
/// # Errors
/// A database fault.
pub async fn end(state: &AppState, token: &str) -> AppResult<()> {
    super::store::delete_session(state.db.pool(), &super::token::hash(token)).await?;
    Ok(())
}

/// A Set-Cookie value: HttpOnly, SameSite=Lax, Secure over HTTPS.
#[must_use]
pub fn cookie_header(state: &AppState, name: &str, value: &str, max_age_seconds: i64) -> String {
    let secure = if state.public_url.starts_with("https://") { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_seconds}{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; kuota_session=abc; kuota_session_x=no".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "b"), None);
    }
}
