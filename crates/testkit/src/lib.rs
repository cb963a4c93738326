//! The test kit every umbox crate's tests share: scratch directories, the paths of the
//! workspace's fixtures and interop material, a store with two mailboxes ([`Mailboxes`]), the
//! configuration of a whole server on loopback ([`loopback_config`]), the sipp runner
//! ([`sipp`]), an RTP capture of what a caller hears ([`rtp`]) and a telephone's media end that
//! hears, presses keys and talks as it goes ([`phone`]), and a private network namespace for tests
//! that need more loopback hosts than 127.0.0.1 ([`netns`]).
//!
//! It builds on `umbox-base` and `umbox-store` only, so those two crates' own tests use
//! `tempfile` directly instead (a crate cannot be tested through a kit that depends on it).
//!
//! Test-only (`publish = false`, a dev-dependency everywhere). Never a dependency of a library
//! or the server, and never holds protocol logic: tests drive the real code with it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod netns;
pub mod phone;
pub mod rtp;
pub mod sipp;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

pub use tempfile::TempDir;
use umbox_base::clock::{Clock, ManualClock};
use umbox_base::config::{Config, Overrides, Raw};
use umbox_store::props::{tags, PropKey, PropValue};
use umbox_store::{
    Change, DistinguishedFolder, FolderId, ItemId, MailStore, MailboxId, Options, Outcome,
    RedbStore,
};

/// The workspace root, where `fixtures/`, `schemas/` and `tests/interop/` live.
pub fn workspace_root() -> &'static Path {
    // This crate sits at `<root>/crates/testkit`.
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// A fresh directory under the system's temporary directory, removed when dropped; `tag`
/// names it so a leftover from a killed run says which test made it.
pub fn temp_dir(tag: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("umbox-{tag}-"))
        .tempdir()
        .unwrap()
}

/// A WAV file whose `fmt ` chunk says format `tag` (1 PCM, 6 A-law, 7 µ-law), `channels`, `rate`
/// and `bits`, holding `data`: the greetings and prompts tests make well-formed and odd files
/// with it.
pub fn wav_file(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
    let block = channels * bits / 8;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    out.extend_from_slice(&block.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// The configuration of a whole server serving example.test from `data` with every listener on
/// an ephemeral port of 127.0.0.1, for tests and benchmarks that run the server in their process.
pub fn loopback_config(data: &Path) -> Config {
    let overrides = Overrides {
        data_dir: Some(data.to_path_buf()),
        demo: true,
        bind: Some("127.0.0.1".to_owned()),
        https_port: Some(0),
        http_port: Some(0),
        dns_port: Some(0),
        sip_router_port: Some(0),
        sip_media_port: Some(0),
        rtp_ports: Some((0, 0)),
        admin_port: Some(0),
    };
    overrides.apply(Raw::default()).validate().unwrap()
}

/// Two mailboxes (alice's and bob's) in a fresh redb store with a hand-moved clock: the
/// starting point of every test that needs a store but not a server.
pub struct Mailboxes {
    /// The data directory; the store lives in it.
    pub dir: TempDir,
    /// The store.
    pub store: Arc<dyn MailStore>,
    /// The clock every change is stamped with.
    pub clock: Arc<ManualClock>,
    /// alice@example.test, a demo user.
    pub alice: MailboxId,
    /// bob@example.test, a demo user.
    pub bob: MailboxId,
}

impl Mailboxes {
    /// A new store whose clock starts at a fixed instant (1,700,000,000 s after the epoch).
    pub fn new() -> Mailboxes {
        let dir = temp_dir("store");
        let clock = Arc::new(ManualClock::new(
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        ));
        let store: Arc<dyn MailStore> =
            Arc::new(RedbStore::open(dir.path(), Options::default()).unwrap());
        let alice = MailboxId::new("alice@example.test");
        let bob = MailboxId::new("bob@example.test");
        store.ensure_mailbox(&alice, clock.now()).unwrap();
        store.ensure_mailbox(&bob, clock.now()).unwrap();
        Mailboxes {
            dir,
            store,
            clock,
            alice,
            bob,
        }
    }

    /// The same data directory opened again, as after a restart; the old store must be gone
    /// (every clone dropped) first.
    pub fn reopen(self) -> Mailboxes {
        let Mailboxes {
            dir,
            store,
            clock,
            alice,
            bob,
        } = self;
        drop(store);
        let store: Arc<dyn MailStore> =
            Arc::new(RedbStore::open(dir.path(), Options::default()).unwrap());
        Mailboxes {
            dir,
            store,
            clock,
            alice,
            bob,
        }
    }

    /// One of alice's distinguished folders.
    pub fn folder(&self, which: DistinguishedFolder) -> FolderId {
        self.store.distinguished_folder(&self.alice, which).unwrap()
    }

    /// Delivers a message of `class` to alice's inbox, unread.
    pub fn deliver(&self, class: &str) -> ItemId {
        let change = Change::CreateItem {
            folder: self.folder(DistinguishedFolder::Inbox),
            props: vec![(
                PropKey::from(tags::MESSAGE_CLASS),
                PropValue::Unicode(class.into()),
            )],
            attachments: vec![],
        };
        match self
            .store
            .apply(&self.alice, change, self.clock.now())
            .unwrap()
            .outcome
        {
            Outcome::Item { item, .. } => item,
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    /// Marks one of alice's items read.
    pub fn mark_read(&self, item: ItemId) {
        let change = Change::SetReadFlag {
            items: vec![item],
            read: true,
        };
        self.store
            .apply(&self.alice, change, self.clock.now())
            .unwrap();
    }
}

impl Default for Mailboxes {
    fn default() -> Self {
        Mailboxes::new()
    }
}
