//! What a ledger write produced, and the one HTTP answer each outcome has.
//! The answer is rendered here, inside the writer's transaction, so that the
//! idempotency record stores exactly what the first caller received.

use serde_json::{Map, json};

use super::domain::HoldStatus;
use super::store::StoredResponse;
use crate::clock::format_rfc3339_local;
use crate::error::AppError;

/// A hold as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldView {
    /// Hold id.
    pub id: i64,
    /// Developer code.
    pub developer: String,
    /// Product code.
    pub product: String,
    /// Units held.
    pub units: i64,
    /// Caller's reference.
    pub reference: String,
    /// Where it stands.
    pub status: HoldStatus,
    /// When it expires (or expired), Unix ms.
    pub expires_at_ms: i64,
}

impl HoldView {
    /// The JSON body of a hold.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "id": self.id,
            "developer": self.developer,
            "product": self.product,
            "units": self.units,
            "reference": self.reference,
            "status": self.status.as_str(),
            "expires_at": format_rfc3339_local(self.expires_at_ms),
        })
    }
}

/// A write the ledger refused for a business reason. Refusals of idempotent
/// requests are stored and replayed like successes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not enough available units.
    InsufficientQuota {
        /// Product asked for.
        product: String,
        /// Units asked for.
        requested: i64,
        /// Units available at the time.
        available: i64,
    },
    /// The hold is already committed, released or expired.
    HoldNotPending(HoldView),
    /// No hold with that id.
    HoldNotFound(i64),
}

/// The result of one ledger write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Units consumed directly.
    Consumed {
        /// Entry id.
        entry_id: i64,
        /// Product.
        product: String,
        /// Units.
        units: i64,
        /// Caller's reference.
        reference: String,
        /// Available after.
        available: i64,
    },
    /// A hold was placed.
    HoldPlaced(HoldView),
    /// A hold was committed, released or expired.
    HoldSettled(HoldView),
    /// An adjustment was booked.
    Adjusted {
        /// Entry id.
        entry_id: i64,
        /// Product.
        product: String,
        /// Signed units.
        units: i64,
        /// Reason given.
        reason: String,
        /// Available after.
        available: i64,
    },
    /// Due holds were expired by the sweeper.
    HoldsExpired(usize),
    /// Refused, nothing moved.
    Rejected(Rejection),
}

impl Rejection {
    /// The error this refusal is answered with.
    #[must_use]
    pub fn to_error(&self) -> AppError {
        match self {
            Self::InsufficientQuota { product, requested, available } => {
                let mut extensions = Map::new();
                extensions.insert("product".into(), json!(product));
                extensions.insert("requested".into(), json!(requested));
                extensions.insert("available".into(), json!(available));
                AppError::Conflict {
                    slug: "insufficient-quota",
                    detail: format!("{requested} units of {product} were asked for but only {available} are available"),
                    extensions,
                }
            }
            Self::HoldNotPending(hold) => {
                let mut extensions = Map::new();
                extensions.insert("hold".into(), hold.to_json());
                AppError::Conflict {
                    slug: "hold-not-pending",
                    detail: format!("hold {} is already {}", hold.id, hold.status.as_str()),
                    extensions,
                }
            }
            Self::HoldNotFound(id) => AppError::NotFound(format!("hold {id} does not exist")),
        }
    }
}

impl Outcome {
    /// The HTTP answer to this outcome.
    #[must_use]
    pub fn response(&self) -> StoredResponse {
        let (status, body) = match self {
            Self::Consumed { entry_id, product, units, reference, available } => (
                201,
                json!({"id": entry_id, "product": product, "units": units, "reference": reference, "available": available}),
            ),
            Self::HoldPlaced(hold) => (201, hold.to_json()),
            Self::HoldSettled(hold) => (200, hold.to_json()),
            Self::Adjusted { entry_id, product, units, reason, available } => (
                201,
                json!({"id": entry_id, "product": product, "units": units, "reason": reason, "available": available}),
            ),
            Self::HoldsExpired(count) => (200, json!({"expired": count})),
            Self::Rejected(rejection) => {
                let error = rejection.to_error();
                let body = error.problem_body();
                let status = body["status"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(409);
                (status, body)
            }
        };
        StoredResponse { status, body: body.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insufficient_quota_is_a_409_that_says_what_is_available() {
        let outcome =
            Outcome::Rejected(Rejection::InsufficientQuota { product: "CERT-1Y".into(), requested: 5, available: 2 });
        let response = outcome.response();
        assert_eq!(response.status, 409);
        let body: serde_json::Value = serde_json::from_str(&response.body).unwrap_or_default();
        assert_eq!(body["type"], "/problems/insufficient-quota");
        assert_eq!(body["available"], 2);
    }

    #[test]
    fn a_placed_hold_is_created_and_a_settled_one_is_ok() {
        let hold = HoldView {
            id: 7,
            developer: "PMJ1".into(),
            product: "CERT-1M".into(),
            units: 3,
            reference: "r".into(),
            status: HoldStatus::Pending,
            expires_at_ms: 0,
        };
        assert_eq!(Outcome::HoldPlaced(hold.clone()).response().status, 201);
        assert_eq!(Outcome::HoldSettled(hold).response().status, 200);
    }
}
