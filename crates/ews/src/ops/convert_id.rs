//! ConvertId (MS-OXWSCORE §3.1.4.2): the same id spelled in another format.
//!
//! umbox has one id layout, the sealed bytes of `ews::ids`; every format is an encoding of those
//! bytes. EwsId, EwsLegacyId, EntryId and StoreId are their standard base64 (so an EwsId is also
//! its own EntryId), HexEntryId is upper-case hexadecimal, and OwaId is URL-safe base64 without
//! padding, fit for a query string. A source id converts only when its seal opens and its mailbox
//! is the one named in `Mailbox`; converting grants no access to what the id names.

use base64::Engine;

use crate::codes::ResponseCode;
use crate::error::{Error, Fault};
use crate::fields::parse_bool;
use crate::soap::M;
use crate::{child, response_message, Request};
use umbox_base::version::ExchangeVersion;
use umbox_store::MailboxId;
use umbox_xml::{ns, Element, Namespace, Writer};

/// `xsi:` as written on each converted id (its element is declared with an abstract base type).
const XSI: Namespace = Namespace::new("xsi", ns::XSI);

/// An id format (MS-OXWSCDATA IdFormatType); the variants are the wire names.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdFormat {
    /// PR_ENTRYID, base64.
    EntryId,
    /// The EWS id of Exchange 2007 SP1 and later.
    EwsId,
    /// The EWS id of Exchange 2007 RTM.
    EwsLegacyId,
    /// PR_ENTRYID in hexadecimal.
    HexEntryId,
    /// The Outlook Web App id.
    OwaId,
    /// The store's own id, base64.
    StoreId,
}

impl IdFormat {
    const ALL: [IdFormat; 6] = [
        IdFormat::EntryId,
        IdFormat::EwsId,
        IdFormat::EwsLegacyId,
        IdFormat::HexEntryId,
        IdFormat::OwaId,
        IdFormat::StoreId,
    ];

    fn as_str(self) -> &'static str {
        match self {
            IdFormat::EntryId => "EntryId",
            IdFormat::EwsId => "EwsId",
            IdFormat::EwsLegacyId => "EwsLegacyId",
            IdFormat::HexEntryId => "HexEntryId",
            IdFormat::OwaId => "OwaId",
            IdFormat::StoreId => "StoreId",
        }
    }

    fn parse(text: &str) -> Result<IdFormat, Fault> {
        IdFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == text)
            .ok_or_else(|| Fault::schema(format!("{text:?} is not an id format")))
    }

    /// The sealed bytes spelled by `id`, if it is well-formed in this format.
    fn decode(self, id: &str) -> Option<Vec<u8>> {
        match self {
            IdFormat::EntryId | IdFormat::EwsId | IdFormat::EwsLegacyId | IdFormat::StoreId => {
                base64::engine::general_purpose::STANDARD.decode(id).ok()
            }
            IdFormat::OwaId => base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(id)
                .ok(),
            IdFormat::HexEntryId => {
                let digits = id.as_bytes();
                if !digits.len().is_multiple_of(2) {
                    return None;
                }
                digits
                    .chunks(2)
                    .map(|pair| {
                        std::str::from_utf8(pair)
                            .ok()
                            .and_then(|p| u8::from_str_radix(p, 16).ok())
                    })
                    .collect()
            }
        }
    }

    /// `bytes` spelled in this format.
    pub(crate) fn encode(self, bytes: &[u8]) -> String {
        match self {
            IdFormat::EntryId | IdFormat::EwsId | IdFormat::EwsLegacyId | IdFormat::StoreId => {
                base64::engine::general_purpose::STANDARD.encode(bytes)
            }
            IdFormat::OwaId => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
            IdFormat::HexEntryId => bytes.iter().map(|b| format!("{b:02X}")).collect(),
        }
    }
}

/// An EWS id in another format; `None` when `ews_id` is not base64 (ids umbox issued always are).
pub(crate) fn reformat(ews_id: &str, format: IdFormat) -> Option<String> {
    IdFormat::EwsId
        .decode(ews_id)
        .map(|bytes| format.encode(&bytes))
}

