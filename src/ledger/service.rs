//! The one way a balance is corrected by a person: an adjustment with a
//! reason, from the API or the portal (HIMS's consumptions and holds go
//! straight to the writer from `http`, on the hot path).

use super::{Command, Idempotency, Operation, Reference, SignedUnits, Written, store};
use crate::auth::{ApiCaller, Role};
use crate::developer::DeveloperCode;
use crate::state::AppState;

/// What an adjustment refuses, besides the ledger's own refusals (which come
/// back as a [`Written`] outcome, e.g. insufficient quota).
#[derive(Debug, thiserror::Error)]
pub enum AdjustError {
    /// Only retail and administrators adjust balances (403).
    #[error("only the retail team or an administrator may do this")]
    Forbidden,
    /// Above the second-person threshold only a person may ask (403).
    #[error("an adjustment above the second-person threshold must be asked for by a person, not an API client")]
    PersonRequired,
    /// No such developer (404).
    #[error("developer {0} does not exist")]
    DeveloperNotFound(String),
    /// The product is not on sale (422).
    #[error("product {0} is not in the active catalogue")]
    UnknownProduct(String),
    /// The ledger could not write (idempotency, a fault).
    #[error(transparent)]
    Ledger(#[from] super::LedgerError),
}

impl From<AdjustError> for crate::error::AppError {
    fn from(error: AdjustError) -> Self {
        let detail = error.to_string();
        match error {
            AdjustError::Forbidden | AdjustError::PersonRequired => Self::Forbidden(detail),
            AdjustError::DeveloperNotFound(_) => Self::NotFound(detail),
            AdjustError::UnknownProduct(_) => Self::Unprocessable { slug: "unknown-product", detail },
            AdjustError::Ledger(error) => error.into(),
        }
    }
}

/// What an adjustment did.
#[derive(Debug)]
pub enum Adjustment {
    /// Booked (or refused by the ledger, e.g. insufficient quota).
    Written(Written),
    /// More units than the setting `adjustment_second_person_above_units`:
    /// nothing is booked until a second person confirms this approval.
    AwaitingSecond(i64),
}

/// Adds or removes units of one product for a developer, with a reason
/// (retail, admin). Audited by the writer in the entry's transaction. An
/// adjustment above the second-person threshold (either sign) waits for a
/// second retail officer or administrator instead; asking again for the same
/// adjustment gives the same approval.
///
/// # Errors
/// Not retail or admin, an unknown developer or product, or the ledger's fault.
pub async fn adjust(
    state: &AppState,
    caller: &ApiCaller,
    developer: &DeveloperCode,
    product: &str,
    units: SignedUnits,
    reason: Reference,
    idempotency: Option<Idempotency>,
) -> Result<Adjustment, AdjustError> {
    if !matches!(caller.role, Role::Retail | Role::Admin) {
        return Err(AdjustError::Forbidden);
    }
    let owner = store::developer_and_product(state.db.pool(), developer.as_str(), product)
        .await
        .map_err(super::LedgerError::from)?;
    let developer_id = match owner {
        None => return Err(AdjustError::DeveloperNotFound(developer.to_string())),
        Some((_, false)) => return Err(AdjustError::UnknownProduct(product.to_owned())),
        Some((developer_id, true)) => developer_id,
    };
    let threshold = crate::settings::load(state.db.pool())
        .await
        .map_err(super::LedgerError::from)?
        .adjustment_second_person_above_units;
    if units.get().abs() > threshold {
        if caller.user_id.is_none() {
            return Err(AdjustError::PersonRequired);
        }
        let actor = caller.actor();
        let asked = crate::approval::store::NewAdjustment {
            developer_id,
            product,
            units: units.get(),
            reason: reason.as_str(),
            requested_by: &actor,
        };
        let id = ask_second_person(state, &asked).await.map_err(super::LedgerError::from)?;
        return Ok(Adjustment::AwaitingSecond(id));
    }
    let operation = Operation::Adjust { developer_id, product: product.to_owned(), units, reason };
    Ok(Adjustment::Written(state.ledger.write(Command { operation, actor: caller.actor(), idempotency }).await?))
}

/// Records that an adjustment waits for a second person (once, however often
/// the same person asks for the same one), with its audit record.
async fn ask_second_person(state: &AppState, asked: &crate::approval::store::NewAdjustment<'_>) -> sqlx::Result<i64> {
    let now_ms = state.clock.now_ms();
    let mut transaction = state.db.begin_write().await?;
    if let Some(id) = crate::approval::store::find_same_adjustment(&mut transaction, asked).await? {
        return Ok(id);
    }
    let id = crate::approval::store::insert_adjustment(&mut transaction, asked, now_ms).await?;
    let audit = crate::audit::Record {
        actor: asked.requested_by,
        action: "approval.request",
        subject: &format!("second_approval:{id}"),
        before: None,
        after: Some(
            serde_json::json!({"kind": "adjustment", "developer": asked.developer_id, "product": asked.product, "units": asked.units, "reason": asked.reason}),
        ),
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, &state.audit_key, &audit).await?;
    transaction.commit().await?;
    Ok(id)
}
