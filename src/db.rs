//! The database: one pool over SQLite or PostgreSQL through sqlx's `Any`
//! driver, so every store function has one SQL text for both backends. The
//! few dialect differences (connection pragmas, how a write transaction
//! begins, migrations) live here and nowhere else.

use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Connection, Executor};

use crate::config::{Config, SqliteSynchronous};

/// Which engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded default: one file, one writer.
    Sqlite,
    /// Scale-out: several kuota processes may share it.
    Postgres,
}

/// Handle to the database, cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    url: String,
    sqlite_synchronous: SqliteSynchronous,
}

/// One schema change: version, name, and its SQL for each backend.
struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Every migration, in order. Each backend has its own SQL text; a test checks
/// that both produce the same tables and columns.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "ledger",
        sqlite: include_str!("../migrations/sqlite/0001_ledger.sql"),
        postgres: include_str!("../migrations/postgres/0001_ledger.sql"),
    },
    Migration {
        version: 2,
        name: "workflow",
        sqlite: include_str!("../migrations/sqlite/0002_workflow.sql"),
        postgres: include_str!("../migrations/postgres/0002_workflow.sql"),
    },
    Migration {
        version: 3,
        name: "holidays_2026",
        sqlite: include_str!("../migrations/sqlite/0003_holidays_2026.sql"),
        postgres: include_str!("../migrations/postgres/0003_holidays_2026.sql"),
    },
    Migration {
        version: 4,
        name: "audit",
        sqlite: include_str!("../migrations/sqlite/0004_audit.sql"),
        postgres: include_str!("../migrations/postgres/0004_audit.sql"),
    },
    Migration {
        version: 5,
        name: "outbox",
        sqlite: include_str!("../migrations/sqlite/0005_outbox.sql"),
        postgres: include_str!("../migrations/postgres/0005_outbox.sql"),
    },
    Migration {
        version: 6,
        name: "documents",
        sqlite: include_str!("../migrations/sqlite/0006_documents.sql"),
        postgres: include_str!("../migrations/postgres/0006_documents.sql"),
    },
    Migration {
        version: 7,
        name: "reminders",
        sqlite: include_str!("../migrations/sqlite/0007_reminders.sql"),
        postgres: include_str!("../migrations/postgres/0007_reminders.sql"),
    },
    Migration {
        version: 8,
        name: "portal",
        sqlite: include_str!("../migrations/sqlite/0008_portal.sql"),
        postgres: include_str!("../migrations/postgres/0008_portal.sql"),
    },
    Migration {
        version: 9,
        name: "one_boolean_convention",
        sqlite: include_str!("../migrations/sqlite/0009_one_boolean_convention.sql"),
        postgres: include_str!("../migrations/postgres/0009_one_boolean_convention.sql"),
    },
    Migration {
        version: 10,
        name: "sign_in_attempts",
        sqlite: include_str!("../migrations/sqlite/0010_sign_in_attempts.sql"),
        postgres: include_str!("../migrations/postgres/0010_sign_in_attempts.sql"),
    },
    Migration {
        version: 11,
        name: "lower_case_emails",
        sqlite: include_str!("../migrations/sqlite/0011_lower_case_emails.sql"),
        postgres: include_str!("../migrations/postgres/0011_lower_case_emails.sql"),
    },
    Migration {
        version: 12,
        name: "password_links_made_at_send",
        sqlite: include_str!("../migrations/sqlite/0012_password_links_made_at_send.sql"),
        postgres: include_str!("../migrations/postgres/0012_password_links_made_at_send.sql"),
    },
    Migration {
        version: 13,
        name: "payment_uniqueness_per_developer",
        sqlite: include_str!("../migrations/sqlite/0013_payment_uniqueness_per_developer.sql"),
        postgres: include_str!("../migrations/postgres/0013_payment_uniqueness_per_developer.sql"),
    },
    Migration {
        version: 14,
        name: "user_lifecycle",
        sqlite: include_str!("../migrations/sqlite/0014_user_lifecycle.sql"),
        postgres: include_str!("../migrations/postgres/0014_user_lifecycle.sql"),
    },
    Migration {
        version: 15,
        name: "registration_claims",
        sqlite: include_str!("../migrations/sqlite/0015_registration_claims.sql"),
        postgres: include_str!("../migrations/postgres/0015_registration_claims.sql"),
    },
    Migration {
        version: 16,
        name: "audit_key",
        sqlite: include_str!("../migrations/sqlite/0016_audit_key.sql"),
        postgres: include_str!("../migrations/postgres/0016_audit_key.sql"),
    },
    Migration {
        version: 17,
        name: "second_approvals",
        sqlite: include_str!("../migrations/sqlite/0017_second_approvals.sql"),
        postgres: include_str!("../migrations/postgres/0017_second_approvals.sql"),
    },
    Migration {
        version: 18,
        name: "second_factor",
        sqlite: include_str!("../migrations/sqlite/0018_second_factor.sql"),
        postgres: include_str!("../migrations/postgres/0018_second_factor.sql"),
    },
    Migration {
        version: 19,
        name: "personal_data",
        sqlite: include_str!("../migrations/sqlite/0019_personal_data.sql"),
        postgres: include_str!("../migrations/postgres/0019_personal_data.sql"),
    },
    Migration {
        version: 20,
        name: "online_payments",
        sqlite: include_str!("../migrations/sqlite/0020_online_payments.sql"),
        postgres: include_str!("../migrations/postgres/0020_online_payments.sql"),
    },
    Migration {
        version: 21,
        name: "tax_identity",
        sqlite: include_str!("../migrations/sqlite/0021_tax_identity.sql"),
        postgres: include_str!("../migrations/postgres/0021_tax_identity.sql"),
    },
    Migration {
        version: 22,
        name: "e_invoices",
        sqlite: include_str!("../migrations/sqlite/0022_e_invoices.sql"),
        postgres: include_str!("../migrations/postgres/0022_e_invoices.sql"),
    },
    Migration {
        version: 23,
        name: "sst_rates",
        sqlite: include_str!("../migrations/sqlite/0023_sst_rates.sql"),
        postgres: include_str!("../migrations/postgres/0023_sst_rates.sql"),
    },
    Migration {
        version: 24,
        name: "superseded_documents",
        sqlite: include_str!("../migrations/sqlite/0024_superseded_documents.sql"),
        postgres: include_str!("../migrations/postgres/0024_superseded_documents.sql"),
    },
    Migration {
        version: 25,
        name: "invoice_notes",
        sqlite: include_str!("../migrations/sqlite/0025_invoice_notes.sql"),
        postgres: include_str!("../migrations/postgres/0025_invoice_notes.sql"),
    },
    Migration {
        version: 26,
        name: "ledger_entries_by_developer_time",
        sqlite: include_str!("../migrations/sqlite/0026_ledger_entries_by_developer_time.sql"),
        postgres: include_str!("../migrations/postgres/0026_ledger_entries_by_developer_time.sql"),
    },
];

