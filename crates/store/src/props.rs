//! The MAPI property model items, folders and attachments are stored in (MS-OXCDATA §2.9, MS-OXPROPS).
//!
//! A [`PropTag`] is `id << 16 | type`; ids below 0x8000 are fixed tags, ids from 0x8000 up are a
//! mailbox's mapping of [`NamedProperty`] names (property set GUID plus a string or number), exactly as
//! Exchange's name-to-id map works. The well-known tags the server reads or writes live in [`tags`].
//! This module only describes values; it never touches storage or encodes bytes (`store::encode` does).

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Error;

/// The type half of a property tag (MS-OXCDATA §2.11.1). Only the types umbox stores are listed; a
/// property of any other type is refused when it arrives, so there is no catch-all arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PropType {
    /// PtypInteger32, 0x0003.
    Int32,
    /// PtypFloating64, 0x0005.
    Double,
    /// PtypBoolean, 0x000B.
    Boolean,
    /// PtypInteger64, 0x0014.
    Int64,
    /// PtypString (UTF-16 on the wire, UTF-8 here), 0x001F.
    Unicode,
    /// PtypTime (FILETIME), 0x0040.
    SystemTime,
    /// PtypGuid, 0x0048.
    Guid,
    /// PtypBinary, 0x0102.
    Binary,
    /// PtypMultipleInteger32, 0x1003.
    MultiInt32,
    /// PtypMultipleInteger64, 0x1014.
    MultiInt64,
    /// PtypMultipleString, 0x101F.
    MultiUnicode,
    /// PtypMultipleBinary, 0x1102.
    MultiBinary,
}

impl PropType {
    /// The 16-bit type code.
    pub const fn code(self) -> u16 {
        match self {
            PropType::Int32 => 0x0003,
            PropType::Double => 0x0005,
            PropType::Boolean => 0x000B,
            PropType::Int64 => 0x0014,
            PropType::Unicode => 0x001F,
            PropType::SystemTime => 0x0040,
            PropType::Guid => 0x0048,
            PropType::Binary => 0x0102,
            PropType::MultiInt32 => 0x1003,
            PropType::MultiInt64 => 0x1014,
            PropType::MultiUnicode => 0x101F,
            PropType::MultiBinary => 0x1102,
        }
    }

    /// Whether values of this type are lists (MS-OXCDATA 2.11.1: the 0x1000 flag).
    pub const fn is_multi(self) -> bool {
        self.code() & 0x1000 != 0
    }

    /// The type with this code, if umbox stores it.
    pub const fn from_code(code: u16) -> Option<PropType> {
        Some(match code {
            0x0003 => PropType::Int32,
            0x0005 => PropType::Double,
            0x000B => PropType::Boolean,
            0x0014 => PropType::Int64,
            0x001F => PropType::Unicode,
            0x0040 => PropType::SystemTime,
            0x0048 => PropType::Guid,
            0x0102 => PropType::Binary,
            0x1003 => PropType::MultiInt32,
            0x1014 => PropType::MultiInt64,
            0x101F => PropType::MultiUnicode,
            0x1102 => PropType::MultiBinary,
            _ => return None,
        })
    }
}

/// A property tag: the property id in the high 16 bits, its [`PropType`] code in the low 16.
/// Ordered as its 32-bit value (by id, then type code: `PropType` is declared in code order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PropTag {
    id: u16,
    prop_type: PropType,
}

impl PropTag {
    /// The first id of the named-property range (MS-OXPROPS §1.3.2); fixed tags lie below it.
    pub const FIRST_NAMED_ID: u16 = 0x8000;

    /// The tag for property `id` of type `prop_type`.
    pub const fn new(id: u16, prop_type: PropType) -> PropTag {
        PropTag { id, prop_type }
    }

    /// A tag from its 32-bit value, if its type is one umbox stores (e.g. from an EWS `PropertyTag`).
    pub const fn from_raw(raw: u32) -> Option<PropTag> {
        match PropType::from_code((raw & 0xFFFF) as u16) {
            Some(prop_type) => Some(PropTag {
                id: (raw >> 16) as u16,
                prop_type,
            }),
            None => None,
        }
    }

