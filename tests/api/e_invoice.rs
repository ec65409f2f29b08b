//! The MyInvois v1.1 signature with a certificate made at test time (the
//! subject fields and key usages LHDN asks for), checked by our own code and
//! by the `openssl` command line; LHDN's published values are unit tests in
//! `src/myinvois/signature.rs`.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use kuota::myinvois::signature::{self, Signer, SoftwareSigner};

fn openssl(args: &[&str], folder: &Path) -> String {
    let output = Command::new("openssl").args(args).current_dir(folder).output().expect("openssl on PATH");
    assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A key and a self-signed organisation certificate as LHDN's profile has it:
/// CN and O the organisation, C=MY, organizationIdentifier = TIN,
/// serialNumber = BRN, non-repudiation, document signing.
fn make_certificate(folder: &Path, name: &str) -> (String, String) {
    let subject = "/CN=Pos Digicert Sdn Bhd/O=Pos Digicert Sdn Bhd/C=MY/organizationIdentifier=C12345678901/serialNumber=200001012345";
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha256",
            "-days",
            "2",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-subj",
            subject,
            "-addext",
            "keyUsage=critical,nonRepudiation,digitalSignature",
            "-addext",
            "extendedKeyUsage=1.3.6.1.4.1.311.10.3.12",
        ],
        folder,
    );
    let read = |file: String| std::fs::read_to_string(folder.join(file)).unwrap();
    (read(format!("{name}.key")), read(format!("{name}.pem")))
}

#[test]
fn a_document_signed_here_verifies_here_and_with_openssl() {
    let folder = std::env::temp_dir().join(format!("kuota-einvoice-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let (key, cert) = make_certificate(&folder, "signer");
    let signer = SoftwareSigner::from_pem(&key, &cert).unwrap();
    let certificate = signer.certificate();
    assert!(certificate.subject.contains("CN=Pos Digicert Sdn Bhd"), "{}", certificate.subject);
    let tin = certificate.subject_attributes.iter().find(|(oid, _)| oid == "2.5.4.97").map(|(_, v)| v.clone());
    assert_eq!(tin.as_deref(), Some("C12345678901"));
    // LHDN's invoice sample, re-signed with our certificate.
    let sample = std::fs::read_to_string("data/myinvois/samples/1.1-Invoice-Sample.json").unwrap();
    let signed = signature::sign(&sample, &signer, "2026-12-02T03:04:05Z").unwrap();
    assert!(!signed.contains('\n'), "minified");
    assert_eq!(signature::verify(&signed).unwrap().serial, certificate.serial);
    assert_eq!(
        signature::unsigned_bytes(&signed).unwrap(),
        signature::unsigned_bytes(&sample).unwrap(),
        "B is unchanged"
    );
    // openssl checks the RSA signature over B with the certificate's key.
    let unsigned = signature::unsigned_bytes(&signed).unwrap();
    let value = signed.split("\"SignatureValue\":[{\"_\":\"").nth(1).unwrap().split('"').next().unwrap();
    std::fs::write(folder.join("b.json"), &unsigned).unwrap();
    std::fs::write(folder.join("signature.bin"), base64::engine::general_purpose::STANDARD.decode(value).unwrap())
        .unwrap();
    let public = openssl(&["x509", "-in", "signer.pem", "-pubkey", "-noout"], &folder);
    std::fs::write(folder.join("public.pem"), public).unwrap();
    let verified =
        openssl(&["dgst", "-sha256", "-verify", "public.pem", "-signature", "signature.bin", "b.json"], &folder);
    assert_eq!(verified.trim(), "Verified OK");
    // A changed amount, or a key that is not the certificate's, fails.
    let tampered = signed.replacen("\"PayableAmount\":[{\"_\":", "\"PayableAmount\":[{\"_\":1", 1);
    assert!(signature::verify(&tampered).is_err());
    let (other_key, _) = make_certificate(&folder, "other");
    assert!(SoftwareSigner::from_pem(&other_key, &cert).is_err(), "a key must match its certificate");
    let _ = std::fs::remove_dir_all(&folder);
}
