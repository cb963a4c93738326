//! Subscriber access (Exchange's Outlook Voice Access): a call to the pilot number with no
//! forwarding information, where a user logs in with a PIN and listens to voice mail by touch
//! tone.
//!
//! [`run`] drives the pure menus of `um::access::menu` on the call's `media::Conversation`: each
//! [`Command`] is carried out here and answered with the [`Input`] it asks for. PINs are checked
//! against the directory's argon2 hashes (on [`PIN_CHECKS`] threads of their own, so a burst of
//! logins cannot take all memory) and failures are counted in the directory file through
//! `DirectoryFile::update`, which the admin CLI also writes (`umbox user reset-pin` unlocks).
//! Voice messages are read from the voicemail search folder; marking and deleting are each one
//! `MailStore::apply`, so EWS sees them at once and notifications follow from the change log.
//! `#` alone at the first prompt hands the call to the leave-a-message flow.
//!
//! Never sees SIP; blocking work (store, argon2, the directory file) runs on the blocking pool
//! while the conversation keeps the stream going.

pub mod menu;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::sync::Mutex;

use tokio::sync::oneshot;
use tracing::{info, warn};

use self::menu::{Clip, Command, Envelope, Input, Menu, PinCheck, Say, Sender, Subscriber};
use crate::caller_id::Presented;
use crate::greetings::{self, GreetingKind};
use umbox_base::clock::Clock;
use umbox_base::directory::{check_pin, Directory, DirectoryFile, Pin};
use umbox_media::g711::Law;
use umbox_media::leg::{MediaStats, Stop};
use umbox_media::playout::{Playlist, Segment};
use umbox_media::prompts::{Prompt, Weekday};
use umbox_media::wav;
use umbox_media::{Conversation, DirectOutcome, DirectPlan, MailboxLookup, Timeouts};
use umbox_store::props::{tags, PropValue};
use umbox_store::{self as store, Change, DistinguishedFolder, ItemId, MailStore, MailboxId};

/// Threads that check PINs: argon2 takes about 19 MiB and tens of milliseconds a check, and the
/// allocator keeps that much per thread that ever ran one, so the checks run on these few
/// threads of their own, not on the blocking pool's hundreds.
pub const PIN_CHECKS: usize = 4;
/// The longest greeting recorded by phone.
pub const MAX_GREETING: Duration = Duration::from_secs(120);
/// The longest recorded name.
pub const MAX_NAME: Duration = Duration::from_secs(10);
/// Level below which audio counts as silence in greetings (as in messages).
const SILENCE_DBFS: f32 = -40.0;

/// What every access call shares; built once by `server`.
#[derive(Debug)]
pub struct Resources {
    /// The directory file, where PIN failures and new PINs are written.
    pub directory_file: DirectoryFile,
    pin_checks: PinChecks,
}

impl Resources {
    /// Resources writing to `directory_file`; starts the [`PIN_CHECKS`] threads, which end when
    /// the resources are dropped.
    pub fn new(directory_file: DirectoryFile) -> Resources {
        Resources {
            directory_file,
            pin_checks: PinChecks::start(),
        }
    }
}

/// A PIN check for the checking threads: the PIN, the digits typed, where the verdict goes.
type PinJob = (Pin, String, oneshot::Sender<bool>);

/// The PIN-checking threads' queue. It holds at most one job per call in progress, so it is as
/// bounded as the calls are.
#[derive(Debug)]
struct PinChecks {
    jobs: Mutex<std::sync::mpsc::Sender<PinJob>>,
}

