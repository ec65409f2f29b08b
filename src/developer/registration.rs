//! Seed step 1: a developer registers its company, developer code and first
//! user; retail verifies or rejects it. Only verified developers request quota.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use super::domain::{Phone, Postcode, StateCode};
use super::{DeveloperCode, DisplayName, EmailAddress, NewDeveloper, RegistrationNo};
use crate::api::{ApiJson, Validator, checked};
use crate::auth::users::{Language, NewUser};
use crate::auth::{ApiCaller, Role, password};
use crate::db::is_unique_violation;
use crate::error::{AppError, AppResult};
use crate::ledger::Reference;
use crate::startup::AppState;

/// The registration routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/registrations", post(register))
        .route("/api/v1/developers/{code}/verification", post(verify))
        .route("/api/v1/developers/{code}/rejection", post(reject))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegistrationBody {
    pub(crate) company_name: String,
    pub(crate) registration_no: String,
    pub(crate) developer_code: String,
    pub(crate) address: String,
    pub(crate) postcode: String,
    pub(crate) state: String,
    pub(crate) contact_person: String,
    pub(crate) email: String,
    pub(crate) phone: String,
    pub(crate) user_name: String,
    pub(crate) user_email: String,
    pub(crate) user_password: String,
    #[serde(default)]
    pub(crate) user_language: Option<String>,
}

