//! The rows the store keeps per mailbox, folder, item, attachment, named property and log entry,
//! and their encodings (each a versioned record in `store::encode`'s format).
//!
//! These types are the on-disk truth and never leave `store`; the public views in `store` are built
//! from them. Decoding never panics: damaged bytes become `Error::Corrupt` naming the row.

use std::time::SystemTime;

use super::change::{Event, Seq};
use super::encode::{DecodeError, Reader, Writer};
use super::props::{FileTime, Guid, NamedProperty, PropName, PropTag, PropertyBag};
use super::{AttachmentId, ChangeKey, DistinguishedFolder, Error, FolderId, ItemId};

/// Per-mailbox counters and the distinguished-folder map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MailboxMeta {
    /// The next folder, item or attachment number.
    pub(crate) next_object_id: u64,
    /// The sequence number the next logged event gets.
    pub(crate) next_seq: u64,
    /// The lowest sequence number still in the log (equals `next_seq` when the log is empty).
    pub(crate) first_kept_seq: u64,
    /// The next named-property id (from 0x8000).
    pub(crate) next_named_id: u16,
    /// Where each distinguished folder is.
    pub(crate) distinguished: Vec<(DistinguishedFolder, FolderId)>,
    /// The search folders, whose membership every item change must re-evaluate.
    pub(crate) search_folders: Vec<FolderId>,
}

impl MailboxMeta {
    /// A new mailbox's counters.
    pub(crate) fn new() -> MailboxMeta {
        MailboxMeta {
            next_object_id: 1,
            next_seq: 1,
            first_kept_seq: 1,
            next_named_id: PropTag::FIRST_NAMED_ID,
            distinguished: Vec::new(),
            search_folders: Vec::new(),
        }
    }

    pub(crate) fn distinguished(&self, which: DistinguishedFolder) -> Option<FolderId> {
        self.distinguished
            .iter()
            .find(|(name, _)| *name == which)
            .map(|(_, id)| *id)
    }

    /// The sequence number of the last logged event (0 before any).
    pub(crate) fn latest_seq(&self) -> Seq {
        Seq(self.next_seq.saturating_sub(1))
    }

    /// The oldest watermark `changes_since` can answer.
    pub(crate) fn oldest_watermark(&self) -> Seq {
        Seq(self.first_kept_seq.saturating_sub(1))
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = Writer::record();
        w.u64(self.next_object_id);
        w.u64(self.next_seq);
        w.u64(self.first_kept_seq);
        w.u64(u64::from(self.next_named_id));
        w.len(self.distinguished.len());
        for (which, id) in &self.distinguished {
            w.str(which.as_str());
            w.u64(id.0);
        }
        w.len(self.search_folders.len());
        self.search_folders.iter().for_each(|id| w.u64(id.0));
        w.finish()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<MailboxMeta, DecodeError> {
        let mut r = Reader::record(bytes)?;
        let meta = MailboxMeta {
            next_object_id: r.u64()?,
            next_seq: r.u64()?,
            first_kept_seq: r.u64()?,
            next_named_id: r.u16()?,
            distinguished: r.list(|r| {
                let name = r.string()?;
                let which =
                    DistinguishedFolder::parse(&name).ok_or(r.invalid("distinguished folder"))?;
                Ok((which, FolderId(r.u64()?)))
            })?,
            search_folders: r.list(|r| r.u64().map(FolderId))?,
        };
        r.end()?;
        Ok(meta)
    }
}

/// A folder row. For a search folder `total`/`unread` count matching items anywhere.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FolderRecord {
    pub(crate) parent: Option<FolderId>,
    pub(crate) distinguished: Option<DistinguishedFolder>,
    /// For a search folder, the item-class prefix selecting its contents.
    pub(crate) search_prefix: Option<String>,
    pub(crate) change_key: ChangeKey,
    pub(crate) total: u64,
    pub(crate) unread: u64,
    pub(crate) child_folders: u64,
    pub(crate) props: PropertyBag,
}

