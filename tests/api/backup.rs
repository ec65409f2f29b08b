//! `kuota backup` and `kuota restore`: an archive taken while HIMS consumes
//! holds every consumption acknowledged before it started, and a restore
//! reproduces balances, the ledger and the document bytes, and proves
//! itself with `ledger verify` and `audit verify`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::Row as _;

use crate::helpers::{Backend, TestApp, TestDatabase};
use crate::on_both_backends;

on_both_backends!(a_backup_under_load_restores_every_acknowledged_consumption_balance_and_file);

/// Balances, ledger entries and stored documents of a database, in order.
async fn contents(db: &kuota::db::Db) -> (Vec<String>, Vec<String>, Vec<(String, String)>) {
    let pool = db.pool();
    let balances = sqlx::query(
        "SELECT d.code, a.product_code, a.credited, a.consumed, a.held, a.available FROM ledger_accounts a
         JOIN developers d ON d.id = a.developer_id ORDER BY d.code, a.product_code",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| {
        let (code, product): (String, String) = (r.get(0), r.get(1));
        let figures: [i64; 4] = [r.get(2), r.get(3), r.get(4), r.get(5)];
        format!("{code} {product} {figures:?}")
    })
    .collect();
    let entries = sqlx::query("SELECT id, kind, units, reference FROM ledger_entries ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            format!("{} {} {} {}", r.get::<i64, _>(0), r.get::<String, _>(1), r.get::<i64, _>(2), r.get::<String, _>(3))
        })
        .collect();
    let documents = sqlx::query("SELECT number, sha256 FROM documents ORDER BY number")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    (balances, entries, documents)
}

/// Restores `archive` into a new, empty database; the restored database.
async fn restored(app: &TestApp, backend: Backend, archive: &std::path::Path) -> (TestDatabase, kuota::db::Db) {
    let target = TestDatabase::create(backend).await;
    let config = target.config();
    kuota::backup::restore(&config, archive).await.expect("restore");
    // Restoring again into what is no longer empty is refused, naming why.
    let again = kuota::backup::restore(&config, archive).await.expect_err("a second restore");
    assert!(format!("{again:#}").contains("restore only into an empty"), "{again:#}");
    let db = kuota::db::Db::connect(&config).await.unwrap();
    let (_, wrong) = kuota::ledger::verify::verify(db.pool()).await.unwrap();
    assert!(wrong.is_empty(), "ledger verify: {wrong:?}");
    // The audit key is kept apart from the archive; with it, the trail proves itself.
    let (_, bad) = kuota::audit::verify(db.pool(), &app.state.audit_key).await.unwrap();
    assert_eq!(bad, None, "audit verify");
    (target, db)
}

async fn a_backup_under_load_restores_every_acknowledged_consumption_balance_and_file(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = crate::workflow::setup(&app).await;
    crate::workflow::purchase(&app, &parties, "bank_transfer").await;
    assert_eq!(app.adjust("PMJ-1", "CERT-1Y", 1_000).await.status(), 201);
    // HIMS consumes from four clients while the backup is taken.
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..4 {
        let (app_url, token, client_http) = (app.url(""), app.hims_token.clone(), app.client.clone());
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) && n < 200 {
                n += 1;
                let key = format!("bk-{client}-{n}");
                let body = serde_json::json!({"product": "CERT-1Y", "units": 1, "reference": format!("cert-{key}")});
                let response = client_http
                    .post(format!("{app_url}/api/v1/developers/PMJ-1/consumptions"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", &key)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                if response.status() == 201 {
                    acknowledged.lock().unwrap().push(format!("cert-{key}"));
                }
            }
        }));
    }
    while acknowledged.lock().unwrap().len() < 40 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let folder = std::env::temp_dir().join(format!("kuota-backup-test-{}", crate::helpers::unique()));
    std::fs::create_dir_all(&folder).unwrap();
    let under_load = folder.join("under-load.tar");
    let config = app.database.config();
    let manifest = kuota::backup::create(&config, &app.db, &under_load, 0).await.expect("backup under load");
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.unwrap();
    }
    assert!(manifest.blobs.len() >= 4, "the proof and the PDFs: {manifest:?}");
    let (_target, db) = restored(&app, backend, &under_load).await;
    let references: std::collections::BTreeSet<String> = sqlx::query_scalar("SELECT reference FROM ledger_entries")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .into_iter()
        .collect();
    let lost: Vec<&String> = before.iter().filter(|reference| !references.contains(*reference)).collect();
    assert!(lost.is_empty(), "acknowledged before the backup began but not in it: {lost:?}");
    // Quiet now: a second archive restores the very same balances, ledger and document bytes.
    let quiet = folder.join("quiet.tar");
    kuota::backup::create(&config, &app.db, &quiet, 0).await.expect("backup");
    assert!(kuota::backup::create(&config, &app.db, &quiet, 0).await.is_err(), "an existing file is not overwritten");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&quiet).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the archive holds personal data: owner only");
    let (target, db) = restored(&app, backend, &quiet).await;
    let (source, copy) = (contents(&app.db).await, contents(&db).await);
    assert_eq!(source, copy);
    let blobs = kuota::blob::BlobStore::folder(target.data_dir.join("blobs"));
    for (number, sha256) in &copy.2 {
        let bytes = blobs.get(sha256).await.unwrap_or_else(|e| panic!("{number}: {e}"));
        assert_eq!(bytes, app.state.blobs.get(sha256).await.unwrap(), "{number}");
    }
    // A damaged archive is refused before anything is written.
    let mut damaged = std::fs::read(&quiet).unwrap();
    // The first part is the database; its bytes begin after one 512-byte header.
    damaged[512 + 100] ^= 0xff;
    let broken = folder.join("damaged.tar");
    std::fs::write(&broken, damaged).unwrap();
    let empty = TestDatabase::create(backend).await;
    let refused = kuota::backup::restore(&empty.config(), &broken).await.expect_err("a damaged archive");
    assert!(format!("{refused:#}").contains("the archive is damaged"), "{refused:#}");
    let _ = std::fs::remove_dir_all(&folder);
}
