//! Sockets of one SIP listener (UDP and TCP) and [`inbound`], the one funnel every received
//! message goes through: size cap, per-source rate limit, parsing, scanner drop, the gateway
//! allow-list, the per-message span and its one summary line.
//!
//! Bytes only: no business rule beyond "who is asking and how fast"; everything else is the
//! core's (`sip::endpoint`). Sends never block: UDP goes out on a non-blocking socket and TCP
//! frames into a per-connection queue, so the core can send while holding its lock and keep
//! message order. All tasks are owned by the listener and stop with it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, field, warn};

use super::access::{is_scanner, RateLimiter};
use super::dialog::{DialogEvent, Pending};
use super::endpoint::{
    error_response, ConnId, Core, Flow, Outbound, Outcome, StatelessTags, Stats, Transport,
};
use super::listener::Limits;
use super::policy::Peers;
use super::subscribe::{Held, Unsolicited};
use super::types::{CallId, Method};
use super::wire::event::Reason;
use super::wire::prepass::{frame, Frame};
use super::wire::{self, Framing, Message, ReadLimits};
use super::Error;

/// How long an outbound TCP connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Frames queued for one TCP connection before further ones are dropped.
const CONNECTION_QUEUE: usize = 256;

/// State shared by the sockets, the timer task and the decision waits of one listener.
pub(crate) struct Shared {
    core: Mutex<Core>,
    wake: Notify,
    udp: std::net::UdpSocket,
    connections: Mutex<Connections>,
    events: Option<mpsc::UnboundedSender<DialogEvent>>,
    peers: Arc<dyn Peers>,
    limits: Limits,
    rate: Mutex<RateLimiter>,
    tasks: Mutex<JoinSet<()>>,
    /// Set once the listener stops: no timer task runs any more, so no new work may start.
    closed: std::sync::atomic::AtomicBool,
    /// The To tags of the funnel's own (stateless) refusals.
    tags: StatelessTags,
    /// Which listener, for logs.
    role: &'static str,
    /// Whether the core serves event subscriptions: then SUBSCRIBEs from any source, and
    /// responses from any source (to our NOTIFYs), reach it.
    serves_events: bool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("role", &self.role).finish()
    }
}

#[derive(Debug, Default)]
struct Connections {
    next_id: u64,
    /// Each connection's peer, its queue, and whether it counts against the gateways' share
    /// (inbound from a gateway, or opened by us) rather than everyone else's.
    open: HashMap<ConnId, (SocketAddr, mpsc::Sender<Bytes>, bool)>,
    by_remote: HashMap<SocketAddr, ConnId>,
}

impl Connections {
    fn add(&mut self, remote: SocketAddr, trusted: bool) -> (ConnId, mpsc::Receiver<Bytes>) {
        let id = ConnId(self.next_id);
        self.next_id += 1;
        let (sender, receiver) = mpsc::channel(CONNECTION_QUEUE);
        self.open.insert(id, (remote, sender, trusted));
        self.by_remote.insert(remote, id);
        (id, receiver)
    }

    /// Whether an inbound connection from `remote` may open: a gateway (`trusted`) while any of
    /// the limit is left; another source only within the three quarters not kept for gateways
    /// and within its own per-source cap.
    fn admits(&self, remote: SocketAddr, trusted: bool, limits: &Limits) -> bool {
        if self.open.len() >= limits.max_connections {
            return false;
        }
        if trusted {
            return true;
        }
        let shared_part = limits.max_connections - limits.max_connections / 4;
        let others = self.open.values().filter(|(_, _, gateway)| !gateway);
        let mut from_source = 0;
        let mut from_others = 0;
        for (address, _, _) in others {
            from_others += 1;
            if address.ip() == remote.ip() {
                from_source += 1;
            }
        }
        from_others < shared_part && from_source < limits.max_connections_per_source
    }

    fn remove(&mut self, id: ConnId) {
        if let Some((remote, _, _)) = self.open.remove(&id) {
            if self.by_remote.get(&remote) == Some(&id) {
                self.by_remote.remove(&remote);
            }
        }
    }
}

