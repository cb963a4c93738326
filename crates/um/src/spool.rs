//! The voicemail outbox over the recording spool (`media::spool`): what a spool file's envelope
//! says (whom the message is for, who called, which call, when it started), delivering a spooled
//! recording into the mailbox and removing its file only once the store commit has returned,
//! delivering what the last run left at start (a message cut off by a crash says so), and
//! retrying failed deliveries with back-off.
//!
//! `media` writes the files and never learns whose they are; this module decides what each
//! becomes, through `um::delivery` only. Never deletes a file whose message is not committed.
//! Entry points: [`Outbox::new`], [`Outbox::tape`], [`Outbox::deliver`], [`Outbox::recover`],
//! [`Outbox::retry`], [`Envelope`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::caller_id::{self, Presented};
use crate::delivery::{self, MissedCall, VoiceMessage};
use crate::metrics::CallMetrics;
use umbox_base::clock::Clock;
use umbox_base::directory::Directory;
use umbox_media::g711::Law;
use umbox_media::spool::{self, Closing, Spool, SpoolError, Tape};
use umbox_store::props::{contact, tags, PropTag, PropType, PropValue};
use umbox_store::{
    self as store, DistinguishedFolder, Item, ItemOrder, ItemView, MailStore, MailboxId,
};

/// The first retry of a failed delivery waits this long; each further one twice as long.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between two tries of a delivery.
pub const MAX_RETRY: Duration = Duration::from_secs(300);

/// Why a spooled message was not delivered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The spool file could not be written, read or removed.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// The envelope cannot be read.
    #[error("spool envelope: {0}")]
    Envelope(&'static str),
    /// The directory has no user with the envelope's address (any more).
    #[error("no user {0} in the directory")]
    NoRecipient(String),
    /// The store refused the message.
    #[error("store: {0}")]
    Store(#[from] store::Error),
    /// The blocking task ended without a result.
    #[error("delivery task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl Error {
    /// Whether trying again later can succeed: not for a file that is gone or unreadable.
    fn retryable(&self) -> bool {
        match self {
            Error::Spool(SpoolError::Io { source, .. }) => {
                source.kind() != std::io::ErrorKind::NotFound
            }
            Error::Spool(SpoolError::Stopped) | Error::NoRecipient(_) | Error::Store(_) => true,
            Error::Task(_) => true,
            Error::Spool(_) | Error::Envelope(_) => false,
        }
    }
}

/// What a spool file says besides its audio, written before the first sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The called user's primary SMTP address.
    pub recipient: String,
    /// The dial plan of the gateway the call came through (for caller-ID resolution).
    pub dial_plan: String,
    /// Who the call said was calling.
    pub caller: Presented,
    /// The SIP Call-ID.
    pub call_id: String,
    /// When the call was answered.
    pub started: SystemTime,
}

/// The envelope's format version.
const ENVELOPE_VERSION: u8 = 1;

impl Envelope {
    /// The envelope as bytes: a version byte, then each string as a little-endian u16 length
    /// and UTF-8 (the caller after a kind byte: 0 anonymous, 1 a number, 2 a SIP address), then
    /// the start in milliseconds since 1970.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![ENVELOPE_VERSION];
        put(&mut out, &self.recipient);
        put(&mut out, &self.dial_plan);
        match &self.caller {
            Presented::Anonymous => out.push(0),
            Presented::Number(number) => {
                out.push(1);
                put(&mut out, number);
            }
            Presented::Uri(uri) => {
                out.push(2);
                put(&mut out, uri);
            }
        }
        put(&mut out, &self.call_id);
        let millis = self.started.duration_since(UNIX_EPOCH).map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        });
        out.extend_from_slice(&millis.to_le_bytes());
        out
    }

    /// Reads an envelope written by [`Envelope::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Envelope, Error> {
        let mut reader = Reader { rest: bytes };
        if reader.byte()? != ENVELOPE_VERSION {
            return Err(Error::Envelope("unknown version"));
        }
        let recipient = reader.string()?;
        let dial_plan = reader.string()?;
        let caller = match reader.byte()? {
            0 => Presented::Anonymous,
            1 => Presented::Number(reader.string()?),
            2 => Presented::Uri(reader.string()?),
            _ => return Err(Error::Envelope("caller kind")),
        };
        let call_id = reader.string()?;
        let millis = reader.take(8)?;
        let millis = u64::from_le_bytes(
            millis
                .try_into()
                .map_err(|_| Error::Envelope("start time"))?,
        );
        if !reader.rest.is_empty() {
            return Err(Error::Envelope("trailing bytes"));
        }
        Ok(Envelope {
            recipient,
            dial_plan,
            caller,
            call_id,
            started: UNIX_EPOCH + Duration::from_millis(millis),
        })
    }
}

