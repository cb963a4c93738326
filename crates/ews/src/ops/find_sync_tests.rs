//! Behaviour tests of FindItem, FindFolder, the folder changes and the sync operations, through
//! `ews::handle` over a real store: paging, restrictions, sort orders, the voicemail search
//! folder, SyncState round trips, and the folder counts after every change.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::ids::IdCodec;
use crate::{handle, Context, Limits};
use umbox_base::config::Site;
use umbox_base::directory::Directory;
use umbox_store::props::{
    property_sets, tags, FileTime, NamedProperty, PropKey, PropName, PropType, PropValue,
};
use umbox_store::{
    Change, DistinguishedFolder, FolderId, ItemId, MailStore, MailboxId, Options, Outcome,
    RedbStore,
};
use umbox_xml::{self as xml, ns, Element};

const ALICE: &str = "alice@example.test";

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Fixture {
    _dir: TempDir,
    store: RedbStore,
    directory: Directory,
    site: Site,
    ids: IdCodec,
    mailbox: MailboxId,
    limits: Limits,
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600 + seconds)
}

/// A parsed response: its HTTP status and document.
struct Response {
    status: u16,
    root: Element,
    text: String,
}

impl Response {
    /// Every element named `name` in the document, in document order.
    fn all(&self, name: &str) -> Vec<&Element> {
        let mut out = Vec::new();
        descendants(&self.root, name, &mut out);
        out
    }

    fn one(&self, name: &str) -> &Element {
        let all = self.all(name);
        assert_eq!(all.len(), 1, "one {name} in {}", self.text);
        all[0]
    }

    /// The ResponseCode of each response message, in order.
    fn codes(&self) -> Vec<String> {
        self.all("ResponseCode")
            .iter()
            .map(|c| c.text().to_owned())
            .collect()
    }

    fn texts(&self, name: &str) -> Vec<String> {
        self.all(name).iter().map(|e| e.text().to_owned()).collect()
    }
}

fn descendants<'e>(element: &'e Element, name: &str, out: &mut Vec<&'e Element>) {
    for child in element.children() {
        if child.name() == name {
            out.push(child);
        }
        descendants(child, name, out);
    }
}

impl Fixture {
    fn new() -> Fixture {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "umbox-ews-find-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        let store = RedbStore::open(&path, Options::default()).unwrap();
        let mailbox = MailboxId::new(ALICE);
        store.ensure_mailbox(&mailbox, at(0)).unwrap();
        Fixture {
            _dir: TempDir(path),
            store,
            directory: Directory::demo().unwrap(),
            site: Site {
                domains: vec!["example.test".into()],
                public_host: "mail.example.test".into(),
                https_port: 443,
                sip_port: 5060,
                sips_port: 5061,
                addresses: Vec::new(),
            },
            ids: IdCodec::from_key(b"find tests"),
            mailbox,
            limits: Limits::default(),
        }
    }

    fn call_as(&self, version: &str, operation: &str) -> Response {
        let body = format!(
            r#"<s:Envelope xmlns:s="{}" xmlns:m="{}" xmlns:t="{}"><s:Header><t:RequestServerVersion Version="{version}"/></s:Header><s:Body>{operation}</s:Body></s:Envelope>"#,
            ns::SOAP_ENVELOPE,
            ns::EWS_MESSAGES,
            ns::EWS_TYPES
        );
        let notify = crate::ops::testkit::scratch_hub(&self.store);
        let ctx = Context {
            caller: self.directory.user_by_address(ALICE).unwrap(),
            directory: &self.directory,
            site: &self.site,
            store: &self.store,
            ids: &self.ids,
            now: at(3600),
            limits: self.limits,
            notify: &notify,
        };
        let reply = handle(body.as_bytes(), ctx);
        let text = String::from_utf8(reply.body).unwrap();
        let root = xml::parse(text.as_bytes(), &xml::Limits::DEFAULT).unwrap();
        Response {
            status: reply.status,
            root,
            text,
        }
    }

    fn call(&self, operation: &str) -> Response {
        self.call_as("Exchange2013", operation)
    }

    fn folder(&self, which: DistinguishedFolder) -> FolderId {
        self.store
            .distinguished_folder(&self.mailbox, which)
            .unwrap()
    }

    fn folder_id(&self, folder: FolderId) -> String {
        format!(
            r#"<t:FolderId Id="{}"/>"#,
            self.ids.folder(&self.mailbox, folder)
        )
    }

    fn apply(&self, change: Change) -> Outcome {
        self.store
            .apply(&self.mailbox, change, at(60))
            .unwrap()
            .outcome
    }

    fn create_item(&self, folder: FolderId, props: Vec<(PropKey, PropValue)>) -> ItemId {
        match self.apply(Change::CreateItem {
            folder,
            props,
            attachments: Vec::new(),
        }) {
            Outcome::Item { item, .. } => item,
            other => panic!("{other:?}"),
        }
    }

    /// (TotalCount, UnreadCount, ChildFolderCount) as the store reports them, checked against a
    /// recount of the whole mailbox.
    fn counts(&self, folder: FolderId) -> (u64, u64, u64) {
        let report = self.store.verify(&self.mailbox).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        let f = self.store.folder(&self.mailbox, folder).unwrap();
        (f.total_count, f.unread_count, f.child_folder_count)
    }
}

fn text(value: &str) -> PropValue {
    PropValue::Unicode(value.to_owned())
}

fn time(seconds: u64) -> PropValue {
    PropValue::SystemTime(FileTime::from_system_time(at(seconds)))
}

fn message(subject: &str, class: &str, read: bool, received: u64) -> Vec<(PropKey, PropValue)> {
    vec![
        (tags::SUBJECT.into(), text(subject)),
        (tags::MESSAGE_CLASS.into(), text(class)),
        (
            tags::MESSAGE_FLAGS.into(),
            PropValue::Int32(if read { tags::MSGFLAG_READ } else { 0 }),
        ),
        (tags::MESSAGE_DELIVERY_TIME.into(), time(received)),
    ]
}

