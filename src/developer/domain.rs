//! Developer identifiers, parsed once at the edge: the developer code (kod
//! pemaju), the SSM registration number, the company name and the e-mail.

use std::fmt;
use std::str::FromStr;

/// Longest developer code accepted. Its real format is not public, so the rule
/// is kept here, in one place.
pub const DEVELOPER_CODE_MAX_CHARS: usize = 32;
/// Longest company name accepted.
pub const COMPANY_NAME_MAX_CHARS: usize = 200;
/// Longest e-mail address (RFC 5321 path limit).
pub const EMAIL_MAX_CHARS: usize = 254;

/// Why a developer field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeveloperFieldError {
    /// Empty or too long developer code.
    #[error("the developer code must be 1 to {DEVELOPER_CODE_MAX_CHARS} characters")]
    CodeLength,
    /// A character outside letters, digits, '-' and '/'.
    #[error("the developer code may hold only letters, digits, '-' and '/'")]
    CodeCharacters,
    /// Not 12 digits.
    #[error("the SSM registration number must be the 12-digit new format, e.g. 201901000005")]
    RegistrationFormat,
    /// Year or entity type out of range.
    #[error("the SSM registration number must start with a year from 1900 and an entity type 01 to 06")]
    RegistrationParts,
    /// Empty or too long name.
    #[error("the name must be 1 to {COMPANY_NAME_MAX_CHARS} characters")]
    NameLength,
    /// Control characters in a name.
    #[error("the name may not hold control characters")]
    NameCharacters,
    /// Not an e-mail address.
    #[error("the e-mail address must look like name@example.com.my")]
    Email,
}

/// A developer code, stored in upper case so `abc` and `ABC` are one developer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeveloperCode(String);

impl FromStr for DeveloperCode {
    type Err = DeveloperFieldError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > DEVELOPER_CODE_MAX_CHARS {
            return Err(DeveloperFieldError::CodeLength);
        }
        if !text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '/') {
            return Err(DeveloperFieldError::CodeCharacters);
        }
        Ok(Self(text.to_ascii_uppercase()))
    }
}

impl DeveloperCode {
    /// The code as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeveloperCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An SSM company registration number in the 12-digit format `YYYYTTNNNNNN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationNo(String);

impl FromStr for RegistrationNo {
    type Err = DeveloperFieldError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.len() != 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DeveloperFieldError::RegistrationFormat);
        }
        let year: u32 = text[0..4].parse().map_err(|_| DeveloperFieldError::RegistrationFormat)?;
        let entity_type: u32 = text[4..6].parse().map_err(|_| DeveloperFieldError::RegistrationFormat)?;
        if year < 1900 || !(1..=6).contains(&entity_type) {
            return Err(DeveloperFieldError::RegistrationParts);
        }
        Ok(Self(text.to_owned()))
    }
}

impl RegistrationNo {
    /// The number as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name of a company or a person: trimmed, 1..=200 characters, no control
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl FromStr for DisplayName {
    type Err = DeveloperFieldError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > COMPANY_NAME_MAX_CHARS {
            return Err(DeveloperFieldError::NameLength);
        }
        if text.chars().any(char::is_control) {
            return Err(DeveloperFieldError::NameCharacters);
        }
        Ok(Self(text.to_owned()))
    }
}

impl DisplayName {
    /// The name as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address, checked for shape only (delivery proves the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl FromStr for EmailAddress {
    type Err = DeveloperFieldError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let Some((local, domain)) = text.rsplit_once('@') else {
            return Err(DeveloperFieldError::Email);
        };
        let well_formed = text.len() <= EMAIL_MAX_CHARS
            && !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !text.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
            && !local.contains('@');
        if !well_formed {
            return Err(DeveloperFieldError::Email);
        }
        // One spelling everywhere (registration, sign-in, reset, invitation):
        // the whole address in lower case, so `Ali@x.my` and `ali@x.my` are
        // one account and both receive its mail.
        Ok(Self(text.to_lowercase()))
    }
}

impl EmailAddress {
    /// The address as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a developer company stands with retail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeveloperStatus {
    /// Registered itself; retail has not decided.
    PendingVerification,
    /// May request quota.
    Verified,
    /// Refused by retail.
    Rejected,
    /// A claim retail withdrew: its code, SSM number and e-mails are free.
    Withdrawn,
    /// A claim not verified in time: its code, SSM number and e-mails are free.
    Expired,
}

impl DeveloperStatus {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingVerification => "pending_verification",
            Self::Verified => "verified",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
        }
    }

    /// The status with this stored name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [Self::PendingVerification, Self::Verified, Self::Rejected, Self::Withdrawn, Self::Expired]
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

