//! exchangelib (PyPI), unmodified, against the real binary's people operations (ResolveNames,
//! automatic replies, free/busy with server time zones, ConvertId), and curl against the user
//! photo GET set by `umbox user add --photo`.

use crate::harness::{curl, run_exchangelib, temp_dir, Server};

/// A tiny but well-formed JPEG (SOI, JFIF APP0, EOI).
const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01,
    0x00, 0x01, 0x00, 0x00, 0xFF, 0xD9,
];

/// Adds carol (whose name also starts a word with "Bob") with a photo, and waits for the server to
/// pick her up.
fn add_carol(server: &Server) {
    let photo = temp_dir("photo").join("carol.jpg");
    std::fs::write(&photo, JPEG).unwrap();
    let (ok, _, err) = server.admin(&[
        "user",
        "add",
        "carol@example.test",
        "--name",
        "Carol Bobson",
        "--password",
        "demo-carol",
        "--photo",
        photo.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    server.wait_for_log("reloaded directory and configuration");
}

#[test]
fn exchangelib_resolves_names_round_trips_oof_and_reads_free_busy() {
    let server = Server::demo();
    add_carol(&server);
    let stdout = run_exchangelib(&server, "test_people.py", &[]);
    let expect = |needle: &str| assert!(stdout.contains(needle), "{needle} not in {stdout}");
    expect(r#""version": "Exchange2016""#);
    expect(
        r#""resolve_bob": [["Bob Berg", "bob@example.test", "Mailbox"], ["Carol Bobson", "carol@example.test", "Mailbox"]]"#,
    );
    expect(r#""resolve_alice_emails": ["SMTP:alice@example.test"]"#);
    expect(r#""oof": "Enabled""#);
    expect(r#""free_busy": ["DetailedMerged", "FreeBusyMerged", "ErrorMailRecipientNotFound"]"#);
    expect(r#""working_hours": [[[[1, 2, 3, 4], "09:00:00", "17:30:00"]], 480]"#);
    expect(r#""time_zones": 28"#);
    expect(r#""convert_id": "HexEntryId""#);
}

#[test]
fn user_photos_are_served_with_etags() {
    let server = Server::demo();
    add_carol(&server);
    let url = |query: &str| server.https_url(&format!("/EWS/Exchange.asmx/s/GetUserPhoto?{query}"));
    let photo = url("email=carol%40example.test&size=HR648x648");
    let reply = curl(&["-u", "bob@example.test:demo-bob", &photo]);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type").as_deref(), Some("image/jpeg"));
    assert_eq!(reply.body, JPEG);
    let etag = reply.header("etag").unwrap();
    let again = curl(&[
        "-u",
        "bob@example.test:demo-bob",
        "-H",
        &format!("If-None-Match: {etag}"),
        &photo,
    ]);
    assert_eq!((again.status, again.body.len()), (304, 0));
    assert_eq!(
        curl(&[
            "-u",
            "bob@example.test:demo-bob",
            &url("email=alice@example.test")
        ])
        .status,
        404
    );
    assert_eq!(
        curl(&["-u", "bob@example.test:demo-bob", &url("size=HR648x648")]).status,
        400
    );
    assert_eq!(curl(&[&photo]).status, 401);
    assert_eq!(
        curl(&["-u", "bob@example.test:demo-bob", "-X", "POST", &photo]).status,
        405
    );
    // A file that is not an image changes nothing.
    let text = temp_dir("photo").join("note.txt");
    std::fs::write(&text, "hello").unwrap();
    let (ok, _, err) = server.admin(&[
        "user",
        "set",
        "carol@example.test",
        "--photo",
        text.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("--photo"), "{err}");
    assert_eq!(
        curl(&["-u", "bob@example.test:demo-bob", &photo]).body,
        JPEG
    );
}
