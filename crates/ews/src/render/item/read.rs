//! Items from requests: CreateItem item elements (fields, extended properties, attachments, MIME
//! content), UpdateItem changes (SetItemField, AppendToItemField, DeleteItemField), attachments,
//! and what every new or sent item gets. Reads the same field table the parent module writes
//! from, so a field parses into the properties it renders from. Never touches the store except
//! to name a stored item's named properties ([`portable`]).

use super::*;
use umbox_store::oxum;

/// Why an item element was refused: a schema violation fails the whole request, anything else
/// only that item.
#[derive(Debug)]
pub(crate) enum Invalid {
    /// Not valid against the EWS schema.
    Schema(Fault),
    /// Valid, but refused for this item.
    Item(Error),
}

impl From<Error> for Invalid {
    fn from(error: Error) -> Invalid {
        Invalid::Item(error)
    }
}

impl From<Fault> for Invalid {
    fn from(fault: Fault) -> Invalid {
        Invalid::Schema(fault)
    }
}

/// A parsed item element of CreateItem (or of an item attachment).
#[derive(Debug, Default)]
pub(crate) struct NewItem {
    /// The properties to store.
    pub(crate) props: Vec<(PropKey, PropValue)>,
    /// `IsRead`, when given.
    pub(crate) read: Option<bool>,
    /// Attachments, in order.
    pub(crate) attachments: Vec<NewAttachment>,
}

/// Parses a CreateItem item element (`t:Message`, `t:Contact`, `t:CalendarItem`, `t:Item`).
pub(crate) fn read_item(
    request: &Request<'_>,
    element: &Element,
) -> Result<(Kind, NewItem), Invalid> {
    let kind = Kind::from_element(element).ok_or_else(|| {
        Invalid::Item(Error::new(
            ResponseCode::ErrorInvalidRequest,
            format!("umbox does not create items of type {}", element.name()),
        ))
    })?;
    let mut item = NewItem::default();
    for child in element.children() {
        if child.namespace() != ns::EWS_TYPES {
            return Err(Fault::schema(format!(
                "unexpected element {} in {}",
                child.name(),
                element.name()
            ))
            .into());
        }
        if child.name() == "ExtendedProperty" {
            item.props.push(read_extended_property(child)?);
            continue;
        }
        let field = field_by_element(kind, child.name()).ok_or_else(|| {
            Invalid::Item(Error::new(
                ResponseCode::ErrorInvalidPropertySet,
                format!(
                    "umbox does not store {} on a {}",
                    child.name(),
                    kind.element()
                ),
            ))
        })?;
        if !field.writable {
            return Err(Error::new(
                ResponseCode::ErrorInvalidPropertySet,
                format!("{} is read-only", field.uri.as_str()),
            )
            .into());
        }
        match field.value {
            Value::Flag(_) => item.read = Some(parse_bool(child.trimmed_text())?),
            Value::Computed(Computed::MimeContent) => {
                let (props, attachments) = read_mime_content(kind, child)?;
                // What the other elements set wins over the MIME form.
                item.props.splice(0..0, props);
                item.attachments.splice(0..0, attachments);
            }
            Value::Computed(Computed::Attachments) => {
                for attachment in child.children() {
                    item.attachments.push(read_attachment(request, attachment)?);
                }
            }
            _ => item.props.extend(read_value(field, child, None)?),
        }
    }
    Ok((kind, item))
}

