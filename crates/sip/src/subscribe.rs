//! SIP-specific event notification (RFC 6665) on the call router: SUBSCRIBE creates a
//! subscription dialog (200 with Expires, To-tag and Contact), refreshes and `Expires: 0` work
//! inside it, and NOTIFY requests go out as client transactions over the dialog's flow with
//! `Subscription-State` and a rising CSeq; 489 for packages not served, 423 below the minimum
//! expiry and a clamped maximum; digest authentication (RFC 7616, RFC 8760) for sources that
//! are not trusted gateways; and unsolicited NOTIFYs out of any dialog for gateways.
//!
//! The business side is asked through `policy::EventServer` and kept informed with
//! [`SubscriptionEvent`]s (which resources are watched, what to store so subscriptions survive
//! a restart); it publishes each resource's state with [`SubscriptionHandle::publish`], and
//! every subscriber of that resource is notified (one NOTIFY in flight per subscription; a
//! change meanwhile is sent when it is answered). Sans-IO like the rest of the core. Never
//! learns what a resource is, never reads the wall clock (the `EventServer` gives it) and never
//! touches a store.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::access::{Rate, RateLimiter};
use super::digest::{NonceState, Nonces};
use super::endpoint::{
    destination, our_via, Flow, Local, Outbound, Outcome, Outgoing, TimerKey, Transactions,
    Transport,
};
use super::policy::{EventServer, SubscribeTarget, Subscriber};
use super::transaction::TimerSlot;
use super::types::{Branch, CallId, IdSource, Method, StatusCode, Tag};
use super::wire::digest::Challenge;
use super::wire::event::{Event, Reason, SubscriptionState};
use super::wire::grammar::{parse_decimal, NameAddr, SipUri, Uri, Via, ViaTransport};
use super::wire::prepass::{self, HeaderName};
use super::wire::{Request, Writer};
use super::Error;

/// Caps and durations of a listener's subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionLimits {
    /// Below this a SUBSCRIBE gets 423 with Min-Expires (RFC 6665 §4.2.1.1).
    pub min_expires: u32,
    /// Granted when a SUBSCRIBE names no Expires (RFC 3842 §4.1: one hour).
    pub default_expires: u32,
    /// Longer requests are granted this long.
    pub max_expires: u32,
    /// Subscriptions held at once; beyond it 503 with Retry-After.
    pub max_total: usize,
    /// Subscriptions to one resource (one user's mailbox); beyond it 503.
    pub max_per_resource: usize,
    /// Largest state body [`SubscriptionHandle::publish`] accepts.
    pub max_body_bytes: usize,
    /// SUBSCRIBE rate of each trusted gateway (over it, dropped).
    pub gateway_rate: Rate,
    /// SUBSCRIBE rate of each other source (over it, dropped): phones refresh rarely.
    pub other_rate: Rate,
    /// How long a digest nonce may be used (RFC 7616 §3.3).
    pub nonce_lifetime: Duration,
    /// Nonces whose counts are remembered at once (replay protection; bounded memory).
    pub max_nonces: usize,
    /// Whether a SHA-256 challenge is offered before the MD5 one (RFC 8760 §2.4); off for
    /// phones that read only the first challenge and know only MD5.
    pub offer_sha256: bool,
}

impl Default for SubscriptionLimits {
    fn default() -> Self {
        SubscriptionLimits {
            min_expires: 60,
            default_expires: 3600,
            max_expires: 3600,
            max_total: 50_000,
            max_per_resource: 16,
            max_body_bytes: 4096,
            gateway_rate: Rate {
                per_second: 2_000,
                burst: 10_000,
            },
            // A phone sends two per subscription or refresh (the challenged one and the
            // answered one); a few lines behind one address may subscribe at once.
            other_rate: Rate {
                per_second: 5,
                burst: 20,
            },
            nonce_lifetime: Duration::from_secs(300),
            max_nonces: 10_000,
            offer_sha256: true,
        }
    }
}

/// What the subscriptions tell the business side, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionEvent {
    /// `resource` has its first subscriber: publish its state (and every change of it).
    Watched {
        /// The resource, as `EventServer::resolve` named it.
        resource: String,
    },
    /// `resource` has no subscriber any more.
    Unwatched {
        /// The resource.
        resource: String,
    },
    /// Store (or replace) this subscription, to hand it back with
    /// [`SubscriptionHandle::restore`] after a restart.
    Saved {
        /// The subscription (our dialog tag).
        id: String,
        /// Its stored form.
        record: Bytes,
    },
    /// The subscription ended: forget its record.
    Removed {
        /// The subscription.
        id: String,
    },
}

