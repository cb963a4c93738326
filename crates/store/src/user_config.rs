//! User configuration objects (MS-OXOCFG; EWS MS-OXWSUSRCFG): named settings a folder holds as
//! associated (FAI) items of class `IPM.Configuration.<name>`, each with up to three parts kept in
//! binary properties: a dictionary (PidTagRoamingDictionary), XML data (PidTagRoamingXmlStream)
//! and binary data (PidTagRoamingBinaryStream).
//!
//! This is the one place the representation is defined, so EWS's user configuration operations
//! and `um::greetings` read and write the very same items. A name is unique in its folder (ignoring
//! ASCII case, as message classes compare): `MailStore::apply` refuses a second one with
//! `Error::ConfigurationExists` inside its transaction, so two concurrent creations cannot both
//! succeed. The dictionary's bytes are opaque here: EWS owns their encoding.
//!
//! Never parses the dictionary and never speaks EWS; changes are built here and applied by the
//! caller through `MailStore::apply`.

use std::fmt;

use super::props::{tags, PropKey, PropValue};
use super::{Change, Error, FolderId, Item, ItemId, MailStore, MailboxId};

/// The message-class prefix of every user configuration object.
pub const CLASS_PREFIX: &str = "IPM.Configuration.";

/// The longest name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 128;

/// The largest dictionary, XML data or binary data accepted, each, in bytes (4 MiB). A request
/// over it is refused with `Error::TooLarge`; the HTTP body cap may bound EWS requests further.
pub const MAX_PART_BYTES: usize = 4 << 20;

/// A user configuration name: 1 to [`MAX_NAME_CHARS`] ASCII letters, digits, `.`, `_` or `-`
/// (what Exchange's own names use, e.g. `OWA.UserOptions`, `Um.CustomGreetings.External`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigName(String);

/// Why a name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("user configuration name {name:?} {reason}")]
pub struct BadName {
    /// The name as given.
    pub name: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl ConfigName {
    /// Checks `name`.
    pub fn parse(name: &str) -> Result<ConfigName, BadName> {
        let bad = |reason| BadName {
            name: name.chars().take(MAX_NAME_CHARS).collect(),
            reason,
        };
        if name.is_empty() {
            return Err(bad("is empty"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(bad("is longer than 128 characters"));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(bad("may hold only letters, digits, '.', '_' and '-'"));
        }
        Ok(ConfigName(name.to_owned()))
    }

    /// The name of the object whose PidTagMessageClass is `class`, as stored; `None` when the
    /// class is not a user configuration object's.
    pub fn of_class(class: &str) -> Option<ConfigName> {
        if !is_configuration_class(class) {
            return None;
        }
        ConfigName::parse(class.get(CLASS_PREFIX.len()..)?).ok()
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The item's PidTagMessageClass: `IPM.Configuration.<name>`.
    pub fn message_class(&self) -> String {
        let mut class = String::with_capacity(CLASS_PREFIX.len() + self.0.len());
        class.push_str(CLASS_PREFIX);
        class.push_str(&self.0);
        class
    }
}

impl fmt::Display for ConfigName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The parts of a user configuration object; `None` is a part the object does not have.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parts {
    /// The dictionary, in EWS's encoding.
    pub dictionary: Option<Vec<u8>>,
    /// The XML data, as the client gave it.
    pub xml: Option<Vec<u8>>,
    /// The binary data.
    pub binary: Option<Vec<u8>>,
}

impl Parts {
    /// The parts stored in `item`.
    pub fn of(item: &Item) -> Parts {
        let part = |tag| match item.props.get(tag) {
            Some(PropValue::Binary(bytes)) => Some(bytes.clone()),
            _ => None,
        };
        Parts {
            dictionary: part(tags::ROAMING_DICTIONARY),
            xml: part(tags::ROAMING_XML_STREAM),
            binary: part(tags::ROAMING_BINARY_STREAM),
        }
    }

    /// The properties for the parts present, after checking each against [`MAX_PART_BYTES`].
    fn props(self) -> Result<Vec<(PropKey, PropValue)>, Error> {
        let mut props = Vec::with_capacity(3);
        for (tag, what, part) in [
            (
                tags::ROAMING_DICTIONARY,
                "user configuration dictionary",
                self.dictionary,
            ),
            (
                tags::ROAMING_XML_STREAM,
                "user configuration XML data",
                self.xml,
            ),
            (
                tags::ROAMING_BINARY_STREAM,
                "user configuration binary data",
                self.binary,
            ),
        ] {
            let Some(bytes) = part else { continue };
            if bytes.len() > MAX_PART_BYTES {
                return Err(Error::TooLarge {
                    what,
                    size: bytes.len() as u64,
                    limit: MAX_PART_BYTES as u64,
                });
            }
            props.push((tag.into(), PropValue::Binary(bytes)));
        }
        Ok(props)
    }
}

/// Whether `class` names the configuration `name` (message classes ignore ASCII case).
pub(crate) fn is_configuration_class(class: &str) -> bool {
    class
        .get(..CLASS_PREFIX.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(CLASS_PREFIX))
}

/// The configuration object `name` in `folder`, if there is one.
pub fn find(
    store: &dyn MailStore,
    mailbox: &MailboxId,
    folder: FolderId,
    name: &ConfigName,
) -> Result<Option<Item>, Error> {
    let items = store.associated_items(mailbox, folder)?;
    Ok(find_in(&items, name).cloned())
}

/// The configuration object `name` among a folder's associated items, for a caller that looks up
/// several names in one read.
pub fn find_in<'a>(associated: &'a [Item], name: &ConfigName) -> Option<&'a Item> {
    let class = name.message_class();
    associated.iter().find(|item| {
        item.props
            .unicode(tags::MESSAGE_CLASS)
            .is_some_and(|c| c.eq_ignore_ascii_case(&class))
    })
}

/// The change creating the configuration object `name` in `folder` with `parts`. `apply` refuses
/// it with `Error::ConfigurationExists` when the folder already has one of that name.
pub fn create(folder: FolderId, name: &ConfigName, parts: Parts) -> Result<Change, Error> {
    let mut props = vec![
        (
            tags::MESSAGE_CLASS.into(),
            PropValue::Unicode(name.message_class()),
        ),
        (tags::SUBJECT.into(), PropValue::Unicode(String::new())),
        (tags::ASSOCIATED.into(), PropValue::Boolean(true)),
        (
            tags::MESSAGE_FLAGS.into(),
            PropValue::Int32(tags::MSGFLAG_READ),
        ),
    ];
    props.extend(parts.props()?);
    Ok(Change::CreateItem {
        folder,
        props,
        attachments: Vec::new(),
    })
}

/// The change replacing the parts `parts` holds of the object `item` (the others stay as they
/// are).
pub fn update(item: ItemId, parts: Parts) -> Result<Change, Error> {
    Ok(Change::UpdateItem {
        item,
        expected: None,
        set: parts.props()?,
        delete: Vec::new(),
    })
}
