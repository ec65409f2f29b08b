//! Files only kuota's own user may read or write: folders 0700, files 0600
//! (on Unix; elsewhere the platform's defaults). The data folder, the SQLite
//! files, blobs and the audit key all go through here.

use std::io::Write;
use std::path::Path;

/// Creates `folder` and any missing parents, each new one 0700.
///
/// # Errors
/// The folder cannot be made.
pub fn create_folder(folder: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(folder)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(folder)
}

/// Writes a new file (refusing to replace one) with mode 0600, synced.
///
/// # Errors
/// The file exists or cannot be written.
pub fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes an existing file or folder private (0600 / 0700); nothing when it
/// does not exist.
///
/// # Errors
/// The permissions cannot be changed.
pub fn restrict(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(metadata) = std::fs::metadata(path) else { return Ok(()) };
        let mode = if metadata.is_dir() { 0o700 } else { 0o600 };
        if metadata.permissions().mode() & 0o777 != mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
