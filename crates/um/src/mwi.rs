//! Message waiting (RFC 3842 message-summary over RFC 6665 subscriptions): whose voicemail a
//! SUBSCRIBE to the call router watches, and the NOTIFYs that light a phone's lamp.
//!
//! [`MwiServer`] is the call router's `sip::policy::EventServer`: a Request-URI names a mailbox
//! by extension (in the gateway's dial plan, or any for a phone), by the user's address, or by a
//! number through the dial plan (`um::caller_id`'s order); gateways subscribe for anyone, a
//! phone's user (digest-authenticated against `directory::SipCredential`) only for their own
//! mailbox. [`serve`] keeps one watcher per mailbox that has subscribers or belongs to the dial
//! plan of a gateway marked `mwi`: it follows the mailbox's change log
//! (`MailStore::watch_log`), reads the voicemail search folder's counts (unread = new,
//! read = old) after every commit, whoever made it, and publishes them when they changed, to
//! the subscribers and as unsolicited NOTIFYs to those gateways. Subscriptions are stored in the
//! store's subscription records under [`RECORD_PREFIX`], so a restart tells each live one the
//! current state. Subscriptions to a mailbox whose user left the directory end (`noresource`),
//! at the reload or when restored at start, and so do those a phone made with a SIP credential
//! a reload took away or changed (`deactivated`).
//!
//! Never sees bytes or raw SIP headers (only `sip::policy` and `sip::subscribe` types and the
//! typed `wire::summary` body); never writes a mailbox.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinSet;
use umbox_base::clock::Clock;
use umbox_base::directory::{Directory, User};
use umbox_sip::policy::{Credential, EventServer, SubscribeTarget, Subscriber};
use umbox_sip::subscribe::{Held, SubscriptionEvent, SubscriptionHandle, Unsolicited};
use umbox_sip::wire::digest::Algorithm;
use umbox_sip::wire::event::Reason;
use umbox_sip::wire::grammar::{Host, SipUri};
use umbox_sip::wire::summary::{self, Counts, MessageSummary};
use umbox_sip::Transport;
use umbox_store::{DistinguishedFolder, MailStore, MailboxId};

use crate::caller_id::{self, Presented};

/// The store's subscription records of MWI subscriptions are named `<prefix><dialog tag>`; the
/// colon keeps them apart from EWS notification subscriptions, whose ids are base64.
pub const RECORD_PREFIX: &str = "sip-mwi:";

/// The call router's `EventServer`: message-summary over the directory as of the last reload.
#[derive(Debug, Clone)]
pub struct MwiServer {
    directory: watch::Receiver<Arc<Directory>>,
    clock: Arc<dyn Clock>,
}

impl MwiServer {
    /// Serves subscriptions against `directory`, which follows reloads.
    pub fn new(directory: watch::Receiver<Arc<Directory>>, clock: Arc<dyn Clock>) -> MwiServer {
        MwiServer { directory, clock }
    }
}

const PACKAGES: &[&str] = &[summary::PACKAGE];

