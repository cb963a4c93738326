//! SOAP Autodiscover (MS-OXDSCLI §3.1.4): GetUserSettings and GetDomainSettings over SOAP 1.1 with
//! WS-Addressing, answered with the `ServerVersionInfo` header in the Autodiscover shape (child
//! elements, unlike EWS's attributes).
//!
//! Faults versus responses: a body we cannot read as one of our operations (not well-formed, a
//! DTD, another SOAP version, a `mustUnderstand` header we do not implement, an unknown operation,
//! a WS-Addressing `Action` naming another operation) gets a SOAP 1.1 fault with HTTP 500 and the
//! standard fault codes (§4.4.1), because there is no operation whose response could carry the
//! error. Once the operation is known, a bad request is answered in that operation's own response
//! with `ErrorCode` `InvalidRequest` (MS-OXDSCLI), and per-user, per-domain and per-setting
//! problems are entries of the response, never a failed request.
//!
//! Never answers for a mailbox the caller may not query differently from an unknown one.

use super::settings::{
    DomainSettingName, Service, SettingValue, UserSettingName, SERVER_VERSION_SCHEMA,
};
use super::{
    clark_name, excerpt, reply, required_text, set_once, Error, Mailbox, Reply, Request,
    MAX_ADDRESS_LEN,
};
use umbox_base::version::{ExchangeVersion, SERVER_BUILD};
use umbox_xml::{self as xml, ns, Element, Limits, Namespace, Writer};

/// Autodiscover error codes (MS-OXDSCLI ErrorCode simple type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Success.
    NoError,
    /// Ask again with the address in `RedirectTarget`.
    RedirectAddress,
    /// Ask again at the URL in `RedirectTarget`.
    RedirectUrl,
    /// The user is unknown (or not the caller's to query).
    InvalidUser,
    /// The request is not valid.
    InvalidRequest,
    /// A requested setting name is not a known setting.
    InvalidSetting,
    /// A known setting has no value on this server.
    SettingIsNotAvailable,
    /// The server is too busy.
    ServerBusy,
    /// The domain is not served here.
    InvalidDomain,
    /// The organisation is not federated.
    NotFederated,
    /// An internal error.
    InternalServerError,
}

impl ErrorCode {
    /// The code as written in `ErrorCode`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NoError => "NoError",
            ErrorCode::RedirectAddress => "RedirectAddress",
            ErrorCode::RedirectUrl => "RedirectUrl",
            ErrorCode::InvalidUser => "InvalidUser",
            ErrorCode::InvalidRequest => "InvalidRequest",
            ErrorCode::InvalidSetting => "InvalidSetting",
            ErrorCode::SettingIsNotAvailable => "SettingIsNotAvailable",
            ErrorCode::ServerBusy => "ServerBusy",
            ErrorCode::InvalidDomain => "InvalidDomain",
            ErrorCode::NotFederated => "NotFederated",
            ErrorCode::InternalServerError => "InternalServerError",
        }
    }

    /// The code read from an `ErrorCode` element.
    pub fn parse(code: &str) -> Option<ErrorCode> {
        match code {
            "NoError" => Some(ErrorCode::NoError),
            "RedirectAddress" => Some(ErrorCode::RedirectAddress),
            "RedirectUrl" => Some(ErrorCode::RedirectUrl),
            "InvalidUser" => Some(ErrorCode::InvalidUser),
            "InvalidRequest" => Some(ErrorCode::InvalidRequest),
            "InvalidSetting" => Some(ErrorCode::InvalidSetting),
            "SettingIsNotAvailable" => Some(ErrorCode::SettingIsNotAvailable),
            "ServerBusy" => Some(ErrorCode::ServerBusy),
            "InvalidDomain" => Some(ErrorCode::InvalidDomain),
            "NotFederated" => Some(ErrorCode::NotFederated),
            "InternalServerError" => Some(ErrorCode::InternalServerError),
            _ => None,
        }
    }

    /// Our `ErrorMessage` for the code.
    fn message(self) -> &'static str {
        match self {
            ErrorCode::NoError => "No error.",
            ErrorCode::RedirectAddress => "Ask again with the address in RedirectTarget.",
            ErrorCode::RedirectUrl => "Ask again at the URL in RedirectTarget.",
            ErrorCode::InvalidUser => "The user was not found.",
            ErrorCode::InvalidRequest => "The request is not valid.",
            ErrorCode::InvalidSetting => "The setting name is not known.",
            ErrorCode::SettingIsNotAvailable => "This server has no value for the setting.",
            ErrorCode::ServerBusy => "The server is busy.",
            ErrorCode::InvalidDomain => "The domain is not served here.",
            ErrorCode::NotFederated => "The organization is not federated.",
            ErrorCode::InternalServerError => "An internal server error occurred.",
        }
    }
}

