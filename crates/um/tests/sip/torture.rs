//! RFC 4475-style torture messages against both listeners over UDP.
//!
//! Each `fixtures/sip/torture/<name>.sip` is sent byte for byte from a fresh socket on
//! 127.0.0.1 (a configured gateway) to the router and to the media listener; `<name>.expect`
//! holds one `router <status|dropped>` and one `media <status|dropped>` line (and `#` notes).
//! A status must be the final response for the message's Call-ID; "dropped" means no answer
//! came before the answer to an OPTIONS probe sent right after it (the listener handles one
//! socket's datagrams in order, so no timing is involved). After every case the probe also
//! proves the listener still serves OPTIONS.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::support::start_pair;
use umbox_sip::Limits;

struct Case {
    name: String,
    message: Vec<u8>,
    router: String,
    media: String,
}

fn cases() -> Vec<Case> {
    let dir = umbox_testkit::workspace_root().join("fixtures/sip/torture");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sip"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let expect = std::fs::read_to_string(path.with_extension("expect"))
                .unwrap_or_else(|_| panic!("{name}.expect missing"));
            let field = |key: &str| {
                expect
                    .lines()
                    .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_owned()))
                    .unwrap_or_else(|| panic!("{name}.expect has no {key}line"))
            };
            Case {
                router: field("router "),
                media: field("media "),
                message: std::fs::read(&path).unwrap(),
                name,
            }
        })
        .collect()
}

/// The value of the first Call-ID (or compact `i`) line.
fn call_id(message: &[u8]) -> Option<String> {
    String::from_utf8_lossy(message).lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        let name = name.trim();
        (name.eq_ignore_ascii_case("call-id") || name.eq_ignore_ascii_case("i"))
            .then(|| value.trim().to_owned())
    })
}

fn status_of(response: &str) -> Option<u16> {
    response
        .strip_prefix("SIP/2.0 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
}

/// The next datagram; `None` after 20 s, a hang breaker only (answers come within
/// milliseconds, and "dropped" is proven by the probe, not by waiting).
async fn recv(socket: &UdpSocket) -> Option<String> {
    let mut buf = vec![0u8; 65_535];
    let (len, _) = tokio::time::timeout(Duration::from_secs(20), socket.recv_from(&mut buf))
        .await
        .ok()?
        .unwrap();
    Some(String::from_utf8_lossy(&buf[..len]).into_owned())
}

fn probe(from: SocketAddr, to: SocketAddr, call_id: &str) -> String {
    format!(
        "OPTIONS sip:{to} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK-{call_id}\r\n\
From: <sip:probe@{from}>;tag=p\r\nTo: <sip:{to}>\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Sends `case` to `target` and reports the final status for its Call-ID, or "dropped";
/// then checks the listener answers an OPTIONS probe.
async fn outcome(case: &Case, target: SocketAddr, expect_dropped: bool) -> String {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = socket.local_addr().unwrap();
    let case_call_id = call_id(&case.message);
    socket.send_to(&case.message, target).await.unwrap();
    let probe_call_id = format!("probe-{}", case.name);
    if expect_dropped {
        socket
            .send_to(probe(me, target, &probe_call_id).as_bytes(), target)
            .await
            .unwrap();
    }
    let mut result = None;
    for _ in 0..50 {
        let Some(message) = recv(&socket).await else {
            break;
        };
        let from_case = call_id(message.as_bytes()) != Some(probe_call_id.clone())
            && (case_call_id.is_none() || call_id(message.as_bytes()) == case_call_id);
        match status_of(&message) {
            // When nothing is expected, even a provisional answer is one too many.
            Some(code) if from_case && (code >= 200 || expect_dropped) => {
                result = Some(code.to_string());
                break;
            }
            Some(200) if !from_case => {
                result = Some("dropped".to_owned());
                break;
            }
            _ => {}
        }
    }
    let result = result.unwrap_or_else(|| "no final answer".to_owned());
    if !expect_dropped {
        // The listener still answers after the case.
        socket
            .send_to(probe(me, target, &probe_call_id).as_bytes(), target)
            .await
            .unwrap();
        for _ in 0..50 {
            let message = recv(&socket).await.expect("the probe is answered");
            if call_id(message.as_bytes()).as_deref() == Some(probe_call_id.as_str()) {
                assert_eq!(status_of(&message), Some(200), "{}: probe", case.name);
                break;
            }
        }
    }
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torture_messages_get_their_expected_answers() {
    let pair = start_pair(Limits::default()).await;
    let cases = cases();
    assert!(cases.len() >= 40, "fixtures missing: {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        for (listener, target, expected) in [
            ("router", pair.router.udp_addr(), &case.router),
            ("media", pair.media.udp_addr(), &case.media),
        ] {
            let got = outcome(case, target, expected == "dropped").await;
            if &got != expected {
                failures.push(format!(
                    "{} on {listener}: expected {expected}, got {got}",
                    case.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every call the media listener refused is gone.
    assert_eq!(pair.media.stats().calls, 0);
}
