//! Internet messages as bytes: RFC 5322 headers and MIME bodies (RFC 2045–2047, RFC 2183,
//! RFC 2231), written for EWS `MimeContent`, for the embedded form of item attachments and for the
//! transport headers a delivered copy carries; plus the two body conversions (HTML ↔ text) that
//! EWS `BodyType` needs.
//!
//! Entry points: [`render`] writes a [`Message`]; [`unstructured`], [`address_list`] and [`date`]
//! build header values; [`header_block`] and [`parse_headers`] read headers back.
//! Pure functions: never touches the store, never knows EWS elements. Every header value passes
//! through an encoder that removes CR and LF, so no caller can inject a header or a body.

use std::fmt::Write as _;
use std::time::SystemTime;

use base64::Engine;

/// A mailbox in a header: display name (may be empty) and address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mailbox<'a> {
    /// The display name.
    pub(crate) name: &'a str,
    /// The SMTP address.
    pub(crate) address: &'a str,
}

/// A file or embedded message attached to a [`Message`].
#[derive(Debug, Clone)]
pub(crate) struct Part<'a> {
    /// The file name.
    pub(crate) name: &'a str,
    /// The MIME type, e.g. `audio/wav`.
    pub(crate) content_type: &'a str,
    /// `Content-ID`, without angle brackets.
    pub(crate) content_id: Option<&'a str>,
    /// Shown inline rather than as an attachment.
    pub(crate) inline: bool,
    /// The bytes; for an embedded message, a complete RFC 5322 message.
    pub(crate) content: &'a [u8],
    /// Whether `content` is an embedded message (`message/rfc822`, written as is).
    pub(crate) embedded: bool,
}

/// A message to render: header lines in order (values already encoded with the helpers here),
/// its bodies and its attachments.
#[derive(Debug, Clone, Default)]
pub(crate) struct Message<'a> {
    /// `(name, value)` pairs, written in this order before the MIME headers.
    pub(crate) headers: Vec<(&'static str, String)>,
    /// The plain-text body.
    pub(crate) text: Option<&'a str>,
    /// The HTML body.
    pub(crate) html: Option<&'a str>,
    /// Attachments, in order.
    pub(crate) parts: Vec<Part<'a>>,
    /// A number unique to the object (its store id), making multipart boundaries unique.
    pub(crate) boundary_seed: u64,
}

/// Longest encoded line (RFC 2045 §6.7, RFC 5322 §2.1.1 recommendation).
const LINE: usize = 76;

/// Writes `message` as an RFC 5322 message with CRLF line ends.
pub(crate) fn render(message: &Message<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        1024 + message
            .parts
            .iter()
            .map(|p| p.content.len() * 4 / 3)
            .sum::<usize>(),
    );
    for (name, value) in &message.headers {
        header(&mut out, name, value);
    }
    header(&mut out, "MIME-Version", "1.0");
    let derived_text;
    let text = match (message.text, message.html) {
        (Some(text), _) => Some(text),
        (None, Some(html)) => {
            derived_text = html_to_text(html);
            Some(derived_text.as_str())
        }
        (None, None) => None,
    };
    let body = Body {
        text: text.unwrap_or_default(),
        html: message.html,
    };
    if message.parts.is_empty() {
        body.write(&mut out, message.boundary_seed);
        return out;
    }
    let boundary = boundary(message.boundary_seed, 0);
    header(
        &mut out,
        "Content-Type",
        &format!("multipart/mixed; boundary=\"{boundary}\""),
    );
    out.extend_from_slice(b"\r\n");
    open_part(&mut out, &boundary);
    body.write(&mut out, message.boundary_seed);
    for part in &message.parts {
        open_part(&mut out, &boundary);
        attachment(&mut out, part);
    }
    close_multipart(&mut out, &boundary);
    out
}

/// The body of a message: text, and HTML when it has one (then both, as alternatives).
struct Body<'a> {
    text: &'a str,
    html: Option<&'a str>,
}

impl Body<'_> {
    /// Writes the part's own headers, a blank line and its content.
    fn write(&self, out: &mut Vec<u8>, seed: u64) {
        let Some(html) = self.html else {
            text_part(out, "text/plain", self.text);
            return;
        };
        let boundary = boundary(seed, 1);
        header(
            out,
            "Content-Type",
            &format!("multipart/alternative; boundary=\"{boundary}\""),
        );
        out.extend_from_slice(b"\r\n");
        open_part(out, &boundary);
        text_part(out, "text/plain", self.text);
        open_part(out, &boundary);
        text_part(out, "text/html", html);
        close_multipart(out, &boundary);
    }
}

