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

/// Conversation History as Lync writes it (`tests/interop/exchangelib/test_conversation_history.py`):
/// the four Lync item classes with their properties intact, the missed-conversations count, and a
/// subscription seeing it change.
#[test]
fn exchangelib_writes_lync_conversation_history_and_reads_the_missed_count() {
    let server = Server::demo();
    let stdout = run_exchangelib(&server, "test_conversation_history.py", &[]);
    for step in [
        "ok IPM.Note.Microsoft.Missed.Voice: named property",
        "ok missed conversations: the folder's unread count",
        "ok pull: reading a missed call lowers the count to one",
        "ok all",
    ] {
        assert!(stdout.contains(step), "{step:?} missing from\n{stdout}");
    }
}