/// Parses the value `element` gives `field`. `entry` limits a dictionary to one key (an
/// IndexedFieldURI update).
fn read_value(
    field: &Field,
    element: &Element,
    entry: Option<&str>,
) -> Result<Vec<(PropKey, PropValue)>, Invalid> {
    let value = element.trimmed_text();
    let one = |prop: Prop, v: PropValue| Ok(vec![(prop.key(), v)]);
    match field.value {
        Value::Text(p) => one(p, PropValue::Unicode(element.text().to_owned())),
        Value::Bool(p) => one(p, PropValue::Boolean(parse_bool(value)?)),
        Value::Language(p) => {
            if !is_language(value) {
                return Err(Fault::schema(format!(
                    "{} {value:?} is not a language tag",
                    field.element
                ))
                .into());
            }
            one(p, PropValue::Unicode(value.to_owned()))
        }
        Value::Int(p, bounds) => {
            let v: i32 = value.parse().map_err(|_| {
                Fault::schema(format!("{} {value:?} is not an integer", field.element))
            })?;
            if !bounds.contains(i64::from(v)) {
                return Err(Fault::schema(format!(
                    "{} {v} is outside {}..={}",
                    field.element, bounds.min, bounds.max
                ))
                .into());
            }
            one(p, PropValue::Int32(v))
        }
        Value::Time(p) => one(
            p,
            PropValue::SystemTime(FileTime::from_system_time(parse_time(
                field.element,
                value,
            )?)),
        ),
        Value::Base64(p) => one(p, PropValue::Binary(parse_base64(field.element, value)?)),
        Value::Choice(p, choices) => {
            let index = choices
                .iter()
                .position(|c| *c == value)
                .and_then(|i| i32::try_from(i).ok())
                .ok_or_else(|| {
                    Fault::schema(format!(
                        "{} {value:?} is not one of {choices:?}",
                        field.element
                    ))
                })?;
            one(p, PropValue::Int32(index))
        }
        Value::Strings(p) => {
            let values = element
                .children()
                .filter(|c| c.is(ns::EWS_TYPES, "String"))
                .map(|c| c.text().to_owned())
                .collect();
            one(p, PropValue::MultiUnicode(values))
        }
        Value::Mailbox(name, address) => {
            let mailbox = element
                .children()
                .find(|c| c.is(ns::EWS_TYPES, "Mailbox"))
                .ok_or_else(|| Fault::schema(format!("{} needs a Mailbox", field.element)))?;
            let recipient = read_mailbox(mailbox)?;
            Ok(vec![
                (PropKey::Tag(name), PropValue::Unicode(recipient.name)),
                (PropKey::Tag(address), PropValue::Unicode(recipient.address)),
            ])
        }
        Value::Mailboxes(p) => {
            let list = element
                .children()
                .filter(|c| c.is(ns::EWS_TYPES, "Mailbox"))
                .map(|m| read_mailbox(m).map(|r| r.encode()))
                .collect::<Result<Vec<_>, _>>()?;
            one(p, PropValue::MultiUnicode(list))
        }
        Value::Attendees(p) => {
            let list = element
                .children()
                .filter(|c| c.is(ns::EWS_TYPES, "Attendee"))
                .map(|a| {
                    let mailbox = a
                        .children()
                        .find(|c| c.is(ns::EWS_TYPES, "Mailbox"))
                        .ok_or_else(|| {
                            Invalid::Schema(Fault::schema("Attendee needs a Mailbox"))
                        })?;
                    read_mailbox(mailbox).map(|r| r.encode())
                })
                .collect::<Result<Vec<_>, _>>()?;
            one(p, PropValue::MultiUnicode(list))
        }
        Value::Emails => {
            let mut out = Vec::new();
            for entry_element in element.children().filter(|c| c.is(ns::EWS_TYPES, "Entry")) {
                let key = entry_element.attribute("", "Key").unwrap_or_default();
                if entry.is_some_and(|wanted| wanted != key) {
                    continue;
                }
                let (_, address, name) = named::EMAILS
                    .iter()
                    .find(|(k, _, _)| *k == key)
                    .ok_or_else(|| {
                        Fault::schema(format!("EmailAddresses key {key:?} is not valid"))
                    })?;
                out.push((
                    n(*address).key(),
                    PropValue::Unicode(entry_element.trimmed_text().to_owned()),
                ));
                if let Some(display) = entry_element.attribute("", "Name") {
                    out.push((n(*name).key(), PropValue::Unicode(display.to_owned())));
                }
            }
            Ok(out)
        }
        Value::Phones => {
            let mut out = Vec::new();
            for entry_element in element.children().filter(|c| c.is(ns::EWS_TYPES, "Entry")) {
                let key = entry_element.attribute("", "Key").unwrap_or_default();
                if entry.is_some_and(|wanted| wanted != key) {
                    continue;
                }
                let (_, tag) = PHONES.iter().find(|(k, _)| *k == key).ok_or_else(|| {
                    Invalid::Item(Error::new(
                        ResponseCode::ErrorInvalidPropertySet,
                        format!("umbox does not store the phone number {key:?}"),
                    ))
                })?;
                out.push((
                    PropKey::Tag(*tag),
                    PropValue::Unicode(entry_element.trimmed_text().to_owned()),
                ));
            }
            Ok(out)
        }
        Value::TimeZone(p) => {
            let id = element.attribute("", "Id").unwrap_or_default();
            if id.is_empty() {
                return Err(Error::new(
                    ResponseCode::ErrorInvalidPropertySet,
                    format!("{} without an Id is not supported", field.element),
                )
                .into());
            }
            one(p, PropValue::Unicode(id.to_owned()))
        }
        Value::Computed(Computed::Body) => match element.attribute("", "BodyType") {
            Some("Text") => one(t(tags::BODY), PropValue::Unicode(element.text().to_owned())),
            Some("HTML") => one(
                t(tags::HTML),
                PropValue::Binary(element.text().as_bytes().to_vec()),
            ),
            other => Err(Fault::schema(format!("BodyType {other:?} must be Text or HTML")).into()),
        },
        Value::Flag(_) | Value::Display(_) | Value::Computed(_) => Err(Error::new(
            ResponseCode::ErrorInvalidPropertySet,
            format!("{} cannot be set this way", field.uri.as_str()),
        )
        .into()),
    }
}

fn parse_time(element: &str, value: &str) -> Result<SystemTime, Fault> {
    time::parse(value)
        .ok_or_else(|| Fault::schema(format!("{element} {value:?} is not an xs:dateTime")))
}

fn parse_base64(element: &str, value: &str) -> Result<Vec<u8>, Fault> {
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| Fault::schema(format!("{element} is not base64")))
}

/// `t:Mailbox` (EmailAddressType) as a recipient; only SMTP addresses are accepted.
fn read_mailbox(mailbox: &Element) -> Result<Recipient, Invalid> {
    let part = |name| {
        child(mailbox, name)
            .map(Element::trimmed_text)
            .unwrap_or_default()
    };
    let address = part("EmailAddress");
    let routing = part("RoutingType");
    if !routing.is_empty() && !routing.eq_ignore_ascii_case("SMTP") {
        return Err(Error::new(
            ResponseCode::ErrorInvalidRecipients,
            format!("routing type {routing:?} is not supported; use SMTP addresses"),
        )
        .into());
    }
    let valid = address
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !address.contains(|c: char| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')
        });
    if !valid {
        return Err(Error::new(
            ResponseCode::ErrorInvalidRecipients,
            format!("{address:?} is not an SMTP address"),
        )
        .into());
    }
    let name: String = part("Name")
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '<' | '>'))
        .collect();
    Ok(Recipient {
        name,
        address: address.to_owned(),
    })
}

