//! The service manager's readiness protocol (sd_notify): a datagram to the socket named by
//! `NOTIFY_SOCKET` saying `READY=1` once every listener is bound and `STOPPING=1` when a stop
//! begins, so a `Type=notify` unit orders dependants after a server that really answers. Without
//! `NOTIFY_SOCKET` (not started by systemd) every call does nothing. Never fails the server: a
//! manager that cannot be told is logged.

use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Tells the service manager `state` (newline-separated `KEY=value` assignments).
pub fn notify(state: &str) {
    let Some(name) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sent = address(&name).and_then(|address| {
        let socket = UnixDatagram::unbound()?;
        socket.send_to_addr(state.as_bytes(), &address)
    });
    if let Err(error) = sent {
        tracing::warn!(%error, socket = ?name, "the service manager was not told {state:?}");
    }
}

/// A path, or a Linux abstract socket name written with a leading `@`.
fn address(name: &std::ffi::OsStr) -> std::io::Result<SocketAddr> {
    use std::os::unix::ffi::OsStrExt;
    match name.as_bytes().strip_prefix(b"@") {
        Some(abstract_name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(abstract_name)
        }
        None => SocketAddr::from_pathname(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_paths_or_abstract_names() {
        let path = address(std::ffi::OsStr::new("/run/systemd/notify")).unwrap();
        assert_eq!(
            path.as_pathname(),
            Some(std::path::Path::new("/run/systemd/notify"))
        );
        use std::os::linux::net::SocketAddrExt;
        let abstract_name = address(std::ffi::OsStr::new("@umbox-test")).unwrap();
        assert_eq!(abstract_name.as_abstract_name(), Some(&b"umbox-test"[..]));
    }
}
