//! Failed-login throttling: a lockout per account name, as a directory's account lockout policy
//! has it (so many failures within an observation window lock the account for a while), and the
//! same rule per source network, so one host guessing across many names is slowed as well.
//!
//! Both tables are bounded: when one is full, expired entries go first, then the entry whose
//! window is oldest. Never decides whether a password is right; it only counts outcomes.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// When failures lock a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures within `window` that lock the key.
    pub threshold: u32,
    /// The observation window: failures older than this are forgotten.
    pub window: Duration,
    /// How long a locked key stays locked.
    pub lockout: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
}

impl Entry {
    fn expired(&self, policy: &Policy, now: Instant) -> bool {
        let window_over = now.saturating_duration_since(self.window_start) >= policy.window;
        let lock_over = self.locked_until.is_none_or(|until| now >= until);
        window_over && lock_over
    }
}

/// Failure counts per key, bounded to `capacity` keys.
#[derive(Debug)]
pub struct Throttle<K> {
    policy: Policy,
    capacity: usize,
    entries: HashMap<K, Entry>,
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    /// An empty table holding at most `capacity` keys (at least one).
    pub fn new(policy: Policy, capacity: usize) -> Throttle<K> {
        Throttle {
            policy,
            capacity: capacity.max(1),
            entries: HashMap::new(),
        }
    }

    /// How much longer `key` stays locked, or `None` when it is not locked.
    pub fn locked(&self, key: &K, now: Instant) -> Option<Duration> {
        let until = self.entries.get(key)?.locked_until?;
        (now < until).then(|| until.saturating_duration_since(now))
    }

    /// Counts a failure of `key`, locking it when the failures in its window reach the threshold.
    pub fn failed(&mut self, key: K, now: Instant) {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.make_room(now);
        }
        let policy = self.policy;
        let entry = self.entries.entry(key).or_insert(Entry {
            failures: 0,
            window_start: now,
            locked_until: None,
        });
        if entry.expired(&policy, now) {
            *entry = Entry {
                failures: 0,
                window_start: now,
                locked_until: None,
            };
        }
        entry.failures = entry.failures.saturating_add(1);
        if entry.failures >= policy.threshold {
            entry.locked_until = Some(now + policy.lockout);
        }
    }

    /// Forgets `key`'s failures (a success resets the count, as account lockout does).
    pub fn succeeded(&mut self, key: &K) {
        self.entries.remove(key);
    }

    fn make_room(&mut self, now: Instant) {
        let policy = self.policy;
        self.entries.retain(|_, entry| !entry.expired(&policy, now));
        if self.entries.len() < self.capacity {
            return;
        }
        let oldest = self
            .entries
            .iter()
            .min_by_key(|(_, entry)| entry.window_start)
            .map(|(key, _)| key.clone());
        if let Some(oldest) = oldest {
            self.entries.remove(&oldest);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        threshold: 3,
        window: Duration::from_secs(60),
        lockout: Duration::from_secs(300),
    };

    #[test]
    fn the_threshold_within_the_window_locks_until_the_lockout_ends() {
        let start = Instant::now();
        let mut throttle = Throttle::new(POLICY, 10);
        throttle.failed("alice", start);
        throttle.failed("alice", start + Duration::from_secs(1));
        assert_eq!(throttle.locked(&"alice", start), None);
        let third = start + Duration::from_secs(2);
        throttle.failed("alice", third);
        assert_eq!(throttle.locked(&"alice", third), Some(POLICY.lockout));
        assert_eq!(throttle.locked(&"bob", third), None);
        let after = third + POLICY.lockout;
        assert_eq!(throttle.locked(&"alice", after), None);
    }

    #[test]
    fn failures_outside_the_window_and_before_a_success_are_forgotten() {
        let start = Instant::now();
        let mut throttle = Throttle::new(POLICY, 10);
        throttle.failed("alice", start);
        throttle.failed("alice", start);
        let later = start + POLICY.window;
        throttle.failed("alice", later);
        assert_eq!(throttle.locked(&"alice", later), None);
        throttle.failed("alice", later);
        throttle.succeeded(&"alice");
        throttle.failed("alice", later);
        assert_eq!(throttle.locked(&"alice", later), None);
    }

    #[test]
    fn a_full_table_drops_expired_entries_then_the_oldest() {
        let start = Instant::now();
        let mut throttle = Throttle::new(POLICY, 2);
        throttle.failed(1, start);
        throttle.failed(2, start + Duration::from_secs(1));
        throttle.failed(3, start + Duration::from_secs(2));
        assert_eq!(throttle.len(), 2);
        assert!(!throttle.entries.contains_key(&1));
        let much_later = start + POLICY.window * 10;
        throttle.failed(4, much_later);
        assert_eq!(throttle.len(), 1);
    }
}
