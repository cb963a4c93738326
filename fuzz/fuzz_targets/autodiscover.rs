//! POX and SOAP Autodiscover requests from an authenticated user: any body gets an answer (a
//! document or a fault), never a panic.
#![no_main]

use std::sync::OnceLock;
use std::time::UNIX_EPOCH;

use libfuzzer_sys::fuzz_target;
use umbox_base::config::Site;
use umbox_base::directory::Directory;

fn fixture() -> &'static (Directory, Site) {
    static FIXTURE: OnceLock<(Directory, Site)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let scratch = std::env::temp_dir().join("umbox-fuzz-autodiscover");
        let site = umbox_testkit::loopback_config(&scratch).site(443, 5060);
        (Directory::demo().expect("demo directory"), site)
    })
}

fuzz_target!(|data: &[u8]| {
    let (directory, site) = fixture();
    let caller = &directory.users[0];
    let request = umbox_autodiscover::Request {
        body: data,
        caller,
        directory,
        site,
        now: UNIX_EPOCH,
    };
    let _ = umbox_autodiscover::pox(&request);
    let _ = umbox_autodiscover::soap(&request);
});
