//! SyncFolderItems and SyncFolderHierarchy (MS-OXWSSYNC): the changes to a folder's items, or to
//! a folder tree, since the client's `SyncState`.
//!
//! A SyncState is a snapshot of what the client has been told, sealed by the id codec so it is
//! opaque, bound to the mailbox and tamper-evident (a changed byte is ErrorInvalidSyncStateData):
//! for items, each item's id, change key, read flag and a digest of its other properties; for a
//! hierarchy, each folder's id and change key. Each call diffs the snapshot against the folder as
//! it is now. A snapshot was chosen over a position in the store's change log because it stays
//! valid however long the client waits (the log is trimmed), follows the voicemail search
//! folder's membership exactly (an item whose class changes leaves or joins it), coalesces any
//! number of changes to one item into one answer, and can tell a read-flag change from an edit
//! (same digest, other read flag). Its cost is size: about seven bytes per item, so a state for
//! 10,000 items is some 90 KB of base64. Reads only; never changes a mailbox.

use std::collections::{BTreeMap, BTreeSet};

use ring::digest;

use super::EwsOperation;
use crate::codes::ResponseCode;
use crate::error::{Error, Fault};
use crate::fields::{parse_shape, Shape};
use crate::render::folder::folder as write_folder;
use crate::render::item::item as write_item;
use crate::soap::{M, T};
use crate::{child, response_message, Request};
use umbox_store::props::{tags, PropValue, PropertyBag};
use umbox_store::{ChangeKey, DistinguishedFolder, Folder, FolderId, Item, ItemId, Traversal};
use umbox_xml::{ns, Element, Writer};

/// Layout version of the snapshot bytes.
const STATE_FORMAT: u8 = 1;
/// The most changes one SyncFolderItems call may ask for (MaxSyncChangesReturnedType).
const MAX_CHANGES: usize = 512;

/// What a snapshot describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    Items = 1,
    Hierarchy = 2,
}

/// What the client knows of one item (or folder: no read flag, no digest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Known {
    change_key: ChangeKey,
    read: bool,
    digest: u32,
}

/// A decoded SyncState: the folder it belongs to and what the client knows, by object number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    kind: Kind,
    folder: FolderId,
    entries: BTreeMap<u64, Known>,
}

impl Snapshot {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.entries.len() * 8);
        out.push(STATE_FORMAT);
        out.push(self.kind as u8);
        put_varint(&mut out, self.folder.0);
        put_varint(&mut out, self.entries.len() as u64);
        let mut previous = 0;
        for (id, known) in &self.entries {
            put_varint(&mut out, id - previous);
            previous = *id;
            put_varint(&mut out, known.change_key.0);
            if self.kind == Kind::Items {
                out.push(u8::from(known.read));
                out.extend_from_slice(&known.digest.to_be_bytes());
            }
        }
        out
    }

    fn decode(bytes: &[u8]) -> Option<Snapshot> {
        let mut reader = bytes;
        if take(&mut reader, 1)? != [STATE_FORMAT] {
            return None;
        }
        let kind = match take(&mut reader, 1)? {
            [1] => Kind::Items,
            [2] => Kind::Hierarchy,
            _ => return None,
        };
        let folder = FolderId(varint(&mut reader)?);
        let count = varint(&mut reader)?;
        let mut entries = BTreeMap::new();
        let mut id: u64 = 0;
        for _ in 0..count {
            let delta = varint(&mut reader)?;
            // Ids strictly increase; a zero delta after the first entry would repeat one.
            if delta == 0 && !entries.is_empty() {
                return None;
            }
            id = id.checked_add(delta)?;
            let change_key = ChangeKey(varint(&mut reader)?);
            let (read, digest) = match kind {
                Kind::Items => {
                    let read = take(&mut reader, 1)? != [0];
                    let digest = u32::from_be_bytes(take(&mut reader, 4)?.try_into().ok()?);
                    (read, digest)
                }
                Kind::Hierarchy => (false, 0),
            };
            entries.insert(
                id,
                Known {
                    change_key,
                    read,
                    digest,
                },
            );
        }
        reader.is_empty().then_some(Snapshot {
            kind,
            folder,
            entries,
        })
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    // Seven bits at a time, low first; the top bit says more follow.
    let low_bits = |v: u64| u8::try_from(v & 0x7F).unwrap_or_default();
    while value >= 0x80 {
        out.push(low_bits(value) | 0x80);
        value >>= 7;
    }
    out.push(low_bits(value));
}

