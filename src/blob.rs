//! Where files live (proofs of payment, procedure attachments, rendered
//! documents): content-addressed by SHA-256 and written once, in a local
//! folder under the data dir (the default) or in an S3-compatible object
//! store (`KUOTA_BLOB_URL=s3://bucket/prefix`) that every node shares.
//!
//! Both keep a blob under `<ab>/<sha256>` (its first two hex digits, then
//! its name). Every read is checked against the name: a damaged object is an
//! error, never served. All I/O is async: the folder's file calls run on
//! tokio's blocking pool, the object store speaks HTTP through `object_store`
//! (its `aws-base` over kuota's own reqwest client: rustls with ring, one TLS
//! stack for the binary).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt as _;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _};

/// Where the blobs are: `KUOTA_BLOB_URL`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobLocation {
    /// A local folder (`file:///srv/kuota/blobs`; default `<data dir>/blobs`).
    Folder(PathBuf),
    /// An S3-compatible bucket (`s3://bucket/prefix`), at AWS or at
    /// `endpoint` (`KUOTA_S3_ENDPOINT`, for MinIO, Ceph, Garage, …).
    S3 {
        /// The bucket.
        bucket: String,
        /// The folder inside it (may be empty).
        prefix: String,
        /// Another S3-compatible service than AWS.
        endpoint: Option<String>,
    },
}

impl BlobLocation {
    /// Parses `file://PATH` or `s3://BUCKET[/PREFIX]`.
    ///
    /// # Errors
    /// Another scheme, an empty path or a bucket name S3 would refuse.
    pub fn parse(url: &str, endpoint: Option<&str>) -> anyhow::Result<Self> {
        if let Some(path) = url.strip_prefix("file://") {
            anyhow::ensure!(!path.is_empty(), "KUOTA_BLOB_URL: {url:?} names no folder (file:///srv/kuota/blobs)");
            anyhow::ensure!(endpoint.is_none(), "KUOTA_S3_ENDPOINT is set but KUOTA_BLOB_URL is a folder");
            return Ok(Self::Folder(PathBuf::from(path)));
        }
        let Some(rest) = url.strip_prefix("s3://") else {
            anyhow::bail!("KUOTA_BLOB_URL is neither file://PATH nor s3://BUCKET/PREFIX");
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        anyhow::ensure!(
            valid_bucket,
            "KUOTA_BLOB_URL: {bucket:?} is not an S3 bucket name (3-63 of a-z, 0-9, '-', '.')"
        );
        let prefix = prefix.trim_matches('/');
        anyhow::ensure!(
            prefix.is_empty() || prefix.split('/').all(|part| !part.is_empty() && part != "." && part != ".."),
            "KUOTA_BLOB_URL: the prefix {prefix:?} has an empty, '.' or '..' part"
        );
        if let Some(endpoint) = endpoint {
            let host = endpoint.strip_prefix("https://").or_else(|| endpoint.strip_prefix("http://"));
            let Some(host) = host else { anyhow::bail!("KUOTA_S3_ENDPOINT is not an http(s) address") };
            // Credentials belong in AWS_*: an address is logged.
            anyhow::ensure!(
                !host.split('/').next().unwrap_or_default().contains('@'),
                "KUOTA_S3_ENDPOINT holds a user name or password; give them in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            );
        }
        Ok(Self::S3 { bucket: bucket.to_owned(), prefix: prefix.to_owned(), endpoint: endpoint.map(str::to_owned) })
    }
}

impl std::fmt::Display for BlobLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Folder(path) => write!(f, "file://{}", path.display()),
            Self::S3 { bucket, prefix, endpoint: None } => write!(f, "s3://{bucket}/{prefix}"),
            Self::S3 { bucket, prefix, endpoint: Some(endpoint) } => write!(f, "s3://{bucket}/{prefix} at {endpoint}"),
        }
    }
}

