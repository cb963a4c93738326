//! The store's record decoders, fed what a damaged database file could hold: refused with an
//! error or read, and a record that reads is written in a stable canonical form.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| umbox_store::fuzzing::records(data));
