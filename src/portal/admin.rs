//! The administrator's page: settings (tax, quotation validity, seller and
//! bank details, mail addresses, low-balance threshold), prices, holidays,
//! procedure attachments, users and API clients. Changes go through the
//! API's handlers or the same functions the command line uses.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;

use super::pages::{Chrome, DoneQuery, PortalQuery, app_error_page, error_page, render};
use super::session::Member;
use crate::auth::users::{Language, NewUser};
use crate::auth::{Role, Scope};
use crate::developer::DisplayName;
use crate::error::{AppError, AppResult};
use crate::i18n::Words;
use crate::money::Sen;
use crate::settings::Settings;
use crate::settings::service::SettingsError;
use crate::state::AppState;
use jiff::civil::Date;

/// The settings form's fields: name, input type.
const SETTING_FIELDS: [(&str, &str); 26] = [
    ("quotation_validity_working_days", "number"),
    ("low_balance_threshold", "number"),
    ("approval_second_person_above_units", "number"),
    ("adjustment_second_person_above_units", "number"),
    ("registration_expiry_days", "number"),
    ("require_staff_second_factor", "checkbox"),
    ("personal_data_retention_months", "number"),
    ("instant_quotation", "checkbox"),
    ("invoice_on_credit", "checkbox"),
    ("retail_email", "email"),
    ("finance_email", "email"),
    ("seller.name", "text"),
    ("seller.registration_no", "text"),
    ("seller.sst_no", "text"),
    ("seller.address", "text"),
    ("seller.phone", "tel"),
    ("seller.email", "email"),
    ("seller.bank_name", "text"),
    ("seller.bank_account", "text"),
    ("seller.tin", "text"),
    ("seller.msic_code", "text"),
    ("seller.msic_activity", "text"),
    ("seller.city", "text"),
    ("seller.postcode", "text"),
    ("seller.state_code", "text"),
    ("einvoice_classification", "text"),
];

fn setting_value(settings: &Settings, name: &str) -> String {
    let seller = &settings.seller;
    match name {
        "quotation_validity_working_days" => settings.quotation_validity_working_days.to_string(),
        "low_balance_threshold" => settings.low_balance_threshold.to_string(),
        "approval_second_person_above_units" => settings.approval_second_person_above_units.to_string(),
        "adjustment_second_person_above_units" => settings.adjustment_second_person_above_units.to_string(),
        "registration_expiry_days" => settings.registration_expiry_days.to_string(),
        "personal_data_retention_months" => settings.personal_data_retention_months.to_string(),
        "require_staff_second_factor" => if settings.require_staff_second_factor { "on" } else { "" }.to_owned(),
        "instant_quotation" => if settings.instant_quotation { "on" } else { "" }.to_owned(),
        "invoice_on_credit" => if settings.invoice_on_credit { "on" } else { "" }.to_owned(),
        "retail_email" => settings.retail_email.clone(),
        "finance_email" => settings.finance_email.clone(),
        "seller.name" => seller.name.clone(),
        "seller.registration_no" => seller.registration_no.clone(),
        "seller.sst_no" => seller.sst_no.clone(),
        "seller.address" => seller.address.clone(),
        "seller.phone" => seller.phone.clone(),
        "seller.email" => seller.email.clone(),
        "seller.bank_name" => seller.bank_name.clone(),
        "seller.bank_account" => seller.bank_account.clone(),
        "seller.tin" => seller.tin.clone(),
        "seller.msic_code" => seller.msic_code.clone(),
        "seller.msic_activity" => seller.msic_activity.clone(),
        "seller.city" => seller.city.clone(),
        "seller.postcode" => seller.postcode.clone(),
        "seller.state_code" => seller.state_code.clone(),
        "einvoice_classification" => settings.einvoice_classification.clone(),
        _ => String::new(),
    }
}

/// One settings field as shown.
pub struct SettingField {
    id: String,
    name: &'static str,
    kind: &'static str,
    label: String,
    value: String,
    error: Option<String>,
}

/// A product with its price today.
pub struct PriceRow {
    code: String,
    name: String,
    price: String,
}

/// A user as listed.
pub struct UserRow {
    id: i64,
    active: bool,
    email: String,
    name: String,
    role: String,
    company: String,
}

