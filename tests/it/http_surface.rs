//! The HTTP edge as curl sees it: challenges, redirects, limits and bad input.

use crate::harness::{curl, Server};

const AUTODISCOVER_PATHS: [&str; 2] = [
    "/autodiscover/autodiscover.xml",
    "/autodiscover/autodiscover.svc",
];

#[test]
fn unauthenticated_get_is_challenged_with_soap_hint() {
    let server = Server::demo();
    for path in AUTODISCOVER_PATHS {
        let reply = curl(&[&server.https_url(path)]);
        assert_eq!(reply.status, 401, "{path}");
        assert_eq!(
            reply.header("X-SOAP-Enabled").as_deref(),
            Some("True"),
            "{path}"
        );
        assert_eq!(
            reply.header("WWW-Authenticate").as_deref(),
            Some("Basic realm=\"umbox\""),
            "{path}"
        );
    }
}

#[test]
fn wrong_password_unknown_user_and_malformed_credentials_are_401() {
    let server = Server::demo();
    let url = server.https_url("/autodiscover/autodiscover.xml");
    for credentials in [
        "alice@example.test:wrong",
        "nobody@example.test:demo-alice",
        "alice@example.test",
    ] {
        let reply = curl(&[
            "-u",
            credentials,
            "-X",
            "POST",
            "--data-binary",
            "<x/>",
            &url,
        ]);
        assert_eq!(reply.status, 401, "{credentials}");
    }
    let reply = curl(&[
        "-H",
        "Authorization: Basic !!!",
        "-X",
        "POST",
        "--data-binary",
        "<x/>",
        &url,
    ]);
    assert_eq!(reply.status, 401);
}

#[test]
fn repeated_wrong_passwords_lock_the_account_and_only_that_account() {
    let server = Server::demo();
    let url = server.https_url("/autodiscover/autodiscover.xml");
    let post = |credentials: &str| {
        curl(&[
            "-u",
            credentials,
            "-X",
            "POST",
            "--data-binary",
            "<x/>",
            &url,
        ])
        .status
    };
    // The account lockout threshold (http::auth::Limits::default): ten failures.
    for attempt in 0..10 {
        assert_eq!(post("bob@example.test:guess"), 401, "attempt {attempt}");
    }
    assert_eq!(
        post("bob@example.test:demo-bob"),
        401,
        "the right password is refused while the account is locked out"
    );
    // POX Autodiscover answers an authenticated "<x/>" with its own error document, not 401.
    assert_eq!(post("alice@example.test:demo-alice"), 200);
}

#[test]
fn plain_http_only_redirects_and_never_challenges() {
    let server = Server::demo();
    let https_port = server.https.port();
    for path in [
        "/autodiscover/autodiscover.xml",
        "/AutoDiscover/AutoDiscover.SVC",
    ] {
        let reply = curl(&[&format!("http://{}{path}", server.http)]);
        assert_eq!(reply.status, 302, "{path}");
        let location = reply.header("Location").unwrap();
        assert_eq!(
            location,
            format!(
                "https://mail.example.test:{https_port}{}",
                path.to_ascii_lowercase()
            )
        );
        assert_eq!(reply.header("WWW-Authenticate"), None);
    }
    let other = curl(&[&format!("http://{}/EWS/Exchange.asmx", server.http)]);
    assert_eq!(other.status, 404);
    assert_eq!(other.header("WWW-Authenticate"), None);
    let post = curl(&[
        "-X",
        "POST",
        "--data-binary",
        "<x/>",
        &format!("http://{}/autodiscover/autodiscover.xml", server.http),
    ]);
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow").as_deref(), Some("GET"));
}

#[test]
fn unknown_paths_methods_and_oversized_bodies() {
    let server = Server::demo();
    // Path confusion of the ProxyShell kind must not reach a handler.
    let confused = curl(&[
        "-u",
        "alice@example.test:demo-alice",
        &server.https_url("/autodiscover/autodiscover.json?@evil.test/mapi/nspi"),
    ]);
    assert_eq!(confused.status, 404);
    let put = curl(&[
        "-X",
        "PUT",
        "-u",
        "alice@example.test:demo-alice",
        &server.https_url("/autodiscover/autodiscover.xml"),
    ]);
    assert_eq!(put.status, 405);
    assert_eq!(put.header("Allow").as_deref(), Some("GET, POST"));

    let big = crate::harness::temp_dir("big").join("body.xml");
    std::fs::write(&big, vec![b'x'; 2 << 20]).unwrap();
    let too_large = curl(&[
        "-u",
        "alice@example.test:demo-alice",
        "-H",
        "Content-Type: text/xml",
        "--data-binary",
        &format!("@{}", big.display()),
        &server.https_url("/autodiscover/autodiscover.xml"),
    ]);
    assert_eq!(too_large.status, 413);
    // Still serving afterwards.
    assert_eq!(
        curl(&[&server.https_url("/autodiscover/autodiscover.xml")]).status,
        401
    );
}
