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
use std::time::{SystemTime, UNIX_EPOCH};

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
    let mut out = Vec::with_capacity(1024 + message.parts.iter().map(|p| p.content.len() * 4 / 3).sum::<usize>());
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
    let body = Body { text: text.unwrap_or_default(), html: message.html };
    if message.parts.is_empty() {
        body.write(&mut out, message.boundary_seed);
        return out;
    }
    let boundary = boundary(message.boundary_seed, 0);
    header(&mut out, "Content-Type", &format!("multipart/mixed; boundary=\"{boundary}\""));
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
        header(out, "Content-Type", &format!("multipart/alternative; boundary=\"{boundary}\""));
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
    header(out, "Content-Type", &format!("{content_type}; charset=utf-8"));
    header(out, "Content-Transfer-Encoding", "quoted-printable");
    out.extend_from_slice(b"\r\n");
    quoted_printable(out, text.as_bytes());
}

fn attachment(out: &mut Vec<u8>, part: &Part<'_>) {
    let disposition = if part.inline { "inline" } else { "attachment" };
    if part.embedded {
        header(out, "Content-Type", "message/rfc822");
        header(out, "Content-Disposition", &format!("{disposition}{}", parameter("filename", part.name)));
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(part.content);
        return;
    }
    let content_type = media_type(part.content_type).unwrap_or("application/octet-stream");
    header(out, "Content-Type", &format!("{content_type}{}", parameter("name", part.name)));
    header(out, "Content-Disposition", &format!("{disposition}{}", parameter("filename", part.name)));
    if let Some(id) = part.content_id.map(|id| sanitize(id.trim_matches(['<', '>']))) {
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
    let token = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b));
    (token(kind) && token(sub)).then_some(essence)
}

/// `; name="value"`, with an RFC 2231 `name*=` form as well when the value is not ASCII.
fn parameter(name: &str, value: &str) -> String {
    let value = sanitize(value);
    if value.is_empty() {
        return String::new();
    }
    if value.is_ascii() {
        return format!("; {name}=\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""));
    }
    let mut extended = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            extended.push(char::from(byte));
        } else {
            let _ = write!(extended, "%{byte:02X}");
        }
    }
    format!("; {name}=\"{}\"; {name}*=utf-8''{extended}", encoded_word(&value))
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
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
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
        .map(|w| format!("=?utf-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(w)))
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
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let seconds = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    };
    let days = seconds.div_euclid(86_400);
    // `time::format` writes `YYYY-MM-DDTHH:MM:SSZ`; its fields are reused rather than recomputed.
    let iso = crate::ews::time::format(time);
    let field = |range: std::ops::Range<usize>| iso.get(range).unwrap_or_default().to_owned();
    let month = field(5..7).parse::<usize>().ok().and_then(|m| m.checked_sub(1)).and_then(|m| MONTHS.get(m));
    let weekday = usize::try_from(days.rem_euclid(7)).ok().and_then(|d| DAYS.get(d));
    format!(
        "{}, {} {} {} {} +0000",
        weekday.copied().unwrap_or("Thu"),
        field(8..10),
        month.copied().unwrap_or("Jan"),
        field(0..4),
        field(11..19)
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
        let literal = (byte == b'\t' || byte == b' ') && !at_line_end || (33..=126).contains(&byte) && byte != b'=';
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
    out.extend_from_slice(b"\r\n");
}

/// The header section of a rendered message (everything before the first empty line).
pub(crate) fn header_block(message: &[u8]) -> &[u8] {
    let end = message.windows(4).position(|w| w == b"\r\n\r\n").map_or(message.len(), |p| p + 2);
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
            "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "blockquote" | "table" | "pre" if !opening => {
                if !out.ends_with('\n') && !out.is_empty() {
                    out.push('\n');
                }
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
        let decoded = end.and_then(|e| after.get(..e)).and_then(|name| match name {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
        let text = "héllo = wörld \nsecond line with trailing space \n".to_owned() + &"x".repeat(200);
        let mut out = Vec::new();
        quoted_printable(&mut out, text.as_bytes());
        let encoded = String::from_utf8(out).unwrap();
        assert!(encoded.lines().all(|l| l.len() <= LINE), "{encoded}");
        assert!(!encoded.contains("=_"));
        let decoded = decode_qp(&encoded);
        assert_eq!(String::from_utf8(decoded).unwrap(), text.replace('\n', "\r\n") + "\r\n");
    }

    #[test]
    fn headers_cannot_be_injected() {
        assert_eq!(unstructured("a\r\nBcc: evil@x"), "a  Bcc: evil@x");
        let list = address_list(&[Mailbox { name: "Eve\r\nX: y", address: "e@x\r\n.test" }]);
        assert!(!list.contains('\n') && !list.contains('\r'), "{list}");
        assert_eq!(address_list(&[Mailbox { name: "A \"B\"", address: "a@b" }, Mailbox { name: "", address: "c@d" }]), "\"A \\\"B\\\"\" <a@b>, c@d");
    }

    #[test]
    fn encoded_words_split_on_characters() {
        let word = unstructured(&"ü".repeat(40));
        for part in word.split(' ') {
            assert!(part.len() <= 75, "{part}");
            let inner = part.strip_prefix("=?utf-8?B?").unwrap().strip_suffix("?=").unwrap();
            let bytes = base64::engine::general_purpose::STANDARD.decode(inner).unwrap();
            assert!(String::from_utf8(bytes).is_ok());
        }
    }

    #[test]
    fn dates_are_rfc5322() {
        let t = UNIX_EPOCH + Duration::from_secs(1_767_261_600);
        assert_eq!(date(t), "Thu, 01 Jan 2026 10:00:00 +0000");
        assert_eq!(date(UNIX_EPOCH + Duration::from_secs(1_795_449_600)), "Mon, 23 Nov 2026 16:00:00 +0000");
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
        assert!(out.starts_with("Subject: Voice mail\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed;"));
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
        header(&mut out, "To", &vec!["\"Someone\" <someone@example.test>"; 6].join(", "));
        let text = String::from_utf8(out).unwrap();
        assert!(text.lines().all(|l| l.len() <= LINE + 10), "{text}");
        let parsed = parse_headers(&text);
        assert_eq!(parsed[0].1, vec!["\"Someone\" <someone@example.test>"; 6].join(", "));
    }
}
