//! Test harness: every test gets its own throwaway database (a temporary
//! SQLite file, or a fresh PostgreSQL database dropped afterwards) and its own
//! app on a random port, with a manual clock.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kuota::auth::Scope;
use kuota::clock::{Clock, ManualClock, SystemClock};
use kuota::config::{Config, SqliteSynchronous};
use kuota::db::Db;
use kuota::startup::app;
use kuota::state::AppState;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test body on both backends, as two tests.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await;
            }
        }
    )*};
}

/// The PostgreSQL server the suite creates its databases on.
pub fn postgres_server_url() -> String {
    std::env::var("KUOTA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A number unique within this test process.
pub fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemClock.now().as_nanosecond();
    format!("{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst), nanos % 1_000_000_000)
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub backend: Backend,
    pub url: String,
    pub data_dir: PathBuf,
    postgres_name: Option<String>,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> Self {
        let suffix = unique_suffix();
        let data_dir = std::env::temp_dir().join(format!("kuota-test-{suffix}"));
        std::fs::create_dir_all(&data_dir).expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let url = kuota::config::sqlite_url_in(&data_dir);
                Self { backend, url, data_dir, postgres_name: None }
            }
            Backend::Postgres => {
                sqlx::any::install_default_drivers();
                let server = postgres_server_url();
                let name = format!("kuota_test_{suffix}");
                let mut admin = sqlx::AnyConnection::connect(&server)
                    .await
                    .expect("PostgreSQL must answer at KUOTA_TEST_POSTGRES_URL");
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .expect("create database");
                let _ = admin.close().await;
                let url = database_url_on(&server, &name);
                Self { backend, url, data_dir, postgres_name: Some(name) }
            }
        }
    }

    pub fn config(&self) -> Config {
        Config {
            database_url: self.url.clone(),
            data_dir: self.data_dir.clone(),
            blobs: kuota::blob::BlobLocation::Folder(self.data_dir.join("blobs")),
            listen: "127.0.0.1:0".parse().expect("address"),
            metrics_listen: None,
            shutdown_grace: std::time::Duration::from_secs(20),
            max_connections: 8,
            sqlite_synchronous: SqliteSynchronous::Full,
            smtp_url: None,
            mail_from: "kuota@posdigicert.com.my".to_owned(),
            mail_retry_base_ms: 100,
            public_url: "https://kuota.test".to_owned(),
            trusted_proxies: vec!["127.0.0.1".parse().expect("address")],
            audit_key_file: self.data_dir.join("audit.key"),
            public_door_burst: kuota::auth::admission::BURST,
            billplz: None,
            myinvois: None,
        }
    }

    /// Environment for a `kuota` process using this database.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("KUOTA_DATABASE_URL", self.url.clone()),
            ("KUOTA_DATA_DIR", self.data_dir.display().to_string()),
            ("KUOTA_LISTEN", "127.0.0.1:0".to_owned()),
            ("KUOTA_DATABASE_MAX_CONNECTIONS", "8".to_owned()),
        ]
    }
}