/// Appends `text` with its length; text longer than a u16 can say is cut at a character
/// boundary (no field of a call comes near it: SIP messages are capped far below).
fn put(out: &mut Vec<u8>, text: &str) {
    let mut end = text.len().min(usize::from(u16::MAX));
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let kept = text.get(..end).unwrap_or_default();
    let length = u16::try_from(kept.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(kept.as_bytes());
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], Error> {
        if self.rest.len() < count {
            return Err(Error::Envelope("cut short"));
        }
        let (taken, rest) = self.rest.split_at(count);
        self.rest = rest;
        Ok(taken)
    }

    fn byte(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?.first().copied().unwrap_or_default())
    }

    fn string(&mut self) -> Result<String, Error> {
        let length = self.take(2)?;
        let length = u16::from_le_bytes([
            length.first().copied().unwrap_or_default(),
            length.get(1).copied().unwrap_or_default(),
        ]);
        let text = self.take(usize::from(length))?;
        String::from_utf8(text.to_vec()).map_err(|_| Error::Envelope("not utf-8"))
    }
}

/// What the store got for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// A voice message.
    VoiceMessage,
    /// A missed-call notification (nothing long enough was recorded).
    MissedCall,
    /// Nothing was due (no recording and a policy without missed-call notifications).
    Nothing,
}

impl Delivered {
    /// The name used in log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivered::VoiceMessage => "voice-message",
            Delivered::MissedCall => "missed-call",
            Delivered::Nothing => "nothing",
        }
    }
}

/// A finished call's audio for [`settle`].
#[derive(Debug)]
pub(crate) struct Audio {
    /// The WAV file.
    pub(crate) wav: Vec<u8>,
    /// Its length.
    pub(crate) duration: Duration,
    /// Cut off by a crash or a stop before the recording ended.
    pub(crate) partial: bool,
}

/// Decides what a finished call leaves in `envelope.recipient`'s mailbox and writes it with one
/// store change (blocking): a voice message when `audio` is at least the policy's minimum, else
/// a missed-call notification when the policy and the user's own switch allow one (a user
/// without a UM policy any more gets what was recorded, and a notification unless switched off).
pub(crate) fn settle(
    store: &dyn MailStore,
    directory: &Directory,
    envelope: &Envelope,
    audio: Option<Audio>,
    now: SystemTime,
) -> Result<Delivered, Error> {
    let user = directory
        .user_by_address(&envelope.recipient)
        .ok_or_else(|| Error::NoRecipient(envelope.recipient.clone()))?;
    let policy = user
        .um_policy
        .as_deref()
        .and_then(|name| directory.policies.iter().find(|p| p.name == name));
    let minimum = Duration::from_secs(policy.map_or(0, |p| u64::from(p.min_message_seconds)));
    let notify_missed =
        user.missed_call_notifications && policy.is_none_or(|p| p.allow_missed_call_notifications);
    let audio = audio.filter(|audio| !audio.wav.is_empty() && audio.duration >= minimum);
    if audio.is_none() && !notify_missed {
        return Ok(Delivered::Nothing);
    }
    let mailbox_id = MailboxId::new(&user.address);
    let (contacts, email_tags) = personal_contacts(store, &mailbox_id);
    let contacts = caller_id::Contacts {
        items: &contacts,
        email_tags: &email_tags,
    };
    let caller = caller_id::resolve(directory, &envelope.dial_plan, &envelope.caller, contacts);
    let call_id = envelope.call_id.clone();
    match audio {
        Some(audio) => {
            let message = VoiceMessage {
                caller,
                duration: audio.duration,
                call_id,
                wav: audio.wav,
                received: now,
                partial: audio.partial,
            };
            delivery::deliver(store, user, message, now)?;
            Ok(Delivered::VoiceMessage)
        }
        None => {
            let missed = MissedCall {
                caller,
                call_id,
                received: now,
            };
            delivery::notify_missed_call(store, user, &missed, now)?;
            Ok(Delivered::MissedCall)
        }
    }
}