/// A std mutex poisoned by a panic elsewhere still guards consistent data here (every
/// critical section leaves the state valid between statements), so keep serving.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(
        core: Core,
        udp: std::net::UdpSocket,
        events: Option<mpsc::UnboundedSender<DialogEvent>>,
        peers: Arc<dyn Peers>,
        limits: Limits,
        role: &'static str,
    ) -> Shared {
        let serves_events = core.serves_events();
        let tags = core.stateless_tags();
        Shared {
            core: Mutex::new(core),
            wake: Notify::new(),
            udp,
            connections: Mutex::new(Connections::default()),
            events,
            peers,
            rate: Mutex::new(RateLimiter::new(
                limits.gateway_rate,
                limits.other_rate,
                limits.max_tracked_sources,
            )),
            limits,
            tasks: Mutex::new(JoinSet::new()),
            closed: std::sync::atomic::AtomicBool::new(false),
            tags,
            role,
            serves_events,
        }
    }

    /// Runs `work` on the core under its lock, then wakes the timer task if a timer moved
    /// earlier.
    fn with_core<R>(self: &Arc<Self>, work: impl FnOnce(&mut Core, &Out<'_>) -> R) -> R {
        let out = Out { shared: self };
        let mut core = lock(&self.core);
        let result = work(&mut core, &out);
        if core.take_wake() {
            self.wake.notify_one();
        }
        result
    }

    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        let mut tasks = lock(&self.tasks);
        // Reap finished tasks so the set only holds live ones.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(task);
    }

    /// Stops every task this listener spawned (connections, decision waits) at their next
    /// await; later hang-ups fail with [`Error::Closed`].
    pub(crate) fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        lock(&self.tasks).abort_all();
    }

    /// [`Shared::close`], then waits for the tasks to be gone.
    pub(crate) async fn stop_tasks(&self) {
        self.close();
        let mut tasks = std::mem::take(&mut *lock(&self.tasks));
        tasks.shutdown().await;
    }

    pub(crate) fn drain(self: &Arc<Self>) {
        lock(&self.core).drain();
    }

    pub(crate) fn stats(self: &Arc<Self>) -> Stats {
        let core = lock(&self.core);
        let mut stats = core.stats();
        stats.connections = lock(&self.connections).open.len();
        stats
    }

    pub(crate) async fn hangup(self: &Arc<Self>, call_id: &CallId) -> Result<(), Error> {
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let now = Instant::now();
        let done = self.with_core(|core, out| core.hangup(call_id, now, out))?;
        done.await.unwrap_or(Err(Error::Closed))
    }

    fn check_open(&self) -> Result<(), Error> {
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    pub(crate) fn publish(
        self: &Arc<Self>,
        resource: &str,
        content_type: &'static str,
        body: Bytes,
    ) -> Result<(), Error> {
        self.check_open()?;
        let now = Instant::now();
        self.with_core(|core, out| core.publish(resource, content_type, body, now, out))
    }

    pub(crate) fn restore(self: &Arc<Self>, records: Vec<(String, Bytes)>) -> Result<usize, Error> {
        self.check_open()?;
        let now = Instant::now();
        self.with_core(|core, out| core.restore(records, now, out))
    }

    pub(crate) fn terminate(
        self: &Arc<Self>,
        held: Held<'_>,
        reason: Reason,
    ) -> Result<usize, Error> {
        self.check_open()?;
        let now = Instant::now();
        self.with_core(|core, out| core.terminate(held, &reason, now, out))
    }

    pub(crate) fn notify_unsolicited(self: &Arc<Self>, notify: Unsolicited) -> Result<(), Error> {
        self.check_open()?;
        let now = Instant::now();
        self.with_core(|core, out| core.notify_unsolicited(notify, now, out))
    }
}

/// The core's view of the sockets.
struct Out<'a> {
    shared: &'a Arc<Shared>,
}

impl Outbound for Out<'_> {
    fn send(&self, flow: &Flow, bytes: Bytes) {
        match flow.transport {
            Transport::Udp => {
                if let Err(error) = self.shared.udp.send_to(&bytes, flow.remote) {
                    // A full socket buffer loses this datagram; transactions retransmit.
                    debug!(remote = %flow.remote, %error, "udp send failed");
                }
            }
            Transport::Tcp => send_tcp(self.shared, flow, bytes),
        }
    }

    fn event(&self, event: DialogEvent) {
        if let Some(events) = &self.shared.events {
            // The forwarder only stops with the listener; a lost event then has no reader.
            let _ = events.send(event);
        }
    }

    fn await_decision(&self, pending: Pending) {
        let shared = self.shared.clone();
        let wait = self.shared.limits.answer_timeout + Duration::from_secs(1);
        self.shared.spawn(async move {
            // The core's own answer timer ends the call first; this bound only frees the task
            // when the UM side neither answers nor drops the question.
            let decision = tokio::time::timeout(wait, pending.reply)
                .await
                .ok()
                .and_then(Result::ok);
            let now = Instant::now();
            shared.with_core(|core, out| core.on_decision(pending.key, decision, now, out));
        });
    }
}

