//! The second factor in the portal: the code asked for after the password
//! (`/login/second-factor`), and enrolment (`/account/second-factor`): a QR
//! code for the authenticator app, the secret written out for typing, a code
//! to confirm, then the recovery codes shown once. Enrolment is open to a
//! signed-in staff member and to one whose session waits for enrolment (the
//! setting requires it); finishing either waiting step starts a full session.
//! `auth::second_factor` decides.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;

use super::pages::{Chrome, PortalForm, PortalQuery, error_page, render, safe_next};
use super::session::{Member, Visitor};
use crate::auth::second_factor::{self, SecondFactorError};
use crate::auth::session::{Stage, StagedSession};
use crate::i18n::Words;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
}

#[derive(Template)]
#[template(path = "portal/second_factor.html")]
struct CodePage {
    chrome: Chrome,
    w: Words,
    csrf: String,
    next: String,
    error: Option<String>,
}

fn chrome(w: Words) -> Chrome {
    Chrome { w, member: None, current: "login", flash: None }
}

/// The waiting session of this stage, or a page sending the visitor to sign in.
async fn staged(state: &AppState, headers: &HeaderMap, stage: Stage) -> Option<StagedSession> {
    crate::auth::session::find_staged(state, headers).await.ok().flatten().filter(|session| session.stage == stage)
}

/// A redirect that also sets the new session's cookie.
fn redirect_with_cookie(to: &str, cookie: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `GET /login/second-factor`: the code after the password.
pub async fn code_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    PortalQuery(query): PortalQuery<NextQuery>,
) -> Response {
    let Some(session) = staged(&state, &headers, Stage::SecondFactor).await else {
        return Redirect::to("/login").into_response();
    };
    let w = crate::i18n::Words::new(session.language);
    let next = safe_next(query.next.as_deref());
    render(StatusCode::OK, &CodePage { chrome: chrome(w), w, csrf: session.csrf, next, error: None })
}

/// `POST /login/second-factor`: a right code starts the full session.
pub async fn check_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    address: crate::auth::address::ClientAddress,
    PortalForm(form): PortalForm<CodeForm>,
) -> Response {
    if !state.admission.admit(&address.0).await {
        return StatusCode::TOO_MANY_REQUESTS.into_response();
    }
    let Some(session) = staged(&state, &headers, Stage::SecondFactor).await else {
        return Redirect::to("/login").into_response();
    };
    let w = crate::i18n::Words::new(session.language);
    if form.csrf != session.csrf {
        return error_page(&w, None, StatusCode::FORBIDDEN, "error-csrf");
    }
    let next = safe_next(Some(&form.next));
    let refused = |key: &str, status: StatusCode| {
        let page =
            CodePage { chrome: chrome(w), w, csrf: session.csrf.clone(), next: next.clone(), error: Some(w.t(key)) };
        render(status, &page)
    };
    match second_factor::verify(&state, session.user_id, &form.code, &address.0).await {
        Ok(()) => {
            match crate::auth::session::start_stage(&state, session.user_id, Some(&session.token), Stage::Full).await {
                Ok(cookie) => redirect_with_cookie(&next, &cookie),
                Err(_) => error_page(&w, None, StatusCode::INTERNAL_SERVER_ERROR, "error-internal"),
            }
        }
        Err(SecondFactorError::Throttled) => refused("error-login-locked", StatusCode::TOO_MANY_REQUESTS),
        Err(SecondFactorError::Internal(cause)) => {
            tracing::error!(error = format!("{cause:#}"), "checking a second factor");
            error_page(&w, None, StatusCode::INTERNAL_SERVER_ERROR, "error-internal")
        }
        Err(_) => refused("error-second-factor-wrong", StatusCode::UNAUTHORIZED),
    }
}

/// Who may enrol: a signed-in staff member, or a staff member whose
/// session waits for enrolment.
struct Enroller {
    user_id: i64,
    email: String,
    csrf: String,
    words: Words,
    member: Option<Member>,
    /// The waiting session's token (ended when the full session starts).
    waiting: Option<String>,
}

async fn enroller(state: &AppState, visitor: Visitor, headers: &HeaderMap) -> Option<Enroller> {
    if let Some(member) = visitor.member {
        if !second_factor::applies_to(member.role()) {
            return None;
        }
        return Some(Enroller {
            user_id: member.user_id,
            email: member.email.clone(),
            csrf: member.csrf.clone(),
            words: member.words,
            waiting: None,
            member: Some(member),
        });
    }
    let session = staged(state, headers, Stage::Enrol).await?;
    Some(Enroller {
        user_id: session.user_id,
        email: session.email,
        csrf: session.csrf,
        words: Words::new(session.language),
        member: None,
        waiting: Some(session.token),
    })
}