/// A boundary that cannot occur in quoted-printable or base64 output (both never produce `=_`).
fn boundary(seed: u64, level: u8) -> String {
    format!("=_umbox_{seed:016x}_{level}")
}

fn open_part(out: &mut Vec<u8>, boundary: &str) {
    out.extend_from_slice(b"\r\n--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn close_multipart(out: &mut Vec<u8>, boundary: &str) {
    out.extend_from_slice(b"\r\n--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"--\r\n");
}

fn text_part(out: &mut Vec<u8>, content_type: &str, text: &str) {
    header(
        out,
        "Content-Type",
        &format!("{content_type}; charset=utf-8"),
    );
    header(out, "Content-Transfer-Encoding", "quoted-printable");
    out.extend_from_slice(b"\r\n");
    quoted_printable(out, text.as_bytes());
}

fn attachment(out: &mut Vec<u8>, part: &Part<'_>) {
    let disposition = if part.inline { "inline" } else { "attachment" };
    if part.embedded {
        header(out, "Content-Type", "message/rfc822");
        header(
            out,
            "Content-Disposition",
            &format!("{disposition}{}", parameter("filename", part.name)),
        );
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(part.content);
        return;
    }
    let content_type = media_type(part.content_type).unwrap_or("application/octet-stream");
    header(
        out,
        "Content-Type",
        &format!("{content_type}{}", parameter("name", part.name)),
    );
    header(
        out,
        "Content-Disposition",
        &format!("{disposition}{}", parameter("filename", part.name)),
    );
    if let Some(id) = part
        .content_id
        .map(|id| sanitize(id.trim_matches(['<', '>'])))
    {
        if !id.is_empty() && !id.contains(['<', '>', ' ']) {
            header(out, "Content-ID", &format!("<{id}>"));
        }
    }
    header(out, "Content-Transfer-Encoding", "base64");
    out.extend_from_slice(b"\r\n");
    let encoded = base64::engine::general_purpose::STANDARD.encode(part.content);
    for line in encoded.as_bytes().chunks(LINE) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
}

/// `type/subtype` when `text` is one (RFC 2045 tokens, parameters dropped); anything else a client
/// sent as a content type is not written into a header.
fn media_type(text: &str) -> Option<&str> {
    let essence = text.split(';').next().unwrap_or_default().trim();
    let (kind, sub) = essence.split_once('/')?;
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    (token(kind) && token(sub)).then_some(essence)
}

/// `; name="value"`, with an RFC 2231 `name*=` form as well when the value is not ASCII.
fn parameter(name: &str, value: &str) -> String {
    let value = sanitize(value);
    if value.is_empty() {
        return String::new();
    }
    if value.is_ascii() {
        return format!(
            "; {name}=\"{}\"",
            value.replace('\\', "\\\\").replace('"', "\\\"")
        );
    }
    let mut extended = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            extended.push(char::from(byte));
        } else {
            let _ = write!(extended, "%{byte:02X}");
        }
    }
    format!(
        "; {name}=\"{}\"; {name}*=utf-8''{extended}",
        encoded_word(&value)
    )
}

/// Writes `name: value` folded at spaces so lines stay near [`LINE`] characters.
fn header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b":");
    let mut column = name.len() + 1;
    for (index, word) in value.split(' ').enumerate() {
        if index > 0 || !word.is_empty() {
            if column + 1 + word.len() > LINE && column > name.len() + 1 {
                out.extend_from_slice(b"\r\n");
                column = 0;
            }
            out.push(b' ');
            column += 1;
        }
        out.extend_from_slice(word.as_bytes());
        column += word.len();
    }
    out.extend_from_slice(b"\r\n");
}

/// Removes CR, LF and other control characters, which must never reach a header.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// An unstructured header value (Subject, X- headers): ASCII as is, anything else as RFC 2047
/// encoded words.
pub(crate) fn unstructured(text: &str) -> String {
    let text = sanitize(text);
    if text.is_ascii() {
        text
    } else {
        encoded_word(&text)
    }
}

