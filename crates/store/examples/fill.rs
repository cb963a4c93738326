//! Fills a mailbox's Inbox with small messages for the load benchmarks, through
//! `MailStore::apply_batch` (1,000 creations per durable transaction), before a server opens the
//! data directory (redb allows one process).
//!
//! `fill DATA_DIR ADDRESS COUNT`: creates `ensure_mailbox(ADDRESS)` and COUNT notes "Message n"
//! from "Sender n%50", received one minute apart from 2026-01-01T00:00:00Z, every third unread.
//! Prints the time taken and items per second. Run by `scripts/bench/find-item.sh`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, UNIX_EPOCH};

use umbox_store::props::{tags, FileTime, PropKey, PropValue};
use umbox_store::{Change, DistinguishedFolder, MailStore, MailboxId, Options, RedbStore};

/// 2026-01-01T00:00:00Z.
const EPOCH: u64 = 1_767_225_600;
const BATCH: u64 = 1_000;

fn message(n: u64) -> Vec<(PropKey, PropValue)> {
    let received = UNIX_EPOCH + Duration::from_secs(EPOCH + n * 60);
    let text = |value: String| PropValue::Unicode(value);
    vec![
        (tags::SUBJECT.into(), text(format!("Message {n}"))),
        (tags::MESSAGE_CLASS.into(), text("IPM.Note".into())),
        (
            tags::MESSAGE_FLAGS.into(),
            PropValue::Int32(if n.is_multiple_of(3) {
                0
            } else {
                tags::MSGFLAG_READ
            }),
        ),
        (
            tags::MESSAGE_DELIVERY_TIME.into(),
            PropValue::SystemTime(FileTime::from_system_time(received)),
        ),
        (tags::SENDER_NAME.into(), text(format!("Sender {}", n % 50))),
    ]
}

fn run(data: PathBuf, address: &str, count: u64) -> Result<(), umbox_store::Error> {
    let store = RedbStore::open(&data, Options::default())?;
    let mailbox = MailboxId::new(address);
    let now = UNIX_EPOCH + Duration::from_secs(EPOCH);
    store.ensure_mailbox(&mailbox, now)?;
    let inbox = store.distinguished_folder(&mailbox, DistinguishedFolder::Inbox)?;
    let started = Instant::now();
    let mut next = 0;
    while next < count {
        let end = (next + BATCH).min(count);
        let changes = (next..end)
            .map(|n| Change::CreateItem {
                folder: inbox,
                props: message(n),
                attachments: Vec::new(),
            })
            .collect();
        store.apply_batch(&mailbox, changes, now)?;
        next = end;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "filled {count} items in {seconds:.1} s ({:.0} items/s)",
        count as f64 / seconds
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data, address, count] = args.as_slice() else {
        eprintln!("usage: fill DATA_DIR ADDRESS COUNT");
        return ExitCode::from(2);
    };
    let Ok(count) = count.parse::<u64>() else {
        eprintln!("COUNT {count:?} is not a number");
        return ExitCode::from(2);
    };
    match run(PathBuf::from(data), address, count) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fill: {error}");
            ExitCode::FAILURE
        }
    }
}
