//! Soak: runs `umbox serve --demo` under steady mixed load for a given time and checks that its
//! memory stays flat and nothing is lost. Reported in docs/RELIABILITY.md.
//!
//! The load, all at once until SECONDS have passed:
//! - calls: sipp as the gateway deposits voice messages for alice (extension 1001 forwarded to
//!   pilot 1999, following the router's 302 to the media server; `voicemail_bye.xml`: 5.26 s of
//!   speech after a 0.3 s greeting) at `CALL_RATE` new calls a second, at most `CALLS_AT_ONCE`
//!   at once;
//! - EWS: `EWS_CLIENTS` clients for each of alice and bob (curl) creating messages in the Inbox,
//!   reading each back (GetItem), marking it read (UpdateItem), deleting every third
//!   (DeleteItem) and paging through the Inbox now and then (FindItem), each remembering what
//!   the server acknowledged;
//! - streaming subscriptions: one client each for alice and bob holding GetStreamingEvents on
//!   Inbox and voicemail, reconnecting when a connection's one-minute timeout ends it, taking a
//!   new subscription every `RESUBSCRIBE_EVERY` connections (and whenever the server no longer
//!   knows the old one), counting the events.
//!
//! Every `SAMPLE_EVERY` the server's VmRSS, thread count and open descriptors go to
//! `DATA_DIR/soak.csv`. At the end the load stops, the server is stopped gracefully (SIGINT)
//! and the store it leaves is opened and checked: every deposit sipp saw complete is a voice
//! message in alice's voicemail folder (and how many hold exactly the audio sent), every
//! acknowledged EWS item is in its Inbox exactly once unless its deletion was acknowledged,
//! then it is gone, and `MailStore::verify` is clean for both mailboxes. Memory: the samples
//! after the warm-up (the first quarter of the run: the store's 64 MiB page cache fills with what
//! the clients write during the first eight minutes or so) must all lie within ±10% of their mean.
//!
//! Usage: `cargo run --release --example soak -- SECONDS [DATA_DIR]` (umbox built with
//! `cargo build --release`; sipp and curl installed; DATA_DIR must not exist yet, and is kept).
//! Exits non-zero when anything was lost or memory was not flat, saying which.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod support;

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use umbox_store::props::{tags, PropValue};
use umbox_store::{self as store, DistinguishedFolder, MailStore, MailboxId, RedbStore};

use support::{
    attribute, between, deposits, ews, metric, release_binary, voice_messages, with_short_greeting,
    Server,
};

const USERS: [(&str, &str); 2] = [
    ("alice@example.test", "demo-alice"),
    ("bob@example.test", "demo-bob"),
];
const CALL_RATE: u32 = 2;
const CALLS_AT_ONCE: u32 = 25;
/// sipp's RTP port: away from the 6000 sipp takes by default, which the test suite's sipp runs
/// use, so a soak beside a test run neither takes their port nor loses its own.
const MEDIA_PORT: &str = "16000";
const EWS_CLIENTS: usize = 2;
/// Each EWS client's pause between two items, so the load is steady rather than flat out.
const EWS_PAUSE: Duration = Duration::from_millis(250);
const RESUBSCRIBE_EVERY: u32 = 10;
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
const TOLERANCE: f64 = 0.10;
/// What sipp streams in `voicemail_bye.xml`.
const MESSAGE: &[u8] = include_bytes!("../tests/interop/audio/message.ul");

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("soak: {error}");
            ExitCode::FAILURE
        }
    }
}

/// What the server acknowledged about one EWS item.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Fate {
    Created,
    Deleted,
    /// The deletion got no clear answer: either state is right.
    DeletionUnanswered,
}

/// Counters every client adds to.
#[derive(Default)]
struct Counts {
    created: AtomicU64,
    read: AtomicU64,
    marked: AtomicU64,
    deleted: AtomicU64,
    found: AtomicU64,
    ews_failed: AtomicU64,
    /// A GetItem answered NoError with another item's subject.
    misread: AtomicU64,
    connections: AtomicU64,
    subscriptions: AtomicU64,
    events: Mutex<HashMap<String, u64>>,
}

