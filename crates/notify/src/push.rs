//! Push subscriptions (MS-OXWSNTIF push): the delivery loop of one subscription, its retry
//! schedule, and the policy for which URLs the server may call.
//!
//! The loop reads the log after the subscription's watermark when the mailbox commits, hands a
//! [`Notification`] to a [`Deliver`] (the HTTP client lives in `http`, the SOAP in `ews`), and on
//! the client's OK stores the new watermark. When nothing happens for StatusFrequency it delivers
//! a StatusEvent. A failed delivery is retried after 30 s, then after twice the previous wait,
//! as long as the waits fit in the StatusFrequency window; then the subscription ends, as it does
//! when the client answers Unsubscribe. A push URL is a request made on a client's behalf, so
//! loopback, link-local, private and other non-public targets are refused unless the
//! administrator allows them (the PrivExchange lesson); the HTTP client applies the same
//! [`address_allowed`] to every address a name resolves to, at delivery time.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::Uri;
use tokio::time::Instant;

use crate::metrics::Delivery;

use super::{
    events, read_page, Content, Error, Hub, Mode, Notification, Subscription, SubscriptionId,
};
use umbox_store::{self as store, MailboxId, Seq};

/// The first retry waits this long (MS-OXWSNTIF).
pub const FIRST_RETRY: Duration = Duration::from_secs(30);
/// A delivery attempt that takes longer has failed.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest push URL accepted.
const MAX_URL_LEN: usize = 2048;

/// What the client answered (`SendNotificationResult/SubscriptionStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushReply {
    /// Keep sending.
    Ok,
    /// End the subscription.
    Unsubscribe,
}

/// Why a delivery attempt failed (connection, TLS, HTTP status, a reply that is not a
/// SendNotificationResult, a forbidden address).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeliveryError(pub String);

/// A boxed future, so [`Deliver`] can be a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Carries one rendered push document to its URL and brings back the body of a 200 answer: the
/// transport half of a delivery (`umbox-http` implements it); rendering the document and reading
/// the answer stay with EWS, which implements [`Deliver`] over a carrier.
pub trait Carrier: Send + Sync + 'static {
    /// POSTs `body` as `content_type` to `url`; no credentials are attached.
    fn post<'a>(
        &'a self,
        url: &'a str,
        content_type: &'static str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<Vec<u8>, DeliveryError>>;
}

/// Sends one SendNotification to a push URL and reads the answer.
pub trait Deliver: Send + Sync + 'static {
    /// POSTs `notification` to `url`; no credentials are attached.
    fn deliver<'a>(
        &'a self,
        url: &'a str,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<PushReply, DeliveryError>>;
}

/// Checks a push URL: absolute http or https, a host, no user info, a sane length; an IP literal
/// (or `localhost`) must be an allowed address. Names are checked again, resolved, at delivery.
pub fn check_url(url: &str, allow_private: bool) -> Result<Uri, Error> {
    if url.len() > MAX_URL_LEN {
        return Err(Error::PushUrl(format!(
            "longer than {MAX_URL_LEN} characters"
        )));
    }
    let uri: Uri = url
        .parse()
        .map_err(|_| Error::PushUrl("not a URL".into()))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(Error::PushUrl("the scheme must be http or https".into())),
    }
    let authority = uri
        .authority()
        .ok_or_else(|| Error::PushUrl("no host".into()))?;
    if authority.as_str().contains('@') {
        return Err(Error::PushUrl("user information is not allowed".into()));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    if host.is_empty() {
        return Err(Error::PushUrl("no host".into()));
    }
    if !allow_private {
        let literal = if host.eq_ignore_ascii_case("localhost")
            || host.to_ascii_lowercase().ends_with(".localhost")
        {
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        } else {
            host.parse::<IpAddr>().ok()
        };
        if let Some(address) = literal.filter(|a| !address_allowed(*a, false)) {
            return Err(Error::PushUrl(format!("{address} is not a public address")));
        }
    }
    Ok(uri)
}

