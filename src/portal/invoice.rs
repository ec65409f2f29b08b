//! One invoice as finance sees it: its figures, its e-invoice, its credit
//! and refund notes, and the form that issues a note (units taken back from
//! the developer's quota; refused, beside the field, when they are used).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use serde::Deserialize;

use super::pages::{Chrome, DoneQuery, PortalForm, PortalQuery, app_error_page, error_page, render};
use super::session::Member;
use crate::error::AppError;
use crate::finance::NoteKind;
use crate::finance::service::FinanceError;
use crate::i18n::Words;
use crate::state::AppState;

/// One billed product: code, billed, taken back so far, still correctable.
pub struct BilledLine {
    product: String,
    billed: i64,
    noted: i64,
    remaining: i64,
}

/// A note as listed.
pub struct NoteItem {
    number: String,
    kind: String,
    issued_on: String,
    lines: String,
    total: String,
    reason: String,
    e_invoice: String,
}

/// What was typed into the note form, and what was wrong (field, message).
#[derive(Default)]
pub struct NoteTyped {
    kind: String,
    product: String,
    units: String,
    reason: String,
    error: Option<(&'static str, String)>,
}

impl NoteTyped {
    /// The error beside `field`, if it is the one that was wrong.
    fn error_for(&self, field: &str) -> Option<&str> {
        self.error.as_ref().filter(|(f, _)| *f == field).map(|(_, message)| message.as_str())
    }
}

#[derive(Template)]
#[template(path = "portal/invoice.html")]
struct InvoicePage {
    chrome: Chrome,
    w: Words,
    csrf: String,
    number: String,
    developer: String,
    request: String,
    total: String,
    paid: bool,
    issued_on: String,
    e_invoice: String,
    billed: Vec<BilledLine>,
    notes: Vec<NoteItem>,
    typed: NoteTyped,
}

fn e_invoice_label(w: &Words, row: Option<&crate::myinvois::store::EInvoiceRow>) -> String {
    row.map_or_else(|| "—".to_owned(), |row| w.t(&format!("e-invoice-{}", row.status)))
}

async fn page(
    state: &AppState,
    member: &Member,
    number: &str,
    done: Option<&str>,
    typed: NoteTyped,
) -> Result<Option<InvoicePage>, AppError> {
    let w = member.words;
    let mut connection = state.db.pool().acquire().await?;
    let Some(invoice) = crate::finance::store::find(&mut connection, number).await? else { return Ok(None) };
    let (correctable, _) = crate::finance::notes::correctable(&mut connection, &invoice).await?;
    let mut notes = Vec::new();
    for note in crate::finance::store::notes_of_invoice(&mut connection, number).await? {
        let e_invoice = crate::myinvois::store::latest(&mut connection, &note.number).await?;
        notes.push(NoteItem {
            kind: w.t(&format!("document-{}", note.kind.as_str())),
            issued_on: crate::format::stored_date(&note.issued_on),
            lines: note.lines.iter().map(|l| format!("{} × {}", l.units, l.product)).collect::<Vec<_>>().join(", "),
            total: crate::format::rm(note.total),
            e_invoice: e_invoice_label(&w, e_invoice.as_ref()),
            reason: note.reason,
            number: note.number,
        });
    }
    let e_invoice = crate::myinvois::store::latest(&mut connection, number).await?;
    Ok(Some(InvoicePage {
        chrome: Chrome::new(member, "finance", done),
        w,
        csrf: member.csrf.clone(),
        number: invoice.number.clone(),
        developer: invoice.developer.clone(),
        request: invoice.request.clone(),
        total: crate::format::rm(invoice.total),
        paid: invoice.payment_status == crate::finance::InvoiceStatus::Paid,
        issued_on: crate::format::stored_date(&invoice.issued_on),
        e_invoice: e_invoice_label(&w, e_invoice.as_ref()),
        billed: correctable
            .iter()
            .map(|line| BilledLine {
                product: line.product.clone(),
                billed: line.billed,
                noted: line.noted,
                remaining: line.remaining(),
            })
            .collect(),
        notes,
        typed,
    }))
}

fn show(page: Result<Option<InvoicePage>, AppError>, member: &Member, status: StatusCode) -> Response {
    match page {
        Ok(Some(page)) => render(status, &page),
        Ok(None) => error_page(&member.words, Some(member), StatusCode::NOT_FOUND, "error-not-found"),
        Err(error) => app_error_page(member, &error),
    }
}

#[derive(Debug, Deserialize)]
pub struct FindQuery {
    #[serde(default)]
    number: String,
}

/// `GET /finance/invoices?number=…`: the finance page's look-up, to the invoice's page.
pub async fn find(member: Member, PortalQuery(query): PortalQuery<FindQuery>) -> Response {
    let number = query.number.trim().to_ascii_uppercase();
    let well_formed = number.len() <= 40 && number.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !member.is_finance() || !well_formed {
        return error_page(&member.words, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    }
    if number.is_empty() {
        return Redirect::to("/finance").into_response();
    }
    Redirect::to(&format!("/finance/invoices/{number}")).into_response()
}

/// `GET /finance/invoices/{number}` (finance and administrators).
pub async fn view(
    State(state): State<AppState>,
    member: Member,
    Path(number): Path<String>,
    PortalQuery(query): PortalQuery<DoneQuery>,
) -> Response {
    if !member.is_finance() || number.len() > 40 {
        return error_page(&member.words, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    }
    let page = page(&state, &member, &number, query.done.as_deref(), NoteTyped::default()).await;
    show(page, &member, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    product: String,
    #[serde(default)]
    units: String,
    #[serde(default)]
    reason: String,
}

/// Where a refused note's reason is shown, in the reader's words.
fn place(w: &Words, error: &FinanceError) -> Option<(&'static str, String)> {
    match error {
        FinanceError::NotPaid(_) => Some(("kind", w.t("error-note-not-paid"))),
        FinanceError::NotOnInvoice { .. } => Some(("product", w.t("error-note-product"))),
        FinanceError::BeyondInvoiced { remaining, .. } => {
            Some(("units", w.f("error-note-beyond", [("remaining", remaining.to_string().as_str())])))
        }
        FinanceError::UnitsInUse { available, .. } => {
            Some(("units", w.f("error-note-in-use", [("available", available.to_string().as_str())])))
        }
        _ => None,
    }
}

/// `POST /finance/invoices/{number}/notes`: finance issues a credit or refund note.
pub async fn issue_note(
    State(state): State<AppState>,
    member: Member,
    Path(number): Path<String>,
    PortalForm(form): PortalForm<NoteForm>,
) -> Response {
    if let Some(refused) = member.refuse_bad_csrf(&form.csrf) {
        return refused;
    }
    if !member.is_finance() || number.len() > 40 {
        return error_page(&member.words, Some(&member), StatusCode::FORBIDDEN, "error-forbidden");
    }
    let w = member.words;
    let kind = NoteKind::parse(&form.kind);
    let units = form.units.trim().parse::<i64>().ok().filter(|u| (1..=crate::ledger::domain::UNITS_MAX).contains(u));
    let reason = form.reason.parse::<crate::request::Message>();
    let mut typed = NoteTyped {
        kind: form.kind.clone(),
        product: form.product.clone(),
        units: form.units.clone(),
        reason: form.reason.clone(),
        error: None,
    };
    typed.error = match (kind, units, &reason) {
        (None, _, _) => Some(("kind", w.t("error-note-kind"))),
        (_, None, _) => Some(("units", w.t("error-note-units"))),
        (_, _, Err(_)) => Some(("reason", w.t("error-note-reason"))),
        (Some(kind), Some(units), Ok(reason)) => {
            let lines = [(form.product.trim().to_owned(), units)];
            match crate::finance::notes::issue(&state, &member.caller, &number, kind, reason, &lines).await {
                Ok(_) => return Redirect::to(&format!("/finance/invoices/{number}?done=note-issued")).into_response(),
                Err(error) => match place(&w, &error) {
                    Some(placed) => Some(placed),
                    None => return app_error_page(&member, &AppError::from(error)),
                },
            }
        }
    };
    show(page(&state, &member, &number, None, typed).await, &member, StatusCode::BAD_REQUEST)
}