/// Why a blob could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// Not 64 hex digits.
    #[error("{0:?} is not a SHA-256")]
    NotAName(String),
    /// Bytes handed to `put` under another digest's name.
    #[error("the bytes given do not have the SHA-256 {0}")]
    WrongName(String),
    /// Nothing stored under the name.
    #[error("blob {0} is not in the store")]
    Missing(String),
    /// The stored bytes no longer match their name.
    #[error("blob {0} does not match its SHA-256: the store is damaged")]
    Damaged(String),
    /// The folder could not be read or written.
    #[error("blob folder: {0}")]
    Folder(#[from] std::io::Error),
    /// The object store answered with an error or not at all.
    #[error("object store: {0}")]
    Object(#[from] object_store::Error),
}

/// The blob store of this node (cheap to clone).
#[derive(Debug, Clone)]
pub struct BlobStore {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Folder(Arc<PathBuf>),
    Object { store: Arc<dyn ObjectStore>, prefix: ObjectPath },
}

fn check_name(sha256: &str) -> Result<(), BlobError> {
    let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if valid { Ok(()) } else { Err(BlobError::NotAName(sha256.chars().take(80).collect())) }
}

impl BlobStore {
    /// A store in the local folder `root` (created on first write).
    #[must_use]
    pub fn folder(root: PathBuf) -> Self {
        Self { backend: Backend::Folder(Arc::new(root)) }
    }

    /// The store at `location`. An S3 store takes its credentials and region
    /// from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`
    /// and `AWS_REGION` (or the instance's role); nothing is contacted yet.
    ///
    /// # Errors
    /// The S3 client cannot be configured.
    pub fn open(location: &BlobLocation) -> anyhow::Result<Self> {
        let (bucket, prefix, endpoint) = match location {
            BlobLocation::Folder(root) => return Ok(Self::folder(root.clone())),
            BlobLocation::S3 { bucket, prefix, endpoint } => (bucket, prefix, endpoint),
        };
        let retry = object_store::RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(20),
            ..object_store::RetryConfig::default()
        };
        let mut builder = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_http_connector(OutboundConnector)
            .with_retry(retry);
        if let Some(endpoint) = endpoint {
            builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
        }
        let store = builder.build().map_err(|e| anyhow::anyhow!("the S3 store {location}: {e}"))?;
        Ok(Self { backend: Backend::Object { store: Arc::new(store), prefix: ObjectPath::from(prefix.as_str()) } })
    }

    /// Makes sure the store can be used: creates the folder, or lists the
    /// bucket once (so a wrong endpoint or key stops a node at start, not at
    /// its first upload).
    ///
    /// # Errors
    /// The folder cannot be made or the bucket cannot be listed.
    pub async fn check(&self) -> Result<(), BlobError> {
        match &self.backend {
            Backend::Folder(root) => {
                let root = root.clone();
                blocking(move || crate::private_files::create_folder(&root)).await
            }
            Backend::Object { store, prefix } => {
                store.list_with_delimiter(Some(prefix)).await?;
                Ok(())
            }
        }
    }

    /// Stores `bytes` under `sha256`, their digest (storing them again is
    /// harmless).
    ///
    /// # Errors
    /// `sha256` is not the bytes' digest, or the store cannot be written.
    pub async fn put(&self, sha256: &str, bytes: &[u8]) -> Result<(), BlobError> {
        check_name(sha256)?;
        if crate::digest::sha256_hex(bytes) != sha256 {
            return Err(BlobError::WrongName(sha256.to_owned()));
        }
        self.write(sha256, bytes).await
    }

    /// Stores `bytes` under their SHA-256 and returns it (for a caller that
    /// has not hashed them already).
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn store(&self, bytes: &[u8]) -> Result<String, BlobError> {
        let sha256 = crate::digest::sha256_hex(bytes);
        self.write(&sha256, bytes).await?;
        Ok(sha256)
    }

    /// Writes bytes already known to have the digest `sha256`.
    async fn write(&self, sha256: &str, bytes: &[u8]) -> Result<(), BlobError> {
        match &self.backend {
            Backend::Folder(root) => {
                let (path, bytes) = (folder_path(root, sha256), bytes.to_vec());
                blocking(move || folder_put(&path, &bytes)).await
            }
            Backend::Object { store, prefix } => {
                store.put(&object_path(prefix, sha256), bytes.to_vec().into()).await?;
                Ok(())
            }
        }
    }

    /// The bytes stored under `sha256`, checked against it.
    ///
    /// # Errors
    /// Missing, damaged, or the store cannot be read.
    pub async fn get(&self, sha256: &str) -> Result<Vec<u8>, BlobError> {
        check_name(sha256)?;
        let bytes = match &self.backend {
            Backend::Folder(root) => {
                let path = folder_path(root, sha256);
                match blocking(move || std::fs::read(path)).await {
                    Err(BlobError::Folder(error)) if error.kind() == std::io::ErrorKind::NotFound => {
                        return Err(BlobError::Missing(sha256.to_owned()));
                    }
                    other => other?,
                }
            }
            Backend::Object { store, prefix } => match store.get(&object_path(prefix, sha256)).await {
                Ok(found) => found.bytes().await?.to_vec(),
                Err(object_store::Error::NotFound { .. }) => return Err(BlobError::Missing(sha256.to_owned())),
                Err(error) => return Err(error.into()),
            },
        };
        if crate::digest::sha256_hex(&bytes) != sha256 {
            return Err(BlobError::Damaged(sha256.to_owned()));
        }
        Ok(bytes)
    }

    /// The names of every stored blob, in order (objects in the prefix that
    /// are not blobs are left out).
    ///
    /// # Errors
    /// The store cannot be listed.
    pub async fn names(&self) -> Result<Vec<String>, BlobError> {
        let mut names = match &self.backend {
            Backend::Folder(root) => {
                let root = root.clone();
                blocking(move || folder_names(&root)).await?
            }
            Backend::Object { store, prefix } => {
                let objects: Vec<_> = store.list(Some(prefix)).try_collect().await?;
                // Only `<prefix>/<ab>/<sha256>`: a store under a deeper
                // prefix (`<prefix>/restored/…`) is another store.
                let depth = prefix.parts().count() + 2;
                objects
                    .into_iter()
                    .filter_map(|object| {
                        let mut parts: Vec<_> = object.location.parts().collect();
                        if parts.len() != depth {
                            return None;
                        }
                        let name = parts.pop()?.as_ref().to_owned();
                        let fan = parts.pop()?;
                        (check_name(&name).is_ok() && fan.as_ref() == &name[..2]).then_some(name)
                    })
                    .collect()
            }
        };
        names.sort();
        Ok(names)
    }
}

