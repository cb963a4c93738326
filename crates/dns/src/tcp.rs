//! DNS over TCP (RFC 1035 §4.2.2, RFC 7766): each message framed by a two-byte length, answered
//! in order on the connection it came on. Connections are accepted by `umbox_net::accept` (a cap
//! on open connections and per source network, back-off when `accept` fails) rather than by
//! hickory's TCP loop, which retries a failing `accept` at once and spins when descriptors run
//! out. A connection idle for [`IDLE_TIMEOUT`] or slower than that to deliver a message or take
//! an answer is closed, so slow clients cannot pin connections.
//!
//! Holds no DNS rules: requests are decoded by hickory and answered by the same handler as UDP.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Header, Message, Metadata, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncoder};
use hickory_server::net::xfer::Protocol;
use hickory_server::net::NetError;
use hickory_server::server::{Request, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use umbox_net::accept::{self, Limits};

use super::server::ZoneHandler;

/// Knot's default idle timeout: the longest a connection may wait between messages, and for the
/// rest of a message or the client's reading of an answer.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Resolvers open few connections: 256 in all and 16 per source network are ample, and a flood
/// waits in the kernel's backlog instead.
const LIMITS: Limits = Limits {
    connections: 256,
    per_source: 16,
};

/// Accepts and serves connections until the task is dropped.
pub(crate) async fn serve(listener: TcpListener, handler: ZoneHandler) {
    let handler = Arc::new(handler);
    accept::serve(listener, LIMITS, move |tcp, peer| {
        connection(tcp, peer, Arc::clone(&handler))
    })
    .await;
}

async fn connection(mut tcp: TcpStream, peer: SocketAddr, handler: Arc<ZoneHandler>) {
    loop {
        let mut length = [0u8; 2];
        if !within_timeout(tcp.read_exact(&mut length)).await {
            return;
        }
        let mut message = vec![0u8; usize::from(u16::from_be_bytes(length))];
        if !within_timeout(tcp.read_exact(&mut message)).await {
            return;
        }
        let Some(response) = answer(&handler, message, peer, Protocol::Tcp).await else {
            return;
        };
        let Ok(length) = u16::try_from(response.len()) else {
            return;
        };
        let mut framed = Vec::with_capacity(2 + response.len());
        framed.extend_from_slice(&length.to_be_bytes());
        framed.extend_from_slice(&response);
        if !within_timeout(tcp.write_all(&framed)).await {
            return;
        }
    }
}

async fn within_timeout<T>(io: impl std::future::Future<Output = std::io::Result<T>>) -> bool {
    matches!(tokio::time::timeout(IDLE_TIMEOUT, io).await, Ok(Ok(_)))
}

/// The encoded answer to one request: the handler's, or FORMERR when hickory cannot decode
/// the message past its header. `None` when not even the header decodes (nothing to answer) or
/// the handler sent nothing.
pub(crate) async fn answer(
    handler: &ZoneHandler,
    message: Vec<u8>,
    peer: SocketAddr,
    protocol: Protocol,
) -> Option<Vec<u8>> {
    let header = Header::read(&mut BinDecoder::new(&message)).ok()?;
    let Ok(request) = Request::from_bytes(message, peer, protocol) else {
        return format_error(header.metadata);
    };
    let encoded = Encoded::new(protocol);
    handler.reply(&request, encoded.clone()).await;
    encoded.take()
}

/// RFC 1035 §4.1.1: FORMERR, with the request's id and opcode and no sections.
fn format_error(request: Metadata) -> Option<Vec<u8>> {
    let mut metadata = Metadata::response_from_request(&request);
    metadata.response_code = ResponseCode::FormErr;
    let mut response = Message::new(metadata.id, metadata.message_type, metadata.op_code);
    response.metadata = metadata;
    response.to_vec().ok()
}

/// A response handler that encodes the response, within the transport's size limit, and keeps
/// the bytes for the caller.
#[derive(Clone)]
pub(crate) struct Encoded {
    protocol: Protocol,
    bytes: Arc<Mutex<Option<Vec<u8>>>>,
}

impl Encoded {
    pub(crate) fn new(protocol: Protocol) -> Encoded {
        Encoded {
            protocol,
            bytes: Arc::default(),
        }
    }

    pub(crate) fn take(&self) -> Option<Vec<u8>> {
        self.bytes.lock().ok()?.take()
    }
}

#[async_trait::async_trait]
impl ResponseHandler for Encoded {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let mut bytes = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut bytes);
        // RFC 1035 §4.2.1 and RFC 6891 §6.2.3: a UDP answer fits the requester's advertised
        // payload size, 512 bytes without EDNS; TCP carries up to the frame's 65,535.
        let limit = match self.protocol {
            Protocol::Udp => response.edns().map_or(512, |edns| edns.max_payload()),
            _ => u16::MAX,
        };
        encoder.set_max_size(limit);
        let info = response.destructive_emit(&mut encoder)?;
        if let Ok(mut slot) = self.bytes.lock() {
            *slot = Some(bytes);
        }
        Ok(info)
    }
}