fn send_tcp(shared: &Arc<Shared>, flow: &Flow, bytes: Bytes) {
    let mut connections = lock(&shared.connections);
    let existing = flow
        .conn
        .filter(|id| connections.open.contains_key(id))
        .or_else(|| connections.by_remote.get(&flow.remote).copied());
    if let Some(id) = existing {
        if let Some((_, sender, _)) = connections.open.get(&id) {
            if sender.try_send(bytes).is_err() {
                debug!(remote = %flow.remote, "tcp queue full or closed; frame dropped");
            }
        }
        return;
    }
    if connections.open.len() >= shared.limits.max_connections {
        debug!(remote = %flow.remote, "too many tcp connections; frame dropped");
        return;
    }
    // No connection to that peer: open one; frames queue meanwhile.
    let (id, receiver) = connections.add(flow.remote, true);
    if let Some((_, sender, _)) = connections.open.get(&id) {
        let _ = sender.try_send(bytes);
    }
    drop(connections);
    let remote = flow.remote;
    let task_shared = shared.clone();
    shared.spawn(async move {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(remote)).await {
            Ok(Ok(stream)) => serve_connection(task_shared, stream, remote, id, receiver).await,
            Ok(Err(error)) => {
                debug!(%remote, %error, "tcp connect failed");
                lock(&task_shared.connections).remove(id);
            }
            Err(_) => {
                debug!(%remote, "tcp connect timed out");
                lock(&task_shared.connections).remove(id);
            }
        }
    });
}

/// The funnel: every message a listener receives, over UDP or TCP, passes here once. `waited`
/// is how long it sat in the listener's receive queue (UDP only).
pub(crate) fn inbound(shared: &Arc<Shared>, bytes: &[u8], flow: Flow, waited: Duration) {
    let started = std::time::Instant::now();
    let now = Instant::now();
    let span = tracing::debug_span!(
        "sip",
        listener = shared.role,
        remote = %flow.remote,
        transport = flow.transport.as_str(),
        call_id = field::Empty,
        branch = field::Empty,
        method = field::Empty,
        called = field::Empty,
    );
    let _entered = span.enter();
    let outcome = handle(shared, bytes, flow, waited, now, &span);
    debug!(
        outcome = %outcome,
        bytes = bytes.len(),
        micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "done"
    );
}

/// Why the funnel let a message go without an answer.
#[derive(Debug, Clone, Copy)]
enum Dropped {
    TooLarge,
    RateLimited,
    Unreadable,
    Scanner,
    NotAGateway,
}

/// What the funnel did, for the summary line.
#[derive(Debug, Clone, Copy)]
enum Handled {
    Core(Outcome),
    Refused(u16),
    Dropped(Dropped),
}

impl std::fmt::Display for Handled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Handled::Core(outcome) => write!(f, "{outcome}"),
            Handled::Refused(code) => write!(f, "refused {code}"),
            Handled::Dropped(why) => write!(f, "dropped ({why:?})"),
        }
    }
}

