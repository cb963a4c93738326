//! Items as EWS elements and back (MS-OXWSCORE ItemType and MessageType, MS-OXWSCONT
//! ContactItemType, MS-OXWSCAL CalendarItemType, MS-OXWSATT attachments), and the one table
//! saying where each item field lives in the MAPI property bag.
//!
//! Rendering ([`item`], [`listed_item`], [`write_attachment`]), request parsing ([`read`]),
//! restriction values ([`field_value`]) and the MIME form ([`mime`]) all read the same table, so
//! a field means the same everywhere. Element order follows the XSD.
//!
//! Storage choices, where MAPI has no single property: recipient lists (To, Cc, Bcc, Reply-To,
//! attendees) are multi-valued strings in umbox's own property set [`UMBOX_SET`], one
//! `Name <address>` entry each; an item attachment keeps the embedded item's properties in the
//! attachment's own property bag (beside the PidTagAttach* ones) and its MIME form as content.
//! Never writes to the store.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};
use umbox_store::oxum;

use base64::Engine;

use crate::codes::ResponseCode;
use crate::error::{Error, Fault};
use crate::fields::{
    parse_bool, parse_extended, BaseShape, BodyType, ExtendedField, ExtendedKey, FieldUri,
    PropertyPath, Shape,
};
use crate::mime;
use crate::render::{extended_properties, owner_rights};
use crate::soap::T;
use crate::{child, time, Request};
use umbox_base::version::ExchangeVersion;
use umbox_store::props::{
    tags, FileTime, Guid, NamedProperty, PropKey, PropName, PropTag, PropType, PropValue,
    PropertyBag,
};
use umbox_store::{AttachmentId, AttachmentInfo, ChangeKey, FolderId, Item, ItemId, NewAttachment};
use umbox_xml::{ns, Element, Writer};

pub(crate) mod read;

/// umbox's own property set, for item data MAPI keeps outside the property bag (recipient
/// tables) or EWS has no MAPI property for (Culture, time zone ids).
pub(crate) const UMBOX_SET: Guid = Guid(0x756D626F_7800_4E00_8000_454D41494C53);

/// The element types umbox writes items as, chosen by item class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `t:Item`: any class not listed below.
    Item,
    /// `t:Message`: `IPM.Note*` (mail, voice mail, missed calls, conversation history),
    /// meeting messages and reports.
    Message,
    /// `t:Contact`: `IPM.Contact*`.
    Contact,
    /// `t:CalendarItem`: `IPM.Appointment*`.
    CalendarItem,
}

impl Kind {
    /// The kind of an item of class `class`.
    pub(crate) fn of_class(class: &str) -> Kind {
        let within = |base: &str| {
            class.len() >= base.len()
                && class
                    .get(..base.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(base))
                && matches!(class.as_bytes().get(base.len()), None | Some(b'.'))
        };
        if within("IPM.Note") || within("IPM.Schedule.Meeting") || within("REPORT.IPM.Note") {
            Kind::Message
        } else if within("IPM.Contact") {
            Kind::Contact
        } else if within("IPM.Appointment") {
            Kind::CalendarItem
        } else {
            Kind::Item
        }
    }

    /// The kind of a stored item.
    pub(crate) fn of(props: &PropertyBag) -> Kind {
        Kind::of_class(props.unicode(tags::MESSAGE_CLASS).unwrap_or_default())
    }

    /// The element name.
    pub(crate) fn element(self) -> &'static str {
        match self {
            Kind::Item => "Item",
            Kind::Message => "Message",
            Kind::Contact => "Contact",
            Kind::CalendarItem => "CalendarItem",
        }
    }

    /// The kind an element names, for the element types umbox creates.
    pub(crate) fn from_element(element: &Element) -> Option<Kind> {
        if element.namespace() != ns::EWS_TYPES {
            return None;
        }
        Some(match element.name() {
            "Item" => Kind::Item,
            "Message" => Kind::Message,
            "Contact" => Kind::Contact,
            "CalendarItem" => Kind::CalendarItem,
            _ => return None,
        })
    }

    /// The class a new item of this kind gets when the request names none.
    pub(crate) fn default_class(self) -> &'static str {
        match self {
            Kind::Item => "IPM",
            Kind::Message => "IPM.Note",
            Kind::Contact => "IPM.Contact",
            Kind::CalendarItem => "IPM.Appointment",
        }
    }

    /// The fields this kind adds to ItemType, in XSD order.
    fn own_fields(self) -> &'static [Field] {
        match self {
            Kind::Item => &[],
            Kind::Message => MESSAGE,
            Kind::Contact => CONTACT,
            Kind::CalendarItem => CALENDAR,
        }
    }
}

/// How a named property is named in its set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum NameRef {
    Id(u32),
    Name(&'static str),
}

/// A named property an item field uses, with its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Named {
    set: Guid,
    name: NameRef,
    prop_type: PropType,
}

impl Named {
    const fn id(set: Guid, id: u32, prop_type: PropType) -> Named {
        Named {
            set,
            name: NameRef::Id(id),
            prop_type,
        }
    }

    const fn name(set: Guid, name: &'static str, prop_type: PropType) -> Named {
        Named {
            set,
            name: NameRef::Name(name),
            prop_type,
        }
    }

    fn property(&self) -> NamedProperty {
        let name = match self.name {
            NameRef::Id(id) => PropName::Id(id),
            NameRef::Name(name) => PropName::Name(name.to_owned()),
        };
        NamedProperty::new(self.set, name)
    }
}

/// Fixed tags item fields use beyond those in `store::props::tags` (MS-OXPROPS names).
mod tag {
    use umbox_store::props::{PropTag, PropType};

    /// PidTagSensitivity: 0 normal, 1 personal, 2 private, 3 confidential.
    pub(super) const SENSITIVITY: PropTag = PropTag::new(0x0036, PropType::Int32);
    /// PidTagInReplyToId.
    pub(super) const IN_REPLY_TO_ID: PropTag = PropTag::new(0x1042, PropType::Unicode);
    /// PidTagTransportMessageHeaders: the headers a received message arrived with.
    pub(super) const TRANSPORT_MESSAGE_HEADERS: PropTag = PropTag::new(0x007D, PropType::Unicode);
    /// PidTagLastModifierName.
    pub(super) const LAST_MODIFIER_NAME: PropTag = PropTag::new(0x3FFA, PropType::Unicode);
    /// PidTagReadReceiptRequested.
    pub(super) const READ_RECEIPT_REQUESTED: PropTag = PropTag::new(0x0029, PropType::Boolean);
    /// PidTagOriginatorDeliveryReportRequested.
    pub(super) const DELIVERY_REPORT_REQUESTED: PropTag = PropTag::new(0x0023, PropType::Boolean);
    /// PidTagConversationIndex.
    pub(super) const CONVERSATION_INDEX: PropTag = PropTag::new(0x0071, PropType::Binary);
    /// PidTagConversationTopic.
    pub(super) const CONVERSATION_TOPIC: PropTag = PropTag::new(0x0070, PropType::Unicode);
    /// PidTagResponseRequested.
    pub(super) const RESPONSE_REQUESTED: PropTag = PropTag::new(0x0063, PropType::Boolean);
    /// PidTagInternetReferences.
    pub(super) const INTERNET_REFERENCES: PropTag = PropTag::new(0x1039, PropType::Unicode);
    /// PidTagReceivedByName.
    pub(super) const RECEIVED_BY_NAME: PropTag = PropTag::new(0x0040, PropType::Unicode);
    /// PidTagReceivedByEmailAddress.
    pub(super) const RECEIVED_BY_EMAIL_ADDRESS: PropTag = PropTag::new(0x0076, PropType::Unicode);
    /// PidTagReceivedRepresentingName.
    pub(super) const RECEIVED_REPRESENTING_NAME: PropTag = PropTag::new(0x0044, PropType::Unicode);
    /// PidTagReceivedRepresentingEmailAddress.
    pub(super) const RECEIVED_REPRESENTING_EMAIL_ADDRESS: PropTag =
        PropTag::new(0x0078, PropType::Unicode);
    /// PidTagGivenName.
    pub(super) const GIVEN_NAME: PropTag = PropTag::new(0x3A06, PropType::Unicode);
    /// PidTagInitials.
    pub(super) const INITIALS: PropTag = PropTag::new(0x3A0A, PropType::Unicode);
    /// PidTagMiddleName.
    pub(super) const MIDDLE_NAME: PropTag = PropTag::new(0x3A44, PropType::Unicode);
    /// PidTagNickname.
    pub(super) const NICKNAME: PropTag = PropTag::new(0x3A4F, PropType::Unicode);
    /// PidTagCompanyName.
    pub(super) const COMPANY_NAME: PropTag = PropTag::new(0x3A16, PropType::Unicode);
    /// PidTagAssistant.
    pub(super) const ASSISTANT: PropTag = PropTag::new(0x3A30, PropType::Unicode);
    /// PidTagBirthday.
    pub(super) const BIRTHDAY: PropTag = PropTag::new(0x3A42, PropType::SystemTime);
    /// PidTagBusinessHomePage.
    pub(super) const BUSINESS_HOME_PAGE: PropTag = PropTag::new(0x3A51, PropType::Unicode);
    /// PidTagChildrensNames.
    pub(super) const CHILDRENS_NAMES: PropTag = PropTag::new(0x3A58, PropType::MultiUnicode);
    /// PidTagDepartmentName.
    pub(super) const DEPARTMENT_NAME: PropTag = PropTag::new(0x3A18, PropType::Unicode);
    /// PidTagGeneration.
    pub(super) const GENERATION: PropTag = PropTag::new(0x3A05, PropType::Unicode);
    /// PidTagTitle (the job title).
    pub(super) const TITLE: PropTag = PropTag::new(0x3A17, PropType::Unicode);
    /// PidTagManagerName.
    pub(super) const MANAGER_NAME: PropTag = PropTag::new(0x3A4E, PropType::Unicode);
    /// PidTagOfficeLocation.
    pub(super) const OFFICE_LOCATION: PropTag = PropTag::new(0x3A19, PropType::Unicode);
    /// PidTagProfession.
    pub(super) const PROFESSION: PropTag = PropTag::new(0x3A46, PropType::Unicode);
    /// PidTagSpouseName.
    pub(super) const SPOUSE_NAME: PropTag = PropTag::new(0x3A48, PropType::Unicode);
    /// PidTagSurname.
    pub(super) const SURNAME: PropTag = PropTag::new(0x3A11, PropType::Unicode);
    /// PidTagWeddingAnniversary.
    pub(super) const WEDDING_ANNIVERSARY: PropTag = PropTag::new(0x3A41, PropType::SystemTime);
    /// PidTagAttachMethod: 1 by value (a file), 5 an embedded message.
    pub(super) const ATTACH_METHOD: PropTag = PropTag::new(0x3705, PropType::Int32);
    /// PidTagAttachContentId.
    pub(super) const ATTACH_CONTENT_ID: PropTag = PropTag::new(0x3712, PropType::Unicode);
    /// PidTagAttachContentLocation.
    pub(super) const ATTACH_CONTENT_LOCATION: PropTag = PropTag::new(0x3713, PropType::Unicode);
    /// PidTagAttachFlags; bit 0x4 (attRenderedInBody) is EWS IsInline.
    pub(super) const ATTACH_FLAGS: PropTag = PropTag::new(0x3714, PropType::Int32);
    /// PidTagAttachmentContactPhoto.
    pub(super) const ATTACHMENT_CONTACT_PHOTO: PropTag = PropTag::new(0x7FFF, PropType::Boolean);
}

