//! Item operations (MS-OXWSCORE): GetItem, CreateItem, UpdateItem, DeleteItem, MoveItem,
//! CopyItem, SendItem and MarkAllItemsAsRead.
//!
//! Each reads its request, checks every id (malformed, empty, unknown, another mailbox) and writes
//! one response message per id or item, so one bad id never fails its neighbours; item elements
//! are parsed before anything is stored, and a schema violation in any of them fails the request.
//! Every change goes through `MailStore::apply`; read flags only through `Change::SetReadFlag`.
//!
//! Sending: umbox has no SMTP relay. A message is delivered, as an unread copy in the Inbox, to
//! each recipient that is a directory user; a message naming any other address is refused as a
//! whole with ErrorInvalidRecipients (nothing delivered, nothing saved) so no recipient is dropped
//! silently. SoftDelete is a hard delete (umbox keeps no recoverable-items folder).
//! ConflictResolution: NeverOverwrite refuses a stale ChangeKey (ErrorIrresolvableConflict);
//! AutoResolve and AlwaysOverwrite apply the change (umbox keeps no per-property history to merge
//! with). Meeting invitations and cancellations are accepted and not sent.

use std::time::SystemTime;

use crate::codes::ResponseCode;
use crate::error::{Error, Fault};
use crate::fields::{parse_bool, parse_shape, BaseShape, BodyType, FieldUri, PropertyPath, Shape};
use crate::render::item::read::{
    bcc_key, complete_new_item, delivery, portable, read_item, read_update, Invalid, NewItem,
    Update,
};
use crate::render::item::{
    self as render, all_recipients, author, item_with, Kind, NamedTags, Pending,
};
use crate::soap::{M, T};
use crate::{child, response_message, Request};
use umbox_store::props::{tags, FileTime, PropKey, PropTag, PropValue, PropertyBag};
use umbox_store::{
    Change, ChangeKey, DistinguishedFolder, FolderId, ItemId, MailboxId, NewAttachment, Outcome,
};
use umbox_xml::{ns, Element, Writer};

#[cfg(test)]
mod tests;

/// Loads the mailbox's named-property ids; a store that cannot answer fails the request.
pub(crate) fn load_names(request: &Request<'_>) -> Result<NamedTags, Fault> {
    NamedTags::load(request).map_err(|error| {
        tracing::error!(%error, "named property ids unreadable");
        Fault::new(
            ResponseCode::ErrorInternalServerError,
            "the mailbox cannot be read",
        )
    })
}

/// The ids listed under `container`, in request order.
fn listed<'e>(op: &'e Element, container: &str) -> Result<Vec<&'e Element>, Fault> {
    let list = child(op, container)
        .ok_or_else(|| Fault::schema(format!("{} needs {container}", op.name())))?;
    let list: Vec<_> = list.children().collect();
    if list.is_empty() {
        return Err(Fault::schema(format!("{container} is empty")));
    }
    Ok(list)
}

/// Opens a `t:ItemId` of this request's mailbox, with its ChangeKey when one is given.
pub(crate) fn open_item_id(
    request: &Request<'_>,
    id: &Element,
) -> Result<(ItemId, Option<ChangeKey>), Error> {
    if !id.is(ns::EWS_TYPES, "ItemId") {
        return Err(Error::new(
            ResponseCode::ErrorInvalidRequest,
            format!(
                "{} is not supported: umbox keeps no recurring items",
                id.name()
            ),
        ));
    }
    let (mailbox, item) = request
        .ctx
        .ids
        .open_item(id.attribute("", "Id").unwrap_or_default())?;
    if mailbox != request.mailbox {
        return Err(Error::new(
            ResponseCode::ErrorAccessDenied,
            "the item belongs to another mailbox",
        ));
    }
    let change_key = match id.attribute("", "ChangeKey").filter(|k| !k.is_empty()) {
        Some(key) => Some(
            request
                .ctx
                .ids
                .open_item_change_key(item, key)
                .map_err(|_| {
                    Error::new(
                        ResponseCode::ErrorInvalidChangeKey,
                        "the change key is not valid for this item",
                    )
                })?,
        ),
        None => None,
    };
    Ok((item, change_key))
}