/// Parses `t:ExtendedProperty` into the property and value it sets
/// (ErrorInvalidExtendedPropertyValue when the value does not fit the type).
fn read_extended_property(element: &Element) -> Result<(PropKey, PropValue), Invalid> {
    let uri = child(element, "ExtendedFieldURI")
        .ok_or_else(|| Fault::schema("ExtendedProperty needs ExtendedFieldURI"))?;
    let field = parse_extended(uri)?;
    let single = child(element, "Value").map(Element::text);
    let multi: Option<Vec<&str>> =
        child(element, "Values").map(|v| v.children().map(Element::text).collect());
    let value = extended_value(&field, single, multi.as_deref())?;
    let key = match field.key {
        ExtendedKey::Tag(id) => PropKey::Tag(PropTag::new(id, field.prop_type)),
        ExtendedKey::Named(name) => PropKey::Named(name, field.prop_type),
    };
    Ok((key, value))
}

fn extended_value(
    field: &ExtendedField,
    single: Option<&str>,
    multi: Option<&[&str]>,
) -> Result<PropValue, Invalid> {
    let bad = |detail: &str| {
        Invalid::Item(Error::new(
            ResponseCode::ErrorInvalidExtendedPropertyValue,
            format!("extended property value {detail}"),
        ))
    };
    let b64 = |v: &str| {
        let compact: String = v.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| bad(&format!("{v:?} is not base64")))
    };
    let number = |v: &str| {
        v.trim()
            .parse::<i64>()
            .map_err(|_| bad(&format!("{v:?} is not an integer")))
    };
    let int32 = |v: &str| {
        number(v).and_then(|n| i32::try_from(n).map_err(|_| bad(&format!("{v:?} is out of range"))))
    };
    if field.prop_type.is_multi() {
        let values = multi.ok_or_else(|| bad("needs Values for an array type"))?;
        return Ok(match field.prop_type {
            PropType::MultiInt32 => {
                PropValue::MultiInt32(values.iter().map(|v| int32(v)).collect::<Result<_, _>>()?)
            }
            PropType::MultiInt64 => {
                PropValue::MultiInt64(values.iter().map(|v| number(v)).collect::<Result<_, _>>()?)
            }
            PropType::MultiBinary => {
                PropValue::MultiBinary(values.iter().map(|v| b64(v)).collect::<Result<_, _>>()?)
            }
            _ => PropValue::MultiUnicode(values.iter().map(|v| (*v).to_owned()).collect()),
        });
    }
    let value = single.ok_or_else(|| bad("needs Value for a single-valued type"))?;
    Ok(match field.prop_type {
        PropType::Int32 => PropValue::Int32(int32(value)?),
        PropType::Int64 => PropValue::Int64(number(value)?),
        PropType::Double => PropValue::Double(
            value
                .trim()
                .parse()
                .map_err(|_| bad(&format!("{value:?} is not a number")))?,
        ),
        PropType::Boolean => PropValue::Boolean(match value.trim() {
            "true" | "1" => true,
            "false" | "0" => false,
            other => return Err(bad(&format!("{other:?} is not a boolean"))),
        }),
        PropType::SystemTime => PropValue::SystemTime(FileTime::from_system_time(
            time::parse(value).ok_or_else(|| bad(&format!("{value:?} is not an xs:dateTime")))?,
        )),
        PropType::Guid => PropValue::Guid(
            Guid::parse(value.trim()).ok_or_else(|| bad(&format!("{value:?} is not a GUID")))?,
        ),
        PropType::Binary => PropValue::Binary(b64(value)?),
        _ => PropValue::Unicode(value.to_owned()),
    })
}

/// Properties an imported MIME form replaces: set from its headers and bodies, removed when a
/// new form lacks them.
fn mime_keys() -> Vec<PropKey> {
    let mut keys: Vec<PropKey> = [
        tags::SUBJECT,
        tags::SENT_REPRESENTING_NAME,
        tags::SENT_REPRESENTING_EMAIL_ADDRESS,
        tags::SENDER_NAME,
        tags::SENDER_EMAIL_ADDRESS,
        tag::IN_REPLY_TO_ID,
        tag::INTERNET_REFERENCES,
        tags::BODY,
        tags::HTML,
    ]
    .into_iter()
    .map(PropKey::Tag)
    .collect();
    keys.extend(
        [
            named::TO,
            named::CC,
            named::BCC,
            named::REPLY_TO,
            named::KEYWORDS,
        ]
        .into_iter()
        .map(|p| n(p).key()),
    );
    keys
}

/// The properties and attachments of an imported message.
type Imported = (Vec<(PropKey, PropValue)>, Vec<NewAttachment>);

/// `t:MimeContent` as the properties and attachments of a message.
fn read_mime_content(kind: Kind, element: &Element) -> Result<Imported, Invalid> {
    if !matches!(kind, Kind::Message | Kind::Item) {
        return Err(Error::new(
            ResponseCode::ErrorUnsupportedMimeConversion,
            format!(
                "umbox reads MIME content for messages, not for a {}",
                kind.element()
            ),
        )
        .into());
    }
    let bytes = parse_base64("MimeContent", element.text())?;
    read_mime(&bytes, true)
}

