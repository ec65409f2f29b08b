//! Many clients at once on one account: exactly the units there are, no more.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(sixty_four_clients_spend_exactly_the_units_there_are);

/// What a load of consumption attempts got back.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub created: usize,
    pub insufficient: usize,
    pub other: Vec<u16>,
    pub created_ids: Vec<i64>,
}

/// `attempts` consumptions of 1 unit by `clients` concurrent clients, spread
/// over the given base URLs (one per server process).
pub async fn hammer(base_urls: Vec<String>, token: String, code: &str, attempts: usize, clients: usize) -> Tally {
    let next = Arc::new(AtomicUsize::new(0));
    let http = kuota::outbound::client_builder().unwrap().pool_max_idle_per_host(clients).build().unwrap();
    let mut tasks = Vec::new();
    for client_index in 0..clients {
        let (next, http, token, base_urls) = (next.clone(), http.clone(), token.clone(), base_urls.clone());
        let path = format!("/api/v1/developers/{code}/consumptions");
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let base = &base_urls[client_index % base_urls.len()];
            loop {
                let attempt = next.fetch_add(1, Ordering::SeqCst);
                if attempt >= attempts {
                    return tally;
                }
                let body = json!({"product": "CERT-1Y", "units": 1, "reference": format!("load-{attempt}")});
                let response = http
                    .post(format!("{base}{path}"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", format!("load-{attempt}"))
                    .json(&body)
                    .send()
                    .await;
                match response {
                    Ok(response) if response.status() == 201 => {
                        tally.created += 1;
                        let body: serde_json::Value = response.json().await.unwrap();
                        tally.created_ids.push(body["id"].as_i64().unwrap());
                    }
                    Ok(response) if response.status() == 409 => tally.insufficient += 1,
                    Ok(response) => tally.other.push(response.status().as_u16()),
                    Err(_) => tally.other.push(0),
                }
            }
        }));
    }
    let mut total = Tally::default();
    for task in tasks {
        let tally = task.await.unwrap();
        total.created += tally.created;
        total.insufficient += tally.insufficient;
        total.other.extend(tally.other);
        total.created_ids.extend(tally.created_ids);
    }
    total
}

async fn sixty_four_clients_spend_exactly_the_units_there_are(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    assert_eq!(app.adjust("PMJ-1", "CERT-1Y", 1000).await.status(), 201);
    let tally = hammer(vec![app.address.clone()], app.hims_token.clone(), "PMJ-1", 2000, 64).await;
    assert_eq!(tally.other, Vec::<u16>::new(), "only 201 and 409");
    assert_eq!((tally.created, tally.insufficient), (1000, 1000));
    let balance = app.balance("PMJ-1", "CERT-1Y").await;
    assert_eq!((balance["available"].as_i64(), balance["consumed"].as_i64()), (Some(0), Some(1000)));
    app.assert_ledger_verifies().await;
}
