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

use super::EwsOperation;
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

/// An item as a request names it: its id, and the ChangeKey the client read it at when given.
pub(crate) type KeyedItemId = (ItemId, Option<ChangeKey>);

/// Opens a `t:ItemId` of this request's mailbox, with its ChangeKey when one is given.
pub(crate) fn open_item_id(request: &Request<'_>, id: &Element) -> Result<KeyedItemId, Error> {
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

/// The ids under `ItemIds`, each opened with the ChangeKey it was given with.
fn item_ids_with_keys(
    request: &Request<'_>,
    op: &Element,
) -> Result<Vec<Result<KeyedItemId, Error>>, Fault> {
    Ok(listed(op, "ItemIds")?
        .into_iter()
        .map(|id| open_item_id(request, id))
        .collect())
}

/// The ids under `ItemIds`, for operations that act on an item whatever its version (a ChangeKey
/// given must still be one of the item's).
fn item_ids(request: &Request<'_>, op: &Element) -> Result<Vec<Result<ItemId, Error>>, Fault> {
    Ok(item_ids_with_keys(request, op)?
        .into_iter()
        .map(|id| id.map(|(item, _)| item))
        .collect())
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

/// `m:SavedItemFolderId`, when given: one folder for every entry of the request.
fn saved_folder(request: &Request<'_>, op: &Element) -> Option<Result<FolderId, Error>> {
    child(op, "SavedItemFolderId").map(|wrapper| wrapped_folder(request, wrapper))
}

/// A folder the whole request names, as one entry sees it: a folder that did not resolve fails
/// each entry that needs it with the same answer.
fn shared_folder(folder: Option<&Result<FolderId, Error>>) -> Result<Option<FolderId>, Error> {
    folder
        .map(|folder| folder.as_ref().copied().map_err(Error::again))
        .transpose()
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

/// The answer of CreateItem, UpdateItem, MoveItem and CopyItem: per entry the item the answer
/// names (none for a message that was sent, or when ReturnNewItemIds is false), or why not.
pub(crate) struct ItemsResponse {
    /// The mailbox's named-property ids, to write the items with.
    names: NamedTags,
    /// Per entry, in request order.
    items: Vec<Result<Option<umbox_store::Item>, Error>>,
}

impl ItemsResponse {
    /// Writes `response` holding one `message` per entry: `m:Items` with its item in `shape`, then
    /// whatever `after_items` adds.
    fn write(
        &self,
        request: &Request<'_>,
        w: &mut Writer<'_>,
        (response, message): (&'static str, &'static str),
        shape: &Shape,
        after_items: fn(&mut Writer<'_>),
    ) {
        w.start(M, response).start(M, "ResponseMessages");
        for result in &self.items {
            let payload = result.as_ref().map(|item| {
                move |w: &mut Writer<'_>| {
                    write_items(w, request, &self.names, item.as_ref(), shape);
                    after_items(w);
                }
            });
            response_message(w, message, payload);
        }
        w.end().end();
    }
}

/// The answer of DeleteItem, SendItem and MarkAllItemsAsRead, whose successes carry nothing: per
/// entry, done or why not.
pub(crate) struct Confirmations {
    /// Per entry, in request order.
    results: Vec<Result<(), Error>>,
}

impl Confirmations {
    /// Writes `response` holding one `message` per entry.
    fn write(&self, w: &mut Writer<'_>, response: &'static str, message: &'static str) {
        w.start(M, response).start(M, "ResponseMessages");
        for result in &self.results {
            let payload = result.as_ref().map(|()| |_: &mut Writer<'_>| {});
            response_message(w, message, payload);
        }
        w.end().end();
    }
}

/// GetItem: each requested item in the requested shape.
#[derive(Debug)]
pub(crate) struct GetItem {
    /// `m:ItemShape`.
    pub(crate) shape: Shape,
    /// The requested items, in request order.
    pub(crate) ids: Vec<Result<ItemId, Error>>,
}

/// Each item read, or why not.
pub(crate) struct GetItemResponse {
    /// The shape to write every item in.
    shape: Shape,
    /// The mailbox's named-property ids, to write the items with.
    names: NamedTags,
    /// Per requested id.
    items: Vec<Result<umbox_store::Item, Error>>,
}

impl EwsOperation for GetItem {
    type Response = GetItemResponse;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        let shape = parse_shape(
            child(op, "ItemShape").ok_or_else(|| Fault::schema("GetItem needs ItemShape"))?,
        )?;
        Ok(GetItem {
            shape,
            ids: item_ids(request, op)?,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<GetItemResponse, Fault> {
        let names = load_names(request)?;
        let items = self
            .ids
            .into_iter()
            .map(|id| Ok(request.ctx.store.item(&request.mailbox, id?)?))
            .collect();
        Ok(GetItemResponse {
            shape: self.shape,
            names,
            items,
        })
    }

    fn write(response: &GetItemResponse, request: &Request<'_>, w: &mut Writer<'_>) {
        w.start(M, "GetItemResponse").start(M, "ResponseMessages");
        for result in &response.items {
            let payload = result.as_ref().map(|item| {
                move |w: &mut Writer<'_>| {
                    write_items(w, request, &response.names, Some(item), &response.shape);
                }
            });
            response_message(w, "GetItemResponseMessage", payload);
        }
        w.end().end();
    }
}

/// `MessageDisposition` (MS-OXWSCORE MessageDispositionType): what becomes of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// Saved (a draft), not sent.
    SaveOnly,
    /// Sent, and no copy kept.
    SendOnly,
    /// Sent, and a copy kept: in SavedItemFolderId, or Sent Items by default.
    SendAndSaveCopy,
}

impl Disposition {
    /// The `MessageDisposition` attribute of `op`, when given.
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
#[derive(Debug)]
pub(crate) struct CreateItem {
    /// `MessageDisposition`: required when a message is among the items.
    pub(crate) disposition: Option<Disposition>,
    /// `m:SavedItemFolderId`: where saved items (or sent copies) go instead of their default
    /// folder.
    pub(crate) saved_folder: Option<Result<FolderId, Error>>,
    /// The items, in request order, each with the element type it was given as.
    pub(crate) items: Vec<Result<(Kind, NewItem), Error>>,
}

impl EwsOperation for CreateItem {
    type Response = ItemsResponse;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        let disposition = Disposition::parse(op)?;
        accepted(op, "SendMeetingInvitations", INVITATIONS)?;
        let items = listed(op, "Items")?;
        let items = split_invalid(
            items
                .iter()
                .map(|element| read_item(request, element))
                .collect(),
        )?;
        Ok(CreateItem {
            disposition,
            saved_folder: saved_folder(request, op),
            items,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<ItemsResponse, Fault> {
        let names = load_names(request)?;
        let items = self
            .items
            .into_iter()
            .map(|item| {
                let (kind, item) = item?;
                let folder = shared_folder(self.saved_folder.as_ref())?;
                create_one(request, kind, item, self.disposition, folder)
            })
            .collect();
        Ok(ItemsResponse { names, items })
    }

    fn write(response: &ItemsResponse, request: &Request<'_>, w: &mut Writer<'_>) {
        response.write(
            request,
            w,
            ("CreateItemResponse", "CreateItemResponseMessage"),
            &id_shape(true),
            |_| {},
        );
    }
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
            let save_copy = disposition == Disposition::SendAndSaveCopy;
            let copy_to = sent_copy_folder(request, save_copy, folder)?;
            send(request, item.props, item.attachments, copy_to)?;
            Ok(None)
        }
    }
}

/// Where the sent copy of a message goes when one is kept: `folder`, or Sent Items by default.
fn sent_copy_folder(
    request: &Request<'_>,
    save_copy: bool,
    folder: Option<FolderId>,
) -> Result<Option<FolderId>, Error> {
    if !save_copy {
        return Ok(None);
    }
    Ok(Some(match folder {
        Some(folder) => folder,
        None => request
            .ctx
            .store
            .distinguished_folder(&request.mailbox, DistinguishedFolder::SentItems)?,
    }))
}

/// Stores a new item in `folder` and reads it back.
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
        return Err(Error::unexpected_outcome(&outcome));
    };
    Ok(request.ctx.store.item(&request.mailbox, item)?)
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
pub(crate) enum ConflictResolution {
    /// A stale ChangeKey refuses the change.
    NeverOverwrite,
    /// The change applies (umbox has no per-property history to merge with); the default.
    AutoResolve,
    /// The change applies.
    AlwaysOverwrite,
}

impl ConflictResolution {
    /// The `ConflictResolution` attribute of `op`, AutoResolve when absent.
    fn parse(op: &Element) -> Result<ConflictResolution, Fault> {
        Ok(match op.attribute("", "ConflictResolution") {
            Some("NeverOverwrite") => ConflictResolution::NeverOverwrite,
            None | Some("AutoResolve") => ConflictResolution::AutoResolve,
            Some("AlwaysOverwrite") => ConflictResolution::AlwaysOverwrite,
            Some(other) => {
                return Err(Fault::schema(format!(
                    "ConflictResolution {other:?} is not valid"
                )))
            }
        })
    }
}

/// UpdateItem: SetItemField, AppendToItemField and DeleteItemField per item, then optionally
/// sending the draft.
#[derive(Debug)]
pub(crate) struct UpdateItem {
    /// `ConflictResolution`.
    pub(crate) resolution: ConflictResolution,
    /// `MessageDisposition`: required when a message is changed.
    pub(crate) disposition: Option<Disposition>,
    /// `m:SavedItemFolderId`: where the copy of a message sent with SendAndSaveCopy goes.
    pub(crate) saved_folder: Option<Result<FolderId, Error>>,
    /// The mailbox's named-property ids the changes were read with; the answer is written with
    /// them too.
    pub(crate) names: NamedTags,
    /// The `t:ItemChange`s, in request order.
    pub(crate) changes: Vec<Result<ItemChange, Error>>,
}

impl EwsOperation for UpdateItem {
    type Response = ItemsResponse;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        let resolution = ConflictResolution::parse(op)?;
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
        // What a property path means, and whether its value is valid, depends on the stored item
        // (its type, the values an append extends): the changes are read against the items.
        let names = load_names(request)?;
        let changes = split_invalid(
            changes
                .iter()
                .map(|change| read_change(request, &names, change))
                .collect(),
        )?;
        Ok(UpdateItem {
            resolution,
            disposition,
            saved_folder: saved_folder(request, op),
            names,
            changes,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<ItemsResponse, Fault> {
        let items = self
            .changes
            .into_iter()
            .map(|change| {
                let change = change?;
                let folder = shared_folder(self.saved_folder.as_ref())?;
                apply_change(request, change, self.resolution, self.disposition, folder)
            })
            .collect();
        Ok(ItemsResponse {
            names: self.names,
            items,
        })
    }

    fn write(response: &ItemsResponse, request: &Request<'_>, w: &mut Writer<'_>) {
        response.write(
            request,
            w,
            ("UpdateItemResponse", "UpdateItemResponseMessage"),
            &id_shape(false),
            // Every change applies or fails whole: there is never a conflict to list.
            |w| {
                w.start(M, "ConflictResults").leaf(T, "Count", "0").end();
            },
        );
    }
}

/// One ItemChange, read against the stored item.
#[derive(Debug)]
pub(crate) struct ItemChange {
    /// The item as it was when the change was read.
    pub(crate) item: umbox_store::Item,
    /// The ChangeKey the client read the item at, when given.
    pub(crate) change_key: Option<ChangeKey>,
    /// What to set, delete and flag.
    pub(crate) update: Update,
}

/// Reads one `t:ItemChange` against the item it names.
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

/// Applies one change; returns the item as changed, or none when the change sent it.
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
            let save_copy = disposition == Some(Disposition::SendAndSaveCopy);
            let copy_to = sent_copy_folder(request, save_copy, folder)?;
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

/// `DeleteType` (MS-OXWSCORE DisposalType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeleteType {
    /// Removes the item.
    HardDelete,
    /// Removes the item too: umbox keeps no recoverable-items folder.
    SoftDelete,
    /// Moves the item to Deleted Items, or removes it when it is there already.
    MoveToDeletedItems,
}

/// DeleteItem: each item removed or moved to Deleted Items.
#[derive(Debug)]
pub(crate) struct DeleteItem {
    /// `DeleteType`.
    pub(crate) delete_type: DeleteType,
    /// The items, in request order.
    pub(crate) ids: Vec<Result<ItemId, Error>>,
}

impl EwsOperation for DeleteItem {
    type Response = Confirmations;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        let delete_type = match op.attribute("", "DeleteType") {
            Some("HardDelete") => DeleteType::HardDelete,
            Some("SoftDelete") => DeleteType::SoftDelete,
            Some("MoveToDeletedItems") => DeleteType::MoveToDeletedItems,
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
        Ok(DeleteItem {
            delete_type,
            ids: item_ids(request, op)?,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<Confirmations, Fault> {
        let store = request.ctx.store;
        let results = self
            .ids
            .into_iter()
            .map(|item| {
                let item = item?;
                let change = match self.delete_type {
                    DeleteType::HardDelete | DeleteType::SoftDelete => Change::DeleteItem { item },
                    DeleteType::MoveToDeletedItems => {
                        let deleted = store.distinguished_folder(
                            &request.mailbox,
                            DistinguishedFolder::DeletedItems,
                        )?;
                        if store.item(&request.mailbox, item)?.parent == deleted {
                            Change::DeleteItem { item }
                        } else {
                            Change::MoveItem { item, to: deleted }
                        }
                    }
                };
                store.apply(&request.mailbox, change, request.ctx.now)?;
                Ok(())
            })
            .collect();
        Ok(Confirmations { results })
    }

    fn write(response: &Confirmations, _: &Request<'_>, w: &mut Writer<'_>) {
        response.write(w, "DeleteItemResponse", "DeleteItemResponseMessage");
    }
}

/// What MoveItem and CopyItem ask for: the items, and the folder they go to.
#[derive(Debug)]
pub(crate) struct Transfer {
    /// `m:ToFolderId`.
    pub(crate) to: Result<FolderId, Error>,
    /// `m:ReturnNewItemIds`: whether the answer names the new items (true by default).
    pub(crate) return_new_ids: bool,
    /// The items, in request order.
    pub(crate) ids: Vec<Result<ItemId, Error>>,
}

impl Transfer {
    /// Reads a MoveItem or CopyItem element.
    fn parse(request: &Request<'_>, op: &Element) -> Result<Transfer, Fault> {
        let target = child(op, "ToFolderId")
            .ok_or_else(|| Fault::schema(format!("{} needs ToFolderId", op.name())))?;
        let return_new_ids = child(op, "ReturnNewItemIds")
            .map(|e| parse_bool(e.trimmed_text()))
            .transpose()?
            .unwrap_or(true);
        let ids = item_ids(request, op)?;
        Ok(Transfer {
            to: wrapped_folder(request, target),
            return_new_ids,
            ids,
        })
    }

    /// Applies `change` (a move or a copy to the target folder) to each item.
    fn run(
        self,
        request: &Request<'_>,
        change: fn(ItemId, FolderId) -> Change,
    ) -> Result<ItemsResponse, Fault> {
        let names = load_names(request)?;
        let store = request.ctx.store;
        let items = self
            .ids
            .into_iter()
            .map(|item| {
                let item = item?;
                let to = self.to.as_ref().copied().map_err(Error::again)?;
                let outcome = store
                    .apply(&request.mailbox, change(item, to), request.ctx.now)?
                    .outcome;
                let Outcome::Item { item, .. } = outcome else {
                    return Err(Error::unexpected_outcome(&outcome));
                };
                Ok(if self.return_new_ids {
                    Some(store.item(&request.mailbox, item)?)
                } else {
                    None
                })
            })
            .collect();
        Ok(ItemsResponse { names, items })
    }
}

/// MoveItem: each item moved to the target folder, where it gets a new id.
#[derive(Debug)]
pub(crate) struct MoveItem(pub(crate) Transfer);

impl EwsOperation for MoveItem {
    type Response = ItemsResponse;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        Transfer::parse(request, op).map(MoveItem)
    }

    fn run(self, request: &Request<'_>) -> Result<ItemsResponse, Fault> {
        self.0
            .run(request, |item, to| Change::MoveItem { item, to })
    }

    fn write(response: &ItemsResponse, request: &Request<'_>, w: &mut Writer<'_>) {
        response.write(
            request,
            w,
            ("MoveItemResponse", "MoveItemResponseMessage"),
            &id_shape(false),
            |_| {},
        );
    }
}

/// CopyItem: a copy of each item in the target folder.
#[derive(Debug)]
pub(crate) struct CopyItem(pub(crate) Transfer);

impl EwsOperation for CopyItem {
    type Response = ItemsResponse;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        Transfer::parse(request, op).map(CopyItem)
    }

    fn run(self, request: &Request<'_>) -> Result<ItemsResponse, Fault> {
        self.0
            .run(request, |item, to| Change::CopyItem { item, to })
    }

    fn write(response: &ItemsResponse, request: &Request<'_>, w: &mut Writer<'_>) {
        response.write(
            request,
            w,
            ("CopyItemResponse", "CopyItemResponseMessage"),
            &id_shape(false),
            |_| {},
        );
    }
}

/// SendItem: sends saved drafts; with SaveItemToFolder the sent copy goes to SavedItemFolderId
/// (Sent Items by default), and the draft is removed either way.
#[derive(Debug)]
pub(crate) struct SendItem {
    /// `SaveItemToFolder`: whether a sent copy is kept.
    pub(crate) save_copy: bool,
    /// `m:SavedItemFolderId`, read only when a copy is kept.
    pub(crate) saved_folder: Option<Result<FolderId, Error>>,
    /// The drafts, in request order, each with the ChangeKey it was read at when given.
    pub(crate) ids: Vec<Result<KeyedItemId, Error>>,
}

impl EwsOperation for SendItem {
    type Response = Confirmations;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        let save_copy = parse_bool(
            op.attribute("", "SaveItemToFolder")
                .ok_or_else(|| Fault::schema("SendItem needs SaveItemToFolder"))?,
        )?;
        let ids = item_ids_with_keys(request, op)?;
        Ok(SendItem {
            save_copy,
            saved_folder: save_copy.then(|| saved_folder(request, op)).flatten(),
            ids,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<Confirmations, Fault> {
        let results = self
            .ids
            .into_iter()
            .map(|id| {
                let (item, change_key) = id?;
                let item = request.ctx.store.item(&request.mailbox, item)?;
                if change_key.is_some_and(|key| key != item.change_key) {
                    return Err(Error::new(
                        ResponseCode::ErrorIrresolvableConflict,
                        "the draft changed since the given change key",
                    ));
                }
                let folder = shared_folder(self.saved_folder.as_ref())?;
                let copy_to = sent_copy_folder(request, self.save_copy, folder)?;
                send_stored(request, &item, copy_to)
            })
            .collect();
        Ok(Confirmations { results })
    }

    fn write(response: &Confirmations, _: &Request<'_>, w: &mut Writer<'_>) {
        response.write(w, "SendItemResponse", "SendItemResponseMessage");
    }
}

/// MarkAllItemsAsRead (Exchange2013): sets or clears the read flag of every item of each folder.
/// Read receipts are never sent, so SuppressReadReceipts changes nothing.
#[derive(Debug)]
pub(crate) struct MarkAllItemsAsRead {
    /// `m:ReadFlag`: read (true) or unread.
    pub(crate) read: bool,
    /// The folders, in request order.
    pub(crate) folders: Vec<Result<FolderId, Error>>,
}

impl EwsOperation for MarkAllItemsAsRead {
    type Response = Confirmations;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        let read = parse_bool(
            child(op, "ReadFlag")
                .ok_or_else(|| Fault::schema("MarkAllItemsAsRead needs ReadFlag"))?
                .trimmed_text(),
        )?;
        if let Some(suppress) = child(op, "SuppressReadReceipts") {
            parse_bool(suppress.trimmed_text())?;
        }
        let folders = listed(op, "FolderIds")?
            .into_iter()
            .map(|folder| request.folder_id(folder))
            .collect();
        Ok(MarkAllItemsAsRead { read, folders })
    }

    fn run(self, request: &Request<'_>) -> Result<Confirmations, Fault> {
        let store = request.ctx.store;
        let read = self.read;
        let results = self
            .folders
            .into_iter()
            .map(|folder| {
                let items: Vec<ItemId> = store
                    .items(&request.mailbox, folder?)?
                    .into_iter()
                    .filter(|item| {
                        (item.props.int32(tags::MESSAGE_FLAGS).unwrap_or(0) & tags::MSGFLAG_READ
                            != 0)
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
                Ok(())
            })
            .collect();
        Ok(Confirmations { results })
    }

    fn write(response: &Confirmations, _: &Request<'_>, w: &mut Writer<'_>) {
        response.write(
            w,
            "MarkAllItemsAsReadResponse",
            "MarkAllItemsAsReadResponseMessage",
        );
    }
}