/// RFC 2047 `=?utf-8?B?…?=` words, split on character boundaries so each stays under 76 columns.
fn encoded_word(text: &str) -> String {
    // 45 bytes become 60 base64 characters; with the 12 of `=?utf-8?B??=` a word fits in 76.
    const CHUNK: usize = 45;
    let mut words = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (index, c) in text.char_indices() {
        if index + c.len_utf8() - start > CHUNK {
            words.push(text.get(start..end).unwrap_or_default());
            start = end;
        }
        end = index + c.len_utf8();
    }
    words.push(text.get(start..).unwrap_or_default());
    words
        .iter()
        .map(|w| {
            format!(
                "=?utf-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w)
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// An address list for From/To/Cc/Reply-To: `"Name" <address>` entries separated by commas.
pub(crate) fn address_list(mailboxes: &[Mailbox<'_>]) -> String {
    let mut out = String::new();
    for mailbox in mailboxes {
        let address = sanitize(mailbox.address).replace(['<', '>', ' ', ','], "");
        if address.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push_str(", ");
        }
        let name = sanitize(mailbox.name);
        let name = name.trim();
        if name.is_empty() {
            out.push_str(&address);
            continue;
        }
        if name.is_ascii() {
            out.push('"');
            out.push_str(&name.replace('\\', "\\\\").replace('"', "\\\""));
            out.push('"');
        } else {
            out.push_str(&encoded_word(name));
        }
        out.push_str(" <");
        out.push_str(&address);
        out.push('>');
    }
    out
}

/// The RFC 5322 date of `time`, in UTC: `Thu, 01 Jan 2026 10:00:00 +0000`.
pub(crate) fn date(time: SystemTime) -> String {
    let utc = crate::time::utc(time);
    // RFC 5322 §3.3 names days and months by their first three English letters.
    let short = |name: String| name.chars().take(3).collect::<String>();
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000",
        short(utc.weekday().to_string()),
        utc.day(),
        short(utc.month().to_string()),
        utc.year(),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

/// Quoted-printable (RFC 2045 §6.7) with CRLF hard line breaks and soft breaks before column 76.
fn quoted_printable(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut column = 0;
    let mut iter = bytes.iter().copied().peekable();
    while let Some(byte) = iter.next() {
        if byte == b'\r' && iter.peek() == Some(&b'\n') {
            continue;
        }
        if byte == b'\n' {
            out.extend_from_slice(b"\r\n");
            column = 0;
            continue;
        }
        let at_line_end = matches!(iter.peek(), None | Some(b'\r' | b'\n'));
        let literal = (byte == b'\t' || byte == b' ') && !at_line_end
            || (33..=126).contains(&byte) && byte != b'=';
        let width = if literal { 1 } else { 3 };
        if column + width > LINE - 1 {
            out.extend_from_slice(b"=\r\n");
            column = 0;
        }
        if literal {
            out.push(byte);
        } else {
            out.extend_from_slice(format!("={byte:02X}").as_bytes());
        }
        column += width;
    }
}

/// The header section of a rendered message (everything before the first empty line).
pub(crate) fn header_block(message: &[u8]) -> &[u8] {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(message.len(), |p| p + 2);
    message.get(..end).unwrap_or(message)
}

/// Splits a header section into unfolded `(name, value)` pairs, in order.
pub(crate) fn parse_headers(block: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in block.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)) {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    headers
}

/// Plain text for an HTML body: tags dropped (script, style and head with their content), line
/// breaks for block elements, character references decoded.
pub(crate) fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        push_decoded(&mut out, rest.get(..open).unwrap_or_default());
        let after = rest.get(open + 1..).unwrap_or_default();
        let Some(close) = after.find('>') else {
            rest = "";
            break;
        };
        let tag = after.get(..close).unwrap_or_default();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        rest = after.get(close + 1..).unwrap_or_default();
        let opening = !tag.starts_with('/');
        if opening && matches!(name.as_str(), "script" | "style" | "head" | "title") {
            let end = format!("</{name}");
            rest = match rest.to_ascii_lowercase().find(&end) {
                Some(at) => rest.get(at..).unwrap_or_default(),
                None => "",
            };
            continue;
        }
        match name.as_str() {
            "br" => out.push('\n'),
            "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "blockquote"
            | "table" | "pre"
                if !opening && !out.ends_with('\n') && !out.is_empty() =>
            {
                out.push('\n');
            }
            _ => {}
        }
    }
    push_decoded(&mut out, rest);
    out.trim_end().to_owned()
}

/// Appends HTML character data with its references decoded and runs of white space (which HTML
/// does not render) collapsed, except line breaks written by the caller.
fn push_decoded(out: &mut String, text: &str) {
    let mut rest = text;
    while !rest.is_empty() {
        let Some(amp) = rest.find('&') else {
            push_collapsed(out, rest);
            return;
        };
        push_collapsed(out, rest.get(..amp).unwrap_or_default());
        let after = rest.get(amp + 1..).unwrap_or_default();
        let end = after.find(';').filter(|e| *e <= 10);
        let decoded = end
            .and_then(|e| after.get(..e))
            .and_then(|name| match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            });
        match (decoded, end) {
            (Some(c), Some(e)) => {
                out.push(c);
                rest = after.get(e + 1..).unwrap_or_default();
            }
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
}

fn push_collapsed(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_whitespace() {
            if !out.is_empty() && !out.ends_with([' ', '\n']) {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
}

/// A minimal HTML document showing `text` with its line breaks.
pub(crate) fn text_to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 128);
    out.push_str("<html>\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n");
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push_str("<br>\r\n");
        }
        for c in line.trim_end_matches('\r').chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                other => out.push(other),
            }
        }
    }
    out.push_str("\r\n</body>\r\n</html>\r\n");
    out
}

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MimeError {
    /// Multipart bodies nest deeper than umbox follows.
    #[error("multipart nesting deeper than {0} levels")]
    TooDeep(usize),
    /// A multipart body names no boundary.
    #[error("a multipart body has no boundary parameter")]
    NoBoundary,
}

