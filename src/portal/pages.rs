//! The layout every page shares, sign-in and sign-out, the language switch,
//! error pages and the static assets (stylesheet and fonts, in the binary).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;

use super::session::{self, LANGUAGE_COOKIE, Member, SESSION_COOKIE, Visitor};
use crate::auth::Role;
use crate::auth::users::Language;
use crate::error::AppError;
use crate::i18n::Words;
use crate::state::AppState;

/// What the layout needs: words, who is signed in, which menu item is
/// current, and a message about what just happened.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// Words in the reader's language.
    pub w: Words,
    /// The signed-in person.
    pub member: Option<Member>,
    /// The current menu item.
    pub current: &'static str,
    /// A confirmation to show at the top.
    pub flash: Option<String>,
}

impl Chrome {
    /// The layout for `member` on menu item `current`, with the flash named by `done`.
    #[must_use]
    pub fn new(member: &Member, current: &'static str, done: Option<&str>) -> Self {
        let flash = done.filter(|key| key.chars().all(|c| c.is_ascii_lowercase() || c == '-')).map(|key| {
            let text = member.words.t(&format!("done-{key}"));
            if text.starts_with('⟦') { member.words.t("done-saved") } else { text }
        });
        Self { w: member.words, member: Some(member.clone()), current, flash }
    }

    /// The menu: (address, label, whether it is the current page) for the member's role.
    #[must_use]
    pub fn menu(&self) -> Vec<(&'static str, String, bool)> {
        let Some(member) = &self.member else { return Vec::new() };
        let items: &[(&str, &str, &str)] = match member.role() {
            Role::DeveloperAdmin | Role::DeveloperMember => &[
                ("dashboard", "/dashboard", "menu-dashboard"),
                ("requests", "/requests", "menu-requests"),
                ("new-request", "/requests/new", "menu-new-request"),
                ("ledger", "/ledger", "menu-ledger"),
                ("documents", "/documents", "menu-documents"),
                ("company", "/company", "menu-company"),
                ("tokens", "/tokens", "menu-tokens"),
            ],
            Role::Retail => {
                &[("requests", "/requests", "menu-queue"), ("developers", "/developers", "menu-developers")]
            }
            Role::Finance => &[("finance", "/finance", "menu-finance"), ("requests", "/requests", "menu-requests")],
            Role::Admin => &[
                ("requests", "/requests", "menu-queue"),
                ("developers", "/developers", "menu-developers"),
                ("finance", "/finance", "menu-finance"),
                ("admin", "/admin", "menu-admin"),
            ],
            Role::Hims => &[],
        };
        items.iter().map(|(item, href, key)| (*href, self.w.t(key), *item == self.current)).collect()
    }

    /// The member's role, in words.
    #[must_use]
    pub fn role_name(&self) -> String {
        self.member.as_ref().map(|m| self.w.t(&format!("role-{}", m.role().as_str()))).unwrap_or_default()
    }

    /// The page a signed-out visitor is on, for the language switch.
    #[must_use]
    pub fn anonymous_page(&self) -> &'static str {
        match self.current {
            "register" => "/register",
            "password" => "/password/forgot",
            _ => "/login",
        }
    }

    /// The other language's code and name, for the switch.
    #[must_use]
    pub fn other_language(&self) -> (&'static str, String) {
        match self.w.language {
            Language::Ms => ("en", "English".to_owned()),
            Language::En => ("ms", "Bahasa Melayu".to_owned()),
        }
    }
}

/// Percent-encodes a query value.
#[must_use]
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A form body; a malformed one is answered with a 400 page in the reader's
/// language (their session is read only then, not on every form).
#[derive(Debug)]
pub struct PortalForm<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send> axum::extract::FromRequest<AppState> for PortalForm<T> {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let headers = request.headers().clone();
        match Form::<T>::from_request(request, state).await {
            Ok(Form(value)) => Ok(Self(value)),
            Err(_) => {
                let (mut parts, ()) = http::Request::new(()).into_parts();
                parts.headers = headers;
                let visitor =
                    <Visitor as axum::extract::FromRequestParts<AppState>>::from_request_parts(&mut parts, state)
                        .await?;
                Err(error_page(&visitor.words, visitor.member.as_ref(), StatusCode::BAD_REQUEST, "error-invalid"))
            }
        }
    }
}

/// A page's query string; a malformed one is answered like a malformed form.
#[derive(Debug)]
pub struct PortalQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<AppState> for PortalQuery<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut http::request::Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(_) => {
                let visitor = Visitor::from_request_parts(parts, state).await?;
                Err(error_page(&visitor.words, visitor.member.as_ref(), StatusCode::BAD_REQUEST, "error-invalid"))
            }
        }
    }
}

