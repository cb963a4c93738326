//! SDP (RFC 4566) session descriptions: a typed model, a bounded parser and the one writer.
//!
//! Wire only: it neither chooses codecs nor knows about ports (`media::negotiate` does RFC 3264),
//! and it never panics on input. The parser caps the body size, the line count, the number of media
//! sections and formats before keeping anything, refuses unknown line types as RFC 4566 §5 demands,
//! and keeps only the attributes umbox acts on. Every SDP text umbox sends is rendered by
//! [`SessionDescription::to_bytes`]. Entry points: [`SessionDescription::parse`],
//! [`SessionDescription::to_bytes`].

use std::fmt::Write as _;
use std::net::IpAddr;

use super::rtp::PayloadType;

/// Largest session description accepted, in bytes.
pub const MAX_SDP_BYTES: usize = 16 * 1024;
/// Most lines accepted.
const MAX_LINES: usize = 512;
/// Most media sections accepted.
const MAX_MEDIA: usize = 16;
/// Most formats accepted on one `m=` line.
const MAX_FORMATS: usize = 64;
/// Most `a=rtpmap`/`a=fmtp` attributes kept per media section.
const MAX_RTP_ATTRIBUTES: usize = 64;

/// Why a session description, or an offer in it, cannot be used. The SIP side answers an offer
/// that fails with any of these with 488 Not Acceptable Here (RFC 3261 §21.4.26).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// The body is larger than [`MAX_SDP_BYTES`].
    #[error("session description of {0} bytes is too large")]
    TooLarge(usize),
    /// The body is not UTF-8 (RFC 4566 §5: the default character set).
    #[error("session description is not utf-8")]
    NotUtf8,
    /// Too many lines, media sections, formats or attributes.
    #[error("session description has too many {0}")]
    TooMany(&'static str),
    /// A line does not follow the grammar.
    #[error("sdp line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A required line is absent.
    #[error("session description has no {0} line")]
    Missing(&'static str),
    /// The offer has no audio stream that umbox could accept.
    #[error("offer has no usable audio stream")]
    NoAudio,
    /// The audio stream offers neither PCMU nor PCMA at 8000 Hz.
    #[error("offer has no usable audio codec (pcmu or pcma at 8000 hz)")]
    NoCodec,
    /// The audio stream's connection address is a host name, which umbox does not resolve.
    #[error("connection address {0:?} is not an ip address")]
    HostName(String),
    /// The audio stream's address family differs from ours.
    #[error("peer address {peer} and local address {local} are of different families")]
    AddressFamily {
        /// The offered address.
        peer: IpAddr,
        /// Our advertised address.
        local: IpAddr,
    },
    /// A re-offer no longer allows the codec the call was recording in.
    #[error("re-offer drops the call's codec")]
    CodecChanged,
}

/// `a=sendrecv` / `sendonly` / `recvonly` / `inactive` (RFC 4566 §6, RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Both ways (the default when absent).
    SendRecv,
    /// The describing side only sends (a hold offer).
    SendOnly,
    /// The describing side only receives.
    RecvOnly,
    /// Neither (a hold offer when the holder plays nothing).
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction named by an attribute, if it is one.
    pub fn parse(name: &str) -> Option<Direction> {
        [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ]
        .into_iter()
        .find(|d| d.as_str() == name)
    }

    /// Whether the describing side sends media.
    pub const fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the describing side receives media.
    pub const fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The direction with the given abilities.
    pub const fn from_abilities(sends: bool, receives: bool) -> Direction {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }
}

/// A connection or origin address (RFC 4566 §5.7): an IP address or a host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A literal IPv4 or IPv6 address (for multicast, without the TTL and count suffixes).
    Ip(IpAddr),
    /// A fully qualified domain name.
    Name(String),
}

impl Address {
    fn parse(address_type: &str, text: &str) -> Option<Address> {
        // Multicast addresses carry "/ttl[/count]"; only the address matters here.
        let host = text.split('/').next().unwrap_or(text);
        if host.is_empty() || !is_token(host) {
            return None;
        }
        match host.parse::<IpAddr>() {
            Ok(ip @ IpAddr::V4(_)) if address_type == "IP4" => Some(Address::Ip(ip)),
            Ok(ip @ IpAddr::V6(_)) if address_type == "IP6" => Some(Address::Ip(ip)),
            Ok(_) => None,
            Err(_) => Some(Address::Name(host.to_owned())),
        }
    }

