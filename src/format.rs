//! How values are written for people — pages, e-mail and PDFs alike — so they
//! agree: dates as dd/mm/yyyy in Kuala Lumpur, amounts as `RM 1,234.50`, rates
//! as `8%` or `7.5%`. (The API writes values for machines: ISO dates, `"5400.00"`,
//! `"8.00"`; see `money` and `clock`.)

use jiff::civil::Date;

use crate::clock::{millis_to_timestamp, today_local, user_time_zone};
use crate::money::{BasisPoints, Sen};

/// `28/11/2026`.
#[must_use]
pub fn date(day: Date) -> String {
    day.strftime("%d/%m/%Y").to_string()
}

/// A stored `2026-11-28` as `28/11/2026`; anything else as it is.
#[must_use]
pub fn stored_date(iso: &str) -> String {
    iso.parse::<Date>().map_or_else(|_| iso.to_owned(), date)
}

/// The Kuala Lumpur day of a Unix-ms instant, as `28/11/2026`.
#[must_use]
pub fn day_of(ms: i64) -> String {
    date(today_local(millis_to_timestamp(ms)))
}

/// A Unix-ms instant in Kuala Lumpur, as `28/11/2026 14:05`.
#[must_use]
pub fn date_time(ms: i64) -> String {
    millis_to_timestamp(ms).to_zoned(user_time_zone()).strftime("%d/%m/%Y %H:%M").to_string()
}

/// `RM 1,234.50`.
#[must_use]
pub fn rm(amount: Sen) -> String {
    amount.display_rm()
}

/// A stored amount in sen as `RM 1,234.50` (a value out of range as RM 0.00).
#[must_use]
pub fn rm_sen(sen: i64) -> String {
    rm(Sen::new(sen).unwrap_or_default())
}

/// `8%`, `7.5%`, `6.25%`: no trailing zeros.
#[must_use]
pub fn percent(rate: BasisPoints) -> String {
    let text = rate.to_string();
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
}

/// A stored rate in basis points as `8%` (a value out of range as 0%).
#[must_use]
pub fn percent_bp(basis_points: i64) -> String {
    percent(BasisPoints::new(basis_points).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_read_malaysian_formats() {
        assert_eq!(stored_date("2026-11-28"), "28/11/2026");
        assert_eq!(stored_date("not a date"), "not a date");
        assert_eq!(rm_sen(123_450), "RM 1,234.50");
        assert_eq!(percent_bp(800), "8%");
        assert_eq!(percent_bp(750), "7.5%");
        assert_eq!(percent_bp(625), "6.25%");
        assert_eq!(percent_bp(0), "0%");
        assert_eq!(percent_bp(10_000), "100%");
    }

    #[test]
    fn times_are_shown_in_kuala_lumpur() {
        // 2026-12-01 16:30 UTC is 2 December, 00:30 in Kuala Lumpur.
        let ms = 1_796_142_600_000;
        assert_eq!(date_time(ms), "02/12/2026 00:30");
        assert_eq!(day_of(ms), "02/12/2026");
    }
}
