//! Crash trials: kills a running umbox with SIGKILL at random moments while callers leave voice
//! messages and clients write through EWS, and checks after every kill, on the store the dead
//! server left, that nothing acknowledged was lost and nothing is half-written. Reported in
//! docs/RELIABILITY.md.
//!
//! Each trial starts `umbox serve --demo` on the same data directory, runs `WRITERS` EWS clients
//! (curl, CreateItem of a message with a unique subject into alice's Inbox, and UpdateItem marking
//! it read), one pull subscription polling GetEvents and sipp calling alice's voice mail
//! (`CALLS_PER_SECOND` new calls, each the 5.26 s message sent 2.5 s after the answer), kills the
//! server after a random `KILL_AFTER_MS`, then opens the store directly and checks:
//! - every CreateItem answered NoError is in the Inbox, exactly once (by its subject);
//! - `MailStore::verify` finds no broken invariant (folder counts equal a recount, no orphan
//!   attachment or dangling index entry);
//! - the change log's latest sequence number never moves back between trials;
//! - once the next trial's server is ready, every spool file the killed one left is gone, and by
//!   the next kill the voice messages and missed-call notices have grown by at least one for each
//!   of them that held an envelope of a call with no message yet (the calls in progress were
//!   delivered, cut off or not, and none twice).
//!
//! Usage: `cargo run --release --example crash_trials -- TRIALS [DATA_DIR]` (umbox built with
//! `cargo build --release`; the trials use ephemeral loopback ports). Exits non-zero at the first
//! violated check, naming it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]

// The soak driver uses the rest of it (graceful stop, metrics).
#[allow(dead_code)]
mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{attribute, between, deposits, with_short_greeting, Server};
use umbox_media::spool::{self as spool, SpoolError};
use umbox_store::props::{tags, PropValue};
use umbox_store::{self as store, DistinguishedFolder, MailStore, MailboxId, RedbStore};
use umbox_um::spool::Envelope;

const WRITERS: usize = 4;
const ALICE: &str = "alice@example.test";
/// The kill comes this long after the server is ready: a random moment in it. Calls reach their
/// audio about 2.6 s in, so about half of the trials kill calls in the middle of a message.
const KILL_AFTER_MS: (u64, u64) = (50, 5000);
/// New calls a second during a trial (at most twice as many at once).
const CALLS_PER_SECOND: u32 = 8;
/// sipp's RTP port, away from the test suite's (6000) and the soak's (16000).
const CALLER_MEDIA_PORT: &str = "17000";
const MISSED_CALL_CLASS: &str = "IPM.Note.Microsoft.Missed.Voice";

