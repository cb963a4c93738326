//! Item operations: each operation's typed `run` on values built in Rust, then their behaviour
//! through `ews::handle` with the EWS test kit (a real store in a temp dir, the demo directory and
//! a fixed clock).

use base64::Engine;

use super::{
    id_shape, load_names, ConflictResolution, CopyItem, CreateItem, DeleteItem, DeleteType,
    Disposition, GetItem, ItemChange, MarkAllItemsAsRead, MoveItem, SendItem, Transfer, UpdateItem,
};
use crate::codes::ResponseCode;
use crate::error::Error;
use crate::ops::testkit::{all, describe, one, text, Kit};
use crate::ops::EwsOperation;
use crate::render::item::read::{bcc_key, NewItem, Update};
use crate::render::item::Kind;
use umbox_store::props::{tags, FileTime, PropKey, PropValue};
use umbox_store::{Change, DistinguishedFolder, MailStore, MailboxId, NewAttachment, Outcome};
use umbox_xml::{ns, Element};

const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";

// Each operation's `run` on typed values built in Rust: a bad entry fails alone.

/// A failure `parse` kept for one entry.
fn refused() -> Error {
    Error::new(ResponseCode::ErrorInvalidRequest, "refused in parse")
}

/// The response code of an entry that failed.
fn error_code<T: std::fmt::Debug>(result: &Result<T, Error>) -> ResponseCode {
    result.as_ref().unwrap_err().response_code()
}

/// A failure shared by every entry of a request (a folder the request names did not resolve).
fn no_such_folder() -> Error {
    Error::new(ResponseCode::ErrorFolderNotFound, "no such folder")
}

/// Asserts that every entry failed with the shared [`no_such_folder`] answer.
fn assert_all_no_such_folder<T: std::fmt::Debug>(results: &[Result<T, Error>]) {
    assert_eq!(results.len(), 2);
    for result in results {
        let error = result.as_ref().unwrap_err();
        assert_eq!(error.response_code(), ResponseCode::ErrorFolderNotFound);
        assert_eq!(error.to_string(), "no such folder");
    }
}

/// The properties of a message with `subject`.
fn message(subject: &str) -> Vec<(PropKey, PropValue)> {
    vec![
        (
            tags::MESSAGE_CLASS.into(),
            PropValue::Unicode("IPM.Note".into()),
        ),
        (tags::SUBJECT.into(), PropValue::Unicode(subject.into())),
    ]
}

/// A new item as `parse` reads it, with only a subject.
fn new_item(subject: &str) -> NewItem {
    NewItem {
        props: vec![(tags::SUBJECT.into(), PropValue::Unicode(subject.into()))],
        read: None,
        attachments: Vec::new(),
    }
}

fn alice() -> MailboxId {
    MailboxId::new(ALICE)
}

#[test]
fn get_item_reads_each_item_on_its_own() {
    let kit = Kit::new();
    let request = kit.request(ALICE);
    let item = kit.create_item(ALICE, DistinguishedFolder::Inbox, message("hello"), &[]);
    let gone = kit.create_item(ALICE, DistinguishedFolder::Inbox, message("gone"), &[]);
    kit.store()
        .apply(&alice(), Change::DeleteItem { item: gone }, kit.now)
        .unwrap();

    let items = GetItem {
        shape: id_shape(false),
        ids: vec![Ok(item), Err(refused()), Ok(gone)],
    }
    .run(&request)
    .unwrap()
    .items;
    let read = items[0].as_ref().unwrap();
    assert_eq!(read.id, item);
    assert_eq!(read.props.unicode(tags::SUBJECT), Some("hello"));
    assert_eq!(error_code(&items[1]), ResponseCode::ErrorInvalidRequest);
    assert_eq!(error_code(&items[2]), ResponseCode::ErrorItemNotFound);
}

#[test]
fn create_item_stores_each_item_on_its_own() {
    let kit = Kit::new();
    let request = kit.request(ALICE);
    let created = CreateItem {
        disposition: Some(Disposition::SaveOnly),
        saved_folder: None,
        items: vec![
            Ok((Kind::Message, new_item("draft"))),
            Err(refused()),
            Ok((Kind::Contact, new_item("Dana"))),
        ],
    }
    .run(&request)
    .unwrap()
    .items;
    let draft = created[0].as_ref().unwrap().as_ref().unwrap();
    assert_eq!(draft.parent, kit.folder(ALICE, DistinguishedFolder::Drafts));
    assert_eq!(draft.props.unicode(tags::SUBJECT), Some("draft"));
    assert_eq!(error_code(&created[1]), ResponseCode::ErrorInvalidRequest);
    let contact = created[2].as_ref().unwrap().as_ref().unwrap();
    assert_eq!(
        contact.parent,
        kit.folder(ALICE, DistinguishedFolder::Contacts)
    );

    // A message needs a disposition; the other kinds do not.
    let undisposed = CreateItem {
        disposition: None,
        saved_folder: None,
        items: vec![
            Ok((Kind::Message, new_item("x"))),
            Ok((Kind::Item, new_item("y"))),
        ],
    }
    .run(&request)
    .unwrap()
    .items;
    assert_eq!(
        error_code(&undisposed[0]),
        ResponseCode::ErrorMessageDispositionRequired
    );
    assert!(undisposed[1].as_ref().unwrap().is_some());

    let orphaned = CreateItem {
        disposition: Some(Disposition::SaveOnly),
        saved_folder: Some(Err(no_such_folder())),
        items: vec![
            Ok((Kind::Message, new_item("a"))),
            Ok((Kind::Item, new_item("b"))),
        ],
    }
    .run(&request)
    .unwrap()
    .items;
    assert_all_no_such_folder(&orphaned);
}

#[test]
fn update_item_applies_each_change_on_its_own() {
    let kit = Kit::new();
    let request = kit.request(ALICE);
    let id = kit.create_item(ALICE, DistinguishedFolder::Drafts, message("before"), &[]);
    let stored = kit.store().item(&alice(), id).unwrap();
    let rename = |subject: &str| ItemChange {
        item: stored.clone(),
        change_key: Some(stored.change_key),
        update: Update {
            set: vec![(tags::SUBJECT.into(), PropValue::Unicode(subject.into()))],
            ..Update::default()
        },
    };
    let update = |changes, saved_folder| UpdateItem {
        resolution: ConflictResolution::NeverOverwrite,
        disposition: Some(Disposition::SaveOnly),
        saved_folder,
        names: load_names(&request).unwrap(),
        changes,
    };

    let updated = update(
        vec![Ok(rename("after")), Err(refused()), Ok(rename("again"))],
        None,
    )
    .run(&request)
    .unwrap()
    .items;
    let after = updated[0].as_ref().unwrap().as_ref().unwrap();
    assert_eq!(after.id, id, "an update keeps the id");
    assert_eq!(after.props.unicode(tags::SUBJECT), Some("after"));
    assert_ne!(after.change_key, stored.change_key);
    assert_eq!(error_code(&updated[1]), ResponseCode::ErrorInvalidRequest);
    assert_eq!(
        error_code(&updated[2]),
        ResponseCode::ErrorIrresolvableConflict,
        "the key the change was read at is stale now"
    );

    let orphaned = update(
        vec![Ok(rename("a")), Ok(rename("b"))],
        Some(Err(no_such_folder())),
    )
    .run(&request)
    .unwrap()
    .items;
    assert_all_no_such_folder(&orphaned);
}

