//! The per-listener core: matches requests and responses to transactions, checks what a request
//! asks for (Max-Forwards, Require, method, body type, call limit), answers OPTIONS and CANCEL,
//! and hands the rest to the transaction user: the call router (a `policy::InviteRouter`, for
//! the 5060 listener) or the dialogs (`sip::dialog`, for the media listener).
//!
//! Sans-IO: typed messages and the time in; bytes go out through [`Outbound`], which never
//! blocks, so the core runs under one short lock and keeps message order. Never reads sockets
//! (`sip::transport` does), never parses bytes (`sip-proto::wire` does) and never decides where
//! a call goes (the `InviteRouter` does).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::dialog::{Context, DialogEvent, Dialogs, InviteDecision, Pending, PendingKey};
use super::policy::{InviteRouter, InviteTarget, Route};
use super::subscribe::{Held, Io, Subscriptions, Unsolicited};
use super::transaction::{
    ClientState, ClientTransaction, Ending, Kind, ServerState, ServerTransaction, TimerQueue,
    TimerSlot, Timers,
};
use super::types::{Branch, CallId, IdSource, Method, StatusCode, Tag};
use super::wire::event::Reason;
use super::wire::grammar::{Host, Params, SipUri, Uri, Via, ViaTransport};
use super::wire::prepass::HeaderName;
use super::wire::{self, Echo, Request, Response, Writer};
use super::Error;

/// The transport a message travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP: unreliable, so transactions retransmit.
    Udp,
    /// TCP: reliable, so retransmission timers are off.
    Tcp,
}

impl Transport {
    /// As in a Via sent-protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// Identifies one TCP connection of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(pub u64);

/// Where a message came from or goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    /// UDP or TCP.
    pub transport: Transport,
    /// The peer's address.
    pub remote: SocketAddr,
    /// The TCP connection, when the message uses one that is open.
    pub conn: Option<ConnId>,
}

impl Flow {
    fn reliable(&self) -> bool {
        self.transport == Transport::Tcp
    }
}

/// Where the core's output goes; every method returns at once.
pub trait Outbound: Send + Sync {
    /// Sends one message (a full datagram or stream frame).
    fn send(&self, flow: &Flow, bytes: Bytes);
    /// Hands an event to the UM side, in order.
    fn event(&self, event: DialogEvent);
    /// Waits for a decision the UM owes us, then calls back [`Core::on_decision`].
    fn await_decision(&self, pending: Pending);
}

/// What happened to one inbound message, for the funnel's summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A final or provisional response was sent.
    Responded(StatusCode),
    /// The UM side was asked to decide; the answer follows later.
    Pending,
    /// A retransmitted request got the last response again.
    Retransmission,
    /// An ACK (or retransmitted request) was absorbed.
    Absorbed,
    /// A response to one of our requests was taken by its transaction.
    Delivered,
    /// Nothing matched; dropped.
    Stray,
    /// Over the source's SUBSCRIBE rate; dropped.
    Throttled,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Responded(status) => write!(f, "responded {}", status.code()),
            Outcome::Pending => f.write_str("pending"),
            Outcome::Retransmission => f.write_str("retransmission"),
            Outcome::Absorbed => f.write_str("absorbed"),
            Outcome::Delivered => f.write_str("delivered"),
            Outcome::Stray => f.write_str("stray"),
            Outcome::Throttled => f.write_str("throttled"),
        }
    }
}

/// Our own address as written in Via and Contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    /// Host (the bound or advertised address).
    pub host: Host,
    /// Port.
    pub port: u16,
}

impl Local {
    /// A Contact URI for `user` at this listener.
    pub fn contact(&self, user: Option<String>, transport: Transport) -> SipUri {
        let mut uri = SipUri::new(user, self.host.clone(), Some(self.port));
        if transport == Transport::Tcp {
            uri.params.set("transport", Some("tcp".to_owned()));
        }
        uri
    }
}

/// Limits the core enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreLimits {
    /// Media server: calls before new INVITEs get 503 (the router keeps no calls).
    pub max_calls: usize,
    /// Server transactions alive before new requests get 503.
    pub max_transactions: usize,
    /// Retry-After seconds sent with 503.
    pub retry_after: u32,
    /// How long the UM side may take to accept or reject a call.
    pub answer_timeout: Duration,
}

/// The transaction user of a listener.
#[derive(Debug)]
pub enum Tu {
    /// The call router: answers INVITEs to pilot numbers with 302 or 404 and keeps no call
    /// state; with `events`, it also serves event subscriptions (`sip::subscribe`).
    Router {
        /// Decides each INVITE's redirect.
        router: Arc<dyn InviteRouter>,
        /// The subscriptions, when the listener serves them.
        events: Option<Box<Subscriptions>>,
    },
    /// The media server's dialogs.
    Media(Dialogs),
}

/// RFC 3261 §17.2.3 server transaction identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerKey {
    id: KeyId,
    /// ACK is keyed as INVITE, so it finds the INVITE's transaction.
    method: Method,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeyId {
    /// RFC 3261 peers: the branch and sent-by name the transaction.
    Branch { branch: Branch, sent_by: String },
    /// RFC 2543 peers (no magic cookie): Call-ID, CSeq number, From tag and top Via.
    Legacy {
        call_id: CallId,
        seq: u32,
        from_tag: Option<Tag>,
        sent_by: String,
    },
}

impl ServerKey {
    /// The key of `request`'s transaction, with ACK mapped to INVITE.
    pub fn of(request: &Request) -> ServerKey {
        let method = match request.method {
            Method::Ack => Method::Invite,
            ref other => other.clone(),
        };
        ServerKey::with_method(request, method)
    }

    fn with_method(request: &Request, method: Method) -> ServerKey {
        let via = request.top_via();
        let id = match via.branch().filter(Branch::is_rfc3261) {
            Some(branch) => KeyId::Branch {
                branch,
                sent_by: via.sent_by(),
            },
            None => KeyId::Legacy {
                call_id: request.call_id.clone(),
                seq: request.cseq.seq,
                from_tag: request.from.tag(),
                sent_by: via.sent_by(),
            },
        };
        ServerKey { id, method }
    }
}

