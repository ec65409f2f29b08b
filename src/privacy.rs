//! Personal data (PDPA 2010): the notice (the `/privacy` page, in Malay and
//! English, acknowledged at self-registration and on accepting an
//! invitation), the retention of departed users' personal data (replaced by
//! a pseudonym after the setting `personal_data_retention_months`, by a
//! sweep on every node), and a company's export of the personal data kept
//! about it, for its administrator.
//!
//! The ledger, documents and audit records name people as `user:ID`, so they
//! keep their integrity and, once a user is anonymised, point at the
//! pseudonym. (Audit records written before keep the e-mail they recorded;
//! rewriting them would break the keyed chain.)

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::auth::{ApiCaller, Role};
use crate::developer::DeveloperCode;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// About a month, for the retention setting.
const MONTH_MS: i64 = 30 * 24 * 3_600_000;

/// The personal-data routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/developers/{code}/personal-data", get(export))
}

/// Replaces the personal data of users deactivated longer than the
/// retention setting by a pseudonym, each with its audit record; returns how
/// many. Safe on several nodes at once (each user once).
///
/// # Errors
/// A fault.
pub async fn anonymise_departed(state: &AppState) -> anyhow::Result<usize> {
    let now_ms = state.clock.now_ms();
    let mut transaction = state.db.begin_write().await?;
    let months = crate::settings::load_in(&mut transaction).await?.personal_data_retention_months;
    let cutoff_ms = now_ms - months * MONTH_MS;
    let departed = crate::auth::store::departed_users(&mut transaction, cutoff_ms).await?;
    let mut anonymised = 0;
    for (user_id, email) in &departed {
        if !crate::auth::store::anonymise_user(&mut transaction, (*user_id, email), cutoff_ms, now_ms).await? {
            continue;
        }
        anonymised += 1;
        let subject = format!("user:{user_id}");
        let record = crate::audit::Record {
            actor: "system:personal-data-retention",
            action: "user.anonymise",
            subject: &subject,
            before: None,
            after: Some(json!({"retention_months": months})),
            at_ms: now_ms,
        };
        crate::audit::record(&mut transaction, &state.audit_key, &record).await?;
    }
    transaction.commit().await?;
    Ok(anonymised)
}

/// `GET /api/v1/developers/{code}/personal-data`: everything personal kept
/// about a company and its users (its administrator, or an administrator).
async fn export(State(state): State<AppState>, caller: ApiCaller, Path(code): Path<String>) -> AppResult<Json<Value>> {
    caller.require(&[Role::DeveloperAdmin], "the company's administrator")?;
    let not_found = || AppError::NotFound(format!("developer {code} does not exist"));
    let parsed: DeveloperCode = code.parse().map_err(|_| not_found())?;
    let developer = crate::developer::store::find_by_code(state.db.pool(), &parsed)
        .await?
        .filter(|developer| caller.may_see_developer(developer.id))
        .ok_or_else(not_found)?;
    let company = crate::developer::store::contact_particulars(state.db.pool(), developer.id).await?;
    let users = crate::auth::store::company_personal_data(state.db.pool(), developer.id).await?;
    let now_ms = state.clock.now_ms();
    let actor = caller.actor();
    let record = crate::audit::Record {
        actor: &actor,
        action: "developer.personal_data_export",
        subject: &format!("developer:{}", developer.code),
        before: None,
        after: Some(json!({"users": users.len()})),
        at_ms: now_ms,
    };
    crate::audit::record_alone(state.db.pool(), &state.audit_key, &record).await?;
    Ok(Json(json!({
        "exported_at": crate::clock::format_rfc3339_local(now_ms),
        "notice": "/privacy",
        "company": company,
        "users": users,
    })))
}
