//! Behaviour tests of FindItem, FindFolder, the folder changes and the sync operations, through
//! `ews::handle` over a real store: paging, restrictions, sort orders, the voicemail search
//! folder, SyncState round trips, and the folder counts after every change.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::ops::testkit::{describe, Kit};
use crate::Limits;
use umbox_store::props::{
    property_sets, tags, FileTime, NamedProperty, PropKey, PropName, PropType, PropValue,
};
use umbox_store::{Change, DistinguishedFolder, FolderId, ItemId, MailStore, MailboxId, Outcome};
use umbox_xml::Element;

const ALICE: &str = "alice@example.test";

fn alice() -> MailboxId {
    MailboxId::new(ALICE)
}

/// `seconds` after 2026-01-01T00:00:00Z: the times the test items carry (the kit's clock is later).
fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600 + seconds)
}

/// Every element named `name` below `element`, in document order.
fn named<'e>(element: &'e Element, name: &str) -> Vec<&'e Element> {
    let mut out = Vec::new();
    for child in element.children() {
        if child.name() == name {
            out.push(child);
        }
        out.extend(named(child, name));
    }
    out
}

/// The one element named `name` below `body`.
fn one_named<'e>(body: &'e Element, name: &str) -> &'e Element {
    let all = named(body, name);
    assert_eq!(all.len(), 1, "one {name} in {}", describe(body));
    all[0]
}

/// The texts of the elements named `name` below `body`.
fn texts(body: &Element, name: &str) -> Vec<String> {
    named(body, name)
        .iter()
        .map(|e| e.text().to_owned())
        .collect()
}

/// The ResponseCode of each response message (or of the fault), in order.
fn codes(body: &Element) -> Vec<String> {
    texts(body, "ResponseCode")
}

/// Applies `change` to alice's mailbox at the kit's time.
fn apply(kit: &Kit, change: Change) -> Outcome {
    kit.store()
        .apply(&alice(), change, kit.now)
        .unwrap()
        .outcome
}

/// Creates an item in any folder of alice's (`Kit::create_item` takes distinguished folders).
fn create_item(kit: &Kit, folder: FolderId, props: Vec<(PropKey, PropValue)>) -> ItemId {
    match apply(
        kit,
        Change::CreateItem {
            folder,
            props,
            attachments: Vec::new(),
        },
    ) {
        Outcome::Item { item, .. } => item,
        other => panic!("{other:?}"),
    }
}

