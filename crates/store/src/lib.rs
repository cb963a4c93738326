//! The mailbox store: folders, items, attachments and each mailbox's change log, in one redb file
//! (`<data_dir>/mailboxes.redb`) behind the [`MailStore`] trait.
//!
//! Entry points: [`RedbStore::open`], then [`MailStore::ensure_mailbox`], [`MailStore::apply`] (the
//! one write path: rows, change-log entries and sequence numbers commit in a single durable
//! transaction, STYLE §2 rule 4) and the read methods. Items and folders are MAPI property bags
//! ([`props`]); counts (TotalCount, UnreadCount, ChildFolderCount and the voicemail search folder's
//! counts) are maintained in the same transaction as the change that moves them. After each durable
//! commit the mailbox's log watch ([`MailStore::watch_log`]) moves, which is how notifications learn
//! of every change; subscription records are kept here as opaque bytes beside the log they point into.
//!
//! Invariants: no code outside this module names redb; nothing here speaks EWS, parses XML or
//! reads the clock (callers pass `now`). All calls block on disk: async callers run them in
//! `tokio::task::spawn_blocking`. Readers never block the writer (redb MVCC snapshots).

mod change;
mod encode;
#[cfg(fuzzing)]
pub mod fuzzing;
mod index;
pub mod metrics;
pub mod oof;
pub mod oxum;
pub mod props;
mod records;
mod redb_store;
#[cfg(test)]
mod tests;
pub mod user_config;

use std::fmt;
use std::time::SystemTime;

use tokio::sync::watch;

pub use change::{Change, ChangeSet, Event, LogBounds, LoggedEvent, NewAttachment, Outcome, Seq};
use props::{NamedProperty, PropKey, PropertyBag};
pub use redb_store::RedbStore;

/// The database file inside the data directory.
pub const FILE_NAME: &str = "mailboxes.redb";

/// The item-class prefix that puts an item in the voicemail search folder (MS-OXOUM §2.1.3: every
/// voice message class starts with it).
pub const VOICEMAIL_CLASS_PREFIX: &str = "IPM.Note.Microsoft.Voicemail";

/// A mailbox, named by its user's primary SMTP address, lower-cased (addresses compare
/// case-insensitively, so one spelling is the key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxId(String);

impl MailboxId {
    /// The mailbox of the user whose primary SMTP address is `address`.
    pub fn new(address: &str) -> MailboxId {
        MailboxId(address.to_ascii_lowercase())
    }

    /// The lower-cased address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MailboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A folder, unique within its mailbox and never reused. Folders, items and attachments draw from
/// one per-mailbox counter, so no two objects of a mailbox share a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FolderId(pub u64);

/// An item, unique within its mailbox and never reused; a moved item gets a new one, as in Exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemId(pub u64);

/// An attachment, unique within its mailbox and never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttachmentId(pub u64);

/// The version of one folder or item: 1 when created, incremented by every change to it. EWS sends
/// it as the ChangeKey and compares it to detect stale updates (ErrorIrresolvableConflict).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChangeKey(pub u64);

macro_rules! display_number {
    ($($name:ident),+) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )+};
}
display_number!(FolderId, ItemId, AttachmentId, ChangeKey);

/// The well-known folders every mailbox has, by their EWS DistinguishedFolderId names
/// (MS-OXWSCDATA DistinguishedFolderIdNameType). Names EWS defines but umbox does not create are
/// absent: `parse` returns `None` for them and EWS answers ErrorFolderNotFound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DistinguishedFolder {
    /// `root`: the top of the mailbox, parent of the IPM subtree and of the search folders.
    Root,
    /// `msgfolderroot`: "Top of Information Store", the IPM subtree clients show.
    MsgFolderRoot,
    /// `inbox`.
    Inbox,
    /// `drafts`.
    Drafts,
    /// `sentitems`.
    SentItems,
    /// `deleteditems`.
    DeletedItems,
    /// `junkemail`.
    JunkEmail,
    /// `outbox`.
    Outbox,
    /// `contacts`.
    Contacts,
    /// `calendar`.
    Calendar,
    /// `tasks`.
    Tasks,
    /// `notes`.
    Notes,
    /// `journal`.
    Journal,
    /// `conversationhistory` (Exchange2013+): where Lync/Skype writes IM history and missed IMs.
    ConversationHistory,
    /// `searchfolders`: the finder folder holding search folders.
    SearchFolders,
    /// `voicemail`: a search folder listing every item whose class starts with
    /// [`VOICEMAIL_CLASS_PREFIX`].
    Voicemail,
}

