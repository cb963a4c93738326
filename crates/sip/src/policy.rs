//! The seams through which the business side steers a listener: which sources it serves
//! ([`Peers`]), where the router sends a call ([`InviteRouter`]), and who may subscribe to what
//! event state ([`EventServer`]).
//!
//! `umbox-um` implements both over the directory and the server wires them in; this crate never
//! learns what a gateway, a dial plan or a mailbox is, and hands the router only typed values.

use std::fmt;
use std::net::IpAddr;

use crate::wire::diversion::{Diversion, HistoryInfo};
use crate::wire::grammar::{SipUri, Uri};
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

/// What a SUBSCRIBE asks for, as the core parsed it.
#[derive(Debug, Clone, Copy)]
pub struct SubscribeTarget<'a> {
    /// The Request-URI: whose state is asked for.
    pub request_uri: &'a SipUri,
    /// The From URI: who asks.
    pub from: &'a Uri,
    /// The event package (RFC 6665 §8.2.1).
    pub package: &'a str,
}

/// Who is subscribing, once the core has checked it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscriber<'a> {
    /// A trusted peer ([`Peers::is_trusted`]) subscribing on behalf of its users; not
    /// authenticated further.
    Gateway(IpAddr),
    /// A user whose digest credentials checked out, by the identity [`Credential`] named.
    User(&'a str),
}

/// What the business side stores for a digest username (RFC 7616 §3.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Who the username is, passed back in [`Subscriber::User`].
    pub identity: String,
    /// HA1 = H(username:realm:password) in lower-case hex.
    pub ha1: String,
}

/// The business side of event subscriptions (RFC 6665) on a listener: which packages it
/// serves, who may subscribe to what, and the stored digest credentials of users. The listener
/// keeps the subscriptions (dialogs, expiry, NOTIFY transactions) and never learns what a
/// resource is: the answer of [`EventServer::resolve`] is an opaque name that the business side
/// publishes state for through `sip::subscribe::SubscriptionHandle::publish`.
pub trait EventServer: Send + Sync + fmt::Debug {
    /// The packages served, for Allow-Events and 489 (RFC 6665 §4.2.1.1).
    fn packages(&self) -> &'static [&'static str];

    /// The digest realm users authenticate in for `target`.
    fn realm(&self, target: &SubscribeTarget<'_>) -> String;

    /// The stored credential of digest user `username` in `realm`, if any.
    fn credential(
        &self,
        username: &str,
        realm: &str,
        algorithm: crate::wire::digest::Algorithm,
    ) -> Option<Credential>;

    /// The resource `subscriber` asks to watch, or why not: [`Error::UnknownResource`] (404),
    /// [`Error::NotPermitted`] (403).
    fn resolve(
        &self,
        subscriber: &Subscriber<'_>,
        target: &SubscribeTarget<'_>,
    ) -> Result<String, Error>;

    /// The wall-clock time, for stored subscriptions' expiry across restarts.
    fn now(&self) -> std::time::SystemTime;
}
