//! The receive-side reorder buffer: turns the RTP packets of a recording, in whatever order they
//! arrive, into one continuous run of G.711 codes.
//!
//! Pure logic, no IO and no clock: packets are placed by sequence number (wrapping at 65535) in a
//! fixed ring of [`SLOTS`] slots allocated once per call, duplicates are dropped, and a packet is
//! released once everything before it is there or the ring has to make room. Gaps are measured
//! in RTP timestamps (wrapping at 2³²), so a lost packet becomes exactly as much silence as it
//! carried. A new SSRC starts a new run that continues the same recording; a sequence jump that the
//! next packet confirms does the same (RFC 3550 A.1). Memory is bounded by the ring; output goes
//! to a caller's [`Sink`]. Entry points: [`JitterBuffer::push_audio`], [`JitterBuffer::push_skip`],
//! [`JitterBuffer::flush`].

/// Ring slots; a power of two, so slot positions stay consistent when sequence numbers wrap.
pub const SLOTS: usize = 32;
/// Largest audio payload kept, in bytes (60 ms of G.711); larger payloads count as lost.
pub const MAX_PAYLOAD: usize = 480;
/// A forward sequence jump beyond this is a restart, not loss (RFC 3550 A.1 `MAX_DROPOUT`).
const MAX_DROPOUT: u16 = 3000;
/// A backward jump beyond this is a restart, not reordering (RFC 3550 A.1 `MAX_MISORDER`).
const MAX_MISORDER: u16 = 100;
/// The longest timestamp gap filled with silence (10 s at 8000 Hz); a larger one is a timestamp
/// discontinuity and only the audio of the lost packets is concealed.
const MAX_GAP_SAMPLES: u32 = 80_000;

/// Where released audio goes.
pub trait Sink {
    /// Audio codes as received.
    fn audio(&mut self, codes: &[u8]);
    /// `samples` of silence standing in for lost or missing audio.
    fn silence(&mut self, samples: usize);
}

/// Counters kept by the buffer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JitterStats {
    /// Audio packets released into the recording.
    pub released: u64,
    /// Packets dropped as copies of one already buffered.
    pub duplicates: u64,
    /// Packets dropped because their place was already played out (too late, or a copy of one
    /// already released).
    pub late: u64,
    /// Sequence numbers that never arrived in time.
    pub lost: u64,
    /// Silence samples inserted for gaps.
    pub concealed_samples: u64,
    /// New SSRCs that started a new run.
    pub ssrc_changes: u64,
    /// Packets of an SSRC that was replaced, dropped.
    pub stale_ssrc: u64,
    /// Sequence or timestamp discontinuities that restarted the run's arithmetic.
    pub resyncs: u64,
    /// Audio payloads above [`MAX_PAYLOAD`], treated as lost.
    pub oversized: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Empty,
    /// Audio of `length` bytes stored at the slot's place in the data area.
    Audio {
        sequence: u16,
        timestamp: u32,
        length: usize,
    },
    /// A sequence number that carries no audio (a telephone-event packet, or an oversized one).
    Skip {
        sequence: u16,
    },
}

impl Slot {
    fn sequence(self) -> Option<u16> {
        match self {
            Slot::Empty => None,
            Slot::Audio { sequence, .. } | Slot::Skip { sequence } => Some(sequence),
        }
    }
}

/// The state of the current run (one SSRC, continuous sequence arithmetic).
#[derive(Debug, Clone, Copy)]
struct Run {
    ssrc: u32,
    /// The next sequence number to release.
    next_sequence: u16,
    /// The timestamp the next audio should start at; `None` before the run's first audio.
    next_timestamp: Option<u32>,
    /// Samples in the last released packet, to conceal loss across a timestamp discontinuity.
    last_length: u32,
    /// Packets declared lost since the last released audio.
    lost_since_audio: u32,
    /// Buffered slots.
    buffered: usize,
    /// A packet far outside the window; if the next one follows it, the stream restarted there.
    probation: Option<u16>,
}

impl Run {
    fn starting_at(ssrc: u32, sequence: u16) -> Run {
        Run {
            ssrc,
            next_sequence: sequence,
            next_timestamp: None,
            last_length: 0,
            lost_since_audio: 0,
            buffered: 0,
            probation: None,
        }
    }
}