impl EventServer for MwiServer {
    fn packages(&self) -> &'static [&'static str] {
        PACKAGES
    }

    fn realm(&self, target: &SubscribeTarget<'_>) -> String {
        let directory = self.directory.borrow().clone();
        let user = mailbox_user(&directory, None, target.request_uri).or_else(|| {
            target
                .from
                .as_sip()
                .and_then(|from| user_by_uri(&directory, from))
        });
        user.map_or_else(
            || match &target.request_uri.host {
                Host::Domain(domain) => domain.clone(),
                Host::Ip(_) => directory
                    .users
                    .first()
                    .map_or_else(String::new, |u| u.domain().to_owned()),
            },
            realm_of,
        )
    }

    fn credential(&self, username: &str, realm: &str, algorithm: Algorithm) -> Option<Credential> {
        let directory = self.directory.borrow().clone();
        let user = directory.users.iter().find(|u| {
            u.sip_credential
                .as_ref()
                .is_some_and(|c| c.realm == realm && c.username == username)
        })?;
        let credential = user.sip_credential.as_ref()?;
        let ha1 = match algorithm {
            Algorithm::Md5 => &credential.ha1_md5,
            Algorithm::Sha256 => &credential.ha1_sha256,
        };
        Some(Credential {
            identity: user.address.clone(),
            ha1: ha1.clone(),
        })
    }

    fn resolve(
        &self,
        subscriber: &Subscriber<'_>,
        target: &SubscribeTarget<'_>,
    ) -> Result<String, umbox_sip::Error> {
        let directory = self.directory.borrow().clone();
        let unknown = || {
            umbox_sip::Error::UnknownResource(target.request_uri.user_number().unwrap_or_default())
        };
        match subscriber {
            Subscriber::Gateway(source) => {
                let gateway = directory
                    .gateway_by_address(*source)
                    .ok_or(umbox_sip::Error::Forbidden(*source))?;
                let user = mailbox_user(&directory, Some(&gateway.dial_plan), target.request_uri)
                    .ok_or_else(unknown)?;
                Ok(MailboxId::new(&user.address).as_str().to_owned())
            }
            Subscriber::User(identity) => {
                let user =
                    mailbox_user(&directory, None, target.request_uri).ok_or_else(unknown)?;
                if !user.has_address(identity) {
                    return Err(umbox_sip::Error::NotPermitted {
                        who: (*identity).to_owned(),
                        resource: target.request_uri.to_string(),
                    });
                }
                Ok(MailboxId::new(&user.address).as_str().to_owned())
            }
        }
    }

    fn now(&self) -> SystemTime {
        self.clock.now()
    }
}

/// The realm a user's phone authenticates in: the one its credential was made for, else the
/// user's mail domain.
fn realm_of(user: &User) -> String {
    user.sip_credential
        .as_ref()
        .map_or_else(|| user.domain().to_owned(), |c| c.realm.clone())
}

/// A user whose address or SIP URI is `uri`'s `user@host`.
fn user_by_uri<'d>(directory: &'d Directory, uri: &SipUri) -> Option<&'d User> {
    let user = uri.user_unescaped()?;
    let Host::Domain(domain) = &uri.host else {
        return None;
    };
    let address = format!("{user}@{domain}");
    directory.user_by_address(&address).or_else(|| {
        directory.users.iter().find(|u| {
            u.sip_uri.as_deref().is_some_and(|s| {
                s.strip_prefix("sip:")
                    .or_else(|| s.strip_prefix("sips:"))
                    .is_some_and(|a| a.eq_ignore_ascii_case(&address))
            })
        })
    })
}

/// The user whose mailbox a Request-URI names: an extension of `dial_plan` (of any dial plan
/// when `None`), the user's address or SIP URI, or a number the dial plan resolves to a user
/// (`um::caller_id`'s order).
fn mailbox_user<'d>(
    directory: &'d Directory,
    dial_plan: Option<&str>,
    uri: &SipUri,
) -> Option<&'d User> {
    if let Some(user) = user_by_uri(directory, uri) {
        return Some(user);
    }
    let number = uri.user_number()?;
    let plans: Vec<&str> = match dial_plan {
        Some(plan) => vec![plan],
        None => directory
            .dial_plans
            .iter()
            .map(|p| p.name.as_str())
            .collect(),
    };
    plans.iter().find_map(|plan| {
        directory.user_by_extension(plan, &number).or_else(|| {
            let caller = caller_id::resolve(
                directory,
                plan,
                &Presented::Number(number.clone()),
                Default::default(),
            );
            caller
                .address
                .and_then(|address| directory.user_by_address(&address))
        })
    })
}

