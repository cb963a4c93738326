//! User configuration objects (MS-OXWSUSRCFG): GetUserConfiguration, CreateUserConfiguration,
//! UpdateUserConfiguration and DeleteUserConfiguration.
//!
//! An object is named by `t:UserConfigurationName` (its Name and its folder) and stored by
//! `store::user_config` as an associated item of class `IPM.Configuration.<name>`, the same items
//! `um::greetings` keeps greetings in, so a greeting written here is the one callers hear. Its
//! dictionary is kept in this module's own binary encoding ([`encode_dictionary`]); XML and binary
//! data are kept as the bytes the client sent. Each part is capped at
//! `store::user_config::MAX_PART_BYTES` (ErrorMessageSizeExceeded).
//!
//! Answers follow Exchange: a name the folder already has is ErrorItemSave, a missing object
//! ErrorItemNotFound, a bad name ErrorInvalidValueForPropertyUserConfigurationName; an update
//! merges dictionary entries and replaces XML or binary data, and refuses to give an object a part
//! it was created without (ErrorUserConfiguration…NotExist).

use base64::Engine;

use super::EwsOperation;
use crate::codes::ResponseCode;
use crate::error::{Error, Fault};
use crate::soap::{M, T};
use crate::{child, response_message, time, Request};
use umbox_store::props::tags;
use umbox_store::user_config::{self, ConfigName, Parts, MAX_PART_BYTES};
use umbox_store::{Change, ChangeKey, FolderId, ItemId};
use umbox_xml::{ns, Element, Namespace, Writer};

/// `xsi:`, for a nil dictionary value.
const XSI: Namespace = Namespace::new("xsi", ns::XSI);

/// `t:UserConfigurationDictionaryObjectTypesType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectType {
    /// xs:dateTime.
    DateTime,
    /// xs:boolean.
    Boolean,
    /// 0 to 255.
    Byte,
    /// Any text.
    String,
    /// A signed 32-bit integer.
    Integer32,
    /// An unsigned 32-bit integer.
    UnsignedInteger32,
    /// A signed 64-bit integer.
    Integer64,
    /// An unsigned 64-bit integer.
    UnsignedInteger64,
    /// One or more texts.
    StringArray,
    /// base64 bytes.
    ByteArray,
}

impl ObjectType {
    /// Every type; a stored type is its position here.
    const ALL: [ObjectType; 10] = [
        ObjectType::DateTime,
        ObjectType::Boolean,
        ObjectType::Byte,
        ObjectType::String,
        ObjectType::Integer32,
        ObjectType::UnsignedInteger32,
        ObjectType::Integer64,
        ObjectType::UnsignedInteger64,
        ObjectType::StringArray,
        ObjectType::ByteArray,
    ];

    /// The schema's name.
    const fn as_str(self) -> &'static str {
        match self {
            ObjectType::DateTime => "DateTime",
            ObjectType::Boolean => "Boolean",
            ObjectType::Byte => "Byte",
            ObjectType::String => "String",
            ObjectType::Integer32 => "Integer32",
            ObjectType::UnsignedInteger32 => "UnsignedInteger32",
            ObjectType::Integer64 => "Integer64",
            ObjectType::UnsignedInteger64 => "UnsignedInteger64",
            ObjectType::StringArray => "StringArray",
            ObjectType::ByteArray => "ByteArray",
        }
    }

    fn parse(text: &str) -> Option<ObjectType> {
        ObjectType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// Whether `text` reads as a value of this type.
    fn accepts(self, text: &str) -> bool {
        let text = text.trim();
        match self {
            ObjectType::DateTime => time::parse(text).is_some(),
            ObjectType::Boolean => matches!(text, "true" | "false" | "1" | "0"),
            ObjectType::Byte => text.parse::<u8>().is_ok(),
            ObjectType::String | ObjectType::StringArray => true,
            ObjectType::Integer32 => text.parse::<i32>().is_ok(),
            ObjectType::UnsignedInteger32 => text.parse::<u32>().is_ok(),
            ObjectType::Integer64 => text.parse::<i64>().is_ok(),
            ObjectType::UnsignedInteger64 => text.parse::<u64>().is_ok(),
            ObjectType::ByteArray => base64_bytes(text).is_some(),
        }
    }
}

/// `t:UserConfigurationDictionaryObjectType`: a typed value (several texts for a StringArray).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DictionaryObject {
    pub(crate) kind: ObjectType,
    pub(crate) values: Vec<String>,
}

/// `t:DictionaryEntry`: a key and its value (`None`: the value is nil).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) key: DictionaryObject,
    pub(crate) value: Option<DictionaryObject>,
}

