//! Load generator for `scripts/bench` (not a test): many concurrent clients
//! doing consumptions over HTTP, spread over DEVELOPERS × PRODUCTS (comma
//! lists: one of each is the one-hot account); or GETs of one path (`/healthz`,
//! the HTTP floor of this machine, or a balance read); or, as the baseline,
//! the ledger's own SQL transaction in a tight loop without HTTP (one
//! transaction per consumption, same durability settings).
//!
//! ```text
//! loadgen http URL TOKEN DEVELOPERS PRODUCTS CLIENTS SECONDS [RATE_PER_SECOND]
//! loadgen get URL TOKEN PATH CLIENTS SECONDS
//! loadgen baseline DATABASE_URL DEVELOPER SECONDS
//! ```
//! Prints one JSON line of results.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
// A benchmark measures wall time; that is its job, not a clock a test controls.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kuota::clock::{Clock, SystemClock};
use kuota::config::Config;
use kuota::db::Db;
use kuota::ledger::domain::EntryKind;
use kuota::ledger::store::{self, IdempotencyRecord, NewEntry, StoredResponse};
use serde_json::json;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("http") => http(&args[1..]).await,
        Some("get") => get(&args[1..]).await,
        Some("baseline") => baseline(&args[1..]).await,
        Some("flood") => flood(&args[1..]).await,
        _ => panic!(
            "usage: loadgen http URL TOKEN DEVELOPERS PRODUCTS CLIENTS SECONDS [RATE] | loadgen get URL TOKEN PATH CLIENTS SECONDS | loadgen baseline DATABASE_URL DEVELOPER SECONDS"
        ),
    }
}

/// The status of an answer read to its end; 0 when there was none.
async fn status_of(response: reqwest::Result<reqwest::Response>) -> u16 {
    match response {
        Ok(response) => {
            let status = response.status().as_u16();
            let _ = response.bytes().await;
            status
        }
        Err(_) => 0,
    }
}

fn percentile(sorted_us: &[u64], fraction: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let index = ((sorted_us.len() as f64 - 1.0) * fraction).round() as usize;
    sorted_us[index] as f64 / 1000.0
}

fn report(mode: &str, elapsed: Duration, mut latencies_us: Vec<u64>, ok: u64, refused: u64, errors: u64) {
    latencies_us.sort_unstable();
    let seconds = elapsed.as_secs_f64();
    let line = json!({
        "mode": mode,
        "seconds": (seconds * 10.0).round() / 10.0,
        "ok": ok, "refused": refused, "errors": errors,
        "throughput_per_s": ((ok + refused) as f64 / seconds).round(),
        "p50_ms": (percentile(&latencies_us, 0.50) * 100.0).round() / 100.0,
        "p99_ms": (percentile(&latencies_us, 0.99) * 100.0).round() / 100.0,
    });
    println!("{line}");
}

async fn http(args: &[String]) {
    let [url, token, developers, products, clients, seconds, rest @ ..] = args else {
        panic!("http URL TOKEN DEVELOPERS PRODUCTS CLIENTS SECONDS [RATE]")
    };
    let developers: Arc<Vec<String>> = Arc::new(developers.split(',').map(str::to_owned).collect());
    let products: Arc<Vec<String>> = Arc::new(products.split(',').map(str::to_owned).collect());
    let clients: usize = clients.parse().expect("clients");
    let duration = Duration::from_secs(seconds.parse().expect("seconds"));
    let rate: Option<f64> = rest.first().map(|r| r.parse().expect("rate"));
    let http = kuota::outbound::client_builder().unwrap().pool_max_idle_per_host(clients).build().expect("client");
    let sequence = Arc::new(AtomicU64::new(0));
    let run_id = SystemClock.now_ms();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for client_index in 0..clients {
        let (http, sequence) = (http.clone(), sequence.clone());
        let (url, token, developers, products) = (url.clone(), token.clone(), developers.clone(), products.clone());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut ok, mut refused, mut errors) = (Vec::new(), 0_u64, 0_u64, 0_u64);
            // Stagger the clients evenly over one period, so a fixed rate is an
            // even stream rather than bursts of every client at once.
            let mut ticker = rate.map(|r| {
                let period = Duration::from_secs_f64(clients as f64 / r);
                let offset = period.mul_f64(client_index as f64 / clients as f64);
                let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticker
            });
            while start.elapsed() < duration {
                if let Some(ticker) = ticker.as_mut() {
                    ticker.tick().await;
                }
                let n = sequence.fetch_add(1, Ordering::Relaxed) as usize;
                let key = format!("bench-{run_id}-{n}");
                // Every account in turn: developer by developer, then product by product.
                let developer = &developers[n % developers.len()];
                let product = &products[(n / developers.len()) % products.len()];
                let sent = Instant::now();
                let response = http
                    .post(format!("{url}/api/v1/developers/{developer}/consumptions"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", &key)
                    .json(&json!({"product": product, "units": 1, "reference": key}))
                    .send()
                    .await;
                let status = status_of(response).await;
                latencies.push(sent.elapsed().as_micros() as u64);
                match status {
                    201 => ok += 1,
                    409 => refused += 1,
                    _ => errors += 1,
                }
            }
            (latencies, ok, refused, errors)
        }));
    }
    let (mut all, mut ok, mut refused, mut errors) = (Vec::new(), 0, 0, 0);
    for task in tasks {
        let (latencies, o, r, e) = task.await.expect("task");
        all.extend(latencies);
        ok += o;
        refused += r;
        errors += e;
    }
    report(if rate.is_some() { "http-fixed-rate" } else { "http" }, start.elapsed(), all, ok, refused, errors);
}

