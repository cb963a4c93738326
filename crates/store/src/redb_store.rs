//! The redb implementation of [`MailStore`]: the tables, the one write transaction, and the reads.
//!
//! [`RedbStore::write`] is the only `begin_write` in the crate. `apply` runs a [`Tx`] inside it: the
//! change's rows, every folder's counters, and the change-log rows with their sequence numbers are
//! written, then the transaction commits with `Durability::Immediate` (fsync before `commit`
//! returns), and only then does the caller get the `ChangeSet`. A failed change writes nothing.
//! This file never decides protocol behaviour; it only keeps rows and counters consistent.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use redb::{
    Database, Durability, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable,
    ReadableTableMetadata, Table, TableDefinition, WriteTransaction,
};
use tokio::sync::watch;

use super::change::{
    Change, ChangeSet, Event, LogBounds, LoggedEvent, NewAttachment, Outcome, Seq,
};
use super::encode::encode_bag;
use super::index;
use super::props::{tags, FileTime, NamedProperty, PropKey, PropTag, PropValue, PropertyBag};
use super::records::{
    corrupt, decode_logged, decode_named, encode_logged, encode_named, AttachmentRecord,
    FolderRecord, ItemRecord, MailboxMeta,
};
use super::{
    Attachment, AttachmentId, AttachmentInfo, ChangeKey, DistinguishedFolder, Error, Folder,
    FolderId, Item, ItemId, ItemOrder, ItemPage, ItemView, MailStore, MailboxId, Missing, Options,
    Traversal, VerifyReport, FILE_NAME,
};
use crate::encode::DecodeError;
use crate::user_config;

/// Store-wide counters: `next_mailbox` numbers mailboxes so other keys can be fixed-width.
const STORE_INFO: TableDefinition<&str, u64> = TableDefinition::new("store_info");
/// Primary SMTP address (lower-case) → mailbox number.
const MAILBOXES: TableDefinition<&str, u64> = TableDefinition::new("mailboxes");
/// Mailbox number → [`MailboxMeta`].
const MAILBOX_META: TableDefinition<u64, &[u8]> = TableDefinition::new("mailbox_meta");
/// (mailbox, folder) → [`FolderRecord`].
const FOLDERS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("folders");
/// (mailbox, parent, child folder) → ().
const FOLDER_CHILDREN: TableDefinition<(u64, u64, u64), ()> =
    TableDefinition::new("folder_children");
/// (mailbox, item) → [`ItemRecord`].
const ITEMS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("items");
/// (mailbox, folder, item) → (): an item's own folder, and every search folder it matches.
const FOLDER_ITEMS: TableDefinition<(u64, u64, u64), ()> = TableDefinition::new("folder_items");
/// (mailbox, folder, kind, sort key, item) → (): the item indexes of `store::index`, one row per
/// [`ItemOrder`] for each item listed in the folder (its own, or a search folder it matches), and
/// one more per order while it is unread. Associated items have none.
const ITEM_INDEX: TableDefinition<(u64, u64, u8, &[u8], u64), ()> =
    TableDefinition::new("item_index");
/// The `STORE_INFO` key holding the layout version the item indexes were built with.
const INDEX_VERSION_KEY: &str = "item_index_version";
/// Memberships indexed per transaction when building the indexes of existing data, so the
/// transaction's dirty pages stay small.
const INDEX_BUILD_BATCH: usize = 20_000;
/// (mailbox, attachment) → [`AttachmentRecord`].
const ATTACHMENTS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("attachments");
/// (mailbox, attachment) → content bytes.
const ATTACHMENT_CONTENT: TableDefinition<(u64, u64), &[u8]> =
    TableDefinition::new("attachment_content");
/// (mailbox, seq) → one logged event.
const CHANGES: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("changes");
/// (mailbox, encoded named property) → its id (≥ 0x8000).
const NAMED_IDS: TableDefinition<(u64, &[u8]), u64> = TableDefinition::new("named_ids");
/// (mailbox, id) → encoded named property.
const NAMED_NAMES: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("named_names");
/// Subscription id → a record whose format `notify` owns (opaque bytes here).
const SUBSCRIPTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("subscriptions");

/// The mailbox store in `<data_dir>/mailboxes.redb`. Cheap to clone (one shared database); every
/// method blocks, so async code calls it from `tokio::task::spawn_blocking`.
#[derive(Debug, Clone)]
pub struct RedbStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Database,
    options: Options,
    /// One sender per watched mailbox, holding its latest logged sequence number; bumped after
    /// each durable commit that logged events (see [`MailStore::watch_log`]).
    watchers: Mutex<HashMap<MailboxId, watch::Sender<Seq>>>,
    /// Where commits are counted, once the server attached its registry's families.
    metrics: std::sync::OnceLock<crate::metrics::StoreMetrics>,
}

macro_rules! storage_errors {
    ($($source:ty),+) => {$(
        impl From<$source> for Error {
            fn from(error: $source) -> Error {
                match redb::Error::from(error) {
                    redb::Error::Corrupted(message) => Error::Corrupt(message),
                    other => Error::Storage(other.to_string()),
                }
            }
        }
    )+};
}
storage_errors!(
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError,
    redb::DatabaseError,
    redb::SetDurabilityError
);

impl RedbStore {
    /// Counts every later commit in `metrics`; the first call wins.
    pub fn attach_metrics(&self, metrics: crate::metrics::StoreMetrics) {
        let _ = self.inner.metrics.set(metrics);
    }

    /// Opens (creating if needed) `<data_dir>/mailboxes.redb`. A database left by a crash is
    /// recovered to its last committed transaction. Fails if another process holds it open.
    pub fn open(data_dir: &Path, options: Options) -> Result<RedbStore, Error> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| Error::Storage(format!("{}: {e}", data_dir.display())))?;
        let path = data_dir.join(FILE_NAME);
        let db = Database::builder()
            .set_cache_size(options.cache_bytes)
            .create(&path)
            .map_err(|error| match error {
                redb::DatabaseError::DatabaseAlreadyOpen => Error::InUse(path.clone()),
                other => Error::from(other),
            })?;
        let store = RedbStore {
            inner: Arc::new(Inner {
                db,
                options,
                watchers: Mutex::new(HashMap::new()),
                metrics: std::sync::OnceLock::new(),
            }),
        };
        // Readers open tables that must exist, so a new file gets all of them at once.
        store.write(|txn| {
            txn.open_table(STORE_INFO)?;
            txn.open_table(MAILBOXES)?;
            txn.open_table(SUBSCRIPTIONS)?;
            Tables::open(txn)?;
            Ok(())
        })?;
        store.build_indexes()?;
        Ok(store)
    }

    /// Builds the item indexes of data written before they existed (or with another layout), in
    /// batches, logging progress every few seconds; a no-op once the recorded version matches.
    /// Runs before the store is handed out, so no change can race it; an interrupted build starts
    /// over at the next open.
    fn build_indexes(&self) -> Result<(), Error> {
        let (built, mailboxes, memberships) = {
            let txn = self.inner.db.begin_read()?;
            let built = txn
                .open_table(STORE_INFO)?
                .get(INDEX_VERSION_KEY)?
                .map(|guard| guard.value());
            let mut numbers = Vec::new();
            for row in txn.open_table(MAILBOXES)?.iter()? {
                numbers.push(row?.1.value());
            }
            (built, numbers, txn.open_table(FOLDER_ITEMS)?.len()?)
        };
        if built == Some(index::VERSION) {
            return Ok(());
        }
        tracing::info!(
            mailboxes = mailboxes.len(),
            memberships,
            "building the item indexes"
        );
        let started = std::time::Instant::now();
        let mut reported = started;
        self.write(|txn| {
            txn.delete_table(ITEM_INDEX)?;
            txn.open_table(ITEM_INDEX)?;
            Ok(())
        })?;
        let mut done = 0u64;
        for mbx in mailboxes {
            let mut next = (0u64, 0u64);
            loop {
                let (count, resume) = self.write(|txn| {
                    let t = Tables::open(txn)?;
                    index_batch(t, mbx, next)
                })?;
                done += count;
                if reported.elapsed() >= std::time::Duration::from_secs(3) {
                    reported = std::time::Instant::now();
                    tracing::info!(done, memberships, "building the item indexes");
                }
                match resume {
                    Some(resume) => next = resume,
                    None => break,
                }
            }
        }
        self.write(|txn| {
            txn.open_table(STORE_INFO)?
                .insert(INDEX_VERSION_KEY, index::VERSION)?;
            Ok(())
        })?;
        tracing::info!(
            done,
            seconds = started.elapsed().as_secs_f64(),
            "item indexes built"
        );
        Ok(())
    }

    /// Runs `body` in the crate's one write transaction and commits it durably; on error nothing
    /// is written (dropping an uncommitted transaction aborts it).
    fn write<T>(
        &self,
        body: impl FnOnce(&WriteTransaction) -> Result<T, Error>,
    ) -> Result<T, Error> {
        #[allow(clippy::disallowed_methods)] // The one write transaction (STYLE §2 rule 4).
        let mut txn = self.inner.db.begin_write()?;
        // redb's default already, set explicitly: commit() returns only after fsync, so an
        // acknowledged change survives a crash.
        txn.set_durability(Durability::Immediate)?;
        let out = body(&txn)?;
        let started = std::time::Instant::now();
        txn.commit()?;
        if let Some(metrics) = self.inner.metrics.get() {
            metrics.committed(started.elapsed());
        }
        Ok(out)
    }

    /// Runs `body` on a mailbox inside the write transaction, then logs its events.
    fn change_mailbox(
        &self,
        mailbox: &MailboxId,
        now: SystemTime,
        create: bool,
        body: impl FnOnce(&mut Tx<'_>) -> Result<Outcome, Error>,
    ) -> Result<ChangeSet, Error> {
        let (outcome, events) = self.write(|txn| {
            let mut tx = Tx::open(txn, mailbox, now, self.inner.options, create)?;
            let outcome = body(&mut tx)?;
            Ok((outcome, tx.finish()?))
        })?;
        self.announce(mailbox, &events);
        Ok(ChangeSet {
            mailbox: mailbox.clone(),
            outcome,
            events,
        })
    }

    /// Tells the mailbox's log watchers about a commit; called only once it is durable, so a
    /// watcher never reads ahead of the disk. A sender nobody listens to any more is dropped.
    fn announce(&self, mailbox: &MailboxId, events: &[LoggedEvent]) {
        let Some(last) = events.last() else {
            return;
        };
        let mut watchers = self
            .inner
            .watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = watchers.get(mailbox) {
            if sender.receiver_count() == 0 {
                watchers.remove(mailbox);
            } else {
                sender.send_replace(last.seq);
            }
        }
    }

    fn snapshot(&self, mailbox: &MailboxId) -> Result<Snapshot, Error> {
        let txn = self.inner.db.begin_read()?;
        let number = mailbox_number(&txn.open_table(MAILBOXES)?, mailbox)?
            .ok_or_else(|| Error::NotFound(Missing::Mailbox(mailbox.clone())))?;
        Ok(Snapshot { txn, mbx: number })
    }
}

