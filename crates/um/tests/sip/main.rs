//! The SIP listeners driven by the unified messaging router over real sockets: RFC 3261 timers
//! on Tokio's paused clock, sipp scenarios, and RFC 4475-style torture messages.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

mod interop;
mod support;
mod timers;
mod torture;