impl FolderRecord {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = Writer::record();
        write_option(&mut w, self.parent.map(|p| p.0));
        match self.distinguished {
            Some(which) => {
                w.bool(true);
                w.str(which.as_str());
            }
            None => w.bool(false),
        }
        match &self.search_prefix {
            Some(prefix) => {
                w.bool(true);
                w.str(prefix);
            }
            None => w.bool(false),
        }
        w.u64(self.change_key.0);
        w.u64(self.total);
        w.u64(self.unread);
        w.u64(self.child_folders);
        w.bag(&self.props);
        w.finish()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<FolderRecord, DecodeError> {
        let mut r = Reader::record(bytes)?;
        let parent = read_option(&mut r)?.map(FolderId);
        let distinguished = if r.bool()? {
            let name = r.string()?;
            Some(DistinguishedFolder::parse(&name).ok_or(r.invalid("distinguished folder"))?)
        } else {
            None
        };
        let search_prefix = if r.bool()? { Some(r.string()?) } else { None };
        let record = FolderRecord {
            parent,
            distinguished,
            search_prefix,
            change_key: ChangeKey(r.u64()?),
            total: r.u64()?,
            unread: r.u64()?,
            child_folders: r.u64()?,
            props: r.bag()?,
        };
        r.end()?;
        Ok(record)
    }
}

/// An item row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ItemRecord {
    pub(crate) parent: FolderId,
    pub(crate) change_key: ChangeKey,
    /// Its attachments, in order.
    pub(crate) attachments: Vec<AttachmentId>,
    /// The total size of its attachments' contents, for PidTagMessageSize.
    pub(crate) attachment_bytes: u64,
    pub(crate) props: PropertyBag,
}

impl ItemRecord {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = Writer::record();
        w.u64(self.parent.0);
        w.u64(self.change_key.0);
        w.len(self.attachments.len());
        self.attachments.iter().for_each(|id| w.u64(id.0));
        w.u64(self.attachment_bytes);
        w.bag(&self.props);
        w.finish()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<ItemRecord, DecodeError> {
        let mut r = Reader::record(bytes)?;
        let record = ItemRecord {
            parent: FolderId(r.u64()?),
            change_key: ChangeKey(r.u64()?),
            attachments: r.list(|r| r.u64().map(AttachmentId))?,
            attachment_bytes: r.u64()?,
            props: r.bag()?,
        };
        r.end()?;
        Ok(record)
    }
}

/// An attachment's metadata row (its content is a separate row).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttachmentRecord {
    pub(crate) item: ItemId,
    pub(crate) props: PropertyBag,
}

impl AttachmentRecord {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = Writer::record();
        w.u64(self.item.0);
        w.bag(&self.props);
        w.finish()
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<AttachmentRecord, DecodeError> {
        let mut r = Reader::record(bytes)?;
        let record = AttachmentRecord {
            item: ItemId(r.u64()?),
            props: r.bag()?,
        };
        r.end()?;
        Ok(record)
    }
}

/// The key of a named property in the name-to-id table.
pub(crate) fn encode_named(name: &NamedProperty) -> Vec<u8> {
    let mut w = Writer::record();
    w.u128(name.set().0);
    match name.name() {
        PropName::Id(id) => {
            w.u8(0);
            w.u64(u64::from(*id));
        }
        PropName::Name(text) => {
            w.u8(1);
            w.str(text);
        }
    }
    w.finish()
}

pub(crate) fn decode_named(bytes: &[u8]) -> Result<NamedProperty, DecodeError> {
    let mut r = Reader::record(bytes)?;
    let set = Guid(r.u128()?);
    let name = match r.u8()? {
        0 => {
            let at = r.invalid("named property id");
            PropName::Id(u32::try_from(r.u64()?).map_err(|_| at)?)
        }
        1 => PropName::Name(r.string()?),
        _ => return Err(r.invalid("named property kind")),
    };
    r.end()?;
    Ok(NamedProperty::new(set, name))
}

