//! The portal: server-rendered pages in Malay and English for developers,
//! the retail team, finance and administrators. Pages read through the same
//! stores as the API and change things only through the API's own handlers,
//! so every rule (roles, transitions, validation, audit, e-mail) is enforced
//! in one place. Templates live in `templates/portal/` and are checked at
//! compile time; words live in `locales/`.
//!
//! `session` (sign-in, cookies, CSRF), `pages` (layout,
//! sign-in, errors, assets), `developer` (dashboard, new request, ledger),
//! `requests` (lists, the request page and its actions), `finance`.

pub mod account;
pub mod admin;
pub mod approvals;
pub mod developer;
pub mod finance;
pub mod invoice;
pub mod online_payment;
pub mod pages;
pub mod people;
pub mod registration;
pub mod requests;
pub mod second_factor;
pub mod session;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// Largest portal form (the payment form carries its document).
pub const FORM_BODY_MAX_BYTES: usize = crate::request::payment::PAYMENT_BODY_MAX_BYTES;

/// Every portal route.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::login_page).post(pages::login))
        .route("/privacy", get(pages::privacy))
        .route("/logout", post(pages::logout))
        .route("/language", get(pages::choose_language).post(pages::change_language))
        .route("/assets/{file}", get(pages::asset))
        .route("/assets/fonts/{file}", get(pages::font))
        .route("/dashboard", get(developer::dashboard))
        .route("/ledger", get(developer::ledger))
        .route("/documents", get(developer::documents))
        .route("/ledger.csv", get(developer::ledger_csv))
        .route("/requests", get(requests::list).post(developer::create_request))
        .route("/requests/new", get(developer::new_request))
        .route("/requests/{id}", get(requests::show))
        .route(
            "/requests/{id}/{action}",
            post(requests::act).layer(axum::extract::DefaultBodyLimit::max(FORM_BODY_MAX_BYTES)),
        )
        .route("/register", get(registration::register_page).post(registration::register))
        .route("/password/forgot", get(account::forgot_page).post(account::forgot))
        .route("/password/reset", get(account::reset_page).post(account::reset))
        .route("/company", get(account::company))
        .route("/company/users", post(account::invite))
        .route("/company/tax-identity", post(account::set_tax_identity))
        .route("/tokens", get(account::tokens).post(account::create_token))
        .route("/tokens/{id}/revoke", post(account::revoke_token))
        .route("/users/{id}", get(people::show).post(people::change))
        .route("/users/{id}/tokens/{token}/revoke", post(people::revoke_token))
        .route("/approvals/{id}/confirm", post(approvals::confirm))
        .route(crate::billplz::service::RETURN_PATH, get(online_payment::billplz_return))
        .route("/online-payments/{id}/{decision}", post(online_payment::decide))
        .route("/approvals/{id}/cancel", post(approvals::cancel))
        .route("/login/second-factor", get(second_factor::code_page).post(second_factor::check_code))
        .route("/account/second-factor", get(second_factor::enrolment).post(second_factor::enrol))
        .route("/account", get(people::account))
        .route("/account/password", post(people::change_password))
        .route("/developers", get(registration::developers))
        .route("/developers/adjustment", post(registration::adjust))
        .route("/developers/{code}/{decision}", post(registration::decide))
        .route("/admin", get(admin::overview))
        .route("/admin/{section}", post(admin::change).layer(axum::extract::DefaultBodyLimit::max(FORM_BODY_MAX_BYTES)))
        .route("/finance", get(finance::overview))
        .route("/finance/sales.csv", get(finance::sales_csv))
        .route("/finance/invoices", get(invoice::find))
        .route("/finance/invoices/{number}", get(invoice::view))
        .route("/finance/invoices/{number}/notes", post(invoice::issue_note))
        .route("/finance/invoices/{number}/settlement", post(finance::settle))
        .route("/finance/e-invoices/{number}/resubmit", post(finance::resubmit_e_invoice))
}
