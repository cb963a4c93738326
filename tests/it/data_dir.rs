//! The data directory as an operator finds it on disk: nothing in it is readable by anyone but
//! the server's user, however it was created.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::harness::{temp_dir, Server};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn an_existing_world_readable_data_directory_is_made_owner_only_at_start() {
    let data = temp_dir("modes");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A first run creates the store, the certificate and the directory; then an operator's copy
    // or an older version leaves them open to everyone.
    let data = Server::demo_in(data).stop();
    for entry in ["", "mailboxes.redb", "directory.toml", "tls"] {
        let path = data.join(entry);
        let open = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(open)).unwrap();
    }
    let server = Server::demo_in(data);
    for entry in ["mailboxes.redb", "directory.toml"] {
        assert_eq!(mode(&server.data.join(entry)), 0o600, "{entry}");
    }
    assert_eq!(mode(&server.data), 0o700);
    assert_eq!(mode(&server.data.join("tls")), 0o700);
    for key in std::fs::read_dir(server.data.join("tls")).unwrap() {
        let key = key.unwrap().path();
        assert_eq!(mode(&key) & 0o077, 0, "{}", key.display());
    }
}