/// A change-log row: one event and when it was committed.
pub(crate) fn encode_logged(time: SystemTime, event: &Event) -> Vec<u8> {
    let mut w = Writer::record();
    w.i64(FileTime::from_system_time(time).0);
    match event {
        Event::FolderCreated {
            folder,
            change_key,
            parent,
        } => {
            w.u8(1);
            w.u64(folder.0);
            w.u64(change_key.0);
            write_option(&mut w, parent.map(|p| p.0));
        }
        Event::FolderModified {
            folder,
            change_key,
            parent,
            total_count,
            unread_count,
        } => {
            w.u8(2);
            w.u64(folder.0);
            w.u64(change_key.0);
            write_option(&mut w, parent.map(|p| p.0));
            w.u64(*total_count);
            w.u64(*unread_count);
        }
        Event::FolderDeleted { folder, parent } => {
            w.u8(3);
            w.u64(folder.0);
            w.u64(parent.0);
        }
        Event::ItemCreated {
            item,
            change_key,
            parent,
            search_folders,
        } => {
            w.u8(4);
            write_item_ref(&mut w, *item, *change_key, *parent, search_folders);
        }
        Event::ItemModified {
            item,
            change_key,
            parent,
            search_folders,
        } => {
            w.u8(5);
            write_item_ref(&mut w, *item, *change_key, *parent, search_folders);
        }
        Event::ItemDeleted {
            item,
            parent,
            search_folders,
        } => {
            w.u8(6);
            w.u64(item.0);
            w.u64(parent.0);
            write_folders(&mut w, search_folders);
        }
        Event::ItemMoved {
            item,
            change_key,
            parent,
            old_item,
            old_parent,
            search_folders,
        } => {
            w.u8(7);
            write_item_ref(&mut w, *item, *change_key, *parent, search_folders);
            w.u64(old_item.0);
            w.u64(old_parent.0);
        }
        Event::ItemCopied {
            item,
            change_key,
            parent,
            old_item,
            old_parent,
            search_folders,
        } => {
            w.u8(8);
            write_item_ref(&mut w, *item, *change_key, *parent, search_folders);
            w.u64(old_item.0);
            w.u64(old_parent.0);
        }
        Event::NewMail {
            item,
            change_key,
            parent,
        } => {
            w.u8(9);
            w.u64(item.0);
            w.u64(change_key.0);
            w.u64(parent.0);
        }
        Event::FolderMoved {
            folder,
            change_key,
            parent,
            old_parent,
        } => {
            w.u8(10);
            w.u64(folder.0);
            w.u64(change_key.0);
            w.u64(parent.0);
            w.u64(old_parent.0);
        }
        Event::FolderCopied {
            folder,
            change_key,
            parent,
            old_folder,
            old_parent,
        } => {
            w.u8(11);
            w.u64(folder.0);
            w.u64(change_key.0);
            w.u64(parent.0);
            w.u64(old_folder.0);
            w.u64(old_parent.0);
        }
    }
    w.finish()
}

pub(crate) fn decode_logged(bytes: &[u8]) -> Result<(FileTime, Event), DecodeError> {
    let mut r = Reader::record(bytes)?;
    let time = FileTime(r.i64()?);
    let event = match r.u8()? {
        1 => Event::FolderCreated {
            folder: FolderId(r.u64()?),
            change_key: ChangeKey(r.u64()?),
            parent: read_option(&mut r)?.map(FolderId),
        },
        2 => Event::FolderModified {
            folder: FolderId(r.u64()?),
            change_key: ChangeKey(r.u64()?),
            parent: read_option(&mut r)?.map(FolderId),
            total_count: r.u64()?,
            unread_count: r.u64()?,
        },
        3 => Event::FolderDeleted {
            folder: FolderId(r.u64()?),
            parent: FolderId(r.u64()?),
        },
        4 => {
            let (item, change_key, parent, search_folders) = read_item_ref(&mut r)?;
            Event::ItemCreated {
                item,
                change_key,
                parent,
                search_folders,
            }
        }
        5 => {
            let (item, change_key, parent, search_folders) = read_item_ref(&mut r)?;
            Event::ItemModified {
                item,
                change_key,
                parent,
                search_folders,
            }
        }
        6 => Event::ItemDeleted {
            item: ItemId(r.u64()?),
            parent: FolderId(r.u64()?),
            search_folders: read_folders(&mut r)?,
        },
        7 => {
            let (item, change_key, parent, search_folders) = read_item_ref(&mut r)?;
            let old_item = ItemId(r.u64()?);
            let old_parent = FolderId(r.u64()?);
            Event::ItemMoved {
                item,
                change_key,
                parent,
                old_item,
                old_parent,
                search_folders,
            }
        }
        8 => {
            let (item, change_key, parent, search_folders) = read_item_ref(&mut r)?;
            let old_item = ItemId(r.u64()?);
            let old_parent = FolderId(r.u64()?);
            Event::ItemCopied {
                item,
                change_key,
                parent,
                old_item,
                old_parent,
                search_folders,
            }
        }
        9 => Event::NewMail {
            item: ItemId(r.u64()?),
            change_key: ChangeKey(r.u64()?),
            parent: FolderId(r.u64()?),
        },
        10 => Event::FolderMoved {
            folder: FolderId(r.u64()?),
            change_key: ChangeKey(r.u64()?),
            parent: FolderId(r.u64()?),
            old_parent: FolderId(r.u64()?),
        },
        11 => Event::FolderCopied {
            folder: FolderId(r.u64()?),
            change_key: ChangeKey(r.u64()?),
            parent: FolderId(r.u64()?),
            old_folder: FolderId(r.u64()?),
            old_parent: FolderId(r.u64()?),
        },
        _ => return Err(r.invalid("event kind")),
    };
    r.end()?;
    Ok((time, event))
}

