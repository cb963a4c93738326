//! Who may talk to a SIP listener and how fast: per-source token buckets and scanner detection
//! (SIP scanners such as friendly-scanner and sipvicious probe every public port). Which sources
//! are trusted is the business side's answer (`policy::Peers`).
//!
//! Pure bookkeeping with the time passed in; the funnel (`sip::transport::inbound`) applies it.
//! Never parses messages and never answers anyone.

use std::collections::HashMap;
use std::net::IpAddr;

use tokio::time::Instant;

/// A token-bucket rate: `per_second` tokens flow in, at most `burst` are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Sustained messages per second.
    pub per_second: u32,
    /// Messages allowed at once after a quiet spell.
    pub burst: u32,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens =
            (self.tokens + elapsed * f64::from(rate.per_second)).min(f64::from(rate.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn is_full(&self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * f64::from(rate.per_second) >= f64::from(rate.burst)
    }
}

/// Per-source buckets, one rate for configured gateways and a tighter one for everyone else.
///
/// Over the limit a message is dropped, not answered: an answer costs about as much as the
/// work it refuses, a spoofed UDP source would turn every answer into reflected traffic, and
/// scanners ignore 503. The 503 with Retry-After that gateways act on is the concurrent-call
/// limit's, sent once a message is inside.
#[derive(Debug)]
pub struct RateLimiter {
    gateway: Rate,
    other: Rate,
    max_sources: usize,
    buckets: HashMap<IpAddr, Bucket>,
}

impl RateLimiter {
    /// Tracks at most `max_sources` non-gateway sources at a time.
    pub fn new(gateway: Rate, other: Rate, max_sources: usize) -> RateLimiter {
        RateLimiter {
            gateway,
            other,
            max_sources,
            buckets: HashMap::new(),
        }
    }

    /// Whether one more message from `source` may be handled now.
    pub fn allow(&mut self, source: IpAddr, is_gateway: bool, now: Instant) -> bool {
        let rate = if is_gateway { self.gateway } else { self.other };
        if let Some(bucket) = self.buckets.get_mut(&source) {
            return bucket.take(rate, now);
        }
        if self.buckets.len() >= self.max_sources {
            // Forget sources whose buckets refilled; they lose nothing by it.
            let (gateway, other) = (self.gateway, self.other);
            self.buckets
                .retain(|_, bucket| !bucket.is_full(gateway.max_rate(other), now));
            // Still full: a flood of fresh sources. Gateways always get a bucket; strangers
            // wait until some drain.
            if self.buckets.len() >= self.max_sources && !is_gateway {
                return false;
            }
        }
        let mut bucket = Bucket {
            tokens: f64::from(rate.burst),
            last: now,
        };
        let allowed = bucket.take(rate, now);
        self.buckets.insert(source, bucket);
        allowed
    }
}

impl Rate {
    /// The faster of two rates (the safe one for deciding a bucket is idle).
    fn max_rate(self, other: Rate) -> Rate {
        if self.burst >= other.burst {
            self
        } else {
            other
        }
    }
}

/// User-Agent fragments of SIP scanners (the sipvicious family and its relatives).
const SCANNERS: [&str; 3] = ["friendly-scanner", "sipcli", "sipvicious"];

/// Whether a User-Agent announces a scanner; such requests are dropped unanswered, so the
/// scanner cannot even learn that a SIP server listens here.
pub fn is_scanner(user_agent: &str) -> bool {
    let lower = user_agent.to_ascii_lowercase();
    SCANNERS.iter().any(|s| lower.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const GW: Rate = Rate {
        per_second: 100,
        burst: 10,
    };
    const OTHER: Rate = Rate {
        per_second: 1,
        burst: 2,
    };

    #[test]
    fn buckets_refill_at_their_rate() {
        let now = Instant::now();
        let mut limiter = RateLimiter::new(GW, OTHER, 16);
        let stranger: IpAddr = [192, 0, 2, 9].into();
        assert!(limiter.allow(stranger, false, now));
        assert!(limiter.allow(stranger, false, now));
        assert!(!limiter.allow(stranger, false, now));
        assert!(limiter.allow(stranger, false, now + Duration::from_secs(1)));
        let gateway: IpAddr = [127, 0, 0, 1].into();
        let allowed = (0..20)
            .filter(|_| limiter.allow(gateway, true, now))
            .count();
        assert_eq!(allowed, 10);
        assert!(limiter.allow(gateway, true, now + Duration::from_millis(10)));
    }

    #[test]
    fn the_table_is_bounded() {
        let now = Instant::now();
        let mut limiter = RateLimiter::new(GW, OTHER, 2);
        for last in 1..=2u8 {
            for _ in 0..2 {
                assert!(limiter.allow([192, 0, 2, last].into(), false, now));
            }
        }
        assert!(
            !limiter.allow([192, 0, 2, 3].into(), false, now),
            "full of busy sources"
        );
        assert!(
            limiter.allow([127, 0, 0, 1].into(), true, now),
            "gateways always fit"
        );
        let later = now + Duration::from_secs(10);
        assert!(
            limiter.allow([192, 0, 2, 4].into(), false, later),
            "idle buckets forgotten"
        );
    }

    #[test]
    fn scanners_are_recognised() {
        assert!(is_scanner("friendly-scanner"));
        assert!(is_scanner("SIPVicious 0.3"));
        assert!(is_scanner("sipcli/v1.8"));
        assert!(!is_scanner("Cisco-SIPGateway/IOS-15"));
    }
}
