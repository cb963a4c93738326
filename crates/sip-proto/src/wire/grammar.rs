//! Header-value grammar (RFC 3261 §25.1, §19.1): SIP and other URIs, name-addr with parameters,
//! Via, CSeq, and their rendering back to text.
//!
//! Pure functions over one already unfolded header value; never sees a whole message (the
//! pre-pass and `wire` do), never allocates more than the values it returns. Rendering of
//! these values (their `Display`) is part of the one SIP writer, `wire`.
//!
//! rsip 0.4's typed headers are not used for these values: it rejects IPv6 references
//! (`[::1]`), loses Via parameters written with spaces around `;`/`=`, mis-splits quoted display
//! names containing `<` or `"`, and folds URI headers (`?Reason=…`) into the host. A redirect
//! server must read exactly these forms, so the grammar is ours.

use std::fmt;
use std::net::IpAddr;

use crate::types::{is_token_byte, Branch, Method, Tag};

/// Why a header value does not follow the grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxError(pub &'static str);

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

type Parsed<T> = Result<T, SyntaxError>;

/// A host: a domain name or an IP address (RFC 3261 §25.1 `host`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A domain name, lower-cased (host names compare case-insensitively).
    Domain(String),
    /// An IPv4 address or an IPv6 reference.
    Ip(IpAddr),
}

impl Host {
    /// Reads `hostname`, `IPv4address` or `[IPv6address]`.
    pub fn parse(text: &str) -> Parsed<Host> {
        if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            return inner
                .parse::<std::net::Ipv6Addr>()
                .map(|ip| Host::Ip(IpAddr::V6(ip)))
                .map_err(|_| SyntaxError("bad IPv6 reference"));
        }
        if let Ok(ip) = text.parse::<std::net::Ipv4Addr>() {
            return Ok(Host::Ip(IpAddr::V4(ip)));
        }
        let trimmed = text.strip_suffix('.').unwrap_or(text);
        let valid = !trimmed.is_empty()
            && trimmed.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if valid {
            Ok(Host::Domain(text.to_ascii_lowercase()))
        } else {
            Err(SyntaxError("bad host"))
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(name) => f.write_str(name),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
        }
    }
}

/// `;name[=value]` parameters in the order received; names are lower-cased (RFC 3261 §7.3.1),
/// values kept as written (a quoted-string keeps its quotes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, Option<String>)>);

impl Params {
    /// An empty list.
    pub fn new() -> Params {
        Params(Vec::new())
    }

    /// Whether `name` is present, with or without a value.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    /// The raw value of `name`, when present with a value.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// The value of `name` with quotes and escapes of a quoted-string removed.
    pub fn text(&self, name: &str) -> Option<String> {
        self.value(name).map(unquote)
    }

    /// Sets `name` (replacing any previous value) or appends it.
    pub fn set(&mut self, name: &str, value: Option<String>) {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }

    /// Every parameter in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_deref()))
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in &self.0 {
            match value {
                Some(value) => write!(f, ";{name}={value}")?,
                None => write!(f, ";{name}")?,
            }
        }
        Ok(())
    }
}

/// `sip:` or `sips:` URI (RFC 3261 §19.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// The user part as written (escapes kept); see [`SipUri::user_unescaped`].
    pub user: Option<String>,
    /// The host.
    pub host: Host,
    /// The port, when given.
    pub port: Option<u16>,
    /// `uri-parameters`.
    pub params: Params,
    /// `?name=value&…` headers as written.
    pub headers: Vec<(String, String)>,
}

impl SipUri {
    /// `sip:user@host:port` with no parameters.
    pub fn new(user: Option<String>, host: Host, port: Option<u16>) -> SipUri {
        SipUri {
            secure: false,
            user,
            host,
            port,
            params: Params::new(),
            headers: Vec::new(),
        }
    }

