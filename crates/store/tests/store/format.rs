//! An existing data directory survives a redb upgrade: `fixtures/store/redb-v3/` holds a
//! `mailboxes.redb` written by umbox on redb 3 (voice messages with their WAV attachments, a read
//! flag, a named property, a folder, a subscription record) and `expected.txt`, the dump of it
//! taken at the same time. The current build opens a copy and must dump the same text: every
//! property, every change-log entry and the SHA-256 of every attachment's bytes.
//!
//! `UMBOX_WRITE_STORE_FIXTURE=<dir> cargo test -p umbox-store --test store format` writes a new
//! fixture into `<dir>` instead (done once, with the redb version being retired).

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use umbox_store::props::{
    property_sets, tags, NamedProperty, PropKey, PropName, PropType, PropValue,
};
use umbox_store::{
    Change, DistinguishedFolder, MailStore, MailboxId, NewAttachment, Options, Outcome, RedbStore,
    Seq, Traversal,
};

const WRITE_ENV: &str = "UMBOX_WRITE_STORE_FIXTURE";

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_449_600 + seconds)
}

fn alice() -> MailboxId {
    MailboxId::new("alice@example.test")
}

/// A µ-law WAV-sized payload whose bytes depend on `n`, so attachments cannot be mixed up.
fn audio(n: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64).wrapping_mul(31).wrapping_add(n * 7) as u8)
        .collect()
}

/// What the fixture holds: written with the old redb, read with the new.
fn populate(store: &RedbStore) {
    let alice = alice();
    store.ensure_mailbox(&alice, at(0)).unwrap();
    let inbox = store
        .distinguished_folder(&alice, DistinguishedFolder::Inbox)
        .unwrap();
    let call_id = PropKey::Named(
        NamedProperty::new(
            property_sets::INTERNET_HEADERS,
            PropName::Name("x-callid".into()),
        ),
        PropType::Unicode,
    );
    let mut items = Vec::new();
    for n in 1..=3u64 {
        let change = Change::CreateItem {
            folder: inbox,
            props: vec![
                (
                    tags::MESSAGE_CLASS.into(),
                    PropValue::Unicode("IPM.Note.Microsoft.Voicemail.UM.CA".into()),
                ),
                (
                    tags::SUBJECT.into(),
                    PropValue::Unicode(format!("Voice Mail from Bob Berg ({n} seconds)")),
                ),
                (
                    tags::VOICE_MESSAGE_DURATION.into(),
                    PropValue::Int32(i32::try_from(n).unwrap()),
                ),
                (call_id.clone(), PropValue::Unicode(format!("call-{n}@gw"))),
            ],
            attachments: vec![NewAttachment {
                props: vec![(
                    tags::ATTACH_LONG_FILENAME.into(),
                    PropValue::Unicode("audio.wav".into()),
                )],
                content: audio(n, 8_000 * usize::try_from(n).unwrap() + 44),
            }],
        };
        match store.apply(&alice, change, at(n)).unwrap().outcome {
            Outcome::Item { item, .. } => items.push(item),
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    let read = Change::SetReadFlag {
        items: vec![items[0]],
        read: true,
    };
    store.apply(&alice, read, at(10)).unwrap();
    let root = store
        .distinguished_folder(&alice, DistinguishedFolder::MsgFolderRoot)
        .unwrap();
    let folder = Change::CreateFolder {
        parent: root,
        props: vec![(
            tags::DISPLAY_NAME.into(),
            PropValue::Unicode("Kept calls".into()),
        )],
    };
    store.apply(&alice, folder, at(11)).unwrap();
    store
        .save_subscription("fixture-subscription", b"opaque record bytes")
        .unwrap();
}

/// Everything readable, as text: folders, items, attachments (SHA-256 of the bytes), the log.
fn dump(store: &RedbStore) -> String {
    let alice = alice();
    let mut out = String::new();
    let root = store
        .distinguished_folder(&alice, DistinguishedFolder::Root)
        .unwrap();
    let mut folders = vec![store.folder(&alice, root).unwrap()];
    folders.extend(store.child_folders(&alice, root, Traversal::Deep).unwrap());
    for folder in folders {
        writeln!(out, "folder {folder:?}").unwrap();
        for item in store.items(&alice, folder.id).unwrap() {
            writeln!(
                out,
                "  item {:?} {:?} {:?}",
                item.id, item.change_key, item.props
            )
            .unwrap();
            for info in &item.attachments {
                let attachment = store.attachment(&alice, info.id).unwrap();
                let digest = ring::digest::digest(&ring::digest::SHA256, &attachment.content);
                let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
                writeln!(
                    out,
                    "    attachment {:?} {:?} {} bytes sha256 {hex}",
                    attachment.id,
                    attachment.props,
                    attachment.content.len()
                )
                .unwrap();
            }
        }
    }
    for event in store.changes_since(&alice, Seq(0), 10_000).unwrap() {
        writeln!(out, "log {event:?}").unwrap();
    }
    writeln!(out, "bounds {:?}", store.log_bounds(&alice).unwrap()).unwrap();
    writeln!(out, "subscriptions {:?}", store.subscriptions().unwrap()).unwrap();
    out
}

fn fixture() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/store/redb-v3"
    ))
}

#[test]
fn a_data_directory_written_by_redb_3_reads_back_exactly() {
    if let Some(dir) = std::env::var_os(WRITE_ENV) {
        let dir = Path::new(&dir);
        std::fs::create_dir_all(dir).unwrap();
        let store = RedbStore::open(dir, Options::default()).unwrap();
        populate(&store);
        std::fs::write(dir.join("expected.txt"), dump(&store)).unwrap();
        return;
    }
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture().join("mailboxes.redb"),
        copy.path().join("mailboxes.redb"),
    )
    .unwrap();
    let store = RedbStore::open(copy.path(), Options::default()).unwrap();
    let expected = std::fs::read_to_string(fixture().join("expected.txt")).unwrap();
    assert_eq!(dump(&store), expected);
}
