//! HTTP and HTTPS listeners and the one request funnel every HTTP surface goes through.
//!
//! [`serve_https`] accepts TLS connections and hands each request to one function that opens the
//! request span, applies the size cap, authenticates (Basic, TLS only) and routes by exact,
//! case-insensitive path to a surface (`autodiscover`, `ews`, and the EWS user photo GET, whose
//! query string only that surface reads). [`serve_redirect`] is the plain-HTTP
//! listener: it only answers the Autodiscover redirect step and never asks for credentials.
//! Responses are whole documents, except GetStreamingEvents, whose envelopes are sent as chunks
//! one at a time, each produced only when the connection can take it. A connection whose writes
//! make no progress for [`WRITE_STALL_TIMEOUT`] is dropped, so a client that stops reading holds
//! no buffers for long. [`client`] is the outgoing side (push notifications).
//! This module never parses a surface's XML and holds no business rule beyond "who is asking".

pub mod admin;
pub mod auth;
pub mod client;
pub mod metrics;
pub mod throttle;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{debug, field, Instrument};

use crate::metrics::{Refusal, Surface};

use umbox_autodiscover as autodiscover;
use umbox_base::clock::Clock;
use umbox_base::config::Site;
use umbox_base::directory::Directory;
use umbox_ews::{self as ews, ids::IdCodec, photo::PhotoStore, EventStream};
use umbox_net::accept;
use umbox_notify::Hub;
use umbox_store::MailStore;

/// How long a client may take to finish the TLS handshake or send request headers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request body once its headers are in.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection whose writes make no progress for this long is closed: its client stopped reading.
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Every response body: a whole document, or a stream of envelopes.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

fn whole(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// What every request sees: the directory and site as of the last reload.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Users, dial plans, gateways.
    pub directory: Arc<Directory>,
    /// Public host, ports and domains.
    pub site: Arc<Site>,
}

/// Shared state of the HTTPS listener.
pub struct Services {
    snapshot: watch::Receiver<Arc<Snapshot>>,
    auth: auth::Authenticator,
    max_body_bytes: usize,
    clock: Arc<dyn Clock>,
    store: Arc<dyn MailStore>,
    ids: IdCodec,
    photos: PhotoStore,
    ews_limits: ews::Limits,
    /// Per-user EWS concurrency (EWSMaxConcurrency), keyed by lower-cased address.
    ews_slots: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
    notify: Hub,
    write_stall_timeout: Duration,
    connections: accept::Limits,
    metrics: metrics::HttpMetrics,
    next_request_id: AtomicU64,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl Services {
    /// One of `address`'s EWS request slots, or `None` when all are taken.
    fn ews_slot(&self, address: &str) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let semaphore = {
            let mut slots = self.ews_slots.lock().ok()?;
            slots
                .entry(address.to_ascii_lowercase())
                .or_insert_with(|| {
                    Arc::new(tokio::sync::Semaphore::new(
                        self.ews_limits.concurrent_requests_per_user,
                    ))
                })
                .clone()
        };
        semaphore.try_acquire_owned().ok()
    }

    /// State for [`serve_https`]; `snapshot` follows directory and config reloads.
    pub fn new(
        snapshot: watch::Receiver<Arc<Snapshot>>,
        max_body_bytes: usize,
        clock: Arc<dyn Clock>,
        store: Arc<dyn MailStore>,
        ids: IdCodec,
        photos: PhotoStore,
        notify: Hub,
    ) -> Services {
        Services {
            snapshot,
            auth: auth::Authenticator::default(),
            max_body_bytes,
            clock,
            store,
            ids,
            photos,
            ews_limits: ews::Limits::default(),
            ews_slots: std::sync::Mutex::default(),
            notify,
            write_stall_timeout: WRITE_STALL_TIMEOUT,
            connections: accept::Limits::default(),
            metrics: metrics::HttpMetrics::default(),
            next_request_id: AtomicU64::new(1),
        }
    }