/// Named properties item fields use.
mod named {
    use super::{Named, UMBOX_SET};
    use crate::fields::{PSETID_ADDRESS, PSETID_APPOINTMENT};
    use umbox_store::props::contact::EMAIL_ADDRESS_IDS;
    use umbox_store::props::{property_sets, PropType};

    /// PidLidReminderDelta.
    pub(super) const REMINDER_DELTA: Named =
        Named::id(property_sets::COMMON, 0x8501, PropType::Int32);
    /// PidLidReminderTime.
    pub(super) const REMINDER_TIME: Named =
        Named::id(property_sets::COMMON, 0x8502, PropType::SystemTime);
    /// PidLidReminderSet.
    pub(super) const REMINDER_SET: Named =
        Named::id(property_sets::COMMON, 0x8503, PropType::Boolean);
    /// PidNameKeywords: the categories.
    pub(super) const KEYWORDS: Named = Named::name(
        property_sets::PUBLIC_STRINGS,
        "Keywords",
        PropType::MultiUnicode,
    );
    /// PidLidFileUnder.
    pub(super) const FILE_UNDER: Named = Named::id(PSETID_ADDRESS, 0x8005, PropType::Unicode);
    /// PidLidPostalAddressId.
    pub(super) const POSTAL_ADDRESS_ID: Named = Named::id(PSETID_ADDRESS, 0x8022, PropType::Int32);
    /// PidLidEmail1EmailAddress, 2 and 3, with their display names (PidLidEmail1DisplayName …).
    pub(super) const EMAILS: [(&str, Named, Named); 3] = [
        (
            "EmailAddress1",
            Named::id(PSETID_ADDRESS, EMAIL_ADDRESS_IDS[0], PropType::Unicode),
            Named::id(PSETID_ADDRESS, 0x8080, PropType::Unicode),
        ),
        (
            "EmailAddress2",
            Named::id(PSETID_ADDRESS, EMAIL_ADDRESS_IDS[1], PropType::Unicode),
            Named::id(PSETID_ADDRESS, 0x8090, PropType::Unicode),
        ),
        (
            "EmailAddress3",
            Named::id(PSETID_ADDRESS, EMAIL_ADDRESS_IDS[2], PropType::Unicode),
            Named::id(PSETID_ADDRESS, 0x80A0, PropType::Unicode),
        ),
    ];
    /// PidLidBusyStatus.
    pub(super) const BUSY_STATUS: Named = Named::id(PSETID_APPOINTMENT, 0x8205, PropType::Int32);
    /// PidLidLocation.
    pub(super) const LOCATION: Named = Named::id(PSETID_APPOINTMENT, 0x8208, PropType::Unicode);
    /// PidLidAppointmentStartWhole.
    pub(super) const START: Named = Named::id(PSETID_APPOINTMENT, 0x820D, PropType::SystemTime);
    /// PidLidAppointmentEndWhole.
    pub(super) const END: Named = Named::id(PSETID_APPOINTMENT, 0x820E, PropType::SystemTime);
    /// PidLidAppointmentSubType: an all-day event.
    pub(super) const ALL_DAY: Named = Named::id(PSETID_APPOINTMENT, 0x8215, PropType::Boolean);
    /// To recipients.
    pub(super) const TO: Named = Named::name(UMBOX_SET, "ToRecipients", PropType::MultiUnicode);
    /// Cc recipients.
    pub(super) const CC: Named = Named::name(UMBOX_SET, "CcRecipients", PropType::MultiUnicode);
    /// Bcc recipients.
    pub(super) const BCC: Named = Named::name(UMBOX_SET, "BccRecipients", PropType::MultiUnicode);
    /// Reply-To mailboxes.
    pub(super) const REPLY_TO: Named = Named::name(UMBOX_SET, "ReplyTo", PropType::MultiUnicode);
    /// Required attendees.
    pub(super) const REQUIRED: Named =
        Named::name(UMBOX_SET, "RequiredAttendees", PropType::MultiUnicode);
    /// Optional attendees.
    pub(super) const OPTIONAL: Named =
        Named::name(UMBOX_SET, "OptionalAttendees", PropType::MultiUnicode);
    /// Resources.
    pub(super) const RESOURCES: Named = Named::name(UMBOX_SET, "Resources", PropType::MultiUnicode);
    /// EWS Culture.
    pub(super) const CULTURE: Named = Named::name(UMBOX_SET, "Culture", PropType::Unicode);
    /// The iCalendar UID.
    pub(super) const UID: Named = Named::name(UMBOX_SET, "UID", PropType::Unicode);
    /// The start's time zone id.
    pub(super) const START_TIME_ZONE: Named =
        Named::name(UMBOX_SET, "StartTimeZone", PropType::Unicode);
    /// The end's time zone id.
    pub(super) const END_TIME_ZONE: Named =
        Named::name(UMBOX_SET, "EndTimeZone", PropType::Unicode);
}

/// PidTagMessageFlags bits EWS shows (MS-OXCMSG §2.2.1.6).
mod flag {
    /// MSGFLAG_UNMODIFIED.
    pub(super) const UNMODIFIED: i32 = 0x0002;
    /// MSGFLAG_SUBMIT.
    pub(super) const SUBMIT: i32 = 0x0004;
    /// MSGFLAG_FROMME.
    pub(super) const FROM_ME: i32 = 0x0020;
    /// MSGFLAG_RESEND.
    pub(super) const RESEND: i32 = 0x0080;
}

/// The phone numbers of a contact: EWS key and MAPI tag (MS-OXOCNTC §2.2.1.4).
const PHONES: [(&str, PropTag); 19] = [
    ("AssistantPhone", PropTag::new(0x3A2E, PropType::Unicode)),
    ("BusinessFax", PropTag::new(0x3A24, PropType::Unicode)),
    ("BusinessPhone", PropTag::new(0x3A08, PropType::Unicode)),
    ("BusinessPhone2", PropTag::new(0x3A1B, PropType::Unicode)),
    ("Callback", PropTag::new(0x3A02, PropType::Unicode)),
    ("CarPhone", PropTag::new(0x3A1E, PropType::Unicode)),
    ("CompanyMainPhone", PropTag::new(0x3A57, PropType::Unicode)),
    ("HomeFax", PropTag::new(0x3A25, PropType::Unicode)),
    ("HomePhone", PropTag::new(0x3A09, PropType::Unicode)),
    ("HomePhone2", PropTag::new(0x3A2F, PropType::Unicode)),
    ("Isdn", PropTag::new(0x3A2D, PropType::Unicode)),
    ("MobilePhone", PropTag::new(0x3A1C, PropType::Unicode)),
    ("OtherFax", PropTag::new(0x3A23, PropType::Unicode)),
    ("OtherTelephone", PropTag::new(0x3A1F, PropType::Unicode)),
    ("Pager", PropTag::new(0x3A21, PropType::Unicode)),
    ("PrimaryPhone", PropTag::new(0x3A1A, PropType::Unicode)),
    ("RadioPhone", PropTag::new(0x3A1D, PropType::Unicode)),
    ("Telex", PropTag::new(0x3A2C, PropType::Unicode)),
    ("TtyTddPhone", PropTag::new(0x3A4B, PropType::Unicode)),
];