/// Whether the server may send a push delivery to `address`: any when `allow_private`, otherwise
/// only globally routable unicast addresses. For IPv4 that is every address outside the IANA
/// special-purpose ranges (RFC 6890 and its updates); for IPv6 only global unicast (2000::/3)
/// outside the special-purpose ranges inside it, so embedded-IPv4 forms that could reach a private
/// IPv4 host (IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`, Teredo) are
/// refused with the rest; an IPv4-mapped address is judged as the IPv4 address it maps.
pub fn address_allowed(address: IpAddr, allow_private: bool) -> bool {
    if allow_private {
        return true;
    }
    match address {
        IpAddr::V4(v4) => v4_public(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_public(v4),
            None => v6_public(v6),
        },
    }
}

fn v4_public(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        // Shared address space (carrier-grade NAT), RFC 6598.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, RFC 6890.
        || (a == 192 && b == 0 && c == 0)
        // The deprecated 6to4 relay anycast prefix, RFC 7526.
        || (a == 192 && b == 88 && c == 99)
        // Benchmarking, RFC 2544.
        || (a == 198 && (b == 18 || b == 19)))
}

fn v6_public(ip: Ipv6Addr) -> bool {
    let [first, second, ..] = ip.segments();
    // Global unicast is 2000::/3; everything else (IPv4-compatible, NAT64, discard-only, ULA,
    // link- and site-local, multicast, SRv6 SIDs) is special-purpose.
    let global_unicast = (first & 0xe000) == 0x2000;
    global_unicast
        // IETF protocol assignments (Teredo, benchmarking, ORCHID among them), RFC 2928.
        && !(first == 0x2001 && second < 0x0200)
        // Documentation, RFC 3849 and RFC 9637.
        && !(first == 0x2001 && second == 0x0db8)
        && !(first == 0x3fff && second < 0x1000)
        // 6to4, RFC 3056: it embeds an IPv4 address, private or not.
        && first != 0x2002
}

/// The waits before each retry of a failed delivery: 30 s, then doubling, while their sum stays
/// within `window` (the StatusFrequency).
pub fn retry_delays(window: Duration) -> impl Iterator<Item = Duration> {
    let mut spent = Duration::ZERO;
    let mut next = FIRST_RETRY;
    std::iter::from_fn(move || {
        let total = spent.checked_add(next)?;
        if total > window {
            return None;
        }
        let delay = next;
        spent = total;
        next = next.saturating_mul(2);
        Some(delay)
    })
}

/// How a delivery with its retries ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Answered(PushReply),
    GaveUp,
}

async fn deliver_with_retries(
    deliver: &dyn Deliver,
    url: &str,
    notification: &Notification,
    window: Duration,
) -> Outcome {
    let mut delays = retry_delays(window);
    loop {
        match tokio::time::timeout(ATTEMPT_TIMEOUT, deliver.deliver(url, notification)).await {
            Ok(Ok(reply)) => return Outcome::Answered(reply),
            Ok(Err(error)) => {
                tracing::debug!(subscription = %notification.subscription, %error, "push delivery failed")
            }
            Err(_) => {
                tracing::debug!(subscription = %notification.subscription, "push delivery timed out")
            }
        }
        match delays.next() {
            Some(delay) => tokio::time::sleep(delay).await,
            None => return Outcome::GaveUp,
        }
    }
}

/// What the loop needs of its subscription.
pub(super) struct Target {
    pub(super) mailbox: MailboxId,
    pub(super) filter: events::Filter,
    pub(super) url: String,
    pub(super) status_frequency: Duration,
    pub(super) watermark: Seq,
}