/// Copies every blob of `from` into `to` and reads each back from `to`;
/// returns how many there were.
///
/// # Errors
/// A blob is damaged in either store, or a store cannot be used.
pub async fn copy_all(from: &BlobStore, to: &BlobStore) -> Result<usize, BlobError> {
    let names = from.names().await?;
    for name in &names {
        let bytes = from.get(name).await?;
        to.put(name, &bytes).await?;
        to.get(name).await?;
    }
    Ok(names.len())
}

/// kuota's own HTTPS client for the object store (see `outbound`).
#[derive(Debug)]
struct OutboundConnector;

impl object_store::client::HttpConnector for OutboundConnector {
    fn connect(
        &self,
        _options: &object_store::ClientOptions,
    ) -> object_store::Result<object_store::client::HttpClient> {
        let client = crate::outbound::client_builder()
            .and_then(|builder| {
                Ok(builder.connect_timeout(Duration::from_secs(5)).timeout(Duration::from_secs(60)).build()?)
            })
            .map_err(|e| object_store::Error::Generic { store: "S3", source: e.into() })?;
        Ok(object_store::client::HttpClient::new(client))
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| BlobError::Folder(std::io::Error::other(e)))?
        .map_err(Into::into)
}

fn object_path(prefix: &ObjectPath, sha256: &str) -> ObjectPath {
    prefix.clone().join(&sha256[..2]).join(sha256)
}

fn folder_path(root: &Path, sha256: &str) -> PathBuf {
    root.join(&sha256[..2]).join(sha256)
}