/// Where a value lives: a fixed tag or a named property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prop {
    /// A fixed tag.
    Tag(PropTag),
    /// A named property.
    Named(Named),
}

impl Prop {
    /// How a change names it.
    pub(crate) fn key(self) -> PropKey {
        match self {
            Prop::Tag(tag) => PropKey::Tag(tag),
            Prop::Named(named) => PropKey::Named(named.property(), named.prop_type),
        }
    }
}

const fn t(tag: PropTag) -> Prop {
    Prop::Tag(tag)
}

const fn n(named: Named) -> Prop {
    Prop::Named(named)
}

/// How a field is written and read.
#[derive(Debug, Clone, Copy)]
enum Value {
    /// xs:string in a string property.
    Text(Prop),
    /// xs:boolean.
    Bool(Prop),
    /// xs:language (a language tag) in a string property.
    Language(Prop),
    /// An xs:int within the bounds of its schema type.
    Int(Prop, Bounds),
    /// xs:dateTime.
    Time(Prop),
    /// xs:base64Binary.
    Base64(Prop),
    /// An enumeration stored as its index.
    Choice(Prop, &'static [&'static str]),
    /// ArrayOfStringsType in a multi-valued string.
    Strings(Prop),
    /// A PidTagMessageFlags bit.
    Flag(i32),
    /// SingleRecipientType in a name and an address property.
    Mailbox(PropTag, PropTag),
    /// ArrayOfRecipientsType in a recipient list.
    Mailboxes(Prop),
    /// NonEmptyArrayOfAttendeesType in a recipient list.
    Attendees(Prop),
    /// The display names of a recipient list, `; `-separated.
    Display(Prop),
    /// A contact's EmailAddresses dictionary.
    Emails,
    /// A contact's PhoneNumbers dictionary.
    Phones,
    /// TimeZoneDefinitionType, stored as its Id.
    TimeZone(Prop),
    /// Written from several properties or from the object itself.
    Computed(Computed),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Computed {
    MimeContent,
    ItemId,
    ParentFolderId,
    Body,
    TextBody,
    Attachments,
    Headers,
    EffectiveRights,
    /// umbox keeps no folder-associated items.
    IsAssociated,
    Duration,
    IsMeeting,
    /// umbox keeps neither recurrences nor meeting responses, so these are constant facts.
    IsCancelled,
    IsRecurring,
    CalendarItemType,
    MyResponseType,
}

/// One item field: its path, element, storage and when it is written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    uri: FieldUri,
    element: &'static str,
    value: Value,
    /// Part of the Default shape.
    default: bool,
    /// Clients may set it.
    writable: bool,
    /// Too large or too costly for FindItem's base shapes.
    large: bool,
    /// The oldest schema that has it.
    since: ExchangeVersion,
}

const fn field(uri: FieldUri, element: &'static str, value: Value) -> Field {
    Field {
        uri,
        element,
        value,
        default: false,
        writable: false,
        large: false,
        since: ExchangeVersion::Exchange2007,
    }
}

impl Field {
    const fn default(mut self) -> Field {
        self.default = true;
        self
    }

    const fn writable(mut self) -> Field {
        self.writable = true;
        self
    }

    const fn large(mut self) -> Field {
        self.large = true;
        self
    }

    const fn since(mut self, version: ExchangeVersion) -> Field {
        self.since = version;
        self
    }
}

const IMPORTANCE: &[&str] = &["Low", "Normal", "High"];
const SENSITIVITY: &[&str] = &["Normal", "Personal", "Private", "Confidential"];
const FREE_BUSY: &[&str] = &[
    "Free",
    "Tentative",
    "Busy",
    "OOF",
    "WorkingElsewhere",
    "NoData",
];
const POSTAL_INDEX: &[&str] = &["None", "Home", "Business", "Other"];

/// The inclusive range of an integer field's schema type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bounds {
    min: i64,
    max: i64,
}

impl Bounds {
    fn contains(self, value: i64) -> bool {
        (self.min..=self.max).contains(&value)
    }
}

/// xs:int.
const INT: Bounds = Bounds {
    min: i32::MIN as i64,
    max: i32::MAX as i64,
};

/// ReminderMinutesBeforeStartType (MS-OXWSCORE): the union of 0 to 2629800 (five years) and
/// Outlook's marker range, 0 to 1525252321.
const REMINDER_MINUTES: Bounds = Bounds {
    min: 0,
    max: 1_525_252_321,
};

/// Whether `tag` is an xs:language value: letters, then hyphen-separated alphanumeric subtags,
/// each one to eight characters.
fn is_language(tag: &str) -> bool {
    tag.split('-').enumerate().all(|(i, subtag)| {
        (1..=8).contains(&subtag.len())
            && subtag
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()))
    })
}

/// ItemType up to HasAttachments; extended properties follow it.
const ITEM_HEAD: &[Field] = &[
    field(
        FieldUri::ItemMimeContent,
        "MimeContent",
        Value::Computed(Computed::MimeContent),
    )
    .writable()
    .large(),
    field(
        FieldUri::ItemId,
        "ItemId",
        Value::Computed(Computed::ItemId),
    )
    .default(),
    field(
        FieldUri::ItemParentFolderId,
        "ParentFolderId",
        Value::Computed(Computed::ParentFolderId),
    )
    .default(),
    field(
        FieldUri::ItemClass,
        "ItemClass",
        Value::Text(t(tags::MESSAGE_CLASS)),
    )
    .default()
    .writable(),
    field(
        FieldUri::ItemSubject,
        "Subject",
        Value::Text(t(tags::SUBJECT)),
    )
    .default()
    .writable(),
    field(
        FieldUri::ItemSensitivity,
        "Sensitivity",
        Value::Choice(t(tag::SENSITIVITY), SENSITIVITY),
    )
    .default()
    .writable(),
    field(FieldUri::ItemBody, "Body", Value::Computed(Computed::Body))
        .default()
        .writable()
        .large(),
    field(
        FieldUri::ItemAttachments,
        "Attachments",
        Value::Computed(Computed::Attachments),
    )
    .default()
    .writable()
    .large(),
    field(
        FieldUri::ItemDateTimeReceived,
        "DateTimeReceived",
        Value::Time(t(tags::MESSAGE_DELIVERY_TIME)),
    )
    .default(),
    field(
        FieldUri::ItemSize,
        "Size",
        Value::Int(t(tags::MESSAGE_SIZE), INT),
    )
    .default(),
    field(
        FieldUri::ItemCategories,
        "Categories",
        Value::Strings(n(named::KEYWORDS)),
    )
    .default()
    .writable(),
    field(
        FieldUri::ItemImportance,
        "Importance",
        Value::Choice(t(tags::IMPORTANCE), IMPORTANCE),
    )
    .default()
    .writable(),
    field(
        FieldUri::ItemInReplyTo,
        "InReplyTo",
        Value::Text(t(tag::IN_REPLY_TO_ID)),
    )
    .writable(),
    field(
        FieldUri::ItemIsSubmitted,
        "IsSubmitted",
        Value::Flag(flag::SUBMIT),
    )
    .default(),
    field(
        FieldUri::ItemIsDraft,
        "IsDraft",
        Value::Flag(tags::MSGFLAG_UNSENT),
    )
    .default(),
    field(
        FieldUri::ItemIsFromMe,
        "IsFromMe",
        Value::Flag(flag::FROM_ME),
    )
    .default(),
    field(
        FieldUri::ItemIsResend,
        "IsResend",
        Value::Flag(flag::RESEND),
    )
    .default(),
    field(
        FieldUri::ItemIsUnmodified,
        "IsUnmodified",
        Value::Flag(flag::UNMODIFIED),
    )
    .default(),
    field(
        FieldUri::ItemInternetMessageHeaders,
        "InternetMessageHeaders",
        Value::Computed(Computed::Headers),
    )
    .large(),
    field(
        FieldUri::ItemDateTimeSent,
        "DateTimeSent",
        Value::Time(t(tags::CLIENT_SUBMIT_TIME)),
    )
    .default(),
    field(
        FieldUri::ItemDateTimeCreated,
        "DateTimeCreated",
        Value::Time(t(tags::CREATION_TIME)),
    )
    .default(),
    field(
        FieldUri::ItemReminderDueBy,
        "ReminderDueBy",
        Value::Time(n(named::REMINDER_TIME)),
    )
    .default()
    .writable(),
    field(
        FieldUri::ItemReminderIsSet,
        "ReminderIsSet",
        Value::Bool(n(named::REMINDER_SET)),
    )
    .default()
    .writable(),
    field(
        FieldUri::ItemReminderMinutesBeforeStart,
        "ReminderMinutesBeforeStart",
        Value::Int(n(named::REMINDER_DELTA), REMINDER_MINUTES),
    )
    .default()
    .writable(),
    field(
        FieldUri::ItemDisplayCc,
        "DisplayCc",
        Value::Display(n(named::CC)),
    )
    .default(),
    field(
        FieldUri::ItemDisplayTo,
        "DisplayTo",
        Value::Display(n(named::TO)),
    )
    .default(),
    field(
        FieldUri::ItemHasAttachments,
        "HasAttachments",
        Value::Bool(t(tags::HAS_ATTACHMENTS)),
    )
    .default(),
];

