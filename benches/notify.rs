//! Notification benchmarks, in one process: umbox's HTTPS surface on loopback with real TLS
//! clients (hyper + rustls) in the same runtime.
//!
//! `latency SUBSCRIPTIONS [SECONDS] [COMMITS_PER_SECOND]`: users of 200 streaming subscriptions each
//! (NewMail on their inbox), one streaming connection per user; a writer delivers a message to one
//! user's inbox after another through `MailStore::apply`; every subscription's client records when
//! the NewMailEvent arrives. Prints the commit→arrival latency (p50, p99, max) over all
//! (message, subscription) pairs, how many were lost, and the resident memory per subscription and
//! per subscription with its share of an open connection.
//!
//! `pull SUBSCRIPTIONS [SECONDS] [CLIENTS]`: that many pull subscriptions of alice; CLIENTS
//! keep-alive connections call GetEvents round-robin over them for SECONDS. Prints requests/s.
//!
//! Run by `scripts/bench/notify.sh`; durations are bounded by the arguments.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use umbox::server::{Builder, Options, Running};
use umbox_base::clock::{Clock, SystemClock};
use umbox_base::config::{Notifications, Overrides};
use umbox_base::directory::Directory;
use umbox_notify::{parse_watermark, EventType, Filter, Folders, Hub, NewKind, NewSubscription};
use umbox_store::props::{tags, PropKey, PropValue};
use umbox_store::{Change, DistinguishedFolder, Event, MailStore, MailboxId, Seq};

const PER_USER: usize = 200;
const PASSWORD: &str = "demo-alice";

/// The system allocator, counting the bytes currently allocated: the memory figures are live heap
/// bytes, which RSS cannot show (the allocator keeps freed pages, e.g. argon2's 19 MiB per login).
struct Counting;

