//! SIP transactions (RFC 3261 §17, with the INVITE "Accepted" state of RFC 6026): the server and
//! client state machines, their timers A–L, and the queue that orders every pending timer.
//!
//! Sans-IO: each machine is told what happened and the time (`tokio::time::Instant`, so tests
//! can pause and advance it) and answers with the bytes to (re)send and whether it ended.
//! Never parses bytes (`sip-proto::wire` does) and never decides where a call goes (the
//! `policy::InviteRouter` does); `sip::endpoint` owns the tables that match messages to machines.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::types::StatusCode;

/// The base timer values (RFC 3261 §17.1.1.1, table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate, 500 ms.
    pub t1: Duration,
    /// Longest retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    pub t2: Duration,
    /// Longest time a message stays in the network, 5 s.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// 64·T1: timers B, F, H, J and L.
    pub fn timeout(&self) -> Duration {
        self.t1.saturating_mul(64)
    }
}

/// Which kind of request a transaction carries (RFC 3261 §17: INVITE is special).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// INVITE.
    Invite,
    /// Anything else (ACK never has a transaction of its own).
    NonInvite,
}

/// Server transaction states (RFC 3261 §17.2.1, §17.2.2; RFC 6026 §7.1 Accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// Non-INVITE, no response yet.
    Trying,
    /// A provisional response was sent (INVITE starts here).
    Proceeding,
    /// INVITE answered with 2xx: absorb retransmissions until timer L (RFC 6026).
    Accepted,
    /// Final non-2xx sent; waiting for ACK (INVITE) or for retransmissions to die (timer J).
    Completed,
    /// INVITE: ACK received, waiting out timer I.
    Confirmed,
    /// Done; the transaction may be forgotten.
    Terminated,
}

/// How a transaction ended, for its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Normally.
    Done,
    /// INVITE server: timer H fired before the ACK came (RFC 3261 §17.2.1).
    NoAck,
    /// Client: timer B or F fired before a final response (RFC 3261 §17.1.1.2, §17.1.2.2).
    Timeout,
}

/// What a timer firing asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fired {
    /// Bytes to send again.
    pub resend: Option<Bytes>,
    /// Set when the transaction terminated.
    pub ended: Option<Ending>,
}

/// A retransmission timer: next firing and the interval after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Backoff {
    at: Instant,
    interval: Duration,
}

/// A server transaction (RFC 3261 §17.2).
#[derive(Debug, Clone)]
pub struct ServerTransaction {
    kind: Kind,
    state: ServerState,
    reliable: bool,
    timers: Timers,
    last_response: Option<Bytes>,
    /// Timer G (INVITE final response retransmit).
    g: Option<Backoff>,
    /// Timers H, I, J or L: the one deadline after which the state ends.
    end_at: Option<(Instant, Ending)>,
}

impl ServerTransaction {
    /// A new transaction for a request just received over a reliable (TCP) or unreliable
    /// (UDP) transport.
    pub fn new(kind: Kind, reliable: bool, timers: Timers) -> ServerTransaction {
        ServerTransaction {
            kind,
            state: match kind {
                Kind::Invite => ServerState::Proceeding,
                Kind::NonInvite => ServerState::Trying,
            },
            reliable,
            timers,
            last_response: None,
            g: None,
            end_at: None,
        }
    }

    /// The current state.
    pub fn state(&self) -> ServerState {
        self.state
    }

    /// Whether a final response has been sent.
    pub fn is_answered(&self) -> bool {
        !matches!(self.state, ServerState::Trying | ServerState::Proceeding)
    }

    /// The request arrived again: what to resend, if anything (RFC 3261 §17.2.1, §17.2.2).
    pub fn request_retransmitted(&self) -> Option<Bytes> {
        match self.state {
            ServerState::Proceeding | ServerState::Completed => self.last_response.clone(),
            ServerState::Trying
            | ServerState::Accepted
            | ServerState::Confirmed
            | ServerState::Terminated => None,
        }
    }

