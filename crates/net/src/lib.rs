//! What umbox's listeners share below their protocols: accepting TCP connections within bounds
//! ([`accept`]), receiving datagrams with the kernel's arrival stamp ([`udp`]) and the source
//! network a peer is counted under ([`source_network`]).
//!
//! It never interprets a byte it receives and never knows a protocol or a business rule; it
//! depends on tokio, tracing and libc only, so the HTTP, DNS and SIP transports can all use it.

pub mod accept;
pub mod udp;

use std::net::{IpAddr, Ipv6Addr};

/// The network a source is counted under: an IPv4 address itself, an IPv6 address by its /64
/// (one host usually holds a whole /64, so counting single addresses would count nothing).
pub fn source_network(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_counted_by_ipv4_address_and_ipv6_slash_64() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(source_network(v4), v4);
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(source_network(mapped), v4);
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(source_network(a), source_network(b));
        assert_ne!(source_network(a), source_network(other));
        assert_eq!(
            source_network(a),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
    }
}
