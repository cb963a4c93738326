//! ConvertId (MS-OXWSCORE §3.1.4.2): the same id spelled in another format.
//!
//! umbox has one id layout, the sealed bytes of `ews::ids`; every format is an encoding of those
//! bytes. EwsId, EwsLegacyId, EntryId and StoreId are their standard base64 (so an EwsId is also
//! its own EntryId), HexEntryId is upper-case hexadecimal, and OwaId is URL-safe base64 without
//! padding, fit for a query string. A source id converts when its seal opens; the answer names the
//! mailbox the id belongs to, whatever `Mailbox` the client sent (as Exchange does: clients and
//! gateways send a placeholder there and learn the owner's address from the answer). Converting
//! grants no access to what the id names.

use base64::Engine;

use super::EwsOperation;
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

/// ConvertId: each source id spelled in the destination format, one response message each in
/// request order.
#[derive(Debug)]
pub(crate) struct ConvertId {
    /// The format every id is converted to.
    pub(crate) destination: IdFormat,
    /// The source ids, or why one is refused before it is read (public folder and archive ids,
    /// as umbox has neither).
    pub(crate) sources: Vec<Result<AlternateId, Error>>,
}

/// A `t:AlternateId`: an id of a primary mailbox, as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AlternateId {
    /// The format `id` is spelled in.
    pub(crate) format: IdFormat,
    /// The id. Its `Mailbox` attribute is not kept: the id itself says whose it is.
    pub(crate) id: String,
}

/// A source id spelled in the destination format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConvertedId {
    /// The id in the destination format.
    pub(crate) id: String,
    /// The mailbox the id belongs to.
    pub(crate) mailbox: MailboxId,
}

/// Each id converted, or why not.
pub(crate) struct ConvertIdResponse {
    destination: IdFormat,
    converted: Vec<Result<ConvertedId, Error>>,
}