fn handle(
    shared: &Arc<Shared>,
    bytes: &[u8],
    flow: Flow,
    waited: Duration,
    now: Instant,
    span: &tracing::Span,
) -> Handled {
    let limits = &shared.limits;
    if bytes.len() > limits.max_message_bytes {
        return Handled::Dropped(Dropped::TooLarge);
    }
    let trusted = shared.peers.is_trusted(flow.remote.ip());
    if !lock(&shared.rate).allow(flow.remote.ip(), trusted, now) {
        return Handled::Dropped(Dropped::RateLimited);
    }
    let framing = match flow.transport {
        Transport::Udp => Framing::Datagram,
        Transport::Tcp => Framing::Stream,
    };
    let read_limits = ReadLimits {
        max_fields: limits.max_fields,
        max_body: limits.max_body_bytes,
    };
    let message = match wire::parse(bytes, framing, read_limits) {
        Ok(message) => message,
        Err(rejected) => {
            let rejected = *rejected;
            let is_ack = rejected.is_ack;
            let Some(echo) = rejected.echo.filter(|_| !is_ack) else {
                debug!(error = %rejected.error, "unreadable message");
                return Handled::Dropped(Dropped::Unreadable);
            };
            span.record("call_id", echo.call_id.as_str());
            // A stranger learns nothing about our parser: 403 whatever it sent.
            let error = if trusted {
                rejected.error
            } else {
                Error::Forbidden(flow.remote.ip())
            };
            debug!(%error, "refused");
            return refuse(shared, &echo, &error, flow);
        }
    };
    match message {
        Message::Response(response) => {
            span.record("call_id", response.call_id.as_str());
            span.record("method", response.cseq.method.as_str());
            // Subscribers answer our NOTIFYs from anywhere; a response matches only a
            // transaction whose random branch it echoes.
            if !trusted && !shared.serves_events {
                return Handled::Dropped(Dropped::NotAGateway);
            }
            Handled::Core(shared.with_core(|core, out| core.on_response(&response, now, out)))
        }
        Message::Request(request) => {
            span.record("call_id", request.call_id.as_str());
            span.record("method", request.method.as_str());
            if let Some(branch) = request.top_via().branch() {
                span.record("branch", branch.as_str());
            }
            if request.user_agent.as_deref().is_some_and(is_scanner) {
                return Handled::Dropped(Dropped::Scanner);
            }
            let subscribe = shared.serves_events && request.method == Method::Subscribe;
            if !trusted && !subscribe {
                if request.method == Method::Ack {
                    return Handled::Dropped(Dropped::NotAGateway);
                }
                // RFC 3261 §8.2.7: answered statelessly; nothing is remembered of strangers.
                return refuse(
                    shared,
                    &request.echo,
                    &Error::Forbidden(flow.remote.ip()),
                    flow,
                );
            }
            // Overload control: a new call that waited too long is refused before it costs a
            // route or a dialog; requests of calls and subscriptions in progress go on.
            let new_call = request.method == Method::Invite && !request.to.params.has("tag");
            if new_call && waited >= limits.max_queue_delay {
                return refuse(shared, &request.echo, &Error::Congested(waited), flow);
            }
            Handled::Core(
                shared.with_core(|core, out| core.on_request(*request, flow, trusted, now, out)),
            )
        }
    }
}

/// A stateless error answer from the funnel itself.
fn refuse(shared: &Arc<Shared>, echo: &wire::Echo, error: &Error, flow: Flow) -> Handled {
    let Some(status) = error.status() else {
        return Handled::Dropped(Dropped::Unreadable);
    };
    let tag = shared.tags.of(echo);
    // The funnel refuses with 400-class answers and 503, which need no Allow.
    let retry_after = shared.limits.retry_after_seconds;
    if let Some(bytes) = error_response(echo, error, Some(&tag), flow.remote, "", retry_after) {
        Out { shared }.send(&flow, bytes);
    }
    Handled::Refused(status.code())
}

/// Reads and handles datagrams, one at a time where they are read, until the listener stops.
/// The kernel's receive buffer is the only queue: the time a datagram spent there is the
/// funnel's measure of how far behind the listener is (`Limits::max_queue_delay`), and what
/// does not fit in it is dropped by the kernel, as for any UDP server.
pub(crate) async fn serve_udp(shared: Arc<Shared>, socket: UdpSocket) {
    if let Err(error) = umbox_net::udp::prepare(&socket) {
        warn!(%error, "udp arrival stamps unavailable; overload control sees no delay");
    }
    // The largest UDP payload; bigger messages cannot arrive in one datagram anyway.
    let mut buffer = vec![0u8; 65_535];
    loop {
        match umbox_net::udp::receive(&socket, &mut buffer).await {
            Ok(received) => {
                let flow = Flow {
                    transport: Transport::Udp,
                    remote: received.remote,
                    conn: None,
                };
                let bytes = buffer.get(..received.len).unwrap_or_default();
                inbound(&shared, bytes, flow, received.waited());
            }
            // ICMP errors from earlier sends surface here (ECONNREFUSED); keep listening.
            Err(error) => debug!(%error, "udp receive failed"),
        }
    }
}

/// Accepts TCP connections until the listener stops.
pub(crate) async fn serve_tcp(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors and the like: back off instead of spinning.
                warn!(%error, "tcp accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let trusted = shared.peers.is_trusted(remote.ip());
        let added = {
            let mut connections = lock(&shared.connections);
            connections
                .admits(remote, trusted, &shared.limits)
                .then(|| connections.add(remote, trusted))
        };
        let Some((id, receiver)) = added else {
            debug!(%remote, "too many tcp connections; refused");
            continue;
        };
        let task_shared = shared.clone();
        shared.spawn(serve_connection(task_shared, stream, remote, id, receiver));
    }
}

