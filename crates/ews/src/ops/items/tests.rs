//! Item and attachment operations through `ews::handle`, against a real store in a temp dir, the
//! demo directory and a fixed clock; plus the table runner for `fixtures/ews/**` cases.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;

use crate::ids::IdCodec;
use crate::{handle, Context, Limits};
use umbox_base::config::Site;
use umbox_base::directory::Directory;
use umbox_store::props::{tags, FileTime, PropKey, PropValue};
use umbox_store::{
    Change, DistinguishedFolder, MailStore, MailboxId, NewAttachment, Options, Outcome, RedbStore,
};
use umbox_xml::{self as xml, Element};

const M: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
const T: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";

fn directory() -> &'static Directory {
    static DIRECTORY: OnceLock<Directory> = OnceLock::new();
    DIRECTORY.get_or_init(|| Directory::demo().unwrap())
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "umbox-ews-items-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A store with alice's and bob's mailboxes, and everything a request needs.
pub(super) struct World {
    _dir: TempDir,
    pub(super) store: RedbStore,
    site: Site,
    ids: IdCodec,
    pub(super) now: SystemTime,
}

impl World {
    pub(super) fn new() -> World {
        let dir = TempDir::new();
        let store = RedbStore::open(&dir.0, Options::default()).unwrap();
        // 2026-01-01T13:14:15Z
        let now = UNIX_EPOCH + Duration::from_secs(1_767_273_255);
        for user in [ALICE, BOB] {
            store.ensure_mailbox(&MailboxId::new(user), now).unwrap();
        }
        let site = Site {
            domains: vec!["example.test".to_owned()],
            public_host: "mail.example.test".to_owned(),
            https_port: 443,
            sip_port: 5060,
            sips_port: 5061,
            addresses: Vec::new(),
        };
        World {
            _dir: dir,
            store,
            site,
            ids: IdCodec::from_key(b"ews items tests"),
            now,
        }
    }