impl DistinguishedFolder {
    /// Every distinguished folder, each after its parent (the order `ensure_mailbox` creates them).
    pub const ALL: [DistinguishedFolder; 16] = [
        DistinguishedFolder::Root,
        DistinguishedFolder::MsgFolderRoot,
        DistinguishedFolder::Inbox,
        DistinguishedFolder::Drafts,
        DistinguishedFolder::SentItems,
        DistinguishedFolder::DeletedItems,
        DistinguishedFolder::JunkEmail,
        DistinguishedFolder::Outbox,
        DistinguishedFolder::Contacts,
        DistinguishedFolder::Calendar,
        DistinguishedFolder::Tasks,
        DistinguishedFolder::Notes,
        DistinguishedFolder::Journal,
        DistinguishedFolder::ConversationHistory,
        DistinguishedFolder::SearchFolders,
        DistinguishedFolder::Voicemail,
    ];

    /// The EWS DistinguishedFolderId name.
    pub const fn as_str(self) -> &'static str {
        match self {
            DistinguishedFolder::Root => "root",
            DistinguishedFolder::MsgFolderRoot => "msgfolderroot",
            DistinguishedFolder::Inbox => "inbox",
            DistinguishedFolder::Drafts => "drafts",
            DistinguishedFolder::SentItems => "sentitems",
            DistinguishedFolder::DeletedItems => "deleteditems",
            DistinguishedFolder::JunkEmail => "junkemail",
            DistinguishedFolder::Outbox => "outbox",
            DistinguishedFolder::Contacts => "contacts",
            DistinguishedFolder::Calendar => "calendar",
            DistinguishedFolder::Tasks => "tasks",
            DistinguishedFolder::Notes => "notes",
            DistinguishedFolder::Journal => "journal",
            DistinguishedFolder::ConversationHistory => "conversationhistory",
            DistinguishedFolder::SearchFolders => "searchfolders",
            DistinguishedFolder::Voicemail => "voicemail",
        }
    }

    /// The folder with EWS name `name` (exact, as the schema enumeration is case-sensitive).
    pub fn parse(name: &str) -> Option<DistinguishedFolder> {
        DistinguishedFolder::ALL
            .into_iter()
            .find(|folder| folder.as_str() == name)
    }

    /// The distinguished parent; `None` for the root.
    pub const fn parent(self) -> Option<DistinguishedFolder> {
        match self {
            DistinguishedFolder::Root => None,
            DistinguishedFolder::MsgFolderRoot | DistinguishedFolder::SearchFolders => {
                Some(DistinguishedFolder::Root)
            }
            DistinguishedFolder::Voicemail => Some(DistinguishedFolder::SearchFolders),
            DistinguishedFolder::Inbox
            | DistinguishedFolder::Drafts
            | DistinguishedFolder::SentItems
            | DistinguishedFolder::DeletedItems
            | DistinguishedFolder::JunkEmail
            | DistinguishedFolder::Outbox
            | DistinguishedFolder::Contacts
            | DistinguishedFolder::Calendar
            | DistinguishedFolder::Tasks
            | DistinguishedFolder::Notes
            | DistinguishedFolder::Journal
            | DistinguishedFolder::ConversationHistory => Some(DistinguishedFolder::MsgFolderRoot),
        }
    }

    /// The display name the folder is created with (English, as Exchange 2013+ names them).
    pub const fn display_name(self) -> &'static str {
        match self {
            // Exchange leaves the root folder's name empty.
            DistinguishedFolder::Root => "",
            DistinguishedFolder::MsgFolderRoot => "Top of Information Store",
            DistinguishedFolder::Inbox => "Inbox",
            DistinguishedFolder::Drafts => "Drafts",
            DistinguishedFolder::SentItems => "Sent Items",
            DistinguishedFolder::DeletedItems => "Deleted Items",
            DistinguishedFolder::JunkEmail => "Junk Email",
            DistinguishedFolder::Outbox => "Outbox",
            DistinguishedFolder::Contacts => "Contacts",
            DistinguishedFolder::Calendar => "Calendar",
            DistinguishedFolder::Tasks => "Tasks",
            DistinguishedFolder::Notes => "Notes",
            DistinguishedFolder::Journal => "Journal",
            DistinguishedFolder::ConversationHistory => "Conversation History",
            DistinguishedFolder::SearchFolders => "Finder",
            DistinguishedFolder::Voicemail => "Voice Mail",
        }
    }

    /// The FolderClass (PidTagContainerClass) the folder is created with; the roots have none.
    pub const fn container_class(self) -> Option<&'static str> {
        match self {
            DistinguishedFolder::Root
            | DistinguishedFolder::MsgFolderRoot
            | DistinguishedFolder::SearchFolders => None,
            DistinguishedFolder::Contacts => Some("IPF.Contact"),
            DistinguishedFolder::Calendar => Some("IPF.Appointment"),
            DistinguishedFolder::Tasks => Some("IPF.Task"),
            DistinguishedFolder::Notes => Some("IPF.StickyNote"),
            DistinguishedFolder::Journal => Some("IPF.Journal"),
            DistinguishedFolder::Voicemail => Some("IPF.Note.Microsoft.Voicemail"),
            DistinguishedFolder::Inbox
            | DistinguishedFolder::Drafts
            | DistinguishedFolder::SentItems
            | DistinguishedFolder::DeletedItems
            | DistinguishedFolder::JunkEmail
            | DistinguishedFolder::Outbox
            | DistinguishedFolder::ConversationHistory => Some("IPF.Note"),
        }
    }

    /// For a search folder, the item-class prefix that selects its contents.
    pub const fn search_class_prefix(self) -> Option<&'static str> {
        if matches!(self, DistinguishedFolder::Voicemail) {
            Some(VOICEMAIL_CLASS_PREFIX)
        } else {
            None
        }
    }
}

