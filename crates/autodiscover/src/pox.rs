//! POX Autodiscover (MS-OXDSCLI §2.2.3/§2.2.4; MS-ASCMD Autodiscover for the mobilesync schema):
//! reads the `Autodiscover/Request`, decides settings, address redirect or error, and writes the
//! response in the schema the client asked for.
//!
//! Never answers with anything but HTTP 200 and an Autodiscover document (clients read errors from
//! the `Error` element), except when the writer itself fails.

use std::time::{SystemTime, UNIX_EPOCH};

use super::settings::Service;
use super::{
    clark_name, excerpt, reply, required_text, set_once, Error, Mailbox, Reply, Request,
    MAX_ADDRESS_LEN,
};
use umbox_base::directory::User;
use umbox_xml::{self as xml, ns, Element, Limits, Namespace, Writer};

/// POX error codes (MS-OXDSCLI §2.2.4.1.1.3.2 ErrorCode; MS-ASCMD §2.2.3.64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoxErrorCode {
    /// 500: the address is not known (also: not the caller's, or not in a served domain).
    AddressNotFound,
    /// 501: the address is known but has no configuration to return.
    NoConfiguration,
    /// 600: the request is not a valid Autodiscover request.
    InvalidRequest,
    /// 601: no provider for the requested `AcceptableResponseSchema`.
    SchemaNotAvailable,
    /// 602: the server's configuration is broken.
    ConfigurationError,
    /// 603: an internal server error.
    InternalError,
}

impl PoxErrorCode {
    /// The code as written in `ErrorCode`.
    pub fn as_str(self) -> &'static str {
        match self {
            PoxErrorCode::AddressNotFound => "500",
            PoxErrorCode::NoConfiguration => "501",
            PoxErrorCode::InvalidRequest => "600",
            PoxErrorCode::SchemaNotAvailable => "601",
            PoxErrorCode::ConfigurationError => "602",
            PoxErrorCode::InternalError => "603",
        }
    }

    /// The code read from an `ErrorCode` element.
    pub fn parse(code: &str) -> Option<PoxErrorCode> {
        match code {
            "500" => Some(PoxErrorCode::AddressNotFound),
            "501" => Some(PoxErrorCode::NoConfiguration),
            "600" => Some(PoxErrorCode::InvalidRequest),
            "601" => Some(PoxErrorCode::SchemaNotAvailable),
            "602" => Some(PoxErrorCode::ConfigurationError),
            "603" => Some(PoxErrorCode::InternalError),
            _ => None,
        }
    }

    /// Our `Message` text for the code.
    fn message(self) -> &'static str {
        match self {
            PoxErrorCode::AddressNotFound => "The e-mail address was not found.",
            PoxErrorCode::NoConfiguration => "There is no configuration for this address.",
            PoxErrorCode::InvalidRequest => "The request is not a valid Autodiscover request.",
            PoxErrorCode::SchemaNotAvailable => "The requested response schema is not available.",
            PoxErrorCode::ConfigurationError => "The server configuration is invalid.",
            PoxErrorCode::InternalError => "An internal server error occurred.",
        }
    }
}

/// `Account/Action` values (MS-OXDSCLI §2.2.4.1.1.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoxAction {
    /// The account carries `Protocol` settings.
    Settings,
    /// Ask again with `RedirectAddr`.
    RedirectAddr,
    /// Ask again at `RedirectUrl`.
    RedirectUrl,
}

impl PoxAction {
    /// The value as written in `Action`.
    pub fn as_str(self) -> &'static str {
        match self {
            PoxAction::Settings => "settings",
            PoxAction::RedirectAddr => "redirectAddr",
            PoxAction::RedirectUrl => "redirectUrl",
        }
    }
}

/// `Protocol/Type` values umbox writes (MS-OXDSCLI §2.2.4.1.1.2.x Type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolType {
    /// Settings for clients inside the network.
    Exch,
    /// Settings for clients outside (Outlook Anywhere).
    Expr,
    /// Web client settings.
    Web,
}

