//! The finance workspace: credited purchases awaiting their invoice and
//! delivery order (seed step 5), purchase-order invoices still unpaid with
//! their age, and recording a settlement.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use serde::Deserialize;

use super::developer::RequestItem;
use super::pages::{Chrome, DoneQuery, PortalForm, PortalQuery, app_error_page, error_page, render};
use super::session::Member;
use crate::clock::today_local;
use crate::error::AppError;
use crate::i18n::Words;
use crate::request::store::ListFilter;
use crate::state::AppState;

/// Most receivables shown, oldest first (the oldest are the ones to chase).
pub const RECEIVABLES_MAX: i64 = 500;

/// An unpaid invoice as shown.
pub struct Receivable {
    number: String,
    delivery_order: String,
    request: String,
    developer: String,
    total: String,
    issued_on: String,
    age_days: i64,
}

/// Units and amount (before discount and SST) invoiced per month and product.
pub struct SalesRow {
    month: String,
    product: String,
    units: i64,
    amount: String,
}

/// One month's bar in the sales chart.
pub struct MonthBar {
    x: i64,
    y: i64,
    height: i64,
    month: String,
    amount: String,
}

#[derive(Template)]
#[template(path = "portal/finance.html")]
struct FinancePage {
    chrome: Chrome,
    w: Words,
    csrf: String,
    awaiting: Vec<RequestItem>,
    receivables: Vec<Receivable>,
    sales: Vec<SalesRow>,
    bars: Vec<MonthBar>,
    today: String,
    settlement: Option<SettlementTyped>,
    /// The latest reconciliation with the payment gateway, when online
    /// payment is on: its summary line and its findings, one line each.
    reconciliation: Option<(String, Vec<String>)>,
    /// E-invoices that need finance's eye (blocked, invalid) or are on their
    /// way, newest first: invoice, status, its label, the reason in the
    /// reader's language.
    e_invoices: Vec<(String, String, String, String)>,
    /// The `KUOTA_MYINVOIS_*` are set (else e-invoices wait to be sent).
    e_invoicing_on: bool,
}

/// What was typed into one invoice's settlement form, and what was wrong.
pub struct SettlementTyped {
    number: String,
    paid_on: String,
    reference: String,
    field: &'static str,
    error: String,
}

impl FinancePage {
    /// The typed settlement of invoice `number`, if it was refused.
    fn typed(&self, number: &str) -> Option<&SettlementTyped> {
        self.settlement.as_ref().filter(|s| s.number == number)
    }
}

/// Months shown in the sales chart.
pub const SALES_MONTHS: usize = 12;

/// (month `YYYY-MM`, product, units, amount in sen) of invoiced purchases, newest month first.
async fn monthly_sales(state: &AppState) -> Result<Vec<(String, String, i64, i64)>, sqlx::Error> {
    let rows = crate::finance::store::monthly_sales(state.db.pool()).await?;
    Ok(rows.into_iter().map(|r| (r.month, r.product, r.units, r.amount_sen)).collect())
}

