//! What the store counts for operators: durable commits and how long each took (the fsync is
//! most of it, and the first thing to look at when every surface slows down together). Attached
//! to a store with `RedbStore::attach_metrics`; a store without them counts nothing.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The store's metric families; clones share them.
#[derive(Debug, Clone)]
pub struct StoreMetrics {
    commits: Counter,
    commit_seconds: Histogram,
}

impl StoreMetrics {
    /// The families, registered in `registry`.
    pub fn register(registry: &mut Registry) -> StoreMetrics {
        let metrics = StoreMetrics {
            commits: Counter::default(),
            // 50 µs (a page-cache fsync) doubling to about 1.6 s (a stalled disk).
            commit_seconds: Histogram::new(exponential_buckets(0.00005, 2.0, 16)),
        };
        registry.register(
            "umbox_store_commits",
            "Durable store transactions committed",
            metrics.commits.clone(),
        );
        registry.register(
            "umbox_store_commit_duration_seconds",
            "Time a commit took, fsync included",
            metrics.commit_seconds.clone(),
        );
        metrics
    }

    pub(crate) fn committed(&self, took: std::time::Duration) {
        self.commits.inc();
        self.commit_seconds.observe(took.as_secs_f64());
    }
}
