//! A private network namespace for one test: tests that need SIP sources other than the
//! gateway's address (a phone, a stranger, a PBX) take `127.0.0.2` and its neighbours there,
//! where they are addresses of a host the test made, never the machine's.
//!
//! The namespace belongs to the calling thread: `unshare(CLONE_NEWNET)` moves only it, and every
//! thread it starts and every process it spawns afterwards (the server, sipp, kamailio,
//! baresip) inherit it. libtest runs each test on a thread of its own, so a test calls
//! [`isolate`] first, before it starts a runtime or a server; when the test's thread and its
//! children end, the namespace goes with them.

use std::io;
use std::process::Command;

/// Moves the calling thread into a new network namespace whose loopback interface is up (so all
/// of 127.0.0.0/8 and ::1 answer there). Panics, failing the test, when the kernel refuses
/// (it needs CAP_SYS_ADMIN, which the test command has as root).
pub fn isolate() {
    // SAFETY: unshare takes no pointers; CLONE_NEWNET affects only the calling thread.
    let status = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    if status != 0 {
        panic!(
            "unshare(CLONE_NEWNET) failed (the tests need root or CAP_SYS_ADMIN): {}",
            io::Error::last_os_error()
        );
    }
    let up = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("ip (iproute2) runs");
    assert!(up.success(), "ip link set lo up: {up}");
}
