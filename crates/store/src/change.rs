//! What a mailbox write asks for ([`Change`]) and what it committed ([`ChangeSet`], [`Event`]).
//!
//! A `Change` goes to `MailStore::apply`, the one write path (STYLE §2 rule 4). The `ChangeSet` it
//! returns is the committed truth: each [`Event`] carries the sequence number under which it sits in
//! the mailbox's persistent change log, so notifications publish it after commit and subscriptions
//! resume from a [`Seq`] after a restart. This module only defines data; it never writes.

use std::fmt;
use std::time::SystemTime;

use super::props::{PropKey, PropValue};
use super::{AttachmentId, ChangeKey, FolderId, ItemId, MailboxId};

/// A position in a mailbox's change log; each logged event has the next one. An EWS watermark is a
/// `Seq` meaning "every event up to and including this one has been seen"; `Seq(0)` precedes all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Seq(pub u64);

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An attachment to store: its metadata (file name, MIME tag, …) and its content.
/// PidTagAttachSize is computed by the store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAttachment {
    /// Properties such as PidTagAttachLongFilename and PidTagAttachMimeTag.
    pub props: Vec<(PropKey, PropValue)>,
    /// The file's bytes; at most `Options::max_attachment_bytes`.
    pub content: Vec<u8>,
}

/// One write to one mailbox, applied atomically by `MailStore::apply`.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Creates a folder (EWS CreateFolder). Its display name must be unique among its siblings.
    CreateFolder {
        /// The parent; it may not be a search folder.
        parent: FolderId,
        /// Initial properties, normally PidTagDisplayName and PidTagContainerClass.
        props: Vec<(PropKey, PropValue)>,
    },
    /// Sets and deletes folder properties (EWS UpdateFolder).
    UpdateFolder {
        /// The folder.
        folder: FolderId,
        /// Properties to set.
        set: Vec<(PropKey, PropValue)>,
        /// Properties to delete.
        delete: Vec<PropKey>,
    },
    /// Deletes a folder with its subfolders, items and attachments (EWS DeleteFolder, hard delete).
    /// Distinguished folders cannot be deleted.
    DeleteFolder {
        /// The folder.
        folder: FolderId,
    },
    /// Moves a folder with everything below it under another parent (EWS MoveFolder, and
    /// DeleteFolder to Deleted Items). The folder, its subfolders and items keep their ids; the
    /// folder's version goes up. Refused for distinguished folders, for a destination that is a
    /// search folder or lies in the folder's own subtree, and when the destination already has a
    /// subfolder of the same name.
    MoveFolder {
        /// The folder.
        folder: FolderId,
        /// The new parent.
        to: FolderId,
    },
    /// Copies a folder with its subfolders, items and attachments under another parent, all under
    /// new ids (EWS CopyFolder). Refused as [`Change::MoveFolder`] is.
    CopyFolder {
        /// The folder.
        folder: FolderId,
        /// The parent of the copy.
        to: FolderId,
    },
    /// Deletes every item of a folder, and optionally its subfolders (EWS EmptyFolder). The
    /// folder's own associated items stay, as with MAPI EmptyFolder without DEL_ASSOCIATED.
    EmptyFolder {
        /// The folder; not a search folder.
        folder: FolderId,
        /// Also delete the subfolders (none of which may be distinguished).
        delete_subfolders: bool,
    },
    /// Creates an item with its attachments in one transaction (EWS CreateItem, and voicemail or
    /// missed-call delivery). With PidTagAssociated set to true the item is associated (FAI):
    /// listed only by `MailStore::associated_items`, never counted and never new mail; that choice
    /// is fixed for the item's life (UpdateItem may not set or delete the property).
    CreateItem {
        /// The folder; not a search folder.
        folder: FolderId,
        /// Properties, e.g. PidTagMessageClass, PidTagSubject, PidTagMessageFlags.
        props: Vec<(PropKey, PropValue)>,
        /// Attachments, stored in this order.
        attachments: Vec<NewAttachment>,
    },
    /// Sets and deletes item properties (EWS UpdateItem).
    UpdateItem {
        /// The item.
        item: ItemId,
        /// When given, the change is refused with `Error::Conflict` unless the item is still at this
        /// version (EWS ConflictResolution=NeverOverwrite → ErrorIrresolvableConflict).
        expected: Option<ChangeKey>,
        /// Properties to set.
        set: Vec<(PropKey, PropValue)>,
        /// Properties to delete.
        delete: Vec<PropKey>,
    },
    /// Deletes an item and its attachments (EWS DeleteItem, hard delete).
    DeleteItem {
        /// The item.
        item: ItemId,
    },
    /// Moves an item to another folder; like Exchange, the moved item gets a new id.
    MoveItem {
        /// The item.
        item: ItemId,
        /// The destination; not a search folder.
        to: FolderId,
    },
    /// Copies an item and its attachments to a folder under new ids.
    CopyItem {
        /// The item.
        item: ItemId,
        /// The destination; not a search folder.
        to: FolderId,
    },
    /// Sets or clears MSGFLAG_READ on items; all exist or nothing changes. Items already in the
    /// requested state are left alone and raise no event.
    SetReadFlag {
        /// The items.
        items: Vec<ItemId>,
        /// True marks read.
        read: bool,
    },
    /// Adds an attachment to an item (EWS CreateAttachment).
    AddAttachment {
        /// The item.
        item: ItemId,
        /// The attachment.
        attachment: NewAttachment,
    },
    /// Deletes an attachment (EWS DeleteAttachment).
    DeleteAttachment {
        /// The attachment.
        attachment: AttachmentId,
    },
}