/// A message read from its MIME form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// The top-level headers, unfolded, in order (values as sent; see [`decode_words`]).
    pub(crate) headers: Vec<(String, String)>,
    /// The top-level header section as text.
    pub(crate) header_block: String,
    /// The first text/plain body part.
    pub(crate) text: Option<String>,
    /// The first text/html body part.
    pub(crate) html: Option<String>,
    /// Everything else, in order.
    pub(crate) parts: Vec<ParsedPart>,
}

impl Parsed {
    /// The first header called `name` (any case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An attachment read from a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedPart {
    /// The file name (empty when the part names none).
    pub(crate) name: String,
    /// `type/subtype`, lower-cased.
    pub(crate) content_type: String,
    /// `Content-ID` without angle brackets.
    pub(crate) content_id: Option<String>,
    /// `Content-Disposition: inline`.
    pub(crate) inline: bool,
    /// A `message/rfc822` part.
    pub(crate) embedded: bool,
    /// The decoded bytes.
    pub(crate) content: Vec<u8>,
}

/// Deepest multipart nesting followed.
const MAX_DEPTH: usize = 16;

/// Reads an RFC 5322 message with MIME bodies: headers, the text and HTML bodies and the
/// attachments, with transfer encodings and the common charsets decoded.
pub(crate) fn parse(message: &[u8]) -> Result<Parsed, MimeError> {
    let (head, body) = split_entity(message);
    let header_block = String::from_utf8_lossy(head).into_owned();
    let headers = parse_headers(&header_block);
    let mut parsed = Parsed {
        headers: Vec::new(),
        header_block,
        ..Parsed::default()
    };
    walk(&headers, body, 0, &mut parsed)?;
    parsed.headers = headers;
    Ok(parsed)
}

/// Splits an entity at the first empty line (CRLF or bare LF line ends).
fn split_entity(bytes: &[u8]) -> (&[u8], &[u8]) {
    let crlf = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p + 2, p + 4));
    let lf = bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|p| (p + 1, p + 2));
    let split = match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    match split {
        Some((head, body)) => (
            bytes.get(..head).unwrap_or_default(),
            bytes.get(body..).unwrap_or_default(),
        ),
        None => (bytes, &[]),
    }
}

/// A header value's main token (lower-cased) and its parameters (names lower-cased, RFC 2231
/// values decoded).
fn structured(value: &str) -> (String, Vec<(String, String)>) {
    let mut pieces = split_unquoted(value, ';').into_iter();
    let essence = pieces
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let mut params = Vec::new();
    for piece in pieces {
        let Some((name, value)) = piece.split_once('=') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\\\"", "\"").replace("\\\\", "\\"),
            None => value.to_owned(),
        };
        match name.strip_suffix('*') {
            Some(base) => params.push((base.to_owned(), decode_extended(&value))),
            None => params.push((name, value)),
        }
    }
    (essence, params)
}