/// A whole user configuration object as a request gives it or a response returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Content {
    pub(crate) dictionary: Option<Vec<Entry>>,
    pub(crate) xml: Option<Vec<u8>>,
    pub(crate) binary: Option<Vec<u8>>,
}

/// A `t:UserConfigurationName` resolved: the folder and the checked name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) folder: FolderId,
    pub(crate) name: ConfigName,
}

fn base64_bytes(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
}

fn base64_text(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Reads `t:UserConfigurationName` (in either namespace): a missing Name or folder breaks the
/// schema; a folder that does not open or a bad name is this request's error.
fn parse_target(request: &Request<'_>, element: &Element) -> Result<Result<Target, Error>, Fault> {
    let name = element
        .attribute("", "Name")
        .ok_or_else(|| Fault::schema("UserConfigurationName needs a Name"))?;
    let folder = element
        .children()
        .find(|c| c.is(ns::EWS_TYPES, "FolderId") || c.is(ns::EWS_TYPES, "DistinguishedFolderId"))
        .ok_or_else(|| {
            Fault::schema("UserConfigurationName needs a FolderId or DistinguishedFolderId")
        })?;
    Ok(request.folder_id(folder).and_then(|folder| {
        let name = ConfigName::parse(name).map_err(|error| {
            Error::new(
                ResponseCode::ErrorInvalidValueForPropertyUserConfigurationName,
                error.to_string(),
            )
        })?;
        Ok(Target { folder, name })
    }))
}

/// Reads one dictionary key or value.
fn parse_object(element: &Element) -> Result<Result<DictionaryObject, Error>, Fault> {
    let kind_text = child(element, "Type")
        .map(Element::trimmed_text)
        .ok_or_else(|| Fault::schema(format!("{} needs a Type", element.name())))?;
    let kind = ObjectType::parse(kind_text)
        .ok_or_else(|| Fault::schema(format!("{kind_text:?} is not a dictionary object type")))?;
    let values: Vec<String> = element
        .children()
        .filter(|c| c.name() == "Value")
        .map(|c| c.text().to_owned())
        .collect();
    if values.is_empty() || (kind != ObjectType::StringArray && values.len() > 1) {
        return Ok(Err(Error::new(
            ResponseCode::ErrorInvalidValueForPropertyStringArrayDictionaryKey,
            format!(
                "a {} takes {} Value, not {}",
                kind.as_str(),
                if kind == ObjectType::StringArray {
                    "at least one"
                } else {
                    "exactly one"
                },
                values.len()
            ),
        )));
    }
    if let Some(bad) = values.iter().find(|value| !kind.accepts(value)) {
        return Ok(Err(Error::new(
            ResponseCode::ErrorInvalidValueForPropertyKeyValueConversion,
            format!("{bad:?} is not a {}", kind.as_str()),
        )));
    }
    Ok(Ok(DictionaryObject { kind, values }))
}

/// Reads `t:Dictionary`; a key given twice is refused.
fn parse_dictionary(element: &Element) -> Result<Result<Vec<Entry>, Error>, Fault> {
    let mut entries: Vec<Entry> = Vec::new();
    for entry in element.children().filter(|c| c.name() == "DictionaryEntry") {
        let key = child(entry, "DictionaryKey")
            .ok_or_else(|| Fault::schema("DictionaryEntry needs a DictionaryKey"))?;
        let key = match parse_object(key)? {
            Ok(key) => key,
            Err(error) => return Ok(Err(error)),
        };
        let value = match child(entry, "DictionaryValue") {
            Some(value) if value.attribute(ns::XSI, "nil") == Some("true") => None,
            Some(value) => match parse_object(value)? {
                Ok(value) => Some(value),
                Err(error) => return Ok(Err(error)),
            },
            None => None,
        };
        if entries.iter().any(|e| e.key == key) {
            return Ok(Err(Error::new(
                ResponseCode::ErrorInvalidValueForPropertyDuplicateDictionaryKey,
                format!(
                    "the dictionary names the key {:?} twice",
                    key.values.join(" ")
                ),
            )));
        }
        entries.push(Entry { key, value });
    }
    Ok(Ok(entries))
}

/// Reads `m:UserConfiguration` of Create and Update: its target and content. An ItemId is refused
/// (the object is named by its name), as Exchange does.
fn parse_configuration(
    request: &Request<'_>,
    op: &Element,
) -> Result<Result<(Target, Content), Error>, Fault> {
    let configuration = child(op, "UserConfiguration")
        .ok_or_else(|| Fault::schema(format!("{} needs UserConfiguration", op.name())))?;
    let name = child(configuration, "UserConfigurationName")
        .ok_or_else(|| Fault::schema("UserConfiguration needs UserConfigurationName"))?;
    let target = match parse_target(request, name)? {
        Ok(target) => target,
        Err(error) => return Ok(Err(error)),
    };
    if child(configuration, "ItemId").is_some() {
        return Ok(Err(Error::new(
            ResponseCode::ErrorInvalidOperation,
            "a user configuration object is named by UserConfigurationName, not ItemId",
        )));
    }
    let dictionary = match child(configuration, "Dictionary")
        .map(parse_dictionary)
        .transpose()?
    {
        Some(Err(error)) => return Ok(Err(error)),
        Some(Ok(entries)) => Some(entries),
        None => None,
    };
    let stream = |name, code| -> Result<Option<Vec<u8>>, Error> {
        child(configuration, name)
            .map(|element| {
                base64_bytes(element.text())
                    .ok_or_else(|| Error::new(code, format!("{name} is not base64")))
            })
            .transpose()
    };
    let content =
        stream("XmlData", ResponseCode::ErrorInvalidValueForPropertyXmlData).and_then(|xml| {
            let binary = stream(
                "BinaryData",
                ResponseCode::ErrorInvalidValueForPropertyBinaryData,
            )?;
            Ok(Content {
                dictionary,
                xml,
                binary,
            })
        });
    Ok(content.map(|content| (target, content)))
}

/// The stored bytes of a dictionary: a count, then each key and value as a type byte (0xFF for a
/// nil value), a count of texts and each text with its length, all little-endian u32.
fn encode_dictionary(entries: &[Entry]) -> Vec<u8> {
    fn put_u32(out: &mut Vec<u8>, value: usize) {
        out.extend_from_slice(&u32::try_from(value).unwrap_or(u32::MAX).to_le_bytes());
    }
    fn put_object(out: &mut Vec<u8>, object: &DictionaryObject) {
        let index = ObjectType::ALL.iter().position(|t| *t == object.kind);
        out.push(index.and_then(|i| u8::try_from(i).ok()).unwrap_or(u8::MAX));
        put_u32(out, object.values.len());
        for value in &object.values {
            put_u32(out, value.len());
            out.extend_from_slice(value.as_bytes());
        }
    }
    let mut out = Vec::new();
    put_u32(&mut out, entries.len());
    for entry in entries {
        put_object(&mut out, &entry.key);
        match &entry.value {
            Some(value) => put_object(&mut out, value),
            None => out.push(u8::MAX),
        }
    }
    out
}

/// Reads what [`encode_dictionary`] wrote; `None` for damaged bytes.
fn decode_dictionary(bytes: &[u8]) -> Option<Vec<Entry>> {
    struct Cursor<'a>(&'a [u8]);
    impl<'a> Cursor<'a> {
        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
            self.0 = rest;
            Some(head)
        }
        fn u32(&mut self) -> Option<usize> {
            let b = self.take(4)?;
            usize::try_from(u32::from_le_bytes([
                *b.first()?,
                *b.get(1)?,
                *b.get(2)?,
                *b.get(3)?,
            ]))
            .ok()
        }
        fn object(&mut self, kind: u8) -> Option<DictionaryObject> {
            let kind = *ObjectType::ALL.get(usize::from(kind))?;
            let count = self.u32()?;
            // Each text takes at least its 4-byte length, which bounds a damaged count.
            if count > self.0.len() / 4 {
                return None;
            }
            let mut values = Vec::with_capacity(count);
            for _ in 0..count {
                let len = self.u32()?;
                values.push(String::from_utf8(self.take(len)?.to_vec()).ok()?);
            }
            Some(DictionaryObject { kind, values })
        }
    }
    let mut cursor = Cursor(bytes);
    let count = cursor.u32()?;
    if count > bytes.len() {
        return None;
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let kind = *cursor.take(1)?.first()?;
        let key = cursor.object(kind)?;
        let kind = *cursor.take(1)?.first()?;
        let value = if kind == u8::MAX {
            None
        } else {
            Some(cursor.object(kind)?)
        };
        entries.push(Entry { key, value });
    }
    cursor.0.is_empty().then_some(entries)
}