fn varint(reader: &mut &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *take(reader, 1)?.first()?;
        value |= u64::from(byte & 0x7F).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn take<'a>(reader: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if reader.len() < n {
        return None;
    }
    let (head, tail) = reader.split_at(n);
    *reader = tail;
    Some(head)
}

/// A digest of what an item holds besides its read flag: every property but the read bit, the
/// modification time and the size (both move when only the flag does), plus its attachments.
fn digest(item: &Item) -> u32 {
    let mut bytes = Vec::with_capacity(256);
    for (tag, value) in item.props.iter() {
        if tag == tags::LAST_MODIFICATION_TIME || tag == tags::MESSAGE_SIZE {
            continue;
        }
        bytes.extend_from_slice(&tag.raw().to_be_bytes());
        match value {
            PropValue::Int32(flags) if tag == tags::MESSAGE_FLAGS => {
                bytes.extend_from_slice(&(flags & !tags::MSGFLAG_READ).to_be_bytes());
            }
            other => encode_value(&mut bytes, other),
        }
    }
    for attachment in &item.attachments {
        bytes.extend_from_slice(&attachment.id.0.to_be_bytes());
    }
    let hash = digest::digest(&digest::SHA256, &bytes);
    let mut first = [0u8; 4];
    first.copy_from_slice(hash.as_ref().get(..4).unwrap_or(&[0; 4]));
    u32::from_be_bytes(first)
}

/// An unambiguous byte form of a value (lengths before variable parts).
fn encode_value(out: &mut Vec<u8>, value: &PropValue) {
    let bytes = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend_from_slice(&(b.len() as u64).to_be_bytes());
        out.extend_from_slice(b);
    };
    match value {
        PropValue::Int32(v) => out.extend_from_slice(&v.to_be_bytes()),
        PropValue::Double(v) => out.extend_from_slice(&v.to_bits().to_be_bytes()),
        PropValue::Boolean(v) => out.push(u8::from(*v)),
        PropValue::Int64(v) => out.extend_from_slice(&v.to_be_bytes()),
        PropValue::Unicode(v) => bytes(out, v.as_bytes()),
        PropValue::SystemTime(v) => out.extend_from_slice(&v.0.to_be_bytes()),
        PropValue::Guid(v) => out.extend_from_slice(&v.0.to_be_bytes()),
        PropValue::Binary(v) => bytes(out, v),
        PropValue::MultiInt32(v) => {
            out.extend_from_slice(&(v.len() as u64).to_be_bytes());
            v.iter()
                .for_each(|v| out.extend_from_slice(&v.to_be_bytes()));
        }
        PropValue::MultiInt64(v) => {
            out.extend_from_slice(&(v.len() as u64).to_be_bytes());
            v.iter()
                .for_each(|v| out.extend_from_slice(&v.to_be_bytes()));
        }
        PropValue::MultiUnicode(v) => {
            out.extend_from_slice(&(v.len() as u64).to_be_bytes());
            v.iter().for_each(|v| bytes(out, v.as_bytes()));
        }
        PropValue::MultiBinary(v) => {
            out.extend_from_slice(&(v.len() as u64).to_be_bytes());
            v.iter().for_each(|v| bytes(out, v));
        }
    }
}

fn is_read(props: &PropertyBag) -> bool {
    props.int32(tags::MESSAGE_FLAGS).unwrap_or(0) & tags::MSGFLAG_READ != 0
}

