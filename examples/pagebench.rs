//! Page benchmark for `scripts/bench-pages` (not a test): seeds a database
//! with REQUESTS quota requests and ENTRIES ledger entries (over 100
//! developers; the developer whose pages are timed has HEAVY of them, over a
//! year), serves the app in-process, and times SAMPLES sequential requests of
//! the retail queue, a developer's ledger page and dashboard, and `/healthz`
//! as the same-run baseline (the HTTP floor on this machine). Last, the
//! dashboard again without the index its 30-day chart reads (the plan before
//! migration 26), as that page's own same-run baseline.
//!
//! ```text
//! pagebench DATABASE_URL DATA_DIR REQUESTS ENTRIES SAMPLES [HEAVY]
//! ```
//! Prints one JSON line per page: median, p95 and p99 in milliseconds.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
// A benchmark measures wall time; that is its job, not a clock a test controls.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::Instant;

use kuota::clock::{Clock, SystemClock};
use kuota::config::{Config, SqliteSynchronous};
use kuota::db::Db;
use kuota::state::AppState;
use serde_json::json;
use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments};

const DEVELOPERS: i64 = 100;
const DAY_MS: i64 = 86_400_000;

enum Cell {
    I(i64),
    S(String),
    Null,
}

/// Inserts rows in batches of multi-row statements.
async fn insert(connection: &mut sqlx::AnyConnection, head: &str, width: usize, rows: &[Vec<Cell>]) {
    let batch = 30_000 / width;
    for chunk in rows.chunks(batch) {
        let mut sql = format!("{head} VALUES ");
        let mut arguments = AnyArguments::default();
        for (row_index, row) in chunk.iter().enumerate() {
            if row_index > 0 {
                sql.push(',');
            }
            sql.push('(');
            for (column, cell) in row.iter().enumerate() {
                if column > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("${}", row_index * width + column + 1));
                match cell {
                    Cell::I(value) => arguments.add(*value).unwrap(),
                    Cell::S(value) => arguments.add(value.clone()).unwrap(),
                    Cell::Null => arguments.add(Option::<String>::None).unwrap(),
                }
            }
            sql.push(')');
        }
        sqlx::query_with::<Any, _>(sqlx::AssertSqlSafe(sql), arguments).execute(&mut *connection).await.unwrap();
    }
}

fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, data_dir, requests, entries, samples, heavy) = match args.as_slice() {
        [url, data_dir, requests, entries, samples] => (url, data_dir, requests, entries, samples, None),
        [url, data_dir, requests, entries, samples, heavy] => {
            (url, data_dir, requests, entries, samples, Some(heavy.parse::<i64>().unwrap()))
        }
        _ => panic!("usage: pagebench DATABASE_URL DATA_DIR REQUESTS ENTRIES SAMPLES [HEAVY]"),
    };
    let (requests, entries, samples): (i64, i64, usize) =
        (requests.parse().unwrap(), entries.parse().unwrap(), samples.parse().unwrap());
    let heavy = heavy.unwrap_or(entries / DEVELOPERS);
    let config = Config {
        database_url: url.clone(),
        data_dir: data_dir.into(),
        blobs: kuota::blob::BlobLocation::Folder(std::path::Path::new(data_dir).join("blobs")),
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: None,
        shutdown_grace: std::time::Duration::from_secs(20),
        max_connections: 8,
        sqlite_synchronous: SqliteSynchronous::Full,
        smtp_url: None,
        mail_from: "kuota@localhost".into(),
        mail_retry_base_ms: 1000,
        public_url: "http://127.0.0.1".into(),
        trusted_proxies: Vec::new(),
        audit_key_file: std::path::Path::new(data_dir).join("audit.key"),
        public_door_burst: kuota::auth::admission::BURST,
        billplz: None,
        myinvois: None,
    };
    let db = Db::connect(&config).await.unwrap();
    db.migrate().await.unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now_ms();
    let blobs = kuota::blob::BlobStore::folder(config.data_dir.join("blobs"));
    let audit_key = kuota::startup::open_audit_trail(&config, &db).await.unwrap();
    let state = AppState::new(db.clone(), clock.clone(), blobs, config.public_url.clone(), audit_key);

    let seeding = Instant::now();
    seed_developers_and_prices(&db, &state.audit_key, now).await;
    let mut transaction = db.begin_write().await.unwrap();
    seed_requests(&mut transaction, requests, now, kuota::clock::today_local(clock.now())).await;
    seed_ledger(&mut transaction, (entries, heavy), now).await;
    transaction.commit().await.unwrap();
    sqlx::query("ANALYZE").execute(db.pool()).await.unwrap();
    let seeded_s = seeding.elapsed().as_secs_f64();
    let sessions = sign_in(&state, now).await;
    let backend = format!("{:?}", db.backend());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, kuota::startup::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
            .await
    });
    let run = Run { address, backend, requests, entries, heavy, samples, seeded_s };
    time_pages(&run, &sessions).await;
    sqlx::query("DROP INDEX ledger_entries_by_developer_time").execute(db.pool()).await.unwrap();
    time_page(&run, ("developer dashboard, without the index of migration 26", "/dashboard", &sessions[1])).await;
}

