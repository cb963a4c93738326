//! exchangelib (PyPI), unmodified, against the real binary: finding, paging, filtering, sorting,
//! syncing and the folder operations (`tests/interop/exchangelib/test_find.py`). The mailbox is
//! filled through the store's own write path before the server opens the data directory, because
//! item creation over EWS belongs to another part of the server.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use umbox_store::props::{tags, FileTime, PropKey, PropValue};
use umbox_store::{
    Change, DistinguishedFolder, FolderId, MailStore, MailboxId, Options, Outcome, RedbStore,
};

use crate::harness::{run_exchangelib, temp_dir, Server};

/// When the seeded notes start arriving, one a minute (2026-01-01T00:00:00Z).
const SEED_EPOCH: u64 = 1_767_225_600;

fn message(subject: &str, class: &str, read: bool, received: u64) -> Vec<(PropKey, PropValue)> {
    let at = UNIX_EPOCH + Duration::from_secs(received);
    vec![
        (tags::SUBJECT.into(), PropValue::Unicode(subject.to_owned())),
        (
            tags::MESSAGE_CLASS.into(),
            PropValue::Unicode(class.to_owned()),
        ),
        (
            tags::MESSAGE_FLAGS.into(),
            PropValue::Int32(if read { tags::MSGFLAG_READ } else { 0 }),
        ),
        (
            tags::MESSAGE_DELIVERY_TIME.into(),
            PropValue::SystemTime(FileTime::from_system_time(at)),
        ),
    ]
}

/// Alice's mailbox as `test_find.py` expects it.
fn seed(data: &Path) {
    let store = RedbStore::open(data, Options::default()).unwrap();
    let alice = MailboxId::new("alice@example.test");
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(SEED_EPOCH);
    store.ensure_mailbox(&alice, now).unwrap();
    let folder = |which| store.distinguished_folder(&alice, which).unwrap();
    let create = |folder: FolderId, props| {
        store
            .apply(
                &alice,
                Change::CreateItem {
                    folder,
                    props,
                    attachments: Vec::new(),
                },
                now,
            )
            .unwrap();
    };
    let inbox = folder(DistinguishedFolder::Inbox);
    for n in 0..500u64 {
        create(
            inbox,
            message(
                &format!("Item {n:03}"),
                "IPM.Note",
                n % 2 == 0,
                SEED_EPOCH + n * 60,
            ),
        );
    }
    let voicemail = "IPM.Note.Microsoft.Voicemail.UM.CA";
    create(
        inbox,
        message("Voice Mail 1", voicemail, false, SEED_EPOCH + 90_000),
    );
    create(
        inbox,
        message("Voice Mail 2", voicemail, false, SEED_EPOCH + 90_060),
    );
    let archive = match store
        .apply(
            &alice,
            Change::CreateFolder {
                parent: inbox,
                props: vec![
                    (
                        tags::DISPLAY_NAME.into(),
                        PropValue::Unicode("Archive".into()),
                    ),
                    (
                        tags::CONTAINER_CLASS.into(),
                        PropValue::Unicode("IPF.Note".into()),
                    ),
                ],
            },
            now,
        )
        .unwrap()
        .outcome
    {
        Outcome::Folder { folder, .. } => folder,
        other => panic!("{other:?}"),
    };
    create(
        archive,
        message("Voice Mail 3", voicemail, true, SEED_EPOCH + 80_000),
    );
    create(
        archive,
        message("Old note", "IPM.Note", false, SEED_EPOCH + 80_060),
    );
    create(
        folder(DistinguishedFolder::ConversationHistory),
        message(
            "Missed conversation with Bob Berg",
            "IPM.Note.Microsoft.Missed",
            false,
            SEED_EPOCH + 95_000,
        ),
    );
}

#[test]
fn exchangelib_finds_pages_filters_sorts_and_syncs() {
    let data = temp_dir("exchangelib-find");
    seed(&data);
    let server = Server::demo_in(data);
    let epoch = SEED_EPOCH.to_string();
    let stdout = run_exchangelib(&server, "test_find.py", &[("UMBOX_SEED_EPOCH", &epoch)]);
    for check in [
        "paged through 500 items in order",
        "initial voicemail sync",
        "deleted folders",
        "distinguished folders stay",
    ] {
        assert!(
            stdout.contains(&format!("ok {check}")),
            "{check} did not run:\n{stdout}"
        );
    }
}

/// How many notes `test_large_folder.py` pages through: enough for many 100-item pages in every
/// view; the 100,000-item run is the benchmark's (scripts/bench/find-item.sh).
const LARGE_COUNT: u64 = 3_000;

#[test]
fn exchangelib_pages_a_large_folder_newest_first_and_by_unread() {
    let data = temp_dir("exchangelib-large");
    {
        let store = RedbStore::open(&data, Options::default()).unwrap();
        let alice = MailboxId::new("alice@example.test");
        let now = UNIX_EPOCH + Duration::from_secs(SEED_EPOCH);
        store.ensure_mailbox(&alice, now).unwrap();
        let inbox = store
            .distinguished_folder(&alice, DistinguishedFolder::Inbox)
            .unwrap();
        let notes: Vec<u64> = (0..LARGE_COUNT).collect();
        // Created in an order unlike the received times, so the id order is no answer.
        for batch in notes.chunks(500).rev() {
            let changes = batch
                .iter()
                .map(|n| Change::CreateItem {
                    folder: inbox,
                    props: message(
                        &format!("Note {n:04}"),
                        "IPM.Note",
                        !n.is_multiple_of(3),
                        SEED_EPOCH + n * 60,
                    ),
                    attachments: Vec::new(),
                })
                .collect();
            store.apply_batch(&alice, changes, now).unwrap();
        }
    }
    let server = Server::demo_in(data);
    let (epoch, count) = (SEED_EPOCH.to_string(), LARGE_COUNT.to_string());
    let stdout = run_exchangelib(
        &server,
        "test_large_folder.py",
        &[("UMBOX_SEED_EPOCH", &epoch), ("UMBOX_LARGE_COUNT", &count)],
    );
    for check in [
        "large folder counts",
        "paged newest first",
        "paged unread newest first",
        "the oldest page",
    ] {
        assert!(
            stdout.contains(&format!("ok {check}")),
            "{check} did not run:\n{stdout}"
        );
    }
}