    /// The user part with `%HH` escapes decoded (RFC 3261 §19.1.4 compares that way), or
    /// `None` when there is no user or an escape decodes to invalid UTF-8.
    pub fn user_unescaped(&self) -> Option<String> {
        self.user.as_deref().and_then(percent_decode)
    }

    /// The telephone number a PBX put in the user part: the text before any `;` visual
    /// parameters of a telephone-subscriber (`1001;phone-context=…`).
    pub fn user_number(&self) -> Option<String> {
        let user = self.user_unescaped()?;
        let number = user.split(';').next().unwrap_or_default();
        (!number.is_empty()).then(|| number.to_owned())
    }

    fn parse(text: &str, secure: bool) -> Parsed<SipUri> {
        // No '@' can appear after the userinfo (params and headers escape it), while the
        // user part may hold '?', ';' and ',' (RFC 3261 user-unreserved): split at '@' first.
        let (user, rest) = match text.split_once('@') {
            Some((userinfo, after)) => {
                let user = userinfo.split(':').next().unwrap_or_default();
                if user.is_empty() || !user.bytes().all(is_user_byte) || !escapes_ok(user) {
                    return Err(SyntaxError("bad user part in URI"));
                }
                (Some(user.to_owned()), after)
            }
            None => (None, text),
        };
        let (hostport_params, headers) = match rest.split_once('?') {
            Some((before, headers)) => (before, parse_uri_headers(headers)?),
            None => (rest, Vec::new()),
        };
        let (hostport, params) = match hostport_params.split_once(';') {
            Some((hostport, params)) => (hostport, parse_uri_params(params)?),
            None => (hostport_params, Params::new()),
        };
        let (host, port) = split_host_port(hostport)?;
        Ok(SipUri {
            secure,
            user,
            host,
            port,
            params,
            headers,
        })
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, "{}", self.params)?;
        for (i, (name, value)) in self.headers.iter().enumerate() {
            let sep = if i == 0 { '?' } else { '&' };
            write!(f, "{sep}{name}={value}")?;
        }
        Ok(())
    }
}

/// Any URI a header may carry: SIP(S), or another absolute URI kept as text (tel:, urn:, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    /// `sip:` / `sips:`.
    Sip(SipUri),
    /// Another scheme (lower-cased) and the rest of the URI as written.
    Other {
        /// The scheme, e.g. `tel`.
        scheme: String,
        /// Everything after the colon.
        rest: String,
    },
}

impl Uri {
    /// Reads an absolute URI (RFC 3261 §25.1 `SIP-URI / SIPS-URI / absoluteURI`).
    pub fn parse(text: &str) -> Parsed<Uri> {
        let (scheme, rest) = text
            .split_once(':')
            .ok_or(SyntaxError("URI without a scheme"))?;
        let scheme_ok = scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
        if !scheme_ok {
            return Err(SyntaxError("bad URI scheme"));
        }
        if rest.is_empty() || rest.bytes().any(|b| b <= b' ' || b"<>\"".contains(&b)) {
            return Err(SyntaxError("bad characters in URI"));
        }
        if scheme.eq_ignore_ascii_case("sip") {
            SipUri::parse(rest, false).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("sips") {
            SipUri::parse(rest, true).map(Uri::Sip)
        } else {
            Ok(Uri::Other {
                scheme: scheme.to_ascii_lowercase(),
                rest: rest.to_owned(),
            })
        }
    }

    /// The SIP URI, when it is one.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(sip) => Some(sip),
            Uri::Other { .. } => None,
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(sip) => write!(f, "{sip}"),
            Uri::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}

/// `[display-name] <URI>` or a bare URI, followed by header parameters (RFC 3261 §20.10, §20.20).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name with quotes and escapes removed.
    pub display_name: Option<String>,
    /// The URI.
    pub uri: Uri,
    /// Header parameters (`tag`, `expires`, `reason`, …).
    pub params: Params,
}

