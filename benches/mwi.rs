//! Message-waiting benchmark, in one process: the server `umbox serve` runs (wired by
//! `server::Builder`) on loopback, and a gateway client on one UDP socket in the same runtime.
//!
//! `mwi SUBSCRIPTIONS MESSAGES RATE`: SUBSCRIPTIONS users, each subscribed once (message-summary,
//! Request-URI `sip:<address>`) by the gateway at 1 000 SUBSCRIBEs a second; once every
//! subscription has had its first NOTIFY and its record is stored, and the transactions of the
//! exchange have ended, prints the resident memory and live heap per subscription. Then a writer delivers MESSAGES voice
//! messages, one to each of that many users, RATE a second, through `MailStore::apply` (the one
//! write path), noting when each commit returned; the client notes when the NOTIFY saying "yes"
//! for that user arrives, and answers every NOTIFY with 200. Prints the commit → NOTIFY latency
//! (p50, p99, max) and how many were lost.
//!
//! Run by `scripts/bench/mwi.sh`; every wait is bounded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use umbox::server::{Builder, Options, Running};
use umbox_base::clock::{Clock, SystemClock};
use umbox_base::config::Overrides;
use umbox_base::directory::Directory;
use umbox_sip::types::{Method, StatusCode};
use umbox_sip::wire::grammar::Uri;
use umbox_sip::wire::prepass::HeaderName;
use umbox_sip::wire::{self, Framing, Message, ReadLimits, Writer};
use umbox_store::props::{tags, PropKey, PropValue};
use umbox_store::{Change, DistinguishedFolder, MailboxId};

/// The system allocator, counting the bytes currently allocated (live heap, which RSS cannot
/// show: the allocator keeps freed pages).
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

/// What the gateway client saw.
#[derive(Default)]
struct Seen {
    /// Users whose first NOTIFY arrived.
    first: std::collections::HashSet<usize>,
    /// When the NOTIFY saying "yes" arrived, per user.
    waiting: HashMap<usize, Instant>,
    /// Responses to our SUBSCRIBEs, by status code.
    responses: HashMap<u16, usize>,
    /// Users whose SUBSCRIBE was answered 200.
    answered: std::collections::HashSet<usize>,
}

fn user_of(call_id: &str) -> Option<usize> {
    call_id
        .strip_prefix("mwi-")?
        .split('@')
        .next()?
        .parse()
        .ok()
}

/// Receives everything, answers NOTIFYs with 200 and notes what they said.
async fn receive(socket: Arc<UdpSocket>, seen: Arc<Mutex<Seen>>) {
    let limits = ReadLimits {
        max_fields: 64,
        max_body: 4096,
    };
    let mut buffer = vec![0u8; 65_535];
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buffer).await else {
            continue;
        };
        let arrived = Instant::now();
        let request = match wire::parse(&buffer[..len], Framing::Datagram, limits) {
            Ok(Message::Request(request)) => request,
            Ok(Message::Response(response)) => {
                let code = response.status.code();
                let mut seen = seen.lock().unwrap();
                *seen.responses.entry(code).or_default() += 1;
                if let Some(user) = user_of(response.call_id.as_str()) {
                    if response.status == StatusCode::Ok {
                        seen.answered.insert(user);
                    }
                }
                continue;
            }
            Err(_) => continue,
        };
        if request.method != Method::Notify {
            continue;
        }
        let ok = wire::response(&request.echo, StatusCode::Ok, "OK", None, from).finish(None);
        let _ = socket.send_to(&ok, from).await;
        let Some(user) = user_of(request.call_id.as_str()) else {
            continue;
        };
        let yes = request
            .body
            .windows(b"Messages-Waiting: yes".len())
            .any(|w| w == b"Messages-Waiting: yes");
        let mut seen = seen.lock().unwrap();
        seen.first.insert(user);
        // A NOTIFY says the subscription exists, whatever became of the 200.
        seen.answered.insert(user);
        if yes {
            seen.waiting.entry(user).or_insert(arrived);
        }
    }
}

fn subscribe(user: usize, local: SocketAddr) -> bytes::Bytes {
    let uri = Uri::parse(&format!("sip:u{user}@example.test")).unwrap();
    Writer::request(&Method::Subscribe, &uri)
        .header(
            &HeaderName::Via,
            format_args!("SIP/2.0/UDP {local};branch=z9hG4bK-mwi-{user}"),
        )
        .header(&HeaderName::MaxForwards, 70)
        .header(
            &HeaderName::From,
            format_args!("<sip:gateway@{local}>;tag=gw{user}"),
        )
        .header(&HeaderName::To, format_args!("<sip:u{user}@example.test>"))
        .header(&HeaderName::CallId, format_args!("mwi-{user}@bench"))
        .header(&HeaderName::CSeq, "1 SUBSCRIBE")
        .header(&HeaderName::Contact, format_args!("<sip:gateway@{local}>"))
        .header(&HeaderName::Event, "message-summary")
        .header(&HeaderName::Expires, 3600)
        .finish(None)
}

