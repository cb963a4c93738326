//! GetStreamingEvents on the wire, read with curl: every HTTP chunk is one whole envelope with the
//! SOAP namespace as default namespace (what clients that search for `</Envelope>` need), a
//! client that hangs up in the middle of a chunk costs nothing, and a client that never reads is
//! dropped while its subscription ends with ErrorMissedNotificationEvents instead of the server
//! buffering for it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use umbox_base::config::Notifications;
use umbox_notify::{EventType, Filter, Folders, NewKind, NewSubscription};
use umbox_store::{DistinguishedFolder, MailboxId};
use umbox_xml as xml;

use crate::harness::{curl, temp_dir};
use crate::inproc::InProcess;

const ALICE: &str = "alice@example.test";

/// A SOAP request for `body` (Exchange2013).
pub fn envelope(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion Version="Exchange2013"/></s:Header><s:Body>{body}</s:Body></s:Envelope>"#
    )
}

/// The text of the first element named `name` in `document`.
pub fn first_text(document: &[u8], name: &str) -> Option<String> {
    fn find<'e>(e: &'e xml::Element, name: &str) -> Option<&'e xml::Element> {
        if e.name() == name {
            return Some(e);
        }
        e.children().find_map(|c| find(c, name))
    }
    let root = xml::parse(document, &xml::Limits::DEFAULT).ok()?;
    find(&root, name).map(|e| e.trimmed_text().to_owned())
}

/// POSTs an EWS request as alice and returns the body.
fn ews(server: &InProcess, body: &str) -> Vec<u8> {
    let reply = curl(&[
        "-u",
        "alice@example.test:demo-alice",
        "-H",
        "Content-Type: text/xml; charset=utf-8",
        "--data-binary",
        &envelope(body),
        &server.ews_url(),
    ]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.body
}

fn subscribe_streaming(server: &InProcess) -> String {
    let body = ews(
        server,
        r#"<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/><t:DistinguishedFolderId Id="voicemail"/></t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType><t:EventType>CreatedEvent</t:EventType><t:EventType>ModifiedEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>"#,
    );
    first_text(&body, "SubscriptionId").expect("a subscription id")
}

fn streaming_request(ids: &[String]) -> String {
    let ids: String = ids
        .iter()
        .map(|id| format!("<t:SubscriptionId>{id}</t:SubscriptionId>"))
        .collect();
    envelope(&format!(
        "<m:GetStreamingEvents><m:SubscriptionIds>{ids}</m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>"
    ))
}

fn get_streaming_events(id: &str) -> String {
    streaming_request(&[id.to_owned()])
}

/// Starts curl on the stream; `extra` adds options (rate limits, a time limit).
fn stream(server: &InProcess, id: &str, out: &std::path::Path, extra: &[&str]) -> Child {
    Command::new("curl")
        .args(["-sk", "--raw", "-N", "-u", "alice@example.test:demo-alice"])
        .args(["-H", "Content-Type: text/xml; charset=utf-8"])
        .args(["--data-binary", &get_streaming_events(id)])
        .args(extra)
        .arg("-o")
        .arg(out)
        .arg(server.ews_url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("curl is installed")
}

/// Splits a raw chunked body into its complete chunks (a final chunk cut short by the client's
/// time limit is left out).
fn chunks(raw: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&rest[..line_end]).unwrap();
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16)
            .unwrap_or_else(|_| panic!("bad chunk size line {size:?}"));
        let start = line_end + 2;
        if size == 0 || rest.len() < start + size + 2 {
            break;
        }
        out.push(rest[start..start + size].to_vec());
        assert_eq!(&rest[start + size..start + size + 2], b"\r\n");
        rest = &rest[start + size + 2..];
    }
    out
}

fn settings(heartbeat_seconds: u64) -> Notifications {
    Notifications {
        heartbeat: Duration::from_secs(heartbeat_seconds),
        ..Notifications::default()
    }
}

