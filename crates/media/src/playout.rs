//! What a call plays to the caller: a list of clips, pauses and tones, read out one packet at a time.
//!
//! Pure logic: the list is built when a phase starts (the only allocation), then
//! [`Playlist::fill`] writes each packet's codes into the sender's buffer, converting clips of the
//! other law on the fly and generating tones, so nothing is allocated per packet. Never does IO.
//! Entry points: [`Playlist::system_greeting`], [`Playlist::custom_greeting`], [`Playlist::prompt`],
//! [`Playlist::fill`].

use std::sync::Arc;
use std::time::Duration;

use super::dtmf::{Digit, Extension};
use super::g711::Law;
use super::prompts::{Prompt, Prompts, Tens, Weekday};
use super::rtp::CLOCK_RATE;

/// The voicemail beep: 1 kHz for half a second.
pub const BEEP_HZ: u32 = 1000;
/// Length of the beep.
pub const BEEP: Duration = Duration::from_millis(500);
/// Beep level, −10 dBFS: clearly audible without clipping on a phone line.
const BEEP_AMPLITUDE: f32 = 10_362.0;
/// Pause between spoken digits.
const DIGIT_PAUSE: Duration = Duration::from_millis(120);
/// Pause between sentences, and before the beep.
const SENTENCE_PAUSE: Duration = Duration::from_millis(300);

fn samples(duration: Duration) -> usize {
    usize::try_from(duration.as_millis() * u128::from(CLOCK_RATE) / 1000).unwrap_or(usize::MAX)
}

/// One piece of a playlist.
#[derive(Debug, Clone)]
pub enum Segment {
    /// Recorded audio in G.711 `law`.
    Clip {
        /// The law of `codes`.
        law: Law,
        /// The audio.
        codes: Arc<[u8]>,
    },
    /// A sine tone.
    Tone {
        /// Frequency in Hz.
        hz: u32,
        /// Length in samples.
        samples: usize,
    },
    /// Silence.
    Pause {
        /// Length in samples.
        samples: usize,
    },
}

impl Segment {
    fn len(&self) -> usize {
        match self {
            Segment::Clip { codes, .. } => codes.len(),
            Segment::Tone { samples, .. } | Segment::Pause { samples } => *samples,
        }
    }

    fn prompt(prompts: &Prompts, prompt: Prompt) -> Segment {
        Segment::Clip {
            law: Law::Mu,
            codes: prompts.clip(prompt),
        }
    }

    fn pause(duration: Duration) -> Segment {
        Segment::Pause {
            samples: samples(duration),
        }
    }
}

/// Audio to play, and how far it has been played.
#[derive(Debug, Clone, Default)]
pub struct Playlist {
    segments: Vec<Segment>,
    index: usize,
    offset: usize,
}

impl Playlist {
    /// A playlist of `segments`.
    pub fn new(segments: Vec<Segment>) -> Playlist {
        Playlist {
            segments,
            index: 0,
            offset: 0,
        }
    }

    /// One system prompt.
    pub fn prompt(prompts: &Prompts, prompt: Prompt) -> Playlist {
        Playlist::new(vec![Segment::prompt(prompts, prompt)])
    }

    /// The system greeting for `extension` ("Please leave a message for extension 1 0 0 1 after
    /// the tone"), then the beep.
    pub fn system_greeting(prompts: &Prompts, extension: &Extension) -> Playlist {
        Playlist::system_greeting_after(prompts, extension, Vec::with_capacity(16))
    }

    /// "You have reached", the user's recorded name (G.711 codes of `law`), then the system
    /// greeting.
    pub fn named_greeting(
        prompts: &Prompts,
        extension: &Extension,
        law: Law,
        name: Arc<[u8]>,
    ) -> Playlist {
        let introduction = vec![
            Segment::prompt(prompts, Prompt::YouHaveReached),
            Segment::pause(DIGIT_PAUSE),
            Segment::Clip { law, codes: name },
            Segment::pause(SENTENCE_PAUSE),
        ];
        Playlist::system_greeting_after(prompts, extension, introduction)
    }