impl NameAddr {
    /// Reads `name-addr / addr-spec` with its parameters; the whole value must be consumed.
    pub fn parse(text: &str) -> Parsed<NameAddr> {
        let mut cursor = Cursor::new(text);
        cursor.skip_ws();
        let display_name = if cursor.peek() == Some(b'"') {
            let name = cursor.quoted_string()?;
            cursor.skip_ws();
            if cursor.peek() != Some(b'<') {
                return Err(SyntaxError("display name not followed by <URI>"));
            }
            Some(name)
        } else if let Some(angle) = cursor.rest().find('<') {
            // `*(token LWS)` before the `<`; no LWS is needed before it (RFC 4475 §3.1.1.6).
            let words = cursor.take(angle);
            let words: Vec<&str> = words.split_ascii_whitespace().collect();
            if !words.iter().all(|w| w.bytes().all(is_token_byte)) {
                return Err(SyntaxError("display name is neither tokens nor quoted"));
            }
            (!words.is_empty()).then(|| words.join(" "))
        } else {
            None
        };
        let uri = if cursor.eat(b'<') {
            let end = cursor
                .rest()
                .find('>')
                .ok_or(SyntaxError("unterminated <URI>"))?;
            let inner = cursor.take(end);
            cursor.eat(b'>');
            Uri::parse(inner)?
        } else {
            // addr-spec: the URI ends at the first `;` or blank, and may not hold `,` or `?`
            // (RFC 3261 §20.10: such URIs must be in angle brackets).
            let end = cursor
                .rest()
                .find(|c: char| c == ';' || c.is_ascii_whitespace())
                .unwrap_or(cursor.rest().len());
            let spec = cursor.take(end);
            if spec.contains(['?', ',']) {
                return Err(SyntaxError("URI with ? or , must be in angle brackets"));
            }
            Uri::parse(spec)?
        };
        let params = cursor.header_params()?;
        Ok(NameAddr {
            display_name,
            uri,
            params,
        })
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<Tag> {
        self.params.value("tag").and_then(Tag::parse)
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.display_name {
            f.write_str("\"")?;
            for c in name.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\" ")?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

/// The transport in a Via's sent-protocol (RFC 3261 §20.42).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViaTransport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// Anything else (SCTP, WS, …), upper-cased.
    Other(String),
}

impl ViaTransport {
    fn parse(text: &str) -> ViaTransport {
        let upper = text.to_ascii_uppercase();
        match upper.as_str() {
            "UDP" => ViaTransport::Udp,
            "TCP" => ViaTransport::Tcp,
            "TLS" => ViaTransport::Tls,
            _ => ViaTransport::Other(upper),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            ViaTransport::Udp => "UDP",
            ViaTransport::Tcp => "TCP",
            ViaTransport::Tls => "TLS",
            ViaTransport::Other(name) => name,
        }
    }
}

/// One Via value (RFC 3261 §20.42).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// The transport the hop used.
    pub transport: ViaTransport,
    /// sent-by host.
    pub host: Host,
    /// sent-by port.
    pub port: Option<u16>,
    /// `branch`, `received`, `rport`, … in order.
    pub params: Params,
}

impl Via {
    /// Reads `SIP/2.0/transport sent-by *(;param)`.
    pub fn parse(text: &str) -> Parsed<Via> {
        let mut cursor = Cursor::new(text);
        cursor.skip_ws();
        let name = cursor.token().ok_or(SyntaxError("Via without protocol"))?;
        cursor.slash()?;
        // Any version token is read: the Via only says where the answer goes, and a request
        // line with another version is answered 505 through it (RFC 4475 §3.1.2.16).
        cursor.token().ok_or(SyntaxError("Via without version"))?;
        if !name.eq_ignore_ascii_case("SIP") {
            return Err(SyntaxError("Via protocol is not SIP"));
        }
        cursor.slash()?;
        let transport = cursor.token().ok_or(SyntaxError("Via without transport"))?;
        if !cursor.skip_ws() {
            return Err(SyntaxError("Via without sent-by"));
        }
        let end = cursor
            .rest()
            .find(|c: char| c == ';' || c.is_ascii_whitespace())
            .unwrap_or(cursor.rest().len());
        let (host, port) = split_host_port(cursor.take(end))?;
        let params = cursor.header_params()?;
        if params
            .value("branch")
            .is_some_and(|b| Branch::parse(b).is_none())
        {
            return Err(SyntaxError("bad Via branch"));
        }
        Ok(Via {
            transport: ViaTransport::parse(transport),
            host,
            port,
            params,
        })
    }