fn wait_until(what: &str, limit: Duration, done: impl Fn() -> bool, state: impl Fn() -> String) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {}",
            state()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some("mwi") {
        eprintln!("usage: mwi SUBSCRIPTIONS MESSAGES RATE");
        return;
    }
    let number =
        |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let subscriptions = number(2, 10_000);
    let messages = number(3, 1_000).min(subscriptions);
    let rate = number(4, 100).max(1);

    let data = umbox_testkit::temp_dir("bench-mwi");
    let mut config = umbox_testkit::loopback_config(data.path());
    config.um.mwi_max_subscriptions = subscriptions.max(1) * 2;
    let mut directory = Directory::demo().unwrap();
    let alice = directory.users[0].clone();
    for n in 0..subscriptions {
        let mut user = alice.clone();
        user.address = format!("u{n}@example.test");
        user.extensions.clear();
        user.sip_uri = None;
        user.line_uri = None;
        user.calling_line_ids.clear();
        directory.users.push(user);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let options = Options {
        config,
        config_file: None,
        overrides: Overrides::default(),
    };
    let started = Instant::now();
    let running: Running = runtime
        .block_on(Builder::new(options).directory(directory).start())
        .unwrap();
    eprintln!(
        "server up with {subscriptions} users in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let store = running.store();
    let router = running.bound.sip_router;

    let socket = Arc::new(runtime.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap());
    let local = socket.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    runtime.spawn(receive(socket.clone(), seen.clone()));

    std::thread::sleep(Duration::from_secs(1));
    let rss_before = rss_kib();
    let live_before = live_bytes();
    let subscribing = Instant::now();
    runtime.block_on(async {
        let mut ticks = tokio::time::interval(Duration::from_millis(10));
        for user in 0..subscriptions {
            if user % 10 == 0 {
                ticks.tick().await;
            }
            let _ = socket.send_to(&subscribe(user, local), router).await;
        }
        // As a UA's timer E would: SUBSCRIBEs lost on the way (a full socket buffer) go again,
        // within the server transaction's 32 s, so a late one is a retransmission, not a new
        // subscription.
        for _ in 0..14 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let missing: Vec<usize> = {
                let seen = seen.lock().unwrap();
                (0..subscriptions)
                    .filter(|u| !seen.answered.contains(u))
                    .collect()
            };
            if missing.is_empty() {
                break;
            }
            for (i, user) in missing.into_iter().enumerate() {
                if i % 10 == 0 {
                    ticks.tick().await;
                }
                let _ = socket.send_to(&subscribe(user, local), router).await;
            }
        }
    });
    // SUBSCRIBEs go out at 1 000 a second; the answers may take a while longer on a loaded machine.
    let limit = Duration::from_secs(30 + subscriptions as u64 / 50);
    let first = || seen.lock().unwrap().first.len();
    let responses = || {
        let seen = seen.lock().unwrap();
        format!(
            "{} first NOTIFYs, responses {:?}",
            seen.first.len(),
            seen.responses
        )
    };
    wait_until(
        "first NOTIFYs",
        limit,
        || first() >= subscriptions,
        responses,
    );
    let stored = || {
        store
            .subscriptions()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with("sip-mwi:"))
            .count()
    };
    wait_until(
        "stored records",
        limit,
        || stored() >= subscriptions,
        || format!("{} stored", stored()),
    );
    eprintln!(
        "{subscriptions} subscriptions held, first NOTIFYs and records in {:.1} s",
        subscribing.elapsed().as_secs_f64()
    );
    // What is held, not what is passing: the SUBSCRIBE transactions linger 64·T1 (32 s) after
    // their 200 to absorb retransmissions, the NOTIFY ones T4 after their answer.
    std::thread::sleep(Duration::from_secs(35));
    let rss_after = rss_kib();
    let live_after = live_bytes();
    println!(
        "memory: RSS {rss_before} -> {rss_after} KiB = {:.0} bytes/subscription; live heap {:.0} bytes/subscription",
        (rss_after.saturating_sub(rss_before) * 1024) as f64 / subscriptions as f64,
        (live_after - live_before) as f64 / subscriptions as f64
    );

    // Users spread over the whole range, one message each.
    let stride = (subscriptions / messages).max(1);
    let targets: Vec<usize> = (0..messages).map(|k| k * stride).collect();
    let mut commits: HashMap<usize, Instant> = HashMap::new();
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let mut next = Instant::now();
    for &user in &targets {
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
        next += period;
        let mailbox = MailboxId::new(&format!("u{user}@example.test"));
        let inbox = store
            .distinguished_folder(&mailbox, DistinguishedFolder::Inbox)
            .unwrap();
        let change = Change::CreateItem {
            folder: inbox,
            props: vec![(
                PropKey::from(tags::MESSAGE_CLASS),
                PropValue::Unicode("IPM.Note.Microsoft.Voicemail.UM.CA".into()),
            )],
            attachments: vec![],
        };
        store.apply(&mailbox, change, SystemClock.now()).unwrap();
        commits.insert(user, Instant::now());
    }
    let arrived = || {
        let seen = seen.lock().unwrap();
        targets
            .iter()
            .filter(|u| seen.waiting.contains_key(u))
            .count()
    };
    let _ = std::panic::catch_unwind(|| {
        wait_until(
            "NOTIFYs after commits",
            Duration::from_secs(60),
            || arrived() >= targets.len(),
            || format!("{} arrived", arrived()),
        )
    });
    let seen = seen.lock().unwrap();
    let mut latencies: Vec<Duration> = targets
        .iter()
        .filter_map(|u| Some(seen.waiting.get(u)?.saturating_duration_since(commits[u])))
        .collect();
    latencies.sort();
    println!(
        "latency commit -> NOTIFY: {} messages at {rate}/s to {subscriptions} subscriptions: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, lost {}",
        targets.len(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        targets.len() - latencies.len()
    );
    drop(seen);
    runtime.block_on(running.shutdown());
}