    /// Sends `operation` (the Body content) as `caller` with schema `version`; returns the HTTP
    /// status and the parsed envelope.
    pub(super) fn call_as(&self, caller: &str, version: &str, operation: &str) -> (u16, Element) {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
             <soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:m=\"{M}\" xmlns:t=\"{T}\">\
             <soap:Header><t:RequestServerVersion Version=\"{version}\"/></soap:Header>\
             <soap:Body>{operation}</soap:Body></soap:Envelope>"
        );
        let caller = directory().user_by_address(caller).unwrap();
        let notify = crate::ops::testkit::scratch_hub(&self.store);
        let ctx = Context {
            caller,
            directory: directory(),
            site: &self.site,
            store: &self.store,
            ids: &self.ids,
            now: self.now,
            limits: Limits::default(),
            notify: &notify,
        };
        let reply = handle(body.as_bytes(), ctx);
        let text = String::from_utf8(reply.body).unwrap();
        let parsed = xml::parse(text.as_bytes(), &xml::Limits::DEFAULT)
            .unwrap_or_else(|e| panic!("{e}: {text}"));
        (reply.status, parsed)
    }

    /// Alice, Exchange2016, expecting HTTP 200; returns the response messages.
    pub(super) fn call(&self, operation: &str) -> Vec<Element> {
        self.call_by(ALICE, operation)
    }

    pub(super) fn call_by(&self, caller: &str, operation: &str) -> Vec<Element> {
        let (status, envelope) = self.call_as(caller, "Exchange2016", operation);
        assert_eq!(status, 200, "{envelope:#?}");
        let messages = descendants(&envelope, "ResponseMessages");
        messages.first().unwrap().children().cloned().collect()
    }

    pub(super) fn raw(&self, caller: &str, operation: &str) -> (u16, String) {
        let body = format!(
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:m=\"{M}\" xmlns:t=\"{T}\">\
             <soap:Header><t:RequestServerVersion Version=\"Exchange2016\"/></soap:Header>\
             <soap:Body>{operation}</soap:Body></soap:Envelope>"
        );
        let caller = directory().user_by_address(caller).unwrap();
        let notify = crate::ops::testkit::scratch_hub(&self.store);
        let ctx = Context {
            caller,
            directory: directory(),
            site: &self.site,
            store: &self.store,
            ids: &self.ids,
            now: self.now,
            limits: Limits::default(),
            notify: &notify,
        };
        let reply = handle(body.as_bytes(), ctx);
        (reply.status, String::from_utf8(reply.body).unwrap())
    }

    pub(super) fn folder(&self, user: &str, which: DistinguishedFolder) -> umbox_store::Folder {
        let mailbox = MailboxId::new(user);
        let id = self.store.distinguished_folder(&mailbox, which).unwrap();
        self.store.folder(&mailbox, id).unwrap()
    }

    pub(super) fn folder_id(&self, user: &str, which: DistinguishedFolder) -> String {
        let mailbox = MailboxId::new(user);
        self.ids.folder(
            &mailbox,
            self.store.distinguished_folder(&mailbox, which).unwrap(),
        )
    }

    /// A voice message as the UM pipeline delivers it: class, MS-OXOUM properties, WAV audio.
    pub(super) fn deliver_voicemail(&self, user: &str, audio: &[u8]) -> (String, String) {
        let mailbox = MailboxId::new(user);
        let inbox = self
            .store
            .distinguished_folder(&mailbox, DistinguishedFolder::Inbox)
            .unwrap();
        let stamp = PropValue::SystemTime(FileTime::from_system_time(self.now));
        let props = vec![
            (
                PropKey::Tag(tags::MESSAGE_CLASS),
                PropValue::Unicode("IPM.Note.Microsoft.Voicemail.UM.CA".into()),
            ),
            (
                PropKey::Tag(tags::SUBJECT),
                PropValue::Unicode("Voice Mail from +14255550123 (0:42)".into()),
            ),
            (
                PropKey::Tag(tags::BODY),
                PropValue::Unicode("You received a voice mail.".into()),
            ),
            (PropKey::Tag(tags::MESSAGE_FLAGS), PropValue::Int32(0)),
            (PropKey::Tag(tags::MESSAGE_DELIVERY_TIME), stamp.clone()),
            (PropKey::Tag(tags::CLIENT_SUBMIT_TIME), stamp),
            (
                PropKey::Tag(tags::SENT_REPRESENTING_NAME),
                PropValue::Unicode("+14255550123".into()),
            ),
            (
                PropKey::Tag(tags::SENT_REPRESENTING_EMAIL_ADDRESS),
                PropValue::Unicode("um@example.test".into()),
            ),
            (
                PropKey::Tag(tags::VOICE_MESSAGE_DURATION),
                PropValue::Int32(42),
            ),
            (
                PropKey::Tag(tags::SENDER_TELEPHONE_NUMBER),
                PropValue::Unicode("+14255550123".into()),
            ),
            (
                PropKey::Tag(tags::VOICE_MESSAGE_SENDER_NAME),
                PropValue::Unicode("Carol Caller".into()),
            ),
            (
                PropKey::Tag(tags::VOICE_MESSAGE_ATTACHMENT_ORDER),
                PropValue::Unicode("audio.wav".into()),
            ),
            (
                PropKey::Tag(tags::CALL_ID),
                PropValue::Unicode("call-7@gw.example.test".into()),
            ),
        ];
        let attachment = NewAttachment {
            props: vec![
                (
                    PropKey::Tag(tags::ATTACH_LONG_FILENAME),
                    PropValue::Unicode("audio.wav".into()),
                ),
                (
                    PropKey::Tag(tags::ATTACH_MIME_TAG),
                    PropValue::Unicode("audio/wav".into()),
                ),
            ],
            content: audio.to_vec(),
        };
        let change = Change::CreateItem {
            folder: inbox,
            props,
            attachments: vec![attachment],
        };
        let Outcome::Item { item, change_key } = self
            .store
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

/// Every descendant (or self) named `name`, depth first.
pub(super) fn descendants<'e>(element: &'e Element, name: &str) -> Vec<&'e Element> {
    let mut out = Vec::new();
    if element.name() == name {
        out.push(element);
    }
    for child in element.children() {
        out.extend(descendants(child, name));
    }
    out
}

pub(super) fn first<'e>(element: &'e Element, name: &str) -> &'e Element {
    descendants(element, name)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {name} in {element:#?}"))
}

pub(super) fn text_of(element: &Element, name: &str) -> String {
    first(element, name).text().to_owned()
}

pub(super) fn code(message: &Element) -> String {
    text_of(message, "ResponseCode")
}

fn assert_ok(messages: &[Element]) {
    for message in messages {
        assert_eq!(code(message), "NoError", "{message:#?}");
        assert_eq!(message.attribute("", "ResponseClass"), Some("Success"));
    }
}

fn item_id(message: &Element) -> (String, String) {
    let id = first(message, "ItemId");
    (
        id.attribute("", "Id").unwrap().to_owned(),
        id.attribute("", "ChangeKey").unwrap().to_owned(),
    )
}

fn id_xml(id: &(String, String)) -> String {
    format!("<t:ItemId Id=\"{}\" ChangeKey=\"{}\"/>", id.0, id.1)
}