    /// The system greeting naming `extension`, after the `segments` already there.
    fn system_greeting_after(
        prompts: &Prompts,
        extension: &Extension,
        mut segments: Vec<Segment>,
    ) -> Playlist {
        segments.push(Segment::prompt(prompts, Prompt::LeaveMessageForExtension));
        segments.push(Segment::pause(DIGIT_PAUSE));
        for digit in extension.digits() {
            segments.push(Segment::prompt(prompts, Prompt::Digit(digit)));
            segments.push(Segment::pause(DIGIT_PAUSE));
        }
        segments.push(Segment::prompt(prompts, Prompt::AfterTheTone));
        segments.push(Segment::pause(SENTENCE_PAUSE));
        segments.push(beep());
        Playlist::new(segments)
    }

    /// A user's own greeting, then the beep.
    pub fn custom_greeting(law: Law, codes: Arc<[u8]>) -> Playlist {
        Playlist::new(vec![
            Segment::Clip { law, codes },
            Segment::pause(SENTENCE_PAUSE),
            beep(),
        ])
    }

    /// The beep alone (before a recording).
    pub fn beep() -> Playlist {
        Playlist::new(vec![beep()])
    }

    /// Appends a segment.
    pub fn push(&mut self, segment: Segment) {
        self.segments.push(segment);
    }

    /// Appends a system prompt.
    pub fn push_prompt(&mut self, prompts: &Prompts, prompt: Prompt) {
        self.segments.push(Segment::prompt(prompts, prompt));
    }

    /// Appends the pause between sentences.
    pub fn push_pause(&mut self) {
        self.segments.push(Segment::pause(SENTENCE_PAUSE));
    }

    /// Appends a number in words ("zero" … "fifty-nine"); larger numbers are said digit by
    /// digit, as only the words times and counts need are recorded.
    pub fn push_number(&mut self, prompts: &Prompts, n: u32) {
        for word in number_words(n) {
            self.push_word(prompts, word);
        }
    }

    /// Appends the digits of `text` one by one (a phone number); other characters are skipped.
    pub fn push_digits(&mut self, prompts: &Prompts, text: &str) {
        for digit in text.chars().filter_map(Digit::from_char) {
            self.push_word(prompts, Prompt::Digit(digit));
        }
    }

    /// Appends a day and a time of day ("Tuesday, three oh five P M"); `hour` counts from 0 to 23.
    pub fn push_day_time(&mut self, prompts: &Prompts, day: Weekday, hour: u8, minute: u8) {
        self.push_word(prompts, Prompt::Weekday(day));
        let twelve = match hour % 12 {
            0 => 12,
            h => h,
        };
        self.push_number(prompts, u32::from(twelve));
        match minute {
            0 => {}
            1..=9 => {
                self.push_word(prompts, Prompt::Oh);
                self.push_number(prompts, u32::from(minute));
            }
            _ => self.push_number(prompts, u32::from(minute)),
        }
        let half = if hour % 24 < 12 {
            Prompt::Am
        } else {
            Prompt::Pm
        };
        self.push_word(prompts, half);
    }

    fn push_word(&mut self, prompts: &Prompts, prompt: Prompt) {
        self.segments.push(Segment::prompt(prompts, prompt));
        self.segments.push(Segment::pause(DIGIT_PAUSE));
    }

    /// Total length in samples.
    pub fn total_samples(&self) -> usize {
        self.segments.iter().map(Segment::len).sum()
    }

    /// Whether it has nothing (left) to play.
    pub fn is_done(&self) -> bool {
        self.index >= self.segments.len()
    }

