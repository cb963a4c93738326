//! umbox: the Exchange-side surface (Autodiscover, EWS, notifications) and a unified messaging call
//! pipeline (SIP, RTP, voicemail delivery) in one server.
//!
//! `main.rs` parses the command line and calls [`server::run`] or an [`admin`] command; everything else
//! lives in one module per protocol surface. `docs/ARCHITECTURE.md` maps them.

pub mod admin;
pub mod autodiscover;
pub mod config;
pub mod directory;
pub mod dns;
pub mod http;
pub mod server;
pub mod store;
pub mod xml;