/// `?done=…`: names the confirmation to show after a redirect.
#[derive(Debug, Deserialize)]
pub struct DoneQuery {
    /// The action just done.
    pub done: Option<String>,
}

/// Renders a page, or a bare 500 if the template fails.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "rendering a page");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "portal/error.html")]
struct ErrorPage {
    chrome: Chrome,
    w: Words,
    status: u16,
    title: String,
    message: String,
}

/// A page saying what went wrong, in the reader's words; `key` names the message.
#[must_use]
pub fn error_page(words: &Words, member: Option<&Member>, status: StatusCode, key: &str) -> Response {
    let chrome = Chrome { w: *words, member: member.cloned(), current: "", flash: None };
    let page = ErrorPage {
        chrome,
        w: *words,
        status: status.as_u16(),
        title: words.t(&format!("error-title-{}", status.as_u16())),
        message: words.t(key),
    };
    render(status, &page)
}

/// The page for an error from the API's handlers: what the reader can act on
/// in their words, with the API's detail beneath for conflicts.
#[must_use]
pub fn app_error_page(member: &Member, error: &AppError) -> Response {
    let status = error.status();
    let key = match status.as_u16() {
        403 => "error-forbidden",
        404 => "error-not-found",
        409 => "error-conflict",
        413 => "error-too-large",
        429 => "error-too-many",
        400 | 415 | 422 => "error-invalid",
        _ => "error-internal",
    };
    if status.is_server_error() {
        tracing::error!(error = %error, "portal action failed");
    }
    let words = member.words;
    let chrome = Chrome { w: words, member: Some(member.clone()), current: "", flash: None };
    let detail = if status.is_server_error() { String::new() } else { error.to_string() };
    let page = ErrorPage {
        chrome,
        w: words,
        status: status.as_u16(),
        title: words.t(&format!("error-title-{}", status.as_u16())),
        message: if detail.is_empty() { words.t(key) } else { format!("{} ({detail})", words.t(key)) },
    };
    render(status, &page)
}

#[derive(Template)]
#[template(path = "portal/privacy.html")]
struct PrivacyPage {
    chrome: Chrome,
    w: Words,
    keep: String,
    contact: String,
    other: &'static str,
}

/// `GET /privacy`: the personal-data notice (PDPA 2010), for everyone.
pub async fn privacy(State(state): State<AppState>, visitor: Visitor) -> Response {
    let w = visitor.words;
    let settings = match crate::settings::load(state.db.pool()).await {
        Ok(settings) => settings,
        Err(_) => return error_page(&w, visitor.member.as_ref(), StatusCode::INTERNAL_SERVER_ERROR, "error-internal"),
    };
    let months = settings.personal_data_retention_months.to_string();
    let page = PrivacyPage {
        chrome: Chrome { w, member: visitor.member.clone(), current: "", flash: None },
        w,
        keep: w.f("privacy-keep", [("months", months.as_str())]),
        contact: w.f("privacy-contact", [("email", settings.seller.email.as_str())]),
        other: if w.language == Language::Ms { "en" } else { "ms" },
    };
    render(StatusCode::OK, &page)
}

/// `/`: the signed-in person's start page, or sign-in.
pub async fn home(visitor: Visitor) -> Redirect {
    match visitor.member.map(|m| m.role()) {
        None => Redirect::to("/login"),
        Some(Role::DeveloperAdmin | Role::DeveloperMember) => Redirect::to("/dashboard"),
        Some(Role::Finance) => Redirect::to("/finance"),
        Some(_) => Redirect::to("/requests"),
    }
}

#[derive(Template)]
#[template(path = "portal/login.html")]
struct LoginPage {
    chrome: Chrome,
    w: Words,
    email: String,
    next: String,
    csrf: String,
    error: Option<String>,
}

/// A `next` address that stays on this site.
pub(super) fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| {
        n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && n.bytes().all(|b| b.is_ascii_graphic())
    })
    .map_or_else(|| "/".to_owned(), page_for)
}

/// The page to show for an address: a form's POST address (shown again
/// after a validation error) maps to the page the form is on, so redirects
/// and the language switch never land on a POST-only route.
#[must_use]
pub fn page_for(path: &str) -> String {
    let (path_only, query) = path.split_once('?').map_or((path, None), |(p, q)| (p, Some(q)));
    let parts: Vec<&str> = path_only.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["requests", id, _action] => format!("/requests/{id}"),
        ["finance", "invoices", ..] => "/finance".to_owned(),
        ["developers", ..] => "/developers".to_owned(),
        ["admin", _section] => "/admin".to_owned(),
        ["company", "users"] => "/company".to_owned(),
        ["tokens", ..] => "/tokens".to_owned(),
        ["logout" | "language"] => "/".to_owned(),
        _ => query.map_or_else(|| path_only.to_owned(), |q| format!("{path_only}?{q}")),
    }
}

