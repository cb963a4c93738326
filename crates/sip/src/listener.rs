//! The wiring entry point: [`Listener::start`] turns a bound UDP socket and TCP listener into a
//! running SIP listener in one of two roles, and [`Listener::shutdown`] stops it.
//!
//! Owns every task of the listener (socket loops, timers, event forwarding) and nothing else;
//! never binds sockets itself (the caller does, so tests use port 0) and never reads config.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::info;

use super::access::Rate;
use super::dialog::{DialogEvent, DialogHandle, Dialogs};
use super::endpoint::{Core, CoreLimits, Local, Stats, Tu};
use super::policy::{InviteRouter, Peers};
use super::subscribe::{EventService, SubscriptionHandle, Subscriptions};
use super::transaction::Timers;
use super::transport::{self, Shared};
use super::types::{IdSource, RandomIds};
use super::wire::grammar::Host;
use super::Error;

/// What a listener does with calls.
#[derive(Debug)]
pub enum Role {
    /// The call router (port 5060 by default): INVITEs to pilot numbers get a 302 to the media
    /// server holding the called mailbox, or 404, answered statelessly (RFC 3261 §8.2.7): no
    /// transaction or call state is kept for them.
    Router {
        /// Decides each INVITE's redirect.
        router: Arc<dyn InviteRouter>,
        /// Event subscriptions (RFC 6665) served beside the redirects, if any.
        events: Option<EventService>,
    },
    /// The media server's signalling (port 5062 by default): calls become dialogs and
    /// [`DialogEvent`]s on `events`.
    MediaServer {
        /// Where the UM side receives calls; keep it drained.
        events: mpsc::Sender<DialogEvent>,
    },
}

/// Caps and rates of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message (UDP datagram, or TCP head) handled; larger ones are dropped.
    pub max_message_bytes: usize,
    /// Largest body; a larger Content-Length gets 513 (UDP) or closes the TCP connection.
    pub max_body_bytes: usize,
    /// Most header values in one message.
    pub max_fields: usize,
    /// Media server: calls being set up or in progress before new INVITEs get 503 with
    /// Retry-After (Exchange's MaxCallsAllowed is 100 per UM server).
    pub max_calls: usize,
    /// Overload: a new INVITE that waited this long in the UDP socket's receive buffer (from the
    /// kernel's arrival stamp to its handling) gets 503 with Retry-After instead of being routed
    /// or set up. The wait is what the listener cannot keep up with, so 503s start only under
    /// real pressure and stop as soon as the buffer is short again; they are stateless, so nothing outlives the load. Past T1 a UDP
    /// caller has already retransmitted, so a later answer only adds to the load. (TCP
    /// connections are read at the pace they are served: the peer's sending waits instead.)
    pub max_queue_delay: Duration,
    /// Server transactions alive at once (each lingers up to 32 s after its answer to absorb
    /// retransmissions); beyond it new requests that need one get 503 with Retry-After. The
    /// router's redirects are stateless and need none.
    pub max_transactions: usize,
    /// Retry-After seconds sent with 503.
    pub retry_after_seconds: u32,
    /// How long the UM side may take to accept or reject a call before it gets 480.
    pub answer_timeout: Duration,
    /// Message rate of each configured gateway.
    pub gateway_rate: Rate,
    /// Message rate of any other source (answered 403 within it, dropped beyond).
    pub other_rate: Rate,
    /// Non-gateway sources tracked at once by the rate limiter.
    pub max_tracked_sources: usize,
    /// Open TCP connections, inbound and outbound. A quarter of them is kept for gateways:
    /// other sources together may hold only the rest, each at most
    /// [`Limits::max_connections_per_source`], so no source that is not a gateway can starve one.
    pub max_connections: usize,
    /// Inbound TCP connections one source that is not a gateway may hold (a phone needs one).
    pub max_connections_per_source: usize,
    /// A TCP connection silent this long is closed (gateways ping with OPTIONS far more often).
    pub tcp_idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 16 * 1024,
            max_body_bytes: 8 * 1024,
            max_fields: 128,
            max_calls: 100,
            max_queue_delay: Duration::from_millis(500),
            max_transactions: 200_000,
            retry_after_seconds: 10,
            answer_timeout: Duration::from_secs(30),
            // Gateways are configured, trusted peers: their cap only stops a runaway one (a
            // signalling loop) from starving the rest, far above any real call load.
            gateway_rate: Rate {
                per_second: 25_000,
                burst: 50_000,
            },
            other_rate: Rate {
                per_second: 20,
                burst: 40,
            },
            max_tracked_sources: 65_536,
            max_connections: 1024,
            max_connections_per_source: 8,
            tcp_idle_timeout: Duration::from_secs(600),
        }
    }
}

