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
    let now_ms = state.clock.now_ms();
    if let Some(previous) = previous {
        end(state, previous).await?;
    }
    super::store::delete_expired_sessions(state.db.pool(), now_ms).await?;
    let token = super::token::generate()?;
    let csrf = super::token::generate()?;
    let token_sha256 = super::token::hash(&token);
    super::store::insert_session(state.db.pool(), &token_sha256, user_id, &csrf, now_ms, now_ms + SESSION_TTL_MS)
        .await?;
    Ok(cookie_header(state, SESSION_COOKIE, &token, SESSION_TTL_MS / 1000))
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