fn write_option(w: &mut Writer, value: Option<u64>) {
    match value {
        Some(v) => {
            w.bool(true);
            w.u64(v);
        }
        None => w.bool(false),
    }
}

fn read_option(r: &mut Reader<'_>) -> Result<Option<u64>, DecodeError> {
    Ok(if r.bool()? { Some(r.u64()?) } else { None })
}

fn write_folders(w: &mut Writer, folders: &[FolderId]) {
    w.len(folders.len());
    folders.iter().for_each(|f| w.u64(f.0));
}

fn read_folders(r: &mut Reader<'_>) -> Result<Vec<FolderId>, DecodeError> {
    r.list(|r| r.u64().map(FolderId))
}

fn write_item_ref(
    w: &mut Writer,
    item: ItemId,
    change_key: ChangeKey,
    parent: FolderId,
    search_folders: &[FolderId],
) {
    w.u64(item.0);
    w.u64(change_key.0);
    w.u64(parent.0);
    write_folders(w, search_folders);
}

type ItemRef = (ItemId, ChangeKey, FolderId, Vec<FolderId>);

fn read_item_ref(r: &mut Reader<'_>) -> Result<ItemRef, DecodeError> {
    Ok((
        ItemId(r.u64()?),
        ChangeKey(r.u64()?),
        FolderId(r.u64()?),
        read_folders(r)?,
    ))
}

