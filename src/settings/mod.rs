//! Settings an administrator changes without a release: quotation validity,
//! seller and bank details, weekend days, low-balance threshold, mail
//! addresses and the workflow's switches. Stored as one JSON document;
//! missing keys take defaults. The SST rate is by date (`sst_rates`, like
//! prices): [`sst_rate_on`], and `service::add_sst_rate`.

pub mod http;
pub mod service;
pub mod store;

use jiff::civil::Weekday;
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, AnyPool};

use crate::calendar::WorkingCalendar;
use crate::money::BasisPoints;

/// Seller particulars printed on quotations and invoices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Seller {
    /// Company name.
    pub name: String,
    /// SSM registration number.
    pub registration_no: String,
    /// SST registration number.
    pub sst_no: String,
    /// Postal address.
    pub address: String,
    /// Telephone.
    pub phone: String,
    /// E-mail.
    pub email: String,
    /// Bank for transfers.
    pub bank_name: String,
    /// Account number for transfers.
    pub bank_account: String,
    /// LHDN tax identification number, for e-invoices.
    pub tin: String,
    /// MSIC code (5 digits) of the business activity, for e-invoices.
    pub msic_code: String,
    /// The business activity's description (as in LHDN's MSIC table).
    pub msic_activity: String,
    /// City of the address, for e-invoices.
    pub city: String,
    /// Postcode of the address.
    pub postcode: String,
    /// State code of the address (`01`–`16`).
    pub state_code: String,
}

impl Default for Seller {
    fn default() -> Self {
        Self {
            name: "Pos Digicert Sdn. Bhd.".into(),
            registration_no: "(not set)".into(),
            sst_no: "(not set)".into(),
            address: "(not set)".into(),
            phone: "(not set)".into(),
            email: "kpkt.retail@posdigicert.com.my".into(),
            bank_name: "(not set)".into(),
            bank_account: "(not set)".into(),
            tin: String::new(),
            msic_code: String::new(),
            msic_activity: String::new(),
            city: String::new(),
            postcode: String::new(),
            state_code: String::new(),
        }
    }
}

/// The largest second-person threshold (a balance holds at most this much).
pub const SECOND_PERSON_THRESHOLD_MAX: i64 = 1_000_000_000;

/// Every setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// How long a quotation stays valid.
    pub quotation_validity_working_days: i64,
    /// Days not worked, lower-case English names.
    pub weekend: Vec<String>,
    /// Balance at or below which a developer is warned, per product.
    pub low_balance_threshold: i64,
    /// Seller particulars.
    pub seller: Seller,
    /// Retail team's address.
    pub retail_email: String,
    /// Finance department's address.
    pub finance_email: String,
    /// A payment approval crediting more units than this needs a second
    /// retail officer or administrator.
    pub approval_second_person_above_units: i64,
    /// A quota adjustment of more units than this (either sign) needs a
    /// second retail officer or administrator.
    pub adjustment_second_person_above_units: i64,
    /// Days an unverified self-registration waits before it expires and
    /// releases its code, SSM number and e-mail addresses.
    pub registration_expiry_days: i64,
    /// Every retail, finance and admin user must enrol a second factor
    /// before their first page (else only those who enrolled use it).
    pub require_staff_second_factor: bool,
    /// Months after a user's deactivation when their personal data (name,
    /// e-mail) is replaced by a pseudonym.
    pub personal_data_retention_months: i64,
    /// A submitted request whose every product has a price in effect is
    /// quoted at list price at once, by the system (retail may still revise
    /// it or ask for information); off: retail quotes every request.
    pub instant_quotation: bool,
    /// The tax invoice and delivery order are issued in the transaction that
    /// credits the quota (paid for online, transfer and counter payments,
    /// unpaid for a PO); off: finance issues them.
    pub invoice_on_credit: bool,
    /// LHDN's classification code for quota lines on e-invoices (`022`, others).
    pub einvoice_classification: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            quotation_validity_working_days: 14,
            weekend: vec!["saturday".into(), "sunday".into()],
            low_balance_threshold: 10,
            seller: Seller::default(),
            retail_email: "kpkt.retail@posdigicert.com.my".into(),
            finance_email: "finance@posdigicert.com.my".into(),
            approval_second_person_above_units: 1_000,
            adjustment_second_person_above_units: 1_000,
            registration_expiry_days: 14,
            require_staff_second_factor: false,
            personal_data_retention_months: 24,
            instant_quotation: true,
            invoice_on_credit: true,
            einvoice_classification: "022".into(),
        }
    }
}

/// The weekday with this English name.
#[must_use]
pub fn weekday(name: &str) -> Option<Weekday> {
    [
        ("monday", Weekday::Monday),
        ("tuesday", Weekday::Tuesday),
        ("wednesday", Weekday::Wednesday),
        ("thursday", Weekday::Thursday),
        ("friday", Weekday::Friday),
        ("saturday", Weekday::Saturday),
        ("sunday", Weekday::Sunday),
    ]
    .into_iter()
    .find_map(|(text, day)| (text == name).then_some(day))
}