/// The PostgreSQL channel on which nodes hear that a user or token lost access.
const ACCESS_CHANNEL: &str = "kuota_access";

/// Tells every node sharing the database, when this transaction commits, that
/// a user or token lost access, so each forgets the credentials it cached
/// (`NOTIFY`, delivered only on COMMIT). Nothing on SQLite: one node.
///
/// # Errors
/// A database fault.
pub async fn announce_access_change(connection: &mut AnyConnection) -> sqlx::Result<()> {
    if connection.backend_name() == "PostgreSQL" {
        sqlx::query("SELECT pg_notify($1, '')").bind(ACCESS_CHANNEL).execute(connection).await?;
    }
    Ok(())
}

/// Makes the SQLite database and its journal files readable by kuota's own
/// user only (the data folder is private too).
fn restrict_sqlite_files(database_url: &str) -> anyhow::Result<()> {
    let path = database_url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(":memory:") {
        return Ok(());
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{path}{suffix}"));
        crate::private_files::restrict(&file).with_context(|| format!("making {} private", file.display()))?;
    }
    Ok(())
}

/// Arbitrary key of the PostgreSQL advisory lock held while migrating.
const MIGRATION_LOCK_KEY: i64 = 0x006b_756f_7461;

/// How long a connection waits for a locked SQLite database.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;
/// How long a request waits for a pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