fn known_item(item: &Item) -> Known {
    Known {
        change_key: item.change_key,
        read: is_read(&item.props),
        digest: digest(item),
    }
}

/// The answer to a SyncState this server did not issue for this folder and operation.
fn invalid_state() -> Error {
    Error::new(
        ResponseCode::ErrorInvalidSyncStateData,
        "the SyncState is not one this server issued for this folder",
    )
}

/// Opens a sealed SyncState of this request's mailbox; an empty one is no state.
fn open_state(request: &Request<'_>, sealed: &str) -> Result<Option<Snapshot>, Error> {
    if sealed.is_empty() {
        return Ok(None);
    }
    let bytes = request
        .ctx
        .ids
        .open_state(&request.mailbox, sealed)
        .map_err(|_| invalid_state())?;
    Snapshot::decode(&bytes).map(Some).ok_or_else(invalid_state)
}

/// The client's `SyncState` of `op`, opened; absent, it is no state.
fn client_state(request: &Request<'_>, op: &Element) -> Result<Option<Snapshot>, Error> {
    let sealed = child(op, "SyncState")
        .map(Element::trimmed_text)
        .unwrap_or_default();
    open_state(request, sealed)
}

/// What the client knows of `folder`: its state, which must be one of `kind` issued for that
/// folder; without a state, nothing.
fn known(state: Option<Snapshot>, kind: Kind, folder: FolderId) -> Result<Snapshot, Error> {
    match state {
        None => Ok(Snapshot {
            kind,
            folder,
            entries: BTreeMap::new(),
        }),
        Some(state) if state.kind == kind && state.folder == folder => Ok(state),
        Some(_) => Err(invalid_state()),
    }
}

/// `state` sealed for the client.
fn seal(request: &Request<'_>, state: &Snapshot) -> String {
    request
        .ctx
        .ids
        .seal_state(&request.mailbox, &state.encode())
}

/// The one folder id under `SyncFolderId`.
fn sync_folder_id(op: &Element) -> Result<Option<&Element>, Fault> {
    let Some(container) = child(op, "SyncFolderId") else {
        return Ok(None);
    };
    let mut ids = container.children();
    match (ids.next(), ids.next()) {
        (Some(id), None) => Ok(Some(id)),
        _ => Err(Fault::schema("SyncFolderId holds one folder id")),
    }
}

/// The ids under `m:Ignore`: items whose changes the client made itself.
fn ignore_ids(op: &Element) -> Result<Vec<&str>, Fault> {
    let Some(ignore) = child(op, "Ignore") else {
        return Ok(Vec::new());
    };
    ignore
        .children()
        .map(|i| {
            if i.is(ns::EWS_TYPES, "ItemId") {
                Ok(i.attribute("", "Id").unwrap_or_default())
            } else {
                Err(Fault::schema("Ignore holds ItemId elements"))
            }
        })
        .collect()
}

/// The ignored items of this request's mailbox; the first id that does not open fails the sync.
fn open_ignored(request: &Request<'_>, ids: &[&str]) -> Result<BTreeSet<ItemId>, Error> {
    let mut ignored = BTreeSet::new();
    for id in ids {
        let (mailbox, item) = request.ctx.ids.open_item(id)?;
        // Another mailbox's item is never in this folder: there is no change of it to ignore.
        if mailbox == request.mailbox {
            ignored.insert(item);
        }
    }
    Ok(ignored)
}

/// One reported item change.
#[derive(Debug)]
pub(crate) enum ItemChange {
    /// An item the client has not seen.
    Create(Item),
    /// An item changed in more than its read flag.
    Update(Item),
    /// An item no longer in the folder.
    Delete(ItemId),
    /// An item whose read flag alone changed.
    ReadFlag(Item),
}

