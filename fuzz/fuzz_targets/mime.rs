//! Internet messages (EWS `MimeContent`): read or refused, and what is read survives our writer
//! (the round trip is in `umbox_ews::fuzzing::mime`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| umbox_ews::fuzzing::mime(data));