/// What a pushed packet carries.
#[derive(Clone, Copy)]
enum Content<'a> {
    Audio { timestamp: u32, payload: &'a [u8] },
    Skip,
}

/// A reorder buffer for one call.
#[derive(Debug)]
pub struct JitterBuffer {
    slots: Box<[Slot]>,
    data: Box<[u8]>,
    run: Option<Run>,
    replaced_ssrc: Option<u32>,
    stats: JitterStats,
}

impl Default for JitterBuffer {
    fn default() -> Self {
        JitterBuffer::new()
    }
}

fn slot_index(sequence: u16) -> usize {
    usize::from(sequence) % SLOTS
}

impl JitterBuffer {
    /// An empty buffer; its whole memory is allocated here.
    pub fn new() -> JitterBuffer {
        JitterBuffer {
            slots: vec![Slot::Empty; SLOTS].into_boxed_slice(),
            data: vec![0; SLOTS * MAX_PAYLOAD].into_boxed_slice(),
            run: None,
            replaced_ssrc: None,
            stats: JitterStats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Takes an audio packet.
    pub fn push_audio(
        &mut self,
        ssrc: u32,
        sequence: u16,
        timestamp: u32,
        payload: &[u8],
        sink: &mut impl Sink,
    ) {
        self.push(ssrc, sequence, Content::Audio { timestamp, payload }, sink);
    }

    /// Takes a packet of the stream that carries no audio for the recording (an RFC 4733 event
    /// shares the stream's sequence numbers, so without it the gap would look like loss).
    pub fn push_skip(&mut self, ssrc: u32, sequence: u16, sink: &mut impl Sink) {
        self.push(ssrc, sequence, Content::Skip, sink);
    }

    /// Releases everything buffered, in order, concealing what is missing between.
    pub fn flush(&mut self, sink: &mut impl Sink) {
        // Every buffered packet lies within SLOTS of the next sequence number.
        for _ in 0..SLOTS {
            match self.run {
                Some(run) if run.buffered > 0 => self.advance(sink),
                _ => break,
            }
        }
    }

    fn push(&mut self, ssrc: u32, sequence: u16, content: Content<'_>, sink: &mut impl Sink) {
        let run = match self.run {
            None => *self.run.insert(Run::starting_at(ssrc, sequence)),
            Some(run) if run.ssrc == ssrc => run,
            Some(_) if self.replaced_ssrc == Some(ssrc) => {
                // A straggler of the stream the new SSRC replaced.
                self.stats.stale_ssrc += 1;
                return;
            }
            Some(run) => {
                self.flush(sink);
                self.stats.ssrc_changes += 1;
                self.replaced_ssrc = Some(run.ssrc);
                *self.run.insert(Run::starting_at(ssrc, sequence))
            }
        };

        let ahead = sequence.wrapping_sub(run.next_sequence);
        let behind = run.next_sequence.wrapping_sub(sequence);
        if ahead >= MAX_DROPOUT && behind > MAX_MISORDER {
            // Far outside the window: a restart if the next packet follows this one.
            if run.probation == Some(sequence) {
                self.flush(sink);
                self.stats.resyncs += 1;
                // Like a new SSRC, the restarted stream continues the recording without a gap.
                let restarted = Run {
                    probation: None,
                    ..Run::starting_at(ssrc, sequence)
                };
                self.run = Some(restarted);
            } else {
                self.set_probation(sequence.wrapping_add(1));
                self.stats.late += 1;
                return;
            }
        } else if ahead >= MAX_DROPOUT {
            // Slightly behind: already played out.
            self.stats.late += 1;
            return;
        }
        self.set_probation_none();
        self.make_room_for(sequence, sink);
        self.store(sequence, content);
        self.release_ready(sink);
    }

    fn set_probation(&mut self, next: u16) {
        if let Some(run) = self.run.as_mut() {
            run.probation = Some(next);
        }
    }

    fn set_probation_none(&mut self) {
        if let Some(run) = self.run.as_mut() {
            run.probation = None;
        }
    }

    /// Moves the window until `sequence` fits in the ring.
    fn make_room_for(&mut self, sequence: u16, sink: &mut impl Sink) {
        let Some(run) = self.run else { return };
        let ahead = usize::from(sequence.wrapping_sub(run.next_sequence));
        if ahead < SLOTS {
            return;
        }
        let must_pass = ahead - SLOTS + 1;
        if run.buffered == 0 {
            // Nothing to release on the way: jump at once.
            if let Some(run) = self.run.as_mut() {
                let skipped = u16::try_from(must_pass).unwrap_or(u16::MAX);
                run.next_sequence = run.next_sequence.wrapping_add(skipped);
                run.lost_since_audio = run.lost_since_audio.saturating_add(u32::from(skipped));
                self.stats.lost += u64::from(skipped);
            }
            return;
        }
        for _ in 0..must_pass {
            self.advance(sink);
        }
    }

    fn store(&mut self, sequence: u16, content: Content<'_>) {
        let index = slot_index(sequence);
        let Some(slot) = self.slots.get(index).copied() else {
            return;
        };
        if slot.sequence() == Some(sequence) {
            self.stats.duplicates += 1;
            return;
        }
        let new_slot = match content {
            Content::Audio { timestamp, payload } if payload.len() <= MAX_PAYLOAD => {
                let start = index * MAX_PAYLOAD;
                if let Some(place) = self.data.get_mut(start..start + payload.len()) {
                    place.copy_from_slice(payload);
                }
                Slot::Audio {
                    sequence,
                    timestamp,
                    length: payload.len(),
                }
            }
            Content::Audio { .. } => {
                self.stats.oversized += 1;
                Slot::Skip { sequence }
            }
            Content::Skip => Slot::Skip { sequence },
        };
        if let Some(place) = self.slots.get_mut(index) {
            *place = new_slot;
        }
        if let Some(run) = self.run.as_mut() {
            run.buffered += 1;
        }
    }

    /// Releases slots from the next sequence number on while they are filled.
    fn release_ready(&mut self, sink: &mut impl Sink) {
        for _ in 0..SLOTS {
            let Some(run) = self.run else { return };
            let filled = self
                .slots
                .get(slot_index(run.next_sequence))
                .and_then(|s| s.sequence())
                == Some(run.next_sequence);
            if !filled {
                return;
            }
            self.advance(sink);
        }
    }

    /// Releases the next sequence number's slot, or declares it lost, and moves on by one.
    fn advance(&mut self, sink: &mut impl Sink) {
        let Some(mut run) = self.run else { return };
        let index = slot_index(run.next_sequence);
        let slot = self.slots.get(index).copied().unwrap_or(Slot::Empty);
        match slot {
            Slot::Audio {
                sequence,
                timestamp,
                length,
            } if sequence == run.next_sequence => {
                let start = index * MAX_PAYLOAD;
                let payload = self.data.get(start..start + length).unwrap_or(&[]);
                release_audio(&mut run, &mut self.stats, timestamp, payload, sink);
                run.buffered = run.buffered.saturating_sub(1);
            }
            Slot::Skip { sequence } if sequence == run.next_sequence => {
                run.buffered = run.buffered.saturating_sub(1);
            }
            Slot::Empty | Slot::Audio { .. } | Slot::Skip { .. } => {
                run.lost_since_audio = run.lost_since_audio.saturating_add(1);
                self.stats.lost += 1;
            }
        }
        if let Some(place) = self.slots.get_mut(index) {
            *place = Slot::Empty;
        }
        run.next_sequence = run.next_sequence.wrapping_add(1);
        self.run = Some(run);
    }
}

/// Writes one packet's audio, preceded by silence for any timestamp gap before it.
fn release_audio(
    run: &mut Run,
    stats: &mut JitterStats,
    timestamp: u32,
    payload: &[u8],
    sink: &mut impl Sink,
) {
    if let Some(expected) = run.next_timestamp {
        let gap = timestamp.wrapping_sub(expected);
        let conceal = if gap == 0 {
            0
        } else if gap <= MAX_GAP_SAMPLES {
            gap
        } else {
            // Earlier than expected, or implausibly far ahead: the sender's clock jumped. Conceal
            // only what the lost packets would have held.
            stats.resyncs += 1;
            run.lost_since_audio
                .saturating_mul(run.last_length)
                .min(MAX_GAP_SAMPLES)
        };
        if conceal > 0 {
            sink.silence(usize::try_from(conceal).unwrap_or(0));
            stats.concealed_samples += u64::from(conceal);
        }
    }
    sink.audio(payload);
    stats.released += 1;
    let length = u32::try_from(payload.len()).unwrap_or(0);
    run.next_timestamp = Some(timestamp.wrapping_add(length));
    run.last_length = length;
    run.lost_since_audio = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what the buffer releases: audio as is, silence as 0xFF (µ-law zero).
    #[derive(Default)]
    struct Out(Vec<u8>);

    impl Sink for Out {
        fn audio(&mut self, codes: &[u8]) {
            self.0.extend_from_slice(codes);
        }
        fn silence(&mut self, samples: usize) {
            self.0.extend(std::iter::repeat_n(0xFF, samples));
        }
    }

    /// Packet `n` of a stream: 160 bytes all equal to `n` (never 0xFF), timestamp n·160.
    fn payload(n: u16) -> Vec<u8> {
        vec![(n % 250) as u8; 160]
    }

    fn feed(
        buffer: &mut JitterBuffer,
        out: &mut Out,
        ssrc: u32,
        seq0: u16,
        ts0: u32,
        order: &[u16],
    ) {
        for &n in order {
            let ts = ts0.wrapping_add(u32::from(n) * 160);
            buffer.push_audio(ssrc, seq0.wrapping_add(n), ts, &payload(n), out);
        }
    }

    fn expected(packets: &[Option<u16>]) -> Vec<u8> {
        packets
            .iter()
            .flat_map(|p| p.map_or(vec![0xFF; 160], payload))
            .collect()
    }

    #[test]
    fn reordered_and_duplicated_packets_come_out_in_order() {
        let mut buffer = JitterBuffer::new();
        let mut out = Out::default();
        feed(
            &mut buffer,
            &mut out,
            1,
            1000,
            5000,
            &[0, 2, 2, 1, 3, 3, 5, 4, 1, 6],
        );
        buffer.flush(&mut out);
        assert_eq!(out.0, expected(&[0, 1, 2, 3, 4, 5, 6].map(Some)));
        let stats = buffer.stats();
        assert_eq!(stats.released, 7);
        // The second 2 arrived while the first was buffered; the second 3 and 1 after release.
        assert_eq!(stats.duplicates, 1);
        assert_eq!(stats.late, 2);
        assert_eq!(stats.lost, 0);
    }

    #[test]
    fn losses_become_silence_of_the_right_length() {
        let mut buffer = JitterBuffer::new();
        let mut out = Out::default();
        feed(&mut buffer, &mut out, 1, 0, 0, &[0, 1, 4, 5]);
        buffer.flush(&mut out);
        assert_eq!(
            out.0,
            expected(&[Some(0), Some(1), None, None, Some(4), Some(5)])
        );
        assert_eq!(buffer.stats().lost, 2);
        assert_eq!(buffer.stats().concealed_samples, 320);
    }

    #[test]
    fn a_hole_is_given_up_when_the_ring_is_full() {
        let mut buffer = JitterBuffer::new();
        let mut out = Out::default();
        let order: Vec<u16> = std::iter::once(0).chain(2..=(SLOTS as u16 + 1)).collect();
        feed(&mut buffer, &mut out, 1, 0, 0, &order);
        // Packet 1 was waited for until packet SLOTS + 1 needed its slot; then it was given up
        // and everything after it went out.
        let mut want = vec![Some(0), None];
        want.extend((2..=SLOTS as u16 + 1).map(Some));
        assert_eq!(out.0, expected(&want));
        // It arrives too late now.
        feed(&mut buffer, &mut out, 1, 0, 0, &[1]);
        assert_eq!(buffer.stats().late, 1);
        buffer.flush(&mut out);
        assert_eq!(out.0.len(), 160 * (SLOTS + 2));
    }

    #[test]
    fn sequence_and_timestamp_wrap_around() {
        let mut buffer = JitterBuffer::new();
        let mut out = Out::default();
        // Sequence 65533..=2 and timestamps crossing 2^32, with reordering across the wrap.
        feed(
            &mut buffer,
            &mut out,
            9,
            65533,
            u32::MAX - 400,
            &[0, 1, 3, 2, 4, 6, 5],
        );
        buffer.flush(&mut out);
        assert_eq!(out.0, expected(&[0, 1, 2, 3, 4, 5, 6].map(Some)));
        assert_eq!(buffer.stats().lost, 0);
        assert_eq!(buffer.stats().resyncs, 0);
        assert_eq!(buffer.stats().concealed_samples, 0);
    }

    #[test]
    fn loss_across_the_timestamp_wrap_is_measured_correctly() {
        let mut buffer = JitterBuffer::new();
        let mut out = Out::default();
        feed(&mut buffer, &mut out, 9, 10, u32::MAX - 200, &[0, 3]);
        buffer.flush(&mut out);
        assert_eq!(out.0, expected(&[Some(0), None, None, Some(3)]));
    }

    #[test]
    fn a_new_ssrc_continues_the_recording() {
        let mut buffer = JitterBuffer::new();
        let mut out = Out::default();
        feed(&mut buffer, &mut out, 1, 100, 0, &[0, 2, 1]);
        // A transfer or re-INVITE: a new source with unrelated numbers; the first run's buffered
        // audio goes out first, then the new run follows without a gap.
        feed(&mut buffer, &mut out, 2, 40000, 7_000_000, &[3, 4]);
        // A straggler from the old source is dropped.
        feed(&mut buffer, &mut out, 1, 100, 0, &[3]);
        feed(&mut buffer, &mut out, 2, 40000, 7_000_000, &[5]);
        buffer.flush(&mut out);
        assert_eq!(out.0, expected(&[0, 1, 2, 3, 4, 5].map(Some)));
        let stats = buffer.stats();
        assert_eq!(stats.ssrc_changes, 1);
        assert_eq!(stats.stale_ssrc, 1);
        assert_eq!(stats.concealed_samples, 0);
    }

    #[test]
    fn skipped_sequence_numbers_are_not_loss_and_event_time_becomes_silence() {
        let mut buffer = JitterBuffer::new();
        let mut out = Out::default();
        buffer.push_audio(1, 0, 0, &payload(0), &mut out);
        // Three event packets take sequence numbers 1–3; the next audio starts 400 samples later.
        buffer.push_skip(1, 2, &mut out);
        buffer.push_skip(1, 1, &mut out);
        buffer.push_skip(1, 3, &mut out);
        buffer.push_audio(1, 4, 560, &payload(4), &mut out);
        assert_eq!(buffer.stats().lost, 0);
        let mut want = payload(0);
        want.extend(vec![0xFF; 400]);
        want.extend(payload(4));
        assert_eq!(out.0, want);
    }

    #[test]
    fn a_confirmed_sequence_jump_restarts_the_arithmetic() {
        let mut buffer = JitterBuffer::new();
        let mut out = Out::default();
        feed(&mut buffer, &mut out, 1, 0, 0, &[0, 1]);
        // The sender restarts at sequence 30000 (same SSRC): the first packet is held back, the
        // second confirms the jump.
        buffer.push_audio(1, 30000, 320, &payload(2), &mut out);
        assert_eq!(out.0.len(), 320);
        buffer.push_audio(1, 30001, 480, &payload(3), &mut out);
        buffer.flush(&mut out);
        assert_eq!(out.0, expected(&[Some(0), Some(1), Some(3)]));
        assert_eq!(buffer.stats().resyncs, 1);
        assert_eq!(buffer.stats().late, 1);
    }

    #[test]
    fn hostile_timestamps_cannot_inflate_the_recording() {
        let mut buffer = JitterBuffer::new();
        let mut out = Out::default();
        buffer.push_audio(1, 0, 0, &payload(0), &mut out);
        buffer.push_audio(1, 1, 2_000_000_000, &payload(1), &mut out);
        buffer.push_audio(1, 3, 2_000_000_320, &payload(3), &mut out);
        buffer.flush(&mut out);
        // The jump is a discontinuity (no silence), the single loss after it is 160 samples.
        assert_eq!(out.0, expected(&[Some(0), Some(1), None, Some(3)]));
        assert_eq!(buffer.stats().resyncs, 1);
        // Oversized payloads are treated as lost.
        buffer.push_audio(1, 4, 2_000_000_480, &[0; MAX_PAYLOAD + 1], &mut out);
        assert_eq!(buffer.stats().oversized, 1);
    }
}
