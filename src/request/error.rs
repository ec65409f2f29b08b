//! What the purchase workflow's services refuse, as values: the API maps each
//! variant to a status and problem type, the portal to a locale key and the
//! form field it belongs beside. Nobody reads the text to decide.

use jiff::civil::Date;

use super::domain::{MessageError, TransitionError};
use super::payment::DocumentError;
use super::quotation::TooLarge;
use crate::error::{AppError, FieldError};
use crate::money::Sen;

/// Which field of a request line was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineField {
    /// The product code.
    Product,
    /// The number of units.
    Units,
}

/// What was wrong with a request line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    /// Units outside 1..=100,000.
    #[error("must be a whole number from 1 to {max}", max = super::LINE_UNITS_MAX)]
    UnitsOutOfRange,
    /// A second line for the same product.
    #[error("only one line per product")]
    DuplicateProduct,
    /// Not a product on sale.
    #[error("{0} is not an active product")]
    InactiveProduct(String),
}

impl LineProblem {
    /// The field of the line the problem is about.
    #[must_use]
    pub fn field(&self) -> LineField {
        match self {
            Self::UnitsOutOfRange => LineField::Units,
            Self::DuplicateProduct | Self::InactiveProduct(_) => LineField::Product,
        }
    }
}

/// Everything a workflow service can refuse, and its faults.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// No such request, or the caller may not know of it (404).
    #[error("quota request {0} does not exist")]
    NotFound(i64),
    /// No such payment, or the caller may not know of it (404).
    #[error("payment {0} does not exist")]
    PaymentNotFound(i64),
    /// No such developer, or another company (404).
    #[error("developer {0} does not exist")]
    DeveloperNotFound(String),
    /// HIMS reads balances; it takes no part in purchases (403).
    #[error("HIMS does not take part in the purchase workflow")]
    NotAParty,
    /// Only verified companies may request quota (409).
    #[error("developer {code} is {status}; only verified developers can request quota")]
    DeveloperNotVerified {
        /// The company.
        code: String,
        /// Its status.
        status: crate::developer::domain::DeveloperStatus,
    },
    /// No lines, or more than ten (400).
    #[error("a request needs 1 to {max} lines", max = super::LINES_MAX)]
    LineCount,
    /// Lines that break a rule, by their index (400).
    #[error("{}", describe_lines(.0))]
    Lines(Vec<(usize, LineProblem)>),
    /// The rules refuse this action now (403 wrong party, 409 wrong status).
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// Someone else changed the request between reading and writing (409).
    #[error("quota request {0} changed meanwhile; reload it")]
    ChangedMeanwhile(String),
    /// A product of the request has no price on the quotation's date (409).
    #[error("{product} has no price in force on {on}; an administrator must add one")]
    NoPrice {
        /// The product.
        product: String,
        /// The date.
        on: Date,
    },
    /// The figures would not fit (422: each line can be valid and the sum
    /// still beyond RM 10 billion).
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    /// A payment for a request that has no quotation (409).
    #[error("the request has no quotation")]
    NoQuotation,
    /// The amount paid is not the quotation's total (422).
    #[error("the amount must be the quotation total {total}")]
    AmountMismatch {
        /// What the quotation asks for.
        total: Sen,
    },
    /// The same document, or method and reference, was submitted before by
    /// this developer (409).
    #[error("this document, or this method and reference, was already submitted for a payment")]
    DuplicatePayment,
    /// The proof of payment is not an acceptable file (422).
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// The payment was decided already (409).
    #[error("payment {id} is already {status}")]
    PaymentNotPending {
        /// The payment.
        id: i64,
        /// What it is now.
        status: String,
    },
    /// The person who asked for a large payment's approval cannot also give
    /// the second one (409).
    #[error("this approval waits for a second person; the one who asked cannot confirm it")]
    SecondPersonRequired,
    /// The approval being confirmed no longer waits (cancelled or confirmed
    /// meanwhile) (404).
    #[error("no approval {0} is waiting for a second person")]
    ApprovalNotWaiting(i64),
    /// Above the second-person threshold only a person may approve (403).
    #[error("a payment above the second-person threshold must be approved by people, not an API client")]
    PersonRequired,
    /// A fault: database, blob store.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn describe_lines(problems: &[(usize, LineProblem)]) -> String {
    problems.iter().map(|(index, problem)| format!("line {}: {problem}", index + 1)).collect::<Vec<_>>().join("; ")
}

impl From<sqlx::Error> for RequestError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

/// The API's field name of a message error.
#[must_use]
pub fn message_field_error(field: &str, error: MessageError) -> AppError {
    AppError::invalid_field(field, error.to_string())
}

impl From<RequestError> for AppError {
    fn from(error: RequestError) -> Self {
        let detail = error.to_string();
        match error {
            RequestError::NotFound(_)
            | RequestError::PaymentNotFound(_)
            | RequestError::DeveloperNotFound(_)
            | RequestError::ApprovalNotWaiting(_) => Self::NotFound(detail),
            RequestError::NotAParty | RequestError::PersonRequired => Self::Forbidden(detail),
            RequestError::Transition(TransitionError::WrongParty { .. }) => Self::Forbidden(detail),
            RequestError::Transition(TransitionError::WrongStatus { .. } | TransitionError::NoRequest { .. })
            | RequestError::ChangedMeanwhile(_)
            | RequestError::NoQuotation => Self::conflict("wrong-status", detail),
            RequestError::DeveloperNotVerified { .. } => Self::conflict("developer-not-verified", detail),
            RequestError::NoPrice { .. } => Self::conflict("no-price", detail),
            RequestError::DuplicatePayment => Self::conflict("duplicate-payment", detail),
            RequestError::PaymentNotPending { .. } => Self::conflict("payment-not-pending", detail),
            RequestError::SecondPersonRequired => Self::conflict("second-person-required", detail),
            RequestError::LineCount => Self::invalid_field("lines", detail),
            RequestError::TooLarge(_) => Self::Unprocessable { slug: "total-too-large", detail },
            RequestError::Lines(problems) => {
                let errors = problems
                    .iter()
                    .map(|(index, problem)| {
                        let name = match problem.field() {
                            LineField::Product => "product",
                            LineField::Units => "units",
                        };
                        FieldError { field: format!("lines[{index}].{name}"), message: problem.to_string() }
                    })
                    .collect();
                Self::Validation { detail, errors }
            }
            RequestError::AmountMismatch { .. } => Self::Unprocessable { slug: "amount-mismatch", detail },
            RequestError::Document(_) => Self::Unprocessable { slug: "invalid-document", detail },
            RequestError::Internal(cause) => Self::Internal(cause),
        }
    }
}