    /// The branch parameter.
    pub fn branch(&self) -> Option<Branch> {
        self.params.value("branch").and_then(Branch::parse)
    }

    /// sent-by as text (`host[:port]`), the transaction-matching key part (RFC 3261 §17.2.3).
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.to_string(),
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport.as_str(), self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, "{}", self.params)
    }
}

/// The CSeq header (RFC 3261 §20.16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// The sequence number, below 2^31 (RFC 3261 §8.1.1.5).
    pub seq: u32,
    /// The method it counts.
    pub method: Method,
}

/// RFC 3261 §8.1.1.5: the sequence number MUST be less than 2^31.
pub const CSEQ_MAX: u32 = (1 << 31) - 1;

impl CSeq {
    /// Reads `1*DIGIT LWS Method`.
    pub fn parse(text: &str) -> Parsed<CSeq> {
        let mut words = text.split_ascii_whitespace();
        let (Some(number), Some(method), None) = (words.next(), words.next(), words.next()) else {
            return Err(SyntaxError("CSeq is not `number method`"));
        };
        let seq = parse_decimal(number, u64::from(CSEQ_MAX))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(SyntaxError("CSeq number out of range"))?;
        let method = Method::parse(method).ok_or(SyntaxError("bad CSeq method"))?;
        Ok(CSeq { seq, method })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// Reads `token *(SEMI generic-param)`, the shape of Event and Subscription-State (RFC 6665
/// §8.4); the token is returned as written.
pub fn token_with_params(text: &str) -> Parsed<(String, Params)> {
    let mut cursor = Cursor::new(text);
    cursor.skip_ws();
    let token = cursor
        .token()
        .ok_or(SyntaxError("expected a token"))?
        .to_owned();
    let params = cursor.header_params()?;
    Ok((token, params))
}

/// Reads `auth-scheme LWS auth-param *(COMMA auth-param)` (RFC 3261 §25.1 `credentials` and
/// `challenge`); parameter names are lower-cased, values kept as written (quotes included).
pub fn auth_params(text: &str) -> Parsed<(String, Params)> {
    let mut cursor = Cursor::new(text);
    cursor.skip_ws();
    let scheme = cursor
        .token()
        .ok_or(SyntaxError("expected an auth scheme"))?
        .to_owned();
    if !cursor.skip_ws() {
        return Err(SyntaxError("expected blanks after the auth scheme"));
    }
    let mut params = Params::new();
    loop {
        cursor.skip_ws();
        let name = cursor
            .token()
            .ok_or(SyntaxError("empty auth parameter name"))?
            .to_ascii_lowercase();
        cursor.skip_ws();
        if !cursor.eat(b'=') {
            return Err(SyntaxError("auth parameter without ="));
        }
        cursor.skip_ws();
        let value = if cursor.peek() == Some(b'"') {
            cursor.quoted_raw()?
        } else {
            cursor
                .token()
                .ok_or(SyntaxError("empty auth parameter value"))?
        };
        if params.has(&name) {
            return Err(SyntaxError("auth parameter given twice"));
        }
        params.0.push((name, Some(value.to_owned())));
        cursor.skip_ws();
        if cursor.peek().is_none() {
            return Ok((scheme, params));
        }
        if !cursor.eat(b',') {
            return Err(SyntaxError("junk where a , was expected"));
        }
    }
}

/// Reads `1*DIGIT` not above `max`; `None` for anything else (sign, blanks, overflow).
pub fn parse_decimal(text: &str, max: u64) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u64>().ok().filter(|n| *n <= max)
}

/// Removes the quotes and `\` escapes of a quoted-string; other text is returned as is.
pub fn unquote(text: &str) -> String {
    let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
        return text.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if escaped || c != '\\' {
            out.push(c);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    out
}

/// Decodes `%HH` escapes; `None` on a bad escape or invalid UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// RFC 3261 `user`: unreserved / escaped / user-unreserved.
fn is_user_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*'()%&=+$,;?/".contains(&b)
}

/// RFC 3261 `paramchar` (and the `=` between name and value).
fn is_param_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*'()%[]/:&+$".contains(&b)
}

