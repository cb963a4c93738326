//! The subscriber-access load of `scripts/bench/access.sh`, in two steps around a real server.
//!
//! `seed DATA N AUDIO.ul SECONDS` writes a data directory before the server starts: the demo
//! dial plan, policy and gateway, N users (`user0000@example.test`, extensions from 2000, calling
//! line IDs +1425556NNNN, all with PIN 240517) and one unread voice message each, SECONDS long:
//! AUDIO.ul (raw µ-law) repeated and rotated by 100 ms per user, so every mailbox holds different
//! audio.
//!
//! `phones N AUDIO.ul SECONDS CALLS.csv` then plays the N callers' media ends: it binds N RTP
//! sockets on 127.0.0.1, writes sipp's injection file (caller ID and RTP port per call), and
//! once sipp (run by the script) places the calls, each phone logs in by caller ID (types the
//! PIN, `#`, then `1` for voice mail as RFC 4733 events), keeps every RTP packet it receives
//! with its arrival time, and ends three seconds after the server's stream stops. It reports how
//! many phones heard their whole message sample for sample, and the RTP pacing: the RFC 3550
//! interarrival jitter of each stream and the spread of packet gaps around 20 ms.
//!
//! Usage: `access_load seed DATA N AUDIO.ul SECONDS` | `access_load phones N AUDIO.ul SECONDS
//! CALLS.csv`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use tokio::net::UdpSocket;
use tokio::time::{timeout, Instant};

use umbox_base::clock::{Clock, SystemClock};
use umbox_base::directory::{Directory, DirectoryFile, Extension, Pin, User};
use umbox_media::g711::Law;
use umbox_media::wav;
use umbox_store::{self as store, MailStore, MailboxId, RedbStore};
use umbox_um::caller_id::Caller;
use umbox_um::delivery::{self, VoiceMessage};

const PIN: &str = "240517";
/// A phone hangs up its media end once the server has sent nothing for this long.
const QUIET_END: Duration = Duration::from_secs(3);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["seed", data, n, audio, seconds] => seed(
            Path::new(data),
            n.parse().unwrap(),
            Path::new(audio),
            seconds.parse().unwrap(),
        ),
        ["phones", n, audio, seconds, calls] => phones(
            n.parse().unwrap(),
            Path::new(audio),
            seconds.parse().unwrap(),
            Path::new(calls),
        ),
        _ => Err(
            "usage: access_load seed DATA N AUDIO.ul SECONDS | phones N AUDIO.ul SECONDS CALLS.csv"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("access_load: {error}");
            ExitCode::FAILURE
        }
    }
}

/// User `i`'s message: `audio` repeated to `seconds`, starting 100 ms further in per user.
fn message_of(audio: &[u8], seconds: usize, i: usize) -> Vec<u8> {
    let start = (i * 800) % audio.len();
    audio
        .iter()
        .cycle()
        .skip(start)
        .take(seconds * 8000)
        .copied()
        .collect()
}

fn number_of(i: usize) -> String {
    format!("+1425556{i:04}")
}