fn get(world: &World, id: &(String, String), shape: &str) -> Element {
    let messages = world.call(&format!(
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

fn create_draft(world: &World) -> (String, String) {
    let messages = world.call(DRAFT);
    assert_ok(&messages);
    let attachments = descendants(&messages[0], "AttachmentId");
    assert_eq!(
        attachments.len(),
        1,
        "CreateItem answers the new attachment ids"
    );
    item_id(&messages[0])
}

#[test]
fn created_message_reads_back_with_extended_properties() {
    let world = World::new();
    let id = create_draft(&world);
    let item = get(
        &world,
        &id,
        r#"<t:BaseShape>AllProperties</t:BaseShape><t:AdditionalProperties>
            <t:ExtendedFieldURI PropertyTag="0x6801" PropertyType="Integer"/>
            <t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="Color" PropertyType="String"/>
           </t:AdditionalProperties>"#,
    );
    let message = first(&item, "Message");
    assert_eq!(text_of(message, "Subject"), "Quarterly numbers");
    assert_eq!(
        first(message, "Body").attribute("", "BodyType"),
        Some("HTML")
    );
    assert_eq!(text_of(message, "Body"), "<p>See &amp; reply</p>");
    assert_eq!(text_of(message, "TextBody"), "See & reply");
    assert_eq!(text_of(message, "IsDraft"), "true");
    assert_eq!(text_of(message, "IsRead"), "false");
    assert_eq!(text_of(message, "Importance"), "High");
    assert_eq!(text_of(message, "HasAttachments"), "true");
    assert_eq!(text_of(message, "DisplayTo"), "Bob Berg");
    assert_eq!(text_of(first(message, "ToRecipients"), "EmailAddress"), BOB);
    assert_eq!(
        text_of(first(message, "ToRecipients"), "MailboxType"),
        "Mailbox"
    );
    let categories: Vec<_> = descendants(message, "String")
        .iter()
        .map(|s| s.text().to_owned())
        .collect();
    assert_eq!(categories, ["Red", "Blue"]);
    let values: Vec<_> = descendants(message, "ExtendedProperty")
        .iter()
        .map(|p| text_of(p, "Value"))
        .collect();
    assert_eq!(values, ["42", "teal"]);
    assert_eq!(
        first(message, "ExtendedFieldURI").attribute("", "PropertyTag"),
        Some("0x6801")
    );
    assert_eq!(
        text_of(first(message, "FileAttachment"), "Name"),
        "data.bin"
    );
    assert!(text_of(message, "InternetMessageId").ends_with("@mail.example.test>"));
    // The draft counts as unread in Drafts, since IsRead was false.
    assert_eq!(
        world
            .folder(ALICE, DistinguishedFolder::Drafts)
            .unread_count,
        1
    );

    // IdOnly is the id alone; Default leaves out what it should.
    let id_only = get(&world, &id, "<t:BaseShape>IdOnly</t:BaseShape>");
    assert_eq!(first(&id_only, "Message").children().count(), 1);
    let default = get(
        &world,
        &id,
        "<t:BaseShape>Default</t:BaseShape><t:BodyType>Text</t:BodyType>",
    );
    assert_eq!(text_of(&default, "Body"), "See & reply");
    assert!(descendants(&default, "MimeContent").is_empty());
    assert!(descendants(&default, "BccRecipients").is_empty());
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
    let world = World::new();
    let audio: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let id = world.deliver_voicemail(ALICE, &audio);
    let item = get(
        &world,
        &id,
        r#"<t:BaseShape>AllProperties</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent><t:AdditionalProperties>
            <t:ExtendedFieldURI PropertyTag="0x6801" PropertyType="Integer"/>
            <t:ExtendedFieldURI PropertyTag="0x6802" PropertyType="String"/>
            <t:ExtendedFieldURI PropertyTag="0x6803" PropertyType="String"/>
            <t:ExtendedFieldURI PropertyTag="0x6805" PropertyType="String"/>
            <t:ExtendedFieldURI PropertyTag="0x6806" PropertyType="String"/>
           </t:AdditionalProperties>"#,
    );
    let message = first(&item, "Message");
    assert_in_order(message, MESSAGE_ORDER);
    assert_eq!(
        text_of(message, "ItemClass"),
        "IPM.Note.Microsoft.Voicemail.UM.CA"
    );
    let values: Vec<_> = descendants(message, "ExtendedProperty")
        .iter()
        .map(|p| text_of(p, "Value"))
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
        .decode(text_of(message, "MimeContent"))
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
        "Date: Thu, 01 Jan 2026 13:14:15 +0000\r\n",
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
        let messages = world.call(&format!(
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="inbox"/></m:SavedItemFolderId>
               <m:Items><t:Message><t:ItemClass>{class}</t:ItemClass><t:Subject>x</t:Subject></t:Message></m:Items></m:CreateItem>"#
        ));
        assert_ok(&messages);
        assert_eq!(
            first(&messages[0], "Items")
                .children()
                .next()
                .unwrap()
                .name(),
            "Message",
            "{class}"
        );
    }
    let missed = world.call(
        r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:ItemClass>IPM.Note.Microsoft.Missed.Voice</t:ItemClass><t:Subject>Missed call</t:Subject></t:Message></m:Items></m:CreateItem>"#,
    );
    let missed = get(
        &world,
        &item_id(&missed[0]),
        "<t:BaseShape>IdOnly</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent>",
    );
    let mime = base64::engine::general_purpose::STANDARD
        .decode(text_of(&missed, "MimeContent"))
        .unwrap();
    assert!(String::from_utf8(mime)
        .unwrap()
        .contains("Content-Class: missedcall\r\n"));
}

#[test]
fn update_item_sets_appends_deletes_and_honours_change_keys() {
    let world = World::new();
    let id = create_draft(&world);
    let change = |resolution: &str, key: &(String, String), updates: &str| {
        world.call(&format!(
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
    assert_eq!(text_of(&messages[0], "Count"), "0");
    let updated = item_id(&messages[0]);
    assert_eq!(updated.0, id.0, "an update keeps the id");
    assert_ne!(updated.1, id.1, "and changes the change key");
    assert_eq!(
        world
            .folder(ALICE, DistinguishedFolder::Drafts)
            .unread_count,
        0,
        "IsRead went through SetReadFlag"
    );
    let item = get(
        &world,
        &updated,
        r#"<t:BaseShape>AllProperties</t:BaseShape><t:AdditionalProperties><t:ExtendedFieldURI PropertyTag="0x6801" PropertyType="Integer"/></t:AdditionalProperties>"#,
    );
    assert_eq!(text_of(&item, "Subject"), "Renamed");
    assert_eq!(text_of(first(&item, "ExtendedProperty"), "Value"), "7");
    assert!(descendants(&item, "Categories").is_empty());
    assert_eq!(text_of(&item, "DisplayTo"), "Bob Berg; carol@remote.test");
    assert_eq!(text_of(&item, "IsRead"), "true");

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
    let messages = world.call(&format!(
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
    let world = World::new();
    let id = create_draft(&world);
    let bob_item = world.deliver_voicemail(BOB, b"RIFF");
    let gone = create_draft(&world);
    assert_ok(&world.call(&format!(
        r#"<m:DeleteItem DeleteType="HardDelete"><m:ItemIds>{}</m:ItemIds></m:DeleteItem>"#,
        id_xml(&gone)
    )));
    let messages = world.call(&format!(
        r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds>
            <t:ItemId Id="AAAA"/>{}<t:ItemId Id=""/>{}{}<t:ItemId Id="{}"/></m:ItemIds></m:GetItem>"#,
        id_xml(&id),
        id_xml(&gone),
        id_xml(&bob_item),
        world.folder_id(ALICE, DistinguishedFolder::Inbox)
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
    let (status, body) = world.raw(
        ALICE,
        r#"<m:GetItem><m:ItemIds><t:ItemId Id="x"/></m:ItemIds></m:GetItem>"#,
    );
    assert_eq!(status, 500);
    assert!(body.contains("ErrorSchemaValidation"));
}

#[test]
fn sending_delivers_to_local_recipients_and_refuses_remote_ones() {
    let world = World::new();
    let send = |disposition: &str, to: &str| {
        world.call(&format!(
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
        first(&messages[0], "Items").children().next().is_none(),
        "a sent message's id is not returned"
    );
    let inbox = world.folder(BOB, DistinguishedFolder::Inbox);
    assert_eq!((inbox.total_count, inbox.unread_count), (1, 1));
    assert_eq!(
        world.folder(ALICE, DistinguishedFolder::Inbox).unread_count,
        1,
        "the Bcc copy"
    );
    let sent = world.folder(ALICE, DistinguishedFolder::SentItems);
    assert_eq!((sent.total_count, sent.unread_count), (1, 0));

    let bob = MailboxId::new(BOB);
    let delivered = world.store.items(&bob, inbox.id).unwrap().remove(0);
    let delivered_id = (
        world.ids.item(&bob, delivered.id),
        world
            .ids
            .item_change_key(&bob, delivered.id, delivered.change_key),
    );
    let messages = world.call_by(
        BOB,
        &format!(
            "<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds>{}</m:ItemIds></m:GetItem>",
            id_xml(&delivered_id)
        ),
    );
    let message = first(&messages[0], "Message");
    assert_eq!(text_of(first(message, "From"), "EmailAddress"), ALICE);
    assert_eq!(text_of(first(message, "ReceivedBy"), "EmailAddress"), BOB);
    assert_eq!(text_of(message, "IsRead"), "false");
    assert_eq!(text_of(message, "IsDraft"), "false");
    assert!(
        descendants(message, "BccRecipients").is_empty(),
        "recipients never see Bcc"
    );
    let headers: Vec<_> = descendants(message, "InternetMessageHeader")
        .iter()
        .map(|h| h.attribute("", "HeaderName").unwrap().to_owned())
        .collect();
    assert!(
        headers.contains(&"Message-ID".to_owned()) && !headers.contains(&"Bcc".to_owned()),
        "{headers:?}"
    );
    assert_eq!(
        text_of(first(message, "FileAttachment"), "Name"),
        "menu.txt"
    );

    // A remote recipient: refused as a whole, nothing delivered or saved.
    let messages = send("SendOnly", "carol@remote.test");
    assert_eq!(code(&messages[0]), "ErrorInvalidRecipients");
    assert!(text_of(&messages[0], "MessageText").contains("carol@remote.test"));
    assert_eq!(world.folder(BOB, DistinguishedFolder::Inbox).total_count, 1);
    assert_eq!(
        world
            .folder(ALICE, DistinguishedFolder::SentItems)
            .total_count,
        1
    );
    // A message needs a disposition.
    let messages = world.call(r#"<m:CreateItem><m:Items><t:Message><t:Subject>x</t:Subject></t:Message></m:Items></m:CreateItem>"#);
    assert_eq!(code(&messages[0]), "ErrorMessageDispositionRequired");
}

#[test]
fn send_item_sends_a_draft_and_keeps_a_copy() {
    let world = World::new();
    let draft = create_draft(&world);
    let messages = world.call(&format!(
        r#"<m:SendItem SaveItemToFolder="true"><m:ItemIds>{}</m:ItemIds></m:SendItem>"#,
        id_xml(&draft)
    ));
    assert_ok(&messages);
    assert_eq!(
        world.folder(ALICE, DistinguishedFolder::Drafts).total_count,
        0
    );
    assert_eq!(
        world
            .folder(ALICE, DistinguishedFolder::SentItems)
            .total_count,
        1
    );
    assert_eq!(
        world.folder(BOB, DistinguishedFolder::Inbox).unread_count,
        1
    );
    let bob = MailboxId::new(BOB);
    let inbox = world
        .store
        .distinguished_folder(&bob, DistinguishedFolder::Inbox)
        .unwrap();
    let delivered = world.store.items(&bob, inbox).unwrap().remove(0);
    let attachment = world
        .store
        .attachment(&bob, delivered.attachments[0].id)
        .unwrap();
    assert_eq!(attachment.content, [0, 1, 2, 255]);
    // The named property travelled by name into bob's mailbox.
    let color = umbox_store::props::NamedProperty::new(
        umbox_store::props::property_sets::PUBLIC_STRINGS,
        umbox_store::props::PropName::Name("Color".into()),
    );
    let id = world.store.named_property_ids(&bob, &[color]).unwrap()[0].unwrap();
    assert_eq!(
        delivered.props.unicode(umbox_store::props::PropTag::new(
            id,
            umbox_store::props::PropType::Unicode
        )),
        Some("teal")
    );
    let again = world.call(&format!(
        r#"<m:SendItem SaveItemToFolder="false"><m:ItemIds>{}</m:ItemIds></m:SendItem>"#,
        id_xml(&draft)
    ));
    assert_eq!(code(&again[0]), "ErrorItemNotFound");
}

#[test]
fn delete_move_copy_and_mark_all_read() {
    let world = World::new();
    let a = world.deliver_voicemail(ALICE, b"a");
    let b = world.deliver_voicemail(ALICE, b"b");
    let c = world.deliver_voicemail(ALICE, b"c");
    assert_eq!(
        world
            .folder(ALICE, DistinguishedFolder::Voicemail)
            .unread_count,
        3
    );
    let copied = world.call(&format!(
        r#"<m:CopyItem><m:ToFolderId><t:DistinguishedFolderId Id="drafts"/></m:ToFolderId><m:ItemIds>{}</m:ItemIds></m:CopyItem>"#,
        id_xml(&a)
    ));
    assert_ok(&copied);
    assert_ne!(item_id(&copied[0]).0, a.0);
    let moved = world.call(&format!(
        r#"<m:MoveItem><m:ToFolderId><t:DistinguishedFolderId Id="junkemail"/></m:ToFolderId><m:ItemIds>{}</m:ItemIds></m:MoveItem>"#,
        id_xml(&b)
    ));
    assert_ok(&moved);
    let b2 = item_id(&moved[0]);
    assert_ne!(b2.0, b.0, "a moved item gets a new id");
    let stale = world.call(&format!("<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds>{}</m:ItemIds></m:GetItem>", id_xml(&b)));
    assert_eq!(code(&stale[0]), "ErrorItemNotFound");
    let to_search_folder = world.call(&format!(
        r#"<m:MoveItem><m:ToFolderId><t:DistinguishedFolderId Id="voicemail"/></m:ToFolderId><m:ItemIds>{}</m:ItemIds></m:MoveItem>"#,
        id_xml(&c)
    ));
    assert_eq!(code(&to_search_folder[0]), "ErrorMoveCopyFailed");

    let messages = world.call(
        r#"<m:MarkAllItemsAsRead><m:ReadFlag>true</m:ReadFlag><m:SuppressReadReceipts>true</m:SuppressReadReceipts>
           <m:FolderIds><t:DistinguishedFolderId Id="voicemail"/><t:DistinguishedFolderId Id="nosuchfolder"/></m:FolderIds></m:MarkAllItemsAsRead>"#,
    );
    assert_eq!(
        messages.iter().map(code).collect::<Vec<_>>(),
        ["NoError", "ErrorFolderNotFound"]
    );
    assert_eq!(
        world
            .folder(ALICE, DistinguishedFolder::Voicemail)
            .unread_count,
        0
    );
    assert_eq!(
        world.folder(ALICE, DistinguishedFolder::Inbox).unread_count,
        0
    );

    let to_trash = world.call(&format!(
        r#"<m:DeleteItem DeleteType="MoveToDeletedItems"><m:ItemIds>{}</m:ItemIds></m:DeleteItem>"#,
        id_xml(&a)
    ));
    assert_ok(&to_trash);
    assert_eq!(
        world
            .folder(ALICE, DistinguishedFolder::DeletedItems)
            .total_count,
        1
    );
    let soft = world.call(&format!(
        r#"<m:DeleteItem DeleteType="SoftDelete"><m:ItemIds>{}{}</m:ItemIds></m:DeleteItem>"#,
        id_xml(&b2),
        id_xml(&b2)
    ));
    assert_eq!(
        soft.iter().map(code).collect::<Vec<_>>(),
        ["NoError", "ErrorItemNotFound"]
    );
    assert_eq!(
        world
            .folder(ALICE, DistinguishedFolder::JunkEmail)
            .total_count,
        0
    );
    for user in [ALICE, BOB] {
        assert!(world
            .store
            .verify(&MailboxId::new(user))
            .unwrap()
            .problems
            .is_empty());
    }
}

#[test]
fn attachments_round_trip_byte_for_byte() {
    let world = World::new();
    let id = create_draft(&world);
    let content: Vec<u8> = (0..=255u8).rev().cycle().take(70_001).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&content);
    let created = world.call(&format!(
        r#"<m:CreateAttachment><m:ParentItemId Id="{}" ChangeKey="{}"/><m:Attachments>
            <t:FileAttachment><t:Name>big.bin</t:Name><t:ContentType>application/x-test</t:ContentType><t:Content>{encoded}</t:Content></t:FileAttachment>
            <t:ItemAttachment><t:Name>Forwarded</t:Name><t:Message><t:Subject>Inner</t:Subject><t:Body BodyType="Text">inner body</t:Body></t:Message></t:ItemAttachment>
           </m:Attachments></m:CreateAttachment>"#,
        id.0, id.1
    ));
    assert_ok(&created);
    let file_id = first(&created[0], "AttachmentId");
    assert_eq!(file_id.attribute("", "RootItemId"), Some(id.0.as_str()));
    assert_ne!(
        file_id.attribute("", "RootItemChangeKey"),
        Some(id.1.as_str())
    );
    let file_id = file_id.attribute("", "Id").unwrap().to_owned();
    let item_attachment = first(&created[1], "AttachmentId")
        .attribute("", "Id")
        .unwrap()
        .to_owned();

    let got = world.call(&format!(
        r#"<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="{file_id}"/><t:AttachmentId Id="{item_attachment}"/><t:AttachmentId Id="bogus"/></m:AttachmentIds></m:GetAttachment>"#
    ));
    assert_eq!(
        got.iter().map(code).collect::<Vec<_>>(),
        ["NoError", "NoError", "ErrorInvalidIdMalformed"]
    );
    let file = first(&got[0], "FileAttachment");
    assert_eq!(text_of(file, "Name"), "big.bin");
    assert_eq!(text_of(file, "Size"), "70001");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(text_of(file, "Content"))
            .unwrap(),
        content
    );
    let inner = first(&got[1], "ItemAttachment");
    assert_eq!(text_of(inner, "Name"), "Forwarded");
    assert_eq!(text_of(first(inner, "Message"), "Subject"), "Inner");
    assert!(
        descendants(first(inner, "Message"), "ItemId").is_empty(),
        "an embedded item has no id"
    );

    let item = get(
        &world,
        &id,
        "<t:BaseShape>IdOnly</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent>",
    );
    let mime = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(text_of(&item, "MimeContent"))
            .unwrap(),
    )
    .unwrap();
    assert!(
        mime.contains("Content-Type: message/rfc822\r\n") && mime.contains("Subject: Inner\r\n"),
        "{mime}"
    );

    let deleted = world.call(&format!(r#"<m:DeleteAttachment><m:AttachmentIds><t:AttachmentId Id="{file_id}"/><t:AttachmentId Id="{file_id}"/></m:AttachmentIds></m:DeleteAttachment>"#));
    assert_eq!(
        deleted.iter().map(code).collect::<Vec<_>>(),
        ["NoError", "ErrorItemNotFound"]
    );
    let root = first(&deleted[0], "RootItemId");
    assert_eq!(root.namespace(), M);
    assert_eq!(root.attribute("", "RootItemId"), Some(id.0.as_str()));
    let other = world.call_by(BOB, &format!(r#"<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="{item_attachment}"/></m:AttachmentIds></m:GetAttachment>"#));
    assert_eq!(code(&other[0]), "ErrorAccessDenied");
}

#[test]
fn contacts_and_calendar_items() {
    let world = World::new();
    let created = world.call(
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
        world
            .folder(ALICE, DistinguishedFolder::Contacts)
            .total_count,
        1
    );
    assert_eq!(
        world
            .folder(ALICE, DistinguishedFolder::Calendar)
            .total_count,
        1
    );
    let contact = get(
        &world,
        &item_id(&created[0]),
        r#"<t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:IndexedFieldURI FieldURI="contacts:EmailAddress" FieldIndex="EmailAddress2"/><t:FieldURI FieldURI="contacts:Surname"/></t:AdditionalProperties>"#,
    );
    let entries = descendants(&contact, "Entry");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].text(), "dd@y.test");
    assert_eq!(text_of(&contact, "Surname"), "Dee");
    let all = get(
        &world,
        &item_id(&created[0]),
        "<t:BaseShape>AllProperties</t:BaseShape>",
    );
    assert_eq!(
        first(&all, "Items").children().next().unwrap().name(),
        "Contact"
    );
    assert_eq!(text_of(first(&all, "PhoneNumbers"), "Entry"), "+15550100");
    assert_eq!(
        first(first(&all, "EmailAddresses"), "Entry").attribute("", "Name"),
        Some("Dana")
    );

    let event = get(
        &world,
        &item_id(&created[1]),
        "<t:BaseShape>AllProperties</t:BaseShape>",
    );
    let event = first(&event, "CalendarItem");
    assert_eq!(text_of(event, "Start"), "2026-01-02T09:00:00Z");
    assert_eq!(text_of(event, "Duration"), "PT15M");
    assert_eq!(text_of(event, "IsMeeting"), "true");
    assert_eq!(text_of(first(event, "Organizer"), "EmailAddress"), ALICE);
    assert_eq!(
        first(event, "StartTimeZone").attribute("", "Id"),
        Some("UTC")
    );
    assert_eq!(
        text_of(first(event, "RequiredAttendees"), "EmailAddress"),
        BOB
    );
}

#[test]
fn extended_properties_by_set_and_id_and_by_set_and_name() {
    let world = World::new();
    let created = world.call(
        r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>r</t:Subject><t:ReminderIsSet>true</t:ReminderIsSet>
            <t:ExtendedProperty><t:ExtendedFieldURI DistinguishedPropertySetId="UnifiedMessaging" PropertyName="AsrData" PropertyType="Binary"/><t:Value>PGEvPg==</t:Value></t:ExtendedProperty>
            <t:ExtendedProperty><t:ExtendedFieldURI PropertySetId="5a6d6f78-0000-4d42-8f00-000000000001" PropertyId="7" PropertyType="IntegerArray"/><t:Values><t:Value>1</t:Value><t:Value>2</t:Value></t:Values></t:ExtendedProperty>
           </t:Message></m:Items></m:CreateItem>"#,
    );
    assert_ok(&created);
    let item = get(
        &world,
        &item_id(&created[0]),
        r#"<t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>
            <t:ExtendedFieldURI DistinguishedPropertySetId="Common" PropertyId="0x8503" PropertyType="Boolean"/>
            <t:ExtendedFieldURI DistinguishedPropertySetId="UnifiedMessaging" PropertyName="AsrData" PropertyType="Binary"/>
            <t:ExtendedFieldURI PropertySetId="5A6D6F78-0000-4D42-8F00-000000000001" PropertyId="7" PropertyType="IntegerArray"/>
            <t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="Never" PropertyType="String"/>
           </t:AdditionalProperties>"#,
    );
    let properties = descendants(&item, "ExtendedProperty");
    assert_eq!(properties.len(), 3, "an unset property is left out");
    assert_eq!(
        text_of(properties[0], "Value"),
        "true",
        "ReminderIsSet is PidLidReminderSet by set and id"
    );
    assert_eq!(text_of(properties[1], "Value"), "PGEvPg==");
    let values: Vec<_> = descendants(properties[2], "Value")
        .iter()
        .map(|v| v.text().to_owned())
        .collect();
    assert_eq!(values, ["1", "2"]);
    let bad = world.call(
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

#[test]
fn mime_content_imports_and_replaces() {
    let world = World::new();
    let voice = b"From: \"+14255550199\" <um@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: =?utf-8?B?Vm9pY2UgbWFpbCDimI4=?=\r\nDate: Thu, 01 Jan 2026 10:00:00 +0000\r\nContent-Class: voice-ca\r\nX-VoiceMessageDuration: 30\r\nX-CallingTelephoneNumber: +14255550199\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYou received a voice mail.\r\n--b1\r\nContent-Type: audio/wav; name=\"audio.wav\"\r\nContent-Transfer-Encoding: base64\r\n\r\nUklGRgAAAAA=\r\n--b1--\r\n";
    let encoded = base64::engine::general_purpose::STANDARD.encode(voice);
    let created = world.call(&format!(
        r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="inbox"/></m:SavedItemFolderId>
           <m:Items><t:Message><t:MimeContent CharacterSet="UTF-8">{encoded}</t:MimeContent><t:IsRead>false</t:IsRead></t:Message></m:Items></m:CreateItem>"#
    ));
    assert_ok(&created);
    let id = item_id(&created[0]);
    let item = get(
        &world,
        &id,
        r#"<t:BaseShape>AllProperties</t:BaseShape><t:AdditionalProperties><t:ExtendedFieldURI PropertyTag="0x6801" PropertyType="Integer"/></t:AdditionalProperties>"#,
    );
    assert_eq!(
        text_of(&item, "ItemClass"),
        "IPM.Note.Microsoft.Voicemail.UM.CA"
    );
    assert_eq!(text_of(&item, "Subject"), "Voice mail ☎");
    assert_eq!(text_of(&item, "Body"), "You received a voice mail.");
    assert_eq!(text_of(&item, "DateTimeSent"), "2026-01-01T10:00:00Z");
    assert_eq!(text_of(first(&item, "ExtendedProperty"), "Value"), "30");
    assert_eq!(
        text_of(first(&item, "From"), "EmailAddress"),
        "um@example.test"
    );
    assert_eq!(text_of(first(&item, "ToRecipients"), "Name"), "Alice");
    assert_eq!(text_of(first(&item, "FileAttachment"), "Name"), "audio.wav");
    assert_eq!(
        world
            .folder(ALICE, DistinguishedFolder::Voicemail)
            .unread_count,
        1
    );
    assert!(
        !descendants(&item, "InternetMessageHeader").is_empty(),
        "the imported headers are kept"
    );

    // A new MIME form replaces the old one, attachments included; other changes in the same
    // request apply after it.
    let replacement = base64::engine::general_purpose::STANDARD.encode(
        b"Subject: Replaced\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>new</p>\r\n",
    );
    let updated = world.call(&format!(
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
        &world,
        &item_id(&updated[0]),
        "<t:BaseShape>AllProperties</t:BaseShape>",
    );
    assert_eq!(text_of(&item, "Subject"), "Replaced");
    assert_eq!(text_of(&item, "Body").trim_end(), "<p>new</p>");
    assert_eq!(text_of(&item, "Importance"), "Low");
    assert!(descendants(&item, "Attachments").is_empty());
    assert!(descendants(&item, "ToRecipients").is_empty());
    let contact = world.call(&format!(
        r#"<m:CreateItem><m:Items><t:Contact><t:MimeContent>{replacement}</t:MimeContent></t:Contact></m:Items></m:CreateItem>"#
    ));
    assert_eq!(code(&contact[0]), "ErrorUnsupportedMimeConversion");
}
