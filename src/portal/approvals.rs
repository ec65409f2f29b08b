//! What waits for a second person, in the retail queue: confirm (not the
//! one who asked) or cancel with a reason. `approval::service` decides.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use serde::Deserialize;

use super::pages::{PortalForm, app_error_page, error_page};
use super::session::Member;
use crate::approval::Kind;
use crate::approval::service::{self, ApprovalError};
use crate::error::AppError;
use crate::request::domain::Message;
use crate::state::AppState;

/// An approval as the queue lists it.
pub struct ApprovalItem {
    pub(super) id: i64,
    pub(super) kind: String,
    pub(super) developer: String,
    pub(super) request: Option<(i64, String)>,
    pub(super) product: String,
    pub(super) units: i64,
    pub(super) reason: String,
    pub(super) requested_by: String,
    /// Asked by the reader: they may cancel but not confirm.
    pub(super) mine: bool,
}

/// The approvals waiting, for retail and administrators (none for others).
///
/// # Errors
/// A fault.
pub async fn items(state: &AppState, member: &Member) -> Result<Vec<ApprovalItem>, AppError> {
    if !member.is_retail() {
        return Ok(Vec::new());
    }
    let w = member.words;
    let actor = member.caller.actor();
    let rows = service::pending(state, &member.caller).await?;
    Ok(rows
        .into_iter()
        .map(|row| ApprovalItem {
            id: row.id,
            kind: w.t(match row.kind {
                Kind::Payment => "approvals-payment",
                Kind::Adjustment => "approvals-adjustment",
            }),
            developer: row.developer_code,
            request: row.request,
            product: row.product.unwrap_or_default(),
            units: row.units,
            reason: row.reason.unwrap_or_default(),
            mine: row.requested_by == actor,
            requested_by: row.requested_by_name,
        })
        .collect())
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

fn refused(member: &Member, error: ApprovalError) -> Response {
    let key = match &error {
        ApprovalError::SamePerson => "error-second-person",
        ApprovalError::InsufficientQuota { .. } => "error-adjust-negative",
        ApprovalError::NotFound(_) => "error-approval-gone",
        _ => return app_error_page(member, &AppError::from(error)),
    };
    error_page(&member.words, Some(member), StatusCode::CONFLICT, key)
}

fn approval_id(text: &str) -> Option<i64> {
    crate::api::whole_number(text).filter(|id| *id > 0)
}

/// `POST /approvals/{id}/confirm`: the second person confirms.
pub async fn confirm(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    PortalForm(form): PortalForm<DecisionForm>,
) -> Response {
    if let Some(refused) = member.refuse_bad_csrf(&form.csrf) {
        return refused;
    }
    let Some(id) = approval_id(&id) else {
        return error_page(&member.words, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    };
    match service::confirm(&state, &member.caller, id).await {
        Ok(_) => Redirect::to("/requests?done=approval-confirmed").into_response(),
        Err(error) => refused(&member, error),
    }
}

/// `POST /approvals/{id}/cancel`: either person cancels, with a reason.
pub async fn cancel(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    PortalForm(form): PortalForm<DecisionForm>,
) -> Response {
    if let Some(refused) = member.refuse_bad_csrf(&form.csrf) {
        return refused;
    }
    let Some(id) = approval_id(&id) else {
        return error_page(&member.words, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    };
    let Ok(reason) = form.reason.parse::<Message>() else {
        return error_page(&member.words, Some(&member), StatusCode::BAD_REQUEST, "error-change-reason-required");
    };
    match service::cancel(&state, &member.caller, id, &reason).await {
        Ok(()) => Redirect::to("/requests?done=approval-cancelled").into_response(),
        Err(error) => refused(&member, error),
    }
}
