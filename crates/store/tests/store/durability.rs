//! Durability of the mailbox store across a clean restart and across a crash (SIGKILL) in the
//! middle of a stream of deliveries: what `apply` acknowledged is there, whole, and nothing else
//! is half-written.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use umbox_store::props::{tags, PropKey, PropValue};
use umbox_store::{
    Change, DistinguishedFolder, Event, ItemId, MailStore, MailboxId, NewAttachment, Options,
    Outcome, RedbStore, Seq, Traversal,
};

/// Set in the re-executed test binary to make `writer_role` act as the crashing writer; its value
/// is the data directory.
const WRITER_ENV: &str = "UMBOX_STORE_DURABILITY_WRITER";
/// Deliveries the parent waits to see acknowledged before it kills the writer.
const ACKS_BEFORE_KILL: usize = 40;
/// The writer's upper bound, far above what the parent waits for, so the kill lands mid-stream.
const WRITER_ITERATIONS: u64 = 100_000;

/// A fresh directory under the system temp dir, removed when dropped.
fn test_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("umbox-store-durability-{name}-"))
        .tempdir()
        .unwrap()
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
}

fn mailbox() -> MailboxId {
    MailboxId::new("carol@example.com")
}

/// The audio of delivery `n`: its length and bytes depend on `n`, so a mix-up cannot pass.
fn audio(n: u64) -> Vec<u8> {
    let len = 1_000 + (n as usize * 7_919) % 60_000;
    (0..len)
        .map(|i| {
            (i as u64)
                .wrapping_mul(31)
                .wrapping_add(n.wrapping_mul(131)) as u8
        })
        .collect()
}

fn subject(n: u64) -> String {
    format!("Voice mail {n}")
}

fn delivery(store: &RedbStore, n: u64) -> (ItemId, Seq) {
    let inbox = store
        .distinguished_folder(&mailbox(), DistinguishedFolder::Inbox)
        .unwrap();
    let committed = store
        .apply(
            &mailbox(),
            Change::CreateItem {
                folder: inbox,
                props: vec![
                    (
                        PropKey::from(tags::MESSAGE_CLASS),
                        PropValue::Unicode("IPM.Note.Microsoft.Voicemail.UM.CA".into()),
                    ),
                    (tags::SUBJECT.into(), PropValue::Unicode(subject(n))),
                ],
                attachments: vec![NewAttachment {
                    props: vec![(
                        tags::ATTACH_LONG_FILENAME.into(),
                        PropValue::Unicode(format!("{n}.wav")),
                    )],
                    content: audio(n),
                }],
            },
            at(n),
        )
        .unwrap();
    let Outcome::Item { item, .. } = committed.outcome else {
        panic!("{:?}", committed.outcome)
    };
    (item, committed.events.last().unwrap().seq)
}

/// Every item whole with its attachment, every counter equal to a recount, no orphan.
fn assert_consistent(store: &RedbStore) {
    let report = store.verify(&mailbox()).unwrap();
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    let root = store
        .distinguished_folder(&mailbox(), DistinguishedFolder::Root)
        .unwrap();
    for folder in store
        .child_folders(&mailbox(), root, Traversal::Deep)
        .unwrap()
    {
        let items = store.items(&mailbox(), folder.id).unwrap();
        assert_eq!(folder.total_count, items.len() as u64);
        let unread = items
            .iter()
            .filter(|i| i.props.int32(tags::MESSAGE_FLAGS).unwrap_or(0) & tags::MSGFLAG_READ == 0)
            .count();
        assert_eq!(folder.unread_count, unread as u64);
    }
}

fn assert_delivery(store: &RedbStore, item: ItemId, n: u64) {
    let stored = store.item(&mailbox(), item).unwrap();
    assert_eq!(
        stored.props.unicode(tags::SUBJECT),
        Some(subject(n).as_str())
    );
    let [attachment] = stored.attachments.as_slice() else {
        panic!("item {item} attachments")
    };
    let attachment = store.attachment(&mailbox(), attachment.id).unwrap();
    assert_eq!(attachment.content, audio(n), "audio of delivery {n}");
}