/// SOAP 1.1 fault codes (SOAP 1.1 §4.4.1), written qualified with the envelope's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultCode {
    /// The envelope is not in the SOAP 1.1 namespace.
    VersionMismatch,
    /// A `mustUnderstand` header was not understood.
    MustUnderstand,
    /// The message is wrong and must not be resent unchanged.
    Client,
    /// The server failed.
    Server,
}

impl FaultCode {
    /// The local part of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultCode::VersionMismatch => "VersionMismatch",
            FaultCode::MustUnderstand => "MustUnderstand",
            FaultCode::Client => "Client",
            FaultCode::Server => "Server",
        }
    }
}

/// How a failure is reported as a fault.
struct Fault {
    code: FaultCode,
    /// Autodiscover code for the fault `detail`, present when the body was the problem
    /// (SOAP 1.1 §4.4: `detail` carries body errors and never header errors).
    detail: Option<ErrorCode>,
}

impl Error {
    /// The one mapping from a failure to the SOAP fault the client sees.
    fn fault(&self) -> Fault {
        let body = |code| Fault {
            code,
            detail: Some(ErrorCode::InvalidRequest),
        };
        let header = |code| Fault { code, detail: None };
        match self {
            Error::SoapVersion(_) => header(FaultCode::VersionMismatch),
            Error::MustUnderstand(_) => header(FaultCode::MustUnderstand),
            Error::ActionMismatch { .. } | Error::UnknownServerVersion(_) => {
                header(FaultCode::Client)
            }
            Error::Xml(_)
            | Error::Duplicate { .. }
            | Error::UnexpectedElement { .. }
            | Error::Missing { .. }
            | Error::Empty { .. }
            | Error::TooLong { .. }
            | Error::TooMany { .. }
            | Error::UnsupportedResponseSchema(_)
            | Error::UnknownOperation(_) => body(FaultCode::Client),
            Error::Write(_) => Fault {
                code: FaultCode::Server,
                detail: Some(ErrorCode::InternalServerError),
            },
        }
    }
}

/// The operations we serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    GetUserSettings,
    GetDomainSettings,
}

impl Operation {
    /// The operation whose request message is `element`.
    fn of(element: &Element) -> Option<Operation> {
        [Operation::GetUserSettings, Operation::GetDomainSettings]
            .into_iter()
            .find(|op| element.is(ns::AUTODISCOVER, op.request_element()))
    }

    fn name(self) -> &'static str {
        match self {
            Operation::GetUserSettings => "GetUserSettings",
            Operation::GetDomainSettings => "GetDomainSettings",
        }
    }

    fn request_element(self) -> &'static str {
        match self {
            Operation::GetUserSettings => "GetUserSettingsRequestMessage",
            Operation::GetDomainSettings => "GetDomainSettingsRequestMessage",
        }
    }

    fn response_element(self) -> &'static str {
        match self {
            Operation::GetUserSettings => "GetUserSettingsResponseMessage",
            Operation::GetDomainSettings => "GetDomainSettingsResponseMessage",
        }
    }

    /// The WS-Addressing action of the request.
    fn request_action(self) -> &'static str {
        match self {
            Operation::GetUserSettings => "http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetUserSettings",
            Operation::GetDomainSettings => {
                "http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetDomainSettings"
            }
        }
    }

    /// The WS-Addressing action of the response.
    fn response_action(self) -> &'static str {
        match self {
            Operation::GetUserSettings => {
                "http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetUserSettingsResponse"
            }
            Operation::GetDomainSettings => {
                "http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetDomainSettingsResponse"
            }
        }
    }
}

