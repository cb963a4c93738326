//! Folder operations (MS-OXWSFOLD, MS-OXWSSRCH): GetFolder, FindFolder, CreateFolder,
//! UpdateFolder, DeleteFolder, EmptyFolder, MoveFolder, CopyFolder. Every change goes through
//! `MailStore::apply`, which keeps TotalCount, UnreadCount and ChildFolderCount (the voicemail
//! folder's too) in step; a folder move or copy is one store change for the whole subtree.

use crate::codes::ResponseCode;
use crate::error::{Error, Fault};
use crate::fields::{
    parse_bool, parse_extended_property, parse_path, parse_shape, parse_value, BaseShape, BodyType,
    FieldUri, PropertyPath, Shape,
};
use crate::render::folder::folder as write_folder;
use crate::restriction::{Refusal, Restriction, Row, Target};
use crate::soap::{M, T};
use crate::view::{Page, FOLDER_VIEWS};
use crate::{child, response_message, Request};
use umbox_store::props::{tags, PropKey, PropValue};
use umbox_store::{Change, DistinguishedFolder, Folder, FolderId, Outcome, Traversal};
use umbox_xml::{ns, Element, Writer};

/// The shape of the folders CreateFolder and UpdateFolder answer with: the id and change key.
static ID_ONLY: Shape = Shape {
    base: BaseShape::IdOnly,
    additional: Vec::new(),
    include_mime_content: false,
    body_type: BodyType::Best,
};

/// Most ancestors followed when looking for Deleted Items above a folder; deeper trees are not
/// built by any client.
const MAX_DEPTH: usize = 256;

/// The ids listed under `container` (`FolderIds`, `ParentFolderIds`), in request order.
pub(crate) fn folder_ids<'e>(op: &'e Element, container: &str) -> Result<Vec<&'e Element>, Fault> {
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
            .map(|folder| folders_payload(request, folder, &shape));
        response_message(w, "GetFolderResponseMessage", result);
    }
    w.end().end();
    Ok(())
}

/// `m:Folders` holding one folder.
fn folders_payload<'s>(
    request: &'s Request<'_>,
    folder: Folder,
    shape: &'s Shape,
) -> impl FnOnce(&mut Writer<'_>) + 's {
    move |w: &mut Writer<'_>| {
        w.start(M, "Folders");
        write_folder(w, request, &folder, shape);
        w.end();
    }
}

/// FindFolder: Shallow or Deep traversal under each parent, with an optional restriction and
/// indexed or fractional paging.
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
    let page = Page::parse(op, FOLDER_VIEWS, request.ctx.limits.find_count)?;
    let ids = folder_ids(op, "ParentFolderIds")?;
    let restriction = match child(op, "Restriction")
        .map(|r| Restriction::parse(request, r, Target::Folders))
        .transpose()
    {
        Ok(restriction) => Ok(restriction),
        Err(Refusal::Fault(fault)) => return Err(fault),
        Err(Refusal::Error(code, message)) => Err((code, message)),
    };
    w.start(M, "FindFolderResponse")
        .start(M, "ResponseMessages");
    for id in ids {
        let result = restriction
            .as_ref()
            .map_err(|(code, message)| Error::new(*code, message.clone()))
            .and_then(|restriction| {
                let parent = request.folder_id(id)?;
                let mut folders =
                    request
                        .ctx
                        .store
                        .child_folders(&request.mailbox, parent, traversal)?;
                if let Some(restriction) = restriction {
                    folders.retain(|folder| restriction.matches(Row::Folder(folder)));
                }
                page.check(folders.len())?;
                Ok(folders)
            })
            .map(|folders| {
                let (shape, page) = (&shape, &page);
                move |w: &mut Writer<'_>| {
                    let (start, end) = page.window(folders.len());
                    w.start(M, "RootFolder");
                    page.root_attributes(w, folders.len());
                    w.start(T, "Folders");
                    for folder in folders.get(start..end).unwrap_or_default() {
                        write_folder(w, request, folder, shape);
                    }
                    w.end().end();
                }
            });
        response_message(w, "FindFolderResponseMessage", result);
    }
    w.end().end();
    Ok(())
}

/// The folder element types a client may create or update, with the class a new one gets when
/// the request names none (as Exchange does).
fn default_class(element: &Element) -> Result<Option<&'static str>, Fault> {
    if element.namespace() != ns::EWS_TYPES {
        return Err(Fault::schema(format!("{} is not a folder", element.name())));
    }
    Ok(match element.name() {
        "Folder" => Some("IPF.Note"),
        "CalendarFolder" => Some("IPF.Appointment"),
        "ContactsFolder" => Some("IPF.Contact"),
        "TasksFolder" => Some("IPF.Task"),
        "SearchFolder" => None,
        other => return Err(Fault::schema(format!("{other} is not a folder"))),
    })
}

