//! What an operator watches, in the OpenMetrics text format Prometheus
//! scrapes, served on its own listener (`KUOTA_METRICS_LISTEN`, off unless
//! set) so it is never exposed with the portal: HTTP requests by route
//! template and status with their latency; the ledger writer's batches
//! (size, commit time, commands waiting); and, read from the database at
//! each scrape (so every node shows the whole system), the backlogs of the
//! mail outbox, the e-invoice job, online payments (bills due at the gateway,
//! bills waiting for finance's decision) and payments waiting for retail's
//! review, with the age of their oldest item; quota requests overdue per
//! step; sign-in failures of the last 15 minutes; this node's refusals at
//! the public doors; and the build.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    step: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~4 s.
    Histogram::new(exponential_buckets(0.000_5, 2.0, 14))
}

/// The node's metrics (cheap to clone: the families are shared).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    batch_size: Histogram,
    batch_seconds: Histogram,
    queue_depth: Gauge,
    backlog: Family<JobLabels, Gauge>,
    oldest_seconds: Family<JobLabels, Gauge<f64, AtomicU64>>,
    overdue: Family<StepLabels, Gauge>,
    sign_in_failures: Gauge,
    door_refusals: Counter,
    /// The admission's count already added to `door_refusals`.
    door_refusals_seen: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every family, registered under `kuota_`.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kuota");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register("http_request_duration_seconds", "Time to answer, by route template", latency.clone());
        let batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 9));
        registry.register(
            "ledger_batch_size",
            "Ledger writes committed together in one transaction",
            batch_size.clone(),
        );
        let batch_seconds = Histogram::new(exponential_buckets(0.000_25, 2.0, 14));
        registry.register("ledger_batch_seconds", "Time to apply and commit one ledger batch", batch_seconds.clone());
        let queue_depth = Gauge::default();
        registry.register(
            "ledger_queue_depth",
            "Ledger writes waiting for the next batch on this node",
            queue_depth.clone(),
        );
        let backlog = Family::<JobLabels, Gauge>::default();
        registry.register("job_backlog", "Items of a background job not yet done, by status", backlog.clone());
        let oldest_seconds = Family::<JobLabels, Gauge<f64, AtomicU64>>::default();
        registry.register("job_oldest_item_age_seconds", "Age of the oldest item not yet done", oldest_seconds.clone());
        let overdue = Family::<StepLabels, Gauge>::default();
        registry.register("requests_overdue", "Quota requests past their step's due date, by status", overdue.clone());
        let sign_in_failures = Gauge::default();
        registry.register("sign_in_failures_15m", "Failed sign-ins in the last 15 minutes", sign_in_failures.clone());
        let door_refusals = Counter::default();
        registry.register(
            "public_door_refusals",
            "Sign-ins, registrations and password-reset requests this node refused (429) for coming too fast from one address",
            door_refusals.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build.get_or_create(&BuildLabels { version: env!("CARGO_PKG_VERSION") }).set(1);
        registry.register("build_info", "The running build", build);
        Self {
            registry: Arc::new(registry),
            requests,
            latency,
            batch_size,
            batch_seconds,
            queue_depth,
            backlog,
            oldest_seconds,
            overdue,
            sign_in_failures,
            door_refusals,
            door_refusals_seen: Arc::default(),
        }
    }

    /// One answered request.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let labels = RequestLabels { route: route.to_owned(), method: method.to_owned(), status };
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&RouteLabels { route: route.to_owned() }).observe(seconds);
    }

    /// One committed ledger batch and what waits behind it.
    pub fn observe_batch(&self, size: usize, seconds: f64, waiting: usize) {
        #[allow(clippy::cast_precision_loss)]
        self.batch_size.observe(size as f64);
        self.batch_seconds.observe(seconds);
        self.queue_depth.set(i64::try_from(waiting).unwrap_or(i64::MAX));
    }

    /// The exposition, after reading the database's figures.
    ///
    /// # Errors
    /// A database fault, or an encoding fault.
    pub async fn render(&self, state: &AppState) -> anyhow::Result<String> {
        let now_ms = state.clock.now_ms();
        let age = |oldest: Option<i64>| oldest.map_or(0.0, |at| (now_ms - at).max(0) as f64 / 1000.0);
        let mut connection = state.db.pool().acquire().await?;
        let (unsent, oldest) = crate::notify::store::backlog(&mut connection).await?;
        self.backlog.get_or_create(&JobLabels { job: "mail", status: "unsent" }).set(unsent);
        self.oldest_seconds.get_or_create(&JobLabels { job: "mail", status: "unsent" }).set(age(oldest));
        for status in ["queued", "blocked", "submitted", "invalid"] {
            let (count, oldest) = crate::myinvois::store::backlog(&mut connection, status).await?;
            self.backlog.get_or_create(&JobLabels { job: "e_invoice", status }).set(count);
            self.oldest_seconds.get_or_create(&JobLabels { job: "e_invoice", status }).set(age(oldest));
        }
        for status in ["pending", "needs_decision"] {
            let (count, oldest) = crate::billplz::store::backlog(&mut connection, status).await?;
            self.backlog.get_or_create(&JobLabels { job: "online_payment", status }).set(count);
            self.oldest_seconds.get_or_create(&JobLabels { job: "online_payment", status }).set(age(oldest));
        }
        let (count, oldest) = crate::request::store::payments_awaiting_review(&mut connection).await?;
        self.backlog.get_or_create(&JobLabels { job: "payment_review", status: "submitted" }).set(count);
        self.oldest_seconds.get_or_create(&JobLabels { job: "payment_review", status: "submitted" }).set(age(oldest));
        let today = crate::clock::today_local(state.clock.now()).to_string();
        self.overdue.clear();
        for (status, count) in crate::request::store::overdue_by_status(&mut connection, &today).await? {
            self.overdue.get_or_create(&StepLabels { step: status }).set(count);
        }
        let since = now_ms - crate::auth::service::SIGN_IN_WINDOW_MS;
        self.sign_in_failures.set(crate::auth::store::failures_since(&mut connection, since).await?);
        drop(connection);
        // Scrapes at once each add only what no other scrape added.
        let refused = state.admission.refused();
        let seen = self.door_refusals_seen.fetch_max(refused, std::sync::atomic::Ordering::Relaxed);
        self.door_refusals.inc_by(refused.saturating_sub(seen));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Counts and times every routed request by its route template (never the
/// raw path: ids would make a family per request).
pub async fn measure(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = crate::clock::monotonic_now();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    state.metrics.observe_request(&route, &method, response.status().as_u16(), seconds);
    response
}

/// The metrics listener's one route.
pub fn router(state: AppState) -> axum::Router {
    axum::Router::new().route("/metrics", axum::routing::get(scrape)).with_state(state)
}

async fn scrape(State(state): State<AppState>) -> Response {
    match state.metrics.render(&state).await {
        Ok(text) => {
            ([(axum::http::header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text)
                .into_response()
        }
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "metrics could not be read");
            axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