    fn address_type(&self) -> &'static str {
        match self {
            Address::Ip(IpAddr::V6(_)) => "IP6",
            Address::Ip(IpAddr::V4(_)) | Address::Name(_) => "IP4",
        }
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Ip(ip) => write!(f, "{ip}"),
            Address::Name(name) => f.write_str(name),
        }
    }
}

/// `o=` (RFC 4566 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// User name, `-` when none.
    pub username: String,
    /// Session id.
    pub session_id: u64,
    /// Session version; raised by one in every changed re-offer or re-answer (RFC 3264 §8).
    pub session_version: u64,
    /// Address of the originating host.
    pub address: Address,
}

/// A media type on an `m=` line (RFC 4566 §5.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaKind {
    /// `audio`.
    Audio,
    /// `video`.
    Video,
    /// `text`.
    Text,
    /// `application`.
    Application,
    /// `message`.
    Message,
    /// Anything else, kept so a rejected stream can be echoed.
    Other(String),
}

impl MediaKind {
    /// The token on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Text => "text",
            MediaKind::Application => "application",
            MediaKind::Message => "message",
            MediaKind::Other(token) => token,
        }
    }

    /// The kind a token names.
    pub fn parse(token: &str) -> MediaKind {
        match token {
            "audio" => MediaKind::Audio,
            "video" => MediaKind::Video,
            "text" => MediaKind::Text,
            "application" => MediaKind::Application,
            "message" => MediaKind::Message,
            other => MediaKind::Other(other.to_owned()),
        }
    }
}

/// A transport protocol on an `m=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    /// `RTP/AVP`: plain RTP (RFC 3551), the one umbox accepts.
    RtpAvp,
    /// `RTP/SAVP`: SRTP (RFC 3711).
    RtpSavp,
    /// `RTP/AVPF`: RTP with RTCP feedback (RFC 4585).
    RtpAvpf,
    /// `RTP/SAVPF`: SRTP with feedback (RFC 5124).
    RtpSavpf,
    /// Anything else (`UDP/TLS/RTP/SAVPF`, `TCP/BFCP`, …), kept so the stream can be echoed.
    Other(String),
}

impl Protocol {
    /// The token on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Protocol::RtpAvp => "RTP/AVP",
            Protocol::RtpSavp => "RTP/SAVP",
            Protocol::RtpAvpf => "RTP/AVPF",
            Protocol::RtpSavpf => "RTP/SAVPF",
            Protocol::Other(token) => token,
        }
    }

    /// The protocol a token names.
    pub fn parse(token: &str) -> Protocol {
        match token {
            "RTP/AVP" => Protocol::RtpAvp,
            "RTP/SAVP" => Protocol::RtpSavp,
            "RTP/AVPF" => Protocol::RtpAvpf,
            "RTP/SAVPF" => Protocol::RtpSavpf,
            other => Protocol::Other(other.to_owned()),
        }
    }

    /// Whether the formats on the `m=` line are RTP payload type numbers.
    fn carries_payload_types(&self) -> bool {
        match self {
            Protocol::RtpAvp | Protocol::RtpSavp | Protocol::RtpAvpf | Protocol::RtpSavpf => true,
            Protocol::Other(token) => token.contains("RTP/"),
        }
    }
}

/// One format on an `m=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// An RTP payload type (for RTP-based protocols).
    Rtp(PayloadType),
    /// A format token of another protocol.
    Other(String),
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Format::Rtp(pt) => write!(f, "{}", pt.as_u8()),
            Format::Other(token) => f.write_str(token),
        }
    }
}

/// An encoding name in `a=rtpmap` (RFC 4566 §6; names per RFC 3551 and RFC 4733), matched without
/// regard to case as RFC 4855 §3 says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoding {
    /// `PCMU`.
    Pcmu,
    /// `PCMA`.
    Pcma,
    /// `telephone-event` (RFC 4733 §7.1.1).
    TelephoneEvent,
    /// Any other codec.
    Other(String),
}

impl Encoding {
    /// The name on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Encoding::Pcmu => "PCMU",
            Encoding::Pcma => "PCMA",
            Encoding::TelephoneEvent => "telephone-event",
            Encoding::Other(name) => name,
        }
    }

    /// The encoding a name means.
    pub fn parse(name: &str) -> Encoding {
        [Encoding::Pcmu, Encoding::Pcma, Encoding::TelephoneEvent]
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(name))
            .unwrap_or_else(|| Encoding::Other(name.to_owned()))
    }
}

