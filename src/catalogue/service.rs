//! Prices added by administrators: a price is never changed, a new one is
//! added with the date it takes effect.

use jiff::civil::Date;

use crate::auth::{ApiCaller, Role};
use crate::db::is_unique_violation;
use crate::error::AppError;
use crate::money::Sen;
use crate::state::AppState;

/// What adding a price refuses, and its faults.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    /// Only administrators set prices (403).
    #[error("only an administrator may do this")]
    Forbidden,
    /// No such product (404).
    #[error("product {0} does not exist")]
    ProductNotFound(String),
    /// The product has a price from that date already (409).
    #[error("{product} already has a price effective from {from}")]
    Exists {
        /// The product.
        product: String,
        /// The date.
        from: Date,
    },
    /// A fault.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for PriceError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<PriceError> for AppError {
    fn from(error: PriceError) -> Self {
        let detail = error.to_string();
        match error {
            PriceError::Forbidden => Self::Forbidden(detail),
            PriceError::ProductNotFound(_) => Self::NotFound(detail),
            PriceError::Exists { .. } => Self::conflict("price-exists", detail),
            PriceError::Internal(cause) => Self::Internal(cause),
        }
    }
}

/// Adds a price for a product from a date on.
///
/// # Errors
/// Not an administrator, an unknown product, a price from that date already, or a fault.
pub async fn add_price(
    state: &AppState,
    caller: &ApiCaller,
    product: &str,
    unit_price: Sen,
    from: Date,
) -> Result<(), PriceError> {
    if caller.role != Role::Admin {
        return Err(PriceError::Forbidden);
    }
    let mut transaction = state.db.begin_write().await?;
    if !crate::catalogue::is_product(&mut *transaction, product).await? {
        return Err(PriceError::ProductNotFound(product.to_owned()));
    }
    let now_ms = state.clock.now_ms();
    match super::insert_price(&mut transaction, product, unit_price, from, now_ms).await {
        Ok(()) => {}
        Err(error) if is_unique_violation(&error) => {
            return Err(PriceError::Exists { product: product.to_owned(), from });
        }
        Err(error) => return Err(error.into()),
    }
    let after = serde_json::json!({"product": product, "unit_price": unit_price, "effective_from": from.to_string()});
    let (actor, subject) = (caller.actor(), format!("product:{product}"));
    let audit = crate::audit::Record {
        actor: &actor,
        action: "price.add",
        subject: &subject,
        before: None,
        after: Some(after),
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, &state.audit_key, &audit).await?;
    transaction.commit().await?;
    Ok(())
}
