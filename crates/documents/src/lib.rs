//! Quotations, invoices and delivery orders as PDF, typeset in-process by an
//! embedded Typst with fonts compiled into the binary (nothing is read from
//! the system or downloaded). The data goes in as JSON and the template reads
//! it as data, so text that people typed can never become markup.
//!
//! Kept in its own crate because Typst is most of the project's compile time:
//! this crate is rebuilt only when documents change.

pub mod samples;

use std::sync::OnceLock;

use serde::Serialize;
use typst::foundations::{Dict, IntoValue, Str};
use typst_as_lib::TypstEngine;
use typst_layout::PagedDocument;

const TEMPLATE: &str = include_str!("../templates/document.typ");

/// A labelled value in two languages.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Labelled {
    /// Label in Malay.
    pub ms: String,
    /// Label in English.
    pub en: String,
    /// The value as printed.
    pub value: String,
    /// Printed large and bold (the total).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub strong: bool,
}

impl Labelled {
    /// A plain labelled value.
    #[must_use]
    pub fn new(ms: &str, en: &str, value: impl Into<String>) -> Self {
        Self { ms: ms.to_owned(), en: en.to_owned(), value: value.into(), strong: false }
    }
}

/// The seller's letterhead.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Seller {
    /// Company name.
    pub name: String,
    /// SSM number.
    pub registration_no: String,
    /// SST registration number.
    pub sst_no: String,
    /// Address.
    pub address: String,
    /// Telephone.
    pub phone: String,
    /// E-mail.
    pub email: String,
}

/// The buyer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Buyer {
    /// Company name.
    pub name: String,
    /// SSM number.
    pub registration_no: String,
    /// Developer code.
    pub developer_code: String,
    /// Address.
    pub address: String,
}

/// One line of the table.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Line {
    /// Product code.
    pub product: String,
    /// Name in Malay.
    pub name_ms: String,
    /// Name in English.
    pub name_en: String,
    /// Validity in Malay ("12 bulan").
    pub validity_ms: String,
    /// Validity in English ("12 months").
    pub validity_en: String,
    /// Units, as printed.
    pub units: String,
    /// Unit price, as printed ("RM 50.00"), or empty on a delivery order.
    pub unit_price: String,
    /// Amount, as printed, or empty on a delivery order.
    pub amount: String,
}

/// A block of text under a heading (payment methods, what to send back).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Section {
    /// Heading in Malay.
    pub heading_ms: String,
    /// Heading in English.
    pub heading_en: String,
    /// Paragraphs.
    pub paragraphs: Vec<String>,
}

/// Everything printed on one document.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Document {
    /// "SEBUT HARGA", "INVOIS CUKAI", "PESANAN PENGHANTARAN".
    pub title_ms: String,
    /// "Quotation", "Tax invoice", "Delivery order".
    pub title_en: String,
    /// Document number.
    pub number: String,
    /// Letterhead.
    pub seller: Seller,
    /// Buyer.
    pub buyer: Buyer,
    /// Number, dates, request number, status… beside the buyer.
    pub references: Vec<Labelled>,
    /// The table.
    pub lines: Vec<Line>,
    /// Subtotal, discount, SST, total; none on a delivery order.
    pub totals: Option<Vec<Labelled>>,
    /// Text blocks under the table.
    pub sections: Vec<Section>,
    /// The e-invoice LHDN validated, on a tax invoice: printed with its QR code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e_invoice: Option<EInvoiceMark>,
}

/// What an invoice prints of its e-invoice once MyInvois has validated it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EInvoiceMark {
    /// LHDN's document UUID.
    pub uuid: String,
    /// The validation link (`{portal}/{uuid}/share/{longId}`).
    pub validation_url: String,
    /// The link's QR code, an SVG image.
    pub qr_svg: String,
}

/// Why a document could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The template failed to compile for this data.
    #[error("typesetting failed: {0}")]
    Typeset(String),
    /// PDF export failed.
    #[error("PDF export failed: {0}")]
    Pdf(String),
}

fn engine() -> &'static TypstEngine<typst_as_lib::TypstTemplateMainFile> {
    static ENGINE: OnceLock<TypstEngine<typst_as_lib::TypstTemplateMainFile>> = OnceLock::new();
    ENGINE.get_or_init(|| TypstEngine::builder().main_file(TEMPLATE).fonts(typst_assets::fonts()).build())
}

/// Renders a document to PDF bytes. The same document gives the same bytes
/// (no timestamps are embedded).
///
/// # Errors
/// The template or the export failed.
pub fn render(document: &Document) -> Result<Vec<u8>, RenderError> {
    let data = serde_json::to_string(document).map_err(|e| RenderError::Typeset(e.to_string()))?;
    let mut inputs = Dict::new();
    inputs.insert("data".into(), Str::from(data).into_value());
    let compiled: PagedDocument =
        engine().compile_with_input(inputs).output.map_err(|e| RenderError::Typeset(format!("{e:?}")))?;
    typst_pdf::pdf(&compiled, &typst_pdf::PdfOptions::default()).map_err(|e| RenderError::Pdf(format!("{e:?}")))
}