/// Splits at `separator` outside double quotes.
fn split_unquoted(text: &str, separator: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    for (index, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                out.push(text.get(start..index).unwrap_or_default());
                start = index + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(text.get(start..).unwrap_or_default());
    out
}

/// An RFC 2231 value, `charset'language'percent-encoded`.
fn decode_extended(value: &str) -> String {
    let mut fields = value.splitn(3, '\'');
    let (charset, _, encoded) = match (fields.next(), fields.next(), fields.next()) {
        (Some(charset), Some(language), Some(encoded)) => (charset, language, encoded),
        _ => return value.to_owned(),
    };
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut iter = encoded.bytes();
    while let Some(b) = iter.next() {
        if b == b'%' {
            let hex: Vec<u8> = iter.by_ref().take(2).collect();
            match std::str::from_utf8(&hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(v) => bytes.push(v),
                None => bytes.extend_from_slice(&hex),
            }
        } else {
            bytes.push(b);
        }
    }
    decode_charset(&bytes, charset)
}

fn param<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn walk(
    headers: &[(String, String)],
    body: &[u8],
    depth: usize,
    out: &mut Parsed,
) -> Result<(), MimeError> {
    if depth > MAX_DEPTH {
        return Err(MimeError::TooDeep(MAX_DEPTH));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let (essence, params) = structured(header("Content-Type").unwrap_or("text/plain"));
    let essence = if essence.contains('/') {
        essence
    } else {
        "text/plain".to_owned()
    };
    if essence.starts_with("multipart/") {
        let boundary = param(&params, "boundary").ok_or(MimeError::NoBoundary)?;
        for part in multipart(body, boundary) {
            let (head, content) = split_entity(part);
            let part_headers = parse_headers(&String::from_utf8_lossy(head));
            walk(&part_headers, content, depth + 1, out)?;
        }
        return Ok(());
    }
    let (disposition, disposition_params) =
        structured(header("Content-Disposition").unwrap_or_default());
    let encoding = header("Content-Transfer-Encoding")
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let content = match encoding.as_str() {
        "base64" => decode_base64(body),
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.to_vec(),
    };
    let name = param(&disposition_params, "filename")
        .or_else(|| param(&params, "name"))
        .map(decode_words);
    let body_text = (essence == "text/plain" || essence == "text/html")
        && disposition != "attachment"
        && name.is_none();
    if body_text {
        let text = decode_charset(&content, param(&params, "charset").unwrap_or("us-ascii"));
        let slot = if essence == "text/plain" {
            &mut out.text
        } else {
            &mut out.html
        };
        if slot.is_none() {
            *slot = Some(text);
            return Ok(());
        }
    }
    out.parts.push(ParsedPart {
        name: name.unwrap_or_default(),
        content_id: header("Content-ID").map(|id| id.trim().trim_matches(['<', '>']).to_owned()),
        inline: disposition == "inline",
        embedded: essence == "message/rfc822",
        content_type: essence,
        content,
    });
    Ok(())
}

/// The body parts of a multipart body (RFC 2046 §5.1.1): what lies between delimiter lines,
/// without the line break before each delimiter.
fn multipart<'b>(body: &'b [u8], boundary: &str) -> Vec<&'b [u8]> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut starts = Vec::new();
    let mut at = 0;
    while let Some(found) = body
        .get(at..)
        .and_then(|rest| rest.windows(delimiter.len()).position(|w| w == delimiter))
    {
        let position = at + found;
        let line_start = position == 0 || body.get(position - 1) == Some(&b'\n');
        if line_start {
            let after = body.get(position + delimiter.len()..).unwrap_or_default();
            let closing = after.starts_with(b"--");
            let line_end = after
                .iter()
                .position(|b| *b == b'\n')
                .map_or(body.len(), |p| position + delimiter.len() + p + 1);
            starts.push((position, line_end, closing));
            if closing {
                break;
            }
            at = line_end;
        } else {
            at = position + delimiter.len();
        }
    }
    let mut parts = Vec::new();
    for pair in starts.windows(2) {
        if let [(_, content_start, false), (next, _, _)] = pair {
            let mut end = *next;
            if body.get(..end).is_some_and(|b| b.ends_with(b"\r\n")) {
                end -= 2;
            } else if body.get(..end).is_some_and(|b| b.ends_with(b"\n")) {
                end -= 1;
            }
            parts.push(
                body.get(*content_start..end.max(*content_start))
                    .unwrap_or_default(),
            );
        }
    }
    parts
}

fn decode_base64(body: &[u8]) -> Vec<u8> {
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(compact.trim_ascii_end())
        })
        .unwrap_or_default()
}

fn decode_quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        match (body.get(i + 1), body.get(i + 2)) {
            (Some(b'\r'), Some(b'\n')) => i += 3,
            (Some(b'\n'), _) => i += 2,
            (Some(&h), Some(&l)) => match std::str::from_utf8(&[h, l])
                .ok()
                .and_then(|x| u8::from_str_radix(x, 16).ok())
            {
                Some(v) => {
                    out.push(v);
                    i += 3;
                }
                None => {
                    out.push(b'=');
                    i += 1;
                }
            },
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out
}

