//! SIP wire types: the one reader and writer of SIP text (pre-pass, grammar, Diversion and
//! History-Info), the typed values every SIP layer passes around, and the SIP error with its one
//! mapping to a status.
//!
//! Pure: no sockets, no timers, no async runtime. Never knows what a call is for, never holds
//! transaction or dialog state (`umbox-sip` does) and never depends on unified messaging, the
//! directory or the store.

pub mod types;
pub mod wire;

use crate::types::{CallId, StatusCode};
use crate::wire::grammar::SyntaxError;
use crate::wire::prepass::HeaderName;

/// Everything that can go wrong in SIP handling, from bytes to dialogs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The message does not follow the SIP grammar.
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// A header value does not follow its grammar.
    #[error("bad {} header: {reason}", header.as_str())]
    BadHeader {
        /// The header.
        header: HeaderName,
        /// What is wrong.
        reason: SyntaxError,
    },
    /// A required header is missing.
    #[error("missing {} header", .0.as_str())]
    MissingHeader(HeaderName),
    /// A single-valued header appears more than once (RFC 3261 §7.3.1).
    #[error("more than one {} header", .0.as_str())]
    DuplicateHeader(HeaderName),
    /// The CSeq method differs from the request method (RFC 3261 §8.1.1.5).
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,
    /// Content-Length is unreadable or larger than what arrived.
    #[error("Content-Length {0}")]
    ContentLength(&'static str),
    /// The message or its body is larger than we accept.
    #[error("message of {size} bytes is over the {limit}-byte limit")]
    TooLarge {
        /// Bytes announced or received.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The request line names another SIP version.
    #[error("SIP version {0:?} is not supported")]
    Version(String),
    /// The Request-URI is not sip: or sips:.
    #[error("Request-URI scheme {0:?} is not supported")]
    UriScheme(String),
    /// Max-Forwards reached zero (RFC 3261 §8.2.2 via the proxy rule of §16.3).
    #[error("Max-Forwards is zero")]
    TooManyHops,
    /// The request requires extensions we do not support (RFC 3261 §8.2.2.3).
    #[error("unsupported extensions: {}", .0.join(", "))]
    BadExtension(Vec<String>),
    /// The method is not a SIP method we know (RFC 3261 §8.2.1).
    #[error("method {0} is not implemented")]
    NotImplemented(String),
    /// The method is known but not served by this listener (RFC 3261 §8.2.1).
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    /// The body type is not one we read (RFC 3261 §8.2.3).
    #[error("content type {0:?} is not supported")]
    UnsupportedMediaType(String),
    /// No dialog or transaction matches an in-dialog request or CANCEL.
    #[error("no dialog or transaction matches call {0}")]
    NoSuchDialog(CallId),
    /// A dialog request arrived out of order (RFC 3261 §12.2.2).
    #[error("CSeq {seq} is not above {last} in call {call_id}")]
    CSeqOutOfOrder {
        /// The call.
        call_id: CallId,
        /// The number received.
        seq: u32,
        /// The last number seen.
        last: u32,
    },
    /// A re-INVITE arrived before the previous INVITE was finished (RFC 3261 §14.2).
    #[error("call {0} already has an INVITE in progress")]
    InviteInProgress(CallId),
    /// More server transactions than the configured limit.
    #[error("over the limit of {0} transactions")]
    TooManyTransactions(usize),
    /// More calls than the configured limit.
    #[error("over the limit of {0} calls in progress")]
    Overloaded(usize),
    /// The request waited longer than the configured limit in the listener's receive buffer:
    /// the listener is not keeping up, so new calls are refused (503) until it does.
    #[error("waited {0:?} in the receive buffer")]
    Congested(std::time::Duration),
    /// The server is stopping: calls in progress go on, new ones are refused (503, so the
    /// gateway tries another server).
    #[error("the server is stopping")]
    Draining,
    /// The transaction user could not decide where the request goes (a state the business side's
    /// validation prevents, such as a gateway naming a missing dial plan).
    #[error("cannot route: {0}")]
    Unroutable(String),
    /// The source is not a configured gateway.
    #[error("source {0} is not a configured gateway")]
    Forbidden(std::net::IpAddr),
    /// A SUBSCRIBE names an event package this listener does not serve (RFC 6665 §4.2.1.1).
    #[error("event package {package:?} is not served")]
    BadEvent {
        /// The package asked for (empty when the request had no Event header).
        package: String,
        /// The packages served, for Allow-Events.
        served: &'static [&'static str],
    },
    /// A SUBSCRIBE asks for a shorter subscription than the minimum (RFC 6665 §4.2.1.1).
    #[error("expiration below the minimum of {0} seconds")]
    IntervalTooBrief(u32),
    /// A SUBSCRIBE names a resource nobody holds.
    #[error("no resource {0:?}")]
    UnknownResource(String),
    /// The authenticated subscriber may not watch this resource.
    #[error("{who} may not subscribe to {resource:?}")]
    NotPermitted {
        /// The authenticated identity.
        who: String,
        /// What it asked for.
        resource: String,
    },
    /// Digest credentials that do not match (RFC 7616 §3.4).
    #[error("wrong credentials for {0:?}")]
    BadCredentials(String),
    /// More subscriptions than the configured limit, in total or for one resource.
    #[error("over the limit of {0} subscriptions")]
    TooManySubscriptions(usize),
    /// The call is not known (hang-up of an ended or unknown call).
    #[error("no call {0}")]
    NoSuchCall(CallId),
    /// The peer did not answer a request we sent (timer B or F, RFC 3261 §17.1).
    #[error("no response from the peer in call {0}")]
    Timeout(CallId),
    /// A socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was attempted.
        what: &'static str,
        /// The IO error.
        source: std::io::Error,
    },
    /// The listener has shut down.
    #[error("the SIP listener has stopped")]
    Closed,
}

