//! Micro-benchmarks of the media path: G.711 throughput, the per-packet receive path (reorder
//! buffer into recorder), SDP offer/answer, and a call's memory and allocations.
//!
//! `cargo bench --bench media` runs the full measurement and prints one line per figure; results go
//! to `docs/perf-media.md`. Under `cargo test --all-targets` (no `--bench` argument) it runs every
//! case once with tiny counts, as a smoke test. A counting global allocator measures heap use:
//! live bytes and the number of allocations between two points.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use umbox_media::g711::Law;
use umbox_media::jitter::JitterBuffer;
use umbox_media::negotiate::{Answerer, LocalMedia};
use umbox_media::ports::PortPool;
use umbox_media::prompts::Prompts;
use umbox_media::recorder::Recorder;
use umbox_media::rtp::StreamIds;
use umbox_media::{negotiate, start_call, CallPhase, CallPlan, Greeting, SessionContext};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.load(Ordering::Relaxed)
}

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

const OFFER: &str =
    "v=0\r\no=- 1185 2143 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
    m=audio 10366 RTP/AVP 9 0 8 101\r\nb=AS:64\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n\
    a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n\
    a=ptime:20\r\n";

fn report(name: &str, iterations: u64, elapsed: Duration, unit: &str, per_iteration: f64) {
    let seconds = elapsed.as_secs_f64();
    let rate = iterations as f64 * per_iteration / seconds;
    println!(
        "{name:<40} {:>10.1} ns/iter  {:>12.1} M{unit}/s",
        seconds * 1e9 / iterations as f64,
        rate / 1e6
    );
}

fn g711(packets: u64) {
    let codes: Vec<u8> = (0..160u32).map(|i| (i * 37 % 256) as u8).collect();
    let samples: Vec<i16> = (0..160i32)
        .map(|i| ((i * 7919) % 65536 - 32768) as i16)
        .collect();
    let mut decoded = [0i16; 160];
    let mut encoded = [0u8; 160];
    for law in [Law::Mu, Law::A] {
        let start = Instant::now();
        for _ in 0..packets {
            law.decode(black_box(&codes), &mut decoded);
            black_box(&decoded);
        }
        report(
            &format!("g711 {law:?} decode (160-sample packet)"),
            packets,
            start.elapsed(),
            "samples",
            160.0,
        );
        let start = Instant::now();
        for _ in 0..packets {
            law.encode(black_box(&samples), &mut encoded);
            black_box(&encoded);
        }
        report(
            &format!("g711 {law:?} encode (160-sample packet)"),
            packets,
            start.elapsed(),
            "samples",
            160.0,
        );
    }
    let start = Instant::now();
    for _ in 0..packets {
        Law::A.transcode(Law::Mu, black_box(&codes), &mut encoded);
        black_box(&encoded);
    }
    report(
        "g711 mu->A transcode (160-sample packet)",
        packets,
        start.elapsed(),
        "samples",
        160.0,
    );
}

/// The receive path of a recording: reorder buffer, recorder, silence detection; with one packet
/// in eight swapped with its neighbour.
fn receive_path(packets: u64) {
    let payload: Vec<u8> = (0..160u32).map(|i| (i * 37 % 256) as u8).collect();
    let mut jitter = JitterBuffer::new();
    let mut recorder = Recorder::new(Law::Mu, Duration::from_millis(packets * 20 + 20), -40.0);
    let before = allocations();
    let start = Instant::now();
    let mut n = 0u64;
    while n < packets {
        let order: &[u64] = if n % 8 == 4 && n + 1 < packets {
            &[1, 0]
        } else {
            &[0]
        };
        for offset in order {
            let k = n + offset;
            jitter.push_audio(7, k as u16, (k * 160) as u32, &payload, &mut recorder);
        }
        n += order.len() as u64;
    }
    jitter.flush(&mut recorder);
    let elapsed = start.elapsed();
    let allocated = allocations() - before;
    report(
        "receive: jitter + recorder (per packet)",
        packets,
        elapsed,
        "packets",
        1.0,
    );
    println!(
        "{:<40} {allocated} allocations for {packets} packets",
        "receive: allocations"
    );
    assert_eq!(
        allocated, 0,
        "the receive path must not allocate per packet"
    );
    assert_eq!(jitter.stats().released, packets);
}