/// The folder a `m:…FolderId` wrapper names.
fn wrapped_folder(request: &Request<'_>, wrapper: &Element) -> Result<FolderId, Error> {
    let id = wrapper.children().next().ok_or_else(|| {
        Error::new(
            ResponseCode::ErrorInvalidRequest,
            format!("{} is empty", wrapper.name()),
        )
    })?;
    request.folder_id(id)
}

/// The shape item answers use: the id, plus the attachment ids after CreateItem.
fn id_shape(with_attachments: bool) -> Shape {
    Shape {
        base: BaseShape::IdOnly,
        additional: if with_attachments {
            vec![PropertyPath::Field(FieldUri::ItemAttachments)]
        } else {
            Vec::new()
        },
        include_mime_content: false,
        body_type: BodyType::Best,
    }
}

/// `m:Items` holding `item` (read back from the store) in `shape`, or empty.
fn write_items(
    w: &mut Writer<'_>,
    request: &Request<'_>,
    names: &NamedTags,
    item: Option<&umbox_store::Item>,
    shape: &Shape,
) {
    w.start(M, "Items");
    if let Some(item) = item {
        item_with(w, request, names, item, shape);
    }
    w.end();
}

/// GetItem: one response message per requested id.
pub(crate) fn get_item(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    let shape = parse_shape(
        child(op, "ItemShape").ok_or_else(|| Fault::schema("GetItem needs ItemShape"))?,
    )?;
    let ids = listed(op, "ItemIds")?;
    let names = load_names(request)?;
    w.start(M, "GetItemResponse").start(M, "ResponseMessages");
    for id in ids {
        let result = open_item_id(request, id)
            .and_then(|(item, _)| Ok(request.ctx.store.item(&request.mailbox, item)?))
            .map(|item| {
                let (names, shape) = (&names, &shape);
                move |w: &mut Writer<'_>| write_items(w, request, names, Some(&item), shape)
            });
        response_message(w, "GetItemResponseMessage", result);
    }
    w.end().end();
    Ok(())
}

/// `MessageDisposition` (MS-OXWSCORE MessageDispositionType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    SaveOnly,
    SendOnly,
    SendAndSaveCopy,
}

impl Disposition {
    fn parse(op: &Element) -> Result<Option<Disposition>, Fault> {
        Ok(match op.attribute("", "MessageDisposition") {
            None => None,
            Some("SaveOnly") => Some(Disposition::SaveOnly),
            Some("SendOnly") => Some(Disposition::SendOnly),
            Some("SendAndSaveCopy") => Some(Disposition::SendAndSaveCopy),
            Some(other) => {
                return Err(Fault::schema(format!(
                    "MessageDisposition {other:?} is not valid"
                )))
            }
        })
    }
}

/// Checks an enumerated attribute umbox accepts without acting on it.
fn accepted(op: &Element, name: &str, values: &[&str]) -> Result<(), Fault> {
    match op.attribute("", name) {
        Some(value) if !values.contains(&value) => {
            Err(Fault::schema(format!("{name} {value:?} is not valid")))
        }
        _ => Ok(()),
    }
}

const INVITATIONS: &[&str] = &["SendToNone", "SendOnlyToAll", "SendToAllAndSaveCopy"];
const UPDATE_INVITATIONS: &[&str] = &[
    "SendToNone",
    "SendOnlyToAll",
    "SendOnlyToChanged",
    "SendToAllAndSaveCopy",
    "SendToChangedAndSaveCopy",
];

/// Turns parse results into per-item results, or the first schema fault.
fn split_invalid<T>(results: Vec<Result<T, Invalid>>) -> Result<Vec<Result<T, Error>>, Fault> {
    results
        .into_iter()
        .map(|r| match r {
            Ok(value) => Ok(Ok(value)),
            Err(Invalid::Item(error)) => Ok(Err(error)),
            Err(Invalid::Schema(fault)) => Err(fault),
        })
        .collect()
}