impl Settings {
    /// Checks every value; returns (field, message) for each wrong one.
    #[must_use]
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if !(1..=365).contains(&self.quotation_validity_working_days) {
            problems.push(("quotation_validity_working_days".into(), "must be from 1 to 365".into()));
        }
        if self.weekend.len() > 6 || self.weekend.iter().any(|day| weekday(day).is_none()) {
            problems.push(("weekend".into(), "must list at most six lower-case English day names".into()));
        }
        if !(0..=1_000_000).contains(&self.low_balance_threshold) {
            problems.push(("low_balance_threshold".into(), "must be from 0 to 1000000".into()));
        }
        for (name, units) in [
            ("approval_second_person_above_units", self.approval_second_person_above_units),
            ("adjustment_second_person_above_units", self.adjustment_second_person_above_units),
        ] {
            if !(0..=SECOND_PERSON_THRESHOLD_MAX).contains(&units) {
                problems.push((name.into(), format!("must be from 0 to {SECOND_PERSON_THRESHOLD_MAX}")));
            }
        }
        if !(1..=240).contains(&self.personal_data_retention_months) {
            problems.push(("personal_data_retention_months".into(), "must be from 1 to 240".into()));
        }
        if !(1..=365).contains(&self.registration_expiry_days) {
            problems.push(("registration_expiry_days".into(), "must be from 1 to 365".into()));
        }
        self.e_invoice_problems(&mut problems);
        problems
    }

    /// The e-invoice fields' formats (whether a code is in LHDN's table is
    /// checked with the document, before submission).
    fn e_invoice_problems(&self, problems: &mut Vec<(String, String)>) {
        let seller = &self.seller;
        let tin_ok = seller.tin.trim() == seller.tin && seller.tin.parse::<crate::developer::domain::TaxId>().is_ok();
        if !seller.tin.is_empty() && !tin_ok {
            problems.push(("seller.tin".into(), "must be LHDN's TIN: a prefix such as C and 9 to 12 digits".into()));
        }
        let digits = |text: &str, count: usize| text.len() == count && text.bytes().all(|b| b.is_ascii_digit());
        if !seller.msic_code.is_empty() && !digits(&seller.msic_code, 5) {
            problems.push(("seller.msic_code".into(), "must be a 5-digit MSIC code".into()));
        }
        if !seller.postcode.is_empty() && !digits(&seller.postcode, 5) {
            problems.push(("seller.postcode".into(), "must be 5 digits".into()));
        }
        if !seller.state_code.is_empty() && seller.state_code.parse::<crate::developer::domain::StateCode>().is_err() {
            problems.push(("seller.state_code".into(), "must be a state code from 01 to 16".into()));
        }
        if !digits(&self.einvoice_classification, 3) {
            problems.push((
                "einvoice_classification".into(),
                "must be LHDN's 3-digit classification code, e.g. 022".into(),
            ));
        }
    }

    /// The working calendar with these weekend days and the given holidays.
    #[must_use]
    pub fn calendar(&self, holidays: Vec<jiff::civil::Date>) -> WorkingCalendar {
        WorkingCalendar::new(self.weekend.iter().filter_map(|day| weekday(day)), holidays)
    }
}

/// The current settings.
///
/// # Errors
/// A database fault.
pub async fn load(pool: &AnyPool) -> sqlx::Result<Settings> {
    load_in(&mut *pool.acquire().await?).await
}

/// The current settings, read inside the caller's transaction.
///
/// # Errors
/// A database fault.
pub async fn load_in(connection: &mut AnyConnection) -> sqlx::Result<Settings> {
    let Some(text) = store::find_document(connection).await? else { return Ok(Settings::default()) };
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

/// Stores the settings.
///
/// # Errors
/// A database fault.
pub async fn save(connection: &mut AnyConnection, settings: &Settings) -> sqlx::Result<()> {
    let text = serde_json::to_string(settings).unwrap_or_default();
    store::save_document(connection, &text).await
}

/// The SST rate in force on `day`.
///
/// # Errors
/// A database fault, or no rate in force that day (the table starts in 2018).
pub async fn sst_rate_on(connection: &mut AnyConnection, day: jiff::civil::Date) -> anyhow::Result<BasisPoints> {
    let rate = store::sst_rate_on(connection, &day.to_string()).await?;
    let rate = rate.ok_or_else(|| anyhow::anyhow!("no SST rate is in force on {day}"))?;
    Ok(BasisPoints::new(rate)?)
}

/// The working calendar in force: settings' weekend and the holiday table.
///
/// # Errors
/// A database fault.
pub async fn working_calendar(pool: &AnyPool) -> sqlx::Result<WorkingCalendar> {
    let settings = load(pool).await?;
    Ok(settings.calendar(crate::calendar::store::dates(pool).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_seed_and_the_tax_rules() {
        let settings = Settings::default();
        assert!(settings.problems().is_empty());
        assert_eq!(settings.quotation_validity_working_days, 14);
    }

    #[test]
    fn wrong_values_are_named() {
        let settings =
            Settings { quotation_validity_working_days: 0, weekend: vec!["funday".into()], ..Settings::default() };
        let fields: Vec<String> = settings.problems().into_iter().map(|(field, _)| field).collect();
        assert_eq!(fields, ["quotation_validity_working_days", "weekend"]);
    }
}
