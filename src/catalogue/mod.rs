//! The product catalogue and its price list. A price has an effective date;
//! the price in force on a quotation's date is the latest one on or before it.

pub mod http;
pub mod service;
pub mod store;

pub use store::{insert_price, is_active_product, is_product, price_on, products};

use crate::money::Sen;

/// A product with its price today, if any.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Product {
    /// Code, e.g. `CERT-1Y`.
    pub code: String,
    /// Malay name.
    pub name_ms: String,
    /// English name.
    pub name_en: String,
    /// Certificate validity.
    pub validity_months: i64,
    /// Whether it can be bought and used.
    pub active: bool,
    /// Unit price in force on the given day.
    pub unit_price: Option<Sen>,
}