    /// The transaction user sends a response; returns whether it may go on the wire (a
    /// response after the final one is refused).
    pub fn respond(&mut self, status: StatusCode, bytes: Bytes, now: Instant) -> bool {
        if self.is_answered() {
            return false;
        }
        self.last_response = Some(bytes);
        let timeout = self.timers.timeout();
        match (self.kind, status.is_final()) {
            (_, false) => self.state = ServerState::Proceeding,
            (Kind::Invite, true) if status.is_success() => {
                // RFC 6026 §7.1: stay to absorb INVITE retransmissions; the UAS core
                // retransmits the 2xx itself until the ACK.
                self.state = ServerState::Accepted;
                self.end_at = Some((now + timeout, Ending::Done));
            }
            (Kind::Invite, true) => {
                self.state = ServerState::Completed;
                if !self.reliable {
                    self.g = Some(Backoff {
                        at: now + self.timers.t1,
                        interval: self.timers.t1,
                    });
                }
                self.end_at = Some((now + timeout, Ending::NoAck));
            }
            (Kind::NonInvite, true) => {
                self.state = ServerState::Completed;
                let linger = if self.reliable {
                    Duration::ZERO
                } else {
                    timeout
                };
                self.end_at = Some((now + linger, Ending::Done));
            }
        }
        true
    }

    /// An ACK for a non-2xx final response arrived; returns whether it belonged here.
    pub fn ack_received(&mut self, now: Instant) -> bool {
        if self.kind != Kind::Invite || self.state != ServerState::Completed {
            return self.kind == Kind::Invite && self.state == ServerState::Confirmed;
        }
        self.state = ServerState::Confirmed;
        self.g = None;
        let linger = if self.reliable {
            Duration::ZERO
        } else {
            self.timers.t4
        };
        self.end_at = Some((now + linger, Ending::Done));
        true
    }

    /// The earliest pending timer.
    pub fn deadline(&self) -> Option<Instant> {
        earliest(self.g.map(|g| g.at), self.end_at.map(|(at, _)| at))
    }

    /// Runs the timers due at `now`.
    pub fn on_timer(&mut self, now: Instant) -> Fired {
        let mut fired = Fired::default();
        if let Some((at, ending)) = self.end_at {
            if at <= now {
                self.state = ServerState::Terminated;
                self.g = None;
                self.end_at = None;
                fired.ended = Some(ending);
                return fired;
            }
        }
        if let Some(g) = self.g {
            if g.at <= now {
                // Timer G doubles up to T2 (RFC 3261 §17.2.1).
                let interval = (g.interval * 2).min(self.timers.t2);
                self.g = Some(Backoff {
                    at: now + interval,
                    interval,
                });
                fired.resend = self.last_response.clone();
            }
        }
        fired
    }
}

/// Client transaction states (RFC 3261 §17.1.1, §17.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// Request sent, nothing heard (INVITE "Calling", non-INVITE "Trying").
    Trying,
    /// A provisional response arrived.
    Proceeding,
    /// A final response arrived; absorbing its retransmissions.
    Completed,
    /// Done.
    Terminated,
}

/// What to do with a response a client transaction received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Received {
    /// Hand it to the transaction user (false for retransmissions).
    pub deliver: bool,
    /// Send these bytes (the ACK of a non-2xx INVITE response, RFC 3261 §17.1.1.3).
    pub send: Option<Bytes>,
    /// Whether the transaction ended.
    pub ended: bool,
}

/// A client transaction (RFC 3261 §17.1).
#[derive(Debug, Clone)]
pub struct ClientTransaction {
    kind: Kind,
    state: ClientState,
    reliable: bool,
    timers: Timers,
    request: Bytes,
    ack: Option<Bytes>,
    /// Timer A (INVITE) or E (non-INVITE).
    retransmit: Option<Backoff>,
    /// Timer B or F, then D or K.
    end_at: Option<(Instant, Ending)>,
}

impl ClientTransaction {
    /// Starts a transaction for `request`, which the caller sends once now.
    pub fn new(
        kind: Kind,
        request: Bytes,
        reliable: bool,
        timers: Timers,
        now: Instant,
    ) -> ClientTransaction {
        ClientTransaction {
            kind,
            state: ClientState::Trying,
            reliable,
            timers,
            request,
            ack: None,
            retransmit: (!reliable).then_some(Backoff {
                at: now + timers.t1,
                interval: timers.t1,
            }),
            end_at: Some((now + timers.timeout(), Ending::Timeout)),
        }
    }

    /// The current state.
    pub fn state(&self) -> ClientState {
        self.state
    }

    /// The request this transaction sends.
    pub fn request(&self) -> &Bytes {
        &self.request
    }