#[test]
fn delete_item_removes_or_moves_each_item_on_its_own() {
    let kit = Kit::new();
    let request = kit.request(ALICE);
    let kept = kit.create_item(ALICE, DistinguishedFolder::Inbox, message("kept"), &[]);
    let removed = kit.create_item(ALICE, DistinguishedFolder::Inbox, message("removed"), &[]);

    let to_trash = DeleteItem {
        delete_type: DeleteType::MoveToDeletedItems,
        ids: vec![Ok(kept), Err(refused())],
    }
    .run(&request)
    .unwrap()
    .results;
    assert!(to_trash[0].is_ok());
    assert_eq!(error_code(&to_trash[1]), ResponseCode::ErrorInvalidRequest);
    let deleted_items = kit.folder(ALICE, DistinguishedFolder::DeletedItems);
    let trash = kit.store().items(&alice(), deleted_items).unwrap();
    assert_eq!(trash.len(), 1);
    assert_eq!(trash[0].props.unicode(tags::SUBJECT), Some("kept"));

    // In Deleted Items already, MoveToDeletedItems removes the item.
    let emptied = DeleteItem {
        delete_type: DeleteType::MoveToDeletedItems,
        ids: vec![Ok(trash[0].id)],
    }
    .run(&request)
    .unwrap()
    .results;
    assert!(emptied[0].is_ok());
    assert!(kit
        .store()
        .items(&alice(), deleted_items)
        .unwrap()
        .is_empty());

    // SoftDelete removes the item as HardDelete does.
    let removed_twice = DeleteItem {
        delete_type: DeleteType::SoftDelete,
        ids: vec![Ok(removed), Ok(removed)],
    }
    .run(&request)
    .unwrap()
    .results;
    assert!(removed_twice[0].is_ok());
    assert_eq!(
        error_code(&removed_twice[1]),
        ResponseCode::ErrorItemNotFound
    );
}

#[test]
fn move_and_copy_transfer_each_item_on_its_own() {
    let kit = Kit::new();
    let request = kit.request(ALICE);
    let item = kit.create_item(ALICE, DistinguishedFolder::Inbox, message("m"), &[]);
    let junk = kit.folder(ALICE, DistinguishedFolder::JunkEmail);

    let moved = MoveItem(Transfer {
        to: Ok(junk),
        return_new_ids: true,
        ids: vec![Ok(item), Err(refused()), Ok(item)],
    })
    .run(&request)
    .unwrap()
    .items;
    let new = moved[0].as_ref().unwrap().as_ref().unwrap();
    assert_ne!(new.id, item, "a moved item gets a new id");
    assert_eq!(new.parent, junk);
    assert_eq!(error_code(&moved[1]), ResponseCode::ErrorInvalidRequest);
    assert_eq!(error_code(&moved[2]), ResponseCode::ErrorItemNotFound);

    let drafts = kit.folder(ALICE, DistinguishedFolder::Drafts);
    let copied = CopyItem(Transfer {
        to: Ok(drafts),
        return_new_ids: false,
        ids: vec![Ok(new.id), Err(refused())],
    })
    .run(&request)
    .unwrap()
    .items;
    assert!(copied[0].as_ref().unwrap().is_none(), "no new id asked for");
    assert_eq!(error_code(&copied[1]), ResponseCode::ErrorInvalidRequest);
    assert_eq!(kit.store().items(&alice(), drafts).unwrap().len(), 1);
    assert_eq!(kit.store().items(&alice(), junk).unwrap().len(), 1);

    let nowhere = CopyItem(Transfer {
        to: Err(no_such_folder()),
        return_new_ids: true,
        ids: vec![Ok(new.id), Ok(new.id)],
    })
    .run(&request)
    .unwrap()
    .items;
    assert_all_no_such_folder(&nowhere);
}

#[test]
fn send_item_sends_each_draft_on_its_own() {
    let kit = Kit::new();
    let request = kit.request(ALICE);
    let mut props = message("to bob");
    props.push((bcc_key(), PropValue::MultiUnicode(vec![BOB.into()])));
    let draft = kit.create_item(ALICE, DistinguishedFolder::Drafts, props, &[]);
    let stale = kit.create_item(ALICE, DistinguishedFolder::Drafts, message("stale"), &[]);
    let old_key = kit.store().item(&alice(), stale).unwrap().change_key;
    kit.store()
        .apply(
            &alice(),
            Change::SetReadFlag {
                items: vec![stale],
                read: true,
            },
            kit.now,
        )
        .unwrap();

    let sent = SendItem {
        save_copy: true,
        saved_folder: None,
        ids: vec![
            Ok((draft, None)),
            Err(refused()),
            Ok((draft, None)),
            Ok((stale, Some(old_key))),
        ],
    }
    .run(&request)
    .unwrap()
    .results;
    assert!(sent[0].is_ok());
    assert_eq!(error_code(&sent[1]), ResponseCode::ErrorInvalidRequest);
    assert_eq!(
        error_code(&sent[2]),
        ResponseCode::ErrorItemNotFound,
        "a sent draft is gone"
    );
    assert_eq!(
        error_code(&sent[3]),
        ResponseCode::ErrorIrresolvableConflict
    );
    let bob = MailboxId::new(BOB);
    let bob_inbox = kit.folder(BOB, DistinguishedFolder::Inbox);
    assert_eq!(kit.store().items(&bob, bob_inbox).unwrap().len(), 1);
    let sent_items = kit.folder(ALICE, DistinguishedFolder::SentItems);
    assert_eq!(kit.store().items(&alice(), sent_items).unwrap().len(), 1);

    let stale = kit.store().item(&alice(), stale).unwrap();
    let orphaned = SendItem {
        save_copy: true,
        saved_folder: Some(Err(no_such_folder())),
        ids: vec![Ok((stale.id, None)), Ok((stale.id, Some(stale.change_key)))],
    }
    .run(&request)
    .unwrap()
    .results;
    assert_all_no_such_folder(&orphaned);
}

#[test]
fn mark_all_items_as_read_marks_each_folder_on_its_own() {
    let kit = Kit::new();
    let request = kit.request(ALICE);
    let unread = vec![(tags::MESSAGE_FLAGS.into(), PropValue::Int32(0))];
    for _ in 0..2 {
        kit.create_item(ALICE, DistinguishedFolder::Inbox, unread.clone(), &[]);
    }
    let inbox = kit.folder(ALICE, DistinguishedFolder::Inbox);
    assert_eq!(kit.store().folder(&alice(), inbox).unwrap().unread_count, 2);

    let marked = MarkAllItemsAsRead {
        read: true,
        folders: vec![Ok(inbox), Err(refused())],
    }
    .run(&request)
    .unwrap()
    .results;
    assert!(marked[0].is_ok());
    assert_eq!(error_code(&marked[1]), ResponseCode::ErrorInvalidRequest);
    assert_eq!(kit.store().folder(&alice(), inbox).unwrap().unread_count, 0);
}

// The operations through `ews::handle`, as clients send them.

/// The response messages of the one operation answered in `body` (the SOAP Body).
fn response_messages(body: &Element) -> Vec<Element> {
    let response = body
        .children()
        .next()
        .unwrap_or_else(|| panic!("an empty Body: {}", describe(body)));
    one(response, &["ResponseMessages"])
        .children()
        .cloned()
        .collect()
}

impl Kit {
    /// The response messages alice gets for `operation` (Exchange2016, HTTP 200).
    fn messages(&self, operation: &str) -> Vec<Element> {
        response_messages(&self.call(operation))
    }

    /// The response messages `caller` gets for `operation` (Exchange2016, HTTP 200).
    fn messages_as(&self, caller: &str, operation: &str) -> Vec<Element> {
        let (status, body) = self.call_as(caller, "Exchange2016", None, operation);
        assert_eq!(status, 200, "{}", describe(&body));
        response_messages(&body)
    }

    /// A distinguished folder of `user` as the store keeps it (its counts).
    fn stored_folder(&self, user: &str, which: DistinguishedFolder) -> umbox_store::Folder {
        self.store()
            .folder(&MailboxId::new(user), self.folder(user, which))
            .unwrap()
    }

    /// The EWS id of a distinguished folder of `user`.
    fn folder_ews_id(&self, user: &str, which: DistinguishedFolder) -> String {
        self.ids
            .folder(&MailboxId::new(user), self.folder(user, which))
    }