/// The properties a folder element sets, in request order: DisplayName, FolderClass and extended
/// properties. Anything else in it is store-computed or not kept by umbox (ErrorInvalidPropertySet).
fn folder_properties(element: &Element) -> Result<Result<Vec<(PropKey, PropValue)>, Error>, Fault> {
    let mut props = Vec::new();
    for property in element.children() {
        if property.namespace() != ns::EWS_TYPES {
            return Err(Fault::schema(format!(
                "unexpected element {} in {}",
                property.name(),
                element.name()
            )));
        }
        match property.name() {
            "DisplayName" => props.push((
                tags::DISPLAY_NAME.into(),
                PropValue::Unicode(property.text().to_owned()),
            )),
            "FolderClass" => props.push((
                tags::CONTAINER_CLASS.into(),
                PropValue::Unicode(property.trimmed_text().to_owned()),
            )),
            "ExtendedProperty" => {
                let (field, texts) = parse_extended_property(property)?;
                let Some(value) = parse_value(field.prop_type, &texts) else {
                    return Ok(Err(Error::new(
                        ResponseCode::ErrorInvalidExtendedPropertyValue,
                        format!("{texts:?} does not fit the extended property's type"),
                    )));
                };
                props.push((field.prop_key(), value));
            }
            other => {
                return Ok(Err(Error::new(
                    ResponseCode::ErrorInvalidPropertySet,
                    format!("{other} cannot be set on a folder"),
                )))
            }
        }
    }
    Ok(Ok(props))
}

/// The one folder id inside `container` (`ParentFolderId`, `ToFolderId`: TargetFolderIdType).
fn target_folder_id<'e>(op: &'e Element, container: &str) -> Result<&'e Element, Fault> {
    let target = child(op, container)
        .ok_or_else(|| Fault::schema(format!("{} needs {container}", op.name())))?;
    let mut ids = target.children();
    match (ids.next(), ids.next()) {
        (Some(id), None) => Ok(id),
        _ => Err(Fault::schema(format!("{container} holds one folder id"))),
    }
}

/// CreateFolder: one response message per folder under `Folders`, all under one parent.
pub(crate) fn create_folder(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    let parent = target_folder_id(op, "ParentFolderId")?;
    let mut creations = Vec::new();
    for element in folder_ids(op, "Folders")? {
        let class = default_class(element)?;
        creations.push(folder_properties(element)?.and_then(|mut props| {
            let Some(class) = class else {
                return Err(Error::new(
                    ResponseCode::ErrorInvalidRequest,
                    "umbox does not create search folders",
                ));
            };
            let named = |key: PropKey| props.iter().any(|(k, _)| *k == key);
            if !named(tags::DISPLAY_NAME.into()) {
                return Err(Error::new(
                    ResponseCode::ErrorInvalidRequest,
                    "a new folder needs a DisplayName",
                ));
            }
            if !named(tags::CONTAINER_CLASS.into()) {
                props.push((
                    tags::CONTAINER_CLASS.into(),
                    PropValue::Unicode(class.to_owned()),
                ));
            }
            Ok(props)
        }));
    }
    w.start(M, "CreateFolderResponse")
        .start(M, "ResponseMessages");
    for props in creations {
        let result = props.and_then(|props| {
            let parent = request.folder_id(parent)?;
            // The store refuses too; checked here to answer with a code that fits creation.
            if request
                .ctx
                .store
                .folder(&request.mailbox, parent)?
                .is_search_folder
            {
                return Err(Error::new(
                    ResponseCode::ErrorInvalidOperation,
                    "a search folder holds no subfolders",
                ));
            }
            let committed = request.ctx.store.apply(
                &request.mailbox,
                Change::CreateFolder { parent, props },
                request.ctx.now,
            )?;
            reread(request, &committed.outcome)
        });
        response_message(
            w,
            "CreateFolderResponseMessage",
            result.map(|folder| folders_payload(request, folder, &ID_ONLY)),
        );
    }
    w.end().end();
    Ok(())
}

