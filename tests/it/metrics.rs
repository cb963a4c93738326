//! The operators' listener as a monitoring system sees it: `/healthz` with curl, and `/metrics`
//! scraped and parsed by the Prometheus project's own client library (Python `prometheus_client`).

use std::process::Command;

use crate::harness::{curl, exchangelib_python, Server};
use crate::voicemail_calls::{counts, ews};

/// Every sample of a scrape: (name, labels as sorted `k=v` joined by commas, value).
pub(crate) fn scrape(server: &Server) -> Vec<(String, String, f64)> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/prometheus/scrape.py"
    );
    let output = Command::new(exchangelib_python())
        .arg(script)
        .arg(format!("http://{}/metrics", server.admin))
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .map(|line| {
            let mut parts = line.split('\t');
            let name = parts.next().unwrap().to_owned();
            let labels = parts.next().unwrap().to_owned();
            let value = parts.next().unwrap().parse().unwrap();
            (name, labels, value)
        })
        .collect()
}

pub(crate) fn sample(samples: &[(String, String, f64)], name: &str, labels: &str) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| n == name && l == labels)
        .map(|(_, _, v)| *v)
}

#[test]
fn health_answers_and_a_prometheus_client_parses_the_request_counts() {
    let server = Server::demo();
    let health = curl(&[&format!("http://{}/healthz", server.admin)]);
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));

    counts(&server, ("alice@example.test", "demo-alice"), "inbox");
    ews(
        &server,
        ("alice@example.test", "demo-alice"),
        r#"<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes><t:Timeout>10</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>"#,
    );
    let refused = curl(&[
        "-u",
        "alice@example.test:wrong",
        "-X",
        "POST",
        "--data-binary",
        "<x/>",
        &server.https_url("/EWS/Exchange.asmx"),
    ]);
    assert_eq!(refused.status, 401);

    let samples = scrape(&server);
    assert_eq!(
        sample(
            &samples,
            "umbox_ews_requests_total",
            "fault=none,operation=GetFolder"
        ),
        Some(1.0),
        "{samples:?}"
    );
    assert_eq!(
        sample(
            &samples,
            "umbox_ews_request_duration_seconds_count",
            "operation=GetFolder"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &samples,
            "umbox_http_requests_total",
            "status=200,surface=ews"
        ),
        Some(2.0),
        "GetFolder and Subscribe"
    );
    assert_eq!(
        sample(
            &samples,
            "umbox_http_requests_total",
            "status=401,surface=ews"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&samples, "umbox_auth_failures_total", "reason=rejected"),
        Some(1.0)
    );
    assert_eq!(
        sample(&samples, "umbox_notification_subscriptions", "kind=pull"),
        Some(1.0)
    );
    // Creating the demo mailboxes and storing the subscription are commits.
    let commits = sample(&samples, "umbox_store_commits_total", "").unwrap();
    assert!(commits >= 2.0, "{commits}");
    assert_eq!(
        sample(&samples, "umbox_store_commit_duration_seconds_count", ""),
        Some(commits)
    );
    // The allocator's own figures, read at the scrape (glibc: the machines the tests run on).
    let in_use = sample(&samples, "umbox_heap_in_use_bytes", "").unwrap();
    let held = sample(&samples, "umbox_heap_held_bytes", "").unwrap();
    assert!(
        in_use > 0.0 && held >= in_use,
        "in use {in_use}, held {held}"
    );
}