async fn seed_developers_and_prices(db: &Db, audit_key: &kuota::audit::Key, now: i64) {
    for n in 1..=DEVELOPERS {
        let fields = kuota::developer::http::DeveloperFields {
            code: format!("PMJ-{n}"),
            name: format!("Pemaju {n} Sdn. Bhd."),
            registration_no: format!("2019010{n:05}"),
            email: format!("akaun{n}@pemaju.my"),
        };
        kuota::developer::store::insert_verified(db.pool(), (audit_key, "bench"), &fields.parse().unwrap(), now)
            .await
            .unwrap();
    }
    sqlx::query("INSERT INTO product_prices (product_code, unit_price_sen, effective_from, created_at) VALUES ('CERT-1Y', 5000, '2020-01-01', $1)")
        .bind(now)
        .execute(db.pool())
        .await
        .unwrap();
}

async fn seed_requests(transaction: &mut sqlx::AnyConnection, requests: i64, now: i64, today: jiff::civil::Date) {
    let statuses =
        ["submitted", "info_requested", "quoted", "payment_submitted", "credited", "completed", "cancelled", "expired"];
    let rows: Vec<Vec<Cell>> = (1..=requests)
        .map(|i| {
            let status = statuses[usize::try_from(i).unwrap() % statuses.len()];
            let open = !matches!(status, "completed" | "cancelled" | "expired");
            let due = today.checked_add(jiff::Span::new().days(i % 20 - 10)).unwrap().to_string();
            vec![
                Cell::S(format!("REQ-2026-{i:06}")),
                Cell::I(1 + i % DEVELOPERS),
                Cell::S(status.into()),
                Cell::S(String::new()),
                Cell::S("bench".into()),
                Cell::I(now - (requests - i) * 60_000),
                Cell::I(now),
                if open { Cell::S(due) } else { Cell::Null },
            ]
        })
        .collect();
    insert(
        transaction,
        "INSERT INTO quota_requests (number, developer_id, status, note, created_by, created_at, updated_at, due_on)",
        8,
        &rows,
    )
    .await;
}

/// The developer whose ledger page and dashboard are timed (`sign_in`).
const TIMED_DEVELOPER: i64 = 2;

