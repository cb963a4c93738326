//! Autodiscover: the POX answer of `/autodiscover/autodiscover.xml` (MS-OXDSCLI, Outlook 2006a and
//! ActiveSync mobilesync schemas) and the SOAP service of `/autodiscover/autodiscover.svc`
//! (MS-OXDSCLI GetUserSettings and GetDomainSettings).
//!
//! Pure logic: request bytes, the authenticated caller, the directory and the site go in, a
//! [`Reply`] comes out. Never does IO, never sees HTTP types, never fetches or follows a URL taken
//! from a request (the PrivExchange lesson: a server that fetches URLs for clients relays
//! their attacks), and never tells a caller whether an address it may not
//! query exists: unknown addresses, addresses in domains we do not serve and other users'
//! addresses all get the same answer.
//!
//! Entry points: [`pox`] and [`soap`]. The values both advertise come from one place
//! (`settings::Service`), so the two protocols agree on every URL and identifier.

mod pox;
mod settings;
mod soap;

use std::time::SystemTime;

use umbox_base::config::Site;
use umbox_base::directory::{Directory, Right, User};
use umbox_xml::{self as xml, Element};

pub use pox::{PoxAction, PoxErrorCode, ProtocolType};
pub use settings::{
    DomainSettingName, UserSettingName, ACTIVE_SYNC_PATH, EWS_PATH, EWS_SUPPORTED_SCHEMAS,
    OWA_PATH, SERVER_VERSION_SCHEMA, UM_PATH,
};
pub use soap::{ErrorCode, FaultCode};

/// The `Content-Type` of every reply.
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// One Autodiscover request, already authenticated and size-capped by the HTTP layer.
/// Not `Debug`: the caller's entry holds a password hash that must never reach a log.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// The request body.
    pub body: &'a [u8],
    /// The authenticated user.
    pub caller: &'a User,
    /// The directory to answer from.
    pub directory: &'a Directory,
    /// Public host, port and served domains.
    pub site: &'a Site,
    /// The current time, for `Error Time` attributes.
    pub now: SystemTime,
}

/// What to send back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status: 200, or 500 for a SOAP fault (SOAP 1.1 §6.2) or when no reply could be
    /// written.
    pub status: u16,
    /// Always [`CONTENT_TYPE`].
    pub content_type: &'static str,
    /// The XML document; empty only when writing failed.
    pub body: Vec<u8>,
}

/// Answers `POST /autodiscover/autodiscover.xml`. Errors are Autodiscover `Error` responses with
/// HTTP 200, as clients expect.
pub fn pox(request: &Request<'_>) -> Reply {
    pox::respond(request)
}

/// Answers `POST /autodiscover/autodiscover.svc`. Requests we cannot read as a known operation get
/// a SOAP fault with HTTP 500; problems inside a known operation are answered in its response.
pub fn soap(request: &Request<'_>) -> Reply {
    soap::respond(request)
}

/// Why a request could not be answered as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The body is not acceptable XML (malformed, a DTD, over a limit).
    #[error("{0}")]
    Xml(#[from] xml::Error),
    /// An element other than the one the protocol allows here.
    #[error("expected {expected}, found {found}")]
    UnexpectedElement {
        /// What was allowed.
        expected: &'static str,
        /// What came, as `{namespace}name` (shortened).
        found: String,
    },
    /// A required element is absent.
    #[error("{parent} has no {child}")]
    Missing {
        /// The enclosing element.
        parent: &'static str,
        /// The element that is required.
        child: &'static str,
    },
    /// An element that may appear once appears again.
    #[error("{element} appears more than once")]
    Duplicate {
        /// The repeated element.
        element: &'static str,
    },
    /// An element whose text is required is empty.
    #[error("{element} is empty")]
    Empty {
        /// The empty element.
        element: &'static str,
    },
    /// An element's text is longer than anything valid.
    #[error("{element} is longer than {limit} bytes")]
    TooLong {
        /// The element.
        element: &'static str,
        /// The limit.
        limit: usize,
    },
    /// More repetitions of an element than one request may carry.
    #[error("more than {limit} {element} elements")]
    TooMany {
        /// The repeated element.
        element: &'static str,
        /// The limit.
        limit: usize,
    },
    /// POX `AcceptableResponseSchema` names a schema we do not produce.
    #[error("response schema {0:?} is not available")]
    UnsupportedResponseSchema(String),
    /// The SOAP `Envelope` is not in the SOAP 1.1 namespace.
    #[error("envelope namespace {0:?} is not SOAP 1.1")]
    SoapVersion(String),
    /// A SOAP header marked `mustUnderstand` that we do not implement.
    #[error("header {0} must be understood but is not supported")]
    MustUnderstand(String),
    /// The SOAP body holds an operation we do not implement.
    #[error("operation {0} is not supported")]
    UnknownOperation(String),
    /// The WS-Addressing `Action` names another operation than the body holds.
    #[error("WS-Addressing Action {action:?} does not match operation {operation}")]
    ActionMismatch {
        /// The header's value (shortened).
        action: String,
        /// The body's operation.
        operation: &'static str,
    },
    /// `RequestedServerVersion` or `RequestedVersion` is not an Exchange version.
    #[error("{0:?} is not an Exchange version")]
    UnknownServerVersion(String),
    /// The response could not be written (a bug, never caused by the request).
    #[error("cannot write the response: {0}")]
    Write(xml::Error),
}