/// Reads an Internet message into item properties: headers (with the MS-OXOUM voice headers
/// back into their properties), bodies and attachments. With `nested`, a `message/rfc822` part
/// becomes an item attachment; inside one, parts stay in its MIME content only.
fn read_mime(bytes: &[u8], nested: bool) -> Result<Imported, Invalid> {
    let parsed = mime::parse(bytes).map_err(|e| {
        Error::new(
            ResponseCode::ErrorUnsupportedMimeConversion,
            format!("the MIME content cannot be read: {e}"),
        )
    })?;
    let mut props: Vec<(PropKey, PropValue)> = Vec::new();
    let unicode = |value: String| PropValue::Unicode(value);
    if let Some(subject) = parsed.text("Subject") {
        props.push((tags::SUBJECT.into(), unicode(subject)));
    }
    let first = |name| parsed.addresses(name)?.into_iter().next();
    let from = first("From");
    for (mailbox, (name_tag, address_tag)) in [
        (
            from.clone(),
            (
                tags::SENT_REPRESENTING_NAME,
                tags::SENT_REPRESENTING_EMAIL_ADDRESS,
            ),
        ),
        (
            first("Sender").or(from),
            (tags::SENDER_NAME, tags::SENDER_EMAIL_ADDRESS),
        ),
    ] {
        if let Some((name, address)) = mailbox {
            props.push((name_tag.into(), unicode(name)));
            props.push((address_tag.into(), unicode(address)));
        }
    }
    for (header_name, list) in [
        ("To", named::TO),
        ("Cc", named::CC),
        ("Bcc", named::BCC),
        ("Reply-To", named::REPLY_TO),
    ] {
        if let Some(entries) = parsed.addresses(header_name) {
            let entries = entries
                .into_iter()
                .map(|(name, address)| Recipient { name, address }.encode())
                .collect();
            props.push((n(list).key(), PropValue::MultiUnicode(entries)));
        }
    }
    if let Some(date) = parsed.date() {
        props.push((
            tags::CLIENT_SUBMIT_TIME.into(),
            PropValue::SystemTime(FileTime::from_system_time(date)),
        ));
    }
    for (name, tag) in [
        ("Message-ID", tags::INTERNET_MESSAGE_ID),
        ("In-Reply-To", tag::IN_REPLY_TO_ID),
        ("References", tag::INTERNET_REFERENCES),
    ] {
        if let Some(value) = parsed.text(name) {
            props.push((tag.into(), unicode(value)));
        }
    }
    let importance = match (
        parsed.text("Importance").as_deref(),
        parsed.text("X-Priority").as_deref(),
    ) {
        (Some(i), _) if i.eq_ignore_ascii_case("high") => Some(2),
        (Some(i), _) if i.eq_ignore_ascii_case("low") => Some(0),
        (Some(_), _) => Some(1),
        (None, Some(p)) if p.starts_with(['1', '2']) => Some(2),
        (None, Some(p)) if p.starts_with(['4', '5']) => Some(0),
        _ => None,
    };
    if let Some(importance) = importance {
        props.push((tags::IMPORTANCE.into(), PropValue::Int32(importance)));
    }
    if let Some(keywords) = parsed.text("Keywords") {
        let list = keywords
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect();
        props.push((n(named::KEYWORDS).key(), PropValue::MultiUnicode(list)));
    }
    voice_properties(&parsed, &mut props);
    if let Some(text) = &parsed.text {
        props.push((tags::BODY.into(), unicode(text.clone())));
    }
    if let Some(html) = &parsed.html {
        props.push((
            tags::HTML.into(),
            PropValue::Binary(html.as_bytes().to_vec()),
        ));
    }
    props.push((
        tag::TRANSPORT_MESSAGE_HEADERS.into(),
        unicode(parsed.header_block.clone()),
    ));
    let mut attachments = Vec::new();
    for part in parsed.parts.iter().filter(|_| nested) {
        let mut attachment_props = vec![
            (
                tags::ATTACH_LONG_FILENAME.into(),
                unicode(part.name.clone()),
            ),
            (
                tags::ATTACH_MIME_TAG.into(),
                unicode(part.content_type.clone()),
            ),
            (
                tag::ATTACH_FLAGS.into(),
                PropValue::Int32(if part.inline {
                    ATTACH_RENDERED_IN_BODY
                } else {
                    0
                }),
            ),
        ];
        if let Some(id) = &part.content_id {
            attachment_props.push((tag::ATTACH_CONTENT_ID.into(), unicode(id.clone())));
        }
        if part.embedded {
            let (mut inner, _) = read_mime(&part.content, false)?;
            if !inner
                .iter()
                .any(|(k, _)| *k == PropKey::Tag(tags::MESSAGE_CLASS))
            {
                inner.push((
                    tags::MESSAGE_CLASS.into(),
                    unicode(Kind::Message.default_class().to_owned()),
                ));
            }
            inner.push((
                tags::MESSAGE_FLAGS.into(),
                PropValue::Int32(tags::MSGFLAG_READ),
            ));
            inner.extend(attachment_props);
            inner.push((
                tag::ATTACH_METHOD.into(),
                PropValue::Int32(ATTACH_EMBEDDED_MESSAGE),
            ));
            attachments.push(NewAttachment {
                props: inner,
                content: part.content.clone(),
            });
        } else {
            attachment_props.push((tag::ATTACH_METHOD.into(), PropValue::Int32(ATTACH_BY_VALUE)));
            attachments.push(NewAttachment {
                props: attachment_props,
                content: part.content.clone(),
            });
        }
    }
    Ok((props, attachments))
}

