//! Accounts in the portal: a forgotten password (an e-mailed link, single
//! use, valid 1 hour), a developer administrator inviting colleagues (an
//! e-mailed link to set a password, valid 7 days), the company's users, and
//! personal API tokens (shown once, revocable). Setting a password ends the
//! user's sessions and revokes their tokens.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use serde::Deserialize;

use super::pages::{Chrome, DoneQuery, PortalForm, PortalQuery, app_error_page, error_page, render};
use super::session::{Member, Visitor};
use crate::auth::Role;
use crate::auth::users::{Language, NewUser};
use crate::error::{AppError, AppResult};
use crate::i18n::Words;
use crate::notify::{Facts, MessageKind, Outgoing, PasswordLink, Recipient};
use crate::state::AppState;

/// How long a forgotten-password link works.
pub const RESET_TTL_MS: i64 = 3_600_000;
/// How long an invitation link works.
pub const INVITATION_TTL_MS: i64 = 7 * 24 * 3_600_000;
/// Most reset links per account per hour.
const RESETS_PER_HOUR: i64 = 3;
/// Most users a company's page lists.
const COMPANY_USERS_MAX: i64 = 500;

#[derive(Template)]
#[template(path = "portal/password.html")]
struct PasswordPage {
    chrome: Chrome,
    w: Words,
    /// `forgot`, `sent`, `reset`, `done` or `invalid`.
    step: &'static str,
    token: String,
    email: String,
    error: Option<String>,
}

fn password_page(w: Words, step: &'static str, token: String, error: Option<String>, status: StatusCode) -> Response {
    let chrome = Chrome { w, member: None, current: "password", flash: None };
    render(status, &PasswordPage { chrome, w, step, token, email: String::new(), error })
}