impl ProtocolType {
    /// The value as written in `Type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolType::Exch => "EXCH",
            ProtocolType::Expr => "EXPR",
            ProtocolType::Web => "WEB",
        }
    }
}

impl Error {
    /// The one mapping from a failure to the POX `ErrorCode` the client sees.
    fn pox_code(&self) -> PoxErrorCode {
        match self {
            Error::Xml(_)
            | Error::UnexpectedElement { .. }
            | Error::Missing { .. }
            | Error::Duplicate { .. }
            | Error::Empty { .. }
            | Error::TooLong { .. }
            | Error::TooMany { .. }
            | Error::SoapVersion(_)
            | Error::MustUnderstand(_)
            | Error::UnknownOperation(_)
            | Error::ActionMismatch { .. }
            | Error::UnknownServerVersion(_) => PoxErrorCode::InvalidRequest,
            Error::UnsupportedResponseSchema(_) => PoxErrorCode::SchemaNotAvailable,
            Error::Write(_) => PoxErrorCode::InternalError,
        }
    }
}

/// The response schemas we produce, chosen by `AcceptableResponseSchema`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResponseSchema {
    /// `outlook/responseschema/2006a`.
    Outlook,
    /// `mobilesync/responseschema/2006`.
    MobileSync,
}

impl ResponseSchema {
    fn namespace(self) -> Namespace {
        match self {
            ResponseSchema::Outlook => OUTLOOK,
            ResponseSchema::MobileSync => MOBILESYNC,
        }
    }
}

/// Whom the request asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Subject<'e> {
    EmailAddress(&'e str),
    LegacyDn(&'e str),
}

/// A request that could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PoxRequest<'e> {
    schema: ResponseSchema,
    subject: Subject<'e>,
}

/// What to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer<'a> {
    Settings(&'a User),
    RedirectAddress(&'a User),
    Error(PoxErrorCode),
}

/// Longest legacy DN accepted; ours are far shorter.
const MAX_LEGACY_DN_LEN: usize = 1024;
/// Culture reported to mobilesync clients.
const MOBILESYNC_CULTURE: &str = "en:us";

const RESPONSE: Namespace = Namespace::new("", ns::AUTODISCOVER_RESPONSE);
const OUTLOOK: Namespace = Namespace::new("", ns::OUTLOOK_RESPONSE);
const MOBILESYNC: Namespace = Namespace::new("", ns::MOBILESYNC_RESPONSE);

pub(super) fn respond(request: &Request<'_>) -> Reply {
    let service = Service::new(request.site);
    let tree = xml::parse(request.body, &Limits::DEFAULT);
    let parsed = match &tree {
        Ok(root) => read_request(root),
        Err(error) => Err((None, Error::Xml(error.clone()))),
    };
    let (schema, answer, debug_data) = match parsed {
        Ok(parsed) => (Some(parsed.schema), decide(request, &parsed), String::new()),
        Err((schema, error)) => (schema, Answer::Error(error.pox_code()), error.to_string()),
    };
    let mut body = Vec::with_capacity(4096);
    let written = write(
        &mut body,
        schema,
        answer,
        &debug_data,
        &service,
        request.now,
    );
    let written = match written {
        Ok(()) => Ok(()),
        Err(error) => {
            // A writer bug: report it in the protocol's own terms rather than dropping the client.
            let error = Error::Write(error);
            write(
                &mut body,
                schema,
                Answer::Error(error.pox_code()),
                &error.to_string(),
                &service,
                request.now,
            )
        }
    };
    reply(200, written, body)
}

/// Reads the request; a failure keeps the response schema when it was already known.
fn read_request(root: &Element) -> Result<PoxRequest<'_>, (Option<ResponseSchema>, Error)> {
    let generic = |error: Error| (None, error);
    let request_ns = [ns::OUTLOOK_REQUEST, ns::MOBILESYNC_REQUEST]
        .into_iter()
        .find(|namespace| root.is(namespace, "Autodiscover"))
        .ok_or_else(|| {
            generic(Error::UnexpectedElement {
                expected: "Autodiscover",
                found: clark_name(root),
            })
        })?;

    let mut request = None;
    for child in root.children() {
        if child.is(request_ns, "Request") {
            set_once(&mut request, child, "Request").map_err(generic)?;
        } else {
            return Err(generic(Error::UnexpectedElement {
                expected: "Request",
                found: clark_name(child),
            }));
        }
    }
    let request = request.ok_or(generic(Error::Missing {
        parent: "Autodiscover",
        child: "Request",
    }))?;

    let (mut email, mut legacy_dn, mut schema) = (None, None, None);
    for child in request.children() {
        let slot = match (child.namespace() == request_ns, child.name()) {
            (true, "EMailAddress") => (&mut email, "EMailAddress"),
            (true, "LegacyDN") => (&mut legacy_dn, "LegacyDN"),
            (true, "AcceptableResponseSchema") => (&mut schema, "AcceptableResponseSchema"),
            _ => {
                return Err(generic(Error::UnexpectedElement {
                    expected: "EMailAddress, LegacyDN or AcceptableResponseSchema",
                    found: clark_name(child),
                }))
            }
        };
        set_once(slot.0, child, slot.1).map_err(generic)?;
    }
    let schema = schema.ok_or(generic(Error::Missing {
        parent: "Request",
        child: "AcceptableResponseSchema",
    }))?;
    let schema = match schema.trimmed_text() {
        ns::OUTLOOK_RESPONSE => ResponseSchema::Outlook,
        ns::MOBILESYNC_RESPONSE => ResponseSchema::MobileSync,
        other => return Err(generic(Error::UnsupportedResponseSchema(excerpt(other)))),
    };
    let known = |error: Error| (Some(schema), error);

    // MS-OXDSCLI §3.2.5: when both are present, LegacyDN wins.
    let subject = match (legacy_dn, email) {
        (Some(dn), _) => {
            Subject::LegacyDn(required_text(dn, "LegacyDN", MAX_LEGACY_DN_LEN).map_err(known)?)
        }
        (None, Some(address)) => Subject::EmailAddress(
            required_text(address, "EMailAddress", MAX_ADDRESS_LEN).map_err(known)?,
        ),
        (None, None) => {
            return Err(known(Error::Missing {
                parent: "Request",
                child: "EMailAddress",
            }))
        }
    };
    Ok(PoxRequest { schema, subject })
}