/// The class and MS-OXOUM properties a voice, missed-call or fax message's headers carry
/// (the inverse of [`voice_headers`]).
fn voice_properties(parsed: &mime::Parsed<'_>, props: &mut Vec<(PropKey, PropValue)>) {
    let Some(class) = parsed
        .text("Content-Class")
        .and_then(|value| oxum::UmClass::of_content_class(&value))
    else {
        return;
    };
    props.push((
        tags::MESSAGE_CLASS.into(),
        PropValue::Unicode(class.message_class.to_owned()),
    ));
    for header in oxum::HEADERS {
        let Some(value) = parsed.text(header.name) else {
            continue;
        };
        let value = match header.tag.prop_type() {
            PropType::Int32 => match value.trim().parse() {
                Ok(number) => PropValue::Int32(number),
                Err(_) => continue,
            },
            _ => PropValue::Unicode(value),
        };
        props.push((header.tag.into(), value));
    }
}

/// Parses `t:FileAttachment` or `t:ItemAttachment` into an attachment to store.
pub(crate) fn read_attachment(
    request: &Request<'_>,
    element: &Element,
) -> Result<NewAttachment, Invalid> {
    let embedded = match (element.namespace() == ns::EWS_TYPES, element.name()) {
        (true, "FileAttachment") => false,
        (true, "ItemAttachment") => true,
        _ => return Err(Fault::schema(format!("{} is not an attachment", element.name())).into()),
    };
    let mut props: Vec<(PropKey, PropValue)> = Vec::new();
    let mut flags = 0;
    let mut content = Vec::new();
    let mut item = None;
    for part in element.children() {
        match part.name() {
            "Name" => props.push((
                tags::ATTACH_LONG_FILENAME.into(),
                PropValue::Unicode(part.text().to_owned()),
            )),
            "ContentType" => props.push((
                tags::ATTACH_MIME_TAG.into(),
                PropValue::Unicode(part.trimmed_text().to_owned()),
            )),
            "ContentId" => props.push((
                tag::ATTACH_CONTENT_ID.into(),
                PropValue::Unicode(part.trimmed_text().to_owned()),
            )),
            "ContentLocation" => props.push((
                tag::ATTACH_CONTENT_LOCATION.into(),
                PropValue::Unicode(part.trimmed_text().to_owned()),
            )),
            "IsInline" => {
                if parse_bool(part.trimmed_text())? {
                    flags |= ATTACH_RENDERED_IN_BODY;
                }
            }
            "IsContactPhoto" if !embedded => props.push((
                tag::ATTACHMENT_CONTACT_PHOTO.into(),
                PropValue::Boolean(parse_bool(part.trimmed_text())?),
            )),
            "Content" if !embedded => content = parse_base64("Content", part.text())?,
            // Written by servers, ignored when a client echoes them back.
            "AttachmentId" | "Size" | "LastModifiedTime" => {}
            _ if embedded && item.is_none() => item = Some(read_item(request, part)?),
            other => {
                return Err(Fault::schema(format!(
                    "unexpected element {other} in {}",
                    element.name()
                ))
                .into())
            }
        }
    }
    props.push((tag::ATTACH_FLAGS.into(), PropValue::Int32(flags)));
    if !embedded {
        props.push((tag::ATTACH_METHOD.into(), PropValue::Int32(ATTACH_BY_VALUE)));
        return Ok(NewAttachment { props, content });
    }
    let (kind, mut item) = item.ok_or_else(|| Fault::schema("ItemAttachment needs an item"))?;
    if !item.attachments.is_empty() {
        return Err(Error::new(
            ResponseCode::ErrorAttachmentNestLevelLimitExceeded,
            "an item attachment cannot hold attachments of its own here",
        )
        .into());
    }
    complete_new_item(request, kind, &mut item, tags::MSGFLAG_READ);
    // The embedded item's MIME form is its content, so the attachment has a size and can be
    // downloaded as a message; its properties sit beside the attachment's own.
    let seed = u64::try_from(FileTime::from_system_time(request.ctx.now).0).unwrap_or_default();
    let content = mime(request, &Pending(&item.props), &[], seed);
    props.push((
        tags::ATTACH_MIME_TAG.into(),
        PropValue::Unicode("message/rfc822".to_owned()),
    ));
    props.push((
        tag::ATTACH_METHOD.into(),
        PropValue::Int32(ATTACH_EMBEDDED_MESSAGE),
    ));
    let mut all = item.props;
    all.extend(props);
    Ok(NewAttachment {
        props: all,
        content,
    })
}