/// The folder a folder change committed, read back for its element type.
fn reread(request: &Request<'_>, outcome: &Outcome) -> Result<Folder, Error> {
    match outcome {
        Outcome::Folder { folder, .. } => {
            Ok(request.ctx.store.folder(&request.mailbox, *folder)?)
        }
        other => Err(Error::new(
            ResponseCode::ErrorInternalServerError,
            format!("the store answered a folder change with {other:?}"),
        )),
    }
}

/// The properties one `FolderChange` sets and deletes.
#[derive(Debug, Default)]
struct Updates {
    set: Vec<(PropKey, PropValue)>,
    delete: Vec<PropKey>,
    /// DeleteFolderField on `folder:DistinguishedFolderId`: fine for an ordinary folder, which has
    /// no such name; a distinguished folder keeps its name.
    clears_distinguished_name: bool,
}

/// The key a path names for UpdateFolder: DisplayName, FolderClass or an extended property.
fn updatable_key(path: &PropertyPath) -> Result<PropKey, Error> {
    match path {
        PropertyPath::Field(FieldUri::FolderDisplayName) => Ok(tags::DISPLAY_NAME.into()),
        PropertyPath::Field(FieldUri::FolderClass) => Ok(tags::CONTAINER_CLASS.into()),
        PropertyPath::Extended(field) => Ok(field.prop_key()),
        PropertyPath::Field(field) => Err(Error::new(
            ResponseCode::ErrorInvalidPropertySet,
            format!("{} cannot be changed", field.as_str()),
        )),
        PropertyPath::Indexed(field) => Err(Error::new(
            ResponseCode::ErrorInvalidPropertySet,
            format!("{} cannot be changed", field.uri),
        )),
    }
}

/// Reads the `t:Updates` of one `FolderChange`.
fn parse_updates(updates: &Element) -> Result<Result<Updates, Error>, Fault> {
    if updates.children().next().is_none() {
        return Err(Fault::schema("Updates holds at least one update"));
    }
    let mut out = Updates::default();
    let mut refusal = None;
    for update in updates.children() {
        let mut parts = update.children();
        let path =
            parse_path(parts.next().ok_or_else(|| {
                Fault::schema(format!("{} needs a property path", update.name()))
            })?)?;
        let key = updatable_key(&path);
        match (update.name(), parts.next(), parts.next()) {
            ("SetFolderField", Some(folder), None) => {
                default_class(folder)?;
                let props = folder_properties(folder)?;
                let value = key.and_then(|key| {
                    let props = props?;
                    props.into_iter().find(|(k, _)| *k == key).ok_or_else(|| {
                        Error::new(
                            ResponseCode::ErrorInvalidRequest,
                            "SetFolderField holds no value for its path",
                        )
                    })
                });
                match value {
                    Ok(pair) => out.set.push(pair),
                    Err(error) => refusal = refusal.or(Some(error)),
                }
            }
            // umbox keeps no permission set, so there is none to clear (exchangelib clears every
            // field it has no value for).
            ("DeleteFolderField", None, None)
                if path == PropertyPath::Field(FieldUri::FolderPermissionSet) => {}
            ("DeleteFolderField", None, None)
                if path == PropertyPath::Field(FieldUri::FolderDistinguishedFolderId) =>
            {
                out.clears_distinguished_name = true
            }
            ("DeleteFolderField", None, None) => match key {
                Ok(key) if key == PropKey::from(tags::DISPLAY_NAME) => {
                    refusal = refusal.or(Some(Error::new(
                        ResponseCode::ErrorInvalidPropertyDelete,
                        "a folder keeps its DisplayName",
                    )))
                }
                Ok(key) => out.delete.push(key),
                Err(error) => refusal = refusal.or(Some(error)),
            },
            ("AppendToFolderField", Some(_), None) => {
                refusal = refusal.or(Some(Error::new(
                    ResponseCode::ErrorInvalidPropertyAppend,
                    "folder properties cannot be appended to",
                )))
            }
            (other, _, _) => {
                return Err(Fault::schema(format!(
                    "{other} is not a folder update with valid children"
                )))
            }
        }
    }
    Ok(refusal.map_or(Ok(out), Err))
}

