//! Integration tests: the real `umbox` binary on loopback, driven by real clients.

mod cli;
mod harness;
mod http_surface;
