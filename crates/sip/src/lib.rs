//! SIP for the unified messaging call pipeline: the call router's and the media server's
//! signalling (RFC 3261 over UDP and TCP).
//!
//! Layers, outermost first; dependencies point inward:
//! - `transport`: sockets and the one inbound funnel, `transport::inbound` (size caps,
//!   per-source rate limit, access control, the summary log line). Bytes only.
//! - [`wire`] and [`types`] (re-exported from `umbox-sip-proto`): the one reader and writer of
//!   SIP text and its typed values.
//! - `endpoint`: the per-listener core: transaction matching, request checks, OPTIONS, and
//!   dispatch to the [`policy::InviteRouter`] or to [`dialog`]. Sans-IO: typed in, effects out.
//! - [`transaction`]: RFC 3261 §17 state machines and timers A–L.
//! - [`dialog`]: the media server's dialogs and the channel API UM code plugs into.
//! - [`subscribe`]: event subscriptions (RFC 6665) on the call router, with `digest`'s
//!   server nonces for the users who must authenticate.
//!
//! [`Listener`] is the wiring entry point; [`policy`] holds the traits through which the business
//! side (`umbox-um`) says which sources are served and where a call goes. This crate never
//! decides either itself, never touches media, mailboxes or the directory, and never depends on
//! `umbox-um`, `umbox-ews`, `umbox-store` or `umbox-base`.

mod access;
pub mod dialog;
mod digest;
mod endpoint;
mod listener;
pub mod policy;
pub mod subscribe;
pub mod transaction;
mod transport;

pub use access::Rate;
pub use endpoint::{Stats, Transport};
pub use listener::{Limits, Listener, Options, Role};

pub use umbox_sip_proto::{types, wire, Error};
