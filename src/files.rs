//! Loyal's own files (the SQLite database and its log, the encryption key, uploaded
//! imports) are readable by the user the server runs as, and nobody else: directories
//! 0700, files 0600, set when they are created (SQLite gives its `-wal` and `-shm`
//! files the database file's mode).

use std::path::Path;

/// Create `dir` (and its parents) and make `dir` itself private. An existing directory
/// is made private too: a data directory from before keeps members' data.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
        if mode != 0o700 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// Options that create a file readable and writable by its owner only.
pub fn private_file() -> std::fs::OpenOptions {
    let mut opts = std::fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

/// Make an existing file private (a database file created before this rule).
pub fn make_private(file: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    Ok(())
}