/// `a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// The payload type being bound.
    pub payload_type: PayloadType,
    /// Encoding name.
    pub encoding: Encoding,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Audio channels, when given.
    pub channels: Option<u8>,
}

/// `a=fmtp:<pt> <parameters>`; the parameters are kept as text (only telephone-event's event list
/// is ever read, RFC 4733 §7.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    /// The payload type the parameters are for.
    pub payload_type: PayloadType,
    /// The parameter text.
    pub parameters: String,
}

/// `a=rtcp:<port> [IN IP4 <address>]` (RFC 3605).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtcp {
    /// RTCP port.
    pub port: u16,
    /// RTCP address, when it differs from the media's.
    pub address: Option<Address>,
}

/// One media section: the `m=` line and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// Media type.
    pub kind: MediaKind,
    /// Transport port; 0 means the stream is disabled or rejected.
    pub port: u16,
    /// The `/<number of ports>` suffix, when present.
    pub port_count: Option<u16>,
    /// Transport protocol.
    pub protocol: Protocol,
    /// Formats in preference order.
    pub formats: Vec<Format>,
    /// Media-level `c=`.
    pub connection: Option<Address>,
    /// `a=rtpmap` attributes.
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp` attributes.
    pub fmtps: Vec<Fmtp>,
    /// `a=ptime` in milliseconds.
    pub ptime: Option<u32>,
    /// Media-level direction attribute.
    pub direction: Option<Direction>,
    /// `a=rtcp`.
    pub rtcp: Option<Rtcp>,
}

impl Media {
    /// An empty section with the `m=` line's values.
    pub fn new(kind: MediaKind, port: u16, protocol: Protocol, formats: Vec<Format>) -> Media {
        Media {
            kind,
            port,
            port_count: None,
            protocol,
            formats,
            connection: None,
            rtpmaps: Vec::new(),
            fmtps: Vec::new(),
            ptime: None,
            direction: None,
            rtcp: None,
        }
    }

    /// The `a=rtpmap` binding for `payload_type`, if any.
    pub fn rtpmap(&self, payload_type: PayloadType) -> Option<&RtpMap> {
        self.rtpmaps.iter().find(|m| m.payload_type == payload_type)
    }
}

/// A session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=`.
    pub origin: Origin,
    /// `s=`.
    pub session_name: String,
    /// Session-level `c=`.
    pub connection: Option<Address>,
    /// Session-level direction attribute.
    pub direction: Option<Direction>,
    /// Media sections in order.
    pub media: Vec<Media>,
}

/// Whether `text` is a non-empty run of visible characters without spaces.
fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic() || b >= 0x80)
}

/// Keeps the line number for errors.
struct Line {
    number: usize,
}

impl Line {
    fn error(&self, reason: &'static str) -> SdpError {
        SdpError::Malformed {
            line: self.number,
            reason,
        }
    }
}

impl SessionDescription {
    /// Parses a session description. Lines may end in CRLF or a bare LF (RFC 4566 §5 asks parsers
    /// to accept both); attributes umbox does not act on are skipped.
    pub fn parse(body: &[u8]) -> Result<SessionDescription, SdpError> {
        if body.len() > MAX_SDP_BYTES {
            return Err(SdpError::TooLarge(body.len()));
        }
        let text = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
        let lines = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .enumerate()
            .filter(|(_, l)| !l.is_empty());

        let mut version_seen = false;
        let mut origin = None;
        let mut session_name = None;
        let mut connection = None;
        let mut direction = None;
        let mut media: Vec<Media> = Vec::new();

        for (index, raw) in lines {
            let line = Line { number: index + 1 };
            if index >= MAX_LINES {
                return Err(SdpError::TooMany("lines"));
            }
            let (letter, value) = raw
                .split_once('=')
                .filter(|(letter, _)| letter.len() == 1)
                .ok_or_else(|| line.error("expected <type>=<value>"))?;
            if !version_seen {
                if letter != "v" || value != "0" {
                    return Err(line.error("the first line must be v=0"));
                }
                version_seen = true;
                continue;
            }
            match letter {
                "o" => origin = Some(parse_origin(value).ok_or_else(|| line.error("bad o= line"))?),
                "s" => session_name = Some(value.to_owned()),
                "c" => {
                    let address =
                        parse_connection(value).ok_or_else(|| line.error("bad c= line"))?;
                    match media.last_mut() {
                        Some(m) => m.connection = Some(address),
                        None => connection = Some(address),
                    }
                }
                "m" => {
                    if media.len() >= MAX_MEDIA {
                        return Err(SdpError::TooMany("media sections"));
                    }
                    media.push(parse_media(value, &line)?);
                }
                "a" => {
                    let attribute = parse_attribute(value, &line)?;
                    match media.last_mut() {
                        Some(m) => attribute.apply_to_media(m)?,
                        None => {
                            if let Attribute::Direction(d) = attribute {
                                direction = Some(d);
                            }
                        }
                    }
                }
                // Known lines umbox has no use for (RFC 4566 §5).
                "v" | "i" | "u" | "e" | "p" | "b" | "t" | "r" | "z" | "k" => {}
                _ => return Err(line.error("unknown line type")),
            }
        }
        if !version_seen {
            return Err(SdpError::Missing("v="));
        }
        Ok(SessionDescription {
            origin: origin.ok_or(SdpError::Missing("o="))?,
            // Some user agents omit s= although RFC 4566 requires it; nothing depends on it.
            session_name: session_name.unwrap_or_else(|| "-".to_owned()),
            connection,
            direction,
            media,
        })
    }