/// Indexes up to [`INDEX_BUILD_BATCH`] memberships of mailbox `mbx` from (folder, item) `from`
/// on; returns how many it read and where the next batch starts (`None`: the mailbox is done).
fn index_batch(
    mut t: Tables<'_>,
    mbx: u64,
    from: (u64, u64),
) -> Result<(u64, Option<(u64, u64)>), Error> {
    let mut batch = Vec::new();
    let mut resume = None;
    for row in t
        .folder_items
        .range((mbx, from.0, from.1)..=(mbx, u64::MAX, u64::MAX))?
    {
        let key = row?.0.value();
        if batch.len() == INDEX_BUILD_BATCH {
            resume = Some((key.1, key.2));
            break;
        }
        batch.push((FolderId(key.1), ItemId(key.2)));
    }
    for (folder, item) in &batch {
        let record = read_item(&t.items, mbx, *item)?;
        if !is_associated(&record.props) {
            index_rows(&mut t.index, mbx, *folder, *item, None, Some(&record.props))?;
        }
    }
    Ok((batch.len() as u64, resume))
}

/// One index row's key.
type IndexKey<'k> = (u64, u64, u8, &'k [u8], u64);

/// Moves the index rows of `item` in `folder` from its `was` properties to its `is` properties
/// (`None`: not listed there). Rows whose key did not change are left alone.
fn index_rows(
    table: &mut Table<'_, IndexKey<'static>, ()>,
    mbx: u64,
    folder: FolderId,
    item: ItemId,
    was: Option<&PropertyBag>,
    is: Option<&PropertyBag>,
) -> Result<(), Error> {
    let (was_unread, is_unread) = (was.is_some_and(is_unread), is.is_some_and(is_unread));
    for order in ItemOrder::ALL {
        let old = was.map(|props| order.key(props));
        let new = is.map(|props| order.key(props));
        let rows = |key: &Option<Vec<u8>>, unread: bool| {
            let mut kinds = Vec::with_capacity(2);
            if key.is_some() {
                kinds.push(order.kind(false));
                if unread {
                    kinds.push(order.kind(true));
                }
            }
            kinds
        };
        let (old_kinds, new_kinds) = (rows(&old, was_unread), rows(&new, is_unread));
        if old == new && old_kinds == new_kinds {
            continue;
        }
        if let Some(key) = &old {
            for kind in old_kinds {
                table.remove((mbx, folder.0, kind, key.as_slice(), item.0))?;
            }
        }
        if let Some(key) = &new {
            for kind in new_kinds {
                table.insert((mbx, folder.0, kind, key.as_slice(), item.0), ())?;
            }
        }
    }
    Ok(())
}

/// The item ids of `count` index rows after skipping `skip`, walking backwards if `reverse`.
fn collect_ids(
    rows: redb::Range<'_, IndexKey<'static>, ()>,
    reverse: bool,
    skip: u64,
    count: u64,
) -> Result<Vec<u64>, Error> {
    let skip = usize::try_from(skip).unwrap_or(usize::MAX);
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let walk: Box<dyn Iterator<Item = _>> = if reverse {
        Box::new(rows.rev())
    } else {
        Box::new(rows)
    };
    let mut ids = Vec::with_capacity(count.min(1024));
    for row in walk.skip(skip).take(count) {
        ids.push(row?.0.value().4);
    }
    Ok(ids)
}

fn mailbox_number(
    table: &impl ReadableTable<&'static str, u64>,
    mailbox: &MailboxId,
) -> Result<Option<u64>, Error> {
    Ok(table.get(mailbox.as_str())?.map(|guard| guard.value()))
}

fn read_meta(
    table: &impl ReadableTable<u64, &'static [u8]>,
    mbx: u64,
) -> Result<MailboxMeta, Error> {
    let guard = table
        .get(mbx)?
        .ok_or_else(|| Error::Corrupt(format!("mailbox {mbx} has no meta")))?;
    MailboxMeta::decode(guard.value()).map_err(corrupt("mailbox meta", mbx))
}

/// The (mailbox, id) row of `table` decoded by `decode`; a missing row is `NotFound(missing)`.
fn read_object<R>(
    table: &impl ReadableTable<(u64, u64), &'static [u8]>,
    mbx: u64,
    id: u64,
    what: &'static str,
    missing: Missing,
    decode: fn(&[u8]) -> Result<R, DecodeError>,
) -> Result<R, Error> {
    let guard = table.get((mbx, id))?.ok_or(Error::NotFound(missing))?;
    decode(guard.value()).map_err(corrupt(what, id))
}

fn read_folder(
    table: &impl ReadableTable<(u64, u64), &'static [u8]>,
    mbx: u64,
    id: FolderId,
) -> Result<FolderRecord, Error> {
    read_object(
        table,
        mbx,
        id.0,
        "folder",
        Missing::Folder(id),
        FolderRecord::decode,
    )
}

fn read_item(
    table: &impl ReadableTable<(u64, u64), &'static [u8]>,
    mbx: u64,
    id: ItemId,
) -> Result<ItemRecord, Error> {
    read_object(
        table,
        mbx,
        id.0,
        "item",
        Missing::Item(id),
        ItemRecord::decode,
    )
}

fn read_attachment(
    table: &impl ReadableTable<(u64, u64), &'static [u8]>,
    mbx: u64,
    id: AttachmentId,
) -> Result<AttachmentRecord, Error> {
    read_object(
        table,
        mbx,
        id.0,
        "attachment",
        Missing::Attachment(id),
        AttachmentRecord::decode,
    )
}

/// The third key parts under (mailbox, parent): a folder's subfolders or items.
fn members(
    table: &impl ReadableTable<(u64, u64, u64), ()>,
    mbx: u64,
    parent: u64,
) -> Result<Vec<u64>, Error> {
    let mut out = Vec::new();
    for row in table.range((mbx, parent, 0)..=(mbx, parent, u64::MAX))? {
        out.push(row?.0.value().2);
    }
    Ok(out)
}

/// Whether `class` is `base` or a subclass of it (`base.` prefix), ignoring ASCII case, as
/// message and container classes are hierarchical and case-insensitive.
fn class_is_within(class: &str, base: &str) -> bool {
    match class.get(..base.len()) {
        Some(head) if head.eq_ignore_ascii_case(base) => {
            class.len() == base.len() || class.as_bytes().get(base.len()) == Some(&b'.')
        }
        _ => false,
    }
}

fn message_flags(props: &PropertyBag) -> i32 {
    props.int32(tags::MESSAGE_FLAGS).unwrap_or(0)
}

fn is_unread(props: &PropertyBag) -> bool {
    message_flags(props) & tags::MSGFLAG_READ == 0
}

/// Whether the item is folder associated information (PidTagAssociated): hidden from its folder's
/// contents and counts and from every search folder.
fn is_associated(props: &PropertyBag) -> bool {
    props.boolean(tags::ASSOCIATED).unwrap_or(false)
}

fn matches_search(props: &PropertyBag, prefix: &str) -> bool {
    !is_associated(props)
        && props
            .unicode(tags::MESSAGE_CLASS)
            .is_some_and(|class| class_is_within(class, prefix))
}

fn saturating_i32(value: u64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn folder_view(id: FolderId, record: FolderRecord) -> Folder {
    Folder {
        id,
        parent: record.parent,
        distinguished: record.distinguished,
        is_search_folder: record.search_prefix.is_some(),
        change_key: record.change_key,
        props: record.props,
        total_count: record.total,
        unread_count: record.unread,
        child_folder_count: record.child_folders,
    }
}

/// The per-mailbox tables of a write transaction.
struct Tables<'t> {
    meta: Table<'t, u64, &'static [u8]>,
    folders: Table<'t, (u64, u64), &'static [u8]>,
    children: Table<'t, (u64, u64, u64), ()>,
    items: Table<'t, (u64, u64), &'static [u8]>,
    folder_items: Table<'t, (u64, u64, u64), ()>,
    attachments: Table<'t, (u64, u64), &'static [u8]>,
    content: Table<'t, (u64, u64), &'static [u8]>,
    changes: Table<'t, (u64, u64), &'static [u8]>,
    named_ids: Table<'t, (u64, &'static [u8]), u64>,
    named_names: Table<'t, (u64, u64), &'static [u8]>,
    index: Table<'t, IndexKey<'static>, ()>,
}

impl<'t> Tables<'t> {
    fn open(txn: &'t WriteTransaction) -> Result<Tables<'t>, Error> {
        Ok(Tables {
            meta: txn.open_table(MAILBOX_META)?,
            folders: txn.open_table(FOLDERS)?,
            children: txn.open_table(FOLDER_CHILDREN)?,
            items: txn.open_table(ITEMS)?,
            folder_items: txn.open_table(FOLDER_ITEMS)?,
            attachments: txn.open_table(ATTACHMENTS)?,
            content: txn.open_table(ATTACHMENT_CONTENT)?,
            changes: txn.open_table(CHANGES)?,
            named_ids: txn.open_table(NAMED_IDS)?,
            named_names: txn.open_table(NAMED_NAMES)?,
            index: txn.open_table(ITEM_INDEX)?,
        })
    }
}

/// One change to one mailbox in progress. Folder records are cached and written once at
/// [`Tx::finish`], where every folder touched gets one version bump and one `FolderModified`.
struct Tx<'t> {
    t: Tables<'t>,
    mbx: u64,
    now: SystemTime,
    stamp: FileTime,
    options: Options,
    meta: MailboxMeta,
    folders: BTreeMap<FolderId, FolderRecord>,
    dirty: BTreeSet<FolderId>,
    events: Vec<Event>,
}

