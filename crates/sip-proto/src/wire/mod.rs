//! SIP messages as typed values: the one reader (bytes to [`Request`]/[`Response`]) and the one
//! writer ([`Writer`]) of SIP text.
//!
//! Pure: no sockets, no timers, no async. Checks syntax and the structural rules of RFC 3261
//! (required and single-valued headers, CSeq and Max-Forwards ranges, Content-Length against
//! the datagram, the SIP version); what a request *means* is left to `sip::endpoint`.
//! A request that fails keeps what was read ([`Rejected::echo`]) so the caller can still send a
//! well-formed 400, as hickory's `FormError` does.

pub mod digest;
pub mod diversion;
pub mod event;
pub mod grammar;
pub mod identity;
pub mod prepass;
pub mod summary;

use std::fmt;
use std::net::SocketAddr;

use bytes::Bytes;

use self::digest::Credentials;
use self::diversion::{Diversion, HistoryInfo};
use self::event::Event;
use self::grammar::{parse_decimal, CSeq, NameAddr, Uri, Via};
use self::identity::Privacy;
use self::prepass::{Field, HeaderName, LexError, Lexed};
use crate::types::{CallId, Method, StatusCode, Tag};
use crate::Error;

/// Caps applied while reading one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Most header values (after list splitting).
    pub max_fields: usize,
    /// Largest body.
    pub max_body: usize,
}

/// How the message arrived, which decides what Content-Length means (RFC 3261 §18.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One UDP datagram: the body is the rest of it, cut to Content-Length; a shorter rest is
    /// an error.
    Datagram,
    /// Already cut by stream framing ([`prepass::frame`]).
    Stream,
}

/// What a response copies from its request (RFC 3261 §8.2.6.2), as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    /// The top Via, typed: it says where the response goes and names the transaction.
    pub top_via: Via,
    /// The other Via values in order, as received.
    pub lower_vias: Vec<String>,
    /// From, as received.
    pub from: Option<String>,
    /// To, as received.
    pub to: Option<String>,
    /// Call-ID, as received.
    pub call_id: String,
    /// CSeq, as received.
    pub cseq: String,
}

/// A request, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The Request-URI (always `sip:` or `sips:`; other schemes are rejected with 416).
    pub uri: Uri,
    /// What responses copy.
    pub echo: Echo,
    /// From.
    pub from: NameAddr,
    /// To.
    pub to: NameAddr,
    /// Call-ID.
    pub call_id: CallId,
    /// CSeq.
    pub cseq: CSeq,
    /// Max-Forwards, when present (0 to 255).
    pub max_forwards: Option<u8>,
    /// Contact values (the `*` of REGISTER is skipped).
    pub contact: Vec<NameAddr>,
    /// Record-Route values as received, top first.
    pub record_route: Vec<String>,
    /// Require option tags.
    pub require: Vec<String>,
    /// Media type of the body, lower case, without parameters.
    pub content_type: Option<String>,
    /// User-Agent.
    pub user_agent: Option<String>,
    /// Diversion entries, most recent first as received (RFC 5806).
    pub diversion: Vec<Diversion>,
    /// History-Info entries as received (RFC 7044).
    pub history_info: Vec<HistoryInfo>,
    /// P-Asserted-Identity entries (RFC 3325 §9.1): at most a SIP and a tel URI.
    pub asserted_identity: Vec<NameAddr>,
    /// Privacy values of every Privacy header (RFC 3323 §4.2).
    pub privacy: Vec<Privacy>,
    /// Event (RFC 6665 §8.2.1).
    pub event: Option<Event>,
    /// Expires in seconds (RFC 3261 §20.19); larger values read as 2^32-1.
    pub expires: Option<u32>,
    /// Digest credentials (RFC 7616 §3.4).
    pub authorization: Option<Credentials>,
    /// The body.
    pub body: Bytes,
}

impl Request {
    /// The top Via.
    pub fn top_via(&self) -> &Via {
        &self.echo.top_via
    }
}

