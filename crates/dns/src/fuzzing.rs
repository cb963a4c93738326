//! Entry point for the `dns` fuzz target (compiled only under cargo-fuzz's `--cfg fuzzing`): one
//! request through hickory's decoder and our handler, as the TCP listener runs it
//! (`dns::tcp::answer`), over either transport. Whatever a client sends, an answer must decode,
//! carry the request's id and be marked a response.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use hickory_proto::op::{Header, Message, MessageType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use hickory_server::net::xfer::Protocol;
use tokio::sync::watch;

use super::rrl::Limiter;
use super::server::ZoneHandler;
use super::tcp::answer;
use super::zone::ZoneSet;
use umbox_base::config::Dns as Settings;

/// A handler fed from fuzz inputs, with the rate limiter it keeps between inputs.
pub struct Target {
    handler: ZoneHandler,
    runtime: tokio::runtime::Runtime,
    _zones: watch::Sender<Arc<ZoneSet>>,
}

impl Target {
    /// A handler answering from `zones` with the default response rate limit.
    pub fn new(zones: ZoneSet) -> Target {
        let (sender, receiver) = watch::channel(Arc::new(zones));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap_or_else(|error| panic!("a current-thread runtime: {error}"));
        Target {
            handler: ZoneHandler {
                zones: receiver,
                limiter: Arc::new(Limiter::new(Settings::default())),
            },
            runtime,
            _zones: sender,
        }
    }

    /// The input's first byte picks the transport (bit 0) and the source address (the rest, so the
    /// rate limiter sees a handful of sources); the remaining bytes are the DNS message.
    pub fn run(&self, input: &[u8]) {
        let Some((&selector, message)) = input.split_first() else {
            return;
        };
        let protocol = if selector & 1 == 0 {
            Protocol::Udp
        } else {
            Protocol::Tcp
        };
        let src = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, selector >> 1)), 53_000);
        let Some(bytes) =
            self.runtime
                .block_on(answer(&self.handler, message.to_vec(), src, protocol))
        else {
            return;
        };
        let request = Header::read(&mut BinDecoder::new(message))
            .unwrap_or_else(|error| panic!("answered a message without a header: {error}"));
        let response = Message::from_vec(&bytes)
            .unwrap_or_else(|error| panic!("our response does not decode: {error}"));
        assert_eq!(response.metadata.id, request.metadata.id, "response id");
        assert_eq!(
            response.metadata.message_type,
            MessageType::Response,
            "response flag"
        );
    }
}
