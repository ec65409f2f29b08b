//! Billplz's X-Signature (its API reference, "X Signature"): every parameter
//! but `x_signature` becomes one element, the key immediately followed by
//! its value (a nested key such as `billplz[paid_at]` loses its brackets:
//! `billplzpaid_at…`; an empty value leaves the key alone); the elements are
//! sorted ascending, case-insensitively, and joined with `|`; the signature
//! is the lower-case hex HMAC-SHA256 of that string under the account's
//! X-Signature key. Pure: no I/O.

use crate::digest::hmac_sha256_hex;

/// The parameter that carries the signature (at the top level of a callback;
/// as `billplz[x_signature]` in a redirect).
const SIGNATURE_KEY: &str = "x_signature";

/// A parameter's key as the signature spells it: brackets removed.
fn flattened(key: &str) -> String {
    key.chars().filter(|c| *c != '[' && *c != ']').collect()
}

/// True for the signature itself, top-level or nested.
fn is_signature(key: &str) -> bool {
    key == SIGNATURE_KEY
        || key
            .strip_suffix(']')
            .and_then(|rest| rest.strip_suffix(SIGNATURE_KEY))
            .is_some_and(|rest| rest.ends_with('['))
}

/// The string Billplz signs for these parameters (the signature left out).
#[must_use]
pub fn source_string<K: AsRef<str>, V: AsRef<str>>(parameters: &[(K, V)]) -> String {
    let mut elements: Vec<String> = parameters
        .iter()
        .filter(|(key, _)| !is_signature(key.as_ref()))
        .map(|(key, value)| format!("{}{}", flattened(key.as_ref()), value.as_ref()))
        .collect();
    elements.sort_by(|a, b| a.to_lowercase().cmp(&b.to_lowercase()).then_with(|| a.cmp(b)));
    elements.join("|")
}

/// The X-Signature of these parameters under `key`.
#[must_use]
pub fn sign<K: AsRef<str>, V: AsRef<str>>(key: &str, parameters: &[(K, V)]) -> String {
    hmac_sha256_hex(key.as_bytes(), source_string(parameters).as_bytes())
}

/// True when the parameters carry the right signature under `key` (compared
/// in constant time); false when it is missing or wrong.
#[must_use]
pub fn verify<K: AsRef<str>, V: AsRef<str>>(key: &str, parameters: &[(K, V)]) -> bool {
    let Some((_, sent)) = parameters.iter().find(|(name, _)| is_signature(name.as_ref())) else { return false };
    let expected = sign(key, parameters);
    let (sent, expected) = (sent.as_ref().as_bytes(), expected.as_bytes());
    sent.len() == expected.len() && sent.iter().zip(expected).fold(0_u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Decodes one `application/x-www-form-urlencoded` name or value (`+` is a
/// space, `%XX` a byte); `None` for a broken escape or bytes that are not UTF-8.
#[must_use]
pub fn form_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                index += 2;
            }
            other => out.push(other),
        }
        index += 1;
    }
    String::from_utf8(out).ok()
}

/// Encodes one name or value as `application/x-www-form-urlencoded`.
#[must_use]
pub fn form_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => out.push(char::from(byte)),
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// The fields of a form-encoded body or query string, in order.
#[must_use]
pub fn form_fields(text: &str) -> Option<Vec<(String, String)>> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((form_decode(name)?, form_decode(value)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_round_trips_the_reference_s_redirect() {
        let query =
            "billplz%5Bid%5D=zq0tm2wc&billplz%5Bpaid%5D=true&billplz%5Bpaid_at%5D=2018-09-27+15%3A15%3A09+%2B0800";
        let fields = form_fields(query).unwrap_or_default();
        assert_eq!(fields[2], ("billplz[paid_at]".to_owned(), "2018-09-27 15:15:09 +0800".to_owned()));
        let encoded: Vec<String> =
            fields.iter().map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v))).collect();
        assert_eq!(encoded.join("&"), query);
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
    }

    const CALLBACK_KEY: &str = "S-s7b4yWpp9h7rrkNM1i3Z_g";

    /// V5 (the reference's "X Signature" section): a given source string.
    #[test]
    fn the_reference_s_source_string_signs_to_its_published_value() {
        let source = "amount200|callback_urlhttps://example.com/webhook|collection_idinbmmepb|descriptiontesting|emailapi@billplz.com|nameMichael";
        assert_eq!(
            hmac_sha256_hex(b"abc123cde456", source.as_bytes()),
            "ef5e54a22af0925cba88fab467119742e90262e3646eea1dee3949938daf3a38"
        );
    }

    fn callback() -> Vec<(&'static str, &'static str)> {
        vec![
            ("id", "zq0tm2wc"),
            ("collection_id", "yhx5t1pp"),
            ("paid", "true"),
            ("state", "paid"),
            ("amount", "100"),
            ("paid_amount", "100"),
            ("due_at", "2018-9-27"),
            ("email", "tester@test.com"),
            ("mobile", ""),
            ("name", "TESTER"),
            ("url", "http://www.billplz-sandbox.com/bills/zq0tm2wc"),
            ("paid_at", "2018-09-27 15:15:09 +0800"),
            ("x_signature", "0fe0a20b8d557eeae570377783d062a3816a9ea80f368860bacfa7ec3ca4d00e"),
        ]
    }

    /// V6 (the reference's "X Signature Callback Url"), from the posted fields.
    #[test]
    fn the_published_callback_verifies() {
        let fields = callback();
        assert_eq!(
            source_string(&fields),
            "amount100|collection_idyhx5t1pp|due_at2018-9-27|emailtester@test.com|idzq0tm2wc|mobile|nameTESTER|paid_amount100|paid_at2018-09-27 15:15:09 +0800|paidtrue|statepaid|urlhttp://www.billplz-sandbox.com/bills/zq0tm2wc"
        );
        assert!(verify(CALLBACK_KEY, &fields));
    }

    /// V7 (the reference's "X Signature Redirect Url"), from the query.
    #[test]
    fn the_published_redirect_verifies() {
        let query = [
            ("billplz[id]", "zq0tm2wc"),
            ("billplz[paid]", "true"),
            ("billplz[paid_at]", "2018-09-27 15:15:09 +0800"),
            ("billplz[x_signature]", "4aab095fe5a39b1d534500988f9a0cb085cd1b6d5bbb55dd4e02ea6fa102b47b"),
        ];
        assert_eq!(source_string(&query), "billplzidzq0tm2wc|billplzpaid_at2018-09-27 15:15:09 +0800|billplzpaidtrue");
        assert!(verify(CALLBACK_KEY, &query));
    }

    #[test]
    fn a_tampered_missing_or_foreign_signature_is_refused() {
        let mut fields = callback();
        assert!(!verify("another-key", &fields));
        fields[4] = ("amount", "1");
        assert!(!verify(CALLBACK_KEY, &fields), "an amount changed after signing");
        let unsigned: Vec<_> = callback().into_iter().filter(|(key, _)| *key != "x_signature").collect();
        assert!(!verify(CALLBACK_KEY, &unsigned));
        let mut short = callback();
        short[12] = ("x_signature", "0fe0");
        assert!(!verify(CALLBACK_KEY, &short));
    }
}