/// CreateItem: messages (saved as drafts, sent, or both), contacts, calendar items and plain
/// items, each with its extended properties and attachments.
pub(crate) fn create_item(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    let disposition = Disposition::parse(op)?;
    accepted(op, "SendMeetingInvitations", INVITATIONS)?;
    let items = listed(op, "Items")?;
    let parsed = split_invalid(
        items
            .iter()
            .map(|element| read_item(request, element))
            .collect(),
    )?;
    let saved = child(op, "SavedItemFolderId");
    let names = load_names(request)?;
    let shape = id_shape(true);
    w.start(M, "CreateItemResponse")
        .start(M, "ResponseMessages");
    for parsed in parsed {
        let result = parsed.and_then(|(kind, item)| {
            let folder = saved
                .map(|wrapper| wrapped_folder(request, wrapper))
                .transpose()?;
            create_one(request, kind, item, disposition, folder)
        });
        let result = result.map(|created| {
            let (names, shape) = (&names, &shape);
            move |w: &mut Writer<'_>| write_items(w, request, names, created.as_ref(), shape)
        });
        response_message(w, "CreateItemResponseMessage", result);
    }
    w.end().end();
    Ok(())
}

/// Stores or sends one new item; returns it when it was saved and not sent (the only case
/// whose id the response carries, as in Exchange).
fn create_one(
    request: &Request<'_>,
    kind: Kind,
    mut item: NewItem,
    disposition: Option<Disposition>,
    folder: Option<FolderId>,
) -> Result<Option<umbox_store::Item>, Error> {
    let store = request.ctx.store;
    if kind != Kind::Message {
        // MessageDisposition applies to messages only (MS-OXWSCORE 3.1.4.2.2.1).
        complete_new_item(request, kind, &mut item, tags::MSGFLAG_READ);
        let default = match kind {
            Kind::Contact => DistinguishedFolder::Contacts,
            Kind::CalendarItem => DistinguishedFolder::Calendar,
            Kind::Item | Kind::Message => DistinguishedFolder::Drafts,
        };
        let folder = match folder {
            Some(folder) => folder,
            None => store.distinguished_folder(&request.mailbox, default)?,
        };
        return save(request, folder, item).map(Some);
    }
    let disposition = disposition.ok_or_else(|| {
        Error::new(
            ResponseCode::ErrorMessageDispositionRequired,
            "MessageDisposition is required for messages",
        )
    })?;
    match disposition {
        Disposition::SaveOnly => {
            complete_new_item(request, kind, &mut item, tags::MSGFLAG_UNSENT);
            let folder = match folder {
                Some(folder) => folder,
                None => {
                    store.distinguished_folder(&request.mailbox, DistinguishedFolder::Drafts)?
                }
            };
            save(request, folder, item).map(Some)
        }
        Disposition::SendOnly | Disposition::SendAndSaveCopy => {
            complete_new_item(request, kind, &mut item, 0);
            let copy_to = match (disposition, folder) {
                (Disposition::SendAndSaveCopy, Some(folder)) => Some(folder),
                (Disposition::SendAndSaveCopy, None) => Some(
                    store.distinguished_folder(&request.mailbox, DistinguishedFolder::SentItems)?,
                ),
                _ => None,
            };
            send(request, item.props, item.attachments, copy_to)?;
            Ok(None)
        }
    }
}

fn save(
    request: &Request<'_>,
    folder: FolderId,
    item: NewItem,
) -> Result<umbox_store::Item, Error> {
    let change = Change::CreateItem {
        folder,
        props: item.props,
        attachments: item.attachments,
    };
    let outcome = request
        .ctx
        .store
        .apply(&request.mailbox, change, request.ctx.now)?
        .outcome;
    let Outcome::Item { item, .. } = outcome else {
        return Err(unexpected(&outcome));
    };
    Ok(request.ctx.store.item(&request.mailbox, item)?)
}

fn unexpected(outcome: &Outcome) -> Error {
    tracing::error!(
        ?outcome,
        "the store answered a change with an unexpected outcome"
    );
    Error::new(
        ResponseCode::ErrorInternalServerError,
        "unexpected store answer",
    )
}

