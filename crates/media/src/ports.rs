//! The RTP/RTCP port pool: leases a bound socket pair per call from the configured range
//! (`config::Listeners::rtp_ports`) and takes the ports back when the lease is dropped.
//!
//! RTP gets an even port and RTCP the next odd one (RFC 3550 §11). Sockets are bound when the lease
//! is taken, so a port some other program holds is skipped rather than failing later, and the
//! answer SDP can only name a port that is really ours. Release happens in `Drop`, so every exit
//! path of a call (hang-up, error, a cancelled task) returns its ports. This module never reads or
//! sends on the sockets. Entry points: [`PortPool::new`], [`PortPool::ephemeral`], [`PortPool::lease`].

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, PoisonError};

/// Why no lease could be given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PortError {
    /// The configured range holds no even/odd pair.
    #[error("rtp port range {start}..={end} holds no even rtp port with its rtcp port")]
    EmptyRange {
        /// First configured port.
        start: u16,
        /// Last configured port.
        end: u16,
    },
    /// Every pair is leased or held by another program.
    #[error("no free rtp port pair in {start}..={end}")]
    Exhausted {
        /// First configured port.
        start: u16,
        /// Last configured port.
        end: u16,
    },
    /// Binding a socket failed for a reason other than the port being taken.
    #[error("cannot bind rtp socket on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The IO error.
        source: std::io::Error,
    },
}

/// Which even ports are in use, and where the next search starts.
#[derive(Debug)]
struct Slots {
    in_use: Vec<bool>,
    /// Searching round-robin from after the last lease keeps a just-freed port idle for a while,
    /// so late packets of an ended call do not land in the next one.
    cursor: usize,
    /// Counts leases; each call's SDP session id (RFC 4566 §5.2 leaves its choice to us).
    serial: u64,
}

#[derive(Debug)]
struct Inner {
    bind_ip: IpAddr,
    /// First even RTP port and the number of pairs; `None` means the system picks ports.
    range: Option<(u16, usize)>,
    configured: (u16, u16),
    slots: Mutex<Slots>,
}

impl Inner {
    fn slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        // The bookkeeping is a plain bitmap that no panic can leave half-written.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A shared pool of RTP/RTCP port pairs; cheap to clone.
#[derive(Debug, Clone)]
pub struct PortPool {
    inner: Arc<Inner>,
}

/// The ports of one call, bound, with the sockets not yet handed to the runtime. Dropping it (or
/// the [`Reservation`] split off from it) returns the pair to the pool.
#[derive(Debug)]
pub struct PortLease {
    /// RTP socket.
    pub rtp: UdpSocket,
    /// RTCP socket.
    pub rtcp: UdpSocket,
    /// Holds the pair in the pool.
    pub reservation: Reservation,
}

/// Holds one pair in its pool until dropped.
#[derive(Debug)]
pub struct Reservation {
    rtp_port: u16,
    rtcp_port: u16,
    serial: u64,
    slot: Option<(Arc<Inner>, usize)>,
}

impl Reservation {
    /// The RTP port.
    pub fn rtp_port(&self) -> u16 {
        self.rtp_port
    }

    /// The RTCP port.
    pub fn rtcp_port(&self) -> u16 {
        self.rtcp_port
    }

    /// A number unique among this pool's leases, used as the SDP session id.
    pub fn serial(&self) -> u64 {
        self.serial
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some((inner, index)) = self.slot.take() {
            if let Some(slot) = inner.slots().in_use.get_mut(index) {
                *slot = false;
            }
        }
    }
}

impl PortPool {
    /// A pool over `range` (inclusive), binding on `bind_ip`.
    pub fn new(bind_ip: IpAddr, range: RangeInclusive<u16>) -> Result<PortPool, PortError> {
        let (start, end) = (*range.start(), *range.end());
        let first_even = start.checked_add(start % 2);
        let pairs = match first_even {
            Some(first) if first < end => usize::from((end - first - 1) / 2 + 1),
            _ => 0,
        };
        let Some(first) = first_even.filter(|_| pairs > 0) else {
            return Err(PortError::EmptyRange { start, end });
        };
        Ok(PortPool::build(bind_ip, Some((first, pairs)), (start, end)))
    }

    /// A pool that lets the system pick free ports for each socket, so RTCP is usually not
    /// RTP + 1 and the answer names it with `a=rtcp` (RFC 3605). For tests, which may bind port 0
    /// only, and for hosts without a configured range.
    pub fn ephemeral(bind_ip: IpAddr) -> PortPool {
        PortPool::build(bind_ip, None, (0, 0))
    }

    fn build(bind_ip: IpAddr, range: Option<(u16, usize)>, configured: (u16, u16)) -> PortPool {
        let pairs = range.map_or(0, |(_, pairs)| pairs);
        PortPool {
            inner: Arc::new(Inner {
                bind_ip,
                range,
                configured,
                slots: Mutex::new(Slots {
                    in_use: vec![false; pairs],
                    cursor: 0,
                    serial: 0,
                }),
            }),
        }
    }

    /// The address sockets are bound on.
    pub fn bind_ip(&self) -> IpAddr {
        self.inner.bind_ip
    }

    /// How many pairs are leased now.
    pub fn in_use(&self) -> usize {
        self.inner.slots().in_use.iter().filter(|u| **u).count()
    }

