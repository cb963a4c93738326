//! Attachment operations (MS-OXWSATT): GetAttachment, CreateAttachment, DeleteAttachment.
//!
//! File attachments keep their bytes exactly; item attachments carry the embedded item's
//! properties and its MIME form (see `render::item`). Every answer names the root item with its
//! new change key, since adding or removing an attachment changes the item.

use crate::codes::ResponseCode;
use crate::error::{Error, Fault};
use crate::fields::parse_attachment_shape;
use crate::render::item::read::{read_attachment, Invalid};
use crate::render::item::write_attachment;
use crate::soap::M;
use crate::{child, response_message, Request};
use umbox_store::{AttachmentId, Change, Outcome};
use umbox_xml::{ns, Element, Writer};

/// The attachment ids listed under `AttachmentIds`.
fn attachment_ids(op: &Element) -> Result<Vec<&Element>, Fault> {
    let ids = child(op, "AttachmentIds")
        .ok_or_else(|| Fault::schema(format!("{} needs AttachmentIds", op.name())))?;
    let ids: Vec<_> = ids.children().collect();
    if ids.is_empty() {
        return Err(Fault::schema("AttachmentIds is empty"));
    }
    Ok(ids)
}

/// Opens a `t:AttachmentId` of this request's mailbox.
fn open_attachment_id(request: &Request<'_>, id: &Element) -> Result<AttachmentId, Error> {
    if !id.is(ns::EWS_TYPES, "AttachmentId") {
        return Err(Error::new(
            ResponseCode::ErrorInvalidRequest,
            format!("{} is not an attachment id", id.name()),
        ));
    }
    let (mailbox, attachment) = request
        .ctx
        .ids
        .open_attachment(id.attribute("", "Id").unwrap_or_default())?;
    if mailbox != request.mailbox {
        return Err(Error::new(
            ResponseCode::ErrorAccessDenied,
            "the attachment belongs to another mailbox",
        ));
    }
    Ok(attachment)
}

/// GetAttachment: each attachment with its content (file bytes, or the embedded item).
pub(crate) fn get_attachment(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    let shape = parse_attachment_shape(child(op, "AttachmentShape"))?;
    let ids = attachment_ids(op)?;
    w.start(M, "GetAttachmentResponse")
        .start(M, "ResponseMessages");
    for id in ids {
        let result = open_attachment_id(request, id).and_then(|id| {
            let attachment = request.ctx.store.attachment(&request.mailbox, id)?;
            let root = request.ctx.store.item(&request.mailbox, attachment.item)?;
            Ok((attachment, root.change_key))
        });
        let result = result.map(|(attachment, change_key)| {
            let shape = &shape;
            move |w: &mut Writer<'_>| {
                w.start(M, "Attachments");
                write_attachment(
                    w,
                    request,
                    &attachment.props,
                    attachment.id,
                    Some((attachment.item, change_key)),
                    Some((&attachment.content, shape)),
                );
                w.end();
            }
        });
        response_message(w, "GetAttachmentResponseMessage", result);
    }
    w.end().end();
    Ok(())
}

/// CreateAttachment: adds each attachment to the parent item, one response message each.
pub(crate) fn create_attachment(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    let parent = child(op, "ParentItemId")
        .ok_or_else(|| Fault::schema("CreateAttachment needs ParentItemId"))?;
    let list = child(op, "Attachments")
        .ok_or_else(|| Fault::schema("CreateAttachment needs Attachments"))?;
    let mut parsed = Vec::new();
    for element in list.children() {
        parsed.push(match read_attachment(request, element) {
            Ok(attachment) => Ok(attachment),
            Err(Invalid::Item(error)) => Err(error),
            Err(Invalid::Schema(fault)) => return Err(fault),
        });
    }
    if parsed.is_empty() {
        return Err(Fault::schema("Attachments is empty"));
    }
    // ParentItemId is an ItemIdType under another name.
    let parent_id = || -> Result<_, Error> {
        if parent.namespace() != ns::EWS_MESSAGES {
            return Err(Error::new(
                ResponseCode::ErrorInvalidRequest,
                "ParentItemId is misplaced",
            ));
        }
        let id = parent.attribute("", "Id").unwrap_or_default();
        let (mailbox, item) = request.ctx.ids.open_item(id)?;
        if mailbox != request.mailbox {
            return Err(Error::new(
                ResponseCode::ErrorAccessDenied,
                "the item belongs to another mailbox",
            ));
        }
        Ok(item)
    };
    w.start(M, "CreateAttachmentResponse")
        .start(M, "ResponseMessages");
    for attachment in parsed {
        let result = attachment.and_then(|attachment| {
            let item = parent_id()?;
            let change = Change::AddAttachment { item, attachment };
            let outcome = request
                .ctx
                .store
                .apply(&request.mailbox, change, request.ctx.now)?
                .outcome;
            let Outcome::Attachment {
                attachment,
                item,
                item_change_key,
            } = outcome
            else {
                tracing::error!(
                    ?outcome,
                    "AddAttachment answered with an unexpected outcome"
                );
                return Err(Error::new(
                    ResponseCode::ErrorInternalServerError,
                    "unexpected store answer",
                ));
            };
            let stored = request.ctx.store.attachment(&request.mailbox, attachment)?;
            Ok((stored, item, item_change_key))
        });
        let result = result.map(|(stored, item, change_key)| {
            move |w: &mut Writer<'_>| {
                w.start(M, "Attachments");
                write_attachment(
                    w,
                    request,
                    &stored.props,
                    stored.id,
                    Some((item, change_key)),
                    None,
                );
                w.end();
            }
        });
        response_message(w, "CreateAttachmentResponseMessage", result);
    }
    w.end().end();
    Ok(())
}

/// DeleteAttachment: removes each attachment; the answer names the root item's new version.
pub(crate) fn delete_attachment(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    let ids = attachment_ids(op)?;
    w.start(M, "DeleteAttachmentResponse")
        .start(M, "ResponseMessages");
    for id in ids {
        let result = open_attachment_id(request, id).and_then(|attachment| {
            let change = Change::DeleteAttachment { attachment };
            let outcome = request
                .ctx
                .store
                .apply(&request.mailbox, change, request.ctx.now)?
                .outcome;
            let Outcome::Item { item, change_key } = outcome else {
                tracing::error!(
                    ?outcome,
                    "DeleteAttachment answered with an unexpected outcome"
                );
                return Err(Error::new(
                    ResponseCode::ErrorInternalServerError,
                    "unexpected store answer",
                ));
            };
            Ok(move |w: &mut Writer<'_>| {
                let ids = request.ctx.ids;
                w.start(M, "RootItemId")
                    .attribute("RootItemId", &ids.item(&request.mailbox, item))
                    .attribute(
                        "RootItemChangeKey",
                        &ids.item_change_key(&request.mailbox, item, change_key),
                    )
                    .end();
            })
        });
        response_message(w, "DeleteAttachmentResponseMessage", result);
    }
    w.end().end();
    Ok(())
}