impl Hub {
    pub(super) fn push_target(&self, id: SubscriptionId) -> Option<Target> {
        match self.state().subscriptions.get(&id) {
            Some(Subscription {
                mailbox,
                filter,
                mode:
                    Mode::Push {
                        url,
                        status_frequency,
                        watermark,
                        ..
                    },
                ..
            }) => Some(Target {
                mailbox: mailbox.clone(),
                filter: filter.clone(),
                url: url.clone(),
                status_frequency: *status_frequency,
                watermark: *watermark,
            }),
            _ => None,
        }
    }

    /// Stores a delivered watermark (blocking); false if the subscription is gone.
    fn delivered(&self, id: SubscriptionId, to: Seq) -> Result<bool, Error> {
        let record = {
            let mut state = self.state();
            match state.subscriptions.get_mut(&id) {
                Some(subscription) => {
                    if let Mode::Push { watermark, .. } = &mut subscription.mode {
                        *watermark = to;
                    }
                    super::record::encode(subscription)?
                }
                None => return Ok(false),
            }
        };
        self.store().save_subscription(&id.to_string(), &record)?;
        Ok(true)
    }
}

/// Runs `body` on the blocking pool; a failed task counts as a store failure.
async fn blocking<T: Send + 'static>(
    body: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(body)
        .await
        .unwrap_or_else(|error| Err(Error::Store(store::Error::Storage(error.to_string()))))
}

/// Delivers one push subscription until it ends. Ends the subscription itself.
pub(super) async fn run(hub: Hub, id: SubscriptionId, deliver: Arc<dyn Deliver>) {
    let reason = deliver_until_done(&hub, id, deliver.as_ref()).await;
    tracing::info!(subscription = %id, reason, "push subscription ended");
    let ending = hub.clone();
    if let Err(error) = tokio::task::spawn_blocking(move || ending.end(id)).await {
        tracing::warn!(subscription = %id, %error, "push subscription not removed");
    }
}

