//! Entry point for the `mime` fuzz target (compiled only under cargo-fuzz's `--cfg fuzzing`): any
//! bytes a client sends as `MimeContent` are read or refused with a `MimeError`, and what is read
//! survives our writer: written back and read again, the subject, the bodies and the file
//! attachments come out the same.

use crate::mime;

/// Reads `bytes` as an Internet message and, when it reads, checks the write → read round trip.
pub fn mime(bytes: &[u8]) {
    let Ok(parsed) = mime::parse(bytes) else {
        return;
    };
    let subject = parsed.text("Subject");
    // Embedded messages are written as they came, so only file attachments are compared.
    let files: Vec<_> = parsed.parts.iter().filter(|part| !part.embedded).collect();
    let message = mime::Message {
        headers: subject
            .iter()
            .map(|subject| ("Subject", mime::unstructured(subject)))
            .collect(),
        text: parsed.text.as_deref(),
        html: parsed.html.as_deref(),
        parts: files
            .iter()
            .map(|part| mime::Part {
                name: &part.name,
                content_type: &part.content_type,
                content_id: part.content_id.as_deref(),
                inline: part.inline,
                content: &part.content,
                embedded: false,
            })
            .collect(),
        boundary_seed: 1,
    };
    let written = mime::render(&message);
    let again = mime::parse(&written)
        .unwrap_or_else(|error| panic!("a message we wrote does not read: {error}"));
    assert_eq!(
        again.text("Subject").and_then(|s| header_text(&s)),
        subject.and_then(|s| header_text(&s)),
        "subject"
    );
    // The writer derives a text body from an HTML-only message.
    if parsed.text.is_some() {
        assert_eq!(
            again.text.as_deref().map(lines),
            parsed.text.as_deref().map(lines),
            "text body"
        );
    }
    assert_eq!(
        again.html.as_deref().map(lines),
        parsed.html.as_deref().map(lines),
        "html body"
    );
    let contents = |parts: &[&mime::ParsedPart]| -> Vec<Vec<u8>> {
        parts.iter().map(|part| part.content.clone()).collect()
    };
    let again_files: Vec<_> = again.parts.iter().collect();
    assert_eq!(contents(&again_files), contents(&files), "attachments");
}

/// What a header keeps of a text: its words. Control characters become spaces (they must never
/// reach a header), and runs of white space may be folded and unfolded into one. A text without
/// a word is written as an empty header, which reads as none.
fn header_text(text: &str) -> Option<String> {
    let words: Vec<_> = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// Line ends are CRLF once written.
fn lines(text: &str) -> String {
    text.replace("\r\n", "\n")
}