/// What was not found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// No such mailbox (call `ensure_mailbox` first).
    Mailbox(MailboxId),
    /// No such folder.
    Folder(FolderId),
    /// No such item.
    Item(ItemId),
    /// No such attachment.
    Attachment(AttachmentId),
    /// The mailbox lacks this distinguished folder.
    DistinguishedFolder(DistinguishedFolder),
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Mailbox(id) => write!(f, "mailbox {id}"),
            Missing::Folder(id) => write!(f, "folder {id}"),
            Missing::Item(id) => write!(f, "item {id}"),
            Missing::Attachment(id) => write!(f, "attachment {id}"),
            Missing::DistinguishedFolder(which) => {
                write!(f, "distinguished folder {}", which.as_str())
            }
        }
    }
}

/// Errors from the store; each maps to one EWS response code at the EWS edge.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The mailbox, folder, item or attachment does not exist (ErrorItemNotFound, ErrorFolderNotFound,
    /// ErrorNonExistentMailbox).
    #[error("{0} not found")]
    NotFound(Missing),
    /// UpdateItem named a version that is no longer current (ErrorIrresolvableConflict).
    #[error("item {item} changed: expected change key {expected}, current {current}")]
    Conflict {
        /// The item.
        item: ItemId,
        /// The version the caller saw.
        expected: ChangeKey,
        /// The version now stored.
        current: ChangeKey,
    },
    /// The target folder cannot hold what the change puts there (a search folder holds no items or
    /// subfolders).
    #[error("folder {folder} cannot hold {what}")]
    InvalidParent {
        /// The folder.
        folder: FolderId,
        /// "items" or "folders".
        what: &'static str,
    },
    /// The operation is refused on this folder (deleting a distinguished folder, emptying a search
    /// folder) (ErrorDeleteDistinguishedFolder, ErrorCannotEmptyFolder).
    #[error("folder {folder}: {reason}")]
    NotAllowed {
        /// The folder.
        folder: FolderId,
        /// Why.
        reason: &'static str,
    },
    /// A sibling folder already has this display name (ErrorFolderExists).
    #[error("folder {parent} already has a subfolder named {name:?}")]
    FolderExists {
        /// The parent folder.
        parent: FolderId,
        /// The clashing name.
        name: String,
    },
    /// The folder already holds a user configuration object of this name (EWS ErrorItemSave).
    #[error("folder {folder} already has a user configuration named {name:?}")]
    ConfigurationExists {
        /// The folder.
        folder: FolderId,
        /// The name, as stored.
        name: String,
    },
    /// A property cannot be set or deleted this way (wrong value type, a store-computed property,
    /// a fixed tag in the named range) (ErrorInvalidPropertySet, ErrorInvalidExtendedPropertyValue).
    #[error("property {key:?}: {reason}")]
    InvalidProperty {
        /// The property.
        key: PropKey,
        /// Why.
        reason: &'static str,
    },
    /// A value exceeds a limit (attachment size, the named-property id space).
    #[error("{what} is {size}, over the limit of {limit}")]
    TooLarge {
        /// What.
        what: &'static str,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A change-log position outside what the log holds (ErrorInvalidWatermark): older than the
    /// trimmed part, or newer than the last event.
    #[error("watermark {requested} is outside the change log ({oldest}..={latest})")]
    InvalidWatermark {
        /// The position asked for.
        requested: Seq,
        /// The oldest position still answerable.
        oldest: Seq,
        /// The newest position.
        latest: Seq,
    },
    /// Stored bytes failed to decode or break an invariant.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The database file is held open by another process (a running server): redb locks it.
    #[error("{} is in use by another process", .0.display())]
    InUse(std::path::PathBuf),
    /// The database failed (IO, …).
    #[error("storage: {0}")]
    Storage(String),
}