impl PinChecks {
    fn start() -> PinChecks {
        let (jobs, queue) = std::sync::mpsc::channel::<PinJob>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..PIN_CHECKS {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("pin-check-{n}"))
                .spawn(move || loop {
                    let job = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    let Ok((pin, digits, verdict)) = job else {
                        return;
                    };
                    let _ = verdict.send(pin.verify(&digits));
                });
            if let Err(error) = spawned {
                warn!(%error, "PIN check thread not started");
            }
        }
        PinChecks {
            jobs: Mutex::new(jobs),
        }
    }

    /// Whether `digits` are `pin`; `false` when no checking thread runs.
    async fn verify(&self, pin: Pin, digits: String) -> bool {
        let (verdict, answer) = oneshot::channel();
        let queued = match self.jobs.lock() {
            Ok(jobs) => jobs.send((pin, digits, verdict)).is_ok(),
            Err(_) => false,
        };
        queued && answer.await.unwrap_or(false)
    }
}

/// What one access call works with.
#[derive(Clone)]
pub struct Access {
    /// The shared resources.
    pub resources: Arc<Resources>,
    /// The mailbox store.
    pub store: Arc<dyn MailStore>,
    /// The directory as the call started.
    pub directory: Arc<Directory>,
    /// The dial plan of the gateway that placed the call.
    pub dial_plan: String,
    /// When changes are stamped.
    pub clock: Arc<dyn Clock>,
    /// Key timeouts.
    pub timeouts: Timeouts,
    /// Silence that ends a greeting recording.
    pub silence_timeout: Duration,
    /// The leave-a-message flow's extension entry.
    pub direct: DirectPlan,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("dial_plan", &self.dial_plan)
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

/// How an access call ended.
#[derive(Debug)]
pub enum Outcome<M> {
    /// The caller chose to leave a message; the direct flow's result.
    LeftMessage(DirectOutcome<M>),
    /// The call ended in the menus.
    Ended {
        /// Who logged in, if anybody.
        subscriber: Option<String>,
        /// Counters of the call's media.
        stats: MediaStats,
    },
}

/// The subscriber whose caller ID this is: a UM-enabled user (one with a policy) found by the
/// calling number in the call's dial plan, or by the caller's SIP address.
pub fn subscriber_of(
    directory: &Directory,
    dial_plan: &str,
    caller: &Presented,
) -> Option<Subscriber> {
    let caller = crate::caller_id::resolve(directory, dial_plan, caller, Default::default());
    let user = directory.user_by_address(caller.address.as_deref()?)?;
    directory.policy_of(user)?;
    Some(Subscriber {
        address: user.address.clone(),
    })
}

/// Runs the menus on `conversation` until the call ends or the caller leaves a message (then
/// `lookup` finds the mailbox, as on a direct call).
pub async fn run<L: MailboxLookup>(
    mut conversation: Conversation,
    access: Access,
    caller: Option<Subscriber>,
    lookup: L,
) -> Outcome<L::Mailbox> {
    let mut call = Call {
        access,
        logged_in: None,
        failure_counted: None,
    };
    let mut menu = Menu::new(caller);
    let mut command = menu.start();
    loop {
        let input = match command {
            Command::LeaveMessage => {
                let plan = call.access.direct;
                return Outcome::LeftMessage(conversation.leave_message(plan, &lookup).await);
            }
            Command::Hangup(say) => {
                // Hung up meanwhile: nothing left to say.
                let playlist = call
                    .render(&mut conversation, say)
                    .await
                    .unwrap_or_default();
                let stats = conversation.close(playlist).await;
                return call.ended(stats);
            }
            other => call.execute(&mut conversation, other).await,
        };
        match input {
            Ok(input) => command = menu.on(input),
            Err(_) => {
                let stats = conversation.close(Playlist::default()).await;
                return call.ended(stats);
            }
        }
    }
}

/// One call's state beyond the menus.
struct Call {
    access: Access,
    /// Set once a PIN was accepted.
    logged_in: Option<Subscriber>,
    /// The mailbox whose failure count this call has already raised (once per call).
    failure_counted: Option<String>,
}

impl Call {
    fn ended<M>(&self, stats: MediaStats) -> Outcome<M> {
        Outcome::Ended {
            subscriber: self.logged_in.as_ref().map(|s| s.address.clone()),
            stats,
        }
    }