impl Db {
    /// Opens the pool (creating the SQLite data folder if needed).
    ///
    /// # Errors
    /// The database cannot be reached or opened.
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if config.is_sqlite() { Backend::Sqlite } else { Backend::Postgres };
        // Only kuota's own user reads the data folder: the SQLite database,
        // blobs and the audit key live there.
        crate::private_files::create_folder(&config.data_dir)
            .and_then(|()| crate::private_files::restrict(&config.data_dir))
            .with_context(|| format!("creating data folder {}", config.data_dir.display()))?;
        let options: AnyConnectOptions = config.database_url.parse().context("parsing KUOTA_DATABASE_URL")?;
        let synchronous = config.sqlite_synchronous;
        let pool = AnyPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        prepare_sqlite_connection(connection, synchronous).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .context("connecting to the database")?;
        if backend == Backend::Sqlite {
            restrict_sqlite_files(&config.database_url)?;
        }
        Ok(Self { pool, backend, url: config.database_url.clone(), sqlite_synchronous: synchronous })
    }

    /// The shared pool for reads and short writes.
    #[must_use]
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Which engine this is.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Waits for the announcements of [`announce_access_change`] from every
    /// node (PostgreSQL `LISTEN`); `None` on SQLite, where this process is
    /// the only node.
    ///
    /// # Errors
    /// The database cannot be reached.
    pub async fn access_changes(&self) -> anyhow::Result<Option<sqlx::postgres::PgListener>> {
        if self.backend == Backend::Sqlite {
            return Ok(None);
        }
        let mut listener =
            sqlx::postgres::PgListener::connect(&self.url).await.context("listening for access changes")?;
        listener.listen(ACCESS_CHANNEL).await.context("listening for access changes")?;
        Ok(Some(listener))
    }

    /// A dedicated connection outside the pool, for the ledger writer. On
    /// SQLite it never checkpoints the WAL itself (the commit that crosses
    /// the threshold would run the checkpoint, and every caller in its batch
    /// would wait for it); [`Self::checkpoint`] does it beside the writer.
    ///
    /// # Errors
    /// The database cannot be reached.
    pub async fn dedicated_connection(&self) -> anyhow::Result<AnyConnection> {
        let mut connection = AnyConnection::connect(&self.url).await.context("opening the writer connection")?;
        if self.backend == Backend::Sqlite {
            prepare_sqlite_connection(&mut connection, self.sqlite_synchronous).await?;
            connection.execute("PRAGMA wal_autocheckpoint = 0").await?;
        }
        Ok(connection)
    }

    /// SQLite: copies what the WAL holds into the database file (PASSIVE:
    /// never waits for, nor blocks, a writer or a reader); pages of a
    /// transaction still in progress stay for the next run. Nothing to do on
    /// PostgreSQL.
    ///
    /// # Errors
    /// A database fault.
    pub async fn checkpoint(&self) -> sqlx::Result<()> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&self.pool).await?;
        }
        Ok(())
    }

    /// The statement that opens a write transaction. On SQLite it takes the
    /// write lock at once, so a transaction never fails half-way because
    /// another writer got there first.
    #[must_use]
    pub fn begin_write_statement(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }

    /// What locks a selected row until the transaction ends: `FOR UPDATE` on
    /// PostgreSQL; nothing on SQLite, whose write transaction holds the file.
    #[must_use]
    pub fn row_lock_clause(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => "FOR UPDATE",
        }
    }

    /// Starts a write transaction on a pooled connection.
    ///
    /// # Errors
    /// The database refused or is unreachable.
    pub async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
        self.pool.begin_with(self.begin_write_statement()).await
    }

    /// Applies the migrations not yet applied, each in its own transaction.
    /// Safe to run from several processes at once: PostgreSQL takes an
    /// advisory lock, SQLite's `BEGIN IMMEDIATE` serialises writers. A
    /// migration edited after it was applied is an error (checksums differ).
    ///
    /// # Errors
    /// A migration failed, was edited, or the database is unreachable.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        self.migrate_to(i64::MAX).await
    }

    /// Applies the migrations up to version `last` (tests upgrade a database
    /// that holds data from an older schema this way).
    ///
    /// # Errors
    /// A migration fails, or an applied one was changed.
    pub async fn migrate_to(&self, last: i64) -> anyhow::Result<()> {
        let mut connection = self.pool.acquire().await.context("connecting to migrate")?;
        match self.backend {
            Backend::Postgres => {
                sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK_KEY).execute(&mut *connection).await?;
            }
            // SQLite checks foreign keys statement by statement, so a table
            // rebuild (new table, copy, drop, rename) would trip over the
            // rows that point at it: checked once per migration instead.
            Backend::Sqlite => {
                connection.execute("PRAGMA foreign_keys = OFF").await?;
            }
        }
        let result = self.apply_migrations(&mut connection, last).await;
        match self.backend {
            Backend::Postgres => {
                sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK_KEY).execute(&mut *connection).await?;
            }
            Backend::Sqlite => {
                connection.execute("PRAGMA foreign_keys = ON").await?;
            }
        }
        result
    }

    async fn apply_migrations(&self, connection: &mut AnyConnection, last: i64) -> anyhow::Result<()> {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS kuota_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *connection)
        .await?;
        for migration in MIGRATIONS.iter().filter(|migration| migration.version <= last) {
            let sql = match self.backend {
                Backend::Sqlite => migration.sqlite,
                Backend::Postgres => migration.postgres,
            };
            let checksum = crate::digest::sha256_hex(sql.as_bytes());
            let mut transaction = connection.begin_with(self.begin_write_statement()).await?;
            let applied = sqlx::query("SELECT checksum FROM kuota_migrations WHERE version = $1")
                .bind(migration.version)
                .fetch_optional(&mut *transaction)
                .await?;
            if let Some(row) = applied {
                let stored: String = sqlx::Row::try_get(&row, 0)?;
                anyhow::ensure!(
                    stored == checksum,
                    "migration {} ({}) was changed after it was applied",
                    migration.version,
                    migration.name
                );
                continue;
            }
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut *transaction)
                .await
                .with_context(|| format!("applying migration {} ({})", migration.version, migration.name))?;
            if self.backend == Backend::Sqlite {
                let broken = sqlx::query("PRAGMA foreign_key_check").fetch_all(&mut *transaction).await?;
                anyhow::ensure!(
                    broken.is_empty(),
                    "migration {} ({}) would leave {} rows pointing at nothing",
                    migration.version,
                    migration.name,
                    broken.len()
                );
            }
            sqlx::query("INSERT INTO kuota_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)")
                .bind(migration.version)
                .bind(migration.name)
                .bind(checksum)
                .bind(crate::clock::Clock::now_ms(&crate::clock::SystemClock))
                .execute(&mut *transaction)
                .await?;
            transaction.commit().await?;
            tracing::info!(version = migration.version, name = migration.name, "migration applied");
        }
        Ok(())
    }

    /// True when the database answers a trivial query.
    pub async fn is_ready(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// SQLite: a consistent copy of the database into `file` (which must not
    /// exist), taken while others read and write (`VACUUM INTO`).
    ///
    /// # Errors
    /// A name that is not UTF-8, or a database fault.
    pub async fn snapshot_into(&self, file: &std::path::Path) -> anyhow::Result<()> {
        let target = file.to_str().ok_or_else(|| anyhow::anyhow!("{} is not UTF-8", file.display()))?;
        let sql = format!("VACUUM INTO '{}'", target.replace('\'', "''"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&self.pool).await?;
        Ok(())
    }

    /// PostgreSQL: the server's major version (15 for 15.20).
    ///
    /// # Errors
    /// A database fault.
    pub async fn server_major_version(&self) -> sqlx::Result<u32> {
        let number: String =
            sqlx::query_scalar("SELECT current_setting('server_version_num')").fetch_one(&self.pool).await?;
        number.parse::<u32>().map(|n| n / 10_000).map_err(|e| sqlx::Error::Decode(e.into()))
    }

    /// PostgreSQL: the tables in the current schema (0 for an empty database).
    ///
    /// # Errors
    /// A database fault.
    pub async fn table_count(&self) -> sqlx::Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()")
            .fetch_one(&self.pool)
            .await
    }
}

async fn prepare_sqlite_connection(connection: &mut AnyConnection, synchronous: SqliteSynchronous) -> sqlx::Result<()> {
    connection.execute("PRAGMA journal_mode = WAL").await?;
    let pragmas = match synchronous {
        SqliteSynchronous::Full => "PRAGMA synchronous = FULL",
        SqliteSynchronous::Normal => "PRAGMA synchronous = NORMAL",
    };
    connection.execute(pragmas).await?;
    connection.execute("PRAGMA foreign_keys = ON").await?;
    let busy = format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}");
    connection.execute(sqlx::AssertSqlSafe(busy)).await?;
    Ok(())
}

/// True when `error` is a unique-constraint violation.
#[must_use]
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    error.as_database_error().is_some_and(sqlx::error::DatabaseError::is_unique_violation)
}
