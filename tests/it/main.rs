//! Integration tests: the real `umbox` binary on loopback, driven by real clients.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

mod access_calls;
mod autodiscover_https;
mod baresip_call;
mod cli;
mod data_dir;
mod dns_reload;
mod ews_js;
mod ews_js_streaming;
mod exchangelib_autodiscover;
mod exchangelib_find;
mod exchangelib_items;
mod exchangelib_notify;
mod exchangelib_people;
mod golden;
mod greetings;
mod harness;
mod http_surface;
mod inproc;
mod metrics;
mod mwi;
mod notify_restart;
mod notify_stream;
mod operations;
mod server_version;
mod spool;
mod voicemail_calls;
