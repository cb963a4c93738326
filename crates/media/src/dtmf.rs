//! DTMF: RFC 4733 telephone-event payloads, reporting each key press once, and collecting an
//! extension number typed by a caller.
//!
//! Wire (the 4-byte event payload) and pure logic (deduplication, the digit collector's state
//! machine); no IO and no clock reads: the caller passes tokio `Instant`s, so tests step time by
//! hand. Entry points: [`TelephoneEvent::parse`], [`EventDedupe::end_of`], [`DigitCollector`].

use std::time::Duration;

use tokio::time::Instant;

/// Most digits an extension may have.
pub const MAX_EXTENSION_DIGITS: usize = 16;

/// A decimal digit 0–9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digit(u8);

impl Digit {
    /// The digit with this value, if it is 0–9.
    pub const fn new(value: u8) -> Option<Digit> {
        if value <= 9 {
            Some(Digit(value))
        } else {
            None
        }
    }

    /// Its value.
    pub const fn value(self) -> u8 {
        self.0
    }

    /// The digit a character shows, if it is `0`–`9`.
    pub fn from_char(c: char) -> Option<Digit> {
        c.to_digit(10)
            .and_then(|d| u8::try_from(d).ok())
            .and_then(Digit::new)
    }

    /// The character `0`–`9`.
    pub fn as_char(self) -> char {
        char::from(b'0' + self.0)
    }
}

/// A DTMF event code (RFC 4733 §3.2, Table 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// Keys 0–9 (codes 0–9).
    Digit(Digit),
    /// `*` (code 10).
    Star,
    /// `#` (code 11).
    Pound,
    /// Key A (code 12).
    A,
    /// Key B (code 13).
    B,
    /// Key C (code 14).
    C,
    /// Key D (code 15).
    D,
    /// Hook flash (code 16).
    Flash,
    /// Any other code (RFC 4734 tones and the like), kept so it round-trips.
    Other(u8),
}

impl Event {
    /// The event a code stands for.
    pub const fn from_u8(code: u8) -> Event {
        match code {
            0..=9 => Event::Digit(Digit(code)),
            10 => Event::Star,
            11 => Event::Pound,
            12 => Event::A,
            13 => Event::B,
            14 => Event::C,
            15 => Event::D,
            16 => Event::Flash,
            other => Event::Other(other),
        }
    }

    /// The event's code.
    pub const fn as_u8(self) -> u8 {
        match self {
            Event::Digit(d) => d.0,
            Event::Star => 10,
            Event::Pound => 11,
            Event::A => 12,
            Event::B => 13,
            Event::C => 14,
            Event::D => 15,
            Event::Flash => 16,
            Event::Other(code) => code,
        }
    }
}

/// An RFC 4733 §2.3 event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// The event.
    pub event: Event,
    /// The E bit: this packet reports the end of the event.
    pub end: bool,
    /// Power level, 0 to −63 dBm0, as the positive number.
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Reads the first event of a payload (redundant older events that may follow are ignored).
    pub fn parse(payload: &[u8]) -> Option<TelephoneEvent> {
        let [code, flags, high, low] = *payload.first_chunk::<4>()?;
        Some(TelephoneEvent {
            event: Event::from_u8(code),
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([high, low]),
        })
    }

    /// The payload bytes of this event.
    pub fn to_bytes(self) -> [u8; 4] {
        let [high, low] = self.duration.to_be_bytes();
        let flags = if self.end { 0x80 } else { 0 } | (self.volume & 0x3F);
        [self.event.as_u8(), flags, high, low]
    }
}

/// Reports each event once. All packets of one event share its RTP timestamp, and the end packet
/// is sent three times (RFC 4733 §2.5.1.4); the event counts when its first end packet arrives.
#[derive(Debug, Default, Clone)]
pub struct EventDedupe {
    last_ended: Option<(u32, u32)>,
}