/// Sends a message: checks the author and recipients, delivers an unread copy to each
/// recipient's Inbox and, when `copy_to` is given, keeps a read copy there.
fn send(
    request: &Request<'_>,
    props: Vec<(PropKey, PropValue)>,
    attachments: Vec<NewAttachment>,
    copy_to: Option<FolderId>,
) -> Result<(), Error> {
    let user = request.user;
    let pending = Pending(&props);
    if let Some(author) = author(&pending) {
        if !user.has_address(&author.address) {
            return Err(Error::new(
                ResponseCode::ErrorSendAsDenied,
                format!("{} may not send as {}", user.address, author.address),
            ));
        }
    }
    let recipients = all_recipients(&pending);
    if recipients.is_empty() {
        return Err(Error::new(
            ResponseCode::ErrorInvalidRecipients,
            "a message to send needs at least one recipient",
        ));
    }
    let mut local = Vec::new();
    let mut remote = Vec::new();
    for recipient in &recipients {
        match request.ctx.directory.user_by_address(&recipient.address) {
            Some(target) => {
                if !local.iter().any(|u: &&umbox_base::directory::User| {
                    u.address.eq_ignore_ascii_case(&target.address)
                }) {
                    local.push(target);
                }
            }
            None => remote.push(recipient.address.as_str()),
        }
    }
    if !remote.is_empty() {
        return Err(Error::new(
            ResponseCode::ErrorInvalidRecipients,
            format!(
                "umbox has no SMTP relay and cannot deliver to {}; nothing was sent",
                remote.join(", ")
            ),
        ));
    }
    let now = request.ctx.now;
    let stamp = PropValue::SystemTime(FileTime::from_system_time(now));
    let mut sent = props;
    for (tag, value) in [
        (
            tags::SENDER_NAME,
            PropValue::Unicode(user.display_name.clone()),
        ),
        (
            tags::SENDER_EMAIL_ADDRESS,
            PropValue::Unicode(user.address.clone()),
        ),
        (
            tags::SENT_REPRESENTING_NAME,
            PropValue::Unicode(user.display_name.clone()),
        ),
        (
            tags::SENT_REPRESENTING_EMAIL_ADDRESS,
            PropValue::Unicode(user.address.clone()),
        ),
        (tags::CLIENT_SUBMIT_TIME, stamp.clone()),
        (tags::MESSAGE_DELIVERY_TIME, stamp),
        (tags::MESSAGE_FLAGS, PropValue::Int32(0)),
    ] {
        set(&mut sent, tag, value);
    }
    let files: Vec<(PropertyBag, Vec<u8>)> = attachments
        .iter()
        .map(|a| (tag_bag(&a.props), a.content.clone()))
        .collect();
    // What recipients see: the headers of the message as it travels (no Bcc).
    let mut travelling = sent.clone();
    travelling.retain(|(key, _)| *key != bcc_key());
    let rendered = render::mime(request, &Pending(&travelling), &files, seed(now));
    let headers = String::from_utf8_lossy(crate::mime::header_block(&rendered)).into_owned();
    for target in local {
        let mut copy = travelling.clone();
        for (tag, value) in [
            (
                delivery::RECEIVED_BY_NAME,
                PropValue::Unicode(target.display_name.clone()),
            ),
            (
                delivery::RECEIVED_BY_EMAIL_ADDRESS,
                PropValue::Unicode(target.address.clone()),
            ),
            (
                delivery::RECEIVED_REPRESENTING_NAME,
                PropValue::Unicode(target.display_name.clone()),
            ),
            (
                delivery::RECEIVED_REPRESENTING_EMAIL_ADDRESS,
                PropValue::Unicode(target.address.clone()),
            ),
            (
                delivery::TRANSPORT_MESSAGE_HEADERS,
                PropValue::Unicode(headers.clone()),
            ),
            (
                tags::MESSAGE_FLAGS,
                PropValue::Int32(delivery::MSGFLAG_UNMODIFIED),
            ),
        ] {
            set(&mut copy, tag, value);
        }
        deliver(
            request,
            &MailboxId::new(&target.address),
            copy,
            attachments.clone(),
        )?;
    }
    if let Some(folder) = copy_to {
        set(
            &mut sent,
            tags::MESSAGE_FLAGS,
            PropValue::Int32(tags::MSGFLAG_READ | delivery::MSGFLAG_FROMME),
        );
        let change = Change::CreateItem {
            folder,
            props: sent,
            attachments,
        };
        request.ctx.store.apply(&request.mailbox, change, now)?;
    }
    Ok(())
}

/// A number for MIME boundaries of messages that have no store id yet.
fn seed(now: SystemTime) -> u64 {
    u64::try_from(FileTime::from_system_time(now).0).unwrap_or_default()
}