/// A response, checked (only what client transactions and dialogs need).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The top Via (its branch names our client transaction).
    pub top_via: Via,
    /// From.
    pub from: NameAddr,
    /// To (its tag names the peer's side of a dialog).
    pub to: NameAddr,
    /// Call-ID.
    pub call_id: CallId,
    /// CSeq.
    pub cseq: CSeq,
    /// The body.
    pub body: Bytes,
}

/// A parsed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Box<Request>),
    /// A response.
    Response(Box<Response>),
}

/// A message that could not be read, with what a 400 needs when enough was read.
#[derive(Debug)]
pub struct Rejected {
    /// Why.
    pub error: Error,
    /// Present when the message was a request with a readable top Via, Call-ID and CSeq.
    pub echo: Option<Echo>,
    /// Whether the request line starts with ACK, which never gets a response (RFC 3261 §17).
    pub is_ack: bool,
}

/// Reads one message.
pub fn parse(bytes: &[u8], framing: Framing, limits: ReadLimits) -> Result<Message, Box<Rejected>> {
    let lexed = prepass::lex(bytes, limits.max_fields).map_err(|e| Rejected {
        error: Error::Malformed(lex_reason(e)),
        echo: None,
        is_ack: false,
    })?;
    let is_ack = lexed.start_line.split(' ').next() == Some("ACK");
    if lexed.start_line.starts_with("SIP/") {
        return parse_response(&lexed, framing, limits)
            .map(|r| Message::Response(Box::new(r)))
            .map_err(|error| {
                Box::new(Rejected {
                    error,
                    echo: None,
                    is_ack,
                })
            });
    }
    let (method, uri_text) = match request_line(lexed.start_line) {
        Ok(parts) => parts,
        Err(error) => {
            return Err(Box::new(Rejected {
                echo: echo(&lexed).ok(),
                error,
                is_ack,
            }))
        }
    };
    let echo = match echo(&lexed) {
        Ok(echo) => echo,
        Err(error) => {
            return Err(Box::new(Rejected {
                error,
                echo: None,
                is_ack,
            }))
        }
    };
    match parse_request(
        &lexed,
        method.clone(),
        uri_text,
        echo.clone(),
        framing,
        limits,
    ) {
        Ok(request) => Ok(Message::Request(Box::new(request))),
        Err(error) => Err(Box::new(Rejected {
            error,
            echo: Some(echo),
            is_ack,
        })),
    }
}

fn lex_reason(error: LexError) -> &'static str {
    match error {
        LexError::NotUtf8 => "head is not UTF-8",
        LexError::Empty => "empty message",
        LexError::BadFieldLine => "bad header line",
        LexError::TooManyFields => "too many header fields",
    }
}

/// `Method SP Request-URI SP SIP-Version`, with exactly one space between the parts
/// (RFC 3261 §7.1; RFC 4475 §3.1.2.9 and §3.1.2.10 reject extra or trailing blanks).
fn request_line(line: &str) -> Result<(Method, &str), Error> {
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Malformed("request line is not `method URI version`"));
    };
    let method = Method::parse(method).ok_or(Error::Malformed("method is not a token"))?;
    if version != "SIP/2.0" {
        return Err(Error::Version(version.to_owned()));
    }
    if uri.is_empty() || uri.contains('\t') {
        return Err(Error::Malformed("bad Request-URI"));
    }
    Ok((method, uri))
}

fn values<'f>(lexed: &'f Lexed<'_>, name: HeaderName) -> impl Iterator<Item = &'f str> + use<'f> {
    let fields: &'f [Field<'_>] = &lexed.fields;
    fields
        .iter()
        .filter(move |f| f.name == name)
        .map(|f| f.value.as_ref())
}

/// The one value of a single-valued header (RFC 3261 §7.3.1 allows only one).
fn single<'f>(lexed: &'f Lexed<'_>, name: HeaderName) -> Result<Option<&'f str>, Error> {
    let mut all = values(lexed, name.clone());
    match (all.next(), all.next()) {
        (first, None) => Ok(first),
        (Some(_), Some(_)) => Err(Error::DuplicateHeader(name)),
        (None, Some(_)) => Ok(None),
    }
}

