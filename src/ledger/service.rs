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
            AdjustError::Forbidden => Self::Forbidden(detail),
            AdjustError::DeveloperNotFound(_) => Self::NotFound(detail),
            AdjustError::UnknownProduct(_) => Self::Unprocessable { slug: "unknown-product", detail },
            AdjustError::Ledger(error) => error.into(),
        }
    }
}

/// Adds or removes units of one product for a developer, with a reason
/// (retail, admin). Audited by the writer in the entry's transaction.
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
) -> Result<Written, AdjustError> {
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
    let operation = Operation::Adjust { developer_id, product: product.to_owned(), units, reason };
    Ok(state.ledger.write(Command { operation, actor: caller.actor(), idempotency }).await?)
}
