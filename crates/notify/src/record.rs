//! The stored form of a pull or push subscription: a small TOML document the store keeps as opaque
//! bytes beside the change log (`MailStore::save_subscription`). Readable by an administrator,
//! and strict: an unknown key or value fails to load rather than being guessed at.
//!
//! A pull subscription's idle clock is not stored (it would cost a disk write per GetEvents): after
//! a restart it counts from the restart. A push subscription's watermark is stored after every
//! acknowledged delivery, so a restart neither repeats nor skips an event.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::{Error, EventType, Filter, Folders, Kind, Mode, Subscription};
use umbox_store::{FolderId, MailboxId, Seq};

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    /// "pull" or "push".
    kind: String,
    /// The caller who subscribed (lower-case address).
    owner: String,
    /// The mailbox watched.
    mailbox: String,
    /// SubscribeToAllFolders.
    all_folders: bool,
    /// Store folder numbers, when not all folders.
    folders: Vec<u64>,
    /// EWS event type names.
    event_types: Vec<String>,
    /// Pull: Timeout; push: StatusFrequency.
    minutes: u64,
    /// Push: where to deliver.
    #[serde(default)]
    url: Option<String>,
    /// Push: the last watermark delivered.
    #[serde(default)]
    watermark: u64,
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::Record(reason.into())
}

fn minutes(duration: Duration) -> u64 {
    duration.as_secs() / 60
}

/// The stored bytes of a pull or push subscription.
pub(super) fn encode(subscription: &Subscription) -> Result<Vec<u8>, Error> {
    let (kind, minutes, url, watermark) = match &subscription.mode {
        Mode::Pull { timeout, .. } => (Kind::Pull, minutes(*timeout), None, 0),
        Mode::Push {
            url,
            status_frequency,
            watermark,
            ..
        } => (
            Kind::Push,
            minutes(*status_frequency),
            Some(url.clone()),
            watermark.0,
        ),
        Mode::Streaming { .. } => return Err(invalid("streaming subscriptions are not stored")),
    };
    let (all_folders, folders) = match &subscription.filter.folders {
        Folders::All => (true, Vec::new()),
        Folders::Only(folders) => (false, folders.iter().map(|f| f.0).collect()),
    };
    let record = Record {
        kind: kind.as_str().to_owned(),
        owner: subscription.owner.as_str().to_owned(),
        mailbox: subscription.mailbox.as_str().to_owned(),
        all_folders,
        folders,
        event_types: subscription
            .filter
            .types
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect(),
        minutes,
        url,
        watermark,
    };
    toml::to_string(&record)
        .map(String::into_bytes)
        .map_err(|e| invalid(e.to_string()))
}

/// A stored subscription; its idle clock starts at `now`.
pub(super) fn decode(bytes: &[u8], now: SystemTime) -> Result<Subscription, Error> {
    let text = std::str::from_utf8(bytes).map_err(|_| invalid("not UTF-8"))?;
    let record: Record = toml::from_str(text).map_err(|e| invalid(e.message().to_owned()))?;
    let types = record
        .event_types
        .iter()
        .map(|name| {
            EventType::parse(name).ok_or_else(|| invalid(format!("unknown event type {name:?}")))
        })
        .collect::<Result<_, _>>()?;
    let folders = if record.all_folders {
        Folders::All
    } else {
        Folders::Only(record.folders.into_iter().map(FolderId).collect())
    };
    let period = Duration::from_secs(record.minutes.saturating_mul(60));
    let mode = match (record.kind.as_str(), record.url) {
        ("pull", None) => Mode::Pull {
            timeout: period,
            last_used: now,
        },
        ("push", Some(url)) => Mode::Push {
            url,
            status_frequency: period,
            watermark: Seq(record.watermark),
            running: false,
        },
        (kind, _) => return Err(invalid(format!("kind {kind:?} with that url"))),
    };
    Ok(Subscription {
        owner: MailboxId::new(&record.owner),
        mailbox: MailboxId::new(&record.mailbox),
        filter: Filter { folders, types },
        mode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn subscription(mode: Mode) -> Subscription {
        Subscription {
            owner: MailboxId::new("svc@example.test"),
            mailbox: MailboxId::new("alice@example.test"),
            filter: Filter {
                folders: Folders::Only(vec![FolderId(3), FolderId(16)]),
                types: [EventType::NewMail, EventType::Modified]
                    .into_iter()
                    .collect(),
            },
            mode,
        }
    }

    #[test]
    fn push_and_pull_round_trip() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let push = subscription(Mode::Push {
            url: "https://push.example.test/ews".into(),
            status_frequency: Duration::from_secs(300),
            watermark: Seq(42),
            running: true,
        });
        let back = decode(&encode(&push).unwrap(), now).unwrap();
        assert_eq!(
            (back.owner.as_str(), back.mailbox.as_str()),
            ("svc@example.test", "alice@example.test")
        );
        assert_eq!(back.filter, push.filter);
        assert!(
            matches!(back.mode, Mode::Push { ref url, status_frequency, watermark: Seq(42), running: false }
            if url == "https://push.example.test/ews" && status_frequency == Duration::from_secs(300))
        );
        let pull = subscription(Mode::Pull {
            timeout: Duration::from_secs(600),
            last_used: UNIX_EPOCH,
        });
        let back = decode(&encode(&pull).unwrap(), now).unwrap();
        assert!(
            matches!(back.mode, Mode::Pull { timeout, last_used } if timeout == Duration::from_secs(600) && last_used == now)
        );
    }

    #[test]
    fn bad_records_are_refused() {
        let now = UNIX_EPOCH;
        assert!(decode(b"\xff", now).is_err());
        assert!(decode(b"kind = \"pull\"", now).is_err());
        let text = "kind = \"pull\"\nowner = \"a@b\"\nmailbox = \"a@b\"\nall_folders = true\nfolders = []\nevent_types = [\"Bogus\"]\nminutes = 5\n";
        assert!(
            matches!(decode(text.as_bytes(), now), Err(Error::Record(reason)) if reason.contains("Bogus"))
        );
        let streaming = subscription(Mode::Streaming {
            cursor: Seq(1),
            connection: None,
            last_used: now,
        });
        assert!(encode(&streaming).is_err());
    }
}
