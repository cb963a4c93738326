//! A streaming connection (GetStreamingEvents): the frames one long HTTP response carries, in
//! order: notifications as the log moves, a heartbeat when the connection has been quiet for the
//! heartbeat interval, and `Closed` at the connection timeout.
//!
//! A connection asks for its next frame only when the HTTP layer can send one, so a client that
//! stops reading stops the reads and nothing is buffered for it; the HTTP layer drops such a
//! connection once its writes stall. Its subscriptions wait in the log; one that comes back more
//! than `max_backlog_events` behind ends with ErrorMissedNotificationEvents. Timers use tokio
//! time, so tests run them with paused time.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{Hub, Notification, SubscriptionId};
use umbox_store::MailboxId;

/// One `GetStreamingEventsResponseMessage` of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Notifications, one per subscription that has something.
    Notifications(Vec<Notification>),
    /// These subscriptions fell too far behind and were ended (ErrorMissedNotificationEvents with
    /// ErrorSubscriptionIds).
    Missed(Vec<SubscriptionId>),
    /// ConnectionStatus OK: nothing happened for a heartbeat interval.
    Heartbeat,
    /// ConnectionStatus Closed: the connection timeout is reached, or no subscription is left on
    /// it. The last frame.
    Closed,
}

#[derive(Debug, Clone, Copy)]
struct Timing {
    deadline: Instant,
    last_frame: Instant,
}

/// An open streaming connection; dropping it (the HTTP response ended or the client went away)
/// releases its subscriptions for the next connection.
#[derive(Debug)]
pub struct Connection {
    hub: Hub,
    owner: MailboxId,
    number: u64,
    subscriptions: Vec<(SubscriptionId, MailboxId)>,
    timeout: Duration,
    timing: Option<Timing>,
    /// Set by the log watchers whenever one of the mailboxes commits.
    wake: Arc<Notify>,
    watchers: JoinSet<()>,
    pending: VecDeque<Frame>,
    /// The first pass is still to come (it checks how far behind the subscriptions come back).
    returning: bool,
    closed: bool,
}

impl Connection {
    pub(super) fn new(
        hub: Hub,
        owner: MailboxId,
        number: u64,
        subscriptions: Vec<(SubscriptionId, MailboxId)>,
        timeout: Duration,
    ) -> Connection {
        Connection {
            hub,
            owner,
            number,
            subscriptions,
            timeout,
            timing: None,
            wake: Arc::new(Notify::new()),
            watchers: JoinSet::new(),
            pending: VecDeque::new(),
            returning: true,
            closed: false,
        }
    }

    /// The subscriptions still carried.
    pub fn subscriptions(&self) -> impl Iterator<Item = SubscriptionId> + '_ {
        self.subscriptions.iter().map(|(id, _)| *id)
    }

    /// The next frame to send; `None` after `Closed`. The connection timeout counts from the
    /// first call.
    pub async fn next(&mut self) -> Option<Frame> {
        if let Some(frame) = self.pending.pop_front() {
            return Some(self.sent(frame));
        }
        if self.closed {
            return None;
        }
        let now = Instant::now();
        let timing = *self.timing.get_or_insert(Timing {
            deadline: now + self.timeout,
            last_frame: now,
        });
        if self.watchers.is_empty() && !self.watch().await {
            return Some(self.sent(Frame::Closed));
        }
        loop {
            if Instant::now() >= timing.deadline {
                return Some(self.sent(Frame::Closed));
            }
            let hub = self.hub.clone();
            let number = self.number;
            let subscriptions = self.subscriptions.clone();
            let returning = std::mem::replace(&mut self.returning, false);
            let pass = match tokio::task::spawn_blocking(move || {
                hub.stream_pass(number, &subscriptions, returning)
            })
            .await
            {
                Ok(pass) => pass,
                Err(error) => {
                    tracing::warn!(%error, "streaming pass failed");
                    return Some(self.sent(Frame::Closed));
                }
            };
            self.subscriptions
                .retain(|(id, _)| !pass.gone.contains(id) && !pass.missed.contains(id));
            if !pass.missed.is_empty() {
                self.pending.push_back(Frame::Missed(pass.missed));
            }
            if !pass.notifications.is_empty() {
                self.pending
                    .push_back(Frame::Notifications(pass.notifications));
            }
            if pass.failed || self.subscriptions.is_empty() {
                self.pending.push_back(Frame::Closed);
            }
            if let Some(frame) = self.pending.pop_front() {
                return Some(self.sent(frame));
            }
            if pass.more {
                continue;
            }
            let last_frame = self.timing.map_or(timing.last_frame, |t| t.last_frame);
            let wake_at = (last_frame + self.hub.settings().heartbeat).min(timing.deadline);
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep_until(wake_at) => {
                    let frame = if Instant::now() >= timing.deadline { Frame::Closed } else { Frame::Heartbeat };
                    return Some(self.sent(frame));
                }
            }
        }
    }

    /// Starts one watcher per mailbox, before the first read, so no commit after that read goes
    /// unnoticed. False if the store cannot be watched.
    async fn watch(&mut self) -> bool {
        let mut mailboxes: Vec<MailboxId> =
            self.subscriptions.iter().map(|(_, m)| m.clone()).collect();
        mailboxes.sort();
        mailboxes.dedup();
        let hub = self.hub.clone();
        let receivers = tokio::task::spawn_blocking(move || {
            mailboxes
                .iter()
                .map(|mailbox| hub.store().watch_log(mailbox))
                .collect::<Result<Vec<_>, _>>()
        })
        .await;
        let receivers = match receivers {
            Ok(Ok(receivers)) => receivers,
            Ok(Err(error)) => {
                tracing::warn!(%error, "cannot watch the change log");
                return false;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot watch the change log");
                return false;
            }
        };
        for mut receiver in receivers {
            let wake = self.wake.clone();
            self.watchers.spawn(async move {
                // A stored permit survives until the connection next waits, so no commit is lost
                // while it is busy with a pass.
                while receiver.changed().await.is_ok() {
                    wake.notify_one();
                }
            });
        }
        true
    }

    fn sent(&mut self, frame: Frame) -> Frame {
        if let Some(timing) = self.timing.as_mut() {
            timing.last_frame = Instant::now();
        }
        if frame == Frame::Closed {
            self.closed = true;
            self.pending.clear();
        }
        frame
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let ids: Vec<SubscriptionId> = self.subscriptions().collect();
        self.hub.release(&self.owner, self.number, &ids);
    }
}