fn required<'f>(lexed: &'f Lexed<'_>, name: HeaderName) -> Result<&'f str, Error> {
    single(lexed, name.clone())?
        .filter(|v| !v.is_empty())
        .ok_or(Error::MissingHeader(name))
}

fn echo(lexed: &Lexed<'_>) -> Result<Echo, Error> {
    let mut vias = values(lexed, HeaderName::Via);
    let top = vias.next().ok_or(Error::MissingHeader(HeaderName::Via))?;
    let top_via = Via::parse(top).map_err(|reason| Error::BadHeader {
        header: HeaderName::Via,
        reason,
    })?;
    let first = |name| values(lexed, name).next().map(str::to_owned);
    Ok(Echo {
        top_via,
        lower_vias: vias.map(str::to_owned).collect(),
        from: first(HeaderName::From),
        to: first(HeaderName::To),
        call_id: first(HeaderName::CallId)
            .filter(|v| !v.is_empty())
            .ok_or(Error::MissingHeader(HeaderName::CallId))?,
        cseq: first(HeaderName::CSeq)
            .filter(|v| !v.is_empty())
            .ok_or(Error::MissingHeader(HeaderName::CSeq))?,
    })
}

fn typed<T>(
    name: HeaderName,
    text: &str,
    parse: impl Fn(&str) -> Result<T, grammar::SyntaxError>,
) -> Result<T, Error> {
    parse(text).map_err(|reason| Error::BadHeader {
        header: name,
        reason,
    })
}

fn all_typed<T>(
    lexed: &Lexed<'_>,
    name: HeaderName,
    parse: impl Fn(&str) -> Result<T, grammar::SyntaxError>,
) -> Result<Vec<T>, Error> {
    values(lexed, name.clone())
        .map(|v| typed(name.clone(), v, &parse))
        .collect()
}

/// The common headers of requests and responses.
struct Common {
    from: NameAddr,
    to: NameAddr,
    call_id: CallId,
    cseq: CSeq,
    body: Bytes,
    content_type: Option<String>,
}