/// Text in `charset`: UTF-8 and ASCII, and ISO-8859-1/Windows-1252 byte for character; other
/// charsets are read as UTF-8 with replacement characters.
fn decode_charset(bytes: &[u8], charset: &str) -> String {
    match charset.trim().to_ascii_lowercase().as_str() {
        "iso-8859-1" | "latin1" | "windows-1252" | "cp1252" => {
            bytes.iter().map(|b| char::from(*b)).collect()
        }
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Decodes RFC 2047 encoded words (`=?charset?B|Q?…?=`) in a header value; white space between
/// adjacent encoded words goes, as the RFC says.
pub(crate) fn decode_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut previous_was_word = false;
    while let Some(start) = rest.find("=?") {
        let before = rest.get(..start).unwrap_or_default();
        let decoded = rest.get(start + 2..).and_then(|word| {
            let mut fields = word.splitn(3, '?');
            let charset = fields.next()?;
            let encoding = fields.next()?;
            let tail = fields.next()?;
            let end = tail.find("?=")?;
            let payload = tail.get(..end)?;
            let bytes = match encoding {
                "B" | "b" => base64::engine::general_purpose::STANDARD
                    .decode(payload)
                    .ok()?,
                "Q" | "q" => decode_quoted_printable(payload.replace('_', " ").as_bytes()),
                _ => return None,
            };
            let consumed = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
            Some((
                decode_charset(&bytes, charset.split('*').next().unwrap_or(charset)),
                consumed,
            ))
        });
        match decoded {
            Some((word, consumed)) => {
                if !(previous_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&word);
                rest = rest.get(start + consumed..).unwrap_or_default();
                previous_was_word = true;
            }
            None => {
                out.push_str(rest.get(..start + 2).unwrap_or_default());
                rest = rest.get(start + 2..).unwrap_or_default();
                previous_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// An address list (To, Cc, From, …) as `(display name, address)` pairs; group syntax and
/// entries without an address are skipped.
pub(crate) fn parse_addresses(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in split_addresses(value) {
        let entry = entry.trim();
        let entry = entry
            .rsplit_once(':')
            .map_or(entry, |(_, after)| after)
            .trim_end_matches(';')
            .trim();
        let (name, address) = match (entry.rfind('<'), entry.ends_with('>')) {
            (Some(open), true) => (
                entry.get(..open).unwrap_or_default(),
                entry.get(open + 1..entry.len() - 1).unwrap_or_default(),
            ),
            _ => ("", entry),
        };
        let address = address.trim();
        if !address.contains('@') {
            continue;
        }
        let name = name.trim();
        let name = match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\\\"", "\"").replace("\\\\", "\\"),
            None => name.to_owned(),
        };
        out.push((decode_words(&name), address.to_owned()));
    }
    out
}

/// Splits an address list at commas outside quotes and angle brackets.
fn split_addresses(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut angle, mut escaped) = (false, false, false);
    let mut start = 0;
    for (index, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' if !angle => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(value.get(start..index).unwrap_or_default());
                start = index + 1;
            }
            _ => {}
        }
    }
    out.push(value.get(start..).unwrap_or_default());
    out
}