    /// A voice message as the UM pipeline delivers it (class, MS-OXOUM properties, WAV audio);
    /// its EWS id and change key.
    fn deliver_voicemail(&self, user: &str, audio: &[u8]) -> (String, String) {
        let mailbox = MailboxId::new(user);
        let stamp = PropValue::SystemTime(FileTime::from_system_time(self.now));
        let unicode = |text: &str| PropValue::Unicode(text.into());
        let props = vec![
            (
                tags::MESSAGE_CLASS.into(),
                unicode("IPM.Note.Microsoft.Voicemail.UM.CA"),
            ),
            (
                tags::SUBJECT.into(),
                unicode("Voice Mail from +14255550123 (0:42)"),
            ),
            (tags::BODY.into(), unicode("You received a voice mail.")),
            (tags::MESSAGE_FLAGS.into(), PropValue::Int32(0)),
            (tags::MESSAGE_DELIVERY_TIME.into(), stamp.clone()),
            (tags::CLIENT_SUBMIT_TIME.into(), stamp),
            (tags::SENT_REPRESENTING_NAME.into(), unicode("+14255550123")),
            (
                tags::SENT_REPRESENTING_EMAIL_ADDRESS.into(),
                unicode("um@example.test"),
            ),
            (tags::VOICE_MESSAGE_DURATION.into(), PropValue::Int32(42)),
            (
                tags::SENDER_TELEPHONE_NUMBER.into(),
                unicode("+14255550123"),
            ),
            (
                tags::VOICE_MESSAGE_SENDER_NAME.into(),
                unicode("Carol Caller"),
            ),
            (
                tags::VOICE_MESSAGE_ATTACHMENT_ORDER.into(),
                unicode("audio.wav"),
            ),
            (tags::CALL_ID.into(), unicode("call-7@gw.example.test")),
        ];
        let attachment = NewAttachment {
            props: vec![
                (tags::ATTACH_LONG_FILENAME.into(), unicode("audio.wav")),
                (tags::ATTACH_MIME_TAG.into(), unicode("audio/wav")),
            ],
            content: audio.to_vec(),
        };
        let change = Change::CreateItem {
            folder: self.folder(user, DistinguishedFolder::Inbox),
            props,
            attachments: vec![attachment],
        };
        let Outcome::Item { item, change_key } = self
            .store()
            .apply(&mailbox, change, self.now)
            .unwrap()
            .outcome
        else {
            panic!("not an item")
        };
        (
            self.ids.item(&mailbox, item),
            self.ids.item_change_key(&mailbox, item, change_key),
        )
    }
}

/// The ResponseCode of a response message.
fn code(message: &Element) -> &str {
    text(message, &["ResponseCode"])
}

fn assert_ok(messages: &[Element]) {
    for message in messages {
        assert_eq!(code(message), "NoError", "{}", describe(message));
        assert_eq!(message.attribute("", "ResponseClass"), Some("Success"));
    }
}

/// The one item of a response message's `m:Items`, whatever its element type.
fn the_item(message: &Element) -> &Element {
    one(message, &["Items"])
        .children()
        .next()
        .unwrap_or_else(|| panic!("no item in {}", describe(message)))
}

/// The id and change key of the item a response message names.
fn item_id(message: &Element) -> (String, String) {
    let id = one(the_item(message), &["ItemId"]);
    (
        id.attribute("", "Id").unwrap().to_owned(),
        id.attribute("", "ChangeKey").unwrap().to_owned(),
    )
}

fn id_xml(id: &(String, String)) -> String {
    format!("<t:ItemId Id=\"{}\" ChangeKey=\"{}\"/>", id.0, id.1)
}

/// The GetItem response message for `id` in `shape` (the ItemShape's content).
fn get(kit: &Kit, id: &(String, String), shape: &str) -> Element {
    let messages = kit.messages(&format!(
        "<m:GetItem><m:ItemShape>{shape}</m:ItemShape><m:ItemIds>{}</m:ItemIds></m:GetItem>",
        id_xml(id)
    ));
    assert_ok(&messages);
    messages.into_iter().next().unwrap()
}

const DRAFT: &str = r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="drafts"/></m:SavedItemFolderId><m:Items>
<t:Message>
  <t:Subject>Quarterly numbers</t:Subject>
  <t:Body BodyType="HTML">&lt;p&gt;See &amp;amp; reply&lt;/p&gt;</t:Body>
  <t:Attachments><t:FileAttachment><t:Name>data.bin</t:Name><t:ContentType>application/octet-stream</t:ContentType><t:Content>AAEC/w==</t:Content></t:FileAttachment></t:Attachments>
  <t:Categories><t:String>Red</t:String><t:String>Blue</t:String></t:Categories>
  <t:Importance>High</t:Importance>
  <t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x6801" PropertyType="Integer"/><t:Value>42</t:Value></t:ExtendedProperty>
  <t:ExtendedProperty><t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="Color" PropertyType="String"/><t:Value>teal</t:Value></t:ExtendedProperty>
  <t:ToRecipients><t:Mailbox><t:Name>Bob Berg</t:Name><t:EmailAddress>bob@example.test</t:EmailAddress></t:Mailbox></t:ToRecipients>
  <t:IsRead>false</t:IsRead>
</t:Message>
</m:Items></m:CreateItem>"#;

fn create_draft(kit: &Kit) -> (String, String) {
    let messages = kit.messages(DRAFT);
    assert_ok(&messages);
    let attachments = all(
        the_item(&messages[0]),
        &["Attachments", "FileAttachment", "AttachmentId"],
    );
    assert_eq!(
        attachments.len(),
        1,
        "CreateItem answers the new attachment ids"
    );
    item_id(&messages[0])
}

#[test]
fn created_message_reads_back_with_extended_properties() {
    let kit = Kit::new();
    let id = create_draft(&kit);
    let item = get(
        &kit,
        &id,
        r#"<t:BaseShape>AllProperties</t:BaseShape><t:AdditionalProperties>
            <t:ExtendedFieldURI PropertyTag="0x6801" PropertyType="Integer"/>
            <t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="Color" PropertyType="String"/>
           </t:AdditionalProperties>"#,
    );
    let message = one(&item, &["Items", "Message"]);
    assert_eq!(text(message, &["Subject"]), "Quarterly numbers");
    assert_eq!(
        one(message, &["Body"]).attribute("", "BodyType"),
        Some("HTML")
    );
    assert_eq!(text(message, &["Body"]), "<p>See &amp; reply</p>");
    assert_eq!(text(message, &["TextBody"]), "See & reply");
    assert_eq!(text(message, &["IsDraft"]), "true");
    assert_eq!(text(message, &["IsRead"]), "false");
    assert_eq!(text(message, &["Importance"]), "High");
    assert_eq!(text(message, &["HasAttachments"]), "true");
    assert_eq!(text(message, &["DisplayTo"]), "Bob Berg");
    let to = one(message, &["ToRecipients", "Mailbox"]);
    assert_eq!(text(to, &["EmailAddress"]), BOB);
    assert_eq!(text(to, &["MailboxType"]), "Mailbox");
    let categories: Vec<_> = all(message, &["Categories", "String"])
        .iter()
        .map(|s| s.trimmed_text())
        .collect();
    assert_eq!(categories, ["Red", "Blue"]);
    let values: Vec<_> = all(message, &["ExtendedProperty", "Value"])
        .iter()
        .map(|v| v.trimmed_text())
        .collect();
    assert_eq!(values, ["42", "teal"]);
    assert_eq!(
        one(message, &["ExtendedProperty", "ExtendedFieldURI"]).attribute("", "PropertyTag"),
        Some("0x6801")
    );
    assert_eq!(
        text(message, &["Attachments", "FileAttachment", "Name"]),
        "data.bin"
    );
    assert!(text(message, &["InternetMessageId"]).ends_with("@mail.example.test>"));
    // The draft counts as unread in Drafts, since IsRead was false.
    assert_eq!(
        kit.stored_folder(ALICE, DistinguishedFolder::Drafts)
            .unread_count,
        1
    );

    // IdOnly is the id alone; Default leaves out what it should.
    let id_only = get(&kit, &id, "<t:BaseShape>IdOnly</t:BaseShape>");
    assert_eq!(one(&id_only, &["Items", "Message"]).children().count(), 1);
    let default = get(
        &kit,
        &id,
        "<t:BaseShape>Default</t:BaseShape><t:BodyType>Text</t:BodyType>",
    );
    let message = one(&default, &["Items", "Message"]);
    assert_eq!(text(message, &["Body"]), "See & reply");
    assert!(all(message, &["MimeContent"]).is_empty());
    assert!(all(message, &["BccRecipients"]).is_empty());
}

