//! The recording spool: each message being recorded is a file in the spool directory, written as
//! the audio arrives, so neither a crash nor a failed delivery loses it and no call holds its
//! whole message in memory.
//!
//! A file is a 16-byte header (magic, law, state, envelope length), the caller's envelope (opaque
//! bytes written before the first audio: whom the message is for is the caller's business), then
//! the G.711 codes exactly as recorded. One writer thread owns every open file: calls hand it
//! about a second of audio at a time ([`CHUNK`]), and once a second ([`SYNC_INTERVAL`]) after
//! anything was written it makes all of it durable with one `syncfs(2)` for the spool's
//! filesystem, never a sync per packet or per file (2,000 files took 5 s of `fdatasync`s here,
//! and 0.1 s as one `syncfs`). Closing a [`Tape`] marks its file complete before
//! [`Closing::wait`] returns. A file whose tape was dropped, or whose process died, stays marked
//! in progress: [`read`] says it is partial. Never decides what a file is for or when it may go: the owner calls
//! [`Spool::remove`] after its delivery. Entry points: [`Spool::start`], [`Spool::create`],
//! [`Tape`], [`read`], [`Spool::leftovers`].

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use ring::rand::{SecureRandom, SystemRandom};
use tokio::sync::oneshot;
use tracing::warn;

use super::g711::Law;
use super::recorder::{duration_of, MAX_RECORDING};
use super::rtp::CLOCK_RATE;
use super::wav;

/// How often the writer syncs the files written to since the last sync.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// Audio a tape gathers before handing it to the writer: one second at 8 kHz.
pub const CHUNK: usize = 8000;

/// The largest envelope a file may carry.
pub const MAX_ENVELOPE: usize = 64 * 1024;

/// The file name extension of spool files.
pub const EXTENSION: &str = "spool";

const MAGIC: &[u8; 8] = b"UMBXSPL1";
const HEADER_LEN: usize = 16;
/// The state byte: 0 while recording, 1 once the tape was closed.
const STATE_AT: u64 = 9;
const RECORDING: u8 = 0;
const COMPLETE: u8 = 1;

/// Why a spool file cannot be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    /// A file or the directory could not be created, written, synced, read or removed.
    #[error("spool {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The file is not a spool file, or is larger than any recording.
    #[error("spool file {path}: {what}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: &'static str,
    },
    /// The file ends before its envelope does: the call was cut off (the server killed, the
    /// machine down) between creating the file and writing its first bytes, so it holds neither a
    /// recipient nor audio.
    #[error("spool file {0}: cut off before its envelope was written")]
    Unstarted(PathBuf),
    /// The envelope is larger than [`MAX_ENVELOPE`].
    #[error("spool envelope of {0} bytes is too large")]
    EnvelopeTooLarge(usize),
    /// The system random source failed (file names are random).
    #[error("random source failed")]
    Random,
    /// The writer thread is gone (the server is stopping).
    #[error("the spool writer has stopped")]
    Stopped,
}

impl SpoolError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
        move |source| SpoolError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

enum Command {
    Create {
        id: u64,
        path: PathBuf,
        header: Vec<u8>,
    },
    Append {
        id: u64,
        audio: Vec<u8>,
    },
    Close {
        id: u64,
        complete: bool,
        reply: Option<oneshot::Sender<Result<(), SpoolError>>>,
    },
}

/// The spool directory and its writer thread; clones share both. The thread ends once every
/// clone and every [`Tape`] is gone, after syncing what it holds.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: Arc<PathBuf>,
    commands: mpsc::Sender<Command>,
    next_id: Arc<AtomicU64>,
    random: SystemRandom,
}

