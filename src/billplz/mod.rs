//! Online payment through Billplz, the gateway for FPX online banking and
//! cards: the X-Signature that authenticates its callbacks and redirects
//! (`signature`), the bills API client (`client`), the service that starts a
//! payment and settles a paid bill exactly once (`service`), its SQL
//! (`store`), the API routes (`http`), and a simulated Billplz for the tests
//! and `serve --demo` (`simulator`).

pub mod client;
pub mod http;
pub mod service;
pub mod signature;
pub mod simulator;
pub mod store;
