//! The MyInvois v1.1 document signature (LHDN, "Signature Creation (JSON)"):
//! 1. B = the document without `Invoice[0].UBLExtensions` and
//!    `Invoice[0].Signature`, minified (key order and number text kept);
//! 2. DocDigest = base64(SHA-256(B));
//! 3. SignatureValue = base64(RSA PKCS#1 v1.5 SHA-256 over B);
//! 4. CertDigest = base64(SHA-256(certificate DER));
//! 5. SignedProperties: signing time, certificate digest, issuer and serial;
//! 6. PropsDigest = base64(SHA-256(minified
//!    `{"Target":"signature","SignedProperties":[…]}`));
//! 7. the `UBLExtensions` block and `Signature` appended to `Invoice[0]`.
//!
//! Signing goes through [`Signer`], so a key kept elsewhere (an HSM, a
//! roaming certificate) can replace [`SoftwareSigner`].

use base64::Engine as _;

use super::certificate::{Certificate, CertificateError, pem_block};
use super::json::{self, Node};

/// Why a document could not be signed or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The document is not JSON.
    #[error(transparent)]
    Json(#[from] json::JsonError),
    /// The document has no `Invoice[0]` object.
    #[error("the document has no Invoice[0]")]
    NotADocument,
    /// The certificate cannot be read.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// The private key cannot be read or used (PKCS#8 or PKCS#1 RSA PEM).
    #[error("the private key cannot be used: {0}")]
    Key(String),
    /// A digest or the signature does not match (checking).
    #[error("{0} does not match")]
    Mismatch(&'static str),
}

/// What signs: RSA PKCS#1 v1.5 with SHA-256, and the certificate that names it.
pub trait Signer: Send + Sync {
    /// The signing certificate.
    fn certificate(&self) -> &Certificate;
    /// The RSA-SHA256 signature of `message`.
    ///
    /// # Errors
    /// The key cannot sign.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignatureError>;
}

/// A key and certificate from PEM files (`KUOTA_MYINVOIS_SIGNING_KEY`,
/// `KUOTA_MYINVOIS_SIGNING_CERT`).
pub struct SoftwareSigner {
    key: ring::signature::RsaKeyPair,
    certificate: Certificate,
}

impl std::fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareSigner").field("subject", &self.certificate.subject).finish_non_exhaustive()
    }
}

impl SoftwareSigner {
    /// A signer from a PEM private key (`PRIVATE KEY`, PKCS#8, or `RSA
    /// PRIVATE KEY`, PKCS#1) and a PEM certificate whose key it must be.
    ///
    /// # Errors
    /// Either cannot be read, or they do not belong together.
    pub fn from_pem(key_pem: &str, certificate_pem: &str) -> Result<Self, SignatureError> {
        let certificate = Certificate::from_pem(certificate_pem)?;
        let key = match pem_block(key_pem, "PRIVATE KEY") {
            Ok(der) => ring::signature::RsaKeyPair::from_pkcs8(&der),
            Err(_) => ring::signature::RsaKeyPair::from_der(&pem_block(key_pem, "RSA PRIVATE KEY")?),
        }
        .map_err(|error| SignatureError::Key(error.to_string()))?;
        use ring::signature::KeyPair as _;
        if key.public_key().as_ref() != certificate.public_key.as_slice() {
            return Err(SignatureError::Key("the key is not the certificate's".into()));
        }
        Ok(Self { key, certificate })
    }
}

impl Signer for SoftwareSigner {
    fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let mut signature = vec![0; self.key.public().modulus_len()];
        let random = ring::rand::SystemRandom::new();
        self.key
            .sign(&ring::signature::RSA_PKCS1_SHA256, &random, message, &mut signature)
            .map_err(|error| SignatureError::Key(error.to_string()))?;
        Ok(signature)
    }
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// base64(SHA-256(bytes)), the digest form every MyInvois digest takes.
#[must_use]
pub fn digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    base64(&sha2::Sha256::digest(bytes))
}

/// `[{"_": value}]`, and with attributes beside it.
fn text(value: &str) -> Node {
    valued(value, &[])
}