/// Reads frames (RFC 3261 §18.3) from one connection and writes what is queued for it.
async fn serve_connection(
    shared: Arc<Shared>,
    mut stream: TcpStream,
    remote: SocketAddr,
    id: ConnId,
    mut queue: mpsc::Receiver<Bytes>,
) {
    let flow = Flow {
        transport: Transport::Tcp,
        remote,
        conn: Some(id),
    };
    let (mut reader, mut writer) = stream.split();
    let limits = shared.limits;
    let mut buffer = BytesMut::with_capacity(4096);
    let result: Result<(), &'static str> = async {
        loop {
            // Take every complete frame already buffered.
            loop {
                match frame(&buffer, limits.max_message_bytes, limits.max_body_bytes) {
                    Frame::NeedMore => break,
                    Frame::KeepAlive(len) => {
                        // RFC 5626 §3.5.1: a CRLF CRLF ping gets a CRLF pong.
                        if len >= 4 {
                            writer.write_all(b"\r\n").await.map_err(|_| "write failed")?;
                        }
                        buffer.advance(len);
                    }
                    Frame::Message(len) => {
                        let message = buffer.split_to(len);
                        inbound(&shared, &message, flow, Duration::ZERO);
                    }
                    Frame::Invalid => return Err("unframeable data"),
                }
            }
            tokio::select! {
                read = tokio::time::timeout(limits.tcp_idle_timeout, reader.read_buf(&mut buffer)) => {
                    match read {
                        Ok(Ok(0)) => return Ok(()),
                        Ok(Ok(_)) => {}
                        Ok(Err(_)) => return Err("read failed"),
                        Err(_) => return Err("idle"),
                    }
                }
                next = queue.recv() => {
                    let Some(bytes) = next else { return Ok(()) };
                    writer.write_all(&bytes).await.map_err(|_| "write failed")?;
                }
            }
        }
    }
    .await;
    if let Err(reason) = result {
        debug!(%remote, reason, "tcp connection closed");
    }
    lock(&shared.connections).remove(id);
}

/// Runs the core's timers until the listener stops.
pub(crate) async fn serve_timers(shared: Arc<Shared>) {
    loop {
        let next = lock(&shared.core).next_deadline();
        match next {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = shared.wake.notified() => continue,
                }
            }
            None => {
                shared.wake.notified().await;
                continue;
            }
        }
        let now = Instant::now();
        shared.with_core(|core, out| core.on_timers(now, out));
    }
}

/// Hands dialog events to the UM side in order; a closed receiver drops them (and with them
/// the reply channels, which refuses those calls with 503).
pub(crate) async fn forward_events(
    mut internal: mpsc::UnboundedReceiver<DialogEvent>,
    external: mpsc::Sender<DialogEvent>,
) {
    while let Some(event) = internal.recv().await {
        if external.send(event).await.is_err() {
            debug!("no call handler; event dropped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_connections: 8,
            max_connections_per_source: 2,
            ..Limits::default()
        }
    }

    #[test]
    fn sources_that_are_not_gateways_get_a_capped_share_and_gateways_the_rest() {
        let limits = limits();
        let mut connections = Connections::default();
        let phone: SocketAddr = "192.0.2.1:5060".parse().unwrap();
        let at = |n: u16| SocketAddr::new(phone.ip(), 6000 + n);
        for n in 0..2 {
            assert!(connections.admits(at(n), false, &limits));
            let _ = connections.add(at(n), false);
        }
        assert!(!connections.admits(at(9), false, &limits), "per-source cap");
        // Other sources fill the three quarters not kept for gateways (6 of 8).
        for n in 0..4u8 {
            let other = SocketAddr::from(([198, 51, 100, n], 5060));
            assert!(connections.admits(other, false, &limits));
            let _ = connections.add(other, false);
        }
        let late = SocketAddr::from(([203, 0, 113, 1], 5060));
        assert!(
            !connections.admits(late, false, &limits),
            "the gateways' quarter"
        );
        let gateway = SocketAddr::from(([203, 0, 113, 9], 5060));
        for port in 0..2 {
            let gateway = SocketAddr::new(gateway.ip(), 7000 + port);
            assert!(connections.admits(gateway, true, &limits));
            let _ = connections.add(gateway, true);
        }
        assert!(
            !connections.admits(gateway, true, &limits),
            "the whole limit"
        );
    }
}