/// Client transaction identity: our branch and the CSeq method (RFC 3261 §17.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    branch: Branch,
    method: Method,
}

/// A request we send, with what its client transaction needs.
#[derive(Debug)]
pub struct Outgoing {
    /// The branch in its top Via.
    pub branch: Branch,
    /// Its method.
    pub method: Method,
    /// The whole request.
    pub bytes: Bytes,
    /// Where it goes.
    pub flow: Flow,
    /// The call it belongs to (for errors).
    pub call_id: CallId,
    /// Learns how the transaction ended: Ok on a final response, Timeout after timer B/F.
    pub done: Option<oneshot::Sender<Result<(), Error>>>,
    /// The subscription a NOTIFY belongs to, told how it ended.
    pub subscription: Option<Tag>,
}

/// A snapshot of a listener's state, for tests and operators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Server transactions alive.
    pub server_transactions: usize,
    /// Client transactions alive.
    pub client_transactions: usize,
    /// Calls counted against the concurrent-call limit.
    pub calls: usize,
    /// Pending timers.
    pub timers: usize,
    /// Open TCP connections.
    pub connections: usize,
    /// Event subscriptions held.
    pub subscriptions: usize,
}

/// What the timer queue holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerKey {
    /// A server transaction.
    Server(ServerKey),
    /// A client transaction.
    Client(ClientKey),
    /// A call of the media server (answer wait, 2xx retransmission, ACK wait).
    Call(CallId),
    /// A subscription's expiry (by our dialog tag).
    Subscription(Tag),
}

struct ServerEntry {
    tx: ServerTransaction,
    flow: Flow,
    echo: Echo,
    slot: Option<TimerSlot>,
    /// The To tag our responses carry, once one did.
    to_tag: Option<Tag>,
}

struct ClientEntry {
    tx: ClientTransaction,
    flow: Flow,
    slot: Option<TimerSlot>,
    call_id: CallId,
    done: Option<oneshot::Sender<Result<(), Error>>>,
    subscription: Option<Tag>,
}

/// The transaction tables and the timer queue of one listener.
pub struct Transactions {
    timers: Timers,
    server: HashMap<ServerKey, ServerEntry>,
    client: HashMap<ClientKey, ClientEntry>,
    /// The timer queue; dialogs schedule their own deadlines here too.
    pub queue: TimerQueue<TimerKey>,
    wake: bool,
    /// NOTIFY transactions that ended, for their subscriptions.
    finished: Vec<(Tag, Result<StatusCode, Error>)>,
}

impl fmt::Debug for Transactions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transactions")
            .field("server", &self.server.len())
            .field("client", &self.client.len())
            .field("timers", &self.queue.len())
            .finish()
    }
}

impl Transactions {
    fn new(timers: Timers) -> Transactions {
        Transactions {
            timers,
            server: HashMap::new(),
            client: HashMap::new(),
            queue: TimerQueue::default(),
            wake: false,
            finished: Vec::new(),
        }
    }

    /// The base timer values.
    pub fn timers(&self) -> Timers {
        self.timers
    }

    /// Schedules `slot` at `deadline`; remembers to wake the timer task when it moved earlier.
    pub fn schedule(
        &mut self,
        slot: &mut Option<TimerSlot>,
        deadline: Option<Instant>,
        key: TimerKey,
    ) {
        let before = self.queue.next();
        self.queue.set(slot, deadline, key);
        if deadline.is_some() && self.queue.next() != before {
            self.wake = true;
        }
    }

    /// Opens a server transaction for `request`.
    pub fn open(&mut self, request: &Request, flow: Flow) -> ServerKey {
        let key = ServerKey::of(request);
        let kind = if request.method == Method::Invite {
            Kind::Invite
        } else {
            Kind::NonInvite
        };
        let tx = ServerTransaction::new(kind, flow.reliable(), self.timers);
        self.server.insert(
            key.clone(),
            ServerEntry {
                tx,
                flow,
                echo: request.echo.clone(),
                slot: None,
                to_tag: None,
            },
        );
        key
    }

    /// Runs `change` on a server transaction and keeps its timer current.
    fn with_server<R>(
        &mut self,
        key: &ServerKey,
        change: impl FnOnce(&mut ServerEntry) -> R,
    ) -> Option<R> {
        let entry = self.server.get_mut(key)?;
        let result = change(entry);
        let terminated = entry.tx.state() == ServerState::Terminated;
        let deadline = entry.tx.deadline();
        let mut slot = entry.slot.take();
        if terminated {
            self.queue
                .set(&mut slot, None, TimerKey::Server(key.clone()));
            self.server.remove(key);
        } else {
            self.schedule(&mut slot, deadline, TimerKey::Server(key.clone()));
            if let Some(entry) = self.server.get_mut(key) {
                entry.slot = slot;
            }
        }
        Some(result)
    }

    /// Sends a response through server transaction `key`; `extra` adds headers after the
    /// copied ones. Returns the bytes when they went out (not after a final response).
    #[allow(clippy::too_many_arguments)]
    pub fn respond(
        &mut self,
        key: &ServerKey,
        status: StatusCode,
        to_tag: Option<&Tag>,
        extra: impl FnOnce(Writer) -> Writer,
        body: Option<(&str, &[u8])>,
        now: Instant,
        out: &dyn Outbound,
    ) -> Option<Bytes> {
        self.with_server(key, |entry| {
            let writer = wire::response(
                &entry.echo,
                status,
                status.reason(),
                to_tag,
                entry.flow.remote,
            );
            let bytes = extra(writer).finish(body);
            if !entry.tx.respond(status, bytes.clone(), now) {
                return None;
            }
            if entry.to_tag.is_none() {
                entry.to_tag = to_tag.cloned();
            }
            out.send(&entry.flow, bytes.clone());
            Some(bytes)
        })
        .flatten()
    }

    /// The To tag server transaction `key` has answered with, if any.
    pub fn to_tag(&self, key: &ServerKey) -> Option<Tag> {
        self.server.get(key).and_then(|e| e.to_tag.clone())
    }