/// The stored parts of `content`, each within the size cap.
fn to_parts(content: Content) -> Result<Parts, Error> {
    let parts = Parts {
        dictionary: content.dictionary.as_deref().map(encode_dictionary),
        xml: content.xml,
        binary: content.binary,
    };
    for (what, part) in [
        ("Dictionary", &parts.dictionary),
        ("XmlData", &parts.xml),
        ("BinaryData", &parts.binary),
    ] {
        if let Some(bytes) = part.as_ref().filter(|b| b.len() > MAX_PART_BYTES) {
            return Err(Error::new(
                ResponseCode::ErrorMessageSizeExceeded,
                format!(
                    "{what} is {} bytes, over the limit of {MAX_PART_BYTES}",
                    bytes.len()
                ),
            ));
        }
    }
    Ok(parts)
}

fn from_parts(parts: Parts) -> Result<Content, Error> {
    let dictionary = parts
        .dictionary
        .map(|bytes| {
            decode_dictionary(&bytes).ok_or_else(|| {
                Error::new(
                    ResponseCode::ErrorCorruptData,
                    "stored dictionary is damaged",
                )
            })
        })
        .transpose()?;
    Ok(Content {
        dictionary,
        xml: parts.xml,
        binary: parts.binary,
    })
}

/// The object `target` names, or ErrorItemNotFound.
fn open(request: &Request<'_>, target: &Target) -> Result<umbox_store::Item, Error> {
    user_config::find(
        request.ctx.store,
        &request.mailbox,
        target.folder,
        &target.name,
    )?
    .ok_or_else(|| {
        Error::new(
            ResponseCode::ErrorItemNotFound,
            format!("the folder has no user configuration named {}", target.name),
        )
    })
}