#[test]
fn everything_survives_a_clean_restart_and_numbering_continues() {
    let dir = test_dir("restart");
    let (items, last_seq, folder_before) = {
        let store = RedbStore::open(dir.path(), Options::default()).unwrap();
        store.ensure_mailbox(&mailbox(), at(0)).unwrap();
        let items: Vec<(ItemId, u64)> = (1..=5).map(|n| (delivery(&store, n).0, n)).collect();
        store
            .apply(
                &mailbox(),
                Change::SetReadFlag {
                    items: vec![items[0].0],
                    read: true,
                },
                at(9),
            )
            .unwrap();
        let voicemail = store
            .distinguished_folder(&mailbox(), DistinguishedFolder::Voicemail)
            .unwrap();
        let last_seq = store.log_bounds(&mailbox()).unwrap().latest;
        (
            items,
            last_seq,
            store.folder(&mailbox(), voicemail).unwrap(),
        )
    };
    let store = RedbStore::open(dir.path(), Options::default()).unwrap();
    assert!(store
        .ensure_mailbox(&mailbox(), at(20))
        .unwrap()
        .events
        .is_empty());
    for (item, n) in &items {
        assert_delivery(&store, *item, *n);
    }
    let voicemail = store
        .distinguished_folder(&mailbox(), DistinguishedFolder::Voicemail)
        .unwrap();
    let folder_after = store.folder(&mailbox(), voicemail).unwrap();
    assert_eq!(folder_after, folder_before);
    assert_eq!(
        (folder_after.total_count, folder_after.unread_count),
        (5, 4)
    );
    assert_eq!(store.log_bounds(&mailbox()).unwrap().latest, last_seq);
    let history = store.changes_since(&mailbox(), Seq(0), 10_000).unwrap();
    assert_eq!(history.last().unwrap().seq, last_seq);
    let (sixth, _) = delivery(&store, 6);
    let resumed = store.changes_since(&mailbox(), last_seq, 10).unwrap();
    assert_eq!(
        resumed.first().unwrap().seq,
        Seq(last_seq.0 + 1),
        "numbering continues"
    );
    assert!(matches!(resumed[0].event, Event::ItemCreated { item, .. } if item == sixth));
    assert!(
        items.iter().all(|(item, _)| *item != sixth),
        "ids are never reused"
    );
    assert_consistent(&store);
}

/// The writer half of `acknowledged_deliveries_survive_sigkill`; does nothing unless re-executed.
#[test]
fn writer_role() {
    let Some(dir) = std::env::var_os(WRITER_ENV) else {
        return;
    };
    let store = RedbStore::open(Path::new(&dir), Options::default()).unwrap();
    store.ensure_mailbox(&mailbox(), at(0)).unwrap();
    for n in 1..=WRITER_ITERATIONS {
        let (item, seq) = delivery(&store, n);
        // Printed only after apply returned, i.e. after the durable commit.
        println!("ACK {n} {} {}", item.0, seq.0);
    }
}

#[test]
fn acknowledged_deliveries_survive_sigkill() {
    let dir = test_dir("crash");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "durability::writer_role",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WRITER_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut acked: Vec<(u64, ItemId, Seq)> = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while acked.len() < ACKS_BEFORE_KILL {
        let Some(line) = lines.next() else { break };
        let line = line.unwrap();
        let Some(ack) = line.strip_prefix("ACK ") else {
            continue;
        };
        let fields: Vec<u64> = ack.split(' ').map(|f| f.parse().unwrap()).collect();
        let [n, item, seq] = fields.as_slice() else {
            panic!("bad ack {line:?}")
        };
        acked.push((*n, ItemId(*item), Seq(*seq)));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        acked.len(),
        ACKS_BEFORE_KILL,
        "writer ended early: {status:?}"
    );
    assert!(!status.success(), "the writer was killed, not finished");

    let store = RedbStore::open(dir.path(), Options::default()).unwrap();
    for (n, item, _) in &acked {
        assert_delivery(&store, *item, *n);
    }
    assert_consistent(&store);
    // Deliveries the writer committed after the acknowledgements we read (still in the pipe,
    // or in flight at the kill) may be there too; each of them must be whole as well.
    let inbox = store
        .distinguished_folder(&mailbox(), DistinguishedFolder::Inbox)
        .unwrap();
    let stored = store.items(&mailbox(), inbox).unwrap();
    assert!(
        stored.len() >= acked.len(),
        "{} items for {} acknowledged deliveries",
        stored.len(),
        acked.len()
    );
    for item in &stored {
        assert_eq!(item.attachments.len(), 1, "item {} lost its audio", item.id);
    }
    // The log holds every acknowledged sequence number and creation, and numbering continues.
    let last_acked = acked.last().unwrap().2;
    let log = store.changes_since(&mailbox(), Seq(0), 100_000).unwrap();
    let created: Vec<ItemId> = log
        .iter()
        .filter_map(|logged| match logged.event {
            Event::ItemCreated { item, .. } => Some(item),
            _ => None,
        })
        .collect();
    for (n, item, seq) in &acked {
        assert!(
            log.iter().any(|logged| logged.seq == *seq),
            "seq {seq} of delivery {n}"
        );
        assert!(created.contains(item), "creation of delivery {n}");
    }
    let latest = store.log_bounds(&mailbox()).unwrap().latest;
    assert!(latest >= last_acked);
    let next = store
        .apply(
            &mailbox(),
            Change::DeleteItem { item: acked[0].1 },
            at(1_000_000),
        )
        .unwrap();
    assert_eq!(next.events.first().unwrap().seq, Seq(latest.0 + 1));
    assert_consistent(&store);
}
