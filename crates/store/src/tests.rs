//! Behaviour tests of the store through its public API: layout, every kind of change, counts
//! against a recount after each change, ids of moved and copied items, attachments, conflicts,
//! named properties and the change log.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::encode::tests::Rng;
use super::props::{
    property_sets, tags, NamedProperty, PropKey, PropName, PropTag, PropType, PropValue,
};
use super::*;

/// A fresh directory under the system temp dir, removed when dropped.
pub(crate) struct TestDir(tempfile::TempDir);

impl TestDir {
    pub(crate) fn new() -> TestDir {
        TestDir(tempfile::tempdir().unwrap())
    }

    pub(crate) fn path(&self) -> &Path {
        self.0.path()
    }
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
}

struct Fixture {
    _dir: TestDir,
    store: RedbStore,
    mbx: MailboxId,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with_options(Options::default())
    }

    fn with_options(options: Options) -> Fixture {
        let dir = TestDir::new();
        let store = RedbStore::open(dir.path(), options).unwrap();
        let mbx = MailboxId::new("Alice@Example.COM");
        store.ensure_mailbox(&mbx, at(0)).unwrap();
        Fixture {
            _dir: dir,
            store,
            mbx,
        }
    }

    fn folder_id(&self, which: DistinguishedFolder) -> FolderId {
        self.store.distinguished_folder(&self.mbx, which).unwrap()
    }

    fn folder(&self, id: FolderId) -> Folder {
        self.store.folder(&self.mbx, id).unwrap()
    }

    fn counts(&self, which: DistinguishedFolder) -> (u64, u64) {
        let folder = self.folder(self.folder_id(which));
        (folder.total_count, folder.unread_count)
    }

    /// Applies a change and checks every counter against a recount afterwards.
    fn apply(&self, change: Change) -> ChangeSet {
        let committed = self.store.apply(&self.mbx, change, at(10)).unwrap();
        self.check();
        committed
    }

    fn check(&self) {
        let report = self.store.verify(&self.mbx).unwrap();
        assert!(report.problems.is_empty(), "{:#?}", report.problems);
    }

    fn create(
        &self,
        folder: DistinguishedFolder,
        class: &str,
        read: bool,
        attach: &[&[u8]],
    ) -> ItemId {
        let committed = self.apply(Change::CreateItem {
            folder: self.folder_id(folder),
            props: message(class, "subject", read),
            attachments: attach.iter().map(|content| wav(content)).collect(),
        });
        match committed.outcome {
            Outcome::Item { item, change_key } => {
                assert_eq!(change_key, ChangeKey(1));
                item
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    fn events(&self, change: Change) -> Vec<Event> {
        self.apply(change)
            .events
            .into_iter()
            .map(|logged| logged.event)
            .collect()
    }
}

const VOICE: &str = "IPM.Note.Microsoft.Voicemail.UM.CA";

fn message(class: &str, subject: &str, read: bool) -> Vec<(PropKey, PropValue)> {
    vec![
        (tags::MESSAGE_CLASS.into(), PropValue::Unicode(class.into())),
        (tags::SUBJECT.into(), PropValue::Unicode(subject.into())),
        (
            tags::MESSAGE_FLAGS.into(),
            PropValue::Int32(if read { tags::MSGFLAG_READ } else { 0 }),
        ),
    ]
}

fn wav(content: &[u8]) -> NewAttachment {
    NewAttachment {
        props: vec![
            (
                tags::ATTACH_LONG_FILENAME.into(),
                PropValue::Unicode("message.wav".into()),
            ),
            (
                tags::ATTACH_MIME_TAG.into(),
                PropValue::Unicode("audio/wav".into()),
            ),
        ],
        content: content.to_vec(),
    }
}

use DistinguishedFolder as D;

#[test]
fn distinguished_names_round_trip() {
    for which in D::ALL {
        assert_eq!(D::parse(which.as_str()), Some(which));
        if let Some(parent) = which.parent() {
            let parent_position = D::ALL.iter().position(|w| *w == parent).unwrap();
            let position = D::ALL.iter().position(|w| *w == which).unwrap();
            assert!(
                parent_position < position,
                "{} before its parent",
                which.as_str()
            );
        }
    }
    assert_eq!(D::parse("Inbox"), None, "names are case-sensitive");
    assert_eq!(D::parse("quickcontacts"), None);
}

#[test]
fn mailbox_layout_matches_exchange() {
    let fx = Fixture::new();
    assert_eq!(fx.mbx.as_str(), "alice@example.com");
    let expect = [
        (D::Root, None, "", None),
        (
            D::MsgFolderRoot,
            Some(D::Root),
            "Top of Information Store",
            None,
        ),
        (D::SearchFolders, Some(D::Root), "Finder", None),
        (D::Inbox, Some(D::MsgFolderRoot), "Inbox", Some("IPF.Note")),
        (
            D::Drafts,
            Some(D::MsgFolderRoot),
            "Drafts",
            Some("IPF.Note"),
        ),
        (
            D::SentItems,
            Some(D::MsgFolderRoot),
            "Sent Items",
            Some("IPF.Note"),
        ),
        (
            D::DeletedItems,
            Some(D::MsgFolderRoot),
            "Deleted Items",
            Some("IPF.Note"),
        ),
        (
            D::JunkEmail,
            Some(D::MsgFolderRoot),
            "Junk Email",
            Some("IPF.Note"),
        ),
        (
            D::Outbox,
            Some(D::MsgFolderRoot),
            "Outbox",
            Some("IPF.Note"),
        ),
        (
            D::Contacts,
            Some(D::MsgFolderRoot),
            "Contacts",
            Some("IPF.Contact"),
        ),
        (
            D::Calendar,
            Some(D::MsgFolderRoot),
            "Calendar",
            Some("IPF.Appointment"),
        ),
        (D::Tasks, Some(D::MsgFolderRoot), "Tasks", Some("IPF.Task")),
        (
            D::Notes,
            Some(D::MsgFolderRoot),
            "Notes",
            Some("IPF.StickyNote"),
        ),
        (
            D::Journal,
            Some(D::MsgFolderRoot),
            "Journal",
            Some("IPF.Journal"),
        ),
        (
            D::ConversationHistory,
            Some(D::MsgFolderRoot),
            "Conversation History",
            Some("IPF.Note"),
        ),
        (
            D::Voicemail,
            Some(D::SearchFolders),
            "Voice Mail",
            Some("IPF.Note.Microsoft.Voicemail"),
        ),
    ];
    assert_eq!(expect.len(), D::ALL.len());
    for (which, parent, name, class) in expect {
        let folder = fx.folder(fx.folder_id(which));
        assert_eq!(folder.distinguished, Some(which));
        assert_eq!(
            folder.parent,
            parent.map(|p| fx.folder_id(p)),
            "{}",
            which.as_str()
        );
        assert_eq!(folder.props.unicode(tags::DISPLAY_NAME), Some(name));
        assert_eq!(folder.props.unicode(tags::CONTAINER_CLASS), class);
        assert_eq!(folder.is_search_folder, which == D::Voicemail);
        assert_eq!((folder.total_count, folder.unread_count), (0, 0));
    }
    assert_eq!(fx.folder(fx.folder_id(D::Root)).child_folder_count, 2);
    assert_eq!(
        fx.folder(fx.folder_id(D::MsgFolderRoot)).child_folder_count,
        12
    );
    assert_eq!(
        fx.folder(fx.folder_id(D::SearchFolders)).child_folder_count,
        1
    );
    let deep = fx
        .store
        .child_folders(&fx.mbx, fx.folder_id(D::Root), Traversal::Deep)
        .unwrap();
    assert_eq!(deep.len(), D::ALL.len() - 1);
    let shallow = fx
        .store
        .child_folders(&fx.mbx, fx.folder_id(D::Root), Traversal::Shallow)
        .unwrap();
    let names: Vec<_> = shallow.iter().map(|f| f.distinguished).collect();
    assert_eq!(names, vec![Some(D::MsgFolderRoot), Some(D::SearchFolders)]);
    // Pre-order: each folder comes before its children.
    let searchfolders_at = deep
        .iter()
        .position(|f| f.distinguished == Some(D::SearchFolders));
    let voicemail_at = deep
        .iter()
        .position(|f| f.distinguished == Some(D::Voicemail));
    assert_eq!(voicemail_at, searchfolders_at.map(|p| p + 1));
    fx.check();
}

#[test]
fn ensure_mailbox_is_idempotent_and_logs_the_folders_once() {
    let fx = Fixture::new();
    let bounds = fx.store.log_bounds(&fx.mbx).unwrap();
    let created = fx.store.changes_since(&fx.mbx, Seq(0), 1000).unwrap();
    let folder_created = created
        .iter()
        .filter(|l| matches!(l.event, Event::FolderCreated { .. }))
        .count();
    assert_eq!(folder_created, D::ALL.len());
    assert_eq!(bounds.latest, Seq(created.len() as u64));
    let again = fx.store.ensure_mailbox(&fx.mbx, at(1)).unwrap();
    assert!(again.events.is_empty());
    assert_eq!(
        fx.store
            .ensure_mailbox(&MailboxId::new("ALICE@example.com"), at(2))
            .unwrap()
            .events,
        vec![]
    );
    assert_eq!(fx.store.log_bounds(&fx.mbx).unwrap(), bounds);
    let other = MailboxId::new("bob@example.com");
    assert!(!fx
        .store
        .ensure_mailbox(&other, at(3))
        .unwrap()
        .events
        .is_empty());
    assert_ne!(
        fx.store.distinguished_folder(&other, D::Inbox).unwrap(),
        FolderId(0),
        "each mailbox has its own folders"
    );
    assert_eq!(
        fx.store
            .items(
                &other,
                fx.store.distinguished_folder(&other, D::Inbox).unwrap()
            )
            .unwrap(),
        vec![]
    );
}

#[test]
fn unknown_mailbox_is_not_found() {
    let fx = Fixture::new();
    let ghost = MailboxId::new("ghost@example.com");
    let error = fx
        .store
        .apply(&ghost, Change::DeleteItem { item: ItemId(1) }, at(1))
        .unwrap_err();
    assert!(matches!(error, Error::NotFound(Missing::Mailbox(ref m)) if *m == ghost));
    assert!(matches!(
        fx.store.folder(&ghost, FolderId(1)),
        Err(Error::NotFound(Missing::Mailbox(_)))
    ));
}

#[test]
fn voicemail_delivery_is_atomic_and_announced() {
    let fx = Fixture::new();
    let inbox = fx.folder_id(D::Inbox);
    let voicemail = fx.folder_id(D::Voicemail);
    let audio = vec![0x52u8; 4000];
    let committed = fx.apply(Change::CreateItem {
        folder: inbox,
        props: message(VOICE, "Voice mail from 4255550100", false),
        attachments: vec![wav(&audio)],
    });
    let Outcome::Item { item, change_key } = committed.outcome else {
        panic!("item outcome")
    };
    let seqs: Vec<u64> = committed.events.iter().map(|l| l.seq.0).collect();
    let first = seqs[0];
    assert_eq!(
        seqs,
        (first..first + 4).collect::<Vec<_>>(),
        "consecutive sequence numbers"
    );
    assert!(committed.events.iter().all(|l| l.time == at(10)));
    let events: Vec<Event> = committed.events.into_iter().map(|l| l.event).collect();
    let inbox_record = fx.folder(inbox);
    let voicemail_record = fx.folder(voicemail);
    assert_eq!(
        events,
        vec![
            Event::ItemCreated {
                item,
                change_key,
                parent: inbox,
                search_folders: vec![voicemail]
            },
            Event::NewMail {
                item,
                change_key,
                parent: inbox
            },
            Event::FolderModified {
                folder: inbox,
                change_key: inbox_record.change_key,
                parent: Some(fx.folder_id(D::MsgFolderRoot)),
                total_count: 1,
                unread_count: 1,
            },
            Event::FolderModified {
                folder: voicemail,
                change_key: voicemail_record.change_key,
                parent: Some(fx.folder_id(D::SearchFolders)),
                total_count: 1,
                unread_count: 1,
            },
        ]
    );
    let stored = fx.store.item(&fx.mbx, item).unwrap();
    assert_eq!(stored.parent, inbox);
    assert_eq!(stored.props.boolean(tags::HAS_ATTACHMENTS), Some(true));
    assert!(stored.props.int32(tags::MESSAGE_SIZE).unwrap() > 4000);
    assert_eq!(
        stored.props.get(tags::CREATION_TIME),
        Some(&PropValue::SystemTime(props::FileTime::from_system_time(
            at(10)
        )))
    );
    let [info] = stored.attachments.as_slice() else {
        panic!("one attachment")
    };
    assert_eq!(info.props.int32(tags::ATTACH_SIZE), Some(4000));
    assert_eq!(
        info.props.unicode(tags::ATTACH_LONG_FILENAME),
        Some("message.wav")
    );
    let attachment = fx.store.attachment(&fx.mbx, info.id).unwrap();
    assert_eq!((attachment.item, attachment.content), (item, audio));
    let listed = fx.store.items(&fx.mbx, voicemail).unwrap();
    assert_eq!(listed, vec![stored.clone()]);
    assert_eq!(fx.store.items(&fx.mbx, inbox).unwrap(), vec![stored]);
}

#[test]
fn new_mail_only_for_unread_sent_items_in_mail_folders() {
    let fx = Fixture::new();
    let new_mail = |events: &[Event]| events.iter().any(|e| matches!(e, Event::NewMail { .. }));
    let create = |folder, flags| {
        fx.events(Change::CreateItem {
            folder: fx.folder_id(folder),
            props: vec![
                (
                    tags::MESSAGE_CLASS.into(),
                    PropValue::Unicode("IPM.Note".into()),
                ),
                (tags::MESSAGE_FLAGS.into(), PropValue::Int32(flags)),
            ],
            attachments: vec![],
        })
    };
    assert!(new_mail(&create(D::Inbox, 0)));
    assert!(new_mail(&create(D::ConversationHistory, 0)));
    assert!(!new_mail(&create(D::Inbox, tags::MSGFLAG_READ)));
    assert!(!new_mail(&create(D::Drafts, tags::MSGFLAG_UNSENT)));
    assert!(!new_mail(&create(D::Contacts, 0)));
    assert!(!new_mail(&create(D::Calendar, 0)));
}

#[test]
fn read_flag_moves_unread_counts_of_folder_and_voicemail() {
    let fx = Fixture::new();
    let voice = fx.create(D::Inbox, VOICE, false, &[b"a"]);
    let mail = fx.create(D::Inbox, "IPM.Note", false, &[]);
    assert_eq!(fx.counts(D::Inbox), (2, 2));
    assert_eq!(fx.counts(D::Voicemail), (1, 1));
    let committed = fx.apply(Change::SetReadFlag {
        items: vec![voice, mail],
        read: true,
    });
    let Outcome::Items(answers) = committed.outcome else {
        panic!("items outcome")
    };
    assert_eq!(answers, vec![(voice, ChangeKey(2)), (mail, ChangeKey(2))]);
    assert_eq!(fx.counts(D::Inbox), (2, 0));
    assert_eq!(fx.counts(D::Voicemail), (1, 0));
    let modified = committed
        .events
        .iter()
        .filter(|l| matches!(l.event, Event::ItemModified { .. }))
        .count();
    assert_eq!(modified, 2);
    // Already read: nothing changes and nothing is logged.
    let again = fx.apply(Change::SetReadFlag {
        items: vec![voice],
        read: true,
    });
    assert_eq!(again.events, vec![]);
    assert_eq!(again.outcome, Outcome::Items(vec![(voice, ChangeKey(2))]));
    fx.apply(Change::SetReadFlag {
        items: vec![voice],
        read: false,
    });
    assert_eq!(fx.counts(D::Voicemail), (1, 1));
    assert_eq!(fx.counts(D::Inbox), (2, 1));
    // One missing id fails the whole change.
    let error = fx
        .store
        .apply(
            &fx.mbx,
            Change::SetReadFlag {
                items: vec![mail, ItemId(9999)],
                read: false,
            },
            at(11),
        )
        .unwrap_err();
    assert!(matches!(
        error,
        Error::NotFound(Missing::Item(ItemId(9999)))
    ));
    assert_eq!(fx.counts(D::Inbox), (2, 1));
}

#[test]
fn move_gives_a_new_id_and_carries_attachments() {
    let fx = Fixture::new();
    let item = fx.create(D::Inbox, VOICE, false, &[b"one", b"two"]);
    let attachments: Vec<AttachmentId> = fx
        .store
        .item(&fx.mbx, item)
        .unwrap()
        .attachments
        .iter()
        .map(|a| a.id)
        .collect();
    let (inbox, deleted) = (fx.folder_id(D::Inbox), fx.folder_id(D::DeletedItems));
    let committed = fx.apply(Change::MoveItem { item, to: deleted });
    let Outcome::Item {
        item: moved,
        change_key,
    } = committed.outcome
    else {
        panic!()
    };
    assert_ne!(moved, item);
    assert_eq!(change_key, ChangeKey(2));
    assert!(committed.events.iter().any(|l| l.event
        == Event::ItemMoved {
            item: moved,
            change_key,
            parent: deleted,
            old_item: item,
            old_parent: inbox,
            search_folders: vec![fx.folder_id(D::Voicemail)],
        }));
    assert!(matches!(
        fx.store.item(&fx.mbx, item),
        Err(Error::NotFound(Missing::Item(_)))
    ));
    let stored = fx.store.item(&fx.mbx, moved).unwrap();
    assert_eq!(stored.parent, deleted);
    assert_eq!(
        stored.attachments.iter().map(|a| a.id).collect::<Vec<_>>(),
        attachments
    );
    for id in attachments {
        assert_eq!(fx.store.attachment(&fx.mbx, id).unwrap().item, moved);
    }
    assert_eq!(fx.counts(D::Inbox), (0, 0));
    assert_eq!(fx.counts(D::DeletedItems), (1, 1));
    assert_eq!(
        fx.counts(D::Voicemail),
        (1, 1),
        "voicemail lists items in any folder"
    );
    let listed = fx.store.items(&fx.mbx, fx.folder_id(D::Voicemail)).unwrap();
    assert_eq!(listed.iter().map(|i| i.id).collect::<Vec<_>>(), vec![moved]);
    let error = fx
        .store
        .apply(
            &fx.mbx,
            Change::MoveItem {
                item: moved,
                to: fx.folder_id(D::Voicemail),
            },
            at(1),
        )
        .unwrap_err();
    assert!(matches!(error, Error::InvalidParent { what: "items", .. }));
}

#[test]
fn copy_duplicates_item_and_attachments_under_new_ids() {
    let fx = Fixture::new();
    let item = fx.create(D::Inbox, VOICE, true, &[b"audio bytes"]);
    let original = fx.store.item(&fx.mbx, item).unwrap();
    let sent = fx.folder_id(D::SentItems);
    let committed = fx.apply(Change::CopyItem { item, to: sent });
    let Outcome::Item {
        item: copy,
        change_key,
    } = committed.outcome
    else {
        panic!()
    };
    assert_ne!(copy, item);
    assert_eq!(change_key, ChangeKey(1));
    assert!(committed.events.iter().any(|l| matches!(l.event,
        Event::ItemCopied { item: i, old_item: o, parent: p, old_parent: op, .. }
            if i == copy && o == item && p == sent && op == fx.folder_id(D::Inbox))));
    let copied = fx.store.item(&fx.mbx, copy).unwrap();
    assert_eq!(
        copied.props.unicode(tags::SUBJECT),
        original.props.unicode(tags::SUBJECT)
    );
    let [copied_attachment] = copied.attachments.as_slice() else {
        panic!()
    };
    assert_ne!(copied_attachment.id, original.attachments[0].id);
    assert_eq!(
        fx.store
            .attachment(&fx.mbx, copied_attachment.id)
            .unwrap()
            .content,
        b"audio bytes"
    );
    assert_eq!(
        fx.store
            .attachment(&fx.mbx, copied_attachment.id)
            .unwrap()
            .item,
        copy
    );
    assert_eq!(fx.counts(D::Voicemail), (2, 0));
    assert_eq!(fx.counts(D::SentItems), (1, 0));
    // Deleting the original leaves the copy's attachment intact.
    fx.apply(Change::DeleteItem { item });
    assert_eq!(
        fx.store
            .attachment(&fx.mbx, copied_attachment.id)
            .unwrap()
            .content,
        b"audio bytes"
    );
    assert_eq!(fx.counts(D::Voicemail), (1, 0));
}

#[test]
fn deleting_an_item_deletes_its_attachments() {
    let fx = Fixture::new();
    let item = fx.create(D::Inbox, VOICE, false, &[b"x", b"y"]);
    let ids: Vec<AttachmentId> = fx
        .store
        .item(&fx.mbx, item)
        .unwrap()
        .attachments
        .iter()
        .map(|a| a.id)
        .collect();
    let events = fx.events(Change::DeleteItem { item });
    assert_eq!(
        events[0],
        Event::ItemDeleted {
            item,
            parent: fx.folder_id(D::Inbox),
            search_folders: vec![fx.folder_id(D::Voicemail)],
        }
    );
    for id in ids {
        assert!(matches!(
            fx.store.attachment(&fx.mbx, id),
            Err(Error::NotFound(Missing::Attachment(_)))
        ));
    }
    let report = fx.store.verify(&fx.mbx).unwrap();
    assert_eq!((report.items, report.attachments), (0, 0));
    assert_eq!(fx.counts(D::Voicemail), (0, 0));
    assert_eq!(fx.counts(D::Inbox), (0, 0));
}

#[test]
fn stale_change_key_is_a_conflict_and_changes_nothing() {
    let fx = Fixture::new();
    let item = fx.create(D::Inbox, "IPM.Note", false, &[]);
    let subject = |text: &str| {
        vec![(
            PropKey::from(tags::SUBJECT),
            PropValue::Unicode(text.into()),
        )]
    };
    let committed = fx.apply(Change::UpdateItem {
        item,
        expected: Some(ChangeKey(1)),
        set: subject("second"),
        delete: vec![],
    });
    assert_eq!(
        committed.outcome,
        Outcome::Item {
            item,
            change_key: ChangeKey(2)
        }
    );
    let events: Vec<_> = committed.events.iter().map(|l| &l.event).collect();
    assert_eq!(
        events.len(),
        1,
        "a subject change moves no count: {events:?}"
    );
    let before = fx.store.log_bounds(&fx.mbx).unwrap();
    let error = fx
        .store
        .apply(
            &fx.mbx,
            Change::UpdateItem {
                item,
                expected: Some(ChangeKey(1)),
                set: subject("third"),
                delete: vec![],
            },
            at(12),
        )
        .unwrap_err();
    assert!(matches!(
        error,
        Error::Conflict { item: i, expected: ChangeKey(1), current: ChangeKey(2) } if i == item
    ));
    let stored = fx.store.item(&fx.mbx, item).unwrap();
    assert_eq!(stored.props.unicode(tags::SUBJECT), Some("second"));
    assert_eq!(stored.change_key, ChangeKey(2));
    assert_eq!(
        fx.store.log_bounds(&fx.mbx).unwrap(),
        before,
        "a failed change logs nothing"
    );
    // Without an expected key the update always applies.
    fx.apply(Change::UpdateItem {
        item,
        expected: None,
        set: subject("fourth"),
        delete: vec![tags::BODY.into()],
    });
    assert_eq!(
        fx.store.item(&fx.mbx, item).unwrap().change_key,
        ChangeKey(3)
    );
}

#[test]
fn changing_the_class_moves_an_item_into_and_out_of_voicemail() {
    let fx = Fixture::new();
    let item = fx.create(D::Inbox, "IPM.Note", false, &[]);
    let voicemail = fx.folder_id(D::Voicemail);
    let set_class = |class: &str| Change::UpdateItem {
        item,
        expected: None,
        set: vec![(tags::MESSAGE_CLASS.into(), PropValue::Unicode(class.into()))],
        delete: vec![],
    };
    let events = fx.events(set_class("ipm.note.microsoft.voicemail.um"));
    assert!(
        matches!(&events[0], Event::ItemModified { search_folders, .. } if *search_folders == vec![voicemail])
    );
    assert_eq!(fx.counts(D::Voicemail), (1, 1));
    // Not a subclass: "Voicemail2" only shares a prefix of characters.
    fx.apply(set_class("IPM.Note.Microsoft.Voicemail2"));
    assert_eq!(fx.counts(D::Voicemail), (0, 0));
    fx.apply(set_class("IPM.Note.Microsoft.Voicemail"));
    assert_eq!(fx.counts(D::Voicemail), (1, 1));
    fx.apply(Change::UpdateItem {
        item,
        expected: None,
        set: vec![],
        delete: vec![tags::MESSAGE_CLASS.into()],
    });
    assert_eq!(fx.counts(D::Voicemail), (0, 0));
    assert_eq!(fx.counts(D::Inbox), (1, 1));
}

#[test]
fn invalid_properties_are_refused() {
    let fx = Fixture::new();
    let inbox = fx.folder_id(D::Inbox);
    let create = |key: PropKey, value: PropValue| {
        fx.store.apply(
            &fx.mbx,
            Change::CreateItem {
                folder: inbox,
                props: vec![(key, value)],
                attachments: vec![],
            },
            at(1),
        )
    };
    let cases = [
        (tags::MESSAGE_SIZE.into(), PropValue::Int32(1)),
        (tags::SUBJECT.into(), PropValue::Int32(1)),
        (
            PropTag::new(0x8001, PropType::Int32).into(),
            PropValue::Int32(1),
        ),
        (
            PropKey::Named(
                NamedProperty::new(property_sets::PUBLIC_STRINGS, PropName::Name("x".into())),
                PropType::Unicode,
            ),
            PropValue::Binary(vec![]),
        ),
    ];
    for (key, value) in cases {
        assert!(matches!(
            create(key, value),
            Err(Error::InvalidProperty { .. })
        ));
    }
    assert_eq!(fx.counts(D::Inbox), (0, 0));
}

#[test]
fn named_properties_map_to_stable_ids_from_0x8000() {
    let fx = Fixture::new();
    let asr = NamedProperty::new(
        property_sets::UNIFIED_MESSAGING,
        PropName::Name("AsrData".into()),
    );
    let caller = NamedProperty::new(
        property_sets::INTERNET_HEADERS,
        PropName::Name("X-CallingTelephoneNumber".into()),
    );
    let numeric = NamedProperty::new(property_sets::COMMON, PropName::Id(0x8580));
    let unused = NamedProperty::new(property_sets::PUBLIC_STRINGS, PropName::Name("none".into()));
    assert_eq!(
        fx.store
            .named_property_ids(&fx.mbx, std::slice::from_ref(&asr))
            .unwrap(),
        vec![None]
    );
    let item = fx.create(D::Inbox, VOICE, false, &[]);
    fx.apply(Change::UpdateItem {
        item,
        expected: None,
        set: vec![
            (
                PropKey::Named(asr.clone(), PropType::Binary),
                PropValue::Binary(b"<xml/>".to_vec()),
            ),
            (
                PropKey::Named(caller.clone(), PropType::Unicode),
                PropValue::Unicode("+14255550100".into()),
            ),
            (
                PropKey::Named(numeric.clone(), PropType::Int32),
                PropValue::Int32(7),
            ),
        ],
        // Deleting a name never used must not create a mapping.
        delete: vec![PropKey::Named(unused.clone(), PropType::Unicode)],
    });
    let ids = fx
        .store
        .named_property_ids(&fx.mbx, &[asr.clone(), caller.clone(), numeric, unused])
        .unwrap();
    assert_eq!(ids, vec![Some(0x8000), Some(0x8001), Some(0x8002), None]);
    assert_eq!(
        fx.store.named_property(&fx.mbx, 0x8000).unwrap(),
        Some(asr.clone())
    );
    assert_eq!(fx.store.named_property(&fx.mbx, 0x8003).unwrap(), None);
    let stored = fx.store.item(&fx.mbx, item).unwrap();
    assert_eq!(
        stored.props.get(PropTag::new(0x8000, PropType::Binary)),
        Some(&PropValue::Binary(b"<xml/>".to_vec()))
    );
    // The same names in another item reuse the ids; header names are case-insensitive.
    let again = NamedProperty::new(
        property_sets::INTERNET_HEADERS,
        PropName::Name("x-callingtelephonenumber".into()),
    );
    let second = fx.create(D::Inbox, VOICE, false, &[]);
    fx.apply(Change::UpdateItem {
        item: second,
        expected: None,
        set: vec![(
            PropKey::Named(again, PropType::Unicode),
            PropValue::Unicode("1".into()),
        )],
        delete: vec![],
    });
    assert_eq!(
        fx.store
            .item(&fx.mbx, second)
            .unwrap()
            .props
            .unicode(PropTag::new(0x8001, PropType::Unicode)),
        Some("1")
    );
    assert_eq!(
        fx.store.named_property_ids(&fx.mbx, &[caller]).unwrap(),
        vec![Some(0x8001)]
    );
}

#[test]
fn folders_create_rename_and_refuse_bad_parents() {
    let fx = Fixture::new();
    let inbox = fx.folder_id(D::Inbox);
    let named = |name: &str| {
        vec![
            (
                PropKey::from(tags::DISPLAY_NAME),
                PropValue::Unicode(name.into()),
            ),
            (
                tags::CONTAINER_CLASS.into(),
                PropValue::Unicode("IPF.Note".into()),
            ),
        ]
    };
    let committed = fx.apply(Change::CreateFolder {
        parent: inbox,
        props: named("Projects"),
    });
    let Outcome::Folder {
        folder: projects,
        change_key,
    } = committed.outcome
    else {
        panic!()
    };
    assert_eq!(change_key, ChangeKey(1));
    let events: Vec<_> = committed.events.into_iter().map(|l| l.event).collect();
    assert_eq!(
        events[0],
        Event::FolderCreated {
            folder: projects,
            change_key,
            parent: Some(inbox)
        }
    );
    assert!(matches!(events[1], Event::FolderModified { folder, .. } if folder == inbox));
    assert_eq!(fx.folder(inbox).child_folder_count, 1);
    let duplicate = fx
        .store
        .apply(
            &fx.mbx,
            Change::CreateFolder {
                parent: inbox,
                props: named("PROJECTS"),
            },
            at(1),
        )
        .unwrap_err();
    assert!(matches!(duplicate, Error::FolderExists { parent, .. } if parent == inbox));
    let other = fx.apply(Change::CreateFolder {
        parent: inbox,
        props: named("Other"),
    });
    let Outcome::Folder { folder: other, .. } = other.outcome else {
        panic!()
    };
    let rename = |folder, name: &str| Change::UpdateFolder {
        folder,
        set: vec![(tags::DISPLAY_NAME.into(), PropValue::Unicode(name.into()))],
        delete: vec![],
    };
    assert!(matches!(
        fx.store.apply(&fx.mbx, rename(other, "projects"), at(1)),
        Err(Error::FolderExists { .. })
    ));
    let renamed = fx.apply(rename(projects, "Projects 2025"));
    assert_eq!(
        renamed.outcome,
        Outcome::Folder {
            folder: projects,
            change_key: ChangeKey(2)
        }
    );
    assert!(
        matches!(renamed.events[0].event, Event::FolderModified { folder, .. } if folder == projects)
    );
    assert_eq!(
        fx.folder(projects).props.unicode(tags::DISPLAY_NAME),
        Some("Projects 2025")
    );
    // Renaming to its own name (other case) is fine.
    fx.apply(rename(projects, "PROJECTS 2025"));
    let voicemail = fx.folder_id(D::Voicemail);
    assert!(matches!(
        fx.store.apply(
            &fx.mbx,
            Change::CreateFolder {
                parent: voicemail,
                props: named("x")
            },
            at(1)
        ),
        Err(Error::InvalidParent {
            what: "folders",
            ..
        })
    ));
    assert!(matches!(
        fx.store.apply(
            &fx.mbx,
            Change::CreateItem {
                folder: voicemail,
                props: message(VOICE, "s", false),
                attachments: vec![]
            },
            at(1)
        ),
        Err(Error::InvalidParent { what: "items", .. })
    ));
    for which in [D::Inbox, D::Voicemail, D::Root] {
        assert!(matches!(
            fx.store.apply(
                &fx.mbx,
                Change::DeleteFolder {
                    folder: fx.folder_id(which)
                },
                at(1)
            ),
            Err(Error::NotAllowed { .. })
        ));
    }
    assert!(matches!(
        fx.store.apply(
            &fx.mbx,
            Change::DeleteFolder {
                folder: FolderId(99_999)
            },
            at(1)
        ),
        Err(Error::NotFound(Missing::Folder(FolderId(99_999))))
    ));
}

#[test]
fn deleting_a_folder_takes_its_subtree_items_and_attachments() {
    let fx = Fixture::new();
    let inbox = fx.folder_id(D::Inbox);
    let create_folder = |parent, name: &str| match fx
        .apply(Change::CreateFolder {
            parent,
            props: vec![(tags::DISPLAY_NAME.into(), PropValue::Unicode(name.into()))],
        })
        .outcome
    {
        Outcome::Folder { folder, .. } => folder,
        other => panic!("{other:?}"),
    };
    let top = create_folder(inbox, "top");
    let child = create_folder(top, "child");
    let grandchild = create_folder(child, "grandchild");
    let item_in = |folder, class: &str| match fx
        .apply(Change::CreateItem {
            folder,
            props: message(class, "s", false),
            attachments: vec![wav(b"audio")],
        })
        .outcome
    {
        Outcome::Item { item, .. } => item,
        other => panic!("{other:?}"),
    };
    let voice = item_in(grandchild, VOICE);
    let plain = item_in(top, "IPM.Note");
    let keep = item_in(inbox, VOICE);
    assert_eq!(fx.counts(D::Voicemail), (2, 2));
    let events = fx.events(Change::DeleteFolder { folder: top });
    let deleted_folders: Vec<FolderId> = events
        .iter()
        .filter_map(|e| match e {
            Event::FolderDeleted { folder, .. } => Some(*folder),
            _ => None,
        })
        .collect();
    assert_eq!(
        deleted_folders,
        vec![grandchild, child, top],
        "children before parents"
    );
    let deleted_items: Vec<ItemId> = events
        .iter()
        .filter_map(|e| match e {
            Event::ItemDeleted { item, .. } => Some(*item),
            _ => None,
        })
        .collect();
    assert_eq!(deleted_items, vec![voice, plain]);
    let modified: Vec<FolderId> = events
        .iter()
        .filter_map(|e| match e {
            Event::FolderModified { folder, .. } => Some(*folder),
            _ => None,
        })
        .collect();
    assert_eq!(modified, vec![inbox, fx.folder_id(D::Voicemail)]);
    assert_eq!(fx.counts(D::Voicemail), (1, 1));
    assert_eq!(fx.folder(inbox).child_folder_count, 0);
    for folder in [top, child, grandchild] {
        assert!(matches!(
            fx.store.folder(&fx.mbx, folder),
            Err(Error::NotFound(_))
        ));
    }
    let report = fx.store.verify(&fx.mbx).unwrap();
    assert_eq!((report.items, report.attachments), (1, 1));
    assert!(fx.store.item(&fx.mbx, keep).is_ok());
}

#[test]
fn empty_folder_with_and_without_subfolders() {
    let fx = Fixture::new();
    let deleted = fx.folder_id(D::DeletedItems);
    let sub = match fx
        .apply(Change::CreateFolder {
            parent: deleted,
            props: vec![(tags::DISPLAY_NAME.into(), PropValue::Unicode("old".into()))],
        })
        .outcome
    {
        Outcome::Folder { folder, .. } => folder,
        other => panic!("{other:?}"),
    };
    fx.create(D::DeletedItems, VOICE, false, &[b"1"]);
    fx.create(D::DeletedItems, "IPM.Note", true, &[]);
    fx.apply(Change::CreateItem {
        folder: sub,
        props: message("IPM.Note", "s", false),
        attachments: vec![],
    });
    fx.apply(Change::EmptyFolder {
        folder: deleted,
        delete_subfolders: false,
    });
    assert_eq!(fx.counts(D::DeletedItems), (0, 0));
    assert_eq!(fx.counts(D::Voicemail), (0, 0));
    assert_eq!(fx.folder(sub).total_count, 1, "subfolder kept");
    fx.apply(Change::EmptyFolder {
        folder: deleted,
        delete_subfolders: true,
    });
    assert!(fx.store.folder(&fx.mbx, sub).is_err());
    assert_eq!(fx.folder(deleted).child_folder_count, 0);
    assert!(matches!(
        fx.store.apply(
            &fx.mbx,
            Change::EmptyFolder {
                folder: fx.folder_id(D::Voicemail),
                delete_subfolders: false
            },
            at(1)
        ),
        Err(Error::NotAllowed { .. })
    ));
    // Distinguished subfolders are never swept away, and the refusal changes nothing.
    let kept = fx.create(D::Inbox, "IPM.Note", false, &[]);
    assert!(matches!(
        fx.store.apply(
            &fx.mbx,
            Change::EmptyFolder {
                folder: fx.folder_id(D::MsgFolderRoot),
                delete_subfolders: true
            },
            at(1)
        ),
        Err(Error::NotAllowed { .. })
    ));
    assert!(fx.store.item(&fx.mbx, kept).is_ok());
    fx.check();
}

#[test]
fn attachments_can_be_added_and_deleted() {
    let fx = Fixture::new();
    let item = fx.create(D::Inbox, VOICE, false, &[]);
    assert_eq!(
        fx.store
            .item(&fx.mbx, item)
            .unwrap()
            .props
            .boolean(tags::HAS_ATTACHMENTS),
        Some(false)
    );
    let committed = fx.apply(Change::AddAttachment {
        item,
        attachment: wav(b"RIFF....WAVE"),
    });
    let Outcome::Attachment {
        attachment,
        item: owner,
        item_change_key,
    } = committed.outcome
    else {
        panic!()
    };
    assert_eq!((owner, item_change_key), (item, ChangeKey(2)));
    let events: Vec<_> = committed.events.into_iter().map(|l| l.event).collect();
    assert!(
        matches!(events[0], Event::ItemModified { item: i, change_key: ChangeKey(2), .. } if i == item)
    );
    assert!(
        events.iter().any(|e| matches!(e, Event::FolderModified { folder, .. } if *folder == fx.folder_id(D::Voicemail))),
        "a voice item changed, so voicemail's counts are announced"
    );
    let stored = fx.store.item(&fx.mbx, item).unwrap();
    assert_eq!(stored.props.boolean(tags::HAS_ATTACHMENTS), Some(true));
    assert_eq!(
        fx.store.attachment(&fx.mbx, attachment).unwrap().content,
        b"RIFF....WAVE"
    );
    let removed = fx.apply(Change::DeleteAttachment { attachment });
    assert_eq!(
        removed.outcome,
        Outcome::Item {
            item,
            change_key: ChangeKey(3)
        }
    );
    assert!(fx.store.attachment(&fx.mbx, attachment).is_err());
    let stored = fx.store.item(&fx.mbx, item).unwrap();
    assert_eq!(stored.props.boolean(tags::HAS_ATTACHMENTS), Some(false));
    assert!(stored.attachments.is_empty());
}

#[test]
fn oversized_attachments_are_refused_whole() {
    let fx = Fixture::with_options(Options {
        max_attachment_bytes: 16,
        ..Options::default()
    });
    let error = fx
        .store
        .apply(
            &fx.mbx,
            Change::CreateItem {
                folder: fx.folder_id(D::Inbox),
                props: message(VOICE, "s", false),
                attachments: vec![wav(&[0; 16]), wav(&[0; 17])],
            },
            at(1),
        )
        .unwrap_err();
    assert!(matches!(
        error,
        Error::TooLarge {
            what: "attachment",
            size: 17,
            limit: 16
        }
    ));
    let report = fx.store.verify(&fx.mbx).unwrap();
    assert_eq!(
        (report.items, report.attachments),
        (0, 0),
        "nothing of the failed delivery remains"
    );
    assert!(report.problems.is_empty());
}

#[test]
fn change_log_reads_from_a_watermark_and_trims() {
    let fx = Fixture::new();
    let start = fx.store.log_bounds(&fx.mbx).unwrap();
    assert_eq!(start.oldest, Seq(0));
    let mut all = Vec::new();
    for second in 1..=5u64 {
        let committed = fx
            .store
            .apply(
                &fx.mbx,
                Change::CreateItem {
                    folder: fx.folder_id(D::Inbox),
                    props: message("IPM.Note", "s", true),
                    attachments: vec![],
                },
                at(100 + second),
            )
            .unwrap();
        all.extend(committed.events);
    }
    let bounds = fx.store.log_bounds(&fx.mbx).unwrap();
    assert_eq!(bounds.latest, all.last().unwrap().seq);
    for pair in all.windows(2) {
        assert_eq!(pair[1].seq.0, pair[0].seq.0 + 1, "no gaps");
    }
    assert_eq!(
        fx.store.changes_since(&fx.mbx, start.latest, 1000).unwrap(),
        all
    );
    assert_eq!(
        fx.store.changes_since(&fx.mbx, start.latest, 3).unwrap(),
        all[..3].to_vec()
    );
    assert_eq!(
        fx.store.changes_since(&fx.mbx, bounds.latest, 10).unwrap(),
        vec![]
    );
    let future = Seq(bounds.latest.0 + 1);
    assert!(matches!(
        fx.store.changes_since(&fx.mbx, future, 10),
        Err(Error::InvalidWatermark { requested, .. }) if requested == future
    ));
    // Everything logged before second 103 goes: the mailbox setup and the first two creations.
    let removed = fx.store.trim_changes_before(&fx.mbx, at(103)).unwrap();
    let kept_from = all.iter().position(|l| l.time >= at(103)).unwrap();
    assert_eq!(removed, start.latest.0 + kept_from as u64);
    let trimmed = fx.store.log_bounds(&fx.mbx).unwrap();
    assert_eq!(
        trimmed,
        LogBounds {
            oldest: Seq(all[kept_from].seq.0 - 1),
            latest: bounds.latest
        }
    );
    assert_eq!(
        fx.store
            .changes_since(&fx.mbx, trimmed.oldest, 1000)
            .unwrap(),
        all[kept_from..].to_vec()
    );
    assert!(matches!(
        fx.store
            .changes_since(&fx.mbx, Seq(trimmed.oldest.0 - 1), 10),
        Err(Error::InvalidWatermark { .. })
    ));
    assert_eq!(fx.store.trim_changes_before(&fx.mbx, at(103)).unwrap(), 0);
    // Trimming everything leaves an empty log that still continues the numbering.
    fx.store.trim_changes_before(&fx.mbx, at(1_000)).unwrap();
    let empty = fx.store.log_bounds(&fx.mbx).unwrap();
    assert_eq!(
        empty,
        LogBounds {
            oldest: bounds.latest,
            latest: bounds.latest
        }
    );
    let next = fx.create(D::Inbox, "IPM.Note", true, &[]);
    let after = fx.store.changes_since(&fx.mbx, bounds.latest, 10).unwrap();
    assert_eq!(after[0].seq, Seq(bounds.latest.0 + 1));
    assert!(matches!(after[0].event, Event::ItemCreated { item, .. } if item == next));
}

#[test]
fn random_changes_keep_every_counter_equal_to_a_recount() {
    let fx = Fixture::new();
    let mut rng = Rng::new(42);
    let folders = [
        D::Inbox,
        D::DeletedItems,
        D::JunkEmail,
        D::ConversationHistory,
    ];
    let classes = [
        VOICE,
        "IPM.Note",
        "IPM.Note.Microsoft.Voicemail.UM",
        "IPM.Note.Microsoft.Missed.Voice",
    ];
    let mut items: Vec<ItemId> = Vec::new();
    for _ in 0..150 {
        let pick = |rng: &mut Rng, len: usize| rng.below(len as u64) as usize;
        let folder = fx.folder_id(folders[pick(&mut rng, folders.len())]);
        let change = match (rng.below(7), items.is_empty()) {
            (0, _) | (_, true) => Change::CreateItem {
                folder,
                props: message(
                    classes[pick(&mut rng, classes.len())],
                    "s",
                    rng.below(2) == 0,
                ),
                attachments: (0..rng.below(3)).map(|n| wav(&[n as u8; 10])).collect(),
            },
            (1, _) => Change::DeleteItem {
                item: items.swap_remove(pick(&mut rng, items.len())),
            },
            (2, _) => Change::MoveItem {
                item: items.swap_remove(pick(&mut rng, items.len())),
                to: folder,
            },
            (3, _) => Change::CopyItem {
                item: items[pick(&mut rng, items.len())],
                to: folder,
            },
            (4, _) => Change::SetReadFlag {
                items: vec![items[pick(&mut rng, items.len())]],
                read: rng.below(2) == 0,
            },
            (5, _) => Change::UpdateItem {
                item: items[pick(&mut rng, items.len())],
                expected: None,
                set: vec![(
                    tags::MESSAGE_CLASS.into(),
                    PropValue::Unicode(classes[pick(&mut rng, classes.len())].into()),
                )],
                delete: vec![],
            },
            _ => Change::AddAttachment {
                item: items[pick(&mut rng, items.len())],
                attachment: wav(b"more"),
            },
        };
        // `apply` verifies every counter against a recount after each change.
        match fx.apply(change).outcome {
            Outcome::Item { item, .. } => {
                if !items.contains(&item) {
                    items.push(item);
                }
            }
            Outcome::Done
            | Outcome::Items(_)
            | Outcome::Attachment { .. }
            | Outcome::Folder { .. } => {}
        }
    }
    let voice_total: u64 = folders
        .iter()
        .map(|which| {
            fx.store
                .items(&fx.mbx, fx.folder_id(*which))
                .unwrap()
                .iter()
                .filter(|item| {
                    item.props
                        .unicode(tags::MESSAGE_CLASS)
                        .is_some_and(|class| class.starts_with(VOICEMAIL_CLASS_PREFIX))
                })
                .count() as u64
        })
        .sum();
    assert_eq!(fx.counts(D::Voicemail).0, voice_total);
}

/// A plain folder named `name` under `parent`.
fn new_folder(fx: &Fixture, parent: FolderId, name: &str) -> FolderId {
    match fx
        .apply(Change::CreateFolder {
            parent,
            props: vec![(tags::DISPLAY_NAME.into(), PropValue::Unicode(name.into()))],
        })
        .outcome
    {
        Outcome::Folder { folder, .. } => folder,
        other => panic!("{other:?}"),
    }
}

/// An item of `class` in `folder` with one attachment holding `audio`.
fn item_in(fx: &Fixture, folder: FolderId, class: &str, read: bool, audio: &[u8]) -> ItemId {
    match fx
        .apply(Change::CreateItem {
            folder,
            props: message(class, "s", read),
            attachments: vec![wav(audio)],
        })
        .outcome
    {
        Outcome::Item { item, .. } => item,
        other => panic!("{other:?}"),
    }
}

#[test]
fn moving_a_folder_keeps_ids_and_moves_only_the_parents_counts() {
    let fx = Fixture::new();
    let (inbox, deleted) = (fx.folder_id(D::Inbox), fx.folder_id(D::DeletedItems));
    let voicemail = fx.folder_id(D::Voicemail);
    let top = new_folder(&fx, inbox, "Projects");
    let child = new_folder(&fx, top, "Old");
    let voice = item_in(&fx, child, VOICE, false, b"audio");
    let plain = item_in(&fx, top, "IPM.Note", false, b"doc");
    let before = fx.folder(top);
    let voicemail_key = fx.folder(voicemail).change_key;
    let log_before = fx.store.log_bounds(&fx.mbx).unwrap();

    let committed = fx.apply(Change::MoveFolder {
        folder: top,
        to: deleted,
    });
    let moved = fx.folder(top);
    assert_eq!(
        committed.outcome,
        Outcome::Folder {
            folder: top,
            change_key: ChangeKey(before.change_key.0 + 1)
        }
    );
    assert_eq!(moved.change_key, ChangeKey(before.change_key.0 + 1));
    assert_eq!(moved.parent, Some(deleted));
    assert_eq!(
        (
            moved.total_count,
            moved.unread_count,
            moved.child_folder_count
        ),
        (1, 1, 1)
    );
    let events: Vec<Event> = committed.events.iter().map(|l| l.event.clone()).collect();
    assert_eq!(events.len(), 3, "{events:#?}");
    assert_eq!(
        events[0],
        Event::FolderMoved {
            folder: top,
            change_key: moved.change_key,
            parent: deleted,
            old_parent: inbox
        }
    );
    let modified: Vec<FolderId> = events
        .iter()
        .filter_map(|e| match e {
            Event::FolderModified { folder, .. } => Some(*folder),
            _ => None,
        })
        .collect();
    assert_eq!(modified, vec![inbox, deleted], "voicemail is not touched");
    assert_eq!(fx.folder(inbox).child_folder_count, 0);
    assert_eq!(fx.folder(deleted).child_folder_count, 1);
    assert_eq!(fx.counts(D::Voicemail), (1, 1));
    assert_eq!(fx.folder(voicemail).change_key, voicemail_key);
    // The subtree and its items follow under their own ids.
    assert_eq!(fx.folder(child).parent, Some(top));
    assert_eq!(fx.store.item(&fx.mbx, voice).unwrap().parent, child);
    assert_eq!(fx.store.item(&fx.mbx, plain).unwrap().parent, top);
    let below: Vec<FolderId> = fx
        .store
        .child_folders(&fx.mbx, deleted, Traversal::Deep)
        .unwrap()
        .iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(below, vec![top, child]);
    assert!(fx
        .store
        .child_folders(&fx.mbx, inbox, Traversal::Deep)
        .unwrap()
        .is_empty());
    // The log continues without gaps and re-reads as returned.
    assert_eq!(committed.events[0].seq, Seq(log_before.latest.0 + 1));
    assert_eq!(
        fx.store
            .changes_since(&fx.mbx, log_before.latest, 100)
            .unwrap(),
        committed.events
    );
    // Back to the same place: a plain move again.
    fx.apply(Change::MoveFolder {
        folder: top,
        to: inbox,
    });
    assert_eq!(fx.folder(deleted).child_folder_count, 0);
    assert_eq!(fx.folder(inbox).child_folder_count, 1);
}

#[test]
fn folder_moves_and_copies_refuse_bad_targets_and_change_nothing() {
    let fx = Fixture::new();
    let inbox = fx.folder_id(D::Inbox);
    let top = new_folder(&fx, inbox, "Projects");
    let child = new_folder(&fx, top, "Old");
    let grandchild = new_folder(&fx, child, "Older");
    new_folder(&fx, fx.folder_id(D::DeletedItems), "projects");
    item_in(&fx, grandchild, VOICE, false, b"audio");
    let log = fx.store.log_bounds(&fx.mbx).unwrap();
    let deleted = fx.folder_id(D::DeletedItems);
    let refusals = [
        (inbox, deleted, "distinguished"),
        (fx.folder_id(D::Voicemail), inbox, "distinguished"),
        (top, top, "into itself"),
        (top, child, "into its child"),
        (top, grandchild, "into its grandchild"),
        (child, fx.folder_id(D::Voicemail), "into a search folder"),
        (top, deleted, "name clash"),
        (child, FolderId(999_999), "missing target"),
    ];
    for copy in [false, true] {
        for (folder, to, why) in refusals {
            let change = if copy {
                Change::CopyFolder { folder, to }
            } else {
                Change::MoveFolder { folder, to }
            };
            let error = fx.store.apply(&fx.mbx, change, at(20)).unwrap_err();
            let expected = match why {
                "distinguished" => matches!(error, Error::NotAllowed { .. }),
                "name clash" => matches!(error, Error::FolderExists { .. }),
                "missing target" => matches!(error, Error::NotFound(Missing::Folder(_))),
                _ => matches!(error, Error::InvalidParent { folder, .. } if folder == to),
            };
            assert!(expected, "copy={copy} {why}: {error:?}");
        }
    }
    // Copying into the same parent clashes with the original's name.
    assert!(matches!(
        fx.store.apply(
            &fx.mbx,
            Change::CopyFolder {
                folder: child,
                to: top
            },
            at(20)
        ),
        Err(Error::FolderExists { .. })
    ));
    assert_eq!(fx.store.log_bounds(&fx.mbx).unwrap(), log, "nothing logged");
    fx.check();
    assert_eq!(fx.folder(child).parent, Some(top));
}

#[test]
fn copying_a_folder_duplicates_the_subtree_items_and_attachments() {
    let fx = Fixture::new();
    let inbox = fx.folder_id(D::Inbox);
    let deleted = fx.folder_id(D::DeletedItems);
    let voicemail = fx.folder_id(D::Voicemail);
    let top = new_folder(&fx, inbox, "Projects");
    let child = new_folder(&fx, top, "Old");
    let sibling = new_folder(&fx, top, "New");
    let voice = item_in(&fx, child, VOICE, false, b"audio bytes");
    let plain = item_in(&fx, top, "IPM.Note", true, b"doc");
    let report = fx.store.verify(&fx.mbx).unwrap();

    let committed = fx.apply(Change::CopyFolder {
        folder: top,
        to: deleted,
    });
    let Outcome::Folder {
        folder: copy,
        change_key,
    } = committed.outcome
    else {
        panic!("{:?}", committed.outcome)
    };
    assert!(copy.0 > voice.0.max(plain.0), "a new id");
    let copied = fx.folder(copy);
    assert_eq!(copied.change_key, change_key);
    assert_eq!(copied.parent, Some(deleted));
    assert_eq!(copied.props.unicode(tags::DISPLAY_NAME), Some("Projects"));
    assert_eq!(
        (
            copied.total_count,
            copied.unread_count,
            copied.child_folder_count
        ),
        (1, 0, 2)
    );
    let tree: Vec<(FolderId, Option<FolderId>, String)> = fx
        .store
        .child_folders(&fx.mbx, copy, Traversal::Deep)
        .unwrap()
        .into_iter()
        .map(|f| {
            let name = f.props.unicode(tags::DISPLAY_NAME).unwrap().to_owned();
            (f.id, f.parent, name)
        })
        .collect();
    assert_eq!(tree.len(), 2);
    assert_eq!(
        tree.iter().map(|t| t.2.as_str()).collect::<Vec<_>>(),
        ["Old", "New"]
    );
    assert!(tree
        .iter()
        .all(|t| t.1 == Some(copy) && t.0 != child && t.0 != sibling));
    let old_copy = tree[0].0;
    let copied_voice = fx.store.items(&fx.mbx, old_copy).unwrap();
    assert_eq!(copied_voice.len(), 1);
    assert_ne!(copied_voice[0].id, voice);
    let attachment = &copied_voice[0].attachments[0];
    assert_eq!(
        fx.store.attachment(&fx.mbx, attachment.id).unwrap().content,
        b"audio bytes"
    );
    // The originals stay; the voicemail folder lists the copy too.
    assert_eq!(fx.folder(inbox).child_folder_count, 1);
    assert_eq!(fx.folder(top).child_folder_count, 2);
    assert_eq!(fx.counts(D::Voicemail), (2, 2));
    let after = fx.store.verify(&fx.mbx).unwrap();
    assert_eq!(
        (after.folders, after.items, after.attachments),
        (report.folders + 3, report.items + 2, report.attachments + 2)
    );
    // CopiedEvent for the top first, then the subfolders and items, then the counts.
    let events: Vec<Event> = committed.events.iter().map(|l| l.event.clone()).collect();
    assert!(
        matches!(events[0], Event::FolderCopied { folder, parent, old_folder, old_parent, .. }
        if folder == copy && parent == deleted && old_folder == top && old_parent == inbox)
    );
    let created: Vec<FolderId> = events
        .iter()
        .filter_map(|e| match e {
            Event::FolderCreated { folder, .. } => Some(*folder),
            _ => None,
        })
        .collect();
    assert_eq!(created, vec![tree[0].0, tree[1].0]);
    let copied_items: Vec<(ItemId, Vec<FolderId>)> = events
        .iter()
        .filter_map(|e| match e {
            Event::ItemCopied {
                old_item,
                search_folders,
                ..
            } => Some((*old_item, search_folders.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        copied_items,
        vec![(plain, vec![]), (voice, vec![voicemail])]
    );
    assert!(events.iter().any(
        |e| matches!(e, Event::FolderModified { folder, total_count: 2, .. } if *folder == voicemail)
    ));
    // A copy of a copy is independent: deleting the original leaves it whole.
    fx.apply(Change::DeleteFolder { folder: top });
    assert_eq!(fx.counts(D::Voicemail), (1, 1));
    assert_eq!(fx.folder(copy).child_folder_count, 2);
}

#[test]
fn folder_moves_and_copies_survive_a_reopen() {
    let fx = Fixture::new();
    let inbox = fx.folder_id(D::Inbox);
    let deleted = fx.folder_id(D::DeletedItems);
    let top = new_folder(&fx, inbox, "Projects");
    item_in(&fx, top, VOICE, false, b"audio");
    fx.apply(Change::MoveFolder {
        folder: top,
        to: deleted,
    });
    let copy = match fx
        .apply(Change::CopyFolder {
            folder: top,
            to: inbox,
        })
        .outcome
    {
        Outcome::Folder { folder, .. } => folder,
        other => panic!("{other:?}"),
    };
    let log = fx.store.changes_since(&fx.mbx, Seq(0), 10_000).unwrap();
    let Fixture { _dir, store, mbx } = fx;
    drop(store);
    let store = RedbStore::open(_dir.path(), Options::default()).unwrap();
    assert!(store.verify(&mbx).unwrap().problems.is_empty());
    assert_eq!(store.folder(&mbx, top).unwrap().parent, Some(deleted));
    assert_eq!(store.folder(&mbx, copy).unwrap().parent, Some(inbox));
    assert_eq!(store.folder(&mbx, copy).unwrap().total_count, 1);
    assert_eq!(store.changes_since(&mbx, Seq(0), 10_000).unwrap(), log);
    assert!(log
        .iter()
        .any(|l| matches!(l.event, Event::FolderMoved { folder, .. } if folder == top)));
}

#[test]
fn random_folder_moves_and_copies_keep_every_counter_equal_to_a_recount() {
    let fx = Fixture::new();
    let mut rng = Rng::new(7);
    let mut folders = vec![fx.folder_id(D::Inbox), fx.folder_id(D::DeletedItems)];
    let classes = [VOICE, "IPM.Note"];
    for step in 0..120 {
        let pick = |rng: &mut Rng, len: usize| rng.below(len as u64) as usize;
        let folder = folders[pick(&mut rng, folders.len())];
        let to = folders[pick(&mut rng, folders.len())];
        let change = match rng.below(5) {
            0 => Change::CreateFolder {
                parent: folder,
                props: vec![(
                    tags::DISPLAY_NAME.into(),
                    PropValue::Unicode(format!("f{step}")),
                )],
            },
            1 => Change::CreateItem {
                folder,
                props: message(classes[pick(&mut rng, 2)], "s", rng.below(2) == 0),
                attachments: vec![wav(b"x")],
            },
            2 => Change::MoveFolder { folder, to },
            3 => Change::CopyFolder { folder, to },
            _ => Change::DeleteFolder { folder },
        };
        // Refusals (distinguished, own subtree, clashes) are expected; each must leave the
        // mailbox consistent.
        let result = fx.store.apply(&fx.mbx, change, at(30));
        fx.check();
        if result.is_ok() {
            folders = vec![fx.folder_id(D::Inbox), fx.folder_id(D::DeletedItems)];
            for top in folders.clone() {
                let below = fx.store.child_folders(&fx.mbx, top, Traversal::Deep);
                folders.extend(below.unwrap().iter().map(|f| f.id));
            }
        }
    }
    assert!(folders.len() > 4, "the walk built a tree: {folders:?}");
}

/// The log watch moves once per commit that logged events, only after the commit, to the commit's
/// last sequence number; changes that log nothing leave it alone.
#[test]
fn the_log_watch_follows_commits() {
    let f = Fixture::new();
    let mut watch = f.store.watch_log(&f.mbx).unwrap();
    let start = *watch.borrow_and_update();
    assert_eq!(start, f.store.log_bounds(&f.mbx).unwrap().latest);
    let mut second = f.store.watch_log(&f.mbx).unwrap();
    let item = f.create(DistinguishedFolder::Inbox, VOICE, true, &[]);
    assert!(watch.has_changed().unwrap());
    let after = *watch.borrow_and_update();
    assert_eq!(after, f.store.log_bounds(&f.mbx).unwrap().latest);
    assert!(after > start);
    assert_eq!(*second.borrow_and_update(), after);
    // Already read: nothing changes, nothing is logged, the watch stays.
    f.apply(Change::SetReadFlag {
        items: vec![item],
        read: true,
    });
    assert!(!watch.has_changed().unwrap());
    // Another mailbox's commits are not this one's.
    let other = MailboxId::new("bob@example.com");
    f.store.ensure_mailbox(&other, at(1)).unwrap();
    assert!(!watch.has_changed().unwrap());
    assert!(matches!(
        f.store.watch_log(&MailboxId::new("nobody@example.com")),
        Err(Error::NotFound(Missing::Mailbox(_)))
    ));
}

/// Subscription records are opaque bytes kept across reopening; removing an absent one is fine.
#[test]
fn subscription_records_survive_reopening() {
    let dir = TestDir::new();
    {
        let store = RedbStore::open(dir.path(), Options::default()).unwrap();
        store.save_subscription("b", b"second").unwrap();
        store.save_subscription("a", b"first").unwrap();
        store.save_subscription("a", b"first, replaced").unwrap();
        store.remove_subscription("missing").unwrap();
        store
            .ensure_mailbox(&MailboxId::new("x@example.com"), at(0))
            .unwrap();
    }
    let store = RedbStore::open(dir.path(), Options::default()).unwrap();
    assert_eq!(
        store.subscriptions().unwrap(),
        vec![
            ("a".to_owned(), b"first, replaced".to_vec()),
            ("b".to_owned(), b"second".to_vec())
        ]
    );
    store.remove_subscription("a").unwrap();
    assert_eq!(store.subscriptions().unwrap().len(), 1);
    assert_eq!(
        store.mailboxes().unwrap(),
        vec![MailboxId::new("x@example.com")]
    );
}

/// Creates an associated (FAI) item of `class` in `folder`, unread, with one attachment.
fn associated_in(fx: &Fixture, folder: FolderId, class: &str) -> ItemId {
    let mut props = message(class, "hidden", false);
    props.push((tags::ASSOCIATED.into(), PropValue::Boolean(true)));
    match fx
        .apply(Change::CreateItem {
            folder,
            props,
            attachments: vec![wav(b"greeting")],
        })
        .outcome
    {
        Outcome::Item { item, .. } => item,
        other => panic!("{other:?}"),
    }
}

fn ids(items: Vec<Item>) -> Vec<ItemId> {
    items.into_iter().map(|item| item.id).collect()
}

/// Associated items are hidden from the folder's contents, its counts and every search folder
/// (a voice-class FAI item is not voice mail), are listed by `associated_items`, raise no new
/// mail, keep their flag, stay when the folder is emptied and survive reopening.
#[test]
fn associated_items_are_hidden_from_contents_counts_and_search_folders() {
    let fx = Fixture::new();
    let inbox = fx.folder_id(D::Inbox);
    let root = fx.folder_id(D::Root);
    let voicemail = fx.folder_id(D::Voicemail);
    let visible = fx.create(D::Inbox, VOICE, false, &[b"audio"]);
    let before = fx.counts(D::Inbox);
    let hidden = associated_in(&fx, inbox, VOICE);
    let config = associated_in(&fx, root, "IPM.Configuration.Test");

    assert_eq!(fx.counts(D::Inbox), before);
    assert_eq!(fx.counts(D::Inbox), (1, 1));
    assert_eq!(fx.counts(D::Voicemail), (1, 1));
    assert_eq!(ids(fx.store.items(&fx.mbx, inbox).unwrap()), [visible]);
    assert_eq!(ids(fx.store.items(&fx.mbx, voicemail).unwrap()), [visible]);
    assert_eq!(
        ids(fx.store.associated_items(&fx.mbx, inbox).unwrap()),
        [hidden]
    );
    assert_eq!(
        ids(fx.store.associated_items(&fx.mbx, root).unwrap()),
        [config]
    );
    assert!(fx.store.items(&fx.mbx, root).unwrap().is_empty());
    assert_eq!(fx.store.item(&fx.mbx, hidden).unwrap().attachments.len(), 1);

    // Creating one raised no NewMail and no count change on the folder.
    let mut props = message(VOICE, "more", false);
    props.push((tags::ASSOCIATED.into(), PropValue::Boolean(true)));
    let events = fx.events(Change::CreateItem {
        folder: inbox,
        props,
        attachments: Vec::new(),
    });
    assert!(
        matches!(events.as_slice(), [Event::ItemCreated { search_folders, .. }] if search_folders.is_empty()),
        "{events:?}"
    );

    // Reading it or changing it moves no counter, and the flag cannot be taken away.
    fx.apply(Change::SetReadFlag {
        items: vec![hidden],
        read: true,
    });
    assert_eq!(fx.counts(D::Inbox), (1, 1));
    for change in [
        Change::UpdateItem {
            item: hidden,
            expected: None,
            set: vec![(tags::ASSOCIATED.into(), PropValue::Boolean(false))],
            delete: Vec::new(),
        },
        Change::UpdateItem {
            item: hidden,
            expected: None,
            set: Vec::new(),
            delete: vec![tags::ASSOCIATED.into()],
        },
    ] {
        let refused = fx.store.apply(&fx.mbx, change, at(20));
        assert!(
            matches!(refused, Err(Error::InvalidProperty { .. })),
            "{refused:?}"
        );
    }

    // Emptying the folder keeps its associated items.
    fx.apply(Change::EmptyFolder {
        folder: inbox,
        delete_subfolders: false,
    });
    assert!(fx.store.items(&fx.mbx, inbox).unwrap().is_empty());
    assert_eq!(fx.store.associated_items(&fx.mbx, inbox).unwrap().len(), 2);
    assert_eq!(fx.counts(D::Voicemail), (0, 0));

    let Fixture { _dir, store, mbx } = fx;
    drop(store);
    let store = RedbStore::open(_dir.path(), Options::default()).unwrap();
    assert!(store.verify(&mbx).unwrap().problems.is_empty());
    assert_eq!(ids(store.associated_items(&mbx, root).unwrap()), [config]);
    assert!(store.items(&mbx, root).unwrap().is_empty());
}

/// A folder holding associated items is copied and deleted with them; deleting one is logged.
#[test]
fn associated_items_go_with_their_folder() {
    let fx = Fixture::new();
    let inbox = fx.folder_id(D::Inbox);
    let top = new_folder(&fx, inbox, "Settings");
    let hidden = associated_in(&fx, top, "IPM.Configuration.Test");
    let copy = match fx
        .apply(Change::CopyFolder {
            folder: top,
            to: fx.folder_id(D::DeletedItems),
        })
        .outcome
    {
        Outcome::Folder { folder, .. } => folder,
        other => panic!("{other:?}"),
    };
    assert_eq!(fx.folder(copy).total_count, 0);
    assert_eq!(fx.store.associated_items(&fx.mbx, copy).unwrap().len(), 1);
    let events = fx.events(Change::DeleteItem { item: hidden });
    assert!(
        matches!(events.as_slice(), [Event::ItemDeleted { item, .. }] if *item == hidden),
        "{events:?}"
    );
    assert_eq!(fx.store.verify(&fx.mbx).unwrap().items, 1);
    fx.apply(Change::DeleteFolder { folder: copy });
    assert_eq!(fx.store.verify(&fx.mbx).unwrap().items, 0);
}

/// The value an item sorts by in `order`, compared as EWS compares it.
fn sort_value(order: ItemOrder, item: &Item) -> (Option<i64>, Option<String>) {
    let time = |tag| match item.props.get(tag) {
        Some(PropValue::SystemTime(time)) => Some(time.0),
        _ => None,
    };
    match order {
        ItemOrder::Id => (None, None),
        ItemOrder::Received => (time(tags::MESSAGE_DELIVERY_TIME), None),
        ItemOrder::Created => (time(tags::CREATION_TIME), None),
        ItemOrder::Modified => (time(tags::LAST_MODIFICATION_TIME), None),
        ItemOrder::Subject => (
            None,
            item.props
                .unicode(tags::SUBJECT)
                .map(|s| s.chars().flat_map(char::to_lowercase).collect()),
        ),
        ItemOrder::Size => (item.props.int32(tags::MESSAGE_SIZE).map(i64::from), None),
        ItemOrder::Importance => (
            Some(i64::from(item.props.int32(tags::IMPORTANCE).unwrap_or(1))),
            None,
        ),
    }
}

/// Every page of every indexed view of `folder` equals the sorted, filtered, cut item list.
fn check_pages(fx: &Fixture, folder: FolderId) {
    let all = fx.store.items(&fx.mbx, folder).unwrap();
    let mut visited = Vec::new();
    fx.store
        .visit_items(&fx.mbx, folder, &mut |item| {
            visited.push(item);
            true
        })
        .unwrap();
    assert_eq!(visited, all, "a visit sees what items lists");
    let mut first_two = 0;
    fx.store
        .visit_items(&fx.mbx, folder, &mut |_| {
            first_two += 1;
            first_two < 2
        })
        .unwrap();
    assert_eq!(first_two, all.len().min(2), "a visit stops when told");
    for order in ItemOrder::ALL {
        for descending in [false, true] {
            for unread_only in [false, true] {
                let mut expected: Vec<&Item> = all
                    .iter()
                    .filter(|item| {
                        !unread_only
                            || item.props.int32(tags::MESSAGE_FLAGS).unwrap_or(0)
                                & tags::MSGFLAG_READ
                                == 0
                    })
                    .collect();
                // Ordered by value with ties in id order, the whole order reversed for descending.
                expected.sort_by_key(|item| (sort_value(order, item), item.id));
                if descending {
                    expected.reverse();
                }
                let expected: Vec<ItemId> = expected.iter().map(|item| item.id).collect();
                let total = expected.len() as u64;
                for (offset, limit) in [(0, 3), (1, 4), (total.saturating_sub(2), 5), (0, 1000)] {
                    let view = ItemView {
                        order,
                        descending,
                        unread_only,
                        offset,
                        limit,
                    };
                    let page = fx.store.item_page(&fx.mbx, folder, &view).unwrap();
                    let got: Vec<ItemId> = page.items.iter().map(|item| item.id).collect();
                    let want: Vec<ItemId> = expected
                        .iter()
                        .copied()
                        .skip(offset as usize)
                        .take(limit as usize)
                        .collect();
                    assert_eq!(page.total, total, "{view:?}");
                    assert_eq!(got, want, "{view:?}");
                }
            }
        }
    }
    if let Some(item) = all.first() {
        let view = ItemView {
            order: ItemOrder::Id,
            descending: false,
            unread_only: false,
            offset: 0,
            limit: 1,
        };
        let page = fx.store.item_page(&fx.mbx, folder, &view).unwrap();
        assert_eq!(page.items.first(), Some(item), "pages hold whole items");
    }
}

#[test]
fn random_changes_keep_item_pages_equal_to_a_sort() {
    let fx = Fixture::new();
    let mut rng = Rng::new(12);
    let folders = [D::Inbox, D::DeletedItems];
    let classes = [VOICE, "IPM.Note"];
    let subjects = ["Alpha", "alpha", "beta", "Zoë", ""];
    let mut items: Vec<ItemId> = Vec::new();
    for step in 0..120u64 {
        let pick = |rng: &mut Rng, len: usize| rng.below(len as u64) as usize;
        let folder = fx.folder_id(folders[pick(&mut rng, folders.len())]);
        let mut props = message(
            classes[pick(&mut rng, classes.len())],
            subjects[pick(&mut rng, subjects.len())],
            rng.below(2) == 0,
        );
        if rng.below(4) > 0 {
            props.push((
                tags::MESSAGE_DELIVERY_TIME.into(),
                PropValue::SystemTime(props::FileTime(rng.below(5) as i64)),
            ));
        }
        if rng.below(2) == 0 {
            props.push((
                tags::IMPORTANCE.into(),
                PropValue::Int32(rng.below(3) as i32),
            ));
        }
        let change = match (rng.below(6), items.is_empty()) {
            (0 | 1, _) | (_, true) => Change::CreateItem {
                folder,
                props,
                attachments: (0..rng.below(2)).map(|n| wav(&[n as u8; 10])).collect(),
            },
            (2, _) => Change::DeleteItem {
                item: items.swap_remove(pick(&mut rng, items.len())),
            },
            (3, _) => Change::MoveItem {
                item: items.swap_remove(pick(&mut rng, items.len())),
                to: folder,
            },
            (4, _) => Change::SetReadFlag {
                items: vec![items[pick(&mut rng, items.len())]],
                read: rng.below(2) == 0,
            },
            _ => Change::UpdateItem {
                item: items[pick(&mut rng, items.len())],
                expected: None,
                set: props,
                delete: vec![],
            },
        };
        let committed = fx.store.apply(&fx.mbx, change, at(step)).unwrap();
        fx.check();
        if let Outcome::Item { item, .. } = committed.outcome {
            if !items.contains(&item) {
                items.push(item);
            }
        }
    }
    for which in [D::Inbox, D::DeletedItems, D::Voicemail] {
        check_pages(&fx, fx.folder_id(which));
    }
}

#[test]
fn item_pages_of_a_missing_folder_are_not_found() {
    let fx = Fixture::new();
    let view = ItemView {
        order: ItemOrder::Received,
        descending: true,
        unread_only: false,
        offset: 0,
        limit: 10,
    };
    assert!(matches!(
        fx.store.item_page(&fx.mbx, FolderId(999_999), &view),
        Err(Error::NotFound(Missing::Folder(_)))
    ));
}

#[test]
fn a_batch_commits_whole_or_not_at_all() {
    let fx = Fixture::new();
    let inbox = fx.folder_id(D::Inbox);
    let create = |subject: &str| Change::CreateItem {
        folder: inbox,
        props: message(VOICE, subject, false),
        attachments: vec![wav(b"audio")],
    };
    let outcomes = fx
        .store
        .apply_batch(&fx.mbx, vec![create("a"), create("b"), create("c")], at(1))
        .unwrap();
    assert_eq!(outcomes.len(), 3);
    fx.check();
    assert_eq!(fx.counts(D::Inbox), (3, 3));
    assert_eq!(fx.counts(D::Voicemail), (3, 3));
    let before = fx.store.log_bounds(&fx.mbx).unwrap();

    let failing = vec![
        create("d"),
        Change::DeleteItem {
            item: ItemId(999_999),
        },
    ];
    assert!(matches!(
        fx.store.apply_batch(&fx.mbx, failing, at(2)),
        Err(Error::NotFound(Missing::Item(_)))
    ));
    fx.check();
    assert_eq!(
        fx.counts(D::Inbox),
        (3, 3),
        "the failed batch wrote nothing"
    );
    assert_eq!(fx.store.log_bounds(&fx.mbx).unwrap(), before);
    check_pages(&fx, inbox);
}
