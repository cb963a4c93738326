//! The SOAP 1.1 envelope of EWS: reading the request's headers and operation element, and writing
//! the response envelope (with `ServerVersionInfo`) and faults. Knows no operation.

use crate::codes::ResponseCode;
use crate::error::Fault;
use umbox_base::version::{ExchangeVersion, SERVER_BUILD};
use umbox_xml::{self as xml, ns, Element, Namespace, Writer};

/// `s:` as written.
pub const S: Namespace = Namespace::new("s", ns::SOAP_ENVELOPE);
/// `m:` as written.
pub const M: Namespace = Namespace::new("m", ns::EWS_MESSAGES);
/// `t:` as written.
pub const T: Namespace = Namespace::new("t", ns::EWS_TYPES);
/// `e:` as written.
const E: Namespace = Namespace::new("e", ns::EWS_ERRORS);

/// Who the request acts for, from `t:ExchangeImpersonation/t:ConnectingSID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impersonation {
    /// The SMTP address (or UPN) named.
    pub address: String,
}

/// A request envelope, checked.
#[derive(Debug)]
pub struct RequestEnvelope {
    /// The requested schema version.
    pub version: ExchangeVersion,
    /// Impersonation header, if any.
    pub impersonation: Option<Impersonation>,
    /// The operation element (first and only child of Body, in the messages namespace).
    pub operation: Element,
}

/// Parses and checks a request body. DTDs, malformed XML, a wrong envelope or an unknown version
/// become faults here.
pub fn read_request(body: &[u8]) -> Result<RequestEnvelope, Fault> {
    let root = xml::parse(body, &xml::Limits::DEFAULT)
        .map_err(|e| Fault::schema(format!("the request is not valid XML: {e}")))?;
    if !root.is(ns::SOAP_ENVELOPE, "Envelope") {
        return Err(Fault::schema(
            "the root element must be a SOAP 1.1 Envelope",
        ));
    }
    let mut header = None;
    let mut body = None;
    for child in root.children() {
        match (child.namespace() == ns::SOAP_ENVELOPE, child.name()) {
            (true, "Header") if header.is_none() && body.is_none() => header = Some(child),
            (true, "Body") if body.is_none() => body = Some(child),
            _ => {
                return Err(Fault::schema(format!(
                    "unexpected element {} in the Envelope",
                    child.name()
                )))
            }
        }
    }
    let body = body.ok_or_else(|| Fault::schema("the Envelope has no Body"))?;
    let mut operations = body.children();
    let operation = operations
        .next()
        .ok_or_else(|| Fault::schema("the Body holds no operation"))?;
    if operations.next().is_some() {
        return Err(Fault::schema("the Body holds more than one operation"));
    }
    if operation.namespace() != ns::EWS_MESSAGES {
        return Err(Fault::new(
            ResponseCode::ErrorInvalidRequest,
            format!(
                "{} is not an EWS operation (namespace {:?})",
                operation.name(),
                operation.namespace()
            ),
        ));
    }

    let mut version = ExchangeVersion::DEFAULT;
    let mut impersonation = None;
    for h in header.map(|h| h.children()).into_iter().flatten() {
        if h.is(ns::EWS_TYPES, "RequestServerVersion") {
            let name = h.attribute("", "Version").unwrap_or_default();
            version = ExchangeVersion::parse(name).ok_or_else(|| {
                Fault::new(
                    ResponseCode::ErrorInvalidServerVersion,
                    format!("the server does not support version {name:?}"),
                )
            })?;
        } else if h.is(ns::EWS_TYPES, "ExchangeImpersonation") {
            let address = h
                .children()
                .filter(|c| c.is(ns::EWS_TYPES, "ConnectingSID"))
                .flat_map(|c| c.children())
                .find(|c| {
                    c.namespace() == ns::EWS_TYPES
                        && matches!(
                            c.name(),
                            "PrimarySmtpAddress" | "SmtpAddress" | "PrincipalName"
                        )
                })
                .map(|c| c.trimmed_text().to_owned())
                .filter(|a| !a.is_empty())
                .ok_or_else(|| {
                    Fault::schema("ExchangeImpersonation needs ConnectingSID with an SMTP address")
                })?;
            impersonation = Some(Impersonation { address });
        }
        // Other headers (MailboxCulture, TimeZoneContext, DateTimePrecision, ManagementRole…)
        // do not change what umbox answers: times are always UTC with a Z.
    }
    Ok(RequestEnvelope {
        version,
        impersonation,
        operation: operation.clone(),
    })
}

/// Opens the response envelope: header with `ServerVersionInfo`, then Body.
pub fn begin_response(w: &mut Writer<'_>, version: ExchangeVersion) {
    w.start(S, "Envelope").declare(S).declare(M).declare(T);
    w.start(S, "Header");
    server_version_info(w, version);
    w.end();
    w.start(S, "Body");
}

/// The EWS-shaped `ServerVersionInfo` (attributes; Autodiscover's has child elements instead).
/// `Version` echoes the requested schema, which every client maps back to its own enum.
pub fn server_version_info(w: &mut Writer<'_>, version: ExchangeVersion) {
    w.start(T, "ServerVersionInfo")
        .attribute("MajorVersion", &SERVER_BUILD.major.to_string())
        .attribute("MinorVersion", &SERVER_BUILD.minor.to_string())
        .attribute("MajorBuildNumber", &SERVER_BUILD.major_build.to_string())
        .attribute("MinorBuildNumber", &SERVER_BUILD.minor_build.to_string())
        .attribute("Version", version.as_str())
        .end();
}

/// Closes Body and Envelope.
pub fn end_response(w: &mut Writer<'_>) {
    w.end().end();
}

/// A whole SOAP fault document for `fault`.
pub fn fault_document(fault: &Fault, version: ExchangeVersion) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = Writer::new(&mut out);
    w.start(S, "Envelope").declare(S).declare(T);
    w.start(S, "Header");
    server_version_info(&mut w, version);
    w.end();
    w.start(S, "Body").start(S, "Fault");
    // SOAP 1.1 §4.4.1: the Client class for bad requests, Server for our own failures.
    let faultcode = match fault.code {
        ResponseCode::ErrorInternalServerError | ResponseCode::ErrorServerBusy => "s:Server",
        _ => "s:Client",
    };
    w.leaf(Namespace::NONE, "faultcode", faultcode);
    w.leaf(Namespace::NONE, "faultstring", &fault.message);
    w.start(Namespace::NONE, "detail").declare(E);
    w.leaf(E, "ResponseCode", fault.code.as_str());
    w.leaf(E, "Message", &fault.message);
    if let Some(ms) = fault.back_off_milliseconds {
        w.start(E, "MessageXml");
        w.start(T, "Value")
            .attribute("Name", "BackOffMilliseconds")
            .text(&ms.to_string())
            .end();
        w.end();
    }
    w.end().end().end().end();
    if let Err(error) = w.finish() {
        tracing::error!(%error, "fault document incomplete");
    }
    out
}
