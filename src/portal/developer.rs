//! A developer's pages: the dashboard (balances, usage, warnings, recent
//! requests), the new-request form (seed step 2) and the ledger history
//! with its CSV export.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use http::{StatusCode, header};
use serde::Deserialize;

use super::pages::{Chrome, DoneQuery, PortalForm, PortalQuery, app_error_page, error_page, render};
use super::session::Member;
use crate::catalogue::Product;
use crate::clock::{millis_to_timestamp, today_local, user_time_zone};
use crate::developer::DeveloperCode;
use crate::developer::domain::DeveloperStatus;
use crate::error::AppError;
use crate::i18n::Words;
use crate::request::domain::{Message, MessageError};
use crate::request::service::NewLine;
use crate::request::store::{ListFilter, RequestRow};
use crate::request::{LineProblem, RequestError};
use crate::state::AppState;

/// Days in the usage chart.
pub const USAGE_DAYS: i64 = 30;
/// Ledger entries per page.
pub const LEDGER_PAGE: i64 = 50;
/// Most ledger entries in one CSV export.
pub const CSV_ROWS_MAX: i64 = 100_000;

/// The developer whose pages a member sees, or 404 for staff.
fn developer_of(member: &Member) -> Option<i64> {
    member.caller.developer_id.filter(|_| member.is_developer())
}

fn not_found(member: &Member) -> Response {
    error_page(&member.words, Some(member), StatusCode::NOT_FOUND, "error-not-found")
}

/// A product's name in the reader's language.
#[must_use]
pub fn product_name(words: &Words, product: &Product) -> String {
    match words.language {
        crate::auth::users::Language::Ms => product.name_ms.clone(),
        crate::auth::users::Language::En => product.name_en.clone(),
    }
}

/// One product's balance on the dashboard.
pub struct BalanceCard {
    code: String,
    name: String,
    credited: i64,
    consumed: i64,
    held: i64,
    available: i64,
    low: bool,
}

