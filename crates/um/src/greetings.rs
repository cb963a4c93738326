//! Users' greetings, kept in their mailboxes: the unavailable greeting, the away greeting (played
//! instead while the user's automatic replies are on) and the recorded name.
//!
//! Each is a user configuration object (`store::user_config`) in the mailbox's root folder whose
//! binary data is the WAV file, named as Exchange UM names its own: `Um.CustomGreetings.External`
//! (the voice-mail greeting), `Um.CustomGreetings.Oof` (away) and `Um.CustomGreetings.RecordedName`
//! (Exchange keeps the name's audio in the directory under that name). EWS Get/Create/Update/
//! DeleteUserConfiguration therefore read and write the very same bytes; unlike Exchange, which
//! stores WMA, umbox stores the WAV it was given.
//!
//! [`write`] accepts WAV files umbox can play: 8 kHz mono, 16-bit PCM, µ-law or A-law, at most
//! [`MAX_GREETING_BYTES`]; anything else is refused with a reason naming what is wrong. Every
//! change is one `MailStore::apply`. [`for_call`] picks what a caller hears, and
//! [`migrate_legacy_files`] moves the greeting files older versions kept in `<data>/greetings/`
//! into the mailboxes (the server runs it at start and after each directory reload).
//!
//! Never sees SIP or RTP; never reads the clock (callers pass `now`). Every call blocks on the
//! store: async callers use `spawn_blocking`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tracing::{info, warn};
use umbox_media::wav::{self, WavError};
use umbox_store::user_config::{self, ConfigName, Parts};
use umbox_store::{oof, DistinguishedFolder, MailStore, MailboxId};

/// The largest greeting accepted: 2 MiB, a little over two minutes of 16-bit PCM or four of
/// G.711.
pub const MAX_GREETING_BYTES: usize = 2 << 20;

/// Which greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GreetingKind {
    /// Played to callers when the user does not answer.
    Unavailable,
    /// Played instead of the unavailable greeting while the user's automatic replies are on.
    Away,
    /// The user's name in their own voice.
    Name,
}

impl GreetingKind {
    /// Every kind.
    pub const ALL: [GreetingKind; 3] = [
        GreetingKind::Unavailable,
        GreetingKind::Away,
        GreetingKind::Name,
    ];

    /// The command-line name: `unavailable`, `away` or `name`.
    pub const fn as_str(self) -> &'static str {
        match self {
            GreetingKind::Unavailable => "unavailable",
            GreetingKind::Away => "away",
            GreetingKind::Name => "name",
        }
    }

    /// The kind named `name` (as [`GreetingKind::as_str`] spells it).
    pub fn parse(name: &str) -> Option<GreetingKind> {
        GreetingKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }

    /// The user configuration name it is stored under (Exchange UM's).
    pub const fn configuration_name(self) -> &'static str {
        match self {
            GreetingKind::Unavailable => "Um.CustomGreetings.External",
            GreetingKind::Away => "Um.CustomGreetings.Oof",
            GreetingKind::Name => "Um.CustomGreetings.RecordedName",
        }
    }

    fn config(self) -> Result<ConfigName, Error> {
        ConfigName::parse(self.configuration_name())
            .map_err(|error| Error::Store(umbox_store::Error::Corrupt(error.to_string())))
    }
}

/// Why a greeting was not read, written or cleared.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file is not a WAV file umbox can play; the text says what is wrong.
    #[error("greeting refused: {0}")]
    Refused(String),
    /// The file is larger than [`MAX_GREETING_BYTES`].
    #[error("greeting refused: {size} bytes is over the limit of {limit}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The store failed, or the mailbox does not exist.
    #[error(transparent)]
    Store(#[from] umbox_store::Error),
}

