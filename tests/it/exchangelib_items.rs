//! exchangelib (PyPI), unmodified, against the real binary's EWS items and attachments:
//! `tests/interop/exchangelib/test_items.py` with a direct endpoint.

use std::path::Path;
use std::process::Command;

use crate::harness::Server;

#[test]
fn exchangelib_creates_reads_updates_moves_and_deletes_items() {
    let python = crate::harness::exchangelib_python();
    let server = Server::demo();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/exchangelib/test_items.py");
    let out = Command::new(python)
        .arg(script)
        .env("UMBOX_EWS_URL", server.https_url("/EWS/Exchange.asmx"))
        .env("UMBOX_USER", "alice@example.test")
        .env("UMBOX_PASSWORD", "demo-alice")
        .env("UMBOX_PEER", "bob@example.test")
        .env("UMBOX_PEER_PASSWORD", "demo-bob")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "test_items.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "ok create message with extended properties and an attachment",
        "ok read back: properties, extended properties, body, attachment bytes, MIME",
        "ok mark read and unread",
        "ok attachment added, downloaded byte for byte, removed",
        "ok move gives a new id",
        "ok copy",
        "ok move to trash and soft delete",
        "ok voice mail imported from MIME",
        "ok windows-1252 and ISO-2022-JP messages imported from MIME",
        "ok send to a local recipient",
        "all item flows passed",
    ] {
        assert!(stdout.contains(step), "{step:?} missing from\n{stdout}");
    }
}
