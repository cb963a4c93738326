//! FindItem (MS-OXWSSRCH): the items of folders (the voicemail search folder included), filtered
//! by a restriction, sorted, and paged. Reads only; never changes a mailbox.

use crate::codes::ResponseCode;
use crate::error::{Error, Fault};
use crate::fields::{parse_shape, FieldUri, PropertyPath, Shape};
use crate::ops::folders::folder_ids;
use crate::render::item::{listed_item, NamedTags};
use crate::restriction::{Refusal, Restriction, Row, Target};
use crate::soap::{M, T};
use crate::view::{Page, SortOrder, ITEM_VIEWS};
use crate::{child, response_message, Request};
use umbox_store::{FolderId, Item};
use umbox_xml::{Element, Writer};

/// `ItemQueryTraversalType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Traversal {
    /// The folder's items.
    Shallow,
    /// Soft-deleted items: umbox deletes for good, so there are none.
    SoftDeleted,
    /// Folder-associated items: umbox stores none.
    Associated,
}

/// Item fields FindItem does not return (MS-OXWSSRCH: no bodies, attachments or recipient lists;
/// clients fetch them with GetItem).
const NOT_IN_FIND: &[FieldUri] = &[
    FieldUri::ItemBody,
    FieldUri::ItemUniqueBody,
    FieldUri::ItemMimeContent,
    FieldUri::ItemAttachments,
    FieldUri::MessageToRecipients,
    FieldUri::MessageCcRecipients,
    FieldUri::MessageBccRecipients,
    FieldUri::MessageReplyTo,
];

/// What every folder of the request is searched with.
struct Query {
    traversal: Traversal,
    restriction: Option<Restriction>,
    sort: SortOrder,
    page: Page,
    shape: Shape,
}

/// FindItem: one response message per parent folder, in request order.
pub(crate) fn find_item(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    let traversal = match op.attribute("", "Traversal") {
        Some("Shallow") => Traversal::Shallow,
        Some("SoftDeleted") => Traversal::SoftDeleted,
        Some("Associated") => Traversal::Associated,
        other => {
            return Err(Fault::schema(format!(
                "FindItem Traversal {other:?} must be Shallow, SoftDeleted or Associated"
            )))
        }
    };
    for unsupported in [
        "CalendarView",
        "ContactsView",
        "SeekToConditionPageItemView",
        "GroupBy",
        "DistinguishedGroupBy",
        "QueryString",
    ] {
        if child(op, unsupported).is_some() {
            return Err(Fault::new(
                ResponseCode::ErrorInvalidRequest,
                format!("FindItem with {unsupported} is not supported by this server"),
            ));
        }
    }
    let shape = parse_shape(
        child(op, "ItemShape").ok_or_else(|| Fault::schema("FindItem needs ItemShape"))?,
    )?;
    let page = Page::parse(op, ITEM_VIEWS, request.ctx.limits.find_count)?;
    let ids = folder_ids(op, "ParentFolderIds")?;
    // A schema violation fails the request; a valid query umbox refuses fails each message alike.
    let query = match prepare(request, op, traversal, shape, page) {
        Ok(query) => Ok(query),
        Err(Refusal::Fault(fault)) => return Err(fault),
        Err(Refusal::Error(code, message)) => Err((code, message)),
    };
    w.start(M, "FindItemResponse").start(M, "ResponseMessages");
    for id in ids {
        let result = match &query {
            Ok(query) => request
                .folder_id(id)
                .and_then(|folder| find(request, folder, query))
                .map(|items| move |w: &mut Writer<'_>| write_page(w, request, &items, query)),
            Err((code, message)) => Err(Error::new(*code, message.clone())),
        };
        response_message(w, "FindItemResponseMessage", result);
    }
    w.end().end();
    Ok(())
}

/// Checks the shape and reads the restriction and sort order.
fn prepare(
    request: &Request<'_>,
    op: &Element,
    traversal: Traversal,
    shape: Shape,
    page: Page,
) -> Result<Query, Refusal> {
    if let Some(field) = NOT_IN_FIND
        .iter()
        .find(|f| shape.additional.contains(&PropertyPath::Field(**f)))
    {
        return Err(Refusal::Error(
            ResponseCode::ErrorInvalidPropertyRequest,
            format!(
                "{} cannot be requested in FindItem; use GetItem",
                field.as_str()
            ),
        ));
    }
    let restriction = child(op, "Restriction")
        .map(|r| Restriction::parse(request, r, Target::Items))
        .transpose()?;
    let sort = SortOrder::parse(request, op, Target::Items)?;
    Ok(Query {
        traversal,
        restriction,
        sort,
        page,
        shape,
    })
}

/// The matching items of `folder` in view order, checked against the page limits.
fn find(request: &Request<'_>, folder: FolderId, query: &Query) -> Result<Vec<Item>, Error> {
    let store = request.ctx.store;
    let mut items = match query.traversal {
        Traversal::Shallow => store.items(&request.mailbox, folder)?,
        Traversal::SoftDeleted | Traversal::Associated => {
            store.folder(&request.mailbox, folder)?;
            Vec::new()
        }
    };
    if let Some(restriction) = &query.restriction {
        items.retain(|item| restriction.matches(Row::Item(item)));
    }
    query.sort.sort(&mut items, |item| Row::Item(item));
    query.page.check(items.len())?;
    Ok(items)
}

fn write_page(w: &mut Writer<'_>, request: &Request<'_>, items: &[Item], query: &Query) {
    let (start, end) = query.page.window(items.len());
    w.start(M, "RootFolder");
    query.page.root_attributes(w, items.len());
    w.start(T, "Items");
    // FindItem lists: the base shapes leave the body, MIME and recipient lists out.
    let names = NamedTags::load(request).unwrap_or_else(|error| {
        tracing::error!(%error, "named property ids unreadable; items listed without them");
        NamedTags::default()
    });
    for item in items.get(start..end).unwrap_or_default() {
        listed_item(w, request, &names, item, &query.shape);
    }
    w.end().end();
}
