//! Typed SIP vocabulary: status codes, methods, and the identifier newtypes (Call-ID, branch, tag).
//!
//! Each code's text lives only here (one `as_str`/`parse` pair per enum, STYLE §2 rule 5); every
//! other module passes these types around. Never touches sockets, timers or the directory.

use std::fmt;

/// A SIP response status (RFC 3261 §21 and the extensions cited per variant).
///
/// Conversion from and to the number is total: unknown codes travel as [`StatusCode::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusCode {
    /// 100: the request is being handled (RFC 3261 §21.1.1).
    Trying,
    /// 180: the callee is being alerted (RFC 3261 §21.1.2).
    Ringing,
    /// 183: early media (RFC 3261 §21.1.5).
    SessionProgress,
    /// 200: success (RFC 3261 §21.2.1).
    Ok,
    /// 302: try the Contact instead, this time only (RFC 3261 §21.3.3).
    MovedTemporarily,
    /// 400: malformed request (RFC 3261 §21.4.1).
    BadRequest,
    /// 401: the request needs user authentication (RFC 3261 §21.4.2).
    Unauthorized,
    /// 403: understood but refused (RFC 3261 §21.4.4).
    Forbidden,
    /// 404: no such user here (RFC 3261 §21.4.5).
    NotFound,
    /// 405: known method not allowed for this address (RFC 3261 §21.4.6).
    MethodNotAllowed,
    /// 408: no final response in time (RFC 3261 §21.4.9).
    RequestTimeout,
    /// 413: body larger than we accept (RFC 3261 §21.4.11).
    RequestEntityTooLarge,
    /// 415: body type not understood (RFC 3261 §21.4.13).
    UnsupportedMediaType,
    /// 416: Request-URI scheme not understood (RFC 3261 §21.4.14).
    UnsupportedUriScheme,
    /// 420: a Require option tag is not supported (RFC 3261 §21.4.15).
    BadExtension,
    /// 423: the requested expiration is too short (RFC 3261 §21.4.17, RFC 6665 §4.2.1.1).
    IntervalTooBrief,
    /// 480: callee currently unavailable (RFC 3261 §21.4.18).
    TemporarilyUnavailable,
    /// 481: no matching dialog or transaction (RFC 3261 §21.4.19).
    CallOrTransactionDoesNotExist,
    /// 482: loop detected (RFC 3261 §21.4.20).
    LoopDetected,
    /// 483: Max-Forwards reached zero (RFC 3261 §21.4.21).
    TooManyHops,
    /// 486: callee busy (RFC 3261 §21.4.24).
    BusyHere,
    /// 487: the request was cancelled (RFC 3261 §21.4.25).
    RequestTerminated,
    /// 488: the session offer is not acceptable (RFC 3261 §21.4.26).
    NotAcceptableHere,
    /// 489: the event package is not served here (RFC 6665 §8.3.2).
    BadEvent,
    /// 491: another offer is pending in this dialog (RFC 3261 §21.4.27).
    RequestPending,
    /// 500: an unexpected condition (RFC 3261 §21.5.1).
    ServerInternalError,
    /// 501: method not recognised (RFC 3261 §21.5.2).
    NotImplemented,
    /// 503: overloaded or in maintenance; may carry Retry-After (RFC 3261 §21.5.4).
    ServiceUnavailable,
    /// 505: SIP version not supported (RFC 3261 §21.5.6).
    VersionNotSupported,
    /// 513: message larger than we accept (RFC 3261 §21.5.8).
    MessageTooLarge,
    /// 603: callee declines (RFC 3261 §21.6.2).
    Decline,
    /// Any other three-digit code, kept as received.
    Other(u16),
}

/// The known codes, for the number and reason-phrase tables.
const KNOWN: [(StatusCode, u16, &str); 31] = [
    (StatusCode::Trying, 100, "Trying"),
    (StatusCode::Ringing, 180, "Ringing"),
    (StatusCode::SessionProgress, 183, "Session Progress"),
    (StatusCode::Ok, 200, "OK"),
    (StatusCode::MovedTemporarily, 302, "Moved Temporarily"),
    (StatusCode::BadRequest, 400, "Bad Request"),
    (StatusCode::Unauthorized, 401, "Unauthorized"),
    (StatusCode::Forbidden, 403, "Forbidden"),
    (StatusCode::NotFound, 404, "Not Found"),
    (StatusCode::MethodNotAllowed, 405, "Method Not Allowed"),
    (StatusCode::RequestTimeout, 408, "Request Timeout"),
    (
        StatusCode::RequestEntityTooLarge,
        413,
        "Request Entity Too Large",
    ),
    (
        StatusCode::UnsupportedMediaType,
        415,
        "Unsupported Media Type",
    ),
    (
        StatusCode::UnsupportedUriScheme,
        416,
        "Unsupported URI Scheme",
    ),
    (StatusCode::BadExtension, 420, "Bad Extension"),
    (StatusCode::IntervalTooBrief, 423, "Interval Too Brief"),
    (
        StatusCode::TemporarilyUnavailable,
        480,
        "Temporarily Unavailable",
    ),
    (
        StatusCode::CallOrTransactionDoesNotExist,
        481,
        "Call/Transaction Does Not Exist",
    ),
    (StatusCode::LoopDetected, 482, "Loop Detected"),
    (StatusCode::TooManyHops, 483, "Too Many Hops"),
    (StatusCode::BusyHere, 486, "Busy Here"),
    (StatusCode::RequestTerminated, 487, "Request Terminated"),
    (StatusCode::NotAcceptableHere, 488, "Not Acceptable Here"),
    (StatusCode::BadEvent, 489, "Bad Event"),
    (StatusCode::RequestPending, 491, "Request Pending"),
    (
        StatusCode::ServerInternalError,
        500,
        "Server Internal Error",
    ),
    (StatusCode::NotImplemented, 501, "Not Implemented"),
    (StatusCode::ServiceUnavailable, 503, "Service Unavailable"),
    (
        StatusCode::VersionNotSupported,
        505,
        "Version Not Supported",
    ),
    (StatusCode::MessageTooLarge, 513, "Message Too Large"),
    (StatusCode::Decline, 603, "Decline"),
];

