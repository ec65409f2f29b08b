//! E-invoicing with LHDN's MyInvois (issue 13): documents in UBL 2.1 JSON,
//! version 1.1, signed. So far: the JSON as MyInvois digests it (`json`),
//! the signing certificate (`certificate`) and the v1.1 signature with its
//! check (`signature`), each held to LHDN's published values.

pub mod certificate;
pub mod compose;
pub mod document;
pub mod json;
pub mod rules;
pub mod signature;