/// Sets `tag`, replacing earlier values of it.
fn set(props: &mut Vec<(PropKey, PropValue)>, tag: PropTag, value: PropValue) {
    props.retain(|(key, _)| *key != PropKey::Tag(tag));
    props.push((PropKey::Tag(tag), value));
}

/// The fixed-tag properties of an attachment, for its MIME headers.
fn tag_bag(props: &[(PropKey, PropValue)]) -> PropertyBag {
    let mut bag = PropertyBag::new();
    for (key, value) in props {
        if let PropKey::Tag(tag) = key {
            // A value of the wrong type cannot come from the parsers; it would only lose a header.
            let _ = bag.set(*tag, value.clone());
        }
    }
    bag
}

/// Creates a delivered copy in `mailbox`'s Inbox, creating the mailbox of a directory user that
/// has none yet.
fn deliver(
    request: &Request<'_>,
    mailbox: &MailboxId,
    props: Vec<(PropKey, PropValue)>,
    attachments: Vec<NewAttachment>,
) -> Result<(), Error> {
    let store = request.ctx.store;
    let inbox = match store.distinguished_folder(mailbox, DistinguishedFolder::Inbox) {
        Ok(inbox) => inbox,
        Err(umbox_store::Error::NotFound(umbox_store::Missing::Mailbox(_))) => {
            store.ensure_mailbox(mailbox, request.ctx.now)?;
            store.distinguished_folder(mailbox, DistinguishedFolder::Inbox)?
        }
        Err(error) => return Err(error.into()),
    };
    store.apply(
        mailbox,
        Change::CreateItem {
            folder: inbox,
            props,
            attachments,
        },
        request.ctx.now,
    )?;
    Ok(())
}

/// Sends a stored draft, then removes it; the sent copy goes to `copy_to`.
fn send_stored(
    request: &Request<'_>,
    item: &umbox_store::Item,
    copy_to: Option<FolderId>,
) -> Result<(), Error> {
    if Kind::of(&item.props) != Kind::Message {
        return Err(Error::new(
            ResponseCode::ErrorInvalidItemForOperation,
            "only messages can be sent",
        ));
    }
    let props = portable(request, &item.props)?;
    let mut attachments = Vec::with_capacity(item.attachments.len());
    for info in &item.attachments {
        let stored = request.ctx.store.attachment(&request.mailbox, info.id)?;
        attachments.push(NewAttachment {
            props: portable(request, &stored.props)?,
            content: stored.content,
        });
    }
    send(request, props, attachments, copy_to)?;
    request.ctx.store.apply(
        &request.mailbox,
        Change::DeleteItem { item: item.id },
        request.ctx.now,
    )?;
    Ok(())
}

/// `ConflictResolution` (MS-OXWSCORE ConflictResolutionType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConflictResolution {
    NeverOverwrite,
    AutoResolve,
    AlwaysOverwrite,
}

/// UpdateItem: SetItemField, AppendToItemField and DeleteItemField per item, then optionally
/// sending the draft.
pub(crate) fn update_item(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    let resolution = match op.attribute("", "ConflictResolution") {
        Some("NeverOverwrite") => ConflictResolution::NeverOverwrite,
        None | Some("AutoResolve") => ConflictResolution::AutoResolve,
        Some("AlwaysOverwrite") => ConflictResolution::AlwaysOverwrite,
        Some(other) => {
            return Err(Fault::schema(format!(
                "ConflictResolution {other:?} is not valid"
            )))
        }
    };
    let disposition = Disposition::parse(op)?;
    accepted(
        op,
        "SendMeetingInvitationsOrCancellations",
        UPDATE_INVITATIONS,
    )?;
    if let Some(value) = op.attribute("", "SuppressReadReceipts") {
        parse_bool(value)?;
    }
    let changes = listed(op, "ItemChanges")?;
    let names = load_names(request)?;
    let saved = child(op, "SavedItemFolderId");
    let parsed = split_invalid(
        changes
            .iter()
            .map(|change| read_change(request, &names, change))
            .collect(),
    )?;
    let shape = id_shape(false);
    w.start(M, "UpdateItemResponse")
        .start(M, "ResponseMessages");
    for parsed in parsed {
        let result = parsed.and_then(|change| {
            let folder = saved
                .map(|wrapper| wrapped_folder(request, wrapper))
                .transpose()?;
            apply_change(request, change, resolution, disposition, folder)
        });
        let result = result.map(|updated| {
            let (names, shape) = (&names, &shape);
            move |w: &mut Writer<'_>| {
                write_items(w, request, names, updated.as_ref(), shape);
                w.start(M, "ConflictResults").leaf(T, "Count", "0").end();
            }
        });
        response_message(w, "UpdateItemResponseMessage", result);
    }
    w.end().end();
    Ok(())
}