fn apply(request: &Request<'_>, change: Change) -> Result<(), Error> {
    request
        .ctx
        .store
        .apply(&request.mailbox, change, request.ctx.now)?;
    Ok(())
}

/// Writes a response holding one response message and nothing else.
fn write_done(
    w: &mut Writer<'_>,
    response: &'static str,
    message: &'static str,
    result: &Result<(), Error>,
) {
    w.start(M, response).start(M, "ResponseMessages");
    response_message(
        w,
        message,
        result.as_ref().map(|()| |_: &mut Writer<'_>| {}),
    );
    w.end().end();
}

/// CreateUserConfiguration.
#[derive(Debug)]
pub(crate) struct CreateUserConfiguration {
    pub(crate) configuration: Result<(Target, Content), Error>,
}

impl EwsOperation for CreateUserConfiguration {
    type Response = Result<(), Error>;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        Ok(CreateUserConfiguration {
            configuration: parse_configuration(request, op)?,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<Result<(), Error>, Fault> {
        Ok(self.configuration.and_then(|(target, content)| {
            let change = user_config::create(target.folder, &target.name, to_parts(content)?)?;
            apply(request, change)
        }))
    }

    fn write(response: &Result<(), Error>, _: &Request<'_>, w: &mut Writer<'_>) {
        write_done(
            w,
            "CreateUserConfigurationResponse",
            "CreateUserConfigurationResponseMessage",
            response,
        );
    }
}

/// UpdateUserConfiguration.
#[derive(Debug)]
pub(crate) struct UpdateUserConfiguration {
    pub(crate) configuration: Result<(Target, Content), Error>,
}

/// The content after an update: dictionary entries merged (a given key replaces the stored one,
/// others stay), XML and binary data replaced; a part the object was created without is refused.
fn merge(stored: Content, update: Content) -> Result<Content, Error> {
    let missing = |code, what| {
        Err(Error::new(
            code,
            format!("the user configuration was created without {what}"),
        ))
    };
    let dictionary = match (stored.dictionary, update.dictionary) {
        (_, None) => None,
        (None, Some(_)) => {
            return missing(
                ResponseCode::ErrorUserConfigurationDictionaryNotExist,
                "a Dictionary",
            )
        }
        (Some(mut entries), Some(changes)) => {
            for change in changes {
                match entries.iter_mut().find(|e| e.key == change.key) {
                    Some(entry) => entry.value = change.value,
                    None => entries.push(change),
                }
            }
            Some(entries)
        }
    };
    let xml = match (stored.xml, update.xml) {
        (None, Some(_)) => {
            return missing(
                ResponseCode::ErrorUserConfigurationXmlDataNotExist,
                "XmlData",
            )
        }
        (_, xml) => xml,
    };
    let binary = match (stored.binary, update.binary) {
        (None, Some(_)) => {
            return missing(
                ResponseCode::ErrorUserConfigurationBinaryDataNotExist,
                "BinaryData",
            )
        }
        (_, binary) => binary,
    };
    Ok(Content {
        dictionary,
        xml,
        binary,
    })
}

impl EwsOperation for UpdateUserConfiguration {
    type Response = Result<(), Error>;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        Ok(UpdateUserConfiguration {
            configuration: parse_configuration(request, op)?,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<Result<(), Error>, Fault> {
        Ok(self.configuration.and_then(|(target, update)| {
            let item = open(request, &target)?;
            let stored = from_parts(Parts::of(&item))?;
            let parts = to_parts(merge(stored, update)?)?;
            apply(request, user_config::update(item.id, parts)?)
        }))
    }

    fn write(response: &Result<(), Error>, _: &Request<'_>, w: &mut Writer<'_>) {
        write_done(
            w,
            "UpdateUserConfigurationResponse",
            "UpdateUserConfigurationResponseMessage",
            response,
        );
    }
}

/// DeleteUserConfiguration.
#[derive(Debug)]
pub(crate) struct DeleteUserConfiguration {
    pub(crate) target: Result<Target, Error>,
}

impl EwsOperation for DeleteUserConfiguration {
    type Response = Result<(), Error>;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        let name = child(op, "UserConfigurationName")
            .ok_or_else(|| Fault::schema("DeleteUserConfiguration needs UserConfigurationName"))?;
        Ok(DeleteUserConfiguration {
            target: parse_target(request, name)?,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<Result<(), Error>, Fault> {
        Ok(self.target.and_then(|target| {
            let item = open(request, &target)?;
            apply(request, Change::DeleteItem { item: item.id })
        }))
    }

    fn write(response: &Result<(), Error>, _: &Request<'_>, w: &mut Writer<'_>) {
        write_done(
            w,
            "DeleteUserConfigurationResponse",
            "DeleteUserConfigurationResponseMessage",
            response,
        );
    }
}

/// Which parts GetUserConfiguration returns (`t:UserConfigurationPropertyType`, a list).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Wanted {
    pub(crate) id: bool,
    pub(crate) dictionary: bool,
    pub(crate) xml: bool,
    pub(crate) binary: bool,
}

impl Wanted {
    fn parse(text: &str) -> Result<Wanted, Fault> {
        let mut wanted = Wanted::default();
        for token in text.split_ascii_whitespace() {
            match token {
                "Id" => wanted.id = true,
                "Dictionary" => wanted.dictionary = true,
                "XmlData" => wanted.xml = true,
                "BinaryData" => wanted.binary = true,
                "All" => {
                    wanted = Wanted {
                        id: true,
                        dictionary: true,
                        xml: true,
                        binary: true,
                    }
                }
                other => {
                    return Err(Fault::schema(format!(
                        "{other:?} is not a UserConfigurationProperties value"
                    )))
                }
            }
        }
        if wanted == Wanted::default() {
            return Err(Fault::schema("UserConfigurationProperties is empty"));
        }
        Ok(wanted)
    }
}

/// GetUserConfiguration.
#[derive(Debug)]
pub(crate) struct GetUserConfiguration {
    pub(crate) target: Result<Target, Error>,
    pub(crate) wanted: Wanted,
}

/// A found object: its name, folder, versions and the parts asked for.
#[derive(Debug)]
pub(crate) struct Found {
    target: Target,
    folder_change_key: ChangeKey,
    item: Option<(ItemId, ChangeKey)>,
    content: Content,
}

impl EwsOperation for GetUserConfiguration {
    type Response = Result<Found, Error>;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        let name = child(op, "UserConfigurationName")
            .ok_or_else(|| Fault::schema("GetUserConfiguration needs UserConfigurationName"))?;
        let wanted = child(op, "UserConfigurationProperties")
            .ok_or_else(|| Fault::schema("GetUserConfiguration needs UserConfigurationProperties"))
            .and_then(|p| Wanted::parse(p.text()))?;
        Ok(GetUserConfiguration {
            target: parse_target(request, name)?,
            wanted,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<Result<Found, Error>, Fault> {
        let wanted = self.wanted;
        Ok(self.target.and_then(|target| {
            let item = open(request, &target)?;
            let folder_change_key = request
                .ctx
                .store
                .folder(&request.mailbox, target.folder)?
                .change_key;
            let stored = Parts::of(&item);
            // The name as stored, whatever case the request used.
            let name = item
                .props
                .unicode(tags::MESSAGE_CLASS)
                .and_then(ConfigName::of_class)
                .unwrap_or(target.name);
            let target = Target { name, ..target };
            let content = from_parts(Parts {
                dictionary: stored.dictionary.filter(|_| wanted.dictionary),
                xml: stored.xml.filter(|_| wanted.xml),
                binary: stored.binary.filter(|_| wanted.binary),
            })?;
            Ok(Found {
                target,
                folder_change_key,
                item: wanted.id.then_some((item.id, item.change_key)),
                content,
            })
        }))
    }

    fn write(response: &Result<Found, Error>, request: &Request<'_>, w: &mut Writer<'_>) {
        w.start(M, "GetUserConfigurationResponse")
            .start(M, "ResponseMessages");
        let payload = response
            .as_ref()
            .map(|found| move |w: &mut Writer<'_>| write_configuration(w, request, found));
        response_message(w, "GetUserConfigurationResponseMessage", payload);
        w.end().end();
    }
}

/// `m:UserConfiguration` (UserConfigurationType), in schema order.
fn write_configuration(w: &mut Writer<'_>, request: &Request<'_>, found: &Found) {
    let ids = request.ctx.ids;
    let mailbox = &request.mailbox;
    w.start(M, "UserConfiguration");
    w.start(T, "UserConfigurationName")
        .attribute("Name", found.target.name.as_str());
    w.start(T, "FolderId")
        .attribute("Id", &ids.folder(mailbox, found.target.folder))
        .attribute(
            "ChangeKey",
            &ids.folder_change_key(mailbox, found.target.folder, found.folder_change_key),
        )
        .end();
    w.end();
    if let Some((item, change_key)) = found.item {
        w.start(T, "ItemId")
            .attribute("Id", &ids.item(mailbox, item))
            .attribute("ChangeKey", &ids.item_change_key(mailbox, item, change_key))
            .end();
    }
    if let Some(entries) = &found.content.dictionary {
        w.start(T, "Dictionary");
        for entry in entries {
            w.start(T, "DictionaryEntry");
            write_object(w, "DictionaryKey", &entry.key);
            match &entry.value {
                Some(value) => write_object(w, "DictionaryValue", value),
                None => {
                    w.start(T, "DictionaryValue")
                        .declare(XSI)
                        .attribute_ns(XSI, "nil", "true")
                        .end();
                }
            }
            w.end();
        }
        w.end();
    }
    if let Some(xml) = &found.content.xml {
        w.leaf(T, "XmlData", &base64_text(xml));
    }
    if let Some(binary) = &found.content.binary {
        w.leaf(T, "BinaryData", &base64_text(binary));
    }
    w.end();
}

fn write_object(w: &mut Writer<'_>, name: &'static str, object: &DictionaryObject) {
    w.start(T, name);
    w.leaf(T, "Type", object.kind.as_str());
    for value in &object.values {
        w.leaf(T, "Value", value);
    }
    w.end();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testkit::{all, describe, one, text, Kit};
    use umbox_store::DistinguishedFolder;

    const ALICE: &str = "alice@example.test";

    fn object(kind: ObjectType, values: &[&str]) -> DictionaryObject {
        DictionaryObject {
            kind,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    fn entry(key: &str, value: Option<DictionaryObject>) -> Entry {
        Entry {
            key: object(ObjectType::String, &[key]),
            value,
        }
    }

    fn target(kit: &Kit, name: &str) -> Target {
        Target {
            folder: kit.folder(ALICE, DistinguishedFolder::Root),
            name: ConfigName::parse(name).unwrap(),
        }
    }

    fn code<T: std::fmt::Debug>(result: Result<T, Error>) -> ResponseCode {
        result.unwrap_err().response_code()
    }

    /// The typed steps: create, read back in parts, merge on update, delete; the object is a
    /// hidden item of its folder; each refusal has Exchange's code and changes nothing.
    #[test]
    fn run_creates_reads_updates_and_deletes_hidden_objects() {
        let kit = Kit::new();
        let request = kit.request(ALICE);
        let store = request.ctx.store;
        let greeting = target(&kit, "Um.CustomGreetings.External");
        let create = |target: &Target, content: Content| {
            CreateUserConfiguration {
                configuration: Ok((target.clone(), content)),
            }
            .run(&request)
            .unwrap()
        };
        let get = |target: &Target, wanted| {
            GetUserConfiguration {
                target: Ok(target.clone()),
                wanted,
            }
            .run(&request)
            .unwrap()
        };
        let update = |target: &Target, content: Content| {
            UpdateUserConfiguration {
                configuration: Ok((target.clone(), content)),
            }
            .run(&request)
            .unwrap()
        };
        let all_parts = Wanted {
            id: true,
            dictionary: true,
            xml: true,
            binary: true,
        };

        assert_eq!(
            code(get(&greeting, all_parts)),
            ResponseCode::ErrorItemNotFound
        );
        let content = Content {
            dictionary: Some(vec![
                entry("Enabled", Some(object(ObjectType::Boolean, &["true"]))),
                entry(
                    "Numbers",
                    Some(object(ObjectType::StringArray, &["1", "2"])),
                ),
                entry("Nothing", None),
            ]),
            xml: None,
            binary: Some(b"RIFF audio".to_vec()),
        };
        create(&greeting, content.clone()).unwrap();
        let found = get(&greeting, all_parts).unwrap();
        assert_eq!(found.content, content);
        assert!(found.item.is_some());
        let binary_only = Wanted {
            binary: true,
            ..Wanted::default()
        };
        let found = get(&greeting, binary_only).unwrap();
        assert_eq!((found.item, found.content.dictionary), (None, None));

        let root = greeting.folder;
        assert!(store.items(&request.mailbox, root).unwrap().is_empty());
        let hidden = store.associated_items(&request.mailbox, root).unwrap();
        assert_eq!(
            hidden[0].props.unicode(tags::MESSAGE_CLASS),
            Some("IPM.Configuration.Um.CustomGreetings.External")
        );

        // The name identifies the object, whatever its case.
        let again = target(&kit, "um.customgreetings.EXTERNAL");
        assert_eq!(
            code(create(&again, Content::default())),
            ResponseCode::ErrorItemSave
        );

        let changes = Content {
            dictionary: Some(vec![
                entry("Enabled", Some(object(ObjectType::Boolean, &["false"]))),
                entry("Added", Some(object(ObjectType::Integer32, &["-7"]))),
            ]),
            xml: None,
            binary: Some(b"RIFF other".to_vec()),
        };
        update(&again, changes).unwrap();
        let merged = get(&greeting, all_parts).unwrap().content;
        assert_eq!(
            merged,
            Content {
                dictionary: Some(vec![
                    entry("Enabled", Some(object(ObjectType::Boolean, &["false"]))),
                    entry(
                        "Numbers",
                        Some(object(ObjectType::StringArray, &["1", "2"]))
                    ),
                    entry("Nothing", None),
                    entry("Added", Some(object(ObjectType::Integer32, &["-7"]))),
                ]),
                xml: None,
                binary: Some(b"RIFF other".to_vec()),
            }
        );
        let xml = Content {
            xml: Some(b"<a/>".to_vec()),
            ..Content::default()
        };
        assert_eq!(
            code(update(&greeting, xml)),
            ResponseCode::ErrorUserConfigurationXmlDataNotExist
        );
        let other = target(&kit, "Other");
        assert_eq!(
            code(update(&other, Content::default())),
            ResponseCode::ErrorItemNotFound
        );
        let huge = Content {
            binary: Some(vec![0; MAX_PART_BYTES + 1]),
            ..Content::default()
        };
        assert_eq!(
            code(create(&other, huge)),
            ResponseCode::ErrorMessageSizeExceeded
        );
        assert_eq!(
            code(get(&other, all_parts)),
            ResponseCode::ErrorItemNotFound
        );

        let delete = |target: &Target| {
            DeleteUserConfiguration {
                target: Ok(target.clone()),
            }
            .run(&request)
            .unwrap()
        };
        delete(&greeting).unwrap();
        assert_eq!(code(delete(&greeting)), ResponseCode::ErrorItemNotFound);
        assert!(store
            .associated_items(&request.mailbox, root)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn dictionaries_round_trip_and_damaged_bytes_are_refused() {
        let entries = vec![
            entry(
                "when",
                Some(object(ObjectType::DateTime, &["2026-11-23T16:00:00Z"])),
            ),
            entry("", Some(object(ObjectType::ByteArray, &["AAEC"]))),
            Entry {
                key: object(ObjectType::UnsignedInteger64, &["18446744073709551615"]),
                value: None,
            },
        ];
        let bytes = encode_dictionary(&entries);
        assert_eq!(decode_dictionary(&bytes), Some(entries));
        for cut in 0..bytes.len() {
            assert_eq!(
                decode_dictionary(bytes.get(..cut).unwrap()),
                None,
                "cut at {cut}"
            );
        }
        assert_eq!(decode_dictionary(&[0xFF, 0xFF, 0xFF, 0x7F]), None);
    }

    fn create_soap(kit: &Kit, configuration: &str) -> Element {
        let body = kit.call(&format!(
            "<m:CreateUserConfiguration><m:UserConfiguration>{configuration}</m:UserConfiguration></m:CreateUserConfiguration>"
        ));
        one(
            &body,
            &[
                "CreateUserConfigurationResponse",
                "ResponseMessages",
                "CreateUserConfigurationResponseMessage",
            ],
        )
        .clone()
    }

    const ROOT: &str = r#"<t:DistinguishedFolderId Id="root"/>"#;

    /// Whole documents through `handle`: what exchangelib sends and reads, and each bad input
    /// answered with its own code in the response message.
    #[test]
    fn soap_requests_and_answers() {
        let kit = Kit::new();
        let created = create_soap(
            &kit,
            &format!(
                r#"<t:UserConfigurationName Name="Test.Config">{ROOT}</t:UserConfigurationName><t:Dictionary><t:DictionaryEntry><t:DictionaryKey><t:Type>String</t:Type><t:Value>PhoneNumber</t:Value></t:DictionaryKey><t:DictionaryValue><t:Type>String</t:Type><t:Value>555-555-1111</t:Value></t:DictionaryValue></t:DictionaryEntry></t:Dictionary><t:BinaryData>UklGRg==</t:BinaryData>"#
            ),
        );
        assert_eq!(
            created.attribute("", "ResponseClass"),
            Some("Success"),
            "{}",
            describe(&created)
        );

        let body = kit.call(&format!(
            r#"<m:GetUserConfiguration><m:UserConfigurationName Name="Test.Config">{ROOT}</m:UserConfigurationName><m:UserConfigurationProperties>All</m:UserConfigurationProperties></m:GetUserConfiguration>"#
        ));
        let message = one(
            &body,
            &[
                "GetUserConfigurationResponse",
                "ResponseMessages",
                "GetUserConfigurationResponseMessage",
            ],
        );
        let configuration = one(message, &["UserConfiguration"]);
        let names: Vec<&str> = configuration.children().map(Element::name).collect();
        assert_eq!(
            names,
            [
                "UserConfigurationName",
                "ItemId",
                "Dictionary",
                "BinaryData"
            ]
        );
        assert_eq!(
            one(configuration, &["UserConfigurationName"]).attribute("", "Name"),
            Some("Test.Config")
        );
        assert_eq!(text(configuration, &["BinaryData"]), "UklGRg==");
        assert_eq!(
            text(
                configuration,
                &["Dictionary", "DictionaryEntry", "DictionaryValue", "Value"]
            ),
            "555-555-1111"
        );

        let refused = |configuration: &str| {
            let message = create_soap(&kit, configuration);
            text(&message, &["ResponseCode"]).to_owned()
        };
        let named = |name: &str, rest: &str| {
            format!(
                r#"<t:UserConfigurationName Name="{name}">{ROOT}</t:UserConfigurationName>{rest}"#
            )
        };
        assert_eq!(refused(&named("Test.Config", "")), "ErrorItemSave");
        assert_eq!(
            refused(&named("has space", "")),
            "ErrorInvalidValueForPropertyUserConfigurationName"
        );
        assert_eq!(
            refused(&named("", "")),
            "ErrorInvalidValueForPropertyUserConfigurationName"
        );
        assert_eq!(
            refused(&named("B", "<t:BinaryData>not base64!</t:BinaryData>")),
            "ErrorInvalidValueForPropertyBinaryData"
        );
        let entry = |key: &str, value: &str| {
            format!("<t:DictionaryEntry><t:DictionaryKey>{key}</t:DictionaryKey><t:DictionaryValue>{value}</t:DictionaryValue></t:DictionaryEntry>")
        };
        let string = "<t:Type>String</t:Type><t:Value>k</t:Value>";
        let duplicate = format!(
            "<t:Dictionary>{}{}</t:Dictionary>",
            entry(string, string),
            entry(string, string)
        );
        assert_eq!(
            refused(&named("D", &duplicate)),
            "ErrorInvalidValueForPropertyDuplicateDictionaryKey"
        );
        let not_an_int = format!(
            "<t:Dictionary>{}</t:Dictionary>",
            entry(string, "<t:Type>Integer32</t:Type><t:Value>ten</t:Value>")
        );
        assert_eq!(
            refused(&named("D", &not_an_int)),
            "ErrorInvalidValueForPropertyKeyValueConversion"
        );
        let two_values = format!(
            "<t:Dictionary>{}</t:Dictionary>",
            entry(
                "<t:Type>String</t:Type><t:Value>a</t:Value><t:Value>b</t:Value>",
                string
            )
        );
        assert_eq!(
            refused(&named("D", &two_values)),
            "ErrorInvalidValueForPropertyStringArrayDictionaryKey"
        );
        let (status, fault) = kit.call_as(
            ALICE,
            "Exchange2016",
            None,
            &format!(
                r#"<m:CreateUserConfiguration><m:UserConfiguration>{}</m:UserConfiguration></m:CreateUserConfiguration>"#,
                named("D", &format!("<t:Dictionary>{}</t:Dictionary>", entry("<t:Type>Float</t:Type><t:Value>1</t:Value>", string)))
            ),
        );
        assert_eq!(
            status,
            500,
            "an unknown Type breaks the schema: {}",
            describe(&fault)
        );
        assert!(all(&kit.call(&format!(
            r#"<m:DeleteUserConfiguration><m:UserConfigurationName Name="Test.Config">{ROOT}</m:UserConfigurationName></m:DeleteUserConfiguration>"#
        )), &["DeleteUserConfigurationResponse", "ResponseMessages", "DeleteUserConfigurationResponseMessage"])
        .iter()
        .all(|m| m.attribute("", "ResponseClass") == Some("Success")));
    }
}
