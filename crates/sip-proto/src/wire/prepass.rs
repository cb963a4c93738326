//! The pre-pass over a message head: finds the start line and the header fields, unfolds
//! continuation lines, expands compact header names (RFC 3261 §7.3.3) and splits the
//! comma-separated lists of the multi-valued headers we read (RFC 3261 §7.3.1), so later stages
//! see one `(HeaderName, value)` per value.
//!
//! Bytes in, borrowed text out; no typed parsing of values (the grammar does that) and no IO.
//! Also answers the stream-framing question "how long is this message" for TCP.

use std::borrow::Cow;

use crate::types::is_token_byte;

/// The header names umbox reads or writes; every compact form maps to its long name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderName {
    /// Via, compact `v` (RFC 3261 §20.42).
    Via,
    /// From, compact `f` (RFC 3261 §20.20).
    From,
    /// To, compact `t` (RFC 3261 §20.39).
    To,
    /// Call-ID, compact `i` (RFC 3261 §20.8).
    CallId,
    /// CSeq (RFC 3261 §20.16).
    CSeq,
    /// Contact, compact `m` (RFC 3261 §20.10).
    Contact,
    /// Max-Forwards (RFC 3261 §20.22).
    MaxForwards,
    /// Content-Length, compact `l` (RFC 3261 §20.14).
    ContentLength,
    /// Content-Type, compact `c` (RFC 3261 §20.15).
    ContentType,
    /// Content-Encoding, compact `e` (RFC 3261 §20.12).
    ContentEncoding,
    /// Subject, compact `s` (RFC 3261 §20.36).
    Subject,
    /// Supported, compact `k` (RFC 3261 §20.37).
    Supported,
    /// Require (RFC 3261 §20.32).
    Require,
    /// Unsupported (RFC 3261 §20.40).
    Unsupported,
    /// Allow (RFC 3261 §20.5).
    Allow,
    /// Accept (RFC 3261 §20.1).
    Accept,
    /// Route (RFC 3261 §20.34).
    Route,
    /// Record-Route (RFC 3261 §20.30).
    RecordRoute,
    /// Retry-After (RFC 3261 §20.33).
    RetryAfter,
    /// User-Agent (RFC 3261 §20.41).
    UserAgent,
    /// Server (RFC 3261 §20.35).
    Server,
    /// Diversion (RFC 5806).
    Diversion,
    /// History-Info (RFC 7044).
    HistoryInfo,
    /// Reason (RFC 3326).
    Reason,
    /// Event, compact `o` (RFC 6665).
    Event,
    /// Allow-Events, compact `u` (RFC 6665).
    AllowEvents,
    /// Refer-To, compact `r` (RFC 3515).
    ReferTo,
    /// Referred-By, compact `b` (RFC 3892).
    ReferredBy,
    /// Session-Expires, compact `x` (RFC 4028).
    SessionExpires,
    /// Accept-Contact, compact `a` (RFC 3841).
    AcceptContact,
    /// Reject-Contact, compact `j` (RFC 3841).
    RejectContact,
    /// Request-Disposition, compact `d` (RFC 3841).
    RequestDisposition,
    /// Identity, compact `y` (RFC 8224).
    Identity,
    /// Identity-Info, compact `n` (RFC 4474).
    IdentityInfo,
    /// Expires (RFC 3261 §20.19).
    Expires,
    /// Min-Expires (RFC 3261 §20.23).
    MinExpires,
    /// Subscription-State (RFC 6665 §8.2.3).
    SubscriptionState,
    /// WWW-Authenticate (RFC 3261 §20.44, RFC 7616 §3.3).
    WwwAuthenticate,
    /// Authorization (RFC 3261 §20.7, RFC 7616 §3.4).
    Authorization,
    /// P-Asserted-Identity (RFC 3325 §9.1).
    PAssertedIdentity,
    /// Privacy (RFC 3323 §4.2).
    Privacy,
    /// Any other header, name as written.
    Other(String),
}

