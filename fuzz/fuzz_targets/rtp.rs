//! RTP headers and RFC 4733 telephone events from any datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;
use umbox_media::{dtmf::TelephoneEvent, rtp};

fuzz_target!(|data: &[u8]| {
    if let Some((_, payload)) = rtp::read_packet(data) {
        let _ = TelephoneEvent::parse(payload);
    }
});