/// CLIENTS clients each GETting PATH back to back for SECONDS (every answer
/// must be 200).
async fn get(args: &[String]) {
    let [url, token, path, clients, seconds] = args else { panic!("get URL TOKEN PATH CLIENTS SECONDS") };
    let clients: usize = clients.parse().expect("clients");
    let duration = Duration::from_secs(seconds.parse().expect("seconds"));
    let http = kuota::outbound::client_builder().unwrap().pool_max_idle_per_host(clients).build().expect("client");
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (http, target, token) = (http.clone(), format!("{url}{path}"), token.clone());
            tokio::spawn(async move {
                let (mut latencies, mut ok, mut errors) = (Vec::new(), 0_u64, 0_u64);
                while start.elapsed() < duration {
                    let sent = Instant::now();
                    let status = status_of(http.get(&target).bearer_auth(&token).send().await).await;
                    latencies.push(sent.elapsed().as_micros() as u64);
                    if status == 200 { ok += 1 } else { errors += 1 }
                }
                (latencies, ok, errors)
            })
        })
        .collect();
    let (mut all, mut ok, mut errors) = (Vec::new(), 0, 0);
    for task in tasks {
        let (latencies, o, e) = task.await.expect("task");
        all.extend(latencies);
        ok += o;
        errors += e;
    }
    report("get", start.elapsed(), all, ok, 0, errors);
}

/// An attack for `scripts/bench-under-attack`: SIGN_IN clients post wrong
/// passwords for staff accounts and REGISTER clients post registrations with
/// random data (each with a password to hash), for SECONDS. Prints one JSON
/// line: how many of each were answered, and with what.
async fn flood(args: &[String]) {
    let [url, sign_in_clients, register_clients, seconds] = args else {
        panic!("flood URL SIGN_IN_CLIENTS REGISTER_CLIENTS SECONDS")
    };
    let (sign_in_clients, register_clients): (usize, usize) =
        (sign_in_clients.parse().expect("clients"), register_clients.parse().expect("clients"));
    let duration = Duration::from_secs(seconds.parse().expect("seconds"));
    let http = kuota::outbound::client_builder()
        .unwrap()
        .pool_max_idle_per_host(sign_in_clients + register_clients)
        .build()
        .expect("client");
    let sequence = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for index in 0..sign_in_clients + register_clients {
        let (http, sequence, url) = (http.clone(), sequence.clone(), url.clone());
        let registering = index >= sign_in_clients;
        tasks.push(tokio::spawn(async move {
            let mut statuses: std::collections::BTreeMap<u16, u64> = std::collections::BTreeMap::new();
            while start.elapsed() < duration {
                let n = sequence.fetch_add(1, Ordering::Relaxed);
                let request = if registering {
                    http.post(format!("{url}/api/v1/registrations")).json(&json!({
                        "company_name": format!("Serangan {n} Sdn. Bhd."), "registration_no": format!("2020{:02}{:06}", 1 + n % 6, n % 1_000_000),
                        "developer_code": format!("ATK-{n}"), "address": "Jalan Serangan", "postcode": "50450", "state": "14",
                        "contact_person": "Penyerang", "email": format!("a{n}@attack.example"), "phone": "0123456789",
                        "user_name": "Penyerang", "user_email": format!("u{n}@attack.example"), "user_password": format!("rawak-{n}-kata-laluan"),
                        "privacy_notice_acknowledged": true,
                    }))
                } else {
                    let account = ["retail@posdigicert.com.my", "finance@posdigicert.com.my", "admin@posdigicert.com.my"][(n % 3) as usize];
                    http.post(format!("{url}/api/v1/tokens")).json(&json!({"email": account, "password": format!("tekaan-{n}")}))
                };
                let status = status_of(request.send().await).await;
                *statuses.entry(status).or_default() += 1;
            }
            (registering, statuses)
        }));
    }
    let mut sign_in: std::collections::BTreeMap<u16, u64> = std::collections::BTreeMap::new();
    let mut register: std::collections::BTreeMap<u16, u64> = std::collections::BTreeMap::new();
    for task in tasks {
        let (registering, statuses) = task.await.expect("task");
        let into = if registering { &mut register } else { &mut sign_in };
        for (status, count) in statuses {
            *into.entry(status).or_default() += count;
        }
    }
    println!(
        "{}",
        json!({"mode": "flood", "seconds": start.elapsed().as_secs(), "sign_in": sign_in, "register": register})
    );
}

