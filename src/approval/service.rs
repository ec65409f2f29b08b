//! Confirming and cancelling what waits for a second person. Who may:
//! retail officers and administrators, never the one who asked (a developer
//! never can). Each decision is audited in its transaction.

use super::Kind;
use super::store::{self, PendingApproval};
use crate::auth::{ApiCaller, Role};
use crate::ledger::{Outcome, Reference, SignedUnits};
use crate::request::RequestError;
use crate::request::domain::Message;
use crate::state::AppState;

/// What the approval services refuse, and their faults.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// Only retail officers and administrators decide approvals, and only
    /// people: an API client cannot be anyone's second person (403).
    #[error("only a retail officer or an administrator, signed in as a person, may do this")]
    Forbidden,
    /// No such approval waiting (404).
    #[error("no approval {0} is waiting for a second person")]
    NotFound(i64),
    /// The person who asked cannot be the second (409).
    #[error("the person who asked for this cannot confirm it; a second retail officer or administrator must")]
    SamePerson,
    /// The confirmed adjustment would take the balance below zero (409); it
    /// stays pending.
    #[error("{product} has {available} units available, fewer than the {requested} this adjustment removes")]
    InsufficientQuota {
        /// The product.
        product: String,
        /// Units the adjustment removes.
        requested: i64,
        /// Units available now.
        available: i64,
    },
    /// The payment's own refusal, when confirming a payment approval.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// A fault.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ApprovalError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<ApprovalError> for crate::error::AppError {
    fn from(error: ApprovalError) -> Self {
        let detail = error.to_string();
        match error {
            ApprovalError::Forbidden => Self::Forbidden(detail),
            ApprovalError::NotFound(_) => Self::NotFound(detail),
            ApprovalError::SamePerson => Self::conflict("second-person-required", detail),
            ApprovalError::InsufficientQuota { .. } => Self::conflict("insufficient-quota", detail),
            ApprovalError::Request(error) => error.into(),
            ApprovalError::Internal(cause) => Self::Internal(cause),
        }
    }
}

/// What a confirmation did.
#[derive(Debug)]
pub enum Confirmed {
    /// The payment was approved and its request credited.
    Payment {
        /// The request.
        request_id: i64,
    },
    /// The adjustment was booked.
    Adjustment(Outcome),
}

/// Retail or an administrator, and a person: two API clients (or a person
/// and a client they made) must not make two people out of one.
fn require_staff(caller: &ApiCaller) -> Result<(), ApprovalError> {
    if matches!(caller.role, Role::Retail | Role::Admin) && caller.user_id.is_some() {
        Ok(())
    } else {
        Err(ApprovalError::Forbidden)
    }
}

/// Every approval waiting for a second person, oldest first.
///
/// # Errors
/// Not retail or an administrator, or a fault.
pub async fn pending(state: &AppState, caller: &ApiCaller) -> Result<Vec<PendingApproval>, ApprovalError> {
    require_staff(caller)?;
    Ok(store::pending(state.db.pool()).await?)
}

/// A second person confirms: a payment is approved and credited, an
/// adjustment booked, in one transaction with the confirmation.
///
/// # Errors
/// Not retail or an administrator, not waiting, the same person, the
/// payment's or ledger's refusal, or a fault.
pub async fn confirm(state: &AppState, caller: &ApiCaller, id: i64) -> Result<Confirmed, ApprovalError> {
    require_staff(caller)?;
    let mut connection = state.db.pool().acquire().await?;
    let approval = store::find_pending(&mut connection, id, "").await?.ok_or(ApprovalError::NotFound(id))?;
    drop(connection);
    if approval.requested_by == caller.actor() {
        return Err(ApprovalError::SamePerson);
    }
    match (approval.kind, approval.payment_id) {
        (Kind::Payment, Some(payment_id)) => {
            match crate::request::service::approve_payment(state, caller, payment_id, Some(id)).await? {
                crate::request::service::Approval::Credited(request_id) => Ok(Confirmed::Payment { request_id }),
                // Decided meanwhile (cancelled, then asked again by this caller).
                crate::request::service::Approval::AwaitingSecond { .. } => Err(ApprovalError::NotFound(id)),
            }
        }
        _ => confirm_adjustment(state, caller, id).await,
    }
}