/// One ItemChange, read against the stored item.
struct ItemChange {
    item: umbox_store::Item,
    change_key: Option<ChangeKey>,
    update: Update,
}

fn read_change(
    request: &Request<'_>,
    names: &NamedTags,
    change: &Element,
) -> Result<ItemChange, Invalid> {
    if !change.is(ns::EWS_TYPES, "ItemChange") {
        return Err(Fault::schema(format!("{} is not an ItemChange", change.name())).into());
    }
    let id = change
        .children()
        .find(|c| c.namespace() == ns::EWS_TYPES && c.name().ends_with("ItemId"))
        .ok_or_else(|| Fault::schema("ItemChange needs an item id"))?;
    let updates =
        child(change, "Updates").ok_or_else(|| Fault::schema("ItemChange needs Updates"))?;
    let (item, change_key) = open_item_id(request, id)?;
    let item = request
        .ctx
        .store
        .item(&request.mailbox, item)
        .map_err(Error::from)?;
    let mut update = Update::default();
    for one in updates.children() {
        if !(one.namespace() == ns::EWS_TYPES
            && matches!(
                one.name(),
                "SetItemField" | "AppendToItemField" | "DeleteItemField"
            ))
        {
            return Err(
                Fault::schema(format!("unexpected element {} in Updates", one.name())).into(),
            );
        }
        read_update(names, &item, one, &mut update)?;
    }
    Ok(ItemChange {
        item,
        change_key,
        update,
    })
}

fn apply_change(
    request: &Request<'_>,
    change: ItemChange,
    resolution: ConflictResolution,
    disposition: Option<Disposition>,
    folder: Option<FolderId>,
) -> Result<Option<umbox_store::Item>, Error> {
    let store = request.ctx.store;
    let ItemChange {
        item,
        change_key,
        mut update,
    } = change;
    let is_message = Kind::of(&item.props) == Kind::Message;
    if is_message && disposition.is_none() {
        return Err(Error::new(
            ResponseCode::ErrorMessageDispositionRequired,
            "MessageDisposition is required for messages",
        ));
    }
    let expected = change_key.filter(|_| resolution == ConflictResolution::NeverOverwrite);
    if let Some(expected) = expected {
        if expected != item.change_key {
            return Err(Error::new(
                ResponseCode::ErrorIrresolvableConflict,
                "the item changed since the given change key; ConflictResolution is NeverOverwrite",
            ));
        }
    }
    if !update.set.is_empty() || !update.delete.is_empty() {
        update.set.push((
            delivery::LAST_MODIFIER_NAME.into(),
            PropValue::Unicode(request.ctx.caller.display_name.clone()),
        ));
        let flags = item.props.int32(tags::MESSAGE_FLAGS).unwrap_or(0);
        let explicit_flags = update
            .set
            .iter()
            .any(|(k, _)| *k == PropKey::Tag(tags::MESSAGE_FLAGS));
        if flags & delivery::MSGFLAG_UNMODIFIED != 0 && !explicit_flags {
            update.set.push((
                tags::MESSAGE_FLAGS.into(),
                PropValue::Int32(flags & !delivery::MSGFLAG_UNMODIFIED),
            ));
        }
        let change = Change::UpdateItem {
            item: item.id,
            expected,
            set: update.set,
            delete: update.delete,
        };
        store.apply(&request.mailbox, change, request.ctx.now)?;
    }
    if let Some(attachments) = update.attachments.take() {
        replace_attachments(request, &item, attachments)?;
    }
    if let Some(read) = update.read {
        store.apply(
            &request.mailbox,
            Change::SetReadFlag {
                items: vec![item.id],
                read,
            },
            request.ctx.now,
        )?;
    }
    let updated = store.item(&request.mailbox, item.id)?;
    match disposition {
        Some(Disposition::SendOnly | Disposition::SendAndSaveCopy) if is_message => {
            let copy_to = match (disposition, folder) {
                (Some(Disposition::SendAndSaveCopy), Some(folder)) => Some(folder),
                (Some(Disposition::SendAndSaveCopy), None) => Some(
                    store.distinguished_folder(&request.mailbox, DistinguishedFolder::SentItems)?,
                ),
                _ => None,
            };
            send_stored(request, &updated, copy_to)?;
            Ok(None)
        }
        _ => Ok(Some(updated)),
    }
}