/// SOAP 1.1 §4.2.2: a header without `actor`, or with this one, is for us.
const NEXT_ACTOR: &str = "http://schemas.xmlsoap.org/soap/actor/next";
/// Most users or domains in one request (Exchange's own limit for GetUserSettings).
const MAX_SUBJECTS: usize = 100;
/// Most settings named in one request; there are about a hundred names.
const MAX_SETTINGS: usize = 200;
/// Longest setting name accepted; names are echoed in errors.
const MAX_SETTING_NAME_LEN: usize = 128;
/// Longest domain name (RFC 1035 §2.3.4).
const MAX_DOMAIN_LEN: usize = 255;

const SOAP: Namespace = Namespace::new("s", ns::SOAP_ENVELOPE);
const WSA: Namespace = Namespace::new("wsa", ns::WS_ADDRESSING);
const XSI: Namespace = Namespace::new("i", ns::XSI);
/// Autodiscover names in the header.
const HEADER: Namespace = Namespace::new("h", ns::AUTODISCOVER);
/// Autodiscover names in the body: the default namespace, because clients compare the `xsi:type`
/// values (`StringSetting`, …) as plain strings, and those must resolve to this namespace.
const BODY: Namespace = Namespace::new("", ns::AUTODISCOVER);
/// Autodiscover names inside a fault `detail`.
const DETAIL: Namespace = Namespace::new("a", ns::AUTODISCOVER);

pub(super) fn respond(request: &Request<'_>) -> Reply {
    let service = Service::new(request.site);
    let tree = xml::parse(request.body, &Limits::DEFAULT);
    let envelope = match &tree {
        Ok(root) => read_envelope(root),
        Err(error) => Err(Error::Xml(error.clone())),
    };
    let (operation, message) = match envelope {
        Ok(envelope) => envelope,
        Err(error) => return fault_reply(&error),
    };
    let mut body = Vec::with_capacity(8192);
    let written = match operation {
        Operation::GetUserSettings => {
            let response =
                read_user_settings(message).map(|asked| answer_users(request, &service, &asked));
            write_response(&mut body, operation, |w| write_user_responses(w, &response))
        }
        Operation::GetDomainSettings => {
            let response = read_domain_settings(message)
                .map(|asked| answer_domains(request, &service, &asked));
            write_response(&mut body, operation, |w| {
                write_domain_responses(w, &response)
            })
        }
    };
    match written {
        Ok(()) => reply(200, Ok(()), body),
        Err(error) => fault_reply(&Error::Write(error)),
    }
}

fn fault_reply(error: &Error) -> Reply {
    let mut body = Vec::with_capacity(1024);
    let written = write_fault(&mut body, error);
    reply(500, written, body)
}