/// SyncFolderItems: at most MaxChangesReturned changes, in item id order, and the state after them.
#[derive(Debug)]
pub(crate) struct SyncFolderItems {
    /// The properties written for created and updated items.
    pub(crate) shape: Shape,
    /// The folder synced, opened, or why not.
    pub(crate) folder: Result<FolderId, Error>,
    /// What the client was told before (`None`: nothing yet), or why its state is refused.
    pub(crate) state: Result<Option<Snapshot>, Error>,
    /// Items whose changes are counted as known without being reported, or why not.
    pub(crate) ignored: Result<BTreeSet<ItemId>, Error>,
    /// The most changes to report (MaxChangesReturned).
    pub(crate) max: usize,
}

/// The changes of one SyncFolderItems call and the state after them.
#[derive(Debug)]
pub(crate) struct ItemChanges {
    /// The sealed state that includes these changes.
    sync_state: String,
    /// Whether no change is left after these (IncludesLastItemInRange).
    complete: bool,
    /// The reported changes, in item id order.
    changes: Vec<ItemChange>,
}

/// The folder's changes, or why it was not synced.
pub(crate) struct SyncFolderItemsResponse {
    shape: Shape,
    changes: Result<ItemChanges, Error>,
}

impl EwsOperation for SyncFolderItems {
    type Response = SyncFolderItemsResponse;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        let shape = parse_shape(
            child(op, "ItemShape")
                .ok_or_else(|| Fault::schema("SyncFolderItems needs ItemShape"))?,
        )?;
        let id = sync_folder_id(op)?
            .ok_or_else(|| Fault::schema("SyncFolderItems needs SyncFolderId"))?;
        let max = child(op, "MaxChangesReturned")
            .map(|m| {
                m.trimmed_text()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_CHANGES).contains(n))
            })
            .ok_or_else(|| Fault::schema("SyncFolderItems needs MaxChangesReturned"))?
            .ok_or_else(|| {
                Fault::schema(format!(
                    "MaxChangesReturned must be a number from 1 to {MAX_CHANGES}"
                ))
            })?;
        match child(op, "SyncScope").map(Element::trimmed_text) {
            // umbox keeps no folder-associated items, so both scopes see the same items.
            None | Some("NormalItems" | "NormalAndAssociatedItems") => {}
            Some(other) => return Err(Fault::schema(format!("SyncScope {other:?} is not valid"))),
        }
        let ignore = ignore_ids(op)?;
        Ok(SyncFolderItems {
            shape,
            folder: request.folder_id(id),
            state: client_state(request, op),
            ignored: open_ignored(request, &ignore),
            max,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<SyncFolderItemsResponse, Fault> {
        let SyncFolderItems {
            shape,
            folder,
            state,
            ignored,
            max,
        } = self;
        // Checked in this order so that each failure names the first thing wrong.
        let changes = folder.and_then(|folder| {
            let known = known(state?, Kind::Items, folder)?;
            let ignored = ignored?;
            let items = request.ctx.store.items(&request.mailbox, folder)?;
            let (changes, state, complete) = diff_items(&known, items, &ignored, max);
            Ok(ItemChanges {
                sync_state: seal(request, &state),
                complete,
                changes,
            })
        });
        Ok(SyncFolderItemsResponse { shape, changes })
    }

    fn write(response: &SyncFolderItemsResponse, request: &Request<'_>, w: &mut Writer<'_>) {
        let payload = response.changes.as_ref().map(|changes| {
            move |w: &mut Writer<'_>| {
                w.leaf(M, "SyncState", &changes.sync_state);
                w.leaf(
                    M,
                    "IncludesLastItemInRange",
                    if changes.complete { "true" } else { "false" },
                );
                w.start(M, "Changes");
                for change in &changes.changes {
                    write_item_change(w, request, change, &response.shape);
                }
                w.end();
            }
        });
        w.start(M, "SyncFolderItemsResponse")
            .start(M, "ResponseMessages");
        response_message(w, "SyncFolderItemsResponseMessage", payload);
        w.end().end();
    }
}