impl Error {
    /// The one mapping from errors to SIP statuses (STYLE §2 rule 6); `None` when the error
    /// gets no response (it did not come from a request, or answering would not help).
    pub fn status(&self) -> Option<StatusCode> {
        Some(match self {
            Error::Malformed(_)
            | Error::BadHeader { .. }
            | Error::MissingHeader(_)
            | Error::DuplicateHeader(_)
            | Error::CSeqMethodMismatch
            | Error::ContentLength(_) => StatusCode::BadRequest,
            Error::TooLarge { .. } => StatusCode::MessageTooLarge,
            Error::Version(_) => StatusCode::VersionNotSupported,
            Error::UriScheme(_) => StatusCode::UnsupportedUriScheme,
            Error::TooManyHops => StatusCode::TooManyHops,
            Error::BadExtension(_) => StatusCode::BadExtension,
            Error::NotImplemented(_) => StatusCode::NotImplemented,
            Error::MethodNotAllowed(_) => StatusCode::MethodNotAllowed,
            Error::UnsupportedMediaType(_) => StatusCode::UnsupportedMediaType,
            Error::NoSuchDialog(_) => StatusCode::CallOrTransactionDoesNotExist,
            Error::CSeqOutOfOrder { .. } | Error::Unroutable(_) | Error::InviteInProgress(_) => {
                StatusCode::ServerInternalError
            }
            Error::Overloaded(_)
            | Error::Congested(_)
            | Error::Draining
            | Error::TooManyTransactions(_)
            | Error::TooManySubscriptions(_) => StatusCode::ServiceUnavailable,
            Error::Forbidden(_) | Error::NotPermitted { .. } | Error::BadCredentials(_) => {
                StatusCode::Forbidden
            }
            Error::BadEvent { .. } => StatusCode::BadEvent,
            Error::IntervalTooBrief(_) => StatusCode::IntervalTooBrief,
            Error::UnknownResource(_) => StatusCode::NotFound,
            Error::NoSuchCall(_) | Error::Timeout(_) | Error::Io { .. } | Error::Closed => {
                return None
            }
        })
    }

    /// The reason phrase: the standard one, except that a 400 says what was wrong.
    pub fn reason_phrase(&self) -> String {
        match self.status() {
            Some(StatusCode::BadRequest) => format!("Bad Request ({self})"),
            Some(status) => status.reason().to_owned(),
            None => self.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_statuses_once() {
        let missing = Error::MissingHeader(HeaderName::To);
        assert_eq!(missing.status(), Some(StatusCode::BadRequest));
        assert_eq!(missing.reason_phrase(), "Bad Request (missing To header)");
        assert_eq!(Error::TooManyHops.status(), Some(StatusCode::TooManyHops));
        assert_eq!(Error::TooManyHops.reason_phrase(), "Too Many Hops");
        assert_eq!(
            Error::Overloaded(100).status(),
            Some(StatusCode::ServiceUnavailable)
        );
        assert_eq!(Error::Closed.status(), None);
    }
}