    /// Counts requests in `metrics` (families registered in the server's registry).
    pub fn with_metrics(mut self, metrics: metrics::HttpMetrics) -> Services {
        self.metrics = metrics;
        self
    }

    /// Drops connections whose writes stall for `limit` instead of [`WRITE_STALL_TIMEOUT`]
    /// (tests that watch a non-reading client being dropped).
    pub fn with_write_stall_timeout(mut self, limit: Duration) -> Services {
        self.write_stall_timeout = limit;
        self
    }
}

/// The HTTP surfaces, by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    /// POX Autodiscover (MS-OXDISCO).
    AutodiscoverXml,
    /// SOAP Autodiscover (MS-OXDSCLI).
    AutodiscoverSvc,
    /// Exchange Web Services.
    Ews,
    /// EWS user photos (`GET …/s/GetUserPhoto?email=…&size=…`, Exchange 2013 and later).
    UserPhoto,
}

impl Endpoint {
    /// Exact path match, ignoring ASCII case as IIS does; the query string never selects a
    /// handler (the ProxyShell lesson).
    fn from_path(path: &str) -> Option<Endpoint> {
        [
            Endpoint::AutodiscoverXml,
            Endpoint::AutodiscoverSvc,
            Endpoint::Ews,
            Endpoint::UserPhoto,
        ]
        .into_iter()
        .find(|e| e.canonical_path().eq_ignore_ascii_case(path))
    }

    fn canonical_path(self) -> &'static str {
        match self {
            Endpoint::AutodiscoverXml => "/autodiscover/autodiscover.xml",
            Endpoint::AutodiscoverSvc => "/autodiscover/autodiscover.svc",
            Endpoint::Ews => "/EWS/Exchange.asmx",
            Endpoint::UserPhoto => "/EWS/Exchange.asmx/s/GetUserPhoto",
        }
    }

    fn is_autodiscover(self) -> bool {
        matches!(self, Endpoint::AutodiscoverXml | Endpoint::AutodiscoverSvc)
    }

    fn surface(self) -> Surface {
        match self {
            Endpoint::AutodiscoverXml => Surface::AutodiscoverXml,
            Endpoint::AutodiscoverSvc => Surface::AutodiscoverSvc,
            Endpoint::Ews => Surface::Ews,
            Endpoint::UserPhoto => Surface::UserPhoto,
        }
    }
}

/// Serves HTTPS on `listener` until the task is dropped; each connection is its own task, so a
/// failing connection never affects another.
pub async fn serve_https(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    services: Arc<Services>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let limits = services.connections;
    accept::serve(listener, limits, move |tcp, peer| {
        // Responses go out whole (see `writev(false)` below); Nagle would only delay them.
        if let Err(error) = tcp.set_nodelay(true) {
            debug!(%peer, %error, "cannot disable Nagle");
        }
        let acceptor = acceptor.clone();
        let services = services.clone();
        let stall = services.write_stall_timeout;
        async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => return debug!(%peer, %error, "tls handshake failed"),
                Err(_) => return debug!(%peer, "tls handshake timed out"),
            };
            let service = service_fn(move |request| handle(request, peer, services.clone()));
            let result = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HANDSHAKE_TIMEOUT)
                // Head and body in one buffer: over TLS that is one record and one write per
                // response instead of two.
                .writev(false)
                .serve_connection(TokioIo::new(StallGuard::new(stream, stall)), service)
                .await;
            if let Err(error) = result {
                debug!(%peer, %error, "connection ended with an error");
            }
        }
    })
    .await;
}