/// Books a pending adjustment with its confirmation, or leaves it pending
/// when the balance no longer allows it.
async fn confirm_adjustment(state: &AppState, caller: &ApiCaller, id: i64) -> Result<Confirmed, ApprovalError> {
    let now_ms = state.clock.now_ms();
    let actor = caller.actor();
    let mut transaction = state.db.begin_write().await?;
    let approval = store::find_pending(&mut transaction, id, state.db.row_lock_clause())
        .await?
        .ok_or(ApprovalError::NotFound(id))?;
    if approval.requested_by == actor {
        return Err(ApprovalError::SamePerson);
    }
    let (Some(product), Some(reason)) = (approval.product.as_deref(), approval.reason.as_deref()) else {
        return Err(anyhow::anyhow!("adjustment approval {id} has no product or reason").into());
    };
    let units = SignedUnits::new(approval.units).map_err(|error| anyhow::anyhow!("approval {id}: {error}"))?;
    let reason = Reference::new(reason).map_err(|error| anyhow::anyhow!("approval {id}: {error}"))?;
    store::decide(&mut transaction, id, true, &actor, None, now_ms).await?;
    record(&mut transaction, state, &approval, &actor, "approval.confirm", None, now_ms).await?;
    let booked = (approval.developer_id, product);
    let outcome =
        crate::ledger::adjust_within(&mut transaction, &state.audit_key, booked, units, &reason, &actor, now_ms)
            .await
            .map_err(|error| anyhow::anyhow!("booking approval {id}: {error}"))?;
    if let Outcome::Rejected(crate::ledger::Rejection::InsufficientQuota { product, requested, available }) = outcome {
        // Dropping the transaction leaves the approval pending.
        return Err(ApprovalError::InsufficientQuota { product, requested, available });
    }
    transaction.commit().await?;
    Ok(Confirmed::Adjustment(outcome))
}

/// Either person cancels what waits, with a reason; nothing is credited.
///
/// # Errors
/// Not retail or an administrator, not waiting, or a fault.
pub async fn cancel(state: &AppState, caller: &ApiCaller, id: i64, reason: &Message) -> Result<(), ApprovalError> {
    require_staff(caller)?;
    let now_ms = state.clock.now_ms();
    let actor = caller.actor();
    let mut transaction = state.db.begin_write().await?;
    let approval = store::find_pending(&mut transaction, id, state.db.row_lock_clause())
        .await?
        .ok_or(ApprovalError::NotFound(id))?;
    store::decide(&mut transaction, id, false, &actor, Some(reason.as_str()), now_ms).await?;
    record(&mut transaction, state, &approval, &actor, "approval.cancel", Some(reason.as_str()), now_ms).await?;
    transaction.commit().await?;
    Ok(())
}

/// The audit record of a decision on an approval.
async fn record(
    connection: &mut sqlx::AnyConnection,
    state: &AppState,
    approval: &PendingApproval,
    actor: &str,
    action: &str,
    reason: Option<&str>,
    now_ms: i64,
) -> Result<(), ApprovalError> {
    let before = serde_json::json!({"kind": approval.kind.as_str(), "units": approval.units, "requested_by": approval.requested_by, "payment": approval.payment_id, "product": approval.product});
    let audit = crate::audit::Record {
        actor,
        action,
        subject: &format!("second_approval:{}", approval.id),
        before: Some(before),
        after: Some(serde_json::json!({"decided_by": actor, "reason": reason})),
        at_ms: now_ms,
    };
    crate::audit::record(connection, &state.audit_key, &audit).await?;
    Ok(())
}