/// The direct answer to a change, for the EWS response that requested it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to name: `ensure_mailbox`, DeleteFolder, EmptyFolder, DeleteItem.
    Done,
    /// CreateFolder, UpdateFolder, MoveFolder (the same id) and CopyFolder (the copy): the folder
    /// and its version after the change.
    Folder {
        /// The folder.
        folder: FolderId,
        /// Its version after the change.
        change_key: ChangeKey,
    },
    /// CreateItem, UpdateItem, MoveItem and CopyItem (the new id for the last two), and
    /// DeleteAttachment (the item the attachment belonged to).
    Item {
        /// The item.
        item: ItemId,
        /// Its version after the change.
        change_key: ChangeKey,
    },
    /// SetReadFlag: every requested item with its version, in request order.
    Items(Vec<(ItemId, ChangeKey)>),
    /// AddAttachment: the attachment and its item's new version (EWS RootItemId/RootItemChangeKey).
    Attachment {
        /// The attachment.
        attachment: AttachmentId,
        /// The item holding it.
        item: ItemId,
        /// The item's version after the change.
        item_change_key: ChangeKey,
    },
}

/// Something that happened to a mailbox, as notifications report it (MS-OXWSNTIF event types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// CreatedEvent for a folder.
    FolderCreated {
        /// The folder.
        folder: FolderId,
        /// Its version.
        change_key: ChangeKey,
        /// Its parent; `None` only for the root folder.
        parent: Option<FolderId>,
    },
    /// ModifiedEvent for a folder: its properties or counts changed. Raised once per change for
    /// every folder whose counts moved, and for a search folder whenever one of its items changed.
    FolderModified {
        /// The folder.
        folder: FolderId,
        /// Its version.
        change_key: ChangeKey,
        /// Its parent; `None` only for the root folder.
        parent: Option<FolderId>,
        /// TotalCount after the change.
        total_count: u64,
        /// UnreadCount after the change.
        unread_count: u64,
    },
    /// DeletedEvent for a folder.
    FolderDeleted {
        /// The folder.
        folder: FolderId,
        /// Its former parent.
        parent: FolderId,
    },
    /// MovedEvent for a folder: it now lies under `parent`. Its subfolders and items moved with it
    /// under their own ids and raise no events of their own.
    FolderMoved {
        /// The folder (its id does not change).
        folder: FolderId,
        /// Its version after the move.
        change_key: ChangeKey,
        /// The new parent.
        parent: FolderId,
        /// The parent before the move (EWS OldParentFolderId).
        old_parent: FolderId,
    },
    /// CopiedEvent for a folder: the top of a copied subtree. The copies of its subfolders raise
    /// `FolderCreated` and the copies of their items `ItemCopied`, after this event.
    FolderCopied {
        /// The copy.
        folder: FolderId,
        /// The copy's version when created.
        change_key: ChangeKey,
        /// The copy's parent.
        parent: FolderId,
        /// The original (EWS OldFolderId).
        old_folder: FolderId,
        /// The original's parent (EWS OldParentFolderId).
        old_parent: FolderId,
    },
    /// CreatedEvent for an item.
    ItemCreated {
        /// The item.
        item: ItemId,
        /// Its version.
        change_key: ChangeKey,
        /// Its folder.
        parent: FolderId,
        /// Search folders (voicemail) that list it, so their subscribers see it too.
        search_folders: Vec<FolderId>,
    },
    /// ModifiedEvent for an item (properties, read flag or attachments changed).
    ItemModified {
        /// The item.
        item: ItemId,
        /// Its version.
        change_key: ChangeKey,
        /// Its folder.
        parent: FolderId,
        /// Search folders that list it before or after the change.
        search_folders: Vec<FolderId>,
    },
    /// DeletedEvent for an item.
    ItemDeleted {
        /// The item.
        item: ItemId,
        /// Its former folder.
        parent: FolderId,
        /// Search folders that listed it.
        search_folders: Vec<FolderId>,
    },
    /// MovedEvent for an item.
    ItemMoved {
        /// The new id.
        item: ItemId,
        /// Its version.
        change_key: ChangeKey,
        /// The destination folder.
        parent: FolderId,
        /// The id before the move (EWS OldItemId).
        old_item: ItemId,
        /// The folder before the move (EWS OldParentFolderId).
        old_parent: FolderId,
        /// Search folders that list it.
        search_folders: Vec<FolderId>,
    },
    /// CopiedEvent for an item.
    ItemCopied {
        /// The copy.
        item: ItemId,
        /// The copy's version.
        change_key: ChangeKey,
        /// The copy's folder.
        parent: FolderId,
        /// The original (EWS OldItemId).
        old_item: ItemId,
        /// The original's folder (EWS OldParentFolderId).
        old_parent: FolderId,
        /// Search folders that list the copy.
        search_folders: Vec<FolderId>,
    },
    /// NewMailEvent: an unread, sent (not draft) item was created in a mail folder (class `IPF.Note…`).
    NewMail {
        /// The item.
        item: ItemId,
        /// Its version.
        change_key: ChangeKey,
        /// Its folder.
        parent: FolderId,
    },
}

/// An event with its place in the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    /// Its sequence number (the watermark just after it).
    pub seq: Seq,
    /// When the change that raised it committed (the `now` passed to `apply`).
    pub time: SystemTime,
    /// What happened.
    pub event: Event,
}

/// What one committed change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSet {
    /// The mailbox.
    pub mailbox: MailboxId,
    /// The direct answer for the requester.
    pub outcome: Outcome,
    /// The events, in order, with consecutive sequence numbers; empty when nothing changed.
    pub events: Vec<LoggedEvent>,
}

/// The range of a mailbox's change log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogBounds {
    /// The oldest watermark still answerable: `changes_since` accepts any `Seq` from here on.
    pub oldest: Seq,
    /// The sequence number of the last logged event (`Seq(0)` if none yet); a new subscription's
    /// watermark.
    pub latest: Seq,
}
