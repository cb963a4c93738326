//! RFC 3261 §17 timers through a whole listener, on Tokio's paused clock: the listener's timer
//! task, its sockets and a test socket run for real, and time only moves when everything is
//! idle, so retransmission instants are exact and no test waits on the wall clock.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::support::{bind_pair, demo_directory, options, router_role, ANSWER_SDP};
use umbox_sip::dialog::{DialogEvent, EndReason, InviteDecision};
use umbox_sip::types::CallId;
use umbox_sip::{Listener, Role};

const T1_MS: u64 = 500;

/// A gateway socket that notes, in paused-clock milliseconds since `start`, when each
/// message arrives.
struct Gateway {
    socket: UdpSocket,
    start: Instant,
}

impl Gateway {
    async fn new() -> Gateway {
        Gateway {
            socket: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            start: Instant::now(),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    async fn send(&self, text: &str, to: SocketAddr) {
        self.socket.send_to(text.as_bytes(), to).await.unwrap();
    }

    /// The next message and when it came, or `None` if nothing comes for `quiet` (paused
    /// time: the clock jumps there once every timer before it has fired).
    async fn recv_within(&self, quiet: Duration) -> Option<(u64, String)> {
        let mut buf = vec![0u8; 65_535];
        let (len, _) = tokio::time::timeout(quiet, self.socket.recv_from(&mut buf))
            .await
            .ok()?
            .unwrap();
        let at = u64::try_from(self.start.elapsed().as_millis()).unwrap();
        Some((at, String::from_utf8_lossy(&buf[..len]).into_owned()))
    }

    async fn recv(&self) -> (u64, String) {
        self.recv_within(Duration::from_secs(100))
            .await
            .expect("a message")
    }
}

fn invite(gateway: SocketAddr, to: SocketAddr, user: &str, call_id: &str) -> String {
    let body = "v=0\r\no=gw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n";
    format!(
        "INVITE sip:{user}@{to} SIP/2.0\r\n\
Via: SIP/2.0/UDP {gateway};branch=z9hG4bK-{call_id}-1\r\n\
From: <sip:caller@{gateway}>;tag=gw1\r\n\
To: <sip:{user}@{to}>\r\n\
Call-ID: {call_id}\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:caller@{gateway}>\r\n\
Max-Forwards: 70\r\n\
Diversion: <sip:1001@pbx>;reason=no-answer\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn status(message: &str) -> &str {
    message.get(8..11).unwrap_or("")
}

fn header<'a>(message: &'a str, name: &str) -> &'a str {
    message
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
        .unwrap_or("")
}

async fn router() -> Listener {
    router_with(|_| {}).await
}

/// A router of the demo directory with the limits `limit` sets.
async fn router_with(limit: impl FnOnce(&mut umbox_sip::Limits)) -> Listener {
    let (udp, tcp) = bind_pair().await;
    let mut options = options(demo_directory());
    limit(&mut options.limits);
    Listener::start(
        udp,
        tcp,
        router_role(demo_directory(), "127.0.0.1:5062".parse().unwrap()),
        options,
    )
    .unwrap()
}

async fn media() -> (Listener, mpsc::Receiver<DialogEvent>) {
    let (udp, tcp) = bind_pair().await;
    let (events_tx, events) = mpsc::channel(16);
    let listener = Listener::start(
        udp,
        tcp,
        Role::MediaServer { events: events_tx },
        options(demo_directory()),
    )
    .unwrap();
    (listener, events)
}

/// T1, 2·T1, 4·T1 … capped at T2 = 8·T1, until `end` (RFC 3261 timers G, E and the 2xx rule).
fn backoff_until(end: u64) -> Vec<u64> {
    let (mut at, mut interval, mut all) = (T1_MS, T1_MS, Vec::new());
    while at < end {
        all.push(at);
        interval = (interval * 2).min(8 * T1_MS);
        at += interval;
    }
    all
}

/// The ACK a gateway sends for the router's non-2xx `answer` to `invite` (RFC 3261 §17.1.1.3:
/// the INVITE's branch, the answer's To).
fn ack_for(gateway: SocketAddr, to: SocketAddr, call_id: &str, answer: &str) -> String {
    format!(
        "ACK sip:1999@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {gateway};branch=z9hG4bK-{call_id}-1\r\n\
From: <sip:caller@{gateway}>;tag=gw1\r\nTo: {t}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        t = header(answer, "To"),
    )
}

fn to_tag(message: &str) -> &str {
    header(message, "To").split(";tag=").nth(1).unwrap_or("")
}

#[tokio::test(start_paused = true)]
async fn a_redirect_keeps_no_state_and_a_retransmitted_invite_gets_the_same_302() {
    let router = router().await;
    let gw = Gateway::new().await;
    let invite = invite(gw.addr(), router.udp_addr(), "1999", "g-h");
    gw.send(&invite, router.udp_addr()).await;
    let (at, first) = gw.recv().await;
    assert_eq!((at, status(&first)), (0, "302"));
    assert!(!to_tag(&first).is_empty(), "{first}");
    let held = router.stats();
    assert_eq!(
        (held.server_transactions, held.calls, held.timers),
        (0, 0, 0),
        "RFC 3261 §8.2.7: answered without a transaction"
    );
    // No timer G: over UDP the caller's INVITE retransmissions carry the reliability.
    assert_eq!(gw.recv_within(Duration::from_secs(100)).await, None);
    gw.send(&invite, router.udp_addr()).await;
    let (_, again) = gw.recv().await;
    assert_eq!(again, first, "the same bytes, To tag included");
    // Another transaction of the same call (a new branch) gets another tag.
    let next = invite.replace("z9hG4bK-g-h-1", "z9hG4bK-g-h-2");
    gw.send(&next, router.udp_addr()).await;
    let (_, other) = gw.recv().await;
    assert_eq!(status(&other), "302");
    assert_ne!(to_tag(&other), to_tag(&first));
    assert_eq!(router.stats().server_transactions, 0);
}

#[tokio::test(start_paused = true)]
async fn the_ack_of_a_redirect_is_absorbed_and_leaves_nothing() {
    let router = router().await;
    let gw = Gateway::new().await;
    gw.send(
        &invite(gw.addr(), router.udp_addr(), "1999", "i"),
        router.udp_addr(),
    )
    .await;
    let (_, answer) = gw.recv().await;
    assert_eq!(status(&answer), "302");
    let ack = ack_for(gw.addr(), router.udp_addr(), "i", &answer);
    tokio::time::advance(Duration::from_millis(100)).await;
    gw.send(&ack, router.udp_addr()).await;
    gw.send(&ack, router.udp_addr()).await;
    assert_eq!(
        gw.recv_within(Duration::from_secs(40)).await,
        None,
        "ACKs get no answer"
    );
    let stats = router.stats();
    assert_eq!((stats.server_transactions, stats.timers), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn calls_are_redirected_while_the_transaction_table_is_full() {
    let router = router_with(|limits| limits.max_transactions = 4).await;
    let gw = Gateway::new().await;
    let r = router.udp_addr();
    // OPTIONS keep a transaction for timer J: four fill the table, the fifth gets 503.
    for n in 0..5 {
        let ping = format!(
            "OPTIONS sip:{r} SIP/2.0\r\nVia: SIP/2.0/UDP {g};branch=z9hG4bK-full-{n}\r\n\
From: <sip:gw@{g}>;tag=f\r\nTo: <sip:{r}>\r\nCall-ID: full-{n}\r\nCSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            g = gw.addr()
        );
        gw.send(&ping, r).await;
        let (_, answer) = gw.recv().await;
        let expected = if n < 4 { "200" } else { "503" };
        assert_eq!(status(&answer), expected, "{answer}");
    }
    assert_eq!(router.stats().server_transactions, 4);
    // A flood of INVITEs whose 302s are never acknowledged takes no slot.
    for n in 0..500 {
        let call_id = format!("flood-{n}");
        gw.send(&invite(gw.addr(), r, "1999", &call_id), r).await;
        let (_, answer) = gw.recv().await;
        assert_eq!(status(&answer), "302", "{answer}");
    }
    assert_eq!(router.stats().server_transactions, 4);
    tokio::time::advance(Duration::from_secs(33)).await;
    assert_eq!(gw.recv_within(Duration::from_secs(1)).await, None);
    assert_eq!(
        router.stats().server_transactions,
        0,
        "timer J freed the table"
    );
    gw.send(&invite(gw.addr(), r, "1999", "after"), r).await;
    assert_eq!(status(&gw.recv().await.1), "302");
}

#[tokio::test(start_paused = true)]
async fn overload_503s_keep_no_state() {
    // Every datagram waits some time in the receive buffer: a zero limit is always exceeded.
    let router = router_with(|limits| limits.max_queue_delay = Duration::ZERO).await;
    let gw = Gateway::new().await;
    let r = router.udp_addr();
    for n in 0..500 {
        let invite = invite(gw.addr(), r, "1999", &format!("shed-{n}"));
        gw.send(&invite, r).await;
        let (_, answer) = gw.recv().await;
        assert_eq!(status(&answer), "503", "{answer}");
        assert_eq!(header(&answer, "Retry-After"), "10");
        // Stateless, but a retransmission still gets the same answer.
        gw.send(&invite, r).await;
        assert_eq!(gw.recv().await.1, answer);
    }
    let stats = router.stats();
    assert_eq!(
        (stats.server_transactions, stats.calls, stats.timers),
        (0, 0, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn timer_j_keeps_a_non_invite_answer_for_retransmissions() {
    let router = router().await;
    let gw = Gateway::new().await;
    let options = format!(
        "OPTIONS sip:{r} SIP/2.0\r\nVia: SIP/2.0/UDP {g};branch=z9hG4bK-j\r\n\
From: <sip:gw@{g}>;tag=j\r\nTo: <sip:{r}>\r\nCall-ID: j\r\nCSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        r = router.udp_addr(),
        g = gw.addr()
    );
    gw.send(&options, router.udp_addr()).await;
    let (_, first) = gw.recv().await;
    assert_eq!(status(&first), "200");
    tokio::time::advance(Duration::from_secs(31)).await;
    gw.send(&options, router.udp_addr()).await;
    let (_, again) = gw.recv().await;
    assert_eq!(again, first, "the same answer, not a new transaction");
    assert_eq!(router.stats().server_transactions, 1);
    assert_eq!(gw.recv_within(Duration::from_secs(2)).await, None);
    assert_eq!(
        router.stats().server_transactions,
        0,
        "timer J = 64·T1 fired"
    );
}

/// Offers a call to the media listener and accepts it; returns the 200 OK.
async fn answered_call(
    media: &Listener,
    events: &mut mpsc::Receiver<DialogEvent>,
    gw: &Gateway,
    call_id: &str,
) -> String {
    gw.send(
        &invite(gw.addr(), media.udp_addr(), "1001", call_id),
        media.udp_addr(),
    )
    .await;
    let Some(DialogEvent::Invite { call, reply }) = events.recv().await else {
        panic!("no INVITE event");
    };
    assert_eq!(call.call_id.as_str(), call_id);
    reply
        .send(InviteDecision::Accept {
            sdp_answer: ANSWER_SDP.to_vec(),
        })
        .unwrap();
    let (_, trying) = gw.recv().await;
    assert_eq!(status(&trying), "100");
    let (at, ok) = gw.recv().await;
    assert_eq!((at, status(&ok)), (0, "200"));
    ok
}

#[tokio::test(start_paused = true)]
async fn an_unacknowledged_2xx_is_repeated_then_the_call_ends_with_bye() {
    let (media, mut events) = media().await;
    let gw = Gateway::new().await;
    let ok = answered_call(&media, &mut events, &gw, "no-ack").await;
    let mut resent = Vec::new();
    let bye = loop {
        let (at, message) = gw.recv().await;
        if message.starts_with("BYE ") {
            break (at, message);
        }
        assert_eq!(message, ok);
        resent.push(at);
    };
    // RFC 3261 §13.3.1.4: T1 doubling to T2, and a BYE after 64·T1 without ACK.
    assert_eq!(resent, backoff_until(64 * T1_MS));
    assert_eq!(bye.0, 64 * T1_MS);
    assert_eq!(header(&bye.1, "Call-ID"), "no-ack");
    assert_eq!(
        header(&bye.1, "To"),
        "<sip:caller@".to_owned() + &gw.addr().to_string() + ">;tag=gw1"
    );
    match events.recv().await {
        Some(DialogEvent::Ended { call_id, reason }) => {
            assert_eq!(call_id.as_str(), "no-ack");
            assert_eq!(reason, EndReason::Timeout);
        }
        other => panic!("expected Ended, got {other:?}"),
    }
    assert_eq!(media.stats().calls, 0);
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_bye_is_repeated_by_timer_e_until_timer_f() {
    let (media, mut events) = media().await;
    let gw = Gateway::new().await;
    let ok = answered_call(&media, &mut events, &gw, "no-bye-answer").await;
    let ack = format!(
        "ACK sip:1001@{m} SIP/2.0\r\nVia: SIP/2.0/UDP {g};branch=z9hG4bK-ack\r\n\
From: <sip:caller@{g}>;tag=gw1\r\nTo: {to}\r\nCall-ID: no-bye-answer\r\nCSeq: 1 ACK\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        m = media.udp_addr(),
        g = gw.addr(),
        to = header(&ok, "To"),
    );
    gw.send(&ack, media.udp_addr()).await;
    assert!(matches!(
        events.recv().await,
        Some(DialogEvent::Acked { .. })
    ));
    let dialogs = media.dialogs().unwrap();
    let hangup = tokio::spawn(async move {
        let call_id = CallId::parse("no-bye-answer").unwrap();
        let result = dialogs.hangup(&call_id).await;
        (Instant::now(), result)
    });
    let gw = Arc::new(gw);
    let (first_at, first) = gw.recv().await;
    assert!(first.starts_with("BYE "), "{first}");
    let mut resent = Vec::new();
    while let Some((at, message)) = gw.recv_within(Duration::from_secs(100)).await {
        assert_eq!(message, first);
        resent.push(at - first_at);
    }
    assert_eq!(resent, backoff_until(64 * T1_MS), "timer E");
    let (ended, result) = hangup.await.unwrap();
    assert!(
        matches!(result, Err(umbox_sip::Error::Timeout(_))),
        "{result:?}"
    );
    assert_eq!(
        u64::try_from((ended - gw.start).as_millis()).unwrap() - first_at,
        64 * T1_MS,
        "timer F"
    );
    let stats = media.stats();
    assert_eq!((stats.calls, stats.client_transactions), (0, 0));
}