/// Event subscriptions on a router listener: the business side and where its events go.
#[derive(Debug, Clone)]
pub struct EventService {
    /// Who may subscribe to what.
    pub server: Arc<dyn EventServer>,
    /// Where [`SubscriptionEvent`]s go; keep it drained.
    pub events: mpsc::UnboundedSender<SubscriptionEvent>,
    /// Caps and durations.
    pub limits: SubscriptionLimits,
}

/// The business side's handle on a listener's subscriptions.
#[derive(Debug, Clone)]
pub struct SubscriptionHandle {
    pub(crate) shared: Arc<super::transport::Shared>,
}

/// Which subscriptions [`SubscriptionHandle::terminate`] ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held<'a> {
    /// Every subscription to this resource; its state is gone with it, so their last NOTIFYs
    /// carry no body.
    Resource(&'a str),
    /// Every subscription this digest user made (the identity of `policy::Subscriber::User`).
    By(&'a str),
}

/// Where an unsolicited NOTIFY goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsolicited {
    /// The peer's address.
    pub remote: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
    /// The Request-URI and To: whose state this is, in the peer's terms.
    pub target: SipUri,
    /// The event package.
    pub package: &'static str,
    /// The body's media type.
    pub content_type: &'static str,
    /// The state.
    pub body: Bytes,
}

impl SubscriptionHandle {
    /// Sets `resource`'s state and notifies its subscribers; a resource nobody watches is
    /// ignored. A body over the limit is refused.
    pub fn publish(
        &self,
        resource: &str,
        content_type: &'static str,
        body: Bytes,
    ) -> Result<(), Error> {
        self.shared.publish(resource, content_type, body)
    }

    /// Brings back subscriptions stored from [`SubscriptionEvent::Saved`] records; each is told
    /// the current state once its resource is published. Returns how many were restored
    /// (unreadable or expired records are reported as [`SubscriptionEvent::Removed`]).
    pub fn restore(&self, records: Vec<(String, Bytes)>) -> Result<usize, Error> {
        self.shared.restore(records)
    }

    /// Ends the `held` subscriptions with a last NOTIFY saying why
    /// (`Subscription-State: terminated;reason=…`, RFC 6665 §4.2.2), e.g. `noresource` when
    /// the resource no longer exists; their records are reported as
    /// [`SubscriptionEvent::Removed`]. Returns how many ended.
    pub fn terminate(&self, held: Held<'_>, reason: Reason) -> Result<usize, Error> {
        self.shared.terminate(held, reason)
    }

    /// Sends a NOTIFY outside any dialog (RFC 3842 §4: what PBXs that never subscribe expect).
    pub fn notify_unsolicited(&self, notify: Unsolicited) -> Result<(), Error> {
        self.shared.notify_unsolicited(notify)
    }
}

/// How far ahead of the CSeqs used the stored record is kept, so a restart never reuses one.
const CSEQ_BLOCK: u32 = 1000;

#[derive(Debug)]
struct State {
    content_type: &'static str,
    body: Bytes,
}

#[derive(Debug, Default)]
struct Resource {
    state: Option<State>,
    subscribers: HashSet<Tag>,
}

#[derive(Debug)]
struct Subscription {
    resource: String,
    event: Event,
    call_id: CallId,
    /// Our side (the SUBSCRIBE's To, with our tag).
    local: NameAddr,
    /// The subscriber's side (the SUBSCRIBE's From).
    remote: NameAddr,
    remote_target: Uri,
    route_set: Vec<String>,
    remote_cseq: u32,
    local_cseq: u32,
    /// The CSeq the stored record lets a restarted server start from.
    reserved_cseq: u32,
    contact_user: Option<String>,
    /// The digest user who subscribed (`Subscriber::User`); `None` for a gateway.
    subscriber: Option<String>,
    flow: Flow,
    expires_at: Instant,
    slot: Option<TimerSlot>,
    in_flight: bool,
    dirty: bool,
}

/// What the subscription code uses of its listener's core.
pub(crate) struct Io<'a> {
    pub(crate) tx: &'a mut Transactions,
    pub(crate) local: &'a Local,
    pub(crate) ids: &'a dyn IdSource,
    pub(crate) out: &'a dyn Outbound,
    pub(crate) now: Instant,
}

/// Every subscription of a router listener.
pub(crate) struct Subscriptions {
    server: Arc<dyn EventServer>,
    events: mpsc::UnboundedSender<SubscriptionEvent>,
    limits: SubscriptionLimits,
    nonces: Nonces,
    rate: RateLimiter,
    by_tag: HashMap<Tag, Subscription>,
    resources: HashMap<String, Resource>,
}

impl std::fmt::Debug for Subscriptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriptions")
            .field("held", &self.by_tag.len())
            .field("resources", &self.resources.len())
            .finish_non_exhaustive()
    }
}