    /// A response arrived; `ack` builds the ACK for a non-2xx final response to INVITE.
    pub fn on_response(
        &mut self,
        status: StatusCode,
        now: Instant,
        ack: impl FnOnce() -> Bytes,
    ) -> Received {
        let mut received = Received::default();
        match self.state {
            ClientState::Trying | ClientState::Proceeding => {
                received.deliver = true;
                if !status.is_final() {
                    self.state = ClientState::Proceeding;
                    match self.kind {
                        // Timer A stops once the INVITE is known to have arrived.
                        Kind::Invite => self.retransmit = None,
                        // Timer E continues at T2 in Proceeding (RFC 3261 §17.1.2.2).
                        Kind::NonInvite => {
                            if let Some(e) = &mut self.retransmit {
                                e.interval = self.timers.t2;
                            }
                        }
                    }
                    return received;
                }
                self.retransmit = None;
                if self.kind == Kind::Invite && status.is_success() {
                    // The TU acknowledges a 2xx itself (RFC 3261 §13.2.2.4).
                    self.terminate();
                    received.ended = true;
                    return received;
                }
                let linger = match (self.kind, self.reliable) {
                    (_, true) => Duration::ZERO,
                    // Timer D: at least 32 s (RFC 3261 §17.1.1.2).
                    (Kind::Invite, false) => Duration::from_secs(32),
                    // Timer K: T4.
                    (Kind::NonInvite, false) => self.timers.t4,
                };
                if self.kind == Kind::Invite {
                    let bytes = ack();
                    self.ack = Some(bytes.clone());
                    received.send = Some(bytes);
                }
                self.state = ClientState::Completed;
                self.end_at = Some((now + linger, Ending::Done));
            }
            ClientState::Completed => {
                // A retransmitted final response: repeat the ACK, tell nobody.
                if self.kind == Kind::Invite && status.is_final() {
                    received.send = self.ack.clone();
                }
            }
            ClientState::Terminated => {}
        }
        received
    }

    /// The earliest pending timer.
    pub fn deadline(&self) -> Option<Instant> {
        earliest(self.retransmit.map(|r| r.at), self.end_at.map(|(at, _)| at))
    }

    /// Runs the timers due at `now`.
    pub fn on_timer(&mut self, now: Instant) -> Fired {
        let mut fired = Fired::default();
        if let Some((at, ending)) = self.end_at {
            if at <= now {
                self.terminate();
                fired.ended = Some(ending);
                return fired;
            }
        }
        if let Some(r) = self.retransmit {
            if r.at <= now {
                let next = match (self.kind, self.state) {
                    // Timer A doubles without a cap; timer B ends it (RFC 3261 §17.1.1.2).
                    (Kind::Invite, _) => r.interval * 2,
                    // Timer E doubles up to T2 in Trying, stays T2 in Proceeding.
                    (Kind::NonInvite, ClientState::Trying) => (r.interval * 2).min(self.timers.t2),
                    (Kind::NonInvite, _) => self.timers.t2,
                };
                self.retransmit = Some(Backoff {
                    at: now + next,
                    interval: next,
                });
                fired.resend = Some(self.request.clone());
            }
        }
        fired
    }

