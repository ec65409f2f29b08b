//! What every handler, page and service can reach: the database, the
//! ledger writer, the clock, the blob store, the audit key and the public
//! address. It sits
//! at the bottom of the module graph (it imports no feature's routes), so
//! features can depend on it without depending on each other.

use std::sync::Arc;

use crate::clock::Clock;
use crate::db::Db;
use crate::ledger::Ledger;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The quota ledger.
    pub ledger: Ledger,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Recently authenticated API tokens.
    pub token_cache: crate::auth::cache::TokenCache,
    /// Uploaded documents.
    pub blobs: crate::blob::BlobStore,
    /// The portal's address, for links in e-mail.
    pub public_url: String,
    /// Password hashing off the async workers, bounded.
    pub hasher: crate::auth::password::Hasher,
    /// Proxies whose `X-Forwarded-For` is believed (see `auth::address`).
    pub trusted_proxies: Arc<[std::net::IpAddr]>,
    /// The key of the audit chain; every audit record is written with it.
    pub audit_key: Arc<crate::audit::Key>,
    /// Per-address admission at the public doors (sign-in, registration, …),
    /// before any database work.
    pub admission: crate::auth::admission::Admission,
    /// The payment gateway, when all four `KUOTA_BILLPLZ_*` are set (online
    /// payment is offered only then).
    pub billplz: Option<Arc<crate::billplz::client::Client>>,
    /// E-invoicing through MyInvois, when the `KUOTA_MYINVOIS_*` are set.
    pub e_invoicing: Option<Arc<crate::myinvois::job::EInvoicing>>,
    /// What `/metrics` shows (the ledger writer records its batches here).
    pub metrics: crate::metrics::Metrics,
    /// The node's background work, stopped with the node.
    pub jobs: crate::jobs::Jobs,
}

impl AppState {
    /// State over an open, migrated database whose audit trail is sealed
    /// with `audit_key` (`audit::seal`); starts the ledger writer.
    #[must_use]
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        blobs: crate::blob::BlobStore,
        public_url: String,
        audit_key: Arc<crate::audit::Key>,
    ) -> Self {
        let metrics = crate::metrics::Metrics::new();
        let ledger = Ledger::start(db.clone(), clock.clone(), audit_key.clone(), metrics.clone());
        // On SQLite this process is the only node; on PostgreSQL the cache
        // is used once the node hears access changes.
        let token_cache = crate::auth::cache::TokenCache::new(db.backend() == crate::db::Backend::Sqlite);
        Self {
            db,
            ledger,
            clock,
            token_cache,
            blobs,
            public_url,
            hasher: crate::auth::password::Hasher::for_this_machine(),
            trusted_proxies: Arc::from([]),
            audit_key,
            admission: crate::auth::admission::Admission::new(crate::auth::admission::Allowance::default()),
            billplz: None,
            e_invoicing: None,
            metrics,
            jobs: crate::jobs::Jobs::default(),
        }
    }

    /// The same state, admitting this many requests per client address at
    /// the public doors.
    #[must_use]
    pub fn with_admission(self, allowance: crate::auth::admission::Allowance) -> Self {
        Self { admission: crate::auth::admission::Admission::new(allowance), ..self }
    }

    /// The same state, offering online payment through this Billplz client.
    #[must_use]
    pub fn with_billplz(self, client: crate::billplz::client::Client) -> Self {
        Self { billplz: Some(Arc::new(client)), ..self }
    }

    /// The same state, submitting e-invoices to MyInvois.
    #[must_use]
    pub fn with_e_invoicing(self, e_invoicing: crate::myinvois::job::EInvoicing) -> Self {
        Self { e_invoicing: Some(Arc::new(e_invoicing)), ..self }
    }

    /// The same state, believing `X-Forwarded-For` from these proxies.
    #[must_use]
    pub fn with_trusted_proxies(self, proxies: &[std::net::IpAddr]) -> Self {
        Self { trusted_proxies: Arc::from(proxies), ..self }
    }
}
