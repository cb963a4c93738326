//! The seams through which the business side steers a listener: which sources it serves
//! ([`Peers`]) and where the router sends a call ([`InviteRouter`]).
//!
//! `umbox-um` implements both over the directory and the server wires them in; this crate never
//! learns what a gateway, a dial plan or a mailbox is, and hands the router only typed values.

use std::fmt;
use std::net::IpAddr;

use crate::wire::diversion::{Diversion, HistoryInfo};
use crate::wire::grammar::SipUri;
use crate::Error;

/// Which sources a listener serves at all.
pub trait Peers: Send + Sync + fmt::Debug {
    /// Whether `source` is a trusted peer (a configured gateway). Others get 403 within their
    /// rate and are dropped beyond it.
    fn is_trusted(&self, source: IpAddr) -> bool;
}

/// What an INVITE says about whom it is for, as the funnel parsed it.
#[derive(Debug, Clone, Copy)]
pub struct InviteTarget<'a> {
    /// The Request-URI, whose user part is the dialled number.
    pub request_uri: &'a SipUri,
    /// Diversion entries, most recent first (RFC 5806).
    pub diversion: &'a [Diversion],
    /// History-Info entries as received (RFC 7044).
    pub history_info: &'a [HistoryInfo],
}

/// The router's answer to an INVITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// 302 Moved Temporarily to `contact`.
    Redirect {
        /// The Contact the caller is sent to (the listener adds `transport=tcp` where needed).
        contact: SipUri,
    },
    /// 404 Not Found: the number matched nothing.
    NotFound {
        /// The number that matched nothing.
        number: String,
    },
}

/// Decides where an INVITE to the call router goes.
pub trait InviteRouter: Send + Sync + fmt::Debug {
    /// The route for an INVITE from the trusted peer `source`. An error is answered with its
    /// status ([`Error::status`]). It runs inside the request's span, whose empty `called` field
    /// it may record.
    fn route(&self, source: IpAddr, target: &InviteTarget<'_>) -> Result<Route, Error>;
}
