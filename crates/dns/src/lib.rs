//! Authoritative DNS for the served domains: SOA, NS, A/AAAA and the Autodiscover and SIP SRV records
//! that let clients find this server from an e-mail address (RFC 1034/1035, RFC 2782, RFC 2308).
//!
//! Two layers. [`zone`] is pure: it builds a [`ZoneSet`] from a [`umbox_base::config::Site`] and a serial,
//! and answers a typed question with a typed answer (rcode, AA, records borrowed from the zone). [`server`]
//! is the transport: hickory-server's UDP listener and our TCP one (`tcp`, whose accept loop is
//! bounded by `umbox-net`) decode packets and answer undecodable ones with FORMERR; one
//! `RequestHandler` asks the current `ZoneSet` and writes what it says.
//!
//! `rrl` limits UDP responses per source network (response rate limiting with slip), so the server
//! cannot serve as an amplifier for spoofed floods; TCP is never limited.
//!
//! The zone data follows configuration and directory changes without a restart: [`DnsServer::start`]
//! takes a `watch::Receiver<Arc<ZoneSet>>` and every request reads the latest published set.
//!
//! Never reads configuration files or the directory itself (the server wiring builds and publishes
//! `ZoneSet`s); never recurses, forwards or transfers zones; no module outside `dns` names hickory.
//! Entry points: [`ZoneSet::build`], [`DnsServer::start`], [`DnsServer::shutdown`].

#[cfg(fuzzing)]
pub mod fuzzing;
mod rrl;
mod server;
mod tcp;
mod zone;

pub use server::DnsServer;
pub use zone::ZoneSet;

/// Errors of the DNS surface.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// [`DnsServer::start`] was called outside a tokio runtime, so its listener tasks had nowhere to run.
    #[error("the dns server must be started inside a tokio runtime")]
    NoRuntime,
    /// A socket handed to [`DnsServer::start`] has no local address (it was not bound).
    #[error("dns {transport} socket has no local address: {source}")]
    LocalAddr {
        /// `udp` or `tcp`.
        transport: &'static str,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A listener task ended with an error; reported when the server is shut down.
    #[error("dns listener failed: {0}")]
    Listener(#[source] hickory_server::net::NetError),
    /// A domain, host or record name cannot be written as a DNS name; that zone or record was left out
    /// of the [`ZoneSet`] (see [`ZoneSet::problems`]).
    #[error("{name:?} cannot be served as a dns name: {reason}")]
    InvalidName {
        /// The name as configured or as derived from a configured domain.
        name: String,
        /// Why hickory refused it (bad label, longer than 255 octets…).
        reason: String,
    },
}