/// Written once, atomically: a temporary file of its own, then a rename.
fn folder_put(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let folder = path.parent().ok_or_else(|| std::io::Error::other("no parent folder"))?;
    if let Some(root) = folder.parent() {
        crate::private_files::create_folder(root)?;
    }
    crate::private_files::create_folder(folder)?;
    // A name of its own per write: two writers of the same blob (a render
    // at issue and the mail worker, say) must not share a temporary file.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let write = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("blob");
    let temporary = folder.join(format!(".{name}.{}.{write}.tmp", std::process::id()));
    crate::private_files::write_new(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}

/// Every blob file in the folder; writes in progress (dot files) are left out.
fn folder_names(root: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    let fans = match std::fs::read_dir(root) {
        Ok(fans) => fans,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(names),
        Err(error) => return Err(error),
    };
    for fan in fans {
        let fan = fan?.path();
        if fan.is_dir() {
            for file in std::fs::read_dir(&fan)? {
                if let Some(name) = file?.file_name().to_str().filter(|name| check_name(name).is_ok()) {
                    names.push(name.to_owned());
                }
            }
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("kuota-blob-{name}-{}", std::process::id()))
    }

    #[tokio::test]
    async fn concurrent_writers_of_one_blob_all_succeed() -> anyhow::Result<()> {
        let root = scratch("race");
        let store = BlobStore::folder(root.clone());
        let key = crate::digest::sha256_hex(b"dokumen");
        let writers: Vec<_> = (0..8)
            .map(|_| {
                let (store, key) = (store.clone(), key.clone());
                tokio::spawn(async move { store.put(&key, b"dokumen").await })
            })
            .collect();
        for writer in writers {
            writer.await??;
        }
        assert_eq!(store.get(&key).await?, b"dokumen");
        assert_eq!(store.names().await?, vec![key]);
        std::fs::remove_dir_all(root)?;
        Ok(())
    }

    #[tokio::test]
    async fn blobs_round_trip_and_refuse_odd_names_wrong_bytes_and_damage() -> anyhow::Result<()> {
        let root = scratch("test");
        let store = BlobStore::folder(root.clone());
        let key = crate::digest::sha256_hex(b"bukti");
        assert!(matches!(store.get(&key).await, Err(BlobError::Missing(_))));
        store.put(&key, b"bukti").await?;
        store.put(&key, b"bukti").await?;
        assert_eq!(store.get(&key).await?, b"bukti");
        assert!(matches!(store.put("../../etc/passwd", b"x").await, Err(BlobError::NotAName(_))));
        assert!(matches!(store.put(&key, b"lain").await, Err(BlobError::WrongName(_))));
        let other = store.store(b"lain").await?;
        assert_eq!(
            (other.as_str(), store.get(&other).await?),
            (crate::digest::sha256_hex(b"lain").as_str(), b"lain".to_vec())
        );
        std::fs::write(root.join(&key[..2]).join(&key), b"rosak")?;
        assert!(matches!(store.get(&key).await, Err(BlobError::Damaged(_))));
        std::fs::remove_dir_all(root)?;
        Ok(())
    }

    #[test]
    fn blob_urls_parse_or_say_what_is_wrong() -> anyhow::Result<()> {
        assert_eq!(BlobLocation::parse("file:///srv/blobs", None)?, BlobLocation::Folder("/srv/blobs".into()));
        let s3 = BlobLocation::parse("s3://kuota-blobs/prod/node/", Some("http://127.0.0.1:9000"))?;
        assert_eq!(
            s3,
            BlobLocation::S3 {
                bucket: "kuota-blobs".into(),
                prefix: "prod/node".into(),
                endpoint: Some("http://127.0.0.1:9000".into())
            }
        );
        assert_eq!(s3.to_string(), "s3://kuota-blobs/prod/node at http://127.0.0.1:9000");
        assert!(
            matches!(BlobLocation::parse("s3://kuota", None)?, BlobLocation::S3 { ref prefix, .. } if prefix.is_empty())
        );
        for wrong in ["s3://Kuota_Blobs/x", "s3://ab", "s3://kuota/a//b", "s3://kuota/../x", "gs://kuota", "file://"] {
            assert!(BlobLocation::parse(wrong, None).is_err(), "{wrong}");
        }
        assert!(BlobLocation::parse("s3://kuota", Some("minio:9000")).is_err());
        let Err(secret) = BlobLocation::parse("s3://kuota", Some("https://key:rahsia@minio:9000")) else {
            anyhow::bail!("an endpoint with a password was accepted");
        };
        assert!(!secret.to_string().contains("rahsia"), "{secret}");
        Ok(())
    }
}
