//! The source of "now" for everything that stamps times (responses, items, change logs, SOA serials).
//!
//! Code receives a [`Clock`] instead of reading the system time, so tests and golden fixtures can fix
//! it. [`SystemClock`] is the only place that reads the real time.

use std::time::SystemTime;

/// Something that tells the time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // The one sanctioned read of the real clock.
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that always says the same time (tests, fixtures).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}
