//! RTP (RFC 3550) for one audio stream: payload types, reading received packets, building our own
//! packets, and the 20 ms send schedule.
//!
//! Wire plus pacing arithmetic only: reading and writing use the `rtp-rs` crate over caller-owned
//! buffers, so nothing here allocates per packet, and nothing here touches a socket (`media::leg`
//! does). Entry points: [`read_packet`], [`RtpSender`], [`Pacer`], [`StreamIds`].

use std::time::Duration;

use ring::rand::SecureRandom;
use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};
use tokio::time::Instant;

/// Samples per 20 ms packet at the G.711 clock rate of 8000 Hz (RFC 3551 §4.5.14).
pub const SAMPLES_PER_PACKET: usize = 160;
/// The packet interval we send at (RFC 3551 §4.5: the default for audio is 20 ms).
pub const PACKET_INTERVAL: Duration = Duration::from_millis(20);
/// The RTP clock rate of G.711 and telephone-event, in Hz.
pub const CLOCK_RATE: u32 = 8000;
/// Fixed RTP header length without CSRCs or extensions (RFC 3550 §5.1).
pub const HEADER_LEN: usize = 12;

/// An RTP payload type (RFC 3550 §5.1), 0–127.
///
/// A newtype rather than an enum because most payload types in an SDP offer are dynamic
/// (96–127) and bound by `a=rtpmap`; the static ones umbox relies on are named constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayloadType(u8);

impl PayloadType {
    /// PCMU, G.711 µ-law at 8000 Hz (RFC 3551 Table 4).
    pub const PCMU: PayloadType = PayloadType(0);
    /// PCMA, G.711 A-law at 8000 Hz (RFC 3551 Table 4).
    pub const PCMA: PayloadType = PayloadType(8);

    /// The payload type with this number, if it fits in the 7-bit field.
    pub const fn new(value: u8) -> Option<PayloadType> {
        if value <= 127 {
            Some(PayloadType(value))
        } else {
            None
        }
    }

    /// The number carried in the RTP header and the SDP `m=` line.
    pub const fn as_u8(self) -> u8 {
        self.0
    }
}

/// The identifiers of our outgoing stream. RFC 3550 §5.1 asks for a random SSRC and random
/// initial sequence number and timestamp; they come from the caller so tests can fix them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamIds {
    /// Synchronisation source of our stream.
    pub ssrc: u32,
    /// Sequence number of the first packet.
    pub first_sequence: u16,
    /// RTP timestamp of the first packet.
    pub first_timestamp: u32,
}

impl StreamIds {
    /// Draws all three from `random`.
    pub fn random(random: &dyn SecureRandom) -> Result<StreamIds, super::Error> {
        let mut bytes = [0u8; 10];
        random.fill(&mut bytes).map_err(|_| super::Error::Random)?;
        let [a, b, c, d, e, f, g, h, i, j] = bytes;
        Ok(StreamIds {
            ssrc: u32::from_be_bytes([a, b, c, d]),
            first_sequence: u16::from_be_bytes([e, f]),
            first_timestamp: u32::from_be_bytes([g, h, i, j]),
        })
    }
}

/// The header fields of a received packet that the receiver uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// Payload type.
    pub payload_type: PayloadType,
    /// Marker bit.
    pub marker: bool,
    /// Sequence number.
    pub sequence: u16,
    /// Timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
}

/// Reads an RTP packet: its header and its payload without padding, CSRCs or header extension.
/// `None` for anything that is not well-formed RTP version 2.
pub fn read_packet(datagram: &[u8]) -> Option<(RtpHeader, &[u8])> {
    let reader = RtpReader::new(datagram).ok()?;
    let header = RtpHeader {
        payload_type: PayloadType::new(reader.payload_type())?,
        marker: reader.mark(),
        sequence: u16::from(reader.sequence_number()),
        timestamp: reader.timestamp(),
        ssrc: reader.ssrc(),
    };
    Some((header, reader.payload()))
}

/// Builds the packets of our stream into one buffer it owns: sequence numbers count sent packets,
/// the marker bit is set on the first packet (the start of a talkspurt, RFC 3551 §4.1).
#[derive(Debug)]
pub struct RtpSender {
    ids: StreamIds,
    next_sequence: u16,
    first: bool,
    packet: [u8; HEADER_LEN + SAMPLES_PER_PACKET],
}

impl RtpSender {
    /// A sender for the stream `ids`.
    pub fn new(ids: StreamIds) -> RtpSender {
        RtpSender {
            ids,
            next_sequence: ids.first_sequence,
            first: true,
            packet: [0; HEADER_LEN + SAMPLES_PER_PACKET],
        }
    }

    /// The RTP timestamp of send slot `tick` (slot 0 is the first packet's).
    pub fn timestamp_of(&self, tick: u32) -> u32 {
        let samples = u32::try_from(SAMPLES_PER_PACKET).unwrap_or(u32::MAX);
        self.ids
            .first_timestamp
            .wrapping_add(tick.wrapping_mul(samples))
    }

    /// Builds the next packet and returns its bytes; `None` if `payload` is longer than one packet.
    pub fn build(&mut self, payload_type: PayloadType, tick: u32, payload: &[u8]) -> Option<&[u8]> {
        let length = RtpPacketBuilder::new()
            .payload_type(payload_type.as_u8())
            .marked(self.first)
            .sequence(Seq::from(self.next_sequence))
            .timestamp(self.timestamp_of(tick))
            .ssrc(self.ids.ssrc)
            .payload(payload)
            .build_into(&mut self.packet)
            .ok()?;
        self.first = false;
        self.next_sequence = self.next_sequence.wrapping_add(1);
        self.packet.get(..length)
    }
}

