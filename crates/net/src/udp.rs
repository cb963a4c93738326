//! Receiving datagrams together with the time the kernel received them.
//!
//! A listener that handles each datagram where it reads it (no queue of its own, so no task
//! hand-off per message) still needs to know how far behind it is: the time a datagram spent in
//! the socket's receive buffer is exactly that. Linux stamps every datagram on arrival when the
//! socket has `SO_TIMESTAMPNS` set, and hands the stamp over with the datagram (`recvmsg`).
//! The kernel switches arrival stamping on a moment after the first socket asks for it (a deferred
//! switch); a datagram that arrives before is stamped when read, so it counts as not having
//! waited, which errs on the side of serving it. Elsewhere datagrams come without a stamp.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use tokio::net::UdpSocket;

/// Receive buffer asked of the kernel: about 7,000 of the router's ~600-byte INVITEs, a fraction
/// of a second of work. The kernel caps it at `net.core.rmem_max` (208 KiB unless raised).
const RECEIVE_BUFFER_BYTES: i32 = 4 * 1024 * 1024;

/// One datagram received into the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes of the datagram (at most the buffer's length).
    pub len: usize,
    /// Who sent it.
    pub remote: SocketAddr,
    /// When the kernel received it, where the kernel says.
    pub stamp: Option<SystemTime>,
}

impl Received {
    /// How long the datagram waited in the socket's receive buffer (zero when unknown, or when
    /// the clock was set back meanwhile).
    // The kernel stamps with the system's real-time clock; only that clock measures the wait.
    #[allow(clippy::disallowed_methods)]
    pub fn waited(&self) -> Duration {
        self.stamp
            .and_then(|stamp| SystemTime::now().duration_since(stamp).ok())
            .unwrap_or_default()
    }
}

/// Asks the kernel to stamp every datagram `socket` receives and for a receive buffer that
/// absorbs a burst. Call once, before the first [`receive`].
pub fn prepare(socket: &UdpSocket) -> io::Result<()> {
    platform::prepare(socket, RECEIVE_BUFFER_BYTES)
}

/// Waits for the next datagram on `socket` and reads it into `buffer` (a longer datagram is cut
/// to the buffer's length, as `recv_from` does).
pub async fn receive(socket: &UdpSocket, buffer: &mut [u8]) -> io::Result<Received> {
    platform::receive(socket, buffer).await
}

#[cfg(target_os = "linux")]
mod platform {
    use std::io;
    use std::mem::{size_of, zeroed};
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::AsRawFd;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use tokio::io::Interest;
    use tokio::net::UdpSocket;

    use super::Received;

    /// Control-message space for one `timespec` stamp, 8-byte aligned as `cmsghdr` needs.
    type Control = [u64; 8];

    pub(super) fn prepare(socket: &UdpSocket, receive_buffer: i32) -> io::Result<()> {
        set_option(socket, libc::SO_TIMESTAMPNS, 1)?;
        // Best effort: the kernel silently caps the size, and a smaller buffer only drops sooner.
        if let Err(error) = set_option(socket, libc::SO_RCVBUF, receive_buffer) {
            tracing::debug!(%error, "udp receive buffer not enlarged");
        }
        Ok(())
    }

    fn set_option(socket: &UdpSocket, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
        // SAFETY: the descriptor is open for the borrow's length and the option value is a
        // c_int of the length passed.
        let result = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                name,
                (&value as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if result == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    pub(super) async fn receive(socket: &UdpSocket, buffer: &mut [u8]) -> io::Result<Received> {
        socket
            .async_io(Interest::READABLE, || receive_now(socket, buffer))
            .await
    }

    /// One `recvmsg` on the (non-blocking) socket: `WouldBlock` when nothing is waiting, which
    /// tells Tokio to wait for readiness again.
    fn receive_now(socket: &UdpSocket, buffer: &mut [u8]) -> io::Result<Received> {
        // SAFETY: all-zero bytes are a valid sockaddr_storage, msghdr and control buffer.
        let mut address: libc::sockaddr_storage = unsafe { zeroed() };
        let mut control: Control = [0; 8];
        let mut vector = libc::iovec {
            iov_base: buffer.as_mut_ptr().cast(),
            iov_len: buffer.len(),
        };
        // SAFETY: as above.
        let mut header: libc::msghdr = unsafe { zeroed() };
        header.msg_name = (&mut address as *mut libc::sockaddr_storage).cast();
        header.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        header.msg_iov = &mut vector;
        header.msg_iovlen = 1;
        header.msg_control = control.as_mut_ptr().cast();
        header.msg_controllen = size_of::<Control>();
        // SAFETY: every pointer in `header` points at a live buffer of the length given with it,
        // all outliving the call.
        let len = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut header, 0) };
        let len = usize::try_from(len).map_err(|_| io::Error::last_os_error())?;
        let remote = socket_address(&address)?;
        // SAFETY: `header` was filled by recvmsg: its control pointer and length describe the
        // control messages the kernel wrote into `control`, which is still alive.
        let stamp = unsafe { stamp_of(&header) };
        Ok(Received {
            len: len.min(buffer.len()),
            remote,
            stamp,
        })
    }