fn common(lexed: &Lexed<'_>, framing: Framing, limits: ReadLimits) -> Result<Common, Error> {
    if !lexed.terminated {
        return Err(Error::Malformed("no blank line after the headers"));
    }
    let from = typed(
        HeaderName::From,
        required(lexed, HeaderName::From)?,
        NameAddr::parse,
    )?;
    let to = typed(
        HeaderName::To,
        required(lexed, HeaderName::To)?,
        NameAddr::parse,
    )?;
    let call_id_text = required(lexed, HeaderName::CallId)?;
    let call_id = CallId::parse(call_id_text).ok_or(Error::BadHeader {
        header: HeaderName::CallId,
        reason: grammar::SyntaxError("not word[@word]"),
    })?;
    let cseq = typed(
        HeaderName::CSeq,
        required(lexed, HeaderName::CSeq)?,
        CSeq::parse,
    )?;
    let body = body(lexed, framing, limits)?;
    let content_type = single(lexed, HeaderName::ContentType)?.map(|v| {
        v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    Ok(Common {
        from,
        to,
        call_id,
        cseq,
        body,
        content_type,
    })
}

/// The body per Content-Length (RFC 3261 §18.3, §20.14).
fn body(lexed: &Lexed<'_>, framing: Framing, limits: ReadLimits) -> Result<Bytes, Error> {
    let available = lexed.rest.len();
    let length = match single(lexed, HeaderName::ContentLength)? {
        Some(text) => parse_decimal(text, u64::MAX)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            .ok_or(Error::ContentLength("not a number"))?,
        // Without Content-Length a datagram's body is the rest of it (RFC 3261 §18.3).
        None if framing == Framing::Datagram => available,
        None => 0,
    };
    // RFC 3261 §18.3: a request whose body is shorter than Content-Length gets a 400.
    if length > available {
        return Err(Error::ContentLength("larger than the message"));
    }
    if length > limits.max_body {
        return Err(Error::TooLarge {
            size: length,
            limit: limits.max_body,
        });
    }
    // Extra octets after the body of a datagram are discarded (RFC 3261 §18.3).
    Ok(Bytes::copy_from_slice(
        lexed.rest.get(..length).unwrap_or_default(),
    ))
}

fn parse_request(
    lexed: &Lexed<'_>,
    method: Method,
    uri_text: &str,
    echo: Echo,
    framing: Framing,
    limits: ReadLimits,
) -> Result<Request, Error> {
    let common = common(lexed, framing, limits)?;
    if common.cseq.method != method
        && !(method == Method::Ack && common.cseq.method == Method::Invite)
    {
        return Err(Error::CSeqMethodMismatch);
    }
    let uri = Uri::parse(uri_text).map_err(|_| Error::Malformed("bad Request-URI"))?;
    match &uri {
        Uri::Sip(sip) if !sip.headers.is_empty() => {
            // RFC 3261 §19.1.5: headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11).
            return Err(Error::Malformed("headers in the Request-URI"));
        }
        Uri::Sip(_) => {}
        Uri::Other { scheme, .. } => return Err(Error::UriScheme(scheme.clone())),
    }
    let max_forwards = match single(lexed, HeaderName::MaxForwards)? {
        Some(text) => Some(
            parse_decimal(text, 255)
                .and_then(|n| u8::try_from(n).ok())
                .ok_or(Error::BadHeader {
                    header: HeaderName::MaxForwards,
                    reason: grammar::SyntaxError("not a number from 0 to 255"),
                })?,
        ),
        None => None,
    };
    let contact = all_typed(lexed, HeaderName::Contact, |v| {
        if v == "*" {
            Ok(None)
        } else {
            NameAddr::parse(v).map(Some)
        }
    })?
    .into_iter()
    .flatten()
    .collect();
    let require = values(lexed, HeaderName::Require)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(Request {
        method,
        uri,
        echo,
        from: common.from,
        to: common.to,
        call_id: common.call_id,
        cseq: common.cseq,
        max_forwards,
        contact,
        record_route: values(lexed, HeaderName::RecordRoute)
            .map(str::to_owned)
            .collect(),
        require,
        content_type: common.content_type,
        user_agent: single(lexed, HeaderName::UserAgent)?.map(str::to_owned),
        diversion: all_typed(lexed, HeaderName::Diversion, Diversion::parse)?,
        history_info: all_typed(lexed, HeaderName::HistoryInfo, HistoryInfo::parse)?,
        asserted_identity: all_typed(lexed, HeaderName::PAssertedIdentity, NameAddr::parse)?,
        privacy: all_typed(lexed, HeaderName::Privacy, Privacy::parse_list)?
            .into_iter()
            .flatten()
            .collect(),
        event: single(lexed, HeaderName::Event)?
            .map(|v| typed(HeaderName::Event, v, Event::parse))
            .transpose()?,
        expires: single(lexed, HeaderName::Expires)?
            .map(|v| {
                // RFC 3261 §20.19: larger values than 2^32-1 are taken as 2^32-1.
                let capped = v.len() > 10 && v.bytes().all(|b| b.is_ascii_digit());
                let value = if capped {
                    Some(u64::from(u32::MAX))
                } else {
                    parse_decimal(v, u64::MAX)
                };
                value
                    .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
                    .ok_or(Error::BadHeader {
                        header: HeaderName::Expires,
                        reason: grammar::SyntaxError("not a number of seconds"),
                    })
            })
            .transpose()?,
        authorization: single(lexed, HeaderName::Authorization)?
            .map(|v| typed(HeaderName::Authorization, v, Credentials::parse))
            .transpose()?,
        body: common.body,
    })
}

fn parse_response(
    lexed: &Lexed<'_>,
    framing: Framing,
    limits: ReadLimits,
) -> Result<Response, Error> {
    let mut parts = lexed.start_line.splitn(3, ' ');
    let (Some("SIP/2.0"), Some(code), Some(_reason)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Malformed("status line is not `SIP/2.0 code reason`"));
    };
    // RFC 3261 §7.2: exactly three digits, 100 to 699 (RFC 4475 §3.1.2.19).
    let status = (code.len() == 3)
        .then(|| parse_decimal(code, 699))
        .flatten()
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| *c >= 100)
        .map(StatusCode::from)
        .ok_or(Error::Malformed("bad status code"))?;
    let top = values(lexed, HeaderName::Via)
        .next()
        .ok_or(Error::MissingHeader(HeaderName::Via))?;
    let top_via = typed(HeaderName::Via, top, Via::parse)?;
    let common = common(lexed, framing, limits)?;
    Ok(Response {
        status,
        top_via,
        from: common.from,
        to: common.to,
        call_id: common.call_id,
        cseq: common.cseq,
        body: common.body,
    })
}