/// ItemType then MessageType element order (types.xsd), for the elements umbox writes.
const MESSAGE_ORDER: &[&str] = &[
    "MimeContent",
    "ItemId",
    "ParentFolderId",
    "ItemClass",
    "Subject",
    "Sensitivity",
    "Body",
    "Attachments",
    "DateTimeReceived",
    "Size",
    "Categories",
    "Importance",
    "InReplyTo",
    "IsSubmitted",
    "IsDraft",
    "IsFromMe",
    "IsResend",
    "IsUnmodified",
    "InternetMessageHeaders",
    "DateTimeSent",
    "DateTimeCreated",
    "ResponseObjects",
    "ReminderDueBy",
    "ReminderIsSet",
    "ReminderNextTime",
    "ReminderMinutesBeforeStart",
    "DisplayCc",
    "DisplayTo",
    "DisplayBcc",
    "HasAttachments",
    "ExtendedProperty",
    "Culture",
    "EffectiveRights",
    "LastModifiedName",
    "LastModifiedTime",
    "IsAssociated",
    "WebClientReadFormQueryString",
    "WebClientEditFormQueryString",
    "ConversationId",
    "UniqueBody",
    "Flag",
    "StoreEntryId",
    "InstanceKey",
    "NormalizedBody",
    "EntityExtractionResult",
    "PolicyTag",
    "ArchiveTag",
    "RetentionDate",
    "Preview",
    "RightsManagementLicenseData",
    "PredictedActionReasons",
    "IsClutter",
    "BlockStatus",
    "HasBlockedImages",
    "TextBody",
    "IconIndex",
    "Sender",
    "ToRecipients",
    "CcRecipients",
    "BccRecipients",
    "IsReadReceiptRequested",
    "IsDeliveryReceiptRequested",
    "ConversationIndex",
    "ConversationTopic",
    "From",
    "InternetMessageId",
    "IsRead",
    "IsResponseRequested",
    "References",
    "ReplyTo",
    "ReceivedBy",
    "ReceivedRepresenting",
];

fn assert_in_order(element: &Element, order: &[&str]) {
    let mut position = 0;
    for child in element.children() {
        let found = order
            .iter()
            .skip(position)
            .position(|name| *name == child.name());
        let Some(offset) = found else {
            panic!(
                "{} is out of XSD order or unknown in {:?}",
                child.name(),
                element.children().map(Element::name).collect::<Vec<_>>()
            )
        };
        // Only ExtendedProperty may repeat.
        position += offset + usize::from(child.name() != "ExtendedProperty");
    }
}

