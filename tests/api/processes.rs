//! The real binary: its command line, a kill -9 in the middle of a load, and
//! two server processes sharing one PostgreSQL.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use kuota::db::Db;
use serde_json::json;

use crate::concurrency::hammer;
use crate::helpers::{Backend, TestDatabase};
use crate::on_both_backends;

on_both_backends!(
    a_kill_during_load_loses_no_answered_consumption,
    the_cli_creates_developers_and_clients_and_verifies_the_ledger,
);

pub const BINARY: &str = env!("CARGO_BIN_EXE_kuota");

fn cli(database: &TestDatabase, args: &[&str]) -> Output {
    cli_with(database, &[], args)
}

/// `kuota ARGS` with the database's environment and `extra` over it.
pub fn cli_with(database: &TestDatabase, extra: &[(&str, String)], args: &[&str]) -> Output {
    Command::new(BINARY).args(args).envs(database.env()).envs(extra.iter().cloned()).output().expect("run kuota")
}

pub fn last_line(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default().to_owned()
}

/// A `kuota serve` process; killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    fn start(database: &TestDatabase) -> Self {
        Self::start_with(database, &[])
    }

    /// A server with the database's environment and `extra` over it.
    pub fn start_with(database: &TestDatabase, extra: &[(&str, String)]) -> Self {
        let mut child = Command::new(BINARY)
            .arg("serve")
            .envs(database.env())
            .envs(extra.iter().cloned())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start kuota serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read the listening line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Self { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A developer, an operator (an admin API client) and HIMS.
pub fn prepare(database: &TestDatabase) -> (String, String) {
    let added = cli(
        database,
        &[
            "developer",
            "add",
            "--code",
            "PMJ-1",
            "--name",
            "Maju Sdn Bhd",
            "--registration-no",
            "201901000005",
            "--email",
            "a@maju.my",
        ],
    );
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let admin = last_line(&cli(database, &["api-client", "create", "--name", "ops", "--scope", "admin"]));
    let hims = last_line(&cli(database, &["api-client", "create", "--name", "HIMS", "--scope", "hims"]));
    (admin, hims)
}

/// An opening balance. One operator (an API client) cannot be two people,
/// so it first raises the second-person threshold (audited) for it.
async fn credit(url: &str, admin: &str, units: i64) {
    let client = kuota::outbound::client_builder().unwrap().build().unwrap();
    let settings = json!({"adjustment_second_person_above_units": 1_000_000});
    let raised = client.put(format!("{url}/api/v1/settings")).bearer_auth(admin).json(&settings).send().await.unwrap();
    assert_eq!(raised.status(), 200);
    let response = client
        .post(format!("{url}/api/v1/developers/PMJ-1/adjustments"))
        .bearer_auth(admin)
        .json(&json!({"product": "CERT-1Y", "units": units, "reason": "opening balance"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

async fn a_kill_during_load_loses_no_answered_consumption(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let (admin, hims) = prepare(&database);
    let mut server = Server::start(&database);
    credit(&server.url, &admin, 1_000_000).await;
    let load = tokio::spawn(hammer(vec![server.url.clone()], hims.clone(), "PMJ-1", 50_000, 16));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.child.kill().expect("kill -9");
    let _ = server.child.wait();
    let tally = load.await.unwrap();
    assert!(tally.created > 50, "the load ran before the kill ({} created)", tally.created);
    let verify = cli(&database, &["ledger", "verify"]);
    assert!(verify.status.success(), "ledger verify after a crash: {}", String::from_utf8_lossy(&verify.stdout));
    let audit = cli(&database, &["audit", "verify"]);
    assert!(audit.status.success(), "audit verify after a crash: {}", String::from_utf8_lossy(&audit.stdout));
    let db = Db::connect(&database.config()).await.unwrap();
    let mut missing = Vec::new();
    for id in &tally.created_ids {
        let row = sqlx::query("SELECT id FROM ledger_entries WHERE id = $1 AND kind = 'consume'")
            .bind(*id)
            .fetch_optional(db.pool())
            .await
            .unwrap();
        if row.is_none() {
            missing.push(*id);
        }
    }
    assert!(missing.is_empty(), "{} answered consumptions are missing after the crash: {missing:?}", missing.len());
    let restarted = Server::start(&database);
    let balance: serde_json::Value = kuota::outbound::client_builder()
        .unwrap()
        .build()
        .unwrap()
        .get(format!("{}/api/v1/developers/PMJ-1/balances", restarted.url))
        .bearer_auth(&hims)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let consumed = balance["balances"][1]["consumed"].as_i64().unwrap();
    assert!(consumed >= i64::try_from(tally.created).unwrap(), "consumed {consumed} < answered {}", tally.created);
    db.close().await;
}

async fn the_cli_creates_developers_and_clients_and_verifies_the_ledger(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let (admin, _) = prepare(&database);
    assert!(admin.starts_with("kuota_") && admin.len() > 60, "the token is the last line: {admin}");
    let duplicate = cli(
        &database,
        &[
            "developer",
            "add",
            "--code",
            "pmj-1",
            "--name",
            "X",
            "--registration-no",
            "202001000001",
            "--email",
            "a@b.my",
        ],
    );
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already registered"));
    let invalid = cli(
        &database,
        &["developer", "add", "--code", "P 1", "--name", "X", "--registration-no", "123", "--email", "a@b.my"],
    );
    assert!(!invalid.status.success());
    let db = Db::connect(&database.config()).await.unwrap();
    let stored = sqlx::query("SELECT token_sha256 FROM api_clients WHERE token_sha256 = $1")
        .bind(&admin)
        .fetch_optional(db.pool())
        .await
        .unwrap();
    assert!(stored.is_none(), "the token itself is not stored");
    assert!(cli(&database, &["ledger", "verify"]).status.success());
    let server = Server::start(&database);
    credit(&server.url, &admin, 10).await;
    drop(server);
    // Tamper with a balance behind the ledger's back: verify must notice.
    sqlx::query("UPDATE ledger_accounts SET credited = credited + 5, available = available + 5")
        .execute(db.pool())
        .await
        .unwrap();
    let verify = cli(&database, &["ledger", "verify"]);
    assert!(!verify.status.success());
    let report = String::from_utf8_lossy(&verify.stdout);
    assert!(report.contains("PMJ-1") && report.contains("CERT-1Y"), "names the account: {report}");
    db.close().await;
    let unknown = Command::new(BINARY).arg("migrate").envs(database.env()).env("KUOTA_LISTN", "1").output().unwrap();
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("KUOTA_LISTN"), "unknown variables are reported");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_postgres_spend_exactly_the_units_there_are() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let (admin, hims) = prepare(&database);
    let (first, second) = (Server::start(&database), Server::start(&database));
    credit(&first.url, &admin, 1000).await;
    let tally = hammer(vec![first.url.clone(), second.url.clone()], hims, "PMJ-1", 2000, 64).await;
    assert_eq!(tally.other, Vec::<u16>::new());
    assert_eq!((tally.created, tally.insufficient), (1000, 1000));
    let verify = cli(&database, &["ledger", "verify"]);
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_key_sent_to_two_servers_at_once_writes_one_entry() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let (admin, hims) = prepare(&database);
    let (first, second) = (Server::start(&database), Server::start(&database));
    credit(&first.url, &admin, 100).await;
    let http = kuota::outbound::client_builder().unwrap().build().unwrap();
    let mut requests = Vec::new();
    for index in 0..20 {
        let url = if index % 2 == 0 { &first.url } else { &second.url };
        requests.push(
            http.post(format!("{url}/api/v1/developers/PMJ-1/consumptions"))
                .bearer_auth(&hims)
                .header("Idempotency-Key", "shared-key")
                .json(&json!({"product": "CERT-1Y", "units": 3, "reference": "across nodes"}))
                .send(),
        );
    }
    let mut bodies = Vec::new();
    for response in crate::idempotency::futures_join_all(requests).await {
        let response = response.unwrap();
        assert_eq!(response.status(), 201);
        bodies.push(response.text().await.unwrap());
    }
    assert!(bodies.windows(2).all(|pair| pair[0] == pair[1]), "identical answers from both nodes: {bodies:?}");
    let db = Db::connect(&database.config()).await.unwrap();
    let row =
        sqlx::query("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'consume'").fetch_one(db.pool()).await.unwrap();
    assert_eq!(sqlx::Row::try_get::<i64, _>(&row, 0).unwrap(), 1);
    db.close().await;
}

/// Consumes 1 unit per key from `urls` (the current node addresses, which a
/// restart changes) until `stop`; a connection error or a 503 is retried
/// with the same `Idempotency-Key` on the next node. Returns every key
/// answered 201.
async fn retrying_client(
    urls: std::sync::Arc<std::sync::RwLock<Vec<String>>>,
    hims: String,
    client: usize,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<String> {
    let http = kuota::outbound::client_builder().unwrap().build().unwrap();
    let mut answered = Vec::new();
    let mut turn = client;
    for n in 0.. {
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        let key = format!("roll-{client}-{n}");
        let body = json!({"product": "CERT-1Y", "units": 1, "reference": key});
        loop {
            turn += 1;
            let url = {
                let urls = urls.read().unwrap();
                urls[turn % urls.len()].clone()
            };
            let sent = http
                .post(format!("{url}/api/v1/developers/PMJ-1/consumptions"))
                .bearer_auth(&hims)
                .header("Idempotency-Key", &key)
                .json(&body)
                .send()
                .await;
            match sent.map(|response| response.status().as_u16()) {
                Ok(201) => break answered.push(key.clone()),
                Ok(503) | Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                Ok(other) => panic!("{key}: unexpected {other}"),
            }
        }
    }
    answered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolling_restart_under_load_loses_and_duplicates_nothing() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let (admin, hims) = prepare(&database);
    let (mut first, second) = (Server::start(&database), Server::start(&database));
    credit(&first.url, &admin, 1_000_000).await;
    let urls = std::sync::Arc::new(std::sync::RwLock::new(vec![first.url.clone(), second.url.clone()]));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> =
        (0..8).map(|client| tokio::spawn(retrying_client(urls.clone(), hims.clone(), client, stop.clone()))).collect();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    // SIGTERM to the first node under load: it finishes what is in flight and exits 0.
    let pid = first.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let exited = first.child.wait().unwrap();
    assert!(exited.success(), "a stopped node exits 0: {exited:?}");
    // It comes back (on a new port), and the load goes on over both.
    first = Server::start(&database);
    urls.write().unwrap()[0] = first.url.clone();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut answered = Vec::new();
    for client in clients {
        answered.extend(client.await.unwrap());
    }
    assert!(answered.len() > 100, "the load ran across the restart ({} answered)", answered.len());
    let db = Db::connect(&database.config()).await.unwrap();
    let mut written: Vec<String> =
        sqlx::query_scalar("SELECT reference FROM ledger_entries WHERE kind = 'consume' ORDER BY reference")
            .fetch_all(db.pool())
            .await
            .unwrap();
    answered.sort();
    let before = written.len();
    written.dedup();
    assert_eq!(written.len(), before, "no consumption applied twice");
    assert_eq!(written, answered, "every answered consumption written, and nothing unanswered");
    let verify = cli(&database, &["ledger", "verify"]);
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    db.close().await;
    drop(second);
}
