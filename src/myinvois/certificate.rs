//! The signing certificate, as much of X.509 as the MyInvois signature
//! needs: its DER bytes (for `CertDigest` and `X509Certificate`), the issuer
//! and subject names as LHDN prints them (`CN=…, OU=…, O=…, C=MY`: most
//! specific first, as .NET writes a distinguished name), and the serial
//! number in decimal. A small DER reader; no other X.509 checks are made
//! here (MyInvois checks the certificate itself). Pure.

use base64::Engine as _;

/// Why a certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// No `-----BEGIN CERTIFICATE-----` block, or bad base64.
    #[error("no PEM certificate")]
    NotPem,
    /// The DER is not an X.509 certificate.
    #[error("not an X.509 certificate (at byte {0})")]
    Malformed(usize),
}

/// A certificate's parts the signature uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The DER bytes.
    pub der: Vec<u8>,
    /// Issuer, `CN=…, OU=…, O=…, C=…`.
    pub issuer: String,
    /// Subject, the same way.
    pub subject: String,
    /// Serial number in decimal.
    pub serial: String,
    /// Subject attributes by dotted OID, in DER order (`2.5.4.97` is the
    /// organisation identifier, LHDN's TIN; `2.5.4.5` the serial number, BRN).
    pub subject_attributes: Vec<(String, String)>,
    /// The subject's RSA public key (PKCS#1 `RSAPublicKey` DER).
    pub public_key: Vec<u8>,
}

/// The body of the first PEM block labelled `label`, decoded.
///
/// # Errors
/// No such block, or bad base64.
pub fn pem_block(text: &str, label: &str) -> Result<Vec<u8>, CertificateError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin).ok_or(CertificateError::NotPem)? + begin.len();
    let stop = start + text[start..].find(&end).ok_or(CertificateError::NotPem)?;
    let body: String = text[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(body).map_err(|_| CertificateError::NotPem)
}

/// One DER element: its tag, and where its contents are.
struct Element {
    tag: u8,
    start: usize,
    end: usize,
}

fn element(der: &[u8], at: usize) -> Result<Element, CertificateError> {
    let bad = || CertificateError::Malformed(at);
    let tag = *der.get(at).ok_or_else(bad)?;
    let first = *der.get(at + 1).ok_or_else(bad)?;
    let (length, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return Err(bad());
        }
        let bytes = der.get(at + 2..at + 2 + count).ok_or_else(bad)?;
        (bytes.iter().fold(0_usize, |n, b| (n << 8) | usize::from(*b)), 2 + count)
    };
    let start = at + header;
    let end = start.checked_add(length).filter(|end| *end <= der.len()).ok_or_else(bad)?;
    Ok(Element { tag, start, end })
}

/// The elements inside a constructed element, in order.
fn children(der: &[u8], parent: &Element) -> Result<Vec<Element>, CertificateError> {
    let mut out = Vec::new();
    let mut at = parent.start;
    while at < parent.end {
        let child = element(der, at)?;
        at = child.end;
        out.push(child);
    }
    Ok(out)
}

fn oid_text(bytes: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut value: u64 = 0;
    for (index, byte) in bytes.iter().enumerate() {
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            if parts.is_empty() && index < bytes.len() {
                let first = value.min(80) / 40;
                parts.push(first.to_string());
                parts.push((value - first * 40).to_string());
            } else {
                parts.push(value.to_string());
            }
            value = 0;
        }
    }
    parts.join(".")
}

fn string_value(tag: u8, bytes: &[u8]) -> String {
    if tag == 0x1e {
        // BMPString: UTF-16BE.
        let units: Vec<u16> =
            bytes.chunks(2).map(|pair| u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])).collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// The short names LHDN's sample and .NET print.
fn attribute_name(oid: &str) -> String {
    match oid {
        "2.5.4.3" => "CN".into(),
        "2.5.4.6" => "C".into(),
        "2.5.4.7" => "L".into(),
        "2.5.4.8" => "S".into(),
        "2.5.4.10" => "O".into(),
        "2.5.4.11" => "OU".into(),
        "2.5.4.5" => "SERIALNUMBER".into(),
        "1.2.840.113549.1.9.1" => "E".into(),
        other => format!("OID.{other}"),
    }
}