    /// Whether server transaction `key` has sent its final response.
    pub fn is_answered(&self, key: &ServerKey) -> bool {
        self.server.get(key).is_none_or(|e| e.tx.is_answered())
    }

    /// Sends a request through a new client transaction.
    pub fn request(&mut self, outgoing: Outgoing, now: Instant, out: &dyn Outbound) {
        let Outgoing {
            branch,
            method,
            bytes,
            flow,
            call_id,
            done,
            subscription,
        } = outgoing;
        let kind = if method == Method::Invite {
            Kind::Invite
        } else {
            Kind::NonInvite
        };
        let tx = ClientTransaction::new(kind, bytes.clone(), flow.reliable(), self.timers, now);
        let key = ClientKey { branch, method };
        let mut slot = None;
        self.schedule(&mut slot, tx.deadline(), TimerKey::Client(key.clone()));
        out.send(&flow, bytes);
        self.client.insert(
            key,
            ClientEntry {
                tx,
                flow,
                slot,
                call_id,
                done,
                subscription,
            },
        );
    }

    fn on_response(&mut self, response: &Response, now: Instant, out: &dyn Outbound) -> Outcome {
        let Some(branch) = response.top_via.branch() else {
            return Outcome::Stray;
        };
        let key = ClientKey {
            branch,
            method: response.cseq.method.clone(),
        };
        let Some(entry) = self.client.get_mut(&key) else {
            return Outcome::Stray;
        };
        let request = entry.tx.request().clone();
        let received = entry
            .tx
            .on_response(response.status, now, || ack_for(&request, response));
        if let Some(bytes) = &received.send {
            out.send(&entry.flow, bytes.clone());
        }
        if received.deliver && response.status.is_final() {
            if let Some(done) = entry.done.take() {
                let _ = done.send(Ok(()));
            }
            if let Some(tag) = entry.subscription.take() {
                self.finished.push((tag, Ok(response.status)));
            }
        }
        let deadline = entry.tx.deadline();
        let terminated = entry.tx.state() == ClientState::Terminated;
        let mut slot = entry.slot.take();
        if terminated {
            self.queue
                .set(&mut slot, None, TimerKey::Client(key.clone()));
            self.client.remove(&key);
        } else {
            self.schedule(&mut slot, deadline, TimerKey::Client(key.clone()));
            if let Some(entry) = self.client.get_mut(&key) {
                entry.slot = slot;
            }
        }
        if received.deliver {
            Outcome::Delivered
        } else {
            Outcome::Absorbed
        }
    }

    fn fire_server(&mut self, key: &ServerKey, now: Instant, out: &dyn Outbound) {
        self.with_server(key, |entry| {
            entry.slot = None;
            let fired = entry.tx.on_timer(now);
            if let Some(bytes) = fired.resend {
                out.send(&entry.flow, bytes);
            }
        });
    }

    fn fire_client(&mut self, key: &ClientKey, now: Instant, out: &dyn Outbound) {
        let Some(entry) = self.client.get_mut(key) else {
            return;
        };
        entry.slot = None;
        let fired = entry.tx.on_timer(now);
        if let Some(bytes) = fired.resend {
            out.send(&entry.flow, bytes);
        }
        if let Some(ending) = fired.ended {
            if let Some(mut entry) = self.client.remove(key) {
                if let Some(done) = entry.done.take() {
                    let result = match ending {
                        Ending::Timeout => Err(Error::Timeout(entry.call_id.clone())),
                        Ending::Done | Ending::NoAck => Ok(()),
                    };
                    let _ = done.send(result);
                }
                if let Some(tag) = entry.subscription.take() {
                    self.finished
                        .push((tag, Err(Error::Timeout(entry.call_id.clone()))));
                }
            }
            return;
        }
        let deadline = entry.tx.deadline();
        let mut slot = None;
        self.schedule(&mut slot, deadline, TimerKey::Client(key.clone()));
        if let Some(entry) = self.client.get_mut(key) {
            entry.slot = slot;
        }
    }
}

/// The ACK for a non-2xx final response to one of our INVITEs (RFC 3261 §17.1.1.3): the
/// INVITE's request line, top Via, From, Call-ID and CSeq number, and the response's To.
fn ack_for(invite: &Bytes, response: &Response) -> Bytes {
    let limits = wire::ReadLimits {
        max_fields: 256,
        max_body: usize::MAX,
    };
    let Ok(wire::Message::Request(invite)) = wire::parse(invite, wire::Framing::Stream, limits)
    else {
        return Bytes::new();
    };
    let mut writer = Writer::request(&Method::Ack, &invite.uri)
        .header(&HeaderName::Via, invite.top_via())
        .header(&HeaderName::MaxForwards, 70)
        .header(&HeaderName::From, &invite.from)
        .header(&HeaderName::To, &response.to)
        .header(&HeaderName::CallId, &invite.call_id)
        .header(&HeaderName::CSeq, format_args!("{} ACK", invite.cseq.seq));
    for route in &invite.record_route {
        writer = writer.header(&HeaderName::Route, route);
    }
    writer.finish(None)
}

/// The router: 302 to the media server holding the called mailbox, or 404, answered statelessly
/// (RFC 3261 §8.2.7): nothing is kept, so a retransmitted INVITE is routed again and gets the
/// same bytes (same route, same derived To tag), and its ACK is recognised by that tag alone
/// ([`Core::on_ack`]). Over UDP the caller's INVITE retransmissions stand in for timer G.
fn redirect(
    router: &dyn InviteRouter,
    tags: &StatelessTags,
    request: &Request,
    flow: Flow,
    out: &dyn Outbound,
) -> Result<Outcome, Error> {
    // `wire::parse` lets only sip: and sips: Request-URIs through.
    let request_uri = request
        .uri
        .as_sip()
        .ok_or_else(|| Error::UriScheme(request.uri.to_string()))?;
    let target = InviteTarget {
        request_uri,
        diversion: &request.diversion,
        history_info: &request.history_info,
    };
    let route = router.route(flow.remote.ip(), &target)?;
    let tag = tags.of(&request.echo);
    let (status, contact) = match route {
        Route::Redirect { mut contact } => {
            if flow.transport == Transport::Tcp {
                contact.params.set("transport", Some("tcp".to_owned()));
            }
            (StatusCode::MovedTemporarily, Some(contact))
        }
        Route::NotFound { number } => {
            tracing::debug!(%number, "no pilot number or extension");
            (StatusCode::NotFound, None)
        }
    };
    let mut writer = wire::response(
        &request.echo,
        status,
        status.reason(),
        Some(&tag),
        flow.remote,
    );
    if let Some(contact) = contact {
        writer = writer.header(&HeaderName::Contact, format_args!("<{contact}>"));
    }
    out.send(&flow, writer.finish(None));
    Ok(Outcome::Responded(status))
}

