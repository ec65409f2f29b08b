//! Portal sessions: a random token in an HttpOnly, SameSite=Lax cookie
//! (Secure when the portal is served over HTTPS), its SHA-256 in the
//! `sessions` table so any node serves any request; a new token at every
//! sign-in; a CSRF token per session checked on every form that changes
//! something.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::i18n::Words;
use crate::auth::users::Language;
use crate::auth::{ApiCaller, Role};
use crate::error::AppResult;
use crate::state::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "kuota_session";
/// The language chosen before signing in.
pub const LANGUAGE_COOKIE: &str = "kuota_lang";
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

/// A signed-in person.
#[derive(Debug, Clone)]
pub struct Member {
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
    /// Their words.
    pub words: Words,
}

impl Member {
    /// The role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.caller.role
    }

    /// Whether this is a developer's user.
    #[must_use]
    pub fn is_developer(&self) -> bool {
        self.caller.role.is_developer()
    }

    /// Whether this is retail staff or an administrator.
    #[must_use]
    pub fn is_retail(&self) -> bool {
        matches!(self.caller.role, Role::Retail | Role::Admin)
    }

    /// Whether this is finance staff or an administrator.
    #[must_use]
    pub fn is_finance(&self) -> bool {
        matches!(self.caller.role, Role::Finance | Role::Admin)
    }

    /// Whether this is an administrator.
    #[must_use]
    pub fn is_admin(&self) -> bool {
        self.caller.role == Role::Admin
    }

    /// A 403 page (in the member's language) when a form's CSRF token is not this session's.
    #[must_use]
    pub fn refuse_bad_csrf(&self, sent: &str) -> Option<Response> {
        (!constant_time_eq(sent.as_bytes(), self.csrf.as_bytes()))
            .then(|| super::pages::error_page(&self.words, Some(self), axum::http::StatusCode::FORBIDDEN, "error-csrf"))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whoever asks for a page: their words and, if signed in, who they are.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// Words in their language.
    pub words: Words,
    /// The signed-in person, if any.
    pub member: Option<Member>,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let chosen = cookie(&parts.headers, LANGUAGE_COOKIE).and_then(|v| v.parse::<Language>().ok());
        let words = Words::new(chosen.unwrap_or(Language::Ms));
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else { return Ok(Self { words, member: None }) };
        match find(state, token).await {
            Ok(member) => Ok(Self { words: member.as_ref().map_or(words, |m| m.words), member }),
            Err(error) => {
                Err(super::pages::error_page(&words, None, axum::http::StatusCode::INTERNAL_SERVER_ERROR, &{
                    tracing::error!(error = %error, "reading a session");
                    "error-internal".to_owned()
                }))
            }
        }
    }
}

impl FromRequestParts<AppState> for Member {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let visitor = Visitor::from_request_parts(parts, state).await?;
        visitor.member.ok_or_else(|| {
            // After signing in, come back to the page (a form's POST address
            // maps to the page the form is on; what was typed is lost).
            let asked = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let next = super::pages::page_for(asked);
            let encoded = super::pages::url_encode(&next).replace("%2F", "/");
            Redirect::to(&format!("/login?next={encoded}")).into_response()
        })
    }
}

async fn find(state: &AppState, token: &str) -> AppResult<Option<Member>> {
    let row =
        super::store::find_session(state.db.pool(), &crate::auth::token::hash(token), state.clock.now_ms()).await?;
    let Some(row) = row else { return Ok(None) };
    let Ok(role) = row.role.parse::<Role>() else { return Ok(None) };
    let language = row.language.parse::<Language>().unwrap_or(Language::Ms);
    Ok(Some(Member {
        caller: ApiCaller { client_id: None, user_id: Some(row.user_id), role, developer_id: row.developer_id },
        user_id: row.user_id,
        email: row.email,
        name: row.name,
        developer_code: row.developer_code,
        csrf: row.csrf_token,
        words: Words::new(language),
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
    let token = crate::auth::token::generate()?;
    let csrf = crate::auth::token::generate()?;
    super::store::insert_session(
        state.db.pool(),
        &crate::auth::token::hash(&token),
        user_id,
        &csrf,
        now_ms,
        now_ms + SESSION_TTL_MS,
    )
    .await?;
    Ok(cookie_header(state, SESSION_COOKIE, &token, SESSION_TTL_MS / 1000))
}

/// Ends the session with this token.
///
/// # Errors
/// A database fault.
pub async fn end(state: &AppState, token: &str) -> AppResult<()> {
    super::store::delete_session(state.db.pool(), &crate::auth::token::hash(token)).await?;
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

    #[test]
    fn tokens_compare_in_constant_time_and_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
