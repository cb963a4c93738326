//! What the media server counts for operators: calls by outcome, calls in progress, RTP packets
//! received, lost and dropped as foreign, how long delivery into the mailbox took, and the
//! recording spool: files waiting (being recorded or not yet delivered) and delivery retries. Registered
//! once in the server's Prometheus registry and handed to `um::voicemail` in its `Services`.

use std::fmt::{self, Write};
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// How a call on the media server ended, as far as the mailbox is concerned.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum CallOutcome {
    /// A voice message was delivered.
    VoiceMessage,
    /// A missed-call notification was delivered.
    MissedCall,
    /// Nothing was due (a subscriber-access call, or a policy without missed-call notices).
    Nothing,
    /// Delivery into the mailbox failed.
    DeliveryFailed,
    /// The call failed before it could be recorded (media could not start).
    Failed,
}

impl EncodeLabelValue for CallOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> fmt::Result {
        encoder.write_str(match self {
            CallOutcome::VoiceMessage => "voice_message",
            CallOutcome::MissedCall => "missed_call",
            CallOutcome::Nothing => "nothing",
            CallOutcome::DeliveryFailed => "delivery_failed",
            CallOutcome::Failed => "failed",
        })
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: CallOutcome,
}

/// The media server's metric families; clones share them.
#[derive(Debug, Clone)]
pub struct CallMetrics {
    calls: Family<OutcomeLabels, Counter>,
    in_progress: Gauge,
    rtp_received: Counter,
    rtp_lost: Counter,
    rtp_foreign: Counter,
    delivery_seconds: Histogram,
    spool_files: Gauge,
    spool_retries: Counter,
}

impl Default for CallMetrics {
    /// Families registered nowhere (tests and benchmarks that build `Services` by hand).
    fn default() -> CallMetrics {
        CallMetrics {
            calls: Family::default(),
            in_progress: Gauge::default(),
            rtp_received: Counter::default(),
            rtp_lost: Counter::default(),
            rtp_foreign: Counter::default(),
            // 1 ms (a notification) doubling to about 16 s (a long message on a stalled disk).
            delivery_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            spool_files: Gauge::default(),
            spool_retries: Counter::default(),
        }
    }
}

impl CallMetrics {
    /// The families, registered in `registry`.
    pub fn register(registry: &mut Registry) -> CallMetrics {
        let metrics = CallMetrics::default();
        registry.register(
            "umbox_calls",
            "Calls on the media server by outcome",
            metrics.calls.clone(),
        );
        registry.register(
            "umbox_calls_in_progress",
            "Calls on the media server not yet delivered",
            metrics.in_progress.clone(),
        );
        registry.register(
            "umbox_rtp_packets_received",
            "Audio RTP packets accepted from callers",
            metrics.rtp_received.clone(),
        );
        registry.register(
            "umbox_rtp_packets_lost",
            "RTP packets of callers that never arrived (sequence gaps)",
            metrics.rtp_lost.clone(),
        );
        registry.register(
            "umbox_rtp_packets_foreign",
            "RTP datagrams from an address other than the negotiated peer, dropped",
            metrics.rtp_foreign.clone(),
        );
        registry.register(
            "umbox_delivery_duration_seconds",
            "Time from the end of a call to its voice message or notice being committed",
            metrics.delivery_seconds.clone(),
        );
        registry.register(
            "umbox_spool_files",
            "Recording spool files waiting: calls being recorded and messages not yet delivered",
            metrics.spool_files.clone(),
        );
        registry.register(
            "umbox_spool_delivery_retries",
            "Tries again at delivering a spooled message after a failure",
            metrics.spool_retries.clone(),
        );
        metrics
    }

    pub(crate) fn in_progress(&self, calls: usize) {
        self.in_progress
            .set(i64::try_from(calls).unwrap_or(i64::MAX));
    }

    pub(crate) fn ended(&self, outcome: CallOutcome) {
        self.calls.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    pub(crate) fn media(&self, received: u64, lost: u64, foreign: u64) {
        self.rtp_received.inc_by(received);
        self.rtp_lost.inc_by(lost);
        self.rtp_foreign.inc_by(foreign);
    }

    pub(crate) fn delivered(&self, took: Duration) {
        self.delivery_seconds.observe(took.as_secs_f64());
    }

    pub(crate) fn spool_depth(&self, files: usize) {
        self.spool_files
            .set(i64::try_from(files).unwrap_or(i64::MAX));
    }

    pub(crate) fn spooled(&self) {
        self.spool_files.inc();
    }

    pub(crate) fn unspooled(&self) {
        self.spool_files.dec();
    }

    pub(crate) fn retried(&self) {
        self.spool_retries.inc();
    }
}