/// Fills in what every new item gets: its class, PidTagMessageFlags (`base_flags` with IsRead
/// applied, unless the request set the flags itself), the last modifier, normal importance and
/// sensitivity unless given and, for messages, a conversation topic and an Internet message id;
/// a calendar item's organizer is its owner.
pub(crate) fn complete_new_item(
    request: &Request<'_>,
    kind: Kind,
    item: &mut NewItem,
    base_flags: i32,
) {
    let pending = Pending(&item.props);
    if text(&pending, t(tags::MESSAGE_CLASS)).is_none() {
        item.props.push((
            tags::MESSAGE_CLASS.into(),
            PropValue::Unicode(kind.default_class().to_owned()),
        ));
    }
    let pending = Pending(&item.props);
    let explicit_flags = int(&pending, t(tags::MESSAGE_FLAGS)).and_then(|f| i32::try_from(f).ok());
    let mut flags = explicit_flags.unwrap_or(base_flags);
    match item.read {
        Some(true) => flags |= tags::MSGFLAG_READ,
        Some(false) => flags &= !tags::MSGFLAG_READ,
        None if explicit_flags.is_none() && kind != Kind::Message => flags |= tags::MSGFLAG_READ,
        None => {}
    }
    item.props
        .push((tags::MESSAGE_FLAGS.into(), PropValue::Int32(flags)));
    item.props.push((
        tag::LAST_MODIFIER_NAME.into(),
        PropValue::Unicode(request.ctx.caller.display_name.clone()),
    ));
    // Exchange gives every item a normal importance and sensitivity unless told otherwise.
    for (tag, normal) in [(tags::IMPORTANCE, 1), (tag::SENSITIVITY, 0)] {
        if int(&Pending(&item.props), t(tag)).is_none() {
            item.props.push((tag.into(), PropValue::Int32(normal)));
        }
    }
    let pending = Pending(&item.props);
    if kind == Kind::Message {
        if text(&pending, t(tag::CONVERSATION_TOPIC)).is_none() {
            let topic =
                conversation_topic(text(&pending, t(tags::SUBJECT)).unwrap_or_default()).to_owned();
            item.props
                .push((tag::CONVERSATION_TOPIC.into(), PropValue::Unicode(topic)));
        }
        let pending = Pending(&item.props);
        if text(&pending, t(tags::INTERNET_MESSAGE_ID)).is_none() {
            let id = message_id(request, &item.props);
            item.props
                .push((tags::INTERNET_MESSAGE_ID.into(), PropValue::Unicode(id)));
        }
    }
    if kind == Kind::CalendarItem && author(&Pending(&item.props)).is_none() {
        item.props.push((
            tags::SENT_REPRESENTING_NAME.into(),
            PropValue::Unicode(request.user.display_name.clone()),
        ));
        item.props.push((
            tags::SENT_REPRESENTING_EMAIL_ADDRESS.into(),
            PropValue::Unicode(request.user.address.clone()),
        ));
    }
}

/// The subject without reply and forward prefixes (PidTagConversationTopic).
fn conversation_topic(subject: &str) -> &str {
    let mut topic = subject.trim_start();
    loop {
        let lower = topic
            .get(..4)
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let cut = match lower.as_str() {
            "re: " | "fw: " => 4,
            _ if topic
                .get(..5)
                .is_some_and(|p| p.eq_ignore_ascii_case("fwd: ")) =>
            {
                5
            }
            _ => return topic,
        };
        topic = topic.get(cut..).unwrap_or_default().trim_start();
    }
}

/// A new Internet message id: a digest of the mailbox, the time of the request and the item's
/// properties, at the public host. Deterministic for a given request, unique across requests.
fn message_id(request: &Request<'_>, props: &[(PropKey, PropValue)]) -> String {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    digest.update(request.mailbox.as_str().as_bytes());
    let when = FileTime::from_system_time(request.ctx.now);
    digest.update(&when.0.to_be_bytes());
    digest.update(format!("{props:?}").as_bytes());
    let hash = digest.finish();
    let hex: String = hash
        .as_ref()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("<{hex}@{}>", request.ctx.site.public_host)
}

/// One change of UpdateItem, parsed against the item it applies to.
#[derive(Debug, Default)]
pub(crate) struct Update {
    /// Properties to set.
    pub(crate) set: Vec<(PropKey, PropValue)>,
    /// Properties to delete.
    pub(crate) delete: Vec<PropKey>,
    /// `message:IsRead`, applied with the store's read-flag change.
    pub(crate) read: Option<bool>,
    /// The attachments of a new MIME form (`item:MimeContent`), replacing the item's.
    pub(crate) attachments: Option<Vec<NewAttachment>>,
}