/// `GET /password/forgot`.
pub async fn forgot_page(visitor: Visitor) -> Response {
    password_page(visitor.words, "forgot", String::new(), None, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

/// `POST /password/forgot`: mails a link when the address is known; the
/// answer is the same either way, so it reveals no accounts.
pub async fn forgot(
    State(state): State<AppState>,
    visitor: Visitor,
    address: crate::auth::address::ClientAddress,
    PortalForm(form): PortalForm<ForgotForm>,
) -> Response {
    let w = visitor.words;
    if !state.admission.admit(&address.0).await {
        return error_page(&w, None, StatusCode::TOO_MANY_REQUESTS, "error-too-many");
    }
    let email = form.email.trim().to_lowercase();
    if let Err(error) = send_reset(&state, &email).await {
        tracing::error!(error = %error, "forgotten password");
        return error_page(&w, None, StatusCode::INTERNAL_SERVER_ERROR, "error-internal");
    }
    password_page(w, "sent", String::new(), None, StatusCode::OK)
}

async fn send_reset(state: &AppState, email: &str) -> AppResult<()> {
    let now_ms = state.clock.now_ms();
    let mut transaction = state.db.begin_write().await?;
    let user = crate::auth::store::find_user_language_by_email(&mut transaction, email).await?;
    let Some((user_id, language)) = user else { return Ok(()) };
    let recent = crate::notify::store::count_reset_mails_since(&mut transaction, email, now_ms - 3_600_000).await?;
    if recent >= RESETS_PER_HOUR {
        return Ok(());
    }
    let language = language.parse().unwrap_or(Language::Ms);
    let facts = Facts::default();
    let link = PasswordLink { user_id, purpose: "reset".to_owned(), ttl_ms: RESET_TTL_MS };
    let message = Outgoing::with_password_link(MessageKind::PasswordReset, &facts, link);
    crate::notify::enqueue(&mut transaction, &message, &[Recipient { email: email.to_owned(), language }], now_ms)
        .await?;
    transaction.commit().await?;
    Ok(())
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The user of a link that still works.
/// The user of a live link and whether it is an invitation.
async fn link_user(state: &AppState, token: &str) -> AppResult<Option<(i64, bool)>> {
    let link =
        crate::auth::store::find_link_user(state.db.pool(), &crate::auth::token::hash(token), state.clock.now_ms())
            .await?;
    Ok(link.map(|(user_id, purpose)| (user_id, purpose == "invitation")))
}

/// `GET /password/reset?token=…`.
pub async fn reset_page(
    State(state): State<AppState>,
    visitor: Visitor,
    PortalQuery(query): PortalQuery<TokenQuery>,
) -> Response {
    match link_user(&state, &query.token).await {
        Ok(Some((_, invitation))) => {
            // An invitation is accepted here: the personal-data notice is acknowledged with it.
            let step = if invitation { "invite" } else { "reset" };
            password_page(visitor.words, step, query.token, None, StatusCode::OK)
        }
        Ok(None) => password_page(visitor.words, "invalid", String::new(), None, StatusCode::NOT_FOUND),
        Err(_) => error_page(&visitor.words, None, StatusCode::INTERNAL_SERVER_ERROR, "error-internal"),
    }
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirmation: String,
    #[serde(default)]
    privacy_notice_acknowledged: String,
}

/// `POST /password/reset`: sets the password, uses up the link, ends every session of the user.
pub async fn reset(
    State(state): State<AppState>,
    visitor: Visitor,
    PortalForm(form): PortalForm<ResetForm>,
) -> Response {
    let w = visitor.words;
    let invitation = match link_user(&state, &form.token).await {
        Ok(link) => link.is_some_and(|(_, invitation)| invitation),
        Err(_) => return error_page(&w, None, StatusCode::INTERNAL_SERVER_ERROR, "error-internal"),
    };
    let step = if invitation { "invite" } else { "reset" };
    let refuse = |key: &str| password_page(w, step, form.token.clone(), Some(w.t(key)), StatusCode::BAD_REQUEST);
    if crate::auth::password::check(&form.password).is_err() {
        return refuse("reg-error-user_password");
    }
    if form.password != form.confirmation {
        return refuse("error-password-mismatch");
    }
    if invitation && form.privacy_notice_acknowledged != "on" {
        return refuse("reg-error-privacy_notice_acknowledged");
    }
    match set_password(&state, &form.token, &form.password).await {
        Ok(true) => password_page(w, "done", String::new(), None, StatusCode::OK),
        Ok(false) => password_page(w, "invalid", String::new(), None, StatusCode::NOT_FOUND),
        Err(error) => {
            tracing::error!(error = %error, "setting a password");
            error_page(&w, None, StatusCode::INTERNAL_SERVER_ERROR, "error-internal")
        }
    }
}

async fn set_password(state: &AppState, token: &str, password: &str) -> AppResult<bool> {
    // The link first: hashing is the expensive part, and no one without a
    // live link may make the server do it.
    let Some((_, invitation)) = link_user(state, token).await? else {
        return Ok(false);
    };
    let hash = state.hasher.hash(password).await.map_err(|error| match error {
        crate::auth::password::HashError::Busy => AppError::TooManyRequests(error.to_string()),
        crate::auth::password::HashError::Failed(cause) => AppError::Internal(cause),
    })?;
    let now_ms = state.clock.now_ms();
    let mut transaction = state.db.begin_write().await?;
    let used =
        crate::auth::store::use_password_link(&mut transaction, &crate::auth::token::hash(token), now_ms).await?;
    let Some(user_id) = used else { return Ok(false) };
    // One link used ends every other: a leaked older mail is worth nothing.
    crate::auth::store::end_password_links(&mut transaction, user_id, now_ms).await?;
    crate::auth::store::set_password_hash(&mut transaction, user_id, &hash).await?;
    if invitation {
        crate::auth::store::set_privacy_acknowledged(&mut transaction, user_id, now_ms).await?;
    }
    crate::auth::store::delete_user_sessions(&mut transaction, user_id).await?;
    // Whoever knew the old password may have made tokens: they end too.
    crate::auth::store::revoke_user_tokens(&mut transaction, user_id, now_ms).await?;
    crate::db::announce_access_change(&mut transaction).await?;
    let subject = format!("user:{user_id}");
    let record = crate::audit::Record {
        actor: &subject,
        action: "user.password_set",
        subject: &subject,
        before: None,
        after: None,
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, &state.audit_key, &record).await?;
    transaction.commit().await?;
    state.token_cache.clear();
    Ok(true)
}

/// A user as listed.
pub struct UserItem {
    id: i64,
    active: bool,
    email: String,
    name: String,
    role: String,
    language: String,
}

#[derive(Template)]
#[template(path = "portal/company.html")]
struct CompanyPage {
    chrome: Chrome,
    w: Words,
    csrf: String,
    company: String,
    users: Vec<UserItem>,
    may_invite: bool,
    email: String,
    name: String,
    errors: Vec<(String, String)>,
    /// The e-invoice fields: name, label, hint, value (as stored or typed).
    tax_fields: Vec<(&'static str, String, String, String)>,
    /// The states and federal territories: code, name.
    states: Vec<(&'static str, &'static str)>,
}

impl CompanyPage {
    fn error(&self, field: &str) -> Option<String> {
        self.errors.iter().find(|(f, _)| f == field).map(|(_, e)| e.clone())
    }
}

async fn company_page(
    state: &AppState,
    member: &Member,
    done: Option<&str>,
    typed: (String, String),
    errors: Vec<(String, String)>,
) -> AppResult<CompanyPage> {
    let w = member.words;
    let whose = crate::auth::store::Whose::Company(member.caller.developer_id.unwrap_or_default());
    let rows = crate::auth::store::users(state.db.pool(), whose, 0, COMPANY_USERS_MAX).await?;
    let users = rows
        .into_iter()
        .map(|row| UserItem {
            id: row.id,
            active: row.deactivated_at_ms.is_none(),
            email: row.email,
            name: row.name,
            role: w.t(&format!("role-{}", row.role)),
            language: if row.language == "en" { "English".into() } else { "Bahasa Melayu".into() },
        })
        .collect::<Vec<_>>();
    let identity =
        crate::developer::service::tax_identity(state, member.caller.developer_id.unwrap_or_default()).await?;
    let values = [
        ("tin", identity.tin.unwrap_or_default()),
        ("sst_registration_no", identity.sst_registration_no.unwrap_or_default()),
        ("address", identity.address.unwrap_or_default()),
        ("postcode", identity.postcode.unwrap_or_default()),
        ("state", identity.state_code.unwrap_or_default()),
        ("phone", identity.phone.unwrap_or_default()),
    ];
    Ok(CompanyPage {
        tax_fields: tax_fields(&w, values),
        states: crate::developer::domain::STATES.to_vec(),
        chrome: Chrome::new(member, "company", done),
        w,
        csrf: member.csrf.clone(),
        company: member.developer_code.clone().unwrap_or_default(),
        users,
        may_invite: member.role() == Role::DeveloperAdmin,
        email: typed.0,
        name: typed.1,
        errors,
    })
}

/// `GET /company`: the company's users; its administrator invites more.
pub async fn company(
    State(state): State<AppState>,
    member: Member,
    PortalQuery(query): PortalQuery<DoneQuery>,
) -> Response {
    if !member.is_developer() {
        return error_page(&member.words, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    }
    match company_page(&state, &member, query.done.as_deref(), (String::new(), String::new()), Vec::new()).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(error) => app_error_page(&member, &error),
    }
}

#[derive(Debug, Deserialize)]
pub struct TaxIdentityForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    tin: String,
    #[serde(default)]
    sst_registration_no: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    postcode: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    phone: String,
}

/// The e-invoice fields of the company page with these values.
fn tax_fields(w: &Words, values: [(&'static str, String); 6]) -> Vec<(&'static str, String, String, String)> {
    values
        .into_iter()
        .map(|(name, value)| (name, w.t(&format!("reg-{name}")), w.t(&format!("reg-hint-{name}")), value))
        .collect()
}

/// `POST /company/tax-identity`: the company's administrator records its TIN
/// and SST registration number for e-invoices; errors beside the fields.
pub async fn set_tax_identity(
    State(state): State<AppState>,
    member: Member,
    PortalForm(form): PortalForm<TaxIdentityForm>,
) -> Response {
    let w = member.words;
    if let Some(refused) = member.refuse_bad_csrf(&form.csrf) {
        return refused;
    }
    if member.role() != Role::DeveloperAdmin {
        return error_page(&w, Some(&member), StatusCode::FORBIDDEN, "error-forbidden");
    }
    let tin = form.tin.parse::<crate::developer::domain::TaxId>();
    let sst = form.sst_registration_no.parse::<crate::developer::domain::SstRegistration>();
    let whereabouts = crate::developer::service::Whereabouts {
        address: form.address.parse::<crate::developer::DisplayName>().ok(),
        postcode: form.postcode.parse::<crate::developer::domain::Postcode>().ok(),
        state: form.state.parse::<crate::developer::domain::StateCode>().ok(),
        phone: form.phone.parse::<crate::developer::domain::Phone>().ok(),
    };
    let mut errors = Vec::new();
    for (field, wrong) in [
        ("tin", tin.is_err()),
        ("sst_registration_no", sst.is_err()),
        ("address", whereabouts.address.is_none()),
        ("postcode", whereabouts.postcode.is_none()),
        ("state", whereabouts.state.is_none()),
        ("phone", whereabouts.phone.is_none()),
    ] {
        if wrong {
            errors.push((field.to_owned(), w.t(&format!("reg-error-{field}"))));
        }
    }
    if let (Ok(tin), Ok(sst), true) = (&tin, &sst, errors.is_empty()) {
        let company = member.caller.developer_id.unwrap_or_default();
        let saved =
            crate::developer::service::set_tax_identity(&state, &member.caller, company, (tin, sst), &whereabouts)
                .await;
        return match saved {
            Ok(_) => Redirect::to("/company?done=tax-identity").into_response(),
            Err(error) => app_error_page(&member, &error.into()),
        };
    }
    match company_page(&state, &member, None, (String::new(), String::new()), errors).await {
        Ok(page) => {
            let typed = [
                ("tin", form.tin),
                ("sst_registration_no", form.sst_registration_no),
                ("address", form.address),
                ("postcode", form.postcode),
                ("state", form.state),
                ("phone", form.phone),
            ];
            let page = CompanyPage { tax_fields: tax_fields(&w, typed), ..page };
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(error) => app_error_page(&member, &error),
    }
}

#[derive(Debug, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    language: String,
}

/// `POST /company/users`: the developer administrator invites a colleague.
pub async fn invite(
    State(state): State<AppState>,
    member: Member,
    PortalForm(form): PortalForm<InviteForm>,
) -> Response {
    let w = member.words;
    if let Some(refused) = member.refuse_bad_csrf(&form.csrf) {
        return refused;
    }
    if member.role() != Role::DeveloperAdmin {
        return error_page(&w, Some(&member), StatusCode::FORBIDDEN, "error-forbidden");
    }
    // A claim not yet verified cannot hand out accounts (nor take addresses).
    let company = member.caller.developer_id.unwrap_or_default();
    match crate::developer::store::status(state.db.pool(), company).await {
        Ok(crate::developer::domain::DeveloperStatus::Verified) => {}
        Ok(_) => return error_page(&w, Some(&member), StatusCode::FORBIDDEN, "error-company-not-verified"),
        Err(error) => return app_error_page(&member, &error.into()),
    }
    let mut errors = Vec::new();
    let email = form.email.trim().to_lowercase();
    let parsed_email = email.parse::<crate::developer::EmailAddress>();
    if parsed_email.is_err() {
        errors.push(("email".to_owned(), w.t("reg-error-email")));
    }
    let parsed_name = form.name.trim().parse::<crate::developer::DisplayName>();
    if parsed_name.is_err() {
        errors.push(("name".to_owned(), w.t("reg-error-user_name")));
    }
    let role = if form.role == "developer_admin" { Role::DeveloperAdmin } else { Role::DeveloperMember };
    let language = form.language.parse().unwrap_or(Language::Ms);
    let (Ok(email_address), Ok(name), true) = (parsed_email, parsed_name, errors.is_empty()) else {
        return match company_page(&state, &member, None, (email, form.name), errors).await {
            Ok(page) => render(StatusCode::BAD_REQUEST, &page),
            Err(error) => app_error_page(&member, &error),
        };
    };
    let user = NewUser { email: email_address, name, language, role, developer_id: member.caller.developer_id };
    let company = member.developer_code.clone().unwrap_or_default();
    match invite_user(&state, &member, &user, &company).await {
        Ok(()) => Redirect::to("/company?done=invited").into_response(),
        Err(AppError::Conflict { .. }) => {
            let errors = vec![("email".to_owned(), w.t("error-email-taken"))];
            match company_page(&state, &member, None, (email, form.name), errors).await {
                Ok(page) => render(StatusCode::CONFLICT, &page),
                Err(error) => app_error_page(&member, &error),
            }
        }
        Err(error) => app_error_page(&member, &error),
    }
}

/// Creates `user` with an unusable password and mails them a link (7 days)
/// to set one; `company` names the account they join.
pub(super) async fn invite_user(state: &AppState, member: &Member, user: &NewUser, company: &str) -> AppResult<()> {
    let now_ms = state.clock.now_ms();
    // Nobody knows this password; the invitation link sets the real one.
    let unusable = state.hasher.hash(&crate::auth::token::generate()?).await.map_err(|error| match error {
        crate::auth::password::HashError::Busy => AppError::TooManyRequests(error.to_string()),
        crate::auth::password::HashError::Failed(cause) => AppError::Internal(cause),
    })?;
    let mut transaction = state.db.begin_write().await?;
    let actor = member.caller.actor();
    let user_id =
        crate::auth::users::insert(&mut transaction, (&state.audit_key, &actor), user, &unusable, now_ms).await?;
    let subject = format!("user:{user_id}");
    let after = serde_json::json!({"email": user.email.as_str(), "role": user.role.as_str(), "developer": member.developer_code});
    let record = crate::audit::Record {
        actor: &actor,
        action: "user.invite",
        subject: &subject,
        before: None,
        after: Some(after),
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, &state.audit_key, &record).await?;
    let facts = Facts { developer: company.to_owned(), detail: Some(member.name.clone()), ..Facts::default() };
    let link = PasswordLink { user_id, purpose: "invitation".to_owned(), ttl_ms: INVITATION_TTL_MS };
    let message = Outgoing::with_password_link(MessageKind::Invitation, &facts, link);
    let to = Recipient { email: user.email.as_str().to_owned(), language: user.language };
    crate::notify::enqueue(&mut transaction, &message, &[to], now_ms).await?;
    transaction.commit().await?;
    Ok(())
}

#[derive(Template)]
#[template(path = "portal/tokens.html")]
struct TokensPage {
    chrome: Chrome,
    w: Words,
    csrf: String,
    tokens: Vec<super::people::TokenItem>,
    new_token: Option<String>,
    lifetimes: [i64; 4],
}

async fn tokens_page(
    state: &AppState,
    member: &Member,
    new_token: Option<String>,
    done: Option<&str>,
) -> AppResult<TokensPage> {
    let rows = crate::auth::store::user_tokens(state.db.pool(), member.user_id).await?;
    Ok(TokensPage {
        chrome: Chrome::new(member, "tokens", done),
        w: member.words,
        csrf: member.csrf.clone(),
        tokens: super::people::token_items(rows, state.clock.now_ms()),
        new_token,
        lifetimes: [30, crate::auth::users::TOKEN_DEFAULT_DAYS, 180, crate::auth::users::TOKEN_MAX_DAYS],
    })
}

/// `GET /tokens`: the member's personal API tokens.
pub async fn tokens(
    State(state): State<AppState>,
    member: Member,
    PortalQuery(query): PortalQuery<DoneQuery>,
) -> Response {
    match tokens_page(&state, &member, None, query.done.as_deref()).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(error) => app_error_page(&member, &error),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

#[derive(Debug, Deserialize)]
pub struct NewTokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    days: String,
}

/// `POST /tokens`: a new token working for the chosen days, shown on this
/// page only.
pub async fn create_token(
    State(state): State<AppState>,
    member: Member,
    PortalForm(form): PortalForm<NewTokenForm>,
) -> Response {
    if let Some(refused) = member.refuse_bad_csrf(&form.csrf) {
        return refused;
    }
    let lifetime = match form.days.as_str() {
        "" => Ok(crate::auth::users::TokenLifetime::default()),
        days => {
            crate::api::whole_number(days).ok_or_else(String::new).and_then(crate::auth::users::TokenLifetime::days)
        }
    };
    let Ok(lifetime) = lifetime else {
        return error_page(&member.words, Some(&member), StatusCode::BAD_REQUEST, "error-invalid");
    };
    let created = crate::auth::users::create_token(
        state.db.pool(),
        (&state.audit_key, &member.caller.actor()),
        member.user_id,
        lifetime,
        state.clock.now_ms(),
    )
    .await;
    let result = match created {
        Ok(token) => tokens_page(&state, &member, Some(token), None).await,
        Err(error) => Err(AppError::Internal(error)),
    };
    match result {
        Ok(page) => render(StatusCode::CREATED, &page),
        Err(error) => app_error_page(&member, &error),
    }
}

/// `POST /tokens/{id}/revoke`: a token on the member's token page.
pub async fn revoke_token(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    PortalForm(form): PortalForm<CsrfOnly>,
) -> Response {
    if let Some(refused) = member.refuse_bad_csrf(&form.csrf) {
        return refused;
    }
    let not_found = || error_page(&member.words, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    let Some(id) = crate::api::whole_number(&id) else { return not_found() };
    // `auth::users` decides whose token this may be (one's own, or a managed user's).
    match crate::auth::users::revoke_token(&state, &member.caller, id, None).await {
        Ok(()) => Redirect::to("/tokens?done=token-revoked").into_response(),
        Err(crate::auth::users::UserError::NotFound | crate::auth::users::UserError::Already(_)) => not_found(),
        Err(error) => app_error_page(&member, &error.into()),
    }
}