    /// Renders the description with CRLF line ends; the only SDP writer in umbox.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(512);
        // Writing into a String cannot fail.
        let _ = self.write_to(&mut out);
        out.into_bytes()
    }

    fn write_to(&self, out: &mut String) -> std::fmt::Result {
        let o = &self.origin;
        write!(out, "v=0\r\n")?;
        write!(
            out,
            "o={} {} {} IN {} {}\r\n",
            o.username,
            o.session_id,
            o.session_version,
            o.address.address_type(),
            o.address
        )?;
        write!(out, "s={}\r\n", self.session_name)?;
        if let Some(address) = &self.connection {
            write!(out, "c=IN {} {address}\r\n", address.address_type())?;
        }
        write!(out, "t=0 0\r\n")?;
        if let Some(direction) = self.direction {
            write!(out, "a={}\r\n", direction.as_str())?;
        }
        for m in &self.media {
            write!(out, "m={} {}", m.kind.as_str(), m.port)?;
            if let Some(count) = m.port_count {
                write!(out, "/{count}")?;
            }
            write!(out, " {}", m.protocol.as_str())?;
            for format in &m.formats {
                write!(out, " {format}")?;
            }
            write!(out, "\r\n")?;
            if let Some(address) = &m.connection {
                write!(out, "c=IN {} {address}\r\n", address.address_type())?;
            }
            for map in &m.rtpmaps {
                write!(
                    out,
                    "a=rtpmap:{} {}/{}",
                    map.payload_type.as_u8(),
                    map.encoding.as_str(),
                    map.clock_rate
                )?;
                if let Some(channels) = map.channels {
                    write!(out, "/{channels}")?;
                }
                write!(out, "\r\n")?;
            }
            for fmtp in &m.fmtps {
                write!(
                    out,
                    "a=fmtp:{} {}\r\n",
                    fmtp.payload_type.as_u8(),
                    fmtp.parameters
                )?;
            }
            if let Some(ptime) = m.ptime {
                write!(out, "a=ptime:{ptime}\r\n")?;
            }
            if let Some(rtcp) = &m.rtcp {
                write!(out, "a=rtcp:{}", rtcp.port)?;
                if let Some(address) = &rtcp.address {
                    write!(out, " IN {} {address}", address.address_type())?;
                }
                write!(out, "\r\n")?;
            }
            if let Some(direction) = m.direction {
                write!(out, "a={}\r\n", direction.as_str())?;
            }
        }
        Ok(())
    }
}

/// `<username> <sess-id> <sess-version> IN <addrtype> <address>`.
fn parse_origin(value: &str) -> Option<Origin> {
    let mut parts = value.split(' ');
    let username = parts.next().filter(|u| is_token(u))?;
    let session_id = parts.next()?.parse().ok()?;
    let session_version = parts.next()?.parse().ok()?;
    let address = parse_connection_parts(&mut parts)?;
    Some(Origin {
        username: username.to_owned(),
        session_id,
        session_version,
        address,
    })
}