/// Parses one `t:SetItemField`, `t:AppendToItemField` or `t:DeleteItemField` for `item` and adds
/// it to `update`.
pub(crate) fn read_update(
    names: &NamedTags,
    item: &Item,
    change: &Element,
    update: &mut Update,
) -> Result<(), Invalid> {
    let kind = Kind::of(&item.props);
    let path_element = change
        .children()
        .find(|c| {
            c.namespace() == ns::EWS_TYPES
                && matches!(
                    c.name(),
                    "FieldURI" | "IndexedFieldURI" | "ExtendedFieldURI"
                )
        })
        .ok_or_else(|| Fault::schema(format!("{} needs a property path", change.name())))?;
    let path = crate::fields::parse_path(path_element)?;
    let operation = change.name();
    if operation == "DeleteItemField" {
        return delete_path(kind, &path, update);
    }
    // The value sits in an item element of any type, holding exactly the one property.
    let holder = change
        .children()
        .find(|c| {
            !matches!(
                c.name(),
                "FieldURI" | "IndexedFieldURI" | "ExtendedFieldURI"
            )
        })
        .ok_or_else(|| Fault::schema(format!("{operation} needs an item holding the value")))?;
    let mut values = holder.children();
    let value = values.next();
    if values.next().is_some() || value.is_none() {
        return Err(Error::new(
            ResponseCode::ErrorIncorrectUpdatePropertyCount,
            format!("{operation} must hold exactly one property"),
        )
        .into());
    }
    let value = value.ok_or_else(|| Fault::schema("no value"))?;
    let append = operation == "AppendToItemField";
    match &path {
        PropertyPath::Extended(field) => {
            if append || value.name() != "ExtendedProperty" {
                return Err(mismatch(operation, value));
            }
            let (key, v) = read_extended_property(value)?;
            if key_of(field) != key {
                return Err(mismatch(operation, value));
            }
            update.set.push((key, v));
        }
        PropertyPath::Field(uri) => {
            let field = field_by_uri(kind, *uri)
                .filter(|f| f.writable)
                .ok_or_else(|| {
                    Invalid::Item(Error::new(
                        ResponseCode::ErrorInvalidPropertySet,
                        format!("{} cannot be set on a {}", uri.as_str(), kind.element()),
                    ))
                })?;
            if value.name() != field.element {
                return Err(mismatch(operation, value));
            }
            if append {
                return append_value(names, item, field, value, update);
            }
            match field.value {
                Value::Flag(_) => update.read = Some(parse_bool(value.trimmed_text())?),
                Value::Computed(Computed::Attachments) => {
                    return Err(Error::new(
                        ResponseCode::ErrorInvalidPropertySet,
                        "attachments are changed with CreateAttachment and DeleteAttachment",
                    )
                    .into())
                }
                Value::Computed(Computed::MimeContent) => {
                    let (set, attachments) = read_mime_content(kind, value)?;
                    // The new form replaces the old: what it no longer has goes.
                    update.delete.extend(
                        mime_keys()
                            .into_iter()
                            .filter(|key| !set.iter().any(|(k, _)| k == key)),
                    );
                    update.set.extend(
                        set.into_iter()
                            .filter(|(k, _)| *k != PropKey::Tag(tag::TRANSPORT_MESSAGE_HEADERS)),
                    );
                    update.attachments = Some(attachments);
                }
                Value::Computed(Computed::Body) => {
                    let set = read_value(field, value, None)?;
                    // One body: the other format goes.
                    for other in [tags::BODY, tags::HTML] {
                        if !set.iter().any(|(k, _)| *k == PropKey::Tag(other)) {
                            update.delete.push(other.into());
                        }
                    }
                    update.set.extend(set);
                }
                _ => update.set.extend(read_value(field, value, None)?),
            }
        }
        PropertyPath::Indexed(indexed) => {
            let field = indexed_field(kind, &indexed.uri)?;
            if append || value.name() != field.element {
                return Err(mismatch(operation, value));
            }
            let set = read_value(field, value, Some(&indexed.index))?;
            if set.is_empty() {
                return Err(mismatch(operation, value));
            }
            update.set.extend(set);
        }
    }
    Ok(())
}

fn key_of(field: &ExtendedField) -> PropKey {
    match &field.key {
        ExtendedKey::Tag(id) => PropKey::Tag(PropTag::new(*id, field.prop_type)),
        ExtendedKey::Named(name) => PropKey::Named(name.clone(), field.prop_type),
    }
}

fn mismatch(operation: &str, value: &Element) -> Invalid {
    Invalid::Item(Error::new(
        ResponseCode::ErrorIncorrectUpdatePropertyCount,
        format!(
            "{operation} holds {}, not the property its path names",
            value.name()
        ),
    ))
}

fn indexed_field(kind: Kind, uri: &str) -> Result<&'static Field, Invalid> {
    let whole = match uri {
        "contacts:EmailAddress" => FieldUri::ContactsEmailAddresses,
        "contacts:PhoneNumber" => FieldUri::ContactsPhoneNumbers,
        other => {
            return Err(Error::new(
                ResponseCode::ErrorInvalidPropertySet,
                format!("umbox does not store {other}"),
            )
            .into())
        }
    };
    field_by_uri(kind, whole).ok_or_else(|| {
        Invalid::Item(Error::new(
            ResponseCode::ErrorInvalidPropertySet,
            format!("{uri} is not a field of a {}", kind.element()),
        ))
    })
}

fn delete_path(kind: Kind, path: &PropertyPath, update: &mut Update) -> Result<(), Invalid> {
    let refuse = |what: &str| {
        Invalid::Item(Error::new(
            ResponseCode::ErrorInvalidPropertyDelete,
            format!("{what} cannot be deleted"),
        ))
    };
    match path {
        PropertyPath::Extended(field) => update.delete.push(key_of(field)),
        PropertyPath::Indexed(indexed) => {
            // As for unstored fields below: an entry umbox does not store has nothing to remove.
            let Ok(field) = indexed_field(kind, &indexed.uri) else {
                return Ok(());
            };
            match field.value {
                Value::Emails => {
                    let (_, address, name) = named::EMAILS
                        .iter()
                        .find(|(k, _, _)| *k == indexed.index)
                        .ok_or_else(|| refuse(&indexed.index))?;
                    update.delete.push(n(*address).key());
                    update.delete.push(n(*name).key());
                }
                _ => {
                    let (_, tag) = PHONES
                        .iter()
                        .find(|(k, _)| *k == indexed.index)
                        .ok_or_else(|| refuse(&indexed.index))?;
                    update.delete.push((*tag).into());
                }
            }
        }
        PropertyPath::Field(uri) => {
            // A field umbox does not store has no value to remove (clients delete every field
            // they hold no value for, exchangelib among them).
            let Some(field) = field_by_uri(kind, *uri) else {
                return Ok(());
            };
            if !field.writable {
                return Err(refuse(uri.as_str()));
            }
            match field.value {
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
                | Value::TimeZone(p) => {
                    // The class identifies the item; it can be changed, not removed.
                    if field.uri == FieldUri::ItemClass {
                        return Err(refuse(uri.as_str()));
                    }
                    update.delete.push(p.key());
                }
                Value::Mailbox(name, address) => {
                    update.delete.push(name.into());
                    update.delete.push(address.into());
                }
                Value::Emails => {
                    for (_, address, name) in named::EMAILS {
                        update.delete.push(n(address).key());
                        update.delete.push(n(name).key());
                    }
                }
                Value::Phones => update
                    .delete
                    .extend(PHONES.iter().map(|(_, tag)| PropKey::Tag(*tag))),
                Value::Computed(Computed::Body) => {
                    update.delete.push(tags::BODY.into());
                    update.delete.push(tags::HTML.into());
                }
                Value::Flag(_) | Value::Display(_) | Value::Computed(_) => {
                    return Err(refuse(uri.as_str()))
                }
            }
        }
    }
    Ok(())
}