/// Checks the envelope and headers; returns the operation and its request message.
fn read_envelope(root: &Element) -> Result<(Operation, &Element), Error> {
    if root.name() == "Envelope" && root.namespace() != ns::SOAP_ENVELOPE {
        return Err(Error::SoapVersion(excerpt(root.namespace())));
    }
    if !root.is(ns::SOAP_ENVELOPE, "Envelope") {
        return Err(Error::UnexpectedElement {
            expected: "soap:Envelope",
            found: clark_name(root),
        });
    }
    let (mut header, mut body) = (None, None);
    for child in root.children() {
        if child.is(ns::SOAP_ENVELOPE, "Header") && body.is_none() {
            set_once(&mut header, child, "Header")?;
        } else if child.is(ns::SOAP_ENVELOPE, "Body") {
            set_once(&mut body, child, "Body")?;
        } else if body.is_none()
            || child.namespace().is_empty()
            || child.namespace() == ns::SOAP_ENVELOPE
        {
            // SOAP 1.1 §4.3 allows only qualified, non-SOAP elements after the Body.
            return Err(Error::UnexpectedElement {
                expected: "soap:Header or soap:Body",
                found: clark_name(child),
            });
        }
    }
    // SOAP 1.1 §4.2.3: headers are checked before the body is processed.
    let headers = match header {
        Some(header) => read_headers(header)?,
        None => Headers::default(),
    };
    let body = body.ok_or(Error::Missing {
        parent: "Envelope",
        child: "Body",
    })?;
    let mut entries = body.children();
    let message = entries.next().ok_or(Error::Missing {
        parent: "Body",
        child: "an operation",
    })?;
    if let Some(extra) = entries.next() {
        return Err(Error::UnexpectedElement {
            expected: "a single operation",
            found: clark_name(extra),
        });
    }
    let operation =
        Operation::of(message).ok_or_else(|| Error::UnknownOperation(clark_name(message)))?;
    if let Some(action) = headers.action {
        if action != operation.request_action() {
            return Err(Error::ActionMismatch {
                action: excerpt(action),
                operation: operation.name(),
            });
        }
    }
    Ok((operation, message))
}

/// The headers we act on.
#[derive(Debug, Default)]
struct Headers<'e> {
    action: Option<&'e str>,
}

fn read_headers(header: &Element) -> Result<Headers<'_>, Error> {
    let (mut action, mut version) = (None, None);
    for entry in header.children() {
        let for_us = entry
            .attribute(ns::SOAP_ENVELOPE, "actor")
            .is_none_or(|actor| actor == NEXT_ACTOR);
        if !for_us {
            continue;
        }
        if entry.is(ns::WS_ADDRESSING, "Action") {
            set_once(&mut action, entry, "Action")?;
        } else if entry.is(ns::AUTODISCOVER, "RequestedServerVersion") {
            set_once(&mut version, entry, "RequestedServerVersion")?;
        } else if entry.namespace() == ns::WS_ADDRESSING {
            // To, MessageID, ReplyTo and the like: replies always go back on this connection.
        } else if matches!(
            entry.attribute(ns::SOAP_ENVELOPE, "mustUnderstand"),
            Some("1" | "true")
        ) {
            return Err(Error::MustUnderstand(clark_name(entry)));
        }
    }
    if let Some(version) = version {
        read_version(version)?;
    }
    Ok(Headers {
        action: action.map(Element::trimmed_text),
    })
}

/// Checks that `element` names an Exchange version; the answer does not depend on which.
fn read_version(element: &Element) -> Result<ExchangeVersion, Error> {
    let text = element.trimmed_text();
    ExchangeVersion::parse(text).ok_or_else(|| Error::UnknownServerVersion(excerpt(text)))
}

/// The parts GetUserSettings and GetDomainSettings requests share.
struct Asked<'e> {
    /// Mailbox addresses or domain names, in request order.
    subjects: Vec<&'e str>,
    /// Requested setting names, in request order, without repeats.
    settings: Vec<&'e str>,
}

fn read_user_settings(message: &Element) -> Result<Asked<'_>, Error> {
    let (users, settings) = read_request(message, "GetUserSettingsRequestMessage", "Users")?;
    let subjects = repeated(users, "Users", "User", MAX_SUBJECTS)?
        .into_iter()
        .map(|user| only_child(user, "User", "Mailbox").map(Element::trimmed_text))
        .collect::<Result<_, _>>()?;
    Ok(Asked { subjects, settings })
}

fn read_domain_settings(message: &Element) -> Result<Asked<'_>, Error> {
    let (domains, settings) = read_request(message, "GetDomainSettingsRequestMessage", "Domains")?;
    let subjects = repeated(domains, "Domains", "Domain", MAX_SUBJECTS)?
        .into_iter()
        .map(Element::trimmed_text)
        .collect();
    Ok(Asked { subjects, settings })
}