#[test]
fn voicemail_renders_as_message_with_mime_and_um_properties() {
    let kit = Kit::new();
    let audio: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let id = kit.deliver_voicemail(ALICE, &audio);
    let item = get(
        &kit,
        &id,
        r#"<t:BaseShape>AllProperties</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent><t:AdditionalProperties>
            <t:ExtendedFieldURI PropertyTag="0x6801" PropertyType="Integer"/>
            <t:ExtendedFieldURI PropertyTag="0x6802" PropertyType="String"/>
            <t:ExtendedFieldURI PropertyTag="0x6803" PropertyType="String"/>
            <t:ExtendedFieldURI PropertyTag="0x6805" PropertyType="String"/>
            <t:ExtendedFieldURI PropertyTag="0x6806" PropertyType="String"/>
           </t:AdditionalProperties>"#,
    );
    let message = one(&item, &["Items", "Message"]);
    assert_in_order(message, MESSAGE_ORDER);
    assert_eq!(
        text(message, &["ItemClass"]),
        "IPM.Note.Microsoft.Voicemail.UM.CA"
    );
    let values: Vec<_> = all(message, &["ExtendedProperty", "Value"])
        .iter()
        .map(|v| v.trimmed_text())
        .collect();
    assert_eq!(
        values,
        [
            "42",
            "+14255550123",
            "Carol Caller",
            "audio.wav",
            "call-7@gw.example.test"
        ]
    );
    let mime = base64::engine::general_purpose::STANDARD
        .decode(text(message, &["MimeContent"]))
        .unwrap();
    let mime = String::from_utf8(mime).unwrap();
    for header in [
        "Content-Class: voice-ca\r\n",
        "X-CallingTelephoneNumber: +14255550123\r\n",
        "X-VoiceMessageDuration: 42\r\n",
        "X-VoiceMessageSenderName: Carol Caller\r\n",
        "X-AttachmentOrder: audio.wav\r\n",
        "X-CallID: call-7@gw.example.test\r\n",
        "MIME-Version: 1.0\r\n",
        "Subject: Voice Mail from +14255550123 (0:42)\r\n",
        // The kit's clock: the time the message was delivered.
        "Date: Mon, 23 Nov 2026 16:00:00 +0000\r\n",
        "From: \"+14255550123\" <um@example.test>\r\n",
        "Content-Type: multipart/mixed;",
        "Content-Type: audio/wav; name=\"audio.wav\"\r\n",
    ] {
        assert!(mime.contains(header), "{header:?} missing from\n{mime}");
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(&audio);
    let body: String = mime
        .split("Content-Transfer-Encoding: base64\r\n\r\n")
        .nth(1)
        .unwrap()
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .replace("\r\n", "");
    assert!(
        body.starts_with(&encoded),
        "the audio is in the MIME byte for byte"
    );

    // The same item through the voicemail search folder's class filter stays a t:Message, and
    // missed calls and conversation history items are messages too.
    for class in [
        "IPM.Note.Microsoft.Missed.Voice",
        "IPM.Note.Microsoft.Conversation",
        "IPM.Note.Microsoft.Conversation.Voice",
    ] {
        let messages = kit.messages(&format!(
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="inbox"/></m:SavedItemFolderId>
               <m:Items><t:Message><t:ItemClass>{class}</t:ItemClass><t:Subject>x</t:Subject></t:Message></m:Items></m:CreateItem>"#
        ));
        assert_ok(&messages);
        assert_eq!(the_item(&messages[0]).name(), "Message", "{class}");
    }
    let missed = kit.messages(
        r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:ItemClass>IPM.Note.Microsoft.Missed.Voice</t:ItemClass><t:Subject>Missed call</t:Subject></t:Message></m:Items></m:CreateItem>"#,
    );
    let missed = get(
        &kit,
        &item_id(&missed[0]),
        "<t:BaseShape>IdOnly</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent>",
    );
    let mime = base64::engine::general_purpose::STANDARD
        .decode(text(&missed, &["Items", "Message", "MimeContent"]))
        .unwrap();
    assert!(String::from_utf8(mime)
        .unwrap()
        .contains("Content-Class: missedcall\r\n"));
}

#[test]
fn update_item_sets_appends_deletes_and_honours_change_keys() {
    let kit = Kit::new();
    let id = create_draft(&kit);
    let change = |resolution: &str, key: &(String, String), updates: &str| {
        kit.messages(&format!(
            r#"<m:UpdateItem ConflictResolution="{resolution}" MessageDisposition="SaveOnly"><m:ItemChanges><t:ItemChange>{}<t:Updates>{updates}</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#,
            id_xml(key)
        ))
    };
    let messages = change(
        "NeverOverwrite",
        &id,
        r#"<t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:Message><t:Subject>Renamed</t:Subject></t:Message></t:SetItemField>
           <t:SetItemField><t:ExtendedFieldURI PropertyTag="0x6801" PropertyType="Integer"/><t:Message><t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x6801" PropertyType="Integer"/><t:Value>7</t:Value></t:ExtendedProperty></t:Message></t:SetItemField>
           <t:DeleteItemField><t:FieldURI FieldURI="item:Categories"/></t:DeleteItemField>
           <t:AppendToItemField><t:FieldURI FieldURI="message:ToRecipients"/><t:Message><t:ToRecipients><t:Mailbox><t:EmailAddress>carol@remote.test</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></t:AppendToItemField>
           <t:SetItemField><t:FieldURI FieldURI="message:IsRead"/><t:Message><t:IsRead>true</t:IsRead></t:Message></t:SetItemField>"#,
    );
    assert_ok(&messages);
    assert_eq!(text(&messages[0], &["ConflictResults", "Count"]), "0");
    let updated = item_id(&messages[0]);
    assert_eq!(updated.0, id.0, "an update keeps the id");
    assert_ne!(updated.1, id.1, "and changes the change key");
    assert_eq!(
        kit.stored_folder(ALICE, DistinguishedFolder::Drafts)
            .unread_count,
        0,
        "IsRead went through SetReadFlag"
    );
    let item = get(
        &kit,
        &updated,
        r#"<t:BaseShape>AllProperties</t:BaseShape><t:AdditionalProperties><t:ExtendedFieldURI PropertyTag="0x6801" PropertyType="Integer"/></t:AdditionalProperties>"#,
    );
    let message = one(&item, &["Items", "Message"]);
    assert_eq!(text(message, &["Subject"]), "Renamed");
    assert_eq!(text(message, &["ExtendedProperty", "Value"]), "7");
    assert!(all(message, &["Categories"]).is_empty());
    assert_eq!(text(message, &["DisplayTo"]), "Bob Berg; carol@remote.test");
    assert_eq!(text(message, &["IsRead"]), "true");

    // A stale key: refused with NeverOverwrite, applied with AlwaysOverwrite.
    let subject = r#"<t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:Message><t:Subject>Again</t:Subject></t:Message></t:SetItemField>"#;
    let stale = change("NeverOverwrite", &id, subject);
    assert_eq!(code(&stale[0]), "ErrorIrresolvableConflict");
    assert_eq!(stale[0].attribute("", "ResponseClass"), Some("Error"));
    assert_ok(&change("AlwaysOverwrite", &id, subject));

    // Read-only fields, bad extended values and mismatched values fail their item only.
    let read_only = change(
        "AutoResolve",
        &updated,
        r#"<t:SetItemField><t:FieldURI FieldURI="item:Size"/><t:Message><t:Size>1</t:Size></t:Message></t:SetItemField>"#,
    );
    assert_eq!(code(&read_only[0]), "ErrorInvalidPropertySet");
    let bad_value = change(
        "AutoResolve",
        &updated,
        r#"<t:SetItemField><t:ExtendedFieldURI PropertyTag="0x6801" PropertyType="Integer"/><t:Message><t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x6801" PropertyType="Integer"/><t:Value>forty</t:Value></t:ExtendedProperty></t:Message></t:SetItemField>"#,
    );
    assert_eq!(code(&bad_value[0]), "ErrorInvalidExtendedPropertyValue");
    let mismatch = change(
        "AutoResolve",
        &updated,
        r#"<t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:Message><t:Importance>Low</t:Importance></t:Message></t:SetItemField>"#,
    );
    assert_eq!(code(&mismatch[0]), "ErrorIncorrectUpdatePropertyCount");
    let computed = change(
        "AutoResolve",
        &updated,
        r#"<t:SetItemField><t:ExtendedFieldURI PropertyTag="0x0E08" PropertyType="Integer"/><t:Message><t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x0E08" PropertyType="Integer"/><t:Value>1</t:Value></t:ExtendedProperty></t:Message></t:SetItemField>"#,
    );
    assert_eq!(code(&computed[0]), "ErrorInvalidPropertySet");

    // Two changes in one request: the bad one does not fail its neighbour.
    let messages = kit.messages(&format!(
        r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" MessageDisposition="SaveOnly"><m:ItemChanges>
            <t:ItemChange><t:ItemId Id="not-an-id"/><t:Updates>{subject}</t:Updates></t:ItemChange>
            <t:ItemChange>{}<t:Updates>{subject}</t:Updates></t:ItemChange>
           </m:ItemChanges></m:UpdateItem>"#,
        id_xml(&updated)
    ));
    assert_eq!(code(&messages[0]), "ErrorInvalidIdMalformed");
    assert_eq!(code(&messages[1]), "NoError");
}

#[test]
fn bad_ids_fail_only_their_own_message() {
    let kit = Kit::new();
    let id = create_draft(&kit);
    let bob_item = kit.deliver_voicemail(BOB, b"RIFF");
    let gone = create_draft(&kit);
    assert_ok(&kit.messages(&format!(
        r#"<m:DeleteItem DeleteType="HardDelete"><m:ItemIds>{}</m:ItemIds></m:DeleteItem>"#,
        id_xml(&gone)
    )));
    let messages = kit.messages(&format!(
        r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds>
            <t:ItemId Id="AAAA"/>{}<t:ItemId Id=""/>{}{}<t:ItemId Id="{}"/></m:ItemIds></m:GetItem>"#,
        id_xml(&id),
        id_xml(&gone),
        id_xml(&bob_item),
        kit.folder_ews_id(ALICE, DistinguishedFolder::Inbox)
    ));
    let codes: Vec<_> = messages.iter().map(code).collect();
    assert_eq!(
        codes,
        [
            "ErrorInvalidIdMalformed",
            "NoError",
            "ErrorInvalidIdEmpty",
            "ErrorItemNotFound",
            "ErrorAccessDenied",
            "ErrorInvalidIdMalformed"
        ]
    );
    // A schema violation fails the whole request with a fault.
    let (status, body) = kit.call_as(
        ALICE,
        "Exchange2016",
        None,
        r#"<m:GetItem><m:ItemIds><t:ItemId Id="x"/></m:ItemIds></m:GetItem>"#,
    );
    assert_eq!(status, 500);
    assert!(
        describe(&body).contains("ErrorSchemaValidation"),
        "{}",
        describe(&body)
    );
}

#[test]
fn sending_delivers_to_local_recipients_and_refuses_remote_ones() {
    let kit = Kit::new();
    let send = |disposition: &str, to: &str| {
        kit.messages(&format!(
            r#"<m:CreateItem MessageDisposition="{disposition}"><m:Items><t:Message><t:Subject>Lunch?</t:Subject><t:Body BodyType="Text">At noon.</t:Body>
                <t:Attachments><t:FileAttachment><t:Name>menu.txt</t:Name><t:Content>bWVudQ==</t:Content></t:FileAttachment></t:Attachments>
                <t:ToRecipients><t:Mailbox><t:EmailAddress>{to}</t:EmailAddress></t:Mailbox></t:ToRecipients>
                <t:BccRecipients><t:Mailbox><t:EmailAddress>alice@example.test</t:EmailAddress></t:Mailbox></t:BccRecipients>
               </t:Message></m:Items></m:CreateItem>"#
        ))
    };
    let messages = send("SendAndSaveCopy", "BOB@example.test");
    assert_ok(&messages);
    assert!(
        one(&messages[0], &["Items"]).children().next().is_none(),
        "a sent message's id is not returned"
    );
    let inbox = kit.stored_folder(BOB, DistinguishedFolder::Inbox);
    assert_eq!((inbox.total_count, inbox.unread_count), (1, 1));
    assert_eq!(
        kit.stored_folder(ALICE, DistinguishedFolder::Inbox)
            .unread_count,
        1,
        "the Bcc copy"
    );
    let sent = kit.stored_folder(ALICE, DistinguishedFolder::SentItems);
    assert_eq!((sent.total_count, sent.unread_count), (1, 0));

    let bob = MailboxId::new(BOB);
    let delivered = kit.store().items(&bob, inbox.id).unwrap().remove(0);
    let delivered_id = (
        kit.ids.item(&bob, delivered.id),
        kit.ids
            .item_change_key(&bob, delivered.id, delivered.change_key),
    );
    let messages = kit.messages_as(
        BOB,
        &format!(
            "<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds>{}</m:ItemIds></m:GetItem>",
            id_xml(&delivered_id)
        ),
    );
    let message = one(&messages[0], &["Items", "Message"]);
    assert_eq!(text(message, &["From", "Mailbox", "EmailAddress"]), ALICE);
    assert_eq!(
        text(message, &["ReceivedBy", "Mailbox", "EmailAddress"]),
        BOB
    );
    assert_eq!(text(message, &["IsRead"]), "false");
    assert_eq!(text(message, &["IsDraft"]), "false");
    assert!(
        all(message, &["BccRecipients"]).is_empty(),
        "recipients never see Bcc"
    );
    let headers: Vec<_> = all(
        message,
        &["InternetMessageHeaders", "InternetMessageHeader"],
    )
    .iter()
    .map(|h| h.attribute("", "HeaderName").unwrap().to_owned())
    .collect();
    assert!(
        headers.contains(&"Message-ID".to_owned()) && !headers.contains(&"Bcc".to_owned()),
        "{headers:?}"
    );
    assert_eq!(
        text(message, &["Attachments", "FileAttachment", "Name"]),
        "menu.txt"
    );

    // A remote recipient: refused as a whole, nothing delivered or saved.
    let messages = send("SendOnly", "carol@remote.test");
    assert_eq!(code(&messages[0]), "ErrorInvalidRecipients");
    assert!(text(&messages[0], &["MessageText"]).contains("carol@remote.test"));
    assert_eq!(
        kit.stored_folder(BOB, DistinguishedFolder::Inbox)
            .total_count,
        1
    );
    assert_eq!(
        kit.stored_folder(ALICE, DistinguishedFolder::SentItems)
            .total_count,
        1
    );
    // A message needs a disposition.
    let messages = kit.messages(r#"<m:CreateItem><m:Items><t:Message><t:Subject>x</t:Subject></t:Message></m:Items></m:CreateItem>"#);
    assert_eq!(code(&messages[0]), "ErrorMessageDispositionRequired");
}

#[test]
fn send_item_sends_a_draft_and_keeps_a_copy() {
    let kit = Kit::new();
    let draft = create_draft(&kit);
    let messages = kit.messages(&format!(
        r#"<m:SendItem SaveItemToFolder="true"><m:ItemIds>{}</m:ItemIds></m:SendItem>"#,
        id_xml(&draft)
    ));
    assert_ok(&messages);
    assert_eq!(
        kit.stored_folder(ALICE, DistinguishedFolder::Drafts)
            .total_count,
        0
    );
    assert_eq!(
        kit.stored_folder(ALICE, DistinguishedFolder::SentItems)
            .total_count,
        1
    );
    assert_eq!(
        kit.stored_folder(BOB, DistinguishedFolder::Inbox)
            .unread_count,
        1
    );
    let bob = MailboxId::new(BOB);
    let inbox = kit.folder(BOB, DistinguishedFolder::Inbox);
    let delivered = kit.store().items(&bob, inbox).unwrap().remove(0);
    let attachment = kit
        .store()
        .attachment(&bob, delivered.attachments[0].id)
        .unwrap();
    assert_eq!(attachment.content, [0, 1, 2, 255]);
    // The named property travelled by name into bob's mailbox.
    let color = umbox_store::props::NamedProperty::new(
        umbox_store::props::property_sets::PUBLIC_STRINGS,
        umbox_store::props::PropName::Name("Color".into()),
    );
    let id = kit.store().named_property_ids(&bob, &[color]).unwrap()[0].unwrap();
    assert_eq!(
        delivered.props.unicode(umbox_store::props::PropTag::new(
            id,
            umbox_store::props::PropType::Unicode
        )),
        Some("teal")
    );
    let again = kit.messages(&format!(
        r#"<m:SendItem SaveItemToFolder="false"><m:ItemIds>{}</m:ItemIds></m:SendItem>"#,
        id_xml(&draft)
    ));
    assert_eq!(code(&again[0]), "ErrorItemNotFound");
}

#[test]
fn delete_move_copy_and_mark_all_read() {
    let kit = Kit::new();
    let a = kit.deliver_voicemail(ALICE, b"a");
    let b = kit.deliver_voicemail(ALICE, b"b");
    let c = kit.deliver_voicemail(ALICE, b"c");
    assert_eq!(
        kit.stored_folder(ALICE, DistinguishedFolder::Voicemail)
            .unread_count,
        3
    );
    let copied = kit.messages(&format!(
        r#"<m:CopyItem><m:ToFolderId><t:DistinguishedFolderId Id="drafts"/></m:ToFolderId><m:ItemIds>{}</m:ItemIds></m:CopyItem>"#,
        id_xml(&a)
    ));
    assert_ok(&copied);
    assert_ne!(item_id(&copied[0]).0, a.0);
    let moved = kit.messages(&format!(
        r#"<m:MoveItem><m:ToFolderId><t:DistinguishedFolderId Id="junkemail"/></m:ToFolderId><m:ItemIds>{}</m:ItemIds></m:MoveItem>"#,
        id_xml(&b)
    ));
    assert_ok(&moved);
    let b2 = item_id(&moved[0]);
    assert_ne!(b2.0, b.0, "a moved item gets a new id");
    let stale = kit.messages(&format!("<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds>{}</m:ItemIds></m:GetItem>", id_xml(&b)));
    assert_eq!(code(&stale[0]), "ErrorItemNotFound");
    let to_search_folder = kit.messages(&format!(
        r#"<m:MoveItem><m:ToFolderId><t:DistinguishedFolderId Id="voicemail"/></m:ToFolderId><m:ItemIds>{}</m:ItemIds></m:MoveItem>"#,
        id_xml(&c)
    ));
    assert_eq!(code(&to_search_folder[0]), "ErrorMoveCopyFailed");

    let messages = kit.messages(
        r#"<m:MarkAllItemsAsRead><m:ReadFlag>true</m:ReadFlag><m:SuppressReadReceipts>true</m:SuppressReadReceipts>
           <m:FolderIds><t:DistinguishedFolderId Id="voicemail"/><t:DistinguishedFolderId Id="nosuchfolder"/></m:FolderIds></m:MarkAllItemsAsRead>"#,
    );
    assert_eq!(
        messages.iter().map(code).collect::<Vec<_>>(),
        ["NoError", "ErrorFolderNotFound"]
    );
    assert_eq!(
        kit.stored_folder(ALICE, DistinguishedFolder::Voicemail)
            .unread_count,
        0
    );
    assert_eq!(
        kit.stored_folder(ALICE, DistinguishedFolder::Inbox)
            .unread_count,
        0
    );

    let to_trash = kit.messages(&format!(
        r#"<m:DeleteItem DeleteType="MoveToDeletedItems"><m:ItemIds>{}</m:ItemIds></m:DeleteItem>"#,
        id_xml(&a)
    ));
    assert_ok(&to_trash);
    assert_eq!(
        kit.stored_folder(ALICE, DistinguishedFolder::DeletedItems)
            .total_count,
        1
    );
    let soft = kit.messages(&format!(
        r#"<m:DeleteItem DeleteType="SoftDelete"><m:ItemIds>{}{}</m:ItemIds></m:DeleteItem>"#,
        id_xml(&b2),
        id_xml(&b2)
    ));
    assert_eq!(
        soft.iter().map(code).collect::<Vec<_>>(),
        ["NoError", "ErrorItemNotFound"]
    );
    assert_eq!(
        kit.stored_folder(ALICE, DistinguishedFolder::JunkEmail)
            .total_count,
        0
    );
    for user in [ALICE, BOB] {
        assert!(kit
            .store()
            .verify(&MailboxId::new(user))
            .unwrap()
            .problems
            .is_empty());
    }
}

#[test]
fn attachments_round_trip_byte_for_byte() {
    let kit = Kit::new();
    let id = create_draft(&kit);
    let content: Vec<u8> = (0..=255u8).rev().cycle().take(70_001).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&content);
    let created = kit.messages(&format!(
        r#"<m:CreateAttachment><m:ParentItemId Id="{}" ChangeKey="{}"/><m:Attachments>
            <t:FileAttachment><t:Name>big.bin</t:Name><t:ContentType>application/x-test</t:ContentType><t:Content>{encoded}</t:Content></t:FileAttachment>
            <t:ItemAttachment><t:Name>Forwarded</t:Name><t:Message><t:Subject>Inner</t:Subject><t:Body BodyType="Text">inner body</t:Body></t:Message></t:ItemAttachment>
           </m:Attachments></m:CreateAttachment>"#,
        id.0, id.1
    ));
    assert_ok(&created);
    let file_id = one(
        &created[0],
        &["Attachments", "FileAttachment", "AttachmentId"],
    );
    assert_eq!(file_id.attribute("", "RootItemId"), Some(id.0.as_str()));
    assert_ne!(
        file_id.attribute("", "RootItemChangeKey"),
        Some(id.1.as_str())
    );
    let file_id = file_id.attribute("", "Id").unwrap().to_owned();
    let item_attachment = one(
        &created[1],
        &["Attachments", "ItemAttachment", "AttachmentId"],
    )
    .attribute("", "Id")
    .unwrap()
    .to_owned();

    let got = kit.messages(&format!(
        r#"<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="{file_id}"/><t:AttachmentId Id="{item_attachment}"/><t:AttachmentId Id="bogus"/></m:AttachmentIds></m:GetAttachment>"#
    ));
    assert_eq!(
        got.iter().map(code).collect::<Vec<_>>(),
        ["NoError", "NoError", "ErrorInvalidIdMalformed"]
    );
    let file = one(&got[0], &["Attachments", "FileAttachment"]);
    assert_eq!(text(file, &["Name"]), "big.bin");
    assert_eq!(text(file, &["Size"]), "70001");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(text(file, &["Content"]))
            .unwrap(),
        content
    );
    let inner = one(&got[1], &["Attachments", "ItemAttachment"]);
    assert_eq!(text(inner, &["Name"]), "Forwarded");
    assert_eq!(text(inner, &["Message", "Subject"]), "Inner");
    assert!(
        all(inner, &["Message", "ItemId"]).is_empty(),
        "an embedded item has no id"
    );

    let item = get(
        &kit,
        &id,
        "<t:BaseShape>IdOnly</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent>",
    );
    let mime = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(text(&item, &["Items", "Message", "MimeContent"]))
            .unwrap(),
    )
    .unwrap();
    assert!(
        mime.contains("Content-Type: message/rfc822\r\n") && mime.contains("Subject: Inner\r\n"),
        "{mime}"
    );

    let deleted = kit.messages(&format!(r#"<m:DeleteAttachment><m:AttachmentIds><t:AttachmentId Id="{file_id}"/><t:AttachmentId Id="{file_id}"/></m:AttachmentIds></m:DeleteAttachment>"#));
    assert_eq!(
        deleted.iter().map(code).collect::<Vec<_>>(),
        ["NoError", "ErrorItemNotFound"]
    );
    let root = one(&deleted[0], &["RootItemId"]);
    assert_eq!(root.namespace(), ns::EWS_MESSAGES);
    assert_eq!(root.attribute("", "RootItemId"), Some(id.0.as_str()));
    let other = kit.messages_as(BOB, &format!(r#"<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="{item_attachment}"/></m:AttachmentIds></m:GetAttachment>"#));
    assert_eq!(code(&other[0]), "ErrorAccessDenied");
}

#[test]
fn contacts_and_calendar_items() {
    let kit = Kit::new();
    let created = kit.messages(
        r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items>
            <t:Contact><t:DisplayName>Dana Dee</t:DisplayName><t:GivenName>Dana</t:GivenName>
              <t:EmailAddresses><t:Entry Key="EmailAddress1" Name="Dana">dana@x.test</t:Entry><t:Entry Key="EmailAddress2">dd@y.test</t:Entry></t:EmailAddresses>
              <t:PhoneNumbers><t:Entry Key="MobilePhone">+15550100</t:Entry></t:PhoneNumbers>
              <t:PostalAddressIndex>None</t:PostalAddressIndex><t:Surname>Dee</t:Surname></t:Contact>
            <t:CalendarItem><t:Subject>Standup</t:Subject><t:Start>2026-01-02T09:00:00Z</t:Start><t:End>2026-01-02T09:15:00Z</t:End>
              <t:IsAllDayEvent>false</t:IsAllDayEvent><t:LegacyFreeBusyStatus>Busy</t:LegacyFreeBusyStatus><t:Location>Room 1</t:Location>
              <t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>bob@example.test</t:EmailAddress></t:Mailbox></t:Attendee></t:RequiredAttendees>
              <t:StartTimeZone Id="UTC"/><t:EndTimeZone Id="UTC"/></t:CalendarItem>
           </m:Items></m:CreateItem>"#,
    );
    assert_ok(&created);
    assert_eq!(
        kit.stored_folder(ALICE, DistinguishedFolder::Contacts)
            .total_count,
        1
    );
    assert_eq!(
        kit.stored_folder(ALICE, DistinguishedFolder::Calendar)
            .total_count,
        1
    );
    let contact = get(
        &kit,
        &item_id(&created[0]),
        r#"<t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:IndexedFieldURI FieldURI="contacts:EmailAddress" FieldIndex="EmailAddress2"/><t:FieldURI FieldURI="contacts:Surname"/></t:AdditionalProperties>"#,
    );
    let contact = one(&contact, &["Items", "Contact"]);
    let entries = all(contact, &["EmailAddresses", "Entry"]);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].trimmed_text(), "dd@y.test");
    assert_eq!(text(contact, &["Surname"]), "Dee");
    let every = get(
        &kit,
        &item_id(&created[0]),
        "<t:BaseShape>AllProperties</t:BaseShape>",
    );
    let every = the_item(&every);
    assert_eq!(every.name(), "Contact");
    assert_eq!(text(every, &["PhoneNumbers", "Entry"]), "+15550100");
    assert_eq!(
        one(every, &["EmailAddresses", "Entry"]).attribute("", "Name"),
        Some("Dana")
    );

    let event = get(
        &kit,
        &item_id(&created[1]),
        "<t:BaseShape>AllProperties</t:BaseShape>",
    );
    let event = one(&event, &["Items", "CalendarItem"]);
    assert_eq!(text(event, &["Start"]), "2026-01-02T09:00:00Z");
    assert_eq!(text(event, &["Duration"]), "PT15M");
    assert_eq!(text(event, &["IsMeeting"]), "true");
    assert_eq!(
        text(event, &["Organizer", "Mailbox", "EmailAddress"]),
        ALICE
    );
    assert_eq!(
        one(event, &["StartTimeZone"]).attribute("", "Id"),
        Some("UTC")
    );
    assert_eq!(
        text(
            event,
            &["RequiredAttendees", "Attendee", "Mailbox", "EmailAddress"]
        ),
        BOB
    );
}

#[test]
fn extended_properties_by_set_and_id_and_by_set_and_name() {
    let kit = Kit::new();
    let created = kit.messages(
        r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>r</t:Subject><t:ReminderIsSet>true</t:ReminderIsSet>
            <t:ExtendedProperty><t:ExtendedFieldURI DistinguishedPropertySetId="UnifiedMessaging" PropertyName="AsrData" PropertyType="Binary"/><t:Value>PGEvPg==</t:Value></t:ExtendedProperty>
            <t:ExtendedProperty><t:ExtendedFieldURI PropertySetId="5a6d6f78-0000-4d42-8f00-000000000001" PropertyId="7" PropertyType="IntegerArray"/><t:Values><t:Value>1</t:Value><t:Value>2</t:Value></t:Values></t:ExtendedProperty>
           </t:Message></m:Items></m:CreateItem>"#,
    );
    assert_ok(&created);
    let item = get(
        &kit,
        &item_id(&created[0]),
        r#"<t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>
            <t:ExtendedFieldURI DistinguishedPropertySetId="Common" PropertyId="0x8503" PropertyType="Boolean"/>
            <t:ExtendedFieldURI DistinguishedPropertySetId="UnifiedMessaging" PropertyName="AsrData" PropertyType="Binary"/>
            <t:ExtendedFieldURI PropertySetId="5A6D6F78-0000-4D42-8F00-000000000001" PropertyId="7" PropertyType="IntegerArray"/>
            <t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="Never" PropertyType="String"/>
           </t:AdditionalProperties>"#,
    );
    let properties = all(&item, &["Items", "Message", "ExtendedProperty"]);
    assert_eq!(properties.len(), 3, "an unset property is left out");
    assert_eq!(
        text(properties[0], &["Value"]),
        "true",
        "ReminderIsSet is PidLidReminderSet by set and id"
    );
    assert_eq!(text(properties[1], &["Value"]), "PGEvPg==");
    let values: Vec<_> = all(properties[2], &["Values", "Value"])
        .iter()
        .map(|v| v.trimmed_text())
        .collect();
    assert_eq!(values, ["1", "2"]);
    let bad = kit.messages(
        r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items>
            <t:Message><t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x6801" PropertyType="Integer"/><t:Value>99999999999</t:Value></t:ExtendedProperty></t:Message>
            <t:Message><t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x1234" PropertyType="SystemTime"/><t:Value>yesterday</t:Value></t:ExtendedProperty></t:Message>
            <t:Message><t:Subject>fine</t:Subject></t:Message>
           </m:Items></m:CreateItem>"#,
    );
    assert_eq!(
        bad.iter().map(code).collect::<Vec<_>>(),
        [
            "ErrorInvalidExtendedPropertyValue",
            "ErrorInvalidExtendedPropertyValue",
            "NoError"
        ]
    );
}

/// What a client must read back from one `fixtures/mime/<case>.eml` (its `.expected` file; see
/// scripts/mime-fixtures.py, which wrote both with Python's codecs).
#[derive(Debug, Default)]
struct MimeExpected {
    subject: String,
    from: String,
    body: String,
    /// Attachment names in order, each with its content when the case gives it.
    attachments: Vec<(String, Option<Vec<u8>>)>,
}

fn mime_expected(text: &str) -> MimeExpected {
    let mut expected = MimeExpected::default();
    for line in text.lines() {
        let (field, value) = line.split_once(": ").unwrap();
        match field {
            "subject" => expected.subject = value.to_owned(),
            "from" => expected.from = value.to_owned(),
            "body" => expected.body = value.replace("\\n", "\n"),
            "attachment" => expected.attachments.push((value.to_owned(), None)),
            "attachment-hex" => {
                let bytes = (0..value.len())
                    .step_by(2)
                    .map(|at| u8::from_str_radix(&value[at..at + 2], 16).unwrap())
                    .collect();
                expected.attachments.last_mut().unwrap().1 = Some(bytes);
            }
            other => panic!("unknown field {other}"),
        }
    }
    expected
}

/// Every `fixtures/mime` message (windows-1252, ISO-2022-JP, Shift_JIS, GB2312, Big5, KOI8-R,
/// EUC-KR, UTF-16, RFC 2231 and RFC 2047 attachment names) created from its MimeContent reads
/// back through GetItem and GetAttachment as the text it was written from.
#[test]
fn mime_fixtures_read_back_in_every_charset() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/mime");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "eml"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 9,
        "fixtures/mime holds {} cases",
        cases.len()
    );
    let kit = Kit::new();
    for case in cases {
        let name = case.file_stem().unwrap().to_string_lossy().into_owned();
        let expected =
            mime_expected(&std::fs::read_to_string(case.with_extension("expected")).unwrap());
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(std::fs::read(&case).unwrap());
        let created = kit.messages(&format!(
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="inbox"/></m:SavedItemFolderId>
               <m:Items><t:Message><t:MimeContent CharacterSet="UTF-8">{encoded}</t:MimeContent></t:Message></m:Items></m:CreateItem>"#
        ));
        assert_ok(&created);
        let item = get(
            &kit,
            &item_id(&created[0]),
            "<t:BaseShape>AllProperties</t:BaseShape><t:BodyType>Text</t:BodyType>",
        );
        let message = one(&item, &["Items", "Message"]);
        assert_eq!(text(message, &["Subject"]), expected.subject, "{name}");
        let from = one(message, &["From", "Mailbox"]);
        assert_eq!(
            format!(
                "{} <{}>",
                text(from, &["Name"]),
                text(from, &["EmailAddress"])
            ),
            expected.from,
            "{name}"
        );
        assert_eq!(
            text(message, &["Body"]).replace("\r\n", "\n"),
            expected.body,
            "{name}"
        );
        let attachments = all(message, &["Attachments", "FileAttachment"]);
        assert_eq!(
            attachments
                .iter()
                .map(|a| text(a, &["Name"]))
                .collect::<Vec<_>>(),
            expected
                .attachments
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>(),
            "{name}"
        );
        for (attachment, (file, content)) in attachments.iter().zip(&expected.attachments) {
            let Some(content) = content else { continue };
            let id = one(attachment, &["AttachmentId"])
                .attribute("", "Id")
                .unwrap();
            let got = kit.messages(&format!(
                r#"<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="{id}"/></m:AttachmentIds></m:GetAttachment>"#
            ));
            assert_ok(&got);
            let stored = base64::engine::general_purpose::STANDARD
                .decode(text(&got[0], &["Attachments", "FileAttachment", "Content"]))
                .unwrap();
            assert_eq!(&stored, content, "{name}: {file}");
        }
    }
}

