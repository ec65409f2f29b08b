//! `kuota backup --to FILE` and `kuota restore --from FILE`: one tar
//! archive with a consistent snapshot of the database taken while kuota
//! serves (SQLite: `VACUUM INTO`; PostgreSQL: `pg_dump` of the server's
//! major version), every blob of the store (checked against its name on the
//! way in and out), and `manifest.json` with the SHA-256 and size of each
//! part. The database is snapshotted before the blobs are read: blobs are
//! written before the rows that name them and never change, so every blob
//! the snapshot names is in the archive. The audit key is not in it (keep
//! it apart: with the key and the database, history could be rewritten).
//!
//! Restore goes only into an empty target (no SQLite file, no tables in the
//! PostgreSQL database, no blobs) and checks every part first; afterwards
//! `kuota ledger verify` and `kuota audit verify` prove the result.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::db::{Backend, Db};

/// One file of the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// Its name in the archive.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// What an archive holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The kuota version that wrote it.
    pub kuota_version: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// When the snapshot was taken, Unix ms.
    pub taken_at_ms: i64,
    /// The database snapshot.
    pub database: Part,
    /// Every blob.
    pub blobs: Vec<Part>,
}

const DATABASE_SQLITE: &str = "database/kuota.db";
const DATABASE_POSTGRES: &str = "database/kuota.dump";

fn part(path: &str, bytes: &[u8]) -> Part {
    Part { path: path.to_owned(), size: bytes.len() as u64, sha256: crate::digest::sha256_hex(bytes) }
}

/// A folder of its own for the work, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(near: &Path) -> anyhow::Result<Self> {
        let mut nonce = [0_u8; 6];
        getrandom::fill(&mut nonce).map_err(|e| anyhow::anyhow!("random: {e}"))?;
        let parent = near.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let folder = parent.join(format!(".kuota-backup-{}", crate::digest::to_hex(&nonce)));
        crate::private_files::create_folder(&folder)?;
        Ok(Self(folder))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes the archive `to` (which must not exist) from the running
