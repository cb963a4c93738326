//! EWS notification subscriptions (MS-OXWSNTIF): pull, push and streaming, fed only by the
//! mailbox change log.
//!
//! A subscription is a cursor (a [`Seq`]) into one mailbox's persistent change log plus a
//! [`Filter`]. The store announces every durable commit on a per-mailbox watch
//! (`MailStore::watch_log`), whatever made the change (EWS, delivery, the call pipeline, the admin
//! CLI); events are then read from the log by sequence number: when a client asks (pull,
//! [`Hub::get_events`]), when the log moves (push deliveries, streaming [`Connection`]s). Nothing is
//! queued per subscription in memory: the log is the backlog. A push or streaming subscription
//! that comes back (a new connection, a restart) more than `max_backlog_events` behind the log, or
//! that falls behind the log's retention, is ended with ErrorMissedNotificationEvents; a live
//! connection is never cut for a burst of changes, and one whose client stops reading is dropped
//! by the HTTP layer's write-stall guard, holding nothing while it is away. Pull and push subscriptions are kept in the store beside the log
//! (one small record each, written when they are created, delivered to or ended), so they resume
//! after a restart with no event lost or repeated; streaming subscriptions live in memory, as in
//! Exchange.
//!
//! Entry points: [`Hub::open`] at start-up, [`Hub::run`] (push deliveries, expiry, log retention),
//! and the calls EWS makes: [`Hub::subscribe`], [`Hub::unsubscribe`], [`Hub::get_events`],
//! [`Hub::connect`]. Never writes a mailbox, never builds XML and never opens a socket: `ews`
//! renders, `http` carries ([`push::Deliver`]). The state lock is never held across `.await` or a
//! store call. Store calls block: async code here runs them with `spawn_blocking`.

pub mod events;
pub mod metrics;
pub mod push;
mod record;
mod stream;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use base64::Engine;
use tokio::sync::Notify;
use tokio::task::JoinSet;

pub use events::{EventType, EventTypes, Filter, Folders, EVENTS_PER_NOTIFICATION};
pub use stream::{Connection, Frame};
use umbox_base::clock::Clock;
use umbox_base::config::Notifications;
use umbox_store::{self as store, LogBounds, LoggedEvent, MailStore, MailboxId, Seq};

/// Log entries read per pass; bounds the work of one GetEvents call or one streaming pass.
const SCAN_LIMIT: usize = 1000;
/// How often expired subscriptions are swept.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);
/// How often the change log is trimmed to the retention time.
const TRIM_INTERVAL: Duration = Duration::from_secs(3600);
/// A streaming subscription no connection has used for this long expires (Exchange keeps them
/// about as long).
const STREAMING_IDLE_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Bytes in a subscription id.
const ID_LEN: usize = 16;
/// Layout version of a watermark's bytes.
const WATERMARK_FORMAT: u8 = 1;

