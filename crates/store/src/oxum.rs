//! The MS-OXOUM table, written once: which message classes are unified messaging items and their
//! `Content-Class` (MS-OXOUM §2.1.3.1), and which `X-` header carries which property (§2.2).
//!
//! Delivery writes these properties, the MIME renderer turns them into headers and the MIME reader
//! turns headers back into properties, all from these tables. Pure data: never touches redb.

use crate::props::{tags, PropTag};

/// A unified messaging message class and the `Content-Class` its MIME form carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UmClass {
    /// `PidTagMessageClass`.
    pub message_class: &'static str,
    /// The `Content-Class` header value.
    pub content_class: &'static str,
}

/// A voice message with its audio attached (what umbox delivers).
pub const VOICE_MESSAGE: UmClass = UmClass {
    message_class: "IPM.Note.Microsoft.Voicemail.UM.CA",
    content_class: "voice-ca",
};
/// A voice message without an attachment of its own.
pub const VOICE_MESSAGE_PLAIN: UmClass = UmClass {
    message_class: "IPM.Note.Microsoft.Voicemail.UM",
    content_class: "voice",
};
/// A missed-call notification.
pub const MISSED_CALL: UmClass = UmClass {
    message_class: "IPM.Note.Microsoft.Missed.Voice",
    content_class: "missedcall",
};
/// A fax with its pages attached.
pub const FAX: UmClass = UmClass {
    message_class: "IPM.Note.Microsoft.Fax.CA",
    content_class: "fax-ca",
};

/// Every unified messaging class.
pub const CLASSES: [UmClass; 4] = [VOICE_MESSAGE, VOICE_MESSAGE_PLAIN, MISSED_CALL, FAX];

impl UmClass {
    /// The class of a message class (compared without regard to case, as Exchange does).
    pub fn of_message_class(message_class: &str) -> Option<UmClass> {
        CLASSES
            .into_iter()
            .find(|c| c.message_class.eq_ignore_ascii_case(message_class))
    }

    /// The class a `Content-Class` header names (compared without regard to case).
    pub fn of_content_class(content_class: &str) -> Option<UmClass> {
        CLASSES
            .into_iter()
            .find(|c| c.content_class.eq_ignore_ascii_case(content_class.trim()))
    }
}

/// An `X-` header of a unified messaging message and the property it mirrors. The property's
/// type says how the header reads: `Int32` properties are decimal numbers, the rest text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UmHeader {
    /// The header name.
    pub name: &'static str,
    /// The property it carries.
    pub tag: PropTag,
}

/// `X-CallingTelephoneNumber`: the caller's number.
pub const CALLING_TELEPHONE_NUMBER: UmHeader = UmHeader {
    name: "X-CallingTelephoneNumber",
    tag: tags::SENDER_TELEPHONE_NUMBER,
};
/// `X-VoiceMessageDuration`: seconds of audio.
pub const VOICE_MESSAGE_DURATION: UmHeader = UmHeader {
    name: "X-VoiceMessageDuration",
    tag: tags::VOICE_MESSAGE_DURATION,
};
/// `X-VoiceMessageSenderName`: the caller's resolved name.
pub const VOICE_MESSAGE_SENDER_NAME: UmHeader = UmHeader {
    name: "X-VoiceMessageSenderName",
    tag: tags::VOICE_MESSAGE_SENDER_NAME,
};
/// `X-FaxNumberOfPages`.
pub const FAX_NUMBER_OF_PAGES: UmHeader = UmHeader {
    name: "X-FaxNumberOfPages",
    tag: tags::FAX_NUMBER_OF_PAGES,
};
/// `X-AttachmentOrder`: the audio attachment's file name.
pub const ATTACHMENT_ORDER: UmHeader = UmHeader {
    name: "X-AttachmentOrder",
    tag: tags::VOICE_MESSAGE_ATTACHMENT_ORDER,
};
/// `X-CallID`: the call's identifier.
pub const CALL_ID: UmHeader = UmHeader {
    name: "X-CallID",
    tag: tags::CALL_ID,
};

/// Every header, in the order a message's MIME form writes them.
pub const HEADERS: [UmHeader; 6] = [
    CALLING_TELEPHONE_NUMBER,
    VOICE_MESSAGE_DURATION,
    VOICE_MESSAGE_SENDER_NAME,
    FAX_NUMBER_OF_PAGES,
    ATTACHMENT_ORDER,
    CALL_ID,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::props::PropType;

    #[test]
    fn classes_round_trip_and_headers_are_text_or_numbers() {
        for class in CLASSES {
            assert_eq!(UmClass::of_message_class(class.message_class), Some(class));
            assert_eq!(UmClass::of_content_class(class.content_class), Some(class));
        }
        assert_eq!(UmClass::of_content_class(" Voice-CA "), Some(VOICE_MESSAGE));
        assert_eq!(UmClass::of_message_class("IPM.Note"), None);
        for header in HEADERS {
            assert!(matches!(
                header.tag.prop_type(),
                PropType::Int32 | PropType::Unicode
            ));
        }
    }
}