/// ItemType after the extended properties.
const ITEM_TAIL: &[Field] = &[
    field(
        FieldUri::ItemCulture,
        "Culture",
        Value::Language(n(named::CULTURE)),
    )
    .default()
    .writable(),
    field(
        FieldUri::ItemEffectiveRights,
        "EffectiveRights",
        Value::Computed(Computed::EffectiveRights),
    ),
    field(
        FieldUri::ItemLastModifiedName,
        "LastModifiedName",
        Value::Text(t(tag::LAST_MODIFIER_NAME)),
    ),
    field(
        FieldUri::ItemLastModifiedTime,
        "LastModifiedTime",
        Value::Time(t(tags::LAST_MODIFICATION_TIME)),
    ),
    field(
        FieldUri::ItemIsAssociated,
        "IsAssociated",
        Value::Computed(Computed::IsAssociated),
    )
    .since(ExchangeVersion::Exchange2010),
    field(
        FieldUri::ItemTextBody,
        "TextBody",
        Value::Computed(Computed::TextBody),
    )
    .large()
    .since(ExchangeVersion::Exchange2013),
];

/// MessageType's own fields.
const MESSAGE: &[Field] = &[
    field(
        FieldUri::MessageSender,
        "Sender",
        Value::Mailbox(tags::SENDER_NAME, tags::SENDER_EMAIL_ADDRESS),
    )
    .default()
    .writable(),
    field(
        FieldUri::MessageToRecipients,
        "ToRecipients",
        Value::Mailboxes(n(named::TO)),
    )
    .default()
    .writable()
    .large(),
    field(
        FieldUri::MessageCcRecipients,
        "CcRecipients",
        Value::Mailboxes(n(named::CC)),
    )
    .default()
    .writable()
    .large(),
    field(
        FieldUri::MessageBccRecipients,
        "BccRecipients",
        Value::Mailboxes(n(named::BCC)),
    )
    .writable()
    .large(),
    field(
        FieldUri::MessageIsReadReceiptRequested,
        "IsReadReceiptRequested",
        Value::Bool(t(tag::READ_RECEIPT_REQUESTED)),
    )
    .default()
    .writable(),
    field(
        FieldUri::MessageIsDeliveryReceiptRequested,
        "IsDeliveryReceiptRequested",
        Value::Bool(t(tag::DELIVERY_REPORT_REQUESTED)),
    )
    .default()
    .writable(),
    field(
        FieldUri::MessageConversationIndex,
        "ConversationIndex",
        Value::Base64(t(tag::CONVERSATION_INDEX)),
    )
    .default(),
    field(
        FieldUri::MessageConversationTopic,
        "ConversationTopic",
        Value::Text(t(tag::CONVERSATION_TOPIC)),
    )
    .default(),
    field(
        FieldUri::MessageFrom,
        "From",
        Value::Mailbox(
            tags::SENT_REPRESENTING_NAME,
            tags::SENT_REPRESENTING_EMAIL_ADDRESS,
        ),
    )
    .default()
    .writable(),
    field(
        FieldUri::MessageInternetMessageId,
        "InternetMessageId",
        Value::Text(t(tags::INTERNET_MESSAGE_ID)),
    )
    .default()
    .writable(),
    field(
        FieldUri::MessageIsRead,
        "IsRead",
        Value::Flag(tags::MSGFLAG_READ),
    )
    .default()
    .writable(),
    field(
        FieldUri::MessageIsResponseRequested,
        "IsResponseRequested",
        Value::Bool(t(tag::RESPONSE_REQUESTED)),
    )
    .default()
    .writable(),
    field(
        FieldUri::MessageReferences,
        "References",
        Value::Text(t(tag::INTERNET_REFERENCES)),
    )
    .writable(),
    field(
        FieldUri::MessageReplyTo,
        "ReplyTo",
        Value::Mailboxes(n(named::REPLY_TO)),
    )
    .writable()
    .large(),
    field(
        FieldUri::MessageReceivedBy,
        "ReceivedBy",
        Value::Mailbox(tag::RECEIVED_BY_NAME, tag::RECEIVED_BY_EMAIL_ADDRESS),
    )
    .default(),
    field(
        FieldUri::MessageReceivedRepresenting,
        "ReceivedRepresenting",
        Value::Mailbox(
            tag::RECEIVED_REPRESENTING_NAME,
            tag::RECEIVED_REPRESENTING_EMAIL_ADDRESS,
        ),
    )
    .default(),
];

/// ContactItemType's own fields.
const CONTACT: &[Field] = &[
    field(
        FieldUri::ContactsFileAs,
        "FileAs",
        Value::Text(n(named::FILE_UNDER)),
    )
    .default()
    .writable(),
    field(
        FieldUri::ContactsDisplayName,
        "DisplayName",
        Value::Text(t(tags::DISPLAY_NAME)),
    )
    .default()
    .writable(),
    field(
        FieldUri::ContactsGivenName,
        "GivenName",
        Value::Text(t(tag::GIVEN_NAME)),
    )
    .default()
    .writable(),
    field(
        FieldUri::ContactsInitials,
        "Initials",
        Value::Text(t(tag::INITIALS)),
    )
    .writable(),
    field(
        FieldUri::ContactsMiddleName,
        "MiddleName",
        Value::Text(t(tag::MIDDLE_NAME)),
    )
    .writable(),
    field(
        FieldUri::ContactsNickname,
        "Nickname",
        Value::Text(t(tag::NICKNAME)),
    )
    .writable(),
    field(
        FieldUri::ContactsCompanyName,
        "CompanyName",
        Value::Text(t(tag::COMPANY_NAME)),
    )
    .default()
    .writable(),
    field(
        FieldUri::ContactsEmailAddresses,
        "EmailAddresses",
        Value::Emails,
    )
    .default()
    .writable(),
    field(
        FieldUri::ContactsPhoneNumbers,
        "PhoneNumbers",
        Value::Phones,
    )
    .default()
    .writable(),
    field(
        FieldUri::ContactsAssistantName,
        "AssistantName",
        Value::Text(t(tag::ASSISTANT)),
    )
    .writable(),
    field(
        FieldUri::ContactsBirthday,
        "Birthday",
        Value::Time(t(tag::BIRTHDAY)),
    )
    .writable(),
    field(
        FieldUri::ContactsBusinessHomePage,
        "BusinessHomePage",
        Value::Text(t(tag::BUSINESS_HOME_PAGE)),
    )
    .writable(),
    field(
        FieldUri::ContactsChildren,
        "Children",
        Value::Strings(t(tag::CHILDRENS_NAMES)),
    )
    .writable(),
    field(
        FieldUri::ContactsDepartment,
        "Department",
        Value::Text(t(tag::DEPARTMENT_NAME)),
    )
    .writable(),
    field(
        FieldUri::ContactsGeneration,
        "Generation",
        Value::Text(t(tag::GENERATION)),
    )
    .writable(),
    field(
        FieldUri::ContactsJobTitle,
        "JobTitle",
        Value::Text(t(tag::TITLE)),
    )
    .default()
    .writable(),
    field(
        FieldUri::ContactsManager,
        "Manager",
        Value::Text(t(tag::MANAGER_NAME)),
    )
    .writable(),
    field(
        FieldUri::ContactsOfficeLocation,
        "OfficeLocation",
        Value::Text(t(tag::OFFICE_LOCATION)),
    )
    .writable(),
    field(
        FieldUri::ContactsPostalAddressIndex,
        "PostalAddressIndex",
        Value::Choice(n(named::POSTAL_ADDRESS_ID), POSTAL_INDEX),
    )
    .writable(),
    field(
        FieldUri::ContactsProfession,
        "Profession",
        Value::Text(t(tag::PROFESSION)),
    )
    .writable(),
    field(
        FieldUri::ContactsSpouseName,
        "SpouseName",
        Value::Text(t(tag::SPOUSE_NAME)),
    )
    .writable(),
    field(
        FieldUri::ContactsSurname,
        "Surname",
        Value::Text(t(tag::SURNAME)),
    )
    .default()
    .writable(),
    field(
        FieldUri::ContactsWeddingAnniversary,
        "WeddingAnniversary",
        Value::Time(t(tag::WEDDING_ANNIVERSARY)),
    )
    .writable(),
];

