//! Builds the application from its parts: state, the merged routers of every
//! feature, middleware, and the background tasks; then serves it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode};
use axum::response::IntoResponse;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::api::extract::JSON_BODY_MAX_BYTES;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::error::AppError;
use crate::state::AppState;

/// How often due holds are swept.
pub const HOLD_SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// How often quotations past their validity are expired.
pub const QUOTATION_EXPIRY_INTERVAL: Duration = Duration::from_secs(60);
/// How often unverified registrations are checked for expiry (and departed
/// users' personal data for its retention).
pub const CLAIM_EXPIRY_INTERVAL: Duration = Duration::from_secs(3600);
/// How often the reminders (expiring quotations, overdue digest, balance alerts) are looked for.
pub const REMINDER_INTERVAL: Duration = Duration::from_secs(30);
/// How often online bills are reconciled with the gateway (daily; the first
/// run a day after start, and `kuota payments reconcile` at any time).
pub const RECONCILIATION_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// How often due e-invoices are submitted or polled.
pub const E_INVOICE_INTERVAL: Duration = Duration::from_secs(3);
/// How often old idempotency records are pruned.
pub const IDEMPOTENCY_PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(crate::api::docs::router())
        .merge(crate::developer::http::router())
        .merge(crate::developer::registration::router())
        .merge(crate::auth::http::router())
        .merge(crate::approval::http::router())
        .merge(crate::privacy::router())
        .merge(crate::ledger::http::router())
        .merge(crate::calendar::http::router())
        .merge(crate::catalogue::http::router())
        .merge(crate::settings::http::router())
        .merge(crate::request::http::router())
        .merge(crate::finance::http::router())
        .merge(crate::billplz::http::router())
        .merge(crate::documents::http::router())
        .merge(crate::documents::procedures::router())
        .merge(crate::portal::router())
        // Every route above is counted and timed by its template.
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::metrics::measure))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response_with_state(state.clone(), security_headers))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(DefaultBodyLimit::max(JSON_BODY_MAX_BYTES))
        .layer(CatchPanicLayer::custom(|_| AppError::Internal(anyhow::anyhow!("handler panicked")).into_response()))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Longest a request may take, body upload included: a slow client cannot