/// Everything a listener needs besides its sockets and role.
#[derive(Debug, Clone)]
pub struct Options {
    /// The sources served (the gateway allow-list).
    pub peers: Arc<dyn Peers>,
    /// Caps and rates.
    pub limits: Limits,
    /// T1, T2, T4.
    pub timers: Timers,
    /// Host written in our Via and Contact; default the UDP socket's address (set it when
    /// binding a wildcard address).
    pub advertise: Option<Host>,
    /// Source of tags, branches and Call-IDs.
    pub ids: Arc<dyn IdSource>,
}

impl Options {
    /// Defaults around an allow-list.
    pub fn new(peers: Arc<dyn Peers>) -> Options {
        Options {
            peers,
            limits: Limits::default(),
            timers: Timers::default(),
            advertise: None,
            ids: Arc::new(RandomIds::default()),
        }
    }
}

/// A running SIP listener (UDP and TCP on the caller's sockets).
#[derive(Debug)]
pub struct Listener {
    shared: Arc<Shared>,
    tasks: JoinSet<()>,
    udp_addr: SocketAddr,
    tcp_addr: SocketAddr,
    media: bool,
    serves_events: bool,
}

impl Listener {
    /// Starts serving `udp` and `tcp` in `role`. Call inside a Tokio runtime.
    pub fn start(
        udp: UdpSocket,
        tcp: TcpListener,
        role: Role,
        options: Options,
    ) -> Result<Listener, Error> {
        let io = |what| move |source| Error::Io { what, source };
        let udp_addr = udp.local_addr().map_err(io("udp local address"))?;
        let tcp_addr = tcp.local_addr().map_err(io("tcp local address"))?;
        // Sends go out on a second handle of the same non-blocking socket, so the core can
        // send without awaiting (see `transport`).
        let sender = {
            use std::os::fd::AsFd;
            let fd = udp
                .as_fd()
                .try_clone_to_owned()
                .map_err(io("udp socket clone"))?;
            std::net::UdpSocket::from(fd)
        };
        let local = Local {
            host: options.advertise.clone().unwrap_or(Host::Ip(udp_addr.ip())),
            port: udp_addr.port(),
        };
        let limits = CoreLimits {
            max_calls: options.limits.max_calls,
            max_transactions: options.limits.max_transactions,
            retry_after: options.limits.retry_after_seconds,
            answer_timeout: options.limits.answer_timeout,
        };
        let mut tasks = JoinSet::new();
        let (tu, events, name) = match role {
            Role::Router { router, events } => {
                let max_sources = options.limits.max_tracked_sources;
                let subscriptions = events.map(|service| {
                    Box::new(Subscriptions::new(
                        service,
                        options.ids.as_ref(),
                        max_sources,
                        tokio::time::Instant::now(),
                    ))
                });
                let tu = Tu::Router {
                    router,
                    events: subscriptions,
                };
                (tu, None, "router")
            }
            Role::MediaServer { events } => {
                let (internal, receiver) = mpsc::unbounded_channel();
                tasks.spawn(transport::forward_events(receiver, events));
                (Tu::Media(Dialogs::default()), Some(internal), "media")
            }
        };
        let media = events.is_some();
        let serves_events = matches!(
            tu,
            Tu::Router {
                events: Some(_),
                ..
            }
        );
        let core = Core::new(tu, local, limits, options.timers, options.ids.clone());
        let shared = Arc::new(Shared::new(
            core,
            sender,
            events,
            options.peers,
            options.limits,
            name,
        ));
        tasks.spawn(transport::serve_udp(shared.clone(), udp));
        tasks.spawn(transport::serve_tcp(shared.clone(), tcp));
        tasks.spawn(transport::serve_timers(shared.clone()));
        info!(listener = name, udp = %udp_addr, tcp = %tcp_addr, "sip listening");
        Ok(Listener {
            shared,
            tasks,
            udp_addr,
            tcp_addr,
            media,
            serves_events,
        })
    }

    /// The bound UDP address.
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp_addr
    }

    /// The bound TCP address.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// The hang-up handle of a media server listener (`None` for the router).
    pub fn dialogs(&self) -> Option<DialogHandle> {
        self.media.then(|| DialogHandle {
            shared: self.shared.clone(),
        })
    }

    /// The subscription handle of a router listener serving events (`None` otherwise).
    pub fn subscriptions(&self) -> Option<SubscriptionHandle> {
        self.serves_events.then(|| SubscriptionHandle {
            shared: self.shared.clone(),
        })
    }

    /// What the listener holds right now.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Refuses new calls from now on with 503 and Retry-After, so gateways try another server;
    /// calls and subscriptions in progress go on until [`Listener::shutdown`].
    pub fn drain(&self) {
        self.shared.drain();
    }

    /// Stops every task; calls in progress are abandoned without BYE.
    pub async fn shutdown(mut self) {
        self.tasks.shutdown().await;
        self.shared.stop_tasks().await;
    }
}

impl Drop for Listener {
    /// Dropping without [`Listener::shutdown`] still stops everything: the socket and timer
    /// tasks with the listener's own set, and the connection and decision tasks (which hold
    /// the shared state, so would otherwise keep it alive) here.
    fn drop(&mut self) {
        self.shared.close();
    }
}