/// Compares what the client knows with `items`: the first `max` changes not ignored, in id
/// order, the state after them (ignored changes count as known), and whether nothing is left.
fn diff_items(
    known: &Snapshot,
    items: Vec<Item>,
    ignored: &BTreeSet<ItemId>,
    max: usize,
) -> (Vec<ItemChange>, Snapshot, bool) {
    let mut changes = Vec::new();
    let mut state = Snapshot {
        kind: Kind::Items,
        folder: known.folder,
        entries: known.entries.clone(),
    };
    let mut complete = true;
    let mut current: BTreeMap<u64, Item> =
        items.into_iter().map(|item| (item.id.0, item)).collect();
    let ids: BTreeSet<u64> = known
        .entries
        .keys()
        .chain(current.keys())
        .copied()
        .collect();
    for id in ids {
        // The change, and what the client knows of the item once told of it (`None`: gone).
        let (change, after) = match (known.entries.get(&id), current.remove(&id)) {
            (None, Some(item)) => {
                let after = known_item(&item);
                (ItemChange::Create(item), Some(after))
            }
            (Some(_), None) => (ItemChange::Delete(ItemId(id)), None),
            (Some(before), Some(item)) if before.change_key != item.change_key => {
                let after = known_item(&item);
                let change = if after.read != before.read && after.digest == before.digest {
                    ItemChange::ReadFlag(item)
                } else {
                    ItemChange::Update(item)
                };
                (change, Some(after))
            }
            _ => continue,
        };
        let reported = !ignored.contains(&ItemId(id));
        if reported && changes.len() == max {
            complete = false;
            break;
        }
        match after {
            Some(after) => state.entries.insert(id, after),
            None => state.entries.remove(&id),
        };
        if reported {
            changes.push(change);
        }
    }
    (changes, state, complete)
}

fn write_item_change(
    w: &mut Writer<'_>,
    request: &Request<'_>,
    change: &ItemChange,
    shape: &Shape,
) {
    let ids = request.ctx.ids;
    match change {
        ItemChange::Create(item) | ItemChange::Update(item) => {
            w.start(
                T,
                if matches!(change, ItemChange::Create(_)) {
                    "Create"
                } else {
                    "Update"
                },
            );
            write_item(w, request, item, shape);
            w.end();
        }
        ItemChange::Delete(item) => {
            w.start(T, "Delete");
            w.start(T, "ItemId")
                .attribute("Id", &ids.item(&request.mailbox, *item))
                .end();
            w.end();
        }
        ItemChange::ReadFlag(item) => {
            w.start(T, "ReadFlagChange");
            w.start(T, "ItemId")
                .attribute("Id", &ids.item(&request.mailbox, item.id))
                .attribute(
                    "ChangeKey",
                    &ids.item_change_key(&request.mailbox, item.id, item.change_key),
                )
                .end();
            w.leaf(
                T,
                "IsRead",
                if is_read(&item.props) {
                    "true"
                } else {
                    "false"
                },
            );
            w.end();
        }
    }
}

/// One reported folder change.
#[derive(Debug)]
pub(crate) enum FolderChange {
    /// A folder the client has not seen.
    Create(Folder),
    /// A folder whose properties or counts changed.
    Update(Folder),
    /// A folder no longer below the synced folder.
    Delete(FolderId),
}

/// SyncFolderHierarchy: every folder below `SyncFolderId` (the whole mailbox when absent) that
/// was created, changed (properties or counts) or deleted since the state, all in one answer.
#[derive(Debug)]
pub(crate) struct SyncFolderHierarchy {
    /// The properties written for created and updated folders.
    pub(crate) shape: Shape,
    /// The folder whose subtree is synced, opened, or why not; `None` (no SyncFolderId) is the
    /// mailbox's root.
    pub(crate) folder: Option<Result<FolderId, Error>>,
    /// What the client was told before (`None`: nothing yet), or why its state is refused.
    pub(crate) state: Result<Option<Snapshot>, Error>,
}