/// The To tags of the answers a listener gives without transaction state (RFC 3261 §8.2.7):
/// a keyed digest of what names the request's transaction (§17.2.3: top Via branch and
/// sent-by, plus Call-ID and CSeq number for RFC 2543 peers), so a retransmission gets the same
/// tag, and so do the ACK and CANCEL of that INVITE, which share all four. The key is drawn
/// once per listener, so a stranger cannot make an ACK we would take for one of ours.
#[derive(Clone)]
pub(crate) struct StatelessTags {
    key: ring::hmac::Key,
}

impl fmt::Debug for StatelessTags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StatelessTags")
    }
}

impl StatelessTags {
    fn new(ids: &dyn IdSource) -> StatelessTags {
        // Two tokens: 160 bits of key from the listener's id source.
        let secret = format!("{}{}", ids.token(), ids.token());
        StatelessTags {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes()),
        }
    }

    /// The To tag of every stateless answer in `echo`'s transaction.
    pub(crate) fn of(&self, echo: &Echo) -> Tag {
        let via = &echo.top_via;
        // The CSeq method differs between an INVITE and its ACK or CANCEL; the number does not.
        let seq = echo.cseq.split_whitespace().next().unwrap_or_default();
        let mut context = ring::hmac::Context::with_key(&self.key);
        for part in [
            via.params.value("branch").unwrap_or_default(),
            via.sent_by().as_str(),
            echo.call_id.as_str(),
            seq,
        ] {
            // Length-prefixed, so no two different requests feed the same bytes.
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part.as_bytes());
        }
        let digest = context.sign();
        // 80 bits, as long as the random tags of stateful answers.
        Tag::from_digest(digest.as_ref().get(..10).unwrap_or_default())
    }
}

/// The methods a listener serves, for Allow (RFC 3261 §20.5).
fn allowed(tu: &Tu) -> &'static str {
    match tu {
        Tu::Router { events: None, .. } => "INVITE, ACK, CANCEL, OPTIONS",
        Tu::Router {
            events: Some(_), ..
        } => "INVITE, ACK, CANCEL, OPTIONS, SUBSCRIBE",
        Tu::Media(_) => "INVITE, ACK, CANCEL, BYE, OPTIONS",
    }
}

fn serves(tu: &Tu, method: &Method) -> bool {
    match method {
        Method::Invite | Method::Ack | Method::Cancel | Method::Options => true,
        Method::Bye => matches!(tu, Tu::Media(_)),
        Method::Subscribe => matches!(
            tu,
            Tu::Router {
                events: Some(_),
                ..
            }
        ),
        _ => false,
    }
}

/// Our Via for a request we send on `transport`, with a fresh `branch` and `rport` (RFC 3581).
pub(crate) fn our_via(transport: Transport, local: &Local, branch: &Branch) -> Via {
    let mut params = Params::new();
    params.set("branch", Some(branch.to_string()));
    params.set("rport", None);
    Via {
        transport: match transport {
            Transport::Udp => ViaTransport::Udp,
            Transport::Tcp => ViaTransport::Tcp,
        },
        host: local.host.clone(),
        port: Some(local.port),
        params,
    }
}

/// Builds the response for `error`, with the headers its status calls for: the one place
/// errors become SIP answers (STYLE §2 rule 6). `None` when the error gets no answer.
pub fn error_response(
    echo: &Echo,
    error: &Error,
    to_tag: Option<&Tag>,
    source: SocketAddr,
    allow: &str,
    retry_after: u32,
) -> Option<Bytes> {
    let status = error.status()?;
    let writer = wire::response(echo, status, &error.reason_phrase(), to_tag, source);
    let writer = match error {
        Error::MethodNotAllowed(_) => writer.header(&HeaderName::Allow, allow),
        Error::BadExtension(tags) => writer.header(&HeaderName::Unsupported, tags.join(", ")),
        Error::UnsupportedMediaType(_) => writer.header(&HeaderName::Accept, "application/sdp"),
        Error::Overloaded(_)
        | Error::Congested(_)
        | Error::Draining
        | Error::TooManyTransactions(_)
        | Error::InviteInProgress(_)
        | Error::TooManySubscriptions(_) => writer.header(&HeaderName::RetryAfter, retry_after),
        // RFC 6665 §4.2.1.1: 489 lists the packages served, 423 the shortest interval.
        Error::BadEvent { served, .. } => {
            writer.header(&HeaderName::AllowEvents, served.join(", "))
        }
        Error::IntervalTooBrief(min) => writer.header(&HeaderName::MinExpires, min),
        _ => writer,
    };
    Some(writer.finish(None))
}

/// The state of one listener.
pub struct Core {
    /// Transactions and timers.
    pub tx: Transactions,
    tu: Tu,
    /// Our address for Via and Contact.
    pub local: Local,
    /// Limits.
    pub limits: CoreLimits,
    /// Fresh tags and branches.
    pub ids: Arc<dyn IdSource>,
    /// The To tags of stateless answers.
    tags: StatelessTags,
    /// Set when the server stops: new INVITEs get 503, everything else goes on.
    draining: bool,
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("tx", &self.tx)
            .field("tu", &self.tu)
            .field("local", &self.local)
            .finish()
    }
}

impl Core {
    /// A core for one listener.
    pub fn new(
        tu: Tu,
        local: Local,
        limits: CoreLimits,
        timers: Timers,
        ids: Arc<dyn IdSource>,
    ) -> Core {
        Core {
            tx: Transactions::new(timers),
            tu,
            local,
            limits,
            tags: StatelessTags::new(ids.as_ref()),
            ids,
            draining: false,
        }
    }

