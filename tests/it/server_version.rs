//! One build everywhere: the `ServerVersionInfo` of an Autodiscover SOAP answer and of an EWS
//! answer name the same Exchange build, read from the live server as a client sees them.

use crate::harness::{curl, Server};

const ALICE: &str = "alice@example.test:demo-alice";

fn post_fixture(server: &Server, path: &str, fixture: &str) -> String {
    let reply = curl(&[
        "-u",
        ALICE,
        "-H",
        "Content-Type: text/xml; charset=utf-8",
        "--data-binary",
        &format!(
            "@{}/fixtures/{fixture}/request.xml",
            env!("CARGO_MANIFEST_DIR")
        ),
        &server.https_url(path),
    ]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.text()
}

/// The number in `<…:name>n</…:name>` (Autodiscover writes child elements).
fn element(text: &str, name: &str) -> u32 {
    let start = text.find(&format!("{name}>")).unwrap() + name.len() + 1;
    let end = start + text[start..].find('<').unwrap();
    text[start..end].parse().unwrap()
}

/// The number in `name="n"` (EWS writes attributes).
fn attribute(text: &str, name: &str) -> u32 {
    let start = text.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    let end = start + text[start..].find('"').unwrap();
    text[start..end].parse().unwrap()
}

#[test]
fn autodiscover_and_ews_report_the_same_build() {
    let server = Server::demo();
    let autodiscover = post_fixture(
        &server,
        "/autodiscover/autodiscover.svc",
        "autodiscover/ok/soap_single_user",
    );
    let ews = post_fixture(&server, "/EWS/Exchange.asmx", "ews/ok/create_folder");
    for name in [
        "MajorVersion",
        "MinorVersion",
        "MajorBuildNumber",
        "MinorBuildNumber",
    ] {
        assert_eq!(
            element(&autodiscover, name),
            attribute(&ews, name),
            "{name}\n--- autodiscover\n{autodiscover}\n--- ews\n{ews}"
        );
    }
    // And the dotted form Autodiscover hands out as CasVersion is that build too.
    let dotted = format!(
        "{}.{:02}.{:04}.{:03}",
        attribute(&ews, "MajorVersion"),
        attribute(&ews, "MinorVersion"),
        attribute(&ews, "MajorBuildNumber"),
        attribute(&ews, "MinorBuildNumber")
    );
    assert!(
        autodiscover.contains(&dotted),
        "{dotted} not in {autodiscover}"
    );
}