/// `GET /finance/sales.csv`: monthly sales by product.
pub async fn sales_csv(State(state): State<AppState>, member: Member) -> Response {
    if !member.is_finance() {
        return error_page(&member.words, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    }
    match monthly_sales(&state).await {
        Ok(rows) => {
            let mut csv = String::from("month,product,units,amount_before_discount_and_sst_rm\r\n");
            for (month, product, units, sen) in rows {
                csv.push_str(&format!("{month},{product},{units},{}.{:02}\r\n", sen / 100, sen % 100));
            }
            (
                [
                    (http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (http::header::CONTENT_DISPOSITION, "attachment; filename=\"kuota-monthly-sales.csv\""),
                ],
                csv,
            )
                .into_response()
        }
        Err(error) => app_error_page(&member, &AppError::from(error)),
    }
}

/// Unpaid (PO) invoices, oldest first, with their age in days.
async fn receivables(state: &AppState, today: jiff::civil::Date) -> Result<Vec<Receivable>, AppError> {
    let receivables = crate::finance::store::list(
        state.db.pool(),
        &crate::finance::store::InvoiceFilter {
            status: Some(crate::finance::InvoiceStatus::Unpaid),
            developer_id: None,
            after_id: 0,
            limit: RECEIVABLES_MAX,
        },
    )
    .await?
    .into_iter()
    .map(|invoice| Receivable {
        age_days: invoice
            .issued_on
            .parse::<jiff::civil::Date>()
            .map_or(0, |issued| i64::from((today - issued).get_days())),
        issued_on: crate::format::stored_date(&invoice.issued_on),
        number: invoice.number,
        delivery_order: invoice.delivery_order_number,
        request: invoice.request,
        developer: invoice.developer,
        total: crate::format::rm(invoice.total),
    })
    .collect();
    Ok(receivables)
}

async fn page(
    state: &AppState,
    member: &Member,
    done: Option<&str>,
    settlement: Option<SettlementTyped>,
) -> Result<FinancePage, AppError> {
    let w = member.words;
    let today = today_local(state.clock.now());
    let today_text = today.to_string();
    let filter = ListFilter {
        status: Some("credited".into()),
        developer_id: None,
        overdue_on: None,
        search: None,
        before_id: i64::MAX,
        limit: 200,
    };
    let awaiting = crate::request::store::list(state.db.pool(), &filter)
        .await?
        .iter()
        .map(|row| RequestItem::new(&w, row, &today_text))
        .collect();
    let receivables = receivables(state, today).await?;
    let sales_rows = monthly_sales(state).await?;
    let mut months: Vec<(String, i64)> = Vec::new();
    for (month, _, _, sen) in &sales_rows {
        match months.iter_mut().find(|(m, _)| m == month) {
            Some((_, total)) => *total += sen,
            None => months.push((month.clone(), *sen)),
        }
    }
    months.truncate(SALES_MONTHS);
    months.reverse();
    let peak = months.iter().map(|(_, sen)| *sen).max().unwrap_or(0).max(1);
    let bars = months
        .iter()
        .zip(0_i64..)
        .map(|((month, sen), index)| {
            let height = sen.saturating_mul(100) / peak;
            MonthBar {
                x: index * 50,
                y: 120 - height,
                height,
                month: month.clone(),
                amount: crate::format::rm_sen(*sen),
            }
        })
        .collect();
    let sales = sales_rows
        .into_iter()
        .map(|(month, product, units, sen)| SalesRow { month, product, units, amount: crate::format::rm_sen(sen) })
        .collect();
    let reconciliation = reconciliation_lines(state, &w).await?;
    let e_invoices = e_invoice_rows(state, &w).await?;
    Ok(FinancePage {
        reconciliation,
        e_invoices,
        e_invoicing_on: state.e_invoicing.is_some(),
        chrome: Chrome::new(member, "finance", done),
        w,
        csrf: member.csrf.clone(),
        awaiting,
        receivables,
        sales,
        bars,
        today: today_text,
        settlement,
    })
}

/// Most e-invoices the finance page lists per status.
const E_INVOICES_PER_STATUS: i64 = 50;

/// The e-invoice queue: blocked and invalid first (what finance must act
/// on, with LHDN's or the checker's reasons in the reader's language), then
/// those queued or submitted.
async fn e_invoice_rows(state: &AppState, w: &Words) -> Result<Vec<(String, String, String, String)>, AppError> {
    let mut rows = Vec::new();
    for status in ["blocked", "invalid", "queued", "submitted"] {
        for row in crate::myinvois::store::with_status(state.db.pool(), status, E_INVOICES_PER_STATUS).await? {
            let reason = if w.lang() == "en" { row.errors_en.clone() } else { row.errors_ms.or(row.errors_en) };
            rows.push((
                row.document_number,
                status.to_owned(),
                w.t(&format!("e-invoice-{status}")),
                reason.unwrap_or_default(),
            ));
        }
    }
    Ok(rows)
}

/// The latest reconciliation, in the reader's words (none when online
/// payment is off and nothing ever ran).
async fn reconciliation_lines(state: &AppState, w: &Words) -> Result<Option<(String, Vec<String>)>, AppError> {
    let latest = crate::billplz::service::latest_reconciliation(state).await.map_err(AppError::from)?;
    Ok(match latest {
        None if state.billplz.is_none() => None,
        None => Some((w.t("reconciliation-none"), Vec::new())),
        Some((at, checked, findings)) => {
            let (when, checked, count) =
                (crate::format::date_time(at), checked.to_string(), findings.len().to_string());
            let summary = w.f(
                "reconciliation-summary",
                [("when", when.as_str()), ("checked", checked.as_str()), ("findings", count.as_str())],
            );
            let lines = findings
                .iter()
                .map(|f| {
                    format!(
                        "{} · {} · {}",
                        f.bill_id,
                        f.request_number,
                        w.t(&format!("reconciliation-kind-{}", f.kind))
                    )
                })
                .collect();
            Some((summary, lines))
        }
    })
}

/// `GET /finance` (finance and administrators).
pub async fn overview(
    State(state): State<AppState>,
    member: Member,
    PortalQuery(query): PortalQuery<DoneQuery>,
) -> Response {
    if !member.is_finance() {
        return error_page(&member.words, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    }
    match page(&state, &member, query.done.as_deref(), None).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(error) => app_error_page(&member, &error),
    }
}

#[derive(Debug, Deserialize)]
pub struct SettlementForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    paid_on: String,
    #[serde(default)]
    reference: String,
}

/// `POST /finance/invoices/{number}/settlement`.
pub async fn settle(
    State(state): State<AppState>,
    member: Member,
    Path(number): Path<String>,
    PortalForm(form): PortalForm<SettlementForm>,
) -> Response {
    let w = member.words;
    if let Some(refused) = member.refuse_bad_csrf(&form.csrf) {
        return refused;
    }
    let paid_on = form.paid_on.trim().parse::<jiff::civil::Date>();
    let reference = crate::ledger::Reference::new(form.reference.trim());
    let problem = match (&paid_on, &reference) {
        (Err(_), _) => Some(("paid_on", w.t("error-date"))),
        (_, Err(_)) => Some(("reference", w.t("error-reference"))),
        (Ok(_), Ok(_)) => None,
    };
    if let (Ok(paid_on), Ok(reference)) = (paid_on, reference) {
        match crate::finance::service::settle(&state, &member.caller, &number, paid_on, &reference).await {
            Ok(_) => return Redirect::to("/finance?done=settled").into_response(),
            Err(error) => return app_error_page(&member, &AppError::from(error)),
        }
    }
    let (field, error) = problem.unwrap_or(("reference", w.t("error-reference")));
    let typed = SettlementTyped { number, paid_on: form.paid_on, reference: form.reference, field, error };
    match page(&state, &member, None, Some(typed)).await {
        Ok(page) => render(StatusCode::BAD_REQUEST, &page),
        Err(error) => app_error_page(&member, &error),
    }
}

#[derive(Debug, Deserialize)]
pub struct ResubmitForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /finance/e-invoices/{number}/resubmit`: send an invalid e-invoice
/// again, once the data LHDN refused is corrected.
pub async fn resubmit_e_invoice(
    State(state): State<AppState>,
    member: Member,
    Path(number): Path<String>,
    PortalForm(form): PortalForm<ResubmitForm>,
) -> Response {
    if let Some(refused) = member.refuse_bad_csrf(&form.csrf) {
        return refused;
    }
    match crate::myinvois::service::resubmit(&state, &member.caller, &number).await {
        Ok(_) => Redirect::to("/finance?done=e-invoice-resubmitted").into_response(),
        Err(error) => app_error_page(&member, &AppError::from(error)),
    }
}