pub(crate) async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegistrationBody>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let mut validator = Validator::default();
    let code = validator.check("developer_code", body.developer_code.parse::<DeveloperCode>());
    let name = validator.check("company_name", body.company_name.parse::<DisplayName>());
    let registration_no = validator.check("registration_no", body.registration_no.parse::<RegistrationNo>());
    let email = validator.check("email", body.email.parse::<EmailAddress>());
    let address = validator.check("address", body.address.parse::<DisplayName>());
    let postcode = validator.check("postcode", body.postcode.parse::<Postcode>());
    let state_code = validator.check("state", body.state.parse::<StateCode>());
    let contact = validator.check("contact_person", body.contact_person.parse::<DisplayName>());
    let phone = validator.check("phone", body.phone.parse::<Phone>());
    let user_name = validator.check("user_name", body.user_name.parse::<DisplayName>());
    let user_email = validator.check("user_email", body.user_email.parse::<EmailAddress>());
    let language = validator.check("user_language", body.user_language.as_deref().unwrap_or("ms").parse::<Language>());
    validator.check("user_password", password::check(&body.user_password));
    validator.finish()?;
    let developer = NewDeveloper {
        code: checked(code)?,
        name: checked(name)?,
        registration_no: checked(registration_no)?,
        email: checked(email)?,
    };
    let password_hash = password::hash(&body.user_password)?;
    let now_ms = state.clock.now_ms();
    let mut transaction = state.db.begin_write().await?;
    let inserted = sqlx::query(
        "INSERT INTO developers (code, name, registration_no, email, status, created_at, address, state_code, postcode, contact_person, phone)
         VALUES ($1, $2, $3, $4, 'pending_verification', $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(developer.code.as_str())
    .bind(developer.name.as_str())
    .bind(developer.registration_no.as_str())
    .bind(developer.email.as_str())
    .bind(now_ms)
    .bind(checked(address)?.as_str())
    .bind(checked(state_code)?.code())
    .bind(checked(postcode)?.as_str())
    .bind(checked(contact)?.as_str())
    .bind(checked(phone)?.as_str())
    .fetch_one(&mut *transaction)
    .await;
    let developer_id: i64 = match inserted {
        Ok(row) => row.try_get(0)?,
        Err(error) if is_unique_violation(&error) => {
            drop(transaction);
            return Err(super::store::duplicate_conflict(state.db.pool(), &developer).await);
        }
        Err(error) => return Err(error.into()),
    };
    let user = NewUser {
        email: checked(user_email)?,
        name: checked(user_name)?,
        language: checked(language)?,
        role: Role::DeveloperAdmin,
        developer_id: Some(developer_id),
    };
    crate::auth::users::insert(&mut transaction, &user, &password_hash, now_ms).await?;
    let subject = format!("developer:{}", developer.code);
    let after = json!({"code": developer.code.as_str(), "registration_no": developer.registration_no.as_str(), "status": "pending_verification"});
    let audit = crate::audit::Record {
        actor: "registration",
        action: "developer.register",
        subject: &subject,
        before: None,
        after: Some(after),
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, &audit).await?;
    let retail = crate::notify::recipients::team(&mut transaction, crate::notify::recipients::Team::Retail).await?;
    let facts = crate::notify::Facts {
        developer: format!("{} ({})", developer.code, developer.name.as_str()),
        ..Default::default()
    };
    let kind = crate::notify::MessageKind::RegistrationReceived;
    crate::notify::enqueue(
        &mut transaction,
        &crate::notify::Outgoing::new(kind, &facts, None, &state.public_url),
        &retail,
        now_ms,
    )
    .await?;
    transaction.commit().await?;
    Ok((StatusCode::CREATED, Json(json!({"developer": developer.code.as_str(), "status": "pending_verification"}))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReasonBody {
    pub(crate) reason: String,
}

async fn decide(
    state: &AppState,
    caller: &ApiCaller,
    code: &str,
    to: &str,
    reason: Option<&str>,
) -> AppResult<Json<Value>> {
    caller.require(&[Role::Retail], "the retail team")?;
    let code: DeveloperCode =
        code.parse().map_err(|_| AppError::NotFound(format!("developer {code} does not exist")))?;
    let now_ms = state.clock.now_ms();
    let mut transaction = state.db.begin_write().await?;
    let updated = sqlx::query(
        "UPDATE developers SET status = $1, decided_at = $2, decision_reason = $3 WHERE code = $4 AND status = 'pending_verification' RETURNING id",
    )
    .bind(to)
    .bind(now_ms)
    .bind(reason)
    .bind(code.as_str())
    .fetch_optional(&mut *transaction)
    .await?;
    if let Some(row) = updated {
        let developer_id: i64 = row.try_get(0)?;
        let (actor, subject) = (caller.actor(), format!("developer:{code}"));
        let verified = to == "verified";
        let audit = crate::audit::Record {
            actor: &actor,
            action: if verified { "developer.verify" } else { "developer.reject" },
            subject: &subject,
            before: Some(json!({"status": "pending_verification"})),
            after: Some(json!({"status": to, "reason": reason})),
            at_ms: now_ms,
        };
        crate::audit::record(&mut transaction, &audit).await?;
        let recipients = crate::notify::recipients::developer(&mut transaction, developer_id).await?;
        let facts = crate::notify::Facts {
            developer: code.to_string(),
            detail: reason.map(str::to_owned),
            ..Default::default()
        };
        let kind = if verified {
            crate::notify::MessageKind::RegistrationVerified
        } else {
            crate::notify::MessageKind::RegistrationRejected
        };
        crate::notify::enqueue(
            &mut transaction,
            &crate::notify::Outgoing::new(kind, &facts, None, &state.public_url),
            &recipients,
            now_ms,
        )
        .await?;
        transaction.commit().await?;
        return Ok(Json(json!({"developer": code.as_str(), "status": to})));
    }
    drop(transaction);
    let developer = super::store::require_by_code(state.db.pool(), &code).await?;
    Err(AppError::conflict("developer-not-pending", format!("developer {code} is already {}", developer.status)))
}

pub(crate) async fn verify(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(code): Path<String>,
) -> AppResult<Json<Value>> {
    decide(&state, &caller, &code, "verified", None).await
}

pub(crate) async fn reject(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> AppResult<Json<Value>> {
    let reason = Reference::new(&body.reason).map_err(|e| AppError::invalid_field("reason", e.to_string()))?;
    decide(&state, &caller, &code, "rejected", Some(reason.as_str())).await
}