/// The changes of one SyncFolderHierarchy call and the state after them.
#[derive(Debug)]
pub(crate) struct FolderChanges {
    /// The sealed state that includes these changes.
    sync_state: String,
    /// Creations and updates in tree order (each parent before its children), then deletions.
    changes: Vec<FolderChange>,
}

/// The tree's changes, or why it was not synced.
pub(crate) struct SyncFolderHierarchyResponse {
    shape: Shape,
    changes: Result<FolderChanges, Error>,
}

impl EwsOperation for SyncFolderHierarchy {
    type Response = SyncFolderHierarchyResponse;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        let shape = parse_shape(
            child(op, "FolderShape")
                .ok_or_else(|| Fault::schema("SyncFolderHierarchy needs FolderShape"))?,
        )?;
        let folder = sync_folder_id(op)?.map(|id| request.folder_id(id));
        Ok(SyncFolderHierarchy {
            shape,
            folder,
            state: client_state(request, op),
        })
    }

    fn run(self, request: &Request<'_>) -> Result<SyncFolderHierarchyResponse, Fault> {
        let store = request.ctx.store;
        let folder = self.folder.unwrap_or_else(|| {
            store
                .distinguished_folder(&request.mailbox, DistinguishedFolder::Root)
                .map_err(Error::from)
        });
        let state = self.state;
        let changes = folder.and_then(|folder| {
            let known = known(state?, Kind::Hierarchy, folder)?;
            let folders = store.child_folders(&request.mailbox, folder, Traversal::Deep)?;
            let (changes, state) = diff_folders(&known, folders);
            Ok(FolderChanges {
                sync_state: seal(request, &state),
                changes,
            })
        });
        Ok(SyncFolderHierarchyResponse {
            shape: self.shape,
            changes,
        })
    }

    fn write(response: &SyncFolderHierarchyResponse, request: &Request<'_>, w: &mut Writer<'_>) {
        let payload = response.changes.as_ref().map(|changes| {
            move |w: &mut Writer<'_>| {
                w.leaf(M, "SyncState", &changes.sync_state);
                w.leaf(M, "IncludesLastFolderInRange", "true");
                w.start(M, "Changes");
                for change in &changes.changes {
                    write_folder_change(w, request, change, &response.shape);
                }
                w.end();
            }
        });
        w.start(M, "SyncFolderHierarchyResponse")
            .start(M, "ResponseMessages");
        response_message(w, "SyncFolderHierarchyResponseMessage", payload);
        w.end().end();
    }
}

fn write_folder_change(
    w: &mut Writer<'_>,
    request: &Request<'_>,
    change: &FolderChange,
    shape: &Shape,
) {
    match change {
        FolderChange::Create(folder) | FolderChange::Update(folder) => {
            w.start(
                T,
                if matches!(change, FolderChange::Create(_)) {
                    "Create"
                } else {
                    "Update"
                },
            );
            write_folder(w, request, folder, shape);
            w.end();
        }
        FolderChange::Delete(folder) => {
            w.start(T, "Delete");
            w.start(T, "FolderId")
                .attribute("Id", &request.ctx.ids.folder(&request.mailbox, *folder))
                .end();
            w.end();
        }
    }
}