/// One bar of the usage chart.
pub struct Bar {
    x: i64,
    label: String,
    units: i64,
    /// One stacked piece per product: (y, height, colour, product, units).
    segments: Vec<(i64, i64, &'static str, String, i64)>,
}

/// Colours of the products in the usage chart, each at least 3:1 against white.
const PRODUCT_COLOURS: [&str; 4] = ["#2563EB", "#B45309", "#047857", "#7C3AED"];

/// A request in a list.
pub struct RequestItem {
    /// Id.
    pub id: i64,
    /// Number.
    pub number: String,
    /// Developer code.
    pub developer: String,
    /// Status name.
    pub status: String,
    /// Status in words.
    pub status_label: String,
    /// Who acts now, in words (empty when the request is closed).
    pub owner: String,
    /// Due date, dd/mm/yyyy.
    pub due: String,
    /// `overdue`, `today` or empty.
    pub sla: &'static str,
    /// Created, local time.
    pub created: String,
}

impl RequestItem {
    /// A list item from a request row.
    #[must_use]
    pub fn new(words: &Words, row: &RequestRow, today: &str) -> Self {
        let open = row.status.owner().is_some();
        let sla = match row.due_on.as_deref() {
            Some(due) if open && due < today => "overdue",
            Some(due) if open && due == today => "today",
            _ => "",
        };
        Self {
            id: row.id,
            number: row.number.clone(),
            developer: row.developer_code.clone(),
            status: row.status.as_str().to_owned(),
            status_label: words.status(row.status.as_str()),
            owner: row
                .status
                .owner()
                .map(|p| words.t(&format!("party-{}", format!("{p:?}").to_lowercase())))
                .unwrap_or_default(),
            due: row.due_on.as_deref().filter(|_| open).map(crate::format::stored_date).unwrap_or_default(),
            sla,
            created: crate::format::date_time(row.created_at_ms),
        }
    }
}

#[derive(Template)]
#[template(path = "portal/dashboard.html")]
struct Dashboard {
    chrome: Chrome,
    w: Words,
    company: String,
    balances: Vec<BalanceCard>,
    /// Why the company cannot request quota yet, if it cannot.
    notice: Option<String>,
    /// The company's e-invoice details are not complete (its administrator
    /// is asked to complete them).
    tax_identity_missing: bool,
    threshold: i64,
    bars: Vec<Bar>,
    legend: Vec<(String, &'static str)>,
    peak: i64,
    chart_label: String,
    requests: Vec<RequestItem>,
}

/// `GET /dashboard`.
pub async fn dashboard(
    State(state): State<AppState>,
    member: Member,
    PortalQuery(query): PortalQuery<DoneQuery>,
) -> Response {
    let Some(developer_id) = developer_of(&member) else { return not_found(&member) };
    match dashboard_page(&state, &member, developer_id, query.done.as_deref()).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(error) => app_error_page(&member, &error),
    }
}

/// Units used per Kuala Lumpur day (UTC+8, no daylight saving) over the
/// last 30 days: one stacked bar a day, the legend and the tallest day.
async fn usage_chart(
    state: &AppState,
    developer_id: i64,
    today: jiff::civil::Date,
) -> Result<(Vec<Bar>, Vec<(String, &'static str)>, i64), AppError> {
    const DAY_MS: i64 = 86_400_000;
    const OFFSET_MS: i64 = 8 * 3_600_000;
    let today_number = (state.clock.now_ms() + OFFSET_MS) / DAY_MS;
    let first = today_number - (USAGE_DAYS - 1);
    let rows =
        crate::ledger::store::daily_usage(state.db.pool(), developer_id, OFFSET_MS, DAY_MS, first * DAY_MS - OFFSET_MS)
            .await?;
    let mut used: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for row in rows {
        used.insert((row.day, row.product), row.units);
    }
    let mut products_used: Vec<String> = used.keys().map(|(_, product)| product.clone()).collect();
    products_used.sort();
    products_used.dedup();
    let colour = |product: &str| {
        let index = products_used.iter().position(|p| p == product).unwrap_or(0);
        PRODUCT_COLOURS[index % PRODUCT_COLOURS.len()]
    };
    let day_total = |day: i64| used.iter().filter(|((d, _), _)| *d == day).map(|(_, units)| units).sum::<i64>();
    let peak = (first..=today_number).map(day_total).max().unwrap_or(0).max(1);
    let bars = (0..USAGE_DAYS)
        .map(|offset| {
            let day = first + offset;
            let date = today.checked_sub(jiff::Span::new().days(today_number - day)).unwrap_or(today);
            let mut top = 120;
            let segments = products_used
                .iter()
                .filter_map(|product| {
                    let units = used.get(&(day, product.clone())).copied()?;
                    let height = units * 100 / peak;
                    top -= height;
                    Some((top, height, colour(product), product.clone(), units))
                })
                .collect();
            Bar { x: offset * 20, label: date.strftime("%d/%m").to_string(), units: day_total(day), segments }
        })
        .collect::<Vec<_>>();
    let legend: Vec<(String, &'static str)> = products_used.iter().map(|p| (p.clone(), colour(p))).collect();
    Ok((bars, legend, peak))
}

async fn dashboard_page(
    state: &AppState,
    member: &Member,
    developer_id: i64,
    done: Option<&str>,
) -> Result<Dashboard, AppError> {
    let w = member.words;
    let now = state.clock.now();
    let today = today_local(now);
    let products = crate::catalogue::products(state.db.pool(), &today.to_string()).await?;
    let default_threshold = crate::settings::load(state.db.pool()).await?.low_balance_threshold;
    let (own, status) = crate::developer::store::threshold_and_status(state.db.pool(), developer_id).await?;
    let notice = notice_for(status).map(|key| w.t(key));
    let tax_identity_missing =
        !crate::developer::service::tax_identity(state, developer_id).await.map_err(AppError::from)?.is_complete();
    let threshold = own.unwrap_or(default_threshold);
    let balances = state.ledger.balances(developer_id).await.map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
    let balances = balances
        .into_iter()
        .map(|(code, balance)| BalanceCard {
            name: products.iter().find(|p| p.code == code).map(|p| product_name(&w, p)).unwrap_or_default(),
            code,
            credited: balance.credited,
            consumed: balance.consumed,
            held: balance.held,
            available: balance.available,
            low: balance.credited > 0 && balance.available <= threshold,
        })
        .collect();
    let (bars, legend, peak) = usage_chart(state, developer_id, today).await?;
    let total: i64 = bars.iter().map(|b| b.units).sum();
    let chart_label =
        w.f("chart-label", [("days", USAGE_DAYS.to_string().as_str()), ("units", total.to_string().as_str())]);
    let filter = ListFilter {
        status: None,
        developer_id: Some(developer_id),
        overdue_on: None,
        search: None,
        before_id: i64::MAX,
        limit: 5,
    };
    let today_text = today.to_string();
    let requests = crate::request::store::list(state.db.pool(), &filter)
        .await?
        .iter()
        .map(|row| RequestItem::new(&w, row, &today_text))
        .collect();
    Ok(Dashboard {
        chrome: Chrome::new(member, "dashboard", done),
        w,
        company: member.developer_code.clone().unwrap_or_default(),
        balances,
        notice,
        tax_identity_missing,
        threshold,
        bars,
        legend,
        peak,
        chart_label,
        requests,
    })
}

/// A product on the request form, with what was typed and its error.
pub struct ProductLine {
    code: String,
    name: String,
    validity_months: i64,
    price: String,
    units: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/request_new.html")]
struct NewRequest {
    chrome: Chrome,
    w: Words,
    csrf: String,
    lines: Vec<ProductLine>,
    note: String,
    note_error: Option<String>,
    errors: Vec<String>,
    /// Why no request can be made yet (a registration still being checked).
    notice: Option<String>,
}

/// Why the member's company cannot request quota yet: the key of a notice,
/// or `None` once the retail team has verified it.
async fn company_notice(state: &AppState, developer_id: i64) -> Result<Option<&'static str>, AppError> {
    let status = crate::developer::store::status(state.db.pool(), developer_id).await?;
    Ok(notice_for(status))
}

fn notice_for(status: DeveloperStatus) -> Option<&'static str> {
    match status {
        DeveloperStatus::Verified => None,
        // (A withdrawn or expired claim's users are deactivated and never get here.)
        DeveloperStatus::Rejected | DeveloperStatus::Withdrawn | DeveloperStatus::Expired => Some("rejected-notice"),
        DeveloperStatus::PendingVerification => Some("pending-verification-notice"),
    }
}

async fn products_on_sale(state: &AppState) -> Result<Vec<Product>, AppError> {
    let today = today_local(state.clock.now()).to_string();
    Ok(crate::catalogue::products(state.db.pool(), &today)
        .await?
        .into_iter()
        .filter(|p| p.active && p.unit_price.is_some())
        .collect())
}

/// `GET /requests/new`.
pub async fn new_request(State(state): State<AppState>, member: Member) -> Response {
    let Some(developer_id) = developer_of(&member) else { return not_found(&member) };
    let notice = match company_notice(&state, developer_id).await {
        Ok(notice) => notice,
        Err(error) => return app_error_page(&member, &error),
    };
    match products_on_sale(&state).await {
        Ok(products) => {
            let w = member.words;
            let lines = products
                .iter()
                .map(|p| ProductLine {
                    code: p.code.clone(),
                    name: product_name(&w, p),
                    validity_months: p.validity_months,
                    price: p.unit_price.map(crate::format::rm).unwrap_or_default(),
                    units: String::new(),
                    error: None,
                })
                .collect();
            let page = NewRequest {
                chrome: Chrome::new(&member, "new-request", None),
                w,
                csrf: member.csrf.clone(),
                lines,
                note: String::new(),
                note_error: None,
                errors: Vec::new(),
                notice: notice.map(|key| w.t(key)),
            };
            render(StatusCode::OK, &page)
        }
        Err(error) => app_error_page(&member, &error),
    }
}

/// What was typed into the new-request form's product lines.
struct OrderForm {
    /// Every product's line as shown again.
    lines: Vec<ProductLine>,
    /// The lines with units, for the service.
    request_lines: Vec<NewLine>,
    /// For each requested line, its place in `lines`.
    positions: Vec<usize>,
    /// What was wrong, in the reader's words.
    errors: Vec<String>,
}

/// Reads the units typed per product (`typed[i]` for `products[i]`).
fn read_order(w: &Words, products: &[Product], typed: Vec<String>) -> OrderForm {
    let mut form =
        OrderForm { lines: Vec::new(), request_lines: Vec::new(), positions: Vec::new(), errors: Vec::new() };
    for (product, typed) in products.iter().zip(typed) {
        let error = if typed.is_empty() {
            None
        } else {
            match typed.parse::<i64>() {
                Ok(units) if (1..=crate::request::LINE_UNITS_MAX).contains(&units) => {
                    form.positions.push(form.lines.len());
                    form.request_lines.push(NewLine { product: product.code.clone(), units });
                    None
                }
                _ => Some(w.f("error-units", [("max", "100000")])),
            }
        };
        if let Some(error) = &error {
            form.errors.push(format!("{}: {error}", product.code));
        }
        form.lines.push(ProductLine {
            code: product.code.clone(),
            name: product_name(w, product),
            validity_months: product.validity_months,
            price: product.unit_price.map(crate::format::rm).unwrap_or_default(),
            units: typed,
            error,
        });
    }
    form
}

/// Puts what the service refused about each line beside that line.
fn place_line_problems(
    w: &Words,
    problems: &[(usize, LineProblem)],
    positions: &[usize],
    lines: &mut [ProductLine],
    errors: &mut Vec<String>,
) {
    for (index, problem) in problems {
        let text = match problem {
            LineProblem::UnitsOutOfRange => w.f("error-units", [("max", "100000")]),
            LineProblem::DuplicateProduct | LineProblem::InactiveProduct(_) => w.t("error-invalid-field"),
        };
        if let Some(line) = positions.get(*index).and_then(|&position| lines.get_mut(position)) {
            errors.push(format!("{}: {text}", line.code));
            line.error = Some(text);
        }
    }
}

/// `POST /requests`: checks the form in the reader's words, then files the
/// request through the workflow's service.
pub async fn create_request(
    State(state): State<AppState>,
    member: Member,
    PortalForm(form): PortalForm<Vec<(String, String)>>,
) -> Response {
    let w = member.words;
    let fields = form;
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    if let Some(refused) = member.refuse_bad_csrf(&field("csrf")) {
        return refused;
    }
    let (Some(code), Some(developer_id)) =
        (member.developer_code.clone().filter(|_| member.is_developer()), developer_of(&member))
    else {
        return error_page(&w, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    };
    match company_notice(&state, developer_id).await {
        Ok(None) => {}
        Ok(Some(key)) => return error_page(&w, Some(&member), StatusCode::FORBIDDEN, key),
        Err(error) => return app_error_page(&member, &error),
    }
    let products = match products_on_sale(&state).await {
        Ok(products) => products,
        Err(error) => return app_error_page(&member, &error),
    };
    let typed: Vec<String> =
        products.iter().map(|product| field(&format!("units-{}", product.code)).trim().to_owned()).collect();
    let OrderForm { mut lines, request_lines, positions, mut errors } = read_order(&w, &products, typed);
    let note = field("note");
    let parsed_note = Some(note.trim()).filter(|n| !n.is_empty()).map(str::parse::<Message>).transpose();
    let note_error = parsed_note.as_ref().err().map(|error| match error {
        MessageError::ControlCharacter => w.t("error-control-characters"),
        MessageError::Empty | MessageError::TooLong => w.t("error-note-long"),
    });
    if let Some(error) = &note_error {
        errors.push(error.clone());
    }
    if request_lines.is_empty() && errors.is_empty() {
        errors.push(w.t("error-no-lines"));
    }
    let outcome = match (errors.is_empty(), code.parse::<DeveloperCode>(), parsed_note) {
        (true, Ok(code), Ok(note)) => {
            Some(crate::request::service::submit(&state, &member.caller, &code, &request_lines, note.as_ref()).await)
        }
        _ => None,
    };
    match outcome {
        Some(Ok(id)) => return Redirect::to(&format!("/requests/{id}?done=request-submitted")).into_response(),
        Some(Err(RequestError::Lines(problems))) => {
            place_line_problems(&w, &problems, &positions, &mut lines, &mut errors)
        }
        Some(Err(error)) => return app_error_page(&member, &AppError::from(error)),
        None => {}
    }
    let page = NewRequest {
        chrome: Chrome::new(&member, "new-request", None),
        w,
        csrf: member.csrf.clone(),
        lines,
        note,
        note_error,
        errors,
        notice: None,
    };
    render(StatusCode::BAD_REQUEST, &page)
}

/// A ledger entry as shown.
pub struct EntryItem {
    when: String,
    kind: String,
    product: String,
    units: String,
    reference: String,
}

#[derive(Template)]
#[template(path = "portal/ledger.html")]
struct LedgerPage {
    chrome: Chrome,
    w: Words,
    products: Vec<(String, String)>,
    product: String,
    entries: Vec<EntryItem>,
    next: Option<String>,
    csv: String,
}

#[derive(Debug, Deserialize)]
pub struct LedgerQuery {
    product: Option<String>,
    before: Option<String>,
}

/// The change an entry made to the available balance (a committed hold
/// was already taken off when it was placed).
fn signed_units(kind: &str, units: i64) -> i64 {
    match kind {
        "consume" | "hold" => -units,
        "hold_commit" => 0,
        _ => units,
    }
}

/// `GET /ledger`: newest first, 50 per page (keyset), filter by product.
pub async fn ledger(
    State(state): State<AppState>,
    member: Member,
    PortalQuery(query): PortalQuery<LedgerQuery>,
) -> Response {
    let Some(developer_id) = developer_of(&member) else { return not_found(&member) };
    let w = member.words;
    let product = query.product.clone().filter(|p| !p.is_empty());
    let before = query.before.as_deref().and_then(|b| b.parse::<i64>().ok()).filter(|b| *b > 0).unwrap_or(i64::MAX);
    let result = async {
        let products = products_on_sale(&state).await?;
        let rows =
            crate::ledger::store::entries(state.db.pool(), developer_id, product.as_deref(), before, LEDGER_PAGE + 1)
                .await?;
        Ok::<_, AppError>((products, rows))
    }
    .await;
    let (products, mut rows) = match result {
        Ok(found) => found,
        Err(error) => return app_error_page(&member, &error),
    };
    let page_size = usize::try_from(LEDGER_PAGE).unwrap_or(50);
    let next = (rows.len() > page_size).then(|| {
        let last = rows[page_size - 1].id;
        match &product {
            Some(p) => format!("/ledger?product={}&before={last}", super::pages::url_encode(p)),
            None => format!("/ledger?before={last}"),
        }
    });
    rows.truncate(page_size);
    let entries = rows
        .iter()
        .map(|e| EntryItem {
            when: crate::format::date_time(e.at_ms),
            kind: w.t(&format!("entry-{}", e.kind)),
            product: e.product.clone(),
            units: format!("{:+}", signed_units(&e.kind, e.units)),
            reference: e.reference.clone(),
        })
        .collect();
    let csv = match &product {
        Some(p) => format!("/ledger.csv?product={}", super::pages::url_encode(p)),
        None => "/ledger.csv".to_owned(),
    };
    let page = LedgerPage {
        chrome: Chrome::new(&member, "ledger", None),
        w,
        products: products.iter().map(|p| (p.code.clone(), product_name(&w, p))).collect(),
        product: product.unwrap_or_default(),
        entries,
        next,
        csv,
    };
    render(StatusCode::OK, &page)
}

/// A document as listed: number, kind in words, request number, request id, date.
pub struct DocumentItem {
    number: String,
    kind: String,
    request: String,
    request_id: i64,
    date: String,
    /// An invoice's e-invoice status, in the reader's words.
    e_invoice: String,
}

#[derive(Template)]
#[template(path = "portal/documents.html")]
struct DocumentsPage {
    chrome: Chrome,
    w: Words,
    documents: Vec<DocumentItem>,
    procedures: Vec<(String, String)>,
}

/// `GET /documents`: every quotation, invoice and delivery order of the company, newest first.
pub async fn documents(State(state): State<AppState>, member: Member) -> Response {
    let Some(developer_id) = developer_of(&member) else { return not_found(&member) };
    let w = member.words;
    let rows = crate::documents::store::developer_documents(state.db.pool(), developer_id).await;
    let documents = rows.map(|rows| {
        rows.into_iter()
            .map(|row| DocumentItem {
                number: row.number,
                kind: w.t(&format!("document-{}", row.kind)),
                request: row.request_number,
                request_id: row.request_id,
                date: crate::format::stored_date(&row.issued_on),
                e_invoice: row.e_invoice.map(|status| w.t(&format!("e-invoice-{status}"))).unwrap_or_default(),
            })
            .collect::<Vec<_>>()
    });
    let procedures = match state.db.pool().acquire().await {
        Ok(mut connection) => crate::documents::procedures::current(&mut connection).await,
        Err(error) => Err(error),
    };
    match (documents, procedures) {
        (Ok(documents), Ok(procedures)) => render(
            StatusCode::OK,
            &DocumentsPage {
                chrome: Chrome::new(&member, "documents", None),
                w,
                documents,
                procedures: procedures.iter().map(|p| (p.filename.clone(), p.url())).collect(),
            },
        ),
        (Err(error), _) | (_, Err(error)) => app_error_page(&member, &AppError::from(error)),
    }
}

/// A CSV field, quoted when needed; a leading `=`, `+`, `-` or `@` is
/// prefixed with `'` so a spreadsheet does not run it as a formula.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// `GET /ledger.csv`: the same entries as the page, all of them (to 100,000).
pub async fn ledger_csv(
    State(state): State<AppState>,
    member: Member,
    PortalQuery(query): PortalQuery<LedgerQuery>,
) -> Response {
    let Some(developer_id) = developer_of(&member) else { return not_found(&member) };
    let product = query.product.filter(|p| !p.is_empty());
    let rows =
        match crate::ledger::store::entries(state.db.pool(), developer_id, product.as_deref(), i64::MAX, CSV_ROWS_MAX)
            .await
        {
            Ok(rows) => rows,
            Err(error) => return app_error_page(&member, &AppError::from(error)),
        };
    let mut csv = String::from("id,time_kuala_lumpur,kind,product,units,reference,actor\r\n");
    for e in &rows {
        let line = [
            e.id.to_string(),
            millis_to_timestamp(e.at_ms).to_zoned(user_time_zone()).strftime("%Y-%m-%d %H:%M:%S").to_string(),
            e.kind.clone(),
            e.product.clone(),
            signed_units(&e.kind, e.units).to_string(),
            csv_field(&e.reference),
            csv_field(&e.actor),
        ]
        .join(",");
        csv.push_str(&line);
        csv.push_str("\r\n");
    }
    let filename =
        format!("attachment; filename=\"kuota-{}-ledger.csv\"", member.developer_code.clone().unwrap_or_default());
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, filename)], csv)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("HIMS-1"), "HIMS-1");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }

    #[test]
    fn consumption_shows_as_a_negative_number() {
        assert_eq!(signed_units("consume", 3), -3);
        assert_eq!(signed_units("credit", 3), 3);
        assert_eq!(signed_units("adjust", -2), -2);
        assert_eq!(signed_units("hold", 4) + signed_units("hold_commit", 4), -4, "a used hold counts once");
    }
}
