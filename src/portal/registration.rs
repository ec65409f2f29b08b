//! Seed step 1 in the portal: a developer registers itself (company, SSM
//! number, developer code, address, contact, its first user), and the retail
//! team verifies or rejects pending registrations. Both go through the API's
//! handlers; errors come back beside each field, in the reader's language.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use serde::Deserialize;

use super::pages::{Chrome, DoneQuery, PortalForm, PortalQuery, app_error_page, error_page, render};
use super::session::{Member, Visitor};
use crate::developer::DeveloperCode;
use crate::developer::service::{Decision, DeveloperError, RegistrationForm, Taken};
use crate::error::AppError;
use crate::i18n::Words;
use crate::ledger::service::Adjustment;
use crate::ledger::{Outcome, Reference, Rejection, SignedUnits, Written};
use crate::state::AppState;

/// The registration form's fields: name, input type, autocomplete.
const FIELDS: [(&str, &str, &str); 15] = [
    ("company_name", "text", "organization"),
    ("registration_no", "text", "off"),
    ("developer_code", "text", "off"),
    ("address", "text", "street-address"),
    ("postcode", "text", "postal-code"),
    ("state", "select", "address-level1"),
    ("contact_person", "text", "name"),
    ("email", "email", "email"),
    ("phone", "tel", "tel"),
    ("tin", "text", "off"),
    ("sst_registration_no", "text", "off"),
    ("user_name", "text", "name"),
    ("user_email", "email", "username"),
    ("user_password", "password", "new-password"),
    ("privacy_notice_acknowledged", "checkbox", "off"),
];