/// UpdateFolder: one response message per `FolderChange`.
pub(crate) fn update_folder(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    let mut changes = Vec::new();
    for change in folder_ids(op, "FolderChanges")? {
        let mut parts = change.children();
        let (Some(id), Some(updates), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Fault::schema("FolderChange holds a folder id and Updates"));
        };
        if !change.is(ns::EWS_TYPES, "FolderChange") || !updates.is(ns::EWS_TYPES, "Updates") {
            return Err(Fault::schema(
                "FolderChanges holds FolderChange elements with Updates",
            ));
        }
        changes.push((id, parse_updates(updates)?));
    }
    w.start(M, "UpdateFolderResponse")
        .start(M, "ResponseMessages");
    for (id, updates) in changes {
        let result = updates.and_then(|updates| {
            let folder = request.folder_id(id)?;
            let store = request.ctx.store;
            if updates.clears_distinguished_name {
                if let Some(which) = store.folder(&request.mailbox, folder)?.distinguished {
                    return Err(Error::new(
                        ResponseCode::ErrorInvalidPropertyDelete,
                        format!("the folder {} keeps its distinguished name", which.as_str()),
                    ));
                }
            }
            if updates.set.is_empty() && updates.delete.is_empty() {
                return Ok(store.folder(&request.mailbox, folder)?);
            }
            let change = Change::UpdateFolder {
                folder,
                set: updates.set,
                delete: updates.delete,
            };
            let committed = store.apply(&request.mailbox, change, request.ctx.now)?;
            reread(request, &committed.outcome)
        });
        response_message(
            w,
            "UpdateFolderResponseMessage",
            result.map(|folder| folders_payload(request, folder, &ID_ONLY)),
        );
    }
    w.end().end();
    Ok(())
}

/// `DisposalType` (MS-OXWSCDATA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposal {
    HardDelete,
    /// umbox keeps no dumpster of recoverable items, so a soft delete is a hard one.
    SoftDelete,
    MoveToDeletedItems,
}

fn disposal(op: &Element) -> Result<Disposal, Fault> {
    match op.attribute("", "DeleteType") {
        Some("HardDelete") => Ok(Disposal::HardDelete),
        Some("SoftDelete") => Ok(Disposal::SoftDelete),
        Some("MoveToDeletedItems") => Ok(Disposal::MoveToDeletedItems),
        other => Err(Fault::schema(format!(
            "DeleteType {other:?} must be HardDelete, SoftDelete or MoveToDeletedItems"
        ))),
    }
}

/// Whether `folder` is Deleted Items or lies below it, where moving to Deleted Items means
/// deleting (as Exchange does for items already there).
fn in_deleted_items(request: &Request<'_>, folder: &Folder) -> Result<bool, Error> {
    let deleted = request
        .ctx
        .store
        .distinguished_folder(&request.mailbox, DistinguishedFolder::DeletedItems)?;
    let mut current = Some(folder.id);
    let mut parent = folder.parent;
    for _ in 0..MAX_DEPTH {
        if current == Some(deleted) {
            return Ok(true);
        }
        let Some(next) = parent else { return Ok(false) };
        current = Some(next);
        parent = request.ctx.store.folder(&request.mailbox, next)?.parent;
    }
    Ok(false)
}

/// Moves `folder` with its subtree under Deleted Items, as one store change.
fn move_to_deleted_items(request: &Request<'_>, folder: FolderId) -> Result<(), Error> {
    let store = request.ctx.store;
    let to = store.distinguished_folder(&request.mailbox, DistinguishedFolder::DeletedItems)?;
    store.apply(
        &request.mailbox,
        Change::MoveFolder { folder, to },
        request.ctx.now,
    )?;
    Ok(())
}

