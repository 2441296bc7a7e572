//! Keeping the data folder private. It holds the store (contact records,
//! workorders with customers' details, agents' phone password hashes),
//! recordings of calls and the speech cache: nothing in it is for other users
//! of the machine. At start the server sets the process umask to 077, so every
//! file and folder it creates from then on (sled's files, recordings, caches)
//! is readable by its own user only, and tightens what an older version left
//! there: folders to 0700 and files to 0600 at most (the owner's bits are kept,
//! but nothing in the folder is executable). Symbolic links are not followed.
//! What cannot be changed (not ours, a read-only mount) is warned about at
//! start, not fatal: the folder itself must be creatable.

use std::path::{Path, PathBuf};

/// How deep and how many entries the start-up walk visits, so that a data
/// folder pointed at the wrong place cannot stall the start.
const MAX_DEPTH: usize = 8;
const MAX_ENTRIES: usize = 200_000;

/// Makes every file and folder the process creates from now on private to its
/// user (umask 077). Process-wide, and meant to be: the server writes nothing
/// that others should read.
pub fn private_umask() {
    use rustix::fs::Mode;
    rustix::process::umask(Mode::from_bits_truncate(0o077));
}

/// Creates `dir` if needed as 0700 (an error if it cannot be created), and takes
/// group and other permissions off everything already in it. Returns the
/// entries that could not be changed (not ours, a read-only mount), for the
/// caller to warn about: the server still starts.
pub fn secure_data_dir(dir: &Path) -> std::io::Result<Vec<(PathBuf, std::io::Error)>> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mut walk = Walk {
        budget: MAX_ENTRIES,
        failed: Vec::new(),
    };
    walk.tighten(dir, 0);
    Ok(walk.failed)
}

struct Walk {
    budget: usize,
    failed: Vec<(PathBuf, std::io::Error)>,
}

impl Walk {
    fn tighten(&mut self, path: &Path, depth: usize) {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) => return self.failed.push((path.to_path_buf(), e)),
        };
        if meta.file_type().is_symlink() {
            return;
        }
        let mode = meta.permissions().mode() & 0o7777;
        let private = if meta.is_dir() {
            mode & 0o700
        } else {
            mode & 0o600
        };
        if private != mode
            && let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(private))
        {
            self.failed.push((path.to_path_buf(), e));
        }
        if !meta.is_dir() || depth >= MAX_DEPTH {
            return;
        }
        let entries = match std::fs::read_dir(path) {
            Ok(e) => e,
            Err(e) => return self.failed.push((path.to_path_buf(), e)),
        };
        for entry in entries {
            if self.budget == 0 {
                return;
            }
            self.budget -= 1;
            match entry {
                Ok(entry) => self.tighten(&entry.path(), depth + 1),
                Err(e) => self.failed.push((path.to_path_buf(), e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn an_old_world_readable_folder_is_made_private() {
        let dir = std::env::temp_dir().join(format!("dialect-private-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("db/blobs")).unwrap();
        std::fs::write(dir.join("db/conf"), b"x").unwrap();
        std::fs::write(dir.join("run.sh"), b"x").unwrap();
        for (p, m) in [
            (dir.clone(), 0o755),
            (dir.join("db"), 0o775),
            (dir.join("db/blobs"), 0o777),
            (dir.join("db/conf"), 0o644),
            (dir.join("run.sh"), 0o755),
        ] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).unwrap();
        }
        assert!(secure_data_dir(&dir).unwrap().is_empty());
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("db")), 0o700);
        assert_eq!(mode(&dir.join("db/blobs")), 0o700);
        assert_eq!(mode(&dir.join("db/conf")), 0o600);
        assert_eq!(mode(&dir.join("run.sh")), 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_new_folder_is_created_private() {
        let dir =
            std::env::temp_dir().join(format!("dialect-private-new-{}/a/b", std::process::id()));
        assert!(secure_data_dir(&dir).unwrap().is_empty());
        assert_eq!(mode(&dir), 0o700);
        let _ = std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap());
    }
}
