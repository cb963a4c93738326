//! exchangelib (PyPI), unmodified, against the real binary: pull, push and streaming subscriptions
//! on the inbox, the voicemail folder and Conversation History, while a second exchangelib client
//! changes the mailbox over EWS (`tests/interop/exchangelib/test_notify.py`). The push listener
//! is the script's own HTTPS server on loopback, using the certificate umbox generated for itself,
//! so the server runs with `allow_private_push_targets` and `push_accept_invalid_certificates`;
//! when the listener answers Unsubscribe, the server ends the subscription, which its log shows.

use crate::harness::{run_exchangelib, temp_dir, Server};

#[test]
fn pull_push_and_streaming_with_exchangelib() {
    let dir = temp_dir("notify-config");
    let config = dir.join("umbox.toml");
    std::fs::write(
        &config,
        "domains = [\"example.test\"]\n[notifications]\nallow_private_push_targets = true\npush_accept_invalid_certificates = true\n",
    )
    .unwrap();
    let server = Server::demo_with_config(crate::harness::temp_dir("data"), config);
    let stdout = run_exchangelib(
        &server,
        "test_notify.py",
        &[
            ("UMBOX_PUSH_CERT", &server.data.join("tls/cert.pem")),
            ("UMBOX_PUSH_KEY", &server.data.join("tls/key.pem")),
        ],
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