/// Checks that `wav` is a WAV file umbox plays: 8 kHz, mono, 16-bit PCM, µ-law or A-law, with
/// some audio, at most [`MAX_GREETING_BYTES`].
pub fn check(wav: &[u8]) -> Result<(), Error> {
    if wav.len() > MAX_GREETING_BYTES {
        return Err(Error::TooLarge {
            size: wav.len(),
            limit: MAX_GREETING_BYTES,
        });
    }
    match wav::read(wav) {
        Ok(audio) if audio.samples() == 0 => Err(Error::Refused("it holds no audio".to_owned())),
        Ok(_) => Ok(()),
        Err(WavError::Unsupported {
            tag,
            channels,
            rate,
            bits,
        }) => {
            let mut problems = Vec::new();
            if channels != 1 {
                problems.push(format!("{channels} channels (mono is required)"));
            }
            if rate != 8000 {
                problems.push(format!("{rate} Hz (8000 Hz is required)"));
            }
            if !matches!((tag, bits), (1, 16) | (6 | 7, 8)) {
                problems.push(format!(
                    "format tag {tag} with {bits} bits per sample \
                     (16-bit PCM, 8-bit \u{b5}-law or A-law is required)"
                ));
            }
            Err(Error::Refused(problems.join(", ")))
        }
        Err(error) => Err(Error::Refused(error.to_string())),
    }
}

/// The root folder, where the greetings live.
fn root(store: &dyn MailStore, mailbox: &MailboxId) -> Result<umbox_store::FolderId, Error> {
    Ok(store.distinguished_folder(mailbox, DistinguishedFolder::Root)?)
}

/// The greeting's WAV bytes, as stored; `None` when there is none (or it has no binary data).
pub fn read(
    store: &dyn MailStore,
    mailbox: &MailboxId,
    kind: GreetingKind,
) -> Result<Option<Vec<u8>>, Error> {
    let folder = root(store, mailbox)?;
    Ok(user_config::find(store, mailbox, folder, &kind.config()?)?
        .and_then(|item| Parts::of(&item).binary))
}

/// Stores `wav` as the greeting, replacing any before it, after [`check`]ing it. One change
/// through `MailStore::apply`.
pub fn write(
    store: &dyn MailStore,
    mailbox: &MailboxId,
    kind: GreetingKind,
    wav: Vec<u8>,
    now: SystemTime,
) -> Result<(), Error> {
    check(&wav)?;
    let folder = root(store, mailbox)?;
    let name = kind.config()?;
    let parts = |wav| Parts {
        binary: Some(wav),
        ..Parts::default()
    };
    match user_config::find(store, mailbox, folder, &name)? {
        Some(item) => store.apply(mailbox, user_config::update(item.id, parts(wav))?, now)?,
        None => store.apply(
            mailbox,
            user_config::create(folder, &name, parts(wav))?,
            now,
        )?,
    };
    Ok(())
}

/// Removes the greeting; `false` when there was none.
pub fn clear(
    store: &dyn MailStore,
    mailbox: &MailboxId,
    kind: GreetingKind,
    now: SystemTime,
) -> Result<bool, Error> {
    let folder = root(store, mailbox)?;
    let Some(item) = user_config::find(store, mailbox, folder, &kind.config()?)? else {
        return Ok(false);
    };
    store.apply(
        mailbox,
        umbox_store::Change::DeleteItem { item: item.id },
        now,
    )?;
    Ok(true)
}

/// What a caller hears before the beep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerGreeting {
    /// The user's own greeting (the away one while automatic replies are on and one exists), as
    /// a WAV file that passed [`check`].
    Personal(Vec<u8>),
    /// No usable personal greeting, but a recorded name: "you have reached <name>", then the
    /// system greeting goes on.
    Name(Vec<u8>),
    /// Neither: the system greeting.
    System,
}

/// What callers of `mailbox` hear at `now`. A stored greeting that is not playable (written over
/// EWS, which takes any bytes) is logged and passed over.
pub fn for_call(
    store: &dyn MailStore,
    mailbox: &MailboxId,
    now: SystemTime,
) -> Result<CallerGreeting, Error> {
    // One read of the root's associated items serves every kind.
    let hidden = store.associated_items(mailbox, root(store, mailbox)?)?;
    let usable = |kind: GreetingKind| -> Result<Option<Vec<u8>>, Error> {
        let Some(bytes) =
            user_config::find_in(&hidden, &kind.config()?).and_then(|item| Parts::of(item).binary)
        else {
            return Ok(None);
        };
        match check(&bytes) {
            Ok(()) => Ok(Some(bytes)),
            Err(error) => {
                warn!(%error, kind = kind.as_str(), "stored greeting not playable");
                Ok(None)
            }
        }
    };
    if oof::replies_on(store, mailbox, now)? {
        if let Some(away) = usable(GreetingKind::Away)? {
            return Ok(CallerGreeting::Personal(away));
        }
    }
    if let Some(unavailable) = usable(GreetingKind::Unavailable)? {
        return Ok(CallerGreeting::Personal(unavailable));
    }
    Ok(match usable(GreetingKind::Name)? {
        Some(name) => CallerGreeting::Name(name),
        None => CallerGreeting::System,
    })
}