/// CalendarItemType's own fields.
const CALENDAR: &[Field] = &[
    field(FieldUri::CalendarUid, "UID", Value::Text(n(named::UID)))
        .default()
        .writable(),
    field(
        FieldUri::CalendarStart,
        "Start",
        Value::Time(n(named::START)),
    )
    .default()
    .writable(),
    field(FieldUri::CalendarEnd, "End", Value::Time(n(named::END)))
        .default()
        .writable(),
    field(
        FieldUri::CalendarIsAllDayEvent,
        "IsAllDayEvent",
        Value::Bool(n(named::ALL_DAY)),
    )
    .default()
    .writable(),
    field(
        FieldUri::CalendarLegacyFreeBusyStatus,
        "LegacyFreeBusyStatus",
        Value::Choice(n(named::BUSY_STATUS), FREE_BUSY),
    )
    .default()
    .writable(),
    field(
        FieldUri::CalendarLocation,
        "Location",
        Value::Text(n(named::LOCATION)),
    )
    .default()
    .writable(),
    field(
        FieldUri::CalendarIsMeeting,
        "IsMeeting",
        Value::Computed(Computed::IsMeeting),
    )
    .default(),
    field(
        FieldUri::CalendarIsCancelled,
        "IsCancelled",
        Value::Computed(Computed::IsCancelled),
    )
    .default(),
    field(
        FieldUri::CalendarIsRecurring,
        "IsRecurring",
        Value::Computed(Computed::IsRecurring),
    )
    .default(),
    field(
        FieldUri::CalendarItemType,
        "CalendarItemType",
        Value::Computed(Computed::CalendarItemType),
    )
    .default(),
    field(
        FieldUri::CalendarMyResponseType,
        "MyResponseType",
        Value::Computed(Computed::MyResponseType),
    )
    .default(),
    field(
        FieldUri::CalendarOrganizer,
        "Organizer",
        Value::Mailbox(
            tags::SENT_REPRESENTING_NAME,
            tags::SENT_REPRESENTING_EMAIL_ADDRESS,
        ),
    )
    .default(),
    field(
        FieldUri::CalendarRequiredAttendees,
        "RequiredAttendees",
        Value::Attendees(n(named::REQUIRED)),
    )
    .writable()
    .large(),
    field(
        FieldUri::CalendarOptionalAttendees,
        "OptionalAttendees",
        Value::Attendees(n(named::OPTIONAL)),
    )
    .writable()
    .large(),
    field(
        FieldUri::CalendarResources,
        "Resources",
        Value::Attendees(n(named::RESOURCES)),
    )
    .writable()
    .large(),
    field(
        FieldUri::CalendarDuration,
        "Duration",
        Value::Computed(Computed::Duration),
    )
    .default(),
    field(
        FieldUri::CalendarStartTimeZone,
        "StartTimeZone",
        Value::TimeZone(n(named::START_TIME_ZONE)),
    )
    .writable()
    .since(ExchangeVersion::Exchange2010),
    field(
        FieldUri::CalendarEndTimeZone,
        "EndTimeZone",
        Value::TimeZone(n(named::END_TIME_ZONE)),
    )
    .writable()
    .since(ExchangeVersion::Exchange2010),
];

/// Every field of `kind`, in XSD order (the extended-property slot is between the two ItemType
/// parts).
fn fields_of(kind: Kind) -> impl Iterator<Item = &'static Field> {
    ITEM_HEAD.iter().chain(ITEM_TAIL).chain(kind.own_fields())
}

/// The field of `kind` with this URI.
fn field_by_uri(kind: Kind, uri: FieldUri) -> Option<&'static Field> {
    fields_of(kind).find(|f| f.uri == uri)
}

/// The field of `kind` written as `element`.
fn field_by_element(kind: Kind, element: &str) -> Option<&'static Field> {
    fields_of(kind).find(|f| f.element == element)
}

/// Every named property the tables use.
fn all_named() -> Vec<Named> {
    let mut out = Vec::new();
    for field in ITEM_HEAD
        .iter()
        .chain(ITEM_TAIL)
        .chain(MESSAGE)
        .chain(CONTACT)
        .chain(CALENDAR)
    {
        let prop = match field.value {
            Value::Text(p)
            | Value::Language(p)
            | Value::Bool(p)
            | Value::Int(p, _)
            | Value::Time(p)
            | Value::Base64(p)
            | Value::Choice(p, _)
            | Value::Strings(p)
            | Value::Mailboxes(p)
            | Value::Attendees(p)
            | Value::Display(p)
            | Value::TimeZone(p) => p,
            Value::Emails => {
                for (_, address, name) in named::EMAILS {
                    out.push(address);
                    out.push(name);
                }
                continue;
            }
            Value::Flag(_) | Value::Mailbox(..) | Value::Phones | Value::Computed(_) => continue,
        };
        if let Prop::Named(named) = prop {
            if !out.contains(&named) {
                out.push(named);
            }
        }
    }
    out
}

/// This mailbox's ids for the named properties item fields use, looked up once per request.
#[derive(Debug, Default)]
pub(crate) struct NamedTags {
    ids: HashMap<(Guid, NameRef), u16>,
}

impl NamedTags {
    /// Looks the names up in the request's mailbox; a name never used there has no id, so no
    /// item can hold it.
    pub(crate) fn load(request: &Request<'_>) -> Result<NamedTags, Error> {
        let names = all_named();
        let properties: Vec<NamedProperty> = names.iter().map(Named::property).collect();
        let ids = request
            .ctx
            .store
            .named_property_ids(&request.mailbox, &properties)?;
        let ids = names
            .iter()
            .zip(ids)
            .filter_map(|(named, id)| id.map(|id| ((named.set, named.name), id)))
            .collect();
        Ok(NamedTags { ids })
    }

    fn tag(&self, prop: Prop) -> Option<PropTag> {
        match prop {
            Prop::Tag(tag) => Some(tag),
            Prop::Named(named) => self
                .ids
                .get(&(named.set, named.name))
                .map(|id| PropTag::new(*id, named.prop_type)),
        }
    }
}

/// Read access to an item's properties, stored or about to be stored.
pub(crate) trait Props {
    /// The value of `prop`, if present.
    fn value(&self, prop: Prop) -> Option<&PropValue>;
}

/// A stored property bag with the mailbox's named-property ids.
pub(crate) struct Stored<'a> {
    /// The bag.
    pub(crate) bag: &'a PropertyBag,
    /// The mailbox's named ids.
    pub(crate) names: &'a NamedTags,
}

impl Props for Stored<'_> {
    fn value(&self, prop: Prop) -> Option<&PropValue> {
        self.names.tag(prop).and_then(|tag| self.bag.get(tag))
    }
}

/// Properties of a change, keyed as the store takes them (later entries win).
pub(crate) struct Pending<'a>(pub(crate) &'a [(PropKey, PropValue)]);

impl Props for Pending<'_> {
    fn value(&self, prop: Prop) -> Option<&PropValue> {
        let key = prop.key();
        self.0.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

fn text(props: &dyn Props, prop: Prop) -> Option<&str> {
    match props.value(prop)? {
        PropValue::Unicode(text) => Some(text),
        _ => None,
    }
}

fn int(props: &dyn Props, prop: Prop) -> Option<i64> {
    match props.value(prop)? {
        PropValue::Int32(v) => Some(i64::from(*v)),
        PropValue::Int64(v) => Some(*v),
        _ => None,
    }
}

fn boolean(props: &dyn Props, prop: Prop) -> Option<bool> {
    match props.value(prop)? {
        PropValue::Boolean(v) => Some(*v),
        _ => None,
    }
}

fn system_time(props: &dyn Props, prop: Prop) -> Option<SystemTime> {
    match props.value(prop)? {
        PropValue::SystemTime(t) => t.to_system_time(),
        _ => None,
    }
}

fn strings(props: &dyn Props, prop: Prop) -> &[String] {
    match props.value(prop) {
        Some(PropValue::MultiUnicode(v)) => v,
        _ => &[],
    }
}

fn message_flags(props: &dyn Props) -> i32 {
    int(props, t(tags::MESSAGE_FLAGS))
        .and_then(|v| i32::try_from(v).ok())
        .unwrap_or(0)
}

/// A mailbox: display name and SMTP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recipient {
    /// The display name (may be empty).
    pub(crate) name: String,
    /// The address.
    pub(crate) address: String,
}

impl Recipient {
    /// The stored form, `Name <address>`, or the bare address without a name.
    fn encode(&self) -> String {
        if self.name.is_empty() {
            self.address.clone()
        } else {
            format!("{} <{}>", self.name, self.address)
        }
    }

    /// Reads the stored form (the address is within the last angle brackets).
    fn decode(text: &str) -> Recipient {
        if let Some(open) = text.strip_suffix('>').and_then(|t| t.rfind('<')) {
            let name = text.get(..open).unwrap_or_default().trim();
            let address = text.get(open + 1..text.len() - 1).unwrap_or_default();
            return Recipient {
                name: name.to_owned(),
                address: address.to_owned(),
            };
        }
        Recipient {
            name: String::new(),
            address: text.to_owned(),
        }
    }

    fn as_mime(&self) -> mime::Mailbox<'_> {
        mime::Mailbox {
            name: &self.name,
            address: &self.address,
        }
    }
}

/// The recipients stored in a recipient-list property.
fn recipients(props: &dyn Props, prop: Prop) -> Vec<Recipient> {
    strings(props, prop)
        .iter()
        .map(|s| Recipient::decode(s))
        .collect()
}