/// One field of the form as shown.
pub struct FieldView {
    name: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    label: String,
    hint: String,
    value: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/register.html")]
struct RegisterPage {
    chrome: Chrome,
    w: Words,
    fields: Vec<FieldView>,
    states: Vec<(&'static str, &'static str)>,
    /// (field id to link to, text) for the error summary.
    errors: Vec<(String, String)>,
    done: bool,
}

fn page(
    w: Words,
    values: &HashMap<String, String>,
    errors: &HashMap<String, String>,
    summary: Vec<(String, String)>,
) -> RegisterPage {
    let fields = FIELDS
        .iter()
        .map(|(name, kind, autocomplete)| FieldView {
            name,
            kind,
            autocomplete,
            label: w.t(&format!("reg-{name}")),
            hint: w.t(&format!("reg-hint-{name}")),
            value: if *kind == "password" { String::new() } else { values.get(*name).cloned().unwrap_or_default() },
            error: errors.get(*name).cloned(),
        })
        .collect();
    RegisterPage {
        chrome: Chrome { w, member: None, current: "register", flash: None },
        w,
        fields,
        states: crate::developer::domain::STATES.to_vec(),
        errors: summary,
        done: false,
    }
}

/// `GET /register`.
pub async fn register_page(visitor: Visitor) -> Response {
    render(StatusCode::OK, &page(visitor.words, &HashMap::new(), &HashMap::new(), Vec::new()))
}

/// `POST /register`: the API's registration; the company waits for verification.
pub async fn register(
    State(state): State<AppState>,
    visitor: Visitor,
    address: crate::auth::address::ClientAddress,
    PortalForm(form): PortalForm<HashMap<String, String>>,
) -> Response {
    let w = visitor.words;
    if !state.admission.admit(&address.0).await {
        return error_page(&w, None, StatusCode::TOO_MANY_REQUESTS, "error-too-many");
    }
    let values = form;
    let value = |name: &str| values.get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
    let form = RegistrationForm {
        company_name: value("company_name"),
        registration_no: value("registration_no"),
        developer_code: value("developer_code").to_uppercase(),
        address: value("address"),
        postcode: value("postcode"),
        state: value("state"),
        contact_person: value("contact_person"),
        email: value("email"),
        phone: value("phone"),
        user_name: value("user_name"),
        user_email: value("user_email"),
        user_password: values.get("user_password").cloned().unwrap_or_default(),
        user_language: Some(w.lang().to_owned()),
        privacy_notice_acknowledged: value("privacy_notice_acknowledged") == "on",
        tin: Some(value("tin")),
        sst_registration_no: Some(value("sst_registration_no")),
    };
    let mut errors = HashMap::new();
    let mut summary = Vec::new();
    let registered = match form.parse() {
        Ok(registration) => crate::developer::service::register(&state, registration, &address.0).await.map_err(Some),
        Err(wrong) => {
            for error in wrong {
                let text = w.t(&format!("reg-error-{}", error.field));
                let text = if text.starts_with('⟦') { w.t("error-invalid-field") } else { text };
                errors.insert(error.field, text);
            }
            // The summary in the order of the form.
            for (name, _, _) in FIELDS {
                if let Some(text) = errors.get(name) {
                    summary.push((format!("#{name}"), format!("{}: {text}", w.t(&format!("reg-{name}")))));
                }
            }
            Err(None)
        }
    };
    match registered {
        Ok(()) => {
            let mut done = page(w, &HashMap::new(), &HashMap::new(), Vec::new());
            done.done = true;
            return render(StatusCode::CREATED, &done);
        }
        Err(None) => {}
        Err(Some(DeveloperError::Taken(taken))) => {
            // Which field is taken; the page does not confirm whose e-mail
            // already has an account.
            let field = match taken {
                Taken::RegistrationNo => "registration_no",
                Taken::UserEmail => "user_email",
                Taken::DeveloperCode => "developer_code",
            };
            let text = w.t(&format!("reg-taken-{field}"));
            summary.push((format!("#{field}"), format!("{}: {text}", w.t(&format!("reg-{field}")))));
            errors.insert(field.to_owned(), text);
        }
        Err(Some(error)) => {
            let error = AppError::from(error);
            tracing::error!(error = %error, "registration from the portal");
            return error_page(&w, None, error.status(), "error-internal");
        }
    }
    render(StatusCode::BAD_REQUEST, &page(w, &values, &errors, summary))
}

/// A registration waiting for the retail team.
pub struct Pending {
    code: String,
    name: String,
    registration_no: String,
    contact: String,
    email: String,
    phone: String,
    registered: String,
    claims: i64,
}

#[derive(Template)]
#[template(path = "portal/developers.html")]
struct DevelopersPage {
    chrome: Chrome,
    w: Words,
    csrf: String,
    pending: Vec<Pending>,
    verified: Vec<(String, String)>,
    products: Vec<String>,
    problem: Option<String>,
}

/// `GET /developers`: registrations awaiting verification, and balance
/// adjustments (retail, admin).
pub async fn developers(
    State(state): State<AppState>,
    member: Member,
    PortalQuery(query): PortalQuery<DoneQuery>,
) -> Response {
    if !member.is_retail() {
        return error_page(&member.words, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    }
    developers_page(&state, &member, query.done.as_deref(), None, StatusCode::OK).await
}

async fn developers_page(
    state: &AppState,
    member: &Member,
    done: Option<&str>,
    problem: Option<String>,
    status: StatusCode,
) -> Response {
    let verified = crate::developer::store::verified_names(state.db.pool()).await;
    let today = crate::clock::today_local(state.clock.now()).to_string();
    let products = crate::catalogue::products(state.db.pool(), &today)
        .await
        .map(|products| products.into_iter().map(|p| p.code).collect::<Vec<_>>());
    let (verified, products) = match (verified, products) {
        (Ok(verified), Ok(products)) => (verified, products),
        (Err(error), _) | (_, Err(error)) => return app_error_page(member, &AppError::from(error)),
    };
    let pending = crate::developer::store::pending_registrations(state.db.pool()).await.map(|rows| {
        rows.into_iter()
            .map(|row| Pending {
                code: row.code,
                name: row.name,
                registration_no: row.registration_no,
                contact: row.contact_person,
                email: row.email,
                phone: row.phone,
                registered: crate::format::date_time(row.created_at_ms),
                claims: row.claims,
            })
            .collect::<Vec<_>>()
    });
    match pending {
        Ok(pending) => render(
            status,
            &DevelopersPage {
                chrome: Chrome::new(member, "developers", done),
                w: member.words,
                csrf: member.csrf.clone(),
                pending,
                verified,
                products,
                problem,
            },
        ),
        Err(error) => app_error_page(member, &AppError::from(error)),
    }
}

#[derive(Debug, Deserialize)]
pub struct AdjustmentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    developer: String,
    #[serde(default)]
    product: String,
    #[serde(default)]
    units: String,
    #[serde(default)]
    reason: String,
}

/// `POST /developers/adjustment`: adds or removes quota with a reason.
pub async fn adjust(
    State(state): State<AppState>,
    member: Member,
    PortalForm(form): PortalForm<AdjustmentForm>,
) -> Response {
    let w = member.words;
    if let Some(refused) = member.refuse_bad_csrf(&form.csrf) {
        return refused;
    }
    let units = form.units.trim().parse::<i64>().ok().and_then(|u| SignedUnits::new(u).ok());
    let reason = Reference::new(form.reason.trim());
    let (units, reason) = match (units, reason) {
        (None, _) => return adjustment_refused(&state, &member, &w.t("error-adjust-units")).await,
        (_, Err(_)) => return adjustment_refused(&state, &member, &w.t("error-reason-required")).await,
        (Some(units), Ok(reason)) => (units, reason),
    };
    let Ok(developer) = form.developer.parse::<DeveloperCode>() else {
        return error_page(&w, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    };
    let adjusted =
        crate::ledger::service::adjust(&state, &member.caller, &developer, &form.product, units, reason, None).await;
    match adjusted {
        Ok(Adjustment::Written(Written::Fresh(Outcome::Rejected(Rejection::InsufficientQuota { .. })))) => {
            developers_page(&state, &member, None, Some(w.t("error-adjust-negative")), StatusCode::CONFLICT).await
        }
        Ok(Adjustment::AwaitingSecond(_)) => Redirect::to("/requests?done=awaiting-second").into_response(),
        Ok(Adjustment::Written(_)) => Redirect::to("/developers?done=adjusted").into_response(),
        Err(error) => app_error_page(&member, &AppError::from(error)),
    }
}

async fn adjustment_refused(state: &AppState, member: &Member, problem: &str) -> Response {
    developers_page(state, member, None, Some(problem.to_owned()), StatusCode::BAD_REQUEST).await
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// `POST /developers/{code}/{verify|reject|withdraw}`.
pub async fn decide(
    State(state): State<AppState>,
    member: Member,
    Path((code, decision)): Path<(String, String)>,
    PortalForm(form): PortalForm<DecisionForm>,
) -> Response {
    let w = member.words;
    if let Some(refused) = member.refuse_bad_csrf(&form.csrf) {
        return refused;
    }
    let Ok(developer) = code.parse::<DeveloperCode>() else {
        return error_page(&w, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    };
    if decision == "withdraw" {
        let Ok(reason) = Reference::new(form.reason.trim()) else {
            return error_page(&w, Some(&member), StatusCode::BAD_REQUEST, "error-reason-required");
        };
        return match crate::developer::service::withdraw(&state, &member.caller, &developer, &reason).await {
            Ok(()) => Redirect::to("/developers?done=developer-withdraw").into_response(),
            Err(error) => app_error_page(&member, &AppError::from(error)),
        };
    }
    let choice = match decision.as_str() {
        "verify" => Decision::Verify,
        "reject" => match Reference::new(form.reason.trim()) {
            Ok(reason) => Decision::Reject(reason),
            Err(_) => return error_page(&w, Some(&member), StatusCode::BAD_REQUEST, "error-reason-required"),
        },
        _ => return error_page(&w, Some(&member), StatusCode::NOT_FOUND, "error-not-found"),
    };
    match crate::developer::service::decide(&state, &member.caller, &developer, &choice).await {
        Ok(()) => Redirect::to(&format!("/developers?done=developer-{decision}")).into_response(),
        Err(error) => app_error_page(&member, &AppError::from(error)),
    }
}
