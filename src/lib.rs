//! kuota: prepaid certificate quota for HIMS housing developers.
//!
//! See ARCHITECTURE.md for the map of modules and the path of a request.

pub mod api;
pub mod approval;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod billplz;
pub mod blob;
pub mod calendar;
pub mod catalogue;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod developer;
pub mod digest;
pub mod documents;
pub mod error;
pub mod finance;
pub mod format;
pub mod i18n;
pub mod jobs;
pub mod ledger;
pub mod metrics;
pub mod money;
pub mod myinvois;
pub mod notify;
pub mod outbound;
pub mod portal;
pub mod privacy;
pub mod private_files;
pub mod qr;
pub mod request;
pub mod settings;
pub mod startup;
pub mod state;
