//! Many clients at once on one account, and on many accounts whose
//! consumptions share the writer's batches: exactly the units there are, no
//! more, on every account.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    sixty_four_clients_spend_exactly_the_units_there_are,
    consumptions_on_many_accounts_in_one_batch_spend_exactly_each_accounts_units,
);

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

/// Four developers × two products, each account with its own balance;
/// 48 clients ask every account in turn for more than it holds, so batches
/// mix accounts that can pay with accounts that cannot.
async fn consumptions_on_many_accounts_in_one_batch_spend_exactly_each_accounts_units(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let developers = ["PMJ-1", "PMJ-2", "PMJ-3", "PMJ-4"];
    let mut accounts = Vec::new();
    for (index, code) in developers.iter().enumerate() {
        app.add_developer(code, &format!("20190100000{}", index + 1)).await;
        for (product, units) in [("CERT-1Y", 30 + 10 * index), ("CERT-1M", 5 + index)] {
            assert_eq!(app.adjust(code, product, i64::try_from(units).unwrap()).await.status(), 201);
            accounts.push((*code, product, units));
        }
    }
    let accounts = Arc::new(accounts);
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..48)
        .map(|_| {
            let (app_url, token, accounts, next) =
                (app.address.clone(), app.hims_token.clone(), accounts.clone(), next.clone());
            let http = kuota::outbound::client_builder().unwrap().build().unwrap();
            tokio::spawn(async move {
                let mut created = vec![0_usize; accounts.len()];
                loop {
                    let attempt = next.fetch_add(1, Ordering::SeqCst);
                    if attempt >= 600 {
                        return created;
                    }
                    let which = attempt % accounts.len();
                    let (code, product, _) = accounts[which];
                    let key = format!("many-{attempt}");
                    let response = http
                        .post(format!("{app_url}/api/v1/developers/{code}/consumptions"))
                        .bearer_auth(&token)
                        .header("Idempotency-Key", &key)
                        .json(&json!({"product": product, "units": 1, "reference": key}))
                        .send()
                        .await
                        .unwrap();
                    match response.status().as_u16() {
                        201 => created[which] += 1,
                        409 => {}
                        other => panic!("{code} {product}: {other}"),
                    }
                }
            })
        })
        .collect();
    let mut created = vec![0_usize; accounts.len()];
    for task in tasks {
        for (total, got) in created.iter_mut().zip(task.await.unwrap()) {
            *total += got;
        }
    }
    for ((code, product, units), got) in accounts.iter().zip(&created) {
        assert_eq!(got, units, "{code} {product}: every unit spent, none twice");
        let balance = app.balance(code, product).await;
        assert_eq!((balance["available"].as_i64(), balance["consumed"].as_i64()), (Some(0), Some(*units as i64)));
    }
    app.assert_ledger_verifies().await;
}
