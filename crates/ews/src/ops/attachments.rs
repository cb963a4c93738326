//! Attachment operations (MS-OXWSATT): GetAttachment, CreateAttachment, DeleteAttachment.
//!
//! File attachments keep their bytes exactly; item attachments carry the embedded item's
//! properties and its MIME form (see `render::item`). Every answer names the root item with its
//! new change key, since adding or removing an attachment changes the item.

use super::EwsOperation;
use crate::codes::ResponseCode;
use crate::error::{Error, Fault};
use crate::fields::{parse_attachment_shape, Shape};
use crate::render::item::read::{read_attachment, Invalid};
use crate::render::item::write_attachment;
use crate::soap::M;
use crate::{child, response_message, Request};
use umbox_store::{Attachment, AttachmentId, Change, ChangeKey, ItemId, NewAttachment, Outcome};
use umbox_xml::{ns, Element, Writer};

/// The attachment ids listed under `AttachmentIds`, each opened for this request's mailbox.
fn attachment_ids(
    request: &Request<'_>,
    op: &Element,
) -> Result<Vec<Result<AttachmentId, Error>>, Fault> {
    let ids = child(op, "AttachmentIds")
        .ok_or_else(|| Fault::schema(format!("{} needs AttachmentIds", op.name())))?;
    let ids: Vec<_> = ids
        .children()
        .map(|id| open_attachment_id(request, id))
        .collect();
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

/// The root item an attachment answer names, with its version after the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Root {
    pub(crate) item: ItemId,
    pub(crate) change_key: ChangeKey,
}

/// GetAttachment: each attachment with its content (file bytes, or the embedded item).
#[derive(Debug)]
pub(crate) struct GetAttachment {
    pub(crate) shape: Shape,
    pub(crate) ids: Vec<Result<AttachmentId, Error>>,
}

/// Each attachment read, with its root item's version, or why not.
pub(crate) struct GetAttachmentResponse {
    shape: Shape,
    attachments: Vec<Result<(Attachment, Root), Error>>,
}