/// Why a SUBSCRIBE from a user is not authenticated yet.
enum Unauthenticated {
    /// Answer 401 with fresh challenges.
    Challenge { stale: bool },
    /// Answer with this error.
    Refused(Error),
}

impl Subscriptions {
    pub(crate) fn new(
        service: EventService,
        ids: &dyn IdSource,
        max_sources: usize,
        now: Instant,
    ) -> Subscriptions {
        let limits = service.limits;
        Subscriptions {
            server: service.server,
            events: service.events,
            nonces: Nonces::new(ids, limits.nonce_lifetime, limits.max_nonces, now),
            rate: RateLimiter::new(limits.gateway_rate, limits.other_rate, max_sources),
            limits,
            by_tag: HashMap::new(),
            resources: HashMap::new(),
        }
    }

    /// Subscriptions held.
    pub(crate) fn len(&self) -> usize {
        self.by_tag.len()
    }

    fn emit(&self, event: SubscriptionEvent) {
        // The receiver lives as long as the server; a lost event then has no reader.
        let _ = self.events.send(event);
    }

    /// A SUBSCRIBE, new or inside a subscription dialog.
    pub(crate) fn on_subscribe(
        &mut self,
        request: Request,
        flow: Flow,
        trusted: bool,
        io: &mut Io<'_>,
    ) -> Result<Outcome, Error> {
        if !self.rate.allow(flow.remote.ip(), trusted, io.now) {
            return Ok(Outcome::Throttled);
        }
        let served = self.server.packages();
        let event = request
            .event
            .clone()
            .filter(|e| served.contains(&e.package.as_str()))
            .ok_or_else(|| Error::BadEvent {
                package: request
                    .event
                    .as_ref()
                    .map(|e| e.package.clone())
                    .unwrap_or_default(),
                served,
            })?;
        let requested = request.expires.unwrap_or(self.limits.default_expires);
        if requested != 0 && requested < self.limits.min_expires {
            return Err(Error::IntervalTooBrief(self.limits.min_expires));
        }
        let granted = requested.min(self.limits.max_expires);
        let request_uri = request
            .uri
            .as_sip()
            .ok_or_else(|| Error::UriScheme(request.uri.to_string()))?;
        let target = SubscribeTarget {
            request_uri,
            from: &request.from.uri,
            package: &event.package,
        };
        let identity = if trusted {
            None
        } else {
            match self.authenticate(&request, &target, io.now) {
                Ok(identity) => Some(identity),
                Err(Unauthenticated::Refused(error)) => return Err(error),
                Err(Unauthenticated::Challenge { stale }) => {
                    let realm = self.server.realm(&target);
                    return Ok(self.challenge(&request, flow, &realm, stale, io));
                }
            }
        };
        match request.to.tag() {
            Some(tag) => self.refresh(&request, &tag, identity, flow, granted, io),
            None => {
                let subscriber = match &identity {
                    Some(identity) => Subscriber::User(identity),
                    None => Subscriber::Gateway(flow.remote.ip()),
                };
                let resource = self.server.resolve(&subscriber, &target)?;
                self.create(&request, event, resource, identity, flow, granted, io)
            }
        }
    }

    /// RFC 7616 §3.4 with `qop=auth`, for MD5 and SHA-256.
    fn authenticate(
        &mut self,
        request: &Request,
        target: &SubscribeTarget<'_>,
        now: Instant,
    ) -> Result<String, Unauthenticated> {
        let challenge = Unauthenticated::Challenge { stale: false };
        let Some(credentials) = &request.authorization else {
            return Err(challenge);
        };
        if credentials.realm != self.server.realm(target) {
            return Err(challenge);
        }
        let issued = match self.nonces.check(&credentials.nonce, now) {
            NonceState::Fresh { issued } => issued,
            NonceState::Stale => return Err(Unauthenticated::Challenge { stale: true }),
            NonceState::Forged => return Err(challenge),
        };
        let Some(algorithm) = credentials.algorithm else {
            return Err(challenge);
        };
        let refused =
            || Unauthenticated::Refused(Error::BadCredentials(credentials.username.clone()));
        let stored = self
            .server
            .credential(&credentials.username, &credentials.realm, algorithm)
            .ok_or_else(refused)?;
        let expected = credentials
            .expected_response(&stored.ha1, Method::Subscribe.as_str())
            .ok_or_else(refused)?;
        let count = credentials.nonce_count().ok_or_else(refused)?;
        if !same_bytes(expected.as_bytes(), credentials.response.as_bytes()) {
            return Err(refused());
        }
        if !self.nonces.accept(&credentials.nonce, issued, count, now) {
            // A replayed count: a client that really sent it will answer a fresh nonce.
            return Err(Unauthenticated::Challenge { stale: true });
        }
        Ok(stored.identity)
    }

