//! Online payment in the portal: the payer coming back from Billplz (the
//! signed redirect, settled like a callback), and retail's decisions on
//! paid bills that wait for one, listed in the retail queue.
//! `billplz::service` decides.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use serde::Deserialize;

use super::pages::{PortalForm, app_error_page, error_page};
use super::session::{Member, Visitor};
use crate::billplz::service::{self, Decision, OnlinePaymentError, Settled, Source};
use crate::error::AppError;
use crate::request::domain::Message;
use crate::state::AppState;

/// `GET /payments/billplz/return?billplz[id]=…&billplz[x_signature]=…`:
/// checks Billplz's signature, settles the bill if the callback has not
/// (the same single credit), and shows the request. A forged or tampered
/// return changes nothing and says so.
pub async fn billplz_return(State(state): State<AppState>, visitor: Visitor, RawQuery(query): RawQuery) -> Response {
    let w = visitor.words;
    let member = visitor.member.as_ref();
    let fields = query.as_deref().and_then(crate::billplz::signature::form_fields).unwrap_or_default();
    match service::receive(&state, Source::Redirect, &fields).await {
        Ok(settled) => {
            let done = match settled {
                Settled::Credited(_) | Settled::Already(_, crate::billplz::store::BillStatus::Credited) => {
                    "pay-online-returned"
                }
                Settled::NeedsDecision(_) | Settled::Already(..) => "pay-online-waiting",
                Settled::NotPaid(_) => "pay-online-pending",
            };
            Redirect::to(&format!("/requests/{}?done={done}", settled.request_id())).into_response()
        }
        Err(OnlinePaymentError::BadSignature | OnlinePaymentError::UnknownBill(_)) => {
            error_page(&w, member, StatusCode::BAD_REQUEST, "error-payment-return-forged")
        }
        Err(OnlinePaymentError::NotOffered) => error_page(&w, member, StatusCode::CONFLICT, "error-online-unavailable"),
        Err(OnlinePaymentError::Gateway(_)) => {
            error_page(&w, member, StatusCode::SERVICE_UNAVAILABLE, "error-gateway-down")
        }
        Err(error) => {
            let error = AppError::from(error);
            match member {
                Some(member) => app_error_page(member, &error),
                None => error_page(&w, None, error.status(), "error-internal"),
            }
        }
    }
}

/// A paid bill waiting for retail's decision, as the queue lists it.
pub struct WaitingItem {
    pub(super) id: i64,
    pub(super) bill_id: String,
    pub(super) request: (i64, String),
    pub(super) quotation: String,
    pub(super) developer: String,
    pub(super) paid: String,
    pub(super) problem: String,
}

/// The paid bills waiting for a decision, for retail and administrators.
///
/// # Errors
/// A fault.
pub async fn waiting(state: &AppState, member: &Member) -> Result<Vec<WaitingItem>, AppError> {
    if !member.is_retail() {
        return Ok(Vec::new());
    }
    let w = member.words;
    let mut connection = state.db.pool().acquire().await?;
    let rows =
        crate::billplz::store::with_status(&mut connection, crate::billplz::store::BillStatus::NeedsDecision).await?;
    Ok(rows
        .into_iter()
        .map(|row| WaitingItem {
            id: row.id,
            bill_id: row.bill_id,
            request: (row.request_id, row.request_number),
            quotation: row.quotation_number,
            developer: row.developer_code,
            paid: crate::format::rm(row.paid_amount.unwrap_or(row.amount)),
            problem: w.t(&format!("online-problem-{}", row.problem.unwrap_or_default())),
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

/// `POST /online-payments/{id}/credit` or `/refund` (with a reason).
pub async fn decide(
    State(state): State<AppState>,
    member: Member,
    Path((id, decision)): Path<(String, String)>,
    PortalForm(form): PortalForm<DecisionForm>,
) -> Response {
    if let Some(refused) = member.refuse_bad_csrf(&form.csrf) {
        return refused;
    }
    let w = member.words;
    let Some(id) = crate::api::whole_number(&id).filter(|id| *id > 0) else {
        return error_page(&w, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    };
    let decision = match decision.as_str() {
        "credit" => Decision::Credit,
        "refund" => match form.reason.parse::<Message>() {
            Ok(reason) => Decision::Refund(reason),
            Err(_) => return error_page(&w, Some(&member), StatusCode::BAD_REQUEST, "error-change-reason-required"),
        },
        _ => return error_page(&w, Some(&member), StatusCode::NOT_FOUND, "error-not-found"),
    };
    let done = if matches!(decision, Decision::Credit) { "online-credit" } else { "online-refund" };
    match service::decide(&state, &member.caller, id, &decision).await {
        Ok(_) => Redirect::to(&format!("/requests?done={done}")).into_response(),
        Err(error) => app_error_page(&member, &AppError::from(error)),
    }
}