impl Spool {
    /// Creates `dir` (owner-only) if needed and starts the writer thread.
    pub fn start(dir: &Path) -> Result<Spool, SpoolError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(SpoolError::io(dir))?;
        let (commands, receiver) = mpsc::channel();
        let writer = Writer {
            dir: File::open(dir).map_err(SpoolError::io(dir))?,
            path: dir.to_owned(),
            files: HashMap::new(),
            dirty: false,
        };
        std::thread::Builder::new()
            .name("umbox-spool".into())
            .spawn(move || writer.run(&receiver))
            .map_err(SpoolError::io(dir))?;
        Ok(Spool {
            dir: Arc::new(dir.to_owned()),
            commands,
            next_id: Arc::new(AtomicU64::new(0)),
            random: SystemRandom::new(),
        })
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts a file for a recording in `law`: the writer creates it (mode 0600) with `envelope`
    /// before any audio. Returns at once; a failure to create is reported by [`Closing::wait`].
    pub fn create(&self, law: Law, envelope: &[u8]) -> Result<Tape, SpoolError> {
        if envelope.len() > MAX_ENVELOPE {
            return Err(SpoolError::EnvelopeTooLarge(envelope.len()));
        }
        let mut name = [0u8; 8];
        self.random
            .fill(&mut name)
            .map_err(|_| SpoolError::Random)?;
        let path = self
            .dir
            .join(format!("{:016x}.{EXTENSION}", u64::from_be_bytes(name)));
        let mut header = Vec::with_capacity(HEADER_LEN + envelope.len());
        header.extend_from_slice(MAGIC);
        header.push(law_code(law));
        header.push(RECORDING);
        header.extend_from_slice(&[0, 0]);
        let envelope_len = u32::try_from(envelope.len())
            .map_err(|_| SpoolError::EnvelopeTooLarge(envelope.len()))?;
        header.extend_from_slice(&envelope_len.to_le_bytes());
        header.extend_from_slice(envelope);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.commands
            .send(Command::Create {
                id,
                path: path.clone(),
                header,
            })
            .map_err(|_| SpoolError::Stopped)?;
        Ok(Tape {
            id,
            path,
            law,
            commands: self.commands.clone(),
            buffer: Vec::with_capacity(CHUNK),
            closed: false,
        })
    }

    /// The spool files in the directory, oldest name first; at start, before any call, these are
    /// the leftovers of the last run.
    pub fn leftovers(&self) -> Result<Vec<PathBuf>, SpoolError> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(self.dir.as_path()).map_err(SpoolError::io(&self.dir))? {
            let path = entry.map_err(SpoolError::io(&self.dir))?.path();
            if path.extension().is_some_and(|e| e == EXTENSION) {
                found.push(path);
            }
        }
        found.sort();
        Ok(found)
    }

    /// Removes a delivered file and syncs the directory (blocking IO: for the blocking pool).
    pub fn remove(&self, path: &Path) -> Result<(), SpoolError> {
        std::fs::remove_file(path).map_err(SpoolError::io(path))?;
        sync_dir(&self.dir)
    }
}

/// A recording's file as it is written; dropping it without [`Tape::close`] leaves the file
/// partial (what was recorded so far, marked in progress), as a crash would.
#[derive(Debug)]
pub struct Tape {
    id: u64,
    path: PathBuf,
    law: Law,
    commands: mpsc::Sender<Command>,
    buffer: Vec<u8>,
    closed: bool,
}