/// Reads `message/Request` with its subject list (`Users` or `Domains`), `RequestedSettings` and
/// optional `RequestedVersion`.
fn read_request<'e>(
    message: &'e Element,
    message_name: &'static str,
    subjects_name: &'static str,
) -> Result<(&'e Element, Vec<&'e str>), Error> {
    let request = only_child(message, message_name, "Request")?;
    let (mut subjects, mut settings, mut version) = (None, None, None);
    for child in request.children() {
        let is = |name| child.is(ns::AUTODISCOVER, name);
        if is(subjects_name) {
            set_once(&mut subjects, child, subjects_name)?;
        } else if is("RequestedSettings") {
            set_once(&mut settings, child, "RequestedSettings")?;
        } else if is("RequestedVersion") {
            set_once(&mut version, child, "RequestedVersion")?;
        } else {
            return Err(Error::UnexpectedElement {
                expected: "the request's subjects, RequestedSettings or RequestedVersion",
                found: clark_name(child),
            });
        }
    }
    if let Some(version) = version {
        read_version(version)?;
    }
    let subjects = subjects.ok_or(Error::Missing {
        parent: "Request",
        child: subjects_name,
    })?;
    let settings = settings.ok_or(Error::Missing {
        parent: "Request",
        child: "RequestedSettings",
    })?;
    let mut names: Vec<&str> = Vec::new();
    for setting in repeated(settings, "RequestedSettings", "Setting", MAX_SETTINGS)? {
        let name = required_text(setting, "Setting", MAX_SETTING_NAME_LEN)?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok((subjects, names))
}

/// The single child `{autodiscover}child` of `parent`.
fn only_child<'e>(
    parent: &'e Element,
    parent_name: &'static str,
    child: &'static str,
) -> Result<&'e Element, Error> {
    let mut found = None;
    for element in parent.children() {
        if element.is(ns::AUTODISCOVER, child) {
            set_once(&mut found, element, child)?;
        } else {
            return Err(Error::UnexpectedElement {
                expected: child,
                found: clark_name(element),
            });
        }
    }
    found.ok_or(Error::Missing {
        parent: parent_name,
        child,
    })
}

/// The children of `parent`, all `{autodiscover}child`, at least one and a bounded number.
fn repeated<'e>(
    parent: &'e Element,
    parent_name: &'static str,
    child: &'static str,
    limit: usize,
) -> Result<Vec<&'e Element>, Error> {
    let mut found = Vec::new();
    for element in parent.children() {
        if !element.is(ns::AUTODISCOVER, child) {
            return Err(Error::UnexpectedElement {
                expected: child,
                found: clark_name(element),
            });
        }
        if found.len() == limit {
            return Err(Error::TooMany {
                element: child,
                limit,
            });
        }
        found.push(element);
    }
    if found.is_empty() {
        return Err(Error::Missing {
            parent: parent_name,
            child,
        });
    }
    Ok(found)
}

/// One setting that could not be returned.
struct SettingError<'a> {
    code: ErrorCode,
    name: &'a str,
}

/// The answer for one user.
struct UserResponse<'a> {
    code: ErrorCode,
    redirect_target: Option<&'a str>,
    setting_errors: Vec<SettingError<'a>>,
    settings: Vec<(UserSettingName, SettingValue<'a>)>,
}

/// The answer for one domain.
struct DomainResponse<'a> {
    code: ErrorCode,
    setting_errors: Vec<SettingError<'a>>,
    settings: Vec<(DomainSettingName, &'a str)>,
}