/// The funnel: one span, one summary line, one routing decision per request. Both are at debug
/// level: formatting a span per request at info costs measurable throughput.
async fn handle(
    request: Request<Incoming>,
    peer: SocketAddr,
    services: Arc<Services>,
) -> Result<Response<Body>, Infallible> {
    let id = services.next_request_id.fetch_add(1, Ordering::Relaxed);
    let span = tracing::debug_span!(
        "http",
        req_id = id,
        method = %request.method(),
        path = %request.uri().path(),
        %peer,
        user = field::Empty,
    );
    let started = Instant::now();
    let endpoint = Endpoint::from_path(request.uri().path());
    let surface = endpoint.map_or(Surface::Unknown, Endpoint::surface);
    let response = match endpoint {
        Some(endpoint) => {
            route(request, endpoint, peer.ip(), &services)
                .instrument(span.clone())
                .await
        }
        None => status_only(StatusCode::NOT_FOUND),
    };
    services
        .metrics
        .request(surface, response.status().as_u16(), started.elapsed());
    span.in_scope(|| {
        debug!(
            status = response.status().as_u16(),
            micros = started.elapsed().as_micros() as u64,
            "done"
        );
    });
    Ok(response)
}

async fn route(
    request: Request<Incoming>,
    endpoint: Endpoint,
    peer: IpAddr,
    services: &Services,
) -> Response<Body> {
    let method = request.method().clone();
    if method != Method::GET && method != Method::POST {
        let mut response = status_only(StatusCode::METHOD_NOT_ALLOWED);
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
        return response;
    }
    let snapshot = services.snapshot.borrow().clone();
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    let user = match services
        .auth
        .authenticate(authorization, peer, &snapshot.directory)
        .await
    {
        Ok(user) => user,
        Err(error) => {
            debug!(%error, "unauthenticated");
            if let Some(reason) = refusal(error) {
                services.metrics.refused(reason);
            }
            return refused(error, endpoint.is_autodiscover());
        }
    };
    tracing::Span::current().record("user", user.address.as_str());

    if endpoint == Endpoint::UserPhoto {
        return photo_reply(services, snapshot, &request).await;
    }
    let body = if method == Method::GET {
        match endpoint {
            // A GET carries no request; the POX handler answers it with its "invalid request" error.
            Endpoint::AutodiscoverXml => Bytes::new(),
            Endpoint::AutodiscoverSvc | Endpoint::Ews | Endpoint::UserPhoto => {
                let mut response = status_only(StatusCode::METHOD_NOT_ALLOWED);
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
                return response;
            }
        }
    } else {
        match read_body(request, services.max_body_bytes).await {
            Ok(body) => body,
            Err(status) => return status_only(status),
        }
    };

    match endpoint {
        Endpoint::Ews => return ews_reply(services, snapshot, user, body).await,
        Endpoint::UserPhoto => return status_only(StatusCode::METHOD_NOT_ALLOWED),
        Endpoint::AutodiscoverXml | Endpoint::AutodiscoverSvc => {}
    }
    let request = autodiscover::Request {
        body: &body,
        caller: &user,
        directory: &snapshot.directory,
        site: &snapshot.site,
        now: services.clock.now(),
    };
    // Only the two Autodiscover endpoints get here (EWS and photos returned above).
    let reply = if endpoint == Endpoint::AutodiscoverXml {
        autodiscover::pox(&request)
    } else {
        autodiscover::soap(&request)
    };
    let mut response = Response::new(whole(reply.body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(reply.content_type),
    );
    response
}

/// Runs an EWS request on the blocking pool (the store blocks).
async fn ews_reply(
    services: &Services,
    snapshot: Arc<Snapshot>,
    user: umbox_base::directory::User,
    body: Bytes,
) -> Response<Body> {
    // The slot covers producing the answer; a streaming answer's envelopes that follow are paced
    // by the notification limits, not by this one.
    let started = Instant::now();
    let Some(_slot) = services.ews_slot(&user.address) else {
        return ews_response(ews::server_busy(), services, started);
    };
    let store = services.store.clone();
    let ids = services.ids.clone();
    let notify = services.notify.clone();
    let limits = services.ews_limits;
    let now = services.clock.now();
    let span = tracing::Span::current();
    let reply = tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let ctx = ews::Context {
            caller: &user,
            directory: &snapshot.directory,
            site: &snapshot.site,
            store: store.as_ref(),
            ids: &ids,
            now,
            limits,
            notify: &notify,
        };
        ews::handle(&body, ctx)
    })
    .await;
    match reply {
        Ok(reply) => ews_response(reply, services, started),
        Err(error) => {
            tracing::error!(%error, "ews task failed");
            status_only(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

fn ews_response(reply: ews::Reply, services: &Services, started: Instant) -> Response<Body> {
    let operation = reply.operation.unwrap_or("unknown");
    services
        .metrics
        .ews(operation, reply.fault, started.elapsed());
    let body = match reply.stream {
        Some(stream) => StreamingBody::new(Bytes::from(reply.body), stream).boxed_unsync(),
        None => whole(reply.body),
    };
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(ews::CONTENT_TYPE),
    );
    response
}

/// Answers a user photo GET on the blocking pool (it reads a file); any other method is 405.
async fn photo_reply(
    services: &Services,
    snapshot: Arc<Snapshot>,
    request: &Request<Incoming>,
) -> Response<Body> {
    if request.method() != Method::GET {
        let mut response = status_only(StatusCode::METHOD_NOT_ALLOWED);
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    let photos = services.photos.clone();
    let query = request.uri().query().map(str::to_owned);
    let if_none_match = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let reply = tokio::task::spawn_blocking(move || {
        ews::photo::get_user_photo(
            &photos,
            &snapshot.directory,
            query.as_deref(),
            if_none_match.as_deref(),
        )
    })
    .await;
    let reply = match reply {
        Ok(reply) => reply,
        Err(error) => {
            tracing::error!(%error, "photo task failed");
            return status_only(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    let mut response = Response::new(whole(reply.body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    if let Some(content_type) = reply.content_type {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    if let Some(etag) = reply.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        headers.insert(header::ETAG, etag);
        // Photos are per user and behind authentication: no shared cache may keep them.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    }
    response
}

/// Reads the body, refusing more than `limit` bytes with 413 before buffering them, and a body
/// that takes longer than [`BODY_READ_TIMEOUT`] with 408 (slow bodies would otherwise hold
/// their buffers and connection slots indefinitely).
async fn read_body(request: Request<Incoming>, limit: usize) -> Result<Bytes, StatusCode> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(StatusCode::PAYLOAD_TOO_LARGE);
    }
    let collect = Limited::new(request.into_body(), limit).collect();
    match tokio::time::timeout(BODY_READ_TIMEOUT, collect).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => {
            Err(StatusCode::PAYLOAD_TOO_LARGE)
        }
        Ok(Err(_)) => Err(StatusCode::BAD_REQUEST),
        Err(_) => Err(StatusCode::REQUEST_TIMEOUT),
    }
}

/// What a failed authentication counts as; `None` for a request that offered no credentials
/// (every client's first request, answered with the challenge).
fn refusal(error: auth::AuthError) -> Option<Refusal> {
    match error {
        auth::AuthError::Missing => None,
        auth::AuthError::Malformed => Some(Refusal::Malformed),
        auth::AuthError::Rejected => Some(Refusal::Rejected),
        auth::AuthError::Throttled { .. } => Some(Refusal::Throttled),
        auth::AuthError::Busy => Some(Refusal::Busy),
    }
}

/// The answer to a request that did not authenticate: 429 or 503 with Retry-After when the
/// checks are throttled or busy (the client should come back, not re-prompt), else 401.
fn refused(error: auth::AuthError, autodiscover: bool) -> Response<Body> {
    let (status, retry_after) = match error {
        auth::AuthError::Throttled { retry_after } => {
            (StatusCode::TOO_MANY_REQUESTS, retry_after.as_secs().max(1))
        }
        auth::AuthError::Busy => (StatusCode::SERVICE_UNAVAILABLE, 1),
        auth::AuthError::Missing | auth::AuthError::Malformed | auth::AuthError::Rejected => {
            return unauthorized(autodiscover)
        }
    };
    let mut response = status_only(status);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

/// 401 with a Basic challenge; on Autodiscover also the headers that tell the EWS Managed API
/// family to use SOAP Autodiscover.
fn unauthorized(autodiscover: bool) -> Response<Body> {
    let mut response = status_only(StatusCode::UNAUTHORIZED);
    let headers = response.headers_mut();
    headers.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"umbox\""),
    );
    if autodiscover {
        headers.insert("X-SOAP-Enabled", HeaderValue::from_static("True"));
        headers.insert("X-WSSecurity-Enabled", HeaderValue::from_static("False"));
        headers.insert("X-OAuth-Enabled", HeaderValue::from_static("False"));
    }
    response
}

fn status_only(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(whole(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// Serves plain HTTP on `listener`: a GET of an Autodiscover path is redirected (302) to the same
/// path on the public HTTPS URL; everything else is 404 or 405. No credentials are ever asked for here.
pub async fn serve_redirect(listener: TcpListener, snapshot: watch::Receiver<Arc<Snapshot>>) {
    serve_plain(listener, accept::Limits::default(), move |request| {
        let site = snapshot.borrow().site.clone();
        redirect(request, &site)
    })
    .await;
}

/// Serves plain HTTP/1.1 on `listener` within `limits`, answering every request with `answer`,
/// a function of the request alone (the redirect and the admin listener).
async fn serve_plain<F>(listener: TcpListener, limits: accept::Limits, answer: F)
where
    F: Fn(&Request<Incoming>) -> Response<Body> + Clone + Send + Sync + 'static,
{
    accept::serve(listener, limits, move |tcp, peer| {
        let answer = answer.clone();
        async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let response = answer(&request);
                async move { Ok::<_, Infallible>(response) }
            });
            let result = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HANDSHAKE_TIMEOUT)
                .serve_connection(TokioIo::new(tcp), service)
                .await;
            if let Err(error) = result {
                debug!(%peer, %error, "connection ended with an error");
            }
        }
    })
    .await;
}

fn redirect(request: &Request<Incoming>, site: &Site) -> Response<Body> {
    // Only the Autodiscover step redirects; EWS and photo URLs come from Autodiscover as https.
    let Some(endpoint) = Endpoint::from_path(request.uri().path()).filter(|e| e.is_autodiscover())
    else {
        return status_only(StatusCode::NOT_FOUND);
    };
    if request.method() != Method::GET {
        let mut response = status_only(StatusCode::METHOD_NOT_ALLOWED);
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    let location = format!("{}{}", site.https_base(), endpoint.canonical_path());
    match HeaderValue::from_str(&location) {
        Ok(value) => {
            let mut response = status_only(StatusCode::FOUND);
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        Err(_) => status_only(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// The next envelope of a stream, with the stream to continue from.
type NextEnvelope = Pin<Box<dyn Future<Output = Option<(Bytes, EventStream)>> + Send>>;

fn next_envelope(mut stream: EventStream) -> NextEnvelope {
    Box::pin(async move {
        let chunk = stream.next_chunk().await?;
        Some((Bytes::from(chunk), stream))
    })
}

/// A chunked body of whole envelopes, each its own chunk. hyper polls it only when it can write,
/// so at most one envelope is in flight per connection; dropping it (the client went away) ends
/// the stream and releases its subscriptions.
struct StreamingBody {
    first: Option<Bytes>,
    next: Option<NextEnvelope>,
}

impl StreamingBody {
    fn new(first: Bytes, stream: EventStream) -> StreamingBody {
        StreamingBody {
            first: (!first.is_empty()).then_some(first),
            next: Some(next_envelope(stream)),
        }
    }
}

impl hyper::body::Body for StreamingBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        let Some(next) = self.next.as_mut() else {
            return Poll::Ready(None);
        };
        match next.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                self.next = None;
                Poll::Ready(None)
            }
            Poll::Ready(Some((chunk, stream))) => {
                self.next = Some(next_envelope(stream));
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
        }
    }
}

/// A connection's IO whose writes fail once they have made no progress for `limit`, so a client
/// that stops reading loses its connection instead of holding it (and hyper's buffers) forever.
struct StallGuard<T> {
    inner: T,
    limit: Duration,
    stalled_since: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> StallGuard<T> {
    fn new(inner: T, limit: Duration) -> StallGuard<T> {
        StallGuard {
            inner,
            limit,
            stalled_since: None,
        }
    }

    /// Tracks a pending write: arms the timer, and fails once it has run out.
    fn pending<R>(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<R>> {
        let limit = self.limit;
        let timer = self
            .stalled_since
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for StallGuard<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for StallGuard<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(result) => {
                self.stalled_since = None;
                Poll::Ready(result)
            }
            Poll::Pending => self.pending(cx),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(result) => {
                self.stalled_since = None;
                Poll::Ready(result)
            }
            Poll::Pending => self.pending(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => {
                self.stalled_since = None;
                Poll::Ready(result)
            }
            Poll::Pending => self.pending(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// A peer that never reads: the write fails after the stall limit instead of waiting forever.
    #[tokio::test(start_paused = true)]
    async fn a_stalled_write_fails_after_the_limit() {
        let (near, _far) = tokio::io::duplex(64);
        let mut guarded = StallGuard::new(near, Duration::from_secs(60));
        let started = tokio::time::Instant::now();
        let error = guarded.write_all(&[0u8; 4096]).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(60));
    }

    #[test]
    fn a_user_over_the_ews_concurrency_limit_is_told_to_back_off() {
        let scratch = umbox_testkit::temp_dir("http-slots");
        let dir = scratch.path();
        let store = umbox_store::RedbStore::open(dir, umbox_store::Options::default()).unwrap();
        let site = umbox_base::config::Site {
            domains: vec!["example.test".into()],
            public_host: "mail.example.test".into(),
            https_port: 443,
            sip_port: 5060,
            sips_port: 5061,
            addresses: Vec::new(),
        };
        let snapshot = Arc::new(Snapshot {
            directory: Arc::new(Directory::default()),
            site: Arc::new(site),
        });
        let (_tx, rx) = watch::channel(snapshot);
        let notify = Hub::open(
            Arc::new(store.clone()),
            umbox_base::config::Notifications::default(),
            Arc::new(umbox_base::clock::SystemClock),
            Arc::new(umbox_notify::RandomIds::default()),
        )
        .unwrap();
        let services = Services::new(
            rx,
            1 << 20,
            Arc::new(umbox_base::clock::SystemClock),
            Arc::new(store),
            IdCodec::from_key(b"k"),
            PhotoStore::in_data_dir(dir),
            notify,
        );
        let limit = services.ews_limits.concurrent_requests_per_user;
        let held: Vec<_> = (0..limit)
            .map(|_| services.ews_slot("Alice@example.test").unwrap())
            .collect();
        assert!(services.ews_slot("alice@example.test").is_none());
        assert!(services.ews_slot("bob@example.test").is_some());
        drop(held);
        assert!(services.ews_slot("alice@example.test").is_some());
        let busy = ews::server_busy();
        let text = String::from_utf8(busy.body).unwrap();
        assert_eq!(busy.status, 500);
        assert!(
            text.contains("ErrorServerBusy") && text.contains("BackOffMilliseconds"),
            "{text}"
        );
    }

    #[test]
    fn paths_match_exactly_ignoring_case() {
        assert_eq!(
            Endpoint::from_path("/AutoDiscover/AutoDiscover.xml"),
            Some(Endpoint::AutodiscoverXml)
        );
        assert_eq!(
            Endpoint::from_path("/autodiscover/autodiscover.svc"),
            Some(Endpoint::AutodiscoverSvc)
        );
        assert_eq!(
            Endpoint::from_path("/ews/exchange.asmx/s/getuserphoto"),
            Some(Endpoint::UserPhoto)
        );
        for path in [
            "/autodiscover/autodiscover.json",
            "/autodiscover/autodiscover.xml/x",
            "/",
            "/autodiscover",
            "/EWS/Exchange.asmx/s/GetUserPhoto/x",
            "/EWS/Exchange.asmx/s",
        ] {
            assert_eq!(Endpoint::from_path(path), None, "{path}");
        }
    }
}