    async fn execute(
        &mut self,
        conversation: &mut Conversation,
        command: Command,
    ) -> Result<Input, Stop> {
        let timeouts = self.access.timeouts;
        Ok(match command {
            Command::AskKey(say) => {
                let playlist = self.render(conversation, say).await?;
                Input::Key(conversation.ask_key(playlist, timeouts.first_key).await?)
            }
            Command::AskDigits(say) => {
                let playlist = self.render(conversation, say).await?;
                Input::Entry(conversation.ask_digits(playlist, timeouts).await?)
            }
            Command::FindMailbox(digits) => {
                let directory = &self.access.directory;
                let found = directory
                    .user_by_extension(&self.access.dial_plan, &digits)
                    .filter(|user| directory.policy_of(user).is_some())
                    .map(|user| Subscriber {
                        address: user.address.clone(),
                    });
                Input::Mailbox(found)
            }
            Command::CheckPin { subscriber, digits } => {
                let check = self.check_pin(conversation, &subscriber, digits).await?;
                if check == PinCheck::Accepted {
                    tracing::Span::current().record("mailbox", subscriber.address.as_str());
                    self.logged_in = Some(subscriber);
                }
                Input::Pin(check)
            }
            Command::LoadMessages => {
                let messages = match self.mailbox() {
                    Some(mailbox) => {
                        let store = self.access.store.clone();
                        let law = conversation.law();
                        let read = blocking(move || load_messages(store.as_ref(), &mailbox, law));
                        conversation.wait_for(read).await?.unwrap_or_else(|error| {
                            warn!(%error, "voice messages not read");
                            Vec::new()
                        })
                    }
                    None => Vec::new(),
                };
                Input::Messages(messages)
            }
            Command::MarkRead { item, read } => {
                self.change(conversation, move |_, _| {
                    Ok(Change::SetReadFlag {
                        items: vec![item],
                        read,
                    })
                })
                .await?
            }
            Command::Delete { item } => {
                self.change(conversation, move |store, mailbox| {
                    let to =
                        store.distinguished_folder(mailbox, DistinguishedFolder::DeletedItems)?;
                    Ok(Change::MoveItem { item, to })
                })
                .await?
            }
            Command::Record(kind) => {
                let prompts = conversation.prompts().clone();
                let mut intro = Playlist::default();
                intro.push_prompt(&prompts, Prompt::RecordAfterTone);
                // A key only skips the instruction; the recording starts after the beep.
                conversation.play(intro).await?;
                let max = match kind {
                    GreetingKind::Name => MAX_NAME,
                    GreetingKind::Unavailable | GreetingKind::Away => MAX_GREETING,
                };
                let recording = conversation
                    .record(max, self.access.silence_timeout, SILENCE_DBFS)
                    .await?;
                let clip = (!recording.audio.is_empty()).then(|| Clip {
                    law: recording.law,
                    codes: Arc::from(recording.audio),
                });
                Input::Recording(clip)
            }
            Command::Save(kind, clip) => self.save(conversation, kind, clip).await?,
            Command::ChangePin(digits) => {
                let taken = self.change_pin(conversation, digits).await?;
                Input::PinChanged(taken)
            }
            // Final commands are handled by `run`; reaching here would be a bug in it.
            Command::LeaveMessage | Command::Hangup(_) => Input::Done,
        })
    }

    fn mailbox(&self) -> Option<MailboxId> {
        self.logged_in
            .as_ref()
            .map(|subscriber| MailboxId::new(&subscriber.address))
    }

    /// Applies one change to the logged-in mailbox on the blocking pool.
    async fn change(
        &self,
        conversation: &mut Conversation,
        make: impl FnOnce(&dyn MailStore, &MailboxId) -> Result<Change, store::Error> + Send + 'static,
    ) -> Result<Input, Stop> {
        let Some(mailbox) = self.mailbox() else {
            return Ok(Input::Done);
        };
        let store = self.access.store.clone();
        let now = self.access.clock.now();
        let apply = blocking(move || {
            let change = make(store.as_ref(), &mailbox)?;
            store.apply(&mailbox, change, now).map(|_| ())
        });
        if let Err(error) = conversation.wait_for(apply).await? {
            warn!(%error, "mailbox change failed");
        }
        Ok(Input::Done)
    }

