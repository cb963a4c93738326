//! Folders as EWS elements (MS-OXWSFOLD BaseFolderType and its subtypes), in schema order.

use crate::fields::{BaseShape, FieldUri, Shape};
use crate::render::{extended_properties, owner_rights};
use crate::soap::T;
use crate::Request;
use umbox_base::version::ExchangeVersion;
use umbox_store::props::tags;
use umbox_store::Folder;
use umbox_xml::Writer;

/// The element type a folder is written as, from its class.
fn element_name(folder: &Folder) -> &'static str {
    if folder.is_search_folder {
        return "SearchFolder";
    }
    let class = folder
        .props
        .unicode(tags::CONTAINER_CLASS)
        .unwrap_or_default();
    let is = |base: &str| {
        class == base
            || class
                .strip_prefix(base)
                .is_some_and(|rest| rest.starts_with('.'))
    };
    if is("IPF.Appointment") {
        "CalendarFolder"
    } else if is("IPF.Contact") {
        "ContactsFolder"
    } else if is("IPF.Task") {
        "TasksFolder"
    } else {
        "Folder"
    }
}

/// Writes `folder` with `shape`.
pub(crate) fn folder(w: &mut Writer<'_>, request: &Request<'_>, folder: &Folder, shape: &Shape) {
    let name = element_name(folder);
    let all = shape.base == BaseShape::AllProperties;
    let default = all || shape.base == BaseShape::Default;
    let wants = |f: FieldUri| shape.wants(f);
    let ids = request.ctx.ids;
    w.start(T, name);
    w.start(T, "FolderId")
        .attribute("Id", &ids.folder(&request.mailbox, folder.id))
        .attribute(
            "ChangeKey",
            &ids.folder_change_key(&request.mailbox, folder.id, folder.change_key),
        )
        .end();
    if all || wants(FieldUri::FolderParentFolderId) {
        if let Some(parent) = folder.parent {
            // The parent's change key is optional in FolderIdType and not worth a second read.
            w.start(T, "ParentFolderId")
                .attribute("Id", &ids.folder(&request.mailbox, parent))
                .end();
        }
    }
    if all || wants(FieldUri::FolderClass) {
        if let Some(class) = folder.props.unicode(tags::CONTAINER_CLASS) {
            w.leaf(T, "FolderClass", class);
        }
    }
    if default || wants(FieldUri::FolderDisplayName) {
        w.leaf(
            T,
            "DisplayName",
            folder.props.unicode(tags::DISPLAY_NAME).unwrap_or_default(),
        );
    }
    if default || wants(FieldUri::FolderTotalCount) {
        w.leaf(T, "TotalCount", &folder.total_count.to_string());
    }
    if default || wants(FieldUri::FolderChildFolderCount) {
        w.leaf(
            T,
            "ChildFolderCount",
            &folder.child_folder_count.to_string(),
        );
    }
    let extended: Vec<_> = shape.extended().collect();
    extended_properties(w, request, &folder.props, &extended);
    if all || wants(FieldUri::FolderEffectiveRights) {
        owner_rights(w, request);
    }
    // The element exists from the Exchange2016 schema on (BaseFolderType, after EffectiveRights).
    if (all || wants(FieldUri::FolderDistinguishedFolderId))
        && request.version >= ExchangeVersion::Exchange2016
    {
        if let Some(which) = folder.distinguished {
            w.leaf(T, "DistinguishedFolderId", which.as_str());
        }
    }
    let has_unread = matches!(name, "Folder" | "SearchFolder" | "TasksFolder");
    if has_unread && (default || wants(FieldUri::FolderUnreadCount)) {
        w.leaf(T, "UnreadCount", &folder.unread_count.to_string());
    }
    w.end();
}
