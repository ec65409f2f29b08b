//! Who is asking for a page: the `Visitor` (their words) and, when signed in,
//! the `Member` — built on `auth::session`'s lookup — with the CSRF check of
//! every form that changes something.

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Redirect, Response};
use http::HeaderMap;
use http::request::Parts;

use crate::auth::Role;
use crate::auth::users::Language;
use crate::error::AppResult;
use crate::i18n::Words;
use crate::state::AppState;

pub use crate::auth::session::{SESSION_COOKIE, SessionUser, cookie, cookie_header, end, start};

/// The language chosen before signing in.
pub const LANGUAGE_COOKIE: &str = "kuota_lang";

/// A signed-in person: the session's user (`caller`, `name`, `csrf`, … by
/// deref) and the words of their language.
#[derive(Debug, Clone)]
pub struct Member {
    /// Who, as the session says.
    pub user: SessionUser,
    /// Their words.
    pub words: Words,
}

impl std::ops::Deref for Member {
    type Target = SessionUser;

    fn deref(&self) -> &SessionUser {
        &self.user
    }
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
            .then(|| super::pages::error_page(&self.words, Some(self), http::StatusCode::FORBIDDEN, "error-csrf"))
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
        match find(state, &parts.headers).await {
            Ok(member) => Ok(Self { words: member.as_ref().map_or(words, |m| m.words), member }),
            Err(error) => Err(super::pages::error_page(&words, None, http::StatusCode::INTERNAL_SERVER_ERROR, &{
                tracing::error!(error = %error, "reading a session");
                "error-internal".to_owned()
            })),
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

async fn find(state: &AppState, headers: &HeaderMap) -> AppResult<Option<Member>> {
    let user = crate::auth::session::find(state, headers).await?;
    Ok(user.map(|user| Member { words: Words::new(user.language), user }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_in_constant_time_and_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