/// What [`serve`] works with.
#[derive(Clone)]
pub struct Services {
    /// The directory as of the last reload.
    pub directory: watch::Receiver<Arc<Directory>>,
    /// The mailboxes.
    pub store: Arc<dyn MailStore>,
    /// The call router's subscriptions.
    pub subscriptions: SubscriptionHandle,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

/// The voicemail search folder's counts: unread items are new, read ones old (RFC 3842 §5.2).
pub fn voicemail_counts(
    store: &dyn MailStore,
    mailbox: &MailboxId,
) -> Result<Counts, umbox_store::Error> {
    let folder = store.distinguished_folder(mailbox, DistinguishedFolder::Voicemail)?;
    let folder = store.folder(mailbox, folder)?;
    Ok(Counts {
        new: folder.unread_count,
        old: folder.total_count.saturating_sub(folder.unread_count),
        ..Counts::default()
    })
}

/// The summary of `user`'s mailbox: `Message-Account` is `sip:<extension>@<domain>`, or the
/// address when the user has no extension.
pub fn summary_of(user: &User, counts: Counts) -> MessageSummary {
    let account = match user.extensions.first() {
        Some(extension) => format!("sip:{}@{}", extension.number, user.domain()),
        None => format!("sip:{}", user.address),
    };
    MessageSummary {
        waiting: counts.new > 0,
        account: Some(account),
        voice: Some(counts),
    }
}

/// The mailboxes of every dial plan a gateway marked `mwi` serves.
fn gateway_mailboxes(directory: &Directory) -> HashSet<MailboxId> {
    let plans: HashSet<&str> = directory
        .gateways
        .iter()
        .filter(|g| g.mwi)
        .map(|g| g.dial_plan.as_str())
        .collect();
    directory
        .users
        .iter()
        .filter(|u| {
            u.extensions
                .iter()
                .any(|e| plans.contains(e.dial_plan.as_str()))
        })
        .map(|u| MailboxId::new(&u.address))
        .collect()
}

/// Where `user`'s unsolicited NOTIFYs go: every `mwi` gateway of a dial plan the user has an
/// extension in, addressed by that extension.
fn unsolicited_targets(directory: &Directory, user: &User) -> Vec<(SocketAddr, SipUri)> {
    directory
        .gateways
        .iter()
        .filter(|g| g.mwi)
        .filter_map(|gateway| {
            let extension = user
                .extensions
                .iter()
                .find(|e| e.dial_plan == gateway.dial_plan)?;
            let remote = SocketAddr::new(gateway.address, gateway.sip_port);
            let target = SipUri::new(
                Some(extension.number.clone()),
                Host::Ip(gateway.address),
                Some(gateway.sip_port),
            );
            Some((remote, target))
        })
        .collect()
}

/// One mailbox's watcher: asked to publish at once by `force`, stopped by dropping it.
struct Watcher {
    force: Arc<Notify>,
    task: tokio::task::AbortHandle,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The message-waiting background work, until the event channel closes: restores stored
/// subscriptions, keeps one watcher per watched mailbox, and stores subscription records.
pub async fn serve(services: Services, mut events: mpsc::UnboundedReceiver<SubscriptionEvent>) {
    let mut tasks = JoinSet::new();
    let (records, to_store) = mpsc::unbounded_channel();
    tasks.spawn(keep_records(services.store.clone(), to_store));
    restore(&services).await;
    let mut directory = services.directory.clone();
    let mut subscribed: HashSet<MailboxId> = HashSet::new();
    let mut known = directory.borrow_and_update().clone();
    let mut gateways = gateway_mailboxes(&known);
    let mut watchers: HashMap<MailboxId, Watcher> = HashMap::new();
    reconcile(&services, &mut tasks, &mut watchers, &subscribed, &gateways);
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                match event {
                    SubscriptionEvent::Watched { resource } => {
                        let mailbox = MailboxId::new(&resource);
                        // A subscription restored after a restart, or made just before its
                        // user was removed, names a mailbox no user owns any more.
                        if !has_user(&directory.borrow(), &mailbox) {
                            let held = Held::Resource(mailbox.as_str());
                            terminate(&services, held, Reason::NoResource);
                            continue;
                        }
                        subscribed.insert(mailbox.clone());
                        // A watcher already running (for a gateway) publishes its unchanged
                        // counts now, for the resource's first subscriber; a new one publishes
                        // as it starts.
                        if start_watcher(&services, &mut tasks, &mut watchers, &mailbox) {
                            if let Some(watcher) = watchers.get(&mailbox) {
                                watcher.force.notify_one();
                            }
                        }
                    }
                    SubscriptionEvent::Unwatched { resource } => {
                        let mailbox = MailboxId::new(&resource);
                        subscribed.remove(&mailbox);
                        if !gateways.contains(&mailbox) {
                            watchers.remove(&mailbox);
                        }
                    }
                    saved @ SubscriptionEvent::Saved { .. } => {
                        let _ = records.send(saved);
                    }
                    removed @ SubscriptionEvent::Removed { .. } => {
                        let _ = records.send(removed);
                    }
                }
            }
            changed = directory.changed() => {
                if changed.is_err() {
                    break;
                }
                let current = directory.borrow_and_update().clone();
                subscribed.retain(|mailbox| {
                    let kept = has_user(&current, mailbox);
                    if !kept {
                        let held = Held::Resource(mailbox.as_str());
                        terminate(&services, held, Reason::NoResource);
                    }
                    kept
                });
                for identity in revoked(&known, &current) {
                    terminate(&services, Held::By(identity), Reason::Deactivated);
                }
                gateways = gateway_mailboxes(&current);
                known = current;
                reconcile(&services, &mut tasks, &mut watchers, &subscribed, &gateways);
            }
        }
        while tasks.try_join_next().is_some() {}
    }
}