    /// The 32-bit value.
    pub const fn raw(self) -> u32 {
        ((self.id as u32) << 16) | self.prop_type.code() as u32
    }

    /// The property id.
    pub const fn id(self) -> u16 {
        self.id
    }

    /// The property type.
    pub const fn prop_type(self) -> PropType {
        self.prop_type
    }

    /// Whether the id lies in the named-property range of a mailbox.
    pub const fn is_named(self) -> bool {
        self.id >= Self::FIRST_NAMED_ID
    }
}

impl fmt::Display for PropTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08X}", self.raw())
    }
}

/// Well-known property tags, in one place (MS-OXPROPS names in each doc line).
pub mod tags {
    use super::{PropTag, PropType};

    /// PidTagMessageClass: the item class, e.g. `IPM.Note.Microsoft.Voicemail.UM.CA`.
    pub const MESSAGE_CLASS: PropTag = PropTag::new(0x001A, PropType::Unicode);
    /// PidTagSubject.
    pub const SUBJECT: PropTag = PropTag::new(0x0037, PropType::Unicode);
    /// PidTagDisplayName: a folder's name.
    pub const DISPLAY_NAME: PropTag = PropTag::new(0x3001, PropType::Unicode);
    /// PidTagContainerClass: a folder's class (EWS FolderClass), e.g. `IPF.Note`.
    pub const CONTAINER_CLASS: PropTag = PropTag::new(0x3613, PropType::Unicode);
    /// PidTagMessageFlags; see [`MSGFLAG_READ`] and [`MSGFLAG_UNSENT`].
    pub const MESSAGE_FLAGS: PropTag = PropTag::new(0x0E07, PropType::Int32);
    /// PidTagClientSubmitTime: when the sender submitted the message.
    pub const CLIENT_SUBMIT_TIME: PropTag = PropTag::new(0x0039, PropType::SystemTime);
    /// PidTagMessageDeliveryTime: when the message reached this mailbox.
    pub const MESSAGE_DELIVERY_TIME: PropTag = PropTag::new(0x0E06, PropType::SystemTime);
    /// PidTagCreationTime; set by the store.
    pub const CREATION_TIME: PropTag = PropTag::new(0x3007, PropType::SystemTime);
    /// PidTagLastModificationTime; set by the store.
    pub const LAST_MODIFICATION_TIME: PropTag = PropTag::new(0x3008, PropType::SystemTime);
    /// PidTagBody: the plain-text body.
    pub const BODY: PropTag = PropTag::new(0x1000, PropType::Unicode);
    /// PidTagHtml: the HTML body.
    pub const HTML: PropTag = PropTag::new(0x1013, PropType::Binary);
    /// PidTagSenderName.
    pub const SENDER_NAME: PropTag = PropTag::new(0x0C1A, PropType::Unicode);
    /// PidTagSenderEmailAddress.
    pub const SENDER_EMAIL_ADDRESS: PropTag = PropTag::new(0x0C1F, PropType::Unicode);
    /// PidTagSentRepresentingName.
    pub const SENT_REPRESENTING_NAME: PropTag = PropTag::new(0x0042, PropType::Unicode);
    /// PidTagSentRepresentingEmailAddress.
    pub const SENT_REPRESENTING_EMAIL_ADDRESS: PropTag = PropTag::new(0x0065, PropType::Unicode);
    /// PidTagImportance: 0 low, 1 normal, 2 high.
    pub const IMPORTANCE: PropTag = PropTag::new(0x0017, PropType::Int32);
    /// PidTagMessageSize; set by the store.
    pub const MESSAGE_SIZE: PropTag = PropTag::new(0x0E08, PropType::Int32);
    /// PidTagHasAttachments; set by the store.
    pub const HAS_ATTACHMENTS: PropTag = PropTag::new(0x0E1B, PropType::Boolean);
    /// PidTagInternetMessageId.
    pub const INTERNET_MESSAGE_ID: PropTag = PropTag::new(0x1035, PropType::Unicode);
    /// PidTagVoiceMessageDuration: seconds of audio (MS-OXOUM §2.2.5.10).
    pub const VOICE_MESSAGE_DURATION: PropTag = PropTag::new(0x6801, PropType::Int32);
    /// PidTagSenderTelephoneNumber: the caller's number (MS-OXOUM §2.2.5.8).
    pub const SENDER_TELEPHONE_NUMBER: PropTag = PropTag::new(0x6802, PropType::Unicode);
    /// PidTagVoiceMessageSenderName: the caller's resolved name (MS-OXOUM §2.2.5.12).
    pub const VOICE_MESSAGE_SENDER_NAME: PropTag = PropTag::new(0x6803, PropType::Unicode);
    /// PidTagFaxNumberOfPages (MS-OXOUM §2.2.5.4).
    pub const FAX_NUMBER_OF_PAGES: PropTag = PropTag::new(0x6804, PropType::Int32);
    /// PidTagVoiceMessageAttachmentOrder: audio file names, newest first, `;`-separated (MS-OXOUM §2.2.5.11).
    pub const VOICE_MESSAGE_ATTACHMENT_ORDER: PropTag = PropTag::new(0x6805, PropType::Unicode);
    /// PidTagCallId: the call's identifier (MS-OXOUM §2.2.5.1).
    pub const CALL_ID: PropTag = PropTag::new(0x6806, PropType::Unicode);
    /// PidTagAttachLongFilename.
    pub const ATTACH_LONG_FILENAME: PropTag = PropTag::new(0x3707, PropType::Unicode);
    /// PidTagAttachMimeTag, e.g. `audio/wav`.
    pub const ATTACH_MIME_TAG: PropTag = PropTag::new(0x370E, PropType::Unicode);
    /// PidTagAttachSize; set by the store.
    pub const ATTACH_SIZE: PropTag = PropTag::new(0x0E20, PropType::Int32);

