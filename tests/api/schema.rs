//! The two backends' migrations produce the same tables and columns.

use std::collections::BTreeSet;

use sqlx::Row;

use crate::helpers::{Backend, TestApp};

/// Every column as (table, column, type family): the families are what both
/// backends can agree on — `integer` (SQLite INTEGER, PostgreSQL BIGINT; no
/// PostgreSQL INTEGER or BOOLEAN, which the `Any` driver reads differently),
/// `text` and `bytes`.
async fn columns(app: &TestApp) -> BTreeSet<(String, String, String)> {
    let sql = match app.database.backend {
        Backend::Sqlite => {
            "SELECT m.name, p.name, p.type FROM sqlite_master m JOIN pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT), CAST(data_type AS TEXT)
             FROM information_schema.columns WHERE table_schema = 'public'"
        }
    };
    let rows = sqlx::query(sql).fetch_all(app.db.pool()).await.unwrap();
    rows.iter()
        .map(|row| {
            let declared = row.try_get::<String, _>(2).unwrap().to_lowercase();
            let family = match declared.as_str() {
                "integer" if app.database.backend == Backend::Sqlite => "integer",
                "bigint" => "integer",
                "text" => "text",
                "blob" | "bytea" => "bytes",
                other => panic!("column type {other} has no counterpart on the other backend"),
            };
            (row.try_get::<String, _>(0).unwrap(), row.try_get::<String, _>(1).unwrap(), family.to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_have_the_same_tables_columns_and_types() {
    let sqlite = TestApp::spawn(Backend::Sqlite).await;
    let postgres = TestApp::spawn(Backend::Postgres).await;
    let (sqlite_columns, postgres_columns) = (columns(&sqlite).await, columns(&postgres).await);
    assert!(sqlite_columns.len() > 40, "the schema was read: {sqlite_columns:?}");
    let only_sqlite: Vec<_> = sqlite_columns.difference(&postgres_columns).collect();
    let only_postgres: Vec<_> = postgres_columns.difference(&sqlite_columns).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "only in SQLite: {only_sqlite:?}; only in PostgreSQL: {only_postgres:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_twice_changes_nothing() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let before = columns(&app).await;
    app.db.migrate().await.unwrap();
    assert_eq!(columns(&app).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_entries_cannot_be_edited_or_deleted() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = TestApp::spawn(backend).await;
        app.add_developer("PMJ-1", "201901000005").await;
        app.adjust("PMJ-1", "CERT-1Y", 5).await;
        assert!(
            sqlx::query("UPDATE ledger_entries SET units = 500").execute(app.db.pool()).await.is_err(),
            "{backend:?}"
        );
        assert!(sqlx::query("DELETE FROM ledger_entries").execute(app.db.pool()).await.is_err(), "{backend:?}");
        let negative = sqlx::query("UPDATE ledger_accounts SET available = -1, credited = credited - available - 1")
            .execute(app.db.pool())
            .await;
        assert!(negative.is_err(), "the database refuses a negative available on {backend:?}");
    }
}

/// Every path and method in the OpenAPI document is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_served() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let document: serde_json::Value =
        app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut operations = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{code}", "PMJ-1")
            .replace("{id}", "1")
            .replace("{date}", "2026-01-01")
            .replace("{number}", "INV-2026-000001");
        for method in item.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = app.client.request(method.clone(), app.url(&concrete)).send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            assert!(
                status != 405 && !body.contains("there is nothing at"),
                "{method} {path} is documented but not served ({status})"
            );
            operations += 1;
        }
    }
    assert!(operations >= 35, "{operations}");
}

/// Every API route in the code is in the OpenAPI document (the other
/// direction is `every_documented_operation_is_served`).
#[test]
fn every_api_route_is_documented() {
    let document: serde_json::Value = serde_json::from_str(kuota::api::docs::OPENAPI_JSON).unwrap();
    let paths = document["paths"].as_object().unwrap();
    let mut routes = 0;
    let mut missing = Vec::new();
    let mut folders = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (index, _) in text.match_indices(".route(\"/api/") {
                let start = index + ".route(\"".len();
                let end = start + text[start..].find('"').unwrap();
                let route = &text[start..end];
                routes += 1;
                if route != "/api/docs" && !paths.keys().any(|documented| same_route(route, documented)) {
                    missing.push(format!("{route} ({})", path.display()));
                }
            }
        }
    }
    assert!(routes >= 35, "the routes were read: {routes}");
    assert!(missing.is_empty(), "routed but not documented: {missing:?}");
}

/// A route and a documented path name the same operation: the same segments,
/// where a captured segment (`{file}`) may be documented with a suffix
/// (`{number}.pdf`).
fn same_route(route: &str, documented: &str) -> bool {
    let (route, documented): (Vec<&str>, Vec<&str>) = (route.split('/').collect(), documented.split('/').collect());
    route.len() == documented.len()
        && route.iter().zip(&documented).all(|(r, d)| if r.starts_with('{') { d.starts_with('{') } else { r == d })
}

/// A database that holds data from before the registration claims (a
/// developer, its user, its balance) upgrades: SQLite rebuilds `developers`
/// and every row that points at it still does.
#[tokio::test]
async fn a_populated_database_upgrades_through_every_migration() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let database = crate::helpers::TestDatabase::create(backend).await;
        let db = kuota::db::Db::connect(&database.config()).await.unwrap();
        db.migrate_to(14).await.unwrap();
        sqlx::query("INSERT INTO developers (code, name, registration_no, email, status, created_at) VALUES ('PMJ-1', 'Maju', '201901000005', 'a@maju.my', 'verified', 1)")
            .execute(db.pool())
            .await
            .unwrap();
        sqlx::query("INSERT INTO users (email, name, language, role, developer_id, password_hash, created_at) VALUES ('a@maju.my', 'Ali', 'ms', 'developer_admin', (SELECT id FROM developers WHERE code = 'PMJ-1'), 'x', 1)")
            .execute(db.pool())
            .await
            .unwrap();
        db.migrate().await.unwrap_or_else(|error| panic!("{backend:?}: {error:#}"));
        let joined: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users u JOIN developers d ON d.id = u.developer_id WHERE d.code = 'PMJ-1'",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(joined, 1, "{backend:?}");
    }
}
