//! Server nonces for SIP digest authentication (RFC 7616 §3.3, §3.4.5): self-validating (an
//! HMAC of the issue time under a key made when the listener starts), expiring, and with the
//! nonce counts seen so far remembered in bounded memory to refuse replays.
//!
//! Pure bookkeeping with the time passed in; never reads a password store (the
//! `policy::EventServer` answers for credentials) and never writes a SIP message.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use ring::hmac;
use tokio::time::Instant;

use super::types::IdSource;

/// What a nonce from a request is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceState {
    /// Ours, in its lifetime: the credentials may be checked.
    Fresh {
        /// When it was issued, in seconds since the listener started.
        issued: u64,
    },
    /// Ours but too old (or forgotten): challenge again with `stale=true`.
    Stale,
    /// Not a nonce we issued.
    Forged,
}

/// Issues and checks nonces for one listener.
pub struct Nonces {
    key: hmac::Key,
    /// Numbers the nonces issued, so no two are alike even within a second (a client starts
    /// its nonce count afresh with each new nonce).
    issued: u64,
    epoch: Instant,
    lifetime: Duration,
    capacity: usize,
    /// The highest nonce count accepted per nonce in use.
    seen: HashMap<String, u32>,
    /// The same nonces by issue time, oldest first, to forget them in that order.
    by_age: BTreeSet<(u64, String)>,
    /// Nonces issued at or before this second have been forgotten: none may be used again.
    forgotten_through: Option<u64>,
}

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nonces")
            .field("in_use", &self.seen.len())
            .finish_non_exhaustive()
    }
}

/// Hex digits of the issue time in a nonce, then of its serial number.
const TIME_DIGITS: usize = 16;

/// Hex digits of the issue time and serial number together.
const HEAD_DIGITS: usize = 32;

/// Bytes of the HMAC kept in a nonce.
const MAC_BYTES: usize = 16;

impl Nonces {
    /// Nonces valid for `lifetime`, with at most `capacity` of them remembered in use.
    pub fn new(ids: &dyn IdSource, lifetime: Duration, capacity: usize, now: Instant) -> Nonces {
        let secret = format!("{}{}{}", ids.token(), ids.token(), ids.token());
        Nonces {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
            issued: 0,
            epoch: now,
            lifetime,
            capacity: capacity.max(1),
            seen: HashMap::new(),
            by_age: BTreeSet::new(),
            forgotten_through: None,
        }
    }

    fn seconds(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_secs()
    }

    fn mac(&self, head: &str) -> hmac::Tag {
        hmac::sign(&self.key, head.as_bytes())
    }

    /// A fresh nonce: the issue time, a serial number and their MAC, in hex.
    pub fn issue(&mut self, now: Instant) -> String {
        let issued = self.seconds(now);
        self.issued = self.issued.wrapping_add(1);
        let mut nonce = format!("{issued:0TIME_DIGITS$x}{:016x}", self.issued);
        let mac = self.mac(&nonce);
        for byte in mac.as_ref().iter().take(MAC_BYTES) {
            nonce.push_str(&format!("{byte:02x}"));
        }
        nonce
    }

    /// Whether `nonce` is ours and still young.
    pub fn check(&self, nonce: &str, now: Instant) -> NonceState {
        let (Some(head), Some(time), Some(mac)) = (
            nonce.get(..HEAD_DIGITS),
            nonce.get(..TIME_DIGITS),
            nonce.get(HEAD_DIGITS..),
        ) else {
            return NonceState::Forged;
        };
        let Ok(issued) = u64::from_str_radix(time, 16) else {
            return NonceState::Forged;
        };
        let expected = self.mac(head);
        let expected = expected.as_ref().iter().take(MAC_BYTES);
        let given = (0..mac.len() / 2).map(|i| {
            mac.get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        });
        // Compare every byte whatever the first difference, so timing tells nothing.
        let mut differs = u8::from(mac.len() != 2 * MAC_BYTES);
        for (want, got) in expected.zip(given) {
            differs |= got.map_or(1, |g| g ^ want);
        }
        if differs != 0 {
            return NonceState::Forged;
        }
        let age = self.seconds(now).saturating_sub(issued);
        let forgotten =
            self.forgotten_through.is_some_and(|t| issued <= t) && !self.seen.contains_key(nonce);
        if age > self.lifetime.as_secs() || forgotten {
            NonceState::Stale
        } else {
            NonceState::Fresh { issued }
        }
    }

