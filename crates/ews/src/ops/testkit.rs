//! The one test kit of EWS: a temporary store holding the demo directory's mailboxes, a fixed
//! clock and id key; [`Kit::request`] for unit tests of an operation's typed `run`, and
//! [`Kit::call`], which sends one operation through `crate::handle` exactly as the HTTP layer
//! does and parses the reply.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::ids::IdCodec;
use crate::{handle, Context, Limits, Request};
use umbox_base::clock::FixedClock;
use umbox_base::config::{Notifications, Site};
use umbox_base::directory::{Directory, Right};
use umbox_base::version::ExchangeVersion;
use umbox_notify::{Hub, RandomIds};
use umbox_store::props::{NamedProperty, PropKey, PropValue};
use umbox_store::{
    Change, DistinguishedFolder, FolderId, ItemId, MailStore, MailboxId, Outcome, RedbStore,
};
use umbox_xml::{ns, Element};

/// The fixed "now" of every test: 2026-11-23T16:00:00Z.
pub(crate) fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_449_600)
}

/// A notification hub over `store` with default settings, for EWS contexts whose tests do not
/// exercise notifications.
pub(crate) fn scratch_hub(store: &RedbStore) -> Hub {
    Hub::open(
        std::sync::Arc::new(store.clone()),
        Notifications::default(),
        std::sync::Arc::new(FixedClock(UNIX_EPOCH)),
        std::sync::Arc::new(RandomIds::default()),
    )
    .unwrap()
}

/// A store in a fresh temporary folder with the demo directory's mailboxes, a notification hub
/// over it, and the site, id key and limits of a request.
pub(crate) struct Kit {
    /// Always `Some` except while [`Kit::reopen`] swaps it (dropped before `dir`).
    store: Option<RedbStore>,
    hub: Option<Hub>,
    dir: umbox_testkit::TempDir,
    pub(crate) directory: Directory,
    pub(crate) site: Site,
    pub(crate) ids: IdCodec,
    pub(crate) limits: Limits,
    /// The time every request is made at.
    pub(crate) now: SystemTime,
}

impl Kit {
    /// The demo directory, where alice also holds the impersonation right.
    pub(crate) fn new() -> Kit {
        let dir = umbox_testkit::temp_dir("ews-ops");
        let store = RedbStore::open(dir.path(), umbox_store::Options::default()).unwrap();
        let mut directory = Directory::demo().unwrap();
        directory.users[0].rights.push(Right::Impersonation);
        for user in &directory.users {
            store
                .ensure_mailbox(&MailboxId::new(&user.address), now())
                .unwrap();
        }
        Kit {
            hub: Some(scratch_hub(&store)),
            store: Some(store),
            dir,
            directory,
            site: Site {
                domains: vec!["example.test".to_owned()],
                public_host: "mail.example.test".to_owned(),
                https_port: 443,
                sip_port: 5060,
                sips_port: 5061,
                addresses: Vec::new(),
            },
            ids: IdCodec::from_key(b"umbox test key"),
            limits: Limits::default(),
            now: now(),
        }
    }

    /// The store.
    pub(crate) fn store(&self) -> &RedbStore {
        self.store.as_ref().unwrap()
    }

    /// The notification hub.
    pub(crate) fn hub(&self) -> &Hub {
        self.hub.as_ref().unwrap()
    }

    /// Closes and reopens the store, as a restart does.
    pub(crate) fn reopen(&mut self) {
        self.hub = None;
        self.store = None;
        let store = RedbStore::open(self.dir.path(), umbox_store::Options::default()).unwrap();
        self.hub = Some(scratch_hub(&store));
        self.store = Some(store);
    }