/// The mailbox held in a name and an address property.
fn single(props: &dyn Props, name: PropTag, address: PropTag) -> Option<Recipient> {
    let address = text(props, t(address)).filter(|a| !a.is_empty())?;
    Some(Recipient {
        name: text(props, t(name)).unwrap_or_default().to_owned(),
        address: address.to_owned(),
    })
}

/// Every recipient a message is addressed to (To, Cc and Bcc), for sending.
pub(crate) fn all_recipients(props: &dyn Props) -> Vec<Recipient> {
    [named::TO, named::CC, named::BCC]
        .into_iter()
        .flat_map(|list| recipients(props, n(list)))
        .collect()
}

/// The author of a message (From, else Sender).
pub(crate) fn author(props: &dyn Props) -> Option<Recipient> {
    single(
        props,
        tags::SENT_REPRESENTING_NAME,
        tags::SENT_REPRESENTING_EMAIL_ADDRESS,
    )
    .or_else(|| single(props, tags::SENDER_NAME, tags::SENDER_EMAIL_ADDRESS))
}

/// The text and HTML bodies an item has.
fn bodies(props: &dyn Props) -> (Option<&str>, Option<&str>) {
    let html = match props.value(t(tags::HTML)) {
        Some(PropValue::Binary(bytes)) => std::str::from_utf8(bytes).ok(),
        _ => None,
    };
    (text(props, t(tags::BODY)), html)
}

fn display(list: &[Recipient]) -> String {
    list.iter()
        .map(|r| {
            if r.name.is_empty() {
                r.address.as_str()
            } else {
                r.name.as_str()
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn text_body(props: &dyn Props) -> String {
    match bodies(props) {
        (Some(text), _) => text.to_owned(),
        (None, Some(html)) => mime::html_to_text(html),
        (None, None) => String::new(),
    }
}

fn is_meeting(props: &dyn Props) -> bool {
    [named::REQUIRED, named::OPTIONAL, named::RESOURCES]
        .into_iter()
        .any(|list| !strings(props, n(list)).is_empty())
}

/// What the caller is writing an item for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// GetItem and the answers of CreateItem, MoveItem and others.
    Get,
    /// FindItem: large fields are left out of the base shapes.
    Find,
    /// The item inside an item attachment: no id, no folder.
    Embedded,
}

/// The object being written.
struct Subject<'a> {
    kind: Kind,
    /// Id, version and folder; `None` for an embedded item.
    ids: Option<(ItemId, ChangeKey, FolderId)>,
    props: Stored<'a>,
    attachments: &'a [AttachmentInfo],
    /// The MIME form when it is stored (an embedded item's); otherwise built on demand.
    stored_mime: Option<&'a [u8]>,
    seed: u64,
}

/// Writes `item` as GetItem does (Body and other large fields in the base shapes).
pub(crate) fn item(w: &mut Writer<'_>, request: &Request<'_>, item: &Item, shape: &Shape) {
    let names = NamedTags::load(request).unwrap_or_else(|error| {
        tracing::error!(%error, "named property ids unreadable; item rendered without named properties");
        NamedTags::default()
    });
    write_stored(w, request, &names, item, shape, Purpose::Get);
}

/// Writes `item` as GetItem does, with named ids already loaded.
pub(crate) fn item_with(
    w: &mut Writer<'_>,
    request: &Request<'_>,
    names: &NamedTags,
    item: &Item,
    shape: &Shape,
) {
    write_stored(w, request, names, item, shape, Purpose::Get);
}

/// Writes `item` as FindItem lists it: the base shapes leave out the body, MIME content,
/// attachments, recipient lists and headers (each still written when named explicitly).
pub(crate) fn listed_item(
    w: &mut Writer<'_>,
    request: &Request<'_>,
    names: &NamedTags,
    item: &Item,
    shape: &Shape,
) {
    write_stored(w, request, names, item, shape, Purpose::Find);
}

fn write_stored(
    w: &mut Writer<'_>,
    request: &Request<'_>,
    names: &NamedTags,
    item: &Item,
    shape: &Shape,
    purpose: Purpose,
) {
    let subject = Subject {
        kind: Kind::of(&item.props),
        ids: Some((item.id, item.change_key, item.parent)),
        props: Stored {
            bag: &item.props,
            names,
        },
        attachments: &item.attachments,
        stored_mime: None,
        seed: item.id.0,
    };
    write(w, request, &subject, shape, purpose);
}

/// Whether `shape` asks for `field` on an object written for `purpose`.
fn wanted(field: &Field, shape: &Shape, purpose: Purpose, version: ExchangeVersion) -> bool {
    if field.since > version {
        return false;
    }
    let explicit =
        shape.wants(field.uri)
            || match field.value {
                Value::Emails => shape.additional.iter().any(
                    |p| matches!(p, PropertyPath::Indexed(i) if i.uri == "contacts:EmailAddress"),
                ),
                Value::Phones => shape.additional.iter().any(
                    |p| matches!(p, PropertyPath::Indexed(i) if i.uri == "contacts:PhoneNumber"),
                ),
                _ => false,
            };
    let in_base = match shape.base {
        BaseShape::IdOnly => false,
        BaseShape::Default => field.default,
        BaseShape::AllProperties => true,
    };
    match field.value {
        Value::Computed(Computed::ItemId | Computed::ParentFolderId)
            if purpose == Purpose::Embedded =>
        {
            false
        }
        Value::Computed(Computed::ItemId) => true,
        // MIME is only written when asked for (IncludeMimeContent or the field itself).
        Value::Computed(Computed::MimeContent) => shape.include_mime_content || explicit,
        _ => explicit || (in_base && !(purpose == Purpose::Find && field.large)),
    }
}

fn write(
    w: &mut Writer<'_>,
    request: &Request<'_>,
    subject: &Subject<'_>,
    shape: &Shape,
    purpose: Purpose,
) {
    w.start(T, subject.kind.element());
    for field in ITEM_HEAD {
        if wanted(field, shape, purpose, request.version) {
            write_field(w, request, subject, field, shape);
        }
    }
    let extended: Vec<&ExtendedField> = shape.extended().collect();
    extended_properties(w, request, subject.props.bag, &extended);
    for field in ITEM_TAIL.iter().chain(subject.kind.own_fields()) {
        if wanted(field, shape, purpose, request.version) {
            write_field(w, request, subject, field, shape);
        }
    }
    w.end();
}

fn write_field(
    w: &mut Writer<'_>,
    request: &Request<'_>,
    subject: &Subject<'_>,
    field: &Field,
    shape: &Shape,
) {
    let props: &dyn Props = &subject.props;
    let element = field.element;
    match field.value {
        Value::Text(p) => {
            if let Some(value) = text(props, p) {
                w.leaf(T, element, value);
            }
        }
        Value::Bool(p) => {
            if let Some(value) = boolean(props, p) {
                w.leaf(T, element, bool_text(value));
            }
        }
        // A stored value its schema type does not allow (one set through an extended property)
        // is left out rather than answered invalid.
        Value::Language(p) => {
            if let Some(value) = text(props, p).filter(|v| is_language(v)) {
                w.leaf(T, element, value);
            }
        }
        Value::Int(p, bounds) => {
            if let Some(value) = int(props, p).filter(|v| bounds.contains(*v)) {
                w.leaf(T, element, &value.to_string());
            }
        }
        Value::Time(p) => {
            if let Some(value) = system_time(props, p) {
                w.leaf(T, element, &time::format(value));
            }
        }
        Value::Base64(p) => {
            if let Some(PropValue::Binary(bytes)) = props.value(p) {
                w.leaf(
                    T,
                    element,
                    &base64::engine::general_purpose::STANDARD.encode(bytes),
                );
            }
        }
        Value::Choice(p, choices) => {
            if let Some(name) = int(props, p)
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| choices.get(i))
            {
                w.leaf(T, element, name);
            }
        }
        Value::Strings(p) => {
            let values = strings(props, p);
            if !values.is_empty() {
                w.start(T, element);
                for value in values {
                    w.leaf(T, "String", value);
                }
                w.end();
            }
        }
        Value::Flag(bit) => {
            w.leaf(T, element, bool_text(message_flags(props) & bit != 0));
        }
        Value::Mailbox(name, address) => {
            if let Some(recipient) = single(props, name, address) {
                w.start(T, element);
                write_mailbox(w, request, &recipient);
                w.end();
            }
        }
        Value::Mailboxes(p) => {
            let list = recipients(props, p);
            if !list.is_empty() {
                w.start(T, element);
                for recipient in &list {
                    write_mailbox(w, request, recipient);
                }
                w.end();
            }
        }
        Value::Attendees(p) => {
            let list = recipients(props, p);
            if !list.is_empty() {
                w.start(T, element);
                for recipient in &list {
                    w.start(T, "Attendee");
                    write_mailbox(w, request, recipient);
                    w.end();
                }
                w.end();
            }
        }
        Value::Display(p) => {
            let list = recipients(props, p);
            if !list.is_empty() || subject.kind == Kind::Message {
                w.leaf(T, element, &display(&list));
            }
        }
        Value::Emails => write_emails(w, props, shape, field),
        Value::Phones => write_phones(w, props, shape, field),
        Value::TimeZone(p) => {
            if let Some(id) = text(props, p) {
                w.start(T, element).attribute("Id", id).end();
            }
        }
        Value::Computed(computed) => write_computed(w, request, subject, computed, element, shape),
    }
}

fn bool_text(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}

/// `t:Mailbox` (EmailAddressType).
fn write_mailbox(w: &mut Writer<'_>, request: &Request<'_>, recipient: &Recipient) {
    let known = request
        .ctx
        .directory
        .user_by_address(&recipient.address)
        .is_some();
    w.start(T, "Mailbox");
    if !recipient.name.is_empty() {
        w.leaf(T, "Name", &recipient.name);
    }
    w.leaf(T, "EmailAddress", &recipient.address);
    w.leaf(T, "RoutingType", "SMTP");
    w.leaf(T, "MailboxType", if known { "Mailbox" } else { "OneOff" });
    w.end();
}

/// Whether the whole dictionary was asked for, or which of its keys.
fn dictionary_keys<'s>(shape: &'s Shape, field: &Field, uri: &str) -> Option<Vec<&'s str>> {
    let whole = shape.wants(field.uri) || shape.base != BaseShape::IdOnly;
    if whole {
        return None;
    }
    Some(
        shape
            .additional
            .iter()
            .filter_map(|p| match p {
                PropertyPath::Indexed(i) if i.uri == uri => Some(i.index.as_str()),
                _ => None,
            })
            .collect(),
    )
}