fn decide<'a>(request: &Request<'a>, parsed: &PoxRequest<'_>) -> Answer<'a> {
    let mailbox = match parsed.subject {
        Subject::EmailAddress(address) => request.mailbox_by_address(address),
        Subject::LegacyDn(legacy_dn) => request.mailbox_by_legacy_dn(legacy_dn),
    };
    match (mailbox, parsed.schema) {
        // MS-ASCMD: the mobilesync answer names the primary address itself; only Outlook's
        // schema has an address redirect, and a device would resend the same address anyway.
        (Mailbox::Primary(user), _) | (Mailbox::Proxy(user), ResponseSchema::MobileSync) => {
            Answer::Settings(user)
        }
        (Mailbox::Proxy(user), ResponseSchema::Outlook) => Answer::RedirectAddress(user),
        (Mailbox::NotFound, _) => Answer::Error(PoxErrorCode::AddressNotFound),
    }
}

fn write(
    out: &mut Vec<u8>,
    schema: Option<ResponseSchema>,
    answer: Answer<'_>,
    debug_data: &str,
    service: &Service,
    now: SystemTime,
) -> Result<(), xml::Error> {
    let mut w = Writer::new(out);
    w.start(RESPONSE, "Autodiscover").declare(RESPONSE);
    // Errors for requests whose schema is unknown use the outer namespace's own Response.
    let namespace = schema.map_or(RESPONSE, ResponseSchema::namespace);
    w.start(namespace, "Response");
    if namespace != RESPONSE {
        w.declare(namespace);
    }
    match (answer, schema) {
        (Answer::Error(code), _) => write_error(&mut w, namespace, code, debug_data, service, now),
        (Answer::Settings(user), Some(ResponseSchema::MobileSync)) => {
            write_mobilesync(&mut w, user, service)
        }
        (Answer::Settings(user), _) => write_outlook_settings(&mut w, user, service),
        (Answer::RedirectAddress(user), _) => {
            w.start(OUTLOOK, "Account");
            w.leaf(OUTLOOK, "AccountType", "email");
            w.leaf(OUTLOOK, "Action", PoxAction::RedirectAddr.as_str());
            w.leaf(OUTLOOK, "RedirectAddr", &user.address);
            w.end();
        }
    }
    w.end().end();
    w.finish()
}

