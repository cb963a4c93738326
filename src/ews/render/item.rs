//! Items as EWS elements (MS-OXWSCORE ItemType and MessageType), in schema order: the subset
//! FindItem and SyncFolderItems need until the full item renderer of the item operations replaces
//! this file. Same signature as that renderer: [`item`].

use crate::ews::fields::{BaseShape, FieldUri, Shape};
use crate::ews::render::extended_properties;
use crate::ews::soap::T;
use crate::ews::{time, Request};
use crate::store::props::{tags, PropTag, PropValue};
use crate::store::Item;
use crate::xml::Writer;

/// Writes `item` with `shape`: `t:Message` for mail-class items (and items without a class),
/// `t:Item` otherwise.
pub(crate) fn item(w: &mut Writer<'_>, request: &Request<'_>, item: &Item, shape: &Shape) {
    let class = item.props.unicode(tags::MESSAGE_CLASS);
    let is_message = class.is_none_or(|c| is_class_within(c, "IPM.Note"));
    let all = shape.base == BaseShape::AllProperties;
    let default = all || shape.base == BaseShape::Default;
    let wants = |f: FieldUri| shape.wants(f);
    let ids = request.ctx.ids;
    let props = &item.props;
    let time = |tag: PropTag| match props.get(tag) {
        Some(PropValue::SystemTime(t)) => t.to_system_time().map(time::format),
        _ => None,
    };
    w.start(T, if is_message { "Message" } else { "Item" });
    w.start(T, "ItemId")
        .attribute("Id", &ids.item(&request.mailbox, item.id))
        .attribute(
            "ChangeKey",
            &ids.item_change_key(&request.mailbox, item.id, item.change_key),
        )
        .end();
    if all || wants(FieldUri::ItemParentFolderId) {
        w.start(T, "ParentFolderId")
            .attribute("Id", &ids.folder(&request.mailbox, item.parent))
            .end();
    }
    if all || wants(FieldUri::ItemClass) {
        if let Some(class) = class {
            w.leaf(T, "ItemClass", class);
        }
    }
    if default || wants(FieldUri::ItemSubject) {
        if let Some(subject) = props.unicode(tags::SUBJECT) {
            w.leaf(T, "Subject", subject);
        }
    }
    if default || wants(FieldUri::ItemDateTimeReceived) {
        if let Some(received) = time(tags::MESSAGE_DELIVERY_TIME) {
            w.leaf(T, "DateTimeReceived", &received);
        }
    }
    if default || wants(FieldUri::ItemSize) {
        if let Some(size) = props.int32(tags::MESSAGE_SIZE) {
            w.leaf(T, "Size", &size.to_string());
        }
    }
    if default || wants(FieldUri::ItemImportance) {
        let importance = match props.int32(tags::IMPORTANCE) {
            Some(0) => "Low",
            Some(2) => "High",
            _ => "Normal",
        };
        w.leaf(T, "Importance", importance);
    }
    if all || wants(FieldUri::ItemDateTimeSent) {
        if let Some(sent) = time(tags::CLIENT_SUBMIT_TIME) {
            w.leaf(T, "DateTimeSent", &sent);
        }
    }
    if all || wants(FieldUri::ItemDateTimeCreated) {
        if let Some(created) = time(tags::CREATION_TIME) {
            w.leaf(T, "DateTimeCreated", &created);
        }
    }
    if default || wants(FieldUri::ItemHasAttachments) {
        let has = props
            .boolean(tags::HAS_ATTACHMENTS)
            .unwrap_or(!item.attachments.is_empty());
        w.leaf(T, "HasAttachments", if has { "true" } else { "false" });
    }
    let extended: Vec<_> = shape.extended().collect();
    extended_properties(w, request, props, &extended);
    if all || wants(FieldUri::ItemLastModifiedTime) {
        if let Some(modified) = time(tags::LAST_MODIFICATION_TIME) {
            w.leaf(T, "LastModifiedTime", &modified);
        }
    }
    if is_message {
        if default || wants(FieldUri::MessageFrom) {
            let name = props
                .unicode(tags::SENT_REPRESENTING_NAME)
                .or_else(|| props.unicode(tags::SENDER_NAME));
            let address = props
                .unicode(tags::SENT_REPRESENTING_EMAIL_ADDRESS)
                .or_else(|| props.unicode(tags::SENDER_EMAIL_ADDRESS));
            if name.is_some() || address.is_some() {
                w.start(T, "From").start(T, "Mailbox");
                if let Some(name) = name {
                    w.leaf(T, "Name", name);
                }
                if let Some(address) = address {
                    w.leaf(T, "EmailAddress", address)
                        .leaf(T, "RoutingType", "SMTP");
                }
                w.end().end();
            }
        }
        if default || wants(FieldUri::MessageIsRead) {
            let read = props.int32(tags::MESSAGE_FLAGS).unwrap_or(0) & tags::MSGFLAG_READ != 0;
            w.leaf(T, "IsRead", if read { "true" } else { "false" });
        }
    }
    w.end();
}

/// Whether `class` is `base` or a subclass of it (`base.` prefix), ignoring ASCII case, as item
/// classes are hierarchical and case-insensitive.
fn is_class_within(class: &str, base: &str) -> bool {
    class
        .get(..base.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(base))
        && matches!(class.as_bytes().get(base.len()), None | Some(b'.'))
}