/// Whether a user of `directory` owns `mailbox`.
fn has_user(directory: &Directory, mailbox: &MailboxId) -> bool {
    directory.user_by_address(mailbox.as_str()).is_some()
}

/// The digest identities (`MwiServer::credential`'s) whose credential the reload from `before`
/// to `after` took away or changed.
fn revoked<'d>(before: &'d Directory, after: &Directory) -> Vec<&'d str> {
    before
        .users
        .iter()
        .filter(|user| {
            user.sip_credential.is_some()
                && after
                    .user_by_address(&user.address)
                    .map(|now| &now.sip_credential)
                    != Some(&user.sip_credential)
        })
        .map(|user| user.address.as_str())
        .collect()
}

/// Ends `held` subscriptions with a last NOTIFY, `terminated` for `reason`, and their stored
/// records. RFC 6665 §4.1.3: `noresource` when the mailbox's user left the directory (do not
/// subscribe again), `deactivated` when the credential a phone subscribed with was taken
/// away or changed (subscribe again at once, which authenticates anew).
fn terminate(services: &Services, held: Held<'_>, reason: Reason) {
    match services.subscriptions.terminate(held, reason.clone()) {
        Ok(ended) => tracing::info!(
            ?held,
            reason = reason.as_str(),
            ended,
            "message waiting: subscriptions ended"
        ),
        Err(error) => tracing::warn!(?held, %error, "message waiting: subscriptions not ended"),
    }
}

/// Starts a watcher for each mailbox now watched and stops the others.
fn reconcile(
    services: &Services,
    tasks: &mut JoinSet<()>,
    watchers: &mut HashMap<MailboxId, Watcher>,
    subscribed: &HashSet<MailboxId>,
    gateways: &HashSet<MailboxId>,
) {
    watchers.retain(|mailbox, _| subscribed.contains(mailbox) || gateways.contains(mailbox));
    for mailbox in subscribed.iter().chain(gateways) {
        start_watcher(services, tasks, watchers, mailbox);
    }
}

/// Starts `mailbox`'s watcher unless it runs; whether it was running already.
fn start_watcher(
    services: &Services,
    tasks: &mut JoinSet<()>,
    watchers: &mut HashMap<MailboxId, Watcher>,
    mailbox: &MailboxId,
) -> bool {
    if watchers.contains_key(mailbox) {
        return true;
    }
    let force = Arc::new(Notify::new());
    let task = tasks.spawn(watch_mailbox(
        services.clone(),
        mailbox.clone(),
        force.clone(),
    ));
    watchers.insert(mailbox.clone(), Watcher { force, task });
    false
}