/// Store settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The largest attachment content accepted, in bytes.
    pub max_attachment_bytes: u64,
    /// Memory redb may keep for pages it read or wrote. redb's own default is 1 GiB, and since
    /// redb 4 pages just written stay in it too, so every voice message delivered (a quarter of a
    /// megabyte of audio each) would stay resident up to that size.
    pub cache_bytes: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_attachment_bytes: 64 * 1024 * 1024,
            cache_bytes: 64 * 1024 * 1024,
        }
    }
}

/// How far below a folder `child_folders` looks (EWS FolderQueryTraversal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traversal {
    /// Direct children only.
    Shallow,
    /// All descendants, depth first, each folder before its children.
    Deep,
}

/// A folder as read.
#[derive(Debug, Clone, PartialEq)]
pub struct Folder {
    /// Its id.
    pub id: FolderId,
    /// Its parent; `None` for the root.
    pub parent: Option<FolderId>,
    /// Which distinguished folder it is, if any.
    pub distinguished: Option<DistinguishedFolder>,
    /// Whether it is a search folder (its items live elsewhere).
    pub is_search_folder: bool,
    /// Its version.
    pub change_key: ChangeKey,
    /// Its properties (PidTagDisplayName, PidTagContainerClass, …).
    pub props: PropertyBag,
    /// TotalCount: items in it (for a search folder, items matching it anywhere in the mailbox).
    pub total_count: u64,
    /// UnreadCount: those without MSGFLAG_READ.
    pub unread_count: u64,
    /// ChildFolderCount: direct subfolders.
    pub child_folder_count: u64,
}

/// An attachment's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentInfo {
    /// Its id.
    pub id: AttachmentId,
    /// Its properties, including the computed PidTagAttachSize.
    pub props: PropertyBag,
}

/// An item as read.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Its id.
    pub id: ItemId,
    /// Its folder.
    pub parent: FolderId,
    /// Its version.
    pub change_key: ChangeKey,
    /// Its properties, including the computed ones (creation and modification times, size,
    /// PidTagHasAttachments).
    pub props: PropertyBag,
    /// Its attachments' metadata, in order.
    pub attachments: Vec<AttachmentInfo>,
}