/// ConvertId: one response message per source id, in request order.
pub(crate) fn convert_id(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    if request.version < ExchangeVersion::Exchange2007Sp1 {
        return Err(Fault::new(
            ResponseCode::ErrorInvalidServerVersion,
            "ConvertId is part of the Exchange2007_SP1 schema and later",
        ));
    }
    let destination = IdFormat::parse(op.attribute("", "DestinationFormat").unwrap_or_default())?;
    let sources =
        child(op, "SourceIds").ok_or_else(|| Fault::schema("ConvertId needs SourceIds"))?;
    let sources: Vec<&Element> = sources.children().collect();
    if sources.is_empty() {
        return Err(Fault::schema("SourceIds is empty"));
    }
    // Formats and flags are schema types: check them all before answering any.
    let sources = sources
        .into_iter()
        .map(|source| {
            if source.namespace() != ns::EWS_TYPES {
                return Err(Fault::schema(format!(
                    "{} is not an alternate id",
                    source.name()
                )));
            }
            let format = IdFormat::parse(source.attribute("", "Format").unwrap_or_default())?;
            let archive = source
                .attribute("", "IsArchive")
                .map(parse_bool)
                .transpose()?
                .unwrap_or(false);
            Ok((source, format, archive))
        })
        .collect::<Result<Vec<_>, Fault>>()?;
    w.start(M, "ConvertIdResponse").start(M, "ResponseMessages");
    for (source, format, archive) in sources {
        let result = convert_one(request, source, format, archive).map(|id| {
            move |w: &mut Writer<'_>| {
                w.start(M, "AlternateId")
                    .declare(XSI)
                    .attribute_ns(XSI, "type", "t:AlternateIdType")
                    .attribute("Format", destination.as_str())
                    .attribute("Id", &destination.encode(&id.bytes))
                    .attribute("Mailbox", id.mailbox.as_str())
                    .end();
            }
        });
        response_message(w, "ConvertIdResponseMessage", result);
    }
    w.end().end();
    Ok(())
}

/// A source id whose seal opened.
struct OpenedId {
    bytes: Vec<u8>,
    mailbox: MailboxId,
}

/// Opens one `t:AlternateId` given in `format`; public folder and archive ids fail, as umbox has
/// neither.
fn convert_one(
    request: &Request<'_>,
    source: &Element,
    format: IdFormat,
    archive: bool,
) -> Result<OpenedId, Error> {
    if source.name() != "AlternateId" {
        return Err(Error::new(
            ResponseCode::ErrorInvalidRequest,
            format!("{}: umbox has no public folders", source.name()),
        ));
    }
    if archive {
        return Err(Error::new(
            ResponseCode::ErrorInvalidRequest,
            "umbox has no archive mailboxes",
        ));
    }
    let id = source.attribute("", "Id").unwrap_or_default();
    if id.is_empty() {
        return Err(Error::new(
            ResponseCode::ErrorInvalidIdEmpty,
            "the id is empty",
        ));
    }
    let malformed = || {
        Error::new(
            ResponseCode::ErrorInvalidIdMalformed,
            format!("the id is not a valid {}", format.as_str()),
        )
    };
    let bytes = format.decode(id).ok_or_else(malformed)?;
    let canonical = IdFormat::EwsId.encode(&bytes);
    let ids = request.ctx.ids;
    let mailbox = ids
        .open_item(&canonical)
        .map(|(m, _)| m)
        .or_else(|_| ids.open_folder(&canonical).map(|(m, _)| m))
        .or_else(|_| ids.open_attachment(&canonical).map(|(m, _)| m))
        .map_err(|_| malformed())?;
    let named = source.attribute("", "Mailbox").unwrap_or_default();
    let same_mailbox = named.eq_ignore_ascii_case(mailbox.as_str())
        || request
            .ctx
            .directory
            .user_by_address(named)
            .is_some_and(|u| u.address.eq_ignore_ascii_case(mailbox.as_str()));
    if !same_mailbox {
        return Err(Error::new(
            ResponseCode::ErrorInvalidIdMalformed,
            format!("the id does not belong to mailbox {named:?}"),
        ));
    }
    Ok(OpenedId { bytes, mailbox })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip_bytes() {
        let bytes: Vec<u8> = (0u8..=255).collect();
        for format in IdFormat::ALL {
            assert_eq!(
                format.decode(&format.encode(&bytes)).as_deref(),
                Some(bytes.as_slice()),
                "{format:?}"
            );
            assert_eq!(IdFormat::parse(format.as_str()), Ok(format));
        }
        assert_eq!(IdFormat::HexEntryId.encode(&[0x0A, 0xFF]), "0AFF");
        assert_eq!(IdFormat::HexEntryId.decode("0aff"), Some(vec![0x0A, 0xFF]));
        for bad in ["0", "zz", "é1"] {
            assert_eq!(IdFormat::HexEntryId.decode(bad), None, "{bad}");
        }
        assert!(IdFormat::parse("Base64").is_err());
    }
}