#[test]
fn mime_content_imports_and_replaces() {
    let kit = Kit::new();
    let voice = b"From: \"+14255550199\" <um@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: =?utf-8?B?Vm9pY2UgbWFpbCDimI4=?=\r\nDate: Thu, 01 Jan 2026 10:00:00 +0000\r\nContent-Class: voice-ca\r\nX-VoiceMessageDuration: 30\r\nX-CallingTelephoneNumber: +14255550199\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYou received a voice mail.\r\n--b1\r\nContent-Type: audio/wav; name=\"audio.wav\"\r\nContent-Transfer-Encoding: base64\r\n\r\nUklGRgAAAAA=\r\n--b1--\r\n";
    let encoded = base64::engine::general_purpose::STANDARD.encode(voice);
    let created = kit.messages(&format!(
        r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="inbox"/></m:SavedItemFolderId>
           <m:Items><t:Message><t:MimeContent CharacterSet="UTF-8">{encoded}</t:MimeContent><t:IsRead>false</t:IsRead></t:Message></m:Items></m:CreateItem>"#
    ));
    assert_ok(&created);
    let id = item_id(&created[0]);
    let item = get(
        &kit,
        &id,
        r#"<t:BaseShape>AllProperties</t:BaseShape><t:AdditionalProperties><t:ExtendedFieldURI PropertyTag="0x6801" PropertyType="Integer"/></t:AdditionalProperties>"#,
    );
    let message = one(&item, &["Items", "Message"]);
    assert_eq!(
        text(message, &["ItemClass"]),
        "IPM.Note.Microsoft.Voicemail.UM.CA"
    );
    assert_eq!(text(message, &["Subject"]), "Voice mail ☎");
    assert_eq!(text(message, &["Body"]), "You received a voice mail.");
    assert_eq!(text(message, &["DateTimeSent"]), "2026-01-01T10:00:00Z");
    assert_eq!(text(message, &["ExtendedProperty", "Value"]), "30");
    assert_eq!(
        text(message, &["From", "Mailbox", "EmailAddress"]),
        "um@example.test"
    );
    assert_eq!(text(message, &["ToRecipients", "Mailbox", "Name"]), "Alice");
    assert_eq!(
        text(message, &["Attachments", "FileAttachment", "Name"]),
        "audio.wav"
    );
    assert_eq!(
        kit.stored_folder(ALICE, DistinguishedFolder::Voicemail)
            .unread_count,
        1
    );
    assert!(
        !all(
            message,
            &["InternetMessageHeaders", "InternetMessageHeader"]
        )
        .is_empty(),
        "the imported headers are kept"
    );

    // A new MIME form replaces the old one, attachments included; other changes in the same
    // request apply after it.
    let replacement = base64::engine::general_purpose::STANDARD.encode(
        b"Subject: Replaced\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>new</p>\r\n",
    );
    let updated = kit.messages(&format!(
        r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" MessageDisposition="SaveOnly"><m:ItemChanges><t:ItemChange>{}<t:Updates>
            <t:SetItemField><t:FieldURI FieldURI="item:MimeContent"/><t:Message><t:MimeContent>{replacement}</t:MimeContent></t:Message></t:SetItemField>
            <t:SetItemField><t:FieldURI FieldURI="item:Importance"/><t:Message><t:Importance>Low</t:Importance></t:Message></t:SetItemField>
            <t:DeleteItemField><t:FieldURI FieldURI="calendar:When"/></t:DeleteItemField>
            <t:DeleteItemField><t:IndexedFieldURI FieldURI="contacts:PhysicalAddress:Street" FieldIndex="Home"/></t:DeleteItemField>
           </t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#,
        id_xml(&id)
    ));
    assert_ok(&updated);
    let item = get(
        &kit,
        &item_id(&updated[0]),
        "<t:BaseShape>AllProperties</t:BaseShape>",
    );
    let message = one(&item, &["Items", "Message"]);
    assert_eq!(text(message, &["Subject"]), "Replaced");
    assert_eq!(text(message, &["Body"]), "<p>new</p>");
    assert_eq!(text(message, &["Importance"]), "Low");
    assert!(all(message, &["Attachments"]).is_empty());
    assert!(all(message, &["ToRecipients"]).is_empty());
    let contact = kit.messages(&format!(
        r#"<m:CreateItem><m:Items><t:Contact><t:MimeContent>{replacement}</t:MimeContent></t:Contact></m:Items></m:CreateItem>"#
    ));
    assert_eq!(code(&contact[0]), "ErrorUnsupportedMimeConversion");
}