/// DeleteFolder: one response message per folder. Distinguished folders are refused;
/// MoveToDeletedItems moves the folder under Deleted Items, or deletes it if it is there already.
pub(crate) fn delete_folder(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    let disposal = disposal(op)?;
    let ids = folder_ids(op, "FolderIds")?;
    w.start(M, "DeleteFolderResponse")
        .start(M, "ResponseMessages");
    for id in ids {
        let result = request.folder_id(id).and_then(|folder| {
            let folder = request.ctx.store.folder(&request.mailbox, folder)?;
            if let Some(which) = folder.distinguished {
                return Err(Error::new(
                    ResponseCode::ErrorDeleteDistinguishedFolder,
                    format!(
                        "the distinguished folder {} cannot be deleted",
                        which.as_str()
                    ),
                ));
            }
            if disposal == Disposal::MoveToDeletedItems && !in_deleted_items(request, &folder)? {
                move_to_deleted_items(request, folder.id)?;
            } else {
                request.ctx.store.apply(
                    &request.mailbox,
                    Change::DeleteFolder { folder: folder.id },
                    request.ctx.now,
                )?;
            }
            Ok(|_: &mut Writer<'_>| {})
        });
        response_message(w, "DeleteFolderResponseMessage", result);
    }
    w.end().end();
    Ok(())
}

/// EmptyFolder: deletes the items of each folder, and with DeleteSubFolders its subfolders.
pub(crate) fn empty_folder(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    let disposal = disposal(op)?;
    let delete_subfolders = parse_bool(
        op.attribute("", "DeleteSubFolders")
            .ok_or_else(|| Fault::schema("EmptyFolder needs DeleteSubFolders"))?,
    )?;
    let ids = folder_ids(op, "FolderIds")?;
    w.start(M, "EmptyFolderResponse")
        .start(M, "ResponseMessages");
    for id in ids {
        let result = request.folder_id(id).and_then(|folder| {
            empty(request, folder, disposal, delete_subfolders)?;
            Ok(|_: &mut Writer<'_>| {})
        });
        response_message(w, "EmptyFolderResponseMessage", result);
    }
    w.end().end();
    Ok(())
}

fn empty(
    request: &Request<'_>,
    folder: FolderId,
    disposal: Disposal,
    delete_subfolders: bool,
) -> Result<(), Error> {
    let store = request.ctx.store;
    let folder = store.folder(&request.mailbox, folder)?;
    if folder.is_search_folder {
        return Err(Error::new(
            ResponseCode::ErrorCannotEmptyFolder,
            "a search folder lists items of other folders; delete them there",
        ));
    }
    let children = if delete_subfolders {
        let children = store.child_folders(&request.mailbox, folder.id, Traversal::Shallow)?;
        if let Some(which) = children.iter().find_map(|child| child.distinguished) {
            return Err(Error::new(
                ResponseCode::ErrorCannotEmptyFolder,
                format!(
                    "the folder holds the distinguished folder {}",
                    which.as_str()
                ),
            ));
        }
        children
    } else {
        Vec::new()
    };
    if disposal == Disposal::MoveToDeletedItems && !in_deleted_items(request, &folder)? {
        let deleted =
            store.distinguished_folder(&request.mailbox, DistinguishedFolder::DeletedItems)?;
        // One change per item and per subfolder (with its subtree), as a client moving them one
        // by one would; a failure (a subfolder name Deleted Items already has) leaves what moved
        // so far in Deleted Items.
        for item in store.items(&request.mailbox, folder.id)? {
            store.apply(
                &request.mailbox,
                Change::MoveItem {
                    item: item.id,
                    to: deleted,
                },
                request.ctx.now,
            )?;
        }
        for child in children {
            move_to_deleted_items(request, child.id)?;
        }
        return Ok(());
    }
    store.apply(
        &request.mailbox,
        Change::EmptyFolder {
            folder: folder.id,
            delete_subfolders,
        },
        request.ctx.now,
    )?;
    Ok(())
}

/// MoveFolder: one response message per folder, with its id and new change key. Distinguished
/// folders stay (ErrorMoveDistinguishedFolder).
pub(crate) fn move_folder(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    relocate(request, op, w, false)
}

/// CopyFolder: one response message per folder, with the id of its copy; the subfolders, items
/// and attachments are copied too, under new ids.
pub(crate) fn copy_folder(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    relocate(request, op, w, true)
}

/// MoveFolder and CopyFolder (MS-OXWSFOLD BaseMoveCopyFolderType: ToFolderId, FolderIds).
fn relocate(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
    copy: bool,
) -> Result<(), Fault> {
    let (response, message) = if copy {
        ("CopyFolderResponse", "CopyFolderResponseMessage")
    } else {
        ("MoveFolderResponse", "MoveFolderResponseMessage")
    };
    let target = target_folder_id(op, "ToFolderId")?;
    let ids = folder_ids(op, "FolderIds")?;
    w.start(M, response).start(M, "ResponseMessages");
    for id in ids {
        let result = request.folder_id(id).and_then(|folder| {
            let to = request.folder_id(target)?;
            let store = request.ctx.store;
            let change = if copy {
                Change::CopyFolder { folder, to }
            } else {
                if let Some(which) = store.folder(&request.mailbox, folder)?.distinguished {
                    return Err(Error::new(
                        ResponseCode::ErrorMoveDistinguishedFolder,
                        format!(
                            "the distinguished folder {} cannot be moved",
                            which.as_str()
                        ),
                    ));
                }
                Change::MoveFolder { folder, to }
            };
            let committed = store.apply(&request.mailbox, change, request.ctx.now)?;
            reread(request, &committed.outcome)
        });
        response_message(
            w,
            message,
            result.map(|folder| folders_payload(request, folder, &ID_ONLY)),
        );
    }
    w.end().end();
    Ok(())
}