/// Long name, compact letter (or 0), and whether values form a comma list we split.
const NAMES: [(HeaderName, &str, u8, bool); 41] = [
    (HeaderName::Via, "Via", b'v', true),
    (HeaderName::From, "From", b'f', false),
    (HeaderName::To, "To", b't', false),
    (HeaderName::CallId, "Call-ID", b'i', false),
    (HeaderName::CSeq, "CSeq", 0, false),
    (HeaderName::Contact, "Contact", b'm', true),
    (HeaderName::MaxForwards, "Max-Forwards", 0, false),
    (HeaderName::ContentLength, "Content-Length", b'l', false),
    (HeaderName::ContentType, "Content-Type", b'c', false),
    (HeaderName::ContentEncoding, "Content-Encoding", b'e', false),
    (HeaderName::Subject, "Subject", b's', false),
    (HeaderName::Supported, "Supported", b'k', true),
    (HeaderName::Require, "Require", 0, true),
    (HeaderName::Unsupported, "Unsupported", 0, true),
    (HeaderName::Allow, "Allow", 0, true),
    (HeaderName::Accept, "Accept", 0, true),
    (HeaderName::Route, "Route", 0, true),
    (HeaderName::RecordRoute, "Record-Route", 0, true),
    (HeaderName::RetryAfter, "Retry-After", 0, false),
    (HeaderName::UserAgent, "User-Agent", 0, false),
    (HeaderName::Server, "Server", 0, false),
    (HeaderName::Diversion, "Diversion", 0, true),
    (HeaderName::HistoryInfo, "History-Info", 0, true),
    (HeaderName::Reason, "Reason", 0, true),
    (HeaderName::Event, "Event", b'o', false),
    (HeaderName::AllowEvents, "Allow-Events", b'u', true),
    (HeaderName::ReferTo, "Refer-To", b'r', false),
    (HeaderName::ReferredBy, "Referred-By", b'b', false),
    (HeaderName::SessionExpires, "Session-Expires", b'x', false),
    (HeaderName::AcceptContact, "Accept-Contact", b'a', true),
    (HeaderName::RejectContact, "Reject-Contact", b'j', true),
    (
        HeaderName::RequestDisposition,
        "Request-Disposition",
        b'd',
        true,
    ),
    (HeaderName::Identity, "Identity", b'y', false),
    (HeaderName::IdentityInfo, "Identity-Info", b'n', false),
    (HeaderName::Expires, "Expires", 0, false),
    (HeaderName::MinExpires, "Min-Expires", 0, false),
    (
        HeaderName::SubscriptionState,
        "Subscription-State",
        0,
        false,
    ),
    (HeaderName::WwwAuthenticate, "WWW-Authenticate", 0, false),
    (HeaderName::Authorization, "Authorization", 0, false),
    (
        HeaderName::PAssertedIdentity,
        "P-Asserted-Identity",
        0,
        true,
    ),
    // Values are separated by semicolons, not commas (RFC 3323 §4.2).
    (HeaderName::Privacy, "Privacy", 0, false),
];

impl HeaderName {
    /// Maps a field name (any case, long or compact) to its header; `None` if not a token.
    pub fn parse(name: &str) -> Option<HeaderName> {
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return None;
        }
        let compact = match name.as_bytes() {
            [letter] => letter.to_ascii_lowercase(),
            _ => 0,
        };
        Some(
            NAMES
                .iter()
                .find(|(_, long, short, _)| {
                    (compact != 0 && compact == *short) || long.eq_ignore_ascii_case(name)
                })
                .map_or_else(|| HeaderName::Other(name.to_owned()), |(h, ..)| h.clone()),
        )
    }

    /// The long name as umbox writes it.
    pub fn as_str(&self) -> &str {
        match self {
            HeaderName::Other(name) => name,
            known => NAMES
                .iter()
                .find(|(h, ..)| h == known)
                .map_or("", |(_, long, ..)| long),
        }
    }

    /// Whether one field line may carry several comma-separated values that we read apart.
    fn is_list(&self) -> bool {
        NAMES.iter().any(|(h, _, _, list)| h == self && *list)
    }
}

/// One header value after unfolding, expansion and splitting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    /// The header.
    pub name: HeaderName,
    /// One value, trimmed; owned only when unfolding had to join lines.
    pub value: Cow<'a, str>,
}