    fn terminate(&mut self) {
        self.state = ClientState::Terminated;
        self.retransmit = None;
        self.end_at = None;
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Where a key sits in a [`TimerQueue`], to move or cancel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimerSlot(Instant, u64);

/// Every pending deadline of a listener, earliest first; one slot per transaction or dialog.
#[derive(Debug)]
pub struct TimerQueue<K> {
    entries: BTreeMap<TimerSlot, K>,
    next_seq: u64,
}

impl<K> Default for TimerQueue<K> {
    fn default() -> Self {
        TimerQueue {
            entries: BTreeMap::new(),
            next_seq: 0,
        }
    }
}

impl<K> TimerQueue<K> {
    /// Moves `slot` to `deadline` (or removes it when `None`).
    pub fn set(&mut self, slot: &mut Option<TimerSlot>, deadline: Option<Instant>, key: K) {
        if let Some(old) = slot.take() {
            if Some(old.0) == deadline {
                *slot = Some(old);
                return;
            }
            self.entries.remove(&old);
        }
        if let Some(at) = deadline {
            let new = TimerSlot(at, self.next_seq);
            self.next_seq = self.next_seq.wrapping_add(1);
            self.entries.insert(new, key);
            *slot = Some(new);
        }
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.entries.keys().next().map(|slot| slot.0)
    }

    /// Removes and returns one key due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<K> {
        let first = *self.entries.keys().next()?;
        if first.0 > now {
            return None;
        }
        self.entries.remove(&first)
    }

    /// How many deadlines are pending.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none are pending.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timers = Timers {
        t1: Duration::from_millis(500),
        t2: Duration::from_secs(4),
        t4: Duration::from_secs(5),
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Runs `fire` at each deadline until `until` and records (offset, resent, ended).
    fn drive(
        start: Instant,
        until: Duration,
        mut deadline: impl FnMut() -> Option<Instant>,
        mut fire: impl FnMut(Instant) -> Fired,
    ) -> Vec<(Duration, bool, Option<Ending>)> {
        let mut seen = Vec::new();
        for _ in 0..100 {
            let Some(at) = deadline() else { break };
            if at - start > until {
                break;
            }
            let fired = fire(at);
            seen.push((at - start, fired.resend.is_some(), fired.ended));
        }
        seen
    }

    #[test]
    fn invite_server_retransmits_final_response_until_timer_h() {
        let start = Instant::now();
        let mut tx = ServerTransaction::new(Kind::Invite, false, T);
        assert_eq!(tx.state(), ServerState::Proceeding);
        assert!(tx.respond(StatusCode::Trying, Bytes::from_static(b"100"), start));
        assert_eq!(tx.request_retransmitted().as_deref(), Some(&b"100"[..]));
        assert!(tx.respond(StatusCode::NotFound, Bytes::from_static(b"404"), start));
        assert!(!tx.respond(StatusCode::Ok, Bytes::from_static(b"200"), start));
        let cell = std::cell::RefCell::new(tx);
        let seen = drive(
            start,
            ms(40_000),
            || cell.borrow().deadline(),
            |now| cell.borrow_mut().on_timer(now),
        );
        let resends: Vec<u64> = seen
            .iter()
            .filter(|s| s.1)
            .map(|s| s.0.as_millis() as u64)
            .collect();
        // T1, then doubling, capped at T2 (RFC 3261 §17.2.1 timer G).
        assert_eq!(
            resends,
            [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
        );
        assert_eq!(seen.last(), Some(&(ms(32_000), false, Some(Ending::NoAck))));
        assert_eq!(cell.borrow().state(), ServerState::Terminated);
    }

    #[test]
    fn ack_confirms_and_timer_i_ends() {
        let start = Instant::now();
        let mut tx = ServerTransaction::new(Kind::Invite, false, T);
        tx.respond(
            StatusCode::MovedTemporarily,
            Bytes::from_static(b"302"),
            start,
        );
        assert_eq!(tx.request_retransmitted().as_deref(), Some(&b"302"[..]));
        assert!(tx.ack_received(start + ms(10)));
        assert_eq!(tx.state(), ServerState::Confirmed);
        assert!(
            tx.ack_received(start + ms(20)),
            "retransmitted ACK is absorbed"
        );
        assert_eq!(tx.request_retransmitted(), None);
        assert_eq!(tx.deadline(), Some(start + ms(10) + T.t4));
        let fired = tx.on_timer(start + ms(10) + T.t4);
        assert_eq!(fired.ended, Some(Ending::Done));

        let mut reliable = ServerTransaction::new(Kind::Invite, true, T);
        reliable.respond(StatusCode::NotFound, Bytes::new(), start);
        assert_eq!(
            reliable.deadline(),
            Some(start + T.timeout()),
            "no timer G on TCP"
        );
        reliable.ack_received(start);
        assert_eq!(reliable.deadline(), Some(start), "timer I is zero on TCP");
    }

    #[test]
    fn accepted_invite_lingers_for_timer_l() {
        let start = Instant::now();
        let mut tx = ServerTransaction::new(Kind::Invite, false, T);
        tx.respond(StatusCode::Ok, Bytes::from_static(b"200"), start);
        assert_eq!(tx.state(), ServerState::Accepted);
        assert_eq!(tx.request_retransmitted(), None, "the UAS core resends 2xx");
        assert_eq!(tx.deadline(), Some(start + T.timeout()));
        assert_eq!(tx.on_timer(start + T.timeout()).ended, Some(Ending::Done));
    }

    #[test]
    fn non_invite_server_timer_j() {
        let start = Instant::now();
        let mut tx = ServerTransaction::new(Kind::NonInvite, false, T);
        assert_eq!(tx.request_retransmitted(), None, "Trying absorbs");
        tx.respond(StatusCode::Ok, Bytes::from_static(b"200"), start);
        assert_eq!(tx.request_retransmitted().as_deref(), Some(&b"200"[..]));
        assert_eq!(tx.deadline(), Some(start + T.timeout()));
        assert_eq!(tx.on_timer(start + T.timeout()).ended, Some(Ending::Done));

        let mut tcp = ServerTransaction::new(Kind::NonInvite, true, T);
        tcp.respond(StatusCode::Ok, Bytes::new(), start);
        assert_eq!(tcp.deadline(), Some(start), "timer J is zero on TCP");
    }

    /// A UDP client transaction that never gets an answer, driven for 40 s: the milliseconds
    /// of its retransmissions, and every timer firing (when, whether it resent, how it ended).
    #[allow(clippy::type_complexity)]
    fn client_left_alone(
        kind: Kind,
        request: &'static [u8],
        start: Instant,
    ) -> (Vec<u64>, Vec<(Duration, bool, Option<Ending>)>) {
        let tx = ClientTransaction::new(kind, Bytes::from_static(request), false, T, start);
        let cell = std::cell::RefCell::new(tx);
        let seen = drive(
            start,
            ms(40_000),
            || cell.borrow().deadline(),
            |now| cell.borrow_mut().on_timer(now),
        );
        let resends = seen
            .iter()
            .filter(|s| s.1)
            .map(|s| s.0.as_millis() as u64)
            .collect();
        (resends, seen)
    }

    #[test]
    fn non_invite_client_timer_e_and_f() {
        let start = Instant::now();
        let (resends, seen) = client_left_alone(Kind::NonInvite, b"BYE", start);
        assert_eq!(
            resends,
            [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
        );
        assert_eq!(
            seen.last(),
            Some(&(ms(32_000), false, Some(Ending::Timeout)))
        );
    }

    #[test]
    fn non_invite_client_completes_and_timer_k_ends() {
        let start = Instant::now();
        let mut tx =
            ClientTransaction::new(Kind::NonInvite, Bytes::from_static(b"BYE"), false, T, start);
        let r = tx.on_response(StatusCode::Trying, start + ms(100), Bytes::new);
        assert!(r.deliver && !r.ended);
        // Proceeding: timer E now fires every T2.
        assert_eq!(tx.deadline(), Some(start + ms(500)));
        tx.on_timer(start + ms(500));
        assert_eq!(tx.deadline(), Some(start + ms(500) + T.t2));
        let r = tx.on_response(StatusCode::Ok, start + ms(600), Bytes::new);
        assert!(r.deliver && r.send.is_none());
        assert_eq!(tx.state(), ClientState::Completed);
        let again = tx.on_response(StatusCode::Ok, start + ms(700), Bytes::new);
        assert!(!again.deliver, "retransmitted final response absorbed");
        assert_eq!(tx.deadline(), Some(start + ms(600) + T.t4));
        assert_eq!(
            tx.on_timer(start + ms(600) + T.t4).ended,
            Some(Ending::Done)
        );
    }

    #[test]
    fn invite_client_timer_a_b_and_ack() {
        let start = Instant::now();
        let (resends, seen) = client_left_alone(Kind::Invite, b"INVITE", start);
        // Timer A doubles with no cap: 0.5, 1, 2, 4, 8, 16 s intervals.
        assert_eq!(resends, [500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!(
            seen.last(),
            Some(&(ms(32_000), false, Some(Ending::Timeout)))
        );

        let mut tx =
            ClientTransaction::new(Kind::Invite, Bytes::from_static(b"INVITE"), false, T, start);
        let r = tx.on_response(StatusCode::BusyHere, start + ms(50), || {
            Bytes::from_static(b"ACK")
        });
        assert_eq!(r.send.as_deref(), Some(&b"ACK"[..]));
        assert!(r.deliver);
        let again = tx.on_response(StatusCode::BusyHere, start + ms(60), || {
            Bytes::from_static(b"X")
        });
        assert_eq!(again.send.as_deref(), Some(&b"ACK"[..]), "ACK repeated");
        assert!(!again.deliver);
        // Timer D: 32 s on UDP.
        assert_eq!(
            tx.deadline(),
            Some(start + ms(50) + Duration::from_secs(32))
        );

        let mut ok = ClientTransaction::new(Kind::Invite, Bytes::new(), true, T, start);
        assert_eq!(
            ok.deadline(),
            Some(start + T.timeout()),
            "no timer A on TCP"
        );
        let r = ok.on_response(StatusCode::Ok, start, Bytes::new);
        assert!(r.deliver && r.ended && r.send.is_none());
    }

    #[test]
    fn timer_queue_orders_and_moves() {
        let start = Instant::now();
        let mut q = TimerQueue::default();
        let (mut a, mut b) = (None, None);
        q.set(&mut a, Some(start + ms(20)), "a");
        q.set(&mut b, Some(start + ms(10)), "b");
        assert_eq!(q.next(), Some(start + ms(10)));
        q.set(&mut b, Some(start + ms(30)), "b");
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop_due(start + ms(15)), None);
        assert_eq!(q.pop_due(start + ms(25)), Some("a"));
        q.set(&mut b, None, "b");
        assert!(q.is_empty());
    }
}