/// Builds one SIP message; the only code that writes SIP text.
#[derive(Debug)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// Starts `SIP/2.0 code reason`; the reason loses any CR/LF.
    pub fn response(status: StatusCode, reason: &str) -> Writer {
        let mut writer = Writer {
            buf: Vec::with_capacity(512),
        };
        writer.line(format_args!("SIP/2.0 {} {reason}", status.code()));
        writer
    }

    /// Starts `METHOD uri SIP/2.0`.
    pub fn request(method: &Method, uri: &Uri) -> Writer {
        let mut writer = Writer {
            buf: Vec::with_capacity(512),
        };
        writer.line(format_args!("{method} {uri} SIP/2.0"));
        writer
    }

    /// Adds `Name: value`.
    pub fn header(mut self, name: &HeaderName, value: impl fmt::Display) -> Writer {
        self.line(format_args!("{}: {value}", name.as_str()));
        self
    }

    /// Ends the head with Content-Type (when there is a body) and Content-Length, then the body.
    pub fn finish(mut self, body: Option<(&str, &[u8])>) -> Bytes {
        match body {
            Some((content_type, bytes)) => {
                self = self
                    .header(&HeaderName::ContentType, content_type)
                    .header(&HeaderName::ContentLength, bytes.len());
                self.buf.extend_from_slice(b"\r\n");
                self.buf.extend_from_slice(bytes);
            }
            None => {
                self = self.header(&HeaderName::ContentLength, 0);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
        Bytes::from(self.buf)
    }

    /// Writes one line; CR and LF inside it become blanks, so no value can start a new line.
    fn line(&mut self, args: fmt::Arguments<'_>) {
        use std::io::Write;
        let start = self.buf.len();
        // Writing to a Vec cannot fail.
        let _ = self.buf.write_fmt(args);
        for byte in self.buf.get_mut(start..).unwrap_or_default() {
            if *byte == b'\r' || *byte == b'\n' {
                *byte = b' ';
            }
        }
        self.buf.extend_from_slice(b"\r\n");
    }
}

/// Starts the response to a request (RFC 3261 §8.2.6): Via (with `received`/`rport` on the top
/// one, RFC 3261 §18.2.1 and RFC 3581 §4), From, To (with `to_tag` when it has none), Call-ID
/// and CSeq copied from `echo`.
pub fn response(
    echo: &Echo,
    status: StatusCode,
    reason: &str,
    to_tag: Option<&Tag>,
    source: SocketAddr,
) -> Writer {
    let mut top = echo.top_via.clone();
    if top.host != grammar::Host::Ip(source.ip()) {
        top.params.set("received", Some(source.ip().to_string()));
    }
    if top.params.has("rport") {
        top.params.set("rport", Some(source.port().to_string()));
    }
    let mut writer = Writer::response(status, reason).header(&HeaderName::Via, &top);
    for via in &echo.lower_vias {
        writer = writer.header(&HeaderName::Via, via);
    }
    if let Some(from) = &echo.from {
        writer = writer.header(&HeaderName::From, from);
    }
    if let Some(to) = &echo.to {
        let has_tag = NameAddr::parse(to).is_ok_and(|n| n.params.has("tag"));
        writer = match to_tag {
            Some(tag) if !has_tag => writer.header(&HeaderName::To, format_args!("{to};tag={tag}")),
            _ => writer.header(&HeaderName::To, to),
        };
    }
    writer
        .header(&HeaderName::CallId, &echo.call_id)
        .header(&HeaderName::CSeq, &echo.cseq)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ReadLimits = ReadLimits {
        max_fields: 64,
        max_body: 4096,
    };

    fn request(text: &str) -> Result<Box<Request>, Box<Rejected>> {
        match parse(text.as_bytes(), Framing::Datagram, LIMITS)? {
            Message::Request(r) => Ok(r),
            Message::Response(_) => panic!("not a request"),
        }
    }

    const INVITE: &str = "INVITE sip:1999@192.0.2.10 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport\r\n\
v: SIP/2.0/UDP 192.0.2.200;branch=z9hG4bKother\r\n\
Max-Forwards: 70\r\n\
To: <sip:1999@192.0.2.10>\r\n\
f: \"Carol\" <sip:+14255550199@gw.example.test>;tag=1928301774\r\n\
i: a84b4c76e66710@gw.example.test\r\n\
CSeq: 314159 INVITE\r\n\
m: <sip:carol@192.0.2.1:5060>\r\n\
Diversion: <sip:1002@pbx>;reason=user-busy, <sip:1001@pbx>;reason=no-answer;counter=1\r\n\
User-Agent: TestGW/1.0\r\n\
P-Asserted-Identity: \"Carol C\" <sip:+14255550199@gw.example.test;user=phone>, <tel:+14255550199>\r\n\
privacy: id;critical\r\n\
c: application/sdp\r\n\
l: 4\r\n\
\r\n\
v=0\r\nEXTRA";

    #[test]
    fn reads_an_invite() {
        let r = request(INVITE).unwrap();
        assert_eq!(r.method, Method::Invite);
        assert_eq!(r.uri.as_sip().unwrap().user.as_deref(), Some("1999"));
        assert_eq!(r.call_id.as_str(), "a84b4c76e66710@gw.example.test");
        assert_eq!(r.cseq.seq, 314159);
        assert_eq!(r.from.display_name.as_deref(), Some("Carol"));
        assert_eq!(
            r.echo.lower_vias,
            ["SIP/2.0/UDP 192.0.2.200;branch=z9hG4bKother"]
        );
        assert_eq!(r.diversion.len(), 2);
        assert_eq!(r.max_forwards, Some(70));
        assert_eq!(r.content_type.as_deref(), Some("application/sdp"));
        assert_eq!(r.body.as_ref(), b"v=0\r");
        assert_eq!(r.user_agent.as_deref(), Some("TestGW/1.0"));
        assert_eq!(r.asserted_identity.len(), 2);
        assert_eq!(
            r.asserted_identity[0].display_name.as_deref(),
            Some("Carol C")
        );
        assert_eq!(r.asserted_identity[1].uri.to_string(), "tel:+14255550199");
        assert_eq!(r.privacy, [Privacy::Id, Privacy::Critical]);
    }

    fn rejected(text: &str) -> Box<Rejected> {
        request(text).unwrap_err()
    }

    #[test]
    fn rejections_keep_what_was_read() {
        let long_body = INVITE.replace("l: 4", "l: 9999");
        let r = rejected(&long_body);
        assert!(matches!(r.error, Error::ContentLength(_)), "{:?}", r.error);
        assert_eq!(r.echo.unwrap().call_id, "a84b4c76e66710@gw.example.test");

        let r = rejected(&INVITE.replace("CSeq: 314159 INVITE", "CSeq: 8 BYE"));
        assert!(matches!(r.error, Error::CSeqMethodMismatch));

        let r = rejected(&INVITE.replace("Max-Forwards: 70", "Max-Forwards: 300"));
        assert!(matches!(
            r.error,
            Error::BadHeader {
                header: HeaderName::MaxForwards,
                ..
            }
        ));

        let r = rejected(&INVITE.replace("i: a84b", "Call-ID: other\r\ni: a84b"));
        assert!(matches!(
            r.error,
            Error::DuplicateHeader(HeaderName::CallId)
        ));

        let r = rejected(&INVITE.replace("INVITE sip:1999@192.0.2.10", "INVITE tel:1999"));
        assert!(matches!(r.error, Error::UriScheme(ref s) if s == "tel"));

        let r = rejected(&INVITE.replace("SIP/2.0\r\nVia", "SIP/7.0\r\nVia"));
        assert!(matches!(r.error, Error::Version(_)));
        assert!(r.echo.is_some());

        let r = rejected(&INVITE.replace("INVITE sip", "INVITE  sip"));
        assert!(matches!(r.error, Error::Malformed(_)));

        let no_call_id = INVITE.replace("i: a84b4c76e66710@gw.example.test\r\n", "");
        let r = rejected(&no_call_id);
        assert!(r.echo.is_none(), "no Call-ID: no answer");

        let bad_via = INVITE.replace("Via: SIP/2.0/UDP 192.0.2.1:5060", "Via: SIP/2.0/UDP ;;");
        assert!(rejected(&bad_via).echo.is_none());
    }

    #[test]
    fn responses_copy_the_request() {
        let r = request(INVITE).unwrap();
        let tag = Tag::parse("srv1").unwrap();
        let source: SocketAddr = "198.51.100.7:6000".parse().unwrap();
        let bytes = response(
            &r.echo,
            StatusCode::MovedTemporarily,
            "Moved Temporarily",
            Some(&tag),
            source,
        )
        .header(&HeaderName::Contact, "<sip:1001@192.0.2.10:5062>")
        .finish(None);
        let text = std::str::from_utf8(&bytes).unwrap();
        assert_eq!(
            text,
            "SIP/2.0 302 Moved Temporarily\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport=6000;received=198.51.100.7\r\n\
Via: SIP/2.0/UDP 192.0.2.200;branch=z9hG4bKother\r\n\
From: \"Carol\" <sip:+14255550199@gw.example.test>;tag=1928301774\r\n\
To: <sip:1999@192.0.2.10>;tag=srv1\r\n\
Call-ID: a84b4c76e66710@gw.example.test\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:1001@192.0.2.10:5062>\r\n\
Content-Length: 0\r\n\r\n"
        );
        // An independent parser (rsip) reads what we write.
        let parsed = rsip::SipMessage::try_from(text).unwrap();
        let rsip::SipMessage::Response(parsed) = parsed else {
            panic!("not a response");
        };
        assert_eq!(parsed.status_code.code(), 302);

        let injected = Writer::response(StatusCode::BadRequest, "bad\r\nX: y").finish(None);
        assert!(injected.starts_with(b"SIP/2.0 400 bad  X: y\r\nContent-Length: 0\r\n\r\n"));
    }

    #[test]
    fn reads_responses() {
        let text = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKabc\r\n\
From: <sip:1001@192.0.2.10>;tag=a\r\nTo: <sip:c@192.0.2.1>;tag=b\r\nCall-ID: x@y\r\nCSeq: 2 BYE\r\n\
Content-Length: 0\r\n\r\n";
        let Message::Response(r) = parse(text.as_bytes(), Framing::Datagram, LIMITS).unwrap()
        else {
            panic!("not a response");
        };
        assert_eq!(r.status, StatusCode::Ok);
        assert_eq!(r.top_via.branch().unwrap().as_str(), "z9hG4bKabc");
        assert_eq!(r.to.tag().unwrap().as_str(), "b");
        let big = text.replace("200 OK", "4294967301 Huge");
        assert!(parse(big.as_bytes(), Framing::Datagram, LIMITS).is_err());
    }
}
