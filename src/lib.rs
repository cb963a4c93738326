//! umbox: the Exchange-side surface (Autodiscover, EWS, notifications) and a unified messaging call
//! pipeline (SIP, RTP, voicemail delivery) in one server.
//!
//! `main.rs` parses the command line and calls [`server::run`] or an [`admin`] command; everything else
//! lives in one module per protocol surface. `docs/ARCHITECTURE.md` maps them.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::print_stdout,
        clippy::print_stderr,
        clippy::dbg_macro
    )
)]
#![warn(missing_docs)]

pub mod admin;
pub mod autodiscover;
pub mod clock;
pub mod config;
pub mod directory;
pub mod dns;
pub mod ews;
pub mod fsio;
pub mod http;
pub mod media;
pub mod notify;
pub mod server;
pub mod sip;
pub mod store;
pub mod um;
pub mod xml;