fn answer_users<'a>(
    request: &Request<'a>,
    service: &'a Service,
    asked: &Asked<'a>,
) -> Vec<UserResponse<'a>> {
    let failed = |code| UserResponse {
        code,
        redirect_target: None,
        setting_errors: Vec::new(),
        settings: Vec::new(),
    };
    let mut responses = Vec::with_capacity(asked.subjects.len());
    for &address in &asked.subjects {
        let mailbox = if address.len() > MAX_ADDRESS_LEN {
            Mailbox::NotFound
        } else {
            request.mailbox_by_address(address)
        };
        responses.push(match mailbox {
            Mailbox::NotFound => failed(ErrorCode::InvalidUser),
            Mailbox::Proxy(user) => UserResponse {
                redirect_target: Some(&user.address),
                ..failed(ErrorCode::RedirectAddress)
            },
            Mailbox::Primary(user) => {
                let mut response = failed(ErrorCode::NoError);
                for &name in &asked.settings {
                    match UserSettingName::parse(name)
                        .map(|known| (known, service.user_setting(known, user)))
                    {
                        None => response.setting_errors.push(SettingError {
                            code: ErrorCode::InvalidSetting,
                            name,
                        }),
                        Some((_, None)) => response.setting_errors.push(SettingError {
                            code: ErrorCode::SettingIsNotAvailable,
                            name,
                        }),
                        Some((known, Some(value))) => response.settings.push((known, value)),
                    }
                }
                response
            }
        });
    }
    responses
}

fn answer_domains<'a>(
    request: &Request<'a>,
    service: &'a Service,
    asked: &Asked<'a>,
) -> Vec<DomainResponse<'a>> {
    asked
        .subjects
        .iter()
        .map(|&domain| {
            if domain.len() > MAX_DOMAIN_LEN || !request.site.serves_domain(domain) {
                return DomainResponse {
                    code: ErrorCode::InvalidDomain,
                    setting_errors: Vec::new(),
                    settings: Vec::new(),
                };
            }
            let mut response = DomainResponse {
                code: ErrorCode::NoError,
                setting_errors: Vec::new(),
                settings: Vec::new(),
            };
            for &name in &asked.settings {
                match DomainSettingName::parse(name) {
                    Some(known) => response
                        .settings
                        .push((known, service.domain_setting(known))),
                    None => response.setting_errors.push(SettingError {
                        code: ErrorCode::InvalidSetting,
                        name,
                    }),
                }
            }
            response
        })
        .collect()
}