/// The folder where older versions kept greetings as `<primary address>.wav`.
pub fn legacy_folder(data_dir: &Path) -> PathBuf {
    data_dir.join("greetings")
}

/// What [`migrate_legacy_files`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Migration {
    /// Files moved into mailboxes (and removed).
    pub moved: Vec<PathBuf>,
    /// Files left in place, each with why.
    pub left: Vec<(PathBuf, String)>,
}

/// Moves every `<folder>/<address>.wav` into the mailbox of `address` as its unavailable
/// greeting, then removes the file. A file that is not a usable greeting, or names no mailbox in
/// the store, is logged and left in place. Idempotent and crash-safe: the file goes only after the
/// mailbox's change committed, and a run interrupted in between writes the same bytes again.
pub fn migrate_legacy_files(
    store: &dyn MailStore,
    folder: &Path,
    now: SystemTime,
) -> Result<Migration, Error> {
    let mut migration = Migration::default();
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(migration),
        Err(error) => {
            let reason = format!("greetings folder not readable: {error}");
            warn!(path = %folder.display(), %reason, "legacy greetings not migrated");
            migration.left.push((folder.to_owned(), reason));
            return Ok(migration);
        }
    };
    let mailboxes = store.mailboxes()?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "wav"))
        .collect();
    paths.sort();
    for path in paths {
        match migrate_one(store, &mailboxes, &path, now) {
            Ok(()) => {
                info!(path = %path.display(), "legacy greeting moved into its mailbox");
                migration.moved.push(path);
            }
            Err(reason) => {
                warn!(path = %path.display(), %reason, "legacy greeting left in place");
                migration.left.push((path, reason));
            }
        }
    }
    Ok(migration)
}

