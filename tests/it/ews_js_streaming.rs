//! ews-javascript-api (npm), unmodified: a StreamingSubscriptionConnection on the inbox and the
//! voicemail folder receives a new voice message with the folders' UnreadCount, is closed by the
//! server at its one-minute timeout (ConnectionStatus Closed), reopens on the same subscription and
//! keeps receiving (`tests/interop/ews-js/streaming.js`). Changes go through the store while the
//! server runs in-process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use umbox_base::config::Notifications;
use umbox_store::DistinguishedFolder;

use crate::inproc::InProcess;

/// The script's output lines, as they come.
struct Script {
    child: Child,
    lines: Receiver<String>,
}

impl Script {
    fn start(server: &InProcess) -> Script {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/ews-js");
        assert!(
            dir.join("node_modules/ews-javascript-api").exists(),
            "ews-javascript-api is not installed: run scripts/test (it runs npm ci in {})",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg(dir.join("streaming.js"))
            .current_dir(&dir)
            .env("UMBOX_EWS_URL", server.ews_url())
            .env("UMBOX_USER", "alice@example.test")
            .env("UMBOX_PASSWORD", "demo-alice")
            .stdout(Stdio::piped())
            .spawn()
            .expect("node is installed (apt-get install nodejs)");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("[streaming.js] {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Script { child, lines }
    }

    /// The lines up to and including the first that contains `needle` (at most 150 s: the
    /// connection timeout is a minute).
    fn until(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(150);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    seen.push(line);
                    if found {
                        return seen;
                    }
                }
                Err(_) => panic!("streaming.js printed no {needle:?}; it printed {seen:#?}"),
            }
        }
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn streaming_subscription_connection_receives_and_reconnects() {
    let server = InProcess::start(
        Notifications {
            heartbeat: Duration::from_secs(5),
            ..Notifications::default()
        },
        Duration::from_secs(60),
    );
    let script = Script::start(&server);
    script.until(r#""step":"open""#);
    server.wait_until("the connection", |s| s.hub.connection_count() == 1);
    server.deliver(
        "alice@example.test",
        DistinguishedFolder::Inbox,
        "IPM.Note.Microsoft.Voicemail.UM.CA",
    );
    let lines = script.until(r#""type":"NewMail""#);
    let events = lines.last().unwrap();
    assert!(events.contains(r#""subscription":true"#), "{events}");
    assert!(events.contains(r#""type":"Created""#), "{events}");
    // Both folders' unread counts went to 1 (inbox and voicemail).
    assert_eq!(events.matches(r#""unread":1"#).count(), 2, "{events}");

    // The server closes the connection at its timeout; the client reopens it.
    script.until(r#""step":"disconnected""#);
    script.until(r#""step":"reopened""#);
    server.wait_until("the reopened connection", |s| s.hub.connection_count() == 1);
    server.deliver("alice@example.test", DistinguishedFolder::Inbox, "IPM.Note");
    let lines = script.until(r#""type":"NewMail""#);
    assert!(
        lines.last().unwrap().contains(r#""unread":2"#),
        "{lines:#?}"
    );
    let mut child = script;
    let status = child.child.wait().unwrap();
    assert!(status.success());
}
