//! exchangelib (PyPI), unmodified, against the real binary: pull, push and streaming subscriptions
//! on the inbox, the voicemail folder and Conversation History, while a second exchangelib client
//! changes the mailbox over EWS (`tests/interop/exchangelib/test_notify.py`). The push listener
//! is the script's own HTTPS server on loopback, using the certificate umbox generated for itself,
//! so the server runs with `allow_private_push_targets` and `push_accept_invalid_certificates`;
//! when the listener answers Unsubscribe, the server ends the subscription, which its log shows.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{temp_dir, Server};

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
    let dir = temp_dir("notify-config");
    let config = dir.join("umbox.toml");
    std::fs::write(
        &config,
        "domains = [\"example.test\"]\n[notifications]\nallow_private_push_targets = true\npush_accept_invalid_certificates = true\n",
    )
    .unwrap();
    let server = Server::demo_with_config(config);
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/exchangelib/test_notify.py");
    let out = Command::new(python())
        .arg(script)
        .env("UMBOX_EWS_URL", server.https_url("/EWS/Exchange.asmx"))
        .env("UMBOX_USER", "alice@example.test")
        .env("UMBOX_PASSWORD", "demo-alice")
        .env("UMBOX_PUSH_CERT", server.data.join("tls/cert.pem"))
        .env("UMBOX_PUSH_KEY", server.data.join("tls/key.pem"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "test_notify.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checks: Vec<&str> = stdout.lines().filter(|l| l.starts_with("ok ")).collect();
    assert_eq!(checks.last(), Some(&"ok all"), "{stdout}");
    assert!(checks.len() >= 15, "{stdout}");
    assert!(checks.contains(&"ok push over https: new mail"), "{stdout}");
    // The Unsubscribe answer ended the push subscription on the server.
    let id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("push subscription "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let line = server.wait_for_log("push subscription ended");
    assert!(
        line.contains(&id) && line.contains("client unsubscribed"),
        "{line}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