fn seed(data: &Path, n: usize, audio: &Path, seconds: usize) -> Result<(), String> {
    let audio = std::fs::read(audio).map_err(|e| e.to_string())?;
    let mut directory = Directory::demo().map_err(|e| e.to_string())?;
    // One hash for every user: argon2 per user would only slow the seeding down.
    let pin = Pin::new(PIN).map_err(|e| e.to_string())?;
    let template = directory.users[0].clone();
    directory.users = (0..n)
        .map(|i| User {
            address: format!("user{i:04}@example.test"),
            display_name: format!("User {i}"),
            sip_uri: None,
            extensions: vec![Extension {
                dial_plan: "default".into(),
                number: format!("{}", 2000 + i),
            }],
            line_uri: None,
            calling_line_ids: vec![number_of(i)],
            pin: Some(pin.clone()),
            ..template.clone()
        })
        .collect();
    DirectoryFile::in_data_dir(data)
        .update(move |d| {
            *d = directory.clone();
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    let store = RedbStore::open(data, store::Options::default()).map_err(|e| e.to_string())?;
    let directory = DirectoryFile::in_data_dir(data)
        .load()
        .map_err(|e| e.to_string())?;
    let now = SystemClock.now();
    for (i, user) in directory.users.iter().enumerate() {
        let mailbox = MailboxId::new(&user.address);
        store
            .ensure_mailbox(&mailbox, now)
            .map_err(|e| e.to_string())?;
        let message = VoiceMessage {
            caller: Caller {
                number: Some("+14255550102".into()),
                ..Caller::default()
            },
            duration: Duration::from_secs(seconds as u64),
            call_id: format!("seed-{i}"),
            wav: wav::write_g711(Law::Mu, &message_of(&audio, seconds, i))
                .map_err(|e| e.to_string())?,
            received: UNIX_EPOCH + Duration::from_secs(1_796_137_559),
            partial: false,
        };
        delivery::deliver(&store, user, message, now).map_err(|e| e.to_string())?;
    }
    println!("seeded {n} users with a {seconds} s message each");
    Ok(())
}

/// What one phone heard.
struct Heard {
    /// (sequence, arrival, payload) of each audio packet, in arrival order.
    packets: Vec<(u16, Instant, Vec<u8>)>,
}

fn rtp(sequence: u16, timestamp: u32, payload_type: u8, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x80, payload_type | if marker { 0x80 } else { 0 }];
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(&timestamp.to_be_bytes());
    packet.extend_from_slice(&0x5EED_0002u32.to_be_bytes());
    packet.extend_from_slice(payload);
    packet
}

async fn phone(socket: UdpSocket) -> Heard {
    let mut buffer = [0u8; 2048];
    let mut packets = Vec::with_capacity(8000);
    let mut pressed = false;
    loop {
        let wait = if packets.is_empty() {
            Duration::from_secs(300)
        } else {
            QUIET_END
        };
        let Ok(Ok((length, from))) = timeout(wait, socket.recv_from(&mut buffer)).await else {
            break;
        };
        let arrival = Instant::now();
        let datagram = &buffer[..length];
        if length < 12 || datagram[1] & 0x7F != 0 {
            continue;
        }
        let sequence = u16::from_be_bytes([datagram[2], datagram[3]]);
        packets.push((sequence, arrival, datagram[12..].to_vec()));
        if !pressed {
            pressed = true;
            // The PIN, `#`, then `1` for voice mail: typed at once, over the prompt.
            let keys = format!("{PIN}#1");
            let (mut sequence, mut timestamp) = (1u16, 8000u32);
            for key in keys.bytes() {
                let code = if key == b'#' { 11 } else { key - b'0' };
                let mut send = |payload: [u8; 4], marker| {
                    let packet = rtp(sequence, timestamp, 101, marker, &payload);
                    sequence = sequence.wrapping_add(1);
                    packet
                };
                let start = send([code, 10, 0, 160], true);
                socket.send_to(&start, from).await.unwrap();
                for _ in 0..3 {
                    let end = send([code, 0x80 | 10, 3, 32], false);
                    socket.send_to(&end, from).await.unwrap();
                }
                timestamp = timestamp.wrapping_add(800);
            }
        }
    }
    Heard { packets }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn phones(n: usize, audio: &Path, seconds: usize, calls: &Path) -> Result<(), String> {
    let audio = std::fs::read(audio).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let heard: Vec<Heard> = runtime.block_on(async {
        let mut sockets = Vec::with_capacity(n);
        let mut csv = String::from("SEQUENTIAL\n");
        for i in 0..n {
            let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let port = socket.local_addr().unwrap().port();
            csv.push_str(&format!("{};{port};\n", number_of(i)));
            sockets.push(socket);
        }
        std::fs::write(calls, csv).unwrap();
        println!(
            "phones ready: {n} RTP sockets; sipp injection file {}",
            calls.display()
        );
        let tasks: Vec<_> = sockets
            .into_iter()
            .map(|socket| tokio::spawn(phone(socket)))
            .collect();
        let mut heard = Vec::with_capacity(n);
        for task in tasks {
            heard.push(task.await.unwrap());
        }
        heard
    });

    let mut exact = 0;
    let mut jitters = Vec::with_capacity(n);
    let mut gaps = Vec::new();
    let mut packets = 0usize;
    for (i, phone) in heard.iter().enumerate() {
        let expected = message_of(&audio, seconds, i);
        let mut ordered: Vec<&(u16, Instant, Vec<u8>)> = phone.packets.iter().collect();
        // The first sequence number is random, so a call may wrap past 65535: order by the
        // distance from the first packet's (a call is far shorter than 65536 packets).
        let first = ordered.first().map_or(0, |(sequence, _, _)| *sequence);
        ordered.sort_by_key(|(sequence, _, _)| sequence.wrapping_sub(first));
        let stream: Vec<u8> = ordered
            .iter()
            .flat_map(|(_, _, payload)| payload.iter().copied())
            .collect();
        let probe = &expected[..160];
        let found = stream
            .windows(probe.len())
            .enumerate()
            .filter(|(_, window)| *window == probe)
            .any(|(at, _)| stream.get(at..at + expected.len()) == Some(&expected[..]));
        if found {
            exact += 1;
        }
        // RFC 3550 §6.4.1 interarrival jitter over the audio stream, in ms.
        let mut jitter = 0.0f64;
        for pair in phone.packets.windows(2) {
            let (s0, r0, _) = &pair[0];
            let (s1, r1, _) = &pair[1];
            let sent = f64::from(s1.wrapping_sub(*s0)) * 20.0;
            let arrived = r1.duration_since(*r0).as_secs_f64() * 1000.0;
            let d = (arrived - sent).abs();
            jitter += (d - jitter) / 16.0;
            if s1.wrapping_sub(*s0) == 1 {
                gaps.push((arrived - 20.0).abs());
            }
        }
        packets += phone.packets.len();
        jitters.push(jitter);
    }
    jitters.sort_by(f64::total_cmp);
    gaps.sort_by(f64::total_cmp);
    println!("phones: {n}; heard their whole {seconds} s message sample-exact: {exact}; RTP packets received: {packets}");
    println!(
        "RFC 3550 interarrival jitter per stream, ms: p50 {:.2}, p99 {:.2}, max {:.2}",
        percentile(&jitters, 0.5),
        percentile(&jitters, 0.99),
        jitters.last().copied().unwrap_or(0.0)
    );
    println!(
        "packet gap minus 20 ms, |ms|, over {} gaps: p50 {:.2}, p99 {:.2}, p99.9 {:.2}, max {:.2}",
        gaps.len(),
        percentile(&gaps, 0.5),
        percentile(&gaps, 0.99),
        percentile(&gaps, 0.999),
        gaps.last().copied().unwrap_or(0.0)
    );
    if exact == n {
        Ok(())
    } else {
        Err(format!(
            "{} phones did not hear their message exactly",
            n - exact
        ))
    }
}