    /// PidTagAssociated (MS-OXPROPS): the item is a folder associated information (FAI) item,
    /// hidden from the folder's contents and counts. Fixed when the item is created; items without
    /// it (all those stored before it existed) are ordinary contents.
    pub const ASSOCIATED: PropTag = PropTag::new(0x67AA, PropType::Boolean);

    /// PidTagRoamingDictionary (MS-OXOCFG): a user configuration object's dictionary.
    pub const ROAMING_DICTIONARY: PropTag = PropTag::new(0x7C07, PropType::Binary);
    /// PidTagRoamingXmlStream (MS-OXOCFG): a user configuration object's XML data.
    pub const ROAMING_XML_STREAM: PropTag = PropTag::new(0x7C08, PropType::Binary);
    /// PidTagRoamingBinaryStream (MS-OXOCFG): a user configuration object's binary data.
    pub const ROAMING_BINARY_STREAM: PropTag = PropTag::new(0x7C09, PropType::Binary);

    /// MSGFLAG_READ in PidTagMessageFlags: the item has been read.
    pub const MSGFLAG_READ: i32 = 0x0001;
    /// MSGFLAG_UNSENT in PidTagMessageFlags: a draft, never new mail.
    pub const MSGFLAG_UNSENT: i32 = 0x0008;

    /// Tags the store computes itself; a change that sets or deletes one is refused.
    pub const COMPUTED: [PropTag; 5] = [
        CREATION_TIME,
        LAST_MODIFICATION_TIME,
        MESSAGE_SIZE,
        HAS_ATTACHMENTS,
        ATTACH_SIZE,
    ];
}

/// A GUID, held as the 128-bit number its text form spells (`{4442858E-A9E3-…}` is 0x4442858E_A9E3…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(pub u128);