    /// Writes the next codes in `law` into `out`; returns how many were written (fewer than
    /// `out.len()` only at the end).
    pub fn fill(&mut self, law: Law, out: &mut [u8]) -> usize {
        let mut written = 0;
        // Each turn finishes a segment or fills `out`, so the loop ends after at most
        // `segments.len() + 1` turns.
        for _ in 0..=self.segments.len() {
            let Some(rest) = out.get_mut(written..) else {
                break;
            };
            let Some(segment) = self.segments.get(self.index) else {
                break;
            };
            if rest.is_empty() {
                break;
            }
            let take = segment.len().saturating_sub(self.offset).min(rest.len());
            let target = rest.get_mut(..take).unwrap_or_default();
            match segment {
                Segment::Clip { law: from, codes } => {
                    let source = codes
                        .get(self.offset..self.offset + take)
                        .unwrap_or_default();
                    law.transcode(*from, source, target);
                }
                Segment::Tone { hz, .. } => {
                    for (i, code) in target.iter_mut().enumerate() {
                        *code = law.encode_sample(tone_sample(*hz, self.offset + i));
                    }
                }
                Segment::Pause { .. } => target.fill(law.silence()),
            }
            written += take;
            self.offset += take;
            if self.offset >= segment.len() {
                self.index += 1;
                self.offset = 0;
            }
        }
        written
    }
}

/// The words of `n`: up to two for 0–59, the digits otherwise.
fn number_words(n: u32) -> Vec<Prompt> {
    let digit = |d: u32| Digit::new(u8::try_from(d % 10).unwrap_or(0)).map(Prompt::Digit);
    let tens = match n / 10 {
        2 => Some(Tens::Twenty),
        3 => Some(Tens::Thirty),
        4 => Some(Tens::Forty),
        5 => Some(Tens::Fifty),
        _ => None,
    };
    match (n, tens) {
        (0..=9, _) => digit(n).into_iter().collect(),
        (10..=19, _) => digit(n)
            .map(|d| match d {
                Prompt::Digit(d) => Prompt::Teen(d),
                other => other,
            })
            .into_iter()
            .collect(),
        (_, Some(tens)) => std::iter::once(Prompt::Tens(tens))
            .chain(digit(n).filter(|_| !n.is_multiple_of(10)))
            .collect(),
        _ => n
            .to_string()
            .chars()
            .filter_map(Digit::from_char)
            .map(Prompt::Digit)
            .collect(),
    }
}

fn beep() -> Segment {
    Segment::Tone {
        hz: BEEP_HZ,
        samples: samples(BEEP),
    }
}

