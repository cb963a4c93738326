//! DNS requests through hickory's decoder and our handler on the demo site's zones, with the
//! response rate limiter on: every answer decodes, carries the request's id and is a response.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use umbox_dns::fuzzing::Target;
use umbox_dns::ZoneSet;

fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("umbox-fuzz-dns-{}", std::process::id()));
        let site = umbox_testkit::loopback_config(&dir).site(443, 5060);
        Target::new(ZoneSet::build(&site, 1))
    })
}

fuzz_target!(|data: &[u8]| target().run(data));