/// Writes the envelope, headers and response message around `payload` (the `Response` element).
fn write_response(
    out: &mut Vec<u8>,
    operation: Operation,
    payload: impl FnOnce(&mut Writer<'_>),
) -> Result<(), xml::Error> {
    let mut w = Writer::new(out);
    w.start(SOAP, "Envelope")
        .declare(SOAP)
        .declare(WSA)
        .declare(XSI);
    w.start(SOAP, "Header");
    w.start(WSA, "Action")
        .attribute_ns(SOAP, "mustUnderstand", "1")
        .text(operation.response_action())
        .end();
    w.start(HEADER, "ServerVersionInfo").declare(HEADER);
    w.leaf(HEADER, "MajorVersion", &SERVER_BUILD.major.to_string());
    w.leaf(HEADER, "MinorVersion", &SERVER_BUILD.minor.to_string());
    w.leaf(
        HEADER,
        "MajorBuildNumber",
        &SERVER_BUILD.major_build.to_string(),
    );
    w.leaf(
        HEADER,
        "MinorBuildNumber",
        &SERVER_BUILD.minor_build.to_string(),
    );
    w.leaf(HEADER, "Version", SERVER_VERSION_SCHEMA.as_str());
    w.end().end();
    w.start(SOAP, "Body");
    w.start(BODY, operation.response_element()).declare(BODY);
    w.start(BODY, "Response");
    payload(&mut w);
    w.end().end().end().end();
    w.finish()
}

/// `ErrorCode` and `ErrorMessage` of the whole response; on failure nothing else follows.
fn write_outcome<'o, T>(w: &mut Writer<'_>, outcome: &'o Result<T, Error>) -> Option<&'o T> {
    match outcome {
        Ok(responses) => {
            w.leaf(BODY, "ErrorCode", ErrorCode::NoError.as_str())
                .leaf(BODY, "ErrorMessage", "");
            Some(responses)
        }
        Err(error) => {
            w.leaf(BODY, "ErrorCode", ErrorCode::InvalidRequest.as_str());
            w.leaf(BODY, "ErrorMessage", &error.to_string());
            None
        }
    }
}

fn write_user_responses(w: &mut Writer<'_>, outcome: &Result<Vec<UserResponse<'_>>, Error>) {
    let Some(responses) = write_outcome(w, outcome) else {
        return;
    };
    w.start(BODY, "UserResponses");
    for response in responses {
        w.start(BODY, "UserResponse");
        w.leaf(BODY, "ErrorCode", response.code.as_str());
        w.leaf(BODY, "ErrorMessage", response.code.message());
        write_redirect_target(w, response.redirect_target);
        write_setting_errors(
            w,
            "UserSettingErrors",
            "UserSettingError",
            &response.setting_errors,
        );
        w.start(BODY, "UserSettings");
        for (name, value) in &response.settings {
            w.start(BODY, "UserSetting");
            match value {
                SettingValue::Text(text) => {
                    w.attribute_ns(XSI, "type", "StringSetting");
                    w.leaf(BODY, "Name", name.as_str())
                        .leaf(BODY, "Value", text.as_ref());
                }
                SettingValue::WebClientUrls {
                    authentication_methods,
                    url,
                } => {
                    w.attribute_ns(XSI, "type", "WebClientUrlCollectionSetting");
                    w.leaf(BODY, "Name", name.as_str());
                    w.start(BODY, "WebClientUrls").start(BODY, "WebClientUrl");
                    w.leaf(BODY, "AuthenticationMethods", authentication_methods)
                        .leaf(BODY, "Url", url);
                    w.end().end();
                }
            }
            w.end();
        }
        w.end().end();
    }
    w.end();
}

fn write_domain_responses(w: &mut Writer<'_>, outcome: &Result<Vec<DomainResponse<'_>>, Error>) {
    let Some(responses) = write_outcome(w, outcome) else {
        return;
    };
    w.start(BODY, "DomainResponses");
    for response in responses {
        w.start(BODY, "DomainResponse");
        w.leaf(BODY, "ErrorCode", response.code.as_str());
        w.leaf(BODY, "ErrorMessage", response.code.message());
        write_setting_errors(
            w,
            "DomainSettingErrors",
            "DomainSettingError",
            &response.setting_errors,
        );
        w.start(BODY, "DomainSettings");
        for (name, value) in &response.settings {
            w.start(BODY, "DomainSetting")
                .attribute_ns(XSI, "type", "DomainStringSetting");
            w.leaf(BODY, "Name", name.as_str())
                .leaf(BODY, "Value", value);
            w.end();
        }
        w.end();
        write_redirect_target(w, None);
        w.end();
    }
    w.end();
}

fn write_redirect_target(w: &mut Writer<'_>, target: Option<&str>) {
    match target {
        Some(target) => w.leaf(BODY, "RedirectTarget", target),
        None => w
            .start(BODY, "RedirectTarget")
            .attribute_ns(XSI, "nil", "true")
            .end(),
    };
}

fn write_setting_errors(
    w: &mut Writer<'_>,
    list: &'static str,
    item: &'static str,
    errors: &[SettingError<'_>],
) {
    w.start(BODY, list);
    for error in errors {
        w.start(BODY, item);
        w.leaf(BODY, "ErrorCode", error.code.as_str());
        w.leaf(BODY, "ErrorMessage", error.code.message());
        w.leaf(BODY, "SettingName", error.name);
        w.end();
    }
    w.end();
}

fn write_fault(out: &mut Vec<u8>, error: &Error) -> Result<(), xml::Error> {
    let fault = error.fault();
    let mut w = Writer::new(out);
    w.start(SOAP, "Envelope")
        .declare(SOAP)
        .start(SOAP, "Body")
        .start(SOAP, "Fault");
    w.leaf(
        Namespace::NONE,
        "faultcode",
        &[SOAP.prefix, ":", fault.code.as_str()].concat(),
    );
    w.leaf(Namespace::NONE, "faultstring", &error.to_string());
    if let Some(code) = fault.detail {
        w.start(Namespace::NONE, "detail").declare(DETAIL);
        w.leaf(DETAIL, "ErrorCode", code.as_str())
            .leaf(DETAIL, "ErrorMessage", code.message());
        w.end();
    }
    w.end().end().end();
    w.finish()
}