/// database and the configured blob store.
///
/// # Errors
/// `to` exists, `pg_dump` is missing or of another major version, a blob
/// does not match its name, or an I/O or database fault.
pub async fn create(config: &Config, db: &Db, to: &Path, taken_at_ms: i64) -> anyhow::Result<Manifest> {
    if to.exists() {
        bail!("{} exists already; name a new file", to.display());
    }
    let scratch = Scratch::new(to)?;
    let (name, database) = match db.backend() {
        Backend::Sqlite => {
            let file = scratch.0.join("kuota.db");
            db.snapshot_into(&file).await?;
            (DATABASE_SQLITE, std::fs::read(&file)?)
        }
        Backend::Postgres => (DATABASE_POSTGRES, pg_dump(config, db, &scratch.0).await?),
    };
    let mut manifest = Manifest {
        kuota_version: env!("CARGO_PKG_VERSION").to_owned(),
        backend: backend_name(db.backend()).to_owned(),
        taken_at_ms,
        database: part(name, &database),
        blobs: Vec::new(),
    };
    let partial = scratch.0.join("archive.tar");
    // Personal and financial data: readable by the owner only.
    crate::private_files::write_new(&partial, b"")?;
    let mut archive = tar::Builder::new(std::fs::OpenOptions::new().write(true).open(&partial)?);
    append(&mut archive, name, &database)?;
    drop(database);
    // One blob in memory at a time, each checked against its name.
    let blobs = crate::blob::BlobStore::open(&config.blobs)?;
    for sha256 in blobs.names().await? {
        let bytes = blobs.get(&sha256).await?;
        let path = format!("blobs/{sha256}");
        append(&mut archive, &path, &bytes)?;
        manifest.blobs.push(part(&path, &bytes));
    }
    append(&mut archive, "manifest.json", &serde_json::to_vec_pretty(&manifest)?)?;
    archive.into_inner()?.sync_all()?;
    std::fs::rename(&partial, to).with_context(|| format!("moving the archive to {}", to.display()))?;
    Ok(manifest)
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

fn append(archive: &mut tar::Builder<std::fs::File>, path: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    archive.append_data(&mut header, path, bytes)?;
    Ok(())
}

/// The server's major version, and a `pg_dump` of the same one.
async fn pg_dump(config: &Config, db: &Db, folder: &Path) -> anyhow::Result<Vec<u8>> {
    let major = db.server_major_version().await?;
    let version = std::process::Command::new("pg_dump").arg("--version").output().map_err(|_| {
        anyhow::anyhow!(
            "pg_dump is not on PATH: install postgresql-client-{major} (Debian) to back up PostgreSQL {major}"
        )
    })?;
    let text = String::from_utf8_lossy(&version.stdout);
    let found = text.split_whitespace().find_map(|word| word.split('.').next()?.parse::<u32>().ok());
    if found != Some(major) {
        bail!("pg_dump says {:?} but the server is PostgreSQL {major}: install postgresql-client-{major}", text.trim());
    }
    let file = folder.join("kuota.dump");
    let dumped = std::process::Command::new("pg_dump")
        .args(["--format=custom", "--no-owner", "--no-privileges", "--file"])
        .arg(&file)
        .arg(&config.database_url)
        .output()?;
    if !dumped.status.success() {
        bail!("pg_dump failed: {}", String::from_utf8_lossy(&dumped.stderr).trim());
    }
    Ok(std::fs::read(&file)?)
}

/// Restores the archive `from` into the empty database and data dir of
/// `config`, checking every part against the manifest first.
///
/// # Errors
/// A damaged archive, another backend, a target that is not empty,
/// `pg_restore` missing or failing, or an I/O or database fault.
pub async fn restore(config: &Config, from: &Path) -> anyhow::Result<Manifest> {
    let target = if config.is_sqlite() { "sqlite" } else { "postgres" };
    let blobs = crate::blob::BlobStore::open(&config.blobs)?;
    if !blobs.names().await?.is_empty() {
        bail!("the blob store {} is not empty: restore only into an empty one", config.blobs);
    }
    // Unpacked into a folder of its own, one part in memory at a time, and
    // checked against the manifest before anything is restored.
    let scratch = Scratch::new(&config.data_dir.join("restore"))?;
    let mut unpacked = std::collections::BTreeMap::new();
    let mut manifest = None;
    let mut archive =
        tar::Archive::new(std::fs::File::open(from).with_context(|| format!("opening {}", from.display()))?);
    for (index, entry) in archive.entries()?.enumerate() {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        if path == "manifest.json" {
            manifest = Some(serde_json::from_slice::<Manifest>(&bytes)?);
            continue;
        }
        let file = scratch.0.join(index.to_string());
        crate::private_files::write_new(&file, &bytes)?;
        unpacked.insert(path.clone(), (part(&path, &bytes), file));
    }
    let manifest = manifest.context("the archive has no manifest.json")?;
    for expected in std::iter::once(&manifest.database).chain(&manifest.blobs) {
        let (found, _) =
            unpacked.get(&expected.path).with_context(|| format!("{} is missing from the archive", expected.path))?;
        if found != expected {
            bail!("{} does not match the manifest: the archive is damaged", expected.path);
        }
    }
    if manifest.backend != target {
        bail!("the archive holds a {} database; this configuration uses {target}", manifest.backend);
    }
    let file_of = |path: &str| unpacked.get(path).map(|(_, file)| file).context("a part of the archive");
    let database = std::fs::read(file_of(&manifest.database.path)?)?;
    if config.is_sqlite() {
        restore_sqlite(config, &database)?;
    } else {
        restore_postgres(config, &database).await?;
    }
    drop(database);
    for blob in &manifest.blobs {
        let sha256 = blob.path.trim_start_matches("blobs/");
        blobs.put(sha256, &std::fs::read(file_of(&blob.path)?)?).await?;
    }
    Ok(manifest)
}

fn restore_sqlite(config: &Config, database: &[u8]) -> anyhow::Result<()> {
    let file = sqlite_file(&config.database_url)?;
    if file.exists() && std::fs::metadata(&file)?.len() > 0 {
        bail!("{} exists: restore only into an empty data dir", file.display());
    }
    if let Some(folder) = file.parent() {
        crate::private_files::create_folder(folder)?;
    }
    crate::private_files::write_new(&file, database)?;
    Ok(())
}

/// The file of a `sqlite://PATH?…` URL.
fn sqlite_file(url: &str) -> anyhow::Result<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).context("not a SQLite URL")?;
    Ok(PathBuf::from(rest.split('?').next().unwrap_or(rest)))
}

async fn restore_postgres(config: &Config, database: &[u8]) -> anyhow::Result<()> {
    let db = Db::connect(config).await?;
    let tables = db.table_count().await?;
    db.close().await;
    if tables > 0 {
        bail!("the database has {tables} tables: restore only into an empty database");
    }
    let scratch = Scratch::new(&config.data_dir.join("restore"))?;
    let file = scratch.0.join("kuota.dump");
    crate::private_files::write_new(&file, database)?;
    let restored = std::process::Command::new("pg_restore")
        .args(["--no-owner", "--no-privileges", "--exit-on-error", "--dbname"])
        .arg(&config.database_url)
        .arg(&file)
        .output()
        .map_err(|_| {
            anyhow::anyhow!("pg_restore is not on PATH: install the postgresql-client package of the server's version")
        })?;
    if !restored.status.success() {
        bail!("pg_restore failed: {}", String::from_utf8_lossy(&restored.stderr).trim());
    }
    Ok(())
}