    /// Refuses new calls from now on (503 with Retry-After); calls, dialogs, transactions and
    /// subscriptions in progress go on.
    pub fn drain(&mut self) {
        self.draining = true;
    }

    /// Whether this core serves event subscriptions.
    pub fn serves_events(&self) -> bool {
        matches!(
            self.tu,
            Tu::Router {
                events: Some(_),
                ..
            }
        )
    }

    /// The earliest pending timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.tx.queue.next()
    }

    /// Whether the timer task must look at the queue again (and clears the flag).
    pub fn take_wake(&mut self) -> bool {
        std::mem::take(&mut self.tx.wake)
    }

    /// The To tags of stateless answers, for the funnel's own refusals.
    pub(crate) fn stateless_tags(&self) -> StatelessTags {
        self.tags.clone()
    }

    /// Calls and call setups in progress, for the concurrent-call limit: the media server's
    /// dialogs (the router keeps no call state).
    pub fn calls(&self) -> usize {
        match &self.tu {
            Tu::Router { .. } => 0,
            Tu::Media(dialogs) => dialogs.len(),
        }
    }

    /// Counts of what the core holds.
    pub fn stats(&self) -> Stats {
        Stats {
            server_transactions: self.tx.server.len(),
            client_transactions: self.tx.client.len(),
            calls: self.calls(),
            timers: self.tx.queue.len(),
            connections: 0,
            subscriptions: match &self.tu {
                Tu::Router {
                    events: Some(events),
                    ..
                } => events.len(),
                Tu::Router { events: None, .. } | Tu::Media(_) => 0,
            },
        }
    }

    /// Handles a request: from a configured gateway (`trusted`), or a SUBSCRIBE from anyone
    /// when the listener serves subscriptions (the funnel lets nothing else through).
    pub fn on_request(
        &mut self,
        request: Request,
        flow: Flow,
        trusted: bool,
        now: Instant,
        out: &dyn Outbound,
    ) -> Outcome {
        let key = ServerKey::of(&request);
        if request.method == Method::Ack {
            return self.on_ack(request, &key, now, out);
        }
        if let Some(entry) = self.tx.server.get(&key) {
            // RFC 3261 §17.2.1/§17.2.2: a retransmission gets the last response again.
            return match entry.tx.request_retransmitted() {
                Some(bytes) => {
                    out.send(&entry.flow, bytes);
                    Outcome::Retransmission
                }
                None => Outcome::Absorbed,
            };
        }
        if let Err(error) = self.check(&request) {
            return self.reject(&request.echo, &flow, &error, out);
        }
        // The router's INVITEs open no transaction (`redirect`), so the guard spares them.
        let stateless = matches!(self.tu, Tu::Router { .. }) && request.method == Method::Invite;
        if !stateless && self.tx.server.len() >= self.limits.max_transactions {
            // Memory guard: every transaction lingers up to 64·T1 after its answer.
            let error = Error::TooManyTransactions(self.limits.max_transactions);
            return self.reject(&request.echo, &flow, &error, out);
        }
        match request.method {
            Method::Options => {
                let key = self.tx.open(&request, flow);
                let allow = allowed(&self.tu);
                self.tx.respond(
                    &key,
                    StatusCode::Ok,
                    Some(&Tag::generate(self.ids.as_ref())),
                    |w| {
                        w.header(&HeaderName::Allow, allow)
                            .header(&HeaderName::Accept, "application/sdp")
                            .header(&HeaderName::Supported, "")
                    },
                    None,
                    now,
                    out,
                );
                Outcome::Responded(StatusCode::Ok)
            }
            Method::Cancel => self.on_cancel(&request, flow, now, out),
            _ => self.dispatch(request, flow, trusted, now, out),
        }
    }

    /// Request checks that need no state (RFC 3261 §8.2.1 to §8.2.3).
    fn check(&self, request: &Request) -> Result<(), Error> {
        if let Method::Other(name) = &request.method {
            return Err(Error::NotImplemented(name.clone()));
        }
        if !serves(&self.tu, &request.method) {
            return Err(Error::MethodNotAllowed(request.method.to_string()));
        }
        // Loop protection: a request that used up its hops stops here, except OPTIONS, which
        // peers send with Max-Forwards 0 to ask this element itself (RFC 3261 §11).
        if request.max_forwards == Some(0) && request.method != Method::Options {
            return Err(Error::TooManyHops);
        }
        // RFC 3261 §8.2.2.3: umbox supports no option tags; CANCEL is exempt.
        if !request.require.is_empty() && request.method != Method::Cancel {
            return Err(Error::BadExtension(request.require.clone()));
        }
        if let Tu::Media(_) = self.tu {
            if request.method == Method::Invite && !request.body.is_empty() {
                let media_type = request.content_type.as_deref().unwrap_or_default();
                if media_type != "application/sdp" {
                    return Err(Error::UnsupportedMediaType(media_type.to_owned()));
                }
            }
        }
        Ok(())
    }

    /// Answers a request statelessly with the response for `error`.
    pub fn reject(&self, echo: &Echo, flow: &Flow, error: &Error, out: &dyn Outbound) -> Outcome {
        let tag = self.tags.of(echo);
        let retry_after = match error {
            // RFC 3261 §14.2: a random value between 0 and 10 seconds.
            Error::InviteInProgress(_) => {
                u32::from_str_radix(tag.as_str().get(..2).unwrap_or("0"), 16).unwrap_or(0) % 11
            }
            _ => self.limits.retry_after,
        };
        match error_response(
            echo,
            error,
            Some(&tag),
            flow.remote,
            allowed(&self.tu),
            retry_after,
        ) {
            Some(bytes) => {
                out.send(flow, bytes);
                Outcome::Responded(error.status().unwrap_or(StatusCode::ServerInternalError))
            }
            None => Outcome::Stray,
        }
    }

    fn on_ack(
        &mut self,
        request: Request,
        key: &ServerKey,
        now: Instant,
        out: &dyn Outbound,
    ) -> Outcome {
        let accepted = self
            .tx
            .server
            .get(key)
            .map(|entry| entry.tx.state() == ServerState::Accepted);
        match accepted {
            // The ACK of a non-2xx answer belongs to the INVITE's transaction.
            Some(false) => {
                self.tx.with_server(key, |entry| entry.tx.ack_received(now));
                Outcome::Absorbed
            }
            // The ACK of a 2xx is a request of its own for the dialog (RFC 3261 §13.2.2.4),
            // even when a peer reuses the INVITE's branch.
            Some(true) | None => match &mut self.tu {
                Tu::Media(dialogs) => dialogs.on_ack(&request, &mut self.tx, out),
                // The ACK of a stateless redirect (RFC 3261 §8.2.7) carries the To tag derived
                // from its INVITE's transaction, which it shares; anything else is stray.
                // Either way it ends here.
                Tu::Router { .. } => {
                    if request.to.tag() == Some(self.tags.of(&request.echo)) {
                        Outcome::Absorbed
                    } else {
                        Outcome::Stray
                    }
                }
            },
        }
    }

    /// RFC 3261 §9.2: 200 to the CANCEL; the INVITE, if still pending, ends with 487.
    fn on_cancel(
        &mut self,
        request: &Request,
        flow: Flow,
        now: Instant,
        out: &dyn Outbound,
    ) -> Outcome {
        let invite = ServerKey::with_method(request, Method::Invite);
        let cancel = self.tx.open(request, flow);
        // RFC 3261 §9.2: the 200 to the CANCEL carries the same To tag as the INVITE's answer.
        let dialog_tag = match &self.tu {
            Tu::Media(dialogs) => dialogs.local_tag(&request.call_id),
            // The INVITE was answered statelessly, with the tag its CANCEL derives too.
            Tu::Router { .. } => Some(self.tags.of(&request.echo)),
        };
        let tag = self
            .tx
            .to_tag(&invite)
            .or(dialog_tag)
            .unwrap_or_else(|| Tag::generate(self.ids.as_ref()));
        if !self.tx.server.contains_key(&invite) {
            let status = StatusCode::CallOrTransactionDoesNotExist;
            self.tx
                .respond(&cancel, status, Some(&tag), |w| w, None, now, out);
            return Outcome::Responded(status);
        }
        self.tx
            .respond(&cancel, StatusCode::Ok, Some(&tag), |w| w, None, now, out);
        if !self.tx.is_answered(&invite) {
            match &mut self.tu {
                Tu::Media(dialogs) => {
                    dialogs.on_cancel(&request.call_id, &invite, &mut self.tx, now, out)
                }
                Tu::Router { .. } => {
                    let status = StatusCode::RequestTerminated;
                    self.tx
                        .respond(&invite, status, Some(&tag), |w| w, None, now, out);
                }
            }
        }
        Outcome::Responded(StatusCode::Ok)
    }

    fn dispatch(
        &mut self,
        request: Request,
        flow: Flow,
        trusted: bool,
        now: Instant,
        out: &dyn Outbound,
    ) -> Outcome {
        let in_dialog = request.to.params.has("tag");
        if request.method == Method::Invite && !in_dialog {
            let media = matches!(self.tu, Tu::Media(_));
            let refusal = if self.draining {
                Some(Error::Draining)
            } else if media && self.calls() >= self.limits.max_calls {
                Some(Error::Overloaded(self.limits.max_calls))
            } else {
                None
            };
            if let Some(error) = refusal {
                return self.reject(&request.echo, &flow, &error, out);
            }
        }
        match &mut self.tu {
            Tu::Router {
                events: Some(events),
                ..
            } if request.method == Method::Subscribe => {
                let echo = request.echo.clone();
                let mut io = Io {
                    tx: &mut self.tx,
                    local: &self.local,
                    ids: self.ids.as_ref(),
                    out,
                    now,
                };
                match events.on_subscribe(request, flow, trusted, &mut io) {
                    Ok(outcome) => outcome,
                    Err(error) => self.reject(&echo, &flow, &error, out),
                }
            }
            Tu::Router { router, .. } => {
                if in_dialog || request.method != Method::Invite {
                    // The router keeps no dialogs: anything in one is unknown here.
                    let error = Error::NoSuchDialog(request.call_id.clone());
                    return self.reject(&request.echo, &flow, &error, out);
                }
                match redirect(router.as_ref(), &self.tags, &request, flow, out) {
                    Ok(outcome) => outcome,
                    Err(error) => {
                        tracing::warn!(%error, "router cannot decide");
                        self.reject(&request.echo, &flow, &error, out)
                    }
                }
            }
            Tu::Media(dialogs) => {
                let ctx = Context {
                    local: &self.local,
                    ids: self.ids.as_ref(),
                    answer_timeout: self.limits.answer_timeout,
                    retry_after: self.limits.retry_after,
                };
                // The request goes to the dialogs; its echo stays for a rejection.
                let echo = request.echo.clone();
                match dialogs.on_request(request, flow, &ctx, &mut self.tx, now, out) {
                    Ok(outcome) => outcome,
                    Err(error) => self.reject(&echo, &flow, &error, out),
                }
            }
        }
    }

    /// Handles a response to one of our requests.
    pub fn on_response(
        &mut self,
        response: &Response,
        now: Instant,
        out: &dyn Outbound,
    ) -> Outcome {
        let outcome = self.tx.on_response(response, now, out);
        self.finish_notifies(now, out);
        outcome
    }

    /// Tells subscriptions how their NOTIFY transactions ended.
    fn finish_notifies(&mut self, now: Instant, out: &dyn Outbound) {
        if self.tx.finished.is_empty() {
            return;
        }
        let finished = std::mem::take(&mut self.tx.finished);
        if let Tu::Router {
            events: Some(events),
            ..
        } = &mut self.tu
        {
            let mut io = Io {
                tx: &mut self.tx,
                local: &self.local,
                ids: self.ids.as_ref(),
                out,
                now,
            };
            for (tag, result) in finished {
                events.on_notify_done(&tag, result, &mut io);
            }
        }
    }

    /// Runs `work` on the subscriptions, when the listener serves them.
    fn with_events<R>(
        &mut self,
        now: Instant,
        out: &dyn Outbound,
        work: impl FnOnce(&mut Subscriptions, &mut Io<'_>) -> R,
    ) -> Result<R, Error> {
        let Tu::Router {
            events: Some(events),
            ..
        } = &mut self.tu
        else {
            return Err(Error::MethodNotAllowed(Method::Subscribe.to_string()));
        };
        let mut io = Io {
            tx: &mut self.tx,
            local: &self.local,
            ids: self.ids.as_ref(),
            out,
            now,
        };
        Ok(work(events, &mut io))
    }

    /// The business side's new state of a resource, to its subscribers.
    pub fn publish(
        &mut self,
        resource: &str,
        content_type: &'static str,
        body: Bytes,
        now: Instant,
        out: &dyn Outbound,
    ) -> Result<(), Error> {
        self.with_events(now, out, |events, io| {
            events.publish(resource, content_type, body, io)
        })?
    }

    /// Subscriptions stored before a restart.
    pub fn restore(
        &mut self,
        records: Vec<(String, Bytes)>,
        now: Instant,
        out: &dyn Outbound,
    ) -> Result<usize, Error> {
        self.with_events(now, out, |events, io| events.restore(records, io))
    }

    /// Ends the held subscriptions.
    pub fn terminate(
        &mut self,
        held: Held<'_>,
        reason: &Reason,
        now: Instant,
        out: &dyn Outbound,
    ) -> Result<usize, Error> {
        self.with_events(now, out, |events, io| events.terminate(held, reason, io))
    }

    /// A NOTIFY outside any dialog.
    pub fn notify_unsolicited(
        &mut self,
        notify: Unsolicited,
        now: Instant,
        out: &dyn Outbound,
    ) -> Result<(), Error> {
        self.with_events(now, out, |_, io| {
            Subscriptions::notify_unsolicited(notify, io)
        })
    }

    /// Runs every timer due at `now`.
    pub fn on_timers(&mut self, now: Instant, out: &dyn Outbound) {
        // Bounded: each pass either removes a key or reschedules it strictly later than now.
        while let Some(key) = self.tx.queue.pop_due(now) {
            match key {
                TimerKey::Server(key) => self.tx.fire_server(&key, now, out),
                TimerKey::Client(key) => self.tx.fire_client(&key, now, out),
                TimerKey::Subscription(tag) => {
                    // Only a listener with subscriptions schedules these.
                    let _ = self.with_events(now, out, |events, io| events.on_timer(&tag, io));
                }
                TimerKey::Call(call_id) => {
                    if let Tu::Media(dialogs) = &mut self.tu {
                        let ctx = Context {
                            local: &self.local,
                            ids: self.ids.as_ref(),
                            answer_timeout: self.limits.answer_timeout,
                            retry_after: self.limits.retry_after,
                        };
                        dialogs.on_timer(&call_id, &ctx, &mut self.tx, now, out);
                    }
                }
            }
        }
        self.finish_notifies(now, out);
    }

    /// The UM side answered a call or re-INVITE (or dropped the question: `None`).
    pub fn on_decision(
        &mut self,
        pending: PendingKey,
        decision: Option<InviteDecision>,
        now: Instant,
        out: &dyn Outbound,
    ) {
        if let Tu::Media(dialogs) = &mut self.tu {
            let ctx = Context {
                local: &self.local,
                ids: self.ids.as_ref(),
                answer_timeout: self.limits.answer_timeout,
                retry_after: self.limits.retry_after,
            };
            dialogs.on_decision(pending, decision, &ctx, &mut self.tx, now, out);
        }
    }

    /// Ends a call from our side (BYE through a client transaction); the receiver resolves
    /// when the BYE transaction ends.
    pub fn hangup(
        &mut self,
        call_id: &CallId,
        now: Instant,
        out: &dyn Outbound,
    ) -> Result<oneshot::Receiver<Result<(), Error>>, Error> {
        match &mut self.tu {
            Tu::Media(dialogs) => {
                let ctx = Context {
                    local: &self.local,
                    ids: self.ids.as_ref(),
                    answer_timeout: self.limits.answer_timeout,
                    retry_after: self.limits.retry_after,
                };
                dialogs.hangup(call_id, &ctx, &mut self.tx, now, out)
            }
            Tu::Router { .. } => Err(Error::NoSuchCall(call_id.clone())),
        }
    }
}