/// Why a notification call failed; `ews::error` maps each to its response code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The id is not one umbox issues (ErrorInvalidSubscription).
    #[error("malformed subscription id")]
    MalformedId,
    /// No such subscription: never made, unsubscribed or ended (ErrorSubscriptionNotFound).
    #[error("no subscription {0}")]
    NotFound(SubscriptionId),
    /// Another user's subscription (ErrorSubscriptionAccessDenied).
    #[error("subscription {0} belongs to another user")]
    AccessDenied(SubscriptionId),
    /// The pull subscription timed out (ErrorExpiredSubscription).
    #[error("subscription {0} expired")]
    Expired(SubscriptionId),
    /// Push subscriptions end only when their client answers Unsubscribe (ErrorInvalidSubscription).
    #[error(
        "subscription {0} is a push subscription: it ends when its client answers Unsubscribe"
    )]
    PushUnsubscribe(SubscriptionId),
    /// The operation needs another kind of subscription (ErrorInvalidPullSubscriptionId for
    /// GetEvents, otherwise ErrorInvalidSubscription).
    #[error("subscription {id} is a {actual} subscription, not a {expected} one")]
    WrongKind {
        /// The subscription.
        id: SubscriptionId,
        /// What the operation works on.
        expected: Kind,
        /// What it is.
        actual: Kind,
    },
    /// Not a watermark umbox issues (ErrorInvalidWatermark).
    #[error("malformed watermark")]
    MalformedWatermark,
    /// The user holds the maximum number of subscriptions (ErrorExceededSubscriptionCount).
    #[error("the user already holds {limit} subscriptions")]
    TooManySubscriptions {
        /// The limit.
        limit: usize,
    },
    /// The user has the maximum number of streaming connections open
    /// (ErrorExceededConnectionCount).
    #[error("the user already has {limit} streaming connections open")]
    TooManyConnections {
        /// The limit.
        limit: usize,
    },
    /// More subscriptions than one streaming connection may carry (ErrorInvalidRequest).
    #[error("a streaming connection carries at most {limit} subscriptions")]
    TooManyOnConnection {
        /// The limit.
        limit: usize,
    },
    /// The push URL is malformed or names a forbidden target (ErrorInvalidPushSubscriptionUrl).
    #[error("push URL refused: {0}")]
    PushUrl(String),
    /// The subscription fell too far behind the log and was ended
    /// (ErrorMissedNotificationEvents).
    #[error("subscription {0} missed events and was ended")]
    MissedEvents(SubscriptionId),
    /// The system random source failed (ErrorInternalServerError).
    #[error("no randomness for a subscription id")]
    NoRandomness,
    /// A subscription record could not be written or read.
    #[error("subscription record: {0}")]
    Record(String),
    /// The store failed (InvalidWatermark becomes ErrorInvalidWatermark).
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// A subscription's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Pull (GetEvents).
    Pull,
    /// Push (the server POSTs SendNotification).
    Push,
    /// Streaming (GetStreamingEvents).
    Streaming,
}