/// Reads an RFC 5322 date (`[Thu, ]1 Jan 2026 10:00[:00] +0000`, obsolete zone names allowed).
pub(crate) fn parse_date(value: &str) -> Option<SystemTime> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let value = value.split_once(',').map_or(value, |(_, rest)| rest);
    let mut tokens = value.split_whitespace();
    let day: u32 = tokens.next()?.parse().ok()?;
    let month_name = tokens.next()?.to_ascii_lowercase();
    let month = MONTHS.iter().position(|m| month_name.starts_with(m))? + 1;
    let year: u32 = tokens.next()?.parse().ok()?;
    let year = match year {
        0..=49 => year + 2000,
        50..=999 => year + 1900,
        _ => year,
    };
    let clock = tokens.next()?;
    let mut parts = clock.split(':');
    let hour: u32 = parts.next()?.parse().ok()?;
    let minute: u32 = parts.next()?.parse().ok()?;
    let second: u32 = parts.next().map_or(Some(0), |s| s.parse().ok())?;
    let zone = tokens.next().unwrap_or("+0000");
    let offset = match zone.to_ascii_uppercase().as_str() {
        "UT" | "UTC" | "GMT" | "Z" => "+00:00".to_owned(),
        "EDT" => "-04:00".to_owned(),
        "EST" | "CDT" => "-05:00".to_owned(),
        "CST" | "MDT" => "-06:00".to_owned(),
        "MST" | "PDT" => "-07:00".to_owned(),
        "PST" => "-08:00".to_owned(),
        numeric if numeric.len() == 5 && (numeric.starts_with('+') || numeric.starts_with('-')) => {
            format!("{}:{}", numeric.get(..3)?, numeric.get(3..)?)
        }
        _ => "+00:00".to_owned(),
    };
    crate::time::parse(&format!(
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{offset}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn decode_qp(text: &str) -> Vec<u8> {
        let text = text.replace("=\r\n", "");
        let mut out = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        out
    }

    #[test]
    fn quoted_printable_round_trips_and_keeps_lines_short() {
        let text =
            "héllo = wörld \nsecond line with trailing space \n".to_owned() + &"x".repeat(200);
        let mut out = Vec::new();
        quoted_printable(&mut out, text.as_bytes());
        let encoded = String::from_utf8(out).unwrap();
        assert!(encoded.lines().all(|l| l.len() <= LINE), "{encoded}");
        assert!(!encoded.contains("=_"));
        let decoded = decode_qp(&encoded);
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            text.replace('\n', "\r\n")
        );
    }

    #[test]
    fn headers_cannot_be_injected() {
        assert_eq!(unstructured("a\r\nBcc: evil@x"), "a  Bcc: evil@x");
        let list = address_list(&[Mailbox {
            name: "Eve\r\nX: y",
            address: "e@x\r\n.test",
        }]);
        assert!(!list.contains('\n') && !list.contains('\r'), "{list}");
        assert_eq!(
            address_list(&[
                Mailbox {
                    name: "A \"B\"",
                    address: "a@b"
                },
                Mailbox {
                    name: "",
                    address: "c@d"
                }
            ]),
            "\"A \\\"B\\\"\" <a@b>, c@d"
        );
    }

    #[test]
    fn encoded_words_split_on_characters() {
        let word = unstructured(&"ü".repeat(40));
        for part in word.split(' ') {
            assert!(part.len() <= 75, "{part}");
            let inner = part
                .strip_prefix("=?utf-8?B?")
                .unwrap()
                .strip_suffix("?=")
                .unwrap();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(inner)
                .unwrap();
            assert!(String::from_utf8(bytes).is_ok());
        }
    }

    #[test]
    fn dates_are_rfc5322() {
        let t = UNIX_EPOCH + Duration::from_secs(1_767_261_600);
        assert_eq!(date(t), "Thu, 01 Jan 2026 10:00:00 +0000");
        assert_eq!(
            date(UNIX_EPOCH + Duration::from_secs(1_795_449_600)),
            "Mon, 23 Nov 2026 16:00:00 +0000"
        );
        assert_eq!(
            date(UNIX_EPOCH + Duration::from_secs(1_709_208_000)),
            "Thu, 29 Feb 2024 12:00:00 +0000"
        );
        assert_eq!(
            parse_date("Thu, 29 Feb 2024 12:00:00 +0000"),
            Some(UNIX_EPOCH + Duration::from_secs(1_709_208_000))
        );
        for impossible in [
            "31 Feb 2026 10:00 +0000",
            "29 Feb 2025 10:00 +0000",
            "31 Apr 2026 10:00 +0000",
        ] {
            assert_eq!(parse_date(impossible), None, "{impossible}");
        }
    }

    #[test]
    fn html_and_text_convert() {
        let html = "<html><head><style>p{}</style></head><body><p>Hello&nbsp;<b>you</b> &amp; me</p><div>two<br>lines &#x263A;</div></body></html>";
        assert_eq!(html_to_text(html), "Hello you & me\ntwo\nlines ☺");
        let back = text_to_html("a<b\nc");
        assert!(back.contains("a&lt;b<br>\r\nc"));
        assert_eq!(html_to_text(&back), "a<b\nc");
    }

    #[test]
    fn renders_multipart_with_attachments() {
        let message = Message {
            headers: vec![("Subject", unstructured("Voice mail"))],
            text: Some("hello"),
            html: Some("<p>hello</p>"),
            parts: vec![Part {
                name: "audio.wav",
                content_type: "audio/wav",
                content_id: None,
                inline: false,
                content: &[0, 1, 2, 255],
                embedded: false,
            }],
            boundary_seed: 7,
        };
        let out = String::from_utf8(render(&message)).unwrap();
        assert!(out.starts_with(
            "Subject: Voice mail\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed;"
        ));
        assert!(out.contains("multipart/alternative"));
        assert!(out.contains("Content-Type: audio/wav; name=\"audio.wav\"\r\n"));
        assert!(out.contains("\r\n\r\nAAEC/w==\r\n"));
        assert!(out.ends_with("--=_umbox_0000000000000007_0--\r\n"));
        let headers = parse_headers(std::str::from_utf8(header_block(out.as_bytes())).unwrap());
        assert_eq!(headers[0], ("Subject".to_owned(), "Voice mail".to_owned()));
        assert_eq!(headers.len(), 3);
    }

    #[test]
    fn long_headers_fold() {
        let mut out = Vec::new();
        header(
            &mut out,
            "To",
            &["\"Someone\" <someone@example.test>"; 6].join(", "),
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.lines().all(|l| l.len() <= LINE + 10), "{text}");
        let parsed = parse_headers(&text);
        assert_eq!(
            parsed[0].1,
            ["\"Someone\" <someone@example.test>"; 6].join(", ")
        );
    }

    #[test]
    fn rendered_messages_parse_back() {
        let message = Message {
            headers: vec![
                (
                    "From",
                    address_list(&[Mailbox {
                        name: "Zoë \"Z\" Zed",
                        address: "z@example.test",
                    }]),
                ),
                ("Subject", unstructured("Grüße, world")),
                (
                    "Date",
                    date(UNIX_EPOCH + Duration::from_secs(1_767_261_600)),
                ),
            ],
            text: Some("line one\nline two = three"),
            html: Some("<p>line one</p>"),
            parts: vec![
                Part {
                    name: "naïve.bin",
                    content_type: "application/x-test",
                    content_id: Some("cid1"),
                    inline: true,
                    content: &[9, 8, 7, 0, 255],
                    embedded: false,
                },
                Part {
                    name: "inner.eml",
                    content_type: "message/rfc822",
                    content_id: None,
                    inline: false,
                    content: b"Subject: inner\r\n\r\nhi\r\n",
                    embedded: true,
                },
            ],
            boundary_seed: 99,
        };
        let parsed = parse(&render(&message)).unwrap();
        assert_eq!(
            decode_words(parsed.header("Subject").unwrap()),
            "Grüße, world"
        );
        assert_eq!(
            parse_addresses(parsed.header("From").unwrap()),
            [("Zoë \"Z\" Zed".to_owned(), "z@example.test".to_owned())]
        );
        assert_eq!(
            parse_date(parsed.header("Date").unwrap()),
            Some(UNIX_EPOCH + Duration::from_secs(1_767_261_600))
        );
        assert_eq!(parsed.text.as_deref(), Some("line one\r\nline two = three"));
        assert_eq!(parsed.html.as_deref(), Some("<p>line one</p>"));
        assert_eq!(parsed.parts.len(), 2);
        assert_eq!(parsed.parts[0].name, "naïve.bin");
        assert_eq!(parsed.parts[0].content, [9, 8, 7, 0, 255]);
        assert_eq!(parsed.parts[0].content_id.as_deref(), Some("cid1"));
        assert!(parsed.parts[0].inline);
        assert!(parsed.parts[1].embedded);
        assert_eq!(parsed.parts[1].content, b"Subject: inner\r\n\r\nhi\r\n");
    }

    #[test]
    fn foreign_messages_parse() {
        let raw = b"From: =?iso-8859-1?Q?J=F6rg?= <j@x.test>\nTo: a@x.test, \"B, C\" <b@x.test>, undisclosed-recipients:;\nSubject: plain\nDate: 1 Feb 26 08:30 PST\nContent-Type: text/plain; charset=\"iso-8859-1\"\nContent-Transfer-Encoding: quoted-printable\n\nK=E4se=\n!\n";
        let parsed = parse(raw).unwrap();
        assert_eq!(
            parse_addresses(parsed.header("from").unwrap()),
            [("Jörg".to_owned(), "j@x.test".to_owned())]
        );
        let to = parse_addresses(parsed.header("To").unwrap());
        assert_eq!(
            to.iter().map(|(_, a)| a.as_str()).collect::<Vec<_>>(),
            ["a@x.test", "b@x.test"]
        );
        assert_eq!(to[1].0, "B, C");
        assert_eq!(parsed.text.as_deref(), Some("Käse!\n"));
        assert_eq!(
            parse_date(parsed.header("Date").unwrap()),
            crate::time::parse("2026-02-01T16:30:00Z")
        );
        assert_eq!(
            parse(b"Content-Type: multipart/mixed\r\n\r\nx"),
            Err(MimeError::NoBoundary)
        );
    }
}
