//! ews-javascript-api (npm), unmodified, against SOAP Autodiscover: GetUserSettings for the caller and
//! for an address it may not see, and GetDomainSettings.

use std::path::Path;
use std::process::Command;

use crate::harness::Server;

/// Runs `tests/interop/ews-js/<script>` with node; `scripts/test` installs its node_modules.
pub fn run_node(script: &str, env: &[(&str, String)]) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/ews-js");
    assert!(
        dir.join("node_modules/ews-javascript-api").exists(),
        "ews-javascript-api is not installed: run scripts/test (it runs npm ci in {})",
        dir.display()
    );
    let mut command = Command::new("node");
    command.arg(dir.join(script)).current_dir(&dir);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command
        .output()
        .expect("node is installed (apt-get install nodejs)");
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn autodiscover_service_get_user_and_domain_settings() {
    let server = Server::demo();
    let out = run_node(
        "autodiscover.js",
        &[
            (
                "UMBOX_AUTODISCOVER_URL",
                server.https_url("/autodiscover/autodiscover.svc"),
            ),
            ("UMBOX_USER", "alice@example.test".into()),
            ("UMBOX_PASSWORD", "demo-alice".into()),
            ("UMBOX_OTHER", "bob@example.test".into()),
        ],
    );
    let ews_url = format!(
        "https://mail.example.test:{}/EWS/Exchange.asmx",
        server.https.port()
    );
    let expect = |needle: &str| assert!(out.contains(needle), "{needle} not in {out}");
    // The caller's own settings, as the client parsed them.
    expect(r#"{"errorCode":"NoError","settings":{"#);
    expect(r#""UserDisplayName":"Alice Anders""#);
    expect(r#""AutoDiscoverSMTPAddress":"alice@example.test""#);
    expect(&format!(r#""ExternalEwsUrl":"{ews_url}""#));
    expect(&format!(r#""InternalEwsUrl":"{ews_url}""#));
    expect("Exchange2016");
    // Bob's address is hidden from Alice exactly like an unknown one.
    expect(r#"{"errorCode":"InvalidUser","settings":{}"#);
    // Domain settings.
    expect(&format!(
        r#""domains":[{{"errorCode":"NoError","settings":{{"ExternalEwsUrl":"{ews_url}""#
    ));
}

#[test]
fn ews_core_flow_from_node() {
    let server = Server::demo();
    let out = run_node(
        "ews_core.js",
        &[
            ("UMBOX_EWS_URL", server.https_url("/EWS/Exchange.asmx")),
            ("UMBOX_USER", "alice@example.test".into()),
            ("UMBOX_PASSWORD", "demo-alice".into()),
        ],
    );
    let expect = |needle: &str| assert!(out.contains(needle), "{needle} not in {out}");
    expect(r#""inbox":{"name":"Inbox","total":0,"unread":0}"#);
    expect(r#""voiceMail":{"name":"Voice Mail","total":0,"unread":0}"#);
    expect(r#""conversationHistory":{"name":"Conversation History","total":0}"#);
    expect(r#""Conversation History""#);
    expect(r#""found":["Hello from ews-javascript-api"]"#);
    expect(r#""bound":{"subject":"Hello from ews-javascript-api""#);
    expect(r#""afterRead":{"total":1,"unread":0}"#);
    expect(r#""afterDelete":{"total":0,"unread":0}"#);
}
