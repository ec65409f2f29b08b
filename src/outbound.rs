//! Outbound HTTP(S) to the services kuota calls (the payment gateway): one
//! TLS stack for the whole binary — rustls with ring and the webpki roots,
//! as lettre and sqlx use — never aws-lc or the system's OpenSSL.

use std::time::Duration;

/// A client builder over that TLS stack. reqwest is built without a default
/// crypto provider, so every client is made here (the test suite's too).
///
/// # Errors
/// The TLS configuration cannot be built.
pub fn client_builder() -> anyhow::Result<reqwest::ClientBuilder> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let tls = rustls::ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(reqwest::Client::builder().tls_backend_preconfigured(tls))
}

/// A client for a service: 5 s to connect, 20 s per request (Billplz's own
/// limit for answering a callback).
///
/// # Errors
/// The TLS configuration cannot be built.
pub fn service_client() -> anyhow::Result<reqwest::Client> {
    Ok(client_builder()?.connect_timeout(Duration::from_secs(5)).timeout(Duration::from_secs(20)).build()?)
}