impl Guid {
    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, with or without braces, any case.
    pub fn parse(text: &str) -> Option<Guid> {
        let inner = text
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(text);
        let groups: Vec<&str> = inner.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        if lengths != [8, 4, 4, 4, 12] {
            return None;
        }
        let mut value: u128 = 0;
        for digit in groups.concat().chars() {
            value = (value << 4) | u128::from(digit.to_digit(16)?);
        }
        Some(Guid(value))
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        write!(
            f,
            "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
            v >> 96,
            (v >> 80) & 0xFFFF,
            (v >> 64) & 0xFFFF,
            (v >> 48) & 0xFFFF,
            v & 0xFFFF_FFFF_FFFF
        )
    }
}

/// Property sets of named properties EWS and the voicemail pipeline use (MS-OXPROPS §1.3.2).
pub mod property_sets {
    use super::Guid;

    /// PSETID_Common (EWS DistinguishedPropertySetId `Common`).
    pub const COMMON: Guid = Guid(0x00062008_0000_0000_C000_000000000046);
    /// PS_PUBLIC_STRINGS (EWS `PublicStrings`).
    pub const PUBLIC_STRINGS: Guid = Guid(0x00020329_0000_0000_C000_000000000046);
    /// PS_INTERNET_HEADERS (EWS `InternetHeaders`); names are case-insensitive header names.
    pub const INTERNET_HEADERS: Guid = Guid(0x00020386_0000_0000_C000_000000000046);
    /// PSETID_UnifiedMessaging (EWS `UnifiedMessaging`): AsrData, UMAudioNotes (MS-OXOUM §2.2.5).
    pub const UNIFIED_MESSAGING: Guid = Guid(0x4442858E_A9E3_4E80_B900_317A210CC15B);
    /// PSETID_Address (EWS `Address`): contact properties such as PidLidEmail1EmailAddress.
    pub const ADDRESS: Guid = Guid(0x00062004_0000_0000_C000_000000000046);
}

/// Contact properties (MS-OXOCNTC) that say how to reach the person, read by EWS and by
/// caller-ID resolution.
pub mod contact {
    use super::{property_sets, NamedProperty, PropName};

    /// PidLidEmail1EmailAddress, PidLidEmail2EmailAddress and PidLidEmail3EmailAddress: ids in
    /// PSETID_Address (MS-OXOCNTC §2.2.1.2).
    pub const EMAIL_ADDRESS_IDS: [u32; 3] = [0x8083, 0x8093, 0x80A3];

    /// The three e-mail address properties as named properties.
    pub fn email_addresses() -> [NamedProperty; 3] {
        EMAIL_ADDRESS_IDS.map(|id| NamedProperty::new(property_sets::ADDRESS, PropName::Id(id)))
    }
}

/// How a named property is named inside its set: MNID_ID or MNID_STRING (MS-OXCDATA §2.6.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PropName {
    /// A numeric id (EWS `PropertyId`).
    Id(u32),
    /// A string name (EWS `PropertyName`).
    Name(String),
}

/// A named property: a property set and a name in it. A mailbox maps each to an id ≥ 0x8000.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamedProperty {
    set: Guid,
    name: PropName,
}

impl NamedProperty {
    /// The property `name` in `set`. Internet header names are lower-cased, because headers are
    /// case-insensitive and `X-CallID` and `x-callid` must map to one property.
    pub fn new(set: Guid, name: PropName) -> NamedProperty {
        let name = match name {
            PropName::Name(text) if set == property_sets::INTERNET_HEADERS => {
                PropName::Name(text.to_ascii_lowercase())
            }
            other => other,
        };
        NamedProperty { set, name }
    }

    /// The property set.
    pub fn set(&self) -> Guid {
        self.set
    }

    /// The name inside the set.
    pub fn name(&self) -> &PropName {
        &self.name
    }
}

/// How a change names a property: a fixed tag, or a named property with its type (mapped to a tag
/// inside the write transaction, creating the mapping on first use).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PropKey {
    /// A fixed tag; its id must lie below 0x8000.
    Tag(PropTag),
    /// A named property and the type of its value.
    Named(NamedProperty, PropType),
}