/// A message head taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexed<'a> {
    /// The request or status line.
    pub start_line: &'a str,
    /// Header values in order.
    pub fields: Vec<Field<'a>>,
    /// Everything after the blank line that ends the head.
    pub rest: &'a [u8],
    /// Whether the blank line was there; a head cut short is lexed as far as it goes so the
    /// caller can still answer with what it read.
    pub terminated: bool,
}

/// Why a head cannot be taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LexError {
    /// The head is not UTF-8.
    NotUtf8,
    /// Nothing but blank lines.
    Empty,
    /// A header line has no colon or its name is not a token.
    BadFieldLine,
    /// More fields than `max_fields`.
    TooManyFields,
}

const BLANK_LINE: &[u8] = b"\r\n\r\n";

/// Takes apart the head of `message`, allowing at most `max_fields` values.
///
/// Leading CRLFs are skipped (RFC 3261 §7.5 keep-alives on streams).
pub fn lex(message: &[u8], max_fields: usize) -> Result<Lexed<'_>, LexError> {
    let message = skip_leading_crlf(message);
    let (head, rest, terminated) = match find(message, BLANK_LINE) {
        Some(end) => (
            message.get(..end).unwrap_or_default(),
            message.get(end + BLANK_LINE.len()..).unwrap_or_default(),
            true,
        ),
        None => (message, &[][..], false),
    };
    lex_head(head, rest, terminated, max_fields)
}

fn lex_head<'a>(
    head: &'a [u8],
    rest: &'a [u8],
    terminated: bool,
    max_fields: usize,
) -> Result<Lexed<'a>, LexError> {
    let head = std::str::from_utf8(head).map_err(|_| LexError::NotUtf8)?;
    let mut lines = head.split("\r\n");
    let start_line = lines
        .next()
        .filter(|l| !l.is_empty())
        .ok_or(LexError::Empty)?;
    if start_line.contains(['\r', '\n']) {
        return Err(LexError::BadFieldLine);
    }
    let mut fields: Vec<Field<'a>> = Vec::new();
    let mut current: Option<(HeaderName, Cow<'a, str>)> = None;
    for line in lines {
        // A lone CR or LF inside a line would become a line break when the value is echoed
        // into a response (header injection); RFC 3261 only ends lines with CRLF.
        if line.contains(['\r', '\n']) {
            return Err(LexError::BadFieldLine);
        }
        if line.starts_with([' ', '\t']) {
            // RFC 3261 §7.3.1: a line starting with whitespace continues the previous value.
            let (_, value) = current.as_mut().ok_or(LexError::BadFieldLine)?;
            let joined = value.to_mut();
            joined.push(' ');
            joined.push_str(line.trim_matches([' ', '\t']));
            continue;
        }
        if let Some((name, value)) = current.take() {
            push_values(&mut fields, name, value, max_fields)?;
        }
        let (name, value) = line.split_once(':').ok_or(LexError::BadFieldLine)?;
        // HCOLON allows blanks between the name and the colon.
        let name =
            HeaderName::parse(name.trim_end_matches([' ', '\t'])).ok_or(LexError::BadFieldLine)?;
        current = Some((name, Cow::Borrowed(value.trim_matches([' ', '\t']))));
    }
    if let Some((name, value)) = current {
        push_values(&mut fields, name, value, max_fields)?;
    }
    Ok(Lexed {
        start_line,
        fields,
        rest,
        terminated,
    })
}

fn push_values<'a>(
    fields: &mut Vec<Field<'a>>,
    name: HeaderName,
    value: Cow<'a, str>,
    max_fields: usize,
) -> Result<(), LexError> {
    if name.is_list() {
        let parts = split_list(&value);
        if parts.len() > 1 {
            for part in parts {
                if fields.len() >= max_fields {
                    return Err(LexError::TooManyFields);
                }
                fields.push(Field {
                    name: name.clone(),
                    value: Cow::Owned(part.to_owned()),
                });
            }
            return Ok(());
        }
    }
    if fields.len() >= max_fields {
        return Err(LexError::TooManyFields);
    }
    fields.push(Field { name, value });
    Ok(())
}