/// Follows one mailbox's change log and publishes its counts when they change (and when
/// `force`d): to the subscribers, and to the `mwi` gateways of its dial plans.
async fn watch_mailbox(services: Services, mailbox: MailboxId, force: Arc<Notify>) {
    let store = services.store.clone();
    let watched = mailbox.clone();
    let log = tokio::task::spawn_blocking(move || store.watch_log(&watched)).await;
    let mut log = match log {
        Ok(Ok(log)) => log,
        Ok(Err(error)) => {
            tracing::warn!(%mailbox, %error, "message waiting: mailbox not watched");
            return;
        }
        Err(error) => {
            tracing::warn!(%mailbox, %error, "message waiting: watch task failed");
            return;
        }
    };
    let mut last: Option<Counts> = None;
    let mut forced = true;
    loop {
        let store = services.store.clone();
        let read = mailbox.clone();
        let counts = match tokio::task::spawn_blocking(move || {
            voicemail_counts(store.as_ref(), &read)
        })
        .await
        {
            Ok(Ok(counts)) => Some(counts),
            Ok(Err(error)) => {
                tracing::warn!(%mailbox, %error, "message waiting: counts unreadable");
                None
            }
            Err(error) => {
                tracing::warn!(%mailbox, %error, "message waiting: count task failed");
                None
            }
        };
        if let Some(counts) = counts {
            let changed = last != Some(counts);
            if changed || forced {
                publish(&services, &mailbox, counts, changed);
            }
            last = Some(counts);
        }
        forced = false;
        tokio::select! {
            moved = log.changed() => {
                if moved.is_err() {
                    return;
                }
            }
            () = force.notified() => forced = true,
        }
    }
}

fn publish(services: &Services, mailbox: &MailboxId, counts: Counts, changed: bool) {
    let directory = services.directory.borrow().clone();
    let Some(user) = directory.user_by_address(mailbox.as_str()) else {
        return;
    };
    tracing::info!(%mailbox, new = counts.new, old = counts.old, "message waiting");
    let body = Bytes::from(summary_of(user, counts).to_bytes());
    if let Err(error) =
        services
            .subscriptions
            .publish(mailbox.as_str(), summary::CONTENT_TYPE, body.clone())
    {
        tracing::warn!(%mailbox, %error, "message waiting: not published");
    }
    if !changed {
        return;
    }
    for (remote, target) in unsolicited_targets(&directory, user) {
        let notify = Unsolicited {
            remote,
            transport: Transport::Udp,
            target,
            package: summary::PACKAGE,
            content_type: summary::CONTENT_TYPE,
            body: body.clone(),
        };
        if let Err(error) = services.subscriptions.notify_unsolicited(notify) {
            tracing::warn!(%mailbox, %error, "message waiting: unsolicited NOTIFY not sent");
        }
    }
}

/// Hands the stored subscriptions back to the router at start.
async fn restore(services: &Services) {
    let store = services.store.clone();
    let loaded = tokio::task::spawn_blocking(move || store.subscriptions()).await;
    let records: Vec<(String, Bytes)> = match loaded {
        Ok(Ok(all)) => all
            .into_iter()
            .filter_map(|(key, bytes)| {
                key.strip_prefix(RECORD_PREFIX)
                    .map(|id| (id.to_owned(), Bytes::from(bytes)))
            })
            .collect(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "message waiting: stored subscriptions unreadable");
            return;
        }
        Err(error) => {
            tracing::warn!(%error, "message waiting: restore task failed");
            return;
        }
    };
    match services.subscriptions.restore(records) {
        Ok(count) => tracing::info!(count, "message waiting: subscriptions restored"),
        Err(error) => tracing::warn!(%error, "message waiting: subscriptions not restored"),
    }
}

