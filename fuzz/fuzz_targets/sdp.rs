//! SDP offers: anything that parses is written back, and what we write parses to the same text
//! (parse → write → parse).
#![no_main]

use libfuzzer_sys::fuzz_target;
use umbox_media::sdp::SessionDescription;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = SessionDescription::parse(data) {
        let written = parsed.to_bytes();
        let again = SessionDescription::parse(&written).expect("our own SDP parses");
        assert_eq!(again.to_bytes(), written, "write is stable");
    }
});
