//! Managing people in the portal: a user's page (for administrators, and for
//! a developer company's administrator over its own users) with their
//! tokens and the forms to deactivate, reactivate, change the role or revoke
//! a token, each with a reason; and one's own password, changed while signed
//! in. `auth::users` decides every change; these pages read forms and show
//! its typed errors in the reader's words.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use serde::Deserialize;

use super::pages::{Chrome, DoneQuery, PortalForm, PortalQuery, app_error_page, error_page, render};
use super::session::Member;
use crate::auth::Role;
use crate::auth::users::{self, Change, UserError};
use crate::i18n::Words;
use crate::request::domain::Message;
use crate::state::AppState;

/// A token as a manager sees it.
pub struct TokenItem {
    pub(super) id: i64,
    pub(super) created: String,
    pub(super) expires: String,
    pub(super) last_used: String,
    pub(super) revoked: String,
}

/// Turns stored token rows into what pages show (never the secret).
pub fn token_items(rows: Vec<crate::auth::store::UserTokenRow>, now_ms: i64) -> Vec<TokenItem> {
    rows.into_iter()
        .map(|row| TokenItem {
            id: row.id,
            created: crate::format::date_time(row.created_at_ms),
            expires: crate::format::date_time(row.expires_at_ms),
            last_used: row.last_used_at_ms.map(crate::format::date_time).unwrap_or_default(),
            revoked: match row.revoked_at_ms {
                Some(at) => crate::format::date_time(at),
                None if row.expires_at_ms <= now_ms => "—".to_owned(),
                None => String::new(),
            },
        })
        .collect()
}

#[derive(Template)]
#[template(path = "portal/user.html")]
struct UserPage {
    chrome: Chrome,
    w: Words,
    csrf: String,
    id: i64,
    name: String,
    email: String,
    company: String,
    role_name: String,
    active: bool,
    is_self: bool,
    /// Value, label, selected.
    roles: Vec<(&'static str, String, bool)>,
    tokens: Vec<TokenItem>,
    error: Option<String>,
}

fn menu_of(member: &Member) -> &'static str {
    if member.is_admin() { "admin" } else { "company" }
}

async fn user_page(state: &AppState, member: &Member, id: i64, done: Option<&str>, error: Option<String>) -> Response {
    let w = member.words;
    let user = match users::managed_user(state, &member.caller, id).await {
        Ok(user) => user,
        Err(UserError::Internal(cause)) => return app_error_page(member, &crate::error::AppError::Internal(cause)),
        Err(_) => return error_page(&w, Some(member), StatusCode::NOT_FOUND, "error-not-found"),
    };
    let tokens = match users::tokens_of(state, &member.caller, id).await {
        Ok(rows) => token_items(rows, state.clock.now_ms()),
        Err(error) => return app_error_page(member, &error.into()),
    };
    let Ok(role) = user.role.parse::<Role>() else {
        return app_error_page(
            member,
            &crate::error::AppError::Internal(anyhow::anyhow!("user {id} has an unknown role")),
        );
    };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = UserPage {
        chrome: Chrome::new(member, menu_of(member), done),
        w,
        csrf: member.csrf.clone(),
        id: user.id,
        name: user.name,
        email: user.email,
        company: user.company,
        role_name: w.t(&format!("role-{}", user.role)),
        active: user.deactivated_at_ms.is_none(),
        is_self: member.user_id == user.id,
        roles: users::allowed_roles(role)
            .iter()
            .map(|r| (r.as_str(), w.t(&format!("role-{}", r.as_str())), *r == role))
            .collect(),
        tokens,
        error,
    };
    render(status, &page)
}

fn user_id(text: &str) -> Option<i64> {
    crate::api::whole_number(text).filter(|id| *id > 0)
}

/// `GET /users/{id}`: a user the member manages.
pub async fn show(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    PortalQuery(query): PortalQuery<DoneQuery>,
) -> Response {
    let Some(id) = user_id(&id) else {
        return error_page(&member.words, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    };
    user_page(&state, &member, id, query.done.as_deref(), None).await
}

#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    change: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    reason: String,
}

/// The locale key of a refused change.
fn refusal_key(error: &UserError) -> &'static str {
    match error {
        UserError::OwnAccount(_) => "error-own-account",
        UserError::Already(_) => "error-user-state",
        UserError::RoleNotAllowed { .. } => "error-role-not-allowed",
        UserError::NotFound | UserError::Forbidden => "error-not-found",
        UserError::WrongPassword => "error-password-wrong",
        UserError::Throttled | UserError::Busy(_) => "error-too-many",
        UserError::Internal(_) => "error-internal",
    }
}

