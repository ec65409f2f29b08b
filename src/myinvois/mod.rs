//! E-invoicing with LHDN's MyInvois: every invoice becomes a UBL 2.1 JSON
//! document, version 1.1 — composed from the database (`compose`) into a
//! typed model written by one serializer (`document`), checked by the local
//! rules (`rules`), signed (`signature`, `certificate`, over JSON kept as
//! written: `json`) — and submitted by a durable job (`job`, `store`) through
//! the API client (`client`). `simulator` is the MyInvois of the tests and
//! of `serve --demo`.

pub mod certificate;
pub mod client;
pub mod compose;
pub mod document;
pub mod job;
pub mod json;
pub mod rules;
pub mod service;
pub mod signature;
pub mod simulator;
pub mod store;
