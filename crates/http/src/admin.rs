//! The operators' listener: `GET /healthz` (liveness and readiness: 200 `ok` while the server
//! takes work, 503 `draining` once it is stopping) and `GET /metrics` (every registered family in
//! the Prometheus text format). Plain HTTP without authentication, so it listens on an address of
//! its own, loopback unless the operator says otherwise; it never serves a mailbox surface.

use std::sync::Arc;

use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::{status_only, whole, Body};
use umbox_net::accept;

/// Whether the server takes new work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Serving.
    Serving,
    /// Stopping: calls and requests in progress finish, new ones are refused.
    Draining,
}

/// The Prometheus text exposition format's content type.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A handful of scrapers and probes, never clients.
const LIMITS: accept::Limits = accept::Limits {
    connections: 64,
    per_source: 16,
};

/// Serves `/healthz` and `/metrics` on `listener` until the task is dropped.
pub async fn serve_admin(
    listener: TcpListener,
    registry: Arc<Registry>,
    health: watch::Receiver<Health>,
) {
    crate::serve_plain(listener, LIMITS, move |request| {
        answer(request, &registry, *health.borrow())
    })
    .await;
}

fn answer<B>(request: &Request<B>, registry: &Registry, health: Health) -> Response<Body> {
    if request.method() != Method::GET {
        let mut response = status_only(StatusCode::METHOD_NOT_ALLOWED);
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    match request.uri().path() {
        "/healthz" => {
            let (status, text) = match health {
                Health::Serving => (StatusCode::OK, "ok\n"),
                Health::Draining => (StatusCode::SERVICE_UNAVAILABLE, "draining\n"),
            };
            text_response(status, "text/plain; charset=utf-8", text.to_owned())
        }
        "/metrics" => {
            let mut text = String::new();
            match prometheus_client::encoding::prometheus_text::encode(&mut text, registry) {
                Ok(()) => text_response(StatusCode::OK, METRICS_CONTENT_TYPE, text),
                Err(error) => {
                    tracing::error!(%error, "metrics could not be encoded");
                    status_only(StatusCode::INTERNAL_SERVER_ERROR)
                }
            }
        }
        _ => status_only(StatusCode::NOT_FOUND),
    }
}

fn text_response(status: StatusCode, content_type: &'static str, text: String) -> Response<Body> {
    let mut response = Response::new(whole(Bytes::from(text)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{HttpMetrics, Surface};
    use http_body_util::BodyExt;
    use std::time::Duration;

    async fn text(response: Response<Body>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn get(path: &str) -> Request<()> {
        Request::get(path).body(()).unwrap()
    }

    #[tokio::test]
    async fn health_follows_the_state_and_metrics_list_the_registered_families() {
        let mut registry = Registry::default();
        let metrics = HttpMetrics::register(&mut registry);
        metrics.request(Surface::Ews, 200, Duration::from_millis(3));
        let healthy = answer(&get("/healthz"), &registry, Health::Serving);
        assert_eq!(healthy.status(), StatusCode::OK);
        let draining = answer(&get("/healthz"), &registry, Health::Draining);
        assert_eq!(draining.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(text(draining).await, "draining\n");
        let scraped = answer(&get("/metrics"), &registry, Health::Serving);
        assert_eq!(
            scraped.headers()[header::CONTENT_TYPE],
            METRICS_CONTENT_TYPE
        );
        let body = text(scraped).await;
        assert!(
            body.contains("umbox_http_requests_total{surface=\"ews\",status=\"200\"} 1"),
            "{body}"
        );
        assert!(
            body.contains("umbox_http_request_duration_seconds_bucket{"),
            "{body}"
        );
        assert_eq!(
            answer(&get("/other"), &registry, Health::Serving).status(),
            StatusCode::NOT_FOUND
        );
        let post = Request::post("/metrics").body(()).unwrap();
        assert_eq!(
            answer(&post, &registry, Health::Serving).status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
