//! Accepting TCP connections within bounds, for every HTTP listener and DNS over TCP: at most
//! [`Limits::connections`] open at once (beyond that the listener stops accepting and the
//! kernel's backlog holds the rest), at most [`Limits::per_source`] from one source network (more
//! are closed at once, so one host cannot take every slot), and a failing `accept` (descriptors
//! exhausted) backs off instead of spinning. Never reads a byte of a connection.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::debug;

use crate::source_network;

/// Connection bounds of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once.
    pub connections: usize,
    /// Connections open at once from one source network (an IPv4 address, an IPv6 /64).
    pub per_source: usize,
}

impl Default for Limits {
    /// 4,096 connections, 512 from one network (room for a site's clients behind one NAT).
    fn default() -> Limits {
        Limits {
            connections: 4096,
            per_source: 512,
        }
    }
}

/// The first and the longest pause after a failed `accept`.
const BACKOFF_START: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Open connections per source network.
#[derive(Debug, Default)]
struct Sources {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One source's place, given back when its connection ends.
struct Place {
    sources: Arc<Sources>,
    network: IpAddr,
}

impl Sources {
    fn enter(self: &Arc<Self>, peer: IpAddr, cap: usize) -> Option<Place> {
        let network = source_network(peer);
        let mut open = self.open.lock().ok()?;
        let count = open.entry(network).or_insert(0);
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(Place {
            sources: self.clone(),
            network,
        })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Ok(mut open) = self.sources.open.lock() {
            if let Some(count) = open.get_mut(&self.network) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    open.remove(&self.network);
                }
            }
        }
    }
}

/// Accepts connections on `listener` within `limits` until the task is dropped, running
/// `connection` for each on its own task (so a failing connection never affects another).
pub async fn serve<F, Fut>(listener: TcpListener, limits: Limits, connection: F)
where
    F: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.connections.max(1)));
    let sources = Arc::new(Sources::default());
    let mut connections = JoinSet::new();
    let mut backoff = BACKOFF_START;
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                // The semaphore is never closed; were it, nothing more could be accepted.
                Err(_) => return,
            },
            Some(_) = connections.join_next() => continue,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    debug!(%error, pause_ms = backoff.as_millis() as u64, "accept failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
            },
            Some(_) = connections.join_next() => continue,
        };
        backoff = BACKOFF_START;
        let Some(place) = sources.enter(peer.ip(), limits.per_source) else {
            debug!(%peer, "too many connections from this source");
            continue;
        };
        let served = connection(tcp, peer);
        connections.spawn(async move {
            served.await;
            drop((slot, place));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn places_are_counted_per_network_and_given_back() {
        let sources = Arc::new(Sources::default());
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::2".parse().unwrap();
        let first = sources.enter(a, 2).unwrap();
        let second = sources.enter(b, 2).unwrap();
        assert!(sources.enter(a, 2).is_none(), "same /64");
        assert!(sources.enter("192.0.2.1".parse().unwrap(), 2).is_some());
        drop((first, second));
        assert!(sources
            .open
            .lock()
            .unwrap()
            .get(&source_network(a))
            .is_none());
        assert!(sources.enter(a, 2).is_some());
    }

    /// Each connection is greeted and held until the client closes it.
    async fn greeter(mut tcp: TcpStream, _peer: SocketAddr) {
        let _ = tcp.write_all(b"hi").await;
        let mut sink = [0u8; 16];
        while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
    }

    #[tokio::test]
    async fn a_source_over_its_cap_is_closed_and_admitted_again_once_below_it() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let limits = Limits {
            connections: 8,
            per_source: 1,
        };
        let server = tokio::spawn(serve(listener, limits, greeter));
        let mut greeting = [0u8; 2];
        let mut first = TcpStream::connect(address).await.unwrap();
        first.read_exact(&mut greeting).await.unwrap();
        let mut second = TcpStream::connect(address).await.unwrap();
        let mut rest = Vec::new();
        second.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "closed without a greeting");
        drop(first);
        // The place is given back when the server sees the close; retry until it has.
        let mut admitted = false;
        for _ in 0..1000 {
            let mut third = TcpStream::connect(address).await.unwrap();
            if third.read_exact(&mut greeting).await.is_ok() {
                admitted = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(admitted);
        server.abort();
    }
}