fn write_emails(w: &mut Writer<'_>, props: &dyn Props, shape: &Shape, field: &Field) {
    let keys = dictionary_keys(shape, field, "contacts:EmailAddress");
    let entries: Vec<_> = named::EMAILS
        .iter()
        .filter(|(key, _, _)| keys.as_ref().is_none_or(|k| k.contains(key)))
        .filter_map(|(key, address, name)| {
            Some((*key, text(props, n(*address))?, text(props, n(*name))))
        })
        .collect();
    if entries.is_empty() {
        return;
    }
    w.start(T, field.element);
    for (key, address, name) in entries {
        w.start(T, "Entry").attribute("Key", key);
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            w.attribute("Name", name);
        }
        w.text(address).end();
    }
    w.end();
}

fn write_phones(w: &mut Writer<'_>, props: &dyn Props, shape: &Shape, field: &Field) {
    let keys = dictionary_keys(shape, field, "contacts:PhoneNumber");
    let entries: Vec<_> = PHONES
        .iter()
        .filter(|(key, _)| keys.as_ref().is_none_or(|k| k.contains(key)))
        .filter_map(|(key, tag)| Some((*key, text(props, t(*tag))?)))
        .collect();
    if entries.is_empty() {
        return;
    }
    w.start(T, field.element);
    for (key, number) in entries {
        w.start(T, "Entry").attribute("Key", key).text(number).end();
    }
    w.end();
}

fn write_computed(
    w: &mut Writer<'_>,
    request: &Request<'_>,
    subject: &Subject<'_>,
    computed: Computed,
    element: &'static str,
    shape: &Shape,
) {
    let props: &dyn Props = &subject.props;
    let ids = request.ctx.ids;
    match computed {
        Computed::MimeContent => {
            let built;
            let bytes = match subject.stored_mime {
                Some(bytes) => bytes,
                None => match stored_mime(request, subject) {
                    Ok(bytes) => {
                        built = bytes;
                        &built
                    }
                    Err(error) => {
                        tracing::error!(%error, "attachment content unreadable; MimeContent left out");
                        return;
                    }
                },
            };
            w.start(T, element)
                .attribute("CharacterSet", "UTF-8")
                .text(&base64::engine::general_purpose::STANDARD.encode(bytes))
                .end();
        }
        Computed::ItemId => {
            if let Some((item, change_key, _)) = subject.ids {
                w.start(T, element)
                    .attribute("Id", &ids.item(&request.mailbox, item))
                    .attribute(
                        "ChangeKey",
                        &ids.item_change_key(&request.mailbox, item, change_key),
                    )
                    .end();
            }
        }
        Computed::ParentFolderId => {
            if let Some((_, _, parent)) = subject.ids {
                // The folder's change key is optional in FolderIdType and not worth a second read.
                w.start(T, element)
                    .attribute("Id", &ids.folder(&request.mailbox, parent))
                    .end();
            }
        }
        Computed::Body => {
            let (text, html) = bodies(props);
            let (kind, value) = match (shape.body_type, text, html) {
                (BodyType::Best | BodyType::Html, _, Some(html)) => ("HTML", html.to_owned()),
                (BodyType::Html, Some(text), None) => ("HTML", mime::text_to_html(text)),
                (BodyType::Text, None, Some(html)) => ("Text", mime::html_to_text(html)),
                (_, text, _) => ("Text", text.unwrap_or_default().to_owned()),
            };
            w.start(T, element)
                .attribute("BodyType", kind)
                .text(&value)
                .end();
        }
        Computed::TextBody => {
            w.start(T, element)
                .attribute("BodyType", "Text")
                .text(&text_body(props))
                .end();
        }
        Computed::Attachments => {
            if !subject.attachments.is_empty() {
                w.start(T, element);
                for attachment in subject.attachments {
                    write_attachment(w, request, &attachment.props, attachment.id, None, None);
                }
                w.end();
            }
        }
        Computed::Headers => {
            let Some(block) = text(props, t(tag::TRANSPORT_MESSAGE_HEADERS)) else {
                return;
            };
            let headers = mime::parse_headers(block);
            if headers.is_empty() {
                return;
            }
            w.start(T, element);
            for (name, value) in &headers {
                w.start(T, "InternetMessageHeader")
                    .attribute("HeaderName", name)
                    .text(value)
                    .end();
            }
            w.end();
        }
        Computed::EffectiveRights => owner_rights(w, request),
        Computed::IsAssociated | Computed::IsCancelled | Computed::IsRecurring => {
            w.leaf(T, element, "false");
        }
        Computed::IsMeeting => {
            w.leaf(T, element, bool_text(is_meeting(props)));
        }
        Computed::CalendarItemType => {
            w.leaf(T, element, "Single");
        }
        Computed::MyResponseType => {
            w.leaf(T, element, "Organizer");
        }
        Computed::Duration => {
            let start = system_time(props, n(named::START));
            let end = system_time(props, n(named::END));
            if let Some(span) = start.zip(end).and_then(|(s, e)| e.duration_since(s).ok()) {
                w.leaf(T, element, &xs_duration(span));
            }
        }
    }
}

/// xs:duration of a span: `PT1H30M`, `P1DT2H`, `PT0S`.
fn xs_duration(span: Duration) -> String {
    let seconds = span.as_secs();
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
        seconds % 60,
    );
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if hours > 0 || minutes > 0 || secs > 0 || days == 0 {
        out.push('T');
        if hours > 0 {
            out.push_str(&format!("{hours}H"));
        }
        if minutes > 0 {
            out.push_str(&format!("{minutes}M"));
        }
        if secs > 0 || (hours == 0 && minutes == 0) {
            out.push_str(&format!("{secs}S"));
        }
    }
    out
}

/// Writes one attachment (`t:FileAttachment` or `t:ItemAttachment`). `root` adds RootItemId and
/// RootItemChangeKey to the id (GetAttachment, CreateAttachment); `content` adds the file's bytes
/// or, for an item attachment, the embedded item written with that shape.
pub(crate) fn write_attachment(
    w: &mut Writer<'_>,
    request: &Request<'_>,
    props: &PropertyBag,
    id: AttachmentId,
    root: Option<(ItemId, ChangeKey)>,
    content: Option<(&[u8], &Shape)>,
) {
    let embedded = props.int32(tag::ATTACH_METHOD) == Some(ATTACH_EMBEDDED_MESSAGE);
    let since_2010 = request.version >= ExchangeVersion::Exchange2010;
    let ids = request.ctx.ids;
    w.start(
        T,
        if embedded {
            "ItemAttachment"
        } else {
            "FileAttachment"
        },
    );
    w.start(T, "AttachmentId")
        .attribute("Id", &ids.attachment(&request.mailbox, id));
    if let Some((item, change_key)) = root {
        w.attribute("RootItemId", &ids.item(&request.mailbox, item))
            .attribute(
                "RootItemChangeKey",
                &ids.item_change_key(&request.mailbox, item, change_key),
            );
    }
    w.end();
    w.leaf(
        T,
        "Name",
        props
            .unicode(tags::ATTACH_LONG_FILENAME)
            .unwrap_or_default(),
    );
    if let Some(content_type) = props.unicode(tags::ATTACH_MIME_TAG) {
        w.leaf(T, "ContentType", content_type);
    }
    if let Some(content_id) = props.unicode(tag::ATTACH_CONTENT_ID) {
        w.leaf(T, "ContentId", content_id);
    }
    if let Some(location) = props.unicode(tag::ATTACH_CONTENT_LOCATION) {
        w.leaf(T, "ContentLocation", location);
    }
    if since_2010 {
        if let Some(size) = props.int32(tags::ATTACH_SIZE) {
            w.leaf(T, "Size", &size.to_string());
        }
        if let Some(PropValue::SystemTime(modified)) = props.get(tags::LAST_MODIFICATION_TIME) {
            if let Some(modified) = modified.to_system_time() {
                w.leaf(T, "LastModifiedTime", &time::format(modified));
            }
        }
        let flags = props.int32(tag::ATTACH_FLAGS).unwrap_or(0);
        w.leaf(
            T,
            "IsInline",
            bool_text(flags & ATTACH_RENDERED_IN_BODY != 0),
        );
    }
    match (embedded, content) {
        (false, content) => {
            if since_2010 {
                w.leaf(
                    T,
                    "IsContactPhoto",
                    bool_text(
                        props
                            .boolean(tag::ATTACHMENT_CONTACT_PHOTO)
                            .unwrap_or(false),
                    ),
                );
            }
            if let Some((bytes, _)) = content {
                w.leaf(
                    T,
                    "Content",
                    &base64::engine::general_purpose::STANDARD.encode(bytes),
                );
            }
        }
        (true, Some((bytes, shape))) => match NamedTags::load(request) {
            Ok(names) => {
                let subject = Subject {
                    kind: Kind::of(props),
                    ids: None,
                    props: Stored {
                        bag: props,
                        names: &names,
                    },
                    attachments: &[],
                    stored_mime: Some(bytes),
                    seed: id.0,
                };
                write(w, request, &subject, shape, Purpose::Embedded);
            }
            Err(error) => {
                tracing::error!(%error, "named property ids unreadable; embedded item left out")
            }
        },
        (true, None) => {}
    }
    w.end();
}

