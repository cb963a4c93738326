//! The message being recorded: the G.711 codes exactly as received, capped at the maximum length,
//! with an energy-based silence detector watching the decoded samples.
//!
//! Pure logic: it is the jitter buffer's [`Sink`] and never does IO. A voice message goes onto a
//! spool [`Tape`] (`media::spool` writes it to disk as it arrives, so a call holds about a second
//! of it); a short recording kept in memory (a greeting) gets a buffer reserved for the maximum
//! length when it starts, so appending never reallocates. The result of a call is a
//! [`Recording`]. Entry points: [`Recorder::new`], [`Recorder::spooled`], [`SilenceDetector`],
//! [`Recording`].

use std::time::Duration;

use super::g711::Law;
use super::jitter::Sink;
use super::leg::MediaStats;
use super::rtp::{CLOCK_RATE, SAMPLES_PER_PACKET};
use super::spool::{Closing, Tape};

/// The longest recording a call can make, whatever its plan says (28.8 MB of G.711).
pub const MAX_RECORDING: Duration = Duration::from_secs(3600);

/// Audio frame over which the silence detector measures energy (20 ms).
const FRAME: usize = SAMPLES_PER_PACKET;

/// Decides whether recent audio is silence: the mean power of each 20 ms frame is compared to a
/// threshold, and consecutive quiet frames add up.
#[derive(Debug, Clone)]
pub struct SilenceDetector {
    /// Mean square sample value below which a frame is quiet.
    threshold: f64,
    frame_energy: f64,
    frame_samples: usize,
    quiet_samples: u64,
}

impl SilenceDetector {
    /// A detector calling a frame quiet when its RMS level is below `threshold_dbfs`, in decibels
    /// relative to the full-scale sample value 32768 (e.g. −40.0).
    pub fn new(threshold_dbfs: f32) -> SilenceDetector {
        let amplitude = 32768.0 * 10f64.powf(f64::from(threshold_dbfs) / 20.0);
        SilenceDetector {
            threshold: amplitude * amplitude,
            frame_energy: 0.0,
            frame_samples: 0,
            quiet_samples: 0,
        }
    }

    /// Feeds decoded samples.
    pub fn feed(&mut self, samples: &[i16]) {
        for sample in samples {
            let value = f64::from(*sample);
            self.frame_energy += value * value;
            self.frame_samples += 1;
            if self.frame_samples == FRAME {
                self.end_frame();
            }
        }
    }

    /// Feeds `count` samples of digital silence.
    pub fn feed_silence(&mut self, count: usize) {
        let mut left = count;
        while left > 0 {
            let take = (FRAME - self.frame_samples).min(left);
            self.frame_samples += take;
            left -= take;
            if self.frame_samples == FRAME {
                self.end_frame();
            }
        }
    }

    fn end_frame(&mut self) {
        // FRAME is a small constant; the cast is exact.
        let mean = self.frame_energy / FRAME as f64;
        if mean < self.threshold {
            self.quiet_samples += FRAME as u64;
        } else {
            self.quiet_samples = 0;
        }
        self.frame_energy = 0.0;
        self.frame_samples = 0;
    }

    /// How long the audio has been quiet, up to the last complete frame.
    pub fn quiet_for(&self) -> Duration {
        Duration::from_micros(self.quiet_samples * 1_000_000 / u64::from(CLOCK_RATE))
    }
}

/// Collects the recording; the jitter buffer writes into it.
#[derive(Debug)]
pub struct Recorder {
    law: Law,
    /// The codes of a recording kept in memory.
    audio: Vec<u8>,
    /// Where a spooled recording goes instead.
    tape: Option<Tape>,
    samples: usize,
    max_samples: usize,
    silence: SilenceDetector,
}

impl Recorder {
    /// A recorder keeping up to `max_length` (at most [`MAX_RECORDING`]) of `law` audio in
    /// memory; reserves the whole buffer now.
    pub fn new(law: Law, max_length: Duration, silence_threshold_dbfs: f32) -> Recorder {
        let max_samples = max_samples(max_length);
        Recorder {
            law,
            audio: Vec::with_capacity(max_samples),
            tape: None,
            samples: 0,
            max_samples,
            silence: SilenceDetector::new(silence_threshold_dbfs),
        }
    }

    /// A recorder writing up to `max_length` (at most [`MAX_RECORDING`]) onto `tape`, in the
    /// tape's law.
    pub fn spooled(tape: Tape, max_length: Duration, silence_threshold_dbfs: f32) -> Recorder {
        Recorder {
            law: tape.law(),
            audio: Vec::new(),
            tape: Some(tape),
            samples: 0,
            max_samples: max_samples(max_length),
            silence: SilenceDetector::new(silence_threshold_dbfs),
        }
    }

    /// Whether the maximum length is reached.
    pub fn is_full(&self) -> bool {
        self.samples >= self.max_samples
    }

    /// How long the recorded audio has been quiet.
    pub fn quiet_for(&self) -> Duration {
        self.silence.quiet_for()
    }