impl StatusCode {
    /// The three-digit number.
    pub fn code(self) -> u16 {
        match self {
            StatusCode::Other(code) => code,
            known => KNOWN
                .iter()
                .find(|(status, _, _)| *status == known)
                .map_or(0, |(_, code, _)| *code),
        }
    }

    /// The reason phrase RFC 3261 suggests; a generic one per class for other codes.
    pub fn reason(self) -> &'static str {
        if let Some((_, _, reason)) = KNOWN.iter().find(|(status, _, _)| *status == self) {
            return reason;
        }
        match self.code() / 100 {
            1 => "Provisional",
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        }
    }

    /// 1xx.
    pub fn is_provisional(self) -> bool {
        self.code() < 200
    }

    /// 2xx.
    pub fn is_success(self) -> bool {
        (200..300).contains(&self.code())
    }

    /// 2xx to 6xx.
    pub fn is_final(self) -> bool {
        self.code() >= 200
    }
}

impl From<u16> for StatusCode {
    fn from(code: u16) -> Self {
        KNOWN
            .iter()
            .find(|(_, number, _)| *number == code)
            .map_or(StatusCode::Other(code), |(status, _, _)| *status)
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.reason())
    }
}

/// A request method (RFC 3261 §7.1; names are case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// Session setup (RFC 3261 §13).
    Invite,
    /// Confirms a final response to INVITE (RFC 3261 §17.1.1.3, §13.2.2.4).
    Ack,
    /// Ends a dialog (RFC 3261 §15).
    Bye,
    /// Cancels a pending INVITE (RFC 3261 §9).
    Cancel,
    /// Capability query; gateways use it as a keep-alive ping (RFC 3261 §11).
    Options,
    /// Registration (RFC 3261 §10).
    Register,
    /// Mid-dialog information (RFC 6086).
    Info,
    /// Session update before answer (RFC 3311).
    Update,
    /// Reliable provisional acknowledgement (RFC 3262).
    Prack,
    /// Event subscription (RFC 6665).
    Subscribe,
    /// Event notification (RFC 6665).
    Notify,
    /// Call transfer (RFC 3515).
    Refer,
    /// Instant message (RFC 3428).
    Message,
    /// Event state publication (RFC 3903).
    Publish,
    /// An extension method (any token), kept as received.
    Other(String),
}

const METHODS: [(&str, Method); 14] = [
    ("INVITE", Method::Invite),
    ("ACK", Method::Ack),
    ("BYE", Method::Bye),
    ("CANCEL", Method::Cancel),
    ("OPTIONS", Method::Options),
    ("REGISTER", Method::Register),
    ("INFO", Method::Info),
    ("UPDATE", Method::Update),
    ("PRACK", Method::Prack),
    ("SUBSCRIBE", Method::Subscribe),
    ("NOTIFY", Method::Notify),
    ("REFER", Method::Refer),
    ("MESSAGE", Method::Message),
    ("PUBLISH", Method::Publish),
];

impl Method {
    /// Reads a method token; `None` when it is not a token (RFC 3261 §25.1).
    pub fn parse(text: &str) -> Option<Method> {
        if text.is_empty() || !text.bytes().all(is_token_byte) {
            return None;
        }
        Some(
            METHODS
                .iter()
                .find(|(name, _)| *name == text)
                .map_or_else(|| Method::Other(text.to_owned()), |(_, m)| m.clone()),
        )
    }

    /// The method name as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Other(name) => name,
            known => METHODS
                .iter()
                .find(|(_, m)| m == known)
                .map_or("", |(name, _)| name),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `b` may appear in an RFC 3261 `token`.
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// Whether `b` may appear in an RFC 3261 `word` (Call-ID halves).
fn is_word_byte(b: u8) -> bool {
    is_token_byte(b) || b"()<>:\\\"/[]?{}".contains(&b)
}

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Checks the syntax; `None` for an empty or ill-formed value.
            pub fn parse(text: &str) -> Option<$name> {
                let check: fn(&str) -> bool = $check;
                (!text.is_empty() && check(text)).then(|| $name(text.to_owned()))
            }