impl fmt::Display for DeveloperStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for DeveloperStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The 16 states and federal territories with their official codes.
pub const STATES: [(&str, &str); 16] = [
    ("01", "Johor"),
    ("02", "Kedah"),
    ("03", "Kelantan"),
    ("04", "Melaka"),
    ("05", "Negeri Sembilan"),
    ("06", "Pahang"),
    ("07", "Pulau Pinang"),
    ("08", "Perak"),
    ("09", "Perlis"),
    ("10", "Selangor"),
    ("11", "Terengganu"),
    ("12", "Sabah"),
    ("13", "Sarawak"),
    ("14", "W.P. Kuala Lumpur"),
    ("15", "W.P. Labuan"),
    ("16", "W.P. Putrajaya"),
];

/// Why an address or phone field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactFieldError {
    /// Not one of the 16 state codes.
    #[error("the state must be one of the codes 01 (Johor) to 16 (W.P. Putrajaya)")]
    State,
    /// Not five digits.
    #[error("the postcode must be 5 digits")]
    Postcode,
    /// Not a Malaysian number.
    #[error("the phone must be a Malaysian number, e.g. 012-345 6789 or 03-1234 5678")]
    Phone,
}

/// A state or federal territory, by its official two-digit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateCode(&'static str);

impl FromStr for StateCode {
    type Err = ContactFieldError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        STATES.iter().find(|(code, _)| *code == text.trim()).map(|(code, _)| Self(code)).ok_or(ContactFieldError::State)
    }
}

impl StateCode {
    /// The two-digit code.
    #[must_use]
    pub fn code(self) -> &'static str {
        self.0
    }
}

/// A Malaysian postcode: five digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Postcode(String);

impl FromStr for Postcode {
    type Err = ContactFieldError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.len() == 5 && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ContactFieldError::Postcode)
        }
    }
}

impl Postcode {
    /// The postcode.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Malaysian phone number, stored in E.164 (`+60123456789`). Mobiles are
/// `01X` + 7 or 8 digits; landlines 9 or 10 digits with the trunk 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl FromStr for Phone {
    type Err = ContactFieldError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let compact: String = text.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
        let national = if let Some(rest) = compact.strip_prefix("+60") {
            format!("0{rest}")
        } else if let Some(rest) = compact.strip_prefix("60").filter(|_| !compact.starts_with('0')) {
            format!("0{rest}")
        } else {
            compact
        };
        if !national.starts_with('0') || !national.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ContactFieldError::Phone);
        }
        let valid = if national.starts_with("01") {
            (10..=11).contains(&national.len())
        } else {
            (9..=10).contains(&national.len())
        };
        if !valid {
            return Err(ContactFieldError::Phone);
        }
        Ok(Self(format!("+60{}", &national[1..])))
    }
}

impl Phone {
    /// The E.164 form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a tax identity field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxIdentityError {
    /// Not an LHDN tax identification number.
    #[error(
        "the TIN must be LHDN's tax identification number: a prefix such as C (company) and 9 to 12 digits, e.g. C29702635060"
    )]
    Tin,
    /// Not `NA` or up to two SST registration numbers.
    #[error("the SST registration number must be NA, or one or two numbers (e.g. W10-1808-32000000) separated by ;")]
    Sst,
}

/// LHDN's tax identification number prefixes (companies `C`, partnerships
/// `D`, employers `E`, individuals `IG`, …).
const TIN_PREFIXES: [&str; 15] = ["CS", "FA", "PT", "TA", "TC", "TN", "TR", "TP", "LE", "IG", "C", "D", "E", "F", "J"];

/// An LHDN tax identification number: a prefix and 9 to 12 digits (at most
/// 14 characters, MyInvois's limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxId(String);

impl FromStr for TaxId {
    type Err = TaxIdentityError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim().to_ascii_uppercase();
        let digits = TIN_PREFIXES.iter().find_map(|prefix| text.strip_prefix(prefix)).ok_or(TaxIdentityError::Tin)?;
        if (9..=12).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(text))
        } else {
            Err(TaxIdentityError::Tin)
        }
    }
}

impl TaxId {
    /// The TIN.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An SST registration number (`W10-1808-32000000`), two separated by `;`,
/// or `NA` for a business not registered; at most 35 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SstRegistration(String);

impl FromStr for SstRegistration {
    type Err = TaxIdentityError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim().to_ascii_uppercase();
        if text == "NA" {
            return Ok(Self(text));
        }
        let parts: Vec<&str> = text.split(';').map(str::trim).collect();
        let valid = parts.len() <= 2
            && parts.iter().all(|part| {
                (5..=17).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        // Two numbers of at most 17 and their `;` are at most 35 characters.
        if valid { Ok(Self(parts.join(";"))) } else { Err(TaxIdentityError::Sst) }
    }
}

impl SstRegistration {
    /// The number(s), or `NA`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tax_identity_numbers_follow_lhdn() {
        assert_eq!("c29702635060".parse::<TaxId>().map(|t| t.0), Ok("C29702635060".to_owned()));
        assert!("IG115002000".parse::<TaxId>().is_ok());
        for wrong in ["", "29702635060", "C123", "X29702635060", "C2970263506012345", "C29702635O60"] {
            assert_eq!(wrong.parse::<TaxId>(), Err(TaxIdentityError::Tin), "{wrong}");
        }
        assert_eq!("na".parse::<SstRegistration>().map(|s| s.0), Ok("NA".to_owned()));
        assert!("W10-1808-32000000".parse::<SstRegistration>().is_ok());
        assert!("W10-1808-32000000; W10-1808-32000001".parse::<SstRegistration>().is_ok());
        for wrong in ["", "x", "W10-1808-32000000;W10;W11-1808-32000000", "W10 1808"] {
            assert_eq!(wrong.parse::<SstRegistration>(), Err(TaxIdentityError::Sst), "{wrong}");
        }
    }