impl From<PropTag> for PropKey {
    fn from(tag: PropTag) -> PropKey {
        PropKey::Tag(tag)
    }
}

/// A point in time as MAPI stores it: 100-nanosecond intervals since 1601-01-01 UTC (FILETIME).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileTime(pub i64);

/// FILETIME ticks between 1601-01-01 and 1970-01-01.
const UNIX_EPOCH_TICKS: i128 = 116_444_736_000_000_000;

impl FileTime {
    /// The FILETIME of `time`, saturating outside the years 1601 ± 29,000 that FILETIME can hold.
    pub fn from_system_time(time: SystemTime) -> FileTime {
        let nanos_since_unix: i128 = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i128::try_from(after.as_nanos()).unwrap_or(i128::MAX),
            Err(before) => i128::try_from(before.duration().as_nanos()).map_or(i128::MIN, |n| -n),
        };
        let ticks = (nanos_since_unix / 100).saturating_add(UNIX_EPOCH_TICKS);
        FileTime(i64::try_from(ticks).unwrap_or(if ticks < 0 { i64::MIN } else { i64::MAX }))
    }

    /// The same instant as a `SystemTime`, if the platform can represent it.
    pub fn to_system_time(self) -> Option<SystemTime> {
        let ticks_since_unix = i128::from(self.0) - UNIX_EPOCH_TICKS;
        let magnitude = u64::try_from(ticks_since_unix.unsigned_abs()).ok()?;
        let span = Duration::from_secs(magnitude / 10_000_000)
            + Duration::from_nanos((magnitude % 10_000_000) * 100);
        if ticks_since_unix >= 0 {
            UNIX_EPOCH.checked_add(span)
        } else {
            UNIX_EPOCH.checked_sub(span)
        }
    }
}

/// A property value; its variant is its [`PropType`].
#[derive(Debug, Clone, PartialEq)]
pub enum PropValue {
    /// PtypInteger32.
    Int32(i32),
    /// PtypFloating64.
    Double(f64),
    /// PtypBoolean.
    Boolean(bool),
    /// PtypInteger64.
    Int64(i64),
    /// PtypString.
    Unicode(String),
    /// PtypTime.
    SystemTime(FileTime),
    /// PtypGuid.
    Guid(Guid),
    /// PtypBinary.
    Binary(Vec<u8>),
    /// PtypMultipleInteger32.
    MultiInt32(Vec<i32>),
    /// PtypMultipleInteger64.
    MultiInt64(Vec<i64>),
    /// PtypMultipleString.
    MultiUnicode(Vec<String>),
    /// PtypMultipleBinary.
    MultiBinary(Vec<Vec<u8>>),
}

impl PropValue {
    /// The type of this value.
    pub fn prop_type(&self) -> PropType {
        match self {
            PropValue::Int32(_) => PropType::Int32,
            PropValue::Double(_) => PropType::Double,
            PropValue::Boolean(_) => PropType::Boolean,
            PropValue::Int64(_) => PropType::Int64,
            PropValue::Unicode(_) => PropType::Unicode,
            PropValue::SystemTime(_) => PropType::SystemTime,
            PropValue::Guid(_) => PropType::Guid,
            PropValue::Binary(_) => PropType::Binary,
            PropValue::MultiInt32(_) => PropType::MultiInt32,
            PropValue::MultiInt64(_) => PropType::MultiInt64,
            PropValue::MultiUnicode(_) => PropType::MultiUnicode,
            PropValue::MultiBinary(_) => PropType::MultiBinary,
        }
    }
}

/// The properties of one folder, item or attachment, keyed by tag.
///
/// Invariants: each value's type is its tag's type, and an id appears at most once (setting an id
/// with another type replaces the old value), as in a MAPI property object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PropertyBag {
    values: BTreeMap<PropTag, PropValue>,
}

impl PropertyBag {
    /// An empty bag.
    pub fn new() -> PropertyBag {
        PropertyBag::default()
    }