fn write_error(
    w: &mut Writer<'_>,
    namespace: Namespace,
    code: PoxErrorCode,
    debug_data: &str,
    service: &Service,
    now: SystemTime,
) {
    w.start(namespace, "Error")
        .attribute("Time", &time_of_day(now))
        .attribute("Id", &service.error_id.to_string());
    w.leaf(namespace, "ErrorCode", code.as_str());
    w.leaf(namespace, "Message", code.message());
    w.leaf(namespace, "DebugData", debug_data);
    w.end();
}

fn write_outlook_settings(w: &mut Writer<'_>, user: &User, service: &Service) {
    let o = OUTLOOK;
    w.start(o, "User");
    w.leaf(o, "DisplayName", &user.display_name);
    w.leaf(o, "LegacyDN", &user.legacy_dn());
    w.leaf(o, "AutoDiscoverSMTPAddress", &user.address);
    w.leaf(o, "DeploymentId", &service.deployment_id);
    w.end();
    w.start(o, "Account");
    w.leaf(o, "AccountType", "email");
    w.leaf(o, "Action", PoxAction::Settings.as_str());
    // Clients map EXCH to Internal* and EXPR to External* settings, so both carry every URL.
    for kind in [ProtocolType::Exch, ProtocolType::Expr] {
        w.start(o, "Protocol");
        w.leaf(o, "Type", kind.as_str());
        w.leaf(o, "Server", &service.public_host);
        if kind == ProtocolType::Expr {
            w.leaf(o, "SSL", "On");
            w.leaf(o, "AuthPackage", "Basic");
        }
        w.leaf(o, "ASUrl", &service.ews_url);
        w.leaf(o, "EwsUrl", &service.ews_url);
        w.leaf(o, "OOFUrl", &service.ews_url);
        w.leaf(o, "UMUrl", &service.um_url);
        w.leaf(o, "EwsPartnerUrl", &service.ews_url);
        w.end();
    }
    w.start(o, "Protocol");
    w.leaf(o, "Type", ProtocolType::Web.as_str());
    for (side, kind) in [
        ("Internal", ProtocolType::Exch),
        ("External", ProtocolType::Expr),
    ] {
        w.start(o, side);
        w.start(o, "OWAUrl")
            .attribute("AuthenticationMethod", "Basic")
            .text(&service.owa_url)
            .end();
        w.start(o, "Protocol");
        w.leaf(o, "Type", kind.as_str());
        w.leaf(o, "ASUrl", &service.ews_url);
        w.end();
        w.end();
    }
    w.end();
    w.end();
}

fn write_mobilesync(w: &mut Writer<'_>, user: &User, service: &Service) {
    let m = MOBILESYNC;
    w.leaf(m, "Culture", MOBILESYNC_CULTURE);
    w.start(m, "User");
    w.leaf(m, "DisplayName", &user.display_name);
    w.leaf(m, "EMailAddress", &user.address);
    w.end();
    w.start(m, "Action").start(m, "Settings").start(m, "Server");
    w.leaf(m, "Type", "MobileSync");
    w.leaf(m, "Url", &service.active_sync_url);
    w.leaf(m, "Name", &service.active_sync_url);
    w.end().end().end();
}

/// `HH:MM:SS.fffffff` in UTC, the form Exchange writes in `Error Time`.
fn time_of_day(now: SystemTime) -> String {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs() % 86_400;
    let ticks = since_epoch.subsec_nanos() / 100;
    format!(
        "{:02}:{:02}:{:02}.{ticks:07}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}
