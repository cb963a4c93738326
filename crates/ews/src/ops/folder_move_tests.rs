//! Behaviour tests of MoveFolder, CopyFolder and the MoveToDeletedItems disposal of DeleteFolder
//! and EmptyFolder, through `ews::handle` over a real store: ids and change keys in the answers,
//! the refusals, and the folder counts (the voicemail search folder's too) after each request.

use crate::ops::testkit::{all, describe, one, Kit};
use umbox_store::props::{tags, PropValue};
use umbox_store::{Change, DistinguishedFolder as D, FolderId, MailStore, MailboxId, Outcome};
use umbox_xml::Element;

const ALICE: &str = "alice@example.test";
const VOICE: &str = "IPM.Note.Microsoft.Voicemail.UM.CA";

fn alice() -> MailboxId {
    MailboxId::new(ALICE)
}

/// Folder helpers of these tests and of the unit tests in `folders.rs`, all on alice's mailbox.
impl Kit {
    /// Creates a plain folder named `name` under `parent` through the store.
    pub(crate) fn new_subfolder(&self, parent: FolderId, name: &str) -> FolderId {
        let change = Change::CreateFolder {
            parent,
            props: vec![(tags::DISPLAY_NAME.into(), PropValue::Unicode(name.into()))],
        };
        match self
            .store()
            .apply(&alice(), change, self.now)
            .unwrap()
            .outcome
        {
            Outcome::Folder { folder, .. } => folder,
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    /// Creates an unread item of `class` in `folder` through the store.
    pub(crate) fn new_unread_item_in(&self, folder: FolderId, class: &str) {
        let change = Change::CreateItem {
            folder,
            props: vec![
                (tags::MESSAGE_CLASS.into(), PropValue::Unicode(class.into())),
                (tags::MESSAGE_FLAGS.into(), PropValue::Int32(0)),
            ],
            attachments: Vec::new(),
        };
        self.store().apply(&alice(), change, self.now).unwrap();
    }

    /// `t:FolderId` naming `folder`, for a request body.
    pub(crate) fn folder_id_element(&self, folder: FolderId) -> String {
        format!(
            r#"<t:FolderId Id="{}"/>"#,
            self.ids.folder(&alice(), folder)
        )
    }

    /// (TotalCount, UnreadCount, ChildFolderCount) as the store keeps them.
    pub(crate) fn folder_counts(&self, folder: FolderId) -> (u64, u64, u64) {
        let folder = self.store().folder(&alice(), folder).unwrap();
        (
            folder.total_count,
            folder.unread_count,
            folder.child_folder_count,
        )
    }

    /// The parent of `folder`.
    pub(crate) fn folder_parent(&self, folder: FolderId) -> Option<FolderId> {
        self.store().folder(&alice(), folder).unwrap().parent
    }

    /// Fails unless the store finds alice's mailbox consistent (counts, parents, search folders).
    pub(crate) fn assert_mailbox_consistent(&self) {
        let report = self.store().verify(&alice()).unwrap();
        assert!(report.problems.is_empty(), "{:#?}", report.problems);
    }
}

/// The ResponseCode of each response message of `response`.
fn codes(body: &Element, response: &str) -> Vec<String> {
    let message = response.replace("Response", "ResponseMessage");
    all(
        body,
        &[response, "ResponseMessages", &message, "ResponseCode"],
    )
    .iter()
    .map(|code| code.trimmed_text().to_owned())
    .collect()
}

#[test]
fn move_folder_keeps_the_id_and_refuses_bad_moves() {
    let kit = Kit::new();
    let inbox = kit.folder(ALICE, D::Inbox);
    let junk = kit.folder(ALICE, D::JunkEmail);
    let voicemail = kit.folder(ALICE, D::Voicemail);
    let projects = kit.new_subfolder(inbox, "Projects");
    let old = kit.new_subfolder(projects, "Old");
    kit.new_unread_item_in(old, VOICE);
    kit.new_unread_item_in(projects, "IPM.Note");

    let body = kit.call(&format!(
        r#"<m:MoveFolder><m:ToFolderId><t:DistinguishedFolderId Id="junkemail"/></m:ToFolderId><m:FolderIds>{}<t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:MoveFolder>"#,
        kit.folder_id_element(projects)
    ));
    assert_eq!(
        codes(&body, "MoveFolderResponse"),
        ["NoError", "ErrorMoveDistinguishedFolder"],
        "{}",
        describe(&body)
    );
    let moved = one(
        &body,
        &[
            "MoveFolderResponse",
            "ResponseMessages",
            "MoveFolderResponseMessage",
            "Folders",
            "Folder",
            "FolderId",
        ],
    );
    let folder = kit.store().folder(&alice(), projects).unwrap();
    assert_eq!(
        moved.attribute("", "Id"),
        Some(kit.ids.folder(&alice(), projects).as_str()),
        "a moved folder keeps its id"
    );
    assert_eq!(
        moved.attribute("", "ChangeKey"),
        Some(
            kit.ids
                .folder_change_key(&alice(), projects, folder.change_key)
                .as_str()
        )
    );
    assert_eq!(folder.parent, Some(junk));
    assert_eq!(kit.folder_counts(inbox).2, 0);
    assert_eq!(kit.folder_counts(junk).2, 1);
    assert_eq!(kit.folder_counts(projects), (1, 1, 1));
    assert_eq!(kit.folder_counts(voicemail), (1, 1, 0));

    // Into itself or its own subtree, into a search folder, onto a taken name, a missing target.
    kit.new_subfolder(inbox, "Old");
    let body = kit.call(&format!(
        r#"<m:MoveFolder><m:ToFolderId>{}</m:ToFolderId><m:FolderIds>{}{}</m:FolderIds></m:MoveFolder>"#,
        kit.folder_id_element(old),
        kit.folder_id_element(projects),
        kit.folder_id_element(old),
    ));
    assert_eq!(
        codes(&body, "MoveFolderResponse"),
        ["ErrorMoveCopyFailed", "ErrorMoveCopyFailed"]
    );
    let body = kit.call(&format!(
        r#"<m:MoveFolder><m:ToFolderId><t:DistinguishedFolderId Id="voicemail"/></m:ToFolderId><m:FolderIds>{}</m:FolderIds></m:MoveFolder>"#,
        kit.folder_id_element(old),
    ));
    assert_eq!(codes(&body, "MoveFolderResponse"), ["ErrorMoveCopyFailed"]);
    let body = kit.call(&format!(
        r#"<m:MoveFolder><m:ToFolderId><t:DistinguishedFolderId Id="inbox"/></m:ToFolderId><m:FolderIds>{}</m:FolderIds></m:MoveFolder>"#,
        kit.folder_id_element(old),
    ));
    assert_eq!(codes(&body, "MoveFolderResponse"), ["ErrorFolderExists"]);
    let body = kit.call(&format!(
        r#"<m:MoveFolder><m:ToFolderId>{}</m:ToFolderId><m:FolderIds>{}</m:FolderIds></m:MoveFolder>"#,
        kit.folder_id_element(FolderId(999_999)),
        kit.folder_id_element(old),
    ));
    assert_eq!(codes(&body, "MoveFolderResponse"), ["ErrorFolderNotFound"]);
    assert_eq!(kit.folder_parent(old), Some(projects));
    kit.assert_mailbox_consistent();

    // Malformed requests are faults.
    for operation in [
        r#"<m:MoveFolder><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:MoveFolder>"#,
        r#"<m:CopyFolder><m:ToFolderId/><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:CopyFolder>"#,
        r#"<m:MoveFolder><m:ToFolderId><t:DistinguishedFolderId Id="inbox"/></m:ToFolderId><m:FolderIds/></m:MoveFolder>"#,
    ] {
        let (status, body) = kit.call_as(ALICE, "Exchange2016", None, operation);
        assert_eq!(status, 500, "{}", describe(&body));
    }
}

#[test]
fn copy_folder_copies_the_subtree_under_new_ids() {
    let kit = Kit::new();
    let inbox = kit.folder(ALICE, D::Inbox);
    let deleted = kit.folder(ALICE, D::DeletedItems);
    let voicemail = kit.folder(ALICE, D::Voicemail);
    let projects = kit.new_subfolder(inbox, "Projects");
    let old = kit.new_subfolder(projects, "Old");
    kit.new_unread_item_in(old, VOICE);

    let body = kit.call(&format!(
        r#"<m:CopyFolder><m:ToFolderId><t:DistinguishedFolderId Id="deleteditems"/></m:ToFolderId><m:FolderIds>{}{}</m:FolderIds></m:CopyFolder>"#,
        kit.folder_id_element(projects),
        kit.folder_id_element(projects),
    ));
    assert_eq!(
        codes(&body, "CopyFolderResponse"),
        ["NoError", "ErrorFolderExists"],
        "the second copy clashes with the first"
    );
    let copy = one(
        &body,
        &[
            "CopyFolderResponse",
            "ResponseMessages",
            "CopyFolderResponseMessage",
            "Folders",
            "Folder",
            "FolderId",
        ],
    );
    let (_, copy) = kit
        .ids
        .open_folder(copy.attribute("", "Id").unwrap())
        .unwrap();
    assert_ne!(copy, projects);
    assert_eq!(kit.folder_parent(copy), Some(deleted));
    assert_eq!(
        kit.folder_parent(projects),
        Some(inbox),
        "the original stays"
    );
    assert_eq!(kit.folder_counts(copy), (0, 0, 1));
    assert_eq!(kit.folder_counts(deleted).2, 1);
    assert_eq!(
        kit.folder_counts(voicemail),
        (2, 2, 0),
        "the copied voicemail is listed"
    );

    let body = kit.call(
        r#"<m:FindFolder Traversal="Deep"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:ParentFolderIds><t:DistinguishedFolderId Id="deleteditems"/></m:ParentFolderIds></m:FindFolder>"#,
    );
    let names: Vec<&str> = all(
        &body,
        &[
            "FindFolderResponse",
            "ResponseMessages",
            "FindFolderResponseMessage",
            "RootFolder",
            "Folders",
            "Folder",
            "DisplayName",
        ],
    )
    .iter()
    .map(|name| name.trimmed_text())
    .collect();
    assert_eq!(names, ["Projects", "Old"]);

    // Copying a distinguished folder or into its own subtree is refused.
    let body = kit.call(&format!(
        r#"<m:CopyFolder><m:ToFolderId>{}</m:ToFolderId><m:FolderIds><t:DistinguishedFolderId Id="inbox"/>{}</m:FolderIds></m:CopyFolder>"#,
        kit.folder_id_element(old),
        kit.folder_id_element(projects),
    ));
    assert_eq!(
        codes(&body, "CopyFolderResponse"),
        ["ErrorInvalidOperation", "ErrorMoveCopyFailed"]
    );
    kit.assert_mailbox_consistent();
}

#[test]
fn delete_folder_to_deleted_items_moves_then_deletes_for_good() {
    let kit = Kit::new();
    let inbox = kit.folder(ALICE, D::Inbox);
    let deleted = kit.folder(ALICE, D::DeletedItems);
    let voicemail = kit.folder(ALICE, D::Voicemail);
    let projects = kit.new_subfolder(inbox, "Projects");
    let old = kit.new_subfolder(projects, "Old");
    kit.new_unread_item_in(old, VOICE);
    kit.new_unread_item_in(projects, "IPM.Note");
    let delete = |folder| {
        kit.call(&format!(
            r#"<m:DeleteFolder DeleteType="MoveToDeletedItems"><m:FolderIds>{}</m:FolderIds></m:DeleteFolder>"#,
            kit.folder_id_element(folder)
        ))
    };

    assert_eq!(
        codes(&delete(projects), "DeleteFolderResponse"),
        ["NoError"]
    );
    assert_eq!(kit.folder_parent(projects), Some(deleted));
    assert_eq!(kit.folder_counts(inbox).2, 0);
    assert_eq!(kit.folder_counts(deleted).2, 1);
    assert_eq!(kit.folder_counts(voicemail), (1, 1, 0));

    // Below Deleted Items, moving there means deleting, as Exchange does.
    assert_eq!(codes(&delete(old), "DeleteFolderResponse"), ["NoError"]);
    assert!(kit.store().folder(&alice(), old).is_err());
    assert_eq!(kit.folder_counts(voicemail), (0, 0, 0));
    assert_eq!(kit.folder_counts(projects), (1, 1, 0));
    assert_eq!(
        codes(&delete(projects), "DeleteFolderResponse"),
        ["NoError"]
    );
    assert!(kit.store().folder(&alice(), projects).is_err());
    assert_eq!(kit.folder_counts(deleted), (0, 0, 0));
    assert_eq!(
        codes(&delete(projects), "DeleteFolderResponse"),
        ["ErrorFolderNotFound"]
    );
    kit.assert_mailbox_consistent();
}

#[test]
fn empty_folder_to_deleted_items_moves_subfolders_too() {
    let kit = Kit::new();
    let inbox = kit.folder(ALICE, D::Inbox);
    let deleted = kit.folder(ALICE, D::DeletedItems);
    let voicemail = kit.folder(ALICE, D::Voicemail);
    let a = kit.new_subfolder(inbox, "A");
    let b = kit.new_subfolder(inbox, "B");
    kit.new_unread_item_in(a, VOICE);
    kit.new_unread_item_in(inbox, "IPM.Note");
    let empty = r#"<m:EmptyFolder DeleteType="MoveToDeletedItems" DeleteSubFolders="true"><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:EmptyFolder>"#;

    assert_eq!(codes(&kit.call(empty), "EmptyFolderResponse"), ["NoError"]);
    assert_eq!(kit.folder_counts(inbox), (0, 0, 0));
    assert_eq!(kit.folder_counts(deleted), (1, 1, 2));
    assert_eq!(
        (kit.folder_parent(a), kit.folder_parent(b)),
        (Some(deleted), Some(deleted))
    );
    assert_eq!(kit.folder_counts(a), (1, 1, 0));
    assert_eq!(kit.folder_counts(voicemail), (1, 1, 0));

    // A subfolder whose name Deleted Items already holds stays, and says why.
    let again = kit.new_subfolder(inbox, "A");
    assert_eq!(
        codes(&kit.call(empty), "EmptyFolderResponse"),
        ["ErrorFolderExists"]
    );
    assert_eq!(kit.folder_parent(again), Some(inbox));

    // Emptying Deleted Items itself deletes its subfolders for good.
    let body = kit.call(
        r#"<m:EmptyFolder DeleteType="MoveToDeletedItems" DeleteSubFolders="true"><m:FolderIds><t:DistinguishedFolderId Id="deleteditems"/></m:FolderIds></m:EmptyFolder>"#,
    );
    assert_eq!(codes(&body, "EmptyFolderResponse"), ["NoError"]);
    assert_eq!(kit.folder_counts(deleted), (0, 0, 0));
    assert_eq!(kit.folder_counts(voicemail), (0, 0, 0));
    kit.assert_mailbox_consistent();
}