/// An attachment with its content.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    /// Its id.
    pub id: AttachmentId,
    /// The item holding it.
    pub item: ItemId,
    /// Its properties.
    pub props: PropertyBag,
    /// Its bytes.
    pub content: Vec<u8>,
}

/// An order a folder's items are indexed in ([`MailStore::item_page`]); ties are broken by the
/// item id, in the direction of the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemOrder {
    /// The item id: creation order, as [`MailStore::items`] lists them.
    Id,
    /// PidTagMessageDeliveryTime (EWS `item:DateTimeReceived`); items without one first.
    Received,
    /// PidTagCreationTime (`item:DateTimeCreated`).
    Created,
    /// PidTagLastModificationTime (`item:LastModifiedTime`).
    Modified,
    /// PidTagSubject (`item:Subject`), ignoring case; items without one first.
    Subject,
    /// PidTagMessageSize (`item:Size`).
    Size,
    /// PidTagImportance (`item:Importance`), Normal when the item does not say.
    Importance,
}

/// Which page of a folder's items [`MailStore::item_page`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemView {
    /// The order.
    pub order: ItemOrder,
    /// Largest first (ties: the higher id first).
    pub descending: bool,
    /// Only the unread items (those without MSGFLAG_READ).
    pub unread_only: bool,
    /// How many items of the view to skip.
    pub offset: u64,
    /// The most items returned.
    pub limit: u64,
}

/// A page of a folder's items.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemPage {
    /// How many items the whole view holds (TotalCount, or UnreadCount for unread only).
    pub total: u64,
    /// The page's items, in view order.
    pub items: Vec<Item>,
}

/// The result of [`MailStore::verify`]: object counts and every inconsistency found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Folders in the mailbox.
    pub folders: u64,
    /// Items in the mailbox.
    pub items: u64,
    /// Attachments in the mailbox.
    pub attachments: u64,
    /// A sentence per broken invariant (empty when the mailbox is consistent).
    pub problems: Vec<String>,
}

/// A mailbox store. Every write goes through [`MailStore::apply`] (or the bookkeeping writes,
/// `ensure_mailbox`, `trim_changes_before` and the subscription records, which share its
/// transaction path). All methods block.
pub trait MailStore: Send + Sync {
    /// Creates the mailbox and any missing distinguished folder; idempotent. The events announce
    /// the folders created (none when all existed).
    fn ensure_mailbox(&self, mailbox: &MailboxId, now: SystemTime) -> Result<ChangeSet, Error>;

    /// Applies one change atomically and durably: rows, counters and change-log entries commit
    /// together, and only then is the `ChangeSet` returned. `now` stamps the change.
    fn apply(
        &self,
        mailbox: &MailboxId,
        change: Change,
        now: SystemTime,
    ) -> Result<ChangeSet, Error>;

    /// Applies `changes` in order as one atomic, durable transaction (one fsync for all): the same
    /// rows, counters, indexes and item events as applying each alone, except that every folder
    /// touched changes version and is announced once for the whole batch. Any error writes
    /// nothing. For bulk loads (imports, benchmarks). Returns each change's outcome.
    fn apply_batch(
        &self,
        mailbox: &MailboxId,
        changes: Vec<Change>,
        now: SystemTime,
    ) -> Result<Vec<Outcome>, Error>;

    /// The id of a distinguished folder.
    fn distinguished_folder(
        &self,
        mailbox: &MailboxId,
        which: DistinguishedFolder,
    ) -> Result<FolderId, Error>;

    /// A folder with its counts.
    fn folder(&self, mailbox: &MailboxId, folder: FolderId) -> Result<Folder, Error>;

    /// The subfolders of `folder`.
    fn child_folders(
        &self,
        mailbox: &MailboxId,
        folder: FolderId,
        traversal: Traversal,
    ) -> Result<Vec<Folder>, Error>;

    /// The items of a folder (for a search folder, the matching items of the whole mailbox), in id
    /// order; the caller filters and sorts. Associated items are not among them.
    fn items(&self, mailbox: &MailboxId, folder: FolderId) -> Result<Vec<Item>, Error>;

