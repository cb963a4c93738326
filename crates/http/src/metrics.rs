//! What the HTTPS surface counts for operators: requests by endpoint and status with their
//! latency, EWS requests by operation and fault, and refused credentials by reason. The families
//! are registered once in the server's Prometheus registry and updated per request; label values
//! come from closed sets (our endpoints, our operation names, our response codes), never from
//! the request text, so no client can grow the series.

use std::fmt::{self, Write};
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Latency buckets: 100 µs doubling to about 3.3 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

type Latencies<L> = Family<L, Histogram, fn() -> Histogram>;

/// Which surface a request went to.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Surface {
    /// POX Autodiscover.
    AutodiscoverXml,
    /// SOAP Autodiscover.
    AutodiscoverSvc,
    /// EWS.
    Ews,
    /// The EWS user photo GET.
    UserPhoto,
    /// A path we do not serve.
    Unknown,
}

impl EncodeLabelValue for Surface {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> fmt::Result {
        encoder.write_str(match self {
            Surface::AutodiscoverXml => "autodiscover_xml",
            Surface::AutodiscoverSvc => "autodiscover_svc",
            Surface::Ews => "ews",
            Surface::UserPhoto => "user_photo",
            Surface::Unknown => "unknown",
        })
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    surface: Surface,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SurfaceLabels {
    surface: Surface,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EwsLabels {
    operation: &'static str,
    /// The SOAP fault's response code, `none` for a response document.
    fault: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

/// Why credentials were refused.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Refusal {
    /// Wrong, unknown or locked-out credentials.
    Rejected,
    /// The source is throttled.
    Throttled,
    /// Too many password checks were waiting.
    Busy,
    /// The Authorization header could not be read.
    Malformed,
}

impl EncodeLabelValue for Refusal {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> fmt::Result {
        encoder.write_str(match self {
            Refusal::Rejected => "rejected",
            Refusal::Throttled => "throttled",
            Refusal::Busy => "busy",
            Refusal::Malformed => "malformed",
        })
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    reason: Refusal,
}

/// The HTTPS surface's metric families; clones share them.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: Latencies<SurfaceLabels>,
    ews_requests: Family<EwsLabels, Counter>,
    ews_latency: Latencies<OperationLabels>,
    refusals: Family<RefusalLabels, Counter>,
}

impl Default for HttpMetrics {
    /// Families registered nowhere (tests, and servers built without a registry).
    fn default() -> HttpMetrics {
        HttpMetrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            ews_requests: Family::default(),
            ews_latency: Family::new_with_constructor(latency_histogram),
            refusals: Family::default(),
        }
    }
}

impl HttpMetrics {
    /// The families, registered in `registry`.
    pub fn register(registry: &mut Registry) -> HttpMetrics {
        let metrics = HttpMetrics::default();
        registry.register(
            "umbox_http_requests",
            "HTTPS requests by surface and status",
            metrics.requests.clone(),
        );
        registry.register(
            "umbox_http_request_duration_seconds",
            "Time from request head to response head, by surface",
            metrics.latency.clone(),
        );
        registry.register(
            "umbox_ews_requests",
            "EWS requests by operation and SOAP fault (none for a response document)",
            metrics.ews_requests.clone(),
        );
        registry.register(
            "umbox_ews_request_duration_seconds",
            "Time an EWS operation took, by operation",
            metrics.ews_latency.clone(),
        );
        registry.register(
            "umbox_auth_failures",
            "Refused credentials by reason",
            metrics.refusals.clone(),
        );
        metrics
    }

    pub(crate) fn request(&self, surface: Surface, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels { surface, status })
            .inc();
        self.latency
            .get_or_create(&SurfaceLabels { surface })
            .observe(took.as_secs_f64());
    }

    pub(crate) fn ews(&self, operation: &'static str, fault: Option<&'static str>, took: Duration) {
        let fault = fault.unwrap_or("none");
        self.ews_requests
            .get_or_create(&EwsLabels { operation, fault })
            .inc();
        self.ews_latency
            .get_or_create(&OperationLabels { operation })
            .observe(took.as_secs_f64());
    }

    pub(crate) fn refused(&self, reason: Refusal) {
        self.refusals.get_or_create(&RefusalLabels { reason }).inc();
    }
}