/// PidTagAttachMethod of an embedded message (afEmbeddedMessage).
const ATTACH_EMBEDDED_MESSAGE: i32 = 5;
/// PidTagAttachMethod of a file (afByValue).
const ATTACH_BY_VALUE: i32 = 1;
/// attRenderedInBody in PidTagAttachFlags.
const ATTACH_RENDERED_IN_BODY: i32 = 0x4;

/// The MIME form of a stored item, reading its attachments' content.
fn stored_mime(request: &Request<'_>, subject: &Subject<'_>) -> Result<Vec<u8>, Error> {
    let mut files = Vec::with_capacity(subject.attachments.len());
    for attachment in subject.attachments {
        let stored = request
            .ctx
            .store
            .attachment(&request.mailbox, attachment.id)?;
        files.push((attachment.props.clone(), stored.content));
    }
    Ok(mime(request, &subject.props, &files, subject.seed))
}

/// The MIME form of an item: headers from its properties (with the voice-mail headers of
/// MS-OXOUM §2.1.3 for voice items), its bodies and its attachments.
pub(crate) fn mime(
    request: &Request<'_>,
    props: &dyn Props,
    attachments: &[(PropertyBag, Vec<u8>)],
    seed: u64,
) -> Vec<u8> {
    let mut headers: Vec<(&'static str, String)> = Vec::new();
    let from = author(props);
    let sender = single(props, tags::SENDER_NAME, tags::SENDER_EMAIL_ADDRESS);
    if let Some(from) = &from {
        headers.push(("From", mime::address_list(&[from.as_mime()])));
    }
    if let Some(sender) = sender.filter(|s| {
        from.as_ref()
            .is_some_and(|f| !f.address.eq_ignore_ascii_case(&s.address))
    }) {
        headers.push(("Sender", mime::address_list(&[sender.as_mime()])));
    }
    let flags = message_flags(props);
    let mut lists = vec![("To", named::TO), ("Cc", named::CC)];
    // Bcc stays on the sender's side: drafts and sent copies.
    if flags & (tags::MSGFLAG_UNSENT | flag::FROM_ME) != 0 {
        lists.push(("Bcc", named::BCC));
    }
    lists.push(("Reply-To", named::REPLY_TO));
    for (name, list) in lists {
        let list = recipients(props, n(list));
        if !list.is_empty() {
            let mailboxes: Vec<_> = list.iter().map(Recipient::as_mime).collect();
            headers.push((name, mime::address_list(&mailboxes)));
        }
    }
    headers.push((
        "Subject",
        mime::unstructured(text(props, t(tags::SUBJECT)).unwrap_or_default()),
    ));
    let date = [
        tags::CLIENT_SUBMIT_TIME,
        tags::MESSAGE_DELIVERY_TIME,
        tags::CREATION_TIME,
    ]
    .into_iter()
    .find_map(|tag| system_time(props, t(tag)))
    .unwrap_or(request.ctx.now);
    headers.push(("Date", mime::date(date)));
    for (name, tag) in [
        ("Message-ID", tags::INTERNET_MESSAGE_ID),
        ("In-Reply-To", tag::IN_REPLY_TO_ID),
        ("References", tag::INTERNET_REFERENCES),
    ] {
        if let Some(value) = text(props, t(tag)).filter(|v| !v.is_empty()) {
            headers.push((name, mime::unstructured(value)));
        }
    }
    match int(props, t(tags::IMPORTANCE)) {
        Some(0) => headers.push(("Importance", "low".to_owned())),
        Some(2) => headers.push(("Importance", "high".to_owned())),
        _ => {}
    }
    let keywords = strings(props, n(named::KEYWORDS));
    if !keywords.is_empty() {
        headers.push(("Keywords", mime::unstructured(&keywords.join(", "))));
    }
    voice_headers(props, &mut headers);
    let (text, html) = bodies(props);
    let parts = attachments
        .iter()
        .map(|(meta, content)| mime::Part {
            name: meta.unicode(tags::ATTACH_LONG_FILENAME).unwrap_or_default(),
            content_type: meta
                .unicode(tags::ATTACH_MIME_TAG)
                .unwrap_or("application/octet-stream"),
            content_id: meta.unicode(tag::ATTACH_CONTENT_ID),
            inline: meta.int32(tag::ATTACH_FLAGS).unwrap_or(0) & ATTACH_RENDERED_IN_BODY != 0,
            content,
            embedded: meta.int32(tag::ATTACH_METHOD) == Some(ATTACH_EMBEDDED_MESSAGE),
        })
        .collect();
    mime::render(&mime::Message {
        headers,
        text,
        html,
        parts,
        boundary_seed: seed,
    })
}

/// `Content-Class` and the X- headers of a voice, missed-call or fax item (MS-OXOUM §2.1.3).
fn voice_headers(props: &dyn Props, headers: &mut Vec<(&'static str, String)>) {
    let class = text(props, t(tags::MESSAGE_CLASS)).unwrap_or_default();
    let Some(class) = oxum::UmClass::of_message_class(class) else {
        return;
    };
    headers.push(("Content-Class", class.content_class.to_owned()));
    for header in oxum::HEADERS {
        let value = match header.tag.prop_type() {
            PropType::Int32 => int(props, t(header.tag)).map(|n| n.to_string()),
            _ => text(props, t(header.tag)).map(mime::unstructured),
        };
        if let Some(value) = value {
            headers.push((header.name, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_class() {
        for (class, kind) in [
            ("IPM.Note", Kind::Message),
            ("IPM.Note.Microsoft.Voicemail.UM.CA", Kind::Message),
            ("ipm.note.microsoft.missed.voice", Kind::Message),
            ("IPM.Note.Microsoft.Conversation.Voice", Kind::Message),
            ("IPM.Notebook", Kind::Item),
            ("IPM.Contact", Kind::Contact),
            ("IPM.Appointment", Kind::CalendarItem),
            ("IPM.StickyNote", Kind::Item),
            ("", Kind::Item),
        ] {
            assert_eq!(Kind::of_class(class), kind, "{class}");
        }
    }

    #[test]
    fn recipients_round_trip() {
        for r in [
            Recipient {
                name: "Bob <B>".into(),
                address: "bob@example.test".into(),
            },
            Recipient {
                name: String::new(),
                address: "x@y".into(),
            },
        ] {
            assert_eq!(Recipient::decode(&r.encode()), r);
        }
    }

    #[test]
    fn durations() {
        assert_eq!(xs_duration(Duration::from_secs(5400)), "PT1H30M");
        assert_eq!(xs_duration(Duration::from_secs(90_000)), "P1DT1H");
        assert_eq!(xs_duration(Duration::from_secs(86_400)), "P1D");
        assert_eq!(xs_duration(Duration::ZERO), "PT0S");
    }

    #[test]
    fn language_tags_and_bounds_follow_the_schema_types() {
        for tag in ["en", "en-US", "zh-Hant-TW", "x-klingon", "de-CH-1996"] {
            assert!(is_language(tag), "{tag}");
        }
        for tag in ["", "en_US", "en-", "-US", "1en", "toolonglang", "en US"] {
            assert!(!is_language(tag), "{tag}");
        }
        assert!(REMINDER_MINUTES.contains(0) && REMINDER_MINUTES.contains(2_629_800));
        assert!(!REMINDER_MINUTES.contains(-1));
        assert!(INT.contains(i64::from(i32::MIN)) && !INT.contains(i64::from(i32::MAX) + 1));
    }

    #[test]
    fn element_names_are_unique_per_kind_and_in_field_uri_order() {
        for kind in [Kind::Item, Kind::Message, Kind::Contact, Kind::CalendarItem] {
            let elements: Vec<_> = fields_of(kind).map(|f| f.element).collect();
            let mut unique = elements.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), elements.len(), "{kind:?}");
        }
        assert!(all_named().len() > 20);
    }
}