/// The service's statements for one consumption (a group of one: audit head
/// lock, idempotency look-up, account lock, guarded UPDATE, entry, idempotency
/// record, audit record), one transaction each, no HTTP.
async fn baseline(args: &[String]) {
    let [database_url, developer, seconds] = args else { panic!("baseline DATABASE_URL DEVELOPER SECONDS") };
    // The audit records are chained with the server's key: KUOTA_AUDIT_KEY_FILE
    // (default ./kuota-data/audit.key) must name the same file.
    let mut variables: std::collections::BTreeMap<String, String> =
        [("KUOTA_DATABASE_URL".to_owned(), database_url.clone())].into_iter().collect();
    if let Ok(path) = std::env::var("KUOTA_AUDIT_KEY_FILE") {
        variables.insert("KUOTA_AUDIT_KEY_FILE".to_owned(), path);
    }
    let (config, _) = Config::from_variables(&variables).expect("config");
    let db = Db::connect(&config).await.expect("connect");
    let audit_key = kuota::startup::open_audit_trail(&config, &db).await.expect("audit key");
    let row = sqlx::query("SELECT id FROM developers WHERE code = $1")
        .bind(developer)
        .fetch_one(db.pool())
        .await
        .expect("developer");
    let developer_id: i64 = sqlx::Row::try_get(&row, 0).expect("id");
    let row = sqlx::query("SELECT id FROM api_clients ORDER BY id LIMIT 1").fetch_one(db.pool()).await.expect("client");
    let client_id: i64 = sqlx::Row::try_get(&row, 0).expect("id");
    let duration = Duration::from_secs(seconds.parse().expect("seconds"));
    let run_id = SystemClock.now_ms();
    let start = Instant::now();
    let (mut latencies, mut ok, mut refused) = (Vec::new(), 0_u64, 0_u64);
    let mut n = 0_u64;
    while start.elapsed() < duration {
        n += 1;
        let key = format!("baseline-{run_id}-{n}");
        let began = Instant::now();
        let now_ms = SystemClock.now_ms();
        let mut tx = db.begin_write().await.expect("begin");
        sqlx::query("UPDATE audit_head SET last_seq = last_seq WHERE id = 1")
            .execute(&mut *tx)
            .await
            .expect("audit head");
        let found = store::find_idempotency_records(&mut tx, &[(client_id, key.as_str())]).await.expect("lookup");
        assert!(found.is_empty());
        let account =
            store::lock_accounts(&mut tx, &[(developer_id, "CERT-1Y")], db.row_lock_clause()).await.expect("lock");
        match account.first() {
            Some(&(_, _, account_id, available)) if available >= 1 => {
                assert!(store::consume_from_accounts(&mut tx, &[(account_id, 1)]).await.expect("update"));
                let entry = NewEntry {
                    account_id,
                    developer_id,
                    kind: EntryKind::Consume,
                    units: 1,
                    reference: &key,
                    actor: "baseline",
                    hold_id: None,
                    at_ms: now_ms,
                };
                let id = store::insert_entries(&mut tx, &[entry]).await.expect("entry")[0];
                let body =
                    json!({"id": id, "product": "CERT-1Y", "units": 1, "reference": key, "available": available - 1})
                        .to_string();
                let record = IdempotencyRecord {
                    client_id,
                    key: key.clone(),
                    request_sha256: "hash".into(),
                    response: StoredResponse { status: 201, body },
                };
                store::insert_idempotency_records(&mut tx, &[record], now_ms).await.expect("record");
                let subject = format!("ledger_account:{account_id}");
                let audit = kuota::audit::Record {
                    actor: "baseline",
                    action: "ledger.consume",
                    subject: &subject,
                    before: None,
                    after: Some(json!({"entry": id, "units": 1, "reference": key})),
                    at_ms: now_ms,
                };
                kuota::audit::record(&mut tx, &audit_key, &audit).await.expect("audit");
                ok += 1;
            }
            _ => refused += 1,
        }
        tx.commit().await.expect("commit");
        latencies.push(began.elapsed().as_micros() as u64);
    }
    report("baseline-sql-loop", start.elapsed(), latencies, ok, refused, 0);
}