fn sdp(iterations: u64) {
    let local = LocalMedia {
        address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        rtp_port: 40000,
        rtcp_port: 40001,
        session_id: 1,
    };
    let start = Instant::now();
    for _ in 0..iterations {
        let mut answerer = Answerer::new(local);
        black_box(answerer.answer(black_box(OFFER.as_bytes())).ok());
    }
    report(
        "sdp parse + answer (baresip offer)",
        iterations,
        start.elapsed(),
        "offers",
        1.0,
    );
}

/// A call's heap: after negotiate and start (greeting playing), and once recording with a given
/// maximum length; then allocations while 500 packets are received and 500 sent.
fn per_call_memory() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let prompts = Arc::new(Prompts::embedded().unwrap());
        let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let pool = PortPool::ephemeral(localhost);
        let caller = tokio::net::UdpSocket::bind((localhost, 0)).await.unwrap();
        let offer = OFFER.replace("10366", &caller.local_addr().unwrap().port().to_string());
        let ids = StreamIds {
            ssrc: 1,
            first_sequence: 1,
            first_timestamp: 1,
        };
        let max_message = Duration::from_secs(60);

        let base = live();
        let (negotiated, answer) = negotiate(offer.as_bytes(), localhost, &pool).unwrap();
        let plan = CallPlan {
            max_message,
            ..CallPlan::new(Greeting::System(
                umbox_media::dtmf::Extension::parse("1001").unwrap(),
            ))
        };
        let context = SessionContext { prompts, ids };
        let (handle, task) = start_call(negotiated, context, plan).unwrap();
        let started = live() - base;
        let mut phases = handle.phase();
        // Drain the greeting the session sends while it plays.
        let drain = async {
            let mut buffer = [0u8; 2048];
            loop {
                let _ = caller.recv_from(&mut buffer).await;
            }
        };
        tokio::select! {
            _ = phases.wait_for(|p| *p == CallPhase::Recording) => {}
            () = drain => {}
        }
        let recording = live() - base;

        let answer = umbox_media::sdp::SessionDescription::parse(&answer).unwrap();
        let server = std::net::SocketAddr::new(localhost, answer.media[0].port);
        let payload = [0x55u8; 160];
        let mut packet = [0u8; 172];
        let mut buffer = [0u8; 2048];
        let before = allocations();
        for n in 0..500u16 {
            let length = rtp_rs::RtpPacketBuilder::new()
                .payload_type(0)
                .sequence(rtp_rs::Seq::from(n))
                .timestamp(u32::from(n) * 160)
                .ssrc(9)
                .payload(&payload)
                .build_into(&mut packet)
                .unwrap();
            caller.send_to(&packet[..length], server).await.unwrap();
            // One packet back per 20 ms slot.
            let _ = caller.recv_from(&mut buffer).await.unwrap();
        }
        let steady = allocations() - before;
        handle.hangup();
        let result = task.await.unwrap();
        println!(
            "{:<40} {started} bytes",
            "call: heap after negotiate + start"
        );
        println!(
            "{:<40} {recording} bytes (of which {} reserved for a {} s recording)",
            "call: heap while recording",
            max_message.as_secs() * 8000,
            max_message.as_secs()
        );
        println!(
            "{:<40} {steady} allocations for 500 packets in, 500 out",
            "call: steady-state allocations"
        );
        assert_eq!(result.audio.len(), 500 * 160);
    });
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` does not, and gets a quick smoke run.
    let measuring = std::env::args().any(|a| a == "--bench");
    let (g711_packets, received_packets, offers) = if measuring {
        (2_000_000, 150_000, 200_000)
    } else {
        (100, 100, 10)
    };
    g711(g711_packets);
    receive_path(received_packets);
    sdp(offers);
    per_call_memory();
}
