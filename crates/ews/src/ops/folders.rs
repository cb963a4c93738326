//! Folder operations (MS-OXWSFOLD, MS-OXWSSRCH): GetFolder, FindFolder, CreateFolder,
//! UpdateFolder, DeleteFolder, EmptyFolder, MoveFolder, CopyFolder. Every change goes through
//! `MailStore::apply`, which keeps TotalCount, UnreadCount and ChildFolderCount (the voicemail
//! folder's too) in step; a folder move or copy is one store change for the whole subtree.

use super::EwsOperation;
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

/// The shape of the folders CreateFolder, UpdateFolder, MoveFolder and CopyFolder answer with:
/// the id and change key.
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

/// The folder ids listed under `container`, each resolved for this request's mailbox; one that
/// does not resolve is kept as its entry's error.
fn open_folder_ids(
    request: &Request<'_>,
    op: &Element,
    container: &str,
) -> Result<Vec<Result<FolderId, Error>>, Fault> {
    Ok(folder_ids(op, container)?
        .into_iter()
        .map(|id| request.folder_id(id))
        .collect())
}

/// The one folder id inside `container` (`ParentFolderId`, `ToFolderId`: TargetFolderIdType),
/// resolved for this request's mailbox.
fn target_folder_id(
    request: &Request<'_>,
    op: &Element,
    container: &str,
) -> Result<Result<FolderId, Error>, Fault> {
    let target = child(op, container)
        .ok_or_else(|| Fault::schema(format!("{} needs {container}", op.name())))?;
    let mut ids = target.children();
    match (ids.next(), ids.next()) {
        (Some(id), None) => Ok(request.folder_id(id)),
        _ => Err(Fault::schema(format!("{container} holds one folder id"))),
    }
}

/// The `FolderShape` of `op`.
fn folder_shape(op: &Element) -> Result<Shape, Fault> {
    parse_shape(
        child(op, "FolderShape")
            .ok_or_else(|| Fault::schema(format!("{} needs FolderShape", op.name())))?,
    )
}

/// The element names of one operation's answer: the response and each of its messages.
#[derive(Debug, Clone, Copy)]
struct Answer {
    /// `m:…Response`.
    response: &'static str,
    /// `m:…ResponseMessage`, one per entry.
    message: &'static str,
}

/// Writes one response message per folder result; each success holds `m:Folders` with the
/// folder in `shape`.
fn write_folder_messages(
    w: &mut Writer<'_>,
    request: &Request<'_>,
    answer: Answer,
    folders: &[Result<Folder, Error>],
    shape: &Shape,
) {
    w.start(M, answer.response).start(M, "ResponseMessages");
    for result in folders {
        let payload = result.as_ref().map(|folder| {
            move |w: &mut Writer<'_>| {
                w.start(M, "Folders");
                write_folder(w, request, folder, shape);
                w.end();
            }
        });
        response_message(w, answer.message, payload);
    }
    w.end().end();
}