/// Turns a decode failure into `Error::Corrupt` naming the row. Formats only on failure: it is
/// built for every row read, most of which decode.
pub(crate) fn corrupt<K: std::fmt::Display>(
    what: &'static str,
    key: K,
) -> impl FnOnce(DecodeError) -> Error {
    move |error| Error::Corrupt(format!("{what} {key}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::tests::Rng;
    use crate::props::{property_sets, tags, PropValue};
    use std::time::{Duration, UNIX_EPOCH};

    fn sample_events() -> Vec<Event> {
        vec![
            Event::FolderCreated {
                folder: FolderId(1),
                change_key: ChangeKey(1),
                parent: None,
            },
            Event::FolderModified {
                folder: FolderId(3),
                change_key: ChangeKey(9),
                parent: Some(FolderId(2)),
                total_count: 10,
                unread_count: 4,
            },
            Event::FolderDeleted {
                folder: FolderId(4),
                parent: FolderId(2),
            },
            Event::ItemCreated {
                item: ItemId(30),
                change_key: ChangeKey(1),
                parent: FolderId(3),
                search_folders: vec![FolderId(17)],
            },
            Event::ItemModified {
                item: ItemId(30),
                change_key: ChangeKey(2),
                parent: FolderId(3),
                search_folders: vec![],
            },
            Event::ItemDeleted {
                item: ItemId(30),
                parent: FolderId(3),
                search_folders: vec![],
            },
            Event::ItemMoved {
                item: ItemId(31),
                change_key: ChangeKey(3),
                parent: FolderId(5),
                old_item: ItemId(30),
                old_parent: FolderId(3),
                search_folders: vec![FolderId(17)],
            },
            Event::ItemCopied {
                item: ItemId(32),
                change_key: ChangeKey(1),
                parent: FolderId(5),
                old_item: ItemId(31),
                old_parent: FolderId(5),
                search_folders: vec![],
            },
            Event::NewMail {
                item: ItemId(30),
                change_key: ChangeKey(1),
                parent: FolderId(3),
            },
            Event::FolderMoved {
                folder: FolderId(12),
                change_key: ChangeKey(4),
                parent: FolderId(6),
                old_parent: FolderId(3),
            },
            Event::FolderCopied {
                folder: FolderId(40),
                change_key: ChangeKey(1),
                parent: FolderId(6),
                old_folder: FolderId(12),
                old_parent: FolderId(6),
            },
        ]
    }

    fn sample_records() -> Vec<Vec<u8>> {
        let mut props = PropertyBag::new();
        props
            .set(tags::DISPLAY_NAME, PropValue::Unicode("Inbox".into()))
            .unwrap();
        let mut meta = MailboxMeta::new();
        meta.distinguished
            .push((DistinguishedFolder::Voicemail, FolderId(17)));
        meta.search_folders.push(FolderId(17));
        vec![
            meta.encode(),
            FolderRecord {
                parent: Some(FolderId(2)),
                distinguished: Some(DistinguishedFolder::Voicemail),
                search_prefix: Some("IPM.Note.Microsoft.Voicemail".into()),
                change_key: ChangeKey(3),
                total: 5,
                unread: 2,
                child_folders: 0,
                props: props.clone(),
            }
            .encode(),
            ItemRecord {
                parent: FolderId(3),
                change_key: ChangeKey(7),
                attachments: vec![AttachmentId(8), AttachmentId(9)],
                attachment_bytes: 1234,
                props: props.clone(),
            }
            .encode(),
            AttachmentRecord {
                item: ItemId(7),
                props,
            }
            .encode(),
            encode_named(&NamedProperty::new(
                property_sets::UNIFIED_MESSAGING,
                PropName::Name("AsrData".into()),
            )),
            encode_logged(UNIX_EPOCH, &sample_events()[3]),
        ]
    }

    fn decode_any(bytes: &[u8]) -> Vec<bool> {
        vec![
            MailboxMeta::decode(bytes).is_ok(),
            FolderRecord::decode(bytes).is_ok(),
            ItemRecord::decode(bytes).is_ok(),
            AttachmentRecord::decode(bytes).is_ok(),
            decode_named(bytes).is_ok(),
            decode_logged(bytes).is_ok(),
        ]
    }

    #[test]
    fn records_round_trip() {
        let records = sample_records();
        let [meta, folder, item, attachment, named, logged] = records.as_slice() else {
            panic!("six samples")
        };
        assert_eq!(MailboxMeta::decode(meta).unwrap().encode(), *meta);
        assert_eq!(FolderRecord::decode(folder).unwrap().encode(), *folder);
        assert_eq!(ItemRecord::decode(item).unwrap().encode(), *item);
        assert_eq!(
            AttachmentRecord::decode(attachment).unwrap().encode(),
            *attachment
        );
        assert_eq!(encode_named(&decode_named(named).unwrap()), *named);
        let (time, event) = decode_logged(logged).unwrap();
        assert_eq!(
            encode_logged(time.to_system_time().unwrap(), &event),
            *logged
        );
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for event in sample_events() {
            let bytes = encode_logged(at, &event);
            assert_eq!(
                decode_logged(&bytes).unwrap(),
                (FileTime::from_system_time(at), event)
            );
        }
    }

    #[test]
    fn fuzz_truncated_and_mutated_records_never_panic() {
        let mut rng = Rng::new(0xC0FFEE);
        for (kind, record) in sample_records().into_iter().enumerate() {
            // A prefix may happen to be some other kind of record, never a valid one of its own.
            for cut in 0..record.len() {
                assert!(
                    !decode_any(&record[..cut])[kind],
                    "prefix {cut} of record {kind} decoded"
                );
            }
            for _ in 0..500 {
                let mut bytes = record.clone();
                let at = rng.below(bytes.len() as u64) as usize;
                bytes[at] ^= 1 << rng.below(8);
                decode_any(&bytes);
            }
        }
        for _ in 0..2_000 {
            let len = rng.below(48) as usize;
            let mut bytes = rng.bytes(len);
            if let Some(first) = bytes.first_mut() {
                *first = crate::encode::FORMAT_VERSION;
            }
            decode_any(&bytes);
        }
    }
}