/// Gives `item` the attachments of a new MIME form: unchanged when they are the same files
/// (clients send the MIME form they read back), replaced otherwise.
fn replace_attachments(
    request: &Request<'_>,
    item: &umbox_store::Item,
    new: Vec<NewAttachment>,
) -> Result<(), Error> {
    let store = request.ctx.store;
    let mut existing = Vec::with_capacity(item.attachments.len());
    for info in &item.attachments {
        existing.push(store.attachment(&request.mailbox, info.id)?);
    }
    let name = |props: &[(PropKey, PropValue)]| {
        props.iter().find_map(|(k, v)| match (k, v) {
            (PropKey::Tag(tag), PropValue::Unicode(name)) if *tag == tags::ATTACH_LONG_FILENAME => {
                Some(name.clone())
            }
            _ => None,
        })
    };
    let same = existing.len() == new.len()
        && existing.iter().zip(&new).all(|(old, new)| {
            old.content == new.content
                && old
                    .props
                    .unicode(tags::ATTACH_LONG_FILENAME)
                    .map(str::to_owned)
                    == name(&new.props)
        });
    if same {
        return Ok(());
    }
    for old in existing {
        store.apply(
            &request.mailbox,
            Change::DeleteAttachment { attachment: old.id },
            request.ctx.now,
        )?;
    }
    for attachment in new {
        store.apply(
            &request.mailbox,
            Change::AddAttachment {
                item: item.id,
                attachment,
            },
            request.ctx.now,
        )?;
    }
    Ok(())
}