/// Alice's `folder` as a `t:FolderId`.
fn folder_id(kit: &Kit, folder: FolderId) -> String {
    format!(r#"<t:FolderId Id="{}"/>"#, kit.ids.folder(&alice(), folder))
}

/// (TotalCount, UnreadCount, ChildFolderCount) as the store reports them, checked against a
/// recount of the whole mailbox.
fn counts(kit: &Kit, folder: FolderId) -> (u64, u64, u64) {
    let report = kit.store().verify(&alice()).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let folder = kit.store().folder(&alice(), folder).unwrap();
    (
        folder.total_count,
        folder.unread_count,
        folder.child_folder_count,
    )
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

fn root_folder(response: &Element) -> (String, String, String) {
    let root = one_named(response, "RootFolder");
    let attribute = |name| root.attribute("", name).unwrap_or_default().to_owned();
    (
        attribute("IndexedPagingOffset"),
        attribute("TotalItemsInView"),
        attribute("IncludesLastItemInRange"),
    )
}

#[test]
fn find_item_pages_through_500_items_from_either_end_and_by_fraction() {
    let kit = Kit::new();
    let inbox = kit.folder(ALICE, DistinguishedFolder::Inbox);
    for n in 0..500 {
        create_item(
            &kit,
            inbox,
            message(&format!("Item {n:03}"), "IPM.Note", n % 2 == 0, n),
        );
    }
    assert_eq!(counts(&kit, inbox), (500, 250, 0));
    let mut seen = Vec::new();
    let mut offset = 0;
    for page in 0..5 {
        let r = kit.call(&find_item(
            INBOX,
            "Default",
            &format!(r#"<m:IndexedPageItemView MaxEntriesReturned="120" Offset="{offset}" BasePoint="Beginning"/>"#),
        ));
        assert_eq!(codes(&r), ["NoError"], "{}", describe(&r));
        let (next, total, last) = root_folder(&r);
        assert_eq!(total, "500");
        assert_eq!(last, if page == 4 { "true" } else { "false" });
        offset = next.parse().unwrap();
        seen.extend(texts(&r, "Subject"));
        if last == "true" {
            break;
        }
    }
    assert_eq!(offset, 500);
    let expected: Vec<String> = (0..500).map(|n| format!("Item {n:03}")).collect();
    assert_eq!(seen, expected, "every item once, in store order");

    let r = kit.call(&find_item(
        INBOX,
        "IdOnly",
        r#"<m:IndexedPageItemView MaxEntriesReturned="10" Offset="5" BasePoint="End"/>"#,
    ));
    assert_eq!(named(&r, "ItemId").len(), 10);
    assert!(named(&r, "Subject").is_empty(), "IdOnly has no subject");
    assert_eq!(root_folder(&r), ("15".into(), "500".into(), "false".into()));

    let r = kit.call(&find_item(
        INBOX,
        "Default",
        r#"<m:FractionalPageItemView MaxEntriesReturned="3" Numerator="1" Denominator="2"/>"#,
    ));
    assert_eq!(texts(&r, "Subject"), ["Item 250", "Item 251", "Item 252"]);
    let root = one_named(&r, "RootFolder");
    assert_eq!(root.attribute("", "NumeratorOffset"), Some("253"));
    assert_eq!(root.attribute("", "AbsoluteDenominator"), Some("500"));
    assert_eq!(root.attribute("", "IncludesLastItemInRange"), Some("false"));

    let r = kit.call(&find_item(
        INBOX,
        "IdOnly",
        r#"<m:FractionalPageItemView MaxEntriesReturned="3" Numerator="3" Denominator="2"/>"#,
    ));
    assert_eq!(codes(&r), ["ErrorInvalidFractionalPagingParameters"]);
}

/// A query the item indexes serve and the same query forced through the scan (by a restriction
/// every item meets) give the same pages, ties included, in every indexed order.
#[test]
fn indexed_and_scanned_finds_agree() {
    let kit = Kit::new();
    let inbox = kit.folder(ALICE, DistinguishedFolder::Inbox);
    for n in 0..60u64 {
        // Repeated subjects and received times make ties in both orders.
        let subject = format!("Note {}", n % 7);
        create_item(
            &kit,
            inbox,
            message(&subject, "IPM.Note", n.is_multiple_of(3), n % 5),
        );
    }
    let unread = r#"<t:IsEqualTo><t:FieldURI FieldURI="message:IsRead"/><t:FieldURIOrConstant><t:Constant Value="false"/></t:FieldURIOrConstant></t:IsEqualTo>"#;
    let unread_scanned = format!(
        r#"<t:And>{unread}<t:Exists><t:FieldURI FieldURI="item:Subject"/></t:Exists></t:And>"#
    );
    let everything = r#"<t:Exists><t:FieldURI FieldURI="item:Subject"/></t:Exists>"#;
    for field in [
        "item:DateTimeReceived",
        "item:Subject",
        "item:Size",
        "item:Importance",
        "item:DateTimeCreated",
    ] {
        for order in ["Ascending", "Descending"] {
            for (indexed, scanned) in [
                ("", everything.to_owned()),
                (unread, unread_scanned.clone()),
            ] {
                for (offset, base) in [(0, "Beginning"), (7, "Beginning"), (3, "End")] {
                    let find = |restriction: &str| {
                        let restriction = if restriction.is_empty() {
                            String::new()
                        } else {
                            format!("<m:Restriction>{restriction}</m:Restriction>")
                        };
                        let r = kit.call(&find_item(
                            INBOX,
                            "IdOnly",
                            &format!(
                                r#"<m:IndexedPageItemView MaxEntriesReturned="9" Offset="{offset}" BasePoint="{base}"/>{restriction}<m:SortOrder><t:FieldOrder Order="{order}"><t:FieldURI FieldURI="{field}"/></t:FieldOrder></m:SortOrder>"#
                            ),
                        ));
                        assert_eq!(codes(&r), ["NoError"], "{}", describe(&r));
                        let ids: Vec<String> = named(&r, "ItemId")
                            .iter()
                            .map(|id| id.attribute("", "Id").unwrap_or_default().to_owned())
                            .collect();
                        (ids, root_folder(&r))
                    };
                    let served = find(indexed);
                    assert_eq!(served.0.len(), 9);
                    assert_eq!(served, find(&scanned), "{field} {order} {offset} {base}");
                }
            }
        }
    }
}

#[test]
fn find_item_refuses_pages_over_the_find_count_limit() {
    let mut kit = Kit::new();
    kit.limits = Limits {
        find_count: 3,
        ..Limits::default()
    };
    let inbox = kit.folder(ALICE, DistinguishedFolder::Inbox);
    for n in 0..4 {
        create_item(&kit, inbox, message(&format!("m{n}"), "IPM.Note", false, n));
    }
    let r = kit.call(&find_item(INBOX, "IdOnly", ""));
    assert_eq!(codes(&r), ["ErrorExceededFindCountLimit"]);
    let r = kit.call(&find_item(
        INBOX,
        "IdOnly",
        r#"<m:IndexedPageItemView MaxEntriesReturned="3" Offset="0" BasePoint="Beginning"/>"#,
    ));
    assert_eq!(codes(&r), ["NoError"]);
    assert_eq!(root_folder(&r), ("3".into(), "4".into(), "false".into()));
}

/// Items for the restriction and sort tests, in the inbox; returns the inbox.
fn seed_for_queries(kit: &Kit) -> FolderId {
    let inbox = kit.folder(ALICE, DistinguishedFolder::Inbox);
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
    create_item(kit, inbox, voicemail);
    let mut note = message("Lunch on Friday?", "IPM.Note", true, 10);
    note.push((tags::IMPORTANCE.into(), PropValue::Int32(2)));
    note.push((tags::CLIENT_SUBMIT_TIME.into(), time(5)));
    note.push((PropKey::Named(color, PropType::Unicode), text("blue")));
    create_item(kit, inbox, note);
    let mut late = message("Café menu", "IPM.Note", false, 20);
    // Submitted after it arrived: only a comparison of the two properties finds it.
    late.push((tags::CLIENT_SUBMIT_TIME.into(), time(25)));
    create_item(kit, inbox, late);
    let mut second = message(
        "Voice Mail from Bob Berg",
        "IPM.Note.Microsoft.Voicemail.UM",
        true,
        40,
    );
    second.push((tags::VOICE_MESSAGE_DURATION.into(), PropValue::Int32(40)));
    create_item(kit, inbox, second);
    inbox
}

fn subjects_where(kit: &Kit, restriction: &str) -> Vec<String> {
    let r = kit.call(&find_item(
        INBOX,
        "Default",
        &format!("<m:Restriction>{restriction}</m:Restriction>"),
    ));
    assert_eq!(codes(&r), ["NoError"], "{}", describe(&r));
    texts(&r, "Subject")
}

#[test]
fn restrictions_compare_typed_values() {
    let kit = Kit::new();
    seed_for_queries(&kit);
    let field = |uri: &str| format!(r#"<t:FieldURI FieldURI="{uri}"/>"#);
    let constant = |value: &str| {
        format!(r#"<t:FieldURIOrConstant><t:Constant Value="{value}"/></t:FieldURIOrConstant>"#)
    };
    // Strings compare ignoring case.
    assert_eq!(
        subjects_where(
            &kit,
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
            &kit,
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
            &kit,
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
            &kit,
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
            &kit,
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
            &kit,
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
            &kit,
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
            &kit,
            &format!("<t:IsEqualTo>{color}{}</t:IsEqualTo>", constant("BLUE"))
        ),
        ["Lunch on Friday?"]
    );
    assert_eq!(
        subjects_where(
            &kit,
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
        subjects_where(&kit, &format!("<t:Exists>{color}</t:Exists>")),
        ["Voice Mail from +1 425 555 0102", "Lunch on Friday?"]
    );
    // A name the mailbox never used matches nothing, and is no error.
    let unknown = r#"<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="Never" PropertyType="String"/>"#;
    assert!(subjects_where(&kit, &format!("<t:Exists>{unknown}</t:Exists>")).is_empty());
    // Excludes: unread items have no MSGFLAG_READ bit.
    let flags = r#"<t:ExtendedFieldURI PropertyTag="0x0E07" PropertyType="Integer"/>"#;
    assert_eq!(
        subjects_where(
            &kit,
            &format!(r#"<t:Excludes>{flags}<t:Bitmask Value="0x1"/></t:Excludes>"#)
        ),
        ["Voice Mail from +1 425 555 0102", "Café menu"]
    );
}

#[test]
fn contains_follows_containment_mode_and_comparison() {
    let kit = Kit::new();
    seed_for_queries(&kit);
    let contains = |mode: &str, comparison: &str, uri: &str, value: &str| {
        subjects_where(
            &kit,
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
    let kit = Kit::new();
    seed_for_queries(&kit);
    let two_folders = format!("{INBOX}{VOICEMAIL}");
    let r = kit.call(&find_item(
        &two_folders,
        "IdOnly",
        r#"<m:Restriction><t:Contains><t:FieldURI FieldURI="item:Body"/><t:Constant Value="x"/></t:Contains></m:Restriction>"#,
    ));
    assert_eq!(
        codes(&r),
        [
            "ErrorUnsupportedPathForQuery",
            "ErrorUnsupportedPathForQuery"
        ]
    );
    let r = kit.call(&find_item(
        INBOX,
        "IdOnly",
        r#"<m:SortOrder><t:FieldOrder Order="Ascending"><t:FieldURI FieldURI="message:ToRecipients"/></t:FieldOrder></m:SortOrder>"#,
    ));
    assert_eq!(codes(&r), ["ErrorUnsupportedPathForSortGroup"]);
    let r = kit.call(&find_item(
        INBOX,
        "IdOnly",
        r#"<m:Restriction><t:IsEqualTo><t:FieldURI FieldURI="item:Size"/><t:FieldURIOrConstant><t:Constant Value="big"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction>"#,
    ));
    assert_eq!(codes(&r), ["ErrorInvalidValueForProperty"]);
    let r = kit.call(&find_item(
        INBOX,
        "IdOnly",
        r#"<m:Restriction><t:Excludes><t:FieldURI FieldURI="item:Subject"/><t:Bitmask Value="1"/></t:Excludes></m:Restriction>"#,
    ));
    assert_eq!(codes(&r), ["ErrorUnsupportedPathForQuery"]);
    // A folder path in an item restriction.
    let r = kit.call(&find_item(
        INBOX,
        "IdOnly",
        r#"<m:Restriction><t:Exists><t:FieldURI FieldURI="folder:DisplayName"/></t:Exists></m:Restriction>"#,
    ));
    assert_eq!(codes(&r), ["ErrorUnsupportedPathForQuery"]);
    // Item bodies are GetItem's.
    let r = kit.call(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Body"/></t:AdditionalProperties></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#,
    );
    assert_eq!(codes(&r), ["ErrorInvalidPropertyRequest"]);
    // Malformed restrictions are schema faults.
    let (status, r) = kit.call_as(
        ALICE,
        "Exchange2016",
        None,
        &find_item(
            INBOX,
            "IdOnly",
            r#"<m:Restriction><t:Not/></m:Restriction>"#,
        ),
    );
    assert_eq!(status, 500);
    assert_eq!(codes(&r), ["ErrorSchemaValidation"]);
    let (status, _) = kit.call_as(
        ALICE,
        "Exchange2016",
        None,
        &find_item(
            INBOX,
            "IdOnly",
            r#"<m:CalendarView StartDate="2026-01-01T00:00:00Z" EndDate="2026-02-01T00:00:00Z"/>"#,
        ),
    );
    assert_eq!(status, 500);
}

#[test]
fn sort_orders_use_several_keys_and_are_stable() {
    let kit = Kit::new();
    seed_for_queries(&kit);
    let sorted = |keys: &str| {
        let r = kit.call(&find_item(
            INBOX,
            "Default",
            &format!("<m:SortOrder>{keys}</m:SortOrder>"),
        ));
        assert_eq!(codes(&r), ["NoError"], "{}", describe(&r));
        texts(&r, "Subject")
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
    let kit = Kit::new();
    let inbox = seed_for_queries(&kit);
    let voicemail = kit.folder(ALICE, DistinguishedFolder::Voicemail);
    let junk = kit.folder(ALICE, DistinguishedFolder::JunkEmail);
    create_item(
        &kit,
        junk,
        message(
            "Voice Mail in junk",
            "IPM.Note.Microsoft.Voicemail",
            false,
            50,
        ),
    );
    assert_eq!(counts(&kit, voicemail), (3, 2, 0));
    let r = kit.call(&find_item(
        VOICEMAIL,
        "Default",
        r#"<m:Restriction><t:IsEqualTo><t:FieldURI FieldURI="message:IsRead"/><t:FieldURIOrConstant><t:Constant Value="false"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction><m:SortOrder><t:FieldOrder Order="Descending"><t:FieldURI FieldURI="item:DateTimeReceived"/></t:FieldOrder></m:SortOrder>"#,
    ));
    assert_eq!(
        texts(&r, "Subject"),
        ["Voice Mail in junk", "Voice Mail from +1 425 555 0102"]
    );
    assert_eq!(texts(&r, "IsRead"), ["false", "false"]);
    // Each item's ParentFolderId is its real folder.
    let r = kit.call(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:ParentFolderId"/></t:AdditionalProperties></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="voicemail"/></m:ParentFolderIds></m:FindItem>"#,
    );
    let parents: Vec<_> = named(&r, "ParentFolderId")
        .iter()
        .map(|p| p.attribute("", "Id").unwrap().to_owned())
        .collect();
    let (inbox_id, junk_id) = (
        kit.ids.folder(&alice(), inbox),
        kit.ids.folder(&alice(), junk),
    );
    assert_eq!(parents, [inbox_id.clone(), inbox_id, junk_id]);
    // Associated and soft-deleted items: umbox keeps none.
    let r = kit.call(
        r#"<m:FindItem Traversal="Associated"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="voicemail"/></m:ParentFolderIds></m:FindItem>"#,
    );
    assert_eq!(codes(&r), ["NoError"]);
    assert_eq!(root_folder(&r), ("0".into(), "0".into(), "true".into()));
}

fn create_folder(parent: &str, folders: &str) -> String {
    format!(
        r#"<m:CreateFolder><m:ParentFolderId>{parent}</m:ParentFolderId><m:Folders>{folders}</m:Folders></m:CreateFolder>"#
    )
}

fn created_ids(kit: &Kit, r: &Element) -> Vec<FolderId> {
    named(r, "FolderId")
        .iter()
        .map(|id| {
            kit.ids
                .open_folder(id.attribute("", "Id").unwrap())
                .unwrap()
                .1
        })
        .collect()
}

#[test]
fn create_update_and_delete_folders_keep_counts() {
    let kit = Kit::new();
    let root = kit.folder(ALICE, DistinguishedFolder::MsgFolderRoot);
    let (_, _, children) = counts(&kit, root);
    let r = kit.call(&create_folder(
        r#"<t:DistinguishedFolderId Id="msgfolderroot"/>"#,
        r#"<t:Folder><t:DisplayName>Projects</t:DisplayName></t:Folder><t:CalendarFolder><t:DisplayName>Shifts</t:DisplayName><t:ExtendedProperty><t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="Team" PropertyType="String"/><t:Value>Support</t:Value></t:ExtendedProperty></t:CalendarFolder><t:Folder><t:DisplayName>projects</t:DisplayName></t:Folder><t:SearchFolder><t:DisplayName>Unread</t:DisplayName></t:SearchFolder>"#,
    ));
    assert_eq!(
        codes(&r),
        [
            "NoError",
            "NoError",
            "ErrorFolderExists",
            "ErrorInvalidRequest"
        ],
        "{}",
        describe(&r)
    );
    assert_eq!(named(&r, "Folder").len(), 1);
    assert_eq!(named(&r, "CalendarFolder").len(), 1);
    let created = created_ids(&kit, &r);
    let (projects, shifts) = (created[0], created[1]);
    assert_eq!(counts(&kit, root), (0, 0, children + 2));
    let folder = kit.store().folder(&alice(), projects).unwrap();
    assert_eq!(
        folder.props.unicode(tags::CONTAINER_CLASS),
        Some("IPF.Note")
    );
    let folder = kit.store().folder(&alice(), shifts).unwrap();
    assert_eq!(
        folder.props.unicode(tags::CONTAINER_CLASS),
        Some("IPF.Appointment")
    );

    // A subfolder with an item, to see the counts move.
    let r = kit.call(&create_folder(
        &folder_id(&kit, projects),
        r#"<t:Folder><t:DisplayName>Old</t:DisplayName></t:Folder>"#,
    ));
    let old = created_ids(&kit, &r)[0];
    create_item(&kit, old, message("old note", "IPM.Note", false, 1));
    create_item(
        &kit,
        old,
        message("Voice Mail kept", "IPM.Note.Microsoft.Voicemail", false, 2),
    );
    let voicemail = kit.folder(ALICE, DistinguishedFolder::Voicemail);
    assert_eq!(counts(&kit, projects), (0, 0, 1));
    assert_eq!(counts(&kit, voicemail), (1, 1, 0));

    // Rename, set and delete an extended property, and refuse read-only fields.
    let team = r#"<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="Team" PropertyType="String"/>"#;
    let r = kit.call(&format!(
        r#"<m:UpdateFolder><m:FolderChanges><t:FolderChange>{}<t:Updates><t:SetFolderField><t:FieldURI FieldURI="folder:DisplayName"/><t:Folder><t:DisplayName>Archive</t:DisplayName></t:Folder></t:SetFolderField><t:SetFolderField>{team}<t:Folder><t:ExtendedProperty>{team}<t:Value>Ops</t:Value></t:ExtendedProperty></t:Folder></t:SetFolderField></t:Updates></t:FolderChange><t:FolderChange>{}<t:Updates><t:DeleteFolderField>{team}</t:DeleteFolderField></t:Updates></t:FolderChange><t:FolderChange>{}<t:Updates><t:SetFolderField><t:FieldURI FieldURI="folder:TotalCount"/><t:Folder><t:TotalCount>5</t:TotalCount></t:Folder></t:SetFolderField></t:Updates></t:FolderChange><t:FolderChange>{}<t:Updates><t:SetFolderField><t:FieldURI FieldURI="folder:DisplayName"/><t:Folder><t:DisplayName>Shifts</t:DisplayName></t:Folder></t:SetFolderField></t:Updates></t:FolderChange></m:FolderChanges></m:UpdateFolder>"#,
        folder_id(&kit, projects),
        folder_id(&kit, shifts),
        folder_id(&kit, projects),
        folder_id(&kit, projects),
    ));
    assert_eq!(
        codes(&r),
        [
            "NoError",
            "NoError",
            "ErrorInvalidPropertySet",
            "ErrorFolderExists"
        ],
        "{}",
        describe(&r)
    );
    let r = kit.call(&format!(
        r#"<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape><t:AdditionalProperties>{team}</t:AdditionalProperties></m:FolderShape><m:FolderIds>{}{}</m:FolderIds></m:GetFolder>"#,
        folder_id(&kit, projects),
        folder_id(&kit, shifts)
    ));
    assert_eq!(texts(&r, "DisplayName"), ["Archive", "Shifts"]);
    assert_eq!(
        texts(&r, "Value"),
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
    let r = kit.call(&format!(
        "<m:UpdateFolder><m:FolderChanges>{}{}</m:FolderChanges></m:UpdateFolder>",
        clear(&folder_id(&kit, projects)),
        clear(INBOX)
    ));
    assert_eq!(
        codes(&r),
        ["NoError", "ErrorInvalidPropertyDelete"],
        "{}",
        describe(&r)
    );
    let r = kit.call(&format!(
        r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="folder:DistinguishedFolderId"/></t:AdditionalProperties></m:FolderShape><m:FolderIds>{INBOX}{}</m:FolderIds></m:GetFolder>"#,
        folder_id(&kit, projects)
    ));
    assert_eq!(texts(&r, "DistinguishedFolderId"), ["inbox"]);

    // Distinguished folders stay; a folder with contents goes with them.
    let r = kit.call(&format!(
        r#"<m:DeleteFolder DeleteType="HardDelete"><m:FolderIds><t:DistinguishedFolderId Id="inbox"/><t:DistinguishedFolderId Id="voicemail"/>{}</m:FolderIds></m:DeleteFolder>"#,
        folder_id(&kit, projects)
    ));
    assert_eq!(
        codes(&r),
        [
            "ErrorDeleteDistinguishedFolder",
            "ErrorDeleteDistinguishedFolder",
            "NoError"
        ]
    );
    assert_eq!(counts(&kit, root), (0, 0, children + 1));
    assert_eq!(
        counts(&kit, voicemail),
        (0, 0, 0),
        "the voicemail below the deleted folder is gone"
    );
    let r = kit.call(&format!(
        r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds>{}</m:FolderIds></m:GetFolder>"#,
        folder_id(&kit, old)
    ));
    assert_eq!(codes(&r), ["ErrorFolderNotFound"]);
    // MoveToDeletedItems moves the folder there (folder_move_tests covers the details).
    let r = kit.call(&format!(
        r#"<m:DeleteFolder DeleteType="MoveToDeletedItems"><m:FolderIds>{}</m:FolderIds></m:DeleteFolder>"#,
        folder_id(&kit, shifts)
    ));
    assert_eq!(codes(&r), ["NoError"]);
    let deleted = kit.folder(ALICE, DistinguishedFolder::DeletedItems);
    assert_eq!(
        kit.store().folder(&alice(), shifts).unwrap().parent,
        Some(deleted)
    );
}

#[test]
fn empty_folder_deletes_or_moves_items_and_keeps_counts() {
    let kit = Kit::new();
    let inbox = kit.folder(ALICE, DistinguishedFolder::Inbox);
    let deleted = kit.folder(ALICE, DistinguishedFolder::DeletedItems);
    let voicemail = kit.folder(ALICE, DistinguishedFolder::Voicemail);
    create_item(&kit, inbox, message("note", "IPM.Note", false, 1));
    create_item(
        &kit,
        inbox,
        message("Voice Mail", "IPM.Note.Microsoft.Voicemail", false, 2),
    );
    let r = kit.call(&create_folder(
        INBOX,
        r#"<t:Folder><t:DisplayName>Sub</t:DisplayName></t:Folder>"#,
    ));
    let sub = created_ids(&kit, &r)[0];
    create_item(&kit, sub, message("in sub", "IPM.Note", true, 3));
    assert_eq!(counts(&kit, inbox), (2, 2, 1));
    assert_eq!(counts(&kit, voicemail), (1, 1, 0));

    let r = kit.call(r#"<m:EmptyFolder DeleteType="HardDelete" DeleteSubFolders="false"><m:FolderIds><t:DistinguishedFolderId Id="voicemail"/><t:DistinguishedFolderId Id="msgfolderroot"/></m:FolderIds></m:EmptyFolder>"#);
    assert_eq!(codes(&r), ["ErrorCannotEmptyFolder", "NoError"]);
    let r = kit.call(r#"<m:EmptyFolder DeleteType="HardDelete" DeleteSubFolders="true"><m:FolderIds><t:DistinguishedFolderId Id="msgfolderroot"/></m:FolderIds></m:EmptyFolder>"#);
    assert_eq!(
        codes(&r),
        ["ErrorCannotEmptyFolder"],
        "distinguished subfolders stay"
    );

    let r = kit.call(r#"<m:EmptyFolder DeleteType="MoveToDeletedItems" DeleteSubFolders="false"><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:EmptyFolder>"#);
    assert_eq!(codes(&r), ["NoError"]);
    assert_eq!(counts(&kit, inbox), (0, 0, 1));
    assert_eq!(counts(&kit, deleted), (2, 2, 0));
    assert_eq!(
        counts(&kit, voicemail),
        (1, 1, 0),
        "a moved voicemail is still one"
    );
    assert_eq!(counts(&kit, sub), (1, 0, 0));

    let r = kit.call(r#"<m:EmptyFolder DeleteType="HardDelete" DeleteSubFolders="true"><m:FolderIds><t:DistinguishedFolderId Id="inbox"/><t:DistinguishedFolderId Id="deleteditems"/></m:FolderIds></m:EmptyFolder>"#);
    assert_eq!(codes(&r), ["NoError", "NoError"]);
    assert_eq!(counts(&kit, inbox), (0, 0, 0));
    assert_eq!(counts(&kit, deleted), (0, 0, 0));
    assert_eq!(counts(&kit, voicemail), (0, 0, 0));
}

#[test]
fn conversation_history_is_found_by_name_before_exchange_2013() {
    let kit = Kit::new();
    let find = r#"<m:FindFolder Traversal="Shallow"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot"/></m:ParentFolderIds></m:FindFolder>"#;
    let (_, r) = kit.call_as(ALICE, "Exchange2010", None, find);
    assert!(
        texts(&r, "DisplayName").contains(&"Conversation History".to_owned()),
        "{}",
        describe(&r)
    );
    let get = r#"<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="conversationhistory"/></m:FolderIds></m:GetFolder>"#;
    assert_eq!(
        codes(&kit.call_as(ALICE, "Exchange2010", None, get).1),
        ["ErrorFolderNotFound"]
    );
    let (_, r) = kit.call_as(ALICE, "Exchange2013", None, get);
    assert_eq!(codes(&r), ["NoError"]);
    assert_eq!(texts(&r, "DisplayName"), ["Conversation History"]);
    // FindFolder takes a restriction on folder properties too.
    let (_, r) = kit.call_as(
        ALICE,
        "Exchange2010",
        None,
        r#"<m:FindFolder Traversal="Deep"><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="folder:DisplayName"/></t:AdditionalProperties></m:FolderShape><m:Restriction><t:IsEqualTo><t:FieldURI FieldURI="folder:DisplayName"/><t:FieldURIOrConstant><t:Constant Value="conversation history"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction><m:ParentFolderIds><t:DistinguishedFolderId Id="root"/></m:ParentFolderIds></m:FindFolder>"#,
    );
    assert_eq!(texts(&r, "DisplayName"), ["Conversation History"]);
    assert_eq!(
        one_named(&r, "RootFolder").attribute("", "TotalItemsInView"),
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
fn changes(kit: &Kit, r: &Element) -> Vec<(String, String)> {
    one_named(r, "Changes")
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
                    let number = kit.ids.open_item(id).unwrap().1 .0.to_string();
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
    texts(change, "Subject")
        .into_iter()
        .next()
        .unwrap_or_default()
}

fn state(r: &Element) -> String {
    one_named(r, "SyncState").text().to_owned()
}

#[test]
fn sync_folder_items_reports_each_kind_of_change_once() {
    let kit = Kit::new();
    let inbox = kit.folder(ALICE, DistinguishedFolder::Inbox);
    let items: Vec<ItemId> = (0..5)
        .map(|n| create_item(&kit, inbox, message(&format!("m{n}"), "IPM.Note", false, n)))
        .collect();

    // The first sync pages through everything as creations.
    let r = kit.call(&sync_items(INBOX, None, 2, ""));
    assert_eq!(codes(&r), ["NoError"], "{}", describe(&r));
    assert_eq!(
        changes(&kit, &r),
        [
            ("Create".into(), "m0".into()),
            ("Create".into(), "m1".into())
        ]
    );
    assert_eq!(texts(&r, "IncludesLastItemInRange"), ["false"]);
    let r = kit.call(&sync_items(INBOX, Some(&state(&r)), 512, ""));
    assert_eq!(changes(&kit, &r).len(), 3);
    assert_eq!(texts(&r, "IncludesLastItemInRange"), ["true"]);
    let synced = state(&r);
    let r = kit.call(&sync_items(INBOX, Some(&synced), 512, ""));
    assert!(changes(&kit, &r).is_empty());
    assert_eq!(state(&r), synced, "no change, same state");

    // One change of each kind; several changes to one item come as one.
    apply(
        &kit,
        Change::SetReadFlag {
            items: vec![items[0]],
            read: true,
        },
    );
    apply(
        &kit,
        Change::UpdateItem {
            item: items[1],
            expected: None,
            set: vec![(tags::SUBJECT.into(), text("m1 edited"))],
            delete: vec![],
        },
    );
    apply(
        &kit,
        Change::UpdateItem {
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
        },
    );
    apply(&kit, Change::DeleteItem { item: items[3] });
    let new = create_item(&kit, inbox, message("m5", "IPM.Note", false, 5));
    apply(
        &kit,
        Change::SetReadFlag {
            items: vec![new],
            read: true,
        },
    );
    let r = kit.call(&sync_items(INBOX, Some(&synced), 512, ""));
    assert_eq!(
        changes(&kit, &r),
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
    apply(
        &kit,
        Change::SetReadFlag {
            items: vec![items[4]],
            read: true,
        },
    );
    apply(
        &kit,
        Change::SetReadFlag {
            items: vec![items[1]],
            read: true,
        },
    );
    let ignore = format!(
        r#"<m:Ignore><t:ItemId Id="{}"/></m:Ignore>"#,
        kit.ids.item(&alice(), items[4])
    );
    let r = kit.call(&sync_items(INBOX, Some(&after), 512, &ignore));
    assert_eq!(
        changes(&kit, &r),
        [("ReadFlagChange".into(), format!("{} true", items[1].0))]
    );
    let r = kit.call(&sync_items(INBOX, Some(&state(&r)), 512, ""));
    assert!(changes(&kit, &r).is_empty(), "the ignored change is known");

    // A state for another folder, or a changed one, is refused.
    let r = kit.call(&sync_items(VOICEMAIL, Some(&after), 512, ""));
    assert_eq!(codes(&r), ["ErrorInvalidSyncStateData"]);
    let mut tampered = after.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let r = kit.call(&sync_items(
        INBOX,
        Some(std::str::from_utf8(&tampered).unwrap()),
        512,
        "",
    ));
    assert_eq!(codes(&r), ["ErrorInvalidSyncStateData"]);
    let (status, _) = kit.call_as(
        ALICE,
        "Exchange2016",
        None,
        &sync_items(INBOX, None, 513, ""),
    );
    assert_eq!(status, 500);
}

#[test]
fn sync_of_the_voicemail_folder_follows_its_membership() {
    let kit = Kit::new();
    let inbox = kit.folder(ALICE, DistinguishedFolder::Inbox);
    let deleted = kit.folder(ALICE, DistinguishedFolder::DeletedItems);
    let voice = create_item(
        &kit,
        inbox,
        message("Voice Mail 1", "IPM.Note.Microsoft.Voicemail", false, 1),
    );
    create_item(&kit, inbox, message("plain", "IPM.Note", false, 2));
    let r = kit.call(&sync_items(VOICEMAIL, None, 10, ""));
    assert_eq!(
        changes(&kit, &r),
        [("Create".into(), "Voice Mail 1".into())]
    );
    let known = state(&r);
    // Moved: a new id in the search folder, the old one gone.
    let moved = match apply(
        &kit,
        Change::MoveItem {
            item: voice,
            to: deleted,
        },
    ) {
        Outcome::Item { item, .. } => item,
        other => panic!("{other:?}"),
    };
    let second = create_item(
        &kit,
        inbox,
        message("Voice Mail 2", "IPM.Note.Microsoft.Voicemail", false, 3),
    );
    // Reclassified: it leaves the search folder.
    apply(
        &kit,
        Change::UpdateItem {
            item: second,
            expected: None,
            set: vec![(tags::MESSAGE_CLASS.into(), text("IPM.Note"))],
            delete: vec![],
        },
    );
    let r = kit.call(&sync_items(VOICEMAIL, Some(&known), 10, ""));
    assert_eq!(
        changes(&kit, &r),
        [
            ("Delete".into(), voice.0.to_string()),
            ("Create".into(), "Voice Mail 1".into())
        ]
    );
    assert!(moved.0 > voice.0);
    assert_eq!(
        counts(&kit, kit.folder(ALICE, DistinguishedFolder::Voicemail)),
        (1, 1, 0)
    );
}

#[test]
fn sync_folder_hierarchy_reports_created_changed_and_deleted_folders() {
    let kit = Kit::new();
    let sync = |state: Option<&str>| {
        let state = state
            .map(|s| format!("<m:SyncState>{s}</m:SyncState>"))
            .unwrap_or_default();
        kit.call(&format!(
            r#"<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>{state}</m:SyncFolderHierarchy>"#
        ))
    };
    let kinds = |r: &Element| -> Vec<String> {
        one_named(r, "Changes")
            .children()
            .map(|c| c.name().to_owned())
            .collect()
    };
    let r = sync(None);
    assert_eq!(codes(&r), ["NoError"], "{}", describe(&r));
    let names = texts(&r, "DisplayName");
    assert!(
        names.contains(&"Voice Mail".to_owned())
            && names.contains(&"Conversation History".to_owned()),
        "{names:?}"
    );
    assert_eq!(kinds(&r).len(), 15, "every folder below the root");
    assert!(kinds(&r).iter().all(|k| k == "Create"));
    assert_eq!(texts(&r, "IncludesLastFolderInRange"), ["true"]);
    let first = state(&r);

    let r = kit.call(&create_folder(
        INBOX,
        r#"<t:Folder><t:DisplayName>Sub</t:DisplayName></t:Folder>"#,
    ));
    let sub = created_ids(&kit, &r)[0];
    let r = sync(Some(&first));
    // The new folder, and the inbox whose child count moved.
    assert_eq!(kinds(&r), ["Update", "Create"]);
    assert_eq!(texts(&r, "DisplayName"), ["Inbox", "Sub"]);
    let second = state(&r);
    apply(&kit, Change::DeleteFolder { folder: sub });
    let r = sync(Some(&second));
    assert_eq!(kinds(&r), ["Update", "Delete"]);
    let deleted = one_named(&r, "Delete")
        .children()
        .next()
        .unwrap()
        .attribute("", "Id")
        .unwrap()
        .to_owned();
    assert_eq!(kit.ids.open_folder(&deleted).unwrap().1, sub);
    // Below one folder only.
    let r = kit.call(
        r#"<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:SyncFolderId><t:DistinguishedFolderId Id="searchfolders"/></m:SyncFolderId></m:SyncFolderHierarchy>"#,
    );
    assert_eq!(named(&r, "SearchFolder").len(), 1, "{}", describe(&r));
    let r = kit.call(&format!(
        r#"<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:SyncFolderId><t:DistinguishedFolderId Id="inbox"/></m:SyncFolderId><m:SyncState>{first}</m:SyncState></m:SyncFolderHierarchy>"#
    ));
    assert_eq!(
        codes(&r),
        ["ErrorInvalidSyncStateData"],
        "a state of another folder"
    );
}