/// `server` with its database name replaced by `name`.
fn database_url_on(server: &str, name: &str) -> String {
    let (base, query) = server.split_once('?').map_or((server, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    let mut url = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if let Some(name) = self.postgres_name.take() {
            // Drop runs outside async: use a fresh runtime on its own thread.
            let server = postgres_server_url();
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async move {
                    if let Ok(mut admin) = sqlx::AnyConnection::connect(&server).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await;
                        let _ = admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// An allowance no test reaches.
pub const GENEROUS_ADMISSION: kuota::auth::admission::Allowance = kuota::auth::admission::Allowance {
    burst: 1_000_000,
    refill_every: std::time::Duration::from_millis(1),
    tarpit: std::time::Duration::ZERO,
};

/// A running app with its database, clock, HTTP client and two API tokens.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: ManualClock,
    pub db: Db,
    pub admin_token: String,
    pub hims_token: String,
    pub database: TestDatabase,
    pub state: AppState,
    /// The fake Billplz on loopback, for apps that offer online payment.
    pub billplz: Option<kuota::billplz::simulator::Simulator>,
}

/// The fake Billplz's account: the X Signature key is the one of Billplz's
/// own published examples.
pub fn fake_billplz_account(api_url: &str) -> kuota::billplz::client::Account {
    kuota::billplz::client::Account {
        api_url: api_url.to_owned(),
        api_key: "73eb57f0-7d4e-42b9-a544-aeac6e4b0f81".to_owned(),
        collection_id: "inbmmepb".to_owned(),
        x_signature_key: "S-s7b4yWpp9h7rrkNM1i3Z_g".to_owned(),
    }
}

/// How a test app is set up.
struct Setup {
    smtp_url: Option<String>,
    allowance: kuota::auth::admission::Allowance,
    /// Keep the straight-through defaults and offer online payment through
    /// a fake Billplz; otherwise the seed's manual steps (retail quotes,
    /// finance invoices), which most workflow tests take one by one.
    straight_through: bool,
    /// Submit e-invoices this way.
    e_invoicing: Option<kuota::myinvois::job::EInvoicing>,
}

impl TestApp {
    /// An app running the seed's manual steps: `instant_quotation` and
    /// `invoice_on_credit` off, no online payment (see [`Self::spawn_straight_through`]).
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with_mail(backend, None).await
    }

    /// An app as a fresh installation runs: instant quotation and invoice on
    /// credit on (the defaults), and online payment through a fake Billplz
    /// on loopback ([`TestApp::billplz`]).
    pub async fn spawn_straight_through(backend: Backend) -> Self {
        Self::spawn_configured(
            backend,
            Setup { smtp_url: None, allowance: GENEROUS_ADMISSION, straight_through: true, e_invoicing: None },
        )
        .await
    }

    /// A straight-through app that submits e-invoices this way.
    pub async fn spawn_e_invoicing(backend: Backend, e_invoicing: kuota::myinvois::job::EInvoicing) -> Self {
        let setup = Setup {
            smtp_url: None,
            allowance: GENEROUS_ADMISSION,
            straight_through: true,
            e_invoicing: Some(e_invoicing),
        };
        Self::spawn_configured(backend, setup).await
    }

    /// An app whose outbox worker sends through `smtp_url`.
    pub async fn spawn_with_mail(backend: Backend, smtp_url: Option<String>) -> Self {
        Self::spawn_configured(
            backend,
            Setup { smtp_url, allowance: GENEROUS_ADMISSION, straight_through: false, e_invoicing: None },
        )
        .await
    }

    /// An app that admits `allowance` per client address at its public doors.
    pub async fn spawn_admitting(backend: Backend, allowance: kuota::auth::admission::Allowance) -> Self {
        Self::spawn_configured(backend, Setup { smtp_url: None, allowance, straight_through: false, e_invoicing: None })
            .await
    }

    /// Starts the fake Billplz on loopback; returns it and the client kuota uses.
    async fn start_fake_billplz(
        clock: &ManualClock,
    ) -> (kuota::billplz::simulator::Simulator, kuota::billplz::client::Client) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let account = fake_billplz_account(&format!("{base}/api"));
        let simulator = kuota::billplz::simulator::Simulator::new(account.clone(), &base, Arc::new(clock.clone()))
            .expect("simulator");
        let router = kuota::billplz::simulator::router(simulator.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (simulator, kuota::billplz::client::Client::new(account).expect("client"))
    }

    async fn spawn_configured(backend: Backend, setup: Setup) -> Self {
        let database = TestDatabase::create(backend).await;
        let db = Db::connect(&database.config()).await.expect("connect");
        db.migrate().await.expect("migrate");
        if !setup.straight_through {
            let mut connection = db.pool().acquire().await.expect("connection");
            let settings = kuota::settings::Settings {
                instant_quotation: false,
                invoice_on_credit: false,
                ..kuota::settings::Settings::default()
            };
            kuota::settings::save(&mut connection, &settings).await.expect("manual workflow settings");
        }
        let clock = ManualClock::starting_at(SystemClock.now());
        let blobs = kuota::blob::BlobStore::folder(database.data_dir.join("blobs"));
        let audit_key = kuota::startup::open_audit_trail(&database.config(), &db).await.expect("audit key");
        // The tests stand behind a trusted proxy on loopback, so they can speak
        // from several client addresses with X-Forwarded-For.
        let mut state =
            AppState::new(db.clone(), Arc::new(clock.clone()), blobs, "https://kuota.test".to_owned(), audit_key)
                .with_trusted_proxies(&database.config().trusted_proxies)
                // Tests sign in and register far more often than people do; the
                // public doors' admission is tested on its own.
                .with_admission(setup.allowance);
        let mut billplz = None;
        if setup.straight_through {
            let (simulator, client) = Self::start_fake_billplz(&clock).await;
            state = state.with_billplz(client);
            billplz = Some(simulator);
        }
        if let Some(e_invoicing) = setup.e_invoicing {
            state = state.with_e_invoicing(e_invoicing);
        }
        let config = kuota::config::Config { smtp_url: setup.smtp_url, ..database.config() };
        kuota::startup::start_mail(&config, &state).expect("mail worker");
        kuota::startup::spawn_background_tasks(&state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        let served = state.clone();
        tokio::spawn(async move {
            axum::serve(listener, app(served).into_make_service_with_connect_info::<std::net::SocketAddr>()).await
        });
        let now = clock.now_ms();
        let (_, admin_token) =
            kuota::auth::store::create_client(db.pool(), &state.audit_key, "test admin", Scope::Admin, "test", now)
                .await
                .expect("admin client");
        let (_, hims_token) =
            kuota::auth::store::create_client(db.pool(), &state.audit_key, "test hims", Scope::Hims, "test", now)
                .await
                .expect("hims client");
        let client = kuota::outbound::client_builder().unwrap().pool_max_idle_per_host(64).build().expect("client");
        Self { address, client, clock, db, admin_token, hims_token, database, state, billplz }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Another `kuota serve` on the same database (its own pool, ledger
    /// writer and token cache), as a second node behind a load balancer;
    /// returns its base URL and state.
    pub async fn second_node(&self) -> (String, AppState) {
        let db = Db::connect(&self.database.config()).await.expect("connect");
        let blobs = kuota::blob::BlobStore::folder(self.database.data_dir.join("blobs"));
        let audit_key = kuota::startup::open_audit_trail(&self.database.config(), &db).await.expect("audit key");
        let mut state =
            AppState::new(db, Arc::new(self.clock.clone()), blobs, "https://kuota.test".to_owned(), audit_key)
                .with_trusted_proxies(&self.database.config().trusted_proxies)
                .with_admission(GENEROUS_ADMISSION);
        if let Some(gateway) = &self.state.billplz {
            state = state.with_billplz(gateway.as_ref().clone());
        }
        if let Some(e_invoicing) = &self.state.e_invoicing {
            state = state.with_e_invoicing(e_invoicing.as_ref().clone());
        }
        kuota::startup::spawn_background_tasks(&state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        let served = state.clone();
        tokio::spawn(async move {
            axum::serve(listener, app(served).into_make_service_with_connect_info::<std::net::SocketAddr>()).await
        });
        (address, state)
    }

    /// Adds a verified developer through the admin API.
    pub async fn add_developer(&self, code: &str, registration_no: &str) {
        let body = json!({"code": code, "name": format!("{code} Sdn. Bhd."), "registration_no": registration_no, "email": "admin@pemaju.com.my"});
        let response = self
            .client
            .post(self.url("/api/v1/developers"))
            .bearer_auth(&self.admin_token)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::CREATED, "adding developer {code}");
    }

    /// Adds `units` (may be negative) through an admin adjustment.
    pub async fn adjust(&self, code: &str, product: &str, units: i64) -> Response {
        let body = json!({"product": product, "units": units, "reason": "test credit"});
        self.client
            .post(self.url(&format!("/api/v1/developers/{code}/adjustments")))
            .bearer_auth(&self.admin_token)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn consume(&self, code: &str, key: &str, product: &str, units: i64) -> Response {
        self.consume_as(
            &self.hims_token,
            code,
            key,
            &json!({"product": product, "units": units, "reference": format!("cert-{key}")}),
        )
        .await
    }

    pub async fn consume_as(&self, token: &str, code: &str, key: &str, body: &Value) -> Response {
        self.client
            .post(self.url(&format!("/api/v1/developers/{code}/consumptions")))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn place_hold(
        &self,
        code: &str,
        key: &str,
        product: &str,
        units: i64,
        expires_in_seconds: i64,
    ) -> Response {
        let body = json!({"product": product, "units": units, "reference": format!("hold-{key}"), "expires_in_seconds": expires_in_seconds});
        self.client
            .post(self.url(&format!("/api/v1/developers/{code}/holds")))
            .bearer_auth(&self.hims_token)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn settle_hold(&self, id: i64, action: &str) -> Response {
        self.client
            .post(self.url(&format!("/api/v1/holds/{id}/{action}")))
            .bearer_auth(&self.hims_token)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).bearer_auth(&self.hims_token).send().await.expect("request")
    }

    /// The balance of one product.
    pub async fn balance(&self, code: &str, product: &str) -> Value {
        let body: Value = self.get(&format!("/api/v1/developers/{code}/balances")).await.json().await.expect("json");
        body["balances"]
            .as_array()
            .and_then(|all| all.iter().find(|b| b["product"] == product).cloned())
            .expect("product balance")
    }

    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_one(self.db.pool()).await.expect("count");
        sqlx::Row::try_get::<i64, _>(&row, 0).expect("count value")
    }

    /// Asserts the ledger and the audit trail prove themselves.
    pub async fn assert_ledger_verifies(&self) {
        let (_, wrong) = kuota::ledger::verify::verify(self.db.pool()).await.expect("verify");
        assert!(wrong.is_empty(), "ledger discrepancies: {wrong:?}");
        let (_, bad) = kuota::audit::verify(self.db.pool(), &self.state.audit_key).await.expect("audit verify");
        assert_eq!(bad, None, "the audit chain is intact");
        let entries = self.count("ledger_entries").await;
        let audited = self.count("audit_log WHERE action LIKE 'ledger.%'").await;
        assert_eq!(audited, entries, "every ledger entry has its audit record");
    }
}

/// Asserts a problem+json answer with the given status and type suffix; returns its body.
pub async fn assert_problem(response: Response, status: u16, type_suffix: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem json");
    let problem_type = body["type"].as_str().unwrap_or_default();
    assert!(problem_type.ends_with(type_suffix), "type {problem_type} should end with {type_suffix}; body {body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "detail missing: {body}");
    body
}

impl TestApp {
    /// Adds a user directly and returns a personal token for them.
    pub async fn add_user(&self, email: &str, role: &str, developer: Option<&str>) -> String {
        use kuota::auth::users::{Language, NewUser};
        let developer_id = match developer {
            Some(code) => {
                Some(kuota::developer::store::require_by_code(self.db.pool(), &code.parse().unwrap()).await.unwrap().id)
            }
            None => None,
        };
        let user = NewUser {
            email: email.parse().unwrap(),
            name: "Pengguna Ujian".parse().unwrap(),
            language: Language::Ms,
            role: role.parse().unwrap(),
            developer_id,
        };
        let hash = kuota::auth::password::hash("kata-laluan-ujian").unwrap();
        let mut transaction = self.db.pool().begin().await.unwrap();
        let id = kuota::auth::users::insert(
            &mut transaction,
            (&self.state.audit_key, "test"),
            &user,
            &hash,
            self.clock.now_ms(),
        )
        .await
        .unwrap();
        transaction.commit().await.unwrap();
        kuota::auth::users::create_token(
            self.db.pool(),
            (&self.state.audit_key, "test"),
            id,
            Default::default(),
            self.clock.now_ms(),
        )
        .await
        .unwrap()
    }

    /// Sets a product's unit price from 2020-01-01.
    pub async fn set_price(&self, product: &str, price: &str) {
        let response = self
            .client
            .post(self.url(&format!("/api/v1/products/{product}/prices")))
            .bearer_auth(&self.admin_token)
            .json(&json!({"unit_price": price, "effective_from": "2020-01-01"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }

    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    pub async fn get_as(&self, token: &str, path: &str) -> Response {
        self.client.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    /// Submits a payment with a document.
    #[allow(clippy::too_many_arguments, reason = "one argument per form field keeps the tests readable")]
    pub async fn submit_payment(
        &self,
        token: &str,
        request_id: i64,
        method: &str,
        reference: &str,
        amount: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Response {
        let form = reqwest::multipart::Form::new()
            .text("method", method.to_owned())
            .text("reference", reference.to_owned())
            .text("amount", amount.to_owned())
            .text("paid_on", "2026-11-20")
            .part("document", reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()));
        self.client
            .post(self.url(&format!("/api/v1/quota-requests/{request_id}/payments")))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }
}

/// A small valid-looking PDF, different for each `seed`.
pub fn pdf_bytes(seed: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% bukti pembayaran {seed}\n%%EOF\n").into_bytes()
}

/// The text of a PDF, by poppler's pdftotext (a real PDF reader).
pub fn pdf_text(bytes: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("kuota-doc-{}-{}.pdf", std::process::id(), unique()));
    std::fs::write(&path, bytes).unwrap();
    let output = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils; scripts/test installs it)");
    let _ = std::fs::remove_file(&path);
    assert!(output.status.success(), "pdftotext could not read the PDF");
    String::from_utf8_lossy(&output.stdout).into_owned()
}
