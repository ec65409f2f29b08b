//! Finance: invoices and delivery orders for credited purchases, and
//! receivables (PO-based invoices until they are settled).

pub mod http;
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