    /// Ends the recording (a tape is closed: its file is being completed).
    pub fn finish(self, ended: EndReason, stats: MediaStats) -> Recording {
        Recording {
            law: self.law,
            audio: self.audio,
            spooled: self.tape.map(Tape::close),
            samples: self.samples,
            ended,
            stats,
        }
    }

    fn room(&self) -> usize {
        self.max_samples.saturating_sub(self.samples)
    }
}

fn max_samples(max_length: Duration) -> usize {
    let max_length = max_length.min(MAX_RECORDING);
    usize::try_from(max_length.as_millis() * u128::from(CLOCK_RATE) / 1000).unwrap_or(0)
}

impl Sink for Recorder {
    fn audio(&mut self, codes: &[u8]) {
        let take = codes
            .get(..self.room().min(codes.len()))
            .unwrap_or_default();
        match &mut self.tape {
            Some(tape) => tape.write(take),
            None => self.audio.extend_from_slice(take),
        }
        self.samples += take.len();
        let mut decoded = [0i16; FRAME];
        for chunk in take.chunks(FRAME) {
            let count = self.law.decode(chunk, &mut decoded);
            self.silence.feed(decoded.get(..count).unwrap_or_default());
        }
    }

    fn silence(&mut self, samples: usize) {
        let take = samples.min(self.room());
        match &mut self.tape {
            Some(tape) => tape.write_silence(take),
            None => self
                .audio
                .resize(self.audio.len() + take, self.law.silence()),
        }
        self.samples += take;
        self.silence.feed_silence(take);
    }
}

/// Why a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The caller pressed `#` (RFC 4733 event 11).
    Pound,
    /// The call was hung up (or the session handle dropped).
    Hangup,
    /// Nothing but silence for the silence timeout.
    Silence,
    /// The maximum message length was reached.
    MaxLength,
    /// The media socket failed.
    MediaError,
}

/// A recorded message: the codes exactly as the caller's side sent them.
#[derive(Debug)]
pub struct Recording {
    /// The law of the audio.
    pub law: Law,
    /// G.711 codes, one per sample at 8000 Hz, of a recording kept in memory (empty when it was
    /// spooled); lost packets are filled with the law's silence.
    pub audio: Vec<u8>,
    /// The spool file of a spooled recording, being completed.
    pub spooled: Option<Closing>,
    /// How many samples were recorded.
    pub samples: usize,
    /// How it ended.
    pub ended: EndReason,
    /// Counters of the call's media.
    pub stats: MediaStats,
}

impl Recording {
    /// The audio's length.
    pub fn duration(&self) -> Duration {
        duration_of(self.samples)
    }
}

/// How long `samples` samples at 8 kHz last.
pub fn duration_of(samples: usize) -> Duration {
    let samples = u64::try_from(samples).unwrap_or(u64::MAX);
    Duration::from_micros(samples.saturating_mul(1_000_000) / u64::from(CLOCK_RATE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_of(amplitude: i16) -> Vec<i16> {
        // A square wave: its RMS is its amplitude.
        (0..FRAME)
            .map(|i| if i % 2 == 0 { amplitude } else { -amplitude })
            .collect()
    }

    #[test]
    fn silence_is_measured_in_whole_quiet_frames() {
        // −40 dBFS is an RMS of about 328.
        let mut detector = SilenceDetector::new(-40.0);
        detector.feed(&frame_of(1000));
        assert_eq!(detector.quiet_for(), Duration::ZERO);
        for _ in 0..50 {
            detector.feed(&frame_of(300));
        }
        assert_eq!(detector.quiet_for(), Duration::from_secs(1));
        // Half a frame does not count yet.
        detector.feed_silence(80);
        assert_eq!(detector.quiet_for(), Duration::from_secs(1));
        detector.feed_silence(80 + 160 * 49);
        assert_eq!(detector.quiet_for(), Duration::from_secs(2));
        // Speech resets it.
        detector.feed(&frame_of(400));
        assert_eq!(detector.quiet_for(), Duration::ZERO);
    }

    #[test]
    fn a_huge_plan_is_capped() {
        let mut recorder = Recorder::new(Law::A, Duration::MAX, -40.0);
        recorder.silence(usize::MAX);
        assert!(recorder.is_full());
        let recording = recorder.finish(EndReason::MaxLength, MediaStats::default());
        assert_eq!(recording.duration(), MAX_RECORDING);
    }

    #[test]
    fn the_recorder_caps_at_the_maximum_length_and_watches_for_silence() {
        let mut recorder = Recorder::new(Law::Mu, Duration::from_millis(50), -40.0);
        let loud = Law::Mu.encode_sample(8000);
        recorder.audio(&[loud; 160]);
        assert!(!recorder.is_full());
        assert_eq!(recorder.quiet_for(), Duration::ZERO);
        recorder.silence(160);
        assert_eq!(recorder.quiet_for(), Duration::from_millis(20));
        recorder.audio(&[loud; 160]);
        assert!(recorder.is_full());
        let recording = recorder.finish(EndReason::MaxLength, MediaStats::default());
        assert_eq!(recording.audio.len(), 400);
        assert_eq!(&recording.audio[160..320], &[0xFF; 160][..]);
        assert_eq!(recording.duration(), Duration::from_millis(50));
        assert!(recording.spooled.is_none());
    }
}