    /// 401 with a SHA-256 challenge, then an MD5 one (RFC 8760 §2.4: most preferred first).
    /// Credentials with either are accepted whatever was offered.
    fn challenge(
        &mut self,
        request: &Request,
        flow: Flow,
        realm: &str,
        stale: bool,
        io: &mut Io<'_>,
    ) -> Outcome {
        let nonce = self.nonces.issue(io.now);
        let key = io.tx.open(request, flow);
        let tag = Tag::generate(io.ids);
        let challenge = |algorithm| Challenge {
            realm,
            nonce: &nonce,
            algorithm,
            stale,
        };
        use super::wire::digest::Algorithm;
        let status = StatusCode::Unauthorized;
        let offer_sha256 = self.limits.offer_sha256;
        io.tx.respond(
            &key,
            status,
            Some(&tag),
            |w| {
                let w = if offer_sha256 {
                    w.header(&HeaderName::WwwAuthenticate, challenge(Algorithm::Sha256))
                } else {
                    w
                };
                w.header(&HeaderName::WwwAuthenticate, challenge(Algorithm::Md5))
            },
            None,
            io.now,
            io.out,
        );
        Outcome::Responded(status)
    }

    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        request: &Request,
        event: Event,
        resource: String,
        subscriber: Option<String>,
        flow: Flow,
        granted: u32,
        io: &mut Io<'_>,
    ) -> Result<Outcome, Error> {
        if self.by_tag.len() >= self.limits.max_total {
            return Err(Error::TooManySubscriptions(self.limits.max_total));
        }
        let watchers = self
            .resources
            .get(&resource)
            .map_or(0, |r| r.subscribers.len());
        if watchers >= self.limits.max_per_resource {
            return Err(Error::TooManySubscriptions(self.limits.max_per_resource));
        }
        // RFC 6665 §4.1.2.1: a SUBSCRIBE carries the subscriber's Contact.
        let remote_target = request
            .contact
            .first()
            .map(|c| c.uri.clone())
            .ok_or(Error::MissingHeader(HeaderName::Contact))?;
        let tag = Tag::generate(io.ids);
        let mut local = request.to.clone();
        local.params.set("tag", Some(tag.to_string()));
        let contact_user = request.uri.as_sip().and_then(|u| u.user.clone());
        let subscription = Subscription {
            resource: resource.clone(),
            event,
            call_id: request.call_id.clone(),
            local,
            remote: request.from.clone(),
            remote_target,
            route_set: request.record_route.clone(),
            remote_cseq: request.cseq.seq,
            local_cseq: 0,
            reserved_cseq: CSEQ_BLOCK,
            contact_user,
            subscriber,
            flow,
            expires_at: io.now + Duration::from_secs(u64::from(granted)),
            slot: None,
            in_flight: false,
            dirty: false,
        };
        self.accept(request, flow, &tag, &subscription, granted, io);
        self.insert(tag, subscription, io);
        Ok(Outcome::Responded(StatusCode::Ok))
    }

    /// 200 OK with Expires and our Contact (RFC 6665 §4.2.1.1).
    fn accept(
        &self,
        request: &Request,
        flow: Flow,
        tag: &Tag,
        subscription: &Subscription,
        granted: u32,
        io: &mut Io<'_>,
    ) {
        let contact = io
            .local
            .contact(subscription.contact_user.clone(), flow.transport);
        let key = io.tx.open(request, flow);
        io.tx.respond(
            &key,
            StatusCode::Ok,
            Some(tag),
            |w| {
                w.header(&HeaderName::Expires, granted)
                    .header(&HeaderName::Contact, format_args!("<{contact}>"))
            },
            None,
            io.now,
            io.out,
        );
    }

    /// Adds a subscription: stored (unless it is a one-time fetch), its resource watched, its
    /// first NOTIFY sent when the resource's state is known, its expiry scheduled.
    fn insert(&mut self, tag: Tag, mut subscription: Subscription, io: &mut Io<'_>) {
        let fetch = subscription.expires_at <= io.now;
        // A fetch (RFC 6665 §4.4.3: Expires 0) ends with its one NOTIFY once the state is
        // published; the timer only bounds the wait for it.
        let deadline = if fetch {
            io.now + io.tx.timers().timeout()
        } else {
            self.save(&tag, &subscription, io.now);
            subscription.expires_at
        };
        let key = TimerKey::Subscription(tag.clone());
        io.tx.schedule(&mut subscription.slot, Some(deadline), key);
        let resource = self
            .resources
            .entry(subscription.resource.clone())
            .or_default();
        let first = resource.subscribers.is_empty();
        resource.subscribers.insert(tag.clone());
        let known = resource.state.is_some();
        if first {
            self.emit(SubscriptionEvent::Watched {
                resource: subscription.resource.clone(),
            });
        }
        self.by_tag.insert(tag.clone(), subscription);
        if known {
            self.notify(&tag, io);
        }
    }

    fn refresh(
        &mut self,
        request: &Request,
        tag: &Tag,
        identity: Option<String>,
        flow: Flow,
        granted: u32,
        io: &mut Io<'_>,
    ) -> Result<Outcome, Error> {
        let subscription = self
            .by_tag
            .get_mut(tag)
            .filter(|s| s.call_id == request.call_id && s.remote.tag() == request.from.tag())
            .ok_or_else(|| Error::NoSuchDialog(request.call_id.clone()))?;
        // The dialog is its subscriber's alone: whoever knows its identifiers must not move its
        // NOTIFYs (the Contact) to themselves.
        if subscription.subscriber != identity {
            return Err(Error::NotPermitted {
                who: identity.unwrap_or_else(|| flow.remote.ip().to_string()),
                resource: subscription.resource.clone(),
            });
        }
        // RFC 3261 §12.2.2: requests inside a dialog must count up.
        if request.cseq.seq <= subscription.remote_cseq {
            return Err(Error::CSeqOutOfOrder {
                call_id: request.call_id.clone(),
                seq: request.cseq.seq,
                last: subscription.remote_cseq,
            });
        }
        subscription.remote_cseq = request.cseq.seq;
        if let Some(contact) = request.contact.first() {
            subscription.remote_target = contact.uri.clone();
        }
        subscription.flow = flow;
        subscription.expires_at = io.now + Duration::from_secs(u64::from(granted));
        let deadline = Some(subscription.expires_at);
        io.tx.schedule(
            &mut subscription.slot,
            deadline,
            TimerKey::Subscription(tag.clone()),
        );
        if let Some(subscription) = self.by_tag.get(tag) {
            self.accept(request, flow, tag, subscription, granted, io);
            if granted > 0 {
                self.save(tag, subscription, io.now);
            }
        }
        // RFC 6665 §4.2.1.2 and §4.2.1.4: a refresh or an unsubscribe is answered with a
        // NOTIFY of the current state; after an unsubscribe it is the last one.
        self.notify(tag, io);
        Ok(Outcome::Responded(StatusCode::Ok))
    }

    fn save(&self, tag: &Tag, subscription: &Subscription, now: Instant) {
        let record = subscription.record(tag, self.server.now(), now);
        self.emit(SubscriptionEvent::Saved {
            id: tag.to_string(),
            record,
        });
    }

    /// Sends the current state to one subscription (or remembers to, when a NOTIFY is still in
    /// flight); an expired subscription gets its last NOTIFY and is removed.
    fn notify(&mut self, tag: &Tag, io: &mut Io<'_>) {
        let Some(subscription) = self.by_tag.get(tag) else {
            return;
        };
        let ending = (subscription.expires_at <= io.now).then_some(Reason::Timeout);
        self.send(tag, ending, io);
    }

    /// [`Subscriptions::notify`], or with `ending` the subscription's last NOTIFY
    /// (`terminated` with that reason), sent even while another is in flight, after which the
    /// subscription is removed.
    fn send(&mut self, tag: &Tag, ending: Option<Reason>, io: &mut Io<'_>) {
        let Some(subscription) = self.by_tag.get_mut(tag) else {
            return;
        };
        if subscription.in_flight && ending.is_none() {
            subscription.dirty = true;
            return;
        }
        let state = self
            .resources
            .get(&subscription.resource)
            .and_then(|r| r.state.as_ref());
        if state.is_none() && ending.is_none() {
            // The first publish of the resource will reach this subscription.
            return;
        }
        subscription.local_cseq = subscription.local_cseq.saturating_add(1);
        let remaining = subscription.expires_at.saturating_duration_since(io.now);
        let ends = ending.is_some();
        let subscription_state = match ending {
            Some(reason) => SubscriptionState::Terminated { reason },
            None => SubscriptionState::Active {
                expires: u32::try_from(remaining.as_secs()).unwrap_or(u32::MAX),
            },
        };
        let first_route = subscription
            .route_set
            .first()
            .and_then(|route| NameAddr::parse(route).ok())
            .map(|route| route.uri);
        let flow = destination(
            first_route.as_ref().unwrap_or(&subscription.remote_target),
            subscription.flow,
        );
        let branch = Branch::generate(io.ids);
        let contact = io.local.contact(
            subscription.contact_user.clone(),
            subscription.flow.transport,
        );
        let mut writer = Writer::request(&Method::Notify, &subscription.remote_target)
            .header(&HeaderName::Via, our_via(flow.transport, io.local, &branch))
            .header(&HeaderName::MaxForwards, 70)
            .header(&HeaderName::From, &subscription.local)
            .header(&HeaderName::To, &subscription.remote)
            .header(&HeaderName::CallId, &subscription.call_id)
            .header(
                &HeaderName::CSeq,
                format_args!("{} NOTIFY", subscription.local_cseq),
            )
            .header(&HeaderName::Contact, format_args!("<{contact}>"))
            .header(&HeaderName::Event, &subscription.event)
            .header(&HeaderName::SubscriptionState, &subscription_state);
        for route in &subscription.route_set {
            writer = writer.header(&HeaderName::Route, route);
        }
        let bytes = writer.finish(state.map(|s| (s.content_type, s.body.as_ref())));
        subscription.in_flight = true;
        subscription.dirty = false;
        let outgoing = Outgoing {
            branch,
            method: Method::Notify,
            bytes,
            flow,
            call_id: subscription.call_id.clone(),
            done: None,
            subscription: (!ends).then(|| tag.clone()),
        };
        let reserve = subscription.local_cseq >= subscription.reserved_cseq;
        if reserve {
            subscription.reserved_cseq = subscription.local_cseq.saturating_add(CSEQ_BLOCK);
        }
        io.tx.request(outgoing, io.now, io.out);
        if ends {
            self.remove(tag, io.tx);
        } else if reserve {
            if let Some(subscription) = self.by_tag.get(tag) {
                self.save(tag, subscription, io.now);
            }
        }
    }

    /// Drops a subscription without another NOTIFY.
    fn remove(&mut self, tag: &Tag, tx: &mut Transactions) {
        let Some(mut subscription) = self.by_tag.remove(tag) else {
            return;
        };
        tx.schedule(
            &mut subscription.slot,
            None,
            TimerKey::Subscription(tag.clone()),
        );
        self.emit(SubscriptionEvent::Removed {
            id: tag.to_string(),
        });
        let emptied = match self.resources.get_mut(&subscription.resource) {
            Some(resource) => {
                resource.subscribers.remove(tag);
                resource.subscribers.is_empty()
            }
            None => false,
        };
        if emptied {
            self.resources.remove(&subscription.resource);
            self.emit(SubscriptionEvent::Unwatched {
                resource: subscription.resource,
            });
        }
    }

    /// A NOTIFY transaction ended (RFC 6665 §4.2.2: a failure other than a challenge ends the
    /// subscription, a 481 first of all).
    pub(crate) fn on_notify_done(
        &mut self,
        tag: &Tag,
        result: Result<StatusCode, Error>,
        io: &mut Io<'_>,
    ) {
        let Some(subscription) = self.by_tag.get_mut(tag) else {
            return;
        };
        subscription.in_flight = false;
        match result {
            Ok(status) if status.is_success() => {
                if subscription.dirty {
                    self.notify(tag, io);
                }
            }
            Ok(status) => {
                tracing::debug!(status = status.code(), "NOTIFY refused; subscription ended");
                self.remove(tag, io.tx);
            }
            Err(error) => {
                tracing::debug!(%error, "NOTIFY unanswered; subscription ended");
                self.remove(tag, io.tx);
            }
        }
    }

    /// A subscription's expiry came.
    pub(crate) fn on_timer(&mut self, tag: &Tag, io: &mut Io<'_>) {
        let Some(subscription) = self.by_tag.get_mut(tag) else {
            return;
        };
        subscription.slot = None;
        if subscription.expires_at <= io.now {
            self.notify(tag, io);
        } else {
            let deadline = Some(subscription.expires_at);
            io.tx.schedule(
                &mut subscription.slot,
                deadline,
                TimerKey::Subscription(tag.clone()),
            );
        }
    }

    /// The business side's new state of `resource`.
    pub(crate) fn publish(
        &mut self,
        resource: &str,
        content_type: &'static str,
        body: Bytes,
        io: &mut Io<'_>,
    ) -> Result<(), Error> {
        if body.len() > self.limits.max_body_bytes {
            return Err(Error::TooLarge {
                size: body.len(),
                limit: self.limits.max_body_bytes,
            });
        }
        let Some(entry) = self.resources.get_mut(resource) else {
            return Ok(());
        };
        if entry
            .state
            .as_ref()
            .is_some_and(|s| s.content_type == content_type && s.body == body)
        {
            // Every subscriber has this state or is about to get it.
            return Ok(());
        }
        entry.state = Some(State { content_type, body });
        let tags: Vec<Tag> = entry.subscribers.iter().cloned().collect();
        for tag in tags {
            self.notify(&tag, io);
        }
        Ok(())
    }

    /// Ends the `held` subscriptions with a last NOTIFY, `terminated` for `reason`, and
    /// forgets them and their records; returns how many ended.
    pub(crate) fn terminate(&mut self, held: Held<'_>, reason: &Reason, io: &mut Io<'_>) -> usize {
        let tags: Vec<Tag> = match held {
            Held::Resource(resource) => {
                let Some(entry) = self.resources.get_mut(resource) else {
                    return 0;
                };
                entry.state = None;
                entry.subscribers.iter().cloned().collect()
            }
            Held::By(identity) => self
                .by_tag
                .iter()
                .filter(|(_, s)| s.subscriber.as_deref() == Some(identity))
                .map(|(tag, _)| tag.clone())
                .collect(),
        };
        for tag in &tags {
            self.send(tag, Some(reason.clone()), io);
        }
        tags.len()
    }

    /// Subscriptions stored before a restart.
    pub(crate) fn restore(&mut self, records: Vec<(String, Bytes)>, io: &mut Io<'_>) -> usize {
        let wall = self.server.now();
        let mut restored = 0;
        for (id, bytes) in records {
            match Subscription::from_record(&bytes, wall, io.now) {
                Some((tag, subscription))
                    if tag.as_str() == id
                        && subscription.expires_at > io.now
                        && self.by_tag.len() < self.limits.max_total
                        && !self.by_tag.contains_key(&tag) =>
                {
                    self.insert(tag, subscription, io);
                    restored += 1;
                }
                _ => self.emit(SubscriptionEvent::Removed { id }),
            }
        }
        restored
    }

    /// A NOTIFY outside any dialog; its answer is not waited for beyond the transaction.
    pub(crate) fn notify_unsolicited(notify: Unsolicited, io: &mut Io<'_>) {
        let flow = Flow {
            transport: notify.transport,
            remote: notify.remote,
            conn: None,
        };
        let branch = Branch::generate(io.ids);
        let host = io.local.host.to_string();
        let call_id = CallId::generate(io.ids, &host);
        let from_tag = Tag::generate(io.ids);
        let ours = io.local.contact(None, notify.transport);
        let event = Event {
            package: notify.package.to_owned(),
            id: None,
        };
        let state = SubscriptionState::Terminated {
            reason: Reason::Timeout,
        };
        let bytes = Writer::request(&Method::Notify, &Uri::Sip(notify.target.clone()))
            .header(&HeaderName::Via, our_via(flow.transport, io.local, &branch))
            .header(&HeaderName::MaxForwards, 70)
            .header(&HeaderName::From, format_args!("<{ours}>;tag={from_tag}"))
            .header(&HeaderName::To, format_args!("<{}>", notify.target))
            .header(&HeaderName::CallId, &call_id)
            .header(&HeaderName::CSeq, "1 NOTIFY")
            .header(&HeaderName::Contact, format_args!("<{ours}>"))
            .header(&HeaderName::Event, &event)
            .header(&HeaderName::SubscriptionState, &state)
            .finish(Some((notify.content_type, &notify.body)));
        let outgoing = Outgoing {
            branch,
            method: Method::Notify,
            bytes,
            flow,
            call_id,
            done: None,
            subscription: None,
        };
        io.tx.request(outgoing, io.now, io.out);
    }
}

