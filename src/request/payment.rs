//! Proof of payment: the uploaded document is judged by its content (PDF,
//! PNG or JPEG magic bytes), not by its name or declared type.

/// Largest accepted document.
pub const DOCUMENT_MAX_BYTES: usize = 10 * 1024 * 1024;
/// Largest multipart body (the document plus the form fields).
pub const PAYMENT_BODY_MAX_BYTES: usize = DOCUMENT_MAX_BYTES + 64 * 1024;

/// How a developer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Purchase order; paid later.
    PurchaseOrder,
    /// Online bank transfer.
    BankTransfer,
    /// Credit card at the Pos Digicert counter.
    CardAtCounter,
    /// FPX online banking or card through the payment gateway; recorded by
    /// kuota from the gateway's signed confirmation, never submitted by hand.
    Online,
}

impl Method {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PurchaseOrder => "po",
            Self::BankTransfer => "bank_transfer",
            Self::CardAtCounter => "card_counter",
            Self::Online => "online",
        }
    }

    /// The method with this stored name (`online` included, which
    /// [`str::parse`] refuses: no one submits an online payment by hand).
    #[must_use]
    pub fn parse_stored(text: &str) -> Option<Self> {
        if text == "online" { Some(Self::Online) } else { text.parse().ok() }
    }

    /// True when the money has been received at submission (not a PO).
    #[must_use]
    pub fn is_paid(self) -> bool {
        !matches!(self, Self::PurchaseOrder)
    }
}

impl std::str::FromStr for Method {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "po" => Ok(Self::PurchaseOrder),
            "bank_transfer" => Ok(Self::BankTransfer),
            "card_counter" => Ok(Self::CardAtCounter),
            _ => Err("must be po, bank_transfer or card_counter"),
        }
    }
}

impl serde::Serialize for Method {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Where a submitted payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Waiting for retail.
    Submitted,
    /// Verified; the quota was credited.
    Approved,
    /// Refused with a reason; the request went back to `quoted`.
    Rejected,
}

impl PaymentStatus {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }

    /// The status with this stored name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Submitted, Self::Approved, Self::Rejected].into_iter().find(|status| status.as_str() == text)
    }
}

impl serde::Serialize for PaymentStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// No bytes.
    #[error("the document is empty")]
    Empty,
    /// Over 10 MB.
    #[error("the document is larger than 10 MB")]
    TooLarge,
    /// Not a PDF, PNG or JPEG by content.
    #[error("the document must be a PDF, PNG or JPEG file; its content is none of these")]
    UnknownType,
    /// The file name says one type, the content another.
    #[error("the file is named {name:?} but its content is {actual}")]
    NameMismatch {
        /// The file name.
        name: String,
        /// The type found.
        actual: &'static str,
    },
}

/// The media type of an accepted document, judged by content and checked
/// against the file name's extension when it has a known one.
///
/// # Errors
/// Empty, too large, unknown content, or a name that contradicts the content.
pub fn sniff(bytes: &[u8], file_name: Option<&str>) -> Result<&'static str, DocumentError> {
    if bytes.is_empty() {
        return Err(DocumentError::Empty);
    }
    if bytes.len() > DOCUMENT_MAX_BYTES {
        return Err(DocumentError::TooLarge);
    }
    let media_type = if bytes.starts_with(b"%PDF-") {
        "application/pdf"
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else {
        return Err(DocumentError::UnknownType);
    };
    let extension = file_name.and_then(|name| name.rsplit_once('.')).map(|(_, ext)| ext.to_ascii_lowercase());
    let named = match extension.as_deref() {
        Some("pdf") => Some("application/pdf"),
        Some("png") => Some("image/png"),
        Some("jpg" | "jpeg") => Some("image/jpeg"),
        _ => None,
    };
    if let Some(named) = named {
        if named != media_type {
            return Err(DocumentError::NameMismatch {
                name: file_name.unwrap_or_default().to_owned(),
                actual: media_type,
            });
        }
    }
    Ok(media_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_judged_by_content() {
        assert_eq!(sniff(b"%PDF-1.7 ...", Some("po.pdf")), Ok("application/pdf"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n....", Some("resit.PNG")), Ok("image/png"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0], None), Ok("image/jpeg"));
        assert_eq!(sniff(b"", Some("a.pdf")), Err(DocumentError::Empty));
        assert_eq!(sniff(b"MZ\x90\x00", Some("a.pdf")), Err(DocumentError::UnknownType));
        assert!(matches!(sniff(b"%PDF-1.4", Some("bukti.png")), Err(DocumentError::NameMismatch { .. })));
        assert_eq!(sniff(&vec![b'%'; DOCUMENT_MAX_BYTES + 1], None), Err(DocumentError::TooLarge));
    }
}
