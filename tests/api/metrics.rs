//! `/metrics` on its own listener: scraped over HTTP and parsed as the
//! OpenMetrics text Prometheus reads.

use std::collections::BTreeMap;

use serde_json::json;

use crate::helpers::{Backend, TestApp, assert_problem, pdf_bytes};
use crate::on_both_backends;

on_both_backends!(the_metrics_listener_counts_requests_batches_backlogs_and_failures);

/// Every sample of an exposition: `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|line| !line.starts_with('#') && !line.is_empty()) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample line: {line}"));
        samples.insert(series.to_owned(), value.parse::<f64>().unwrap_or_else(|_| panic!("a number: {line}")));
    }
    samples
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples.get(series).unwrap_or_else(|| panic!("{series} missing from {samples:#?}"))
}

/// Sets prices and users, and leaves one payment waiting for retail's review.
async fn a_payment_awaiting_review(app: &TestApp) {
    let parties = crate::workflow::setup(app).await;
    // A payment waiting for retail's review.
    let lines = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 1}]});
    let request: serde_json::Value =
        app.post_as(&parties.developer, "/api/v1/quota-requests", &lines).await.json().await.unwrap();
    let id = request["id"].as_i64().unwrap();
    let quoted = app.post_as(&parties.retail, &format!("/api/v1/quota-requests/{id}/quotations"), &json!({})).await;
    assert_eq!(quoted.status(), 201);
    let paid = app
        .submit_payment(&parties.developer, id, "bank_transfer", "FT-M-1", "54.00", "bukti.pdf", pdf_bytes("m"))
        .await;
    assert_eq!(paid.status(), 201);
}

async fn the_metrics_listener_counts_requests_batches_backlogs_and_failures(backend: Backend) {
    // One sign-in per address, so the second wrong one is refused at the door.
    let allowance = kuota::auth::admission::Allowance {
        burst: 1,
        refill_every: std::time::Duration::from_secs(3600),
        tarpit: std::time::Duration::ZERO,
    };
    let app = TestApp::spawn_admitting(backend, allowance).await;
    a_payment_awaiting_review(&app).await;
    assert_eq!(app.adjust("PMJ-1", "CERT-1Y", 10).await.status(), 201);
    for key in ["m-1", "m-2", "m-3"] {
        assert_eq!(app.consume("PMJ-1", key, "CERT-1Y", 1).await.status(), 201);
    }
    assert_eq!(app.consume("PMJ-1", "m-4", "CERT-1Y", 100).await.status(), 409);
    let wrong = json!({"email": "tiada@contoh.my", "password": "salah-sekali-lagi"});
    assert_eq!(app.client.post(app.url("/api/v1/tokens")).json(&wrong).send().await.unwrap().status(), 401);
    assert_problem(
        app.client.post(app.url("/api/v1/tokens")).json(&wrong).send().await.unwrap(),
        429,
        "/too-many-requests",
    )
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(axum::serve(listener, kuota::metrics::router(app.state.clone())).into_future());
    let scraped = app.client.get(format!("http://{address}/metrics")).send().await.unwrap();
    assert_eq!(scraped.status(), 200);
    let content_type = scraped.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    let text = scraped.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE kuota_http_request_duration_seconds histogram"), "{text}");
    let all = samples(&text);
    // Requests by route template, never by raw path.
    let route = "/api/v1/developers/{code}/consumptions";
    let ok = format!(r#"kuota_http_requests_total{{route="{route}",method="POST",status="201"}}"#);
    let refused = format!(r#"kuota_http_requests_total{{route="{route}",method="POST",status="409"}}"#);
    assert_eq!((value(&all, &ok), value(&all, &refused)), (3.0, 1.0));
    assert!(!text.contains("PMJ-1/consumptions"), "a raw path became a label");
    let count = value(&all, &format!(r#"kuota_http_request_duration_seconds_count{{route="{route}"}}"#));
    assert_eq!(count, 4.0);
    let buckets: Vec<f64> = all
        .iter()
        .filter(|(series, _)| {
            series.starts_with("kuota_http_request_duration_seconds_bucket") && series.contains(route)
        })
        .map(|(_, v)| *v)
        .collect();
    assert!(buckets.len() >= 10 && buckets.iter().all(|v| *v <= count), "{buckets:?}");
    let infinite = all
        .iter()
        .find(|(series, _)| series.contains("_bucket{") && series.contains(route) && series.contains(r#"le="+Inf""#))
        .map(|(_, v)| *v);
    assert_eq!(infinite, Some(count), "the +Inf bucket holds every request");
    // The ledger writer's batches: the credit and four consumptions at least
    // (the hold sweeper adds its own), never more batches than writes.
    let batches = value(&all, "kuota_ledger_batch_size_count");
    let written = value(&all, "kuota_ledger_batch_size_sum");
    assert!(batches >= 1.0 && written >= 5.0 && batches <= written, "{batches} batches of {written} writes");
    assert!(value(&all, "kuota_ledger_batch_seconds_count") == batches);
    // Backlogs and failures, read from the database.
    let unsent = app.count("outbox WHERE sent_at IS NULL AND failed_at IS NULL").await;
    #[allow(clippy::cast_precision_loss)]
    let unsent = unsent as f64;
    assert_eq!(value(&all, r#"kuota_job_backlog{job="mail",status="unsent"}"#), unsent);
    assert_eq!(value(&all, r#"kuota_job_backlog{job="e_invoice",status="queued"}"#), 0.0);
    assert_eq!(value(&all, "kuota_sign_in_failures_15m"), 1.0);
    assert_eq!(value(&all, "kuota_public_door_refusals_total"), 1.0);
    let backlog =
        |job: &str, status: &str| value(&all, &format!(r#"kuota_job_backlog{{job="{job}",status="{status}"}}"#));
    assert_eq!(backlog("payment_review", "submitted"), 1.0);
    assert_eq!((backlog("online_payment", "pending"), backlog("online_payment", "needs_decision")), (0.0, 0.0));
    let age = value(&all, r#"kuota_job_oldest_item_age_seconds{job="payment_review",status="submitted"}"#);
    assert!(age >= 0.0, "{age}");
    assert_eq!(value(&all, &format!(r#"kuota_build_info{{version="{}"}}"#, env!("CARGO_PKG_VERSION"))), 1.0);
}