    #[test]
    fn phones_are_stored_in_e164() {
        assert_eq!("012-345 6789".parse::<Phone>().map(|p| p.0), Ok("+60123456789".into()));
        assert_eq!("011-2345 6789".parse::<Phone>().map(|p| p.0), Ok("+601123456789".into()));
        assert_eq!("+60 3-1234 5678".parse::<Phone>().map(|p| p.0), Ok("+60312345678".into()));
        assert_eq!("03-1234 5678".parse::<Phone>().map(|p| p.0), Ok("+60312345678".into()));
        for bad in ["12345", "012-34", "+65 6123 4567", "abc", "0123456789012"] {
            assert_eq!(bad.parse::<Phone>(), Err(ContactFieldError::Phone), "{bad}");
        }
    }

    #[test]
    fn states_and_postcodes_follow_the_official_lists() {
        assert_eq!("14".parse::<StateCode>().map(StateCode::code), Ok("14"));
        assert!("17".parse::<StateCode>().is_err());
        assert!("50450".parse::<Postcode>().is_ok());
        assert!("5045".parse::<Postcode>().is_err());
    }

    #[test]
    fn developer_codes_are_normalised_to_upper_case() {
        assert_eq!("pmj-001/kl".parse::<DeveloperCode>().map(|c| c.to_string()), Ok("PMJ-001/KL".to_owned()));
    }

    #[test]
    fn developer_codes_refuse_spaces_empty_and_overlong() {
        assert_eq!("A B".parse::<DeveloperCode>(), Err(DeveloperFieldError::CodeCharacters));
        assert_eq!("".parse::<DeveloperCode>(), Err(DeveloperFieldError::CodeLength));
        assert_eq!("X".repeat(33).parse::<DeveloperCode>(), Err(DeveloperFieldError::CodeLength));
        assert_eq!("<script>".parse::<DeveloperCode>(), Err(DeveloperFieldError::CodeCharacters));
    }

    #[test]
    fn registration_numbers_follow_the_new_ssm_format() {
        assert!("201901000005".parse::<RegistrationNo>().is_ok());
        assert!("202306054321".parse::<RegistrationNo>().is_ok());
        assert_eq!("1312525-A".parse::<RegistrationNo>(), Err(DeveloperFieldError::RegistrationFormat));
        assert_eq!("20190100000".parse::<RegistrationNo>(), Err(DeveloperFieldError::RegistrationFormat));
        assert_eq!("201907000005".parse::<RegistrationNo>(), Err(DeveloperFieldError::RegistrationParts));
        assert_eq!("189901000005".parse::<RegistrationNo>(), Err(DeveloperFieldError::RegistrationParts));
        assert_eq!("２０１９01000005".parse::<RegistrationNo>(), Err(DeveloperFieldError::RegistrationFormat));
    }

    #[test]
    fn company_names_are_trimmed_and_bounded() {
        assert_eq!(
            "  Syarikat Maju Sdn. Bhd. ".parse::<DisplayName>().map(|n| n.0),
            Ok("Syarikat Maju Sdn. Bhd.".into())
        );
        assert_eq!("   ".parse::<DisplayName>(), Err(DeveloperFieldError::NameLength));
        assert_eq!("a\u{0}b".parse::<DisplayName>(), Err(DeveloperFieldError::NameCharacters));
        assert!("天宇发展 Sdn Bhd".parse::<DisplayName>().is_ok());
    }

    #[test]
    fn email_addresses_need_a_local_part_and_a_dotted_domain() {
        assert!("admin@maju.com.my".parse::<EmailAddress>().is_ok());
        assert_eq!("Admin@MAJU.com.my".parse::<EmailAddress>().map(|e| e.0), Ok("admin@maju.com.my".into()));
        for bad in ["", "admin", "@maju.my", "admin@maju", "a b@maju.my", "admin@.my", "a@b@c.my"] {
            assert_eq!(bad.parse::<EmailAddress>(), Err(DeveloperFieldError::Email), "{bad}");
        }
    }
}