/// RFC 3261 `hnv-unreserved / unreserved / escaped` for URI headers.
fn is_uri_header_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*'()%[]/?:+$".contains(&b)
}

/// Whether every `%` starts a two-hex-digit escape.
fn escapes_ok(text: &str) -> bool {
    text.match_indices('%').all(|(i, _)| {
        text.get(i + 1..i + 3)
            .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
    })
}

fn split_host_port(text: &str) -> Parsed<(Host, Option<u16>)> {
    let (host, port) = if text.starts_with('[') {
        let close = text
            .find(']')
            .ok_or(SyntaxError("unterminated IPv6 reference"))?;
        let (host, after) = text.split_at(close + 1);
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(SyntaxError("junk after IPv6 reference")),
        }
    } else {
        match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        Some(port) => Some(
            parse_decimal(port, u64::from(u16::MAX))
                .and_then(|p| u16::try_from(p).ok())
                .ok_or(SyntaxError("bad port"))?,
        ),
        None => None,
    };
    Ok((Host::parse(host)?, port))
}

fn parse_uri_params(text: &str) -> Parsed<Params> {
    let mut params = Params::new();
    for param in text.split(';') {
        let (name, value) = match param.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (param, None),
        };
        let ok = !name.is_empty()
            && name.bytes().all(is_param_byte)
            && escapes_ok(name)
            && value.is_none_or(|v| !v.is_empty() && v.bytes().all(is_param_byte) && escapes_ok(v));
        if !ok {
            return Err(SyntaxError("bad URI parameter"));
        }
        params
            .0
            .push((name.to_ascii_lowercase(), value.map(str::to_owned)));
    }
    Ok(params)
}

fn parse_uri_headers(text: &str) -> Parsed<Vec<(String, String)>> {
    text.split('&')
        .map(|header| {
            let (name, value) = header
                .split_once('=')
                .ok_or(SyntaxError("URI header without ="))?;
            let ok = !name.is_empty()
                && name.bytes().all(is_uri_header_byte)
                && value.bytes().all(is_uri_header_byte)
                && escapes_ok(name)
                && escapes_ok(value);
            if ok {
                Ok((name.to_owned(), value.to_owned()))
            } else {
                Err(SyntaxError("bad URI header"))
            }
        })
        .collect()
}