/// What the store and spool held after a kill.
#[derive(Default)]
struct AfterKill {
    /// The change log's latest sequence number.
    latest: u64,
    /// Voice messages and missed-call notices in alice's mailbox.
    messages: u64,
    /// Spool files left behind.
    spooled: Vec<PathBuf>,
    /// How many of them hold an envelope of a call with no message yet, each owed one by the next
    /// start.
    owed: u64,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("crash_trials: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: crash_trials TRIALS [DATA_DIR]";
    let trials: u32 = args.next().and_then(|t| t.parse().ok()).ok_or(usage)?;
    let data = args.next().map_or_else(
        || std::env::temp_dir().join(format!("umbox-crash-{}", std::process::id())),
        PathBuf::from,
    );
    let binary = support::release_binary()?;
    if data.exists() {
        return Err(format!("{} exists: give a new directory", data.display()));
    }
    with_short_greeting(&data, ALICE)?;
    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let mut last = AfterKill::default();
    let (mut spooled, mut delivered_spooled) = (0, 0);
    let mut rng = Random::seeded();
    let started = Instant::now();
    for trial in 0..trials {
        // Every run's warnings and errors, appended, so a server that does not start says why.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.join("umbox.log"))
            .map_err(|e| e.to_string())?;
        let mut server = Server::start(&binary, &data, "warn", Stdio::from(log)).map_err(|e| {
            format!(
                "trial {trial}: {e} (see {})",
                data.join("umbox.log").display()
            )
        })?;
        // The spool is delivered before the server says it is ready.
        if let Some(left) = last.spooled.iter().find(|path| path.exists()) {
            return Err(format!(
                "trial {trial}: {} is still spooled after the restart",
                left.display()
            ));
        }
        delivered_spooled += last.owed;
        // sipp's Call-IDs are its call number and process id, and process ids come round again
        // over a thousand trials: the trial number keeps each call's Call-ID its own.
        let call_ids = format!("trial{trial}-%u-%p@%s");
        let callers = deposits(
            &server.sip,
            (1000, CALLS_PER_SECOND, 2 * CALLS_PER_SECOND),
            CALLER_MEDIA_PORT,
            30,
            &["-cid_str", &call_ids],
        )?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = Vec::new();
        for writer in 0..WRITERS {
            let (url, stop, acknowledged) =
                (server.ews.clone(), stop.clone(), acknowledged.clone());
            clients.push(std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let subject = format!("trial {trial} writer {writer} item {n}");
                    if create_and_mark_read(&url, &subject) {
                        acknowledged.lock().unwrap().insert(subject);
                    }
                    n += 1;
                }
            }));
        }
        {
            let (url, stop) = (server.ews.clone(), stop.clone());
            clients.push(std::thread::spawn(move || poll_events(&url, &stop)));
        }
        std::thread::sleep(Duration::from_millis(
            rng.between(KILL_AFTER_MS.0, KILL_AFTER_MS.1),
        ));
        let _ = server.child.kill();
        let _ = server.child.wait();
        callers.kill();
        stop.store(true, Ordering::Relaxed);
        for client in clients {
            client.join().unwrap();
        }
        last = check(&data, &acknowledged.lock().unwrap(), &last)
            .map_err(|e| format!("trial {trial}: {e}"))?;
        spooled += last.spooled.len();
        if trial % 50 == 49 {
            println!(
                "{} trials, {} acknowledged items all present, {} messages, {spooled} spool files \
                 left by kills, log at {}, {:.0} s",
                trial + 1,
                acknowledged.lock().unwrap().len(),
                last.messages,
                last.latest,
                started.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "passed: {trials} trials with SIGKILL at random moments; {} acknowledged items, all present once; \
         verify clean after every kill; change log only ever moved forward (now {}); {spooled} spool \
         files left by kills, every one gone at the next start, {delivered_spooled} of them with an \
         envelope each delivered as a message ({} voice messages and missed-call notices in all); {:.0} s",
        acknowledged.lock().unwrap().len(),
        last.latest,
        last.messages,
        started.elapsed().as_secs_f64()
    );
    std::fs::remove_dir_all(&data).map_err(|e| e.to_string())
}

/// The checks on the store and spool a killed server left, against what the last kill left.
fn check(
    data: &Path,
    acknowledged: &HashSet<String>,
    last: &AfterKill,
) -> Result<AfterKill, String> {
    let store = RedbStore::open(data, store::Options::default()).map_err(|e| e.to_string())?;
    let alice = MailboxId::new(ALICE);
    let report = store.verify(&alice).map_err(|e| e.to_string())?;
    if !report.problems.is_empty() {
        return Err(format!("verify: {:?}", report.problems));
    }
    let folder = |which| {
        store
            .distinguished_folder(&alice, which)
            .and_then(|folder| store.items(&alice, folder))
            .map_err(|e| e.to_string())
    };
    let mut present = HashSet::new();
    let mut calls = HashSet::new();
    let mut messages = folder(DistinguishedFolder::Voicemail)?.len() as u64;
    for item in folder(DistinguishedFolder::Inbox)? {
        let text = |tag| match item.props.get(tag) {
            Some(PropValue::Unicode(text)) => Some(text.as_str()),
            _ => None,
        };
        if let Some(call) = text(tags::CALL_ID) {
            if !calls.insert(call.to_owned()) {
                return Err(format!("call {call:?} has two messages"));
            }
        }
        if text(tags::MESSAGE_CLASS) == Some(MISSED_CALL_CLASS) {
            messages += 1;
        } else if let Some(subject) = text(tags::SUBJECT).filter(|s| s.starts_with("trial ")) {
            if !present.insert(subject.to_owned()) {
                return Err(format!("{subject:?} is in the Inbox twice"));
            }
        }
    }
    if let Some(lost) = acknowledged.iter().find(|s| !present.contains(*s)) {
        return Err(format!("acknowledged {lost:?} is missing"));
    }
    if messages < last.messages + last.owed {
        return Err(format!(
            "{messages} messages: the last kill left {} and {} spooled calls with an envelope",
            last.messages, last.owed
        ));
    }
    let latest = store
        .log_bounds(&alice)
        .map_err(|e| e.to_string())?
        .latest
        .0;
    if latest < last.latest {
        return Err(format!(
            "the change log moved back from {} to {latest}",
            last.latest
        ));
    }
    let mut spooled = Vec::new();
    let mut owed = 0;
    let dir = data.join("spool");
    for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == spool::EXTENSION) {
            match spool::read(&path) {
                // A file whose message was committed before the kill is removed, not delivered.
                Ok(spooled) => {
                    let envelope =
                        Envelope::decode(&spooled.envelope).map_err(|e| e.to_string())?;
                    if !calls.contains(&envelope.call_id) {
                        owed += 1;
                    }
                }
                Err(SpoolError::Unstarted(_)) => {}
                Err(error) => {
                    return Err(format!(
                        "a spool file the next start cannot deliver: {error}"
                    ))
                }
            }
            spooled.push(path);
        }
    }
    Ok(AfterKill {
        latest,
        messages,
        spooled,
        owed,
    })
}

