//! What a caller hears: a UDP socket on 127.0.0.1 that a test names in its SDP offer (so the
//! media server sends its RTP there) and that keeps every RTP packet it receives, for comparing
//! the audio sample for sample. Reads the RFC 3550 fixed header (CSRCs and a header extension
//! skipped) and nothing else; decoding the G.711 payload is the test's business.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// One received RTP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The payload type (0 PCMU, 8 PCMA, …).
    pub payload_type: u8,
    /// The sequence number.
    pub sequence: u16,
    /// The payload.
    pub payload: Vec<u8>,
}

/// Reads an RTP packet (RFC 3550 §5.1); `None` for anything else.
pub fn parse(datagram: &[u8]) -> Option<Packet> {
    let first = *datagram.first()?;
    if first >> 6 != 2 {
        return None;
    }
    let csrcs = usize::from(first & 0x0F);
    let mut start = 12 + 4 * csrcs;
    if first & 0x10 != 0 {
        let words = u16::from_be_bytes([*datagram.get(start + 2)?, *datagram.get(start + 3)?]);
        start += 4 + 4 * usize::from(words);
    }
    let mut end = datagram.len();
    if first & 0x20 != 0 {
        end = end.checked_sub(usize::from(*datagram.last()?))?;
    }
    Some(Packet {
        payload_type: datagram.get(1)? & 0x7F,
        sequence: u16::from_be_bytes([*datagram.get(2)?, *datagram.get(3)?]),
        payload: datagram.get(start..end)?.to_vec(),
    })
}

/// A capture in progress: a thread receiving on the socket until [`Capture::finish`].
pub struct Capture {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Packet>>,
}

impl Capture {
    /// Binds 127.0.0.1 on an ephemeral port and starts receiving.
    pub fn start() -> Capture {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        // The receive loop wakes this often to see whether the test is done; it is not a
        // deadline for any packet.
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut packets = Vec::new();
            let mut buffer = [0u8; 2048];
            while !stopping.load(Ordering::SeqCst) {
                if let Ok(length) = socket.recv(&mut buffer) {
                    packets.extend(buffer.get(..length).and_then(parse));
                }
            }
            packets
        });
        Capture { port, stop, thread }
    }

    /// The port to name in the SDP.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops receiving; the packets in sequence order (sequence numbers taken as counting on from
    /// the first packet received, so a wrap past 65535 keeps its place).
    pub fn finish(self) -> Vec<Packet> {
        self.stop.store(true, Ordering::SeqCst);
        let mut packets = self.thread.join().unwrap();
        if let Some(first) = packets.first().map(|p| p.sequence) {
            packets.sort_by_key(|p| p.sequence.wrapping_sub(first));
        }
        packets
    }
}

/// The payloads of `packets` of type `payload_type`, concatenated.
pub fn audio(packets: &[Packet], payload_type: u8) -> Vec<u8> {
    packets
        .iter()
        .filter(|p| p.payload_type == payload_type)
        .flat_map(|p| p.payload.iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fixed_header_csrcs_extension_and_padding() {
        let mut packet = vec![0x80, 0x00, 0x12, 0x34, 0, 0, 0, 160, 1, 2, 3, 4, 0xFF, 0x7F];
        assert_eq!(
            parse(&packet),
            Some(Packet {
                payload_type: 0,
                sequence: 0x1234,
                payload: vec![0xFF, 0x7F],
            })
        );
        // One CSRC, a one-word extension and two bytes of padding around the payload.
        packet = vec![
            0xB1, 0x88, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 0xBE, 0xDE, 0, 1, 7, 7, 7, 7,
            0xD5, 0, 2,
        ];
        assert_eq!(
            parse(&packet),
            Some(Packet {
                payload_type: 8,
                sequence: 1,
                payload: vec![0xD5],
            })
        );
        assert_eq!(parse(&[0x40, 0, 0]), None);
    }
}
