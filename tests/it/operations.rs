//! Running umbox as a service: the signals a service manager sends (SIGHUP reloads, SIGTERM
//! stops in order), the readiness protocol of a `Type=notify` unit, and the unit file itself as
//! `systemd-analyze verify` sees it. The container image is built by `scripts/build-image`, not
//! here: a container runtime cannot be installed and started on every test machine.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::harness::{temp_dir, Server};

fn receive(socket: &UnixDatagram) -> String {
    let mut buffer = [0u8; 512];
    let length = socket.recv(&mut buffer).expect("a notification");
    String::from_utf8_lossy(&buffer[..length]).into_owned()
}

#[test]
fn systemd_is_told_when_the_server_is_ready_and_when_sigterm_stops_it() {
    let dir = temp_dir("notify");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    // Bounds the wait for a notification that never comes if the server is broken.
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut server = Server::demo_notifying(&path);
    let ready = receive(&socket);
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    server.signal("TERM");
    let stopping = receive(&socket);
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");
    let status = server.wait();
    assert!(status.success(), "umbox exited with {status} after SIGTERM");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sighup_reloads_at_once_even_when_no_file_changed() {
    let server = Server::demo();
    server.signal("HUP");
    server.wait_for_log("reloaded directory and configuration");
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(root.join("packaging/umbox.service")).unwrap();
    // verify checks that ExecStart names an executable: point it at the binary under test.
    let binary = env!("CARGO_BIN_EXE_umbox");
    assert!(unit.contains("ExecStart=/usr/local/bin/umbox "));
    let unit = unit.replace(
        "ExecStart=/usr/local/bin/umbox ",
        &format!("ExecStart={binary} "),
    );
    let dir = temp_dir("unit");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("umbox.service");
    std::fs::write(&path, unit).unwrap();
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze (Debian package systemd) is installed by scripts/test");
    let report = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}");
    // verify also warns (exit 0) about directives it does not know: there must be none.
    assert!(!report.contains("Unknown key"), "{report}");
    assert!(!report.contains("Unknown lvalue"), "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}
