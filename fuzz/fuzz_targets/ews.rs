//! EWS requests from an authenticated user against a real store: any body gets a SOAP answer
//! (response messages or a fault), never a panic. Reaches every operation's parse step, the
//! MIME reader (CreateItem MimeContent), restrictions, ids and the user configuration objects.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use umbox_base::clock::{Clock, SystemClock};
use umbox_base::config::{Notifications, Site};
use umbox_base::directory::Directory;
use umbox_ews::ids::IdCodec;
use umbox_notify::{Hub, RandomIds};
use umbox_store::{MailStore, MailboxId, RedbStore};

struct Fixture {
    directory: Directory,
    site: Site,
    store: Arc<dyn MailStore>,
    ids: IdCodec,
    hub: Hub,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("umbox-fuzz-ews-{}", std::process::id()));
        let directory = Directory::demo().expect("demo directory");
        let site = umbox_testkit::loopback_config(&dir).site(443, 5060);
        let store = RedbStore::open(&dir, umbox_store::Options::default()).expect("store");
        for user in &directory.users {
            store
                .ensure_mailbox(&MailboxId::new(&user.address), SystemClock.now())
                .expect("mailbox");
        }
        let store: Arc<dyn MailStore> = Arc::new(store);
        let ids = IdCodec::load_or_create(&dir).expect("id key");
        let hub = Hub::open(
            store.clone(),
            Notifications::default(),
            Arc::new(SystemClock),
            Arc::new(RandomIds::default()),
        )
        .expect("hub");
        Fixture {
            directory,
            site,
            store,
            ids,
            hub,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let ctx = umbox_ews::Context {
        caller: &f.directory.users[0],
        directory: &f.directory,
        site: &f.site,
        store: f.store.as_ref(),
        ids: &f.ids,
        now: SystemClock.now(),
        limits: umbox_ews::Limits::default(),
        notify: &f.hub,
    };
    let _ = umbox_ews::handle(data, ctx);
});