impl EwsOperation for ConvertId {
    type Response = ConvertIdResponse;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        if request.version < ExchangeVersion::Exchange2007Sp1 {
            return Err(Fault::new(
                ResponseCode::ErrorInvalidServerVersion,
                "ConvertId is part of the Exchange2007_SP1 schema and later",
            ));
        }
        let destination =
            IdFormat::parse(op.attribute("", "DestinationFormat").unwrap_or_default())?;
        let sources =
            child(op, "SourceIds").ok_or_else(|| Fault::schema("ConvertId needs SourceIds"))?;
        // Formats and flags are schema types: a bad one faults the whole request, so every source
        // is read before any is answered.
        let sources = sources
            .children()
            .map(alternate_id)
            .collect::<Result<Vec<_>, Fault>>()?;
        if sources.is_empty() {
            return Err(Fault::schema("SourceIds is empty"));
        }
        Ok(ConvertId {
            destination,
            sources,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<ConvertIdResponse, Fault> {
        let converted = self
            .sources
            .into_iter()
            .map(|source| {
                let opened = open(request, &source?)?;
                Ok(ConvertedId {
                    id: self.destination.encode(&opened.bytes),
                    mailbox: opened.mailbox,
                })
            })
            .collect();
        Ok(ConvertIdResponse {
            destination: self.destination,
            converted,
        })
    }

    fn write(response: &ConvertIdResponse, _: &Request<'_>, w: &mut Writer<'_>) {
        w.start(M, "ConvertIdResponse").start(M, "ResponseMessages");
        for result in &response.converted {
            let payload = result.as_ref().map(|converted| {
                move |w: &mut Writer<'_>| {
                    w.start(M, "AlternateId")
                        .declare(XSI)
                        .attribute_ns(XSI, "type", "t:AlternateIdType")
                        .attribute("Format", response.destination.as_str())
                        .attribute("Id", &converted.id)
                        .attribute("Mailbox", converted.mailbox.as_str())
                        .end();
                }
            });
            response_message(w, "ConvertIdResponseMessage", payload);
        }
        w.end().end();
    }
}

/// Reads one source id (an AlternateIdBaseType). Schema violations fault the request; public
/// folder and archive ids are refused on their own, as umbox has neither.
fn alternate_id(source: &Element) -> Result<Result<AlternateId, Error>, Fault> {
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
    if source.name() != "AlternateId" {
        return Ok(Err(Error::new(
            ResponseCode::ErrorInvalidRequest,
            format!("{}: umbox has no public folders", source.name()),
        )));
    }
    if archive {
        return Ok(Err(Error::new(
            ResponseCode::ErrorInvalidRequest,
            "umbox has no archive mailboxes",
        )));
    }
    Ok(Ok(AlternateId {
        format,
        id: source.attribute("", "Id").unwrap_or_default().to_owned(),
    }))
}

/// A source id whose seal opened.
struct OpenedId {
    bytes: Vec<u8>,
    mailbox: MailboxId,
}

/// Opens one source id: it must be well-formed in its format and its seal must open.
fn open(request: &Request<'_>, source: &AlternateId) -> Result<OpenedId, Error> {
    if source.id.is_empty() {
        return Err(Error::new(
            ResponseCode::ErrorInvalidIdEmpty,
            "the id is empty",
        ));
    }
    let malformed = || {
        Error::new(
            ResponseCode::ErrorInvalidIdMalformed,
            format!("the id is not a valid {}", source.format.as_str()),
        )
    };
    let bytes = source.format.decode(&source.id).ok_or_else(malformed)?;
    let canonical = IdFormat::EwsId.encode(&bytes);
    let ids = request.ctx.ids;
    let mailbox = ids
        .open_item(&canonical)
        .map(|(m, _)| m)
        .or_else(|_| ids.open_folder(&canonical).map(|(m, _)| m))
        .or_else(|_| ids.open_attachment(&canonical).map(|(m, _)| m))
        .map_err(|_| malformed())?;
    Ok(OpenedId { bytes, mailbox })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testkit::Kit;
    use umbox_store::DistinguishedFolder;

    const ALICE: &str = "alice@example.test";

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

    fn alternate(format: IdFormat, id: &str) -> Result<AlternateId, Error> {
        Ok(AlternateId {
            format,
            id: id.to_owned(),
        })
    }

    /// Each source id is converted or refused on its own, in request order.
    #[test]
    fn run_converts_each_id_on_its_own() {
        let kit = Kit::new();
        let request = kit.request(ALICE);
        let alice = MailboxId::new(ALICE);
        let inbox = kit
            .ids
            .folder(&alice, kit.folder(ALICE, DistinguishedFolder::Inbox));
        let refused = Error::new(ResponseCode::ErrorInvalidRequest, "refused in parse");
        let response = ConvertId {
            destination: IdFormat::HexEntryId,
            sources: vec![
                alternate(IdFormat::EwsId, &inbox),
                Err(refused),
                alternate(IdFormat::OwaId, ""),
                alternate(IdFormat::HexEntryId, "ABC"),
            ],
        }
        .run(&request)
        .unwrap();
        assert_eq!(response.destination, IdFormat::HexEntryId);
        let converted = response.converted[0].as_ref().unwrap();
        let bytes = IdFormat::EwsId.decode(&inbox).unwrap();
        assert_eq!(
            converted,
            &ConvertedId {
                id: IdFormat::HexEntryId.encode(&bytes),
                mailbox: alice,
            }
        );
        let codes: Vec<_> = response.converted[1..]
            .iter()
            .map(|r| r.as_ref().unwrap_err().response_code())
            .collect();
        assert_eq!(
            codes,
            [
                ResponseCode::ErrorInvalidRequest,
                ResponseCode::ErrorInvalidIdEmpty,
                ResponseCode::ErrorInvalidIdMalformed,
            ]
        );
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
                "ErrorInvalidIdEmpty",
                "NoError"
            ]
        );
    }

    #[test]
    fn the_answer_names_the_ids_own_mailbox_whatever_mailbox_was_sent() {
        const ALICE: &str = "alice@example.test";
        let kit = Kit::new();
        let alice = MailboxId::new(ALICE);
        let inbox = kit
            .ids
            .folder(&alice, kit.folder(ALICE, DistinguishedFolder::Inbox));
        for named in ["bob@example.test", "placeholder@nowhere.invalid", ""] {
            let messages = convert(&kit, "EwsId", &[("EwsId", &inbox, named)]);
            assert_eq!(text(&messages[0], &["ResponseCode"]), "NoError", "{named}");
            let converted = one(&messages[0], &["AlternateId"]);
            assert_eq!(converted.attribute("", "Mailbox"), Some(ALICE), "{named}");
            assert_eq!(
                converted.attribute("", "Id"),
                Some(inbox.as_str()),
                "{named}"
            );
        }
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