/// Someone who may not enrol: sent to sign in, or (not staff) not found.
fn not_an_enroller(visitor: &Visitor) -> Response {
    match &visitor.member {
        None => Redirect::to("/login?next=/account/second-factor").into_response(),
        Some(member) => error_page(&visitor.words, Some(member), StatusCode::NOT_FOUND, "error-not-found"),
    }
}

#[derive(Template)]
#[template(path = "portal/enrol.html")]
struct EnrolPage {
    chrome: Chrome,
    w: Words,
    csrf: String,
    next: String,
    enrolled: bool,
    codes_left: i64,
    secret: String,
    qr: String,
    recovery_codes: Vec<String>,
    error: Option<String>,
}

impl Enroller {
    fn chrome(&self) -> Chrome {
        match &self.member {
            Some(member) => Chrome::new(member, "account", None),
            None => chrome(self.words),
        }
    }
}

async fn enrol_page(state: &AppState, who: &Enroller, next: String, error: Option<String>) -> Response {
    let w = who.words;
    let enrolled = match second_factor::is_enrolled(state, who.user_id).await {
        Ok(enrolled) => enrolled,
        Err(_) => return error_page(&w, who.member.as_ref(), StatusCode::INTERNAL_SERVER_ERROR, "error-internal"),
    };
    let (secret, qr, codes_left) = if enrolled {
        let left = crate::auth::store::recovery_codes_left(state.db.pool(), who.user_id).await.unwrap_or_default();
        (String::new(), String::new(), left)
    } else {
        // Opening the page makes a new secret; a mistyped code shows the same.
        match second_factor::enrolment_secret(state, who.user_id, error.is_none()).await {
            Ok(secret) => {
                let qr = crate::qr::svg(&second_factor::otpauth_url(&secret, &who.email)).unwrap_or_default();
                (secret, qr, 0)
            }
            Err(_) => return error_page(&w, who.member.as_ref(), StatusCode::INTERNAL_SERVER_ERROR, "error-internal"),
        }
    };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = EnrolPage {
        chrome: who.chrome(),
        w,
        csrf: who.csrf.clone(),
        next,
        enrolled,
        codes_left,
        secret,
        qr,
        recovery_codes: Vec::new(),
        error,
    };
    render(status, &page)
}

/// `GET /account/second-factor`: enrol (or see that one is enrolled).
pub async fn enrolment(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    PortalQuery(query): PortalQuery<NextQuery>,
) -> Response {
    let Some(who) = enroller(&state, visitor.clone(), &headers).await else {
        return not_an_enroller(&visitor);
    };
    enrol_page(&state, &who, safe_next(query.next.as_deref()), None).await
}

/// `POST /account/second-factor`: a code from the app confirms enrolment;
/// the recovery codes are shown once. A waiting session becomes a full one.
pub async fn enrol(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    address: crate::auth::address::ClientAddress,
    PortalForm(form): PortalForm<CodeForm>,
) -> Response {
    let Some(who) = enroller(&state, visitor.clone(), &headers).await else {
        return not_an_enroller(&visitor);
    };
    let w = who.words;
    if form.csrf != who.csrf {
        return error_page(&w, who.member.as_ref(), StatusCode::FORBIDDEN, "error-csrf");
    }
    let next = safe_next(Some(&form.next));
    let codes = match second_factor::enrol(&state, who.user_id, &form.code, &address.0).await {
        Ok(codes) => codes,
        Err(SecondFactorError::Throttled) => {
            return enrol_page(&state, &who, next, Some(w.t("error-login-locked"))).await;
        }
        Err(SecondFactorError::Internal(_)) => {
            return error_page(&w, who.member.as_ref(), StatusCode::INTERNAL_SERVER_ERROR, "error-internal");
        }
        Err(_) => return enrol_page(&state, &who, next, Some(w.t("error-second-factor-wrong"))).await,
    };
    let page = EnrolPage {
        chrome: who.chrome(),
        w,
        csrf: who.csrf.clone(),
        next: next.clone(),
        enrolled: true,
        codes_left: i64::try_from(codes.len()).unwrap_or_default(),
        secret: String::new(),
        qr: String::new(),
        recovery_codes: codes,
        error: None,
    };
    let mut response = render(StatusCode::OK, &page);
    if let Some(waiting) = &who.waiting {
        // Enrolled: the waiting session becomes a full one.
        match crate::auth::session::start_stage(&state, who.user_id, Some(waiting), Stage::Full).await {
            Ok(cookie) => {
                if let Ok(value) = HeaderValue::from_str(&cookie) {
                    response.headers_mut().append(header::SET_COOKIE, value);
                }
            }
            Err(_) => return error_page(&w, None, StatusCode::INTERNAL_SERVER_ERROR, "error-internal"),
        }
    }
    response
}