impl<'t> Tx<'t> {
    fn open(
        txn: &'t WriteTransaction,
        mailbox: &MailboxId,
        now: SystemTime,
        options: Options,
        create: bool,
    ) -> Result<Tx<'t>, Error> {
        let mut mailboxes = txn.open_table(MAILBOXES)?;
        let t = Tables::open(txn)?;
        let (mbx, meta) = match mailbox_number(&mailboxes, mailbox)? {
            Some(number) => (number, read_meta(&t.meta, number)?),
            None if create => {
                let mut info = txn.open_table(STORE_INFO)?;
                let number = info.get("next_mailbox")?.map_or(1, |guard| guard.value());
                let next = number
                    .checked_add(1)
                    .ok_or(Error::Corrupt("mailbox numbers".into()))?;
                info.insert("next_mailbox", next)?;
                mailboxes.insert(mailbox.as_str(), number)?;
                (number, MailboxMeta::new())
            }
            None => return Err(Error::NotFound(Missing::Mailbox(mailbox.clone()))),
        };
        // Log times are kept at FILETIME precision, so what apply returns equals what is re-read.
        let stamp = FileTime::from_system_time(now);
        let now = stamp.to_system_time().unwrap_or(now);
        Ok(Tx {
            t,
            mbx,
            now,
            stamp,
            options,
            meta,
            folders: BTreeMap::new(),
            dirty: BTreeSet::new(),
            events: Vec::new(),
        })
    }

    /// Writes the touched folders and the change log, then the mailbox counters.
    fn finish(mut self) -> Result<Vec<LoggedEvent>, Error> {
        for id in std::mem::take(&mut self.dirty) {
            let Some(record) = self.folders.get(&id) else {
                continue;
            };
            self.t
                .folders
                .insert((self.mbx, id.0), record.encode().as_slice())?;
            self.events.push(Event::FolderModified {
                folder: id,
                change_key: record.change_key,
                parent: record.parent,
                total_count: record.total,
                unread_count: record.unread,
            });
        }
        let mut logged = Vec::with_capacity(self.events.len());
        for event in std::mem::take(&mut self.events) {
            let seq = self.meta.next_seq;
            self.meta.next_seq = seq
                .checked_add(1)
                .ok_or(Error::Corrupt("sequence numbers".into()))?;
            self.t
                .changes
                .insert((self.mbx, seq), encode_logged(self.now, &event).as_slice())?;
            logged.push(LoggedEvent {
                seq: Seq(seq),
                time: self.now,
                event,
            });
        }
        self.t
            .meta
            .insert(self.mbx, self.meta.encode().as_slice())?;
        Ok(logged)
    }

    fn new_id(&mut self) -> Result<u64, Error> {
        let id = self.meta.next_object_id;
        self.meta.next_object_id = id
            .checked_add(1)
            .ok_or(Error::Corrupt("object ids".into()))?;
        Ok(id)
    }

    fn folder(&mut self, id: FolderId) -> Result<&FolderRecord, Error> {
        self.load_folder(id)?;
        self.folders
            .get(&id)
            .ok_or(Error::NotFound(Missing::Folder(id)))
    }

    /// The folder for modification: its version goes up once per change and it is written and
    /// announced at `finish`.
    fn folder_mut(&mut self, id: FolderId) -> Result<&mut FolderRecord, Error> {
        self.load_folder(id)?;
        let first_touch = self.dirty.insert(id);
        let record = self
            .folders
            .get_mut(&id)
            .ok_or(Error::NotFound(Missing::Folder(id)))?;
        if first_touch {
            record.change_key.0 += 1;
        }
        Ok(record)
    }

    fn load_folder(&mut self, id: FolderId) -> Result<(), Error> {
        if !self.folders.contains_key(&id) {
            let record = read_folder(&self.t.folders, self.mbx, id)?;
            self.folders.insert(id, record);
        }
        Ok(())
    }

    /// A folder that may receive items or subfolders (`what`): it exists and is no search folder.
    fn container(&mut self, id: FolderId, what: &'static str) -> Result<&FolderRecord, Error> {
        let record = self.folder(id)?;
        if record.search_prefix.is_some() {
            return Err(Error::InvalidParent { folder: id, what });
        }
        Ok(record)
    }

    /// Writes a new folder's row, links it under its parent and announces it: `FolderCreated`, or
    /// `FolderCopied` when it is the copy of `original` (that folder and its parent).
    fn insert_folder(
        &mut self,
        id: FolderId,
        record: FolderRecord,
        original: Option<(FolderId, FolderId)>,
    ) -> Result<(), Error> {
        self.t
            .folders
            .insert((self.mbx, id.0), record.encode().as_slice())?;
        if let Some(parent) = record.parent {
            self.link_child(parent, id)?;
        }
        let change_key = record.change_key;
        self.events.push(match (original, record.parent) {
            (Some((old_folder, old_parent)), Some(parent)) => Event::FolderCopied {
                folder: id,
                change_key,
                parent,
                old_folder,
                old_parent,
            },
            _ => Event::FolderCreated {
                folder: id,
                change_key,
                parent: record.parent,
            },
        });
        self.folders.insert(id, record);
        Ok(())
    }

    /// Lists `child` under `parent` and counts it there.
    fn link_child(&mut self, parent: FolderId, child: FolderId) -> Result<(), Error> {
        self.t.children.insert((self.mbx, parent.0, child.0), ())?;
        let record = self.folder_mut(parent)?;
        record.child_folders = adjust(record.child_folders, 1, parent)?;
        Ok(())
    }

    /// Removes `child` from `parent`'s subfolders and count.
    fn unlink_child(&mut self, parent: FolderId, child: FolderId) -> Result<(), Error> {
        self.t.children.remove((self.mbx, parent.0, child.0))?;
        let record = self.folder_mut(parent)?;
        record.child_folders = adjust(record.child_folders, -1, parent)?;
        Ok(())
    }

    fn subfolders(&self, id: FolderId) -> Result<Vec<FolderId>, Error> {
        Ok(members(&self.t.children, self.mbx, id.0)?
            .into_iter()
            .map(FolderId)
            .collect())
    }

    /// Refuses `name` if another subfolder of `parent` already has it (case-insensitively).
    fn check_unique_name(
        &mut self,
        parent: FolderId,
        name: &str,
        except: FolderId,
    ) -> Result<(), Error> {
        for sibling in self.subfolders(parent)? {
            let taken = sibling != except
                && self
                    .folder(sibling)?
                    .props
                    .unicode(tags::DISPLAY_NAME)
                    .is_some_and(|other| other.eq_ignore_ascii_case(name));
            if taken {
                return Err(Error::FolderExists {
                    parent,
                    name: name.to_string(),
                });
            }
        }
        Ok(())
    }

    fn read_item(&self, id: ItemId) -> Result<ItemRecord, Error> {
        read_item(&self.t.items, self.mbx, id)
    }

    /// Refuses to put a user configuration object (`props`) into `folder` when the folder already
    /// holds one of that name: its name is its identity (MS-OXWSUSRCFG).
    fn check_configuration_unique(
        &self,
        folder: FolderId,
        props: &PropertyBag,
    ) -> Result<(), Error> {
        let Some(class) = props
            .unicode(tags::MESSAGE_CLASS)
            .filter(|class| is_associated(props) && user_config::is_configuration_class(class))
        else {
            return Ok(());
        };
        for id in members(&self.t.folder_items, self.mbx, folder.0)? {
            let sibling = self.read_item(ItemId(id))?;
            let same = sibling
                .props
                .unicode(tags::MESSAGE_CLASS)
                .is_some_and(|other| other.eq_ignore_ascii_case(class));
            if same && is_associated(&sibling.props) {
                return Err(Error::ConfigurationExists {
                    folder,
                    name: class
                        .get(user_config::CLASS_PREFIX.len()..)
                        .unwrap_or_default()
                        .to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Sets the computed properties and writes the item row.
    fn store_item(&mut self, id: ItemId, record: &mut ItemRecord) -> Result<(), Error> {
        let props = &mut record.props;
        props.set(
            tags::LAST_MODIFICATION_TIME,
            PropValue::SystemTime(self.stamp),
        )?;
        props.set(
            tags::HAS_ATTACHMENTS,
            PropValue::Boolean(!record.attachments.is_empty()),
        )?;
        props.remove(tags::MESSAGE_SIZE);
        let size = (encode_bag(props).len() as u64).saturating_add(record.attachment_bytes);
        props.set(tags::MESSAGE_SIZE, PropValue::Int32(saturating_i32(size)))?;
        self.t
            .items
            .insert((self.mbx, id.0), record.encode().as_slice())?;
        Ok(())
    }

    /// The tag for `key`; a named property gets a mailbox id on first use when `create` is set,
    /// otherwise an unmapped name gives `None`.
    fn resolve(&mut self, key: &PropKey, create: bool) -> Result<Option<PropTag>, Error> {
        let (name, prop_type) = match key {
            PropKey::Tag(tag) if tag.is_named() => {
                return Err(Error::InvalidProperty {
                    key: key.clone(),
                    reason: "ids from 0x8000 are named properties",
                })
            }
            PropKey::Tag(tag) if tags::COMPUTED.contains(tag) => {
                return Err(Error::InvalidProperty {
                    key: key.clone(),
                    reason: "computed by the store",
                })
            }
            PropKey::Tag(tag) => return Ok(Some(*tag)),
            PropKey::Named(name, prop_type) => (name, *prop_type),
        };
        let encoded = encode_named(name);
        if let Some(guard) = self.t.named_ids.get((self.mbx, encoded.as_slice()))? {
            let id = u16::try_from(guard.value())
                .map_err(|_| Error::Corrupt(format!("named property id {}", guard.value())))?;
            return Ok(Some(PropTag::new(id, prop_type)));
        }
        if !create {
            return Ok(None);
        }
        let id = self.meta.next_named_id;
        // 0xFFFF is reserved (PROP_ID_INVALID), so 0x8000..=0xFFFE are usable.
        if id == u16::MAX {
            return Err(Error::TooLarge {
                what: "named property map",
                size: u64::from(id - PropTag::FIRST_NAMED_ID),
                limit: u64::from(u16::MAX - PropTag::FIRST_NAMED_ID),
            });
        }
        self.meta.next_named_id = id + 1;
        self.t
            .named_ids
            .insert((self.mbx, encoded.as_slice()), u64::from(id))?;
        self.t
            .named_names
            .insert((self.mbx, u64::from(id)), encoded.as_slice())?;
        Ok(Some(PropTag::new(id, prop_type)))
    }

    fn apply_props(
        &mut self,
        bag: &mut PropertyBag,
        set: Vec<(PropKey, PropValue)>,
        delete: Vec<PropKey>,
    ) -> Result<(), Error> {
        for key in delete {
            if let Some(tag) = self.resolve(&key, false)? {
                bag.remove(tag);
            }
        }
        for (key, value) in set {
            let expected = match &key {
                PropKey::Tag(tag) => tag.prop_type(),
                PropKey::Named(_, prop_type) => *prop_type,
            };
            if value.prop_type() != expected {
                return Err(Error::InvalidProperty {
                    key,
                    reason: "value type differs from the property's type",
                });
            }
            if let Some(tag) = self.resolve(&key, true)? {
                bag.set(tag, value)?;
            }
        }
        Ok(())
    }

    /// Moves the counters and membership rows of `item` in `parent` and in every search folder
    /// from its `before` state to its `after` state (`None`: absent). Returns the search folders
    /// listing it before or after; those are always announced, since one of their items changed.
    fn reindex(
        &mut self,
        item: ItemId,
        parent: FolderId,
        before: Option<&PropertyBag>,
        after: Option<&PropertyBag>,
    ) -> Result<Vec<FolderId>, Error> {
        self.membership(parent, item, before.is_some(), after.is_some())?;
        // An associated item keeps its membership row (so deleting or copying the folder finds
        // it) but never counts.
        let counted = |props: &&PropertyBag| !is_associated(props);
        self.count(
            parent,
            before.filter(counted).map(is_unread),
            after.filter(counted).map(is_unread),
            false,
        )?;
        index_rows(
            &mut self.t.index,
            self.mbx,
            parent,
            item,
            before.filter(counted),
            after.filter(counted),
        )?;
        let mut listed = Vec::new();
        for search in self.meta.search_folders.clone() {
            let prefix =
                self.folder(search)?.search_prefix.clone().ok_or_else(|| {
                    Error::Corrupt(format!("search folder {search} has no criteria"))
                })?;
            let was = before.filter(|props| matches_search(props, &prefix));
            let is = after.filter(|props| matches_search(props, &prefix));
            if was.is_none() && is.is_none() {
                continue;
            }
            self.membership(search, item, was.is_some(), is.is_some())?;
            self.count(search, was.map(is_unread), is.map(is_unread), true)?;
            index_rows(&mut self.t.index, self.mbx, search, item, was, is)?;
            listed.push(search);
        }
        Ok(listed)
    }

    fn membership(
        &mut self,
        folder: FolderId,
        item: ItemId,
        was: bool,
        is: bool,
    ) -> Result<(), Error> {
        let key = (self.mbx, folder.0, item.0);
        match (was, is) {
            (false, true) => {
                self.t.folder_items.insert(key, ())?;
            }
            (true, false) => {
                self.t.folder_items.remove(key)?;
            }
            (true, true) | (false, false) => {}
        }
        Ok(())
    }

    /// Adjusts a folder's TotalCount/UnreadCount for one item going from `was` to `is` (each
    /// `Some(unread)` if the item counts there). The folder is marked touched when a count moves,
    /// or always when `announce` is set.
    fn count(
        &mut self,
        folder: FolderId,
        was: Option<bool>,
        is: Option<bool>,
        announce: bool,
    ) -> Result<(), Error> {
        let total = i8::from(is.is_some()) - i8::from(was.is_some());
        let unread = i8::from(is == Some(true)) - i8::from(was == Some(true));
        if total == 0 && unread == 0 && !announce {
            return Ok(());
        }
        let record = self.folder_mut(folder)?;
        record.total = adjust(record.total, total, folder)?;
        record.unread = adjust(record.unread, unread, folder)?;
        Ok(())
    }

    /// Stores an attachment of `item` and records it in the item.
    fn insert_attachment(
        &mut self,
        item: ItemId,
        record: &mut ItemRecord,
        attachment: NewAttachment,
    ) -> Result<AttachmentId, Error> {
        let size = attachment.content.len() as u64;
        if size > self.options.max_attachment_bytes {
            return Err(Error::TooLarge {
                what: "attachment",
                size,
                limit: self.options.max_attachment_bytes,
            });
        }
        let mut props = PropertyBag::new();
        self.apply_props(&mut props, attachment.props, Vec::new())?;
        props.set(tags::ATTACH_SIZE, PropValue::Int32(saturating_i32(size)))?;
        props.set(tags::CREATION_TIME, PropValue::SystemTime(self.stamp))?;
        props.set(
            tags::LAST_MODIFICATION_TIME,
            PropValue::SystemTime(self.stamp),
        )?;
        let id = AttachmentId(self.new_id()?);
        let meta = AttachmentRecord { item, props }.encode();
        self.t
            .attachments
            .insert((self.mbx, id.0), meta.as_slice())?;
        self.t
            .content
            .insert((self.mbx, id.0), attachment.content.as_slice())?;
        record.attachments.push(id);
        record.attachment_bytes = record.attachment_bytes.saturating_add(size);
        Ok(id)
    }

    /// Removes an attachment's rows; returns the size of its content.
    fn remove_attachment_rows(&mut self, id: AttachmentId) -> Result<u64, Error> {
        let meta = self.t.attachments.remove((self.mbx, id.0))?.is_some();
        let content = self
            .t
            .content
            .remove((self.mbx, id.0))?
            .map(|g| g.value().len() as u64);
        match (meta, content) {
            (true, Some(content)) => Ok(content),
            _ => Err(Error::Corrupt(format!("attachment {id} is incomplete"))),
        }
    }

    fn delete_item(&mut self, id: ItemId) -> Result<(), Error> {
        let record = self.read_item(id)?;
        for attachment in &record.attachments {
            self.remove_attachment_rows(*attachment)?;
        }
        self.t.items.remove((self.mbx, id.0))?;
        let search_folders = self.reindex(id, record.parent, Some(&record.props), None)?;
        self.events.push(Event::ItemDeleted {
            item: id,
            parent: record.parent,
            search_folders,
        });
        Ok(())
    }

    /// Deletes the items of `folder`; its associated items too when `associated` is set.
    fn delete_items_of(&mut self, folder: FolderId, associated: bool) -> Result<(), Error> {
        for item in members(&self.t.folder_items, self.mbx, folder.0)? {
            let item = ItemId(item);
            if associated || !is_associated(&self.read_item(item)?.props) {
                self.delete_item(item)?;
            }
        }
        Ok(())
    }

    /// `top` and every folder below it, each before its children. None of them may be
    /// distinguished or a search folder (`reason` says what is refused otherwise).
    fn plain_subtree(
        &mut self,
        top: FolderId,
        reason: &'static str,
    ) -> Result<Vec<FolderId>, Error> {
        let mut order = Vec::new();
        let mut stack = vec![top];
        let mut seen = BTreeSet::new();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                return Err(Error::Corrupt(format!(
                    "folder {id} appears twice in the tree"
                )));
            }
            let record = self.folder(id)?;
            if record.distinguished.is_some() || record.search_prefix.is_some() {
                return Err(Error::NotAllowed { folder: id, reason });
            }
            order.push(id);
            let mut children = self.subfolders(id)?;
            // Popped in id (creation) order.
            children.reverse();
            stack.extend(children);
        }
        Ok(order)
    }

    /// Deletes `top` with everything below it. None of it may be distinguished or a search folder.
    fn delete_subtree(&mut self, top: FolderId) -> Result<(), Error> {
        let order =
            self.plain_subtree(top, "distinguished and search folders cannot be deleted")?;
        // Children first, so every folder is empty of subfolders when its row goes.
        for id in order.into_iter().rev() {
            self.delete_items_of(id, true)?;
            let parent = self
                .folder(id)?
                .parent
                .ok_or_else(|| Error::Corrupt(format!("folder {id} has no parent")))?;
            self.t.folders.remove((self.mbx, id.0))?;
            self.folders.remove(&id);
            self.dirty.remove(&id);
            self.unlink_child(parent, id)?;
            self.events
                .push(Event::FolderDeleted { folder: id, parent });
        }
        Ok(())
    }

    fn run(&mut self, change: Change) -> Result<Outcome, Error> {
        match change {
            Change::CreateFolder { parent, props } => self.create_folder(parent, props),
            Change::UpdateFolder {
                folder,
                set,
                delete,
            } => self.update_folder(folder, set, delete),
            Change::DeleteFolder { folder } => {
                if self.folder(folder)?.distinguished.is_some() {
                    return Err(Error::NotAllowed {
                        folder,
                        reason: "distinguished folders cannot be deleted",
                    });
                }
                self.delete_subtree(folder)?;
                Ok(Outcome::Done)
            }
            Change::MoveFolder { folder, to } => self.move_folder(folder, to),
            Change::CopyFolder { folder, to } => self.copy_folder(folder, to),
            Change::EmptyFolder {
                folder,
                delete_subfolders,
            } => {
                if self.folder(folder)?.search_prefix.is_some() {
                    return Err(Error::NotAllowed {
                        folder,
                        reason: "search folders cannot be emptied",
                    });
                }
                // Like MAPI's EmptyFolder without DEL_ASSOCIATED, the folder keeps its
                // associated items (its configuration, e.g. the user's greetings in the root).
                self.delete_items_of(folder, false)?;
                if delete_subfolders {
                    for child in self.subfolders(folder)? {
                        self.delete_subtree(child)?;
                    }
                }
                Ok(Outcome::Done)
            }
            Change::CreateItem {
                folder,
                props,
                attachments,
            } => self.create_item(folder, props, attachments),
            Change::UpdateItem {
                item,
                expected,
                set,
                delete,
            } => self.update_item(item, expected, set, delete),
            Change::DeleteItem { item } => {
                self.delete_item(item)?;
                Ok(Outcome::Done)
            }
            Change::MoveItem { item, to } => self.move_item(item, to),
            Change::CopyItem { item, to } => self.copy_item(item, to),
            Change::SetReadFlag { items, read } => self.set_read_flag(items, read),
            Change::AddAttachment { item, attachment } => self.add_attachment(item, attachment),
            Change::DeleteAttachment { attachment } => self.delete_attachment(attachment),
        }
    }

    fn create_distinguished(&mut self, which: DistinguishedFolder) -> Result<(), Error> {
        let parent = match which.parent() {
            Some(parent) => Some(self.meta.distinguished(parent).ok_or_else(|| {
                Error::Corrupt(format!("{} is created before its parent", which.as_str()))
            })?),
            None => None,
        };
        let mut props = PropertyBag::new();
        props.set(
            tags::DISPLAY_NAME,
            PropValue::Unicode(which.display_name().into()),
        )?;
        if let Some(class) = which.container_class() {
            props.set(tags::CONTAINER_CLASS, PropValue::Unicode(class.into()))?;
        }
        props.set(tags::CREATION_TIME, PropValue::SystemTime(self.stamp))?;
        props.set(
            tags::LAST_MODIFICATION_TIME,
            PropValue::SystemTime(self.stamp),
        )?;
        let id = FolderId(self.new_id()?);
        let search_prefix = which.search_class_prefix();
        let record = FolderRecord {
            parent,
            distinguished: Some(which),
            search_prefix: search_prefix.map(String::from),
            change_key: ChangeKey(1),
            total: 0,
            unread: 0,
            child_folders: 0,
            props,
        };
        self.insert_folder(id, record, None)?;
        self.meta.distinguished.push((which, id));
        if let Some(prefix) = search_prefix {
            self.meta.search_folders.push(id);
            self.populate_search_folder(id, prefix)?;
        }
        Ok(())
    }

    /// Lists the existing matching items in a search folder added to a mailbox that has items.
    fn populate_search_folder(&mut self, folder: FolderId, prefix: &str) -> Result<(), Error> {
        let mut matching = Vec::new();
        for row in self.t.items.range((self.mbx, 0)..=(self.mbx, u64::MAX))? {
            let (key, value) = row?;
            let id = ItemId(key.value().1);
            let record = ItemRecord::decode(value.value()).map_err(corrupt("item", id))?;
            if matches_search(&record.props, prefix) {
                matching.push((id, record.props));
            }
        }
        for (id, props) in matching {
            self.membership(folder, id, false, true)?;
            self.count(folder, None, Some(is_unread(&props)), true)?;
            index_rows(&mut self.t.index, self.mbx, folder, id, None, Some(&props))?;
        }
        Ok(())
    }

    fn create_folder(
        &mut self,
        parent: FolderId,
        set: Vec<(PropKey, PropValue)>,
    ) -> Result<Outcome, Error> {
        self.container(parent, "folders")?;
        let mut props = PropertyBag::new();
        self.apply_props(&mut props, set, Vec::new())?;
        let id = FolderId(self.new_id()?);
        if let Some(name) = props.unicode(tags::DISPLAY_NAME) {
            self.check_unique_name(parent, name, id)?;
        }
        props.set(tags::CREATION_TIME, PropValue::SystemTime(self.stamp))?;
        props.set(
            tags::LAST_MODIFICATION_TIME,
            PropValue::SystemTime(self.stamp),
        )?;
        let record = FolderRecord {
            parent: Some(parent),
            distinguished: None,
            search_prefix: None,
            change_key: ChangeKey(1),
            total: 0,
            unread: 0,
            child_folders: 0,
            props,
        };
        self.insert_folder(id, record, None)?;
        Ok(Outcome::Folder {
            folder: id,
            change_key: ChangeKey(1),
        })
    }

    /// Checks that `folder` may be moved or copied under `to`: it is not distinguished, `to` holds
    /// folders and is neither `folder` nor below it, and no subfolder of `to` other than `except`
    /// has its name. Returns the folder's current parent.
    fn check_relocation(
        &mut self,
        folder: FolderId,
        to: FolderId,
        except: FolderId,
    ) -> Result<FolderId, Error> {
        let record = self.folder(folder)?;
        if record.distinguished.is_some() {
            return Err(Error::NotAllowed {
                folder,
                reason: "distinguished folders cannot be moved or copied",
            });
        }
        let parent = record
            .parent
            .ok_or_else(|| Error::Corrupt(format!("folder {folder} has no parent")))?;
        let name = record.props.unicode(tags::DISPLAY_NAME).map(str::to_string);
        self.container(to, "folders")?;
        // Walking up from the destination must not meet the folder itself.
        let mut seen = BTreeSet::new();
        let mut current = Some(to);
        while let Some(id) = current {
            if id == folder {
                return Err(Error::InvalidParent {
                    folder: to,
                    what: "a folder above it",
                });
            }
            if !seen.insert(id) {
                return Err(Error::Corrupt(format!("folder {id} is its own ancestor")));
            }
            current = self.folder(id)?.parent;
        }
        if let Some(name) = name {
            self.check_unique_name(to, &name, except)?;
        }
        Ok(parent)
    }

    /// Moves `folder` under `to`; its subtree and items follow without changing.
    fn move_folder(&mut self, folder: FolderId, to: FolderId) -> Result<Outcome, Error> {
        let old_parent = self.check_relocation(folder, to, folder)?;
        self.unlink_child(old_parent, folder)?;
        self.link_child(to, folder)?;
        // Written here rather than through `folder_mut`, which would announce the moved folder as
        // modified too; FolderMoved says all there is.
        let mut record = self.folder(folder)?.clone();
        record.parent = Some(to);
        record.change_key.0 += 1;
        record.props.set(
            tags::LAST_MODIFICATION_TIME,
            PropValue::SystemTime(self.stamp),
        )?;
        self.t
            .folders
            .insert((self.mbx, folder.0), record.encode().as_slice())?;
        let change_key = record.change_key;
        self.folders.insert(folder, record);
        self.events.push(Event::FolderMoved {
            folder,
            change_key,
            parent: to,
            old_parent,
        });
        Ok(Outcome::Folder { folder, change_key })
    }

    /// Copies `folder`, its subfolders, items and attachments under `to`, all under new ids.
    fn copy_folder(&mut self, folder: FolderId, to: FolderId) -> Result<Outcome, Error> {
        let top = FolderId(self.new_id()?);
        let old_parent = self.check_relocation(folder, to, top)?;
        // The whole subtree is listed before the first copy, so no copy can join the walk.
        let originals =
            self.plain_subtree(folder, "distinguished and search folders cannot be copied")?;
        let mut copies = BTreeMap::new();
        for original in originals {
            let source = self.folder(original)?.clone();
            let (id, parent, announce) = if original == folder {
                (top, to, Some((folder, old_parent)))
            } else {
                let parent = source
                    .parent
                    .and_then(|parent| copies.get(&parent).copied())
                    .ok_or_else(|| {
                        Error::Corrupt(format!("folder {original} is copied before its parent"))
                    })?;
                (FolderId(self.new_id()?), parent, None)
            };
            let mut props = source.props;
            props.set(tags::CREATION_TIME, PropValue::SystemTime(self.stamp))?;
            props.set(
                tags::LAST_MODIFICATION_TIME,
                PropValue::SystemTime(self.stamp),
            )?;
            let record = FolderRecord {
                parent: Some(parent),
                distinguished: None,
                search_prefix: None,
                change_key: ChangeKey(1),
                total: 0,
                unread: 0,
                child_folders: 0,
                props,
            };
            self.insert_folder(id, record, announce)?;
            copies.insert(original, id);
            for item in members(&self.t.folder_items, self.mbx, original.0)? {
                self.copy_item(ItemId(item), id)?;
            }
        }
        let change_key = self.folder(top)?.change_key;
        Ok(Outcome::Folder {
            folder: top,
            change_key,
        })
    }

    fn update_folder(
        &mut self,
        folder: FolderId,
        set: Vec<(PropKey, PropValue)>,
        delete: Vec<PropKey>,
    ) -> Result<Outcome, Error> {
        let current = self.folder(folder)?;
        let (parent, mut props) = (current.parent, current.props.clone());
        let old_name = props.unicode(tags::DISPLAY_NAME).map(str::to_string);
        self.apply_props(&mut props, set, delete)?;
        let new_name = props.unicode(tags::DISPLAY_NAME).map(str::to_string);
        if let (Some(parent), Some(name)) = (parent, &new_name) {
            if new_name != old_name {
                self.check_unique_name(parent, name, folder)?;
            }
        }
        props.set(
            tags::LAST_MODIFICATION_TIME,
            PropValue::SystemTime(self.stamp),
        )?;
        let record = self.folder_mut(folder)?;
        record.props = props;
        Ok(Outcome::Folder {
            folder,
            change_key: record.change_key,
        })
    }

    fn create_item(
        &mut self,
        folder: FolderId,
        set: Vec<(PropKey, PropValue)>,
        attachments: Vec<NewAttachment>,
    ) -> Result<Outcome, Error> {
        let mail_folder = self
            .container(folder, "items")?
            .props
            .unicode(tags::CONTAINER_CLASS)
            .is_some_and(|class| class_is_within(class, "IPF.Note"));
        let mut props = PropertyBag::new();
        self.apply_props(&mut props, set, Vec::new())?;
        props.set(tags::CREATION_TIME, PropValue::SystemTime(self.stamp))?;
        self.check_configuration_unique(folder, &props)?;
        let id = ItemId(self.new_id()?);
        let mut record = ItemRecord {
            parent: folder,
            change_key: ChangeKey(1),
            attachments: Vec::new(),
            attachment_bytes: 0,
            props,
        };
        for attachment in attachments {
            self.insert_attachment(id, &mut record, attachment)?;
        }
        self.store_item(id, &mut record)?;
        let search_folders = self.reindex(id, folder, None, Some(&record.props))?;
        let change_key = record.change_key;
        self.events.push(Event::ItemCreated {
            item: id,
            change_key,
            parent: folder,
            search_folders,
        });
        let flags = message_flags(&record.props);
        if mail_folder
            && !is_associated(&record.props)
            && flags & (tags::MSGFLAG_READ | tags::MSGFLAG_UNSENT) == 0
        {
            self.events.push(Event::NewMail {
                item: id,
                change_key,
                parent: folder,
            });
        }
        Ok(Outcome::Item {
            item: id,
            change_key,
        })
    }

    /// Writes a modified item (version bumped) and announces it.
    fn modified(
        &mut self,
        id: ItemId,
        record: &mut ItemRecord,
        before: &PropertyBag,
    ) -> Result<ChangeKey, Error> {
        record.change_key.0 += 1;
        self.store_item(id, record)?;
        let search_folders = self.reindex(id, record.parent, Some(before), Some(&record.props))?;
        self.events.push(Event::ItemModified {
            item: id,
            change_key: record.change_key,
            parent: record.parent,
            search_folders,
        });
        Ok(record.change_key)
    }

    fn update_item(
        &mut self,
        item: ItemId,
        expected: Option<ChangeKey>,
        set: Vec<(PropKey, PropValue)>,
        delete: Vec<PropKey>,
    ) -> Result<Outcome, Error> {
        let mut record = self.read_item(item)?;
        if let Some(expected) = expected {
            if expected != record.change_key {
                return Err(Error::Conflict {
                    item,
                    expected,
                    current: record.change_key,
                });
            }
        }
        let associated = PropKey::Tag(tags::ASSOCIATED);
        if let Some(key) = set
            .iter()
            .map(|(key, _)| key)
            .chain(&delete)
            .find(|key| **key == associated)
        {
            return Err(Error::InvalidProperty {
                key: key.clone(),
                reason: "fixed when the item is created",
            });
        }
        let before = record.props.clone();
        self.apply_props(&mut record.props, set, delete)?;
        let change_key = self.modified(item, &mut record, &before)?;
        Ok(Outcome::Item { item, change_key })
    }

    fn set_read_flag(&mut self, items: Vec<ItemId>, read: bool) -> Result<Outcome, Error> {
        let mut answers = Vec::with_capacity(items.len());
        for item in items {
            let mut record = self.read_item(item)?;
            let flags = message_flags(&record.props);
            let wanted = if read {
                flags | tags::MSGFLAG_READ
            } else {
                flags & !tags::MSGFLAG_READ
            };
            if wanted == flags {
                answers.push((item, record.change_key));
                continue;
            }
            let before = record.props.clone();
            record
                .props
                .set(tags::MESSAGE_FLAGS, PropValue::Int32(wanted))?;
            answers.push((item, self.modified(item, &mut record, &before)?));
        }
        Ok(Outcome::Items(answers))
    }

    fn move_item(&mut self, item: ItemId, to: FolderId) -> Result<Outcome, Error> {
        self.container(to, "items")?;
        let mut record = self.read_item(item)?;
        if record.parent != to {
            self.check_configuration_unique(to, &record.props)?;
        }
        let old_parent = record.parent;
        self.t.items.remove((self.mbx, item.0))?;
        self.reindex(item, old_parent, Some(&record.props), None)?;
        let new_id = ItemId(self.new_id()?);
        for attachment in &record.attachments {
            let mut meta = read_attachment(&self.t.attachments, self.mbx, *attachment)?;
            meta.item = new_id;
            self.t
                .attachments
                .insert((self.mbx, attachment.0), meta.encode().as_slice())?;
        }
        record.parent = to;
        record.change_key.0 += 1;
        self.store_item(new_id, &mut record)?;
        let search_folders = self.reindex(new_id, to, None, Some(&record.props))?;
        self.events.push(Event::ItemMoved {
            item: new_id,
            change_key: record.change_key,
            parent: to,
            old_item: item,
            old_parent,
            search_folders,
        });
        Ok(Outcome::Item {
            item: new_id,
            change_key: record.change_key,
        })
    }

    fn copy_item(&mut self, item: ItemId, to: FolderId) -> Result<Outcome, Error> {
        self.container(to, "items")?;
        let source = self.read_item(item)?;
        self.check_configuration_unique(to, &source.props)?;
        let new_id = ItemId(self.new_id()?);
        let mut props = source.props;
        props.set(tags::CREATION_TIME, PropValue::SystemTime(self.stamp))?;
        let mut record = ItemRecord {
            parent: to,
            change_key: ChangeKey(1),
            attachments: Vec::with_capacity(source.attachments.len()),
            attachment_bytes: source.attachment_bytes,
            props,
        };
        for attachment in source.attachments {
            let mut meta = read_attachment(&self.t.attachments, self.mbx, attachment)?;
            meta.item = new_id;
            let content = self
                .t
                .content
                .get((self.mbx, attachment.0))?
                .map(|guard| guard.value().to_vec())
                .ok_or_else(|| Error::Corrupt(format!("attachment {attachment} has no content")))?;
            let copy = AttachmentId(self.new_id()?);
            self.t
                .attachments
                .insert((self.mbx, copy.0), meta.encode().as_slice())?;
            self.t
                .content
                .insert((self.mbx, copy.0), content.as_slice())?;
            record.attachments.push(copy);
        }
        self.store_item(new_id, &mut record)?;
        let search_folders = self.reindex(new_id, to, None, Some(&record.props))?;
        self.events.push(Event::ItemCopied {
            item: new_id,
            change_key: record.change_key,
            parent: to,
            old_item: item,
            old_parent: source.parent,
            search_folders,
        });
        Ok(Outcome::Item {
            item: new_id,
            change_key: record.change_key,
        })
    }

    fn add_attachment(
        &mut self,
        item: ItemId,
        attachment: NewAttachment,
    ) -> Result<Outcome, Error> {
        let mut record = self.read_item(item)?;
        let before = record.props.clone();
        let id = self.insert_attachment(item, &mut record, attachment)?;
        let item_change_key = self.modified(item, &mut record, &before)?;
        Ok(Outcome::Attachment {
            attachment: id,
            item,
            item_change_key,
        })
    }

    fn delete_attachment(&mut self, attachment: AttachmentId) -> Result<Outcome, Error> {
        let item = read_attachment(&self.t.attachments, self.mbx, attachment)?.item;
        let mut record = self.read_item(item)?;
        let position = record
            .attachments
            .iter()
            .position(|a| *a == attachment)
            .ok_or_else(|| {
                Error::Corrupt(format!(
                    "item {item} does not list its attachment {attachment}"
                ))
            })?;
        record.attachments.remove(position);
        let bytes = self.remove_attachment_rows(attachment)?;
        record.attachment_bytes = record.attachment_bytes.saturating_sub(bytes);
        let before = record.props.clone();
        let change_key = self.modified(item, &mut record, &before)?;
        Ok(Outcome::Item { item, change_key })
    }
}

fn adjust(value: u64, delta: i8, folder: FolderId) -> Result<u64, Error> {
    let adjusted = match delta {
        0 => Some(value),
        d if d > 0 => value.checked_add(u64::from(d.unsigned_abs())),
        d => value.checked_sub(u64::from(d.unsigned_abs())),
    };
    adjusted.ok_or_else(|| Error::Corrupt(format!("folder {folder} counter out of range")))
}

/// A consistent read view of one mailbox.
struct Snapshot {
    txn: ReadTransaction,
    mbx: u64,
}

impl Snapshot {
    fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        definition: TableDefinition<K, V>,
    ) -> Result<ReadOnlyTable<K, V>, Error> {
        Ok(self.txn.open_table(definition)?)
    }

    fn meta(&self) -> Result<MailboxMeta, Error> {
        read_meta(&self.table(MAILBOX_META)?, self.mbx)
    }

    fn folder(&self, id: FolderId) -> Result<Folder, Error> {
        Ok(folder_view(
            id,
            read_folder(&self.table(FOLDERS)?, self.mbx, id)?,
        ))
    }

    /// The items of `folder` (a search folder's matches) that are, or are not, `associated`.
    fn members(&self, folder: FolderId, associated: bool) -> Result<Vec<Item>, Error> {
        read_folder(&self.table(FOLDERS)?, self.mbx, folder)?;
        let items = self.table(ITEMS)?;
        let attachments = self.table(ATTACHMENTS)?;
        let mut out = Vec::new();
        for id in members(&self.table(FOLDER_ITEMS)?, self.mbx, folder.0)? {
            let item = self.item(&items, &attachments, ItemId(id))?;
            if is_associated(&item.props) == associated {
                out.push(item);
            }
        }
        Ok(out)
    }

    fn item(
        &self,
        items: &ReadOnlyTable<(u64, u64), &'static [u8]>,
        attachments: &ReadOnlyTable<(u64, u64), &'static [u8]>,
        id: ItemId,
    ) -> Result<Item, Error> {
        let record = read_item(items, self.mbx, id)?;
        let mut infos = Vec::with_capacity(record.attachments.len());
        for attachment in record.attachments {
            let props = read_attachment(attachments, self.mbx, attachment)?.props;
            infos.push(AttachmentInfo {
                id: attachment,
                props,
            });
        }
        Ok(Item {
            id,
            parent: record.parent,
            change_key: record.change_key,
            props: record.props,
            attachments: infos,
        })
    }
}

impl MailStore for RedbStore {
    fn ensure_mailbox(&self, mailbox: &MailboxId, now: SystemTime) -> Result<ChangeSet, Error> {
        // The common case (every folder present) needs no write lock.
        match self.snapshot(mailbox) {
            Ok(snapshot) => {
                let meta = snapshot.meta()?;
                if DistinguishedFolder::ALL
                    .iter()
                    .all(|which| meta.distinguished(*which).is_some())
                {
                    return Ok(ChangeSet {
                        mailbox: mailbox.clone(),
                        outcome: Outcome::Done,
                        events: Vec::new(),
                    });
                }
            }
            Err(Error::NotFound(Missing::Mailbox(_))) => {}
            Err(other) => return Err(other),
        }
        self.change_mailbox(mailbox, now, true, |tx| {
            for which in DistinguishedFolder::ALL {
                if tx.meta.distinguished(which).is_none() {
                    tx.create_distinguished(which)?;
                }
            }
            Ok(Outcome::Done)
        })
    }

    fn apply(
        &self,
        mailbox: &MailboxId,
        change: Change,
        now: SystemTime,
    ) -> Result<ChangeSet, Error> {
        self.change_mailbox(mailbox, now, false, |tx| tx.run(change))
    }

    fn apply_batch(
        &self,
        mailbox: &MailboxId,
        changes: Vec<Change>,
        now: SystemTime,
    ) -> Result<Vec<Outcome>, Error> {
        let mut outcomes = Vec::with_capacity(changes.len());
        self.change_mailbox(mailbox, now, false, |tx| {
            for change in changes {
                outcomes.push(tx.run(change)?);
            }
            Ok(Outcome::Done)
        })?;
        Ok(outcomes)
    }

    fn distinguished_folder(
        &self,
        mailbox: &MailboxId,
        which: DistinguishedFolder,
    ) -> Result<FolderId, Error> {
        self.snapshot(mailbox)?
            .meta()?
            .distinguished(which)
            .ok_or(Error::NotFound(Missing::DistinguishedFolder(which)))
    }

    fn folder(&self, mailbox: &MailboxId, folder: FolderId) -> Result<Folder, Error> {
        self.snapshot(mailbox)?.folder(folder)
    }

    fn child_folders(
        &self,
        mailbox: &MailboxId,
        folder: FolderId,
        traversal: Traversal,
    ) -> Result<Vec<Folder>, Error> {
        let snapshot = self.snapshot(mailbox)?;
        let folders = snapshot.table(FOLDERS)?;
        let children = snapshot.table(FOLDER_CHILDREN)?;
        read_folder(&folders, snapshot.mbx, folder)?;
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        // Depth first, each folder before its children, children in id (creation) order.
        let mut stack: Vec<u64> = members(&children, snapshot.mbx, folder.0)?;
        stack.reverse();
        while let Some(id) = stack.pop() {
            let id = FolderId(id);
            if !seen.insert(id) {
                return Err(Error::Corrupt(format!(
                    "folder {id} appears twice in the tree"
                )));
            }
            out.push(folder_view(id, read_folder(&folders, snapshot.mbx, id)?));
            if traversal == Traversal::Deep {
                let mut below = members(&children, snapshot.mbx, id.0)?;
                below.reverse();
                stack.extend(below);
            }
        }
        Ok(out)
    }

    fn items(&self, mailbox: &MailboxId, folder: FolderId) -> Result<Vec<Item>, Error> {
        self.snapshot(mailbox)?.members(folder, false)
    }

    fn associated_items(&self, mailbox: &MailboxId, folder: FolderId) -> Result<Vec<Item>, Error> {
        self.snapshot(mailbox)?.members(folder, true)
    }

    fn visit_items(
        &self,
        mailbox: &MailboxId,
        folder: FolderId,
        visit: &mut dyn FnMut(Item) -> bool,
    ) -> Result<(), Error> {
        let snapshot = self.snapshot(mailbox)?;
        read_folder(&snapshot.table(FOLDERS)?, snapshot.mbx, folder)?;
        let items = snapshot.table(ITEMS)?;
        let attachments = snapshot.table(ATTACHMENTS)?;
        let members = snapshot.table(FOLDER_ITEMS)?;
        for row in
            members.range((snapshot.mbx, folder.0, 0)..=(snapshot.mbx, folder.0, u64::MAX))?
        {
            let id = ItemId(row?.0.value().2);
            let item = snapshot.item(&items, &attachments, id)?;
            if !is_associated(&item.props) && !visit(item) {
                break;
            }
        }
        Ok(())
    }

    fn item_page(
        &self,
        mailbox: &MailboxId,
        folder: FolderId,
        view: &ItemView,
    ) -> Result<ItemPage, Error> {
        let snapshot = self.snapshot(mailbox)?;
        let record = read_folder(&snapshot.table(FOLDERS)?, snapshot.mbx, folder)?;
        let total = if view.unread_only {
            record.unread
        } else {
            record.total
        };
        let start = view.offset.min(total);
        let end = start.saturating_add(view.limit).min(total);
        let kind = view.order.kind(view.unread_only);
        let index = snapshot.table(ITEM_INDEX)?;
        let rows = index.range(
            (snapshot.mbx, folder.0, kind, &[][..], 0)
                ..(snapshot.mbx, folder.0, kind + 1, &[][..], 0),
        )?;
        // The rows are walked from whichever end of the view is nearer the page; the counters
        // and the rows are of one snapshot, so they agree.
        let from_far_end = total - end;
        let ids: Vec<u64> = if start <= from_far_end {
            collect_ids(rows, view.descending, start, end - start)?
        } else {
            let mut ids = collect_ids(rows, !view.descending, from_far_end, end - start)?;
            ids.reverse();
            ids
        };
        let items = snapshot.table(ITEMS)?;
        let attachments = snapshot.table(ATTACHMENTS)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(snapshot.item(&items, &attachments, ItemId(id))?);
        }
        Ok(ItemPage { total, items: out })
    }

    fn item(&self, mailbox: &MailboxId, item: ItemId) -> Result<Item, Error> {
        let snapshot = self.snapshot(mailbox)?;
        snapshot.item(&snapshot.table(ITEMS)?, &snapshot.table(ATTACHMENTS)?, item)
    }

    fn attachment(
        &self,
        mailbox: &MailboxId,
        attachment: AttachmentId,
    ) -> Result<Attachment, Error> {
        let snapshot = self.snapshot(mailbox)?;
        let record = read_attachment(&snapshot.table(ATTACHMENTS)?, snapshot.mbx, attachment)?;
        let content = snapshot
            .table(ATTACHMENT_CONTENT)?
            .get((snapshot.mbx, attachment.0))?
            .map(|guard| guard.value().to_vec())
            .ok_or_else(|| Error::Corrupt(format!("attachment {attachment} has no content")))?;
        Ok(Attachment {
            id: attachment,
            item: record.item,
            props: record.props,
            content,
        })
    }

    fn named_property_ids(
        &self,
        mailbox: &MailboxId,
        names: &[NamedProperty],
    ) -> Result<Vec<Option<u16>>, Error> {
        let snapshot = self.snapshot(mailbox)?;
        let table = snapshot.table(NAMED_IDS)?;
        names
            .iter()
            .map(|name| {
                let encoded = encode_named(name);
                match table.get((snapshot.mbx, encoded.as_slice()))? {
                    Some(guard) => u16::try_from(guard.value()).map(Some).map_err(|_| {
                        Error::Corrupt(format!("named property id {}", guard.value()))
                    }),
                    None => Ok(None),
                }
            })
            .collect()
    }

    fn named_property(&self, mailbox: &MailboxId, id: u16) -> Result<Option<NamedProperty>, Error> {
        let snapshot = self.snapshot(mailbox)?;
        let table = snapshot.table(NAMED_NAMES)?;
        let Some(guard) = table.get((snapshot.mbx, u64::from(id)))? else {
            return Ok(None);
        };
        decode_named(guard.value())
            .map(Some)
            .map_err(corrupt("named property", id))
    }

    fn changes_since(
        &self,
        mailbox: &MailboxId,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<LoggedEvent>, Error> {
        let snapshot = self.snapshot(mailbox)?;
        let meta = snapshot.meta()?;
        let (oldest, latest) = (meta.oldest_watermark(), meta.latest_seq());
        if after < oldest || after > latest {
            return Err(Error::InvalidWatermark {
                requested: after,
                oldest,
                latest,
            });
        }
        let table = snapshot.table(CHANGES)?;
        let mut out = Vec::new();
        let first = after.0.saturating_add(1);
        for row in table
            .range((snapshot.mbx, first)..=(snapshot.mbx, u64::MAX))?
            .take(limit)
        {
            let (key, value) = row?;
            let seq = key.value().1;
            let (time, event) = decode_logged(value.value()).map_err(corrupt("change", seq))?;
            let time = time
                .to_system_time()
                .ok_or_else(|| Error::Corrupt(format!("change {seq} has an impossible time")))?;
            out.push(LoggedEvent {
                seq: Seq(seq),
                time,
                event,
            });
        }
        Ok(out)
    }

    fn log_bounds(&self, mailbox: &MailboxId) -> Result<LogBounds, Error> {
        let meta = self.snapshot(mailbox)?.meta()?;
        Ok(LogBounds {
            oldest: meta.oldest_watermark(),
            latest: meta.latest_seq(),
        })
    }

    fn trim_changes_before(&self, mailbox: &MailboxId, before: SystemTime) -> Result<u64, Error> {
        let cutoff = FileTime::from_system_time(before);
        self.write(|txn| {
            let number = mailbox_number(&txn.open_table(MAILBOXES)?, mailbox)?
                .ok_or_else(|| Error::NotFound(Missing::Mailbox(mailbox.clone())))?;
            let mut meta_table = txn.open_table(MAILBOX_META)?;
            let mut changes = txn.open_table(CHANGES)?;
            let mut meta = read_meta(&meta_table, number)?;
            // The log is in commit order, so trimming stops at the first entry young enough.
            let mut old = Vec::new();
            for row in changes.range((number, meta.first_kept_seq)..=(number, u64::MAX))? {
                let (key, value) = row?;
                let seq = key.value().1;
                let (time, _) = decode_logged(value.value()).map_err(corrupt("change", seq))?;
                if time >= cutoff {
                    break;
                }
                old.push(seq);
            }
            for seq in &old {
                changes.remove((number, *seq))?;
            }
            if let Some(last) = old.last() {
                meta.first_kept_seq = last.saturating_add(1);
                meta_table.insert(number, meta.encode().as_slice())?;
            }
            Ok(old.len() as u64)
        })
    }

    fn watch_log(&self, mailbox: &MailboxId) -> Result<watch::Receiver<Seq>, Error> {
        // The lock is held across the read, so no commit announces itself between the read of
        // `latest` and the sender's creation.
        let mut watchers = self
            .inner
            .watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = watchers.get(mailbox) {
            return Ok(sender.subscribe());
        }
        let latest = self.log_bounds(mailbox)?.latest;
        let (sender, receiver) = watch::channel(latest);
        watchers.insert(mailbox.clone(), sender);
        Ok(receiver)
    }

    fn mailboxes(&self) -> Result<Vec<MailboxId>, Error> {
        let txn = self.inner.db.begin_read()?;
        let mut out = Vec::new();
        for row in txn.open_table(MAILBOXES)?.iter()? {
            out.push(MailboxId::new(row?.0.value()));
        }
        Ok(out)
    }

    fn save_subscription(&self, id: &str, record: &[u8]) -> Result<(), Error> {
        self.write(|txn| {
            txn.open_table(SUBSCRIPTIONS)?.insert(id, record)?;
            Ok(())
        })
    }

    fn remove_subscription(&self, id: &str) -> Result<(), Error> {
        self.write(|txn| {
            txn.open_table(SUBSCRIPTIONS)?.remove(id)?;
            Ok(())
        })
    }

    fn subscriptions(&self) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let txn = self.inner.db.begin_read()?;
        let mut out = Vec::new();
        for row in txn.open_table(SUBSCRIPTIONS)?.iter()? {
            let (id, record) = row?;
            out.push((id.value().to_owned(), record.value().to_vec()));
        }
        Ok(out)
    }

    fn verify(&self, mailbox: &MailboxId) -> Result<VerifyReport, Error> {
        let snapshot = self.snapshot(mailbox)?;
        verify(&snapshot)
    }
}