/// Longest e-mail address accepted (RFC 5321 §4.5.3.1: 64 + 1 + 255).
const MAX_ADDRESS_LEN: usize = 320;
/// Longest text echoed back in an error message, so a hostile value is not reflected whole.
const MAX_ECHO_CHARS: usize = 100;

/// The start of `text`, for messages.
fn excerpt(text: &str) -> String {
    match text.char_indices().nth(MAX_ECHO_CHARS) {
        Some((end, _)) => [text.get(..end).unwrap_or_default(), "…"].concat(),
        None => text.to_owned(),
    }
}

/// `{namespace}name` of an element, shortened, for messages.
fn clark_name(element: &Element) -> String {
    excerpt(&format!("{{{}}}{}", element.namespace(), element.name()))
}

/// Keeps `element` in `slot`, refusing a second occurrence.
fn set_once<'e>(
    slot: &mut Option<&'e Element>,
    element: &'e Element,
    name: &'static str,
) -> Result<(), Error> {
    match slot.replace(element) {
        Some(_) => Err(Error::Duplicate { element: name }),
        None => Ok(()),
    }
}

/// The trimmed text of `element`, which must be non-empty and at most `limit` bytes.
fn required_text<'e>(
    element: &'e Element,
    name: &'static str,
    limit: usize,
) -> Result<&'e str, Error> {
    let text = element.trimmed_text();
    if text.is_empty() {
        Err(Error::Empty { element: name })
    } else if text.len() > limit {
        Err(Error::TooLong {
            element: name,
            limit,
        })
    } else {
        Ok(text)
    }
}

/// The outcome of looking up a mailbox on behalf of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mailbox<'a> {
    /// Asked by its primary address.
    Primary(&'a User),
    /// Asked by a proxy address; the answer redirects to the primary one.
    Proxy(&'a User),
    /// Unknown, in a domain we do not serve, or not the caller's to see: deliberately one case.
    NotFound,
}

impl<'a> Request<'a> {
    /// Finds the mailbox behind `address` if the caller may query it.
    fn mailbox_by_address(&self, address: &str) -> Mailbox<'a> {
        let served = address
            .rsplit_once('@')
            .is_some_and(|(_, domain)| self.site.serves_domain(domain));
        match self.directory.user_by_address(address) {
            Some(user) if served && self.may_query(user) => {
                if user.address.eq_ignore_ascii_case(address) {
                    Mailbox::Primary(user)
                } else {
                    Mailbox::Proxy(user)
                }
            }
            Some(_) | None => Mailbox::NotFound,
        }
    }

    /// Finds the mailbox whose legacy DN is `legacy_dn` if the caller may query it.
    fn mailbox_by_legacy_dn(&self, legacy_dn: &str) -> Mailbox<'a> {
        match self
            .directory
            .users
            .iter()
            .find(|u| u.legacy_dn().eq_ignore_ascii_case(legacy_dn))
        {
            Some(user) if self.site.serves_domain(user.domain()) && self.may_query(user) => {
                Mailbox::Primary(user)
            }
            Some(_) | None => Mailbox::NotFound,
        }
    }

    /// A caller may query their own mailbox, or any with the impersonation right.
    fn may_query(&self, user: &User) -> bool {
        self.caller.address.eq_ignore_ascii_case(&user.address)
            || self.caller.has_right(Right::Impersonation)
    }
}