/// The items of `mailbox`'s Contacts folder and its tags of the contacts' e-mail addresses, for
/// caller-ID; a failure to read them costs the caller's name, never the message.
fn personal_contacts(store: &dyn MailStore, mailbox: &MailboxId) -> (Vec<Item>, Vec<PropTag>) {
    let items = store
        .distinguished_folder(mailbox, DistinguishedFolder::Contacts)
        .and_then(|folder| store.items(mailbox, folder))
        .unwrap_or_else(|error| {
            warn!(%error, "contacts not read for caller id");
            Vec::new()
        });
    let email_tags = store
        .named_property_ids(mailbox, &contact::email_addresses())
        .unwrap_or_else(|error| {
            warn!(%error, "contact e-mail properties not read for caller id");
            Vec::new()
        })
        .into_iter()
        .flatten()
        .map(|id| PropTag::new(id, PropType::Unicode))
        .collect();
    (items, email_tags)
}

/// The recording spool as the call handler sees it; clones share it.
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
    failed: mpsc::UnboundedSender<PathBuf>,
}

struct Inner {
    spool: Spool,
    store: Arc<dyn MailStore>,
    directory: watch::Receiver<Arc<Directory>>,
    clock: Arc<dyn Clock>,
    metrics: CallMetrics,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("dir", &self.inner.spool.dir())
            .finish_non_exhaustive()
    }
}

/// Failed deliveries waiting for [`Outbox::retry`].
#[derive(Debug)]
pub struct Failed(mpsc::UnboundedReceiver<PathBuf>);