/// `IN <addrtype> <address>`.
fn parse_connection(value: &str) -> Option<Address> {
    parse_connection_parts(&mut value.split(' '))
}

fn parse_connection_parts<'a>(parts: &mut impl Iterator<Item = &'a str>) -> Option<Address> {
    if parts.next()? != "IN" {
        return None;
    }
    let address_type = parts.next()?;
    let address = Address::parse(address_type, parts.next()?)?;
    parts.next().is_none().then_some(address)
}

/// `<media> <port>[/<count>] <proto> <fmt> …`.
fn parse_media(value: &str, line: &Line) -> Result<Media, SdpError> {
    let mut parts = value.split(' ').filter(|p| !p.is_empty());
    let kind = parts
        .next()
        .filter(|k| is_token(k))
        .map(MediaKind::parse)
        .ok_or_else(|| line.error("m= line without a media type"))?;
    let port_text = parts
        .next()
        .ok_or_else(|| line.error("m= line without a port"))?;
    let (port, port_count) = match port_text.split_once('/') {
        Some((port, count)) => (port, Some(count)),
        None => (port_text, None),
    };
    let port = port.parse().map_err(|_| line.error("bad m= port"))?;
    let port_count = port_count
        .map(|c| c.parse().map_err(|_| line.error("bad m= port count")))
        .transpose()?;
    let protocol = parts
        .next()
        .filter(|p| is_token(p))
        .map(Protocol::parse)
        .ok_or_else(|| line.error("m= line without a protocol"))?;
    let mut formats = Vec::new();
    for token in parts {
        if formats.len() >= MAX_FORMATS {
            return Err(SdpError::TooMany("formats"));
        }
        let format = if protocol.carries_payload_types() {
            Format::Rtp(
                token
                    .parse()
                    .ok()
                    .and_then(PayloadType::new)
                    .ok_or_else(|| line.error("bad rtp payload type"))?,
            )
        } else {
            Format::Other(token.to_owned())
        };
        formats.push(format);
    }
    if formats.is_empty() {
        return Err(line.error("m= line without formats"));
    }
    let mut media = Media::new(kind, port, protocol, formats);
    media.port_count = port_count;
    Ok(media)
}

/// The attributes umbox reads.
enum Attribute {
    RtpMap(RtpMap),
    Fmtp(Fmtp),
    Ptime(u32),
    Direction(Direction),
    Rtcp(Rtcp),
    Ignored,
}

impl Attribute {
    fn apply_to_media(self, media: &mut Media) -> Result<(), SdpError> {
        match self {
            Attribute::RtpMap(map) => {
                if media.rtpmaps.len() >= MAX_RTP_ATTRIBUTES {
                    return Err(SdpError::TooMany("rtpmap attributes"));
                }
                media.rtpmaps.push(map);
            }
            Attribute::Fmtp(fmtp) => {
                if media.fmtps.len() >= MAX_RTP_ATTRIBUTES {
                    return Err(SdpError::TooMany("fmtp attributes"));
                }
                media.fmtps.push(fmtp);
            }
            Attribute::Ptime(ms) => media.ptime = Some(ms),
            Attribute::Direction(d) => media.direction = Some(d),
            Attribute::Rtcp(rtcp) => media.rtcp = Some(rtcp),
            Attribute::Ignored => {}
        }
        Ok(())
    }
}

fn parse_attribute(value: &str, line: &Line) -> Result<Attribute, SdpError> {
    let (name, argument) = match value.split_once(':') {
        Some((name, argument)) => (name, Some(argument)),
        None => (value, None),
    };
    if let (Some(direction), None) = (Direction::parse(name), argument) {
        return Ok(Attribute::Direction(direction));
    }
    let Some(argument) = argument else {
        return Ok(Attribute::Ignored);
    };
    match name {
        "rtpmap" => parse_rtpmap(argument)
            .map(Attribute::RtpMap)
            .ok_or_else(|| line.error("bad a=rtpmap")),
        "fmtp" => {
            let (pt, parameters) = argument.split_once(' ').unwrap_or((argument, ""));
            let payload_type = pt
                .parse()
                .ok()
                .and_then(PayloadType::new)
                .ok_or_else(|| line.error("bad a=fmtp payload type"))?;
            Ok(Attribute::Fmtp(Fmtp {
                payload_type,
                parameters: parameters.trim().to_owned(),
            }))
        }
        "ptime" => {
            // Some agents write "20.0"; the whole milliseconds are what matter.
            let whole = argument.trim().split('.').next().unwrap_or("");
            whole
                .parse()
                .map(Attribute::Ptime)
                .map_err(|_| line.error("bad a=ptime"))
        }
        "rtcp" => {
            let mut parts = argument.split(' ');
            let port = parts
                .next()
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| line.error("bad a=rtcp port"))?;
            let mut rest = parts.peekable();
            let address = if rest.peek().is_some() {
                Some(
                    parse_connection_parts(&mut rest)
                        .ok_or_else(|| line.error("bad a=rtcp address"))?,
                )
            } else {
                None
            };
            Ok(Attribute::Rtcp(Rtcp { port, address }))
        }
        _ => Ok(Attribute::Ignored),
    }
}