    /// What the HTTP layer hands EWS for a request from `caller`.
    pub(crate) fn context(&self, caller: &str) -> Context<'_> {
        Context {
            caller: self.directory.user_by_address(caller).unwrap(),
            directory: &self.directory,
            site: &self.site,
            store: self.store(),
            ids: &self.ids,
            now: self.now,
            limits: self.limits,
            notify: self.hub(),
        }
    }

    /// A request from `caller` on their own mailbox at Exchange2016, as `handle` makes it after
    /// reading the envelope: what the typed steps of an operation run with.
    pub(crate) fn request(&self, caller: &str) -> Request<'_> {
        let ctx = self.context(caller);
        Request {
            ctx,
            user: ctx.caller,
            mailbox: MailboxId::new(&ctx.caller.address),
            version: ExchangeVersion::Exchange2016,
        }
    }

    /// Sends `body` (a whole SOAP envelope) as `caller`; returns the HTTP status and the text.
    pub(crate) fn raw(&self, caller: &str, body: &str) -> (u16, String) {
        let reply = handle(body.as_bytes(), self.context(caller));
        (reply.status, String::from_utf8(reply.body).unwrap())
    }

    /// Sends `operation` (the Body's content, `m:`/`t:` prefixes bound) as `caller` with
    /// RequestServerVersion `version` and an optional impersonated address; returns the status
    /// and the parsed Body element.
    pub(crate) fn call_as(
        &self,
        caller: &str,
        version: &str,
        impersonate: Option<&str>,
        operation: &str,
    ) -> (u16, Element) {
        let impersonation = impersonate
            .map(|a| format!("<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{a}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>"))
            .unwrap_or_default();
        let body = envelope(version, &impersonation, operation);
        let (status, text) = self.raw(caller, &body);
        let root = umbox_xml::parse(text.as_bytes(), &umbox_xml::Limits::DEFAULT).unwrap();
        let body = root
            .children()
            .find(|c| c.is(ns::SOAP_ENVELOPE, "Body"))
            .unwrap()
            .clone();
        (status, body)
    }

    /// [`Kit::call_as`] as alice, Exchange2016, without impersonation; expects HTTP 200.
    pub(crate) fn call(&self, operation: &str) -> Element {
        let (status, body) = self.call_as("alice@example.test", "Exchange2016", None, operation);
        assert_eq!(status, 200, "{}", describe(&body));
        body
    }

    /// A distinguished folder of `address`'s mailbox.
    pub(crate) fn folder(&self, address: &str, which: DistinguishedFolder) -> FolderId {
        self.store()
            .distinguished_folder(&MailboxId::new(address), which)
            .unwrap()
    }

    /// Creates an item through the store's one write path; `named` are (set, id, value).
    pub(crate) fn create_item(
        &self,
        address: &str,
        folder: DistinguishedFolder,
        mut props: Vec<(PropKey, PropValue)>,
        named: &[(umbox_store::props::Guid, u32, PropValue)],
    ) -> ItemId {
        for (set, id, value) in named {
            let key = NamedProperty::new(*set, umbox_store::props::PropName::Id(*id));
            props.push((PropKey::Named(key, value.prop_type()), value.clone()));
        }
        let change = Change::CreateItem {
            folder: self.folder(address, folder),
            props,
            attachments: Vec::new(),
        };
        match self
            .store()
            .apply(&MailboxId::new(address), change, now())
            .unwrap()
            .outcome
        {
            Outcome::Item { item, .. } => item,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
}

/// A SOAP 1.1 request envelope around `operation`.
pub(crate) fn envelope(version: &str, extra_headers: &str, operation: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{}" xmlns:m="{}" xmlns:t="{}"><s:Header><t:RequestServerVersion Version="{version}"/>{extra_headers}</s:Header><s:Body>{operation}</s:Body></s:Envelope>"#,
        ns::SOAP_ENVELOPE,
        ns::EWS_MESSAGES,
        ns::EWS_TYPES
    )
}

/// The descendants of `element` along `path` (local names), depth first.
pub(crate) fn all<'e>(element: &'e Element, path: &[&str]) -> Vec<&'e Element> {
    let Some((first, rest)) = path.split_first() else {
        return vec![element];
    };
    element
        .children()
        .filter(|c| c.name() == *first)
        .flat_map(|c| all(c, rest))
        .collect()
}

/// The first descendant along `path`.
pub(crate) fn one<'e>(element: &'e Element, path: &[&str]) -> &'e Element {
    all(element, path)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {path:?} in {}", describe(element)))
}

/// The text of the first descendant along `path`.
pub(crate) fn text<'e>(element: &'e Element, path: &[&str]) -> &'e str {
    one(element, path).trimmed_text()
}

/// A readable outline of an element tree, for assertion messages.
pub(crate) fn describe(element: &Element) -> String {
    let children: Vec<String> = element.children().map(describe).collect();
    format!(
        "{}[{}]{{{}}}",
        element.name(),
        element.trimmed_text(),
        children.join(",")
    )
}
