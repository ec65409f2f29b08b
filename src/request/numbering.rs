//! Gapless document numbers per kind and year (`REQ-2026-000001`). The
//! counter row is incremented inside the transaction that uses the number, so
//! a rolled-back transaction gives its number back and two transactions never
//! get the same one (the row is locked until commit).

use sqlx::AnyConnection;

/// The kinds of numbered documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberKind {
    /// Quota request.
    Request,
    /// Quotation.
    Quotation,
    /// Invoice.
    Invoice,
    /// Delivery order.
    DeliveryOrder,
    /// Credit note (an invoice's value reduced).
    CreditNote,
    /// Refund note (money returned on a paid invoice).
    RefundNote,
}

impl NumberKind {
    /// The prefix printed on the document.
    #[must_use]
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Request => "REQ",
            Self::Quotation => "QT",
            Self::Invoice => "INV",
            Self::DeliveryOrder => "DO",
            Self::CreditNote => "CN",
            Self::RefundNote => "RN",
        }
    }
}

/// The next number of `kind` in `year`.
///
/// # Errors
/// A database fault.
pub async fn next_number(connection: &mut AnyConnection, kind: NumberKind, year: i16) -> sqlx::Result<String> {
    let value = super::store::bump_document_sequence(connection, kind.prefix(), i64::from(year)).await?;
    Ok(format!("{}-{year}-{value:06}", kind.prefix()))
}