#[derive(Template)]
#[template(path = "portal/admin.html")]
struct AdminPage {
    chrome: Chrome,
    w: Words,
    csrf: String,
    settings: Vec<SettingField>,
    prices: Vec<PriceRow>,
    /// SST rates: first day (as people read it), rate.
    sst_rates: Vec<(String, String)>,
    holidays: Vec<(String, String, String)>,
    procedures: Vec<(String, String)>,
    users: Vec<UserRow>,
    clients: Vec<(i64, String, String, String)>,
    roles: Vec<(&'static str, String)>,
    new_token: Option<String>,
    problem: Option<String>,
    today: String,
}

/// Most users the administration page lists (the API pages through all).
const ADMIN_USERS_MAX: i64 = 1_000;

/// What was typed into the settings form (field → value) and what was wrong (field → message).
type TypedSettings<'a> = (&'a HashMap<String, String>, &'a HashMap<String, String>);

async fn admin_page(
    state: &AppState,
    member: &Member,
    done: Option<&str>,
    typed: Option<TypedSettings<'_>>,
    new_token: Option<String>,
    problem: Option<String>,
) -> AppResult<AdminPage> {
    let w = member.words;
    let pool = state.db.pool();
    let current = crate::settings::load(pool).await?;
    let settings = SETTING_FIELDS
        .iter()
        .map(|(name, kind)| SettingField {
            id: format!("setting-{}", name.replace('.', "-")),
            name,
            kind,
            label: w.t(&format!("setting-{}", name.replace('.', "-"))),
            value: typed
                .and_then(|(values, _)| values.get(*name).cloned())
                .unwrap_or_else(|| setting_value(&current, name)),
            error: typed.and_then(|(_, errors)| errors.get(*name).cloned()),
        })
        .collect();
    let today = crate::clock::today_local(state.clock.now()).to_string();
    let prices = crate::catalogue::products(pool, &today)
        .await?
        .iter()
        .map(|p| PriceRow {
            code: p.code.clone(),
            name: super::developer::product_name(&w, p),
            price: p.unit_price.map(crate::format::rm).unwrap_or_else(|| w.t("no-price")),
        })
        .collect();
    let holidays = crate::calendar::store::all(pool)
        .await?
        .into_iter()
        .filter(|h| h.date >= today)
        .map(|h| {
            let name = if w.language == Language::Ms { h.name_ms } else { h.name_en };
            (h.date.clone(), crate::format::stored_date(&h.date), name)
        })
        .collect();
    let mut connection = pool.acquire().await?;
    let procedures = crate::documents::procedures::current(&mut connection)
        .await?
        .iter()
        .map(|p| (p.filename.clone(), p.url()))
        .collect();
    drop(connection);
    let users = crate::auth::store::users(pool, crate::auth::store::Whose::Everyone, 0, ADMIN_USERS_MAX)
        .await?
        .into_iter()
        .map(|row| UserRow {
            id: row.id,
            active: row.deactivated_at_ms.is_none(),
            email: row.email,
            name: row.name,
            role: w.t(&format!("role-{}", row.role)),
            company: row.company,
        })
        .collect::<Vec<_>>();
    let clients = crate::auth::store::all_clients(pool)
        .await?
        .into_iter()
        .map(|row| (row.id, row.name, row.scope, row.revoked_at_ms.map(crate::format::date_time).unwrap_or_default()))
        .collect::<Vec<_>>();
    let sst_rates = sst_rate_rows(state).await?;
    Ok(AdminPage {
        chrome: Chrome::new(member, "admin", done),
        w,
        csrf: member.csrf.clone(),
        settings,
        prices,
        sst_rates,
        holidays,
        procedures,
        users,
        clients,
        roles: Role::USER_ROLES.iter().map(|r| (r.as_str(), w.t(&format!("role-{}", r.as_str())))).collect(),
        new_token,
        problem,
        today,
    })
}

/// `GET /admin` (administrators).
pub async fn overview(
    State(state): State<AppState>,
    member: Member,
    PortalQuery(query): PortalQuery<DoneQuery>,
) -> Response {
    if !member.is_admin() {
        return error_page(&member.words, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    }
    match admin_page(&state, &member, query.done.as_deref(), None, None, None).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(error) => app_error_page(&member, &error),
    }
}

/// `POST /admin/{section}`: settings, price, holiday, procedure, user or client.
pub async fn change(
    State(state): State<AppState>,
    member: Member,
    Path(section): Path<String>,
    request: Request,
) -> Response {
    let w = member.words;
    if !member.is_admin() {
        return error_page(&w, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    }
    let (values, file) = match super::requests::read_form(request, &state).await {
        Ok(form) => form,
        Err(StatusCode::PAYLOAD_TOO_LARGE) => {
            return error_page(&w, Some(&member), StatusCode::PAYLOAD_TOO_LARGE, "error-too-large");
        }
        Err(_) => return error_page(&w, Some(&member), StatusCode::BAD_REQUEST, "error-invalid"),
    };
    if let Some(refused) = member.refuse_bad_csrf(values.get("csrf").map_or("", String::as_str)) {
        return refused;
    }
    let result: AppResult<Option<String>> = match section.as_str() {
        "settings" => match replace_settings(&state, &member, &values).await {
            Ok(Some(page)) => return page,
            Ok(None) => Ok(None),
            Err(error) => Err(error),
        },
        "price" => add_price(&state, &member, &values).await,
        "sst-rate" => add_sst_rate(&state, &member, &values).await,
        "holiday" => set_holiday(&state, &member, &values).await,
        "holiday-delete" => remove_holiday(&state, &member, &values).await,
        "procedure" => match (crate::documents::procedures::parse_name(&field(&values, "name")), file) {
            (Ok(name), Some((_, bytes))) => {
                crate::documents::procedures::store(&state, &member.caller, name.to_owned(), &bytes).await.map(|_| None)
            }
            _ => Err(AppError::invalid_field("procedure", "name and PDF file")),
        },
        "user" => invite_staff(&state, &member, &values).await.map(|()| None),
        "client-revoke" => revoke_client(&state, &member, &values).await,
        "client" => create_client(&state, &member, &values).await,
        _ => return error_page(&w, Some(&member), StatusCode::NOT_FOUND, "error-not-found"),
    };
    match result {
        Ok(None) => Redirect::to(&format!("/admin?done=admin-{section}")).into_response(),
        Ok(Some(token)) => match admin_page(&state, &member, Some("admin-client"), None, Some(token), None).await {
            Ok(page) => render(StatusCode::CREATED, &page),
            Err(error) => app_error_page(&member, &error),
        },
        Err(error) if error.status().is_client_error() && error.status() != StatusCode::FORBIDDEN => {
            let problem = Some(format!("{} ({error})", w.t(&format!("admin-error-{section}"))));
            match admin_page(&state, &member, None, None, None, problem).await {
                Ok(page) => render(error.status(), &page),
                Err(error) => app_error_page(&member, &error),
            }
        }
        Err(error) => app_error_page(&member, &error),
    }
}

/// A trimmed form field, empty when absent.
fn field(values: &HashMap<String, String>, name: &str) -> String {
    values.get(name).map(|v| v.trim().to_owned()).unwrap_or_default()
}

/// Replaces the settings; a page with each wrong field beside it when refused.
async fn replace_settings(
    state: &AppState,
    member: &Member,
    values: &HashMap<String, String>,
) -> AppResult<Option<Response>> {
    let w = member.words;
    let current = crate::settings::load(state.db.pool()).await?;
    let value = |name: &str| field(values, name);
    let number = |name: &str| value(name).parse::<i64>().unwrap_or(-1);
    let settings = Settings {
        quotation_validity_working_days: number("quotation_validity_working_days"),
        low_balance_threshold: number("low_balance_threshold"),
        approval_second_person_above_units: number("approval_second_person_above_units"),
        adjustment_second_person_above_units: number("adjustment_second_person_above_units"),
        registration_expiry_days: number("registration_expiry_days"),
        require_staff_second_factor: value("require_staff_second_factor") == "on",
        personal_data_retention_months: number("personal_data_retention_months"),
        instant_quotation: value("instant_quotation") == "on",
        invoice_on_credit: value("invoice_on_credit") == "on",
        retail_email: value("retail_email"),
        finance_email: value("finance_email"),
        seller: crate::settings::Seller {
            name: value("seller.name"),
            registration_no: value("seller.registration_no"),
            sst_no: value("seller.sst_no"),
            address: value("seller.address"),
            phone: value("seller.phone"),
            email: value("seller.email"),
            bank_name: value("seller.bank_name"),
            bank_account: value("seller.bank_account"),
            tin: value("seller.tin").to_uppercase(),
            msic_code: value("seller.msic_code"),
            msic_activity: value("seller.msic_activity"),
            city: value("seller.city"),
            postcode: value("seller.postcode"),
            state_code: value("seller.state_code"),
        },
        einvoice_classification: value("einvoice_classification"),
        weekend: current.weekend,
    };
    match crate::settings::service::replace(state, &member.caller, settings).await {
        Ok(_) => Ok(None),
        Err(SettingsError::Invalid(errors)) => {
            let errors: HashMap<String, String> = errors
                .into_iter()
                .map(|e| {
                    let text = w.t(&format!("setting-error-{}", e.field.replace('.', "-")));
                    let text = if text.starts_with('⟦') { w.t("error-invalid-field") } else { text };
                    (e.field, text)
                })
                .collect();
            let page = admin_page(state, member, None, Some((values, &errors)), None, None).await?;
            Ok(Some(render(StatusCode::BAD_REQUEST, &page)))
        }
        Err(error) => Err(error.into()),
    }
}

async fn add_price(state: &AppState, member: &Member, values: &HashMap<String, String>) -> AppResult<Option<String>> {
    match (field(values, "unit_price").parse::<Sen>(), field(values, "effective_from").parse::<Date>()) {
        (Ok(price), Ok(from)) => {
            crate::catalogue::service::add_price(state, &member.caller, &field(values, "product"), price, from).await?;
            Ok(None)
        }
        (Err(_), _) => Err(AppError::invalid_field("unit_price", "an amount in RM")),
        (_, Err(_)) => Err(AppError::invalid_field("effective_from", "a date")),
    }
}

/// The SST rates, newest first, as the page lists them.
async fn sst_rate_rows(state: &AppState) -> AppResult<Vec<(String, String)>> {
    let rates = crate::settings::service::sst_rates(state).await?;
    Ok(rates
        .into_iter()
        .rev()
        .map(|rate| (crate::format::stored_date(&rate.effective_from), format!("{}%", rate.rate_percent)))
        .collect())
}

async fn add_sst_rate(
    state: &AppState,
    member: &Member,
    values: &HashMap<String, String>,
) -> AppResult<Option<String>> {
    match (
        field(values, "rate_percent").parse::<crate::money::BasisPoints>(),
        field(values, "effective_from").parse::<Date>(),
    ) {
        (Ok(rate), Ok(from)) => {
            crate::settings::service::add_sst_rate(state, &member.caller, from, rate).await?;
            Ok(None)
        }
        (Err(_), _) => Err(AppError::invalid_field("rate_percent", "a percentage")),
        (_, Err(_)) => Err(AppError::invalid_field("effective_from", "a date")),
    }
}

async fn set_holiday(state: &AppState, member: &Member, values: &HashMap<String, String>) -> AppResult<Option<String>> {
    let date = field(values, "date").parse::<Date>();
    let names = (field(values, "name_ms").parse::<DisplayName>(), field(values, "name_en").parse::<DisplayName>());
    match (date, names) {
        (Ok(date), (Ok(name_ms), Ok(name_en))) => {
            crate::calendar::service::set(state, &member.caller, date, &name_ms, &name_en).await?;
            Ok(None)
        }
        (Err(_), _) => Err(AppError::invalid_field("date", "a date")),
        _ => Err(AppError::invalid_field("name", "1 to 200 characters")),
    }
}

async fn remove_holiday(
    state: &AppState,
    member: &Member,
    values: &HashMap<String, String>,
) -> AppResult<Option<String>> {
    let date = field(values, "date");
    let date = date.parse::<Date>().map_err(|_| AppError::NotFound(format!("{date} is not a holiday")))?;
    crate::calendar::service::remove(state, &member.caller, date).await?;
    Ok(None)
}

async fn revoke_client(
    state: &AppState,
    member: &Member,
    values: &HashMap<String, String>,
) -> AppResult<Option<String>> {
    let id = field(values, "id").parse::<i64>().unwrap_or_default();
    if crate::auth::store::revoke_client(&state.db, &state.audit_key, id, &member.caller.actor(), state.clock.now_ms())
        .await?
    {
        state.token_cache.clear();
        Ok(None)
    } else {
        Err(AppError::NotFound(format!("there is no active API client {id}")))
    }
}

/// Creates an API client; its token, shown once.
async fn create_client(
    state: &AppState,
    member: &Member,
    values: &HashMap<String, String>,
) -> AppResult<Option<String>> {
    let scope = if field(values, "scope") == "admin" { Scope::Admin } else { Scope::Hims };
    let name = field(values, "name");
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid_field("name", "1 to 100 characters"));
    }
    let (actor, now_ms) = (member.caller.actor(), state.clock.now_ms());
    let created = crate::auth::store::create_client(state.db.pool(), &state.audit_key, &name, scope, &actor, now_ms)
        .await
        .map_err(AppError::Internal)?;
    Ok(Some(created.1))
}

/// Creates a user of any role and mails them a link to set their password.
async fn invite_staff(state: &AppState, member: &Member, values: &HashMap<String, String>) -> AppResult<()> {
    let value = |name: &str| values.get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
    let role: Role = value("role").parse().map_err(|e: String| AppError::invalid_field("role", e))?;
    let (developer_id, company) = if role.is_developer() {
        let code: crate::developer::DeveloperCode =
            value("developer").parse().map_err(|_| AppError::invalid_field("developer", "a developer code"))?;
        (Some(crate::developer::store::require_by_code(state.db.pool(), &code).await?.id), code.as_str().to_owned())
    } else {
        (None, "Pos Digicert".to_owned())
    };
    let user = NewUser {
        email: value("email")
            .to_lowercase()
            .parse()
            .map_err(|_| AppError::invalid_field("email", "an e-mail address"))?,
        name: value("name").parse().map_err(|_| AppError::invalid_field("name", "a name"))?,
        language: value("language").parse().unwrap_or(Language::Ms),
        role,
        developer_id,
    };
    super::account::invite_user(state, member, &user, &company).await
}
