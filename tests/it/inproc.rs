//! umbox's HTTPS surface run inside the test process on an ephemeral loopback port, with the
//! mailbox store in the test's hands: the test changes mailboxes through the store's own write
//! path (`MailStore::apply`, as delivery and EWS do) while real clients hold subscriptions over
//! the network. Used where a test must make changes while the server runs and no client-facing
//! operation makes them yet.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use umbox_base::clock::{Clock, SystemClock};
use umbox_base::config::{Notifications, Raw};
use umbox_base::directory::Directory;
use umbox_ews::ids::IdCodec;
use umbox_ews::photo::PhotoStore;
use umbox_http::{self as http, Services, Snapshot};
use umbox_notify::{Hub, RandomIds};
use umbox_store::props::{tags, PropKey, PropValue};
use umbox_store::{
    Change, DistinguishedFolder, ItemId, MailStore, MailboxId, Options, Outcome, RedbStore,
};

use crate::harness::temp_dir;

/// A running in-process server; stopped and its data removed on drop.
pub struct InProcess {
    runtime: Option<tokio::runtime::Runtime>,
    _snapshot: watch::Sender<Arc<Snapshot>>,
    pub https: SocketAddr,
    pub store: Arc<dyn MailStore>,
    pub hub: Hub,
    pub data: PathBuf,
}

impl InProcess {
    /// Serves the demo directory (alice, bob) with `settings`; connections whose writes stall for
    /// `write_stall` are dropped.
    pub fn start(settings: Notifications, write_stall: Duration) -> InProcess {
        let data = temp_dir("inproc");
        let text = format!(
            "data_dir = {:?}\ndomains = [\"example.test\"]\n",
            data.display().to_string()
        );
        let config = Raw::parse(&text, Path::new("inproc.toml"))
            .unwrap()
            .validate()
            .unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let directory = Arc::new(Directory::demo().unwrap());
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store: Arc<dyn MailStore> =
            Arc::new(RedbStore::open(&data, Options::default()).unwrap());
        for user in &directory.users {
            store
                .ensure_mailbox(&MailboxId::new(&user.address), clock.now())
                .unwrap();
        }
        let ids = IdCodec::load_or_create(&data).unwrap();
        let hub = Hub::open(
            store.clone(),
            settings.clone(),
            clock.clone(),
            Arc::new(RandomIds::default()),
        )
        .unwrap();
        let tls = http::tls::server_config(&config).unwrap();
        let site = config.site(0, 5060);
        let (snapshot_tx, snapshot) = watch::channel(Arc::new(Snapshot {
            directory,
            site: Arc::new(site),
        }));
        let services = Services::new(
            snapshot,
            config.max_body_bytes,
            clock,
            store.clone(),
            ids.clone(),
            PhotoStore::in_data_dir(&data),
            hub.clone(),
        )
        .with_write_stall_timeout(write_stall);
        let carrier = http::client::PushClient::new(&settings).unwrap();
        let push = umbox_ews::PushDelivery::new(ids, Arc::new(carrier));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let https = listener.local_addr().unwrap();
        runtime.spawn(http::serve_https(listener, tls, Arc::new(services)));
        runtime.spawn(hub.clone().run(Arc::new(push)));
        InProcess {
            runtime: Some(runtime),
            _snapshot: snapshot_tx,
            https,
            store,
            hub,
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
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
