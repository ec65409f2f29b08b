//! Finance: invoices and delivery orders for credited purchases, and
//! receivables (PO-based invoices until they are settled).

pub mod http;
pub mod service;
pub mod store;