    /// The `SCM_TIMESTAMPNS` control message of a received header, if there is one.
    ///
    /// # Safety
    /// `header` must have been filled by `recvmsg`, with its control buffer still alive.
    unsafe fn stamp_of(header: &libc::msghdr) -> Option<SystemTime> {
        // SAFETY: per this function's contract, the CMSG macros walk only the kernel's messages.
        let mut message = unsafe { libc::CMSG_FIRSTHDR(header) };
        while !message.is_null() {
            // SAFETY: non-null, and within the control buffer per the CMSG_* contract.
            let current = unsafe { &*message };
            if current.cmsg_level == libc::SOL_SOCKET && current.cmsg_type == libc::SCM_TIMESTAMPNS
            {
                // SAFETY: a SCM_TIMESTAMPNS message carries one timespec; it may be unaligned.
                let time: libc::timespec =
                    unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(message).cast()) };
                let seconds = u64::try_from(time.tv_sec).ok()?;
                let nanos = u32::try_from(time.tv_nsec).ok()?;
                return UNIX_EPOCH.checked_add(Duration::new(seconds, nanos));
            }
            // SAFETY: as above.
            message = unsafe { libc::CMSG_NXTHDR(header, message) };
        }
        None
    }

    fn socket_address(address: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
        match libc::c_int::from(address.ss_family) {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in.
                let v4: libc::sockaddr_in =
                    unsafe { std::ptr::read((address as *const libc::sockaddr_storage).cast()) };
                Ok(SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)),
                    u16::from_be(v4.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says the storage holds a sockaddr_in6.
                let v6: libc::sockaddr_in6 =
                    unsafe { std::ptr::read((address as *const libc::sockaddr_storage).cast()) };
                Ok(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(v6.sin6_addr.s6_addr),
                    u16::from_be(v6.sin6_port),
                    v6.sin6_flowinfo,
                    v6.sin6_scope_id,
                )))
            }
            family => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("datagram from address family {family}"),
            )),
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod platform {
    use std::io;

    use tokio::net::UdpSocket;

    use super::Received;

    pub(super) fn prepare(socket: &UdpSocket, receive_buffer: i32) -> io::Result<()> {
        let _ = (socket, receive_buffer);
        Ok(())
    }

    pub(super) async fn receive(socket: &UdpSocket, buffer: &mut [u8]) -> io::Result<Received> {
        let (len, remote) = socket.recv_from(buffer).await?;
        Ok(Received {
            len,
            remote,
            stamp: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The stamps are on the system's real-time clock.
    #[allow(clippy::disallowed_methods)]
    #[tokio::test]
    async fn datagrams_come_with_their_sender_and_the_time_they_arrived() {
        for local in ["127.0.0.1:0", "[::1]:0"] {
            let receiver = UdpSocket::bind(local).await.unwrap();
            prepare(&receiver).unwrap();
            let sender = UdpSocket::bind(local).await.unwrap();
            let pause = Duration::from_millis(20);
            // The kernel turns arrival stamps on a moment after the first socket asks (until then
            // a datagram is stamped when read), so probe until one shows its wait.
            let mut stamped_on_arrival = false;
            for _ in 0..50 {
                let before = SystemTime::now();
                sender
                    .send_to(b"INVITE", receiver.local_addr().unwrap())
                    .await
                    .unwrap();
                tokio::time::sleep(pause).await;
                let mut buffer = [0u8; 16];
                let received = receive(&receiver, &mut buffer).await.unwrap();
                assert_eq!(buffer.get(..received.len), Some(&b"INVITE"[..]));
                assert_eq!(received.remote, sender.local_addr().unwrap());
                assert!(
                    received.stamp.unwrap() >= before,
                    "stamped before it was sent"
                );
                if received.waited() >= pause {
                    stamped_on_arrival = true;
                    break;
                }
            }
            assert!(
                stamped_on_arrival,
                "no datagram stamped on arrival ({local})"
            );
        }
    }

    #[tokio::test]
    async fn a_datagram_longer_than_the_buffer_is_cut_to_it() {
        let receiver = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        prepare(&receiver).unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sender
            .send_to(&[7u8; 100], receiver.local_addr().unwrap())
            .await
            .unwrap();
        let mut buffer = [0u8; 10];
        let received = receive(&receiver, &mut buffer).await.unwrap();
        assert_eq!(received.len, 10);
        assert_eq!(buffer, [7u8; 10]);
    }
}