/// Compares two byte strings in time that depends only on their lengths.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The stored form's start line; a later format would name another version.
const RECORD_START: &str = "SUBSCRIPTION";

impl Subscription {
    /// The stored form: a SIP-style head written by the one SIP writer (`wire::Writer`), read
    /// back with the pre-pass and the grammar, so every value keeps its SIP syntax.
    fn record(&self, tag: &Tag, wall: SystemTime, now: Instant) -> Bytes {
        let remaining = self.expires_at.saturating_duration_since(now);
        let expires_at = (wall + remaining)
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let transport = match self.flow.transport {
            Transport::Udp => ViaTransport::Udp,
            Transport::Tcp => ViaTransport::Tcp,
        };
        let via = Via {
            transport,
            host: super::wire::grammar::Host::Ip(self.flow.remote.ip()),
            port: Some(self.flow.remote.port()),
            params: Default::default(),
        };
        let field = |name: &str| HeaderName::Other(name.to_owned());
        let mut writer =
            Writer::request(&Method::Other(RECORD_START.to_owned()), &self.remote_target)
                .header(&field("Id"), tag)
                .header(&field("Resource"), &self.resource)
                .header(&HeaderName::Via, via)
                .header(&HeaderName::From, &self.local)
                .header(&HeaderName::To, &self.remote)
                .header(&HeaderName::CallId, &self.call_id)
                .header(&HeaderName::Event, &self.event)
                .header(&field("Local-CSeq"), self.reserved_cseq)
                .header(&field("Remote-CSeq"), self.remote_cseq)
                .header(&field("Expires-At"), expires_at);
        if let Some(user) = &self.contact_user {
            writer = writer.header(&field("Contact-User"), user);
        }
        if let Some(subscriber) = &self.subscriber {
            writer = writer.header(&field("Subscriber"), subscriber);
        }
        for route in &self.route_set {
            writer = writer.header(&HeaderName::Route, route);
        }
        writer.finish(None)
    }

