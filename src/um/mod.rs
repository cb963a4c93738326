//! Unified messaging logic: what happens to a call once SIP has turned it into typed values.
//!
//! [`router`] decides where a call to a voicemail pilot goes. This module never sees bytes,
//! sockets or raw SIP headers (`sip` hands it typed values) and keeps no call state.

pub mod router;