impl Tape {
    /// The law the file holds.
    pub fn law(&self) -> Law {
        self.law
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends G.711 codes; a full chunk goes to the writer.
    pub fn write(&mut self, codes: &[u8]) {
        let mut rest = codes;
        while !rest.is_empty() {
            let take = CHUNK.saturating_sub(self.buffer.len()).min(rest.len());
            let (head, tail) = rest.split_at(take);
            self.buffer.extend_from_slice(head);
            rest = tail;
            if self.buffer.len() >= CHUNK {
                self.hand_over();
            }
        }
    }

    /// Appends `samples` of the law's silence.
    pub fn write_silence(&mut self, samples: usize) {
        let mut left = samples;
        let code = self.law.silence();
        while left > 0 {
            let take = CHUNK.saturating_sub(self.buffer.len()).min(left);
            self.buffer.resize(self.buffer.len() + take, code);
            left -= take;
            if self.buffer.len() >= CHUNK {
                self.hand_over();
            }
        }
    }

    /// Ends the recording: the rest of the audio is written and the file marked complete (and
    /// made durable with the writer's next sync).
    pub fn close(mut self) -> Closing {
        let (reply, done) = oneshot::channel();
        self.end(true, Some(reply));
        Closing {
            path: self.path.clone(),
            done,
        }
    }

    fn hand_over(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let audio = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK));
        // A stopped writer is reported when the tape is closed.
        let _ = self.commands.send(Command::Append { id: self.id, audio });
    }

    fn end(&mut self, complete: bool, reply: Option<oneshot::Sender<Result<(), SpoolError>>>) {
        self.hand_over();
        self.closed = true;
        let close = Command::Close {
            id: self.id,
            complete,
            reply,
        };
        if let Err(mpsc::SendError(Command::Close {
            reply: Some(reply), ..
        })) = self.commands.send(close)
        {
            let _ = reply.send(Err(SpoolError::Stopped));
        }
    }
}

impl Drop for Tape {
    fn drop(&mut self) {
        if !self.closed {
            self.end(false, None);
        }
    }
}

/// A closed tape whose file the writer is finishing.
#[derive(Debug)]
pub struct Closing {
    path: PathBuf,
    done: oneshot::Receiver<Result<(), SpoolError>>,
}

impl Closing {
    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits until the file is complete; returns its path.
    pub async fn wait(self) -> Result<PathBuf, SpoolError> {
        self.done.await.map_err(|_| SpoolError::Stopped)??;
        Ok(self.path)
    }
}

/// A spool file as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spooled {
    /// The law of the audio.
    pub law: Law,
    /// Whether the recording was closed; `false` for a call cut off by a crash or a stop.
    pub complete: bool,
    /// The envelope, as given to [`Spool::create`].
    pub envelope: Vec<u8>,
    /// The number of samples.
    pub samples: usize,
    /// The audio as a WAV file, G.711 exactly as recorded.
    pub wav: Vec<u8>,
}

impl Spooled {
    /// The audio's length.
    pub fn duration(&self) -> Duration {
        duration_of(self.samples)
    }
}

/// Reads a spool file (blocking IO). The audio goes straight into the WAV buffer, so reading a
/// file costs one copy of its audio; a file longer than [`MAX_RECORDING`] is refused.
pub fn read(path: &Path) -> Result<Spooled, SpoolError> {
    let malformed = |what| SpoolError::Malformed {
        path: path.to_owned(),
        what,
    };
    let mut file = File::open(path).map_err(SpoolError::io(path))?;
    let length = file.metadata().map_err(SpoolError::io(path))?.len();
    let mut header = Vec::with_capacity(HEADER_LEN);
    (&mut file)
        .take(HEADER_LEN as u64)
        .read_to_end(&mut header)
        .map_err(SpoolError::io(path))?;
    if header.len() < HEADER_LEN {
        // Shorter than a header, and what is there begins as one: the writer had only begun.
        return Err(if MAGIC.iter().zip(&header).all(|(m, h)| m == h) {
            SpoolError::Unstarted(path.to_owned())
        } else {
            malformed("not a spool file")
        });
    }
    let (magic, rest) = header.split_at(MAGIC.len());
    if magic != MAGIC {
        return Err(malformed("not a spool file"));
    }
    let (law, state, envelope_len) = match rest {
        [law, state, _, _, a, b, c, d] => (*law, *state, u32::from_le_bytes([*a, *b, *c, *d])),
        _ => return Err(malformed("header")),
    };
    let law = match law {
        0 => Law::Mu,
        1 => Law::A,
        _ => return Err(malformed("unknown law")),
    };
    let envelope_len = usize::try_from(envelope_len).unwrap_or(usize::MAX);
    if envelope_len > MAX_ENVELOPE {
        return Err(malformed("envelope too large"));
    }
    let mut envelope = vec![0u8; envelope_len];
    file.read_exact(&mut envelope)
        .map_err(|_| SpoolError::Unstarted(path.to_owned()))?;
    let before_audio = u64::try_from(HEADER_LEN + envelope_len).unwrap_or(u64::MAX);
    let audio_len = length.saturating_sub(before_audio);
    let max_samples = MAX_RECORDING.as_secs() * u64::from(CLOCK_RATE);
    if audio_len > max_samples {
        return Err(malformed("longer than any recording"));
    }
    let samples = usize::try_from(audio_len).map_err(|_| malformed("too large"))?;
    let mut wav = Vec::with_capacity(wav::G711_HEADER_LEN + samples + 1);
    wav::write_g711_header(law, samples, &mut wav)
        .map_err(|_| malformed("too large for a wav file"))?;
    let read = file
        .take(audio_len)
        .read_to_end(&mut wav)
        .map_err(SpoolError::io(path))?;
    if read != samples {
        return Err(malformed("changed while read"));
    }
    wav::pad(&mut wav, samples);
    Ok(Spooled {
        law,
        complete: state == COMPLETE,
        envelope,
        samples,
        wav,
    })
}

