//! The command line: `serve`, `migrate`, `developer add`, `api-client
//! create`, `ledger verify`, `backup`, `restore`, `blobs copy` and more.
//! Output meant for scripts goes to stdout (a token is always the last
//! line); logs go to stderr.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::auth::Scope;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::db::Db;
use crate::developer::http::DeveloperFields;
use crate::error::AppError;
use crate::state::AppState;

/// The actor of what is done from the command line (whoever can run it on
/// the server).
pub const CLI_ACTOR: &str = "cli";

/// kuota — prepaid certificate quota for HIMS housing developers.
#[derive(Debug, Parser)]
#[command(name = "kuota", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply migrations, then serve the API and the portal.
    Serve {
        /// Fill an empty database with demo data (developers, a user per role, requests in every state) and print the demo sign-ins.
        #[arg(long)]
        demo: bool,
    },
    /// Apply migrations and exit.
    Migrate,
    /// Manage developers.
    #[command(subcommand)]
    Developer(DeveloperCommand),
    /// Manage API clients.
    #[command(subcommand, name = "api-client")]
    ApiClient(ApiClientCommand),
    /// Check the quota ledger.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage personal API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Documents.
    #[command(subcommand)]
    Documents(DocumentsCommand),
    /// Online payments.
    #[command(subcommand)]
    Payments(PaymentsCommand),
    /// The blob store (uploads and documents).
    #[command(subcommand)]
    Blobs(BlobsCommand),
    /// Write one archive while kuota serves: a consistent database snapshot, every blob, a manifest with their SHA-256.
    Backup {
        /// The archive to write (must not exist).
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Restore an archive into an empty data dir and database; then run `kuota ledger verify` and `kuota audit verify`.
    Restore {
        /// The archive to read.
        #[arg(long)]
        from: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum PaymentsCommand {
    /// Ask Billplz about every pending bill and every bill paid in the last 7 days; credit paid bills that were missed (once) and report differences (exit 1 when there are any).
    Reconcile,
}

#[derive(Debug, Subcommand)]
enum BlobsCommand {
    /// Copy every blob of the configured store (KUOTA_BLOB_URL) to another and read each back; kuota may keep serving.
    Copy {
        /// The store to copy to: file:///path or s3://bucket/prefix (credentials from AWS_*).
        #[arg(long)]
        to: String,
        /// The S3-compatible service of the target, when not AWS.
        #[arg(long)]
        endpoint: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum DocumentsCommand {
    /// Render the sample quotation, invoice and delivery order (fixed demo data) as PDF into a folder.
    Samples {
        /// Where to write them.
        #[arg(long, default_value = "docs/samples")]
        out: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Exit 0 when no audit record was edited or deleted; otherwise name the first bad one.
    Verify,
    /// Seal a trail from before the audit key with the key (once, after checking it).
    Seal,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from standard input.
    Add {
        /// Sign-in e-mail.
        #[arg(long)]
        email: String,
        /// Full name.
        #[arg(long)]
        name: String,
        /// developer_admin, developer_member, retail, finance or admin.
        #[arg(long)]
        role: String,
        /// Developer code, for developer roles.
        #[arg(long)]
        developer: Option<String>,
        /// ms (default) or en.
        #[arg(long, default_value = "ms")]
        language: String,
        /// Read the password from standard input (required).
        #[arg(long = "password-stdin", required = true)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a personal API token for a user; prints it once, as the last line.
    Create {
        /// The user's e-mail.
        #[arg(long)]
        email: String,
        /// Days the token works (1 to 365).
        #[arg(long, default_value_t = crate::auth::users::TOKEN_DEFAULT_DAYS)]
        days: i64,
    },
}

#[derive(Debug, Subcommand)]
enum DeveloperCommand {
    /// Register a verified developer.
    Add {
        /// Developer code (kod pemaju).
        #[arg(long)]
        code: String,
        /// Company name.
        #[arg(long)]
        name: String,
        /// SSM registration number (12 digits).
        #[arg(long = "registration-no")]
        registration_no: String,
        /// Contact e-mail.
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
enum ApiClientCommand {
    /// Create an API client; prints its token once, as the last line.
    Create {
        /// A name for people to recognise it by.
        #[arg(long)]
        name: String,
        /// hims or admin.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["hims", "admin"]))]
        scope: String,
    },
}

#[derive(Debug, Subcommand)]
enum LedgerCommand {
    /// Exit 0 when every balance equals the sum of its entries and nothing is negative.
    Verify,
}

/// Runs the command line.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
    );
    // One JSON object per line, with the request's span (its request id).
    if std::env::var("KUOTA_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json")) {
        logs.json().with_current_span(true).with_span_list(false).init();
    } else {
        logs.init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    let (config, unknown) = Config::from_env()?;
    for name in unknown {
        tracing::warn!("unknown environment variable {name} is ignored (see README for the KUOTA_* variables)");
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match command {
        Command::Serve { demo } => {
            crate::startup::serve(&config, clock, demo).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let db = Db::connect(&config).await?;
            db.migrate().await?;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::Developer(DeveloperCommand::Add { code, name, registration_no, email }) => {
            let (db, audit_key) = opened(&config).await?;
            let fields = DeveloperFields { code, name, registration_no, email };
            let developer = fields.parse().map_err(describe)?;
            let audit = (audit_key.as_ref(), CLI_ACTOR);
            let created = crate::developer::store::insert_verified(db.pool(), audit, &developer, clock.now_ms())
                .await
                .map_err(describe)?;
            println!("developer {} ({}) added", created.code, created.name);
            Ok(ExitCode::SUCCESS)
        }
        Command::ApiClient(ApiClientCommand::Create { name, scope }) => {
            let (db, audit_key) = opened(&config).await?;
            let scope: Scope = scope.parse().map_err(anyhow::Error::msg)?;
            let (id, token) =
                crate::auth::store::create_client(db.pool(), &audit_key, &name, scope, CLI_ACTOR, clock.now_ms())
                    .await?;
            println!("API client {id} ({name}, scope {}) created. The token is shown only now:", scope.as_str());
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Command::User(UserCommand::Add { email, name, role, developer, language, password_stdin: _ }) => {
            let (db, audit_key) = opened(&config).await?;
            add_user(&db, &audit_key, clock.as_ref(), (email, name, role, developer, language)).await
        }
        Command::Token(TokenCommand::Create { email, days }) => {
            let lifetime =
                crate::auth::users::TokenLifetime::days(days).map_err(|error| anyhow::anyhow!("--days {error}"))?;
            let (db, audit_key) = opened(&config).await?;
            let email: crate::developer::EmailAddress = email.parse()?;
            let Some(user_id) = crate::auth::store::find_user_id_by_email(db.pool(), &email).await? else {
                anyhow::bail!("no user has the e-mail {}", email.as_str());
            };
            let token =
                crate::auth::users::create_token(db.pool(), (&audit_key, "cli"), user_id, lifetime, clock.now_ms())
                    .await?;
            println!("personal token for {} created. It is shown only now:", email.as_str());
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Verify) => verify_audit(&config).await,
        Command::Audit(AuditCommand::Seal) => seal_audit(&config).await,
        Command::Payments(PaymentsCommand::Reconcile) => reconcile_payments(&config, clock).await,
        Command::Blobs(BlobsCommand::Copy { to, endpoint }) => copy_blobs(&config, &to, endpoint.as_deref()).await,
        Command::Documents(DocumentsCommand::Samples { out }) => write_samples(&out),
        Command::Ledger(LedgerCommand::Verify) => verify_ledger(&migrated(&config).await?).await,
        Command::Backup { to } => {
            let manifest = crate::backup::create(&config, &migrated(&config).await?, &to, clock.now_ms()).await?;
            println!("{}: the {} database and {} blobs", to.display(), manifest.backend, manifest.blobs.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { from } => {
            let manifest = crate::backup::restore(&config, &from).await?;
            println!(
                "restored the {} database and {} blobs; now run kuota ledger verify and kuota audit verify",
                manifest.backend,
                manifest.blobs.len()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `kuota audit seal`: seals a trail from before the audit key (the
/// operator provisioned the key file first), after checking its plain chain.
async fn seal_audit(config: &Config) -> anyhow::Result<ExitCode> {
    let db = migrated(config).await?;
    let key = crate::audit::Key::load_or_create(&config.audit_key_file)?;
    match crate::audit::seal(&db, &key, true).await {
        Ok(records) => {
            println!("audit trail sealed with the key ({records} records re-linked)");
            Ok(ExitCode::SUCCESS)
        }
        Err(crate::audit::SealError::Broken { id, problem }) => {
            println!("BAD audit record {id}: {problem} ({} records before it are intact); nothing sealed", id - 1);
            Ok(ExitCode::FAILURE)
        }
        Err(error) => Err(error.into()),
    }
}

/// `kuota audit verify`: exit 0 when no audit record was edited, deleted or
/// inserted. It never seals: a trail that names no key fails here.
async fn verify_audit(config: &Config) -> anyhow::Result<ExitCode> {
    let db = migrated(config).await?;
    let key = crate::audit::Key::load(&config.audit_key_file)?;
    match crate::audit::verify(db.pool(), &key).await? {
        (count, None) => {
            println!("audit trail verified: {count} records, chain intact");
            Ok(ExitCode::SUCCESS)
        }
        (good, Some((id, problem))) => {
            println!("BAD audit record {id}: {problem} ({good} records before it are intact)");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `kuota documents samples --out DIR`: the sample PDFs.
fn write_samples(out: &std::path::Path) -> anyhow::Result<ExitCode> {
    use kuota_documents::samples;
    std::fs::create_dir_all(out)?;
    for document in [samples::quotation(), samples::invoice(), samples::delivery_order()] {
        let bytes = kuota_documents::render(&document)?;
        let path = out.join(format!("{}.pdf", document.number));
        std::fs::write(&path, bytes)?;
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `kuota ledger verify`: exit 0 when every balance equals the sum of its entries.
async fn verify_ledger(db: &Db) -> anyhow::Result<ExitCode> {
    let (checked, wrong) = crate::ledger::verify::verify(db.pool()).await?;
    if wrong.is_empty() {
        println!("ledger verified: {checked} accounts, every balance equals the sum of its entries");
        return Ok(ExitCode::SUCCESS);
    }
    for discrepancy in &wrong {
        println!("MISMATCH {discrepancy}");
    }
    println!("ledger verify failed: {} of {checked} accounts are wrong", wrong.len());
    Ok(ExitCode::FAILURE)
}

async fn add_user(
    db: &Db,
    audit_key: &crate::audit::Key,
    clock: &dyn Clock,
    fields: (String, String, String, Option<String>, String),
) -> anyhow::Result<ExitCode> {
    use crate::auth::users::{self, NewUser};
    let (email, name, role, developer, language) = fields;
    let mut password = String::new();
    std::io::stdin().read_line(&mut password)?;
    let password = password.trim_end_matches(['\n', '\r']);
    crate::auth::password::check(password)?;
    let developer_id = match developer {
        Some(code) => {
            let code: crate::developer::DeveloperCode = code.parse()?;
            Some(crate::developer::store::require_by_code(db.pool(), &code).await.map_err(describe)?.id)
        }
        None => None,
    };
    let user = NewUser {
        email: email.parse()?,
        name: name.parse()?,
        language: language.parse().map_err(anyhow::Error::msg)?,
        role: role.parse().map_err(anyhow::Error::msg)?,
        developer_id,
    };
    let hash = crate::auth::password::hash(password)?;
    let mut transaction = db.pool().begin().await?;
    let id = users::insert(&mut transaction, (audit_key, CLI_ACTOR), &user, &hash, clock.now_ms())
        .await
        .map_err(describe)?;
    transaction.commit().await?;
    println!("user {id} ({}, {}) added", user.email.as_str(), user.role.as_str());
    Ok(ExitCode::SUCCESS)
}

/// `kuota blobs copy --to URL`: every blob of the configured store into
/// another, each read back from it and checked.
async fn copy_blobs(config: &Config, to: &str, endpoint: Option<&str>) -> anyhow::Result<ExitCode> {
    let target = crate::blob::BlobLocation::parse(to, endpoint)?;
    let (from, to) = (crate::blob::BlobStore::open(&config.blobs)?, crate::blob::BlobStore::open(&target)?);
    to.check().await.with_context(|| format!("the blob store {target}"))?;
    let copied = crate::blob::copy_all(&from, &to).await?;
    println!("{copied} blobs copied from {} to {target}, each read back and checked", config.blobs);
    Ok(ExitCode::SUCCESS)
}

/// `kuota payments reconcile`: one reconciliation run now (see
/// `billplz::service::reconcile`); prints each finding.
async fn reconcile_payments(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<ExitCode> {
    let Some(account) = config.billplz.clone() else {
        anyhow::bail!("online payment is off: set all four KUOTA_BILLPLZ_* variables");
    };
    let (db, audit_key) = opened(config).await?;
    let blobs = crate::blob::BlobStore::open(&config.blobs)?;
    let state = AppState::new(db, clock, blobs, config.public_url.clone(), audit_key)
        .with_billplz(crate::billplz::client::Client::new(account)?);
    let report = crate::billplz::service::reconcile(&state).await.map_err(|error| describe(error.into()))?;
    println!("{} bills checked, {} differences", report.checked, report.findings.len());
    for finding in &report.findings {
        let outcome = finding.outcome.as_deref().map(|o| format!(" -> {o}")).unwrap_or_default();
        println!("{} {} {}{outcome}", finding.bill_id, finding.request_number, finding.kind);
    }
    Ok(if report.findings.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn migrated(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(config).await?;
    db.migrate().await?;
    Ok(db)
}

/// The migrated database with its audit key, its trail sealed with it, for
/// commands that write audit records.
async fn opened(config: &Config) -> anyhow::Result<(Db, Arc<crate::audit::Key>)> {
    let db = migrated(config).await?;
    let audit_key = crate::startup::open_audit_trail(config, &db).await?;
    Ok((db, audit_key))
}

/// Turns an application error into a message for the terminal.
fn describe(error: AppError) -> anyhow::Error {
    match error {
        AppError::Internal(cause) => cause,
        other => anyhow::anyhow!("{}", other.problem_body()["detail"].as_str().unwrap_or("refused")),
    }
}