/// DeleteItem: HardDelete and SoftDelete remove the item; MoveToDeletedItems moves it to Deleted
/// Items (and removes it when it is there already).
pub(crate) fn delete_item(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    let to_deleted_items = match op.attribute("", "DeleteType") {
        Some("HardDelete" | "SoftDelete") => false,
        Some("MoveToDeletedItems") => true,
        other => {
            return Err(Fault::schema(format!(
                "DeleteType {other:?} must be HardDelete, SoftDelete or MoveToDeletedItems"
            )))
        }
    };
    accepted(op, "SendMeetingCancellations", INVITATIONS)?;
    accepted(
        op,
        "AffectedTaskOccurrences",
        &["AllOccurrences", "SpecifiedOccurrenceOnly"],
    )?;
    let ids = listed(op, "ItemIds")?;
    w.start(M, "DeleteItemResponse")
        .start(M, "ResponseMessages");
    for id in ids {
        let result = open_item_id(request, id).and_then(|(item, _)| {
            let store = request.ctx.store;
            let change = if to_deleted_items {
                let deleted = store
                    .distinguished_folder(&request.mailbox, DistinguishedFolder::DeletedItems)?;
                let current = store.item(&request.mailbox, item)?;
                if current.parent == deleted {
                    Change::DeleteItem { item }
                } else {
                    Change::MoveItem { item, to: deleted }
                }
            } else {
                Change::DeleteItem { item }
            };
            store.apply(&request.mailbox, change, request.ctx.now)?;
            Ok(|_: &mut Writer<'_>| {})
        });
        response_message(w, "DeleteItemResponseMessage", result);
    }
    w.end().end();
    Ok(())
}

/// MoveItem and CopyItem: the new ids, unless ReturnNewItemIds is false.
pub(crate) fn move_item(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    transfer(request, op, w, false)
}

/// CopyItem; see [`move_item`].
pub(crate) fn copy_item(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    transfer(request, op, w, true)
}

fn transfer(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
    copy: bool,
) -> Result<(), Fault> {
    let (response, message) = if copy {
        ("CopyItemResponse", "CopyItemResponseMessage")
    } else {
        ("MoveItemResponse", "MoveItemResponseMessage")
    };
    let target = child(op, "ToFolderId")
        .ok_or_else(|| Fault::schema(format!("{} needs ToFolderId", op.name())))?;
    let return_ids = child(op, "ReturnNewItemIds")
        .map(|e| parse_bool(e.trimmed_text()))
        .transpose()?
        .unwrap_or(true);
    let ids = listed(op, "ItemIds")?;
    let names = load_names(request)?;
    let shape = id_shape(false);
    w.start(M, response).start(M, "ResponseMessages");
    for id in ids {
        let result = open_item_id(request, id).and_then(|(item, _)| {
            let to = wrapped_folder(request, target)?;
            let change = if copy {
                Change::CopyItem { item, to }
            } else {
                Change::MoveItem { item, to }
            };
            let outcome = request
                .ctx
                .store
                .apply(&request.mailbox, change, request.ctx.now)?
                .outcome;
            let Outcome::Item { item, .. } = outcome else {
                return Err(unexpected(&outcome));
            };
            Ok(if return_ids {
                Some(request.ctx.store.item(&request.mailbox, item)?)
            } else {
                None
            })
        });
        let result = result.map(|moved| {
            let (names, shape) = (&names, &shape);
            move |w: &mut Writer<'_>| write_items(w, request, names, moved.as_ref(), shape)
        });
        response_message(w, message, result);
    }
    w.end().end();
    Ok(())
}

/// SendItem: sends saved drafts; with SaveItemToFolder the sent copy goes to SavedItemFolderId
/// (Sent Items by default), and the draft is removed either way.
pub(crate) fn send_item(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    let save_copy = parse_bool(
        op.attribute("", "SaveItemToFolder")
            .ok_or_else(|| Fault::schema("SendItem needs SaveItemToFolder"))?,
    )?;
    let ids = listed(op, "ItemIds")?;
    let saved = child(op, "SavedItemFolderId");
    w.start(M, "SendItemResponse").start(M, "ResponseMessages");
    for id in ids {
        let result = open_item_id(request, id).and_then(|(item, change_key)| {
            let item = request.ctx.store.item(&request.mailbox, item)?;
            if change_key.is_some_and(|key| key != item.change_key) {
                return Err(Error::new(
                    ResponseCode::ErrorIrresolvableConflict,
                    "the draft changed since the given change key",
                ));
            }
            let copy_to = match (save_copy, saved) {
                (false, _) => None,
                (true, Some(wrapper)) => Some(wrapped_folder(request, wrapper)?),
                (true, None) => Some(
                    request
                        .ctx
                        .store
                        .distinguished_folder(&request.mailbox, DistinguishedFolder::SentItems)?,
                ),
            };
            send_stored(request, &item, copy_to)?;
            Ok(|_: &mut Writer<'_>| {})
        });
        response_message(w, "SendItemResponseMessage", result);
    }
    w.end().end();
    Ok(())
}

/// MarkAllItemsAsRead (Exchange2013): sets or clears the read flag of every item of each folder.
/// Read receipts are never sent, so SuppressReadReceipts changes nothing.
pub(crate) fn mark_all_items_as_read(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    let read = parse_bool(
        child(op, "ReadFlag")
            .ok_or_else(|| Fault::schema("MarkAllItemsAsRead needs ReadFlag"))?
            .trimmed_text(),
    )?;
    if let Some(suppress) = child(op, "SuppressReadReceipts") {
        parse_bool(suppress.trimmed_text())?;
    }
    let folders = listed(op, "FolderIds")?;
    w.start(M, "MarkAllItemsAsReadResponse")
        .start(M, "ResponseMessages");
    for folder in folders {
        let result = request.folder_id(folder).and_then(|folder| {
            let store = request.ctx.store;
            let items: Vec<ItemId> = store
                .items(&request.mailbox, folder)?
                .into_iter()
                .filter(|item| {
                    (item.props.int32(tags::MESSAGE_FLAGS).unwrap_or(0) & tags::MSGFLAG_READ != 0)
                        != read
                })
                .map(|item| item.id)
                .collect();
            if !items.is_empty() {
                store.apply(
                    &request.mailbox,
                    Change::SetReadFlag { items, read },
                    request.ctx.now,
                )?;
            }
            Ok(|_: &mut Writer<'_>| {})
        });
        response_message(w, "MarkAllItemsAsReadResponseMessage", result);
    }
    w.end().end();
    Ok(())
}
