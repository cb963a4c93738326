//! umbox: the Exchange-side surface (Autodiscover, EWS, notifications) and a unified messaging call
//! pipeline (SIP, RTP, voicemail delivery) in one server.
//!
//! This crate is the server's wiring and its command line: [`server`] starts every listener over
//! the crates of the workspace, [`admin`] runs the directory commands, [`systemd`] tells a
//! service manager when the server is ready and when it stops, [`heap`] tunes and reports the
//! allocator, and `main.rs` parses arguments and
//! calls one of them. Protocol logic lives in the `umbox-*` crates;
//! `docs/ARCHITECTURE.md` maps them.

pub mod admin;
pub mod heap;
pub mod server;
pub mod systemd;
