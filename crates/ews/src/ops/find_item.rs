//! FindItem (MS-OXWSSRCH): the items of folders (the voicemail search folder included), filtered
//! by a restriction, sorted, and paged. Reads only; never changes a mailbox.

use super::EwsOperation;
use crate::codes::ResponseCode;
use crate::error::{Error, Fault};
use crate::fields::{parse_shape, FieldUri, PropertyPath, Shape};
use crate::ops::folders::folder_ids;
use crate::render::item::{listed_item, NamedTags};
use crate::restriction::{Column, Refusal, Restriction, Row, Target};
use crate::soap::{M, T};
use crate::view::{Page, SortOrder, ITEM_VIEWS};
use crate::{child, response_message, Request};
use umbox_store::props::{tags, PropValue};
use umbox_store::{FolderId, Item, ItemId, ItemOrder, ItemView};
use umbox_xml::{Element, Writer};

/// `ItemQueryTraversalType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Traversal {
    /// The folder's items.
    Shallow,
    /// Soft-deleted items: umbox deletes for good, so there are none.
    SoftDeleted,
    /// Folder-associated (FAI) items: hidden configuration such as user configuration objects.
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

/// Which items every folder of the request keeps, and in what order.
#[derive(Debug, Default)]
pub(crate) struct Query {
    /// The items kept; `None` keeps every item.
    pub(crate) restriction: Option<Restriction>,
    /// The order of the kept items, before the page is cut.
    pub(crate) sort: SortOrder,
}

/// FindItem: one response message per parent folder, in request order.
#[derive(Debug)]
pub(crate) struct FindItem {
    /// Which items of each folder are searched.
    pub(crate) traversal: Traversal,
    /// The properties listed for each item.
    pub(crate) shape: Shape,
    /// Which part of each folder's matching items is returned.
    pub(crate) page: Page,
    /// The restriction and sort order, or why umbox refuses the query: a valid query it cannot
    /// answer fails every folder's message alike.
    pub(crate) query: Result<Query, Error>,
    /// Each parent folder, opened, or why not.
    pub(crate) folders: Vec<Result<FolderId, Error>>,
}

/// One folder's page of matching items.
#[derive(Debug)]
pub(crate) struct FoundItems {
    /// How many items of the folder match (TotalItemsInView).
    total: usize,
    /// The items of the page, in view order.
    items: Vec<Item>,
}

/// Each folder's page, or why it was not searched.
pub(crate) struct FindItemResponse {
    shape: Shape,
    page: Page,
    /// The mailbox's ids of the named properties the listed fields read.
    names: NamedTags,
    folders: Vec<Result<FoundItems, Error>>,
}

impl EwsOperation for FindItem {
    type Response = FindItemResponse;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
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
        let query = match read_query(request, op, &shape) {
            Ok(query) => Ok(query),
            Err(Refusal::Fault(fault)) => return Err(fault),
            Err(Refusal::Error(code, message)) => Err(Error::new(code, message)),
        };
        Ok(FindItem {
            traversal,
            shape,
            page,
            query,
            folders: ids.into_iter().map(|id| request.folder_id(id)).collect(),
        })
    }

    fn run(self, request: &Request<'_>) -> Result<FindItemResponse, Fault> {
        let folders: Vec<_> = self
            .folders
            .into_iter()
            .map(|folder| {
                let query = self.query.as_ref().map_err(Error::again)?;
                find(request, folder?, self.traversal, query, &self.page)
            })
            .collect();
        // The named ids are only read when some page lists items.
        let names = if folders.iter().any(Result::is_ok) {
            named_tags(request)
        } else {
            NamedTags::default()
        };
        Ok(FindItemResponse {
            shape: self.shape,
            page: self.page,
            names,
            folders,
        })
    }

    fn write(response: &FindItemResponse, request: &Request<'_>, w: &mut Writer<'_>) {
        w.start(M, "FindItemResponse").start(M, "ResponseMessages");
        for result in &response.folders {
            let payload = result
                .as_ref()
                .map(|found| move |w: &mut Writer<'_>| write_page(w, request, response, found));
            response_message(w, "FindItemResponseMessage", payload);
        }
        w.end().end();
    }
}

/// Checks the shape and reads the restriction and sort order.
fn read_query(request: &Request<'_>, op: &Element, shape: &Shape) -> Result<Query, Refusal> {
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
    Ok(Query { restriction, sort })
}

