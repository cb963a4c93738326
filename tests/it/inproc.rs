//! umbox's HTTPS surface run inside the test process on an ephemeral loopback port, with the
//! mailbox store in the test's hands: the test changes mailboxes through the store's own write
//! path (`MailStore::apply`, as delivery and EWS do) while real clients hold subscriptions over
//! the network. Used where a test must make changes while the server runs and no client-facing
//! operation makes them yet.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use umbox::server::{Builder, Options, Running};
use umbox_base::clock::{Clock, SystemClock};
use umbox_base::config::{Config, Notifications, Overrides};
use umbox_base::directory::Directory;
use umbox_notify::Hub;
use umbox_store::props::{tags, PropKey, PropValue};
use umbox_store::{Change, DistinguishedFolder, ItemId, MailStore, MailboxId, Outcome};

use crate::harness::temp_dir;

/// A running in-process server; stopped and its data removed on drop.
pub struct InProcess {
    runtime: Option<tokio::runtime::Runtime>,
    running: Option<Running>,
    pub https: SocketAddr,
    pub sip_media: SocketAddr,
    pub store: Arc<dyn MailStore>,
    pub hub: Hub,
    pub data: PathBuf,
}

impl InProcess {
    /// Serves the demo directory (alice, bob) with `settings`; connections whose writes stall for
    /// `write_stall` are dropped.
    pub fn start(settings: Notifications, write_stall: Duration) -> InProcess {
        InProcess::with(Directory::demo().unwrap(), write_stall, |config| {
            config.notifications = settings;
        })
    }

    /// Serves `directory` with the loopback configuration as `configure` changes it.
    pub fn with(
        directory: Directory,
        write_stall: Duration,
        configure: impl FnOnce(&mut Config),
    ) -> InProcess {
        let data = temp_dir("inproc");
        let mut config = umbox_testkit::loopback_config(&data);
        configure(&mut config);
        let options = Options {
            config,
            config_file: None,
            overrides: Overrides::default(),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let running = runtime
            .block_on(
                Builder::new(options)
                    .directory(directory)
                    .write_stall_timeout(write_stall)
                    .start(),
            )
            .unwrap();
        InProcess {
            runtime: Some(runtime),
            https: running.bound.https,
            sip_media: running.bound.sip_media,
            store: running.store(),
            hub: running.hub().clone(),
            running: Some(running),
            data,
        }
    }

    /// `https://127.0.0.1:PORT/EWS/Exchange.asmx`.
    pub fn ews_url(&self) -> String {
        format!("https://{}/EWS/Exchange.asmx", self.https)
    }

    /// Creates an unread item of `class` in `folder` of `user`'s mailbox.
    pub fn deliver(&self, user: &str, folder: DistinguishedFolder, class: &str) -> ItemId {
        let mailbox = MailboxId::new(user);
        let folder = self.store.distinguished_folder(&mailbox, folder).unwrap();
        let change = Change::CreateItem {
            folder,
            props: vec![
                (
                    PropKey::from(tags::MESSAGE_CLASS),
                    PropValue::Unicode(class.into()),
                ),
                (
                    PropKey::from(tags::SUBJECT),
                    PropValue::Unicode(format!("{class} test")),
                ),
            ],
            attachments: vec![],
        };
        match self
            .store
            .apply(&mailbox, change, SystemClock.now())
            .unwrap()
            .outcome
        {
            Outcome::Item { item, .. } => item,
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    /// Waits (at most 30 s of polling) until `done` holds.
    pub fn wait_until(&self, what: &str, done: impl Fn(&InProcess) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            if let Some(running) = self.running.take() {
                runtime.block_on(running.shutdown());
            }
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
