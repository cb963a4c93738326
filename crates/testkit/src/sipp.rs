//! Runs the real `sipp` (Debian sip-tester) as the PBX/gateway with the scenarios of
//! `tests/interop/sipp/`, from `tests/interop` so their relative media files
//! (`audio/message.ul`) resolve. The one sipp runner of every crate's tests.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tempfile::TempDir;

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
    spawn(scenario, target, calls, timeout_seconds, extra).wait()
}

/// A sipp run in the background, for scenarios that wait for what the test does meanwhile
/// (a NOTIFY after a deposit).
#[derive(Debug)]
pub struct Background {
    child: Child,
    logs: TempDir,
}

impl Background {
    /// Stops sipp at once (its peer is gone), without reading its logs.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for sipp to finish.
    pub fn wait(self) -> Run {
        let mut child = self.child;
        let status = child
            .wait()
            .expect("sipp runs (apt-get install sip-tester)");
        let read =
            |name: &str| std::fs::read_to_string(self.logs.path().join(name)).unwrap_or_default();
        Run {
            status: status.code().unwrap_or(-1),
            screen: read("screen.log"),
            errors: read("errors.log"),
            messages: read("messages.log"),
        }
    }
}

/// [`run`], without waiting for sipp to finish.
pub fn spawn(
    scenario: &str,
    target: SocketAddr,
    calls: u32,
    timeout_seconds: u32,
    extra: &[&str],
) -> Background {
    let interop = workspace_root().join("tests/interop");
    let logs = temp_dir("sipp");
    let mut command = Command::new("sipp");
    command
        .arg("-sf")
        .arg(interop.join("sipp").join(scenario))
        .args(["-m", &calls.to_string()])
        .args(["-timeout", &format!("{timeout_seconds}s"), "-timeout_error"])
        .args(["-nostdin", "-trace_err", "-error_file"])
        .arg(logs.path().join("errors.log"))
        .args(["-trace_msg", "-message_file"])
        .arg(logs.path().join("messages.log"))
        .args(extra);
    if !extra.contains(&"-i") {
        command.args(["-i", "127.0.0.1"]);
    }
    // The screen goes to a file: a pipe nobody reads while sipp runs in the background would
    // fill up and stop it.
    let screen = std::fs::File::create(logs.path().join("screen.log")).expect("sipp screen log");
    let child = command
        .arg(target.to_string())
        .current_dir(&interop)
        .stdout(Stdio::from(screen))
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp runs (apt-get install sip-tester)");
    Background { child, logs }
}