/// hold a connection (and a worker) for longer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Headers on every answer: no framing by other sites (the retail page frames
/// payment documents from this one), no content sniffing, no full referrers;
/// nothing cached unless the answer says it may be (API JSON, CSV and proofs
/// carry personal and financial data); HSTS when the portal is served over
/// HTTPS.
async fn security_headers(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut response: axum::response::Response,
) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let headers = response.headers_mut();
    headers.insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static("frame-ancestors 'self'"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    if state.public_url.starts_with("https://") {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    response
}

async fn not_found(uri: axum::http::Uri) -> AppError {
    AppError::NotFound(format!("there is nothing at {}", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> AppError {
    AppError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}

/// Starts the background tasks: retention, claim, hold and quotation
/// expiry, reminders, reconciliation, e-invoices and pruning; each stops
/// with the node (`state.jobs`).
pub fn spawn_background_tasks(state: &AppState) {
    tokio::spawn(crate::auth::cache::follow_access_changes(state.db.clone(), state.token_cache.clone()));
    let jobs = &state.jobs;
    let retention = state.clone();
    jobs.every(CLAIM_EXPIRY_INTERVAL, "personal data retention sweep", move || {
        let state = retention.clone();
        async move { crate::privacy::anonymise_departed(&state).await.map(drop) }
    });
    let claims = state.clone();
    jobs.every(CLAIM_EXPIRY_INTERVAL, "registration expiry sweep", move || {
        let state = claims.clone();
        async move { crate::developer::service::expire_claims(&state).await.map(drop).map_err(anyhow::Error::from) }
    });
    let ledger = state.ledger.clone();
    jobs.every(HOLD_SWEEP_INTERVAL, "hold expiry sweep", move || {
        let ledger = ledger.clone();
        async move { ledger.expire_due_holds().await.map(drop).map_err(anyhow::Error::from) }
    });
    let sweeping = state.clone();
    jobs.every(QUOTATION_EXPIRY_INTERVAL, "quotation expiry sweep", move || {
        let state = sweeping.clone();
        async move {
            crate::request::expire_quotations(&state.db, state.clock.as_ref(), &state.audit_key, &state.public_url)
                .await
                .map(drop)
                .map_err(anyhow::Error::from)
        }
    });
    let reminding = state.clone();
    jobs.every(REMINDER_INTERVAL, "reminder sweep", move || {
        let state = reminding.clone();
        async move {
            crate::notify::reminders::run(&state.db, state.clock.as_ref(), &state.public_url)
                .await
                .map(drop)
                .map_err(anyhow::Error::from)
        }
    });
    if state.billplz.is_some() {
        // Daily, not at start: a restart should not call Billplz each time.
        let reconciling = state.clone();
        jobs.every_from(RECONCILIATION_INTERVAL, RECONCILIATION_INTERVAL, "payment reconciliation", move || {
            let state = reconciling.clone();
            async move { crate::billplz::service::reconcile(&state).await.map(drop).map_err(anyhow::Error::from) }
        });
    }
    if state.e_invoicing.is_some() {
        crate::myinvois::job::spawn(state.clone(), E_INVOICE_INTERVAL);
    }
    let pruning = state.clone();
    jobs.every(IDEMPOTENCY_PRUNE_INTERVAL, "idempotency and sign-in pruning", move || {
        let state = pruning.clone();
        async move {
            let now = state.clock.now_ms();
            let attempts_before = now - crate::auth::service::SIGN_IN_WINDOW_MS;
            crate::auth::store::prune_sign_in_attempts(state.db.pool(), attempts_before).await?;
            crate::ledger::store::prune_idempotency_records(state.db.pool(), now - IDEMPOTENCY_RETENTION_MS).await?;
            Ok(())
        }
    });
}

/// Migrates, then serves until Ctrl-C or SIGTERM. Prints the bound address
/// on stdout (`listening on http://…`) so scripts can use port 0.
///
/// # Errors
/// The database or the address cannot be used.
pub async fn serve(config: &Config, clock: Arc<dyn Clock>, demo: bool) -> anyhow::Result<()> {
    let db = Db::connect(config).await?;
    db.migrate().await?;
    let blobs = crate::blob::BlobStore::open(&config.blobs)?;
    blobs.check().await.with_context(|| format!("the blob store {}", config.blobs))?;
    tracing::info!(store = %config.blobs, "blob store");
    for email in crate::auth::store::email_case_conflicts(db.pool()).await? {
        tracing::error!(
            email,
            "this user's e-mail differs from another user's only in case and cannot sign in; merge or remove one"
        );
    }
    let audit_key = open_audit_trail(config, &db).await?;
    let listener = TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    let address = listener.local_addr()?;
    // KUOTA_LISTEN on port 0 (tests, scripts) and no KUOTA_PUBLIC_URL: links name the port bound.
    let bound;
    let config = if config.listen.port() == 0 && config.public_url == format!("http://{}", config.listen) {
        bound = Config { public_url: format!("http://{address}"), ..config.clone() };
        &bound
    } else {
        config
    };
    let state = AppState::new(db.clone(), clock.clone(), blobs, config.public_url.clone(), audit_key)
        .with_trusted_proxies(&config.trusted_proxies)
        .with_admission(crate::auth::admission::Allowance {
            burst: config.public_door_burst,
            ..crate::auth::admission::Allowance::default()
        });
    let (state, simulated) = with_outside_services(state, config, address, demo, clock.clone())?;
    if demo {
        if crate::demo::seed(&state).await? {
            println!(
                "demo data added (example prices and seller details). Sign in at {} with password {}:",
                config.public_url,
                crate::demo::DEMO_PASSWORD
            );
            for (role, email) in crate::demo::LOGINS {
                println!("  {role:<16} {email}");
            }
        } else {
            println!("the database already has users: demo data not added");
        }
    }
    spawn_background_tasks(&state);
    start_mail(config, &state)?;
    serve_metrics(config, &state).await?;
    println!("listening on http://{address}");
    tracing::info!(%address, backend = ?db.backend(), "kuota is serving");
    let jobs = state.jobs.clone();
    let mut router = app(state);
    if let Some(simulator) = simulated.billplz {
        router = router.nest(SIMULATED_BILLPLZ_PATH, crate::billplz::simulator::router(simulator));
    }
    if let Some(simulator) = simulated.myinvois {
        router = router.nest(SIMULATED_MYINVOIS_PATH, crate::myinvois::simulator::router(simulator));
    }
    serve_until_stopped(listener, router, config.shutdown_grace, &jobs).await?;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The outside services `serve --demo` simulates on its own address when
/// no real account is configured, to be mounted.
#[derive(Default)]
struct Simulated {
    billplz: Option<crate::billplz::simulator::Simulator>,
    myinvois: Option<crate::myinvois::simulator::Simulator>,
}

/// The payment gateway and e-invoicing, as configured: Billplz and MyInvois
/// (or, for `--demo` without an account, simulated ones, returned to be
/// mounted); `serve` logs whether each is on.
fn with_outside_services(
    mut state: AppState,
    config: &Config,
    address: std::net::SocketAddr,
    demo: bool,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(AppState, Simulated)> {
    let mut simulated = Simulated::default();
    let account = match (&config.billplz, demo) {
        (Some(account), _) => Some(account.clone()),
        (None, true) => {
            let (account, simulator) = simulated_gateway(config, address, clock)?;
            simulated.billplz = Some(simulator);
            Some(account)
        }
        (None, false) => None,
    };
    match account {
        Some(account) => {
            tracing::info!(api = %account.api_url, collection = %account.collection_id, simulated = simulated.billplz.is_some(),
                "online payment through Billplz is on");
            state = state.with_billplz(crate::billplz::client::Client::new(account)?);
        }
        None => tracing::info!("online payment is off: set all four KUOTA_BILLPLZ_* variables to offer it"),
    }
    match (&config.myinvois, demo) {
        (Some((account, key_file, cert_file)), _) => {
            let read = |file: &std::path::Path| {
                std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
            };
            let signer = crate::myinvois::signature::SoftwareSigner::from_pem(&read(key_file)?, &read(cert_file)?)?;
            tracing::info!(api = %account.api_url, "e-invoicing through MyInvois is on");
            let client = crate::myinvois::client::Client::new(account.clone())?;
            state = state.with_e_invoicing(crate::myinvois::job::EInvoicing { client, signer: Arc::new(signer) });
        }
        (None, true) => match simulated_e_invoicing(config, address) {
            Ok((e_invoicing, simulator)) => {
                tracing::info!(path = SIMULATED_MYINVOIS_PATH, "demo: e-invoicing through a SIMULATED MyInvois is on");
                simulated.myinvois = Some(simulator);
                state = state.with_e_invoicing(e_invoicing);
            }
            Err(error) => tracing::warn!(%error, "demo: the simulated MyInvois could not start; e-invoicing is off"),
        },
        (None, false) => {
            tracing::info!("e-invoicing is off: set all seven KUOTA_MYINVOIS_* variables to submit e-invoices");
        }
    }
    Ok((state, simulated))
}

/// Serves until SIGTERM or Ctrl-C; then stops accepting, lets requests in
/// flight finish (each ledger write is answered after its batch commits),
/// then the jobs' items in progress — all of it within `grace`.
async fn serve_until_stopped(
    listener: TcpListener,
    router: Router,
    grace: std::time::Duration,
    jobs: &crate::jobs::Jobs,
) -> anyhow::Result<()> {
    let signalled_at = Arc::new(std::sync::OnceLock::new());
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let signalled = signalled_at.clone();
    let server = axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            let _ = signalled.set(crate::clock::monotonic_now());
            tracing::info!("stopping: no new connections; finishing the requests in flight");
            let _ = stopping.send(());
        });
    tokio::select! {
        served = server => served?,
        () = async move {
            match stopped.await {
                Ok(()) => tokio::time::sleep(grace).await,
                Err(_) => std::future::pending().await,
            }
        } => tracing::warn!(seconds = grace.as_secs(), "requests still in flight after the shutdown grace; stopping anyway"),
    }
    let spent = signalled_at.get().map_or(std::time::Duration::ZERO, std::time::Instant::elapsed);
    if !jobs.stop(grace.saturating_sub(spent)).await {
        tracing::warn!(
            "a background job was still working at the end of the grace; its lease returns the item to another node"
        );
    }
    Ok(())
}

/// With `KUOTA_METRICS_LISTEN`: `/metrics` on its own listener, apart from
/// the portal and the API (keep it off the public network).
async fn serve_metrics(config: &Config, state: &AppState) -> anyhow::Result<()> {
    let Some(address) = config.metrics_listen else { return Ok(()) };
    let listener = TcpListener::bind(address).await.with_context(|| format!("binding {address} for metrics"))?;
    println!("metrics on http://{}/metrics", listener.local_addr()?);
    let router = crate::metrics::router(state.clone());
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the metrics listener stopped");
        }
    });
    Ok(())
}

/// Where `serve --demo` mounts its simulated MyInvois.
pub const SIMULATED_MYINVOIS_PATH: &str = "/demo/myinvois";

/// `serve --demo` without a MyInvois account: a simulated MyInvois under
/// [`SIMULATED_MYINVOIS_PATH`] on this server, a client secret made for this
/// run, and a signing certificate made now (a demo one, by `openssl`).
fn simulated_e_invoicing(
    config: &Config,
    address: std::net::SocketAddr,
) -> anyhow::Result<(crate::myinvois::job::EInvoicing, crate::myinvois::simulator::Simulator)> {
    let (key, certificate) = crate::demo::signing_certificate()?;
    let signer = crate::myinvois::signature::SoftwareSigner::from_pem(&key, &certificate)?;
    let secret = crate::auth::token::generate()?;
    let simulator = crate::myinvois::simulator::Simulator::new("kuota-demo", &secret)?;
    let api = format!("http://{address}{SIMULATED_MYINVOIS_PATH}");
    let account = crate::myinvois::client::Account {
        identity_url: api.clone(),
        api_url: api,
        client_id: "kuota-demo".to_owned(),
        client_secret: secret,
        portal_url: format!("{}{SIMULATED_MYINVOIS_PATH}", config.public_url.trim_end_matches('/')),
    };
    let client = crate::myinvois::client::Client::new(account)?;
    Ok((crate::myinvois::job::EInvoicing { client, signer: Arc::new(signer) }, simulator))
}

/// Where `serve --demo` mounts its simulated Billplz.
pub const SIMULATED_BILLPLZ_PATH: &str = "/demo/billplz";

/// `serve --demo` without a Billplz account: a simulated Billplz under
/// [`SIMULATED_BILLPLZ_PATH`] on this server, with keys made for this run.
fn simulated_gateway(
    config: &Config,
    address: std::net::SocketAddr,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(crate::billplz::client::Account, crate::billplz::simulator::Simulator)> {
    let key = crate::auth::token::generate()?;
    let account = crate::billplz::client::Account {
        api_url: format!("http://{address}{SIMULATED_BILLPLZ_PATH}/api"),
        api_key: key.clone(),
        collection_id: "demo".to_owned(),
        x_signature_key: format!("{key}-x"),
    };
    let pages = format!("{}{SIMULATED_BILLPLZ_PATH}", config.public_url.trim_end_matches('/'));
    let simulator = crate::billplz::simulator::Simulator::new(account.clone(), &pages, clock)?;
    Ok((account, simulator))
}

/// Reads (or, the first time, makes) the audit key named by
/// `KUOTA_AUDIT_KEY_FILE` and makes sure the database's audit trail is sealed
/// with it (`audit::seal`: a trail from before the key is checked and
/// re-sealed once). Every command that writes or checks audit records calls
/// this after migrating.
///
/// # Errors
/// The key file cannot be used, the trail was sealed with another key, or
/// the unsealed trail is broken.
pub async fn open_audit_trail(config: &Config, db: &Db) -> anyhow::Result<Arc<crate::audit::Key>> {
    // Only a key made just now may seal a trail that has history but names no
    // key: with an existing key, a head without one means someone cleared it.
    let key_is_new = !config.audit_key_file.exists();
    let key = crate::audit::Key::load_or_create(&config.audit_key_file)?;
    crate::audit::seal(db, &key, key_is_new).await?;
    Ok(Arc::new(key))
}

/// Starts the outbox worker when SMTP is configured; otherwise says that
/// messages wait in the outbox (nothing is dropped).
///
/// # Errors
/// The SMTP URL or From address does not parse.
pub fn start_mail(config: &Config, state: &AppState) -> anyhow::Result<()> {
    let Some(smtp_url) = &config.smtp_url else {
        tracing::warn!("KUOTA_SMTP_URL is not set: e-mail waits in the outbox and is sent once SMTP is configured");
        return Ok(());
    };
    let settings = crate::notify::worker::MailSettings {
        smtp_url: smtp_url.clone(),
        from: config.mail_from.clone(),
        retry_base_ms: config.mail_retry_base_ms,
        public_url: config.public_url.clone(),
    };
    crate::notify::worker::spawn(
        state.db.clone(),
        (state.clock.clone(), state.blobs.clone(), state.jobs.clone()),
        settings,
    )
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
