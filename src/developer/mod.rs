//! Developers (pemaju): the companies that buy quota. This part is the
//! admin path (API and CLI); self-registration and verification come with the
//! workflow.

pub mod domain;
pub mod http;
pub mod registration;
pub mod service;
pub mod store;

pub use domain::{DeveloperCode, DisplayName, EmailAddress, RegistrationNo};

/// A developer to be created, already validated.
#[derive(Debug, Clone)]
pub struct NewDeveloper {
    /// Developer code (kod pemaju).
    pub code: DeveloperCode,
    /// Company name.
    pub name: DisplayName,
    /// SSM registration number.
    pub registration_no: RegistrationNo,
    /// Contact e-mail.
    pub email: EmailAddress,
}
