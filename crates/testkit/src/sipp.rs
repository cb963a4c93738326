//! Runs the real `sipp` (Debian sip-tester) as the PBX/gateway with the scenarios of
//! `tests/interop/sipp/`, from `tests/interop` so their relative media files
//! (`audio/message.ul`) resolve. The one sipp runner of every crate's tests.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::{temp_dir, workspace_root};

/// sipp binds its media socket from port 6000 up (and a video one two above it); runs that
/// stream media take turns so two of them never race for the same pair.
static MEDIA: Mutex<()> = Mutex::new(());

/// Holds the media turn for as long as it lives.
pub fn media_turn() -> MutexGuard<'static, ()> {
    MEDIA.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One finished sipp run.
#[derive(Debug)]
pub struct Run {
    /// Exit status (0: every call succeeded).
    pub status: i32,
    /// Its screen output.
    pub screen: String,
    /// Unexpected messages (`-trace_err`).
    pub errors: String,
    /// Every message sent and received (`-trace_msg`).
    pub messages: String,
}

impl Run {
    /// Panics with everything sipp said unless every call succeeded cleanly. sipp's reports of
    /// its own scheduling being late (the watchdog, on a loaded machine) are not failures.
    pub fn assert_ok(&self) {
        let unexpected = self.errors.lines().any(|line| {
            let line = line.trim();
            !line.is_empty()
                && line != "The following events occurred:"
                && !line.contains("watchdog timer")
        });
        assert!(
            self.status == 0 && !unexpected,
            "sipp failed with {}\n--- errors\n{}\n--- messages\n{}\n--- screen\n{}",
            self.status,
            self.errors,
            self.messages,
            self.screen
        );
    }

    /// How many responses with this status line sipp received.
    pub fn received(&self, status_line: &str) -> usize {
        self.messages
            .lines()
            .filter(|line| line.trim_end() == status_line)
            .count()
    }
}

/// `sipp -sf tests/interop/sipp/<scenario> -m <calls> <extra> <target>` from 127.0.0.1 (unless
/// `extra` has `-i`), failing calls after `timeout_seconds`.
pub fn run(
    scenario: &str,
    target: SocketAddr,
    calls: u32,
    timeout_seconds: u32,
    extra: &[&str],
) -> Run {
    let interop = workspace_root().join("tests/interop");
    let logs = temp_dir("sipp");
    let errors = logs.path().join("errors.log");
    let messages = logs.path().join("messages.log");
    let mut command = Command::new("sipp");
    command
        .arg("-sf")
        .arg(interop.join("sipp").join(scenario))
        .args(["-m", &calls.to_string()])
        .args(["-timeout", &format!("{timeout_seconds}s"), "-timeout_error"])
        .args(["-nostdin", "-trace_err", "-error_file"])
        .arg(&errors)
        .args(["-trace_msg", "-message_file"])
        .arg(&messages)
        .args(extra);
    if !extra.contains(&"-i") {
        command.args(["-i", "127.0.0.1"]);
    }
    let output = command
        .arg(target.to_string())
        .current_dir(&interop)
        .output()
        .expect("sipp runs (apt-get install sip-tester)");
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    let run = Run {
        status: output.status.code().unwrap_or(-1),
        screen: String::from_utf8_lossy(&output.stdout).into_owned(),
        errors: read(&errors),
        messages: read(&messages),
    };
    run
}
