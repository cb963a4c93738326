//! What the notification hub counts for operators: subscriptions held by kind, and push
//! deliveries by outcome. Registered once in the server's Prometheus registry and attached to
//! the hub with [`crate::Hub::attach_metrics`]; a hub without them counts nothing.

use std::fmt::{self, Write};

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::Kind;

impl EncodeLabelValue for Kind {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> fmt::Result {
        encoder.write_str(match self {
            Kind::Pull => "pull",
            Kind::Push => "push",
            Kind::Streaming => "streaming",
        })
    }
}

/// How one push delivery (with its retries) ended.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// The client answered OK.
    Delivered,
    /// The client answered Unsubscribe.
    Unsubscribed,
    /// Every retry within the status period failed.
    Failed,
}

impl EncodeLabelValue for Delivery {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> fmt::Result {
        encoder.write_str(match self {
            Delivery::Delivered => "delivered",
            Delivery::Unsubscribed => "unsubscribed",
            Delivery::Failed => "failed",
        })
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: Kind,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    outcome: Delivery,
}

/// The hub's metric families; clones share them.
#[derive(Debug, Clone, Default)]
pub struct NotifyMetrics {
    subscriptions: Family<KindLabels, Gauge>,
    pushes: Family<DeliveryLabels, Counter>,
}

impl NotifyMetrics {
    /// The families, registered in `registry`.
    pub fn register(registry: &mut Registry) -> NotifyMetrics {
        let metrics = NotifyMetrics::default();
        registry.register(
            "umbox_notification_subscriptions",
            "EWS notification subscriptions held, by kind",
            metrics.subscriptions.clone(),
        );
        registry.register(
            "umbox_push_notifications",
            "Push notifications sent (SendNotification), by outcome",
            metrics.pushes.clone(),
        );
        metrics
    }

    pub(crate) fn subscribed(&self, kind: Kind) {
        self.subscriptions.get_or_create(&KindLabels { kind }).inc();
    }

    pub(crate) fn unsubscribed(&self, kind: Kind) {
        self.subscriptions.get_or_create(&KindLabels { kind }).dec();
    }

    pub(crate) fn pushed(&self, outcome: Delivery) {
        self.pushes.get_or_create(&DeliveryLabels { outcome }).inc();
    }
}