/// `<pt> <encoding>/<clock rate>[/<channels>]`.
fn parse_rtpmap(argument: &str) -> Option<RtpMap> {
    let (pt, rest) = argument.split_once(' ')?;
    let payload_type = PayloadType::new(pt.parse().ok()?)?;
    let mut parts = rest.trim().split('/');
    let encoding = parts.next().filter(|e| is_token(e)).map(Encoding::parse)?;
    let clock_rate = parts.next()?.parse().ok()?;
    let channels = parts
        .next()
        .map(|c| c.parse().ok())
        .map_or(Some(None), |c| c.map(Some))?;
    parts.next().is_none().then_some(RtpMap {
        payload_type,
        encoding,
        clock_rate,
        channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BARESIP: &str = "v=0\r\no=- 1712 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
        m=audio 10000 RTP/AVP 9 0 8 101\r\nb=AS:64\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n\
        a=label:1\r\na=ssrc:1 cname:x\r\na=ptime:20\r\n";

    #[test]
    fn parses_a_typical_offer() {
        let sdp = SessionDescription::parse(BARESIP.as_bytes()).unwrap();
        assert_eq!(sdp.origin.session_id, 1712);
        assert_eq!(
            sdp.connection,
            Some(Address::Ip("192.0.2.10".parse().unwrap()))
        );
        let audio = &sdp.media[0];
        assert_eq!(audio.kind, MediaKind::Audio);
        assert_eq!(audio.port, 10000);
        assert_eq!(audio.protocol, Protocol::RtpAvp);
        let pts: Vec<u8> = audio
            .formats
            .iter()
            .map(|f| match f {
                Format::Rtp(pt) => pt.as_u8(),
                Format::Other(_) => 255,
            })
            .collect();
        assert_eq!(pts, [9, 0, 8, 101]);
        assert_eq!(
            audio.rtpmap(PayloadType::new(101).unwrap()),
            Some(&RtpMap {
                payload_type: PayloadType::new(101).unwrap(),
                encoding: Encoding::TelephoneEvent,
                clock_rate: 8000,
                channels: None
            })
        );
        assert_eq!(audio.fmtps[0].parameters, "0-15");
        assert_eq!(audio.ptime, Some(20));
        assert_eq!(audio.direction, Some(Direction::SendRecv));
    }

    #[test]
    fn bare_line_feeds_and_case_insensitive_encodings() {
        let text = "v=0\no=user 1 2 IN IP6 2001:db8::1\ns=x\nm=audio 4000/2 RTP/AVP 0\nc=IN IP6 2001:db8::2\na=rtpmap:0 pcmu/8000/1\na=rtcp:4005 IN IP6 2001:db8::3\n";
        let sdp = SessionDescription::parse(text.as_bytes()).unwrap();
        let audio = &sdp.media[0];
        assert_eq!(audio.port_count, Some(2));
        assert_eq!(
            audio.connection,
            Some(Address::Ip("2001:db8::2".parse().unwrap()))
        );
        assert_eq!(audio.rtpmaps[0].encoding, Encoding::Pcmu);
        assert_eq!(audio.rtpmaps[0].channels, Some(1));
        assert_eq!(
            audio.rtcp,
            Some(Rtcp {
                port: 4005,
                address: Some(Address::Ip("2001:db8::3".parse().unwrap()))
            })
        );
    }

    #[test]
    fn written_descriptions_parse_back_identically() {
        let sdp = SessionDescription::parse(BARESIP.as_bytes()).unwrap();
        let mut expected = sdp.clone();
        // Attributes umbox does not keep are not written either; everything kept survives.
        let again = SessionDescription::parse(&sdp.to_bytes()).unwrap();
        expected.session_name = "-".into();
        assert_eq!(again, expected);
        let text = String::from_utf8(sdp.to_bytes()).unwrap();
        assert!(text.starts_with("v=0\r\no=- 1712 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 10000 RTP/AVP 9 0 8 101\r\n"));
        assert!(text.ends_with("a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"));
    }

    #[test]
    fn refuses_malformed_input() {
        let cases: &[(&[u8], SdpError)] = &[
            (b"", SdpError::Missing("v=")),
            (
                b"o=- 1 1 IN IP4 1.2.3.4\r\n",
                SdpError::Malformed {
                    line: 1,
                    reason: "the first line must be v=0",
                },
            ),
            (b"v=0\r\ns=x\r\n", SdpError::Missing("o=")),
            (
                b"v=0\r\no=- x 1 IN IP4 1.2.3.4\r\n",
                SdpError::Malformed {
                    line: 2,
                    reason: "bad o= line",
                },
            ),
            (
                b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ny=what\r\n",
                SdpError::Malformed {
                    line: 3,
                    reason: "unknown line type",
                },
            ),
            (
                b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 ::1\r\n",
                SdpError::Malformed {
                    line: 3,
                    reason: "bad c= line",
                },
            ),
            (
                b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 70000 RTP/AVP 0\r\n",
                SdpError::Malformed {
                    line: 3,
                    reason: "bad m= port",
                },
            ),
            (
                b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 7000 RTP/AVP 200\r\n",
                SdpError::Malformed {
                    line: 3,
                    reason: "bad rtp payload type",
                },
            ),
            (
                b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 7000 RTP/AVP\r\n",
                SdpError::Malformed {
                    line: 3,
                    reason: "m= line without formats",
                },
            ),
            (
                b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 7000 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n",
                SdpError::Malformed {
                    line: 4,
                    reason: "bad a=rtpmap",
                },
            ),
            (
                b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nnoequals\r\n",
                SdpError::Malformed {
                    line: 3,
                    reason: "expected <type>=<value>",
                },
            ),
            (b"v=0\r\no=- 1 1 IN IP4 \xff\r\n", SdpError::NotUtf8),
        ];
        for (input, expected) in cases {
            assert_eq!(
                SessionDescription::parse(input).as_ref(),
                Err(expected),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn bounds_size_and_counts() {
        let big = vec![b'a'; MAX_SDP_BYTES + 1];
        assert_eq!(
            SessionDescription::parse(&big),
            Err(SdpError::TooLarge(MAX_SDP_BYTES + 1))
        );
        let mut many = String::from("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n");
        for _ in 0..MAX_MEDIA + 1 {
            many.push_str("m=audio 0 RTP/AVP 0\r\n");
        }
        assert_eq!(
            SessionDescription::parse(many.as_bytes()),
            Err(SdpError::TooMany("media sections"))
        );
        let mut lines = String::from("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n");
        for _ in 0..MAX_LINES {
            lines.push_str("b=AS:1\r\n");
        }
        assert_eq!(
            SessionDescription::parse(lines.as_bytes()),
            Err(SdpError::TooMany("lines"))
        );
        let mut formats = String::from("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP");
        for _ in 0..MAX_FORMATS + 1 {
            formats.push_str(" 0");
        }
        assert_eq!(
            SessionDescription::parse(formats.as_bytes()),
            Err(SdpError::TooMany("formats"))
        );
    }

    #[test]
    fn host_names_and_other_protocols_are_kept_for_the_caller_to_judge() {
        let text = b"v=0\r\no=- 1 1 IN IP4 pbx.example\r\ns=-\r\nc=IN IP4 media.example\r\nm=application 9 TCP/BFCP *\r\nm=audio 5 UDP/TLS/RTP/SAVPF 111\r\n";
        let sdp = SessionDescription::parse(text).unwrap();
        assert_eq!(sdp.origin.address, Address::Name("pbx.example".into()));
        assert_eq!(sdp.connection, Some(Address::Name("media.example".into())));
        assert_eq!(sdp.media[0].formats, [Format::Other("*".into())]);
        assert_eq!(
            sdp.media[1].protocol,
            Protocol::Other("UDP/TLS/RTP/SAVPF".into())
        );
        assert_eq!(
            sdp.media[1].formats,
            [Format::Rtp(PayloadType::new(111).unwrap())]
        );
    }
}
