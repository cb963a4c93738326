//! Integration tests: the real `umbox` binary on loopback, driven by real clients.

mod autodiscover_https;
mod cli;
mod dns_reload;
mod ews_js;
mod ews_js_streaming;
mod exchangelib_autodiscover;
mod exchangelib_find;
mod exchangelib_items;
mod exchangelib_notify;
mod exchangelib_people;
mod harness;
mod http_surface;
mod inproc;
mod notify_restart;
mod notify_stream;