    /// Stores a recording as the subscriber's greeting or name (a WAV of the call's G.711, as
    /// recorded), through `um::greetings`: one `MailStore::apply`.
    async fn save(
        &self,
        conversation: &mut Conversation,
        kind: GreetingKind,
        clip: Clip,
    ) -> Result<Input, Stop> {
        let Some(mailbox) = self.mailbox() else {
            return Ok(Input::Done);
        };
        let store = self.access.store.clone();
        let now = self.access.clock.now();
        let write = blocking(move || {
            let wav = wav::write_g711(clip.law, &clip.codes)
                .map_err(|error| greetings::Error::Refused(error.to_string()))?;
            greetings::write(store.as_ref(), &mailbox, kind, wav, now)
        });
        match conversation.wait_for(write).await? {
            Ok(()) => info!(kind = kind.as_str(), "greeting recorded by phone"),
            Err(error) => warn!(%error, "greeting not stored"),
        }
        Ok(Input::Done)
    }

    /// Checks `digits` against the subscriber's PIN and counts the outcome: the first wrong PIN
    /// of a call raises the failed-call count (a hang-up after it still counts), the count
    /// reaching the policy's threshold locks the PIN, and a right PIN clears the count.
    async fn check_pin(
        &mut self,
        conversation: &mut Conversation,
        subscriber: &Subscriber,
        digits: String,
    ) -> Result<PinCheck, Stop> {
        let directory = &self.access.directory;
        let Some(user) = directory.user_by_address(&subscriber.address) else {
            return Ok(PinCheck::Wrong);
        };
        let threshold = directory
            .policy_of(user)
            .map_or(u32::MAX, |policy| policy.pin_lockout_calls);
        let Some(pin) = user.pin.clone() else {
            info!("no PIN set");
            return Ok(PinCheck::Wrong);
        };
        if pin.locked {
            return Ok(PinCheck::Locked);
        }
        let hash = pin.hash.clone();
        let clean = pin.failed_calls == 0;
        let checks = &self.access.resources.pin_checks;
        let right = conversation.wait_for(checks.verify(pin, digits)).await?;
        let count = if right {
            (!clean).then_some(Count::Clear)
        } else if self.failure_counted.as_deref() != Some(subscriber.address.as_str()) {
            self.failure_counted = Some(subscriber.address.clone());
            Some(Count::FailedCall { threshold })
        } else {
            None
        };
        let mut locked = false;
        if let Some(count) = count {
            let file = self.access.resources.directory_file.clone();
            let address = subscriber.address.clone();
            let record = blocking(move || count.record(&file, &address, &hash));
            match conversation.wait_for(record).await? {
                Ok(now_locked) => locked = now_locked,
                Err(error) => warn!(%error, "PIN outcome not recorded"),
            }
        }
        Ok(match (right, locked) {
            (_, true) => {
                info!("PIN locked");
                PinCheck::Locked
            }
            (true, false) => PinCheck::Accepted,
            (false, false) => PinCheck::Wrong,
        })
    }

    /// Replaces the logged-in subscriber's PIN when the policy accepts `digits`.
    async fn change_pin(
        &self,
        conversation: &mut Conversation,
        digits: String,
    ) -> Result<bool, Stop> {
        let directory = &self.access.directory;
        let Some(user) = self
            .logged_in
            .as_ref()
            .and_then(|s| directory.user_by_address(&s.address))
        else {
            return Ok(false);
        };
        let Some(policy) = directory.policy_of(user) else {
            return Ok(false);
        };
        if check_pin(&digits, policy).is_err() {
            return Ok(false);
        }
        let file = self.access.resources.directory_file.clone();
        let address = user.address.clone();
        let write = blocking(move || {
            let pin = Pin::new(&digits)?;
            file.update(|d| {
                if let Some(user) = d.users.iter_mut().find(|u| u.has_address(&address)) {
                    user.pin = Some(pin);
                }
                Ok(())
            })
        });
        match conversation.wait_for(write).await? {
            Ok(()) => {
                info!("PIN changed by phone");
                Ok(true)
            }
            Err(error) => {
                warn!(%error, "PIN not changed");
                Ok(false)
            }
        }
    }