/// Writes one response message per entry; a success carries nothing beyond its code.
fn write_bare_messages(w: &mut Writer<'_>, answer: Answer, entries: &[Result<(), Error>]) {
    w.start(M, answer.response).start(M, "ResponseMessages");
    for result in entries {
        response_message(
            w,
            answer.message,
            result.as_ref().map(|()| |_: &mut Writer<'_>| {}),
        );
    }
    w.end().end();
}

/// Each folder as a change left it (read back for its element type), or why the change was
/// refused: the answer of CreateFolder, UpdateFolder, MoveFolder and CopyFolder.
pub(crate) struct ChangedFolders {
    folders: Vec<Result<Folder, Error>>,
}

impl ChangedFolders {
    /// Writes the folders' ids and change keys.
    fn write(&self, request: &Request<'_>, w: &mut Writer<'_>, answer: Answer) {
        write_folder_messages(w, request, answer, &self.folders, &ID_ONLY);
    }
}

/// Whether each folder's change was made, or why not: the answer of DeleteFolder and EmptyFolder.
pub(crate) struct Completed {
    entries: Vec<Result<(), Error>>,
}

/// The folder a folder change committed, read back for its element type.
fn reread(request: &Request<'_>, outcome: &Outcome) -> Result<Folder, Error> {
    match outcome {
        Outcome::Folder { folder, .. } => {
            Ok(request.ctx.store.folder(&request.mailbox, *folder)?)
        }
        other => Err(Error::unexpected_outcome(other)),
    }
}

/// Applies `change` to this request's mailbox and reads back the folder it committed.
fn apply_and_reread(request: &Request<'_>, change: Change) -> Result<Folder, Error> {
    let committed = request
        .ctx
        .store
        .apply(&request.mailbox, change, request.ctx.now)?;
    reread(request, &committed.outcome)
}

/// GetFolder: one response message per requested folder.
#[derive(Debug)]
pub(crate) struct GetFolder {
    /// Which properties each folder is written with.
    pub(crate) shape: Shape,
    /// The requested folders, in request order.
    pub(crate) ids: Vec<Result<FolderId, Error>>,
}

/// Each requested folder as read, or why not.
pub(crate) struct GetFolderResponse {
    shape: Shape,
    folders: Vec<Result<Folder, Error>>,
}

impl EwsOperation for GetFolder {
    type Response = GetFolderResponse;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        Ok(GetFolder {
            shape: folder_shape(op)?,
            ids: open_folder_ids(request, op, "FolderIds")?,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<GetFolderResponse, Fault> {
        let folders = self
            .ids
            .into_iter()
            .map(|folder| Ok(request.ctx.store.folder(&request.mailbox, folder?)?))
            .collect();
        Ok(GetFolderResponse {
            shape: self.shape,
            folders,
        })
    }

    fn write(response: &GetFolderResponse, request: &Request<'_>, w: &mut Writer<'_>) {
        let answer = Answer {
            response: "GetFolderResponse",
            message: "GetFolderResponseMessage",
        };
        write_folder_messages(w, request, answer, &response.folders, &response.shape);
    }
}

/// FindFolder: Shallow or Deep traversal under each parent, with an optional restriction and
/// indexed or fractional paging.
#[derive(Debug)]
pub(crate) struct FindFolder {
    /// How far below each parent to look.
    pub(crate) traversal: Traversal,
    /// Which properties each folder is written with.
    pub(crate) shape: Shape,
    /// Which page of the matching folders is answered.
    pub(crate) page: Page,
    /// The folders to keep, if the request restricts them; a restriction umbox cannot evaluate
    /// fails every parent's message alike.
    pub(crate) restriction: Result<Option<Restriction>, Error>,
    /// The parents looked under, in request order.
    pub(crate) parents: Vec<Result<FolderId, Error>>,
}

/// One parent's page of the folders found under it.
#[derive(Debug)]
pub(crate) struct FoundFolders {
    /// How many folders matched (TotalItemsInView), in every page.
    total: usize,
    /// The folders of the requested page, in store order.
    page: Vec<Folder>,
}

/// Each parent's page of matching folders, or why the search failed there.
pub(crate) struct FindFolderResponse {
    shape: Shape,
    page: Page,
    found: Vec<Result<FoundFolders, Error>>,
}

impl EwsOperation for FindFolder {
    type Response = FindFolderResponse;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
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
        let parents = open_folder_ids(request, op, "ParentFolderIds")?;
        let restriction = match child(op, "Restriction")
            .map(|r| Restriction::parse(request, r, Target::Folders))
            .transpose()
        {
            Ok(restriction) => Ok(restriction),
            Err(Refusal::Fault(fault)) => return Err(fault),
            Err(Refusal::Error(code, message)) => Err(Error::new(code, message)),
        };
        Ok(FindFolder {
            traversal,
            shape,
            page,
            restriction,
            parents,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<FindFolderResponse, Fault> {
        let found = self
            .parents
            .into_iter()
            .map(|parent| {
                let restriction = self.restriction.as_ref().map_err(Error::again)?;
                let mut folders =
                    request
                        .ctx
                        .store
                        .child_folders(&request.mailbox, parent?, self.traversal)?;
                if let Some(restriction) = restriction {
                    folders.retain(|folder| restriction.matches(Row::Folder(folder)));
                }
                let total = folders.len();
                self.page.check(total)?;
                let (start, end) = self.page.window(total);
                let page = folders.into_iter().take(end).skip(start).collect();
                Ok(FoundFolders { total, page })
            })
            .collect();
        Ok(FindFolderResponse {
            shape: self.shape,
            page: self.page,
            found,
        })
    }

    fn write(response: &FindFolderResponse, request: &Request<'_>, w: &mut Writer<'_>) {
        w.start(M, "FindFolderResponse")
            .start(M, "ResponseMessages");
        for result in &response.found {
            let payload = result.as_ref().map(|found| {
                move |w: &mut Writer<'_>| {
                    w.start(M, "RootFolder");
                    response.page.root_attributes(w, found.total);
                    w.start(T, "Folders");
                    for folder in &found.page {
                        write_folder(w, request, folder, &response.shape);
                    }
                    w.end().end();
                }
            });
            response_message(w, "FindFolderResponseMessage", payload);
        }
        w.end().end();
    }
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

/// The properties of one folder to create: those its element sets, plus the class its element
/// type implies when it names none. A search folder, or a folder without a DisplayName, is
/// refused.
fn new_folder_properties(
    element: &Element,
) -> Result<Result<Vec<(PropKey, PropValue)>, Error>, Fault> {
    let class = default_class(element)?;
    Ok(folder_properties(element)?.and_then(|mut props| {
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
    }))
}

/// CreateFolder: one response message per folder under `Folders`, all under one parent.
#[derive(Debug)]
pub(crate) struct CreateFolder {
    /// The parent every new folder goes under.
    pub(crate) parent: Result<FolderId, Error>,
    /// The properties of each new folder, in request order.
    pub(crate) folders: Vec<Result<Vec<(PropKey, PropValue)>, Error>>,
}

impl EwsOperation for CreateFolder {
    type Response = ChangedFolders;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        let parent = target_folder_id(request, op, "ParentFolderId")?;
        let folders = folder_ids(op, "Folders")?
            .into_iter()
            .map(new_folder_properties)
            .collect::<Result<_, _>>()?;
        Ok(CreateFolder { parent, folders })
    }

    fn run(self, request: &Request<'_>) -> Result<ChangedFolders, Fault> {
        let folders = self
            .folders
            .into_iter()
            .map(|props| {
                let props = props?;
                let parent = self.parent.as_ref().map_err(Error::again).copied()?;
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
                apply_and_reread(request, Change::CreateFolder { parent, props })
            })
            .collect();
        Ok(ChangedFolders { folders })
    }

    fn write(response: &ChangedFolders, request: &Request<'_>, w: &mut Writer<'_>) {
        let answer = Answer {
            response: "CreateFolderResponse",
            message: "CreateFolderResponseMessage",
        };
        response.write(request, w, answer);
    }
}

/// The properties one `FolderChange` sets and deletes.
#[derive(Debug, Default)]
pub(crate) struct Updates {
    /// The properties set, in request order.
    pub(crate) set: Vec<(PropKey, PropValue)>,
    /// The properties deleted.
    pub(crate) delete: Vec<PropKey>,
    /// DeleteFolderField on `folder:DistinguishedFolderId`: fine for an ordinary folder, which has
    /// no such name; a distinguished folder keeps its name.
    pub(crate) clears_distinguished_name: bool,
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

/// One `FolderChange`: the folder and what changes on it.
#[derive(Debug)]
pub(crate) struct FolderChange {
    /// The folder changed.
    pub(crate) folder: Result<FolderId, Error>,
    /// What it sets and deletes.
    pub(crate) updates: Result<Updates, Error>,
}

/// UpdateFolder: one response message per `FolderChange`.
#[derive(Debug)]
pub(crate) struct UpdateFolder {
    /// The changes, in request order.
    pub(crate) changes: Vec<FolderChange>,
}

impl EwsOperation for UpdateFolder {
    type Response = ChangedFolders;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
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
            changes.push(FolderChange {
                updates: parse_updates(updates)?,
                folder: request.folder_id(id),
            });
        }
        Ok(UpdateFolder { changes })
    }

    fn run(self, request: &Request<'_>) -> Result<ChangedFolders, Fault> {
        let store = request.ctx.store;
        let folders = self
            .changes
            .into_iter()
            .map(|change| {
                let updates = change.updates?;
                let folder = change.folder?;
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
                apply_and_reread(request, change)
            })
            .collect();
        Ok(ChangedFolders { folders })
    }

    fn write(response: &ChangedFolders, request: &Request<'_>, w: &mut Writer<'_>) {
        let answer = Answer {
            response: "UpdateFolderResponse",
            message: "UpdateFolderResponseMessage",
        };
        response.write(request, w, answer);
    }
}

/// `DisposalType` (MS-OXWSCDATA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposal {
    /// Gone for good.
    HardDelete,
    /// umbox keeps no dumpster of recoverable items, so a soft delete is a hard one.
    SoftDelete,
    /// Into Deleted Items; for what is there already, gone for good.
    MoveToDeletedItems,
}

/// The `DeleteType` attribute of `op`.
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
#[derive(Debug)]
pub(crate) struct DeleteFolder {
    /// Where the folders go.
    pub(crate) disposal: Disposal,
    /// The folders deleted, in request order.
    pub(crate) ids: Vec<Result<FolderId, Error>>,
}

impl EwsOperation for DeleteFolder {
    type Response = Completed;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        Ok(DeleteFolder {
            disposal: disposal(op)?,
            ids: open_folder_ids(request, op, "FolderIds")?,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<Completed, Fault> {
        let entries = self
            .ids
            .into_iter()
            .map(|folder| delete(request, folder?, self.disposal))
            .collect();
        Ok(Completed { entries })
    }

    fn write(response: &Completed, _: &Request<'_>, w: &mut Writer<'_>) {
        let answer = Answer {
            response: "DeleteFolderResponse",
            message: "DeleteFolderResponseMessage",
        };
        write_bare_messages(w, answer, &response.entries);
    }
}

/// Deletes one folder of DeleteFolder.
fn delete(request: &Request<'_>, folder: FolderId, disposal: Disposal) -> Result<(), Error> {
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
        return move_to_deleted_items(request, folder.id);
    }
    request.ctx.store.apply(
        &request.mailbox,
        Change::DeleteFolder { folder: folder.id },
        request.ctx.now,
    )?;
    Ok(())
}

/// EmptyFolder: deletes the items of each folder, and with DeleteSubFolders its subfolders.
#[derive(Debug)]
pub(crate) struct EmptyFolder {
    /// Where the items and subfolders go.
    pub(crate) disposal: Disposal,
    /// Whether the subfolders go too.
    pub(crate) delete_subfolders: bool,
    /// The folders emptied, in request order.
    pub(crate) ids: Vec<Result<FolderId, Error>>,
}

impl EwsOperation for EmptyFolder {
    type Response = Completed;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        let disposal = disposal(op)?;
        let delete_subfolders = parse_bool(
            op.attribute("", "DeleteSubFolders")
                .ok_or_else(|| Fault::schema("EmptyFolder needs DeleteSubFolders"))?,
        )?;
        Ok(EmptyFolder {
            disposal,
            delete_subfolders,
            ids: open_folder_ids(request, op, "FolderIds")?,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<Completed, Fault> {
        let entries = self
            .ids
            .into_iter()
            .map(|folder| empty(request, folder?, self.disposal, self.delete_subfolders))
            .collect();
        Ok(Completed { entries })
    }

    fn write(response: &Completed, _: &Request<'_>, w: &mut Writer<'_>) {
        let answer = Answer {
            response: "EmptyFolderResponse",
            message: "EmptyFolderResponseMessage",
        };
        write_bare_messages(w, answer, &response.entries);
    }
}

/// Empties one folder of EmptyFolder.
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

/// MoveFolder and CopyFolder (MS-OXWSFOLD BaseMoveCopyFolderType): the folders, each with its
/// subtree, and the folder they go under.
#[derive(Debug)]
pub(crate) struct FolderTransfer {
    /// The folder they go under.
    pub(crate) to: Result<FolderId, Error>,
    /// The folders moved or copied, in request order.
    pub(crate) folders: Vec<Result<FolderId, Error>>,
}

/// What a [`FolderTransfer`] does with each folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transfer {
    /// The folder keeps its id; distinguished folders stay.
    Move,
    /// The folder, its subfolders, items and attachments are copied under new ids.
    Copy,
}

impl FolderTransfer {
    /// Reads `ToFolderId` and `FolderIds`.
    fn parse(request: &Request<'_>, op: &Element) -> Result<FolderTransfer, Fault> {
        Ok(FolderTransfer {
            to: target_folder_id(request, op, "ToFolderId")?,
            folders: open_folder_ids(request, op, "FolderIds")?,
        })
    }

    /// Moves or copies each folder under `to`.
    fn run(self, request: &Request<'_>, transfer: Transfer) -> ChangedFolders {
        let folders = self
            .folders
            .into_iter()
            .map(|folder| {
                let folder = folder?;
                let to = self.to.as_ref().map_err(Error::again).copied()?;
                let change = match transfer {
                    Transfer::Copy => Change::CopyFolder { folder, to },
                    Transfer::Move => {
                        let moved = request.ctx.store.folder(&request.mailbox, folder)?;
                        if let Some(which) = moved.distinguished {
                            return Err(Error::new(
                                ResponseCode::ErrorMoveDistinguishedFolder,
                                format!(
                                    "the distinguished folder {} cannot be moved",
                                    which.as_str()
                                ),
                            ));
                        }
                        Change::MoveFolder { folder, to }
                    }
                };
                apply_and_reread(request, change)
            })
            .collect();
        ChangedFolders { folders }
    }
}

/// MoveFolder: one response message per folder, with its id and new change key. Distinguished
/// folders stay (ErrorMoveDistinguishedFolder).
#[derive(Debug)]
pub(crate) struct MoveFolder(pub(crate) FolderTransfer);

impl EwsOperation for MoveFolder {
    type Response = ChangedFolders;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        FolderTransfer::parse(request, op).map(MoveFolder)
    }

    fn run(self, request: &Request<'_>) -> Result<ChangedFolders, Fault> {
        Ok(self.0.run(request, Transfer::Move))
    }

    fn write(response: &ChangedFolders, request: &Request<'_>, w: &mut Writer<'_>) {
        let answer = Answer {
            response: "MoveFolderResponse",
            message: "MoveFolderResponseMessage",
        };
        response.write(request, w, answer);
    }
}

/// CopyFolder: one response message per folder, with the id of its copy; the subfolders, items
/// and attachments are copied too, under new ids.
#[derive(Debug)]
pub(crate) struct CopyFolder(pub(crate) FolderTransfer);

impl EwsOperation for CopyFolder {
    type Response = ChangedFolders;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        FolderTransfer::parse(request, op).map(CopyFolder)
    }

    fn run(self, request: &Request<'_>) -> Result<ChangedFolders, Fault> {
        Ok(self.0.run(request, Transfer::Copy))
    }

    fn write(response: &ChangedFolders, request: &Request<'_>, w: &mut Writer<'_>) {
        let answer = Answer {
            response: "CopyFolderResponse",
            message: "CopyFolderResponseMessage",
        };
        response.write(request, w, answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testkit::Kit;
    use umbox_store::{DistinguishedFolder as D, MailStore};

    const ALICE: &str = "alice@example.test";

    fn refused() -> Error {
        Error::new(ResponseCode::ErrorInvalidRequest, "refused in parse")
    }

    /// The code each entry is answered with.
    fn codes<T>(results: &[Result<T, Error>]) -> Vec<ResponseCode> {
        results
            .iter()
            .map(|result| match result {
                Ok(_) => ResponseCode::NoError,
                Err(error) => error.response_code(),
            })
            .collect()
    }

    fn named(name: &str) -> Vec<(PropKey, PropValue)> {
        vec![
            (
                tags::DISPLAY_NAME.into(),
                PropValue::Unicode(name.to_owned()),
            ),
            (
                tags::CONTAINER_CLASS.into(),
                PropValue::Unicode("IPF.Note".to_owned()),
            ),
        ]
    }

    fn display_name(folder: &Folder) -> &str {
        folder.props.unicode(tags::DISPLAY_NAME).unwrap_or_default()
    }

    /// A page of every match, at most `limit` of them. A `Page` is only made by parsing (its
    /// fields belong to `view`), so from an operation element that names no paged view.
    fn every_match(limit: usize) -> Page {
        let op = umbox_xml::parse(b"<FindFolder/>", &umbox_xml::Limits::DEFAULT).unwrap();
        Page::parse(&op, FOLDER_VIEWS, limit).unwrap()
    }

    #[test]
    fn get_folder_answers_each_id_on_its_own() {
        let kit = Kit::new();
        let request = kit.request(ALICE);
        let inbox = kit.folder(ALICE, D::Inbox);

        let folders = GetFolder {
            shape: ID_ONLY.clone(),
            ids: vec![Ok(inbox), Err(refused()), Ok(FolderId(999_999))],
        }
        .run(&request)
        .unwrap()
        .folders;
        assert_eq!(
            codes(&folders),
            [
                ResponseCode::NoError,
                ResponseCode::ErrorInvalidRequest,
                ResponseCode::ErrorFolderNotFound
            ]
        );
        let folder = folders[0].as_ref().unwrap();
        assert_eq!(folder.id, inbox);
        assert_eq!(folder.distinguished, Some(D::Inbox));
    }

    #[test]
    fn find_folder_pages_each_parent_and_repeats_a_refused_restriction() {
        let mut kit = Kit::new();
        kit.limits.find_count = 1;
        let request = kit.request(ALICE);
        let inbox = kit.folder(ALICE, D::Inbox);
        let projects = kit.new_subfolder(inbox, "Projects");
        let old = kit.new_subfolder(projects, "Old");
        kit.new_subfolder(projects, "New");

        let find = |traversal, restriction, parents| FindFolder {
            traversal,
            shape: ID_ONLY.clone(),
            page: every_match(request.ctx.limits.find_count),
            restriction,
            parents,
        };
        let found = find(
            Traversal::Shallow,
            Ok(None),
            vec![Ok(inbox), Ok(projects), Err(refused())],
        )
        .run(&request)
        .unwrap()
        .found;
        assert_eq!(
            codes(&found),
            [
                ResponseCode::NoError,
                ResponseCode::ErrorExceededFindCountLimit,
                ResponseCode::ErrorInvalidRequest
            ],
            "two subfolders are more than the find count limit of one"
        );
        let under_inbox = found[0].as_ref().unwrap();
        assert_eq!(under_inbox.total, 1);
        let ids: Vec<FolderId> = under_inbox.page.iter().map(|f| f.id).collect();
        assert_eq!(ids, [projects]);

        let deep = find(Traversal::Deep, Ok(None), vec![Ok(inbox)])
            .run(&request)
            .unwrap()
            .found;
        assert_eq!(
            codes(&deep),
            [ResponseCode::ErrorExceededFindCountLimit],
            "Deep also counts the folders below Projects"
        );

        let unsupported = Error::new(ResponseCode::ErrorUnsupportedPathForQuery, "no such path");
        let found = find(
            Traversal::Shallow,
            Err(unsupported),
            vec![Ok(old), Ok(inbox)],
        )
        .run(&request)
        .unwrap()
        .found;
        for result in &found {
            let error = result.as_ref().err().unwrap();
            assert_eq!(
                error.response_code(),
                ResponseCode::ErrorUnsupportedPathForQuery
            );
            assert_eq!(error.to_string(), "no such path");
        }
    }

    #[test]
    fn create_folder_creates_each_folder_on_its_own() {
        let kit = Kit::new();
        let request = kit.request(ALICE);
        let inbox = kit.folder(ALICE, D::Inbox);

        let created = CreateFolder {
            parent: Ok(inbox),
            folders: vec![Ok(named("Projects")), Err(refused()), Ok(named("Projects"))],
        }
        .run(&request)
        .unwrap()
        .folders;
        assert_eq!(
            codes(&created),
            [
                ResponseCode::NoError,
                ResponseCode::ErrorInvalidRequest,
                ResponseCode::ErrorFolderExists
            ]
        );
        let projects = created[0].as_ref().unwrap();
        assert_eq!(projects.parent, Some(inbox));
        assert_eq!(display_name(projects), "Projects");

        let under_search_folder = CreateFolder {
            parent: Ok(kit.folder(ALICE, D::Voicemail)),
            folders: vec![Ok(named("Nested"))],
        }
        .run(&request)
        .unwrap()
        .folders;
        assert_eq!(
            codes(&under_search_folder),
            [ResponseCode::ErrorInvalidOperation]
        );

        let shared = Error::new(ResponseCode::ErrorFolderNotFound, "no such parent");
        let orphaned = CreateFolder {
            parent: Err(shared),
            folders: vec![Ok(named("A")), Ok(named("B"))],
        }
        .run(&request)
        .unwrap()
        .folders;
        for result in &orphaned {
            let error = result.as_ref().err().unwrap();
            assert_eq!(error.response_code(), ResponseCode::ErrorFolderNotFound);
            assert_eq!(error.to_string(), "no such parent");
        }
    }

    #[test]
    fn update_folder_changes_each_folder_on_its_own() {
        let kit = Kit::new();
        let request = kit.request(ALICE);
        let inbox = kit.folder(ALICE, D::Inbox);
        let projects = kit.new_subfolder(inbox, "Projects");
        let before = kit.store().folder(&request.mailbox, projects).unwrap();

        let rename = Updates {
            set: vec![(
                tags::DISPLAY_NAME.into(),
                PropValue::Unicode("Renamed".to_owned()),
            )],
            ..Updates::default()
        };
        let unname = Updates {
            clears_distinguished_name: true,
            ..Updates::default()
        };
        let updated = UpdateFolder {
            changes: vec![
                FolderChange {
                    folder: Ok(projects),
                    updates: Ok(rename),
                },
                FolderChange {
                    folder: Ok(inbox),
                    updates: Ok(unname),
                },
                FolderChange {
                    folder: Err(refused()),
                    updates: Ok(Updates::default()),
                },
                FolderChange {
                    folder: Ok(projects),
                    updates: Err(Error::new(
                        ResponseCode::ErrorInvalidPropertyAppend,
                        "refused in parse",
                    )),
                },
            ],
        }
        .run(&request)
        .unwrap()
        .folders;
        assert_eq!(
            codes(&updated),
            [
                ResponseCode::NoError,
                ResponseCode::ErrorInvalidPropertyDelete,
                ResponseCode::ErrorInvalidRequest,
                ResponseCode::ErrorInvalidPropertyAppend
            ]
        );
        let renamed = updated[0].as_ref().unwrap();
        assert_eq!(renamed.id, projects);
        assert_eq!(display_name(renamed), "Renamed");
        assert_ne!(renamed.change_key, before.change_key);
    }

    #[test]
    fn delete_folder_deletes_each_folder_on_its_own() {
        let kit = Kit::new();
        let request = kit.request(ALICE);
        let inbox = kit.folder(ALICE, D::Inbox);
        let deleted_items = kit.folder(ALICE, D::DeletedItems);
        let projects = kit.new_subfolder(inbox, "Projects");
        let old = kit.new_subfolder(inbox, "Old");

        let hard = DeleteFolder {
            disposal: Disposal::HardDelete,
            ids: vec![Ok(projects), Ok(inbox), Ok(projects), Err(refused())],
        }
        .run(&request)
        .unwrap()
        .entries;
        assert_eq!(
            codes(&hard),
            [
                ResponseCode::NoError,
                ResponseCode::ErrorDeleteDistinguishedFolder,
                ResponseCode::ErrorFolderNotFound,
                ResponseCode::ErrorInvalidRequest
            ]
        );
        assert!(kit.store().folder(&request.mailbox, projects).is_err());

        let to_deleted_items = DeleteFolder {
            disposal: Disposal::MoveToDeletedItems,
            ids: vec![Ok(old)],
        }
        .run(&request)
        .unwrap()
        .entries;
        assert_eq!(codes(&to_deleted_items), [ResponseCode::NoError]);
        assert_eq!(kit.folder_parent(old), Some(deleted_items));
        kit.assert_mailbox_consistent();
    }

    #[test]
    fn empty_folder_empties_each_folder_on_its_own() {
        let kit = Kit::new();
        let request = kit.request(ALICE);
        let inbox = kit.folder(ALICE, D::Inbox);
        let projects = kit.new_subfolder(inbox, "Projects");
        let old = kit.new_subfolder(projects, "Old");
        kit.new_unread_item_in(projects, "IPM.Note");

        let emptied = EmptyFolder {
            disposal: Disposal::HardDelete,
            delete_subfolders: true,
            ids: vec![
                Ok(projects),
                Ok(kit.folder(ALICE, D::Voicemail)),
                Err(refused()),
            ],
        }
        .run(&request)
        .unwrap()
        .entries;
        assert_eq!(
            codes(&emptied),
            [
                ResponseCode::NoError,
                ResponseCode::ErrorCannotEmptyFolder,
                ResponseCode::ErrorInvalidRequest
            ]
        );
        assert_eq!(kit.folder_counts(projects), (0, 0, 0));
        assert!(kit.store().folder(&request.mailbox, old).is_err());
        kit.assert_mailbox_consistent();
    }

    #[test]
    fn move_folder_moves_each_folder_on_its_own() {
        let kit = Kit::new();
        let request = kit.request(ALICE);
        let inbox = kit.folder(ALICE, D::Inbox);
        let junk = kit.folder(ALICE, D::JunkEmail);
        let projects = kit.new_subfolder(inbox, "Projects");

        let moved = MoveFolder(FolderTransfer {
            to: Ok(junk),
            folders: vec![Ok(projects), Ok(inbox), Err(refused())],
        })
        .run(&request)
        .unwrap()
        .folders;
        assert_eq!(
            codes(&moved),
            [
                ResponseCode::NoError,
                ResponseCode::ErrorMoveDistinguishedFolder,
                ResponseCode::ErrorInvalidRequest
            ]
        );
        let folder = moved[0].as_ref().unwrap();
        assert_eq!(folder.id, projects, "a moved folder keeps its id");
        assert_eq!(folder.parent, Some(junk));

        let shared = Error::new(ResponseCode::ErrorFolderNotFound, "no such target");
        let stranded = MoveFolder(FolderTransfer {
            to: Err(shared),
            folders: vec![Ok(projects), Ok(projects)],
        })
        .run(&request)
        .unwrap()
        .folders;
        for result in &stranded {
            let error = result.as_ref().err().unwrap();
            assert_eq!(error.response_code(), ResponseCode::ErrorFolderNotFound);
            assert_eq!(error.to_string(), "no such target");
        }
        assert_eq!(kit.folder_parent(projects), Some(junk));
    }

    #[test]
    fn copy_folder_copies_each_folder_on_its_own() {
        let kit = Kit::new();
        let request = kit.request(ALICE);
        let inbox = kit.folder(ALICE, D::Inbox);
        let deleted_items = kit.folder(ALICE, D::DeletedItems);
        let projects = kit.new_subfolder(inbox, "Projects");

        let copied = CopyFolder(FolderTransfer {
            to: Ok(deleted_items),
            folders: vec![Ok(projects), Ok(projects), Err(refused())],
        })
        .run(&request)
        .unwrap()
        .folders;
        assert_eq!(
            codes(&copied),
            [
                ResponseCode::NoError,
                ResponseCode::ErrorFolderExists,
                ResponseCode::ErrorInvalidRequest
            ],
            "the second copy clashes with the first"
        );
        let copy = copied[0].as_ref().unwrap();
        assert_ne!(copy.id, projects);
        assert_eq!(copy.parent, Some(deleted_items));
        assert_eq!(display_name(copy), "Projects");
        assert_eq!(
            kit.folder_parent(projects),
            Some(inbox),
            "the original stays"
        );
    }
}