#[cfg(test)]
mod handle_tests {
    use crate::ops::testkit::{all, one, text, Kit};
    use umbox_store::{DistinguishedFolder, MailboxId};
    use umbox_xml::Element;

    fn convert(kit: &Kit, destination: &str, sources: &[(&str, &str, &str)]) -> Vec<Element> {
        let sources: String = sources
            .iter()
            .map(|(format, id, mailbox)| {
                format!(r#"<t:AlternateId Format="{format}" Id="{id}" Mailbox="{mailbox}"/>"#)
            })
            .collect();
        let body = kit.call(&format!(r#"<m:ConvertId DestinationFormat="{destination}"><m:SourceIds>{sources}</m:SourceIds></m:ConvertId>"#));
        all(
            &body,
            &[
                "ConvertIdResponse",
                "ResponseMessages",
                "ConvertIdResponseMessage",
            ],
        )
        .into_iter()
        .cloned()
        .collect()
    }

    fn converted(message: &Element) -> (String, String) {
        assert_eq!(message.attribute("", "ResponseClass"), Some("Success"));
        let id = one(message, &["AlternateId"]);
        (
            id.attribute("", "Id").unwrap().to_owned(),
            id.attribute("", "Format").unwrap().to_owned(),
        )
    }

    #[test]
    fn ids_round_trip_through_every_format() {
        let kit = Kit::new();
        let alice = MailboxId::new("alice@example.test");
        let ews_id = kit.ids.folder(
            &alice,
            kit.folder("alice@example.test", DistinguishedFolder::Inbox),
        );
        let mut id = ews_id.clone();
        let mut format = "EwsId".to_owned();
        for next in [
            "HexEntryId",
            "OwaId",
            "EntryId",
            "EwsLegacyId",
            "StoreId",
            "EwsId",
        ] {
            let messages = convert(&kit, next, &[(&format, &id, "Alice@Example.test")]);
            (id, format) = converted(&messages[0]);
            assert_eq!(format, next);
            assert_eq!(
                one(&messages[0], &["AlternateId"]).attribute("", "Mailbox"),
                Some("alice@example.test")
            );
        }
        assert_eq!(id, ews_id);
        let hex = converted(
            &convert(
                &kit,
                "HexEntryId",
                &[("EwsId", &ews_id, "alice@example.test")],
            )[0],
        )
        .0;
        assert!(hex
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
    }

    #[test]
    fn each_bad_id_fails_alone() {
        let kit = Kit::new();
        let alice = MailboxId::new("alice@example.test");
        let good = kit.ids.folder(
            &alice,
            kit.folder("alice@example.test", DistinguishedFolder::Inbox),
        );
        let messages = convert(
            &kit,
            "EntryId",
            &[
                ("EwsId", "DUMMY", "DUMMY"),
                ("EwsId", &good, "bob@example.test"),
                ("HexEntryId", "ABC", "alice@example.test"),
                ("EwsId", "", "alice@example.test"),
                ("EwsId", &good, "alice@example.test"),
            ],
        );
        let codes: Vec<&str> = messages
            .iter()
            .map(|m| text(m, &["ResponseCode"]))
            .collect();
        assert_eq!(
            codes,
            [
                "ErrorInvalidIdMalformed",
                "ErrorInvalidIdMalformed",
                "ErrorInvalidIdMalformed",
                "ErrorInvalidIdEmpty",
                "NoError"
            ]
        );
    }

    #[test]
    fn exchangelib_version_probe_gets_a_response_message_with_server_version() {
        let kit = Kit::new();
        let body = crate::ops::testkit::envelope(
            "Exchange2016",
            "",
            r#"<m:ConvertId DestinationFormat="EntryId"><m:SourceIds><t:AlternateId Format="EwsId" Id="DUMMY" Mailbox="DUMMY"/></m:SourceIds></m:ConvertId>"#,
        );
        let (status, text) = kit.raw("alice@example.test", &body);
        assert_eq!(status, 200);
        assert!(text.contains(r#"Version="Exchange2016""#), "{text}");
        assert!(
            text.contains("<m:ResponseCode>ErrorInvalidIdMalformed</m:ResponseCode>"),
            "{text}"
        );
        let (status, _) = kit.call_as(
            "alice@example.test",
            "Exchange2016",
            None,
            r#"<m:ConvertId DestinationFormat="Base64"><m:SourceIds><t:AlternateId Format="EwsId" Id="x" Mailbox="y"/></m:SourceIds></m:ConvertId>"#,
        );
        assert_eq!(status, 500);
    }
}