impl EventDedupe {
    /// The event that just ended, if `packet` (from `ssrc`, with RTP `timestamp`) ends one not yet
    /// reported.
    pub fn end_of(&mut self, ssrc: u32, timestamp: u32, packet: &TelephoneEvent) -> Option<Event> {
        if !packet.end || self.last_ended == Some((ssrc, timestamp)) {
            return None;
        }
        self.last_ended = Some((ssrc, timestamp));
        Some(packet.event)
    }
}

/// An extension number: 1 to [`MAX_EXTENSION_DIGITS`] decimal digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Extension(String);

impl Extension {
    /// The extension `text` names, if it is only digits and not too long.
    pub fn parse(text: &str) -> Option<Extension> {
        let valid = !text.is_empty()
            && text.len() <= MAX_EXTENSION_DIGITS
            && text.bytes().all(|b| b.is_ascii_digit());
        valid.then(|| Extension(text.to_owned()))
    }

    /// The digits as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits one by one.
    pub fn digits(&self) -> impl Iterator<Item = Digit> + '_ {
        self.0.chars().filter_map(Digit::from_char)
    }
}

impl std::fmt::Display for Extension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How an extension entry ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Collected {
    /// Digits ended by `#`, or by the inter-digit timeout once some were typed.
    Extension(Extension),
    /// Nothing typed before the timeout, or `#` alone.
    Nothing,
    /// More than [`MAX_EXTENSION_DIGITS`] digits.
    TooLong,
}

/// Collects an extension: digits, then `#`; `*` starts over. A first-digit timeout runs from the
/// start (or the last `*`), an inter-digit timeout from each digit.
#[derive(Debug, Clone)]
pub struct DigitCollector {
    digits: String,
    first_digit_timeout: Duration,
    inter_digit_timeout: Duration,
    deadline: Instant,
}

impl DigitCollector {
    /// Starts collecting at `now`.
    pub fn new(
        now: Instant,
        first_digit_timeout: Duration,
        inter_digit_timeout: Duration,
    ) -> DigitCollector {
        DigitCollector {
            digits: String::with_capacity(MAX_EXTENSION_DIGITS),
            first_digit_timeout,
            inter_digit_timeout,
            deadline: super::instant_after(now, first_digit_timeout),
        }
    }

    /// When [`DigitCollector::on_timeout`] should be called.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Feeds a key press; returns the outcome once the entry is over.
    pub fn on_event(&mut self, event: Event, now: Instant) -> Option<Collected> {
        match event {
            Event::Digit(digit) => {
                if self.digits.len() >= MAX_EXTENSION_DIGITS {
                    return Some(Collected::TooLong);
                }
                self.digits.push(digit.as_char());
                self.deadline = super::instant_after(now, self.inter_digit_timeout);
                None
            }
            Event::Pound => Some(self.finish()),
            Event::Star => {
                self.digits.clear();
                self.deadline = super::instant_after(now, self.first_digit_timeout);
                None
            }
            // Keys that mean nothing while typing an extension.
            Event::A | Event::B | Event::C | Event::D | Event::Flash | Event::Other(_) => None,
        }
    }

    /// Ends the entry if its deadline has passed.
    pub fn on_timeout(&mut self, now: Instant) -> Option<Collected> {
        (now >= self.deadline).then(|| self.finish())
    }