    /// One page of a folder's items (a search folder's matches) in an indexed order, optionally
    /// only the unread ones. Costs the page plus the skipped offset in index rows (never the
    /// folder): the indexes are kept in every change's transaction. Associated items are not
    /// among them.
    fn item_page(
        &self,
        mailbox: &MailboxId,
        folder: FolderId,
        view: &ItemView,
    ) -> Result<ItemPage, Error>;

    /// Hands the items of a folder (a search folder's matches) to `visit` one at a time, in id
    /// order, until it returns false: a scan whose memory is one item, for the queries no index
    /// serves. Associated items are not among them.
    fn visit_items(
        &self,
        mailbox: &MailboxId,
        folder: FolderId,
        visit: &mut dyn FnMut(Item) -> bool,
    ) -> Result<(), Error>;

    /// The associated (FAI, PidTagAssociated) items of a folder, in id order: hidden configuration
    /// such as user configuration objects, never counted in TotalCount or UnreadCount and never in
    /// a search folder. `apply` creates one when `Change::CreateItem` sets PidTagAssociated.
    fn associated_items(&self, mailbox: &MailboxId, folder: FolderId) -> Result<Vec<Item>, Error>;

    /// One item.
    fn item(&self, mailbox: &MailboxId, item: ItemId) -> Result<Item, Error>;

    /// One attachment with its content.
    fn attachment(
        &self,
        mailbox: &MailboxId,
        attachment: AttachmentId,
    ) -> Result<Attachment, Error>;

    /// The mailbox's ids for named properties, without creating any (`None`: never used, so no
    /// item has it). The tag is `PropTag::new(id, type)`.
    fn named_property_ids(
        &self,
        mailbox: &MailboxId,
        names: &[NamedProperty],
    ) -> Result<Vec<Option<u16>>, Error>;

    /// The named property mapped to `id` (≥ 0x8000), to render an item's extended properties.
    fn named_property(&self, mailbox: &MailboxId, id: u16) -> Result<Option<NamedProperty>, Error>;

    /// Up to `limit` logged events after `after`, oldest first. `Error::InvalidWatermark` when
    /// `after` is older than [`LogBounds::oldest`] or newer than [`LogBounds::latest`].
    fn changes_since(
        &self,
        mailbox: &MailboxId,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<LoggedEvent>, Error>;

    /// The range of the change log.
    fn log_bounds(&self, mailbox: &MailboxId) -> Result<LogBounds, Error>;

    /// Drops logged events older than `before` (retention); returns how many went.
    fn trim_changes_before(&self, mailbox: &MailboxId, before: SystemTime) -> Result<u64, Error>;

    /// Follows a mailbox's change log. The receiver starts at the latest logged sequence number and
    /// is marked changed after every commit that logs events, only once that commit is durable;
    /// readers then fetch the events with [`MailStore::changes_since`]. This is how notifications
    /// learn of every change whatever made it, without the store knowing about subscriptions.
    fn watch_log(&self, mailbox: &MailboxId) -> Result<watch::Receiver<Seq>, Error>;

    /// Every mailbox in the store.
    fn mailboxes(&self) -> Result<Vec<MailboxId>, Error>;

    /// Stores (or replaces) a subscription record durably. The bytes are opaque to the store:
    /// `notify` owns the format of its records and `um::mwi` of the SIP message-waiting ones
    /// (named `<owner>:<id>`, so they never collide with notify's base64 ids); they live here so
    /// a subscription and the change log it follows are kept, backed up and restored together.
    fn save_subscription(&self, id: &str, record: &[u8]) -> Result<(), Error>;

    /// Removes a subscription record; removing an absent one is not an error.
    fn remove_subscription(&self, id: &str) -> Result<(), Error>;

    /// Every stored subscription record, by id.
    fn subscriptions(&self) -> Result<Vec<(String, Vec<u8>)>, Error>;

    /// Recounts the mailbox and checks its invariants (counters, search-folder membership, the
    /// item indexes, no orphaned attachment or content); for tests and an admin check.
    fn verify(&self, mailbox: &MailboxId) -> Result<VerifyReport, Error>;
}