/// A reply carrying a finished document, or HTTP 500 with no body when it could not be written.
fn reply(status: u16, written: Result<(), xml::Error>, body: Vec<u8>) -> Reply {
    match written {
        Ok(()) => Reply {
            status,
            content_type: CONTENT_TYPE,
            body,
        },
        Err(error) => {
            tracing::error!(%error, "autodiscover response could not be written");
            Reply {
                status: 500,
                content_type: CONTENT_TYPE,
                body: Vec::new(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};
    use umbox_xml::{ns, Namespace, Writer};

    fn site() -> Site {
        Site {
            domains: vec!["example.test".into()],
            public_host: "mail.example.test".into(),
            https_port: 443,
            sip_port: 5060,
            sips_port: 5061,
            addresses: Vec::new(),
        }
    }

    fn ask(directory: &Directory, body: &[u8], soap: bool) -> Reply {
        let alice = directory.user_by_address("alice@example.test").unwrap();
        let site = site();
        let request = Request {
            body,
            caller: alice,
            directory,
            site: &site,
            now: UNIX_EPOCH + Duration::from_secs(1_000_000_000),
        };
        if soap {
            super::soap(&request)
        } else {
            super::pox(&request)
        }
    }

    fn pox_body(address: &str, schema: &str) -> Vec<u8> {
        const R: Namespace = Namespace::new("", ns::OUTLOOK_REQUEST);
        let mut body = Vec::new();
        let mut w = Writer::new(&mut body);
        w.start(R, "Autodiscover").declare(R).start(R, "Request");
        w.leaf(R, "EMailAddress", address);
        w.leaf(R, "AcceptableResponseSchema", schema);
        w.end().end();
        w.finish().unwrap();
        body
    }

    fn soap_body(mailboxes: &[&str]) -> Vec<u8> {
        const S: Namespace = Namespace::new("s", ns::SOAP_ENVELOPE);
        const A: Namespace = Namespace::new("a", ns::AUTODISCOVER);
        let mut body = Vec::new();
        let mut w = Writer::new(&mut body);
        w.start(S, "Envelope")
            .declare(S)
            .declare(A)
            .start(S, "Body");
        w.start(A, "GetUserSettingsRequestMessage")
            .start(A, "Request")
            .start(A, "Users");
        for mailbox in mailboxes {
            w.start(A, "User").leaf(A, "Mailbox", mailbox).end();
        }
        w.end()
            .start(A, "RequestedSettings")
            .leaf(A, "Setting", "UserDisplayName")
            .end();
        w.end().end().end().end();
        w.finish().unwrap();
        body
    }

    fn text(reply: Reply) -> String {
        String::from_utf8(reply.body).unwrap()
    }

    #[test]
    fn hidden_addresses_are_indistinguishable_from_unknown_ones() {
        let directory = Directory::demo().unwrap();
        let pox_ask = |address| ask(&directory, &pox_body(address, ns::OUTLOOK_RESPONSE), false);
        let unknown = pox_ask("nobody@example.test");
        assert_eq!(unknown.status, 200);
        for hidden in [
            "bob@example.test",
            "alice@elsewhere.test",
            "BOB@EXAMPLE.TEST",
            "bob",
        ] {
            assert_eq!(pox_ask(hidden), unknown, "{hidden}");
        }
        let unknown = ask(&directory, &soap_body(&["nobody@example.test"]), true);
        for hidden in ["bob@example.test", "alice@elsewhere.test", ""] {
            assert_eq!(
                ask(&directory, &soap_body(&[hidden]), true),
                unknown,
                "{hidden:?}"
            );
        }
    }

    #[test]
    fn oversized_inputs_are_refused_not_processed() {
        let directory = Directory::demo().unwrap();
        let long = format!("{}@example.test", "a".repeat(400));
        let reply = text(ask(
            &directory,
            &pox_body(&long, ns::OUTLOOK_RESPONSE),
            false,
        ));
        assert!(reply.contains("<ErrorCode>600</ErrorCode>"), "{reply}");
        assert!(reply.contains("longer than 320 bytes"), "{reply}");

        let reply = ask(&directory, &soap_body(&["alice@example.test"; 101]), true);
        assert_eq!(reply.status, 200);
        let reply = text(reply);
        assert!(
            reply.contains("<ErrorCode>InvalidRequest</ErrorCode>"),
            "{reply}"
        );
        assert!(reply.contains("more than 100 User elements"), "{reply}");
    }

    #[test]
    fn hostile_text_is_echoed_shortened_and_escaped() {
        let directory = Directory::demo().unwrap();
        let schema = format!("<&>{}", "x".repeat(500));
        let reply = text(ask(
            &directory,
            &pox_body("alice@example.test", &schema),
            false,
        ));
        assert!(reply.contains("<ErrorCode>601</ErrorCode>"), "{reply}");
        assert!(reply.contains("&lt;&amp;&gt;xxx"), "{reply}");
        assert!(
            reply.len() < 1000,
            "the 500-byte value was echoed whole: {reply}"
        );
    }
}