/// The matching items of `folder` in view order, checked against the page limits, cut to the page.
fn find(
    request: &Request<'_>,
    folder: FolderId,
    traversal: Traversal,
    query: &Query,
    page: &Page,
) -> Result<FoundItems, Error> {
    let store = request.ctx.store;
    if let (Traversal::Shallow, Some((order, descending, unread_only))) =
        (traversal, indexed_view(query))
    {
        let counts = store.folder(&request.mailbox, folder)?;
        let total = if unread_only {
            counts.unread_count
        } else {
            counts.total_count
        };
        let total = usize::try_from(total).unwrap_or(usize::MAX);
        page.check(total)?;
        let (start, end) = page.window(total);
        let view = ItemView {
            order,
            descending,
            unread_only,
            offset: start as u64,
            limit: end.saturating_sub(start) as u64,
        };
        let items = store.item_page(&request.mailbox, folder, &view)?.items;
        return Ok(FoundItems { total, items });
    }
    // No index serves the query: the folder is scanned one item at a time, keeping only each
    // match's sort values and id, so memory follows the matches' keys, not the items.
    let mut rows: Vec<(Vec<Option<PropValue>>, ItemId)> = Vec::new();
    let mut keep = |item: &Item| {
        let matches = match &query.restriction {
            Some(restriction) => restriction.matches(Row::Item(item)),
            None => true,
        };
        if matches {
            rows.push((query.sort.values(Row::Item(item)), item.id));
        }
    };
    match traversal {
        Traversal::Shallow => store.visit_items(&request.mailbox, folder, &mut |item| {
            keep(&item);
            true
        })?,
        Traversal::Associated => store
            .associated_items(&request.mailbox, folder)?
            .iter()
            .for_each(keep),
        Traversal::SoftDeleted => {
            store.folder(&request.mailbox, folder)?;
        }
    }
    // Ties go in id order, reversed when the first key is descending, as the indexes keep them.
    if query
        .sort
        .keys()
        .first()
        .is_some_and(|(_, descending)| *descending)
    {
        rows.reverse();
    }
    query.sort.sort_by_values(&mut rows, |(values, _)| values);
    let total = rows.len();
    page.check(total)?;
    let (start, end) = page.window(total);
    let mut items = Vec::with_capacity(end.saturating_sub(start));
    for (_, id) in rows.into_iter().skip(start).take(end.saturating_sub(start)) {
        match store.item(&request.mailbox, id) {
            Ok(item) => items.push(item),
            // Deleted since the scan: the page is one shorter, as if it had gone a moment sooner.
            Err(umbox_store::Error::NotFound(_)) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(FoundItems { total, items })
}

/// The store index serving `query`, if one does: at most one sort key on an indexed column, and
/// no restriction or only "unread". Returns the order, whether descending, and whether unread only.
fn indexed_view(query: &Query) -> Option<(ItemOrder, bool, bool)> {
    let unread_only = match &query.restriction {
        None => false,
        Some(restriction) if restriction.is_unread_filter() => true,
        Some(_) => return None,
    };
    let (order, descending) = match query.sort.keys() {
        [] => (ItemOrder::Id, false),
        [(column, descending)] => (indexed_order(column)?, *descending),
        _ => return None,
    };
    Some((order, descending, unread_only))
}

/// The store order that sorts as `column` does.
fn indexed_order(column: &Column) -> Option<ItemOrder> {
    Some(match column {
        Column::Prop(tag) if *tag == tags::MESSAGE_DELIVERY_TIME => ItemOrder::Received,
        Column::Prop(tag) if *tag == tags::CREATION_TIME => ItemOrder::Created,
        Column::Prop(tag) if *tag == tags::LAST_MODIFICATION_TIME => ItemOrder::Modified,
        Column::Prop(tag) if *tag == tags::SUBJECT => ItemOrder::Subject,
        Column::Prop(tag) if *tag == tags::MESSAGE_SIZE => ItemOrder::Size,
        Column::Importance => ItemOrder::Importance,
        _ => return None,
    })
}

/// This mailbox's named-property ids for writing items. Unreadable ids are logged and the items
/// written without named properties: the rest of each item is still worth answering.
fn named_tags(request: &Request<'_>) -> NamedTags {
    NamedTags::load(request).unwrap_or_else(|error| {
        tracing::error!(%error, "named property ids unreadable; items written without them");
        NamedTags::default()
    })
}

fn write_page(
    w: &mut Writer<'_>,
    request: &Request<'_>,
    response: &FindItemResponse,
    found: &FoundItems,
) {
    w.start(M, "RootFolder");
    response.page.root_attributes(w, found.total);
    w.start(T, "Items");
    // FindItem lists: the base shapes leave the body, MIME and recipient lists out.
    for item in &found.items {
        listed_item(w, request, &response.names, item, &response.shape);
    }
    w.end().end();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::parse_attachment_shape;
    use crate::ops::testkit::Kit;
    use umbox_store::props::{tags, PropValue};
    use umbox_store::DistinguishedFolder;

    const ALICE: &str = "alice@example.test";

    /// The first `max` items. `Page` is made only by its parser, so this reads a bare view.
    fn first(max: usize) -> Page {
        let view = format!(
            r#"<FindItem xmlns="{}"><IndexedPageItemView MaxEntriesReturned="{max}" Offset="0" BasePoint="Beginning"/></FindItem>"#,
            umbox_xml::ns::EWS_MESSAGES
        );
        let op = umbox_xml::parse(view.as_bytes(), &umbox_xml::Limits::DEFAULT).unwrap();
        Page::parse(&op, ITEM_VIEWS, 1000).unwrap()
    }

    fn subjects(found: &FoundItems) -> Vec<&str> {
        found
            .items
            .iter()
            .map(|item| item.props.unicode(tags::SUBJECT).unwrap())
            .collect()
    }

    /// Each folder is answered on its own; a refused query fails every folder alike.
    #[test]
    fn each_folder_is_searched_on_its_own() {
        let kit = Kit::new();
        let request = kit.request(ALICE);
        for subject in ["a", "b", "c"] {
            let props = vec![(tags::SUBJECT.into(), PropValue::Unicode(subject.into()))];
            kit.create_item(ALICE, DistinguishedFolder::Inbox, props, &[]);
        }
        let inbox = kit.folder(ALICE, DistinguishedFolder::Inbox);
        let find = |traversal, query, folders| FindItem {
            traversal,
            shape: parse_attachment_shape(None).unwrap(),
            page: first(2),
            query,
            folders,
        };

        let bad_id = Error::new(ResponseCode::ErrorInvalidIdMalformed, "refused in parse");
        let found = find(
            Traversal::Shallow,
            Ok(Query::default()),
            vec![Ok(inbox), Err(bad_id), Ok(FolderId(999_999))],
        )
        .run(&request)
        .unwrap()
        .folders;
        let page = found[0].as_ref().unwrap();
        assert_eq!(page.total, 3);
        assert_eq!(
            subjects(page),
            ["a", "b"],
            "the page is cut after the count"
        );
        let code = |i: usize| found[i].as_ref().err().unwrap().response_code();
        assert_eq!(code(1), ResponseCode::ErrorInvalidIdMalformed);
        assert_eq!(code(2), ResponseCode::ErrorFolderNotFound);

        let hidden = vec![
            (tags::SUBJECT.into(), PropValue::Unicode("hidden".into())),
            (tags::ASSOCIATED.into(), PropValue::Boolean(true)),
        ];
        kit.create_item(ALICE, DistinguishedFolder::Inbox, hidden, &[]);
        let associated = find(Traversal::Associated, Ok(Query::default()), vec![Ok(inbox)])
            .run(&request)
            .unwrap()
            .folders;
        let page = associated[0].as_ref().unwrap();
        assert_eq!((page.total, subjects(page)), (1, vec!["hidden"]));
        let shallow = find(Traversal::Shallow, Ok(Query::default()), vec![Ok(inbox)])
            .run(&request)
            .unwrap()
            .folders;
        assert_eq!(shallow[0].as_ref().unwrap().total, 3, "hidden from Shallow");

        let refused = Error::new(ResponseCode::ErrorUnsupportedPathForQuery, "no such path");
        let found = find(Traversal::Shallow, Err(refused), vec![Ok(inbox), Ok(inbox)])
            .run(&request)
            .unwrap()
            .folders;
        assert_eq!(found.len(), 2);
        for result in &found {
            let error = result.as_ref().err().unwrap();
            assert_eq!(
                error.response_code(),
                ResponseCode::ErrorUnsupportedPathForQuery
            );
            assert_eq!(error.to_string(), "no such path");
        }
    }
}
