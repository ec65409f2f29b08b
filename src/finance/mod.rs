//! Finance: invoices and delivery orders for credited purchases, and
//! receivables (PO-based invoices until they are settled).

pub mod http;
pub mod notes;
pub mod service;
pub mod store;

/// Whether an invoice's money has arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceStatus {
    /// Paid at issue (transfer, card, online) or settled later.
    Paid,
    /// A PO's invoice, a receivable until finance settles it.
    Unpaid,
}

impl InvoiceStatus {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::Unpaid => "unpaid",
        }
    }

    /// The status with this stored name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Paid, Self::Unpaid].into_iter().find(|status| status.as_str() == text)
    }
}

impl std::fmt::Display for InvoiceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for InvoiceStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A stored invoice status read back; an unknown one is a decoding fault.
///
/// # Errors
/// A name that is not an invoice status.
pub fn decode_status(text: &str) -> sqlx::Result<InvoiceStatus> {
    InvoiceStatus::parse(text).ok_or_else(|| sqlx::Error::Decode(format!("unknown invoice status {text:?}").into()))
}

/// A correction of an invoice after its e-invoice can no longer be cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// The invoice's value is reduced (LHDN type 02, `CN-…`).
    Credit,
    /// Money paid on the invoice is returned (LHDN type 04, `RN-…`).
    Refund,
}

impl NoteKind {
    /// The stored name, also the document kind.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Credit => "credit_note",
            Self::Refund => "refund_note",
        }
    }

    /// The kind with this stored name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Credit, Self::Refund].into_iter().find(|kind| kind.as_str() == text)
    }

    /// Its gapless number series.
    #[must_use]
    pub fn numbering(self) -> crate::request::numbering::NumberKind {
        match self {
            Self::Credit => crate::request::numbering::NumberKind::CreditNote,
            Self::Refund => crate::request::numbering::NumberKind::RefundNote,
        }
    }

    /// Its kind of MyInvois document.
    #[must_use]
    pub fn e_invoice_kind(self) -> crate::myinvois::document::Kind {
        match self {
            Self::Credit => crate::myinvois::document::Kind::CreditNote,
            Self::Refund => crate::myinvois::document::Kind::RefundNote,
        }
    }

    /// The kind of the note numbered `number` (by its prefix).
    #[must_use]
    pub fn of_number(number: &str) -> Option<Self> {
        [Self::Credit, Self::Refund]
            .into_iter()
            .find(|kind| number.strip_prefix(kind.numbering().prefix()).is_some_and(|rest| rest.starts_with('-')))
    }
}

impl serde::Serialize for NoteKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