impl Kind {
    /// Lower-case name for messages and records.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Pull => "pull",
            Kind::Push => "push",
            Kind::Streaming => "streaming",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A subscription id: random bytes, written as base64 (`t:SubscriptionIdType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriptionId([u8; ID_LEN]);

impl SubscriptionId {
    /// Reads an id from its wire form.
    pub fn parse(text: &str) -> Result<SubscriptionId, Error> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| Error::MalformedId)?;
        bytes
            .try_into()
            .map(SubscriptionId)
            .map_err(|_| Error::MalformedId)
    }
}

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&base64::engine::general_purpose::STANDARD.encode(self.0))
    }
}

/// The wire form of a watermark: base64 of a format byte and the big-endian sequence number.
/// Opaque to clients, stable across restarts.
pub fn watermark(seq: Seq) -> String {
    let mut bytes = [0u8; 9];
    let (format, number) = bytes.split_at_mut(1);
    format.copy_from_slice(&[WATERMARK_FORMAT]);
    number.copy_from_slice(&seq.0.to_be_bytes());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Reads a watermark written by [`watermark`].
pub fn parse_watermark(text: &str) -> Result<Seq, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| Error::MalformedWatermark)?;
    match bytes.split_first() {
        Some((&WATERMARK_FORMAT, number)) => {
            let number: [u8; 8] = number.try_into().map_err(|_| Error::MalformedWatermark)?;
            Ok(Seq(u64::from_be_bytes(number)))
        }
        _ => Err(Error::MalformedWatermark),
    }
}

/// Where subscription ids come from (STYLE §2 rule 11: randomness is passed in).
pub trait IdSource: Send + Sync + fmt::Debug {
    /// Fresh, unguessable id bytes; `None` if no randomness is available.
    fn next_id(&self) -> Option<[u8; ID_LEN]>;
}

/// Ids from the operating system's random source.
#[derive(Debug)]
pub struct RandomIds(ring::rand::SystemRandom);

impl Default for RandomIds {
    fn default() -> RandomIds {
        RandomIds(ring::rand::SystemRandom::new())
    }
}

impl IdSource for RandomIds {
    fn next_id(&self) -> Option<[u8; ID_LEN]> {
        let mut bytes = [0u8; ID_LEN];
        ring::rand::SecureRandom::fill(&self.0, &mut bytes).ok()?;
        Some(bytes)
    }
}

/// What Subscribe asks for, already checked by EWS (folder ids resolved, ranges checked).
#[derive(Debug, Clone)]
pub struct NewSubscription {
    /// The authenticated caller, who alone may use the subscription.
    pub caller: MailboxId,
    /// The mailbox watched.
    pub mailbox: MailboxId,
    /// Folders and event types.
    pub filter: Filter,
    /// Resume after this watermark instead of "now" (pull and push).
    pub watermark: Option<Seq>,
    /// The kind and its parameters.
    pub kind: NewKind,
}

/// The kind-specific part of a [`NewSubscription`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewKind {
    /// Pull: expires when GetEvents is not called for `timeout`.
    Pull {
        /// 1 to 1440 minutes.
        timeout: Duration,
    },
    /// Push to `url`, with a StatusEvent every `status_frequency` when idle.
    Push {
        /// Checked with [`push::check_url`].
        url: String,
        /// 1 to 1440 minutes.
        status_frequency: Duration,
    },
    /// Streaming.
    Streaming,
}

/// A subscription made: its id and the watermark it starts after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscribed {
    /// The id.
    pub id: SubscriptionId,
    /// The starting watermark.
    pub watermark: Seq,
}

/// One `t:Notification`: what one subscription receives in one response or delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The subscription.
    pub subscription: SubscriptionId,
    /// Its mailbox (ids are sealed for it).
    pub mailbox: MailboxId,
    /// PreviousWatermark: where this notification starts.
    pub previous: Seq,
    /// MoreEvents: more is waiting; ask again at once.
    pub more: bool,
    /// The events, or a StatusEvent.
    pub content: Content,
}

/// The body of a [`Notification`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Events in log order, each with the EWS type it is reported as; its watermark is its
    /// sequence number.
    Events(Vec<(EventType, LoggedEvent)>),
    /// A lone StatusEvent carrying this watermark (nothing new).
    Status(Seq),
}

impl Notification {
    /// The watermark a client resumes after once it has this notification.
    pub fn last_watermark(&self) -> Seq {
        match &self.content {
            Content::Events(events) => events.last().map_or(self.previous, |(_, e)| e.seq),
            Content::Status(seq) => *seq,
        }
    }
}

/// The notification service: every subscription of the server.
#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("settings", &self.shared.settings)
            .finish_non_exhaustive()
    }
}

struct Shared {
    store: Arc<dyn MailStore>,
    settings: Notifications,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
    state: Mutex<State>,
    /// Wakes [`Hub::run`] when a push subscription needs a delivery task.
    push_added: Notify,
}

#[derive(Default)]
struct State {
    subscriptions: HashMap<SubscriptionId, Subscription>,
    per_user: HashMap<MailboxId, Held>,
    connections: HashMap<MailboxId, usize>,
    /// Where subscriptions are counted, once the server attached its registry's families.
    metrics: Option<metrics::NotifyMetrics>,
    next_connection: u64,
}

/// The subscriptions one user holds, for the per-user limits.
#[derive(Debug, Clone, Copy, Default)]
struct Held {
    all: usize,
    push: usize,
}

#[derive(Debug, Clone)]
struct Subscription {
    owner: MailboxId,
    mailbox: MailboxId,
    filter: Filter,
    mode: Mode,
}

#[derive(Debug, Clone)]
enum Mode {
    Pull {
        timeout: Duration,
        last_used: SystemTime,
    },
    Push {
        url: String,
        status_frequency: Duration,
        /// The last watermark delivered (and stored).
        watermark: Seq,
        /// A delivery task runs for it.
        running: bool,
    },
    Streaming {
        cursor: Seq,
        /// The connection reading it, if any.
        connection: Option<u64>,
        last_used: SystemTime,
    },
}

impl Mode {
    fn kind(&self) -> Kind {
        match self {
            Mode::Pull { .. } => Kind::Pull,
            Mode::Push { .. } => Kind::Push,
            Mode::Streaming { .. } => Kind::Streaming,
        }
    }
}

impl Subscription {
    fn check_owner(&self, id: SubscriptionId, caller: &MailboxId) -> Result<(), Error> {
        if self.owner == *caller {
            Ok(())
        } else {
            Err(Error::AccessDenied(id))
        }
    }

    fn expect(&self, id: SubscriptionId, expected: Kind) -> Result<(), Error> {
        let actual = self.mode.kind();
        if actual == expected {
            Ok(())
        } else {
            Err(Error::WrongKind {
                id,
                expected,
                actual,
            })
        }
    }
}

impl State {
    fn remove(&mut self, id: SubscriptionId) -> Option<Subscription> {
        let removed = self.subscriptions.remove(&id)?;
        if let Some(metrics) = &self.metrics {
            metrics.unsubscribed(removed.mode.kind());
        }
        if let Some(held) = self.per_user.get_mut(&removed.owner) {
            held.all = held.all.saturating_sub(1);
            if matches!(removed.mode, Mode::Push { .. }) {
                held.push = held.push.saturating_sub(1);
            }
            if held.all == 0 {
                self.per_user.remove(&removed.owner);
            }
        }
        Some(removed)
    }

    fn insert(&mut self, id: SubscriptionId, subscription: Subscription) {
        if let Some(metrics) = &self.metrics {
            metrics.subscribed(subscription.mode.kind());
        }
        let held = self.per_user.entry(subscription.owner.clone()).or_default();
        held.all += 1;
        if matches!(subscription.mode, Mode::Push { .. }) {
            held.push += 1;
        }
        self.subscriptions.insert(id, subscription);
    }
}

/// The part of the log one read pass saw for one mailbox from one cursor.
struct Page {
    entries: Vec<LoggedEvent>,
    full: bool,
    bounds: LogBounds,
}

fn read_page(store: &dyn MailStore, mailbox: &MailboxId, from: Seq) -> Result<Page, store::Error> {
    let bounds = store.log_bounds(mailbox)?;
    let entries = store.changes_since(mailbox, from, SCAN_LIMIT)?;
    let full = entries.len() == SCAN_LIMIT;
    Ok(Page {
        entries,
        full,
        bounds,
    })
}

impl Hub {
    /// Loads the stored pull and push subscriptions (blocking). A record that no longer decodes is
    /// logged and dropped.
    pub fn open(
        store: Arc<dyn MailStore>,
        settings: Notifications,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Result<Hub, Error> {
        let now = clock.now();
        let mut state = State::default();
        for (key, bytes) in store.subscriptions()? {
            // Records of other owners (SIP message-waiting subscriptions) are named
            // `<owner>:<id>`; ours are base64, which has no colon.
            if key.contains(':') {
                continue;
            }
            let loaded =
                SubscriptionId::parse(&key).and_then(|id| Ok((id, record::decode(&bytes, now)?)));
            match loaded {
                Ok((id, subscription)) => state.insert(id, subscription),
                Err(error) => {
                    tracing::warn!(subscription = %key, %error, "dropping an unreadable subscription record");
                    store.remove_subscription(&key)?;
                }
            }
        }
        tracing::debug!(
            subscriptions = state.subscriptions.len(),
            "notification subscriptions loaded"
        );
        Ok(Hub {
            shared: Arc::new(Shared {
                store,
                settings,
                clock,
                ids,
                state: Mutex::new(state),
                push_added: Notify::new(),
            }),
        })
    }

    /// Counts subscriptions (those held now and every later one) and push deliveries in
    /// `metrics`.
    pub fn attach_metrics(&self, metrics: metrics::NotifyMetrics) {
        let mut state = self.state();
        for subscription in state.subscriptions.values() {
            metrics.subscribed(subscription.mode.kind());
        }
        state.metrics = Some(metrics);
    }

    /// Counts the outcome of one push delivery, when metrics are attached.
    pub(crate) fn count_push(&self, outcome: metrics::Delivery) {
        if let Some(metrics) = &self.state().metrics {
            metrics.pushed(outcome);
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn store(&self) -> &dyn MailStore {
        self.shared.store.as_ref()
    }

    /// The settings in force.
    pub fn settings(&self) -> &Notifications {
        &self.shared.settings
    }

    /// Creates a subscription (blocking). A given watermark must still be in the log
    /// (ErrorInvalidWatermark otherwise); without one the subscription starts at the log's end.
    pub fn subscribe(
        &self,
        request: NewSubscription,
        now: SystemTime,
    ) -> Result<Subscribed, Error> {
        let bounds = self.store().log_bounds(&request.mailbox)?;
        let start = match request.watermark {
            Some(seq) if seq < bounds.oldest || seq > bounds.latest => {
                return Err(Error::Store(store::Error::InvalidWatermark {
                    requested: seq,
                    oldest: bounds.oldest,
                    latest: bounds.latest,
                }))
            }
            Some(seq) => seq,
            None => bounds.latest,
        };
        let mode = match request.kind {
            NewKind::Pull { timeout } => Mode::Pull {
                timeout,
                last_used: now,
            },
            NewKind::Push {
                url,
                status_frequency,
            } => {
                push::check_url(&url, self.shared.settings.allow_private_push_targets)?;
                Mode::Push {
                    url,
                    status_frequency,
                    watermark: start,
                    running: false,
                }
            }
            NewKind::Streaming => Mode::Streaming {
                cursor: start,
                connection: None,
                last_used: now,
            },
        };
        let id = SubscriptionId(self.shared.ids.next_id().ok_or(Error::NoRandomness)?);
        let subscription = Subscription {
            owner: request.caller,
            mailbox: request.mailbox,
            filter: request.filter,
            mode,
        };
        let stored = match subscription.mode {
            Mode::Streaming { .. } => None,
            Mode::Pull { .. } | Mode::Push { .. } => Some(record::encode(&subscription)?),
        };
        {
            let mut state = self.state();
            let settings = &self.shared.settings;
            let held = state
                .per_user
                .get(&subscription.owner)
                .copied()
                .unwrap_or_default();
            if held.all >= settings.max_subscriptions_per_user {
                let limit = settings.max_subscriptions_per_user;
                return Err(Error::TooManySubscriptions { limit });
            }
            if matches!(subscription.mode, Mode::Push { .. })
                && held.push >= settings.max_push_subscriptions_per_user
            {
                let limit = settings.max_push_subscriptions_per_user;
                return Err(Error::TooManySubscriptions { limit });
            }
            state.insert(id, subscription.clone());
        }
        if let Some(bytes) = stored {
            if let Err(error) = self.store().save_subscription(&id.to_string(), &bytes) {
                self.state().remove(id);
                return Err(error.into());
            }
        }
        if matches!(subscription.mode, Mode::Push { .. }) {
            self.shared.push_added.notify_one();
        }
        tracing::debug!(subscription = %id, kind = %subscription.mode.kind(), mailbox = %subscription.mailbox, "subscribed");
        Ok(Subscribed {
            id,
            watermark: start,
        })
    }

    /// Ends a pull or streaming subscription (blocking). Push subscriptions end only when their
    /// client answers Unsubscribe (MS-OXWSNTIF), so they are refused here.
    pub fn unsubscribe(&self, caller: &MailboxId, id: SubscriptionId) -> Result<(), Error> {
        let removed = {
            let mut state = self.state();
            let subscription = state.subscriptions.get(&id).ok_or(Error::NotFound(id))?;
            subscription.check_owner(id, caller)?;
            if let Mode::Push { .. } = subscription.mode {
                return Err(Error::PushUnsubscribe(id));
            }
            state.remove(id)
        };
        if let Some(Subscription {
            mode: Mode::Pull { .. },
            ..
        }) = removed
        {
            self.store().remove_subscription(&id.to_string())?;
        }
        Ok(())
    }

    /// GetEvents (blocking): the events after `after` for a pull subscription, at most
    /// [`EVENTS_PER_NOTIFICATION`], or a StatusEvent. Resets the subscription's idle timeout.
    pub fn get_events(
        &self,
        caller: &MailboxId,
        id: SubscriptionId,
        after: Seq,
        now: SystemTime,
    ) -> Result<Notification, Error> {
        let live = {
            let mut state = self.state();
            let subscription = state
                .subscriptions
                .get_mut(&id)
                .ok_or(Error::NotFound(id))?;
            subscription.check_owner(id, caller)?;
            subscription.expect(id, Kind::Pull)?;
            let alive = match &mut subscription.mode {
                Mode::Pull { timeout, last_used } if !expired(*last_used, *timeout, now) => {
                    *last_used = now;
                    true
                }
                _ => false,
            };
            if alive {
                Some((subscription.mailbox.clone(), subscription.filter.clone()))
            } else {
                state.remove(id);
                None
            }
        };
        let Some((mailbox, filter)) = live else {
            self.store().remove_subscription(&id.to_string())?;
            return Err(Error::Expired(id));
        };
        let page = read_page(self.store(), &mailbox, after)?;
        let picked = events::select(&filter, after, &page.entries, page.full);
        Ok(notification(id, mailbox, after, picked))
    }

    /// Opens a streaming connection for `ids` (blocking; GetStreamingEvents). Ids that cannot be
    /// streamed come back with their error; `connection` is `None` when none can.
    pub fn connect(
        &self,
        caller: &MailboxId,
        ids: &[String],
        timeout: Duration,
    ) -> Result<Opened, Error> {
        let per_connection = self.shared.settings.max_subscriptions_per_connection;
        if ids.len() > per_connection {
            return Err(Error::TooManyOnConnection {
                limit: per_connection,
            });
        }
        let mut state = self.state();
        let limit = self.shared.settings.max_connections_per_user;
        if state.connections.get(caller).copied().unwrap_or(0) >= limit {
            return Err(Error::TooManyConnections { limit });
        }
        let number = state.next_connection;
        state.next_connection = number.wrapping_add(1);
        let mut accepted = Vec::new();
        let mut rejected = Vec::new();
        for text in ids {
            let checked = SubscriptionId::parse(text).and_then(|id| {
                let subscription = state
                    .subscriptions
                    .get_mut(&id)
                    .ok_or(Error::NotFound(id))?;
                subscription.check_owner(id, caller)?;
                subscription.expect(id, Kind::Streaming)?;
                if let Mode::Streaming { connection, .. } = &mut subscription.mode {
                    // A newer connection takes the subscription over; the older one lets go of it.
                    *connection = Some(number);
                }
                Ok((id, subscription.mailbox.clone()))
            });
            match checked {
                Ok(pair) if !accepted.contains(&pair) => accepted.push(pair),
                Ok(_) => {}
                Err(error) => rejected.push((text.clone(), error)),
            }
        }
        if accepted.is_empty() {
            return Ok(Opened {
                connection: None,
                rejected,
            });
        }
        *state.connections.entry(caller.clone()).or_default() += 1;
        drop(state);
        let connection = Connection::new(self.clone(), caller.clone(), number, accepted, timeout);
        Ok(Opened {
            connection: Some(connection),
            rejected,
        })
    }

    /// Called when a connection ends: its subscriptions wait for the next one.
    fn release(&self, owner: &MailboxId, number: u64, ids: &[SubscriptionId]) {
        let now = self.shared.clock.now();
        let mut state = self.state();
        if let Some(count) = state.connections.get_mut(owner) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                state.connections.remove(owner);
            }
        }
        for id in ids {
            if let Some(Subscription {
                mode:
                    Mode::Streaming {
                        connection,
                        last_used,
                        ..
                    },
                ..
            }) = state.subscriptions.get_mut(id)
            {
                if *connection == Some(number) {
                    *connection = None;
                    *last_used = now;
                }
            }
        }
    }

    /// One streaming pass (blocking): for each of the connection's subscriptions still attached
    /// to it, what the log holds after its cursor; cursors move past what is returned. The first
    /// pass of a connection (`returning`) also ends subscriptions that come back too far behind.
    fn stream_pass(
        &self,
        number: u64,
        subscriptions: &[(SubscriptionId, MailboxId)],
        returning: bool,
    ) -> Pass {
        let mut pass = Pass::default();
        let mut wanted = Vec::with_capacity(subscriptions.len());
        {
            let state = self.state();
            for (id, _) in subscriptions {
                match state.subscriptions.get(id) {
                    Some(Subscription {
                        mailbox,
                        filter,
                        mode:
                            Mode::Streaming {
                                cursor,
                                connection: Some(attached),
                                ..
                            },
                        ..
                    }) if *attached == number => {
                        wanted.push((*id, mailbox.clone(), filter.clone(), *cursor))
                    }
                    _ => pass.gone.push(*id),
                }
            }
        }
        // Subscriptions of one mailbox usually share a cursor: read each (mailbox, cursor) once.
        let mut pages: HashMap<(MailboxId, Seq), Result<Page, store::Error>> = HashMap::new();
        let backlog = if returning {
            self.shared.settings.max_backlog_events
        } else {
            u64::MAX
        };
        let mut advanced = Vec::new();
        for (id, mailbox, filter, cursor) in wanted {
            let page = pages
                .entry((mailbox.clone(), cursor))
                .or_insert_with(|| read_page(self.store(), &mailbox, cursor));
            match page {
                Ok(page) if page.bounds.latest.0.saturating_sub(cursor.0) <= backlog => {
                    let picked = events::select(&filter, cursor, &page.entries, page.full);
                    if picked.to != cursor {
                        advanced.push((id, cursor, picked.to));
                    }
                    if !picked.events.is_empty() {
                        pass.notifications
                            .push(notification(id, mailbox, cursor, picked));
                    } else if picked.more {
                        pass.more = true;
                    }
                }
                // Too far behind, or behind what the log keeps: the events are lost to it.
                Ok(_) | Err(store::Error::InvalidWatermark { .. }) => pass.missed.push(id),
                Err(error) => {
                    tracing::warn!(subscription = %id, %error, "streaming read failed");
                    pass.failed = true;
                }
            }
        }
        let mut state = self.state();
        for (id, from, to) in advanced {
            if let Some(Subscription {
                mode: Mode::Streaming {
                    cursor, connection, ..
                },
                ..
            }) = state.subscriptions.get_mut(&id)
            {
                // Only if no newer connection took it over and read meanwhile.
                if *cursor == from && *connection == Some(number) {
                    *cursor = to;
                }
            }
        }
        for id in &pass.missed {
            state.remove(*id);
        }
        pass
    }

    /// Removes expired pull subscriptions and streaming ones no connection used for a while
    /// (blocking). Returns how many ended.
    fn sweep(&self, now: SystemTime) -> usize {
        let expired_ids: Vec<(SubscriptionId, Kind)> = {
            let mut state = self.state();
            let ids: Vec<_> = state
                .subscriptions
                .iter()
                .filter_map(|(id, s)| match &s.mode {
                    Mode::Pull { timeout, last_used } if expired(*last_used, *timeout, now) => {
                        Some((*id, Kind::Pull))
                    }
                    Mode::Streaming {
                        connection: None,
                        last_used,
                        ..
                    } if expired(*last_used, STREAMING_IDLE_LIFETIME, now) => {
                        Some((*id, Kind::Streaming))
                    }
                    _ => None,
                })
                .collect();
            for (id, _) in &ids {
                state.remove(*id);
            }
            ids
        };
        for (id, kind) in &expired_ids {
            tracing::debug!(subscription = %id, %kind, "subscription expired");
            if *kind == Kind::Pull {
                if let Err(error) = self.store().remove_subscription(&id.to_string()) {
                    tracing::warn!(subscription = %id, %error, "expired subscription record not removed");
                }
            }
        }
        expired_ids.len()
    }

    /// Drops logged events older than the retention time from every mailbox (blocking).
    fn trim(&self, now: SystemTime) {
        let before = now
            .checked_sub(self.shared.settings.retention)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mailboxes = match self.store().mailboxes() {
            Ok(mailboxes) => mailboxes,
            Err(error) => return tracing::warn!(%error, "change log not trimmed"),
        };
        for mailbox in mailboxes {
            match self.store().trim_changes_before(&mailbox, before) {
                Ok(0) => {}
                Ok(dropped) => tracing::debug!(%mailbox, dropped, "change log trimmed"),
                Err(error) => tracing::warn!(%mailbox, %error, "change log not trimmed"),
            }
        }
    }

    /// Runs the background work until dropped: a delivery task per push subscription (started
    /// for those loaded at start and each new one), expiry sweeps, and log retention.
    pub async fn run(self, deliver: Arc<dyn push::Deliver>) {
        let mut pushes = JoinSet::new();
        let mut sweep = tokio::time::interval(SWEEP_INTERVAL);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut trim = tokio::time::interval(TRIM_INTERVAL);
        trim.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            for id in self.unstarted_pushes() {
                pushes.spawn(push::run(self.clone(), id, deliver.clone()));
            }
            tokio::select! {
                () = self.shared.push_added.notified() => {}
                _ = sweep.tick() => {
                    let hub = self.clone();
                    let now = self.shared.clock.now();
                    if let Err(error) = tokio::task::spawn_blocking(move || hub.sweep(now)).await {
                        tracing::warn!(%error, "subscription sweep failed");
                    }
                }
                _ = trim.tick() => {
                    let hub = self.clone();
                    let now = self.shared.clock.now();
                    if let Err(error) = tokio::task::spawn_blocking(move || hub.trim(now)).await {
                        tracing::warn!(%error, "change log trim failed");
                    }
                }
                Some(ended) = pushes.join_next() => {
                    if let Err(error) = ended {
                        tracing::warn!(%error, "push delivery task failed");
                    }
                }
            }
        }
    }

    fn unstarted_pushes(&self) -> Vec<SubscriptionId> {
        let mut state = self.state();
        state
            .subscriptions
            .iter_mut()
            .filter_map(|(id, s)| match &mut s.mode {
                Mode::Push { running, .. } if !*running => {
                    *running = true;
                    Some(*id)
                }
                _ => None,
            })
            .collect()
    }

    /// Ends a subscription from the server side (push failures, Unsubscribe answers), removing
    /// its record (blocking).
    fn end(&self, id: SubscriptionId) {
        // The record goes first, so once the subscription is gone from memory it is gone for good.
        if let Err(error) = self.store().remove_subscription(&id.to_string()) {
            tracing::warn!(subscription = %id, %error, "ended subscription record not removed");
        }
        self.state().remove(id);
    }

    /// How many subscriptions exist (all kinds).
    pub fn subscription_count(&self) -> usize {
        self.state().subscriptions.len()
    }

    /// How many streaming connections are open.
    pub fn connection_count(&self) -> usize {
        self.state().connections.values().sum()
    }
}

/// What [`Hub::connect`] opened.
#[derive(Debug)]
pub struct Opened {
    /// The connection, when at least one id could be streamed.
    pub connection: Option<Connection>,
    /// The ids refused, with why, in request order.
    pub rejected: Vec<(String, Error)>,
}

/// The outcome of one streaming pass.
#[derive(Debug, Default)]
struct Pass {
    notifications: Vec<Notification>,
    /// Subscriptions ended for missing events.
    missed: Vec<SubscriptionId>,
    /// Subscriptions no longer on this connection (unsubscribed, expired, taken over).
    gone: Vec<SubscriptionId>,
    /// Some subscription has more log to look at although nothing was selected yet.
    more: bool,
    /// A read failed: the connection should close.
    failed: bool,
}

fn notification(
    id: SubscriptionId,
    mailbox: MailboxId,
    previous: Seq,
    picked: events::Selection,
) -> Notification {
    let content = if picked.events.is_empty() {
        Content::Status(picked.to)
    } else {
        Content::Events(picked.events)
    };
    Notification {
        subscription: id,
        mailbox,
        previous,
        more: picked.more,
        content,
    }
}

fn expired(last_used: SystemTime, timeout: Duration, now: SystemTime) -> bool {
    now.duration_since(last_used)
        .is_ok_and(|idle| idle > timeout)
}

#[cfg(test)]
pub(crate) mod tests;