/// Creations and updates in tree order (each parent before its children), then deletions.
fn diff_folders(known: &Snapshot, folders: Vec<Folder>) -> (Vec<FolderChange>, Snapshot) {
    let mut changes = Vec::new();
    let mut entries = BTreeMap::new();
    for folder in folders {
        entries.insert(
            folder.id.0,
            Known {
                change_key: folder.change_key,
                read: false,
                digest: 0,
            },
        );
        match known.entries.get(&folder.id.0) {
            None => changes.push(FolderChange::Create(folder)),
            Some(before) if before.change_key != folder.change_key => {
                changes.push(FolderChange::Update(folder))
            }
            Some(_) => {}
        }
    }
    for id in known.entries.keys().filter(|id| !entries.contains_key(id)) {
        changes.push(FolderChange::Delete(FolderId(*id)));
    }
    (
        changes,
        Snapshot {
            kind: Kind::Hierarchy,
            folder: known.folder,
            entries,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::parse_attachment_shape;
    use crate::ops::testkit::Kit;
    use umbox_store::{Change, MailStore, MailboxId, Outcome};

    const ALICE: &str = "alice@example.test";

    fn code(error: Error) -> ResponseCode {
        error.response_code()
    }

    /// The changes after a state, each change once; every failure names the first thing wrong.
    #[test]
    fn sync_folder_items_reports_what_changed_since_the_state() {
        let kit = Kit::new();
        let request = kit.request(ALICE);
        let inbox = kit.folder(ALICE, DistinguishedFolder::Inbox);
        let items: Vec<ItemId> = ["m0", "m1", "m2"]
            .iter()
            .map(|subject| {
                let props = vec![(tags::SUBJECT.into(), PropValue::Unicode((*subject).into()))];
                kit.create_item(ALICE, DistinguishedFolder::Inbox, props, &[])
            })
            .collect();
        let sync = |folder, state, ignored, max| {
            SyncFolderItems {
                shape: parse_attachment_shape(None).unwrap(),
                folder,
                state,
                ignored,
                max,
            }
            .run(&request)
            .unwrap()
            .changes
        };
        let created = |changes: &ItemChanges| -> Vec<ItemId> {
            changes
                .changes
                .iter()
                .map(|change| match change {
                    ItemChange::Create(item) => item.id,
                    other => panic!("{other:?}"),
                })
                .collect()
        };

        let first = sync(Ok(inbox), Ok(None), Ok(BTreeSet::new()), 2).unwrap();
        assert_eq!(created(&first), items[..2]);
        assert!(!first.complete);
        let state = open_state(&request, &first.sync_state).unwrap();
        let rest = sync(Ok(inbox), Ok(state), Ok(BTreeSet::from([items[2]])), 512).unwrap();
        assert!(
            rest.changes.is_empty(),
            "the ignored creation is not reported"
        );
        assert!(rest.complete);
        let known = open_state(&request, &rest.sync_state).unwrap();
        let again = sync(Ok(inbox), Ok(known.clone()), Ok(BTreeSet::new()), 512).unwrap();
        assert!(
            again.changes.is_empty(),
            "the ignored creation counts as known"
        );
        assert_eq!(again.sync_state, rest.sync_state);

        let change = Change::DeleteItem { item: items[0] };
        kit.store()
            .apply(&MailboxId::new(ALICE), change, kit.now)
            .unwrap();
        let deleted = sync(Ok(inbox), Ok(known.clone()), Ok(BTreeSet::new()), 512).unwrap();
        assert!(matches!(
            deleted.changes.as_slice(),
            [ItemChange::Delete(item)] if *item == items[0]
        ));

        let voicemail = kit.folder(ALICE, DistinguishedFolder::Voicemail);
        let foreign = sync(Ok(voicemail), Ok(known.clone()), Ok(BTreeSet::new()), 512);
        assert_eq!(
            code(foreign.unwrap_err()),
            ResponseCode::ErrorInvalidSyncStateData
        );
        let missing = Error::new(ResponseCode::ErrorFolderNotFound, "refused in parse");
        let unopened = sync(Err(missing), Err(invalid_state()), Ok(BTreeSet::new()), 512);
        assert_eq!(
            code(unopened.unwrap_err()),
            ResponseCode::ErrorFolderNotFound
        );
        let bad_id = Error::new(ResponseCode::ErrorInvalidIdMalformed, "refused in parse");
        let unignorable = sync(Ok(inbox), Ok(known), Err(bad_id), 512);
        assert_eq!(
            code(unignorable.unwrap_err()),
            ResponseCode::ErrorInvalidIdMalformed
        );
    }

    /// Every folder below the synced one once, then only what changed; a state of another folder
    /// is refused.
    #[test]
    fn sync_folder_hierarchy_reports_the_tree_below_its_folder() {
        let kit = Kit::new();
        let request = kit.request(ALICE);
        let inbox = kit.folder(ALICE, DistinguishedFolder::Inbox);
        let sync = |folder, state| {
            SyncFolderHierarchy {
                shape: parse_attachment_shape(None).unwrap(),
                folder,
                state,
            }
            .run(&request)
            .unwrap()
            .changes
        };

        let whole = sync(None, Ok(None)).unwrap();
        assert_eq!(whole.changes.len(), 15, "every folder below the root");
        assert!(whole
            .changes
            .iter()
            .all(|change| matches!(change, FolderChange::Create(_))));
        let known = open_state(&request, &whole.sync_state).unwrap();
        let again = sync(None, Ok(known.clone())).unwrap();
        assert!(again.changes.is_empty());
        assert_eq!(again.sync_state, whole.sync_state);

        let change = Change::CreateFolder {
            parent: inbox,
            props: vec![(tags::DISPLAY_NAME.into(), PropValue::Unicode("Sub".into()))],
        };
        let Outcome::Folder { folder: sub, .. } = kit
            .store()
            .apply(&MailboxId::new(ALICE), change, kit.now)
            .unwrap()
            .outcome
        else {
            panic!("not a folder");
        };
        let changed = sync(None, Ok(known.clone())).unwrap();
        // The inbox changed too: its child folder count moved.
        assert!(matches!(
            changed.changes.as_slice(),
            [FolderChange::Update(updated), FolderChange::Create(created)]
                if updated.id == inbox && created.id == sub
        ));
        let below = sync(Some(Ok(inbox)), Ok(None)).unwrap();
        assert!(matches!(
            below.changes.as_slice(),
            [FolderChange::Create(created)] if created.id == sub
        ));

        let foreign = sync(Some(Ok(inbox)), Ok(known.clone()));
        assert_eq!(
            code(foreign.unwrap_err()),
            ResponseCode::ErrorInvalidSyncStateData
        );
        let missing = Error::new(ResponseCode::ErrorFolderNotFound, "refused in parse");
        let unopened = sync(Some(Err(missing)), Ok(known));
        assert_eq!(
            code(unopened.unwrap_err()),
            ResponseCode::ErrorFolderNotFound
        );
    }

    #[test]
    fn snapshots_round_trip_and_refuse_garbage() {
        let mut entries = BTreeMap::new();
        entries.insert(
            5,
            Known {
                change_key: ChangeKey(1),
                read: true,
                digest: 0xDEAD_BEEF,
            },
        );
        entries.insert(
            300,
            Known {
                change_key: ChangeKey(70_000),
                read: false,
                digest: 7,
            },
        );
        let items = Snapshot {
            kind: Kind::Items,
            folder: FolderId(9),
            entries,
        };
        assert_eq!(Snapshot::decode(&items.encode()), Some(items.clone()));
        let mut folders = BTreeMap::new();
        folders.insert(
            2,
            Known {
                change_key: ChangeKey(4),
                read: false,
                digest: 0,
            },
        );
        let hierarchy = Snapshot {
            kind: Kind::Hierarchy,
            folder: FolderId(1),
            entries: folders,
        };
        assert_eq!(Snapshot::decode(&hierarchy.encode()), Some(hierarchy));
        let bytes = items.encode();
        for cut in 0..bytes.len() {
            assert_eq!(Snapshot::decode(&bytes[..cut]), None, "truncated at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Snapshot::decode(&longer), None);
        assert_eq!(Snapshot::decode(&[STATE_FORMAT, 3, 0, 0]), None);
        assert_eq!(Snapshot::decode(&[0xFF; 12]), None);
    }
}
