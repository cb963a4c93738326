//! Response rate limiting for UDP answers: a token bucket per source network (an IPv4 /24, an
//! IPv6 /56, the prefixes resolvers' addresses share), refilled at
//! `responses_per_second` and holding one second's worth. A response over the limit is dropped, or
//! every `slip`-th one sent truncated so a real resolver caught in a spoofed flood retries over TCP,
//! which cannot be spoofed and is never limited here.
//!
//! The table is bounded: when it is full, buckets that have refilled completely (their sources
//! were quiet for a second) are forgotten, in a sweep made at most once a second; until room is
//! made, new sources share one overflow bucket, so a flood of spoofed networks is limited as one
//! source and costs no scan per packet. Never looks at the question asked.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Instant;

use umbox_base::config::Dns as Settings;

/// Most source networks tracked at once.
const CAPACITY: usize = 65_536;

/// What to do with one UDP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Within the limit: answer normally.
    Answer,
    /// Over the limit, slipped: answer with TC=1 and no records.
    Truncate,
    /// Over the limit: send nothing.
    Drop,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
    limited: u32,
}

/// The buckets of every source network heard from lately.
#[derive(Debug)]
pub(crate) struct Limiter {
    settings: Settings,
    capacity: usize,
    buckets: Mutex<Buckets>,
}

#[derive(Debug, Default)]
struct Buckets {
    by_network: HashMap<IpAddr, Bucket>,
    /// When a full table was last swept: at most once a second, so a flood of new (spoofed)
    /// sources costs one scan a second, not one per packet.
    swept: Option<Instant>,
}

/// The network a source is limited under.
fn network(source: IpAddr) -> IpAddr {
    match source {
        IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) & 0xffff_ff00)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => network(IpAddr::V4(v4)),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 72) - 1))),
        },
    }
}

/// How often a full table may be swept for networks that went quiet.
const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// The key new sources share when the table is full of active ones.
const OVERFLOW: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

impl Limiter {
    pub(crate) fn new(settings: Settings) -> Limiter {
        Limiter::with_capacity(settings, CAPACITY)
    }

    fn with_capacity(settings: Settings, capacity: usize) -> Limiter {
        Limiter {
            settings,
            capacity: capacity.max(1),
            buckets: Mutex::new(Buckets::default()),
        }
    }

    /// The verdict on one response to `source` at `now`.
    pub(crate) fn check(&self, source: IpAddr, now: Instant) -> Verdict {
        let rate = f64::from(self.settings.responses_per_second);
        if self.settings.responses_per_second == 0 {
            return Verdict::Answer;
        }
        let Ok(mut guard) = self.buckets.lock() else {
            return Verdict::Answer;
        };
        let table = &mut *guard;
        let mut key = network(source);
        if !table.by_network.contains_key(&key) && table.by_network.len() >= self.capacity {
            let due = table
                .swept
                .is_none_or(|at| now.saturating_duration_since(at) >= SWEEP_INTERVAL);
            if due {
                table.swept = Some(now);
                table.by_network.retain(|_, bucket| {
                    let idle = now.saturating_duration_since(bucket.refilled).as_secs_f64();
                    bucket.tokens + idle * rate < rate
                });
            }
            if table.by_network.len() >= self.capacity {
                key = OVERFLOW;
            }
        }
        let bucket = table.by_network.entry(key).or_insert(Bucket {
            tokens: rate,
            refilled: now,
            limited: 0,
        });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(rate);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Verdict::Answer;
        }
        bucket.limited = bucket.limited.wrapping_add(1);
        let slip = self.settings.slip;
        if slip > 0 && bucket.limited % slip == 0 {
            Verdict::Truncate
        } else {
            Verdict::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn settings(responses_per_second: u32, slip: u32) -> Settings {
        Settings {
            responses_per_second,
            slip,
        }
    }

    #[test]
    fn a_network_gets_its_rate_then_slips_every_nth_and_refills_with_time() {
        let limiter = Limiter::new(settings(3, 2));
        let now = Instant::now();
        let source: IpAddr = "192.0.2.10".parse().unwrap();
        let neighbour: IpAddr = "192.0.2.200".parse().unwrap();
        let verdicts: Vec<_> = (0..7)
            .map(|n| limiter.check(if n % 2 == 0 { source } else { neighbour }, now))
            .collect();
        use Verdict::{Answer, Drop, Truncate};
        assert_eq!(
            verdicts,
            [Answer, Answer, Answer, Drop, Truncate, Drop, Truncate]
        );
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(limiter.check(other, now), Answer);
        let later = now + Duration::from_secs(1);
        assert_eq!(limiter.check(source, later), Answer);
    }

    #[test]
    fn zero_turns_limiting_off_and_zero_slip_drops_everything_over() {
        let now = Instant::now();
        let source: IpAddr = "2001:db8::1".parse().unwrap();
        let off = Limiter::new(settings(0, 2));
        assert!((0..100).all(|_| off.check(source, now) == Verdict::Answer));
        let strict = Limiter::new(settings(1, 0));
        assert_eq!(strict.check(source, now), Verdict::Answer);
        assert!((0..10).all(|_| strict.check(source, now) == Verdict::Drop));
    }

    #[test]
    fn networks_are_slash_24_and_slash_56() {
        assert_eq!(
            network("192.0.2.77".parse().unwrap()),
            "192.0.2.0".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            network("::ffff:192.0.2.77".parse().unwrap()),
            "192.0.2.0".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            network("2001:db8:1:22ff:1::1".parse().unwrap()),
            "2001:db8:1:2200::".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn a_full_table_forgets_quiet_networks_and_pools_the_rest() {
        let limiter = Limiter::with_capacity(settings(1, 0), 2);
        let now = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "198.51.100.1".parse().unwrap();
        let c: IpAddr = "203.0.113.1".parse().unwrap();
        let d: IpAddr = "203.0.114.1".parse().unwrap();
        assert_eq!(limiter.check(a, now), Verdict::Answer);
        assert_eq!(limiter.check(b, now), Verdict::Answer);
        // Full of active networks: c and d share the overflow bucket.
        assert_eq!(limiter.check(c, now), Verdict::Answer);
        assert_eq!(limiter.check(d, now), Verdict::Drop);
        // A second on, every bucket has refilled and is forgotten to make room.
        let later = now + Duration::from_secs(2);
        assert_eq!(limiter.check(d, later), Verdict::Answer);
        assert_eq!(limiter.buckets.lock().unwrap().by_network.len(), 1);
    }
}