async fn deliver_until_done(hub: &Hub, id: SubscriptionId, deliver: &dyn Deliver) -> &'static str {
    let Some(target) = hub.push_target(id) else {
        return "removed";
    };
    let watcher = {
        let hub = hub.clone();
        let mailbox = target.mailbox.clone();
        blocking(move || Ok(hub.store().watch_log(&mailbox)?)).await
    };
    let mut log = match watcher {
        Ok(receiver) => receiver,
        Err(error) => {
            tracing::warn!(subscription = %id, %error, "cannot watch the change log");
            return "store failure";
        }
    };
    // How far behind the subscription may start (after a restart); once running, a burst of
    // changes is delivered in batches, never counted against it.
    let mut backlog = hub.settings().max_backlog_events;
    // `cursor` is how far the log has been looked at; `watermark` what the client acknowledged
    // (and the store holds). Events between them concern other folders.
    let mut cursor = target.watermark;
    let mut watermark = target.watermark;
    let mut last_sent = Instant::now();
    loop {
        log.borrow_and_update();
        let read = {
            let hub = hub.clone();
            let mailbox = target.mailbox.clone();
            blocking(move || Ok(read_page(hub.store(), &mailbox, cursor)?)).await
        };
        let page = match read {
            Ok(page) if page.bounds.latest.0.saturating_sub(cursor.0) <= backlog => {
                backlog = u64::MAX;
                page
            }
            Ok(_) | Err(Error::Store(store::Error::InvalidWatermark { .. })) => {
                return "missed events"
            }
            Err(error) => {
                tracing::warn!(subscription = %id, %error, "push read failed");
                return "store failure";
            }
        };
        let picked = events::select(&target.filter, cursor, &page.entries, page.full);
        let notification = if picked.events.is_empty() {
            cursor = picked.to;
            if picked.more {
                continue;
            }
            tokio::select! {
                changed = log.changed() => {
                    if changed.is_err() {
                        return "store closed";
                    }
                    continue;
                }
                () = tokio::time::sleep_until(last_sent + target.status_frequency) => {}
            }
            Notification {
                subscription: id,
                mailbox: target.mailbox.clone(),
                previous: watermark,
                more: false,
                content: Content::Status(cursor),
            }
        } else {
            cursor = picked.to;
            Notification {
                subscription: id,
                mailbox: target.mailbox.clone(),
                previous: watermark,
                more: picked.more,
                content: Content::Events(picked.events),
            }
        };
        let outcome =
            deliver_with_retries(deliver, &target.url, &notification, target.status_frequency)
                .await;
        hub.count_push(match outcome {
            Outcome::Answered(PushReply::Ok) => Delivery::Delivered,
            Outcome::Answered(PushReply::Unsubscribe) => Delivery::Unsubscribed,
            Outcome::GaveUp => Delivery::Failed,
        });
        match outcome {
            Outcome::Answered(PushReply::Ok) => {}
            Outcome::Answered(PushReply::Unsubscribe) => return "client unsubscribed",
            Outcome::GaveUp => return "deliveries failed for a whole status period",
        }
        last_sent = Instant::now();
        let to = match notification.content {
            Content::Events(_) => notification.last_watermark(),
            Content::Status(seq) => seq,
        };
        if to != watermark {
            let hub_for_store = hub.clone();
            match blocking(move || hub_for_store.delivered(id, to)).await {
                Ok(true) => watermark = to,
                Ok(false) => return "removed",
                Err(error) => {
                    tracing::warn!(subscription = %id, %error, "push watermark not stored");
                    return "store failure";
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> bool {
        matches!(check_url(url, false), Err(Error::PushUrl(_)))
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("https://push.example.com/ews/listener", false).is_ok());
        assert!(check_url("http://203.0.114.9:8080/x", false).is_ok());
        for url in [
            "ftp://push.example.com/",
            "not a url",
            "/relative/path",
            "https://user:pw@push.example.com/",
            "http://127.0.0.1:9/",
            "http://localhost/",
            "http://LOCALHOST:80/",
            "http://[::1]/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
        ] {
            assert!(refused(url), "{url} was accepted");
        }
        assert!(refused(&format!(
            "https://push.example.com/{}",
            "a".repeat(MAX_URL_LEN)
        )));
        assert!(check_url("http://127.0.0.1:9/", true).is_ok());
    }

    #[test]
    fn addresses() {
        for a in [
            "8.8.8.8",
            "2606:4700::1111",
            "2a00:1450::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(address_allowed(a.parse().unwrap(), false), "{a}");
        }
        for a in [
            "::10.0.0.1",
            "::8.8.8.8",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "2002:a00:1::1",
            "2001::1",
            "2001:2::1",
            "2001:20::1",
            "3fff::1",
            "100::1",
            "5f00::1",
            "fec0::1",
            "ff02::1",
            "192.88.99.1",
            "192.0.0.170",
            "100.64.0.1",
            "240.0.0.1",
            "0.1.2.3",
            "127.0.0.2",
            "10.0.0.1",
            "192.168.0.1",
            "169.254.1.1",
            "::1",
            "fe80::2",
            "fc00::1",
            "224.0.0.1",
            "255.255.255.255",
            "2001:db8::1",
            "198.18.0.1",
        ] {
            assert!(!address_allowed(a.parse().unwrap(), false), "{a}");
            assert!(address_allowed(a.parse().unwrap(), true), "{a}");
        }
    }

    #[test]
    fn retries_double_within_the_status_window() {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        let secs = |d: Vec<Duration>| d.into_iter().map(|d| d.as_secs()).collect::<Vec<_>>();
        assert_eq!(secs(retry_delays(minutes(1)).collect()), vec![30]);
        assert_eq!(secs(retry_delays(minutes(5)).collect()), vec![30, 60, 120]);
        assert_eq!(
            secs(retry_delays(minutes(30)).collect()),
            vec![30, 60, 120, 240, 480]
        );
        assert_eq!(retry_delays(Duration::from_secs(29)).count(), 0);
    }
}