/// The login form's CSRF cookie (there is no session yet).
const LOGIN_CSRF_COOKIE: &str = "kuota_login_csrf";

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// `GET /login`.
pub async fn login_page(
    State(state): State<AppState>,
    visitor: Visitor,
    PortalQuery(query): PortalQuery<NextQuery>,
) -> Response {
    if visitor.member.is_some() {
        return Redirect::to(&safe_next(query.next.as_deref())).into_response();
    }
    let Ok(csrf) = crate::auth::token::generate() else {
        return error_page(&visitor.words, None, StatusCode::INTERNAL_SERVER_ERROR, "error-internal");
    };
    login_form(&state, visitor.words, String::new(), safe_next(query.next.as_deref()), csrf, None, StatusCode::OK)
}

fn login_form(
    state: &AppState,
    w: Words,
    email: String,
    next: String,
    csrf: String,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let chrome = Chrome { w, member: None, current: "login", flash: None };
    let cookie = session::cookie_header(state, LOGIN_CSRF_COOKIE, &csrf, 3600);
    let mut response = render(status, &LoginPage { chrome, w, email, next, csrf, error });
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    csrf: String,
}

/// `POST /login`: the API's sign-in (same throttling), then a new session.
pub async fn login(
    State(state): State<AppState>,
    visitor: Visitor,
    address: crate::auth::address::ClientAddress,
    headers: HeaderMap,
    PortalForm(form): PortalForm<LoginForm>,
) -> Response {
    let w = visitor.words;
    if !state.admission.admit(&address.0).await {
        return error_page(&w, None, StatusCode::TOO_MANY_REQUESTS, "error-too-many");
    }
    let next = safe_next(form.next.as_deref());
    let expected = session::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    let fresh_csrf = crate::auth::token::generate().unwrap_or_default();
    if expected.is_empty() || expected != form.csrf {
        let error = Some(w.t("error-login-expired"));
        return login_form(&state, w, form.email, next, fresh_csrf, error, StatusCode::FORBIDDEN);
    }
    let caller = match crate::auth::service::sign_in(&state, &form.email, &form.password, &address.0).await {
        Ok(caller) => caller,
        Err(error) => {
            use crate::auth::service::SignInError;
            let (key, status) = match &error {
                SignInError::Throttled => ("error-login-locked", StatusCode::TOO_MANY_REQUESTS),
                SignInError::Busy(_) => ("error-login-busy", StatusCode::TOO_MANY_REQUESTS),
                SignInError::Refused => ("error-login-wrong", StatusCode::UNAUTHORIZED),
                SignInError::Internal(cause) => {
                    tracing::error!(error = format!("{cause:#}"), "signing in");
                    ("error-internal", StatusCode::INTERNAL_SERVER_ERROR)
                }
            };
            return login_form(&state, w, form.email, next, fresh_csrf, Some(w.t(key)), status);
        }
    };
    let Some(user_id) = caller.user_id else {
        return error_page(&w, None, StatusCode::INTERNAL_SERVER_ERROR, "error-internal");
    };
    // Staff with a second factor (or who must enrol one) get a session that
    // opens only that step's page.
    let (stage, to) = match crate::auth::second_factor::needed(&state, &caller).await {
        Ok(crate::auth::second_factor::Needed::Nothing) => (crate::auth::session::Stage::Full, next),
        Ok(crate::auth::second_factor::Needed::Code) => {
            (crate::auth::session::Stage::SecondFactor, format!("/login/second-factor?next={}", url_encode(&next)))
        }
        Ok(crate::auth::second_factor::Needed::Enrolment) => {
            (crate::auth::session::Stage::Enrol, format!("/account/second-factor?next={}", url_encode(&next)))
        }
        Err(error) => {
            tracing::error!(error = %error, "reading a second factor");
            return error_page(&w, None, StatusCode::INTERNAL_SERVER_ERROR, "error-internal");
        }
    };
    match crate::auth::session::start_stage(&state, user_id, session::cookie(&headers, SESSION_COOKIE), stage).await {
        Ok(cookie) => {
            let mut response = Redirect::to(&to).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Err(_) => error_page(&w, None, StatusCode::INTERNAL_SERVER_ERROR, "error-internal"),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    to: Option<String>,
}

/// `POST /logout`.
pub async fn logout(
    State(state): State<AppState>,
    member: Member,
    headers: HeaderMap,
    PortalForm(form): PortalForm<CsrfForm>,
) -> Response {
    let sent = form.csrf;
    if let Some(refused) = member.refuse_bad_csrf(&sent) {
        return refused;
    }
    if let Some(token) = session::cookie(&headers, SESSION_COOKIE) {
        if session::end(&state, token).await.is_err() {
            return error_page(&member.words, None, StatusCode::INTERNAL_SERVER_ERROR, "error-internal");
        }
    }
    let mut response = Redirect::to("/login").into_response();
    if let Ok(value) = HeaderValue::from_str(&session::cookie_header(&state, SESSION_COOKIE, "", 0)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Debug, Deserialize)]
pub struct LanguageQuery {
    to: Option<String>,
    next: Option<String>,
}

/// `GET /language?to=en`: before sign-in, remembers the choice in a cookie.
pub async fn choose_language(
    State(state): State<AppState>,
    PortalQuery(query): PortalQuery<LanguageQuery>,
) -> Response {
    let language = query.to.as_deref().and_then(|t| t.parse::<Language>().ok()).unwrap_or(Language::Ms);
    let mut response = Redirect::to(&safe_next(query.next.as_deref().or(Some("/login")))).into_response();
    let cookie = session::cookie_header(&state, LANGUAGE_COOKIE, language.as_str(), 365 * 24 * 3600);
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `POST /language`: a signed-in person's language, kept with their account.
pub async fn change_language(
    State(state): State<AppState>,
    member: Member,
    headers: HeaderMap,
    PortalForm(form): PortalForm<CsrfForm>,
) -> Response {
    if let Some(refused) = member.refuse_bad_csrf(&form.csrf) {
        return refused;
    }
    let language = form.to.as_deref().and_then(|t| t.parse::<Language>().ok()).unwrap_or(Language::Ms);
    let saved = crate::auth::store::set_user_language(state.db.pool(), member.user_id, language.as_str()).await;
    if saved.is_err() {
        return error_page(&member.words, Some(&member), StatusCode::INTERNAL_SERVER_ERROR, "error-internal");
    }
    let back = headers.get(header::REFERER).and_then(|v| v.to_str().ok()).and_then(|r| {
        r.strip_prefix(state.public_url.trim_end_matches('/'))
            .map(str::to_owned)
            .or_else(|| r.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned())))
    });
    Redirect::to(&safe_next(back.as_deref())).into_response()
}

const STYLESHEET: &[u8] = include_bytes!("../../assets/kuota.css");
const FONTS: &[(&str, &[u8])] = &[
    ("inter-latin-400-normal.woff2", include_bytes!("../../assets/fonts/inter-latin-400-normal.woff2")),
    ("inter-latin-500-normal.woff2", include_bytes!("../../assets/fonts/inter-latin-500-normal.woff2")),
    ("inter-latin-600-normal.woff2", include_bytes!("../../assets/fonts/inter-latin-600-normal.woff2")),
    ("inter-latin-700-normal.woff2", include_bytes!("../../assets/fonts/inter-latin-700-normal.woff2")),
    ("poppins-latin-500-normal.woff2", include_bytes!("../../assets/fonts/poppins-latin-500-normal.woff2")),
    ("poppins-latin-600-normal.woff2", include_bytes!("../../assets/fonts/poppins-latin-600-normal.woff2")),
    ("poppins-latin-700-normal.woff2", include_bytes!("../../assets/fonts/poppins-latin-700-normal.woff2")),
];

/// `GET /assets/kuota.css`.
pub async fn asset(Path(file): Path<String>) -> Response {
    if file == "kuota.css" {
        (
            [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
            STYLESHEET,
        )
            .into_response()
    } else {
        AppError::NotFound(format!("there is no asset {file}")).into_response()
    }
}

/// `GET /assets/fonts/{file}`.
pub async fn font(Path(file): Path<String>) -> Response {
    match FONTS.iter().find(|(name, _)| *name == file) {
        Some((_, bytes)) => (
            [(header::CONTENT_TYPE, "font/woff2"), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")],
            *bytes,
        )
            .into_response(),
        None => AppError::NotFound(format!("there is no font {file}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_addresses_stay_on_the_site() {
        assert_eq!(safe_next(Some("/requests/5")), "/requests/5");
        assert_eq!(safe_next(Some("/requests?status=quoted")), "/requests?status=quoted");
        assert_eq!(safe_next(Some("/requests/5/payment")), "/requests/5", "a POST address maps to its page");
        assert_eq!(safe_next(Some("/finance/invoices/INV-1/settlement")), "/finance");
        for outside in [
            "https://evil.example",
            "//evil.example",
            "/\\evil",
            "requests",
            "/\t/evil.example",
            "/\r\nSet-Cookie:x",
            "/ /x",
        ] {
            assert_eq!(safe_next(Some(outside)), "/", "{outside}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
