//! DNS transport: hickory-server's listener on a bound UDP socket, our TCP listener (`dns::tcp`),
//! and the one `RequestHandler` both use, which turns each decoded request into a [`Question`] for
//! the current [`ZoneSet`].
//!
//! Holds no DNS rules (`dns::zone` picks every rcode and record); it only copies header bits, EDNS and
//! records between hickory's types and ours, and logs one event per request. Packets too short for a
//! header are dropped and undecodable ones get FORMERR, before this handler runs.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

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

/// Largest UDP payload we advertise in EDNS: the DNS Flag Day 2020 value, which avoids IP fragmentation.
const MAX_UDP_PAYLOAD: u16 = 1232;

/// A running authoritative DNS server; dropping it aborts the listeners, [`DnsServer::shutdown`] stops
/// them cleanly.
pub struct DnsServer {
    server: Server<ZoneHandler>,
    tcp: tokio::task::JoinHandle<()>,
    udp_addr: SocketAddr,
    tcp_addr: SocketAddr,
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.tcp.abort();
    }
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
        let handler = ZoneHandler {
            zones,
            limiter: Arc::new(Limiter::new(settings)),
        };
        let tcp = tokio::spawn(super::tcp::serve(tcp, handler.clone()));
        let mut server = Server::new(handler);
        server.register_socket(udp);
        tracing::info!(udp = %udp_addr, tcp = %tcp_addr, "dns listening");
        Ok(DnsServer {
            server,
            tcp,
            udp_addr,
            tcp_addr,
        })
    }

    /// Stops accepting requests and waits for the listeners to finish.
    ///
    /// # Errors
    /// [`Error::Listener`] when a listener had already stopped with an error.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        // The TCP listener holds no state worth finishing: open connections just close.
        self.tcp.abort();
        self.server
            .shutdown_gracefully()
            .await
            .map_err(Error::Listener)
    }
}

/// Answers every decoded request from the latest published zone set, within the UDP response
/// rate limit.
#[derive(Clone)]
pub(crate) struct ZoneHandler {
    pub(crate) zones: watch::Receiver<Arc<ZoneSet>>,
    pub(crate) limiter: Arc<Limiter>,
}

#[async_trait::async_trait]
impl RequestHandler for ZoneHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        self.reply(request, response_handle).await
    }
}

impl ZoneHandler {
    pub(crate) async fn reply<R: ResponseHandler>(
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