/// Splits at commas outside quoted strings and angle brackets, trimming each part.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut quoted, mut escaped, mut angle) = (false, false, false);
    let mut start = 0;
    for (i, b) in value.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b',' if !quoted && !angle => {
                parts.push(value.get(start..i).unwrap_or_default().trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(value.get(start..).unwrap_or_default().trim());
    parts
}

fn skip_leading_crlf(mut message: &[u8]) -> &[u8] {
    while let Some(rest) = message.strip_prefix(b"\r\n") {
        message = rest;
    }
    message
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// How a stream's buffer starts, for TCP framing (RFC 3261 §18.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Only CRLFs so far: a keep-alive (RFC 5626 §3.5.1 "\r\n\r\n" ping); consume this many.
    KeepAlive(usize),
    /// The head is not complete yet.
    NeedMore,
    /// One whole message of this many bytes is at the start of the buffer.
    Message(usize),
    /// The head is longer than allowed or its Content-Length is unreadable or over the cap;
    /// the stream cannot be resynchronised.
    Invalid,
}

/// Finds the first message in a stream buffer: its head ends at CRLF CRLF and its body is
/// Content-Length bytes (absent means 0). `max_head` and `max_body` cap what we will wait for.
pub fn frame(buffer: &[u8], max_head: usize, max_body: usize) -> Frame {
    let skipped = buffer.len() - skip_leading_crlf(buffer).len();
    if skipped > 0 {
        return Frame::KeepAlive(skipped);
    }
    let Some(end) = find(buffer, BLANK_LINE) else {
        return if buffer.len() > max_head {
            Frame::Invalid
        } else {
            Frame::NeedMore
        };
    };
    let head_len = end + BLANK_LINE.len();
    if head_len > max_head {
        return Frame::Invalid;
    }
    let head = buffer.get(..head_len).unwrap_or_default();
    let Ok(lexed) = lex(head, max_head) else {
        return Frame::Invalid;
    };
    let mut lengths = lexed
        .fields
        .iter()
        .filter(|f| f.name == HeaderName::ContentLength);
    let body = match (lengths.next(), lengths.next()) {
        (None, _) => 0,
        (Some(field), None) => {
            let cap = u64::try_from(max_body).unwrap_or(u64::MAX);
            match super::grammar::parse_decimal(&field.value, cap) {
                Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
                None => return Frame::Invalid,
            }
        }
        (Some(_), Some(_)) => return Frame::Invalid,
    };
    let total = head_len.saturating_add(body);
    if buffer.len() >= total {
        Frame::Message(total)
    } else {
        Frame::NeedMore
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(lexed: &'a Lexed<'_>, name: &HeaderName) -> Vec<&'a str> {
        lexed
            .fields
            .iter()
            .filter(|f| &f.name == name)
            .map(|f| f.value.as_ref())
            .collect()
    }

    #[test]
    fn compact_forms_expand() {
        let cases = [
            ("i", HeaderName::CallId),
            ("m", HeaderName::Contact),
            ("e", HeaderName::ContentEncoding),
            ("L", HeaderName::ContentLength),
            ("c", HeaderName::ContentType),
            ("f", HeaderName::From),
            ("s", HeaderName::Subject),
            ("k", HeaderName::Supported),
            ("t", HeaderName::To),
            ("V", HeaderName::Via),
            ("o", HeaderName::Event),
            ("u", HeaderName::AllowEvents),
            ("call-id", HeaderName::CallId),
            ("CSEQ", HeaderName::CSeq),
            ("q", HeaderName::Other("q".into())),
        ];
        for (name, expected) in cases {
            assert_eq!(HeaderName::parse(name), Some(expected), "{name}");
        }
        assert_eq!(HeaderName::parse("Bad Name"), None);
        assert_eq!(HeaderName::CallId.as_str(), "Call-ID");
    }

    #[test]
    fn unfolds_expands_and_splits() {
        let message = b"\r\nINVITE sip:1999@h SIP/2.0\r\n\
v: SIP/2.0/UDP a;branch=z9hG4bK1 , SIP/2.0/TCP b;branch=z9hG4bK2\r\n\
Via  : SIP/2.0/UDP c\r\n\x20;branch=z9hG4bK3\r\n\
m: \"Doe, J\" <sip:j@h>, <sip:k@h;x=\"a,b\">\r\n\
Diversion: <sip:1001@h>;reason=no-answer,<sip:1002@h>;reason=user-busy\r\n\
Subject: hello, world\r\n\
i: abc@h\r\n\r\nbody";
        let lexed = lex(message, 64).unwrap();
        assert!(lexed.terminated);
        assert_eq!(lexed.start_line, "INVITE sip:1999@h SIP/2.0");
        assert_eq!(
            values(&lexed, &HeaderName::Via),
            [
                "SIP/2.0/UDP a;branch=z9hG4bK1",
                "SIP/2.0/TCP b;branch=z9hG4bK2",
                "SIP/2.0/UDP c ;branch=z9hG4bK3"
            ]
        );
        assert_eq!(
            values(&lexed, &HeaderName::Contact),
            ["\"Doe, J\" <sip:j@h>", "<sip:k@h;x=\"a,b\">"]
        );
        assert_eq!(values(&lexed, &HeaderName::Diversion).len(), 2);
        assert_eq!(values(&lexed, &HeaderName::Subject), ["hello, world"]);
        assert_eq!(values(&lexed, &HeaderName::CallId), ["abc@h"]);
        assert_eq!(lexed.rest, b"body");
    }

    #[test]
    fn bad_heads() {
        assert_eq!(lex(b"\r\n\r\n", 8), Err(LexError::Empty));
        assert_eq!(
            lex(b"OPTIONS sip:h SIP/2.0\r\nNoColon\r\n\r\n", 8),
            Err(LexError::BadFieldLine)
        );
        assert_eq!(
            lex(b"OPTIONS sip:h SIP/2.0\r\n ;folded-first\r\n\r\n", 8),
            Err(LexError::BadFieldLine)
        );
        assert_eq!(
            lex(b"OPTIONS sip:h SIP/2.0\r\nA: 1\r\nB: 2\r\n\r\n", 1),
            Err(LexError::TooManyFields)
        );
        assert_eq!(
            lex(b"OPTIONS sip:h SIP/2.0\r\nA: 1\nInjected: x\r\n\r\n", 8),
            Err(LexError::BadFieldLine)
        );
        assert_eq!(
            lex(b"OPTIONS \xff SIP/2.0\r\n\r\n", 8),
            Err(LexError::NotUtf8)
        );
        let partial = lex(b"OPTIONS sip:h SIP/2.0\r\nCall-ID: x", 8).unwrap();
        assert!(!partial.terminated);
        assert_eq!(partial.fields.len(), 1);
    }

    #[test]
    fn splits_respect_quotes_and_brackets() {
        assert_eq!(
            split_list("a, \"b,\\\"c\" <d,e>, f"),
            ["a", "\"b,\\\"c\" <d,e>", "f"]
        );
        assert_eq!(split_list("x;;,;,,"), ["x;;", ";", "", ""]);
    }

    #[test]
    fn stream_framing() {
        let msg = b"OPTIONS sip:h SIP/2.0\r\nl: 4\r\n\r\nbodyNEXT";
        assert_eq!(frame(msg, 1024, 100), Frame::Message(msg.len() - 4));
        assert_eq!(frame(&msg[..20], 1024, 100), Frame::NeedMore);
        assert_eq!(frame(&msg[..msg.len() - 6], 1024, 100), Frame::NeedMore);
        assert_eq!(frame(b"\r\n\r\nOPTIONS", 1024, 100), Frame::KeepAlive(4));
        assert_eq!(frame(msg, 10, 100), Frame::Invalid);
        assert_eq!(frame(msg, 1024, 3), Frame::Invalid);
        let no_length = b"OPTIONS sip:h SIP/2.0\r\nCall-ID: x\r\n\r\nX";
        assert_eq!(
            frame(no_length, 1024, 100),
            Frame::Message(no_length.len() - 1)
        );
        let two = b"OPTIONS sip:h SIP/2.0\r\nl: 1\r\nl: 1\r\n\r\nX";
        assert_eq!(frame(two, 1024, 100), Frame::Invalid);
        assert_eq!(frame(&[b'x'; 2000], 1024, 100), Frame::Invalid);
    }
}