            /// The value as on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_newtype!(
    /// A Call-ID (RFC 3261 §20.8): `word ["@" word]`, compared byte for byte.
    CallId,
    |text| {
        let mut halves = text.splitn(2, '@');
        halves
            .all(|half| !half.is_empty() && half.bytes().all(is_word_byte))
    }
);

id_newtype!(
    /// A Via branch parameter (RFC 3261 §8.1.1.7): a token naming one transaction.
    Branch,
    |text| text.bytes().all(is_token_byte)
);

id_newtype!(
    /// A From/To tag (RFC 3261 §19.3): a token naming one side of a dialog.
    Tag,
    |text| text.bytes().all(is_token_byte)
);

/// RFC 3261 §8.1.1.7: branches of compliant peers start with this cookie.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

impl Branch {
    /// Whether the branch carries the RFC 3261 magic cookie, so it alone names the transaction.
    pub fn is_rfc3261(&self) -> bool {
        self.0.starts_with(MAGIC_COOKIE)
    }
}

/// Where fresh tags, branches and Call-IDs come from (STYLE §2 rule 11: passed in, not global).
pub trait IdSource: Send + Sync + fmt::Debug {
    /// A fresh random token of at least 64 bits of entropy, using token characters only.
    fn token(&self) -> String;
}

/// Tokens from the operating system's random source.
#[derive(Debug)]
pub struct RandomIds {
    rng: ring::rand::SystemRandom,
    fallback: std::sync::atomic::AtomicU64,
}

impl Default for RandomIds {
    fn default() -> Self {
        RandomIds {
            rng: ring::rand::SystemRandom::new(),
            fallback: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl IdSource for RandomIds {
    fn token(&self) -> String {
        use ring::rand::SecureRandom;
        let mut bytes = [0u8; 10];
        // The system source does not fail on a running Linux system; should it ever, a
        // process-wide counter still keeps tags and branches distinct (they need uniqueness,
        // and only Call-IDs benefit from being unguessable).
        if self.rng.fill(&mut bytes).is_err() {
            let n = self
                .fallback
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            for (slot, byte) in bytes.iter_mut().zip(n.to_le_bytes()) {
                *slot = byte;
            }
        }
        hex(&bytes)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut out, b| {
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0x0f));
            out
        })
}

fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16).unwrap_or('0')
}

impl Tag {
    /// A fresh local tag.
    pub fn generate(ids: &dyn IdSource) -> Tag {
        Tag(ids.token())
    }

    /// A tag spelling `digest` in hex: for the To tags of stateless answers, which must come
    /// out the same for a retransmitted request (RFC 3261 §8.2.7).
    pub fn from_digest(digest: &[u8]) -> Tag {
        Tag(hex(digest))
    }
}

impl Branch {
    /// A fresh RFC 3261 branch for a request we send.
    pub fn generate(ids: &dyn IdSource) -> Branch {
        Branch(format!("{MAGIC_COOKIE}{}", ids.token()))
    }
}

impl CallId {
    /// A fresh Call-ID for a dialog we start, scoped by our host name.
    pub fn generate(ids: &dyn IdSource, host: &str) -> CallId {
        CallId(format!("{}@{host}", ids.token()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_round_trip() {
        for code in [100, 180, 200, 302, 404, 481, 487, 503, 603, 299, 499, 999] {
            assert_eq!(StatusCode::from(code).code(), code);
        }
        assert_eq!(StatusCode::from(302), StatusCode::MovedTemporarily);
        assert_eq!(StatusCode::from(499), StatusCode::Other(499));
        assert_eq!(StatusCode::Other(499).reason(), "Client Error");
        assert_eq!(StatusCode::TooManyHops.to_string(), "483 Too Many Hops");
        assert!(StatusCode::Ok.is_final() && StatusCode::Ok.is_success());
        assert!(StatusCode::Trying.is_provisional());
    }

    #[test]
    fn methods_are_case_sensitive_tokens() {
        assert_eq!(Method::parse("INVITE"), Some(Method::Invite));
        assert_eq!(
            Method::parse("invite"),
            Some(Method::Other("invite".into()))
        );
        assert_eq!(Method::parse("IN VITE"), None);
        let odd = "!interesting-Method0123456789_*+`.%indeed'~";
        assert_eq!(Method::parse(odd).unwrap().as_str(), odd);
    }

    #[test]
    fn ids_check_their_syntax() {
        assert!(CallId::parse("abc@192.0.2.1").is_some());
        assert!(CallId::parse("a@b@c").is_none());
        assert!(CallId::parse("with space").is_none());
        assert!(Branch::parse("z9hG4bK-1").unwrap().is_rfc3261());
        assert!(!Branch::parse("old-style").unwrap().is_rfc3261());
        assert!(Tag::parse("a;b").is_none());
        let ids = RandomIds::default();
        let (a, b) = (Tag::generate(&ids), Tag::generate(&ids));
        assert_ne!(a, b);
        assert!(Branch::generate(&ids).is_rfc3261());
    }
}