/// ENTRIES over the developers, HEAVY of them for the timed one, each
/// developer's spread evenly over the last year.
async fn seed_ledger(transaction: &mut sqlx::AnyConnection, (entries, heavy): (i64, i64), now: i64) {
    let per_developer = entries / DEVELOPERS;
    let count = |d: i64| if d == TIMED_DEVELOPER { heavy } else { per_developer };
    let accounts: Vec<Vec<Cell>> = (1..=DEVELOPERS)
        .map(|d| {
            let consumed = count(d) - 1;
            vec![
                Cell::I(d),
                Cell::S("CERT-1Y".into()),
                Cell::I(1_000_000),
                Cell::I(consumed),
                Cell::I(0),
                Cell::I(1_000_000 - consumed),
            ]
        })
        .collect();
    insert(
        transaction,
        "INSERT INTO ledger_accounts (developer_id, product_code, credited, consumed, held, available)",
        6,
        &accounts,
    )
    .await;
    let span_ms = 365 * DAY_MS;
    let mut batch = Vec::new();
    for n in 0..per_developer.max(heavy) {
        for d in (1..=DEVELOPERS).filter(|d| n < count(*d)) {
            let (kind, units) = if n == 0 { ("credit", 1_000_000) } else { ("consume", 1) };
            batch.push(vec![
                Cell::I(d),
                Cell::I(d),
                Cell::S(kind.into()),
                Cell::I(units),
                Cell::S(format!("HIMS-{d}-{n}")),
                Cell::S("api_client:1".into()),
                Cell::I(now - span_ms + n * (span_ms / count(d))),
            ]);
        }
        if batch.len() >= 50_000 {
            insert(
                transaction,
                "INSERT INTO ledger_entries (account_id, developer_id, kind, units, reference, actor, created_at)",
                7,
                &batch,
            )
            .await;
            batch.clear();
        }
    }
    insert(
        transaction,
        "INSERT INTO ledger_entries (account_id, developer_id, kind, units, reference, actor, created_at)",
        7,
        &batch,
    )
    .await;
}

/// A retail officer's and a developer's session cookies.
async fn sign_in(state: &AppState, now: i64) -> Vec<String> {
    let hash = kuota::auth::password::hash("bench-password-1").unwrap();
    let mut sessions = Vec::new();
    for (email, role, developer_id) in
        [("retail@bench.my", "retail", None), ("pemaju@bench.my", "developer_admin", Some(TIMED_DEVELOPER))]
    {
        let user = kuota::auth::users::NewUser {
            email: email.parse().unwrap(),
            name: "Bench".parse().unwrap(),
            language: kuota::auth::users::Language::Ms,
            role: role.parse().unwrap(),
            developer_id,
        };
        let mut connection = state.db.pool().acquire().await.unwrap();
        let id =
            kuota::auth::users::insert(&mut connection, (&state.audit_key, "bench"), &user, &hash, now).await.unwrap();
        let cookie = kuota::portal::session::start(state, id, None).await.unwrap();
        sessions.push(cookie.split(';').next().unwrap().to_owned());
    }
    sessions
}

struct Run {
    address: String,
    backend: String,
    requests: i64,
    entries: i64,
    heavy: i64,
    samples: usize,
    seeded_s: f64,
}

async fn time_pages(run: &Run, sessions: &[String]) {
    let pages = [
        ("healthz (baseline)", "/healthz", &sessions[0]),
        ("retail queue, by due date", "/requests", &sessions[0]),
        ("retail queue, overdue only", "/requests?overdue=on", &sessions[0]),
        ("all requests, newest first", "/requests?view=all", &sessions[0]),
        ("developer ledger page", "/ledger", &sessions[1]),
        ("developer dashboard", "/dashboard", &sessions[1]),
    ];
    for page in pages {
        time_page(run, page).await;
    }
}

/// SAMPLES sequential requests of one page after 20 warm-up ones; prints its line.
async fn time_page(run: &Run, (name, path, cookie): (&str, &str, &String)) {
    let (address, samples) = (&run.address, run.samples);
    let client = kuota::outbound::client_builder().unwrap().build().unwrap();
    let mut times = Vec::with_capacity(samples);
    for round in 0..samples + 20 {
        let started = Instant::now();
        let response = client.get(format!("{address}{path}")).header("cookie", cookie.as_str()).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body = response.bytes().await.unwrap();
        assert!(!body.is_empty());
        if round >= 20 {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({"backend": run.backend, "page": name, "requests": run.requests, "entries": run.entries,
               "entries_of_timed_developer": run.heavy,
               "samples": samples, "median_ms": (percentile(&times, 0.5) * 100.0).round() / 100.0,
               "p95_ms": (percentile(&times, 0.95) * 100.0).round() / 100.0,
               "p99_ms": (percentile(&times, 0.99) * 100.0).round() / 100.0, "seeding_s": run.seeded_s.round()})
    );
}