fn law_code(law: Law) -> u8 {
    match law {
        Law::Mu => 0,
        Law::A => 1,
    }
}

fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(SpoolError::io(dir))
}

/// One open file on the writer thread: the file, or why it could not be written.
struct Open {
    path: PathBuf,
    file: Result<File, SpoolError>,
}

impl Open {
    fn fail(&mut self, source: std::io::Error) {
        if self.file.is_ok() {
            let error = SpoolError::Io {
                path: self.path.clone(),
                source,
            };
            warn!(%error, "spool file not written");
            self.file = Err(error);
        }
    }
}

struct Writer {
    /// The spool directory, open: `syncfs` needs a descriptor on its filesystem.
    dir: File,
    path: PathBuf,
    files: HashMap<u64, Open>,
    /// Something was written since the last sync.
    dirty: bool,
}

impl Writer {
    fn run(mut self, commands: &mpsc::Receiver<Command>) {
        let mut next_sync = Instant::now() + SYNC_INTERVAL;
        loop {
            let wait = next_sync.saturating_duration_since(Instant::now());
            match commands.recv_timeout(wait) {
                Ok(command) => self.handle(command),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.sync();
                    return;
                }
            }
            if Instant::now() >= next_sync {
                self.sync();
                // A slow disk stretches the interval rather than queueing syncs.
                next_sync = Instant::now() + SYNC_INTERVAL;
            }
        }
    }

    fn handle(&mut self, command: Command) {
        self.dirty = true;
        match command {
            Command::Create { id, path, header } => {
                let file = create(&path, &header);
                self.files.insert(id, Open { path, file });
            }
            Command::Append { id, audio } => {
                if let Some(open) = self.files.get_mut(&id) {
                    if let Ok(file) = &mut open.file {
                        if let Err(source) = file.write_all(&audio) {
                            open.fail(source);
                        }
                    }
                }
            }
            Command::Close {
                id,
                complete,
                reply,
            } => {
                let result = match self.files.remove(&id) {
                    Some(open) => close(open, complete),
                    None => Err(SpoolError::Stopped),
                };
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                } else if let Err(error) = result {
                    warn!(%error, "partial spool file not closed");
                }
            }
        }
    }

    /// Makes everything written so far durable, directory entries included.
    fn sync(&mut self) {
        if !std::mem::take(&mut self.dirty) {
            return;
        }
        if let Err(error) = syncfs(&self.dir) {
            warn!(%error, path = %self.path.display(), "spool not synced");
        }
    }
}

#[cfg(target_os = "linux")]
fn syncfs(dir: &File) -> std::io::Result<()> {
    rustix::fs::syncfs(dir).map_err(std::io::Error::from)
}

/// Elsewhere, a sync of the whole system does what `syncfs` does for one filesystem.
#[cfg(not(target_os = "linux"))]
fn syncfs(_: &File) -> std::io::Result<()> {
    rustix::fs::sync();
    Ok(())
}