#[test]
fn every_chunk_is_one_complete_envelope() {
    let server = InProcess::start(settings(1), Duration::from_secs(60));
    let id = subscribe_streaming(&server);
    let dir = temp_dir("raw-stream");
    let out = dir.join("raw");
    let mut client = stream(&server, &id, &out, &["--max-time", "4"]);
    server.wait_until("the stream to open", |s| s.hub.connection_count() == 1);
    server.deliver(ALICE, DistinguishedFolder::Inbox, "IPM.Note");
    server.deliver(
        ALICE,
        DistinguishedFolder::Inbox,
        "IPM.Note.Microsoft.Voicemail.UM.CA",
    );
    client.wait().unwrap();
    let raw = std::fs::read(&out).unwrap();
    let chunks = chunks(&raw);
    assert!(
        chunks.len() >= 3,
        "{} chunks in {}",
        chunks.len(),
        String::from_utf8_lossy(&raw)
    );
    let mut new_mail = 0;
    let mut heartbeats = 0;
    for chunk in &chunks {
        let text = std::str::from_utf8(chunk).unwrap();
        assert!(
            text.starts_with(r#"<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/""#),
            "{text}"
        );
        assert!(text.ends_with("</Envelope>"), "{text}");
        assert_eq!(text.matches("</Envelope>").count(), 1, "{text}");
        assert!(!text.contains("<?xml"), "{text}");
        let envelope = xml::parse(chunk, &xml::Limits::DEFAULT).unwrap();
        assert!(envelope.is(xml::ns::SOAP_ENVELOPE, "Envelope"));
        new_mail += text.matches("<t:NewMailEvent>").count();
        if !text.contains("<m:Notifications>") {
            assert_eq!(first_text(chunk, "ConnectionStatus").as_deref(), Some("OK"));
            heartbeats += 1;
        }
    }
    assert_eq!(new_mail, 2, "{}", String::from_utf8_lossy(&raw));
    assert!(heartbeats >= 1);
    let _ = std::fs::remove_dir_all(&dir);
    server.wait_until("the connection to be released", |s| {
        s.hub.connection_count() == 0
    });
}

#[test]
fn a_client_that_hangs_up_mid_chunk_costs_nothing() {
    let server = InProcess::start(settings(45), Duration::from_secs(60));
    let id = subscribe_streaming(&server);
    // Enough waiting events that the first chunk is large, then a client that reads 100 bytes of
    // it and hangs up.
    for _ in 0..40 {
        server.deliver(ALICE, DistinguishedFolder::Inbox, "IPM.Note");
    }
    let mut client = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "curl -sk -N -u alice@example.test:demo-alice -H 'Content-Type: text/xml' --data-binary @- {} | head -c 100 >/dev/null",
            server.ews_url()
        ))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    client
        .stdin
        .take()
        .unwrap()
        .write_all(get_streaming_events(&id).as_bytes())
        .unwrap();
    client.wait().unwrap();
    server.wait_until("the connection to be released", |s| {
        s.hub.connection_count() == 0
    });
    // The subscription carries on: a new connection gets what happens next.
    let dir = temp_dir("after-hangup");
    let out = dir.join("raw");
    let mut again = stream(&server, &id, &out, &["--max-time", "3"]);
    server.wait_until("the stream to reopen", |s| s.hub.connection_count() == 1);
    server.deliver(ALICE, DistinguishedFolder::Inbox, "IPM.Note.Later");
    again.wait().unwrap();
    let raw = std::fs::read(&out).unwrap();
    let all: Vec<u8> = chunks(&raw).concat();
    assert!(
        String::from_utf8_lossy(&all).contains("<t:NewMailEvent>"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_client_that_never_reads_is_dropped_and_its_subscriptions_end() {
    let server = InProcess::start(
        Notifications {
            max_backlog_events: 20,
            ..settings(45)
        },
        Duration::from_secs(2),
    );
    // 200 subscriptions on one connection, so every delivery makes a few hundred kilobytes of
    // notifications and the kernel's socket buffers fill within a few deliveries.
    let ids: Vec<String> = (0..200)
        .map(|_| {
            let request = NewSubscription {
                caller: MailboxId::new(ALICE),
                mailbox: MailboxId::new(ALICE),
                filter: Filter {
                    folders: Folders::All,
                    types: EventType::ALL.into_iter().collect(),
                },
                watermark: None,
                kind: NewKind::Streaming,
            };
            let now = umbox_base::clock::Clock::now(&umbox_base::clock::SystemClock);
            server.hub.subscribe(request, now).unwrap().id.to_string()
        })
        .collect();
    let body = streaming_request(&ids);
    let request = format!(
        "POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {}\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        server.https,
        "YWxpY2VAZXhhbXBsZS50ZXN0OmRlbW8tYWxpY2U=",
        body.len()
    );
    // A client that sends its request and then never reads a byte.
    let script = r#"
import socket, ssl, sys, time
host, port = sys.argv[1], int(sys.argv[2])
raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
raw.connect((host, port))
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
conn = context.wrap_socket(raw, server_hostname=host)
conn.sendall(sys.stdin.buffer.read())
time.sleep(120)
"#;
    let mut client = Command::new("python3")
        .args(["-c", script, "127.0.0.1", &server.https.port().to_string()])
        .stdin(Stdio::piped())
        .spawn()
        .expect("python3 is installed");
    {
        use std::io::Write;
        let mut stdin = client.stdin.take().unwrap();
        stdin.write_all(request.as_bytes()).unwrap();
    }
    server.wait_until("the stream to open", |s| s.hub.connection_count() == 1);
    for _ in 0..60 {
        server.deliver(ALICE, DistinguishedFolder::Inbox, "IPM.Note");
    }
    server.wait_until("the stalled connection to be dropped", |s| {
        s.hub.connection_count() == 0
    });
    let _ = client.kill();
    let _ = client.wait();
    // Reconnecting finds the subscriptions too far behind: they are ended, and said so.
    let reply = curl(&[
        "-u",
        "alice@example.test:demo-alice",
        "-H",
        "Content-Type: text/xml; charset=utf-8",
        "--data-binary",
        &body,
        &server.ews_url(),
    ]);
    let text = reply.text();
    assert!(text.contains("ErrorMissedNotificationEvents"), "{text}");
    assert!(ids.iter().all(|id| text.contains(id.as_str())), "{text}");
    assert!(
        text.contains("<m:ConnectionStatus>Closed</m:ConnectionStatus>"),
        "{text}"
    );
    assert_eq!(server.hub.subscription_count(), 0);
}
