//! Audits the voice messages a voicemail load run left in a stopped server's store, for
//! `scripts/bench/voicemail-calls.sh`: for each address given, every item of its `voicemail`
//! folder has its WAV attachment's data chunk compared with the raw G.711 file the callers
//! streamed. Prints one line per address and a total: messages, sample-exact, differing.
//!
//! Usage: `cargo run --release --example voicemail_audit -- DATA_DIR EXPECTED.ul ADDRESS...`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]

// The reliability drivers use the rest of it.
#[allow(dead_code)]
mod support;

use std::path::PathBuf;
use std::process::ExitCode;

use umbox_store::{self as store, RedbStore};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("voicemail_audit: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: voicemail_audit DATA_DIR EXPECTED.ul ADDRESS...";
    let data = PathBuf::from(args.next().ok_or(usage)?);
    let expected_path = args.next().ok_or(usage)?;
    let addresses: Vec<String> = args.collect();
    if addresses.is_empty() {
        return Err(usage.into());
    }
    let expected = std::fs::read(&expected_path).map_err(|e| format!("{expected_path}: {e}"))?;
    let store = RedbStore::open(&data, store::Options::default()).map_err(|e| e.to_string())?;
    let (mut total, mut exact) = (0usize, 0usize);
    for address in &addresses {
        let messages = support::voice_messages(&store, address)?;
        let mut same = 0usize;
        let mut lengths = Vec::new();
        for audio in &messages {
            if *audio == expected {
                same += 1;
            } else {
                lengths.push(audio.len());
            }
        }
        lengths.sort_unstable();
        let shortest: Vec<_> = lengths.iter().take(10).collect();
        println!(
            "{address}: {} voice messages, {same} sample-exact, {} differ (shortest data chunks: \
             {shortest:?} bytes of {})",
            messages.len(),
            lengths.len(),
            expected.len()
        );
        total += messages.len();
        exact += same;
    }
    println!("total: {total} voice messages, {exact} sample-exact");
    Ok(())
}