/// What a folder should count, recomputed from the items.
#[derive(Debug, Default, PartialEq, Eq)]
struct Recount {
    total: u64,
    unread: u64,
    child_folders: u64,
}

/// Checks that the index rows of `item` listed in `folder` are stored; returns how many there are.
fn check_index(
    table: &ReadOnlyTable<IndexKey<'static>, ()>,
    mbx: u64,
    folder: FolderId,
    item: ItemId,
    props: &PropertyBag,
    problems: &mut Vec<String>,
) -> Result<u64, Error> {
    let mut rows = 0;
    for order in ItemOrder::ALL {
        let key = order.key(props);
        let unread = [false, true];
        let kinds = if is_unread(props) {
            &unread[..]
        } else {
            &unread[..1]
        };
        for unread_only in kinds {
            rows += 1;
            let kind = order.kind(*unread_only);
            if table
                .get((mbx, folder.0, kind, key.as_slice(), item.0))?
                .is_none()
            {
                problems.push(format!(
                    "item {item} lacks its {order:?} index row in folder {folder}"
                ));
            }
        }
    }
    Ok(rows)
}

fn verify(snapshot: &Snapshot) -> Result<VerifyReport, Error> {
    let mbx = snapshot.mbx;
    let meta = snapshot.meta()?;
    let mut report = VerifyReport::default();
    let mut problems = Vec::new();

    let mut folders = BTreeMap::new();
    for row in snapshot.table(FOLDERS)?.range((mbx, 0)..=(mbx, u64::MAX))? {
        let (key, value) = row?;
        let id = FolderId(key.value().1);
        folders.insert(
            id,
            FolderRecord::decode(value.value()).map_err(corrupt("folder", id))?,
        );
    }
    let mut expected: BTreeMap<FolderId, Recount> =
        folders.keys().map(|id| (*id, Recount::default())).collect();
    let mut listed: BTreeSet<(FolderId, ItemId)> = BTreeSet::new();

    for (id, record) in &folders {
        if let Some(parent) = record.parent {
            match expected.get_mut(&parent) {
                Some(recount) => recount.child_folders += 1,
                None => problems.push(format!("folder {id} has missing parent {parent}")),
            }
        }
    }
    for row in snapshot
        .table(FOLDER_CHILDREN)?
        .range((mbx, 0, 0)..=(mbx, u64::MAX, u64::MAX))?
    {
        let (parent, child) = {
            let key = row?.0.value();
            (FolderId(key.1), FolderId(key.2))
        };
        if folders.get(&child).map(|record| record.parent) != Some(Some(parent)) {
            problems.push(format!(
                "child row {parent}/{child} does not match folder {child}"
            ));
        }
    }
    for (which, id) in &meta.distinguished {
        if folders.get(id).and_then(|record| record.distinguished) != Some(*which) {
            problems.push(format!(
                "distinguished {} points at folder {id}",
                which.as_str()
            ));
        }
    }

    let attachments_table = snapshot.table(ATTACHMENTS)?;
    let content_table = snapshot.table(ATTACHMENT_CONTENT)?;
    let index_table = snapshot.table(ITEM_INDEX)?;
    let mut index_rows = 0u64;
    let mut owned_attachments = BTreeMap::new();
    for row in snapshot.table(ITEMS)?.range((mbx, 0)..=(mbx, u64::MAX))? {
        let (key, value) = row?;
        let id = ItemId(key.value().1);
        let record = ItemRecord::decode(value.value()).map_err(corrupt("item", id))?;
        report.items += 1;
        let unread = is_unread(&record.props);
        match (
            folders.get(&record.parent),
            expected.get_mut(&record.parent),
        ) {
            (Some(parent), Some(recount)) if parent.search_prefix.is_none() => {
                if !is_associated(&record.props) {
                    recount.total += 1;
                    recount.unread += u64::from(unread);
                    index_rows += check_index(
                        &index_table,
                        mbx,
                        record.parent,
                        id,
                        &record.props,
                        &mut problems,
                    )?;
                }
                listed.insert((record.parent, id));
            }
            _ => problems.push(format!(
                "item {id} lies in invalid folder {}",
                record.parent
            )),
        }
        for search in &meta.search_folders {
            let prefix = folders.get(search).and_then(|f| f.search_prefix.as_deref());
            if prefix.is_some_and(|prefix| matches_search(&record.props, prefix)) {
                if let Some(recount) = expected.get_mut(search) {
                    recount.total += 1;
                    recount.unread += u64::from(unread);
                }
                index_rows +=
                    check_index(&index_table, mbx, *search, id, &record.props, &mut problems)?;
                listed.insert((*search, id));
            }
        }
        let mut bytes = 0u64;
        for attachment in &record.attachments {
            owned_attachments.insert(*attachment, id);
            match attachments_table.get((mbx, attachment.0))? {
                Some(meta_row) => {
                    let owner = AttachmentRecord::decode(meta_row.value())
                        .map_err(corrupt("attachment", attachment))?
                        .item;
                    if owner != id {
                        problems.push(format!(
                            "attachment {attachment} of item {id} names {owner}"
                        ));
                    }
                }
                None => problems.push(format!("item {id} lists missing attachment {attachment}")),
            }
            match content_table.get((mbx, attachment.0))? {
                Some(content) => bytes += content.value().len() as u64,
                None => problems.push(format!("attachment {attachment} has no content")),
            }
        }
        if bytes != record.attachment_bytes {
            problems.push(format!(
                "item {id} attachment bytes {} != {bytes}",
                record.attachment_bytes
            ));
        }
    }

    // Every expected row was found above; as many rows as expected means none is left over.
    let mut stored_rows = 0u64;
    for row in
        index_table.range((mbx, 0, 0, &[][..], 0)..(mbx.saturating_add(1), 0, 0, &[][..], 0))?
    {
        row?;
        stored_rows += 1;
    }
    if stored_rows != index_rows {
        problems.push(format!(
            "the item indexes hold {stored_rows} rows, recount {index_rows}"
        ));
    }

    for row in attachments_table.range((mbx, 0)..=(mbx, u64::MAX))? {
        let id = AttachmentId(row?.0.value().1);
        report.attachments += 1;
        if !owned_attachments.contains_key(&id) {
            problems.push(format!("orphaned attachment {id}"));
        }
    }
    for row in content_table.range((mbx, 0)..=(mbx, u64::MAX))? {
        let id = AttachmentId(row?.0.value().1);
        if !owned_attachments.contains_key(&id) {
            problems.push(format!("orphaned attachment content {id}"));
        }
    }

    let mut rows = BTreeSet::new();
    for row in snapshot
        .table(FOLDER_ITEMS)?
        .range((mbx, 0, 0)..=(mbx, u64::MAX, u64::MAX))?
    {
        let key = row?.0.value();
        rows.insert((FolderId(key.1), ItemId(key.2)));
    }
    for (folder, item) in rows.symmetric_difference(&listed) {
        problems.push(format!(
            "membership row {folder}/{item} disagrees with the items"
        ));
    }

    for (id, record) in &folders {
        let stored = Recount {
            total: record.total,
            unread: record.unread,
            child_folders: record.child_folders,
        };
        if let Some(recount) = expected.get(id) {
            if *recount != stored {
                problems.push(format!(
                    "folder {id} counts {stored:?}, recount {recount:?}"
                ));
            }
        }
    }
    report.folders = folders.len() as u64;
    report.problems = problems;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::props::PropKey;
    use crate::tests::TestDir;
    use std::time::UNIX_EPOCH;

    /// A mailbox made before the voicemail folder existed gets it, already listing its voice items.
    #[test]
    fn a_search_folder_added_later_lists_existing_items() {
        let dir = TestDir::new();
        let store = RedbStore::open(dir.path(), Options::default()).unwrap();
        let mbx = MailboxId::new("old@example.com");
        store
            .change_mailbox(&mbx, UNIX_EPOCH, true, |tx| {
                for which in DistinguishedFolder::ALL {
                    if which != DistinguishedFolder::Voicemail {
                        tx.create_distinguished(which)?;
                    }
                }
                Ok(Outcome::Done)
            })
            .unwrap();
        let inbox = store
            .distinguished_folder(&mbx, DistinguishedFolder::Inbox)
            .unwrap();
        for class in ["IPM.Note.Microsoft.Voicemail.UM.CA", "IPM.Note"] {
            let props = vec![(
                PropKey::from(tags::MESSAGE_CLASS),
                PropValue::Unicode(class.into()),
            )];
            let change = Change::CreateItem {
                folder: inbox,
                props,
                attachments: vec![],
            };
            store.apply(&mbx, change, UNIX_EPOCH).unwrap();
        }
        let added = store.ensure_mailbox(&mbx, UNIX_EPOCH).unwrap();
        let voicemail = store
            .distinguished_folder(&mbx, DistinguishedFolder::Voicemail)
            .unwrap();
        assert!(added.events.iter().any(|logged| matches!(logged.event,
            Event::FolderCreated { folder, .. } if folder == voicemail)));
        let folder = store.folder(&mbx, voicemail).unwrap();
        assert_eq!((folder.total_count, folder.unread_count), (1, 1));
        assert_eq!(store.items(&mbx, voicemail).unwrap().len(), 1);
        assert_eq!(store.verify(&mbx).unwrap().problems, Vec::<String>::new());
    }

    /// A store written before the item indexes existed gets them at its next open, and verify
    /// finds a missing or stray row.
    #[test]
    fn indexes_are_built_on_open_and_verified() {
        let dir = TestDir::new();
        let mbx = MailboxId::new("old@example.com");
        let view = ItemView {
            order: ItemOrder::Subject,
            descending: true,
            unread_only: true,
            offset: 0,
            limit: 10,
        };
        {
            let store = RedbStore::open(dir.path(), Options::default()).unwrap();
            store.ensure_mailbox(&mbx, UNIX_EPOCH).unwrap();
            let inbox = store
                .distinguished_folder(&mbx, DistinguishedFolder::Inbox)
                .unwrap();
            for (subject, flags) in [("b", 0), ("a", tags::MSGFLAG_READ), ("c", 0)] {
                let props = vec![
                    (
                        PropKey::from(tags::SUBJECT),
                        PropValue::Unicode(subject.into()),
                    ),
                    (PropKey::from(tags::MESSAGE_FLAGS), PropValue::Int32(flags)),
                ];
                let change = Change::CreateItem {
                    folder: inbox,
                    props,
                    attachments: vec![],
                };
                store.apply(&mbx, change, UNIX_EPOCH).unwrap();
            }
            store
                .write(|txn| {
                    txn.delete_table(ITEM_INDEX)?;
                    txn.open_table(ITEM_INDEX)?;
                    txn.open_table(STORE_INFO)?.remove(INDEX_VERSION_KEY)?;
                    Ok(())
                })
                .unwrap();
            let problems = store.verify(&mbx).unwrap().problems;
            assert!(
                problems
                    .iter()
                    .any(|p| p.contains("lacks its Subject index row")),
                "{problems:?}"
            );
            assert_eq!(
                store.item_page(&mbx, inbox, &view).unwrap().items,
                vec![],
                "no rows, no page"
            );
        }
        let store = RedbStore::open(dir.path(), Options::default()).unwrap();
        assert_eq!(store.verify(&mbx).unwrap().problems, Vec::<String>::new());
        let inbox = store
            .distinguished_folder(&mbx, DistinguishedFolder::Inbox)
            .unwrap();
        let page = store.item_page(&mbx, inbox, &view).unwrap();
        let subjects: Vec<_> = page
            .items
            .iter()
            .map(|item| item.props.unicode(tags::SUBJECT).unwrap())
            .collect();
        assert_eq!((page.total, subjects), (2, vec!["c", "b"]));

        store
            .write(|txn| {
                txn.open_table(ITEM_INDEX)?
                    .insert((1, inbox.0, 0, &[][..], 424_242), ())?;
                Ok(())
            })
            .unwrap();
        let problems = store.verify(&mbx).unwrap().problems;
        assert!(
            problems.iter().any(|p| p.contains("index")),
            "a stray row is found: {problems:?}"
        );
    }
}
