//! Shared by the SIP integration tests: both listeners on 127.0.0.1 port 0 with the demo
//! directory, a tiny call handler that answers with a fixed SDP, and a runner for the real
//! `sipp` binary.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};

use umbox_base::directory::Directory;
use umbox_sip::dialog::{DialogEvent, DialogHandle, EndReason, IncomingCall, InviteDecision};
use umbox_sip::types::{CallId, StatusCode};
use umbox_sip::{Limits, Listener, Options, Role};
use umbox_testkit::sipp;
use umbox_um::router::{self, Called, DirectoryRouter, GatewayAllowList, MediaServers};

/// The SDP the test handler answers every offer with.
pub const ANSWER_SDP: &[u8] = b"v=0\r\no=umbox 1 1 IN IP4 127.0.0.1\r\ns=umbox\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// Binds UDP on 127.0.0.1 port 0, then TCP on the same port (retrying when TCP's is taken).
pub async fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = udp.local_addr().unwrap().port();
        if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)).await {
            return (udp, tcp);
        }
    }
    panic!("no port free for both UDP and TCP");
}

/// The demo directory (pilot 1999, alice 1001, bob 1002, gateway 127.0.0.1).
pub fn demo_directory() -> watch::Receiver<Arc<Directory>> {
    let (_keep, directory) = watch::channel(Arc::new(Directory::demo().unwrap()));
    directory
}

/// What the test handler saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// An INVITE for this party.
    Invite {
        call_id: CallId,
        called: Option<Called>,
    },
    Acked(CallId),
    Reinvite(CallId),
    Ended(CallId, EndReason),
    /// A hang-up we made finished with this result.
    HungUp(CallId, Result<(), String>),
}

/// Whom a call is for in the demo directory, as the media server's call handler resolves it.
fn called_of(call: &IncomingCall) -> Option<Called> {
    let directory = Directory::demo().unwrap();
    let gateway = directory.gateway_by_address(call.source.ip())?;
    router::called_party(&directory, gateway, &call.target()?).unwrap()
}

/// The listener options of the tests: the demo directory's gateways are trusted.
pub fn options(directory: watch::Receiver<Arc<Directory>>) -> Options {
    Options::new(Arc::new(GatewayAllowList(directory)))
}

/// The call router's role, sending calls to the media server at `media`.
pub fn router_role(directory: watch::Receiver<Arc<Directory>>, media: SocketAddr) -> Role {
    Role::Router {
        router: Arc::new(DirectoryRouter::new(directory, MediaServers::at(media))),
        events: None,
    }
}

/// How the handler treats a call, chosen by whom it is for.
fn behaviour(called: Option<&Called>) -> &'static str {
    match called {
        // Bob never answers: CANCEL tests.
        Some(Called::Mailbox { extension, .. }) if extension.number == "1002" => "hold",
        Some(Called::Mailbox { .. }) => "answer",
        // A direct call to the pilot: answer, then hang up from our side once acknowledged.
        Some(Called::Pilot { .. }) => "answer-then-hangup",
        // Nobody we know: busy.
        None => "reject",
    }
}

/// Runs the test call handler: answers offers with [`ANSWER_SDP`] (see [`behaviour`]) and
/// reports every event on the returned channel.
pub fn spawn_handler(
    mut events: mpsc::Receiver<DialogEvent>,
    hangup: DialogHandle,
) -> mpsc::UnboundedReceiver<Seen> {
    let (seen_tx, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut held = Vec::new();
        let mut hang_up_after_ack = Vec::new();
        while let Some(event) = events.recv().await {
            match event {
                DialogEvent::Invite { call, reply } => {
                    let _ = seen_tx.send(Seen::Invite {
                        call_id: call.call_id.clone(),
                        called: called_of(&call),
                    });
                    match behaviour(called_of(&call).as_ref()) {
                        "hold" => held.push(reply),
                        "reject" => {
                            let _ = reply.send(InviteDecision::Reject(StatusCode::BusyHere));
                        }
                        mode => {
                            if mode == "answer-then-hangup" {
                                hang_up_after_ack.push(call.call_id.clone());
                            }
                            let _ = reply.send(InviteDecision::Accept {
                                sdp_answer: ANSWER_SDP.to_vec(),
                            });
                        }
                    }
                }
                DialogEvent::Acked { call_id } => {
                    let _ = seen_tx.send(Seen::Acked(call_id.clone()));
                    if hang_up_after_ack.contains(&call_id) {
                        let handle = hangup.clone();
                        let seen_tx = seen_tx.clone();
                        tokio::spawn(async move {
                            let result = handle.hangup(&call_id).await.map_err(|e| e.to_string());
                            let _ = seen_tx.send(Seen::HungUp(call_id, result));
                        });
                    }
                }
                DialogEvent::Reinvite { call_id, reply, .. } => {
                    let _ = seen_tx.send(Seen::Reinvite(call_id));
                    let _ = reply.send(InviteDecision::Accept {
                        sdp_answer: ANSWER_SDP.to_vec(),
                    });
                }
                DialogEvent::Ended { call_id, reason } => {
                    let _ = seen_tx.send(Seen::Ended(call_id, reason));
                }
            }
        }
        drop(held);
    });
    seen
}

/// A router and a media listener wired together, plus the handler's report.
pub struct Pair {
    pub router: Listener,
    pub media: Listener,
    pub seen: mpsc::UnboundedReceiver<Seen>,
}

/// Starts the media listener (with the test handler) and a router pointing at it.
pub async fn start_pair(router_limits: Limits) -> Pair {
    let directory = demo_directory();
    let (udp, tcp) = bind_pair().await;
    let (events_tx, events) = mpsc::channel(64);
    let media = Listener::start(
        udp,
        tcp,
        Role::MediaServer { events: events_tx },
        options(directory.clone()),
    )
    .unwrap();
    let seen = spawn_handler(events, media.dialogs().unwrap());
    let (udp, tcp) = bind_pair().await;
    let mut router_options = options(directory.clone());
    router_options.limits = router_limits;
    let router = Listener::start(
        udp,
        tcp,
        router_role(directory, media.udp_addr()),
        router_options,
    )
    .unwrap();
    Pair {
        router,
        media,
        seen,
    }
}

/// Drains what the handler has reported so far (call after sipp has finished).
pub fn drain(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Vec<Seen> {
    let mut all = Vec::new();
    while let Ok(event) = seen.try_recv() {
        all.push(event);
    }
    all
}

/// Waits for the next report (bounded by the test's own timeout).
pub async fn next(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(std::time::Duration::from_secs(20), seen.recv())
        .await
        .expect("handler reports within 20 s")
        .expect("handler alive")
}

/// A sipp run (20 s timeout) on a blocking thread.
pub async fn run_sipp(
    scenario_name: &str,
    target: SocketAddr,
    calls: u32,
    extra: &[&str],
) -> sipp::Run {
    let name = scenario_name.to_owned();
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        sipp::run(&name, target, calls, 20, &extra)
    })
    .await
    .unwrap()
}
