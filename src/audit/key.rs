//! The audit key: 32 random bytes that key the chain's HMAC-SHA-256, so
//! someone who can write the database but cannot read this file cannot
//! rewrite a record and recompute the chain after it.
//!
//! The file (`KUOTA_AUDIT_KEY_FILE`, by default `<data dir>/audit.key`) holds
//! the key as 64 lower- or upper-case hex digits, optionally followed by a
//! newline (`openssl rand -hex 32` makes one). It must be readable by its
//! owner only (mode 0600); every node sharing a database uses the same file.

use std::path::{Path, PathBuf};

use crate::digest::{hmac_sha256_hex, to_hex};

/// The length of the key, in bytes.
pub const KEY_BYTES: usize = 32;

/// What the fingerprint is the HMAC of: the head row names the key that
/// sealed the trail by this, never by the key itself.
const FINGERPRINT_TEXT: &[u8] = b"kuota audit key";

/// The key of the audit chain. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct Key([u8; KEY_BYTES]);

impl std::fmt::Debug for Key {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "audit::Key({})", self.fingerprint())
    }
}

/// Why the key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading, creating or inspecting the file failed.
    #[error("audit key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Group or others may read or write the file.
    #[error(
        "audit key file {path} can be read or written by others (mode {mode:o}); run `chmod 600 {path}` (the key must stay secret)"
    )]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file does not hold 64 hex digits.
    #[error("audit key file {path} must hold exactly {} hex digits (32 bytes), like `openssl rand -hex 32` prints", KEY_BYTES * 2)]
    Malformed {
        /// The file.
        path: PathBuf,
    },
    /// The system's random source failed.
    #[error("no random bytes for a new audit key: {0}")]
    Random(getrandom::Error),
}

impl Key {
    /// A key from these bytes (tests, and keys read from a file).
    #[must_use]
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
        Self(bytes)
    }

    /// A new random key.
    ///
    /// # Errors
    /// The system's random source failed.
    pub fn generate() -> Result<Self, KeyError> {
        let mut bytes = [0_u8; KEY_BYTES];
        getrandom::fill(&mut bytes).map_err(KeyError::Random)?;
        Ok(Self(bytes))
    }

    /// Reads the key at `path`; when there is no file, makes a new key and
    /// writes it there with mode 0600 (making the folder with mode 0700 if
    /// needed). Refuses a file others may read and one that is not 64 hex
    /// digits.
    ///
    /// # Errors
    /// See [`KeyError`].
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        match Self::load(path) {
            Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Self::create(path)?;
                Self::load(path)
            }
            other => other,
        }
    }

    /// Reads the key at `path`.
    ///
    /// # Errors
    /// See [`KeyError`].
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io { path: path.to_owned(), source };
        let metadata = std::fs::metadata(path).map_err(io)?;
        check_owner_only(path, &metadata)?;
        let text = std::fs::read_to_string(path).map_err(io)?;
        let malformed = || KeyError::Malformed { path: path.to_owned() };
        let digits = text.strip_suffix('\n').unwrap_or(&text);
        let digits = digits.strip_suffix('\r').unwrap_or(digits);
        if digits.len() != KEY_BYTES * 2 || !digits.is_ascii() {
            return Err(malformed());
        }
        let mut bytes = [0_u8; KEY_BYTES];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&digits[index * 2..index * 2 + 2], 16).map_err(|_| malformed())?;
        }
        Ok(Self(bytes))
    }

    /// Writes a new key to `path`. The key goes to a private temporary file
    /// first and is then linked into place, so a process starting at the
    /// same moment never reads half a key, and an existing key is never
    /// replaced (the link fails; the caller then reads the other one).
    fn create(path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::Io { path: path.to_owned(), source };
        if let Some(folder) = path.parent().filter(|folder| !folder.as_os_str().is_empty()) {
            crate::private_files::create_folder(folder).map_err(io)?;
        }
        let key = Self::generate()?;
        let temporary = path.with_extension(format!("new-{}", std::process::id()));
        let written = crate::private_files::write_new(&temporary, format!("{}\n", to_hex(&key.0)).as_bytes());
        let linked = written.and_then(|()| std::fs::hard_link(&temporary, path));
        let _ = std::fs::remove_file(&temporary);
        match linked {
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(error) => Err(io(error)),
            Ok(()) => {
                tracing::warn!(path = %path.display(), "created a new audit key; back it up and give every node the same file");
                Ok(())
            }
        }
    }

    /// HMAC-SHA-256 of `text` under this key, lower-case hex.
    #[must_use]
    pub fn seal(&self, text: &[u8]) -> String {
        hmac_sha256_hex(&self.0, text)
    }

    /// Names this key without revealing it: HMAC(key, "kuota audit key"), hex.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        self.seal(FINGERPRINT_TEXT)
    }
}

#[cfg(unix)]
fn check_owner_only(path: &Path, metadata: &std::fs::Metadata) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::TooOpen { path: path.to_owned(), mode });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_only(_path: &Path, _metadata: &std::fs::Metadata) -> Result<(), KeyError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let folder = std::env::temp_dir().join(format!("kuota-key-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        folder
    }

    #[test]
    fn a_missing_key_is_created_private_and_read_back_the_same() -> Result<(), KeyError> {
        let folder = scratch("create");
        let path = folder.join("nested").join("audit.key");
        let made = Key::load_or_create(&path)?;
        let again = Key::load_or_create(&path)?;
        assert_eq!(made.fingerprint(), again.fingerprint());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777).ok();
            assert_eq!(mode(&path), Some(0o600));
            assert_eq!(mode(&folder.join("nested")), Some(0o700));
        }
        let _ = std::fs::remove_dir_all(&folder);
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn a_key_others_can_read_is_refused() -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let folder = scratch("open");
        std::fs::create_dir_all(&folder)?;
        let path = folder.join("audit.key");
        std::fs::write(&path, "00".repeat(KEY_BYTES))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        assert!(matches!(Key::load_or_create(&path), Err(KeyError::TooOpen { mode: 0o644, .. })));
        let _ = std::fs::remove_dir_all(&folder);
        Ok(())
    }

    #[test]
    fn a_key_of_the_wrong_length_or_not_hex_is_refused() -> std::io::Result<()> {
        let folder = scratch("short");
        std::fs::create_dir_all(&folder)?;
        for text in ["abcd\n".to_owned(), "zz".repeat(KEY_BYTES), "00".repeat(KEY_BYTES + 1)] {
            let path = folder.join("audit.key");
            let _ = std::fs::remove_file(&path);
            crate::private_files::write_new(&path, text.as_bytes())?;
            assert!(matches!(Key::load(&path), Err(KeyError::Malformed { .. })), "{text:?}");
        }
        let _ = std::fs::remove_dir_all(&folder);
        Ok(())
    }

    #[test]
    fn the_fingerprint_names_the_key_without_showing_it() {
        let key = Key::from_bytes([7; KEY_BYTES]);
        assert_ne!(key.fingerprint(), Key::from_bytes([8; KEY_BYTES]).fingerprint());
        assert!(!format!("{key:?}").contains("0707"));
    }
}
