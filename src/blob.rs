//! Where uploaded files live: a small interface with a local-folder
//! implementation (under the data dir). Blobs are content-addressed by
//! SHA-256, written once, atomically (temporary file, then rename).

use std::path::PathBuf;

/// A place to keep files by their SHA-256.
pub trait BlobStore: Send + Sync + 'static {
    /// Stores `bytes` under `sha256` (a no-op when already there).
    ///
    /// # Errors
    /// The store cannot be written.
    fn put(&self, sha256: &str, bytes: &[u8]) -> std::io::Result<()>;

    /// The bytes stored under `sha256`.
    ///
    /// # Errors
    /// Missing or unreadable.
    fn get(&self, sha256: &str) -> std::io::Result<Vec<u8>>;
}

/// Blobs in a local folder, fanned out by the first two hex digits.
#[derive(Debug, Clone)]
pub struct FolderBlobStore {
    root: PathBuf,
}

impl FolderBlobStore {
    /// A store rooted at `root` (created on first write).
    #[must_use]
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn path_of(&self, sha256: &str) -> Option<PathBuf> {
        let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        valid.then(|| self.root.join(&sha256[..2]).join(sha256))
    }
}

impl BlobStore for FolderBlobStore {
    fn put(&self, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path_of(sha256).ok_or_else(|| std::io::Error::other("not a SHA-256"))?;
        if path.exists() {
            return Ok(());
        }
        let folder = path.parent().ok_or_else(|| std::io::Error::other("no parent folder"))?;
        crate::private_files::create_folder(folder)?;
        // A name of its own per write: two writers of the same blob (a render
        // at issue and the mail worker, say) must not share a temporary file.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let write = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let temporary = folder.join(format!(".{sha256}.{}.{write}.tmp", std::process::id()));
        crate::private_files::write_new(&temporary, bytes)?;
        std::fs::rename(&temporary, &path)
    }

    fn get(&self, sha256: &str) -> std::io::Result<Vec<u8>> {
        let path = self.path_of(sha256).ok_or_else(|| std::io::Error::other("not a SHA-256"))?;
        std::fs::read(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_writers_of_one_blob_all_succeed() -> std::io::Result<()> {
        let root = std::env::temp_dir().join(format!("kuota-blob-race-{}", std::process::id()));
        let store = std::sync::Arc::new(FolderBlobStore::new(root.clone()));
        let key = crate::digest::sha256_hex(b"dokumen");
        let writers: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                let key = key.clone();
                std::thread::spawn(move || store.put(&key, b"dokumen"))
            })
            .collect();
        for writer in writers {
            writer.join().map_err(|_| std::io::Error::other("writer panicked"))??;
        }
        assert_eq!(store.get(&key)?, b"dokumen");
        std::fs::remove_dir_all(root)
    }

    #[test]
    fn blobs_round_trip_and_refuse_odd_keys() -> std::io::Result<()> {
        let root = std::env::temp_dir().join(format!("kuota-blob-test-{}", std::process::id()));
        let store = FolderBlobStore::new(root.clone());
        let key = crate::digest::sha256_hex(b"bukti");
        store.put(&key, b"bukti")?;
        store.put(&key, b"bukti")?;
        assert_eq!(store.get(&key)?, b"bukti");
        assert!(store.put("../../etc/passwd", b"x").is_err());
        std::fs::remove_dir_all(root)
    }
}