/// A Name's attributes in DER order.
fn name_attributes(der: &[u8], name: &Element) -> Result<Vec<(String, String)>, CertificateError> {
    let mut attributes = Vec::new();
    for set in children(der, name)? {
        for pair in children(der, &set)? {
            let parts = children(der, &pair)?;
            let (Some(oid), Some(value)) = (parts.first(), parts.get(1)) else {
                return Err(CertificateError::Malformed(pair.start));
            };
            attributes
                .push((oid_text(&der[oid.start..oid.end]), string_value(value.tag, &der[value.start..value.end])));
        }
    }
    Ok(attributes)
}

fn name_text(attributes: &[(String, String)]) -> String {
    attributes
        .iter()
        .rev()
        .map(|(oid, value)| format!("{}={value}", attribute_name(oid)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A big-endian unsigned integer in decimal.
fn decimal(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = vec![0];
    for byte in bytes {
        let mut carry = u32::from(*byte);
        for digit in &mut digits {
            let value = u32::from(*digit) * 256 + carry;
            *digit = u8::try_from(value % 10).unwrap_or_default();
            carry = value / 10;
        }
        while carry > 0 {
            digits.push(u8::try_from(carry % 10).unwrap_or_default());
            carry /= 10;
        }
    }
    while digits.len() > 1 && digits.last() == Some(&0) {
        digits.pop();
    }
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

impl Certificate {
    /// Reads a DER certificate.
    ///
    /// # Errors
    /// Not an X.509 certificate.
    pub fn from_der(der: Vec<u8>) -> Result<Self, CertificateError> {
        let certificate = element(&der, 0)?;
        let tbs = children(&der, &certificate)?.into_iter().next().ok_or(CertificateError::Malformed(0))?;
        let fields = children(&der, &tbs)?;
        // [0] version is optional (v1 certificates omit it).
        let offset = usize::from(fields.first().is_some_and(|f| f.tag == 0xa0));
        let field = |index: usize| fields.get(offset + index).ok_or(CertificateError::Malformed(tbs.start));
        let serial = field(0)?;
        let (issuer, subject, key_info) = (field(2)?, field(4)?, field(5)?);
        if serial.tag != 0x02 || issuer.tag != 0x30 || subject.tag != 0x30 || key_info.tag != 0x30 {
            return Err(CertificateError::Malformed(serial.start));
        }
        let subject_attributes = name_attributes(&der, subject)?;
        let bits = children(&der, key_info)?.into_iter().nth(1).filter(|e| e.tag == 0x03);
        let bits = bits.ok_or(CertificateError::Malformed(key_info.start))?;
        // A BIT STRING's first byte counts the unused bits (0 for a key).
        let public_key = der.get(bits.start + 1..bits.end).ok_or(CertificateError::Malformed(bits.start))?.to_vec();
        Ok(Self {
            public_key,
            issuer: name_text(&name_attributes(&der, issuer)?),
            subject: name_text(&subject_attributes),
            serial: decimal(&der[serial.start..serial.end]),
            subject_attributes,
            der,
        })
    }

    /// Reads the first certificate of a PEM text.
    ///
    /// # Errors
    /// No PEM certificate, or not an X.509 certificate.
    pub fn from_pem(text: &str) -> Result<Self, CertificateError> {
        Self::from_der(pem_block(text, "CERTIFICATE")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../../data/myinvois/signed/sample-ul-invoice-2.1-signed.cert.pem");

    #[test]
    fn lhdn_s_sample_certificate_reads_as_its_signature_names_it() -> Result<(), CertificateError> {
        let certificate = Certificate::from_pem(SAMPLE)?;
        assert_eq!(certificate.der.len(), 1_432);
        assert_eq!(
            certificate.issuer,
            "CN=Trial LHDNM Sub CA V1, OU=Terms of use at http://www.posdigicert.com.my, O=LHDNM, C=MY"
        );
        assert_eq!(certificate.serial, "162880276254639189035871514749820882117");
        let tin = certificate.subject_attributes.iter().find(|(oid, _)| oid == "2.5.4.97").map(|(_, v)| v.as_str());
        assert_eq!(tin, Some("C29702635060"));
        assert!(certificate.subject.contains("CN=Dummy"));
        Ok(())
    }

    #[test]
    fn decimal_serials_and_garbage() {
        assert_eq!(
            decimal(&[0x7a, 0x89, 0x99, 0xa2, 0xb3, 0xbe, 0xd0, 0x0c, 0x26, 0x5b, 0x60, 0x51, 0x75, 0x62, 0x4c, 0xc5]),
            "162880276254639189035871514749820882117"
        );
        assert_eq!(decimal(&[0]), "0");
        assert!(Certificate::from_der(vec![0x30, 0x82, 0xff]).is_err());
        assert!(Certificate::from_pem("no certificate").is_err());
    }
}