    /// Reads a stored form back; `None` when anything is missing or malformed.
    fn from_record(bytes: &[u8], wall: SystemTime, now: Instant) -> Option<(Tag, Subscription)> {
        let lexed = prepass::lex(bytes, 64).ok()?;
        let mut start = lexed.start_line.split(' ');
        if start.next()? != RECORD_START {
            return None;
        }
        let remote_target = Uri::parse(start.next()?).ok()?;
        let value = |name: &HeaderName| {
            lexed
                .fields
                .iter()
                .find(|f| &f.name == name)
                .map(|f| f.value.as_ref())
        };
        let other = |name: &str| value(&HeaderName::Other(name.to_owned()));
        let number = |name: &str| other(name).and_then(|v| parse_decimal(v, u64::MAX));
        let tag = Tag::parse(other("Id")?)?;
        let via = Via::parse(value(&HeaderName::Via)?).ok()?;
        let super::wire::grammar::Host::Ip(ip) = via.host else {
            return None;
        };
        let transport = match via.transport {
            ViaTransport::Udp => Transport::Udp,
            ViaTransport::Tcp => Transport::Tcp,
            _ => return None,
        };
        let expires_at = UNIX_EPOCH + Duration::from_secs(number("Expires-At")?);
        let remaining = expires_at.duration_since(wall).unwrap_or(Duration::ZERO);
        let reserved = u32::try_from(number("Local-CSeq")?).ok()?;
        let subscription = Subscription {
            resource: other("Resource")?.to_owned(),
            event: Event::parse(value(&HeaderName::Event)?).ok()?,
            call_id: CallId::parse(value(&HeaderName::CallId)?)?,
            local: NameAddr::parse(value(&HeaderName::From)?).ok()?,
            remote: NameAddr::parse(value(&HeaderName::To)?).ok()?,
            remote_target,
            route_set: lexed
                .fields
                .iter()
                .filter(|f| f.name == HeaderName::Route)
                .map(|f| f.value.to_string())
                .collect(),
            remote_cseq: u32::try_from(number("Remote-CSeq")?).ok()?,
            // Every CSeq used before the restart was below the stored reservation.
            local_cseq: reserved,
            reserved_cseq: reserved,
            contact_user: other("Contact-User").map(str::to_owned),
            subscriber: other("Subscriber").map(str::to_owned),
            flow: Flow {
                transport,
                remote: SocketAddr::new(ip, via.port?),
                conn: None,
            },
            expires_at: now + remaining,
            slot: None,
            in_flight: false,
            dirty: false,
        };
        Some((tag, subscription))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back() {
        let now = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let local = NameAddr::parse("<sip:1001@127.0.0.1>;tag=ours").unwrap();
        let subscription = Subscription {
            resource: "alice@example.test".to_owned(),
            event: Event::parse("message-summary;id=3").unwrap(),
            call_id: CallId::parse("abc@h").unwrap(),
            local,
            remote: NameAddr::parse("\"GW\" <sip:gw@127.0.0.1:5070>;tag=theirs").unwrap(),
            remote_target: Uri::parse("sip:gw@127.0.0.1:5070;transport=tcp").unwrap(),
            route_set: vec!["<sip:proxy.test;lr>".to_owned()],
            remote_cseq: 7,
            local_cseq: 12,
            reserved_cseq: 1000,
            contact_user: Some("1001".to_owned()),
            subscriber: Some("alice@example.test".to_owned()),
            flow: Flow {
                transport: Transport::Tcp,
                remote: "127.0.0.1:5070".parse().unwrap(),
                conn: None,
            },
            expires_at: now + Duration::from_secs(600),
            slot: None,
            in_flight: true,
            dirty: false,
        };
        let tag = Tag::parse("ours").unwrap();
        let record = subscription.record(&tag, wall, now);
        let later = wall + Duration::from_secs(100);
        let (read_tag, read) = Subscription::from_record(&record, later, now).unwrap();
        assert_eq!(read_tag, tag);
        assert_eq!(read.resource, subscription.resource);
        assert_eq!(read.event, subscription.event);
        assert_eq!(read.local, subscription.local);
        assert_eq!(read.remote, subscription.remote);
        assert_eq!(read.remote_target, subscription.remote_target);
        assert_eq!(read.route_set, subscription.route_set);
        assert_eq!(read.flow, subscription.flow);
        assert_eq!(read.subscriber, subscription.subscriber);
        assert_eq!(read.local_cseq, 1000, "restarts above every CSeq used");
        assert_eq!(read.expires_at, now + Duration::from_secs(500));
        assert!(Subscription::from_record(b"junk", later, now).is_none());
    }
}