/// One EWS request as alice; the body of a 200 answer.
fn ews(url: &str, body: &str) -> Option<String> {
    support::ews(url, (ALICE, "demo-alice"), body, 5)
}

/// CreateItem then UpdateItem (IsRead); true when the creation was acknowledged with NoError.
fn create_and_mark_read(url: &str, subject: &str) -> bool {
    let create = format!(
        r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="inbox"/></m:SavedItemFolderId><m:Items><t:Message><t:Subject>{subject}</t:Subject><t:Body BodyType="Text">crash trial</t:Body></t:Message></m:Items></m:CreateItem>"#
    );
    let Some(answer) = ews(url, &create) else {
        return false;
    };
    if !answer.contains("<m:ResponseCode>NoError</m:ResponseCode>") {
        return false;
    }
    if let Some(id) = attribute(&answer, "<t:ItemId Id=\"") {
        let change_key = attribute(&answer, "ChangeKey=\"").unwrap_or_default();
        let update = format!(
            r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" MessageDisposition="SaveOnly"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}" ChangeKey="{change_key}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="message:IsRead"/><t:Message><t:IsRead>true</t:IsRead></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
        );
        let _ = ews(url, &update);
    }
    true
}

/// A pull subscription on the Inbox, polled until `stop`.
fn poll_events(url: &str, stop: &AtomicBool) {
    let subscribe = r#"<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType><t:EventType>ModifiedEvent</t:EventType></t:EventTypes><t:Timeout>10</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>"#;
    let Some(answer) = ews(url, subscribe) else {
        return;
    };
    let (Some(id), Some(mut watermark)) = (
        between(&answer, "<m:SubscriptionId>", "</m:SubscriptionId>"),
        between(&answer, "<m:Watermark>", "</m:Watermark>"),
    ) else {
        return;
    };
    while !stop.load(Ordering::Relaxed) {
        let get = format!(
            r#"<m:GetEvents><m:SubscriptionId>{id}</m:SubscriptionId><m:Watermark>{watermark}</m:Watermark></m:GetEvents>"#
        );
        let Some(answer) = ews(url, &get) else {
            return;
        };
        if let Some(last) = answer
            .rmatch_indices("<t:Watermark>")
            .next()
            .and_then(|(at, _)| between(&answer[at..], "<t:Watermark>", "</t:Watermark>"))
        {
            watermark = last;
        }
    }
}

/// xorshift64*, seeded from the standard library's per-process random hash keys: the kill
/// moments differ from run to run, and the seed is printed so a failing run can be told apart.
struct Random(u64);

impl Random {
    fn seeded() -> Random {
        use std::hash::{BuildHasher, Hasher};
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        println!("seed {seed}");
        Random(seed | 1)
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        low + self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % (high - low)
    }
}
