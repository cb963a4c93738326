//! WAV files (greetings from EWS and the command line): anything read as G.711 is written back
//! and reads to the same samples.
#![no_main]

use libfuzzer_sys::fuzz_target;
use umbox_media::wav::{self, SampleFormat};

fuzz_target!(|data: &[u8]| {
    let Ok(read) = wav::read(data) else { return };
    if let SampleFormat::G711(law) = read.format {
        let written = wav::write_g711(law, read.data).expect("our own WAV writes");
        let again = wav::read(&written).expect("our own WAV reads");
        assert_eq!(again.data, read.data);
    }
});