static LIVE: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        LIVE.fetch_sub(layout.size() as i64, std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live_bytes() -> i64 {
    LIVE.load(std::sync::atomic::Ordering::Relaxed)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

struct Server {
    runtime: tokio::runtime::Runtime,
    running: Option<Running>,
    store: Arc<dyn MailStore>,
    hub: Hub,
    https: std::net::SocketAddr,
    users: Vec<String>,
    /// The data directory, removed when the server is dropped.
    _data: umbox_testkit::TempDir,
}

impl Server {
    /// Serves `users` users (alice's password) with limits raised for the load: the server
    /// `umbox serve` runs, wired by the same builder.
    fn start(users: usize) -> Server {
        let data = umbox_testkit::temp_dir("bench-notify");
        let mut config = umbox_testkit::loopback_config(data.path());
        config.notifications = Notifications {
            max_subscriptions_per_user: 1_000_000,
            max_connections_per_user: 10_000,
            ..Notifications::default()
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut directory = Directory::demo().unwrap();
        let alice = directory.users[0].clone();
        let mut names = Vec::new();
        for n in 0..users {
            let mut user = alice.clone();
            user.address = format!("u{n}@example.test");
            user.extensions.clear();
            user.sip_uri = None;
            names.push(user.address.clone());
            directory.users.push(user);
        }
        let options = Options {
            config,
            config_file: None,
            overrides: Overrides::default(),
        };
        let running = runtime
            .block_on(Builder::new(options).directory(directory).start())
            .unwrap();
        Server {
            https: running.bound.https,
            store: running.store(),
            hub: running.hub().clone(),
            running: Some(running),
            runtime,
            users: names,
            _data: data,
        }
    }

    fn subscribe(&self, user: &str, kind: NewKind) -> (String, Seq) {
        let request = NewSubscription {
            caller: MailboxId::new(user),
            mailbox: MailboxId::new(user),
            filter: Filter {
                folders: Folders::Only(vec![self
                    .store
                    .distinguished_folder(&MailboxId::new(user), DistinguishedFolder::Inbox)
                    .unwrap()]),
                types: [EventType::NewMail].into_iter().collect(),
            },
            watermark: None,
            kind,
        };
        let made = self.hub.subscribe(request, SystemClock.now()).unwrap();
        (made.id.to_string(), made.watermark)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            self.runtime.block_on(running.shutdown());
        }
    }
}

/// Any certificate (the server's is self-signed); signatures are still checked.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn connector() -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(tls: &tokio_rustls::TlsConnector, address: std::net::SocketAddr) -> Sender {
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let stream = tls
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

fn post(user: &str, body: String) -> Request<Full<Bytes>> {
    use base64::Engine;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{PASSWORD}"));
    Request::builder()
        .method(Method::POST)
        .uri("/EWS/Exchange.asmx")
        .header("Host", "127.0.0.1")
        .header("Authorization", format!("Basic {credentials}"))
        .header("Content-Type", "text/xml; charset=utf-8")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn envelope(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion Version="Exchange2013"/></s:Header><s:Body>{body}</s:Body></s:Envelope>"#
    )
}

/// The sequence numbers of the NewMailEvents in one streamed envelope.
fn new_mail_seqs(envelope: &str) -> Vec<Seq> {
    const START: &str = "<t:NewMailEvent><t:Watermark>";
    envelope
        .match_indices(START)
        .filter_map(|(at, _)| {
            let rest = &envelope[at + START.len()..];
            let end = rest.find('<')?;
            parse_watermark(&rest[..end]).ok()
        })
        .collect()
}

type Arrivals = Arc<Mutex<Vec<(usize, Seq, Instant)>>>;

fn latency(subscriptions: usize, seconds: u64, rate: u64) {
    let users = subscriptions.div_ceil(PER_USER);
    let server = Server::start(users);
    let before = live_bytes();
    let mut ids: Vec<Vec<String>> = Vec::new();
    for user in &server.users {
        ids.push(
            (0..PER_USER)
                .map(|_| server.subscribe(user, NewKind::Streaming).0)
                .collect(),
        );
    }
    let subscribed = live_bytes();
    let arrivals: Arrivals = Arc::new(Mutex::new(Vec::new()));
    let tls = connector();
    for (index, user) in server.users.iter().enumerate() {
        let body = envelope(&format!(
            "<m:GetStreamingEvents><m:SubscriptionIds>{}</m:SubscriptionIds><m:ConnectionTimeout>30</m:ConnectionTimeout></m:GetStreamingEvents>",
            ids[index].iter().map(|id| format!("<t:SubscriptionId>{id}</t:SubscriptionId>")).collect::<String>()
        ));
        let (tls, address, user, arrivals) =
            (tls.clone(), server.https, user.clone(), arrivals.clone());
        server.runtime.spawn(async move {
            let mut sender = connect(&tls, address).await;
            let response = sender.send_request(post(&user, body)).await.unwrap();
            let mut body = response.into_body();
            let mut pending = String::new();
            while let Some(Ok(frame)) = body.frame().await {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                let now = Instant::now();
                pending.push_str(&String::from_utf8_lossy(&data));
                while let Some(end) = pending.find("</Envelope>") {
                    let whole: String = pending.drain(..end + "</Envelope>".len()).collect();
                    let seqs = new_mail_seqs(&whole);
                    let mut arrivals = arrivals.lock().unwrap();
                    arrivals.extend(seqs.into_iter().map(|seq| (index, seq, now)));
                }
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.hub.connection_count() < users {
        assert!(Instant::now() < deadline, "connections did not open");
        std::thread::sleep(Duration::from_millis(50));
    }
    let connected = live_bytes();

    // The writer: one message at a time, paced at `rate` per second.
    let mut commits: HashMap<(usize, Seq), Instant> = HashMap::new();
    let interval = Duration::from_micros(1_000_000 / rate.max(1));
    let started = Instant::now();
    let mut n = 0usize;
    while started.elapsed() < Duration::from_secs(seconds) {
        let index = n % users;
        let mailbox = MailboxId::new(&server.users[index]);
        let inbox = server
            .store
            .distinguished_folder(&mailbox, DistinguishedFolder::Inbox)
            .unwrap();
        let change = Change::CreateItem {
            folder: inbox,
            props: vec![(
                PropKey::from(tags::MESSAGE_CLASS),
                PropValue::Unicode("IPM.Note".into()),
            )],
            attachments: vec![],
        };
        let committed = server
            .store
            .apply(&mailbox, change, SystemClock.now())
            .unwrap();
        let at = Instant::now();
        for logged in committed.events {
            if let Event::NewMail { .. } = logged.event {
                commits.insert((index, logged.seq), at);
            }
        }
        n += 1;
        let next = started + interval * n as u32;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    // Let the last notifications arrive.
    let expected = commits.len() * PER_USER;
    let deadline = Instant::now() + Duration::from_secs(30);
    while arrivals.lock().unwrap().len() < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let arrivals = arrivals.lock().unwrap().clone();
    let mut latencies: Vec<Duration> = arrivals
        .iter()
        .filter_map(|(index, seq, at)| {
            Some(at.saturating_duration_since(*commits.get(&(*index, *seq))?))
        })
        .collect();
    latencies.sort();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let per_sub = |bytes: i64| bytes as f64 / (users * PER_USER) as f64;
    println!(
        "streaming subscriptions={} users/connections={} messages={} samples={} lost={} p50_ms={:.1} p99_ms={:.1} max_ms={:.1} heap_bytes_per_subscription={:.0} heap_bytes_per_connection_both_ends={:.0} rss_mib={:.1}",
        users * PER_USER,
        users,
        commits.len(),
        latencies.len(),
        expected.saturating_sub(latencies.len()),
        ms(pick(0.50)),
        ms(pick(0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
        per_sub(subscribed - before),
        (connected - subscribed) as f64 / users as f64,
        rss_kib() as f64 / 1024.0,
    );
}

fn pull(subscriptions: usize, seconds: u64, clients: usize) {
    let server = Server::start(1);
    let user = "alice@example.test";
    let subs: Arc<Vec<(String, Seq)>> = Arc::new(
        (0..subscriptions)
            .map(|_| {
                server.subscribe(
                    user,
                    NewKind::Pull {
                        timeout: Duration::from_secs(1440 * 60),
                    },
                )
            })
            .collect(),
    );
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(seconds);
    let tls = connector();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (tls, address, subs, done) = (tls.clone(), server.https, subs.clone(), done.clone());
            server.runtime.spawn(async move {
                let mut sender = connect(&tls, address).await;
                let mut i = c;
                while Instant::now() < stop {
                    let (id, mark) = &subs[i % subs.len()];
                    let body = envelope(&format!(
                        "<m:GetEvents><m:SubscriptionId>{id}</m:SubscriptionId><m:Watermark>{}</m:Watermark></m:GetEvents>",
                        umbox_notify::watermark(*mark)
                    ));
                    sender.ready().await.unwrap();
                    let response = sender.send_request(post(user, body)).await.unwrap();
                    assert_eq!(response.status(), 200);
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    assert!(body.windows(11).any(|w| w == b"StatusEvent"));
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    i += clients;
                }
            })
        })
        .collect();
    let started = Instant::now();
    for task in tasks {
        server.runtime.block_on(task).unwrap();
    }
    let requests = done.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "pull subscriptions={subscriptions} clients={clients} seconds={:.1} requests={requests} requests_per_second={:.0} rss_mib={:.1}",
        started.elapsed().as_secs_f64(),
        requests as f64 / started.elapsed().as_secs_f64(),
        rss_kib() as f64 / 1024.0
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let number =
        |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("latency") => latency(number(1, 1000) as usize, number(2, 20), number(3, 20)),
        Some("pull") => pull(number(1, 1000) as usize, number(2, 10), number(3, 16) as usize),
        _ => eprintln!("usage: notify latency SUBSCRIPTIONS [SECONDS] [RATE] | notify pull SUBSCRIPTIONS [SECONDS] [CLIENTS]"),
    }
}