/// Stores and removes subscription records one at a time, in the order they came.
async fn keep_records(
    store: Arc<dyn MailStore>,
    mut records: mpsc::UnboundedReceiver<SubscriptionEvent>,
) {
    while let Some(event) = records.recv().await {
        let removal = matches!(event, SubscriptionEvent::Removed { .. });
        let store = store.clone();
        let done = tokio::task::spawn_blocking(move || match event {
            SubscriptionEvent::Saved { id, record } => {
                store.save_subscription(&format!("{RECORD_PREFIX}{id}"), &record)
            }
            SubscriptionEvent::Removed { id } => {
                store.remove_subscription(&format!("{RECORD_PREFIX}{id}"))
            }
            SubscriptionEvent::Watched { .. } | SubscriptionEvent::Unwatched { .. } => Ok(()),
        })
        .await;
        match done {
            Ok(Ok(())) if removal => {
                tracing::debug!("message waiting: subscription record removed")
            }
            Ok(Ok(())) => tracing::debug!("message waiting: subscription record kept"),
            Ok(Err(error)) => {
                tracing::warn!(%error, "message waiting: subscription record not kept")
            }
            Err(error) => tracing::warn!(%error, "message waiting: record task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use umbox_base::clock::FixedClock;
    use umbox_base::directory::SipCredential;
    use umbox_sip::wire::grammar::Uri;

    fn server() -> (MwiServer, watch::Sender<Arc<Directory>>) {
        let mut directory = Directory::demo().unwrap();
        let realm = "example.test";
        directory.users[0].sip_credential = Some(Box::new(SipCredential {
            username: "alice".to_owned(),
            realm: realm.to_owned(),
            ha1_md5: Algorithm::Md5.ha1("alice", realm, "phone-secret"),
            ha1_sha256: Algorithm::Sha256.ha1("alice", realm, "phone-secret"),
        }));
        directory.validate().unwrap();
        let (sender, receiver) = watch::channel(Arc::new(directory));
        let clock = Arc::new(FixedClock(std::time::UNIX_EPOCH));
        (MwiServer::new(receiver, clock), sender)
    }

    fn sip(text: &str) -> SipUri {
        Uri::parse(text).unwrap().as_sip().unwrap().clone()
    }

    fn resolve(server: &MwiServer, who: Subscriber<'_>, uri: &str) -> Result<String, u16> {
        let request_uri = sip(uri);
        let from = Uri::parse("sip:phone@example.test").unwrap();
        let target = SubscribeTarget {
            request_uri: &request_uri,
            from: &from,
            package: summary::PACKAGE,
        };
        server
            .resolve(&who, &target)
            .map_err(|e| e.status().unwrap().code())
    }

    #[test]
    fn request_uris_name_mailboxes() {
        let (server, _keep) = server();
        let gateway = Subscriber::Gateway([127, 0, 0, 1].into());
        for uri in [
            "sip:1001@127.0.0.1",
            "sip:alice@example.test",
            "sip:+14255550101@127.0.0.1;user=phone",
        ] {
            assert_eq!(
                resolve(&server, gateway, uri).as_deref(),
                Ok("alice@example.test"),
                "{uri}"
            );
        }
        assert_eq!(resolve(&server, gateway, "sip:1077@127.0.0.1"), Err(404));
        let stranger = Subscriber::Gateway([192, 0, 2, 1].into());
        assert_eq!(resolve(&server, stranger, "sip:1001@127.0.0.1"), Err(403));
        let alice = Subscriber::User("alice@example.test");
        assert_eq!(
            resolve(&server, alice, "sip:1001@127.0.0.1").as_deref(),
            Ok("alice@example.test")
        );
        assert_eq!(resolve(&server, alice, "sip:1002@127.0.0.1"), Err(403));
    }

    #[test]
    fn credentials_by_username_and_realm() {
        let (server, _keep) = server();
        let found = server
            .credential("alice", "example.test", Algorithm::Sha256)
            .unwrap();
        assert_eq!(found.identity, "alice@example.test");
        assert_eq!(
            found.ha1,
            Algorithm::Sha256.ha1("alice", "example.test", "phone-secret")
        );
        for (username, realm) in [
            ("alice", "elsewhere"),
            ("Alice", "example.test"),
            ("alice@example.test", "example.test"),
            ("bob", "example.test"),
        ] {
            assert!(
                server.credential(username, realm, Algorithm::Md5).is_none(),
                "{username} in {realm}"
            );
        }
        let uri = sip("sip:1001@127.0.0.1");
        let from = Uri::parse("sip:alice@example.test").unwrap();
        let target = SubscribeTarget {
            request_uri: &uri,
            from: &from,
            package: summary::PACKAGE,
        };
        assert_eq!(server.realm(&target), "example.test");
    }

    #[test]
    fn summaries_name_the_extension() {
        let directory = Directory::demo().unwrap();
        let counts = Counts {
            new: 1,
            ..Counts::default()
        };
        let summary = summary_of(&directory.users[0], counts);
        assert_eq!(
            summary.to_bytes(),
            b"Messages-Waiting: yes\r\nMessage-Account: sip:1001@example.test\r\nVoice-Message: 1/0 (0/0)\r\n"
        );
    }
}
