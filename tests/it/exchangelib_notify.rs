//! exchangelib (PyPI), unmodified: pull, push and streaming subscriptions on the inbox, the
//! voicemail folder and Conversation History (`tests/interop/exchangelib/test_notify.py`).
//!
//! The server runs in-process and this runner is the "second client": when the script prints
//! `CHANGE …` it changes alice's mailbox through the store's write path (as delivery and EWS do)
//! and answers `DONE`. The same script also runs with `UMBOX_CHANGES=ews`, where a second
//! exchangelib client makes the changes over EWS CreateItem/UpdateItem.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use umbox::config::Notifications;
use umbox::store::{DistinguishedFolder, ItemId};

use crate::inproc::InProcess;

const ALICE: &str = "alice@example.test";

/// The Python with exchangelib: `UMBOX_PYTHON`, else the suite's venv (made by `scripts/test`),
/// else a venv at /tmp/venv-exl.
pub fn python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var_os("UMBOX_PYTHON").map(PathBuf::from),
        Some(root.join("tests/interop/exchangelib/.venv/bin/python")),
        Some(PathBuf::from("/tmp/venv-exl/bin/python")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "no Python with exchangelib: set UMBOX_PYTHON, or run scripts/test (it creates \
                 tests/interop/exchangelib/.venv), or `python3 -m venv /tmp/venv-exl && /tmp/venv-exl/bin/pip install exchangelib`"
            )
        })
}

#[test]
fn pull_push_and_streaming_with_exchangelib() {
    let server = InProcess::start(
        Notifications {
            allow_private_push_targets: true,
            ..Notifications::default()
        },
        Duration::from_secs(60),
    );
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/exchangelib/test_notify.py");
    let mut child = Command::new(python())
        .arg(script)
        .env("UMBOX_EWS_URL", server.ews_url())
        .env("UMBOX_USER", ALICE)
        .env("UMBOX_PASSWORD", "demo-alice")
        .env("UMBOX_CHANGES", "runner")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut answers = child.stdin.take().unwrap();
    let output = BufReader::new(child.stdout.take().unwrap());
    let mut last: Option<ItemId> = None;
    let mut checks = Vec::new();
    // The script ends its output by exiting; each line is read as it comes.
    for line in output.lines() {
        let line = line.unwrap();
        eprintln!("[test_notify.py] {line}");
        if let Some(change) = line.strip_prefix("CHANGE ") {
            let words: Vec<&str> = change.split_whitespace().collect();
            match words.as_slice() {
                ["deliver", folder, class] => {
                    let folder = DistinguishedFolder::parse(folder).unwrap();
                    last = Some(server.deliver(ALICE, folder, class));
                }
                ["read", "last"] => server.mark_read(ALICE, last.expect("a delivered message")),
                other => panic!("unknown change {other:?}"),
            }
            answers.write_all(b"DONE\n").unwrap();
            answers.flush().unwrap();
        } else if line.starts_with("PUSH-ENDED ") {
            // The client answered Unsubscribe: the push subscription (the last one) is gone.
            server.wait_until("the push subscription to end", |s| {
                s.hub.subscription_count() == 0
            });
        } else if line.starts_with("ok ") {
            checks.push(line);
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "test_notify.py failed after {checks:#?}");
    assert_eq!(checks.last().map(String::as_str), Some("ok all"));
    assert!(checks.len() >= 12, "{checks:#?}");
}
