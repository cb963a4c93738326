//! The `application/simple-message-summary` body of the message-summary event package
//! (RFC 3842 §5.2): what a message-waiting lamp shows. Written for every NOTIFY umbox sends, and
//! read back by tests and by anyone who wants to check what a peer sent.
//!
//! Pure: bytes in, typed value out, and back; never knows whose mailbox it describes.

use std::fmt::Write as _;

use super::grammar::{parse_decimal, SyntaxError};

/// The media type of the body (RFC 3842 §5.1).
pub const CONTENT_TYPE: &str = "application/simple-message-summary";

/// The event package (RFC 3842 §4).
pub const PACKAGE: &str = "message-summary";

/// Largest body [`MessageSummary::parse`] reads.
pub const MAX_BODY: usize = 4096;

/// Most lines [`MessageSummary::parse`] reads.
const MAX_LINES: usize = 64;

/// Message counts of one context class (RFC 3842 §5.2 `msg-summary-line`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// New (unread) messages.
    pub new: u64,
    /// Old (read) messages.
    pub old: u64,
    /// New urgent messages.
    pub urgent_new: u64,
    /// Old urgent messages.
    pub urgent_old: u64,
}

/// A message summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSummary {
    /// `Messages-Waiting: yes|no`.
    pub waiting: bool,
    /// `Message-Account`, the account the summary is about (a URI, as text).
    pub account: Option<String>,
    /// `Voice-Message: new/old (urgent_new/urgent_old)`.
    pub voice: Option<Counts>,
}

impl MessageSummary {
    /// The body text, lines ending in CRLF as RFC 3842 §5.2 writes them.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(96);
        let waiting = if self.waiting { "yes" } else { "no" };
        // Writing to a String cannot fail.
        let _ = write!(out, "Messages-Waiting: {waiting}\r\n");
        if let Some(account) = &self.account {
            // A CR or LF in the account would start a header of its own.
            let account: String = account.chars().filter(|c| !c.is_control()).collect();
            let _ = write!(out, "Message-Account: {account}\r\n");
        }
        if let Some(c) = self.voice {
            let _ = write!(
                out,
                "Voice-Message: {}/{} ({}/{})\r\n",
                c.new, c.old, c.urgent_new, c.urgent_old
            );
        }
        out.into_bytes()
    }

    /// Reads a body. Lines of other message classes and optional headers are skipped, as the
    /// grammar allows them; a missing or bad status line, a bad count line or a body over
    /// [`MAX_BODY`] is an error.
    pub fn parse(body: &[u8]) -> Result<MessageSummary, SyntaxError> {
        if body.len() > MAX_BODY {
            return Err(SyntaxError("message summary too large"));
        }
        let text = std::str::from_utf8(body).map_err(|_| SyntaxError("not UTF-8"))?;
        let mut lines = text
            .split('\n')
            .map(|line| line.strip_suffix('\r').unwrap_or(line))
            .filter(|line| !line.trim().is_empty());
        let (name, value) = lines
            .next()
            .and_then(|line| line.split_once(':'))
            .ok_or(SyntaxError("no Messages-Waiting line"))?;
        if !name.trim().eq_ignore_ascii_case("Messages-Waiting") {
            return Err(SyntaxError("the first line is not Messages-Waiting"));
        }
        let waiting = match value.trim().to_ascii_lowercase().as_str() {
            "yes" => true,
            "no" => false,
            _ => return Err(SyntaxError("Messages-Waiting is neither yes nor no")),
        };
        let mut summary = MessageSummary {
            waiting,
            account: None,
            voice: None,
        };
        for (count, line) in lines.enumerate() {
            if count >= MAX_LINES {
                return Err(SyntaxError("too many lines in the message summary"));
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(SyntaxError("a line without a colon"));
            };
            let name = name.trim();
            if name.eq_ignore_ascii_case("Message-Account") {
                summary.account = Some(value.trim().to_owned());
            } else if name.eq_ignore_ascii_case("Voice-Message") {
                summary.voice = Some(counts(value)?);
            }
        }
        Ok(summary)
    }
}

/// `newmsgs SLASH oldmsgs [ LPAREN new-urgentmsgs SLASH old-urgentmsgs RPAREN ]`.
fn counts(value: &str) -> Result<Counts, SyntaxError> {
    let bad = SyntaxError("bad message counts");
    let pair = |text: &str| -> Result<(u64, u64), SyntaxError> {
        let (a, b) = text.split_once('/').ok_or(bad)?;
        let number = |n: &str| parse_decimal(n.trim(), u64::MAX).ok_or(bad);
        Ok((number(a)?, number(b)?))
    };
    let value = value.trim();
    let (plain, urgent) = match value.split_once('(') {
        Some((plain, rest)) => (plain, Some(rest.strip_suffix(')').ok_or(bad)?)),
        None => (value, None),
    };
    let (new, old) = pair(plain)?;
    let (urgent_new, urgent_old) = urgent.map(pair).transpose()?.unwrap_or((0, 0));
    Ok(Counts {
        new,
        old,
        urgent_new,
        urgent_old,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_back() {
        let summary = MessageSummary {
            waiting: true,
            account: Some("sip:1001@example.test".to_owned()),
            voice: Some(Counts {
                new: 2,
                old: 8,
                ..Counts::default()
            }),
        };
        let bytes = summary.to_bytes();
        assert_eq!(
            bytes,
            b"Messages-Waiting: yes\r\nMessage-Account: sip:1001@example.test\r\nVoice-Message: 2/8 (0/0)\r\n"
        );
        assert_eq!(MessageSummary::parse(&bytes).unwrap(), summary);
    }

    #[test]
    fn reads_the_rfc_3842_example() {
        // RFC 3842 §5.3.
        let body = b"Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\n\
Voice-Message: 4/8 (1/2)\r\n\r\n";
        let summary = MessageSummary::parse(body).unwrap();
        assert!(summary.waiting);
        assert_eq!(
            summary.voice,
            Some(Counts {
                new: 4,
                old: 8,
                urgent_new: 1,
                urgent_old: 2
            })
        );
        let fax = MessageSummary::parse(b"messages-waiting: no\nFax-Message: 0/1\n").unwrap();
        assert_eq!(fax.voice, None);
    }

    #[test]
    fn rejects_malformed_bodies() {
        for body in [
            &b""[..],
            b"Voice-Message: 1/0\r\n",
            b"Messages-Waiting: maybe\r\n",
            b"Messages-Waiting: yes\r\nVoice-Message: one/two\r\n",
            b"Messages-Waiting: yes\r\nVoice-Message: 1/2 (3/4\r\n",
            b"Messages-Waiting: yes\r\nno colon here\r\n",
            b"\xff\xfe",
        ] {
            assert!(MessageSummary::parse(body).is_err(), "{body:?}");
        }
        let huge = vec![b'a'; MAX_BODY + 1];
        assert!(MessageSummary::parse(&huge).is_err());
        let mut many = b"Messages-Waiting: no\r\n".to_vec();
        many.extend(b"X: y\r\n".repeat(MAX_LINES + 1));
        assert!(MessageSummary::parse(&many).is_err());
        let injected = MessageSummary {
            waiting: false,
            account: Some("sip:a\r\nX: y".to_owned()),
            voice: None,
        };
        assert_eq!(
            injected.to_bytes(),
            b"Messages-Waiting: no\r\nMessage-Account: sip:aX: y\r\n"
        );
    }
}
