//! exchangelib (PyPI), unmodified, against the real binary's EWS items and attachments:
//! `tests/interop/exchangelib/test_items.py` with a direct endpoint.

use crate::harness::{run_exchangelib, Server};

#[test]
fn exchangelib_creates_reads_updates_moves_and_deletes_items() {
    let server = Server::demo();
    let stdout = run_exchangelib(
        &server,
        "test_items.py",
        &[
            ("UMBOX_PEER", &"bob@example.test"),
            ("UMBOX_PEER_PASSWORD", &"demo-bob"),
        ],
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