    /// Records nonce count `count` for a fresh nonce whose credentials checked out; `false`
    /// when the count is not above every count accepted before (a replay, RFC 7616 §3.4.5).
    pub fn accept(&mut self, nonce: &str, issued: u64, count: u32, now: Instant) -> bool {
        self.forget_expired(now);
        if let Some(last) = self.seen.get_mut(nonce) {
            if count <= *last {
                return false;
            }
            *last = count;
            return true;
        }
        while self.seen.len() >= self.capacity {
            let Some(oldest) = self.by_age.pop_first() else {
                break;
            };
            self.seen.remove(&oldest.1);
            self.forgotten_through = self.forgotten_through.max(Some(oldest.0));
        }
        if self.forgotten_through.is_some_and(|t| issued <= t) {
            // Forgotten a moment ago to make room: its earlier counts are unknown.
            return false;
        }
        self.seen.insert(nonce.to_owned(), count);
        self.by_age.insert((issued, nonce.to_owned()));
        true
    }

    /// Drops the counts of nonces past their lifetime: those nonces are stale anyway.
    fn forget_expired(&mut self, now: Instant) {
        let horizon = self.seconds(now).saturating_sub(self.lifetime.as_secs());
        while let Some((issued, _)) = self.by_age.first() {
            if *issued >= horizon {
                break;
            }
            if let Some((_, nonce)) = self.by_age.pop_first() {
                self.seen.remove(&nonce);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::RandomIds;

    #[test]
    fn nonces_validate_themselves_and_expire() {
        let now = Instant::now();
        let mut nonces = Nonces::new(&RandomIds::default(), Duration::from_secs(60), 4, now);
        let nonce = nonces.issue(now);
        assert_eq!(nonces.check(&nonce, now), NonceState::Fresh { issued: 0 });
        assert_ne!(nonces.issue(now), nonce, "unique within a second");
        let later = now + Duration::from_secs(61);
        assert_eq!(nonces.check(&nonce, later), NonceState::Stale);
        let mut forged = nonce.clone();
        forged.replace_range(HEAD_DIGITS.., &"0".repeat(2 * MAC_BYTES));
        assert_eq!(nonces.check(&forged, now), NonceState::Forged);
        assert_eq!(nonces.check("short", now), NonceState::Forged);
        assert_eq!(nonces.check(&format!("{nonce}00"), now), NonceState::Forged);
        let other = Nonces::new(&RandomIds::default(), Duration::from_secs(60), 4, now);
        assert_eq!(other.check(&nonce, now), NonceState::Forged, "another key");
    }

    #[test]
    fn counts_must_grow_and_memory_is_bounded() {
        let start = Instant::now();
        let mut nonces = Nonces::new(&RandomIds::default(), Duration::from_secs(600), 2, start);
        let first = nonces.issue(start);
        assert!(nonces.accept(&first, 0, 1, start));
        assert!(!nonces.accept(&first, 0, 1, start), "replayed count");
        assert!(nonces.accept(&first, 0, 2, start));
        let t1 = start + Duration::from_secs(1);
        let second = nonces.issue(t1);
        assert!(nonces.accept(&second, 1, 1, t1));
        let t2 = start + Duration::from_secs(2);
        let third = nonces.issue(t2);
        assert!(nonces.accept(&third, 2, 1, t2));
        assert_eq!(nonces.seen.len(), 2, "bounded");
        // The first nonce was forgotten to make room: it cannot be replayed with count 1.
        assert_eq!(nonces.check(&first, t2), NonceState::Stale);
        assert!(!nonces.accept(&first, 0, 1, t2));
    }
}
