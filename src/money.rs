//! Money in integer sen (1 RM = 100 sen), never floats. Parsed from and
//! written as decimal strings with two decimals (`"5400.00"`); shown to people
//! as `RM 5,400.00`. Rates are basis points (8% = 800 bp); rounding is
//! half-up to the sen, written out.

use std::fmt;
use std::str::FromStr;

/// The largest amount accepted anywhere: RM 10,000,000,000.00.
pub const SEN_MAX: i64 = 1_000_000_000_000;

/// An amount of money in sen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Sen(i64);

/// Why a money or rate text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a decimal with at most two decimals.
    #[error("must be an amount in ringgit with at most two decimals, e.g. \"5400.00\"")]
    Format,
    /// Negative or too large.
    #[error("must be from 0.00 to 10000000000.00")]
    Range,
    /// A percentage outside 0..=100 or with more than two decimals.
    #[error("must be a percentage from 0 to 100 with at most two decimals, e.g. \"8\" or \"7.5\"")]
    Percent,
}

impl Sen {
    /// Zero ringgit.
    pub const ZERO: Self = Self(0);

    /// An amount from sen.
    ///
    /// # Errors
    /// Negative or above [`SEN_MAX`].
    pub fn new(sen: i64) -> Result<Self, MoneyError> {
        if (0..=SEN_MAX).contains(&sen) { Ok(Self(sen)) } else { Err(MoneyError::Range) }
    }

    /// The amount in sen.
    #[must_use]
    pub fn get(self) -> i64 {
        self.0
    }

    /// `self × units`, or `None` on overflow past [`SEN_MAX`].
    #[must_use]
    pub fn times(self, units: i64) -> Option<Self> {
        self.0.checked_mul(units).filter(|sen| (0..=SEN_MAX).contains(sen)).map(Self)
    }

    /// `self + other`, or `None` past [`SEN_MAX`].
    #[must_use]
    pub fn plus(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).filter(|sen| *sen <= SEN_MAX).map(Self)
    }

    /// `self − other`, saturating at zero.
    #[must_use]
    pub fn minus(self, other: Self) -> Self {
        Self((self.0 - other.0).max(0))
    }

    /// `self × basis_points / 10,000`, rounded half-up to the sen.
    #[must_use]
    pub fn apply_rate(self, rate: BasisPoints) -> Self {
        let product = i128::from(self.0) * i128::from(rate.0);
        let rounded = (product + 5_000) / 10_000;
        Self(i64::try_from(rounded).unwrap_or(SEN_MAX))
    }

    /// `RM 1,234.50`, for documents and pages.
    #[must_use]
    pub fn display_rm(self) -> String {
        let ringgit = (self.0 / 100).to_string();
        let mut grouped = String::new();
        for (index, digit) in ringgit.chars().enumerate() {
            if index > 0 && (ringgit.len() - index) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        format!("RM {grouped}.{:02}", self.0 % 100)
    }
}

impl fmt::Display for Sen {
    /// The API form: `5400.00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// Splits "123.4" into whole and hundredths, refusing anything else.
/// Most digits before the decimal point: RM 9,999,999,999.99 is the largest
/// amount a person can type (below [`SEN_MAX`]).
const WHOLE_DIGITS_MAX: usize = 10;

fn parse_hundredths(text: &str) -> Option<i64> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.len() <= WHOLE_DIGITS_MAX && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.len() > 2 || !(fraction.is_empty() || digits(fraction)) || text.ends_with('.') {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let hundredths: i64 = format!("{fraction:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(hundredths)
}

impl FromStr for Sen {
    type Err = MoneyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let sen = parse_hundredths(text).ok_or(MoneyError::Format)?;
        Self::new(sen)
    }
}

impl serde::Serialize for Sen {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A rate in basis points: 800 = 8%.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct BasisPoints(i64);

impl BasisPoints {
    /// A rate from basis points, 0..=10,000.
    ///
    /// # Errors
    /// Outside 0..=100%.
    pub fn new(points: i64) -> Result<Self, MoneyError> {
        if (0..=10_000).contains(&points) { Ok(Self(points)) } else { Err(MoneyError::Percent) }
    }

    /// The rate in basis points.
    #[must_use]
    pub fn get(self) -> i64 {
        self.0
    }
}

impl FromStr for BasisPoints {
    type Err = MoneyError;

    /// Parses a percentage such as `"8"` or `"7.5"`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let points = parse_hundredths(text).ok_or(MoneyError::Percent)?;
        Self::new(points)
    }
}

impl fmt::Display for BasisPoints {
    /// The API form of a percentage: `8.00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl serde::Serialize for BasisPoints {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_with_up_to_two_decimals() {
        assert_eq!("5400.00".parse::<Sen>(), Ok(Sen(540_000)));
        assert_eq!("50".parse::<Sen>(), Ok(Sen(5_000)));
        assert_eq!("0.5".parse::<Sen>(), Ok(Sen(50)));
        for bad in ["", "1.234", "-1.00", "1,000.00", "RM 5", "1e3", ".5", "5.", "NaN", " . "] {
            assert!(bad.parse::<Sen>().is_err(), "{bad:?}");
        }
        assert_eq!("99999999999999".parse::<Sen>(), Err(MoneyError::Format));
    }

    #[test]
    fn amounts_print_in_the_api_and_for_people() {
        assert_eq!(Sen(540_000).to_string(), "5400.00");
        assert_eq!(Sen(5).to_string(), "0.05");
        assert_eq!(Sen(540_000).display_rm(), "RM 5,400.00");
        assert_eq!(Sen(123_456_789).display_rm(), "RM 1,234,567.89");
        assert_eq!(Sen(99).display_rm(), "RM 0.99");
    }

    #[test]
    fn tax_rounds_half_up_to_the_sen() {
        let sst = BasisPoints(800);
        assert_eq!(Sen(540_000).apply_rate(sst), Sen(43_200));
        // 8% of RM 0.06 is 0.48 sen → 0; of RM 0.07 is 0.56 sen → 1.
        assert_eq!(Sen(6).apply_rate(sst), Sen(0));
        assert_eq!(Sen(7).apply_rate(sst), Sen(1));
        // Exactly half a sen rounds up: 8% of 6.25 sen = 0.5 sen.
        assert_eq!(Sen(625).apply_rate(BasisPoints(80)), Sen(5));
        assert_eq!(Sen(SEN_MAX).apply_rate(BasisPoints(10_000)), Sen(SEN_MAX));
    }

    #[test]
    fn percentages_parse_to_basis_points() {
        assert_eq!("8".parse::<BasisPoints>(), Ok(BasisPoints(800)));
        assert_eq!("7.5".parse::<BasisPoints>(), Ok(BasisPoints(750)));
        assert_eq!("100".parse::<BasisPoints>(), Ok(BasisPoints(10_000)));
        assert!("100.01".parse::<BasisPoints>().is_err());
        assert!("-1".parse::<BasisPoints>().is_err());
        assert_eq!(BasisPoints(800).to_string(), "8.00");
    }

    #[test]
    fn multiplication_refuses_overflow() {
        assert_eq!(Sen(5_000).times(100), Some(Sen(500_000)));
        assert_eq!(Sen(SEN_MAX).times(2), None);
    }
}