/// The destination of a request sent inside a dialog: the first route, else the remote
/// target, when it names an IP address; otherwise back along the flow the dialog came on
/// (gateways are configured by address, and their names may not resolve here). Over TCP, a
/// target on the peer's own address reuses the connection the dialog came on, as a peer's
/// listening port is rarely the port its connection came from.
pub fn destination(uri: &Uri, fallback: Flow) -> Flow {
    let Uri::Sip(sip) = uri else {
        return fallback;
    };
    let Host::Ip(ip) = sip.host else {
        return fallback;
    };
    let transport = match sip.params.value("transport") {
        Some(t) if t.eq_ignore_ascii_case("tcp") => Transport::Tcp,
        Some(t) if t.eq_ignore_ascii_case("udp") => Transport::Udp,
        _ => fallback.transport,
    };
    if transport == Transport::Tcp
        && fallback.transport == Transport::Tcp
        && ip == fallback.remote.ip()
    {
        return fallback;
    }
    Flow {
        transport,
        remote: SocketAddr::new(ip, sip.port.unwrap_or(5060)),
        conn: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::RandomIds;
    use std::sync::Mutex;

    /// Keeps what the core sends.
    #[derive(Default)]
    struct Recorder {
        sent: Mutex<Vec<String>>,
    }

    impl Outbound for Recorder {
        fn send(&self, _flow: &Flow, bytes: Bytes) {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            self.sent.lock().unwrap().push(text);
        }
        fn event(&self, _event: DialogEvent) {}
        fn await_decision(&self, _pending: Pending) {}
    }

    fn parse(text: &str) -> wire::Message {
        let limits = wire::ReadLimits {
            max_fields: 64,
            max_body: 1024,
        };
        wire::parse(text.as_bytes(), wire::Framing::Datagram, limits).unwrap()
    }

    fn request(text: &str) -> Request {
        match parse(text) {
            wire::Message::Request(request) => *request,
            wire::Message::Response(_) => unreachable!(),
        }
    }

    fn options(call_id: &str) -> Request {
        request(&format!(
            "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{call_id}\r\n\
From: <sip:gw@127.0.0.1>;tag=a\r\nTo: <sip:127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n"
        ))
    }

    /// An INVITE (`method` INVITE) or its ACK (`ACK`, with `to_tag`) of transaction `branch`.
    fn invite_or_ack(method: &str, branch: &str, to_tag: Option<&str>) -> Request {
        let tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        request(&format!(
            "{method} sip:1999@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{branch}\r\n\
From: <sip:gw@127.0.0.1>;tag=a\r\nTo: <sip:1999@127.0.0.1>{tag}\r\nCall-ID: c1\r\nCSeq: 1 {method}\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        ))
    }

    fn router_core(router: Arc<dyn InviteRouter>, max_transactions: usize) -> Core {
        let limits = CoreLimits {
            max_calls: 10,
            max_transactions,
            retry_after: 7,
            answer_timeout: Duration::from_secs(30),
        };
        let local = Local {
            host: Host::Ip([127, 0, 0, 1].into()),
            port: 5060,
        };
        Core::new(
            Tu::Router {
                router,
                events: None,
            },
            local,
            limits,
            Timers::default(),
            Arc::new(RandomIds::default()),
        )
    }

    fn udp_flow() -> Flow {
        Flow {
            transport: Transport::Udp,
            remote: "127.0.0.1:5070".parse().unwrap(),
            conn: None,
        }
    }

    /// Sends every pilot call to the media server.
    #[derive(Debug)]
    struct ToMediaServer;

    impl InviteRouter for ToMediaServer {
        fn route(&self, _: std::net::IpAddr, _: &InviteTarget<'_>) -> Result<Route, Error> {
            let contact = SipUri::new(None, Host::Ip([127, 0, 0, 1].into()), Some(5062));
            Ok(Route::Redirect { contact })
        }
    }

    #[test]
    fn a_redirect_is_stateless_repeatable_and_its_ack_absorbed() {
        // Even a full transaction table does not stop a redirect.
        let mut core = router_core(Arc::new(ToMediaServer), 0);
        let (flow, out, now) = (udp_flow(), Recorder::default(), Instant::now());
        let first = core.on_request(invite_or_ack("INVITE", "t1", None), flow, true, now, &out);
        assert_eq!(first, Outcome::Responded(StatusCode::MovedTemporarily));
        let again = core.on_request(invite_or_ack("INVITE", "t1", None), flow, true, now, &out);
        assert_eq!(again, Outcome::Responded(StatusCode::MovedTemporarily));
        let other = core.on_request(invite_or_ack("INVITE", "t2", None), flow, true, now, &out);
        assert_eq!(other, Outcome::Responded(StatusCode::MovedTemporarily));
        assert_eq!(core.stats(), Stats::default(), "no state kept");
        let sent = out.sent.lock().unwrap().clone();
        assert_eq!(sent[0], sent[1], "a retransmission gets the same bytes");
        assert!(sent[0].contains("\r\nContact: <sip:127.0.0.1:5062>\r\n"));
        let tag_of = |text: &str| match parse(text) {
            wire::Message::Response(response) => response.to.tag().unwrap(),
            wire::Message::Request(_) => unreachable!(),
        };
        let (tag, other_tag) = (tag_of(&sent[0]), tag_of(&sent[2]));
        assert_ne!(tag, other_tag, "each transaction its own tag");
        let ack = invite_or_ack("ACK", "t1", Some(tag.as_str()));
        assert_eq!(
            core.on_request(ack, flow, true, now, &out),
            Outcome::Absorbed
        );
        let crossed = invite_or_ack("ACK", "t1", Some(other_tag.as_str()));
        assert_eq!(
            core.on_request(crossed, flow, true, now, &out),
            Outcome::Stray
        );
        assert_eq!(out.sent.lock().unwrap().len(), 3, "ACKs get no answer");
        assert_eq!(core.stats(), Stats::default());
        // Another listener draws another key, so its tags differ.
        let mut elsewhere = router_core(Arc::new(ToMediaServer), 0);
        let out = Recorder::default();
        elsewhere.on_request(invite_or_ack("INVITE", "t1", None), flow, true, now, &out);
        assert_ne!(tag_of(&out.sent.lock().unwrap()[0]), tag);
    }

    /// A router for which no number exists: these tests never reach routing.
    #[derive(Debug)]
    struct NothingRoutes;

    impl InviteRouter for NothingRoutes {
        fn route(&self, _: std::net::IpAddr, target: &InviteTarget<'_>) -> Result<Route, Error> {
            let number = target.request_uri.user.clone().unwrap_or_default();
            Ok(Route::NotFound { number })
        }
    }

    #[test]
    fn the_transaction_cap_answers_503_statelessly() {
        let mut core = router_core(Arc::new(NothingRoutes), 1);
        let flow = udp_flow();
        let out = Recorder::default();
        let now = Instant::now();
        let first = core.on_request(options("one"), flow, true, now, &out);
        assert_eq!(first, Outcome::Responded(StatusCode::Ok));
        let again = core.on_request(options("one"), flow, true, now, &out);
        assert_eq!(again, Outcome::Retransmission);
        let second = core.on_request(options("two"), flow, true, now, &out);
        assert_eq!(second, Outcome::Responded(StatusCode::ServiceUnavailable));
        let sent = out.sent.lock().unwrap();
        assert_eq!(sent[0], sent[1], "a retransmission gets the same bytes");
        assert!(sent[2].starts_with("SIP/2.0 503 "), "{}", sent[2]);
        assert!(sent[2].contains("\r\nRetry-After: 7\r\n"), "{}", sent[2]);
        assert_eq!(core.stats().server_transactions, 1, "the 503 left no state");
    }
}
