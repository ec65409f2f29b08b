//! The integration suite: one binary, every test on SQLite and on PostgreSQL.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod helpers;

mod approvals;
mod audit;
mod backup;
mod bad_input;
mod claims;
mod concurrency;
mod developers;
mod documents;
mod e_invoice;
mod hardening;
mod holds;
mod idempotency;
mod ledger;
mod mail;
mod matrix;
mod metrics;
mod object_storage;
mod online_payment;
mod people;
mod portal;
mod privacy;
mod processes;
mod properties;
mod reminders;
mod schema;
mod second_factor;
mod sign_in;
mod workflow;