/// `POST /users/{id}`: deactivate, reactivate or change the role, with a reason.
pub async fn change(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    PortalForm(form): PortalForm<ChangeForm>,
) -> Response {
    if let Some(refused) = member.refuse_bad_csrf(&form.csrf) {
        return refused;
    }
    let w = member.words;
    let Some(id) = user_id(&id) else { return error_page(&w, Some(&member), StatusCode::NOT_FOUND, "error-not-found") };
    let change = match (form.change.as_str(), form.role.parse::<Role>()) {
        ("deactivate", _) => Change::Deactivate,
        ("activate", _) => Change::Activate,
        ("role", Ok(role)) => Change::Role(role),
        _ => return user_page(&state, &member, id, None, Some(w.t("error-invalid"))).await,
    };
    let Ok(reason) = form.reason.parse::<Message>() else {
        return user_page(&state, &member, id, None, Some(w.t("error-change-reason-required"))).await;
    };
    let changed = users::change(&state, &member.caller, id, change, &reason).await.map(|_| ());
    answer(&state, &member, id, changed, "user-changed").await
}

/// After a change on a user's page: back to it with `done`, or the refusal
/// beside the form (a user the member does not manage is not found).
async fn answer(state: &AppState, member: &Member, id: i64, result: Result<(), UserError>, done: &str) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("/users/{id}?done={done}")).into_response(),
        Err(UserError::Internal(cause)) => app_error_page(member, &crate::error::AppError::Internal(cause)),
        Err(UserError::NotFound | UserError::Forbidden) => {
            error_page(&member.words, Some(member), StatusCode::NOT_FOUND, "error-not-found")
        }
        Err(error) => user_page(state, member, id, None, Some(member.words.t(refusal_key(&error)))).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// `POST /users/{id}/tokens/{token}/revoke`: a manager revokes a user's token.
pub async fn revoke_token(
    State(state): State<AppState>,
    member: Member,
    Path((id, token)): Path<(String, String)>,
    PortalForm(form): PortalForm<RevokeForm>,
) -> Response {
    if let Some(refused) = member.refuse_bad_csrf(&form.csrf) {
        return refused;
    }
    let w = member.words;
    let (Some(id), Some(token)) = (user_id(&id), user_id(&token)) else {
        return error_page(&w, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    };
    let Ok(reason) = form.reason.parse::<Message>() else {
        return user_page(&state, &member, id, None, Some(w.t("error-change-reason-required"))).await;
    };
    let revoked = users::revoke_token(&state, &member.caller, token, Some(&reason)).await;
    answer(&state, &member, id, revoked, "token-revoked").await
}

#[derive(Template)]
#[template(path = "portal/account.html")]
struct AccountPage {
    chrome: Chrome,
    w: Words,
    csrf: String,
    /// Staff see the link to their second factor.
    staff: bool,
    errors: Vec<(String, String)>,
}

impl AccountPage {
    fn error(&self, field: &str) -> Option<String> {
        self.errors.iter().find(|(f, _)| f == field).map(|(_, e)| e.clone())
    }
}

fn account_page(member: &Member, done: Option<&str>, errors: Vec<(String, String)>) -> Response {
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let page = AccountPage {
        chrome: Chrome::new(member, "account", done),
        w: member.words,
        csrf: member.csrf.clone(),
        staff: crate::auth::second_factor::applies_to(member.role()),
        errors,
    };
    render(status, &page)
}

/// `GET /account`: the member's own account (their password).
pub async fn account(member: Member, PortalQuery(query): PortalQuery<DoneQuery>) -> Response {
    account_page(&member, query.done.as_deref(), Vec::new())
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirmation: String,
}

/// `POST /account/password`: changes the member's password; every other
/// session of theirs ends.
pub async fn change_password(
    State(state): State<AppState>,
    member: Member,
    address: crate::auth::address::ClientAddress,
    PortalForm(form): PortalForm<PasswordForm>,
) -> Response {
    if let Some(refused) = member.refuse_bad_csrf(&form.csrf) {
        return refused;
    }
    let w = member.words;
    let mut errors = Vec::new();
    if crate::auth::password::check(&form.password).is_err() {
        errors.push(("password".to_owned(), w.t("reg-error-user_password")));
    } else if form.password != form.confirmation {
        errors.push(("confirmation".to_owned(), w.t("error-password-mismatch")));
    }
    if form.current.is_empty() {
        errors.push(("current".to_owned(), w.t("error-password-wrong")));
    }
    if !errors.is_empty() {
        return account_page(&member, None, errors);
    }
    let changed = users::change_password(
        &state,
        member.user_id,
        &member.session_sha256,
        &form.current,
        &form.password,
        &address.0,
    )
    .await;
    match changed {
        Ok(()) => Redirect::to("/account?done=password-changed").into_response(),
        Err(UserError::WrongPassword) => {
            account_page(&member, None, vec![("current".to_owned(), w.t("error-password-wrong"))])
        }
        Err(error @ (UserError::Throttled | UserError::Busy(_))) => {
            account_page(&member, None, vec![("current".to_owned(), w.t(refusal_key(&error)))])
        }
        Err(error) => app_error_page(&member, &error.into()),
    }
}