/// Marks a finished recording complete (a dropped tape's file stays in progress).
fn close(mut open: Open, complete: bool) -> Result<(), SpoolError> {
    if let (true, Ok(file)) = (complete, &open.file) {
        if let Err(source) = file.write_all_at(&[COMPLETE], STATE_AT) {
            open.fail(source);
        }
    }
    open.file.map(drop)
}

fn create(path: &Path, header: &[u8]) -> Result<File, SpoolError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(SpoolError::io(path))?;
    file.write_all(header).map_err(SpoolError::io(path))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn spool() -> (Spool, umbox_testkit::TempDir) {
        let dir = umbox_testkit::temp_dir("spool");
        let spool = Spool::start(&dir.path().join("spool")).unwrap();
        (spool, dir)
    }

    #[tokio::test]
    async fn a_closed_tape_reads_back_whole_and_complete() {
        let (spool, _dir) = spool();
        let mut tape = spool.create(Law::A, b"for alice").unwrap();
        let audio: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        tape.write(&audio[..12_345]);
        tape.write_silence(100);
        tape.write(&audio[12_345..]);
        let path = tape.close().wait().await.unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let spooled = read(&path).unwrap();
        assert!(spooled.complete);
        assert_eq!(spooled.law, Law::A);
        assert_eq!(spooled.envelope, b"for alice");
        assert_eq!(spooled.samples, 20_100);
        let expected = [&audio[..12_345], &[0xD5; 100][..], &audio[12_345..]].concat();
        let wav = wav::read(&spooled.wav).unwrap();
        assert_eq!(wav.format, wav::SampleFormat::G711(Law::A));
        assert_eq!(wav.data, expected.as_slice());
        assert_eq!(spool.leftovers().unwrap(), std::slice::from_ref(&path));
        spool.remove(&path).unwrap();
        assert!(spool.leftovers().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_dropped_tape_leaves_a_partial_file_with_everything_written() {
        let (spool, _dir) = spool();
        let mut tape = spool.create(Law::Mu, b"").unwrap();
        let path = tape.path().to_owned();
        tape.write(&[7; 100]);
        drop(tape);
        // The writer handles commands in order: once a later tape is closed, the first is too.
        spool
            .create(Law::Mu, b"x")
            .unwrap()
            .close()
            .wait()
            .await
            .unwrap();
        let spooled = read(&path).unwrap();
        assert!(!spooled.complete);
        assert_eq!(spooled.samples, 100);
        assert_eq!(wav::read(&spooled.wav).unwrap().data, [7; 100]);
    }

    #[test]
    fn what_is_not_a_spool_file_is_refused() {
        let dir = umbox_testkit::temp_dir("spool-bad");
        let path = dir.path().join("x.spool");
        for (bytes, what) in [
            (&b"short"[..], "not a spool file"),
            (b"NOTSPOOL\0\0\0\0\0\0\0\0", "not a spool file"),
            (b"UMBXSPL1\x07\0\0\0\0\0\0\0", "unknown law"),
            (b"UMBXSPL1\0\0\0\0\xff\xff\xff\xff", "envelope too large"),
        ] {
            std::fs::write(&path, bytes).unwrap();
            match read(&path) {
                Err(SpoolError::Malformed { what: found, .. }) => assert_eq!(found, what),
                other => panic!("{what}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_file_cut_off_before_its_envelope_is_unstarted() {
        let dir = umbox_testkit::temp_dir("spool-unstarted");
        let path = dir.path().join("x.spool");
        for bytes in [
            &b""[..],
            b"UMBX",
            b"UMBXSPL1\0\0",
            b"UMBXSPL1\0\0\0\0\x04\0\0\0ab",
        ] {
            std::fs::write(&path, bytes).unwrap();
            assert!(
                matches!(read(&path), Err(SpoolError::Unstarted(ref p)) if *p == path),
                "{bytes:?}"
            );
        }
    }
}
