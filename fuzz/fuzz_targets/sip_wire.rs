//! The SIP message reader, as a datagram and as a stream frame, with the listener's limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use umbox_sip_proto::wire::{parse, Framing, ReadLimits};

fuzz_target!(|data: &[u8]| {
    let limits = ReadLimits {
        max_fields: 128,
        max_body: 16 * 1024,
    };
    let _ = parse(data, Framing::Datagram, limits);
    let _ = parse(data, Framing::Stream, limits);
});
