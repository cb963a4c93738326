//! Crash-safe whole-file writes for the small files in the data directory (directory, certificate),
//! and the rule that nothing in the data directory is readable by anyone but its owner.
//!
//! A file is written to a sibling temporary name, fsynced, renamed over the old one and the folder is
//! fsynced, so a crash leaves either the old file or the new one, never a mixture.
//! The mailbox store does not use this: redb has its own commit protocol.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Replaces `path` with `bytes` atomically and durably; the file gets permission bits `mode`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// Takes group and other permissions away from `root` and everything below it (symbolic links are
/// left alone and not followed), returning how many entries changed. Files created before this
/// rule, or by libraries that create with the process umask (redb's database file), end up owner
/// only: the store, the keys and the directory hold mail and credentials.
pub fn owner_only(root: &Path) -> std::io::Result<usize> {
    let mut changed = 0;
    let mut pending = vec![root.to_owned()];
    while let Some(path) = pending.pop() {
        let metadata = std::fs::symlink_metadata(&path)?;
        if metadata.file_type().is_symlink() {
            continue;
        }
        let mode = metadata.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & !0o077))?;
            changed += 1;
        }
        if metadata.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_leaves_no_temporary() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path();
        let path = dir.join("f.txt");
        write_atomic(&path, b"one", 0o600).unwrap();
        write_atomic(&path, b"two", 0o600).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir).unwrap().count(), 1);
    }

    #[test]
    fn owner_only_strips_group_and_other_bits_below_the_root_and_skips_links() {
        let scratch = tempfile::tempdir().unwrap();
        let root = scratch.path().join("data");
        std::fs::create_dir_all(root.join("tls")).unwrap();
        std::fs::write(root.join("mailboxes.redb"), b"x").unwrap();
        std::fs::write(root.join("tls/key.pem"), b"k").unwrap();
        let outside = scratch.path().join("outside");
        std::fs::write(&outside, b"o").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        for (path, mode) in [
            (root.clone(), 0o755),
            (root.join("tls"), 0o755),
            (root.join("mailboxes.redb"), 0o644),
            (root.join("tls/key.pem"), 0o640),
            (outside.clone(), 0o644),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        assert_eq!(owner_only(&root).unwrap(), 4);
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("tls")), 0o700);
        assert_eq!(mode(&root.join("mailboxes.redb")), 0o600);
        assert_eq!(mode(&root.join("tls/key.pem")), 0o600);
        assert_eq!(mode(&outside), 0o644, "links are not followed");
        assert_eq!(owner_only(&root).unwrap(), 0);
    }
}
