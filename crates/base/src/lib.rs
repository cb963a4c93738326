//! What every umbox layer shares: the clock ([`clock`]), atomic file writes ([`fsio`]), the
//! configuration file with its command-line overrides ([`config`]), the directory of users, dial
//! plans, policies and gateways ([`directory`]), and the one Exchange version and build umbox
//! reports ([`version`]).
//!
//! Never depends on a protocol crate, the store or the network: it is the innermost layer besides
//! `umbox-xml` and `umbox-store`.

pub mod clock;
pub mod config;
pub mod directory;
pub mod fsio;
pub mod version;