    fn finish(&self) -> Collected {
        match Extension::parse(&self.digits) {
            Some(extension) => Collected::Extension(extension),
            None => Collected::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_payloads_round_trip() {
        let pound_end = [11, 0x80 | 10, 0x03, 0x20];
        let event = TelephoneEvent::parse(&pound_end).unwrap();
        assert_eq!(
            event,
            TelephoneEvent {
                event: Event::Pound,
                end: true,
                volume: 10,
                duration: 800
            }
        );
        assert_eq!(event.to_bytes(), pound_end);
        assert_eq!(TelephoneEvent::parse(&[1, 2, 3]), None);
        for code in 0..=255u8 {
            assert_eq!(Event::from_u8(code).as_u8(), code);
        }
        assert_eq!(Event::from_u8(15), Event::D);
    }

    #[test]
    fn an_end_is_reported_once_per_event() {
        let mut dedupe = EventDedupe::default();
        let start = TelephoneEvent {
            event: Event::Pound,
            end: false,
            volume: 10,
            duration: 160,
        };
        let end = TelephoneEvent {
            end: true,
            duration: 800,
            ..start
        };
        assert_eq!(dedupe.end_of(7, 1000, &start), None);
        assert_eq!(dedupe.end_of(7, 1000, &end), Some(Event::Pound));
        assert_eq!(
            dedupe.end_of(7, 1000, &end),
            None,
            "second copy of the end packet"
        );
        assert_eq!(dedupe.end_of(7, 1000, &end), None, "third copy");
        // The same key pressed again is a new event with a new timestamp.
        assert_eq!(dedupe.end_of(7, 9000, &end), Some(Event::Pound));
        // Another stream that happens to reuse the timestamp is another event.
        assert_eq!(dedupe.end_of(8, 9000, &end), Some(Event::Pound));
    }

    fn digit(n: u8) -> Event {
        Event::Digit(Digit::new(n).unwrap())
    }

    #[test]
    fn collector_state_machine() {
        let first = Duration::from_secs(5);
        let inter = Duration::from_secs(3);
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);

        // Digits then #.
        let mut c = DigitCollector::new(t0, first, inter);
        assert_eq!(c.deadline(), at(5000));
        for (i, d) in [1, 0, 0, 1].into_iter().enumerate() {
            assert_eq!(c.on_event(digit(d), at(1000 * i as u64)), None);
        }
        assert_eq!(c.deadline(), at(3000 + 3000));
        assert_eq!(c.on_timeout(at(5999)), None);
        assert_eq!(
            c.on_event(Event::Pound, at(4000)),
            Some(Collected::Extension(Extension::parse("1001").unwrap()))
        );

        // The inter-digit timeout ends an entry that has digits.
        let mut c = DigitCollector::new(t0, first, inter);
        c.on_event(digit(4), at(100));
        c.on_event(Event::A, at(200));
        assert_eq!(c.on_timeout(at(3099)), None);
        assert_eq!(
            c.on_timeout(at(3100)),
            Some(Collected::Extension(Extension::parse("4").unwrap()))
        );

        // Nothing typed.
        let mut c = DigitCollector::new(t0, first, inter);
        assert_eq!(c.on_timeout(at(5000)), Some(Collected::Nothing));
        let mut c = DigitCollector::new(t0, first, inter);
        assert_eq!(c.on_event(Event::Pound, at(10)), Some(Collected::Nothing));

        // * starts over with the first-digit timeout.
        let mut c = DigitCollector::new(t0, first, inter);
        c.on_event(digit(9), at(100));
        c.on_event(Event::Star, at(200));
        assert_eq!(c.deadline(), at(5200));
        c.on_event(digit(2), at(300));
        assert_eq!(
            c.on_event(Event::Pound, at(400)),
            Some(Collected::Extension(Extension::parse("2").unwrap()))
        );

        // A timeout too large for the clock is capped, not an overflow.
        let c = DigitCollector::new(t0, Duration::MAX, Duration::MAX);
        assert!(c.deadline() > at(1000 * 3600 * 24 * 364));

        // Too many digits.
        let mut c = DigitCollector::new(t0, first, inter);
        for _ in 0..MAX_EXTENSION_DIGITS {
            assert_eq!(c.on_event(digit(7), t0), None);
        }
        assert_eq!(c.on_event(digit(7), t0), Some(Collected::TooLong));
    }

    #[test]
    fn extensions_are_digit_strings() {
        assert!(Extension::parse("").is_none());
        assert!(Extension::parse("12a").is_none());
        assert!(Extension::parse(&"1".repeat(MAX_EXTENSION_DIGITS + 1)).is_none());
        let ext = Extension::parse("1001").unwrap();
        assert_eq!(
            ext.digits().map(Digit::value).collect::<Vec<_>>(),
            [1, 0, 0, 1]
        );
        assert_eq!(ext.to_string(), "1001");
    }
}