/// Moves one file; the error says why it stays.
fn migrate_one(
    store: &dyn MailStore,
    mailboxes: &[MailboxId],
    path: &Path,
    now: SystemTime,
) -> Result<(), String> {
    let address = path
        .file_stem()
        .and_then(|stem| stem.to_str())
        .ok_or("the file name is not an address")?;
    let mailbox = MailboxId::new(address);
    if !mailboxes.contains(&mailbox) {
        return Err(format!("no mailbox for {address}"));
    }
    let metadata = std::fs::metadata(path).map_err(|error| error.to_string())?;
    if metadata.len() > MAX_GREETING_BYTES as u64 {
        return Err(Error::TooLarge {
            size: usize::try_from(metadata.len()).unwrap_or(usize::MAX),
            limit: MAX_GREETING_BYTES,
        }
        .to_string());
    }
    let bytes = std::fs::read(path).map_err(|error| error.to_string())?;
    write(store, &mailbox, GreetingKind::Unavailable, bytes, now)
        .map_err(|error| error.to_string())?;
    std::fs::remove_file(path).map_err(|error| format!("moved, but not removed: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use umbox_base::clock::Clock;
    use umbox_media::g711::Law;
    use umbox_store::props::{tags, PropValue};
    use umbox_testkit::{wav_file, Mailboxes};

    fn refusal(wav: &[u8]) -> String {
        match check(wav) {
            Err(Error::Refused(reason)) => reason,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_playable_wav_files_are_accepted_and_refusals_say_why() {
        let pcm = wav_file(1, 1, 8000, 16, &[0, 1, 2, 3]);
        check(&pcm).unwrap();
        check(&wav::write_g711(Law::Mu, &[0xFF; 8]).unwrap()).unwrap();
        check(&wav::write_g711(Law::A, &[0xD5; 8]).unwrap()).unwrap();

        let stereo = refusal(&wav_file(1, 2, 8000, 16, &[0; 8]));
        assert_eq!(stereo, "2 channels (mono is required)");
        let wideband = refusal(&wav_file(1, 1, 16000, 16, &[0; 8]));
        assert_eq!(wideband, "16000 Hz (8000 Hz is required)");
        let both = refusal(&wav_file(1, 2, 16000, 16, &[0; 8]));
        assert_eq!(
            both,
            "2 channels (mono is required), 16000 Hz (8000 Hz is required)"
        );
        let eight_bit = refusal(&wav_file(1, 1, 8000, 8, &[0; 8]));
        assert!(
            eight_bit.starts_with("format tag 1 with 8 bits"),
            "{eight_bit}"
        );
        assert!(refusal(b"not a wav file").contains("not a well-formed wav file"));
        assert_eq!(refusal(&wav_file(1, 1, 8000, 16, &[])), "it holds no audio");
        let huge = wav_file(1, 1, 8000, 16, &vec![0; MAX_GREETING_BYTES]);
        assert!(matches!(check(&huge), Err(Error::TooLarge { .. })));
    }

    /// A greeting is a hidden user configuration object in the root: written, replaced, read and
    /// cleared through the store, never counted, surviving a reopen.
    #[test]
    fn greetings_are_hidden_configuration_items_of_the_root() {
        let kit = Mailboxes::new();
        let (store, alice) = (kit.store.as_ref(), &kit.alice);
        let now = kit.clock.now();
        assert_eq!(read(store, alice, GreetingKind::Unavailable).unwrap(), None);
        let first = wav_file(1, 1, 8000, 16, &[1, 2, 3, 4]);
        let second = wav::write_g711(Law::Mu, &[0x7F; 16]).unwrap();
        write(store, alice, GreetingKind::Unavailable, first.clone(), now).unwrap();
        assert_eq!(
            read(store, alice, GreetingKind::Unavailable).unwrap(),
            Some(first)
        );
        write(store, alice, GreetingKind::Unavailable, second.clone(), now).unwrap();
        write(store, alice, GreetingKind::Name, second.clone(), now).unwrap();
        let root = kit.folder(DistinguishedFolder::Root);
        let hidden = store.associated_items(alice, root).unwrap();
        let classes: Vec<&str> = hidden
            .iter()
            .filter_map(|item| item.props.unicode(tags::MESSAGE_CLASS))
            .collect();
        assert_eq!(
            classes,
            [
                "IPM.Configuration.Um.CustomGreetings.External",
                "IPM.Configuration.Um.CustomGreetings.RecordedName"
            ]
        );
        assert!(store.items(alice, root).unwrap().is_empty());
        assert_eq!(store.folder(alice, root).unwrap().total_count, 0);
        assert_eq!(
            read(store, &kit.bob, GreetingKind::Unavailable).unwrap(),
            None
        );

        let refused = write(store, alice, GreetingKind::Away, b"junk".to_vec(), now);
        assert!(matches!(refused, Err(Error::Refused(_))), "{refused:?}");
        assert!(clear(store, alice, GreetingKind::Name, now).unwrap());
        assert!(!clear(store, alice, GreetingKind::Name, now).unwrap());

        let kit = kit.reopen();
        assert_eq!(
            read(kit.store.as_ref(), &kit.alice, GreetingKind::Unavailable).unwrap(),
            Some(second)
        );
        assert_eq!(
            read(kit.store.as_ref(), &kit.alice, GreetingKind::Name).unwrap(),
            None
        );
    }

    fn set_oof(kit: &Mailboxes, state: i32) {
        let store = kit.store.as_ref();
        let root = kit.folder(DistinguishedFolder::Root);
        store
            .apply(
                &kit.alice,
                umbox_store::Change::UpdateFolder {
                    folder: root,
                    set: vec![(
                        umbox_store::props::PropKey::Named(
                            oof::property(oof::STATE),
                            umbox_store::props::PropType::Int32,
                        ),
                        PropValue::Int32(state),
                    )],
                    delete: Vec::new(),
                },
                kit.clock.now(),
            )
            .unwrap();
    }

    /// The away greeting replaces the unavailable one while automatic replies are on; without a
    /// personal greeting the recorded name is used; unplayable stored bytes are passed over.
    #[test]
    fn callers_hear_away_unavailable_name_or_system_greeting() {
        let kit = Mailboxes::new();
        let (store, alice, now) = (kit.store.as_ref(), &kit.alice, kit.clock.now());
        let greeting = |byte| wav::write_g711(Law::Mu, &[byte; 8]).unwrap();
        assert_eq!(for_call(store, alice, now).unwrap(), CallerGreeting::System);
        write(store, alice, GreetingKind::Name, greeting(1), now).unwrap();
        assert_eq!(
            for_call(store, alice, now).unwrap(),
            CallerGreeting::Name(greeting(1))
        );
        write(store, alice, GreetingKind::Away, greeting(2), now).unwrap();
        assert_eq!(
            for_call(store, alice, now).unwrap(),
            CallerGreeting::Name(greeting(1)),
            "the away greeting waits for automatic replies"
        );
        set_oof(&kit, oof::ENABLED);
        assert_eq!(
            for_call(store, alice, now).unwrap(),
            CallerGreeting::Personal(greeting(2))
        );
        write(store, alice, GreetingKind::Unavailable, greeting(3), now).unwrap();
        assert_eq!(
            for_call(store, alice, now).unwrap(),
            CallerGreeting::Personal(greeting(2))
        );
        set_oof(&kit, oof::DISABLED);
        assert_eq!(
            for_call(store, alice, now).unwrap(),
            CallerGreeting::Personal(greeting(3))
        );
        // Bytes written over EWS are not checked; the call path passes them over.
        let root = kit.folder(DistinguishedFolder::Root);
        let name = ConfigName::parse(GreetingKind::Unavailable.configuration_name()).unwrap();
        let item = user_config::find(store, alice, root, &name)
            .unwrap()
            .unwrap();
        let junk = Parts {
            binary: Some(b"junk".to_vec()),
            ..Parts::default()
        };
        store
            .apply(alice, user_config::update(item.id, junk).unwrap(), now)
            .unwrap();
        assert_eq!(
            for_call(store, alice, now).unwrap(),
            CallerGreeting::Name(greeting(1))
        );
    }

    /// Legacy files move into their mailboxes and go; unusable ones and strangers stay; a second
    /// run changes nothing.
    #[test]
    fn legacy_greeting_files_move_into_the_mailboxes() {
        let kit = Mailboxes::new();
        let store = kit.store.as_ref();
        let folder = legacy_folder(kit.dir.path());
        std::fs::create_dir_all(&folder).unwrap();
        let good = wav::write_g711(Law::A, &[0x55; 80]).unwrap();
        std::fs::write(folder.join("Alice@example.test.wav"), &good).unwrap();
        let stereo = wav_file(1, 2, 8000, 16, &[0; 8]);
        std::fs::write(folder.join("bob@example.test.wav"), &stereo).unwrap();
        std::fs::write(folder.join("carol@example.test.wav"), &good).unwrap();
        std::fs::write(folder.join("notes.txt"), b"kept").unwrap();

        let migration = migrate_legacy_files(store, &folder, kit.clock.now()).unwrap();
        assert_eq!(migration.moved, [folder.join("Alice@example.test.wav")]);
        let left: Vec<(&PathBuf, &str)> = migration
            .left
            .iter()
            .map(|(path, reason)| (path, reason.as_str()))
            .collect();
        assert_eq!(
            left,
            [
                (
                    &folder.join("bob@example.test.wav"),
                    "greeting refused: 2 channels (mono is required)"
                ),
                (
                    &folder.join("carol@example.test.wav"),
                    "no mailbox for carol@example.test"
                ),
            ]
        );
        assert_eq!(
            read(store, &kit.alice, GreetingKind::Unavailable).unwrap(),
            Some(good)
        );
        assert!(!folder.join("Alice@example.test.wav").exists());
        assert!(folder.join("bob@example.test.wav").exists());
        assert_eq!(
            read(store, &kit.bob, GreetingKind::Unavailable).unwrap(),
            None
        );

        let again = migrate_legacy_files(store, &folder, kit.clock.now()).unwrap();
        assert!(again.moved.is_empty());
        assert_eq!(again.left.len(), 2);
        let missing = migrate_legacy_files(store, &folder.join("absent"), kit.clock.now());
        assert_eq!(missing.unwrap(), Migration::default());
    }
}