/// How far behind schedule the sender may fall before it skips slots instead of sending a burst.
const MAX_BURST_SLOTS: u32 = 3;

/// The send schedule: slot `n` is due at `start + n · 20 ms`. Deadlines come from the start instant,
/// never from the previous wake-up, so scheduling delays do not add up over a long call. Uses tokio
/// time, so tests can pause and advance it.
#[derive(Debug, Clone)]
pub struct Pacer {
    start: Instant,
    tick: u32,
}

impl Pacer {
    /// A schedule whose slot 0 is due at `start`.
    pub fn new(start: Instant) -> Pacer {
        Pacer { start, tick: 0 }
    }

    /// When slot `tick` is due.
    fn due(&self, tick: u32) -> Instant {
        super::instant_after(self.start, PACKET_INTERVAL.saturating_mul(tick))
    }

    /// When the next slot is due.
    pub fn deadline(&self) -> Instant {
        self.due(self.tick)
    }

    /// Takes the slot to send now (called at or after [`Pacer::deadline`]) and moves on. If the task
    /// woke more than [`MAX_BURST_SLOTS`] slots late it jumps to the latest due slot, so the skipped
    /// time shows as a timestamp gap rather than a burst of stale audio.
    pub fn take(&mut self, now: Instant) -> u32 {
        if now > self.due(self.tick.saturating_add(MAX_BURST_SLOTS)) {
            let behind =
                now.saturating_duration_since(self.start).as_nanos() / PACKET_INTERVAL.as_nanos();
            self.tick = u32::try_from(behind).unwrap_or(u32::MAX);
        }
        let slot = self.tick;
        self.tick = self.tick.saturating_add(1);
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_numbers_packets_and_marks_the_first() {
        let ids = StreamIds {
            ssrc: 0x1234_5678,
            first_sequence: 65535,
            first_timestamp: u32::MAX - 100,
        };
        let mut sender = RtpSender::new(ids);
        let payload = [0xFFu8; SAMPLES_PER_PACKET];
        let first = sender
            .build(PayloadType::PCMU, 0, &payload)
            .unwrap()
            .to_vec();
        let (header, body) = read_packet(&first).unwrap();
        assert_eq!(
            header,
            RtpHeader {
                payload_type: PayloadType::PCMU,
                marker: true,
                sequence: 65535,
                timestamp: u32::MAX - 100,
                ssrc: 0x1234_5678
            }
        );
        assert_eq!(body, payload);
        let second = sender
            .build(PayloadType::PCMA, 1, &payload)
            .unwrap()
            .to_vec();
        let (header, _) = read_packet(&second).unwrap();
        assert!(!header.marker);
        assert_eq!(header.sequence, 0, "sequence wraps");
        assert_eq!(header.timestamp, 59, "timestamp wraps");
        assert_eq!(header.payload_type, PayloadType::PCMA);
        assert!(sender.build(PayloadType::PCMU, 2, &[0; 161]).is_none());
    }

    #[test]
    fn malformed_packets_are_refused() {
        assert!(read_packet(&[]).is_none());
        assert!(read_packet(&[0x80; 11]).is_none());
        // Version 1.
        assert!(read_packet(&[0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_none());
        // Four CSRCs announced, none present.
        assert!(read_packet(&[0x84, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_none());
        // Padding longer than the packet.
        assert!(read_packet(&[0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]).is_none());
        let ok = [0x80, 8, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xD5];
        let (header, payload) = read_packet(&ok).unwrap();
        assert_eq!(header.payload_type, PayloadType::PCMA);
        assert_eq!(payload, [0xD5]);
    }

    #[test]
    fn payload_types_are_seven_bits() {
        assert_eq!(PayloadType::new(127).map(PayloadType::as_u8), Some(127));
        assert_eq!(PayloadType::new(128), None);
    }

    /// Simulated work after every wake-up must not push later deadlines back: after 3000 packets
    /// (one minute) the slot times are still exactly start + n · 20 ms.
    #[tokio::test(start_paused = true)]
    async fn pacing_does_not_drift() {
        let start = Instant::now();
        let mut pacer = Pacer::new(start);
        for n in 0..3000u32 {
            tokio::time::sleep_until(pacer.deadline()).await;
            let now = Instant::now();
            assert_eq!(now, start + PACKET_INTERVAL * n);
            assert_eq!(pacer.take(now), n);
            // Building and sending takes time; a sender sleeping 20 ms after each packet would drift
            // by this much every turn. (Whole milliseconds, because tokio's timer wheel has 1 ms
            // resolution; a sub-millisecond part would only delay single wake-ups, never add up.)
            tokio::time::advance(Duration::from_millis(3)).await;
        }
        assert_eq!(pacer.deadline(), start + PACKET_INTERVAL * 3000);
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_stall_is_caught_up_and_a_long_one_skipped() {
        let start = Instant::now();
        let mut pacer = Pacer::new(start);
        assert_eq!(pacer.take(start), 0);
        // 50 ms late: slots 1 and 2 go out back to back, then the schedule continues.
        let late = start + Duration::from_millis(70);
        assert_eq!(pacer.take(late), 1);
        assert_eq!(pacer.take(late), 2);
        assert_eq!(pacer.deadline(), start + PACKET_INTERVAL * 3);
        // A 1 s stall: jump to the slot due now instead of sending 50 stale packets.
        let stalled = start + Duration::from_millis(1030);
        assert_eq!(pacer.take(stalled), 51);
        assert_eq!(pacer.deadline(), start + PACKET_INTERVAL * 52);
    }
}