/// A position in one header value.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Cursor<'a> {
        Cursor { text, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or_default()
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// Skips blanks; whether any were there.
    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// The next `len` bytes (callers pass offsets found in [`Cursor::rest`]).
    fn take(&mut self, len: usize) -> &'a str {
        let taken = self.rest().get(..len).unwrap_or_default();
        self.pos += taken.len();
        taken
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a str {
        let len = self.rest().bytes().take_while(|b| keep(*b)).count();
        self.take(len)
    }

    fn token(&mut self) -> Option<&'a str> {
        let token = self.take_while(is_token_byte);
        (!token.is_empty()).then_some(token)
    }

    /// `SWS "/" SWS`.
    fn slash(&mut self) -> Parsed<()> {
        self.skip_ws();
        if !self.eat(b'/') {
            return Err(SyntaxError("expected /"));
        }
        self.skip_ws();
        Ok(())
    }

    /// A quoted-string at the cursor, returned without quotes and escapes (RFC 3261 §25.1).
    fn quoted_string(&mut self) -> Parsed<String> {
        let raw = self.quoted_raw()?;
        Ok(unquote(raw))
    }

    /// A quoted-string at the cursor, returned as written.
    fn quoted_raw(&mut self) -> Parsed<&'a str> {
        let rest = self.rest();
        let mut escaped = false;
        for (i, c) in rest.char_indices().skip(1) {
            match (escaped, c) {
                (true, '\r' | '\n') => return Err(SyntaxError("bad escape in quoted string")),
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => return Ok(self.take(i + 1)),
                (false, _) => {}
            }
        }
        Err(SyntaxError("unterminated quoted string"))
    }

    /// `*(SWS ";" SWS name [SWS "=" SWS value])` to the end of the value.
    fn header_params(&mut self) -> Parsed<Params> {
        let mut params = Params::new();
        loop {
            self.skip_ws();
            if self.peek().is_none() {
                return Ok(params);
            }
            if !self.eat(b';') {
                return Err(SyntaxError("junk where a ;parameter was expected"));
            }
            self.skip_ws();
            let name = self
                .token()
                .ok_or(SyntaxError("empty parameter name"))?
                .to_ascii_lowercase();
            self.skip_ws();
            let value = if self.eat(b'=') {
                self.skip_ws();
                let value = if self.peek() == Some(b'"') {
                    self.quoted_raw()?
                } else {
                    self.take_while(|b| is_token_byte(b) || b == b':' || b == b'[' || b == b']')
                };
                if value.is_empty() {
                    return Err(SyntaxError("empty parameter value"));
                }
                Some(value.to_owned())
            } else {
                None
            };
            params.0.push((name, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uris() {
        let Uri::Sip(uri) = Uri::parse("sip:1999@127.0.0.1:5060;user=phone").unwrap() else {
            panic!("not sip");
        };
        assert_eq!(uri.user.as_deref(), Some("1999"));
        assert_eq!(uri.host, Host::Ip([127, 0, 0, 1].into()));
        assert_eq!(uri.port, Some(5060));
        assert_eq!(uri.params.value("user"), Some("phone"));
        assert_eq!(uri.to_string(), "sip:1999@127.0.0.1:5060;user=phone");

        let Uri::Sip(v6) = Uri::parse("sips:1001@[2001:db8::1]:5061;transport=tcp").unwrap() else {
            panic!("not sip");
        };
        assert!(v6.secure);
        assert_eq!(v6.to_string(), "sips:1001@[2001:db8::1]:5061;transport=tcp");

        let Uri::Sip(h) = Uri::parse("sip:1001@pbx.test?Reason=SIP%3Bcause%3D302").unwrap() else {
            panic!("not sip");
        };
        assert_eq!(h.host, Host::Domain("pbx.test".into()));
        assert_eq!(
            h.headers,
            vec![("Reason".into(), "SIP%3Bcause%3D302".into())]
        );

        let Uri::Sip(semi) = Uri::parse("sip:user;par=u%40example.net@example.com").unwrap() else {
            panic!("not sip");
        };
        assert_eq!(semi.user.as_deref(), Some("user;par=u%40example.net"));
        assert_eq!(semi.user_number().as_deref(), Some("user"));
        let Uri::Sip(odd) = Uri::parse(
            "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1@example.test",
        )
        .unwrap() else {
            panic!("not sip");
        };
        assert_eq!(
            odd.user.as_deref(),
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert!(odd.headers.is_empty());
        let Uri::Sip(esc) = Uri::parse("sip:%31%30%30%31@h").unwrap() else {
            panic!("not sip");
        };
        assert_eq!(esc.user_unescaped().as_deref(), Some("1001"));

        assert!(matches!(
            Uri::parse("tel:+1-425-555-0101").unwrap(),
            Uri::Other { scheme, .. } if scheme == "tel"
        ));
        for bad in [
            "sip:a@",
            "sip:a b@h",
            "sip:@h",
            "sip:a@h:99999",
            "sip:a@[::1",
            "1sip:a@h",
            "sip:a@h;=x",
            "sip:a@h%zz",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn name_addrs() {
        let n = NameAddr::parse("\"Alice, A\" <sip:1001@h>;reason=no-answer;counter=1").unwrap();
        assert_eq!(n.display_name.as_deref(), Some("Alice, A"));
        assert_eq!(n.params.value("reason"), Some("no-answer"));

        let spaced = NameAddr::parse(
            "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com> ; tag = 12345",
        )
        .unwrap();
        assert_eq!(spaced.display_name.as_deref(), Some("J Rosenberg \\\""));
        assert_eq!(spaced.tag().unwrap().as_str(), "12345");

        let bare = NameAddr::parse("sip:bob@h;tag=abc").unwrap();
        assert_eq!(bare.display_name, None);
        assert_eq!(bare.tag().unwrap().as_str(), "abc");
        assert!(bare.uri.as_sip().unwrap().params.iter().next().is_none());

        let tight = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(tight.display_name.as_deref(), Some("caller"));
        let tokens = NameAddr::parse("Bob  Berg <sip:b@h>").unwrap();
        assert_eq!(tokens.display_name.as_deref(), Some("Bob Berg"));
        let angled = NameAddr::parse("\"caller<x>\" <sip:c@h>;tag=1").unwrap();
        assert_eq!(angled.display_name.as_deref(), Some("caller<x>"));

        for bad in [
            "\"Mr. J. User <sip:j.user@example.com>",
            "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            "\"Watson, Thomas\" < sip:t.watson@example.org >",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "<sip:joe@example.org>;;;;",
            "<sip:a@b> junk",
        ] {
            assert!(NameAddr::parse(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(
            NameAddr::parse("\"A \\\"q\\\"\" <sip:a@h>;tag=1")
                .unwrap()
                .to_string(),
            "\"A \\\"q\\\"\" <sip:a@h>;tag=1"
        );
    }

    #[test]
    fn vias() {
        let v = Via::parse("SIP/2.0/UDP 192.0.2.2:5060 ; branch = z9hG4bK-3 ;rport").unwrap();
        assert_eq!(v.branch().unwrap().as_str(), "z9hG4bK-3");
        assert!(v.params.has("rport"));
        assert_eq!(v.sent_by(), "192.0.2.2:5060");
        let v6 = Via::parse("SIP / 2.0 / TCP [::1]:5062;branch=z9hG4bKx;received=::1").unwrap();
        assert_eq!(v6.transport, ViaTransport::Tcp);
        assert_eq!(
            v6.to_string(),
            "SIP/2.0/TCP [::1]:5062;branch=z9hG4bKx;received=::1"
        );
        assert!(Via::parse("SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKx").is_ok());
        assert!(Via::parse("SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw").is_ok());
        for bad in [
            "XMPP/2.0/UDP c.example.com;branch=z9hG4bKkdjuw",
            "SIP/2.0/UDP 192.0.2.15;;",
            "SIP/2.0/UDP",
            "SIP/2.0/UDP h;branch=a b",
            "SIP/2.0/UDP h;branch=\"q\"",
        ] {
            assert!(Via::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn cseqs() {
        assert_eq!(
            CSeq::parse(" 4711   INVITE ").unwrap(),
            CSeq {
                seq: 4711,
                method: Method::Invite
            }
        );
        assert_eq!(
            CSeq::parse("1 FOO").unwrap().method,
            Method::Other("FOO".into())
        );
        for bad in [
            "36893488147419103232 REGISTER",
            "2147483648 INVITE",
            "-1 INVITE",
            "1",
            "1 A B",
        ] {
            assert!(CSeq::parse(bad).is_err(), "{bad} accepted");
        }
        assert!(CSeq::parse("2147483647 INVITE").is_ok());
    }
}