impl EwsOperation for GetAttachment {
    type Response = GetAttachmentResponse;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        Ok(GetAttachment {
            shape: parse_attachment_shape(child(op, "AttachmentShape"))?,
            ids: attachment_ids(request, op)?,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<GetAttachmentResponse, Fault> {
        let store = request.ctx.store;
        let attachments = self
            .ids
            .into_iter()
            .map(|id| {
                let attachment = store.attachment(&request.mailbox, id?)?;
                let root = store.item(&request.mailbox, attachment.item)?;
                let root = Root {
                    item: root.id,
                    change_key: root.change_key,
                };
                Ok((attachment, root))
            })
            .collect();
        Ok(GetAttachmentResponse {
            shape: self.shape,
            attachments,
        })
    }

    fn write(response: &GetAttachmentResponse, request: &Request<'_>, w: &mut Writer<'_>) {
        w.start(M, "GetAttachmentResponse")
            .start(M, "ResponseMessages");
        for result in &response.attachments {
            let payload = result.as_ref().map(|(attachment, root)| {
                move |w: &mut Writer<'_>| {
                    w.start(M, "Attachments");
                    write_attachment(
                        w,
                        request,
                        &attachment.props,
                        attachment.id,
                        Some((root.item, root.change_key)),
                        Some((&attachment.content, &response.shape)),
                    );
                    w.end();
                }
            });
            response_message(w, "GetAttachmentResponseMessage", payload);
        }
        w.end().end();
    }
}

/// CreateAttachment: adds each attachment to the parent item, one response message each.
#[derive(Debug)]
pub(crate) struct CreateAttachment {
    pub(crate) parent: Result<ItemId, Error>,
    pub(crate) attachments: Vec<Result<NewAttachment, Error>>,
}

/// Each attachment stored, with its root item's new version, or why not.
pub(crate) struct CreateAttachmentResponse {
    created: Vec<Result<(Attachment, Root), Error>>,
}

impl EwsOperation for CreateAttachment {
    type Response = CreateAttachmentResponse;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        let parent = child(op, "ParentItemId")
            .ok_or_else(|| Fault::schema("CreateAttachment needs ParentItemId"))?;
        let list = child(op, "Attachments")
            .ok_or_else(|| Fault::schema("CreateAttachment needs Attachments"))?;
        let mut attachments = Vec::new();
        for element in list.children() {
            attachments.push(match read_attachment(request, element) {
                Ok(attachment) => Ok(attachment),
                Err(Invalid::Item(error)) => Err(error),
                Err(Invalid::Schema(fault)) => return Err(fault),
            });
        }
        if attachments.is_empty() {
            return Err(Fault::schema("Attachments is empty"));
        }
        Ok(CreateAttachment {
            parent: parent_item_id(request, parent),
            attachments,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<CreateAttachmentResponse, Fault> {
        let created = self
            .attachments
            .into_iter()
            .map(|attachment| {
                let attachment = attachment?;
                let item = self.parent.as_ref().map_err(Error::again).copied()?;
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
                    return Err(Error::unexpected_outcome(&outcome));
                };
                let stored = request.ctx.store.attachment(&request.mailbox, attachment)?;
                let root = Root {
                    item,
                    change_key: item_change_key,
                };
                Ok((stored, root))
            })
            .collect();
        Ok(CreateAttachmentResponse { created })
    }

    fn write(response: &CreateAttachmentResponse, request: &Request<'_>, w: &mut Writer<'_>) {
        w.start(M, "CreateAttachmentResponse")
            .start(M, "ResponseMessages");
        for result in &response.created {
            let payload = result.as_ref().map(|(stored, root)| {
                move |w: &mut Writer<'_>| {
                    w.start(M, "Attachments");
                    write_attachment(
                        w,
                        request,
                        &stored.props,
                        stored.id,
                        Some((root.item, root.change_key)),
                        None,
                    );
                    w.end();
                }
            });
            response_message(w, "CreateAttachmentResponseMessage", payload);
        }
        w.end().end();
    }
}

/// `m:ParentItemId`, an ItemIdType under another name, opened for this request's mailbox.
fn parent_item_id(request: &Request<'_>, parent: &Element) -> Result<ItemId, Error> {
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
}

/// DeleteAttachment: removes each attachment; the answer names the root item's new version.
#[derive(Debug)]
pub(crate) struct DeleteAttachment {
    pub(crate) ids: Vec<Result<AttachmentId, Error>>,
}

/// Each root item's new version, or why the attachment was not removed.
pub(crate) struct DeleteAttachmentResponse {
    roots: Vec<Result<Root, Error>>,
}

impl EwsOperation for DeleteAttachment {
    type Response = DeleteAttachmentResponse;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        Ok(DeleteAttachment {
            ids: attachment_ids(request, op)?,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<DeleteAttachmentResponse, Fault> {
        let roots = self
            .ids
            .into_iter()
            .map(|attachment| {
                let change = Change::DeleteAttachment {
                    attachment: attachment?,
                };
                let outcome = request
                    .ctx
                    .store
                    .apply(&request.mailbox, change, request.ctx.now)?
                    .outcome;
                match outcome {
                    Outcome::Item { item, change_key } => Ok(Root { item, change_key }),
                    other => Err(Error::unexpected_outcome(&other)),
                }
            })
            .collect();
        Ok(DeleteAttachmentResponse { roots })
    }

    fn write(response: &DeleteAttachmentResponse, request: &Request<'_>, w: &mut Writer<'_>) {
        w.start(M, "DeleteAttachmentResponse")
            .start(M, "ResponseMessages");
        for result in &response.roots {
            let payload = result.as_ref().map(|root| {
                move |w: &mut Writer<'_>| {
                    let ids = request.ctx.ids;
                    w.start(M, "RootItemId")
                        .attribute("RootItemId", &ids.item(&request.mailbox, root.item))
                        .attribute(
                            "RootItemChangeKey",
                            &ids.item_change_key(&request.mailbox, root.item, root.change_key),
                        )
                        .end();
                }
            });
            response_message(w, "DeleteAttachmentResponseMessage", payload);
        }
        w.end().end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testkit::Kit;
    use umbox_store::props::{tags, PropValue};
    use umbox_store::DistinguishedFolder;

    const ALICE: &str = "alice@example.test";

    fn wav(name: &str, content: &[u8]) -> NewAttachment {
        NewAttachment {
            props: vec![(
                tags::ATTACH_LONG_FILENAME.into(),
                PropValue::Unicode(name.to_owned()),
            )],
            content: content.to_vec(),
        }
    }

    fn refused() -> Error {
        Error::new(ResponseCode::ErrorInvalidRequest, "refused in parse")
    }

    /// Each entry is answered on its own: a bad entry fails alone, and the others go on.
    #[test]
    fn create_get_and_delete_answer_each_attachment_on_its_own() {
        let kit = Kit::new();
        let request = kit.request(ALICE);
        let item = kit.create_item(ALICE, DistinguishedFolder::Inbox, vec![], &[]);

        let created = CreateAttachment {
            parent: Ok(item),
            attachments: vec![Ok(wav("a.wav", b"RIFF-a")), Err(refused())],
        }
        .run(&request)
        .unwrap()
        .created;
        let (first, root) = created[0].as_ref().unwrap();
        assert_eq!(root.item, item);
        assert_eq!(first.content, b"RIFF-a");
        let code = created[1].as_ref().err().unwrap().response_code();
        assert_eq!(code, ResponseCode::ErrorInvalidRequest);

        let shared = Error::new(ResponseCode::ErrorInvalidIdMalformed, "bad parent");
        let orphaned = CreateAttachment {
            parent: Err(shared),
            attachments: vec![Ok(wav("b.wav", b"b")), Ok(wav("c.wav", b"c"))],
        }
        .run(&request)
        .unwrap()
        .created;
        for result in &orphaned {
            let error = result.as_ref().err().unwrap();
            assert_eq!(error.response_code(), ResponseCode::ErrorInvalidIdMalformed);
            assert_eq!(error.to_string(), "bad parent");
        }

        let got = GetAttachment {
            shape: parse_attachment_shape(None).unwrap(),
            ids: vec![Ok(first.id), Err(refused())],
        }
        .run(&request)
        .unwrap()
        .attachments;
        let (attachment, got_root) = got[0].as_ref().unwrap();
        assert_eq!(attachment.content, b"RIFF-a");
        assert_eq!(got_root, root);
        assert!(got[1].is_err());

        let deleted = DeleteAttachment {
            ids: vec![Ok(first.id), Ok(first.id)],
        }
        .run(&request)
        .unwrap()
        .roots;
        let after = deleted[0].as_ref().unwrap();
        assert_eq!(after.item, item);
        assert_ne!(after.change_key, root.change_key, "the item changed");
        assert!(deleted[1].is_err(), "the attachment is gone");
    }
}