/// AppendToItemField: text appended to the body, entries to recipient lists and categories.
fn append_value(
    names: &NamedTags,
    item: &Item,
    field: &Field,
    value: &Element,
    update: &mut Update,
) -> Result<(), Invalid> {
    let stored = Stored {
        bag: &item.props,
        names,
    };
    let props: &dyn Props = &stored;
    match field.value {
        Value::Computed(Computed::Body) => {
            let (text, html) = bodies(props);
            match value.attribute("", "BodyType") {
                Some("HTML") => {
                    let mut body = html
                        .map(str::to_owned)
                        .or_else(|| text.map(mime::text_to_html))
                        .unwrap_or_default();
                    body.push_str(value.text());
                    update
                        .set
                        .push((tags::HTML.into(), PropValue::Binary(body.into_bytes())));
                    update.delete.push(tags::BODY.into());
                }
                Some("Text") => {
                    let mut body = text
                        .map(str::to_owned)
                        .or_else(|| html.map(mime::html_to_text))
                        .unwrap_or_default();
                    body.push_str(value.text());
                    update
                        .set
                        .push((tags::BODY.into(), PropValue::Unicode(body)));
                    update.delete.push(tags::HTML.into());
                }
                other => {
                    return Err(
                        Fault::schema(format!("BodyType {other:?} must be Text or HTML")).into(),
                    )
                }
            }
        }
        Value::Mailboxes(p) | Value::Attendees(p) | Value::Strings(p) => {
            let mut list = strings(props, p).to_vec();
            for (_, added) in read_value(field, value, None)? {
                if let PropValue::MultiUnicode(added) = added {
                    list.extend(added);
                }
            }
            update.set.push((p.key(), PropValue::MultiUnicode(list)));
        }
        _ => {
            return Err(Error::new(
                ResponseCode::ErrorInvalidPropertyAppend,
                format!("{} cannot be appended to", field.uri.as_str()),
            )
            .into())
        }
    }
    Ok(())
}

/// Properties of a stored item as a change can carry them to another mailbox: named properties
/// by name (each mailbox numbers names its own way), store-computed ones left out.
pub(crate) fn portable(
    request: &Request<'_>,
    bag: &PropertyBag,
) -> Result<Vec<(PropKey, PropValue)>, Error> {
    let mut out = Vec::with_capacity(bag.len());
    for (tag, value) in bag.iter() {
        if tags::COMPUTED.contains(&tag) {
            continue;
        }
        if !tag.is_named() {
            out.push((PropKey::Tag(tag), value.clone()));
            continue;
        }
        let Some(name) = request
            .ctx
            .store
            .named_property(&request.mailbox, tag.id())?
        else {
            return Err(Error::new(
                ResponseCode::ErrorCorruptData,
                format!("named property {tag} has no name"),
            ));
        };
        out.push((PropKey::Named(name, tag.prop_type()), value.clone()));
    }
    Ok(out)
}

/// The key of the Bcc list, which a delivered copy leaves out.
pub(crate) fn bcc_key() -> PropKey {
    n(named::BCC).key()
}

/// Tags a delivered copy gets from its transport (MS-OXOMSG §2.2.1).
pub(crate) mod delivery {
    use super::tag;
    use umbox_store::props::PropTag;

    /// PidTagReceivedByName.
    pub(crate) const RECEIVED_BY_NAME: PropTag = tag::RECEIVED_BY_NAME;
    /// PidTagReceivedByEmailAddress.
    pub(crate) const RECEIVED_BY_EMAIL_ADDRESS: PropTag = tag::RECEIVED_BY_EMAIL_ADDRESS;
    /// PidTagReceivedRepresentingName.
    pub(crate) const RECEIVED_REPRESENTING_NAME: PropTag = tag::RECEIVED_REPRESENTING_NAME;
    /// PidTagReceivedRepresentingEmailAddress.
    pub(crate) const RECEIVED_REPRESENTING_EMAIL_ADDRESS: PropTag =
        tag::RECEIVED_REPRESENTING_EMAIL_ADDRESS;
    /// PidTagTransportMessageHeaders.
    pub(crate) const TRANSPORT_MESSAGE_HEADERS: PropTag = tag::TRANSPORT_MESSAGE_HEADERS;
    /// PidTagLastModifierName.
    pub(crate) const LAST_MODIFIER_NAME: PropTag = tag::LAST_MODIFIER_NAME;
    /// MSGFLAG_UNMODIFIED.
    pub(crate) const MSGFLAG_UNMODIFIED: i32 = super::flag::UNMODIFIED;
    /// MSGFLAG_FROMME.
    pub(crate) const MSGFLAG_FROMME: i32 = super::flag::FROM_ME;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_lose_reply_and_forward_prefixes() {
        assert_eq!(conversation_topic("RE: Fwd: fw: Lunch"), "Lunch");
        assert_eq!(conversation_topic("Reply"), "Reply");
    }
}
