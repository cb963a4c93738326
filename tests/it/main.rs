//! Integration tests: the real `umbox` binary on loopback, driven by real clients.

mod cli;
mod dns_reload;
mod exchangelib_items;
mod ews_js;
mod harness;
mod http_surface;
