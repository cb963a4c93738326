//! A telephone's media end for the tests: one RTP socket on 127.0.0.1 that keeps every G.711
//! payload the media server sends (in sequence order, so the audio can be compared sample for
//! sample), presses keys as RFC 4733 telephone events, and talks (G.711 paced at 20 ms). sipp
//! does the signalling; the SDP it sends names [`Phone::port`].
//!
//! Written from the RFCs on purpose, not with `umbox-media`: the test client must not share the
//! code it checks. RTP is read by [`super::rtp::parse`].

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// The telephone-event payload type the scenarios offer (`a=rtpmap:101 telephone-event/8000`).
pub const EVENT_PAYLOAD_TYPE: u8 = 101;
/// µ-law (PCMU), what the scenarios offer for audio.
pub const PCMU: u8 = 0;
/// Samples per 20 ms packet at 8 kHz.
const PACKET: usize = 160;

/// One end of a call's media.
#[derive(Debug)]
pub struct Phone {
    socket: UdpSocket,
    /// The media server's RTP address, learnt from its first packet.
    peer: Option<SocketAddr>,
    /// Every audio payload heard, keyed by extended sequence number.
    packets: Vec<(u64, Vec<u8>)>,
    last_sequence: Option<u64>,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
}

impl Default for Phone {
    fn default() -> Phone {
        Phone::new()
    }
}

impl Phone {
    /// A phone on a fresh loopback port.
    pub fn new() -> Phone {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        Phone {
            socket,
            peer: None,
            packets: Vec::new(),
            last_sequence: None,
            ssrc: 0x5EED_0001,
            sequence: 1,
            timestamp: 8000,
        }
    }

    /// Its RTP port.
    pub fn port(&self) -> u16 {
        self.socket.local_addr().unwrap().port()
    }

    /// The µ-law codes heard so far, in sequence order.
    pub fn heard(&self) -> Vec<u8> {
        let mut packets: Vec<&(u64, Vec<u8>)> = self.packets.iter().collect();
        packets.sort_by_key(|(sequence, _)| *sequence);
        packets
            .into_iter()
            .flat_map(|(_, payload)| payload.iter().copied())
            .collect()
    }

    /// Listens until `audio` has been heard whole after position `from` of [`Phone::heard`]
    /// (audio already heard counts); returns the position just after it. Panics after
    /// `limit` without it.
    pub fn hear(&mut self, audio: &[u8], from: usize, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        loop {
            let heard = self.heard();
            if let Some(at) = heard
                .get(from..)
                .and_then(|rest| rest.windows(audio.len()).position(|w| w == audio))
            {
                return from + at + audio.len();
            }
            assert!(
                Instant::now() < deadline,
                "{} codes expected after position {from} were not heard ({} heard)",
                audio.len(),
                heard.len()
            );
            self.listen(Duration::from_millis(200));
        }
    }

    /// Reads what arrives for `span`.
    pub fn listen(&mut self, span: Duration) {
        let end = Instant::now() + span;
        let mut buffer = [0u8; 2048];
        while Instant::now() < end {
            let Ok((length, from)) = self.socket.recv_from(&mut buffer) else {
                continue;
            };
            self.peer.get_or_insert(from);
            if let Some(datagram) = buffer.get(..length) {
                self.keep(datagram);
            }
        }
    }

    fn keep(&mut self, datagram: &[u8]) {
        let Some(packet) = super::rtp::parse(datagram) else {
            return;
        };
        if packet.payload_type != PCMU {
            return;
        }
        // Extend the 16-bit sequence number across wraps (RFC 3550 Appendix A.1): the candidate
        // nearest the highest number so far.
        let extended = match self.last_sequence {
            None => u64::from(packet.sequence) + (1 << 16),
            Some(last) => {
                let base = last & !0xFFFF;
                [base.saturating_sub(1 << 16), base, base + (1 << 16)]
                    .map(|base| base | u64::from(packet.sequence))
                    .into_iter()
                    .min_by_key(|candidate| candidate.abs_diff(last))
                    .unwrap()
            }
        };
        self.last_sequence = Some(self.last_sequence.map_or(extended, |l| l.max(extended)));
        self.packets.push((extended, packet.payload));
    }

    /// Waits (listening) until the media server's first packet has told where it is.
    fn peer(&mut self) -> SocketAddr {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.peer.is_none() {
            assert!(Instant::now() < deadline, "the media server sent nothing");
            self.listen(Duration::from_millis(20));
        }
        self.peer.unwrap()
    }

    fn send(&mut self, payload_type: u8, marker: bool, payload: &[u8]) {
        let peer = self.peer();
        let mut packet = vec![0x80, payload_type | if marker { 0x80 } else { 0 }];
        packet.extend_from_slice(&self.sequence.to_be_bytes());
        packet.extend_from_slice(&self.timestamp.to_be_bytes());
        packet.extend_from_slice(&self.ssrc.to_be_bytes());
        packet.extend_from_slice(payload);
        self.socket.send_to(&packet, peer).unwrap();
        self.sequence = self.sequence.wrapping_add(1);
    }

    /// Presses `keys` (`0`–`9`, `*`, `#`) one after the other: each is one RFC 4733 event with
    /// its own timestamp, a start packet and the end packet three times (§2.5.1.4).
    pub fn press(&mut self, keys: &str) {
        for key in keys.chars() {
            let code = match key {
                '0'..='9' => key as u8 - b'0',
                '*' => 10,
                '#' => 11,
                other => panic!("no key {other:?}"),
            };
            self.send(EVENT_PAYLOAD_TYPE, true, &[code, 10, 0, 160]);
            for _ in 0..3 {
                self.send(EVENT_PAYLOAD_TYPE, false, &[code, 0x80 | 10, 3, 32]);
            }
            self.timestamp = self.timestamp.wrapping_add(800);
            // Keep hearing meanwhile, so nothing the server says is missed.
            self.listen(Duration::from_millis(40));
        }
    }

    /// Says `codes` (µ-law) in 20 ms packets, in real time.
    pub fn talk(&mut self, codes: &[u8]) {
        let start = Instant::now();
        for (n, chunk) in codes.chunks(PACKET).enumerate() {
            self.send(PCMU, n == 0, chunk);
            self.timestamp = self.timestamp.wrapping_add(PACKET as u32);
            let due = start + Duration::from_millis(20 * (n as u64 + 1));
            self.listen(due.saturating_duration_since(Instant::now()));
        }
    }
}
