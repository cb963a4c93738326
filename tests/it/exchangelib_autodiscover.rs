//! exchangelib (PyPI), unmodified, discovers alice's EWS endpoint from her address alone — SRV and
//! A records from umbox's own DNS zone, SOAP Autodiscover over HTTPS — then reads the folder tree
//! and the voicemail and conversation history counts. All inside a network namespace of the test's
//! own, where umbox can own ports 443, 80 and 53 and be the resolver.

use crate::harness::{exchangelib_python, NetNs, Server};

#[test]
fn discovers_ews_from_the_address_alone_and_lists_folders() {
    let netns = NetNs::new();
    let _server = Server::demo_in_netns(&netns);
    let script = format!(
        "{}/tests/interop/exchangelib/test_autodiscover.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = netns
        .command(&exchangelib_python().to_string_lossy())
        .arg(script)
        .env("UMBOX_USER", "alice@example.test")
        .env("UMBOX_PASSWORD", "demo-alice")
        .env(
            "UMBOX_EWS_URL",
            "https://mail.example.test/EWS/Exchange.asmx",
        )
        .env("PYTHONWARNINGS", "ignore")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exchangelib failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expect = |needle: &str| assert!(stdout.contains(needle), "{needle} not in {stdout}");
    expect(r#""endpoint": "https://mail.example.test/EWS/Exchange.asmx""#);
    expect(r#""version": "Exchange2016""#);
    expect(r#""voice_mail": {"name": "Voice Mail", "total": 0, "unread": 0}"#);
    expect(r#""conversation_history": {"name": "Conversation History", "total": 0, "unread": 0}"#);
}