    /// The value of `tag`, if present with that exact type.
    pub fn get(&self, tag: PropTag) -> Option<&PropValue> {
        self.values.get(&tag)
    }

    /// The string value of a Unicode `tag`.
    pub fn unicode(&self, tag: PropTag) -> Option<&str> {
        match self.values.get(&tag) {
            Some(PropValue::Unicode(text)) => Some(text),
            _ => None,
        }
    }

    /// The value of an Int32 `tag`.
    pub fn int32(&self, tag: PropTag) -> Option<i32> {
        match self.values.get(&tag) {
            Some(PropValue::Int32(value)) => Some(*value),
            _ => None,
        }
    }

    /// The value of a Boolean `tag`.
    pub fn boolean(&self, tag: PropTag) -> Option<bool> {
        match self.values.get(&tag) {
            Some(PropValue::Boolean(value)) => Some(*value),
            _ => None,
        }
    }

    /// All properties in tag order.
    pub fn iter(&self) -> impl Iterator<Item = (PropTag, &PropValue)> + '_ {
        self.values.iter().map(|(tag, value)| (*tag, value))
    }

    /// The number of properties.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the bag holds no property.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Sets `tag` to `value`, replacing any value of the same id. Refuses a value of another type.
    pub fn set(&mut self, tag: PropTag, value: PropValue) -> Result<(), Error> {
        if value.prop_type() != tag.prop_type() {
            return Err(Error::InvalidProperty {
                key: PropKey::Tag(tag),
                reason: "value type differs from the tag's type",
            });
        }
        self.remove_id(tag.id());
        self.values.insert(tag, value);
        Ok(())
    }

    /// Removes `tag` (exact type); returns whether it was present.
    pub(crate) fn remove(&mut self, tag: PropTag) -> bool {
        self.values.remove(&tag).is_some()
    }

    fn remove_id(&mut self, id: u16) {
        // PropType's first and last variants bound every tag with this id.
        let first = PropTag::new(id, PropType::Int32);
        let last = PropTag::new(id, PropType::MultiBinary);
        let same_id: Vec<PropTag> = self
            .values
            .range(first..=last)
            .map(|(tag, _)| *tag)
            .collect();
        for tag in same_id {
            self.values.remove(&tag);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_match_ms_oxprops_values() {
        assert_eq!(tags::MESSAGE_CLASS.raw(), 0x001A_001F);
        assert_eq!(tags::SUBJECT.raw(), 0x0037_001F);
        assert_eq!(tags::DISPLAY_NAME.raw(), 0x3001_001F);
        assert_eq!(tags::CONTAINER_CLASS.raw(), 0x3613_001F);
        assert_eq!(tags::MESSAGE_FLAGS.raw(), 0x0E07_0003);
        assert_eq!(tags::BODY.raw(), 0x1000_001F);
        assert_eq!(tags::HTML.raw(), 0x1013_0102);
        assert_eq!(tags::ATTACH_LONG_FILENAME.raw(), 0x3707_001F);
        assert_eq!(tags::ATTACH_MIME_TAG.raw(), 0x370E_001F);
        assert_eq!(tags::VOICE_MESSAGE_DURATION.raw(), 0x6801_0003);
        assert_eq!(tags::CALL_ID.raw(), 0x6806_001F);
        assert_eq!(tags::MESSAGE_DELIVERY_TIME.raw(), 0x0E06_0040);
    }

    #[test]
    fn prop_type_codes_round_trip() {
        for code in 0..=u16::MAX {
            if let Some(prop_type) = PropType::from_code(code) {
                assert_eq!(prop_type.code(), code);
            }
        }
        assert_eq!(
            PropTag::from_raw(0x0037_001E),
            None,
            "String8 is not stored"
        );
        assert_eq!(PropTag::from_raw(0x0037_001F), Some(tags::SUBJECT));
        assert!(PropTag::new(0x8001, PropType::Int32).is_named());
        let mut by_order = [tags::SUBJECT, tags::MESSAGE_CLASS, tags::HTML, tags::BODY];
        by_order.sort();
        let raws: Vec<u32> = by_order.iter().map(|t| t.raw()).collect();
        let mut sorted = raws.clone();
        sorted.sort_unstable();
        assert_eq!(raws, sorted, "tag order is raw order");
        let codes: Vec<u16> = (0..=u16::MAX)
            .filter(|c| PropType::from_code(*c).is_some())
            .collect();
        let mut declared: Vec<PropType> = codes
            .iter()
            .filter_map(|c| PropType::from_code(*c))
            .collect();
        declared.sort();
        assert_eq!(declared.iter().map(|t| t.code()).collect::<Vec<_>>(), codes);
        assert!(!tags::SUBJECT.is_named());
    }

    #[test]
    fn guid_text_round_trips() {
        let text = "4442858E-A9E3-4E80-B900-317A210CC15B";
        assert_eq!(Guid::parse(text), Some(property_sets::UNIFIED_MESSAGING));
        assert_eq!(
            Guid::parse("{4442858e-a9e3-4e80-b900-317a210cc15b}"),
            Some(property_sets::UNIFIED_MESSAGING)
        );
        assert_eq!(property_sets::UNIFIED_MESSAGING.to_string(), text);
        assert_eq!(
            property_sets::COMMON.to_string(),
            "00062008-0000-0000-C000-000000000046"
        );
        assert_eq!(Guid::parse("4442858E-A9E3-4E80-B900-317A210CC15"), None);
        assert_eq!(Guid::parse("4442858E-A9E3-4E80-B900-317A210CC15G"), None);
        assert_eq!(Guid::parse("4442858EA9E3-4E80-B900-317A210CC15B0000"), None);
    }

    #[test]
    fn internet_header_names_are_case_folded() {
        let upper = NamedProperty::new(
            property_sets::INTERNET_HEADERS,
            PropName::Name("X-CallID".into()),
        );
        let lower = NamedProperty::new(
            property_sets::INTERNET_HEADERS,
            PropName::Name("x-callid".into()),
        );
        assert_eq!(upper, lower);
        let public_upper = NamedProperty::new(
            property_sets::PUBLIC_STRINGS,
            PropName::Name("Keywords".into()),
        );
        assert_eq!(public_upper.name(), &PropName::Name("Keywords".into()));
    }

    #[test]
    fn file_time_round_trips_through_system_time() {
        assert_eq!(
            FileTime::from_system_time(UNIX_EPOCH),
            FileTime(116_444_736_000_000_000)
        );
        for seconds in [0u64, 1, 1_700_000_000, 4_000_000_000] {
            let time = UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_nanos(1_234_500);
            let file_time = FileTime::from_system_time(time);
            assert_eq!(file_time.to_system_time(), Some(time));
        }
        let before_unix = UNIX_EPOCH - Duration::from_secs(86_400);
        assert_eq!(
            FileTime::from_system_time(before_unix).to_system_time(),
            Some(before_unix)
        );
        assert_eq!(
            FileTime(0).to_system_time(),
            UNIX_EPOCH.checked_sub(Duration::from_secs(11_644_473_600))
        );
    }

    #[test]
    fn bag_keeps_one_value_per_id_and_checks_types() {
        let mut bag = PropertyBag::new();
        bag.set(tags::SUBJECT, PropValue::Unicode("hello".into()))
            .unwrap();
        assert_eq!(bag.unicode(tags::SUBJECT), Some("hello"));
        let subject_as_int = PropTag::new(0x0037, PropType::Int32);
        bag.set(subject_as_int, PropValue::Int32(5)).unwrap();
        assert_eq!(bag.len(), 1);
        assert_eq!(bag.unicode(tags::SUBJECT), None);
        assert_eq!(bag.int32(subject_as_int), Some(5));
        assert!(matches!(
            bag.set(tags::SUBJECT, PropValue::Int32(1)),
            Err(Error::InvalidProperty { .. })
        ));
        assert!(bag.remove(subject_as_int));
        assert!(bag.is_empty());
    }
}