fn valued(value: &str, attributes: &[(&str, &str)]) -> Node {
    let mut members = vec![("_".to_owned(), Node::Text(value.to_owned()))];
    members.extend(attributes.iter().map(|(k, v)| ((*k).to_owned(), Node::Text((*v).to_owned()))));
    Node::Array(vec![Node::Object(members)])
}

fn object(members: Vec<(&str, Node)>) -> Node {
    Node::Object(members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

fn digested(value: &str) -> Vec<(&'static str, Node)> {
    vec![("DigestMethod", valued("", &[("Algorithm", SHA256)])), ("DigestValue", text(value))]
}

/// B (step 1): the document without its signature, minified.
///
/// # Errors
/// Not JSON, or no `Invoice[0]`.
pub fn unsigned_bytes(document: &str) -> Result<String, SignatureError> {
    let mut node = json::parse(document)?;
    let invoice = node.get_mut("Invoice").and_then(Node::first_mut).ok_or(SignatureError::NotADocument)?;
    invoice.remove(&["UBLExtensions", "Signature"]);
    Ok(node.minified())
}

/// The `SignedProperties` array (step 5).
#[must_use]
pub fn signed_properties(signing_time: &str, certificate: &Certificate) -> Node {
    let issuer_serial =
        object(vec![("X509IssuerName", text(&certificate.issuer)), ("X509SerialNumber", text(&certificate.serial))]);
    let cert = object(vec![
        ("CertDigest", Node::Array(vec![object(digested(&digest(&certificate.der)))])),
        ("IssuerSerial", Node::Array(vec![issuer_serial])),
    ]);
    let signing_certificate = object(vec![("Cert", Node::Array(vec![cert]))]);
    let properties = object(vec![
        ("SigningTime", text(signing_time)),
        ("SigningCertificate", Node::Array(vec![signing_certificate])),
    ]);
    Node::Array(vec![object(vec![
        ("Id", Node::Text("id-xades-signed-props".into())),
        ("SignedSignatureProperties", Node::Array(vec![properties])),
    ])])
}

/// PropsDigest (step 6).
#[must_use]
pub fn properties_digest(signed_properties: &Node) -> String {
    let target =
        object(vec![("Target", Node::Text("signature".into())), ("SignedProperties", signed_properties.clone())]);
    digest(target.minified().as_bytes())
}

/// Signs a document (any `Invoice`-rooted MyInvois type) at `signing_time`
/// (`2024-07-23T15:14:54Z`); returns the signed document, minified.
///
/// # Errors
/// Not JSON, no `Invoice[0]`, or the key cannot sign.
pub fn sign(document: &str, signer: &dyn Signer, signing_time: &str) -> Result<String, SignatureError> {
    let unsigned = unsigned_bytes(document)?;
    let document_digest = digest(unsigned.as_bytes());
    let signature_value = base64(&signer.sign(unsigned.as_bytes())?);
    let certificate = signer.certificate();
    let properties = signed_properties(signing_time, certificate);
    let properties_digest = properties_digest(&properties);
    let mut props_reference = vec![
        ("Type", Node::Text("http://uri.etsi.org/01903/v1.3.2#SignedProperties".into())),
        ("URI", Node::Text("#id-xades-signed-props".into())),
    ];
    props_reference.extend(digested(&properties_digest));
    let mut document_reference = vec![("Type", Node::Text(String::new())), ("URI", Node::Text(String::new()))];
    document_reference.extend(digested(&document_digest));
    let issuer_serial =
        object(vec![("X509IssuerName", text(&certificate.issuer)), ("X509SerialNumber", text(&certificate.serial))]);
    let signature = object(vec![
        ("Id", Node::Text("signature".into())),
        (
            "Object",
            Node::Array(vec![object(vec![(
                "QualifyingProperties",
                Node::Array(vec![object(vec![
                    ("Target", Node::Text("signature".into())),
                    ("SignedProperties", properties),
                ])]),
            )])]),
        ),
        (
            "KeyInfo",
            Node::Array(vec![object(vec![(
                "X509Data",
                Node::Array(vec![object(vec![
                    ("X509Certificate", text(&base64(&certificate.der))),
                    ("X509SubjectName", text(&certificate.subject)),
                    ("X509IssuerSerial", Node::Array(vec![issuer_serial])),
                ])]),
            )])]),
        ),
        ("SignatureValue", text(&signature_value)),
        (
            "SignedInfo",
            Node::Array(vec![object(vec![
                ("SignatureMethod", valued("", &[("Algorithm", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")])),
                ("Reference", Node::Array(vec![object(props_reference), object(document_reference)])),
            ])]),
        ),
    ]);
    let information = object(vec![
        ("ID", text("urn:oasis:names:specification:ubl:signature:1")),
        ("ReferencedSignatureID", text("urn:oasis:names:specification:ubl:signature:Invoice")),
        ("Signature", Node::Array(vec![signature])),
    ]);
    let extensions = Node::Array(vec![object(vec![(
        "UBLExtension",
        Node::Array(vec![object(vec![
            ("ExtensionURI", text("urn:oasis:names:specification:ubl:dsig:enveloped:xades")),
            (
                "ExtensionContent",
                Node::Array(vec![object(vec![(
                    "UBLDocumentSignatures",
                    Node::Array(vec![object(vec![("SignatureInformation", Node::Array(vec![information]))])]),
                )])]),
            ),
        ])]),
    )])]);
    let mut node = json::parse(&unsigned)?;
    let invoice = node.get_mut("Invoice").and_then(Node::first_mut).ok_or(SignatureError::NotADocument)?;
    invoice.push("UBLExtensions", extensions);
    invoice.push(
        "Signature",
        Node::Array(vec![object(vec![
            ("ID", text("urn:oasis:names:specification:ubl:signature:Invoice")),
            ("SignatureMethod", text("urn:oasis:names:specification:ubl:dsig:enveloped:xades")),
        ])]),
    );
    Ok(node.minified())
}

/// The `Signature[0]` of a signed document.
fn signature_of(node: &Node) -> Option<&Node> {
    let path = [
        "UBLExtensions",
        "UBLExtension",
        "ExtensionContent",
        "UBLDocumentSignatures",
        "SignatureInformation",
        "Signature",
    ];
    let mut at = node.get("Invoice")?.first()?;
    for key in path {
        at = at.get(key)?.first()?;
    }
    Some(at)
}

fn value_of<'a>(node: &'a Node, path: &[&str]) -> Option<&'a str> {
    let mut at = node;
    for key in path {
        at = at.get(key)?.first()?;
    }
    match at.get("_")? {
        Node::Text(text) => Some(text),
        _ => None,
    }
}

/// Checks a signed document the way MyInvois does: the document digest,
/// the certificate digest, the signed-properties digest and the RSA
/// signature over B with the certificate's key. Returns the certificate.
///
/// # Errors
/// Not a signed document, or a digest or the signature does not match.
pub fn verify(document: &str) -> Result<Certificate, SignatureError> {
    let node = json::parse(document)?;
    let signature = signature_of(&node).ok_or(SignatureError::NotADocument)?;
    let certificate_text =
        value_of(signature, &["KeyInfo", "X509Data", "X509Certificate"]).ok_or(SignatureError::NotADocument)?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(certificate_text)
        .map_err(|_| SignatureError::Certificate(CertificateError::NotPem))?;
    let certificate = Certificate::from_der(der)?;
    let unsigned = unsigned_bytes(document)?;
    let references = match signature.get("SignedInfo").and_then(Node::first).and_then(|i| i.get("Reference")) {
        Some(Node::Array(items)) => items.clone(),
        _ => return Err(SignatureError::NotADocument),
    };
    let reference = |uri: &str| {
        references
            .iter()
            .find(|r| matches!(r.get("URI"), Some(Node::Text(u)) if u == uri))
            .and_then(|r| value_of(r, &["DigestValue"]))
    };
    if reference("") != Some(digest(unsigned.as_bytes()).as_str()) {
        return Err(SignatureError::Mismatch("the document digest"));
    }
    let qualifying = ["Object", "QualifyingProperties"].iter().try_fold(signature, |at, key| at.get(key)?.first());
    let properties = qualifying.and_then(|q| q.get("SignedProperties")).ok_or(SignatureError::NotADocument)?;
    if reference("#id-xades-signed-props") != Some(properties_digest(properties).as_str()) {
        return Err(SignatureError::Mismatch("the signed properties digest"));
    }
    let cert_digest = properties.first().and_then(|p| {
        value_of(p, &["SignedSignatureProperties", "SigningCertificate", "Cert", "CertDigest", "DigestValue"])
    });
    if cert_digest != Some(digest(&certificate.der).as_str()) {
        return Err(SignatureError::Mismatch("the certificate digest"));
    }
    let value = value_of(signature, &["SignatureValue"]).ok_or(SignatureError::NotADocument)?;
    let value = base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|_| SignatureError::Mismatch("the signature"))?;
    let key =
        ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, &certificate.public_key);
    key.verify(unsigned.as_bytes(), &value).map_err(|_| SignatureError::Mismatch("the signature"))?;
    Ok(certificate)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNED: &str = include_str!("../../data/myinvois/signed/sample-ul-invoice-2.1-signed.min.json");
    const FINAL: &str = include_str!("../../data/myinvois/signed/signature-creation-json-final.min.json");
    const CERT: &str = include_str!("../../data/myinvois/signed/sample-ul-invoice-2.1-signed.cert.pem");

    /// V1: B and its digest.
    #[test]
    fn the_document_digest_is_lhdn_s() -> Result<(), SignatureError> {
        let unsigned = unsigned_bytes(SIGNED)?;
        assert_eq!(unsigned.len(), 5_840);
        use sha2::Digest as _;
        let hex = crate::digest::to_hex(&sha2::Sha256::digest(unsigned.as_bytes()));
        assert_eq!(hex, "bccb3f21d9d2ee2b1fb6aac10ebe05d4b2bf0a4bc1916e466f75a7e8e573031a");
        assert_eq!(digest(unsigned.as_bytes()), "vMs/IdnS7isftqrBDr4F1LK/CkvBkW5Gb3Wn6OVzAxo=");
        assert_eq!(unsigned_bytes(FINAL)?, unsigned, "pretty or minified, the same B");
        Ok(())
    }

    /// V2 and V3: the certificate digest and the signed-properties digest,
    /// the properties built from the certificate by our own code.
    #[test]
    fn the_certificate_and_properties_digests_are_lhdn_s() -> Result<(), SignatureError> {
        let certificate = Certificate::from_pem(CERT)?;
        assert_eq!(digest(&certificate.der), "KKBSTyiPKGkGl1AFqcPziKCEIDYGtnYUTQN4ukO7G40=");
        let properties = signed_properties("2024-07-23T15:14:54Z", &certificate);
        assert_eq!(properties_digest(&properties), "Rzuzz+70GSnGBF1YxhHnjSzFpQ1MW4vyX/Q9bTHkE2c=");
        Ok(())
    }

    /// V4: LHDN's signature verifies over B with the certificate's key;
    /// one changed byte anywhere in the document does not.
    #[test]
    fn lhdn_s_signed_sample_verifies_and_a_changed_one_does_not() -> Result<(), SignatureError> {
        let certificate = verify(SIGNED)?;
        assert_eq!(certificate.serial, "162880276254639189035871514749820882117");
        let changed = SIGNED.replacen("1436.5", "1436.6", 1);
        assert_ne!(changed, SIGNED);
        assert_eq!(verify(&changed), Err(SignatureError::Mismatch("the document digest")));
        Ok(())
    }

    /// The SDK's three v1.1 samples (certificate `CN=Dummy`, another issuer) verify too.
    #[test]
    fn the_sdk_samples_verify() -> Result<(), SignatureError> {
        for sample in [
            include_str!("../../data/myinvois/samples/1.1-Invoice-Sample.json"),
            include_str!("../../data/myinvois/samples/1.1-Credit-Note-Sample.json"),
            include_str!("../../data/myinvois/samples/1.1-Refund-Note-Sample.json"),
        ] {
            let certificate = verify(sample)?;
            assert_eq!(digest(&certificate.der), "+kdLjFra9qRhG35bEKff9ZPjj6Bq6W6/j0NS0st/ves=");
        }
        Ok(())
    }
}