fn find_item(parent: &str, shape: &str, rest: &str) -> String {
    format!(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>{shape}</t:BaseShape></m:ItemShape>{rest}<m:ParentFolderIds>{parent}</m:ParentFolderIds></m:FindItem>"#
    )
}

const INBOX: &str = r#"<t:DistinguishedFolderId Id="inbox"/>"#;
const VOICEMAIL: &str = r#"<t:DistinguishedFolderId Id="voicemail"/>"#;

fn root_folder(response: &Response) -> (String, String, String) {
    let root = response.one("RootFolder");
    let attribute = |name| root.attribute("", name).unwrap_or_default().to_owned();
    (
        attribute("IndexedPagingOffset"),
        attribute("TotalItemsInView"),
        attribute("IncludesLastItemInRange"),
    )
}

#[test]
fn find_item_pages_through_500_items_from_either_end_and_by_fraction() {
    let f = Fixture::new();
    let inbox = f.folder(DistinguishedFolder::Inbox);
    for n in 0..500 {
        f.create_item(
            inbox,
            message(&format!("Item {n:03}"), "IPM.Note", n % 2 == 0, n),
        );
    }
    assert_eq!(f.counts(inbox), (500, 250, 0));
    let mut seen = Vec::new();
    let mut offset = 0;
    for page in 0..5 {
        let r = f.call(&find_item(
            INBOX,
            "Default",
            &format!(r#"<m:IndexedPageItemView MaxEntriesReturned="120" Offset="{offset}" BasePoint="Beginning"/>"#),
        ));
        assert_eq!(r.codes(), ["NoError"], "{}", r.text);
        let (next, total, last) = root_folder(&r);
        assert_eq!(total, "500");
        assert_eq!(last, if page == 4 { "true" } else { "false" });
        offset = next.parse().unwrap();
        seen.extend(r.texts("Subject"));
        if last == "true" {
            break;
        }
    }
    assert_eq!(offset, 500);
    let expected: Vec<String> = (0..500).map(|n| format!("Item {n:03}")).collect();
    assert_eq!(seen, expected, "every item once, in store order");

    let r = f.call(&find_item(
        INBOX,
        "IdOnly",
        r#"<m:IndexedPageItemView MaxEntriesReturned="10" Offset="5" BasePoint="End"/>"#,
    ));
    assert_eq!(r.all("ItemId").len(), 10);
    assert!(r.all("Subject").is_empty(), "IdOnly has no subject");
    assert_eq!(root_folder(&r), ("15".into(), "500".into(), "false".into()));

    let r = f.call(&find_item(
        INBOX,
        "Default",
        r#"<m:FractionalPageItemView MaxEntriesReturned="3" Numerator="1" Denominator="2"/>"#,
    ));
    assert_eq!(r.texts("Subject"), ["Item 250", "Item 251", "Item 252"]);
    let root = r.one("RootFolder");
    assert_eq!(root.attribute("", "NumeratorOffset"), Some("253"));
    assert_eq!(root.attribute("", "AbsoluteDenominator"), Some("500"));
    assert_eq!(root.attribute("", "IncludesLastItemInRange"), Some("false"));

    let r = f.call(&find_item(
        INBOX,
        "IdOnly",
        r#"<m:FractionalPageItemView MaxEntriesReturned="3" Numerator="3" Denominator="2"/>"#,
    ));
    assert_eq!(r.codes(), ["ErrorInvalidFractionalPagingParameters"]);
}

#[test]
fn find_item_refuses_pages_over_the_find_count_limit() {
    let mut f = Fixture::new();
    f.limits = Limits {
        find_count: 3,
        ..Limits::default()
    };
    let inbox = f.folder(DistinguishedFolder::Inbox);
    for n in 0..4 {
        f.create_item(inbox, message(&format!("m{n}"), "IPM.Note", false, n));
    }
    let r = f.call(&find_item(INBOX, "IdOnly", ""));
    assert_eq!(r.codes(), ["ErrorExceededFindCountLimit"]);
    let r = f.call(&find_item(
        INBOX,
        "IdOnly",
        r#"<m:IndexedPageItemView MaxEntriesReturned="3" Offset="0" BasePoint="Beginning"/>"#,
    ));
    assert_eq!(r.codes(), ["NoError"]);
    assert_eq!(root_folder(&r), ("3".into(), "4".into(), "false".into()));
}

/// Items for the restriction and sort tests, in the inbox; returns the inbox.
fn seed_for_queries(f: &Fixture) -> FolderId {
    let inbox = f.folder(DistinguishedFolder::Inbox);
    let color = NamedProperty::new(
        property_sets::PUBLIC_STRINGS,
        PropName::Name("Color".into()),
    );
    let mut voicemail = message(
        "Voice Mail from +1 425 555 0102",
        "IPM.Note.Microsoft.Voicemail.UM.CA",
        false,
        30,
    );
    voicemail.push((tags::VOICE_MESSAGE_DURATION.into(), PropValue::Int32(12)));
    voicemail.push((
        PropKey::Named(color.clone(), PropType::Unicode),
        text("Red"),
    ));
    f.create_item(inbox, voicemail);
    let mut note = message("Lunch on Friday?", "IPM.Note", true, 10);
    note.push((tags::IMPORTANCE.into(), PropValue::Int32(2)));
    note.push((tags::CLIENT_SUBMIT_TIME.into(), time(5)));
    note.push((PropKey::Named(color, PropType::Unicode), text("blue")));
    f.create_item(inbox, note);
    let mut late = message("Café menu", "IPM.Note", false, 20);
    // Submitted after it arrived: only a comparison of the two properties finds it.
    late.push((tags::CLIENT_SUBMIT_TIME.into(), time(25)));
    f.create_item(inbox, late);
    let mut second = message(
        "Voice Mail from Bob Berg",
        "IPM.Note.Microsoft.Voicemail.UM",
        true,
        40,
    );
    second.push((tags::VOICE_MESSAGE_DURATION.into(), PropValue::Int32(40)));
    f.create_item(inbox, second);
    inbox
}

fn subjects_where(f: &Fixture, restriction: &str) -> Vec<String> {
    let r = f.call(&find_item(
        INBOX,
        "Default",
        &format!("<m:Restriction>{restriction}</m:Restriction>"),
    ));
    assert_eq!(r.codes(), ["NoError"], "{}", r.text);
    r.texts("Subject")
}

#[test]
fn restrictions_compare_typed_values() {
    let f = Fixture::new();
    seed_for_queries(&f);
    let field = |uri: &str| format!(r#"<t:FieldURI FieldURI="{uri}"/>"#);
    let constant = |value: &str| {
        format!(r#"<t:FieldURIOrConstant><t:Constant Value="{value}"/></t:FieldURIOrConstant>"#)
    };
    // Strings compare ignoring case.
    assert_eq!(
        subjects_where(
            &f,
            &format!(
                "<t:IsEqualTo>{}{}</t:IsEqualTo>",
                field("item:Subject"),
                constant("lunch ON friday?")
            )
        ),
        ["Lunch on Friday?"]
    );
    // message:IsRead comes from PidTagMessageFlags.
    assert_eq!(
        subjects_where(
            &f,
            &format!(
                "<t:IsEqualTo>{}{}</t:IsEqualTo>",
                field("message:IsRead"),
                constant("false")
            )
        ),
        ["Voice Mail from +1 425 555 0102", "Café menu"]
    );
    // Times.
    assert_eq!(
        subjects_where(
            &f,
            &format!(
                "<t:IsGreaterThanOrEqualTo>{}{}</t:IsGreaterThanOrEqualTo>",
                field("item:DateTimeReceived"),
                constant(&crate::time::format(at(30)))
            )
        ),
        [
            "Voice Mail from +1 425 555 0102",
            "Voice Mail from Bob Berg"
        ]
    );
    // Importance constants are names.
    assert_eq!(
        subjects_where(
            &f,
            &format!(
                "<t:IsEqualTo>{}{}</t:IsEqualTo>",
                field("item:Importance"),
                constant("High")
            )
        ),
        ["Lunch on Friday?"]
    );
    // Two properties of one item.
    assert_eq!(
        subjects_where(
            &f,
            &format!(
                "<t:IsGreaterThan>{}<t:FieldURIOrConstant>{}</t:FieldURIOrConstant></t:IsGreaterThan>",
                field("item:DateTimeSent"),
                field("item:DateTimeReceived")
            )
        ),
        ["Café menu"]
    );
    // A tagged extended property, with And, Or and Not.
    let duration = r#"<t:ExtendedFieldURI PropertyTag="0x6801" PropertyType="Integer"/>"#;
    assert_eq!(
        subjects_where(
            &f,
            &format!(
                "<t:And><t:IsLessThan>{duration}{}</t:IsLessThan><t:Not><t:IsEqualTo>{}{}</t:IsEqualTo></t:Not></t:And>",
                constant("100"),
                field("message:IsRead"),
                constant("true")
            )
        ),
        ["Voice Mail from +1 425 555 0102"]
    );
    assert_eq!(
        subjects_where(
            &f,
            &format!(
                "<t:Or><t:IsEqualTo>{duration}{}</t:IsEqualTo><t:IsEqualTo>{}{}</t:IsEqualTo></t:Or>",
                constant("40"),
                field("item:Subject"),
                constant("Café menu")
            )
        ),
        ["Café menu", "Voice Mail from Bob Berg"]
    );
    // A named extended property; items without it are only "not equal".
    let color = r#"<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="Color" PropertyType="String"/>"#;
    assert_eq!(
        subjects_where(
            &f,
            &format!("<t:IsEqualTo>{color}{}</t:IsEqualTo>", constant("BLUE"))
        ),
        ["Lunch on Friday?"]
    );
    assert_eq!(
        subjects_where(
            &f,
            &format!(
                "<t:IsNotEqualTo>{color}{}</t:IsNotEqualTo>",
                constant("blue")
            )
        ),
        [
            "Voice Mail from +1 425 555 0102",
            "Café menu",
            "Voice Mail from Bob Berg"
        ]
    );
    assert_eq!(
        subjects_where(&f, &format!("<t:Exists>{color}</t:Exists>")),
        ["Voice Mail from +1 425 555 0102", "Lunch on Friday?"]
    );
    // A name the mailbox never used matches nothing, and is no error.
    let unknown = r#"<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="Never" PropertyType="String"/>"#;
    assert!(subjects_where(&f, &format!("<t:Exists>{unknown}</t:Exists>")).is_empty());
    // Excludes: unread items have no MSGFLAG_READ bit.
    let flags = r#"<t:ExtendedFieldURI PropertyTag="0x0E07" PropertyType="Integer"/>"#;
    assert_eq!(
        subjects_where(
            &f,
            &format!(r#"<t:Excludes>{flags}<t:Bitmask Value="0x1"/></t:Excludes>"#)
        ),
        ["Voice Mail from +1 425 555 0102", "Café menu"]
    );
}

#[test]
fn contains_follows_containment_mode_and_comparison() {
    let f = Fixture::new();
    seed_for_queries(&f);
    let contains = |mode: &str, comparison: &str, uri: &str, value: &str| {
        subjects_where(
            &f,
            &format!(
                r#"<t:Contains ContainmentMode="{mode}" ContainmentComparison="{comparison}"><t:FieldURI FieldURI="{uri}"/><t:Constant Value="{value}"/></t:Contains>"#
            ),
        )
    };
    assert_eq!(
        contains(
            "Prefixed",
            "IgnoreCase",
            "item:ItemClass",
            "ipm.note.microsoft.voicemail"
        ),
        [
            "Voice Mail from +1 425 555 0102",
            "Voice Mail from Bob Berg"
        ]
    );
    assert!(contains(
        "Prefixed",
        "Exact",
        "item:ItemClass",
        "ipm.note.microsoft.voicemail"
    )
    .is_empty());
    assert_eq!(
        contains("Substring", "IgnoreCase", "item:Subject", "BOB"),
        ["Voice Mail from Bob Berg"]
    );
    assert_eq!(
        contains("PrefixOnWords", "IgnoreCase", "item:Subject", "fri"),
        ["Lunch on Friday?"]
    );
    assert!(contains("PrefixOnWords", "IgnoreCase", "item:Subject", "riday").is_empty());
    assert_eq!(
        contains("ExactPhrase", "IgnoreCase", "item:Subject", "mail from"),
        [
            "Voice Mail from +1 425 555 0102",
            "Voice Mail from Bob Berg"
        ]
    );
    assert_eq!(
        contains(
            "FullString",
            "IgnoreCaseAndNonSpacingCharacters",
            "item:Subject",
            "CAFE MENU"
        ),
        ["Café menu"]
    );
    assert!(contains("FullString", "IgnoreCase", "item:Subject", "CAFE MENU").is_empty());
}

#[test]
fn unsupported_paths_and_bad_constants_are_refused_per_message() {
    let f = Fixture::new();
    seed_for_queries(&f);
    let two_folders = format!("{INBOX}{VOICEMAIL}");
    let r = f.call(&find_item(
        &two_folders,
        "IdOnly",
        r#"<m:Restriction><t:Contains><t:FieldURI FieldURI="item:Body"/><t:Constant Value="x"/></t:Contains></m:Restriction>"#,
    ));
    assert_eq!(
        r.codes(),
        [
            "ErrorUnsupportedPathForQuery",
            "ErrorUnsupportedPathForQuery"
        ]
    );
    let r = f.call(&find_item(
        INBOX,
        "IdOnly",
        r#"<m:SortOrder><t:FieldOrder Order="Ascending"><t:FieldURI FieldURI="message:ToRecipients"/></t:FieldOrder></m:SortOrder>"#,
    ));
    assert_eq!(r.codes(), ["ErrorUnsupportedPathForSortGroup"]);
    let r = f.call(&find_item(
        INBOX,
        "IdOnly",
        r#"<m:Restriction><t:IsEqualTo><t:FieldURI FieldURI="item:Size"/><t:FieldURIOrConstant><t:Constant Value="big"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction>"#,
    ));
    assert_eq!(r.codes(), ["ErrorInvalidValueForProperty"]);
    let r = f.call(&find_item(
        INBOX,
        "IdOnly",
        r#"<m:Restriction><t:Excludes><t:FieldURI FieldURI="item:Subject"/><t:Bitmask Value="1"/></t:Excludes></m:Restriction>"#,
    ));
    assert_eq!(r.codes(), ["ErrorUnsupportedPathForQuery"]);
    // A folder path in an item restriction.
    let r = f.call(&find_item(
        INBOX,
        "IdOnly",
        r#"<m:Restriction><t:Exists><t:FieldURI FieldURI="folder:DisplayName"/></t:Exists></m:Restriction>"#,
    ));
    assert_eq!(r.codes(), ["ErrorUnsupportedPathForQuery"]);
    // Item bodies are GetItem's.
    let r = f.call(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Body"/></t:AdditionalProperties></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#,
    );
    assert_eq!(r.codes(), ["ErrorInvalidPropertyRequest"]);
    // Malformed restrictions are schema faults.
    let r = f.call(&find_item(
        INBOX,
        "IdOnly",
        r#"<m:Restriction><t:Not/></m:Restriction>"#,
    ));
    assert_eq!(r.status, 500);
    assert!(r.text.contains("ErrorSchemaValidation"), "{}", r.text);
    let r = f.call(&find_item(
        INBOX,
        "IdOnly",
        r#"<m:CalendarView StartDate="2026-01-01T00:00:00Z" EndDate="2026-02-01T00:00:00Z"/>"#,
    ));
    assert_eq!(r.status, 500);
}

#[test]
fn sort_orders_use_several_keys_and_are_stable() {
    let f = Fixture::new();
    seed_for_queries(&f);
    let sorted = |keys: &str| {
        let r = f.call(&find_item(
            INBOX,
            "Default",
            &format!("<m:SortOrder>{keys}</m:SortOrder>"),
        ));
        assert_eq!(r.codes(), ["NoError"], "{}", r.text);
        r.texts("Subject")
    };
    assert_eq!(
        sorted(
            r#"<t:FieldOrder Order="Descending"><t:FieldURI FieldURI="item:DateTimeReceived"/></t:FieldOrder>"#
        ),
        [
            "Voice Mail from Bob Berg",
            "Voice Mail from +1 425 555 0102",
            "Café menu",
            "Lunch on Friday?"
        ]
    );
    // Read items first, then by subject ignoring case.
    assert_eq!(
        sorted(
            r#"<t:FieldOrder Order="Descending"><t:FieldURI FieldURI="message:IsRead"/></t:FieldOrder><t:FieldOrder Order="Ascending"><t:FieldURI FieldURI="item:Subject"/></t:FieldOrder>"#
        ),
        [
            "Lunch on Friday?",
            "Voice Mail from Bob Berg",
            "Café menu",
            "Voice Mail from +1 425 555 0102"
        ]
    );
    // Items without the property come first ascending; ties keep store order.
    assert_eq!(
        sorted(
            r#"<t:FieldOrder Order="Ascending"><t:ExtendedFieldURI PropertyTag="0x6801" PropertyType="Integer"/></t:FieldOrder>"#
        ),
        [
            "Lunch on Friday?",
            "Café menu",
            "Voice Mail from +1 425 555 0102",
            "Voice Mail from Bob Berg"
        ]
    );
}

#[test]
fn the_voicemail_search_folder_lists_voice_items_of_every_folder() {
    let f = Fixture::new();
    let inbox = seed_for_queries(&f);
    let voicemail = f.folder(DistinguishedFolder::Voicemail);
    let junk = f.folder(DistinguishedFolder::JunkEmail);
    f.create_item(
        junk,
        message(
            "Voice Mail in junk",
            "IPM.Note.Microsoft.Voicemail",
            false,
            50,
        ),
    );
    assert_eq!(f.counts(voicemail), (3, 2, 0));
    let r = f.call(&find_item(
        VOICEMAIL,
        "Default",
        r#"<m:Restriction><t:IsEqualTo><t:FieldURI FieldURI="message:IsRead"/><t:FieldURIOrConstant><t:Constant Value="false"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction><m:SortOrder><t:FieldOrder Order="Descending"><t:FieldURI FieldURI="item:DateTimeReceived"/></t:FieldOrder></m:SortOrder>"#,
    ));
    assert_eq!(
        r.texts("Subject"),
        ["Voice Mail in junk", "Voice Mail from +1 425 555 0102"]
    );
    assert_eq!(r.texts("IsRead"), ["false", "false"]);
    // Each item's ParentFolderId is its real folder.
    let r = f.call(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:ParentFolderId"/></t:AdditionalProperties></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="voicemail"/></m:ParentFolderIds></m:FindItem>"#,
    );
    let parents: Vec<_> = r
        .all("ParentFolderId")
        .iter()
        .map(|p| p.attribute("", "Id").unwrap().to_owned())
        .collect();
    let (inbox_id, junk_id) = (
        f.ids.folder(&f.mailbox, inbox),
        f.ids.folder(&f.mailbox, junk),
    );
    assert_eq!(parents, [inbox_id.clone(), inbox_id, junk_id]);
    // Associated and soft-deleted items: umbox keeps none.
    let r = f.call(
        r#"<m:FindItem Traversal="Associated"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="voicemail"/></m:ParentFolderIds></m:FindItem>"#,
    );
    assert_eq!(r.codes(), ["NoError"]);
    assert_eq!(root_folder(&r), ("0".into(), "0".into(), "true".into()));
}

fn create_folder(parent: &str, folders: &str) -> String {
    format!(
        r#"<m:CreateFolder><m:ParentFolderId>{parent}</m:ParentFolderId><m:Folders>{folders}</m:Folders></m:CreateFolder>"#
    )
}

fn created_ids(f: &Fixture, r: &Response) -> Vec<FolderId> {
    r.all("FolderId")
        .iter()
        .map(|id| {
            f.ids
                .open_folder(id.attribute("", "Id").unwrap())
                .unwrap()
                .1
        })
        .collect()
}

#[test]
fn create_update_and_delete_folders_keep_counts() {
    let f = Fixture::new();
    let root = f.folder(DistinguishedFolder::MsgFolderRoot);
    let (_, _, children) = f.counts(root);
    let r = f.call(&create_folder(
        r#"<t:DistinguishedFolderId Id="msgfolderroot"/>"#,
        r#"<t:Folder><t:DisplayName>Projects</t:DisplayName></t:Folder><t:CalendarFolder><t:DisplayName>Shifts</t:DisplayName><t:ExtendedProperty><t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="Team" PropertyType="String"/><t:Value>Support</t:Value></t:ExtendedProperty></t:CalendarFolder><t:Folder><t:DisplayName>projects</t:DisplayName></t:Folder><t:SearchFolder><t:DisplayName>Unread</t:DisplayName></t:SearchFolder>"#,
    ));
    assert_eq!(
        r.codes(),
        [
            "NoError",
            "NoError",
            "ErrorFolderExists",
            "ErrorInvalidRequest"
        ],
        "{}",
        r.text
    );
    assert_eq!(r.all("Folder").len(), 1);
    assert_eq!(r.all("CalendarFolder").len(), 1);
    let created = created_ids(&f, &r);
    let (projects, shifts) = (created[0], created[1]);
    assert_eq!(f.counts(root), (0, 0, children + 2));
    let folder = f.store.folder(&f.mailbox, projects).unwrap();
    assert_eq!(
        folder.props.unicode(tags::CONTAINER_CLASS),
        Some("IPF.Note")
    );
    let folder = f.store.folder(&f.mailbox, shifts).unwrap();
    assert_eq!(
        folder.props.unicode(tags::CONTAINER_CLASS),
        Some("IPF.Appointment")
    );

    // A subfolder with an item, to see the counts move.
    let r = f.call(&create_folder(
        &f.folder_id(projects),
        r#"<t:Folder><t:DisplayName>Old</t:DisplayName></t:Folder>"#,
    ));
    let old = created_ids(&f, &r)[0];
    f.create_item(old, message("old note", "IPM.Note", false, 1));
    f.create_item(
        old,
        message("Voice Mail kept", "IPM.Note.Microsoft.Voicemail", false, 2),
    );
    let voicemail = f.folder(DistinguishedFolder::Voicemail);
    assert_eq!(f.counts(projects), (0, 0, 1));
    assert_eq!(f.counts(voicemail), (1, 1, 0));

    // Rename, set and delete an extended property, and refuse read-only fields.
    let team = r#"<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="Team" PropertyType="String"/>"#;
    let r = f.call(&format!(
        r#"<m:UpdateFolder><m:FolderChanges><t:FolderChange>{}<t:Updates><t:SetFolderField><t:FieldURI FieldURI="folder:DisplayName"/><t:Folder><t:DisplayName>Archive</t:DisplayName></t:Folder></t:SetFolderField><t:SetFolderField>{team}<t:Folder><t:ExtendedProperty>{team}<t:Value>Ops</t:Value></t:ExtendedProperty></t:Folder></t:SetFolderField></t:Updates></t:FolderChange><t:FolderChange>{}<t:Updates><t:DeleteFolderField>{team}</t:DeleteFolderField></t:Updates></t:FolderChange><t:FolderChange>{}<t:Updates><t:SetFolderField><t:FieldURI FieldURI="folder:TotalCount"/><t:Folder><t:TotalCount>5</t:TotalCount></t:Folder></t:SetFolderField></t:Updates></t:FolderChange><t:FolderChange>{}<t:Updates><t:SetFolderField><t:FieldURI FieldURI="folder:DisplayName"/><t:Folder><t:DisplayName>Shifts</t:DisplayName></t:Folder></t:SetFolderField></t:Updates></t:FolderChange></m:FolderChanges></m:UpdateFolder>"#,
        f.folder_id(projects),
        f.folder_id(shifts),
        f.folder_id(projects),
        f.folder_id(projects),
    ));
    assert_eq!(
        r.codes(),
        [
            "NoError",
            "NoError",
            "ErrorInvalidPropertySet",
            "ErrorFolderExists"
        ],
        "{}",
        r.text
    );
    let r = f.call(&format!(
        r#"<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape><t:AdditionalProperties>{team}</t:AdditionalProperties></m:FolderShape><m:FolderIds>{}{}</m:FolderIds></m:GetFolder>"#,
        f.folder_id(projects),
        f.folder_id(shifts)
    ));
    assert_eq!(r.texts("DisplayName"), ["Archive", "Shifts"]);
    assert_eq!(
        r.texts("Value"),
        ["Ops"],
        "set on Archive, deleted from Shifts"
    );

    // exchangelib clears every field it has no value for: nothing to clear on an ordinary folder,
    // but a distinguished folder keeps its name.
    let clear = |folder: &str| {
        format!(
            r#"<t:FolderChange>{folder}<t:Updates><t:DeleteFolderField><t:FieldURI FieldURI="folder:PermissionSet"/></t:DeleteFolderField><t:DeleteFolderField><t:FieldURI FieldURI="folder:DistinguishedFolderId"/></t:DeleteFolderField></t:Updates></t:FolderChange>"#
        )
    };
    let r = f.call(&format!(
        "<m:UpdateFolder><m:FolderChanges>{}{}</m:FolderChanges></m:UpdateFolder>",
        clear(&f.folder_id(projects)),
        clear(INBOX)
    ));
    assert_eq!(
        r.codes(),
        ["NoError", "ErrorInvalidPropertyDelete"],
        "{}",
        r.text
    );
    let r = f.call_as("Exchange2016", &format!(
        r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="folder:DistinguishedFolderId"/></t:AdditionalProperties></m:FolderShape><m:FolderIds>{INBOX}{}</m:FolderIds></m:GetFolder>"#,
        f.folder_id(projects)
    ));
    assert_eq!(r.texts("DistinguishedFolderId"), ["inbox"]);

    // Distinguished folders stay; a folder with contents goes with them.
    let r = f.call(&format!(
        r#"<m:DeleteFolder DeleteType="HardDelete"><m:FolderIds><t:DistinguishedFolderId Id="inbox"/><t:DistinguishedFolderId Id="voicemail"/>{}</m:FolderIds></m:DeleteFolder>"#,
        f.folder_id(projects)
    ));
    assert_eq!(
        r.codes(),
        [
            "ErrorDeleteDistinguishedFolder",
            "ErrorDeleteDistinguishedFolder",
            "NoError"
        ]
    );
    assert_eq!(f.counts(root), (0, 0, children + 1));
    assert_eq!(
        f.counts(voicemail),
        (0, 0, 0),
        "the voicemail below the deleted folder is gone"
    );
    let r = f.call(&format!(
        r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds>{}</m:FolderIds></m:GetFolder>"#,
        f.folder_id(old)
    ));
    assert_eq!(r.codes(), ["ErrorFolderNotFound"]);
    // MoveToDeletedItems moves the folder there (folder_move_tests covers the details).
    let r = f.call(&format!(
        r#"<m:DeleteFolder DeleteType="MoveToDeletedItems"><m:FolderIds>{}</m:FolderIds></m:DeleteFolder>"#,
        f.folder_id(shifts)
    ));
    assert_eq!(r.codes(), ["NoError"]);
    let deleted = f.folder(DistinguishedFolder::DeletedItems);
    assert_eq!(
        f.store.folder(&f.mailbox, shifts).unwrap().parent,
        Some(deleted)
    );
}

#[test]
fn empty_folder_deletes_or_moves_items_and_keeps_counts() {
    let f = Fixture::new();
    let inbox = f.folder(DistinguishedFolder::Inbox);
    let deleted = f.folder(DistinguishedFolder::DeletedItems);
    let voicemail = f.folder(DistinguishedFolder::Voicemail);
    f.create_item(inbox, message("note", "IPM.Note", false, 1));
    f.create_item(
        inbox,
        message("Voice Mail", "IPM.Note.Microsoft.Voicemail", false, 2),
    );
    let r = f.call(&create_folder(
        INBOX,
        r#"<t:Folder><t:DisplayName>Sub</t:DisplayName></t:Folder>"#,
    ));
    let sub = created_ids(&f, &r)[0];
    f.create_item(sub, message("in sub", "IPM.Note", true, 3));
    assert_eq!(f.counts(inbox), (2, 2, 1));
    assert_eq!(f.counts(voicemail), (1, 1, 0));

    let r = f.call(r#"<m:EmptyFolder DeleteType="HardDelete" DeleteSubFolders="false"><m:FolderIds><t:DistinguishedFolderId Id="voicemail"/><t:DistinguishedFolderId Id="msgfolderroot"/></m:FolderIds></m:EmptyFolder>"#);
    assert_eq!(r.codes(), ["ErrorCannotEmptyFolder", "NoError"]);
    let r = f.call(r#"<m:EmptyFolder DeleteType="HardDelete" DeleteSubFolders="true"><m:FolderIds><t:DistinguishedFolderId Id="msgfolderroot"/></m:FolderIds></m:EmptyFolder>"#);
    assert_eq!(
        r.codes(),
        ["ErrorCannotEmptyFolder"],
        "distinguished subfolders stay"
    );

    let r = f.call(r#"<m:EmptyFolder DeleteType="MoveToDeletedItems" DeleteSubFolders="false"><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:EmptyFolder>"#);
    assert_eq!(r.codes(), ["NoError"]);
    assert_eq!(f.counts(inbox), (0, 0, 1));
    assert_eq!(f.counts(deleted), (2, 2, 0));
    assert_eq!(
        f.counts(voicemail),
        (1, 1, 0),
        "a moved voicemail is still one"
    );
    assert_eq!(f.counts(sub), (1, 0, 0));

    let r = f.call(r#"<m:EmptyFolder DeleteType="HardDelete" DeleteSubFolders="true"><m:FolderIds><t:DistinguishedFolderId Id="inbox"/><t:DistinguishedFolderId Id="deleteditems"/></m:FolderIds></m:EmptyFolder>"#);
    assert_eq!(r.codes(), ["NoError", "NoError"]);
    assert_eq!(f.counts(inbox), (0, 0, 0));
    assert_eq!(f.counts(deleted), (0, 0, 0));
    assert_eq!(f.counts(voicemail), (0, 0, 0));
}

#[test]
fn conversation_history_is_found_by_name_before_exchange_2013() {
    let f = Fixture::new();
    let find = r#"<m:FindFolder Traversal="Shallow"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot"/></m:ParentFolderIds></m:FindFolder>"#;
    let r = f.call_as("Exchange2010", find);
    assert!(
        r.texts("DisplayName")
            .contains(&"Conversation History".to_owned()),
        "{}",
        r.text
    );
    let get = r#"<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="conversationhistory"/></m:FolderIds></m:GetFolder>"#;
    assert_eq!(
        f.call_as("Exchange2010", get).codes(),
        ["ErrorFolderNotFound"]
    );
    let r = f.call_as("Exchange2013", get);
    assert_eq!(r.codes(), ["NoError"]);
    assert_eq!(r.texts("DisplayName"), ["Conversation History"]);
    // FindFolder takes a restriction on folder properties too.
    let r = f.call_as(
        "Exchange2010",
        r#"<m:FindFolder Traversal="Deep"><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="folder:DisplayName"/></t:AdditionalProperties></m:FolderShape><m:Restriction><t:IsEqualTo><t:FieldURI FieldURI="folder:DisplayName"/><t:FieldURIOrConstant><t:Constant Value="conversation history"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction><m:ParentFolderIds><t:DistinguishedFolderId Id="root"/></m:ParentFolderIds></m:FindFolder>"#,
    );
    assert_eq!(r.texts("DisplayName"), ["Conversation History"]);
    assert_eq!(
        r.one("RootFolder").attribute("", "TotalItemsInView"),
        Some("1")
    );
}

fn sync_items(folder: &str, state: Option<&str>, max: usize, ignore: &str) -> String {
    let state = state
        .map(|s| format!("<m:SyncState>{s}</m:SyncState>"))
        .unwrap_or_default();
    format!(
        r#"<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape><m:SyncFolderId>{folder}</m:SyncFolderId>{state}{ignore}<m:MaxChangesReturned>{max}</m:MaxChangesReturned></m:SyncFolderItems>"#
    )
}

/// The changes of a sync response as (kind, subject or item number, IsRead).
fn changes(f: &Fixture, r: &Response) -> Vec<(String, String)> {
    r.one("Changes")
        .children()
        .map(|change| {
            let what = match change.name() {
                "Delete" | "ReadFlagChange" => {
                    let id = change
                        .children()
                        .next()
                        .unwrap()
                        .attribute("", "Id")
                        .unwrap();
                    let number = f.ids.open_item(id).unwrap().1 .0.to_string();
                    match change.children().nth(1) {
                        Some(read) => format!("{number} {}", read.text()),
                        None => number,
                    }
                }
                _ => r_subject(change),
            };
            (change.name().to_owned(), what)
        })
        .collect()
}

fn r_subject(change: &Element) -> String {
    let mut out = Vec::new();
    descendants(change, "Subject", &mut out);
    out.first().map(|s| s.text().to_owned()).unwrap_or_default()
}

fn state(r: &Response) -> String {
    r.one("SyncState").text().to_owned()
}

#[test]
fn sync_folder_items_reports_each_kind_of_change_once() {
    let f = Fixture::new();
    let inbox = f.folder(DistinguishedFolder::Inbox);
    let items: Vec<ItemId> = (0..5)
        .map(|n| f.create_item(inbox, message(&format!("m{n}"), "IPM.Note", false, n)))
        .collect();

    // The first sync pages through everything as creations.
    let r = f.call(&sync_items(INBOX, None, 2, ""));
    assert_eq!(r.codes(), ["NoError"], "{}", r.text);
    assert_eq!(
        changes(&f, &r),
        [
            ("Create".into(), "m0".into()),
            ("Create".into(), "m1".into())
        ]
    );
    assert_eq!(r.texts("IncludesLastItemInRange"), ["false"]);
    let r = f.call(&sync_items(INBOX, Some(&state(&r)), 512, ""));
    assert_eq!(changes(&f, &r).len(), 3);
    assert_eq!(r.texts("IncludesLastItemInRange"), ["true"]);
    let synced = state(&r);
    let r = f.call(&sync_items(INBOX, Some(&synced), 512, ""));
    assert!(changes(&f, &r).is_empty());
    assert_eq!(state(&r), synced, "no change, same state");

    // One change of each kind; several changes to one item come as one.
    f.apply(Change::SetReadFlag {
        items: vec![items[0]],
        read: true,
    });
    f.apply(Change::UpdateItem {
        item: items[1],
        expected: None,
        set: vec![(tags::SUBJECT.into(), text("m1 edited"))],
        delete: vec![],
    });
    f.apply(Change::UpdateItem {
        item: items[2],
        expected: None,
        set: vec![
            (tags::SUBJECT.into(), text("m2 read")),
            (
                tags::MESSAGE_FLAGS.into(),
                PropValue::Int32(tags::MSGFLAG_READ),
            ),
        ],
        delete: vec![],
    });
    f.apply(Change::DeleteItem { item: items[3] });
    let new = f.create_item(inbox, message("m5", "IPM.Note", false, 5));
    f.apply(Change::SetReadFlag {
        items: vec![new],
        read: true,
    });
    let r = f.call(&sync_items(INBOX, Some(&synced), 512, ""));
    assert_eq!(
        changes(&f, &r),
        [
            ("ReadFlagChange".into(), format!("{} true", items[0].0)),
            ("Update".into(), "m1 edited".into()),
            ("Update".into(), "m2 read".into()),
            ("Delete".into(), items[3].0.to_string()),
            ("Create".into(), "m5".into()),
        ]
    );
    let after = state(&r);

    // Changes the client made itself can be ignored.
    f.apply(Change::SetReadFlag {
        items: vec![items[4]],
        read: true,
    });
    f.apply(Change::SetReadFlag {
        items: vec![items[1]],
        read: true,
    });
    let ignore = format!(
        r#"<m:Ignore><t:ItemId Id="{}"/></m:Ignore>"#,
        f.ids.item(&f.mailbox, items[4])
    );
    let r = f.call(&sync_items(INBOX, Some(&after), 512, &ignore));
    assert_eq!(
        changes(&f, &r),
        [("ReadFlagChange".into(), format!("{} true", items[1].0))]
    );
    let r = f.call(&sync_items(INBOX, Some(&state(&r)), 512, ""));
    assert!(changes(&f, &r).is_empty(), "the ignored change is known");

    // A state for another folder, or a changed one, is refused.
    let r = f.call(&sync_items(VOICEMAIL, Some(&after), 512, ""));
    assert_eq!(r.codes(), ["ErrorInvalidSyncStateData"]);
    let mut tampered = after.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let r = f.call(&sync_items(
        INBOX,
        Some(std::str::from_utf8(&tampered).unwrap()),
        512,
        "",
    ));
    assert_eq!(r.codes(), ["ErrorInvalidSyncStateData"]);
    let r = f.call(&sync_items(INBOX, None, 513, ""));
    assert_eq!(r.status, 500);
}

#[test]
fn sync_of_the_voicemail_folder_follows_its_membership() {
    let f = Fixture::new();
    let inbox = f.folder(DistinguishedFolder::Inbox);
    let deleted = f.folder(DistinguishedFolder::DeletedItems);
    let voice = f.create_item(
        inbox,
        message("Voice Mail 1", "IPM.Note.Microsoft.Voicemail", false, 1),
    );
    f.create_item(inbox, message("plain", "IPM.Note", false, 2));
    let r = f.call(&sync_items(VOICEMAIL, None, 10, ""));
    assert_eq!(changes(&f, &r), [("Create".into(), "Voice Mail 1".into())]);
    let known = state(&r);
    // Moved: a new id in the search folder, the old one gone.
    let moved = match f.apply(Change::MoveItem {
        item: voice,
        to: deleted,
    }) {
        Outcome::Item { item, .. } => item,
        other => panic!("{other:?}"),
    };
    let second = f.create_item(
        inbox,
        message("Voice Mail 2", "IPM.Note.Microsoft.Voicemail", false, 3),
    );
    // Reclassified: it leaves the search folder.
    f.apply(Change::UpdateItem {
        item: second,
        expected: None,
        set: vec![(tags::MESSAGE_CLASS.into(), text("IPM.Note"))],
        delete: vec![],
    });
    let r = f.call(&sync_items(VOICEMAIL, Some(&known), 10, ""));
    assert_eq!(
        changes(&f, &r),
        [
            ("Delete".into(), voice.0.to_string()),
            ("Create".into(), "Voice Mail 1".into())
        ]
    );
    assert!(moved.0 > voice.0);
    assert_eq!(
        f.counts(f.folder(DistinguishedFolder::Voicemail)),
        (1, 1, 0)
    );
}

#[test]
fn sync_folder_hierarchy_reports_created_changed_and_deleted_folders() {
    let f = Fixture::new();
    let sync = |state: Option<&str>| {
        let state = state
            .map(|s| format!("<m:SyncState>{s}</m:SyncState>"))
            .unwrap_or_default();
        f.call(&format!(
            r#"<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>{state}</m:SyncFolderHierarchy>"#
        ))
    };
    let kinds = |r: &Response| -> Vec<String> {
        r.one("Changes")
            .children()
            .map(|c| c.name().to_owned())
            .collect()
    };
    let r = sync(None);
    assert_eq!(r.codes(), ["NoError"], "{}", r.text);
    let names = r.texts("DisplayName");
    assert!(
        names.contains(&"Voice Mail".to_owned())
            && names.contains(&"Conversation History".to_owned()),
        "{names:?}"
    );
    assert_eq!(kinds(&r).len(), 15, "every folder below the root");
    assert!(kinds(&r).iter().all(|k| k == "Create"));
    assert_eq!(r.texts("IncludesLastFolderInRange"), ["true"]);
    let first = state(&r);

    let r = f.call(&create_folder(
        INBOX,
        r#"<t:Folder><t:DisplayName>Sub</t:DisplayName></t:Folder>"#,
    ));
    let sub = created_ids(&f, &r)[0];
    let r = sync(Some(&first));
    // The new folder, and the inbox whose child count moved.
    assert_eq!(kinds(&r), ["Update", "Create"]);
    assert_eq!(r.texts("DisplayName"), ["Inbox", "Sub"]);
    let second = state(&r);
    f.apply(Change::DeleteFolder { folder: sub });
    let r = sync(Some(&second));
    assert_eq!(kinds(&r), ["Update", "Delete"]);
    let deleted = r
        .one("Delete")
        .children()
        .next()
        .unwrap()
        .attribute("", "Id")
        .unwrap()
        .to_owned();
    assert_eq!(f.ids.open_folder(&deleted).unwrap().1, sub);
    // Below one folder only.
    let r = f.call(
        r#"<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:SyncFolderId><t:DistinguishedFolderId Id="searchfolders"/></m:SyncFolderId></m:SyncFolderHierarchy>"#,
    );
    assert_eq!(r.all("SearchFolder").len(), 1, "{}", r.text);
    let r = f.call(&format!(
        r#"<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:SyncFolderId><t:DistinguishedFolderId Id="inbox"/></m:SyncFolderId><m:SyncState>{first}</m:SyncState></m:SyncFolderHierarchy>"#
    ));
    assert_eq!(
        r.codes(),
        ["ErrorInvalidSyncStateData"],
        "a state of another folder"
    );
}
