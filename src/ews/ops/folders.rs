//! Folder operations (MS-OXWSFOLD): GetFolder, FindFolder.

use crate::ews::codes::ResponseCode;
use crate::ews::error::{Error, Fault};
use crate::ews::fields::{parse_shape, Shape};
use crate::ews::render::folder::folder as write_folder;
use crate::ews::soap::{M, T};
use crate::ews::{child, response_message, Request};
use crate::store::{Folder, Traversal};
use crate::xml::{Element, Writer};

/// The folder ids listed under `container` (`FolderIds`, `ParentFolderIds`), in request order.
fn folder_ids<'e>(op: &'e Element, container: &str) -> Result<Vec<&'e Element>, Fault> {
    let ids = child(op, container)
        .ok_or_else(|| Fault::schema(format!("{} needs {container}", op.name())))?;
    let ids: Vec<_> = ids.children().collect();
    if ids.is_empty() {
        return Err(Fault::schema(format!("{container} is empty")));
    }
    Ok(ids)
}

fn folder_shape(op: &Element) -> Result<Shape, Fault> {
    parse_shape(
        child(op, "FolderShape")
            .ok_or_else(|| Fault::schema(format!("{} needs FolderShape", op.name())))?,
    )
}

/// GetFolder: one response message per requested folder.
pub(crate) fn get_folder(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    let shape = folder_shape(op)?;
    let ids = folder_ids(op, "FolderIds")?;
    w.start(M, "GetFolderResponse").start(M, "ResponseMessages");
    for id in ids {
        let result = request
            .folder_id(id)
            .and_then(|folder| Ok(request.ctx.store.folder(&request.mailbox, folder)?))
            .map(|folder| {
                let shape = &shape;
                move |w: &mut Writer<'_>| {
                    w.start(M, "Folders");
                    write_folder(w, request, &folder, shape);
                    w.end();
                }
            });
        response_message(w, "GetFolderResponseMessage", result);
    }
    w.end().end();
    Ok(())
}

/// FindFolder: Shallow or Deep traversal under each parent, with optional indexed paging.
pub(crate) fn find_folder(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    let traversal = match op.attribute("", "Traversal") {
        Some("Shallow") => Traversal::Shallow,
        Some("Deep") => Traversal::Deep,
        other => {
            return Err(Fault::schema(format!(
                "FindFolder Traversal {other:?} must be Shallow or Deep"
            )))
        }
    };
    let shape = folder_shape(op)?;
    let page = Page::parse(op, request.ctx.limits.find_count)?;
    let ids = folder_ids(op, "ParentFolderIds")?;
    w.start(M, "FindFolderResponse")
        .start(M, "ResponseMessages");
    for id in ids {
        let result = request
            .folder_id(id)
            .and_then(|parent| {
                Ok(request
                    .ctx
                    .store
                    .child_folders(&request.mailbox, parent, traversal)?)
            })
            .and_then(|folders| page.check(folders.len()).map(|()| folders))
            .map(|folders| {
                let (shape, page) = (&shape, &page);
                move |w: &mut Writer<'_>| write_page(w, request, &folders, page, shape)
            });
        response_message(w, "FindFolderResponseMessage", result);
    }
    w.end().end();
    Ok(())
}

fn write_page(
    w: &mut Writer<'_>,
    request: &Request<'_>,
    folders: &[Folder],
    page: &Page,
    shape: &Shape,
) {
    let total = folders.len();
    let (start, end) = page.window(total);
    w.start(M, "RootFolder")
        .attribute("IndexedPagingOffset", &end.to_string())
        .attribute("TotalItemsInView", &total.to_string())
        .attribute(
            "IncludesLastItemInRange",
            if end >= total { "true" } else { "false" },
        );
    w.start(T, "Folders");
    for folder in folders.get(start..end).unwrap_or_default() {
        write_folder(w, request, folder, shape);
    }
    w.end().end();
}

/// `m:IndexedPageFolderView` (MS-OXWSSRCH): a window counted from the beginning or the end.
#[derive(Debug, Clone, Copy)]
struct Page {
    max: Option<usize>,
    offset: usize,
    from_end: bool,
    limit: usize,
}

impl Page {
    fn parse(op: &Element, limit: usize) -> Result<Page, Fault> {
        let Some(view) = child(op, "IndexedPageFolderView") else {
            return Ok(Page {
                max: None,
                offset: 0,
                from_end: false,
                limit,
            });
        };
        let number = |name: &str| -> Result<Option<usize>, Fault> {
            view.attribute("", name)
                .map(|v| {
                    v.parse::<usize>()
                        .map_err(|_| Fault::schema(format!("{name} {v:?} is not a number")))
                })
                .transpose()
        };
        let from_end = match view.attribute("", "BasePoint") {
            Some("Beginning") => false,
            Some("End") => true,
            other => {
                return Err(Fault::schema(format!(
                    "BasePoint {other:?} must be Beginning or End"
                )))
            }
        };
        Ok(Page {
            max: number("MaxEntriesReturned")?,
            offset: number("Offset")?.unwrap_or(0),
            from_end,
            limit,
        })
    }

    /// ErrorExceededFindCountLimit when one page would hold more than the limit.
    fn check(&self, total: usize) -> Result<(), Error> {
        let (start, end) = self.window(total);
        if end - start > self.limit {
            return Err(Error::new(
                ResponseCode::ErrorExceededFindCountLimit,
                format!(
                    "the view would return more than {} entries; page with IndexedPageFolderView",
                    self.limit
                ),
            ));
        }
        Ok(())
    }

    /// The half-open range of entries in this page.
    fn window(&self, total: usize) -> (usize, usize) {
        let count = self.max.unwrap_or(total);
        if self.from_end {
            let end = total.saturating_sub(self.offset);
            (end.saturating_sub(count), end)
        } else {
            let start = self.offset.min(total);
            (start, start.saturating_add(count).min(total))
        }
    }
}
