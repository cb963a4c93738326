//! Autodiscover over HTTPS from the binary, as curl sees it, every body checked with xmllint
//! against our schemas; and the directory followed without a restart.

use crate::harness::{assert_valid, curl, Server};

const ALICE: &str = "alice@example.test:demo-alice";

fn fixture(case: &str) -> String {
    format!(
        "@{}/fixtures/autodiscover/{case}/request.xml",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn post(server: &Server, credentials: &str, path: &str, body: &str) -> crate::harness::Reply {
    curl(&[
        "-u",
        credentials,
        "-H",
        "Content-Type: text/xml; charset=utf-8",
        "--data-binary",
        body,
        &server.https_url(path),
    ])
}

#[test]
fn pox_and_soap_answers_validate_and_carry_the_public_urls() {
    let server = Server::demo();
    let ews = format!(
        "<EwsUrl>https://mail.example.test:{}/EWS/Exchange.asmx</EwsUrl>",
        server.https.port()
    );

    let pox = post(
        &server,
        ALICE,
        "/autodiscover/autodiscover.xml",
        &fixture("ok/pox_settings_alice"),
    );
    assert_eq!(pox.status, 200);
    assert!(pox.text().contains(&ews), "{}", pox.text());
    assert!(pox.text().contains("<UMUrl>"), "{}", pox.text());
    assert_valid(&pox.body, "autodiscover-pox.xsd");

    let soap = post(
        &server,
        ALICE,
        "/autodiscover/autodiscover.svc",
        &fixture("ok/soap_two_users_one_unknown"),
    );
    assert_eq!(soap.status, 200);
    assert!(soap.text().contains("InvalidUser"), "{}", soap.text());
    assert_valid(&soap.body, "autodiscover-soap.xsd");

    // Bob may not look alice up: the answer is the unknown-address one.
    let bob = post(
        &server,
        "bob@example.test:demo-bob",
        "/autodiscover/autodiscover.xml",
        &fixture("ok/pox_settings_alice"),
    );
    assert!(
        bob.text().contains("<ErrorCode>500</ErrorCode>"),
        "{}",
        bob.text()
    );
    assert_valid(&bob.body, "autodiscover-pox.xsd");
}

#[test]
fn bad_xml_gets_protocol_errors_and_the_server_keeps_serving() {
    let server = Server::demo();
    let doctype = post(
        &server,
        ALICE,
        "/autodiscover/autodiscover.xml",
        &fixture("err/pox_doctype_600"),
    );
    assert_eq!(doctype.status, 200);
    assert!(
        doctype.text().contains("<ErrorCode>600</ErrorCode>"),
        "{}",
        doctype.text()
    );
    assert_valid(&doctype.body, "autodiscover-pox.xsd");
    let garbage = post(
        &server,
        ALICE,
        "/autodiscover/autodiscover.svc",
        "<<not xml",
    );
    assert_eq!(garbage.status, 500);
    assert!(garbage.text().contains("Fault"), "{}", garbage.text());
    assert_valid(&garbage.body, "autodiscover-soap.xsd");
    let get = curl(&[
        "-u",
        ALICE,
        &server.https_url("/autodiscover/autodiscover.xml"),
    ]);
    assert!(
        get.text().contains("<ErrorCode>600</ErrorCode>"),
        "{}",
        get.text()
    );
    let ok = post(
        &server,
        ALICE,
        "/autodiscover/autodiscover.xml",
        &fixture("ok/pox_settings_alice"),
    );
    assert_eq!(ok.status, 200);
}

#[test]
fn a_user_added_by_the_cli_is_served_without_restart() {
    let server = Server::demo();
    let (ok, _, err) = server.admin(&[
        "user",
        "add",
        "carol@example.test",
        "--name",
        "Carol",
        "--password",
        "pw-carol",
        "--extension",
        "1003",
    ]);
    assert!(ok, "{err}");
    server.wait_for_log("reloaded directory and configuration");
    let body = std::fs::read_to_string(format!(
        "{}/fixtures/autodiscover/ok/pox_settings_alice/request.xml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("alice@example.test", "carol@example.test");
    let reply = post(
        &server,
        "carol@example.test:pw-carol",
        "/autodiscover/autodiscover.xml",
        &body,
    );
    assert_eq!(reply.status, 200);
    assert!(
        reply.text().contains("<DisplayName>Carol</DisplayName>"),
        "{}",
        reply.text()
    );
    assert_valid(&reply.body, "autodiscover-pox.xsd");
}
