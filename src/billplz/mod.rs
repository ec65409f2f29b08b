//! Billplz, the online payment gateway (FPX online banking and cards): the
//! X-Signature that authenticates its callbacks and redirects. (The bills
//! client, the callback and the redirect build on this; see issue 12.)

pub mod signature;