/// Sample `n` of a sine at `hz`.
fn tone_sample(hz: u32, n: usize) -> i16 {
    // The phase only needs the position within one second; reducing first keeps f32 exact enough.
    let rate = usize::try_from(CLOCK_RATE).unwrap_or(8000);
    let position = (n % rate) as f32 / CLOCK_RATE as f32;
    let value = BEEP_AMPLITUDE * (std::f32::consts::TAU * hz as f32 * position).sin();
    // |value| ≤ BEEP_AMPLITUDE < i16::MAX, so the conversion cannot saturate.
    value.round() as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_packets_across_segments_in_the_call_law() {
        let mut playlist = Playlist::new(vec![
            Segment::Clip {
                law: Law::Mu,
                codes: Arc::from(&[0x80u8; 100][..]),
            },
            Segment::Pause { samples: 30 },
            Segment::Tone {
                hz: 1000,
                samples: 90,
            },
        ]);
        assert_eq!(playlist.total_samples(), 220);
        let mut packet = [0u8; 160];
        assert_eq!(playlist.fill(Law::A, &mut packet), 160);
        // µ-law 0x80 (+32124) becomes A-law +32256 (0xAA); the pause is A-law silence.
        assert!(packet[..100].iter().all(|c| *c == 0xAA));
        assert!(packet[100..130].iter().all(|c| *c == 0xD5));
        // The tone starts at phase 0 and repeats every 8 samples at 1 kHz.
        let tone: Vec<i16> = packet[130..]
            .iter()
            .map(|c| Law::A.decode_sample(*c))
            .collect();
        assert!(tone[0].abs() < 100);
        assert!(tone[2] > 9000, "{tone:?}");
        assert!(tone[6] < -9000);
        assert_eq!(tone[0..8], tone[8..16]);
        assert_eq!(playlist.fill(Law::A, &mut packet), 60);
        assert!(playlist.is_done());
        assert_eq!(playlist.fill(Law::A, &mut packet), 0);
    }

    #[test]
    fn numbers_and_times_are_said_in_words() {
        let d = |n| Prompt::Digit(Digit::new(n).unwrap());
        let t = |n| Prompt::Teen(Digit::new(n).unwrap());
        assert_eq!(number_words(0), [d(0)]);
        assert_eq!(number_words(7), [d(7)]);
        assert_eq!(number_words(13), [t(3)]);
        assert_eq!(number_words(40), [Prompt::Tens(Tens::Forty)]);
        assert_eq!(number_words(59), [Prompt::Tens(Tens::Fifty), d(9)]);
        assert_eq!(number_words(105), [d(1), d(0), d(5)]);
        let prompts = Prompts::embedded().unwrap();
        let words = |list: &[Prompt]| -> usize {
            list.iter()
                .map(|p| prompts.clip(*p).len() + samples(DIGIT_PAUSE))
                .sum()
        };
        let mut playlist = Playlist::default();
        playlist.push_day_time(&prompts, Weekday::Tuesday, 15, 5);
        let expected = words(&[
            Prompt::Weekday(Weekday::Tuesday),
            d(3),
            Prompt::Oh,
            d(5),
            Prompt::Pm,
        ]);
        assert_eq!(playlist.total_samples(), expected);
        let mut playlist = Playlist::default();
        playlist.push_day_time(&prompts, Weekday::Sunday, 0, 30);
        let expected = words(&[
            Prompt::Weekday(Weekday::Sunday),
            t(2),
            Prompt::Tens(Tens::Thirty),
            Prompt::Am,
        ]);
        assert_eq!(playlist.total_samples(), expected);
    }

    #[test]
    fn system_greeting_speaks_the_extension_then_beeps() {
        let prompts = Prompts::embedded().unwrap();
        let extension = Extension::parse("1001").unwrap();
        let playlist = Playlist::system_greeting(&prompts, &extension);
        let clip = |p| prompts.clip(p).len();
        let digit = |d| clip(Prompt::Digit(super::super::dtmf::Digit::new(d).unwrap()));
        let expected = clip(Prompt::LeaveMessageForExtension)
            + samples(DIGIT_PAUSE) * 5
            + digit(1) * 2
            + digit(0) * 2
            + clip(Prompt::AfterTheTone)
            + samples(SENTENCE_PAUSE)
            + 4000;
        assert_eq!(playlist.total_samples(), expected);
    }

    /// The recorded name plays, exactly, between "you have reached" and the system greeting.
    #[test]
    fn named_greeting_plays_the_name_before_the_system_greeting() {
        let prompts = Prompts::embedded().unwrap();
        let extension = Extension::parse("1001").unwrap();
        let name: Arc<[u8]> = (0..=255u8).cycle().take(800).collect::<Vec<u8>>().into();
        let system = Playlist::system_greeting(&prompts, &extension).total_samples();
        let mut playlist =
            Playlist::named_greeting(&prompts, &extension, Law::Mu, Arc::clone(&name));
        let introduction = prompts.clip(Prompt::YouHaveReached).len() + samples(DIGIT_PAUSE);
        assert_eq!(
            playlist.total_samples(),
            introduction + name.len() + samples(SENTENCE_PAUSE) + system
        );
        let mut out = vec![0; playlist.total_samples()];
        assert_eq!(playlist.fill(Law::Mu, &mut out), out.len());
        assert_eq!(
            out.get(introduction..introduction + name.len()),
            Some(&name[..])
        );
    }
}