struct Sample {
    seconds: f64,
    rss_kib: u64,
    threads: u64,
    fds: u64,
    /// The machine's one-minute load average.
    load: f64,
    /// What the allocator reports allocated and not freed (`umbox_heap_in_use_bytes`).
    heap_in_use_kib: u64,
    /// What the allocator holds from the system (`umbox_heap_held_bytes`).
    heap_held_kib: u64,
}

fn run() -> Result<bool, String> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: soak SECONDS [DATA_DIR]";
    let seconds: u64 = args.next().and_then(|t| t.parse().ok()).ok_or(usage)?;
    let data = args.next().map_or_else(
        || std::env::temp_dir().join(format!("umbox-soak-{}", std::process::id())),
        PathBuf::from,
    );
    if data.exists() {
        return Err(format!("{} exists: give a new directory", data.display()));
    }
    let binary = release_binary()?;
    with_short_greeting(&data, USERS[0].0)?;
    let log = File::create(data.join("umbox.log")).map_err(|e| e.to_string())?;
    let mut server = Server::start(
        &binary,
        &data,
        "warn,umbox_um::voicemail=info",
        Stdio::from(log),
    )?;
    let pid = server.child.id();
    let duration = Duration::from_secs(seconds);
    let started = Instant::now();
    println!(
        "soak: {seconds} s; umbox pid {pid}; data {}; calls {CALL_RATE}/s at most \
         {CALLS_AT_ONCE} at once; {} EWS clients; {} streaming clients",
        data.display(),
        EWS_CLIENTS * USERS.len(),
        USERS.len()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let fates: Arc<Mutex<HashMap<(usize, String), Fate>>> = Arc::default();
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();

    // Calls: sipp places its last calls so they end by about SECONDS.
    let calls = CALL_RATE * u32::try_from(seconds.saturating_sub(10).max(1)).unwrap();
    let stat = data.join("sipp-stat.csv");
    let sipp_run = {
        let stat = stat.to_string_lossy().into_owned();
        let timeout = u32::try_from(seconds).unwrap() + 300;
        let run = deposits(
            &server.sip,
            (calls, CALL_RATE, CALLS_AT_ONCE),
            MEDIA_PORT,
            timeout,
            &["-trace_stat", "-stf", &stat, "-fd", "10"],
        )?;
        std::thread::spawn(move || run.wait())
    };

    let mut clients = Vec::new();
    for (user, _) in USERS.iter().enumerate() {
        for client in 0..EWS_CLIENTS {
            let (url, stop, counts, fates) = (
                server.ews.clone(),
                stop.clone(),
                counts.clone(),
                fates.clone(),
            );
            clients.push(std::thread::spawn(move || {
                ews_client(&url, user, client, &stop, &counts, &fates);
            }));
        }
        let (url, stop, counts, work) = (
            server.ews.clone(),
            stop.clone(),
            counts.clone(),
            data.join(format!("stream-{user}.xml")),
        );
        clients.push(std::thread::spawn(move || {
            streaming_client(&url, user, &work, &stop, &counts);
        }));
    }
    let sampler = {
        let (stop, samples, csv) = (stop.clone(), samples.clone(), data.join("soak.csv"));
        let metrics = server.metrics.clone();
        std::thread::spawn(move || sample_memory(pid, &metrics, started, &csv, &stop, &samples))
    };

    let mut report = Duration::from_secs(300);
    while started.elapsed() < duration {
        std::thread::sleep(Duration::from_secs(1));
        if started.elapsed() >= report {
            report += Duration::from_secs(300);
            println!(
                "{:.0} s: {} items created, {} events streamed, RSS {} KiB",
                started.elapsed().as_secs_f64(),
                counts.created.load(Ordering::Relaxed),
                counts.events.lock().unwrap().values().sum::<u64>(),
                samples.lock().unwrap().last().map_or(0, |s| s.rss_kib)
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let sipp_run = sipp_run.join().unwrap();
    let load_ended = started.elapsed();
    let (successful, failed) = sipp_totals(&stat)?;
    // Each call's message is written after its BYE: wait for every summary line (at most 60 s).
    let mut ended = calls_ended(&data);
    for _ in 0..600 {
        if ended >= successful + failed {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        ended = calls_ended(&data);
    }
    sampler.join().unwrap();
    let exit = server.stop()?;

    println!(
        "load ran {:.0} s; umbox exited {exit} after SIGINT",
        load_ended.as_secs_f64()
    );
    println!(
        "calls: sipp {successful} successful, {failed} failed (sipp exit {}); umbox logged {ended} \
         calls ended",
        sipp_run.status
    );
    if sipp_run.status != 0 {
        let said = sipp_run.errors.trim_end();
        let tail = said
            .char_indices()
            .rev()
            .nth(400)
            .map_or(said, |(at, _)| &said[at..]);
        println!("sipp's last words: {tail}");
    }
    let c = &counts;
    let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
    println!(
        "EWS: {} created, {} read back, {} marked read, {} deleted, {} FindItem pages; \
         {} requests without a NoError answer; {} misread",
        load(&c.created),
        load(&c.read),
        load(&c.marked),
        load(&c.deleted),
        load(&c.found),
        load(&c.ews_failed),
        load(&c.misread)
    );
    let mut events: Vec<_> = c.events.lock().unwrap().clone().into_iter().collect();
    events.sort();
    println!(
        "streaming: {} subscriptions, {} GetStreamingEvents connections, events {events:?}",
        load(&c.subscriptions),
        load(&c.connections)
    );

    let mut problems = check_store(&data, successful, &fates.lock().unwrap())?;
    if load(&c.misread) > 0 {
        problems.push(format!(
            "{} GetItem answers named another item",
            load(&c.misread)
        ));
    }
    if exit != 0 {
        problems.push(format!("umbox exited {exit} after SIGINT"));
    }
    let flat = report_memory(&samples.lock().unwrap(), duration);
    for problem in &problems {
        println!("LOST/BROKEN: {problem}");
    }
    if problems.is_empty() {
        println!("nothing lost");
    }
    Ok(problems.is_empty() && flat)
}

/// One EWS client of `USERS[user]`, until `stop`.
fn ews_client(
    url: &str,
    user: usize,
    client: usize,
    stop: &AtomicBool,
    counts: &Counts,
    fates: &Mutex<HashMap<(usize, String), Fate>>,
) {
    let credentials = USERS[user];
    let ok = |answer: &Option<String>| {
        let ok = answer
            .as_deref()
            .is_some_and(|a| a.contains("<m:ResponseCode>NoError</m:ResponseCode>"));
        if !ok {
            counts.ews_failed.fetch_add(1, Ordering::Relaxed);
        }
        ok
    };
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        std::thread::sleep(EWS_PAUSE);
        let subject = format!("soak client {client} item {n}");
        let create = format!(
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="inbox"/></m:SavedItemFolderId><m:Items><t:Message><t:Subject>{subject}</t:Subject><t:Body BodyType="Text">soak</t:Body></t:Message></m:Items></m:CreateItem>"#
        );
        let answer = ews(url, credentials, &create, 30);
        if !ok(&answer) {
            continue;
        }
        let answer = answer.unwrap_or_default();
        fates
            .lock()
            .unwrap()
            .insert((user, subject.clone()), Fate::Created);
        counts.created.fetch_add(1, Ordering::Relaxed);
        let (Some(id), Some(change_key)) = (
            attribute(&answer, "<t:ItemId Id=\""),
            attribute(&answer, "ChangeKey=\""),
        ) else {
            continue;
        };
        let get = format!(
            r#"<m:GetItem><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
        );
        let read = ews(url, credentials, &get, 30);
        if ok(&read) {
            counts.read.fetch_add(1, Ordering::Relaxed);
            if between(
                read.as_deref().unwrap_or_default(),
                "<t:Subject>",
                "</t:Subject>",
            )
            .as_deref()
                != Some(subject.as_str())
            {
                counts.misread.fetch_add(1, Ordering::Relaxed);
            }
        }
        let update = format!(
            r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" MessageDisposition="SaveOnly"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}" ChangeKey="{change_key}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="message:IsRead"/><t:Message><t:IsRead>true</t:IsRead></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
        );
        if ok(&ews(url, credentials, &update, 30)) {
            counts.marked.fetch_add(1, Ordering::Relaxed);
        }
        if n.is_multiple_of(10) {
            let find = r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="50" Offset="0" BasePoint="Beginning"/><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#;
            if ok(&ews(url, credentials, find, 30)) {
                counts.found.fetch_add(1, Ordering::Relaxed);
            }
        }
        if n.is_multiple_of(3) {
            let delete = format!(
                r#"<m:DeleteItem DeleteType="HardDelete"><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:DeleteItem>"#
            );
            let fate = if ok(&ews(url, credentials, &delete, 30)) {
                counts.deleted.fetch_add(1, Ordering::Relaxed);
                Fate::Deleted
            } else {
                Fate::DeletionUnanswered
            };
            fates.lock().unwrap().insert((user, subject), fate);
        }
    }
}

/// A streaming subscription of `USERS[user]` on Inbox and voicemail held until `stop`: each
/// GetStreamingEvents connection is read by `curl -N` into `work` and its events counted when
/// it ends.
fn streaming_client(url: &str, user: usize, work: &Path, stop: &AtomicBool, counts: &Counts) {
    let credentials = USERS[user];
    let subscribe = r#"<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/><t:DistinguishedFolderId Id="voicemail"/></t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType><t:EventType>CreatedEvent</t:EventType><t:EventType>ModifiedEvent</t:EventType><t:EventType>DeletedEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>"#;
    let mut subscription: Option<String> = None;
    let mut on_this_one = 0;
    while !stop.load(Ordering::Relaxed) {
        if on_this_one >= RESUBSCRIBE_EVERY {
            if let Some(id) = subscription.take() {
                let unsubscribe = format!(
                    "<m:Unsubscribe><m:SubscriptionId>{id}</m:SubscriptionId></m:Unsubscribe>"
                );
                let _ = ews(url, credentials, &unsubscribe, 30);
            }
        }
        let Some(id) = subscription.clone().or_else(|| {
            let answer = ews(url, credentials, subscribe, 30)?;
            on_this_one = 0;
            counts.subscriptions.fetch_add(1, Ordering::Relaxed);
            between(&answer, "<m:SubscriptionId>", "</m:SubscriptionId>")
        }) else {
            std::thread::sleep(Duration::from_secs(1));
            continue;
        };
        subscription = Some(id.clone());
        on_this_one += 1;
        counts.connections.fetch_add(1, Ordering::Relaxed);
        let request = support::soap(&format!(
            "<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>{id}</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>"
        ));
        let Ok(out) = File::create(work) else {
            return;
        };
        let Ok(mut curl) = Command::new("curl")
            .args(["-sk", "--no-buffer", "-N", "--max-time", "120"])
            .args(["-u", &format!("{}:{}", credentials.0, credentials.1)])
            .args(["-H", "Content-Type: text/xml; charset=utf-8"])
            .args(["--data-binary", &request, url])
            .stdout(Stdio::from(out))
            .stderr(Stdio::null())
            .spawn()
        else {
            return;
        };
        while curl.try_wait().ok().flatten().is_none() {
            if stop.load(Ordering::Relaxed) {
                let _ = curl.kill();
                let _ = curl.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let streamed = std::fs::read_to_string(work).unwrap_or_default();
        let mut events = counts.events.lock().unwrap();
        for kind in [
            "NewMailEvent",
            "CreatedEvent",
            "ModifiedEvent",
            "DeletedEvent",
        ] {
            let seen = streamed.matches(&format!("<t:{kind}>")).count() as u64;
            *events
                .entry(format!("{}:{kind}", credentials.0))
                .or_default() += seen;
        }
        // An error (the subscription expired, fell behind or is unknown) or no answer at all:
        // count it by its code and take a new subscription.
        let errors: Vec<String> = streamed
            .match_indices(r#"ResponseClass="Error""#)
            .filter_map(|(at, _)| between(&streamed[at..], "ResponseCode>", "<"))
            .collect();
        let silent = !streamed.contains("ConnectionStatus") && !stop.load(Ordering::Relaxed);
        if silent || !errors.is_empty() {
            subscription = None;
        }
        if silent {
            *events
                .entry(format!("{}:no answer", credentials.0))
                .or_default() += 1;
        }
        for code in errors {
            *events
                .entry(format!("{}:{code}", credentials.0))
                .or_default() += 1;
        }
    }
}

/// Writes one CSV row of the server's memory, threads and descriptors every `SAMPLE_EVERY`
/// until `stop`, and once more at the end.
fn sample_memory(
    pid: u32,
    metrics: &str,
    started: Instant,
    csv: &Path,
    stop: &AtomicBool,
    samples: &Mutex<Vec<Sample>>,
) {
    let mut file = File::create(csv).unwrap();
    writeln!(
        file,
        "seconds,vmrss_kib,threads,open_fds,load_average,heap_in_use_kib,heap_held_kib"
    )
    .unwrap();
    let mut next = Duration::ZERO;
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        if started.elapsed() >= next || stopping {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let field = |name: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| v.split_whitespace().next()?.parse().ok())
                    .unwrap_or(0)
            };
            // A scrape the stopping server no longer answers reads as 0.
            let heap_kib = |name: &str| metric(metrics, name).map_or(0, |b| (b / 1024.0) as u64);
            let sample = Sample {
                seconds: started.elapsed().as_secs_f64(),
                rss_kib: field("VmRSS:"),
                threads: field("Threads:"),
                fds: std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64),
                load: std::fs::read_to_string("/proc/loadavg")
                    .ok()
                    .and_then(|l| l.split_whitespace().next()?.parse().ok())
                    .unwrap_or(0.0),
                heap_in_use_kib: heap_kib("umbox_heap_in_use_bytes"),
                heap_held_kib: heap_kib("umbox_heap_held_bytes"),
            };
            writeln!(
                file,
                "{:.0},{},{},{},{:.2},{},{}",
                sample.seconds,
                sample.rss_kib,
                sample.threads,
                sample.fds,
                sample.load,
                sample.heap_in_use_kib,
                sample.heap_held_kib
            )
            .unwrap();
            samples.lock().unwrap().push(sample);
            next += SAMPLE_EVERY;
        }
        if stopping {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Prints the memory samples after the warm-up against their mean; whether all lie within
/// `TOLERANCE` of it.
fn report_memory(samples: &[Sample], duration: Duration) -> bool {
    let warm_up = (duration / 4).as_secs_f64();
    let after: Vec<&Sample> = samples.iter().filter(|s| s.seconds >= warm_up).collect();
    if after.is_empty() {
        println!("memory: no sample after the {warm_up:.0} s warm-up");
        return false;
    }
    println!(
        "seconds, RSS (KiB), threads, open descriptors, load average, heap in use / held (KiB):"
    );
    let step = (samples.len() / 12).max(1);
    for (i, s) in samples.iter().enumerate() {
        if i % step == 0 || i + 1 == samples.len() {
            println!(
                "  {:>6.0} s  {:>8}  {:>4}  {:>5}  {:>5.1}  {:>8} / {:>8}",
                s.seconds, s.rss_kib, s.threads, s.fds, s.load, s.heap_in_use_kib, s.heap_held_kib
            );
        }
    }
    let loads: Vec<f64> = samples.iter().map(|s| s.load).collect();
    println!(
        "machine load average (1 min): mean {:.1}, max {:.1}",
        loads.iter().sum::<f64>() / loads.len().max(1) as f64,
        loads.iter().copied().fold(0.0, f64::max)
    );
    let rss: Vec<u64> = after.iter().map(|s| s.rss_kib).collect();
    let heap: Vec<u64> = after.iter().map(|s| s.heap_in_use_kib).collect();
    let flat = report_spread(&format!("RSS after the {warm_up:.0} s warm-up"), &rss);
    report_spread("heap in use after the warm-up", &heap);
    flat
}

/// Prints the mean of `kib`, how far its minimum, maximum and last value lie from it and the means
/// of its halves; whether all three lie within [`TOLERANCE`] of the mean.
fn report_spread(what: &str, kib: &[u64]) -> bool {
    let average = |v: &[u64]| v.iter().sum::<u64>() as f64 / v.len().max(1) as f64;
    let mean = average(kib);
    let off = |v: u64| 100.0 * (v as f64 - mean) / mean.max(1.0);
    let (min, max) = (
        kib.iter().copied().min().unwrap_or(0),
        kib.iter().copied().max().unwrap_or(0),
    );
    let last = kib.last().copied().unwrap_or(0);
    let flat = [min, max, last]
        .iter()
        .all(|v| off(*v).abs() <= TOLERANCE * 100.0);
    let (first_half, second_half) = kib.split_at(kib.len() / 2);
    let mib = |v: f64| v / 1024.0;
    println!(
        "{what} ({} samples): mean {:.1} MiB, min {:.1} MiB ({:+.1}%), max {:.1} MiB ({:+.1}%), \
         last {:.1} MiB ({:+.1}%); halves {:.1} / {:.1} MiB; {}",
        kib.len(),
        mib(mean),
        mib(min as f64),
        off(min),
        mib(max as f64),
        off(max),
        mib(last as f64),
        off(last),
        mib(average(first_half)),
        mib(average(second_half)),
        if flat {
            "FLAT within ±10%"
        } else {
            "NOT within ±10%"
        }
    );
    flat
}

/// sipp's final successful and failed call counts from its statistics file.
fn sipp_totals(stat: &Path) -> Result<(u64, u64), String> {
    let text = std::fs::read_to_string(stat).map_err(|e| format!("{}: {e}", stat.display()))?;
    let mut rows = text.lines().map(|l| l.split(';').collect::<Vec<_>>());
    let header = rows.next().ok_or("empty sipp statistics")?;
    let last = rows.next_back().ok_or("no sipp statistics row")?;
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .and_then(|i| last.get(i)?.parse().ok())
            .ok_or(format!("no {name} in sipp's statistics"))
    };
    Ok((column("SuccessfulCall(C)")?, column("FailedCall(C)")?))
}

/// How many "call ended" summary lines the server has logged.
fn calls_ended(data: &Path) -> u64 {
    std::fs::read_to_string(data.join("umbox.log"))
        .map_or(0, |log| log.matches("call ended outcome=").count() as u64)
}

/// Opens the stopped server's store and lists everything lost or broken.
fn check_store(
    data: &Path,
    deposits: u64,
    fates: &HashMap<(usize, String), Fate>,
) -> Result<Vec<String>, String> {
    let store = RedbStore::open(data, store::Options::default()).map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    for (user, (address, _)) in USERS.iter().enumerate() {
        let mailbox = MailboxId::new(address);
        let report = store.verify(&mailbox).map_err(|e| e.to_string())?;
        if !report.problems.is_empty() {
            problems.push(format!("{address}: verify: {:?}", report.problems));
        }
        let inbox = store
            .distinguished_folder(&mailbox, DistinguishedFolder::Inbox)
            .map_err(|e| e.to_string())?;
        let mut present: HashMap<String, u32> = HashMap::new();
        for item in store.items(&mailbox, inbox).map_err(|e| e.to_string())? {
            if let Some(PropValue::Unicode(subject)) = item.props.get(tags::SUBJECT) {
                *present.entry(subject.clone()).or_default() += 1;
            }
        }
        let (mut kept, mut gone) = (0, 0);
        for ((owner, subject), fate) in fates {
            if *owner != user {
                continue;
            }
            let copies = present.get(subject).copied().unwrap_or(0);
            match (fate, copies) {
                (Fate::Created, 1) => kept += 1,
                (Fate::Deleted, 0) => gone += 1,
                (Fate::DeletionUnanswered, 0 | 1) => {}
                (fate, copies) => problems.push(format!(
                    "{address}: {subject:?} ({fate:?}) is there {copies}×"
                )),
            }
        }
        println!(
            "{address}: verify clean: {}; {kept} acknowledged items present once, {gone} \
             acknowledged deletions gone; Inbox holds {} items",
            report.problems.is_empty(),
            present.values().sum::<u32>()
        );
    }
    let messages = voice_messages(&store, USERS[0].0)?;
    let exact = messages.iter().filter(|audio| *audio == MESSAGE).count();
    println!(
        "voicemail: {} voice messages for alice ({exact} sample-exact) for {deposits} deposits \
         sipp saw complete",
        messages.len()
    );
    if (messages.len() as u64) < deposits {
        problems.push(format!(
            "{} voice messages for {deposits} completed deposits",
            messages.len()
        ));
    }
    Ok(problems)
}