impl Outbox {
    /// The outbox over `spool`; failed deliveries queue in the returned [`Failed`] until
    /// [`Outbox::retry`] runs. Counts the files already waiting in the spool depth.
    pub fn new(
        spool: Spool,
        store: Arc<dyn MailStore>,
        directory: watch::Receiver<Arc<Directory>>,
        clock: Arc<dyn Clock>,
        metrics: CallMetrics,
    ) -> Result<(Outbox, Failed), Error> {
        let waiting = spool.leftovers()?.len();
        metrics.spool_depth(waiting);
        let (failed, queue) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            spool,
            store,
            directory,
            clock,
            metrics,
        });
        Ok((Outbox { inner, failed }, Failed(queue)))
    }

    /// A spool file for a call's message, its envelope written first.
    pub fn tape(&self, law: Law, envelope: &Envelope) -> Result<Tape, Error> {
        let tape = self.inner.spool.create(law, &envelope.encode())?;
        self.inner.metrics.spooled();
        Ok(tape)
    }

    /// Delivers a call's closed recording from its file; on failure the file stays and waits
    /// for [`Outbox::retry`].
    pub async fn deliver(&self, closing: Closing) -> Result<Delivered, Error> {
        let path = closing.path().to_owned();
        let result = match closing.wait().await {
            Ok(path) => self.deliver_file(path, Earlier::Impossible).await,
            Err(error) => Err(Error::Spool(error)),
        };
        if result.as_ref().is_err_and(Error::retryable) {
            let _ = self.failed.send(path);
        }
        result
    }

    /// Delivers every file the last run left (a recording cut off says so); those that fail
    /// wait for [`Outbox::retry`]. Runs before any call is taken. Returns how many were delivered.
    pub async fn recover(&self) -> Result<usize, Error> {
        let spool = self.inner.spool.clone();
        let leftovers = tokio::task::spawn_blocking(move || spool.leftovers()).await??;
        let mut delivered = 0;
        for path in leftovers {
            match self.deliver_file(path.clone(), Earlier::Possible).await {
                Ok(outcome) => {
                    delivered += 1;
                    info!(path = %path.display(), outcome = outcome.as_str(), "spooled call delivered");
                }
                Err(error) if error.retryable() => {
                    warn!(%error, path = %path.display(), "spooled call not delivered; will retry");
                    let _ = self.failed.send(path);
                }
                Err(error) => {
                    warn!(%error, path = %path.display(), "spool file cannot be delivered; kept");
                }
            }
        }
        Ok(delivered)
    }

    /// Tries failed deliveries again, the first after [`FIRST_RETRY`], then twice as long each
    /// time up to [`MAX_RETRY`], until each succeeds; runs until dropped.
    pub async fn retry(self, failed: Failed) {
        let Failed(mut queue) = failed;
        let mut waiting: Vec<Waiting> = Vec::new();
        loop {
            let next = waiting.iter().map(|w| w.due).min();
            tokio::select! {
                path = queue.recv() => match path {
                    Some(path) => waiting.push(Waiting { path, tries: 1, due: Instant::now() + FIRST_RETRY }),
                    // Every sender is gone: nothing more can fail, and nothing can be delivered.
                    None => return,
                },
                () = sleep_until(next), if next.is_some() => {
                    let now = Instant::now();
                    let (due, later): (Vec<_>, Vec<_>) = waiting.into_iter().partition(|w| w.due <= now);
                    waiting = later;
                    for mut entry in due {
                        self.inner.metrics.retried();
                        match self.deliver_file(entry.path.clone(), Earlier::Possible).await {
                            Ok(outcome) => info!(
                                path = %entry.path.display(),
                                tries = entry.tries + 1,
                                outcome = outcome.as_str(),
                                "spooled call delivered"
                            ),
                            Err(error) if !error.retryable() => warn!(
                                %error,
                                path = %entry.path.display(),
                                "spool file cannot be delivered; no more retries"
                            ),
                            Err(error) => {
                                let wait = backoff(entry.tries);
                                warn!(
                                    %error,
                                    path = %entry.path.display(),
                                    tries = entry.tries + 1,
                                    retry_in_seconds = wait.as_secs(),
                                    "spooled call not delivered"
                                );
                                entry.tries += 1;
                                entry.due = Instant::now() + wait;
                                waiting.push(entry);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Reads `path`, writes what it holds into the mailbox, and removes it once committed.
    async fn deliver_file(&self, path: PathBuf, earlier: Earlier) -> Result<Delivered, Error> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.deliver_file(&path, earlier)).await?
    }
}

/// Whether a spool file's message may already be in the mailbox: when a run committed it and
/// stopped before removing the file (a crash, or a removal that failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Earlier {
    /// The file comes from a run that may have committed it, or from a failed try.
    Possible,
    /// The file was closed by this run and never tried.
    Impossible,
}

/// The newest Inbox items searched for a spooled call's message before it is delivered from a
/// file that may have been delivered already. A message committed just before a crash is among
/// the newest: delivery creates the item in the Inbox, and nothing was delivered after it, as
/// the leftovers are delivered before any call is taken.
const EARLIER_DELIVERY_WINDOW: u64 = 64;

impl Inner {
    fn deliver_file(&self, path: &Path, earlier: Earlier) -> Result<Delivered, Error> {
        let spooled = match spool::read(path) {
            Err(SpoolError::Unstarted(_)) => {
                // No envelope means no recipient and no audio: there is nothing to deliver.
                self.spool.remove(path)?;
                self.metrics.unspooled();
                info!(path = %path.display(), "spool file cut off before its envelope removed");
                return Ok(Delivered::Nothing);
            }
            read => read?,
        };
        let envelope = Envelope::decode(&spooled.envelope)?;
        let directory = self.directory.borrow().clone();
        if earlier == Earlier::Possible && self.delivered_earlier(&directory, &envelope)? {
            self.spool.remove(path)?;
            self.metrics.unspooled();
            info!(call_id = %envelope.call_id, path = %path.display(), "spooled call was delivered before the stop; file removed");
            return Ok(Delivered::Nothing);
        }
        let duration = spooled.duration();
        let partial = !spooled.complete;
        let audio = Audio {
            wav: if spooled.samples == 0 {
                Vec::new()
            } else {
                spooled.wav
            },
            duration,
            partial,
        };
        let now = self.clock.now();
        let delivered = settle(self.store.as_ref(), &directory, &envelope, Some(audio), now)?;
        // The message is committed: from here on a failure must not deliver it twice.
        match self.spool.remove(path) {
            Ok(()) => self.metrics.unspooled(),
            Err(error) => warn!(%error, "delivered spool file not removed"),
        }
        if partial {
            info!(call_id = %envelope.call_id, seconds = duration.as_secs(), "partial recording delivered");
        }
        Ok(delivered)
    }

    /// Whether the recipient's newest Inbox items hold one from the envelope's call.
    fn delivered_earlier(&self, directory: &Directory, envelope: &Envelope) -> Result<bool, Error> {
        let Some(user) = directory.user_by_address(&envelope.recipient) else {
            return Ok(false);
        };
        let mailbox = MailboxId::new(&user.address);
        let inbox = self
            .store
            .distinguished_folder(&mailbox, DistinguishedFolder::Inbox)?;
        let view = ItemView {
            order: ItemOrder::Id,
            descending: true,
            unread_only: false,
            offset: 0,
            limit: EARLIER_DELIVERY_WINDOW,
        };
        let page = self.store.item_page(&mailbox, inbox, &view)?;
        Ok(page.items.iter().any(|item| {
            matches!(item.props.get(tags::CALL_ID), Some(PropValue::Unicode(id)) if *id == envelope.call_id)
        }))
    }
}

struct Waiting {
    path: PathBuf,
    tries: u32,
    due: Instant,
}

/// The wait after the `tries`-th failure.
fn backoff(tries: u32) -> Duration {
    FIRST_RETRY
        .saturating_mul(2u32.saturating_pow(tries.min(16)))
        .min(MAX_RETRY)
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(deadline).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_and_bad_ones_are_refused() {
        let envelope = Envelope {
            recipient: "alice@example.test".into(),
            dial_plan: "default".into(),
            caller: Presented::Number("+14255550102".into()),
            call_id: "abc@pbx".into(),
            started: UNIX_EPOCH + Duration::from_millis(1_795_392_000_123),
        };
        let bytes = envelope.encode();
        assert_eq!(Envelope::decode(&bytes).unwrap(), envelope);
        for caller in [
            Presented::Anonymous,
            Presented::Uri("sip:carol@example.net".into()),
        ] {
            let other = Envelope {
                caller,
                ..envelope.clone()
            };
            assert_eq!(Envelope::decode(&other.encode()).unwrap(), other);
        }
        for cut in 0..bytes.len() {
            assert!(Envelope::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(Envelope::decode(&trailing).is_err());
        let mut version = bytes;
        version[0] = 9;
        assert!(Envelope::decode(&version).is_err());
    }

    #[test]
    fn retries_back_off_to_a_ceiling() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(4), Duration::from_secs(16));
        assert_eq!(backoff(9), MAX_RETRY);
        assert_eq!(backoff(u32::MAX), MAX_RETRY);
    }

    #[tokio::test]
    async fn a_file_whose_message_was_committed_is_removed_at_start_not_delivered_again() {
        use umbox_base::clock::FixedClock;
        use umbox_store::RedbStore;

        let dir = umbox_testkit::temp_dir("outbox-earlier");
        let now = UNIX_EPOCH + Duration::from_secs(1_795_392_000);
        let store = Arc::new(RedbStore::open(dir.path(), store::Options::default()).unwrap());
        let directory = Arc::new(Directory::demo().unwrap());
        let alice = MailboxId::new(&directory.users[0].address);
        store.ensure_mailbox(&alice, now).unwrap();
        let outbox = |spool: &Path| {
            Outbox::new(
                Spool::start(spool).unwrap(),
                store.clone(),
                watch::channel(directory.clone()).1,
                Arc::new(FixedClock(now)),
                CallMetrics::default(),
            )
            .unwrap()
            .0
        };
        let spool = dir.path().join("spool");
        let envelope = Envelope {
            recipient: directory.users[0].address.clone(),
            dial_plan: "default".into(),
            caller: Presented::Number("+14255550102".into()),
            call_id: "committed@pbx".into(),
            started: now,
        };
        let running = outbox(&spool);
        let mut tape = running.tape(Law::Mu, &envelope).unwrap();
        tape.write(&[0x55; 16_000]);
        let closing = tape.close();
        let file = closing.path().to_owned();
        let copy = dir.path().join("copy.spool");
        // The file as the crashed run left it: its message committed, the file still there.
        let path = closing.wait().await.unwrap();
        std::fs::copy(&path, &copy).unwrap();
        let delivered = running
            .inner
            .deliver_file(&path, Earlier::Impossible)
            .unwrap();
        assert_eq!(delivered, Delivered::VoiceMessage);
        drop(running);
        std::fs::rename(&copy, &file).unwrap();

        let restarted = outbox(&spool);
        assert_eq!(restarted.recover().await.unwrap(), 1);
        assert!(!file.exists(), "the leftover is removed");
        let inbox = store
            .distinguished_folder(&alice, DistinguishedFolder::Inbox)
            .unwrap();
        assert_eq!(
            store.items(&alice, inbox).unwrap().len(),
            1,
            "delivered once"
        );

        // A leftover whose message is not in the mailbox is delivered.
        let other = Envelope {
            call_id: "not-committed@pbx".into(),
            ..envelope
        };
        let mut tape = restarted.tape(Law::Mu, &other).unwrap();
        tape.write(&[0x55; 16_000]);
        tape.close().wait().await.unwrap();
        drop(restarted);
        assert_eq!(outbox(&spool).recover().await.unwrap(), 1);
        assert_eq!(store.items(&alice, inbox).unwrap().len(), 2);
    }
}