    /// Turns what the menus say into audio; message audio is read from the store.
    async fn render(
        &self,
        conversation: &mut Conversation,
        say: Vec<Say>,
    ) -> Result<Playlist, Stop> {
        let prompts = conversation.prompts().clone();
        let law = conversation.law();
        let mut playlist = Playlist::default();
        for piece in say {
            match piece {
                Say::Prompt(prompt) => {
                    playlist.push_prompt(&prompts, prompt);
                    playlist.push_pause();
                }
                Say::Number(n) => playlist.push_number(&prompts, n),
                Say::Digits(digits) => playlist.push_digits(&prompts, &digits),
                Say::When(time) => {
                    let (day, hour, minute) = day_time(time);
                    playlist.push_day_time(&prompts, day, hour, minute);
                    playlist.push_pause();
                }
                Say::Clip(clip) => {
                    playlist.push(Segment::Clip {
                        law: clip.law,
                        codes: clip.codes,
                    });
                    playlist.push_pause();
                }
                Say::Message(item) => {
                    let Some(mailbox) = self.mailbox() else {
                        continue;
                    };
                    let store = self.access.store.clone();
                    let read = blocking(move || message_audio(store.as_ref(), &mailbox, item, law));
                    match conversation.wait_for(read).await? {
                        Ok(Some(codes)) => {
                            playlist.push(Segment::Clip {
                                law,
                                codes: codes.into(),
                            });
                            playlist.push_pause();
                        }
                        Ok(None) => {}
                        Err(error) => warn!(%error, "message audio not read"),
                    }
                }
            }
        }
        Ok(playlist)
    }
}

/// How a PIN outcome changes the stored count.
#[derive(Debug, Clone, Copy)]
enum Count {
    /// A right PIN after failures: back to zero.
    Clear,
    /// This call's first wrong PIN.
    FailedCall { threshold: u32 },
}

impl Count {
    /// Writes the outcome under the directory file's lock; returns whether the PIN is locked.
    /// A PIN replaced since the call read it (its hash differs) is left alone.
    fn record(
        self,
        file: &DirectoryFile,
        address: &str,
        hash: &str,
    ) -> Result<bool, umbox_base::directory::Error> {
        file.update(|d| {
            let pin = d
                .users
                .iter_mut()
                .find(|u| u.has_address(address))
                .and_then(|u| u.pin.as_mut())
                .filter(|pin| pin.hash == hash);
            let Some(pin) = pin else {
                return Ok(false);
            };
            if pin.locked {
                // Locked since the call read the directory: only an administrator unlocks.
                return Ok(true);
            }
            match self {
                Count::Clear => pin.failed_calls = 0,
                Count::FailedCall { threshold } => {
                    pin.failed_calls = pin.failed_calls.saturating_add(1);
                    if pin.failed_calls >= threshold {
                        pin.locked = true;
                    }
                }
            }
            Ok(pin.locked)
        })
    }
}

/// Why a step of an access call could not be carried out; logged, and the menus carry on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The mailbox store failed.
    #[error("store: {0}")]
    Store(#[from] store::Error),
    /// The directory file could not be updated.
    #[error("directory: {0}")]
    Directory(#[from] umbox_base::directory::Error),
    /// A greeting could not be stored.
    #[error("greeting: {0}")]
    Greeting(#[from] greetings::Error),
    /// The blocking task ended without a result (it panicked).
    #[error("blocking task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Runs blocking work on the blocking pool.
async fn blocking<T: Send + 'static, E: Into<Error> + Send + 'static>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work).await?.map_err(Into::into)
}

/// The voice messages of `mailbox` in playing order: unread first, then read, each oldest
/// first. The voicemail search folder spans the whole mailbox; what was deleted (moved to
/// Deleted Items) is not played again. A message from a user who recorded a name is announced
/// with that name (in `law`), else with the calling number.
fn load_messages(
    store: &dyn MailStore,
    mailbox: &MailboxId,
    law: Law,
) -> Result<Vec<Envelope>, store::Error> {
    let mut names: std::collections::HashMap<String, Option<Clip>> =
        std::collections::HashMap::new();
    let folder = store.distinguished_folder(mailbox, DistinguishedFolder::Voicemail)?;
    let deleted = store.distinguished_folder(mailbox, DistinguishedFolder::DeletedItems)?;
    let mut messages: Vec<Envelope> = store
        .items(mailbox, folder)?
        .into_iter()
        .filter(|item| item.parent != deleted)
        .map(|item| {
            let flags = item.props.int32(tags::MESSAGE_FLAGS).unwrap_or(0);
            let received = match item.props.get(tags::MESSAGE_DELIVERY_TIME) {
                Some(PropValue::SystemTime(time)) => time.to_system_time(),
                _ => None,
            }
            .unwrap_or(UNIX_EPOCH);
            let name = item
                .props
                .unicode(tags::SENDER_EMAIL_ADDRESS)
                .and_then(|address| {
                    names
                        .entry(address.to_ascii_lowercase())
                        .or_insert_with(|| recorded_name(store, address, law))
                        .clone()
                });
            let number = item
                .props
                .unicode(tags::SENDER_TELEPHONE_NUMBER)
                .filter(|number| number.bytes().any(|b| b.is_ascii_digit()));
            let sender = match (name, number) {
                (Some(clip), _) => Sender::Name(clip),
                (None, Some(number)) => Sender::Number(number.to_owned()),
                (None, None) => Sender::Unknown,
            };
            Envelope {
                item: item.id,
                sender,
                received,
                unread: flags & tags::MSGFLAG_READ == 0,
            }
        })
        .collect();
    messages.sort_by_key(|m| (!m.unread, m.received, m.item));
    Ok(messages)
}

/// The name `address` recorded, in `law`, if there is one that plays.
fn recorded_name(store: &dyn MailStore, address: &str, law: Law) -> Option<Clip> {
    let wav = greetings::read(store, &MailboxId::new(address), GreetingKind::Name).ok()??;
    let audio = wav::read(&wav).ok()?;
    Some(Clip {
        law,
        codes: audio.to_g711(law).into(),
    })
}

/// A message's audio in `law`: its first WAV attachment umbox can play.
fn message_audio(
    store: &dyn MailStore,
    mailbox: &MailboxId,
    item: ItemId,
    law: Law,
) -> Result<Option<Vec<u8>>, store::Error> {
    let item = store.item(mailbox, item)?;
    for info in &item.attachments {
        let is_wav = info
            .props
            .unicode(tags::ATTACH_LONG_FILENAME)
            .is_some_and(|name| name.to_ascii_lowercase().ends_with(".wav"));
        if !is_wav {
            continue;
        }
        let attachment = store.attachment(mailbox, info.id)?;
        if let Ok(audio) = wav::read(&attachment.content) {
            return Ok(Some(audio.to_g711(law)));
        }
    }
    Ok(None)
}

/// The day of the week, hour and minute of `time`, in UTC.
fn day_time(time: SystemTime) -> (Weekday, u8, u8) {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = seconds / 86_400;
    // 1 January 1970 was a Thursday (index 3 from Monday).
    let day = usize::try_from((days + 3) % 7).unwrap_or(0);
    let weekday = Weekday::ALL.get(day).copied().unwrap_or(Weekday::Monday);
    let of_day = seconds % 86_400;
    let hour = u8::try_from(of_day / 3600).unwrap_or(0);
    let minute = u8::try_from(of_day % 3600 / 60).unwrap_or(0);
    (weekday, hour, minute)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller_id::Caller;
    use crate::delivery::{self, VoiceMessage};
    use umbox_base::directory::Directory;
    use umbox_testkit::Mailboxes;

    #[test]
    fn messages_play_new_first_oldest_first_never_deleted_ones_and_with_recorded_names() {
        let kit = Mailboxes::new();
        let alice = Directory::demo().unwrap().users.remove(0);
        let start = kit.clock.now();
        let deliver = |minutes: u64, caller: Caller| {
            let message = VoiceMessage {
                caller,
                duration: Duration::from_secs(1),
                call_id: format!("c{minutes}"),
                wav: wav::write_g711(Law::Mu, &[0x55; 8000]).unwrap(),
                received: start + Duration::from_secs(60 * minutes),
                partial: false,
            };
            let set = delivery::deliver(kit.store.as_ref(), &alice, message, kit.clock.now());
            match set.unwrap().outcome {
                umbox_store::Outcome::Item { item, .. } => item,
                other => panic!("{other:?}"),
            }
        };
        let number = |n: &str| Caller {
            number: Some(n.to_owned()),
            ..Caller::default()
        };
        let bob = Caller {
            number: Some("+14255550102".into()),
            name: Some("Bob Berg".into()),
            address: Some("bob@example.test".into()),
            sip_uri: None,
        };
        let old_read = deliver(1, number("+15550001"));
        let newest = deliver(9, number("+15550009"));
        let from_bob = deliver(5, bob);
        let deleted = deliver(3, Caller::default());
        kit.mark_read(old_read);
        let trash = kit.folder(DistinguishedFolder::DeletedItems);
        let change = Change::MoveItem {
            item: deleted,
            to: trash,
        };
        kit.store
            .apply(&kit.alice, change, kit.clock.now())
            .unwrap();
        // Bob recorded his name (A-law); it is played in the call's law.
        let name = wav::write_g711(Law::A, &[0xD5, 0x2A, 0xAA]).unwrap();
        greetings::write(
            kit.store.as_ref(),
            &kit.bob,
            GreetingKind::Name,
            name,
            start,
        )
        .unwrap();

        let messages = load_messages(kit.store.as_ref(), &kit.alice, Law::Mu).unwrap();
        let order: Vec<(ItemId, bool)> = messages.iter().map(|m| (m.item, m.unread)).collect();
        assert_eq!(
            order,
            [(from_bob, true), (newest, true), (old_read, false)],
            "the deleted one is gone, new before old, oldest first"
        );
        let expected_name: Vec<u8> = [0xD5u8, 0x2A, 0xAA]
            .iter()
            .map(|c| Law::Mu.encode_sample(Law::A.decode_sample(*c)))
            .collect();
        assert_eq!(
            messages[0].sender,
            Sender::Name(Clip {
                law: Law::Mu,
                codes: expected_name.into()
            })
        );
        assert_eq!(messages[1].sender, Sender::Number("+15550009".into()));
        assert_eq!(messages[0].received, start + Duration::from_secs(300));
        let audio = message_audio(kit.store.as_ref(), &kit.alice, newest, Law::A).unwrap();
        let expected = Law::A.encode_sample(Law::Mu.decode_sample(0x55));
        assert_eq!(
            audio,
            Some(vec![expected; 8000]),
            "converted to the call's law"
        );
    }

    #[test]
    fn days_and_times_are_read_in_utc() {
        // 2026-12-01 15:05:59 UTC, a Tuesday.
        let time = UNIX_EPOCH + Duration::from_secs(1_796_137_559);
        assert_eq!(day_time(time), (Weekday::Tuesday, 15, 5));
        assert_eq!(day_time(UNIX_EPOCH), (Weekday::Thursday, 0, 0));
    }
}