    /// Leases a pair and binds both sockets.
    pub fn lease(&self) -> Result<PortLease, PortError> {
        let inner = &self.inner;
        let Some((first, pairs)) = inner.range else {
            let serial = self.next_serial();
            let rtp = bind(SocketAddr::new(inner.bind_ip, 0))?;
            let rtcp = bind(SocketAddr::new(inner.bind_ip, 0))?;
            let reservation = Reservation {
                rtp_port: local_port(&rtp)?,
                rtcp_port: local_port(&rtcp)?,
                serial,
                slot: None,
            };
            return Ok(PortLease {
                rtp,
                rtcp,
                reservation,
            });
        };
        // Each pair is tried at most once; one held by another program is skipped.
        for _ in 0..pairs {
            let Some(reservation) = self.reserve(first) else {
                break;
            };
            let rtp_address = SocketAddr::new(inner.bind_ip, reservation.rtp_port);
            let rtcp_address = SocketAddr::new(inner.bind_ip, reservation.rtcp_port);
            match (bind(rtp_address), bind(rtcp_address)) {
                (Ok(rtp), Ok(rtcp)) => {
                    return Ok(PortLease {
                        rtp,
                        rtcp,
                        reservation,
                    })
                }
                (Err(PortError::Bind { source, .. }), _)
                | (_, Err(PortError::Bind { source, .. }))
                    if source.kind() == std::io::ErrorKind::AddrInUse =>
                {
                    // Another program holds a port of this pair. The cursor has moved past it, so
                    // the next turn tries the following pair; this reservation ends with the turn.
                }
                (Err(error), _) | (_, Err(error)) => return Err(error),
            }
        }
        let (start, end) = inner.configured;
        Err(PortError::Exhausted { start, end })
    }

    fn next_serial(&self) -> u64 {
        let mut slots = self.inner.slots();
        slots.serial = slots.serial.wrapping_add(1);
        slots.serial
    }

    /// Marks the next free pair after the cursor as used.
    fn reserve(&self, first: u16) -> Option<Reservation> {
        let mut slots = self.inner.slots();
        let count = slots.in_use.len();
        let start = slots.cursor;
        let index = (0..count)
            .map(|offset| (start + offset) % count)
            .find(|i| slots.in_use.get(*i) == Some(&false))?;
        if let Some(slot) = slots.in_use.get_mut(index) {
            *slot = true;
        }
        slots.cursor = (index + 1) % count;
        slots.serial = slots.serial.wrapping_add(1);
        let serial = slots.serial;
        drop(slots);
        let rtp_port = u16::try_from(index * 2)
            .ok()
            .and_then(|o| first.checked_add(o))?;
        Some(Reservation {
            rtp_port,
            rtcp_port: rtp_port.checked_add(1)?,
            serial,
            slot: Some((Arc::clone(&self.inner), index)),
        })
    }
}

fn bind(address: SocketAddr) -> Result<UdpSocket, PortError> {
    let socket = UdpSocket::bind(address).map_err(|source| PortError::Bind { address, source })?;
    // The sockets go to tokio, which needs them non-blocking.
    socket
        .set_nonblocking(true)
        .map_err(|source| PortError::Bind { address, source })?;
    Ok(socket)
}

fn local_port(socket: &UdpSocket) -> Result<u16, PortError> {
    socket
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| PortError::Bind {
            address: SocketAddr::new(IpAddr::from([0, 0, 0, 0]), 0),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn ranges_hold_even_rtp_ports_with_their_rtcp_port() {
        let count = |range| PortPool::new(LOCALHOST, range).map(|p| p.inner.range);
        assert_eq!(count(40000..=40999).unwrap(), Some((40000, 500)));
        assert_eq!(count(40001..=40004).unwrap(), Some((40002, 1)));
        assert_eq!(count(40001..=40005).unwrap(), Some((40002, 2)));
        assert_eq!(count(65534..=65535).unwrap(), Some((65534, 1)));
        assert!(matches!(
            count(40000..=40000),
            Err(PortError::EmptyRange { .. })
        ));
        assert!(matches!(
            count(40001..=40002),
            Err(PortError::EmptyRange { .. })
        ));
        assert!(matches!(
            count(65535..=65535),
            Err(PortError::EmptyRange { .. })
        ));
    }

    /// Bookkeeping only: reservations, without binding (tests may bind port 0 only).
    #[test]
    fn reservations_go_round_robin_and_return_on_drop() {
        let pool = PortPool::new(LOCALHOST, 40000..=40005).unwrap();
        let a = pool.reserve(40000).unwrap();
        let b = pool.reserve(40000).unwrap();
        let c = pool.reserve(40000).unwrap();
        assert_eq!(
            [a.rtp_port(), b.rtp_port(), c.rtp_port()],
            [40000, 40002, 40004]
        );
        assert_eq!(
            [a.rtcp_port(), b.rtcp_port(), c.rtcp_port()],
            [40001, 40003, 40005]
        );
        assert!(pool.reserve(40000).is_none(), "all three pairs are out");
        assert_eq!(pool.in_use(), 3);
        drop(b);
        assert_eq!(pool.in_use(), 2);
        let d = pool.reserve(40000).unwrap();
        assert_eq!(d.rtp_port(), 40002);
        drop((a, c));
        // After the last lease (index 1) the search starts at index 2.
        assert_eq!(pool.reserve(40000).unwrap().rtp_port(), 40004);
        assert_ne!(d.serial(), 0);
    }

    #[test]
    fn ephemeral_leases_bind_and_report_their_ports() {
        let pool = PortPool::ephemeral(LOCALHOST);
        let lease = pool.lease().unwrap();
        assert_eq!(
            lease.rtp.local_addr().unwrap().port(),
            lease.reservation.rtp_port()
        );
        assert_eq!(
            lease.rtcp.local_addr().unwrap().port(),
            lease.reservation.rtcp_port()
        );
        assert_ne!(lease.reservation.rtp_port(), 0);
        let other = pool.lease().unwrap();
        assert_ne!(other.reservation.serial(), lease.reservation.serial());
        assert_eq!(
            pool.in_use(),
            0,
            "ephemeral ports are not counted against a range"
        );
    }
}
