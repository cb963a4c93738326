//! The XML parser under every SOAP surface: any bytes either parse within the limits or are
//! refused with an error; never a panic, never unbounded work.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = umbox_xml::parse(data, &umbox_xml::Limits::DEFAULT);
});
