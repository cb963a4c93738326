//! DNS transport: hickory-server listeners on a bound UDP socket and TCP listener, and the one
//! `RequestHandler` that turns each decoded request into a [`Question`] for the current [`ZoneSet`].
//!
//! Holds no DNS rules (`dns::zone` picks every rcode and record); it only copies header bits, EDNS and
//! records between hickory's types and ours, and logs one event per request. Packets too short for a
//! header are dropped and undecodable ones get FORMERR, both inside hickory before this handler runs.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Header, HeaderCounts, Metadata};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use hickory_server::Server;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;

use super::rrl::{Limiter, Verdict};
use super::zone::{Question, ZoneSet};
use super::Error;
use umbox_base::config::Dns as Settings;

/// A TCP connection that sends no request for this long is closed (Knot's default idle timeout), so
/// idle clients cannot pin connections.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Responses queued per TCP connection before its writer applies back-pressure.
const TCP_RESPONSE_QUEUE: usize = 32;
/// Largest UDP payload we advertise in EDNS: the DNS Flag Day 2020 value, which avoids IP fragmentation.
const MAX_UDP_PAYLOAD: u16 = 1232;

/// A running authoritative DNS server; dropping it aborts the listeners, [`DnsServer::shutdown`] stops
/// them cleanly.
pub struct DnsServer {
    server: Server<ZoneHandler>,
    udp_addr: SocketAddr,
    tcp_addr: SocketAddr,
}

impl fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsServer")
            .field("udp", &self.udp_addr)
            .field("tcp", &self.tcp_addr)
            .finish_non_exhaustive()
    }
}

impl DnsServer {
    /// Starts serving on already-bound sockets (tests and the wiring bind port 0 first). Every request
    /// is answered from the `ZoneSet` most recently published on `zones`.
    ///
    /// Must be called inside a tokio runtime, which runs the listener tasks.
    ///
    /// # Errors
    /// [`Error::NoRuntime`] outside a runtime; [`Error::LocalAddr`] for a socket that is not bound.
    pub fn start(
        udp: UdpSocket,
        tcp: TcpListener,
        zones: watch::Receiver<Arc<ZoneSet>>,
        settings: Settings,
    ) -> Result<DnsServer, Error> {
        tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let udp_addr = udp.local_addr().map_err(|source| Error::LocalAddr {
            transport: "udp",
            source,
        })?;
        let tcp_addr = tcp.local_addr().map_err(|source| Error::LocalAddr {
            transport: "tcp",
            source,
        })?;
        let limiter = Limiter::new(settings);
        let mut server = Server::new(ZoneHandler { zones, limiter });
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_QUEUE);
        tracing::info!(udp = %udp_addr, tcp = %tcp_addr, "dns listening");
        Ok(DnsServer {
            server,
            udp_addr,
            tcp_addr,
        })
    }

    /// Stops accepting requests and waits for the listeners to finish.
    ///
    /// # Errors
    /// [`Error::Listener`] when a listener had already stopped with an error.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        self.server
            .shutdown_gracefully()
            .await
            .map_err(Error::Listener)
    }
}

/// Answers every decoded request from the latest published zone set, within the UDP response
/// rate limit.
struct ZoneHandler {
    zones: watch::Receiver<Arc<ZoneSet>>,
    limiter: Limiter,
}

impl RequestHandler for ZoneHandler {
    // hickory declares this method through `#[async_trait]`; this is that macro's expansion written out,
    // so umbox does not depend on async-trait for one impl.
    fn handle_request<'handler, 'request, 'future, R, T>(
        &'handler self,
        request: &'request Request,
        response_handle: R,
    ) -> Pin<Box<dyn Future<Output = ResponseInfo> + Send + 'future>>
    where
        R: ResponseHandler + 'future,
        T: Time + 'future,
        'handler: 'future,
        'request: 'future,
        Self: 'future,
    {
        Box::pin(self.reply(request, response_handle))
    }
}

impl ZoneHandler {
    async fn reply<R: ResponseHandler>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let verdict = match request.protocol() {
            Protocol::Udp => self
                .limiter
                .check(request.src().ip(), std::time::Instant::now()),
            _ => Verdict::Answer,
        };
        if verdict == Verdict::Drop {
            tracing::debug!(src = %request.src(), "dns response rate limited");
            return unsent(Metadata::response_from_request(&request.metadata));
        }
        // Clone the Arc so the watch lock is not held while the response is written; a set published
        // meanwhile serves the next request.
        let zones = Arc::clone(&self.zones.borrow());
        let queries = request.queries.queries();
        let question = Question {
            op_code: request.metadata.op_code,
            queries,
            edns_version: request.edns.as_ref().map(Edns::version),
        };
        let mut answer = zones.respond(&question);
        let truncated = verdict == Verdict::Truncate;
        if truncated {
            // RFC 1035 §4.1.1: TC with no records; the resolver asks again over TCP.
            answer.answers = &[];
            answer.soa = None;
            answer.additionals = &[];
        }

        // RFC 6891 §6.1.1: a request with OPT gets OPT back. Our payload size never exceeds the
        // client's, because hickory sizes the UDP reply by the value we advertise.
        let response_edns = request.edns.as_ref().map(|client| {
            let mut edns = Edns::new();
            edns.set_max_payload(client.max_payload().clamp(512, MAX_UDP_PAYLOAD));
            edns
        });
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = answer.authoritative;
        metadata.response_code = answer.rcode;
        metadata.truncation = truncated;
        let response = MessageResponseBuilder::new(&request.queries, response_edns.as_ref()).build(
            metadata,
            answer.answers,
            [],
            answer.soa,
            answer.additionals,
        );
        let sent = response_handle.send_response(response).await;

        let first = queries.first();
        tracing::debug!(
            src = %request.src(),
            name = first.map(|query| tracing::field::display(query.name())),
            r#type = first.map(|query| tracing::field::display(query.query_type())),
            rcode = ?answer.rcode,
            error = sent.as_ref().err().map(tracing::field::display),
            "dns request"
        );
        sent.unwrap_or_else(|_| unsent(metadata))
    }
}

/// What hickory is told about a response that could not be written; it only logs it.
fn unsent(metadata: Metadata) -> ResponseInfo {
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}
